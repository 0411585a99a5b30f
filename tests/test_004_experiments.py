"""Chapter 004: the experiments added or changed this session (fast path, rate explorer, sanity baselines) at
smoke size against independent computations, and every figure helper they touch drawn and checked readable."""
import math
from types import SimpleNamespace

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

import nbs_lib as nl  # noqa: E402
from nbs_lib import plotting  # noqa: E402
from nbs_lib import gated as gt  # noqa: E402

E = gt.experiments
torch.set_num_threads(1)


@pytest.fixture(scope="module")
def ctx():
    return nl.run_context("smoke", "cpu", 0, announce=False)


def _readable(fig):
    plotting.assert_readable(fig)
    plt.close(fig)


# ---------------------------------------------------------------- fast path (issue 16 item 3)
def test_fast_path_table_density_and_byte_predictions(ctx):
    cfg = E.FlopsConfig.for_profile("smoke", fast_ms=(128, 256), fast_repeats=3, fast_threads=1)
    threads = torch.get_num_threads()
    res = E.fast_path(cfg, ctx)
    assert torch.get_num_threads() == threads  # the timing threads are restored
    want = {"dense", "dense, Wᵀ stored", "masked dense", "fast", "gate Ψ", "net", "net, rank-√m/2 gates"}
    want |= {"fast, embedding_bag"} if res.backend != "torch" else set()
    assert set(res.table.variant) == want and sorted(set(res.table.m)) == [128, 256]
    # each width's baseline is the faster dense GEMV, so the speed-ups of the two dense rows are 1 and ≤ 1
    for m_, grp in res.table.groupby("m"):
        base = grp.baseline.iloc[0]
        assert set(grp.baseline) == {base} and base == min(E.DENSE, key=lambda k: res.timings[m_][k].median)
        assert grp.set_index("variant").speedup[base] == 1.0
        assert grp.set_index("variant").speedup[list(set(E.DENSE) - {base})[0]] <= 1.0
    assert [x.baseline for x in res.measurements] == [res.table[res.table.m == m_].baseline.iloc[0] for m_ in (128, 256)]
    assert set(res.table.threads) == {1}
    # the gates are the signs of Ψz for a Gaussian Ψ: density 1/2 within a few standard errors (1/√(4·384))
    assert abs(res.density - 0.5) < 4 / math.sqrt(4 * 384)
    m = res.metrics
    assert m["bytes_ratio"] == pytest.approx(1 / res.density) and m["net_bytes_ratio"] == pytest.approx(1 / (1 + res.density))
    # below FAST_M_MIN the metrics fall back to the largest width; the range brackets the median ratio
    assert m["m_min"] == 256
    lo, hi = m["layer_speed_ci"]
    assert lo <= m["layer_speed"] * (1 + 1e-12) and m["layer_speed"] <= hi * (1 + 1e-12)
    fast = res.timings[256]["fast"]
    assert res.table[(res.table.m == 256) & (res.table.variant == "fast")].ms.item() == pytest.approx(1e3 * fast.median)
    _readable(gt.plots.fast_path(res))


def test_fast_path_config_bounds():
    with pytest.raises(ValueError, match="fast_ms"):
        E.FlopsConfig.for_profile("smoke", fast_ms=(32,))
    with pytest.raises(ValueError, match="fast_threads"):
        E.FlopsConfig.for_profile("smoke", fast_threads=0)


# ---------------------------------------------------------------- rate explorer (03)
def test_rate_follows_the_linearised_bound_at_large_width(ctx):
    res = E.rate(E.RateConfig.for_profile("smoke", m=256, c_eta=0.5, steps=30), ctx)
    assert res.notes == []
    for kind in ("grelu", "relu"):
        y, p = res.curves[kind], res.predictions[kind]
        lmin, lmax = res.lam[kind]
        assert y[0] == 1 and res.cond[kind] == pytest.approx(lmax / lmin)
        rho = max(abs(1 - 0.5 * lmin / lmax), 0.5)
        assert p[10] == pytest.approx(rho ** 20)
        # near the NTK regime the loss stays below twice the linearised bound (kernel drift is small at m = 256)
        assert np.all(y[:30] <= 2 * p[:30])
    # the eigenvalues are those of the kernel module's own Gram
    g, _ = gt.make_pair(gt.GatedConfig(d_x=12, d_y=1, m=256, L=2, seeds=E._seed_list(ctx, 1, "rate", 256)))
    X, _ = E.ackley(6, 12, ctx)
    assert float(gt.lambda_max(g, X)[0]) == pytest.approx(res.lam["grelu"][1], rel=1e-10)
    _readable(gt.plots.rate(res))


def test_rate_degenerate_cases_give_messages_not_numbers(ctx):
    # 64 examples and 16 weights of one 4×4 layer: the NTK Gram has rank ≤ 16 < 64, so it is singular
    sing = E.rate(E.RateConfig.for_profile("smoke", m=4, L=1, n=64, d=8, steps=5), ctx)
    assert all(np.isnan(sing.cond[k]) and sing.predictions[k] is None for k in ("grelu", "relu"))
    assert any("singular" in n for n in sing.notes)
    big = E.rate(E.RateConfig.for_profile("smoke", m=32, c_eta=3.0, steps=5), ctx)
    assert big.predictions == {"grelu": None, "relu": None} and any("≥ 2" in n for n in big.notes)
    _readable(gt.plots.rate(sing))
    with pytest.raises(ValueError, match="c_eta"):
        E.RateConfig.for_profile("smoke", c_eta=0.0)


# ---------------------------------------------------------------- sanity baselines
def test_scored_names_the_split_and_keeps_nan():
    X = torch.linspace(-1, 1, 20, dtype=torch.float64)[:, None]
    Y = 3 * X + 1
    base, s = E.scored(float("inf"), X, Y, X, Y, split="val")
    assert set(s) == {"net_val", "mean_val", "linear_val"} and math.isnan(s["net_val"])
    assert s["linear_val"] < 1e-20 and s["mean_val"] == pytest.approx(float(((Y - Y.mean()) ** 2).mean()))


# ---------------------------------------------------------------- figure helpers touched (_finish)
def _arch():
    k = np.arange(4)
    res = SimpleNamespace(density_grelu=0.5 + 0 * k, density_relu=0.5 + 0 * k, stat_grelu=0.01 + 0 * k[1:],
                          stat_relu=0.56 + 0 * k[1:], dead={"chain": np.array([0, 0.1, 0.2]), "input": np.zeros(3)})
    return gt.plots.arch_stats(res, 8, 64)


def _stability():
    ms, fit = np.array([64, 128, 256]), SimpleNamespace(exponent=-0.5)
    res = SimpleNamespace(widths=ms, tau=np.array([[1, 1.1], [0.7, 0.8], [0.5, 0.55]]), tau_pred=1 / np.sqrt(ms),
                          dK=np.array([[0.1, 0.12], [0.07, 0.08], [0.05, 0.06]]), fit_tau=fit, fit_dK=fit)
    return gt.plots.stability(res, "test")


def _gates():
    res = SimpleNamespace(overlap={"chain": np.linspace(0.25, 0.4, 3), "input": np.full(3, 0.25)},
                          forward=np.linspace(0.3, 0.1, 4))
    return gt.plots.gates(res, 3, 64, 64)


def _conditioning():
    res = SimpleNamespace(depths=[2, 4, 8], ns=[10, 20, 40], cond_L={a: np.array([2.0, 4, 8]) for a in E.ARCHES},
                          cond_n={a: np.array([3.0, 5, 9]) for a in E.ARCHES})
    return gt.plots.conditioning(res, 10)


def _lowrank():
    res = SimpleNamespace(gaussian={64: [(4, 0.6), (16, 0.8)]}, base={"mean": 1.0, "linear": 0.5},
                          trained={"ranks": [4, 16], "agreement": [0.55, 0.7], "mse": [0.9, 0.6], "exact": 0.4})
    return gt.plots.lowrank(res, (64,))


def _thm1():
    t = np.arange(21)[:, None]
    res = SimpleNamespace(loss_thm=0.9 ** t * np.ones((1, 2)), eta_lmax=np.array([0.5, 0.7]), lemma3_ratio=0.95,
                          m=144, loss_fit=0.5 ** t * np.ones((1, 2)), preds=np.log([0.25, 0.25]))
    return gt.plots.thm1(res, "complex Ackley (generated)")


@pytest.mark.parametrize("make", [_arch, _stability, _gates, _conditioning, _lowrank, _thm1])
def test_touched_figure_helpers_are_readable(make):
    _readable(make())


# ---------------------------------------------------------------- sweeps (issue 12 / 15): order-independent merges
def test_fig2a_widths_merge_independent_of_item_order(ctx):
    cfg = E.Fig2aConfig.for_profile("smoke", steps_A=10, steps_B=10)
    res = E.fig2a(cfg, ctx)
    eta_A = E.fig2a_eta_A(cfg, ctx)
    assert eta_A == res.eta_A
    for m in reversed(cfg.widths):       # each width alone, in the other order, gives the same numbers
        pt = E._fig2a_point((cfg, m, eta_A), ctx)
        for (proto, kind), v in pt["curves"].items():
            np.testing.assert_array_equal(v, res.curves[proto, kind, m])
        np.testing.assert_array_equal(pt["cond"]["grelu"], res.cond["grelu", m])


def test_linear_width_scaling_against_a_direct_ntk_change(ctx):
    cfg = E.LinearWidthConfig.for_profile("smoke")
    res = E.linear_width(cfg, ctx)
    np.testing.assert_array_equal(res.ms, cfg.width_per_n * np.array(cfg.ns))
    # the merge does not depend on the order of the items
    for i in (1, 0):
        dK, fin = E._linear_width_point((cfg, cfg.ns[i]), ctx)
        np.testing.assert_array_equal(dK, res.dK[i])
    # an independent ΔK/K for n = 4: the Gram before and after the same GD run, computed here
    n = cfg.ns[0]
    X, y = E.ackley(n, cfg.d, ctx)
    net = gt.GReLUNet(gt.GatedConfig(d_x=cfg.d, d_y=1, m=cfg.width_per_n * n, L=cfg.L,
                                     seeds=E._seed_list(ctx, cfg.seeds, "linear_width", n)))
    K0 = gt.ntk_gram(net, X)
    gt.train(net, X, y, eta=gt.eta_ntk(net, X, 1.0), steps=cfg.steps, tol_rel=1e-12)
    KT = gt.ntk_gram(net, X)
    direct = float((KT - K0).norm() / K0.norm())
    assert res.dK[0, 0] == pytest.approx(direct, rel=1e-9)
    slope = np.polyfit(np.log(res.ns), np.log(res.dK.mean(1)), 1)[0]
    assert res.metrics["exponent_n"] == pytest.approx(slope, rel=1e-6)
    _readable(gt.plots.linear_width(res, "complex Ackley (generated)"))
    with pytest.raises(ValueError, match="ns"):
        E.LinearWidthConfig.for_profile("smoke", ns=(4,))


# ---------------------------------------------------------------- experiments without a test before
def test_stability_tau_and_ntk_change_against_a_direct_run(ctx):
    cfg = E.StabilityConfig.for_profile("smoke", widths=(16, 32, 64), steps=10)
    res = E.stability(cfg, ctx)
    m = 32
    X, y = E.ackley(cfg.n, cfg.d, ctx)
    net = gt.GReLUNet(gt.GatedConfig(d_x=cfg.d, d_y=1, m=m, L=cfg.L, seeds=E._seed_list(ctx, cfg.seeds, "stability", m)))
    W0, K0 = net.W.clone(), gt.ntk_gram(net, X)
    gt.train(net, X, y, eta=gt.eta_ntk(net, X, 1.0), steps=cfg.steps, tol_rel=1e-12)
    tau = float((net.W - W0)[0].flatten(1).norm(dim=1).max())      # max over layers of ‖W_T,k − W_0,k‖_F
    dK = float((gt.ntk_gram(net, X) - K0).norm() / K0.norm())
    assert res.tau[1, 0] == pytest.approx(tau, rel=1e-10) and res.dK[1, 0] == pytest.approx(dK, rel=1e-10)
    np.testing.assert_allclose(res.tau_pred, np.sqrt(2 * cfg.n / np.array(cfg.widths)) / cfg.L)
    assert res.metrics["thm3"]["exponent"] == pytest.approx(np.polyfit(np.log(res.widths), np.log(res.dK.mean(1)), 1)[0])


def test_truncate_is_the_best_rank_r_approximation():
    P = torch.randn(40, 30, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    s = torch.linalg.svdvals(P)
    for r in (1, 5, 29):
        A, B = E._truncate(torch.linalg.svd(P, full_matrices=False), r)
        assert A.shape == (40, r) and B.shape == (r, 30)
        # Eckart–Young: the Frobenius error of the best rank-r approximation is the tail of the singular values
        assert float((P - A @ B).norm()) == pytest.approx(float(s[r:].norm()), rel=1e-10)
