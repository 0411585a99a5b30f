"""Finite-width NTKs of the GReLU and ReLU networks of paper 004 and the quantities derived from them.

The exact NTK w.r.t. the trained ``W`` (spec §1.7(a), eq. (24)), its expectation given the gates (§1.7(b)),
an autograd reference (``nbs_lib.ntk``), Theorem 5's per-example layer spectra, ``λ_max`` / step sizes in NTK
units, Gram condition numbers and the linearised-GD step count.
"""
from __future__ import annotations

import math

import numpy as np
import torch

from .. import validate
from .model import GateTable, GReLUNet, _Net

def ntk(net: _Net, X: torch.Tensor, masks=None) -> torch.Tensor:
    """Return the exact finite-width NTK w.r.t. the trained ``W``: ``(S, n, d_y, n, d_y)`` (spec §1.7(a), eq. (24)).

    ``K_pq(x_i, x_j) = Σ_k ⟨b_k^{i,p}, b_k^{j,q}⟩ ⟨g_{k-1}^i, g_{k-1}^j⟩`` with ``b_L = D_L Bᵀ e_p`` and
    ``b_{k-1} = D_{k-1} W_kᵀ b_k``; the same formula holds for ReLU nets with their own patterns.
    """
    G, M = net.features(X, masks)
    S, n, dy = net.S, X.shape[0], net.B.shape[1]
    b = net.B[:, :, None, :] * M[-1][:, None]  # (S, dy, n, m)
    K = torch.zeros(S, dy, n, dy, n, dtype=G[0].dtype, device=G[0].device)
    for k in range(net.L, 0, -1):
        gram = G[k - 1] @ G[k - 1].transpose(-1, -2)  # (S, n, n)
        bb = torch.einsum("spig,sqjg->spiqj", b, b)
        K += bb * gram[:, None, :, None, :]
        if k > 1:
            b = (b @ net.W[:, k - 1][:, None]) * M[k - 1][:, None]
    return K.permute(0, 2, 1, 4, 3)


def ntk_gram(net: _Net, X, masks=None, p: int = 0) -> torch.Tensor:
    """Return the NTK Gram of output ``p``, ``(S, n, n)``."""
    return ntk(net, X, masks)[:, :, p, :, p]


def ntk_gate_expected(net: GReLUNet, X, masks=None) -> torch.Tensor:
    """Return ``E_{W,B}[K(x_i,x_j) | C, Ψ] = L (m/d_y) ⟨relu(Cx_i), relu(Cx_j)⟩ Π_l 2 o_l(i,j)/m``, ``(S, n, n)`` (spec §1.7(b)).

    Valid for σ² = 2 (paper init); ``o_l`` is the gate overlap of layer ``l``; exact in expectation over ``W, B``.
    """
    if masks is None:
        masks = net.gate_masks(X)
    M = [mm.to(net.C.dtype) for mm in (masks.dense(net.C.dtype) if isinstance(masks, GateTable) else masks)]
    A = (X.to(net.C.dtype) @ net.C.transpose(-1, -2)).clamp_min(0)
    K = net.L * net.m / net.cfg.d_y * (A @ A.transpose(-1, -2))
    for l in range(1, net.L + 1):
        K = K * (2 * (M[l] @ M[l].transpose(-1, -2)) / net.m)
    return K


def autograd_ntk(net: _Net, X: torch.Tensor, seed_index: int = 0, masks=None) -> torch.Tensor:
    """Return the NTK of seed ``seed_index`` by ``nbs_lib.ntk.empirical_ntk`` (autograd reference), ``(n·d_y, n·d_y)``."""
    from ..ntk import empirical_ntk

    s = seed_index
    C, B = net.C[s], net.B[s]
    if isinstance(net, GReLUNet):
        Ms = net._float_masks(X, masks)
        Mi = torch.stack([mm[s] for mm in Ms], dim=1)  # (n, L+1, m)
        Xa = torch.cat([X.to(C.dtype), Mi.reshape(X.shape[0], -1)], dim=1)

        def fn(p, xa):
            x, mk = xa[: net.cfg.d_x], xa[net.cfg.d_x:].reshape(net.L + 1, net.m)
            g = (C @ x).clamp_min(0)
            for k in range(net.L):
                g = (p["W"][k] @ g) * mk[k + 1]
            return B @ g
    else:
        Xa = X.to(C.dtype)

        def fn(p, x):
            h = (C @ x).clamp_min(0)
            for k in range(net.L):
                h = p["W"][k] @ h
                if k < net.L - 1 or net.last_relu:
                    h = h.clamp_min(0)
            return B @ h
    return empirical_ntk(fn, {"W": net.W[s]}, Xa)


def layer_spectra(net: _Net, X, masks=None) -> tuple[np.ndarray, np.ndarray]:
    """Return the eigenvalues of ``G_kᵀG_k`` (units ``m/d_x``) and ``F_{k+1}F_{k+1}ᵀ`` (units ``m/d_y``) over examples and layers.

    ``G_k = D_k W_k ⋯ D_1 W_1 D_0 C`` (``m×d_x``) and ``F_{k+1} = B D_L W_L ⋯ W_{k+1} D_k`` (``d_y×m``) per
    example (Theorem 5 / eqs. (14)–(15)); returns flat arrays ``(S·n·L·d_x,)`` and ``(S·n·L·d_y,)``.
    """
    _, M = net.features(X, masks)
    Gm = M[0][..., None] * net.C[:, None]  # (S, n, m, d_x)
    ev_g = []
    for k in range(net.L):
        ev_g.append(torch.linalg.eigvalsh(Gm.transpose(-1, -2) @ Gm))
        Gm = M[k + 1][..., None] * (net.W[:, k][:, None] @ Gm)
    Fm = net.B[:, None] * M[-1][:, :, None, :]  # (S, n, d_y, m)
    ev_f = []
    for k in range(net.L, 0, -1):
        ev_f.append(torch.linalg.eigvalsh(Fm @ Fm.transpose(-1, -2)))
        Fm = (Fm @ net.W[:, k - 1][:, None]) * M[k - 1][:, :, None, :]
    ux, uy = net.m / net.cfg.d_x, net.m / net.cfg.d_y
    return (torch.cat([e.flatten() for e in ev_g]).cpu().numpy() / ux, torch.cat([e.flatten() for e in ev_f]).cpu().numpy() / uy)


def lambda_max(net: _Net, X, masks=None) -> torch.Tensor:
    """Return ``λ_max`` of the output-0 NTK Gram per seed, ``(S,)``."""
    return torch.linalg.eigvalsh(ntk_gram(net, X, masks))[:, -1]


def eta_ntk(net: _Net, X, c: float = 1.0, masks=None) -> torch.Tensor:
    """Return the step ``c / λ_max(K_0)`` per seed, ``(S,)`` (GD on the sum loss is stable for ``c < 2``)."""
    validate.positive("c", c)
    return c / lambda_max(net, X, masks)


def gram_condition(K: torch.Tensor) -> torch.Tensor:
    """Return ``λ_max/λ_min`` of symmetric ``K: (..., n, n)``."""
    ev = torch.linalg.eigvalsh(K)
    return ev[..., -1] / ev[..., 0]


def kernel_gd_steps(K: torch.Tensor, eps: float = 1e-6, c: float = 1.0, max_steps: int = 10 ** 7) -> int:
    """Return the steps that linearised GD ``r ← (I − ηK) r``, ``η = c/λ_max``, needs to reduce ``‖r‖²`` by ``eps`` (worst eigen-direction).

    Exact for the worst case: ``T = ⌈log(eps) / (2 log(1 − η λ_min))⌉``.
    """
    ev = torch.linalg.eigvalsh(K.to(torch.float64))
    rate = abs(1 - c * float(ev[0] / ev[-1]))
    rate = max(rate, abs(1 - c))
    if rate >= 1:
        return max_steps
    return int(math.ceil(math.log(eps) / (2 * math.log(rate))))


