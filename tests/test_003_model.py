"""Chapter 003: activations, closed-form kernels, the network, the Jacobian factors and the exact-in-law sampler."""
import math

import numpy as np
import pytest
import torch
from scipy import stats

import nbs_lib as nl
from nbs_lib import subquad as sq
from nbs_lib.subquad import activations as act


@pytest.mark.parametrize("kind", ["shifted", "threshold"])
@pytest.mark.parametrize("b", [0.0, 1.0, 2.0])
def test_normalisation_gives_unit_second_moment(kind, b):
    # m·E[φ(g)²] = 1 for g ~ N(0, 2/m): Monte Carlo with 2e6 samples, tolerance 5 standard errors
    m = 1000
    spec = sq.make_act(kind, b, m)
    g = torch.Generator().manual_seed(1)
    x = torch.randn(2_000_000, generator=g, dtype=torch.float64) * math.sqrt(2 / m)
    vals = m * sq.phi(x, spec) ** 2
    se = float(vals.std()) / math.sqrt(vals.numel())
    assert abs(float(vals.mean()) - 1.0) < 5 * se


def test_constants_table_and_norm_map_slope():
    # values of the spec's constants table (computed there independently), and A(b) = N'(1) by finite differences
    assert act.normalisation("shifted", 1.0) == pytest.approx(6.6366, abs=2e-4)
    assert act.normalisation("threshold", 1.5) == pytest.approx(1.9151, abs=2e-4)
    for kind in ("shifted", "threshold"):
        for b in (0.5, 1.0, 2.0):
            h = 1e-6
            fd = (act.norm_map(1 + h, b, kind) - act.norm_map(1 - h, b, kind)) / (2 * h)
            assert act.act_constants(kind, b)["A"] == pytest.approx(fd, rel=1e-6)
            assert act.norm_map(1.0, b, kind) == pytest.approx(1.0, rel=1e-12)


def test_bad_parameters_raise():
    with pytest.raises(ValueError, match="kind"):
        sq.make_act("relu6", 1.0, 64)
    with pytest.raises(ValueError, match="b must"):
        sq.make_act("shifted", -1.0, 64)
    with pytest.raises(ValueError, match="L must"):
        sq.ntk_kernels(torch.randn(4, 3), 1, 1.0)
    with pytest.raises(ValueError, match="alpha_sp"):
        sq.b_for_sparsity(1024, 1.5)


def test_orthant_probability_against_scipy():
    for h, k, rho in [(0.3, -0.5, 0.4), (1.2, 0.7, -0.6), (2.0, 2.5, 0.9)]:
        ref = stats.multivariate_normal(mean=[0, 0], cov=[[1, rho], [rho, 1]]).cdf([-h, -k])
        assert float(sq.bvn_orthant(torch.tensor(h), torch.tensor(k), torch.tensor(rho))) == pytest.approx(ref, abs=1e-7)


def test_truncated_moments_against_monte_carlo():
    g = torch.Generator().manual_seed(0)
    N = 2_000_000
    for h, k, rho in [(0.5, 1.0, 0.3), (1.4, 0.2, -0.5)]:
        x = torch.randn(N, generator=g, dtype=torch.float64)
        y = rho * x + math.sqrt(1 - rho ** 2) * torch.randn(N, generator=g, dtype=torch.float64)
        ind = ((x > h) & (y > k)).double()
        lam, m10, m01, m11 = sq.trunc_moments(h, k, rho)
        for est, val in [(ind, lam), (x * ind, m10), (y * ind, m01), (x * y * ind, m11)]:
            se = float(est.std()) / math.sqrt(N)
            assert abs(float(est.mean()) - float(val)) < 5 * se


def test_kernels_reduce_to_arccos_at_b0():
    # b = 0: K_1 = 2·k1 (He scaling) and K̇ = k0, the core arc-cosine kernels (independent implementation)
    X, _ = sq.synthetic_sphere(6, 5, seed=3)
    for kind in ("shifted", "threshold"):
        out = sq.ntk_kernels(X, 2, 0.0, kind)
        k1 = nl.arccos_kernel(X.T, degree=1)
        assert torch.allclose(out["K"][1], 2 * k1, atol=1e-8)
        Y = torch.linalg.cholesky(out["K"][1])                      # rows with Gram K_1 (K̇_L uses K_{L−1})
        assert torch.allclose(out["Kdot"], nl.arccos_kernel(Y, degree=0), atol=1e-8)


@pytest.mark.parametrize("kind", ["shifted", "threshold"])
def test_layer_kernel_against_monte_carlo_limit(kind):
    # K_1(i,j) = E[ψ(u)ψ(v)], (u, v) ~ N(0, 2Σ): direct Monte Carlo of the limit, 1e6 samples, 5 SE
    X, _ = sq.synthetic_sphere(3, 4, seed=1)
    b = 1.0
    out = sq.ntk_kernels(X, 2, b, kind)
    c = act.normalisation(kind, b)
    g = torch.Generator().manual_seed(2)
    thr = math.sqrt(2) * b
    draws = []
    for K in (out["K"][0], out["K"][1]):          # K_1 from Σ = K_0; K̇_2 from Σ = K_1
        Lc = torch.linalg.cholesky(2 * K + 1e-12 * torch.eye(3, dtype=torch.float64))
        draws.append(torch.randn(1_000_000, 3, generator=g, dtype=torch.float64) @ Lc.T)
    Z0, Z1 = draws
    psi = math.sqrt(c) * ((Z0 - thr).clamp_min(0) if kind == "shifted" else Z0 * (Z0 > thr))
    dpsi = math.sqrt(c) * (Z1 > thr).double()
    for i in range(3):
        for j in range(3):
            for est, val in [(psi[:, i] * psi[:, j], out["K"][1][i, j]), (dpsi[:, i] * dpsi[:, j], out["Kdot"][i, j])]:
                se = float(est.std()) / math.sqrt(est.numel())
                assert abs(float(est.mean()) - float(val)) < 5 * se + 1e-12


def test_layer_factors_against_autograd():
    # ∂f/∂W_ℓ = u_{i,ℓ} v_{i,ℓ}ᵀ (Lemma C.4) against torch.func, shifted ReLU, m = 32, L = 3
    X, _ = sq.synthetic_sphere(4, 5, seed=0)
    spec = sq.make_act("shifted", 0.5, 32)
    net = sq.init_network(5, 32, 3, spec, seed=0)
    U, V = sq.layer_factors(net, X)

    def f(p, x):
        h = x
        for name in ("W1", "W2", "W3"):
            h = sq.phi(p[name] @ h, spec)
        return net.a @ h

    params = {f"W{l + 1}": w for l, w in enumerate(net.W)}
    J = nl.ntk.jacobian(f, params, X.T)
    for l in range(3):
        ref = J[f"W{l + 1}"][:, 0]                                   # (n, m, m_in)
        mine = U[l].T.unsqueeze(2) * V[l].T.unsqueeze(1)
        assert torch.allclose(mine, ref, atol=1e-12)
    # Fact E.1: the Hadamard Gram equals the explicit Jacobian Gram of the last layer
    G = sq.empirical_grams(U, V)[-1]
    Jl = J["W3"][:, 0].reshape(4, -1)
    assert torch.allclose(G, Jl @ Jl.T, atol=1e-10)


def test_network_output_is_order_one_and_norms_unit():
    X, _ = sq.synthetic_sphere(16, 16, seed=0)
    spec = sq.make_act("shifted", 1.0, 2048)
    net = sq.init_network(16, 2048, 2, spec, seed=0)
    H, _ = sq.forward_all(net, X)
    norms = H[1].norm(dim=0)
    # Lemma G.6 at layer 1: ‖h‖ within 1 ± 6·std with std ≈ ½√(V/m)
    std = 0.5 * math.sqrt(act.act_constants("shifted", 1.0)["V"] / 2048)
    assert float((norms - 1).abs().max()) < 6 * std


def test_implicit_sampler_matches_explicit_network_in_law():
    # §6.11: (H_{L−1}, P0, a) drawn implicitly has the law of the explicit network. Compare, over 30 seeds at m = 128,
    # the mean of G/m entries (within 4 combined SE) and the first GN step ratio (two-sample KS, p > 0.01).
    X, y = sq.synthetic_sphere(6, 6, seed=0)
    m, L, S = 128, 3, 30
    spec = sq.make_act("shifted", 0.5, m)
    stats_e, stats_i = [], []
    for s in range(S):
        net = sq.init_network(6, m, L, spec, seed=s)
        H = sq.frozen_features(net, X)
        Pe = net.W[-1] @ H
        Hi, Pi, ai = sq.implicit_features(X, m, L, spec, seed=10_000 + s)
        for (HH, PP, aa), out in (((H, Pe, net.a), stats_e), ((Hi, Pi, ai), stats_i)):
            U = sq.dphi(PP, spec) * aa.unsqueeze(1)
            G = (U.T @ U) * (HH.T @ HH) / m
            tr = sq.FrozenFeatureGN(HH, PP, aa, y, spec, track=False)
            r = sq.run(tr, 1)["res"]
            out.append((float(G[0, 1]), float(G[2, 2]), float(HH.norm(dim=0).mean()), r[1] / r[0]))
    E, I = np.array(stats_e), np.array(stats_i)
    for k in range(3):
        se = math.sqrt(E[:, k].var() / S + I[:, k].var() / S)
        assert abs(E[:, k].mean() - I[:, k].mean()) < 4 * se
    assert stats.ks_2samp(E[:, 3], I[:, 3]).pvalue > 0.01


@pytest.mark.parametrize("kind", ["shifted", "threshold"])
def test_dphi_is_the_derivative_of_phi_away_from_the_kink(kind):
    # against central finite differences of φ (float64), and exactly √c·1[P > τ] at, above and below τ
    spec = sq.make_act(kind, 0.7, 64)
    P = torch.randn(64, 9, dtype=torch.float64, generator=torch.Generator().manual_seed(3))
    away = (P - spec.tau).abs() > 1e-3
    h = 1e-6
    fd = (sq.phi(P + h, spec) - sq.phi(P - h, spec)) / (2 * h)
    d = sq.dphi(P, spec)
    if kind == "shifted":          # threshold φ jumps at τ: its a.e. derivative is √c·1[P > τ] by the paper's convention
        assert torch.allclose(d[away], fd[away], atol=1e-8)
    edge = torch.tensor([spec.tau - 1e-12, spec.tau, spec.tau + 1e-12, float("nan")], dtype=torch.float64)
    out = sq.dphi(edge, spec)
    assert out.tolist() == [0.0, 0.0, spec.sqrt_c, 0.0]   # NaN gives 0, as the bool cast did
    assert torch.equal(d, spec.sqrt_c * (P > spec.tau).to(P.dtype))
    assert torch.equal(P, torch.randn(64, 9, dtype=torch.float64, generator=torch.Generator().manual_seed(3)))  # P untouched
