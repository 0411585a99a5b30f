"""Image data shared by the chapters: the real CIFAR-10 loader and documented offline stand-ins.

CIFAR-10 cannot be downloaded here. :func:`load_cifar10` reads the standard python-pickle batches
(``data_batch_1`` … ``data_batch_5``, ``test_batch``; each a pickled dict with ``b"data"`` of shape
(N, 3072) uint8 and ``b"labels"``) from a directory given as a parameter or by ``$NBS_CIFAR10_DIR``.
When no directory is available, :func:`image_dataset` falls back to a stand-in shipped inside an
installed package (scikit-learn's 8×8 digits, or patches of its two bundled photographs) and says so in
``Dataset.source`` — figures print that string in their caption.
"""
from __future__ import annotations

import os
import pickle
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import validate

CIFAR10_ENV = "NBS_CIFAR10_DIR"
CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")


@dataclass
class Dataset:
    """Features ``X: (N, d)`` float64, labels ``y: (N,)`` int64, and ``source``: which data this is."""

    X: np.ndarray
    y: np.ndarray
    source: str


def cifar10_dir(root: str | os.PathLike | None = None) -> Path | None:
    """Return the CIFAR-10 batch directory from ``root`` or ``$NBS_CIFAR10_DIR``, or None when neither is set.

    A ``root`` that is given but does not exist is an error naming the parameter; the batches may sit in
    ``root`` itself or in ``root/cifar-10-batches-py``.
    """
    name = "cifar10_root"
    if root in (None, ""):
        root = os.environ.get(CIFAR10_ENV) or None
        name = f"${CIFAR10_ENV}"
        if root is None:
            return None
    p = Path(os.path.expanduser(str(root)))
    if not p.is_dir():
        also = "" if name.startswith("$") else f" (or unset it and set ${CIFAR10_ENV})"
        raise ValueError(f"{name} must be an existing directory holding the CIFAR-10 python batches{also}, "
                         f"got {str(root)!r}")
    if (p / "cifar-10-batches-py").is_dir():
        p = p / "cifar-10-batches-py"
    if not any((p / f).is_file() for f in ("data_batch_1", "test_batch")):
        raise ValueError(f"{name} must contain the CIFAR-10 python batches (data_batch_1 … data_batch_5, "
                         f"test_batch), got {str(p)!r}")
    return p


#: the files of the CIFAR-10 python version and the bytes each must at least hold (10,000 images × 3,072 bytes)
CIFAR10_FILES = tuple(f"data_batch_{i}" for i in range(1, 6)) + ("test_batch",)
CIFAR10_BATCH_IMAGES = 10_000
_MIN_BATCH_BYTES = CIFAR10_BATCH_IMAGES * 3072


def check_cifar10_env(root: str | os.PathLike | None = None, *, required: bool = False,
                      split: str | None = None) -> Path | None:
    """Check the CIFAR-10 directory for a notebook's setup cell, before any work; return it (or None).

    The directory comes from ``root`` or ``$NBS_CIFAR10_DIR``. Without either, returns None (the caller
    uses its stand-in) unless ``required``, which raises naming ``$NBS_CIFAR10_DIR``. Each batch the
    ``split`` needs (``"train"``, ``"test"``, or both when None) must exist and be large enough to hold
    10,000 images of 3,072 bytes: a truncated file is an error naming it. The content is read later by
    :func:`load_cifar10`, which reports a corrupt file the same way.
    """
    if split is not None:
        validate.one_of("split", split, ("train", "test"))
    p = cifar10_dir(root)
    if p is None:
        if required:
            raise ValueError(f"CIFAR-10 is needed here: set ${CIFAR10_ENV} (or cifar10_root) to the directory of "
                             "the python batches (data_batch_1 … data_batch_5, test_batch)")
        return None
    names = {"train": CIFAR10_FILES[:5], "test": CIFAR10_FILES[5:], None: CIFAR10_FILES}[split]
    for f in names:
        fp = p / f
        if not fp.is_file():
            raise ValueError(f"CIFAR-10 batch {str(fp)!r} is missing (${CIFAR10_ENV} = {str(p)!r} must hold "
                             f"{', '.join(names)})")
        size = fp.stat().st_size
        if size < _MIN_BATCH_BYTES:
            raise ValueError(f"CIFAR-10 batch {str(fp)!r} is truncated: {size:,} bytes, expected a pickled batch "
                             f"of {CIFAR10_BATCH_IMAGES:,} images × 3072 bytes (at least {_MIN_BATCH_BYTES:,} bytes)")
    return p


def env_path(var: str, *, kind: str = "file", what: str = "", required: bool = True) -> Path | None:
    """Return the path in environment variable ``var`` (for a setup cell); errors name the variable.

    ``kind`` is ``"file"`` or ``"dir"``; ``what`` says what the path must hold (shown in messages). An unset
    variable returns None unless ``required``.
    """
    validate.one_of("kind", kind, ("file", "dir"))
    value = os.environ.get(var) or None
    hold = f" ({what})" if what else ""
    if value is None:
        if required:
            raise ValueError(f"${var} is not set: set it to the {'directory' if kind == 'dir' else 'file'}{hold}")
        return None
    p = Path(os.path.expanduser(value))
    ok = p.is_dir() if kind == "dir" else p.is_file()
    if not ok:
        raise ValueError(f"${var} must name an existing {'directory' if kind == 'dir' else 'file'}{hold}, "
                         f"got {value!r}")
    return p


_EXPECTED = "a pickled dict with b'data' of shape (N, 3072) uint8 and b'labels' of N integers in 0..9"


def _read_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Read one CIFAR-10 python batch; a truncated or corrupt file is a ``ValueError`` naming it."""
    try:
        with open(path, "rb") as fh:
            d = pickle.load(fh, encoding="bytes")
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError, ImportError, IndexError,
            KeyError, UnicodeDecodeError, OverflowError) as exc:
        size = path.stat().st_size if path.exists() else 0
        raise ValueError(f"CIFAR-10 batch {str(path)!r} is truncated or corrupt ({size:,} bytes; "
                         f"{type(exc).__name__}: {exc}); expected {_EXPECTED}") from None
    if not isinstance(d, dict):
        raise ValueError(f"CIFAR-10 batch {str(path)!r} is not a CIFAR-10 python batch: got a "
                         f"{type(d).__name__}, expected {_EXPECTED}")
    data = d.get(b"data", d.get("data"))
    labels = d.get(b"labels", d.get("labels"))
    if data is None or labels is None:
        raise ValueError(f"CIFAR-10 batch {str(path)!r} is not a CIFAR-10 python batch (no data/labels keys); "
                         f"expected {_EXPECTED}")
    data = np.asarray(data)
    if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3072:
        raise ValueError(f"CIFAR-10 batch {str(path)!r}: data must be (N, 3072) uint8, got {data.shape} "
                         f"{data.dtype}; expected {_EXPECTED}")
    labels = np.asarray(labels)
    if labels.shape != (data.shape[0],) or not np.issubdtype(labels.dtype, np.integer) or (
            labels.size and (labels.min() < 0 or labels.max() > 9)):
        raise ValueError(f"CIFAR-10 batch {str(path)!r}: labels must be {data.shape[0]} integers in 0..9, got "
                         f"shape {labels.shape}; expected {_EXPECTED}")
    return data, labels.astype(np.int64)


def load_cifar10(root, split: str = "train", classes: tuple[int, ...] | None = None, n: int | None = None,
                 seed: int = 0) -> Dataset:
    """Return CIFAR-10 images as ``X: (N, 3072)`` in [0, 1] (channel-major, as stored) and labels.

    ``classes`` keeps only those labels; ``n`` draws that many samples at random (``seed``).
    """
    validate.one_of("split", split, ("train", "test"))
    p = cifar10_dir(root)
    if p is None:
        raise ValueError(f"cifar10_root must be given (or ${CIFAR10_ENV} set to the directory of the CIFAR-10 "
                         "python batches) to load CIFAR-10")
    files = [p / "test_batch"] if split == "test" else sorted(p.glob("data_batch_*"))
    files = [f for f in files if f.is_file()]
    if not files:
        raise ValueError(f"no CIFAR-10 {split} batches found in {str(p)!r} (${CIFAR10_ENV} or cifar10_root)")
    parts = [_read_batch(f) for f in files]
    X = np.concatenate([a for a, _ in parts]).astype(np.float64) / 255.0
    y = np.concatenate([b for _, b in parts])
    X, y = _subset(X, y, classes, n, seed)
    return Dataset(X, y, f"CIFAR-10 ({split}, {len(y)} images from {p})")


def _subset(X: np.ndarray, y: np.ndarray, classes, n: int | None, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Return the rows of ``classes`` (all when None), then ``n`` of them drawn without replacement by ``seed``."""
    if classes is not None:
        keep = np.isin(y, np.asarray(classes))
        X, y = X[keep], y[keep]
    if n is not None:
        validate.positive_int("n", n, maximum=len(y))
        idx = np.random.default_rng(seed).choice(len(y), size=n, replace=False)
        X, y = X[idx], y[idx]
    return X, y


def digits(classes: tuple[int, ...] | None = None, n: int | None = None, seed: int = 0,
           as_stand_in: bool = True) -> Dataset:
    """Return scikit-learn's bundled 8×8 digits (1,797 images, ``X: (N, 64)`` in [0, 1]).

    ``as_stand_in=False`` labels the source as the data set itself (for figures that use digits by
    design, not in place of CIFAR-10).
    """
    from sklearn.datasets import load_digits

    d = load_digits()
    X, y = d.data.astype(np.float64) / 16.0, d.target.astype(np.int64)
    X, y = _subset(X, y, classes, n, seed)
    what = f"scikit-learn digits (8×8, {len(y)} images)"
    return Dataset(X, y, f"stand-in: {what}" if as_stand_in else what)


def image_patches(n: int, patch: int = 8, seed: int = 0) -> Dataset:
    """Return ``n`` random grey ``patch×patch`` patches of scikit-learn's two bundled photos; label = which photo."""
    from sklearn.datasets import load_sample_images

    validate.positive_int("n", n)
    validate.positive_int("patch", patch, maximum=64)
    imgs = [im.mean(axis=2) / 255.0 for im in load_sample_images().images]
    rng = np.random.default_rng(seed)
    which = rng.integers(0, len(imgs), size=n)
    X = np.empty((n, patch * patch))
    for k, im in enumerate(imgs):
        idx = np.flatnonzero(which == k)
        r = rng.integers(0, im.shape[0] - patch, size=idx.size)
        c = rng.integers(0, im.shape[1] - patch, size=idx.size)
        rows = r[:, None, None] + np.arange(patch)[None, :, None]
        cols = c[:, None, None] + np.arange(patch)[None, None, :]
        X[idx] = im[rows, cols].reshape(idx.size, -1)
    return Dataset(X, which.astype(np.int64), f"stand-in: {patch}×{patch} patches of scikit-learn's sample photos ({n})")


def image_dataset(root=None, *, classes: tuple[int, ...] | None = None, n: int | None = None, seed: int = 0,
                  fallback: str = "digits", patch: int = 8) -> Dataset:
    """Return CIFAR-10 when a directory is given or ``$NBS_CIFAR10_DIR`` is set, else the stand-in ``fallback``.

    ``fallback`` is ``"digits"`` or ``"patches"`` (of side ``patch``); ``Dataset.source`` says which data was used.
    """
    validate.one_of("fallback", fallback, ("digits", "patches"))
    if cifar10_dir(root) is not None:
        return load_cifar10(root, "train", classes=classes, n=n, seed=seed)
    if fallback == "digits":
        return digits(classes=classes, n=n, seed=seed)
    return image_patches(n or 1000, patch=patch, seed=seed)
