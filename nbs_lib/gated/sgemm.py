"""The SGEMM GPU-kernel performance data of paper 004's appendix §9: the real UCI CSV loader and the exact stand-in.

The UCI data set "SGEMM GPU kernel performance" (``sgemm_product.csv``: 241,600 rows, 14 tuning parameters and
the four runtimes ``Run1 (ms)``..``Run4 (ms)``) cannot be downloaded here. :func:`load_sgemm` reads it from a
path given as a parameter or by ``$NBS_SGEMM_CSV``; otherwise it builds the stand-in of spec §4.2: the exact
input grid (14 CLTune parameters under the 7 divisibility constraints → exactly 241,600 configurations) with a
specified synthetic runtime model (OUR CHOICE, deterministic part + 2 % log-normal run noise).

Preprocessing (spec §4.2): log2 of the power-of-two features, per-feature standardisation, per-row ℓ2
normalisation (the theory's ‖x‖ = 1); target: log of the mean of the four runs, standardised (d_y = 1).
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .. import validate

SGEMM_ENV = "NBS_SGEMM_CSV"
PARAMS = ("MWG", "NWG", "KWG", "MDIMC", "NDIMC", "MDIMA", "NDIMB", "KWI", "VWM", "VWN", "STRM", "STRN", "SA", "SB")
VALUES = {
    "MWG": (16, 32, 64, 128), "NWG": (16, 32, 64, 128), "KWG": (16, 32),
    "MDIMC": (8, 16, 32), "NDIMC": (8, 16, 32), "MDIMA": (8, 16, 32), "NDIMB": (8, 16, 32),
    "KWI": (2, 8), "VWM": (1, 2, 4, 8), "VWN": (1, 2, 4, 8),
    "STRM": (0, 1), "STRN": (0, 1), "SA": (0, 1), "SB": (0, 1),
}
RUNS = ("Run1 (ms)", "Run2 (ms)", "Run3 (ms)", "Run4 (ms)")
BINARY = ("STRM", "STRN", "SA", "SB")


@dataclass
class SGEMM:
    """Raw features ``F: (N, 14)`` (columns :data:`PARAMS`), runtimes ``runs: (N, 4)`` in ms, and ``source``."""

    F: np.ndarray
    runs: np.ndarray
    source: str


def sgemm_grid() -> np.ndarray:
    """Return the valid CLTune configurations, ``(241600, 14)`` int64 in :data:`PARAMS` order (spec §4.2).

    Constraints: KWG % KWI = 0; MWG % (MDIMC·VWM) = 0; NWG % (NDIMC·VWN) = 0; MWG % (MDIMA·VWM) = 0;
    NWG % (NDIMB·VWN) = 0; KWG % (MDIMC·NDIMC/MDIMA) = 0; KWG % (MDIMC·NDIMC/NDIMB) = 0.
    """
    axes = [np.asarray(VALUES[p], dtype=np.int64) for p in PARAMS]
    G = np.stack([a.ravel() for a in np.meshgrid(*axes, indexing="ij")], axis=1)
    c = {p: G[:, i] for i, p in enumerate(PARAMS)}
    ok = (c["KWG"] % c["KWI"] == 0)
    ok &= c["MWG"] % (c["MDIMC"] * c["VWM"]) == 0
    ok &= c["NWG"] % (c["NDIMC"] * c["VWN"]) == 0
    ok &= c["MWG"] % (c["MDIMA"] * c["VWM"]) == 0
    ok &= c["NWG"] % (c["NDIMB"] * c["VWN"]) == 0
    tc = c["MDIMC"] * c["NDIMC"]
    ok &= (tc % c["MDIMA"] == 0) & (c["KWG"] % np.maximum(tc // c["MDIMA"], 1) == 0)
    ok &= (tc % c["NDIMB"] == 0) & (c["KWG"] % np.maximum(tc // c["NDIMB"], 1) == 0)
    return G[ok]


def runtime_model(F: np.ndarray) -> np.ndarray:
    """Return the stand-in's deterministic ``log10`` runtime (ms) of configurations ``F: (N, 14)`` (spec §4.2, OUR CHOICE)."""
    c = {p: F[:, i].astype(np.float64) for i, p in enumerate(PARAMS)}
    lreg = np.log2((c["MWG"] / c["MDIMC"]) * (c["NWG"] / c["NDIMC"]))
    lthr = np.log2(c["MDIMC"] * c["NDIMC"])
    return (1.40 + 0.06 * (lreg - 4) ** 2 + 0.10 * np.abs(lthr - 8) - 0.06 * np.log2(c["VWM"] * c["VWN"])
            + 0.12 * (1 - c["SA"]) * np.log2(c["NWG"] / 16) + 0.12 * (1 - c["SB"]) * np.log2(c["MWG"] / 16)
            + 0.05 * c["STRM"] + 0.05 * c["STRN"] - 0.04 * (c["KWI"] == 8) + 0.05 * (c["KWG"] == 16)
            + 0.03 * np.log2(c["MDIMA"] * c["NDIMB"] / 64) * (c["SA"] + c["SB"]) + 0.06 * (lreg > 6) * (lreg - 6))


def sgemm_synthetic(seed: int = 0, noise: float = 0.02) -> SGEMM:
    """Return the stand-in: the exact grid with four synthetic runs ``10**(log10 t + N(0, noise²))`` ms."""
    validate.nonnegative("noise", noise)
    F = sgemm_grid()
    lt = runtime_model(F)
    rng = np.random.default_rng(seed)
    runs = 10 ** (lt[:, None] + noise * rng.standard_normal((len(F), 4)))
    return SGEMM(F, runs, f"stand-in: exact SGEMM configuration grid ({len(F)} rows) + synthetic runtime model (spec §4.2)")


def read_sgemm_csv(path) -> SGEMM:
    """Return the UCI ``sgemm_product.csv`` at ``path`` (header with the 14 parameters and ``Run1 (ms)``..``Run4 (ms)``)."""
    import pandas as pd

    try:
        p = validate.existing_path("path", path, kind="file")
    except ValueError:
        raise ValueError(f"{SGEMM_ENV} (or the notebook's sgemm_csv) must name an existing file, the UCI "
                         f"sgemm_product.csv; got {str(path)!r}") from None
    df = pd.read_csv(p)
    df.columns = [str(c).strip() for c in df.columns]
    missing = [c for c in PARAMS + RUNS if c not in df.columns]
    if missing:
        raise ValueError(f"path must be the UCI sgemm_product.csv; columns missing: {missing}")
    F = df[list(PARAMS)].to_numpy(dtype=np.int64)
    runs = df[list(RUNS)].to_numpy(dtype=np.float64)
    if not np.isfinite(runs).all() or (runs <= 0).any():
        raise ValueError(f"path {str(p)!r}: runtimes must be finite and positive")
    return SGEMM(F, runs, f"UCI SGEMM ({len(F)} rows from {p})")


def check_source(path=None) -> str | None:
    """Return the CSV path from ``path`` or ``$NBS_SGEMM_CSV`` (an existing file), or None for the stand-in.

    Called when a notebook's config is built, so that a wrong path fails before any work; the error names
    ``NBS_SGEMM_CSV``.
    """
    path = path or os.environ.get(SGEMM_ENV) or None
    if path is None:
        return None
    if not Path(path).is_file():
        raise ValueError(f"{SGEMM_ENV} (or the notebook's sgemm_csv) must name an existing file, the UCI "
                         f"sgemm_product.csv; got {str(path)!r}")
    return str(path)


def load_sgemm(path=None, seed: int = 0) -> SGEMM:
    """Return the real data from ``path`` or ``$NBS_SGEMM_CSV`` when given, else :func:`sgemm_synthetic` (``source`` says which)."""
    path = check_source(path)
    if path:
        return read_sgemm_csv(path)
    return sgemm_synthetic(seed)


def preprocess(data: SGEMM, rows=None, stats=None):
    """Return ``(X, y, stats)``: unit-norm standardised features ``(N, 14)`` and standardised log mean runtime ``(N, 1)``.

    ``stats`` (from a first call, e.g. on the train split) makes a second split use the same centring.
    """
    F = data.F if rows is None else data.F[rows]
    R = data.runs if rows is None else data.runs[rows]
    Z = F.astype(np.float64).copy()
    for i, p in enumerate(PARAMS):
        if p not in BINARY:
            Z[:, i] = np.log2(Z[:, i])
    t = np.log(R.mean(1))
    if stats is None:
        stats = (Z.mean(0), np.where(Z.std(0) > 0, Z.std(0), 1.0), t.mean(), t.std())
    Z = (Z - stats[0]) / stats[1]
    Z /= np.maximum(np.linalg.norm(Z, axis=1, keepdims=True), 1e-12)
    y = ((t - stats[2]) / stats[3])[:, None]
    return Z, y, stats


def split(data: SGEMM, n_train: int, n_val: int, seed: int = 0):
    """Return ``(X, y, X_val, y_val)`` (float64 numpy) from a random subsample of ``n_train + n_val`` rows."""
    validate.positive_int("n_train", n_train)
    validate.positive_int("n_val", n_val)
    if n_train + n_val > len(data.F):
        raise ValueError(f"n_train + n_val must be at most {len(data.F)}, got {n_train + n_val}")
    idx = np.random.default_rng(seed).permutation(len(data.F))[: n_train + n_val]
    X, y, st = preprocess(data, idx[:n_train])
    Xv, yv, _ = preprocess(data, idx[n_train:], st)
    return X, y, Xv, yv
