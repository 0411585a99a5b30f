"""Paper 000: figure helpers (theory dashed, measurement solid, seeds as a band, mathtext labels).

Each takes an experiment's result and draws it; nothing is computed here beyond the closed-form theory curves.
"""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from .. import plotting

SPHERES = "data: inputs uniform on $S^{d-1}$, responses on $S^{n-1}$ (generated)"
INPUTS = "data: inputs uniform on $S^{d-1}$ (generated)"


def _axes(ax, figsize):
    """Return ``ax``, or the axes of a new figure of ``figsize``."""
    if ax is None:
        _, ax = plt.subplots(figsize=figsize)
    return ax


def _finish(ax, note: str, loc: str = "upper right", fontsize: int = 8, legend: dict | None = None, **props):
    """Set the axes' properties, add the data note and the legend (at ``loc``); return ``ax``."""
    ax.set(**props)
    plotting.data_note(ax, note)
    ax.legend(fontsize=fontsize, loc=loc, **(legend or {}))
    return ax


def _finish_q(axes, loc: str, fontsize: int):
    """Finish the two panels of Figs 3–4: log–log against c1/c2, the legend at ``loc``, the data note."""
    for ax in axes:
        _finish(ax, SPHERES, loc=loc, fontsize=fontsize, xscale="log", yscale="log", xlabel="$c_1/c_2$")
    return axes


def _diverged_note(ax, n_div: int, total: int):
    if n_div:
        ax.text(0.5, 0.5, f"{n_div} of {total} runs diverged (not drawn)", transform=ax.transAxes, ha="center",
                color="red", fontsize=9)


def fig1(res, ax=None):
    """Draw Fig. 1: GD and NAG losses (band over trials, log-mean ± sd) and the predicted rates (dashed)."""
    cfg = res.cfg
    ax = _axes(ax, (7, 4.2))
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
    return _finish(ax, SPHERES, yscale="log", xlabel="iteration $t$", ylabel=r"training loss $L(V_t, W_t)$",
                   ylim=(1e-26, 1e3), title=f"Fig. 1: N={cfg.N}, n={cfg.n}, d={cfg.d}, 2m={2 * cfg.m}, "
                         f"$c_1$={cfg.c1:g}, $c_2$={cfg.c2:g}, {cfg.trials} trials")


def linearisation(res, ax=None):
    """Draw the network's residual norm (solid), the linear system's (dashed) and their gap (dotted)."""
    ax = _axes(ax, (7, 4))
    for name in ("GD", "NAG"):
        col = plotting.PALETTE[name.lower()]
        plotting.measured(ax, res.t, res.actual[name], color=col, label=f"{name}: network $\\|r_t\\|$")
        plotting.theory(ax, res.t, res.linear[name], color=col, label=f"{name}: linear system (Prop. 3.7)")
        ax.plot(res.t, res.gap[name], ":", color=col, label=f"{name}: $\\|r_t - r_t^{{lin}}\\|$")
    return _finish(ax, SPHERES, yscale="log", xlabel="iteration $t$", ylabel="residual norm",
                   title="Residual of the network vs the linearised dynamics (one trial)")


def nsweep(res, ax=None):
    """Draw κ(K0) at m = N·n against n (solid), Lemma 3.6's bound 18nκ(K̄) (dashed) and κ(K̄) (dotted)."""
    ax = _axes(ax, (6, 3.8))
    s, cfg = res.nsweep, res.cfg
    plotting.measured(ax, s.n, s.kappa_K0, marker="o", label=r"$\kappa(K_0)$ at $m = Nn$ (measured)")
    plotting.theory(ax, s.n, s.bound, label=r"Lemma 3.6 bound $18n\kappa(\bar K)$")
    ax.plot(s.n, s.kappa_K0 / s.ratio_to_kbar, ":", color="0.4", label=r"$\kappa(\bar K)$")
    return _finish(ax, INPUTS, loc="upper left", xscale="log", yscale="log", xlabel="number of outputs $n$",
                   ylabel="condition number",
                   title=f"$\\kappa(K_0)$ against $n$ (N = {cfg.N_nsweep}, d = {cfg.d}, {cfg.trials} trials)")


def table1(t, N, n, ax=None):
    """Draw Table 1's width formulas evaluated (bars, log scale; the paper's rows coloured)."""
    ax = _axes(ax, (7, 3.8))
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
    ax = _axes(ax, (6.5, 4))
    for (d, sub), col in zip(res.grid.groupby("d"), plotting.CYCLE):
        runs = sub.pivot(index="trial", columns="N", values="lam")
        plotting.band(ax, runs.columns.to_numpy(), runs.to_numpy(), color=col, label=f"d = {d}", log=True)
    return _finish(ax, INPUTS, xscale="log", yscale="log", xlabel="samples $N$",
                   ylabel=r"$\lambda = \lambda_N(\bar K)$", title=r"Remark 3.4: $\lambda$ against $N$ and $d$")


def fig2(res, ax=None):
    """Draw Fig. 2: iterations to the tolerance against r per α (band over trials) and the prediction (dashed)."""
    cfg, tab, runs = res.cfg, res.table, res.runs
    if ax is None:
        _, ax = plt.subplots(figsize=(9, 4.2), layout="constrained")
    cols = [plt.matplotlib.colors.to_hex(c) for c in plt.cm.viridis(np.linspace(0.1, 0.9, len(cfg.alphas)))]
    for a, col in zip(cfg.alphas, cols):
        sub = tab[tab.alpha == a]
        its = runs[runs.alpha == a].pivot(index="trial", columns="r", values="iters").to_numpy()
        plotting.band(ax, sub.r.to_numpy(), its, color=col, label=f"α = {a:g}")
        plotting.theory(ax, sub.r.to_numpy(), sub.pred.to_numpy(), color=col, lw=1.0, label="_nolegend_")
    ax.plot([], [], "--", color="k", label=r"predicted $\ln(L_0/\mathrm{tol})/(-2\ln(1-1/\sqrt{\kappa(K_0)}))$")
    _diverged_note(ax, int(runs.diverged.sum()), len(runs))
    ax.set_xticks(list(cfg.ranks))
    return _finish(ax, f"data: generated, rank-r responses ({cfg.kind})", loc="upper left",
                   legend=dict(bbox_to_anchor=(1.01, 1.0)), xlabel="rank $r$ of $Y$",
                   ylabel=f"iterations to loss < {cfg.tol:g}",
                   title=f"Fig. 2: sketching init, N={cfg.N}, n={cfg.n}, d={cfg.d}, $m = \\alpha N r \\kappa(Y)^2$, "
                         f"{cfg.trials} trials")


def sketch_vs_gaussian(out, cfg, ax=None):
    """Draw the NAG losses of the sketching and the Gaussian init at the same width (extension)."""
    ax = _axes(ax, (6.5, 3.8))
    labels = {"sketch": f"sketch (8): $\\kappa(K_0|_{{R^N\\otimes col\\,Y}})$ = {out['kappa_sketch']:.3g}",
              "gaussian": f"Gaussian (4): $K_0$ singular, rank ≤ md = {out['md']} < Nn = {out['Nn']}"}
    for (name, lab), col in zip(labels.items(), (plotting.PALETTE["nag"], plotting.PALETTE["gd"])):
        ls = out[name]["losses"]
        plotting.measured(ax, np.arange(ls.size), ls, color=col, label=lab)
    ax.axhline(cfg.tol, color="0.5", lw=0.8, ls=":")
    return _finish(ax, "data: generated, rank-2 responses", yscale="log", xlabel="NAG iteration", ylabel="loss",
                   title=f"Extension: same width 2m = {2 * cfg.m}, N={cfg.N}, n={cfg.n}, r = 2")


def fig3(res, axes=None):
    """Draw Fig. 3: relative hidden-layer change against c1/c2 (left: the p-sweep at N_main; right: the Ns)."""
    cfg, runs, tab = res.cfg, res.runs, res.table
    axes = plt.subplots(1, 2, figsize=(11, 4))[1] if axes is None else axes
    for p, col in zip(cfg.ps, plotting.CYCLE):
        sub = runs[(runs.N == cfg.N_main) & (runs.p == p)].pivot(index="trial", columns="q", values="relW")
        plotting.band(axes[0], sub.columns.to_numpy(), sub.to_numpy(), color=col, label=f"$c_1c_2$ = {p:g}", log=True)
    for N, col in zip(cfg.Ns, plotting.CYCLE):
        sub = runs[(runs.N == N) & (runs.p == 1.0)].pivot(index="trial", columns="q", values="relW")
        plotting.band(axes[1], sub.columns.to_numpy(), sub.to_numpy(), color=col, label=f"N = {N}", log=True)
    q = np.array(sorted(cfg.qs))
    y0 = float(tab[(tab.N == cfg.N_main) & (tab.p == 1.0)].sort_values("q").relW.iloc[0])
    plotting.slope_guide(axes[0], q[q <= 0.1 + 1e-12], y0, 2.0, label="slope 2 (CK regime)")
    axes[0].set(title=f"Fig. 3 left: N = {cfg.N_main}, T = {cfg.T}",
                ylabel=r"$\|W_T - W_0\|_F / \|W_0\|_F$")
    axes[1].set(title="Fig. 3 right: $c_1c_2 = 1$")
    return _finish_q(axes, "lower right", 8)


def fig4(res, axes=None):
    """Draw Fig. 4: loss after T steps (band; dashed: the linear system) and κ(H0) (dashed: the wide limit)."""
    cfg, runs, tab = res.cfg, res.runs, res.table
    axes = plt.subplots(1, 2, figsize=(11, 4))[1] if axes is None else axes
    p0 = 1.0 if 1.0 in cfg.ps else cfg.ps[0]  # the paper's c1c2 = 1 when it is on the grid
    for N, col in zip(cfg.Ns, plotting.CYCLE):
        lt = runs[(runs.N == N) & (runs.p == p0)].pivot(index="trial", columns="q", values="loss_T")
        plotting.band(axes[0], lt.columns.to_numpy(), lt.to_numpy(), color=col, label=f"N = {N}: network", log=True)
        a = tab[(tab.N == N) & (tab.p == p0)].sort_values("q")
        plotting.theory(axes[0], a.q, a.loss_lin, color=col, label=f"N = {N}: linear system ($H_0$)")
        plotting.measured(axes[1], a.q, a.kappa_H, color=col, marker="o", label=f"N = {N}: $\\kappa(H_0)$")
        plotting.theory(axes[1], a.q, a.kappa_lim, color=col,
                        label=f"N = {N}: $\\kappa(q\\bar K + q^{{-1}}\\bar G)$ (wide limit)")
    _diverged_note(axes[0], int(runs.diverged.sum()), len(runs))
    axes[0].set(ylabel=f"loss after {cfg.T} NAG iterations", title=f"Fig. 4 left: $c_1c_2$ = {p0:g}")
    axes[1].set(ylabel=r"$\kappa(H_0)$", title="Fig. 4 right")
    return _finish_q(axes, "upper right", 7)


def laziness(res, ax=None):
    """Draw p·relW (solid) and p·relV (dotted) against q for each p = c1c2 (extension)."""
    ax = _axes(ax, (6.5, 3.8))
    t = res.table[res.table.N == res.cfg.N_main]
    for p, col in zip(res.cfg.ps, plotting.CYCLE):
        s = t[t.p == p].sort_values("q")
        plotting.measured(ax, s.q, s.relW * p, color=col, marker="o", label=f"$p\\cdot$relW, p = {p:g}")
        ax.plot(s.q, s.relV * p, ":", color=col, label=f"$p\\cdot$relV, p = {p:g}")
    return _finish(ax, SPHERES, loc="lower center", fontsize=7, legend=dict(ncol=2), xscale="log", yscale="log",
                   xlabel="$q = c_1/c_2$", ylabel="relative change × $c_1c_2$",
                   title="Extension: weight changes times $p = c_1c_2$")


def width_sweep(ws, rel_tol, d, axes=None):
    """Draw κ(K0) (left) and NAG iterations (right) against m/(Nn) per N; dashed: κ(K̄) and the linear prediction."""
    if axes is None:
        _, axes = plt.subplots(1, 2, figsize=(11, 4))
    for (N, sub), col in zip(ws.groupby("N"), plotting.CYCLE):
        plotting.measured(axes[0], sub.mult, sub.kappa_K0, color=col, marker="o", label=f"N = {N}: $\\kappa(K_0)$")
        axes[0].axhline(sub.kappa_bar.iloc[0], color=col, ls="--", lw=1, label=f"N = {N}: $\\kappa(\\bar K)$")
        plotting.measured(axes[1], sub.mult, sub.iters, color=col, marker="o", label=f"N = {N}: NAG, measured")
        plotting.theory(axes[1], sub.mult, sub.pred, color=col, label=f"N = {N}: linear prediction")
    for ax in axes:
        ax.axvline(1 / d, color="0.5", ls=":", lw=1)
        ax.set(xscale="log", yscale="log", xlabel="$m/(Nn)$   (dotted: $md = Nn$)")
        ax.xaxis.set_minor_formatter(plt.NullFormatter())  # no labels at minor ticks on a short log range
        plotting.data_note(ax, SPHERES)
        ax.legend(fontsize=7, loc="upper right")
    axes[0].set(ylabel=r"$\kappa(K_0)$", title="Extension: conditioning of $K_0$ against width")
    axes[1].set(ylabel=f"NAG iterations to relative loss {rel_tol:g}", title="iterations against width")
    return axes


def laziness_sweep(df, ax=None):
    """Draw the deviation from the linear system (GD, NAG) and the hidden movement against c1c2."""
    ax = _axes(ax, (6.5, 3.8))
    p = df.c1c2.to_numpy()
    plotting.measured(ax, p, df.dev_NAG, marker="o", color=plotting.PALETTE["nag"],
                      label=r"NAG: $\max_t\|r_t - r_t^{lin}\|/\|Y\|_F$")
    plotting.measured(ax, p, df.dev_GD, marker="o", color=plotting.PALETTE["gd"],
                      label=r"GD: $\max_t\|r_t - r_t^{lin}\|/\|Y\|_F$")
    plotting.measured(ax, p, df.relW, marker="s", color=plotting.PALETTE["alt"], label="NAG: relative hidden movement")
    plotting.slope_guide(ax, p, float(df.relW.iloc[0]), -1.0, label=r"$\propto 1/(c_1c_2)$")
    return _finish(ax, SPHERES, loc="lower left", fontsize=7, legend=dict(bbox_to_anchor=(0, 0.05)), xscale="log",
                   yscale="log", xlabel="$c_1c_2$ ($c_1/c_2$ fixed)", ylabel="size",
                   title="Extension: leaving the lazy regime")
