"""End-to-end runs for the chapter's notebooks: data → initialisation → simulator (or direct GD) → theory →
summary statistics, so that notebooks stay thin. Everything is batched over seeds (leading axis B).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from .. import validate
from . import data, model, observables as obs, simulator as sim, theory as th


@dataclass
class Experiment:
    """One batched experiment: the problem, the data constants (numpy, ``(B,)``), the step ``eta`` and rate
    ``k``, the reduced trajectory ``traj``, the closed theory ``theory`` (:func:`theory.two_sequence_theory`)
    and neuron summaries ``stats`` (measured) / ``stats_theory``: ``R``, ``median`` (both ÷√γ), ``rms_rho``,
    ``rms_v``, each ``(T+1, B)``.
    """

    problem: data.Problem
    K: torch.Tensor
    consts: dict
    eta: np.ndarray
    k: np.ndarray
    m: int
    v_init: torch.Tensor
    P0: torch.Tensor
    traj: sim.Trajectory
    theory: dict
    stats: dict
    stats_theory: dict
    W0: torch.Tensor | None = None
    extras: dict = field(default_factory=dict)

    def times(self, fracs=(0.9, 0.5, 0.1)) -> dict:
        """Return ``{p: (measured t_p, predicted t_p)}`` (each ``(B,)``) from the loss."""
        ms = th.phase_times(self.traj.loss, fracs)
        pr = th.phase_times(self.theory["loss"][: self.traj.loss.shape[0]], fracs)
        return {p: (ms[p], pr[p]) for p in fracs}

    def t_align(self, level: float = 0.9) -> np.ndarray:
        """Return the first step with ``R(t) ≥ level·√γ`` (−1 if never), shape ``(B,)``."""
        return th.first_index(self.stats["R"] >= level)


def neuron_stats(rho: np.ndarray, v: np.ndarray, gamma: np.ndarray) -> dict:
    """Return ``R/√γ``, median(ρ_r/v_r)/√γ, RMS ρ and RMS v over neurons, each ``(T+1, B)``."""
    st = obs.ratio_stats(torch.as_tensor(rho), torch.as_tensor(v))
    sg = np.sqrt(np.asarray(gamma))
    with np.errstate(invalid="ignore", divide="ignore"):
        return dict(R=st["R"].numpy() / sg, median=st["median"].numpy() / sg, rms_rho=st["rms_rho"].numpy(),
                    rms_v=st["rms_v"].numpy())


def theory_kernel_stats(K: torch.Tensor, y: torch.Tensor, P0: torch.Tensor, rho: np.ndarray, v: np.ndarray,
                        times) -> dict:
    """Return the theory's NTK statistics at ``times``: ``ntk_dist`` (to Θ̂) and ``ntk_norm``, each ``(len(times), B)``.

    Under the ansatz ``w_r(t) = w_r(0) + (ρ_r(t)/γ) Xᵀy`` of the two-sequence solution, ``P(t) = P₀ + K y ρ(t)ᵀ/γ``,
    and the NTK is ``(‖v‖²K + PPᵀ)/m²`` (exact formula of the linear net) with the theory's ``ρ, v``.
    """
    Ky = (K @ y.unsqueeze(-1))                                         # (B, n, 1)
    gamma = (y.unsqueeze(-1) * Ky).sum((-1, -2))
    dist, norm = [], []
    for t in times:
        rho_t = torch.as_tensor(rho[t], dtype=K.dtype, device=K.device)
        v_t = torch.as_tensor(v[t], dtype=K.dtype, device=K.device)
        P = P0 + Ky * rho_t.unsqueeze(-2) / gamma[:, None, None]
        Th = obs.ntk_linear(K, P, v_t)
        dist.append(obs.kernel_rel_distance(Th, obs.target_aligned_kernel(K, y, v_t)).cpu().numpy())
        norm.append(obs.spectral_norm(Th).cpu().numpy())
    return dict(ntk_dist=np.stack(dist), ntk_norm=np.stack(norm))


def run(problem: data.Problem, m: int, *, sigma0: float, v0: float, steps: int, eta=None, k=None, seeds=None,
        sigma0_is_variance: bool = False, exact_init: bool = False, ntk_every: int | None = 1,
        cosine: bool = False, on_divergence: str = "record") -> Experiment:
    """Return the :class:`Experiment` of the linear network on ``problem`` with width ``m``.

    Give either ``eta`` (number or per-seed array) or the rate ``k`` (then ``η = k n m/√γ`` per seed).
    ``exact_init`` draws ``W₀`` in d-space (``P₀ = X W₀``, needed to compare with direct GD); otherwise
    ``P₀ = σ₀ chol(K) Z`` (same law, no d×m matrix). ``seeds`` default to ``range(B)``.
    """
    validate.positive_int("m", m)
    validate.nonnegative_int("steps", steps)
    if (eta is None) == (k is None):
        raise ValueError("give exactly one of eta (step size) or k (rate η√γ/(nm))")
    B, n, d = problem.X.shape
    seeds = list(range(B)) if seeds is None else list(seeds)
    if len(seeds) != B:
        raise ValueError(f"seeds must list one seed per problem in the batch ({B}), got {len(seeds)}")
    K = problem.gram()
    consts_t = obs.data_constants(K, problem.y)
    consts = {key: val.cpu().numpy() for key, val in consts_t.items()}
    if k is not None:
        validate.positive("k", float(np.max(k)))
        eta = th.eta_from_k(k, consts["gamma"], n, m)
    eta = np.broadcast_to(np.asarray(eta, float), (B,)).copy()
    if not (np.isfinite(eta).all() and (eta > 0).all()):
        raise ValueError(f"eta must be finite and > 0, got {eta}")
    std = model.init_std(sigma0, sigma0_is_variance)
    W0 = None
    if exact_init:
        W0, v_init = model.init_params(d, m, sigma0=std, v0=v0, seeds=seeds, dtype=K.dtype, device=K.device)
        P0 = problem.X @ W0
    else:
        _, v_init = model.init_params(1, m, sigma0=0.0, v0=v0, seeds=seeds, dtype=K.dtype, device=K.device)
        P0 = sim.sample_P0(K, m, std, seeds=seeds)
    eta_t = torch.as_tensor(eta, dtype=K.dtype, device=K.device)
    traj = sim.reduced_linear_gd(K, P0, problem.y, v_init, eta=eta_t if B > 1 else float(eta[0]), steps=steps,
                                 ntk_every=ntk_every, cosine=cosine, on_divergence=on_divergence)
    thy = th.two_sequence_theory(traj.c, v_init, consts["gamma"], consts["phi"], consts["y_norm2"], eta, n, m, steps)
    if traj.ntk_t.size:
        thy.update(theory_kernel_stats(K, problem.y, P0, thy["rho"], thy["v"], traj.ntk_t))
    stats = neuron_stats(traj.rho, traj.v, consts["gamma"])
    stats_t = neuron_stats(thy["rho"], thy["v"], consts["gamma"])
    return Experiment(problem, K, consts, eta, th.k_rate(eta, consts["gamma"], n, m), m, v_init, P0, traj, thy, stats,
                      stats_t, W0)


def synthetic(n: int, d: int, m: int, *, sigma0: float, v0: float, steps: int, seeds=(0,), eta=None, k=None,
              sigma_y: float = 0.1, spectrum_kind: str = "identity", alpha: float = 1.0,
              sigma0_is_variance: bool = False, exact_init: bool = False, ntk_every: int | None = 1,
              cosine: bool = False) -> Experiment:
    """Return :func:`run` on the paper's synthetic problem (one data set and one initialisation per seed)."""
    pb = data.make_gaussian_regression(n, d, sigma_y=sigma_y, spectrum_kind=spectrum_kind, alpha=alpha, seeds=seeds)
    return run(pb, m, sigma0=sigma0, v0=v0, steps=steps, eta=eta, k=k, seeds=seeds,
               sigma0_is_variance=sigma0_is_variance, exact_init=exact_init, ntk_every=ntk_every, cosine=cosine)


def phase_time_run(problem: data.Problem, m: int, *, sigma0: float, v0: float, eta=None, k=None,
                   fracs=(0.9, 0.5, 0.1), seeds=None, sigma0_is_variance: bool = False) -> dict:
    """Return measured and predicted phase times for one setting, running just long enough.

    The horizon is 1.5× the discrete-exponential estimate of ``t_{min(fracs)}`` plus 20 steps. Returns
    ``{"measured": {p: (B,)}, "theory": {p: (B,)}, "k": (B,), "s0": (B,), "eta": (B,), "steps": T,
    "diverged": bool}``; the trajectory is not kept (no neurons, no kernels).
    """
    B, n, _ = problem.X.shape
    K = problem.gram()
    C = {key: val.cpu().numpy() for key, val in obs.data_constants(K, problem.y).items()}
    if (eta is None) == (k is None):
        raise ValueError("give exactly one of eta (step size) or k (rate η√γ/(nm))")
    eta = th.eta_from_k(k, C["gamma"], n, m) if k is not None else np.broadcast_to(np.asarray(eta, float), (B,))
    kk = th.k_rate(eta, C["gamma"], n, m)
    std = model.init_std(sigma0, sigma0_is_variance)
    s0 = th.s0_expected(std, v0, C["kappa"], C["gamma"])
    T = int(np.ceil(1.5 * np.max(th.t_p_discrete_exp(s0, kk, min(fracs))))) + 20
    seeds = list(range(B)) if seeds is None else list(seeds)
    _, v_init = model.init_params(1, m, sigma0=0.0, v0=v0, seeds=seeds, dtype=K.dtype)
    P0 = sim.sample_P0(K, m, std, seeds=seeds)
    eta_arg = torch.tensor(np.array(eta, float), dtype=K.dtype)
    tr = sim.reduced_linear_gd(K, P0, problem.y, v_init, eta=eta_arg, steps=T, record_neurons=False, ntk_every=None)
    thy = th.two_sequence_theory(tr.c, v_init, C["gamma"], C["phi"], C["y_norm2"], np.asarray(eta), n, m, T, neurons=False)
    thy_s0 = thy["s0"]
    return dict(measured=th.phase_times(tr.loss, fracs), theory=th.phase_times(thy["loss"], fracs), k=kk, s0=thy_s0,
                eta=np.asarray(eta, float), steps=T, diverged=tr.diverged, loss=tr.loss, theory_loss=thy["loss"],
                consts=C, theory_s=thy["s"])
