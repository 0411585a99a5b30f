"""Activations of paper 003 (Song, Zhang & Zhang) and their normalisation constants.

Two activations, parametrised by the *standardised* threshold ``b ≥ 0`` with ``τ = b·√(2/m)`` (erratum E1 of the
chapter: ``g_{i,ℓ,r} ~ N(0, (2/m)‖h‖²)`` at initialisation, so τ is "b standard deviations"):

* ``'shifted'`` (default, §2.2 / Lemma F.6 with the rescaling of Remark F.7): ``φ(x) = √c_sh · max(x − τ, 0)``,
  ``c_sh(b) = 1 / (2((1+b²)Q(b) − bϕ(b)))`` (our normalisation);
* ``'threshold'`` (Def. F.3 / Lemma F.8 / Lemma G.6): ``φ(x) = √c_thr · 1[x > τ] · x``,
  ``c_thr(b) = 1 / (2(Q(b) + bϕ(b)))`` (erratum E2: exponent −1, applied as √c).

Both make ``m·E[φ(g)²] = 1`` for ``g ~ N(0, 2/m)``; at ``b = 0`` both are the ReLU with He scaling. ``Q = 1 − Φ``.
The mean-field norm map ``q ↦ N(q) = 2c·q·M2(b/√q)`` has slope ``A(b) = N'(1) > 1`` for ``b > 0`` (the chapter's
Finding 2); ``V(b)/m`` is the variance of ``‖h_1‖²`` at ``‖x‖ = 1``.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch

KINDS = ("shifted", "threshold")


def Q(b: float) -> float:
    """Return the standard normal tail ``Q(b) = 1 − Φ(b)``."""
    return 0.5 * math.erfc(b / math.sqrt(2.0))


def pdf(b: float) -> float:
    """Return the standard normal density ``ϕ(b)``."""
    return math.exp(-0.5 * b * b) / math.sqrt(2.0 * math.pi)


def _check(kind: str, b: float) -> None:
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    if not isinstance(b, (int, float)) or isinstance(b, bool) or not math.isfinite(b) or not 0 <= b <= 6:
        raise ValueError(f"b must be a number in [0, 6], got {b!r}")


def second_moment(beta: float, kind: str) -> float:
    """Return ``M2(β)``: ``Q(β)+βϕ(β)`` (threshold) or ``(1+β²)Q(β)−βϕ(β)`` (shifted)."""
    if kind == "threshold":
        return Q(beta) + beta * pdf(beta)
    return (1 + beta * beta) * Q(beta) - beta * pdf(beta)


def normalisation(kind: str, b: float) -> float:
    """Return ``c`` with ``m·E[φ(g)²] = 1`` for ``g ~ N(0, 2/m)`` (table of §1.3 of the chapter)."""
    _check(kind, b)
    return 1.0 / (2.0 * second_moment(b, kind))


def act_constants(kind: str, b: float) -> dict:
    """Return ``{'c','sqrt_c','Q','A','V','cQ','overshoot_bound'}`` for the activation ``kind`` at threshold ``b``."""
    c = normalisation(kind, b)
    q, p = Q(b), pdf(b)
    if kind == "threshold":
        A = 1 + c * b ** 3 * p
        V = 4 * c * c * ((b ** 3 + 3 * b) * p + 3 * q) - 1
    else:
        A = 1 + 2 * c * b * (p - b * q)
        V = 4 * c * c * ((b ** 4 + 6 * b * b + 3) * q - (b ** 3 + 5 * b) * p) - 1
    return {"c": c, "sqrt_c": math.sqrt(c), "Q": q, "A": A, "V": V, "cQ": c * q, "overshoot_bound": 1 + b * p / q}


def norm_map(q: float, b: float, kind: str) -> float:
    """Return the mean-field norm map ``N(q) = 2c·q·M2(b/√q)`` (``q = ‖h_{ℓ−1}‖²`` ↦ ``E‖h_ℓ‖²``)."""
    c = normalisation(kind, b)
    return 2 * c * q * second_moment(b / math.sqrt(q), kind)


def b_for_sparsity(m: int, alpha_sp: float) -> float:
    """Return ``b = √(2·alpha_sp·log m)`` (Remark F.7: firing probability ≤ ``m^{−alpha_sp}``)."""
    if not 0 <= alpha_sp < 1:
        raise ValueError(f"alpha_sp must be in [0, 1), got {alpha_sp!r}")
    if m < 2:
        raise ValueError(f"m must be an integer ≥ 2, got {m!r}")
    return math.sqrt(2 * alpha_sp * math.log(m))


@dataclass(frozen=True)
class ActSpec:
    """An activation at width ``m``: ``kind``, standardised threshold ``b``, normalisation ``c``, threshold ``tau``."""

    kind: str
    b: float
    m: int
    c: float
    tau: float

    @property
    def sqrt_c(self) -> float:
        return math.sqrt(self.c)


def make_act(kind: str, b: float, m: int) -> ActSpec:
    """Return the :class:`ActSpec` of ``kind`` with ``τ = b√(2/m)`` and its normalisation."""
    _check(kind, b)
    if not isinstance(m, int) or m < 1:
        raise ValueError(f"m must be a positive integer, got {m!r}")
    return ActSpec(kind, float(b), m, normalisation(kind, b), b * math.sqrt(2.0 / m))


def phi(P: torch.Tensor, spec: ActSpec) -> torch.Tensor:
    """Return ``φ(P)`` elementwise (the activation of ``spec``)."""
    if spec.kind == "shifted":
        return spec.sqrt_c * (P - spec.tau).clamp_min(0)
    return spec.sqrt_c * torch.where(P > spec.tau, P, torch.zeros_like(P))


def dphi(P: torch.Tensor, spec: ActSpec) -> torch.Tensor:
    """Return the a.e. derivative ``φ'(P) = √c·1[P > τ]`` (the jump of 'threshold' at τ is ignored, as in the paper)."""
    # sign(max(P − τ, 0)) is 1[P > τ] exactly (NaN gives 0, as the cast did): ~4× faster on CPU than the bool
    # cast (P > τ).to(P.dtype), which dominated the frozen-feature GN step at n = 32
    return (P - spec.tau).clamp_min_(0).sign_().mul_(spec.sqrt_c)
