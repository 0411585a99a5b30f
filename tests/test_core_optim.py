"""GD and NAG against the linear-convergence theory on quadratics; divergence handling."""
import numpy as np
import pytest
import torch

import nbs_lib as nl
from nbs_lib import optim


def _quadratic(eigs, gen, batch=None):
    d = len(eigs)
    Q, _ = torch.linalg.qr(torch.randn(d, d, generator=gen, dtype=torch.float64))
    A = Q @ torch.diag(torch.tensor(eigs, dtype=torch.float64)) @ Q.T

    def loss_grad(x):
        Ax = x @ A  # x: (..., d), A symmetric
        return 0.5 * (x * Ax).sum(-1), Ax

    shape = (d,) if batch is None else (batch, d)
    x0 = torch.randn(*shape, generator=gen, dtype=torch.float64)
    return loss_grad, x0


def _nag_radius(lam, eta, beta):
    q = 1 - eta * lam
    return max(abs(r) for r in np.roots([1.0, -(1 + beta) * q, beta * q]))


def test_gd_rate_is_one_minus_one_over_kappa(gen):
    eigs = [1.0, 0.5, 0.2, 0.05]
    L, mu = max(eigs), min(eigs)
    loss_grad, x0 = _quadratic(eigs, gen)
    res = nl.gd(loss_grad, x0, eta=1 / L, steps=400)
    fitr = nl.fit_linear_rate(res.losses, lo=1e-25, hi=1e-6)
    # loss = ½ Σ λ_i c_i² ρ_i^{2t}: the slowest mode gives a loss rate (1 − µ/L)²
    assert abs(fitr.rate - (1 - mu / L) ** 2) < 1e-6


def test_nag_rate_matches_spectral_radius(gen):
    eigs = [1.0, 0.3, 0.1, 0.01]
    L, mu = max(eigs), min(eigs)
    eta, beta = nl.nag_momentum(L, mu)
    assert abs(beta - (1 - 0.1) / (1 + 0.1)) < 1e-12
    loss_grad, x0 = _quadratic(eigs, gen)
    res = nl.nag(loss_grad, x0, eta=eta, beta=beta, steps=1500, loss_fn=lambda x: loss_grad(x)[0])
    rho = max(_nag_radius(l, eta, beta) for l in eigs)
    fitr = nl.fit_linear_rate(res.losses[600:], lo=1e-300)
    # at λ = µ the standard β gives a double root (a t·ρ^t prefactor): 2% on the log-rate covers it
    assert abs(np.log(fitr.rate) / np.log(rho ** 2) - 1) < 0.02
    gd = nl.gd(loss_grad, x0, eta=eta, steps=1500)
    assert res.losses[300] < 1e-6 * gd.losses[300]  # acceleration: √κ vs κ


def test_tolerance_stops_and_reports_hits_per_run(gen):
    loss_grad, x0 = _quadratic([1.0, 0.5], gen, batch=3)
    res = nl.gd(loss_grad, x0, eta=1.0, steps=10_000, tol=1e-10)
    assert res.converged and res.losses.shape[1] == 3
    assert res.hit.shape == (3,) and (res.hit >= 0).all() and res.hit.max() == res.steps
    for b in range(3):
        assert res.losses[res.hit[b], b] <= 1e-10 and (res.losses[: res.hit[b], b] > 1e-10).all()


def test_batched_runs_equal_single_runs(gen):
    loss_grad, x0 = _quadratic([1.0, 0.3, 0.1], gen, batch=4)
    batched = nl.nag(loss_grad, x0, eta=0.9, beta=0.5, steps=50)
    for b in range(4):
        single = nl.nag(loss_grad, x0[b], eta=0.9, beta=0.5, steps=50)
        assert np.allclose(batched.losses[:, b], single.losses, rtol=1e-12, atol=0)


def test_divergence_raises_or_is_recorded(gen):
    loss_grad, x0 = _quadratic([1.0, 0.5], gen)
    with pytest.raises(optim.DivergenceError, match="diverged at step"):
        nl.gd(loss_grad, x0, eta=1e160, steps=50)
    res = nl.gd(loss_grad, x0, eta=1e160, steps=50, on_divergence="record")
    assert res.diverged and "lower the step size" in res.message
    assert np.isfinite(res.losses).all() and res.steps < 50


def test_bad_hyperparameters():
    with pytest.raises(ValueError, match="eta must be > 0"):
        nl.gd(lambda x: (x.sum(), x), torch.zeros(2), eta=-1.0, steps=3)
    with pytest.raises(ValueError, match=r"beta must lie in \[0, 1\)"):
        nl.nag(lambda x: (x.sum(), x), torch.zeros(2), eta=1.0, beta=1.0, steps=3)
    with pytest.raises(ValueError, match="0 < mu <= L"):
        nl.nag_momentum(1.0, 2.0)


def test_tuple_params(gen):
    a = torch.randn(3, generator=gen, dtype=torch.float64)
    b = torch.randn(2, generator=gen, dtype=torch.float64)
    lg = lambda p: (0.5 * (p[0] ** 2).sum() + 0.5 * (p[1] ** 2).sum(), (p[0], p[1]))
    res = nl.gd(lg, (a, b), eta=0.5, steps=20)
    assert isinstance(res.params, tuple) and torch.allclose(res.params[0], a * 0.5 ** 20)
