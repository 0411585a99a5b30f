"""Operation-count model of one training iteration (the chapter's §6.13 table; Thm B.1, Thm 1.2, Remark C.3).

Flops are 2 × multiply-adds; ``weights`` is the number of weight entries touched. ``n`` samples, width ``m``,
``k`` active units per sample (average), ``r`` LRM rank, ``s`` sketch size.
"""
from __future__ import annotations

import math

from .. import validate

METHODS = ("explicit", "dense", "paper", "frozen", "paper_restart")


def op_count(method: str, *, n: int, m: int, k: float | None = None, r: int | None = None, s: int | None = None,
             alpha_mm: float = 0.32) -> dict:
    """Return ``{'flops', 'weights'}`` per iteration for ``method`` ∈ METHODS.

    * ``explicit``: form J (n×m²) and ``JJᵀ``: ``2n²m² + 4nm²``;
    * ``dense``: ``4nm² + 2n²m + n³/3`` (GEMM forward + rank-n GEMM update);
    * ``paper``: Alg. 2 without restarts: ``2m·n·k + 2r·n·k + 2mrn + 2n²m + n³/3`` (+ ``2n m' log m' + 2n²s`` with a
      sketch);
    * ``paper_restart``: ``paper`` plus the amortised restart ``2m²·r_max/(r_max/n) = 2nm²`` (classical GEMM);
    * ``frozen``: ``2mn² + 2n²m + mn + n³/3``.
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    validate.positive_int("n", n)
    validate.positive_int("m", m)
    solve = n ** 3 / 3
    if method == "explicit":
        return {"flops": 2 * n * n * m * m + 4 * n * m * m + solve, "weights": 3 * m * m}
    if method == "dense":
        return {"flops": 4 * n * m * m + 2 * n * n * m + solve, "weights": 3 * m * m}
    if method == "frozen":
        return {"flops": 2 * m * n * n + 2 * n * n * m + m * n + solve, "weights": 0}
    k = m / 2 if k is None else k
    r = n if r is None else r
    fl = 2 * m * n * k + 2 * r * n * k + 2 * m * r * n + 2 * n * n * m + solve
    if s is not None:
        mp = 1 << (m - 1).bit_length()
        fl += 2 * n * mp * math.log2(mp) + 2 * n * n * s
    w = m * n * k
    if method == "paper_restart":
        fl += 2 * n * m * m
        w += n * m * m / max(1, math.ceil(m ** min(alpha_mm, 1 / 3)))
    return {"flops": fl, "weights": w}


def restart_exponent(alpha_mm: float = 0.32) -> float:
    """Return the LRM restart exponent ``a = min(alpha_mm, 1/3)`` (Thm B.1; erratum E6)."""
    return min(alpha_mm, 1 / 3)


def galactic_exponent(alpha_mm: float = 0.32) -> float:
    """Return the exponent ``2.25 − α`` of Thm 1.2's ``Õ(m^{2.25−α})`` bound (needs fast rectangular MM)."""
    return 2.25 - alpha_mm
