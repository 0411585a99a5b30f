"""Unit tests for nbs_lib.unbalanced (paper 000): each property against an independent computation."""
import math

import numpy as np
import pandas as pd
import pytest
import torch

import nbs_lib as nl
from nbs_lib import unbalanced as ub

DT = torch.float64


def _gen(s=0):
    return torch.Generator().manual_seed(s)


def _tiny(seed=0, n=3, d=5, N=7, m=4, c1=2.0, c2=0.7):
    g = _gen(seed)
    X = ub.sphere(d, N, gen=g)
    Y = ub.sphere(n, N, gen=g)
    net = ub.init_unbalanced(n, d, m, c1, c2, gen=g)
    return X, Y, net, g


def _perturbed(net, g, scale=0.3):
    """A generic (non-mirrored) point: halves no longer cancel."""
    return ub.Net(net.V + scale * torch.randn(net.V.shape, generator=g, dtype=DT),
                  net.W + scale * torch.randn(net.W.shape, generator=g, dtype=DT))


def test_zero_initial_output_both_inits():
    g = _gen(1)
    X, Y = ub.sphere(20, 100, gen=g), ub.sphere(10, 100, gen=g)
    net = ub.init_unbalanced(10, 20, 1000, 10.0, 0.1, gen=g)
    F0 = ub.forward(net.V, net.W, X)
    assert F0.abs().max() < 1e-12
    assert abs(float(ub.loss(net.V, net.W, X, Y)) - 50.0) < 1e-10
    Yl = ub.lowrank_responses(50, 100, 3, gen=g)
    sk = ub.init_sketch(Yl, 20, 300, 10.0, 0.1, gen=g)
    assert ub.forward(sk.V, sk.W, X).abs().max() < 1e-10
    assert abs(float(ub.loss(sk.V, sk.W, X, Yl)) - 50.0) < 1e-9


def test_data_generators():
    g = _gen(2)
    X = ub.sphere(20, 30, gen=g, batch=(2,))
    assert X.shape == (2, 20, 30) and torch.allclose(X.norm(dim=-2), torch.ones(2, 30, dtype=DT))
    Y = ub.lowrank_responses(12, 40, 3, gen=g)
    st = ub.response_stats(Y)
    assert st["r"] == 3 and torch.allclose(Y.norm(dim=0), torch.ones(40, dtype=DT))
    assert torch.allclose(st["U"] @ (st["U"].T @ Y), Y, atol=1e-12)
    with pytest.raises(ValueError, match="r must"):
        ub.lowrank_responses(5, 10, 6, gen=g)


def test_bad_inputs_raise():
    g = _gen(0)
    with pytest.raises(ValueError, match="c1"):
        ub.init_unbalanced(3, 4, 5, -1.0, 1.0, gen=g)
    with pytest.raises(ValueError, match="m"):
        ub.init_unbalanced(3, 4, 0, 1.0, 1.0, gen=g)
    with pytest.raises(ValueError, match="mu"):
        ub.step_params(1.0, 0.0)
    with pytest.raises(ValueError, match="method"):
        ub.extreme_eigs(torch.eye(3), method="qr")
    X, Y, net, _ = _tiny(0)
    bnet = ub.Net(net.V[None], net.W[None])
    with pytest.raises(ValueError, match="eta"):
        ub.train(bnet, X, Y, eta=-1.0, steps=3)
    with pytest.raises(ValueError, match="beta"):
        ub.train(bnet, X, Y, eta=0.1, beta=1.0, steps=3)
    with pytest.raises(ValueError, match="shapes"):
        ub.train(bnet, X, Y[:2], eta=0.1, steps=3)


def test_grads_match_autograd():
    X, Y, net, g = _tiny(3)
    V, W = _perturbed(net, g).V, _perturbed(net, g).W
    gV, gW, L, _ = ub.grads(V, W, X, Y)
    aV, aW = ub.grads_autograd(V, W, X, Y)
    assert torch.allclose(gV, aV, rtol=1e-12, atol=1e-12)
    assert torch.allclose(gW, aW, rtol=1e-12, atol=1e-12)


def test_grads_match_finite_differences():
    X, Y, net, g = _tiny(4)
    p = _perturbed(net, g)
    gV, gW, _, _ = ub.grads(p.V, p.W, X, Y)
    D = torch.randn(p.W.shape, generator=g, dtype=DT)
    h = 1e-6
    fd = (ub.loss(p.V, p.W + h * D, X, Y) - ub.loss(p.V, p.W - h * D, X, Y)) / (2 * h)
    assert abs(float(fd) - float((gW * D).sum())) < 1e-6 * max(1.0, abs(float(fd)))


def _autograd_kernels(V, W, X):
    def f(params, x):
        return params["V"] @ torch.relu(params["W"].T @ x)

    Xr = X.T.contiguous()
    H = nl.empirical_ntk(f, {"V": V, "W": W}, Xr)
    # K alone: Jacobian wrt W only (V held fixed through a closure); G alone: wrt V only
    K = nl.empirical_ntk(lambda p, x: V @ torch.relu(p["W"].T @ x), {"W": W}, Xr)
    G = nl.empirical_ntk(lambda p, x: p["V"] @ torch.relu(W.T @ x), {"V": V}, Xr)
    return K, G, H


def test_kernels_match_autograd_ntk():
    X, Y, net, g = _tiny(5)
    p = _perturbed(net, g)
    K, G, H = _autograd_kernels(p.V, p.W, X)
    assert torch.allclose(ub.ntk_hidden(p.V, p.W, X, chunk=3), K, rtol=1e-10, atol=1e-10)
    assert torch.allclose(ub.ck_kernel(p.W, X, 3), G, rtol=1e-10, atol=1e-10)
    assert torch.allclose(ub.full_kernel(p.V, p.W, X), H, rtol=1e-10, atol=1e-10)
    # the literal Kronecker loop of the paper's definition K = Σ_i B_iᵀ ⊗ A_i
    assert torch.allclose(ub.ntk_hidden_loop(p.V, p.W, X), K, rtol=1e-10, atol=1e-10)


def test_mirrored_build_and_matvecs():
    X, Y, net, g = _tiny(6, m=9)
    K = ub.ntk_hidden(net.V, net.W, X)
    assert torch.allclose(ub.ntk_hidden(net.V, net.W, X, mirrored=True), K, rtol=1e-12, atol=1e-12)
    R = torch.randn(3, 7, generator=g, dtype=DT)
    assert torch.allclose(ub.vec(ub.ntk_matvec(net.V, net.W, X, R)), K @ ub.vec(R), rtol=1e-10, atol=1e-10)
    G = ub.ck_kernel(net.W, X, 3)
    assert torch.allclose(ub.vec(ub.ck_matvec(net.W, X, R)), G @ ub.vec(R), rtol=1e-10, atol=1e-10)
    assert torch.equal(ub.unvec(ub.vec(R), 3, 7), R)
    # the residual of a linearised step: vec(R_{t+1} - R_t) ≈ -η H vec(R_t) (Gauss–Newton identity)
    V, W = _perturbed(net, g).V, _perturbed(net, g).W
    gV, gW, _, R0 = ub.grads(V, W, X, Y)
    eta = 1e-6
    R1 = ub.residual(V - eta * gV, W - eta * gW, X, Y)
    H = ub.full_kernel(V, W, X)
    pred = -eta * (H @ ub.vec(R0))
    assert torch.allclose(ub.vec(R1 - R0), pred, rtol=1e-4, atol=1e-12)


def test_limiting_kernels_vs_monte_carlo():
    g = _gen(7)
    X = ub.sphere(6, 12, gen=g)
    kb, gb = ub.kbar(X), ub.gbar(X)
    assert torch.allclose(torch.diagonal(kb), torch.full((12,), 0.5, dtype=DT))
    assert torch.allclose(torch.diagonal(gb), torch.full((12,), 0.5, dtype=DT))
    # Monte Carlo standard error is ≤ 0.5/√n; 2e5 samples -> 1.1e-3; allow 5 sd
    n = 200_000
    assert (ub.kbar_mc(X, n, gen=g) - kb).abs().max() < 5 * 0.5 / math.sqrt(n) * 2
    assert (ub.gbar_mc(X, n, gen=g) - gb).abs().max() < 5 * 1.0 / math.sqrt(n) * 2


def test_expected_kernel_at_init():
    """E[K0] = 2mc1²(K̄⊗I_n), E[G0] = 2mc2²(Ḡ⊗I_n) (App. C.2): averaged over a wide init."""
    g = _gen(8)
    X = ub.sphere(5, 6, gen=g)
    n, m, c1, c2 = 2, 40000, 1.5, 0.5
    net = ub.init_unbalanced(n, 5, m, c1, c2, gen=g)
    K = ub.ntk_hidden(net.V, net.W, X, mirrored=True) / (2 * m * c1**2)
    G = ub.ck_kernel(net.W, X, n) / (2 * m * c2**2)
    I = torch.eye(n, dtype=DT)
    assert (K - torch.kron(ub.kbar(X), I)).abs().max() < 0.03
    assert (G - torch.kron(ub.gbar(X), I)).abs().max() < 0.03


def test_restricted_kernel_spectrum_matches_full():
    g = _gen(9)
    d, n, N, r, m = 8, 9, 10, 2, 60
    X = ub.sphere(d, N, gen=g)
    Y = ub.lowrank_responses(n, N, r, gen=g)
    net = ub.init_sketch(Y, d, m, 3.0, 0.2, gen=g)
    U = ub.response_stats(Y)["U"]
    K = ub.ntk_hidden(net.V, net.W, X)
    Kr = ub.restricted_ntk(net.V, net.W, X, U)
    ev = torch.linalg.eigvalsh(K)
    evr = torch.linalg.eigvalsh(Kr)
    nz = ev[ev > 1e-10 * ev[-1]]
    assert nz.numel() == N * r                 # rank K0 = Nr (Lemma 4.4), m·d ≥ N·r here
    assert torch.allclose(nz, evr, rtol=1e-9, atol=1e-9 * float(ev[-1]))
    P = torch.kron(torch.eye(N, dtype=DT), U.contiguous())  # I_N ⊗ U in our vec ordering
    assert torch.allclose(P.T @ K @ P, Kr, rtol=1e-10, atol=1e-8)
    lmax, lmin = ub.extreme_eigs(K, positive_rtol=1e-10)
    assert abs(float(lmin) - float(evr[0])) < 1e-8 * float(evr[-1])


def test_lanczos_matches_dense():
    X, Y, net, g = _tiny(10, n=4, d=6, N=15, m=40)
    K = ub.ntk_hidden(net.V, net.W, X)
    lmax, lmin = ub.extreme_eigs(K)
    mv = lambda x: ub.vec(ub.ntk_matvec(net.V, net.W, X, ub.unvec(x, 4, 15)))  # noqa: E731
    a, b = ub.extreme_eigs(matvec=mv, dim=60, method="lanczos")
    assert abs(a - float(lmax)) < 1e-8 * float(lmax) and abs(b - float(lmin)) < 1e-6 * float(lmax)


def test_nag_rate_matches_spectral_radius_on_linear_model():
    """On a quadratic ½‖Aθ − b‖² (a linear model) NAG's rate is the spectral radius of T_NAG (Lemma 3.8)."""
    g = _gen(11)
    A = torch.randn(30, 30, generator=g, dtype=DT)
    Kmat = A @ A.T / 30 + 0.05 * torch.eye(30, dtype=DT)
    ev = torch.linalg.eigvalsh(Kmat)
    L, mu = float(ev[-1]), float(ev[0])
    eta, beta = ub.step_params(L, mu)
    eta, beta = float(eta), float(beta)
    Ksq = torch.linalg.cholesky(Kmat)
    b = torch.randn(1, 30, generator=g, dtype=DT)

    def lg(p):
        (th,) = p
        r = th @ Ksq - b           # residual in the output space, kernel Ksqᵀ Ksq ~ spectrum of K
        return 0.5 * (r ** 2).sum(-1), (r @ Ksq.T,)

    res = nl.nag(lg, (torch.zeros(1, 30, dtype=DT),), eta=eta, beta=beta, steps=400, first_step="gd")
    ev2 = torch.linalg.eigvalsh(Ksq.T @ Ksq).numpy()
    rho = ub.rho_nag(ev2, eta, beta)
    assert abs(rho - (1 - math.sqrt(mu / L))) < 1e-6   # Lemma 3.8 (spectral radius)
    loss = res.losses[:, 0]
    fit = nl.fit_linear_rate(loss, lo=1e-24, hi=1e-6)
    # loss ~ t² ρ^{2t} (Jordan block at µ): the per-step rate over the window is within 3 % of ρ²
    assert abs(fit.rate / rho**2 - 1) < 0.03
    # the operator norm of T_NAG exceeds 1 (erratum E3), while its spectral radius equals ρ
    T = ub.t_nag_matrix(Kmat, eta, beta)
    assert float(torch.linalg.matrix_norm(T, 2)) > 1.0
    assert abs(float(torch.linalg.eigvals(T).abs().max()) - rho) < 1e-5
    nr = ub.t_nag_norms(ev.numpy(), eta, beta, powers=3)
    assert abs(nr["op_norm"] - float(torch.linalg.matrix_norm(T, 2))) < 1e-10
    assert abs(nr["spectral_radius"] - rho) < 1e-6
    assert abs(nr["power_norms"][2] - float(torch.linalg.matrix_norm(T @ T @ T, 2))) < 1e-10


def test_gd_identity_lemma38():
    ev = np.array([0.3, 1.0, 2.0, 5.0])
    assert abs(ub.rho_gd(ev, 1 / 5.0) - (1 - 0.3 / 5.0)) < 1e-15


def test_paper_nag_first_step_is_gd_and_beta0_is_gd():
    X, Y, net, g = _tiny(12)
    Vb, Wb = net.V[None], net.W[None]
    gV, gW, _, _ = ub.grads(net.V, net.W, X, Y)
    res = ub.train(ub.Net(Vb, Wb), X, Y, eta=0.05, beta=0.7, steps=1)
    assert torch.allclose(res.net.V[0], net.V - 0.05 * gV) and torch.allclose(res.net.W[0], net.W - 0.05 * gW)
    r0 = ub.train(ub.Net(Vb, Wb), X, Y, eta=0.05, beta=0.0, steps=5)
    r1 = nl.gd(lambda p: (lambda o: (o[2], (o[0], o[1])))(ub.grads(p[0], p[1], X, Y)), (Vb, Wb), eta=0.05, steps=5)
    assert np.allclose(r0.losses, r1.losses, rtol=1e-13)


def test_linear_model_tracks_lazy_training():
    """Prop. 3.7: with c1c2 large (lazy) the residual follows the linear system driven by H0."""
    g = _gen(13)
    d, n, N, m = 10, 3, 20, 400
    X, Y = ub.sphere(d, N, gen=g), ub.sphere(n, N, gen=g)
    net = ub.init_unbalanced(n, d, m, 30.0, 1.0, gen=g, batch=(1,))
    H = ub.full_kernel(net.V, net.W, X, mirrored=True)
    L, mu = ub.extreme_eigs(H)
    eta, beta = ub.step_params(L, mu)
    res = ub.train(net, X, Y, eta=eta, beta=beta, steps=30, keep_residuals=True)
    lin = ub.linear_model(H, ub.vec(-Y)[None], eta, beta, 30)
    act = torch.stack(res.trace.residuals)
    dev = float((act - lin).norm(dim=-1).max() / Y.norm())
    assert dev < 0.02


def test_sketch_training_stays_in_subspace_and_padding_is_exact():
    g = _gen(14)
    d, n, N, r, m = 8, 12, 20, 2, 50
    X = ub.sphere(d, N, gen=g)
    Y = ub.lowrank_responses(n, N, r, gen=g)
    U = ub.response_stats(Y)["U"]
    net = ub.init_sketch(Y[None], d, m, 3.0, 0.3, gen=g)
    Kr = ub.restricted_ntk(net.V, net.W, X, U, mirrored=True)
    L, mu = ub.extreme_eigs(Kr)
    eta, beta = ub.step_params(L, mu)
    res = ub.train(net, X, Y, eta=eta, beta=beta, steps=40, U=U)
    assert max(float(o.max()) for o in res.trace.off_subspace) < 1e-12
    pad = ub.pad_neurons(net, 2 * m + 30)
    res2 = ub.train(pad, X, Y, eta=eta, beta=beta, steps=40)
    assert np.allclose(res.losses, res2.losses, rtol=1e-10, atol=1e-14)
    # compressed training: train on (UᵀV, UᵀY); identical losses (col(V_t), col(R_t) ⊆ col(Y))
    res3 = ub.train(ub.Net(U.T @ net.V, net.W), X, U.T @ Y, eta=eta, beta=beta, steps=40)
    assert np.allclose(res.losses, res3.losses, rtol=1e-8, atol=1e-14)


def test_divergence_is_masked_per_run_and_names_the_knobs():
    """A diverging run is frozen (NaN losses from then on); the stable run in the same batch is untouched."""
    X, Y, net, g = _tiny(15)
    both = ub.Net(torch.stack([net.V, net.V]), torch.stack([net.W, net.W]))
    L = float(ub.extreme_eigs(ub.full_kernel(net.V, net.W, X))[0])
    eta = torch.tensor([1e3, 0.5 / L], dtype=torch.float64)
    res = ub.train(both, X, Y, eta=eta, beta=0.0, steps=60, knobs="c1 and c2")
    alone = ub.train(ub.Net(net.V[None], net.W[None]), X, Y, eta=0.5 / L, beta=0.0, steps=60)
    assert res.diverged and "c1 and c2" in res.message and res.message.startswith("GD")
    assert res.diverged_runs.tolist() == [True, False]
    assert np.isnan(res.losses[-1, 0])
    assert np.array_equal(res.losses[:, 1], alone.losses[:, 0])


def test_track_radii_and_flips_recomputed_from_the_final_net():
    """track=True after one GD step: R1, R2 are the largest column movements and the flips are J1 != J0."""
    X, Y, net, g = _tiny(21)
    net = ub.Net(net.V[None], net.W[None])
    L = float(ub.extreme_eigs(ub.full_kernel(net.V[0], net.W[0], X))[0])
    res = ub.train(net, X, Y, eta=50.0 / L, beta=0.0, steps=1, track=True)
    V1, W1 = res.net.V, res.net.W
    gV, gW, _, _ = ub.grads(net.V, net.W, X, Y)
    assert torch.allclose(W1, net.W - 50.0 / L * gW)
    r1 = max(float(torch.sqrt(((V1[0, :, i] - net.V[0, :, i]) ** 2).sum())) for i in range(V1.shape[-1]))
    r2 = max(float(torch.sqrt(((W1[0, :, i] - net.W[0, :, i]) ** 2).sum())) for i in range(W1.shape[-1]))
    assert abs(float(res.trace.R1[0]) - r1) <= 1e-12 * r1 and abs(float(res.trace.R2[0]) - r2) <= 1e-12 * r2
    flips = (W1[0].T @ X >= 0) != (net.W[0].T @ X >= 0)
    assert flips.any() and torch.equal(res.trace.flipped[0], flips)


def test_table1_and_guardrails():
    t = ub.width_table(100, 10, 0.109, 24.5)
    row = t[(t.algorithm == "NAG (paper, Thm 3.2)") & (t.output == "vector")].iloc[0]
    assert abs(row.width - 100 * 10 / 0.109) < 1e-9
    assert ub.check_guardrails(m=10, d=20, N=100, n=10)          # m·d < Nn
    assert not ub.check_guardrails(m=1000, d=20, N=100, n=10, L_K=1.0, L_H=1.5)
    assert ub.check_guardrails(m=1000, d=20, N=100, n=10, L_K=1.0, L_H=2.5)


def test_regime_sweep_follows_linear_system_when_lazy():
    """Figs 3–4 protocol: at large c1c2 the loss after T steps matches the linear system driven by H0."""
    g = _gen(16)
    df = ub.regime_sweep(15, 3, 8, 45, [100.0], [0.1, 10.0], T=20, trials=1, gen=g)
    assert not df.diverged.any()
    rel = np.abs(np.log(df.loss_T / df.loss_lin))
    assert (rel < 0.05 * np.abs(np.log(df.loss_lin))).all()      # log-losses agree to 5 %
    assert df.kappa_H.iloc[0] > df.kappa_H.iloc[1]                 # CK side worse conditioned


# ------------------------------------------------------------------------------------------------ experiments
def _ctx(profile="smoke"):
    return nl.run_context(profile, "cpu", 0, threads=1, announce=False)  # small GEMMs: one thread is fastest


def test_fig1_experiment_matches_unbatched_runs_and_dense_t_nag():
    """fig1 at smoke: each batched trial equals an unbatched run from the same draw; Lemma 3.8's spectral radius
    from the 2 × 2 blocks equals the eigenvalues of the dense T_NAG; the rate table is the fitted slope."""
    E = ub.experiments
    cfg = E.Fig1Config.for_profile("smoke", trials=2, T=120)
    ctx = _ctx()
    res = E.fig1(cfg, ctx)
    X, Y, net = ub.draw_problem(2, cfg.N, cfg.n, cfg.d, cfg.m, cfg.c1, cfg.c2, gen=ctx.generator("fig1"))
    K0 = ub.ntk_hidden(net.V[1], net.W[1], X[1])
    ev = torch.linalg.eigvalsh(K0)
    eta, beta = ub.step_params(ev[-1], ev[0])
    one = ub.train(ub.Net(net.V[1:], net.W[1:]), X[1], Y[1], eta=float(eta), beta=float(beta), steps=cfg.T)
    # the same iteration up to round-off: the residual agrees to ~eps·‖Y‖, so the loss to ~1e-13·L0
    assert np.allclose(one.losses[:, 0], res.nag[: one.losses.shape[0], 1], rtol=1e-6, atol=1e-12 * one.losses[0, 0])
    T = ub.t_nag_matrix(K0, float(eta), float(beta))
    rho = float(torch.linalg.eigvals(T).abs().max())
    assert abs(rho - (1 - 1 / math.sqrt(res.kappa[1]))) < 1e-6
    assert res.op_norm[1] >= 1.0 - 1e-12 and abs(res.op_norm[1] - float(torch.linalg.matrix_norm(T, 2))) < 1e-8
    rel = res.nag[:, 0] / res.nag[0, 0]
    keep = (rel >= 1e-9) & (rel <= 1e-3)
    slope = np.polyfit(np.nonzero(keep)[0], np.log(rel[keep]), 1)[0]
    assert abs(np.exp(slope) - res.rates.nag_fit[0]) < 1e-10


def test_fig1_config_rejects_bad_sizes_before_work():
    E = ub.experiments
    with pytest.raises(ValueError, match="c1"):
        E.Fig1Config.for_profile("smoke", c1=0.0)
    with pytest.raises(ValueError, match="trials"):
        E.Fig1Config.for_profile("smoke", trials=1000)
    with pytest.raises(ValueError, match=r"N·n"):
        E.Fig1Config.for_profile("smoke", N=1000, n=200)
    with pytest.raises(ValueError, match="unknown"):
        E.Fig1Config.for_profile("smoke", widht=3)


def test_mean_ci_is_the_t_interval():
    from scipy import stats
    x = np.array([1.0, 2.0, 4.0])
    m, (lo, hi) = ub.experiments.mean_ci(x)
    h = stats.t.ppf(0.975, 2) * x.std(ddof=1) / np.sqrt(3)
    assert m == pytest.approx(7 / 3) and lo == pytest.approx(7 / 3 - h) and hi == pytest.approx(7 / 3 + h)
    assert ub.experiments.mean_ci([3.0])[1] == (-1e300, 1e300)


def test_setting_experiment_radii_and_table1_against_direct_computations():
    E = ub.experiments
    cfg = E.SettingConfig.for_profile("smoke", mc_samples=2000, n_list=(1, 3))
    res = E.setting(cfg, _ctx())
    g = _ctx().generator("setting")
    X = ub.sphere(cfg.d, cfg.N, gen=g)
    Gb = ub.gbar(X)
    ev = np.linalg.eigvalsh(Gb.numpy())
    row = res.table1[res.table1.algorithm == "GD (Nguyen 2021)"].iloc[0]
    assert row.regime == "RF" and row.rate == pytest.approx(ev[-1] / ev[0], rel=1e-8)
    assert set(res.table1.regime) == {"NTK", "RF"}
    # Lemma 3.5's bounds by hand for one row
    r = res.radii.iloc[-1]
    assert r.RV_hi == pytest.approx(cfg.c1 * (math.sqrt(r.n) + 2 * math.sqrt(math.log(r.m))))
    assert r.RW_lo == pytest.approx(0.5 * cfg.c2 * math.sqrt(cfg.d))
    assert len(res.radii) == cfg.trials * (1 + len(cfg.n_list))
    # λ, κ from an independent eigensolver on the closed form
    ek = np.linalg.eigvalsh(ub.kbar(X).numpy())
    assert res.lam == pytest.approx(ek[0], rel=1e-10) and res.kappa_bar == pytest.approx(ek[-1] / ek[0], rel=1e-10)


def test_radii_rows_are_largest_column_norms():
    g = _gen(31)
    net = ub.init_unbalanced(3, 4, 6, 2.0, 0.5, gen=g, batch=(2,))
    rows = ub.experiments._radii_rows(net, 2.0, 0.5, 6, 3, 4, "x")
    for b, row in enumerate(rows):
        rv = max(math.sqrt(sum(float(net.V[b, l, i]) ** 2 for l in range(3))) for i in range(12))
        rw = max(math.sqrt(sum(float(net.W[b, l, i]) ** 2 for l in range(4))) for i in range(12))
        assert row["RV"] == pytest.approx(rv, rel=1e-12) and row["RW"] == pytest.approx(rw, rel=1e-12)


def test_remark34_lambda_delta_and_exponent():
    E = ub.experiments
    cfg = E.Remark34Config.for_profile("smoke", Ns=(10, 20, 40), ds=(3,), trials=2)
    res = E.remark34(cfg, _ctx())
    X = ub.sphere(3, 20, gen=_ctx().generator("remark34", 3, 20), batch=(2,))
    x = X[1].numpy()
    lam = np.linalg.eigvalsh(ub.kbar(X[1]).numpy())[0]
    delta = min(min(np.linalg.norm(x[:, i] - x[:, j]), np.linalg.norm(x[:, i] + x[:, j]))
                for i in range(20) for j in range(20) if i != j)
    row = res.grid[(res.grid.N == 20) & (res.grid.trial == 1)].iloc[0]
    assert row.lam == pytest.approx(lam, rel=1e-10) and row.delta == pytest.approx(delta, rel=1e-7)
    sub = res.grid[res.grid.trial == 0]
    a0 = np.polyfit(np.log(sub.N), np.log(sub.lam), 1)[0]
    a1 = np.polyfit(np.log(res.grid[res.grid.trial == 1].N), np.log(res.grid[res.grid.trial == 1].lam), 1)[0]
    assert res.exponents.a[0] == pytest.approx((a0 + a1) / 2)
    assert not res.exponents.graded[0]  # log 40 > 3


def test_fig2_experiment_against_a_dense_uncompressed_run():
    """fig2 at a tiny size: the compressed, padded, batched run of one trial equals a dense run of that trial's own
    net in the full coordinates; Lemma 4.2's σ_r(V0) and Lemma 4.3's ratios recomputed from that net."""
    E = ub.experiments
    cfg = E.Fig2Config.for_profile("smoke", d=8, N=20, n=10, ranks=(2,), alphas=(2.0,), trials=2, max_iter=2000)
    ctx = _ctx()
    res = E.fig2(cfg, ctx)
    gen = ctx.generator("fig2", 2)
    X = ub.sphere(8, 20, gen=gen, batch=(2,))
    Y = ub.lowrank_responses(10, 20, 2, gen=gen, batch=(2,))
    st = [ub.response_stats(Y[b]) for b in range(2)]
    ms = [int(round(2.0 * 20 * 2 * s["kappa_r"] ** 2)) for s in st]
    gen = ctx.generator("fig2", 2, 2.0)  # the init stream of the grid point (r, α) = (2, 2.0)
    nets = [ub.init_sketch(Y[b], 8, ms[b], 10.0, 0.1, gen=gen) for b in range(2)]
    b, net = 1, nets[1]
    K = ub.ntk_hidden(net.V, net.W, X[b])
    ev = np.linalg.eigvalsh(K.numpy())
    pos = ev[ev > 1e-10 * ev[-1]]
    row = res.runs.iloc[b]
    assert row.m == ms[b] and row.L == pytest.approx(pos[-1], rel=1e-9) and row.mu == pytest.approx(pos[0], rel=1e-7)
    eta, beta = ub.step_params(pos[-1], pos[0])
    dense = ub.train(ub.Net(net.V[None], net.W[None]), X[b], Y[b], eta=float(eta), beta=float(beta), steps=2000,
                     tol=cfg.tol)
    assert row.iters == dense.hit[0]
    sv = np.linalg.svd(net.V.numpy(), compute_uv=False)[1]
    assert row.sv_r == pytest.approx(sv, rel=1e-9)
    sr = float(st[b]["sigma"][-1])
    lam = np.linalg.eigvalsh(ub.kbar(X[b]).numpy())[0]
    assert row.mu_bound == pytest.approx(pos[0] / (0.5 * 100.0 * ms[b] * lam * sr ** 2), rel=1e-7)


def test_fig2_sweep_merge_does_not_depend_on_item_order_or_chunking():
    """fig2 through sweep.map: the points run in reverse order, or in two chunks, merge to the same numbers."""
    E = ub.experiments
    cfg = E.Fig2Config.for_profile("smoke", d=8, N=10, n=4, ranks=(1, 2), alphas=(1.0, 4.0), trials=2,
                                   tol=1e-3, max_iter=200)
    ctx = _ctx()
    ref = E.fig2(cfg, ctx)
    items = [(cfg, r, a) for r in cfg.ranks for a in cfg.alphas]
    rev = E.fig2_merge(cfg, [E.fig2_point(it, ctx) for it in reversed(items)])
    chunks = [[E.fig2_point(it, ctx) for it in items[k::2]] for k in (1, 0)]  # odd items first, then even
    split = E.fig2_merge(cfg, [p for c in chunks for p in c])
    assert len(ref.runs) == 2 * 2 * 2 and ref.runs.iters.notna().all()
    for other in (rev, split):
        pd.testing.assert_frame_equal(ref.runs, other.runs, check_exact=True)
        pd.testing.assert_frame_equal(ref.table, other.table, check_exact=True)
    # different points draw different inits: the two α of one rank share the data, not the network
    r1 = ref.runs[(ref.runs.r == 1) & (ref.runs.trial == 0)]
    assert r1.kappa_r.nunique() == 1 and r1.RW.nunique() == 2


def test_subspace_experiment_counts_rank_nr():
    E = ub.experiments
    out = E.subspace(E.SubspaceConfig.for_profile("smoke", steps=20), _ctx())
    assert out["rank_V0"] == 2 and out["rank_K0"] == out["Nr"] == 60
    assert out["spec_err"] < 1e-8 and out["off_subspace"] < 1e-10


def test_fig34_rows_match_a_direct_run_of_one_point():
    """fig34: one (p, q) point equals a direct NAG run at c1 = √(pq), c2 = √(p/q) with the step from H0."""
    E = ub.experiments
    cfg = E.Fig34Config.for_profile("smoke", Ns=(12,), N_main=12, n=2, d=6, ps=(0.1, 1.0), qs=(0.1, 10.0), T=15)
    res = E.fig34(cfg, _ctx())
    g = _ctx().generator("fig34", 12)
    X, Y = ub.sphere(6, 12, gen=g), ub.sphere(2, 12, gen=g)
    unit = ub.init_unbalanced(2, 6, 24, 1.0, 1.0, gen=g)
    p, q = 0.1, 10.0
    net = ub.Net((math.sqrt(p * q) * unit.V)[None], (math.sqrt(p / q) * unit.W)[None])
    ev = np.linalg.eigvalsh(ub.full_kernel(net.V[0], net.W[0], X).numpy())
    eta, beta = ub.step_params(ev[-1], ev[0])
    run = ub.train(net, X, Y, eta=float(eta), beta=float(beta), steps=15)
    row = res.runs[(res.runs.p == p) & (res.runs.q == q)].iloc[0]
    assert row.loss_T == pytest.approx(run.losses[-1, 0], rel=1e-6)
    assert row.kappa_H == pytest.approx(ev[-1] / ev[0], rel=1e-8)
    relW = float((run.net.W - net.W).norm() / net.W.norm())
    assert row.relW == pytest.approx(relW, rel=1e-8)


def test_width_sweep_and_laziness_experiments_at_smoke():
    E = ub.experiments
    ws = E.width_sweep(E.WidthSweepConfig.for_profile("smoke", Ns=(20,), mults=(0.05, 1.0)), _ctx())
    assert bool(ws.singular.iloc[0]) and not bool(ws.singular.iloc[1])   # md = Nn/2 < Nn: rank ≤ md
    assert ws.iters.iloc[1] > 0
    thr = E.width_thresholds(pd.DataFrame(dict(N=[1, 1, 1, 1], mult=[0.1, 0.2, 0.5, 1.0],
                                               iters=[100.0, 20.0, 30.0, 25.0])))
    assert thr == {1: 0.2}  # 30 ≤ 1.3·25 from 0.2 on; 100 is not
    lz = E.laziness(E.LazinessConfig.for_profile("smoke", ps=(1.0,), steps=60), _ctx())
    assert lz.attrs["rhs6"] == pytest.approx(math.sqrt(40 * 5) / lz.attrs["lam"])


def test_benchmarks_experiment_agrees_and_times_every_method():
    E = ub.experiments
    res = E.benchmarks(E.BenchConfig.for_profile("smoke"), _ctx())
    assert max(res.errors.values()) < 1e-8
    assert set(res.table.task) == {"K0 build", "(L, µ) sketch init", "GD steps, sketch init", "λ_max, λ_min of K0"}
    assert (res.table["median"] > 0).all() and (res.table.groupby(["task", "size"]).speedup.first() == 1).all()
