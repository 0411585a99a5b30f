"""Figures of chapter 003: each takes an experiment's result and returns the matplotlib figure (theory dashed,
measurement solid, seeds as a band, the data named on the axes)."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from .. import plotting
from . import activations as act

SPHERE = "data: points on the unit sphere (generated)"


def density(res, L: int):
    """F1: fraction of active units per layer against b, with Q(b) (dashed) and the bound e^{−b²/2} (dotted)."""
    fig, axes = plt.subplots(1, 2, figsize=(11, 4), sharey=True)
    for ax, kind in zip(axes, act.KINDS):
        D = res.dens[kind]
        for l in range(L):
            v = D[:, :, l, :].reshape(len(res.b), -1)
            c = plotting.CYCLE[l]
            ax.plot(res.b, v.mean(1), "-o", ms=3, color=c, label=rf"layer $\ell={l + 1}$")
            ax.fill_between(res.b, v.min(1), v.max(1), color=c, alpha=0.15, lw=0)
        plotting.theory(ax, res.b, res.Q, label=r"$Q(b)$ (exact at $\|h\|=1$)")
        ax.plot(res.b, np.exp(-res.b ** 2 / 2), ":", color="k", label=r"bound $e^{-b^2/2}$")
        ax.set(yscale="log", xlabel="standardised threshold $b$", title=f"{kind}, $m={res.m}$, $L={L}$")
        plotting.data_note(ax, SPHERE)
    axes[0].set_ylabel("fraction of active units (band: min–max over samples)")
    axes[0].legend(fontsize=8, loc="lower left", bbox_to_anchor=(0.0, 0.06))
    fig.tight_layout()
    return fig


def schedule(res):
    """F2: active units per sample under b = √(2α log m): layer 1 and the deepest layer, bound m^{1−α} dotted."""
    fig, axes = plt.subplots(1, 2, figsize=(11, 4), sharey=True)
    L = res.k_mean.shape[2]
    for ax, l in zip(axes, (0, L - 1)):
        for i, (c, al) in enumerate(zip(plotting.CYCLE, res.alphas)):
            ax.plot(res.m, res.k_mean[i, :, l], "-o", ms=3, color=c,
                    label=rf"$\alpha={al}$: slope {res.slopes[i, l]:.2f}")
            ax.fill_between(res.m, res.k_mean[i, :, l], res.k_max[i, :, l], color=c, alpha=0.15, lw=0)
            ax.plot(res.m, res.m ** (1 - al), ":", color=c, lw=1)
            plotting.theory(ax, res.m, res.k_exact[i], label=None, color=c)
        ax.set(xscale="log", yscale="log", xlabel="width $m$", title=rf"layer $\ell={l + 1}$")
        ax.legend(fontsize=8, loc="upper left")
        plotting.data_note(ax, SPHERE + "; exact-in-law sampler")
    axes[0].set_ylabel("active units per sample (mean, band to max)")
    fig.suptitle(r"dashed: $m\,Q(b_m)$ at $\|h\|=1$; dotted: the bound $m^{1-\alpha}$", fontsize=10)
    fig.tight_layout()
    return fig


def norms(res):
    """F3: spread of ‖h_iℓ‖ per layer, measured (solid) against the linear-noise prediction (dashed)."""
    layers = np.arange(1, res.L + 1)
    fig, axes = plt.subplots(1, 2, figsize=(11, 4), sharey=True)
    for ax, kind in zip(axes, act.KINDS):
        for c, b in zip(plotting.CYCLE, res.bs):
            A = act.act_constants(kind, float(b))["A"]
            ax.plot(layers, res.std[kind, b], "-o", color=c, label=f"$b={b}$ ($A={A:.2f}$)")
            plotting.theory(ax, layers, res.pred[kind, b], label=None, color=c)
        ax.set(yscale="log", xlabel=r"layer $\ell$", title=f"{kind}, $m={res.m}$", xticks=layers)
        plotting.data_note(ax, SPHERE + "; exact-in-law sampler")
    axes[0].set_ylabel(r"std of $\|h_{i\ell}\|$ over samples and seeds")
    axes[0].legend(fontsize=8, loc="upper left")
    fig.tight_layout()
    return fig


def trunc_chi2(res):
    """Lemma G.3: mean of X/n against the two centres, and std(X/n) against n^{−1/2}."""
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.8))
    for i, (c, b) in enumerate(zip(plotting.CYCLE, res.bs)):
        axes[0].errorbar(res.n, res.mean[i], yerr=res.se[i], fmt="-o", ms=3, color=c, label=f"$b={b}$")
        axes[0].axhline(res.mu[i], ls="--", color=c, lw=1.2)
        axes[0].axhline(res.mu_particular[i], ls=":", color=c, lw=1.2)
        axes[1].plot(res.n, res.std[i], "-o", ms=3, color=c, label=f"$b={b}$: slope {res.std_slope[i]:.3f}")
        plotting.slope_guide(axes[1], res.n, res.std[i][0], -0.5, label=None, color=c)
    axes[0].set(xscale="log", xlabel="number of terms $n$", ylabel="mean of $X/n$",
                title=r"dashed $1+b\phi(b)/Q(b)$; dotted $1+b(b+1)$")
    axes[1].set(xscale="log", yscale="log", xlabel="number of terms $n$", ylabel="std of $X/n$",
                title=r"dashed: slope $-1/2$")
    for ax in axes:
        ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def runtime(res):
    """F13: wall-clock per iteration (median, IQR band) and counted flops (op-count model dashed) against m."""
    from .ops import op_count

    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for c, k in zip(plotting.CYCLE, res.variants):
        axes[0].plot(res.m, res.median_ms[k], "-o", ms=3, color=c, label=f"{k}: slope {res.time_exp[k]:.2f}")
        axes[0].fill_between(res.m, res.q1_ms[k], res.q3_ms[k], color=c, alpha=0.2, lw=0)
        axes[1].plot(res.m, res.flops[k], "-o", ms=3, color=c, label=k)
        if k in ("dense", "frozen"):
            plotting.theory(axes[1], res.m, [op_count(k, n=res.n, m=int(m))["flops"] for m in res.m], label=None,
                            color=c)
    axes[0].set(ylabel=f"ms per iteration (median, IQR; {res.threads} thread(s))",
                title=f"wall-clock on {res.device}, $n={res.n}$, float32")
    axes[1].set(ylabel="flops per iteration (counted; dashed: model)", title="operation counts")
    for ax in axes:
        ax.set(xscale="log", yscale="log", xlabel="width $m$")
        ax.legend(fontsize=8, loc="upper left")
        plotting.data_note(ax, SPHERE)
    fig.tight_layout()
    return fig


def sparse_forward(df):
    """F14: speed-up of the sparse gather over one dense GEMM against the density of active units."""
    fig, ax = plt.subplots(figsize=(6.4, 4))
    for c, (m, g) in zip(plotting.CYCLE, df.groupby("m")):
        ax.errorbar(g["density"], g["speed-up"], yerr=[g["speed-up"] - g["range lo"], g["range hi"] - g["speed-up"]],
                    fmt="-o", ms=4, color=c, capsize=3, label=f"$m={m}$")
    ax.axhline(1, ls="--", color="k", lw=1, label="break-even")
    ax.set(xscale="log", yscale="log", xlabel="fraction of active units", ylabel="dense GEMM time / sparse gather time",
           title="$W_L(0)H$ through the active units only")
    ax.legend(fontsize=8)
    plotting.data_note(ax, SPHERE)
    return fig


def lrm_cost(res):
    """Lemma C.4: query time against the rank of ΔW, measured (median, IQR) and the straight-line fit (dashed)."""
    fig, ax = plt.subplots(figsize=(6.4, 4))
    ax.errorbar(res.ranks, res.median_ms, yerr=[res.median_ms - res.q1_ms, res.q3_ms - res.median_ms], fmt="-o",
                color=plotting.PALETTE["measured"], capsize=3, label="measured (median, IQR)")
    t0 = res.median_ms.mean() - res.slope_ms_per_rank * res.ranks.mean()
    plotting.theory(ax, res.ranks, t0 + res.slope_ms_per_rank * res.ranks, label=f"linear fit, $R^2={res.fit_r2:.2f}$")
    ax.set(xlabel="rank $r$ of $\\Delta W$", ylabel="ms per query of all $n$ columns",
           title=f"$(W+\\Delta W)h$ with sparse $h$, $m={res.m}$, $k\\approx{res.k:.0f}$ active")
    ax.legend(fontsize=8)
    plotting.data_note(ax, SPHERE)
    return fig


def restarts(res):
    """F15: amortised counted flops per iteration of Algorithm 2 under each restart policy."""
    fig, ax = plt.subplots(figsize=(6.4, 4))
    t = np.arange(1, len(next(iter(res.flops.values()))) + 1)
    for c, (name, fl) in zip(plotting.CYCLE, res.flops.items()):
        ax.plot(t, np.cumsum(fl) / t, "-o", ms=3, color=c, label=name)
    ax.axhline(res.dense_step, ls="--", color="k", label="dense GN (op-count model)")
    ax.set(yscale="log", xlabel="iteration $t$", ylabel="amortised flops per iteration",
           title=f"Algorithm 2, $m={res.m}$, $n={res.n}$, $b=1$")
    ax.legend(fontsize=8)
    plotting.data_note(ax, SPHERE)
    return fig
