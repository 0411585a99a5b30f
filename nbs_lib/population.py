"""Population (Gaussian-input) loss, gradient and Hessian of a bias-free two-layer ReLU net fitting a linear map.

Paper 002 (Tinaz, Xie, Soltanolkotabi, "When both layers learn"). The network is
``f(x) = Vᵀ relu(W x)`` with ``W: (k, d)`` (rows ``w_i``), ``V: (k, r)`` (row ``v_i`` is neuron ``i``'s outer
weight), fitting ``y = A x`` with ``A: (r, d)`` and ``x ~ N(0, I_d)``; the paper's single-output case is
``r = 1``, ``A = aᵀ``. Every function takes leading batch axes (seeds) in front: ``V: (..., k, r)``,
``W: (..., k, d)``.

Closed forms (paper App. A; r outputs: spec 002 §1.5–1.6):

* kernel (eq. 8, degree-1 arc-cosine kernel, :func:`nbs_lib.kernels.arccos_kernel`):
  ``K_ij = E[relu(w_i·x) relu(w_j·x)] = ‖w_i‖‖w_j‖ κ(θ_ij) / (2π)``, ``κ(θ) = sin θ + (π − θ) cos θ``;
* population loss (eq. 9): ``L = ½ Σ_ij (v_i·v_j) K_ij − ½ Σ_i v_iᵀ A w_i + ½‖A‖_F²``;
* gradient (eqs. 10–12): ``∇_V L = K V − ½ W Aᵀ`` and
  ``∇_{w_i} L = (1/2π) Σ_j (v_i·v_j) ‖w_j‖ (sin θ_ij w̄_i + (π − θ_ij) w̄_j) − ½ Aᵀ v_i``.

The angles are computed as ``θ_ij = 2 atan2(‖w̄_i − w̄_j‖, ‖w̄_i + w̄_j‖)``, which is accurate at θ = 0 and
θ = π (where ``arccos`` of a rounded cosine loses half the digits) and gives exactly 0 on the diagonal.
Nothing here is differentiated by autograd: ``d arccos/dc`` is infinite at the saddles and at the optimum.
Hessians are central differences of the analytic gradient (all ``2P`` perturbations in one batched call).

The module also holds the k = 2 metrics and phase detection (§5 of the paper), the certificate curves of
Figs. 4–5, the sign predictors of §4, the group sums of Fig. 2, the pairing matcher of Figs. 6–8, and
empirical (finite-sample) GD for the sample-complexity experiment.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import torch

from . import optim, validate

TWO_PI = 2.0 * math.pi
ALIGN_ANGLE = math.pi / 20          # c₄ of Lemmas 4–6
GROWTH_LEVEL = 0.25                 # c₇ of Lemma 7: v_i ≥ c₇ √‖a‖


# ----------------------------------------------------------------------------- checks
def _check_VWA(V: torch.Tensor, W: torch.Tensor, A: torch.Tensor) -> None:
    if W.ndim < 2 or V.ndim < 2:
        raise ValueError(f"V and W must be (..., k, r) and (..., k, d), got {tuple(V.shape)} and {tuple(W.shape)}")
    if A.ndim != 2:
        raise ValueError(f"A must be (r, d), got {tuple(A.shape)}")
    if V.shape[-2] != W.shape[-2]:
        raise ValueError(f"V and W must have the same number of neurons k, got {V.shape[-2]} and {W.shape[-2]}")
    if V.shape[-1] != A.shape[0] or W.shape[-1] != A.shape[1]:
        raise ValueError(f"A must be (r, d) = ({V.shape[-1]}, {W.shape[-1]}), got {tuple(A.shape)}")


def as_target(a: torch.Tensor) -> torch.Tensor:
    """Return ``a`` as an ``(r, d)`` target matrix (a vector ``(d,)`` becomes ``(1, d)``)."""
    return a.unsqueeze(0) if a.ndim == 1 else a


# ----------------------------------------------------------------------------- set-up
def planted_target(d: int, r: int = 1, norm: float = 1.0, *, dtype=torch.float64, device="cpu") -> torch.Tensor:
    """Return the paper's target ``A = norm · [e_1, …, e_r]ᵀ``, shape ``(r, d)`` (``a = e₁`` for r = 1)."""
    d = validate.positive_int("d", d)
    r = validate.int_in("r", r, 1, d)
    norm = validate.positive("norm", norm)
    A = torch.zeros(r, d, dtype=dtype, device=device)
    A[torch.arange(r), torch.arange(r)] = norm
    return A


def init_xavier(k: int, d: int, r: int = 1, sigma: float = 1.0, batch: int = 1, *, generator=None,
                dtype=torch.float64, device="cpu") -> tuple[torch.Tensor, torch.Tensor]:
    """Return ``(V, W)``: σ × Xavier-normal init, ``V: (B, k, r)`` with variance 2/(k+r), ``W: (B, k, d)`` with 2/(k+d).

    This is the §4 default of the paper (PyTorch ``xavier_normal_`` on both ``Linear`` weights, times σ).
    """
    k, d, r = validate.positive_int("k", k), validate.positive_int("d", d), validate.positive_int("r", r)
    sigma, batch = validate.positive("sigma", sigma), validate.positive_int("batch", batch)
    W = torch.randn(batch, k, d, generator=generator, dtype=dtype) * (sigma * math.sqrt(2.0 / (k + d)))
    V = torch.randn(batch, k, r, generator=generator, dtype=dtype) * (sigma * math.sqrt(2.0 / (k + r)))
    return V.to(device), W.to(device)


def init_thm2(d: int, sigma: float, batch: int = 1, *, generator=None, dtype=torch.float64,
              device="cpu") -> tuple[torch.Tensor, torch.Tensor]:
    """Return ``(V, W)`` of Theorem 2: ``w_i ~ N(0, σ²/d I)``, ``v_i = (σ/√d)‖g_i‖`` and ``V = [v₁, −v₂]``.

    Shapes ``V: (B, 2, 1)``, ``W: (B, 2, d)``; the two layers are balanced in distribution (``v_i ≈ ‖w_i‖ ≈ σ``).
    """
    d, sigma, batch = validate.positive_int("d", d), validate.positive("sigma", sigma), validate.positive_int("batch", batch)
    W = torch.randn(batch, 2, d, generator=generator, dtype=dtype) * (sigma / math.sqrt(d))
    g = torch.randn(batch, 2, d, generator=generator, dtype=dtype)
    v = g.norm(dim=-1) * (sigma / math.sqrt(d))
    V = torch.stack([v[:, 0], -v[:, 1]], dim=-1).unsqueeze(-1)
    return V.to(device), W.to(device)


# ----------------------------------------------------------------------------- closed forms
def kappa(theta: torch.Tensor) -> torch.Tensor:
    """Return ``κ(θ) = sin θ + (π − θ) cos θ`` (so that ``f(a, b) = ‖a‖‖b‖ κ(θ)/2π``, eq. 8)."""
    return torch.sin(theta) + (math.pi - theta) * torch.cos(theta)


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


def kernel_matrix(W: torch.Tensor) -> torch.Tensor:
    """Return ``K (..., k, k)``, ``K_ij = E[relu(w_i·x) relu(w_j·x)]`` for ``x ~ N(0, I)`` (eq. 8)."""
    n, _, Th = pairwise_angles(W)
    return n.unsqueeze(-1) * n.unsqueeze(-2) * kappa(Th) / TWO_PI


def pop_loss(V: torch.Tensor, W: torch.Tensor, A: torch.Tensor) -> torch.Tensor:
    """Return the population loss ``(...)`` of eq. (9), generalised to r outputs (module docstring)."""
    A = as_target(A)
    _check_VWA(V, W, A)
    return _loss_from(V, W, A, kernel_matrix(W))


def _loss_from(V, W, A, K):
    C = V @ V.transpose(-1, -2)
    lin = (V * (W @ A.T)).sum(dim=(-1, -2))
    return 0.5 * (C * K).sum(dim=(-1, -2)) - 0.5 * lin + 0.5 * (A * A).sum()


def pop_loss_grad(V: torch.Tensor, W: torch.Tensor, A: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Return ``(L (...), ∇_V L (..., k, r), ∇_W L (..., k, d))``, the analytic gradient of eqs. (10)–(12).

    ``∇_V L = K V − ½ W Aᵀ``; ``∇_W L = diag(((C⊙S) n)/2π) W̄ + ((C⊙P) diag(n)/2π) W̄ − ½ V A`` with
    ``C = V Vᵀ``, ``S = sin Θ``, ``P = π − Θ``. Cost O(k²d + kdr) per batch element; no autograd.
    """
    A = as_target(A)
    _check_VWA(V, W, A)
    n, Wb, Th = pairwise_angles(W)
    S, P = torch.sin(Th), math.pi - Th
    nn = n.unsqueeze(-1) * n.unsqueeze(-2)
    K = nn * (S + P * torch.cos(Th)) / TWO_PI
    C = V @ V.transpose(-1, -2)
    loss = _loss_from(V, W, A, K)
    gV = K @ V - 0.5 * (W @ A.T)
    CS = (C * S * n.unsqueeze(-2)).sum(-1) / TWO_PI
    CP = C * P * n.unsqueeze(-2) / TWO_PI
    gW = CS.unsqueeze(-1) * Wb + CP @ Wb - 0.5 * (V @ A)
    return loss, gV, gW


def pop_grad(V: torch.Tensor, W: torch.Tensor, A: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Return ``(∇_V L, ∇_W L)`` (see :func:`pop_loss_grad`)."""
    _, gV, gW = pop_loss_grad(V, W, A)
    return gV, gW


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


def pop_loss_k2_stable(V: torch.Tensor, W: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
    """Return the compact k = 2 loss ``¼(‖h₁‖² + ‖h₂‖²) − |v₁v₂|‖w₁‖‖w₂‖κ(θ)/2π`` (stable near the optimum).

    For ``V = [v₁, −v₂]`` (r = 1): ``h₁ = v₁w₁ − a``, ``h₂ = v₂w₂ + a``. Valid when ``V[0] > 0 > V[1]`` (the
    sign pattern of Theorem 2); elsewhere use :func:`pop_loss`.
    """
    a = as_target(a)
    _check_VWA(V, W, a)
    if V.shape[-2] != 2 or V.shape[-1] != 1:
        raise ValueError(f"pop_loss_k2_stable needs k = 2, r = 1, got V of shape {tuple(V.shape)}")
    h1, h2 = errors_k2(V, W, a[0])
    u1 = V[..., 0, 0].abs() * W[..., 0, :].norm(dim=-1)
    u2 = V[..., 1, 0].abs() * W[..., 1, :].norm(dim=-1)
    th = angle(W[..., 0, :], W[..., 1, :])
    return 0.25 * ((h1 * h1).sum(-1) + (h2 * h2).sum(-1)) - u1 * u2 * kappa(th) / TWO_PI


def errors_k2(V: torch.Tensor, W: torch.Tensor, a: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Return ``(h₁, h₂)``, each ``(..., d)``: ``h₁ = v₁w₁ − a``, ``h₂ = v₂w₂ + a`` with ``V = [v₁, −v₂]``.

    ``a`` is ``(d,)``, ``(1, d)``, or per batch row ``(..., d)``.
    """
    a = a[0] if a.ndim == 2 and a.shape[0] == 1 else a
    return V[..., 0, :1] * W[..., 0, :] - a, -V[..., 1, :1] * W[..., 1, :] + a


def pop_loss_mc(V: torch.Tensor, W: torch.Tensor, A: torch.Tensor, n_samples: int, *, generator=None,
                chunk: int = 200_000) -> tuple[torch.Tensor, torch.Tensor]:
    """Return ``(mean, standard error)`` of a Monte Carlo estimate of the population loss (unbatched V, W)."""
    A = as_target(A)
    _check_VWA(V, W, A)
    validate.positive_int("n_samples", n_samples)
    s1 = s2 = 0.0
    done = 0
    while done < n_samples:
        b = min(chunk, n_samples - done)
        X = torch.randn(b, W.shape[-1], generator=generator, dtype=W.dtype).to(W.device)
        l = 0.5 * ((torch.relu(X @ W.T) @ V - X @ A.T) ** 2).sum(-1)
        s1 += float(l.sum())
        s2 += float((l * l).sum())
        done += b
    mean = s1 / n_samples
    var = s2 / n_samples - mean * mean
    return (torch.tensor(mean, dtype=torch.float64), torch.tensor(math.sqrt(max(var, 0.0) / n_samples), dtype=torch.float64))


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


# ----------------------------------------------------------------------------- Theorem 1: stationary points
def saddle_point(a: torch.Tensor, c: float, v1: float = 1.0, v2: float = 1.0) -> tuple[torch.Tensor, torch.Tensor]:
    """Return ``(V (2,1), W (2,d))`` on the saddle manifold ``v₁w₁ = (c+1)a``, ``v₂w₂ = c a`` (Thm 1; c > 0 or c < −1)."""
    if not (c > 0 or c < -1):
        raise ValueError(f"c must be > 0 or < -1 (Theorem 1's saddle manifold), got {c!r}")
    validate.positive("v1", v1)
    validate.positive("v2", v2)
    a = a.reshape(-1)
    W = torch.stack([(c + 1) * a / v1, c * a / v2])
    V = torch.tensor([[v1], [-v2]], dtype=a.dtype, device=a.device)
    return V, W


def global_optimum(a: torch.Tensor, v1: float = 1.0, v2: float = 1.0) -> tuple[torch.Tensor, torch.Tensor]:
    """Return ``(V, W)`` at the global optimum ``v₁w₁ = a``, ``v₂w₂ = −a`` (Thm 1)."""
    validate.positive("v1", v1)
    validate.positive("v2", v2)
    a = a.reshape(-1)
    return torch.tensor([[v1], [-v2]], dtype=a.dtype, device=a.device), torch.stack([a / v1, -a / v2])


def saddle_spectrum(V: torch.Tensor, W: torch.Tensor) -> np.ndarray:
    """Return the predicted Hessian eigenvalues at a saddle (paper D.1), sorted: 0×(d+2), (v₁²+v₂²)/2×(d−1), one more."""
    v1, v2 = float(V[0, 0]), float(V[1, 0])
    n1, n2 = float(W[0].norm()), float(W[1].norm())
    d = W.shape[1]
    vals = [0.0] * (d + 2) + [(v1 ** 2 + v2 ** 2) / 2] * (d - 1) + [(n1 ** 2 + n2 ** 2 + v1 ** 2 + v2 ** 2) / 2]
    return np.sort(np.array(vals))


def optimum_spectrum(V: torch.Tensor, W: torch.Tensor) -> np.ndarray:
    """Return the predicted Hessian eigenvalues at a global optimum: per neuron 0, v_i²/2 ×(d−1), (v_i²+‖w_i‖²)/2."""
    d = W.shape[1]
    vals = []
    for i in range(W.shape[0]):
        vi, ni = float(V[i, 0]), float(W[i].norm())
        vals += [0.0] + [vi ** 2 / 2] * (d - 1) + [(vi ** 2 + ni ** 2) / 2]
    return np.sort(np.array(vals))


def slice_loss(alpha1, alpha2, a_norm: float = 1.0):
    """Return the Fig. 1(c) slice ``L(α₁a, α₂a)`` with ``v = [1, −1]``: ``(‖a‖²/4)[(α₁⁺−α₂⁺−1)² + (α₁⁻−α₂⁻−1)²]``."""
    a1, a2 = np.asarray(alpha1, dtype=float), np.asarray(alpha2, dtype=float)
    p = np.maximum(a1, 0) - np.maximum(a2, 0) - 1
    m = np.minimum(a1, 0) - np.minimum(a2, 0) - 1
    return a_norm ** 2 / 4 * (p * p + m * m)


# ----------------------------------------------------------------------------- GD
@dataclass
class Trajectory:
    """A population- or empirical-GD run: ``loss (T+1, B)``, recorded ``V``/``W`` every ``every`` steps, metrics.

    ``V: (n_rec, B, k, r)`` and ``W: (n_rec, B, k, d)`` (numpy, or None when not kept); ``t``: recorded steps;
    ``metrics``: name → ``(n_rec, B)`` arrays; ``final``: the last ``(V, W)`` tensors.
    """

    loss: np.ndarray
    t: np.ndarray
    V: np.ndarray | None
    W: np.ndarray | None
    metrics: dict = field(default_factory=dict)
    final: tuple = ()
    diverged: bool = False
    message: str = ""


def run_gd(V: torch.Tensor, W: torch.Tensor, A: torch.Tensor, *, mu: float, steps: int, fix_V: bool = False,
           every: int = 1, keep: bool = False, metrics=None, loss_grad=None, tol: float | None = None) -> Trajectory:
    """Return the :class:`Trajectory` of full-batch GD ``θ ← θ − μ∇L`` on both layers (or W only when ``fix_V``).

    Batched over the leading axis of ``V (B, k, r)``, ``W (B, k, d)``; uses :func:`nbs_lib.optim.gd`
    (divergence is detected and reported in ``diverged``/``message``). ``loss_grad(V, W) -> (L, gV, gW)``
    defaults to the closed-form population gradient; ``metrics(V, W) -> dict`` of ``(B,)`` tensors is
    recorded every ``every`` steps, as are ``V``/``W`` when ``keep``. With ``tol`` the run stops early once
    every batch element has reached a loss ≤ ``tol``.
    """
    A = as_target(A)
    _check_VWA(V, W, A)
    mu = validate.positive("mu", mu)
    steps = validate.nonnegative_int("steps", steps)
    every = validate.positive_int("every", every)
    lg = loss_grad or (lambda V_, W_: pop_loss_grad(V_, W_, A))
    rec_t, rec_V, rec_W = [], [], []

    def f(params):
        V_, W_ = params
        L, gV, gW = lg(V_, W_)
        return L, (torch.zeros_like(gV) if fix_V else gV, gW)

    def cb(t, params, loss):
        if (t % every and t != steps) or not (keep or metrics is not None):
            return
        rec_t.append(t)
        rec_V.append(params[0].detach().clone())
        rec_W.append(params[1].detach().clone())

    res = optim.gd(f, (V, W), eta=mu, steps=steps, tol=tol, on_divergence="record", callback=cb)
    loss = res.losses if res.losses.ndim == 2 else res.losses.reshape(-1, 1)
    Vs = torch.stack(rec_V) if rec_V else None
    Ws = torch.stack(rec_W) if rec_W else None
    mets = {}
    if metrics is not None and Vs is not None:      # one vectorised call over (time, seed)
        mets = {k_: v_.detach().cpu().numpy() for k_, v_ in metrics(Vs, Ws).items()}
    return Trajectory(loss, np.array(rec_t), Vs.cpu().numpy() if keep and Vs is not None else None,
                      Ws.cpu().numpy() if keep and Ws is not None else None, mets, tuple(res.params),
                      res.diverged, res.message)


def metrics_k2(a: torch.Tensor):
    """Return a function ``(V, W) -> dict`` of the k = 2 quantities of §5 (each ``(B,)``).

    Keys: ``theta`` = ∠(w₁, w₂), ``theta1`` = ∠(w₁, a), ``theta2`` = ∠(w₂, −a), ``v1`` = V₁, ``v2`` = −V₂,
    ``n1``, ``n2`` = ‖w_i‖, ``b1``, ``b2`` = ‖w_i‖² − v_i² (imbalance), ``h2`` = ‖h₁‖² + ‖h₂‖², ``loss_stable``.
    """
    a = a.reshape(-1)

    def fn(V, W):
        h1, h2 = errors_k2(V, W, a)
        n1, n2 = W[..., 0, :].norm(dim=-1), W[..., 1, :].norm(dim=-1)
        v1, v2 = V[..., 0, 0], -V[..., 1, 0]
        out = dict(theta=angle(W[..., 0, :], W[..., 1, :]), theta1=angle(W[..., 0, :], a),
                   theta2=angle(W[..., 1, :], -a), v1=v1, v2=v2, n1=n1, n2=n2, b1=n1 ** 2 - v1 ** 2,
                   b2=n2 ** 2 - v2 ** 2, h2=(h1 * h1).sum(-1) + (h2 * h2).sum(-1))
        out["loss_stable"] = pop_loss_k2_stable(V, W, a)
        return out

    return fn


def first_step(mask: np.ndarray, t: np.ndarray | None = None) -> np.ndarray:
    """Return, per column of the boolean ``mask (T, B)``, the first recorded step where it holds (−1 if never)."""
    mask = np.asarray(mask, dtype=bool)
    t = np.arange(mask.shape[0]) if t is None else np.asarray(t)
    idx = np.where(mask.any(0), mask.argmax(0), -1)
    return np.where(idx >= 0, t[np.clip(idx, 0, None)], -1)


def phase_times(traj: Trajectory, a_norm: float = 1.0, *, c4: float = ALIGN_ANGLE, c7: float = GROWTH_LEVEL,
                tol: float = 1e-8) -> dict:
    """Return the measured phase boundaries per seed (``(B,)`` int arrays, −1 = not reached).

    ``T1`` = first step with θ₁, θ₂ ≤ c₄ (alignment, Lemma 6); ``T12`` = first step with v₁, v₂ ≥ c₇√‖a‖
    (end of growth, Lemma 7); ``Tconv`` = first step with ‖h₁‖² + ‖h₂‖² ≤ tol·‖a‖².
    Needs a trajectory recorded with :func:`metrics_k2`.
    """
    m, t = traj.metrics, traj.t
    if "theta1" not in m:
        raise ValueError("traj must be recorded with metrics=metrics_k2(a)")
    return dict(T1=first_step((m["theta1"] <= c4) & (m["theta2"] <= c4), t),
                T12=first_step((m["v1"] >= c7 * math.sqrt(a_norm)) & (m["v2"] >= c7 * math.sqrt(a_norm)), t),
                Tconv=first_step(m["h2"] <= tol * a_norm ** 2, t))


def predicted_phase_times(mu: float, sigma: float, a_norm: float = 1.0, *, c4: float = ALIGN_ANGLE,
                          c7: float = GROWTH_LEVEL) -> dict:
    """Return the predicted phase times (spec 002 P7/P8) for the balanced χ-init of Theorem 2.

    Small-init linearisation: the mode ``v + a·w/‖a‖`` grows by ``(1 + μ‖a‖/2)`` per step from about σ/2 while
    ``w⊥`` stays ≈ σ. Hence ``T1 = ln(2/tan c₄)/ln(1+μ‖a‖/2)`` (σ-free) and
    ``T12 = ln(2c₇√‖a‖/σ)/ln(1+μ‖a‖/2)``, i.e. ``ln(√‖a‖/(2σ))/ln(1+μ‖a‖/2)`` for c₇ = ¼;
    ``growth_slope = 1/ln(1+μ‖a‖/2)`` is dT12/d ln(1/σ).
    """
    mu, sigma, a_norm = validate.positive("mu", mu), validate.positive("sigma", sigma), validate.positive("a_norm", a_norm)
    g = math.log1p(mu * a_norm / 2)
    return dict(T1=math.log(2 / math.tan(c4)) / g, T12=math.log(c7 * math.sqrt(a_norm) * 2 / sigma) / g,
                growth_slope=1.0 / g)


def local_slopes(mu: float, a_norm: float = 1.0) -> tuple[float, float]:
    """Return the predicted per-step slopes of ``ln‖h‖²`` near the optimum: fast ``2ln(1−μ‖a‖)``, slow ``2ln(1−μ‖a‖/2)``."""
    return 2 * math.log(abs(1 - mu * a_norm)), 2 * math.log(abs(1 - mu * a_norm / 2))


def escape_steps(loss: np.ndarray, threshold: float = 0.125) -> np.ndarray:
    """Return per column of ``loss (T+1, B)`` the first step with loss < ``threshold`` (−1 if never)."""
    return first_step(np.asarray(loss) < threshold)


def near_saddle_init(a: torch.Tensor, eps, center: float = 1.5, *, generator=None) -> torch.Tensor:
    """Return ``W (B, 2, d)``: both neurons at ``center·a + ε ξ_i`` with ``ξ_i ~ N(0, I/d)``, one row per ε (Fig. 1b)."""
    a = a.reshape(-1)
    eps = torch.as_tensor(eps, dtype=a.dtype).reshape(-1)
    if bool((eps < 0).any()):
        raise ValueError(f"eps must be >= 0, got {eps.tolist()}")
    d = a.numel()
    xi = torch.randn(eps.numel(), 2, d, generator=generator, dtype=a.dtype).to(a.device) / math.sqrt(d)
    return center * a + eps.to(a.device)[:, None, None] * xi


# ----------------------------------------------------------------------------- Figs. 4 and 5
def pl_certificate(theta, alpha: float = 0.05) -> np.ndarray:
    """Return the Fig. 4 curve ``F₄(θ) = c(θ) − (1 − cos θ) α̃(θ)²/(1 − α)`` (App. B.2 at r = 1; ≥ 0 ⇒ Lemma 8)."""
    th = np.asarray(theta, dtype=float)
    at = 0.5 * ((np.pi - th - np.sin(th)) / np.pi + 1 - alpha)
    kap = np.sin(th) + (np.pi - th) * np.cos(th)
    c = 0.5 * (1 - alpha + ((np.pi - th) ** 2 + 2 * (np.pi - th) * np.sin(th) * np.cos(th) + np.sin(th) ** 2) / np.pi ** 2) \
        - (1 - alpha / 2) * kap / np.pi
    return c - (1 - np.cos(th)) * at ** 2 / (1 - alpha)


def lb_certificate(theta, alpha_t: float = 0.05) -> np.ndarray:
    """Return the Fig. 5 curve ``F₅(θ) = (¼ − α̃) − ((π(½ + 2α̃) − θ) cos θ + sin θ)/(2π)`` (≥ 0 ⇒ Lemma 13)."""
    th = np.asarray(theta, dtype=float)
    return (0.25 - alpha_t) - ((np.pi * (0.5 + 2 * alpha_t) - th) * np.cos(th) + np.sin(th)) / (2 * np.pi)


def zero_crossing(fn, lo: float, hi: float) -> float:
    """Return the root of the scalar function ``fn`` in ``[lo, hi]`` (Brent's method)."""
    from scipy.optimize import brentq

    return float(brentq(lambda x: float(fn(x)), lo, hi, xtol=1e-14))


def random_k2_points(d: int, n: int, *, generator=None, dtype=torch.float64) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Return ``n`` random ``(V (n,2,1), W (n,2,d), a (n,d))`` with ``V = [v₁, −v₂]``, v_i ~ Exp(1), random scales.

    Used to check the inequalities of Lemmas 8, 12, 13 off the trajectory. Points with θ ≤ π/2 are kept; filter.
    """
    n, d = validate.positive_int("n", n), validate.positive_int("d", d)
    g = generator
    W = torch.randn(n, 2, d, generator=g, dtype=dtype) * torch.exp(torch.randn(n, 2, 1, generator=g, dtype=dtype))
    a = torch.randn(n, d, generator=g, dtype=dtype) * torch.exp(torch.randn(n, 1, generator=g, dtype=dtype))
    v = -torch.log(torch.rand(n, 2, generator=g, dtype=dtype))
    V = torch.stack([v[:, 0], -v[:, 1]], dim=-1).unsqueeze(-1)
    return V, W, a


def batched_pop_loss_grad_rows(V, W, a):
    """Return ``(L, gV, gW)`` for per-row targets ``a (B, d)`` (r = 1), batched: ``L (B,)``."""
    n, Wb, Th = pairwise_angles(W)
    S, P = torch.sin(Th), math.pi - Th
    K = n.unsqueeze(-1) * n.unsqueeze(-2) * (S + P * torch.cos(Th)) / TWO_PI
    C = V @ V.transpose(-1, -2)
    Wa = (W * a.unsqueeze(-2)).sum(-1, keepdim=True)           # (B, k, 1)
    loss = 0.5 * (C * K).sum((-1, -2)) - 0.5 * (V * Wa).sum((-1, -2)) + 0.5 * (a * a).sum(-1)
    gV = K @ V - 0.5 * Wa
    gW = ((C * S * n.unsqueeze(-2)).sum(-1) / TWO_PI).unsqueeze(-1) * Wb + (C * P * n.unsqueeze(-2) / TWO_PI) @ Wb \
        - 0.5 * V * a.unsqueeze(-2)
    return loss, gV, gW


# ----------------------------------------------------------------------------- §4: signs, group sums, pairing
def sign_predictor(V0: torch.Tensor, W0: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
    """Return the exact small-init predictor ``sign(‖a‖ v_i⁰ + a·w_i⁰)`` per neuron, ``(..., k)`` (r = 1).

    It is the sign of the growing mode of the linearised dynamics ``v̇ = ½a·w``, ``d(a·w)/dt = ½‖a‖²v``.
    Success (global optimum) is predicted iff the signs are mixed.
    """
    a = a.reshape(-1)
    return torch.sign(a.norm() * V0[..., 0] + W0 @ a)


def mixed_signs(s: torch.Tensor) -> torch.Tensor:
    """Return ``(...)`` booleans: True when the last axis of ``s`` holds both signs."""
    return (s > 0).any(-1) & (s < 0).any(-1)


def group_sums(V: torch.Tensor, W: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Return ``(P, N)``, each ``(..., d)``: ``P = Σ_{v_i>0}|v_i|w_i`` (→ +a) and ``N = Σ_{v_i<0}|v_i|w_i`` (→ −a)."""
    v = V[..., 0]
    P = ((v > 0) * v.abs()).unsqueeze(-1).mul(W).sum(-2)
    N = ((v < 0) * v.abs()).unsqueeze(-1).mul(W).sum(-2)
    return P, N


@dataclass
class Pairing:
    """A pairing of neurons: ``partner[i]``, whether it is an involution, and the relative pairing errors."""

    partner: np.ndarray
    involution: bool
    rel_error: np.ndarray
    max_rel_error: float


def match_pairs(V: torch.Tensor, W: torch.Tensor, mode: str = "exact") -> Pairing:
    """Return the best antipodal :class:`Pairing` of the k neurons of one network (``V (k, r)``, ``W (k, d)``).

    ``exact``: Hungarian matching on ``‖w_i + w_j‖² + ‖v_i + v_j‖²`` (diagonal forbidden); relative error
    ``√(cost_ij / (‖w_i‖² + ‖v_i‖²))``. ``scale_invariant``: cost ``(1 + cos(w_i, w_j)) + ‖u_i + u_j‖/max‖u‖``
    with ``u_i = ‖w_i‖ v_i`` (pairs antipodal in direction with opposite effective outer weight).
    """
    from scipy.optimize import linear_sum_assignment

    validate.one_of("mode", mode, ("exact", "scale_invariant"))
    if V.ndim != 2 or W.ndim != 2:
        raise ValueError("match_pairs takes one network: V (k, r), W (k, d)")
    Vn, Wn = V.detach().cpu().numpy(), W.detach().cpu().numpy()
    k = Wn.shape[0]
    if mode == "exact":
        cost = ((Wn[:, None] + Wn[None]) ** 2).sum(-1) + ((Vn[:, None] + Vn[None]) ** 2).sum(-1)
        scale = (Wn ** 2).sum(-1) + (Vn ** 2).sum(-1)
        rel_of = lambda i, j: math.sqrt(cost[i, j] / scale[i])
    else:
        Wb = Wn / np.linalg.norm(Wn, axis=1, keepdims=True)
        U = np.linalg.norm(Wn, axis=1, keepdims=True) * Vn
        um = np.linalg.norm(U, axis=1).max()
        cost = (1 + Wb @ Wb.T) + np.linalg.norm(U[:, None] + U[None], axis=-1) / um
        rel_of = lambda i, j: cost[i, j]
    big = cost.max() * 10 + 1.0
    c = cost.copy()
    np.fill_diagonal(c, big)
    _, partner = linear_sum_assignment(c)
    inv = bool(np.all(partner[partner] == np.arange(k)) and np.all(partner != np.arange(k)))
    rel = np.array([rel_of(i, partner[i]) for i in range(k)])
    return Pairing(partner, inv, rel, float(rel.max()))


def random_frame(dim: int, m: int = 2, *, within: torch.Tensor | None = None, exclude: torch.Tensor | None = None,
                 generator=None, dtype=torch.float64) -> torch.Tensor:
    """Return an orthonormal ``(m, dim)`` frame: random, inside ``span(within rows)`` if given, ⊥ to ``exclude`` rows."""
    G = torch.randn(m, within.shape[0] if within is not None else dim, generator=generator, dtype=dtype)
    if within is not None:
        G = G @ within.to(dtype)
    if exclude is not None:
        Q, _ = torch.linalg.qr(exclude.to(dtype).T)
        G = G - (G @ Q) @ Q.T
    Q, _ = torch.linalg.qr(G.T)
    return Q.T[:m]


# ----------------------------------------------------------------------------- empirical GD (finite samples)
def gaussian_data(n: int, A: torch.Tensor, batch: int = 1, *, generator=None) -> tuple[torch.Tensor, torch.Tensor]:
    """Return ``X (B, n, d)`` with ``x ~ N(0, I_d)`` and noiseless labels ``Y = X Aᵀ (B, n, r)``."""
    A = as_target(A)
    n, batch = validate.positive_int("n", n), validate.positive_int("batch", batch)
    X = torch.randn(batch, n, A.shape[1], generator=generator, dtype=A.dtype).to(A.device)
    return X, X @ A.T


def emp_loss_grad(V: torch.Tensor, W: torch.Tensor, X: torch.Tensor, Y: torch.Tensor,
                  n: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Return ``(L̂ (B,), ∇_V L̂, ∇_W L̂)`` of the empirical loss (1) on ``X (B, n, d)``, ``Y (B, n, r)``.

    ``n (B,)`` gives the true sample counts when ``X`` is zero-padded (zero rows contribute nothing:
    relu(0) = 0, y = 0), so runs with different n batch together. ReLU′(0) = 0 as in PyTorch.
    """
    Z = X @ W.transpose(-1, -2)                        # (B, n, k)
    H = torch.relu(Z)
    R = H @ V - Y                                      # (B, n, r)
    nn = torch.full(R.shape[:-2], X.shape[-2], dtype=X.dtype, device=X.device) if n is None else n.to(X.dtype)
    loss = 0.5 * (R * R).sum((-1, -2)) / nn
    gV = H.transpose(-1, -2) @ R / nn[..., None, None]
    D = (Z > 0).to(X.dtype) * (R @ V.transpose(-1, -2))
    gW = D.transpose(-1, -2) @ X / nn[..., None, None]
    return loss, gV, gW


def empirical_local_slope(X: torch.Tensor, a: torch.Tensor, mu: float, n: int | None = None) -> float:
    """Return the predicted slope ``2 ln(1 − μ λ_min)`` of ``ln‖h‖²`` for empirical GD near the optimum (one data set).

    ``λ_min = min_± λ_min(‖a‖(I + āāᵀ) Σ̂_±)`` with ``Σ̂_± = (1/n) Σ_{±a·x_i > 0} x_i x_iᵀ`` (spec 002 P23).
    """
    a = a.reshape(-1)
    n = X.shape[0] if n is None else n
    ab = a / a.norm()
    M = a.norm() * (torch.eye(a.numel(), dtype=X.dtype) + torch.outer(ab, ab))
    lam = []
    for s in (1.0, -1.0):
        Xs = X[(s * (X @ a)) > 0]
        Sig = Xs.T @ Xs / n
        lam.append(float(torch.linalg.eigvals(M @ Sig).real.min()))
    return 2 * math.log(max(1 - mu * min(lam), 1e-300))


def certificate_direct(theta: float, which: str = "pl", alpha: float = 0.05) -> float:
    """Return min over the target ``a`` of the Lemma-8 (``"pl"``) or Lemma-13 (``"lb"``) gap at angle ``θ``, directly.

    With ``v = (1, 1)``, unit ``w₁, w₂`` at angle θ: ``pl`` minimises ``‖∇_W L‖² − α L`` and ``lb`` minimises
    ``L − α(‖h₁‖² + ‖h₂‖²)`` over ``a ∈ R³`` by BFGS on the closed forms. It is the independent check of the
    one-dimensional reductions :func:`pl_certificate` (Fig. 4) and :func:`lb_certificate` (Fig. 5).
    """
    from scipy.optimize import minimize

    validate.one_of("which", which, ("pl", "lb"))
    validate.in_range("theta", theta, 0.0, math.pi)
    V = torch.tensor([[1.0], [-1.0]], dtype=torch.float64)
    W = torch.tensor([[1.0, 0.0, 0.0], [math.cos(theta), math.sin(theta), 0.0]], dtype=torch.float64)

    def gap(x):
        a = torch.as_tensor(x, dtype=torch.float64)
        L, _, gW = pop_loss_grad(V, W, a)
        if which == "pl":
            return float((gW * gW).sum() - alpha * L)
        h1, h2 = errors_k2(V, W, a)
        return float(L - alpha * ((h1 * h1).sum() + (h2 * h2).sum()))

    res = minimize(gap, np.array([0.3, 0.1, 0.0]), method="BFGS", options=dict(gtol=1e-12))
    return float(res.fun)
