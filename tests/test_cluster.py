"""Notebooks as Dask tasks (ci/cluster.py) on a 2-process LocalCluster: same results as the local runner,
a worker killed mid-notebook is retried once elsewhere, a GPU request on a CPU-only cluster fails fast."""
import json
from pathlib import Path

import nbformat
import pytest

distributed = pytest.importorskip("distributed")

from ci import cluster, runner  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]

pytestmark = [pytest.mark.xdist_group("cluster"), pytest.mark.cluster]


def _nb(path: Path, cells: list[str]) -> Path:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(c) for c in cells]
    nb.cells[0].metadata["tags"] = ["parameters"]
    nb.metadata["kernelspec"] = {"name": "python3", "language": "python", "display_name": "Python 3"}
    nb.metadata["language_info"] = {"name": "python"}
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, str(path))
    return path


@pytest.fixture(scope="module")
def client():
    from distributed import Client
    import dask

    dask.config.set({"distributed.scheduler.allowed-failures": 1})
    lc = cluster.local_cluster(2)
    c = Client(lc)
    yield c
    c.close()
    lc.close()


def test_parse_address():
    assert cluster.parse_address("local:3") == ("local", 3)
    assert cluster.parse_address("tcp://10.0.0.1:8786") == ("remote", "tcp://10.0.0.1:8786")
    for bad in ("local:0", "local:x", "host:8786", ""):
        with pytest.raises(cluster.ClusterError, match="--cluster"):
            cluster.parse_address(bad)


def test_worker_killed_mid_notebook_is_retried_once(client, tmp_path):
    root = tmp_path / "repo"
    p = _nb(root / "book" / "intro" / "die.ipynb", [
        'profile = "smoke"\ndevice = "cpu"',
        "import os, time\nif os.environ.get('NBS_TASK_ATTEMPT') == '1':\n    os.kill(os.getppid(), 9)\n"
        "    time.sleep(30)\nprint('second attempt ran')",
    ])
    (r,) = cluster.run_on_cluster([p], spec="local:2", profile="smoke", device="cpu", out_root=tmp_path / "out",
                                  root=root, client=client, timeout=120)
    assert r["status"] == "ok", r["error"]
    assert r["attempts"] == 2 and "retried" in r["note"]


def test_cell_error_is_not_retried(client, tmp_path):
    root = tmp_path / "repo"
    p = _nb(root / "book" / "intro" / "fail.ipynb", ['profile = "smoke"\ndevice = "cpu"', "1 / 0"])
    (r,) = cluster.run_on_cluster([p], spec="local:2", profile="smoke", device="cpu", out_root=tmp_path / "out",
                                  root=root, client=client)
    assert r["status"] == "error" and "ZeroDivisionError" in r["error"] and r["attempts"] == 1


def test_gpu_request_on_cpu_cluster_fails_fast(client, tmp_path):
    with pytest.raises(cluster.ClusterError, match="GPU=1"):
        cluster.run_on_cluster([ROOT / "book" / "intro" / "kernels_primer.ipynb"], spec="local:2", profile="smoke",
                               device="cuda", out_root=tmp_path, root=ROOT, client=client)


def test_runner_cli_on_a_local_cluster_equals_local_runner(tmp_path, tmp_path_factory):
    """``ci.runner --cluster local:2`` runs the primer as a task: the same claim values as the local runner's
    run of the same notebook at smoke (shared with test_notebooks.py), the executed copy written locally."""
    import subprocess
    import sys

    from test_notebooks import smoke_run

    primer = ROOT / "book" / "intro" / "kernels_primer.ipynb"
    out = subprocess.run([sys.executable, "-m", "ci.runner", "--cluster", "local:2", "--profile", "smoke",
                          "--out", str(tmp_path), str(primer)], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
    rep = json.loads((tmp_path / "reproduction.json").read_text())
    assert rep["status"] == "complete" and rep["notebooks"][0]["status"] == "ok" and len(rep["claims"]) == 4
    assert (tmp_path / "executed" / rep["notebooks"][0]["path"]).is_file()
    local = smoke_run(primer, tmp_path_factory, meta=True)
    assert local["status"] == "ok", local["error"]
    va = {c["id"]: c["values"] for c in local["claims"]}
    vb = {c["id"]: c["values"] for c in rep["claims"]}
    assert va == vb and va, "same seeds must give the same values on the cluster"
    bad = subprocess.run([sys.executable, "-m", "ci.runner", "--cluster", "nowhere", "--profile", "smoke",
                          str(primer)], cwd=ROOT, capture_output=True, text=True)
    assert bad.returncode == 2 and "--cluster must be" in bad.stderr


SWEEP_CELL = """import os
from nbs_lib import sweep
from nbs_lib.context import run_context
ctx = run_context(profile, device, 0, announce=False)
def f(item, ctx):
    import os
    return item * 2, os.getpid()
out = sweep.map(f, range(4), ctx)
assert sweep.where().startswith("tcp://"), sweep.where()
assert [v for v, _ in out] == [0, 2, 4, 6] and all(p != os.getpid() for _, p in out), out
"""


def test_notebooks_sweeping_on_their_own_cluster_do_not_deadlock(client, tmp_path):
    """Two notebooks hold both workers and each sends a sweep to the same cluster: the notebook tasks secede."""
    root = tmp_path / "repo"
    paths = [_nb(root / "book" / "intro" / f"sweep{i}.ipynb", ['profile = "smoke"\ndevice = "cpu"', SWEEP_CELL])
             for i in range(2)]
    rs = cluster.run_on_cluster(paths, spec="local:2", profile="smoke", device="cpu", out_root=tmp_path / "out",
                                root=root, client=client, timeout=90)
    assert [r["status"] for r in rs] == ["ok", "ok"], [r["error"] for r in rs]
    assert len({r["worker"] for r in rs}) == 2, "one notebook per worker (the NOTEBOOK resource)"


def test_exclusive_notebooks_run_after_the_others_one_at_a_time(client, tmp_path):
    from test_core_exclusive import intervals, timing_notebooks

    root, pool, alone, log = timing_notebooks(tmp_path, n_pool=1, n_alone=2)
    tasks = [dict(path=p, root=root, out_root=tmp_path / "out", profile="smoke", device="cpu", timeout=60,
                  threads=1, run_id="t") for p in pool + alone]
    p_tasks, a_tasks = runner.split_exclusive(tasks, [runner._rel(p, root) for p in alone])
    got = []
    cluster.execute_tasks(p_tasks, spec="local:2", client=client, exclusive=a_tasks,
                          on_result=lambda t, r: got.append(r["status"]))
    assert got == ["ok"] * 3
    intervals(log, [p.stem for p in alone])
