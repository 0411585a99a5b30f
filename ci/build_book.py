"""Build the book: execute the notebooks (papermill, via ``ci.runner``), generate the reproduction report,
and render HTML with Jupyter Book 1, warnings treated as errors.

    python -m ci.build_book                       # every notebook at cpu, then _build/html
    python -m ci.build_book --profile paper       # the paper's sizes (on a GPU)
    python -m ci.build_book --chapter 001         # execute one chapter; the others render unexecuted
    python -m ci.build_book --no-execute          # render what the last run left in _build/
    python -m ci.build_book --pdf                 # also _build/pdf/book.pdf (needs Chromium, see README)
    python -m ci.build_book --profile smoke --out /tmp/b   # everything under /tmp/b instead of _build

The sources are never modified: executed notebooks are staged with the Markdown pages in
``_build/stage`` and the report page there is written from ``_build/reproduction.json``. The timings the
notebooks published (speed measurements, explorer redraws) and the figures whose texts overlapped go to
``_build/bench.json``; each chapter's overview shows its table of them. The command exits
non-zero when a notebook failed, a claim's verdict differs from its expected verdict, or Sphinx warned.
"""
from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
from pathlib import Path

from ci import runner, site
from ci.report import CHAPTER_TITLES, VERDICT_STYLE, report_markdown  # noqa: F401

ROOT = runner.ROOT
BUILD = ROOT / "_build"
# The report page lives in ci/report.py; these names stay importable from here.
def stage(report: dict, executed: Path, dest: Path) -> None:
    """Copy the book's sources into ``dest``, with executed notebooks in place of the sources."""
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    for name in ("_config.yml", "_toc.yml", "references.bib"):
        shutil.copy2(ROOT / name, dest / name)
    shutil.copytree(ROOT / "book", dest / "book", ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__"))
    shutil.copytree(ROOT / "_static", dest / "_static")
    for n in report["notebooks"]:
        src = executed / n["path"]
        if src.is_file():
            shutil.copy2(src, dest / n["path"])
    bench = site.collect_bench(report, executed)  # timings and figure checks of the executed notebooks
    runner.atomic_write_text(dest.parent / "bench.json", json.dumps(bench, indent=1) + "\n")
    gpu = site.load_gpu_bench(site.GPU_BENCH)
    runner.atomic_write_text(dest / "book" / "report.md",
                             report_markdown(report, figures=bench["figure_checks"], bench=bench, gpu=gpu))
    site.prepare_stage(dest, report, bench)  # offline MathJax extension, cleaned notebooks, chapter overviews


def build_html(stage_dir: Path, out: Path, site: Path = BUILD / "site") -> int:
    """Run ``jupyter-book build`` on ``stage_dir`` with warnings as errors; copy the HTML to ``out``."""
    cmd = [str(Path(sys.executable).with_name("jupyter-book")), "build", str(stage_dir), "--path-output", str(site),
           "--warningiserror", "--keep-going", "--all"]
    print("$ jupyter-book build", stage_dir, flush=True)
    rc = subprocess.run(cmd, cwd=ROOT).returncode
    html = site / "_build" / "html"
    if html.is_dir():
        if out.exists():
            shutil.rmtree(out)
        shutil.copytree(html, out)
    return rc


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m ci.build_book", description=__doc__.split("\n\n")[0])
    ap.add_argument("--profile", default="cpu", help="smoke | cpu | paper (gpu)")
    ap.add_argument("--device", default="auto", help="auto | cpu | cuda")
    ap.add_argument("--chapter", help="execute only this chapter's notebooks")
    ap.add_argument("--jobs", type=int, help="notebooks executed in parallel")
    ap.add_argument("--no-execute", action="store_true", help="reuse _build/reproduction.json and _build/executed")
    ap.add_argument("--no-check-verdicts", action="store_true",
                    help="do not fail on unexpected verdicts (e.g. at --profile paper, where the expected verdicts "
                         "stated for cpu may legitimately change); they are still marked in the report")
    ap.add_argument("--out", default=str(BUILD), help="build folder (default _build)")
    ap.add_argument("--pdf", action="store_true", help="also print the whole book to <out>/pdf/book.pdf")
    a = ap.parse_args(argv)
    build = Path(a.out).resolve()
    if a.no_execute:
        try:  # one complete run: reproduction.json and every executed notebook carry the same run id
            report = runner.load_report(build)
        except runner.StaleBuildError as exc:
            print(f"error: --no-execute refused: {exc}", file=sys.stderr)
            return 2
    else:
        try:
            runner._profiles.check_profile(a.profile)
            runner.device_description(a.device)
        except ValueError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        paths = runner.toc_notebooks(ROOT, a.chapter)
        try:
            report = runner.run(paths, profile=a.profile, device=a.device, jobs=a.jobs, out=build)
        except runner.Interrupted as exc:
            return 128 + exc.signum
    problems = runner.summarize(report)
    if a.no_check_verdicts:
        problems = sum(n["status"] != "ok" for n in report["notebooks"])  # failed or diverged
    stage(report, build / "executed", build / "stage")
    rc = build_html(build / "stage", build / "html", build / "site")
    if a.pdf:
        rc = site.build_pdf(build / "stage", build / "pdf" / "book.pdf", build / "site-pdf") or rc
    index = build / "html" / "index.html"
    if rc == 0 and index.is_file():
        print(f"\nbook: {index}")
    else:
        print(f"\nerror: jupyter-book build failed (exit {rc})", file=sys.stderr)
    return 1 if (rc != 0 or problems) else 0


if __name__ == "__main__":
    sys.exit(main())
