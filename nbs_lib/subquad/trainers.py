"""Gauss–Newton on the last layer (Algorithms 1–2 of paper 003), its fast variants, GD, and step diagnostics.

All trainers fit ``f(W, x_i) = aᵀφ(W_L h_{i,L−1})`` by updating ``W_L`` only. With ``H = H_{L−1}: (m, n)``,
``P = W_L H`` (pre-activations), ``r = f − y``, ``U = √c·1[P > τ] ⊙ a`` (column i is ``u_i = D_{i,L}a``) and
``K_H = HᵀH``, one GN step (§3.1, errata E3–E5) is

    g = G^{-1} r,  G = J Jᵀ = (UᵀU) ⊙ K_H   (Fact E.1),   W_L ← W_L − η·(U diag g) Hᵀ    (a rank-n update)

with ``g`` from the exact Gram (``solver='exact'``), sketch-and-solve (``'srht'``, ``'tensorsketch'``, Thm D.10) or
sketch-preconditioned CG (``'pcg'``). The trainers differ only in how they compute ``P``:

* :class:`DenseGN` — ``P = W_L H`` with a dense ``W_L`` (``O(nm²)`` per step, the "barrier");
* :class:`PaperGN` — Algorithm 2: ``W_L(0) + ΔW_L`` kept by :class:`~nbs_lib.subquad.lrm.LowRankMaintenance`,
  ``P`` by a sparse query over the active units of ``H``;
* :class:`FrozenFeatureGN` — ``P_{t+1} = P_t − η (U diag g) K_H`` (``O(mn²)``): the same iterates, because ``H`` is
  frozen (the chapter's Finding 4); ``W_L(t) = W_L(0) + Ũ Hᵀ`` is kept implicitly;
* :class:`ExplicitJacobianGN` — forms ``J`` (n×m²) explicitly (validation, small m);
* :func:`last_layer_gd` — ``W_L ← W_L − lr·(U diag r) Hᵀ`` (the §4 first-order variant), run by the book's one GD
  loop :func:`nbs_lib.optim.gd` on the factor ``Ũ`` of ``W_L(t) = W_L(0) + Ũ Hᵀ``.

Every ``step()`` evaluates the residual at the current weights, takes one step, and returns a dict of statistics;
:func:`run` iterates and stops at a relative residual ``tol``; a run has diverged by the book's one blow-up rule
(:data:`nbs_lib.optim.BLOWUP` on the loss ``½‖r‖²``, or a non-finite residual). ``flops`` are counted from the
operations performed.
"""
from __future__ import annotations

import math
import time

import numpy as np
import torch

from .. import optim
from . import sketch as sk
from .activations import ActSpec, dphi, phi
from .lrm import LowRankMaintenance, to_sparse_cols

SOLVERS = ("exact", "srht", "tensorsketch", "pcg")


class _LastLayer:
    def __init__(self, H, a, y, spec: ActSpec, *, solver="exact", eta=1.0, s=None, seed=0, track=True):
        if solver not in SOLVERS:
            raise ValueError(f"solver must be one of {SOLVERS}, got {solver!r}")
        if not (isinstance(eta, (int, float)) and 0 < eta <= 1):
            raise ValueError(f"eta must be a damping factor in (0, 1], got {eta!r}")
        if H.ndim != 2 or a.shape != (H.shape[0],) or y.shape != (H.shape[1],):
            raise ValueError(f"H must be (m, n), a (m,), y (n,); got {tuple(H.shape)}, {tuple(a.shape)}, {tuple(y.shape)}")
        if spec.m != H.shape[0]:
            raise ValueError(f"spec was made for width {spec.m}, but H has {H.shape[0]} rows")
        n = H.shape[1]
        if solver != "exact":
            if s is None or not isinstance(s, int) or s < 1:
                raise ValueError(f"s (sketch size) must be a positive integer for solver={solver!r}, got {s!r}")
        self.H, self.a, self.y, self.spec = H, a, y, spec
        self.K_H = H.T @ H
        self.solver, self.eta, self.s, self.seed, self.track = solver, float(eta), s, int(seed), track
        self.t = 0
        self.flops_total = 0
        self.M0 = None

    # --- shared pieces -------------------------------------------------------------------------------------------
    def _solve(self, U, r):
        m, n = U.shape
        Q = sk.gram_hadamard(U.T, K_V=self.K_H)
        fl = 2 * n * n * m + n * n
        if self.solver == "exact":
            g, info = sk.solve_gram(Q, r)
        elif self.solver in ("srht", "tensorsketch"):
            g, info = sk.sketch_and_solve(U.T, self.H.T, r, sketch=self.solver, s=self.s, seed=self.seed * 100003 + self.t)
        else:
            g, info = sk.sketch_pcg(Q, U.T, self.H.T, r, s=self.s, seed=self.seed * 100003 + self.t)
        fl += n ** 3 // 3
        return g, Q, info, fl

    def _stats(self, P, U, r, Q, info, g, fl, times):
        st = {"t": self.t, "res": float(r.norm()), "n_dead": int(info.get("n_dead", 0)), "flops": fl, "times_ms": times}
        if self.track:
            M = P > self.spec.tau
            if self.M0 is None:
                self.M0 = M
            st["flips_max"] = int((M != self.M0).sum(0).max())
            st["active_min"] = int(M.sum(0).min())
            st["lam_min"] = float(torch.linalg.eigvalsh(Q.to(torch.float64))[0])
        st.update({k: v for k, v in info.items() if k in ("iters", "kappa_pre")})
        return st

    def residual(self) -> torch.Tensor:
        """Return ``f − y`` at the current weights."""
        P = self._forward()
        return self.a @ phi(P, self.spec) - self.y

    def step(self) -> dict:
        """Evaluate ``r_t``, take one GN step, and return the statistics of step ``t``."""
        t0 = time.perf_counter()
        P = self._forward()
        t1 = time.perf_counter()
        r = self.a @ phi(P, self.spec) - self.y
        U = dphi(P, self.spec) * self.a.unsqueeze(1)
        g, Q, info, fl = self._solve(U, r)
        t2 = time.perf_counter()
        self._update(U * (self.eta * g).to(U.dtype).unsqueeze(0))
        t3 = time.perf_counter()
        fl += self._step_flops
        st = self._stats(P, U, r, Q, info, g, fl, {"forward": 1e3 * (t1 - t0), "solve": 1e3 * (t2 - t1),
                                                     "update": 1e3 * (t3 - t2)})
        self.flops_total += fl
        self.t += 1
        return st


class FrozenFeatureGN(_LastLayer):
    """GN with the forward maintained as ``P = P_0 + Ũ K_H`` (``O(mn²)`` per step; same iterates as Alg. 2).

    ``H: (m, n)`` frozen features, ``P0 = W_L(0) H``, ``a: (m,)``, ``y: (n,)``.
    """

    def __init__(self, H, P0, a, y, spec, **kw):
        super().__init__(H, a, y, spec, **kw)
        if P0.shape != H.shape:
            raise ValueError(f"P0 must have the shape of H {tuple(H.shape)}, got {tuple(P0.shape)}")
        self.P = P0.clone()
        self.Ut = torch.zeros_like(H)       # W_L(t) = W_L(0) + Ũ Hᵀ
        m, n = H.shape
        self._step_flops = 2 * m * n * n + m * n

    def _forward(self):
        return self.P

    def _update(self, Ug):
        self.Ut -= Ug
        self.P = self.P - Ug @ self.K_H

    def row_movement(self) -> torch.Tensor:
        """Return ``‖W_{L,r}(t) − W_{L,r}(0)‖₂ = √(Ũ_r K_H Ũ_rᵀ)`` for every row r, shape (m,)."""
        return torch.sqrt(((self.Ut @ self.K_H) * self.Ut).sum(1).clamp_min(0))

    def delta_W(self) -> torch.Tensor:
        """Return the dense ``W_L(t) − W_L(0) = Ũ Hᵀ`` (tests and small m only)."""
        return self.Ut @ self.H.T


def default_gd_lr(P0, K_H, a, spec: ActSpec) -> float:
    """Return ``1/λ_max(G_0)`` with ``G_0 = (UᵀU) ⊙ K_H`` at ``P0`` (the step of :func:`last_layer_gd` by default)."""
    U = dphi(P0, spec) * a.unsqueeze(1)
    return 1.0 / float(torch.linalg.eigvalsh(sk.gram_hadamard(U.T, K_V=K_H).to(torch.float64))[-1])


def last_layer_gd(H, P0, a, y, spec: ActSpec, *, steps: int, lr: float | None = None, tol: float = 1e-6,
                  knobs: str = "the step size") -> dict:
    """Return ``{"res", "ratios", "diverged", "lr", "message", "Ut"}`` of GD on ``½‖f − y‖²`` over ``W_L`` only.

    ``W_L(t) = W_L(0) + Ũ Hᵀ`` so the GD step ``W_L ← W_L − lr·(U diag r) Hᵀ`` is ``Ũ ← Ũ − lr·U diag r`` and
    ``P = P0 + Ũ K_H``; the loop is :func:`nbs_lib.optim.gd` (its blow-up rule, ``on_divergence='record'``).
    Stops when ``‖r_t‖ ≤ tol·‖r_0‖``. ``lr`` defaults to :func:`default_gd_lr` (``1/λ_max(G_0)``).
    """
    if not isinstance(steps, int) or steps < 0:
        raise ValueError(f"steps must be a non-negative integer, got {steps!r}")
    K_H = H.T @ H
    lr = default_gd_lr(P0, K_H, a, spec) if lr is None else lr
    if not (isinstance(lr, float) and lr > 0 and math.isfinite(lr)):
        raise ValueError(f"lr must be a finite number > 0, got {lr!r}")

    def loss_grad(Ut):
        P = P0 + Ut @ K_H
        r = a @ phi(P, spec) - y
        return 0.5 * (r @ r), (dphi(P, spec) * a.unsqueeze(1)) * r.unsqueeze(0)

    r0 = float((a @ phi(P0, spec) - y).norm())
    eta = torch.tensor(lr, dtype=H.dtype, device=H.device)     # a tensor: optim checks it without a default device
    out = optim.gd(loss_grad, torch.zeros_like(H), eta=eta, steps=steps, tol=0.5 * (tol * r0) ** 2,
                   on_divergence="record", knobs=knobs)
    res = np.sqrt(2 * np.asarray(out.losses, dtype=float))
    return {"res": res, "ratios": res[1:] / res[:-1], "diverged": out.diverged, "lr": lr, "message": out.message,
            "Ut": out.params}


class DenseGN(_LastLayer):
    """GN with a dense ``W_L: (m, m)``: ``P = W_L H`` (2nm²) and ``W_L −= (U diag g) Hᵀ`` (2nm²) per step."""

    def __init__(self, H, W_L, a, y, spec, **kw):
        super().__init__(H, a, y, spec, **kw)
        self.W = W_L.clone()
        m, n = H.shape
        self._step_flops = 2 * n * m * m + 2 * n * m * m

    def _forward(self):
        return self.W @ self.H

    def _update(self, Ug):
        self.W.addmm_(Ug, self.H.T, alpha=-1.0)          # in place: no m×m temporary


class PaperGN(_LastLayer):
    """Algorithm 2: ``W_L(0) + ΔW_L`` in a :class:`LowRankMaintenance`, sparse forward over the active units of H."""

    def __init__(self, H, W_L, a, y, spec, *, restart="never", merge_same_V=False, sparse_forward=True, **kw):
        super().__init__(H, a, y, spec, **kw)
        self.lrm = LowRankMaintenance([W_L], restart=restart, merge_same_V=merge_same_V, store_transpose=sparse_forward)
        self.Hs = to_sparse_cols(H) if sparse_forward else H
        self._step_flops = 0

    def _forward(self):
        before = self.lrm.counters["flops"]
        P = self.lrm.query(0, self.Hs)
        self._step_flops = self.lrm.counters["flops"] - before
        return P

    def _update(self, Ug):
        before = self.lrm.counters["flops"]
        self.lrm.update(0, -Ug, self.H, v_key="H")
        self._step_flops += self.lrm.counters["flops"] - before


class ExplicitJacobianGN(_LastLayer):
    """GN with the Jacobian ``J: (n, m²)`` formed row by row as ``kron(u_i, h_i)`` (validation; m ≤ 512)."""

    def __init__(self, H, W_L, a, y, spec, **kw):
        super().__init__(H, a, y, spec, **kw)
        if H.shape[0] > 512:
            raise ValueError(f"ExplicitJacobianGN forms an n×m² matrix; m must be ≤ 512, got {H.shape[0]}")
        self.W = W_L.clone()
        m, n = H.shape
        self._step_flops = 2 * n * n * m * m + 2 * n * m * m

    def _forward(self):
        return self.W @ self.H

    def _solve(self, U, r):
        J = (U.T.unsqueeze(2) * self.H.T.unsqueeze(1)).reshape(U.shape[1], -1)    # row i = kron(u_i, h_i)
        Q = J @ J.T                                      # the explicit Gram (validation of Fact E.1)
        g, info = sk.solve_gram(Q, r)
        self._J = J
        return g, Q, info, 0

    def step(self) -> dict:
        P = self._forward()
        r = self.a @ phi(P, self.spec) - self.y
        U = dphi(P, self.spec) * self.a.unsqueeze(1)
        g, Q, info, fl = self._solve(U, r)
        m = self.W.shape[0]
        self.W -= (self.eta * (self._J.T @ g)).reshape(m, m)
        st = self._stats(P, U, r, Q, info, g, self._step_flops, {})
        self.t += 1
        return st


def run(trainer, T: int, *, tol: float = 1e-10) -> dict:
    """Return ``{'res': ‖r_0‖..‖r_T'‖, 'ratios', 'stats', 'diverged'}`` after at most ``T`` steps.

    Stops early when ``‖r_t‖/‖r_0‖ < tol``; ``ratios[t] = ‖r_{t+1}‖/‖r_t‖`` only while ``‖r_t‖/‖r_0‖ ≥ tol``.
    A residual that breaks the blow-up rule of :mod:`nbs_lib.optim` (non-finite, or ``½‖r‖² >`` :data:`~nbs_lib.optim.BLOWUP`)
    stops the run with ``diverged=True`` (never plotted or graded as a result).
    """
    if not isinstance(T, int) or T < 0:
        raise ValueError(f"T must be a non-negative integer, got {T!r}")
    stats, res = [], []
    diverged = False
    for _ in range(T):
        st = trainer.step()
        stats.append(st)
        res.append(st["res"])
        if _blown_up(st["res"]):
            diverged = True
            break
        if st["res"] < tol * res[0]:
            break
    else:
        res.append(float(trainer.residual().norm()))
    res = np.array(res)
    keep = res[:-1] >= tol * res[0]
    ratios = (res[1:] / res[:-1])[keep[: len(res) - 1]] if len(res) > 1 else np.array([])
    return {"res": res, "ratios": ratios, "stats": stats, "diverged": diverged or any(map(_blown_up, res))}


def _blown_up(res: float) -> bool:
    return not math.isfinite(res) or 0.5 * res * res > optim.BLOWUP


def iterations_to(res, target: float) -> int | None:
    """Return the first t with ``res[t]/res[0] ≤ target`` (None if never)."""
    res = np.asarray(res)
    hit = np.flatnonzero(res / res[0] <= target)
    return int(hit[0]) if hit.size else None


def _path_fraction(P, dP, tau):
    """Return ``∫₀¹ 1[P + s·dP > τ] ds`` elementwise."""
    safe = torch.where(dP == 0, torch.ones_like(dP), dP)
    cross = ((tau - P) / safe).clamp(0, 1)
    frac = torch.where(dP > 0, 1 - cross, cross)
    return torch.where(dP == 0, (P > tau).to(P.dtype), frac)


def residual_decomposition(P, K_H, a, y, spec: ActSpec, g, g_star=None) -> dict:
    """Return the three terms of Lemma F.23 and the "FTC gap" for one step with solution ``g`` (η = 1).

    ``‖r_{t+1}‖ ≤ term1 + term2 + term3 + ftc_gap`` with term1 = ``‖r_t − G_t g‖``, term2/term3 =
    ``‖(J_t − J_{t,t+1}) vec ΔW‖`` for ``ΔW* = −J_tᵀg*`` and ``−J_tᵀ(g − g*)``, and ftc_gap =
    ``‖(f_{t+1} − f_t) − J_{t,t+1} vec ΔW‖`` (exactly 0 for a continuous φ; the jumps for ``'threshold'``).
    ``J_{t,t+1}`` is the path-averaged Jacobian, exact because ``φ'`` is piecewise constant along the path.
    """
    U = dphi(P, spec) * a.unsqueeze(1)
    f0 = a @ phi(P, spec)
    r = f0 - y
    G = sk.gram_hadamard(U.T, K_V=K_H)
    if g_star is None:
        g_star, _ = sk.solve_gram(G, r)
    dP = -(U * g.unsqueeze(0)) @ K_H
    f1 = a @ phi(P + dP, spec)
    Ubar = spec.sqrt_c * _path_fraction(P, dP, spec.tau) * a.unsqueeze(1)
    Jbar = lambda D: (Ubar * D).sum(0)
    Jt = lambda D: (U * D).sum(0)
    dP_star = -(U * g_star.unsqueeze(0)) @ K_H
    dP_err = -(U * (g - g_star).unsqueeze(0)) @ K_H
    out = {
        "res": float(r.norm()),
        "res_next": float((f1 - y).norm()),
        "term1": float((r - G @ g).norm()),
        "term2": float((Jt(dP_star) - Jbar(dP_star)).norm()),
        "term3": float((Jt(dP_err) - Jbar(dP_err)).norm()),
        "ftc_gap": float(((f1 - f0) - Jbar(dP)).norm()),
    }
    out["ratio"] = out["res_next"] / out["res"]
    return out


def overshoot_kappa(P, K_H, a, y, spec: ActSpec, eta: float) -> float:
    """Return ``κ̂(η) = ⟨f(W+ηΔW) − f(W), −ηr⟩ / (η²‖r‖²)`` for the exact GN direction ΔW (1 for a linear model)."""
    U = dphi(P, spec) * a.unsqueeze(1)
    f0 = a @ phi(P, spec)
    r = f0 - y
    g, _ = sk.solve_gram(sk.gram_hadamard(U.T, K_V=K_H), r)
    dP = -eta * (U * g.unsqueeze(0)) @ K_H
    df = a @ phi(P + dP, spec) - f0
    return float((df @ (-eta * r)) / (eta ** 2 * (r @ r)))
