"""Notebooks as Dask tasks: the runner on a ``distributed`` cluster (a local one or an existing scheduler).

    python -m ci.runner --cluster local:4 --profile smoke          # a LocalCluster of 4 one-thread workers
    python -m ci.runner --cluster tcp://HOST:8786 --profile paper --device cuda

No shared filesystem is assumed: a task receives the notebook's JSON, its path in the book and the
parameters, executes it on the worker (papermill, in a temporary folder laid out like the repository) and
returns the executed notebook and its claims; the client writes them where the local runner would.

- **GPU tasks** (``device="cuda"``) ask for the worker resource ``GPU=1``; start GPU workers as
  ``dask worker tcp://HOST:8786 --nthreads 1 --resources GPU=1`` with one ``CUDA_VISIBLE_DEVICES`` each (or
  dask-cuda's ``LocalCUDACluster``). On a cluster whose workers declare no GPU the run fails at once with a
  message, instead of waiting forever for a worker that will never come.
- **Retries**: a worker that dies mid-notebook has its notebook retried once elsewhere (the scheduler's
  ``allowed-failures`` is set to 1 for a local cluster; set ``distributed.scheduler.allowed-failures: 1`` on
  yours); the report records the attempts. A cell error is not retried: it is the notebook's result.
- **One thread per worker**: the task sets environment variables for the kernel it starts.
- **Same numbers**: the same seed gives the same values as the local runner (threads fixed per kernel).
- **Sweeps**: a notebook's kernel gets ``NBS_SWEEP_CLUSTER`` = this cluster's scheduler (unless the runner was
  given ``--sweep-cluster``), so ``nbs_lib.sweep.map`` sends its items to the same workers. A notebook task
  secedes from its worker's thread pool while its kernel runs (it only waits on a subprocess), so sweep items
  find a free thread even when every worker holds a notebook: no deadlock. Notebook tasks ask for the worker
  resource ``NOTEBOOK=1`` where the workers declare it (a local cluster does; add ``--resources NOTEBOOK=1``
  to your CPU workers), which keeps one notebook per worker while its thread is lent to sweep items.
- **Timings alone**: the notebooks of ``ci/exclusive.txt`` run after the others, one at a time, with no other
  notebook of the run on the cluster.
"""
from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

ATTEMPT_ENV = "NBS_TASK_ATTEMPT"


class ClusterError(RuntimeError):
    """The cluster cannot run what was asked (no GPU worker, an unreachable scheduler, a bad address)."""


def parse_address(spec: str) -> tuple[str, object]:
    """Return ``("local", n_workers)`` for ``local:N`` or ``("remote", address)`` for ``tcp://HOST:PORT``."""
    if not isinstance(spec, str) or not spec:
        raise ClusterError(f"--cluster must be local:N or tcp://HOST:PORT, got {spec!r}")
    if spec.startswith("local:"):
        n = spec.split(":", 1)[1]
        if not n.isdigit() or not 1 <= int(n) <= 256:
            raise ClusterError(f"--cluster local:N needs N, the number of workers, in [1, 256]; got {spec!r}")
        return "local", int(n)
    if spec.startswith(("tcp://", "tls://", "ucx://")):
        return "remote", spec
    raise ClusterError(f"--cluster must be local:N or tcp://HOST:PORT, got {spec!r}")


def _attempt(key: str) -> int:
    """Count this task's attempts in a cluster-wide variable and return the current one (1, 2, …)."""
    from distributed import Lock, Variable

    with Lock(f"nbs-attempt-lock-{key}"):
        var = Variable(f"nbs-attempt-{key}")
        try:
            n = int(var.get(timeout=0.5)) + 1
        except Exception:  # first attempt: the variable does not exist yet
            n = 1
        var.set(n)
    return n


def execute_task(nb_json: str, rel_path: str, kw: dict, key: str) -> dict:
    """Run on a worker: execute one notebook given as JSON; return the runner's result plus the executed JSON."""
    from ci import runner

    from distributed import get_worker, rejoin, secede

    attempt = _attempt(key)
    os.environ[ATTEMPT_ENV] = str(attempt)
    kw = dict(kw)
    if kw.get("sweep_cluster") is None:
        kw["sweep_cluster"] = get_worker().scheduler.address
    with tempfile.TemporaryDirectory(prefix="nbs-task-") as tmp:
        root = Path(tmp) / "repo"
        src = root / rel_path
        src.parent.mkdir(parents=True)
        src.write_text(nb_json)
        out_root = Path(tmp) / "executed"
        secede()  # the kernel is a subprocess: lend this thread to the notebook's sweep items meanwhile
        try:
            r = runner.execute_notebook(src, out_root=out_root, root=root, **kw)
        finally:
            rejoin()
        executed = out_root / rel_path
        r["executed"] = executed.read_text() if executed.is_file() else None
    r["attempts"] = attempt
    r["worker"] = os.environ.get("DASK_WORKER_NAME", "") or _worker_address()
    return r


def _worker_address() -> str:
    try:
        from distributed import get_worker

        return get_worker().address
    except Exception:  # pragma: no cover - outside a worker
        return ""


def _client(spec: str):
    import dask
    from distributed import Client

    kind, arg = parse_address(spec)
    if kind == "local":
        dask.config.set({"distributed.scheduler.allowed-failures": 1})
        cluster = local_cluster(arg)
        return Client(cluster), cluster
    try:
        return Client(arg, timeout="20s"), None
    except OSError as exc:
        raise ClusterError(f"cannot reach the Dask scheduler at {arg}: {exc}") from None


def local_cluster(n: int):
    """Return a ``LocalCluster`` of ``n`` one-thread worker processes, each declaring ``NOTEBOOK=1``."""
    from distributed import LocalCluster

    return LocalCluster(n_workers=n, threads_per_worker=1, processes=True, dashboard_address=None,
                        worker_dashboard_address=None, resources={"NOTEBOOK": 1})


def workers_with(client, resource: str) -> int:
    """Return how many workers of the cluster declare at least one unit of ``resource``."""
    info = client.scheduler_info()
    return sum(1 for w in info.get("workers", {}).values() if (w.get("resources") or {}).get(resource, 0) >= 1)


def gpu_workers(client) -> int:
    """Return how many workers of the cluster declare a ``GPU`` resource."""
    return workers_with(client, "GPU")


_TASK_KEYS = ("profile", "device", "timeout", "params", "threads", "run_id", "default_device", "sweep_cluster")


def execute_tasks(tasks: list[dict], *, spec: str, on_result, client=None, exclusive=()) -> None:
    """Run the runner's ``tasks`` (``execute_notebook`` keyword sets) as Dask tasks; call ``on_result(task, r)``.

    The ``exclusive`` tasks run afterwards, one at a time, each submitted once everything before it has
    finished. Each executed notebook is written atomically to ``task["out_root"] / <path relative to
    task["root"]>``.
    """
    own = client is None
    cluster = None
    if own:
        client, cluster = _client(spec)
    try:
        every = list(tasks) + list(exclusive)
        needs_gpu = any(str(t.get("device", "")).startswith("cuda") for t in every)
        if needs_gpu and gpu_workers(client) == 0:
            raise ClusterError(
                "device='cuda' asks for workers with the resource GPU=1 and this cluster has none; start "
                "workers with `dask worker ... --nthreads 1 --resources GPU=1` (one CUDA_VISIBLE_DEVICES each) "
                "or use dask-cuda's LocalCUDACluster")
        resources = {"GPU": 1} if needs_gpu else ({"NOTEBOOK": 1} if workers_with(client, "NOTEBOOK") else None)
        _collect(client, [_submit(client, t, resources) for t in tasks], on_result)
        for t in exclusive:
            _collect(client, [_submit(client, t, resources)], on_result)
    finally:
        if own:
            client.close()
            if cluster is not None:
                cluster.close()


def _submit(client, t: dict, resources):
    p = Path(t["path"]).resolve()
    rel = p.relative_to(Path(t["root"])).as_posix()
    kw = {k: t[k] for k in _TASK_KEYS if k in t}
    key = f"nb-{rel}-{t.get('run_id') or os.getpid()}"
    fut = client.submit(execute_task, p.read_text(), rel, kw, key, key=key, pure=False, resources=resources)
    return t, rel, fut


def _collect(client, submitted, on_result) -> None:
    from distributed import KilledWorker

    for t, rel, fut in submitted:
        try:
            r = fut.result()
        except KilledWorker as exc:
            r = {"path": rel, "chapter": Path(rel).parts[1].split("_")[0] if len(Path(rel).parts) > 2 else "",
                 "status": "error", "seconds": 0.0, "claims": [], "attempts": 2, "executed": None,
                 "error": f"worker died twice running this notebook ({exc}); not retried again",
                 "error_line": "worker died twice"}
        executed = r.pop("executed", None)
        if executed is not None:
            dest = Path(t["out_root"]) / rel
            dest.parent.mkdir(parents=True, exist_ok=True)
            tmp = dest.with_name("." + dest.name + ".tmp")
            tmp.write_text(executed)
            os.replace(tmp, dest)
        if r.get("attempts", 1) > 1 and r["status"] == "ok":
            r["note"] = f"retried after a worker died (attempt {r['attempts']})"
        on_result(t, r)


def run_on_cluster(paths, *, spec: str, profile: str, device: str, out_root: Path, root: Path,
                   timeout: int = 1800, params: dict | None = None, client=None) -> list[dict]:
    """Execute ``paths`` as tasks on the cluster ``spec``; write executed notebooks under ``out_root``.

    Returns the runner's per-notebook results (with ``attempts`` and ``worker``), in the order of ``paths``.
    """
    tasks = [dict(path=p, root=root, out_root=out_root, profile=profile, device=device, timeout=timeout,
                  params=params, threads=1) for p in paths]
    results = []
    execute_tasks(tasks, spec=spec, client=client, on_result=lambda t, r: results.append(r))
    return results


def dumps(results: list[dict]) -> str:
    """Return the results as JSON (for debugging a cluster run)."""
    return json.dumps(results, indent=1, ensure_ascii=False)
