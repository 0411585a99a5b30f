"""Paper 000 ("near-linear width ReLU networks with unbalanced initialisation"): model, inits, kernels,
GD/NAG in the paper's form, and the theory's predictions.

Conventions follow the paper (not the rest of ``nbs_lib``): **columns are samples**.

* ``X: (..., d, N)`` unit-norm inputs, ``Y: (..., n, N)`` responses, ``V: (..., n, 2m)`` output layer,
  ``W: (..., d, 2m)`` shared hidden layer; leading axes (trials, grid points) are batched everywhere.
* Model ``F(V, W) = V relu(Wᵀ X)`` with **no 1/√m and no bias**; loss ``½‖V relu(WᵀX) − Y‖_F²`` (a sum),
  eq. (1). Residual ``R = V relu(WᵀX) − Y``; activation pattern ``J = 1[WᵀX ≥ 0]`` (ReLU'(0) := 1).
* ``vec`` is column-first: entry ``(l, j)`` of an ``n × N`` matrix sits at ``l + n·j`` (one block of n per
  sample), the same layout as :func:`nbs_lib.ntk.empirical_ntk` (output index fastest).

Contents: data generators (uniform sphere, low-rank responses); the coupled unbalanced init (eq. 4) and the
sketching init (eq. 8); closed-form gradients (§2.1); the kernels ``K̄``, ``Ḡ`` (limits, via
:mod:`nbs_lib.kernels`), ``K_t``, ``G_t``, ``H_t = K_t + G_t`` (§2.2, App. D) built by one GEMM, their
matrix-free products, the restricted ``Nr × Nr`` kernel for the sketching init; extreme eigenvalues (dense
and Lanczos); GD (eq. 2) and NAG (eq. 3, with ``V_{−1} = V_0``); Proposition 3.7's linear residual system,
Lemma 3.8's rates and the Table 1 width calculator.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import torch

from . import kernels as _kernels
from . import validate
from . import optim

__all__ = [
    "sphere", "lowrank_responses", "response_stats", "Net", "init_unbalanced", "init_sketch", "pad_neurons",
    "forward", "residual", "loss", "grads", "grads_autograd", "vec", "unvec", "kbar", "gbar", "kbar_mc",
    "gbar_mc", "ntk_hidden", "ntk_hidden_loop", "ck_kernel", "full_kernel", "ntk_matvec", "ck_matvec",
    "restricted_ntk", "extreme_eigs", "step_params", "train", "Trace", "TrainResult",
    "rho_gd", "nag_root_moduli", "rho_nag", "t_nag_matrix", "iters_pred", "theorem_theta",
    "linear_model", "width_table", "t_nag_norms", "draw_problem", "iters_to", "fig2_grid", "regime_sweep", "lemma36_bounds", "lemma43_bounds", "check_guardrails",
]


# ------------------------------------------------------------------------------------------------ checks
# ------------------------------------------------------------------------------------------------ data
def sphere(k: int, N: int, *, gen: torch.Generator, batch: tuple = (), dtype=torch.float64, device=None) -> torch.Tensor:
    """Return ``(*batch, k, N)`` points i.i.d. uniform on the unit sphere S^{k−1} (columns are samples)."""
    k, N = validate.positive_int("k", k), validate.positive_int("N", N)
    G = torch.randn(*batch, k, N, generator=gen, dtype=dtype)
    return (G / G.norm(dim=-2, keepdim=True)).to(device or "cpu")


def lowrank_responses(n: int, N: int, r: int, *, gen: torch.Generator, batch: tuple = (), kind: str = "product",
                      dtype=torch.float64, device=None) -> torch.Tensor:
    """Return rank-``r`` responses ``(*batch, n, N)`` with unit-norm columns (Fig. 2 of paper 000).

    ``kind="product"``: ``Ỹ = Ỹ1 Ỹ2ᵀ`` with Gaussian ``Ỹ1: n×r``, ``Ỹ2: N×r`` (the paper's recipe);
    ``kind="embedded"`` (our extension): ``Y = Q Z`` with ``Q: n×r`` orthonormal, ``Z: r×N`` Gaussian.
    Columns are then normalised (the rank stays ``r``).
    """
    n, N, r = validate.positive_int("n", n), validate.positive_int("N", N), validate.positive_int("r", r)
    if r > min(n, N):
        raise ValueError(f"r must be an integer in [1, min(n, N)] = [1, {min(n, N)}], got {r}")
    if kind == "product":
        Y = torch.randn(*batch, n, r, generator=gen, dtype=dtype) @ torch.randn(*batch, r, N, generator=gen, dtype=dtype)
    elif kind == "embedded":
        Q, _ = torch.linalg.qr(torch.randn(*batch, n, r, generator=gen, dtype=dtype))
        Y = Q @ torch.randn(*batch, r, N, generator=gen, dtype=dtype)
    else:
        raise ValueError(f"kind must be 'product' or 'embedded', got {kind!r}")
    return (Y / Y.norm(dim=-2, keepdim=True)).to(device or "cpu")


def response_stats(Y: torch.Tensor, rtol: float = 1e-10) -> dict:
    """Return ``{r, sigma, kappa_r, U}`` of one ``(n, N)`` response matrix: numerical rank, singular values,
    ``κ(Y) = σ_1/σ_r`` and an orthonormal basis ``U: (n, r)`` of ``col(Y)``."""
    if Y.ndim != 2:
        raise ValueError(f"Y must be a single (n, N) matrix, got shape {tuple(Y.shape)}")
    U, s, _ = torch.linalg.svd(Y, full_matrices=False)
    r = int((s > rtol * s[0]).sum())
    return {"r": r, "sigma": s[:r], "kappa_r": float(s[0] / s[r - 1]), "U": U[:, :r]}


# ------------------------------------------------------------------------------------------------ model
@dataclass
class Net:
    """A two-layer ReLU network ``F = V relu(WᵀX)``: ``V: (..., n, 2m)``, ``W: (..., d, 2m)``."""

    V: torch.Tensor
    W: torch.Tensor

    @property
    def width(self) -> int:
        """Return the number of hidden neurons 2m."""
        return self.V.shape[-1]


def _check_scales(c1, c2):
    """Return c1, c2 as tensors of shape (..., 1, 1) (scalars or per-batch values)."""
    out = []
    for name, c in (("c1", c1), ("c2", c2)):
        t = torch.as_tensor(c, dtype=torch.float64)
        if not bool(torch.isfinite(t).all()) or bool((t <= 0).any()):
            raise ValueError(f"{name} must be finite and > 0, got {c!r}")
        out.append(t[..., None, None])
    return out


def init_unbalanced(n: int, d: int, m: int, c1, c2, *, gen: torch.Generator, batch: tuple = (),
                    dtype=torch.float64, device=None) -> Net:
    """Return the coupled unbalanced init (eq. 4): ``V0 = [c1Φ, −c1Φ]``, ``W0 = [c2Ψ, c2Ψ]``, width 2m.

    ``Φ: n×m``, ``Ψ: d×m`` standard Gaussian; the halves are exact copies, so the initial output is exactly
    zero. ``c1``, ``c2`` (standard deviations) may be tensors broadcasting against ``batch``.
    """
    n, d, m = validate.positive_int("n", n), validate.positive_int("d", d), validate.positive_int("m (half width)", m)
    t1, t2 = _check_scales(c1, c2)
    Phi = torch.randn(*batch, n, m, generator=gen, dtype=dtype)
    Psi = torch.randn(*batch, d, m, generator=gen, dtype=dtype)
    half_v, half_w = t1.to(dtype) * Phi, t2.to(dtype) * Psi
    dev = device or "cpu"
    return Net(torch.cat([half_v, -half_v], -1).to(dev), torch.cat([half_w, half_w], -1).to(dev))


def init_sketch(Y: torch.Tensor, d: int, m: int, c1, c2, *, gen: torch.Generator, dtype=torch.float64) -> Net:
    """Return the sketching init (eq. 8): ``V0 = [c1YΦ, −c1YΦ]``, ``W0 = [c2Ψ, c2Ψ]`` with ``Φ: N×m``.

    ``Y: (..., n, N)``; batch axes of ``Y`` are the batch of the returned net. ``col(V0) ⊆ col(Y)``.
    """
    d, m = validate.positive_int("d", d), validate.positive_int("m (half width)", m)
    t1, t2 = _check_scales(c1, c2)
    batch, N = Y.shape[:-2], Y.shape[-1]
    Phi = torch.randn(*batch, N, m, generator=gen, dtype=dtype).to(Y.device)
    Psi = torch.randn(*batch, d, m, generator=gen, dtype=dtype).to(Y.device)
    S = t1.to(Y) * (Y @ Phi)
    half_w = t2.to(Y) * Psi
    return Net(torch.cat([S, -S], -1), torch.cat([half_w, half_w], -1))


def pad_neurons(net: Net, width: int) -> Net:
    """Return ``net`` padded with zero neurons (``v = 0``, ``w = 0``) to ``width``: an exact no-op.

    A zero neuron has zero output and identically zero gradients (its feature relu(0) = 0 and its output
    weight is 0), so padded networks of different widths can be trained in one batch.
    """
    k = width - net.width
    if k < 0:
        raise ValueError(f"width must be >= the current width {net.width}, got {width}")
    zV = net.V.new_zeros(*net.V.shape[:-1], k)
    zW = net.W.new_zeros(*net.W.shape[:-1], k)
    return Net(torch.cat([net.V, zV], -1), torch.cat([net.W, zW], -1))


def _features(W, X):
    Z = W.transpose(-1, -2) @ X  # (..., 2m, N)
    return Z.clamp_min(0), (Z >= 0).to(X.dtype)


def forward(V: torch.Tensor, W: torch.Tensor, X: torch.Tensor) -> torch.Tensor:
    """Return the outputs ``V relu(WᵀX)``, ``(..., n, N)``."""
    return V @ _features(W, X)[0]


def residual(V, W, X, Y) -> torch.Tensor:
    """Return ``R = V relu(WᵀX) − Y`` (output minus target), ``(..., n, N)``."""
    return forward(V, W, X) - Y


def loss(V, W, X, Y) -> torch.Tensor:
    """Return the loss ``½‖V relu(WᵀX) − Y‖_F²`` of eq. (1), shape ``(...)``."""
    return 0.5 * residual(V, W, X, Y).square().sum((-1, -2))


def grads(V, W, X, Y):
    """Return ``(∇_V L, ∇_W L, L, R)`` in closed form (§2.1): ``∇_V = R Fᵀ``, ``∇_W = X((RᵀV) ⊙ Jᵀ)``.

    Costs about ``4mN(2d + 3n)`` flops; ReLU'(0) := 1 (the paper's convention). Computed in the
    ``(N, 2m)`` layout (``Fᵀ``, ``Jᵀ``) so that every elementwise pass is over contiguous memory.
    """
    Zt = X.transpose(-1, -2) @ W                      # (..., N, 2m)
    Ft = Zt.clamp_min(0)
    Rt = Ft @ V.transpose(-1, -2) - Y.transpose(-1, -2)  # (..., N, n)
    gV = Rt.transpose(-1, -2) @ Ft
    gW = X @ ((Rt @ V) * (Zt >= 0).to(X.dtype))
    return gV, gW, 0.5 * Rt.square().sum((-1, -2)), Rt.transpose(-1, -2)


def grads_autograd(V, W, X, Y):
    """Return ``(∇_V L, ∇_W L)`` by autograd (the reference for :func:`grads` in the tests)."""
    V = V.detach().clone().requires_grad_(True)
    W = W.detach().clone().requires_grad_(True)
    loss(V, W, X, Y).sum().backward()
    return V.grad, W.grad


# ------------------------------------------------------------------------------------------------ vec
def vec(R: torch.Tensor) -> torch.Tensor:
    """Return the column-first ``vec`` of ``R: (..., n, N)``, shape ``(..., N·n)`` (index ``l + n·j``)."""
    return R.transpose(-1, -2).reshape(*R.shape[:-2], -1)


def unvec(r: torch.Tensor, n: int, N: int) -> torch.Tensor:
    """Return the ``(..., n, N)`` matrix whose column-first ``vec`` is ``r: (..., N·n)``."""
    return r.reshape(*r.shape[:-1], N, n).transpose(-1, -2)


# ------------------------------------------------------------------------------------------------ kernels
def kbar(X: torch.Tensor) -> torch.Tensor:
    """Return the limiting hidden-layer NTK ``K̄_jk = x_jᵀx_k (π − arccos u_jk)/(2π)``, (N, N); ``X: (d, N)``."""
    Xr = X.transpose(-1, -2)
    return (Xr @ Xr.T) * _kernels.arccos_kernel(Xr, degree=0)


def gbar(X: torch.Tensor) -> torch.Tensor:
    """Return the limiting conjugate kernel ``Ḡ_jk = E_w[relu(wᵀx_j) relu(wᵀx_k)]`` (arc-cosine degree 1 / 2)."""
    return _kernels.arccos_kernel(X.transpose(-1, -2), degree=1)


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
                 positive_rtol: float | None = None, tol: float = 1e-10) -> tuple:
    """Return ``(λ_max, λ_min)`` of a symmetric PSD kernel (batched for ``method="dense"``).

    ``dense``: ``eigvalsh`` of ``K: (..., D, D)``; ``positive_rtol`` makes λ_min the smallest eigenvalue above
    ``positive_rtol·λ_max`` (the smallest *positive* one, e.g. for the unrestricted sketch-init K0).
    ``lanczos``: ARPACK (``scipy.sparse.linalg.eigsh``) on ``matvec(x: (D,)) -> (D,)`` of size ``dim``
    (one kernel, CPU; uses shift-free 'LA'/'SA').
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
                return matvec(torch.as_tensor(np.asarray(x).ravel(), dtype=torch.float64)).cpu().numpy()
        op = LinearOperator((dim, dim), matvec=mv, dtype=np.float64)
        lmax = eigsh(op, k=1, which="LA", tol=tol, return_eigenvectors=False)[0]
        lmin = eigsh(op, k=1, which="SA", tol=tol, return_eigenvectors=False, maxiter=20 * dim)[0]
        return float(lmax), float(lmin)
    raise ValueError(f"method must be 'dense' or 'lanczos', got {method!r}")


def step_params(L, mu, method: str = "nag"):
    """Return ``(η, β) = (1/L, (√L − √µ)/(√L + √µ))`` (β = 0 for ``"gd"``); tensors broadcast (batched)."""
    L, mu = torch.as_tensor(L, dtype=torch.float64), torch.as_tensor(mu, dtype=torch.float64)
    if not bool(((mu > 0) & (mu <= L) & torch.isfinite(L)).all()):
        raise ValueError(f"need 0 < mu <= L (finite), got L={L}, mu={mu}")
    if method not in ("gd", "nag"):
        raise ValueError(f"method must be 'gd' or 'nag', got {method!r}")
    beta = (L.sqrt() - mu.sqrt()) / (L.sqrt() + mu.sqrt()) if method == "nag" else torch.zeros_like(L)
    return 1.0 / L, beta


# ------------------------------------------------------------------------------------------------ training
@dataclass
class Trace:
    """What :func:`train` records at every iterate: residuals, movement radii, activation flips."""

    residuals: list = field(default_factory=list)     # vec(R_t), (B, Nn) each (if keep_residuals)
    R1: torch.Tensor | None = None                    # max_{i,t} ‖v_i(t) − v_i(0)‖, (B,)
    R2: torch.Tensor | None = None                    # max_{i,t} ‖w_i(t) − w_i(0)‖, (B,)
    flipped: torch.Tensor | None = None               # (B, 2m, N) bool: pattern ever differs from J_0
    off_subspace: list = field(default_factory=list)  # ‖(I − UUᵀ)R_t‖_F/‖Y‖_F, (B,) each (if U given)


@dataclass
class TrainResult:
    """Result of :func:`train`: losses ``(T+1, B)``, iterations to tol, the final net, the trace."""

    losses: np.ndarray
    hit: np.ndarray | None
    net: Net
    trace: Trace
    diverged: bool
    message: str


def train(net: Net, X, Y, *, eta, beta=0.0, steps: int, tol: float | None = None, track: bool = False,
          keep_residuals: bool = False, U: torch.Tensor | None = None) -> TrainResult:
    """Train ``net`` (batched over the leading axis) by GD (β = 0) or NAG (eq. 3) with closed-form gradients.

    ``eta``, ``beta``: floats or ``(B,)`` tensors. ``tol``: absolute loss tolerance (stop when every run is
    below). ``track``: record ``R_1``, ``R_2`` and the flip mask (Lemmas 3.9–3.10); ``keep_residuals``: the
    residual vectors (for Prop. 3.7); ``U``: orthonormal basis of col(Y) to record the off-subspace residual
    (Lemma 4.5). Non-finite losses stop the run with ``diverged=True`` and a message.
    """
    V0, W0 = net.V, net.W
    if V0.ndim != 3:
        raise ValueError(f"net.V must be batched (B, n, 2m), got shape {tuple(V0.shape)}")
    B = V0.shape[0]

    def col(v):
        t = torch.as_tensor(v, dtype=V0.dtype, device=V0.device)
        return t.reshape(-1, 1, 1) if t.ndim else t

    eta_t, beta_t = col(eta), col(beta)
    if not bool(torch.isfinite(eta_t).all()) or bool((eta_t <= 0).any()):
        raise ValueError(f"eta must be finite and > 0, got {eta!r}")
    if not bool(torch.isfinite(beta_t).all()) or bool(((beta_t < 0) | (beta_t >= 1)).any()):
        raise ValueError(f"beta must lie in [0, 1), got {beta!r}")
    d, N = X.shape[-2], X.shape[-1]
    if W0.shape[-2] != d or Y.shape[-1] != N or Y.shape[-2] != V0.shape[-2] or W0.shape[-1] != V0.shape[-1]:
        raise ValueError(f"shapes do not match: V {tuple(V0.shape)}, W {tuple(W0.shape)}, X {tuple(X.shape)}, "
                         f"Y {tuple(Y.shape)} (need V: (B, n, 2m), W: (B, d, 2m), X: (d, N), Y: (n, N))")
    tr = Trace()
    if track:
        tr.R1 = torch.zeros(B, dtype=V0.dtype, device=V0.device)
        tr.R2 = torch.zeros_like(tr.R1)
        J0 = (W0.transpose(-1, -2) @ X) >= 0
        tr.flipped = torch.zeros_like(J0)
    last = {}

    def lg(p):
        V, W = p
        gV, gW, L, R = grads(V, W, X, Y)
        last["p"] = p
        if keep_residuals:
            tr.residuals.append(vec(R).clone())
        if U is not None:
            off = R - U @ (U.transpose(-1, -2) @ R)
            tr.off_subspace.append((off.norm(dim=(-1, -2)) / Y.norm(dim=(-1, -2))).cpu())
        if track:
            tr.R1 = torch.maximum(tr.R1, (V - V0).norm(dim=-2).amax(-1))
            tr.R2 = torch.maximum(tr.R2, (W - W0).norm(dim=-2).amax(-1))
            tr.flipped |= ((W.transpose(-1, -2) @ X) >= 0) != J0
        return L, (gV, gW)

    res = optim.nag(lg, (V0, W0), eta=eta_t, beta=beta_t, steps=steps, tol=tol, on_divergence="record", first_step="gd")
    V, W = last.get("p", (V0, W0))
    return TrainResult(res.losses, res.hit, Net(V, W), tr, res.diverged, res.message)


# ------------------------------------------------------------------------------------------------ theory
def rho_gd(eigs, eta) -> float:
    """Return the GD contraction ``max_k |1 − η λ_k|`` of the linear residual map ``I − ηK`` (Lemma 3.8)."""
    e = np.asarray(eigs, dtype=float)
    return float(np.max(np.abs(1.0 - eta * e)))


def nag_root_moduli(x, beta) -> np.ndarray:
    """Return ``max |ζ±|`` for each ``x = ηλ``: roots of ``ζ² − (1+β)(1−x)ζ + β(1−x) = 0`` (Lemma 3.8)."""
    x = np.asarray(x, dtype=float)
    a = (1 + beta) * (1 - x)
    c = beta * (1 - x)
    disc = np.sqrt((a * a - 4 * c).astype(complex))
    return np.maximum(np.abs((a + disc) / 2), np.abs((a - disc) / 2))


def rho_nag(eigs, eta, beta) -> float:
    """Return the spectral radius of ``T_NAG`` (Prop. 3.7) from the kernel's eigenvalues."""
    return float(np.max(nag_root_moduli(eta * np.asarray(eigs, dtype=float), beta)))


def t_nag_matrix(K: torch.Tensor, eta: float, beta: float) -> torch.Tensor:
    """Return ``T_NAG = [[(1+β)(I − ηK), −β(I − ηK)], [I, 0]]`` (Prop. 3.7), ``(2D, 2D)``."""
    D = K.shape[-1]
    I = torch.eye(D, dtype=K.dtype, device=K.device)
    A = I - eta * K
    top = torch.cat([(1 + beta) * A, -beta * A], 1)
    bot = torch.cat([I, torch.zeros_like(I)], 1)
    return torch.cat([top, bot], 0)


def iters_pred(rho, eps) -> float:
    """Return ``ln(1/ε)/(2·(−ln ρ))``: steps for the *loss* (squared residual) to fall by ``ε``."""
    return float(np.log(1 / eps) / (-2 * np.log(rho)))


def theorem_theta(kappa_K0, method: str) -> float:
    """Return the proofs' residual factor θ (App. G): GD ``1 − 1/(2κ)``, NAG ``1 − 1/(2√κ)``."""
    if method == "gd":
        return 1 - 1 / (2 * kappa_K0)
    if method == "nag":
        return 1 - 1 / (2 * math.sqrt(kappa_K0))
    raise ValueError(f"method must be 'gd' or 'nag', got {method!r}")


def linear_model(H: torch.Tensor, r0: torch.Tensor, eta, beta, steps: int) -> torch.Tensor:
    """Return the residuals ``(T+1, ..., D)`` of Prop. 3.7 with ``ξ = 0``: ``r_{t+1} = (1+β)(I−ηH)r_t − β(I−ηH)r_{t−1}``,
    ``r_{−1} = r_0``. ``H: (..., D, D)``, ``r0: (..., D)``; ``eta``, ``beta`` floats or ``(...)`` tensors."""
    eta = torch.as_tensor(eta, dtype=r0.dtype, device=r0.device)[..., None]
    beta = torch.as_tensor(beta, dtype=r0.dtype, device=r0.device)[..., None]

    def A(r):
        return r - eta * (H @ r[..., None])[..., 0]

    out, prev, cur = [r0], r0, r0
    for _ in range(steps):
        nxt = (1 + beta) * A(cur) - beta * A(prev)
        prev, cur = cur, nxt
        out.append(cur)
    return torch.stack(out)


def width_table(N: int, n: int, lam: float, kappa: float, r: int | None = None, kappa_r: float | None = None):
    """Return Table 1 of paper 000 as a DataFrame with each width and rate formula evaluated (no constants/logs).

    ``λ`` = λ_N(K̄), ``κ`` = κ(K̄); rates are iteration counts per unit of ``log(1/ε)``.
    """
    import pandas as pd

    r = r or n
    kappa_r = kappa_r or 1.0
    rows = [
        ("scalar", "GD (Du et al. 2018)", "random", N**6 / lam**4, "N⁶λ⁻⁴", N**2 / lam**2, "N²λ⁻²"),
        ("scalar", "GD (Song & Yang 2019)", "random", N**4 / lam**4, "N⁴λ⁻⁴", N**2 / lam**2, "N²λ⁻²"),
        ("scalar", "HB (Wang et al. 2021)", "random", N**4 * kappa**2 / lam**4, "N⁴κ²λ⁻⁴", math.sqrt(kappa), "√κ"),
        ("scalar", "NAG (Liu et al. 2022b)", "random", N**4 * kappa**2 / lam**2, "N⁴κ²λ⁻²", math.sqrt(kappa), "√κ"),
        ("scalar", "GD (Munteanu et al. 2022)", "coupled", N**2 / lam**2, "N²λ⁻²", N**2 / lam**2, "N²λ⁻²"),
        ("scalar", "GD (paper, Thm 3.1)", "unbalanced", N / lam, "Nλ⁻¹", kappa, "κ"),
        ("scalar", "NAG (paper, Thm 3.2)", "unbalanced", N / lam, "Nλ⁻¹", math.sqrt(kappa), "√κ"),
        ("vector", "GD (Nguyen 2021)", "unbalanced", N, "N", float("nan"), "κ′ (CK)"),
        ("vector", "GD (paper, Thm 3.1)", "unbalanced", N * n / lam, "Nnλ⁻¹", n * kappa, "nκ"),
        ("vector", "NAG (paper, Thm 3.2)", "unbalanced", N * n / lam, "Nnλ⁻¹", math.sqrt(n * kappa), "√(nκ)"),
        ("vector", "NAG (paper, Thm 4.1)", "unbalanced", N * r * kappa_r**2 / lam, "Nrκ_r²λ⁻¹",
         math.sqrt(r * kappa * kappa_r), "√(rκκ_r)"),
    ]
    return pd.DataFrame(rows, columns=["output", "algorithm", "init", "width", "width formula", "rate",
                                       "rate formula"])


def lemma36_bounds(c1: float, m: int, n: int, lam: float, lam1: float) -> dict:
    """Return Lemma 3.6's bounds for init (4): ``µ ≥ ½c1²mλ``, ``L ≤ 9c1²mnλ_1(K̄)``, ``κ(K0) ≤ 18nκ``."""
    return {"mu_lower": 0.5 * c1**2 * m * lam, "L_upper": 9 * c1**2 * m * n * lam1, "kappa_upper": 18 * n * lam1 / lam}


def lemma43_bounds(c1: float, m: int, r: int, lam: float, lam1: float, sigma_r: float, sigma_1: float) -> dict:
    """Return Lemma 4.3's bounds for init (8): ``λ_{Nr} ≥ ½c1²mλσ_r²(Y)``, ``λ_1 ≤ 9c1²mrλ_1(K̄)‖Y‖²``."""
    return {"mu_lower": 0.5 * c1**2 * m * lam * sigma_r**2, "L_upper": 9 * c1**2 * m * r * lam1 * sigma_1**2}


def check_guardrails(*, m: int, d: int, N: int, n: int, L_K=None, L_H=None, eta_mult: float = 1.0,
                     method: str = "gd") -> list[str]:
    """Return warnings for a configuration (spec guardrails): ``m·d < Nn`` (K0 singular for init 4), and GD
    with ``η = c/λ_max(K0)`` diverging because ``η·λ_max(H0) > 2``."""
    out = []
    if m * d < N * n:
        out.append(f"m·d = {m * d} < N·n = {N * n}: K0 has rank ≤ m·d < Nn, so it is singular for init (4); "
                   "no linear rate is guaranteed")
    if L_K is not None and L_H is not None and method == "gd" and eta_mult * float(L_H) / float(L_K) > 2:
        out.append(f"η·λ_max(H0) = {eta_mult * float(L_H) / float(L_K):.2f} > 2: GD with η = {eta_mult:g}/λ_max(K0) "
                   "will diverge (the CK part G0 is not negligible); use the step from H0")
    return out


def t_nag_norms(eigs, eta, beta, powers: int = 0) -> dict:
    """Return the spectral radius and the operator 2-norm of ``T_NAG`` (and of ``T_NAG^t``, t ≤ ``powers``).

    ``T_NAG`` is block-diagonal (2 × 2 blocks) in the eigenbasis of a symmetric K0, so both are maxima over
    the eigenvalues ``k`` of the 2 × 2 blocks ``[[(1+β)(1−ηk), −β(1−ηk)], [1, 0]]``: exact, no 2D × 2D SVD.
    """
    a = 1 - eta * np.asarray(eigs, dtype=float)
    blocks = np.zeros((a.size, 2, 2))
    blocks[:, 0, 0], blocks[:, 0, 1], blocks[:, 1, 0] = (1 + beta) * a, -beta * a, 1.0
    out = {"spectral_radius": float(np.abs(np.linalg.eigvals(blocks)).max()),
           "op_norm": float(np.linalg.norm(blocks, 2, axis=(1, 2)).max())}
    if powers:
        P, norms = np.broadcast_to(np.eye(2), blocks.shape).copy(), []
        for _ in range(powers):
            P = P @ blocks
            norms.append(float(np.linalg.norm(P, 2, axis=(1, 2)).max()))
        out["power_norms"] = np.array(norms)
    return out


def draw_problem(trials: int, N: int, n: int, d: int, m: int, c1, c2, *, gen: torch.Generator,
                 dtype=torch.float64, device=None):
    """Return ``(X, Y, net)`` for ``trials`` independent draws of data (uniform spheres, E1) and init (4).

    Shapes ``X: (B, d, N)``, ``Y: (B, n, N)``, ``net.V: (B, n, 2m)``.
    """
    trials = validate.positive_int("trials", trials)
    X = sphere(d, N, gen=gen, batch=(trials,), dtype=dtype, device=device)
    Y = sphere(n, N, gen=gen, batch=(trials,), dtype=dtype, device=device)
    net = init_unbalanced(n, d, m, c1, c2, gen=gen, batch=(trials,), dtype=dtype, device=device)
    return X, Y, net


def iters_to(losses: np.ndarray, level: float) -> np.ndarray:
    """Return the first index where each column of ``losses: (T+1, B)`` is ≤ ``level`` (−1 if never)."""
    below = np.asarray(losses) <= level
    first = below.argmax(0)
    return np.where(below.any(0), first, -1)


def fig2_grid(ranks, alphas, *, trials: int, N: int, n: int, d: int, c1: float, c2: float, tol: float,
              max_iter: int, gen: torch.Generator, kind: str = "product", dtype=torch.float64, device=None):
    """Return a DataFrame with one row per (rank r, α, trial) of the Fig. 2 protocol (sketching init, NAG).

    For each r the trials draw inputs and rank-r responses; κ_r = κ(Y) per trial; the half width is
    ``m = max(1, round(α·N·r·κ_r²))``; (L, µ) are the extreme eigenvalues of the restricted ``Nr × Nr`` kernel
    (the nonzero spectrum of K0). Training runs in the compressed coordinates ``(UᵀV, UᵀY)`` (exactly
    equivalent, Lemma 4.5), the trials of one (r, α) batched with zero-neuron padding, until the absolute
    loss is below ``tol``. Columns: r, alpha, trial, m, kappa_r, kappa_bar, L, mu, kappa_K0, iters, pred.
    """
    import pandas as pd

    rows = []
    for r in ranks:
        X = sphere(d, N, gen=gen, batch=(trials,), dtype=dtype, device=device)
        Y = lowrank_responses(n, N, r, gen=gen, batch=(trials,), kind=kind, dtype=dtype, device=device)
        stats = [response_stats(Y[b]) for b in range(trials)]
        U = torch.stack([s["U"] for s in stats])                     # (B, n, r)
        Yc = U.transpose(-1, -2) @ Y                                  # (B, r, N)
        ek = torch.linalg.eigvalsh(torch.stack([kbar(X[b]) for b in range(trials)]))
        for a in alphas:
            ms = [max(1, int(round(a * N * r * s["kappa_r"] ** 2))) for s in stats]
            nets = [init_sketch(Y[b], d, ms[b], c1, c2, gen=gen, dtype=dtype) for b in range(trials)]
            width = 2 * max(ms)
            comp = [pad_neurons(Net(U[b].T @ nt.V, nt.W), width) for b, nt in enumerate(nets)]
            Vc = torch.stack([c.V for c in comp])
            Wc = torch.stack([c.W for c in comp])
            Kr = ntk_hidden(Vc, Wc, X)                                # = restricted kernel (padding exact)
            ev = torch.linalg.eigvalsh(Kr)
            L, mu = ev[:, -1], ev[:, 0]
            eta, beta = step_params(L, mu)
            res = train(Net(Vc, Wc), X, Yc, eta=eta, beta=beta, steps=max_iter, tol=tol)
            hit = res.hit if res.hit is not None else np.full(trials, -1)
            for b in range(trials):
                kap = float(L[b] / mu[b])
                rho = 1 - 1 / math.sqrt(kap)
                rows.append(dict(r=r, alpha=a, trial=b, m=ms[b], kappa_r=stats[b]["kappa_r"],
                                 kappa_bar=float(ek[b, -1] / ek[b, 0]), L=float(L[b]), mu=float(mu[b]), kappa_K0=kap,
                                 iters=int(hit[b]) if hit[b] >= 0 else np.nan,
                                 pred=iters_pred(rho, tol / float(res.losses[0, b])), diverged=res.diverged))
    return pd.DataFrame(rows)


def regime_sweep(N: int, n: int, d: int, m: int, ps, qs, *, T: int, trials: int, gen: torch.Generator,
                 dtype=torch.float64, device=None):
    """Return a DataFrame for the Figs 3–4 protocol: NAG for ``T`` steps at ``c1 = √(pq)``, ``c2 = √(p/q)``.

    ``p = c1c2`` (laziness) and ``q = c1/c2`` (NTK/CK mix). Per trial one draw of data and of ``Φ, Ψ``
    serves every (p, q): ``K0 = c1²K0(1,1)``, ``G0 = c2²G0(1,1)`` (the activation pattern does not depend on
    the scale), ``η = 1/λ_max(H0)``, ``β`` from ``λ_min(H0)``, ``H0 = K0 + G0``; the whole grid trains as one batch.
    Columns: N, p, q, trial, relW, relV, loss_T, kappa_H, kappa_lim (κ(qK̄ + q⁻¹Ḡ), the wide limit),
    loss_lin (the loss after T steps of the linear system of Prop. 3.7 driven by H0), diverged.
    """
    import pandas as pd

    ps, qs = np.asarray(ps, dtype=float), np.asarray(qs, dtype=float)
    P, Q = np.meshgrid(ps, qs, indexing="ij")
    P, Q = P.ravel(), Q.ravel()
    c1 = torch.as_tensor(np.sqrt(P * Q), dtype=dtype)
    c2 = torch.as_tensor(np.sqrt(P / Q), dtype=dtype)
    rows = []
    for b in range(trials):
        X = sphere(d, N, gen=gen, dtype=dtype, device=device)
        Y = sphere(n, N, gen=gen, dtype=dtype, device=device)
        unit = init_unbalanced(n, d, m, 1.0, 1.0, gen=gen, dtype=dtype, device=device)
        K11 = ntk_hidden(unit.V, unit.W, X, mirrored=True)
        G11 = ck_kernel(unit.W, X, n)
        Kb, Gb = kbar(X), gbar(X)
        qt = torch.as_tensor(qs, dtype=dtype, device=K11.device)[:, None, None]
        Hs = qt * K11 + G11 / qt                                      # (len(qs), Nn, Nn)
        ev = torch.linalg.eigvalsh(Hs)
        el = torch.linalg.eigvalsh(qt * Kb + Gb / qt)
        eta_q, beta_q = step_params(ev[:, -1], ev[:, 0])
        r_lin = linear_model(Hs, vec(-Y).expand(len(qs), -1), eta_q, beta_q, T)[-1]
        lam_H = dict(zip(qs, ev[:, -1].tolist()))
        mu_H = dict(zip(qs, ev[:, 0].tolist()))
        klim = dict(zip(qs, (el[:, -1] / el[:, 0]).tolist()))
        loss_lin = dict(zip(qs, (0.5 * r_lin.square().sum(-1)).tolist()))
        V = c1.to(device or "cpu")[:, None, None] * unit.V
        W = c2.to(device or "cpu")[:, None, None] * unit.W
        L = torch.as_tensor([P[i] * lam_H[Q[i]] for i in range(P.size)], dtype=dtype, device=V.device)
        mu = torch.as_tensor([P[i] * mu_H[Q[i]] for i in range(P.size)], dtype=dtype, device=V.device)
        eta, beta = step_params(L, mu)
        res = train(Net(V, W), X, Y, eta=eta, beta=beta, steps=T)
        Vt, Wt = res.net.V, res.net.W
        relW = ((Wt - W).flatten(1).norm(dim=1) / W.flatten(1).norm(dim=1)).cpu().numpy()
        relV = ((Vt - V).flatten(1).norm(dim=1) / V.flatten(1).norm(dim=1)).cpu().numpy()
        for i in range(P.size):
            rows.append(dict(N=N, p=P[i], q=Q[i], trial=b, relW=relW[i], relV=relV[i],
                             loss_T=float(res.losses[-1, i]) if not res.diverged else np.nan,
                             kappa_H=lam_H[Q[i]] / mu_H[Q[i]], kappa_lim=klim[Q[i]], loss_lin=loss_lin[Q[i]],
                             L=float(L[i]), diverged=res.diverged))
    return pd.DataFrame(rows)
