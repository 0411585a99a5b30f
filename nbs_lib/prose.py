"""Numbers and result-dependent sentences pasted into a page from the run (MyST-NB ``glue``).

In a code cell::

    prose.paste(gd_iters=res.gd_iters, speedup=res.ratio)                  # numbers
    prose.paste(verdict_sentence="grows" if slope > 0 else "does not grow")  # a sentence (Markdown)

In the Markdown below it: ``{glue:text}`gd_iters:.1f``` for a number (format spec after the colon) and
``{glue:md}`verdict_sentence``` for text. Nothing measured is typed into a page.
"""
from __future__ import annotations

import numbers


def paste(**values) -> None:
    """Glue each ``name=value`` (numbers as numbers, strings as Markdown) without displaying it."""
    from myst_nb import glue

    for name, value in values.items():
        if isinstance(value, str):
            from IPython.display import Markdown

            glue(name, Markdown(value), display=False)
        elif isinstance(value, (numbers.Real, bool)) or hasattr(value, "item"):
            v = value.item() if hasattr(value, "item") else value
            glue(name, v, display=False)
        else:
            raise ValueError(f"{name} must be a number or a string to paste, got {type(value).__name__}")
