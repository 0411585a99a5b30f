"""The rendered site: staging transforms, generated chapter overviews and the PDF of the book.

Called from ``ci/build_book.py`` (a few hooks):

* :func:`prepare_stage` runs after the sources and executed notebooks are copied into the stage. It copies
  the local Sphinx extension (``_ext/``: offline MathJax), cleans every staged notebook (:func:`clean_notebook`)
  and appends a generated overview to each chapter's ``index.md`` (:func:`chapter_overview`).
* :func:`build_pdf` renders the staged book as one HTML page (Sphinx ``singlehtml``) and prints it to PDF
  in headless Chromium (playwright's Python API driving Debian's ``chromium``), after MathJax has typeset.

Notebook conventions the staging relies on (the sources in ``book/`` are never modified):

* the cell tagged ``parameters`` stays visible; papermill's cell tagged ``injected-parameters`` is removed;
* imports and setup cells are tagged ``hide-input`` by their authors; in addition the first code cell and
  the code cell right after ``parameters`` are folded when they carry no tag at all;
* the first ``image/png`` output of a notebook is its thumbnail on the chapter page.
"""
from __future__ import annotations

import base64
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
EXT = ROOT / "_ext"
KINDS = ("paper", "erratum", "implementation", "extension", "unregistered")
VERDICTS = ("reproduced", "partly", "not reproduced", "not assessed")
OVERVIEW_MARK = "<!-- generated overview: ci/site.py -->"
HIDE = "hide-input"


# ---------------------------------------------------------------- notebooks
def clean_notebook(nb) -> nbformat.NotebookNode:
    """Drop papermill's injected-parameters cell and fold the setup cells (in place; returns ``nb``).

    Folded by rule when the cell has no tags: the first code cell (imports) and the code cell right after
    the ``parameters`` cell (context and configs). Cells tagged by their authors are left as they are.
    """
    nb.cells = [c for c in nb.cells if "injected-parameters" not in c.get("metadata", {}).get("tags", [])]
    code = [i for i, c in enumerate(nb.cells) if c.cell_type == "code"]
    fold = set(code[:1])
    for j, i in enumerate(code):
        if "parameters" in nb.cells[i].metadata.get("tags", []) and j + 1 < len(code):
            fold.add(code[j + 1])
    for i in fold:
        meta = nb.cells[i].metadata
        if not meta.get("tags"):
            meta["tags"] = [HIDE]
    return nb


_GLUE = re.compile(r"\{glue(?::[a-z]+)?\}`[^`]*`")
NOT_RUN = "*(computed when the notebook runs)*"


def unglue_unexecuted(nb) -> nbformat.NotebookNode:
    """In a notebook that was not executed (a partial build), replace glue roles by a placeholder.

    Pasted numbers exist only in an executed notebook; without this, a ``--chapter`` build would fail on the
    other chapters' glue references. An executed notebook is left as it is.
    """
    if any(c.get("outputs") for c in nb.cells if c.cell_type == "code"):
        return nb
    for c in nb.cells:
        if c.cell_type == "markdown":
            c.source = _GLUE.sub(NOT_RUN, c.source)
    return nb


def first_png(nb) -> bytes | None:
    """Return the first ``image/png`` output of an executed notebook, or None."""
    for cell in nb.cells:
        for out in cell.get("outputs", []) or []:
            data = (out.get("data") or {}).get("image/png")
            if data:
                if isinstance(data, list):
                    data = "".join(data)
                return base64.b64decode(data)
    return None


def notebook_title(nb, default: str) -> str:
    """Return the text of the notebook's first Markdown heading (without the leading #s), or ``default``."""
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            for line in cell.source.splitlines():
                m = re.match(r"^#{1,6}\s+(.*\S)", line)
                if m:
                    return m.group(1)
    return default


# ---------------------------------------------------------------- chapter overviews
def claim_summary(claims: list[dict]) -> dict[str, dict[str, int]]:
    """Count claims by kind × verdict; a claim without a known kind counts as ``unregistered``.

    A verdict such as ``not assessed (diverged: …)`` counts as ``not assessed``.
    """
    table = {k: {v: 0 for v in VERDICTS} for k in KINDS}
    for c in claims:
        kind = c.get("kind") if c.get("kind") in KINDS else "unregistered"
        verdict = next((v for v in VERDICTS if str(c.get("verdict", "")).startswith(v)), "not assessed")
        table[kind][verdict] += 1
    return table


def _summary_markdown(claims: list[dict]) -> list[str]:
    table = claim_summary(claims)
    lines = ["| kind | " + " | ".join(VERDICTS) + " | all |", "|---|" + "---:|" * (len(VERDICTS) + 1)]
    for kind in KINDS:
        row = table[kind]
        if sum(row.values()) == 0:
            continue
        lines.append(f"| {kind} | " + " | ".join(str(row[v]) for v in VERDICTS) + f" | {sum(row.values())} |")
    total = {v: sum(table[k][v] for k in KINDS) for v in VERDICTS}
    lines.append("| **all** | " + " | ".join(f"**{total[v]}**" for v in VERDICTS)
                 + f" | **{sum(total.values())}** |")
    return lines


def _verdict_line(claims: list[dict]) -> str:
    if not claims:
        return "no claims checked"
    counts = claim_summary(claims)
    parts = []
    for v in VERDICTS:
        n = sum(counts[k][v] for k in KINDS)
        if n:
            parts.append(f"{n} {v}")
    word = "claim" if len(claims) == 1 else "claims"
    return f"{len(claims)} {word}: " + ", ".join(parts)


def chapter_overview(chapter_dir: Path, notebooks: list[Path], claims: list[dict], profile: str | None) -> str:
    """Return the Markdown overview of a staged chapter; write its thumbnails to ``chapter_dir/_overview``.

    ``notebooks`` are the staged notebooks of the chapter (executed where the run executed them),
    ``claims`` the chapter's entries of ``reproduction.json``.
    """
    thumbs = chapter_dir / "_overview"
    cards = []
    for path in notebooks:
        nb = nbformat.read(str(path), as_version=4)
        rel = path.relative_to(chapter_dir).with_suffix("").as_posix()
        title = notebook_title(nb, path.stem)
        png = first_png(nb)
        img = ""
        if png is not None:
            thumbs.mkdir(exist_ok=True)
            (thumbs / f"{path.stem}.png").write_bytes(png)
            img = f":img-top: _overview/{path.stem}.png\n:img-alt: first figure of {path.stem}\n"
        mine = [c for c in claims if Path(c.get("notebook", "")).stem == path.stem]
        cards.append(f":::{{grid-item-card}} {title}\n:link: {rel}\n:link-type: doc\n{img}\n"
                     f"{_verdict_line(mine)}\n:::")
    where = f" at the `{profile}` profile" if profile else ""
    out = [
        "", OVERVIEW_MARK, "", "## Overview of the notebooks", "",
        "Generated by the build from the executed notebooks: each notebook with its first figure and "
        f"the verdicts of its claims{where}.", "",
        "::::{grid} 1 2 2 3", ":gutter: 2", "", *cards, "::::", "",
        "## Claims by kind and verdict", "",
        f"Counted from the reproduction report{where}; every claim is listed with its numbers on the "
        "{doc}`report page </book/report>`.", "",
    ]
    out += _summary_markdown(claims) if claims else ["No claim of this chapter was checked in this build."]
    return "\n".join(out) + "\n"


def _chapter_of(folder: str) -> str:
    return folder.split("_", 1)[0]


def prepare_stage(dest: Path, report: dict) -> None:
    """Finish the stage ``dest`` (already holding the sources and executed notebooks) for the site build."""
    if EXT.is_dir():
        if (dest / "_ext").exists():
            shutil.rmtree(dest / "_ext")
        shutil.copytree(EXT, dest / "_ext", ignore=shutil.ignore_patterns("__pycache__"))
    book = dest / "book"
    for path in sorted(book.rglob("*.ipynb")):
        nb = nbformat.read(str(path), as_version=4)
        nbformat.write(unglue_unexecuted(clean_notebook(nb)), str(path))
    for index in sorted(book.glob("*/index.md")):
        chapter = _chapter_of(index.parent.name)
        notebooks = sorted(index.parent.glob("[0-9][0-9]_*.ipynb"))
        claims = [c for c in report.get("claims", []) if c.get("chapter") == chapter]
        text = index.read_text()
        if OVERVIEW_MARK not in text:
            text = text.rstrip("\n") + "\n" + chapter_overview(index.parent, notebooks, claims,
                                                               report.get("profile"))
            index.write_text(text)


# ---------------------------------------------------------------- browser and PDF
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run",
                  "--disable-dev-shm-usage"]
INSTALL_HINT = ("needs Debian's Chromium and playwright's Python package: `apt-get update && apt-get install "
                "-y chromium` and `.venv/bin/pip install playwright` (no `playwright install`: the book uses "
                "the system browser; set NBS_CHROMIUM=/path/to/chrome for another one)")


def find_chromium() -> str | None:
    """Return the path of a Chromium/Chrome executable (``$NBS_CHROMIUM`` first), or None."""
    env = os.environ.get("NBS_CHROMIUM")
    if env:
        return env if Path(env).is_file() else None
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        found = shutil.which(name)
        if found:
            return found
    return None


def browser_missing() -> str | None:
    """Return why the headless browser cannot run here (with how to install it), or None when it can."""
    if find_chromium() is None:
        return "no Chromium found; " + INSTALL_HINT
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "playwright is not installed; " + INSTALL_HINT
    return None


def launch(playwright):
    """Launch the system Chromium headless through playwright."""
    return playwright.chromium.launch(executable_path=find_chromium(), headless=True,
                                      args=[f for f in CHROMIUM_FLAGS if f != "--headless"])


def wait_for_math(page, timeout_ms: int = 60_000) -> None:
    """Wait until MathJax (if the page loads it) has finished its first typesetting pass."""
    page.wait_for_function(
        "() => !document.querySelector('script[src*=\"mathjax\"]') || "
        "(window.MathJax && MathJax.startup && MathJax.startup.promise)", timeout=timeout_ms)
    page.evaluate("() => window.MathJax && MathJax.startup && MathJax.startup.promise.then(() => true)")


def build_pdf(stage_dir: Path, out_pdf: Path, work: Path) -> int:
    """Build ``stage_dir`` as one HTML page and print it to ``out_pdf``; return 0 on success."""
    why = browser_missing()
    if why:
        print(f"error: the PDF {why}", file=sys.stderr)
        return 2
    cmd = [str(Path(sys.executable).with_name("jupyter-book")), "build", str(stage_dir), "--builder",
           "singlehtml", "--path-output", str(work), "--keep-going", "--all"]
    print("$ jupyter-book build --builder singlehtml", stage_dir, flush=True)
    rc = subprocess.run(cmd, cwd=ROOT).returncode
    index = work / "_build" / "singlehtml" / "index.html"
    redirect = re.search(r'http-equiv="refresh" content="\d+;\s*url=([^"]+)"',
                         index.read_text() if index.is_file() else "", re.I)
    if redirect:
        # Jupyter Book writes index.html as a redirect to the root document (book/intro.html), whose
        # links are relative to the site's root: put the single page there.
        page = index.parent / redirect.group(1).split("#")[0]
        if page.is_file():
            shutil.copy2(page, index)
    if not index.is_file() or redirect and index.stat().st_size < 1000:
        print(f"error: the single-page build failed (exit {rc})", file=sys.stderr)
        return rc or 1
    from playwright.sync_api import sync_playwright

    out_pdf.parent.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = launch(p)
        page = browser.new_page()
        page.goto(index.as_uri(), wait_until="load", timeout=120_000)
        wait_for_math(page, timeout_ms=300_000)
        page.emulate_media(media="print")
        page.pdf(path=str(out_pdf), format="A4", print_background=True,
                 margin={"top": "15mm", "bottom": "15mm", "left": "12mm", "right": "12mm"})
        browser.close()
    print(f"\npdf: {out_pdf}")
    return 0
