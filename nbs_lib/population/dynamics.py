"""GD on the population or empirical loss of paper 002, batched over seeds, and what is measured along it.

:func:`run_gd` is full-batch GD on both layers (or ``W`` only) through the book's one loop,
:func:`nbs_lib.optim.gd` with a per-run divergence mask: a run that blows up is frozen, its losses read NaN
and :attr:`Trajectory.diverged_runs` marks it. :func:`metrics_k2` and :func:`phase_times` are the k = 2
quantities of §5 (angles, norms, imbalance, error ``‖h‖²``, the alignment/growth/convergence times).
:func:`emp_loss_grad` is the empirical loss (1) and its gradient on a batch of data sets.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import torch

from .. import optim, validate
from .model import _check_VWA, angle, as_target, errors_k2, pop_loss_grad, pop_loss_k2_stable

ALIGN_ANGLE = math.pi / 20          # c₄ of Lemmas 4–6
GROWTH_LEVEL = 0.25                 # c₇ of Lemma 7: v_i ≥ c₇ √‖a‖


@dataclass
class Trajectory:
    """A GD run: ``loss (T+1, B)``, recorded ``V``/``W`` every ``every`` steps, metrics, divergence mask.

    ``V: (n_rec, B, k, r)`` and ``W: (n_rec, B, k, d)`` (tensors on the run's device, or None when not kept);
    ``t``: recorded steps; ``metrics``: name → ``(n_rec, B)`` numpy arrays; ``final``: the last ``(V, W)``;
    ``diverged_runs``: ``(B,)`` bool (losses of those runs are NaN from the step they blew up).
    """

    loss: np.ndarray
    t: np.ndarray
    V: torch.Tensor | None
    W: torch.Tensor | None
    metrics: dict = field(default_factory=dict)
    final: tuple = ()
    diverged: bool = False
    message: str = ""
    diverged_runs: np.ndarray | None = None


def run_gd(V: torch.Tensor, W: torch.Tensor, A: torch.Tensor, *, mu: float, steps: int, fix_V: bool = False,
           every: int = 1, keep: bool = False, metrics=None, loss_grad=None, tol: float | None = None,
           knobs: str = "mu") -> Trajectory:
    """Return the :class:`Trajectory` of full-batch GD ``θ ← θ − μ∇L`` on both layers (or W only when ``fix_V``).

    Batched over the leading axis of ``V (B, k, r)``, ``W (B, k, d)``. ``loss_grad(V, W) -> (L, gV, gW)``
    defaults to the closed-form population gradient; ``metrics(V, W) -> dict`` of ``(B,)`` tensors is
    recorded every ``every`` steps, as are ``V``/``W`` when ``keep``. With ``tol`` the run stops once every
    live run has reached a loss ≤ ``tol``. ``knobs`` names what to lower in the divergence message.
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

    res = optim.gd(f, (V, W), eta=mu, steps=steps, tol=tol, on_divergence="mask", callback=cb, knobs=knobs)
    loss = res.losses if res.losses.ndim == 2 else res.losses.reshape(-1, 1)
    Vs = torch.stack(rec_V) if rec_V else None
    Ws = torch.stack(rec_W) if rec_W else None
    mets = {}
    if metrics is not None and Vs is not None:      # one vectorised call over (time, seed)
        mets = {k_: v_.detach().cpu().numpy() for k_, v_ in metrics(Vs, Ws).items()}
    return Trajectory(loss, np.array(rec_t), Vs if keep else None, Ws if keep else None, mets, tuple(res.params),
                      res.diverged, res.message, res.diverged_runs)


def metrics_k2(a: torch.Tensor):
    """Return a function ``(V, W) -> dict`` of the k = 2 quantities of §5 (each ``(...,)``).

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
    idx = optim.first_index(mask, axis=0)
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


def escape_steps(loss: np.ndarray, threshold: float = 0.125) -> np.ndarray:
    """Return per column of ``loss (T+1, B)`` the first step with loss < ``threshold`` (−1 if never)."""
    return first_step(np.asarray(loss) < threshold)


def near_saddle_init(a: torch.Tensor, eps, center: float = 1.5, *, generator=None) -> torch.Tensor:
    """Return ``W (B, 2, d)``: both neurons at ``center·a + ε ξ_i`` with ``ξ_i ~ N(0, I/d)``, one row per ε (Fig. 1b)."""
    a = a.reshape(-1)
    eps = torch.as_tensor(eps, dtype=a.dtype, device=a.device).reshape(-1)
    if bool((eps < 0).any()):
        raise ValueError(f"eps must be >= 0, got {eps.tolist()}")
    d = a.numel()
    dev = generator.device if generator is not None else a.device
    xi = torch.randn(eps.numel(), 2, d, generator=generator, dtype=a.dtype, device=dev).to(a.device) / math.sqrt(d)
    return center * a + eps[:, None, None] * xi


# ----------------------------------------------------------------------------- empirical loss
def gaussian_data(n: int, A: torch.Tensor, batch: int = 1, *, generator=None) -> tuple[torch.Tensor, torch.Tensor]:
    """Return ``X (B, n, d)`` with ``x ~ N(0, I_d)`` and noiseless labels ``Y = X Aᵀ (B, n, r)`` on A's device."""
    A = as_target(A)
    n, batch = validate.positive_int("n", n), validate.positive_int("batch", batch)
    dev = generator.device if generator is not None else A.device
    X = torch.randn(batch, n, A.shape[1], generator=generator, dtype=A.dtype, device=dev).to(A.device)
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
