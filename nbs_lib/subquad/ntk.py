"""Closed-form multi-layer kernels of paper 003 (Def. E.3, Lemmas E.4–E.5), index-corrected (errata E8–E11).

With ``K_0 = XᵀX`` (``X: (d, n)``, columns are samples) and, for layer ℓ = 1..L−1,
``K_ℓ(i,j) = E[ψ(u)ψ(v)]``, ``(u, v) ~ N(0, 2Σ)``, ``Σ`` the 2×2 block of ``K_{ℓ−1}`` and ``ψ(u) = √m·φ(u/√m)``
(threshold ``√2·b``). With ``σ_i = √K(i,i)``, ``ρ`` the correlation, ``h = b/σ_i``, ``k = b/σ_j``, ``s = √(1−ρ²)``:

    Λ(h,k;ρ)   = P(X>h, Y>k) = ∫_h^∞ ϕ(x) Q((k−ρx)/s) dx
    M10(h,k;ρ) = E[X 1{X>h,Y>k}] = ϕ(h)Q((k−ρh)/s) + ρϕ(k)Q((h−ρk)/s)
    M11(h,k;ρ) = ρΛ + ρhϕ(h)Q((k−ρh)/s) + ρkϕ(k)Q((h−ρk)/s) + (s/2π)·exp(−(h²−2ρhk+k²)/(2s²))
    threshold: K = 2cσ_iσ_j M11;   shifted: K = 2cσ_iσ_j [M11 − k M10(h,k) − h M10(k,h) + hkΛ]
    K̇_L = c·Λ (Σ from K_{L−1});    last-layer NTK  Θ_L = K_{L−1} ⊙ K̇_L   (limit of G_L(0)/m)

Λ is computed by 256-node Gauss–Legendre quadrature in float64.
"""
from __future__ import annotations

import functools
import math

import numpy as np
import torch

from . import activations as act

_SQ2 = math.sqrt(2.0)


def _f64(t) -> torch.Tensor:
    return t.to(torch.float64) if isinstance(t, torch.Tensor) else torch.as_tensor(t, dtype=torch.float64, device="cpu")


def _Qt(x: torch.Tensor) -> torch.Tensor:
    return 0.5 * torch.erfc(x / _SQ2)


def _pdf(x: torch.Tensor) -> torch.Tensor:
    return torch.exp(-0.5 * x * x) / math.sqrt(2 * math.pi)


@functools.lru_cache(maxsize=8)
def _gauss_legendre(n_nodes: int) -> tuple[np.ndarray, np.ndarray]:
    """Return the Gauss–Legendre nodes and weights on [−1, 1] (cached: numpy computes them by an eigensolve)."""
    return np.polynomial.legendre.leggauss(n_nodes)


def bvn_orthant(h: torch.Tensor, k: torch.Tensor, rho: torch.Tensor, n_nodes: int = 256) -> torch.Tensor:
    """Return ``Λ(h,k;ρ) = P(X>h, Y>k)`` for a standard bivariate normal with correlation ``ρ`` (|ρ| < 1), elementwise."""
    h, k, rho = torch.broadcast_tensors(*(_f64(t) for t in (h, k, rho)))
    t, w = _gauss_legendre(n_nodes)
    t = torch.as_tensor(t, dtype=h.dtype, device=h.device)
    w = torch.as_tensor(w, dtype=h.dtype, device=h.device)
    lo = h.unsqueeze(-1)
    hi = (torch.clamp(h, min=0) + 12.0).unsqueeze(-1)
    x = lo + (hi - lo) * (t + 1) / 2
    s = torch.sqrt(torch.clamp(1 - rho * rho, min=1e-300)).unsqueeze(-1)
    integrand = _pdf(x) * _Qt((k.unsqueeze(-1) - rho.unsqueeze(-1) * x) / s)
    return (integrand * w).sum(-1) * (hi - lo).squeeze(-1) / 2


def trunc_moments(h, k, rho):
    """Return ``(Λ, M10(h,k), M10(k,h), M11)`` of the truncated standard bivariate normal (see the module docstring)."""
    h, k, rho = torch.broadcast_tensors(*(_f64(t) for t in (h, k, rho)))
    s = torch.sqrt(1 - rho * rho)
    lam = bvn_orthant(h, k, rho)
    qK = _Qt((k - rho * h) / s)
    qH = _Qt((h - rho * k) / s)
    m10_hk = _pdf(h) * qK + rho * _pdf(k) * qH
    m10_kh = _pdf(k) * qH + rho * _pdf(h) * qK
    m11 = rho * lam + rho * h * _pdf(h) * qK + rho * k * _pdf(k) * qH + s / (2 * math.pi) * torch.exp(
        -(h * h - 2 * rho * h * k + k * k) / (2 * s * s))
    return lam, m10_hk, m10_kh, m11


def _layer(K: torch.Tensor, b: float, kind: str, c: float, rho_clip: float = 1 - 1e-9):
    """Return (K_next, Kdot) from K_{ℓ−1} (n×n) by the closed forms; diagonals use the ρ = 1 formulas."""
    sig = torch.sqrt(torch.diagonal(K).clamp_min(1e-300))
    rho = (K / torch.outer(sig, sig)).clamp(-rho_clip, rho_clip)
    h = (b / sig).unsqueeze(1).expand_as(K)
    k = (b / sig).unsqueeze(0).expand_as(K)
    lam, m10_hk, m10_kh, m11 = trunc_moments(h, k, rho)
    ss = torch.outer(sig, sig)
    if kind == "threshold":
        Kn = 2 * c * ss * m11
    else:
        Kn = 2 * c * ss * (m11 - k * m10_hk - h * m10_kh + h * k * lam)
    Kd = c * lam
    beta = b / sig
    qb, pb = _Qt(beta), _pdf(beta)
    if kind == "threshold":
        dK = 2 * c * sig ** 2 * (qb + beta * pb)
    else:
        dK = 2 * c * sig ** 2 * ((1 + beta ** 2) * qb - beta * pb)
    idx = torch.arange(K.shape[0], device=K.device)
    Kn[idx, idx] = dK
    Kd[idx, idx] = c * qb
    return Kn, Kd


def ntk_kernels(X: torch.Tensor, L: int, b: float, kind: str = "shifted") -> dict:
    """Return the limiting kernels on ``X: (d, n)``.

    ``{'K': [K_0..K_{L−1}], 'Kdot': K̇_L, 'Theta': Θ_L = K_{L−1} ⊙ K̇_L, 'lam_L': λ_min(K̇_L),
    'lam_Theta': λ_min(Θ_L)}`` (float64, n×n each).
    """
    if X.ndim != 2:
        raise ValueError(f"X must be (d, n), got shape {tuple(X.shape)}")
    if not isinstance(L, int) or L < 2:
        raise ValueError(f"L must be an integer ≥ 2 (the paper's depth), got {L!r}")
    c = act.normalisation(kind, b)
    X = X.to(torch.float64)
    Ks = [X.T @ X]
    Kd = None
    for _ in range(1, L):
        Kn, _kd = _layer(Ks[-1], b, kind, c)
        Ks.append(Kn)
    _, Kd = _layer(Ks[-1], b, kind, c)
    Theta = Ks[-1] * Kd
    return {"K": Ks, "Kdot": Kd, "Theta": Theta, "lam_L": float(torch.linalg.eigvalsh(Kd)[0]),
            "lam_Theta": float(torch.linalg.eigvalsh(Theta)[0])}
