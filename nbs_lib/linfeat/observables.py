"""Observables of paper 001: feature alignment ρ_r (eq. 6), the right-hand sides of eqs. (7)–(8), ratio
statistics of ρ_r / v_r, closed-form NTKs (linear and ReLU, 1/m scaling), the target-aligned kernel of
Lemma 5.3 and kernel distances.

Shapes: ``X: (..., n, d)``, ``W: (..., d, m)``, ``v: (..., m)``, ``K = X Xᵀ: (..., n, n)``,
``P = X W: (..., n, m)``; leading axes batch independent runs.
"""
from __future__ import annotations

import torch


def data_constants(K: torch.Tensor, y: torch.Tensor) -> dict:
    """Return γ = yᵀKy, φ = ‖Ky‖², κ = φ/γ, S* = γ²/φ, ρ*, v*, L_floor and ‖y‖² (each of shape ``(...)``).

    ρ*² = γ^{5/2}/φ is the fixed point of eq. (11); v*² = γ^{3/2}/φ; ``L_floor = (‖y‖² − γ²/φ)/(2n)``.
    """
    Ky = (K @ y.unsqueeze(-1)).squeeze(-1)
    gamma = (y * Ky).sum(-1)
    phi = (Ky * Ky).sum(-1)
    y2 = (y * y).sum(-1)
    n = y.shape[-1]
    return dict(gamma=gamma, phi=phi, kappa=phi / gamma, S_star=gamma ** 2 / phi, rho_star=(gamma ** 2.5 / phi).sqrt(),
                v_star=(gamma ** 1.5 / phi).sqrt(), L_floor=(y2 - gamma ** 2 / phi) / (2 * n), y_norm2=y2)


def feature_alignment(W: torch.Tensor, W0: torch.Tensor, X: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Return ρ_r = ⟨w_r − w_r(0), Xᵀy⟩ (eq. 6), shape ``(..., m)``."""
    Xty = (X.transpose(-1, -2) @ y.unsqueeze(-1)).squeeze(-1)
    return ((W - W0) * Xty.unsqueeze(-1)).sum(-2)


def eq7_8_step(W: torch.Tensor, v: torch.Tensor, W0: torch.Tensor, X: torch.Tensor, y: torch.Tensor, eta: float):
    """Return ``(ρ(t+1), v(t+1))`` from the right-hand sides of eqs. (7)–(8) evaluated at ``(W(t), v(t))``.

    (7): ρ_r ← ρ_r + η v_r γ/(mn) − η v_r ⟨XᵀXWv, Xᵀy⟩/(m²n);
    (8): v_r ← v_r + η ρ_r/(mn) + η ⟨w_r(0), Xᵀy⟩/(mn) − η ⟨w_r, XᵀXWv⟩/(m²n).
    """
    d, m = W.shape[-2], W.shape[-1]
    n = X.shape[-2]
    Xty = (X.transpose(-1, -2) @ y.unsqueeze(-1)).squeeze(-1)                      # (..., d)
    gamma = (Xty * Xty).sum(-1, keepdim=True)
    XtXWv = (X.transpose(-1, -2) @ (X @ (W @ v.unsqueeze(-1)))).squeeze(-1)       # (..., d)
    rho = feature_alignment(W, W0, X, y)
    c = (W0 * Xty.unsqueeze(-1)).sum(-2)
    a = eta / (m * n)
    rho_next = rho + a * v * gamma - a / m * v * (XtXWv * Xty).sum(-1, keepdim=True)
    v_next = v + a * rho + a * c - a / m * (W * XtXWv.unsqueeze(-1)).sum(-2)
    return rho_next, v_next


def ratio_stats(rho: torch.Tensor, v: torch.Tensor) -> dict:
    """Return neuron statistics over the last axis (m): least-squares ratio ``R = Σρv/Σv²``, the median and
    mean of ρ_r/v_r, and the RMS of ρ and of v.
    """
    ratio = rho / v
    return dict(R=(rho * v).sum(-1) / (v * v).sum(-1), median=ratio.median(-1).values, mean=ratio.mean(-1),
                rms_rho=rho.pow(2).mean(-1).sqrt(), rms_v=v.pow(2).mean(-1).sqrt())


def ntk_linear(K: torch.Tensor, P: torch.Tensor, v: torch.Tensor, m: int | None = None) -> torch.Tensor:
    """Return the NTK of the linear net ``Θ = (‖v‖² K + P Pᵀ)/m²`` (exact), shape ``(..., n, n)``."""
    m = P.shape[-1] if m is None else m
    return ((v * v).sum(-1)[..., None, None] * K + P @ P.transpose(-1, -2)) / m ** 2


def ntk_relu(K: torch.Tensor, Z: torch.Tensor, v: torch.Tensor, m: int | None = None) -> torch.Tensor:
    """Return the NTK of ``f = relu(XW) v / m``: ``(K ⊙ (D diag(v²) Dᵀ) + A Aᵀ)/m²`` with ``Z = XW``,
    ``A = relu(Z)``, ``D = 1[Z > 0]`` (exact), shape ``(..., n, n)``.
    """
    m = Z.shape[-1] if m is None else m
    D = (Z > 0).to(Z.dtype)
    A = Z.clamp_min(0)
    return (K * ((D * (v * v).unsqueeze(-2)) @ D.transpose(-1, -2)) + A @ A.transpose(-1, -2)) / m ** 2


def target_aligned_kernel(K: torch.Tensor, y: torch.Tensor, v: torch.Tensor, m: int | None = None) -> torch.Tensor:
    """Return Θ̂ = (mean_r v_r²/m) · X(I + XᵀyyᵀX/γ)Xᵀ = (v̄²/m)(K + Ky yᵀK/γ) (Lemma 5.3, v_r² → its mean)."""
    m = v.shape[-1] if m is None else m
    Ky = (K @ y.unsqueeze(-1)).squeeze(-1)
    gamma = (y * Ky).sum(-1)
    v2 = (v * v).mean(-1)
    return (v2 / m)[..., None, None] * (K + Ky.unsqueeze(-1) * Ky.unsqueeze(-2) / gamma[..., None, None])


def spectral_norm(A: torch.Tensor) -> torch.Tensor:
    """Return the spectral norm of symmetric matrices ``A: (..., n, n)``."""
    return torch.linalg.eigvalsh(A).abs().amax(-1)


def kernel_rel_distance(Th: torch.Tensor, Th_hat: torch.Tensor, best_scale: bool = False) -> torch.Tensor:
    """Return ``‖Θ − cΘ̂‖₂ / ‖Θ‖₂`` with c = 1, or with the Frobenius-optimal c when ``best_scale``."""
    if best_scale:
        c = (Th * Th_hat).sum((-1, -2)) / (Th_hat * Th_hat).sum((-1, -2))
        Th_hat = c[..., None, None] * Th_hat
    return spectral_norm(Th - Th_hat) / spectral_norm(Th)


def kernel_target_alignment(Th: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Return the kernel–target alignment ``yᵀΘy / (‖Θ‖_F ‖y‖²)`` (1 for Θ ∝ yyᵀ)."""
    num = (y * (Th @ y.unsqueeze(-1)).squeeze(-1)).sum(-1)
    return num / (Th.pow(2).sum((-1, -2)).sqrt() * (y * y).sum(-1))


def alignment_cosine(K: torch.Tensor, P: torch.Tensor, P0: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Return |cos ∠(w_r − w_r(0), Xᵀy)| = |ρ_r| / (√γ ‖w_r − w_r(0)‖) from kernel quantities, shape ``(..., m)``.

    Uses ``w_r − w_r(0) = Xᵀ a_r`` with ``a_r = K⁻¹(P − P₀)_{:,r}`` (every update lies in the row space of X),
    so ``‖w_r − w_r(0)‖² = (P − P₀)_{:,r}ᵀ K⁻¹ (P − P₀)_{:,r}``; needs ``K`` invertible (n ≤ d).
    """
    dP = P - P0
    Kinv_dP = torch.linalg.solve(K, dP)
    norm2 = (dP * Kinv_dP).sum(-2).clamp_min(0)
    gamma = (y * (K @ y.unsqueeze(-1)).squeeze(-1)).sum(-1)
    rho = (y.unsqueeze(-1) * dP).sum(-2)
    return rho.abs() / (gamma.sqrt().unsqueeze(-1) * norm2.sqrt())


def lemma53_share(rho: torch.Tensor, v: torch.Tensor, gamma: torch.Tensor) -> torch.Tensor:
    """Return the share of neurons with ``|ρ_r − √γ v_r| ≤ |ρ_r|/2`` (Lemma 5.3, bullet 2), shape ``(...)``."""
    ok = (rho - gamma.sqrt().unsqueeze(-1) * v).abs() <= 0.5 * rho.abs()
    return ok.to(rho.dtype).mean(-1)
