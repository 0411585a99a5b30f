"""Figures of chapter 003: each takes an experiment's result and returns the matplotlib figure (theory dashed,
measurement solid, seeds as a band, the data named on the axes)."""
from __future__ import annotations

import matplotlib
import matplotlib.pyplot as plt
import numpy as np

from .. import plotting
from . import activations as act

SPHERE = "data: points on the unit sphere (generated)"


def _finish(fig, axes, note: str, loc: str = "upper left"):
    """Give every panel its legend and data note, lay the figure out and return it."""
    for ax in axes:
        ax.legend(fontsize=8, loc=loc)
        plotting.data_note(ax, note)
    fig.tight_layout()
    return fig


def _pow2_ticks(ax, ms):
    """Label a log x axis of widths at the widths themselves, as powers of two (no minor labels)."""
    ax.set_xticks(ms, [f"$2^{{{int(round(np.log2(v)))}}}$" for v in ms])
    ax.xaxis.set_minor_formatter(plt.NullFormatter())


def density(res, L: int):
    """F1: fraction of active units per layer against b, with Q(b) (dashed) and the bound e^{−b²/2} (dotted)."""
    fig, axes = plt.subplots(1, 2, figsize=(11, 4), sharey=True)
    for ax, kind in zip(axes, act.KINDS):
        D = res.dens[kind]
        for l in range(L):
            v = D[:, :, l, :].reshape(len(res.b), -1)
            c = plotting.CYCLE[l]
            ax.plot(res.b, v.mean(1), "-o", ms=3, color=c, label=rf"layer $\ell={l + 1}$")
            lo, hi = np.percentile(v, 10, 1), np.percentile(v, 90, 1)
            ax.fill_between(res.b, np.where(lo > 0, lo, np.nan), hi, color=c, alpha=0.15, lw=0)
        plotting.theory(ax, res.b, res.Q, label=r"$Q(b)$ (exact at $\|h\|=1$)")
        ax.plot(res.b, np.exp(-res.b ** 2 / 2), ":", color="k", label=r"bound $e^{-b^2/2}$")
        ax.set(yscale="log", xlabel="standardised threshold $b$", title=f"{kind}, $m={res.m}$, $L={L}$")
        plotting.data_note(ax, SPHERE)
    axes[0].set_ylabel("fraction of active units (band: 10–90 % over samples)")
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
        ax.set_xticks(res.n, [str(int(v)) for v in res.n])
        ax.xaxis.set_minor_formatter(plt.NullFormatter())
        ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def density_layers(res):
    """Explorer F1: fraction of active units per layer at one threshold, against Q(b) and the bound e^{−b²/2}."""
    b, L = float(res.b[0]), res.dens["shifted"].shape[2]
    layers = np.arange(1, L + 1)
    fig, ax = plt.subplots(figsize=(6.4, 4))
    for c, kind in zip(plotting.CYCLE, act.KINDS):
        v = res.dens[kind][0].transpose(1, 0, 2).reshape(L, -1)           # (L, seeds·n)
        ax.plot(layers, v.mean(1), "-o", ms=4, color=c, label=f"{kind} (mean over samples)")
        ax.fill_between(layers, v.min(1), v.max(1), color=c, alpha=0.15, lw=0)
    ax.axhline(res.Q[0], ls="--", color=plotting.PALETTE["theory"], label=r"$Q(b)$: exact at $\|h\|=1$")
    ax.axhline(np.exp(-b * b / 2), ls=":", color="k", label=r"Lemma F.6: $e^{-b^2/2}$")
    ax.set(yscale="log", xlabel=r"layer $\ell$", ylabel="fraction of active units (band: min–max)",
           xticks=layers, title=f"$b={b:g}$, $m={res.m}$")
    ax.legend(fontsize=8, loc="best")
    plotting.data_note(ax, SPHERE + "; exact-in-law sampler")
    fig.tight_layout()
    return fig


def product_norms(res):
    """Lemma F.9: max spectral norm of W_b D ⋯ D W_a against the number k of layers, the lemma's √k (dashed from
    k = 1) and the mean-field growth χ^{k/2} (dotted)."""
    fig, ax = plt.subplots(figsize=(6.4, 4))
    for i, (c, b) in enumerate(zip(plotting.CYCLE, res.bs)):
        ax.plot(res.k, res.norm_max[i], "-o", ms=4, color=c, label=f"$b={b:g}$: slope {res.slopes[i]:.2f}")
        ax.fill_between(res.k, res.norm_med[i], res.norm_max[i], color=c, alpha=0.15, lw=0)
        plotting.slope_guide(ax, res.k, res.norm_max[i][0], 0.5, label=r"$\sqrt{k}$ (Lemma F.9)" if i == 0 else "_nolegend_",
                             color=c)
        ax.plot(res.k, res.norm_max[i][0] * res.chi[i] ** ((res.k - 1) / 2), ":", color=c, lw=1.2,
                label=rf"$\chi^{{(k-1)/2}}$, $\chi={res.chi[i]:.2f}$")
    ax.set(xscale="log", yscale="log", xlabel="layers in the product $k=b-a+1$",
           ylabel=r"$\|W_bD_{i,b-1}\cdots D_{i,a}W_a\|$ (median to max)", title=f"shifted ReLU, $m={res.m}$")
    ax.set_xticks(res.k, [str(v) for v in res.k])
    ax.legend(fontsize=8, loc="upper left")
    plotting.data_note(ax, SPHERE)
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
    """Lemma C.4 / Cor. C.5: query time of v against the rank of ΔW, and of u against the layers it crosses;
    measured (median, IQR) with the straight line of each formula fitted (dashed)."""
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    ax = axes[0]
    ax.errorbar(res.ranks, res.median_ms, yerr=[res.median_ms - res.q1_ms, res.q3_ms - res.median_ms], fmt="-o",
                color=plotting.PALETTE["measured"], capsize=3, label="measured (median, IQR)")
    t0 = res.median_ms.mean() - res.slope_ms_per_rank * res.ranks.mean()
    plotting.theory(ax, res.ranks, t0 + res.slope_ms_per_rank * res.ranks,
                    label=f"$O(m(k+r))$: line fit, $R^2={res.fit_r2:.2f}$")
    ax.set(xlabel="rank $r$ of $\\Delta W$", ylabel="ms per query of all $n$ columns",
           title=f"$v$: $(W+\\Delta W)h$, sparse $h$, $m={res.m}$, $k\\approx{res.k:.0f}$")
    ax = axes[1]
    if res.back_ms is not None:
        ax.errorbar(res.depths, res.back_ms, yerr=[res.back_ms - res.back_q1_ms, res.back_q3_ms - res.back_ms],
                    fmt="-o", color=plotting.PALETTE["measured"], capsize=3, label="measured (median, IQR)")
        c, t0 = np.polyfit(res.depths, res.back_ms, 1)
        plotting.theory(ax, res.depths, t0 + c * res.depths, label=f"$O(mL(k+r))$: line fit, $R^2={res.back_r2:.2f}$")
        ax.set_xticks(res.depths)
    ax.set(xlabel="layers crossed by $u$", ylabel="ms per backward vector of all $n$ samples",
           title=f"$u$: $D(W+\\Delta W)^\\top\\cdots D\\,a$, rank {int(res.ranks[-1])}")
    return _finish(fig, axes, SPHERE)


def restarts(res):
    """F15: amortised counted flops per iteration of Algorithm 2 under each restart policy."""
    fig, ax = plt.subplots(figsize=(6.4, 4))
    t = np.arange(1, len(next(iter(res.flops.values()))) + 1)
    for c, (name, fl) in zip(plotting.CYCLE, res.flops.items()):
        ax.plot(t, np.cumsum(fl) / t, "-o", ms=3, color=c, label=name)
    ax.axhline(res.dense_step, ls="--", color="k", label="dense GN (op-count model)")
    if np.isfinite(res.paper_model):
        ax.axhline(res.paper_model, ls=":", color="k", label="Alg. 2 at rank $n$ (op-count model)")
    ax.set(yscale="log", xlabel="iteration $t$", ylabel="amortised flops per iteration",
           title=f"Algorithm 2, $m={res.m}$, $n={res.n}$, $b={res.b:g}$")
    ax.legend(fontsize=8)
    plotting.data_note(ax, SPHERE)
    return fig


def perturbation(res):
    """Lemma F.10: flips, ‖ΔD·g‖ and ‖Δh‖ against the row radius R̃ at the largest width, with the lemma's rates."""
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    R, m = res.radii, int(res.m[-1])
    for i, (c, b) in enumerate(zip(plotting.CYCLE, res.bs)):
        axes[0].plot(R, res.flips[i, -1], "-o", ms=4, color=c, label=f"$b={b:g}$: slope {res.slopes['flips', b]:.2f}")
        plotting.theory(axes[0], R, res.flips_pred[i, -1], label="first order" if i == 0 else None, color=c)
        axes[1].plot(R, res.dDg[i, -1], "-o", ms=4, color=c,
                     label=rf"$\|\Delta D\,g\|$, $b={b:g}$: slope {res.slopes['dDg', b]:.2f}")
        axes[1].plot(R, res.dh[i, -1], "-s", ms=4, color=c, alpha=0.6,
                     label=rf"$\|\Delta h\|$, $b={b:g}$: slope {res.slopes['dh', b]:.2f}")
    axes[0].plot(R, m * R ** (2 / 3), ":", color="k", label=r"$m\tilde R^{2/3}$ (Lemma F.10 b, constant 1)")
    plotting.slope_guide(axes[1], R, float(res.dh[:, -1, 0].max()), 1.0, label=r"$\propto\tilde R$ (Lemma F.10 b, c)")
    axes[0].set(ylabel=r"$\max_i\|\Delta D_{i,L}\|_0$ (flips)", title=f"activation flips, $m={m}$")
    axes[1].set(ylabel="max over samples", title=f"changes of the last layer, $m={m}$")
    for ax in axes:
        ax.set(xscale="log", yscale="log", xlabel=r"row radius $\tilde R$ ($\|\Delta W_{L,r}\|=\tilde R/\sqrt{m}$)")
        ax.legend(fontsize=7, loc="upper left")
        plotting.data_note(ax, SPHERE + "; exact-in-law sampler")
    fig.tight_layout()
    return fig


def contraction(res, T: int, b: float):
    """F6: relative residuals and per-step ratios of GN at several widths (L = 3), guarantee 3^{−t} dashed."""
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for c, (m, runs) in zip(plotting.CYCLE, res.f6.items()):
        for k, o in enumerate(runs):
            lab = f"$m={m}$" if k == 0 else None
            axes[0].plot(o["res"] / o["res"][0], "-", color=c, alpha=0.7, label=lab)
            axes[1].plot(np.arange(len(o["ratios"])), o["ratios"], "o-", color=c, alpha=0.7, ms=3, label=lab)
    tt = np.arange(T + 1)
    plotting.theory(axes[0], tt, 3.0 ** -tt, label=r"guarantee $3^{-t}$")
    axes[1].axhline(1 / 3, ls="--", color="k", label="1/3")
    axes[0].set(yscale="log", xlabel="GN step $t$", ylabel=r"$\|f_t-y\|/\|f_0-y\|$",
                title=f"$L=3$, shifted ReLU $b={b}$, exact solve")
    axes[1].set(yscale="log", xlabel="step $t$", ylabel=r"$\|r_{t+1}\|/\|r_t\|$", title="per-step ratios")
    for ax in axes:
        plotting.data_note(ax, SPHERE + r", $y\sim\mathcal{N}(0,1)$")
        ax.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
        ax.legend(fontsize=8, loc="lower left")
    fig.tight_layout()
    return fig


def width_sweep(res):
    """F7: median first-step ratio against width for both activations, with the 1/3 line and slope guides."""
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for c, key in zip(plotting.CYCLE, res.first):
        ls = "-" if key[0] == "shifted" else "-."
        ax.plot(res.m, np.median(res.first[key], 1), ls, marker="o", ms=3, color=c,
                label=f"{key[0]} $b={key[1]}$ $L={key[2]}$: slope {res.slopes[key]:.2f}")
    ax.axhline(1 / 3, ls="--", color="k", label="1/3 (Thm 1.1)")
    y0 = float(np.median(res.first["shifted", 1.0, 2][0]))
    plotting.slope_guide(ax, res.m, 0.5 * y0, -0.5, label="slope $-1/2$", color="0.5")
    plotting.slope_guide(ax, res.m, 2.0 * y0, -0.25, label="slope $-1/4$ (paper's bound)", color="0.7")
    ax.set(xscale="log", yscale="log", xlabel="width $m$", ylabel=r"median first-step ratio $\|r_1\|/\|r_0\|$")
    plotting.data_note(ax, SPHERE + "; exact-in-law sampler")
    ax.legend(fontsize=7, loc="lower left", bbox_to_anchor=(0, 0.05))
    return fig


def overshoot(res, m: int):
    """F8: overshoot κ̂(η) of the exact GN direction, and the Lemma F.23 decomposition with the FTC gap."""
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for c, b in zip(plotting.CYCLE, (0.0, 0.5, 1.0, 1.5)):
        axes[0].plot(res.etas, res.kappa["shifted", b], "-o", ms=3, color=c, label=f"shifted $b={b}$")
        axes[0].plot(res.etas, res.kappa["threshold", b], "-.s", ms=3, color=c, label=f"threshold $b={b}$")
    axes[0].axhline(1, ls="--", color="k")
    axes[0].set(xscale="log", xlabel=r"step fraction $\eta$", ylabel=r"overshoot $\hat\kappa(\eta)$",
                title=f"$m={m}$, $L=2$ (dashed: linear model)")
    axes[0].legend(fontsize=7, ncol=2)
    keys = ["ratio", "term1", "term2", "term3", "ftc_gap"]
    for i, kind in enumerate(act.KINDS):
        d = res.decomp[kind]
        vals = [d[k] / (d["res"] if k != "ratio" else 1) for k in keys]
        axes[1].bar(np.arange(5) + (i - 0.5) * 0.4, np.maximum(vals, 1e-17), width=0.4, label=kind,
                    color=plotting.CYCLE[i])
    axes[1].set(yscale="log", xticks=range(5), ylabel=r"divided by $\|r_t\|$", title="Lemma F.23, $b=1$",
                xticklabels=[r"$\|r_1\|/\|r_0\|$", "term 1", "term 2", "term 3", "FTC gap"])
    axes[1].axhline(1 / 3, ls="--", color="k")
    axes[1].legend(fontsize=8)
    for ax in axes:
        plotting.data_note(ax, SPHERE)
    fig.tight_layout()
    return fig


def lazy(res):
    """F9: row movement, flips, Jacobian change and λ_min during training against width (theory dashed)."""
    fig, axes = plt.subplots(1, 4, figsize=(16, 3.8))
    series = ((res.move, res.slope_move, -1.0, r"$\max_r\|\Delta W_{L,r}\|$ (our units)"),
              (np.maximum(res.flips, 0.5), res.slope_flips, 0.5, r"$\max_i$ activation flips"),
              (res.jac_change, res.slope_jac, -0.25, r"$\|J_T-J_0\|_F/\|J_0\|_F$"))
    for ax, (v, s, th, lab) in zip(axes, series):
        plotting.band(ax, res.m, v.T, log=True, label=f"measured, slope {s:.2f}")
        plotting.slope_guide(ax, res.m, float(np.median(v[0])), th, label=f"theory: slope {th:g}")
        ax.set(xscale="log", yscale="log", xlabel="width $m$", ylabel=lab)
    plotting.band(axes[3], res.m, res.lam_ratio.T, label="measured")
    axes[3].axhline(0.5, ls="--", color="k", label="Cor. E.8 bound 1/2")
    axes[3].set(xscale="log", xlabel="width $m$", ylabel=r"$\min_t\lambda_{\min}(G_t)/\lambda_{\min}(G_0)$",
                ylim=(0, 1.5))
    for ax in axes:
        ax.legend(fontsize=7)
        plotting.data_note(ax, SPHERE)
    fig.tight_layout()
    return fig


def gn_vs_gd(res, m: int, n: int):
    """F10: relative residuals of GD (solid), GN (circles) and GN + TensorSRHT (dotted) at b = 0, and GN ratios."""
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.2))
    for c, corr in zip(plotting.CYCLE, (0.0, 1.0, 2.0)):
        r_gn, r_sk, r_gd = res.curves[corr, 0.0]
        axes[0].plot(np.arange(1, len(r_gd) + 1), r_gd / r_gd[0], "-", color=c, label=f"GD, corr={corr}")
        axes[0].plot(np.arange(1, len(r_gn) + 1), r_gn / r_gn[0], "o-", color=c, ms=3, label=f"GN, corr={corr}")
        axes[0].plot(np.arange(1, len(r_sk) + 1), r_sk / r_sk[0], "s:", color=c, ms=3)
    axes[0].set(xscale="log", yscale="log", ylim=(1e-11, 2), xlabel="iteration + 1", ylabel="relative residual",
                title=f"$b=0$, $m={m}$, $n={n}$ (dotted: GN + TensorSRHT, $s=64n$)")
    axes[0].legend(fontsize=7, ncol=2, loc="center right")
    for (corr, b), c in zip(res.ratios, plotting.CYCLE * 2):
        r = res.ratios[corr, b]
        axes[1].plot(np.arange(len(r)), r, "-o" if b == 0 else ":s", ms=3, color=c, label=f"corr={corr}, $b={b}$")
    axes[1].axhline(1 / 3, ls="--", color="k", label="1/3 (Thm 1.1)")
    axes[1].set(yscale="log", xlabel="GN step $t$", ylabel=r"$\|r_{t+1}\|/\|r_t\|$", title="GN per-step ratios")
    axes[1].legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    for ax in axes:
        plotting.data_note(ax, "data: correlated points on the unit sphere (generated)")
    fig.tight_layout()
    return fig


JAC = "data: Jacobian factors at init, unit-sphere points (generated)"


def embedding(res):
    """F11: ε̂ against s/n for both sketches (median, 10–90 % band), slope −1/2 guide dashed."""
    fig, axes = plt.subplots(1, 2, figsize=(11, 4), sharey=True)
    for ax, kind in zip(axes, ("tensorsketch", "srht")):
        for c, n in zip(plotting.CYCLE, res.ns):
            E = res.eps[kind, n]
            ax.plot(res.ratios, np.median(E, 1), "-o", ms=3, color=c, label=f"$n={n}$: slope {res.slopes[kind, n]:.2f}")
            ax.fill_between(res.ratios, np.percentile(E, 10, 1), np.percentile(E, 90, 1), color=c, alpha=0.2, lw=0)
        plotting.slope_guide(ax, res.ratios, float(np.median(res.eps[kind, res.ns[0]][0])), -0.5,
                             label=r"theory: $\propto\sqrt{n/s}$")
        ax.set(xscale="log", yscale="log", xlabel="$s/n$", title=f"{kind}, $m={res.m}$")
        plotting.data_note(ax, JAC)
        ax.legend(fontsize=8, loc="upper right")
    axes[0].set_ylabel(r"$\hat\varepsilon=\|Q^{-1/2}\tilde QQ^{-1/2}-I\|_2$")
    fig.tight_layout()
    return fig


def sketch_solve(res):
    """F12 (a, b): regression residual against s/n with Thm D.10's bound (dashed), and GN ratios with a sketch."""
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for c, kind in zip(plotting.CYCLE, res.resid):
        plotting.band(axes[0], res.ratios, res.resid[kind].T, color=c, log=True, label=kind)
        b = np.median(np.where(np.isfinite(res.bound[kind]), res.bound[kind], np.nan), 1)
        plotting.theory(axes[0], res.ratios, b, label=rf"{kind}: $\hat\varepsilon/(1-\hat\varepsilon)$", color=c)
    axes[0].set(xscale="log", yscale="log", xlabel="$s/n$", ylabel=r"$\|Q\tilde x-c\|/\|c\|$",
                title=f"sketch-and-solve, $n={res.n}$")
    axes[0].legend(fontsize=8)
    for i, kind in enumerate(res.resid):
        for j, k in enumerate((4, 16, 64)):
            v = res.gn_ratios[kind, k]
            axes[1].scatter(np.full(v.size, j + 0.15 * (2 * i - 1)), v, s=10, color=plotting.CYCLE[i],
                            label=kind if j == 0 else None)
    axes[1].axhline(1 / 3, ls="--", color="k", label="1/3")
    axes[1].set(yscale="log", xticks=range(3), xticklabels=["$s=4n$", "$s=16n$", "$s=64n$"],
                ylabel=r"GN per-step ratio $\|r_{t+1}\|/\|r_t\|$", title="GN with sketch-and-solve, $n=16$")
    axes[1].legend(fontsize=8)
    for ax in axes:
        plotting.data_note(ax, JAC)
    fig.tight_layout()
    return fig


def gram_heatmap(res, kind: str, b: float):
    """F4 (a): empirical G_L(0)/m, the closed form Θ_L and their difference, one colour scale with a colourbar."""
    fig, axes = plt.subplots(1, 3, figsize=(12, 3.6))
    vmax = float(np.abs(res.Theta).max())
    for ax, M, title in zip(axes, (res.G, res.Theta, res.G - res.Theta),
                            (f"empirical $G_L(0)/m$, $m={res.m}$", r"closed form $\Theta_L$", "difference")):
        im = ax.imshow(M, cmap="RdBu_r", vmin=-vmax, vmax=vmax)
        ax.set_title(title, fontsize=9)
        ax.set_xticks([]), ax.set_yticks([])
    fig.colorbar(im, ax=axes, shrink=0.8)
    fig.suptitle(f"{kind}, $b={b}$, $L=2$; " + SPHERE, fontsize=9)
    return fig


def gram_error(res):
    """F4 (b): entrywise error of G_L(0)/m against Θ_L over widths (median and band over seeds), slope −1/2 dashed."""
    fig, ax = plt.subplots()
    for c, key in zip(plotting.CYCLE, res.err):
        plotting.band(ax, res.m, res.err[key].T, color=c, log=True,
                      label=f"{key[0]} $b={key[1]}$: slope {res.slopes[key]:.2f}")
    first = next(iter(res.err.values()))
    plotting.slope_guide(ax, res.m, float(np.median(first[0])), -0.5, label="theory: slope $-1/2$")
    ax.set(xscale="log", yscale="log", xlabel="width $m$", ylabel=r"$\max|G/m-\Theta|/\Theta_{11}$",
           title=r"Lemmas E.4–E.5: $G_L(0)/m\to\Theta_L$")
    _pow2_ticks(ax, res.m)
    plotting.data_note(ax, SPHERE + "; exact-in-law sampler")
    ax.legend(fontsize=8)
    return fig


def layer_grams(lam: dict, m: int):
    """F5: λ_min(G_ℓ)/m for ℓ = 1, 2, 3 of explicit L = 3 networks."""
    fig, ax = plt.subplots()
    w = 0.25
    for k, (name, v) in enumerate(lam.items()):
        ax.bar(np.arange(3) + (k - 1) * w, v, width=w, label=name, color=plotting.CYCLE[k])
    ax.set(yscale="log", xticks=range(3), xticklabels=[r"$\ell=1$", r"$\ell=2$", r"$\ell=3$ (last)"],
           ylabel=r"$\lambda_{\min}(G_\ell)/m$", title=f"per-layer Gram eigenvalues, $L=3$, $m={m}$")
    plotting.data_note(ax, SPHERE + "; explicit weights")
    ax.legend(fontsize=8)
    return fig
