"""Every notebook of _toc.yml runs at the smoke profile, and every claim lands on its expected verdict
(or is 'not assessed' where the measurement needs a larger profile)."""
from pathlib import Path

import pytest

from ci import runner

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = runner.toc_notebooks(ROOT)


@pytest.mark.notebook
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.relative_to(ROOT / "book").as_posix() for p in NOTEBOOKS])
def test_notebook_smoke(path, tmp_path):
    r = runner.execute_notebook(path, profile="smoke", out_root=tmp_path, threads=1)
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
