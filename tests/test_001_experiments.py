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
        assert set(mets) <= set(e["metrics"]), cid
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


def test_paper_profiles_build():
    for cls in (ex.IdentitiesConfig, ex.GramConfig, ex.Fig1Config, ex.PhaseConfig, ex.Stage1Config, ex.StepConfig,
                ex.NTKConfig, ex.ImageConfig, ex.ReluConfig, ex.BenchConfig):
        cls.for_profile("paper")


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
    assert M["001.fig1.two_stage"]["final_max"] < 1e-8
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
    finally:
        torch.set_default_device("cpu")
    assert res.E.K.device.type == "cpu" and pr.X.device.type == "cpu"
