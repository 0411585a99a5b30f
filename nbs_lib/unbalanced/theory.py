"""Paper 000: the theory's numbers. Lemma 3.8's rates and ``T_NAG``, iteration predictions, the proofs'
envelopes, Lemma 3.5/3.6/4.2/4.3 bounds, Table 1's width/rate formulas and the guardrails.
"""
from __future__ import annotations

import math

import numpy as np
import torch


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




def width_table(N: int, n: int, lam: float, kappa: float, r: int | None = None, kappa_r: float | None = None,
                kappa_ck: float | None = None):
    """Return Table 1 of paper 000 as a DataFrame with each width and rate formula evaluated (no constants/logs).

    ``λ`` = λ_N(K̄), ``κ`` = κ(K̄), ``κ′`` = ``kappa_ck`` = κ(Ḡ) (the CK's condition number: the rate of the
    random-feature row; NaN when not given); rates are iteration counts per unit of ``log(1/ε)``. The last
    column is the paper's regime (NTK, or RF: dynamics driven by the CK).
    """
    import pandas as pd

    r = r or n
    kappa_r = kappa_r or 1.0
    kck = float("nan") if kappa_ck is None else float(kappa_ck)
    rows = [
        ("scalar", "GD (Du et al. 2018)", "random", N**6 / lam**4, "N⁶λ⁻⁴", N**2 / lam**2, "N²λ⁻²", "NTK"),
        ("scalar", "GD (Song & Yang 2019)", "random", N**4 / lam**4, "N⁴λ⁻⁴", N**2 / lam**2, "N²λ⁻²", "NTK"),
        ("scalar", "HB (Wang et al. 2021)", "random", N**4 * kappa**2 / lam**4, "N⁴κ²λ⁻⁴", math.sqrt(kappa), "√κ",
         "NTK"),
        ("scalar", "NAG (Liu et al. 2022b)", "random", N**4 * kappa**2 / lam**2, "N⁴κ²λ⁻²", math.sqrt(kappa), "√κ",
         "NTK"),
        ("scalar", "GD (Munteanu et al. 2022)", "coupled", N**2 / lam**2, "N²λ⁻²", N**2 / lam**2, "N²λ⁻²", "NTK"),
        ("scalar", "GD (paper, Thm 3.1)", "unbalanced", N / lam, "Nλ⁻¹", kappa, "κ", "NTK"),
        ("scalar", "NAG (paper, Thm 3.2)", "unbalanced", N / lam, "Nλ⁻¹", math.sqrt(kappa), "√κ", "NTK"),
        ("vector", "GD (Nguyen 2021)", "unbalanced", N, "N", kck, "κ′ = κ(Ḡ)", "RF"),
        ("vector", "GD (paper, Thm 3.1)", "unbalanced", N * n / lam, "Nnλ⁻¹", n * kappa, "nκ", "NTK"),
        ("vector", "NAG (paper, Thm 3.2)", "unbalanced", N * n / lam, "Nnλ⁻¹", math.sqrt(n * kappa), "√(nκ)", "NTK"),
        ("vector", "NAG (paper, Thm 4.1)", "unbalanced", N * r * kappa_r**2 / lam, "Nrκ_r²λ⁻¹",
         math.sqrt(r * kappa * kappa_r), "√(rκκ_r)", "NTK"),
    ]
    return pd.DataFrame(rows, columns=["output", "algorithm", "init", "width", "width formula", "rate",
                                       "rate formula", "regime"])


def lemma35_bounds(c1: float, c2: float, m: int, n: int, d: int) -> dict:
    """Return Lemma 3.5's bounds for init (4): ``½c1√n ≤ R_V ≤ c1(√n + 2√log m)``, same for ``R_W`` with c2, d."""
    lg = 2 * math.sqrt(math.log(m)) if m > 1 else 0.0
    return {"RV_lo": 0.5 * c1 * math.sqrt(n), "RV_hi": c1 * (math.sqrt(n) + lg),
            "RW_lo": 0.5 * c2 * math.sqrt(d), "RW_hi": c2 * (math.sqrt(d) + lg)}


def lemma42_bounds(c1: float, c2: float, m: int, r: int, d: int, sigma_r: float, sigma_1: float,
                   tau: float = 0.5) -> dict:
    """Return Lemma 4.2's bounds for init (8): ``½c1σ_r(Y)√r ≤ R_V ≤ c1‖Y‖(√r + 2√log m)``, ``R_W`` as in
    Lemma 3.5, and ``σ_r(V0) ≥ c1√(2τ)(√m − √(r−1))σ_r(Y)`` at the given ``τ``."""
    lg = 2 * math.sqrt(math.log(m)) if m > 1 else 0.0
    return {"RV_lo": 0.5 * c1 * sigma_r * math.sqrt(r), "RV_hi": c1 * sigma_1 * (math.sqrt(r) + lg),
            "RW_lo": 0.5 * c2 * math.sqrt(d), "RW_hi": c2 * (math.sqrt(d) + lg),
            "sv_lo": c1 * math.sqrt(2 * tau) * (math.sqrt(m) - math.sqrt(r - 1)) * sigma_r}


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


