"""Closed-form infinite-width kernels of a ReLU layer (the arc-cosine kernels) and their Monte Carlo check.

Convention: ``X: (N, d)`` and ``Y: (M, d)``, rows are samples; ``w ~ N(0, I_d)``. The kernels are the
expectations (Cho & Saul's arc-cosine kernels divided by 2)::

    degree 0:  E[1{w·x>0} 1{w·y>0}]   = (π − θ) / (2π)                                  (NTK part, σ')
    degree 1:  E[relu(w·x) relu(w·y)] = ‖x‖‖y‖ (sin θ + (π − θ) cos θ) / (2π)        (CK part, σ)

with θ the angle between x and y. For a two-layer ReLU network ``f(x) = v·relu(W x)/√m`` with standard
Gaussian ``W`` and ``v``, the limiting NTK is ``(x·y)·k0(x, y) + k1(x, y)`` (:func:`relu_ntk_limit`).
A row of zeros has angle π/2 to everything by convention (degree 1 vanishes there anyway).
"""
from __future__ import annotations

import math

import torch


def _cos_and_norms(X: torch.Tensor, Y: torch.Tensor | None):
    Y = X if Y is None else Y
    if X.ndim != 2 or Y.ndim != 2 or X.shape[1] != Y.shape[1]:
        raise ValueError(f"X and Y must be (N, d) and (M, d) with the same d, got {tuple(X.shape)} and {tuple(Y.shape)}")
    nx = X.norm(dim=1)
    ny = Y.norm(dim=1)
    denom = torch.outer(nx, ny)
    gram = X @ Y.T
    cos = torch.where(denom > 0, gram / torch.where(denom > 0, denom, torch.ones_like(denom)), torch.zeros_like(gram))
    return cos.clamp(-1.0, 1.0), denom


def arccos_of_cosine(u: torch.Tensor, degree: int) -> torch.Tensor:
    """Return the arc-cosine function of a cosine ``u``, normalised to 1 at ``u = 1``.

    ``κ0(u) = 1 − arccos(u)/π`` and ``κ1(u) = (√(1−u²) + (π − arccos u) u)/π``; for unit vectors
    :func:`arccos_kernel` is ``κ/2``. Layer recursions of deep-network NTKs apply these to correlations.
    """
    u = u.clamp(-1.0, 1.0)
    theta = torch.arccos(u)
    if degree == 0:
        return (math.pi - theta) / math.pi
    if degree == 1:
        return (torch.sqrt(torch.clamp(1 - u * u, min=0.0)) + (math.pi - theta) * u) / math.pi
    raise ValueError(f"degree must be 0 or 1, got {degree!r}")


def arccos_kernel(X: torch.Tensor, Y: torch.Tensor | None = None, degree: int = 1) -> torch.Tensor:
    """Return the (N, M) arc-cosine kernel matrix of ``degree`` 0 or 1 (see the module docstring)."""
    if degree not in (0, 1):
        raise ValueError(f"degree must be 0 or 1, got {degree!r}")
    cos, denom = _cos_and_norms(X, Y)
    k = arccos_of_cosine(cos, degree) / 2
    return k if degree == 0 else denom * k


def arccos_kernel_mc(
    X: torch.Tensor, Y: torch.Tensor | None = None, degree: int = 1, *, n_samples: int, generator: torch.Generator | None = None,
    chunk: int = 65536,
) -> torch.Tensor:
    """Return a Monte Carlo estimate of :func:`arccos_kernel` from ``n_samples`` Gaussian weight vectors."""
    if degree not in (0, 1):
        raise ValueError(f"degree must be 0 or 1, got {degree!r}")
    if n_samples < 1:
        raise ValueError(f"n_samples must be a positive integer, got {n_samples!r}")
    Y = X if Y is None else Y
    out = torch.zeros(X.shape[0], Y.shape[0], dtype=X.dtype, device=X.device)
    done = 0
    while done < n_samples:
        b = min(chunk, n_samples - done)
        W = torch.randn(X.shape[1], b, dtype=X.dtype, generator=generator, device="cpu").to(X.device)
        ax, ay = X @ W, Y @ W
        if degree == 0:
            fx, fy = (ax > 0).to(X.dtype), (ay > 0).to(X.dtype)
        else:
            fx, fy = ax.clamp_min(0), ay.clamp_min(0)
        out += fx @ fy.T
        done += b
    return out / n_samples


def relu_ntk_limit(X: torch.Tensor, Y: torch.Tensor | None = None) -> torch.Tensor:
    """Return the limiting NTK ``(x·y) k0 + k1`` of ``f(x) = v·relu(Wx)/√m`` (both layers trained), (N, M)."""
    Yv = X if Y is None else Y
    return (X @ Yv.T) * arccos_kernel(X, Y, 0) + arccos_kernel(X, Y, 1)


def two_layer_relu_kernels(W: torch.Tensor, v: torch.Tensor, X: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Return the empirical ``(NTK, CK)`` of ``f(x) = v·relu(W x)/√m`` at ``(W, v)`` on ``X``.

    Shapes: ``W: (..., m, d)``, ``v: (..., m)``, ``X: (N, d)``; leading axes (seeds) are batched. With
    ``A = relu(X Wᵀ)`` and ``S = 1{X Wᵀ > 0}``::

        CK  = A Aᵀ / m
        NTK = (X Xᵀ) ⊙ (S diag(v²) Sᵀ) / m + CK

    (gradient w.r.t. ``W`` plus gradient w.r.t. ``v``), each ``(..., N, N)``; one GEMM per term, no loop
    over neurons.
    """
    m = W.shape[-2]
    pre = torch.einsum("nd,...md->...nm", X, W)
    A = pre.clamp_min(0)
    S = (pre > 0).to(X.dtype)
    ck = A @ A.transpose(-1, -2) / m
    sv = S * (v * v).unsqueeze(-2)
    ntk = (X @ X.T) * (sv @ S.transpose(-1, -2)) / m + ck
    return ntk, ck


def arccos_of_angle(theta: torch.Tensor, degree: int) -> torch.Tensor:
    """Return the arc-cosine function of an angle ``θ``, normalised to 1 at ``θ = 0``.

    ``κ0(θ) = (π − θ)/π`` and ``κ1(θ) = (sin θ + (π − θ) cos θ)/π`` (so ``arccos_of_cosine(cos θ)``). Taking the
    angle lets callers compute θ stably, e.g. ``2·atan2(‖x̄ − ȳ‖, ‖x̄ + ȳ‖)``, where ``arccos`` of a rounded
    cosine loses half the digits near θ = 0 and θ = π.
    """
    if degree == 0:
        return (math.pi - theta) / math.pi
    if degree == 1:
        return (torch.sin(theta) + (math.pi - theta) * torch.cos(theta)) / math.pi
    raise ValueError(f"degree must be 0 or 1, got {degree!r}")
