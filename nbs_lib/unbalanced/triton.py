"""Triton kernel for paper 000: the hidden-layer kernel ``K0`` as a fused masked Khatri–Rao Gram.

``K[(j,l),(k,l')] = (x_jᵀx_k) Σ_i J_ij J_ik V_li V_l'i`` (vec index ``a = l + n·j``), i.e.
``K = (EᵀE) ⊙ ((XᵀX) ⊗ 1 1ᵀ)`` with ``E[i, a] = J_{i, a//n} V_{a%n, i}``. The reference
(:func:`nbs_lib.unbalanced.kernels.ntk_hidden`) materialises ``E`` (``2m × Nn``); the kernel forms tiles of ``E`` on
the fly from ``J`` and ``V`` inside the reduction over neurons, so the ``2m × Nn`` buffer is never written
(memory ``O(m·N + Nn·Nn)`` instead of ``O(m·Nn + Nn·Nn)``). One network, no batch axis.

Entry point: :func:`ntk_hidden_fused` with ``backend="auto" | "torch" | "triton"``
(:func:`nbs_lib.gpu.choose_backend`).
"""
from __future__ import annotations

import torch

from ..gpu import choose_backend, has_triton

if has_triton():  # pragma: no branch
    import triton
    import triton.language as tl

    @triton.jit
    def _k0_kernel(J_ptr, V_ptr, G_ptr, K_ptr, M, N, n, D,
                   BA: tl.constexpr, BB: tl.constexpr, BI: tl.constexpr):
        pid_a = tl.program_id(0)
        pid_b = tl.program_id(1)
        a = pid_a * BA + tl.arange(0, BA)          # row indices of K (a = l + n j)
        b = pid_b * BB + tl.arange(0, BB)
        ja, la = a // n, a % n
        jb, lb = b // n, b % n
        ma, mb = a < D, b < D
        acc = tl.zeros((BA, BB), dtype=tl.float64)
        for i0 in range(0, M, BI):
            i = i0 + tl.arange(0, BI)
            mi = i < M
            # E tiles: (BI, BA) and (BI, BB); J is (M, N) row-major, V is (n, M) row-major
            ea = tl.load(J_ptr + i[:, None] * N + ja[None, :], mask=mi[:, None] & ma[None, :], other=0.0) * \
                tl.load(V_ptr + la[None, :] * M + i[:, None], mask=mi[:, None] & ma[None, :], other=0.0)
            eb = tl.load(J_ptr + i[:, None] * N + jb[None, :], mask=mi[:, None] & mb[None, :], other=0.0) * \
                tl.load(V_ptr + lb[None, :] * M + i[:, None], mask=mi[:, None] & mb[None, :], other=0.0)
            acc += tl.sum(ea[:, :, None] * eb[:, None, :], axis=0)
        g = tl.load(G_ptr + ja[:, None] * N + jb[None, :], mask=ma[:, None] & mb[None, :], other=0.0)
        tl.store(K_ptr + a[:, None] * D + b[None, :], acc * g, mask=ma[:, None] & mb[None, :])


def _reference(V: torch.Tensor, W: torch.Tensor, X: torch.Tensor) -> torch.Tensor:
    from .kernels import ntk_hidden

    return ntk_hidden(V, W, X)


def ntk_hidden_fused(V: torch.Tensor, W: torch.Tensor, X: torch.Tensor, *, backend: str = "auto",
                     block: int = 16) -> torch.Tensor:
    """Return ``K0`` (``(Nn, Nn)``) of one network ``V: (n, 2m)``, ``W: (d, 2m)``, ``X: (d, N)``.

    Same signature and result as the PyTorch reference ``nbs_lib.unbalanced.kernels.ntk_hidden`` (unbatched); the
    Triton path never materialises the ``2m × Nn`` matrix ``E``.
    """
    if V.ndim != 2 or W.ndim != 2 or X.ndim != 2:
        raise ValueError(f"V, W, X must be 2-D (one network), got {tuple(V.shape)}, {tuple(W.shape)}, {tuple(X.shape)}")
    if block < 1 or block & (block - 1):
        raise ValueError(f"block must be a power of two, got {block}")
    if choose_backend(backend, X.device) == "torch":
        return _reference(V, W, X)
    n, M = V.shape
    N = X.shape[1]
    D = N * n
    J = ((W.T @ X) >= 0).to(X.dtype).contiguous()       # (M, N)
    G = (X.T @ X).contiguous()                           # (N, N)
    Vc = V.contiguous()
    K = torch.empty(D, D, dtype=X.dtype, device=X.device)
    grid = (triton.cdiv(D, block), triton.cdiv(D, block))
    _k0_kernel[grid](J, Vc, G, K, M, N, n, D, BA=block, BB=block, BI=block)
    return K
