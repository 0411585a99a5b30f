"""Parameter checks for the top of a notebook (and for library boundaries).

Each helper returns the (possibly converted) value or raises ``ValueError`` naming the parameter and the
allowed range, e.g. ``ValueError("width must be a positive even integer, got -4")``.
"""
from __future__ import annotations

import math
import numbers
import os
from pathlib import Path
from typing import Iterable


def _is_int(value) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _is_real(value) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def positive_int(name: str, value, *, maximum: int | None = None) -> int:
    """Return ``value`` if it is an integer ≥ 1 (and ≤ ``maximum``)."""
    if not _is_int(value) or value < 1 or (maximum is not None and value > maximum):
        rng = f" in [1, {maximum}]" if maximum is not None else ""
        raise ValueError(f"{name} must be a positive integer{rng}, got {value!r}")
    return int(value)


def nonnegative_int(name: str, value, *, maximum: int | None = None) -> int:
    """Return ``value`` if it is an integer ≥ 0 (and ≤ ``maximum``)."""
    if not _is_int(value) or value < 0 or (maximum is not None and value > maximum):
        rng = f" in [0, {maximum}]" if maximum is not None else ""
        raise ValueError(f"{name} must be a non-negative integer{rng}, got {value!r}")
    return int(value)


def positive_even_int(name: str, value, *, maximum: int | None = None) -> int:
    """Return ``value`` if it is an even integer ≥ 2 (and ≤ ``maximum``; widths of mirrored initialisations)."""
    if not _is_int(value) or value < 2 or value % 2 or (maximum is not None and value > maximum):
        rng = f" in [2, {maximum}]" if maximum is not None else ""
        raise ValueError(f"{name} must be a positive even integer{rng}, got {value!r}")
    return int(value)


def int_in(name: str, value, lo: int, hi: int) -> int:
    """Return ``value`` if it is an integer in ``[lo, hi]``."""
    if not _is_int(value) or not lo <= value <= hi:
        raise ValueError(f"{name} must be an integer in [{lo}, {hi}], got {value!r}")
    return int(value)


def positive(name: str, value, *, maximum: float | None = None) -> float:
    """Return ``value`` if it is a finite real number > 0 (and ≤ ``maximum``; init scales, tolerances)."""
    if maximum is not None:
        return in_range(name, value, 0.0, maximum, lo_open=True)
    if not _is_real(value) or not math.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}")
    return float(value)


def nonnegative(name: str, value, *, maximum: float | None = None) -> float:
    """Return ``value`` if it is a finite real number ≥ 0 (and ≤ ``maximum``)."""
    if maximum is not None:
        return in_range(name, value, 0.0, maximum)
    if not _is_real(value) or not math.isfinite(value) or value < 0:
        raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
    return float(value)


def in_range(name: str, value, lo: float, hi: float, *, lo_open: bool = False, hi_open: bool = False) -> float:
    """Return ``value`` if it is a real number in the interval between ``lo`` and ``hi``."""
    ok = _is_real(value) and math.isfinite(value)
    if ok:
        ok = (value > lo if lo_open else value >= lo) and (value < hi if hi_open else value <= hi)
    if not ok:
        interval = f"{'(' if lo_open else '['}{lo}, {hi}{')' if hi_open else ']'}"
        raise ValueError(f"{name} must be a number in {interval}, got {value!r}")
    return float(value)


def probability(name: str, value) -> float:
    """Return ``value`` if it lies in [0, 1]."""
    return in_range(name, value, 0.0, 1.0)


def step_size(name: str, value, *, maximum: float | None = None) -> float:
    """Return a step size ``value`` > 0 (and ≤ ``maximum`` when given, e.g. a stability bound)."""
    if maximum is None:
        return positive(name, value)
    return in_range(name, value, 0.0, maximum, lo_open=True)


def one_of(name: str, value, choices: Iterable) -> object:
    """Return ``value`` if it is one of ``choices``."""
    choices = tuple(choices)
    if value not in choices:
        raise ValueError(f"{name} must be one of {choices}, got {value!r}")
    return value


def int_list(name: str, values, *, minimum: int = 1, even: bool = False, maximum: int | None = None,
             max_len: int | None = None) -> list[int]:
    """Return ``values`` as a non-empty list of integers in [``minimum``, ``maximum``] (even when ``even``),
    at most ``max_len`` long."""
    kind = "even integers" if even else "integers"
    rng = f"in [{minimum}, {maximum}]" if maximum is not None else f">= {minimum}"
    length = f" (at most {max_len} of them)" if max_len is not None else ""
    msg = f"{name} must be a non-empty list of {kind} {rng}{length}, got {values!r}"
    if isinstance(values, (str, bytes)):
        raise ValueError(msg)
    try:
        vals = list(values)
    except TypeError:
        raise ValueError(msg) from None
    bad = [v for v in vals if not _is_int(v) or v < minimum or (even and v % 2) or (maximum is not None and v > maximum)]
    if not vals or bad or (max_len is not None and len(vals) > max_len):
        raise ValueError(msg)
    return [int(v) for v in vals]


def existing_path(name: str, value, *, kind: str = "any") -> Path:
    """Return ``value`` as a ``Path`` if it exists (``kind`` = "any" | "file" | "dir")."""
    if value is None or value == "":
        raise ValueError(f"{name} must be an existing path, got {value!r}")
    p = Path(os.path.expanduser(str(value)))
    ok = p.exists() and (kind == "any" or (kind == "file" and p.is_file()) or (kind == "dir" and p.is_dir()))
    if not ok:
        what = {"any": "path", "file": "file", "dir": "directory"}[kind]
        raise ValueError(f"{name} must be an existing {what}, got {str(value)!r}")
    return p
