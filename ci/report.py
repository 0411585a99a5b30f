"""The reproduction report page, generated from ``reproduction.json`` (see ``ci/runner.py``).

    from ci.report import report_markdown
    text = report_markdown(json.loads(Path("_build/reproduction.json").read_text()))

The summary counts claims per chapter by kind: the paper's claims apart from the book's own checks
(implementation, extension, erratum). Every claim shows its registered criterion and source, the measured
values with the data they used, and the verdict with its reason. Claims of a notebook that failed are shown
apart, as "from a failed notebook", and never enter the verdict counts; a chapter with a failed notebook
never reads "0 unexpected".
"""
from __future__ import annotations

import datetime as _dt
from pathlib import Path

from ci import runner

VERDICT_STYLE = {
    "reproduced": "#c8e6c9",
    "partly": "#ffe0b2",
    "not reproduced": "#ffcdd2",
    "not assessed": "#e0e0e0",
}
DIVERGED_STYLE = "#f8bbd0"
CHAPTER_TITLES = {
    "intro": "Primer: kernels of a wide ReLU layer",
    "000": "000 · Near-linear width and unbalanced initialisation",
    "001": "001 · Feature-learning dynamics of two-layer linear networks",
    "002": "002 · When both layers learn",
    "003": "003 · Subquadratic training of deep over-parametrised networks",
    "004": "004 · GReLU surrogate networks",
}
OTHER_KINDS = ("implementation", "extension", "erratum")


def _cell(text) -> str:
    return " ".join(str("" if text is None else text).split()).replace("|", "\\|")


def _badge(verdict: str, diverged: bool = False) -> str:
    colour = DIVERGED_STYLE if diverged else VERDICT_STYLE.get(verdict, "#e0e0e0")
    label = "diverged" if diverged else verdict
    return f'<span style="background:{colour};padding:1px 6px;border-radius:4px;white-space:nowrap">{label}</span>'


def _doc_link(nb_path: str) -> str:
    try:
        rel = Path(nb_path).relative_to("book").with_suffix("").as_posix()
    except ValueError:
        return f"`{nb_path}`"
    return f"{{doc}}`{Path(nb_path).stem} <{rel}>`"


def _chapters(claims: list[dict], notebooks: list[dict]) -> list[str]:
    seen = {x["chapter"] for x in claims} | {n["chapter"] for n in notebooks}
    return [c for c in CHAPTER_TITLES if c in seen] + sorted(seen - set(CHAPTER_TITLES))


def _counts_row(label: str, kind: str, cs: list[dict], bad: set, n_failed_nbs: int, from_failed: int) -> str:
    graded = [c for c in cs if not c.get("from_failed")]
    counts = [sum(c["verdict"] == v and not c.get("diverged") for c in graded) for v in VERDICT_STYLE]
    diverged = sum(bool(c.get("diverged")) for c in graded)
    unexpected = sum(c["id"] in bad for c in graded)
    unexp = (f"≥ {unexpected} (not known: {n_failed_nbs} failed notebook{'s' * (n_failed_nbs > 1)})"
             if n_failed_nbs else str(unexpected))
    return (f"| {label} | {kind} | {len(graded)} | " + " | ".join(map(str, counts))
            + f" | {diverged} | {unexp} | {from_failed} |")


def _verdict_cell(c: dict, bad: set) -> str:
    text = _badge(c["verdict"], bool(c.get("diverged")))
    if c.get("diverged"):
        text += f"<br>{_cell(c['verdict'])}"
    if c.get("reason"):
        text += f"<br>*{_cell(c['reason'])}*"
    if c.get("from_failed"):
        text += "<br>**from a failed notebook**"
    elif c["id"] in bad:
        text += f"<br>✘ expected: {_cell(c['expected_verdict'])}"
    elif c.get("why") and c["verdict"] != "reproduced":
        text += f"<br>why: {_cell(c['why'])}"
    return text


def _claim_row(c: dict, bad: set) -> str:
    kind = c.get("kind") or "unregistered"
    claim = f"`{c['id']}`<br>{_cell(c['paper_ref'])} · {kind}<br>{_doc_link(c['notebook'])}"
    crit = _cell(c.get("criterion")) or "—"
    if c.get("source"):
        crit += f"<br>*source:* {_cell(c['source'])}"
    measured = _cell(c["measured"])
    if c.get("data") and str(c["data"]) not in str(c["measured"]):
        measured += f"<br>*data:* {_cell(c['data'])}"
    return f"| {claim} | {_cell(c['paper_says'])} | {crit} | {measured} | {_verdict_cell(c, bad)} |"


def _figures_section(figures: list[dict]) -> list[str]:
    lines = ["", "## Figures with overlapping texts", "",
             "Every figure a notebook displays is checked once drawn (`nbs_lib.plotting.check_displayed`): "
             "texts of the figure (titles, labels, tick labels, legends, notes) whose boxes overlap."]
    if not figures:
        return lines + ["", "None in this build."]
    lines += ["", "| notebook | cell | figure | overlapping texts |", "|---|---|---|---|"]
    for f in figures:
        pairs = "<br>".join(_cell(f"{w}: {what}") for w, what in f.get("overlaps", []))
        lines.append(f"| {_doc_link(f['notebook'])} | {f.get('cell', '?')} | {_cell(f.get('figure', ''))} | {pairs} |")
    return lines


def _timings_section(bench: dict, gpu: dict | None) -> list[str]:
    from ci import site

    lines = ["", "## Timings", "",
             "The speed measurements (`nbs_lib.bench`) and explorer redraws of this build, per chapter, from "
             "`_build/bench.json` (a chapter's tables are also in the overview on its index page)."]
    chapters = {e["chapter"] for e in bench.get("benchmarks", []) + bench.get("explorers", [])}
    chapters |= {e["chapter"] for e in (gpu or {}).get("benchmarks", [])}
    if not chapters:
        return lines + ["", "No notebook published a timing in this build."]
    for ch in [c for c in CHAPTER_TITLES if c in chapters] + sorted(chapters - set(CHAPTER_TITLES)):
        lines += ["", f"### {CHAPTER_TITLES.get(ch, ch)}", ""] + site.bench_markdown(bench, ch, gpu, heading="####")
    return lines


def report_markdown(report: dict, *, built: str | None = None, figures: list[dict] | None = None,
                    bench: dict | None = None, gpu: dict | None = None) -> str:
    """Return the Markdown of the reproduction report page for a ``reproduction.json`` content.

    ``figures``: the figures whose texts overlapped when displayed (``bench.json``'s ``figure_checks``);
    ``bench``/``gpu``: the run's timings and a GPU run's (``ci.site.collect_bench``); each listed in its
    own section when given.
    """
    claims = report["claims"]
    notebooks = report["notebooks"]
    bad = {c["id"] for c in runner.mismatches(report)}
    failed_nbs = [n for n in notebooks if n["status"] not in ("ok", "diverged")]
    diverged_nbs = [n for n in notebooks if n["status"] == "diverged"]
    built = built or _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    vers = report.get("versions") or {}
    status = report.get("status", "complete")
    lines = [
        "# Reproduction report",
        "",
        "Generated by `ci/report.py` from `_build/reproduction.json`; nothing on this page is typed by hand.",
        "",
        f"- **Profile:** `{report['profile']}`  ",
        f"- **Device:** {report['device']}  ",
        f"- **Commit:** `{report.get('git_commit', 'unknown')}`  ",
        f"- **Run:** `{report.get('run_id', 'unknown')}` ({status})"
        + (f"; {sum(bool(n.get('cached')) for n in notebooks)} notebook(s) reused from the execution cache"
           if any(n.get("cached") for n in notebooks) else "") + "  ",
    ]
    if vers:
        lines.append("- **Versions:** " + ", ".join(f"{k} {v}" for k, v in vers.items())
                     + (f"; {report['threads']} thread(s) per kernel" if report.get("threads") else "") + "  ")
    lines += [f"- **Built:** {built}", ""]
    if status != "complete":
        lines += [":::{warning}", f"This run is **{status}**: the numbers below are incomplete.", ":::", ""]
    if failed_nbs or diverged_nbs:
        lines += [":::{warning}"]
        if failed_nbs:
            lines.append(f"{len(failed_nbs)} notebook(s) failed: "
                         + ", ".join(_doc_link(n["path"]) for n in failed_nbs)
                         + ". Their claims recorded before the failure are listed apart (\"from a failed notebook\") "
                           "and the claims after it are missing, so the number of unexpected verdicts is not known.")
        if diverged_nbs:
            lines.append(("\n\n" if failed_nbs else "")
                         + f"{len(diverged_nbs)} notebook(s) diverged (a non-finite metric "
                         "reached a claim, which is then not assessed): "
                         + ", ".join(_doc_link(n["path"]) for n in diverged_nbs) + ".")
        lines += [":::", ""]
    lines += [
        "Each verdict is computed from the measurement against a criterion registered before the run (its "
        "source is given). The book also states an *expected* verdict for every claim (for the `cpu` profile); "
        "the build fails when the two differ, and a mismatch is marked ✘ below. `not assessed` marks a claim "
        "that needs a larger profile, more seeds, or whose metrics were not finite (`diverged`). Paper claims "
        "are counted apart from the book's own checks: *implementation* (our code against an independent "
        "computation), *extension* (our own experiments) and *erratum* (a statement as written that the book "
        "shows false).",
        "",
        "## Summary",
        "",
        "| chapter | kind | claims | " + " | ".join(VERDICT_STYLE)
        + " | diverged | unexpected | from failed notebooks |",
        "|---|---|---|" + "---|" * len(VERDICT_STYLE) + "---|---|---|",
    ]
    chapters = _chapters(claims, notebooks)
    for ch in chapters:
        cs = [c for c in claims if c["chapter"] == ch]
        n_failed = sum(n["chapter"] == ch for n in failed_nbs)
        label = "primer" if ch == "intro" else ch
        paper = [c for c in cs if c.get("kind") == "paper"]
        other = [c for c in cs if c.get("kind") != "paper"]
        by_kind = {k: sum(c.get("kind") == k for c in other if not c.get("from_failed")) for k in OTHER_KINDS}
        unreg = sum(c.get("kind") not in OTHER_KINDS for c in other if not c.get("from_failed"))
        parts = [f"{k} {v}" for k, v in by_kind.items() if v] + ([f"unregistered {unreg}"] if unreg else [])
        other_label = ", ".join(parts)
        lines.append(_counts_row(label, "paper", paper, bad, n_failed, sum(bool(c.get("from_failed")) for c in paper)))
        lines.append(_counts_row(label, f"other ({other_label or 'none'})", other, bad, n_failed,
                                 sum(bool(c.get("from_failed")) for c in other)))
    header = ["| claim | the paper says | criterion | we measured | verdict |", "|---|---|---|---|---|"]
    for ch in chapters:
        cs = [c for c in claims if c["chapter"] == ch]
        lines += ["", f"## {CHAPTER_TITLES.get(ch, ch)}", ""]
        graded = [c for c in cs if not c.get("from_failed")]
        failed = [c for c in cs if c.get("from_failed")]
        if graded:
            lines += header + [_claim_row(c, bad) for c in graded]
        elif not failed:
            lines.append("No claims recorded.")
        if failed:
            lines += ["", "### From a failed notebook", "",
                      "Recorded before the notebook failed; not counted with the claims above.", ""]
            lines += header + [_claim_row(c, bad) for c in failed]
    lines += ["", "## Notebooks", "", "| notebook | chapter | status | device | seconds |", "|---|---|---|---|---|"]
    for n in notebooks:
        st = n["status"]
        status_text = st if st == "ok" else f"**{st}**" + (f": {_cell(n['error'])}" if n.get("error") else "")
        if n.get("cached"):
            status_text += f" (from the cache, run `{n.get('cached_from')}`)"
        dev = n.get("device", report["device"])
        if n.get("device_source") and n["device_source"] != "context":
            dev = f"{dev} (requested)"
        lines.append(f"| {_doc_link(n['path'])} | {n['chapter']} | {status_text} | {_cell(dev)} | {n['seconds']:.1f} |")
    total = sum(n["seconds"] for n in notebooks if not n.get("cached"))
    reused = sum(n["seconds"] for n in notebooks if n.get("cached"))
    lines += ["", f"Total notebook time: {total:.0f} s at profile `{report['profile']}` on {report['device']}"
              + (f", plus {reused:.0f} s of notebooks reused from the cache (timed when they ran)." if reused else ".")
              + " Seconds of a cached notebook are those of the run that executed it.", ""]
    if bench is not None:
        lines += _timings_section(bench, gpu)
    if figures is not None:
        lines += _figures_section(figures) + [""]
    return "\n".join(lines)
