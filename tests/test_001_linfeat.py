"""Unit tests for chapter 001 (nbs_lib.linfeat): exact identities, the kernel-space simulator against direct
GD, closed-form NTKs against autograd, and the closed-form theory against GD (spec §3 tolerances)."""
from __future__ import annotations

import math
import pickle

import numpy as np
import pytest
import torch

import nbs_lib as nl
from nbs_lib.linfeat import data, experiments as ex, model, observables as obs, simulator as sim, theory as th

DT = torch.float64


def small_problem(seeds=(1,), n=10, d=2000, m=256, sigma0=1e-3, v0=1e-3, sigma_y=0.1):
    pb = data.make_gaussian_regression(n, d, sigma_y=sigma_y, seeds=seeds)
    W0, v = model.init_params(d, m, sigma0=sigma0, v0=v0, seeds=seeds)
    return pb, W0, v


# ------------------------------------------------------------------ exact identities
def test_eq7_eq8_are_identities_of_direct_gd():
    """P1: eqs. (7)-(8) evaluated at (W(t), v(t)) give ρ(t+1), v(t+1) of direct GD to round-off."""
    pb, W0, v0 = small_problem(n=8, d=300, m=32, sigma0=1e-2, v0=1e-2)
    X, y, eta = pb.X, pb.y, 0.5
    W, v = W0.clone(), v0.clone()
    worst = 0.0
    for _ in range(30):
        rho_pred, v_pred = obs.eq7_8_step(W, v, W0, X, y, eta)
        _, W, v = model.autograd_step(X, y, W, v, eta)
        rho = obs.feature_alignment(W, W0, X, y)
        worst = max(worst, float((rho - rho_pred).abs().max() / rho.abs().max()),
                    float((v - v_pred).abs().max() / v.abs().max()))
    assert worst < 1e-10


def test_closed_form_gradient_matches_autograd():
    pb, W0, v0 = small_problem(n=6, d=40, m=12, sigma0=0.3, v0=0.5)
    for act in ("linear", "relu"):
        loss, gW, gv = model.loss_and_grad(pb.X, pb.y, W0, v0, act)
        loss_a, W1, v1 = model.autograd_step(pb.X, pb.y, W0, v0, 1.0, act)
        assert torch.allclose(loss, loss_a, rtol=1e-13, atol=0)
        assert torch.allclose(-gW, W1 - W0, rtol=1e-11, atol=1e-14)
        assert torch.allclose(-gv, v1 - v0, rtol=1e-11, atol=1e-14)


def test_reduced_simulator_equals_direct_gd():
    """P2: the kernel-space simulator reproduces direct d-space GD (same init) to round-off, 40 steps."""
    pb, W0, v0 = small_problem(seeds=(1, 2))
    run = model.direct_gd(pb.X, pb.y, W0, v0, eta=0.1, steps=40, ntk_every=10)
    red = sim.reduced_linear_gd(pb.gram(), pb.X @ W0, pb.y, v0, eta=0.1, steps=40, ntk_every=10)
    P_direct = pb.X @ run.W
    assert float((P_direct - red.P).abs().max() / red.P.abs().max()) < 1e-10
    assert float((run.vfin - red.vfin).abs().max()) < 1e-12
    assert np.abs(run.rho - red.rho).max() / np.abs(red.rho).max() < 1e-10
    assert np.allclose(run.loss, red.loss, rtol=1e-10, atol=0)
    assert np.allclose(run.ntk_norm, red.ntk_norm, rtol=1e-9)


def test_linear_inplace_step_matches_autograd():
    pb, W0, v0 = small_problem(n=7, d=60, m=9, sigma0=0.2, v0=0.3)
    W, v = W0.clone(), v0.clone()
    loss = model.linear_step_(pb.X, pb.y, W, v, 0.7)
    loss_a, W1, v1 = model.autograd_step(pb.X, pb.y, W0, v0, 0.7)
    assert torch.allclose(loss, loss_a, rtol=1e-13)
    assert torch.allclose(W, W1, rtol=1e-12, atol=1e-15) and torch.allclose(v, v1, rtol=1e-12, atol=1e-15)


def test_batched_seeds_equal_single_runs():
    pb, W0, v0 = small_problem(seeds=(3, 4), d=500, m=64)
    both = sim.reduced_linear_gd(pb.gram(), pb.X @ W0, pb.y, v0, eta=0.2, steps=30)
    for b, s in enumerate((3, 4)):
        pb1, W1, v1 = small_problem(seeds=(s,), d=500, m=64)
        one = sim.reduced_linear_gd(pb1.gram(), pb1.X @ W1, pb1.y, v1, eta=0.2, steps=30)
        assert np.allclose(both.loss[:, b], one.loss[:, 0], rtol=1e-12)
        assert np.allclose(both.rho[:, b], one.rho[:, 0], rtol=1e-10, atol=1e-12 * np.abs(one.rho).max())


def test_same_seed_same_numbers():
    a = small_problem(seeds=(5,), d=100, m=8)
    b = small_problem(seeds=(5,), d=100, m=8)
    assert torch.equal(a[0].X, b[0].X) and torch.equal(a[1], b[1]) and torch.equal(a[2], b[2])


def test_sample_P0_has_covariance_sigma0_squared_K():
    """P₀ = σ₀ chol(K) Z has columns ~ N(0, σ₀² K): Monte Carlo covariance within 5 standard errors."""
    pb = data.make_gaussian_regression(4, 30, seeds=(0,))
    K = pb.gram()
    m, s0 = 200_000, 0.3
    P0 = sim.sample_P0(K, m, s0)[0]
    cov = P0 @ P0.T / m
    target = s0 ** 2 * K[0]
    se = s0 ** 2 * torch.sqrt(torch.outer(K[0].diag(), K[0].diag()) + K[0] ** 2) / math.sqrt(m)
    assert bool(((cov - target).abs() <= 5 * se).all())


# ------------------------------------------------------------------ NTK closed forms vs autograd
@pytest.mark.parametrize("act", ["linear", "relu"])
def test_closed_form_ntk_matches_autograd(act):
    """P3: closed-form NTKs (1/m scaling) against nbs_lib.ntk.empirical_ntk at n=5, d=50, m=16."""
    g = torch.Generator().manual_seed(0)
    n, d, m = 5, 50, 16
    X = torch.randn(n, d, generator=g, dtype=DT)
    W = torch.randn(d, m, generator=g, dtype=DT)
    v = torch.randn(m, generator=g, dtype=DT)
    fn = lambda p, x: model.forward(x, p["W"], p["v"], act)
    ref = nl.empirical_ntk(fn, {"W": W, "v": v}, X)
    K, Z = X @ X.T, X @ W
    cf = obs.ntk_linear(K, Z, v) if act == "linear" else obs.ntk_relu(K, Z, v)
    assert float((cf - ref).norm() / ref.norm()) < 1e-10


def test_target_aligned_kernel_is_leading_term_of_balanced_ntk():
    """Under w_r = v_r Xᵀy/√γ (exactly balanced, σ₀ = 0) the linear NTK equals Θ̂ when all |v_r| are equal."""
    pb = data.make_gaussian_regression(6, 80, seeds=(0,))
    X, y, K = pb.X[0], pb.y[0], pb.gram()[0]
    m = 10
    v = 0.7 * torch.tensor([1.0, -1] * 5, dtype=DT)
    gamma = y @ K @ y
    W = torch.outer(X.T @ y, v) / gamma.sqrt()
    Th = obs.ntk_linear(K, X @ W, v)
    Th_hat = obs.target_aligned_kernel(K, y, v)
    assert float(obs.kernel_rel_distance(Th, Th_hat)) < 1e-12


# ------------------------------------------------------------------ theory
def test_stage1_solution_solves_eq9():
    """The closed form of eq. (9) satisfies the recursion ρ ← ρ + (ηγ/nm)v, v ← v + (η/nm)(ρ + c) exactly."""
    rng = np.random.default_rng(0)
    m, n, eta, gamma = 7, 10, 0.3, 4.0e6
    c, v0 = rng.normal(size=m), rng.choice([-1e-3, 1e-3], size=m)
    a = eta / (n * m)
    k = a * math.sqrt(gamma)
    rho_cf, v_cf = th.stage1_solution(c, v0, gamma, k, 25)
    rho, v = np.zeros(m), v0.copy()
    for t in range(25):
        rho, v = rho + a * gamma * v, v + a * (rho + c)
        assert np.allclose(rho, rho_cf[t + 1], rtol=1e-10, atol=1e-12)
        assert np.allclose(v, v_cf[t + 1], rtol=1e-10, atol=1e-15)


def test_logistic_s_is_eq11():
    """Iterating eq. (11), ρ ← ρ[1 + k(1 − ρ²/ρ*²)], gives s = ρ²/ρ*² equal to logistic_s."""
    rho_star, k, rho = 5.0e4, 0.3, 12.0
    s = th.logistic_s(rho ** 2 / rho_star ** 2, k, 60)
    for t in range(60):
        rho = rho * (1 + k * (1 - rho ** 2 / rho_star ** 2))
        assert math.isclose(rho ** 2 / rho_star ** 2, s[t + 1], rel_tol=1e-10)
    # the gradient-flow solution solves ds/dt = 2k s(1 − s): check by a centred finite difference
    sc = th.logistic_s(1e-4, 0.3, 40, discrete=False)
    t = np.arange(41)
    s_fine = 1 / (1 + (1 / 1e-4 - 1) * np.exp(-2 * 0.3 * (t[1:-1, None] + np.array([-1e-4, 1e-4]))))
    deriv = (s_fine[:, 1] - s_fine[:, 0]) / 2e-4
    assert np.allclose(deriv, 2 * 0.3 * sc[1:-1] * (1 - sc[1:-1]), rtol=1e-6, atol=1e-12)


def test_t_cross_interpolates_log_linearly():
    series = np.exp(-np.arange(10.0))[:, None] * np.array([1.0, 2.0])
    tc = th.t_cross(series, math.exp(-2.5))
    assert np.allclose(tc, [2.5, 2.5 + math.log(2)])
    assert np.isnan(th.t_cross(np.ones((5, 1)), 0.5)[0])


def test_two_sequence_theory_tracks_gd():
    """P4–P6, P9: on the small preset (n=10, d=2000, m=256, η=0.1, σ₀=v₀=1e-3) the closed theory tracks GD:
    RMS ρ and v within 2 %, phase times within 0.5 step, fixed points within 2 %; stage-1 solution within 1 %."""
    pb, W0, v0 = small_problem(seeds=(1, 2))
    K = pb.gram()
    red = sim.reduced_linear_gd(K, pb.X @ W0, pb.y, v0, eta=0.1, steps=120, ntk_every=None)
    C = obs.data_constants(K, pb.y)
    thy = th.two_sequence_theory(red.c, v0, C["gamma"], C["phi"], C["y_norm2"], 0.1, 10, 256, 120)
    rms = lambda a: np.sqrt((a ** 2).mean(-1))
    assert np.abs(rms(red.rho[1:]) / rms(thy["rho"][1:]) - 1).max() < 0.02
    assert np.abs(rms(red.v) / rms(thy["v"]) - 1).max() < 0.02
    ts, tt = th.phase_times(red.loss), th.phase_times(thy["loss"])
    for p in ts:
        assert np.abs(ts[p] - tt[p]).max() <= 0.5
    assert np.allclose(rms(red.rho[-1]), C["rho_star"].numpy(), rtol=0.02)
    assert np.allclose(rms(red.v[-1]), C["v_star"].numpy(), rtol=0.02)
    assert red.loss[-1].max() / red.loss[0].min() < 1e-8
    # stage 1 (eq. 9 with c_r) until the loss has dropped 1 %
    t99 = int(np.floor(th.t_cross(red.loss / red.loss[0], 0.99).min()))
    k = th.k_rate(0.1, C["gamma"], 10, 256)
    r1, v1 = th.stage1_solution(red.c, v0, C["gamma"], k, t99)
    assert np.abs(rms(red.rho[1:t99 + 1]) / rms(r1[1:]) - 1).max() < 0.01
    assert np.abs(rms(red.v[:t99 + 1]) / rms(v1) - 1).max() < 0.01


def test_eta_max_is_k_equal_one_for_isotropic_K():
    n, m, kappa = 6, 50, 123.0
    K = kappa * torch.eye(n, dtype=DT)
    y = torch.linspace(-1, 2, n, dtype=DT)
    eta_max = th.eta_max_linear(K, y, m, n)
    gamma = float(y @ K @ y)
    assert math.isclose(float(th.k_rate(eta_max, gamma, n, m)), 1.0, rel_tol=1e-12)


def test_sign_flip_and_assumption_report():
    assert math.isclose(th.sign_flip_prediction(1.0, 1.0), 0.15865525393145707, rel_tol=1e-12)
    assert th.sign_flip_prediction(0.0, 1.0) == 0.0
    n, d, m = 10, 10_000, 1024
    lam, beta = np.ones(d), np.ones(d)           # ‖β̄‖² = d exactly
    rep = th.assumption_report(n=n, d=d, m=m, eta=0.1, sigma0=0.01, v0=1e-3, lam=lam, beta=beta, sigma_y=0.1)
    f = dict(zip(rep.condition, rep.violation_factor))
    assert math.isclose(f["(2) first-layer init"], 0.01 * math.sqrt(n * d * d * d), rel_tol=1e-12)
    assert math.isclose(f["(3) second-layer init"], 1e-3 * math.sqrt(n * d * d), rel_tol=1e-12)
    assert math.isclose(f["(4) step size"], 0.1 * d / math.sqrt(n * m), rel_tol=1e-12)
    assert rep.set_index("condition").loc["(1) width", "holds"]


# ------------------------------------------------------------------ validation, divergence, data
def test_bad_inputs_raise_named_errors():
    with pytest.raises(ValueError, match="n must"):
        data.make_gaussian_regression(0, 10)
    with pytest.raises(ValueError, match="v0 must"):
        model.init_params(10, 4, sigma0=0.1, v0=-1.0)
    pb, W0, v0 = small_problem(d=50, m=4)
    with pytest.raises(ValueError, match="eta must"):
        sim.reduced_linear_gd(pb.gram(), pb.X @ W0, pb.y, v0, eta=-0.1, steps=3)
    with pytest.raises(ValueError, match="act must"):
        model.direct_gd(pb.X, pb.y, W0, v0, eta=0.1, steps=2, act="tanh")
    with pytest.raises(ValueError, match="patch must"):
        data.image_binary(10, patch=100)


def test_divergence_is_detected():
    pb, W0, v0 = small_problem(d=200, m=16)
    C = obs.data_constants(pb.gram(), pb.y)
    eta = float(th.eta_from_k(5.0, C["gamma"], 10, 16)[0])
    run = sim.reduced_linear_gd(pb.gram(), pb.X @ W0, pb.y, v0, eta=eta, steps=400, ntk_every=None)
    assert run.diverged and np.isfinite(run.loss).all() and "diverged" in run.message
    with pytest.raises(nl.DivergenceError):
        sim.reduced_linear_gd(pb.gram(), pb.X @ W0, pb.y, v0, eta=eta, steps=400, ntk_every=None, on_divergence="raise")


def test_pipeline_accepts_fake_cifar10_directory(tmp_path, monkeypatch):
    """A tiny CIFAR-10 batch directory written here goes through image_binary and the simulator."""
    monkeypatch.delenv("NBS_CIFAR10_DIR", raising=False)
    rng = np.random.default_rng(0)
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    for name, N in (("data_batch_1", 40), ("test_batch", 10)):
        batch = {b"data": rng.integers(0, 256, size=(N, 3072), dtype=np.uint8), b"labels": list(rng.integers(0, 3, N))}
        with open(folder / name, "wb") as fh:
            pickle.dump(batch, fh)
    pb = data.image_binary(12, root=tmp_path, seed=0)
    assert pb.X.shape == (1, 12, 3072) and "CIFAR-10" in pb.source
    assert set(pb.y.unique().tolist()) == {-1.0, 1.0}
    assert 0.3 < float(pb.X[0].pow(2).sum(1).mean()) / 3072.0 < 3.0      # rescaled with the pool's statistics
    assert float(torch.linalg.eigvalsh(pb.gram()[0])[0]) > 0               # K invertible (pool-mean centring)
    K = pb.gram()
    P0 = sim.sample_P0(K, 32, 0.01)
    _, v = model.init_params(3072, 32, sigma0=0.01, v0=1e-3)
    eta = 0.5 * float(th.eta_max_linear(K, pb.y, 32, 12)[0])
    run = sim.reduced_linear_gd(K, P0, pb.y, v, eta=eta, steps=20)
    assert not run.diverged and np.isfinite(run.loss).all()
    monkeypatch.setenv("NBS_CIFAR10_DIR", str(tmp_path))
    assert "CIFAR-10" in data.image_binary(12, seed=1).source


def test_standardize_images_with_reference():
    g = torch.Generator().manual_seed(0)
    ref = torch.rand(50, 7, generator=g, dtype=DT)
    Xs = data.standardize_images(ref)
    assert torch.allclose(Xs.mean(0), torch.zeros(7, dtype=DT), atol=1e-12)
    assert math.isclose(float(Xs.pow(2).sum(1).mean()), 7.0, rel_tol=1e-12)
    part = data.standardize_images(ref[:10], reference=ref)
    assert torch.allclose(part, Xs[:10], atol=1e-12)


def test_stand_in_when_no_cifar(monkeypatch):
    monkeypatch.delenv("NBS_CIFAR10_DIR", raising=False)
    pb = data.image_binary(30, stand_in="patches", patch=8, seed=0)
    assert pb.X.shape == (1, 30, 64) and "stand-in" in pb.source and "patches" in pb.source
    pb = data.image_binary(40, seed=0)
    assert pb.X.shape == (1, 40, 64) and "digits" in pb.source
    assert set(pb.y.unique().tolist()) == {-1.0, 1.0}


# ------------------------------------------------------------------ extensions: regimes, step size, theory kernels
def test_per_run_divergence_keeps_the_stable_runs():
    pb, W0, v0 = small_problem(d=300, m=32)
    C = obs.data_constants(pb.gram(), pb.y)
    eta = torch.tensor(th.eta_from_k(np.array([0.5, 5.0]), C["gamma"].numpy(), 10, 32))
    K2, y2 = pb.gram().expand(2, -1, -1), pb.y.expand(2, -1)
    P2, v2 = (pb.X @ W0).expand(2, -1, -1), v0.expand(2, -1)
    both = sim.reduced_linear_gd(K2, P2, y2, v2, eta=eta, steps=200, ntk_every=None, on_divergence="mask")
    one = sim.reduced_linear_gd(pb.gram(), pb.X @ W0, pb.y, v0, eta=float(eta[0]), steps=200, ntk_every=None)
    assert both.diverged_at[0] == -1 and both.diverged_at[1] > 0
    assert np.allclose(both.loss[:, 0], one.loss[:, 0], rtol=1e-12)
    assert np.isnan(both.loss[-1, 1])


def test_map_attractor_fixed_point_and_two_cycle():
    f = lambda s, k: s * (1 + k * (1 - s)) ** 2
    a = th.map_attractor([0.5, 1.2, 3.0], s0=1e-3)
    assert np.allclose(a[:, 0], 1.0, atol=1e-12)
    s1, s2 = a[-1, 1], a[-2, 1]
    assert abs(s1 - s2) > 0.1 and math.isclose(f(s1, 1.2), s2, rel_tol=1e-9) and math.isclose(f(s2, 1.2), s1, rel_tol=1e-9)
    assert np.isnan(a[:, 2]).all()


def test_stable_eta_returns_the_largest_stable_halving():
    """stable_eta's step, checked without the simulator: direct d-space GD (optim.gd) with its closed-form NTK stays
    finite with η λ_max(Θ(t))/(2n) ≤ 0.9 at every step, and twice that step (the previous try) does not."""
    pa = data.make_gaussian_regression(60, 600, spectrum_kind="powerlaw", label="sign", seeds=(0,))
    K = pa.gram()
    C = obs.data_constants(K, pa.y)
    W0, v = model.init_params(600, 32, sigma0=1e-3, v0=1e-3)
    eta0 = float(th.eta_from_k(1.5, C["gamma"].numpy(), 60, 32)[0])
    eta, log = sim.stable_eta(K, pa.X @ W0, pa.y, v, eta0=eta0, steps=300, ntk_every=1)
    assert eta < eta0 and math.isclose(eta * 2 ** (len(log) - 1), eta0, rel_tol=1e-12)

    def sharp(e):
        r = model.direct_gd(pa.X, pa.y, W0, v, eta=e, steps=300, ntk_every=1)
        return r.diverged, e * r.ntk_norm.max() / (2 * 60)

    div, ratio = sharp(eta)
    assert not div and ratio <= 0.9
    div2, ratio2 = sharp(2 * eta)
    assert div2 or ratio2 > 0.9


def test_sharpness_ratio_is_eta_lambda_max_over_2n():
    """sharpness_ratio = max_t η λ_max(Θ(t))/(2n), with Θ from autograd (nbs_lib.ntk) at the recorded steps."""
    pb, W0, v0 = small_problem(n=6, d=40, m=8, sigma0=0.3, v0=0.5)
    eta, T = 0.05, 6
    run = sim.reduced_linear_gd(pb.gram(), pb.X @ W0, pb.y, v0, eta=eta, steps=T, ntk_every=T)
    direct = model.direct_gd(pb.X, pb.y, W0, v0, eta=eta, steps=T, ntk_every=T)
    fn = lambda p, x: model.forward(x, p["W"], p["v"])
    lam = [float(torch.linalg.eigvalsh(nl.empirical_ntk(fn, {"W": W[0], "v": vv[0]}, pb.X[0]))[-1])
           for W, vv in ((W0, v0), (direct.W, direct.vfin))]
    assert math.isclose(float(sim.sharpness_ratio(run, eta, 6)[0]), eta * max(lam) / (2 * 6), rel_tol=1e-9)


def test_t_p_continuous_is_the_crossing_time_of_the_gradient_flow():
    """t_p_continuous = the time at which the continuous logistic s(t) = 1/(1 + (1/s₀ − 1)e^{−2kt}) gives
    (1 − s)² = p, found here by bisection."""
    for s0, k, p in ((1e-5, 0.3, 0.5), (3e-4, 0.1, 0.9), (1e-6, 0.05, 0.01)):
        s = lambda t: 1 / (1 + (1 / s0 - 1) * math.exp(-2 * k * t))
        lo, hi = 0.0, 1e4
        for _ in range(200):
            mid = 0.5 * (lo + hi)
            lo, hi = (mid, hi) if (1 - s(mid)) ** 2 > p else (lo, mid)
        assert math.isclose(float(th.t_p_continuous(s0, k, p)), lo, rel_tol=1e-9)


def test_rank_one_theory_on_isotropic_K_is_the_first_order_logistic():
    """With K = κI the rank-one model keeps f = c y and c ← c(1 + 2k(1 − c)), k = η√γ/(nm) (derivation in the
    docstring's notation: b = |c|‖y‖/√κ)."""
    n, m, kappa, eta = 7, 50, 40.0, 2.0
    K = kappa * torch.eye(n, dtype=DT)[None]
    y = torch.linspace(-1, 2, n, dtype=DT)[None]
    gamma = kappa * float((y * y).sum())
    k = eta * math.sqrt(gamma) / (n * m)
    s0 = 1e-3
    L = th.rank_one_theory(K, y, s0, eta, m, 60)[:, 0]
    c = s0                                          # f(0) = s₀ (γ/φ) K y = s₀ y for K = κI
    for t in range(61):
        assert math.isclose(L[t], float((y * y).sum()) * (1 - c) ** 2 / (2 * n), rel_tol=1e-9)
        c = c * (1 + 2 * k * (1 - c))


def test_blowup_rule_is_the_one_of_optim():
    loss = torch.tensor([1.0, 2 * nl.optim.BLOWUP, float("nan"), float("inf"), 0.5 * nl.optim.BLOWUP])
    assert sim.blown_up(loss).tolist() == [False, True, True, True, False]


def test_phase_time_run_masks_only_the_diverged_seed():
    pb = data.make_gaussian_regression(10, 300, seeds=(3, 4))
    C = obs.data_constants(pb.gram(), pb.y)
    eta = th.eta_from_k(np.array([0.3, 6.0]), C["gamma"].numpy(), 10, 32)
    r = ex.phase_time_run(pb, 32, sigma0=1e-3, v0=1e-3, eta=eta, seeds=[3, 4])
    assert r["diverged"] and np.isfinite(r["measured"][0.5][0]) and np.isnan(r["measured"][0.5][1])
    assert np.isnan(r["theory"][0.5][1])


def test_theory_kernel_stats_track_gd():
    """The NTK built from the two-sequence ansatz tracks the measured NTK (norm within 2 %, distance within 0.02)
    until the loss reaches 1 % of its start (before the refinement below L_floor)."""
    e = ex.synthetic(10, 2000, 256, sigma0=1e-3, v0=1e-3, steps=80, eta=0.1, seeds=(1,))
    t01 = int(np.floor(th.t_cross(e.traj.loss / e.traj.loss[0], 0.01)[0]))
    meas, theo = e.traj.ntk_norm[:t01, 0], e.theory["ntk_norm"][:t01, 0]
    assert np.abs(theo / meas - 1).max() < 0.02
    assert np.abs(e.theory["ntk_dist"][:t01, 0] - e.traj.ntk_dist[:t01, 0]).max() < 0.02
