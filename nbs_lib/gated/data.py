"""Data of paper 004: the "complex Ackley" regression (§4.1) and the image regression (CIFAR-10 or a stand-in)."""
from __future__ import annotations

import numpy as np
import torch

from .. import data as _data
from .. import validate

# ============================================================================ data
def ackley_like(n: int, d: int, seed: int = 0, partner: str = "reverse") -> tuple[torch.Tensor, torch.Tensor]:
    """Return the "complex Ackley" regression of paper §4.1 (spec §4.1): unit inputs ``X: (n, d)``, standardised ``y: (n, 1)``.

    ``y = Σ_j x_{p(j)} (log|x_j| (cos x_j + x_j³ sin x_j) + √|x_j|)`` on raw Gaussian ``x``; partner
    ``p(j) = d−1−j`` (``reverse``) or ``(d−j) mod d`` (``cyclic``).
    """
    validate.positive_int("n", n)
    validate.int_in("d", d, 2, 10 ** 6)
    validate.one_of("partner", partner, ("reverse", "cyclic"))
    xr = np.random.default_rng(seed).standard_normal((n, d))
    part = xr[:, ::-1] if partner == "reverse" else xr[:, (d - np.arange(d)) % d]
    a = np.abs(xr)
    y = (part * (np.log(a) * (np.cos(xr) + xr ** 3 * np.sin(xr)) + np.sqrt(a))).sum(1)
    y = (y - y.mean()) / y.std()
    X = xr / np.linalg.norm(xr, axis=1, keepdims=True)
    return torch.from_numpy(X), torch.from_numpy(y[:, None])


def unit_rows(X: np.ndarray, mean=None, std=None):
    """Return ``(X_unit, mean, std)``: per-feature standardisation, then per-example ℓ2 normalisation (spec §4.3)."""
    mean = X.mean(0) if mean is None else mean
    std = X.std(0) if std is None else std
    Z = (X - mean) / np.where(std > 0, std, 1.0)
    nr = np.linalg.norm(Z, axis=1, keepdims=True)
    return Z / np.where(nr > 0, nr, 1.0), mean, std


def image_regression(n_train: int, n_test: int, seed: int = 0, root=None):
    """Return ``(X, Y, X_te, Y_te, raw_train, stats, source)`` for the CIFAR-10 experiment (one-hot targets in R^10).

    Uses CIFAR-10 from ``root``/``$NBS_CIFAR10_DIR`` when given (``nbs_lib.data``), else scikit-learn's digits.
    ``raw_train`` (unstandardised, for augmentation) and ``stats = (mean, std)``.
    """
    validate.positive_int("n_train", n_train)
    validate.positive_int("n_test", n_test)
    ds = _data.image_dataset(root, seed=seed)
    if len(ds.y) < n_train + n_test:
        raise ValueError(f"n_train + n_test must be at most {len(ds.y)} for {ds.source}, got {n_train + n_test}")
    idx = np.random.default_rng(seed).permutation(len(ds.y))
    tr, te = idx[:n_train], idx[n_train:n_train + n_test]
    Xtr, mu, sd = unit_rows(ds.X[tr])
    Xte, _, _ = unit_rows(ds.X[te], mu, sd)
    eye = np.eye(10)
    return (torch.from_numpy(Xtr), torch.from_numpy(eye[ds.y[tr]]), torch.from_numpy(Xte), torch.from_numpy(eye[ds.y[te]]),
            ds.X[tr], (mu, sd), ds.source)


def augment_images(Xraw: torch.Tensor, gen: torch.Generator, stats, side: int, noise: float = 0.05) -> torch.Tensor:
    """Return unit rows of randomly shifted (±1 pixel, circular) raw images ``Xraw: (b, c·side²)`` with Gaussian noise.

    A stand-in for RandAugment (spec §4.3): one random shift per batch, then per-feature standardisation with
    ``stats = (mean, std)`` of the clean training set, then ``noise``·N(0, 1) in standardised units, then ℓ2
    normalisation.
    """
    b = Xraw.shape[0]
    c = Xraw.shape[1] // (side * side)
    imgs = Xraw.reshape(b, c, side, side)
    sh = torch.randint(-1, 2, (2,), generator=gen, device="cpu")
    imgs = torch.roll(imgs, shifts=(int(sh[0]), int(sh[1])), dims=(2, 3)).reshape(b, -1).numpy()
    mean, std = stats
    Z = (imgs - mean) / np.where(std > 0, std, 1.0)
    Z = Z + noise * torch.randn(Z.shape, generator=gen, dtype=torch.float64, device="cpu").numpy()
    Z /= np.maximum(np.linalg.norm(Z, axis=1, keepdims=True), 1e-12)
    return torch.from_numpy(Z)
