"""The primer's experiments: the kernels of a wide two-layer ReLU network at initialisation.

For ``f(x) = v·relu(W x)/√m`` with ``W ~ N(0, I)``, ``v ~ N(0, 1)`` the empirical CK and NTK converge to
the arc-cosine limits (``nbs_lib.kernels``) with fluctuations of order ``m^{-1/2}`` (Jacot et al. 2018).
Three protocols, each a config and a function returning data and metrics:

- :func:`closed_forms_mc`: the closed-form arc-cosine kernels against a Monte Carlo average;
- :func:`width_errors`: relative Frobenius errors of both kernels against their limits over widths and
  seeds (seeds batched), with power-law fits and a bootstrap interval over seeds;
- :func:`autograd_check`: the closed-form NTK against the ``torch.func`` NTK;
- :func:`scatter`: one network's NTK entries against the limit (the figure of the live explorer).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from . import kernels, validate
from .context import RunContext
from .experiment import Config, Resources
from .fit import fit_power_law
from .ntk import empirical_ntk


def sphere(N: int, d: int, ctx: RunContext, *keys) -> torch.Tensor:
    """Return ``N`` points uniform on the unit sphere of ``R^d``, shape ``(N, d)``, on ``ctx.device``."""
    X = ctx.randn(N, d, keys=("sphere",) + keys)
    return X / X.norm(dim=1, keepdim=True)


@dataclass(frozen=True)
class McConfig(Config):
    """Monte Carlo check of the arc-cosine kernels: ``N`` points in ``R^d``, ``n_samples`` weight vectors."""

    N: int = 24
    d: int = 8
    n_samples: int = 2 ** 18
    PROFILES = {"smoke": dict(n_samples=2 ** 14), "cpu": dict(), "paper": dict(n_samples=2 ** 20)}

    def validate(self):
        validate.int_in("N", self.N, 2, 4096)
        validate.int_in("d", self.d, 2, 4096)
        validate.int_in("n_samples", self.n_samples, 1, 2 ** 24)

    def resources(self):
        return Resources(host_bytes=8.0 * 2 * 65536 * (self.N + self.d), flops=2.0 * self.n_samples * self.N ** 2)


@dataclass
class McResult:
    """Max |MC − closed form| per degree and the bound 5σ/√n (σ: a bound on the per-sample s.d.)."""

    max_error: dict
    bound: dict
    n_samples: int


def closed_forms_mc(cfg: McConfig, ctx: RunContext) -> McResult:
    """Return the Monte Carlo check of ``arccos_kernel`` of degrees 0 and 1 on points of the sphere.

    Per-sample standard deviations on the unit sphere: degree 0 averages indicators (s.d. ≤ 1/2); degree 1
    averages relu(w·x) relu(w·y) with E ≤ E[(w·x)⁴]/2 = 3/2 for its square (s.d. ≤ √1.5).
    """
    X = sphere(cfg.N, cfg.d, ctx)
    gen = ctx.generator("mc", device="cpu")
    err, bound = {}, {}
    for deg, sd in ((0, 0.5), (1, math.sqrt(1.5))):
        mc = kernels.arccos_kernel_mc(X, degree=deg, n_samples=cfg.n_samples, generator=gen)
        err[deg] = float((mc - kernels.arccos_kernel(X, degree=deg)).abs().max())
        bound[deg] = 5 * sd / math.sqrt(cfg.n_samples)
    return McResult(err, bound, cfg.n_samples)


@dataclass(frozen=True)
class WidthConfig(Config):
    """Widths ``2**log2_widths``, ``seeds`` networks each, on ``N`` points of the sphere in ``R^d``."""

    N: int = 24
    d: int = 8
    log2_widths: tuple = tuple(range(4, 17))
    seeds: int = 16
    bootstrap: int = 400
    PROFILES = {"smoke": dict(log2_widths=(4, 6, 8, 10), seeds=4, bootstrap=50), "cpu": dict(),
                "paper": dict(log2_widths=tuple(range(4, 21)), seeds=64)}

    def validate(self):
        validate.int_in("N", self.N, 2, 4096)
        validate.int_in("d", self.d, 2, 4096)
        validate.int_list("log2_widths", self.log2_widths, minimum=1)
        validate.int_in("max(log2_widths)", max(self.log2_widths), 1, 24)
        if len(self.log2_widths) < 3:
            raise ValueError(f"log2_widths must hold at least 3 widths for a slope, got {self.log2_widths!r}")
        validate.int_in("seeds", self.seeds, 2, 4096)
        validate.int_in("bootstrap", self.bootstrap, 10, 100000)

    def resources(self):
        m = 2 ** max(self.log2_widths)
        b = min(max(1, 2 ** 21 // m), self.seeds)
        # two_layer_relu_kernels holds pre-activations, A, S and S·v² (each b·N·m) besides W (b·m·d)
        return Resources(host_bytes=8.0 * b * m * (4 * self.N + self.d + 1),
                         flops=2.0 * self.seeds * sum(2 ** k for k in self.log2_widths) * self.N * (self.N + self.d))


@dataclass
class WidthResult:
    """Errors ``(widths, seeds)`` of NTK and CK, fitted exponents and their bootstrap intervals over seeds."""

    widths: np.ndarray
    err_ntk: np.ndarray
    err_ck: np.ndarray
    slope_ntk: float
    slope_ck: float
    slope_ntk_ci: tuple
    slope_ck_ci: tuple
    r2_ntk: float
    r2_ck: float


def _slope_ci(widths, err, n_boot, gen) -> tuple:
    idx = np.asarray(torch.randint(0, err.shape[1], (n_boot, err.shape[1]), generator=gen, device="cpu"))
    slopes = [fit_power_law(widths, err[:, row].mean(1)).exponent for row in idx]
    return tuple(float(q) for q in np.quantile(slopes, [0.025, 0.975]))


def width_errors(cfg: WidthConfig, ctx: RunContext) -> WidthResult:
    """Return the relative Frobenius errors of the empirical NTK and CK against their limits over widths.

    Seeds are batched along a leading axis in chunks that bound memory at large widths; the interval of a
    fitted slope is a 95 % bootstrap over seeds.
    """
    X = sphere(cfg.N, cfg.d, ctx)
    ntk_inf, ck_inf = kernels.relu_ntk_limit(X), kernels.arccos_kernel(X, degree=1)
    widths = 2 ** np.asarray(cfg.log2_widths)
    err_ntk = np.zeros((len(widths), cfg.seeds))
    err_ck = np.zeros_like(err_ntk)
    for i, m in enumerate(widths.tolist()):
        chunk = max(1, 2 ** 21 // m)
        for s in range(0, cfg.seeds, chunk):
            b = min(chunk, cfg.seeds - s)
            W = ctx.randn(b, m, cfg.d, keys=("width", m, s))
            v = ctx.randn(b, m, keys=("width-v", m, s))
            ntk, ck = kernels.two_layer_relu_kernels(W, v, X)
            err_ntk[i, s:s + b] = ((ntk - ntk_inf).flatten(1).norm(dim=1) / ntk_inf.norm()).cpu().numpy()
            err_ck[i, s:s + b] = ((ck - ck_inf).flatten(1).norm(dim=1) / ck_inf.norm()).cpu().numpy()
    fn, fc = fit_power_law(widths, err_ntk.mean(1)), fit_power_law(widths, err_ck.mean(1))
    gen = ctx.generator("bootstrap", device="cpu")
    return WidthResult(widths, err_ntk, err_ck, fn.exponent, fc.exponent,
                       _slope_ci(widths, err_ntk, cfg.bootstrap, gen), _slope_ci(widths, err_ck, cfg.bootstrap, gen),
                       fn.r2, fc.r2)


@dataclass(frozen=True)
class ScatterConfig(Config):
    """One network of width ``width`` on ``N`` points of the sphere in ``R^d`` (also the explorer's knobs)."""

    width: int = 1024
    d: int = 8
    N: int = 24
    PROFILES = {"smoke": dict(width=64), "cpu": dict(), "paper": dict()}

    def validate(self):
        validate.int_in("width", self.width, 1, 2 ** 22)
        validate.int_in("d", self.d, 2, 4096)
        validate.int_in("N", self.N, 2, 4096)

    def resources(self):
        return Resources(host_bytes=8.0 * 3 * self.width * max(self.N, self.d))


@dataclass
class ScatterResult:
    """The empirical NTK of one network, its limit, the relative Frobenius error; autograd NTK if asked."""

    ntk: torch.Tensor
    limit: torch.Tensor
    rel_error: float
    autograd: torch.Tensor | None = None


def scatter(cfg: ScatterConfig, ctx: RunContext, *, with_autograd: bool = False) -> ScatterResult:
    """Return one network's closed-form NTK and its limit (and the ``torch.func`` NTK when asked)."""
    X = sphere(cfg.N, cfg.d, ctx, "scatter")
    W = ctx.randn(cfg.width, cfg.d, keys=("scatter-W", cfg.width))
    v = ctx.randn(cfg.width, keys=("scatter-v", cfg.width))
    ntk, _ = kernels.two_layer_relu_kernels(W, v, X)
    lim = kernels.relu_ntk_limit(X)
    ag = None
    if with_autograd:
        ag = empirical_ntk(lambda p, x: p["v"] @ torch.relu(p["W"] @ x) / math.sqrt(cfg.width), {"W": W, "v": v}, X)
    return ScatterResult(ntk, lim, float((ntk - lim).norm() / lim.norm()), ag)


def plot_scatter(ax, res: ScatterResult, cfg: ScatterConfig) -> None:
    """Draw every NTK entry against its limit, with the identity (the limit) dashed."""
    from . import plotting

    lim, ntk = res.limit.cpu().flatten(), res.ntk.cpu().flatten()
    ax.scatter(lim, ntk, s=6, color=plotting.PALETTE["measured"], label="entries (measured)")
    lo, hi = float(lim.min()), float(lim.max())
    plotting.theory(ax, [lo, hi], [lo, hi], label="limit (theory)")
    ax.set(xlabel="limiting NTK entry", ylabel="empirical NTK entry",
           title=f"m = {cfg.width}, d = {cfg.d}: relative error {res.rel_error:.3f}")
    ax.legend(loc="upper left")
