"""Paper 003 (Song, Zhang & Zhang, ITCS 2024): training the last layer of a deep over-parametrised network by
Gauss–Newton in subquadratic time.

Modules: ``activations`` (shifted ReLU / thresholded activation, constants), ``model`` (network, features,
exact-in-law sampler, data), ``ntk`` (closed-form multi-layer kernels), ``lrm`` (low-rank maintenance, Alg. 3–4),
``trainers`` (Dense/Paper/FrozenFeature/ExplicitJacobian GN, GD, diagnostics), ``ops`` (op-count model),
``sketch`` (TensorSketch / TensorSRHT and the sketched Gram solvers, §D) with its Triton kernels beside it in
``triton_sketch`` (torch references included), ``experiments`` (one function per figure and claim protocol) and
``plots``. The claim registry is ``claims.yaml``.
"""
from . import activations, lrm, model, ntk, ops, sketch, trainers, triton_sketch
from .activations import ActSpec, act_constants, b_for_sparsity, dphi, make_act, norm_map, phi
from .lrm import LowRankMaintenance, SparseCols, to_sparse_cols
from .model import (DeepNet, digits_subset, empirical_grams, forward_all, frozen_features, implicit_features,
                    implicit_forward,
                    init_network, layer_factors, output, synthetic_sphere)
from .ntk import bvn_orthant, ntk_kernels, trunc_moments
from .ops import op_count
from .trainers import (DenseGN, ExplicitJacobianGN, FrozenFeatureGN, PaperGN, default_gd_lr, iterations_to,
                       last_layer_gd,
                       overshoot_kappa, residual_decomposition, run)
