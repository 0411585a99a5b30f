"""Figures of chapter 001. Each function takes an experiment's result (:mod:`nbs_lib.linfeat.experiments`)
and returns ``(fig, ax)``: theory dashed, measurement solid, seeds as a band, the data named on the figure."""
from __future__ import annotations

import numpy as np

from .. import plotting

RED = "#D55E00"


def _gmean(a):
    return 10 ** np.log10(np.asarray(a, float)).mean(1)


def _band(ax, t, runs, color, label, log=False):
    runs = np.asarray(runs, float)
    if runs.shape[1] == 1:
        return ax.plot(t, runs[:, 0], "-", color=color, label=label)
    return plotting.band(ax, t, runs.T, color=color, label=label, log=log, faint_runs=False)


def two_stage_figure(exp, *, title: str, data_note: str, marks: dict | None = None, theory: bool = True,
                     measured_label: str = "measured", ntk_label: str = r"$\|\Theta-\hat\Theta\|_2/\|\Theta\|_2$",
                     extra=None, xmax: float | None = None):
    """Return a 2×2 figure: (a) L/L₀, (b) RMS ρ/ρ* and RMS v/v*, (c) R/√γ and median(ρ_r/v_r)/√γ,
    (d) the NTK's relative distance to the target-aligned kernel and ‖Θ(t)‖₂/‖Θ(0)‖₂.

    Centre lines are the mean over seeds (geometric mean on log axes), for measurement and theory alike.
    ``exp`` is an :class:`~nbs_lib.linfeat.experiment.Experiment` (or any object with ``traj``, ``theory``,
    ``stats``, ``stats_theory``, ``consts``); ``marks`` maps a label to ``(t, style)`` vertical lines.
    """
    import matplotlib.pyplot as plt

    tr, C = exp.traj, exp.consts
    T = tr.loss.shape[0]
    t = np.arange(T)
    fig, ax = plt.subplots(2, 2, figsize=(11, 7.2), sharex=True)
    a = ax[0, 0]
    _band(a, t, tr.loss / tr.loss[0], plotting.PALETTE["measured"], measured_label, log=True)
    if theory and exp.theory is not None:
        L = exp.theory["loss"][:T]
        plotting.theory(a, t, _gmean(L / L[0]), label="theory (two-sequence solution)")
    a.set(yscale="log", ylabel=r"$L(t)/L(0)$", title="(a) training loss")
    a = ax[0, 1]
    _band(a, t[1:], exp.stats["rms_rho"][1:] / C["rho_star"], plotting.PALETTE["measured"], r"RMS $\rho_r/\rho_*$", log=True)
    _band(a, t[1:], exp.stats["rms_v"][1:] / C["v_star"], plotting.PALETTE["alt"], r"RMS $v_r/v_*$", log=True)
    if theory and exp.stats_theory is not None:
        plotting.theory(a, t[1:], _gmean(exp.stats_theory["rms_rho"][1:T] / C["rho_star"]), label="theory")
        plotting.theory(a, t[1:], _gmean(exp.stats_theory["rms_v"][1:T] / C["v_star"]), label=None, color="0.4")
    a.set(yscale="log", ylabel="magnitude (÷ fixed point)", title=r"(b) alignment $\rho_r$ and magnitude $v_r$")
    a = ax[1, 0]
    _band(a, t[1:], exp.stats["R"][1:], plotting.PALETTE["measured"], r"$R/\sqrt{\gamma}$, $R=\sum\rho v/\sum v^2$")
    _band(a, t[1:], exp.stats["median"][1:], plotting.PALETTE["alt2"], r"median $\rho_r/v_r$ $(\div\sqrt{\gamma})$")
    if theory and exp.stats_theory is not None:
        plotting.theory(a, t[1:], np.mean(exp.stats_theory["R"][1:T], 1), label="theory R")
    a.set(ylabel=r"ratio $\div\sqrt{\gamma}$", xlabel="GD step t", title=r"(c) $\rho_r(t)/v_r(t)$", ylim=(-0.1, 1.2))
    a = ax[1, 1]
    if tr.ntk_t.size:
        _band(a, tr.ntk_t, tr.ntk_dist, plotting.PALETTE["measured"], ntk_label + " (left)")
        if theory and exp.theory is not None and "ntk_dist" in exp.theory:
            plotting.theory(a, tr.ntk_t, np.mean(exp.theory["ntk_dist"], 1), label="theory (ansatz of the two-sequence solution)")
        a.set(ylabel="relative distance", ylim=(0, 1.05))
        a2 = a.twinx()
        g = tr.ntk_norm / tr.ntk_norm[0]
        a2.plot(tr.ntk_t, _gmean(g), "-", color=plotting.PALETTE["alt3"], label=r"$\|\Theta(t)\|_2/\|\Theta(0)\|_2$ (right)")
        if theory and exp.theory is not None and "ntk_norm" in exp.theory:
            a2.plot(tr.ntk_t, _gmean(exp.theory["ntk_norm"] / tr.ntk_norm[0]), "--", color="0.3", lw=1.2,
                    label="theory norm (right)")
        a2.set(yscale="log")
        a2.spines["right"].set_visible(True)
        a2.grid(False)
        a2.legend(loc="lower right", bbox_to_anchor=(1.0, 0.1), fontsize=8)
    a.set(xlabel="GD step t", title="(d) NTK vs the target-aligned kernel")
    for label, (tm, style) in (marks or {}).items():
        for axx in ax.flat:
            axx.axvline(tm, **style, label=label if axx is ax[0, 0] else None)
    for axx in ax.flat:
        axx.legend(fontsize=8, loc="center right" if axx is ax[1, 1] else "best")
        if xmax is not None:
            axx.set_xlim(0, xmax)
    if extra is not None:
        extra(ax)
    plotting.data_note(ax[1, 0], data_note)
    fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    return fig, ax


def _plt():
    import matplotlib.pyplot as plt

    return plt


# ---------------------------------------------------------------- 01
def simulator_vs_direct(res, cfg):
    """Return the loss of direct d-space GD (solid) and of the kernel-space simulator (dots) from the same W₀."""
    fig, ax = _plt().subplots(figsize=(6.4, 3.6))
    t = np.arange(res.loss_direct.size)
    plotting.measured(ax, t, res.loss_direct, label="direct GD in d-space")
    ax.plot(t, res.loss_sim, "o", ms=3, color=plotting.PALETTE["nag"], label="kernel-space simulator")
    ax.set(yscale="log", xlabel="GD step t", ylabel="loss",
           title=f"Direct GD and the simulator (n={cfg.n}, d={cfg.d}, m={cfg.m})")
    ax.legend()
    plotting.data_note(ax, "data: " + res.source)
    return fig, ax


def assumption_panel(ares):
    """Return (left) log₁₀ of each condition's violation factor, (right) the simulator's loss with the theory."""
    fig, ax = _plt().subplots(1, 2, figsize=(11, 3.6), gridspec_kw=dict(width_ratios=[1, 1.2]))
    rep = ares.report
    cols = [plotting.PALETTE["nag"] if not h else plotting.PALETTE["alt"] for h in rep.holds]
    ax[0].barh(rep.condition, np.log10(rep.violation_factor), color=cols)
    ax[0].set(xlabel=r"$\log_{10}$ violation factor (0: holds)", title="Assumption 4.1, constants = 1")
    ax[0].invert_yaxis()
    if ares.diverged:                     # a diverged run is reported, never drawn as a result
        import textwrap

        ax[1].text(0.5, 0.5, "\n".join(textwrap.wrap(ares.message, 60)), ha="center", va="center", fontsize=9,
                   transform=ax[1].transAxes)
        ax[1].set(xticks=[], yticks=[], title=f"k = {ares.k:.3f}: GD diverged (not shown)")
    else:
        t = np.arange(ares.loss.size)
        plotting.measured(ax[1], t, ares.loss / ares.loss[0], label="GD (exact simulator)")
        plotting.theory(ax[1], t, ares.theory_loss / ares.theory_loss[0], label="two-sequence theory")
        ax[1].set(yscale="log", xlabel="GD step t", ylabel=r"$L/L_0$", title=f"k = {ares.k:.3f}")
        ax[1].legend(loc="lower left")
    plotting.data_note(ax[1], "data: " + ares.source)
    fig.tight_layout()
    return fig, ax


def gram_panel(gres, n):
    """Return Lemma 5.1's implied constant against d for both spectra (seeds as a band)."""
    fig, ax = _plt().subplots(figsize=(6.4, 3.6))
    for kind, col in (("identity", plotting.PALETTE["measured"]), ("powerlaw", plotting.PALETTE["alt"])):
        plotting.band(ax, np.array(gres.ds, float), gres.implied[kind].T, color=col, faint_runs=False,
                      label=r"$\Sigma=I$" if kind == "identity" else r"power law $\lambda_j\propto 1/j$")
    ax.axhline(2, color="k", ls="--", lw=1.2, label="Bai–Yin limit 2 (Σ = I)")
    ax.set(xscale="log", xlabel="input dimension d", ylim=(0, 3.5),
           ylabel=r"$\|XX^\top-\mathrm{tr}\Sigma\, I\|_2\,/\,(n\|\Sigma\|_2+\sqrt{n}\|\Sigma\|_F)$",
           title=f"Lemma 5.1: implied constant C (n = {n})")
    ax.legend(fontsize=8, loc="lower right")
    plotting.data_note(ax, "data: synthetic Gaussian inputs")
    return fig, ax


# ---------------------------------------------------------------- 02
def fig1_marks(res) -> dict:
    """Return the vertical lines of Fig. 1: measured and predicted t₀.₉, t_align and the paper's t₁ (C₁ = 1)."""
    med = lambda a: float(np.median(a))
    return {r"empirical $t_1=t_{0.9}$": (med(res.times[0.9][0]), dict(color=RED, lw=1.5)),
            r"$t_{0.9}$ predicted": (med(res.times[0.9][1]), dict(color="k", ls="--", lw=1)),
            r"$t_{\rm align}$": (med(res.t_align), dict(color=plotting.PALETTE["alt"], ls=":", lw=1.5)),
            r"paper $t_1$ ($C_1=1$, sample $\gamma$)": (med(res.T1_smp), dict(color="0.5", ls="-.", lw=1))}


def neuron_scatter(E, times, seed_index: int = 0):
    """Return ρ_r against √γ v_r of one seed at the given steps (measured dots, theory circles)."""
    tr, sg = E.traj, np.sqrt(E.consts["gamma"][seed_index])
    fig, ax = _plt().subplots(1, len(times), figsize=(12, 3.1))
    for a, t in zip(ax, times):
        a.scatter(sg * tr.v[t, seed_index], tr.rho[t, seed_index], s=4, color=plotting.PALETTE["measured"],
                  label="neurons (measured)")
        a.scatter(sg * E.theory["v"][t, seed_index], E.theory["rho"][t, seed_index], s=14, facecolors="none",
                  edgecolors="k", lw=0.4, label="two-sequence theory")
        lim = np.abs(np.r_[sg * tr.v[t, seed_index], tr.rho[t, seed_index]]).max() * 1.1
        a.plot([-lim, lim], [-lim, lim], "--", color="0.5", lw=0.8)
        a.set(title=f"t = {t}", xlabel=r"$\sqrt{\gamma}\,v_r$")
        a.ticklabel_format(style="sci", scilimits=(-2, 3))
    ax[0].set_ylabel(r"$\rho_r$")
    ax[0].legend(fontsize=7, loc="upper left")
    fig.tight_layout()
    return fig, ax


def reading_figure(E_std, E_var, xmax: float = 40):
    """Return the median loss and R/√γ under the two readings of σ₀ = 0.01."""
    fig, ax = _plt().subplots(1, 2, figsize=(10, 3.4))
    for Ex, lab, col in ((E_std, r"$\sigma_0=0.01$ as std (ours)", plotting.PALETTE["measured"]),
                         (E_var, r"$\sigma_0=0.01$ as variance", plotting.PALETTE["nag"])):
        t = np.arange(Ex.traj.loss.shape[0])
        ax[0].plot(t, np.median(Ex.traj.loss / Ex.traj.loss[0], 1), color=col, label=lab)
        ax[1].plot(t[1:], np.median(Ex.stats["R"][1:], 1), color=col, label=lab)
    ax[0].set(yscale="log", xlabel="GD step", ylabel=r"$L/L_0$ (median over seeds)", xlim=(0, xmax))
    ax[1].set(xlabel="GD step", ylabel=r"$R/\sqrt{\gamma}$", xlim=(0, xmax), ylim=(0, 1.1))
    ax[1].axhline(0.9, color="0.5", ls=":", lw=1)
    ax[0].legend(loc="lower left")
    plotting.data_note(ax[1], "data: " + E_std.problem.source)
    fig.tight_layout()
    return fig, ax


# ---------------------------------------------------------------- 03
def phase_m_eta(pr, v0: float):
    """Return t₀.₅ against m and against η (seeds as bands) with the s-recursion and the paper's t₁ (C₁ = 1)."""
    fig, ax = _plt().subplots(1, 2, figsize=(11, 3.8))
    gm = lambda z: 10 ** np.log10(z).mean(1)
    for a, key, lab in ((ax[0], "m", "width m"), (ax[1], "eta", r"step size $\eta$")):
        s = pr.sweeps[key]
        plotting.band(a, s["x"], s["measured"].T, label=r"measured $t_{0.5}$", log=True, faint_runs=False)
        plotting.theory(a, s["x"], gm(s["theory"]), label="s-recursion (theory)")
        a.plot(s["x"], gm(s["T1_smp"]), "-.", color="0.4", label=r"paper $\ln(1/v_0)/k$ ($C_1=1$)")
        a.plot(s["x"], gm(s["T1_pop"]), ":", color="0.6", label=r"paper $t_1$, population form")
        a.set(xscale="log", yscale="log", xlabel=lab, ylabel="GD steps")
        a.legend(fontsize=8)
    ax[0].set_title(r"$t_{0.5}\propto m$")
    ax[1].set_title(r"$t_{0.5}\propto 1/\eta$")
    plotting.data_note(ax[1], "data: " + pr.source)
    fig.tight_layout()
    return fig, ax


def phase_v0(pr, m: int):
    """Return t₀.₅ against ln(1/v₀) (σ₀ = 0) at k and k/2 with the s-recursion and the paper's ln(1/v₀)/k."""
    fig, ax = _plt().subplots(figsize=(6.8, 4.0))
    for key, col in (("v0", plotting.PALETTE["measured"]), ("v0_half_k", plotting.PALETTE["alt"])):
        s = pr.sweeps[key]
        plotting.band(ax, s["x"], s["measured"].T, color=col, label=f"measured, k = {s['k']:.3g}", faint_runs=False)
        plotting.theory(ax, s["x"], np.nanmean(s["theory"], 1), color=col, label=None)
        ax.plot(s["x"], s["x"] / s["k"], "-.", color=col, lw=1, alpha=0.7, label=None)
    ax.plot([], [], "k--", label="s-recursion")
    ax.plot([], [], "k-.", lw=1, label=r"paper $\ln(1/v_0)/k$")
    ax.set(xlabel=r"$\ln(1/v_0)$", ylabel=r"$t_{0.5}$ (GD steps)", title=rf"Plateau length against $v_0$ ($\sigma_0=0$, m = {m})")
    ax.legend(fontsize=8)
    plotting.data_note(ax, "data: " + pr.source)
    return fig, ax


def phase_sigma0(pr, v0: float):
    """Return t₀.₅ against σ₀ at fixed v₀ (leftmost point: σ₀ = 0)."""
    s = pr.sweeps["sigma0"]
    xs = s["x"]
    xplot = np.where(xs > 0, xs, xs[xs > 0].min() / 10)
    fig, ax = _plt().subplots(figsize=(6.8, 4.0))
    plotting.band(ax, xplot, s["measured"].T, label=r"measured $t_{0.5}$", faint_runs=False)
    plotting.theory(ax, xplot, np.nanmean(s["theory"], 1), label=r"s-recursion (realised $s_0$)")
    ax.plot(xplot, s["closed"], ":", color="0.3", label=r"closed form, $E s_0=\kappa(\sigma_0^2+v_0^2)/(4\sqrt{\gamma})$")
    ax.axhline(s["paper"], color="0.5", ls="-.", label=r"paper $\ln(1/v_0)/k$ (no $\sigma_0$)")
    ax.axvline(v0, color="0.7", lw=0.8)
    ax.set(xscale="log", xlabel=r"$\sigma_0$ (leftmost point: $\sigma_0=0$)", ylabel=r"$t_{0.5}$",
           title=rf"$v_0$ = {v0:g}: $\sigma_0\gg v_0$ shortens the plateau")
    ax.legend(fontsize=8, loc="lower left")
    plotting.data_note(ax, "data: " + pr.source)
    return fig, ax


def stage1_figure(s1, n: int, d: int):
    """Return median |ρ_r(t)| and median |v_r(t)|·√(n‖β̄‖²trΣ) with the lemma's t₁ (C₁ = 1) marked."""
    fig, ax = _plt().subplots(figsize=(6.8, 4.0))
    t = np.arange(s1.rho_med.shape[0])
    plotting.band(ax, t, s1.rho_med.T, label=r"median $|\rho_r(t)|$", log=True, faint_runs=False)
    plotting.band(ax, t, s1.v_scaled_med.T, color=plotting.PALETTE["alt"], log=True, faint_runs=False,
                  label=r"median $|v_r(t)|\sqrt{n\|\bar\beta\|^2\mathrm{tr}\Sigma}$")
    ax.axhspan(0.1, 10, color="0.9", label=r"$\Theta(1)$ band [0.1, 10]")
    ax.axvline(s1.scales["t1"], color=RED, label=r"lemma's $t_1$ ($C_1=1$)")
    ax.set(yscale="log", xlabel="GD step t", title=f"Lemma 5.2 in the regime of Assumption 4.1 (n={n}, d={d})")
    ax.legend(fontsize=8, loc="lower right")
    plotting.data_note(ax, "data: synthetic Gaussian regression")
    return fig, ax


# ---------------------------------------------------------------- 04
def regime_map(sr, cfg):
    """Return the loss values GD visits in its last 64 steps against k, over the 1-D map's attractor."""
    fig, ax = _plt().subplots(figsize=(8, 4.4))
    ok = np.isfinite(sr.L_map).all(0)
    kk = np.repeat(sr.k_fine[None], sr.L_map.shape[0], 0)
    ax.plot(kk[:, ok].ravel(), sr.L_map[:, ok].ravel(), ",", color="k", alpha=0.6)
    ax.plot([], [], ".", color="k", label="1-D map (eq. 11 in s), attractor")
    sel = ~sr.diverged
    tail = sr.L[-64:]
    ax.plot(np.repeat(sr.ks[sel][None], 64, 0).ravel(), np.clip(tail[:, sel], 1e-20, None).ravel(), ".", ms=2.5,
            color=plotting.PALETTE["measured"], label="GD (simulator), last 64 steps")
    ax.plot(sr.ks[~sel], np.full((~sel).sum(), 3.0), "x", color=plotting.PALETTE["nag"], label="GD diverged (no result)")
    for x in (0.5, 1.0):
        ax.axvline(x, color="0.6", ls=":", lw=1)
    ax.set(yscale="log", ylim=(1e-20, 10), xlabel=r"rate $k=\eta\sqrt{\gamma}/(nm)$", ylabel=r"$L/L_0$ visited",
           title=f"Step-size regimes (n={cfg.n}, d={cfg.d}, m={cfg.m}, {cfg.steps} steps)")
    ax.legend(fontsize=8, loc="lower right")
    plotting.data_note(ax, "data: " + sr.sources[0])
    return fig, ax


def aniso_figure(sr, cfg):
    """Return the loss on power-law data at 0.8 η_max, 2.4 η_max and the 'k = 0.3' rule."""
    fig, ax = _plt().subplots(figsize=(6.8, 3.8))
    for (lab, (e, L, steps)), col in zip(sr.aniso.items(), (plotting.PALETTE["measured"], plotting.PALETTE["nag"],
                                                            plotting.PALETTE["alt"])):
        if L is None:
            ax.plot([], [], color=col, label=f"η = {lab} = {e:.3g}: diverged at step {steps + 1}, not shown")
        else:
            ax.plot(np.arange(L.size), L, color=col, label=f"η = {lab} = {e:.3g}")
    ax.set(yscale="log", xlabel="GD step", ylabel=r"$L/L_0$",
           title=f"Power-law Σ, n={cfg.n_aniso}, d={cfg.d_aniso}, m={cfg.m}")
    ax.legend(fontsize=8)
    plotting.data_note(ax, "data: " + sr.sources[1])
    return fig, ax


# ---------------------------------------------------------------- 05
def ntk_figure(nr, xmax: float = 60):
    """Return the distance to Θ̂, the norm growth and the KTA over steps (seeds as bands)."""
    tr = nr.E.traj
    t = tr.ntk_t
    fig, ax = _plt().subplots(1, 3, figsize=(13, 3.6))
    plotting.band(ax[0], t, tr.ntk_dist.T, label=r"$\|\Theta-\hat\Theta\|_2/\|\Theta\|_2$", faint_runs=False)
    ax[0].set(ylabel="relative distance", xlabel="GD step", title="distance to the target-aligned kernel")
    plotting.band(ax[1], t, (tr.ntk_norm / tr.ntk_norm[0]).T, color=plotting.PALETTE["alt3"], log=True,
                  label=r"$\|\Theta(t)\|_2/\|\Theta(0)\|_2$", faint_runs=False)
    ax[1].set(yscale="log", xlabel="GD step", title="NTK norm growth")
    plotting.band(ax[2], t, tr.kta.T, color=plotting.PALETTE["alt"], label="KTA", faint_runs=False)
    ax[2].set(xlabel="GD step", title="kernel–target alignment")
    for a in ax:
        a.axvline(np.median(nr.t09), color=RED, label=r"empirical $t_1=t_{0.9}$")
        a.set_xlim(0, xmax)
        a.legend(fontsize=8)
    plotting.data_note(ax[0], "data: " + nr.E.problem.source)
    fig.tight_layout()
    return fig, ax


def path_figure(nr, cfg):
    """Return, along the rich-to-lazy path, how far the NTK moves, the final R/√γ and L(1), L(T)."""
    fig, ax = _plt().subplots(1, 3, figsize=(13, 3.6))
    x = nr.v_path
    plotting.band(ax[0], x, nr.change.T, label=r"$\|\Theta(T)-\Theta(0)\|_F/\|\Theta(0)\|_F$", log=True, faint_runs=False)
    plotting.band(ax[0], x, nr.growth.T, color=plotting.PALETTE["alt3"], label=r"$\|\Theta(T)\|_2/\|\Theta(0)\|_2$",
                  log=True, faint_runs=False)
    ax[0].set(xscale="log", yscale="log", xlabel=r"$v_0$ on the path ($\sigma_0$ moves with it)", title="how far the NTK moves")
    plotting.band(ax[1], x, nr.R_T.T, label=r"$R(T)/\sqrt{\gamma}$", faint_runs=False)
    ax[1].set(xscale="log", xlabel=r"$v_0$ on the path", ylabel=r"ratio $\div\sqrt{\gamma}$", title="alignment with $X^\\top y$")
    plotting.band(ax[2], x, nr.L1.T, label=r"$L(1)/L(0)$", log=True, faint_runs=False)
    plotting.band(ax[2], x, np.clip(nr.LT, 1e-30, None).T, color=plotting.PALETTE["alt"], label=f"L({cfg.T_path})/L(0)",
                  log=True, faint_runs=False)
    ax[2].set(xscale="log", yscale="log", xlabel=r"$v_0$ on the path", title="plateau (rich) or immediate descent (lazy)")
    for a in ax:
        a.legend(fontsize=8)
    plotting.data_note(ax[1], f"data: synthetic Gaussian regression (n={cfg.n}, d={cfg.d_path}); m = {cfg.m_path}")
    fig.tight_layout()
    return fig, ax


# ---------------------------------------------------------------- 06
class _ReluView:
    """The ReLU run of an image experiment in the shape :func:`two_stage_figure` expects."""

    def __init__(self, ir):
        from .simulator import Trajectory

        r = ir.relu
        self.traj = Trajectory(r.loss, r.rho, r.v, ir.E.traj.c, r.ntk_t, r.ntk_norm, r.ntk_dist, r.kta,
                               np.zeros((0, 1)), np.zeros((0, 1)), None, r.vfin, r.diverged)
        self.consts, self.theory, self.stats_theory, self.stats = ir.E.consts, None, None, ir.relu_stats


def image_figures(ir, cfg):
    """Return Fig. 2 (linear net, single-direction and rank-one theories) and Fig. 3 (ReLU, linear in grey)."""
    E = ir.E
    t05 = ir.metrics[f"001.fig2.{ir.data}"]["t05"]
    win = dict(color="0.5", ls=":", lw=1)
    marks = {r"$t_{0.5}$ and $10\,t_{0.5}$ (graded window)": (t05, win)}

    def rank1(ax):
        t = np.arange(ir.rank1_loss.size)
        ax[0, 0].plot(t, ir.rank1_loss / ir.rank1_loss[0], ":", color=plotting.PALETTE["alt2"], lw=1.6,
                      label="rank-one model (ours)")
        for a in ax.flat:
            a.axvline(10 * t05, **win)
        ax[0, 0].legend(fontsize=8)

    title = f"Fig. 2, linear net: n={ir.problem.n}, d={ir.problem.d}, m={cfg.m}, η={ir.eta:.3g}"
    f2 = two_stage_figure(E, title=title, data_note="data: " + ir.problem.source, marks=marks, extra=rank1,
                          xmax=min(cfg.steps, 12 * t05) if np.isfinite(t05) else cfg.steps)
    t3 = ir.metrics[f"001.fig3.{ir.data}"]["t05"]

    def overlay(ax):
        t = np.arange(E.traj.loss.shape[0])
        ax[0, 0].plot(t, E.traj.loss[:, 0] / E.traj.loss[0, 0], color="0.6", lw=1, label="linear net (Fig. 2)")
        ax[1, 0].plot(t[1:], E.stats["R"][1:, 0], color="0.6", lw=1, label=r"linear net $R$")
        for a in ax.flat:
            a.axvline(10 * t3, **win)
        ax[0, 0].legend(fontsize=8)
        ax[1, 0].legend(fontsize=8)

    f3 = two_stage_figure(_ReluView(ir), title=f"Fig. 3, ReLU net, same data, init and η", theory=False,
                          data_note="data: " + ir.problem.source, measured_label="ReLU net",
                          ntk_label=r"$\min_c\|\Theta-c\hat\Theta\|_2/\|\Theta\|_2$",
                          marks={r"$t_{0.5}$ and $10\,t_{0.5}$": (t3, win)}, extra=overlay,
                          xmax=min(cfg.steps_relu, 12 * t3) if np.isfinite(t3) else cfg.steps_relu)
    return f2, f3


def relu_synthetic_figure(rr):
    """Return the ReLU and linear losses and the ReLU R/√γ on synthetic data (seeds as bands)."""
    fig, ax = _plt().subplots(1, 2, figsize=(11, 3.6))
    L, Ll = rr.relu.loss, rr.linear_loss
    t = np.arange(L.shape[0])
    plotting.band(ax[0], t, (L / L[0]).T, label="ReLU", log=True, faint_runs=False)
    plotting.band(ax[0], t, (Ll / Ll[0]).T, color="0.5", label="linear", log=True, faint_runs=False)
    ax[0].set(yscale="log", xlabel="GD step", ylabel=r"$L/L_0$", title="ReLU vs linear, synthetic data")
    plotting.band(ax[1], t[1:], rr.R[1:].T, label=r"ReLU $R/\sqrt{\gamma}$", faint_runs=False)
    ax[1].axhline(np.sqrt(0.5), color="k", ls="--", label=r"heuristic $\sqrt{1/2}$ (ours)")
    ax[1].set(xlabel="GD step", ylabel=r"$R/\sqrt{\gamma}$", ylim=(0, 1.1))
    for a in ax:
        a.legend(fontsize=8)
    plotting.data_note(ax[1], "data: " + rr.source)
    fig.tight_layout()
    return fig, ax


# ---------------------------------------------------------------- 07
def bench_figure(br, cfg):
    """Return ms per GD step against d for the simulator and the two direct methods."""
    fig, ax = _plt().subplots(figsize=(6.8, 3.8))
    ds = np.array([r["d"] for r in br.gd], float)
    for key, lab, col in (("sim_ms", "simulator", plotting.PALETTE["measured"]),
                          ("closed_ms", "direct, closed form", plotting.PALETTE["nag"]),
                          ("autograd_ms", "direct, autograd", plotting.PALETTE["alt"])):
        ax.plot(ds, [r[key] for r in br.gd], "o-", color=col, label=lab)
    plotting.slope_guide(ax, ds, br.gd[0]["closed_ms"], 1.0, label="slope 1 (O(dm))")
    ax.set(xscale="log", yscale="log", xlabel="input dimension d", ylabel=f"ms per GD step ({br.gd[0]['device']})",
           title=f"n = {cfg.n}, m = {cfg.m}")
    ax.legend(fontsize=8)
    plotting.data_note(ax, "data: synthetic Gaussian regression (timing only)")
    return fig, ax


def image_line(ir, fig: str, verdict: str) -> str:
    """Return one Markdown bullet for notebook 06: what the run of ``fig`` ("fig2"/"fig3") on ``ir`` measured."""
    M = ir.metrics[f"001.{fig}.{ir.data}"]
    window = "" if M["window_fits"] else " (the run ended before 10·t₀.₅: window cut at the run's end)"
    return (f"- **{fig.replace('fig', 'Fig. ')}, {ir.problem.source}** (η = {ir.eta:.3g}): the loss halves at "
            f"$t_{{0.5}}$ = {M['t05']:.1f}; over $[t_{{0.5}}, 10t_{{0.5}}]$ $R$ varies by {100 * M['R_var']:.1f} % "
            f"and the NTK ends at distance {M['dist_end']:.3f} from $\\hat\\Theta${window}: *{verdict}*.")


# ---------------------------------------------------------------- explorers
def _plain_log(*axes):
    """Label log axes as 1e-05 rather than mathtext 10⁻⁵ (mathtext parsing dominates an explorer frame's time)."""
    from matplotlib.ticker import LogFormatter

    for a in axes:
        a.yaxis.set_major_formatter(LogFormatter(labelOnlyBase=True))


def message_figure(text: str):
    """Print ``text`` and return a small figure that says it (an explorer frame for a degenerate setting)."""
    import textwrap

    print(text)
    fig, ax = _plt().subplots(figsize=(6.4, 1.6))
    ax.axis("off")
    ax.text(0.5, 0.5, "\n".join(textwrap.wrap(text, 80)), ha="center", va="center", fontsize=9, wrap=True)
    return fig, ax


def loss_explorer(E, *, v0: float, title: str, data_note: str = "data: synthetic Gaussian regression"):
    """Return one run's two stages: (a) L/L₀ measured (solid) with the two-sequence theory (dashed), the
    predicted plateau [0, t₀.₉] shaded and the paper's t₁ = ln(1/v₀)/k (C₁ = 1) dotted; (b) R/√γ with the
    theory. ``E`` is a one-seed :class:`~nbs_lib.linfeat.experiments.Experiment` (``explorer_run``)."""
    from . import theory as th

    ntk = E.traj.ntk_t.size > 0
    fig, ax = _plt().subplots(1, 3 if ntk else 2, figsize=(13.5 if ntk else 10, 3.6))
    L = E.traj.loss[:, 0] / E.traj.loss[0, 0]
    Lt = E.theory["loss"][:, 0] / E.theory["loss"][0, 0]
    t = np.arange(L.size)
    t09 = float(th.t_cross(Lt, 0.9))
    t1 = float(th.paper_t1_sample(E.k, v0)[0])
    for a in ax:
        if np.isfinite(t09):
            a.axvspan(0, t09, color="0.85", alpha=0.6, lw=0, label="plateau predicted (t < t₀.₉)")
        if t1 <= t[-1]:
            a.axvline(t1, color=RED, ls=":", lw=1.5, label="paper t₁ = ln(1/v₀)/k")
    plotting.measured(ax[0], t, L, label="GD (exact simulator)")
    plotting.theory(ax[0], t, Lt, label="two-sequence theory")
    ax[0].set(yscale="log", xlabel="GD step t", ylabel="L(t) / L(0)", title="(a) loss")
    _plain_log(ax[0])
    plotting.measured(ax[1], t[1:], E.stats["R"][1:, 0], label="R/√γ measured")
    plotting.theory(ax[1], t[1:], E.stats_theory["R"][1:, 0], label="theory")
    ax[1].set(xlabel="GD step t", ylabel="R/√γ", ylim=(-0.1, 1.2), title="(b) ratio ρᵣ/vᵣ")
    if ntk:
        tn = E.traj.ntk_t
        plotting.measured(ax[2], tn, E.traj.ntk_dist[:, 0], label=r"distance to $\hat\Theta$ (relative)")
        plotting.theory(ax[2], tn, E.theory["ntk_dist"][:, 0], label="theory")
        plotting.measured(ax[2], tn, np.minimum(E.traj.ntk_change[:, 0], 1.0), color=plotting.PALETTE["alt"],
                          label="change since t = 0 (relative, cut at 1)")
        ax[2].set(xlabel="GD step t", ylabel="relative", ylim=(-0.05, 1.1), title="(c) NTK")
        ax[2].legend(fontsize=8, loc="center right")
    ax[0].legend(fontsize=8, loc="lower left")
    ax[1].legend(fontsize=8, loc="lower right")
    plotting.data_note(ax[-1], data_note)
    fig.suptitle(title + f", k = {float(E.k[0]):.3g}", fontsize=10)
    fig.subplots_adjust(left=0.08, right=0.98, bottom=0.16, top=0.84, wspace=0.25)   # no tight_layout: fast frames
    return fig, ax


def step_explorer(E, *, k_fine=None, title: str = ""):
    """Return (a) L/L₀ of one GD run at rate k (solid) with the two-sequence theory (dashed); (b) the 1-D map's
    attractor over k (eq. 11 in s; dots) with this run's last 32 loss values at its k (the regime it is in)."""
    from . import theory as th

    k = float(E.k[0])
    k_fine = np.linspace(0.05, 2.7, 400) if k_fine is None else np.asarray(k_fine, float)
    fig, ax = _plt().subplots(1, 2, figsize=(10, 3.6))
    L = E.traj.loss[:, 0] / E.traj.loss[0, 0]
    t = np.arange(L.size)
    plotting.measured(ax[0], t, np.clip(L, 1e-30, None), label="GD (exact simulator)")
    with np.errstate(invalid="ignore", over="ignore"):
        Lt = E.theory["loss"][:, 0] / E.theory["loss"][0, 0]
    plotting.theory(ax[0], t, np.clip(Lt, 1e-30, None), label="two-sequence theory")
    ax[0].set(yscale="log", xlabel="GD step t", ylabel="L(t) / L(0)", title=f"(a) loss at k = {k:.3g}")
    ax[0].legend(fontsize=8, loc="lower left")
    scale = float(E.consts["S_star"][0]) / (2 * E.problem.X.shape[1]) / float(E.traj.loss[0, 0])
    att = np.clip(scale * (1 - th.map_attractor(k_fine, s0=1e-3, burn=600, keep=32)) ** 2, 1e-20, None)
    ok = np.isfinite(att).all(0)                                    # converged orbits drawn at the floor 1e-20
    ax[1].plot(np.repeat(k_fine[None], att.shape[0], 0)[:, ok].ravel(), att[:, ok].ravel(), ",", color="k")
    ax[1].plot([], [], ".", color="k", label="1-D map attractor (theory)")
    ax[1].plot(np.full(32, k), np.clip(L[-32:], 1e-20, None), "o", ms=4, color=plotting.PALETTE["measured"],
               label="GD, last 32 steps (floor 1e-20)")
    ax[1].axvline(k, color=RED, lw=1)
    for x in (1.0,):
        ax[1].axvline(x, color="0.6", ls=":", lw=1)
    ax[1].set(yscale="log", ylim=(1e-21, 10), xlabel="rate k = η√γ/(nm)", ylabel="L/L₀ visited",
              title="(b) regime of this k")
    _plain_log(*ax)
    ax[1].legend(fontsize=8, loc="lower right")
    plotting.data_note(ax[1], "data: " + E.problem.source)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.subplots_adjust(left=0.08, right=0.98, bottom=0.16, top=0.84, wspace=0.25)
    return fig, ax


def image_explorer(ir):
    """Return one data set's linear-net loss (solid) with the rank-one and the single-direction theory
    (dashed), the data named."""
    fig, ax = _plt().subplots(figsize=(6.8, 3.8))
    L = ir.E.traj.loss[:, 0]
    ax.plot(np.arange(L.size), L / L[0], "-", color=plotting.PALETTE["measured"], label="linear net (GD)")
    if ir.E.theory is not None:
        Ls = ir.E.theory["loss"][:, 0]
        plotting.theory(ax, np.arange(Ls.size), Ls / Ls[0], label="single-direction theory", color="0.4")
    if np.isfinite(ir.rank1_loss).all():
        plotting.theory(ax, np.arange(ir.rank1_loss.size), ir.rank1_loss / ir.rank1_loss[0],
                        label="rank-one theory (linear)")
    ax.set(xscale="log", yscale="log", xlabel="GD step t", ylabel="L(t) / L(0)",
           title=f"{ir.data}: n = {ir.problem.X.shape[1]}, d = {ir.problem.d}, η = {ir.eta:.3g}")
    ax.set_xlim(1, L.size)
    _plain_log(ax)
    ax.legend(fontsize=8, loc="lower left")
    plotting.data_note(ax, "data: " + ir.problem.source)
    fig.subplots_adjust(left=0.12, right=0.97, bottom=0.16, top=0.9)
    return fig, ax
