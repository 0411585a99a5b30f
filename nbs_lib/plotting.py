"""Plot style for the book: one palette, theory dashed, measurement solid, seeds as a band."""
from __future__ import annotations

import matplotlib as mpl
import numpy as np

# Okabe–Ito colour-blind-safe palette
PALETTE = {
    "measured": "#0072B2",
    "theory": "#000000",
    "gd": "#0072B2",
    "nag": "#D55E00",
    "alt": "#009E73",
    "alt2": "#CC79A7",
    "alt3": "#E69F00",
    "alt4": "#56B4E9",
    "grey": "#999999",
}
CYCLE = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#F0E442", "#000000"]


def use_style() -> None:
    """Apply the book's matplotlib style (sizes, grid, palette cycle)."""
    mpl.rcParams.update({
        "figure.figsize": (6.4, 4.0),
        "figure.dpi": 100,
        "savefig.dpi": 150,
        "axes.grid": True,
        "grid.alpha": 0.3,
        "axes.spines.top": False,
        "axes.spines.right": False,
        "axes.prop_cycle": mpl.cycler(color=CYCLE),
        "legend.frameon": False,
        "font.size": 10,
    })


def measured(ax, x, y, label="measured", color=None, **kw):
    """Plot a measured curve (solid)."""
    return ax.plot(x, y, "-", color=color or PALETTE["measured"], label=label, **kw)


def theory(ax, x, y, label="theory", color=None, **kw):
    """Plot a theory prediction (dashed)."""
    kw.setdefault("lw", 1.5)
    return ax.plot(x, y, "--", color=color or PALETTE["theory"], label=label, **kw)


def band(ax, x, runs, color=None, label=None, faint_runs: bool = True, axis: int = 0, log: bool = False):
    """Plot the mean ± std of ``runs`` (stacked along ``axis``) as a line and a band, individual runs faint.

    With ``log=True`` the mean and std are taken of ``log10(runs)`` (for losses on log axes).
    """
    runs = np.asarray(runs, dtype=float)
    if axis != 0:
        runs = np.moveaxis(runs, axis, 0)
    color = color or PALETTE["measured"]
    vals = np.log10(np.where(runs > 0, runs, np.nan)) if log else runs   # log: non-positive values are gaps
    mean, std = np.nanmean(vals, axis=0), np.nanstd(vals, axis=0)
    lo, hi = mean - std, mean + std
    if log:
        mean, lo, hi = 10 ** mean, 10 ** lo, 10 ** hi
    if faint_runs:
        for r in runs:
            ax.plot(x, r, "-", color=color, alpha=0.2, lw=0.7)
    ax.fill_between(x, lo, hi, color=color, alpha=0.25, lw=0)
    return ax.plot(x, mean, "-", color=color, label=label)


def slope_guide(ax, x, y_at_x0, slope, label=None, color=None, **kw):
    """Draw a dashed power-law guide ``y = y_at_x0 · (x/x0)**slope`` (for log–log plots)."""
    x = np.asarray(x, dtype=float)
    y = y_at_x0 * (x / x[0]) ** slope
    kw.setdefault("lw", 1.2)
    return ax.plot(x, y, "--", color=color or PALETTE["theory"], label=label or f"slope {slope:g}", **kw)


def data_note(ax, text: str):
    """Write which data a figure used in its lower-left corner (small grey text)."""
    ax.text(0.01, 0.01, text, transform=ax.transAxes, fontsize=7, color="0.4", va="bottom", ha="left")
