"""Model, initialisations and closed forms of paper 002: population loss, gradient, Hessians, empirical loss.

The network is ``f(x) = Vᵀ relu(W x)`` with ``W: (k, d)`` (rows ``w_i``), ``V: (k, r)`` (row ``v_i`` is neuron
``i``'s outer weight), fitting ``y = A x`` with ``A: (r, d)`` and ``x ~ N(0, I_d)``; the paper's single-output
case is ``r = 1``, ``A = aᵀ``. Leading batch axes (seeds) go in front: ``V: (..., k, r)``, ``W: (..., k, d)``;
``A`` is ``(r, d)`` or, per batch element, ``(..., r, d)``.

Closed forms (paper App. A; r outputs: spec 002 §1.5–1.6):

* kernel (eq. 8): ``K_ij = E[relu(w_i·x) relu(w_j·x)] = ‖w_i‖‖w_j‖ κ(θ_ij)/(2π)`` with
  ``κ(θ) = sin θ + (π − θ) cos θ = π·nbs_lib.kernels.arccos_of_angle(θ, 1)`` (the core function);
* population loss (eq. 9): ``L = ½ Σ_ij (v_i·v_j) K_ij − ½ Σ_i v_iᵀ A w_i + ½‖A‖_F²``;
* gradient (eqs. 10–12): ``∇_V L = K V − ½ W Aᵀ`` and
  ``∇_{w_i} L = (1/2π) Σ_j (v_i·v_j) ‖w_j‖ (sin θ_ij w̄_i + (π − θ_ij) w̄_j) − ½ Aᵀ v_i``;
* Hessian: central differences of the analytic gradient (:func:`hessian_fd`) and the paper's eq. (14) with
  the notation fixes of spec §1.7 (:func:`hessian_eq14`).

Angles are ``θ_ij = 2 atan2(‖w̄_i − w̄_j‖, ‖w̄_i + w̄_j‖)``: accurate at θ = 0 and π and exactly 0 on the diagonal.
Nothing is differentiated by autograd (``d arccos/dc`` is infinite at the saddles and at the optimum).
Every tensor is created on the device of the inputs (or of the generator passed in).
"""
from __future__ import annotations

import math

import torch

from .. import validate
from ..kernels import arccos_of_angle

TWO_PI = 2.0 * math.pi


def _check_VWA(V: torch.Tensor, W: torch.Tensor, A: torch.Tensor) -> None:
    if W.ndim < 2 or V.ndim < 2:
        raise ValueError(f"V and W must be (..., k, r) and (..., k, d), got {tuple(V.shape)} and {tuple(W.shape)}")
    if A.ndim < 2:
        raise ValueError(f"A must be (r, d), got {tuple(A.shape)}")
    if V.shape[-2] != W.shape[-2]:
        raise ValueError(f"V and W must have the same number of neurons k, got {V.shape[-2]} and {W.shape[-2]}")
    if V.shape[-1] != A.shape[-2] or W.shape[-1] != A.shape[-1]:
        raise ValueError(f"A must be (r, d) = ({V.shape[-1]}, {W.shape[-1]}), got {tuple(A.shape)}")


def as_target(a: torch.Tensor) -> torch.Tensor:
    """Return ``a`` as an ``(r, d)`` target matrix (a vector ``(d,)`` becomes ``(1, d)``)."""
    return a.unsqueeze(0) if a.ndim == 1 else a


def _gen_device(generator, device):
    return generator.device if generator is not None else torch.device(device)


# ----------------------------------------------------------------------------- set-up
def planted_target(d: int, r: int = 1, norm: float = 1.0, *, dtype=torch.float64, device="cpu") -> torch.Tensor:
    """Return the paper's target ``A = norm · [e_1, …, e_r]ᵀ``, shape ``(r, d)`` (``a = e₁`` for r = 1)."""
    d = validate.positive_int("d", d)
    r = validate.int_in("r", r, 1, d)
    norm = validate.positive("norm", norm)
    A = torch.zeros(r, d, dtype=dtype, device=device)
    idx = torch.arange(r, device=device)
    A[idx, idx] = norm
    return A


def init_xavier(k: int, d: int, r: int = 1, sigma: float = 1.0, batch: int = 1, *, generator=None,
                dtype=torch.float64, device="cpu") -> tuple[torch.Tensor, torch.Tensor]:
    """Return ``(V, W)``: σ × Xavier-normal init, ``V: (B, k, r)`` with variance 2/(k+r), ``W: (B, k, d)`` with 2/(k+d).

    This is the §4 default of the paper (PyTorch ``xavier_normal_`` on both ``Linear`` weights, times σ).
    Drawn on the generator's device, returned on ``device``.
    """
    k, d, r = validate.positive_int("k", k), validate.positive_int("d", d), validate.positive_int("r", r)
    sigma, batch = validate.positive("sigma", sigma), validate.positive_int("batch", batch)
    g = _gen_device(generator, device)
    W = torch.randn(batch, k, d, generator=generator, dtype=dtype, device=g) * (sigma * math.sqrt(2.0 / (k + d)))
    V = torch.randn(batch, k, r, generator=generator, dtype=dtype, device=g) * (sigma * math.sqrt(2.0 / (k + r)))
    return V.to(device), W.to(device)


def init_thm2(d: int, sigma: float, batch: int = 1, *, generator=None, dtype=torch.float64,
              device="cpu", outer: str = "chi") -> tuple[torch.Tensor, torch.Tensor]:
    """Return ``(V, W)`` of Theorem 2: ``w_i ~ N(0, σ²/d I)``, ``v_i = (σ/√d)‖g_i‖`` and ``V = [v₁, −v₂]``.

    Shapes ``V: (B, 2, 1)``, ``W: (B, 2, d)``; the two layers are balanced in distribution (``v_i ≈ ‖w_i‖ ≈ σ``).
    ``outer="gaussian"`` draws instead the §3 alternative ``v_i ~ N(0, σ²/2)`` (any signs, not forced to
    ``[+, −]``), the initialisation whose success probability the paper says "degrades to a fixed constant".
    """
    d, sigma, batch = validate.positive_int("d", d), validate.positive("sigma", sigma), validate.positive_int("batch", batch)
    validate.one_of("outer", outer, ("chi", "gaussian"))
    g = _gen_device(generator, device)
    W = torch.randn(batch, 2, d, generator=generator, dtype=dtype, device=g) * (sigma / math.sqrt(d))
    G = torch.randn(batch, 2, d, generator=generator, dtype=dtype, device=g)
    if outer == "chi":
        v = G.norm(dim=-1) * (sigma / math.sqrt(d))
        V = torch.stack([v[:, 0], -v[:, 1]], dim=-1).unsqueeze(-1)
    else:
        V = (G[..., :1] * (sigma / math.sqrt(2.0)))
    return V.to(device), W.to(device)


# ----------------------------------------------------------------------------- closed forms
def kappa(theta: torch.Tensor) -> torch.Tensor:
    """Return ``κ(θ) = sin θ + (π − θ) cos θ`` (so that ``f(a, b) = ‖a‖‖b‖ κ(θ)/2π``, eq. 8), via the core kernel."""
    return math.pi * arccos_of_angle(theta, 1)


def pairwise_angles(W: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Return ``(norms (..., k), W̄ (..., k, d), Θ (..., k, k))``, angles by the stable atan2 form.

    Rows of ``W`` must be non-zero (the kernel's gradient is undefined at ``w_i = 0``).
    """
    n = W.norm(dim=-1)
    Wb = W / n.unsqueeze(-1)
    diff = (Wb.unsqueeze(-2) - Wb.unsqueeze(-3)).norm(dim=-1)
    summ = (Wb.unsqueeze(-2) + Wb.unsqueeze(-3)).norm(dim=-1)
    return n, Wb, 2.0 * torch.atan2(diff, summ)


def angle(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Return the angle between the last-axis vectors ``x`` and ``y`` (stable atan2 form, broadcasting)."""
    xb = x / x.norm(dim=-1, keepdim=True)
    yb = y / y.norm(dim=-1, keepdim=True)
    return 2.0 * torch.atan2((xb - yb).norm(dim=-1), (xb + yb).norm(dim=-1))


def _kernel(n, Th):
    return n.unsqueeze(-1) * n.unsqueeze(-2) * kappa(Th) / TWO_PI


def kernel_matrix(W: torch.Tensor) -> torch.Tensor:
    """Return ``K (..., k, k)``, ``K_ij = E[relu(w_i·x) relu(w_j·x)]`` for ``x ~ N(0, I)`` (eq. 8)."""
    n, _, Th = pairwise_angles(W)
    return _kernel(n, Th)


def _loss_from(V, W, A, K):
    C = V @ V.transpose(-1, -2)
    lin = (V * (W @ A.transpose(-1, -2))).sum(dim=(-1, -2))
    return 0.5 * (C * K).sum(dim=(-1, -2)) - 0.5 * lin + 0.5 * (A * A).sum(dim=(-1, -2))


def pop_loss(V: torch.Tensor, W: torch.Tensor, A: torch.Tensor) -> torch.Tensor:
    """Return the population loss ``(...)`` of eq. (9), generalised to r outputs (module docstring)."""
    A = as_target(A)
    _check_VWA(V, W, A)
    return _loss_from(V, W, A, kernel_matrix(W))


def pop_loss_grad(V: torch.Tensor, W: torch.Tensor, A: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Return ``(L (...), ∇_V L (..., k, r), ∇_W L (..., k, d))``, the analytic gradient of eqs. (10)–(12).

    ``∇_V L = K V − ½ W Aᵀ``; ``∇_W L = diag(((C⊙S) n)/2π) W̄ + ((C⊙P) diag(n)/2π) W̄ − ½ V A`` with
    ``C = V Vᵀ``, ``S = sin Θ``, ``P = π − Θ``. Cost O(k²d + kdr) per batch element; no autograd.
    """
    A = as_target(A)
    _check_VWA(V, W, A)
    n, Wb, Th = pairwise_angles(W)
    S, P = torch.sin(Th), math.pi - Th
    K = _kernel(n, Th)
    C = V @ V.transpose(-1, -2)
    loss = _loss_from(V, W, A, K)
    gV = K @ V - 0.5 * (W @ A.transpose(-1, -2))
    CS = (C * S * n.unsqueeze(-2)).sum(-1) / TWO_PI
    CP = C * P * n.unsqueeze(-2) / TWO_PI
    gW = CS.unsqueeze(-1) * Wb + CP @ Wb - 0.5 * (V @ A)
    return loss, gV, gW


def pop_grad(V: torch.Tensor, W: torch.Tensor, A: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Return ``(∇_V L, ∇_W L)`` (see :func:`pop_loss_grad`)."""
    _, gV, gW = pop_loss_grad(V, W, A)
    return gV, gW


def batched_pop_loss_grad_rows(V, W, a):
    """Return ``(L, gV, gW)`` for per-row targets ``a (B, d)`` (r = 1): :func:`pop_loss_grad` with ``A (B, 1, d)``."""
    return pop_loss_grad(V, W, a.unsqueeze(-2))


def pop_loss_even_odd(V: torch.Tensor, W: torch.Tensor, A: torch.Tensor) -> torch.Tensor:
    """Return the loss by the even/odd split ``½‖½VᵀW − A‖² + ⅛ E‖Vᵀ|Wx|‖²`` (an independent cross-check).

    Uses ``E|u·x||w·x| = (2/π)‖u‖‖w‖(sin θ + (π/2 − θ) cos θ)``; ``L = 0`` iff ``VᵀW = 2A`` and ``Σ v_i|w_i·x| ≡ 0``.
    """
    A = as_target(A)
    _check_VWA(V, W, A)
    n, _, Th = pairwise_angles(W)
    E = (2 / math.pi) * n.unsqueeze(-1) * n.unsqueeze(-2) * (torch.sin(Th) + (math.pi / 2 - Th) * torch.cos(Th))
    C = V @ V.transpose(-1, -2)
    odd = 0.5 * ((0.5 * V.transpose(-1, -2) @ W - A) ** 2).sum(dim=(-1, -2))
    return odd + 0.125 * (C * E).sum(dim=(-1, -2))


def errors_k2(V: torch.Tensor, W: torch.Tensor, a: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Return ``(h₁, h₂)``, each ``(..., d)``: ``h₁ = v₁w₁ − a``, ``h₂ = v₂w₂ + a`` with ``V = [v₁, −v₂]``.

    ``a`` is ``(d,)``, ``(1, d)``, or per batch row ``(..., d)``.
    """
    a = a[0] if a.ndim == 2 and a.shape[0] == 1 else a
    return V[..., 0, :1] * W[..., 0, :] - a, -V[..., 1, :1] * W[..., 1, :] + a


def pop_loss_k2_stable(V: torch.Tensor, W: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
    """Return the compact k = 2 loss ``¼(‖h₁‖² + ‖h₂‖²) − |v₁v₂|‖w₁‖‖w₂‖κ(θ)/2π`` (stable near the optimum).

    For ``V = [v₁, −v₂]`` (r = 1): ``h₁ = v₁w₁ − a``, ``h₂ = v₂w₂ + a``. Valid when ``V[0] > 0 > V[1]`` (the
    sign pattern of Theorem 2); elsewhere use :func:`pop_loss`.
    """
    if V.shape[-2] != 2 or V.shape[-1] != 1:
        raise ValueError(f"pop_loss_k2_stable needs k = 2, r = 1, got V of shape {tuple(V.shape)}")
    h1, h2 = errors_k2(V, W, a)
    u1 = V[..., 0, 0].abs() * W[..., 0, :].norm(dim=-1)
    u2 = V[..., 1, 0].abs() * W[..., 1, :].norm(dim=-1)
    th = angle(W[..., 0, :], W[..., 1, :])
    return 0.25 * ((h1 * h1).sum(-1) + (h2 * h2).sum(-1)) - u1 * u2 * kappa(th) / TWO_PI


def pop_loss_mc(V: torch.Tensor, W: torch.Tensor, A: torch.Tensor, n_samples: int, *, generator=None,
                chunk: int = 200_000) -> tuple[float, float]:
    """Return ``(mean, standard error)`` of a Monte Carlo estimate of the population loss (unbatched V, W).

    Samples are drawn on the generator's device (the inputs' device without one).
    """
    A = as_target(A)
    _check_VWA(V, W, A)
    validate.positive_int("n_samples", n_samples)
    dev = generator.device if generator is not None else W.device
    s1 = s2 = 0.0
    done = 0
    while done < n_samples:
        b = min(chunk, n_samples - done)
        X = torch.randn(b, W.shape[-1], generator=generator, dtype=W.dtype, device=dev).to(W.device)
        l = 0.5 * ((torch.relu(X @ W.T) @ V - X @ A.T) ** 2).sum(-1)
        s1 += float(l.sum())
        s2 += float((l * l).sum())
        done += b
    mean = s1 / n_samples
    var = s2 / n_samples - mean * mean
    return mean, math.sqrt(max(var, 0.0) / n_samples)


def hessian_fd(V: torch.Tensor, W: torch.Tensor, A: torch.Tensor, h: float = 1e-6, *, fix_V: bool = False) -> torch.Tensor:
    """Return the symmetric ``(P, P)`` Hessian of the population loss at one point (no batch axis).

    Central differences of the analytic gradient with step ``h``; parameters ordered ``[vec V, vec W]``
    (``P = k r + k d``), or ``vec W`` only when ``fix_V``. Error O(h²) plus round-off O(ε/h).
    """
    A = as_target(A)
    _check_VWA(V, W, A)
    if V.ndim != 2:
        raise ValueError(f"hessian_fd takes one point: V must be (k, r), got {tuple(V.shape)}")
    validate.positive("h", h)
    k, r = V.shape
    d = W.shape[1]
    theta = W.reshape(-1) if fix_V else torch.cat([V.reshape(-1), W.reshape(-1)])
    P = theta.numel()
    E = torch.eye(P, dtype=theta.dtype, device=theta.device) * h
    pts = torch.cat([theta + E, theta - E])                     # (2P, P)
    if fix_V:
        Vb, Wb = V.expand(2 * P, k, r), pts.reshape(2 * P, k, d)
    else:
        Vb, Wb = pts[:, : k * r].reshape(2 * P, k, r), pts[:, k * r:].reshape(2 * P, k, d)
    gV, gW = pop_grad(Vb, Wb, A)
    g = gW.reshape(2 * P, -1) if fix_V else torch.cat([gV.reshape(2 * P, -1), gW.reshape(2 * P, -1)], dim=1)
    H = (g[:P] - g[P:]) / (2 * h)
    return 0.5 * (H + H.T)


def hessian_eq14(v: torch.Tensor, W: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
    """Return the analytic Hessian of eq. (14) (r = 1) at one point, ``(k + k d, k + k d)``, order ``[v, vec W]``.

    Blocks as printed in App. A.3 with the notation fixes of spec 002 §1.7: ``ŵ_{m,ℓ⊥} = P_ℓ w_m/‖P_ℓ w_m‖``
    normalised, the diagonal ``w_ℓ w_ℓ`` sum skipping ``i = ℓ``, and ``P_{w_ℓ⊥}`` in its last term. Needs
    pairwise angles strictly inside (0, π). ``v: (k,)`` or ``(k, 1)``.
    """
    v = v.reshape(-1)
    a = a.reshape(-1)
    k, d = W.shape
    n, Wb, Th = pairwise_angles(W)
    S, Pm = torch.sin(Th), math.pi - Th
    I = torch.eye(d, dtype=W.dtype, device=W.device)
    H = torch.zeros(k + k * d, k + k * d, dtype=W.dtype, device=W.device)
    H[:k, :k] = _kernel(n, Th)
    Pl = I - Wb.unsqueeze(-1) * Wb.unsqueeze(-2)                    # (k, d, d) projectors ⊥ w_ℓ
    for l in range(k):
        sl = slice(k + l * d, k + (l + 1) * d)
        for m in range(k):
            sm = slice(k + m * d, k + (m + 1) * d)
            if m == l:
                vw = 0.5 * (v[l] * W[l] - a) + sum(v[i] * n[i] / TWO_PI * (Pm[l, i] * Wb[i] + S[l, i] * Wb[l])
                                                   for i in range(k))
                H[l, sl] = vw
                blk = 0.5 * v[l] ** 2 * I
                for i in range(k):
                    if i == l:
                        continue
                    q = Pl[l] @ Wb[i]
                    blk = blk + v[l] / (TWO_PI * n[l]) * v[i] * n[i] * S[l, i] * (Pl[l] + torch.outer(q, q) / (q @ q))
                H[sl, sl] = blk
            else:
                H[l, sm] = v[m] * n[l] / TWO_PI * (Pm[l, m] * Wb[l] + S[l, m] * Wb[m])
                qm, ql = Pl[l] @ Wb[m], Pl[m] @ Wb[l]
                H[sl, sm] = v[l] * v[m] / TWO_PI * (torch.outer(Wb[l], qm / qm.norm())
                                                    + torch.outer(Wb[m], ql / ql.norm()) + Pm[l, m] * I)
    H[k:, :k] = H[:k, k:].T
    return H
