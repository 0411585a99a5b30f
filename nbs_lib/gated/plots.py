"""Figures of chapter 004, drawn from the result objects of ``experiments`` (theory dashed, measurement solid,
seeds as a band; diverged runs are named on the axes, never drawn as results)."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from .. import plotting
from . import gemm


def _diverged_note(ax, runs, what="runs"):
    runs = np.asarray(runs)
    bad = int(np.isnan(runs[-1]).sum()) if runs.ndim == 2 else int(np.isnan(runs[-1]))
    if bad:
        ax.text(0.99, 0.98, f"{bad} {what} diverged (not drawn after)", transform=ax.transAxes, ha="right", va="top",
                fontsize=8, color=plotting.PALETTE.get("nag", "C3"))
    return bad


def _finish(fig, axs, note: str, loc: str = "lower left", fontsize: int = 7):
    """Legend (lifted above the data note when in a lower corner) and the data note on every axis; tight layout."""
    lift = dict(bbox_to_anchor=(0, 0.06)) if loc == "lower left" else {}
    for a in np.atleast_1d(axs).ravel():
        a.legend(fontsize=fontsize, loc=loc, **lift)
        plotting.data_note(a, note)
    fig.tight_layout()
    return fig


def thm1(res, data: str):
    """Return a figure: (left) GD at Theorem 1's own step with Lemma 3's guarantee, (right) the NTK rate fit."""
    fig, axs = plt.subplots(1, 2, figsize=(11, 3.8))
    t = np.arange(res.loss_thm.shape[0])
    for s in range(res.loss_thm.shape[1]):
        axs[0].plot(t, res.loss_thm[:, s], "-", color=plotting.CYCLE[s % len(plotting.CYCLE)],
                    label=f"seed {s}: $\\eta\\lambda_{{\\max}}$ = {res.eta_lmax[s]:.2f}")
    plotting.theory(axs[0], t, res.lemma3_ratio ** t, label="Lemma 3 guarantee $(1-\\eta\\alpha^2L/2)^t$")
    _diverged_note(axs[0], res.loss_thm)
    axs[0].set(yscale="log", xlabel="GD step", ylabel="$\\ell_t/\\ell_0$",
               title=f"Theorem 1's own step $\\eta=d_x/(n^4L^3)$, m = {res.m}")
    t2 = np.arange(res.loss_fit.shape[0])
    plotting.band(axs[1], t2, res.loss_fit.T, log=True, label="measured (seeds)")
    plotting.theory(axs[1], t2, np.exp(res.preds.mean() * t2), label="NTK: $2\\log(1-\\eta\\lambda_{\\min})$ per step")
    axs[1].set(yscale="log", ylim=(1e-16, 2), xlabel="GD step", ylabel="$\\ell_t/\\ell_0$",
               title="Rate at $\\eta = c/\\lambda_{\\max}(K_0)$")
    return _finish(fig, axs, "data: " + data, "lower left")


def rate(res, data: str = "complex Ackley (generated)"):
    """Return ℓ_t/ℓ_0 of the GReLU and ReLU nets of :func:`experiments.rate` (solid) with the bound ρ^{2t} of
    linearised GD, ρ = max|1 − ηλ(K_0)| (dashed); no dashed line where K_0 is singular or ηλ_max ≥ 2."""
    fig, ax = plt.subplots(figsize=(6.4, 3.9))
    for kind, lab, c in (("grelu", "GReLU", plotting.CYCLE[0]), ("relu", "ReLU", plotting.CYCLE[1])):
        y = res.curves[kind]
        t = np.arange(len(y))
        ok = np.isfinite(y) & (y > 0)
        k = res.cond[kind]
        kappa = f", $\\kappa(K_0)$ = {k:.3g}" if np.isfinite(k) else ", $K_0$ singular"
        plotting.measured(ax, t[ok], y[ok], color=c, label=f"{lab}{kappa}")
        if res.predictions[kind] is not None:
            plotting.theory(ax, t, np.maximum(res.predictions[kind], 1e-300), color=c,
                            label=f"{lab}: NTK bound $\\rho^{{2t}}$")
    ax.set(yscale="log", ylim=(1e-16, 1e3), xlabel="GD step t", ylabel="$\\ell_t/\\ell_0$",
           title=f"m = {res.m}, $\\eta\\lambda_{{\\max}}(K_0)$ = {res.c_eta:.3g}")
    return _finish(fig, ax, "data: " + data, "lower left")


def fig2a(res, widths, data: str):
    """Return Fig. 2a under protocols A and B: ReLU solid, GReLU dash-dot; max over seeds at n²L, min below."""
    fig, axs = plt.subplots(1, 2, figsize=(11, 4), sharey=True)
    for ax, proto in zip(axs, "AB"):
        nbad = 0
        for m, c in zip(widths, plotting.CYCLE):
            for kind, ls in (("relu", "-"), ("grelu", "-.")):
                rr = res.curves[proto, kind, m]
                nbad += int(np.isnan(rr[-1]).sum())
                curve = np.max(rr, 1) if m == res.m_th else np.min(rr, 1)
                lab = (f"m={m}" + (" ($n^2L$)" if m == res.m_th else "")) if kind == "relu" else None
                ax.plot(np.arange(1, len(curve) + 1), np.maximum(curve, 1e-18), ls, color=c, label=lab)
        if nbad:
            ax.text(0.99, 0.98, f"{nbad} runs diverged (not drawn)", transform=ax.transAxes, ha="right", va="top",
                    fontsize=8, color="C3")
        ax.set(yscale="log", xscale="log", xlabel="GD step + 1",
               title=f"Protocol {proto}: " + ("one η for all widths" if proto == "A" else "η = c/λ_max per width"))
        plotting.data_note(ax, f"data: {data}; ReLU solid, GReLU dash-dot")
    axs[0].set_ylabel("$\\ell_t/\\ell_0$ (max over seeds at $n^2L$, min below)")
    axs[0].legend(fontsize=8, loc="lower left", bbox_to_anchor=(0, 0.06))
    fig.tight_layout()
    return fig


def stability(res, data: str):
    """Return the weight movement τ and the relative NTK change against width, with the predictions dashed."""
    fig, axs = plt.subplots(1, 2, figsize=(11, 3.8))
    ms = res.widths
    plotting.band(axs[0], ms, res.tau.T, log=True, label=f"measured τ (slope {res.fit_tau.exponent:.2f}, m ≥ 128)")
    plotting.theory(axs[0], ms, res.tau_pred, label="$\\sqrt{2n/m}/L$ (slope −0.5)")
    axs[0].set(xscale="log", yscale="log", xlabel="width m", ylabel="$\\tau=\\max_k\\|W_T-W_0\\|_F$",
               title="Weight movement (eq. (5))")
    plotting.band(axs[1], ms, res.dK.T, log=True, label=f"measured (slope {res.fit_dK.exponent:.2f})")
    plotting.slope_guide(axs[1], ms, res.dK.mean(1)[0], -2.5, label="Theorem 3: slope −2.5")
    plotting.slope_guide(axs[1], ms, res.dK.mean(1)[0], -0.5, label="re-derived: slope −0.5",
                         color=plotting.PALETTE["alt"])
    axs[1].set(xscale="log", yscale="log", xlabel="width m", ylabel="$\\|K_T-K_0\\|_F/\\|K_0\\|_F$",
               title="NTK change over training (Theorem 3)")
    return _finish(fig, axs, "data: " + data, "lower left", fontsize=8)


def linear_width(res, data: str):
    """Return the relative NTK change at m = c·n against n (seeds as a band) with Theorem 3's n^-2 and the
    constant (no growth) dashed from the first point."""
    fig, ax = plt.subplots(figsize=(6.4, 3.9))
    plotting.band(ax, res.ns, res.dK.T, log=True, label=f"measured, m = {int(res.ms[0] / res.ns[0])}n "
                  f"(slope {res.fit.exponent:.2f})")
    y0 = res.dK.mean(1)[0]
    plotting.slope_guide(ax, res.ns, y0, -2.0, label="Theorem 3 at m ∝ n: slope −2")
    plotting.slope_guide(ax, res.ns, y0, 0.0, label="no growth: slope 0", color=plotting.PALETTE["alt"])
    ax.set(xscale="log", yscale="log", xlabel="examples n", ylabel="$\\|K_T-K_0\\|_F/\\|K_0\\|_F$",
           title="NTK change at width linear in n")
    ms = [int(n) for n in res.ns]
    ax.set_xticks(ms, [str(n) for n in ms])
    ax.xaxis.set_minor_formatter(plt.NullFormatter())
    return _finish(fig, ax, "data: " + data, "lower left")


def conversion(res, m_sweep: int, data: str):
    """Return the conversion error against n/m (train outputs and last-layer residual), n = m marked."""
    fig, ax = plt.subplots()
    r = np.array(res.ratios)
    plotting.measured(ax, r, np.maximum(res.err_sweep, 1e-17), marker="o",
                      label="max $|f_{\\rm ReLU}-f_{\\rm GReLU}|$ / max $|f|$ on train")
    ax.plot(r, np.maximum(res.resid_last, 1e-17), "s:", color=plotting.PALETTE["alt"],
            label="last-layer relative residual")
    ax.axvline(1.0, color="k", lw=1, ls=":", label="n = m")
    ax.set(xscale="log", yscale="log", xlabel="n / m", ylabel="conversion error",
           title=f"GReLU → ReLU conversion, m = {m_sweep}")
    plotting.data_note(ax, "data: " + data)
    ax.legend(fontsize=8, loc="upper left")
    return fig


def table2(res, archs, base: dict):
    """Return Fig. 3a's analogue: train MSE per example against GD steps, ReLU solid and GReLU dash-dot, with the
    test MSE of the mean predictor and of a linear fit as horizontal references."""
    fig, ax = plt.subplots(figsize=(7, 4))
    for (L, m), c in zip(archs, plotting.CYCLE):
        ax.plot(res.curves["relu", L, m], "-", color=c, label=f"ReLU L={L}, m={m}")
        ax.plot(res.curves["grelu", L, m], "-.", color=c, label=f"GReLU L={L}, m={m}")
    ax.axhline(base["mean"], color="0.5", lw=1, ls=":", label="mean predictor (test)")
    ax.axhline(base["linear"], color="0.2", lw=1, ls=":", label="linear least squares (test)")
    ax.set(yscale="log", xlabel="GD step (full batch)", ylabel="train MSE per example",
           title="Fig. 3a analogue: one shared step, no augmentation")
    plotting.data_note(ax, "data: " + res.source)
    ax.legend(fontsize=7, loc="lower left", bbox_to_anchor=(0, 0.06), ncol=2)
    return fig


def augmented(res):
    """Return Figs. 3b/3c analogues: clean-train and test MSE per epoch, the conversion marked."""
    fig, axs = plt.subplots(1, 2, figsize=(11, 3.8))
    ep = np.arange(1, len(res.hist["relu_tr"]) + 1)
    for ax, split in zip(axs, ("tr", "te")):
        ax.plot(ep, res.hist["relu_" + split], "-", label="ReLU")
        g = np.where(np.isfinite(res.hist["g_" + split]), res.hist["g_" + split], np.nan)
        ax.plot(ep, g, "-.", label="GReLU → ReLU")
        ax.axvline(res.half + 1, color="k", ls=":", lw=1, label="conversion")
        if split == "te":
            ax.axhline(res.base["mean"], color="0.5", lw=1, ls="--", label="mean predictor")
            ax.axhline(res.base["linear"], color="0.2", lw=1, ls="--", label="linear least squares")
        ax.set(yscale="log", xlabel="epoch", ylabel=("clean train" if split == "tr" else "test") + " MSE per example",
               title="Fig. 3b analogue: train" if split == "tr" else "Fig. 3c analogue: test")
        plotting.data_note(ax, "data: " + res.source + " + shift/noise augmentation")
        ax.legend(fontsize=8, loc="lower left", bbox_to_anchor=(0, 0.06))
    fig.tight_layout()
    return fig


def sgemm_sweep(res, data: str):
    """Return Figs. 4a, 4b, 5: train MSE per epoch for every learning rate (GReLU, ReLU) and the high rates together."""
    fig, axs = plt.subplots(1, 3, figsize=(14, 3.8), sharey=True)
    ep = np.arange(res.mse["grelu"].shape[0])
    for ax, name, title in ((axs[0], "grelu", "Fig. 4a: GReLU"), (axs[1], "relu", "Fig. 4b: ReLU")):
        for i, c in enumerate(res.c_list):
            lab = f"c = {c}" + (" (diverged)" if res.diverged[name][i] else "")
            ax.plot(ep, res.mse[name][:, i], color=plotting.CYCLE[i % 8], label=lab)
        ax.set(yscale="log", xlabel="epoch", title=title + ", $\\eta = c/\\lambda_{\\max}(K_0^{\\rm GReLU})$")
    for i, c in enumerate(res.c_list):
        if c > 1:
            for name, ls in (("relu", "-"), ("grelu", "-.")):
                axs[2].plot(ep, res.mse[name][:, i], ls, color=plotting.CYCLE[i % 8], label=f"{name}, c = {c}")
    axs[2].set(yscale="log", xlabel="epoch", title="Fig. 5: high rates (ReLU solid, GReLU dash-dot)")
    axs[0].set_ylabel("train MSE per example")
    for a in axs:
        a.axhline(res.base["linear"], color="0.2", lw=1, ls=":", label="linear fit (validation)")
        a.legend(fontsize=7, loc="lower left", bbox_to_anchor=(0, 0.06))
        plotting.data_note(a, "data: " + data)
    fig.tight_layout()
    return fig


def sgemm_dynamics(res, data: str):
    """Return Fig. 2b (gradient differences at c = 1) and Fig. 2c (ReLU pattern churn per epoch)."""
    fig, axs = plt.subplots(1, 2, figsize=(11, 3.8))
    i1 = list(res.c_list).index(1.0)
    ep = np.arange(1, res.churn.shape[0] + 1)
    for name, ls in (("relu", "-"), ("grelu", "-.")):
        axs[0].plot(ep, res.grad_diff[name][:, i1], ls, label=f"{name}, c = 1")
    axs[0].set(yscale="log", xlabel="epoch", ylabel="mean $\\|g_t-g_{t-1}\\|$ per epoch",
               title="Fig. 2b analogue: gradient differences")
    for i, c in enumerate(res.c_list):
        if not res.diverged["relu"][i]:
            axs[1].plot(ep, 100 * res.churn[:, i], color=plotting.CYCLE[i % 8], label=f"c = {c}")
    axs[1].axhspan(20, 25, color="0.85", label="paper: 20–25 %")
    axs[1].set(xlabel="epoch", ylabel="patterns changed since last epoch (%)",
               title="Fig. 2c analogue: ReLU pattern churn")
    return _finish(fig, axs, "data: " + data, "upper right")


def sgemm_grid(res):
    """Return Fig. 4c: validation MSE per epoch of GReLU nets at about equal L·m²."""
    fig, ax = plt.subplots()
    for (L, m), v, c in zip(res.grid, res.val, plotting.CYCLE):
        ax.plot(np.arange(len(v)), v, color=c, label=f"L={L}, m={m}")
    ax.axhline(res.base["mean"], color="0.5", lw=1, ls=":", label="mean predictor")
    ax.axhline(res.base["linear"], color="0.2", lw=1, ls=":", label="linear fit")
    ax.set(yscale="log", xlabel="epoch", ylabel="validation MSE per example",
           title="Fig. 4c analogue: depth against width at about fixed $Lm^2$")
    plotting.data_note(ax, "data: " + res.source)
    ax.legend(fontsize=8, loc="lower left", bbox_to_anchor=(0, 0.06))
    return fig


_ARCH_COLORS = {"grelu_chain": plotting.PALETTE["gd"], "grelu_input": plotting.PALETTE["alt"],
                "relu": plotting.PALETTE["nag"]}


def kernels(res, L: int, m: int, d: int):
    """Return the normalised NTK K(x,x')/K(x,x) against the input cosine: closed forms dashed, seeds as error bars."""
    from .experiments import ARCHES
    from .theory import ntk_normalized_offdiag

    fig, ax = plt.subplots()
    uu = np.linspace(-0.2, 0.99, 120)
    for a, lab in ARCHES.items():
        c = _ARCH_COLORS[a]
        plotting.theory(ax, uu, [ntk_normalized_offdiag(u, L, a) for u in uu], color=c, label=f"{lab}: closed form")
        runs = res.offdiag[a]
        mu, sd = runs.mean(0), (runs.std(0, ddof=1) if runs.shape[0] > 1 else 0 * runs[0])
        ax.errorbar(res.us, mu, yerr=sd, fmt="o", color=c, label=f"{lab}: m={m}")
    ax.set(xlabel="input cosine $u=x^\\top x'$", ylabel="$K(x,x')/K(x,x)$", title=f"Normalised NTK, L={L}, $d_x$={d}")
    plotting.data_note(ax, "data: unit input pairs at prescribed cosines (generated)")
    ax.legend(fontsize=7, loc="upper left")
    return fig


def gates(res, depth: int, m_ov: int, m_fw: int):
    """Return the gate overlap of orthogonal pairs per layer (Lemma 4's 1/3) and the forward cosine (Theorem 6)."""
    import math

    from .theory import forward_corr_theory, gate_overlap_theory

    fig, axs = plt.subplots(1, 2, figsize=(11, 3.8))
    ll = np.arange(1, depth + 1)
    for mode, c in (("chain", plotting.PALETTE["gd"]), ("input", plotting.PALETTE["alt"])):
        plotting.theory(axs[0], ll, gate_overlap_theory(0.0, depth, mode), color=c, label=f"{mode}: $\\kappa_0/2$")
        plotting.measured(axs[0], ll, res.overlap[mode], color=c, marker="o", label=f"{mode}: measured, m={m_ov}")
    axs[0].axhline(1 / 3, color="k", lw=1, label="Lemma 4 bound 1/3")
    axs[0].set(xlabel="layer l", ylabel="overlap $|I^i_l\\cap I^j_l|/m$", title="Gate overlap, orthogonal inputs")
    kk = np.arange(0, depth + 1)
    plotting.theory(axs[1], kk, forward_corr_theory(0.0, depth, "chain"), label="GReLU chain: closed form")
    plotting.measured(axs[1], kk, np.abs(res.forward), marker="o", label=f"GReLU chain: measured, m={m_fw}")
    plotting.theory(axs[1], kk, forward_corr_theory(0.0, depth, "input"), color=plotting.PALETTE["alt"],
                    label="GReLU input: closed form")
    plotting.theory(axs[1], kk, forward_corr_theory(0.0, depth, arch="relu"), color=plotting.PALETTE["nag"],
                    label="ReLU $\\rho_k$: closed form")
    axs[1].plot(kk, (1 / math.pi) * (5 / 6) ** kk, ":", color="0.4", label="Theorem 6 shape $\\kappa_1(0)(5/6)^k$")
    axs[1].set(yscale="log", xlabel="layer k", ylabel="cosine of $g_k^i$ and $g_k^j$", title="Cross-example forward kernel")
    return _finish(fig, axs, "data: orthogonal unit input pairs (basis vectors)", "lower left")


def conditioning(res, n_cond: int):
    """Return cond(K) against depth at ``n_cond`` and against n at L = ⌈log2 n⌉ + 2 (closed-form Grams)."""
    from .experiments import ARCHES

    fig, axs = plt.subplots(1, 2, figsize=(11, 3.8))
    for a, lab in ARCHES.items():
        axs[0].plot(res.depths, res.cond_L[a], "o-", color=_ARCH_COLORS[a], label=lab)
        axs[1].plot(res.ns, res.cond_n[a], "o-", color=_ARCH_COLORS[a], label=lab)
    axs[0].set(xscale="log", yscale="log", xlabel="depth L", ylabel="cond(K), infinite width", title=f"n={n_cond}, d=2n")
    axs[1].set(xscale="log", yscale="log", xlabel="n (L = ⌈log2 n⌉ + 2)", ylabel="cond(K)",
               title="Theorem 1's regime L = Ω(log n)")
    return _finish(fig, axs, "data: unit Gaussian inputs, d=2n (generated); closed-form kernels", "upper left")


def architecture(L_show: int = 3):
    """Return Fig. 1 redrawn: the trained path (top, blue W_k) gated by a fixed random ReLU net (bottom, red)."""
    from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

    fig, ax = plt.subplots(figsize=(9, 3.2))
    blue, red = "#0072B2", "#D55E00"

    def box(x, y, text, color, w=0.9, h=0.5):
        ax.add_patch(FancyBboxPatch((x - w / 2, y - h / 2), w, h, boxstyle="round,pad=0.03", fc=color, alpha=0.15,
                                    ec=color, lw=1.5))
        ax.text(x, y, text, ha="center", va="center", fontsize=10)

    def arrow(x0, y0, x1, y1, color="0.3"):
        ax.add_patch(FancyArrowPatch((x0, y0), (x1, y1), arrowstyle="-|>", mutation_scale=12, color=color, lw=1.2))

    box(0, 1, "$x$", "0.5", w=0.5)
    box(1.2, 1, "$C$", red)
    box(1.2, 0, "$[\\cdot]^+$ ⇒ $z_0$", red, w=1.0)
    arrow(0.25, 1, 0.75, 1)
    arrow(1.2, 0.75, 1.2, 0.25, red)
    x = 1.2
    for k in range(1, L_show + 1):
        xk = 1.2 + 2.0 * k
        box(xk - 0.6, 1, f"$W_{k}$", blue)
        box(xk + 0.35, 1, "⊙", "0.5", w=0.35)
        box(xk - 0.6, 0, f"$\\Psi_{k}$", red, w=0.6)
        box(xk + 0.35, 0, f"$[\\cdot]_+$→$D_{k}$", red, w=0.75)
        arrow(x + 0.45, 1, xk - 1.05, 1)
        arrow(x + (0.5 if k == 1 else 0.375), 0, xk - 0.9, 0, red)
        arrow(xk - 0.15, 1, xk + 0.17, 1)
        arrow(xk - 0.3, 0, xk - 0.025, 0, red)
        arrow(xk + 0.35, 0.25, xk + 0.35, 0.75, red)
        x = xk + 0.35
    box(x + 1.0, 1, "$B$", red)
    box(x + 2.0, 1, "$f(x)$", "0.5", w=0.7)
    arrow(x + 0.2, 1, x + 0.55, 1)
    arrow(x + 1.45, 1, x + 1.65, 1)
    ax.text(1.2, 0.6, "$D_0$", color=red, fontsize=9, ha="left")
    ax.set(xlim=(-0.4, x + 2.5), ylim=(-0.5, 1.5))
    ax.axis("off")
    ax.set_title("Fig. 1 (redrawn): trained path (top, blue $W_k$) gated by a fixed random ReLU net (bottom, red)")
    return fig


def arch_stats(res, n: int, dead_m: int):
    """Return gate density and bias shift per layer (Remark 3) and the born-dead fraction per layer."""
    import math

    fig, axs = plt.subplots(1, 3, figsize=(14, 3.6))
    k = np.arange(len(res.density_grelu))
    plotting.measured(axs[0], k, res.density_grelu, marker="o", label="GReLU gate density")
    axs[0].plot(k, res.density_relu, "s-", color=plotting.PALETTE["nag"], label="ReLU activation density")
    plotting.theory(axs[0], k, 0.5 + 0 * k, label="theory 1/2")
    axs[0].set(xlabel="layer k", ylabel="fraction of open gates", ylim=(0.3, 0.7), title="Gate density")
    plotting.measured(axs[1], k[1:], res.stat_grelu, marker="o", label="GReLU $g_k$")
    axs[1].plot(k[1:], res.stat_relu, "s-", color=plotting.PALETTE["nag"], label="ReLU $h_k$")
    plotting.theory(axs[1], k[1:], 0 * k[1:], label="GReLU theory 0")
    plotting.theory(axs[1], k[1:], 1 / math.sqrt(math.pi) + 0 * k[1:], color=plotting.PALETTE["nag"],
                    label="ReLU theory $1/\\sqrt{\\pi}$")
    axs[1].set(xlabel="layer k", ylabel="|mean| / rms of hidden units", title="Bias shift (Remark 3)")
    for mode, c in (("chain", plotting.PALETTE["gd"]), ("input", plotting.PALETTE["alt"])):
        axs[2].plot(np.arange(1, len(res.dead[mode]) + 1), 100 * res.dead[mode], "o-", color=c, label=f"{mode} gates")
    axs[2].axhline(100 * 2.0 ** -n, ls="--", color="k", label="Remark 3: $2^{-n}$")
    axs[2].set(xlabel="layer k", ylabel="born-dead neurons (%)", yscale="symlog", ylim=(0, 100),
               title=f"Closed for all n={n} examples, m={dead_m}")
    return _finish(fig, axs, f"data: {n} unit Gaussian inputs (generated)", "upper left")


def table1_calculator(L_values=(10, 100)):
    """Return Table 1 as a calculator: log10 of the required width against n (solid/dashed: two depths)."""
    from .theory import TABLE1

    fig, ax = plt.subplots()
    ns = np.logspace(1, 7, 50)
    for Lv, ls in zip(L_values, ("-", "--")):
        for (work, f, *_), c in zip(TABLE1[1:], plotting.CYCLE[1:]):
            ax.plot(ns, [f(v, Lv) for v in ns], ls, color=c, label=work if ls == "-" else None)
    ax.set(xscale="log", xlabel="number of examples n", ylabel="log10 of the required width m",
           title="Table 1 as a calculator (solid L=%d, dashed L=%d)" % tuple(L_values))
    ax.legend(fontsize=7, loc="upper left")
    plotting.data_note(ax, "formulas of Table 1 (no data)")
    return fig


def flops(res):
    """Return the measured speed-up over dense of each variant against width (one panel per batch size)."""
    batches = sorted(set(res.table.batch))
    fig, axs = plt.subplots(1, len(batches), figsize=(4.2 * len(batches), 3.6), sharey=True, squeeze=False)
    for ax, b in zip(axs[0], batches):
        sub = res.table[res.table.batch == b]
        for (variant, grp), c in zip(sub.groupby("variant"), plotting.CYCLE):
            ax.plot(grp.m, grp.speedup, "o-", color=c, label=variant)
        ax.axhline(2, color="k", ls="--", lw=1, label="paper's ≈2× (50 % FLOPs)")
        ax.set(xscale="log", yscale="log", xlabel="width m", title=f"batch {b}")
        plotting.data_note(ax, "Gaussian X, W; 50 % random gates")
        ax.legend(fontsize=6, loc="lower left", bbox_to_anchor=(0, 0.06))
    axs[0, 0].set_ylabel(f"speed-up over dense ({res.device_name})")
    fig.tight_layout()
    return fig


def lowrank(res, lr_ms):
    """Return gate agreement against rank (Gaussian Ψ per width; the trained net's Ψ' = W) and the trained net's
    test MSE against rank, with the exact-gate value and the baselines dashed."""
    fig, axs = plt.subplots(1, 2, figsize=(11, 3.8))
    for m, c in zip(lr_ms, plotting.CYCLE):
        rr, aa = zip(*res.gaussian[m])
        axs[0].plot(np.array(rr) / m, aa, "o-", color=c, label=f"Gaussian Ψ, m={m}")
    m0 = min(lr_ms)
    r = np.array(res.trained["ranks"]) / m0
    axs[0].plot(r, res.trained["agreement"], "s-", color="k", label=f"trained $\\Psi'=W$, m={m0}")
    axs[0].axhline(0.5, color="0.5", ls=":", lw=1, label="random gates")
    axs[0].set(xscale="log", xlabel="rank r / m (leftmost: r = √m/2)", ylabel="gate agreement", title="Low-rank gates")
    plotting.measured(axs[1], r, res.trained["mse"], marker="s", label="rank-r gates")
    plotting.theory(axs[1], r, res.trained["exact"] + 0 * r, label="exact gates")
    axs[1].axhline(res.base["mean"], color="0.5", ls=":", lw=1, label="mean predictor")
    axs[1].axhline(res.base["linear"], color="0.2", ls=":", lw=1, label="linear fit")
    axs[1].set(xscale="log", yscale="log", xlabel="rank r / m", ylabel="test MSE per example",
               title="Remark 4: trained net with rank-r gates")
    return _finish(fig, axs, "data: digits stand-in (trained net); Gaussian Ψ and inputs", "upper right")


def fast_path(res):
    """Return the batch-1 speed-up over the faster dense GEMV of each variant against width (the conservative
    quartile range as a band), with the byte-count predictions dashed and issue 16's criterion dotted."""
    fig, ax = plt.subplots(figsize=(7.5, 4.2))
    rho = res.density
    pred = {"fast": 1 / rho, "net": 1 / (1 + rho), "masked dense": 1.0}
    for (variant, grp), c in zip(res.table.groupby("variant", sort=False), plotting.CYCLE):
        plotting.measured(ax, grp.m, grp.speedup, color=c, label=variant, marker="o")
        ax.fill_between(grp.m, grp.lo, grp.hi, color=c, alpha=0.12, lw=0)
        if variant in pred:
            plotting.theory(ax, grp.m, pred[variant] + 0 * grp.m, color=c, label=f"bytes: {pred[variant]:.2f}×")
    ax.axhline(1.5, color="k", ls=":", lw=1, label="criterion 1.5× (m ≥ 2048)")
    ax.set(xscale="log", yscale="log", xlabel="width m", ylabel=f"speed-up over the faster dense GEMV\n({res.device_name})",
           title=f"Batch-1 gated layer, float32, gate density ρ = {rho:.2f}\nfast path: {gemm.BACKEND_NAMES[res.backend]}")
    ms = sorted(set(res.table.m))
    ax.set_xticks(ms, [str(m) for m in ms])
    ax.xaxis.set_minor_formatter(plt.NullFormatter())
    lo, hi = ax.get_ylim()
    ys = []  # speed-up ticks in order of preference, each kept if ≥ 8 % of the log range from those kept
    for y in (1, 2, 0.5, 5, 0.2, 10, 0.1, 1.5, 0.75, 3, 0.25, 4):
        if lo <= y <= hi and all(abs(np.log(y / k)) >= 0.08 * np.log(hi / lo) for k in ys):
            ys.append(y)
    ys.sort()
    ax.set_yticks(ys, [f"{y:g}×" for y in ys])
    ax.yaxis.set_minor_formatter(plt.NullFormatter())
    ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.01, 0.5))
    plotting.data_note(ax, "Gaussian W, Ψ, h; gates of Ψz (generated)")
    fig.tight_layout()
    return fig
