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
