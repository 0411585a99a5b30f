"""Execute the book's notebooks with papermill and collect their claims into ``_build/reproduction.json``.

    python -m ci.runner                          # every notebook in _toc.yml at the cpu profile
    python -m ci.runner --profile smoke --chapter 000
    python -m ci.runner --profile paper --device cuda book/001_linear_feature_learning/02_two_stage.ipynb
    python -m ci.runner -p width 64 book/intro/kernels_primer.ipynb   # extra papermill parameters

Sources are never modified: executed copies go to ``_build/executed/<same path>``. A failing notebook is
reported with its path and the failing cell's error, the others still run, and the command exits
non-zero. With ``--check-verdicts`` (default) a claim whose verdict differs from its expected verdict
also makes the command exit non-zero.
"""
from __future__ import annotations

import argparse
import concurrent.futures as cf
import contextlib
import fnmatch
import json
import multiprocessing as mp
import os
import subprocess
import sys
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
BUILD = ROOT / "_build"
sys.path.insert(0, str(ROOT))

from nbs_lib import claims as _claims  # noqa: E402
from nbs_lib import profiles as _profiles  # noqa: E402


# ---------------------------------------------------------------- table of contents
def _docnames(root: Path) -> list[str]:
    names = []
    for p in sorted((root / "book").rglob("*")):
        if p.suffix in (".ipynb", ".md") and "_build" not in p.parts and ".ipynb_checkpoints" not in p.parts:
            names.append(p.relative_to(root).with_suffix("").as_posix())
    return names


def toc_documents(root: Path = ROOT) -> list[Path]:
    """Return every document listed in ``_toc.yml`` (``file:`` and ``glob:`` entries), in book order."""
    toc = yaml.safe_load((root / "_toc.yml").read_text())
    docs = _docnames(root)
    out: list[str] = []

    def add(entry):
        if isinstance(entry, dict):
            if "file" in entry:
                out.append(str(entry["file"]).removesuffix(".ipynb").removesuffix(".md"))
            if "glob" in entry:
                out.extend(d for d in docs if fnmatch.fnmatchcase(d, entry["glob"]) and d not in out)
            for key in ("parts", "chapters", "sections"):
                for e in entry.get(key, []) or []:
                    add(e)

    out.append(str(toc["root"]))
    add(toc)
    paths = []
    for d in out:
        for ext in (".ipynb", ".md"):
            if (root / (d + ext)).is_file():
                paths.append(root / (d + ext))
                break
        else:
            raise FileNotFoundError(f"_toc.yml lists {d!r} but neither {d}.ipynb nor {d}.md exists")
    return paths


def chapter_of(path: Path, root: Path = ROOT) -> str:
    """Return the chapter id of a notebook: ``000``…``004`` from its folder, else the folder name."""
    rel = path.resolve().relative_to(root)
    folder = rel.parts[1] if len(rel.parts) > 2 and rel.parts[0] == "book" else rel.parts[0]
    return folder.split("_", 1)[0]


def toc_notebooks(root: Path = ROOT, chapter: str | None = None) -> list[Path]:
    """Return the notebooks (``.ipynb``) of ``_toc.yml``, optionally only those of ``chapter``."""
    nbs = [p for p in toc_documents(root) if p.suffix == ".ipynb"]
    if chapter is not None:
        nbs = [p for p in nbs if chapter_of(p, root) == chapter or p.parent.name == chapter]
    return nbs


# ---------------------------------------------------------------- execution
def _error_of(nb) -> str:
    for i, cell in enumerate(nb.get("cells", [])):
        for out in cell.get("outputs", []) or []:
            if out.get("output_type") == "error":
                src = "".join(cell.get("source", "")).strip().splitlines()
                first = src[0][:60] if src else ""
                return f"cell {i} [{first}]: {out.get('ename')}: {out.get('evalue')}"
    return ""


@contextlib.contextmanager
def _kernel_env(changes: dict):
    """Set (value) or remove (None) environment variables while a kernel starts; restore them afterwards.

    The kernel inherits this process's environment: headless mode and thread caps go in, and a
    ``TRITON_INTERPRET`` left by a test module stays out (notebooks choose their backend themselves).
    """
    saved = {k: os.environ.get(k) for k in changes}
    try:
        for k, v in changes.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def execute_notebook(path, *, profile: str = "cpu", device: str = "auto", out_root=BUILD / "executed",
                     timeout: int = 1800, params: dict | None = None, threads: int | None = None,
                     root: Path = ROOT) -> dict:
    """Execute one notebook with papermill; return ``{"path", "chapter", "status", "seconds", "error", "claims"}``.

    The executed copy is written under ``out_root`` at the notebook's path relative to the repository.
    """
    import papermill as pm

    path = Path(path).resolve()
    rel = path.relative_to(root)
    out = Path(out_root) / rel
    out.parent.mkdir(parents=True, exist_ok=True)
    parameters = {"profile": profile, "device": device}
    parameters.update(params or {})
    env_threads = str(threads or max(1, (os.cpu_count() or 2)))
    t0 = time.time()
    status, error = "ok", ""
    with _kernel_env({"NBS_HEADLESS": "1", "NBS_THREADS": env_threads, "OMP_NUM_THREADS": env_threads,
                      "MKL_NUM_THREADS": env_threads, "PYDEVD_DISABLE_FILE_VALIDATION": "1",
                      "TRITON_INTERPRET": None}):
        try:
            pm.execute_notebook(str(path), str(out), parameters=parameters, cwd=str(path.parent),
                                kernel_name="python3", progress_bar=False, log_output=False,
                                execution_timeout=timeout, report_mode=False, request_save_on_cell_execute=False)
        except Exception as exc:  # papermill's execution error, timeouts, kernel deaths
            status = "error"
            error = f"{type(exc).__name__}: {str(exc).strip().splitlines()[-1] if str(exc).strip() else ''}"
    seconds = time.time() - t0
    found = []
    if out.is_file():
        import nbformat

        nb = nbformat.read(str(out), as_version=4)
        if status == "error":
            error = _error_of(nb) or error
        found = _claims.from_notebook(nb)
    elif status == "ok":
        status, error = "error", "papermill wrote no output notebook"
    for c in found:
        c["notebook"] = rel.as_posix()
    return {"path": rel.as_posix(), "chapter": chapter_of(path, root), "status": status,
            "seconds": round(seconds, 2), "error": error, "claims": found}


def _worker(args):
    path, kw = args
    return execute_notebook(path, **kw)


def device_description(device: str) -> str:
    """Return what ``device`` resolves to here, e.g. ``"cpu"`` or ``"cuda (NVIDIA H100 80GB HBM3)"``."""
    import torch

    from nbs_lib.device import resolve_device

    dev = resolve_device(device)
    if dev.type == "cuda":
        return f"cuda ({torch.cuda.get_device_name(dev)})"
    return "cpu"


def git_commit(root: Path = ROOT) -> str:
    """Return the current git commit (with ``-dirty`` when the tree has changes), or ``unknown``."""
    try:
        sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=root, capture_output=True,
                               text=True).stdout.strip()
        return sha + ("-dirty" if dirty else "")
    except Exception:
        return "unknown"


def run(paths, *, profile="cpu", device="auto", jobs=None, out=BUILD, timeout=1800, params=None, root=ROOT) -> dict:
    """Execute ``paths`` in parallel, write ``out/reproduction.json`` and return its content."""
    profile = _profiles.check_profile(profile)
    dev_desc = device_description(device)  # fails early, with a clear message, on device="cuda" without a GPU
    jobs = jobs or max(1, min(len(paths), (os.cpu_count() or 2)))
    if dev_desc.startswith("cuda"):
        jobs = 1  # one GPU: run notebooks one after another
    threads = max(1, (os.cpu_count() or 2) // jobs)
    kw = dict(profile=profile, device=device, out_root=Path(out) / "executed", timeout=timeout, params=params,
              threads=threads, root=root)
    results = []
    ctx = mp.get_context("spawn")
    with cf.ProcessPoolExecutor(max_workers=jobs, mp_context=ctx) as pool:
        futs = {pool.submit(_worker, (p, kw)): p for p in paths}
        for fut in cf.as_completed(futs):
            try:
                r = fut.result()
            except Exception as exc:
                p = Path(futs[fut]).resolve()
                r = {"path": p.relative_to(root).as_posix(), "chapter": chapter_of(p, root), "status": "error",
                     "seconds": 0.0, "error": f"runner: {exc}", "claims": []}
            flag = "ok " if r["status"] == "ok" else "ERR"
            print(f"[{flag}] {r['path']}  {r['seconds']:.1f}s" + (f"  {r['error']}" if r["error"] else ""), flush=True)
            results.append(r)
    order = {Path(p).resolve().relative_to(root).as_posix(): i for i, p in enumerate(paths)}
    results.sort(key=lambda r: order[r["path"]])
    report = {
        "profile": profile,
        "device": dev_desc,
        "git_commit": git_commit(root),
        "notebooks": [{k: r[k] for k in ("path", "chapter", "status", "seconds", "error")} for r in results],
        "claims": [
            {k: c.get(k) for k in ("id", "chapter", "notebook", "paper_ref", "paper_says", "measured", "values",
                                   "verdict", "expected_verdict", "kind", "criterion", "source", "reason",
                                   "diverged", "data", "why")} | {"needs": c.get("needs", "smoke")}
            for r in results for c in r["claims"]
        ],
    }
    Path(out).mkdir(parents=True, exist_ok=True)
    (Path(out) / "reproduction.json").write_text(json.dumps(report, indent=1, ensure_ascii=False))
    return report


def mismatches(report: dict) -> list[dict]:
    """Return the claims whose verdict is not the expected one at the report's profile."""
    bad = []
    for c in report["claims"]:
        claim = _claims.Claim(id=c["id"], chapter=c["chapter"], paper_ref="", paper_says="", measured="",
                              verdict=c["verdict"], expected_verdict=c["expected_verdict"], profile=report["profile"],
                              needs=c.get("needs", "smoke"), diverged=bool(c.get("diverged")))
        if not claim.matches_expected():
            bad.append(c)
    return bad


def summarize(report: dict) -> int:
    """Print failures and verdict mismatches; return the number of problems."""
    failed = [n for n in report["notebooks"] if n["status"] != "ok"]
    bad = mismatches(report)
    total = sum(n["seconds"] for n in report["notebooks"])
    print(f"\n{len(report['notebooks'])} notebooks at profile '{report['profile']}' on {report['device']}: "
          f"{len(failed)} failed; {len(report['claims'])} claims, {len(bad)} with an unexpected verdict; "
          f"{total:.0f} s of notebook time")
    for n in failed:
        print(f"  FAILED {n['path']}: {n['error']}")
    for c in bad:
        print(f"  VERDICT {c['id']} ({c['notebook']}): got '{c['verdict']}', expected '{c['expected_verdict']}'")
    return len(failed) + len(bad)


def _parse_value(text: str):
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m ci.runner", description=__doc__.split("\n\n")[0])
    ap.add_argument("paths", nargs="*", help="notebooks to run (default: every notebook in _toc.yml)")
    ap.add_argument("--profile", default="cpu", help="smoke | cpu | paper (gpu)")
    ap.add_argument("--device", default="auto", help="auto | cpu | cuda")
    ap.add_argument("--chapter", help="only this chapter's notebooks (e.g. 000, intro)")
    ap.add_argument("--jobs", type=int, help="notebooks run in parallel (default: one per core; 1 on a GPU)")
    ap.add_argument("--timeout", type=int, default=1800, help="seconds per cell")
    ap.add_argument("--out", default=str(BUILD), help="output folder (default _build)")
    ap.add_argument("-p", "--param", nargs=2, action="append", metavar=("NAME", "VALUE"), default=[],
                    help="extra papermill parameter (JSON value), e.g. -p width -4")
    ap.add_argument("--no-check-verdicts", action="store_true", help="do not fail on unexpected verdicts")
    a = ap.parse_args(argv)
    try:
        _profiles.check_profile(a.profile)
        device_description(a.device)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    paths = [Path(p).resolve() for p in a.paths] if a.paths else toc_notebooks(ROOT, a.chapter)
    for p in paths:
        if not p.is_file() or p.suffix != ".ipynb":
            print(f"error: notebook not found: {p}", file=sys.stderr)
            return 2
    if not paths:
        print("error: no notebooks selected", file=sys.stderr)
        return 2
    report = run(paths, profile=a.profile, device=a.device, jobs=a.jobs, out=Path(a.out), timeout=a.timeout,
                 params={k: _parse_value(v) for k, v in a.param})
    problems = summarize(report)
    failed = any(n["status"] != "ok" for n in report["notebooks"])
    return 1 if failed or (problems and not a.no_check_verdicts) else 0


if __name__ == "__main__":
    sys.exit(main())
