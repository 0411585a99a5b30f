"""Device and dtype resolution: the one place where numerical code learns where it runs.

Notebooks call :func:`setup` once (with their papermill ``device``/``dtype``/``seed`` parameters);
numerical code in ``nbs_lib`` never picks a device itself, it takes tensors and returns tensors on the
same device.
"""
from __future__ import annotations

import os
import random
from dataclasses import dataclass

import numpy as np
import torch

DEVICES = ("auto", "cpu", "cuda")
DTYPES = {"float64": torch.float64, "float32": torch.float32}


def cuda_available() -> bool:
    """Return True when a CUDA device can be used by torch."""
    return torch.cuda.is_available()


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """Return the torch device for ``"auto" | "cpu" | "cuda" | "cuda:K"``.

    ``"auto"`` picks CUDA when present, otherwise the CPU. Asking for CUDA where there is none is an
    error, never a silent fallback.
    """
    if isinstance(device, torch.device):
        device = str(device)
    if not isinstance(device, str):
        raise ValueError(f"device must be one of {DEVICES}, got {device!r}")
    name = device.strip().lower()
    if name == "auto":
        return torch.device("cuda" if cuda_available() else "cpu")
    if name == "cpu":
        return torch.device("cpu")
    if name == "cuda" or name.startswith("cuda:"):
        if not cuda_available():
            raise ValueError(
                f"device={device!r} was requested but no CUDA GPU is available here; "
                "use device='auto' or device='cpu'"
            )
        return torch.device(name)
    raise ValueError(f"device must be one of {DEVICES} (or 'cuda:K'), got {device!r}")


def resolve_dtype(dtype: str | torch.dtype = "float64") -> torch.dtype:
    """Return the torch dtype for ``"float64"`` or ``"float32"`` (or a torch dtype passed through)."""
    if isinstance(dtype, torch.dtype):
        if dtype not in DTYPES.values():
            raise ValueError(f"dtype must be one of {tuple(DTYPES)}, got {dtype}")
        return dtype
    if dtype not in DTYPES:
        raise ValueError(f"dtype must be one of {tuple(DTYPES)}, got {dtype!r}")
    return DTYPES[dtype]


def disable_tf32() -> None:
    """Turn TF32 matmuls off, so float32/float64 results compared with theory are not silently rounded."""
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    try:
        torch.set_float32_matmul_precision("highest")
    except Exception:  # pragma: no cover - very old torch
        pass


def seed_everything(seed: int) -> torch.Generator:
    """Seed Python, NumPy and torch; return a CPU ``torch.Generator`` seeded with ``seed``."""
    if not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    random.seed(int(seed))
    np.random.seed(int(seed) % 2**32)
    torch.manual_seed(int(seed))
    return torch.Generator().manual_seed(int(seed))


def generator(seed: int, device: str | torch.device = "cpu") -> torch.Generator:
    """Return a ``torch.Generator`` on ``device`` seeded with ``seed`` (same seed, same numbers)."""
    return torch.Generator(device=resolve_device(device)).manual_seed(int(seed))


@dataclass(frozen=True)
class Setup:
    """What :func:`setup` resolved: the device, dtype and seed a notebook runs with."""

    device: torch.device
    dtype: torch.dtype
    seed: int

    def describe(self) -> str:
        """Return a one-line description for the notebook's output."""
        name = str(self.device)
        if self.device.type == "cuda":
            name += f" ({torch.cuda.get_device_name(self.device)})"
        return f"device={name}, dtype={str(self.dtype).replace('torch.', '')}, seed={self.seed}, torch={torch.__version__}"


def setup(device: str = "auto", dtype: str = "float64", seed: int = 0, threads: int | None = None) -> Setup:
    """Resolve device and dtype, seed every generator, disable TF32; return a :class:`Setup`.

    ``threads`` caps torch's intra-op threads (defaults to ``$NBS_THREADS`` when the runner sets it).
    """
    dev = resolve_device(device)
    dt = resolve_dtype(dtype)
    seed_everything(seed)
    disable_tf32()
    threads = threads or int(os.environ.get("NBS_THREADS", "0") or 0)
    if threads > 0:
        torch.set_num_threads(threads)
    return Setup(dev, dt, int(seed))
