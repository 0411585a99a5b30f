"""The book's contract, checked on the sources (issues 10 and 11):

- every registered claim is checked by exactly one notebook, which names its id as a literal (in
  ``registry.check`` or in a tuple a loop of checks runs over), and every id a notebook names is registered
  (so a notebook cannot hold its own criterion);
- notebooks never call ``claims.record`` / ``claims.grade`` (the registry judges);
- notebooks are thin: ≤ 100 code lines (non-blank, non-comment), ≤ 2 ``def``s, ≤ 2,800 lines in all;
- the Markdown pages (``book/**/*.md``, ``README.md``) carry no typed measured number (a setting is
  written as math or code, ``$\\eta = 0.1$``; results are glued or generated).

Notebooks not yet migrated to the contract are listed in ``tests/pending_thin.txt`` (to be emptied).
"""
import ast
import re
from pathlib import Path

import nbformat
import pytest

from nbs_lib import registry

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted(p for p in (ROOT / "book").rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts)
PENDING = {line.strip() for line in (ROOT / "tests" / "pending_thin.txt").read_text().splitlines()
           if line.strip() and not line.startswith("#")}
CHECK = re.compile(r"registry\.check\(\s*(['\"])(?P<id>[^'\"]+)\1")
ANY_CHECK = re.compile(r"registry\.check\(")
# a claim id written as a string literal anywhere in a notebook (e.g. a tuple a loop of checks runs over)
LITERAL_ID = re.compile(r"(['\"])(?P<id>(?:intro|\d{3})\.[A-Za-z0-9_\-]+(?:\.[A-Za-z0-9_\-]+)+)\1")


def _code(path: Path) -> list[str]:
    nb = nbformat.read(str(path), as_version=4)
    return [c.source for c in nb.cells if c.cell_type == "code"]


def _rel(p: Path) -> str:
    return p.relative_to(ROOT).as_posix()


def _checked_ids() -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for p in NOTEBOOKS:
        if _rel(p) in PENDING:
            continue
        ids = set()
        for src in _code(p):
            ids |= {m.group("id") for m in LITERAL_ID.finditer(src)}
        for i in ids:
            found.setdefault(i, []).append(_rel(p))
    return found


def test_every_registered_claim_is_checked_once_and_every_check_is_registered():
    found = _checked_ids()
    entries = registry.all_entries()
    unregistered = sorted(set(found) - set(entries))
    assert not unregistered, f"checked but not in any registry: {unregistered}"
    twice = {k: v for k, v in found.items() if len(v) > 1}
    assert not twice, f"checked by more than one call: {twice}"
    pending_chapters = {Path(p).parts[1].split("_")[0] for p in PENDING}
    missing = sorted(k for k in set(entries) - set(found) if k.split(".")[0] not in pending_chapters)
    assert not missing, f"registered but never checked: {missing}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[_rel(p) for p in NOTEBOOKS])
def test_notebook_uses_the_registry_only(path):
    if _rel(path) in PENDING:
        pytest.skip("not yet migrated (tests/pending_thin.txt)")
    src = "\n".join(_code(path))
    assert not re.search(r"\b(claims|nl)\.(record|grade)\(", src), "notebooks check claims through registry.check"
    if len(ANY_CHECK.findall(src)) > len(CHECK.findall(src)):
        assert LITERAL_ID.search(src), (
            "the claim ids a notebook checks must be written in it as literals (registry.check('000.x', …) or a "
            "loop over a literal tuple of ids), so that the registry test can see them")


def _code_lines(srcs: list[str]) -> tuple[int, int]:
    lines = [ln for s in srcs for ln in s.splitlines() if ln.strip() and not ln.strip().startswith("#")]
    defs = sum(isinstance(n, (ast.FunctionDef, ast.ClassDef, ast.AsyncFunctionDef))
               for s in srcs for n in ast.walk(ast.parse(s)))
    return len(lines), defs


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[_rel(p) for p in NOTEBOOKS])
def test_notebook_is_thin(path):
    if _rel(path) in PENDING:
        pytest.skip("not yet migrated (tests/pending_thin.txt)")
    n, defs = _code_lines(_code(path))
    assert n <= 100, f"{n} code lines (limit 100): move protocol code into the chapter's experiments module"
    assert defs <= 2, f"{defs} defs/classes (limit 2, plot touches only)"


def test_total_code_lines():
    if PENDING:
        pytest.skip("some notebooks are not yet migrated")
    total = sum(_code_lines(_code(p))[0] for p in NOTEBOOKS)
    assert total <= 2800, f"{total} notebook code lines in all (limit 2,800)"


# A typed measured number: a decimal, a factor (3×) or a percentage, outside math, code, glue and citations.
_NUM = re.compile(r"(?<![\w.])(\d+(?:\.\d+)?\s?[×x](?![\w])|\d+(?:\.\d+)?\s?%|\d+\.\d+)")
_STRIP = [re.compile(r"```.*?```", re.S), re.compile(r"\$\$.*?\$\$", re.S), re.compile(r"\$[^$\n]*\$"),
          re.compile(r"\{glue[^}]*\}`[^`]*`"), re.compile(r"\{cite[^}]*\}`[^`]*`"), re.compile(r"`[^`\n]*`"),
          re.compile(r"<!--.*?-->", re.S)]
# Allowed: software versions, and section/equation/lemma numbers of the papers (those are not measurements).
_ALLOWED_BEFORE = re.compile(r"(Python|version|v|§|Lemmas?|Theorems?|Thms?\.?|Figs?\.|Figures?|eqs?\.|Tables?|"
                             r"Assumptions?|Remarks?|Corollary|Corollaries|Propositions?|Prop\.|Definitions?|"
                             r"Def\.|Sections?|Algorithms?|Claims?|Appendix|Facts?)\s*\(?"
                             r"([\w.]+\)?\s*(,|and|or|–|-)\s*\(?)*$")


def typed_numbers(text: str) -> list[str]:
    """Return the typed measured-looking numbers of a Markdown text (see the module docstring)."""
    for rx in _STRIP:
        text = rx.sub(" ", text)
    out = []
    for m in _NUM.finditer(text):
        before = text[max(0, m.start() - 24):m.start()]
        if _ALLOWED_BEFORE.search(before):
            continue
        out.append(m.group(0))
    return out


def test_typed_numbers_detector():
    assert typed_numbers("the speed-up is 121× and the slope 0.497") == ["121×", "0.497"]
    assert typed_numbers("with $\\eta = 0.1$ and {glue:text}`x:.2f` in `code 1.5`") == []
    assert typed_numbers("Lemma 3.8 and Theorem 4.1, Python 3.11") == []
    assert typed_numbers("GReLU is 1.4× slower, 20 % of neurons") == ["1.4×", "20 %"]


MD_PAGES = sorted(p for p in (ROOT / "book").rglob("*.md") if p.name != "report.md") + [ROOT / "README.md"]


@pytest.mark.parametrize("path", MD_PAGES, ids=[_rel(p) for p in MD_PAGES])
def test_markdown_page_has_no_typed_measurement(path):
    chapter = path.relative_to(ROOT).parts[1] if path.parent != ROOT else ""
    if any(p.startswith(f"book/{chapter}/") for p in PENDING) and chapter:
        pytest.skip("chapter not yet migrated (tests/pending_thin.txt)")
    found = typed_numbers(path.read_text())
    assert not found, f"typed numbers (paste them from the run, or generate the page): {found}"


def test_quoted_claim_counts_are_current():
    from ci import counts

    for page in counts.PAGES:
        assert counts.render(page.read_text()) == page.read_text(), (
            f"{page.name}: the claim counts are stale; run python -m ci.counts")


def test_gpu_page_is_generated_from_the_committed_report():
    import json as _json

    from ci import gpu_report

    data = gpu_report.DATA
    report = _json.loads(data.read_text()) if data.is_file() else None
    assert gpu_report.PAGE.read_text() == gpu_report.page(report), "run python -m ci.gpu_report --write"
    if report is None:
        assert "Not run yet" in gpu_report.PAGE.read_text()


# ---------------------------------------------------------------- explorers (issue 14)
EXPLORE = re.compile(r"\bexplorer\.explore\(")
INTERACT = re.compile(r"\bwidgets\.interact\(")
EXPLORERS_PENDING = {line.split("#", 1)[0].strip() for line in
                     (ROOT / "tests" / "explorers_pending.txt").read_text().splitlines()} - {""}
CHAPTERS = sorted(p for p in (ROOT / "book").iterdir() if p.is_dir() and (p.name == "intro" or p.name[:3].isdigit()))


def _explorer_cells(chapter: Path) -> tuple[int, list[str]]:
    """Return (cells calling explorer.explore, notebooks calling widgets.interact) of a chapter folder."""
    n, interact = 0, []
    for path in sorted(chapter.glob("*.ipynb")):
        srcs = _code(path)
        n += sum(bool(EXPLORE.search(s)) for s in srcs)
        if any(INTERACT.search(s) for s in srcs):
            interact.append(_rel(path))
    return n, interact


@pytest.mark.parametrize("chapter", CHAPTERS, ids=[p.name for p in CHAPTERS])
def test_chapter_has_its_explorers(chapter):
    """Every chapter shows at least two explorers over the paper's knobs, the primer at least one; a converted
    chapter calls ``widgets.interact`` nowhere (chapters not yet converted: tests/explorers_pending.txt)."""
    key = "intro" if chapter.name == "intro" else chapter.name[:3]
    if key in EXPLORERS_PENDING:
        pytest.skip(f"{chapter.name}: explorers pending (tests/explorers_pending.txt)")
    n, interact = _explorer_cells(chapter)
    need = 1 if key == "intro" else 2
    assert n >= need, f"{chapter.name}: {n} explorer.explore cell(s), at least {need} needed"
    assert not interact, f"{chapter.name}: widgets.interact still called in {interact}"


def test_explorers_pending_names_only_chapters():
    assert EXPLORERS_PENDING <= {p.name[:3] for p in CHAPTERS if p.name != "intro"}, EXPLORERS_PENDING
