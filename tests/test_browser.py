"""The built book in a real browser: every page opened in headless Chromium, with no network.

The book is built at ``smoke`` into a temporary folder: the primer and the first notebook of every chapter
are executed (``python -m ci.runner --profile smoke``), the other notebooks render unexecuted, and
``python -m ci.build_book --no-execute --out`` renders the site. ``NBS_BROWSER_NOTEBOOKS=all`` executes
every notebook (slow); ``NBS_BROWSER_HTML=/path/to/html`` checks an already built site instead.

Every page is opened from disk (``file://``, as a reader opens ``_build/html/index.html``) in Debian's
Chromium driven by playwright, with every request that leaves the site refused and recorded. Checked:
no request leaves the site and none fails, no console error, math typeset by MathJax (containers
present, no MathJax error or undefined macro, no raw ``\\(``/``\\[`` left in the text), every image
loaded, and no code block wider than the text column (pages of notebooks listed in
``tests/long_code_lines_allowed.txt`` are exempt for their input cells until their lines are shortened;
known chapter-side defects listed in ``tests/browser_known_issues.txt`` are tolerated for their page and
check).

Without Chromium or playwright the tests skip, saying how to install them.
"""
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ci import site

ROOT = Path(__file__).resolve().parents[1]
pytestmark = [pytest.mark.xdist_group("browser")]

WHY_NOT = site.browser_missing()
VIEWPORT = {"width": 1400, "height": 900}

# JavaScript run in each page once it has loaded and MathJax has finished
PAGE_CHECKS = r"""
async () => {
  const imgs = Array.from(document.images);
  imgs.forEach(i => { i.loading = 'eager'; });
  await Promise.all(imgs.map(i => i.complete ? null : new Promise(r => { i.onload = i.onerror = r; })));
  const broken = imgs.filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.getAttribute('src'));
  const skip = 'PRE,CODE,SCRIPT,STYLE,TEXTAREA,MJX-CONTAINER,MJX-ASSISTIVE-MML';
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT, {
    acceptNode: n => n.parentElement && n.parentElement.closest(skip.toLowerCase()) ?
      NodeFilter.FILTER_REJECT : NodeFilter.FILTER_ACCEPT});
  const raw = [];
  while (walker.nextNode()) {
    const t = walker.currentNode.nodeValue;
    if (/\\\(|\\\[|\\begin\{/.test(t)) raw.push(t.trim().slice(0, 80));
  }
  const article = document.querySelector('article') || document.querySelector('main') || document.body;
  const right = article.getBoundingClientRect().right;
  const wide = [];
  document.querySelectorAll('article pre').forEach(pre => {
    const box = pre.getBoundingClientRect();
    const input = !!pre.closest('.cell_input');
    if (pre.scrollWidth > pre.clientWidth + 1 || box.right > right + 1)
      wide.push({input, chars: Math.max(...pre.innerText.split('\n').map(l => l.length)),
                 text: pre.innerText.split('\n').sort((a, b) => b.length - a.length)[0].slice(0, 60)});
  });
  return {
    math: document.querySelectorAll('.math, span.math, div.math').length,
    mjx: document.querySelectorAll('mjx-container').length,
    merror: Array.from(document.querySelectorAll('mjx-merror')).map(e => e.getAttribute('data-mjx-error'))
      .concat(Array.from(document.querySelectorAll('mjx-assistive-mml mtext[mathcolor="red"]'))
              .map(e => 'undefined macro ' + e.textContent)),
    raw, broken, wide, images: imgs.length,
  };
}
"""


# JavaScript run in each page after PAGE_CHECKS: every explorer panel (nbs_lib.explorer.static_html), every
# slider moved to its other end (value set, `input` dispatched as a reader's drag does): the image must change
# and the readout show the slider's new value. Also: the panel's frames cover every combination of slider
# positions, both ends of every slider included.
EXPLORER_CHECKS = r"""
async () => {
  const panels = [];
  for (const panel of document.querySelectorAll('.nbs-explorer')) {
    const id = panel.id, res = {id, title: (panel.querySelector('.nbs-explorer-title') || {}).textContent || id,
                                sliders: [], missing_frames: [], problems: []};
    const names = JSON.parse(panel.dataset.sliders || '[]');
    const frames = JSON.parse((document.getElementById(id + '-frames') || {}).textContent || '{}');
    const img = document.getElementById(id + '-img');
    const inputs = names.map(n => document.getElementById(id + '-' + n));
    if (!img || inputs.some(i => !i)) {
      res.problems.push('panel without its image or sliders'); panels.push(res); continue;
    }
    const sizes = inputs.map(i => +i.max - +i.min + 1);
    const total = sizes.reduce((a, b) => a * b, 1);
    for (let k = 0; k < total; k++) {
      let r = k; const idx = sizes.map(s => { const v = r % s; r = Math.floor(r / s); return v; });
      const key = idx.join('_');
      if (!frames[key]) res.missing_frames.push(key);
    }
    for (let j = 0; j < names.length; j++) {
      const input = inputs[j], out = document.getElementById(id + '-' + names[j] + '-out');
      const labels = JSON.parse(input.dataset.labels || '[]');
      const before = img.getAttribute('src'), from = +input.value;
      const to = from === +input.max ? +input.min : +input.max;
      input.value = String(to);
      input.dispatchEvent(new Event('input', {bubbles: true}));
      const after = img.getAttribute('src');
      await new Promise(r => { if (img.complete) r(); else { img.onload = img.onerror = r; } });
      res.sliders.push({name: names[j], from, to, changed: after !== before, loaded: img.naturalWidth > 0,
                        readout: out ? out.textContent : null, expected: labels[to]});
    }
    panels.push(res);
  }
  return panels;
}
"""


def _known(check: str) -> set[str]:
    """Pages whose ``check`` fails for a known chapter-side reason (tests/browser_known_issues.txt)."""
    out = set()
    for line in (ROOT / "tests" / "browser_known_issues.txt").read_text().splitlines():
        fields = line.split("#", 1)[0].split()
        if len(fields) == 2 and fields[1] == check:
            out.add(fields[0])
    return out


def _allowed_pages() -> set[str]:
    pages = set()
    for line in (ROOT / "tests" / "long_code_lines_allowed.txt").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            pages.add(Path(line.split()[0]).with_suffix(".html").as_posix())
    return pages


def _build(tmp: Path) -> Path:
    from ci import runner

    nbs = runner.toc_notebooks(ROOT)
    if os.environ.get("NBS_BROWSER_NOTEBOOKS", "") != "all":
        firsts = {}
        for p in nbs:
            firsts.setdefault(p.parent, p)
        nbs = list(firsts.values())
    py = sys.executable
    rels = [str(p.relative_to(ROOT)) for p in nbs]
    r = subprocess.run([py, "-m", "ci.runner", "--profile", "smoke", "--jobs", "2", "--out", str(tmp),
                        "--no-check-verdicts", *rels], cwd=ROOT, capture_output=True, text=True)
    assert (tmp / "reproduction.json").is_file(), f"smoke run failed:\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}"
    r = subprocess.run([py, "-m", "ci.build_book", "--no-execute", "--no-check-verdicts", "--out", str(tmp)],
                       cwd=ROOT, capture_output=True, text=True)
    html = tmp / "html"
    assert (html / "index.html").is_file(), f"book build failed:\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}"
    return html


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """The built site's ``html`` folder and the seconds the build took (``bench.json`` lies beside it)."""
    if WHY_NOT:
        pytest.skip("browser tests: " + WHY_NOT)
    t0 = time.time()
    html = Path(os.environ["NBS_BROWSER_HTML"]) if os.environ.get("NBS_BROWSER_HTML") else \
        _build(tmp_path_factory.mktemp("book"))
    return html, time.time() - t0


@pytest.fixture(scope="module")
def pages(built):
    from playwright.sync_api import sync_playwright

    html, t_build = built
    t0 = time.time() - t_build
    assert (html / "index.html").is_file(), f"no built book at {html}"
    files = sorted(p for p in html.rglob("*.html")
                   if not {"_static", "_sources", "_images"} & set(p.relative_to(html).parts))
    results = {}
    with sync_playwright() as pw:
        browser = site.launch(pw)
        context = browser.new_context(viewport=VIEWPORT)
        outside = []

        def guard(route):
            url = route.request.url
            if url.startswith("file://") or url.startswith("data:") or url.startswith("blob:"):
                route.continue_()
            else:
                outside.append(url)
                route.abort()

        context.route("**/*", guard)
        page = context.new_page()
        for f in files:
            rel = f.relative_to(html).as_posix()
            refresh = re.search(r'http-equiv="refresh" content="\d+;\s*url=([^"]+)"', f.read_text(), re.I)
            if refresh:  # a redirect page (index.html → the book's first page): its target must exist
                target = (f.parent / refresh.group(1).split("#")[0]).resolve()
                results[rel] = {"redirect": str(target), "missing": not target.is_file()}
                continue
            errors, failed = [], []
            outside.clear()
            page.on("console", on_console := (lambda m: errors.append(m.text) if m.type == "error" else None))
            page.on("pageerror", on_error := (lambda e: errors.append(str(e))))
            page.on("requestfailed", on_failed := (lambda r: failed.append(f"{r.url} ({r.failure})")))
            page.goto(f.as_uri(), wait_until="load")
            site.wait_for_math(page)
            page.evaluate("() => document.fonts.ready.then(() => true)")  # fonts requested after load
            page.wait_for_timeout(200)
            res = page.evaluate(PAGE_CHECKS)
            res["explorers"] = page.evaluate(EXPLORER_CHECKS)  # console errors of the sliders count too
            page.wait_for_timeout(50)
            page.remove_listener("console", on_console)
            page.remove_listener("pageerror", on_error)
            page.remove_listener("requestfailed", on_failed)
            res.update(errors=errors, failed=[x for x in failed if not any(o in x for o in outside)],
                       outside=list(outside))
            results[rel] = res
        browser.close()
    summary = {"pages": len(results), "build_s": round(t_build, 1), "browser_s": round(time.time() - t0 - t_build, 1)}
    print("\nbrowser check:", json.dumps(summary))
    redirects = {p: r for p, r in results.items() if "redirect" in r}
    missing = [p for p, r in redirects.items() if r["missing"]]
    assert not missing, f"redirect pages pointing at nothing: {missing}"
    return {p: r for p, r in results.items() if p not in redirects}


def _report(bad: dict) -> str:
    return "\n".join(f"  {page}: {what}" for page, what in sorted(bad.items()))


def test_the_site_was_built_with_every_page(pages):
    assert "index.html" in pages or any(p.endswith("intro.html") for p in pages)
    assert any(p.startswith("book/report") for p in pages)
    assert sum(p.startswith("book/") for p in pages) >= 10


def test_no_request_leaves_the_site_and_none_fails(pages):
    bad = {p: r["outside"] + r["failed"] for p, r in pages.items()
           if (r["outside"] or r["failed"]) and p not in _known("requests")}
    assert not bad, "requests that left the site or failed:\n" + _report(bad)


def test_no_console_errors(pages):
    bad = {p: r["errors"] for p, r in pages.items() if r["errors"] and p not in _known("console")}
    assert not bad, "console errors:\n" + _report(bad)


def test_math_is_typeset(pages):
    with_math = {p: r for p, r in pages.items() if r["math"]}
    assert len(with_math) >= 5, "hardly any page has math: is MathJax configured?"
    bad = {p: f"{r['math']} math elements, {r['mjx']} MathJax containers; errors {r['merror']}; raw {r['raw'][:3]}"
           for p, r in pages.items()
           if (r["mjx"] < r["math"] or r["merror"] or r["raw"]) and p not in _known("math")}
    assert not bad, "math not typeset:\n" + _report(bad)


def test_every_image_loads(pages):
    assert sum(r["images"] for r in pages.values()) > 0, "no image on any page: were the notebooks executed?"
    bad = {p: r["broken"] for p, r in pages.items() if r["broken"] and p not in _known("images")}
    assert not bad, "images that did not load:\n" + _report(bad)


def test_code_blocks_fit_the_text_column(pages):
    allowed = _allowed_pages()
    bad = {}
    for p, r in pages.items():
        wide = [w for w in r["wide"] if not (w["input"] and p in allowed) and p not in _known("code")]
        if wide:
            bad[p] = [f"{'input' if w['input'] else 'output'} {w['chars']} chars: {w['text']}…" for w in wide]
    assert not bad, "code blocks wider than the text column:\n" + _report(bad)



# ---------------------------------------------------------------- explorers
def _explorers(pages) -> dict:
    found = {p: r["explorers"] for p, r in pages.items() if r.get("explorers")}
    if not found:
        pytest.skip("no explorer panel on the built pages (no executed notebook calls explorer.explore)")
    return found


def _slider_problems(panels: list[dict]) -> list[str]:
    bad = []
    for x in panels:
        bad += [f"{x['title']}: {p}" for p in x["problems"]]
        for s in x["sliders"]:
            if not s["changed"]:
                bad.append(f"{x['title']}: moving {s['name']} {s['from']}→{s['to']} left the image unchanged")
            if not s["loaded"]:
                bad.append(f"{x['title']}: the frame for {s['name']} = {s['to']} did not load")
            if s["readout"] != s["expected"]:
                bad.append(f"{x['title']}: {s['name']} reads {s['readout']!r}, expected {s['expected']!r}")
    return bad


def test_explorer_sliders_change_the_figure_and_the_readout(pages):
    bad = {p: _slider_problems(panels) for p, panels in _explorers(pages).items()}
    bad = {p: b for p, b in bad.items() if b and p not in _known("explorer")}
    assert not bad, "explorer sliders that do not work:\n" + _report(bad)


def test_explorer_frames_cover_every_slider_position(pages):
    bad = {p: [f"{x['title']}: no frame for positions {x['missing_frames'][:5]}" for x in panels if x["missing_frames"]]
           for p, panels in _explorers(pages).items()}
    bad = {p: b for p, b in bad.items() if b}
    assert not bad, "explorers missing frames:\n" + _report(bad)


def _bench(built) -> dict:
    path = built[0].parent / "bench.json"
    if not path.is_file():
        pytest.skip(f"no bench.json beside {built[0]} (a site built without ci.build_book's stage?)")
    return json.loads(path.read_text())


def test_live_sliders_end_on_precomputed_frames(built):
    """The live Jupyter sliders' ends are precomputed (timed) frames: within the grid's first and last value."""
    bench = _bench(built)
    bad = []
    for x in bench["explorers"]:
        for name, values in x["grid"].items():
            ends = (x.get("live_ends") or {}).get(name)
            if ends is None:
                continue
            try:
                lo, hi = min(map(float, values)), max(map(float, values))
                outside = [e for e in map(float, ends) if not lo <= e <= hi]
            except ValueError:
                outside = [e for e in ends if e not in values]
            if outside:
                bad.append(f"{x['notebook']} {x['title']!r}: live {name} ends {ends} outside the frames' {values}")
    assert not bad, "\n".join(bad)


def _known_overlaps() -> list[tuple[str, str]]:
    out = []
    for line in (ROOT / "tests" / "figure_overlaps_known.txt").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            path, _, figure = line.partition(" ")
            out.append((path, figure.strip()))
    return out


def test_displayed_figures_have_no_overlapping_texts(built):
    """Every figure the executed notebooks displayed was checked when drawn (nbs_lib.plotting.check_displayed);
    an overlap fails unless tests/figure_overlaps_known.txt lists its notebook (and figure title)."""
    known = _known_overlaps()
    bad = [f"{f['notebook']} cell {f['cell']} {f['figure']!r}: " + "; ".join(" ".join(p) for p in f["overlaps"])
           for f in _bench(built)["figure_checks"]
           if not any(f["notebook"] == path and figure in ("", f["figure"]) for path, figure in known)]
    assert not bad, "figures with overlapping texts:\n  " + "\n  ".join(bad)


def test_a_standalone_explorer_panel_works_in_chromium():
    """The panel's own script, without the book: sliders swap the frames and update the readouts."""
    if WHY_NOT:
        pytest.skip("browser tests: " + WHY_NOT)
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from playwright.sync_api import sync_playwright

    from nbs_lib import explorer

    def draw(a, b):
        fig, ax = plt.subplots(figsize=(1.5, 1.5))
        ax.plot([0, 1], [0, a * b])
        ax.set_ylim(0, 12)

    grid = {"a": [1, 2, 3], "b": [5e-4, 4.0]}
    frames, _ = explorer.render_frames(draw, grid)
    panel = explorer.static_html(frames, grid, title="demo", initial={"a": 1})
    with sync_playwright() as pw:
        browser = site.launch(pw)
        page = browser.new_page()
        errors = []
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.set_content(f"<html><body>{panel}</body></html>")
        [res] = page.evaluate(EXPLORER_CHECKS)
        browser.close()
    assert _slider_problems([res]) == [] and res["missing_frames"] == [] and errors == []
    assert [(s["name"], s["from"], s["to"], s["readout"]) for s in res["sliders"]] == [
        ("a", 1, 2, "3"), ("b", 0, 1, "4")]
