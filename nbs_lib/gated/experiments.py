"""Chapter 004's figures, tables and claim protocols: one function per experiment (``nbs_lib.experiment``).

Each ``f(cfg, ctx)`` takes a validated config (sizes from the profile plus the notebook's knobs) and the run
context, creates every tensor on ``ctx.device``, and returns a result dataclass of arrays and the metrics its
claims need. Nothing is plotted here (``plots``). Diverged runs are masked per seed by the trainer and their
metrics come out NaN, so the registry reports the claim as not assessed (diverged).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import torch

from .. import validate
from ..experiment import Config, Resources
from ..fit import fit_linear_rate, fit_power_law
from . import data as _data
from .model import GatedConfig, GReLUNet, make_pair
from .ntk import eta_ntk, gram_condition, lambda_max, ntk_gram
from .theory import lemma3_rate, ntk_closed_form, theorem1
from .training import train

_F64 = 8


def _seed_list(ctx, n: int, *keys) -> tuple:
    return tuple(int(s) for s in ctx.seeds(n, *keys))


def _net_bytes(m: int, L: int, seeds: int, nets: int = 2) -> float:
    """Host bytes of ``nets`` networks of ``seeds`` draws (W and Ψ in float64, plus a working copy)."""
    return float(nets * seeds * 3 * L * m * m * _F64)


def ackley(n: int, d: int, ctx) -> tuple[torch.Tensor, torch.Tensor]:
    """Return the complex-Ackley regression (§4.1) of ``n`` points in ``d`` dimensions on ``ctx.device``."""
    X, y = _data.ackley_like(n, d, seed=ctx.seeds(1, "ackley", n, d)[0] % (2 ** 32))
    return X.to(ctx.device, ctx.dtype), y.to(ctx.device, ctx.dtype)


def baselines(X, Y, X_te, Y_te) -> dict:
    """Return the test MSE per example of the train-mean predictor, of zero, and of a linear least-squares fit.

    The linear fit has an intercept and is the minimum-norm solution (``lstsq`` on the train split, float64).
    """
    Xa, Ya, Xt, Yt = (np.asarray(t.detach().cpu(), dtype=np.float64) for t in (X, Y, X_te, Y_te))
    Ya, Yt = Ya.reshape(len(Ya), -1), Yt.reshape(len(Yt), -1)
    mean = ((Yt - Ya.mean(0)) ** 2).sum(1).mean()
    zero = (Yt ** 2).sum(1).mean()
    A = np.hstack([Xa, np.ones((len(Xa), 1))])
    coef = np.linalg.lstsq(A, Ya, rcond=None)[0]
    lin = ((np.hstack([Xt, np.ones((len(Xt), 1))]) @ coef - Yt) ** 2).sum(1).mean()
    return dict(mean=float(mean), zero=float(zero), linear=float(lin))


def scored(net_err: float, X, Y, X_te, Y_te, split: str = "test") -> tuple[dict, dict]:
    """Return ``(baselines, sanity metrics)`` for a net whose held-out MSE is ``net_err``.

    The sanity metrics ``net_<split>``, ``mean_<split>``, ``linear_<split>`` feed the claims' ``requires``: a net
    that does not beat the mean predictor and a linear fit on the same split grades nothing. A non-finite
    ``net_err`` (a diverged run) stays NaN.
    """
    base = baselines(X, Y, X_te, Y_te)
    net = float(net_err) if np.isfinite(net_err) else float("nan")
    return base, {f"net_{split}": net, f"mean_{split}": base["mean"], f"linear_{split}": base["linear"]}


def _device_name(dev: torch.device) -> str:
    return torch.cuda.get_device_name(dev) if dev.type == "cuda" else f"CPU ({torch.get_num_threads()} thread(s))"


def _images(n_train: int, n_test: int, key: str, ctx, root: str = "", dtype=torch.float32) -> tuple:
    """Return the image regression ``(X, Y, Xt, Yt)`` in ``dtype`` on ``ctx.device``, the raw train images, their
    statistics and the data's name (CIFAR-10 from ``root`` / ``$NBS_CIFAR10_DIR``, else the digits stand-in)."""
    X, Y, Xt, Yt, raw, stats, source = _data.image_regression(n_train, n_test, seed=ctx.seeds(1, key)[0] % 2 ** 32,
                                                              root=root or None)
    return (*(t.to(ctx.device, dtype) for t in (X, Y, Xt, Yt)), raw, stats, source)


# ============================================================================ 03: Theorem 1, Fig. 2a, Theorem 3
@dataclass(frozen=True)
class Thm1Config(Config):
    """Theorem 1 at its own width m = n²L and step η = d_x/(n⁴L³), and the NTK rate fit at η = c/λ_max."""

    n: int = 10                 # examples (integer in [4, 64])
    d: int = 20                 # input dimension (integer in [2, 512])
    L: int = 4                  # depth (integer in [1, 16])
    seeds: int = 4              # independent draws (integer in [1, 16])
    gate_mode: str = "chain"    # chain | input
    c_eta: float = 1.0          # rate-fit step in NTK units η·λ_max (in (0, 2))
    steps: int = 400            # GD steps (integer in [10, 100000])
    PROFILES = {"smoke": dict(n=6, d=12, seeds=2, steps=60), "cpu": dict(),
                "paper": dict(n=32, d=64, seeds=5, steps=1000)}

    def validate(self):
        validate.int_in("n", self.n, 4, 64)
        validate.int_in("d", self.d, 2, 512)
        validate.int_in("L", self.L, 1, 16)
        validate.int_in("seeds", self.seeds, 1, 16)
        validate.one_of("gate_mode", self.gate_mode, ("chain", "input"))
        validate.in_range("c_eta", self.c_eta, 0.0, 2.0, lo_open=True, hi_open=True)
        validate.int_in("steps", self.steps, 10, 100000)

    @property
    def m(self) -> int:
        return self.n * self.n * self.L

    def resources(self):
        return Resources(host_bytes=_net_bytes(self.m, self.L, self.seeds, 1))


@dataclass
class Thm1Result:
    """Losses ``(T+1, S)`` under Theorem 1's step (``loss_thm``) and at ``c/λ_max`` (``loss_fit``), and metrics."""

    m: int
    eta_thm: float
    eta_lmax: np.ndarray
    loss_thm: np.ndarray
    loss_fit: np.ndarray
    slopes: np.ndarray
    preds: np.ndarray
    lemma3_ratio: float
    metrics: dict = field(default_factory=dict)
    theory_slope: float = 0.0


def thm1(cfg: Thm1Config, ctx) -> Thm1Result:
    """Run GD at Theorem 1's width and step (every seed, divergence masked) and at η = c/λ_max(K_0)."""
    X, y = ackley(cfg.n, cfg.d, ctx)
    th = theorem1(cfg.n, cfg.L, cfg.d)
    gcfg = GatedConfig(d_x=cfg.d, d_y=1, m=cfg.m, L=cfg.L, gate_mode=cfg.gate_mode,
                       seeds=_seed_list(ctx, cfg.seeds, "thm1"), device=ctx.device)
    net = GReLUNet(gcfg)
    K = ntk_gram(net, X)
    ev = torch.linalg.eigvalsh(K)
    eta_lmax = (th["eta"] * ev[:, -1]).cpu().numpy()
    res = train(net.clone(), X, y, eta=th["eta"], steps=cfg.steps, tol_rel=None)
    loss_thm = res.loss / res.loss[0]
    with np.errstate(invalid="ignore", divide="ignore"):
        step = loss_thm[1:] / loss_thm[:-1]
    live = loss_thm[:-1] > 1e-25          # round-off floor: steps after convergence carry no information
    step = np.where(live, step, np.nan)
    step = np.where(np.isnan(loss_thm[1:]) & live, np.inf, step)   # a step into divergence
    worst = float(np.nanmax(step))
    eta_fit = cfg.c_eta / ev[:, -1]
    res_fit = train(net, X, y, eta=eta_fit, steps=cfg.steps, tol_rel=1e-15)
    loss_fit = res_fit.loss / res_fit.loss[0]
    slopes, preds, t4, t8 = [], [], [], []
    for s in range(cfg.seeds):
        f = fit_linear_rate(loss_fit[:, s], lo=1e-12, hi=1e-4)
        slopes.append(math.log(f.rate))
        preds.append(2 * math.log(abs(1 - float(eta_fit[s] * ev[s, 0]))))
        t4.append(int(np.argmax(loss_fit[:, s] < 1e-4)))
        t8.append(int(np.argmax(loss_fit[:, s] < 1e-8)))
    slopes, preds = np.array(slopes), np.array(preds)
    l3 = 1 - lemma3_rate(th["eta"], cfg.m, cfg.d, 1, cfg.L)
    final = loss_thm[-1]
    metrics = dict(frac_converged=float(np.mean(np.nan_to_num(final, nan=np.inf) < 1e-8)),
                   eta_lmax_max=float(eta_lmax.max()), worst_step_ratio=min(worst, 1e300), lemma3_ratio=l3,
                   n_seeds=cfg.seeds)
    fit = dict(rate_rel_err=float(np.max(np.abs(slopes - preds) / np.abs(preds))),
               log_eps_ratio=float(np.mean(t8) / max(np.mean(t4), 1)), n_seeds=cfg.seeds)
    return Thm1Result(cfg.m, th["eta"], eta_lmax, loss_thm, loss_fit, slopes, preds, l3,
                      dict(thm=metrics, fit=fit))


@dataclass(frozen=True)
class RateConfig(Config):
    """One GReLU and one ReLU net of width m trained by GD at η = c/λ_max(K_0) of each: the explorer of 03."""

    m: int = 64                 # width (integer in [4, 4096])
    c_eta: float = 1.0          # step in NTK units η·λ_max(K_0) (number in (0, 10]; ≥ 2 diverges by the NTK)
    n: int = 6                  # examples (integer in [2, 64])
    d: int = 12                 # input dimension (integer in [2, 512])
    L: int = 2                  # depth (integer in [1, 16])
    steps: int = 100            # GD steps (integer in [1, 10000])
    gate_mode: str = "chain"    # chain | input
    PROFILES = {"smoke": dict(), "cpu": dict(), "paper": dict()}

    def validate(self):
        validate.int_in("m", self.m, 4, 4096)
        validate.in_range("c_eta", self.c_eta, 0.0, 10.0, lo_open=True)
        validate.int_in("n", self.n, 2, 64)
        validate.int_in("d", self.d, 2, 512)
        validate.int_in("L", self.L, 1, 16)
        validate.int_in("steps", self.steps, 1, 10000)
        validate.one_of("gate_mode", self.gate_mode, ("chain", "input"))

    def resources(self):
        return Resources(host_bytes=_net_bytes(self.m, self.L, 1))


@dataclass
class RateResult:
    """Per net ("grelu", "relu"): ℓ_t/ℓ_0 ``(steps+1,)`` (NaN after a divergence), the bound of linearised GD
    ``ρ^{2t}`` with ``ρ = max(|1 − ηλ_min|, |1 − ηλ_max|)`` (None where K_0 is singular or ηλ_max ≥ 2),
    λ_min, λ_max, κ(K_0); notes on degenerate cases."""

    m: int
    c_eta: float
    curves: dict
    predictions: dict
    lam: dict
    cond: dict
    notes: list


#: relative size of λ_min below which K_0 counts as singular (round-off of eigvalsh on an n×n float64 Gram)
SINGULAR_REL = 1e-10


def rate(cfg: RateConfig, ctx) -> RateResult:
    """Train both nets at η = c/λ_max(K_0) and bound the loss by the linearised (NTK) rate, per net."""
    X, y = ackley(cfg.n, cfg.d, ctx)
    g, r = make_pair(GatedConfig(d_x=cfg.d, d_y=1, m=cfg.m, L=cfg.L, gate_mode=cfg.gate_mode,
                                 seeds=_seed_list(ctx, 1, "rate", cfg.m), device=ctx.device))
    curves, preds, lam, cond, notes, divs = {}, {}, {}, {}, [], {}
    t = np.arange(cfg.steps + 1)
    for kind, net in (("grelu", g), ("relu", r)):
        ev = torch.linalg.eigvalsh(ntk_gram(net, X))[0].cpu().numpy()
        lmin, lmax = float(ev[0]), float(ev[-1])
        lam[kind] = (lmin, lmax)
        eta = cfg.c_eta / lmax
        out = train(net, X, y, eta=torch.tensor([eta], dtype=ctx.dtype, device=ctx.device), steps=cfg.steps,
                    tol_rel=None)
        curves[kind] = out.loss[:, 0] / out.loss[0, 0]
        divs[kind] = bool(out.diverged[0])
        cond[kind], preds[kind] = float("nan"), None
        if lmin <= SINGULAR_REL * lmax:
            notes.append(f"{kind}: K_0 is singular at m = {cfg.m} (λ_min/λ_max = {lmin / lmax:.1e} ≤ "
                         f"{SINGULAR_REL:.0e}): κ(K_0) is undefined and no linear rate is predicted")
        else:
            cond[kind] = lmax / lmin
            if cfg.c_eta < 2:
                rho = max(abs(1 - eta * lmin), abs(1 - cfg.c_eta))  # contraction of linearised GD
                preds[kind] = rho ** (2 * t)
    if cfg.c_eta >= 2:
        notes.append(f"η·λ_max = {cfg.c_eta:.3g} ≥ 2: the linearised (NTK) dynamics diverge, so no rate is drawn; "
                     "a finite net may still converge after its kernel has shrunk")
    for kind in ("grelu", "relu"):
        if bool(divs[kind]):
            notes.append(f"{kind}: diverged at η·λ_max = {cfg.c_eta:.3g} (GD on the sum loss needs c_eta < 2); "
                         "the curve stops where it blew up")
    return RateResult(cfg.m, cfg.c_eta, curves, preds, lam, cond, notes)


def paper_eta_lmax(gate_mode: str, ctx) -> float:
    """Return η_Thm1·λ_max = λ_max/K(x,x) of the closed-form Gram at the paper's (n, d, L) = (100, 200, 4)."""
    Xp, _ = ackley(100, 200, ctx)
    return float(torch.linalg.eigvalsh(ntk_closed_form(Xp, None, 4, arch="grelu_" + gate_mode))[-1])


@dataclass(frozen=True)
class Fig2aConfig(Config):
    """Fig. 2a: widths below, at and above n²L, both nets, protocol A (one η) and B (η = c/λ_max per width)."""

    n: int = 10
    d: int = 20
    L: int = 4
    seeds: int = 2              # (integer in [1, 16])
    widths: tuple = (20, 40, 100, 400)   # (integers in [2, 20000]; must include n²L)
    gate_mode: str = "chain"
    c_eta: float = 1.0          # protocol B step in NTK units (in (0, 2))
    eta_literal: float = 0.0    # protocol A step; 0 means 1/λ_max at the theory width (number in [0, 1e6])
    steps_A: int = 400          # (integer in [10, 100000])
    steps_B: int = 400          # (integer in [10, 100000])
    PROFILES = {"smoke": dict(n=6, d=12, seeds=1, widths=(12, 144), steps_A=80, steps_B=80), "cpu": dict(),
                "paper": dict(n=32, d=64, seeds=5, widths=(64, 128, 1024, 4096), steps_A=3000, steps_B=1000)}

    def validate(self):
        validate.int_in("n", self.n, 4, 64)
        validate.int_in("d", self.d, 2, 512)
        validate.int_in("L", self.L, 1, 16)
        validate.int_in("seeds", self.seeds, 1, 16)
        ws = validate.int_list("widths", self.widths, minimum=2)
        if max(ws) > 20000:
            raise ValueError(f"widths must be integers in [2, 20000], got {list(self.widths)}")
        if self.n * self.n * self.L not in ws:
            raise ValueError(f"widths must include the theory width n²L = {self.n * self.n * self.L}, "
                             f"got {list(self.widths)}")
        validate.one_of("gate_mode", self.gate_mode, ("chain", "input"))
        validate.in_range("c_eta", self.c_eta, 0.0, 2.0, lo_open=True, hi_open=True)
        validate.in_range("eta_literal", self.eta_literal, 0.0, 1e6)
        validate.int_in("steps_A", self.steps_A, 10, 100000)
        validate.int_in("steps_B", self.steps_B, 10, 100000)

    def resources(self):
        return Resources(host_bytes=_net_bytes(max(self.widths), self.L, self.seeds, 2))


@dataclass
class Fig2aResult:
    """``curves[(proto, kind, m)]``: ℓ_t/ℓ_0 ``(T+1, S)`` (NaN after divergence); ``cond[(kind, m)]``; metrics."""

    m_th: int
    eta_A: float
    curves: dict
    cond: dict
    metrics: dict = field(default_factory=dict)


def _fig2a_point(item, ctx) -> dict:
    """One width of Fig. 2a (a ``sweep.map`` item ``(cfg, m, eta_A)``): cond(K_0) and ℓ_t/ℓ_0 of both nets under
    both protocols. Its randomness comes only from keys naming the experiment, the width and the data size."""
    cfg, m, eta_A = item
    X, y = ackley(cfg.n, cfg.d, ctx)
    g, r = make_pair(GatedConfig(d_x=cfg.d, d_y=1, m=m, L=cfg.L, gate_mode=cfg.gate_mode,
                                 seeds=_seed_list(ctx, cfg.seeds, "fig2a"), device=ctx.device))
    cond, curves = {}, {}
    for kind, net in (("grelu", g), ("relu", r)):
        cond[kind] = gram_condition(ntk_gram(net, X)).cpu().numpy()
        for proto, steps in (("A", cfg.steps_A), ("B", cfg.steps_B)):
            eta = eta_A if proto == "A" else eta_ntk(net, X, cfg.c_eta)
            out = train(net.clone(), X, y, eta=eta, steps=steps, tol_rel=None)
            curves[proto, kind] = out.loss / out.loss[0]
    return dict(cond=cond, curves=curves)


def fig2a_eta_A(cfg: Fig2aConfig, ctx) -> float:
    """Protocol A's one step: ``eta_literal``, or 1/λ_max(K_0) of the theory-width nets (the larger of the two)."""
    if cfg.eta_literal:
        return float(cfg.eta_literal)
    X, _ = ackley(cfg.n, cfg.d, ctx)
    g, r = make_pair(GatedConfig(d_x=cfg.d, d_y=1, m=cfg.n * cfg.n * cfg.L, L=cfg.L, gate_mode=cfg.gate_mode,
                                 seeds=_seed_list(ctx, cfg.seeds, "fig2a"), device=ctx.device))
    return 1.0 / max(float(lambda_max(net, X)[0]) for net in (g, r))


def fig2a(cfg: Fig2aConfig, ctx) -> Fig2aResult:
    """Run Fig. 2a under protocols A and B (module docstring); return curves, cond(K_0) and the claims' metrics.

    The widths are the items of ``sweep.map`` (:func:`_fig2a_point`); the merge does not depend on their order."""
    from .. import sweep

    m_th, nL = cfg.n * cfg.n * cfg.L, cfg.n * cfg.L
    eta_A = fig2a_eta_A(cfg, ctx)
    parts = sweep.map(_fig2a_point, [(cfg, m, eta_A) for m in cfg.widths], ctx)
    curves = {(proto, kind, m): v for m, pt in zip(cfg.widths, parts) for (proto, kind), v in pt["curves"].items()}
    cond = {(kind, m): v for m, pt in zip(cfg.widths, parts) for kind, v in pt["cond"].items()}
    fin = {k: v[-1] for k, v in curves.items()}
    kinds = ("grelu", "relu")
    auc = {k: np.mean(np.log10(np.maximum(v, 1e-30)), axis=0) for k, v in curves.items()}   # NaN if diverged
    metrics = dict(
        theory_A=float(np.max([fin["A", k, m_th] for k in kinds])),
        theory_B=float(np.max([fin["B", k, m_th] for k in kinds])),
        narrow_A=float(np.min([fin["A", k, m] for k in kinds for m in cfg.widths if m <= nL] or [np.nan])),
        narrow_B=float(np.min([fin["B", k, m] for k in kinds for m in cfg.widths if m < m_th])),
    )
    ratio = [float(np.mean(cond["grelu", m]) / np.mean(cond["relu", m])) for m in cfg.widths]
    speed = [float(np.mean(auc["A", "grelu", m]) - np.mean(auc["A", "relu", m])) for m in cfg.widths if m >= nL]
    return Fig2aResult(m_th, eta_A, curves, cond, dict(
        tight=metrics, cond=dict(cond_ratio_max=max(ratio)), speed=dict(auc_diff_max=max(speed))))


@dataclass(frozen=True)
class StabilityConfig(Config):
    """Weight movement τ and the relative NTK change against width (Theorem 3, eq. (5))."""

    n: int = 10
    d: int = 20
    L: int = 4
    seeds: int = 2              # (integer in [1, 16])
    widths: tuple = (64, 128, 256, 512)   # (integers in [8, 20000], at least 3)
    gate_mode: str = "chain"
    steps: int = 300            # (integer in [10, 100000])
    PROFILES = {"smoke": dict(n=6, d=12, seeds=1, widths=(32, 64, 128), steps=30), "cpu": dict(),
                "paper": dict(seeds=4, widths=(256, 512, 1024, 2048, 4096), steps=600)}

    def validate(self):
        validate.int_in("n", self.n, 4, 64)
        validate.int_in("d", self.d, 2, 512)
        validate.int_in("L", self.L, 1, 16)
        validate.int_in("seeds", self.seeds, 1, 16)
        ws = validate.int_list("widths", self.widths, minimum=8)
        if max(ws) > 20000 or len(ws) < 3:
            raise ValueError(f"widths must be at least 3 integers in [8, 20000], got {list(self.widths)}")
        validate.one_of("gate_mode", self.gate_mode, ("chain", "input"))
        validate.int_in("steps", self.steps, 10, 100000)

    def resources(self):
        return Resources(host_bytes=_net_bytes(max(self.widths), self.L, self.seeds, 1))


@dataclass
class StabilityResult:
    """``tau, dK: (len(widths), S)``; ``tau_pred`` = √(2n/m)/L; fitted exponents; metrics per claim."""

    widths: np.ndarray
    tau: np.ndarray
    dK: np.ndarray
    tau_pred: np.ndarray
    fit_tau: object
    fit_dK: object
    lazy: np.ndarray
    metrics: dict = field(default_factory=dict)


def stability(cfg: StabilityConfig, ctx) -> StabilityResult:
    """Train GReLU nets at η = 1/λ_max(K_0) per width; return τ, the NTK change and their power-law fits."""
    X, y = ackley(cfg.n, cfg.d, ctx)
    tau, dK = [], []
    for m in cfg.widths:
        net = GReLUNet(GatedConfig(d_x=cfg.d, d_y=1, m=m, L=cfg.L, gate_mode=cfg.gate_mode,
                                   seeds=_seed_list(ctx, cfg.seeds, "stability", m), device=ctx.device))
        out = train(net, X, y, eta=eta_ntk(net, X, 1.0), steps=cfg.steps, tol_rel=1e-12,
                    record=("loss", "tau", "ntk_change"))
        tau.append(out.records["tau_F"])
        dK.append(out.records["ntk_change"])
    ms = np.array(cfg.widths, dtype=float)
    tau, dK = np.array(tau), np.array(dK)
    lazy = ms >= 128 if (ms >= 128).sum() >= 2 else ms > 0     # spec P14 fits τ on m ≥ 128 (narrow nets are not lazy)
    f_tau, f_dK = fit_power_law(ms[lazy], tau.mean(1)[lazy]), fit_power_law(ms, dK.mean(1))
    pred = np.sqrt(2 * cfg.n / ms) / cfg.L
    metrics = dict(thm3=dict(exponent=f_dK.exponent, n_seeds=cfg.seeds),
                   tau=dict(exponent=f_tau.exponent, ratio_max=float(np.max((tau.mean(1) / pred)[lazy]))))
    return StabilityResult(ms, tau, dK, pred, f_tau, f_dK, lazy, metrics)


@dataclass(frozen=True)
class LinearWidthConfig(Config):
    """Theorem 3's NTK equivalence at width linear in n: the relative NTK change over training at m = c·n for
    several n (a scaling experiment in n, §4.2)."""

    ns: tuple = (5, 10, 20, 40)     # sample sizes (integers in [4, 256], at least 2)
    width_per_n: int = 16           # c of m = c·n (integer in [1, 1024])
    d: int = 20                     # input dimension (integer in [2, 512])
    L: int = 4                      # depth (integer in [1, 16])
    seeds: int = 2                  # (integer in [1, 16])
    steps: int = 300                # GD steps at η = 1/λ_max(K_0) (integer in [10, 100000])
    gate_mode: str = "chain"
    PROFILES = {"smoke": dict(ns=(4, 8), width_per_n=8, seeds=1, steps=30), "cpu": dict(),
                "paper": dict(ns=(8, 16, 32, 64, 128, 256), seeds=4, steps=600)}

    def validate(self):
        ns = validate.int_list("ns", self.ns, minimum=4)
        if len(ns) < 2 or max(ns) > 256:
            raise ValueError(f"ns must be at least 2 integers in [4, 256], got {list(self.ns)}")
        validate.int_in("width_per_n", self.width_per_n, 1, 1024)
        validate.int_in("d", self.d, 2, 512)
        validate.int_in("L", self.L, 1, 16)
        validate.int_in("seeds", self.seeds, 1, 16)
        validate.int_in("steps", self.steps, 10, 100000)
        validate.one_of("gate_mode", self.gate_mode, ("chain", "input"))

    def resources(self):
        return Resources(host_bytes=_net_bytes(self.width_per_n * max(self.ns), self.L, self.seeds, 1))


@dataclass
class LinearWidthResult:
    """``dK, final: (len(ns), S)`` (relative NTK change; ℓ_T/ℓ_0), the widths, the fit in n, metrics."""

    ns: np.ndarray
    ms: np.ndarray
    dK: np.ndarray
    final: np.ndarray
    fit: object
    metrics: dict = field(default_factory=dict)


def _linear_width_point(item, ctx) -> tuple:
    """One sample size (a ``sweep.map`` item ``(cfg, n)``): train at m = c·n; return (ΔK/K per seed, ℓ_T/ℓ_0)."""
    cfg, n = item
    X, y = ackley(n, cfg.d, ctx)
    net = GReLUNet(GatedConfig(d_x=cfg.d, d_y=1, m=cfg.width_per_n * n, L=cfg.L, gate_mode=cfg.gate_mode,
                               seeds=_seed_list(ctx, cfg.seeds, "linear_width", n), device=ctx.device))
    out = train(net, X, y, eta=eta_ntk(net, X, 1.0), steps=cfg.steps, tol_rel=1e-12, record=("loss", "ntk_change"))
    return out.records["ntk_change"], out.loss[-1] / out.loss[0]


def linear_width(cfg: LinearWidthConfig, ctx) -> LinearWidthResult:
    """Relative NTK change ‖K_T − K_0‖_F/‖K_0‖_F after GD at m = c·n, against n, and its power-law exponent."""
    from .. import sweep

    parts = sweep.map(_linear_width_point, [(cfg, n) for n in cfg.ns], ctx)
    ns = np.array(cfg.ns, dtype=float)
    dK, final = np.array([p[0] for p in parts]), np.array([p[1] for p in parts])
    fit = fit_power_law(ns, dK.mean(1))
    per_seed = np.array([fit_power_law(ns, dK[:, s]).exponent for s in range(cfg.seeds)])
    half = 2 * per_seed.std(ddof=1) / math.sqrt(cfg.seeds) if cfg.seeds > 1 else 0.0  # (requires n_seeds ≥ 2)
    metrics = dict(exponent_n=fit.exponent, exponent_n_ci=(fit.exponent - half, fit.exponent + half),
                   dK_max=float(np.max(dK)), n_seeds=cfg.seeds,
                   converged_frac=float(np.mean(np.nan_to_num(final, nan=np.inf) < 1e-6)))
    return LinearWidthResult(ns, cfg.width_per_n * ns, dK, final, fit, metrics)


# ============================================================================ 04: Theorem 2, Table 2, Figs. 3b/3c
@dataclass(frozen=True)
class ConversionConfig(Config):
    """Theorem 2 where it is exact (n < m, linear last layer), with a final ReLU, and against n/m; the test loss
    before and after the conversion (Fig. 3c's ridge reading) on the Ackley regression."""

    n: int = 64                 # training examples (integer in [4, 4096], below m for the exact case)
    m: int = 256                # width (integer in [8, 8192])
    L: int = 4                  # depth (integer in [1, 16])
    d: int = 32                 # input dimension (integer in [2, 512])
    seeds: int = 3              # (integer in [1, 16])
    n_test: int = 500           # (integer in [10, 100000])
    m_sweep: int = 64           # width of the n/m sweep (integer in [8, 1024])
    ratios: tuple = (0.25, 0.5, 0.9, 1.0, 1.5, 3.0, 6.25)   # n/m of the sweep (numbers in (0, 20])
    steps: int = 300            # GD steps before converting (integer in [1, 100000])
    ridge: float = 0.0          # ridge λ of the sweep, relative to the mean feature Gram diagonal (number ≥ 0)
    center: bool = True         # subtract the initial function (OUR CHOICE; see GReLUNet.centered)
    gate_mode: str = "chain"
    PROFILES = {"smoke": dict(n=16, m=64, seeds=2, n_test=100, ratios=(0.5, 1.0, 3.0), steps=60),
                "cpu": dict(), "paper": dict(n=2048, m=4096, n_test=10000)}

    def validate(self):
        validate.int_in("n", self.n, 4, 4096)
        validate.int_in("m", self.m, 8, 8192)
        validate.int_in("L", self.L, 1, 16)
        validate.int_in("d", self.d, 2, 512)
        validate.int_in("seeds", self.seeds, 1, 16)
        validate.int_in("n_test", self.n_test, 10, 100000)
        validate.int_in("m_sweep", self.m_sweep, 8, 1024)
        for r in self.ratios:
            validate.in_range("ratios", r, 0.0, 20.0, lo_open=True)
        if 1.0 not in self.ratios:
            raise ValueError(f"ratios must include 1.0 (n = m), got {list(self.ratios)}")
        validate.int_in("steps", self.steps, 1, 100000)
        validate.nonnegative("ridge", self.ridge)
        validate.one_of("gate_mode", self.gate_mode, ("chain", "input"))

    def resources(self):
        return Resources(host_bytes=_net_bytes(self.m, self.L, self.seeds, 2) + 8.0 * self.n * self.m * 8 * self.L)


@dataclass
class ConversionResult:
    """Reports of the exact conversion and with a final ReLU, the n/m sweep, test MSEs and baselines."""

    report: dict
    report_last: dict
    ratios: tuple
    err_sweep: np.ndarray
    resid_last: np.ndarray
    test_before: np.ndarray
    test_after: np.ndarray
    base: dict
    metrics: dict = field(default_factory=dict)


def conversion(cfg: ConversionConfig, ctx) -> ConversionResult:
    """Train GReLU nets on Ackley data, convert them (Theorem 2 as corrected), sweep n/m; return the reports."""
    X, y = ackley(cfg.n + cfg.n_test, cfg.d, ctx)
    Xtr, ytr, Xte, yte = X[:cfg.n], y[:cfg.n], X[cfg.n:], y[cfg.n:]
    g = GReLUNet(GatedConfig(d_x=cfg.d, d_y=1, m=cfg.m, L=cfg.L, gate_mode=cfg.gate_mode,
                             seeds=_seed_list(ctx, cfg.seeds, "conversion"), device=ctx.device))
    g = g.centered() if cfg.center else g
    train(g, Xtr, ytr, eta=eta_ntk(g, Xtr), steps=cfg.steps, tol_rel=1e-6)
    from .conversion import grelu_to_relu
    from .model import mse
    relu, rep = grelu_to_relu(g, Xtr)
    _, rep_last = grelu_to_relu(g, Xtr, last_relu=True)
    before, after = mse(g, Xte, yte).cpu().numpy(), mse(relu, Xte, yte).cpu().numpy()
    nmax = int(max(cfg.ratios) * cfg.m_sweep) + 1
    Xb, yb = ackley(nmax, cfg.d, ctx)
    err, res_last = [], []
    for r in cfg.ratios:
        nn = max(2, int(round(r * cfg.m_sweep)))
        gs = GReLUNet(GatedConfig(d_x=cfg.d, d_y=1, m=cfg.m_sweep, L=cfg.L, gate_mode=cfg.gate_mode,
                                  seeds=_seed_list(ctx, 1, "sweep", r), device=ctx.device))
        train(gs, Xb[:nn], yb[:nn], eta=eta_ntk(gs, Xb[:nn]), steps=min(cfg.steps, 100), tol_rel=1e-6)
        A = (Xb[:nn] @ gs.C[0].T).clamp_min(0)
        lam = cfg.ridge * float(A.square().sum(1).mean()) if cfg.ridge > 0 else 0.0
        _, rp = grelu_to_relu(gs, Xb[:nn], lam=lam)
        err.append(float(rp["out_rel_maxdiff"][0]))
        res_last.append(float(rp["rel_residual"][0, -1]))
    base, sanity = scored(np.mean(before), Xtr, ytr, Xte, yte)
    metrics = dict(
        thm2=dict(exact_err=float(np.max(rep["out_rel_maxdiff"])), final_relu_err=float(np.min(rep_last["out_rel_maxdiff"])),
                  big_err=err[-1] if max(cfg.ratios) > 1 else float("nan")),
        ridge=dict(drop_frac=float(np.mean(after < before)), **sanity))
    return ConversionResult(rep, rep_last, tuple(cfg.ratios), np.array(err), np.array(res_last), before, after, base,
                            metrics)


def _image_source(root, n_total: int, name: str = "n_train + n_test") -> str:
    """Check the image data before any work: CIFAR-10 from ``root``/``$NBS_CIFAR10_DIR`` or the digits stand-in."""
    from .. import data as core_data

    d = core_data.cifar10_dir(root or None)
    size = 60000 if d is not None else 1797
    if n_total > size:
        need = ("CIFAR-10 (set NBS_CIFAR10_DIR or cifar10_root to the python batches; 60,000 images)"
                if d is None else "at most 60,000 images")
        raise ValueError(f"{name} must be at most {size} for the data found "
                         f"({'CIFAR-10' if d else 'digits stand-in, 1,797 images'}), got {n_total}; this size needs {need}")
    return "CIFAR-10" if d is not None else "digits stand-in"


@dataclass(frozen=True)
class Table2Config(Config):
    """Table 2 / Fig. 3a: GReLU and ReLU of the same width and depth, full-batch GD at one shared step."""

    n_train: int = 1100         # (integer in [10, 60000])
    n_test: int = 600           # (integer in [10, 60000])
    archs: tuple = ((6, 128), (7, 128), (4, 192))    # (depth, width) pairs (depth in [1, 16], width in [8, 16384])
    steps: int = 300            # full-batch GD steps (integer in [1, 100000])
    c_eta: float = 1.0          # shared step η = c / max(λ_max GReLU, λ_max ReLU) (number in (0, 2))
    center: bool = True         # subtract the initial function (OUR CHOICE; False: the paper's raw outputs)
    gate_mode: str = "chain"
    cifar10_root: str = ""      # CIFAR-10 python batches; empty: $NBS_CIFAR10_DIR or the digits stand-in
    PROFILES = {"smoke": dict(n_train=100, n_test=100, archs=((4, 64),), steps=10), "cpu": dict(),
                "paper": dict(n_train=50000, n_test=10000, archs=((6, 10000), (7, 10000), (4, 15000)), steps=80)}

    def validate(self):
        validate.int_in("n_train", self.n_train, 10, 60000)
        validate.int_in("n_test", self.n_test, 10, 60000)
        for a in self.archs:
            if len(a) != 2:
                raise ValueError(f"archs must be (depth, width) pairs, got {list(self.archs)}")
            validate.int_in("archs depth", a[0], 1, 16)
            validate.int_in("archs width", a[1], 8, 16384)
        validate.int_in("steps", self.steps, 1, 100000)
        validate.in_range("c_eta", self.c_eta, 0.0, 2.0, lo_open=True, hi_open=True)
        validate.one_of("center", self.center, (True, False))
        validate.one_of("gate_mode", self.gate_mode, ("chain", "input"))
        _image_source(self.cifar10_root, self.n_train + self.n_test)

    def resources(self):
        mm = max(w for _, w in self.archs)
        Lm = max(L for L, _ in self.archs)
        return Resources(host_bytes=4.0 * 4 * Lm * mm * mm + 4.0 * 3 * self.n_train * mm * (Lm + 1) + 8.0 * 3 * 3072 *
                         (self.n_train + self.n_test), device_bytes=4.0 * 4 * Lm * mm * mm)


@dataclass
class Table2Result:
    """Per-architecture train/test MSE of both nets, the curves ``(steps+1,)`` per (kind, depth, width), baselines."""

    rows: list
    curves: dict
    base: dict
    source: str
    metrics: dict = field(default_factory=dict)


def table2(cfg: Table2Config, ctx) -> Table2Result:
    """Train GReLU and ReLU nets at one shared step (Table 2's protocol) in float32; return MSEs and baselines."""
    from .model import mse

    f32 = torch.float32
    X, Y, Xt, Yt, _, _, source = _images(cfg.n_train, cfg.n_test, "tab2", ctx, cfg.cifar10_root)
    rows, curves = [], {}
    for (L, m) in cfg.archs:
        g, r = make_pair(GatedConfig(d_x=X.shape[1], d_y=10, m=m, L=L, gate_mode=cfg.gate_mode,
                                     seeds=_seed_list(ctx, 1, "tab2", L, m), dtype=f32, device=ctx.device))
        lam = {"grelu": float(lambda_max(g, X)[0]), "relu": float(lambda_max(r, X)[0])}
        row = dict(depth=L, width=m, lmax_ratio=lam["relu"] / lam["grelu"])
        for kind, net in (("relu", r), ("grelu", g)):
            net = net.centered() if cfg.center else net.clone()
            out = train(net, X, Y, eta=cfg.c_eta / max(lam.values()), steps=cfg.steps, tol_rel=None)
            curves[kind, L, m] = 2 * out.loss[:, 0] / X.shape[0]
            row[kind] = float(mse(net, X, Y)[0])
            row[kind + "_test"] = float(mse(net, Xt, Yt)[0])
        rows.append(row)
    tests = [r[k] for r in rows for k in ("relu_test", "grelu_test")]
    base, sanity = scored(np.min(tests), X, Y, Xt, Yt)
    metrics = dict(frac_grelu_lower=float(np.mean([r["grelu"] < r["relu"] for r in rows])),
                   grelu_train_max=float(np.max([r["grelu"] for r in rows])), **sanity)
    return Table2Result(rows, curves, base, source, metrics)


@dataclass(frozen=True)
class AugConfig(Config):
    """Figs. 3b/3c: mini-batch training with augmentation, GReLU converted to ReLU at the midpoint."""

    n_train: int = 256          # (integer in [10, 60000]; the conversion is exact for n_train ≤ m)
    n_test: int = 600           # (integer in [10, 60000])
    m: int = 384                # (integer in [8, 16384])
    L: int = 4                  # (integer in [1, 16])
    epochs: int = 30            # (integer in [2, 1000])
    batch: int = 64             # (integer in [1, n_train])
    noise: float = 0.05         # augmentation noise in standardised units (number in [0, 10])
    c_eta: float = 1.0          # step in NTK units on one augmented batch (number in (0, 2))
    ridge: float = 0.0          # ridge λ of the conversion, relative to the mean feature Gram diagonal (number ≥ 0)
    center: bool = True         # subtract the initial function (OUR CHOICE)
    gate_mode: str = "chain"
    cifar10_root: str = ""
    PROFILES = {"smoke": dict(n_train=64, n_test=100, m=128, L=3, epochs=4, batch=32), "cpu": dict(),
                "paper": dict(n_train=8192, n_test=10000, m=10000, L=6, epochs=80, batch=5000)}

    def validate(self):
        validate.int_in("n_train", self.n_train, 10, 60000)
        validate.int_in("n_test", self.n_test, 10, 60000)
        validate.int_in("m", self.m, 8, 16384)
        validate.int_in("L", self.L, 1, 16)
        validate.int_in("epochs", self.epochs, 2, 1000)
        validate.int_in("batch", self.batch, 1, self.n_train)
        validate.in_range("noise", self.noise, 0.0, 10.0)
        validate.in_range("c_eta", self.c_eta, 0.0, 2.0, lo_open=True, hi_open=True)
        validate.nonnegative("ridge", self.ridge)
        validate.one_of("center", self.center, (True, False))
        validate.one_of("gate_mode", self.gate_mode, ("chain", "input"))
        _image_source(self.cifar10_root, self.n_train + self.n_test)

    def resources(self):
        return Resources(host_bytes=4.0 * 3 * 2 * self.L * self.m * self.m + 8.0 * self.n_train * self.m * (self.L + 2) * 4,
                         device_bytes=4.0 * 3 * 2 * self.L * self.m * self.m)


@dataclass
class AugResult:
    """Clean-train and test MSE per epoch (``hist``), the values at the conversion, timings and baselines."""

    hist: dict
    half: int
    at_conversion: dict
    times: dict
    base: dict
    source: str
    metrics: dict = field(default_factory=dict)


def augmented(cfg: AugConfig, ctx) -> AugResult:
    """Train ReLU and GReLU with augmentation; convert GReLU at the midpoint; return the histories and metrics."""
    from .. import bench
    from .conversion import grelu_to_relu
    from .model import mse

    f32 = torch.float32
    X, Y, Xt, Yt, raw, stats, source = _images(cfg.n_train, cfg.n_test, "aug", ctx, cfg.cifar10_root)
    side = int(round(math.sqrt(raw.shape[1] // (3 if raw.shape[1] == 3072 else 1))))
    raw_t = torch.from_numpy(raw)
    gen = ctx.generator("aug", "batches", device="cpu")

    def augment(rows, g):
        return _data.augment_images(raw_t[rows.cpu()], g, stats, side, cfg.noise).to(ctx.device, f32)

    ga, ra = make_pair(GatedConfig(d_x=X.shape[1], d_y=10, m=cfg.m, L=cfg.L, gate_mode=cfg.gate_mode,
                                   seeds=_seed_list(ctx, 1, "aug"), dtype=f32, device=ctx.device))
    if cfg.center:
        ga, ra = ga.centered(), ra.centered()
    Xb0 = augment(torch.arange(cfg.batch, device="cpu"), ctx.generator("aug", "eta", device="cpu"))
    eta = {"relu": cfg.c_eta / float(lambda_max(ra, Xb0)[0]), "grelu": cfg.c_eta / float(lambda_max(ga, Xb0)[0])}
    half = cfg.epochs // 2
    hist = {k: [] for k in ("relu_tr", "relu_te", "g_tr", "g_te")}
    kw = dict(epochs=1, batch_size=cfg.batch, augment=augment, tol_rel=None, generator=gen)
    at = {}
    for ep in range(cfg.epochs):
        train(ra, X, Y, eta=eta["relu"], **kw)
        if ep == half:
            at.update(pre_tr=float(mse(ga, X, Y)[0]), pre_te=float(mse(ga, Xt, Yt)[0]))
            A = (X.double() @ ga.C[0].double().T).clamp_min(0)
            lam = cfg.ridge * float(A.square().sum(1).mean()) if cfg.ridge > 0 else 0.0
            conv, rep = grelu_to_relu(ga, X, lam=lam)
            conv.C, conv.W, conv.B = conv.C.to(f32), conv.W.to(f32), conv.B.to(f32)
            ga = conv
            eta["grelu"] = cfg.c_eta / float(lambda_max(ga, Xb0)[0])
            at.update(post_tr=float(mse(ga, X, Y)[0]), post_te=float(mse(ga, Xt, Yt)[0]),
                      resid=float(rep["rel_residual"].max()))
        train(ga, X, Y, eta=eta["grelu"], **kw)
        for k, net, XX, YY in (("relu_tr", ra, X, Y), ("relu_te", ra, Xt, Yt), ("g_tr", ga, X, Y), ("g_te", ga, Xt, Yt)):
            hist[k].append(float(mse(net, XX, YY)[0]))
    # one epoch of each, timed by the book's harness (GReLU recomputes its gates for every augmented batch)
    g_fresh, r_fresh = make_pair(GatedConfig(d_x=X.shape[1], d_y=10, m=cfg.m, L=cfg.L, gate_mode=cfg.gate_mode,
                                             seeds=_seed_list(ctx, 1, "aug"), dtype=f32, device=ctx.device))
    tk = dict(epochs=1, batch_size=cfg.batch, augment=augment, tol_rel=None)
    times = bench.compare({"grelu": lambda: train(g_fresh.clone(), X, Y, eta=eta["relu"] * 1e-3, **tk),
                           "relu": lambda: train(r_fresh.clone(), X, Y, eta=eta["relu"] * 1e-3, **tk)},
                          repeats=3, device=str(ctx.device))
    hist = {k: np.array(v) for k, v in hist.items()}
    base, sanity = scored(min(hist["relu_te"][-1], hist["g_te"][-1]), X, Y, Xt, Yt)
    jump = abs(at["post_tr"] - at["pre_tr"]) / at["pre_tr"]
    metrics = dict(jump=jump, test_pre=at["pre_te"], test_post=at["post_te"],
                   time_ratio=times["grelu"].median / times["relu"].median, **sanity)
    return AugResult(hist, half, at, {k: v.median for k, v in times.items()}, base, source, metrics)


# ============================================================================ 05: SGEMM (Figs. 2b, 2c, 4, 5)
def _sgemm_data(cfg, ctx):
    from . import sgemm

    data = sgemm.load_sgemm(cfg.sgemm_csv or None, seed=ctx.seeds(1, "sgemm")[0] % 2 ** 32)
    X, y, Xv, yv = sgemm.split(data, cfg.n, cfg.n_val, seed=ctx.seeds(1, "sgemm-split")[0] % 2 ** 32)
    f32 = torch.float32
    name = "UCI SGEMM" if "UCI" in data.source else "SGEMM stand-in (exact grid, synthetic runtimes)"
    return tuple(torch.from_numpy(a).to(ctx.device, f32) for a in (X, y, Xv, yv)), name


@dataclass(frozen=True)
class SgemmConfig(Config):
    """The SGEMM experiments: both nets over a list of learning rates (one batched run per net), and Fig. 4c's
    grid of GReLU nets at a fixed parameter count."""

    n: int = 4096               # training rows (integer in [64, 239600])
    n_val: int = 500            # validation rows (integer in [16, 20000])
    m: int = 64                 # width of the learning-rate sweep (integer in [8, 8192])
    L: int = 10                 # depth of the sweep (integer in [1, 32])
    batch: int = 256            # mini-batch size (integer in [1, n])
    epochs: int = 60            # (integer in [2, 1000])
    c_list: tuple = (1.0, 1.5, 1.9)   # η in units of 1/λ_max(K_0 GReLU) (1 to 12 numbers in (0, 10], with 1.0)
    grid: tuple = ((4, 101), (10, 64), (16, 51), (40, 32))   # Fig. 4c (depth, width) at about fixed L·m²
    center: bool = True         # subtract the initial function (OUR CHOICE)
    gate_mode: str = "chain"
    sgemm_csv: str = ""         # the UCI CSV; empty: $NBS_SGEMM_CSV or the stand-in
    PROFILES = {"smoke": dict(n=256, n_val=128, m=32, L=6, batch=128, epochs=4, grid=((2, 45), (6, 32), (12, 23))),
                "cpu": dict(),
                "paper": dict(n=32768, n_val=2000, m=2048, L=10, batch=8192, epochs=50,
                              grid=((4, 3238), (10, 2048), (16, 1619), (40, 1024)))}

    def validate(self):
        validate.int_in("n", self.n, 64, 239600)
        validate.int_in("n_val", self.n_val, 16, 20000)
        validate.int_in("m", self.m, 8, 8192)
        validate.int_in("L", self.L, 1, 32)
        validate.int_in("batch", self.batch, 1, self.n)
        validate.int_in("epochs", self.epochs, 2, 1000)
        cs = list(self.c_list)
        if not 1 <= len(cs) <= 12 or 1.0 not in cs or not any(c > 1 for c in cs):
            raise ValueError(f"c_list must hold 1 to 12 numbers in (0, 10], including 1.0 and one above 1, got {cs}")
        for c in cs:
            validate.in_range("c_list", c, 0.0, 10.0, lo_open=True)
        for a in self.grid:
            validate.int_in("grid depth", a[0], 1, 64)
            validate.int_in("grid width", a[1], 8, 8192)
        validate.one_of("center", self.center, (True, False))
        validate.one_of("gate_mode", self.gate_mode, ("chain", "input"))
        from .sgemm import check_source

        check_source(self.sgemm_csv or None)

    def resources(self):
        C = len(self.c_list)
        return Resources(host_bytes=4.0 * 3 * 2 * C * self.L * self.m * self.m + 4.0 * 2 * C * self.n * self.m * self.L
                         + 8.0 * 241600 * 20)


@dataclass
class SgemmResult:
    """Per net (``"grelu"``, ``"relu"``): train-loss MSE ``(epochs+1, C)``, validation MSE, gradient differences,
    ReLU pattern churn; diverged flags; baselines; metrics per claim."""

    c_list: tuple
    mse: dict
    val: dict
    grad_diff: dict
    churn: np.ndarray
    diverged: dict
    lam_ratio: float
    base: dict
    source: str
    metrics: dict = field(default_factory=dict)


def _ups(curve) -> float:
    """Return the fraction of epochs whose loss went up (NaN when the run diverged)."""
    c = np.asarray(curve, dtype=float)
    return float(np.mean(np.diff(c) > 0)) if np.all(np.isfinite(c)) else float("nan")


def _finite_or_nan(x: float, *arrays) -> float:
    return float(x) if all(np.all(np.isfinite(a)) for a in arrays) else float("nan")


def sgemm_sweep(cfg: SgemmConfig, ctx) -> SgemmResult:
    """Train GReLU and ReLU over ``c_list`` (Figs. 4a, 4b, 5, 2b, 2c); diverged runs are NaN in the metrics."""
    (X, y, Xv, yv), source = _sgemm_data(cfg, ctx)
    C = len(cfg.c_list)
    seed = _seed_list(ctx, 1, "sgemm-net")
    g, r = make_pair(GatedConfig(d_x=X.shape[1], d_y=1, m=cfg.m, L=cfg.L, gate_mode=cfg.gate_mode, seeds=seed * C,
                                 dtype=torch.float32, device=ctx.device))
    lam_g, lam_r = float(lambda_max(g, X[:cfg.batch])[0]), float(lambda_max(r, X[:cfg.batch])[0])
    etas = torch.tensor(cfg.c_list, dtype=torch.float32, device=ctx.device) / lam_g
    out = {}
    for name, net in (("grelu", g), ("relu", r)):
        net = net.centered() if cfg.center else net
        out[name] = train(net, X, y, eta=etas, epochs=cfg.epochs, batch_size=cfg.batch, X_val=Xv, Y_val=yv,
                          record=("loss", "val_loss", "grad_diff", "hamming"), tol_rel=None,
                          generator=ctx.generator("sgemm", "batches", device="cpu"))
    mse_ = {k: 2 * o.loss / cfg.n for k, o in out.items()}
    val = {k: o.records["val_loss"] for k, o in out.items()}
    gdiff = {k: o.records["grad_diff"] for k, o in out.items()}
    churn = out["relu"].records["hamming"]
    div = {k: np.asarray(o.diverged) for k, o in out.items()}
    finals = np.concatenate([val[k][-1] for k in val])
    base, sanity = scored(np.min(finals[np.isfinite(finals)]) if np.isfinite(finals).any() else float("nan"),
                          X, y, Xv, yv, split="val")
    hi = [i for i, c in enumerate(cfg.c_list) if c > 1]
    fg, fr = mse_["grelu"][-1, hi], mse_["relu"][-1, hi]
    i1 = list(cfg.c_list).index(1.0)
    gg, gr = gdiff["grelu"][:, i1], gdiff["relu"][:, i1]
    stable = [i for i in range(C) if not div["relu"][i]]
    # a ReLU run that diverged went to an infinite loss (Fig. 5's oscillation at its extreme); a diverged GReLU
    # run leaves NaN in the metrics, so the claim is not assessed
    fr = np.where(div["relu"][hi], np.inf, fr)
    relu_ups = [1.0 if div["relu"][i] else _ups(mse_["relu"][:, i]) for i in hi]
    fig5 = dict(frac_grelu_lower=_finite_or_nan(np.mean(fg < fr), fg),
                relu_ups_max=float(np.max(relu_ups)),
                grelu_ups_max=float(np.max([_ups(mse_["grelu"][:, i]) for i in hi])), **sanity)
    fig2b = dict(mean_ratio=float(np.mean(gg) / np.mean(gr)), grelu_last_over_first=float(gg[-1] / gg[0]),
                 relu_last_over_first=float(gr[-1] / gr[0]), **sanity)
    fig2c = dict(churn_max=float(np.max([np.mean(churn[:, i]) for i in stable])) if stable else float("nan"),
                 churn_last_over_first=float(churn[-1, i1] / churn[0, i1]), **sanity)
    return SgemmResult(tuple(cfg.c_list), mse_, val, gdiff, churn, div, lam_r / lam_g, base, source,
                       dict(fig5=fig5, fig2b=fig2b, fig2c=fig2c))


@dataclass
class GridResult:
    """Fig. 4c: train MSE curves and validation MSE per epoch of each (depth, width), and the metrics."""

    grid: tuple
    curves: list
    val: list
    base: dict
    source: str
    metrics: dict = field(default_factory=dict)


def sgemm_grid(cfg: SgemmConfig, ctx) -> GridResult:
    """Train the GReLU nets of ``cfg.grid`` at one step (1/λ_max of the middle net, the same in NTK units)."""
    (X, y, Xv, yv), source = _sgemm_data(cfg, ctx)
    nets = [GReLUNet(GatedConfig(d_x=X.shape[1], d_y=1, m=m, L=L, gate_mode=cfg.gate_mode,
                                 seeds=_seed_list(ctx, 1, "grid", L, m), dtype=torch.float32, device=ctx.device))
            for L, m in cfg.grid]
    nets = [n.centered() if cfg.center else n for n in nets]
    eta = 1.0 / float(lambda_max(nets[len(nets) // 2], X[:cfg.batch])[0])
    curves, val = [], []
    for net in nets:
        from .model import mse
        v0 = float(mse(net, Xv, yv)[0])
        o = train(net, X, y, eta=eta, epochs=cfg.epochs, batch_size=cfg.batch, X_val=Xv, Y_val=yv,
                  record=("loss", "val_loss"), tol_rel=None, generator=ctx.generator("grid", "batches", device="cpu"))
        curves.append(2 * o.loss[:, 0] / cfg.n)
        val.append(np.concatenate([[v0], o.records["val_loss"][:, 0]]))
    ratio = np.array([v[-1] / v[0] for v in val])
    depth = np.array([L for L, _ in cfg.grid], dtype=float)
    if np.all(np.isfinite(ratio)):
        rd, rr = np.argsort(np.argsort(depth)), np.argsort(np.argsort(ratio))
        corr = float(np.corrcoef(rd, rr)[0, 1])
    else:
        corr = float("nan")
    finals = np.array([v[-1] for v in val])
    base, sanity = scored(np.nanmin(finals) if np.isfinite(finals).any() else float("nan"), X, y, Xv, yv, split="val")
    metrics = dict(rank_corr=corr, **sanity)
    return GridResult(tuple(cfg.grid), curves, val, base, source, metrics)


# ============================================================================ 02: NTK, Theorem 5, Lemma 4 / Theorem 6, conditioning
ARCHES = {"grelu_chain": "GReLU, chain gates (paper)", "grelu_input": "GReLU, input gates (Lemma 4)", "relu": "ReLU"}


def _unit_pairs(us, d: int, ctx) -> torch.Tensor:
    """Return ``(2·len(us), d)`` unit inputs, pair p at cosine ``us[p]`` (e_1 and u e_1 + √(1−u²) e_2)."""
    u = torch.as_tensor(list(us), dtype=ctx.dtype, device=ctx.device)
    X = torch.zeros(2 * len(us), d, dtype=ctx.dtype, device=ctx.device)
    X[0::2, 0] = 1.0
    X[1::2, 0], X[1::2, 1] = u, torch.sqrt(1 - u * u)
    return X


@dataclass(frozen=True)
class KernelConfig(Config):
    """The exact NTK against autograd and the closed forms against finite width (spec P1, P2)."""

    m: int = 2048               # (integer in [16, 16384])
    L: int = 4                  # (integer in [1, 32])
    d: int = 64                 # (integer in [2, 4096])
    seeds: int = 5              # (integer in [1, 64])
    us: tuple = (0.0, 0.3, 0.5, 0.7, 0.9)   # input cosines (numbers in (-1, 1))
    PROFILES = {"smoke": dict(m=128, seeds=2, us=(0.0, 0.5, 0.9)), "cpu": dict(),
                "paper": dict(m=4096, seeds=8, us=(0.0, 0.2, 0.4, 0.6, 0.8, 0.9, 0.95))}

    def validate(self):
        validate.int_in("m", self.m, 16, 16384)
        validate.int_in("L", self.L, 1, 32)
        validate.int_in("d", self.d, 2, 4096)
        validate.int_in("seeds", self.seeds, 1, 64)
        for u in self.us:
            validate.in_range("us", u, -1.0, 1.0, lo_open=True, hi_open=True)

    def resources(self):
        return Resources(host_bytes=_net_bytes(self.m, self.L, self.seeds, 1))


@dataclass
class KernelResult:
    """Autograd errors per architecture; measured normalised off-diagonals ``(seeds, len(us))``; diagonal ratios."""

    autograd_err: dict
    us: tuple
    offdiag: dict
    diag_ratio: dict
    metrics: dict = field(default_factory=dict)


def kernels(cfg: KernelConfig, ctx) -> KernelResult:
    """Compare the exact NTK with autograd (tiny nets) and finite-width NTKs with the closed forms."""
    from .model import ReLUNet
    from .ntk import autograd_ntk, ntk
    from .theory import ntk_diag, ntk_normalized_offdiag

    Xs = ctx.randn(3, 5, keys=("kernels", "small"))
    Xs = Xs / Xs.norm(dim=1, keepdim=True)
    errs = {}
    for a in ARCHES:
        c = GatedConfig(d_x=5, d_y=2, m=12, L=3, gate_mode="input" if a == "grelu_input" else "chain",
                        seeds=_seed_list(ctx, 1, "small", a), device=ctx.device)
        net = ReLUNet(c) if a == "relu" else GReLUNet(c)
        K, Ka = ntk(net, Xs)[0].reshape(6, 6), autograd_ntk(net, Xs)
        errs[a] = float((K - Ka).abs().max() / Ka.abs().max())
    X = _unit_pairs(cfg.us, cfg.d, ctx)
    idx = torch.arange(0, 2 * len(cfg.us), 2, device=ctx.device)
    off, diag, dev = {}, {}, 0.0
    for a in ARCHES:
        c = GatedConfig(d_x=cfg.d, d_y=1, m=cfg.m, L=cfg.L, gate_mode="input" if a == "grelu_input" else "chain",
                        seeds=_seed_list(ctx, cfg.seeds, "kernels", a), device=ctx.device)
        K = ntk_gram(ReLUNet(c) if a == "relu" else GReLUNet(c), X)
        off[a] = (K[:, idx, idx + 1] / K[:, idx, idx]).cpu().numpy()
        diag[a] = float(K.diagonal(dim1=1, dim2=2).mean() / ntk_diag(cfg.m, cfg.d, 1, cfg.L))
        th = np.array([ntk_normalized_offdiag(u, cfg.L, a) for u in cfg.us])
        dev = max(dev, float(np.max(np.abs(off[a].mean(0) - th))))
    metrics = dict(autograd=dict(autograd_err=max(errs.values())),
                   closed=dict(max_dev=dev, diag_min=min(diag.values()), diag_max=max(diag.values()),
                               n_seeds=cfg.seeds))
    return KernelResult(errs, tuple(cfg.us), off, diag, metrics)


@dataclass(frozen=True)
class GatesConfig(Config):
    """Theorem 5's spectra, gate overlaps and forward decorrelation against depth (Lemma 4, Theorem 6)."""

    spec_m: int = 1024          # width of the Theorem 5 check (integer in [64, 16384])
    ov_m: int = 2048            # width of the overlap measurement (integer in [64, 65536])
    fw_m: int = 1024            # width of the forward-kernel measurement (integer in [64, 16384])
    depth: int = 10             # layers of the overlap figure (integer in [2, 64])
    d: int = 64                 # input dimension (even integer in [4, 4096])
    PROFILES = {"smoke": dict(spec_m=128, ov_m=256, fw_m=128, depth=4), "cpu": dict(),
                "paper": dict(spec_m=4096, ov_m=4096, fw_m=4096, depth=20)}

    def validate(self):
        validate.int_in("spec_m", self.spec_m, 64, 16384)
        validate.int_in("ov_m", self.ov_m, 64, 65536)
        validate.int_in("fw_m", self.fw_m, 64, 16384)
        validate.int_in("depth", self.depth, 2, 64)
        validate.int_in("d", self.d, 4, 4096)

    def resources(self):
        return Resources(host_bytes=_net_bytes(max(self.spec_m, self.fw_m), self.depth, 1, 1)
                         + 8.0 * 3 * self.ov_m * self.ov_m * self.depth)


@dataclass
class GatesResult:
    """Theorem 5 rows ``(d_x, m, L, g_min, g_max, f_min, f_max)``, overlaps per gate mode, forward cosines."""

    spec_rows: list
    overlap: dict
    forward: np.ndarray
    metrics: dict = field(default_factory=dict)


def gates(cfg: GatesConfig, ctx) -> GatesResult:
    """Measure Theorem 5's eigenvalues, the gate overlaps of orthogonal pairs and the forward decorrelation."""
    from .model import gating_net
    from .ntk import layer_spectra
    from .stats import gate_overlaps
    from .theory import forward_corr_theory, gate_overlap_theory

    rows = []
    for dx, m, L in [(16, cfg.spec_m // 4, 4), (16, cfg.spec_m, 4), (16, cfg.spec_m, 10)]:
        net = GReLUNet(GatedConfig(d_x=dx, d_y=4, m=m, L=L, seeds=_seed_list(ctx, 1, "thm5", m, L), device=ctx.device))
        Xe = ctx.randn(4, dx, keys=("thm5", "x"))
        eg, ef = layer_spectra(net, Xe / Xe.norm(dim=1, keepdim=True))
        rows.append((dx, m, L, float(eg.min()), float(eg.max()), float(ef.min()), float(ef.max())))
    ok = [r for r in rows if r[1] >= 64 * r[0]] or rows
    Xp = torch.eye(cfg.d, dtype=ctx.dtype, device=ctx.device)
    pi, pj = list(range(0, cfg.d, 2)), list(range(1, cfg.d, 2))
    ov = {}
    for mode in ("chain", "input"):
        gn = gating_net(GatedConfig(d_x=cfg.d, d_y=1, m=cfg.ov_m, L=cfg.depth, gate_mode=mode,
                                    seeds=_seed_list(ctx, 1, "overlap", mode), device=ctx.device))
        ov[mode] = gate_overlaps(gn.gate_masks(Xp), pi, pj)
    net = GReLUNet(GatedConfig(d_x=cfg.d, d_y=1, m=cfg.fw_m, L=cfg.depth, seeds=_seed_list(ctx, 1, "forward"),
                               device=ctx.device))
    G, _ = net.features(Xp)
    fw = np.array([float(((g[:, pi] * g[:, pj]).sum(-1) / (g[:, pi].norm(dim=-1) * g[:, pj].norm(dim=-1))).mean())
                   for g in G])
    ov_dev = max(float(np.max(np.abs(ov[mo] - gate_overlap_theory(0.0, cfg.depth, mo)))) for mo in ov)
    metrics = dict(
        thm5=dict(g_min=min(r[3] for r in ok), g_max=max(r[4] for r in ok), f_min=min(r[5] for r in ok),
                  f_max=max(r[6] for r in ok)),
        thm6=dict(overlap_chain_max=float(ov["chain"].max()), overlap_input_max=float(ov["input"].max()),
                  overlap_dev=ov_dev, forward_dev=float(np.max(np.abs(fw - forward_corr_theory(0.0, cfg.depth)))),
                  decay_L40=float(forward_corr_theory(0.0, 40)[-1] * math.pi), geometric_L40=(5 / 6) ** 40))
    return GatesResult(rows, ov, fw, metrics)


@dataclass(frozen=True)
class ConditioningConfig(Config):
    """Condition numbers of the infinite-width Grams against depth and n, and linearised-GD steps T(n)."""

    n_cond: int = 100           # n of the depth figure (integer in [4, 2000])
    depths: tuple = (1, 2, 4, 8, 16, 32)   # (integers in [1, 64])
    ns: tuple = (10, 30, 100, 300, 1000)   # sample sizes (integers in [4, 4000])
    PROFILES = {"smoke": dict(n_cond=30, depths=(1, 2, 4), ns=(10, 30)), "cpu": dict(),
                "paper": dict(ns=(10, 30, 100, 300, 1000, 2000))}

    def validate(self):
        validate.int_in("n_cond", self.n_cond, 4, 2000)
        for L in self.depths:
            validate.int_in("depths", L, 1, 64)
        for n in self.ns:
            validate.int_in("ns", n, 4, 4000)

    def resources(self):
        n = max(max(self.ns), self.n_cond)
        return Resources(host_bytes=8.0 * 12 * n * n + 8.0 * 2 * n * n)


@dataclass
class ConditioningResult:
    """``cond_L[arch]`` over depths, ``cond_n[arch]`` and ``T_n[arch]`` over ``ns`` (L = ⌈log2 n⌉ + 2)."""

    depths: tuple
    ns: tuple
    cond_L: dict
    cond_n: dict
    T_n: dict
    metrics: dict = field(default_factory=dict)


def conditioning(cfg: ConditioningConfig, ctx) -> ConditioningResult:
    """Return cond(K) of the closed-form Grams on unit Gaussian inputs (d = 2n) and the steps T(1e-6)."""
    from .ntk import kernel_gd_steps

    def gram(n, L, arch):
        return ntk_closed_form(ctx.randn(n, 2 * n, keys=("cond", n)), None, L, arch=arch)

    cond_L = {a: [float(gram_condition(gram(cfg.n_cond, L, a))) for L in cfg.depths] for a in ARCHES}
    cond_n, T_n = {a: [] for a in ARCHES}, {a: [] for a in ARCHES}
    for n in cfg.ns:
        L = math.ceil(math.log2(n)) + 2
        for a in ARCHES:
            K = gram(n, L, a)
            cond_n[a].append(float(gram_condition(K)))
            T_n[a].append(kernel_gd_steps(K, 1e-6))
    ratio = {a: T_n[a][-1] / T_n[a][0] for a in ARCHES}
    metrics = dict(ratio_chain=ratio["grelu_chain"], ratio_input=ratio["grelu_input"], ratio_relu=ratio["relu"])
    return ConditioningResult(tuple(cfg.depths), tuple(cfg.ns), cond_L, cond_n, T_n, metrics)


# ============================================================================ 01: architecture, Remark 3, Table 1
@dataclass(frozen=True)
class ArchConfig(Config):
    """Gate density, bias shift (Remark 3), gate/pattern movement in training, born-dead neurons."""

    m: int = 512                # width of the statistics (integer in [8, 65536])
    L: int = 6                  # depth (integer in [1, 64])
    n: int = 64                 # examples in the gate table (integer in [2, 100000])
    d_x: int = 32               # input dimension (integer in [2, 65536])
    seeds: int = 2              # (integer in [1, 16])
    gate_mode: str = "chain"
    dead_m: int = 1024          # width of the born-dead count (integer in [8, 65536])
    dead_L: int = 10            # depth of the born-dead count (integer in [1, 64])
    train_steps: int = 20       # GD steps before comparing gates and patterns (integer in [1, 10000])
    PROFILES = {"smoke": dict(m=256, seeds=1, dead_m=256, dead_L=6, train_steps=10), "cpu": dict(),
                "paper": dict(m=4096, seeds=2, dead_m=4096, dead_L=20, train_steps=200)}

    def validate(self):
        validate.int_in("m", self.m, 8, 65536)
        validate.int_in("L", self.L, 1, 64)
        validate.int_in("n", self.n, 2, 100000)
        validate.int_in("d_x", self.d_x, 2, 65536)
        validate.int_in("seeds", self.seeds, 1, 16)
        validate.one_of("gate_mode", self.gate_mode, ("chain", "input"))
        validate.int_in("dead_m", self.dead_m, 8, 65536)
        validate.int_in("dead_L", self.dead_L, 1, 64)
        validate.int_in("train_steps", self.train_steps, 1, 10000)

    def resources(self):
        return Resources(host_bytes=_net_bytes(self.m, self.L, self.seeds, 2) + 8.0 * self.n * self.m * (self.L + 1) * 8
                         + 8.0 * self.n * self.dead_m * (self.dead_L + 1) * 4)


@dataclass
class ArchResult:
    """Gate and ReLU densities per layer, |mean|/rms per layer, gate-table size, churn, born-dead per gate mode."""

    density_grelu: np.ndarray
    density_relu: np.ndarray
    stat_grelu: np.ndarray
    stat_relu: np.ndarray
    table_bytes: int
    gates_same: bool
    churn: float
    dead: dict
    metrics: dict = field(default_factory=dict)


def architecture(cfg: ArchConfig, ctx) -> ArchResult:
    """Measure the gate table, Remark 3's statistics and the born-dead neurons on unit Gaussian inputs."""
    from .model import gating_net
    from .stats import born_dead, unit_stats

    X = ctx.randn(cfg.n, cfg.d_x, keys=("arch", "x"))
    X = X / X.norm(dim=1, keepdim=True)
    y = ctx.randn(cfg.n, 1, keys=("arch", "y"))
    g, r = make_pair(GatedConfig(d_x=cfg.d_x, d_y=1, m=cfg.m, L=cfg.L, gate_mode=cfg.gate_mode,
                                 seeds=_seed_list(ctx, cfg.seeds, "arch"), device=ctx.device))
    table = g.build_gates(X)
    Gg, _ = g.features(X, table)
    Gr, Mr = r.features(X)
    dens_g = np.array([float(table.unpack(k).double().mean()) for k in range(cfg.L + 1)])
    dens_r = np.array([float(M.mean()) for M in Mr])
    sg, sr = unit_stats(Gg), unit_stats(Gr)
    train(g, X, y, eta=eta_ntk(g, X, 1.0, table), steps=cfg.train_steps, masks=table)
    train(r, X, y, eta=eta_ntk(r, X, 1.0), steps=cfg.train_steps)
    same = bool(torch.equal(g.build_gates(X).bits, table.bits))
    churn = float(np.mean([float((a != b).double().mean()) for a, b in zip(r.features(X)[1][1:], Mr[1:])]))
    dead = {}
    for mode in ("chain", "input"):
        gn = gating_net(GatedConfig(d_x=cfg.d_x, d_y=1, m=cfg.dead_m, L=cfg.dead_L, gate_mode=mode,
                                    seeds=_seed_list(ctx, 1, "dead", mode), device=ctx.device))
        dead[mode] = born_dead(gn.gate_masks(X))
    metrics = dict(
        bias=dict(stat_grelu_max=float(sg.max()), relu_dev_max=float(np.max(np.abs(sr - 1 / math.sqrt(math.pi)))),
                  relu_churn=churn, gates_same=same),
        dead=dict(dead_chain_last=float(dead["chain"][-1]), dead_input_last=float(dead["input"][-1]),
                  bound=10 * 2.0 ** -cfg.n + 1 / cfg.dead_m))
    return ArchResult(dens_g, dens_r, sg, sr, table.nbytes(), same, churn, dead, metrics)


def table1_metrics(n_imagenet: int = 1_281_167, L_imagenet: int = 1001) -> tuple:
    """Return Table 1 at the ImageNet example (DataFrame) and the metrics of ``004.tab1.imagenet``."""
    from .theory import table1

    df = table1(n_imagenet, L_imagenet).set_index("work")
    th = theorem1(100, 4, 200)
    return df, dict(log10_params_zougu=float(df.loc["Zou & Gu [2019]", "params m²L (log10)"]),
                    eta_times_Kxx_err=abs(th["eta_times_Kxx"] - 1))


# ============================================================================ 06: FLOPs, kernels, low-rank gates
@dataclass(frozen=True)
class FlopsConfig(Config):
    """FLOP fractions from a gate table, GEMM timings (dense, masked, gathered, block-gated), a training step,
    and the low-rank gate approximation for inference (§4.4, Remark 4)."""

    L: int = 4                  # depth (integer in [1, 32])
    block: int = 64             # neuron block of the block-gated variant (power of two in [16, 4096])
    repeats: int = 7            # timing repeats (integer in [3, 1000])
    ms: tuple = (512, 1024, 2048)          # widths of the GEMM timings (integers in [64, 32768])
    batches: tuple = (1, 64, 256)          # batch sizes (integers in [1, 65536])
    n_gates: int = 256          # examples of the FLOP count (integer in [8, 100000])
    step_m: int = 512           # width of the timed training step (integer in [64, 32768])
    step_n: int = 256           # examples of the timed training step (integer in [8, 100000])
    lr_ms: tuple = (512, 1024, 2048)       # widths of the low-rank study (integers in [64, 16384])
    lr_n: int = 500             # training examples of the trained-net low-rank study (integer in [50, 1197])
    lr_steps: int = 200         # GD steps of that net (integer in [10, 10000])
    fast_ms: tuple = (1024, 2048, 4096)    # widths of the batch-1 fast-path timings (integers in [64, 32768])
    fast_repeats: int = 21      # interleaved repeats of the fast-path timings (integer in [3, 1000])
    fast_threads: int = 1       # CPU threads of the fast-path timings (integer in [1, 256]; issue 16 measured 1)
    PROFILES = {"smoke": dict(ms=(256, 512), batches=(1, 64), n_gates=64, step_m=256, step_n=64, lr_ms=(256, 512),
                              repeats=3, lr_n=100, lr_steps=20, fast_ms=(256, 512), fast_repeats=3),
                "cpu": dict(),
                "paper": dict(ms=(4096, 8192, 16384), batches=(1, 8, 64, 512, 4096), n_gates=4096, step_m=8192,
                              step_n=4096, lr_ms=(2048, 4096, 8192), fast_ms=(2048, 4096, 8192, 16384))}

    def validate(self):
        validate.int_in("L", self.L, 1, 32)
        validate.int_in("block", self.block, 16, 4096)
        if self.block & (self.block - 1):
            raise ValueError(f"block must be a power of two in [16, 4096], got {self.block}")
        validate.int_in("repeats", self.repeats, 3, 1000)
        for m in self.ms:
            validate.int_in("ms", m, 64, 32768)
            if m % self.block:
                raise ValueError(f"block must divide every width in ms, got block={self.block}, ms={list(self.ms)}")
        for b in self.batches:
            validate.int_in("batches", b, 1, 65536)
        validate.int_in("n_gates", self.n_gates, 8, 100000)
        validate.int_in("step_m", self.step_m, 64, 32768)
        validate.int_in("step_n", self.step_n, 8, 100000)
        for m in self.lr_ms:
            validate.int_in("lr_ms", m, 64, 16384)
        validate.int_in("lr_n", self.lr_n, 50, 1197)
        validate.int_in("lr_steps", self.lr_steps, 10, 10000)
        if not self.fast_ms:
            raise ValueError("fast_ms must list at least one width")
        for m in self.fast_ms:
            validate.int_in("fast_ms", m, 64, 32768)
        validate.int_in("fast_repeats", self.fast_repeats, 3, 1000)
        validate.int_in("fast_threads", self.fast_threads, 1, 256)

    def resources(self):
        m = max(max(self.ms), max(self.fast_ms))
        return Resources(host_bytes=4.0 * (3 * m * m + 3 * max(self.batches) * m) + 8.0 * 3 * max(self.lr_ms) ** 2
                         + 4.0 * 3 * self.L * self.step_m ** 2 + 8.0 * self.n_gates * max(self.ms) * (self.L + 1))


@dataclass
class FlopsResult:
    """FLOP fractions; timing table (DataFrame); training-step medians; metrics per claim."""

    fractions: dict
    table: object
    step: dict
    device_name: str
    metrics: dict = field(default_factory=dict)


def flops(cfg: FlopsConfig, ctx) -> FlopsResult:
    """Count the gated FLOPs and time dense, masked, gathered and block-gated products and a training step."""
    import pandas as pd

    from .. import bench
    from . import gemm
    from .model import gating_net
    from .stats import flop_fractions

    dev = ctx.device
    name = _device_name(dev)
    m0 = max(cfg.ms)
    net = gating_net(GatedConfig(d_x=64, d_y=1, m=m0, L=cfg.L, seeds=_seed_list(ctx, 1, "flops"), device=dev))
    Xg = ctx.randn(cfg.n_gates, 64, keys=("flops", "x"))
    tab = net.build_gates(Xg / Xg.norm(dim=1, keepdim=True))
    fr = flop_fractions([tab.unpack(k) for k in range(cfg.L + 1)])
    rows, f32 = [], torch.float32
    for m in cfg.ms:
        W = ctx.randn(m, m, keys=("gemm", m), dtype=f32)
        for b in cfg.batches:
            Xb = ctx.randn(b, m, keys=("gemm", m, b), dtype=f32)
            M = ctx.randn(b, m, keys=("mask", m, b), dtype=f32) > 0
            Mf = M.to(f32)
            bm = ctx.randn(b, m // cfg.block, keys=("block", m, b), dtype=f32) > 0
            v = {"dense": lambda: Xb @ W.T, "masked dense": lambda: (Xb @ W.T) * Mf,
                 f"block-gated b={cfg.block} (torch)": lambda: gemm.block_gated_matmul(Xb, W, bm, cfg.block, backend="torch")}
            if b == 1:
                idx = torch.nonzero(M[0], as_tuple=True)[0]
                v["gather GEMV (torch)"] = lambda: gemm.gather_gemv(W, Xb[0], idx, backend="torch")
            if dev.type == "cuda":
                from .model import pack_bits
                bits = pack_bits(M)
                v["Triton gated_matmul"] = lambda: gemm.gated_matmul(Xb, W, bits, backend="triton")
            t = bench.compare(v, repeats=cfg.repeats, device=str(dev))
            for k, tk in t.items():
                rows.append(dict(m=m, batch=b, variant=k, ms=1e3 * tk.median, speedup=t["dense"].median / tk.median))
    table = pd.DataFrame(rows)
    gs, rs = make_pair(GatedConfig(d_x=64, d_y=1, m=cfg.step_m, L=cfg.L, seeds=_seed_list(ctx, 1, "step"), dtype=f32,
                                   device=dev))
    Xs = ctx.randn(cfg.step_n, 64, keys=("step", "x"), dtype=f32)
    Xs = Xs / Xs.norm(dim=1, keepdim=True)
    ys = ctx.randn(cfg.step_n, 1, keys=("step", "y"), dtype=f32)
    masks = gs.build_gates(Xs).dense(f32)
    step = bench.compare({"relu": lambda: train(rs.clone(), Xs, ys, eta=1e-12, steps=1, tol_rel=None),
                          "grelu (table)": lambda: train(gs.clone(), Xs, ys, eta=1e-12, steps=1, masks=masks,
                                                          tol_rel=None),
                          "grelu (online)": lambda: train(gs.clone(), Xs, ys, eta=1e-12, steps=1, tol_rel=None)},
                         repeats=cfg.repeats, device=str(dev))
    masked = table[table.variant == "masked dense"].speedup
    metrics = dict(count=dict(output=fr["output"], both=fr["both"]),
                   half=dict(masked_speed=float(np.median(masked)),
                             step_speed=step["relu"].median / step["grelu (table)"].median))
    return FlopsResult(fr, table, {k: v.median for k, v in step.items()}, name, metrics)


@dataclass
class FastPathResult:
    """Batch-1 gated inference per width: the timing table (DataFrame; speed-ups over the faster dense GEMV of
    each width, named in ``baseline``), the gate density, the fast path's backend, metrics per claim."""

    table: object
    density: float
    device_name: str
    backend: str                                   # "c" (compiled gated_gemv.c), "torch" (embedding_bag), "triton"
    timings: dict = field(default_factory=dict)   # {m: {variant: nbs_lib.bench.Timing}}
    measurements: list = field(default_factory=list)   # nbs_lib.bench.Measurement per width
    metrics: dict = field(default_factory=dict)


#: the widths at which issue 16's criterion (fast path ≥ 1.5× the dense GEMV) applies
FAST_M_MIN = 2048
#: the two dense GEMVs of the layer: W stored row-major, or its transpose (the storage the fast path reads)
DENSE = ("dense", "dense, Wᵀ stored")


def fast_path(cfg: FlopsConfig, ctx) -> FastPathResult:
    """Time one gated layer of batch-1 inference, ``y = W (D ⊙ h)``, float32 (issue 16 item 3).

    Variants (``nbs_lib.bench``, interleaved): ``dense`` (the GEMV ``W h̃`` of the gated input ``h̃``) and
    ``dense, Wᵀ stored`` (``h̃ᵀ Wᵀ``, the same product from the fast path's storage; the faster of the two is
    each width's baseline), ``masked dense`` (``(W h) ⊙ D``, the no-gain baseline), ``fast``
    (:class:`gemm.GatedLayer` called on the gate mask ``D``, reading the open rows of ``Wᵀ``: the compiled C
    kernel on CPU, Triton on CUDA, ``embedding_bag`` where neither runs; listing the open gates is timed),
    ``fast, embedding_bag`` (the torch-only route: ``nonzero(D)`` then ``embedding_bag``), ``gate Ψ`` (the
    gates of a new input: the dense GEMV ``Ψ z`` and its sign), ``net`` (gate Ψ then fast: the whole GReLU
    layer) and ``net, rank-√m/2 gates`` (the thin gate factors of §4.4 instead of Ψ). The gates are those of
    ``Ψ z`` for a ReLU hidden vector ``z``. Every call starts from a cold cache (``bench.compare(cold=True)``),
    as for a layer whose weights the rest of the network evicted. On CPU the timings run on ``cfg.fast_threads``
    threads (restored afterwards).
    """
    threads = torch.get_num_threads()
    if ctx.device.type == "cpu":
        torch.set_num_threads(cfg.fast_threads)  # the C kernel and embedding_bag (one bag) run on one thread
    try:
        return _fast_path(cfg, ctx)
    finally:
        torch.set_num_threads(threads)


def _fast_path(cfg: FlopsConfig, ctx) -> FastPathResult:
    from .. import bench
    from . import gemm

    f32, dev = torch.float32, ctx.device
    name = _device_name(dev)
    rows, dens, timings, meas = [], [], {}, []
    backend = None
    for m in cfg.fast_ms:
        W = ctx.randn(m, m, keys=("fast", "W", m), dtype=f32) / math.sqrt(m)
        WT = W.T.contiguous()
        P = ctx.randn(m, m, keys=("fast", "Psi", m), dtype=f32) / math.sqrt(m)
        r = max(1, int(math.sqrt(m) / 2))
        A, B = ctx.randn(m, r, keys=("fast", "A", m), dtype=f32), ctx.randn(r, m, keys=("fast", "B", m), dtype=f32)
        z = ctx.randn(m, keys=("fast", "z", m), dtype=f32).clamp_min(0)
        h = ctx.randn(m, keys=("fast", "h", m), dtype=f32)
        D = P @ z > 0
        hg = h * D
        dens.append(float(D.float().mean()))
        layer = gemm.GatedLayer(WT)   # weights checked and the backend chosen once, as for a loaded model
        backend = layer.backend

        def open_rows(D=D, h=h, layer=layer):
            return layer(h, D)

        v = {"dense": lambda: W @ hg, "dense, Wᵀ stored": lambda: hg @ WT, "masked dense": lambda: (W @ h) * D,
             "fast": open_rows, "gate Ψ": lambda: P @ z > 0, "net": lambda: open_rows(P @ z > 0),
             "net, rank-√m/2 gates": lambda: open_rows(A @ (B @ z) > 0)}
        if backend != "torch":
            v["fast, embedding_bag"] = lambda: gemm.gated_gemv(WT, h, D, backend="torch")
        t = timings[m] = bench.compare(v, repeats=cfg.fast_repeats, device=str(dev), cold=True)
        base = min(DENSE, key=lambda k: t[k].median)
        rho = dens[-1]
        meas.append(bench.Measurement(
            f"004 batch-1 gated layer, m = {m}", t, baseline=base, sizes={"m": m}, dtype="float32",
            expected_ratio={"fast": 1 / rho, "fast, embedding_bag": 1 / rho, "net": 1 / (1 + rho),
                            "masked dense": 1.0, "dense": 1.0, "dense, Wᵀ stored": 1.0},
            note=f"Cold cache (each call after a {bench.flush_bytes(dev) >> 20} MiB buffer is rewritten). Fast path: "
                 f"{gemm.BACKEND_NAMES[backend]}; baseline: the faster dense GEMV. Predicted: byte ratios "
                 f"at gate density {rho:.3f}." + ("" if backend == "triton" else " GPU (Triton): not measured here.")))
        for k, tk in t.items():
            s_, (lo, hi) = bench.speedup(t, base, k)
            rows.append(dict(m=m, variant=k, ms=1e3 * tk.median, iqr_ms=1e3 * tk.iqr, speedup=s_, lo=lo, hi=hi,
                             baseline=base, threads=tk.threads))
    import pandas as pd

    table = pd.DataFrame(rows)
    rho = float(np.mean(dens))
    big = table[table.m >= FAST_M_MIN] if (table.m >= FAST_M_MIN).any() else table[table.m == table.m.max()]
    f, n = big[big.variant == "fast"], big[big.variant == "net"]
    metrics = dict(layer_speed=float(f.speedup.min()), layer_speed_ci=(float(f.lo.min()), float(f.hi.min())),
                   net_speed=float(n.speedup.min()), net_speed_ci=(float(n.lo.min()), float(n.hi.min())),
                   density=rho, bytes_ratio=1 / rho, net_bytes_ratio=1 / (1 + rho), m_min=float(big.m.min()))
    return FastPathResult(table, rho, name, backend, timings, meas, metrics)


@dataclass
class LowRankResult:
    """Gate agreement of rank-r Ψ per width (Gaussian Ψ), the trained-net study (Remark 4), timings, metrics."""

    gaussian: dict
    trained: dict
    timing: dict
    base: dict
    metrics: dict = field(default_factory=dict)


def _truncate(svd, r: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Return thin factors ``(A, B)`` with ``A @ B`` the best rank-``r`` approximation of ``P`` (``A: (m, r)``),
    from ``svd = torch.linalg.svd(P, full_matrices=False)`` (one SVD serves every rank)."""
    U, s, Vh = svd
    return U[:, :r] * s[:r], Vh[:r]


def lowrank(cfg: FlopsConfig, ctx) -> LowRankResult:
    """The low-rank gate approximation of §4.4: gate agreement on Gaussian Ψ, accuracy of a trained net whose gates
    are Ψ' ← W of a trained ReLU net (Remark 4) under rank-r truncation, and the gate cost timed (two thin GEMMs
    against one dense)."""
    from .. import bench
    from .model import ReLUNet, mse
    from .stats import gate_agreement_lowrank

    fracs = (None, 1 / 16, 1 / 8, 1 / 4, 1 / 2)
    gauss = {}
    for m in cfg.lr_ms:
        P = ctx.randn(m, m, keys=("psi", m)) * math.sqrt(2 / m)
        Z = ctx.randn(256, m, keys=("z", m)).clamp_min(0)
        rs = [max(1, int(math.sqrt(m) / 2)) if f is None else int(f * m) for f in fracs]
        gauss[m] = list(zip(rs, gate_agreement_lowrank(P, Z, rs)))
    # Remark 4: a trained ReLU net (centred, digits), frozen as GReLU with Ψ' ← W, then Ψ' truncated
    X, Y, Xt, Yt, _, _, source = _images(cfg.lr_n, 1797 - cfg.lr_n, "lr", ctx, dtype=ctx.dtype)
    m = min(cfg.lr_ms)
    r = ReLUNet(GatedConfig(d_x=X.shape[1], d_y=10, m=m, L=cfg.L, seeds=_seed_list(ctx, 1, "lr-net"),
                            device=ctx.device)).centered()
    train(r, X, Y, eta=eta_ntk(r, X), steps=cfg.lr_steps, tol_rel=None)
    g = GReLUNet.from_relu(r)
    g.center = r.center
    exact = float(mse(g, Xt, Yt)[0])
    masks_full = g.gate_masks(Xt)
    trained = {"exact": exact, "relu": float(mse(r, Xt, Yt)[0]), "ranks": [], "mse": [], "agreement": []}
    svds = [torch.linalg.svd(P, full_matrices=False) for P in g.Psi[0]]    # once per layer, truncated per rank
    for f in fracs:
        rk = max(1, int(math.sqrt(m) / 2)) if f is None else int(f * m)
        ga = g.clone()
        ga.Psi = torch.stack([torch.stack([a @ b for a, b in (_truncate(svd, rk) for svd in svds)])])
        ma = ga.gate_masks(Xt)
        trained["ranks"].append(rk)
        trained["mse"].append(float(mse(ga, Xt, Yt, ma)[0]))
        trained["agreement"].append(float(np.mean([float((a == b).double().mean()) for a, b in zip(ma[1:], masks_full[1:])])))
    mt = max(cfg.lr_ms)
    rt = max(1, int(math.sqrt(mt) / 2))
    P = ctx.randn(mt, mt, keys=("psi-t", mt), dtype=torch.float32)
    # the time of the thin products depends only on their shapes: Gaussian factors stand in for the truncated
    # SVD of P (an SVD of an mt×mt matrix costs seconds and changes no timing)
    A = ctx.randn(mt, rt, keys=("psi-t", "A", mt), dtype=torch.float32)
    B = ctx.randn(rt, mt, keys=("psi-t", "B", mt), dtype=torch.float32)
    z = ctx.randn(1, mt, keys=("z-t", mt), dtype=torch.float32)
    t = bench.compare({"dense Ψ": lambda: z @ P.T, "rank √m/2": lambda: (z @ B.T) @ A.T}, repeats=cfg.repeats,
                      device=str(ctx.device))
    base, sanity = scored(exact, X, Y, Xt, Yt)
    metrics = dict(agreement_min=float(min(gauss[mm][0][1] for mm in cfg.lr_ms)),
                   trained_agreement=trained["agreement"][0], mse_ratio=trained["mse"][0] / exact,
                   gate_speed=t["dense Ψ"].median / t["rank √m/2"].median, **sanity)
    rem4 = dict(trained_agreement=trained["agreement"][0], gauss_agreement=gauss[m][0][1])
    metrics = dict(inference=metrics, rem4=rem4)
    return LowRankResult(gauss, trained, {k: v.median for k, v in t.items()}, base, metrics)
