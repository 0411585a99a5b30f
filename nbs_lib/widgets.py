"""Interactive widgets for the notebooks, skipped when a notebook runs headless (papermill, the book build).

A widget section wraps a fast function from ``nbs_lib``::

    widgets.interact(draw, width=widgets.even_slider("width 2m", 20, 4000, 200),
                           c1=widgets.log_slider("c₁", 1e-2, 1e2, 10.0))

Headless (``NBS_HEADLESS=1``, which the book's runner sets) it prints a note and draws nothing, so the
rendered book shows the static figures computed at the defaults.
"""
from __future__ import annotations

import math
import os


def headless() -> bool:
    """Return True when widgets cannot be used: ``NBS_HEADLESS`` is set, or no IPython kernel is running."""
    if os.environ.get("NBS_HEADLESS", "") not in ("", "0"):
        return True
    try:
        from IPython import get_ipython

        ip = get_ipython()
    except ImportError:  # pragma: no cover
        return True
    return ip is None or not hasattr(ip, "kernel")


def interact(fn, **controls):
    """Show ``fn`` with live ``controls`` (ipywidgets), or a note when headless; return None.

    Deprecated: use ``nbs_lib.explorer.explore`` (live in Jupyter and precomputed in the book). This is the
    explorer's live panel (:func:`nbs_lib.explorer.live_panel`) over the given controls.
    """
    if headless():
        print("Interactive widgets are skipped in a headless run; open this notebook in Jupyter to use them.")
        return None
    from .explorer import live_panel

    live_panel(fn, controls)
    return None


def log_slider(description: str, lo: float, hi: float, value: float, steps: int = 40):
    """Return a log-scale float slider on ``[lo, hi]``."""
    import ipywidgets as w

    step = (math.log10(hi) - math.log10(lo)) / steps
    return w.FloatLogSlider(value=value, base=10, min=math.log10(lo), max=math.log10(hi), step=step,
                            description=description, continuous_update=False)


def float_slider(description: str, lo: float, hi: float, value: float, step: float | None = None):
    """Return a float slider on ``[lo, hi]``."""
    import ipywidgets as w

    return w.FloatSlider(value=value, min=lo, max=hi, step=step or (hi - lo) / 100, description=description,
                         continuous_update=False)


def int_slider(description: str, lo: int, hi: int, value: int, step: int = 1):
    """Return an integer slider on ``[lo, hi]``."""
    import ipywidgets as w

    return w.IntSlider(value=value, min=lo, max=hi, step=step, description=description, continuous_update=False)


def even_slider(description: str, lo: int, hi: int, value: int):
    """Return an integer slider restricted to even values (mirrored widths)."""
    lo += lo % 2
    return int_slider(description, lo, hi - hi % 2, value - value % 2, step=2)


def choice(description: str, options, value=None):
    """Return a dropdown over ``options``."""
    import ipywidgets as w

    options = list(options)
    return w.Dropdown(options=options, value=options[0] if value is None else value, description=description)
