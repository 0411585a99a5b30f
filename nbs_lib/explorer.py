"""Explorers: one slider panel that is live in Jupyter and precomputed in the rendered book.

    explorer.explore(draw, {"width": [64, 256, 1024, 4096], "c1": [0.1, 1.0, 10.0]},
                     title="GD vs NAG", live_hint="open this notebook in Jupyter for the live sliders")

``draw(**values)`` draws one matplotlib figure from the chapter's experiment functions (a fast config) and
may print short guard messages. In a live Jupyter kernel the sliders are ipywidgets over the same value
lists; the figure and any printed text always land inside the panel's own output area, which is cleared and
redrawn (no figure leaks to the log console, the panel shows once). Live sliders move over the grid's range
with points in between (``refine``); the precomputed frames include both ends of every slider, so the
build's redraw timings cover the live range. Headless (the book build, papermill) the
figure is drawn for every combination of the grid (at most ``max_frames``) and the panel is emitted as
self-contained HTML: range sliders, a readout of each value, and a script that swaps precomputed PNG frames
(embedded as data URIs): no kernel, no network, works from ``file://``.

Budgets (issue 14): a frame must draw in about a second on 2 cores, a panel at most ``max_frames`` frames,
and the page at most ``max_bytes``; a grid over the cap is refused with a message before any drawing.
"""
from __future__ import annotations

import base64
import html
import io
import itertools
import json
import math
import time
import uuid
from typing import Callable, Mapping, Sequence

from .widgets import headless

MIME = "application/vnd.nbs-lib.explorer+json"
#: frames of one precomputed explorer, and bytes of one explorer's HTML, at most
MAX_FRAMES = 36
MAX_BYTES = 5_000_000


def _format(v) -> str:
    """Return a readout that shows the value (no 0.00 for 5e-4)."""
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return str(v)
    if isinstance(v, int):
        return str(v)
    if v == 0:
        return "0"
    a = abs(v)
    return f"{v:.3g}" if 1e-3 <= a < 1e4 else f"{v:.2e}"


def _check_grid(grid: Mapping[str, Sequence], max_frames: int) -> list[str]:
    if not grid:
        raise ValueError("grid must name at least one slider with its values")
    for name, values in grid.items():
        if not isinstance(values, (list, tuple)) or len(values) < 2:
            raise ValueError(f"grid[{name!r}] must list at least two values, got {values!r}")
    n = math.prod(len(v) for v in grid.values())
    if n > max_frames:
        raise ValueError(f"the explorer grid has {n} combinations, over the cap of {max_frames} frames; "
                         "use fewer values per slider")
    return list(grid)


def render_frames(draw: Callable, grid: Mapping[str, Sequence], *, dpi: int = 72,
                  max_frames: int = MAX_FRAMES) -> tuple[dict, list[float]]:
    """Return ({"i_j_…": PNG data URI}, seconds per frame) for every combination of ``grid``.

    ``plt.show`` is a no-op while drawing, so that the figure is captured instead of displayed.
    """
    import matplotlib.pyplot as plt

    from . import plotting

    names = _check_grid(grid, max_frames)
    frames, seconds = {}, []
    show, watch = plt.show, plotting.WATCH_DRAWS
    plt.show = lambda *a, **k: None
    plotting.WATCH_DRAWS = False  # frames are not displayed figures: no text check at their draws
    try:
        for idx in itertools.product(*(range(len(grid[n])) for n in names)):
            plt.close("all")
            t0 = time.perf_counter()
            draw(**{n: grid[n][i] for n, i in zip(names, idx)})
            fig = plt.gcf()
            buf = io.BytesIO()
            fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight")
            plt.close(fig)
            seconds.append(time.perf_counter() - t0)
            frames["_".join(map(str, idx))] = "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()
    finally:
        plt.show, plotting.WATCH_DRAWS = show, watch
    return frames, seconds


def _script_json(obj) -> str:
    """Return JSON safe inside a ``<script>`` element (no ``</`` that would close it)."""
    return json.dumps(obj).replace("</", "<\\/")


def static_html(frames: Mapping[str, str], grid: Mapping[str, Sequence], *, title: str = "",
                live_hint: str = "", initial: Mapping[str, int] | None = None) -> str:
    """Return a self-contained HTML panel: one range slider per parameter swapping precomputed frames.

    The frames (``{"i_j_…": data URI}``) and each slider's readouts lie in ``<script type="application/json">``
    elements of the panel (``…-frames``, ``…-labels``), read by its small script; a slider's readouts are
    also its ``data-labels`` (a browser test checks the readout against them).
    """
    uid = "nbsx" + uuid.uuid4().hex[:8]
    names = list(grid)
    start = {n: (initial or {}).get(n, 0) for n in names}
    labels = {n: [_format(v) for v in grid[n]] for n in names}
    rows = []
    for n in names:
        rows.append(
            f'<div class="nbs-explorer-row"><label for="{uid}-{n}">{html.escape(n)}</label> '
            f'<input type="range" id="{uid}-{n}" data-name="{html.escape(n)}" min="0" max="{len(grid[n]) - 1}" '
            f'step="1" value="{start[n]}" data-labels="{html.escape(json.dumps(labels[n]))}"> '
            f'<output id="{uid}-{n}-out" for="{uid}-{n}">{html.escape(labels[n][start[n]])}</output></div>')
    key0 = "_".join(str(start[n]) for n in names)
    hint = f'<p class="nbs-explorer-hint">{html.escape(live_hint)}</p>' if live_hint else ""
    head = f'<p class="nbs-explorer-title"><strong>{html.escape(title)}</strong></p>' if title else ""
    return f"""<div class="nbs-explorer" id="{uid}" data-sliders="{html.escape(json.dumps(names))}">{head}
{''.join(rows)}
<img id="{uid}-img" src="{frames[key0]}" alt="{html.escape(title or 'explorer')}" style="max-width:100%">
{hint}
<script type="application/json" id="{uid}-frames">{_script_json(frames)}</script>
<script type="application/json" id="{uid}-labels">{_script_json(labels)}</script>
<script>(function(){{
var g=function(s){{return document.getElementById("{uid}"+s);}};
var F=JSON.parse(g("-frames").textContent),L=JSON.parse(g("-labels").textContent),N={_script_json(names)};
function upd(){{var k=N.map(function(n){{return g("-"+n).value;}}).join("_");
if(F[k])g("-img").src=F[k];
N.forEach(function(n){{g("-"+n+"-out").textContent=L[n][+g("-"+n).value];}});}}
N.forEach(function(n){{g("-"+n).addEventListener("input",upd);}});
}})();</script></div>"""


def explore(draw: Callable, grid: Mapping[str, Sequence], *, title: str = "", initial: Mapping | None = None,
            live_hint: str = "In Jupyter these sliders are live: run the notebook there to move them freely.",
            live: Mapping[str, Sequence] | None = None, max_frames: int = MAX_FRAMES, max_bytes: int = MAX_BYTES):
    """Show the explorer: live ipywidgets in a Jupyter kernel, precomputed HTML when headless.

    ``initial`` gives the starting value of each slider (default: its first value; a number not on the grid
    starts at the nearest grid value). ``live`` may give a slider's own live values (default
    ``refine(grid[name])``, e.g. to keep widths even); they must lie within the grid's ends, whose frames
    are timed in the build. Returns None (the redraw timings travel in the output's payload).
    """
    from IPython.display import HTML, display

    names = _check_grid(grid, max_frames)
    init_idx = {}
    for n in names:
        v = (initial or {}).get(n, grid[n][0])
        values = list(grid[n])
        if v in values:
            init_idx[n] = values.index(v)
        elif isinstance(v, (int, float)) and all(isinstance(x, (int, float)) for x in values):
            init_idx[n] = min(range(len(values)), key=lambda i: abs(values[i] - v))  # the nearest value
        else:
            raise ValueError(f"initial[{n!r}] = {v!r} is not one of the slider values {values}")
    live_values = {n: list((live or {}).get(n, refine(grid[n]))) for n in names}
    unknown = set(live or {}) - set(names)
    if unknown:
        raise ValueError(f"live names sliders that the grid does not have: {sorted(unknown)}")
    for n in names:
        g = grid[n]
        if all(isinstance(v, (int, float)) for v in list(g) + live_values[n]):
            lo, hi = min(g), max(g)
            if any(not lo <= v <= hi for v in live_values[n]):
                raise ValueError(f"live[{n!r}] must lie within the grid's range [{lo}, {hi}] (its ends are "
                                 "the frames timed in the build)")
        if g[init_idx[n]] not in live_values[n]:
            live_values[n] = sorted(set(live_values[n]) | {g[init_idx[n]]})
    if not headless():
        _live(draw, live_values, {n: grid[n][init_idx[n]] for n in names}, title)
        return None
    frames, seconds = render_frames(draw, grid, max_frames=max_frames)
    page = static_html(frames, grid, title=title, live_hint=live_hint, initial=init_idx)
    if len(page) > max_bytes:
        raise ValueError(f"the explorer is {len(page) / 1e6:.1f} MB, over the {max_bytes / 1e6:.1f} MB budget; "
                         "use fewer values or a smaller figure")
    import numpy as np

    p50, p95 = (float(q) for q in np.quantile(seconds, [0.5, 0.95]))
    stats = {"title": title, "frames": len(seconds), "p50_s": p50, "p95_s": p95, "max_s": max(seconds),
             "total_s": float(sum(seconds)),
             "bytes": len(page), "grid": {n: [str(v) for v in grid[n]] for n in names},
             "live_ends": {n: _ends(live_values[n]) for n in names}}
    display({"text/html": page, "text/plain": f"explorer: {title}", MIME: stats}, raw=True)
    return None


def _ends(values: Sequence) -> list[str]:
    """Return the ends of a live slider's values as text: smallest and largest number, else first and last."""
    vals = list(values)
    if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in vals):
        return [str(min(vals)), str(max(vals))]
    return [str(vals[0]), str(vals[-1])]


def refine(values: Sequence, k: int = 4) -> list:
    """Return the live slider's values: ``values`` with ``k - 1`` points inserted between neighbours.

    Numbers get geometric steps where neighbours differ by more than a factor 2.5 (both positive), linear
    ones otherwise; integers stay integers (duplicates dropped). The ends are the grid's ends, so the
    precomputed frames time the live slider's whole range. Anything not a number is kept as it is.
    """
    vals = list(values)
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in vals) or k <= 1:
        return vals
    ints = all(isinstance(v, int) for v in vals)
    out = [vals[0]]
    for a, b in zip(vals, vals[1:]):
        geo = a > 0 and b > 0 and max(a, b) / min(a, b) > 2.5
        for j in range(1, k + 1):
            t = j / k
            v = a * (b / a) ** t if geo else a + (b - a) * t
            v = b if j == k else (int(round(v)) if ints else float(f"{v:.3g}"))
            if v != out[-1]:
                out.append(v)
    return out


#: seconds a live redraw may take before the panel says so (issue 14's p95 budget)
LIVE_BUDGET_S = 3.0


def _live(draw: Callable, values: Mapping[str, Sequence], start: Mapping, title: str) -> None:
    """Display one slider per parameter (over ``values``) above one output area redrawn by ``draw(**values)``.

    The output area is cleared and redrawn on every change, the figure and printed messages land inside it,
    the panel shows once, and a redraw over :data:`LIVE_BUDGET_S` says so.
    """
    import ipywidgets as w
    import matplotlib.pyplot as plt
    from IPython.display import display

    controls = {n: w.SelectionSlider(options=[(_format(v), v) for v in values[n]], value=start[n], description=n,
                                     continuous_update=False, style={"description_width": "initial"},
                                     layout=w.Layout(width="420px"))
                for n in values}
    out = w.Output()

    def redraw(_=None):
        with out:
            out.clear_output(wait=True)
            plt.close("all")
            t0 = time.perf_counter()
            draw(**{n: c.value for n, c in controls.items()})
            plt.show()
            dt = time.perf_counter() - t0
            if dt > LIVE_BUDGET_S:
                print(f"This redraw took {dt:.1f} s, over the {LIVE_BUDGET_S:.0f} s budget of a live panel.")

    for c in controls.values():
        c.observe(redraw, names="value")
    box = [w.HTML(f"<b>{html.escape(title)}</b>")] if title else []
    display(w.VBox(box + list(controls.values()) + [out]))
    redraw()
