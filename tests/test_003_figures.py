"""Chapter 003: every figure helper of ``nbs_lib.subquad.plots`` drawn from a smoke-size result, readable."""
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

import nbs_lib as nl  # noqa: E402
from nbs_lib import plotting  # noqa: E402
from nbs_lib.subquad import experiments as ex  # noqa: E402
from nbs_lib.subquad import plots  # noqa: E402

S = "smoke"
GN = dict(n=8, f6_widths=(128,), seeds=1, sweep=(8, 10), sweep_seeds=1, kappa_m=256, gd_cap=30, gd_m=128, n_gd=8)
SK = dict(m=256, ns=(8,), ratios=(1, 4, 16), draws=2, tail_draws=5, gn_m=256, gn_seeds=1)
DRAW = {
    "density": lambda c: plots.density(ex.density(ex.DensityConfig.for_profile(S, n=4, m=256, L=3), c), 3),
    "density_layers": lambda c: plots.density_layers(
        ex.density(ex.DensityConfig.for_profile(S, n=4, m=256, L=3, b_grid=(1.0,)), c)),
    "schedule": lambda c: plots.schedule(ex.schedule(ex.ScheduleConfig.for_profile(S, n=4, L=2), c)),
    "norms": lambda c: plots.norms(ex.norms(ex.NormsConfig.for_profile(S, n=4, m=256, L=3), c)),
    "trunc_chi2": lambda c: plots.trunc_chi2(ex.trunc_chi2(ex.TruncChi2Config.for_profile(S, draws=200), c)),
    "product_norms": lambda c: plots.product_norms(ex.product_norms(ex.ProductNormConfig.for_profile(S, m=32), c)),
    "runtime": lambda c: plots.runtime(ex.runtime(ex.RuntimeConfig.for_profile(S, n=4, widths=(64, 128)), c)),
    "sparse_forward": lambda c: plots.sparse_forward(
        ex.sparse_forward(ex.SparseForwardConfig.for_profile(S, n=4, widths=(128,), bs=(1.0, 2.0)), c)),
    "lrm_cost": lambda c: plots.lrm_cost(ex.lrm_cost(ex.LrmCostConfig.for_profile(S, n=4, m=256), c)),
    "restarts": lambda c: plots.restarts(ex.restarts(ex.RestartConfig.for_profile(S, m=128, steps=4), c)),
    "perturbation": lambda c: plots.perturbation(
        ex.perturbation(ex.PerturbConfig.for_profile(S, n=4, log2_widths=(8, 10)), c)),
    "contraction": lambda c: plots.contraction(ex.contraction(ex.GNConfig.for_profile(S, **GN), c), 6, 1.0),
    "width_sweep": lambda c: plots.width_sweep(ex.width_sweep(ex.GNConfig.for_profile(S, **GN), c)),
    "overshoot": lambda c: plots.overshoot(ex.overshoot(ex.GNConfig.for_profile(S, **GN), c), 256),
    "lazy": lambda c: plots.lazy(ex.lazy(ex.GNConfig.for_profile(S, **GN), c)),
    "gn_vs_gd": lambda c: plots.gn_vs_gd(ex.gn_vs_gd(ex.GNConfig.for_profile(S, **GN), c, gn_steps=8), 128, 8),
    "gram_heatmap": lambda c: plots.gram_heatmap(
        ex.gram_heatmap(ex.GramConfig.for_profile(S, n=6, ratio_m=128), c), "shifted", 1.0),
    "gram_error": lambda c: plots.gram_error(
        ex.gram_error(ex.GramConfig.for_profile(S, n=4, log2_widths=(7, 8), seeds=1, ratio_m=64), c)),
    "embedding": lambda c: plots.embedding(ex.embedding(ex.SketchConfig.for_profile(S, **SK), c)),
    "sketch_solve": lambda c: plots.sketch_solve(ex.sketch_solve(ex.SketchConfig.for_profile(S, **SK), c)),
    "layer_grams": lambda c: plots.layer_grams(
        ex.layer_grams(ex.GramConfig.for_profile(S, n=6, layer_m=128, layer_seeds=1), c), 128),
}


@pytest.fixture(scope="module")
def ctx():
    plotting.use_style()
    return nl.run_context("smoke", "cpu", 0, announce=False, threads=1)


@pytest.mark.parametrize("name", sorted(DRAW))
def test_figure_helper_draws_readably_at_smoke_size(name, ctx):
    fig = DRAW[name](ctx)
    try:
        assert fig.axes, f"{name} drew no axes"
        plotting.assert_readable(fig)
    finally:
        plt.close(fig)


def test_notebook_sources_hold_no_control_characters():
    # a non-raw Python string once turned "\a" of "$2-\alpha$" into a BEL in 05's markdown
    import pathlib

    import nbformat

    for path in sorted(pathlib.Path(__file__).parents[1].glob("book/003_subquadratic_training/*.ipynb")):
        for i, cell in enumerate(nbformat.read(path, as_version=4).cells):
            bad = sorted({hex(ord(ch)) for ch in cell.source if ord(ch) < 32 and ch not in "\n\t"})
            assert not bad, f"{path.name} cell {i} holds control characters {bad}"
