"""Bad-input harness: every case of ``tests/bad_inputs_*.yaml`` goes through the runner at the smoke profile.

A case is ``{notebook, params, error}``. It must make the runner fail (non-zero exit), its first error line must
match the regex ``error``, and no claim may have been recorded before the failure (validation happens in the
setup cell, before any work). All selected cases run once per session, in parallel, in one runner call
(:func:`ci.runner.run_cases`), whichever xdist worker asks first; a case whose notebook does not exist (yet) is
skipped.
"""
import re
from pathlib import Path

import pytest
import yaml

from ci import runner
from test_notebooks import once_per_session

ROOT = Path(__file__).resolve().parents[1]
FILES = sorted((ROOT / "tests").glob("bad_inputs_*.yaml"))


def _cases():
    out = []
    for f in FILES:
        for i, case in enumerate(yaml.safe_load(f.read_text()) or []):
            ok = isinstance(case, dict)
            params = ",".join(f"{k}={v}" for k, v in (case.get("params") or {}).items()) if ok else ""
            nb = Path(str(case.get("notebook", "?"))).stem if isinstance(case, dict) else "?"
            out.append(pytest.param((f.name, i, case), id=f"{f.stem.removeprefix('bad_inputs_')}-{i}-{nb}-{params}"))
    return out


CASES = _cases()


def _key(case):
    return f"{case[0]}:{case[1]}"


def test_case_files_are_well_formed():
    assert FILES, "no tests/bad_inputs_*.yaml"
    for p in CASES:
        name, i, case = p.values[0]
        where = f"{name} case {i}"
        assert isinstance(case, dict) and set(case) == {"notebook", "params", "error"}, f"{where}: {case!r}"
        assert isinstance(case["params"], dict) and case["params"], f"{where}: params must be a non-empty mapping"
        assert str(case["notebook"]).startswith("book/") and case["notebook"].endswith(".ipynb"), where
        re.compile(case["error"])


@pytest.fixture(scope="module")
def results(request, tmp_path_factory):
    """Run every selected case whose notebook exists, all at once; return {case key: result}."""
    selected = [item.callspec.params["case"] for item in request.session.items
                if getattr(item, "originalname", "") == "test_bad_input" and hasattr(item, "callspec")]
    todo = [c for c in selected if isinstance(c[2], dict) and (ROOT / str(c[2].get("notebook"))).is_file()]
    if not todo:
        return {}
    def run(out):  # once per session, whichever xdist worker asks first (the others read its results)
        res = runner.run_cases([(ROOT / c[2]["notebook"], c[2]["params"]) for c in todo], profile="smoke",
                               device="cpu", out=out, jobs=2, timeout=300)
        return {_key(c): r for c, r in zip(todo, res)}

    return once_per_session(tmp_path_factory, "bad_inputs|" + "|".join(sorted(_key(c) for c in todo)), run)


@pytest.mark.notebook
@pytest.mark.xdist_group("bad_inputs")
@pytest.mark.parametrize("case", CASES)
def test_bad_input(case, results):
    name, i, c = case
    if not (ROOT / str(c["notebook"])).is_file():
        pytest.skip(f"{c['notebook']} does not exist")
    r = results[_key(case)]
    assert r["exit"] != 0 and r["status"] == "error", f"{c['notebook']} {c['params']} did not fail: {r['status']}"
    assert re.search(c["error"], r["error_line"]), (
        f"{c['notebook']} {c['params']}: first error line {r['error_line']!r} does not match {c['error']!r}")
    assert not r["claims"], (f"{c['notebook']} {c['params']} recorded claims before failing: "
                             f"{[x['id'] for x in r['claims']]}")
