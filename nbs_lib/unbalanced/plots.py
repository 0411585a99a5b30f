"""Paper 000: figure helpers (theory dashed, measurement solid, seeds as a band, mathtext labels).

Each takes an experiment's result and draws it; nothing is computed here beyond the closed-form theory curves.
"""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from .. import plotting

SPHERES = "data: inputs uniform on $S^{d-1}$, responses on $S^{n-1}$ (generated)"


def _diverged_note(ax, n_div: int, total: int):
    if n_div:
        ax.text(0.5, 0.5, f"{n_div} of {total} runs diverged (not drawn)", transform=ax.transAxes, ha="center",
                color="red", fontsize=9)


def fig1(res, ax=None):
    """Draw Fig. 1: GD and NAG losses (band over trials, log-mean ± sd) and the predicted rates (dashed)."""
    cfg = res.cfg
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 4.2))
    k = float(np.mean(res.kappa))
    for name, losses, rate, tex in (("GD", res.gd, 1 - 1 / k, r"(1-1/\kappa(K_0))"),
                                    ("NAG", res.nag, 1 - 1 / np.sqrt(k), r"(1-1/\sqrt{\kappa(K_0)})")):
        col = plotting.PALETTE[name.lower()]
        t = np.arange(losses.shape[0])
        ok = np.isfinite(losses).all(0)
        if ok.any():
            plotting.band(ax, t, losses[:, ok].T, color=col, label=f"{name} (mean of log, ±1 sd)", log=True)
        plotting.theory(ax, t, cfg.N / 2 * rate ** (2 * t), color=col, label=f"theory {name}: $L_0{tex}^{{2t}}$")
    _diverged_note(ax, int(res.diverged.sum()), res.diverged.size)
    ax.set(yscale="log", xlabel="iteration $t$", ylabel=r"training loss $L(V_t, W_t)$", ylim=(1e-26, 1e3),
           title=f"Fig. 1: N={cfg.N}, n={cfg.n}, d={cfg.d}, 2m={2 * cfg.m}, "
                 f"$c_1$={cfg.c1:g}, $c_2$={cfg.c2:g}, {cfg.trials} trials")
    plotting.data_note(ax, SPHERES)
    ax.legend(fontsize=8, loc="upper right")
    return ax


def linearisation(res, ax=None):
    """Draw the network's residual norm (solid), the linear system's (dashed) and their gap (dotted)."""
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 4))
    for name in ("GD", "NAG"):
        col = plotting.PALETTE[name.lower()]
        plotting.measured(ax, res.t, res.actual[name], color=col, label=f"{name}: network $\\|r_t\\|$")
        plotting.theory(ax, res.t, res.linear[name], color=col, label=f"{name}: linear system (Prop. 3.7)")
        ax.plot(res.t, res.gap[name], ":", color=col, label=f"{name}: $\\|r_t - r_t^{{lin}}\\|$")
    ax.set(yscale="log", xlabel="iteration $t$", ylabel="residual norm",
           title="Residual of the network vs the linearised dynamics (one trial)")
    plotting.data_note(ax, SPHERES)
    ax.legend(fontsize=8, loc="upper right")
    return ax


def nsweep(res, ax=None):
    """Draw κ(K0) at m = N·n against n (solid), Lemma 3.6's bound 18nκ(K̄) (dashed) and κ(K̄) (dotted)."""
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 3.8))
    s, cfg = res.nsweep, res.cfg
    plotting.measured(ax, s.n, s.kappa_K0, marker="o", label=r"$\kappa(K_0)$ at $m = Nn$ (measured)")
    plotting.theory(ax, s.n, s.bound, label=r"Lemma 3.6 bound $18n\kappa(\bar K)$")
    ax.plot(s.n, s.kappa_K0 / s.ratio_to_kbar, ":", color="0.4", label=r"$\kappa(\bar K)$")
    ax.set(xscale="log", yscale="log", xlabel="number of outputs $n$", ylabel="condition number",
           title=f"$\\kappa(K_0)$ against $n$ (N = {cfg.N_nsweep}, d = {cfg.d}, {cfg.trials} trials)")
    plotting.data_note(ax, "data: inputs uniform on $S^{d-1}$ (generated)")
    ax.legend(fontsize=8, loc="upper left")
    return ax


def table1(t, N, n, ax=None):
    """Draw Table 1's width formulas evaluated (bars, log scale; the paper's rows coloured)."""
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 3.8))
    lab = [f"{a} [{o}, {g}]" for a, o, g in zip(t.algorithm, t.output, t.regime)]
    col = [plotting.PALETTE["nag"] if "paper" in a else plotting.PALETTE["grey"] for a in t.algorithm]
    ax.barh(lab, t.width, color=col)
    ax.set(xscale="log", xlabel="width formula evaluated (no constants, no logs)",
           title=f"Table 1 at N = {N}, n = {n} with the measured $\\lambda$, $\\kappa$")
    ax.invert_yaxis()
    ax.tick_params(axis="y", labelsize=8)
    return ax


def remark34(res, ax=None):
    """Draw λ_N(K̄) against N for each d (band over trials, log–log)."""
    if ax is None:
        _, ax = plt.subplots(figsize=(6.5, 4))
    for (d, sub), col in zip(res.grid.groupby("d"), plotting.CYCLE):
        runs = sub.pivot(index="trial", columns="N", values="lam")
        plotting.band(ax, runs.columns.to_numpy(), runs.to_numpy(), color=col, label=f"d = {d}", log=True)
    ax.set(xscale="log", yscale="log", xlabel="samples $N$", ylabel=r"$\lambda = \lambda_N(\bar K)$",
           title=r"Remark 3.4: $\lambda$ against $N$ and $d$")
    plotting.data_note(ax, "data: inputs uniform on $S^{d-1}$ (generated)")
    ax.legend(fontsize=8, loc="upper right")
    return ax
