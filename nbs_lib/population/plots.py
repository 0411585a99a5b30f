"""Figure helpers of paper 002: each returns one new figure drawn from an experiment's result (theory dashed,
measured solid), laid out with constrained layout so that no two texts overlap (tested with
``plotting.assert_readable`` in ``tests/test_002_figures.py``). Notebooks call ``fig = plots.fig3(res, ...)``
and ``plt.show()``; explorers call the same helpers.
"""
from __future__ import annotations

import functools
import math

import matplotlib.pyplot as plt
import numpy as np

from .. import plotting

POP_NOTE = "data: none (closed-form population loss)"


def _figure(nrows: int = 1, ncols: int = 1, figsize=(6.4, 4.2)):
    """Decorate ``helper(fig, axs, *args)`` into ``helper(*args) -> fig`` on a new constrained-layout figure."""
    def deco(fn):
        @functools.wraps(fn)
        def wrapper(*args, **kw):
            fig, axs = plt.subplots(nrows, ncols, figsize=figsize, layout="constrained", squeeze=False)
            fn(fig, axs[0, 0] if nrows * ncols == 1 else (axs[0] if nrows == 1 else axs), *args, **kw)
            return fig
        return wrapper
    return deco

@_figure(1, 1, (9, 4.6))
def fig3(fig, ax, res, sigma, mu, d):
    """Draw Fig. 3: loss, v₁, ‖w₁‖ and the angle θ against the step, with measured (solid) and predicted (dashed) phases."""
    m, t = res.metrics, res.t
    ax.plot(t, res.loss, color=plotting.PALETTE["gd"], label="population loss L")
    ax.plot(t, m["v1"], color=plotting.PALETTE["alt"], label="$v_1$")
    ax.plot(t, m["n1"], ":", color=plotting.PALETTE["alt3"], lw=2.5, label="$\\|w_1\\|$")
    ax2 = ax.twinx()
    ax2.plot(t, m["theta"], color="#C0392B", label="$\\theta = \\angle(w_1, w_2)$")
    ax2.set_ylabel("$\\theta$ (radians)", color="#C0392B")
    ax2.set_ylim(0, 3.3)
    ax2.grid(False)
    names = {"T1": "$T_1$", "T12": "$T_{12}$", "Tconv": "$\\|h\\|^2 \\leq 10^{-8}$"}
    for j, (key, lab) in enumerate(names.items()):
        if res.measured[key] >= 0:
            ax.axvline(res.measured[key], color="0.3", lw=1)
            ax.annotate(lab, (res.measured[key], 1.02 + 0.09 * j), ha="left", fontsize=8,
                        xytext=(3, 0), textcoords="offset points")
    for key in ("T1", "T12"):
        ax.axvline(res.predicted[key], color=plotting.PALETTE["theory"], ls="--", lw=1)
    ax.plot([], [], "--", color=plotting.PALETTE["theory"], label="predicted $T_1$, $T_{12}$")
    ax.set(xlabel="GD step $\\tau$", ylabel="$L$, $v_1$, $\\|w_1\\|$", ylim=(-0.02, 1.3),
           title=f"Fig. 3: phases of GD ($\\sigma$ = {sigma:g}, $\\mu$ = {mu:g}, $\\chi$-init, d = {d})")
    h1, l1 = ax.get_legend_handles_labels()
    h2, l2 = ax2.get_legend_handles_labels()
    ax.legend(h1 + h2, l1 + l2, loc="center right", fontsize=8)
    plotting.data_note(ax, POP_NOTE)


@_figure(1, 3, (14, 4.2))
def phase_sweep(fig, axs, res):
    """Draw T₁ and T₁₂ against ln(1/σ) (each seed, median, prediction) and μ·T₁ against μ."""
    L1s = np.log(1 / res.sigmas)
    S = res.T1.shape[1]
    c = plotting.PALETTE
    for ax, T, pred, name in ((axs[0], res.T1, np.full_like(L1s, res.T1_pred), "$T_1$ (alignment)"),
                              (axs[1], res.T12, res.T12_pred, "$T_{12}$ (end of growth)")):
        ax.plot(np.repeat(L1s, S), T.ravel(), "o", ms=3, alpha=0.4, color=c["measured"], label="each seed")
        ax.plot(L1s, np.median(T, 1), "-", color=c["measured"], label="median")
        plotting.theory(ax, L1s, pred, label="predicted")
        ax.set(xlabel="$\\ln(1/\\sigma)$", ylabel=name)
    axs[0].set(ylim=(0, 2 * res.T1_pred), title="alignment time vs $\\sigma$")
    axs[1].set(title="growth lasts $\\ln(1/\\sigma)/\\ln(1+\\mu/2)$")
    axs[2].plot(res.mus, res.mus * res.T1_mu, "o-", color=c["measured"], label="measured $\\mu T_1$ (median)")
    plotting.theory(axs[2], res.mus, res.mus * res.T1_mu_pred, label="predicted")
    axs[2].set(xlabel="$\\mu$", ylabel="$\\mu\\, T_1$", ylim=(0, 8), title="$T_1 \\propto 1/\\mu$")
    axs[2].xaxis.set_major_locator(plt.MaxNLocator(5))
    for ax in axs:
        ax.legend(fontsize=8, loc="lower right")
        plotting.data_note(ax, POP_NOTE)


@_figure(1, 1, (8, 4.4))
def local_rate(fig, ax, res, seeds):
    """Draw ‖h‖² against the step for one seed per σ, with the fast and slow predicted slopes."""
    fast, slow = res.slopes_pred
    n = len(res.sigmas)
    for j, s in enumerate(res.sigmas):
        ax.semilogy(res.t, res.h2[:, j * seeds], color=plt.get_cmap("viridis")(j / max(n - 1, 1)),
                    label=f"$\\sigma$ = {s:g}")
    h0 = res.h2[:, 0]
    t0 = int(np.argmax(h0 < 1e-8)) if (h0 < 1e-8).any() else len(h0) // 2
    tt = res.t[max(t0 - 60, 0):]
    plotting.theory(ax, tt, 1e-8 * np.exp(fast * (tt - res.t[t0])), label=f"fast $2\\ln(1-\\mu)$ = {fast:.3f}")
    plotting.theory(ax, tt, 1e-8 * np.exp(slow * (tt - res.t[t0])), color=plotting.PALETTE["grey"],
                    label=f"slow $2\\ln(1-\\mu/2)$ = {slow:.3f}")
    ax.set(xlabel="GD step", ylabel="$\\|h_1\\|^2 + \\|h_2\\|^2$", ylim=(1e-32, 10),
           title="local refinement: linear convergence between two predicted rates")
    ax.legend(fontsize=7, ncol=2, loc="lower left", bbox_to_anchor=(0.0, 0.06))
    plotting.data_note(ax, POP_NOTE)


@_figure(1, 3, (14, 4.2))
def lemma_steps(fig, axs, res):
    """Draw Lemma 3's ratio at random points (histogram, bound dashed) and Lemmas 4–5's next-step maxima vs μ."""
    c = plotting.PALETTE
    r = res.lemma3_ratio[res.lemma3_ratio > 0]
    axs[0].hist(r, bins=np.geomspace(max(r.min(), 1e-8), 10, 60), color=c["measured"], alpha=0.7,
                label=f"{r.size} neuron-points")
    axs[0].axvline(6, color=c["theory"], ls="--", label="Lemma 3 bound $c_6 = 6$")
    axs[0].set(xscale="log", xlabel="$|\\Delta b_i| / (\\mu^2 (v_i^2 + \\|w_i\\|^2)\\|h\\|^2)$", ylabel="count",
               title="Lemma 3 at random points ($v_i > 0$)")
    axs[1].plot(res.mus, res.max_angle, "o-", color=c["measured"], label="max next-step $\\theta_i$")
    axs[1].axhline(math.pi / 20, color=c["theory"], ls="--", label="Lemma 4: $\\pi/20$")
    axs[1].set(yscale="log", xlabel="$\\mu$", ylabel="angle (rad)", title="Lemma 4: one step from the hypotheses")
    axs[2].plot(res.mus, res.v_max, "o-", color=c["measured"], label="max next-step $v_i$")
    axs[2].plot(res.mus, 0.25 * res.v_min_over_beta, "s-", color=c["alt"], label="min next-step $v_i$")
    axs[2].axhline(2, color=c["theory"], ls="--", label="Lemma 5: $c_2 = 2$")
    axs[2].axhline(0.25, color=c["grey"], ls="--", label="Lemma 5: $\\beta = 1/4$")
    axs[2].set(xlabel="$\\mu$", ylabel="$v_i$", title="Lemma 5: one step from the hypotheses")
    for ax in axs[1:]:
        ax.axvspan(0.5, max(res.mus.max(), 0.5) * 1.05, color=c["grey"], alpha=0.12, label="$\\mu > c_0 = 1/2$")
    for ax in axs:
        ax.legend(fontsize=7)
        plotting.data_note(ax, "data: random parameter points (closed forms)")


def neuron_paths(ax, path, title, labels=("$w_1$", "$w_2$")):
    """Draw the paths of two neurons in the (a, u ⊥ a) plane: crosses at the start, dots at the end, arrows ±a."""
    for i, col in enumerate((plotting.PALETTE["nag"], plotting.PALETTE["gd"])):
        ax.plot(path[:, i, 0], path[:, i, 1], "-", color=col, lw=1.2, label=labels[i])
        ax.plot(path[-1, i, 0], path[-1, i, 1], "o", color=col, ms=6)
        ax.plot(path[0, i, 0], path[0, i, 1], "x", color=col, ms=6)
    ax.quiver([0, 0], [0, 0], [1, -1], [0, 0], angles="xy", scale_units="xy", scale=1, color="k", width=0.004)
    ax.set(xlabel="coordinate along $a$", ylabel="coordinate along $u \\perp a$", title=title)
    ax.legend(loc="upper left")
    plotting.data_note(ax, POP_NOTE)


@_figure(1, 1, (6.4, 4.8))
def slice_panel(fig, ax, res):
    """Draw Fig. 1(c): the slice loss with its colourbar, the two valleys and the minimum."""
    cs = ax.contourf(res.alpha, res.alpha, res.loss.T, levels=30, cmap="viridis")
    fig.colorbar(cs, ax=ax, label="population loss $L$")
    ax.plot([1, 3], [0, 2], "--", color="w", lw=2, label="valley $\\alpha_1-\\alpha_2=1$, $\\alpha>0$")
    ax.plot([-1, 0], [-2, -1], "--", color="orange", lw=2, label="valley $\\alpha_1-\\alpha_2=1$, $\\alpha<0$")
    ax.plot([1], [-1], "*", color="r", ms=14, label="global minimum $(1, -1)$")
    ax.set(xlabel="$\\alpha_1$", ylabel="$\\alpha_2$", title="Fig. 1(c): slice $w_i = \\alpha_i a$, $v = [1, -1]$")
    ax.legend(fontsize=7, loc="upper left")
    plotting.data_note(ax, "data: none (closed form)")


def spectra(axs, res):
    """Draw the FD Hessian spectra (dots) at a saddle and an optimum against the predicted ones (open squares)."""
    for ax, ev, pr, t in ((axs[0], res.ev_saddle, res.pr_saddle, "saddle, $c$ = 0.6"),
                          (axs[1], res.ev_opt, res.pr_opt, "optimum")):
        ax.plot(pr, "s", mfc="none", color=plotting.PALETTE["theory"], ms=9, label="predicted")
        ax.plot(ev, "o", color=plotting.PALETTE["measured"], ms=4, label="FD Hessian")
        ax.set(xlabel="eigenvalue index", ylabel="eigenvalue", title=f"Hessian at a {t} (d = 6)",
               ylim=(-0.12 * max(pr.max(), 1e-12), 1.08 * max(pr.max(), 1e-12)))
        ax.legend(loc="upper left")
        plotting.data_note(ax, "data: none (closed form)")


def search(ax, res):
    """Draw the loss of each stationary point found by the search, by family (optima at 0, saddles at ¼)."""
    names = {0: "global optimum", 1: "saddle of the family", 2: "other"}
    cols = {0: plotting.PALETTE["alt"], 1: plotting.PALETTE["measured"], 2: plotting.PALETTE["nag"]}
    idx = np.arange(res.found_class.size)
    for c_, n_ in names.items():
        m = res.found_class == c_
        ax.plot(idx[m], res.found_loss[m], "o", ms=4, color=cols[c_], label=f"{n_} ({int(m.sum())})")
    for y in (0.0, 0.25):
        ax.axhline(y, color=plotting.PALETTE["theory"], ls="--", lw=0.8)
    ax.set(ylim=(-0.08, 0.4), xlabel="start", ylabel="loss $L/\\|a\\|^2$ at the point found",
           title="search for $\\nabla L = 0$ ($d$ = 3)")
    ax.legend(fontsize=8)
    plotting.data_note(ax, "data: none (closed form)")


@_figure(1, 3, (15, 4.2))
def theorem1(fig, axs, res):
    """Draw Theorem 1's checks: Hessian spectra at a saddle and an optimum, and the stationary points found."""
    spectra(axs[:2], res)
    search(axs[2], res)


@_figure(1, 2, (11, 4.2))
def fig1(fig, axs, res, sigma_a, eps_b):
    """Draw Fig. 1(a) (small init → optimum) and 1(b) (near 1.5a → the saddle), neurons in the (a, u) plane."""
    neuron_paths(axs[0], res.path_a, f"(a) small init, $\\sigma$ = {sigma_a:g}")
    neuron_paths(axs[1], res.path_b, f"(b) near $1.5a$, $\\varepsilon$ = {eps_b:g}")
    axs[1].set_ylim(-0.05, 0.05)


@_figure(1, 2, (11, 4.4))
def landscape_path(fig, axs, res, sl, sigma, mu):
    """Draw panel (a)'s run on the landscape: its a-coordinates (α₁, α₂) over the slice loss (Fig. 1(c)), and the
    measured loss (solid) against the slice loss at the run's a-coordinates (dashed, exact once w_i ∥ a)."""
    lo, hi = float(sl.alpha[0]), float(sl.alpha[-1])
    im = axs[0].imshow(sl.loss[::2, ::2].T, origin="lower", extent=(lo, hi, lo, hi), cmap="viridis", aspect="auto")
    fig.colorbar(im, ax=axs[0], label="slice loss $L$")
    p = res.path_a
    axs[0].plot(p[:, 0, 0], p[:, 1, 0], "-", color="w", lw=1.5, label="GD: $(a^\\top w_1, a^\\top w_2)$")
    axs[0].plot([1], [-1], "*", color="r", ms=14, label="global minimum $(1, -1)$")
    axs[0].set(xlabel="$\\alpha_1 = a^\\top w_1$", ylabel="$\\alpha_2 = a^\\top w_2$", xlim=(-1, 2), ylim=(-2, 1),
               title=f"(a) on the slice: $\\sigma$ = {sigma:.3g}, $\\mu$ = {mu:.3g}")
    axs[0].legend(fontsize=7, loc="upper right", frameon=True)
    t = np.arange(len(res.loss_path))
    axs[1].semilogy(t, res.loss_path, color=plotting.PALETTE["measured"], label="measured loss")
    plotting.theory(axs[1], t, np.maximum(res.slice_path, 1e-300), label="slice loss at $(\\alpha_1, \\alpha_2)$")
    axs[1].set(xlabel="GD step", ylabel="population loss", ylim=(1e-12, 2), title="loss along the run")
    axs[1].legend(fontsize=8, loc="lower left")
    plotting.data_note(axs[1], POP_NOTE)


@_figure(1, 2, (12, 4.2))
def escape(fig, axs, res):
    """Draw the escape loss curves (colour: ε, with a colourbar) and the escape step against θ₀ with slope −1."""
    import matplotlib as mpl

    norm = mpl.colors.LogNorm(res.eps.min(), res.eps.max() * (1.0001 if res.eps.min() == res.eps.max() else 1))
    cmap = plt.get_cmap("viridis")
    steps = np.arange(res.loss.shape[0])
    for j in range(res.loss.shape[1]):
        axs[0].plot(steps, res.loss[:, j], color=cmap(norm(res.eps[j])), lw=1)
    fig.colorbar(mpl.cm.ScalarMappable(norm=norm, cmap=cmap), ax=axs[0], label="perturbation $\\varepsilon$")
    axs[0].axhline(0.25, ls="--", color=plotting.PALETTE["theory"], label="saddle loss $\\|a\\|^2/4$")
    axs[0].axhline(0.125, ls=":", color=plotting.PALETTE["grey"], label="escape threshold 1/8")
    axs[0].set(yscale="log", ylim=(1e-6, 1), xlabel="GD step", ylabel="population loss", title="loss from $1.5a + \\varepsilon\\xi$")
    axs[0].legend(fontsize=8, loc="lower left")
    esc = res.T_esc > 0
    axs[1].loglog(res.theta0[esc], res.T_esc[esc], "o", color=plotting.PALETTE["measured"], label="measured")
    if esc.sum() >= 2:
        xs = np.geomspace(res.theta0[esc].min(), res.theta0[esc].max(), 20)
        y0 = np.exp(np.mean(np.log(res.T_esc[esc] * res.theta0[esc])))
        plotting.theory(axs[1], xs, y0 / xs, label="theory: slope $-1$")
    axs[1].set(xlabel="initial angle $\\theta_0$ between $w_1$ and $w_2$", ylabel="escape step (first $L < 1/8$)",
               title="escape time $\\propto 1/\\theta_0$")
    axs[1].legend(fontsize=8)
    for ax in axs:
        plotting.data_note(ax, POP_NOTE)


@_figure(1, 1, (7, 4.2))
def success(fig, ax, res, sigma, d):
    """Draw the §4 success rate against k (±2 Wilson interval), 1 − 2^(1−k) dashed, and both rules' agreement."""
    c = plotting.PALETTE
    err = np.abs(res.success_ci.T - res.success)
    ax.errorbar(res.ks, res.success, yerr=err, fmt="o", color=c["measured"], capsize=3, label="measured success (±2 Wilson)")
    kk = np.arange(2, res.ks.max() + 1)
    plotting.theory(ax, kk, 1 - 2.0 ** (1 - kk), label="predicted $1 - 2^{1-k}$")
    ax.plot(res.ks, res.exact_agree, "s", mfc="none", color=c["alt"], ms=8, label="exact rule: agreement")
    ax.plot(res.ks, res.paper_agree, "^", mfc="none", color=c["nag"], ms=8, label="paper's same-sign rule: agreement")
    ax.set(xlabel="hidden units $k$", ylabel="fraction of seeds", ylim=(0.3, 1.05),
           title=f"§4: success from $\\sigma$ = {sigma:g} (d = {d})")
    ax.legend(fontsize=8, loc="lower right")
    plotting.data_note(ax, POP_NOTE)


@_figure(1, 1, (7, 4.2))
def init_failure(fig, ax, res):
    """Draw the failure rate against d for the χ-init and Gaussian outer weights (±2 Wilson band), rules dashed."""
    for rate, ci, pred, col, name in ((res.fail_chi, res.fail_chi_ci, res.pred_chi, plotting.PALETTE["measured"],
                                       "$\\chi$-init (Theorem 2)"),
                                      (res.fail_gauss, res.fail_gauss_ci, res.pred_gauss, plotting.PALETTE["nag"],
                                       "Gaussian $v_i$ (§3 alternative)")):
        ax.plot(res.ds, rate, "o-", color=col, label=f"{name}: measured")
        ax.fill_between(res.ds, ci[:, 0], ci[:, 1], color=col, alpha=0.2, lw=0)
        plotting.theory(ax, res.ds, pred, color=col, label=f"{name}: sign rule")
    ax.set(xscale="log", xlabel="input dimension $d$", ylabel="failure rate", ylim=(-0.02, 0.7),
           title="Theorem 2's probability: failure rate against $d$")
    ax.set_xticks(res.ds, [str(x) for x in res.ds])
    ax.legend(fontsize=8, loc="center right")
    plotting.data_note(ax, POP_NOTE)


def fig2_panel(ax, p, k, s, align=None):
    """Draw one Fig. 2 panel: neuron paths in the (a, u) plane (red v_i > 0, blue v_i < 0), the group sums (stars)
    and ±a (dotted). At σ < 1 the u axis is in units of σ (written in the label, no offset text). ``align``: the
    exact sign rule's predicted final signs, drawn as open circles at the predicted ends ±a."""
    sc = 1.0 if s == 1.0 else 1.0 / s
    for i in range(p["path"].shape[1]):
        col = "#D62728" if p["sign"][i] > 0 else "#1F77B4"
        ax.plot(p["path"][:, i, 0], sc * p["path"][:, i, 1], "-", color=col, lw=1, alpha=0.8)
        ax.plot(p["path"][-1, i, 0], sc * p["path"][-1, i, 1], "o", color=col, ms=5)
    ax.plot(p["P"][0], sc * p["P"][1], "*", color="#9467BD", ms=16, label="$\\sum_{v_i>0}|v_i|w_i$")
    ax.plot(p["N"][0], sc * p["N"][1], "*", color="#2CA02C", ms=16, label="$\\sum_{v_i<0}|v_i|w_i$")
    if align is not None:
        ax.plot(np.sign(align), np.zeros_like(align), "o", mfc="none", mec="k", ms=12,
                label="sign rule: predicted side $\\pm a$")
    ax.axvline(1, color="k", lw=0.6, ls=":")
    ax.axvline(-1, color="k", lw=0.6, ls=":")
    ax.ticklabel_format(axis="y", useOffset=False, style="plain")
    unit = "" if s == 1.0 else f" (units of {s:.0e})"
    ax.set(xlabel="coordinate along $a$ (dotted: $\\pm a$)", ylabel=f"along $u \\perp a${unit}",
           title=f"k = {k}, $\\sigma$ = {s:.0e}: L = {max(p['loss'], 0.0):.1e}, {p['steps']} steps")
    ax.legend(fontsize=8, loc="upper left")
    plotting.data_note(ax, POP_NOTE)


@_figure(2, 2, (12, 10))
def fig2(fig, axs, res, sigma_small):
    """Draw Fig. 2 (rows: σ = 1 and the small σ, columns: k = 4, 8); red v_i > 0, blue v_i < 0, stars: group sums."""
    for c_, k in enumerate((4, 8)):
        for r_, s in enumerate((1.0, sigma_small)):
            fig2_panel(axs[r_, c_], res.panels[(k, s)], k, s)


@_figure(1, 1, (6.4, 5))
def fig2_one(fig, ax, p, k, s):
    """Draw one Fig. 2 panel (the explorer's) with the exact sign rule's predicted ends."""
    fig2_panel(ax, p, k, s, align=p.get("predicted_sign"))


@_figure(1, 2, (12, 4.2))
def certificates(fig, axs, res, alpha, alpha_t):
    """Draw Figs. 4 and 5: the reduced certificate (dashed), the direct minima over a (dots) and the zero crossing."""
    for ax, F, D, z, name in ((axs[0], res.F4, res.D4, res.zero4, f"Fig. 4: PL certificate, $\\alpha$ = {alpha:g}"),
                              (axs[1], res.F5, res.D5, res.zero5, f"Fig. 5: loss lower bound, $\\tilde\\alpha$ = {alpha_t:g}")):
        ax.axvspan(math.pi / 2, math.pi, color=plotting.PALETTE["alt"], alpha=0.12, label="$\\theta \\geq \\pi/2$ (needed)")
        plotting.theory(ax, res.theta, F, label="1-D reduction (paper)")
        ax.plot(res.theta_direct, D, "o", color=plotting.PALETTE["measured"], ms=5, label="direct min over $a$ (BFGS)")
        ax.axhline(0, color="0.4", lw=0.8)
        if np.isfinite(z):
            ax.axvline(z, color=plotting.PALETTE["nag"], lw=1, ls=":", label=f"zero crossing {z:.4f}")
        ax.set(xlabel="$\\theta = \\angle(w_1, w_2)$", ylabel="certificate value", title=name)
        ax.legend(fontsize=8, loc="lower right")
        plotting.data_note(ax, "data: none (closed forms)")


@_figure(1, 3, (15, 4.2))
def inequalities(fig, axs, res, alpha, alpha_t):
    """Draw histograms of the Lemma 8, 13 and 12 ratios (random points and GD) with the paper's bounds dashed."""
    from matplotlib.ticker import LogLocator

    rows = ((axs[0], res.pl_random, res.pl_traj, alpha, "Lemma 8: $\\|\\nabla_W L\\|^2 / (\\min v^2\\, L)$"),
            (axs[1], res.lb_random, res.lb_traj, alpha_t, "Lemma 13: $L / \\|h\\|^2$"),
            (axs[2], res.l12, None, 2.5, "Lemma 12: $\\|\\nabla_W L\\|^2 / \\|W - W^*\\|^2$"))
    for ax, r_, t_, bound, name in rows:
        lo, hi = max(min(r_.min(), bound) / 2, 1e-4), max(r_.max(), bound) * 2
        bins = np.geomspace(lo, hi, 60)
        ax.hist(r_, bins=bins, color=plotting.PALETTE["measured"], alpha=0.6, label=f"random points ({len(r_)})")
        if t_ is not None and t_.size:
            ax.hist(t_, bins=bins, color=plotting.PALETTE["alt"], alpha=0.6, label=f"GD steps ({len(t_)})")
        ax.axvline(bound, color=plotting.PALETTE["theory"], ls="--", label=f"paper's bound {bound:g}")
        ax.set(xscale="log", xlabel="ratio", ylabel="count", title=name)
        ax.xaxis.set_major_locator(LogLocator(base=10, numticks=5))
        ax.xaxis.set_minor_locator(LogLocator(base=10, subs=(), numticks=5))
        ax.legend(fontsize=7)
        plotting.data_note(ax, "data: random parameters / GD on the closed form")


MARKERS = ["s", "o", "^", "D", "v", "P", "X", "<", ">", "h"] * 5


@_figure(1, 2, (11, 5))
def pairs(fig, axs, panel, r, sigma, mu):
    """Draw both layers' trajectories in 2-D frames; the two neurons of a pair share colour and end marker
    (filled, black edge) and are joined by a dashed segment through the origin."""
    cols = plt.get_cmap("tab10" if r <= 10 else "tab20")(np.linspace(0, 1, 10 if r <= 10 else 20))
    seen = {}
    for i in range(2 * r):
        q = min(i, int(panel["partner"][i]))
        c_ = seen.setdefault(q, len(seen))
        col, mk = cols[c_ % len(cols)], MARKERS[c_]
        for ax, T_ in ((axs[0], panel["V"]), (axs[1], panel["W"])):
            ax.plot(T_[:, i, 0], T_[:, i, 1], "-", color=col, lw=0.9, alpha=0.7)
            ax.plot(T_[-1, i, 0], T_[-1, i, 1], mk, color=col, ms=9, mec="k", mew=0.8)
            if i < panel["partner"][i]:
                k_ = int(panel["partner"][i])
                ax.plot([T_[-1, i, 0], T_[-1, k_, 0]], [T_[-1, i, 1], T_[-1, k_, 1]], "--", color=col, lw=0.8)
    axs[0].set(xlabel="frame axis 1", ylabel="frame axis 2", title=f"(a) outer weights $v_i$ (r = {r}, k = {2 * r}, $\\sigma$ = {sigma:.0e})")
    axs[1].set(xlabel="frame axis 1 (inside span $e_1..e_r$)", ylabel="frame axis 2",
               title=f"(b) inner weights $w_i$; L = {panel['loss']:.1e}")
    for ax in axs:
        ax.set_aspect("equal", "datalim")
        plotting.data_note(ax, POP_NOTE)


@_figure(1, 1, (7, 4))
def pairing_contrast(fig, ax, res):
    """Draw per seed the exact-negation error at σ = 1, the scale-invariant cost at σ = 1 and the error at small σ."""
    c = plotting.PALETTE
    r0 = next(iter(res.err))
    ax.semilogy(res.large["exact"], "o", color=c["nag"], label="exact negation error ($\\sigma$ = 1)")
    ax.semilogy(np.maximum(res.large["si"], 1e-17), "s", color=c["alt"], label="scale-invariant cost ($\\sigma$ = 1)")
    ax.semilogy(res.err[r0], "^", color=c["measured"], label="exact negation error (small $\\sigma$)")
    ax.set(xlabel="seed", ylabel="max over neurons", title=f"pairing at $\\sigma$ = 1 against small $\\sigma$ (r = {r0})")
    ax.legend(fontsize=8)
    plotting.data_note(ax, POP_NOTE)


SYN_NOTE = "data: synthetic, x ~ N(0, I_d), y = Ax (noiseless)"


@_figure(1, 2, (13, 4.4))
def sample_complexity(fig, axs, res, sigma, mu, T):
    """Draw ‖h‖² and the population loss after T steps against n/d, one band per d, the recovery threshold dotted."""
    for j, d in enumerate(res.ds):
        col = plotting.CYCLE[j % len(plotting.CYCLE)]
        plotting.band(axs[0], res.ratios, np.maximum(res.h2[d].T, 1e-32), color=col, label=f"d = {d}",
                      faint_runs=False, log=True)
        plotting.band(axs[1], res.ratios, np.maximum(res.pop_loss[d].T, 1e-17), color=col, label=f"d = {d}",
                      faint_runs=False, log=True)
    axs[0].axhline(1e-6, ls=":", color=plotting.PALETTE["grey"], label="recovery threshold $10^{-6}$")
    for ax, yl, lo in ((axs[0], "$\\|h_1\\|^2 + \\|h_2\\|^2$ after T steps", 1e-30),
                       (axs[1], "population loss after T steps (floor: round-off)", 1e-17)):
        ax.axvline(2.0, ls="--", color=plotting.PALETTE["theory"], label="asymptotic threshold $n = 2d$")
        ax.set(yscale="log", xlabel="samples per dimension $n/d$", ylabel=yl, ylim=(lo, 10),
               title=f"empirical GD, $\\chi$-init $\\sigma$ = {sigma:g}, $\\mu$ = {mu:g}, T = {T}")
        ax.legend(fontsize=8, loc="lower left")
        plotting.data_note(ax, SYN_NOTE)


@_figure(1, 1, (6.8, 4.6))
def empirical_rate(fig, ax, res, d):
    """Draw the fitted slope against the predicted 2ln(1 − μλ_min) per recovered run (colour: n/d, with colourbar)."""
    if res.fit_slope.size:
        sc = ax.scatter(-res.pred_slope, -res.fit_slope, c=res.fit_ratio, cmap="viridis", s=25, label="runs")
        fig.colorbar(sc, ax=ax, label="$n/d$")
        lim = np.array([min((-res.pred_slope).min(), (-res.fit_slope).min()) * 0.8,
                        max((-res.pred_slope).max(), (-res.fit_slope).max()) * 1.25])
        plotting.theory(ax, lim, lim, label="measured = predicted")
        ax.fill_between(lim, 0.8 * lim, 1.2 * lim, color=plotting.PALETTE["grey"], alpha=0.2, label="±20 %")
    ax.set(xscale="log", yscale="log", xlabel="predicted $-2\\ln(1-\\mu\\lambda_{\\min})$",
           ylabel="fitted $-$slope of $\\ln\\|h\\|^2$", title=f"local rate, d = {d}, window $[10^{{-20}}, 10^{{-3}}]$")
    ax.legend(fontsize=8, loc="upper left")
    plotting.data_note(ax, SYN_NOTE)


@_figure(1, 2, (12, 4.2))
def deviations(fig, axs, res, d, md):
    """Draw Lemma 11's R and Lemma 10's sup estimate against n/d (seeds as a band) with slope −½ guides."""
    plotting.band(axs[0], res.dev_ratios, res.R.T, label="measured $R$", log=True)
    plotting.slope_guide(axs[0], res.dev_ratios, res.R.mean(1)[0], -0.5, label="theory: slope $-1/2$")
    axs[0].set(xscale="log", yscale="log", xlabel="$n/d$", ylabel="$R$ = max deviation / $(v_i\\|h\\|)$",
               title=f"Lemma 11 along empirical GD (d = {d})")
    plotting.band(axs[1], res.m_ratios, res.sup_M.T, label="random-search estimate of sup", log=True)
    plotting.slope_guide(axs[1], res.m_ratios, res.sup_M.mean(1)[0], -0.5, label="theory: slope $-1/2$")
    axs[1].set(xscale="log", yscale="log", xlabel="$n/d$", ylabel="$\\sup \\|\\hat M - \\mathbb{E}M\\|$",
               title=f"Lemma 10: uniform concentration (d = {md})")
    for ax in axs:
        ax.legend(fontsize=8)
        plotting.data_note(ax, SYN_NOTE)


@_figure(1, 1, (6.8, 4.2))
def multi_output(fig, ax, res):
    """Draw the recovered fraction against n/(r d), one line per r."""
    for j, r in enumerate(res.rs):
        ax.plot(res.ratios, res.success[j], "o-", color=plotting.CYCLE[j % len(plotting.CYCLE)],
                label=f"r = {r}, k = {2 * r}")
    ax.axhline(0.5, ls=":", color=plotting.PALETTE["grey"])
    ax.set(xlabel="$n/(r\\, d)$", ylabel="fraction recovered (of seeds whose population run succeeds)", ylim=(-0.05, 1.05),
           title="§4: r outputs need $n \\geq c\\, r\\, d$")
    ax.legend(fontsize=8, loc="lower right")
    plotting.data_note(ax, SYN_NOTE)


@_figure(1, 1, (7, 4.4))
def smoothness(fig, ax, res):
    """Draw Lemma 9: the largest ‖∇²L‖₂ and ‖∇²L‖_F over the box against d, the proof's L and a √d guide (dashed)."""
    c = plotting.PALETTE
    spec, frob = res.spec.max(1), res.frob.max(1)
    ax.plot(res.ds, spec, "o-", color=c["measured"], label="max $\\|\\nabla^2 L\\|_2/\\|a\\|$ (measured)")
    ax.plot(res.ds, frob, "s-", color=c["nag"], label="max $\\|\\nabla^2 L\\|_F/\\|a\\|$ (measured)")
    ax.axhline(res.L, color=c["theory"], ls="--", label=f"proof's constant $L$ = {res.L:.1f}")
    plotting.theory(ax, res.ds, frob[-1] * np.sqrt(res.ds / res.ds[-1]), color=c["grey"], label="$\\propto\\sqrt{d}$ (large-$d$ growth)")
    ax.set(xscale="log", yscale="log", xlabel="input dimension $d$", ylabel="Hessian norm / $\\|a\\|$",
           title="Lemma 9: Hessian norms in the box $c_1 = 1/4$, $c_2 = 2$")
    ax.set_xticks(res.ds, [str(x) for x in res.ds])
    ax.minorticks_off()
    ax.legend(fontsize=8, loc="center right")
    plotting.data_note(ax, "data: random points of the box (closed forms)")
