"""Paper 000: the experiments, one function per figure, table or claim protocol (nothing is plotted).

Each takes a validated config (``XConfig.for_profile(profile, **knobs)``: the profile's sizes plus the
notebook's knobs; every error names the parameter and its range) and the run context, and returns a result
dataclass of arrays plus the metrics its registered claims need (``claims.yaml``).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import torch

from .. import optim, validate
from ..context import RunContext
from ..experiment import Config, Resources
from ..fit import fit_linear_rate
from .dynamics import step_params, train, linear_model
from .kernels import ck_kernel, gbar, kbar, ntk_hidden, restricted_ntk
from .model import Net, draw_problem, init_sketch, init_unbalanced, lowrank_responses, pad_neurons, response_stats, sphere, vec
from .theory import iters_pred, rho_gd, rho_nag, t_nag_norms, theorem_theta

#: the divergence message of the chapter's notebooks names the knobs they expose
KNOBS = "c1 or c2"
_F64 = 8


def mean_ci(x) -> tuple[float, tuple[float, float]]:
    """Return the mean of ``x`` and its 95 % t-interval (mean ± t·sd/√n); a single value gives (−1e300, 1e300)."""
    from scipy import stats

    x = np.asarray(x, dtype=float)
    m = float(x.mean())
    if x.size < 2 or not np.isfinite(x).all():
        return m, ((-1e300, 1e300) if np.isfinite(x).all() else (float("nan"), float("nan")))
    h = float(stats.t.ppf(0.975, x.size - 1) * x.std(ddof=1) / math.sqrt(x.size))
    return m, (m - h, m + h)


def _check_scale(name, v):
    return validate.in_range(name, v, 1e-4, 1e4)


def _check_net(cfg, max_nn: int = 4000):
    """Validate the shared fields d, n, N, m, c1, c2 of a config (ranges in the field comments)."""
    validate.int_in("d", cfg.d, 2, 1000)
    validate.int_in("n", cfg.n, 1, 200)
    validate.int_in("N", cfg.N, 2, 1000)
    validate.int_in("m", cfg.m, 1, 100000)
    _check_scale("c1", cfg.c1)
    _check_scale("c2", cfg.c2)
    if cfg.N * cfg.n > max_nn:
        raise ValueError(f"N·n must be at most {max_nn} (dense Nn × Nn kernels), got N·n = {cfg.N * cfg.n}")


# ------------------------------------------------------------------------------------------------ Fig. 1
@dataclass(frozen=True)
class Fig1Config(Config):
    """Fig. 1 (GD vs NAG at width 2m, init (4)), with Lemma 3.8, the envelopes, Lemmas 3.9–3.10."""

    d: int = 20                # input dimension (integer in [2, 1000])
    n: int = 10                # outputs (integer in [1, 200])
    N: int = 100               # samples (integer in [2, 1000])
    m: int = 1000              # half width (integer in [1, 100000])
    c1: float = 10.0           # output-layer scale (number in [1e-4, 1e4])
    c2: float = 0.1            # hidden-layer scale (number in [1e-4, 1e4])
    trials: int = 5            # independent draws of data and init (integer in [1, 64])
    T: int = 300               # iterations (integer in [10, 20000])
    PROFILES = {"smoke": dict(d=10, n=5, N=40, m=200, T=400, trials=2), "cpu": dict(),
                "paper": dict(T=400)}

    def validate(self):
        _check_net(self)
        validate.int_in("trials", self.trials, 1, 64)
        validate.int_in("T", self.T, 10, 20000)

    def resources(self):
        D = self.N * self.n
        host = self.trials * (4 * D * D + 12 * 2 * self.m * (self.N + self.d + self.n)) * _F64
        return Resources(host_bytes=host, flops=self.trials * self.T * 8 * self.m * self.N * (2 * self.d + 3 * self.n))


@dataclass
class Fig1Result:
    """Fig. 1 and the Lemma 3.8–3.10 diagnostics; arrays over trials (B) and steps (T+1)."""

    cfg: Fig1Config
    gd: np.ndarray                 # (T+1, B) GD losses
    nag: np.ndarray                # (T+1, B) NAG losses
    kappa: np.ndarray              # κ(K0) per trial
    kappa_bar: np.ndarray          # κ(K̄) per trial
    lam_G: np.ndarray              # λ_max(G0) per trial
    L: np.ndarray
    it_gd: np.ndarray              # iterations to relative loss 1e-6 (−1: never)
    it_nag: np.ndarray
    rates: pd.DataFrame            # per trial: fitted and predicted loss contraction factors
    sr_err: float                  # max |ρ(T_NAG) − (1 − 1/√κ(K0))|
    gd_err: float                  # max |‖T_GD‖ − (1 − 1/κ(K0))|
    op_norm: np.ndarray            # ‖T_NAG‖₂ per trial
    power_norm: float              # max_t ‖T_NAG^t‖₂
    envelope: dict                 # {"gd", "nag"}: max_t (L_t/L_0)/(C1² θ^{2t})
    flips: pd.DataFrame            # Lemma 3.10 per method
    shift: float                   # ‖K0 − K_T‖₂ (NAG, trial 0)
    shift_bound: float             # Lemma 3.9's bound with the measured radii
    diverged: np.ndarray           # (2, B): GD, NAG runs that diverged
    message: str = ""


def fig1(cfg: Fig1Config, ctx: RunContext, *, rel_level: float = 1e-6, window=(1e-9, 1e-3)) -> Fig1Result:
    """Run Fig. 1's protocol: ``trials`` draws of data and init (4), GD and NAG with ``η = 1/λ_max(K0)`` and the
    paper's β, both batched; fit the rates on ``window`` of the relative loss, compare with Lemma 3.8, the
    proofs' envelopes, the flips of Lemma 3.10 and the kernel shift of Lemma 3.9."""
    X, Y, net = draw_problem(cfg.trials, cfg.N, cfg.n, cfg.d, cfg.m, cfg.c1, cfg.c2, gen=ctx.generator("fig1"))
    K0 = ntk_hidden(net.V, net.W, X, mirrored=True)
    G0 = ck_kernel(net.W, X, cfg.n)
    evK, evH = torch.linalg.eigvalsh(K0), torch.linalg.eigvalsh(K0 + G0)
    L, mu = evK[:, -1], evK[:, 0]
    kappa = (L / mu).cpu().numpy()
    eta, beta = step_params(L, mu)
    ek = torch.linalg.eigvalsh(kbar(X))
    runs = {}
    for name, b in (("gd", 0.0), ("nag", beta)):
        runs[name] = train(net, X, Y, eta=eta, beta=b, steps=cfg.T, tol=1e-28 * cfg.N / 2, track=True, knobs=KNOBS)
    rel = {k: r.losses / r.losses[0] for k, r in runs.items()}
    its = {k: optim.first_index(v <= rel_level) for k, v in rel.items()}
    rows = []
    for b in range(cfg.trials):
        eH, e, bb = evH[b].cpu().numpy(), float(eta[b]), float(beta[b])
        row = dict(trial=b, kappa=kappa[b], gd_K=(1 - 1 / kappa[b]) ** 2, gd_H=rho_gd(eH, e) ** 2,
                   nag_K=(1 - 1 / math.sqrt(kappa[b])) ** 2, nag_H=rho_nag(eH, e, bb) ** 2)
        for k in ("gd", "nag"):
            try:
                row[k + "_fit"] = fit_linear_rate(rel[k][:, b], lo=window[0], hi=window[1]).rate
            except ValueError:
                row[k + "_fit"] = float("nan")
        rows.append(row)
    rates = pd.DataFrame(rows)
    for k in ("gd", "nag"):
        rates[k + "_ratio_K"] = np.log(rates[k + "_fit"]) / np.log(rates[k + "_K"])
        rates[k + "_ratio_H"] = np.log(rates[k + "_fit"]) / np.log(rates[k + "_H"])
    tn = [t_nag_norms(evK[b].cpu().numpy(), float(eta[b]), float(beta[b]), powers=12) for b in range(cfg.trials)]
    sr_err = max(abs(t["spectral_radius"] - (1 - 1 / math.sqrt(kappa[b]))) for b, t in enumerate(tn))
    gd_err = max(abs(rho_gd(evK[b].cpu().numpy(), float(eta[b])) - (1 - 1 / kappa[b])) for b in range(cfg.trials))
    envelope = {}
    for k, c1sq in (("gd", 4.0), ("nag", 8.0)):
        t = np.arange(rel[k].shape[0])[:, None]
        th = np.array([theorem_theta(kk, k) for kk in kappa])[None, :]
        r = rel[k] / (c1sq * th ** (2 * t))
        envelope[k] = float(np.max(np.where(rel[k] > 1e-20, r, -np.inf)))
    frows = []
    for k, run in runs.items():
        flips = run.trace.flipped.sum(-2).amax(-1).cpu().numpy()
        bound = (8 * cfg.m * run.trace.R2 / cfg.c2).cpu().numpy()
        relW = ((run.net.W - net.W).flatten(1).norm(dim=1) / net.W.flatten(1).norm(dim=1)).cpu().numpy()
        frows.append(dict(method=k.upper(), max_flips=int(flips.max()), width=2 * cfg.m, bound_min=float(bound.min()),
                          R2=float(run.trace.R2.max()), relW=float(relW.mean())))
    nr = runs["nag"]
    KT = ntk_hidden(nr.net.V[:1], nr.net.W[:1], X[:1])[0]
    shift = float(torch.linalg.matrix_norm(KT - K0[0], 2))
    RV = float(net.V[0].norm(dim=0).max())
    R1, R2 = float(nr.trace.R1[0]), float(nr.trace.R2[0])
    bound39 = 6 * cfg.m * cfg.N * RV ** 2 * R2 / cfg.c2 + 4 * cfg.m * cfg.N * R1 * (2 * RV + R1)
    return Fig1Result(cfg, runs["gd"].losses, runs["nag"].losses, kappa, (ek[:, -1] / ek[:, 0]).cpu().numpy(),
                      torch.linalg.eigvalsh(G0)[:, -1].cpu().numpy(), L.cpu().numpy(), its["gd"], its["nag"], rates,
                      sr_err, gd_err, np.array([t["op_norm"] for t in tn]),
                      float(max(t["power_norms"].max() for t in tn)), envelope, pd.DataFrame(frows), shift, bound39,
                      np.stack([runs["gd"].diverged_runs, runs["nag"].diverged_runs]),
                      " ".join(r.message for r in runs.values() if r.message))


@dataclass(frozen=True)
class LinearisationConfig(Config):
    """Prop. 3.7: the network's residual against the linear system driven by H0 (one trial)."""

    d: int = 20                # input dimension (integer in [2, 1000])
    n: int = 10                # outputs (integer in [1, 200])
    N: int = 100               # samples (integer in [2, 1000])
    m: int = 1000              # half width (integer in [1, 100000])
    c1: float = 10.0           # output-layer scale (number in [1e-4, 1e4])
    c2: float = 0.1            # hidden-layer scale (number in [1e-4, 1e4])
    steps: int = 60            # iterations compared (integer in [1, 2000])
    PROFILES = {"smoke": dict(d=10, n=5, N=40, m=200), "cpu": dict(), "paper": dict()}

    def validate(self):
        _check_net(self)
        validate.int_in("steps", self.steps, 1, 2000)


@dataclass
class LinearisationResult:
    """Residual norms of the network and of the linear system, and their largest gap relative to ‖Y‖_F."""

    t: np.ndarray
    actual: dict                   # {"GD", "NAG"}: ‖r_t‖
    linear: dict                   # ‖r_t^lin‖
    gap: dict                      # ‖r_t − r_t^lin‖
    dev: dict                      # max_t gap / ‖Y‖_F


def linearisation(cfg: LinearisationConfig, ctx: RunContext) -> LinearisationResult:
    """Run GD and NAG on one draw next to Prop. 3.7's recursion ``r_{t+1} = (1+β)(I−ηH0)r_t − β(I−ηH0)r_{t−1}``."""
    X, Y, net = draw_problem(1, cfg.N, cfg.n, cfg.d, cfg.m, cfg.c1, cfg.c2, gen=ctx.generator("prop37"))
    K0 = ntk_hidden(net.V, net.W, X, mirrored=True)
    H0 = (K0 + ck_kernel(net.W, X, cfg.n))[0]
    ev = torch.linalg.eigvalsh(K0[0])
    eta, beta = step_params(ev[-1], ev[0])
    out = LinearisationResult(np.arange(cfg.steps + 1), {}, {}, {}, {})
    for name, b in (("GD", 0.0), ("NAG", float(beta))):
        run = train(net, X[0], Y[0], eta=float(eta), beta=b, steps=cfg.steps, keep_residuals=True, knobs=KNOBS)
        act = torch.stack(run.trace.residuals)[:, 0]
        lin = linear_model(H0, vec(-Y[0]), float(eta), b, cfg.steps)
        if act.shape[0] < lin.shape[0]:  # a diverged run stops early: pad with NaN
            act = torch.cat([act, act.new_full((lin.shape[0] - act.shape[0], act.shape[1]), float("nan"))])
        gap = (act - lin).norm(dim=-1)
        out.actual[name], out.linear[name] = act.norm(dim=-1).cpu().numpy(), lin.norm(dim=-1).cpu().numpy()
        out.gap[name] = gap.cpu().numpy()
        out.dev[name] = float(gap.max() / Y[0].norm()) if bool(torch.isfinite(gap).all()) else float("nan")
    return out


def iters_to(losses: np.ndarray, level: float) -> np.ndarray:
    """Return the first index where each column of ``losses: (T+1, B)`` is ≤ ``level`` (−1 if never)."""
    below = np.asarray(losses) <= level
    first = below.argmax(0)
    return np.where(below.any(0), first, -1)


def fig2_grid(ranks, alphas, *, trials: int, N: int, n: int, d: int, c1: float, c2: float, tol: float,
              max_iter: int, gen: torch.Generator, kind: str = "product", dtype=torch.float64, device=None):
    """Return a DataFrame with one row per (rank r, α, trial) of the Fig. 2 protocol (sketching init, NAG).

    For each r the trials draw inputs and rank-r responses; κ_r = κ(Y) per trial; the half width is
    ``m = max(1, round(α·N·r·κ_r²))``; (L, µ) are the extreme eigenvalues of the restricted ``Nr × Nr`` kernel
    (the nonzero spectrum of K0). Training runs in the compressed coordinates ``(UᵀV, UᵀY)`` (exactly
    equivalent, Lemma 4.5), the trials of one (r, α) batched with zero-neuron padding, until the absolute
    loss is below ``tol``. Columns: r, alpha, trial, m, kappa_r, kappa_bar, L, mu, kappa_K0, iters, pred.
    """
    import pandas as pd

    rows = []
    for r in ranks:
        X = sphere(d, N, gen=gen, batch=(trials,), dtype=dtype, device=device)
        Y = lowrank_responses(n, N, r, gen=gen, batch=(trials,), kind=kind, dtype=dtype, device=device)
        stats = [response_stats(Y[b]) for b in range(trials)]
        U = torch.stack([s["U"] for s in stats])                     # (B, n, r)
        Yc = U.transpose(-1, -2) @ Y                                  # (B, r, N)
        ek = torch.linalg.eigvalsh(torch.stack([kbar(X[b]) for b in range(trials)]))
        for a in alphas:
            ms = [max(1, int(round(a * N * r * s["kappa_r"] ** 2))) for s in stats]
            nets = [init_sketch(Y[b], d, ms[b], c1, c2, gen=gen, dtype=dtype) for b in range(trials)]
            width = 2 * max(ms)
            comp = [pad_neurons(Net(U[b].T @ nt.V, nt.W), width) for b, nt in enumerate(nets)]
            Vc = torch.stack([c.V for c in comp])
            Wc = torch.stack([c.W for c in comp])
            Kr = ntk_hidden(Vc, Wc, X)                                # = restricted kernel (padding exact)
            ev = torch.linalg.eigvalsh(Kr)
            L, mu = ev[:, -1], ev[:, 0]
            eta, beta = step_params(L, mu)
            res = train(Net(Vc, Wc), X, Yc, eta=eta, beta=beta, steps=max_iter, tol=tol)
            hit = res.hit if res.hit is not None else np.full(trials, -1)
            for b in range(trials):
                kap = float(L[b] / mu[b])
                rho = 1 - 1 / math.sqrt(kap)
                rows.append(dict(r=r, alpha=a, trial=b, m=ms[b], kappa_r=stats[b]["kappa_r"],
                                 kappa_bar=float(ek[b, -1] / ek[b, 0]), L=float(L[b]), mu=float(mu[b]), kappa_K0=kap,
                                 iters=int(hit[b]) if hit[b] >= 0 else np.nan,
                                 pred=iters_pred(rho, tol / float(res.losses[0, b])), diverged=res.diverged))
    return pd.DataFrame(rows)


def regime_sweep(N: int, n: int, d: int, m: int, ps, qs, *, T: int, trials: int, gen: torch.Generator,
                 dtype=torch.float64, device=None):
    """Return a DataFrame for the Figs 3–4 protocol: NAG for ``T`` steps at ``c1 = √(pq)``, ``c2 = √(p/q)``.

    ``p = c1c2`` (laziness) and ``q = c1/c2`` (NTK/CK mix). Per trial one draw of data and of ``Φ, Ψ``
    serves every (p, q): ``K0 = c1²K0(1,1)``, ``G0 = c2²G0(1,1)`` (the activation pattern does not depend on
    the scale), ``η = 1/λ_max(H0)``, ``β`` from ``λ_min(H0)``, ``H0 = K0 + G0``; the whole grid trains as one batch.
    Columns: N, p, q, trial, relW, relV, loss_T, kappa_H, kappa_lim (κ(qK̄ + q⁻¹Ḡ), the wide limit),
    loss_lin (the loss after T steps of the linear system of Prop. 3.7 driven by H0), diverged.
    """
    import pandas as pd

    ps, qs = np.asarray(ps, dtype=float), np.asarray(qs, dtype=float)
    P, Q = np.meshgrid(ps, qs, indexing="ij")
    P, Q = P.ravel(), Q.ravel()
    c1 = torch.as_tensor(np.sqrt(P * Q), dtype=dtype)
    c2 = torch.as_tensor(np.sqrt(P / Q), dtype=dtype)
    rows = []
    for b in range(trials):
        X = sphere(d, N, gen=gen, dtype=dtype, device=device)
        Y = sphere(n, N, gen=gen, dtype=dtype, device=device)
        unit = init_unbalanced(n, d, m, 1.0, 1.0, gen=gen, dtype=dtype, device=device)
        K11 = ntk_hidden(unit.V, unit.W, X, mirrored=True)
        G11 = ck_kernel(unit.W, X, n)
        Kb, Gb = kbar(X), gbar(X)
        qt = torch.as_tensor(qs, dtype=dtype, device=K11.device)[:, None, None]
        Hs = qt * K11 + G11 / qt                                      # (len(qs), Nn, Nn)
        ev = torch.linalg.eigvalsh(Hs)
        el = torch.linalg.eigvalsh(qt * Kb + Gb / qt)
        eta_q, beta_q = step_params(ev[:, -1], ev[:, 0])
        r_lin = linear_model(Hs, vec(-Y).expand(len(qs), -1), eta_q, beta_q, T)[-1]
        lam_H = dict(zip(qs, ev[:, -1].tolist()))
        mu_H = dict(zip(qs, ev[:, 0].tolist()))
        klim = dict(zip(qs, (el[:, -1] / el[:, 0]).tolist()))
        loss_lin = dict(zip(qs, (0.5 * r_lin.square().sum(-1)).tolist()))
        V = c1.to(device or "cpu")[:, None, None] * unit.V
        W = c2.to(device or "cpu")[:, None, None] * unit.W
        L = torch.as_tensor([P[i] * lam_H[Q[i]] for i in range(P.size)], dtype=dtype, device=V.device)
        mu = torch.as_tensor([P[i] * mu_H[Q[i]] for i in range(P.size)], dtype=dtype, device=V.device)
        eta, beta = step_params(L, mu)
        res = train(Net(V, W), X, Y, eta=eta, beta=beta, steps=T)
        Vt, Wt = res.net.V, res.net.W
        relW = ((Wt - W).flatten(1).norm(dim=1) / W.flatten(1).norm(dim=1)).cpu().numpy()
        relV = ((Vt - V).flatten(1).norm(dim=1) / V.flatten(1).norm(dim=1)).cpu().numpy()
        for i in range(P.size):
            rows.append(dict(N=N, p=P[i], q=Q[i], trial=b, relW=relW[i], relV=relV[i],
                             loss_T=float(res.losses[-1, i]) if not res.diverged else np.nan,
                             kappa_H=lam_H[Q[i]] / mu_H[Q[i]], kappa_lim=klim[Q[i]], loss_lin=loss_lin[Q[i]],
                             L=float(L[i]), diverged=res.diverged))
    return pd.DataFrame(rows)
