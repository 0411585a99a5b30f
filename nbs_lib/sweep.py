"""Sweeps: split an experiment's grid or seeds into tasks, run them here or on a Dask cluster, merge.

    from nbs_lib import sweep
    parts = sweep.map(_fig2_point, points, ctx)      # one task per item, results in the items' order

``fn(item, ctx)`` must be a module-level function (it travels to a worker by pickle) that draws all of its
randomness from ``ctx.generator(..keys naming the item..)``, never from state shared between items, so that
the merged result is the same whether the items run in one process, in chunks, or on many workers.

Where the items run is chosen outside the notebook (the notebook's code does not change):
- ``NBS_SWEEP_CLUSTER`` unset or empty: here, one after the other;
- inside a task of ``ci.runner --cluster ...``: on the same cluster (the notebook task secedes while it waits);
- ``NBS_SWEEP_CLUSTER=local:N`` or ``tcp://HOST:PORT``: on that cluster.
"""
from __future__ import annotations

import os
from typing import Callable, Sequence

ENV = "NBS_SWEEP_CLUSTER"


def where() -> str:
    """Return where a sweep runs now: ``"local"`` or the cluster spec from ``NBS_SWEEP_CLUSTER``."""
    return os.environ.get(ENV, "").strip() or "local"


def map(fn: Callable, items: Sequence, ctx) -> list:  # noqa: A001 - the module is used as sweep.map
    """Return ``[fn(item, ctx) for item in items]``, computed where ``where()`` says."""
    items = list(items)
    if where() == "local":
        return [fn(item, ctx) for item in items]
    raise NotImplementedError(f"{ENV}={where()!r}: running sweeps on a cluster is not implemented yet")
