"""The multi-layer network of paper 003 (§2.2, Def. F.1), its features, and the exact-in-law sampler.

Notation as in the paper: ``X: (d, n)`` (columns are samples), ``W_1: (m, d)``, ``W_ℓ: (m, m)`` for ℓ ≥ 2, every entry
i.i.d. ``N(0, c_w/m)`` (``c_w = 2``: He scaling), ``a ∈ {±c_a}^m`` never trained, no biases, and

    h_{i,0} = x_i,   g_{i,ℓ} = W_ℓ h_{i,ℓ−1},   h_{i,ℓ} = φ(g_{i,ℓ}),   f(W, x_i) = aᵀ h_{i,L}   (no 1/√m).

Matrices: ``H_ℓ = [h_{1,ℓ} … h_{n,ℓ}]: (m, n)``, ``P_ℓ = W_ℓ H_{ℓ−1}`` (pre-activations). Only ``W_L`` is trained
(Algorithm 2), so the trajectory on the training set depends on the weights only through
``(H_{L−1}, P_L(0) = W_L(0) H_{L−1}, a)``. :func:`implicit_features` samples exactly that triple in law without an
m×m matrix (§6.11 of the chapter's spec): conditional on ``H_{ℓ−1}``, ``W_ℓ H_{ℓ−1}`` has i.i.d. rows
``N(0, (c_w/m) H_{ℓ−1}ᵀH_{ℓ−1})``, i.e. it equals ``Z Cᵀ`` with ``Z`` standard Gaussian (m×n) and ``CCᵀ`` that covariance.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from .. import validate
from .activations import ActSpec, dphi, phi


@dataclass
class DeepNet:
    """Weights ``W = [W_1 (m×d), W_2 … W_L (m×m)]``, output vector ``a (m,)`` and the activation ``spec``."""

    W: list
    a: torch.Tensor
    spec: ActSpec

    @property
    def L(self) -> int:
        return len(self.W)


def _check_sizes(d: int, m: int, L: int) -> None:
    for name, v, lo in (("d", d, 1), ("m", m, 2), ("L", L, 2)):
        if not isinstance(v, (int, np.integer)) or v < lo:
            raise ValueError(f"{name} must be an integer ≥ {lo}, got {v!r}")


def init_network(d: int, m: int, L: int, spec: ActSpec, *, seed: int, c_w: float = 2.0, c_a: float = 1.0,
                 dtype=torch.float64, device="cpu") -> DeepNet:
    """Return a network drawn as in Def. F.1: ``W_ℓ`` entries ``N(0, c_w/m)``, ``a`` uniform on ``{±c_a}``."""
    _check_sizes(d, m, L)
    if spec.m != m:
        raise ValueError(f"spec was made for width {spec.m}, but m = {m}")
    g = torch.Generator(device="cpu").manual_seed(int(seed))
    sd = math.sqrt(c_w / m)
    W = [torch.randn(m, d, generator=g, dtype=dtype, device="cpu") * sd]
    for _ in range(1, L):
        W.append(torch.randn(m, m, generator=g, dtype=dtype, device="cpu") * sd)
    a = c_a * (2 * torch.randint(0, 2, (m,), generator=g, device="cpu") - 1).to(dtype)
    return DeepNet([w.to(device) for w in W], a.to(device), spec)


def forward_all(net: DeepNet, X: torch.Tensor) -> tuple[list, list]:
    """Return ``([H_0 … H_L], [P_1 … P_L])`` on ``X: (d, n)``; ``H_ℓ, P_ℓ: (m, n)``."""
    H, Ps = [X.to(net.a.dtype)], []
    for W in net.W:
        P = W @ H[-1]
        Ps.append(P)
        H.append(phi(P, net.spec))
    return H, Ps


def output(net: DeepNet, X: torch.Tensor) -> torch.Tensor:
    """Return ``f(W, x_i) = aᵀh_{i,L}`` for every column of ``X``, shape (n,)."""
    H, _ = forward_all(net, X)
    return net.a @ H[-1]


def frozen_features(net: DeepNet, X: torch.Tensor) -> torch.Tensor:
    """Return ``H_{L−1}: (m, n)``, the input of the trained last layer."""
    H = X.to(net.a.dtype)
    for W in net.W[:-1]:
        H = phi(W @ H, net.spec)
    return H


def psd_sqrt(K: torch.Tensor) -> torch.Tensor:
    """Return ``C`` with ``C Cᵀ = K`` for a symmetric PSD ``K`` (eigendecomposition, negative eigenvalues clipped)."""
    w, V = torch.linalg.eigh(K)
    return V * torch.sqrt(w.clamp_min(0)).unsqueeze(-2)


def implicit_forward(X: torch.Tensor, m: int, L: int, spec: ActSpec, *, seed: int, c_w: float = 2.0,
                     c_a: float = 1.0, chunk: int = 1 << 18) -> tuple[list, torch.Tensor, torch.Tensor]:
    """Return ``([H_1 … H_{L−1}], P_L(0) = W_L(0)H_{L−1}, a)`` drawn exactly in law, never forming an m×m matrix.

    ``X: (d, n)``; cost ``O(L(mn² + n³))``. Layer ℓ draws ``Z_ℓ Cᵀ`` with ``CCᵀ = (c_w/m)H_{ℓ−1}ᵀH_{ℓ−1}`` (for ℓ = 1
    the same with ``X``). Gaussians are drawn in chunks of rows (memory) from one generator seeded by ``seed``.
    """
    _check_sizes(X.shape[0], m, L)
    if spec.m != m:
        raise ValueError(f"spec was made for width {spec.m}, but m = {m}")
    g = torch.Generator(device="cpu").manual_seed(int(seed))
    n = X.shape[1]
    dt = X.dtype

    def sample(H):
        C = psd_sqrt((c_w / m) * (H.T @ H))
        Z = torch.cat([torch.randn(min(chunk, m - s), n, generator=g, dtype=dt, device="cpu") for s in range(0, m, chunk)])
        return Z.to(X.device) @ C.T

    Hs = []
    H = X
    for _ in range(1, L):
        H = phi(sample(H), spec)
        Hs.append(H)
    P0 = sample(H)
    a = c_a * (2 * torch.randint(0, 2, (m,), generator=g, device="cpu") - 1).to(dt).to(X.device)
    return Hs, P0, a


def implicit_features(X: torch.Tensor, m: int, L: int, spec: ActSpec, *, seed: int, c_w: float = 2.0,
                      c_a: float = 1.0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Return ``(H_{L−1}, P_0 = W_L(0)H_{L−1}, a)`` drawn exactly in law (§6.11); see :func:`implicit_forward`."""
    Hs, P0, a = implicit_forward(X, m, L, spec, seed=seed, c_w=c_w, c_a=c_a)
    return Hs[-1], P0, a


def layer_factors(net: DeepNet, X: torch.Tensor) -> tuple[list, list]:
    """Return ``(U, V)`` with ``∂f(W,x_i)/∂W_ℓ = u_{i,ℓ} v_{i,ℓ}ᵀ`` (Section C.2, Lemma C.4), for ℓ = 1..L.

    ``U[ℓ−1] = [u_{1,ℓ} … u_{n,ℓ}]: (m, n)`` by the backward recursion ``u_{i,L} = D_{i,L}a``,
    ``u_{i,ℓ} = D_{i,ℓ} W_{ℓ+1}ᵀ u_{i,ℓ+1}``; ``V[ℓ−1] = H_{ℓ−1}``.
    """
    H, Ps = forward_all(net, X)
    U = [None] * net.L
    z = dphi(Ps[-1], net.spec) * net.a.unsqueeze(1)
    U[-1] = z
    for l in range(net.L - 2, -1, -1):
        z = dphi(Ps[l], net.spec) * (net.W[l + 1].T @ z)
        U[l] = z
    return U, H[:-1]


def empirical_grams(U: list, V: list) -> list:
    """Return the per-layer Grams ``G_ℓ = (U_ℓᵀU_ℓ) ⊙ (V_ℓᵀV_ℓ)`` (Fact E.1 / Lemma E.2), each (n, n)."""
    from .sketch import gram_hadamard

    return [gram_hadamard(u.T, v.T) for u, v in zip(U, V)]


def synthetic_sphere(n: int, d: int, *, corr: float = 0.0, seed: int = 0, y_kind: str = "gauss",
                     dtype=torch.float64) -> tuple[torch.Tensor, torch.Tensor]:
    """Return ``X: (d, n)`` with unit columns and labels ``y: (n,)`` (the chapter's synthetic data, spec §4).

    ``x_i = (ξ_i + corr·μ)/‖·‖`` with ``μ`` a random unit vector and ``ξ_i ~ N(0, I/d)``; ``corr`` raises the mean
    cosine (0 → ≈0, 1 → ≈0.5, 2 → ≈0.8) and the condition number of the Gram. ``y ~ N(0,1)`` (``'gauss'``) or ±1
    (``'sign'``).
    """
    validate.positive_int("n", n)
    validate.positive_int("d", d)
    if not (isinstance(corr, (int, float)) and 0 <= corr <= 100):
        raise ValueError(f"corr must be a number in [0, 100], got {corr!r}")
    if y_kind not in ("gauss", "sign"):
        raise ValueError(f"y_kind must be 'gauss' or 'sign', got {y_kind!r}")
    g = torch.Generator(device="cpu").manual_seed(int(seed))
    mu = torch.randn(d, 1, generator=g, dtype=dtype, device="cpu")
    mu = mu / mu.norm()
    xi = torch.randn(d, n, generator=g, dtype=dtype, device="cpu") / math.sqrt(d)
    X = xi + corr * mu
    X = X / X.norm(dim=0, keepdim=True)
    y = torch.randn(n, generator=g, dtype=dtype, device="cpu")
    if y_kind == "sign":
        y = torch.sign(y)
    return X, y


def digits_subset(n: int, *, seed: int = 0, dtype=torch.float64) -> tuple[torch.Tensor, torch.Tensor, str]:
    """Return ``(X: (64, n) unit columns, y = (label − 4.5)/2.87, source)`` from scikit-learn's bundled digits."""
    from nbs_lib import data

    ds = data.digits(n=n, seed=seed)
    X = torch.as_tensor(ds.X.T, dtype=dtype, device="cpu")
    X = X / X.norm(dim=0, keepdim=True)
    y = torch.as_tensor((ds.y - 4.5) / 2.87, dtype=dtype, device="cpu")
    return X, y, f"scikit-learn's bundled digits (8×8 images, {n} drawn at random with seed {seed})"
