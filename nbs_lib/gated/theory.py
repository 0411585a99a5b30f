"""Closed forms and theory helpers of paper 004: infinite-width NTKs (spec §1.7(c)), Table 1, Theorem 1, Lemma 3.

``κ_0, κ_1`` are the arc-cosine functions of ``nbs_lib.kernels``; the closed forms are DERIVED in the spec.
"""
from __future__ import annotations

import math

import numpy as np
import torch

from .. import kernels as _kernels
from .. import validate
from .model import GATE_MODES

def thm5_bounds() -> tuple[float, float]:
    """Return Theorem 5's eigenvalue band ``[1/12, 27/4]`` in units of ``m/d_x`` (or ``m/d_y``)."""
    return 1 / 12, 27 / 4


# ============================================================================ closed forms (spec §1.7)
def _as64(u) -> torch.Tensor:
    """Return ``u`` as a float64 tensor (on its own device; Python numbers on the CPU)."""
    if isinstance(u, torch.Tensor):
        return u.to(torch.float64)
    return torch.as_tensor(u, dtype=torch.float64, device="cpu")


def kappa0(u):
    """Return ``κ_0(u) = 1 − arccos(u)/π`` (arc-cosine kernel of degree 0, normalised so κ_0(1) = 1)."""
    return _kernels.arccos_of_cosine(_as64(u), 0)


def kappa1(u):
    """Return ``κ_1(u) = (√(1−u²) + (π − arccos u) u)/π`` (degree 1, κ_1(1) = 1, κ_1(0) = 1/π)."""
    return _kernels.arccos_of_cosine(_as64(u), 1)


def ntk_closed_form(X1, X2=None, L: int = 1, *, arch: str = "grelu_chain", normalized: bool = True, m=None,
                    d_x=None, d_y: int = 1) -> torch.Tensor:
    """Return the infinite-width NTK between unit rows of ``X1`` and ``X2``, ``(n1, n2)`` (spec §1.7(c), DERIVED).

    ``arch``: ``grelu_chain`` ``K = κ_1(u) Π_{l=1}^L κ_0(ρ_{l-1})``, ``grelu_input`` ``κ_1(u) κ_0(u)^L``,
    ``relu`` ``(1/L) Σ_k ρ_{k-1} Π_{l=k}^L κ_0(ρ_{l-1})`` with ``ρ_0 = κ_1(u)``, ``ρ_l = κ_1(ρ_{l-1})``;
    normalised so ``K(x,x) = 1``; with ``normalized=False`` multiplied by ``L m²/(d_x d_y)`` (needs ``m, d_x``).
    """
    validate.positive_int("L", L)
    validate.one_of("arch", arch, ("grelu_chain", "grelu_input", "relu"))
    X1 = X1.to(torch.float64)
    X2 = X1 if X2 is None else X2.to(torch.float64)
    u = ((X1 / X1.norm(dim=1, keepdim=True)) @ (X2 / X2.norm(dim=1, keepdim=True)).T).clamp(-1, 1)
    rho = kappa1(u)
    if arch == "grelu_input":
        K = rho * kappa0(u) ** L
    elif arch == "grelu_chain":
        K = rho.clone()
        r = rho
        for _ in range(L):
            K = K * kappa0(r)
            r = kappa1(r)
    else:
        rhos = [rho]
        for _ in range(L - 1):
            rhos.append(kappa1(rhos[-1]))
        K = torch.zeros_like(rho)
        for k in range(L):
            prod = torch.ones_like(rho)
            for l in range(k, L):
                prod = prod * kappa0(rhos[l])
            K = K + rhos[k] * prod
        K = K / L
    if not normalized:
        if m is None or d_x is None:
            raise ValueError("m and d_x must be given when normalized=False")
        K = K * L * m * m / (d_x * d_y)
    return K


def ntk_normalized_offdiag(u: float, L: int, arch: str = "grelu_chain") -> float:
    """Return ``K(x,x')/K(x,x)`` at cosine ``u`` (closed form)."""
    x1 = torch.tensor([[1.0, 0.0]], dtype=torch.float64, device="cpu")
    x2 = torch.tensor([[u, math.sqrt(max(0.0, 1 - u * u))]], dtype=torch.float64, device="cpu")
    return float(ntk_closed_form(x1, x2, L, arch=arch)[0, 0])


def ntk_diag(m: int, d_x: int, d_y: int, L: int, sigma_c2=2.0, sigma_w2=2.0, sigma_b2=2.0) -> float:
    """Return the GReLU NTK diagonal ``L (σ_C²/2)(σ_B²/2)(σ_W²/2)^{L-1} m²/(d_x d_y)`` (spec §1.2, DERIVED)."""
    return L * (sigma_c2 / 2) * (sigma_b2 / 2) * (sigma_w2 / 2) ** (L - 1) * m * m / (d_x * d_y)


def gate_overlap_theory(u: float, L: int, gate_mode: str = "chain") -> np.ndarray:
    """Return the predicted gate-overlap fractions ``q_l = κ_0(ρ_{l-1})/2``, ``l = 1..L`` (chain) or ``κ_0(u)/2`` (input)."""
    validate.one_of("gate_mode", gate_mode, GATE_MODES)
    if gate_mode == "input":
        return np.full(L, float(kappa0(u)) / 2)
    r, out = float(kappa1(u)), []
    for _ in range(L):
        out.append(float(kappa0(r)) / 2)
        r = float(kappa1(r))
    return np.array(out)


def forward_corr_theory(u: float, L: int, gate_mode: str = "chain", arch: str = "grelu") -> np.ndarray:
    """Return the normalised forward kernel ``⟨g_k(x), g_k(x')⟩/(m/d_x)``, ``k = 0..L`` (spec §1.7(c)); ReLU: ``ρ_k``."""
    r = float(kappa1(u))
    out = [r]
    if arch == "relu":
        for _ in range(L):
            r = float(kappa1(r))
            out.append(r)
        return np.array(out)
    c = r
    for _ in range(L):
        c *= float(kappa0(r if gate_mode == "chain" else u))
        r = float(kappa1(r))
        out.append(c)
    return np.array(out)



# ============================================================================ theory helpers (Table 1, Theorem 1, Lemma 3)
TABLE1 = [
    # work, log10 neurons(n, L), iterations (text), probability, GD step (text), remarks
    ("Du et al. [2019]", None, "1/(ηλ₀) log 1/ε", "p", "λ₀/n²", "λ₀⁻¹ = poly(e^L, n); smooth activation"),
    ("Zou et al. [2018]", lambda n, L: 26 * np.log10(n) + 38 * np.log10(L), "n⁸L⁹", "–", "1/(n²⁹L⁴⁷)", "binary classification"),
    ("Allen-Zhu et al. [2019]", lambda n, L: 24 * np.log10(n) + 12 * np.log10(L), "n⁶L² log 1/ε", "e^(−log² m)",
     "1/(n²⁸ log⁵m L¹⁴)", "∝ Poly(max y)"),
    ("Zou & Gu [2019]", lambda n, L: 8 * np.log10(n) + 12 * np.log10(L), "n²L² log 1/ε", "1/n", "1/(n⁸L¹⁴)", "–"),
    ("Noy et al. (GReLU)", lambda n, L: 2 * np.log10(n) + np.log10(L), "log(n³L/(d_x ε))", "e^(−√m)", "d_x/(n⁴L³d_y)",
     "L = Ω(log n)"),
]


def table1(n: float, L: float):
    """Return Table 1 of the paper as a DataFrame, with ``log10`` width and parameters ``m²L`` at ``(n, L)``."""
    import pandas as pd

    validate.positive("n", n)
    validate.positive("L", L)
    rows = []
    for work, f, iters, prob, step, rem in TABLE1:
        lm = f(n, L) if f is not None else float("nan")
        rows.append({"work": work, "#neurons (log10 m)": lm, "params m²L (log10)": 2 * lm + np.log10(L) if f else float("nan"),
                     "#iterations": iters, "probability": prob, "GD step": step, "remarks": rem})
    return pd.DataFrame(rows)


def theorem1(n: int, L: int, d_x: int, d_y: int = 1, eps: float = 1e-6) -> dict:
    """Return Theorem 1's width ``m = n²L d_y``, step ``η = d_x/(n⁴L³d_y)``, and iteration bound ``T = c_T log(n³L/(d_x ε))``.

    Also ``eta_times_Kxx`` = η·K(x,x) at that width (exactly 1, spec §1.5) and ``c_T = 2·81²``.
    """
    m = n * n * L * d_y
    eta = d_x / (n ** 4 * L ** 3 * d_y)
    c_T = 2 * 81 ** 2
    return dict(m=m, eta=eta, eta_times_Kxx=eta * ntk_diag(m, d_x, d_y, L), c_T=c_T,
                T_bound=c_T * math.log(n ** 3 * L / (d_x * eps)))


def lemma3_rate(eta: float, m: int, d_x: int, d_y: int, L: int) -> float:
    """Return Lemma 3's per-step contraction ``η α² L / 2`` with Theorem 5's ``α = m/(12√(d_x d_y))``."""
    alpha = m / (12 * math.sqrt(d_x * d_y))
    return eta * alpha * alpha * L / 2


