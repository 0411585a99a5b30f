"""Figures of chapter 001: the four-panel two-stage figure (loss, neuron magnitudes, ρ/v ratio, NTK) with
the theory dashed over the measurement, seeds as bands, and the phase-time lines."""
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
                     measured_label: str = "measured", ntk_label: str = r"$\|\Theta-\hat\Theta\|_2/\|\Theta\|_2$", extra=None):
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
    a.set(yscale="log", ylabel="loss L(t)/L(0)", title="(a) training loss")
    a = ax[0, 1]
    _band(a, t[1:], exp.stats["rms_rho"][1:] / C["rho_star"], plotting.PALETTE["measured"], "RMS ρ_r / ρ*", log=True)
    _band(a, t[1:], exp.stats["rms_v"][1:] / C["v_star"], plotting.PALETTE["alt"], "RMS v_r / v*", log=True)
    if theory and exp.stats_theory is not None:
        plotting.theory(a, t[1:], _gmean(exp.stats_theory["rms_rho"][1:T] / C["rho_star"]), label="theory")
        plotting.theory(a, t[1:], _gmean(exp.stats_theory["rms_v"][1:T] / C["v_star"]), label=None, color="0.4")
    a.set(yscale="log", ylabel="magnitude (÷ fixed point)", title="(b) feature alignment ρ_r and magnitude v_r")
    a = ax[1, 0]
    _band(a, t[1:], exp.stats["R"][1:], plotting.PALETTE["measured"], "R = Σρv/Σv² (÷√γ)")
    _band(a, t[1:], exp.stats["median"][1:], plotting.PALETTE["alt2"], "median ρ_r/v_r (÷√γ)")
    if theory and exp.stats_theory is not None:
        plotting.theory(a, t[1:], np.mean(exp.stats_theory["R"][1:T], 1), label="theory R")
    a.set(ylabel="ratio ÷ √γ", xlabel="GD step t", title="(c) ρ_r(t)/v_r(t)", ylim=(-0.1, 1.2))
    a = ax[1, 1]
    if tr.ntk_t.size:
        _band(a, tr.ntk_t, tr.ntk_dist, plotting.PALETTE["measured"], ntk_label + " (left)")
        if theory and exp.theory is not None and "ntk_dist" in exp.theory:
            plotting.theory(a, tr.ntk_t, np.mean(exp.theory["ntk_dist"], 1), label="theory (ansatz of the two-sequence solution)")
        a.set(ylabel="relative distance", ylim=(0, 1.05))
        a2 = a.twinx()
        g = tr.ntk_norm / tr.ntk_norm[0]
        a2.plot(tr.ntk_t, _gmean(g), "-", color=plotting.PALETTE["alt3"], label="‖Θ(t)‖₂/‖Θ(0)‖₂ (right)")
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
    if extra is not None:
        extra(ax)
    plotting.data_note(ax[1, 1], data_note)
    fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    return fig, ax
