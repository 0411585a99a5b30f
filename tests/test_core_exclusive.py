"""ci/exclusive.txt: the notebooks that time something run after every other notebook, one at a time, with
nothing else running (issue 16). Tiny notebooks record when they start and end; the intervals must not
overlap where an exclusive notebook is involved."""
import json
from pathlib import Path

import nbformat

from ci import runner

ROOT = Path(__file__).resolve().parents[1]

CELL = """import json, os, time
t0 = time.time()
time.sleep(1.0)
with open(os.path.join({log!r}, {name!r} + ".json"), "w") as fh:
    json.dump([t0, time.time()], fh)
"""


def timing_notebooks(tmp_path: Path, n_pool: int, n_alone: int):
    """Return ``(root, pool, alone, log)``: notebooks under ``root/book/x/`` that log their own run times."""
    root, log = tmp_path / "repo", tmp_path / "log"
    log.mkdir()
    paths = []
    for name in [f"pool{i}" for i in range(n_pool)] + [f"alone{i}" for i in range(n_alone)]:
        nb = nbformat.v4.new_notebook()
        nb.cells = [nbformat.v4.new_code_cell('profile = "smoke"\ndevice = "cpu"'),
                    nbformat.v4.new_code_cell(CELL.format(log=str(log), name=name))]
        nb.cells[0].metadata["tags"] = ["parameters"]
        nb.metadata["kernelspec"] = {"name": "python3", "language": "python", "display_name": "Python 3"}
        p = root / "book" / "x" / f"{name}.ipynb"
        p.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, str(p))
        paths.append(p)
    return root, paths[:n_pool], paths[n_pool:], log


def intervals(log: Path, alone: list[str]) -> dict:
    """Assert that each notebook in ``alone`` ran after every other notebook began and ended, overlapping
    none; return the intervals."""
    iv = {p.stem: json.loads(p.read_text()) for p in log.glob("*.json")}
    others = [k for k in iv if k not in alone]
    assert set(alone) <= set(iv) and others
    for a in alone:
        s, e = iv[a]
        for k, (s2, e2) in iv.items():
            if k != a:
                assert e2 <= s or s2 >= e, f"{a} {iv[a]} overlaps {k} {iv[k]}"
        assert all(iv[k][1] <= s for k in others), f"{a} started before the pool ended: {iv}"
    return iv


def test_exclusive_file_lists_existing_notebooks_with_timings():
    names = runner.exclusive_notebooks()
    assert len(names) >= 5 and len(set(names)) == len(names)
    for n in names:
        p = ROOT / n
        assert p.is_file() and p.suffix == ".ipynb", n
    # every notebook that times a claim through nbs_lib.bench is listed
    for n in ("book/003_subquadratic_training/05_runtime.ipynb", "book/004_grelu_surrogate/06_flops_kernels.ipynb",
              "book/001_linear_feature_learning/07_benchmark.ipynb", "book/000_unbalanced_init/06_benchmarks.ipynb"):
        assert n in names


def test_split_keeps_the_order():
    tasks = [{"path": ROOT / f"book/x/{n}.ipynb", "root": ROOT} for n in "abcd"]
    pool, alone = runner.split_exclusive(tasks, ["book/x/d.ipynb", "book/x/b.ipynb"])
    assert [t["path"].stem for t in pool] == ["a", "c"] and [t["path"].stem for t in alone] == ["b", "d"]


def test_long_first_starts_the_listed_notebooks_first_and_keeps_the_rest_in_order(tmp_path):
    listed = runner.exclusive_notebooks(runner.LONG_FIRST_FILE)
    assert listed and all((ROOT / n).is_file() for n in listed)
    f = tmp_path / "long.txt"
    f.write_text("# longest first\nbook/x/d.ipynb\nbook/x/b.ipynb\n")
    tasks = [{"path": ROOT / f"book/x/{n}.ipynb", "root": ROOT} for n in "abcde"]
    assert [t["path"].stem for t in runner.long_first(tasks, f)] == ["d", "b", "a", "c", "e"]


def test_local_runner_runs_exclusive_notebooks_alone(tmp_path):
    root, pool, alone, log = timing_notebooks(tmp_path, n_pool=1, n_alone=2)
    paths = [alone[0], pool[0], alone[1]]  # listed first or not, they run last
    rep = runner.run(paths, profile="smoke", device="cpu", jobs=2, out=tmp_path / "out", root=root, cache=False,
                     exclusive=[runner._rel(p, root) for p in alone])
    assert [n["status"] for n in rep["notebooks"]] == ["ok"] * 3
    assert [n["path"] for n in rep["notebooks"]] == [runner._rel(p, root) for p in paths]  # report in given order
    intervals(log, [p.stem for p in alone])
