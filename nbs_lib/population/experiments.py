"""Experiments of paper 002: one function per figure or claim protocol, ``f(cfg, ctx) -> Result``.

Each takes a validated, frozen config (sizes from the profile plus the notebook's knobs; see
:mod:`nbs_lib.experiment`) and the run context (device, dtype, seeds), returns a dataclass of arrays and the
metrics its claims need, and plots nothing. Independent random draws come from named streams,
``ctx.generator(<experiment>, <key>)``; every tensor is created on ``ctx.device``.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import torch

from .. import fit, validate
from ..context import RunContext
from ..experiment import Config, Resources
from . import dynamics as dyn
from . import model as mdl
from . import theory as th

#: largest sizes a config accepts (memory and time of one notebook on 2 CPU cores or one GPU)
MAX_D, MAX_T, MAX_SEEDS, MAX_POINTS = 20_000, 200_000, 100_000, 2_000_000


def _floats(name, values, lo, hi, *, lo_open=True, max_len=16):
    vals = tuple(values) if isinstance(values, (list, tuple)) else None
    if not vals or len(vals) > max_len:
        raise ValueError(f"{name} must be a non-empty list of at most {max_len} numbers, got {values!r}")
    return tuple(validate.in_range(name, v, lo, hi, lo_open=lo_open) for v in vals)


def _ci_mean(x) -> tuple[float, tuple[float, float]]:
    """Return the mean of ``x`` and a ±2 standard-error interval."""
    x = np.asarray(x, dtype=float).ravel()
    m = float(x.mean())
    se = float(x.std(ddof=1) / math.sqrt(x.size)) if x.size > 1 else float("inf")
    return m, (m - 2 * se, m + 2 * se)


def _check_runs(tr: dyn.Trajectory, where: str) -> None:
    """Raise with the run's own message when every run diverged (partial divergence stays masked)."""
    if tr.diverged_runs is not None and tr.diverged_runs.all():
        raise FloatingPointError(f"{where}: {tr.message}")


# ============================================================================ notebook 02: three phases
@dataclass(frozen=True)
class PhasesConfig(Config):
    """Fig. 3 and the phase-time sweeps: χ-init population GD with k = 2, a = e₁."""

    d: int = 100                     # input dimension (integer in [2, 20000])
    mu: float = 0.1                  # step size of Fig. 3 and the σ sweep (number in (0, 1.9])
    sigma: float = 1e-4              # init scale of Fig. 3 (number in (0, 0.1])
    T: int = 700                     # GD steps of Fig. 3 and the σ sweep (integer in [50, 200000])
    sigmas: tuple = (1e-2, 1e-3, 1e-4, 1e-6, 1e-8, 1e-10)   # σ values of the sweep (each in (0, 0.1])
    seeds: int = 32                  # independent seeds per σ (integer in [1, 100000])
    mus: tuple = (0.05, 0.1, 0.2)    # step sizes of the μ sweep (each in (0, 1.9])
    scales: tuple = (0.25, 1.0, 4.0)  # ‖a‖ values of the scale-invariance check (each in (0, 100])
    PROFILES = {"smoke": dict(T=400, sigmas=(1e-2, 1e-4), seeds=3, mus=(0.1, 0.2), scales=(1.0, 4.0)),
                "cpu": {}, "paper": dict(seeds=256, mus=(0.025, 0.05, 0.1, 0.2))}

    def validate(self):
        validate.int_in("d", self.d, 2, MAX_D)
        validate.in_range("mu", self.mu, 0.0, 1.9, lo_open=True)
        validate.in_range("sigma", self.sigma, 0.0, 0.1, lo_open=True)
        validate.int_in("T", self.T, 50, MAX_T)
        _floats("sigmas", self.sigmas, 0.0, 0.1)
        validate.int_in("seeds", self.seeds, 1, MAX_SEEDS)
        _floats("mus", self.mus, 0.0, 1.9)
        _floats("scales", self.scales, 0.0, 100.0)

    def resources(self):
        B = len(self.sigmas) * self.seeds
        rec = (self.T + 1) * B * 12 * 8 + (self.T + 1) * (2 + 2 * self.d) * 8 * 2
        return Resources(host_bytes=rec + B * self.d * 8 * 20, flops=60.0 * self.T * B * self.d)


@dataclass
class Fig3Result:
    """One χ-init trajectory: steps ``t``, ``loss``, metrics of :func:`dynamics.metrics_k2`, phase times."""

    t: np.ndarray
    loss: np.ndarray
    metrics: dict
    measured: dict
    predicted: dict


def fig3(cfg: PhasesConfig, ctx: RunContext) -> Fig3Result:
    """Return one population-GD trajectory from the χ-init of Theorem 2 with its measured and predicted phases."""
    A = mdl.planted_target(cfg.d, dtype=ctx.dtype, device=ctx.device)
    V0, W0 = mdl.init_thm2(cfg.d, cfg.sigma, 1, generator=ctx.generator("fig3"), dtype=ctx.dtype, device=ctx.device)
    tr = dyn.run_gd(V0, W0, A, mu=cfg.mu, steps=cfg.T, metrics=dyn.metrics_k2(A[0]), knobs="mu")
    _check_runs(tr, "Fig. 3")
    pt = dyn.phase_times(tr)
    return Fig3Result(tr.t, tr.loss[:, 0], {k: v[:, 0] for k, v in tr.metrics.items()},
                      {k: int(v[0]) for k, v in pt.items()}, th.predicted_phase_times(cfg.mu, cfg.sigma))


def _sweep(cfg: PhasesConfig, ctx: RunContext, sigmas, mu, T, key, scale=1.0):
    """χ-init runs for each σ with independent draws (stream ``key, σ index``), batched: (σ·seeds) runs."""
    A = mdl.planted_target(cfg.d, dtype=ctx.dtype, device=ctx.device) * scale
    Vs, Ws = zip(*[mdl.init_thm2(cfg.d, s, cfg.seeds, generator=ctx.generator(key, j), dtype=ctx.dtype,
                                 device=ctx.device) for j, s in enumerate(sigmas)])
    r = math.sqrt(scale)
    tr = dyn.run_gd(torch.cat(Vs) * r, torch.cat(Ws) * r, A, mu=mu / scale, steps=T, metrics=dyn.metrics_k2(A[0]),
                    knobs="mu")
    _check_runs(tr, key)
    pt = {k: v.reshape(len(sigmas), cfg.seeds) for k, v in dyn.phase_times(tr, a_norm=scale).items()}
    return tr, pt


@dataclass
class PhaseSweepResult:
    """Phase times over σ × seeds and over μ, local-rate fits, and the Lemma 4–5 quantities along the runs."""

    sigmas: np.ndarray
    T1: np.ndarray                   # (n_sigma, seeds)
    T12: np.ndarray
    T1_pred: float
    T12_pred: np.ndarray             # (n_sigma,)
    growth_slope_pred: float
    mus: np.ndarray
    T1_mu: np.ndarray                # median T₁ per μ
    T1_mu_pred: np.ndarray
    t: np.ndarray
    h2: np.ndarray                   # (T+1, n_sigma·seeds)
    slopes_pred: tuple               # (fast, slow)
    fast_fit: np.ndarray
    slow_fit: np.ndarray
    any_fit: np.ndarray
    metrics: dict = field(default_factory=dict)


def _log_rate(y, lo, hi, t=None):
    try:
        return math.log(fit.fit_linear_rate(y, lo=lo, hi=hi, t=t).rate)
    except ValueError:
        return float("nan")


def phase_sweep(cfg: PhasesConfig, ctx: RunContext) -> PhaseSweepResult:
    """Return T₁, T₁₂ over σ × seeds (independent draws per σ) and T₁ over μ, the local rates and Lemma 4–5 maxima.

    Claims: ``fig3.alignment_time`` (slope of T₁ in ln(1/σ) with a ±2 SE interval, pooled median vs the
    prediction, spread of μT₁), ``fig3.growth_time`` (slope and level of T₁₂), ``thm2.local_rate`` (fits on the
    fast window, compact-form L in [1e-12, 1e-4] for σ ≤ 1e-4, and the tail window, ‖h‖² in [1e-28, 1e-18] for
    σ ≥ 1e-2), and the trajectory part of ``lemma45`` (max angle strictly after T₁, range of v).
    """
    sig = np.array(cfg.sigmas, dtype=float)
    tr, pt = _sweep(cfg, ctx, cfg.sigmas, cfg.mu, cfg.T, "sweep")
    T1, T12 = pt["T1"].astype(float), pt["T12"].astype(float)
    pred = th.predicted_phase_times(cfg.mu, 1e-4)
    T12p = np.array([th.predicted_phase_times(cfg.mu, s)["T12"] for s in sig])
    x = np.repeat(np.log(1 / sig), cfg.seeds)
    ok = T1.ravel() >= 0
    if len(set(x[ok])) >= 2:
        cf, cov = np.polyfit(x[ok], T1.ravel()[ok], 1, cov=True) if ok.sum() > 3 else (np.polyfit(x[ok], T1.ravel()[ok], 1), None)
        s1 = float(cf[0])
        se1 = float(math.sqrt(cov[0, 0])) if cov is not None else float("inf")
    else:
        s1, se1 = float("nan"), float("inf")
    g12 = np.polyfit(np.log(1 / sig), np.median(T12, 1), 1)[0] if len(sig) >= 2 else float("nan")
    T1_mu = []
    for i, m in enumerate(cfg.mus):
        T = int(2.5 * th.predicted_phase_times(m, 1e-4)["T1"])
        _, p_ = _sweep(cfg, ctx, [1e-4], m, T, ("mu", i))
        T1_mu.append(float(np.median(p_["T1"])))
    T1_mu, mus = np.array(T1_mu), np.array(cfg.mus, dtype=float)
    T1_mu_pred = np.array([th.predicted_phase_times(m, 1e-4)["T1"] for m in mus])
    fast, slow = th.local_slopes(cfg.mu)
    h2, Ls, S = tr.metrics["h2"], tr.metrics["loss_stable"], cfg.seeds
    fast_fit = np.array([_log_rate(Ls[:, j * S + q], 1e-12, 1e-4) for j, s in enumerate(sig) if s <= 1e-4
                         for q in range(S)])
    slow_fit = np.array([_log_rate(h2[:, j * S + q], 1e-28, 1e-18) for j, s in enumerate(sig) if s >= 1e-2
                         for q in range(S)])
    any_fit = np.array([_log_rate(h2[:, j], 1e-20, 1e-3) for j in range(h2.shape[1])])
    m = tr.metrics
    after = np.arange(m["theta1"].shape[0])[:, None] > pt["T1"].reshape(1, -1)
    ang = np.where(after & (pt["T1"].reshape(1, -1) >= 0), np.maximum(m["theta1"], m["theta2"]), 0.0)
    v_all = np.concatenate([m["v1"], m["v2"]], axis=1)
    rel = lambda xs, p: float(np.max(np.abs(xs / p - 1))) if np.isfinite(xs).any() else -1.0  # -1: window not reached
    fast_fit, slow_fit = fast_fit[np.isfinite(fast_fit)], slow_fit[np.isfinite(slow_fit)]
    fin = any_fit[np.isfinite(any_fit)]
    metrics = dict(
        T1_slope=s1, T1_slope_ci=(s1 - 2 * se1, s1 + 2 * se1),
        T1_rel=float(abs(np.median(T1) / pred["T1"] - 1)),
        muT1_spread=float((mus * T1_mu).max() / (mus * T1_mu).min() - 1),
        growth_slope_rel=float(abs(g12 / pred["growth_slope"] - 1)),
        T12_level_rel=rel(np.median(T12, 1), T12p),
        fast_dev=rel(fast_fit, fast), slow_dev=rel(slow_fit, slow), n_fast=int(fast_fit.size), n_slow=int(slow_fit.size),
        n_outside=int(np.sum((fin < fast * 1.03) | (fin > slow * 0.97))) if fin.size else -1,
        max_angle_after_T1=float(ang.max()), v_max_traj=float(v_all.max()), v_min_traj=float(v_all.min()),
        n_runs=int(T1.size), n_unaligned=int((T1 < 0).sum()))
    return PhaseSweepResult(sig, T1, T12, pred["T1"], T12p, pred["growth_slope"], mus, T1_mu, T1_mu_pred, tr.t, h2,
                            (fast, slow), fast_fit, slow_fit, any_fit, metrics)


@dataclass
class ScaleResult:
    """Phase times (T₁, T₁₂, T_conv) of the same draws under (a, μ, σ) → (s a, μ/s, √s σ), per scale s."""

    scales: tuple
    times: np.ndarray                # (n_scales, 3)
    max_spread: int


def scale_invariance(cfg: PhasesConfig, ctx: RunContext) -> ScaleResult:
    """Return the phase times of one draw rescaled by each ``s`` in ``cfg.scales`` (an implementation check).

    The loss is 2-homogeneous, so GD from ``√s(V₀, W₀)`` on ``s a`` with step ``μ/s`` is the rescaled copy of the
    original run: all phase times must agree (up to round-off deciding a threshold crossing, ±1 step).
    """
    one = cfg.replace(seeds=1)
    times = np.array([[int(v[0, 0]) for v in _sweep(one, ctx, [cfg.sigma], cfg.mu, min(cfg.T, 400), "scale", s)[1]
                       .values()] for s in cfg.scales])
    return ScaleResult(cfg.scales, times, int(np.ptp(times, axis=0).max()))


@dataclass(frozen=True)
class LemmaStepConfig(Config):
    """One-step checks of Lemmas 3–5 at random parameter points that satisfy each lemma's hypotheses."""

    d: int = 20                      # dimension of the random points (integer in [2, 20000])
    n_points: int = 20_000           # random points per step size (integer in [100, 2000000])
    mus: tuple = (0.05, 0.1, 0.25, 0.5)          # step sizes within the lemmas' μ ≤ c₀ = 1/2 (each in (0, 0.5])
    mus_large: tuple = (0.75, 1.0, 1.5)          # step sizes beyond it (each in (0, 1.9])
    PROFILES = {"smoke": dict(n_points=2000, mus=(0.1, 0.5), mus_large=(1.5,)), "cpu": {},
                "paper": dict(n_points=200_000)}

    def validate(self):
        validate.int_in("d", self.d, 2, MAX_D)
        validate.int_in("n_points", self.n_points, 100, MAX_POINTS)
        _floats("mus", self.mus, 0.0, 0.5)
        _floats("mus_large", self.mus_large, 0.0, 1.9)

    def resources(self):
        return Resources(host_bytes=self.n_points * (2 * self.d + 8) * 8 * 12)


@dataclass
class LemmaStepResult:
    """Lemma 3 ratio at random points; Lemmas 4–5 worst next-step angle and outer weights per μ."""

    lemma3_ratio: np.ndarray         # |Δb_i| / (μ²(v_i² + ‖w_i‖²)‖h‖²) at random points with v > 0
    mus: np.ndarray
    max_angle: np.ndarray            # max next-step θ₁, θ₂ per μ (hypothesis: θ_i ≤ π/20)
    v_max: np.ndarray                # max next-step v_i per μ (hypothesis: v_i ≤ 2)
    v_min_over_beta: np.ndarray      # min next-step v_i / β per μ (hypothesis: v_i > β = 1/4)
    metrics: dict


def _lemma45_points(n, d, ctx, key, beta=0.25):
    """Return points with a = e₁ satisfying Lemmas 4–5's hypotheses (‖a‖ = 1, population: ΔG = 0)."""
    g = ctx.generator("lemma45", key)
    u = lambda *s: torch.rand(*s, generator=g, dtype=ctx.dtype, device=ctx.device)
    v = beta + (2 - beta) * u(n, 2) ** 0.5                              # (β, 2], weighted towards 2
    b = (u(n, 2) - 0.5) * 0.5                                           # |b_i| ≤ γ = 1/4
    nrm = torch.sqrt(torch.clamp(v ** 2 + b, min=1e-6))
    th_ = (math.pi / 20) * u(n, 2) ** 0.25                              # θ_i ≤ c₄, weighted towards c₄
    perp = torch.randn(n, 2, d, generator=g, dtype=ctx.dtype, device=ctx.device)
    perp[..., 0] = 0
    perp = perp / perp.norm(dim=-1, keepdim=True)
    e1 = torch.zeros(d, dtype=ctx.dtype, device=ctx.device)
    e1[0] = 1
    sgn = torch.tensor([1.0, -1.0], dtype=ctx.dtype, device=ctx.device)[:, None]
    W = nrm[..., None] * (torch.cos(th_)[..., None] * sgn * e1 + torch.sin(th_)[..., None] * perp)
    V = torch.stack([v[:, 0], -v[:, 1]], dim=-1).unsqueeze(-1)
    return V, W, e1


def lemma_steps(cfg: LemmaStepConfig, ctx: RunContext) -> LemmaStepResult:
    """Return Lemma 3's ratio at random points (v > 0) and Lemmas 4–5's next-step quantities per μ.

    Lemma 3 is checked through the exact one-step drift ``Δb_i = μ²(‖∇_{w_i}L‖² − (∇_{v_i}L)²)`` (identity (13)),
    so the ratio does not depend on μ. Lemmas 4–5 are one-step invariance statements: from any point with
    ``0 < β < v_i ≤ 2``, ``θ_i ≤ π/20``, ``|b_i| ≤ 1/4`` (and ΔG = 0 in the population), one GD step with
    ``μ ≤ c₀ ≤ 1/2`` keeps ``θ_i ≤ π/20`` and ``β < v_i ≤ 2`` (β = 1/4 here, the lemma's largest).
    """
    V, W, a = th.random_k2_points(cfg.d, cfg.n_points, generator=ctx.generator("lemma3"), dtype=ctx.dtype)
    _, gV, gW = mdl.batched_pop_loss_grad_rows(V, W, a)
    h1, h2 = mdl.errors_k2(V, W, a)
    hh = (h1 ** 2).sum(-1) + (h2 ** 2).sum(-1)
    drift = ((gW ** 2).sum(-1) - (gV ** 2).sum(-1)).abs()                 # /μ²
    ratio = (drift / (((V ** 2).sum(-1) + (W ** 2).sum(-1)) * hh[:, None])).cpu().numpy().ravel()
    mus = np.array(tuple(cfg.mus) + tuple(cfg.mus_large), dtype=float)
    Vp, Wp, e1 = _lemma45_points(cfg.n_points, cfg.d, ctx, "points")
    _, gVp, gWp = mdl.pop_loss_grad(Vp, Wp, e1)
    amax, vmax, vmin = [], [], []
    for m in mus:
        V1, W1 = Vp - m * gVp, Wp - m * gWp
        met = dyn.metrics_k2(e1)(V1, W1)
        amax.append(float(torch.maximum(met["theta1"], met["theta2"]).max()))
        vmax.append(float(torch.maximum(met["v1"], met["v2"]).max()))
        vmin.append(float(torch.minimum(met["v1"], met["v2"]).min()) / 0.25)
    amax, vmax, vmin = map(np.array, (amax, vmax, vmin))
    inside = np.isin(mus, cfg.mus)
    metrics = dict(ratio_random=float(ratio.max()), n_points=cfg.n_points,
                   max_angle_next=float(amax[inside].max()), v_max_next=float(vmax[inside].max()),
                   v_min_next_over_beta=float(vmin[inside].min()),
                   max_angle_next_large=float(amax[~inside].max()), v_max_next_large=float(vmax[~inside].max()),
                   v_min_next_over_beta_large=float(vmin[~inside].min()))
    return LemmaStepResult(ratio, mus, amax, vmax, vmin, metrics)


@dataclass(frozen=True)
class FinalWeightsConfig(Config):
    """The conserved imbalance predicts the final outer weights (our corollary of Lemma 3), Xavier σ = 1."""

    d: int = 100                     # input dimension (integer in [2, 20000])
    mu: float = 0.1                  # the larger step size; the smaller is μ/4 (number in (0, 1])
    seeds: int = 8                   # converging seeds (integer in [1, 100000])
    horizon: float = 200.0           # run length in units of 1/μ (number in [10, 10000])
    PROFILES = {"smoke": dict(seeds=2, horizon=20.0), "cpu": {}, "paper": dict(seeds=64, horizon=300.0)}

    def validate(self):
        validate.int_in("d", self.d, 2, MAX_D)
        validate.in_range("mu", self.mu, 0.0, 1.0, lo_open=True)
        validate.int_in("seeds", self.seeds, 1, MAX_SEEDS)
        validate.in_range("horizon", self.horizon, 10.0, 1e4)
        if 4 * self.horizon / self.mu > MAX_T:
            raise ValueError(f"horizon/mu must be at most {MAX_T // 4} steps, got {self.horizon / self.mu:g}")


@dataclass
class FinalWeightsResult:
    """Initial imbalances, predicted and final |v_i| at μ and μ/4, prediction errors and total drifts."""

    b0: np.ndarray
    v_pred: np.ndarray
    err: dict
    drift: dict
    metrics: dict


def final_weights(cfg: FinalWeightsConfig, ctx: RunContext) -> FinalWeightsResult:
    """Return the prediction ``v∞² = (√(b₀² + 4‖a‖²) − b₀)/2`` against GD at μ and μ/4 (same seeds).

    Seeds are drawn from Xavier × 1 (k = 2) and kept when the exact sign rule predicts convergence.
    """
    A = mdl.planted_target(cfg.d, dtype=ctx.dtype, device=ctx.device)
    V, W = mdl.init_xavier(2, cfg.d, 1, 1.0, 4 * cfg.seeds + 8, generator=ctx.generator("final_weights"),
                           dtype=ctx.dtype, device=ctx.device)
    good = th.mixed_signs(th.sign_predictor(V, W, A[0]))
    V, W = V[good][: cfg.seeds], W[good][: cfg.seeds]
    b0 = ((W ** 2).sum(-1) - V[..., 0] ** 2).cpu().numpy()
    v_pred = np.sqrt((np.sqrt(b0 ** 2 + 4) - b0) / 2)
    err, drift, lossmax = {}, {}, 0.0
    for m in (cfg.mu, cfg.mu / 4):
        tr = dyn.run_gd(V, W, A, mu=m, steps=int(cfg.horizon / m), knobs="mu")
        Vf, Wf = tr.final
        lossmax = max(lossmax, float(np.max(tr.loss[-1])))
        err[m] = np.abs(Vf[..., 0].abs().cpu().numpy() / v_pred - 1)
        drift[m] = np.abs(((Wf ** 2).sum(-1) - Vf[..., 0] ** 2).cpu().numpy() - b0)
    e1, e4 = float(err[cfg.mu].max()), float(err[cfg.mu / 4].max())
    metrics = dict(max_final_loss=lossmax, err_mu=e1, err_ratio=e1 / e4,
                   drift_ratio=float(np.median(drift[cfg.mu] / drift[cfg.mu / 4])), n_seeds=int(len(b0)))
    return FinalWeightsResult(b0, v_pred, err, drift, metrics)


def metrics_for(cid: str, *sources: dict) -> dict:
    """Return the metrics (and their ``_ci`` intervals) that claim ``cid`` declares, picked from ``sources``."""
    from .. import registry

    declared = registry.entry(cid)["metrics"]
    merged = {}
    for s in sources:
        merged.update(s)
    return {k: v for k, v in merged.items() if k in declared or (k.endswith("_ci") and k[:-3] in declared)}


def setup(profile: str, device: str, seed: int) -> RunContext:
    """Return the notebook's run context (:func:`nbs_lib.run_context`) with the book's plot style applied: the
    setup that every notebook of this chapter shares."""
    from .. import plotting
    from ..context import run_context

    plotting.use_style()
    return run_context(profile, device, seed)


def check(cids, ctx: RunContext, *sources: dict, data: str | None = "none (closed-form population loss)") -> None:
    """Grade each claim of ``cids`` in the registry with the metrics it declares, picked from ``sources``."""
    from .. import registry

    for cid in (cids,) if isinstance(cids, str) else cids:
        registry.check(cid, profile=ctx.profile, data=data, **metrics_for(cid, *sources))


# ============================================================================ notebook 01: landscape
@dataclass(frozen=True)
class LandscapeConfig(Config):
    """Fig. 1(a–b) (v frozen at [1, −1]), Theorem 1's families and the search for other stationary points."""

    d: int = 100                     # input dimension of Fig. 1 (integer in [2, 20000])
    mu: float = 0.1                  # step size (number in (0, 1.9])
    sigma_a: float = 0.1             # init scale of panel (a) (number in (0, 10])
    eps_b: float = 0.01              # perturbation of panel (b) around 1.5a (number in [0, 1])
    T_a: int = 1000                  # steps of panel (a) (integer in [10, 200000])
    T_b: int = 5000                  # steps of panel (b) (integer in [10, 200000])
    n_saddles: int = 200             # random points of each Theorem-1 family (integer in [10, 2000000])
    d_small: int = 3                 # dimension of the stationary-point search (integer in [2, 50])
    n_starts: int = 300              # starts of the search (integer in [10, 100000])
    iters: int = 100                 # Levenberg–Marquardt iterations of the search (integer in [10, 10000])
    eps_esc: tuple = (0.1, 0.14, 0.2, 0.28, 0.4)   # perturbations of the escape-time sweep (each in (0, 1])
    seeds_esc: int = 2               # seeds per ε (integer in [1, 1000])
    T_esc: int = 12000               # steps of the escape sweep (integer in [100, 200000])
    PROFILES = {"smoke": dict(T_a=400, T_b=2000, n_saddles=50, n_starts=40, iters=40, eps_esc=(0.4, 0.8),
                              seeds_esc=1, T_esc=2000),
                "cpu": {}, "paper": dict(n_saddles=1000, n_starts=5000, eps_esc=(0.05, 0.07, 0.1, 0.2, 0.4),
                                         seeds_esc=8, T_esc=30000)}

    def validate(self):
        validate.int_in("d", self.d, 2, MAX_D)
        validate.in_range("mu", self.mu, 0.0, 1.9, lo_open=True)
        validate.in_range("sigma_a", self.sigma_a, 0.0, 10.0, lo_open=True)
        validate.in_range("eps_b", self.eps_b, 0.0, 1.0)
        validate.int_in("T_a", self.T_a, 10, MAX_T)
        validate.int_in("T_b", self.T_b, 10, MAX_T)
        validate.int_in("n_saddles", self.n_saddles, 10, MAX_POINTS)
        validate.int_in("d_small", self.d_small, 2, 50)
        validate.int_in("n_starts", self.n_starts, 10, MAX_SEEDS)
        validate.int_in("iters", self.iters, 10, 10_000)
        _floats("eps_esc", self.eps_esc, 0.0, 1.0)
        validate.int_in("seeds_esc", self.seeds_esc, 1, 1000)
        validate.int_in("T_esc", self.T_esc, 100, MAX_T)

    def resources(self):
        P = 2 + 2 * self.d_small
        rec = (self.T_a + self.T_b // 5 + 2) * 2 * self.d * 8 * 2
        return Resources(host_bytes=rec + self.n_starts * 2 * P * P * 8 * 4 + self.n_saddles * self.d * 8 * 40)


@dataclass
class Fig1Result:
    """Panels (a) and (b): neuron paths projected on (a, u) with u ⊥ a, final losses and endpoints."""

    path_a: np.ndarray               # (n_rec, 2 neurons, 2 coordinates)
    path_b: np.ndarray
    loss_a: float
    loss_b: float
    metrics: dict
    loss_path: np.ndarray = None     # panel (a): population loss at every step
    slice_path: np.ndarray = None    # panel (a): the Fig. 1(c) slice loss at the run's a-coordinates (α₁, α₂)


def fig1(cfg: LandscapeConfig, ctx: RunContext) -> Fig1Result:
    """Return Fig. 1(a) (small init → optimum) and 1(b) (near 1.5a → saddle), GD on W with v = [1, −1]."""
    A = mdl.planted_target(cfg.d, dtype=ctx.dtype, device=ctx.device)
    a = A[0]
    u = th.random_frame(cfg.d, 1, exclude=A, generator=ctx.generator("fig1", "frame"), dtype=ctx.dtype,
                        device=ctx.device)[0]
    V0 = torch.tensor([[[1.0], [-1.0]]], dtype=ctx.dtype, device=ctx.device)
    Wa = ctx.randn(1, 2, cfg.d, keys=("fig1", "a")) * (cfg.sigma_a / math.sqrt(cfg.d))
    Wb = dyn.near_saddle_init(a, [cfg.eps_b], generator=ctx.generator("fig1", "b"))
    ra = dyn.run_gd(V0, Wa, A, mu=cfg.mu, steps=cfg.T_a, fix_V=True, keep=True, knobs="mu")
    rb = dyn.run_gd(V0, Wb, A, mu=cfg.mu, steps=cfg.T_b, fix_V=True, keep=True, every=5, knobs="mu")
    _check_runs(ra, "Fig. 1(a)")
    _check_runs(rb, "Fig. 1(b)")
    proj = lambda W: torch.stack([W @ a, W @ u], dim=-1)[:, 0].cpu().numpy()
    Wfa, Wfb = ra.final[1][0], rb.final[1][0]
    xb = (Wfb @ a).cpu().numpy()
    metrics = dict(err_a=max(float((Wfa[0] - a).norm()), float((Wfa[1] + a).norm())), loss_a=float(ra.loss[-1, 0]),
                   loss_b=float(rb.loss[-1, 0]), xb1=float(xb[0]), xb2=float(xb[1]),
                   dev_written=max(abs(float(xb[0]) - 1), abs(float(xb[1]) - 2)),
                   dev_corrected=max(abs(float(xb[0]) - 2), abs(float(xb[1]) - 1)),
                   loss_dev=abs(float(rb.loss[-1, 0]) - 0.25))
    pa = proj(ra.W)
    return Fig1Result(pa, proj(rb.W), metrics["loss_a"], metrics["loss_b"], metrics, ra.loss[:, 0],
                      th.slice_loss(pa[:, 0, 0], pa[:, 1, 0]))


@dataclass
class SliceResult:
    """Fig. 1(c): the slice loss on a grid and the general closed form along the valley α₁ − α₂ = 1."""

    alpha: np.ndarray
    loss: np.ndarray                 # (n, n), indexed [α₁, α₂]
    metrics: dict


def fig1c(cfg: LandscapeConfig, ctx: RunContext) -> SliceResult:
    """Return the closed-form slice and the full loss and W-gradient at 80 valley points (v = [1, −1])."""
    al = np.linspace(-2, 3, 401)
    A1, A2 = np.meshgrid(al, al, indexing="ij")
    A = mdl.planted_target(cfg.d, dtype=ctx.dtype, device=ctx.device)
    c = torch.cat([torch.linspace(0.05, 3, 40, dtype=ctx.dtype, device=ctx.device),
                   torch.linspace(-4, -1.05, 40, dtype=ctx.dtype, device=ctx.device)])
    Wv = torch.stack([(c + 1)[:, None] * A[0], c[:, None] * A[0]], dim=1)
    V = torch.tensor([[1.0], [-1.0]], dtype=ctx.dtype, device=ctx.device).expand(len(c), 2, 1)
    L, _, gW = mdl.pop_loss_grad(V, Wv, A)
    metrics = dict(max_grad=float(gW.flatten(1).norm(dim=1).max()), max_loss_dev=float((L - 0.25).abs().max()))
    return SliceResult(al, th.slice_loss(A1, A2), metrics)


@dataclass
class Thm1Result:
    """Theorem 1: both families at random points; Hessian spectra; the stationary points found from many starts."""

    ev_saddle: np.ndarray
    pr_saddle: np.ndarray
    ev_opt: np.ndarray
    pr_opt: np.ndarray
    found_class: np.ndarray          # per start: 0 optimum, 1 saddle, 2 other, −1 not converged or off the domain
    found_loss: np.ndarray           # population loss / ‖a‖² at each converged start (NaN elsewhere)
    metrics: dict


def _fd_hessian_batch(V, W, A, h=1e-6):
    """Return ``(g (B, P), H (B, P, P))``: analytic gradient and central-difference Hessian, batched."""
    B, k, r = V.shape
    th_ = torch.cat([V.reshape(B, -1), W.reshape(B, -1)], 1)
    P = th_.shape[1]
    E = torch.eye(P, dtype=V.dtype, device=V.device) * h
    pts = torch.cat([th_[:, None] + E, th_[:, None] - E], 1).reshape(-1, P)
    grad = lambda x: torch.cat([t.reshape(x.shape[0], -1) for t in
                                mdl.pop_grad(x[:, :k * r].reshape(-1, k, r), x[:, k * r:].reshape(-1, k, W.shape[-1]), A)], 1)
    G = grad(pts).reshape(B, 2 * P, P)
    H = (G[:, :P] - G[:, P:]) / (2 * h)
    return grad(th_), 0.5 * (H + H.transpose(1, 2))


def theorem1(cfg: LandscapeConfig, ctx: RunContext) -> Thm1Result:
    """Return the checks of Theorem 1: stationarity and loss ‖a‖²/4 on random saddles, optima, Hessian spectra
    (FD and eq. (14)) and a Levenberg–Marquardt search for zeros of ∇L from ``n_starts`` random points.

    The search solves ∇L = 0 (steps ``−(H² + λI)⁻¹ H g`` with the FD Hessian H, λ adapted per start), so it
    finds stationary points of every kind, strict saddles included; converged points (‖∇L‖ ≤ 1e-9) with
    v₁, v₂ > 1e-3 (Theorem 1's domain) are classified as optimum, saddle of the family, or other, with a
    tolerance 1e-3: near the non-strict saddles ‖∇L‖ grows only like the square of the distance, so a
    point with ‖∇L‖ ≤ 1e-9 may sit ~1e-5 off the manifold; a different stationary point would be O(1) away.
    """
    g = ctx.generator("thm1", "families")
    n, dd = cfg.n_saddles, 10
    a = torch.randn(n, dd, generator=g, dtype=ctx.dtype, device=ctx.device) * torch.exp(
        torch.randn(n, 1, generator=g, dtype=ctx.dtype, device=ctx.device))
    u = torch.rand(n, generator=g, dtype=ctx.dtype, device=ctx.device)
    c = torch.where(torch.rand(n, generator=g, dtype=ctx.dtype, device=ctx.device) < 0.5, 0.01 + 2.99 * u, -4 + 2.99 * u)
    v = -torch.log(torch.rand(n, 2, generator=g, dtype=ctx.dtype, device=ctx.device)) + 0.05
    an2 = (a ** 2).sum(1)
    Vs, Ws = th.saddle_points(a, c, v)
    Ls, gVs, gWs = mdl.batched_pop_loss_grad_rows(Vs, Ws, a)
    Vo = torch.stack([v[:, 0], -v[:, 1]], -1).unsqueeze(-1)
    Wo = torch.stack([a / v[:, :1], -a / v[:, 1:]], 1)
    Lo, gVo, gWo = mdl.batched_pop_loss_grad_rows(Vo, Wo, a)
    gn = lambda gV_, gW_: torch.cat([gV_.flatten(1), gW_.flatten(1)], 1).norm(dim=1) / an2
    a6 = ctx.randn(6, keys=("thm1", "hessian"))
    Vsd, Wsd = th.saddle_point(a6, 0.6, 1.2, 0.7)
    Vop, Wop = th.global_optimum(a6, 1.3, 0.8)
    ev_s = np.sort(torch.linalg.eigvalsh(mdl.hessian_fd(Vsd, Wsd, a6)).cpu().numpy())
    ev_o = np.sort(torch.linalg.eigvalsh(mdl.hessian_fd(Vop, Wop, a6)).cpu().numpy())
    pr_s, pr_o = th.saddle_spectrum(Vsd, Wsd), th.optimum_spectrum(Vop, Wop)
    We = ctx.randn(3, 4, keys=("thm1", "eq14"))
    ve = ctx.randn(3, 1, keys=("thm1", "eq14v"))
    ae = ctx.randn(4, keys=("thm1", "eq14a"))
    Hf, He = mdl.hessian_fd(ve, We, ae), mdl.hessian_eq14(ve, We, ae)
    cls, mins, n_dom = _stationary_search(cfg, ctx)
    found = cls >= 0
    metrics = dict(max_grad_saddle=float(gn(gVs, gWs).max()), max_grad_opt=float(gn(gVo, gWo).max()),
                   max_loss_dev=float((Ls / an2 - 0.25).abs().max()), max_loss_opt=float((Lo / an2).abs().max()),
                   hess_err_saddle=float(np.abs(ev_s - pr_s).max()), hess_err_opt=float(np.abs(ev_o - pr_o).max()),
                   n_zero=int((np.abs(ev_s) < 1e-5).sum()), n_zero_pred=int(Wsd.shape[1] + 2),
                   eq14_rel_err=float((He - Hf).abs().max() / Hf.abs().max()),
                   n_starts=cfg.n_starts, n_found=int(found.sum()), n_off_domain=int(n_dom),
                   n_opt=int((cls == 0).sum()), n_saddle=int((cls == 1).sum()), n_other=int((cls == 2).sum()))
    return Thm1Result(ev_s, pr_s, ev_o, pr_o, cls, mins, metrics)


def _stationary_search(cfg: LandscapeConfig, ctx: RunContext):
    d, B = cfg.d_small, cfg.n_starts
    A = mdl.planted_target(d, dtype=ctx.dtype, device=ctx.device)
    g = ctx.generator("thm1", "search")
    v = -torch.log(torch.rand(B, 2, generator=g, dtype=ctx.dtype, device=ctx.device)) * 1.5
    V = torch.stack([v[:, 0], -v[:, 1]], -1).unsqueeze(-1)
    W = torch.randn(B, 2, d, generator=g, dtype=ctx.dtype, device=ctx.device) * torch.exp(
        torch.randn(B, 2, 1, generator=g, dtype=ctx.dtype, device=ctx.device))
    lam = torch.full((B,), 1e-2, dtype=ctx.dtype, device=ctx.device)
    P = 2 + 2 * d
    I = torch.eye(P, dtype=ctx.dtype, device=ctx.device)
    grad_norm = lambda V_, W_: torch.cat([t.flatten(1) for t in mdl.pop_grad(V_, W_, A)], 1).norm(dim=1)
    for _ in range(cfg.iters):
        gv, H = _fd_hessian_batch(V, W, A)
        step = -torch.linalg.solve(H @ H + lam[:, None, None] * I, (H @ gv[..., None]))[..., 0]
        Vn, Wn = V + step[:, :2].reshape(B, 2, 1), W + step[:, 2:].reshape(B, 2, d)
        bad = ~torch.isfinite(step).all(1) | (Wn.norm(dim=-1).min(1).values < 1e-8)
        better = (grad_norm(Vn, Wn) < gv.norm(dim=1)) & ~bad
        V = torch.where(better[:, None, None], Vn, V)
        W = torch.where(better[:, None, None], Wn, W)
        lam = torch.where(better, lam / 3, lam * 4).clamp(1e-14, 1e8)
    gfin = grad_norm(V, W)
    conv = (gfin <= 1e-9).cpu().numpy()
    dom = ((V[:, 0, 0] > 1e-3) & (-V[:, 1, 0] > 1e-3)).cpu().numpy()
    cls = np.where(conv & dom, th.classify_k2(V, W, A[0], tol=1e-3), -1)
    L = mdl.pop_loss(V, W, A).cpu().numpy()
    return cls, np.where(cls >= 0, L, np.nan), int((conv & ~dom).sum())


@dataclass
class EscapeResult:
    """Escape from near the saddle: per run ε, initial angle θ₀, loss curve and escape step (−1: not escaped)."""

    eps: np.ndarray
    theta0: np.ndarray
    loss: np.ndarray                 # (T+1, runs)
    T_esc: np.ndarray
    metrics: dict


def escape_time(cfg: LandscapeConfig, ctx: RunContext) -> EscapeResult:
    """Return the first step with L < 1/8 from ``1.5a + εξ`` (v = [1, −1]) for each ε × seed, one batched run."""
    A = mdl.planted_target(cfg.d, dtype=ctx.dtype, device=ctx.device)
    eps = np.repeat(np.array(cfg.eps_esc, dtype=float), cfg.seeds_esc)
    W = dyn.near_saddle_init(A[0], eps.tolist(), generator=ctx.generator("escape"))
    th0 = mdl.angle(W[:, 0], W[:, 1]).cpu().numpy()
    V = torch.tensor([[1.0], [-1.0]], dtype=ctx.dtype, device=ctx.device).expand(len(eps), 2, 1).clone()
    tr = dyn.run_gd(V, W, A, mu=cfg.mu, steps=cfg.T_esc, fix_V=True, tol=0.1, knobs="mu")
    _check_runs(tr, "escape sweep")
    T = dyn.escape_steps(tr.loss).astype(float)
    esc = T > 0
    fe = fit.fit_power_law(eps[esc], T[esc]) if len(set(eps[esc])) >= 3 else None
    ft = fit.fit_power_law(th0[esc], T[esc]) if esc.sum() >= 3 else None
    metrics = dict(slope_eps=fe.exponent if fe else -99.0, slope_theta=ft.exponent if ft else -99.0,
                   n_escaped=int(esc.sum()), n_runs=int(esc.size))
    return EscapeResult(eps, th0, tr.loss, T, metrics)


# ============================================================================ notebook 04: width and signs
def _wilson(k: int, n: int, z: float = 2.0) -> tuple[float, float]:
    """Return the Wilson score interval (±z) of a binomial proportion k/n."""
    if n == 0:
        return (0.0, 1.0)
    p = k / n
    den = 1 + z * z / n
    c = (p + z * z / (2 * n)) / den
    h = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / den
    return (max(c - h, 0.0), min(c + h, 1.0))


@dataclass(frozen=True)
class SignsConfig(Config):
    """§4 success rates from Xavier × σ (k = 2 and k > 2) and the χ- vs Gaussian-init failure rates against d."""

    d: int = 100                     # input dimension of the success-rate runs (integer in [2, 20000])
    mu: float = 0.1                  # step size (number in (0, 1.9])
    sigma: float = 1e-8              # small init scale of §4 (number in (0, 0.01])
    ks: tuple = (2, 3, 4, 8)         # hidden units (integers in [2, 64])
    seeds: int = 240                 # seeds per k (integer in [1, 100000])
    T: int = 800                     # GD steps (integer in [100, 200000])
    ds_init: tuple = (2, 3, 4, 8, 16, 32)   # dimensions of the χ- vs Gaussian-init sweep (integers in [2, 2000])
    seeds_init: int = 300            # seeds per d and init (integer in [1, 100000])
    sigma_init: float = 1e-3         # init scale of that sweep (number in (0, 0.01])
    T_init: int = 400                # its GD steps (integer in [100, 200000])
    n_pred: int = 200_000            # initialisations drawn for the sign rule's failure probability (in [1000, 2000000])
    PROFILES = {"smoke": dict(d=30, ks=(2, 4), seeds=24, T=700, ds_init=(2, 8), seeds_init=30, n_pred=20_000),
                "cpu": {}, "paper": dict(ks=(2, 3, 4, 8, 16), seeds=4000, ds_init=(2, 3, 4, 8, 16, 32, 64),
                                         seeds_init=10_000)}

    def validate(self):
        validate.int_in("d", self.d, 2, MAX_D)
        validate.in_range("mu", self.mu, 0.0, 1.9, lo_open=True)
        validate.in_range("sigma", self.sigma, 0.0, 0.01, lo_open=True)
        if not isinstance(self.ks, (list, tuple)) or not self.ks:
            raise ValueError(f"ks must be a non-empty list of integers in [2, 64], got {self.ks!r}")
        for k in self.ks:
            validate.int_in("ks", k, 2, 64)
        validate.int_in("seeds", self.seeds, 1, MAX_SEEDS)
        validate.int_in("T", self.T, 100, MAX_T)
        if not isinstance(self.ds_init, (list, tuple)) or not self.ds_init:
            raise ValueError(f"ds_init must be a non-empty list of integers in [2, 2000], got {self.ds_init!r}")
        for dd in self.ds_init:
            validate.int_in("ds_init", dd, 2, 2000)
        validate.int_in("seeds_init", self.seeds_init, 1, MAX_SEEDS)
        validate.in_range("sigma_init", self.sigma_init, 0.0, 0.01, lo_open=True)
        validate.int_in("T_init", self.T_init, 100, MAX_T)
        validate.int_in("n_pred", self.n_pred, 1000, MAX_POINTS)

    def resources(self):
        a = self.seeds * max(self.ks) * self.d * 8 * 30
        b = 2 * len(self.ds_init) * self.seeds_init * 2 * max(self.ds_init) * 8 * 30
        return Resources(host_bytes=a + b)


@dataclass
class SuccessResult:
    """Per k: success rates with intervals, the paper's and the exact sign rule, failures' losses, group sums."""

    ks: np.ndarray
    success: np.ndarray
    success_ci: np.ndarray           # (n_k, 2) Wilson ±2
    predicted: np.ndarray            # 1 − 2^(1−k)
    exact_agree: np.ndarray
    paper_agree: np.ndarray
    metrics: dict


def success_items(cfg: SignsConfig, chunk: int = 500) -> list:
    """Return the tasks of :func:`success_rates`: ``(cfg, k, lo, hi)`` for every k and chunk ``[lo, hi)`` of seeds."""
    return [(cfg, k, lo, min(lo + chunk, cfg.seeds)) for k in cfg.ks for lo in range(0, cfg.seeds, chunk)]


def success_point(item, ctx: RunContext) -> np.ndarray:
    """Return ``(hi − lo, 3)``: final loss, exact-rule success prediction and the paper's same-sign prediction for
    seeds ``lo ≤ j < hi`` of width k (seed j from ``ctx.generator("signs", k, j)`` alone)."""
    cfg, k, lo, hi = item
    A = mdl.planted_target(cfg.d, dtype=ctx.dtype, device=ctx.device)
    VW = [mdl.init_xavier(k, cfg.d, 1, cfg.sigma, 1, generator=ctx.generator("signs", k, j), dtype=ctx.dtype,
                          device=ctx.device) for j in range(lo, hi)]
    V0, W0 = torch.cat([x[0] for x in VW]), torch.cat([x[1] for x in VW])
    tr = dyn.run_gd(V0, W0, A, mu=cfg.mu, steps=cfg.T, knobs="mu")
    exact = th.mixed_signs(th.sign_predictor(V0, W0, A[0])).cpu().numpy()
    paper = th.mixed_signs(V0[..., 0]).cpu().numpy()
    return np.stack([tr.loss[-1], exact.astype(float), paper.astype(float)], 1)


def success_rates(cfg: SignsConfig, ctx: RunContext) -> SuccessResult:
    """Return the §4 success rates (final L < 1e-10) from Xavier × σ for each k.

    The seeds run as tasks of ``sweep.map`` (:func:`success_items`, :func:`success_point`; each seed from its own
    stream), so the paper's thousands of seeds can be split over a cluster. For k = 2 it also counts the runs that
    got stuck although v⁽⁰⁾ had mixed signs (the paper's sentence "stuck only when v₁⁽⁰⁾, v₂⁽⁰⁾ have the same
    sign" forbids them) and checks that every failure sits at L = 1/4.
    """
    from .. import sweep

    items = success_items(cfg)
    runs = merge_parts(items, sweep.map(success_point, items, ctx))
    succ, ci, exact, paper, fail_dev, zs = [], [], [], [], [], []
    m2 = {}
    for k in cfg.ks:
        Lf, ex_, pa_ = runs[(k,)][:, 0], runs[(k,)][:, 1] > 0, runs[(k,)][:, 2] > 0
        ok = Lf < 1e-10
        succ.append(ok.mean())
        ci.append(_wilson(int(ok.sum()), ok.size))
        exact.append((ex_ == ok).mean())
        paper.append((pa_ == ok).mean())
        fail_dev.append(float(np.abs(Lf[~ok] - 0.25).max()) if (~ok).any() else 0.0)
        p = 1 - 2.0 ** (1 - k)
        zs.append(abs(ok.mean() - p) / math.sqrt(p * (1 - p) / ok.size))
        if k == 2:
            stuck_mixed = int((~ok & pa_).sum())
            m2 = dict(success=float(ok.mean()), success_ci=ci[-1], n_stuck_mixed=stuck_mixed,
                      frac_stuck_mixed=stuck_mixed / max(int((~ok).sum()), 1),
                      max_fail_loss_dev=fail_dev[-1], paper_rule_agree=float(paper[-1]), n_seeds=int(ok.size))
    ks = np.array(cfg.ks)
    big = ks > 2
    metrics = dict(m2, max_abs_z=float(np.max(np.array(zs)[big])) if big.any() else -1.0,
                   max_fail_loss_dev_wide=float(np.max(np.array(fail_dev)[big])) if big.any() else 0.0,
                   min_exact_agree=float(np.min(exact)), n_k_wide=int(big.sum()))
    return SuccessResult(ks, np.array(succ), np.array(ci), 1 - 2.0 ** (1 - ks), np.array(exact), np.array(paper),
                         metrics)


@dataclass
class InitFailureResult:
    """Failure rates of population GD from the χ-init and from Gaussian outer weights, against d."""

    ds: np.ndarray
    fail_chi: np.ndarray
    fail_chi_ci: np.ndarray
    fail_gauss: np.ndarray
    fail_gauss_ci: np.ndarray
    pred_chi: np.ndarray             # the exact sign rule's failure probability (Monte Carlo over n_pred draws)
    pred_gauss: np.ndarray
    metrics: dict


#: seeds per task of the Theorem 2 failure-rate sweep (a task is one (d, init, chunk of seeds))
INIT_CHUNK = 500


def init_items(cfg: SignsConfig, chunk: int = INIT_CHUNK) -> list:
    """Return the tasks of :func:`init_failure`: ``(cfg, d, outer, lo, hi)`` for every d, both inits and every
    chunk ``[lo, hi)`` of ``chunk`` seeds (the items of ``sweep.map``; any chunk size gives the same numbers)."""
    S = cfg.seeds_init
    return [(cfg, dd, outer, lo, min(lo + chunk, S)) for dd in cfg.ds_init for outer in ("chi", "gaussian")
            for lo in range(0, S, chunk)]


def init_point(item, ctx: RunContext) -> np.ndarray:
    """Return, for one task ``(cfg, d, outer, lo, hi)``, whether population GD from each seed ``lo ≤ j < hi`` fails
    (final L not below 1e-10). Seed j is drawn from ``ctx.generator("init", d, outer, j)`` alone, so the result
    does not depend on how the seeds are chunked, ordered or distributed."""
    cfg, dd, outer, lo, hi = item
    A = mdl.planted_target(dd, dtype=ctx.dtype, device=ctx.device)
    VW = [mdl.init_thm2(dd, cfg.sigma_init, 1, generator=ctx.generator("init", dd, outer, j), dtype=ctx.dtype,
                        device=ctx.device, outer=outer) for j in range(lo, hi)]
    V, W = torch.cat([x[0] for x in VW]), torch.cat([x[1] for x in VW])
    tr = dyn.run_gd(V, W, A, mu=cfg.mu, steps=cfg.T_init, knobs="mu")
    return ~(tr.loss[-1] < 1e-10)


def merge_parts(items, parts) -> dict:
    """Return ``{key: results stacked in seed order}`` from tasks ``(cfg, *key, lo, hi)`` and their results
    (arrays with one row per seed), whatever the order or chunking of the tasks."""
    out = {}
    for item, part in sorted(zip(items, parts), key=lambda x: (str(x[0][1:-2]), x[0][-2])):
        out.setdefault(tuple(item[1:-2]), []).append(np.asarray(part))
    return {k: np.concatenate(v) for k, v in out.items()}


def init_failure(cfg: SignsConfig, ctx: RunContext) -> InitFailureResult:
    """Return the failure rate (final loss not below 1e-10) from the χ-init of Theorem 2 and from
    v_i ~ N(0, σ²/2) (§3's alternative), for each d. The seeds run as tasks of ``sweep.map`` (:func:`init_items`,
    :func:`init_point`), so the paper's 10⁴ seeds can be split over a cluster and merged into the same numbers."""
    from .. import sweep

    S = cfg.seeds_init
    items = init_items(cfg)
    fails = merge_parts(items, sweep.map(init_point, items, ctx))
    fail = np.array([[fails[(dd, o)] for o in ("chi", "gaussian")] for dd in cfg.ds_init])     # (n_d, 2, S)
    rate = fail.mean(-1)
    ci = np.array([[_wilson(int(fail[j, i].sum()), S) for i in range(2)] for j in range(len(cfg.ds_init))])
    A = mdl.planted_target(max(cfg.ds_init), dtype=ctx.dtype, device=ctx.device)
    pred = []
    for dd in cfg.ds_init:
        row = []
        for outer in ("chi", "gaussian"):
            V, W = mdl.init_thm2(dd, 1.0, cfg.n_pred, generator=ctx.generator("init_pred", dd, outer), dtype=ctx.dtype,
                                 device=ctx.device, outer=outer)
            row.append(1 - th.mixed_signs(th.sign_predictor(V, W, A[0, :dd])).double().mean().item())
        pred.append(row)
    pred = np.array(pred)
    se = lambda p: math.sqrt(max(p * (1 - p), 1.0 / S) / S)
    drop = rate[0, 0] - rate[-1, 0]
    sd = math.sqrt(se(rate[0, 0]) ** 2 + se(rate[-1, 0]) ** 2)
    metrics = dict(fail_chi_last=float(rate[-1, 0]), fail_chi_last_ci=tuple(ci[-1, 0]),
                   chi_drop=float(drop), chi_drop_ci=(drop - 2 * sd, drop + 2 * sd),
                   fail_gauss_min=float(rate[:, 1].min()), fail_gauss_min_ci=tuple(ci[int(rate[:, 1].argmin()), 1]),
                   fail_gauss_max=float(rate[:, 1].max()), fail_gauss_max_ci=tuple(ci[int(rate[:, 1].argmax()), 1]),
                   n_seeds=S, n_d=len(cfg.ds_init))
    return InitFailureResult(np.array(cfg.ds_init), rate[:, 0], ci[:, 0], rate[:, 1], ci[:, 1], pred[:, 0], pred[:, 1],
                             metrics)


@dataclass(frozen=True)
class Fig2Config(Config):
    """Fig. 2: neuron trajectories for k = 4 and 8 from Xavier × σ, σ = 1 (the §4 default) and σ = 1e-8."""

    d: int = 100                     # input dimension (integer in [2, 20000])
    mu: float = 0.1                  # step size (number in (0, 1.9])
    sigma_small: float = 1e-8        # the small init scale shown for contrast (number in (0, 0.01])
    T_k4: int = 5000                 # steps at σ = 1, k = 4 (integer in [100, 200000])
    T_k8: int = 4000                 # steps at σ = 1, k = 8 (integer in [100, 200000])
    T_small: int = 1000              # steps at the small σ (integer in [100, 200000])
    seeds: int = 3                   # seeds per panel (integer in [1, 1000])
    align_deg: float = 1.0           # a neuron counts as aligned with ±a within this angle in degrees (in (0, 45])
    PROFILES = {"smoke": dict(T_k4=600, T_k8=600, T_small=600, seeds=1), "cpu": {}, "paper": dict(seeds=20, T_k8=40000)}

    def validate(self):
        validate.int_in("d", self.d, 2, MAX_D)
        validate.in_range("mu", self.mu, 0.0, 1.9, lo_open=True)
        validate.in_range("sigma_small", self.sigma_small, 0.0, 0.01, lo_open=True)
        for n in ("T_k4", "T_k8", "T_small"):
            validate.int_in(n, getattr(self, n), 100, MAX_T)
        validate.int_in("seeds", self.seeds, 1, 1000)
        validate.in_range("align_deg", self.align_deg, 0.0, 45.0, lo_open=True)

    def resources(self):
        return Resources(host_bytes=4 * 402 * self.seeds * 8 * self.d * 8 * 2)


@dataclass
class Fig2Result:
    """Per panel (k, σ): neuron paths of seed 0 in the (a, u) plane, final signs, group sums; metrics over seeds."""

    panels: dict                     # (k, σ) → dict(path (n_rec, k, 2), sign (k,), P (2,), N (2,), loss, steps)
    metrics: dict


def fig2_panel(cfg: Fig2Config, ctx: RunContext, k: int, s: float, T: int) -> tuple[dict, dict]:
    """Return one Fig. 2 panel (seed 0's paths in the (a, u) plane, final signs, group sums, the exact sign rule's
    predicted signs) and its metrics over ``cfg.seeds`` seeds: L, gs (group-sum error), n_active, n_aligned,
    weight_off. A neuron is *active* when |v_i|‖w_i‖ > 1e-3‖a‖, *aligned* when ∠(w_i, ±a) ≤ ``align_deg``."""
    A = mdl.planted_target(cfg.d, dtype=ctx.dtype, device=ctx.device)
    a = A[0]
    u = th.random_frame(cfg.d, 1, exclude=A, generator=ctx.generator("fig2", "frame"), dtype=ctx.dtype,
                        device=ctx.device)[0]
    V0, W0 = mdl.init_xavier(k, cfg.d, 1, s, cfg.seeds, generator=ctx.generator("fig2", k, s), dtype=ctx.dtype,
                             device=ctx.device)
    tr = dyn.run_gd(V0, W0, A, mu=cfg.mu, steps=T, keep=True, every=max(T // 400, 1), knobs="mu")
    _check_runs(tr, f"Fig. 2 (k = {k}, σ = {s:g})")
    V, W = tr.final
    P, N = th.group_sums(V, W)
    err = torch.maximum((P - a).norm(dim=-1), (N + a).norm(dim=-1)).cpu().numpy()
    ang = torch.minimum(mdl.angle(W, a), mdl.angle(W, -a))                       # (B, k)
    wsum = V[..., 0].abs() * W.norm(dim=-1)
    active = wsum > 1e-3
    aligned = (ang <= math.radians(cfg.align_deg)) & active
    pr = lambda X: torch.stack([X @ a, X @ u], -1)
    panel = dict(path=pr(tr.W[:, 0]).cpu().numpy(), sign=np.sign(V[0, :, 0].cpu().numpy()),
                 P=pr(P[0]).cpu().numpy(), N=pr(N[0]).cpu().numpy(), loss=float(tr.loss[-1, 0]), steps=T,
                 predicted_sign=th.sign_predictor(V0[:1], W0[:1], a)[0].cpu().numpy())
    mk = dict(L=float(np.max(tr.loss[-1])), gs=float(err.max()), n_active=int(active.sum()),
              n_aligned=int(aligned.sum()), weight_off=float((wsum * (~aligned)).sum() / wsum.sum()))
    return panel, mk


def fig2(cfg: Fig2Config, ctx: RunContext) -> Fig2Result:
    """Return Fig. 2's runs and the claims' metrics: group-sum errors, alignment of the neurons that carry weight.

    A neuron is *active* when |v_i|‖w_i‖ > 1e-3‖a‖ and *aligned* when ∠(w_i, ±a) ≤ ``align_deg``.
    """
    panels, m = {}, {}
    for k, s, T in ((4, 1.0, cfg.T_k4), (8, 1.0, cfg.T_k8), (4, cfg.sigma_small, cfg.T_small),
                    (8, cfg.sigma_small, cfg.T_small)):
        panels[(k, s)], mk = fig2_panel(cfg, ctx, k, s, T)
        tag = f"k{k}" + ("" if s == 1.0 else "_small")
        m.update({f"{name}_{tag}": v for name, v in mk.items()})
    metrics = dict(gs_err_k4=m["gs_k4"], gs_err_k8=m["gs_k8"], max_loss_sigma1=max(m["L_k4"], m["L_k8"]),
                   n_active_sigma1=m["n_active_k4"] + m["n_active_k8"],
                   n_aligned_active_sigma1=m["n_aligned_k4"] + m["n_aligned_k8"],
                   frac_weight_offaxis_sigma1=float((m["weight_off_k4"] + m["weight_off_k8"]) / 2),
                   frac_aligned_small=float((m["n_aligned_k4_small"] + m["n_aligned_k8_small"]) / (12 * cfg.seeds)),
                   max_loss_small=max(m["L_k4_small"], m["L_k8_small"]), n_seeds=cfg.seeds)
    return Fig2Result(panels, metrics)


@dataclass
class BatchBenchResult:
    """Seconds per population-GD sweep of ``seeds`` seeds × ``steps`` steps, batched vs a loop over seeds."""

    timings: dict
    speedup: float
    speedup_range: tuple
    max_loss_diff: float
    device: str


def batch_benchmark(cfg: SignsConfig, ctx: RunContext, seeds: int = 50, steps: int = 50) -> BatchBenchResult:
    """Return :func:`nbs_lib.bench.compare` timings of a batched sweep against a Python loop over seeds (k = 2)."""
    from .. import bench

    A = mdl.planted_target(100, dtype=ctx.dtype, device=ctx.device)
    V0, W0 = mdl.init_xavier(2, 100, 1, cfg.sigma, seeds, generator=ctx.generator("bench"), dtype=ctx.dtype,
                             device=ctx.device)
    run = lambda V, W: dyn.run_gd(V, W, A, mu=cfg.mu, steps=steps).loss[-1]
    batched = run(V0, W0)
    looped = np.concatenate([run(V0[j:j + 1], W0[j:j + 1]) for j in range(seeds)])
    t = bench.compare({"batched": lambda: run(V0, W0),
                       "loop": lambda: [run(V0[j:j + 1], W0[j:j + 1]) for j in range(seeds)]},
                      repeats=3, device=ctx.device)
    sp, rng = bench.speedup(t, "loop", "batched")
    return BatchBenchResult(t, sp, rng, float(np.abs(batched - looped).max()), str(ctx.device))


# ============================================================================ notebook 03: certificates
@dataclass(frozen=True)
class CertConfig(Config):
    """Figs. 4–5 (the reduced certificates) and Lemmas 8, 12, 13 at random points and along GD."""

    alpha: float = 0.05              # PL constant α of Lemma 8 (number in (0, 1))
    alpha_t: float = 0.05            # constant α̃ of Lemma 13 (number in (0, 0.25))
    n_direct: int = 16               # angles of the direct minimisation over a (integer in [2, 1000])
    d_rand: int = 5                  # dimension of the random points (integer in [2, 1000])
    n_rand: int = 20000              # random points (integer in [100, 2000000])
    d_traj: int = 100                # dimension of the GD trajectories (integer in [2, 20000])
    traj_seeds: int = 16             # GD trajectories (integer in [1, 100000])
    T_traj: int = 320                # their steps (integer in [50, 200000])
    n_smooth: int = 200              # random points of the Lemma 9 box per d (integer in [10, 100000])
    ds_smooth: tuple = (4, 16, 36)   # dimensions of the Lemma 9 check (integers in [3, 400])
    c1: float = 0.25                 # Lemma 9's lower constant c₁ (number in (0, c₂))
    c2: float = 2.0                  # Lemma 9's upper constant c₂ (number in (0, 10])
    PROFILES = {"smoke": dict(n_direct=4, n_rand=2000, d_traj=20, traj_seeds=2, T_traj=300, n_smooth=30,
                              ds_smooth=(3, 12)), "cpu": {},
                "paper": dict(n_direct=32, n_rand=200000, traj_seeds=64, n_smooth=1000, ds_smooth=(4, 16, 64, 160))}

    def validate(self):
        validate.in_range("alpha", self.alpha, 0.0, 1.0, lo_open=True, hi_open=True)
        validate.in_range("alpha_t", self.alpha_t, 0.0, 0.25, lo_open=True, hi_open=True)
        validate.int_in("n_direct", self.n_direct, 2, 1000)
        validate.int_in("d_rand", self.d_rand, 2, 1000)
        validate.int_in("n_rand", self.n_rand, 100, MAX_POINTS)
        validate.int_in("d_traj", self.d_traj, 2, MAX_D)
        validate.int_in("traj_seeds", self.traj_seeds, 1, MAX_SEEDS)
        validate.int_in("T_traj", self.T_traj, 50, MAX_T)
        validate.int_in("n_smooth", self.n_smooth, 10, 100_000)
        if not isinstance(self.ds_smooth, (list, tuple)) or not 2 <= len(self.ds_smooth) <= 8:
            raise ValueError(f"ds_smooth must list 2 to 8 integers in [3, 400], got {self.ds_smooth!r}")
        for x in self.ds_smooth:
            validate.int_in("ds_smooth", x, 3, 400)
        validate.in_range("c2", self.c2, 0.0, 10.0, lo_open=True)
        validate.in_range("c1", self.c1, 0.0, self.c2, lo_open=True, hi_open=True)

    def resources(self):
        P = 2 + 2 * max(self.ds_smooth)
        chunk = min(self.n_smooth, max(1, 2_000_000 // (2 * P * P)))
        return Resources(host_bytes=self.n_rand * (2 * self.d_rand + 4) * 8 * 20
                         + (self.T_traj + 1) * self.traj_seeds * (2 + 2 * self.d_traj) * 8 * 6
                         + chunk * 2 * P * P * 8 * 6)


@dataclass
class CertResult:
    """The curves F₄, F₅ on a grid, the direct minima over a at a few angles, and their zero crossings."""

    theta: np.ndarray
    F4: np.ndarray
    F5: np.ndarray
    theta_direct: np.ndarray
    D4: np.ndarray
    D5: np.ndarray
    zero4: float
    zero5: float
    metrics: dict


def certificates(cfg: CertConfig, ctx: RunContext) -> CertResult:
    """Return Figs. 4–5: the 1-D reductions of App. B.2/B.4 and the direct BFGS minimum over ``a`` of the gap."""
    t = np.linspace(0, math.pi, 2001)
    F4, F5 = th.pl_certificate(t, cfg.alpha), th.lb_certificate(t, cfg.alpha_t)
    td = np.linspace(0.15, math.pi - 0.02, cfg.n_direct)
    D4 = np.array([th.certificate_direct(x, "pl", cfg.alpha, device=ctx.device) for x in td])
    D5 = np.array([th.certificate_direct(x, "lb", cfg.alpha_t, device=ctx.device) for x in td])
    z4 = th.zero_crossing(lambda x: th.pl_certificate(x, cfg.alpha), 0.5, 2.0)
    z5 = th.zero_crossing(lambda x: th.lb_certificate(x, cfg.alpha_t), 0.5, 2.0)
    z4 = th.zero_crossing(lambda x: th.pl_certificate(x, cfg.alpha), 2.0, 3.1) if math.isnan(z4) else z4
    z5 = th.zero_crossing(lambda x: th.lb_certificate(x, cfg.alpha_t), 2.0, 3.1) if math.isnan(z5) else z5
    half = t >= math.pi / 2
    metrics = dict(min_half4=float(F4[half].min()), at_pi4=float(abs(th.pl_certificate(math.pi, cfg.alpha))),
                   direct_dev4=float(np.abs(D4 - th.pl_certificate(td, cfg.alpha)).max()), zero4=z4,
                   min_half5=float(F5[half].min()), at_pi5=float(abs(th.lb_certificate(math.pi, cfg.alpha_t))),
                   direct_dev5=float(np.abs(D5 - th.lb_certificate(td, cfg.alpha_t)).max()), zero5=z5)
    return CertResult(t, F4, F5, td, D4, D5, z4, z5, metrics)


@dataclass
class InequalityResult:
    """Ratios of Lemmas 8, 13 (random points with θ > π/2 and GD steps with θ > π/2) and Lemma 12 (v = (1, 1))."""

    pl_random: np.ndarray
    pl_traj: np.ndarray
    lb_random: np.ndarray
    lb_traj: np.ndarray
    l12: np.ndarray
    metrics: dict


def inequalities(cfg: CertConfig, ctx: RunContext) -> InequalityResult:
    """Return the ratios ‖∇_W L‖²/(min v² L) (Lemma 8), L/‖h‖² (Lemma 13) and ‖∇_W L‖²/‖W − W*‖² (Lemma 12)."""
    V, W, a = th.random_k2_points(cfg.d_rand, cfg.n_rand, generator=ctx.generator("ineq", "random"), dtype=ctx.dtype)
    L, _, gW = mdl.batched_pop_loss_grad_rows(V, W, a)
    h1, h2 = mdl.errors_k2(V, W, a)
    hh = (h1 ** 2).sum(-1) + (h2 ** 2).sum(-1)
    obt = mdl.angle(W[:, 0], W[:, 1]) > math.pi / 2
    vmin2 = torch.minimum(V[:, 0, 0], -V[:, 1, 0]) ** 2
    pl_r = ((gW ** 2).sum((-1, -2)) / (vmin2 * L))[obt].cpu().numpy()
    lb_r = (L / hh)[obt].cpu().numpy()
    V1 = torch.tensor([[1.0], [-1.0]], dtype=ctx.dtype, device=ctx.device).expand(cfg.n_rand, 2, 1)
    _, _, g1 = mdl.batched_pop_loss_grad_rows(V1, W, a)
    e1, e2 = mdl.errors_k2(V1, W, a)
    l12 = ((g1 ** 2).sum((-1, -2)) / ((e1 ** 2).sum(-1) + (e2 ** 2).sum(-1))).cpu().numpy()
    A = mdl.planted_target(cfg.d_traj, dtype=ctx.dtype, device=ctx.device)
    V0, W0 = mdl.init_thm2(cfg.d_traj, 1e-2, cfg.traj_seeds, generator=ctx.generator("ineq", "traj"), dtype=ctx.dtype,
                           device=ctx.device)
    tr = dyn.run_gd(V0, W0, A, mu=0.1, steps=cfg.T_traj, keep=True, knobs="mu")
    _check_runs(tr, "Lemma 8/13 trajectories")
    Vt, Wt = tr.V, tr.W
    _, _, gWt = mdl.pop_loss_grad(Vt, Wt, A)
    Lt = mdl.pop_loss_k2_stable(Vt, Wt, A[0])
    a1, a2 = mdl.errors_k2(Vt, Wt, A[0])
    ht = (a1 ** 2).sum(-1) + (a2 ** 2).sum(-1)
    ok = (mdl.angle(Wt[..., 0, :], Wt[..., 1, :]) > math.pi / 2) & (Lt > 1e-12)
    vt = torch.minimum(Vt[..., 0, 0], -Vt[..., 1, 0]) ** 2
    pl_t = ((gWt ** 2).sum((-1, -2)) / (vt * Lt))[ok].cpu().numpy()
    lb_t = (Lt / ht)[ok].cpu().numpy()
    mn = lambda x: float(x.min()) if x.size else float("nan")
    metrics = dict(pl_min=min(mn(pl_r), mn(pl_t)), lb_min=min(mn(lb_r), mn(lb_t)), l12_max=float(l12.max()),
                   n_random=int(obt.sum()), n_traj=int(pl_t.size))
    return InequalityResult(pl_r, pl_t, lb_r, lb_t, l12, metrics)


def lemma9_constant(c1: float, c2: float) -> float:
    """Return Lemma 9's constant from its proof (App. B.3): L = 2 + (12 + 10/π + 4c₂/(πc₁)) c₂²."""
    return 2 + (12 + 10 / math.pi + 4 * c2 / (math.pi * c1)) * c2 ** 2


@dataclass
class SmoothnessResult:
    """Lemma 9: spectral and Frobenius norms of the population Hessian over random points of the box, per d."""

    ds: np.ndarray
    spec: np.ndarray                 # (n_d, n_points) ‖∇²L‖₂ / ‖a‖
    frob: np.ndarray                 # (n_d, n_points) ‖∇²L‖_F / ‖a‖
    L: float                         # the proof's constant
    metrics: dict


def smoothness(cfg: CertConfig, ctx: RunContext) -> SmoothnessResult:
    """Return ‖∇²L‖₂ and ‖∇²L‖_F (central differences of the analytic gradient, in units of ‖a‖ = 1) at random
    points of Lemma 9's box c₁ ≤ v₁, v₂, ‖w₁‖, ‖w₂‖ ≤ c₂ (a = e₁, V = [v₁, −v₂]).

    The same configurations are used at every d: w₁, w₂ are drawn in span(e₁, e₂, e₃) (random angles, norms
    weighted towards the box's edges) and embedded in ℝ^d, so any change with d comes from the dimension alone.
    """
    g = ctx.generator("lemma9", "points")
    n = cfg.n_smooth
    u = lambda *sh: torch.rand(*sh, generator=g, dtype=ctx.dtype, device=ctx.device)
    edge = lambda x: torch.where(u(*x.shape) < 0.5, x ** 0.25, 1 - x ** 0.25)         # towards c₁ and c₂
    v = cfg.c1 + (cfg.c2 - cfg.c1) * edge(u(n, 2))
    nw = cfg.c1 + (cfg.c2 - cfg.c1) * edge(u(n, 2))
    dirs = torch.randn(n, 2, 3, generator=g, dtype=ctx.dtype, device=ctx.device)
    W3 = nw[..., None] * dirs / dirs.norm(dim=-1, keepdim=True)
    V = torch.stack([v[:, 0], -v[:, 1]], -1).unsqueeze(-1)
    spec, frob = [], []
    for d in cfg.ds_smooth:
        A = mdl.planted_target(d, dtype=ctx.dtype, device=ctx.device)
        W = torch.nn.functional.pad(W3, (0, d - 3))
        P = 2 + 2 * d
        step = max(1, 2_000_000 // (2 * P * P))
        Hs = torch.cat([_fd_hessian_batch(V[i:i + step], W[i:i + step], A)[1] for i in range(0, n, step)])
        spec.append(torch.linalg.eigvalsh(Hs).abs().amax(-1).cpu().numpy())
        frob.append(torch.linalg.matrix_norm(Hs, ord="fro").cpu().numpy())
    spec, frob = np.array(spec), np.array(frob)
    Lc = lemma9_constant(cfg.c1, cfg.c2)
    d0, d1 = cfg.ds_smooth[0], cfg.ds_smooth[-1]
    metrics = dict(spec_over_L=float(spec.max() / Lc), spec_d_ratio=float(spec[-1].max() / spec[0].max()),
                   frob_d_ratio=float(frob[-1].max() / frob[0].max()), sqrt_d_ratio=math.sqrt(d1 / d0),
                   spec_max=float(spec.max()), n_points=n, n_d=len(cfg.ds_smooth))
    return SmoothnessResult(np.array(cfg.ds_smooth), spec, frob, Lc, metrics)


# ============================================================================ notebook 05: multi-output pairing
@dataclass(frozen=True)
class PairingConfig(Config):
    """Figs. 6–8: r outputs, k = 2r, Xavier × σ, population GD; pairing of the neurons at convergence."""

    d: int = 100                     # input dimension (integer in [max r, 20000])
    mu: float = 0.1                  # step size (number in (0, 1])
    sigma: float = 1e-8              # small init scale (number in (0, 0.01])
    rs: tuple = (3, 5, 10)           # numbers of outputs (integers in [1, 50])
    seeds: int = 4                   # seeds per r (integer in [1, 1000])
    T: int = 2500                    # GD steps (integer in [100, 200000])
    every: int = 10                  # record every this many steps (integer in [1, 1000])
    T_large: int = 2500              # steps of the σ = 1 contrast (integer in [100, 200000])
    seeds_large: int = 5             # seeds of the contrast (integer in [1, 1000])
    contrast: bool = True            # also run μ/2 and σ = 1 (False: only the figures, for the widget)
    PROFILES = {"smoke": dict(rs=(3,), seeds=1, T=500, T_large=500, seeds_large=1), "cpu": {},
                "paper": dict(rs=(3, 5, 10, 20), seeds=20, T=4000, T_large=5000, seeds_large=20)}

    def validate(self):
        if not isinstance(self.rs, (list, tuple)) or not self.rs:
            raise ValueError(f"rs must be a non-empty list of integers in [1, 50], got {self.rs!r}")
        for r in self.rs:
            validate.int_in("rs", r, 1, 50)
        validate.int_in("d", self.d, max(self.rs), MAX_D)
        validate.in_range("mu", self.mu, 0.0, 1.0, lo_open=True)
        validate.in_range("sigma", self.sigma, 0.0, 0.01, lo_open=True)
        validate.int_in("seeds", self.seeds, 1, 1000)
        validate.int_in("T", self.T, 100, MAX_T)
        validate.int_in("every", self.every, 1, 1000)
        validate.int_in("T_large", self.T_large, 100, MAX_T)
        validate.int_in("seeds_large", self.seeds_large, 1, 1000)

    def resources(self):
        k, r = 2 * max(self.rs), max(self.rs)
        return Resources(host_bytes=(self.T // self.every + 2) * self.seeds * k * (self.d + r) * 8 * 2 * len(self.rs))


def _train_pairs(cfg: PairingConfig, ctx: RunContext, r, sigma, mu, T, seeds, key, keep=True):
    A = mdl.planted_target(cfg.d, r, dtype=ctx.dtype, device=ctx.device)
    V0, W0 = mdl.init_xavier(2 * r, cfg.d, r, sigma, seeds, generator=ctx.generator("pairing", key, r),
                             dtype=ctx.dtype, device=ctx.device)
    tr = dyn.run_gd(V0, W0, A, mu=mu, steps=T, keep=keep, every=cfg.every, knobs="mu")
    _check_runs(tr, f"pairing r = {r}")
    return A, tr


def _pair_stats(A, tr, mode="exact"):
    V, W = tr.final
    out = [th.match_pairs(V[j], W[j], mode) for j in range(V.shape[0])]
    vtw = (V.transpose(-1, -2) @ W - 2 * A).flatten(1).norm(dim=1).cpu().numpy()
    return out, vtw


@dataclass
class PairingResult:
    """Per r: seed 0's trajectories in random 2-frames, its pairing; over seeds: losses, pairing errors, ‖VᵀW − 2A‖."""

    panels: dict                     # r → dict(V (n_rec, k, 2), W (n_rec, k, 2), partner, loss)
    err: dict                        # r → (seeds,) max relative pairing error
    err_half: np.ndarray             # pairing errors at μ/2 for the first r (same seeds)
    large: dict                      # σ = 1 contrast: loss, exact error, scale-invariant cost
    metrics: dict


def pairing_panel(cfg: PairingConfig, ctx: RunContext, r: int, sigma: float):
    """Return one Figs. 6–8 panel (seed 0's trajectories of both layers in random 2-frames, its pairing, final
    loss) for ``r`` outputs from Xavier × ``sigma``, with the trajectory, pairings and ‖VᵀW − 2A‖ of every seed."""
    A, tr = _train_pairs(cfg, ctx, r, sigma, cfg.mu, cfg.T, cfg.seeds, "small")
    ps, vtw = _pair_stats(A, tr)
    g = ctx.generator("pairing", "frame", r)
    FW = th.random_frame(cfg.d, 2, within=A, generator=g, dtype=ctx.dtype, device=ctx.device)
    FV = th.random_frame(r, 2, generator=g, dtype=ctx.dtype, device=ctx.device)
    panel = dict(V=(tr.V[:, 0] @ FV.T).cpu().numpy(), W=(tr.W[:, 0] @ FW.T).cpu().numpy(),
                 partner=ps[0].partner, loss=float(tr.loss[-1, 0]))
    return panel, tr, ps, vtw


def pairing(cfg: PairingConfig, ctx: RunContext) -> PairingResult:
    """Return Figs. 6–8's runs, the pairing statistics, the error at μ/2 and the σ = 1 contrast."""
    panels, err, losses, vtws, invs = {}, {}, [], [], []
    for r in cfg.rs:
        panels[r], tr, ps, vtw = pairing_panel(cfg, ctx, r, cfg.sigma)
        err[r] = np.array([p.max_rel_error for p in ps])
        losses.append(float(np.max(tr.loss[-1])))
        vtws.append(float(vtw.max()))
        invs += [p.involution for p in ps]
    r0 = cfg.rs[0]
    if not cfg.contrast:
        return PairingResult(panels, err, np.array([]), {}, {})
    A, trh = _train_pairs(cfg, ctx, r0, cfg.sigma, cfg.mu / 2, 2 * cfg.T, cfg.seeds, "small", keep=False)
    err_half = np.array([p.max_rel_error for p in _pair_stats(A, trh)[0]])
    A, trl = _train_pairs(cfg, ctx, r0, 1.0, cfg.mu, cfg.T_large, cfg.seeds_large, "large", keep=False)
    ex_, _ = _pair_stats(A, trl, "exact")
    si_, _ = _pair_stats(A, trl, "scale_invariant")
    large = dict(loss=trl.loss[-1], exact=np.array([p.max_rel_error for p in ex_]),
                 si=np.array([p.max_rel_error for p in si_]))
    metrics = dict(max_loss=max(losses), max_err=float(max(e.max() for e in err.values())), max_vtw=max(vtws),
                   involution_all=bool(all(invs)), ratio_median=float(np.median(err_half / err[r0])),
                   large_max_loss=float(np.max(large["loss"])), large_si_max=float(large["si"].max()),
                   large_exact_median=float(np.median(large["exact"])), n_runs=len(invs))
    return PairingResult(panels, err, err_half, large, metrics)


# ============================================================================ notebook 06: finite samples
@dataclass(frozen=True)
class SampleConfig(Config):
    """Empirical GD from the χ-init against n/d for several d; the local rate; Lemmas 10–11; r outputs."""

    mu: float = 0.1                  # step size (number in (0, 1])
    sigma: float = 1e-4              # χ-init scale (number in (0, 0.1])
    ds: tuple = (25, 50, 100)        # dimensions (integers in [2, 2000])
    ratios: tuple = (1.5, 2.0, 2.5, 3.0, 3.5, 4.0)   # n/d values (each in [0.5, 1000])
    seeds: int = 6                   # seeds per (d, n/d) (integer in [1, 10000])
    T: int = 4000                    # GD steps (integer in [100, 200000])
    dev_d: int = 40                  # d of Lemma 11's trajectories (integer in [2, 2000])
    dev_ratios: tuple = (4.0, 8.0, 16.0, 32.0)       # their n/d (each in [0.5, 1000])
    dev_seeds: int = 3               # their seeds (integer in [1, 10000])
    dev_T: int = 1200                # their steps (integer in [100, 200000])
    m_d: int = 20                    # d of the Lemma 10 estimate (integer in [2, 500])
    m_ratios: tuple = (4.0, 16.0, 64.0, 256.0)       # its n/d (each in [0.5, 10000])
    m_pairs: int = 256               # random (w, w*) pairs searched (integer in [8, 100000])
    rs: tuple = (1, 2, 3)            # outputs of the multi-output sweep, k = 2r (integers in [1, 20])
    r_d: int = 20                    # its d (integer in [2, 2000])
    r_ratios: tuple = (1.0, 2.0, 3.0, 4.0, 6.0)      # its n/(r d) (each in [0.5, 1000])
    r_seeds: int = 6                 # its seeds (integer in [1, 10000])
    PROFILES = {"smoke": dict(ds=(10, 20), ratios=(1.5, 2.5, 4.0), seeds=3, T=1500, dev_d=20, dev_ratios=(4.0, 16.0),
                              dev_seeds=2, dev_T=600, m_ratios=(4.0, 16.0), m_pairs=32, rs=(1, 2), r_d=10,
                              r_ratios=(2.0, 4.0), r_seeds=2),
                "cpu": {}, "paper": dict(ds=(25, 50, 100, 200, 400), seeds=16, dev_seeds=10, m_pairs=4096, r_seeds=24)}

    def validate(self):
        validate.in_range("mu", self.mu, 0.0, 1.0, lo_open=True)
        validate.in_range("sigma", self.sigma, 0.0, 0.1, lo_open=True)
        for n in ("ds", "rs"):
            v = getattr(self, n)
            if not isinstance(v, (list, tuple)) or not v:
                raise ValueError(f"{n} must be a non-empty list of integers, got {v!r}")
        for x in self.ds:
            validate.int_in("ds", x, 2, 2000)
        for x in self.rs:
            validate.int_in("rs", x, 1, 20)
        _floats("ratios", self.ratios, 0.5, 1000.0, lo_open=False)
        _floats("dev_ratios", self.dev_ratios, 0.5, 1000.0, lo_open=False)
        _floats("m_ratios", self.m_ratios, 0.5, 10000.0, lo_open=False)
        _floats("r_ratios", self.r_ratios, 0.5, 1000.0, lo_open=False)
        validate.int_in("seeds", self.seeds, 1, 10_000)
        validate.int_in("T", self.T, 100, MAX_T)
        validate.int_in("dev_d", self.dev_d, 2, 2000)
        validate.int_in("dev_seeds", self.dev_seeds, 1, 10_000)
        validate.int_in("dev_T", self.dev_T, 100, MAX_T)
        validate.int_in("m_d", self.m_d, 2, 500)
        validate.int_in("m_pairs", self.m_pairs, 8, 100_000)
        validate.int_in("r_d", self.r_d, 2, 2000)
        validate.int_in("r_seeds", self.r_seeds, 1, 10_000)

    def resources(self):
        dm = max(self.ds)
        a = len(self.ratios) * self.seeds * max(self.ratios) * dm * dm * 8 * 3
        b = len(self.dev_ratios) * self.dev_seeds * max(self.dev_ratios) * self.dev_d ** 2 * 8 * 3
        b += (self.dev_T // 10 + 2) * len(self.dev_ratios) * self.dev_seeds * 4 * self.dev_d * 8 * 3
        c = self.m_pairs * (self.m_d ** 2 * 8 * 4 + max(self.m_ratios) * self.m_d * 8)
        e = len(self.r_ratios) * self.r_seeds * max(self.r_ratios) * max(self.rs) * self.r_d ** 2 * 8 * 3
        return Resources(host_bytes=a + b + c + e)


def _empirical_sweep(d, ns, seeds, T, mu, sigma, ctx, key, *, r=1, init="thm2", every=25, keep=False):
    """Empirical GD batched over sample sizes (zero-padded) and seeds; returns A, X, n per run, trajectory."""
    A = mdl.planted_target(d, r, dtype=ctx.dtype, device=ctx.device)
    B = len(ns) * seeds
    X = torch.zeros(B, max(ns), d, dtype=ctx.dtype, device=ctx.device)
    nvec = torch.tensor(np.repeat(ns, seeds), dtype=ctx.dtype, device=ctx.device)
    for i, n in enumerate(ns):
        X[i * seeds:(i + 1) * seeds, :n] = dyn.gaussian_data(n, A, seeds, generator=ctx.generator(key, "data", i))[0]
    Y = X @ A.T
    g = ctx.generator(key, "init")
    if init == "thm2":
        V0, W0 = mdl.init_thm2(d, sigma, seeds, generator=g, dtype=ctx.dtype, device=ctx.device)
        met = dyn.metrics_k2(A[0])
    else:
        V0, W0 = mdl.init_xavier(2 * r, d, r, sigma, seeds, generator=g, dtype=ctx.dtype, device=ctx.device)
        met = None
    V0, W0 = V0.repeat(len(ns), 1, 1), W0.repeat(len(ns), 1, 1)        # same init for every n
    tr = dyn.run_gd(V0, W0, A, mu=mu, steps=T, loss_grad=lambda V, W: dyn.emp_loss_grad(V, W, X, Y, nvec),
                    metrics=met, every=every, keep=keep, knobs="mu or sigma")
    _check_runs(tr, f"empirical GD (d = {d})")
    return A, X, nvec, tr, (V0, W0)


def _crossing(q, frac):
    """Return the n/d where the success fraction first crosses ½ (linear interpolation; NaN if never)."""
    above = np.flatnonzero(frac >= 0.5)
    if not above.size:
        return float("nan")
    j = above[0]
    if j == 0:
        return float(q[0])
    return float(q[j - 1] + (0.5 - frac[j - 1]) * (q[j] - q[j - 1]) / (frac[j] - frac[j - 1]))


@dataclass
class SampleResult:
    """‖h‖² and population loss after T steps per (d, n/d, seed); threshold crossings; local-rate fits."""

    ds: tuple
    ratios: np.ndarray
    h2: dict                         # d → (n_ratios, seeds)
    pop_loss: dict
    crossing: dict                   # d → n/d where half the seeds recover (‖h‖² < 1e-6)
    pred_slope: np.ndarray
    fit_slope: np.ndarray
    fit_ratio: np.ndarray
    metrics: dict


def sample_complexity(cfg: SampleConfig, ctx: RunContext) -> SampleResult:
    """Return spec P22 (recovery against n/d for each d, T steps) and P23 (slope of ln‖h‖² on [1e-20, 1e-3]
    against 2ln(1 − μλ_min) from each run's data, every run that recovered, largest d)."""
    q = np.array(cfg.ratios, dtype=float)
    h2, Lp, cross, zero_l, ls_l = {}, {}, {}, [], []
    for d in cfg.ds:
        ns = [max(int(round(x * d)), 1) for x in q]
        A, X, nvec, tr, _ = _empirical_sweep(d, ns, cfg.seeds, cfg.T, cfg.mu, cfg.sigma, ctx, ("sample", d))
        h2[d] = tr.metrics["h2"][-1].reshape(len(q), cfg.seeds)
        Lp[d] = mdl.pop_loss(*tr.final, A).cpu().numpy().reshape(len(q), cfg.seeds)
        cross[d] = _crossing(q, (h2[d] < 1e-6).mean(1))
        Y = X @ A.T                                                  # linear least squares on the same samples
        ahat = torch.linalg.lstsq(X, Y).solution[..., 0]              # (B, d); min-norm when n < d
        ls_l.append(float(np.median(0.5 * ((ahat - A[0]) ** 2).sum(-1).cpu().numpy())))
        zero_l.append(0.5 * float((A ** 2).sum()))
        if d == cfg.ds[-1]:
            dL, trL, XL, nL, AL = d, tr, X, nvec, A
    pred, fits, rr = [], [], []
    for b in range(trL.metrics["h2"].shape[1]):
        h = trL.metrics["h2"][:, b]
        if h[-1] >= 1e-6:                                            # not recovered (P22's threshold)
            continue
        try:
            f = fit.fit_linear_rate(h, lo=1e-20, hi=1e-3, t=trL.t)
        except ValueError:
            continue
        n = int(nL[b])
        pred.append(th.empirical_local_slope(XL[b, :n], AL[0], cfg.mu))
        fits.append(math.log(f.rate))
        rr.append(n / dL)
    pred, fits, rr = map(np.array, (pred, fits, rr))
    rel = np.abs(fits / pred - 1) if fits.size else np.array([])
    hi = q >= 4
    lo = q <= 1.5
    cv = np.array(list(cross.values()))
    metrics = dict(median_h2_at_4=float(max(np.median(h2[d][hi]) for d in cfg.ds)) if hi.any() else -1.0,
                   median_h2_at_15=float(min(np.median(h2[d][lo]) for d in cfg.ds)) if lo.any() else -1.0,
                   crossing_min=float(np.nanmin(cv)) if np.isfinite(cv).any() else -1.0,
                   crossing_max=float(np.nanmax(cv)) if np.isfinite(cv).all() else 99.0,
                   net_pop_loss_at_4=float(max(np.median(Lp[d][hi]) for d in cfg.ds)) if hi.any() else -1.0,
                   zero_loss=min(zero_l), ls_loss=max(ls_l),
                   rate_max_rel=float(rel.max()) if rel.size else -1.0,
                   rate_median_rel=float(np.median(rel)) if rel.size else -1.0, n_rate_runs=int(rel.size))
    return SampleResult(cfg.ds, q, h2, Lp, cross, pred, fits, rr, metrics)


@dataclass
class DeviationResult:
    """Lemma 11's ratio R per (n/d, seed) along empirical GD, and Lemma 10's sup estimate per (n/d, seed)."""

    dev_ratios: np.ndarray
    R: np.ndarray                    # (n_ratios, seeds)
    m_ratios: np.ndarray
    sup_M: np.ndarray                # (n_ratios, seeds)
    metrics: dict


def deviations(cfg: SampleConfig, ctx: RunContext) -> DeviationResult:
    """Return Lemma 11's R(n) = max_τ max_i ‖∇_{w_i}L̂ − ∇_{w_i}L‖ / (|v_i|(‖h₁‖+‖h₂‖)) (steps with ‖h‖ ≥ 1e-6) and a
    random-search lower estimate of Lemma 10's sup over unit (w, w*) of ‖M̂(w, w*) − E M(w, w*)‖ (spectral norm),
    with M̂ = (1/n) Σ 1{wᵀx ≥ 0} 1{w*ᵀx ≥ 0} x xᵀ."""
    d = cfg.dev_d
    ns = [int(round(x * d)) for x in cfg.dev_ratios]
    A, X, nvec, tr, _ = _empirical_sweep(d, ns, cfg.dev_seeds, cfg.dev_T, cfg.mu, cfg.sigma, ctx, "lemma11",
                                         every=10, keep=True)
    Y = X @ A.T
    Vt, Wt = tr.V, tr.W
    gWe = torch.stack([dyn.emp_loss_grad(Vt[i], Wt[i], X, Y, nvec)[2] for i in range(Vt.shape[0])])
    _, gWp = mdl.pop_grad(Vt, Wt, A)
    h1, h2 = mdl.errors_k2(Vt, Wt, A[0])
    hn = h1.norm(dim=-1) + h2.norm(dim=-1)
    ratio = (gWe - gWp).norm(dim=-1) / (Vt[..., 0].abs() * hn.unsqueeze(-1))
    ratio = torch.where((hn > 1e-6).unsqueeze(-1), ratio, torch.zeros_like(ratio))
    R = ratio.amax(dim=(0, 2)).cpu().numpy().reshape(len(ns), cfg.dev_seeds)
    fR = fit.fit_power_law(np.array(cfg.dev_ratios), R.mean(1)) if len(ns) >= 3 else None
    md = cfg.m_d
    sup = np.zeros((len(cfg.m_ratios), cfg.dev_seeds))
    g = ctx.generator("lemma10", "pairs")
    w = torch.randn(cfg.m_pairs, md, generator=g, dtype=ctx.dtype, device=ctx.device)
    w = w / w.norm(dim=-1, keepdim=True)
    phi = math.pi * torch.rand(cfg.m_pairs, 1, generator=g, dtype=ctx.dtype, device=ctx.device) * 0.98 + 0.01
    z = torch.randn(cfg.m_pairs, md, generator=g, dtype=ctx.dtype, device=ctx.device)
    z = z - (z * w).sum(-1, keepdim=True) * w
    ws = torch.cos(phi) * w + torch.sin(phi) * z / z.norm(dim=-1, keepdim=True)
    EM = th.expected_M(w, ws)
    for i, x in enumerate(cfg.m_ratios):
        n = int(round(x * md))
        for s in range(cfg.dev_seeds):
            Xs = torch.randn(n, md, generator=ctx.generator("lemma10", "data", i, s), dtype=ctx.dtype, device=ctx.device)
            mask = ((Xs @ w.T >= 0) & (Xs @ ws.T >= 0)).to(ctx.dtype)           # (n, P)
            Mh = torch.einsum("np,nd,ne->pde", mask, Xs, Xs) / n
            sup[i, s] = float(torch.linalg.matrix_norm(Mh - EM, ord=2).max())
    fM = fit.fit_power_law(np.array(cfg.m_ratios), sup.mean(1)) if len(cfg.m_ratios) >= 3 else None
    metrics = dict(R_max=float(R.max()), R_slope=fR.exponent if fR else -99.0,
                   M_slope=fM.exponent if fM else -99.0, M_sup_max=float(sup.max()), n_R=len(ns),
                   n_M=len(cfg.m_ratios))
    return DeviationResult(np.array(cfg.dev_ratios), R, np.array(cfg.m_ratios), sup, metrics)


@dataclass
class MultiOutputResult:
    """Recovery of r outputs (k = 2r) from n = c·r·d samples, among seeds whose population run succeeds."""

    rs: tuple
    ratios: np.ndarray
    success: np.ndarray              # (n_r, n_ratios) fraction recovered, conditional on population success
    crossing: np.ndarray             # (n_r,) n/(r d) where half recover
    metrics: dict


def multi_output(cfg: SampleConfig, ctx: RunContext) -> MultiOutputResult:
    """Return the §4 empirical multi-output case: empirical GD (Xavier × σ, k = 2r) against n/(r d), recovery =
    population loss of the final net < 1e-10; seeds whose population-GD run (same init) fails are left out,
    so the curve measures the samples, not the initial sign pattern."""
    q = np.array(cfg.r_ratios, dtype=float)
    succ, cross = [], []
    for r in cfg.rs:
        ns = [int(round(x * r * cfg.r_d)) for x in q]
        A, _, _, tr, (V0, W0) = _empirical_sweep(cfg.r_d, ns, cfg.r_seeds, cfg.T, cfg.mu, cfg.sigma, ctx,
                                                 ("multi", r), r=r, init="xavier")
        ok = (mdl.pop_loss(*tr.final, A) < 1e-10).cpu().numpy().reshape(len(q), cfg.r_seeds)
        trp = dyn.run_gd(V0[:cfg.r_seeds], W0[:cfg.r_seeds], A, mu=cfg.mu, steps=cfg.T, knobs="mu or sigma")
        good = trp.loss[-1] < 1e-10
        frac = ok[:, good].mean(1) if good.any() else np.full(len(q), np.nan)
        succ.append(frac)
        cross.append(_crossing(q, frac))
    cross = np.array(cross)
    fin = np.isfinite(cross)
    metrics = dict(r_crossing_spread=float(np.ptp(cross)) if fin.all() else 99.0,
                   r_crossing_growth=float(cross[-1] - cross[0]) if fin.all() else 99.0,
                   r_crossing_max=float(np.nanmax(cross)) if fin.any() else 99.0, n_r=len(cfg.rs))
    return MultiOutputResult(cfg.rs, q, np.array(succ), cross, metrics)
