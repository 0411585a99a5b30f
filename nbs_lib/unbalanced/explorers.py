"""Paper 000: the draw functions of the chapter's explorers (:func:`nbs_lib.explorer.explore`).

Each ``name(ctx, ...)`` returns ``draw(**values)``: it runs the chapter's experiment function at a fast size (about
half a second a frame at ``cpu`` on one core) and draws the measurement with the theory's prediction through a
:mod:`.plots` helper. A degenerate combination (a singular kernel, a run that diverges) prints a message and draws
that message instead of a figure. The slider names are the keys of ``values``.
"""
from __future__ import annotations

import math

import matplotlib.pyplot as plt

from . import experiments as E
from . import plots

#: fast sizes of the explorers: every frame is one trial at these sizes
FAST = dict(d=8, n=2, N=20)


def message(text: str, figsize=(7, 3.2)):
    """Print ``text`` and draw it on an empty figure (the frame of a degenerate combination)."""
    print(text)
    fig, ax = plt.subplots(figsize=figsize)
    ax.axis("off")
    ax.text(0.5, 0.5, text, ha="center", va="center", wrap=True, fontsize=10, color="0.25")
    return fig


def _scales(q: float, p: float = 1.0) -> tuple[float, float]:
    """Return (c1, c2) with c1/c2 = q and c1c2 = p."""
    return math.sqrt(p * q), math.sqrt(p / q)


def gd_vs_nag(ctx, T: int = 100):
    """Fig. 1 at width ``2m`` and ratio ``c1/c2`` (c1c2 = 1, the paper's product): GD and NAG losses with
    η = 1/λ_max(K0) and the predicted rates (1 − 1/κ)^{2t}, (1 − 1/√κ)^{2t} dashed."""

    def draw(**v):
        c1, c2 = _scales(v["c1/c2"])
        try:
            cfg = E.Fig1Config(**FAST, m=max(1, v["2m"] // 2), c1=c1, c2=c2, T=T, trials=1)
            res = E.fig1(cfg, ctx)
        except ValueError as err:
            return message(f"2m = {v['2m']}, c1/c2 = {v['c1/c2']:g}: {err}")
        if res.message:
            print(f"c1/c2 = {v['c1/c2']:g}: the step η = 1/λ_max(K0) ignores the output-layer kernel G0 and the run "
                  f"diverged ({res.message.split(':')[0]}); the paper's c1/c2 = 100 keeps G0 negligible.")
        plots.fig1(res)
        return plt.gcf()

    return draw


def table1(lam: float, kappa: float, kappa_ck: float, r: int = 2, kappa_r: float = 1.14):
    """Table 1's widths evaluated at the sliders' ``N`` and ``n`` with the measured λ, κ and κ(Ḡ)."""

    def draw(**v):
        if r > v["n"]:
            print(f"n = {v['n']} is below the rank r = {r} of the low-rank row: that row is drawn at r = n")
        plots.table1(E.table1(v["N"], v["n"], lam, kappa, min(r, v["n"]), kappa_r, kappa_ck), v["N"], v["n"])
        return plt.gcf()

    return draw


def lowrank(ctx, ranks=(1, 2, 3, 4), max_iter: int = 800):
    """Fig. 2 at one width multiple ``α`` and one response generator ``kind``: NAG iterations to loss 1e-6 against
    the rank (one trial each) with the count predicted from each run's restricted kernel dashed."""

    def draw(**v):
        cfg = E.Fig2Config(d=8, N=20, n=12, ranks=ranks, alphas=(v["α"],), trials=1, max_iter=max_iter,
                           kind=v["kind"])
        try:
            res = E.fig2(cfg, ctx)
        except ValueError as err:  # a width too small for an invertible restricted kernel
            return message(f"α = {v['α']:g}: {err}")
        if res.runs.iters.isna().all():
            return message(f"α = {v['α']:g}: no run reached the tolerance within {max_iter} iterations")
        plots.fig2(res)
        return plt.gcf()

    return draw


def regimes(ctx, qs=(0.01, 0.1, 1.0, 10.0, 100.0), T: int = 100):
    """Fig. 4 at one laziness ``c1c2`` and one width ``m/(Nn)``: the loss after T NAG steps against c1/c2 with the
    linear system dashed, and κ(H0) with its wide limit κ(qK̄ + q⁻¹Ḡ) dashed."""

    def draw(**v):
        cfg = E.Fig34Config(d=8, n=2, Ns=(20,), N_main=20, ps=(v["c1c2"],), qs=qs, trials=1, T=T,
                            width_factor=v["m/(Nn)"])
        res = E.fig34(cfg, ctx)
        if res.runs.diverged.any():
            bad = ", ".join(f"{q:g}" for q in res.runs.q[res.runs.diverged])
            return message(f"c1c2 = {v['c1c2']:g}, m/(Nn) = {v['m/(Nn)']:g}: the runs at c1/c2 = {bad} diverged "
                           "(training is no longer lazy, so the step from H0 is too long); raise c1c2")
        plots.fig4(res)
        return plt.gcf()

    return draw


def width(ctx, mults=(0.1, 0.25, 0.5, 1.0, 2.0), max_iter: int = 400):
    """The width sweep at one ``N`` and input dimension ``d``: κ(K0) and NAG iterations against m/(Nn), with κ(K̄)
    and the linear prediction dashed; the dotted line is md = Nn, below which K0 is singular."""

    def draw(**v):
        cfg = E.WidthSweepConfig(d=v["d"], n=2, Ns=(v["N"],), mults=mults, max_iter=max_iter)
        ws = E.width_sweep(cfg, ctx)
        if ws.singular.all():
            return message(f"d = {v['d']}: K0 is singular at every width of the grid (md < Nn)")
        plots.width_sweep(ws, cfg.rel_tol, cfg.d)
        return plt.gcf()

    return draw
