"""Chapter 003: the generic sketching solver (nbs_lib.sketch) against explicit matrices and exact Grams."""
import math

import numpy as np
import pytest
import scipy.linalg
import torch

from nbs_lib.subquad import sketch as sk


def _rows(n, m, seed):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, m, generator=g, dtype=torch.float64), torch.randn(n, m, generator=g, dtype=torch.float64)


def test_fwht_equals_hadamard_matrix_product():
    A = torch.randn(5, 64, dtype=torch.float64)
    H = torch.as_tensor(scipy.linalg.hadamard(64), dtype=torch.float64)
    assert torch.allclose(sk.fwht(A), A @ H, atol=1e-12)
    assert torch.allclose(sk.fwht(A.T, dim=0), (A @ H).T, atol=1e-12)
    with pytest.raises(ValueError, match="power-of-two"):
        sk.fwht(torch.zeros(2, 12))


@pytest.mark.parametrize("cls", [sk.TensorSketch, sk.TensorSRHT])
def test_fast_sketch_equals_explicit_matrix(cls):
    # P22: S·kron(u, v) from the explicit S of Def. D.2 / D.6 equals the fast application (m = 8, s = 16)
    U, V = _rows(4, 8, 0)
    S = cls(8, 8, 16, seed=3)
    J = (U.unsqueeze(2) * V.unsqueeze(1)).reshape(4, -1)            # rows kron(u_i, v_i)
    assert torch.allclose(S.apply(U, V), J @ S.explicit_matrix().T, atol=1e-12)


@pytest.mark.parametrize("cls", [sk.TensorSketch, sk.TensorSRHT])
def test_sketch_is_unbiased(cls):
    # P21: E[SᵀS] = I (Defs. D.2, D.6) from the explicit matrices, averaged over 2000 independent sketches
    # (m1 = m2 = 4, s = 4). Each entry of the mean has standard error ≤ 1/√2000·max|SᵀS entry| ≤ 0.023 (entries of
    # SᵀS are bounded by 1 for TensorSketch and by s·(1/s) = 1 for TensorSRHT), so 0.1 is more than 4 SE. With one
    # hash shared by both CountSketches (or one sign vector in both SRHT factors) the entries of SᵀS at
    # (i, j),(j, i) pairs are correlated and E[SᵀS] has off-diagonal ones: the test sees it.
    mean = sum(cls(4, 4, 4, seed=seed).explicit_matrix().T @ cls(4, 4, 4, seed=seed).explicit_matrix()
               for seed in range(2000)) / 2000
    assert torch.allclose(mean, torch.eye(16, dtype=torch.float64), atol=0.1)


@pytest.mark.parametrize("cls", [sk.TensorSketch, sk.TensorSRHT])
def test_sketch_embedding_with_equal_factors(cls):
    # U = V: the rows u ⊗ u; E‖S(u⊗u)‖² = ‖u‖⁴ and E⟨S(u⊗u), S(u'⊗u')⟩ = ⟨u,u'⟩², over 3000 sketches within 5 SE.
    # A shared hash makes u_i u_j and u_j u_i collide with equal signs (a bias of order Σ_{i≠j} u_i²u_j²).
    U, _ = _rows(2, 8, 1)
    est = np.array([[float(v) for v in (lambda J: (J[0] @ J[0], J[0] @ J[1]))(cls(8, 8, 4, seed=k).apply(U, U))]
                    for k in range(3000)])
    target = np.array([float(U[0] @ U[0]) ** 2, float(U[0] @ U[1]) ** 2])
    se = est.std(0) / math.sqrt(est.shape[0])
    assert np.all(np.abs(est.mean(0) - target) < 5 * se)


def test_hadamard_gram_equals_explicit_jacobian_gram():
    # Fact E.1 (P18): (UUᵀ) ⊙ (VVᵀ) = J Jᵀ with J formed explicitly
    U, V = _rows(6, 32, 2)
    J = (U.unsqueeze(2) * V.unsqueeze(1)).reshape(6, -1)
    assert torch.allclose(sk.gram_hadamard(U, V), J @ J.T, atol=1e-10)


@pytest.mark.parametrize("kind", ["tensorsketch", "srht"])
def test_subspace_embedding_error_explicit_and_rate(kind):
    # the embedding error computed from explicit matrices agrees with the fast path, and it follows ε ≈ C√(n/s)
    n, m = 6, 16
    U, V = _rows(n, m, 4)
    J = (U.unsqueeze(2) * V.unsqueeze(1)).reshape(n, -1)
    Q = J @ J.T
    S = sk.make_sketch(kind, m, m, 256, seed=5)
    JS = J @ S.explicit_matrix().T
    assert sk.subspace_embedding_error(Q, JS @ JS.T) == pytest.approx(
        sk.subspace_embedding_error(Q, sk.sketched_gram(U, V, sketch=kind, s=256, seed=5)), rel=1e-9)
    # spec P23: ε̂·√(s/n) ∈ [1, 4] (median over draws) on m = 256, n = 8
    n, m = 8, 256
    U, V = _rows(n, m, 6)
    Q = sk.gram_hadamard(U, V)
    for ratio in (16, 64):
        eps = np.median([sk.subspace_embedding_error(Q, sk.sketched_gram(U, V, sketch=kind, s=ratio * n, seed=k))
                         for k in range(7)])
        assert 0.5 <= eps * math.sqrt(ratio) <= 4.0


def test_sketch_and_solve_residual_within_embedding_bound():
    # Thm D.10: if (1−ε)Q ⪯ Q̃ ⪯ (1+ε)Q then ‖Q x̃ − c‖ ≤ ε/(1−ε)·‖c‖ (erratum E16's corrected constant)
    n, m = 8, 256
    U, V = _rows(n, m, 7)
    Q = sk.gram_hadamard(U, V)
    c = torch.randn(n, dtype=torch.float64)
    for s in (64 * n, 256 * n):
        x, _ = sk.sketch_and_solve(U, V, c, sketch="srht", s=s, seed=1)
        eps = sk.subspace_embedding_error(Q, sk.sketched_gram(U, V, sketch="srht", s=s, seed=1))
        assert float((Q @ x - c).norm() / c.norm()) <= eps / (1 - eps) + 1e-12


def test_pcg_solves_ill_conditioned_gram_quickly():
    # P26: with s = 8n the preconditioned system is well conditioned whatever κ(Q)
    n, m = 16, 512
    g = torch.Generator().manual_seed(0)
    base = torch.randn(1, m, generator=g, dtype=torch.float64)
    U = 3 * base + torch.randn(n, m, generator=g, dtype=torch.float64)      # strongly correlated rows
    V = 3 * base + torch.randn(n, m, generator=g, dtype=torch.float64)
    Q = sk.gram_hadamard(U, V)
    c = torch.randn(n, generator=g, dtype=torch.float64)
    x, info = sk.sketch_pcg(Q, U, V, c, s=8 * n, tol=1e-10, seed=2)
    assert info["converged"] and info["iters"] <= 30 and info["kappa_pre"] <= 12
    assert torch.allclose(x, torch.linalg.solve(Q, c), rtol=1e-7, atol=1e-9 * float(x.abs().max()))


def test_cg_iterations_at_most_n_on_spd_systems():
    # CG in exact arithmetic terminates in ≤ n steps on an n×n SPD system (and in k steps with k distinct
    # eigenvalues); steepest descent needs about κ·log(1/tol)/2 ≈ 900 steps here (κ = 100)
    g = torch.Generator().manual_seed(0)
    n = 12
    Qo, _ = torch.linalg.qr(torch.randn(n, n, generator=g, dtype=torch.float64))
    Q = Qo @ torch.diag(torch.logspace(0, 2, n, dtype=torch.float64)) @ Qo.T
    c = torch.randn(n, generator=g, dtype=torch.float64)
    assert sk.cg_iterations(Q, c, tol=1e-8) <= n + 2
    Q3 = Qo @ torch.diag(torch.tensor([1.0, 10.0, 100.0], dtype=torch.float64).repeat_interleave(4)) @ Qo.T
    assert sk.cg_iterations(Q3, c, tol=1e-8) <= 3 + 1


def test_solve_gram_reports_dead_samples():
    Q = torch.diag(torch.tensor([2.0, 0.0, 1.0], dtype=torch.float64))
    x, info = sk.solve_gram(Q, torch.ones(3, dtype=torch.float64))
    assert info["n_dead"] == 1 and torch.allclose(x, torch.tensor([0.5, 0.0, 1.0], dtype=torch.float64))


def test_bad_sketch_parameters_raise():
    with pytest.raises(ValueError, match="sketch must"):
        sk.make_sketch("gaussian", 4, 4, 4, seed=0)
    with pytest.raises(ValueError, match="s must"):
        sk.TensorSRHT(4, 4, 0, seed=0)
