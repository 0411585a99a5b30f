import os
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("NBS_HEADLESS", "1")


@pytest.fixture
def gen():
    """A seeded CPU generator (same seed, same numbers)."""
    return torch.Generator().manual_seed(1234)


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config, items):
    """Make ``xdist_group`` work again under pytest 9: xdist (3.8) marks a grouped test by assigning
    ``item._nodeid = "<nodeid>@<group>"``, which pytest 9 no longer reads (the node id lives in ``item._id``),
    so ``--dist loadgroup`` silently spread a group over both workers. Carry the suffix into the node id."""
    if not getattr(config.option, "loadgroup", False):
        return
    from _pytest.nodes import coerce_node_id

    for item in items:
        nid = item.__dict__.get("_nodeid")
        if isinstance(nid, str) and "@" in nid and item.nodeid != nid:
            item._id = coerce_node_id(nid)
