"""Recording claim checks so that they survive papermill execution.

A notebook records each check of a paper's claim with :func:`record`. The record is shown in the
notebook as a short Markdown block and carried, machine-readably, in the same output under the MIME type
:data:`MIME`; ``ci.runner`` collects those outputs from the executed notebook into
``_build/reproduction.json`` and the book's report page. Nothing about a verdict is typed by hand: the
notebook computes it from its measurement (see :func:`grade`) and states the verdict the book *expects*,
so a build whose measurement lands elsewhere fails.

Verdicts: ``reproduced``, ``partly``, ``not reproduced``; ``not assessed`` is allowed only when the run's
profile is smaller than the one the measurement needs (``needs=``), e.g. at ``smoke``.
"""
from __future__ import annotations

import json
import math
import re
from dataclasses import asdict, dataclass, field
from typing import Any, Mapping

from . import profiles

MIME = "application/vnd.nbs-lib.claim+json"
#: separates alternative expected verdicts (a timing claim may be decided or not assessed, by the machine's noise)
ALTERNATIVES = " | "
VERDICTS = ("reproduced", "partly", "not reproduced")
NOT_ASSESSED = "not assessed"
_ID = re.compile(r"^[A-Za-z0-9]+(\.[A-Za-z0-9_\-]+)+$")

_RECORDED: list["Claim"] = []


@dataclass
class Claim:
    """One checked claim: what the paper says, what we measured, the verdict and the expected verdict."""

    id: str
    chapter: str
    paper_ref: str
    paper_says: str
    measured: str
    values: dict = field(default_factory=dict)
    verdict: str = NOT_ASSESSED
    expected_verdict: str = "reproduced"
    profile: str = "cpu"
    needs: str = "smoke"
    kind: str = "unregistered"
    criterion: str = ""
    source: str = ""
    reason: str = ""
    diverged: bool = False
    data: str | None = None
    why: str = ""

    def _ipython_display_(self):
        """Show nothing as a cell's value: :func:`record` has already displayed the claim."""

    def matches_expected(self) -> bool:
        """Return True when the verdict is the expected one (or legitimately not assessed at this profile)."""
        if self.diverged:
            return False
        allowed = self.expected_verdict.split(ALTERNATIVES)
        if self.verdict == NOT_ASSESSED and NOT_ASSESSED not in allowed:
            return not profiles.at_least(self.profile, self.needs)
        return self.verdict in allowed


def _jsonable(value: Any) -> Any:
    """Return ``value`` converted to plain JSON types (tensors/arrays to lists, non-finite floats to str)."""
    if hasattr(value, "detach"):
        value = value.detach().cpu().numpy()
    if hasattr(value, "tolist") and not isinstance(value, (str, bytes)):
        value = value.tolist()
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, (bool, int, float, str)) or value is None:
        return value
    return str(value)


def grade(checks: Mapping[str, bool]) -> str:
    """Return ``reproduced`` if every check passed, ``partly`` if some did, ``not reproduced`` if none did."""
    if not checks:
        raise ValueError("checks must hold at least one named boolean")
    passed = [bool(v) for v in checks.values()]
    if all(passed):
        return "reproduced"
    return "partly" if any(passed) else "not reproduced"


def within(measured: float, target: float, rtol: float) -> bool:
    """Return True when ``|measured - target| <= rtol * |target|`` (and both are finite)."""
    if not (math.isfinite(measured) and math.isfinite(target)):
        return False
    return abs(measured - target) <= rtol * abs(target)


def expected_for(expected: str | Mapping[str, str], profile: str) -> str:
    """Return the expected verdict at ``profile``; a mapping may give per-profile verdicts (``cpu`` is the default)."""
    if isinstance(expected, (list, tuple)):
        return ALTERNATIVES.join(expected)
    if isinstance(expected, str):
        return expected
    p = profiles.check_profile(profile)
    if p in expected:
        return expected_for(expected[p], p)
    if "cpu" not in expected:
        raise ValueError(f"expected must name a verdict for 'cpu', got {dict(expected)!r}")
    return expected_for(expected["cpu"], p)


def record(
    id: str,
    *,
    paper_ref: str,
    paper_says: str,
    measured: str,
    values: Mapping[str, Any] | None = None,
    verdict: str,
    expected: str | Mapping[str, str],
    profile: str,
    needs: str = "smoke",
    chapter: str | None = None,
    display: bool = True,
    **registered,
) -> Claim:
    """Record one claim check, display it, and return the :class:`Claim`.

    ``id`` looks like ``"000.fig1.nag_faster"`` (the chapter is the part before the first dot unless
    ``chapter`` is given). ``verdict`` must be computed from the measurement (e.g. with :func:`grade`).
    ``needs`` is the smallest profile at which the measurement means something: below it the verdict is
    recorded as ``not assessed`` whatever was passed, and the numbers are still recorded.
    """
    if not isinstance(id, str) or not _ID.match(id):
        raise ValueError(f"id must look like 'chapter.figure.name' (letters, digits, '_', '-'), got {id!r}")
    profile = profiles.check_profile(profile)
    needs = profiles.check_profile(needs)
    exp = expected_for(expected, profile)
    allowed = VERDICTS + ((NOT_ASSESSED,) if registered else ())
    for name, v in (("verdict", verdict), ("expected", exp)):
        if any(x not in allowed for x in v.split(ALTERNATIVES)) or (name == "verdict" and ALTERNATIVES in v):
            raise ValueError(f"{name} must be one of {allowed}, got {v!r}")
    if not profiles.at_least(profile, needs):
        verdict = NOT_ASSESSED
    for name, text in (("paper_ref", paper_ref), ("paper_says", paper_says), ("measured", measured)):
        if not isinstance(text, str) or not text.strip():
            raise ValueError(f"{name} must be a non-empty string")
    claim = Claim(
        id=id,
        chapter=chapter or id.split(".", 1)[0],
        paper_ref=paper_ref,
        paper_says=paper_says,
        measured=measured,
        values=_jsonable(dict(values or {})),
        verdict=verdict,
        expected_verdict=exp,
        profile=profile,
        needs=needs,
        **registered,
    )
    _RECORDED[:] = [c for c in _RECORDED if c.id != claim.id] + [claim]
    if display:
        _display(claim)
    return claim


def recorded() -> list[Claim]:
    """Return the claims recorded so far in this kernel."""
    return list(_RECORDED)


def _markdown(c: Claim) -> str:
    ok = "✔" if c.matches_expected() else "✘ (expected: " + c.expected_verdict + ")"
    verdict = c.verdict + (f" ({c.reason})" if c.reason else "")
    kind = f" · {c.kind}" if c.kind != "unregistered" else ""
    text = (f"**Claim `{c.id}`** ({c.paper_ref}{kind}) — verdict: **{verdict}** {ok}\n\n"
            f"- *Paper:* {c.paper_says}\n")
    if c.criterion:
        text += f"- *Criterion (registered before the run):* {c.criterion} — *source:* {c.source}\n"
    text += f"- *Measured ({c.profile} profile):* {c.measured}\n"
    if c.why and c.verdict == c.expected_verdict and c.verdict != "reproduced":
        text += f"- *Why:* {c.why}\n"
    return text


def _display(c: Claim) -> None:
    payload = asdict(c)
    try:
        from IPython.display import display

        display({"text/markdown": _markdown(c), "text/plain": _markdown(c), MIME: payload}, raw=True)
    except ImportError:  # pragma: no cover - outside IPython
        print(_markdown(c))


def _esc(text) -> str:
    return str(text).replace("|", "\\|")


def summary_markdown(claims: list[Claim] | None = None) -> str:
    """Return a Markdown table of the claims recorded in this kernel (for a notebook's closing cell)."""
    claims = recorded() if claims is None else claims
    rows = ["| claim | paper | kind | verdict | expected |", "|---|---|---|---|---|"]
    for c in claims:
        verdict = _esc(c.verdict + (f" ({c.reason})" if c.reason else ""))
        mark = "" if c.matches_expected() else " ✘"
        rows.append(f"| `{c.id}` | {_esc(c.paper_ref)} | {c.kind} | {verdict}{mark} | {c.expected_verdict} |")
    diverged = [c.id for c in claims if c.diverged]
    if diverged:
        rows += ["", f"**Diverged** (non-finite metrics, not graded): {', '.join(f'`{i}`' for i in diverged)}"]
    return "\n".join(rows)


def show_summary() -> None:
    """Display :func:`summary_markdown` as Markdown."""
    from IPython.display import Markdown, display

    display(Markdown(summary_markdown()))


def from_notebook(nb: Mapping) -> list[dict]:
    """Return the claim payloads found in an executed notebook's outputs (later records of an id win)."""
    found: dict[str, dict] = {}
    for cell in nb.get("cells", []):
        for out in cell.get("outputs", []) or []:
            data = out.get("data") or {}
            if MIME in data:
                payload = data[MIME]
                if isinstance(payload, str):
                    payload = json.loads(payload)
                found[payload["id"]] = dict(payload)
    return list(found.values())
