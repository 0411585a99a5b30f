"""The exact kernel-space simulator of the linear network (spec §1.8(a); our derivation, not in the paper).

Every GD update of ``w_r`` lies in the row space of ``X``, so ``P = X W: (n, m)`` and ``v`` evolve in closed
form with ``K = X Xᵀ``::

    f = P v / m,  r = y − f,  P ← P + η/(mn) (K r) vᵀ,  v ← v + η/(mn) Pᵀ r      (simultaneous)

which is eq. (2) multiplied by ``X`` on the left: exact, at O(n² + nm) per step instead of O(ndm).
Observables follow without d-dimensional vectors: ρ_r = yᵀ(P − P₀)_{:,r}, c_r = yᵀP₀_{:,r},
Θ = (‖v‖²K + PPᵀ)/m². ``P₀`` may be ``X W₀`` or sampled directly as ``σ₀ chol(K) Z`` (exact in law).
Runs are batched along a leading axis ``B``.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from .. import optim, validate
from . import observables as obs


def sample_P0(K: torch.Tensor, m: int, sigma0: float, *, seeds=(0,), generator_offset: int = 2000) -> torch.Tensor:
    """Return ``P₀ = σ₀ chol(K) Z: (B, n, m)``, distributed exactly as ``X W₀`` with ``W₀ ~ N(0, σ₀²)`` entries.

    ``K: (B, n, n)`` must be positive definite (n ≤ d).
    """
    validate.positive_int("m", m)
    validate.nonnegative("sigma0", sigma0)
    L = torch.linalg.cholesky(K)
    Zs = [torch.randn(K.shape[-1], m, dtype=K.dtype, device=K.device,
                      generator=torch.Generator(device=K.device).manual_seed(int(s) + generator_offset))
          for s in seeds]
    return sigma0 * L @ torch.stack(Zs)


def blown_up(loss: torch.Tensor) -> torch.Tensor:
    """Return the per-run divergence mask of :mod:`nbs_lib.optim`'s one blow-up rule: a loss that is non-finite
    or above :data:`nbs_lib.optim.BLOWUP`."""
    return ~torch.isfinite(loss) | (loss.abs() > optim.BLOWUP)


@dataclass
class Trajectory:
    """History of a reduced run: ``loss: (T+1, B)``; ``rho``, ``v``: ``(T+1, B, m)`` (None unless recorded);
    ``c: (B, m)``; kernel statistics at ``ntk_t``: ``ntk_norm``, ``ntk_dist`` (to Θ̂), ``kta``, ``cos_median``
    (median alignment cosine), ``cos_share`` (share of neurons with ``‖w_r − w_r(0) − (ρ_r/γ)Xᵀy‖ ≤ |ρ_r|/(2√γ)``,
    Lemma 5.3's first bullet, i.e. tan ∠ ≤ ½), ``ntk_change`` (‖Θ(t) − Θ(0)‖_F/‖Θ(0)‖_F), each ``(len(ntk_t), B)``;
    the final ``P`` and ``v``; ``diverged`` and ``message``.
    """

    loss: np.ndarray
    rho: np.ndarray | None
    v: np.ndarray | None
    c: np.ndarray
    ntk_t: np.ndarray
    ntk_norm: np.ndarray
    ntk_dist: np.ndarray
    kta: np.ndarray
    cos_median: np.ndarray
    ntk_change: np.ndarray
    P: torch.Tensor
    vfin: torch.Tensor
    diverged: bool
    message: str = ""
    diverged_at: np.ndarray | None = None
    cos_share: np.ndarray | None = None

    @property
    def steps(self) -> int:
        """Return the number of completed steps."""
        return self.loss.shape[0] - 1


def reduced_linear_gd(K: torch.Tensor, P0: torch.Tensor, y: torch.Tensor, v_init: torch.Tensor, *, eta, steps: int,
                      record_neurons: bool = True, ntk_every: int | None = 1, cosine: bool = False,
                      on_divergence: str = "record", knobs: str = "the step size") -> Trajectory:
    """Return the exact GD trajectory of the linear network run in kernel space (module docstring).

    ``K: (B, n, n)``, ``P0: (B, n, m)``, ``y: (B, n)``, ``v_init: (B, m)``; ``eta`` a number or a ``(B,)``
    tensor. ``ntk_every=None`` skips the kernel statistics; ``cosine`` adds the median alignment cosine
    (needs K invertible). Divergence follows :func:`blown_up` (the rule of :mod:`nbs_lib.optim`):
    ``on_divergence="record"`` stops at the first diverged run and returns the finite part with
    ``diverged=True``; ``"raise"`` raises :class:`nbs_lib.optim.DivergenceError`; ``"mask"`` freezes only the
    runs that diverged (NaN losses from then on, ``diverged_at`` per run) and goes on with the others.
    ``knobs`` names what the user can change in the message.
    """
    validate.nonnegative_int("steps", steps)
    validate.one_of("on_divergence", on_divergence, ("raise", "record", "mask"))
    if ntk_every is not None:
        validate.positive_int("ntk_every", ntk_every)
    if K.ndim != 3 or P0.ndim != 3 or y.ndim != 2 or v_init.ndim != 2:
        raise ValueError("K, P0, y, v_init must be (B, n, n), (B, n, m), (B, n), (B, m), got "
                         f"{tuple(K.shape)}, {tuple(P0.shape)}, {tuple(y.shape)}, {tuple(v_init.shape)}")
    eta_t = torch.as_tensor(eta, dtype=K.dtype, device=K.device)
    if not bool(torch.isfinite(eta_t).all()) or bool((eta_t <= 0).any()):
        raise ValueError(f"eta must be finite and > 0, got {eta!r}")
    B, n, m = P0.shape
    a = (eta_t / (m * n)).reshape(-1, 1, 1) if eta_t.ndim else eta_t / (m * n)
    a_v = a.reshape(-1, 1) if eta_t.ndim else a
    P, v = P0.clone(), v_init.clone()
    c = (y.unsqueeze(-1) * P0).sum(-2)
    losses, rhos, vs = [], [], []
    kt, knorm, kdist, kkta, kcos, kchg, kshare = [], [], [], [], [], [], []
    Th0 = None
    diverged, message = False, ""
    per_run = on_divergence == "mask"
    div_at = np.full(B, -1)
    alive = torch.ones(B, dtype=torch.bool, device=K.device)
    for t in range(steps + 1):
        r = y - (P * v.unsqueeze(-2)).sum(-1) / m                    # elementwise + sum: faster than bmm at small n
        loss = 0.5 * (r * r).mean(-1)
        bad = alive & blown_up(loss)
        if per_run:
            if bool(bad.any()):
                div_at[bad.cpu().numpy()] = t
                alive &= ~bad
                P = torch.where(alive[:, None, None], P, torch.zeros_like(P))
                v = torch.where(alive[:, None], v, torch.zeros_like(v))
                r = torch.where(alive[:, None], r, torch.zeros_like(r))
                diverged = True
                message = (f"{int((div_at >= 0).sum())} of {B} runs diverged (first at step "
                           f"{int(div_at[div_at >= 0].min())}); lower {knobs}")
            loss = torch.where(alive, loss, torch.full_like(loss, float("nan")))
        elif bool(bad.any()):
            message = (f"reduced GD diverged at step {t}: non-finite or blown-up loss "
                       f"(last finite loss {losses[-1] if losses else 'none'}); lower {knobs}")
            if on_divergence == "raise":
                raise optim.DivergenceError(message)
            diverged = True
            div_at[bad.cpu().numpy()] = t
            break
        losses.append(loss.cpu().numpy())
        if record_neurons:
            rhos.append(((y.unsqueeze(-1) * P).sum(-2) - c).cpu().numpy())
            vs.append(v.cpu().numpy())
        if ntk_every is not None and t % ntk_every == 0:
            Th = obs.ntk_linear(K, P, v, m)
            if Th0 is None:
                Th0 = Th
            kt.append(t)
            knorm.append(obs.spectral_norm(Th).cpu().numpy())
            kdist.append(obs.kernel_rel_distance(Th, obs.target_aligned_kernel(K, y, v, m)).cpu().numpy())
            kkta.append(obs.kernel_target_alignment(Th, y).cpu().numpy())
            kchg.append(((Th - Th0).pow(2).sum((-1, -2)) / Th0.pow(2).sum((-1, -2))).sqrt().cpu().numpy())
            if cosine:
                cos = obs.alignment_cosine(K, P, P0, y).nan_to_num(0.0)
                kcos.append(cos.median(-1).values.cpu().numpy() if t > 0 else np.full(B, np.nan))
                kshare.append((cos >= 2 / 5 ** 0.5).to(K.dtype).mean(-1).cpu().numpy() if t > 0
                              else np.full(B, np.nan))
        if t == steps:
            break
        Kr = (K @ r.unsqueeze(-1))                                   # (B, n, 1)
        Ptr = (P * r.unsqueeze(-1)).sum(-2)                           # (B, m), old P
        P = P + Kr * (a_v * v).unsqueeze(-2)
        v = v + a_v * Ptr
    stack = lambda xs, shape: np.stack(xs) if xs else np.zeros(shape)
    return Trajectory(
        loss=stack(losses, (0, B)), rho=stack(rhos, (0, B, m)) if record_neurons else None,
        v=stack(vs, (0, B, m)) if record_neurons else None, c=c.cpu().numpy(), ntk_t=np.array(kt, dtype=int),
        ntk_norm=stack(knorm, (0, B)), ntk_dist=stack(kdist, (0, B)), kta=stack(kkta, (0, B)),
        cos_median=stack(kcos, (0, B)) if cosine else np.zeros((0, B)), ntk_change=stack(kchg, (0, B)),
        P=P, vfin=v, diverged=diverged, message=message, diverged_at=div_at,
        cos_share=stack(kshare, (0, B)) if cosine else np.zeros((0, B)))


def sharpness_ratio(run: Trajectory, eta, n: int) -> np.ndarray:
    """Return ``max_t η λ_max(Θ(t)) / (2n)`` over the recorded kernel times, shape ``(B,)``: GD on the loss
    ``‖f − y‖²/(2n)`` is linearly stable at ``t`` only where this is below 1."""
    return np.asarray(eta) * np.max(run.ntk_norm, axis=0) / (2 * n)


def stable_eta(K: torch.Tensor, P0: torch.Tensor, y: torch.Tensor, v_init: torch.Tensor, *, eta0: float, steps: int,
               ntk_every: int = 10, margin: float = 0.9, max_halvings: int = 30) -> tuple[float, list]:
    """Return ``(η, log)``: the largest ``η0 / 2^j`` whose reduced run neither diverges nor leaves GD's
    stability region, ``η λ_max(Θ(t))/(2n) ≤ margin`` at every recorded ``t`` (our rule for anisotropic data).

    ``log`` lists ``(η, diverged, sharpness ratio)`` for each try. This replaces the interpolant bound
    :func:`nbs_lib.linfeat.theory.eta_max_linear` where ``K`` is so ill-conditioned that the interpolant is
    out of reach in ``steps`` steps.
    """
    validate.positive("eta0", eta0)
    validate.in_range("margin", margin, 0.0, 1.0, lo_open=True)
    n = K.shape[-1]
    eta, log = float(eta0), []
    for _ in range(max_halvings + 1):
        run = reduced_linear_gd(K, P0, y, v_init, eta=eta, steps=steps, record_neurons=False, ntk_every=ntk_every)
        ratio = float(sharpness_ratio(run, eta, n).max()) if run.ntk_norm.size else float("inf")
        log.append((eta, run.diverged, ratio))
        if not run.diverged and ratio <= margin:
            return eta, log
        eta /= 2
    raise ValueError(f"no stable step size found from eta0={eta0} in {max_halvings} halvings")
