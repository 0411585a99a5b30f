"""The one timing harness of the book: warm-up, interleaved repeats, median and inter-quartile range.

``compare({"dense": f, "sparse": g}, repeats=15)`` calls each variant once to warm up, then runs
``repeats`` rounds, each round calling every variant once in a rotated order (so that drift of the machine
hits all variants alike), synchronising CUDA around each call. It returns a :class:`Timing` per variant
with the median, the quartiles and the thread count and device that were in force.

``cold=True`` rewrites a buffer of twice the last-level cache (:func:`flush_bytes`) before every timed call,
outside the timer, so that each call reads its operands from memory: the state of a layer whose weights the
rest of a network has evicted. Without it, a variant's time depends on what the one before it left in the
cache, which the rotated order changes from round to round (bimodal samples when the operands are about the
cache's size).
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Callable, Mapping

import numpy as np
import torch


@dataclass(frozen=True)
class Timing:
    """Seconds per call of one variant: median, first and third quartiles, all samples; threads, device."""

    name: str
    median: float
    q1: float
    q3: float
    samples: tuple
    threads: int
    device: str
    peak_bytes: int | None = None
    calls: int = 1          # consecutive calls per sample (``compare(min_sample_s=...)``); times are per call

    @property
    def iqr(self) -> float:
        """Return the inter-quartile range in seconds."""
        return self.q3 - self.q1


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


#: where Linux lists the CPU's caches (one ``index*/size`` per cache, e.g. ``32768K``)
SYSFS_CACHE = "/sys/devices/system/cpu/cpu0/cache"


def llc_bytes(device: str | torch.device = "cpu") -> int:
    """Return the size of the last-level cache: the CUDA device's L2, or the CPU's largest cache in sysfs
    (32 MiB when sysfs does not say)."""
    dev = torch.device(device)
    if dev.type == "cuda":
        return int(torch.cuda.get_device_properties(dev).L2_cache_size)
    import glob

    best = 0
    for f in glob.glob(f"{SYSFS_CACHE}/index*/size"):
        try:
            txt = open(f).read().strip().upper()
            best = max(best, int(txt[:-1]) * {"K": 2 ** 10, "M": 2 ** 20}[txt[-1]] if txt[-1] in "KM" else int(txt))
        except (OSError, ValueError):
            continue
    return best or 32 * 2 ** 20


def flush_bytes(device: str | torch.device = "cpu") -> int:
    """Return the size of the buffer that ``compare(cold=True)`` rewrites: twice :func:`llc_bytes`."""
    return 2 * llc_bytes(device)


def _flusher(device: str) -> Callable[[], None]:
    """Return a callable that rewrites a :func:`flush_bytes` buffer on ``device`` (temporal loads and stores:
    ``add_``, not a memset, which may stream past the cache for large sizes)."""
    buf = torch.zeros(flush_bytes(device) // 4, dtype=torch.float32, device=device)
    return lambda: buf.add_(1.0)


def compare(variants: Mapping[str, Callable[[], object]], *, repeats: int = 11, warmup: int = 1,
            device: str | torch.device = "cpu", cold: bool = False, min_sample_s: float = 0.0) -> dict[str, Timing]:
    """Time each zero-argument callable in ``variants`` (module docstring); return {name: Timing}.

    ``min_sample_s > 0``: each sample of a variant runs ``k`` consecutive calls, ``k`` the least count whose
    duration, judged from the variant's last warm-up call, reaches ``min_sample_s`` (at most 10 000); its
    times are per call (``Timing.calls = k``). Use it for steps that repeat in a loop (a training step): a
    short step timed once right after a long one of another variant reads operands the other evicted.
    """
    if not variants:
        raise ValueError("variants must name at least one callable")
    if not isinstance(repeats, int) or repeats < 1:
        raise ValueError(f"repeats must be a positive integer, got {repeats!r}")
    if not isinstance(warmup, int) or warmup < 0:
        raise ValueError(f"warmup must be a non-negative integer, got {warmup!r}")
    if not isinstance(cold, bool):
        raise ValueError(f"cold must be True or False, got {cold!r}")
    if not (isinstance(min_sample_s, (int, float)) and 0 <= min_sample_s <= 60):
        raise ValueError(f"min_sample_s must be a number of seconds in [0, 60], got {min_sample_s!r}")
    if min_sample_s and not warmup:
        raise ValueError("min_sample_s needs warmup >= 1 (the count of calls is judged from the warm-up)")
    dev = str(device)
    names = list(variants)
    flush = _flusher(dev) if cold else None
    calls = {n: 1 for n in names}
    for _ in range(warmup):
        for n in names:
            _sync(dev)
            t0 = time.perf_counter()
            variants[n]()
            _sync(dev)
            if min_sample_s:
                calls[n] = int(min(10_000, max(1, math.ceil(min_sample_s / max(time.perf_counter() - t0, 1e-9)))))
    _sync(dev)
    samples: dict[str, list[float]] = {n: [] for n in names}
    peaks: dict[str, int | None] = {n: None for n in names}
    for r in range(repeats):
        order = names[r % len(names):] + names[:r % len(names)]
        for n in order:
            if dev.startswith("cuda"):
                torch.cuda.reset_peak_memory_stats()
            if flush is not None:
                flush()
            _sync(dev)
            t0 = time.perf_counter()
            for _ in range(calls[n]):
                variants[n]()
            _sync(dev)
            samples[n].append((time.perf_counter() - t0) / calls[n])
            if dev.startswith("cuda"):
                peaks[n] = max(peaks[n] or 0, int(torch.cuda.max_memory_allocated()))
    out = {}
    for n in names:
        s = np.asarray(samples[n])
        q1, med, q3 = np.quantile(s, [0.25, 0.5, 0.75])
        out[n] = Timing(n, float(med), float(q1), float(q3), tuple(s.tolist()), torch.get_num_threads(), dev,
                        peaks[n], calls[n])
    return out


def per_unit(t: Timing, units: int) -> Timing:
    """Return ``t`` in seconds per unit of work (e.g. per step of a call that runs ``units`` steps)."""
    if not isinstance(units, int) or units < 1:
        raise ValueError(f"units must be a positive integer, got {units!r}")
    return Timing(t.name, t.median / units, t.q1 / units, t.q3 / units, tuple(x / units for x in t.samples),
                  t.threads, t.device, t.peak_bytes, t.calls)


def speedup(timings: Mapping[str, Timing], slow: str, fast: str) -> tuple[float, tuple[float, float]]:
    """Return the median speed-up ``slow/fast`` and a conservative range (q1_slow/q3_fast, q3_slow/q1_fast)."""
    a, b = timings[slow], timings[fast]
    return a.median / b.median, (a.q1 / b.q3, a.q3 / b.q1)


MIME = "application/vnd.nbs-lib.bench+json"


def publish(label: str, timings: Mapping[str, Timing], *, baseline: str, sizes: Mapping | None = None,
            dtype: str = "float64", expected_ratio: Mapping[str, float] | None = None, note: str = "") -> dict:
    """Display a benchmark table and its payload (MIME :data:`MIME`); return the payload.

    The book build collects every payload of the executed notebooks into ``_build/bench.json`` and each
    chapter's table of speed measurements (``ci/site.py``: ``collect_bench``, ``bench_markdown``).

    ``expected_ratio`` gives, per variant, the speed-up over ``baseline`` that a flop or byte count predicts
    (state it: it is the speed claim's criterion). Speed-ups carry a conservative range from the quartiles.
    """
    if baseline not in timings:
        raise ValueError(f"baseline must be one of {list(timings)}, got {baseline!r}")
    rows = []
    for name, t in timings.items():
        s, (lo, hi) = speedup(timings, baseline, name)
        rows.append({"variant": name, "median_s": t.median, "q1_s": t.q1, "q3_s": t.q3, "speedup": s,
                     "speedup_range": [lo, hi], "repeats": len(t.samples), "threads": t.threads,
                     "device": t.device, "peak_bytes": t.peak_bytes, "calls_per_sample": t.calls,
                     "predicted": (expected_ratio or {}).get(name)})
    payload = {"label": label, "baseline": baseline, "sizes": dict(sizes or {}), "dtype": dtype, "note": note,
               "rows": rows}
    lines = [f"**{label}** ({dtype}, {rows[0]['threads']} thread(s), {rows[0]['device']}, median of "
             f"{rows[0]['repeats']} interleaved repeats)", "",
             "| variant | median | IQR | speed-up vs " + baseline + " | predicted |", "|---|---|---|---|---|"]
    for r in rows:
        pred = "–" if r["predicted"] is None else f"{r['predicted']:.3g}×"
        lines.append(f"| {r['variant']} | {r['median_s'] * 1e3:.3g} ms | {(r['q3_s'] - r['q1_s']) * 1e3:.2g} ms | "
                     f"{r['speedup']:.3g}× ({r['speedup_range'][0]:.3g}–{r['speedup_range'][1]:.3g}) | {pred} |")
    if any(r["calls_per_sample"] > 1 for r in rows):
        lines += ["", "Consecutive calls per sample (times are per call): "
                  + ", ".join(f"{r['variant']} {r['calls_per_sample']}" for r in rows) + "."]
    text = "\n".join(lines + ([f"", note] if note else []))
    try:
        from IPython.display import display

        display({"text/markdown": text, "text/plain": text, MIME: payload}, raw=True)
    except ImportError:  # pragma: no cover
        print(text)
    return payload


@dataclass
class Measurement:
    """One speed measurement of an experiment, kept in its result for the notebook to publish.

    Experiments time with :func:`compare` and plot nothing; the notebook calls :func:`publish_all` on the
    result's measurements, which displays the tables and their payloads for ``_build/bench.json``.
    """

    label: str
    timings: Mapping[str, Timing]
    baseline: str
    sizes: Mapping | None = None
    dtype: str = "float64"
    expected_ratio: Mapping[str, float] | None = None
    note: str = ""


def publish_all(measurements) -> list[dict]:
    """Publish every :class:`Measurement` (see :func:`publish`); return their payloads."""
    return [publish(m.label, m.timings, baseline=m.baseline, sizes=m.sizes, dtype=m.dtype,
                    expected_ratio=m.expected_ratio, note=m.note) for m in measurements]
