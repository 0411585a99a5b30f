"""Chapter 001: exact feature-learning dynamics of two-layer linear networks (Huang et al., 2025).

Modules:
``data`` (synthetic Gaussian regression, image data with ±1 labels), ``model`` (initialisation, direct
d-space GD for the linear and ReLU networks, autograd reference step), ``simulator`` (the exact
kernel-space simulator tracking ``P = XW`` and ``K = XXᵀ``), ``theory`` (closed-form curves: the stage-1
solution of eq. (9), the two-sequence solution, the logistic map of eq. (11), phase times, the paper's
t₁, step-size bound, Assumption 4.1, the rank-one model), ``experiments`` (one function per figure and
claim protocol, with its config; ``claims.yaml`` holds the claims' criteria), ``plots``, ``observables`` (ρ_r, v_r statistics, closed-form NTKs, the
target-aligned kernel, eqs. (7)–(8)).

Notation (paper 001): ``X: (n, d)`` rows are samples, ``W: (d, m)``, ``v: (m,)``,
``f(X) = X W v / m`` (linear) or ``relu(X W) v / m`` (ReLU); loss ``‖f − y‖² / (2n)``. A leading axis
``B`` batches independent runs (seeds).
"""
from . import data, experiments, model, observables, plots, simulator, theory
from .experiments import (BenchConfig, Fig1Config, GramConfig, IdentitiesConfig, ImageConfig, NTKConfig, PhaseConfig,
                          ReluConfig, Stage1Config, StepConfig)

__all__ = ["data", "experiments", "model", "observables", "plots", "simulator", "theory", "BenchConfig",
           "Fig1Config", "GramConfig", "IdentitiesConfig", "ImageConfig", "NTKConfig", "PhaseConfig", "ReluConfig",
           "Stage1Config", "StepConfig"]
