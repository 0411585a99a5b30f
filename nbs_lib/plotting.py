"""Plot style for the book: one palette, theory dashed, measurement solid, seeds as a band.

:func:`use_style` (every notebook calls it in its imports cell) also registers :func:`check_displayed`:
every figure the notebook displays is checked for overlapping texts once it is rendered for display; an
overlap prints a warning into the cell's output and adds a record (MIME :data:`FIGURE_CHECK_MIME`) that
the book build collects and the reproduction report lists.
"""
from __future__ import annotations

import sys
import time

import math

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


class ThinLogFormatter(mpl.ticker.LogFormatterSciNotation):
    """Matplotlib's log-axis labels, with minor ticks labelled only at 2 and 5 times a power of the base.

    On an axis spanning about a decade matplotlib labels the minor ticks 2…9; at the book's panel sizes the
    labels 3, 4 (and 6–9) collide with their neighbours. Major ticks (powers of the base) are untouched.
    """

    def set_locs(self, locs=None):
        super().set_locs(locs)
        subs = getattr(self, "_sublabels", None)
        if subs is not None and len(subs) > 1:       # matplotlib chose to label minor ticks: keep 1, 2, 5
            self._sublabels = {1.0, 2.0, 5.0}


def _thin_log_minor_labels() -> None:
    """Make every new log axis use :class:`ThinLogFormatter` for its minor ticks (idempotent)."""
    scale = mpl.scale.LogScale
    if getattr(scale, "_nbs_thin", False):
        return
    original = scale.set_default_locators_and_formatters

    def patched(self, axis):
        original(self, axis)
        if self.base == 10:
            axis.set_minor_formatter(ThinLogFormatter(self.base, labelOnlyBase=(self.subs is not None)))

    scale.set_default_locators_and_formatters = patched
    scale._nbs_thin = True


def use_style() -> None:
    """Apply the book's matplotlib style (sizes, grid, palette cycle); check every displayed figure; label
    log axes' minor ticks at 2 and 5 only (:class:`ThinLogFormatter`)."""
    check_displayed()
    _thin_log_minor_labels()
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
    """Write which data a figure used, in small grey text just below the x axis (ticks and label) of ``ax``.

    The note sits outside the data area, right-aligned under the axis, so it covers neither data nor a
    legend; its place is computed at draw time from the axis' extent.
    """
    def below_x_axis(renderer):
        # the x axis' ticks and label; the axes box itself when the axis is hidden (axis("off"), images)
        box = ax.xaxis.get_tightbbox(renderer) if ax.axison and ax.xaxis.get_visible() else None
        return box if box is not None and box.height > 0 else ax.get_window_extent(renderer)

    return ax.annotate(text, xy=(1, 0), xycoords=below_x_axis, xytext=(0, -2),
                       textcoords="offset points", fontsize=7, color="0.4", va="top", ha="right",
                       annotation_clip=False)


# ---------------------------------------------------------------- checks on drawn figures
def _label(kind: str, artist) -> str:
    text = artist.get_text() if hasattr(artist, "get_text") else ""
    return f"{kind} {text!r}" if text else kind


def _axes_texts(ax, renderer) -> list[tuple[str, object]]:
    """Return ``(description, window extent)`` of every visible, non-empty text of ``ax``."""
    items = []

    def add(kind, t):
        if t is not None and t.get_visible() and t.get_text().strip():
            bb = t.get_window_extent(renderer)
            if bb.width > 0 and bb.height > 0:
                items.append((_label(kind, t), bb))

    for name, t in (("title", ax.title), ("left title", ax._left_title), ("right title", ax._right_title),
                    ("x label", ax.xaxis.label), ("y label", ax.yaxis.label),
                    ("x offset", ax.xaxis.offsetText), ("y offset", ax.yaxis.offsetText)):
        add(name, t)
    for axis, name in ((ax.xaxis, "x tick"), (ax.yaxis, "y tick")):
        lo, hi = sorted(axis.get_view_interval())
        for tick in axis.get_major_ticks() + axis.get_minor_ticks():
            loc = tick.get_loc()
            if loc is None or not (lo - 1e-12 * max(1, abs(lo)) <= loc <= hi + 1e-12 * max(1, abs(hi))):
                continue  # ticks outside the view are not drawn
            add(name, tick.label1)
            add(name, tick.label2)
    for t in ax.texts:
        add("text", t)
    leg = ax.get_legend()
    if leg is not None and leg.get_visible():
        items.append(("legend", leg.get_window_extent(renderer)))
    return items


def _overlap(a, b, tol: float) -> bool:
    return (min(a.x1, b.x1) - max(a.x0, b.x0) > tol) and (min(a.y1, b.y1) - max(a.y0, b.y0) > tol)


def overlapping_texts(fig, tol: float = 1.0) -> list[tuple[str, str]]:
    """Return the pairs of texts of ``fig`` whose boxes overlap once the figure is drawn (empty: readable).

    Compared: every pair of texts within one axes (titles, axis labels, tick labels, offset texts such as
    ``1e-8``, ``ax.text``/annotations, the legend box as one item), and every text of one axes against
    every text of another (panel titles colliding, a label running into the next panel), plus the
    figure's own texts (``suptitle``, ``fig.text``) against all of these. Boxes are window extents in
    pixels after ``fig.canvas.draw()``; an overlap must exceed ``tol`` pixels in both directions.
    Each pair is ``(where, what)``, e.g. ``("axes 0", "x tick '10' / x tick '100'")``.
    """
    fig.canvas.draw()
    return _overlaps(fig, fig.canvas.get_renderer(), tol)


def _overlaps(fig, renderer, tol: float = 1.0) -> list[tuple[str, str]]:
    """Return the overlapping texts of ``fig`` as laid out in its last draw with ``renderer``."""
    per_axes = [_axes_texts(ax, renderer) for ax in fig.axes]
    fig_items, seen = [], set()
    for t in fig.texts + [getattr(fig, "_suptitle", None), getattr(fig, "_supxlabel", None),
                          getattr(fig, "_supylabel", None)]:
        if t is not None and id(t) not in seen and t.get_visible() and t.get_text().strip():
            seen.add(id(t))
            fig_items.append((_label("figure text", t), t.get_window_extent(renderer)))
    found = []
    for i, items in enumerate(per_axes):
        for j in range(len(items)):
            for k in range(j + 1, len(items)):
                if _overlap(items[j][1], items[k][1], tol):
                    found.append((f"axes {i}", f"{items[j][0]} / {items[k][0]}"))
    for i in range(len(per_axes)):
        for j in range(i + 1, len(per_axes)):
            for a, abb in per_axes[i]:
                for b, bbb in per_axes[j]:
                    if _overlap(abb, bbb, tol):
                        found.append((f"axes {i} / axes {j}", f"{a} / {b}"))
    everything = [(f"axes {i}", d, bb) for i, items in enumerate(per_axes) for d, bb in items]
    for n, (a, abb) in enumerate(fig_items):
        for b, bbb in fig_items[n + 1:]:
            if _overlap(abb, bbb, tol):
                found.append(("figure", f"{a} / {b}"))
        for where, b, bbb in everything:
            if _overlap(abb, bbb, tol):
                found.append((f"figure / {where}", f"{a} / {b}"))
    return found


def assert_readable(fig, tol: float = 1.0) -> None:
    """Raise ``AssertionError`` naming the texts when any two texts of ``fig`` overlap once drawn.

    For tests of figure helpers: draw the figure from a smoke-size result, then ``assert_readable(fig)``.
    """
    found = overlapping_texts(fig, tol=tol)
    if found:
        raise AssertionError("overlapping texts:\n" + "\n".join(f"  {w}: {what}" for w, what in found))


# ---------------------------------------------------------------- the check of every displayed figure
FIGURE_CHECK_MIME = "application/vnd.nbs-lib.figure-check+json"


def _figure_name(fig) -> str:
    sup = getattr(fig, "_suptitle", None)
    if sup is not None and sup.get_text().strip():
        return sup.get_text().strip()
    titles = [ax.get_title().strip() for ax in fig.axes if ax.get_title().strip()]
    return " | ".join(titles[:3]) or f"figure {getattr(fig, 'number', '?')}"


def figure_check(fig, drawn: bool = False) -> dict | None:
    """Return the overlap record of a figure (None when its texts do not overlap); print a warning on overlap.

    ``drawn=True``: the figure was just rendered (as by the display's PNG formatter, which runs before the
    check) and the texts' boxes were measured during that rendering (:func:`watch_figure`): no second draw.
    Otherwise the figure is drawn here.
    """
    t0 = time.perf_counter()
    found = getattr(fig, "_nbs_overlaps", None) if drawn else None
    if found is None:
        found = overlapping_texts(fig)
        seconds = time.perf_counter() - t0
    else:
        seconds = getattr(fig, "_nbs_overlaps_s", 0.0) + time.perf_counter() - t0
    fig._nbs_check_s = seconds
    if not found:
        return None
    name = _figure_name(fig)
    print(warning_text(name, found), file=sys.stderr)
    return {"figure": name, "overlaps": [list(p) for p in found], "seconds": seconds}


#: characters per line of the warning (it must fit the book's code column)
WARNING_WIDTH = 88


def warning_text(name: str, found: list) -> str:
    """Return the warning printed under a figure whose texts overlap, wrapped to :data:`WARNING_WIDTH`."""
    import textwrap

    lines = ["Warning: texts overlap in this figure (nbs_lib.plotting.figure_check)"]
    for text in [f"figure: {name}"] + [f"{w}: {what}" for w, what in found]:
        lines += textwrap.wrap(text, WARNING_WIDTH, initial_indent="  ", subsequent_indent="      ",
                               break_long_words=True)
    return "\n".join(lines)


#: measure texts at every draw of a pyplot figure (off while an explorer draws its frames)
WATCH_DRAWS = True


def watch_figure(fig) -> None:
    """Measure the texts of ``fig`` at the end of each of its draws (a pyplot ``figure.hooks`` entry).

    The boxes are taken in the draw's own layout, so a check after a ``bbox_inches="tight"`` rendering
    (which leaves the axis labels placed for the shifted canvas) sees what was drawn.
    """
    fig.canvas.mpl_connect("draw_event", _measure_on_draw)


def _measure_on_draw(event) -> None:
    fig, renderer = event.canvas.figure, event.renderer
    if not WATCH_DRAWS or renderer is None or "draw_path" in vars(renderer):  # a layout-only pass
        return
    t0 = time.perf_counter()
    try:
        fig._nbs_overlaps = _overlaps(fig, renderer)
    except Exception:  # a measurement must never break a draw
        fig._nbs_overlaps = None
    fig._nbs_overlaps_s = time.perf_counter() - t0


def check_displayed(ip=None) -> bool:
    """Register :func:`figure_check` for every matplotlib figure displayed in IPython ``ip`` (default: the
    running one); return False when there is no IPython. Registering twice changes nothing."""
    if ip is None:
        try:
            from IPython import get_ipython
        except ImportError:  # pragma: no cover
            return False
        ip = get_ipython()
    if ip is None:
        return False
    hook = "nbs_lib.plotting:watch_figure"
    if hook not in mpl.rcParams["figure.hooks"]:
        mpl.rcParams["figure.hooks"] = list(mpl.rcParams["figure.hooks"]) + [hook]
    formatters = ip.display_formatter.formatters
    if FIGURE_CHECK_MIME not in formatters:
        formatters[FIGURE_CHECK_MIME] = _formatter_class()(parent=ip.display_formatter)
    return True


def _formatter_class():
    """Return the display formatter class of the check (IPython imported only when a shell exists).

    It tests the object's type itself instead of registering ``for_type(Figure)``: IPython's
    ``select_figure_formats`` (run when the inline backend activates, possibly after ``use_style``) drops
    every formatter's registration for ``Figure``.
    """
    from IPython.core.formatters import JSONFormatter
    from traitlets import Unicode

    class FigureCheckFormatter(JSONFormatter):
        format_type = Unicode(FIGURE_CHECK_MIME)

        def __call__(self, obj):
            from matplotlib.figure import Figure

            if not self.enabled or not isinstance(obj, Figure):
                return None
            return _safe_check(obj, self.parent.formatters)

    return FigureCheckFormatter


RASTER_TYPES = ("image/png", "image/jpeg")


def _rendered(fig, formatters) -> bool:
    """Return True when a raster formatter ran on ``fig`` before the check (formatters run in order)."""
    for mime in RASTER_TYPES:
        f = formatters.get(mime)
        if f is not None and f.enabled and list(formatters).index(mime) < list(formatters).index(FIGURE_CHECK_MIME):
            try:
                f.lookup(fig)
            except KeyError:
                continue
            return True
    return False


def _safe_check(fig, formatters):
    try:
        return figure_check(fig, drawn=_rendered(fig, formatters))
    except Exception as exc:  # a check must never break a notebook's display
        print(f"Warning: the figure check failed: {type(exc).__name__}: {exc}", file=sys.stderr)
        return None
