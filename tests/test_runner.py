"""The papermill runner, the claims it collects, and the generated report.

Most tests run tiny notebooks written to a temporary ``book/`` folder (a kernel start each, no heavy work):
unknown parameters, the NaN-metric path, determinism whatever ``--jobs``, the execution cache, the kill
test and the stale-build refusal of ``ci.build_book --no-execute``.
"""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest

from ci import build_book, report, runner

ROOT = Path(__file__).resolve().parents[1]
PRIMER = ROOT / "book" / "intro" / "kernels_primer.ipynb"
PARAMS = ('profile = "smoke"  # smoke | cpu | paper\ndevice = "auto"  # auto | cpu | cuda\n'
          'seed = 0  # integer, at least 0')


def write_nb(path: Path, *cells, params: str = PARAMS) -> Path:
    """Write a notebook: a title, a ``parameters`` cell, then ``cells`` (code unless they start with '#md ')."""
    nb = nbformat.v4.new_notebook()
    p = nbformat.v4.new_code_cell(params)
    p.metadata["tags"] = ["parameters"]
    nb.cells = [nbformat.v4.new_markdown_cell("# A tiny notebook"), p]
    for c in cells:
        nb.cells.append(nbformat.v4.new_markdown_cell(c[4:]) if c.startswith("#md ") else nbformat.v4.new_code_cell(c))
    nb.metadata["kernelspec"] = {"name": "python3", "language": "python", "display_name": "Python 3"}
    nb.metadata["language_info"] = {"name": "python"}
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, str(path))
    return path


# ---------------------------------------------------------------- table of contents and parameters
def test_toc_lists_the_primer_and_chapter_pages():
    docs = [p.relative_to(ROOT).as_posix() for p in runner.toc_documents(ROOT)]
    assert docs[0] == "book/intro.md" and "book/intro/kernels_primer.ipynb" in docs and "book/report.md" in docs and docs[-1] == "book/gpu_runs.md"
    assert runner.chapter_of(PRIMER) == "intro"
    assert all(runner.chapter_of(p) == "001" for p in runner.toc_notebooks(ROOT, "001"))


def test_parameters_cell_is_parsed_not_run(tmp_path):
    nb = write_nb(tmp_path / "book" / "tt" / "01_a.ipynb",
                  params=PARAMS + '\nwidth = 64  # at least 1\nwidths = [2, 4]\nf = 1e-3 * 2\nimport os')
    got = runner.notebook_parameters(nb)
    assert got == {"profile": "smoke", "device": "auto", "seed": 0, "width": 64, "widths": [2, 4], "f": "1e-3 * 2"}
    assert runner.check_parameters(nb, {"width": 8}, tmp_path)["width"] == 8
    with pytest.raises(ValueError, match=r"unknown parameter 'widht' \(did you mean 'width'\?\) for book/tt/01_a.ipynb;"
                                         r" its parameters are: profile, device, seed, width, widths, f"):
        runner.check_parameters(nb, {"widht": 4096}, tmp_path)


def test_cli_refuses_unknown_parameter_before_any_kernel(capsys, tmp_path):
    t0 = time.time()
    assert runner.main(["--profile", "smoke", "--out", str(tmp_path), "-p", "widht", "4096", str(PRIMER)]) == 2
    err = capsys.readouterr().err
    assert "unknown parameter 'widht'" in err and "did you mean 'width'" in err and "kernels_primer" in err
    assert not (tmp_path / "reproduction.json").exists() and time.time() - t0 < 60


def test_cli_rejects_cuda_without_gpu_bad_profile_and_device(capsys):
    import torch

    if not torch.cuda.is_available():
        assert runner.main(["--device", "cuda", str(PRIMER)]) == 2
        assert "no CUDA GPU" in capsys.readouterr().err
    assert runner.main(["--profile", "huge", str(PRIMER)]) == 2
    assert "profile must be one of smoke, cpu, paper" in capsys.readouterr().err
    assert runner.main(["--device", "tpu", str(PRIMER)]) == 2
    assert "device must be one of" in capsys.readouterr().err
    assert runner.main(["-p", "profile", '"cpu"', str(PRIMER)]) == 2
    assert "--profile" in capsys.readouterr().err


# ---------------------------------------------------------------- the report
def _claim(cid, verdict="reproduced", expected="reproduced", kind="paper", nb="book/intro/kernels_primer.ipynb",
           **kw):
    c = {"id": cid, "chapter": cid.split(".")[0], "notebook": nb, "paper_ref": "Thm 1", "paper_says": "a | b",
         "measured": "ratio = 2", "values": {}, "verdict": verdict, "expected_verdict": expected, "needs": "smoke",
         "kind": kind, "criterion": "ratio ≥ 1", "source": "the paper's words", "reason": "", "diverged": False,
         "data": None, "why": "", "from_failed": False}
    c.update(kw)
    return c


def _report():
    nbs = [{"path": "book/intro/kernels_primer.ipynb", "chapter": "intro", "status": "ok", "seconds": 1.0,
            "error": "", "device": "cpu", "device_source": "context"},
           {"path": "book/000_x/01_a.ipynb", "chapter": "000", "status": "error", "seconds": 2.0,
            "error": "cell 3 [x]: ValueError: width must be", "device": "cpu", "device_source": "requested"},
           {"path": "book/000_x/02_b.ipynb", "chapter": "000", "status": "diverged", "seconds": 2.0, "error": "",
            "device": "cpu", "device_source": "context", "cached": True, "cached_from": "r0"}]
    claims = [_claim("intro.a.b", "partly"),
              _claim("intro.a.c", "not assessed", needs="cpu", reason="needs the cpu profile (this run: smoke)"),
              _claim("intro.a.d", kind="implementation", data="digits stand-in"),
              _claim("intro.a.e", "not reproduced", "not reproduced", kind="erratum", why="the constant is 2"),
              _claim("000.f.g", nb="book/000_x/01_a.ipynb", from_failed=True),
              _claim("000.h.i", "not assessed", nb="book/000_x/02_b.ipynb", diverged=True,
                     reason="diverged: ratio = nan")]
    return {"profile": "cpu", "device": "cpu", "git_commit": "abc", "run_id": "r1", "status": "complete",
            "versions": {"python": "3.11", "torch": "2", "numpy": "2"}, "threads": 1, "notebooks": nbs,
            "claims": claims}


def test_mismatches_leave_failed_notebooks_apart_and_count_divergence():
    rep = _report()
    # partly ≠ reproduced; "not assessed" at cpu for a claim that needs cpu; a diverged claim. Not 000.f.g.
    assert [c["id"] for c in runner.mismatches(rep)] == ["intro.a.b", "intro.a.c", "000.h.i"]
    rep["profile"] = "smoke"
    assert [c["id"] for c in runner.mismatches(rep)] == ["intro.a.b", "000.h.i"]


def test_report_markdown_counts_kinds_and_sets_failed_claims_apart():
    md = report.report_markdown(_report(), built="now")
    assert build_book.report_markdown is report.report_markdown
    assert "a \\| b" in md and "#ffe0b2" in md and "✘ expected: reproduced" in md and "kernels_primer" in md
    rows = [line for line in md.splitlines() if line.startswith("| primer |") or line.startswith("| 000 |")]
    # primer: paper claims (b, c) apart from implementation 1 + erratum 1
    assert rows[0] == "| primer | paper | 2 | 0 | 1 | 0 | 1 | 0 | 2 | 0 |"
    assert rows[1] == "| primer | other (implementation 1, erratum 1) | 2 | 1 | 0 | 1 | 0 | 0 | 0 | 0 |"
    # chapter 000 has a failed notebook: never "0 unexpected", its claim counted apart; one diverged claim
    assert rows[2].startswith("| 000 | paper | 1 | 0 | 0 | 0 | 0 | 1 | ≥ 1 (not known: 1 failed notebook) | 1 |")
    assert "### From a failed notebook" in md and "**from a failed notebook**" in md
    assert "ratio ≥ 1<br>*source:* the paper's words" in md and "*data:* digits stand-in" in md
    assert "*diverged: ratio = nan*" in md and "1 notebook(s) diverged" in md and "1 notebook(s) failed" in md
    assert "why: the constant is 2" in md and "needs the cpu profile" in md
    rep = _report()
    for c in rep["claims"]:
        c["kind"] = "unregistered" if c["chapter"] == "intro" else c["kind"]
    assert "| primer | other (unregistered 4) | 4 |" in report.report_markdown(rep)
    assert "(from the cache, run `r0`)" in md and "cpu (requested)" in md and "Run:** `r1` (complete)" in md


def test_summary_never_says_zero_unexpected_when_a_notebook_failed(capsys):
    rep = _report()
    rep["claims"] = [c for c in rep["claims"] if not c["id"].startswith("intro")]
    n = runner.summarize(rep)
    out = capsys.readouterr().out
    assert "0 with an unexpected" not in out and "not known (1 notebook(s) failed" in out
    assert "1 claims from failed notebooks counted apart" in out and "DIVERGED book/000_x/02_b.ipynb" in out
    assert n == 3  # one failed, one diverged, one diverged claim


# ---------------------------------------------------------------- cache keys and the stale-build check
def test_cache_key_ignores_prose_and_follows_code_parameters_and_library(tmp_path):
    nb = write_nb(tmp_path / "book" / "tt" / "01_a.ipynb", "x = 1", "#md some prose")
    kw = dict(profile="smoke", device="cpu", lib_hash="L", threads=1)
    k0 = runner.cache_key(nb, {"seed": 0}, **kw)
    nbk = nbformat.read(str(nb), 4)
    nbk.cells[3].source = "other prose"
    nbformat.write(nbk, str(nb))
    assert runner.cache_key(nb, {"seed": 0}, **kw) == k0
    assert runner.cache_key(nb, {"seed": 1}, **kw) != k0
    assert runner.cache_key(nb, {"seed": 0}, **{**kw, "profile": "cpu"}) != k0
    assert runner.cache_key(nb, {"seed": 0}, **{**kw, "device": "auto"}) != k0
    assert runner.cache_key(nb, {"seed": 0}, **{**kw, "lib_hash": "M"}) != k0
    assert runner.cache_key(nb, {"seed": 0}, **kw, default_device="meta") != k0
    nbk.cells[2].source = "x = 2"
    nbformat.write(nbk, str(nb))
    assert runner.cache_key(nb, {"seed": 0}, **kw) != k0


def test_library_hash_changes_with_any_source_file(tmp_path):
    lib = tmp_path / "lib"
    (lib / "sub").mkdir(parents=True)
    (lib / "a.py").write_text("x = 1")
    (lib / "sub" / "claims.yaml").write_text("a: 1")
    h = runner.library_hash(lib)
    (lib / "__pycache__").mkdir()
    (lib / "__pycache__" / "a.cpython-311.pyc").write_bytes(b"junk")
    assert runner.library_hash(lib) == h
    (lib / "sub" / "claims.yaml").write_text("a: 2")
    assert runner.library_hash(lib) != h
    assert runner.library_hash() == runner.library_hash(runner.LIB_DIR) and runner.LIB_DIR.name == "nbs_lib"


def _fake_run(out: Path, rid="r1", nb_rid="r1", status="complete"):
    path = "book/tt/01_a.ipynb"
    runner.atomic_write_text(out / "reproduction.json", json.dumps(
        {"run_id": rid, "status": status, "profile": "smoke", "device": "cpu", "git_commit": "x",
         "notebooks": [{"path": path, "chapter": "tt", "status": "ok", "seconds": 1.0, "error": ""}], "claims": []}))
    nb = nbformat.v4.new_notebook()
    nb.metadata[runner.META_KEY] = {"run_id": nb_rid}
    runner.atomic_write_text(out / "executed" / path, nbformat.writes(nb))


def test_stale_build_is_refused(tmp_path, monkeypatch, capsys):
    _fake_run(tmp_path)
    assert runner.load_report(tmp_path)["run_id"] == "r1"
    _fake_run(tmp_path, nb_rid="r0")
    with pytest.raises(runner.StaleBuildError, match=r"do not come from run r1.*01_a.ipynb \(from run r0\)"):
        runner.load_report(tmp_path)
    _fake_run(tmp_path, status="interrupted")
    with pytest.raises(runner.StaleBuildError, match="'interrupted', not complete"):
        runner.load_report(tmp_path)
    (tmp_path / "executed" / "book" / "tt" / "01_a.ipynb").unlink()
    _fake_run(tmp_path)
    (tmp_path / "executed" / "book" / "tt" / "01_a.ipynb").unlink()
    with pytest.raises(runner.StaleBuildError, match="no executed copy"):
        runner.load_report(tmp_path)
    # ci.build_book --no-execute refuses before rendering anything
    _fake_run(tmp_path, nb_rid="r0")
    monkeypatch.setattr(build_book, "BUILD", tmp_path)
    monkeypatch.setattr(build_book, "build_html", lambda *a: pytest.fail("must not render a stale build"))
    assert build_book.main(["--no-execute"]) == 2
    assert "--no-execute refused" in capsys.readouterr().err
    (tmp_path / "reproduction.json").unlink()
    assert build_book.main(["--no-execute"]) == 2 and "is missing" in capsys.readouterr().err


def test_atomic_write_leaves_no_temporary_file(tmp_path):
    runner.atomic_write_text(tmp_path / "a" / "r.json", "{}")
    runner.atomic_write_text(tmp_path / "a" / "r.json", "[1]")
    assert [p.name for p in (tmp_path / "a").iterdir()] == ["r.json"]
    assert (tmp_path / "a" / "r.json").read_text() == "[1]"


# ---------------------------------------------------------------- tiny notebooks through the runner
REGISTRY = """
zz.t.nan:
  kind: paper
  ref: "Thm 0"
  says: "The ratio is at least one."
  metrics: {ratio: "a ratio"}
  checks: [{metric: ratio, op: ">=", value: 1}]
  source: "a test"
  expected: reproduced
zz.t.fine:
  kind: implementation
  ref: "Eq. 1"
  says: "An identity."
  metrics: {err: "an error"}
  checks: [{metric: err, op: "<=", value: 1.0e-12}]
  source: "a test"
  expected: reproduced
"""


@pytest.mark.notebook
def test_nan_metric_diverges_and_a_failed_notebook_claims_are_set_apart(tmp_path, capsys):
    (tmp_path / "claims.yaml").write_text(REGISTRY)
    nb = write_nb(tmp_path / "book" / "zz" / "01_nan.ipynb",
                  "import nbs_lib as nl\nfrom nbs_lib import registry\n"
                  f"registry.FILES['zz'] = {str(tmp_path / 'claims.yaml')!r}\nregistry.load.cache_clear()\n"
                  "ctx = nl.run_context(profile, device, seed)",
                  "registry.check('zz.t.fine', profile=ctx.profile, err=0.0)\n"
                  "registry.check('zz.t.nan', profile=ctx.profile, data='synthetic', ratio=float('nan'))")
    failing = write_nb(tmp_path / "book" / "zz" / "02_fail.ipynb",
                       "import nbs_lib as nl\nfrom nbs_lib import registry\n"
                       f"registry.FILES['zz'] = {str(tmp_path / 'claims.yaml')!r}\nregistry.load.cache_clear()\n"
                       "ctx = nl.run_context(profile, device, seed)",
                       "registry.check('zz.t.fine', profile=ctx.profile, err=0.0)",
                       "raise RuntimeError('boom after one claim')",
                       "registry.check('zz.t.nan', profile=ctx.profile, ratio=2.0)")
    out = tmp_path / "out"
    rc = runner.main(["--profile", "smoke", "--device", "cpu", "--jobs", "2", "--out", str(out), str(nb), str(failing)])
    text = capsys.readouterr().out
    assert rc == 1 and "DIVERGED book/zz/01_nan.ipynb: non-finite metrics in zz.t.nan" in text
    assert "FAILED book/zz/02_fail.ipynb" in text and "boom after one claim" in text
    assert "0 with an unexpected" not in text and "1 claims from failed notebooks counted apart" in text
    rep = json.loads((out / "reproduction.json").read_text())
    assert [c["id"] for c in rep["claims"] if c["from_failed"]] == ["zz.t.fine"]
    assert rep["notebooks"][1]["status"] == "error" and rep["notebooks"][1]["error_line"].startswith("RuntimeError")
    n = rep["notebooks"][0]
    assert rep["status"] == "complete" and n["status"] == "diverged"
    assert n["device"] == "cpu" and n["device_source"] == "context" and n["seed"] == 0 and n["threads"] == 1
    assert n["parameters"] == {"profile": "smoke", "device": "cpu", "seed": 0} and n["profile"] == "smoke"
    assert set(n["versions"]) == {"python", "torch", "numpy"} and n["run_id"] == rep["run_id"]
    by_id = {c["id"]: c for c in rep["claims"] if c["notebook"] == "book/zz/01_nan.ipynb"}
    assert by_id["zz.t.nan"]["diverged"] and by_id["zz.t.nan"]["verdict"] == "not assessed"
    assert by_id["zz.t.nan"]["reason"].startswith("diverged") and by_id["zz.t.nan"]["data"] == "synthetic"
    assert by_id["zz.t.fine"]["verdict"] == "reproduced" and by_id["zz.t.fine"]["kind"] == "implementation"
    md = report.report_markdown(rep)
    assert "1 notebook(s) diverged" in md and "diverged: ratio = nan" in md and "### From a failed notebook" in md
    # the run is complete and consistent: --no-execute would accept it
    assert runner.load_report(out)["run_id"] == rep["run_id"]
    executed = nbformat.read(str(out / "executed" / "book" / "zz" / "01_nan.ipynb"), 4)
    assert executed.metadata[runner.META_KEY]["run_id"] == rep["run_id"]


DETERMINISM = ("import nbs_lib as nl, torch\nctx = nl.run_context(profile, device, seed)\n"
               "x = ctx.randn(400, 400, keys=('x',), dtype=torch.float32)\n"
               "v = (x @ x.T).sum(dim=1).cumsum(0)[-1]\n"
               "print('VALUE', float(v).hex(), 'THREADS', torch.get_num_threads())")


def _printed(path: Path) -> str:
    nb = nbformat.read(str(path), 4)
    return "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
                   if o.get("output_type") == "stream")


@pytest.mark.notebook
def test_same_seed_same_numbers_whatever_jobs(tmp_path):
    a = write_nb(tmp_path / "book" / "tt" / "01_a.ipynb", DETERMINISM)
    b = write_nb(tmp_path / "book" / "tt" / "02_b.ipynb", DETERMINISM.replace("('x',)", "('y',)"))
    r2 = runner.run([a, b], profile="smoke", device="cpu", jobs=2, out=tmp_path / "j2", root=tmp_path, cache=False)
    r1 = runner.run([a], profile="smoke", device="cpu", jobs=1, out=tmp_path / "j1", root=tmp_path, cache=False)
    assert r1["threads"] == r2["threads"] == 1
    one = _printed(tmp_path / "j1" / "executed" / "book" / "tt" / "01_a.ipynb")
    two = _printed(tmp_path / "j2" / "executed" / "book" / "tt" / "01_a.ipynb")
    assert "VALUE" in one and "THREADS 1" in one and one == two
    assert one != _printed(tmp_path / "j2" / "executed" / "book" / "tt" / "02_b.ipynb")


@pytest.mark.notebook
def test_cache_reuses_an_unchanged_notebook_and_takes_new_prose(tmp_path, capsys):
    nb = write_nb(tmp_path / "book" / "tt" / "01_a.ipynb", "import random\nprint('DRAW', random.random())",
                  "#md old prose")
    out = tmp_path / "out"
    first = runner.run([nb], profile="smoke", device="cpu", jobs=1, out=out, root=tmp_path)
    assert not first["notebooks"][0]["cached"]
    src = nbformat.read(str(nb), 4)
    src.cells[3].source = "new prose"
    nbformat.write(src, str(nb))
    t0 = time.time()
    second = runner.run([nb], profile="smoke", device="cpu", jobs=1, out=out, root=tmp_path)
    assert time.time() - t0 < 30
    n = second["notebooks"][0]
    assert n["cached"] and n["cached_from"] == first["run_id"] and n["run_id"] == second["run_id"]
    executed = nbformat.read(str(out / "executed" / "book" / "tt" / "01_a.ipynb"), 4)
    assert executed.cells[-1].source == "new prose" and executed.metadata[runner.META_KEY]["run_id"] == second["run_id"]
    assert _printed(out / "executed" / "book" / "tt" / "01_a.ipynb").startswith("DRAW")
    assert "from the cache" in report.report_markdown(second)
    assert runner.load_report(out)["run_id"] == second["run_id"]
    drawn = _printed(out / "executed" / "book" / "tt" / "01_a.ipynb")
    third = runner.run([nb], profile="smoke", device="cpu", jobs=1, out=out, root=tmp_path, cache=False)
    assert not third["notebooks"][0]["cached"]  # --no-cache executes again: a new unseeded draw
    assert _printed(out / "executed" / "book" / "tt" / "01_a.ipynb") != drawn


@pytest.mark.notebook
def test_default_device_meta_catches_a_tensor_without_device(tmp_path):
    nb = write_nb(tmp_path / "book" / "tt" / "01_a.ipynb",
                  "import torch\nassert torch.zeros(2).device.type == 'meta'\n"
                  "x = torch.zeros(2, device=device)\nprint('SUM', float(x.sum()))",
                  "print(float(torch.ones(3).sum()))")
    r = runner.execute_notebook(nb, profile="smoke", device="cpu", out_root=tmp_path / "o", root=tmp_path,
                                threads=1, default_device="meta")
    assert r["status"] == "error" and "meta" in r["error"] and "[print(float(torch.ones(3)" in r["error"]
    assert "SUM 0.0" in _printed(tmp_path / "o" / "book" / "tt" / "01_a.ipynb")


def _kernels(pid):
    import psutil

    try:
        kids = psutil.Process(pid).children(recursive=True)
    except psutil.Error:
        return []
    out = []
    for k in kids:
        try:
            if "ipykernel" in " ".join(k.cmdline()):
                out.append(k)
        except psutil.Error:
            pass
    return out


@pytest.mark.notebook
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_signal_ends_every_worker_and_kernel_and_marks_the_run_interrupted(tmp_path, sig):
    import psutil

    sleeper = "import time\nfor _ in range(1200):\n    time.sleep(0.1)"
    nbs = [write_nb(tmp_path / "book" / "tt" / f"0{i}_s.ipynb", sleeper) for i in (1, 2)]
    out = tmp_path / "out"
    proc = subprocess.Popen([sys.executable, "-m", "ci.runner", "--profile", "smoke", "--device", "cpu", "--jobs", "2",
                             "--out", str(out), *map(str, nbs)], cwd=ROOT, start_new_session=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    started = []
    try:
        deadline = time.time() + 150
        while len(_kernels(proc.pid)) < 2 and time.time() < deadline and proc.poll() is None:
            time.sleep(0.5)
        assert len(_kernels(proc.pid)) == 2, "the two kernels never started"
        time.sleep(1.0)
        started = psutil.Process(proc.pid).children(recursive=True)
        assert json.loads((out / "reproduction.json").read_text())["status"] == "running"
        os.kill(proc.pid, sig)
        rc = proc.wait(timeout=60)
        assert rc == 128 + sig, proc.stdout.read()
        _, alive = psutil.wait_procs(started, timeout=5)
        assert not [p for p in alive if p.status() != psutil.STATUS_ZOMBIE], f"orphans: {alive}"
        rep = json.loads((out / "reproduction.json").read_text())
        assert rep["status"] == "interrupted" and {n["status"] for n in rep["notebooks"]} == {"interrupted"}
        assert not list((out / "executed").rglob("*.ipynb"))  # nothing that looks complete, no temporary files
        with pytest.raises(runner.StaleBuildError, match="interrupted"):
            runner.load_report(out)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        for k in _kernels(proc.pid) + started:  # never leave a process behind, even when the test fails
            try:
                k.kill()
            except psutil.Error:
                pass


# ---------------------------------------------------------------- the primer through the runner
@pytest.mark.notebook
def test_run_writes_reproduction_json(tmp_path):
    rep = runner.run([PRIMER], profile="smoke", out=tmp_path, jobs=1)
    saved = json.loads((tmp_path / "reproduction.json").read_text())
    assert saved["profile"] == "smoke" and saved["notebooks"][0]["status"] == "ok"
    assert {"profile", "device", "git_commit", "notebooks", "claims", "run_id", "status", "versions"} <= set(saved)
    assert saved["status"] == "complete" and saved["notebooks"][0]["parameters"]["profile"] == "smoke"
    ids = {c["id"] for c in saved["claims"]}
    assert len(ids) >= 3 and all(c["id"].startswith("intro.") for c in saved["claims"])
    assert all(c["notebook"] == "book/intro/kernels_primer.ipynb" for c in saved["claims"])
    assert (tmp_path / "executed" / "book" / "intro" / "kernels_primer.ipynb").is_file()
    assert not runner.mismatches(rep)
