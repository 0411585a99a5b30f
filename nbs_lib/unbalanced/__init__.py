"""Paper 000, "Convergence of near-linear width ReLU networks with unbalanced initialization".

Modules: ``model`` (data generators, the model, inits (4)/(8), closed-form gradients), ``kernels`` (K̄, Ḡ,
the empirical K_t, G_t, H_t by one GEMM, matrix-free products, the restricted kernel, extreme eigenvalues),
``dynamics`` (GD/NAG of eqs. (2)–(3) through :mod:`nbs_lib.optim`, Prop. 3.7's linear system), ``theory``
(rates, bounds, Table 1), ``experiments`` (one function per figure/claim protocol), ``plots``, ``explorers``
(the draw functions of the notebooks' explorers), ``triton``
(the fused K0 kernel, with its torch reference) and ``claims.yaml`` (the chapter's claim registry).
A notebook reads ``from nbs_lib import unbalanced as ub``.
"""
from . import dynamics, experiments, explorers, kernels, model, plots, theory
from .dynamics import Trace, TrainResult, linear_model, step_params, train
from .kernels import (ck_kernel, ck_matvec, extreme_eigs, full_kernel, gbar, gbar_mc, kbar, kbar_mc, ntk_hidden,
                      ntk_hidden_loop, ntk_matvec, restricted_ntk)
from .model import (Net, draw_problem, forward, grads, grads_autograd, init_sketch, init_unbalanced, loss,
                    lowrank_responses, pad_neurons, residual, response_stats, sphere, unvec, vec)
from .theory import (check_guardrails, iters_pred, lemma35_bounds, lemma36_bounds, lemma42_bounds,
                     lemma43_bounds, nag_root_moduli, rho_gd, rho_nag,
                     t_nag_matrix, t_nag_norms, theorem_theta, width_table)
from .experiments import regime_sweep


def run_context(profile: str = "cpu", device: str = "auto", seed: int = 0):
    """Return the chapter's run context (:func:`nbs_lib.run_context`) and set the house plot style.

    Below the ``paper`` profile the GEMMs are small and one thread is fastest, so ``threads=1`` there.
    """
    from .. import plotting
    from ..context import run_context as _run_context

    plotting.use_style()
    return _run_context(profile, device, seed, threads=1 if profile != "paper" else None)
