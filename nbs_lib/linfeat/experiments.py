"""Experiments of chapter 001: one function per figure, table and claim protocol.

Each takes a validated config (sizes from the profile plus the notebook's knobs; see
:mod:`nbs_lib.experiment`) and the run context, runs on ``ctx.device`` in ``ctx.dtype`` with seeds from
``ctx.seeds``, and returns a result object holding the arrays to plot and ``metrics``: for each claim id, the
metrics its registry entry (``claims.yaml``) judges. Nothing here plots or grades.

| function | notebook | what |
|---|---|---|
| :func:`identities`, :func:`assumptions`, :func:`gram_isotropy` | 01 | eqs. (7)–(8), the simulator, closed-form NTKs; Assumption 4.1; Lemma 5.1 |
| :func:`fig1`, :func:`sigma0_reading` | 02 | Fig. 1 and its claims; the variance reading of σ₀ |
| :func:`phase_times`, :func:`end_of_stage1` | 03 | t₁ against m, η, v₀, σ₀; Lemma B.2; Lemma 5.2 (i)–(iii) |
| :func:`step_size` | 04 | the k regime map against eq. (11); the stability bound on anisotropic data |
| :func:`ntk_lazy_rich` | 05 | NTK distance, norm, KTA, eigenvalue structure; the rich-to-lazy path |
| :func:`image_data`, :func:`relu_synthetic` | 06 | Figs. 2–3 on image data (CIFAR-10 or stand-ins); ReLU on synthetic data |
| :func:`benchmark` | 07 | simulator and closed-form NTK against direct GD and autograd |

The building blocks :func:`run`, :func:`synthetic` and :func:`phase_time_run` are batched over seeds
(leading axis B) and keep tensors on the problem's device.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import torch

from .. import bench, optim, validate
from ..context import RunContext
from ..experiment import Config, Resources
from ..ntk import empirical_ntk
from . import data, model, observables as obs, simulator as sim, theory as th

#: upper limits of the size knobs (time on 2 cores / one GPU; memory is checked by ``resources``)
N_MAX, D_MAX, M_MAX, STEPS_MAX, SEEDS_MAX = 20_000, 1_000_000, 65_536, 100_000, 100


def notebook_config(cls, profile: str, sized=(), **knobs):
    """Return ``cls.for_profile(profile, **knobs)``, except that at ``smoke`` and ``paper`` the size knobs named in
    ``sized`` take the profile's values (the notebook's parameters cell holds the ``cpu`` sizes). Every knob is
    validated first (at the ``cpu`` sizes), so a bad value fails at every profile, naming the parameter."""
    cls.for_profile("cpu", **knobs)
    if profile != "cpu":
        knobs = {k: v for k, v in knobs.items() if k not in sized}
    return cls.for_profile(profile, **knobs)


def _sizes(cfg, names=("n", "d", "m")):
    lim = {"n": (2, N_MAX), "d": (2, D_MAX), "m": (1, M_MAX), "steps": (1, STEPS_MAX), "seeds": (1, SEEDS_MAX)}
    for k in names:
        lo, hi = lim[k]
        validate.int_in(k, getattr(cfg, k), lo, hi)


def _scales(cfg, names=("eta", "sigma0", "v0", "sigma_y")):
    for k in names:
        v = getattr(cfg, k)
        if k in ("sigma0", "sigma_y"):
            validate.in_range(k, v, 0.0, 10.0)
        else:
            validate.in_range(k, v, 0.0, 100.0, lo_open=True)


def _gb(*counts) -> float:
    return 8.0 * float(sum(counts))


def _nan_where(x, mask):
    x = np.array(x, dtype=float, copy=True)
    x[np.asarray(mask, bool)] = np.nan
    return x


def _ci(x) -> tuple[float, float]:
    """Return the 95 % Student-t interval of the mean of ``x`` over seeds (NaN propagates).

    With one seed the interval is (−1e300, 1e300): it straddles every threshold, so the registry abstains
    ("too few seeds to decide") instead of grading one draw as if it had no spread."""
    x = np.asarray(x, float).ravel()
    if not np.isfinite(x).all():
        return float("nan"), float("nan")
    if x.size < 2:
        return -1e300, 1e300
    from scipy.stats import t as student_t

    half = float(student_t.ppf(0.975, x.size - 1)) * x.std(ddof=1) / math.sqrt(x.size)
    return float(x.mean() - half), float(x.mean() + half)


def _mean_ci(name: str, x) -> dict:
    """Return ``{name: mean over seeds, name_ci: its 95 % t-interval}`` (see :func:`_ci`)."""
    x = np.asarray(x, float).ravel()
    return {name: float(x.mean()), name + "_ci": _ci(x)}


@dataclass
class Experiment:
    """One batched experiment: the problem, the data constants (numpy, ``(B,)``), the step ``eta`` and rate
    ``k``, the reduced trajectory ``traj``, the closed theory ``theory`` (:func:`theory.two_sequence_theory`)
    and neuron summaries ``stats`` (measured) / ``stats_theory``: ``R``, ``median`` (both ÷√γ), ``rms_rho``,
    ``rms_v``, each ``(T+1, B)``.
    """

    problem: data.Problem
    K: torch.Tensor
    consts: dict
    eta: np.ndarray
    k: np.ndarray
    m: int
    v_init: torch.Tensor
    P0: torch.Tensor
    traj: sim.Trajectory
    theory: dict
    stats: dict
    stats_theory: dict
    W0: torch.Tensor | None = None
    extras: dict = field(default_factory=dict)

    def times(self, fracs=(0.9, 0.5, 0.1)) -> dict:
        """Return ``{p: (measured t_p, predicted t_p)}`` (each ``(B,)``) from the loss."""
        ms = th.phase_times(self.traj.loss, fracs)
        pr = th.phase_times(self.theory["loss"][: self.traj.loss.shape[0]], fracs)
        return {p: (ms[p], pr[p]) for p in fracs}

    def t_align(self, level: float = 0.9) -> np.ndarray:
        """Return the first step with ``R(t) ≥ level·√γ`` (−1 if never), shape ``(B,)``."""
        return optim.first_index(self.stats["R"] >= level)


def neuron_stats(rho: np.ndarray, v: np.ndarray, gamma: np.ndarray) -> dict:
    """Return ``R/√γ`` (``R = Σρv/Σv²``), median(ρ_r/v_r)/√γ, RMS ρ and RMS v over neurons, each ``(T+1, B)``."""
    rho, v = np.asarray(rho, float), np.asarray(v, float)
    sg = np.sqrt(np.asarray(gamma, float))
    with np.errstate(invalid="ignore", divide="ignore"):
        return dict(R=(rho * v).sum(-1) / (v * v).sum(-1) / sg, median=np.median(rho / v, -1) / sg,
                    rms_rho=np.sqrt((rho ** 2).mean(-1)), rms_v=np.sqrt((v ** 2).mean(-1)))


def theory_kernel_stats(K: torch.Tensor, y: torch.Tensor, P0: torch.Tensor, rho: np.ndarray, v: np.ndarray,
                        times) -> dict:
    """Return the theory's NTK statistics at ``times``: ``ntk_dist`` (to Θ̂) and ``ntk_norm``, each ``(len(times), B)``.

    Under the ansatz ``w_r(t) = w_r(0) + (ρ_r(t)/γ) Xᵀy`` of the two-sequence solution, ``P(t) = P₀ + K y ρ(t)ᵀ/γ``,
    and the NTK is ``(‖v‖²K + PPᵀ)/m²`` (exact formula of the linear net) with the theory's ``ρ, v``.
    """
    Ky = (K @ y.unsqueeze(-1))                                         # (B, n, 1)
    gamma = (y.unsqueeze(-1) * Ky).sum((-1, -2))
    dist, norm = [], []
    for t in times:
        rho_t = torch.as_tensor(rho[t], dtype=K.dtype, device=K.device)
        v_t = torch.as_tensor(v[t], dtype=K.dtype, device=K.device)
        P = P0 + Ky * rho_t.unsqueeze(-2) / gamma[:, None, None]
        Th = obs.ntk_linear(K, P, v_t)
        dist.append(obs.kernel_rel_distance(Th, obs.target_aligned_kernel(K, y, v_t)).cpu().numpy())
        norm.append(obs.spectral_norm(Th).cpu().numpy())
    return dict(ntk_dist=np.stack(dist), ntk_norm=np.stack(norm))


def run(problem: data.Problem, m: int, *, sigma0: float, v0: float, steps: int, eta=None, k=None, seeds=None,
        sigma0_is_variance: bool = False, exact_init: bool = False, ntk_every: int | None = 1,
        cosine: bool = False, on_divergence: str = "record", knobs: str = "eta") -> Experiment:
    """Return the :class:`Experiment` of the linear network on ``problem`` with width ``m``.

    Give either ``eta`` (number or per-seed array) or the rate ``k`` (then ``η = k n m/√γ`` per seed).
    ``exact_init`` draws ``W₀`` in d-space (``P₀ = X W₀``, needed to compare with direct GD); otherwise
    ``P₀ = σ₀ chol(K) Z`` (same law, no d×m matrix). ``seeds`` default to ``range(B)``.
    """
    validate.positive_int("m", m)
    validate.nonnegative_int("steps", steps)
    if (eta is None) == (k is None):
        raise ValueError("give exactly one of eta (step size) or k (rate η√γ/(nm))")
    B, n, d = problem.X.shape
    seeds = list(range(B)) if seeds is None else list(seeds)
    if len(seeds) != B:
        raise ValueError(f"seeds must list one seed per problem in the batch ({B}), got {len(seeds)}")
    K = problem.gram()
    consts_t = obs.data_constants(K, problem.y)
    consts = {key: val.cpu().numpy() for key, val in consts_t.items()}
    if k is not None:
        validate.positive("k", float(np.max(k)))
        eta = th.eta_from_k(k, consts["gamma"], n, m)
    eta = np.broadcast_to(np.asarray(eta, float), (B,)).copy()
    if not (np.isfinite(eta).all() and (eta > 0).all()):
        raise ValueError(f"eta must be finite and > 0, got {eta}")
    std = model.init_std(sigma0, sigma0_is_variance)
    W0 = None
    if exact_init:
        W0, v_init = model.init_params(d, m, sigma0=std, v0=v0, seeds=seeds, dtype=K.dtype, device=K.device)
        P0 = problem.X @ W0
    else:
        _, v_init = model.init_params(1, m, sigma0=0.0, v0=v0, seeds=seeds, dtype=K.dtype, device=K.device)
        P0 = sim.sample_P0(K, m, std, seeds=seeds)
    eta_t = torch.as_tensor(eta, dtype=K.dtype, device=K.device)
    traj = sim.reduced_linear_gd(K, P0, problem.y, v_init, eta=eta_t if B > 1 else float(eta[0]), steps=steps,
                                 ntk_every=ntk_every, cosine=cosine, on_divergence=on_divergence, knobs=knobs)
    if traj.diverged:
        return Experiment(problem, K, consts, eta, th.k_rate(eta, consts["gamma"], n, m), m, v_init, P0, traj, None,
                          None, None, W0)
    thy = th.two_sequence_theory(traj.c, v_init, consts["gamma"], consts["phi"], consts["y_norm2"], eta, n, m, steps)
    if traj.ntk_t.size:
        thy.update(theory_kernel_stats(K, problem.y, P0, thy["rho"], thy["v"], traj.ntk_t))
    stats = neuron_stats(traj.rho, traj.v, consts["gamma"])
    stats_t = neuron_stats(thy["rho"], thy["v"], consts["gamma"])
    return Experiment(problem, K, consts, eta, th.k_rate(eta, consts["gamma"], n, m), m, v_init, P0, traj, thy, stats,
                      stats_t, W0)


def synthetic(n: int, d: int, m: int, *, sigma0: float, v0: float, steps: int, seeds=(0,), eta=None, k=None,
              sigma_y: float = 0.1, spectrum_kind: str = "identity", alpha: float = 1.0,
              sigma0_is_variance: bool = False, exact_init: bool = False, ntk_every: int | None = 1,
              cosine: bool = False, device="cpu", dtype=torch.float64, knobs: str = "eta") -> Experiment:
    """Return :func:`run` on the paper's synthetic problem (one data set and one initialisation per seed)."""
    pb = data.make_gaussian_regression(n, d, sigma_y=sigma_y, spectrum_kind=spectrum_kind, alpha=alpha, seeds=seeds,
                                       device=device, dtype=dtype)
    return run(pb, m, sigma0=sigma0, v0=v0, steps=steps, eta=eta, k=k, seeds=seeds,
               sigma0_is_variance=sigma0_is_variance, exact_init=exact_init, ntk_every=ntk_every, cosine=cosine,
               knobs=knobs)


def phase_time_run(problem: data.Problem, m: int, *, sigma0: float, v0: float, eta=None, k=None,
                   fracs=(0.9, 0.5, 0.1), seeds=None, sigma0_is_variance: bool = False, knobs: str = "eta") -> dict:
    """Return measured and predicted phase times for one setting, running just long enough.

    The horizon is 1.5× the discrete-exponential estimate of ``t_{min(fracs)}`` plus 20 steps. Returns
    ``{"measured": {p: (B,)}, "theory": {p: (B,)}, "k": (B,), "s0": (B,), "eta": (B,), "steps": T,
    "diverged": bool}``; the trajectory is not kept (no neurons, no kernels). Diverged runs (per seed, the
    rule of :mod:`nbs_lib.optim`) have NaN times.
    """
    B, n, _ = problem.X.shape
    K = problem.gram()
    C = {key: val.cpu().numpy() for key, val in obs.data_constants(K, problem.y).items()}
    if (eta is None) == (k is None):
        raise ValueError("give exactly one of eta (step size) or k (rate η√γ/(nm))")
    eta = th.eta_from_k(k, C["gamma"], n, m) if k is not None else np.broadcast_to(np.asarray(eta, float), (B,))
    kk = th.k_rate(eta, C["gamma"], n, m)
    std = model.init_std(sigma0, sigma0_is_variance)
    s0 = th.s0_expected(std, v0, C["kappa"], C["gamma"])
    T = int(np.ceil(1.5 * np.max(th.t_p_discrete_exp(s0, kk, min(fracs))))) + 20
    seeds = list(range(B)) if seeds is None else list(seeds)
    _, v_init = model.init_params(1, m, sigma0=0.0, v0=v0, seeds=seeds, dtype=K.dtype, device=K.device)
    P0 = sim.sample_P0(K, m, std, seeds=seeds)
    eta_arg = torch.as_tensor(np.array(eta, float), dtype=K.dtype, device=K.device)
    tr = sim.reduced_linear_gd(K, P0, problem.y, v_init, eta=eta_arg, steps=T, record_neurons=False, ntk_every=None,
                               on_divergence="mask", knobs=knobs)
    thy = th.two_sequence_theory(tr.c, v_init, C["gamma"], C["phi"], C["y_norm2"], np.asarray(eta), n, m, T, neurons=False)
    thy_s0 = thy["s0"]
    dead = tr.diverged_at >= 0
    meas = {p: _nan_where(v, dead) for p, v in th.phase_times(tr.loss, fracs).items()}
    pred = {p: _nan_where(v, dead) for p, v in th.phase_times(thy["loss"], fracs).items()}
    return dict(measured=meas, theory=pred, k=kk, s0=thy_s0,
                eta=np.asarray(eta, float), steps=T, diverged=tr.diverged, loss=tr.loss, theory_loss=thy["loss"],
                consts=C, theory_s=thy["s"])


# ====================================================================== explorers (all notebooks)
def explorer_run(ctx: RunContext, *, n: int = 10, d: int = 2000, m: int = 256, sigma0: float = 0.01,
                 v0: float = 1e-3, steps: int | None = 120, eta=None, k=None, key: str = "explore",
                 ntk_every: int | None = None):
    """Return ``(Experiment, "")`` for one explorer frame (one seed, no NTK), or ``(None, message)`` when the
    setting is degenerate: a knob out of range, a numerically singular K = XXᵀ (d too close to n), or GD
    diverging. Give ``eta`` or the rate ``k = η√γ/(nm)``; ``steps=None`` (with ``k``) runs 1.5× the discrete
    map's time to t₀.₁, ``(ln(1/v₀) + 3)/ln(1 + k)``, plus 20 steps. Sizes are validated by :class:`Fig1Config`."""
    if steps is None:
        steps = int(math.ceil(1.5 * (math.log(1 / v0) + 3) / math.log1p(k))) + 20 if k and 0 < v0 < 1 else 200
    try:
        Fig1Config(n=n, d=d, m=m, eta=1.0 if eta is None else eta, sigma0=sigma0, v0=v0, steps=steps, seeds=1)
        E = synthetic(n, d, m, sigma0=sigma0, v0=v0, steps=steps, eta=eta, k=k, seeds=ctx.seeds(1, key),
                      ntk_every=ntk_every, device=ctx.device, dtype=ctx.dtype, knobs="η (or k), σ₀ or v₀")
    except torch.linalg.LinAlgError:
        return None, (f"K = XXᵀ is numerically singular at n = {n}, d = {d} (the initialisation needs its "
                      "Cholesky factor): choose d well above n.")
    except ValueError as err:
        return None, f"No run: {err}."
    if E.traj.diverged:
        return None, E.traj.message
    return E, ""


# ====================================================================== 01: identities, Assumption 4.1, Lemma 5.1
@dataclass(frozen=True)
class IdentitiesConfig(Config):
    """Notebook 01: the paper's Fig. 1 setting (n, d, m, η, σ₀, v₀, σ_y), the length of the direct-vs-simulator
    check (``steps``), of the Assumption-4.1 run (``steps_long``) and the target loss level ``eps``."""

    n: int = 10               # samples (integer in [2, 20000])
    d: int = 10_000           # input dimension (integer in [2, 1e6], at least n)
    m: int = 1024             # width (integer in [1, 65536])
    eta: float = 0.1          # step size (number in (0, 100])
    sigma0: float = 0.01      # std of w_r(0) (number in [0, 10])
    v0: float = 1e-3          # |v_r(0)| (number in (0, 100])
    sigma_y: float = 0.1      # label-noise std (number in [0, 10])
    steps: int = 40           # direct-GD steps of the simulator check (integer in [1, 1000])
    steps_long: int = 100     # simulator steps of the Assumption-4.1 run (integer in [1, 100000])
    eps: float = 0.01         # target loss level ε of Assumption 4.1 (number > 0)
    PROFILES = {"smoke": dict(d=2000, m=256, steps=20), "cpu": {}, "paper": dict(steps=60)}

    def validate(self):
        _sizes(self)
        if self.d < self.n:
            raise ValueError(f"d must be at least n = {self.n} (K = XXᵀ invertible), got {self.d}")
        _scales(self)
        validate.int_in("steps", self.steps, 1, 1000)
        validate.int_in("steps_long", self.steps_long, 1, STEPS_MAX)
        validate.positive("eps", self.eps)

    def resources(self):
        return Resources(host_bytes=_gb(3 * self.n * self.d, 4 * self.d * self.m, self.steps_long * self.n))


@dataclass
class IdentitiesResult:
    """Errors of the exact identities and the direct-vs-simulator losses (``loss_direct``, ``loss_sim``)."""

    loss_direct: np.ndarray
    loss_sim: np.ndarray
    source: str
    metrics: dict


def identities(cfg: IdentitiesConfig, ctx: RunContext) -> IdentitiesResult:
    """Return the checks of eqs. (7)–(8) (autograd GD, n=8, d=300, m=32, η=0.5, 30 steps), of the kernel-space
    simulator against direct d-space GD (the config's setting, ``steps`` steps, same W₀) and of the closed-form
    NTKs against ``nbs_lib.ntk.empirical_ntk`` (n=5, d=50, m=16)."""
    dev, dt = ctx.device, ctx.dtype
    s = ctx.seeds(1, "identities")
    pb = data.make_gaussian_regression(8, 300, sigma_y=cfg.sigma_y, seeds=s, device=dev, dtype=dt)
    W0, v0 = model.init_params(300, 32, sigma0=1e-2, v0=1e-2, seeds=s, device=dev, dtype=dt)
    W, v, err78 = W0.clone(), v0.clone(), 0.0
    for _ in range(30):
        rho_pred, v_pred = obs.eq7_8_step(W, v, W0, pb.X, pb.y, 0.5)
        _, W, v = model.autograd_step(pb.X, pb.y, W, v, 0.5)
        rho = obs.feature_alignment(W, W0, pb.X, pb.y)
        err78 = max(err78, float((rho - rho_pred).abs().max() / rho.abs().max()),
                    float((v - v_pred).abs().max() / v.abs().max()))
    s = ctx.seeds(1, "kernel_space")
    pb = data.make_gaussian_regression(cfg.n, cfg.d, sigma_y=cfg.sigma_y, seeds=s, device=dev, dtype=dt)
    W0, vin = model.init_params(cfg.d, cfg.m, sigma0=cfg.sigma0, v0=cfg.v0, seeds=s, device=dev, dtype=dt)
    direct = model.direct_gd(pb.X, pb.y, W0, vin, eta=cfg.eta, steps=cfg.steps, ntk_every=10, knobs="eta")
    red = sim.reduced_linear_gd(pb.gram(), pb.X @ W0, pb.y, vin, eta=cfg.eta, steps=cfg.steps, ntk_every=10,
                                knobs="eta")
    if direct.diverged or red.diverged:
        nan = float("nan")
        errP = errv = nan
    else:
        errP = float((pb.X @ direct.W - red.P).abs().max() / red.P.abs().max())
        errv = float((direct.vfin - red.vfin).abs().max())
    g = ctx.generator("ntk_closed_form")
    Xn = torch.randn(5, 50, generator=g, dtype=dt, device=dev)
    Wn = torch.randn(50, 16, generator=g, dtype=dt, device=dev)
    vn = torch.randn(16, generator=g, dtype=dt, device=dev)
    errs = {}
    for act in ("linear", "relu"):
        ref = empirical_ntk(lambda p, x: model.forward(x, p["W"], p["v"], act), {"W": Wn, "v": vn}, Xn)
        Z, Kn = Xn @ Wn, Xn @ Xn.T
        cf = obs.ntk_linear(Kn, Z, vn) if act == "linear" else obs.ntk_relu(Kn, Z, vn)
        errs[act] = float((cf - ref).norm() / ref.norm())
    metrics = {"001.eq78.identities": dict(max_rel_err=err78),
               "001.sim.kernel_space_exact": dict(errP=errP, errv=errv),
               "001.ntk.closed_forms": dict(err_linear=errs["linear"], err_relu=errs["relu"])}
    return IdentitiesResult(direct.loss[:, 0], red.loss[:, 0], pb.source, metrics)


@dataclass
class AssumptionResult:
    """Assumption 4.1 at the setting (``report``: a DataFrame) and the simulator run there (``loss``, ``theory_loss``)."""

    report: object
    loss: np.ndarray
    theory_loss: np.ndarray
    k: float
    diverged: bool
    message: str
    source: str
    metrics: dict


def assumptions(cfg: IdentitiesConfig, ctx: RunContext) -> AssumptionResult:
    """Return Assumption 4.1 evaluated at the config's setting (all absolute constants 1) and whether the
    two-stage phenomenon is there anyway (exact simulator, ``steps_long`` steps)."""
    s = ctx.seeds(1, "assumptions")
    pb = data.make_gaussian_regression(cfg.n, cfg.d, sigma_y=cfg.sigma_y, seeds=s, device=ctx.device, dtype=ctx.dtype)
    rep = th.assumption_report(n=cfg.n, d=cfg.d, m=cfg.m, eta=cfg.eta, sigma0=cfg.sigma0, v0=cfg.v0, lam=pb.lam,
                               beta=pb.beta[0], sigma_y=cfg.sigma_y, eps=cfg.eps)
    E = run(pb, cfg.m, sigma0=cfg.sigma0, v0=cfg.v0, steps=cfg.steps_long, eta=cfg.eta, seeds=s, ntk_every=None,
            knobs="eta")
    L = E.traj.loss[:, 0]
    nan = float("nan")
    if E.traj.diverged:
        drop = final = nan
        thy = np.full_like(L, nan)
    else:
        t05 = float(th.phase_times(E.theory["loss"][:, 0], (0.5,))[0.5])
        drop = float(1 - L[: int(0.7 * t05) + 1].min() / L[0]) if np.isfinite(t05) else nan
        final = float(L[-1] / L[0])
        thy = E.theory["loss"][:, 0]
    metrics = {"001.thm41.assumptions": dict(n_violated=int((~rep.holds).sum()), plateau_drop=drop,
                                             final_rel=final, max_violation=float(rep.violation_factor.max()))}
    return AssumptionResult(rep, L, thy, float(E.k[0]), E.traj.diverged, E.traj.message, pb.source, metrics)


@dataclass(frozen=True)
class GramConfig(Config):
    """Lemma 5.1: ‖XXᵀ − trΣ·I‖₂ against ``n‖Σ‖₂ + √n‖Σ‖_F`` over the dimensions ``ds`` (Σ = I and a power law)."""

    n: int = 10                               # samples (integer in [2, 20000])
    ds: tuple = (1000, 3000, 10_000)          # input dimensions (integers in [2, 1e6], each at least n)
    seeds: int = 20                           # draws per dimension (integer in [1, 100])
    PROFILES = {"smoke": dict(ds=(1000, 3000), seeds=3), "cpu": {}, "paper": dict(ds=(1000, 3000, 10_000, 30_000),
                                                                                  seeds=50)}

    def validate(self):
        _sizes(self, ("n", "seeds"))
        ds = validate.int_list("ds", self.ds, minimum=self.n)
        if max(ds) > D_MAX:
            raise ValueError(f"ds must be integers in [{self.n}, {D_MAX}], got {self.ds!r}")

    def resources(self):
        return Resources(host_bytes=_gb(2 * self.seeds * self.n * max(self.ds)))


@dataclass
class GramResult:
    """Implied constants ``C = ‖XXᵀ − trΣ I‖₂/(n‖Σ‖₂ + √n‖Σ‖_F)``: ``implied[spectrum]: (len(ds), seeds)``."""

    ds: tuple
    implied: dict
    rel_dev: dict
    metrics: dict


def gram_isotropy(cfg: GramConfig, ctx: RunContext) -> GramResult:
    """Return Lemma 5.1's deviation ``‖XXᵀ − trΣ·I‖₂`` in units of its bound ``n‖Σ‖₂ + √n‖Σ‖_F`` (σ_x = 1) for
    Σ = I (the paper's experiments) and a power law ``λ_j ∝ 1/j`` (trΣ = d), ``seeds`` draws per d."""
    implied, rel = {}, {}
    for kind in ("identity", "powerlaw"):
        rows, rrows = [], []
        for d in cfg.ds:
            pb = data.make_gaussian_regression(cfg.n, d, spectrum_kind=kind, seeds=ctx.seeds(cfg.seeds, "lemma51", kind, d),
                                               device=ctx.device, dtype=ctx.dtype)
            lam = pb.lam
            tr = float(lam.sum())
            eye = torch.eye(cfg.n, dtype=ctx.dtype, device=ctx.device)
            dev = obs.spectral_norm(pb.gram() - tr * eye).cpu().numpy()
            bound = cfg.n * float(lam.max()) + math.sqrt(cfg.n) * float(lam.pow(2).sum().sqrt())
            rows.append(dev / bound)
            rrows.append(dev / tr)
        implied[kind], rel[kind] = np.stack(rows), np.stack(rrows)
    ci = implied["identity"]
    metrics = {"001.lemma51.gram_isotropic": dict(
        C_identity_max=float(ci.max()), C_powerlaw_max=float(implied["powerlaw"].max()),
        C_identity_mean=float(ci[-1].mean()), rel_dev_largest_d=float(rel["identity"][-1].mean()),
        n_draws=int(ci.size))}
    return GramResult(tuple(cfg.ds), implied, rel, metrics)


# ====================================================================== 02: Fig. 1
@dataclass(frozen=True)
class Fig1Config(Config):
    """Fig. 1 (§6): the paper's synthetic setting, ``seeds`` independent draws of data and initialisation."""

    n: int = 10               # samples (integer in [2, 20000])
    d: int = 10_000           # input dimension (integer in [2, 1e6], at least n)
    m: int = 1024             # width (integer in [1, 65536])
    eta: float = 0.1          # step size (number in (0, 100])
    sigma0: float = 0.01      # first-layer init scale (number in [0, 10])
    sigma0_is_variance: bool = False   # read sigma0 as a variance (std √σ₀)
    v0: float = 1e-3          # second-layer init scale (number in (0, 100])
    sigma_y: float = 0.1      # label-noise std (number in [0, 10])
    steps: int = 100          # GD steps (integer in [10, 100000])
    seeds: int = 5            # independent draws (integer in [1, 100])
    PROFILES = {"smoke": dict(d=2000, m=256, seeds=2, steps=120), "cpu": {}, "paper": dict(seeds=20)}

    def validate(self):
        _sizes(self, ("n", "d", "m", "seeds"))
        if self.d < self.n:
            raise ValueError(f"d must be at least n = {self.n} (K = XXᵀ invertible), got {self.d}")
        _scales(self)
        validate.int_in("steps", self.steps, 10, STEPS_MAX)
        if not isinstance(self.sigma0_is_variance, bool):
            raise ValueError(f"sigma0_is_variance must be True or False, got {self.sigma0_is_variance!r}")

    def resources(self):
        B, T = self.seeds, self.steps + 1
        return Resources(host_bytes=_gb(2 * B * self.n * self.d, 6 * T * B * self.m, 4 * B * self.n * self.m))


@dataclass
class Fig1Result:
    """The batched run ``E`` (:class:`Experiment`), phase times ``times[p] = (measured, predicted)``,
    ``t_align``, the paper's t₁ (``T1_smp``, ``T1_pop``) and the claims' ``metrics``."""

    E: "Experiment"
    times: dict
    t_align: np.ndarray
    T1_smp: np.ndarray
    T1_pop: np.ndarray
    metrics: dict


def fig1(cfg: Fig1Config, ctx: RunContext) -> Fig1Result:
    """Return Fig. 1: the exact simulator on the paper's synthetic problem with the two-sequence theory, and the
    metrics of the stage, theory, Lemma 5.2/5.3, sign and NTK claims (spec P4–P10, P15, P17, P18)."""
    seeds = ctx.seeds(cfg.seeds, "fig1")
    E = synthetic(cfg.n, cfg.d, cfg.m, sigma0=cfg.sigma0, v0=cfg.v0, steps=cfg.steps, eta=cfg.eta, seeds=seeds,
                  sigma_y=cfg.sigma_y, sigma0_is_variance=cfg.sigma0_is_variance, cosine=True,
                  device=ctx.device, dtype=ctx.dtype, knobs="eta, sigma0 or v0")
    if E.traj.diverged:
        raise optim.DivergenceError(E.traj.message)
    C, tr, B = E.consts, E.traj, cfg.seeds
    times = E.times((0.99, 0.9, 0.5, 0.1))
    t_align = E.t_align()
    T1_smp = th.paper_t1_sample(E.k, cfg.v0)
    beta_bar = np.sqrt((E.problem.beta ** 2 * E.problem.lam).sum(-1).cpu().numpy())
    T1_pop = th.paper_t1_population(cfg.m, cfg.n, cfg.eta, cfg.v0, float(E.problem.lam.sum()), beta_bar)
    L = tr.loss
    t05_th, t09 = times[0.5][1], times[0.9][0]
    plateau = np.array([1 - L[: int(0.7 * t05_th[b]) + 1, b].min() / L[0, b] for b in range(B)])
    final = L[-1] / L[0]
    rms_err = np.maximum(np.abs(E.stats["rms_rho"][1:] / E.stats_theory["rms_rho"][1:] - 1).max(0),
                         np.abs(E.stats["rms_v"] / E.stats_theory["rms_v"] - 1).max(0))        # (B,)
    dt = np.max([np.abs(ms - pr) for ms, pr in times.values()], 0)                         # (B,)
    t99 = int(np.floor(np.nanmin(times[0.99][0])))
    r1, v1 = th.stage1_solution(tr.c, E.v_init, C["gamma"], E.k, t99)
    rms = lambda a: np.sqrt((a ** 2).mean(-1))
    s1_err = np.maximum(np.abs(rms(tr.rho[1:t99 + 1]) / rms(r1[1:]) - 1).max(0),
                        np.abs(rms(tr.v[:t99 + 1]) / rms(v1) - 1).max(0))                  # (B,)
    i09 = np.floor(t09).astype(int)
    cols = np.arange(B)
    after = np.array([tr.ntk_dist[i09[b]:, b].max() for b in cols])
    g09 = tr.ntk_norm[i09, cols] / tr.ntk_norm[0]
    med_rho = np.median(np.abs(tr.rho), -1)                           # (T+1, B)
    i_rho1 = optim.first_index(med_rho >= 1.0)
    g_rho1 = np.where(i_rho1 >= 0, tr.ntk_norm[np.maximum(i_rho1, 0), cols] / tr.ntk_norm[0], np.nan)
    ok2 = np.abs(tr.rho - np.sqrt(C["gamma"])[:, None] * tr.v) <= 0.5 * np.abs(tr.rho)   # Lemma 5.3, bullet 2
    share = np.array([ok2[i09[b]:, b].mean(-1).min() for b in cols])
    share1 = np.array([np.nanmin(tr.cos_share[i09[b]:, b]) for b in cols])
    std0 = model.init_std(cfg.sigma0, cfg.sigma0_is_variance)
    p_flip = th.sign_flip_prediction(std0, cfg.v0)
    flip = (np.sign(tr.v[-1]) != np.sign(tr.v[0])).mean(-1)
    agree = (np.sign(tr.rho[-1]) == np.sign(tr.v[-1])).mean(-1)
    up = tr.c + np.sqrt(C["gamma"])[:, None] * E.v_init.cpu().numpy()
    by_init = (np.sign(tr.v[-1]) == np.sign(up)).mean(-1)
    tol = 4 * math.sqrt(p_flip * (1 - p_flip) / cfg.m) if 0 < p_flip < 1 else 1e-12
    lead = t09 - np.where(t_align < 0, cfg.steps + 1, t_align)       # never aligned: after the run
    with np.errstate(divide="ignore"):
        final_log10 = np.log10(final)
    metrics = {
        "001.fig1.two_stage": dict(**_mean_ci("plateau_drop", plateau), **_mean_ci("align_lead", lead),
                                   **_mean_ci("final_log10", np.maximum(final_log10, -300)), n_seeds=B),
        "001.eq11.closed_theory": dict(**_mean_ci("rms_err", rms_err), **_mean_ci("max_dt", dt), n_seeds=B),
        "001.lemma52.stage1_growth": dict(**_mean_ci("stage1_err", s1_err),
                                          **_mean_ci("R_end_dev", np.abs(E.stats["R"][-1] - 1)), n_seeds=B),
        "001.eq11.fixed_point": dict(**_mean_ci("rho_err", np.abs(E.stats["rms_rho"][-1] / C["rho_star"] - 1)),
                                     **_mean_ci("v_err", np.abs(E.stats["rms_v"][-1] / C["v_star"] - 1)),
                                     n_seeds=B),
        "001.fig1.ntk_target_aligned": dict(**_mean_ci("dist0", tr.ntk_dist[0]), **_mean_ci("dist_after", after),
                                            n_seeds=B),
        "001.intro.ntk_norm_stage1": dict(**_mean_ci("growth_rho1", g_rho1), **_mean_ci("growth_t09", g09),
                                          t_rho1_max=int(i_rho1.max()), n_seeds=B),
        "001.lemma53.bullets": dict(share_b2_min=float(share.min()), share_b1_min=float(share1.min())),
        "001.lemma52.signs": dict(agree_min=float(agree.min()), by_init_min=float(by_init.min())),
        "001.ext.sign_flip_share": dict(flip_dev_max=float(np.abs(flip - p_flip).max()), tolerance=tol,
                                        predicted=p_flip),
    }
    return Fig1Result(E, times, t_align, T1_smp, T1_pop, metrics)


@dataclass
class ReadingResult:
    """The run under the other reading of σ₀ (``E``), its ``t09`` and ``t_align``, and ``metrics``."""

    E: "Experiment"
    t09: np.ndarray
    t_align: np.ndarray
    metrics: dict


def sigma0_reading(cfg: Fig1Config, ctx: RunContext) -> ReadingResult:
    """Return Fig. 1's run with σ₀ read the other way (variance ↔ std), same seeds as :func:`fig1`."""
    seeds = ctx.seeds(cfg.seeds, "fig1")
    E = synthetic(cfg.n, cfg.d, cfg.m, sigma0=cfg.sigma0, v0=cfg.v0, steps=cfg.steps, eta=cfg.eta, seeds=seeds,
                  sigma_y=cfg.sigma_y, sigma0_is_variance=not cfg.sigma0_is_variance, ntk_every=None,
                  device=ctx.device, dtype=ctx.dtype, knobs="eta, sigma0 or v0")
    if E.traj.diverged:
        nan = np.full(cfg.seeds, np.nan)
        return ReadingResult(E, nan, nan, {"001.fig1.sigma0_variance_reading": dict(
            align_lead=float("nan"), n_seeds=cfg.seeds)})
    t09, ta = E.times((0.9,))[0.9][0], E.t_align()
    lead = t09 - np.where(ta < 0, cfg.steps + 1, ta)                  # never aligned: after the run
    return ReadingResult(E, t09, ta, {"001.fig1.sigma0_variance_reading": dict(**_mean_ci("align_lead", lead),
                                                                               n_seeds=cfg.seeds)})


# ====================================================================== 03: phase times, Lemma 5.2
@dataclass(frozen=True)
class PhaseConfig(Config):
    """Notebook 03: sweeps of t₁ over m, η, v₀ (σ₀ = 0, at rates ``k_v0`` and ``k_v0/2``) and σ₀, and the paper-setting
    v₀ shift; ``n, d`` of the sweep preset, the paper setting ``d_paper, m_paper``."""

    n: int = 10                 # samples (integer in [2, 20000])
    d: int = 2000               # input dimension of the sweeps (integer in [2, 1e6], at least n)
    sigma0: float = 1e-3        # first-layer init std in the m and η sweeps (number in [0, 10])
    v0: float = 1e-3            # second-layer init scale in the m, η, σ₀ sweeps (number in (0, 100])
    k_v0: float = 0.283         # rate k of the v₀ sweep (number in (0, 1))
    sigma_y: float = 0.1        # label-noise std (number in [0, 10])
    eta: float = 0.05           # step size of the m sweep (number in (0, 100])
    m_fixed: int = 1024         # width of the η sweep (integer in [1, 65536])
    m_v0: int = 256             # width of the v₀ and σ₀ sweeps (integer in [1, 65536])
    seeds: int = 5              # draws (integer in [1, 100])
    widths: tuple = (256, 512, 1024, 2048)           # widths of the m sweep (integers in [1, 65536])
    etas: tuple = (0.025, 0.05, 0.1, 0.2)            # step sizes of the η sweep (numbers in (0, 100])
    v0s: tuple = (1e-2, 1e-3, 1e-4, 1e-5, 1e-6)      # v₀ values of the v₀ sweep (numbers in (0, 1))
    s0s: tuple = (0.0, 1e-5, 1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2)   # σ₀ values (numbers in [0, 10])
    d_paper: int = 10_000       # d of the paper-setting check (integer in [2, 1e6])
    m_paper: int = 1024         # m of the paper-setting check (integer in [1, 65536])
    PROFILES = {"smoke": dict(seeds=2, widths=(256, 512), etas=(0.05, 0.1), v0s=(1e-2, 1e-4, 1e-6),
                              s0s=(0.0, 1e-4, 1e-3, 1e-2), m_fixed=512, d_paper=2000, m_paper=256),
                "cpu": {},
                "paper": dict(seeds=20, widths=(256, 512, 1024, 2048, 4096), etas=(0.0125, 0.025, 0.05, 0.1, 0.2),
                              v0s=(1e-2, 1e-3, 1e-4, 1e-5, 1e-6, 1e-7))}

    def validate(self):
        _sizes(self, ("n", "d", "seeds"))
        if self.d < self.n:
            raise ValueError(f"d must be at least n = {self.n}, got {self.d}")
        _scales(self, ("sigma0", "v0", "sigma_y", "eta"))
        validate.in_range("k_v0", self.k_v0, 0.0, 1.0, lo_open=True, hi_open=True)
        for k in ("m_fixed", "m_v0", "m_paper"):
            validate.int_in(k, getattr(self, k), 1, M_MAX)
        validate.int_in("d_paper", self.d_paper, self.n, D_MAX)
        ws = validate.int_list("widths", self.widths)
        if len(ws) < 2 or max(ws) > M_MAX:
            raise ValueError(f"widths must list at least two integers in [1, {M_MAX}], got {self.widths!r}")
        for name, vals, lo, hi in (("etas", self.etas, 0, 100), ("v0s", self.v0s, 0, 1), ("s0s", self.s0s, -1e-300, 10)):
            if len(vals) < 2 or not all(isinstance(x, (int, float)) and lo < x <= hi for x in vals):
                raise ValueError(f"{name} must list at least two numbers in ({max(lo, 0)}, {hi}], got {vals!r}")

    def resources(self):
        return Resources(host_bytes=_gb(3 * self.seeds * self.n * max(self.d, self.d_paper),
                                        4 * self.seeds * self.n * max(self.widths)))


@dataclass
class PhaseResult:
    """Sweeps: ``sweeps[name] = dict(x, measured (len(x), B), theory, T1_smp, T1_pop, ...)``; the stage-2 durations
    and the paper-setting shift; ``metrics``."""

    sweeps: dict
    stage2: dict
    shift: dict
    source: str
    metrics: dict


def phase_times(cfg: PhaseConfig, ctx: RunContext) -> PhaseResult:
    """Return the phase-time sweeps of notebook 03 (spec P11–P14) on one batch of ``seeds`` synthetic problems."""
    seeds = ctx.seeds(cfg.seeds, "phase_times")
    pb = data.make_gaussian_regression(cfg.n, cfg.d, sigma_y=cfg.sigma_y, seeds=seeds, device=ctx.device,
                                       dtype=ctx.dtype)
    tr_sigma = float(pb.lam.sum())
    beta_bar = np.sqrt((pb.beta ** 2 * pb.lam).sum(-1).cpu().numpy())
    kn = "eta, sigma0 or v0"
    sw = {}
    R_m = [phase_time_run(pb, m, sigma0=cfg.sigma0, v0=cfg.v0, eta=cfg.eta, seeds=seeds, knobs=kn) for m in cfg.widths]
    R_e = [phase_time_run(pb, cfg.m_fixed, sigma0=cfg.sigma0, v0=cfg.v0, eta=e, seeds=seeds, knobs=kn)
           for e in cfg.etas]
    for name, R, xs, pop in (("m", R_m, cfg.widths, lambda x: (x, cfg.eta)), ("eta", R_e, cfg.etas,
                                                                              lambda x: (cfg.m_fixed, x))):
        sw[name] = dict(x=np.array(xs, float), measured=np.array([r["measured"][0.5] for r in R]),
                        measured09=np.array([r["measured"][0.9] for r in R]),
                        theory=np.array([r["theory"][0.5] for r in R]),
                        T1_smp=np.array([th.paper_t1_sample(r["k"], cfg.v0) for r in R]),
                        T1_pop=np.array([th.paper_t1_population(pop(x)[0], cfg.n, pop(x)[1], cfg.v0, tr_sigma, beta_bar)
                                         for x in xs]),
                        k=np.array([r["k"] for r in R]), s0=np.array([r["s0"] for r in R]))
    for name, k in (("v0", cfg.k_v0), ("v0_half_k", cfg.k_v0 / 2)):
        R = [phase_time_run(pb, cfg.m_v0, sigma0=0.0, v0=v, k=k, seeds=seeds, knobs=kn) for v in cfg.v0s]
        sw[name] = dict(x=np.log(1 / np.array(cfg.v0s)), measured=np.array([r["measured"][0.5] for r in R]),
                        theory=np.array([r["theory"][0.5] for r in R]), k=k, runs=R)
    R = [phase_time_run(pb, cfg.m_v0, sigma0=s, v0=cfg.v0, k=cfg.k_v0, seeds=seeds, knobs=kn) for s in cfg.s0s]
    sw["sigma0"] = dict(x=np.array(cfg.s0s, float), measured=np.array([r["measured"][0.5] for r in R]),
                        theory=np.array([r["theory"][0.5] for r in R]),
                        closed=np.array([np.median(th.t_p_discrete_exp(th.s0_expected(s, cfg.v0, r["consts"]["kappa"],
                                                                                       r["consts"]["gamma"]), r["k"], 0.5))
                                         for s, r in zip(cfg.s0s, R)]),
                        paper=float(np.log(1 / cfg.v0) / cfg.k_v0))
    per_seed = lambda x, Y: np.array([_fit_slope(x, Y[:, b]) for b in range(Y.shape[1])])    # (B, 2)
    fit_m = per_seed(np.log(sw["m"]["x"]), np.log(sw["m"]["measured"]))
    fit_e = per_seed(np.log(sw["eta"]["x"]), np.log(sw["eta"]["measured"]))
    fv = per_seed(sw["v0"]["x"], sw["v0"]["measured"])
    fh = per_seed(sw["v0_half_k"]["x"], sw["v0_half_k"]["measured"])
    c1_a, c1_b = fv[:, 0] * cfg.k_v0, fh[:, 0] * cfg.k_v0 / 2
    ratio_smp = np.concatenate([(sw[s]["measured"] / sw[s]["T1_smp"]).ravel() for s in ("m", "eta")])
    ratio_pop = np.concatenate([(sw[s]["measured"] / sw[s]["T1_pop"]).ravel() for s in ("m", "eta")])
    r = sw["v0"]["runs"][1]
    Lr = r["loss"] / r["loss"][0]
    dt_meas = th.t_cross(Lr, 0.01) - th.t_cross(Lr, 0.81)
    dt_srec = th.t_cross(1 - r["theory_s"], 0.1) - th.t_cross(1 - r["theory_s"], 0.9)
    dt_logi = th.stage2_duration(r["k"], 0.1, 0.9)
    stage2 = dict(measured=dt_meas, srec=dt_srec, logistic=dt_logi, v0=cfg.v0s[1])
    pbp = data.make_gaussian_regression(cfg.n, cfg.d_paper, sigma_y=cfg.sigma_y, seeds=seeds, device=ctx.device,
                                        dtype=ctx.dtype)
    r3 = phase_time_run(pbp, cfg.m_paper, sigma0=0.01, v0=1e-3, eta=0.1, seeds=seeds, knobs=kn)
    r5 = phase_time_run(pbp, cfg.m_paper, sigma0=0.01, v0=1e-5, eta=0.1, seeds=seeds, knobs=kn)
    shift = dict(t09_v3=r3["measured"][0.9], t09_v5=r5["measured"][0.9],
                 measured=r5["measured"][0.9] - r3["measured"][0.9], formula=np.log(100) / r3["k"])
    metrics = {
        "001.thm41.t1_scaling_m_eta": dict(**_mean_ci("slope_m", fit_m[:, 0]), **_mean_ci("slope_eta", fit_e[:, 0]),
                                           n_seeds=cfg.seeds),
        "001.thm41.t1_log_v0": dict(r2=float(min(fv[:, 1].min(), fh[:, 1].min())),
                                    **_mean_ci("c1_spread", c1_a / c1_b - 1), c1=float(np.mean(c1_a)),
                                    n_seeds=cfg.seeds),
        "001.ext.t1_log_v0_map": dict(**_mean_ci("slope_dev", fv[:, 0] * np.log1p(cfg.k_v0) - 1), n_seeds=cfg.seeds),
        "001.thm41.t1_formula_order": dict(ratio_smp_min=float(ratio_smp.min()), ratio_smp_max=float(ratio_smp.max()),
                                           ratio_pop_min=float(ratio_pop.min()), ratio_pop_max=float(ratio_pop.max())),
        "001.ext.sigma0_sets_plateau": dict(**_mean_ci("shift_fraction", shift["measured"] / shift["formula"]),
                                            n_seeds=cfg.seeds),
        "001.lemmaB2.stage2_duration": dict(**_mean_ci("logistic_dev", np.abs(dt_meas / dt_logi - 1)),
                                            srec_dev_max=float(np.max(np.abs(dt_meas - dt_srec))), n_seeds=cfg.seeds),
    }
    return PhaseResult(sw, stage2, shift, pb.source, metrics)


def _fit_slope(x, y) -> tuple[float, float]:
    """Return ``(slope, r²)`` of a least-squares line through ``(x, y)`` (NaN if any y is NaN)."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    if not np.isfinite(y).all():
        return float("nan"), float("nan")
    a, b = np.polyfit(x, y, 1)
    r = np.corrcoef(x, y)[0, 1]
    return float(a), float(r * r)


@dataclass(frozen=True)
class Stage1Config(Config):
    """Lemma 5.2 at the end of stage 1, in the regime of Assumption 4.1 with unit constants: ``v₀``, ``σ₀`` and ``η``
    at the largest values the assumption allows (population ‖β̄‖² = trΣ = d), run to the lemma's t₁ (C₁ = 1)."""

    n: int = 10               # samples (integer in [2, 20000])
    d: int = 10_000           # input dimension (integer in [2, 1e6], at least n)
    m: int = 1024             # width (integer in [1, 65536])
    sigma_y: float = 0.1      # label-noise std (number in [0, 10])
    seeds: int = 5            # draws (integer in [1, 100])
    PROFILES = {"smoke": dict(d=2000, m=256, seeds=2), "cpu": {}, "paper": dict(seeds=20)}

    def validate(self):
        _sizes(self, ("n", "d", "m", "seeds"))
        if self.d < self.n:
            raise ValueError(f"d must be at least n = {self.n}, got {self.d}")
        _scales(self, ("sigma_y",))

    def scales(self) -> dict:
        """Return the assumption's ``v0, sigma0, eta`` (unit constants) and the lemma's ``t1`` with C₁ = 1."""
        n, d, m = self.n, self.d, self.m
        v0 = 1 / math.sqrt(n * d * d)
        sigma0 = 1 / math.sqrt(n * d * d * d)
        eta = math.sqrt(n * m) / d
        t1 = m * math.sqrt(n) * math.log(1 / v0) / (eta * d)
        return dict(v0=v0, sigma0=sigma0, eta=eta, t1=t1)

    def resources(self):
        T = int(self.scales()["t1"]) + 2
        return Resources(host_bytes=_gb(2 * self.seeds * self.n * self.d, 2 * T * self.seeds * self.m))


@dataclass
class Stage1Result:
    """Medians over neurons of |ρ_r(t)| and |v_r(t)|·√(n‖β̄‖²trΣ) per step and seed, the lemma's ``t1``, the NTK
    distance at t₁ and the bound, and ``metrics``."""

    rho_med: np.ndarray
    v_scaled_med: np.ndarray
    scales: dict
    t_rho1: np.ndarray
    ntk_dist: np.ndarray
    ntk_bound: float
    ntk_rel: np.ndarray
    metrics: dict


def end_of_stage1(cfg: Stage1Config, ctx: RunContext) -> Stage1Result:
    """Return Lemma 5.2's quantities measured at its t₁ = C₁ m√n log(1/v₀)/(η√trΣ‖β̄‖) with C₁ = 1:
    (i) ρ_r(t₁), (ii) v_r(t₁)·√(n‖β̄‖²trΣ), (iii) ‖Θ(t₁) − (1/(mγ))X(I + XᵀyyᵀX/γ)Xᵀ‖₂ against
    C₂/(m n³‖β̄‖⁶ trΣ) with C₂ = 1 (population ‖β̄‖² = trΣ = d)."""
    sc = cfg.scales()
    T = int(math.ceil(sc["t1"]))
    seeds = ctx.seeds(cfg.seeds, "lemma52")
    E = synthetic(cfg.n, cfg.d, cfg.m, sigma0=sc["sigma0"], v0=sc["v0"], steps=T, eta=sc["eta"], seeds=seeds,
                  sigma_y=cfg.sigma_y, ntk_every=None, device=ctx.device, dtype=ctx.dtype, knobs="the sizes")
    tr = E.traj
    if tr.diverged:
        raise optim.DivergenceError(tr.message)
    scale_v = math.sqrt(cfg.n) * cfg.d                    # √(n‖β̄‖²trΣ) with ‖β̄‖² = trΣ = d
    rho_med = np.median(np.abs(tr.rho), -1)
    v_med = np.median(np.abs(tr.v), -1) * scale_v
    K, y = E.K, E.problem.y
    Th = obs.ntk_linear(K, tr.P, tr.vfin)                 # at t = T = ⌈t₁⌉
    gamma = torch.as_tensor(E.consts["gamma"], dtype=K.dtype, device=K.device)
    Ky = (K @ y.unsqueeze(-1)).squeeze(-1)
    Th1 = (K + Ky.unsqueeze(-1) * Ky.unsqueeze(-2) / gamma[:, None, None]) / (cfg.m * gamma[:, None, None])
    dist = obs.spectral_norm(Th - Th1).cpu().numpy()
    rel = dist / obs.spectral_norm(Th1).cpu().numpy()
    bound = 1.0 / (cfg.m * cfg.n ** 3 * float(cfg.d) ** 3 * cfg.d)
    t_rho1 = optim.first_index(rho_med >= 1.0)
    geo = lambda name, x: {name: float(10 ** np.mean(np.log10(x))),
                           name + "_ci": tuple(10 ** np.clip(_ci(np.log10(x)), -300, 300))}   # geometric
    metrics = {
        "001.lemma52.end_of_stage1": dict(**geo("rho_t1", rho_med[-1]), **geo("v_t1", v_med[-1]), t1=float(sc["t1"]),
                                          t_rho1_max=int(t_rho1.max()), n_seeds=cfg.seeds),
        "001.lemma52.ntk_at_t1": dict(ratio_to_bound_max=float(dist.max() / bound),
                                      rel_dist_median=float(np.median(rel))),
    }
    return Stage1Result(rho_med, v_med, sc, t_rho1, dist, bound, rel, metrics)


# ====================================================================== 04: step size
@dataclass(frozen=True)
class StepConfig(Config):
    """Notebook 04: the regime map over the rate k (one problem, ``nk`` rates batched) and the anisotropic check."""

    n: int = 10               # samples (integer in [2, 20000])
    d: int = 2000             # input dimension (integer in [2, 1e6], at least n)
    m: int = 256              # width (integer in [1, 65536])
    sigma0: float = 1e-3      # first-layer init std (number in [0, 10])
    v0: float = 1e-3          # second-layer init scale (number in (0, 100])
    k_max: float = 2.6        # largest rate of the map (number in (1, 4])
    nk: int = 90              # rates on the grid (integer in [8, 2000])
    steps: int = 1500         # GD steps per rate (integer in [10, 100000])
    n_aniso: int = 200        # samples of the anisotropic check (integer in [2, 20000])
    d_aniso: int = 3072       # dimension of the anisotropic check (integer in [2, 1e6], above n_aniso)
    T_aniso: int = 1000       # steps of the anisotropic check (integer in [10, 100000])
    PROFILES = {"smoke": dict(nk=24, steps=400, n_aniso=60, d_aniso=1024, T_aniso=600), "cpu": {},
                "paper": dict(nk=300, steps=3000)}

    def validate(self):
        _sizes(self)
        if self.d < self.n:
            raise ValueError(f"d must be at least n = {self.n}, got {self.d}")
        _scales(self, ("sigma0", "v0"))
        validate.in_range("k_max", self.k_max, 1.0, 4.0, lo_open=True)
        validate.int_in("nk", self.nk, 8, 2000)
        validate.int_in("steps", self.steps, 10, STEPS_MAX)
        validate.int_in("n_aniso", self.n_aniso, 2, N_MAX)
        validate.int_in("d_aniso", self.d_aniso, self.n_aniso + 1, D_MAX)
        validate.int_in("T_aniso", self.T_aniso, 10, STEPS_MAX)

    def resources(self):
        return Resources(host_bytes=_gb(2 * self.n * self.d, 3 * self.nk * self.n * self.m, self.steps * self.nk,
                                        3 * self.n_aniso * self.d_aniso))


@dataclass
class StepResult:
    """Regime map (``ks``, ``L``: (T+1, len(ks)) loss ratios, NaN after divergence; ``diverged``), the 1-D map's
    attractor (``k_fine``, ``L_map``), the anisotropic runs (``aniso``: label → (η, loss ratios or None)) and
    ``metrics``."""

    ks: np.ndarray
    L: np.ndarray
    diverged: np.ndarray
    k_fine: np.ndarray
    L_map: np.ndarray
    aniso: dict
    eta_max: float
    sources: tuple
    message: str
    metrics: dict


def step_size(cfg: StepConfig, ctx: RunContext) -> StepResult:
    """Return the step-size regime map (GD vs eq. (11)'s attractor, spec P19) and the stability bound
    η_max = 2n/λ_max(Θ*) on a power-law covariance (spec P21)."""
    ks = np.unique(np.r_[np.linspace(0.05, cfg.k_max, cfg.nk), 0.9, 1.2])
    B = ks.size
    s = ctx.seeds(1, "step_size")
    pb = data.make_gaussian_regression(cfg.n, cfg.d, seeds=s, device=ctx.device, dtype=ctx.dtype)
    K1 = pb.gram()
    C = {key: val.cpu().numpy() for key, val in obs.data_constants(K1, pb.y).items()}
    K, y = K1.expand(B, -1, -1).contiguous(), pb.y.expand(B, -1).contiguous()
    P0 = sim.sample_P0(K1, cfg.m, cfg.sigma0, seeds=s).expand(B, -1, -1).contiguous()
    _, v1 = model.init_params(1, cfg.m, sigma0=0.0, v0=cfg.v0, seeds=s, device=ctx.device, dtype=ctx.dtype)
    eta = torch.as_tensor(th.eta_from_k(ks, C["gamma"], cfg.n, cfg.m), dtype=ctx.dtype, device=ctx.device)
    run_ = sim.reduced_linear_gd(K, P0, y, v1.expand(B, -1).contiguous(), eta=eta, steps=cfg.steps,
                                 record_neurons=False, ntk_every=None, on_divergence="mask", knobs="k_max")
    L = run_.loss / run_.loss[0]
    div = run_.diverged_at >= 0
    conv = ~div & (L[-1] < 1e-10)
    scale = C["S_star"][0] / (2 * cfg.n) / run_.loss[0, 0]
    k_fine = np.linspace(0.02, cfg.k_max, 1200)
    att = th.map_attractor(k_fine, s0=1e-3)
    i09, i12 = int(np.argmin(np.abs(ks - 0.9))), int(np.argmin(np.abs(ks - 1.2)))
    cyc_sim = np.sort(L[-2:, i12])
    cyc_map = np.sort(scale * (1 - th.map_attractor([1.2], s0=1e-3)[-2:, 0]) ** 2)
    dk = float(np.diff(ks).max())
    # anisotropic data: power-law Σ, sign labels
    sa = ctx.seeds(1, "anisotropic")
    pa = data.make_gaussian_regression(cfg.n_aniso, cfg.d_aniso, spectrum_kind="powerlaw", alpha=1.0, label="sign",
                                       seeds=sa, device=ctx.device, dtype=ctx.dtype)
    Ka = pa.gram()
    eta_max = float(th.eta_max_linear(Ka, pa.y, cfg.m, cfg.n_aniso)[0])
    eta_k03 = float(th.eta_from_k(0.3, obs.data_constants(Ka, pa.y)["gamma"].cpu().numpy(), cfg.n_aniso, cfg.m)[0])
    P0a = sim.sample_P0(Ka, cfg.m, cfg.sigma0, seeds=sa)
    _, va = model.init_params(1, cfg.m, sigma0=0.0, v0=cfg.v0, seeds=sa, device=ctx.device, dtype=ctx.dtype)
    aniso = {}
    for lab, e in (("0.8·η_max", 0.8 * eta_max), ("2.4·η_max", 2.4 * eta_max), ("k = 0.3", eta_k03)):
        r = sim.reduced_linear_gd(Ka, P0a, pa.y, va, eta=e, steps=cfg.T_aniso, record_neurons=False, ntk_every=None,
                                  knobs="eta")
        aniso[lab] = (e, None if r.diverged else r.loss[:, 0] / r.loss[0, 0], r.steps)
    lo = aniso["0.8·η_max"][1]
    hi = aniso["2.4·η_max"][1]
    metrics = {
        "001.step.regimes": dict(L_k09=float(L[-1, i09]), cycle_err=float(np.max(np.abs(cyc_sim / cyc_map - 1))),
                                 k_conv=float(ks[conv].max()) if conv.any() else float("nan"), k_conv_low=1 - dk,
                                 k_div=float(ks[div].min()) if div.any() else float("nan")),
        "001.step.anisotropic_eta_max": dict(final_lo=float(lo[-1]) if lo is not None else float("nan"),
                                             hi_failed=bool(hi is None or hi[-1] > 1e-6),
                                             eta_k03_ratio=eta_k03 / eta_max),
    }
    return StepResult(ks, L, div, k_fine, scale * (1 - att) ** 2, aniso, eta_max, (pb.source, pa.source),
                      run_.message, metrics)


# ====================================================================== 05: NTK, lazy vs rich
@dataclass(frozen=True)
class NTKConfig(Config):
    """Notebook 05: the NTK at the paper's setting and a path of (σ₀, v₀) from rich (1e-3, 1e-3) to lazy."""

    n: int = 10                 # samples (integer in [2, 20000])
    d: int = 10_000             # input dimension at the paper's setting (integer in [2, 1e6], at least n)
    m: int = 1024               # width at the paper's setting (integer in [1, 65536])
    eta: float = 0.1            # step size (number in (0, 100])
    sigma0: float = 0.01        # first-layer init std (number in [0, 10])
    v0: float = 1e-3            # second-layer init scale (number in (0, 100])
    lazy_sigma0: float = 0.2    # σ₀ at the lazy end of the path (number in (0, 10])
    lazy_v0: float = 3.0        # v₀ at the lazy end of the path (number in (0, 100])
    seeds: int = 5              # draws (integer in [1, 100])
    steps: int = 100            # steps at the paper's setting (integer in [10, 100000])
    path: int = 9               # points on the path (integer in [2, 100])
    d_path: int = 2000          # d on the path (integer in [2, 1e6])
    m_path: int = 256           # m on the path (integer in [1, 65536])
    T_path: int = 200           # steps on the path (integer in [10, 100000])
    PROFILES = {"smoke": dict(d=1000, m=128, seeds=2, steps=80, path=3, d_path=300, T_path=80), "cpu": {},
                "paper": dict(seeds=20, path=15, T_path=300)}

    def validate(self):
        _sizes(self, ("n", "d", "m", "seeds"))
        if min(self.d, self.d_path) < self.n:
            raise ValueError(f"d and d_path must be at least n = {self.n}, got {self.d}, {self.d_path}")
        _scales(self, ("eta", "sigma0", "v0"))
        validate.in_range("lazy_sigma0", self.lazy_sigma0, 0.0, 10.0, lo_open=True)
        validate.in_range("lazy_v0", self.lazy_v0, 0.0, 100.0, lo_open=True)
        validate.int_in("steps", self.steps, 10, STEPS_MAX)
        validate.int_in("path", self.path, 2, 100)
        validate.int_in("d_path", self.d_path, 2, D_MAX)
        validate.int_in("m_path", self.m_path, 1, M_MAX)
        validate.int_in("T_path", self.T_path, 10, STEPS_MAX)

    def resources(self):
        B = self.seeds
        return Resources(host_bytes=_gb(2 * B * self.n * self.d, 4 * (self.steps + 1) * B * self.m,
                                        4 * (self.T_path + 1) * B * self.m_path))


def rich_lazy_point(a, lazy_sigma0: float, lazy_v0: float):
    """Return ``(σ₀, v₀) = (10⁻³, 10⁻³)^{1−a} (lazy_sigma0, lazy_v0)^a``: the path from rich (a = 0) to lazy (a = 1)."""
    a = np.asarray(a, float)
    return 1e-3 ** (1 - a) * lazy_sigma0 ** a, 1e-3 ** (1 - a) * lazy_v0 ** a


@dataclass
class NTKResult:
    """The paper-setting run ``E`` with eigenvalue ratios, and the path (``v_path``, ``change``, ``growth``,
    ``R_T``, ``L1``, ``LT``: (path, B)); ``metrics``."""

    E: "Experiment"
    top2: np.ndarray
    top2_hat: np.ndarray
    top2_0: np.ndarray
    t09: np.ndarray
    v_path: np.ndarray
    s_path: np.ndarray
    change: np.ndarray
    growth: np.ndarray
    R_T: np.ndarray
    L1: np.ndarray
    LT: np.ndarray
    metrics: dict


def ntk_lazy_rich(cfg: NTKConfig, ctx: RunContext) -> NTKResult:
    """Return the NTK statistics at the paper's setting (distance to Θ̂, norm growth, KTA, top-2 eigenvalue ratio
    against Θ̂'s) and along the rich-to-lazy path (spec P15, P16)."""
    seeds = ctx.seeds(cfg.seeds, "ntk")
    E = synthetic(cfg.n, cfg.d, cfg.m, sigma0=cfg.sigma0, v0=cfg.v0, steps=cfg.steps, eta=cfg.eta, seeds=seeds,
                  device=ctx.device, dtype=ctx.dtype, knobs="eta, sigma0 or v0")
    if E.traj.diverged:
        raise optim.DivergenceError(E.traj.message)
    tr = E.traj
    top = lambda A: (lambda ev: (ev[:, -1] / ev[:, -2]).cpu().numpy())(torch.linalg.eigvalsh(A))
    top2 = top(obs.ntk_linear(E.K, tr.P, tr.vfin))
    top2_hat = top(obs.target_aligned_kernel(E.K, E.problem.y, tr.vfin))
    top2_0 = top(obs.ntk_linear(E.K, E.P0, E.v_init))
    t09 = E.times((0.9,))[0.9][0]
    s_path, v_path = rich_lazy_point(np.linspace(0, 1, cfg.path), cfg.lazy_sigma0, cfg.lazy_v0)
    sp = ctx.seeds(cfg.seeds, "ntk_path")
    cols = {k: [] for k in ("change", "growth", "R", "L1", "LT", "dist")}
    for s_, v_ in zip(s_path, v_path):
        ex = synthetic(cfg.n, cfg.d_path, cfg.m_path, sigma0=float(s_), v0=float(v_), steps=cfg.T_path, eta=cfg.eta,
                       seeds=sp, device=ctx.device, dtype=ctx.dtype, knobs="eta, lazy_sigma0 or lazy_v0")
        bad = np.full(cfg.seeds, np.nan)
        t = ex.traj
        ok = not t.diverged
        cols["change"].append(t.ntk_change[-1] if ok else bad)
        cols["growth"].append(t.ntk_norm[-1] / t.ntk_norm[0] if ok else bad)
        cols["R"].append(ex.stats["R"][-1] if ok else bad)
        cols["L1"].append(t.loss[1] / t.loss[0] if ok else bad)
        cols["LT"].append(t.loss[-1] / t.loss[0] if ok else bad)
        cols["dist"].append(t.ntk_dist[-1] if ok else bad)
    c = {k: np.stack(v) for k, v in cols.items()}
    metrics = {
        "001.intro.rich_not_lazy": dict(**_mean_ci("growth_rich", c["growth"][0]), **_mean_ci("dist_rich", c["dist"][0]),
                                        **_mean_ci("change_lazy", c["change"][-1]), **_mean_ci("L1_lazy", c["L1"][-1]),
                                        **_mean_ci("R_lazy", c["R"][-1]), n_seeds=cfg.seeds),
        "001.lemma53.kernel_structure": dict(**_mean_ci("kta_rise", tr.kta[-1] - tr.kta[0]),
                                             **_mean_ci("top2_dev", np.abs(top2 / top2_hat - 1)),
                                             top2_median=float(np.median(top2)), n_seeds=cfg.seeds),
    }
    return NTKResult(E, top2, top2_hat, top2_0, t09, v_path, s_path, c["change"], c["growth"], c["R"], c["L1"],
                     c["LT"], metrics)


# ====================================================================== 06: image data (Figs. 2–3), ReLU
DATASETS = ("cifar10", "digits", "patches")


@dataclass(frozen=True)
class ImageConfig(Config):
    """Figs. 2–3 (no hyper-parameters in the paper): sizes per data set, init as Fig. 1, η from the stability bound
    (``k_target``, capped at 0.5·η_max, then halved until GD stays stable), ``steps`` for the linear net (exact
    simulator) and ``steps_relu`` for the ReLU net (direct GD); the claims use the window [t₀.₅, 10 t₀.₅]."""

    n_digits: int = 40        # digits 0/1 images (integer in [4, 63]: below d = 64)
    n_patches: int = 40       # photo patches (integer in [4, 20000], below patch²)
    patch: int = 32           # side of the grey patches, d = patch² (integer in [4, 64])
    n_cifar: int = 1000       # CIFAR-10 airplane/automobile images (integer in [4, 3071])
    m: int = 256              # width (integer in [1, 65536])
    sigma0: float = 0.01      # first-layer init std (number in [0, 10])
    v0: float = 1e-3          # second-layer init scale (number in (0, 100])
    k_target: float = 0.3     # target rate k before the stability cap (number in (0, 1))
    steps: int = 2000         # steps of the linear net (integer in [10, 100000])
    steps_relu: int = 1000    # steps of the ReLU net (integer in [10, 100000])
    ntk_every: int = 5        # steps between NTK evaluations (integer in [1, 1000])
    PROFILES = {"smoke": dict(n_patches=40, patch=8, n_cifar=200, steps=150, steps_relu=80, ntk_every=10),
                "cpu": {},
                "paper": dict(n_digits=60, n_patches=1000, patch=64, n_cifar=2000, m=1024, steps=20_000,
                              steps_relu=20_000, ntk_every=50)}

    def validate(self):
        validate.int_in("n_digits", self.n_digits, 4, 63)
        validate.int_in("patch", self.patch, 4, 64)
        validate.int_in("n_patches", self.n_patches, 4, min(N_MAX, self.patch ** 2 - 1))
        validate.int_in("n_cifar", self.n_cifar, 4, 3071)
        _sizes(self, ("m",))
        _scales(self, ("sigma0", "v0"))
        validate.in_range("k_target", self.k_target, 0.0, 1.0, lo_open=True, hi_open=True)
        validate.int_in("steps", self.steps, 10, STEPS_MAX)
        validate.int_in("steps_relu", self.steps_relu, 10, STEPS_MAX)
        validate.int_in("ntk_every", self.ntk_every, 1, 1000)

    def resources(self):
        n, d = max(self.n_patches, self.n_cifar), max(self.patch ** 2, 3072)
        return Resources(host_bytes=_gb(6 * n * d, 3 * d * self.m, 4 * (self.steps + 1) * self.m,
                                        4 * n * self.m, 2 * n * n))


def available_data(root=None) -> tuple[str, ...]:
    """Return the data sets notebook 06 runs: CIFAR-10 when ``root``/``$NBS_CIFAR10_DIR`` holds it, then both stand-ins."""
    from .. import data as core_data

    return (("cifar10",) if core_data.cifar10_dir(root) is not None else ()) + ("digits", "patches")


def two_stage_metrics(loss: np.ndarray, R: np.ndarray, dist: np.ndarray, dist_t: np.ndarray) -> dict:
    """Return the two-stage criteria of Figs. 2–3 (spec P20 plus a window fixed in advance) for one run:

    ``plateau``: L ≥ 0.95 L₀ up to some ``t_a ≥ 3``; ``drop``: L ≤ 0.1 L₀ by ``4 t_a``; the window
    ``[t₀.₅, 10 t₀.₅]`` (``window_fits``: it ends within the run); ``R_var``: (max − min)/mean |R| over the window;
    ``dist_end``: the NTK distance at the window's end; ``L_end_rel``: loss at the window's end ÷ L₀. A run that never
    halves its loss gets the second half of the run as window, ``t05`` = its length and ``window_fits = False``."""
    L = loss / loss[0]
    t_a = int(np.argmax(L < 0.95)) - 1 if (L < 0.95).any() else len(L) - 1
    drop = bool((L[: 4 * max(t_a, 1) + 1] <= 0.1).any())
    t05 = float(th.t_cross(L, 0.5))
    if not np.isfinite(t05):        # never halved: the window is the second half of the run (window_fits False)
        t05 = float(len(L) - 1)
        a, b, fits = (len(L) - 1) // 2, len(L) - 1, False
    else:
        a, b = int(math.ceil(t05)), int(math.floor(10 * t05))
        fits = b <= len(L) - 1
    b = min(b, len(L) - 1)
    w = R[a:b + 1]
    j = int(np.searchsorted(dist_t, b, side="right")) - 1
    return dict(plateau=t_a >= 3, drop=drop, window_fits=bool(fits),
                R_var=float((w.max() - w.min()) / np.abs(w).mean()), dist_end=float(dist[max(j, 0)]),
                L_end_rel=float(L[b]), t05=t05)


@dataclass
class ImageResult:
    """One data set: the problem, the linear run ``E`` (with the single-direction theory), the ReLU run ``relu``
    (a :class:`nbs_lib.linfeat.model.DirectRun`) with its neuron stats ``relu_stats``, the rank-one theory loss
    ``rank1_loss``, the chosen ``eta`` and its ``tries``, and per-claim ``metrics``."""

    data: str
    problem: "data.Problem"
    E: "Experiment"
    relu: object
    relu_stats: dict
    rank1_loss: np.ndarray
    eta: float
    tries: list
    metrics: dict


def image_data(cfg: ImageConfig, ctx: RunContext, which: str = "digits", root=None) -> ImageResult:
    """Return Figs. 2–3 on one data set ``which`` (``cifar10``, ``digits`` or ``patches``): the linear net (exact
    simulator), the ReLU net (direct GD) from the same W₀, v₀ and η, and the rank-one theory (spec §1.8(i))."""
    validate.one_of("which", which, DATASETS)
    n = {"cifar10": cfg.n_cifar, "digits": cfg.n_digits, "patches": cfg.n_patches}[which]
    s = ctx.seeds(1, "image", which)
    pb = data.image_binary(n, root=root, source=which, patch=cfg.patch, seed=s[0] % 2 ** 32, device=ctx.device,
                           dtype=ctx.dtype)
    if pb.d <= n:
        raise ValueError(f"n must be below the input dimension d = {pb.d} of {pb.source}, got n = {n}")
    K = pb.gram()
    C = {key: val.cpu().numpy() for key, val in obs.data_constants(K, pb.y).items()}
    m = cfg.m
    eta0 = min(float(th.eta_from_k(cfg.k_target, C["gamma"], n, m)[0]), 0.5 * float(th.eta_max_linear(K, pb.y, m, n)[0]))
    W0, v_init = model.init_params(pb.d, m, sigma0=cfg.sigma0, v0=cfg.v0, seeds=s, device=ctx.device, dtype=ctx.dtype)
    eta, tries = sim.stable_eta(K, pb.X @ W0, pb.y, v_init, eta0=eta0, steps=cfg.steps)
    E = run(pb, m, sigma0=cfg.sigma0, v0=cfg.v0, steps=cfg.steps, eta=eta, seeds=s, exact_init=True,
            ntk_every=cfg.ntk_every, knobs="k_target")
    relu = model.direct_gd(pb.X, pb.y, W0, v_init, eta=eta, steps=cfg.steps_relu, act="relu",
                           ntk_every=cfg.ntk_every, knobs="k_target")
    nan = float("nan")
    rel_stats = neuron_stats(relu.rho, relu.v, C["gamma"])
    key = {"cifar10": "cifar10", "digits": "digits", "patches": "patches"}[which]
    metrics = {}
    if E.traj.diverged:
        m2 = dict(plateau=False, drop=False, window_fits=True, R_var=nan, dist_end=nan, L_end_rel=nan, t05=nan)
        rank1 = np.full((cfg.steps + 1, 1), nan)
    else:
        m2 = two_stage_metrics(E.traj.loss[:, 0], E.stats["R"][:, 0], E.traj.ntk_dist[:, 0], E.traj.ntk_t)
        rank1 = th.rank_one_theory(K, pb.y, E.theory["s0"], eta, m, cfg.steps)
    if relu.diverged:
        m3 = dict(plateau=False, drop=False, window_fits=True, R_var=nan, dist_end=nan, L_end_rel=nan, t05=nan)
    else:
        m3 = two_stage_metrics(relu.loss[:, 0], rel_stats["R"][:, 0], relu.ntk_dist[:, 0], relu.ntk_t)
    metrics[f"001.fig2.{key}"] = m2
    metrics[f"001.fig3.{key}"] = m3
    meas = th.phase_times(E.traj.loss, (0.5, 0.1))
    r1 = th.phase_times(rank1, (0.5, 0.1))
    one = th.phase_times(E.theory["loss"], (0.5,)) if E.theory is not None else {0.5: np.array([nan])}
    reached = bool(np.isfinite(meas[0.1][0]))
    ratio = lambda a, b: float(a / b) if reached else 0.0        # 0.0: not measured (``reached`` is False)
    metrics["001.ext.rank_one_anisotropic"] = dict(
        ratio_t05=ratio(r1[0.5][0], meas[0.5][0]), ratio_t01=ratio(r1[0.1][0], meas[0.1][0]),
        single_mode_ratio_t05=ratio(one[0.5][0], meas[0.5][0]), reached=reached)
    return ImageResult(which, pb, E, relu, rel_stats, rank1[:, 0], eta, tries, metrics)


@dataclass(frozen=True)
class ReluConfig(Fig1Config):
    """Fig. 3's claim on the paper's synthetic data: ReLU net, direct GD, ``seeds`` draws; linear run alongside.
    The knobs and their ranges are :class:`Fig1Config`'s; the defaults below differ (a smaller, longer run)."""

    d: int = 2000             # input dimension (integer in [2, 1e6], at least n)
    m: int = 256              # width (integer in [1, 65536])
    sigma0: float = 1e-3      # first-layer init scale (number in [0, 10])
    steps: int = 800          # GD steps (integer in [10, 100000])
    seeds: int = 3            # draws (integer in [1, 100])
    PROFILES = {"smoke": dict(d=200, steps=60, seeds=2), "cpu": {}, "paper": dict(seeds=10)}

    def resources(self):
        B = self.seeds
        return Resources(host_bytes=_gb(2 * B * self.n * self.d, 5 * B * self.d * self.m,
                                        3 * (self.steps + 1) * B * self.m))


@dataclass
class ReluResult:
    """ReLU (``relu``, ``R``) and linear (``linear_loss``) runs on the same draws; ``metrics``."""

    relu: object
    R: np.ndarray
    linear_loss: np.ndarray
    source: str
    per_seed: list
    metrics: dict


def relu_synthetic(cfg: ReluConfig, ctx: RunContext) -> ReluResult:
    """Return the two-layer ReLU net on the paper's synthetic data with the two-stage criteria per seed."""
    s = ctx.seeds(cfg.seeds, "relu_synthetic")
    pb = data.make_gaussian_regression(cfg.n, cfg.d, sigma_y=cfg.sigma_y, seeds=s, device=ctx.device, dtype=ctx.dtype)
    W0, v0 = model.init_params(cfg.d, cfg.m, sigma0=model.init_std(cfg.sigma0, cfg.sigma0_is_variance), v0=cfg.v0,
                               seeds=s, device=ctx.device, dtype=ctx.dtype)
    rs = model.direct_gd(pb.X, pb.y, W0, v0, eta=cfg.eta, steps=cfg.steps, act="relu", ntk_every=25, knobs="eta",
                         on_divergence="mask")
    ls = sim.reduced_linear_gd(pb.gram(), pb.X @ W0, pb.y, v0, eta=cfg.eta, steps=cfg.steps, ntk_every=None,
                               on_divergence="mask", knobs="eta")
    gamma = obs.data_constants(pb.gram(), pb.y)["gamma"].cpu().numpy()
    R = neuron_stats(rs.rho, rs.v, gamma)["R"]
    per = [two_stage_metrics(rs.loss[:, b], R[:, b], rs.ntk_dist[:, b], rs.ntk_t) for b in range(cfg.seeds)]
    t5r, t5l = th.phase_times(rs.loss, (0.5,))[0.5], th.phase_times(ls.loss, (0.5,))[0.5]
    metrics = {"001.fig3.relu_synthetic": dict(
        plateau=all(g["plateau"] for g in per), drop=all(g["drop"] for g in per),
        window_fits=all(g["window_fits"] for g in per), **_mean_ci("R_var", [g["R_var"] for g in per]),
        L_end_rel_max=float(max(g["L_end_rel"] for g in per)), ratio_t05_max=float(np.max(t5r / t5l)),
        R_end_median=float(np.median(R[-1])), n_seeds=cfg.seeds)}
    return ReluResult(rs, R, ls.loss, pb.source, per, metrics)


# ====================================================================== 07: benchmark
@dataclass(frozen=True)
class BenchConfig(Config):
    """Notebook 07: per-step time of the simulator against direct GD (closed form, autograd) over ``ds``, and the
    closed-form NTK against autograd over ``ntk_ds`` (width ``ntk_m``); ``repeats`` timed rounds."""

    n: int = 10                               # samples (integer in [2, 1000])
    m: int = 1024                             # width (integer in [1, 65536])
    ds: tuple = (1000, 3000, 10_000)          # dimensions of the GD timing (integers in [2, 1e6])
    sim_steps: int = 200                      # simulator steps per timing (integer in [1, 10000])
    direct_steps: int = 3                     # direct steps per timing (integer in [1, 1000])
    ntk_ds: tuple = (1000, 3000, 10_000)      # dimensions of the NTK timing (integers in [2, 1e6])
    ntk_m: int = 256                          # width of the NTK timing (integer in [1, 65536])
    repeats: int = 3                          # timed rounds (integer in [1, 100])
    PROFILES = {"smoke": dict(ds=(1000,), sim_steps=20, direct_steps=1, ntk_ds=(300,), ntk_m=64, repeats=1),
                "cpu": {}, "paper": dict(ds=(1000, 3000, 10_000, 30_000, 100_000), sim_steps=500, direct_steps=10,
                                         ntk_ds=(1000, 3000, 10_000, 30_000), ntk_m=1024, repeats=11)}

    def validate(self):
        validate.int_in("n", self.n, 2, 1000)
        _sizes(self, ("m",))
        for name in ("ds", "ntk_ds"):
            vals = validate.int_list(name, getattr(self, name), minimum=self.n)
            if max(vals) > D_MAX:
                raise ValueError(f"{name} must be integers in [{self.n}, {D_MAX}], got {getattr(self, name)!r}")
        validate.int_in("sim_steps", self.sim_steps, 1, 10_000)
        validate.int_in("direct_steps", self.direct_steps, 1, 1000)
        validate.int_in("ntk_m", self.ntk_m, 1, M_MAX)
        validate.int_in("repeats", self.repeats, 1, 100)

    def resources(self):
        d = max(self.ds)
        dn = max(self.ntk_ds)
        return Resources(host_bytes=_gb(6 * d * self.m, 2 * self.n * d, 3 * self.n * dn * self.ntk_m))


@dataclass
class BenchResult:
    """``gd``: rows (device, d, ms per step of simulator / closed-form direct / autograd direct, speed-ups);
    ``ntk``: rows (d, ms autograd / closed form, relative difference); ``metrics``."""

    gd: list
    ntk: list
    metrics: dict
    measurements: list = field(default_factory=list)   # bench.Measurement per size, to publish


def benchmark(cfg: BenchConfig, ctx: RunContext) -> BenchResult:
    """Return per-step timings (``nbs_lib.bench``, medians of interleaved rounds) on ``ctx.device``."""
    dev, dt = ctx.device, ctx.dtype
    rows, meas = [], []
    for d in cfg.ds:
        s = ctx.seeds(1, "bench", d)
        pb = data.make_gaussian_regression(cfg.n, d, seeds=s, device=dev, dtype=dt)
        W0, v0 = model.init_params(d, cfg.m, sigma0=0.01, v0=1e-3, seeds=s, device=dev, dtype=dt)
        X, y = pb.X, pb.y
        K, P0 = X @ X.transpose(-1, -2), X @ W0
        st = {"W": W0.clone(), "v": v0.clone(), "Wa": W0.clone(), "va": v0.clone()}

        def closed():
            for _ in range(cfg.direct_steps):
                model.linear_step_(X, y, st["W"], st["v"], 0.1)

        def auto():
            for _ in range(cfg.direct_steps):
                _, st["Wa"], st["va"] = model.autograd_step(X, y, st["Wa"], st["va"], 0.1)

        t = bench.compare({
            "simulator": lambda: sim.reduced_linear_gd(K, P0, y, v0, eta=0.1, steps=cfg.sim_steps,
                                                       record_neurons=False, ntk_every=None),
            "closed": closed, "autograd": auto}, repeats=cfg.repeats, device=dev)
        ts = t["simulator"].median / (cfg.sim_steps + 1)
        tc, ta = t["closed"].median / cfg.direct_steps, t["autograd"].median / cfg.direct_steps
        per_step = {"direct GD, autograd": bench.per_unit(t["autograd"], cfg.direct_steps),
                    "direct GD, closed-form gradient": bench.per_unit(t["closed"], cfg.direct_steps),
                    "kernel-space simulator": bench.per_unit(t["simulator"], cfg.sim_steps + 1)}
        meas.append(bench.Measurement(f"one GD step, d = {d}, n = {cfg.n}, m = {cfg.m}", per_step,
                                      baseline="direct GD, autograd", sizes={"d": d, "n": cfg.n, "m": cfg.m},
                                      dtype=str(dt).replace("torch.", ""), note="seconds per step"))
        rows.append(dict(device=str(dev), d=d, sim_ms=1e3 * ts, closed_ms=1e3 * tc, autograd_ms=1e3 * ta,
                         speedup_closed=tc / ts, speedup_autograd=ta / ts))
        del W0, st
    nrows = []
    for d in cfg.ntk_ds:
        g = ctx.generator("bench_ntk", d)
        X = torch.randn(cfg.n, d, generator=g, dtype=dt, device=dev)
        W = torch.randn(d, cfg.ntk_m, generator=g, dtype=dt, device=dev)
        v = torch.randn(cfg.ntk_m, generator=g, dtype=dt, device=dev)
        fn = lambda p, x: model.forward(x, p["W"], p["v"], "linear")
        ref = empirical_ntk(fn, {"W": W, "v": v}, X)
        K_, P_ = X @ X.T, X @ W
        err = float((obs.ntk_linear(K_, P_, v) - ref).norm() / ref.norm())
        t = bench.compare({"autograd": lambda: empirical_ntk(fn, {"W": W, "v": v}, X),
                           "closed": lambda: obs.ntk_linear(K_, P_, v)}, repeats=cfg.repeats, device=dev)
        meas.append(bench.Measurement(f"empirical NTK, d = {d}, n = {cfg.n}, m = {cfg.ntk_m}", t,
                                      baseline="autograd", sizes={"d": d, "n": cfg.n, "m": cfg.ntk_m},
                                      dtype=str(dt).replace("torch.", "")))
        nrows.append(dict(d=d, m=cfg.ntk_m, autograd_ms=1e3 * t["autograd"].median, closed_ms=1e3 * t["closed"].median,
                          speedup=t["autograd"].median / t["closed"].median, rel_err=err,
                          held_autograd_mb=8 * cfg.n * (d * cfg.ntk_m + cfg.ntk_m) / 1e6,
                          held_closed_mb=8 * (cfg.n * cfg.ntk_m + cfg.n ** 2) / 1e6))
    ref_d = 10_000 if 10_000 in cfg.ds else max(cfg.ds)
    r = next(x for x in rows if x["d"] == ref_d)
    metrics = {"001.bench.simulator_speedup": dict(speedup_min=min(r["speedup_closed"], r["speedup_autograd"]),
                                                   d=ref_d),
               "001.bench.ntk_closed_form": dict(max_rel_err=max(x["rel_err"] for x in nrows),
                                                 speedup_min=min(x["speedup"] for x in nrows))}
    return BenchResult(rows, nrows, metrics, meas)
