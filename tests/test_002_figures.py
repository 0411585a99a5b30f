"""Chapter 002's figure helpers: each is drawn from a tiny real experiment result and must be readable
(``plotting.assert_readable``: no two texts overlap once drawn, tick labels included)."""
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

from nbs_lib import plotting  # noqa: E402
from nbs_lib import population as pop  # noqa: E402

ex = pop.experiments
P = pop.plots


@pytest.fixture(scope="module")
def ctx():
    plotting.use_style()
    return ex.setup("smoke", "cpu", 0)


_CACHE = {}


def _once(key, fn):
    if key not in _CACHE:
        _CACHE[key] = fn()
    return _CACHE[key]


def _land(ctx):
    return ex.LandscapeConfig.for_profile("smoke", d=10, T_a=100, T_b=100, n_saddles=10, n_starts=10, iters=10,
                                          eps_esc=(0.4, 0.8), T_esc=300)


def _phases(ctx):
    return ex.PhasesConfig.for_profile("smoke", d=10, T=200, sigmas=(1e-2, 1e-4), seeds=2, mus=(0.1, 0.2))


def _cert(ctx):
    return ex.CertConfig.for_profile("smoke", n_direct=2, n_rand=200, d_traj=10, traj_seeds=1, T_traj=100,
                                     n_smooth=10, ds_smooth=(3, 6))


def _signs(ctx):
    return ex.SignsConfig.for_profile("smoke", d=10, ks=(2, 4), seeds=6, T=100, ds_init=(2, 4), seeds_init=6,
                                      T_init=100)


def _pair(ctx):
    return ex.PairingConfig.for_profile("smoke", d=10, rs=(2,), seeds=1, T=100, T_large=100, seeds_large=2)


def _sample(ctx):
    return ex.SampleConfig.for_profile("smoke", ds=(5,), ratios=(1.5, 4.0), seeds=2, T=100, dev_d=5,
                                       dev_ratios=(4.0, 16.0), dev_seeds=1, dev_T=100, m_d=5, m_ratios=(4.0, 16.0),
                                       m_pairs=8, rs=(1, 2), r_d=4, r_ratios=(2.0, 4.0), r_seeds=1)


def _figures(ctx):
    """Return name → function drawing one figure helper from a tiny result."""
    f2c = ex.Fig2Config.for_profile("smoke", d=10, seeds=1)
    fig3 = lambda: _once("fig3", lambda: ex.fig3(_phases(ctx), ctx))
    sweep = lambda: _once("sweep", lambda: ex.phase_sweep(_phases(ctx), ctx))
    f1 = lambda: _once("fig1", lambda: ex.fig1(_land(ctx), ctx))
    sl = lambda: _once("fig1c", lambda: ex.fig1c(_land(ctx), ctx))
    ce = lambda: _once("cert", lambda: ex.certificates(_cert(ctx), ctx))
    pr = lambda: _once("pair", lambda: ex.pairing(_pair(ctx), ctx))
    sc = lambda: _once("sample", lambda: ex.sample_complexity(_sample(ctx), ctx))
    return {
        "fig3": lambda: P.fig3(fig3(), 1e-4, 0.1, 10),
        "phase_sweep": lambda: P.phase_sweep(sweep()),
        "local_rate": lambda: P.local_rate(sweep(), 2),
        "lemma_steps": lambda: P.lemma_steps(ex.lemma_steps(ex.LemmaStepConfig.for_profile("smoke", n_points=200),
                                                            ctx)),
        "fig1": lambda: P.fig1(f1(), 0.1, 0.01),
        "landscape_path": lambda: P.landscape_path(f1(), sl(), 0.1, 0.1),
        "slice_panel": lambda: P.slice_panel(sl()),
        "theorem1": lambda: P.theorem1(ex.theorem1(_land(ctx), ctx)),
        "escape": lambda: P.escape(ex.escape_time(_land(ctx), ctx)),
        "success": lambda: P.success(ex.success_rates(_signs(ctx), ctx), 1e-8, 10),
        "init_failure": lambda: P.init_failure(ex.init_failure(_signs(ctx), ctx)),
        "fig2": lambda: P.fig2(ex.fig2(f2c.replace(T_k4=100, T_k8=100, T_small=100), ctx), 1e-8),
        "fig2_one": lambda: P.fig2_one(ex.fig2_panel(f2c, ctx, 4, 1e-8, 100)[0], 4, 1e-8),
        "certificates": lambda: P.certificates(ce(), 0.05, 0.05),
        "inequalities": lambda: P.inequalities(ex.inequalities(_cert(ctx), ctx), 0.05, 0.05),
        "smoothness": lambda: P.smoothness(ex.smoothness(_cert(ctx), ctx)),
        "pairs": lambda: P.pairs(pr().panels[2], 2, 1e-8, 0.1),
        "pairing_contrast": lambda: P.pairing_contrast(pr()),
        "sample_complexity": lambda: P.sample_complexity(sc(), 1e-4, 0.1, 100),
        "empirical_rate": lambda: P.empirical_rate(sc(), 5),
        "deviations": lambda: P.deviations(ex.deviations(_sample(ctx), ctx), 5, 5),
        "multi_output": lambda: P.multi_output(ex.multi_output(_sample(ctx), ctx)),
    }


NAMES = ["fig3", "phase_sweep", "local_rate", "lemma_steps", "fig1", "landscape_path", "slice_panel", "theorem1",
         "escape", "success", "init_failure", "fig2", "fig2_one", "certificates", "inequalities", "smoothness",
         "pairs", "pairing_contrast", "sample_complexity", "empirical_rate", "deviations", "multi_output"]


def test_every_public_figure_helper_is_covered():
    decorated = {n for n, f in vars(P).items() if callable(f) and hasattr(f, "__wrapped__")}
    assert decorated == set(NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_figure_helper_draws_a_readable_figure(ctx, name):
    fig = _figures(ctx)[name]()
    try:
        assert fig.axes, f"{name} drew no axes"
        plotting.assert_readable(fig)
    finally:
        plt.close(fig)
