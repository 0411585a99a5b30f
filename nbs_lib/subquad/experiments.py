"""Chapter 003's experiments: one function per figure, table and claim protocol (the experiment contract).

Each ``f(cfg, ctx)`` takes a validated :class:`~nbs_lib.experiment.Config` (sizes from the profile plus the
notebook's knobs) and the :class:`~nbs_lib.context.RunContext`, returns a result dataclass of arrays and the
metrics its claims need, and plots nothing. Random draws use the context's streams: integer seeds from
``ctx.seeds(k, *keys)`` for the exact-in-law sampler (which draws on the CPU and moves to ``ctx.device``).

Notebook 01: :func:`constants_table`, :func:`density` (F1, Lemma F.6 on every layer), :func:`schedule` (F2,
Remark F.7 on every layer), :func:`norms` (F3, Lemma G.6), :func:`trunc_chi2` (Lemma G.3), :func:`product_norms`
(Lemma F.9). Notebook 03 adds :func:`perturbation` (Lemma F.10); notebook 05's :func:`lrm_cost` times both directions
of Corollary C.5. :func:`start` is every notebook's shared setup (run context and figure style).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import torch

from .. import fit, validate
from ..context import RunContext
from ..experiment import Config, Resources
from . import activations as act
from .model import implicit_forward, synthetic_sphere

_B = 8  # bytes per float64

#: upper limits of the size knobs (time on one CPU thread / memory of one GPU; see each Config.validate)
MAX_N, MAX_D, MAX_L, MAX_LOG2_M = 256, 4096, 8, 22


def start(profile: str = "cpu", device: str = "auto", seed: int = 0) -> RunContext:
    """Return the run context of a chapter-003 notebook and apply the book's figure style (the shared setup)."""
    from .. import plotting
    from ..context import run_context

    plotting.use_style()
    return run_context(profile, device, seed)


def _data(cfg, ctx: RunContext, corr: float = 0.0) -> torch.Tensor:
    """Return the unit-sphere inputs ``X: (d, n)`` of a config on ``ctx.device`` (stream ``"data"``)."""
    X, _ = synthetic_sphere(cfg.n, cfg.d, corr=corr, seed=ctx.seeds(1, "data", cfg.n, cfg.d)[0], dtype=ctx.dtype)
    return X.to(ctx.device)


def _check_common(cfg) -> None:
    validate.int_in("n", cfg.n, 2, MAX_N)
    validate.int_in("d", cfg.d, 2, MAX_D)


def _check_deep(cfg, grid: str, max_m: int = 2 ** MAX_LOG2_M) -> None:
    """Validate the knobs of the per-layer configs: n, d, depth L, width m, seeds and the threshold list ``grid``."""
    _check_common(cfg)
    validate.int_in("L", cfg.L, 2, MAX_L)
    validate.int_in("m", cfg.m, 16, max_m)
    validate.int_in("seeds", cfg.seeds, 1, 100)
    _b_grid(grid, getattr(cfg, grid), 3.0)


def _b_grid(name, vals, hi=6.0):
    vals = tuple(vals)
    if not vals or any(not isinstance(v, (int, float)) or isinstance(v, bool) or not 0 <= v <= hi for v in vals):
        raise ValueError(f"{name} must be a non-empty list of thresholds in [0, {hi:g}], got {vals!r}")
    return vals


# ----------------------------------------------------------------------------------------------- notebook 01
def constants_table(bs=(0.0, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0)):
    """Return a DataFrame of ``Q(b)``, ``e^{−b²/2}``, the normalisations and the norm-map slopes ``A(b)``."""
    import pandas as pd

    rows = []
    for b in bs:
        t, s = act.act_constants("threshold", b), act.act_constants("shifted", b)
        rows.append({"b": b, "Q(b)": t["Q"], "exp(-b²/2)": math.exp(-b * b / 2), "c_thr": t["c"], "c_sh": s["c"],
                     "A_thr": t["A"], "A_sh": s["A"]})
    return pd.DataFrame(rows)


@dataclass(frozen=True)
class DensityConfig(Config):
    """F1: density of active units at every layer against ``b`` (Lemma F.6)."""

    n: int = 16                                  # samples (integer in [2, 256])
    d: int = 16                                  # input dimension (integer in [2, 4096])
    L: int = 4                                   # depth (integer in [2, 8])
    m: int = 4096                                # width (integer in [16, 2^22])
    seeds: int = 3                               # independent networks (integer in [1, 100])
    b_grid: tuple = (0.0, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0)   # thresholds (numbers in [0, 3])
    PROFILES = {"smoke": dict(m=1024, seeds=1, b_grid=(0.0, 1.0, 2.0)), "cpu": {},
                "paper": dict(m=16384, seeds=20)}

    def validate(self):
        _check_deep(self, "b_grid")

    def resources(self):
        return Resources(host_bytes=3 * self.L * self.m * self.n * _B)


@dataclass
class DensityResult:
    b: np.ndarray                 # (B,)
    Q: np.ndarray                 # (B,) exact firing probability at ‖h‖ = 1
    dens: dict                    # kind -> (B, seeds, L, n) fraction of active units of each sample and layer
    m: int
    max_ratio: np.ndarray         # (L,) shifted ReLU: max over b ≥ 0.5, seeds, samples of nnz / (m e^{−b²/2})
    layer1_dev: np.ndarray        # (B,) |mean density of layer 1 − Q(b)| (shifted)
    layer1_tol: np.ndarray        # (B,) 4 binomial standard errors + 2 % of Q(b)


def density(cfg: DensityConfig, ctx: RunContext) -> DensityResult:
    """Return the per-layer densities of both activations at width ``cfg.m`` (exact-in-law sampler)."""
    X = _data(cfg, ctx)
    b = np.asarray(cfg.b_grid, float)
    seeds = ctx.seeds(cfg.seeds, "density", cfg.m)
    dens = {}
    for kind in act.KINDS:
        rows = []
        for bb in b:
            spec = act.make_act(kind, float(bb), cfg.m)
            per_seed = []
            for s in seeds:
                Hs, P, _ = implicit_forward(X, cfg.m, cfg.L, spec, seed=s)
                per_seed.append(torch.stack([(H != 0).double().mean(0) for H in Hs]
                                            + [(P > spec.tau).double().mean(0)]).cpu().numpy())
            rows.append(per_seed)
        dens[kind] = np.asarray(rows)
    Q = np.array([act.Q(v) for v in b])
    sh = dens["shifted"]
    sel = b >= 0.5
    ratio = sh[sel].max(axis=(1, 3)) / np.exp(-b[sel] ** 2 / 2)[:, None]          # (B', L)
    d1 = sh[:, :, 0, :].reshape(len(b), -1).mean(1)
    tol = 4 * np.sqrt(Q * (1 - Q) / (cfg.m * cfg.n * cfg.seeds)) + 0.02 * Q
    return DensityResult(b, Q, dens, cfg.m, ratio.max(0), np.abs(d1 - Q), tol)


@dataclass(frozen=True)
class ScheduleConfig(Config):
    """F2: active units per layer under the schedule ``b = √(2α log m)`` (Remark F.7)."""

    n: int = 16
    d: int = 16
    L: int = 4                                   # depth (integer in [2, 8])
    log2_widths: tuple = tuple(range(9, 17))     # log2 of the widths (integers in [4, 22])
    alphas: tuple = (0.1, 0.25, 0.5)             # sparsity exponents (numbers in (0, 1))
    PROFILES = {"smoke": dict(log2_widths=(9, 11)), "cpu": {}, "paper": dict(log2_widths=tuple(range(9, 21)))}

    def validate(self):
        _check_common(self)
        validate.int_in("L", self.L, 2, MAX_L)
        w = validate.int_list("log2_widths", self.log2_widths, minimum=4)
        if max(w) > MAX_LOG2_M or len(w) < 2:
            raise ValueError(f"log2_widths must hold at least 2 integers in [4, {MAX_LOG2_M}], got {self.log2_widths!r}")
        if not self.alphas or any(not isinstance(a, (int, float)) or not 0 < a < 1 for a in self.alphas):
            raise ValueError(f"alphas must be numbers in (0, 1), got {self.alphas!r}")

    def resources(self):
        return Resources(host_bytes=3 * self.L * 2 ** max(self.log2_widths) * self.n * _B)


@dataclass
class ScheduleResult:
    m: np.ndarray                 # (M,)
    alphas: tuple
    k_mean: np.ndarray            # (A, M, L) mean active units per sample
    k_max: np.ndarray             # (A, M, L) max over samples
    k_exact: np.ndarray           # (A, M) m·Q(b_m): the exact mean at ‖h‖ = 1
    slopes: np.ndarray            # (A, L) fitted exponent of k_mean against m
    under_all: np.ndarray         # (A,) bool: max count ≤ m^{1−α} at every width and layer


def schedule(cfg: ScheduleConfig, ctx: RunContext) -> ScheduleResult:
    """Return the active counts of every layer under ``b_m = √(2α log m)`` for each α and width."""
    X = _data(cfg, ctx)
    ms = 2 ** np.asarray(cfg.log2_widths)
    A, M = len(cfg.alphas), len(ms)
    k_mean, k_max, k_ex = np.zeros((A, M, cfg.L)), np.zeros((A, M, cfg.L)), np.zeros((A, M))
    for i, al in enumerate(cfg.alphas):
        for j, m in enumerate(ms):
            spec = act.make_act("shifted", act.b_for_sparsity(int(m), al), int(m))
            Hs, P, _ = implicit_forward(X, int(m), cfg.L, spec, seed=ctx.seeds(1, "schedule", al, int(m))[0])
            cnt = torch.stack([(H != 0).double().sum(0) for H in Hs] + [(P > spec.tau).double().sum(0)]).cpu()
            k_mean[i, j], k_max[i, j] = cnt.mean(1).numpy(), cnt.max(1).values.numpy()
            k_ex[i, j] = m * act.Q(spec.b)
    slopes = np.array([[fit.fit_power_law(ms, k_mean[i, :, l]).exponent for l in range(cfg.L)] for i in range(A)])
    bound = ms[None, :, None] ** (1 - np.asarray(cfg.alphas))[:, None, None]
    return ScheduleResult(ms, tuple(cfg.alphas), k_mean, k_max, k_ex, slopes, (k_max <= bound).all(axis=(1, 2)))


@dataclass(frozen=True)
class NormsConfig(Config):
    """F3: spread of the feature norms per layer (Lemma G.6) and its growth (our Finding 2)."""

    n: int = 16
    d: int = 16
    L: int = 4
    m: int = 4096
    seeds: int = 3
    bs: tuple = (0.0, 1.0, 1.5, 2.0)             # thresholds (numbers in [0, 3])
    PROFILES = {"smoke": dict(m=1024, seeds=1), "cpu": {}, "paper": dict(m=16384, seeds=20)}

    def validate(self):
        _check_deep(self, "bs")

    def resources(self):
        return Resources(host_bytes=3 * (self.L + 1) * self.m * self.n * _B)


@dataclass
class NormsResult:
    bs: tuple
    L: int
    m: int
    std: dict                     # (kind, b) -> (L,) std of ‖h_iℓ‖ over samples and seeds
    dev: dict                     # (kind, b) -> (L,) max |‖h_iℓ‖ − 1|
    pred: dict                    # (kind, b) -> (L,) linear-noise prediction ½√((V/m) Σ_{j<ℓ} A^{2j})
    layer1_dev: float             # max over kinds and b ≤ 1 of the layer-1 deviation
    deep_dev: float               # max over kinds and every b of the layer-L deviation
    growth: np.ndarray            # threshold b = 1.5: std_{ℓ+1}/std_ℓ
    A15: float                    # A(1.5) of the threshold activation
    amplification: float          # threshold b = 1.5: std_L / std_1
    relu_amplification: float     # b = 0: std_L / std_1


def norms(cfg: NormsConfig, ctx: RunContext) -> NormsResult:
    """Return the per-layer norm statistics of both activations at each threshold."""
    X = _data(cfg, ctx)
    seeds = ctx.seeds(cfg.seeds, "norms", cfg.m)
    std, dev, pred = {}, {}, {}
    for kind in act.KINDS:
        for b in cfg.bs:
            spec = act.make_act(kind, float(b), cfg.m)
            nrm = np.array([[H.norm(dim=0).cpu().numpy() for H in implicit_forward(X, cfg.m, cfg.L + 1, spec,
                                                                                    seed=s)[0]] for s in seeds])
            flat = nrm.transpose(1, 0, 2).reshape(cfg.L, -1)
            std[kind, b], dev[kind, b] = flat.std(1), np.abs(flat - 1).max(1)
            k = act.act_constants(kind, float(b))
            pred[kind, b] = 0.5 * np.sqrt(k["V"] / cfg.m * np.cumsum(k["A"] ** (2 * np.arange(cfg.L))))
    small = [b for b in cfg.bs if b <= 1.0]
    thr = std.get(("threshold", 1.5))
    relu = std.get(("shifted", 0.0))
    return NormsResult(
        tuple(cfg.bs), cfg.L, cfg.m, std, dev, pred,
        max(dev[k, b][0] for k in act.KINDS for b in small) if small else math.nan,
        max(dev[k, b][-1] for k in act.KINDS for b in cfg.bs),
        thr[1:] / thr[:-1] if thr is not None else np.array([math.nan]),
        act.act_constants("threshold", 1.5)["A"],
        float(thr[-1] / thr[0]) if thr is not None else math.nan,
        float(relu[-1] / relu[0]) if relu is not None else math.nan)


@dataclass(frozen=True)
class TruncChi2Config(Config):
    """Lemma G.3: the b-truncated chi-square ``X = Σ_{i≤n} Y_i²``, ``Y_i ~ N(0,1) | Y_i > b``."""

    bs: tuple = (0.5, 1.0, 2.0)                  # truncation points (numbers in [0, 4])
    log2_n: tuple = tuple(range(4, 13))          # log2 of the number of terms (integers in [1, 16])
    draws: int = 2000                            # draws of X per (b, n) (integer in [100, 100000])
    PROFILES = {"smoke": dict(log2_n=(4, 6, 8), draws=400), "cpu": {}, "paper": dict(draws=20000)}

    def validate(self):
        _b_grid("bs", self.bs, 4.0)
        w = validate.int_list("log2_n", self.log2_n, minimum=1)
        if max(w) > 16 or len(w) < 2:
            raise ValueError(f"log2_n must hold at least 2 integers in [1, 16], got {self.log2_n!r}")
        validate.int_in("draws", self.draws, 100, 100000)

    def resources(self):
        return Resources(host_bytes=3 * self.draws * 2 ** max(self.log2_n) * _B)


@dataclass
class TruncChi2Result:
    bs: tuple
    n: np.ndarray                 # (N,)
    mean: np.ndarray              # (B, N) mean of X/n
    se: np.ndarray                # (B, N) its standard error
    std: np.ndarray               # (B, N) std of X/n
    mu: np.ndarray                # (B,) the lemma's centre 1 + bϕ(b)/Q(b)
    mu_particular: np.ndarray     # (B,) the "in particular" centre 1 + b(b+1)
    max_z: float                  # max |mean − mu| / se
    std_slope: np.ndarray         # (B,) fitted exponent of std(X/n) against n
    far_particular: float         # min over b of P(|X − n(1+b(b+1))| ≥ 0.1 n) at the largest n


def trunc_chi2(cfg: TruncChi2Config, ctx: RunContext) -> TruncChi2Result:
    """Return the moments of ``X/n`` by inverse-CDF sampling of the truncated normals (float64)."""
    ns = 2 ** np.asarray(cfg.log2_n)
    B, N = len(cfg.bs), len(ns)
    mean, se, std = np.zeros((B, N)), np.zeros((B, N)), np.zeros((B, N))
    far = np.zeros(B)
    for i, b in enumerate(cfg.bs):
        lo = 0.5 * math.erfc(-b / math.sqrt(2))                     # Φ(b)
        for j, n in enumerate(ns):
            u = torch.rand(cfg.draws, int(n), generator=ctx.generator("chi2", b, int(n), device="cpu"),
                           dtype=torch.float64, device="cpu")
            p = (lo + u * (1 - lo)).clamp(max=1 - 1e-16)
            Y = math.sqrt(2) * torch.erfinv(2 * p - 1)
            Xn = (Y * Y).mean(1).numpy()
            mean[i, j], std[i, j] = Xn.mean(), Xn.std(ddof=1)
            se[i, j] = std[i, j] / math.sqrt(cfg.draws)
            if j == N - 1:
                far[i] = float(np.mean(np.abs(Xn - (1 + b * (b + 1))) >= 0.1))
    bs = np.asarray(cfg.bs, float)
    mu = np.array([1 + b * act.pdf(b) / act.Q(b) for b in bs])
    slopes = np.array([fit.fit_power_law(ns, std[i]).exponent for i in range(B)])
    return TruncChi2Result(tuple(cfg.bs), ns, mean, se, std, mu, 1 + bs * (bs + 1),
                           float(np.max(np.abs(mean - mu[:, None]) / se)), slopes, float(far.min()))


@dataclass(frozen=True)
class ProductNormConfig(Config):
    """Lemma F.9: spectral norms of ``W_b D_{i,b−1} W_{b−1} ⋯ D_{i,a} W_a`` at initialisation, all ``a ≤ b``."""

    n: int = 4                                   # samples (integer in [2, 256])
    d: int = 16                                  # input dimension (integer in [2, 4096])
    L: int = 6                                   # depth (integer in [2, 8])
    m: int = 256                                 # width (integer in [16, 1024]: dense m×m products)
    seeds: int = 2                               # independent networks (integer in [1, 100])
    bs: tuple = (0.0, 1.0)                       # thresholds of the shifted ReLU (numbers in [0, 3])
    PROFILES = {"smoke": dict(m=64, L=4, seeds=1), "cpu": {}, "paper": dict(m=1024, L=8, seeds=5)}

    def validate(self):
        _check_deep(self, "bs", max_m=1024)

    def resources(self):
        return Resources(host_bytes=(self.L + 2 * self.n) * self.m ** 2 * _B)


@dataclass
class ProductNormResult:
    bs: tuple
    k: np.ndarray                 # (L−1,) number of weight matrices in the product, b − a + 1 (a ≥ 2)
    norm_max: np.ndarray          # (B, L−1) max over samples, seeds and pairs with that k of the spectral norm
    norm_med: np.ndarray          # (B, L−1) median over the same
    chi: np.ndarray               # (B,) mean-field growth m·E[φ'(g)² g²]/E[g²] per layer: 2c(Q(b) + bϕ(b))
    slopes: np.ndarray            # (B,) fitted exponent of norm_max against k (the lemma: at most 1/2)
    m: int


def product_norms(cfg: ProductNormConfig, ctx: RunContext) -> ProductNormResult:
    """Return the spectral norms of every product ``W_b D ⋯ D W_a`` of explicit networks (float64).

    Only the square layers ``2 ≤ a ≤ b ≤ L`` are used (the lemma takes every ``W_ℓ`` to be m×m; here ``W_1`` is m×d).
    """
    from .model import forward_all, init_network

    X = _data(cfg, ctx)
    L, B = cfg.L, len(cfg.bs)
    vals = [[[] for _ in range(L - 1)] for _ in range(B)]
    for ib, b in enumerate(cfg.bs):
        spec = act.make_act("shifted", float(b), cfg.m)
        for s in ctx.seeds(cfg.seeds, "f9", cfg.m, b):
            net = init_network(cfg.d, cfg.m, L, spec, seed=s, device=ctx.device)
            D = [act.dphi(P, spec).T for P in forward_all(net, X)[1]]        # (n, m) per layer
            for a in range(1, L):                                            # the m×m layers W_2 … W_L
                M = net.W[a].expand(cfg.n, *net.W[a].shape)
                for top in range(a, L):
                    if top > a:
                        M = net.W[top] @ (D[top - 1].unsqueeze(2) * M)
                    vals[ib][top - a].extend(torch.linalg.matrix_norm(M, ord=2).cpu().tolist())
    k = np.arange(1, L)
    nmax = np.array([[max(v) for v in row] for row in vals])
    nmed = np.array([[float(np.median(v)) for v in row] for row in vals])
    chi = np.array([2 * act.normalisation("shifted", float(b)) * (act.Q(b) + b * act.pdf(b)) for b in cfg.bs])
    return ProductNormResult(tuple(cfg.bs), k, nmax, nmed, chi,
                             np.array([fit.fit_power_law(k, r).exponent for r in nmax]), cfg.m)


# ----------------------------------------------------------------------------------------------- notebook 05
def _weights(m: int, ctx: RunContext, key, dtype=torch.float32) -> torch.Tensor:
    """Return an explicit ``W_L(0): (m, m)`` with entries ``N(0, 2/m)`` on ``ctx.device`` (stream ``key``)."""
    g = ctx.generator("W", key, m, device="cpu")
    return (torch.randn(m, m, generator=g, dtype=dtype, device="cpu") * math.sqrt(2 / m)).to(ctx.device)


@dataclass(frozen=True)
class SameIteratesConfig(Config):
    """Every GN implementation gives the same iterates; ΔW_L keeps rank ≤ n (Alg. 2–4, Lemma C.2)."""

    n: int = 32                                  # samples (integer in [2, 256])
    d: int = 16
    m: int = 256                                 # width of the explicit network (integer in [16, 512]: J is n×m²)
    steps: int = 4                               # GN steps compared (integer in [1, 20])
    PROFILES = {"smoke": dict(m=128, n=16), "cpu": {}, "paper": dict(m=512)}

    def validate(self):
        _check_common(self)
        validate.int_in("m", self.m, 16, 512)
        validate.int_in("steps", self.steps, 1, 20)

    def resources(self):
        return Resources(host_bytes=2 * self.n * self.m ** 2 * _B + 8 * self.m ** 2 * _B)


@dataclass
class SameIteratesResult:
    res: dict                     # implementation -> residual norms ‖r_t‖
    rel_diff: float               # max relative difference to dense GN above the round-off floor
    ranks: list                   # rank(W_L(t) − W_L(0)), t = 1..6 (η = 0.5)
    n: int


def same_iterates(cfg: SameIteratesConfig, ctx: RunContext) -> SameIteratesResult:
    """Return the residual sequences of six GN implementations and the ranks of ΔW_L(t)."""
    from . import trainers as tr
    from .model import frozen_features, init_network

    X, y = synthetic_sphere(cfg.n, cfg.d, seed=ctx.seeds(1, "data", cfg.n, cfg.d)[0], dtype=ctx.dtype)
    X, y = X.to(ctx.device), y.to(ctx.device)
    spec = act.make_act("shifted", 1.0, cfg.m)
    net = init_network(cfg.d, cfg.m, 2, spec, seed=ctx.seeds(1, "same", cfg.m)[0], device=ctx.device)
    H, W, a = frozen_features(net, X), net.W[-1], net.a
    impls = {"dense GN": tr.DenseGN(H, W, a, y, spec), "Alg. 2, restart never": tr.PaperGN(H, W, a, y, spec),
             "Alg. 2, restart ⌈m^0.32⌉": tr.PaperGN(H, W, a, y, spec, restart="paper"),
             "Alg. 2, merge same V": tr.PaperGN(H, W, a, y, spec, merge_same_V=True),
             "explicit-Jacobian GN": tr.ExplicitJacobianGN(H, W, a, y, spec),
             "frozen-feature GN": tr.FrozenFeatureGN(H, W @ H, a, y, spec)}
    res = {k: tr.run(v, cfg.steps, tol=1e-12)["res"] for k, v in impls.items()}
    T = min(len(v) for v in res.values())
    ref = res["dense GN"][:T]
    above = ref / ref[0] >= 1e-10
    rel = max(float(np.max(np.abs(v[:T] - ref)[above] / ref[above])) for v in res.values())
    dense = tr.DenseGN(H, W, a, y, spec, eta=0.5)
    ranks = []
    for _ in range(6):
        dense.step()
        ranks.append(int(torch.linalg.matrix_rank(dense.W - W, rtol=1e-8)))
    return SameIteratesResult(res, rel, ranks, cfg.n)


@dataclass(frozen=True)
class RuntimeConfig(Config):
    """F13: time per GN iteration against m (float32, one CPU thread in the book), all timings by ``bench``."""

    n: int = 32                                  # samples (integer in [2, 256])
    d: int = 16
    widths: tuple = (512, 1024, 2048, 4096, 8192)   # widths (integers in [64, 32768])
    repeats: int = 9                             # interleaved timed rounds (integer in [3, 100])
    alpha_sp: float = 0.25                       # sparsity exponent of the schedule (number in (0, 1))
    PROFILES = {"smoke": dict(widths=(256, 512), repeats=3), "cpu": {},
                "paper": dict(widths=(2048, 4096, 8192, 16384, 32768), repeats=11)}

    def validate(self):
        _check_common(self)
        w = validate.int_list("widths", self.widths, minimum=64)
        if max(w) > 32768 or len(w) < 2:
            raise ValueError(f"widths must hold at least 2 integers in [64, 32768], got {self.widths!r}")
        validate.int_in("repeats", self.repeats, 3, 100)
        validate.in_range("alpha_sp", self.alpha_sp, 0, 1, lo_open=True, hi_open=True)

    def resources(self):
        m = max(self.widths)
        return Resources(host_bytes=6 * m * m * 4, device_bytes=6 * m * m * 4)


@dataclass
class RuntimeResult:
    m: np.ndarray
    n: int
    variants: tuple                       # dense, alg2 (b=1), alg2 (schedule), frozen
    median_ms: dict                       # variant -> (M,)
    q1_ms: dict
    q3_ms: dict
    flops: dict                           # variant -> (M,) counted flops of one step
    weight_reads: dict                    # alg2 variants -> (M,) weight entries read per step
    time_exp: dict                        # variant -> fitted wall-clock exponent over all widths
    speedup_frozen: np.ndarray            # (M,) dense / frozen, medians
    speedup_frozen_ci: np.ndarray         # (M, 2) conservative range from the quartiles
    speedup_alg2: np.ndarray              # (M,) dense / alg2 (schedule)
    speedup_alg2_ci: np.ndarray
    flop_ratio: np.ndarray                # (M,) op-count model dense / frozen
    threads: int
    device: str
    measurements: list = field(default_factory=list)   # bench.Measurement per width, to publish


def runtime(cfg: RuntimeConfig, ctx: RunContext) -> RuntimeResult:
    """Return the interleaved timings (median, quartiles) of one GN step of each trainer at every width; each
    sample runs consecutive steps of one trainer for at least 10 ms (``bench.compare(min_sample_s=0.01)``)."""
    from .. import bench
    from . import ops
    from . import trainers as tr
    from .model import implicit_features

    X, y = synthetic_sphere(cfg.n, cfg.d, seed=ctx.seeds(1, "data", cfg.n, cfg.d)[0], dtype=ctx.dtype)
    X, y = X.to(ctx.device), y.to(ctx.device, torch.float32)
    names = ("dense", "alg2 (b=1)", "alg2 (schedule)", "frozen")
    med, q1, q3, fl = ({k: [] for k in names} for _ in range(4))
    reads = {k: [] for k in names[1:3]}
    spd, spd_ci, spa, spa_ci, meas = [], [], [], [], []
    for m in cfg.widths:
        W = _weights(m, ctx, "runtime")
        made = {}
        for label, b in (("b=1", 1.0), ("schedule", act.b_for_sparsity(m, cfg.alpha_sp))):
            spec = act.make_act("shifted", b, m)
            H, _, a = implicit_features(X, m, 2, spec, seed=ctx.seeds(1, "runtime", m)[0])
            H, a = H.float(), a.float()
            made[f"alg2 ({label})"] = tr.PaperGN(H, W, a, y, spec, track=False, eta=0.5)
            if label == "b=1":
                made["dense"] = tr.DenseGN(H, W, a, y, spec, track=False, eta=0.5)
                made["frozen"] = tr.FrozenFeatureGN(H, W @ H, a, y, spec, track=False, eta=0.5)
        for k in names:
            fl[k].append(made[k].step()["flops"])
        for k in reads:
            before = made[k].lrm.counters["weight_reads"]
            made[k].step()
            reads[k].append(made[k].lrm.counters["weight_reads"] - before)
        # a sample runs ≥ 10 ms of consecutive steps of one trainer, as in a training loop: a 1 ms step timed once
        # right after a 58 ms dense step would read the operands that step evicted
        t = bench.compare({k: made[k].step for k in names}, repeats=cfg.repeats, device=str(ctx.device),
                          min_sample_s=0.01)
        pred = {k: fl["dense"][-1] / fl[k][-1] for k in names}
        meas.append(bench.Measurement(f"one GN step, m = {m}, n = {cfg.n}", t, baseline="dense",
                                      sizes={"m": m, "n": cfg.n}, dtype="float32", expected_ratio=pred,
                                      note="predicted: the ratio of counted flops of one step"))
        for k in names:
            med[k].append(1e3 * t[k].median)
            q1[k].append(1e3 * t[k].q1)
            q3[k].append(1e3 * t[k].q3)
        s, ci = bench.speedup(t, "dense", "frozen")
        spd.append(s), spd_ci.append(ci)
        s, ci = bench.speedup(t, "dense", "alg2 (schedule)")
        spa.append(s), spa_ci.append(ci)
        del made, W
    ms = np.asarray(cfg.widths, float)
    arr = lambda dct: {k: np.asarray(v, float) for k, v in dct.items()}
    med = arr(med)
    ratio = np.array([ops.op_count("dense", n=cfg.n, m=int(m))["flops"] / ops.op_count("frozen", n=cfg.n, m=int(m))[
        "flops"] for m in ms])
    return RuntimeResult(ms, cfg.n, names, med, arr(q1), arr(q3), arr(fl), arr(reads),
                         {k: fit.fit_power_law(ms, med[k]).exponent for k in names},
                         np.asarray(spd), np.asarray(spd_ci), np.asarray(spa), np.asarray(spa_ci), ratio,
                         torch.get_num_threads(), str(ctx.device), meas)


@dataclass(frozen=True)
class SparseForwardConfig(Config):
    """F14: ``W H`` through the active units only (embedding_bag over rows of Wᵀ) against one dense GEMM."""

    n: int = 32
    d: int = 16
    widths: tuple = (1024, 4096)                 # widths (integers in [64, 32768])
    bs: tuple = (1.0, 1.5, 2.0, 2.5)             # thresholds (numbers in [0, 4])
    repeats: int = 7                             # interleaved timed rounds (integer in [3, 100])
    PROFILES = {"smoke": dict(widths=(512,), repeats=3), "cpu": {}, "paper": dict(widths=(4096, 16384), repeats=11)}

    def validate(self):
        _check_common(self)
        w = validate.int_list("widths", self.widths, minimum=64)
        if max(w) > 32768:
            raise ValueError(f"widths must be integers in [64, 32768], got {self.widths!r}")
        _b_grid("bs", self.bs, 4.0)
        validate.int_in("repeats", self.repeats, 3, 100)

    def resources(self):
        return Resources(host_bytes=3 * max(self.widths) ** 2 * 4)


def sparse_forward(cfg: SparseForwardConfig, ctx: RunContext):
    """Return a DataFrame: m, b, density, dense GEMM and sparse gather medians (ms), speed-up and its range."""
    import pandas as pd

    from .. import bench
    from .lrm import sparse_left_product, to_sparse_cols
    from .model import implicit_features

    X = _data(cfg, ctx)
    rows = []
    for m in cfg.widths:
        W = _weights(m, ctx, "sparse")
        WT = W.T.contiguous()
        for b in cfg.bs:
            spec = act.make_act("shifted", float(b), m)
            H = implicit_features(X, m, 2, spec, seed=ctx.seeds(1, "sparse", m)[0])[0].float()
            Hs = to_sparse_cols(H)
            t = bench.compare({"dense": lambda: W @ H, "sparse": lambda: sparse_left_product(WT, Hs)},
                              repeats=cfg.repeats, device=str(ctx.device))
            s, (lo, hi) = bench.speedup(t, "dense", "sparse")
            rows.append({"m": m, "b": b, "density": Hs.nnz / H.numel(), "dense GEMM ms": 1e3 * t["dense"].median,
                         "sparse gather ms": 1e3 * t["sparse"].median, "speed-up": s, "range lo": lo, "range hi": hi})
    return pd.DataFrame(rows)


@dataclass(frozen=True)
class LrmCostConfig(Config):
    """Lemma C.4 / Cor. C.5: time of the forward query ``(W + ΔW) h`` with ΔW of rank r, sparse ``h``."""

    n: int = 32
    d: int = 16
    m: int = 4096                                # width (integer in [256, 32768])
    b: float = 2.0                               # threshold of the sparse input (number in [0, 4])
    ranks: tuple = (0, 64, 128, 256, 512)        # ranks r of ΔW (integers in [0, m])
    depths: tuple = (1, 2, 3, 4)                 # layers the backward vector u crosses (integers in [1, 8])
    repeats: int = 7
    PROFILES = {"smoke": dict(m=512, ranks=(0, 32, 64), depths=(1, 2, 3), repeats=3), "cpu": {},
                "paper": dict(m=16384, repeats=11)}

    def validate(self):
        _check_common(self)
        validate.int_in("m", self.m, 256, 32768)
        validate.in_range("b", self.b, 0, 4)
        if len(self.ranks) < 3 or any(not isinstance(r, int) or not 0 <= r <= self.m for r in self.ranks):
            raise ValueError(f"ranks must hold at least 3 integers in [0, m], got {self.ranks!r}")
        if len(self.depths) < 3 or any(not isinstance(j, int) or not 1 <= j <= 8 for j in self.depths):
            raise ValueError(f"depths must hold at least 3 integers in [1, 8], got {self.depths!r}")
        validate.int_in("repeats", self.repeats, 3, 100)

    def resources(self):
        return Resources(host_bytes=4 * self.m ** 2 * 4 + 4 * self.m * max(self.ranks) * 4)


@dataclass
class LrmCostResult:
    ranks: np.ndarray
    median_ms: np.ndarray                 # (R,)
    q1_ms: np.ndarray
    q3_ms: np.ndarray
    k: float                              # mean active units per column of the input
    m: int
    fit_r2: float                         # R² of the straight line t = t0 + c_r·r
    slope_ms_per_rank: float              # c_r
    ms_per_active: float                  # time of the sparse base product per active unit (r = 0)
    per_unit_ratio: float                 # c_r / (t(r=0)/k): cost of one rank against one active unit
    depths: np.ndarray = None             # (J,) layers crossed by the backward vector u (Cor. C.5)
    back_ms: np.ndarray = None            # (J,) median ms of u through that many layers, rank ranks[-1]
    back_q1_ms: np.ndarray = None
    back_q3_ms: np.ndarray = None
    back_r2: float = math.nan             # R² of a straight line through back_ms against the depth
    per_layer_ratio: float = math.nan     # fitted ms per layer / ms of one forward query v at the same rank


def _line_fit(x, y):
    """Return ``(slope, intercept, R²)`` of the least-squares line through ``(x, y)``."""
    c, t0 = np.polyfit(x, y, 1)
    return float(c), float(t0), float(1 - np.sum((y - t0 - c * x) ** 2) / np.sum((y - y.mean()) ** 2))


def _backward(struct_T, z, masks, depth):
    """Return ``u = D (W+ΔW)ᵀ D ⋯ (W+ΔW)ᵀ z`` through ``depth`` layers, each a sparse query (Cor. C.5)."""
    from .lrm import to_sparse_cols

    for _ in range(depth):
        z = struct_T.query(0, to_sparse_cols(z)) * masks
    return z


def lrm_cost(cfg: LrmCostConfig, ctx: RunContext) -> LrmCostResult:
    """Return the timings of ``LowRankMaintenance.query`` on sparse columns against the rank of ΔW."""
    from .. import bench
    from .lrm import LowRankMaintenance, to_sparse_cols
    from .model import implicit_features

    X = _data(cfg, ctx)
    spec = act.make_act("shifted", float(cfg.b), cfg.m)
    H = implicit_features(X, cfg.m, 2, spec, seed=ctx.seeds(1, "lrm", cfg.m)[0])[0].float()
    Hs = to_sparse_cols(H)
    W = _weights(cfg.m, ctx, "lrm")
    g = ctx.generator("lrm-factors", device="cpu")
    structs = {}
    for r in cfg.ranks:
        lrm = LowRankMaintenance([W])
        if r:
            U = torch.randn(cfg.m, r, generator=g, device="cpu").to(ctx.device)
            V = torch.randn(cfg.m, r, generator=g, device="cpu").to(ctx.device)
            lrm.update(0, U / cfg.m, V)
        structs[r] = lrm
    r_top = cfg.ranks[-1]
    back = LowRankMaintenance([W.T.contiguous()])                      # (W + ΔW)ᵀ = Wᵀ + V Uᵀ, the same structure
    if r_top:
        Ur, Vr, _ = structs[r_top].blocks[0][0]
        back.update(0, Vr, Ur)
    masks = (H != 0).to(H.dtype)
    z0 = masks * (2 * torch.randint(0, 2, (cfg.m, 1), generator=g, device="cpu") - 1).to(ctx.device, H.dtype)
    variants = {("v", r): (lambda s=s: s.query(0, Hs)) for r, s in structs.items()}
    variants.update({("u", j): (lambda j=j: _backward(back, z0, masks, j)) for j in cfg.depths})
    t = bench.compare(variants, repeats=cfg.repeats, device=str(ctx.device))
    rs, js = np.asarray(cfg.ranks, float), np.asarray(cfg.depths, float)
    med = np.array([1e3 * t["v", r].median for r in cfg.ranks])
    c, _, r2 = _line_fit(rs, med)
    bmed = np.array([1e3 * t["u", j].median for j in cfg.depths])
    cb, _, br2 = _line_fit(js, bmed)
    k = Hs.nnz / cfg.n
    per_active = med[list(cfg.ranks).index(0)] / k if 0 in cfg.ranks else math.nan
    return LrmCostResult(rs, med, np.array([1e3 * t["v", r].q1 for r in cfg.ranks]),
                         np.array([1e3 * t["v", r].q3 for r in cfg.ranks]), k, cfg.m, r2, c,
                         float(per_active), float(c / per_active), js, bmed,
                         np.array([1e3 * t["u", j].q1 for j in cfg.depths]),
                         np.array([1e3 * t["u", j].q3 for j in cfg.depths]), br2, float(cb / med[-1]))


@dataclass(frozen=True)
class RestartConfig(Config):
    """F15: counted flops of Algorithm 2 per iteration under each restart policy (Lemma C.2, Remark C.3)."""

    n: int = 16
    d: int = 16
    m: int = 2048                                # width (integer in [64, 16384])
    steps: int = 16                              # iterations (integer in [2, 200])
    b: float = 1.0                               # threshold of the shifted ReLU (number in [0, 3])
    PROFILES = {"smoke": dict(m=512, steps=8), "cpu": {}, "paper": dict(m=8192, steps=32)}

    def validate(self):
        _check_common(self)
        validate.int_in("m", self.m, 64, 16384)
        validate.int_in("steps", self.steps, 2, 200)
        validate.in_range("b", self.b, 0, 3)

    def resources(self):
        return Resources(host_bytes=12 * self.m ** 2 * 4)


@dataclass
class RestartResult:
    policies: tuple
    flops: dict                           # policy -> (steps,) counted flops of each iteration
    restart_flops: dict                   # policy -> amortised restart flops per iteration
    dense_step: float                     # op-count model of one dense GN iteration
    dense_update: float                   # 2nm²: the dense rank-n update
    r_max: int
    m: int
    n: int
    b: float = 1.0
    paper_model: float = math.nan         # op-count model of one Alg. 2 step without restarts at rank n, k active
    k: float = math.nan                   # mean active units per sample of H_{L−1}


def restarts(cfg: RestartConfig, ctx: RunContext) -> RestartResult:
    """Return the counted flops per iteration of Algorithm 2 under four restart policies (on ``ctx.device``)."""
    from . import ops
    from . import trainers as tr
    from .model import implicit_features

    X, y = synthetic_sphere(cfg.n, cfg.d, seed=ctx.seeds(1, "data", cfg.n, cfg.d)[0], dtype=ctx.dtype)
    X, y = X.to(ctx.device), y.to(ctx.device, torch.float32)
    spec = act.make_act("shifted", float(cfg.b), cfg.m)
    H, _, a = implicit_features(X, cfg.m, 2, spec, seed=ctx.seeds(1, "restart", cfg.m)[0])
    H, a = H.float(), a.float()
    W = _weights(cfg.m, ctx, "restart")
    policies = {"paper (r_max = ⌈m^0.32⌉)": dict(restart="paper"), "never": dict(restart="never"),
                "fixed r_max = 4n": dict(restart=4 * cfg.n), "merge same V": dict(merge_same_V=True)}
    flops, rflops = {}, {}
    for name, kw in policies.items():
        t = tr.PaperGN(H, W, a, y, spec, track=False, eta=0.2, **kw)
        flops[name] = np.array([t.step()["flops"] for _ in range(cfg.steps)], float)
        rflops[name] = t.lrm.counters["restart_flops"] / cfg.steps
    k = float((H != 0).sum()) / cfg.n
    return RestartResult(tuple(policies), flops, rflops, ops.op_count("dense", n=cfg.n, m=cfg.m)["flops"],
                         2.0 * cfg.n * cfg.m ** 2, math.ceil(cfg.m ** 0.32), cfg.m, cfg.n, float(cfg.b),
                         ops.op_count("paper", n=cfg.n, m=cfg.m, k=k, r=cfg.n)["flops"], k)


# ----------------------------------------------------------------------------------------------- notebook 03
@dataclass(frozen=True)
class GNConfig(Config):
    """Notebook 03: Gauss–Newton on the last layer (Thm 1.1 / F.14 and the lemmas of its proof)."""

    n: int = 16                                  # samples (integer in [2, 128])
    d: int = 16                                  # input dimension (integer in [2, 4096])
    b: float = 1.0                               # threshold of the shifted ReLU (number in [0, 3])
    eta: float = 1.0                             # GN damping (number in (0, 1]; the paper uses 1)
    T: int = 6                                   # GN steps (integer in [1, 50])
    f6_widths: tuple = (256, 1024, 4096)         # widths of F6 (integers in [64, 2^20])
    seeds: int = 5                               # seeds of F6 and the C1/C15 checks (integer in [1, 100])
    sweep: tuple = (10, 12, 14, 16)              # log2 widths of F7 and F9 (integers in [6, 20])
    sweep_seeds: int = 3                         # seeds per width in F7 and F9 (integer in [1, 100])
    kappa_m: int = 4096                          # width of F8 and the C15 check (integer in [64, 2^20])
    gd_cap: int = 5000                           # GD iteration cap in F10 (integer in [10, 200000])
    gd_m: int = 1024                             # width of F10 (integer in [64, 2^16])
    n_gd: int = 32                               # samples of F10 (integer in [2, 128])
    PROFILES = {"smoke": dict(f6_widths=(256, 1024), seeds=2, sweep=(10, 12), sweep_seeds=1, kappa_m=1024,
                              gd_cap=200, gd_m=256, n_gd=16),
                "cpu": {},
                "paper": dict(f6_widths=(256, 1024, 4096, 16384), seeds=20, sweep=(10, 12, 14, 16, 18, 20),
                              sweep_seeds=10, kappa_m=16384, gd_cap=40000, gd_m=8192)}

    def validate(self):
        validate.int_in("n", self.n, 2, 128)
        validate.int_in("d", self.d, 2, MAX_D)
        validate.in_range("b", self.b, 0, 3)
        validate.in_range("eta", self.eta, 0, 1, lo_open=True)
        validate.int_in("T", self.T, 1, 50)
        for name in ("f6_widths",):
            w = validate.int_list(name, getattr(self, name), minimum=64)
            if max(w) > 2 ** 20:
                raise ValueError(f"{name} must be integers in [64, 2^20], got {getattr(self, name)!r}")
        w = validate.int_list("sweep", self.sweep, minimum=6)
        if max(w) > 20 or len(w) < 2:
            raise ValueError(f"sweep must hold at least 2 integers in [6, 20], got {self.sweep!r}")
        validate.int_in("seeds", self.seeds, 1, 100)
        validate.int_in("sweep_seeds", self.sweep_seeds, 1, 100)
        validate.int_in("kappa_m", self.kappa_m, 64, 2 ** 20)
        validate.int_in("gd_cap", self.gd_cap, 10, 200000)
        validate.int_in("gd_m", self.gd_m, 64, 2 ** 16)
        validate.int_in("n_gd", self.n_gd, 2, 128)

    def resources(self):
        m = max(2 ** max(self.sweep), max(self.f6_widths), self.kappa_m)
        return Resources(host_bytes=12 * m * self.n * _B)


def _gn_data(cfg: GNConfig, ctx: RunContext, corr: float = 0.0, n: int | None = None):
    n = cfg.n if n is None else n
    X, y = synthetic_sphere(n, cfg.d, corr=corr, seed=ctx.seeds(1, "gn-data", n, cfg.d, corr)[0], dtype=ctx.dtype)
    return X.to(ctx.device), y.to(ctx.device)


def _gn(X, y, m, L, b, kind, seed, *, T, eta=1.0, **kw):
    """Return ``(run dict, trainer)`` of frozen-feature GN on features drawn in law (same iterates as Alg. 2)."""
    from . import trainers as tr
    from .model import implicit_features

    spec = act.make_act(kind, float(b), int(m))
    H, P, a = implicit_features(X, int(m), L, spec, seed=seed)
    t = tr.FrozenFeatureGN(H, P, a, y, spec, eta=eta, **kw)
    return tr.run(t, T, tol=1e-10), t


@dataclass
class ContractionResult:
    f6: dict                              # m -> list of run dicts (L = 3)
    f0: np.ndarray                        # initial outputs f(W(0), x_i) at kappa_m over seeds (L = 2)
    max_ratio_L2: float                   # max per-step ratio, L = 2, m = 1024, all seeds (NaN if a run diverged)
    max_ratio_L3: float                   # max per-step ratio, L = 3, m ≥ 1024
    median_iters: float                   # median GN iterations to 1e−6 over F6 runs with m ≥ 512 (NaN if never)
    dead_runs: int                        # runs with a dead sample (zero Jacobian row) at t = 0


def _max_ratio(runs) -> float:
    """Return the max per-step ratio over runs, NaN when any run diverged (never dropped)."""
    if any(o["diverged"] for o in runs):
        return math.nan
    return float(max(o["ratios"].max() for o in runs if o["ratios"].size))


def contraction(cfg: GNConfig, ctx: RunContext) -> ContractionResult:
    """F6 and the C1/C15 checks: GN residuals at several widths and seeds (exact solve)."""
    from . import trainers as tr
    from .model import implicit_features

    X, y = _gn_data(cfg, ctx)
    f6 = {m: [_gn(X, y, m, 3, cfg.b, "shifted", s, T=cfg.T, eta=cfg.eta)[0]
              for s in ctx.seeds(cfg.seeds, "f6", m)] for m in cfg.f6_widths}
    c1 = [_gn(X, y, 1024, 2, cfg.b, "shifted", s, T=cfg.T, eta=cfg.eta)[0] for s in ctx.seeds(cfg.seeds, "c1")]
    spec = act.make_act("shifted", cfg.b, cfg.kappa_m)
    f0 = []
    for s in ctx.seeds(cfg.seeds, "f0"):
        _, P, a = implicit_features(X, cfg.kappa_m, 2, spec, seed=s)
        f0.append((a @ act.phi(P, spec)).cpu().numpy())
    big = [o for m in cfg.f6_widths if m >= 1024 for o in f6[m]]
    its = [tr.iterations_to(o["res"], 1e-6) for m in cfg.f6_widths if m >= 512 for o in f6[m]]
    med = float(np.median([math.nan if i is None else i for i in its])) if its else math.nan
    dead = sum(o["stats"][0]["n_dead"] > 0 for m in cfg.f6_widths for o in f6[m])
    return ContractionResult(f6, np.concatenate(f0), _max_ratio(c1), _max_ratio(big) if big else math.nan, med, dead)


SWEEP = (("shifted", 0.0, 2), ("shifted", 1.0, 2), ("shifted", 0.0, 3), ("shifted", 1.0, 3),
         ("threshold", 0.5, 2), ("threshold", 1.0, 2))


@dataclass
class SweepResult:
    m: np.ndarray
    first: dict                           # (kind, b, L) -> (M, seeds) first-step ratios
    slopes: dict                          # (kind, b, L) -> fitted exponent of the median against m
    thr_first: float                      # median first-step ratio, threshold b = 1, L = 2, m = kappa_m


def width_sweep(cfg: GNConfig, ctx: RunContext) -> SweepResult:
    """F7: the first-step ratio ‖r_1‖/‖r_0‖ against width for both activations (exact-in-law sampler)."""
    X, y = _gn_data(cfg, ctx)
    ms = 2 ** np.asarray(cfg.sweep)
    first = {}
    for kind, b, L in SWEEP:
        first[kind, b, L] = np.array([[(lambda o: o["res"][1] / o["res"][0])(_gn(X, y, m, L, b, kind, s, T=1)[0])
                                       for s in ctx.seeds(cfg.sweep_seeds, "sweep", kind, b, L, int(m))] for m in ms])
    slopes = {k: fit.fit_power_law(ms, np.median(v, 1)).exponent for k, v in first.items()}
    thr = np.median([(lambda o: o["res"][1] / o["res"][0])(_gn(X, y, cfg.kappa_m, 2, 1.0, "threshold", s, T=1)[0])
                     for s in ctx.seeds(cfg.seeds, "thr")])
    return SweepResult(ms, first, slopes, float(thr))


@dataclass(frozen=True)
class PerturbConfig(Config):
    """Lemma F.10 (Assumption F.4): what a row-bounded change ``‖ΔW_{L,r}‖ ≤ R̃/√m`` of the last layer moves."""

    n: int = 16                                  # samples (integer in [2, 256])
    d: int = 16                                  # input dimension (integer in [2, 4096])
    L: int = 3                                   # depth (integer in [2, 8])
    log2_widths: tuple = (10, 12, 14)            # log2 of the widths (integers in [6, 20])
    radii: tuple = (0.01, 0.03, 0.1, 0.3, 1.0)   # row radii R̃ (numbers in (0, 1]: Assumption F.4)
    seeds: int = 3                               # independent networks (integer in [1, 100])
    bs: tuple = (0.0, 1.0)                       # thresholds of the shifted ReLU (numbers in [0, 3])
    PROFILES = {"smoke": dict(log2_widths=(10, 12), seeds=1), "cpu": {},
                "paper": dict(log2_widths=(10, 12, 14, 16, 18), seeds=10)}

    def validate(self):
        _check_common(self)
        validate.int_in("L", self.L, 2, MAX_L)
        w = validate.int_list("log2_widths", self.log2_widths, minimum=6)
        if max(w) > 20 or len(w) < 2:
            raise ValueError(f"log2_widths must hold at least 2 integers in [6, 20], got {self.log2_widths!r}")
        if len(self.radii) < 3 or any(not isinstance(r, (int, float)) or not 0 < r <= 1 for r in self.radii):
            raise ValueError(f"radii must hold at least 3 numbers in (0, 1], got {self.radii!r}")
        validate.int_in("seeds", self.seeds, 1, 100)
        _b_grid("bs", self.bs, 3.0)

    def resources(self):
        return Resources(host_bytes=8 * 2 ** max(self.log2_widths) * self.n * _B)


@dataclass
class PerturbResult:
    m: np.ndarray                         # (M,)
    radii: np.ndarray                     # (R,)
    bs: tuple
    flips: np.ndarray                     # (B, M, R) max over samples and seeds of ‖ΔD_{i,L}‖₀
    flips_pred: np.ndarray                # (B, M, R) first-order prediction m·ϕ(b)·R̃·max|q_i|/√2
    dDg: np.ndarray                       # (B, M, R) max of ‖ΔD_{i,L} g_{i,L}‖
    dh: np.ndarray                        # (B, M, R) max of ‖Δh_{i,L}‖
    dg: np.ndarray                        # (B, M, R) max of ‖Δg_{i,L}‖ (≤ R̃‖h_{i,L−1}‖ by construction)
    slopes: dict                          # (quantity, b) -> fitted exponent in R̃ at the largest width
    dh_width_slope: float                 # max over b of the exponent of ‖Δh‖ against m at R̃ = 0.1 (or nearest)

    def metrics(self) -> dict:
        """Return the metrics of claim ``003.F10.perturbation`` (min exponents over b; ‖ΔD g‖ at b = 0 and max b)."""
        s, bs = self.slopes, self.bs
        return {"flips_slope": min(s["flips", b] for b in bs), "dh_slope": min(s["dh", b] for b in bs),
                "dDg_slope_relu": s["dDg", min(bs)] if min(bs) == 0 else math.nan,
                "dDg_slope_shifted": s["dDg", max(bs)] if max(bs) > 0 else math.nan,
                "dh_width_slope": self.dh_width_slope}


def _radius_slope(radii, v):
    """Return the fitted exponent of ``v`` against ``radii`` over its positive entries (NaN if fewer than 3)."""
    ok = v > 0
    return fit.fit_power_law(radii[ok], v[ok]).exponent if ok.sum() >= 3 else math.nan


def perturbation(cfg: PerturbConfig, ctx: RunContext) -> PerturbResult:
    """Move every row of ``W_L(0)`` by exactly ``R̃/√m`` along the mean feature direction (random signs): the
    largest change Assumption F.4 allows for the data's common direction; measure ΔD, ΔD·g, Δh and Δg."""
    from .model import implicit_features

    X = _data(cfg, ctx)
    ms, R = 2 ** np.asarray(cfg.log2_widths), np.asarray(cfg.radii, float)
    shape = (len(cfg.bs), len(ms), len(R))
    flips, pred, dDg, dh, dg = (np.zeros(shape) for _ in range(5))
    Rt = torch.as_tensor(R, dtype=X.dtype, device=X.device).view(-1, 1, 1)
    for ib, b in enumerate(cfg.bs):
        for j, m in enumerate(ms):
            spec = act.make_act("shifted", float(b), int(m))
            for s in ctx.seeds(cfg.seeds, "f10", b, int(m)):
                H, P, _ = implicit_features(X, int(m), cfg.L, spec, seed=s)
                hbar = H.sum(1) / H.sum(1).norm()
                sign = 2 * torch.randint(0, 2, (int(m),), generator=ctx.generator("f10-sign", s, device="cpu"),
                                         device="cpu").to(X.device, X.dtype) - 1
                q = hbar @ H                                               # (n,): ⟨h̄, h_i⟩
                Pn = P + Rt / math.sqrt(m) * sign.view(1, -1, 1) * q.view(1, 1, -1)     # (R, m, n)
                dD = act.dphi(Pn, spec) - act.dphi(P, spec)
                upd = lambda arr, v: np.maximum(arr[ib, j], v.cpu().numpy())
                flips[ib, j] = upd(flips, (dD != 0).sum(1).max(1).values.double())
                dDg[ib, j] = upd(dDg, (dD * P).norm(dim=1).max(1).values)
                dh[ib, j] = upd(dh, (act.phi(Pn, spec) - act.phi(P, spec)).norm(dim=1).max(1).values)
                dg[ib, j] = upd(dg, (Pn - P).norm(dim=1).max(1).values)
                pred[ib, j] = np.maximum(pred[ib, j], m * act.pdf(b) * R * float(q.abs().max()) / math.sqrt(2))
    slopes = {(name, b): _radius_slope(R, arr[ib, -1]) for name, arr in (("flips", flips), ("dDg", dDg), ("dh", dh))
              for ib, b in enumerate(cfg.bs)}
    r0 = int(np.argmin(np.abs(R - 0.1)))
    wsl = max(fit.fit_power_law(ms, dh[ib, :, r0]).exponent for ib in range(len(cfg.bs)))
    return PerturbResult(ms, R, tuple(cfg.bs), flips, pred, dDg, dh, dg, slopes, float(wsl))


@dataclass
class OvershootResult:
    etas: np.ndarray
    kappa: dict                           # (kind, b) -> (E,) overshoot κ̂(η)
    decomp: dict                          # kind -> Lemma F.23 terms of one step (b = 1)
    thr_ratios: np.ndarray                # per-step ratios of a threshold b = 1 run (12 steps)


def overshoot(cfg: GNConfig, ctx: RunContext) -> OvershootResult:
    """F8: overshoot of the exact GN direction and the three-term decomposition with the FTC gap."""
    from . import trainers as tr
    from .model import implicit_features
    from .sketch import gram_hadamard

    X, y = _gn_data(cfg, ctx)
    etas = np.array([1e-3, 1e-2, 1e-1, 1.0])
    kap, dec = {}, {}
    seed = ctx.seeds(1, "f8")[0]
    for kind in act.KINDS:
        for b in (0.0, 0.5, 1.0, 1.5):
            spec = act.make_act(kind, b, cfg.kappa_m)
            H, P, a = implicit_features(X, cfg.kappa_m, 2, spec, seed=seed)
            kap[kind, b] = np.array([tr.overshoot_kappa(P, H.T @ H, a, y, spec, float(e)) for e in etas])
        spec = act.make_act(kind, 1.0, cfg.kappa_m)
        H, P, a = implicit_features(X, cfg.kappa_m, 2, spec, seed=seed + 1)
        K = H.T @ H
        U = act.dphi(P, spec) * a.unsqueeze(1)
        r = a @ act.phi(P, spec) - y
        g_star = torch.linalg.solve(gram_hadamard(U.T, K_V=K), r)
        noise = torch.randn(cfg.n, generator=ctx.generator("f8-noise", kind, device="cpu"), dtype=g_star.dtype,
                            device="cpu").to(g_star.device)
        dec[kind] = tr.residual_decomposition(P, K, a, y, spec, g_star * (1 + 0.05 * noise), g_star)
    thr = _gn(X, y, cfg.kappa_m, 2, 1.0, "threshold", seed + 2, T=12)[0]
    return OvershootResult(etas, kap, dec, thr["ratios"])


@dataclass
class LazyResult:
    m: np.ndarray
    move: np.ndarray                      # (M, seeds) max_r ‖W_L,r(T) − W_L,r(0)‖ (our units)
    flips: np.ndarray                     # (M, seeds) max_i activation flips over the run
    lam_ratio: np.ndarray                 # (M, seeds) min_t λ_min(G_t)/λ_min(G_0)
    jac_change: np.ndarray                # (M, seeds) ‖J_{W_L(T)} − J_{W_L(0)}‖_F / ‖J_{W_L(0)}‖_F
    slope_move: float
    slope_flips: float
    slope_jac: float
    lam_min_1024: float                   # min of lam_ratio over m ≥ 1024


def lazy(cfg: GNConfig, ctx: RunContext) -> LazyResult:
    """F9: row movement (Lemma F.28), flips (F.13), λ_min (Cor. E.8) and the Jacobian change (F.13)."""
    X, y = _gn_data(cfg, ctx)
    ms = 2 ** np.asarray(cfg.sweep)
    M, S = len(ms), cfg.sweep_seeds
    move, flips, lam, jac = (np.zeros((M, S)) for _ in range(4))
    for i, m in enumerate(ms):
        for j, s in enumerate(ctx.seeds(S, "lazy", int(m))):
            o, t = _gn(X, y, m, 2, cfg.b, "shifted", s, T=cfg.T, eta=cfg.eta)
            move[i, j] = float(t.row_movement().max())
            flips[i, j] = max(st["flips_max"] for st in o["stats"])
            lam[i, j] = min(st["lam_min"] for st in o["stats"]) / o["stats"][0]["lam_min"]
            u0 = (t.M0.to(t.H.dtype)) * t.a.unsqueeze(1)              # J rows are kron(u_i, h_i), h_i frozen
            u1 = ((t.P > t.spec.tau).to(t.H.dtype)) * t.a.unsqueeze(1)
            hn = (t.H * t.H).sum(0)
            jac[i, j] = float(torch.sqrt((((u1 - u0) ** 2).sum(0) * hn).sum() / ((u0 ** 2).sum(0) * hn).sum()))
    slope = lambda v: fit.fit_power_law(ms, np.median(v, 1)).exponent
    return LazyResult(ms, move, flips, lam, jac, slope(move), slope(np.maximum(flips, 0.5)),
                      slope(np.maximum(jac, 1e-12)), float(lam[ms >= 1024].min()) if (ms >= 1024).any() else math.nan)


@dataclass
class GnGdResult:
    table: object                         # DataFrame: corr, mean cos, b, κ(G_0), iterations of GN, GN+SRHT, GD
    curves: dict                          # (corr, b) -> (GN, GN+SRHT, GD) residual norms
    ratios: dict                          # (corr, b) -> GN per-step ratios (exact solve)
    max_ratio: float                      # max GN per-step ratio over all six settings (NaN if a run diverged)
    worst: tuple                          # the (corr, b) of that maximum
    gn_iters_max: float                   # max GN iterations to 1e−6 over the six settings (NaN if never)
    gd_over_gn: float                     # GD / GN iterations at corr = 1, b = 0 (GD capped at gd_cap)
    kappa_corr1: float


def gn_vs_gd(cfg: GNConfig, ctx: RunContext, gn_steps: int = 40) -> GnGdResult:
    """F10: GN, GN + TensorSRHT (s = 64n) and GD (step 1/λ_max) on data of rising correlation."""
    import pandas as pd

    from . import trainers as tr
    from .model import implicit_features
    from .sketch import gram_hadamard

    rows, curves, ratios, div = [], {}, {}, False
    for corr in (0.0, 1.0, 2.0):
        X, y = _gn_data(cfg, ctx, corr=corr, n=cfg.n_gd)
        for b in (0.0, 1.0):
            spec = act.make_act("shifted", b, cfg.gd_m)
            H, P, a = implicit_features(X, cfg.gd_m, 2, spec, seed=ctx.seeds(1, "f10", corr, b)[0])
            U = act.dphi(P, spec) * a.unsqueeze(1)
            ev = torch.linalg.eigvalsh(gram_hadamard(U.T, K_V=H.T @ H))
            o_gn = tr.run(tr.FrozenFeatureGN(H, P, a, y, spec, track=False), gn_steps, tol=1e-10)
            o_sk = tr.run(tr.FrozenFeatureGN(H, P, a, y, spec, solver="srht", s=64 * cfg.n_gd, track=False,
                                             seed=ctx.seeds(1, "f10-sketch")[0] % 2 ** 31), gn_steps, tol=1e-10)
            o_gd = tr.last_layer_gd(H, P, a, y, spec, steps=cfg.gd_cap, tol=1e-6)
            div |= o_gn["diverged"]
            it = [tr.iterations_to(o["res"], 1e-6) for o in (o_gn, o_sk, o_gd)]
            off = ~torch.eye(cfg.n_gd, dtype=torch.bool, device=X.device)
            rows.append({"corr": corr, "mean cos": float((X.T @ X)[off].mean()), "b": b,
                         "κ(G_0)": float(ev[-1] / ev[0]), "GN": it[0], "GN+SRHT s=64n": it[1],
                         "GD": it[2] if it[2] is not None else f"> {cfg.gd_cap}"})
            curves[corr, b] = (o_gn["res"], o_sk["res"], o_gd["res"])
            ratios[corr, b] = o_gn["ratios"]
    tab = pd.DataFrame(rows)
    worst = max(ratios, key=lambda k: ratios[k].max() if ratios[k].size else -1)
    gn_its = [r["GN"] for r in rows]
    row = tab[(tab["corr"] == 1.0) & (tab["b"] == 0.0)].iloc[0]
    gd = row["GD"] if not isinstance(row["GD"], str) else cfg.gd_cap
    every = np.concatenate([v for v in ratios.values() if v.size] or [np.array([math.nan])])
    return GnGdResult(tab, curves, ratios, math.nan if div else float(np.max(every)), worst,   # np.max keeps a NaN
                      math.nan if any(i is None for i in gn_its) else float(max(gn_its)),
                      float(gd) / row["GN"] if row["GN"] else math.nan, float(row["κ(G_0)"]))


# ----------------------------------------------------------------------------------------------- notebook 04
@dataclass(frozen=True)
class SketchConfig(Config):
    """Notebook 04: TensorSketch / TensorSRHT of the Jacobian rows, sketch-and-solve, the sketched preconditioner."""

    d: int = 16                                  # input dimension (integer in [2, 4096])
    b: float = 1.0                               # threshold of the shifted ReLU (number in [0, 3])
    m: int = 4096                                # width (integer in [64, 2^18])
    ns: tuple = (16, 32, 64)                     # sample counts (integers in [2, 256])
    ratios: tuple = (1, 4, 16, 64, 256)          # sketch sizes s/n (integers in [1, 4096])
    draws: int = 6                               # independent sketches per point (integer in [1, 200])
    tail_draws: int = 20                         # draws at the lemmas' sketch sizes (integer in [5, 1000])
    gn_m: int = 2048                             # width of the sketched GN runs (integer in [64, 2^18])
    gn_seeds: int = 3                            # networks in the sketched GN runs (integer in [1, 100])
    PROFILES = {"smoke": dict(m=1024, ns=(16,), ratios=(1, 4, 16, 64), draws=3, tail_draws=5, gn_m=1024,
                              gn_seeds=1),
                "cpu": {},
                "paper": dict(m=65536, ns=(16, 32, 64, 128, 256), ratios=(1, 2, 4, 8, 16, 32, 64, 128, 256),
                              draws=20, tail_draws=200, gn_m=16384, gn_seeds=10)}

    def validate(self):
        validate.int_in("d", self.d, 2, MAX_D)
        validate.in_range("b", self.b, 0, 3)
        validate.int_in("m", self.m, 64, 2 ** 18)
        ns = validate.int_list("ns", self.ns, minimum=2)
        if max(ns) > 256:
            raise ValueError(f"ns must be integers in [2, 256], got {self.ns!r}")
        r = validate.int_list("ratios", self.ratios, minimum=1)
        if max(r) > 4096:
            raise ValueError(f"ratios must be integers in [1, 4096], got {self.ratios!r}")
        validate.int_in("draws", self.draws, 1, 200)
        validate.int_in("tail_draws", self.tail_draws, 5, 1000)
        validate.int_in("gn_m", self.gn_m, 64, 2 ** 18)
        validate.int_in("gn_seeds", self.gn_seeds, 1, 100)

    def resources(self):
        n = max(self.ns)
        return Resources(host_bytes=8 * self.m * n * _B + 4 * n * max(self.ratios) * n * _B)


def _factors(cfg: SketchConfig, ctx: RunContext, n: int, m: int, corr: float = 0.0, key=0):
    """Return ``(U, H, Q, r)``: Jacobian factors (m×n), the exact Hadamard Gram and the residual at init (L = 2)."""
    from .model import implicit_features
    from .sketch import gram_hadamard

    X, y = synthetic_sphere(n, cfg.d, corr=corr, seed=ctx.seeds(1, "sk-data", n, corr, key)[0], dtype=ctx.dtype)
    X, y = X.to(ctx.device), y.to(ctx.device)
    spec = act.make_act("shifted", cfg.b, m)
    H, P, a = implicit_features(X, m, 2, spec, seed=ctx.seeds(1, "sk-net", n, m, corr, key)[0])
    U = act.dphi(P, spec) * a.unsqueeze(1)
    return U, H, gram_hadamard(U.T, H.T), a @ act.phi(P, spec) - y


def lemma_sketch_size(kind: str, n: int, m: int, eps: float = 0.5, delta: float = 0.1) -> int:
    """Return the sketch size of Lemma D.4 (TensorSketch, n²/(ε²δ)) or D.8 (TensorSRHT, n log³(nm/(εδ))/ε²), constant 1."""
    if kind == "tensorsketch":
        return int(math.ceil(n * n / (eps * eps * delta)))
    return int(math.ceil(n * math.log(n * m / (eps * delta)) ** 3 / eps ** 2))


@dataclass
class EmbeddingResult:
    ratios: np.ndarray
    ns: tuple
    eps: dict                             # (kind, n) -> (R, draws) embedding errors ε̂
    slopes: dict                          # (kind, n) -> fitted exponent of the median over s/n ≥ 16
    consts: dict                          # (kind, n) -> (R',) median ε̂·√(s/n) over s/n ≥ 16
    lemma_s: dict                         # (kind, n) -> the lemma's s for ε = 0.5, δ = 0.1
    lemma_fail: dict                      # (kind, n) -> fraction of draws with ε̂ > 0.5 at that s
    m: int


def embedding(cfg: SketchConfig, ctx: RunContext) -> EmbeddingResult:
    """F11: ε̂ = ‖Q^{−1/2}Q̃Q^{−1/2} − I‖ against s/n, and the failure rate at the lemmas' sketch sizes."""
    from .sketch import SKETCHES, sketched_gram, subspace_embedding_error

    ratios = np.asarray(cfg.ratios)
    eps, slopes, consts, ls, lf = {}, {}, {}, {}, {}
    sel = ratios >= 16
    for n in cfg.ns:
        U, H, Q, _ = _factors(cfg, ctx, n, cfg.m)
        for kind in SKETCHES:
            seeds = ctx.seeds(cfg.draws, "sk-draw", kind, n)
            E = np.array([[subspace_embedding_error(Q, sketched_gram(U.T, H.T, sketch=kind, s=int(k * n),
                                                                        seed=s % 2 ** 62)) for s in seeds]
                          for k in ratios])
            eps[kind, n] = E
            med = np.median(E, 1)
            slopes[kind, n] = fit.fit_power_law(ratios[sel], med[sel]).exponent if sel.sum() >= 2 else math.nan
            consts[kind, n] = med[sel] * np.sqrt(ratios[sel])
            if n <= 32:
                s_l = lemma_sketch_size(kind, n, cfg.m)
                tail = [subspace_embedding_error(Q, sketched_gram(U.T, H.T, sketch=kind, s=s_l, seed=s % 2 ** 62))
                        for s in ctx.seeds(cfg.tail_draws, "sk-lemma", kind, n)]
                ls[kind, n], lf[kind, n] = s_l, float(np.mean(np.asarray(tail) > 0.5))
    return EmbeddingResult(ratios, tuple(cfg.ns), eps, slopes, consts, ls, lf, cfg.m)


@dataclass
class SolveResult:
    ratios: np.ndarray
    n: int
    resid: dict                           # kind -> (R, draws) ‖Q x̃ − c‖/‖c‖
    bound: dict                           # kind -> (R, draws) ε̂/(1 − ε̂) of the same sketch (inf if ε̂ ≥ 1)
    worst_over_bound: float               # max over draws with ε̂ < 1 of resid / bound
    gn_ratios: dict                       # (kind, s/n) -> per-step GN ratios over seeds
    gn_max_64: float                      # max GN ratio at s = 64n over both sketches (NaN if a run diverged)


def sketch_solve(cfg: SketchConfig, ctx: RunContext) -> SolveResult:
    """F12 (a, b): sketch-and-solve against Theorem D.10's bound, and GN with a sketched solve."""
    from . import trainers as tr
    from .model import implicit_features
    from .sketch import SKETCHES, sketch_and_solve, sketched_gram, subspace_embedding_error

    n = cfg.ns[0]
    ratios = np.asarray(cfg.ratios)
    U, H, Q, r = _factors(cfg, ctx, n, cfg.m, key="solve")
    resid, bound = {}, {}
    for kind in SKETCHES:
        R, B = np.zeros((len(ratios), cfg.draws)), np.zeros((len(ratios), cfg.draws))
        for i, k in enumerate(ratios):
            for j, s in enumerate(ctx.seeds(cfg.draws, "solve", kind, int(k))):
                s = s % 2 ** 62
                x, _ = sketch_and_solve(U.T, H.T, r, sketch=kind, s=int(k * n), seed=s)
                R[i, j] = float((Q @ x - r).norm() / r.norm())
                e = subspace_embedding_error(Q, sketched_gram(U.T, H.T, sketch=kind, s=int(k * n), seed=s))
                B[i, j] = e / (1 - e) if e < 1 else math.inf
        resid[kind], bound[kind] = R, B
    ok = [resid[k][np.isfinite(bound[k])] / bound[k][np.isfinite(bound[k])] for k in SKETCHES]
    worst = float(max(v.max() for v in ok if v.size)) if any(v.size for v in ok) else math.nan
    X, y = synthetic_sphere(16, cfg.d, seed=ctx.seeds(1, "sk-gn-data")[0], dtype=ctx.dtype)
    X, y = X.to(ctx.device), y.to(ctx.device)
    spec = act.make_act("shifted", cfg.b, cfg.gn_m)
    gn, div = {}, False
    for kind in SKETCHES:
        for k in (4, 16, 64):
            rs = []
            for s in ctx.seeds(cfg.gn_seeds, "sk-gn"):
                H2, P2, a2 = implicit_features(X, cfg.gn_m, 2, spec, seed=s)
                o = tr.run(tr.FrozenFeatureGN(H2, P2, a2, y, spec, solver=kind, s=16 * k, seed=(s + k) % 2 ** 31,
                                              track=False), 6, tol=1e-10)
                div |= o["diverged"] and k == 64
                rs.append(o["ratios"])
            gn[kind, k] = np.concatenate(rs)
    g64 = math.nan if div else float(max(gn[kd, 64].max() for kd in SKETCHES))
    return SolveResult(ratios, n, resid, bound, worst, gn, g64)


def preconditioner(cfg: SketchConfig, ctx: RunContext, n: int = 32):
    """F12 (c): PCG with the sketched Gram as preconditioner against plain CG; returns a DataFrame."""
    import pandas as pd

    from .sketch import cg_iterations, sketch_pcg

    rows = []
    for corr in (0.0, 2.0):
        U, H, Q, r = _factors(cfg, ctx, n, cfg.m, corr=corr, key="pcg")
        ev = torch.linalg.eigvalsh(Q)
        plain = cg_iterations(Q, r, tol=1e-8)
        exact = torch.linalg.solve(Q, r)
        for k in (2, 4, 8):
            x, info = sketch_pcg(Q, U.T, H.T, r, s=n * k, tol=1e-8, seed=ctx.seeds(1, "pcg", corr, k)[0] % 2 ** 62)
            rows.append({"corr": corr, "κ(Q)": float(ev[-1] / ev[0]), "s/n": k, "κ(Q̃⁻¹Q)": info["kappa_pre"],
                         "PCG iterations": info["iters"], "plain CG iterations": plain,
                         "rel. error vs exact": float((x - exact).norm() / exact.norm())})
    return pd.DataFrame(rows)


# ----------------------------------------------------------------------------------------------- notebook 02
@dataclass(frozen=True)
class GramConfig(Config):
    """Notebook 02: the last-layer Gram against its closed-form NTK (Lemmas E.4–E.5), and per-layer Grams."""

    n: int = 16                                  # samples (integer in [2, 128])
    d: int = 16                                  # input dimension (integer in [2, 4096])
    corr: float = 0.0                            # correlation of the inputs (number in [0, 5])
    b: float = 1.0                               # threshold of the heatmap (number in [0, 3])
    kind: str = "shifted"                        # activation of the heatmap: shifted | threshold
    log2_widths: tuple = (10, 11, 12, 13, 14, 15, 16)   # log2 widths of F4 (b) (integers in [6, 22])
    seeds: int = 4                               # seeds per width (integer in [1, 100])
    ratio_m: int = 4096                          # width of the heatmap and of F4 (c) (integer in [64, 16384])
    layer_m: int = 2048                          # width of the explicit L = 3 networks of F5 (integer in [64, 16384])
    layer_seeds: int = 2                         # networks per configuration in F5 (integer in [1, 50])
    PROFILES = {"smoke": dict(log2_widths=(10, 12), seeds=2, ratio_m=1024, layer_m=512, layer_seeds=1),
                "cpu": {},
                "paper": dict(log2_widths=tuple(range(10, 23)), seeds=16, ratio_m=16384, layer_m=8192,
                              layer_seeds=4)}

    def validate(self):
        validate.int_in("n", self.n, 2, 128)
        validate.int_in("d", self.d, 2, MAX_D)
        validate.in_range("corr", self.corr, 0, 5)
        validate.in_range("b", self.b, 0, 3)
        validate.one_of("kind", self.kind, act.KINDS)
        w = validate.int_list("log2_widths", self.log2_widths, minimum=6)
        if max(w) > MAX_LOG2_M or len(w) < 2:
            raise ValueError(f"log2_widths must hold at least 2 integers in [6, {MAX_LOG2_M}], got {self.log2_widths!r}")
        validate.int_in("seeds", self.seeds, 1, 100)
        validate.int_in("ratio_m", self.ratio_m, 64, 16384)
        validate.int_in("layer_m", self.layer_m, 64, 16384)
        validate.int_in("layer_seeds", self.layer_seeds, 1, 50)

    def resources(self):
        return Resources(host_bytes=4 * max(self.ratio_m, self.layer_m) ** 2 * _B
                         + 6 * 2 ** max(self.log2_widths) * self.n * _B)


def _last_gram(X, m, L, b, kind, seed):
    """Return ``G_L(0)/m`` from the exact-in-law sampler (Fact E.1 through :func:`~.sketch.gram_hadamard`)."""
    from .model import implicit_features
    from .sketch import gram_hadamard

    spec = act.make_act(kind, float(b), int(m))
    H, P, a = implicit_features(X, int(m), L, spec, seed=seed)
    U = act.dphi(P, spec) * a.unsqueeze(1)
    return gram_hadamard(U.T, H.T) / m


@dataclass
class HeatmapResult:
    G: np.ndarray                         # empirical G_L(0)/m of an explicit network, L = 2
    Theta: np.ndarray                     # closed form Θ_L
    lam_Theta: float
    lam_L: float                          # the paper's λ_L = λ_min(K̇_L)
    lam_G: float
    m: int


def gram_heatmap(cfg: GramConfig, ctx: RunContext) -> HeatmapResult:
    """F4 (a): the Gram of one explicit network (weights drawn entry by entry) next to Θ_L."""
    from .model import empirical_grams, init_network, layer_factors
    from .ntk import ntk_kernels

    X = _data(cfg, ctx, cfg.corr)
    lim = ntk_kernels(X, 2, cfg.b, cfg.kind)
    spec = act.make_act(cfg.kind, cfg.b, cfg.ratio_m)
    net = init_network(cfg.d, cfg.ratio_m, 2, spec, seed=ctx.seeds(1, "heat")[0], device=ctx.device)
    G = empirical_grams(*layer_factors(net, X))[-1] / cfg.ratio_m
    return HeatmapResult(G.cpu().numpy(), lim["Theta"].cpu().numpy(), lim["lam_Theta"], lim["lam_L"],
                         float(torch.linalg.eigvalsh(G)[0]), cfg.ratio_m)


GRAM_CONFIGS = (("shifted", 0.0), ("shifted", 1.0), ("threshold", 1.0))


@dataclass
class GramErrorResult:
    m: np.ndarray
    err: dict                             # (kind, b) -> (M, seeds) max |G/m − Θ| / Θ₁₁
    slopes: dict                          # (kind, b) -> fitted exponent of the median
    ratios: object                        # DataFrame of F4 (c)
    min_ratio: float                      # min over configurations and seeds of λ_min(G/m)/λ_min(Θ_L)


def gram_error(cfg: GramConfig, ctx: RunContext) -> GramErrorResult:
    """F4 (b, c): entrywise error of G_L(0)/m against Θ_L over widths, and λ_min(G/m)/λ_min(Θ_L)."""
    import pandas as pd

    from .ntk import ntk_kernels

    X = _data(cfg, ctx, cfg.corr)
    ms = 2 ** np.asarray(cfg.log2_widths)
    err, slopes = {}, {}
    for kind, b in GRAM_CONFIGS:
        Th = ntk_kernels(X, 2, b, kind)["Theta"]
        e = np.array([[float((_last_gram(X, m, 2, b, kind, s) - Th).abs().max() / Th[0, 0])
                       for s in ctx.seeds(cfg.seeds, "gram-err", kind, b, int(m))] for m in ms])
        err[kind, b], slopes[kind, b] = e, fit.fit_power_law(ms, np.median(e, 1)).exponent
    rows = []
    for kind in act.KINDS:
        for b in (0.0, 0.5, 1.0):
            k = ntk_kernels(X, 2, b, kind)
            lam = [float(torch.linalg.eigvalsh(_last_gram(X, cfg.ratio_m, 2, b, kind, s))[0])
                   for s in ctx.seeds(cfg.seeds, "gram-lam", kind, b)]
            rows.append({"kind": kind, "b": b, "λ_min(Θ_L)": k["lam_Theta"], "λ_L (paper)": k["lam_L"],
                         "min λ̂/λ_Θ": min(lam) / k["lam_Theta"], "mean λ̂/λ_Θ": float(np.mean(lam)) / k["lam_Theta"]})
    tab = pd.DataFrame(rows)
    return GramErrorResult(ms, err, slopes, tab, float(tab["min λ̂/λ_Θ"].min()))


LAYER_CONFIGS = (("ReLU (b=0)", "shifted", 0.0), ("shifted b=1", "shifted", 1.0), ("threshold b=1", "threshold", 1.0))


def layer_grams(cfg: GramConfig, ctx: RunContext) -> dict:
    """F5: {configuration name: (3,) mean λ_min(G_ℓ)/m for ℓ = 1, 2, 3} on explicit L = 3 networks."""
    from .model import empirical_grams, init_network, layer_factors

    X = _data(cfg, ctx, cfg.corr)
    out = {}
    for name, kind, b in LAYER_CONFIGS:
        spec = act.make_act(kind, b, cfg.layer_m)
        vals = []
        for s in ctx.seeds(cfg.layer_seeds, "layers", name):
            net = init_network(cfg.d, cfg.layer_m, 3, spec, seed=s, device=ctx.device)
            vals.append([float(torch.linalg.eigvalsh(G)[0]) / cfg.layer_m
                         for G in empirical_grams(*layer_factors(net, X))])
        out[name] = np.mean(vals, 0)
    return out


# ----------------------------------------------------------------------------------------------- notebook 07
@dataclass(frozen=True)
class DigitsConfig(Config):
    """Notebook 07: GN, sketched GN and GD on scikit-learn's bundled 8×8 digits (a real-data case study)."""

    n: int = 64                                  # training images (integer in [4, 512])
    n_test: int = 200                            # held-out images (integer in [1, 1000])
    L: int = 3                                   # depth (integer in [2, 6])
    b: float = 1.0                               # threshold of the shifted ReLU (number in [0, 3])
    m: int = 2048                                # width (integer in [64, 2^20])
    gd_cap: int = 5000                           # GD iteration cap (integer in [10, 200000])
    PROFILES = {"smoke": dict(m=512, gd_cap=300), "cpu": {}, "paper": dict(m=16384, gd_cap=50000)}

    def validate(self):
        validate.int_in("n", self.n, 4, 512)
        validate.int_in("n_test", self.n_test, 1, 1000)
        validate.int_in("L", self.L, 2, 6)
        validate.in_range("b", self.b, 0, 3)
        validate.int_in("m", self.m, 64, 2 ** 20)
        validate.int_in("gd_cap", self.gd_cap, 10, 200000)
        if self.n + self.n_test > 1797:
            raise ValueError(f"n + n_test must be at most 1797 (the digits in scikit-learn), got {self.n + self.n_test}")

    def resources(self):
        return Resources(host_bytes=6 * self.m * (self.n + self.n_test) * _B)


@dataclass
class DigitsResult:
    source: str
    mean_cos: float
    kappa: float
    curves: dict                          # trainer -> residual norms
    iters: dict                           # trainer -> iterations to 1e−6 (None: never)
    test_mse: dict                        # trainer -> held-out MSE
    zero_mse: float                       # held-out MSE of the zero predictor (targets are standardised)
    mean_mse: float                       # held-out MSE of the training mean
    linear_mse: float                     # held-out MSE of the min-norm least-squares linear fit on the same split
    gd_over_gn: float
    diverged: bool


def digits(cfg: DigitsConfig, ctx: RunContext) -> DigitsResult:
    """Train the last layer on digits with exact GN, GN + TensorSRHT (s = 64n) and GD; held-out errors and baselines."""
    from . import trainers as tr
    from .model import digits_subset, implicit_features
    from .sketch import gram_hadamard

    Xall, yall, source = digits_subset(cfg.n + cfg.n_test, seed=ctx.seeds(1, "digits")[0] % 2 ** 31,
                                       dtype=ctx.dtype)
    Xall, yall = Xall.to(ctx.device), yall.to(ctx.device)
    n = cfg.n
    Xtr, ytr, yte = Xall[:, :n], yall[:n], yall[n:]
    off = ~torch.eye(n, dtype=torch.bool, device=Xall.device)
    spec = act.make_act("shifted", cfg.b, cfg.m)
    Hall, Pall, a = implicit_features(Xall, cfg.m, cfg.L, spec, seed=ctx.seeds(1, "digits-net")[0])
    H, P0 = Hall[:, :n], Pall[:, :n]
    U0 = act.dphi(P0, spec) * a.unsqueeze(1)
    ev = torch.linalg.eigvalsh(gram_hadamard(U0.T, K_V=H.T @ H))
    mse = lambda Ut: float(((a @ act.phi(Pall[:, n:] + Ut @ (H.T @ Hall[:, n:]), spec) - yte) ** 2).mean())
    curves, iters, test = {}, {}, {}
    for name, kw in (("GN (exact)", {}), ("GN (TensorSRHT, s = 64n)", dict(solver="srht", s=64 * n, seed=1))):
        t = tr.FrozenFeatureGN(H, P0, a, ytr, spec, track=False, **kw)
        o = tr.run(t, 30, tol=1e-10)
        curves[name], test[name] = o["res"], mse(t.Ut)
    o = tr.last_layer_gd(H, P0, a, ytr, spec, steps=cfg.gd_cap, tol=1e-6)
    curves["GD (step 1/λ_max)"], test["GD (step 1/λ_max)"] = o["res"], mse(o["Ut"])
    iters = {k: tr.iterations_to(v, 1e-6) for k, v in curves.items()}
    Xa = torch.cat([Xtr.T, torch.ones(n, 1, dtype=Xall.dtype, device=Xall.device)], 1)
    Xb = torch.cat([Xall[:, n:].T, torch.ones(cfg.n_test, 1, dtype=Xall.dtype, device=Xall.device)], 1)
    w = torch.linalg.pinv(Xa) @ ytr
    gn, gd = iters["GN (exact)"], iters["GD (step 1/λ_max)"]
    return DigitsResult(source, float((Xtr.T @ Xtr)[off].mean()), float(ev[-1] / ev[0]), curves, iters, test,
                        float((yte ** 2).mean()), float(((yte - ytr.mean()) ** 2).mean()),
                        float(((Xb @ w - yte) ** 2).mean()),
                        (gd if gd is not None else cfg.gd_cap) / gn if gn else math.nan,
                        any(not np.all(np.isfinite(v)) for v in curves.values()))


# ----------------------------------------------------------------------------------------------- notebook 06
def kernel_references(ctx: RunContext) -> dict:
    """Return the max errors of each torch reference against an independent dense computation (float64), and of
    the Triton kernels against the references where Triton runs (``'triton'``: NaN when it cannot run here)."""
    from .. import gpu
    from . import sketch as sk
    from . import triton_sketch as gs
    from .lrm import to_sparse_cols

    g = ctx.generator("kernels", device="cpu")
    rnd = lambda *s: torch.randn(*s, generator=g, dtype=torch.float64, device="cpu").to(ctx.device)
    A = rnd(4, 64)
    out = {"fwht": float((gs.fwht_torch(A) - A @ sk.hadamard_matrix(64).to(ctx.device)).abs().max())}
    U, V = rnd(4, 16), rnd(4, 16)
    J = (U.unsqueeze(2) * V.unsqueeze(1)).reshape(4, -1)
    srht = sk.TensorSRHT(16, 16, 24, seed=1, device=ctx.device)
    Af, Bf = srht.transforms(U, V)
    S = srht.explicit_matrix().to(ctx.device)
    out["srht"] = float((gs.srht_rows_torch(Af, Bf, srht.p, srht.q) - J @ S.T).abs().max())
    ts = sk.TensorSketch(16, 16, 24, seed=2, device=ctx.device)
    cs = lambda M, c: gs.countsketch_torch(M, c.h, c.sign, 24)
    conv = torch.fft.irfft(torch.fft.rfft(cs(U, ts.c1), n=24) * torch.fft.rfft(cs(V, ts.c2), n=24), n=24)
    out["tensorsketch"] = float((conv - J @ ts.explicit_matrix().to(ctx.device).T).abs().max())
    W, H = rnd(96, 64), torch.relu(rnd(64, 5) - 1)
    Hs = to_sparse_cols(H)
    P, Hn = gs.sparse_shifted_relu_forward_torch(W.T.contiguous(), Hs.idx, Hs.val, Hs.offsets, 0.3, 1.7)
    out["sparse_forward"] = float(max((P - W @ H).abs().max(), (Hn - 1.7 * (W @ H - 0.3).clamp_min(0)).abs().max()))
    out["triton"] = math.nan
    if gpu.choose_backend("auto", ctx.device) == "triton":
        At, Bt = A.float().repeat(8, 16), A.float().repeat(8, 16)
        p = torch.randint(0, 1024, (256,), generator=g, device="cpu").to(ctx.device)
        ref = gs.fwht_torch(At)
        out["triton"] = max(float((gs.fwht(At, backend="triton") - ref).abs().max() / ref.abs().max()),
                            float((gs.srht_rows(At, Bt, p, p, backend="triton")
                                   - gs.srht_rows_torch(At, Bt, p, p)).abs().max()))
    return out


@dataclass(frozen=True)
class KernelBenchConfig(Config):
    """Notebook 06: timings of the torch references, their dense baselines and (on a GPU) the Triton kernels."""

    n: int = 32                                  # rows (samples) per call (integer in [1, 1024])
    widths: tuple = (1024, 4096, 16384)          # widths (powers of two in [64, 2^20])
    repeats: int = 9                             # interleaved timed rounds (integer in [3, 100])
    PROFILES = {"smoke": dict(widths=(256, 1024), repeats=3), "cpu": {},
                "paper": dict(widths=(4096, 16384, 65536), repeats=11)}

    def validate(self):
        validate.int_in("n", self.n, 1, 1024)
        w = validate.int_list("widths", self.widths, minimum=64)
        if max(w) > 2 ** 20 or any(v & (v - 1) for v in w):
            raise ValueError(f"widths must be powers of two in [64, 2^20], got {self.widths!r}")
        validate.int_in("repeats", self.repeats, 3, 100)

    def resources(self):
        m = max(self.widths)
        return Resources(host_bytes=2 * m * m * 4 + 8 * self.n * m * 4)


def kernel_bench(cfg: KernelBenchConfig, ctx: RunContext):
    """Return a DataFrame of medians (ms) per kernel and width: torch reference, dense baseline, Triton (or NaN)."""
    import pandas as pd

    from .. import bench, gpu
    from . import sketch as sk
    from . import triton_sketch as gs
    from .lrm import to_sparse_cols

    tri = gpu.choose_backend("auto", ctx.device) == "triton"
    g = ctx.generator("kbench", device="cpu")
    dev, f32 = ctx.device, torch.float32
    rows = []
    for m in cfg.widths:
        n, s = cfg.n, 64 * cfg.n
        A = torch.randn(n, m, generator=g, dtype=f32, device="cpu").to(dev)
        p, q = (torch.randint(0, m, (s,), generator=g, device="cpu").to(dev) for _ in range(2))
        h = torch.randint(0, s, (m,), generator=g, device="cpu").to(dev)
        sign = (2 * torch.randint(0, 2, (m,), generator=g, device="cpu") - 1).to(dev, f32)
        W = torch.randn(m, m, generator=g, dtype=f32, device="cpu").to(dev) * math.sqrt(2 / m)
        Hf = torch.relu(torch.randn(m, n, generator=g, dtype=f32, device="cpu").to(dev) - 2.0)   # ≈ 2 % active
        Hs, WT = to_sparse_cols(Hf), W.T.contiguous()
        Hm = sk.hadamard_matrix(m, f32).to(dev) if m <= 4096 else None
        sp = lambda be: gs.sparse_shifted_relu_forward(WT, Hs.idx, Hs.val, Hs.offsets, 0.0, 1.0, backend=be)
        ops = {"FWHT (n×m)": (lambda be: gs.fwht(A, backend=be), (lambda: A @ Hm) if Hm is not None else None),
               "TensorSRHT sample, s = 64n": (lambda be: gs.srht_rows(A, A, p, q, backend=be), None),
               "CountSketch, s = 64n": (lambda be: gs.countsketch(A, h, sign, s, backend=be), None),
               "sparse shifted-ReLU forward (≈2% active)": (sp, lambda: W @ Hf)}
        for name, (fn, base) in ops.items():
            variants = {"torch": (lambda fn=fn: fn("torch"))}
            if base is not None:
                variants["baseline"] = base
            if tri:
                variants["triton"] = (lambda fn=fn: fn("triton"))
            t = bench.compare(variants, repeats=cfg.repeats, device=str(dev))
            rows.append({"kernel": name, "m": m, "torch reference ms": 1e3 * t["torch"].median,
                         "dense baseline ms": 1e3 * t["baseline"].median if "baseline" in t else math.nan,
                         "Triton ms": 1e3 * t["triton"].median if tri else math.nan,
                         "Triton": f"measured on {dev}" if tri else "not measured: no GPU in this run",
                         "device": str(dev), "threads": t["torch"].threads})
    return pd.DataFrame(rows)
