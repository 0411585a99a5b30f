"""Paper 002 (Tinaz, Xie, Soltanolkotabi, "When both layers learn"): a bias-free two-layer ReLU network
``f(x) = Vᵀ relu(W x)`` learning ``y = A x`` from Gaussian inputs, both layers trained by GD.

Modules: ``model`` (targets, initialisations, closed-form population loss/gradient/Hessians, empirical loss),
``dynamics`` (batched GD, k = 2 metrics, phase times), ``theory`` (Theorem 1, phase-time and rate
predictions, certificate curves, sign rules, pairing, Lemma 10's expectation), ``experiments`` (one function
per figure/claim protocol), ``plots`` (figure helpers) and ``claims.yaml`` (the chapter's claim registry).
Notebooks read ``from nbs_lib import population as pop``.
"""
from . import dynamics, experiments, model, plots, theory
from .dynamics import (ALIGN_ANGLE, GROWTH_LEVEL, Trajectory, emp_loss_grad, escape_steps, first_step, gaussian_data,
                       metrics_k2, near_saddle_init, phase_times, run_gd)
from .model import (TWO_PI, angle, as_target, batched_pop_loss_grad_rows, errors_k2, hessian_eq14, hessian_fd,
                    init_thm2, init_xavier, kappa, kernel_matrix, pairwise_angles, planted_target, pop_grad, pop_loss,
                    pop_loss_even_odd, pop_loss_grad, pop_loss_k2_stable, pop_loss_mc)
from .theory import (Pairing, certificate_direct, classify_k2, empirical_local_slope, expected_M, global_optimum,
                     group_sums, lb_certificate, local_slopes, match_pairs, mixed_signs, optimum_spectrum,
                     pl_certificate, predicted_phase_times, random_frame, random_k2_points, saddle_point, saddle_points,
                     saddle_spectrum, sign_predictor, slice_loss, zero_crossing)

__all__ = [n for n in dir() if not n.startswith("_")]
