"""Precomputed explorers (nbs_lib.explorer): every grid combination drawn once, self-contained HTML whose
frames differ where the figure differs, readouts that show small values, and refusals over budget."""
import json
import re

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

from nbs_lib import explorer  # noqa: E402


def _draw(a, b):
    fig, ax = plt.subplots(figsize=(2, 2))
    ax.plot([0, 1], [0, a * b])
    ax.set_ylim(0, 10)
    plt.show()


def test_frames_cover_the_grid_and_differ():
    frames, secs = explorer.render_frames(_draw, {"a": [1, 2], "b": [1.0, 3.0, 5e-4]})
    assert sorted(frames) == [f"{i}_{j}" for i in range(2) for j in range(3)] and len(secs) == 6
    assert len(set(frames.values())) == 6, "each combination draws a different picture"
    assert plt.get_fignums() == []


def test_static_html_is_self_contained_and_reads_out_values():
    grid = {"a": [1, 2], "b": [1.0, 5e-4]}
    frames, _ = explorer.render_frames(_draw, grid)
    page = explorer.static_html(frames, grid, title="t", initial={"a": 1, "b": 0})
    assert "http://" not in page and "https://" not in page
    assert page.count('type="range"') == 2 and "5.00e-04" in page and "0.00" not in page
    assert re.search(r'src="data:image/png;base64,', page)
    img = re.search(r'<img id="nbsx\w+-img" src="([^"]+)"', page).group(1)
    assert img == frames["1_0"], "the initial frame is the one of the initial values"
    # the frames and readouts travel as JSON the panel's script reads; nothing can close the script early
    data = re.search(r'<script type="application/json" id="nbsx\w+-frames">(.*?)</script>', page, re.S).group(1)
    assert json.loads(data) == frames
    labels = re.search(r'<script type="application/json" id="nbsx\w+-labels">(.*?)</script>', page, re.S).group(1)
    assert json.loads(labels) == {"a": ["1", "2"], "b": ["1", "5.00e-04"]}
    assert explorer._script_json({"x": "</script>"}) == '{"x": "<\\/script>"}'


def test_headless_explore_emits_the_panel_and_its_timings(monkeypatch):
    shown = []
    monkeypatch.setattr("IPython.display.display", lambda obj, raw=False: shown.append(obj))
    monkeypatch.setenv("NBS_HEADLESS", "1")
    explorer.explore(_draw, {"a": [1, 2, 4], "b": [0.5, 5.0]}, title="t", initial={"a": 2})
    [out] = shown
    stats = out[explorer.MIME]
    assert stats["frames"] == 6 and 0 < stats["p50_s"] <= stats["p95_s"] <= stats["max_s"] < stats["total_s"]
    assert stats["bytes"] == len(out["text/html"]) and stats["grid"] == {"a": ["1", "2", "4"], "b": ["0.5", "5.0"]}
    assert stats["live_ends"] == {"a": ["1", "4"], "b": ["0.5", "5.0"]}  # the live sliders end on timed frames
    assert 'value="1" data-labels' in out["text/html"]  # a starts at 2, its index 1


def test_budget_refusals():
    with pytest.raises(ValueError, match="over the cap"):
        explorer.render_frames(_draw, {"a": list(range(10)), "b": list(range(10))}, max_frames=36)
    with pytest.raises(ValueError, match="at least two values"):
        explorer.render_frames(_draw, {"a": [1]})


def test_readout_format():
    assert explorer._format(5e-4) == "5.00e-04" and explorer._format(0.1) == "0.1"
    assert explorer._format(4096) == "4096" and explorer._format(2.5e5) == "2.50e+05"


def test_refine_keeps_the_grid_ends_and_types():
    from nbs_lib.explorer import refine

    for grid in ([16, 64, 256, 4096], [0.1, 1.0, 10.0], [0.0, 0.5, 1.0], [-1.0, 0.0, 2.0]):
        r = refine(grid)
        assert r[0] == grid[0] and r[-1] == grid[-1]
        assert all(b > a for a, b in zip(r, r[1:]))           # strictly increasing: no duplicate readouts
        assert set(grid) <= set(r)                            # every precomputed value is reachable live
        assert all(isinstance(v, type(grid[0])) for v in r)
    r = refine([1.0, 100.0], k=2)                             # geometric midpoint for a factor 100
    assert r[1] == pytest.approx(10.0, rel=1e-2)
    assert refine(["a", "b"]) == ["a", "b"]


def test_live_values_outside_the_timed_range_are_refused():
    from nbs_lib import explorer

    with pytest.raises(ValueError, match=r"live\['w'\] must lie within"):
        explorer.explore(lambda w: None, {"w": [1, 2]}, live={"w": [1, 3]})
    with pytest.raises(ValueError, match="live names sliders"):
        explorer.explore(lambda w: None, {"w": [1, 2]}, live={"x": [1, 2]})


def test_live_explorer_redraws_on_each_slider_change_and_shows_once(monkeypatch):
    """The live path (the explorer in Jupyter): one display, a draw
    at the start values, one redraw per change with the new values, a message when a redraw is over budget."""
    import ipywidgets as w

    shown, calls = [], []
    monkeypatch.setattr("IPython.display.display", lambda *objs, **k: shown.extend(objs))
    monkeypatch.setattr(explorer, "headless", lambda: False)
    explorer.explore(lambda a, b: calls.append((a, b)), {"a": [1, 4], "b": [0.1, 10.0]}, title="t",
                     initial={"b": 10.0})
    [box] = shown
    sliders = [c for c in box.children if isinstance(c, w.SelectionSlider)]
    assert [s.description for s in sliders] == ["a", "b"] and calls == [(1, 10.0)]
    assert sliders[0].options == (("1", 1), ("2", 2), ("3", 3), ("4", 4))       # the grid's range, refined
    sliders[0].value = 4
    assert calls[-1] == (4, 10.0) and len(calls) == 2
    monkeypatch.setattr(explorer, "LIVE_BUDGET_S", -1.0)
    printed = []
    monkeypatch.setattr("builtins.print", lambda *a, **k: printed.append(" ".join(map(str, a))))
    sliders[1].value = 0.1
    assert calls[-1] == (4, 0.1) and "over the" in printed[-1]
