"""Arc-cosine kernels against Monte Carlo; the two-layer ReLU NTK against the autograd NTK."""
import math

import pytest
import torch

import nbs_lib as nl
from nbs_lib import kernels


def _sphere(n, d, gen):
    X = torch.randn(n, d, generator=gen, dtype=torch.float64)
    return X / X.norm(dim=1, keepdim=True)


@pytest.mark.parametrize("degree", [0, 1])
def test_arccos_matches_monte_carlo(degree, gen):
    X = _sphere(6, 5, gen) * torch.tensor([[1.0], [2.0], [0.5], [1.0], [3.0], [1.0]], dtype=torch.float64)
    n = 400_000
    mc = nl.arccos_kernel_mc(X, degree=degree, n_samples=n, generator=gen)
    exact = nl.arccos_kernel(X, degree=degree)
    # each entry is a mean of n bounded-variance terms: 6 standard errors (variance ≤ E[f²] ≤ max entry scale²)
    scale = 1.0 if degree == 0 else float((X.norm(dim=1).max()) ** 2)
    assert float((mc - exact).abs().max()) < 6 * scale / math.sqrt(n)


def test_arccos_special_values():
    x = torch.tensor([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0]], dtype=torch.float64)
    k0 = nl.arccos_kernel(x, degree=0)
    k1 = nl.arccos_kernel(x, degree=1)
    assert torch.allclose(torch.diagonal(k0), torch.full((3,), 0.5, dtype=torch.float64))
    assert abs(float(k0[0, 1]) - 0.25) < 1e-15 and abs(float(k0[0, 2])) < 1e-15
    assert torch.allclose(torch.diagonal(k1), torch.full((3,), 0.5, dtype=torch.float64))   # E[relu(g)^2] = 1/2
    assert abs(float(k1[0, 1]) - 1 / (2 * math.pi)) < 1e-15 and abs(float(k1[0, 2])) < 1e-15
    with pytest.raises(ValueError, match="degree"):
        nl.arccos_kernel(x, degree=2)


def test_two_layer_kernels_match_autograd(gen):
    X = _sphere(7, 4, gen)
    m = 50
    W = torch.randn(m, 4, generator=gen, dtype=torch.float64)
    v = torch.randn(m, generator=gen, dtype=torch.float64)
    f = lambda p, x: p["v"] @ torch.relu(p["W"] @ x) / math.sqrt(m)
    theta = nl.empirical_ntk(f, {"W": W, "v": v}, X)
    ntk, ck = kernels.two_layer_relu_kernels(W, v, X)
    assert torch.allclose(theta, ntk, atol=1e-12, rtol=0)
    only_v = nl.empirical_ntk(lambda p, x: p["v"] @ torch.relu(W @ x) / math.sqrt(m), {"v": v}, X)
    assert torch.allclose(only_v, ck, atol=1e-12, rtol=0)


def test_two_layer_kernels_batch_over_seeds(gen):
    X = _sphere(5, 3, gen)
    W = torch.randn(3, 20, 3, generator=gen, dtype=torch.float64)
    v = torch.randn(3, 20, generator=gen, dtype=torch.float64)
    ntk, ck = kernels.two_layer_relu_kernels(W, v, X)
    for b in range(3):
        nb, cb = kernels.two_layer_relu_kernels(W[b], v[b], X)
        assert torch.allclose(ntk[b], nb) and torch.allclose(ck[b], cb)


def test_wide_network_kernel_approaches_limit(gen):
    X = _sphere(6, 5, gen)
    lim = nl.relu_ntk_limit(X)
    errs = []
    for m in (100, 100 * 64):
        W = torch.randn(16, m, 5, generator=gen, dtype=torch.float64)
        v = torch.randn(16, m, generator=gen, dtype=torch.float64)
        ntk, _ = kernels.two_layer_relu_kernels(W, v, X)
        errs.append(float(((ntk - lim).flatten(1).norm(dim=1) / lim.norm()).mean()))
    # 64× wider → error 8× smaller in expectation; allow a factor 2 of sampling noise (16 seeds)
    assert 4 < errs[0] / errs[1] < 16


def test_empirical_ntk_vector_output_layout(gen):
    X = torch.randn(3, 2, generator=gen, dtype=torch.float64)
    A = torch.randn(4, 2, generator=gen, dtype=torch.float64)
    # linear model f(x) = A x: Θ[(i,a),(j,b)] = δ_ab x_i·x_j
    theta = nl.empirical_ntk(lambda p, x: p["A"] @ x, {"A": A}, X, flatten=False)
    expect = torch.einsum("ij,ab->iajb", X @ X.T, torch.eye(4, dtype=torch.float64))
    assert torch.allclose(theta, expect)
    flat = nl.empirical_ntk(lambda p, x: p["A"] @ x, {"A": A}, X, chunk=2)
    assert torch.allclose(flat, expect.reshape(12, 12))


def test_arccos_of_cosine_is_twice_the_kernel_on_unit_vectors(gen):
    X = _sphere(6, 4, gen)
    u = X @ X.T
    for deg in (0, 1):
        assert torch.allclose(nl.arccos_of_cosine(u, deg), 2 * nl.arccos_kernel(X, degree=deg), atol=1e-14)
    one, zero = torch.tensor(1.0, dtype=torch.float64), torch.tensor(0.0, dtype=torch.float64)
    assert float(nl.arccos_of_cosine(one, 0)) == 1.0 and abs(float(nl.arccos_of_cosine(one, 1)) - 1) < 1e-15
    assert abs(float(nl.arccos_of_cosine(zero, 1)) - 1 / math.pi) < 1e-15
