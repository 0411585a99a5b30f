"""Chapter 003: the experiment functions at smoke size against independent computations, and config validation."""
import math

import numpy as np
import pytest
from scipy import stats

import nbs_lib as nl
from nbs_lib.subquad import experiments as ex


@pytest.fixture(scope="module")
def ctx():
    return nl.run_context("smoke", "cpu", 0, announce=False)


def test_density_layer1_is_q_and_ratio_matches_counts(ctx):
    cfg = ex.DensityConfig.for_profile("smoke", n=8, d=8, L=3, m=512, b_grid=(0.5, 1.0))
    r = ex.density(cfg, ctx)
    assert r.dens["shifted"].shape == (2, 1, 3, 8)
    # layer-1 density vs Q(b) = scipy's normal tail: within 4 binomial SE + 2 % (the registered tolerance)
    q = stats.norm.sf([0.5, 1.0])
    mean1 = r.dens["shifted"][:, :, 0, :].reshape(2, -1).mean(1)
    assert np.all(np.abs(mean1 - q) <= 4 * np.sqrt(q * (1 - q) / (512 * 8)) + 0.02 * q)
    # max_ratio recomputed from the densities by hand
    nnz = r.dens["shifted"] * 512
    by_hand = max(nnz[i, :, 0, :].max() / (512 * math.exp(-b * b / 2)) for i, b in enumerate((0.5, 1.0)))
    assert r.max_ratio[0] == pytest.approx(by_hand)


def test_trunc_chi2_mean_matches_scipy_truncnorm(ctx):
    cfg = ex.TruncChi2Config.for_profile("smoke", bs=(1.0,), log2_n=(4, 6), draws=400)
    r = ex.trunc_chi2(cfg, ctx)
    m2 = stats.truncnorm.moment(2, 1.0, np.inf)              # E[Y²] for Y ~ N(0,1) | Y > 1
    assert r.mu[0] == pytest.approx(m2, rel=1e-10)
    assert np.all(np.abs(r.mean[0] - m2) <= 4 * r.se[0])
    assert r.mu_particular[0] == 3.0


def test_schedule_exact_mean_and_counts(ctx):
    cfg = ex.ScheduleConfig.for_profile("smoke", n=8, d=8, L=2, alphas=(0.5,))
    r = ex.schedule(cfg, ctx)
    m = r.m.astype(float)
    b = np.sqrt(2 * 0.5 * np.log(m))
    assert r.k_exact[0] == pytest.approx(m * stats.norm.sf(b), rel=1e-10)
    assert np.all(r.k_max >= r.k_mean)


@pytest.mark.parametrize("cls, knobs, name", [
    (ex.DensityConfig, {"m": 2 ** 23}, "m"), (ex.DensityConfig, {"L": 9}, "L"), (ex.DensityConfig, {"n": 1}, "n"),
    (ex.DensityConfig, {"b_grid": (0.0, 4.0)}, "b_grid"), (ex.ScheduleConfig, {"log2_widths": (9, 30)}, "log2_widths"),
    (ex.ScheduleConfig, {"alphas": (1.5,)}, "alphas"), (ex.NormsConfig, {"seeds": 0}, "seeds"),
    (ex.TruncChi2Config, {"draws": 10}, "draws"), (ex.DensityConfig, {"widht": 3}, "unknown"),
])
def test_configs_reject_bad_values_naming_the_parameter(cls, knobs, name):
    with pytest.raises(ValueError, match=name):
        cls.for_profile("cpu", **knobs)


def test_relu_closed_form_ntk_matches_core_arccos_kernels():
    # b = 0, L = 2, unit inputs: K_1 = κ1(cos), K̇_2 = κ0(K_1)/2·c with c = 1, Θ = K_1 ⊙ K̇_2 (nbs_lib.kernels)
    import torch

    from nbs_lib import kernels
    from nbs_lib.subquad import model, ntk

    X, _ = model.synthetic_sphere(6, 5, corr=1.0, seed=3)
    Th = ntk.ntk_kernels(X, 2, 0.0, "shifted")["Theta"]
    K1 = kernels.arccos_of_cosine((X.T @ X).clamp(-1, 1), 1)
    ref = K1 * kernels.arccos_of_cosine(K1 / torch.sqrt(torch.outer(K1.diagonal(), K1.diagonal())), 0) / 2
    assert torch.allclose(Th, ref, atol=1e-10)


def test_last_layer_gram_equals_core_two_layer_relu_ntk_part():
    # the last-layer Gram (UᵀU) ⊙ (HᵀH) of a ReLU layer on inputs H is the W-part of the core empirical NTK
    # of f(h) = a·relu(W h)/√m: NTK − CK = (H Hᵀ) ⊙ (S diag(a²) Sᵀ)/m
    import torch

    from nbs_lib import kernels
    from nbs_lib.subquad import activations as act
    from nbs_lib.subquad import model

    X, _ = model.synthetic_sphere(5, 8, seed=1)
    spec = act.make_act("shifted", 0.0, 64)
    net = model.init_network(8, 64, 2, spec, seed=2)
    U, V = model.layer_factors(net, X)
    G = model.empirical_grams(U, V)[-1]
    W, a, H = net.W[-1], net.a, V[-1]
    ntk_, ck = kernels.two_layer_relu_kernels(W, a, H.T)
    assert torch.allclose(G / 64, ntk_ - ck, atol=1e-12)


def test_lemma_sketch_sizes_follow_the_lemmas():
    # Lemma D.4: n²/(ε²δ); Lemma D.8: n·log³(nm/(εδ))/ε² (constant 1)
    assert ex.lemma_sketch_size("tensorsketch", 16, 4096) == math.ceil(256 / (0.25 * 0.1))
    assert ex.lemma_sketch_size("srht", 16, 4096) == math.ceil(16 * math.log(16 * 4096 / 0.05) ** 3 / 0.25)


def test_lrm_cost_fit_is_the_least_squares_line(ctx):
    r = ex.lrm_cost(ex.LrmCostConfig.for_profile("smoke", n=8), ctx)
    c, t0 = np.polyfit(r.ranks, r.median_ms, 1)
    assert r.slope_ms_per_rank == pytest.approx(c)
    assert np.all(r.q1_ms <= r.median_ms) and np.all(r.median_ms <= r.q3_ms)


def test_same_iterates_and_f10_grade_every_setting(ctx):
    s = ex.same_iterates(ex.SameIteratesConfig.for_profile("smoke", n=8), ctx)
    assert s.rel_diff < 1e-9 and max(s.ranks) <= 8
    g = ex.gn_vs_gd(ex.GNConfig.for_profile("smoke", gd_cap=50, gd_m=128, n_gd=8), ctx, gn_steps=10)
    assert len(g.table) == 6
    # the reported maximum is the maximum over all six settings (nothing dropped)
    assert g.max_ratio == pytest.approx(max(float(v.max()) for v in g.ratios.values() if v.size))
