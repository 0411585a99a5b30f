"""The readability check of figures: ``nbs_lib.plotting.overlapping_texts`` finds texts drawn over each other.

Chapter tests use it on their figure helpers (draw the figure at a smoke-size result, then
``nbs_lib.plotting.assert_readable(fig)``); the cases here are figures made to overlap and figures made not to.
"""
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from nbs_lib import plotting  # noqa: E402


assert_readable = plotting.assert_readable


def test_assert_readable_names_the_overlapping_texts():
    fig, ax = plt.subplots(figsize=(4, 3))
    ax.text(0.5, 0.5, "measured", transform=ax.transAxes)
    ax.text(0.5, 0.5, "theory", transform=ax.transAxes)
    with pytest.raises(AssertionError, match="text 'measured' / text 'theory'"):
        plotting.assert_readable(fig)


@pytest.fixture(autouse=True)
def _style():
    plotting.use_style()
    yield
    plt.close("all")


def _clean_figure():
    fig, ax = plt.subplots(1, 2, figsize=(8, 3.2), constrained_layout=True)
    x = np.linspace(0, 1, 50)
    plotting.measured(ax[0], x, x ** 2)
    plotting.theory(ax[0], x, x ** 2 + 0.01)
    ax[0].legend(loc="upper left")
    ax[0].set(title="loss", xlabel="step $t$", ylabel=r"$\ell_t/\ell_0$")
    ax[1].plot(x, 1e-8 * x)  # offset text 1e-8 above the y axis
    ax[1].set(title="weights", xlabel="neuron", ylabel="value")
    fig.suptitle("a figure with two panels")
    return fig, ax


def test_clean_figure_has_no_overlaps():
    fig, _ = _clean_figure()
    assert plotting.overlapping_texts(fig) == []


def test_texts_drawn_on_each_other_are_found():
    fig, ax = plt.subplots(figsize=(4, 3))
    ax.text(0.5, 0.5, "measured", transform=ax.transAxes)
    ax.text(0.52, 0.51, "theory", transform=ax.transAxes)
    ax.text(0.1, 0.9, "far away", transform=ax.transAxes)
    found = plotting.overlapping_texts(fig)
    assert found == [("axes 0", "text 'measured' / text 'theory'")]


def test_crowded_tick_labels_are_found():
    fig, ax = plt.subplots(figsize=(3, 2.5))
    ax.set_xticks(np.arange(40))
    ax.set_xticklabels([f"{10.0 ** k:.0e}" for k in range(40)])
    found = plotting.overlapping_texts(fig)
    assert found and all(w == "axes 0" and what.startswith("x tick") for w, what in found)
    # the same axis with five ticks is readable
    ax.set_xticks([0, 10, 20, 30, 39])
    ax.set_xticklabels(["a", "b", "c", "d", "e"])
    assert plotting.overlapping_texts(fig) == []


def test_panel_titles_colliding_across_axes_are_found():
    fig, ax = plt.subplots(1, 2, figsize=(4, 3))
    ax[0].set_title("the Hessian's smallest eigenvalue over time")
    ax[1].set_title("the escape time for every width")
    found = plotting.overlapping_texts(fig)
    assert [w for w, what in found if "title" in what] == ["axes 0 / axes 1"]
    for a in ax:
        a.set_title("short")
    assert plotting.overlapping_texts(fig) == []


def test_suptitle_over_a_panel_title_is_found():
    fig, ax = plt.subplots(figsize=(4, 3))
    ax.set_title("panel title")
    fig.suptitle("figure title", y=0.9)  # pushed down onto the panel title
    found = plotting.overlapping_texts(fig)
    assert any(w.startswith("figure / axes 0") and "title 'panel title'" in what for w, what in found)


def test_a_text_over_the_legend_is_found():
    fig, ax = plt.subplots(figsize=(4, 3))
    ax.plot([0, 1], [0, 1], label="a line with a long label")
    ax.legend(loc="lower left")
    ax.text(0.02, 0.02, "data: digits stand-in", transform=ax.transAxes)  # the old data note's place
    assert ("axes 0", "text 'data: digits stand-in' / legend") in plotting.overlapping_texts(fig)


def test_tolerance_ignores_touching_boxes():
    fig, ax = plt.subplots(figsize=(4, 3))
    t1 = ax.text(0.3, 0.5, "left", transform=ax.transAxes)
    fig.canvas.draw()
    bb = t1.get_window_extent(fig.canvas.get_renderer())
    # a second text starting exactly where the first ends (0.5 px overlap at most) is not an overlap
    x_next = ax.transAxes.inverted().transform((bb.x1 - 0.5, bb.y0))[0]
    ax.text(x_next, 0.5, "right", transform=ax.transAxes)
    assert plotting.overlapping_texts(fig) == []
    assert plotting.overlapping_texts(fig, tol=0.0) != []


def test_data_note_sits_below_the_axis_away_from_data_and_legend():
    fig, ax = plt.subplots(1, 2, figsize=(8, 3), constrained_layout=True)
    for a in ax:
        a.plot([0, 1], [0, 1], label="measured")
        a.legend(loc="lower right")
        a.set_xlabel("width $m$")
    note = plotting.data_note(ax[1], "data: digits stand-in (sklearn)")
    assert_readable(fig)
    r = fig.canvas.get_renderer()
    box, axis = note.get_window_extent(r), ax[1].xaxis.get_tightbbox(r)
    assert box.y1 <= axis.y0 + 0.5  # under the tick labels and the x label
    assert box.y1 <= ax[1].get_window_extent(r).y0  # outside the data area
    assert abs(box.x1 - axis.x1) < 1.0  # right-aligned with the axis


@pytest.mark.parametrize("hide", ["axis_off", "xaxis_invisible"])
def test_data_note_on_an_axes_without_x_axis(hide):
    fig, ax = plt.subplots(figsize=(4, 3))
    ax.imshow(np.arange(12.0).reshape(3, 4))
    if hide == "axis_off":
        ax.axis("off")
    else:
        ax.xaxis.set_visible(False)
    note = plotting.data_note(ax, "data: generated")
    assert_readable(fig)
    r = fig.canvas.get_renderer()
    box = note.get_window_extent(r)
    assert box.y1 <= ax.get_window_extent(r).y0 + 0.5  # under the image, not over it


# ---------------------------------------------------------------- every displayed figure is checked
@pytest.fixture
def shell():
    from IPython.core.interactiveshell import InteractiveShell
    from IPython.core.pylabtools import select_figure_formats

    ip = InteractiveShell.instance()
    assert plotting.check_displayed(ip) and plotting.check_displayed(ip)  # registering twice is harmless
    # the inline backend activates after use_style in a notebook and drops every Figure registration
    select_figure_formats(ip, {"png"})
    yield ip
    ip.display_formatter.formatters.pop(plotting.FIGURE_CHECK_MIME, None)
    InteractiveShell.clear_instance()  # other tests run without a shell
    matplotlib.rcParams["figure.hooks"] = []


def _colliding_titles():
    fig, ax = plt.subplots(1, 2, figsize=(4, 3))
    ax[0].set_title("the Hessian's smallest eigenvalue over time")
    ax[1].set_title("the escape time for every width")
    return fig


def test_a_displayed_figure_with_overlaps_carries_a_record_and_a_warning(shell, capsys):
    fig = _colliding_titles()
    data, _ = shell.display_formatter.format(fig)
    assert "image/png" in data
    rec = data[plotting.FIGURE_CHECK_MIME]
    assert rec["figure"] == "the Hessian's smallest eigenvalue over time | the escape time for every width"
    assert [tuple(p) for p in rec["overlaps"]] == plotting.overlapping_texts(fig)  # reused layout = a fresh draw
    err = capsys.readouterr().err
    assert "Warning: texts overlap" in err and "the escape time for every width" in err
    assert max(map(len, err.splitlines())) <= plotting.WARNING_WIDTH  # fits the book's code column


def test_a_displayed_readable_figure_carries_no_record(shell, capsys):
    fig, _ = _clean_figure()
    data, _ = shell.display_formatter.format(fig)
    assert "image/png" in data and plotting.FIGURE_CHECK_MIME not in data
    assert "Warning" not in capsys.readouterr().err
    data, _ = shell.display_formatter.format("not a figure")
    assert plotting.FIGURE_CHECK_MIME not in data


def _log_axes_with_tight_display():
    """A figure on which a check reusing the layout left by a bbox_inches="tight" rendering (as the display's
    PNG does) finds axis labels over tick labels that the drawn figure does not have."""
    fig, ax = plt.subplots()
    w = np.geomspace(16, 16384, 6)
    ax.plot(w, 0.3 * (w / 16) ** -0.05, label="NTK (measured)")
    plotting.slope_guide(ax, w, 0.3, -0.05, label=r"theory: slope $-1/2$")
    ax.set(xscale="log", yscale="log", xlabel="width $m$", ylabel=r"$\|K_m - K_\infty\|_F / \|K_\infty\|_F$")
    plotting.data_note(ax, "data: N points uniform on the unit sphere (generated)")
    ax.legend(loc="lower left")
    return fig


def test_the_check_measures_the_display_draw_itself(shell, monkeypatch):
    fig = _log_axes_with_tight_display()
    draws = []
    real = type(fig.canvas).draw
    monkeypatch.setattr(type(fig.canvas), "draw", lambda self, *a, **k: (draws.append(1), real(self, *a, **k))[1])
    formatters = shell.display_formatter.formatters
    assert formatters["image/png"](fig) and draws, "the PNG rendering draws the figure"
    n = len(draws)
    assert formatters[plotting.FIGURE_CHECK_MIME](fig) is None and len(draws) == n, "the check drew it again"
    assert fig._nbs_overlaps == [] == plotting.overlapping_texts(fig)  # what a fresh draw finds
    # without a raster rendering before it, the check draws the figure itself
    assert plotting.figure_check(_colliding_titles(), drawn=False)["overlaps"]


def test_explorer_frames_are_not_measured(shell):
    from nbs_lib import explorer

    seen = []

    def draw(a):
        seen.append(plt.gcf()) if plt.get_fignums() else None
        _colliding_titles()
        seen.append(plt.gcf())

    explorer.render_frames(draw, {"a": [1, 2]})
    assert seen and all(not hasattr(f, "_nbs_overlaps") for f in seen) and plotting.WATCH_DRAWS


def test_use_style_registers_the_check_in_a_running_shell(shell):
    shell.display_formatter.formatters.pop(plotting.FIGURE_CHECK_MIME)
    plotting.use_style()
    assert plotting.FIGURE_CHECK_MIME in shell.display_formatter.formatters


def test_log_axes_label_minor_ticks_at_2_and_5_only():
    """Matplotlib labels minor ticks 2, 3, 4, 6 on a log axis spanning under a decade; in a small panel they
    collide (the display check found seven such figures). The book's style keeps 2 and 5, which do not."""
    labels = []
    for styled in (False, True):
        fig, ax = plt.subplots(figsize=(2.5, 2.0))
        ax.loglog([200, 900], [1, 2])
        if not styled:                                  # matplotlib's own minor formatter
            ax.xaxis.set_minor_formatter(matplotlib.ticker.LogFormatterSciNotation(labelOnlyBase=False))
        fig.canvas.draw()
        labels.append([t.get_text() for t in ax.get_xticklabels(minor=True) if t.get_text()])
        found = plotting.overlapping_texts(fig)
        assert bool(found) is (not styled), found
    assert any("3\\times" in t for t in labels[0])
    assert [t[14] for t in labels[1]] == ["2", "5"]
