"""Sphinx extension of the book: everything a page needs is served from the built site itself.

MathJax 3 (a subset of the npm ``mathjax@3.2.2`` package: ``tex-chtml.js``, its woff-v2 fonts, the TeX
extensions that ``autoload`` may ask for, ``ui/safe``, ``ui/lazy`` and ``a11y/assistive-mml``; licence in
``mathjax/LICENSE``) lives beside this file, *outside* ``_static/``: Jupyter Book 1 injects every ``.js``
and ``.css`` found under ``_static/`` into every page, which would load MathJax's extensions eagerly.
MathJax is loaded on every page (the navigation holds math). This extension points Sphinx's ``mathjax_path`` at ``_static/mathjax/tex-chtml.js`` and copies the
folder there when an HTML build finishes (html, dirhtml, singlehtml).

It also takes Thebe off the pages (Jupyter Book 1 adds its inline configuration twice, a console error on
every page, and Thebe would load from a CDN; the book has no live-code launcher) and sets the theme's
default colour mode (without one, the theme logs an error on a reader's first visit).
"""
from __future__ import annotations

import shutil
from pathlib import Path

MATHJAX = Path(__file__).resolve().parent / "mathjax"
MATHJAX_PATH = "mathjax/tex-chtml.js"   # relative to _static of the built site


def _config_inited(app, config) -> None:
    config.mathjax_path = MATHJAX_PATH
    # MyST-NB would load require.js and the widget manager from a CDN on pages with widget state;
    # the book's widgets are skipped in headless runs, so nothing is loaded for them.
    config.nb_ipywidgets_js = {}


def _is_thebe(script) -> bool:
    name = str(getattr(script, "filename", "") or "")
    body = str(getattr(script, "attributes", {}).get("body", "") or "")
    return "thebe" in name.lower() or "THEBE_JS_URL" in body


def _page_context(app, pagename, templatename, context, doctree) -> None:
    if "script_files" in context:
        context["script_files"] = [s for s in context["script_files"] if not _is_thebe(s)]
    context["default_mode"] = context.get("default_mode") or "light"


def _copy_mathjax(app, exception) -> None:
    if exception is not None or app.builder.format != "html":
        return
    dest = Path(app.builder.outdir) / "_static" / "mathjax"
    if dest.exists():
        shutil.rmtree(dest)
    shutil.copytree(MATHJAX, dest)


def setup(app):
    # MathJax on every page, not only on pages with equations in their body: the navigation and the
    # page titles hold math too (e.g. "the ratio $c_1/c_2$"), and would show as raw TeX elsewhere.
    app.set_html_assets_policy("always")
    app.connect("config-inited", _config_inited, priority=900)
    app.connect("html-page-context", _page_context, priority=900)
    app.connect("build-finished", _copy_mathjax)
    return {"parallel_read_safe": True, "parallel_write_safe": True, "version": "1"}
