"""Tests of nbs_lib.population (paper 002): closed forms against independent computations.

References: nbs_lib.kernels.arccos_kernel (kernel), Monte Carlo (loss and gradient), central finite
differences (gradient), autograd (empirical gradient), the even/odd decomposition and the compact k = 2
form (loss), Theorem 1 and App. D.1 (saddles and their Hessian spectrum), the small-init linearisation
(phase times).
"""
import math

import numpy as np
import pytest
import torch

import nbs_lib as nl
from nbs_lib import population as pop

f64 = torch.float64


def _rand(k, r, d, seed, batch=()):
    g = torch.Generator().manual_seed(seed)
    V = torch.randn(*batch, k, r, generator=g, dtype=f64)
    W = torch.randn(*batch, k, d, generator=g, dtype=f64)
    A = torch.randn(r, d, generator=g, dtype=f64)
    return V, W, A


def test_kernel_matches_core_arccos_kernel():
    _, W, _ = _rand(5, 1, 9, 0)
    assert torch.allclose(pop.kernel_matrix(W), nl.arccos_kernel(W, degree=1), atol=1e-14, rtol=0)


def test_loss_matches_monte_carlo():
    V, W, A = _rand(4, 2, 7, 1)
    m, se = pop.pop_loss_mc(V, W, A, 400_000, generator=torch.Generator().manual_seed(5))
    assert abs(float(m - pop.pop_loss(V, W, A))) <= 4.5 * float(se)


def test_loss_alternative_forms_agree():
    V, W, A = _rand(4, 3, 6, 2, batch=(3,))
    assert torch.allclose(pop.pop_loss(V, W, A), pop.pop_loss_even_odd(V, W, A), rtol=1e-12, atol=1e-12)
    g = torch.Generator().manual_seed(3)
    a = torch.randn(6, generator=g, dtype=f64)
    V2 = torch.tensor([[0.7], [-1.3]], dtype=f64).expand(4, 2, 1).clone() * torch.rand(4, 1, 1, generator=g, dtype=f64).add(0.5)
    W2 = torch.randn(4, 2, 6, generator=g, dtype=f64)
    assert torch.allclose(pop.pop_loss(V2, W2, a), pop.pop_loss_k2_stable(V2, W2, a), rtol=1e-12, atol=1e-13)


@pytest.mark.parametrize("k,r,d", [(4, 2, 7), (2, 1, 5), (6, 3, 4)])
def test_gradient_matches_finite_differences(k, r, d):
    V, W, A = _rand(k, r, d, 10 + k)
    _, gV, gW = pop.pop_loss_grad(V, W, A)
    theta = torch.cat([V.reshape(-1), W.reshape(-1)])
    h = 1e-6
    E = torch.eye(theta.numel(), dtype=f64) * h
    pts = torch.cat([theta + E, theta - E])
    Ls = pop.pop_loss(pts[:, : k * r].reshape(-1, k, r), pts[:, k * r:].reshape(-1, k, d), A)
    P = theta.numel()
    fd = (Ls[:P] - Ls[P:]) / (2 * h)
    an = torch.cat([gV.reshape(-1), gW.reshape(-1)])
    assert float((fd - an).norm() / an.norm()) < 1e-7


def test_gradient_near_antipodal_and_parallel_is_finite_and_accurate():
    # θ within 1e-9 of 0 and of π: arccos-based autograd would return inf/NaN here; ours is finite and matches FD.
    g = torch.Generator().manual_seed(4)
    a = torch.randn(5, generator=g, dtype=f64)
    for sgn in (1.0, -1.0):
        W = torch.stack([a, sgn * 0.8 * a + 1e-9 * torch.randn(5, generator=g, dtype=f64)])
        V = torch.tensor([[0.9], [-1.1]], dtype=f64)
        _, gV, gW = pop.pop_loss_grad(V, W, a)
        assert torch.isfinite(gW).all() and torch.isfinite(gV).all()
        h = 1e-6
        for i in range(2):
            for j in range(5):
                Wp, Wm = W.clone(), W.clone()
                Wp[i, j] += h
                Wm[i, j] -= h
                fd = (pop.pop_loss(V, Wp, a) - pop.pop_loss(V, Wm, a)) / (2 * h)
                assert abs(float(fd - gW[i, j])) < 1e-7


def test_gradient_matches_monte_carlo():
    k, r, d = 3, 2, 4
    V, W, A = _rand(k, r, d, 20)
    _, gV, gW = pop.pop_loss_grad(V, W, A)
    n = 300_000
    X = torch.randn(n, d, generator=torch.Generator().manual_seed(21), dtype=f64)
    Z = X @ W.T
    R = torch.relu(Z) @ V - X @ A.T                                   # (n, r)
    per_V = torch.relu(Z)[:, :, None] * R[:, None, :]                 # (n, k, r)
    per_W = ((Z > 0) * (R @ V.T))[:, :, None] * X[:, None, :]         # (n, k, d)
    for per, an in ((per_V, gV), (per_W, gW)):
        mean, se = per.mean(0), per.std(0) / math.sqrt(n)
        assert bool(((mean - an).abs() <= 5 * se + 1e-12).all())


def test_homogeneity_identity_13():
    V, W, A = _rand(5, 2, 6, 30)
    _, gV, gW = pop.pop_loss_grad(V, W, A)
    assert float(((W * gW).sum(-1) - (V * gV).sum(-1)).abs().max()) < 1e-12


def test_random_saddles_are_stationary_with_quarter_loss():
    rng = np.random.default_rng(0)
    for _ in range(50):
        d = int(rng.integers(2, 9))
        a = torch.tensor(rng.normal(size=d) * np.exp(rng.normal()), dtype=f64)
        c = rng.uniform(0.01, 3) if rng.random() < 0.5 else rng.uniform(-4, -1.01)
        V, W = pop.saddle_point(a, c, rng.exponential() + 0.05, rng.exponential() + 0.05)
        L, gV, gW = pop.pop_loss_grad(V, W, a)
        an2 = float(a @ a)
        assert abs(float(L) / an2 - 0.25) < 1e-12
        assert float(torch.cat([gV.reshape(-1), gW.reshape(-1)]).norm()) < 1e-10 * an2
    # the global optimum too, with zero loss
    V, W = pop.global_optimum(a, 1.3, 0.7)
    L, gV, gW = pop.pop_loss_grad(V, W, a)
    assert abs(float(L)) < 1e-14 and float(gW.norm()) < 1e-13


def test_saddle_and_optimum_hessian_spectrum():
    g = torch.Generator().manual_seed(7)
    a = torch.randn(6, generator=g, dtype=f64)
    V, W = pop.saddle_point(a, 0.6, 1.2, 0.7)
    ev = np.sort(torch.linalg.eigvalsh(pop.hessian_fd(V, W, a)).numpy())
    assert np.max(np.abs(ev - pop.saddle_spectrum(V, W))) < 1e-5
    assert ev.min() > -1e-5                      # PSD and singular: a non-strict saddle
    V, W = pop.global_optimum(a, 1.3, 0.8)
    ev = np.sort(torch.linalg.eigvalsh(pop.hessian_fd(V, W, a)).numpy())
    assert np.max(np.abs(ev - pop.optimum_spectrum(V, W))) < 1e-5


def test_slice_matches_closed_form():
    a = pop.planted_target(4)[0]
    V = torch.tensor([[1.0], [-1.0]], dtype=f64)
    for a1, a2 in [(1.7, 0.7), (-0.3, -1.3), (0.5, -0.9), (2.0, -1.5), (-1.2, 0.4)]:
        W = torch.stack([a1 * a, a2 * a])
        assert abs(float(pop.pop_loss(V, W, a)) - float(pop.slice_loss(a1, a2))) < 1e-12


def test_phase_time_scaling_small_case():
    d, mu = 40, 0.1
    A = pop.planted_target(d)
    sig = [1e-2, 1e-4, 1e-6]
    T1, T12 = [], []
    for s in sig:
        V, W = pop.init_thm2(d, s, 3, generator=torch.Generator().manual_seed(0))
        tr = pop.run_gd(V, W, A, mu=mu, steps=330, metrics=pop.metrics_k2(A[0]))
        pt = pop.phase_times(tr)
        T1.append(np.median(pt["T1"]))
        T12.append(np.median(pt["T12"]))
    pred = pop.predicted_phase_times(mu, 1e-4)
    assert max(T1) - min(T1) <= 4                           # alignment time independent of σ
    assert abs(np.median(T1) / pred["T1"] - 1) < 0.15
    slope = np.polyfit(np.log(1 / np.array(sig)), T12, 1)[0]
    assert abs(slope / pred["growth_slope"] - 1) < 0.1      # growth lasts ln(1/σ)/ln(1+μ/2)


def test_empirical_gradient_matches_autograd_and_padding():
    g = torch.Generator().manual_seed(8)
    A = torch.randn(2, 5, generator=g, dtype=f64)
    V = torch.randn(1, 3, 2, generator=g, dtype=f64, requires_grad=True)
    W = torch.randn(1, 3, 5, generator=g, dtype=f64, requires_grad=True)
    X, Y = pop.gaussian_data(40, A, generator=g)
    L, gV, gW = pop.emp_loss_grad(V.detach(), W.detach(), X, Y)
    La = 0.5 * ((torch.relu(X @ W.transpose(-1, -2)) @ V - Y) ** 2).sum() / 40
    aV, aW = torch.autograd.grad(La, (V, W))
    assert torch.allclose(gV, aV, atol=1e-13) and torch.allclose(gW, aW, atol=1e-13)
    Xp = torch.cat([X, torch.zeros(1, 25, 5, dtype=f64)], dim=1)
    Yp = torch.cat([Y, torch.zeros(1, 25, 2, dtype=f64)], dim=1)
    Lp, gVp, gWp = pop.emp_loss_grad(V.detach(), W.detach(), Xp, Yp, n=torch.tensor([40.0]))
    assert torch.allclose(Lp, L) and torch.allclose(gWp, gW) and torch.allclose(gVp, gV)


def test_match_pairs_recovers_planted_pairs():
    g = torch.Generator().manual_seed(9)
    Vh, Wh = torch.randn(3, 3, generator=g, dtype=f64), torch.randn(3, 8, generator=g, dtype=f64)
    perm = torch.randperm(6, generator=g)
    V = torch.cat([Vh, -Vh])[perm] + 1e-6 * torch.randn(6, 3, generator=g, dtype=f64)
    W = torch.cat([Wh, -Wh])[perm]
    pr = pop.match_pairs(V, W)
    inv = torch.argsort(perm).numpy()
    expect = np.array([inv[(int(perm[i]) + 3) % 6] for i in range(6)])
    assert pr.involution and np.array_equal(pr.partner, expect) and pr.max_rel_error < 1e-5
    si = pop.match_pairs(V * 2.0, W, mode="scale_invariant")
    assert si.involution and si.max_rel_error < 1e-5
    bad = pop.match_pairs(torch.randn(6, 3, generator=g, dtype=f64), torch.randn(6, 8, generator=g, dtype=f64))
    assert bad.max_rel_error > 0.3


def test_sign_predictor_is_exact_small_case():
    d, k = 30, 2
    A = pop.planted_target(d)
    V, W = pop.init_xavier(k, d, 1, 1e-8, 24, generator=torch.Generator().manual_seed(1))
    tr = pop.run_gd(V, W, A, mu=0.1, steps=800)
    ok = tr.loss[-1] < 1e-10
    pred = pop.mixed_signs(pop.sign_predictor(V, W, A[0])).numpy()
    assert np.array_equal(ok, pred)
    assert np.allclose(tr.loss[-1][~ok], 0.25, atol=1e-6)      # failures sit on the saddle manifold
    P, N = pop.group_sums(*tr.final)
    assert float((P[ok] - A[0]).norm(dim=-1).max()) < 1e-6 and float((N[ok] + A[0]).norm(dim=-1).max()) < 1e-6


def test_certificate_curves():
    assert abs(pop.pl_certificate(math.pi)) < 1e-12 and abs(pop.lb_certificate(math.pi)) < 1e-12
    th = np.linspace(math.pi / 2, math.pi, 2001)
    assert pop.pl_certificate(th).min() > -1e-12 and pop.lb_certificate(th).min() > -1e-12
    # Lemma 13 off the trajectory: L ≥ ‖h‖²/20 whenever θ > π/2 (random points)
    V, W, a = pop.random_k2_points(5, 4000, generator=torch.Generator().manual_seed(2))
    keep = pop.angle(W[:, 0], W[:, 1]) > math.pi / 2
    L, _, _ = pop.batched_pop_loss_grad_rows(V[keep], W[keep], a[keep])
    h1, h2 = pop.errors_k2(V[keep], W[keep], a[keep])
    assert float((L / ((h1 ** 2).sum(-1) + (h2 ** 2).sum(-1))).min()) >= 0.05


def test_batched_rows_matches_single_target():
    V, W, _ = _rand(2, 1, 5, 40, batch=(4,))
    a = torch.randn(4, 5, generator=torch.Generator().manual_seed(41), dtype=f64)
    L, gV, gW = pop.batched_pop_loss_grad_rows(V, W, a)
    for b in range(4):
        l, v, w = pop.pop_loss_grad(V[b], W[b], a[b])
        assert torch.allclose(L[b], l) and torch.allclose(gV[b], v) and torch.allclose(gW[b], w)


def test_bad_inputs_raise_value_errors():
    with pytest.raises(ValueError, match="sigma"):
        pop.init_thm2(10, -1.0)
    with pytest.raises(ValueError, match="mu"):
        pop.run_gd(*pop.init_thm2(5, 0.1), pop.planted_target(5), mu=0.0, steps=3)
    with pytest.raises(ValueError, match="c must"):
        pop.saddle_point(pop.planted_target(3)[0], -0.5)
    with pytest.raises(ValueError, match="A must"):
        pop.pop_loss(torch.ones(2, 1, dtype=f64), torch.ones(2, 4, dtype=f64), torch.ones(1, 5, dtype=f64))


def test_divergence_is_reported():
    V, W = pop.init_xavier(2, 10, 1, 1.0, 2, generator=torch.Generator().manual_seed(0))
    tr = pop.run_gd(V, W, pop.planted_target(10), mu=500.0, steps=200)
    assert tr.diverged and "diverged" in tr.message


def test_certificate_curves_equal_direct_minimisation():
    for th in (1.0, math.pi / 2, 2.3, 3.0):
        assert abs(pop.certificate_direct(th, "pl") - pop.pl_certificate(th)) < 1e-10
        assert abs(pop.certificate_direct(th, "lb") - pop.lb_certificate(th)) < 1e-10
