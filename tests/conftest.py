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
