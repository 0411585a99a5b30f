"""Fits used to compare measurements with theory: linear convergence rates and power laws."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class RateFit:
    """A fitted linear rate: ``value_t ≈ C · rate**t`` on the steps ``t0..t1``; ``r2`` of the log-linear fit."""

    rate: float
    log_intercept: float
    r2: float
    t0: int
    t1: int

    def predict(self, t) -> np.ndarray:
        """Return ``C · rate**t``."""
        return np.exp(self.log_intercept + np.log(self.rate) * np.asarray(t, dtype=float))

    def steps_per_decade(self) -> float:
        """Return the number of steps for a 10× decrease."""
        return float(np.log(10) / -np.log(self.rate)) if self.rate < 1 else float("inf")


def fit_linear_rate(values, *, lo: float | None = None, hi: float | None = None, t: np.ndarray | None = None) -> RateFit:
    """Return the per-step contraction factor of ``values`` by least squares on ``log(values)`` vs step.

    Only points with ``lo ≤ value ≤ hi`` (when given) and finite positive values enter the fit; at least
    three are needed. For a loss ``½‖r‖²`` the loss rate is the square of the residual rate.
    """
    v = np.asarray(values, dtype=float)
    tt = np.arange(v.size, dtype=float) if t is None else np.asarray(t, dtype=float)
    keep = np.isfinite(v) & (v > 0)
    if lo is not None:
        keep &= v >= lo
    if hi is not None:
        keep &= v <= hi
    if keep.sum() < 3:
        raise ValueError(f"need at least 3 finite positive values in [lo, hi] = [{lo}, {hi}] to fit a rate, got {int(keep.sum())}")
    x, y = tt[keep], np.log(v[keep])
    A = np.stack([x, np.ones_like(x)], axis=1)
    (slope, icpt), *_ = np.linalg.lstsq(A, y, rcond=None)
    resid = y - A @ np.array([slope, icpt])
    ss = ((y - y.mean()) ** 2).sum()
    r2 = 1.0 - (resid ** 2).sum() / ss if ss > 0 else 1.0
    return RateFit(float(np.exp(slope)), float(icpt), float(r2), int(x.min()), int(x.max()))


@dataclass(frozen=True)
class PowerFit:
    """A fitted power law ``y ≈ prefactor · x**exponent`` (least squares in log–log), with ``r2``."""

    exponent: float
    prefactor: float
    r2: float

    def predict(self, x) -> np.ndarray:
        """Return ``prefactor · x**exponent``."""
        return self.prefactor * np.asarray(x, dtype=float) ** self.exponent


def fit_power_law(x, y) -> PowerFit:
    """Return the least-squares power law through ``(x, y)`` on log–log axes (positive finite points only)."""
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    keep = np.isfinite(x) & np.isfinite(y) & (x > 0) & (y > 0)
    if keep.sum() < 2:
        raise ValueError("need at least 2 positive finite points to fit a power law")
    lx, ly = np.log(x[keep]), np.log(y[keep])
    slope, icpt = np.polyfit(lx, ly, 1)
    pred = slope * lx + icpt
    ss = ((ly - ly.mean()) ** 2).sum()
    r2 = 1.0 - ((ly - pred) ** 2).sum() / ss if ss > 0 else 1.0
    return PowerFit(float(slope), float(np.exp(icpt)), float(r2))
