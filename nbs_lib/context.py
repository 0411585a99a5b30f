"""The run context: one object that says where and how a notebook's experiments run.

A notebook calls :func:`run_context` once, right after its parameters cell::

    ctx = nl.run_context(profile, device, seed)      # profile smoke|cpu|paper, device auto|cpu|cuda
    res = ub.experiments.fig1(ub.experiments.Fig1Config.for_profile(ctx.profile, N=N), ctx)

It resolves the profile, the device (``auto`` picks CUDA when present; ``cuda`` without a GPU is an error),
the dtype (float64 by default), the TF32 policy (off), torch's thread count (``$NBS_THREADS`` when the
runner sets it) and the seed. Every experiment takes it and creates every tensor with ``device=ctx.device``.

Randomness convention (the only one in the library): a random stream is named by keys,
``ctx.generator("fig1", trial)``, and seeded with :func:`stream_seed` ``(ctx.seed, *keys)``, a stable hash.
Two experiments never share a stream by accident, the same keys give the same numbers in any order of
calls, and a batch of seeds is a list of integers from :meth:`RunContext.seeds`.

The context announces itself to the runner (a display output of MIME type :data:`MIME`) so that
``reproduction.json`` records the device the notebook's tensors actually used.
"""
from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field

import torch

from . import profiles
from .device import disable_tf32, resolve_device, resolve_dtype, seed_everything

MIME = "application/vnd.nbs-lib.context+json"


def stream_seed(seed: int, *keys) -> int:
    """Return a 63-bit integer seed derived from ``seed`` and ``keys`` (a stable hash, same on every machine)."""
    text = "|".join([str(int(seed))] + [repr(k) for k in keys])
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little") >> 1


@dataclass(frozen=True)
class RunContext:
    """Where and how experiments run: profile, device, dtype, seed and threads (see the module docstring)."""

    profile: str
    device: torch.device
    dtype: torch.dtype
    seed: int
    threads: int = 0
    _announced: dict = field(default_factory=dict, compare=False, repr=False)

    def generator(self, *keys, device: torch.device | str | None = None) -> torch.Generator:
        """Return a ``torch.Generator`` on the context's device seeded by ``stream_seed(seed, *keys)``."""
        dev = torch.device(device) if device is not None else self.device
        return torch.Generator(device=dev).manual_seed(stream_seed(self.seed, *keys))

    def seeds(self, n: int, *keys) -> list[int]:
        """Return ``n`` integer seeds for a batch of independent runs named by ``keys``."""
        if not isinstance(n, int) or n < 1:
            raise ValueError(f"n must be a positive integer, got {n!r}")
        return [stream_seed(self.seed, *keys, i) for i in range(n)]

    def randn(self, *shape, keys=(), dtype: torch.dtype | None = None) -> torch.Tensor:
        """Return a standard normal tensor of ``shape`` on the context's device from the stream ``keys``."""
        return torch.randn(*shape, generator=self.generator(*keys), device=self.device,
                           dtype=dtype or self.dtype)

    def tensor(self, data, dtype: torch.dtype | None = None) -> torch.Tensor:
        """Return ``data`` as a tensor on the context's device and dtype."""
        return torch.as_tensor(data, dtype=dtype or self.dtype, device=self.device)

    def at_least(self, profile: str) -> bool:
        """Return True when this run's profile is at least ``profile`` (smoke < cpu < paper)."""
        return profiles.at_least(self.profile, profile)

    def describe(self) -> str:
        """Return a one-line description (profile, device with its name, dtype, seed, threads, torch)."""
        name = str(self.device)
        if self.device.type == "cuda":
            name += f" ({torch.cuda.get_device_name(self.device)})"
        dt = str(self.dtype).replace("torch.", "")
        return (f"profile={self.profile}, device={name}, dtype={dt}, seed={self.seed}, "
                f"threads={torch.get_num_threads()}, torch={torch.__version__}")

    def payload(self) -> dict:
        """Return what the runner records about this context."""
        return {"profile": self.profile, "device": str(self.device), "dtype": str(self.dtype).replace("torch.", ""),
                "seed": self.seed, "threads": torch.get_num_threads(), "torch": torch.__version__}

    def announce(self) -> None:
        """Display the context (a line of text, and :data:`MIME` for the runner)."""
        try:
            from IPython.display import display
        except ImportError:  # pragma: no cover
            print(self.describe())
            return
        display({"text/plain": self.describe(), MIME: self.payload()}, raw=True)


def run_context(profile: str = "cpu", device: str = "auto", seed: int = 0, *, dtype: str = "float64",
                threads: int | None = None, announce: bool = True) -> RunContext:
    """Resolve profile, device, dtype, seed and threads, turn TF32 off; return a :class:`RunContext`.

    Errors name the parameter: ``profile`` (smoke|cpu|paper), ``device`` (auto|cpu|cuda; cuda needs a GPU),
    ``dtype`` (float64|float32), ``seed`` (integer ≥ 0), ``threads`` / ``$NBS_THREADS`` (integer ≥ 0).
    """
    prof = profiles.check_profile(profile)
    dev = resolve_device(device)
    dt = resolve_dtype(dtype)
    seed_everything(seed)
    disable_tf32()
    if threads is None:
        env = os.environ.get("NBS_THREADS", "0") or "0"
        try:
            threads = int(env)
        except ValueError:
            raise ValueError(f"NBS_THREADS must be an integer >= 0, got {env!r}") from None
    if not isinstance(threads, int) or threads < 0:
        raise ValueError(f"threads must be an integer >= 0, got {threads!r}")
    if threads > 0:
        torch.set_num_threads(threads)
    ctx = RunContext(prof, dev, dt, int(seed), threads)
    if announce:
        ctx.announce()
    return ctx


RESOURCES_MIME = "application/vnd.nbs-lib.resources+json"


def announce_resources() -> None:
    """Display the process's peak host memory and, on CUDA, the peak GPU memory (for the GPU report)."""
    import resource

    payload = {"host_peak_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        payload["cuda_peak_bytes"] = int(torch.cuda.max_memory_allocated())
    try:
        from IPython.display import display
    except ImportError:  # pragma: no cover
        return
    text = f"peak memory: host {payload['host_peak_bytes'] / 1e9:.2f} GB" + (
        f", GPU {payload['cuda_peak_bytes'] / 1e9:.2f} GB" if "cuda_peak_bytes" in payload else "")
    display({"text/plain": text, RESOURCES_MIME: payload}, raw=True)
