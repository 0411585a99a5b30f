"""Whether live widgets can run: every slider panel of the book is an explorer (``nbs_lib.explorer``),
live ipywidgets in a Jupyter kernel and precomputed HTML when headless (``NBS_HEADLESS=1``, which the book's
runner sets, or no IPython kernel)."""
from __future__ import annotations

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
