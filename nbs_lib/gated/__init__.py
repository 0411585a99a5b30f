"""Chapter 004: the GReLU surrogate of deep ReLU networks (Noy et al., 2021), "A convergence theory towards
practical over-parameterized deep neural networks".

Modules: ``model`` (GReLU/ReLU networks, bit-packed gate tables, losses), ``ntk`` (exact finite-width NTK,
autograd reference, Theorem 5 spectra, step sizes in NTK units), ``theory`` (closed-form infinite-width NTKs,
Table 1, Theorem 1, Lemma 3), ``training`` (GD with in-place back-propagation and the library's blow-up
rule), ``conversion`` (GReLU→ReLU, Theorem 2 as corrected), ``stats`` (gate statistics, FLOP fractions,
low-rank gates), ``data`` (complex Ackley, image regression), ``sgemm`` (SGEMM loader and stand-in),
``gemm`` (gated matrix products: Triton kernels and a compiled C kernel beside their PyTorch references),
``experiments`` (one function per figure/table/claim protocol) and ``plots``. Claims: ``claims.yaml``.

A notebook reads ``from nbs_lib import gated as gt``; the public names of every module are re-exported here.
"""
from . import conversion, data, experiments, gemm, model, ntk, plots, sgemm, stats, theory, training
from .conversion import grelu_to_relu
from .data import ackley_like, augment_images, image_regression, unit_rows
from .model import (GATE_MODES, GatedConfig, GateTable, GReLUNet, ReLUNet, gating_net, make_pair, mse, pack_bits,
                    sum_loss, unpack_bits)
from .ntk import (autograd_ntk, eta_ntk, gram_condition, kernel_gd_steps, lambda_max, layer_spectra, ntk, ntk_gate_expected,
                  ntk_gram)
from .stats import born_dead, flop_fractions, gate_agreement_lowrank, gate_overlaps, unit_stats
from .theory import (TABLE1, forward_corr_theory, gate_overlap_theory, kappa0, kappa1, lemma3_rate, ntk_closed_form, ntk_diag,
                     ntk_normalized_offdiag, table1, theorem1, thm5_bounds)
from .training import TrainResult, train

__all__ = [
    "conversion", "data", "experiments", "gemm", "model", "ntk", "plots", "sgemm", "stats", "theory", "training",
    "grelu_to_relu", "ackley_like", "augment_images", "image_regression", "unit_rows", "GATE_MODES", "GatedConfig",
    "GateTable", "GReLUNet", "ReLUNet", "gating_net", "make_pair", "mse", "pack_bits", "sum_loss", "unpack_bits",
    "autograd_ntk", "eta_ntk", "gram_condition", "kernel_gd_steps", "lambda_max", "layer_spectra", "ntk",
    "ntk_gate_expected", "ntk_gram", "born_dead", "flop_fractions", "gate_agreement_lowrank", "gate_overlaps",
    "unit_stats", "TABLE1", "forward_corr_theory", "gate_overlap_theory", "kappa0", "kappa1", "lemma3_rate",
    "ntk_closed_form", "ntk_diag", "ntk_normalized_offdiag", "table1", "theorem1", "thm5_bounds", "TrainResult", "train",
]
