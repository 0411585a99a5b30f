"""Chapter 003: low-rank maintenance, the GN trainers (same iterates), diagnostics, op counts."""
import numpy as np
import pytest
import torch

from nbs_lib import subquad as sq


def _setup(m=256, n=8, L=2, b=1.0, kind="shifted", seed=0):
    X, y = sq.synthetic_sphere(n, 8, seed=seed)
    spec = sq.make_act(kind, b, m)
    net = sq.init_network(8, m, L, spec, seed=seed)
    H = sq.frozen_features(net, X)
    return net, H, y, spec


def _lrm_updates(g, m, n, r_max, steps):
    """Yield ``(lrm, dense)`` after each of ``steps`` random rank-``n`` updates of an LRM with restart ``r_max`` and of
    the dense matrix it stands for (float64)."""
    W0 = torch.randn(m, m, generator=g, dtype=torch.float64)
    lrm = sq.LowRankMaintenance([W0], restart=r_max)
    dense = W0.clone()
    for _ in range(steps):
        U, V = torch.randn(m, n, generator=g, dtype=torch.float64), torch.randn(m, n, generator=g, dtype=torch.float64)
        lrm.update(0, U, V)
        dense += U @ V.T
        yield lrm, dense


def test_lrm_query_matches_dense_after_updates_and_restarts():
    # P27: Query = (W0 + Σ U Vᵀ) y, dense and sparse inputs; rank resets to 0 at each restart
    g = torch.Generator().manual_seed(0)
    m = 64
    expected_rank = [4, 8, 0, 4, 8, 0]          # r grows by n = 4 and resets to 0 when it reaches r_max = 10
    for t, (lrm, dense) in enumerate(_lrm_updates(g, m, 4, 10, 6)):
        assert lrm.rank[0] == expected_rank[t]
        Y = torch.relu(torch.randn(m, 3, generator=g, dtype=torch.float64) - 1)
        assert torch.allclose(lrm.query(0, Y), dense @ Y, atol=1e-10)
        assert torch.allclose(lrm.query(0, sq.to_sparse_cols(Y)), dense @ Y, atol=1e-10)
        assert torch.allclose(lrm.query_T(0, Y), dense.T @ Y, atol=1e-10)
    assert lrm.counters["restarts"] == 2
    assert torch.allclose(lrm.materialize(0), dense, atol=1e-10)


def test_lrm_restarts_when_the_rank_reaches_r_max_exactly():
    # Alg. 4: restart as soon as the accumulated rank is ≥ r_max; with n = 4 and r_max = 8 the second update hits
    # r_max exactly and must restart (a '>' would keep rank 8 until the third update)
    ranks = []
    for lrm, dense in _lrm_updates(torch.Generator().manual_seed(3), 32, 4, 8, 4):
        ranks.append(lrm.rank[0])
    assert ranks == [4, 0, 4, 0] and lrm.counters["restarts"] == 2
    assert torch.allclose(lrm.base[0], dense, atol=1e-10)      # after a restart the base holds everything


def test_lrm_merge_same_V_keeps_rank_n():
    g = torch.Generator().manual_seed(1)
    m, n = 32, 3
    W0 = torch.randn(m, m, generator=g, dtype=torch.float64)
    V = torch.randn(m, n, generator=g, dtype=torch.float64)
    lrm = sq.LowRankMaintenance([W0], merge_same_V=True)
    dense = W0.clone()
    for _ in range(5):
        U = torch.randn(m, n, generator=g, dtype=torch.float64)
        lrm.update(0, U, V, v_key="H")
        dense += U @ V.T
    assert lrm.rank[0] == n
    assert torch.allclose(lrm.materialize(0), dense, atol=1e-10)


@pytest.mark.parametrize("kind", ["shifted", "threshold"])
def test_all_trainers_produce_the_same_iterates(kind):
    # P19: Dense, Paper (never / paper restarts, sparse forward), FrozenFeature and ExplicitJacobian GN agree
    net, H, y, spec = _setup(kind=kind)
    W = net.W[-1]
    runs = {
        "dense": sq.DenseGN(H, W, net.a, y, spec),
        "paper": sq.PaperGN(H, W, net.a, y, spec),
        "paper_restart": sq.PaperGN(H, W, net.a, y, spec, restart="paper"),
        "paper_merge": sq.PaperGN(H, W, net.a, y, spec, merge_same_V=True, sparse_forward=False),
        "frozen": sq.FrozenFeatureGN(H, W @ H, net.a, y, spec),
        "explicit": sq.ExplicitJacobianGN(H, W, net.a, y, spec),
    }
    res = {k: sq.run(tr, 3, tol=1e-8)["res"] for k, tr in runs.items()}
    ref = res["dense"]
    for k, r in res.items():
        assert len(r) == len(ref)
        assert torch.allclose(torch.as_tensor(r), torch.as_tensor(ref), rtol=1e-8, atol=1e-12 * ref[0]), k


def test_frozen_feature_weights_match_dense_and_delta_has_rank_n():
    # P17: ΔW_L(t) = Ũ Hᵀ has rank ≤ n for every t (not n·t)
    net, H, y, spec = _setup(m=128, n=6)
    W = net.W[-1]
    dense = sq.DenseGN(H, W, net.a, y, spec, eta=0.5)
    fast = sq.FrozenFeatureGN(H, W @ H, net.a, y, spec, eta=0.5)
    for _ in range(6):
        dense.step()
        fast.step()
        D = dense.W - W
        assert torch.allclose(fast.delta_W(), D, atol=1e-10)
        assert int(torch.linalg.matrix_rank(D, rtol=1e-8)) <= 6
    assert torch.allclose(fast.row_movement(), D.norm(dim=1), atol=1e-10)


def test_residual_decomposition_bounds_and_ftc_gap():
    # Lemma F.23: ‖r_{t+1}‖ ≤ term1 + term2 + term3 + gap; gap = 0 for the continuous shifted ReLU, > 0 with jumps
    for kind, gap_zero in (("shifted", True), ("threshold", False)):
        net, H, y, spec = _setup(m=512, n=8, kind=kind)
        P = net.W[-1] @ H
        K = H.T @ H
        U = sq.dphi(P, spec) * net.a.unsqueeze(1)
        G = (U.T @ U) * K
        r = net.a @ sq.phi(P, spec) - y
        g_star = torch.linalg.solve(G, r)
        g = g_star * (1 + 0.05 * torch.randn(8, generator=torch.Generator().manual_seed(0), dtype=torch.float64))
        d = sq.residual_decomposition(P, K, net.a, y, spec, g, g_star)
        assert d["res_next"] <= d["term1"] + d["term2"] + d["term3"] + d["ftc_gap"] + 1e-12
        if gap_zero:
            assert d["ftc_gap"] <= 1e-10 * d["res"]
        else:
            assert d["ftc_gap"] >= 0.05 * d["res"]


def test_gd_default_step_is_one_over_lambda_max_and_steps_match_dense_gd():
    # the default step is 1/λ_max(G_0) with G_0 = J Jᵀ from the explicit Jacobian (kron(u_i, h_i) rows);
    # the GD iterates equal dense GD on W_L: W ← W − lr·(U diag r) Hᵀ
    net, H, y, spec = _setup(m=64, n=6)
    W = net.W[-1]
    P0 = W @ H
    U = sq.dphi(P0, spec) * net.a.unsqueeze(1)
    J = (U.T.unsqueeze(2) * H.T.unsqueeze(1)).reshape(6, -1)
    lam_max = float(torch.linalg.eigvalsh(J @ J.T)[-1])
    lr = sq.default_gd_lr(P0, H.T @ H, net.a, spec)
    assert lr * lam_max == pytest.approx(1.0, rel=1e-10)
    out = sq.last_layer_gd(H, P0, net.a, y, spec, steps=5, tol=0.0)
    assert out["lr"] == lr
    Wd = W.clone()
    ref = []
    for _ in range(6):
        P = Wd @ H
        r = net.a @ sq.phi(P, spec) - y
        ref.append(float(r.norm()))
        Wd = Wd - lr * ((sq.dphi(P, spec) * net.a.unsqueeze(1)) * r.unsqueeze(0)) @ H.T
    assert out["res"] == pytest.approx(ref, rel=1e-9)


def test_gd_divergence_is_reported_not_returned_as_a_result():
    net, H, y, spec = _setup(m=64, n=6)
    # a ReLU last layer cannot blow up by a large step (its units die), so feed a non-finite label instead
    P0 = net.W[-1] @ H
    y = y.clone()
    y[2] = float("inf")
    out = sq.last_layer_gd(H, P0, net.a, y, spec, steps=10, knobs="lr_factor")
    assert out["diverged"] and "lr_factor" in out["message"] and np.all(np.isfinite(out["res"]))
    gn = sq.run(sq.FrozenFeatureGN(H, P0, net.a, y, spec, track=False), 3)
    assert gn["diverged"]


def test_sketched_solvers_converge():
    net, H, y, spec = _setup()
    for solver, s in (("srht", 64 * 8), ("tensorsketch", 64 * 8), ("pcg", 8 * 8)):
        o = sq.run(sq.FrozenFeatureGN(H, net.W[-1] @ H, net.a, y, spec, solver=solver, s=s), 4)
        assert o["res"][-1] < 0.1 * o["res"][0]


def test_op_counts_model_and_counted_flops():
    # P28: dense/frozen op ratio ≥ m/(4n) at n = 32; the trainers' counted flops equal the model for dense/frozen
    for m in (512, 1024, 2048, 4096):
        ratio = sq.op_count("dense", n=32, m=m)["flops"] / sq.op_count("frozen", n=32, m=m)["flops"]
        assert ratio >= m / (4 * 32)
    net, H, y, spec = _setup(m=128, n=8)
    d = sq.DenseGN(H, net.W[-1], net.a, y, spec, track=False).step()["flops"]
    f = sq.FrozenFeatureGN(H, net.W[-1] @ H, net.a, y, spec, track=False).step()["flops"]
    assert d == pytest.approx(sq.op_count("dense", n=8, m=128)["flops"], rel=0.02)
    assert f == pytest.approx(sq.op_count("frozen", n=8, m=128)["flops"], rel=0.02)


def test_trainer_validation():
    net, H, y, spec = _setup()
    with pytest.raises(ValueError, match="eta"):
        sq.FrozenFeatureGN(H, net.W[-1] @ H, net.a, y, spec, eta=1.5)
    with pytest.raises(ValueError, match="solver"):
        sq.FrozenFeatureGN(H, net.W[-1] @ H, net.a, y, spec, solver="cholesky")
    with pytest.raises(ValueError, match="sketch size"):
        sq.FrozenFeatureGN(H, net.W[-1] @ H, net.a, y, spec, solver="srht")
    with pytest.raises(ValueError, match="restart"):
        sq.LowRankMaintenance([net.W[-1]], restart="sometimes")
