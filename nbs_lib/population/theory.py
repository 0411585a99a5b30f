"""Theory of paper 002 in closed form: stationary points (Thm 1), phase-time and rate predictions (§5),
the certificate curves of Figs. 4–5 (App. B), the sign rules and group sums of §4, the pairing of App. E.1,
the data-dependent local rate and the expected masked second moment of Lemma 10.

Predictions marked "our derivation" are the book's (stated with the formula); the others are the paper's.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from .. import validate
from .dynamics import ALIGN_ANGLE, GROWTH_LEVEL
from .model import errors_k2, kappa, pop_loss_grad


# ----------------------------------------------------------------------------- Theorem 1
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


def saddle_points(a: torch.Tensor, c: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Return a batch ``(V (B,2,1), W (B,2,d))`` on the saddle manifold for rows ``a (B, d)``, ``c (B,)``, ``v (B, 2)``."""
    V = torch.stack([v[:, 0], -v[:, 1]], dim=-1).unsqueeze(-1)
    W = torch.stack([(c + 1)[:, None] * a / v[:, :1], c[:, None] * a / v[:, 1:]], dim=1)
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


def classify_k2(V: torch.Tensor, W: torch.Tensor, a: torch.Tensor, tol: float = 1e-6) -> np.ndarray:
    """Return per point of a batch ``V (B,2,1)``, ``W (B,2,d)`` its Theorem-1 family: 0 optimum, 1 saddle, 2 other.

    Optimum: ``‖v₁w₁ − a‖, ‖v₂w₂ + a‖ ≤ tol‖a‖``. Saddle: both ``v_i w_i`` parallel to ``a`` with
    ``v₁w₁ − v₂w₂ = a`` (within ``tol``), i.e. ``v₁w₁ = (c+1)a``, ``v₂w₂ = ca``.
    """
    a = a.reshape(-1)
    u1, u2 = V[:, 0, :1] * W[:, 0], -V[:, 1, :1] * W[:, 1]
    na = a.norm()
    opt = ((u1 - a).norm(dim=-1) <= tol * na) & ((u2 + a).norm(dim=-1) <= tol * na)
    ab = a / na
    perp = lambda u: (u - (u @ ab)[:, None] * ab).norm(dim=-1)
    sad = (perp(u1) <= tol * na) & (perp(u2) <= tol * na) & ((u1 - u2 - a).norm(dim=-1) <= tol * na)
    return np.where(opt.cpu().numpy(), 0, np.where(sad.cpu().numpy(), 1, 2))


def slice_loss(alpha1, alpha2, a_norm: float = 1.0):
    """Return the Fig. 1(c) slice ``L(α₁a, α₂a)`` with ``v = [1, −1]``: ``(‖a‖²/4)[(α₁⁺−α₂⁺−1)² + (α₁⁻−α₂⁻−1)²]``."""
    a1, a2 = np.asarray(alpha1, dtype=float), np.asarray(alpha2, dtype=float)
    p = np.maximum(a1, 0) - np.maximum(a2, 0) - 1
    m = np.minimum(a1, 0) - np.minimum(a2, 0) - 1
    return a_norm ** 2 / 4 * (p * p + m * m)


# ----------------------------------------------------------------------------- §5 predictions (our derivation)
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


# ----------------------------------------------------------------------------- Figs. 4 and 5
def _kappa_np(th: np.ndarray) -> np.ndarray:
    return kappa(torch.as_tensor(th, dtype=torch.float64, device="cpu")).numpy()


def pl_certificate(theta, alpha: float = 0.05) -> np.ndarray:
    """Return the Fig. 4 curve ``F₄(θ) = c(θ) − (1 − cos θ) α̃(θ)²/(1 − α)`` (App. B.2 at r = 1; ≥ 0 ⇒ Lemma 8)."""
    th = np.asarray(theta, dtype=float)
    at = 0.5 * ((np.pi - th - np.sin(th)) / np.pi + 1 - alpha)
    c = 0.5 * (1 - alpha + ((np.pi - th) ** 2 + 2 * (np.pi - th) * np.sin(th) * np.cos(th) + np.sin(th) ** 2) / np.pi ** 2) \
        - (1 - alpha / 2) * _kappa_np(th) / np.pi
    return c - (1 - np.cos(th)) * at ** 2 / (1 - alpha)


def lb_certificate(theta, alpha_t: float = 0.05) -> np.ndarray:
    """Return the Fig. 5 curve ``F₅(θ) = (¼ − α̃) − (κ(θ) − 2πα̃ cos θ − π cos θ/2)/(2π)`` (≥ 0 ⇒ Lemma 13).

    Equivalently ``(¼ − α̃) − ((π(½ + 2α̃) − θ) cos θ + sin θ)/(2π)``.
    """
    th = np.asarray(theta, dtype=float)
    return (0.25 - alpha_t) - (_kappa_np(th) - np.pi * np.cos(th) / 2 + 2 * np.pi * alpha_t * np.cos(th)) / (2 * np.pi)


def zero_crossing(fn, lo: float, hi: float) -> float:
    """Return the root of the scalar function ``fn`` in ``[lo, hi]`` (Brent's method); NaN when ``fn`` has the same
    sign at both ends (no crossing to report, e.g. a certificate that stays negative)."""
    from scipy.optimize import brentq

    if float(fn(lo)) * float(fn(hi)) > 0:
        return float("nan")
    return float(brentq(lambda x: float(fn(x)), lo, hi, xtol=1e-14))


def certificate_direct(theta: float, which: str = "pl", alpha: float = 0.05, *, device="cpu") -> float:
    """Return min over the target ``a`` of the Lemma-8 (``"pl"``) or Lemma-13 (``"lb"``) gap at angle ``θ``, directly.

    With ``v = (1, 1)``, unit ``w₁, w₂`` at angle θ: ``pl`` minimises ``‖∇_W L‖² − α L`` and ``lb`` minimises
    ``L − α(‖h₁‖² + ‖h₂‖²)`` over ``a ∈ R³`` by BFGS on the closed forms. It is the independent check of the
    one-dimensional reductions :func:`pl_certificate` (Fig. 4) and :func:`lb_certificate` (Fig. 5).
    """
    from scipy.optimize import minimize

    validate.one_of("which", which, ("pl", "lb"))
    validate.in_range("theta", theta, 0.0, math.pi)
    V = torch.tensor([[1.0], [-1.0]], dtype=torch.float64, device=device)
    W = torch.tensor([[1.0, 0.0, 0.0], [math.cos(theta), math.sin(theta), 0.0]], dtype=torch.float64, device=device)

    def gap(x):
        a = torch.as_tensor(x, dtype=torch.float64, device=device)
        L, _, gW = pop_loss_grad(V, W, a)
        if which == "pl":
            return float((gW * gW).sum() - alpha * L)
        h1, h2 = errors_k2(V, W, a)
        return float(L - alpha * ((h1 * h1).sum() + (h2 * h2).sum()))

    res = minimize(gap, np.array([0.3, 0.1, 0.0]), method="BFGS", options=dict(gtol=1e-12))
    return float(res.fun)


def random_k2_points(d: int, n: int, *, generator=None, dtype=torch.float64,
                     device="cpu") -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Return ``n`` random ``(V (n,2,1), W (n,2,d), a (n,d))`` with ``V = [v₁, −v₂]``, v_i ~ Exp(1), random scales.

    Drawn on the generator's device. Used to check the inequalities of Lemmas 8, 12, 13 off the trajectory.
    """
    n, d = validate.positive_int("n", n), validate.positive_int("d", d)
    g = generator
    dev = g.device if g is not None else torch.device(device)
    W = torch.randn(n, 2, d, generator=g, dtype=dtype, device=dev) * torch.exp(torch.randn(n, 2, 1, generator=g, dtype=dtype, device=dev))
    a = torch.randn(n, d, generator=g, dtype=dtype, device=dev) * torch.exp(torch.randn(n, 1, generator=g, dtype=dtype, device=dev))
    v = -torch.log(torch.rand(n, 2, generator=g, dtype=dtype, device=dev))
    V = torch.stack([v[:, 0], -v[:, 1]], dim=-1).unsqueeze(-1)
    return V, W, a


# ----------------------------------------------------------------------------- §4: signs, group sums, pairing
def sign_predictor(V0: torch.Tensor, W0: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
    """Return the exact small-init predictor ``sign(‖a‖ v_i⁰ + a·w_i⁰)`` per neuron, ``(..., k)`` (r = 1; our derivation).

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
                 generator=None, dtype=torch.float64, device="cpu") -> torch.Tensor:
    """Return an orthonormal ``(m, dim)`` frame: random, inside ``span(within rows)`` if given, ⊥ to ``exclude`` rows.

    Drawn on the generator's device, returned on ``device``.
    """
    dev = generator.device if generator is not None else torch.device(device)
    G = torch.randn(m, within.shape[0] if within is not None else dim, generator=generator, dtype=dtype, device=dev)
    G = G.to(device)
    if within is not None:
        G = G @ within.to(device=device, dtype=dtype)
    if exclude is not None:
        Q, _ = torch.linalg.qr(exclude.to(device=device, dtype=dtype).T)
        G = G - (G @ Q) @ Q.T
    Q, _ = torch.linalg.qr(G.T)
    return Q.T[:m]


# ----------------------------------------------------------------------------- finite samples
def empirical_local_slope(X: torch.Tensor, a: torch.Tensor, mu: float, n: int | None = None) -> float:
    """Return the predicted slope ``2 ln(1 − μ λ_min)`` of ``ln‖h‖²`` for empirical GD near the optimum (one data set).

    ``λ_min = min_± λ_min(‖a‖(I + āāᵀ) Σ̂_±)`` with ``Σ̂_± = (1/n) Σ_{±a·x_i > 0} x_i x_iᵀ`` (our derivation, spec P23).
    """
    a = a.reshape(-1).to(X.device)
    n = X.shape[0] if n is None else n
    ab = a / a.norm()
    M = a.norm() * (torch.eye(a.numel(), dtype=X.dtype, device=X.device) + torch.outer(ab, ab))
    lam = []
    for s in (1.0, -1.0):
        Xs = X[(s * (X @ a)) > 0]
        Sig = Xs.T @ Xs / n
        lam.append(float(torch.linalg.eigvals(M @ Sig).real.min()))
    return 2 * math.log(max(1 - mu * min(lam), 1e-300))


def expected_M(w: torch.Tensor, wstar: torch.Tensor) -> torch.Tensor:
    """Return ``E[1{wᵀx≥0} 1{w*ᵀx≥0} x xᵀ]`` for unit ``w, w*`` at angle φ ∈ (0, π), ``(..., d, d)`` (App. A.3.3).

    ``((π−φ)/2π) I + (w w*ᵀ + w* wᵀ − cos φ (w wᵀ + w* w*ᵀ)) / (2π sin φ)`` (spec 002 §1.5, our derivation).
    """
    phi = 2.0 * torch.atan2((w - wstar).norm(dim=-1), (w + wstar).norm(dim=-1))
    I = torch.eye(w.shape[-1], dtype=w.dtype, device=w.device)
    o = lambda x, y: x.unsqueeze(-1) * y.unsqueeze(-2)
    c, s = torch.cos(phi)[..., None, None], torch.sin(phi)[..., None, None]
    return ((math.pi - phi) / (2 * math.pi))[..., None, None] * I + (o(w, wstar) + o(wstar, w)
                                                                      - c * (o(w, w) + o(wstar, wstar))) / (2 * math.pi * s)
