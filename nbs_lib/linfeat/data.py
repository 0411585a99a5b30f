"""Data for chapter 001: the paper's synthetic Gaussian regression (§3.2, §6) and image data with ±1 labels.

Synthetic (paper §6): ``x_i = Λ^{1/2} z_i`` with ``z_i ~ N(0, I_d)``, ``β ~ N(0, I_d)``,
``y = Xβ + σ_y ξ``. The paper's Fig. 1 uses Σ = I; a power-law spectrum ``λ_j ∝ j^{-α}`` (normalised to
``tr Σ = d``) is our anisotropic stand-in. Generator order: X, β, ξ (then the model draws W₀, v).

Image data (Figs 2–3): CIFAR-10 classes 0 vs 1 (airplane vs automobile) through
:func:`nbs_lib.data.load_cifar10` when a batch directory is given (``root`` or ``$NBS_CIFAR10_DIR``);
otherwise grey patches of scikit-learn's two bundled photos (label: which photo) via
:func:`nbs_lib.data.image_patches`. Preprocessing (our choice, spec §4): centre every feature, rescale so
that the mean ``‖x_i‖²`` equals ``d``; labels ``y = ±1``.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from .. import data as core_data
from .. import validate


@dataclass
class Problem:
    """A regression problem: ``X: (B, n, d)``, ``y: (B, n)``, ``beta: (B, d)`` or None, ``lam: (d,)`` or None.

    ``source`` says which data this is (figures print it).
    """

    X: torch.Tensor
    y: torch.Tensor
    beta: torch.Tensor | None
    lam: torch.Tensor | None
    source: str

    @property
    def n(self) -> int:
        """Return the number of samples."""
        return self.X.shape[-2]

    @property
    def d(self) -> int:
        """Return the input dimension."""
        return self.X.shape[-1]

    def gram(self) -> torch.Tensor:
        """Return ``K = X Xᵀ``, shape (B, n, n)."""
        return self.X @ self.X.transpose(-1, -2)


def spectrum(d: int, kind: str = "identity", alpha: float = 1.0, dtype=torch.float64, device="cpu") -> torch.Tensor:
    """Return the eigenvalues ``λ: (d,)`` of Σ: ones (``identity``) or ``j^{-α}`` rescaled to sum ``d`` (``powerlaw``)."""
    validate.positive_int("d", d)
    validate.one_of("spectrum", kind, ("identity", "powerlaw"))
    if kind == "identity":
        return torch.ones(d, dtype=dtype, device=device)
    validate.positive("alpha", alpha)
    lam = torch.arange(1, d + 1, dtype=dtype, device=device) ** (-float(alpha))
    return lam * (d / lam.sum())


def make_gaussian_regression(n: int, d: int, *, sigma_y: float = 0.1, spectrum_kind: str = "identity",
                             alpha: float = 1.0, label: str = "linear", seeds=(0,), dtype=torch.float64,
                             device="cpu") -> Problem:
    """Return the paper's synthetic problem for each seed in ``seeds`` (a leading batch axis).

    ``sigma_y`` is the noise standard deviation (the paper's "variance σ_y² = 0.01" is ``sigma_y = 0.1``);
    ``label="sign"`` uses ``y = sign(Xβ)`` instead of the linear teacher. Seed ``s`` draws X, β, ξ (in this
    order) from a generator on ``device`` seeded with ``s`` (pass seeds from :meth:`RunContext.seeds`).
    """
    validate.positive_int("n", n)
    validate.positive_int("d", d)
    validate.nonnegative("sigma_y", sigma_y)
    validate.one_of("label", label, ("linear", "sign"))
    seeds = [validate.nonnegative_int("seed", s) for s in seeds]
    device = torch.device(device)
    lam = spectrum(d, spectrum_kind, alpha, dtype, device)
    Xs, ys, bs = [], [], []
    for s in seeds:
        g = torch.Generator(device=device).manual_seed(int(s))
        Z = torch.randn(n, d, generator=g, dtype=dtype, device=device)
        X = Z * lam.sqrt()
        beta = torch.randn(d, generator=g, dtype=dtype, device=device)
        eps = torch.randn(n, generator=g, dtype=dtype, device=device)
        y = torch.sign(X @ beta) if label == "sign" else X @ beta + sigma_y * eps
        Xs.append(X)
        ys.append(y)
        bs.append(beta)
    src = (f"synthetic Gaussian regression (n={n}, d={d}, Σ={'I' if spectrum_kind == 'identity' else f'power law α={alpha:g}'}, "
           f"{'sign labels' if label == 'sign' else f'σ_y={sigma_y:g}'})")
    return Problem(torch.stack(Xs), torch.stack(ys), torch.stack(bs), lam, src)


def standardize_images(X: torch.Tensor, reference: torch.Tensor | None = None) -> torch.Tensor:
    """Return ``X: (n, d)`` centred per feature and rescaled so that the mean ``‖x_i‖²`` is ``d``.

    The mean and the scale come from ``reference`` (default: ``X`` itself). Centring with the sample's own
    mean makes ``K = XXᵀ`` singular (its rows sum to zero), so :func:`image_binary` centres with the mean of a
    larger pool of images.
    """
    ref = X if reference is None else reference
    mu = ref.mean(dim=0, keepdim=True)
    scale = ((ref - mu).pow(2).sum(dim=1).mean() / X.shape[1]).sqrt()
    if not float(scale) > 0:
        raise ValueError("images must not all be identical (zero variance after centring)")
    return (X - mu) / scale


def image_binary(n: int, *, root=None, stand_in: str = "digits", patch: int = 32, seed: int = 0, pool: int = 5,
                 dtype=torch.float64, device="cpu", source: str = "auto") -> Problem:
    """Return a binary image regression problem (``B = 1``) with ``y = ±1`` and standardised inputs.

    CIFAR-10 airplane (+1) vs automobile (−1) when ``root`` (or ``$NBS_CIFAR10_DIR``) holds the python
    batches (``d = 3072``); otherwise the stand-in ``stand_in``: scikit-learn's 8×8 digits 0 (+1) vs 1 (−1)
    (``"digits"``, ``d = 64``, 360 images) or ``patch×patch`` grey patches of its two sample photos, label =
    which photo (``"patches"``, ``d = patch²``). Features are centred with the mean of ``pool·n`` images (the first ``n``
    are the training set) so that ``K`` stays invertible. ``Problem.source`` says which data was used.
    ``source`` forces the data: ``"cifar10"`` (an error naming ``$NBS_CIFAR10_DIR`` when absent), ``"digits"``,
    ``"patches"``, or ``"auto"`` (CIFAR-10 when present, else ``stand_in``).
    """
    validate.positive_int("n", n)
    validate.int_in("patch", patch, 2, 64)
    validate.positive_int("pool", pool)
    validate.one_of("stand_in", stand_in, ("digits", "patches"))
    validate.one_of("source", source, ("auto", "cifar10", "digits", "patches"))
    if source == "cifar10" and core_data.cifar10_dir(root) is None:
        raise ValueError("source 'cifar10' needs the CIFAR-10 python batches: set NBS_CIFAR10_DIR (or pass root)")
    if source in ("digits", "patches"):
        stand_in = source
    if source in ("auto", "cifar10") and core_data.cifar10_dir(root) is not None:
        ds = core_data.load_cifar10(root, "train", classes=(0, 1))
        total = len(ds.y)
        validate.positive_int("n", n, maximum=total)
        idx = np.random.default_rng(seed).choice(total, size=min(total, pool * n), replace=False)
        Xp, yp = ds.X[idx], ds.y[idx]
        source = f"CIFAR-10 airplane vs automobile ({n} train images; {ds.source.split('images from ')[-1].rstrip(')')})"
    elif stand_in == "digits":
        ds = core_data.digits(classes=(0, 1))
        validate.positive_int("n", n, maximum=len(ds.y))
        idx = np.random.default_rng(seed).permutation(len(ds.y))[: min(len(ds.y), pool * n)]
        Xp, yp = ds.X[idx], ds.y[idx]
        source = f"stand-in for CIFAR-10: {n} scikit-learn 8×8 digits, 0 (+1) vs 1 (−1)"
    else:
        ds = core_data.image_patches(pool * n, patch=patch, seed=seed)
        Xp, yp = ds.X, ds.y
        source = f"stand-in for CIFAR-10: {n} grey {patch}×{patch} patches of scikit-learn's two sample photos, label = which photo"
    Xp = torch.as_tensor(Xp, dtype=dtype, device=device)
    X = standardize_images(Xp[:n], reference=Xp)
    y = torch.as_tensor(np.where(yp[:n] == 0, 1.0, -1.0), dtype=dtype, device=device)
    if bool((y == y[0]).all()):
        raise ValueError(f"the drawn sample (n={n}) holds one class only; increase n")
    return Problem(X[None], y[None], None, None, source)
