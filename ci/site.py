"""The rendered site: staging transforms, generated chapter overviews and the PDF of the book.

Called from ``ci/build_book.py`` (a few hooks):

* :func:`prepare_stage` runs after the sources and executed notebooks are copied into the stage. It copies
  the local Sphinx extension (``_ext/``: offline MathJax), cleans every staged notebook (:func:`clean_notebook`)
  and appends a generated overview to each chapter's ``index.md`` (:func:`chapter_overview`).
* :func:`collect_bench` gathers the timing payloads of the executed notebooks (``nbs_lib.bench.publish``
  and ``nbs_lib.explorer.explore``) into ``bench.json``; :func:`bench_markdown` is each chapter's table of
  them, placed in the chapter overview (GPU columns read "not measured" unless a GPU run's
  ``bench.json`` is committed as ``book/gpu_bench.json``: ``python -m ci.site bench --build DIR --out FILE``).
* :func:`build_pdf` renders the staged book as one HTML page (Sphinx ``singlehtml``) and prints it to PDF
  in headless Chromium (playwright's Python API driving Debian's ``chromium``), after MathJax has typeset.

Notebook conventions the staging relies on (the sources in ``book/`` are never modified):

* the cell tagged ``parameters`` stays visible; papermill's cell tagged ``injected-parameters`` is removed;
* imports and setup cells are tagged ``hide-input`` by their authors; in addition the first code cell and
  the code cell right after ``parameters`` are folded when they carry no tag at all;
* the first ``image/png`` output of a notebook is its thumbnail on the chapter page.
"""
from __future__ import annotations

import argparse
import base64
import json
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
BENCH_MIME = "application/vnd.nbs-lib.bench+json"        # nbs_lib.bench.MIME
EXPLORER_MIME = "application/vnd.nbs-lib.explorer+json"  # nbs_lib.explorer.MIME
FIGURE_MIME = "application/vnd.nbs-lib.figure-check+json"  # nbs_lib.plotting.FIGURE_CHECK_MIME
#: the redraw budget of an explorer frame (issue 14): median and 95th percentile, seconds
REDRAW_BUDGET = {"p50_s": 1.0, "p95_s": 3.0}
#: seconds of frames all explorers of one chapter may add to the book build (the helpers' brief, at cpu)
CHAPTER_EXPLORERS_BUDGET_S = 30.0
GPU_BENCH = ROOT / "book" / "gpu_bench.json"
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


def chapter_overview(chapter_dir: Path, notebooks: list[Path], claims: list[dict], profile: str | None,
                     bench: dict | None = None, gpu: dict | None = None) -> str:
    """Return the Markdown overview of a staged chapter; write its thumbnails to ``chapter_dir/_overview``.

    ``notebooks`` are the staged notebooks of the chapter (executed where the run executed them),
    ``claims`` the chapter's entries of ``reproduction.json``; ``bench`` (from :func:`collect_bench`) adds
    the chapter's speed measurements and explorer redraw timings, ``gpu`` a GPU run's ``bench.json``.
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
    if bench is not None:
        out += [""] + bench_markdown(bench, _chapter_of(chapter_dir.name), gpu)
    return "\n".join(out) + "\n"


def _chapter_of(folder: str) -> str:
    return folder.split("_", 1)[0]


def prepare_stage(dest: Path, report: dict, bench: dict | None = None) -> dict:
    """Finish the stage ``dest`` (already holding the sources and executed notebooks) for the site build.

    Returns the run's timings (``bench``, or :func:`collect_bench` over the staged notebooks when None),
    which the chapter overviews show.
    """
    if bench is None:
        bench = collect_bench(report, dest)
    gpu = load_gpu_bench(dest / "book" / GPU_BENCH.name)
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
                                                               report.get("profile"), bench, gpu)
            index.write_text(text)
    return bench


# ---------------------------------------------------------------- timings and figure checks of a run
def mime_payloads(nb, mime: str, cells: bool = False) -> list:
    """Return every output payload of MIME type ``mime`` in an executed notebook, in order
    (``cells=True``: ``(cell index, payload)`` pairs)."""
    found = []
    for i, cell in enumerate(nb.get("cells", [])):
        for out in cell.get("outputs", []) or []:
            data = out.get("data") or {}
            if mime in data:
                p = data[mime]
                p = json.loads(p) if isinstance(p, str) else dict(p)
                found.append((i, p) if cells else p)
    return found


def _bench_entry(p: dict) -> dict:
    rows = []
    for r in p.get("rows", []):
        q1, q3 = r.get("q1_s"), r.get("q3_s")
        rows.append({"variant": r.get("variant"), "median_s": r.get("median_s"), "q1_s": q1, "q3_s": q3,
                     "iqr_s": None if q1 is None or q3 is None else q3 - q1, "speedup": r.get("speedup"),
                     "speedup_range": r.get("speedup_range"), "predicted": r.get("predicted"),
                     "repeats": r.get("repeats"), "device": r.get("device"), "threads": r.get("threads"),
                     "peak_bytes": r.get("peak_bytes")})
    first = rows[0] if rows else {}
    return {"label": p.get("label", "?"), "baseline": p.get("baseline"), "dtype": p.get("dtype"),
            "sizes": p.get("sizes") or {}, "note": p.get("note", ""), "device": first.get("device"),
            "threads": first.get("threads"), "rows": rows}


def over_budget(p50: float | None, p95: float | None, budget: dict = REDRAW_BUDGET) -> list[str]:
    """Return why an explorer's redraw timings are over the budget (empty when within it)."""
    why = []
    if p50 is not None and p50 > budget["p50_s"]:
        why.append(f"p50 {p50:.2g} s > {budget['p50_s']:g} s")
    if p95 is not None and p95 > budget["p95_s"]:
        why.append(f"p95 {p95:.2g} s > {budget['p95_s']:g} s")
    return why


def _explorer_entry(p: dict) -> dict:
    p50, p95 = p.get("p50_s"), p.get("p95_s")
    return {"title": p.get("title") or "explorer", "frames": p.get("frames"), "p50_s": p50, "p95_s": p95,
            "max_s": p.get("max_s"), "total_s": p.get("total_s"), "bytes": p.get("bytes"),
            "grid": p.get("grid") or {}, "live_ends": p.get("live_ends") or {},
            "over_budget": over_budget(p50, p95)}


def collect_bench(report: dict, executed: Path) -> dict:
    """Return the run's timings and figure checks from the executed notebooks under ``executed``.

    ``benchmarks``: one entry per ``nbs_lib.bench.publish`` (label, baseline, dtype, sizes, per variant the
    median, quartiles and IQR, the speed-up over the baseline with its range and the predicted ratio, the
    speed claim's criterion, where given); ``explorers``: one per precomputed explorer (frames, seconds per
    frame p50/p95/max against :data:`REDRAW_BUDGET`, bytes); ``figure_checks``: figures whose texts
    overlapped when the notebook displayed them (``nbs_lib.plotting``). Each names its chapter and notebook;
    the header names the device, threads and torch version of the run.
    """
    vers = report.get("versions") or {}
    out = {"schema": 1, "profile": report.get("profile"), "device": report.get("device"),
           "threads": report.get("threads"), "torch": vers.get("torch"), "git_commit": report.get("git_commit"),
           "run_id": report.get("run_id"), "budget": dict(REDRAW_BUDGET), "benchmarks": [], "explorers": [],
           "figure_checks": []}
    for n in report.get("notebooks", []):
        path = Path(executed) / n["path"]
        if not path.is_file():
            continue
        nb = nbformat.read(str(path), as_version=4)
        where = {"chapter": n.get("chapter"), "notebook": n["path"]}
        out["benchmarks"] += [where | _bench_entry(p) for p in mime_payloads(nb, BENCH_MIME)]
        out["explorers"] += [where | _explorer_entry(p) for p in mime_payloads(nb, EXPLORER_MIME)]
        out["figure_checks"] += [where | {"cell": i} | p for i, p in mime_payloads(nb, FIGURE_MIME, cells=True)]
    return out


NBSP = "\u00a0"  # keeps a number and its unit on one line of a table cell


def _secs(s) -> str:
    if s is None:
        return "–"
    if s < 1e-3:
        return f"{s * 1e6:.3g}{NBSP}µs"
    return f"{s * 1e3:.3g}{NBSP}ms" if s < 1 else f"{s:.3g}{NBSP}s"


def _is_gpu(device) -> bool:
    return str(device or "").startswith("cuda")


def _timing_cell(row: dict | None) -> str:
    if row is None:
        return "not measured"
    text = f"{_secs(row['median_s'])} (IQR {_secs(row['iqr_s'])})"
    if row.get("speedup") is not None:
        lo, hi = row.get("speedup_range") or (None, None)
        text += f"; {row['speedup']:.3g}×" + (f" ({lo:.3g}–{hi:.3g})" if lo is not None else "")
    return text


def _nb_link(path: str) -> str:
    return f"{{doc}}`{Path(path).stem} </{Path(path).with_suffix('').as_posix()}>`"


def bench_markdown(bench: dict, chapter: str, gpu: dict | None = None, heading: str = "##") -> list[str]:
    """Return the Markdown of a chapter's speed measurements and explorer redraw timings.

    Speed: one row per (notebook, measurement, variant); the CPU and GPU columns show the median (IQR) and
    the speed-up over the measurement's baseline with its conservative range; a GPU column says "not
    measured" unless this run or ``gpu`` (a GPU run's ``bench.json``) has that row on a CUDA device.
    """
    entries = [e for e in bench.get("benchmarks", []) if e.get("chapter") == chapter]
    entries += [e for e in (gpu or {}).get("benchmarks", []) if e.get("chapter") == chapter]
    table: dict[tuple, dict] = {}
    for e in entries:
        for r in e["rows"]:
            key = (e["notebook"], e["label"], r["variant"])
            slot = table.setdefault(key, {"entry": e, "cpu": None, "gpu": None, "predicted": None})
            slot["gpu" if _is_gpu(r.get("device") or e.get("device")) else "cpu"] = r
            if r.get("predicted") is not None:
                slot["predicted"] = r["predicted"]
    lines = [f"{heading} Speed measurements", ""]
    if not table:
        lines.append("No notebook of this chapter published a speed measurement in this build.")
    else:
        heads = {(e.get("dtype"), e.get("threads")) for e in entries if not _is_gpu(e.get("device"))}
        torch = bench.get("torch") or (gpu or {}).get("torch")
        what = "; ".join(f"{d or '?'}, {t or '?'} thread(s)" for d, t in sorted(heads, key=str))
        lines += [f"Generated from the `nbs_lib.bench` payloads of the executed notebooks ({what or 'GPU only'}"
                  f"{', torch ' + torch if torch else ''}; median and inter-quartile range of interleaved repeats; "
                  "the speed-up's range is conservative, from the quartiles). *Predicted* is the ratio a flop or "
                  "byte count gives: the speed claim's criterion where one is stated.", "",
                  "| notebook | measurement | variant | CPU | GPU | predicted |", "|---|---|---|---|---|---:|"]
        for (nb, label, variant), slot in table.items():
            e = slot["entry"]
            sizes = ", ".join(f"{k}={v}" for k, v in (e.get("sizes") or {}).items())
            meas = label + (f" ({sizes})" if sizes else "") + (f", vs {e['baseline']}" if e.get("baseline") else "")
            pred = "–" if slot["predicted"] is None else f"{slot['predicted']:.3g}×"
            lines.append(f"| {_nb_link(nb)} | {meas} | {variant} | {_timing_cell(slot['cpu'])} | "
                         f"{_timing_cell(slot['gpu'])} | {pred} |")
    lines += ["", f"{heading} Explorer redraw timings", ""]
    exps = [e for e in bench.get("explorers", []) if e.get("chapter") == chapter]
    if not exps:
        lines.append("No explorer of this chapter was precomputed in this build.")
        return lines
    b = bench.get("budget") or REDRAW_BUDGET
    lines += [f"Seconds per precomputed frame (every slider value, both ends included) at the build's profile, "
              f"against the budget p50 ≤ {b['p50_s']:g} s, p95 ≤ {b['p95_s']:g} s.", "",
              "| notebook | explorer | frames | p50 | p95 | max | size | budget |",
              "|---|---|---:|---:|---:|---:|---:|---|"]
    for e in exps:
        flag = "within" if not e["over_budget"] else "**over**: " + "; ".join(e["over_budget"])
        size = "–" if e.get("bytes") is None else f"{e['bytes'] / 1e6:.2f}{NBSP}MB"
        lines.append(f"| {_nb_link(e['notebook'])} | {e['title']} | {e['frames']} | {_secs(e['p50_s'])} | "
                     f"{_secs(e['p95_s'])} | {_secs(e['max_s'])} | {size} | {flag} |")
    totals = [e["total_s"] for e in exps if e.get("total_s") is not None]
    if totals:
        total = sum(totals)
        over = total > CHAPTER_EXPLORERS_BUDGET_S
        lines += ["", f"All frames of this chapter's explorers took {_secs(total)} of the build "
                      f"({'**over**' if over else 'within'} the {CHAPTER_EXPLORERS_BUDGET_S:g} s budget of a "
                      "chapter at `cpu`)."]
    return lines


def load_gpu_bench(path: Path) -> dict | None:
    """Return a GPU run's ``bench.json`` (committed as ``book/gpu_bench.json``), or None when absent."""
    return json.loads(path.read_text()) if path.is_file() else None


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


def main(argv=None) -> int:
    """``python -m ci.site bench --build DIR [--out FILE]``: write a run's ``bench.json`` (e.g. a GPU run's,
    to commit as ``book/gpu_bench.json``, which the chapter tables then show in their GPU column)."""
    ap = argparse.ArgumentParser(prog="python -m ci.site", description=main.__doc__.split(":", 1)[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("bench", help="collect the timings of a run folder (reproduction.json + executed/)")
    b.add_argument("--build", required=True, help="the run's folder (runner --out)")
    b.add_argument("--out", help="the JSON to write (default BUILD/bench.json)")
    a = ap.parse_args(argv)
    build = Path(a.build)
    report = json.loads((build / "reproduction.json").read_text())
    bench = collect_bench(report, build / "executed")
    out = Path(a.out) if a.out else build / "bench.json"
    out.write_text(json.dumps(bench, indent=1) + "\n")
    print(f"{out}: {len(bench['benchmarks'])} speed measurement(s), {len(bench['explorers'])} explorer(s), "
          f"{len(bench['figure_checks'])} figure(s) with overlapping texts")
    return 0


if __name__ == "__main__":
    sys.exit(main())
