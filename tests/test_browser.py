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
def pages(tmp_path_factory):
    if WHY_NOT:
        pytest.skip("browser tests: " + WHY_NOT)
    from playwright.sync_api import sync_playwright

    t0 = time.time()
    html = Path(os.environ["NBS_BROWSER_HTML"]) if os.environ.get("NBS_BROWSER_HTML") else \
        _build(tmp_path_factory.mktemp("book"))
    t_build = time.time() - t0
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
