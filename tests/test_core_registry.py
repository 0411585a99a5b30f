"""The claim registry judges from metrics; the run context, config contract, blow-up mask and timing harness."""
import math

import numpy as np
import pytest
import torch

import nbs_lib as nl
from nbs_lib import registry
from nbs_lib.experiment import Config, Resources
from dataclasses import dataclass

ENTRY = {
    "kind": "paper", "ref": "Fig. 1", "says": "x is large", "source": "the paper's words",
    "metrics": {"x": "a number", "n_seeds": "seeds", "base": "baseline"},
    "checks": [{"metric": "x", "op": ">=", "value": 3, "name": "big"},
               {"metric": "x", "op": "<", "ref": "base", "name": "below base"}],
    "requires": [{"metric": "n_seeds", "op": ">=", "value": 5, "reason": "too few seeds"}],
    "needs": "cpu", "expected": "reproduced",
}


@pytest.fixture
def fake_registry(monkeypatch):
    reg = {"000.t.x": dict(ENTRY)}
    monkeypatch.setattr(registry, "load", lambda ch: reg if ch == "000" else {})
    return reg


def test_judge_all_some_none(fake_registry):
    assert registry.judge("000.t.x", "cpu", dict(x=4, base=10, n_seeds=5))[0] == "reproduced"
    assert registry.judge("000.t.x", "cpu", dict(x=4, base=1, n_seeds=5))[0] == "partly"
    assert registry.judge("000.t.x", "cpu", dict(x=2, base=1, n_seeds=5))[0] == "not reproduced"


def test_boundaries_are_inclusive_as_written(fake_registry):
    assert registry.judge("000.t.x", "cpu", dict(x=3, base=10, n_seeds=5))[0] == "reproduced"
    assert registry.judge("000.t.x", "cpu", dict(x=3, base=3, n_seeds=5))[0] == "partly"  # '<' is strict


def test_not_assessed_reasons(fake_registry):
    v, why, div = registry.judge("000.t.x", "smoke", dict(x=4, base=10, n_seeds=5))
    assert v == "not assessed" and "cpu" in why and not div
    v, why, div = registry.judge("000.t.x", "cpu", dict(x=4, base=10, n_seeds=3))
    assert v == "not assessed" and "too few seeds" in why
    v, why, div = registry.judge("000.t.x", "cpu", dict(x=float("nan"), base=10, n_seeds=5))
    assert v == "not assessed" and div and "diverged" in why
    v, why, div = registry.judge("000.t.x", "cpu", dict(x=math.inf, base=10, n_seeds=5))
    assert div


def test_interval_decides_or_abstains(fake_registry):
    ok = dict(base=10, n_seeds=5)
    assert registry.judge("000.t.x", "cpu", dict(x=4, x_ci=(3.5, 4.5), **ok))[0] == "reproduced"
    assert registry.judge("000.t.x", "cpu", dict(x=4, x_ci=(2.5, 4.5), **ok))[0] == "not assessed"
    assert registry.judge("000.t.x", "cpu", dict(x=2, x_ci=(1.0, 2.9), **ok))[0] == "partly"


def test_unknown_or_missing_metrics_are_errors(fake_registry):
    with pytest.raises(registry.RegistryError, match="not declared"):
        registry.judge("000.t.x", "cpu", dict(x=4, base=10, n_seeds=5, y=1))
    with pytest.raises(registry.RegistryError, match="missing metrics"):
        registry.judge("000.t.x", "cpu", dict(x=4, n_seeds=5))
    with pytest.raises(registry.RegistryError, match="not in the registry"):
        registry.entry("000.t.unknown")


def test_entry_validation():
    registry.validate_entry("000.a", ENTRY)
    for bad, msg in [({"source": ""}, "source"), ({"kind": "identity"}, "kind"),
                     ({"expected": "partly"}, "why"), ({"kind": "erratum", "why": "w"}, "erratum"),
                     ({"checks": [{"metric": "zz", "op": "<", "value": 1}]}, "zz"),
                     ({"checks": [{"metric": "x", "op": "~", "value": 1}]}, "op"),
                     ({"checks": [{"metric": "x", "op": "between", "value": [2, 1]}]}, "between")]:
        with pytest.raises(registry.RegistryError, match=msg):
            registry.validate_entry("000.a", {**ENTRY, **bad})


def test_shipped_registries_load():
    entries = registry.all_entries()
    for cid, e in entries.items():
        assert e["source"].strip(), cid


def test_context_streams_are_reproducible_and_distinct():
    ctx = nl.run_context("smoke", "cpu", 3, announce=False)
    a = ctx.randn(5, keys=("fig1", 0))
    b = ctx.randn(5, keys=("fig1", 0))
    c = ctx.randn(5, keys=("fig1", 1))
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert a.device.type == "cpu" and a.dtype == torch.float64
    assert ctx.seeds(3, "x") == ctx.seeds(3, "x") and len(set(ctx.seeds(3, "x"))) == 3
    assert nl.context.stream_seed(3, "fig1", 0) != nl.context.stream_seed(4, "fig1", 0)


def test_context_errors_name_the_parameter(monkeypatch):
    with pytest.raises(ValueError, match="profile"):
        nl.run_context("huge", "cpu", 0, announce=False)
    with pytest.raises(ValueError, match="device"):
        nl.run_context("cpu", "tpu", 0, announce=False)
    with pytest.raises(ValueError, match="seed"):
        nl.run_context("cpu", "cpu", -1, announce=False)
    monkeypatch.setenv("NBS_THREADS", "two")
    with pytest.raises(ValueError, match="NBS_THREADS"):
        nl.run_context("cpu", "cpu", 0, announce=False)


@dataclass(frozen=True)
class _Cfg(Config):
    n: int = 10
    PROFILES = {"smoke": dict(n=2), "cpu": dict(), "paper": dict(n=1000)}

    def validate(self):
        nl.validate.int_in("n", self.n, 1, 10 ** 6)

    def resources(self):
        return Resources(host_bytes=8.0 * self.n ** 2)


def test_config_profiles_knobs_and_limits():
    assert _Cfg.for_profile("smoke").n == 2 and _Cfg.for_profile("cpu").n == 10
    assert _Cfg.for_profile("paper", n=5).n == 5
    with pytest.raises(ValueError, match="unknown parameter"):
        _Cfg.for_profile("cpu", m=3)
    with pytest.raises(ValueError, match=r"n must be an integer in \[1, 1000000\]"):
        _Cfg.for_profile("cpu", n=0)
    with pytest.raises(ValueError, match="NBS_MAX_HOST_GB"):
        _Cfg.for_profile("cpu", n=10 ** 6)  # 8e12 bytes


def test_gd_mask_freezes_only_diverged_runs():
    # f(x) = a x²/2 per run: GD with η = 1 is stable for a < 2 and blows up for a > 2.
    a = torch.tensor([0.5, 1.0, 3.0], dtype=torch.float64)

    def lg(x):
        return 0.5 * a * x ** 2, a * x

    res = nl.gd(lg, torch.ones(3, dtype=torch.float64), eta=1.0, steps=200, on_divergence="mask", blowup=1e20)
    assert res.diverged and list(res.diverged_runs) == [False, False, True]
    assert np.isnan(res.losses[-1, 2]) and np.all(np.isfinite(res.losses[:, :2]))
    # the live runs follow the closed form x_t = (1 − a)^t exactly
    np.testing.assert_allclose(res.losses[5, 0], 0.5 * 0.5 * (0.5 ** 5) ** 2, rtol=1e-12)
    assert "eta" in nl.gd(lg, torch.ones(3, dtype=torch.float64), eta=1.0, steps=200, on_divergence="mask",
                          blowup=1e20, knobs="eta").message


def test_nag_mask_keeps_stable_runs_identical_to_unbatched():
    a = torch.tensor([0.5, 5.0], dtype=torch.float64)

    def lg(x):
        return 0.5 * a * x ** 2, a * x

    res = nl.nag(lg, torch.ones(2, dtype=torch.float64), eta=1.0, beta=0.5, steps=100, on_divergence="mask")
    solo = nl.nag(lambda x: (0.25 * x ** 2, 0.5 * x), torch.ones((), dtype=torch.float64), eta=1.0, beta=0.5,
                  steps=100)
    assert list(res.diverged_runs) == [False, True]
    np.testing.assert_array_equal(res.losses[:, 0], solo.losses)


def test_first_index():
    m = np.array([[0, 0], [1, 0], [1, 0]], bool)
    assert list(nl.first_index(m, axis=0)) == [1, -1]
    assert nl.first_index(torch.tensor([False, True]), axis=0) == 1


def test_bench_interleaves_and_orders():
    import time
    calls = []
    t = nl.bench.compare({"slow": lambda: (calls.append("s"), time.sleep(0.004)),
                          "fast": lambda: calls.append("f")}, repeats=4, warmup=1)
    assert len(calls) == 10 and calls[2:4] == ["s", "f"] and calls[4:6] == ["f", "s"]
    assert t["slow"].median > t["fast"].median and t["slow"].q1 <= t["slow"].median <= t["slow"].q3
    s, (lo, hi) = nl.bench.speedup(t, "slow", "fast")
    assert lo <= s <= hi
    with pytest.raises(ValueError, match="repeats"):
        nl.bench.compare({"a": lambda: None}, repeats=0)


def test_bench_cold_flushes_before_every_timed_call_outside_the_timer(monkeypatch):
    import time
    calls = []

    def flusher(device):
        assert device == "cpu"
        return lambda: (calls.append("flush"), time.sleep(0.02))

    monkeypatch.setattr(nl.bench, "_flusher", flusher)
    t = nl.bench.compare({"a": lambda: calls.append("a"), "b": lambda: calls.append("b")}, repeats=3, cold=True)
    assert calls[:2] == ["a", "b"]                        # warm-up: no flush
    timed = calls[2:]
    assert len(timed) == 12 and timed[::2] == ["flush"] * 6 and sorted(timed[1::2]) == ["a"] * 3 + ["b"] * 3
    assert max(t["a"].samples + t["b"].samples) < 0.01    # the 20 ms flush is not timed
    with pytest.raises(ValueError, match="cold"):
        nl.bench.compare({"a": lambda: None}, cold="yes")


def test_bench_min_sample_runs_consecutive_calls_and_reports_per_call():
    import time
    calls = []
    t = nl.bench.compare({"short": lambda: calls.append("s"), "long": lambda: (calls.append("l"), time.sleep(0.012))},
                         repeats=3, min_sample_s=0.01)
    k = t["short"].calls
    assert t["long"].calls == 1 and 1 < k <= 10_000
    timed = calls[2:]                                   # after one warm-up call each
    assert timed.count("s") == 3 * k and timed.count("l") == 3
    assert "s" * k in "".join(timed)                   # the k calls of a sample run back to back
    assert t["long"].median >= 0.012 and t["short"].median < 0.001   # per call, not per sample
    p = nl.bench.publish("x", t, baseline="long")
    assert [r["calls_per_sample"] for r in p["rows"]] == [k, 1]
    for bad in (-1, 61, "1"):
        with pytest.raises(ValueError, match="min_sample_s"):
            nl.bench.compare({"a": lambda: None}, min_sample_s=bad)
    with pytest.raises(ValueError, match="warmup"):
        nl.bench.compare({"a": lambda: None}, min_sample_s=0.1, warmup=0)


def test_llc_and_flush_sizes_from_sysfs(tmp_path, monkeypatch):
    for i, size in enumerate(["32K", "32K", "1024K", "32768K"]):
        (tmp_path / f"index{i}").mkdir()
        (tmp_path / f"index{i}" / "size").write_text(size + "\n")
    monkeypatch.setattr(nl.bench, "SYSFS_CACHE", str(tmp_path))
    assert nl.bench.llc_bytes("cpu") == 32 * 1024 ** 2 and nl.bench.flush_bytes("cpu") == 64 * 1024 ** 2
    (tmp_path / "index3" / "size").write_text("96M\n")
    assert nl.bench.llc_bytes("cpu") == 96 * 1024 ** 2
    monkeypatch.setattr(nl.bench, "SYSFS_CACHE", str(tmp_path / "absent"))
    assert nl.bench.llc_bytes("cpu") == 32 * 1024 ** 2   # the stated default


def test_bench_publish_payload_and_errors():
    from nbs_lib.bench import Timing

    t = {"dense": Timing("dense", 2.0, 1.8, 2.2, (2.0,) * 5, 1, "cpu"),
         "fast": Timing("fast", 0.5, 0.45, 0.55, (0.5,) * 5, 1, "cpu")}
    p = nl.bench.publish("x", t, baseline="dense", expected_ratio={"fast": 4.0})
    fast = next(r for r in p["rows"] if r["variant"] == "fast")
    assert fast["speedup"] == 4.0 and fast["speedup_range"] == [1.8 / 0.55, 2.2 / 0.45] and fast["predicted"] == 4.0
    with pytest.raises(ValueError, match="baseline"):
        nl.bench.publish("x", t, baseline="sparse")


def test_alternative_expected_verdicts_need_a_why_and_match_either():
    from nbs_lib.claims import Claim

    e = {**ENTRY, "expected": ["reproduced", "not assessed"]}
    with pytest.raises(registry.RegistryError, match="why"):
        registry.validate_entry("000.a", e)
    registry.validate_entry("000.a", {**e, "why": "timing noise"})
    exp = nl.claims.expected_for(["reproduced", "not assessed"], "cpu")
    for v, ok in (("reproduced", True), ("not assessed", True), ("partly", False)):
        c = Claim(id="000.a", chapter="000", paper_ref="", paper_says="", measured="", verdict=v,
                  expected_verdict=exp, profile="cpu", needs="cpu")
        assert c.matches_expected() is ok


def test_bench_per_unit_and_publish_all_scale_every_statistic():
    t = nl.bench.Timing("x", 0.6, 0.4, 0.8, (0.4, 0.6, 0.8), 1, "cpu")
    u = nl.bench.per_unit(t, 4)
    assert (u.median, u.q1, u.q3, *u.samples) == pytest.approx((0.15, 0.1, 0.2, 0.1, 0.15, 0.2))
    with pytest.raises(ValueError, match="units must be a positive integer"):
        nl.bench.per_unit(t, 0)
    m = nl.bench.Measurement("lbl", {"a": t, "b": u}, baseline="a")
    [p] = nl.bench.publish_all([m])
    assert p["label"] == "lbl" and p["rows"][1]["speedup"] == pytest.approx(4.0)
