"""Figure helpers and explorers of paper 000: each drawn from a tiny experiment, readable (no overlapping texts)."""
import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

import nbs_lib as nl  # noqa: E402
from nbs_lib import plotting  # noqa: E402
from nbs_lib import unbalanced as ub  # noqa: E402

E, P = ub.experiments, ub.plots


@pytest.fixture(scope="module")
def ctx():
    return nl.run_context("smoke", "cpu", 0, threads=1, announce=False)


def _readable(obj):
    fig = (obj[0] if isinstance(obj, (list, tuple, np.ndarray)) else obj).figure
    plotting.assert_readable(fig)
    plt.close("all")
    return fig


def test_fig1_and_linearisation(ctx):
    res = E.fig1(E.Fig1Config(d=6, n=2, N=10, m=40, T=60, trials=2), ctx)
    ax = P.fig1(res)
    assert len(ax.get_lines()) >= 4  # two bands' runs and two dashed theory lines
    _readable(ax)
    lin = E.linearisation(E.LinearisationConfig(d=6, n=2, N=10, m=40, steps=20), ctx)
    _readable(P.linearisation(lin))


def test_setting_figures(ctx):
    res = E.setting(E.SettingConfig.for_profile("smoke", d=6, N=10, n=2, mc_samples=2000, n_list=(1, 2),
                                                N_nsweep=8), ctx)
    _readable(P.nsweep(res))
    ax = P.table1(res.table1, 10, 2)
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert all("NTK]" in s or "RF]" in s for s in labels)  # the regime column is drawn
    assert np.isfinite(res.table1.rate).all()  # the random-feature row's rate is κ(Ḡ), not NaN
    _readable(ax)


def test_remark34_figure(ctx):
    r34 = E.remark34(E.Remark34Config(Ns=(8, 16, 32), ds=(3, 6), trials=2), ctx)
    _readable(P.remark34(r34))


def test_fig2_and_sketch_figures(ctx):
    res = E.fig2(E.Fig2Config(d=8, N=10, n=10, ranks=(1, 2), alphas=(1.0, 4.0), trials=2, tol=1e-3,
                              max_iter=200), ctx)
    _readable(P.fig2(res))
    out = E.sketch_vs_gaussian(E.SketchVsGaussianConfig(d=6, N=10, n=6, m=8, steps=30), ctx)
    _readable(P.sketch_vs_gaussian(out, E.SketchVsGaussianConfig(d=6, N=10, n=6, m=8, steps=30)))


CFG34 = dict(d=6, n=2, Ns=(8, 12), N_main=12, ps=(0.1, 1.0), qs=(0.01, 0.1, 1.0, 10.0), trials=2, T=10)


def test_fig3_and_laziness_figures(ctx):
    res = E.fig34(E.Fig34Config(**CFG34), ctx)
    _readable(P.fig3(res))
    _readable(P.laziness(res))


def test_fig4_figure(ctx):
    cfg = E.Fig34Config(**CFG34)
    axes = P.fig4(E.fig34(cfg, ctx))
    labels = [h.get_label() for h in axes[1].get_lines()]
    assert len(labels) == len(set(labels))  # one theory line per N, each with its own label
    _readable(axes)
    # without c1c2 = 1 on the grid, Fig. 4 draws the first c1c2 (it drew nothing before)
    one = E.fig34(cfg.replace(Ns=(8,), N_main=8, ps=(0.1,)), ctx)
    axes = P.fig4(one)
    assert len(axes[0].get_lines()) > 0 and "0.1" in axes[0].get_title()
    _readable(axes)


def test_extension_figures(ctx):
    ws = E.width_sweep(E.WidthSweepConfig(d=6, n=2, Ns=(8, 12), mults=(0.25, 1.0, 2.0), max_iter=100), ctx)
    _readable(P.width_sweep(ws, 1e-6, 6))
    lz = E.laziness(E.LazinessConfig(d=6, n=2, N=10, ps=(1.0, 0.1), steps=60), ctx)
    _readable(P.laziness_sweep(lz))


def test_explorer_frames_and_degenerate_messages(ctx, capsys):
    """The explorers' draw functions at their grids' corners: a readable figure, a message where degenerate."""
    draw = ub.explorers.gd_vs_nag(ctx, T=20)
    plotting.assert_readable(draw(**{"2m": 64, "c1/c2": 100.0}))
    plt.close("all")
    fig = draw(**{"2m": 2, "c1/c2": 100.0})  # m = 1: K0 has rank ≤ d < Nn, singular
    assert "singular" in capsys.readouterr().out
    plotting.assert_readable(fig)
    plt.close("all")
    draw(**{"2m": 64, "c1/c2": 0.1})  # the step from K0 alone: GD diverges, the message names the knob
    assert "c1/c2 = 0.1" in capsys.readouterr().out
    plt.close("all")
    t1 = ub.explorers.table1(0.05, 20.0, 300.0)
    plotting.assert_readable(t1(N=1000, n=1))
    assert "r = n" in capsys.readouterr().out
    plt.close("all")
    fig = ub.explorers.regimes(ctx, qs=(0.1, 10.0), T=20)(**{"c1c2": 0.001, "m/(Nn)": 1.0})
    assert "diverged" in capsys.readouterr().out  # far from lazy: the step from H0 is too long
    plotting.assert_readable(fig)
    plt.close("all")
