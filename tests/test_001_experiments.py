"""Chapter 001 experiments at smoke size: configs reject bad input by name, results agree with independent
computations, every metric an experiment returns is declared in the registry, and tensors follow the device."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import nbs_lib as nl
from nbs_lib import registry
from nbs_lib.linfeat import data, experiments as ex, model, simulator as sim, theory as th


@pytest.fixture(scope="module")
def ctx():
    return nl.run_context("smoke", "cpu", 0, announce=False)


def _declared(metrics):
    for cid, mets in metrics.items():
        e = registry.entry(cid)
        assert {k[:-3] if k.endswith("_ci") else k for k in mets} <= set(e["metrics"]), cid
        registry.judge(cid, "cpu", mets)            # raises on a missing or undeclared metric


@pytest.mark.parametrize("cls, knobs, msg", [
    (ex.Fig1Config, dict(n=50_000), r"n must be an integer in \[2, 20000\]"),
    (ex.Fig1Config, dict(d=5, n=10), "d must be at least n"),
    (ex.Fig1Config, dict(widht=3), "unknown parameter"),
    (ex.Fig1Config, dict(eta=-1.0), "eta must be a number in"),
    (ex.IdentitiesConfig, dict(m=10 ** 6), r"m must be an integer in \[1, 65536\]"),
    (ex.PhaseConfig, dict(k_v0=1.5), "k_v0 must be a number in"),
    (ex.StepConfig, dict(k_max=0.5), "k_max must be a number in"),
    (ex.ImageConfig, dict(n_digits=64), r"n_digits must be an integer in \[4, 63\]"),
    (ex.ImageConfig, dict(patch=8, n_patches=100), r"n_patches must be an integer in \[4, 63\]"),
    (ex.Fig1Config, dict(seeds=100, d=1_000_000, steps=100_000), "NBS_MAX_HOST_GB"),
])
def test_configs_reject_bad_input_by_name(cls, knobs, msg):
    with pytest.raises(ValueError, match=msg):
        cls.for_profile("cpu", **knobs)


def test_paper_profiles_build_and_fit_the_machine():
    """Every paper profile builds and its working set (on the host, or on the device when run there) fits 64 GB of
    host memory and one 80 GB GPU; a size above the limit refuses with a message naming the limit."""
    for cls in (ex.IdentitiesConfig, ex.GramConfig, ex.Fig1Config, ex.PhaseConfig, ex.Stage1Config, ex.StepConfig,
                ex.NTKConfig, ex.ImageConfig, ex.ReluConfig, ex.BenchConfig):
        r = cls.for_profile("paper").resources()
        assert 0 < r.host_bytes < 64e9 and r.device_bytes < 80e9, cls.__name__
    with pytest.raises(ValueError, match="NBS_MAX_HOST_GB"):
        ex.BenchConfig.for_profile("paper", ds=(1_000_000,), m=65_536)


def test_identities_are_round_off(ctx):
    cfg = ex.IdentitiesConfig.for_profile("smoke", d=300, m=32, steps=10)
    res = ex.identities(cfg, ctx)
    _declared(res.metrics)
    vals = [v for mets in res.metrics.values() for v in mets.values()]
    assert max(vals) < 1e-10
    np.testing.assert_allclose(res.loss_direct, res.loss_sim, rtol=1e-10)


def test_gram_isotropy_against_numpy(ctx):
    cfg = ex.GramConfig.for_profile("smoke", ds=(200,), seeds=2)
    res = ex.gram_isotropy(cfg, ctx)
    _declared(res.metrics)
    pb = data.make_gaussian_regression(10, 200, seeds=ctx.seeds(2, "lemma51", "identity", 200))
    X = pb.X.numpy()
    dev = [np.abs(np.linalg.eigvalsh(x @ x.T - 200 * np.eye(10))).max() for x in X]
    np.testing.assert_allclose(res.implied["identity"][0], np.array(dev) / (10 + math.sqrt(10 * 200)), rtol=1e-10)


def test_fig1_theory_and_metrics(ctx):
    cfg = ex.Fig1Config.for_profile("smoke", d=400, m=64, seeds=2, steps=150)
    res = ex.fig1(cfg, ctx)
    _declared(res.metrics)
    M = res.metrics
    assert M["001.eq11.closed_theory"]["max_dt"] < 0.5
    assert M["001.fig1.two_stage"]["final_log10"] < -8
    # every metric over seeds is the mean of the per-seed values with its t-interval around it
    lo, hi = M["001.fig1.two_stage"]["final_log10_ci"]
    per_seed = np.log10(res.E.traj.loss[-1] / res.E.traj.loss[0])
    assert math.isclose(M["001.fig1.two_stage"]["final_log10"], per_seed.mean(), rel_tol=1e-12)
    assert lo <= per_seed.mean() <= hi
    # the simulator run equals direct GD from the same draws (P0 sampled in law, so compare the loss law instead:
    # the theory's L_floor ≤ L(0) and L(0) = ‖y‖²/(2n) up to the O(σ₀, v₀) initial output)
    L0 = (res.E.problem.y ** 2).sum(-1).numpy() / (2 * cfg.n)
    np.testing.assert_allclose(res.E.traj.loss[0], L0, rtol=1e-3)


def test_two_stage_metrics_on_a_constructed_run():
    t = np.arange(401.0)
    s = 1 / (1 + (1 / 1e-4 - 1) * np.exp(-0.2 * t))             # logistic, k = 0.1
    loss = (1 - s) ** 2 + 1e-30
    R = np.where(t > 30, 1.0, t / 30)
    dist = np.linspace(1, 0, 401)
    m = ex.two_stage_metrics(loss, R, dist, np.arange(401))
    t05 = th.t_cross(loss / loss[0], 0.5)
    assert math.isclose(m["t05"], float(t05)) and m["plateau"] and m["drop"]
    assert m["window_fits"] == (10 * t05 <= 400)
    assert m["R_var"] == 0.0
    b = min(int(np.floor(10 * t05)), 400)
    assert math.isclose(m["dist_end"], dist[b])
    short = ex.two_stage_metrics(loss[:40], R[:40], dist[:40], np.arange(40))
    assert not short["window_fits"] and np.isfinite(short["R_var"])


def test_step_size_and_stage1_declare_their_metrics(ctx):
    sr = ex.step_size(ex.StepConfig.for_profile("smoke", d=300, m=32, nk=8, steps=200, n_aniso=20, d_aniso=100,
                                                T_aniso=100), ctx)
    _declared(sr.metrics)
    assert sr.metrics["001.step.regimes"]["L_k09"] < 1e-6
    s1 = ex.end_of_stage1(ex.Stage1Config.for_profile("smoke", d=300, m=16, seeds=1), ctx)
    _declared(s1.metrics)
    assert s1.rho_med.shape[0] == int(math.ceil(s1.scales["t1"])) + 1


def test_experiments_create_no_tensor_on_the_default_device(ctx):
    """With torch's default device set to 'meta', a cpu run still works: every tensor names its device."""
    torch.set_default_device("meta")
    try:
        res = ex.fig1(ex.Fig1Config.for_profile("smoke", d=200, m=16, seeds=1, steps=60), ctx)
        pr = data.image_binary(12, source="digits", device="cpu")
        E, msg = ex.explorer_run(ctx, n=10, d=100, m=8, sigma0=1e-3, v0=1e-3, k=0.3, steps=None, ntk_every=5)
    finally:
        torch.set_default_device("cpu")
    assert res.E.K.device.type == "cpu" and pr.X.device.type == "cpu"
    assert msg == "" and E.K.device.type == "cpu" and np.isfinite(E.traj.loss).all()


def test_seed_interval_is_the_student_t_interval():
    """mean ± t₀.₉₇₅(n−1)·sd/√n against the closed form for 1..5 (t₀.₉₇₅(4) = 2.7764451)."""
    lo, hi = ex._ci([1.0, 2.0, 3.0, 4.0, 5.0])
    half = 2.7764451051977987 * math.sqrt(2.5) / math.sqrt(5)
    assert math.isclose(lo, 3 - half, rel_tol=1e-9) and math.isclose(hi, 3 + half, rel_tol=1e-9)
    d = ex._mean_ci("x", [2.0, 4.0])
    assert d["x"] == 3.0 and d["x_ci"][0] < 3.0 < d["x_ci"][1]
    assert all(map(math.isnan, ex._ci([1.0, float("nan")])))


def test_one_seed_abstains_instead_of_passing():
    """A claim over seeds graded on one draw is 'not assessed' (the interval straddles the threshold)."""
    one = dict(**ex._mean_ci("plateau_drop", [0.001]), **ex._mean_ci("align_lead", [20.0]),
               **ex._mean_ci("final_log10", [-20.0]), n_seeds=1)
    verdict, reason, _ = registry.judge("001.fig1.two_stage", "cpu", one)
    assert verdict == "not assessed" and "too few seeds" in reason
    five = dict(**ex._mean_ci("plateau_drop", [0.001, 0.002, 0.001, 0.003, 0.002]),
                **ex._mean_ci("align_lead", [20.0, 22, 19, 21, 20]),
                **ex._mean_ci("final_log10", [-20.0, -21, -19, -20, -22]), n_seeds=5)
    assert registry.judge("001.fig1.two_stage", "cpu", five)[0] == "reproduced"


def test_explorer_run_reports_degenerate_settings(ctx):
    E, msg = ex.explorer_run(ctx, n=10, d=200, m=32, sigma0=1e-3, v0=1e-3, eta=0.1, steps=40)
    assert E is not None and msg == "" and E.traj.loss.shape == (41, 1)
    assert ex.explorer_run(ctx, n=10, d=5, m=32, eta=0.1)[1].startswith("No run: d must be at least n")
    E, msg = ex.explorer_run(ctx, n=10, d=200, m=32, sigma0=1e-3, v0=1e-3, k=3.5, steps=60)
    assert E is None and "diverged" in msg and "η (or k)" in msg
    # steps=None with a rate: 1.5 × the map's (ln(1/v₀) + 3)/ln(1 + k) plus 20
    E, _ = ex.explorer_run(ctx, n=10, d=200, m=32, sigma0=0.0, v0=1e-4, k=0.3, steps=None)
    assert E.traj.loss.shape[0] - 1 == math.ceil(1.5 * (math.log(1e4) + 3) / math.log1p(0.3)) + 20


def test_rich_lazy_point_is_geometric():
    s, v = ex.rich_lazy_point(np.array([0.0, 0.5, 1.0]), 0.2, 3.0)
    np.testing.assert_allclose(s, [1e-3, math.sqrt(1e-3 * 0.2), 0.2])
    np.testing.assert_allclose(v, [1e-3, math.sqrt(1e-3 * 3.0), 3.0])


def test_relu_config_shares_fig1_validation():
    with pytest.raises(ValueError, match="d must be at least n"):
        ex.ReluConfig.for_profile("cpu", d=5)
    r, f = ex.ReluConfig.for_profile("cpu"), ex.Fig1Config.for_profile("cpu")
    assert (r.d, r.m, r.sigma0, r.steps, r.seeds) == (2000, 256, 1e-3, 800, 3)     # the ReLU run's own setting
    assert (f.d, f.m, f.sigma0, f.steps, f.seeds) == (10_000, 1024, 0.01, 100, 5)
