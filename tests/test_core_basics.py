"""device, profiles, validate, fit."""
import math

import numpy as np
import pytest
import torch

import nbs_lib as nl
from nbs_lib import device, fit, profiles, validate


def test_resolve_device_auto_and_cpu():
    assert nl.resolve_device("cpu") == torch.device("cpu")
    assert nl.resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_cuda_without_gpu_is_a_clear_error():
    with pytest.raises(ValueError, match="no CUDA GPU"):
        nl.resolve_device("cuda")


def test_unknown_device_and_dtype():
    with pytest.raises(ValueError, match="device must be one of"):
        nl.resolve_device("tpu")
    with pytest.raises(ValueError, match="dtype must be one of"):
        nl.resolve_dtype("float16")


def test_setup_seeds_reproducibly():
    nl.setup("cpu", "float64", 7)
    a = torch.randn(5)
    nl.setup("cpu", "float64", 7)
    b = torch.randn(5)
    assert torch.equal(a, b)
    assert not torch.backends.cuda.matmul.allow_tf32
    with pytest.raises(ValueError, match="seed"):
        nl.setup("cpu", "float64", -1)


def test_profiles():
    assert profiles.check_profile("gpu") == "paper"
    with pytest.raises(ValueError, match="smoke, cpu, paper"):
        profiles.check_profile("huge")
    S = profiles.sizes("smoke", smoke=dict(n=1), cpu=dict(n=2), paper=dict(n=3))
    assert S.n == 1 and S.profile == "smoke"
    with pytest.raises(ValueError, match="same sizes"):
        profiles.sizes("cpu", smoke=dict(n=1), cpu=dict(m=2), paper=dict(n=3))
    assert profiles.at_least("paper", "cpu") and not profiles.at_least("smoke", "cpu")
    assert profiles.pick("cpu", smoke=1, cpu=2, paper=3) == 2


@pytest.mark.parametrize("fn,args,bad,msg", [
    (validate.positive_even_int, (), -4, "width must be a positive even integer, got -4"),
    (validate.positive_even_int, (), 7, "width must be a positive even integer"),
    (validate.positive_int, (), 0, "width must be a positive integer"),
    (validate.positive_int, (), 2.5, "width must be a positive integer"),
    (validate.positive, (), 0.0, "width must be a finite number > 0"),
    (validate.positive, (), float("nan"), "width must be a finite number > 0"),
    (validate.probability, (), 1.5, r"width must be a number in \[0.0, 1.0\]"),
    (validate.in_range, (0.0, 2.0), 3.0, r"width must be a number in \[0.0, 2.0\]"),
    (validate.step_size, (), -1.0, "width must be a finite number > 0"),
    (validate.int_in, (1, 3), 4, r"width must be an integer in \[1, 3\]"),
    (validate.one_of, (("a", "b"),), "c", "width must be one of"),
    (validate.int_list, (), [2, -1], "width must be a non-empty list"),
])
def test_validate_names_the_parameter(fn, args, bad, msg):
    with pytest.raises(ValueError, match=msg):
        fn("width", bad, *args)


def test_validate_accepts_good_values(tmp_path):
    assert validate.positive_even_int("w", 8) == 8
    assert validate.probability("p", 0.0) == 0.0
    assert validate.step_size("eta", 0.5, maximum=1.0) == 0.5
    with pytest.raises(ValueError, match=r"eta must be a number in \(0.0, 1.0\]"):
        validate.step_size("eta", 1.5, maximum=1.0)
    assert validate.existing_path("root", tmp_path, kind="dir") == tmp_path
    with pytest.raises(ValueError, match="root must be an existing file"):
        validate.existing_path("root", tmp_path / "nope", kind="file")
    assert validate.int_list("widths", [2, 4], even=True) == [2, 4]


def test_fit_linear_rate_recovers_a_geometric_sequence():
    t = np.arange(60)
    v = 3.0 * 0.9 ** t
    r = fit.fit_linear_rate(v)
    assert abs(r.rate - 0.9) < 1e-12 and r.r2 > 1 - 1e-12
    assert np.allclose(r.predict(t), v)
    assert abs(r.steps_per_decade() - math.log(10) / -math.log(0.9)) < 1e-9
    w = fit.fit_linear_rate(v, lo=1e-2, hi=1.0)
    assert w.t0 > 0 and abs(w.rate - 0.9) < 1e-12
    with pytest.raises(ValueError, match="at least 3"):
        fit.fit_linear_rate([1.0, np.nan, -1.0])


def test_fit_power_law():
    x = np.array([1, 10, 100, 1000.0])
    p = fit.fit_power_law(x, 2.0 * x ** -0.5)
    assert abs(p.exponent + 0.5) < 1e-12 and abs(p.prefactor - 2.0) < 1e-12
