"""Paper 000: data generators, the two-layer ReLU model, its inits (eqs. 4, 8) and closed-form gradients.

Conventions follow the paper: **columns are samples**. ``X: (..., d, N)`` unit-norm inputs,
``Y: (..., n, N)`` responses, ``V: (..., n, 2m)`` output layer, ``W: (..., d, 2m)`` shared hidden layer;
leading axes (trials, grid points) are batched everywhere. Model ``F(V, W) = V relu(WᵀX)`` with **no 1/√m
and no bias**; loss ``½‖V relu(WᵀX) − Y‖_F²`` (eq. 1). ``J = 1[WᵀX ≥ 0]`` (ReLU'(0) := 1). ``vec`` is
column-first: entry ``(l, j)`` of an ``n × N`` matrix sits at ``l + n·j``.

Random draws are made on the device of the generator ``gen`` (``ctx.generator(...)``), never on torch's
default device.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from .. import validate


# ------------------------------------------------------------------------------------------------ data
def sphere(k: int, N: int, *, gen: torch.Generator, batch: tuple = (), dtype=torch.float64, device=None) -> torch.Tensor:
    """Return ``(*batch, k, N)`` points i.i.d. uniform on the unit sphere S^{k−1} (columns are samples)."""
    k, N = validate.positive_int("k", k), validate.positive_int("N", N)
    G = torch.randn(*batch, k, N, generator=gen, dtype=dtype, device=gen.device)
    G = G / G.norm(dim=-2, keepdim=True)
    return G if device is None else G.to(device)


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
        A = torch.randn(*batch, n, r, generator=gen, dtype=dtype, device=gen.device)
        Y = A @ torch.randn(*batch, r, N, generator=gen, dtype=dtype, device=gen.device)
    elif kind == "embedded":
        Q, _ = torch.linalg.qr(torch.randn(*batch, n, r, generator=gen, dtype=dtype, device=gen.device))
        Y = Q @ torch.randn(*batch, r, N, generator=gen, dtype=dtype, device=gen.device)
    else:
        raise ValueError(f"kind must be 'product' or 'embedded', got {kind!r}")
    Y = Y / Y.norm(dim=-2, keepdim=True)
    return Y if device is None else Y.to(device)


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
        t = torch.as_tensor(c, dtype=torch.float64, device="cpu")
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
    Phi = torch.randn(*batch, n, m, generator=gen, dtype=dtype, device=gen.device)
    Psi = torch.randn(*batch, d, m, generator=gen, dtype=dtype, device=gen.device)
    half_v, half_w = t1.to(Phi) * Phi, t2.to(Psi) * Psi
    net = Net(torch.cat([half_v, -half_v], -1), torch.cat([half_w, half_w], -1))
    return net if device is None else Net(net.V.to(device), net.W.to(device))


def init_sketch(Y: torch.Tensor, d: int, m: int, c1, c2, *, gen: torch.Generator, dtype=torch.float64) -> Net:
    """Return the sketching init (eq. 8): ``V0 = [c1YΦ, −c1YΦ]``, ``W0 = [c2Ψ, c2Ψ]`` with ``Φ: N×m``.

    ``Y: (..., n, N)``; batch axes of ``Y`` are the batch of the returned net. ``col(V0) ⊆ col(Y)``.
    """
    d, m = validate.positive_int("d", d), validate.positive_int("m (half width)", m)
    t1, t2 = _check_scales(c1, c2)
    batch, N = Y.shape[:-2], Y.shape[-1]
    Phi = torch.randn(*batch, N, m, generator=gen, dtype=dtype, device=gen.device).to(Y.device)
    Psi = torch.randn(*batch, d, m, generator=gen, dtype=dtype, device=gen.device).to(Y.device)
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


