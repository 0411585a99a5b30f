"""Sweeps: split an experiment's grid or seeds into tasks, run them here or on a Dask cluster, merge.

    from nbs_lib import sweep
    parts = sweep.map(_fig2_point, points, ctx)      # one task per item, results in the items' order

``fn(item, ctx)`` must be a module-level function (it travels to a worker by pickle) that draws all of its
randomness from ``ctx.generator(..keys naming the item..)``, never from state shared between items, so that
the merged result is the same whether the items run in one process, in chunks, or on many workers. Each
item runs with ``ctx.threads`` torch threads when the context fixes them (the runner does), so a worker
computes the same bits as the notebook's own kernel.

Where the items run is chosen outside the notebook (the notebook's code does not change):
- ``NBS_SWEEP_CLUSTER`` unset or empty: here, one after the other;
- ``NBS_SWEEP_CLUSTER=local:N``: a ``distributed.LocalCluster`` of N one-thread worker processes, started at
  the first sweep of the process and kept for the next ones;
- ``NBS_SWEEP_CLUSTER=tcp://HOST:PORT``: the Dask scheduler at that address;
- inside a task of ``ci.runner --cluster ...``: the runner sets ``NBS_SWEEP_CLUSTER`` to its own scheduler
  for the notebook's kernel, and the notebook task secedes from its worker's thread pool while the kernel
  runs, so the sweep's items find free workers even when every worker holds a notebook;
- called from inside a Dask task itself: through ``distributed.worker_client()`` (which secedes while it
  waits), whatever ``NBS_SWEEP_CLUSTER`` says.

Items ask for no worker resource: with a CUDA context every worker that may take an item needs CUDA (on a GPU
cluster the items share the GPU of the worker they land on).
"""
from __future__ import annotations

import atexit
import os
from typing import Callable, Sequence

ENV = "NBS_SWEEP_CLUSTER"
_CLIENTS: dict = {}


def where() -> str:
    """Return where a sweep runs now: ``"local"`` or the cluster spec from ``NBS_SWEEP_CLUSTER``."""
    return os.environ.get(ENV, "").strip() or "local"


def parse(spec: str) -> tuple[str, object]:
    """Return ``("local", None)``, ``("local-cluster", N)`` or ``("remote", address)`` for a spec.

    Raises ``ValueError`` naming ``NBS_SWEEP_CLUSTER`` and its accepted forms for anything else.
    """
    s = (spec or "").strip()
    if s in ("", "local"):
        return "local", None
    if s.startswith("local:"):
        n = s.split(":", 1)[1]
        if n.isdigit() and 1 <= int(n) <= 256:
            return "local-cluster", int(n)
    elif s.startswith(("tcp://", "tls://", "ucx://", "inproc://")) and len(s.split("://", 1)[1]) > 0:
        return "remote", s
    raise ValueError(f"{ENV} must be empty (run here), local:N with N workers in [1, 256], or the address of "
                     f"a Dask scheduler tcp://HOST:PORT; got {spec!r}")


def _call(fn: Callable, item, ctx):
    """Run one item on a worker with the context's torch thread count (the kernel's own, for equal bits)."""
    threads = getattr(ctx, "threads", 0) or 0
    if threads > 0:
        import torch

        if torch.get_num_threads() != threads:
            torch.set_num_threads(threads)
    return fn(item, ctx)


def _in_task() -> bool:
    try:
        from distributed import get_worker

        get_worker()
        return True
    except (ImportError, ValueError):
        return False


def _client(kind: str, arg):
    """Return a client for ``kind``/``arg``, created once per process (closed at exit)."""
    key = (kind, arg)
    c = _CLIENTS.get(key)
    if c is not None and c.status == "running":
        return c
    try:
        from distributed import Client, LocalCluster
    except ImportError:  # pragma: no cover - distributed is in requirements.txt
        raise RuntimeError(f"{ENV}={arg!r} needs the package 'distributed' (pip install distributed)") from None
    if kind == "local-cluster":
        cluster = LocalCluster(n_workers=arg, threads_per_worker=1, processes=True, dashboard_address=None,
                               worker_dashboard_address=None)
        c = Client(cluster)
    else:
        try:
            c = Client(arg, timeout="20s")
        except OSError as exc:
            raise RuntimeError(f"{ENV}={arg!r}: cannot reach the Dask scheduler ({exc})") from None
    _CLIENTS[key] = c
    return c


@atexit.register
def close() -> None:
    """Close the clients (and local clusters) this process started for sweeps."""
    while _CLIENTS:
        _, c = _CLIENTS.popitem()
        cluster = getattr(c, "cluster", None)
        try:
            c.close()
            if cluster is not None:
                cluster.close()
        except Exception:  # pragma: no cover - closing at exit
            pass


def map(fn: Callable, items: Sequence, ctx) -> list:  # noqa: A001 - the module is used as sweep.map
    """Return ``[fn(item, ctx) for item in items]``, computed where ``where()`` says, in the items' order."""
    items = list(items)
    kind, arg = parse(os.environ.get(ENV, ""))  # a bad spec fails before any work, even inside a task
    if _in_task():
        from distributed import worker_client

        with worker_client() as c:  # secedes: this task's thread is free while its items run
            return c.gather(c.map(_call, [fn] * len(items), items, [ctx] * len(items), pure=False))
    if kind == "local" or not items:
        return [fn(item, ctx) for item in items]
    c = _client(kind, arg)
    futs = c.map(_call, [fn] * len(items), items, [ctx] * len(items), pure=False)
    return c.gather(futs)
