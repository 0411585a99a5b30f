"""Chapter 004: the experiments of ``nbs_lib.gated.experiments`` that had no test of their own (kernels, gates,
conditioning, architecture, conversion, table2, augmented, sgemm_sweep, sgemm_grid, flops, lowrank), each run at a
tiny config and checked against an independent computation: autograd Jacobians, kernel gradient descent (a GReLU
net with one hidden layer is linear in ``W``, so its GD is exactly kernel GD), numpy closed forms, gates recomputed
by hand from ``C`` and ``Ψ``, ``torch.linalg.lstsq``, numpy SVDs, exact binomial expectations, determinism."""
import math

import numpy as np
import pytest
import torch

import nbs_lib as nl
from nbs_lib import gated as gt

E = gt.experiments
torch.set_num_threads(1)
F64 = torch.float64


@pytest.fixture(scope="module")
def ctx():
    return nl.run_context("smoke", "cpu", 0, announce=False)


# ---------------------------------------------------------------- independent references
def _one_seed(net, s=0):
    """Return a float64 copy of seed ``s`` of ``net``, uncentred (the NTK does not see the frozen centre)."""
    new = net.clone()
    new.center = None
    new.C, new.W, new.B = net.C[s:s + 1].to(F64), net.W[s:s + 1].to(F64), net.B[s:s + 1].to(F64)
    if hasattr(net, "Psi"):
        new.Psi = net.Psi[s:s + 1].to(F64)
    return new


def _jac(net, X, s=0):
    """The autograd Jacobian of the outputs (rows ``(i, p)``) w.r.t. ``W`` of seed ``s``: ``(n·d_y, L·m²)``."""
    base = _one_seed(net, s)
    X = X.to(F64)

    def f(W):
        base.W = W
        return base.forward(X).reshape(-1)

    W0 = base.W.detach().clone()
    return torch.autograd.functional.jacobian(f, W0).reshape(-1, W0.numel())


def _lmax0(net, X, d_y=1):
    """λ_max of the output-0 NTK Gram from the autograd Jacobian."""
    J = _jac(net, X)[0::d_y]
    return float(torch.linalg.eigvalsh(J @ J.T)[-1])


def _kernel_gd_curve(K, Y, eta, steps):
    """Per-example MSE of ``r ← (I − ηK) r`` from ``r_0 = −Y`` (a centred net starts at f ≡ 0)."""
    r, out = -Y.to(F64).reshape(-1), []
    n = Y.shape[0]
    for _ in range(steps + 1):
        out.append(float(r.square().sum()) / n)
        r = r - eta * (K @ r)
    return np.array(out)


def _k0(u):
    return 1 - np.arccos(np.clip(u, -1, 1)) / np.pi


def _k1(u):
    u = np.clip(u, -1, 1)
    return (np.sqrt(1 - u * u) + (np.pi - np.arccos(u)) * u) / np.pi


def _closed(u, L, arch):
    """Normalised infinite-width NTK at cosine ``u`` (spec §1.7(c)), written here in numpy."""
    if arch == "grelu_input":
        return _k1(u) * _k0(u) ** L
    rhos = [_k1(u)]
    for _ in range(L):
        rhos.append(_k1(rhos[-1]))
    if arch == "grelu_chain":
        return _k1(u) * np.prod([_k0(rhos[l]) for l in range(L)], axis=0)
    return sum(rhos[k] * np.prod([_k0(rhos[l]) for l in range(k, L)], axis=0) for k in range(L)) / L


def _chain_gates(C, Psi, X):
    """Chain gates ``D_0..D_L`` of one seed by hand (numpy): ``z_0 = relu(Cx)``, ``D_k = 1[Ψ_k z_{k-1} > 0]``."""
    C, Psi, X = (np.asarray(t.detach().cpu(), dtype=np.float64) for t in (C, Psi, X))
    pre = X @ C.T
    out, z = [pre > 0], np.maximum(pre, 0)
    for P in Psi:
        a = z @ P.T
        out.append(a > 0)
        z = np.maximum(a, 0)
    return out


def _lstsq_linear(X, Y, Xt, Yt):
    """Test MSE per example of a least-squares linear fit with intercept (``torch.linalg.lstsq``, gelsd: min-norm)."""
    X, Y, Xt, Yt = (t.detach().to(F64).cpu() for t in (X, Y, Xt, Yt))
    Y, Yt = Y.reshape(len(Y), -1), Yt.reshape(len(Yt), -1)
    A = torch.cat([X, torch.ones(len(X), 1, dtype=F64)], 1)
    coef = torch.linalg.lstsq(A, Y, driver="gelsd").solution
    At = torch.cat([Xt, torch.ones(len(Xt), 1, dtype=F64)], 1)
    return float((At @ coef - Yt).square().sum(1).mean())


# ---------------------------------------------------------------- 02: kernels, gates, conditioning
def test_kernels_offdiagonals_and_diagonal_against_autograd_and_numpy_closed_forms(ctx):
    cfg = E.KernelConfig.for_profile("smoke", m=16, L=2, d=4, seeds=1, us=(0.0, 0.5))
    res = E.kernels(cfg, ctx)
    assert max(res.autograd_err.values()) < 1e-12          # the exact NTK equals autograd to round-off
    # the unit pairs (e_1, u e_1 + √(1−u²) e_2) at u = 0 and u = 0.5
    X = torch.tensor([[1, 0, 0, 0], [0, 1, 0, 0], [1, 0, 0, 0], [0.5, math.sqrt(0.75), 0, 0]], dtype=F64)
    dev = 0.0
    for a in E.ARCHES:
        c = gt.GatedConfig(d_x=4, d_y=1, m=16, L=2, gate_mode="input" if a == "grelu_input" else "chain",
                           seeds=E._seed_list(ctx, 1, "kernels", a))
        J = _jac(gt.ReLUNet(c) if a == "relu" else gt.GReLUNet(c), X)
        K = J @ J.T
        np.testing.assert_allclose(res.offdiag[a][0], [float(K[0, 1] / K[0, 0]), float(K[2, 3] / K[2, 2])], rtol=1e-10)
        # σ² = 2: the GReLU NTK diagonal is L m²/d_x (spec §1.2)
        assert res.diag_ratio[a] == pytest.approx(float(K.diagonal().mean()) / (2 * 16 * 16 / 4), rel=1e-10)
        dev = max(dev, float(np.max(np.abs(res.offdiag[a][0] - _closed(np.array(cfg.us), 2, a)))))
    assert res.metrics["closed"]["max_dev"] == pytest.approx(dev, rel=1e-10)
    assert res.metrics["closed"]["diag_min"] == min(res.diag_ratio.values())


def test_gates_overlaps_forward_cosines_and_theorem5_spectra_by_hand(ctx):
    cfg = E.GatesConfig.for_profile("smoke", spec_m=64, ov_m=1024, fw_m=64, depth=2, d=64)
    res = E.gates(cfg, ctx)
    pi, pj = np.arange(0, 64, 2), np.arange(1, 64, 2)
    # input gates of orthogonal basis pairs are the signs of disjoint Gaussian columns of Ψ: every overlap
    # indicator is an independent Bernoulli(1/4) over m·d/2 = 32768 draws; 4 standard errors
    se = math.sqrt(3 / 16 / (1024 * 32))
    assert np.all(np.abs(res.overlap["input"] - 0.25) < 4 * se)
    gn = gt.gating_net(gt.GatedConfig(d_x=64, d_y=1, m=1024, L=2, seeds=E._seed_list(ctx, 1, "overlap", "chain")))
    D = _chain_gates(gn.C[0], gn.Psi[0], torch.eye(64, dtype=F64))
    np.testing.assert_allclose(res.overlap["chain"], [np.mean(Dk[pi] & Dk[pj]) for Dk in D[1:]], rtol=1e-12)
    # forward cosines at depth 0: relu(C e_i) against relu(C e_j), by hand
    net = gt.GReLUNet(gt.GatedConfig(d_x=64, d_y=1, m=64, L=2, seeds=E._seed_list(ctx, 1, "forward")))
    G0 = np.maximum(net.C[0].numpy(), 0)
    cos = (G0[:, pi] * G0[:, pj]).sum(0) / (np.linalg.norm(G0[:, pi], axis=0) * np.linalg.norm(G0[:, pj], axis=0))
    assert res.forward[0] == pytest.approx(cos.mean(), rel=1e-12)
    th = [_k1(0.0)]
    r = _k1(0.0)
    for _ in range(2):
        th.append(th[-1] * _k0(r))
        r = _k1(r)
    assert res.metrics["thm6"]["forward_dev"] == pytest.approx(float(np.max(np.abs(res.forward - th))), rel=1e-10)
    # Theorem 5, first row (m = 16, L = 4): G_k = ∂g_k/∂x and F = ∂f/∂h_k with the gates frozen, by autograd
    dx, m, L = res.spec_rows[0][:3]
    net = gt.GReLUNet(gt.GatedConfig(d_x=dx, d_y=4, m=m, L=L, seeds=E._seed_list(ctx, 1, "thm5", m, L)))
    Xe = ctx.randn(4, dx, keys=("thm5", "x"))
    Xe = Xe / Xe.norm(dim=1, keepdim=True)
    Ms = [mm[0].to(F64) for mm in net.gate_masks(Xe)]
    C, W, B = net.C[0], net.W[0], net.B[0]
    eg, ef = [], []
    for i in range(4):
        for k in range(L):
            def g_k(x, k=k, i=i):
                g = Ms[0][i] * (C @ x)
                for j in range(k):
                    g = Ms[j + 1][i] * (W[j] @ g)
                return g
            eg.append(torch.linalg.svdvals(torch.autograd.functional.jacobian(g_k, Xe[i])) ** 2)
        for k in range(1, L + 1):
            def f_k(h, k=k, i=i):
                g = Ms[k][i] * h
                for j in range(k, L):
                    g = Ms[j + 1][i] * (W[j] @ g)
                return B @ g
            ef.append(torch.linalg.svdvals(torch.autograd.functional.jacobian(f_k, torch.zeros(m, dtype=F64))) ** 2)
    eg, ef = torch.cat(eg) / (m / dx), torch.cat(ef) / (m / 4)
    assert res.spec_rows[0][3:] == pytest.approx((float(eg.min()), float(eg.max()), float(ef.min()), float(ef.max())),
                                                 rel=1e-8, abs=1e-12)


def test_conditioning_condition_numbers_and_gd_steps_against_numpy_and_direct_iteration(ctx):
    cfg = E.ConditioningConfig.for_profile("smoke", n_cond=8, depths=(1, 3), ns=(4, 8))
    res = E.conditioning(cfg, ctx)
    # tolerance 1e-6: a diagonal cosine 1 − δ (δ ~ 1e-16 round-off) moves arccos by √(2δ) ~ 1e-8

    def gram(n, L, a):
        X = ctx.randn(n, 2 * n, keys=("cond", n)).numpy()
        X = X / np.linalg.norm(X, axis=1, keepdims=True)
        return _closed(X @ X.T, L, a)

    for a in E.ARCHES:
        for L, c in zip(cfg.depths, res.cond_L[a]):
            ev = np.linalg.eigvalsh(gram(8, L, a))
            assert c == pytest.approx(ev[-1] / ev[0], rel=1e-6)
        for n, c, T in zip(cfg.ns, res.cond_n[a], res.T_n[a]):
            K = gram(n, math.ceil(math.log2(n)) + 2, a)
            ev, V = np.linalg.eigh(K)
            assert c == pytest.approx(ev[-1] / ev[0], rel=1e-6)
            r, t = V[:, 0].copy(), 0                      # the worst direction, GD with η = 1/λ_max
            while r @ r > 1e-6:
                r, t = r - K @ r / ev[-1], t + 1
            assert abs(T - t) <= 1                        # ⌈·⌉ at a boundary may differ by one step
    assert res.metrics["ratio_relu"] == pytest.approx(res.T_n["relu"][-1] / res.T_n["relu"][0])


# ---------------------------------------------------------------- 01: architecture
def test_architecture_gate_densities_table_size_and_born_dead_against_hand_counts(ctx):
    cfg = E.ArchConfig.for_profile("smoke", m=512, L=2, n=64, d_x=8, seeds=1, dead_m=64, dead_L=3, train_steps=2)
    res = E.architecture(cfg, ctx)
    X = ctx.randn(64, 8, keys=("arch", "x"))
    X = X / X.norm(dim=1, keepdim=True)
    g, r = gt.make_pair(gt.GatedConfig(d_x=8, d_y=1, m=512, L=2, seeds=E._seed_list(ctx, 1, "arch")))
    D = _chain_gates(g.C[0], g.Psi[0], X)
    np.testing.assert_allclose(res.density_grelu, [Dk.mean() for Dk in D], rtol=1e-12)
    pre = X.numpy() @ r.C[0].numpy().T
    h, dr = np.maximum(pre, 0), [(pre > 0).mean()]
    for Wk in r.W[0].numpy():
        pre = h @ Wk.T
        dr.append((pre > 0).mean())
        h = np.maximum(pre, 0)
    np.testing.assert_allclose(res.density_relu, dr, rtol=1e-12)
    # neurons are independent given the previous layer and each is open with probability exactly 1/2;
    # the n examples of one neuron are at worst fully correlated, so Var ≤ 1/(4m); 4 standard errors
    assert np.all(np.abs(res.density_grelu - 0.5) < 4 * 0.5 / math.sqrt(512))
    assert res.table_bytes == (2 + 1) * 1 * 64 * (512 // 32) * 4        # (L+1)·S·n·⌈m/32⌉ int32 words
    assert res.gates_same is True and res.churn > 0                     # gates never move, ReLU patterns do
    # an input-gated neuron is dead iff ψ·x ≤ 0 for all 64 rotation-invariant inputs: probability 2^-64
    assert res.dead["input"].max() == 0.0 and res.metrics["dead"]["dead_input_last"] == 0.0


# ---------------------------------------------------------------- 04: conversion, Table 2, augmented
def test_conversion_against_an_independent_lstsq_conversion_of_the_same_trained_net(ctx):
    cfg = E.ConversionConfig.for_profile("smoke", n=8, m=32, L=2, d=4, seeds=1, n_test=20, m_sweep=16,
                                         ratios=(0.5, 1.0, 3.0), steps=5)
    res = E.conversion(cfg, ctx)
    X, y = E.ackley(28, 4, ctx)
    Xtr, ytr, Xte, yte = X[:8], y[:8], X[8:], y[8:]
    g = gt.GReLUNet(gt.GatedConfig(d_x=4, d_y=1, m=32, L=2, seeds=E._seed_list(ctx, 1, "conversion"))).centered()
    gt.train(g, Xtr, ytr, eta=gt.eta_ntk(g, Xtr), steps=5, tol_rel=1e-6)
    G, _ = g.features(Xtr)
    C, B = g.C[0], g.B[0]
    A, Wt = (Xtr @ C.T).clamp_min(0), []
    for k in range(2):                                   # W̃_kᵀ = A_{k-1}^+ T_k, min-norm (gelsd)
        Wt.append(torch.linalg.lstsq(A, G[k + 1][0], driver="gelsd").solution)
        A = (A @ Wt[-1]).clamp_min(0)

    def relu_net(Z):
        h = (Z @ C.T).clamp_min(0) @ Wt[0]
        return (h.clamp_min(0) @ Wt[1]) @ B.T - g.center.forward(Z)[0]   # no ReLU after the last layer

    f_g = g.forward(Xtr)[0]
    # n = 8 < m = 32: the converted net reproduces the train outputs (Theorem 2 as corrected)
    assert float((relu_net(Xtr) - f_g).abs().max() / f_g.abs().max()) < 1e-9
    assert res.metrics["thm2"]["exact_err"] < 1e-9
    assert res.test_after[0] == pytest.approx(float((relu_net(Xte) - yte).square().mean()), rel=1e-7)
    assert res.test_before[0] == pytest.approx(float((g.forward(Xte)[0] - yte).square().mean()), rel=1e-10)
    # the sweep: exact below n = m, not above (n/m = 3: 48 rows cannot be matched by 16 features)
    assert res.err_sweep[0] < 1e-9 and res.err_sweep[-1] > 1e-3


def test_table2_one_layer_grelu_follows_kernel_gd_and_baselines_follow_lstsq(ctx):
    cfg = E.Table2Config.for_profile("smoke", n_train=10, n_test=12, archs=((1, 8),), steps=3)
    res = E.table2(cfg, ctx)
    X, Y, Xt, Yt, _, _, _ = E._images(10, 12, "tab2", ctx)
    g, r = gt.make_pair(gt.GatedConfig(d_x=X.shape[1], d_y=10, m=8, L=1, seeds=E._seed_list(ctx, 1, "tab2", 1, 8),
                                       dtype=torch.float32))
    lg, lr = _lmax0(g, X, 10), _lmax0(r, X, 10)
    assert res.rows[0]["lmax_ratio"] == pytest.approx(lr / lg, rel=1e-4)
    # f = B (D_1 ⊙ W_1 g_0) is linear in W_1 (gates frozen): full-batch GD on ½‖f − Y‖² is exactly kernel GD
    J = _jac(g, X)
    want = _kernel_gd_curve(J @ J.T, Y, 1.0 / max(lg, lr), 3)
    np.testing.assert_allclose(res.curves["grelu", 1, 8], want, rtol=1e-4)
    assert res.rows[0]["grelu"] == pytest.approx(want[-1], rel=1e-4)
    assert res.base["linear"] == pytest.approx(_lstsq_linear(X, Y, Xt, Yt), rel=1e-8)
    mean = float((Yt.double() - Y.double().mean(0)).square().sum(1).mean())
    assert res.base["mean"] == pytest.approx(mean, rel=1e-10)


def test_augmented_conversion_keeps_the_train_loss_is_deterministic_and_lstsq_baseline(ctx):
    cfg = E.AugConfig.for_profile("smoke", n_train=16, n_test=10, m=32, L=2, epochs=2, batch=8)
    res = E.augmented(cfg, ctx)
    # n_train = 16 ≤ m = 32: the midpoint conversion is exact in float64; the nets run in float32
    assert res.at_conversion["resid"] < 1e-9
    assert res.metrics["jump"] < 1e-4
    again = E.augmented(cfg, ctx)                                  # same seed → same numbers
    for k, v in res.hist.items():
        np.testing.assert_array_equal(v, again.hist[k])
        assert v.shape == (2,)
    X, Y, Xt, Yt, _, _, _ = E._images(16, 10, "aug", ctx)
    assert res.base["linear"] == pytest.approx(_lstsq_linear(X, Y, Xt, Yt), rel=1e-8)


# ---------------------------------------------------------------- 05: SGEMM
@pytest.fixture(scope="module")
def sgemm_cache():
    """Load the SGEMM stand-in once for both tests (the experiments and the references read the same split)."""
    cache, orig = {}, E._sgemm_data

    def cached(cfg, ctx):
        key = (cfg.n, cfg.n_val, cfg.sgemm_csv, str(ctx.device))
        if key not in cache:
            cache[key] = orig(cfg, ctx)
        return cache[key]

    mp = pytest.MonkeyPatch()
    mp.setattr(E, "_sgemm_data", cached)
    yield cached
    mp.undo()


def test_sgemm_sweep_one_layer_grelu_follows_kernel_gd(ctx, sgemm_cache):
    cfg = E.SgemmConfig.for_profile("smoke", n=64, n_val=16, m=8, L=1, batch=64, epochs=3, c_list=(1.0, 1.5))
    res = E.sgemm_sweep(cfg, ctx)
    (X, y, Xv, yv), _ = sgemm_cache(cfg, ctx)
    g, r = gt.make_pair(gt.GatedConfig(d_x=X.shape[1], d_y=1, m=8, L=1, seeds=E._seed_list(ctx, 1, "sgemm-net"),
                                       dtype=torch.float32))
    lg, lr = _lmax0(g, X), _lmax0(r, X)
    assert res.lam_ratio == pytest.approx(lr / lg, rel=1e-4)
    J, Jv = _jac(g, X), _jac(g, Xv)
    for i, c in enumerate(cfg.c_list):                 # batch = n: each epoch is one full-batch GD step
        np.testing.assert_allclose(res.mse["grelu"][:, i], _kernel_gd_curve(J @ J.T, y, c / lg, 3), rtol=1e-4)
        # the same run in parameter space (f = J (W − W_0) exactly): validation MSE and gradient differences
        w, prev, val, gd = torch.zeros(J.shape[1], dtype=F64), 0.0, [], []
        for _ in range(3):
            grad = J.T @ (J @ w - y.double()[:, 0])
            gd.append(float((grad - prev).norm()))
            w, prev = w - c / lg * grad, grad
            val.append(float((Jv @ w - yv.double()[:, 0]).square().mean()))
        np.testing.assert_allclose(res.val["grelu"][:, i], val, rtol=1e-4)
        np.testing.assert_allclose(res.grad_diff["grelu"][:, i], gd, rtol=1e-4)
    assert not res.diverged["grelu"].any()
    assert res.base["linear"] == pytest.approx(_lstsq_linear(X, y, Xv, yv), rel=1e-8)


def test_sgemm_grid_curves_step_and_rank_correlation(ctx, sgemm_cache):
    from scipy.stats import spearmanr

    cfg = E.SgemmConfig.for_profile("smoke", n=64, n_val=16, batch=64, epochs=3, grid=((1, 8), (2, 8), (3, 8)))
    res = E.sgemm_grid(cfg, ctx)
    (X, y, Xv, yv), _ = sgemm_cache(cfg, ctx)
    nets = [gt.GReLUNet(gt.GatedConfig(d_x=X.shape[1], d_y=1, m=m, L=L, seeds=E._seed_list(ctx, 1, "grid", L, m),
                                       dtype=torch.float32)) for L, m in cfg.grid]
    eta = 1.0 / _lmax0(nets[1], X)                     # one step for all: 1/λ_max of the middle net
    J = _jac(nets[0], X)
    np.testing.assert_allclose(res.curves[0], _kernel_gd_curve(J @ J.T, y, eta, 3), rtol=1e-4)
    for v in res.val:                                  # a centred net starts at f ≡ 0
        assert v[0] == pytest.approx(float(yv.double().square().mean()), rel=1e-6)
    ratio = [v[-1] / v[0] for v in res.val]
    assert res.metrics["rank_corr"] == pytest.approx(spearmanr([1, 2, 3], ratio)[0], abs=1e-12)


# ---------------------------------------------------------------- 06: FLOPs, low-rank gates
def test_flops_fractions_against_a_hand_count_of_the_gated_products(ctx):
    cfg = E.FlopsConfig.for_profile("smoke", L=2, block=16, ms=(64,), batches=(1, 2), n_gates=16, step_m=64,
                                    step_n=8, repeats=3)
    res = E.flops(cfg, ctx)
    net = gt.gating_net(gt.GatedConfig(d_x=64, d_y=1, m=64, L=2, seeds=E._seed_list(ctx, 1, "flops")))
    Xg = ctx.randn(16, 64, keys=("flops", "x"))
    D = _chain_gates(net.C[0], net.Psi[0], Xg / Xg.norm(dim=1, keepdim=True))
    # layer k computes |D_k| output rows of m (gated rows), over |D_{k-1}| nonzero inputs of m (both gated)
    out = np.mean([D[k].sum(1).mean() * 64 / 64 ** 2 for k in (1, 2)])
    both = np.mean([(D[k].sum(1) * D[k - 1].sum(1)).mean() / 64 ** 2 for k in (1, 2)])
    assert res.fractions["output"] == pytest.approx(out, rel=1e-12)
    assert res.fractions["both"] == pytest.approx(both, rel=1e-12)
    assert res.metrics["count"] == {"output": res.fractions["output"], "both": res.fractions["both"]}
    t = res.table
    assert set(t.variant[t.batch == 1]) == {"dense", "masked dense", "block-gated b=16 (torch)", "gather GEMV (torch)"}
    assert set(t.variant[t.batch == 2]) == {"dense", "masked dense", "block-gated b=16 (torch)"}
    assert np.all(t.speedup[t.variant == "dense"] == 1.0)
    assert set(res.step) == {"relu", "grelu (table)", "grelu (online)"}


def test_lowrank_gaussian_agreement_against_numpy_svd_and_frozen_patterns_keep_the_function(ctx):
    cfg = E.FlopsConfig.for_profile("smoke", L=2, lr_ms=(64,), lr_n=50, lr_steps=10, repeats=3)
    res = E.lowrank(cfg, ctx)
    P = (ctx.randn(64, 64, keys=("psi", 64)) * math.sqrt(2 / 64)).numpy()
    Z = ctx.randn(256, 64, keys=("z", 64)).clamp_min(0).numpy()
    U, s, Vh = np.linalg.svd(P)
    full = Z @ P.T > 0
    ranks = [4, 4, 8, 16, 32]                           # √m/2 and m/16, m/8, m/4, m/2 at m = 64
    assert [r for r, _ in res.gaussian[64]] == ranks
    for r, agree in res.gaussian[64]:
        want = np.mean((Z @ (U[:, :r] * s[:r] @ Vh[:r]).T > 0) == full)
        assert agree == pytest.approx(want, abs=2 / full.size)   # a sign at round-off distance may flip
    # Remark 4: the GReLU net with Ψ ← W of the trained ReLU net computes the same function
    assert res.trained["exact"] == pytest.approx(res.trained["relu"], rel=1e-10)
    assert res.trained["ranks"] == ranks
    assert res.metrics["inference"]["mse_ratio"] == pytest.approx(res.trained["mse"][0] / res.trained["exact"])
