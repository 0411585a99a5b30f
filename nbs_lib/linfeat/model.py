"""The two-layer network of paper 001 (§3.3) and direct d-space gradient descent (eq. 2).

``f(X; W, v) = act(X W) v / m`` with ``act`` the identity (the paper's model) or ReLU (Fig. 3), no biases;
``w_r(0) ~ N(0, σ₀² I_d)``, ``v_r(0) = ±v₀`` with random signs; loss ``L = ‖f − y‖²/(2n)``; full-batch
GD with step η on both layers at once. The loop is :func:`nbs_lib.optim.gd` (divergence detection,
seeds batched on a leading axis) with the closed-form gradient; :func:`autograd_step` is the autograd
reference used by the tests and the benchmark.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import torch

from .. import optim, validate
from . import observables as obs

ACTS = ("linear", "relu")


def init_std(sigma0: float, sigma0_is_variance: bool = False) -> float:
    """Return the standard deviation of w_r(0): ``σ₀`` (our reading) or ``√σ₀`` (the variance reading)."""
    validate.nonnegative("sigma0", sigma0)
    return math.sqrt(sigma0) if sigma0_is_variance else float(sigma0)


def init_params(d: int, m: int, *, sigma0: float, v0: float, seeds=(0,), sigma0_is_variance: bool = False,
                dtype=torch.float64, device="cpu", generator_offset: int = 1000) -> tuple[torch.Tensor, torch.Tensor]:
    """Return ``(W0: (B, d, m), v0: (B, m))`` for each seed: Gaussian W₀ with std ``σ₀`` and ``v_r = ±v₀``.

    The generator of seed ``s`` (on ``device``) is seeded with ``s + generator_offset``, so that a caller that
    passes the data's seeds still gets independent draws; experiments pass seeds of their own stream.
    """
    validate.positive_int("d", d)
    validate.positive_int("m", m)
    validate.positive("v0", v0)
    std = init_std(sigma0, sigma0_is_variance)
    device = torch.device(device)
    Ws, vs = [], []
    for s in seeds:
        g = torch.Generator(device=device).manual_seed(int(s) + generator_offset)
        Ws.append(std * torch.randn(d, m, generator=g, dtype=dtype, device=device))
        vs.append(v0 * (2.0 * torch.randint(0, 2, (m,), generator=g, device=device).to(dtype) - 1.0))
    return torch.stack(Ws), torch.stack(vs)


def forward(X: torch.Tensor, W: torch.Tensor, v: torch.Tensor, act: str = "linear") -> torch.Tensor:
    """Return ``f = act(X W) v / m``, shape ``(..., n)``."""
    Z = X @ W
    A = Z if act == "linear" else Z.clamp_min(0)
    return (A @ v.unsqueeze(-1)).squeeze(-1) / W.shape[-1]


def loss_and_grad(X: torch.Tensor, y: torch.Tensor, W: torch.Tensor, v: torch.Tensor, act: str = "linear"):
    """Return ``(L, ∂L/∂W, ∂L/∂v)`` in closed form (eq. 2): with ``r = y − f``,
    ``∂L/∂v = −Aᵀr/(mn)`` and ``∂L/∂W = −Xᵀ[(r vᵀ) ⊙ act′(Z)]/(mn)``.
    """
    n, m = X.shape[-2], W.shape[-1]
    Z = X @ W
    if act == "linear":
        A, Dv = Z, None
    else:
        A, Dv = Z.clamp_min(0), (Z > 0).to(Z.dtype)
    r = y - (A @ v.unsqueeze(-1)).squeeze(-1) / m
    loss = 0.5 * (r * r).mean(-1)
    gv = -(A.transpose(-1, -2) @ r.unsqueeze(-1)).squeeze(-1) / (m * n)
    if act == "linear":
        Xtr = (X.transpose(-1, -2) @ r.unsqueeze(-1))                  # (..., d, 1)
        gW = -(Xtr * v.unsqueeze(-2)) / (m * n)
    else:
        G = r.unsqueeze(-1) * v.unsqueeze(-2) * Dv                      # (..., n, m)
        gW = -(X.transpose(-1, -2) @ G) / (m * n)
    return loss, gW, gv


def autograd_step(X: torch.Tensor, y: torch.Tensor, W: torch.Tensor, v: torch.Tensor, eta: float,
                  act: str = "linear") -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Return ``(L, W_next, v_next)``: one GD step with gradients from torch autograd (the reference)."""
    W = W.detach().requires_grad_(True)
    v = v.detach().requires_grad_(True)
    f = forward(X, W, v, act)
    loss = 0.5 * ((f - y) ** 2).mean(-1)
    gW, gv = torch.autograd.grad(loss.sum(), (W, v))
    return loss.detach(), (W - eta * gW).detach(), (v - eta * gv).detach()


@dataclass
class DirectRun:
    """History of direct GD: ``loss: (T+1, B)``, ``rho``/``v``: ``(T+1, B, m)``, kernel statistics at
    ``ntk_t``: ``ntk_norm``, ``ntk_dist`` (to Θ̂, best scalar multiple for ReLU), ``kta``: ``(len(ntk_t), B)``.
    """

    loss: np.ndarray
    rho: np.ndarray
    v: np.ndarray
    ntk_t: np.ndarray
    ntk_norm: np.ndarray
    ntk_dist: np.ndarray
    kta: np.ndarray
    W: torch.Tensor
    vfin: torch.Tensor
    diverged: bool
    message: str = ""
    extras: dict = field(default_factory=dict)


def direct_gd(X: torch.Tensor, y: torch.Tensor, W0: torch.Tensor, v0: torch.Tensor, *, eta: float, steps: int,
              act: str = "linear", ntk_every: int = 1, on_divergence: str = "record",
              knobs: str = "the step size") -> DirectRun:
    """Return the history of full-batch GD (eq. 2) in d-space from ``(W0, v0)`` for ``steps`` steps.

    ``X: (B, n, d)``, ``y: (B, n)``, ``W0: (B, d, m)``, ``v0: (B, m)``. Records ρ_r (eq. 6), v_r and the loss
    every step, and the NTK statistics every ``ntk_every`` steps (closed-form NTK, which the tests check
    against autograd). The loop is :func:`nbs_lib.optim.gd` with the closed-form gradient, so divergence
    follows the library's one blow-up rule (``on_divergence`` as there; ``knobs`` names what to change).
    """
    validate.one_of("act", act, ACTS)
    validate.nonnegative_int("steps", steps)
    validate.positive_int("ntk_every", ntk_every)
    validate.positive("eta", eta)
    validate.one_of("on_divergence", on_divergence, ("raise", "record", "mask"))
    K = X @ X.transpose(-1, -2)
    Xty = (X.transpose(-1, -2) @ y.unsqueeze(-1)).squeeze(-1)
    c = (Xty.unsqueeze(-2) @ W0).squeeze(-2)
    rec = dict(rho=[], v=[], t=[], norm=[], dist=[], kta=[])

    def callback(t, params, loss):
        W, v = params
        rec["rho"].append(((Xty.unsqueeze(-2) @ W).squeeze(-2) - c).cpu().numpy())
        rec["v"].append(v.cpu().numpy().copy())
        if t % ntk_every == 0:
            Z = X @ W
            Th = obs.ntk_linear(K, Z, v) if act == "linear" else obs.ntk_relu(K, Z, v)
            Th_hat = obs.target_aligned_kernel(K, y, v)
            rec["t"].append(t)
            rec["norm"].append(obs.spectral_norm(Th).cpu().numpy())
            rec["dist"].append(obs.kernel_rel_distance(Th, Th_hat, best_scale=(act != "linear")).cpu().numpy())
            rec["kta"].append(obs.kernel_target_alignment(Th, y).cpu().numpy())

    def loss_grad(params):
        W, v = params
        loss, gW, gv = loss_and_grad(X, y, W, v, act)
        return loss, (gW, gv)

    eta_t = torch.as_tensor(eta, dtype=X.dtype, device=X.device)     # a tensor on the data's device
    res = optim.gd(loss_grad, (W0, v0), eta=eta_t, steps=steps, on_divergence=on_divergence, callback=callback,
                   knobs=knobs)
    T = len(rec["rho"])
    return DirectRun(np.asarray(res.losses)[:T], np.stack(rec["rho"]), np.stack(rec["v"]), np.array(rec["t"]),
                     np.stack(rec["norm"]), np.stack(rec["dist"]), np.stack(rec["kta"]), res.params[0],
                     res.params[1], res.diverged, res.message)


def linear_step_(X: torch.Tensor, y: torch.Tensor, W: torch.Tensor, v: torch.Tensor, eta: float) -> torch.Tensor:
    """Apply one closed-form GD step (eq. 2) to the linear net in place; return the loss before the step.

    ``r = y − X(Wv)/m``, ``g = Xᵀr``; ``v += η/(mn) Wᵀg`` (old W) and ``W += η/(mn) g vᵀ`` (old v), a rank-1 update.
    """
    n, m = X.shape[-2], W.shape[-1]
    a = eta / (m * n)
    r = y - (X @ (W @ v.unsqueeze(-1))).squeeze(-1) / m
    g = (X.transpose(-1, -2) @ r.unsqueeze(-1))                        # (..., d, 1)
    dv = a * (g.transpose(-1, -2) @ W).squeeze(-2)
    W.add_(g * (a * v.unsqueeze(-2)))  # noqa: B018 (in-place rank-1 update)
    v.add_(dv)
    return 0.5 * (r * r).mean(-1)
