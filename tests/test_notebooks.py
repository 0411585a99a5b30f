"""Every notebook of _toc.yml runs at the smoke profile, and every claim lands on its expected verdict
(or is 'not assessed' where the measurement needs a larger profile).

Each notebook is executed once per test session, shared by this file, ``test_meta_device.py`` and the
cluster test (:func:`smoke_run`): on a machine without CUDA the one run is the strictest one, ``device="cpu"``
with torch's default device ``"meta"`` (a notebook that passes there computes the same numbers as without
it: every tensor has an explicit device), except for the notebooks of ``tests/meta_pending.txt``, which run
without it. On a CUDA machine this file runs the notebooks with ``device="auto"`` (on the GPU) on its own.
"""
import contextlib
import fcntl
import hashlib
import json
import os
from pathlib import Path

import pytest
import torch

from ci import runner

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = runner.toc_notebooks(ROOT)
PENDING_FILE = ROOT / "tests" / "meta_pending.txt"


def pending() -> set[str]:
    """Return the notebooks listed in ``tests/meta_pending.txt`` (not yet runnable with the meta device)."""
    lines = PENDING_FILE.read_text().splitlines() if PENDING_FILE.is_file() else []
    return {s.strip() for s in lines if s.strip() and not s.lstrip().startswith("#")}


def rel(path: Path) -> str:
    return Path(path).relative_to(ROOT).as_posix()


def group(path: Path):
    """The xdist group of a notebook's smoke tests: they run on one worker, after one execution."""
    return pytest.mark.xdist_group(f"smoke:{rel(path)}")


@contextlib.contextmanager
def _locked(path: Path):
    with open(path, "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def once_per_session(factory, name: str, compute):
    """Return ``compute(folder)`` (JSON-able), computed once per test session and shared by every xdist worker
    (a file cache under the session's temporary root, guarded by a lock; ``xdist_group`` alone does not
    guarantee one worker: it is ignored with pytest 9)."""
    base = factory.getbasetemp()
    shared = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base
    cache = shared / "once-per-session"
    cache.mkdir(parents=True, exist_ok=True)
    key = hashlib.sha256(name.encode()).hexdigest()[:16]
    with _locked(cache / f"{key}.lock"):
        done = cache / f"{key}.json"
        if done.is_file():
            return json.loads(done.read_text())
        value = compute(cache / key)
        done.write_text(json.dumps(value, default=str))
        return value


def smoke_run(path: Path, factory, *, device: str = "cpu", meta: bool = True) -> dict:
    """Return ``runner.execute_notebook(path, profile="smoke", device=device, threads=1, default_device=...)``,
    executed once per test session (:func:`once_per_session`) and shared by the tests that need that run."""
    return once_per_session(factory, f"smoke|{rel(path)}|{device}|{meta}", lambda folder: runner.execute_notebook(
        path, profile="smoke", device=device, out_root=folder, threads=1, default_device="meta" if meta else None))


@pytest.mark.notebook
@pytest.mark.parametrize("path", [pytest.param(p, marks=group(p)) for p in NOTEBOOKS],
                         ids=[p.relative_to(ROOT / "book").as_posix() for p in NOTEBOOKS])
def test_notebook_smoke(path, tmp_path_factory):
    if torch.cuda.is_available():
        r = smoke_run(path, tmp_path_factory, device="auto", meta=False)
    else:
        r = smoke_run(path, tmp_path_factory, meta=rel(path) not in pending())
    assert r["status"] == "ok", f"{r['path']} failed: {r['error']}"
    from nbs_lib.claims import Claim

    wrong = []
    for c in r["claims"]:
        claim = Claim(id=c["id"], chapter=c["chapter"], paper_ref="", paper_says="", measured="",
                      verdict=c["verdict"], expected_verdict=c["expected_verdict"], profile="smoke",
                      needs=c.get("needs", "smoke"), diverged=bool(c.get("diverged")))
        if not claim.matches_expected():
            wrong.append(f"{c['id']}: got {c['verdict']!r}, expected {c['expected_verdict']!r} ({c['measured']})")
    assert not wrong, "\n".join(wrong)
