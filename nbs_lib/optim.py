"""Full-batch gradient descent and Nesterov's accelerated gradient (NAG) with divergence detection.

Both loops take ``loss_grad(params) -> (loss, grads)``, where ``params`` is a tensor or a tuple of tensors
and ``grads`` has the same structure. ``loss`` is a scalar tensor, or a ``(B,)`` tensor when ``B``
independent runs (seeds) are batched along a leading axis; ``eta``/``beta`` may then be tensors that
broadcast against each parameter.

NAG (as in paper 000, eq. (3))::

    y_t     = θ_t + β (θ_t − θ_{t−1})
    θ_{t+1} = y_t − η ∇L(y_t)

Losses are recorded at the point where the gradient is taken (θ_t for GD, the look-ahead y_t for NAG),
and ``RunResult.params`` is that point at the last step; pass ``loss_fn`` to NAG to record ``L(θ_t)`` and
return ``θ_T`` instead (one extra forward pass per step).

Two starts are in use: ``first_step="momentum"`` (textbook: θ_{−1} = θ_0, so y_1 = θ_1 + β(θ_1 − θ_0)) and
``first_step="gd"`` (paper 000's eq. (3) written in y: ``y_{t+1} = (1+β) z_t − β z_{t−1}`` with
``z_t = y_t − η∇L(y_t)`` and ``y_{−1} = y_0``, so the first step is a plain GD step and β = 0 is GD).

The one blow-up rule of the book: a run has diverged when its loss or gradient is non-finite or its loss
exceeds ``blowup`` (default :data:`BLOWUP`). ``on_divergence="raise"`` raises :class:`DivergenceError`
naming the step; ``"record"`` stops and returns a result with ``diverged=True`` and the finite part of the
history; ``"mask"`` (batched runs) freezes only the runs that diverged, records NaN losses for them from
that step on, and goes on with the others (``RunResult.diverged_runs`` is the boolean mask). A notebook
reports diverged runs instead of plotting or grading them.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import numpy as np
import torch


#: a loss above this counts as diverged (the one blow-up threshold of the library)
BLOWUP = 1e30


def first_index(mask, axis: int = 0) -> np.ndarray:
    """Return the first index along ``axis`` where ``mask`` is True, and -1 where it never is."""
    m = np.asarray(mask.detach().cpu() if hasattr(mask, "detach") else mask, dtype=bool)
    idx = np.argmax(m, axis=axis)
    return np.where(m.any(axis=axis), idx, -1)


class DivergenceError(RuntimeError):
    """Raised when a training loop meets a non-finite loss or gradient."""


@dataclass
class RunResult:
    """History of a GD/NAG run.

    ``losses``: (T+1,) or (T+1, B) recorded losses; ``hit``: first step with loss ≤ tol per run
    (-1 if never; None without tol); ``params``: final parameters; ``diverged`` and ``message``
    describe a stopped run.
    """

    losses: np.ndarray
    params: Any
    steps: int
    converged: bool
    diverged: bool = False
    message: str = ""
    hit: np.ndarray | None = None
    extras: dict = field(default_factory=dict)
    diverged_runs: np.ndarray | None = None


def _as_tuple(params) -> tuple[torch.Tensor, ...]:
    return (params,) if isinstance(params, torch.Tensor) else tuple(params)


def _like(template, tensors: Sequence[torch.Tensor]):
    return tensors[0] if isinstance(template, torch.Tensor) else type(template)(tensors) if isinstance(template, tuple) else list(tensors)


def _check_hparams(eta, beta=None):
    for name, v in (("eta", eta), ("beta", beta)):
        if v is None:
            continue
        arr = (v.detach().double().cpu() if isinstance(v, torch.Tensor)
               else torch.as_tensor(v, dtype=torch.float64, device="cpu"))
        if not bool(torch.isfinite(arr).all()):
            raise ValueError(f"{name} must be finite, got {v!r}")
        if name == "eta" and bool((arr <= 0).any()):
            raise ValueError(f"eta must be > 0, got {v!r}")
        if name == "beta" and bool(((arr < 0) | (arr >= 1)).any()):
            raise ValueError(f"beta must lie in [0, 1), got {v!r}")


class _History:
    def __init__(self, tol):
        self.tol = tol
        self.rows: list[np.ndarray] = []
        self.hit = None

    def add(self, loss: torch.Tensor, dead=None) -> bool:
        """Append a loss row (NaN for ``dead`` runs); return True when every live run is at or below tol."""
        row = loss.detach().to("cpu", torch.float64).numpy().copy()
        if dead is not None:
            row[dead] = np.nan
        t = len(self.rows)
        self.rows.append(row)
        if self.tol is None:
            return False
        below = np.atleast_1d(row <= self.tol)
        if self.hit is None:
            self.hit = np.full(below.shape, -1, dtype=np.int64)
        self.hit[(self.hit < 0) & below] = t
        live = np.ones(self.hit.shape, bool) if dead is None else ~np.asarray(dead)
        return bool(live.any() and (self.hit[live] >= 0).all())

    def result(self, params, converged, diverged=False, message=""):
        losses = np.stack(self.rows) if self.rows else np.zeros((0,))
        hit = None if self.hit is None else (self.hit if np.ndim(self.rows[0]) else self.hit.reshape(()))
        return RunResult(losses, params, max(len(self.rows) - 1, 0), converged, diverged, message, hit)


def _ok(loss: torch.Tensor, grads: Sequence[torch.Tensor], blowup: float, per_run: bool) -> torch.Tensor:
    """Return a bool tensor: per run (leading axis) when ``per_run``, else one scalar: not diverged."""
    lo = loss.detach()
    ok = torch.isfinite(lo) & (lo.abs() <= blowup)
    for g in grads:
        fin = torch.isfinite(g.detach())
        if per_run and lo.ndim == 1 and g.ndim >= 1 and g.shape[0] == lo.shape[0]:
            ok = ok & fin.reshape(g.shape[0], -1).all(dim=1)
        else:
            ok = ok & fin.all()
    return ok if per_run else ok.all()


def _check_mode(on_divergence: str) -> None:
    if on_divergence not in ("raise", "record", "mask"):
        raise ValueError(f"on_divergence must be 'raise', 'record' or 'mask', got {on_divergence!r}")


def _freeze(new: list, old: list, dead: torch.Tensor) -> list:
    """Return ``new`` with the rows (leading axis) of ``dead`` runs taken from ``old``."""
    out = []
    for n, o in zip(new, old):
        d = dead.reshape((-1,) + (1,) * (n.ndim - 1)).to(n.device)
        out.append(torch.where(d, o, n))
    return out


def _diverged(hist: _History, params, t: int, loss, on_divergence: str, where: str,
              knobs: str = "the step size") -> RunResult:
    msg = (f"{where} diverged at step {t}: non-finite or blown-up loss or gradient "
           f"(last finite loss {hist.rows[-1] if hist.rows else 'none'}); lower {knobs}")
    if on_divergence == "raise":
        raise DivergenceError(msg)
    return hist.result(params, converged=False, diverged=True, message=msg)


def _bookkeep(hist: _History, t: int, steps: int, loss, grads, dead, params, *, mode: str, blowup: float,
              where: str, knobs: str, callback) -> tuple:
    """One step's bookkeeping, shared by GD and NAG: update the per-run divergence mask (``mode="mask"``) or
    stop at a divergence, record the loss, call ``callback``; return ``(dead, result)`` where ``result`` is
    the final :class:`RunResult` when the run ends at step ``t`` (converged, last step, every run dead), else
    None."""
    if mode == "mask":
        ok = _ok(loss, grads, blowup, per_run=True)
        dead = ~ok if dead is None else dead | ~ok
    elif not bool(_ok(loss, grads, blowup, per_run=False)):
        return dead, _diverged(hist, params, t, loss, mode, where, knobs)
    done = hist.add(loss, None if dead is None else dead.cpu().numpy())
    if callback is not None:
        callback(t, params, loss)
    if done or t == steps or (dead is not None and bool(dead.all())):
        return dead, _masked(hist.result(params, converged=done), dead, where, knobs)
    return dead, None


def gd(
    loss_grad: Callable, params, *, eta, steps: int, tol: float | None = None,
    on_divergence: str = "raise", callback: Callable | None = None, blowup: float = BLOWUP,
    knobs: str = "the step size",
) -> RunResult:
    """Run full-batch GD ``θ ← θ − η ∇L(θ)`` for ``steps`` steps (or until every loss ≤ ``tol``).

    ``knobs`` names what the user can change in the divergence message (e.g. "eta or c1").
    """
    _check_mode(on_divergence)
    if steps < 0:
        raise ValueError(f"steps must be a non-negative integer, got {steps!r}")
    _check_hparams(eta)
    template = params
    theta = [p.detach().clone() for p in _as_tuple(params)]
    hist = _History(tol)
    dead = None
    for t in range(steps + 1):
        loss, grads = loss_grad(_like(template, theta))
        grads = _as_tuple(grads)
        dead, end = _bookkeep(hist, t, steps, loss, grads, dead, _like(template, theta), mode=on_divergence,
                              blowup=blowup, where="GD", knobs=knobs, callback=callback)
        if end is not None:
            return end
        if dead is not None:
            grads = [torch.where(dead.reshape((-1,) + (1,) * (g.ndim - 1)).to(g.device), torch.zeros_like(g), g)
                     for g in grads]
        theta = [p - eta * g for p, g in zip(theta, grads)]
    raise AssertionError("unreachable")  # pragma: no cover


def _masked(res: RunResult, dead, where: str, knobs: str) -> RunResult:
    if dead is None:
        return res
    d = dead.cpu().numpy().astype(bool)
    res.diverged_runs = d
    if d.any():
        res.diverged = True
        res.message = (f"{where}: {int(d.sum())} of {d.size} runs diverged (non-finite or blown-up loss); "
                       f"lower {knobs}")
    return res


def nag(
    loss_grad: Callable, params, *, eta, beta, steps: int, tol: float | None = None,
    on_divergence: str = "raise", loss_fn: Callable | None = None, callback: Callable | None = None,
    first_step: str = "momentum", blowup: float = BLOWUP, knobs: str = "the step size",
) -> RunResult:
    """Run Nesterov's accelerated gradient (module docstring) for ``steps`` steps or until loss ≤ ``tol``."""
    _check_mode(on_divergence)
    if first_step not in ("momentum", "gd"):
        raise ValueError(f"first_step must be 'momentum' or 'gd', got {first_step!r}")
    if steps < 0:
        raise ValueError(f"steps must be a non-negative integer, got {steps!r}")
    _check_hparams(eta, beta)
    template = params
    theta = [p.detach().clone() for p in _as_tuple(params)]
    prev = [p.clone() for p in theta]
    hist = _History(tol)
    dead = None
    for t in range(steps + 1):
        y = [p + beta * (p - q) for p, q in zip(theta, prev)]
        loss, grads = loss_grad(_like(template, y))
        grads = _as_tuple(grads)
        at = y
        if loss_fn is not None:
            loss, at = loss_fn(_like(template, theta)), theta
        dead, end = _bookkeep(hist, t, steps, loss, grads, dead, _like(template, at), mode=on_divergence,
                              blowup=blowup, where="NAG", knobs=knobs, callback=callback)
        if end is not None:
            return end
        new = [yy - eta * g for yy, g in zip(y, grads)]
        if dead is not None:
            new = _freeze(new, theta, dead)
        prev = theta if dead is None else _freeze(theta, prev, dead)
        theta = new
        if t == 0 and first_step == "gd":
            prev = theta
    raise AssertionError("unreachable")  # pragma: no cover


def nag_momentum(L: float, mu: float) -> tuple[float, float]:
    """Return ``(η, β) = (1/L, (√L − √µ)/(√L + √µ))``, the standard NAG choice for µ-strongly convex, L-smooth."""
    if not (L > 0 and mu > 0 and mu <= L):
        raise ValueError(f"need 0 < mu <= L, got L={L!r}, mu={mu!r}")
    sL, sm = L ** 0.5, mu ** 0.5
    return 1.0 / L, (sL - sm) / (sL + sm)
