"""nbs_lib.sweep: the same numbers here and on a 2-worker Dask LocalCluster (items in order, randomness from
ctx.generator), a sweep called from inside Dask tasks that hold every worker, and a bad NBS_SWEEP_CLUSTER."""
import os

import pytest
import torch

distributed = pytest.importorskip("distributed")

from nbs_lib import sweep  # noqa: E402
from nbs_lib.context import run_context  # noqa: E402

pytestmark = [pytest.mark.xdist_group("cluster"), pytest.mark.cluster]


def _square(item, ctx):
    return {"item": item, "value": item * item + ctx.seed, "pid": os.getpid()}


def _draw(item, ctx):
    g = ctx.generator("sweep-test", item)
    return torch.randn(3, 4, generator=g, device=ctx.device, dtype=ctx.dtype) @ torch.randn(
        4, 2, generator=g, device=ctx.device, dtype=ctx.dtype)


def _outer(k, ctx):  # a Dask task that runs a sweep of its own (through worker_client)
    return sweep.map(_square, [10 * k + i for i in range(3)], ctx)


@pytest.fixture(scope="module")
def ctx():
    return run_context("smoke", "cpu", 3, threads=1, announce=False)


@pytest.fixture(scope="module")
def on_cluster():
    """Set NBS_SWEEP_CLUSTER=local:2 for the module; close the sweep's LocalCluster afterwards."""
    old = os.environ.get(sweep.ENV)
    os.environ[sweep.ENV] = "local:2"
    yield
    sweep.close()
    if old is None:
        os.environ.pop(sweep.ENV, None)
    else:
        os.environ[sweep.ENV] = old


def _local(fn, items, ctx, monkeypatch):
    monkeypatch.delenv(sweep.ENV, raising=False)
    assert sweep.where() == "local"
    return sweep.map(fn, items, ctx)


def test_toy_sweep_equals_local_result(on_cluster, ctx, monkeypatch):
    items = [5, 0, 3, 2, 4, 1]
    remote = sweep.map(_square, items, ctx)
    pids = {r.pop("pid") for r in remote}
    assert os.getpid() not in pids, "the items must have run on the cluster's workers"
    monkeypatch.setenv(sweep.ENV, "")
    local = sweep.map(_square, items, ctx)
    assert {r.pop("pid") for r in local} == {os.getpid()}
    assert remote == local == [{"item": i, "value": i * i + 3} for i in items]


def test_generator_seeded_tensors_are_identical(on_cluster, ctx, monkeypatch):
    items = list(range(6))
    remote = sweep.map(_draw, items, ctx)
    local = _local(_draw, items[::-1], ctx, monkeypatch)[::-1]  # another order: same numbers per item
    assert all(torch.equal(a, b) for a, b in zip(remote, local))
    assert not torch.equal(remote[0], remote[1])  # the items' streams differ


def test_sweep_inside_tasks_holding_every_worker(on_cluster, ctx):
    client = sweep._client("local-cluster", 2)
    futs = client.map(_outer, [1, 2], [ctx, ctx], pure=False)  # both workers busy with an outer task
    distributed.wait(futs, timeout=60)  # without seceding, the outer tasks would wait for ever
    got = client.gather(futs, errors="raise")
    assert [[r["value"] for r in part] for part in got] == [[i * i + 3 for i in (10, 11, 12)],
                                                            [i * i + 3 for i in (20, 21, 22)]]


@pytest.mark.parametrize("spec", ["local:0", "local:x", "cluster", "8786", "tcp://"])
def test_bad_spec_names_the_variable(spec, ctx, monkeypatch):
    monkeypatch.setenv(sweep.ENV, spec)
    with pytest.raises(ValueError, match="NBS_SWEEP_CLUSTER"):
        sweep.map(_square, [1, 2], ctx)


def test_local_without_the_variable(ctx, monkeypatch):
    assert _local(_square, [], ctx, monkeypatch) == []
    assert [r["value"] for r in _local(_square, [2, 1], ctx, monkeypatch)] == [7, 4]


def test_runner_forwards_the_sweep_cluster_to_the_kernel(tmp_path, capsys):
    import nbformat

    from ci import runner

    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell('profile = "smoke"\ndevice = "cpu"'),
                nbformat.v4.new_code_cell("from nbs_lib import sweep\nassert sweep.where() == 'tcp://127.0.0.1:9', "
                                          "sweep.where()")]
    nb.cells[0].metadata["tags"] = ["parameters"]
    nb.metadata["kernelspec"] = {"name": "python3", "language": "python", "display_name": "Python 3"}
    p = tmp_path / "repo" / "book" / "x" / "where.ipynb"
    p.parent.mkdir(parents=True)
    nbformat.write(nb, str(p))
    r = runner.execute_notebook(p, profile="smoke", device="cpu", out_root=tmp_path / "out", root=tmp_path / "repo",
                                threads=1, sweep_cluster="tcp://127.0.0.1:9")
    assert r["status"] == "ok", r["error"]
    assert runner.main(["--sweep-cluster", "nowhere", "--profile", "smoke", str(p)]) == 2
    assert "NBS_SWEEP_CLUSTER" in capsys.readouterr().err
