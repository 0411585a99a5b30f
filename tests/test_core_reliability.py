"""Properties of the core helpers that the mutation audit found unchecked: fit minimum points and r²,
``claims.within`` semantics, closed-range endpoints and upper limits in ``validate``, and CIFAR-10 file
errors that name the file (or ``$NBS_CIFAR10_DIR``)."""
import math
import pickle

import numpy as np
import pytest

from nbs_lib import claims, data, fit, validate


# ---------------------------------------------------------------- fit
def test_rate_fit_needs_three_points():
    with pytest.raises(ValueError, match="at least 3"):
        fit.fit_linear_rate([1.0, 0.5])
    # two points inside the window out of many: still refused
    with pytest.raises(ValueError, match="at least 3"):
        fit.fit_linear_rate([1.0, 0.5, 0.25, 0.125], lo=0.2, hi=0.6)
    assert fit.fit_linear_rate([1.0, 0.5, 0.25]).rate == pytest.approx(0.5, rel=1e-12)


def test_power_law_needs_two_points():
    with pytest.raises(ValueError, match="at least 2"):
        fit.fit_power_law([1.0, 2.0], [1.0, -1.0])


def _noisy(seed=0, n=40):
    rng = np.random.default_rng(seed)
    x = np.logspace(0, 3, n)
    y = 3.0 * x ** -0.5 * np.exp(0.3 * rng.standard_normal(n))
    return x, y


def test_power_law_r2_is_the_squared_log_log_correlation():
    x, y = _noisy()
    f = fit.fit_power_law(x, y)
    r = np.corrcoef(np.log(x), np.log(y))[0, 1]
    assert f.r2 == pytest.approx(r ** 2, rel=1e-10)
    assert 0.3 < f.r2 < 0.999  # noisy: a test that can see an uncentred total sum of squares
    slope, icpt = np.polyfit(np.log(x), np.log(y), 1)
    assert f.exponent == pytest.approx(slope, rel=1e-12) and f.prefactor == pytest.approx(math.exp(icpt), rel=1e-12)


def test_rate_fit_r2_is_the_squared_correlation_of_log_values_with_steps():
    rng = np.random.default_rng(1)
    t = np.arange(30)
    v = 0.9 ** t * np.exp(0.2 * rng.standard_normal(30))
    f = fit.fit_linear_rate(v)
    r = np.corrcoef(t, np.log(v))[0, 1]
    assert f.r2 == pytest.approx(r ** 2, rel=1e-10) and f.r2 < 0.999
    assert f.rate == pytest.approx(math.exp(np.polyfit(t, np.log(v), 1)[0]), rel=1e-12)


# ---------------------------------------------------------------- claims.within
def test_within_is_relative_to_the_target():
    assert claims.within(1.5, 1.0, 0.5) and not claims.within(1.51, 1.0, 0.5)
    # relative to the target, not to the measurement: |2 - 1| = 1 > 0.6 · 1 although 1 <= 0.6 · 2
    assert not claims.within(2.0, 1.0, 0.6)
    assert claims.within(1.0, 2.0, 0.5)  # |1 - 2| = 1 <= 0.5 · 2
    assert claims.within(-1.1, -1.0, 0.1 + 1e-12) and not claims.within(1.0, -1.0, 1.5)
    assert claims.within(0.0, 0.0, 0.0) and not claims.within(1e-300, 0.0, 10.0)
    for bad in (math.nan, math.inf, -math.inf):
        assert not claims.within(bad, 1.0, 10.0) and not claims.within(1.0, bad, 10.0)


# ---------------------------------------------------------------- validate
def test_closed_ranges_accept_both_endpoints():
    assert validate.in_range("a", 0.0, 0.0, 1.0) == 0.0 and validate.in_range("a", 1.0, 0.0, 1.0) == 1.0
    assert validate.int_in("k", 2, 2, 5) == 2 and validate.int_in("k", 5, 2, 5) == 5
    assert validate.probability("p", 0) == 0.0 and validate.probability("p", 1) == 1.0
    assert validate.positive_int("n", 7, maximum=7) == 7
    assert validate.step_size("eta", 2.0, maximum=2.0) == 2.0
    for fn, args in ((validate.in_range, (0.0, 1.0)), (validate.int_in, (2, 5))):
        with pytest.raises(ValueError):
            fn("x", args[0] - 1, *args)
        with pytest.raises(ValueError):
            fn("x", args[1] + 1, *args)


def test_open_ends_reject_their_endpoint():
    with pytest.raises(ValueError, match=r"a must be a number in \(0.0, 1.0\]"):
        validate.in_range("a", 0.0, 0.0, 1.0, lo_open=True)
    with pytest.raises(ValueError, match=r"\[0.0, 1.0\)"):
        validate.in_range("a", 1.0, 0.0, 1.0, hi_open=True)
    with pytest.raises(ValueError, match="eta"):
        validate.step_size("eta", 0.0, maximum=2.0)


@pytest.mark.parametrize("fn, ok, bad, msg", [
    (validate.positive_int, 10, 11, r"n must be a positive integer in \[1, 10\], got 11"),
    (validate.nonnegative_int, 10, 11, r"n must be a non-negative integer in \[0, 10\], got 11"),
    (validate.positive_even_int, 10, 12, r"n must be a positive even integer in \[2, 10\], got 12"),
    (validate.positive, 10.0, 10.5, r"n must be a number in \(0.0, 10(\.0)?\], got 10.5"),
    (validate.nonnegative, 10.0, 10.5, r"n must be a number in \[0.0, 10(\.0)?\], got 10.5"),
])
def test_upper_limits_name_the_parameter_and_accept_the_limit(fn, ok, bad, msg):
    assert fn("n", ok, maximum=10) == ok
    with pytest.raises(ValueError, match=msg):
        fn("n", bad, maximum=10)
    assert fn("n", bad) == bad  # no maximum: unchanged behaviour


def test_int_list_limits():
    assert validate.int_list("widths", [4, 8], maximum=8, max_len=2) == [4, 8]
    with pytest.raises(ValueError, match=r"widths must be a non-empty list of integers in \[1, 8\]"):
        validate.int_list("widths", [4, 16], maximum=8)
    with pytest.raises(ValueError, match="at most 2"):
        validate.int_list("widths", [1, 2, 3], max_len=2)
    with pytest.raises(ValueError, match="widths"):
        validate.int_list("widths", "12")


# ---------------------------------------------------------------- CIFAR-10 errors
def _batch(path, n=3, seed=0):
    rng = np.random.default_rng(seed)
    d = {b"data": rng.integers(0, 256, size=(n, 3072), dtype=np.uint8), b"labels": list(rng.integers(0, 10, n))}
    path.write_bytes(pickle.dumps(d))
    return path


def test_truncated_batch_names_the_file_and_what_was_expected(tmp_path, monkeypatch):
    monkeypatch.delenv(data.CIFAR10_ENV, raising=False)
    f = _batch(tmp_path / "data_batch_1")
    f.write_bytes(f.read_bytes()[:5000])
    with pytest.raises(ValueError, match=r"data_batch_1.*truncated or corrupt.*expected a pickled dict"):
        data.load_cifar10(tmp_path)
    f.write_bytes(b"not a pickle at all")
    with pytest.raises(ValueError, match=r"data_batch_1.*truncated or corrupt"):
        data.load_cifar10(tmp_path)
    f.write_bytes(pickle.dumps([1, 2, 3]))
    with pytest.raises(ValueError, match=r"data_batch_1.*got a list"):
        data.load_cifar10(tmp_path)
    f.write_bytes(pickle.dumps({b"data": np.zeros((2, 3072), np.uint8), b"labels": [0, 1, 2]}))
    with pytest.raises(ValueError, match=r"labels must be 2 integers"):
        data.load_cifar10(tmp_path)


def test_missing_directory_names_the_variable(tmp_path, monkeypatch):
    monkeypatch.setenv(data.CIFAR10_ENV, str(tmp_path / "nowhere"))
    with pytest.raises(ValueError, match=r"\$NBS_CIFAR10_DIR must be an existing directory"):
        data.check_cifar10_env()
    with pytest.raises(ValueError, match=r"\$NBS_CIFAR10_DIR"):
        data.image_dataset()
    monkeypatch.delenv(data.CIFAR10_ENV)
    assert data.check_cifar10_env() is None
    with pytest.raises(ValueError, match=r"set \$NBS_CIFAR10_DIR"):
        data.check_cifar10_env(required=True)
    with pytest.raises(ValueError, match=r"cifar10_root must be an existing directory.*NBS_CIFAR10_DIR"):
        data.check_cifar10_env(tmp_path / "nowhere")


def test_check_cifar10_env_finds_missing_and_truncated_batches(tmp_path, monkeypatch):
    monkeypatch.setenv(data.CIFAR10_ENV, str(tmp_path))
    for name in data.CIFAR10_FILES:
        (tmp_path / name).write_bytes(b"\x80" * (10_000 * 3072 + 100))
    assert data.check_cifar10_env() == tmp_path
    (tmp_path / "data_batch_4").write_bytes(b"\x80" * 1000)
    with pytest.raises(ValueError, match=r"data_batch_4.*truncated: 1,000 bytes.*10,000 images"):
        data.check_cifar10_env()
    assert data.check_cifar10_env(split="test") == tmp_path  # the test split does not need data_batch_4
    (tmp_path / "test_batch").unlink()
    with pytest.raises(ValueError, match=r"test_batch.*is missing"):
        data.check_cifar10_env(split="test")


def test_env_path(tmp_path, monkeypatch):
    monkeypatch.delenv("NBS_X_TEST", raising=False)
    assert data.env_path("NBS_X_TEST", required=False) is None
    with pytest.raises(ValueError, match=r"\$NBS_X_TEST is not set.*\(the SGEMM csv\)"):
        data.env_path("NBS_X_TEST", what="the SGEMM csv")
    monkeypatch.setenv("NBS_X_TEST", str(tmp_path / "x.csv"))
    with pytest.raises(ValueError, match=r"\$NBS_X_TEST must name an existing file"):
        data.env_path("NBS_X_TEST")
    (tmp_path / "x.csv").write_text("a")
    assert data.env_path("NBS_X_TEST") == tmp_path / "x.csv"


def test_summary_table_shows_kind_reason_and_divergence():
    c1 = claims.Claim(id="t.a.b", chapter="t", paper_ref="Thm | 1", paper_says="x", measured="y",
                      verdict="not assessed", expected_verdict="reproduced", profile="cpu", kind="paper",
                      reason="diverged: r = nan", diverged=True)
    c2 = claims.Claim(id="t.a.c", chapter="t", paper_ref="Eq. 2", paper_says="x", measured="y",
                      verdict="reproduced", expected_verdict="reproduced", profile="cpu", kind="implementation")
    md = claims.summary_markdown([c1, c2])
    assert "| `t.a.b` | Thm \\| 1 | paper | not assessed (diverged: r = nan) ✘ | reproduced |" in md
    assert "| `t.a.c` | Eq. 2 | implementation | reproduced | reproduced |" in md
    assert "**Diverged**" in md and "`t.a.b`" in md.split("**Diverged**")[1]
