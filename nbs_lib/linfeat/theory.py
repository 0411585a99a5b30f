"""Closed-form theory of paper 001 and our sharpened versions (spec §1.5–§1.8).

* :func:`k_rate` — the per-step growth rate ``k = η√γ/(nm)`` used throughout the paper.
* :func:`stage1_solution` — the exact solution of the linearised stage-1 system, eq. (9) (with the
  paper's missing ``η/(nm)`` restored and the ``c_r = ⟨w_r(0), Xᵀy⟩`` term kept).
* :func:`two_sequence_theory` — our closed solution covering both stages (spec §1.8(c)): every neuron's
  ``(ρ_r, v_r)`` from two scalar sequences ``G, H`` and a shared gate ``1 − s(t)``.
* :func:`logistic_s` — eq. (11) in the variable ``s = ρ²/ρ*²``: ``s ← s (1 + k(1 − s))²``.
* Phase times (:func:`t_cross`, :func:`phase_times`), the paper's t₁ (:func:`paper_t1_population`,
  :func:`paper_t1_sample`), stage-2 duration (Lemma B.2), the step-size bound, the sign-flip rule and the
  Assumption 4.1 report.
"""
from __future__ import annotations

import math

import numpy as np
import torch

from .. import validate


def _np(x) -> np.ndarray:
    return x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else np.asarray(x, dtype=float)


def k_rate(eta, gamma, n: int, m: int):
    """Return ``k = η√γ/(nm)``."""
    return _np(eta) * np.sqrt(_np(gamma)) / (n * m)


def eta_from_k(k, gamma, n: int, m: int):
    """Return the step ``η = k n m/√γ`` that gives the rate ``k``."""
    return _np(k) * n * m / np.sqrt(_np(gamma))


def stage1_solution(c, v_init, gamma, k, T: int) -> tuple[np.ndarray, np.ndarray]:
    """Return ``(ρ: (T+1, ..., m), v: (T+1, ..., m))`` solving eq. (9) exactly:
    ``ρ_r(t) = ½[u⁺(1+k)^t + u⁻(1−k)^t] − c_r``, ``v_r(t) = [u⁺(1+k)^t − u⁻(1−k)^t]/(2√γ)``, ``u^± = c_r ± √γ v_r(0)``.
    """
    c, v_init = _np(c), _np(v_init)
    sg = np.sqrt(_np(gamma))[..., None]
    k = np.asarray(_np(k))[..., None]
    up, um = c + sg * v_init, c - sg * v_init
    t = np.arange(T + 1).reshape((-1,) + (1,) * c.ndim)
    G, H = (1 + k) ** t, (1 - k) ** t
    return 0.5 * (up * G + um * H) - c, (up * G - um * H) / (2 * sg)


def two_sequence_theory(c, v_init, gamma, phi, y_norm2, eta, n: int, m: int, T: int, neurons: bool = True) -> dict:
    """Return the closed two-stage theory (spec §1.8(b–c)) for ``T`` steps.

    Inputs ``c, v_init: (..., m)``; ``gamma, phi, y_norm2: (...)`` (the realised data constants);
    ``eta`` a number or ``(...)``. With ``u^± = c ± √γ v(0)``, ``s₀^± = κ Σ_r (u_r^±)²/(4mγ^{3/2})``::

        s(t) = s₀⁺G² − s₀⁻H²,  G ← G(1 + k(1 − s)),  H ← H(1 − k(1 − s)),  G(0) = H(0) = 1
        ρ_r = ½(u⁺G + u⁻H) − c_r,  v_r = (u⁺G − u⁻H)/(2√γ),  L = L_floor + (γ²/φ)(1 − s)²/(2n)

    Returns ``s, G, H, loss: (T+1, ...)`` and, with ``neurons``, ``rho, v: (T+1, ..., m)``; also ``k``, ``s0``.
    """
    c, v_init = _np(c), _np(v_init)
    gamma, phi, y2 = _np(gamma), _np(phi), _np(y_norm2)
    k = k_rate(eta, gamma, n, m)
    kappa = phi / gamma
    sg = np.sqrt(gamma)[..., None]
    up, um = c + sg * v_init, c - sg * v_init
    sp = kappa * (up ** 2).sum(-1) / (4 * m * gamma ** 1.5)
    sm = kappa * (um ** 2).sum(-1) / (4 * m * gamma ** 1.5)
    G, H = np.ones_like(gamma), np.ones_like(gamma)
    Gs, Hs, ss = [], [], []
    for _ in range(T + 1):
        s = sp * G ** 2 - sm * H ** 2
        Gs.append(G)
        Hs.append(H)
        ss.append(s)
        q = k * (1 - s)
        G, H = G * (1 + q), H * (1 - q)
    G, H, s = np.stack(Gs), np.stack(Hs), np.stack(ss)
    S_star = gamma ** 2 / phi
    out = dict(s=s, G=G, H=H, k=k, s0=sp, s0_minus=sm, loss=(y2 - S_star) / (2 * n) + S_star * (1 - s) ** 2 / (2 * n))
    if neurons:
        out["rho"] = 0.5 * (up * G[..., None] + um * H[..., None]) - c
        out["v"] = (up * G[..., None] - um * H[..., None]) / (2 * sg)
    return out


def s0_expected(sigma0: float, v0: float, kappa, gamma):
    """Return ``E s₀⁺ = κ(σ₀² + v₀²)/(4√γ)`` (σ₀ the standard deviation of w_r(0))."""
    return _np(kappa) * (sigma0 ** 2 + v0 ** 2) / (4 * np.sqrt(_np(gamma)))


def logistic_s(s0, k, T: int, discrete: bool = True) -> np.ndarray:
    """Return ``s(t): (T+1, ...)`` from eq. (11) in ``s = ρ²/ρ*²``: ``s ← s(1 + k(1 − s))²`` (``discrete``), or
    the gradient-flow solution ``s(t) = 1/(1 + (1/s₀ − 1)e^{−2kt})``.
    """
    s0, k = np.asarray(_np(s0), float), np.asarray(_np(k), float)
    if not discrete:
        t = np.arange(T + 1).reshape((-1,) + (1,) * np.broadcast(s0, k).ndim)
        return 1.0 / (1.0 + (1.0 / s0 - 1.0) * np.exp(-2 * k * t))
    out = [np.broadcast_to(s0, np.broadcast(s0, k).shape).astype(float)]
    for _ in range(T):
        s = out[-1]
        with np.errstate(over="ignore", invalid="ignore"):
            out.append(s * (1 + k * (1 - s)) ** 2)
    return np.stack(out)


def t_cross(series, threshold: float) -> np.ndarray:
    """Return the first time ``series: (T+1, ...)`` falls to ``≤ threshold``, interpolated linearly in
    ``log(series)`` between the two bracketing steps (NaN where it never does)."""
    x = np.asarray(series, float)
    below = x <= threshold
    first = np.where(below.any(0), below.argmax(0), -1)
    out = np.full(first.shape, np.nan)
    it = np.nditer(first, flags=["multi_index"])
    for idx in it:
        t = int(idx)
        if t < 0:
            continue
        mi = it.multi_index
        if t == 0:
            out[mi] = 0.0
            continue
        a, b = x[(t - 1,) + mi], x[(t,) + mi]
        if a > 0 and b > 0 and a != b:
            out[mi] = t - 1 + (math.log(a) - math.log(threshold)) / (math.log(a) - math.log(b))
        else:
            out[mi] = float(t)
    return out


def phase_times(loss, fracs=(0.9, 0.5, 0.1)) -> dict:
    """Return ``{p: t_p}``: the (interpolated) first time ``L(t) ≤ p · L(0)`` for each fraction ``p``."""
    L = np.asarray(loss, float)
    return {p: t_cross(L / L[0], p) for p in fracs}


def first_index(cond) -> np.ndarray:
    """Return the first index along axis 0 where ``cond`` holds (−1 where it never does)."""
    cond = np.asarray(cond, bool)
    return np.where(cond.any(0), cond.argmax(0), -1)


def t_p_continuous(s0, k, p: float):
    """Return the gradient-flow time to ``L = p L₀``: ``ln[s_p(1 − s₀)/((1 − s_p)s₀)]/(2k)``, ``s_p = 1 − √p``."""
    sp = 1 - math.sqrt(p)
    return np.log(sp * (1 - _np(s0)) / ((1 - sp) * _np(s0))) / (2 * _np(k))


def t_p_discrete_exp(s0, k, p: float):
    """Return the discrete exponential-phase estimate ``ln[s_p/((1 − s_p)s₀)]/(2 ln(1 + k))``."""
    sp = 1 - math.sqrt(p)
    return np.log(sp / ((1 - sp) * _np(s0))) / (2 * np.log1p(_np(k)))


def paper_t1_population(m: int, n: int, eta, v0: float, tr_sigma: float, beta_bar, C1: float = 1.0):
    """Return the paper's ``t₁ = C₁ m√n ln(1/v₀)/(η √trΣ ‖β̄‖₂)`` (Thm 4.1, consistent reading)."""
    return C1 * m * math.sqrt(n) * math.log(1 / v0) / (_np(eta) * math.sqrt(tr_sigma) * _np(beta_bar))


def paper_t1_sample(k, v0: float, C1: float = 1.0):
    """Return the paper's ``t₁`` with the realised γ: ``C₁ ln(1/v₀)/k`` (Lemma B.1's proof)."""
    return C1 * math.log(1 / v0) / _np(k)


def stage2_duration(k, s_a: float, s_b: float):
    """Return the continuous-logistic travel time from ``s_a`` to ``s_b``: ``ln[s_b(1 − s_a)/(s_a(1 − s_b))]/(2k)``
    (the form of the paper's ``t₂ − t₁``, Lemma B.2's proof)."""
    return math.log(s_b * (1 - s_a) / (s_a * (1 - s_b))) / (2 * _np(k))


def eta_max_linear(K: torch.Tensor, y: torch.Tensor, m: int, n: int) -> np.ndarray:
    """Return the GD stability bound ``η_max = 2n/λ_max(Θ*)`` at the balanced min-norm interpolant, with
    ``Θ* = (b/m)K + yyᵀ/(m b)``, ``b = √(yᵀK⁺y)`` (spec §1.8(i)); for isotropic K this is ``k < 1``."""
    b = (y * (torch.linalg.pinv(K, hermitian=True) @ y.unsqueeze(-1)).squeeze(-1)).sum(-1).sqrt()
    Th = (b / m)[..., None, None] * K + y.unsqueeze(-1) * y.unsqueeze(-2) / (m * b)[..., None, None]
    return _np(2 * n / torch.linalg.eigvalsh(Th)[..., -1])


def sign_flip_prediction(sigma0: float, v0: float) -> float:
    """Return ``Φ(−v₀/σ₀)``: the predicted share of neurons whose ``v_r`` changes sign (spec §1.8(g))."""
    if sigma0 == 0:
        return 0.0
    return 0.5 * math.erfc(v0 / sigma0 / math.sqrt(2))


def map_attractor(k, s0: float = 1e-3, burn: int = 3000, keep: int = 64) -> np.ndarray:
    """Return ``keep`` iterates of the logistic map ``s ← s(1 + k(1 − s))²`` after ``burn`` steps, shape
    ``(keep, len(k))`` (NaN where the orbit escaped to infinity)."""
    k = np.atleast_1d(np.asarray(k, float))
    s = np.full_like(k, s0)
    out = []
    with np.errstate(over="ignore", invalid="ignore"):
        for t in range(burn + keep):
            s = s * (1 + k * (1 - s)) ** 2
            s = np.where(np.isfinite(s) & (np.abs(s) < 1e6), s, np.nan)
            if t >= burn:
                out.append(s.copy())
    return np.stack(out)


def assumption_report(*, n: int, d: int, m: int, eta: float, sigma0: float, v0: float, lam, beta, sigma_y: float,
                      eps: float = 0.01, sigma_x: float = 1.0, C: float = 1.0):
    """Return a table (pandas DataFrame) of Assumption 4.1's six conditions evaluated with all absolute
    constants set to ``C``: requirement, bound, value, whether it holds and the violation factor.

    ``lam``: eigenvalues of Σ; ``beta``: the teacher (‖β̄‖² = βᵀΣβ); ``eps``: the target loss level.
    """
    import pandas as pd

    for name, val in (("n", n), ("d", d), ("m", m)):
        validate.positive_int(name, val)
    for name, val in (("eta", eta), ("v0", v0), ("eps", eps), ("C", C)):
        validate.positive(name, val)
    validate.nonnegative("sigma0", sigma0)
    lam, beta = _np(lam), _np(beta)
    tr = float(lam.sum())
    s2, sF = float(lam.max()), float(np.sqrt((lam ** 2).sum()))
    bb2 = float((lam * beta ** 2).sum())
    bb = math.sqrt(bb2)
    b_sigma = min(C / math.sqrt(n * d * bb2 * tr), math.sqrt(eps) / (n ** 0.25 * bb ** 0.5 * tr ** 0.25))
    b_v0 = C / math.sqrt(n * bb2 * tr)
    b_eta = C * math.sqrt(n * m) / (math.sqrt(tr) * bb)
    need_tr = max(C, math.sqrt(eps) * bb) * sigma_x ** 2 * (n * s2 + math.sqrt(n) * sF)
    rows = [
        ("(1) width", "m ≥ C log(2n)", C * math.log(2 * n), m, "≥"),
        ("(2) first-layer init", "σ₀ ≤ min{C/√(nd‖β̄‖²trΣ), √ε/(n^¼‖β̄‖^½trΣ^¼)}", b_sigma, sigma0, "≤"),
        ("(3) second-layer init", "v₀ ≤ C/√(n‖β̄‖²trΣ)", b_v0, v0, "≤"),
        ("(4) step size", "η ≤ C√(nm)/(√trΣ‖β̄‖)", b_eta, eta, "≤"),
        ("(5) label noise", "σ_y² ≤ 8n‖β̄‖²", 8 * n * bb2, sigma_y ** 2, "≤"),
        ("(6a) near-isotropic K", "trΣ ≥ max{C, √ε‖β̄‖}σ_x²(n‖Σ‖₂ + √n‖Σ‖_F)", need_tr, tr, "≥"),
        ("(6b) signal", "trΣ‖β̄‖² ≥ C", C, tr * bb2, "≥"),
    ]
    out = []
    for name, req, bound, value, op in rows:
        holds = value >= bound if op == "≥" else value <= bound
        factor = (bound / value if op == "≥" else value / bound) if value > 0 else 0.0
        out.append(dict(condition=name, requirement=req, bound=bound, value=float(value), holds=bool(holds),
                        violation_factor=float(factor) if not holds else 1.0))
    return pd.DataFrame(out)


def rank_one_theory(K: torch.Tensor, y: torch.Tensor, s0, eta, m: int, T: int) -> np.ndarray:
    """Return the loss ``(T+1, B)`` of the balanced rank-one model in prediction space (spec §1.8(i), our
    extension for anisotropic data; not in the paper)::

        f ← f + η/(mn) (b K r + f (fᵀr)/b),  r = y − f,  b = √(fᵀK⁻¹f),  f(0) = s₀ (S*/γ) K y

    It keeps the network rank one and balanced (‖w‖ = |v| up to the 1/m scale) but lets the one direction
    move away from ``Xᵀy``, so on anisotropic ``K`` it fits several eigen-directions one after another.
    ``K: (B, n, n)`` invertible, ``y: (B, n)``, ``s0`` and ``eta`` numbers or ``(B,)``. Loss ``‖y − f‖²/(2n)``.
    """
    n = y.shape[-1]
    dev, dt = K.device, K.dtype
    s0 = torch.as_tensor(_np(s0), dtype=dt, device=dev).reshape(-1, 1)
    a = torch.as_tensor(_np(eta), dtype=dt, device=dev).reshape(-1, 1) / (m * n)
    Ky = (K @ y.unsqueeze(-1)).squeeze(-1)
    gamma = (y * Ky).sum(-1, keepdim=True)
    phi = (Ky * Ky).sum(-1, keepdim=True)
    f = s0 * (gamma / phi) * Ky
    L = torch.linalg.cholesky(K)
    out = []
    for t in range(T + 1):
        r = y - f
        out.append((0.5 * (r * r).mean(-1)).cpu().numpy())
        if t == T:
            break
        Kinv_f = torch.cholesky_solve(f.unsqueeze(-1), L).squeeze(-1)
        b = (f * Kinv_f).sum(-1, keepdim=True).clamp_min(1e-300).sqrt()
        Kr = (K @ r.unsqueeze(-1)).squeeze(-1)
        f = f + a * (b * Kr + f * (f * r).sum(-1, keepdim=True) / b)
    return np.stack(out)
