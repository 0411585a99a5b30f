"""The rendered site without a browser: staging transforms, chapter overviews, offline assets, code width."""
import base64
import io
import re
import shutil
import types
from pathlib import Path

import nbformat
import pytest
import yaml

from ci import site

ROOT = Path(__file__).resolve().parents[1]
MAX_CODE_LINE = 100
ALLOWED = ROOT / "tests" / "long_code_lines_allowed.txt"


def _code(src, tags=None, outputs=None):
    c = nbformat.v4.new_code_cell(src)
    if tags:
        c.metadata["tags"] = list(tags)
    c.outputs = outputs or []
    return c


def _png_bytes(color="red") -> bytes:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(1, 1))
    ax.set_facecolor(color)
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return buf.getvalue()


def _png_output(data: bytes):
    return nbformat.v4.new_output("display_data", data={"image/png": base64.b64encode(data).decode(),
                                                       "text/plain": "<Figure>"})


def _notebook(title="# 01 · The setting", png: bytes | None = None):
    cells = [
        nbformat.v4.new_markdown_cell(f"{title}\n\nIntro."),
        _code("import nbs_lib as nl"),
        _code('profile = "cpu"  # smoke | cpu | paper', tags=["parameters"]),
        _code('profile = "smoke"', tags=["injected-parameters"]),
        _code("ctx = nl.run_context(profile)"),
        _code("fig = plot()", outputs=[_png_output(png)] if png else []),
        _code("more()"),
    ]
    return nbformat.v4.new_notebook(cells=cells)


# ---------------------------------------------------------------- notebooks
def test_clean_notebook_drops_injected_parameters_and_folds_setup():
    nb = site.clean_notebook(_notebook())
    sources = [c.source for c in nb.cells]
    assert 'profile = "smoke"' not in sources  # papermill's cell is gone
    assert 'profile = "cpu"  # smoke | cpu | paper' in sources  # the parameters cell stays
    tags = {c.source: c.metadata.get("tags", []) for c in nb.cells if c.cell_type == "code"}
    assert tags["import nbs_lib as nl"] == ["hide-input"]
    assert tags["ctx = nl.run_context(profile)"] == ["hide-input"]  # the cell after parameters
    assert tags['profile = "cpu"  # smoke | cpu | paper'] == ["parameters"]
    assert tags["fig = plot()"] == [] and tags["more()"] == []


def test_clean_notebook_keeps_authors_tags():
    nb = _notebook()
    nb.cells[1].metadata["tags"] = ["remove-input"]
    nb.cells[4].metadata["tags"] = ["hide-output"]
    nb = site.clean_notebook(nb)
    assert nb.cells[1].metadata["tags"] == ["remove-input"]
    assert nb.cells[3].metadata["tags"] == ["hide-output"]  # index shifted by the removed cell


def test_first_png_and_title():
    red, blue = _png_bytes("red"), _png_bytes("blue")
    nb = _notebook(png=red)
    nb.cells[-1].outputs = [_png_output(blue)]
    assert site.first_png(nb) == red
    assert site.first_png(_notebook()) is None
    assert site.notebook_title(nb, "x") == "01 · The setting"
    assert site.notebook_title(nbformat.v4.new_notebook(), "fallback") == "fallback"


# ---------------------------------------------------------------- overviews
CLAIMS = [
    {"id": "000.a", "kind": "paper", "verdict": "reproduced", "notebook": "book/000_x/01_a.ipynb"},
    {"id": "000.b", "kind": "paper", "verdict": "partly", "notebook": "book/000_x/01_a.ipynb"},
    {"id": "000.c", "kind": "erratum", "verdict": "not reproduced", "notebook": "book/000_x/02_b.ipynb"},
    {"id": "000.d", "kind": "implementation", "verdict": "reproduced", "notebook": "book/000_x/02_b.ipynb"},
    {"id": "000.e", "kind": None, "verdict": "not assessed (diverged: c1)", "notebook": "book/000_x/02_b.ipynb"},
    {"id": "000.f", "verdict": "reproduced", "notebook": "book/000_x/02_b.ipynb"},
]


def test_claim_summary_counts_kind_by_verdict():
    t = site.claim_summary(CLAIMS)
    assert t["paper"] == {"reproduced": 1, "partly": 1, "not reproduced": 0, "not assessed": 0}
    assert t["erratum"]["not reproduced"] == 1
    assert t["implementation"]["reproduced"] == 1
    assert t["unregistered"] == {"reproduced": 1, "partly": 0, "not reproduced": 0, "not assessed": 1}
    assert t["extension"] == dict.fromkeys(site.VERDICTS, 0)
    assert sum(sum(r.values()) for r in t.values()) == len(CLAIMS)


def test_prepare_stage_appends_overview_with_thumbnails(tmp_path):
    chapter = tmp_path / "book" / "000_x"
    chapter.mkdir(parents=True)
    (chapter / "index.md").write_text("# 000 · A chapter\n\nProse.\n")
    png = _png_bytes()
    nbformat.write(_notebook("# 01 · First", png=png), str(chapter / "01_a.ipynb"))
    nbformat.write(_notebook("# 02 · Second"), str(chapter / "02_b.ipynb"))
    other = tmp_path / "book" / "001_y"
    other.mkdir()
    (other / "index.md").write_text("# 001\n")
    site.prepare_stage(tmp_path, {"profile": "smoke", "claims": [c | {"chapter": "000"} for c in CLAIMS]})

    assert (tmp_path / "_ext" / "offline_book.py").is_file()
    assert (tmp_path / "_ext" / "mathjax" / "tex-chtml.js").is_file()
    text = (chapter / "index.md").read_text()
    assert text.startswith("# 000 · A chapter\n\nProse.\n")
    assert (chapter / "_overview" / "01_a.png").read_bytes() == png
    assert not (chapter / "_overview" / "02_b.png").exists()  # no figure, no thumbnail
    assert ":img-top: _overview/01_a.png" in text
    assert re.search(r"\{grid-item-card\} 01 · First\n:link: 01_a\n:link-type: doc", text)
    assert "2 claims: 1 reproduced, 1 partly" in text
    assert "4 claims: 2 reproduced, 1 not reproduced, 1 not assessed" in text
    assert "| paper | 1 | 1 | 0 | 0 | 2 |" in text
    assert "| unregistered | 1 | 0 | 0 | 1 | 2 |" in text
    assert "| extension |" not in text  # empty rows are left out
    assert "| **all** | **3** | **1** | **1** | **1** | **6** |" in text
    assert "No claim of this chapter" in (other / "index.md").read_text()
    # the staged notebooks were cleaned; a second pass changes nothing
    nb = nbformat.read(str(chapter / "01_a.ipynb"), as_version=4)
    assert not any("injected-parameters" in c.metadata.get("tags", []) for c in nb.cells)
    site.prepare_stage(tmp_path, {"profile": "smoke", "claims": []})
    assert (chapter / "index.md").read_text() == text


# ---------------------------------------------------------------- offline assets
def test_config_points_mathjax_at_the_shipped_copy():
    cfg = yaml.safe_load((ROOT / "_config.yml").read_text())
    sphinx = cfg["sphinx"]
    assert sphinx["local_extensions"] == {"offline_book": "_ext"}
    assert sphinx["config"]["mathjax_path"] == "mathjax/tex-chtml.js"
    assert sphinx["config"]["nb_ipywidgets_js"] == {}
    assert "NTK" in sphinx["config"]["mathjax3_config"]["tex"]["macros"]
    assert not re.search(r"https?://", yaml.safe_dump(sphinx))
    mj = ROOT / "_ext" / "mathjax"
    assert (mj / "tex-chtml.js").stat().st_size > 1_000_000
    assert len(list((mj / "output" / "chtml" / "fonts" / "woff-v2").glob("*.woff"))) >= 20
    for ext in ("ams", "newcommand", "boldsymbol", "mathtools", "configmacros"):
        assert (mj / "input" / "tex" / "extensions" / f"{ext}.js").is_file()
    total = sum(p.stat().st_size for p in mj.rglob("*") if p.is_file())
    assert total < 3_000_000
    # nothing of MathJax under _static (Jupyter Book would inject every .js there into every page)
    assert not any(p.suffix == ".js" for p in (ROOT / "_static").rglob("*"))


def test_extension_copies_mathjax_into_the_built_site(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(ROOT / "_ext"))
    import offline_book

    cfg = types.SimpleNamespace(mathjax_path="https://cdn/x.js", nb_ipywidgets_js={"https://cdn/r.js": {}})
    offline_book._config_inited(None, cfg)
    assert cfg.mathjax_path == "mathjax/tex-chtml.js" and cfg.nb_ipywidgets_js == {}
    app = types.SimpleNamespace(builder=types.SimpleNamespace(format="html", outdir=str(tmp_path)))
    (tmp_path / "_static" / "mathjax").mkdir(parents=True)
    (tmp_path / "_static" / "mathjax" / "stale.js").write_text("old")
    offline_book._copy_mathjax(app, None)
    out = tmp_path / "_static" / "mathjax"
    assert (out / "tex-chtml.js").read_bytes() == (ROOT / "_ext" / "mathjax" / "tex-chtml.js").read_bytes()
    assert not (out / "stale.js").exists()
    shutil.rmtree(out)
    offline_book._copy_mathjax(types.SimpleNamespace(builder=types.SimpleNamespace(format="latex",
                                                                                   outdir=str(tmp_path))), None)
    assert not out.exists()


# ---------------------------------------------------------------- code width
def _allowed() -> dict[str, int]:
    out = {}
    for line in ALLOWED.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            path, n = line.rsplit(None, 1)
            out[path] = int(n)
    return out


def _long_lines(path: Path) -> list[str]:
    nb = nbformat.read(str(path), as_version=4)
    return [f"cell {i}: {line[:60]}… ({len(line)} chars)" for i, c in enumerate(nb.cells) if c.cell_type == "code"
            for line in c.source.splitlines() if len(line) > MAX_CODE_LINE]


NOTEBOOKS = sorted((ROOT / "book").rglob("*.ipynb"))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.relative_to(ROOT / "book").as_posix() for p in NOTEBOOKS])
def test_code_lines_fit_the_page(path):
    """Code lines of a notebook are at most 100 characters (a wider line is cut or scrolls on the page).

    Notebooks listed in tests/long_code_lines_allowed.txt may keep up to their listed count until their
    authors shorten them; lowering a count is always welcome.
    """
    rel = path.relative_to(ROOT).as_posix()
    long = _long_lines(path)
    limit = _allowed().get(rel, 0)
    assert len(long) <= limit, (f"{rel}: {len(long)} code lines over {MAX_CODE_LINE} characters "
                                f"(allowed {limit}):\n  " + "\n  ".join(long))


def test_unexecuted_notebooks_lose_their_glue_roles_and_executed_ones_keep_them():
    import nbformat

    from ci import site

    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("slope {glue:text}`s:.3f` and {glue:md}`sentence`"),
                nbformat.v4.new_code_cell("x = 1")]
    out = site.unglue_unexecuted(nbformat.from_dict(nb))
    assert "{glue" not in out.cells[0].source and out.cells[0].source.count(site.NOT_RUN) == 2
    nb.cells[1].outputs = [nbformat.v4.new_output("stream", text="1")]
    kept = site.unglue_unexecuted(nbformat.from_dict(nb))
    assert "{glue:text}`s:.3f`" in kept.cells[0].source


# ---------------------------------------------------------------- timings: bench.json and the chapter tables
def _bench_payload(label="GN step", device="cpu", median=(0.2, 0.004)):
    """A payload as ``nbs_lib.bench.publish`` displays it (the real function, on given timings)."""
    from nbs_lib import bench

    def t(name, med):
        return bench.Timing(name, med, med * 0.9, med * 1.2, (med,) * 5, 1, device)

    timings = {"dense": t("dense", median[0]), "frozen": t("frozen", median[1])}
    return bench.publish(label, timings, baseline="dense", sizes={"m": 4096, "n": 32}, dtype="float32",
                         expected_ratio={"frozen": 128.0})


def _explorer_payload(title, p50, p95):
    return {"title": title, "frames": 12, "p50_s": p50, "p95_s": p95, "max_s": p95 * 1.1, "bytes": 812_000,
            "grid": {"width": ["64", "4096"]}, "total_s": 12 * p50}


def _mime_output(mime, payload, text="x"):
    return nbformat.v4.new_output("display_data", data={"text/plain": text, mime: payload})


def _executed(tmp_path, rel, outputs):
    nb = _notebook()
    nb.cells[-1].outputs = outputs
    path = tmp_path / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, str(path))
    return path


def _fake_run(tmp_path):
    """An executed run: one notebook with a speed measurement, two explorers (one over budget) and a figure
    whose texts overlapped; one notebook of another chapter with nothing; one listed but not executed."""
    fig = {"figure": "escape times", "overlaps": [["axes 0 / axes 1", "title 'a' / title 'b'"]], "seconds": 0.01}
    _executed(tmp_path / "executed", "book/003_x/05_runtime.ipynb", [
        _mime_output(site.BENCH_MIME, _bench_payload()),
        _mime_output(site.EXPLORER_MIME, _explorer_payload("width", 0.4, 0.9)),
        _mime_output(site.EXPLORER_MIME, _explorer_payload("shift b", 1.3, 3.5)),
        _mime_output(site.FIGURE_MIME, fig)])
    _executed(tmp_path / "executed", "book/004_y/01_a.ipynb", [])
    return {"profile": "cpu", "device": "cpu", "threads": 1, "versions": {"torch": "2.9.0"},
            "git_commit": "abc", "notebooks": [
                {"path": "book/003_x/05_runtime.ipynb", "chapter": "003"},
                {"path": "book/004_y/01_a.ipynb", "chapter": "004"},
                {"path": "book/004_y/02_b.ipynb", "chapter": "004"}], "claims": []}


def test_collect_bench_reads_every_payload_of_the_executed_notebooks(tmp_path):
    report = _fake_run(tmp_path)
    b = site.collect_bench(report, tmp_path / "executed")
    assert (b["device"], b["threads"], b["torch"], b["profile"]) == ("cpu", 1, "2.9.0", "cpu")
    assert b["budget"] == {"p50_s": 1.0, "p95_s": 3.0}
    [m] = b["benchmarks"]
    assert (m["chapter"], m["notebook"], m["label"], m["baseline"]) == ("003", "book/003_x/05_runtime.ipynb",
                                                                          "GN step", "dense")
    assert (m["dtype"], m["device"], m["threads"], m["sizes"]) == ("float32", "cpu", 1, {"m": 4096, "n": 32})
    dense, frozen = m["rows"]
    assert frozen["median_s"] == 0.004 and frozen["iqr_s"] == pytest.approx(0.004 * 0.3)
    assert frozen["speedup"] == pytest.approx(50.0)
    # conservative range: q1_slow / q3_fast … q3_slow / q1_fast
    assert frozen["speedup_range"] == pytest.approx([0.18 / 0.0048, 0.24 / 0.0036])
    assert frozen["predicted"] == 128.0 and dense["predicted"] is None and dense["speedup"] == 1.0
    ok, slow = b["explorers"]
    assert ok["over_budget"] == [] and ok["frames"] == 12 and ok["bytes"] == 812_000
    assert slow["over_budget"] == ["p50 1.3 s > 1 s", "p95 3.5 s > 3 s"]
    assert b["figure_checks"] == [{"chapter": "003", "notebook": "book/003_x/05_runtime.ipynb", "cell": 6,
                                   "figure": "escape times", "seconds": 0.01,
                                   "overlaps": [["axes 0 / axes 1", "title 'a' / title 'b'"]]}]


def test_over_budget_checks_each_quantile_at_its_limit():
    assert site.over_budget(1.0, 3.0) == []                     # at the budget is within it
    assert site.over_budget(1.01, 0.5) == ["p50 1 s > 1 s"]
    assert site.over_budget(0.2, 3.2) == ["p95 3.2 s > 3 s"]


def test_bench_table_shows_cpu_rows_and_gpu_not_measured(tmp_path):
    b = site.collect_bench(_fake_run(tmp_path), tmp_path / "executed")
    text = "\n".join(site.bench_markdown(b, "003"))
    row = next(line for line in text.splitlines() if "| frozen |" in line)
    cells = [c.strip() for c in row.split("|")[1:-1]]
    assert cells[0] == "{doc}`05_runtime </book/003_x/05_runtime>`"
    assert cells[1] == "GN step (m=4096, n=32), vs dense"
    assert cells[3] == "4\u00a0ms (IQR 1.2\u00a0ms); 50× (37.5–66.7)"
    assert cells[4] == "not measured" and cells[5] == "128×"
    assert "float32, 1 thread(s), torch 2.9.0" in text
    assert "| width | 12 | 400\u00a0ms | 900\u00a0ms | 990\u00a0ms | 0.81\u00a0MB | within |" in text
    assert ("| shift b | 12 | 1.3\u00a0s | 3.5\u00a0s | 3.85\u00a0s | 0.81\u00a0MB | "
            "**over**: p50 1.3 s > 1 s; p95 3.5 s > 3 s |") in text
    assert "took 20.4\u00a0s of the build (within the 30 s budget" in text  # 12 × 0.4 + 12 × 1.3
    b["explorers"][1]["total_s"] = 30.0
    assert "took 34.8\u00a0s of the build (**over** the 30 s" in "\n".join(site.bench_markdown(b, "003"))
    other = "\n".join(site.bench_markdown(b, "004"))
    assert "No notebook of this chapter published a speed measurement" in other
    assert "No explorer of this chapter was precomputed" in other


def test_bench_table_takes_gpu_rows_from_a_gpu_run(tmp_path):
    b = site.collect_bench(_fake_run(tmp_path), tmp_path / "executed")
    gpu = {"torch": "2.9.0+cu128", "benchmarks": [
        {"chapter": "003", "notebook": "book/003_x/05_runtime.ipynb", **site._bench_entry(
            _bench_payload(device="cuda:0", median=(0.01, 0.0005)))}]}
    text = "\n".join(site.bench_markdown(b, "003", gpu))
    row = next(line for line in text.splitlines() if "| frozen |" in line)
    cells = [c.strip() for c in row.split("|")[1:-1]]
    assert cells[3].startswith("4\u00a0ms") and cells[4] == "500\u00a0µs (IQR 150\u00a0µs); 20× (15–26.7)"
    assert "not measured" not in text


def test_prepare_stage_puts_the_timing_tables_in_the_chapter_overview(tmp_path):
    report = _fake_run(tmp_path)
    stage = tmp_path / "stage"
    shutil.copytree(tmp_path / "executed", stage)
    for ch in ("003_x", "004_y"):
        (stage / "book" / ch / "index.md").write_text(f"# {ch}\n")
    bench = site.prepare_stage(stage, report)  # collected from the staged (executed) notebooks
    assert len(bench["benchmarks"]) == 1 and len(bench["explorers"]) == 2
    text = (stage / "book" / "003_x" / "index.md").read_text()
    assert text.index("## Claims by kind") < text.index("## Speed measurements") < text.index(
        "## Explorer redraw timings")
    assert "| not measured | 128× |" in text and "**over**" in text
    assert "No explorer of this chapter" in (stage / "book" / "004_y" / "index.md").read_text()


def test_report_lists_figures_with_overlapping_texts(tmp_path):
    from ci.report import report_markdown

    b = site.collect_bench(_fake_run(tmp_path), tmp_path / "executed")
    report = {"profile": "cpu", "device": "cpu", "claims": [], "notebooks": []}
    text = report_markdown(report, built="now", figures=b["figure_checks"])
    assert "## Figures with overlapping texts" in text
    assert ("| {doc}`05_runtime <003_x/05_runtime>` | 6 | escape times | "
            "axes 0 / axes 1: title 'a' / title 'b' |") in text
    assert "None in this build." in report_markdown(report, built="now", figures=[])
    assert "overlapping texts" not in report_markdown(report, built="now")
    timings = report_markdown(report, built="now", bench=b)
    assert "## Timings" in timings and "### 003 · Subquadratic" in timings and "#### Speed measurements" in timings
    assert "| not measured | 128× |" in timings and "004 ·" not in timings  # chapters with timings only


def test_site_bench_command_writes_bench_json(tmp_path):
    import json

    report = _fake_run(tmp_path)
    (tmp_path / "reproduction.json").write_text(json.dumps(report))
    assert site.main(["bench", "--build", str(tmp_path)]) == 0
    b = json.loads((tmp_path / "bench.json").read_text())
    assert len(b["benchmarks"]) == 1 and b["explorers"][1]["over_budget"]
