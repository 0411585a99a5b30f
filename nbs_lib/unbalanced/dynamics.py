"""Paper 000: GD (eq. 2) and NAG (eq. 3, ``V_{−1} = V_0``) with closed-form gradients through
:func:`nbs_lib.optim.nag`, the step parameters, and the linear residual system of Prop. 3.7.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from .. import optim
from .model import Net, grads, vec


def step_params(L, mu, method: str = "nag"):
    """Return ``(η, β) = (1/L, (√L − √µ)/(√L + √µ))`` (β = 0 for ``"gd"``); tensors broadcast (batched)."""
    dev = L.device if isinstance(L, torch.Tensor) else "cpu"
    L, mu = (torch.as_tensor(v, dtype=torch.float64, device=dev) for v in (L, mu))
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
    diverged_runs: np.ndarray | None = None           # (B,) bool: runs frozen after a non-finite loss


def train(net: Net, X, Y, *, eta, beta=0.0, steps: int, tol: float | None = None, track: bool = False,
          keep_residuals: bool = False, U: torch.Tensor | None = None, knobs: str = "the step size") -> TrainResult:
    """Train ``net`` (batched over the leading axis) by GD (β = 0) or NAG (eq. 3) with closed-form gradients.

    ``eta``, ``beta``: floats or ``(B,)`` tensors. ``tol``: absolute loss tolerance (stop when every run is
    below). ``track``: record ``R_1``, ``R_2`` and the flip mask (Lemmas 3.9–3.10); ``keep_residuals``: the
    residual vectors (for Prop. 3.7); ``U``: orthonormal basis of col(Y) to record the off-subspace residual
    (Lemma 4.5). A run whose loss turns non-finite (or blows up) is frozen and its later losses are NaN
    (:func:`nbs_lib.optim.nag` with ``on_divergence="mask"``); the others go on. ``knobs`` names what the
    notebook's reader can change, for the divergence message.
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

    res = optim.nag(lg, (V0, W0), eta=eta_t, beta=beta_t, steps=steps, tol=tol, on_divergence="mask", first_step="gd",
                    knobs=knobs)
    V, W = last.get("p", (V0, W0))
    dr = res.diverged_runs if res.diverged_runs is not None else np.zeros(B, bool)
    msg = res.message.replace("NAG", "GD", 1) if not bool((beta_t != 0).any()) else res.message
    return TrainResult(res.losses, res.hit, Net(V, W), tr, res.diverged, msg, dr)




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


