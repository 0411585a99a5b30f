"""GPU kernels (Triton) with PyTorch references and clean fallbacks.

Every kernel in this package has a PyTorch reference with the same signature; the public entry points
take ``backend="auto" | "torch" | "triton"``. ``auto`` uses Triton when :func:`triton_usable` says so for
the tensors' device (a CUDA device with Triton installed, or ``TRITON_INTERPRET=1`` for the CPU
interpreter used by the tests), and the reference otherwise. Asking for ``"triton"`` where it cannot run
is an error naming the reason.
"""
from __future__ import annotations

import functools
import importlib.util
import os

import torch


@functools.cache
def has_triton() -> bool:
    """Return True when the ``triton`` package can be imported (looked up once: ``find_spec`` costs ~60 µs, more
    than a batch-1 kernel call)."""
    return importlib.util.find_spec("triton") is not None


def interpreting() -> bool:
    """Return True when ``TRITON_INTERPRET=1`` (Triton kernels run on the CPU through its interpreter)."""
    return os.environ.get("TRITON_INTERPRET", "0") not in ("", "0")


def triton_usable(device: torch.device | str) -> bool:
    """Return True when a Triton kernel can run on tensors living on ``device``."""
    if not has_triton():
        return False
    dev = torch.device(device)
    return dev.type == "cuda" or interpreting()


def choose_backend(backend: str, device: torch.device | str) -> str:
    """Return ``"triton"`` or ``"torch"`` for ``backend`` ∈ {"auto", "torch", "triton"} on ``device``."""
    if backend not in ("auto", "torch", "triton"):
        raise ValueError(f"backend must be 'auto', 'torch' or 'triton', got {backend!r}")
    if backend == "torch":
        return "torch"
    usable = triton_usable(device)
    if backend == "triton" and not usable:
        why = "triton is not installed" if not has_triton() else f"device {device} is not CUDA and TRITON_INTERPRET is not set"
        raise ValueError(f"backend='triton' cannot run here: {why}")
    return "triton" if usable else "torch"
