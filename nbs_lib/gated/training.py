"""Training of the GReLU/ReLU networks of paper 004: (mini-batch) GD with manual in-place back-propagation.

The one blow-up rule of the library applies (``nbs_lib.optim``: a run whose loss or gradient is non-finite or
whose loss exceeds :data:`nbs_lib.optim.BLOWUP` has diverged); diverged seeds are frozen per run (the mask
of ``optim.gd(on_divergence="mask")``) and their later losses are NaN.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import torch

from .. import validate
from ..optim import BLOWUP
from .model import GReLUNet, _as_Y, _Net, mse, sum_loss
from .ntk import ntk_gram

# ============================================================================ training
def _blown(loss: torch.Tensor) -> torch.Tensor:
    """Return the per-seed mask of the library's blow-up rule (``nbs_lib.optim``): non-finite or ``|ℓ| > BLOWUP``."""
    return ~(torch.isfinite(loss) & (loss.abs() <= BLOWUP))


@dataclass
class TrainResult:
    """History of a training run: ``loss`` (T+1, S) full-set sum losses (eq. 2); other records when asked."""

    loss: np.ndarray
    steps: int
    diverged: np.ndarray
    records: dict = field(default_factory=dict)
    wall_time: float = 0.0


def _backward_step(net: _Net, G, M, R, eta, grads_out=None):
    """Update ``net.W`` in place by ``W_k ← W_k − η Δ_kᵀ G_{k-1}`` (spec §6.2); optionally store the gradients."""
    delta = (R @ net.B) * M[-1]
    for k in range(net.L, 0, -1):
        prev = (delta @ net.W[:, k - 1]) * M[k - 1] if k > 1 else None
        grad = delta.transpose(-1, -2) @ G[k - 1]
        if grads_out is not None:
            grads_out[:, k - 1] = grad
        net.W[:, k - 1] -= eta[:, None, None] * grad
        delta = prev


def train(net: _Net, X, Y, *, eta, steps: int | None = None, epochs: int | None = None, batch_size: int | None = None,
          masks=None, tol_rel: float | None = 1e-14, X_val=None, Y_val=None, record=("loss",), augment=None,
          seed: int = 0, eval_every: int = 1, generator: torch.Generator | None = None) -> TrainResult:
    """Train ``net.W`` in place by (mini-batch) GD with constant ``eta`` on the sum loss; return a :class:`TrainResult`.

    ``eta``: float or ``(S,)`` (one per seed). Full batch with ``steps`` (``batch_size=None``) or ``epochs`` of
    shuffled mini-batches. GReLU gates come from ``masks`` (table or list; computed once if None) unless
    ``augment(rows, generator)`` is given (it returns the augmented unit inputs of those train rows), when they are recomputed for each augmented batch (one extra Ψ
    forward). ``record`` ⊂ {"loss", "val_loss", "grad_diff", "hamming", "tau", "ntk_change"}: loss is the
    full clean-train sum loss (per step full batch, per epoch otherwise); ``grad_diff`` ‖g_t − g_{t−1}‖;
    ``hamming`` ReLU pattern churn on ``X_val`` between evaluations (layers 1..L); ``tau`` max_k ‖W_k − W_k(0)‖
    (Frobenius and spectral); ``ntk_change`` ‖K_T − K_0‖_F/‖K_0‖_F. A seed whose loss turns non-finite is
    marked diverged, frozen, and its later losses are NaN. ``tol_rel`` stops when every seed has ℓ/ℓ_0 below it.
    """
    S, n = net.S, X.shape[0]
    Y = _as_Y(Y, net)
    eta = torch.as_tensor(eta, dtype=net.W.dtype, device=net.W.device).reshape(-1)
    if eta.numel() == 1:
        eta = eta.expand(S).clone()
    if eta.numel() != S or not bool(torch.isfinite(eta).all()) or bool((eta <= 0).any()):
        raise ValueError(f"eta must be a finite positive number or one per seed ({S}), got {eta.tolist()}")
    if (steps is None) == (epochs is None):
        raise ValueError("give exactly one of steps (full batch) or epochs (mini-batch)")
    if batch_size is not None:
        validate.positive_int("batch_size", batch_size, maximum=n)
    is_g = isinstance(net, GReLUNet)
    Mfull = net._float_masks(X, masks) if (is_g and augment is None) else None
    rec = {k: [] for k in record if k != "loss"}
    W0 = net.W.clone() if ("tau" in record) else None
    K0 = ntk_gram(net, X, Mfull) if "ntk_change" in record else None
    prev_grad = torch.zeros_like(net.W) if "grad_diff" in record else None
    gbuf = torch.zeros_like(net.W) if "grad_diff" in record else None
    val_masks_prev = [M.bool() for M in net.features(X_val)[1][1:]] if ("hamming" in record and not is_g) else None
    dead = torch.zeros(S, dtype=torch.bool, device=net.W.device)
    gen = generator if generator is not None else torch.Generator(device="cpu").manual_seed(int(seed))

    def full_loss():
        with torch.no_grad():
            return sum_loss(net, X, Y, Mfull if Mfull is not None else None)

    fullbatch = steps is not None and augment is None
    losses = [] if fullbatch else [full_loss()]
    l0 = None if fullbatch else losses[0].clone()
    t_start = time.perf_counter()
    n_iter = steps if steps is not None else epochs
    done, stop = 0, False
    for it in range(n_iter):
        if batch_size is None or steps is not None:
            batches = [None]
        else:
            perm = torch.randperm(n, generator=gen, device="cpu").to(X.device)
            batches = [perm[s:s + batch_size] for s in range(0, n, batch_size)]
        gd_sq = []
        for idx in batches:
            Xb, Yb = (X, Y) if idx is None else (X[idx], Y[idx])
            if augment is not None:
                Xb = augment(torch.arange(n, device=X.device) if idx is None else idx, gen)
                Mb = None
            elif Mfull is not None:
                Mb = Mfull if idx is None else [mm[:, idx] for mm in Mfull]
            else:
                Mb = None
            G, M = net.features(Xb, Mb)
            R = G[-1] @ net.B.transpose(-1, -2) - Yb
            if net.center is not None:
                with torch.no_grad():
                    R = R - net.center.forward(Xb, Mb)
            if fullbatch:  # the loss of W_t is read off the step's own forward pass
                lt = 0.5 * R.square().sum((1, 2))
                dead |= _blown(lt)
                losses.append(torch.where(dead, torch.full_like(lt, float("nan")), lt))
                l0 = lt.clone() if l0 is None else l0
                if tol_rel is not None and bool(((lt / l0 < tol_rel) | dead).all()):
                    stop = True
                    break
            bad = ~torch.isfinite(R).flatten(1).all(1)
            dead |= bad
            R = torch.where(dead[:, None, None], torch.zeros_like(R), R)
            e = torch.where(dead, torch.zeros_like(eta), eta)
            _backward_step(net, G, M, R, e, gbuf)
            if gbuf is not None:
                gd_sq.append((gbuf - prev_grad).flatten(1).norm(dim=1))
                prev_grad.copy_(gbuf)
        if stop:
            break
        done = it + 1
        if gbuf is not None:
            rec["grad_diff"].append(torch.stack(gd_sq).mean(0).cpu().numpy())
        if done % eval_every == 0 or done == n_iter:
            if not fullbatch:
                lt = full_loss()
                dead |= _blown(lt)
                lt = torch.where(dead, torch.full_like(lt, float("nan")), lt)
                losses.append(lt)
            if "val_loss" in rec:
                with torch.no_grad():
                    rec["val_loss"].append(mse(net, X_val, Y_val).cpu().numpy())
            if val_masks_prev is not None:
                cur = [mm.bool() for mm in net.features(X_val)[1][1:]]
                ham = torch.stack([(a != b).double().mean((1, 2)) for a, b in zip(cur, val_masks_prev)]).mean(0)
                rec["hamming"].append(ham.cpu().numpy())
                val_masks_prev = cur
            if not fullbatch and tol_rel is not None and bool(((lt / l0 < tol_rel) | dead).all()):
                break
    if fullbatch and not stop:
        lt = full_loss()
        dead |= _blown(lt)
        losses.append(torch.where(dead, torch.full_like(lt, float("nan")), lt))
    wall = time.perf_counter() - t_start
    if W0 is not None:
        dW = net.W - W0
        rec["tau_F"] = dW.flatten(2).norm(dim=2).max(1).values.cpu().numpy()
        rec["tau_2"] = torch.linalg.matrix_norm(dW, ord=2).max(1).values.cpu().numpy()
        rec.pop("tau", None)
    if K0 is not None:
        KT = ntk_gram(net, X, Mfull)
        rec["ntk_change"] = ((KT - K0).flatten(1).norm(dim=1) / K0.flatten(1).norm(dim=1)).cpu().numpy()
    out = {k: (np.array(v) if isinstance(v, list) else v) for k, v in rec.items()}
    return TrainResult(torch.stack(losses).cpu().numpy(), done, dead.cpu().numpy(), out, wall)


