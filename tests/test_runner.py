"""The papermill runner, the claims it collects, and the generated report."""
import json
from pathlib import Path

import pytest

from ci import build_book, runner

ROOT = Path(__file__).resolve().parents[1]
PRIMER = ROOT / "book" / "intro" / "kernels_primer.ipynb"


def test_toc_lists_the_primer_and_chapter_pages():
    docs = [p.relative_to(ROOT).as_posix() for p in runner.toc_documents(ROOT)]
    assert docs[0] == "book/intro.md" and "book/intro/kernels_primer.ipynb" in docs and docs[-1] == "book/report.md"
    assert runner.chapter_of(PRIMER) == "intro"
    assert all(runner.chapter_of(p) == "001" for p in runner.toc_notebooks(ROOT, "001"))


@pytest.mark.notebook
def test_bad_parameter_fails_at_validation_naming_it(tmp_path):
    r = runner.execute_notebook(PRIMER, profile="smoke", out_root=tmp_path, params={"width": -4}, threads=1)
    assert r["status"] == "error"
    assert "width" in r["error"] and "positive integer" in r["error"] and "-4" in r["error"]


@pytest.mark.notebook
def test_unknown_profile_fails_listing_profiles(tmp_path):
    r = runner.execute_notebook(PRIMER, profile="huge", out_root=tmp_path, threads=1)
    assert r["status"] == "error" and "smoke, cpu, paper" in r["error"]


def test_cli_rejects_cuda_without_gpu_and_bad_profile(capsys):
    import torch

    if not torch.cuda.is_available():
        assert runner.main(["--device", "cuda", str(PRIMER)]) == 2
        assert "no CUDA GPU" in capsys.readouterr().err
    assert runner.main(["--profile", "huge", str(PRIMER)]) == 2


def _report():
    return {"profile": "cpu", "device": "cpu", "git_commit": "abc",
            "notebooks": [{"path": "book/intro/kernels_primer.ipynb", "chapter": "intro", "status": "ok",
                           "seconds": 1.0, "error": ""}],
            "claims": [{"id": "intro.a.b", "chapter": "intro", "notebook": "book/intro/kernels_primer.ipynb",
                        "paper_ref": "Thm 1", "paper_says": "a | b", "measured": "c", "values": {},
                        "verdict": "partly", "expected_verdict": "reproduced", "needs": "smoke"},
                       {"id": "intro.a.c", "chapter": "intro", "notebook": "book/intro/kernels_primer.ipynb",
                        "paper_ref": "Thm 2", "paper_says": "x", "measured": "y", "values": {},
                        "verdict": "not assessed", "expected_verdict": "reproduced", "needs": "cpu"}]}


def test_mismatches_and_report_markdown():
    rep = _report()
    bad = runner.mismatches(rep)
    # partly ≠ reproduced; "not assessed" at cpu for a claim that needs cpu is also a mismatch
    assert [c["id"] for c in bad] == ["intro.a.b", "intro.a.c"]
    rep["profile"] = "smoke"
    assert [c["id"] for c in runner.mismatches(rep)] == ["intro.a.b"]
    md = build_book.report_markdown(rep)
    assert "a \\| b" in md and "#ffe0b2" in md and "✘ expected: reproduced" in md and "kernels_primer" in md


@pytest.mark.notebook
def test_run_writes_reproduction_json(tmp_path):
    rep = runner.run([PRIMER], profile="smoke", out=tmp_path, jobs=1)
    saved = json.loads((tmp_path / "reproduction.json").read_text())
    assert saved["profile"] == "smoke" and saved["notebooks"][0]["status"] == "ok"
    assert {"profile", "device", "git_commit", "notebooks", "claims"} <= set(saved)
    ids = {c["id"] for c in saved["claims"]}
    assert {"intro.ntk.width_rate", "intro.ck.width_rate", "intro.ntk.autograd"} <= ids
    assert all(c["notebook"] == "book/intro/kernels_primer.ipynb" for c in saved["claims"])
    assert (tmp_path / "executed" / "book" / "intro" / "kernels_primer.ipynb").is_file()
    assert not runner.mismatches(rep)
