"""Chapter 001 figure helpers (the explorers' frames) drawn at smoke size: readable (no overlapping texts),
theory dashed and measurement solid, and a degenerate setting drawn as a message."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

import nbs_lib as nl  # noqa: E402
from nbs_lib import plotting  # noqa: E402
from nbs_lib.linfeat import experiments as ex, plots  # noqa: E402


@pytest.fixture(scope="module")
def ctx():
    plotting.use_style()
    return nl.run_context("smoke", "cpu", 0, announce=False)


def _styles(ax):
    return {ln.get_label(): ln.get_linestyle() for ln in ax.get_lines()}


def test_loss_explorer_marks_the_plateau_and_t1(ctx):
    E, _ = ex.explorer_run(ctx, n=10, d=300, m=32, sigma0=1e-3, v0=1e-3, eta=0.5, steps=80, ntk_every=4)
    fig, ax = plots.loss_explorer(E, v0=1e-3, title="test")
    plotting.assert_readable(fig)
    st = _styles(ax[0])
    assert st["GD (exact simulator)"] == "-" and st["two-sequence theory"] == "--"
    assert len(ax) == 3                                                  # the NTK panel when recorded
    t1 = float(np.log(1e3) / E.k[0])
    xs = [ln.get_xdata()[0] for ln in ax[0].get_lines() if ln.get_linestyle() == ":"]
    assert xs and np.isclose(xs[0], t1) if t1 <= 80 else not xs
    plt.close(fig)


def test_step_explorer_draws_the_map_and_the_run(ctx):
    E, _ = ex.explorer_run(ctx, n=10, d=300, m=32, sigma0=1e-3, v0=1e-3, k=1.2, steps=120)
    fig, ax = plots.step_explorer(E, k_fine=np.linspace(0.05, 2.7, 60), title="k = 1.2")
    plotting.assert_readable(fig)
    pts = [ln for ln in ax[1].get_lines() if ln.get_label().startswith("GD, last 32 steps")][0]
    np.testing.assert_allclose(pts.get_xdata(), float(E.k[0]))
    plt.close(fig)


def test_image_explorer_and_message_figure(ctx, capsys):
    c = ex.ImageConfig.for_profile("smoke", m=16, steps=40, steps_relu=10, ntk_every=1000)
    fig, ax = plots.image_explorer(ex.image_data(c, ctx, "digits"))
    plotting.assert_readable(fig)
    assert _styles(ax)["linear net (GD)"] == "-" and _styles(ax)["single-direction theory"] == "--"
    plt.close(fig)
    fig, ax = plots.message_figure("GD diverged: lower η (or k), σ₀ or v₀")
    plotting.assert_readable(fig)
    assert "diverged" in capsys.readouterr().out
    plt.close(fig)


def test_assumption_panel_reports_a_diverged_run_without_drawing_it(ctx):
    c = ex.IdentitiesConfig.for_profile("smoke", d=200, m=16, eta=50.0, steps_long=20)
    ares = ex.assumptions(c, ctx)
    assert ares.diverged
    fig, ax = plots.assumption_panel(ares)
    plotting.assert_readable(fig)
    assert not ax[1].get_lines() and "diverged" in ax[1].get_title()
    plt.close(fig)
    ok = ex.assumptions(ex.IdentitiesConfig.for_profile("smoke", d=200, m=16, steps_long=20), ctx)
    fig, ax = plots.assumption_panel(ok)
    plotting.assert_readable(fig)
    assert {ln.get_linestyle() for ln in ax[1].get_lines()} == {"-", "--"}
    plt.close(fig)
