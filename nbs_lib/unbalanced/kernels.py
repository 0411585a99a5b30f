"""Paper 000: the kernels. Limits ``K̄``, ``Ḡ`` (via :mod:`nbs_lib.kernels`), the empirical ``K_t``, ``G_t``,
``H_t = K_t + G_t`` (§2.2, App. D) by one GEMM, matrix-free products, the restricted ``Nr × Nr`` kernel of the
sketching init, and extreme eigenvalues (dense or Lanczos with a fixed start vector).
"""
from __future__ import annotations

from typing import Callable

import numpy as np
import torch

from .. import kernels as _kernels
from .model import _features


# ------------------------------------------------------------------------------------------------ kernels
def _gram_cos(X: torch.Tensor):
    """Return ``(XᵀX, cosines, ‖x_j‖‖x_k‖)`` for ``X: (..., d, N)`` (batched)."""
    G = X.transpose(-1, -2) @ X
    nx = X.norm(dim=-2)
    den = nx[..., :, None] * nx[..., None, :]
    return G, (G / den.clamp_min(torch.finfo(X.dtype).tiny)).clamp(-1.0, 1.0), den


def kbar(X: torch.Tensor) -> torch.Tensor:
    """Return the limiting hidden-layer NTK ``K̄_jk = x_jᵀx_k (π − arccos u_jk)/(2π)``, ``(..., N, N)``; ``X: (..., d, N)``."""
    G, u, _ = _gram_cos(X)
    return G * _kernels.arccos_of_cosine(u, 0) / 2


def gbar(X: torch.Tensor) -> torch.Tensor:
    """Return the limiting conjugate kernel ``Ḡ_jk = E_w[relu(wᵀx_j) relu(wᵀx_k)]`` (arc-cosine degree 1 / 2)."""
    _, u, den = _gram_cos(X)
    return den * _kernels.arccos_of_cosine(u, 1) / 2


def kbar_mc(X: torch.Tensor, n_samples: int, *, gen: torch.Generator) -> torch.Tensor:
    """Return a Monte Carlo estimate of :func:`kbar` from ``n_samples`` Gaussian hidden weights."""
    Xr = X.transpose(-1, -2)
    return (Xr @ Xr.T) * _kernels.arccos_kernel_mc(Xr, degree=0, n_samples=n_samples, generator=gen)


def gbar_mc(X: torch.Tensor, n_samples: int, *, gen: torch.Generator) -> torch.Tensor:
    """Return a Monte Carlo estimate of :func:`gbar`."""
    return _kernels.arccos_kernel_mc(X.transpose(-1, -2), degree=1, n_samples=n_samples, generator=gen)


def ntk_hidden(V, W, X, *, mirrored: bool = False, chunk: int = 4096) -> torch.Tensor:
    """Return the hidden-layer empirical NTK ``K = Σ_i B_iᵀ ⊗ A_i`` (§2.2), ``(..., Nn, Nn)``.

    One GEMM ("Gram–Kronecker trick"): ``E[i, l + n·j] = J_ij V_li``, ``K = (EᵀE) ⊙ ((XᵀX) ⊗ 1_n1_nᵀ)``,
    accumulated over chunks of ``chunk`` neurons (memory), never a Kronecker product per neuron.
    ``mirrored=True`` uses that at init (4)/(8) neuron ``i + m`` is neuron ``i`` with ``−v``: only the first
    half is read and the Gram doubled (exact at init only).
    """
    n, N = V.shape[-2], X.shape[-1]
    _, J = _features(W, X)
    M = V.shape[-1]
    if mirrored:
        if M % 2:
            raise ValueError(f"mirrored=True needs an even width, got {M}")
        M //= 2
    gram = None
    for s in range(0, M, chunk):
        e = min(M, s + chunk)
        E = (J[..., s:e, :, None] * V[..., :, s:e].transpose(-1, -2)[..., :, None, :]).reshape(*J.shape[:-2], e - s, N * n)
        g = E.transpose(-1, -2) @ E
        gram = g if gram is None else gram + g
    if mirrored:
        gram = 2 * gram
    XtX = X.transpose(-1, -2) @ X
    mask = XtX[..., :, None, :, None].expand(*XtX.shape[:-2], N, n, N, n).reshape(*XtX.shape[:-2], N * n, N * n)
    return gram * mask


def ntk_hidden_loop(V, W, X) -> torch.Tensor:
    """Return ``K = Σ_i B_iᵀ ⊗ A_i`` by the literal loop over neurons (benchmark reference only; one net)."""
    _, J = _features(W, X)
    XtX = X.T @ X
    n, N = V.shape[-2], X.shape[-1]
    K = torch.zeros(N * n, N * n, dtype=X.dtype, device=X.device)
    for i in range(V.shape[-1]):
        B = J[i][:, None] * XtX * J[i][None, :]
        K += torch.kron(B.T.contiguous(), torch.outer(V[:, i], V[:, i]))
    return K


def ck_kernel(W, X, n: int) -> torch.Tensor:
    """Return the output-layer kernel ``G = (FᵀF) ⊗ I_n``, ``F = relu(WᵀX)`` (§2.2), ``(..., Nn, Nn)``."""
    F, _ = _features(W, X)
    FtF = F.transpose(-1, -2) @ F
    N = FtF.shape[-1]
    eye = torch.eye(n, dtype=X.dtype, device=X.device)
    return (FtF[..., :, None, :, None] * eye[:, None, :]).reshape(*FtF.shape[:-2], N * n, N * n)


def full_kernel(V, W, X, *, mirrored: bool = False) -> torch.Tensor:
    """Return ``H = K + G``, the full (Gauss–Newton) empirical NTK of both layers (App. D)."""
    return ntk_hidden(V, W, X, mirrored=mirrored) + ck_kernel(W, X, V.shape[-2])


def ntk_matvec(V, W, X, R) -> torch.Tensor:
    """Return ``unvec(K vec(R)) = V (((VᵀR) ⊙ J)(XᵀX) ⊙ J)``, ``(..., n, N)``, without forming K."""
    _, J = _features(W, X)
    S = (V.transpose(-1, -2) @ R) * J
    return V @ ((S @ (X.transpose(-1, -2) @ X)) * J)


def ck_matvec(W, X, R) -> torch.Tensor:
    """Return ``unvec(G vec(R)) = R FᵀF``, ``(..., n, N)``."""
    F, _ = _features(W, X)
    return (R @ F.transpose(-1, -2)) @ F


def restricted_ntk(V, W, X, U, *, mirrored: bool = False) -> torch.Tensor:
    """Return the ``Nr × Nr`` kernel ``(I_N ⊗ U)ᵀ K (I_N ⊗ U) = K(UᵀV)`` for ``U: (n, r)`` orthonormal.

    When ``col(V) ⊆ col(U)`` (sketching init, Lemma 4.5) its spectrum is the nonzero spectrum of K.
    """
    return ntk_hidden(U.transpose(-1, -2) @ V, W, X, mirrored=mirrored)


def extreme_eigs(K=None, *, matvec: Callable | None = None, dim: int | None = None, method: str = "dense",
                 positive_rtol: float | None = None, tol: float = 1e-10, smallest: bool = True) -> tuple:
    """Return ``(λ_max, λ_min)`` of a symmetric PSD kernel (batched for ``method="dense"``).

    ``dense``: ``eigvalsh`` of ``K: (..., D, D)``; ``positive_rtol`` makes λ_min the smallest eigenvalue above
    ``positive_rtol·λ_max`` (the smallest *positive* one, e.g. for the unrestricted sketch-init K0).
    ``lanczos``: ARPACK (``scipy.sparse.linalg.eigsh``) on ``matvec(x: (D,)) -> (D,)`` of size ``dim``
    (one kernel, CPU; uses shift-free 'LA'/'SA'; ``smallest=False`` skips λ_min and returns NaN for it).
    """
    if method == "dense":
        if K is None:
            raise ValueError("method='dense' needs the matrix K")
        ev = torch.linalg.eigvalsh(K)
        lmax = ev[..., -1]
        if positive_rtol is None:
            return lmax, ev[..., 0]
        big = torch.where(ev > positive_rtol * lmax[..., None], ev, torch.full_like(ev, float("inf")))
        return lmax, big.min(-1).values
    if method == "lanczos":
        from scipy.sparse.linalg import LinearOperator, eigsh

        if matvec is None:
            if K is None:
                raise ValueError("method='lanczos' needs K or matvec")
            Kn = K.detach().cpu().numpy()
            mv = lambda x: Kn @ x  # noqa: E731
            dim = Kn.shape[0]
        else:
            if dim is None:
                raise ValueError("dim must be given with matvec")

            def mv(x):
                return matvec(torch.as_tensor(np.asarray(x).ravel(), dtype=torch.float64, device="cpu")).cpu().numpy()
        op = LinearOperator((dim, dim), matvec=mv, dtype=np.float64)
        v0 = np.ones(dim) / np.sqrt(dim)  # fixed start vector: same numbers on every run (ARPACK's is random)
        lmax = eigsh(op, k=1, which="LA", tol=tol, return_eigenvectors=False, v0=v0)[0]
        if not smallest:  # a singular kernel: Lanczos for the smallest eigenvalue need not converge
            return float(lmax), float("nan")
        lmin = eigsh(op, k=1, which="SA", tol=tol, return_eigenvectors=False, maxiter=20 * dim, v0=v0)[0]
        return float(lmax), float(lmin)
    raise ValueError(f"method must be 'dense' or 'lanczos', got {method!r}")


