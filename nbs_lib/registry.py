"""Claim registries: every claim's criterion written down before the run, in a reviewed data file.

Each chapter keeps one YAML file (``nbs_lib/<chapter package>/claims.yaml``; the primer's is
``nbs_lib/claims_intro.yaml``). A notebook computes metrics and calls :func:`check`; the registry judges.
A notebook cannot set a threshold. An entry::

    000.fig1.nag_faster:
      kind: paper                 # paper | erratum | implementation | extension
      ref: "Fig. 1; Theorem 3.2"
      says: "NAG needs O(√κ log 1/ε) iterations where GD needs O(κ log 1/ε)."   # quote or paraphrase
      metrics:                    # every metric the notebook passes, with what it is
        ratio: "GD / NAG iterations to loss 1e-6, mean over seeds"
        n_seeds: "number of seeds"
      checks:                     # all pass → reproduced; some → partly; none → not reproduced
        - {metric: ratio, op: ">=", value: 3, name: "NAG ≥ 3× fewer iterations"}
      source: "√κ vs κ with κ(K₀) ≈ 40 at these sizes predicts a ratio near 6; 3 allows constants of 2 (spec P1)"
      requires:                   # optional: if one fails the claim is not assessed, with the reason
        - {metric: n_seeds, op: ">=", value: 5, reason: "too few seeds to decide"}
      needs: cpu                  # below this profile: not assessed
      expected: reproduced        # at cpu; or a mapping {cpu: …, paper: …}; a list of alternatives
                                  # (e.g. [reproduced, not assessed]) only for timing claims, with the why
      why: "…"                    # why the book expects that verdict (required unless reproduced)

Comparisons (``op``): ``<``, ``<=``, ``>``, ``>=``, ``==`` against ``value`` or another metric ``ref``;
``between`` with ``value: [lo, hi]``; ``abs<=`` (|metric| ≤ value). A metric may come with an interval
``<metric>_ci=(lo, hi)`` (standard error or bootstrap, from the seeds): the check then passes only if the
whole interval passes, fails if the whole interval fails, and otherwise is *undecided*, which makes the claim
``not assessed`` (too few seeds to decide) rather than a pass.

A non-finite metric makes the claim ``not assessed (diverged: …)`` and marks it ``diverged``; the runner
then gives the notebook the status ``diverged``.

For ``kind: erratum`` the checks test the paper's statement as written (``says``); the book expects
``not reproduced`` and ``why`` states the correction.
"""
from __future__ import annotations

import math
import numbers
from functools import lru_cache
from pathlib import Path
from typing import Any, Mapping

import yaml

from . import claims as _claims
from . import profiles

KINDS = ("paper", "erratum", "implementation", "extension")
OPS = ("<", "<=", ">", ">=", "==", "between", "abs<=")
EXPECTED = _claims.VERDICTS + (_claims.NOT_ASSESSED,)
_ROOT = Path(__file__).resolve().parent
#: chapter id → registry file, relative to ``nbs_lib``
FILES = {
    "intro": "claims_intro.yaml",
    "000": "unbalanced/claims.yaml",
    "001": "linfeat/claims.yaml",
    "002": "population/claims.yaml",
    "003": "subquad/claims.yaml",
    "004": "gated/claims.yaml",
}
_ENTRY_KEYS = {"kind", "ref", "says", "metrics", "checks", "source", "requires", "needs", "expected", "why"}
_CHECK_KEYS = {"metric", "op", "value", "ref", "name", "reason"}


class RegistryError(ValueError):
    """A registry entry is malformed, or a notebook's call does not match its entry."""


def _fail(cid: str, msg: str):
    raise RegistryError(f"claim {cid}: {msg}")


def _validate_check(cid: str, chk: Mapping, metrics: Mapping, where: str) -> None:
    if not isinstance(chk, Mapping):
        _fail(cid, f"each of {where} must be a mapping, got {chk!r}")
    extra = set(chk) - _CHECK_KEYS
    if extra:
        _fail(cid, f"unknown keys in {where}: {sorted(extra)}")
    if chk.get("metric") not in metrics:
        _fail(cid, f"{where} uses metric {chk.get('metric')!r}, not declared under metrics")
    op = chk.get("op")
    if op not in OPS:
        _fail(cid, f"op must be one of {OPS}, got {op!r}")
    if ("value" in chk) == ("ref" in chk):
        _fail(cid, f"a check in {where} needs exactly one of value or ref")
    if "ref" in chk and chk["ref"] not in metrics:
        _fail(cid, f"{where} refers to metric {chk['ref']!r}, not declared under metrics")
    if op == "between":
        v = chk.get("value")
        if not (isinstance(v, (list, tuple)) and len(v) == 2 and v[0] <= v[1]):
            _fail(cid, f"'between' needs value: [lo, hi] with lo <= hi, got {v!r}")
    if where == "requires" and not chk.get("reason"):
        _fail(cid, "each of requires needs a reason")


def validate_entry(cid: str, e: Mapping) -> None:
    """Raise :class:`RegistryError` unless ``e`` is a complete registry entry (module docstring)."""
    if not isinstance(e, Mapping):
        _fail(cid, "entry must be a mapping")
    extra = set(e) - _ENTRY_KEYS
    if extra:
        _fail(cid, f"unknown keys {sorted(extra)}")
    for key in ("kind", "ref", "says", "metrics", "checks", "source", "expected"):
        if key not in e or e[key] in (None, "", [], {}):
            _fail(cid, f"missing {key}")
    if e["kind"] not in KINDS:
        _fail(cid, f"kind must be one of {KINDS}, got {e['kind']!r}")
    for key in ("ref", "says", "source"):
        if not isinstance(e[key], str) or not e[key].strip():
            _fail(cid, f"{key} must be a non-empty string")
    if not isinstance(e["metrics"], Mapping):
        _fail(cid, "metrics must map each metric name to its description")
    for chk in e["checks"]:
        _validate_check(cid, chk, e["metrics"], "checks")
    for chk in e.get("requires") or []:
        _validate_check(cid, chk, e["metrics"], "requires")
    profiles.check_profile(e.get("needs", "smoke"))
    exp = e["expected"]
    exps = list(exp.values()) if isinstance(exp, Mapping) else [exp]
    lists = [v for v in exps if isinstance(v, (list, tuple))]
    if lists and not str(e.get("why") or "").strip():
        _fail(cid, "alternative expected verdicts need a why (which noise makes the verdict machine-dependent)")
    exps = [x for v in exps for x in (v if isinstance(v, (list, tuple)) else [v])]
    if isinstance(exp, Mapping) and "cpu" not in exp:
        _fail(cid, "expected must name the verdict at cpu")
    for v in exps:
        if v not in EXPECTED:
            _fail(cid, f"expected must be one of {EXPECTED}, got {v!r}")
    if any(v != "reproduced" for v in exps) and not str(e.get("why") or "").strip():
        _fail(cid, "an expected verdict other than 'reproduced' needs a why")
    if e["kind"] == "erratum" and "not reproduced" not in exps:
        _fail(cid, "an erratum tests the statement as written: its expected verdict is 'not reproduced'")


@lru_cache(maxsize=None)
def load(chapter: str) -> dict[str, dict]:
    """Return the validated registry of ``chapter`` (``"intro"``, ``"000"`` … ``"004"``) as {id: entry}."""
    if chapter not in FILES:
        raise RegistryError(f"chapter must be one of {tuple(FILES)}, got {chapter!r}")
    path = _ROOT / FILES[chapter]
    if not path.is_file():
        return {}
    data = yaml.safe_load(path.read_text()) or {}
    if not isinstance(data, Mapping):
        raise RegistryError(f"{path}: the registry must map claim ids to entries")
    for cid, e in data.items():
        if not str(cid).startswith(chapter + "."):
            raise RegistryError(f"{path}: claim id {cid!r} must start with '{chapter}.'")
        validate_entry(str(cid), e)
    return {str(k): dict(v) for k, v in data.items()}


def entry(cid: str) -> dict:
    """Return the registry entry of claim ``cid``; unknown ids are an error."""
    chapter = cid.split(".", 1)[0]
    reg = load(chapter)
    if cid not in reg:
        raise RegistryError(f"claim {cid!r} is not in the registry {FILES.get(chapter, '?')}; "
                            "add its entry (criterion and source) before checking it")
    return reg[cid]


def _num(x) -> float | bool | None:
    if isinstance(x, bool):
        return x
    if isinstance(x, numbers.Real):
        return float(x)
    if hasattr(x, "item"):
        return _num(x.item())
    return None


def _cmp(op: str, x, target) -> bool:
    if op == "<":
        return x < target
    if op == "<=":
        return x <= target
    if op == ">":
        return x > target
    if op == ">=":
        return x >= target
    if op == "==":
        return x == target
    if op == "between":
        return target[0] <= x <= target[1]
    if op == "abs<=":
        return abs(x) <= target
    raise AssertionError(op)  # pragma: no cover


def _evaluate(chk: Mapping, metrics: Mapping) -> str:
    """Return ``"pass"``, ``"fail"`` or ``"undecided"`` for one check."""
    x = metrics[chk["metric"]]
    target = metrics[chk["ref"]] if "ref" in chk else chk["value"]
    ci = metrics.get(chk["metric"] + "_ci")
    if ci is None:
        return "pass" if _cmp(chk["op"], x, target) else "fail"
    lo, hi = (float(v) for v in ci)
    ends = {_cmp(chk["op"], lo, target), _cmp(chk["op"], hi, target)}
    if chk["op"] == "between" and ends == {False} and lo < target[0] <= hi:
        return "undecided"  # the interval straddles the whole window
    if ends == {True}:
        return "pass"
    return "fail" if ends == {False} else "undecided"


def criterion_text(e: Mapping) -> str:
    """Return the entry's checks as one readable line, e.g. ``ratio ≥ 3; err ≤ 1e-10``."""
    sym = {"<": "<", "<=": "≤", ">": ">", ">=": "≥", "==": "=", "abs<=": "≤"}

    def one(c):
        target = c["ref"] if "ref" in c else c["value"]
        if c["op"] == "between":
            s = f"{c['metric']} ∈ [{target[0]:g}, {target[1]:g}]"
        elif c["op"] == "abs<=":
            s = f"|{c['metric']}| ≤ {target:g}" if not isinstance(target, str) else f"|{c['metric']}| ≤ {target}"
        else:
            s = f"{c['metric']} {sym[c['op']]} {target:g}" if isinstance(target, numbers.Real) and not isinstance(
                target, bool) else f"{c['metric']} {sym[c['op']]} {target}"
        return s + (f" ({c['name']})" if c.get("name") else "")

    return "; ".join(one(c) for c in e["checks"])


def _fmt(v) -> str:
    if isinstance(v, bool):
        return str(v)
    if isinstance(v, numbers.Integral):
        return str(int(v))
    if isinstance(v, numbers.Real):
        return f"{float(v):.4g}"
    if isinstance(v, (list, tuple)) and len(v) == 2 and all(isinstance(t, numbers.Real) for t in v):
        return f"[{float(v[0]):.4g}, {float(v[1]):.4g}]"
    return str(v)


def judge(cid: str, profile: str, metrics: Mapping[str, Any]) -> tuple[str, str, bool]:
    """Return ``(verdict, reason, diverged)`` for claim ``cid`` given its ``metrics`` at ``profile``.

    Order: a non-finite metric → not assessed (diverged); below ``needs`` → not assessed (profile);
    a failed ``requires`` → not assessed (its reason); an undecided check → not assessed (interval);
    otherwise :func:`nbs_lib.claims.grade` of the checks.
    """
    e = entry(cid)
    declared = set(e["metrics"])
    for k in metrics:
        base = k[:-3] if k.endswith("_ci") else k
        if base not in declared:
            _fail(cid, f"metric {k!r} is not declared in the registry (declared: {sorted(declared)})")
    used = {c["metric"] for c in e["checks"]} | {c["metric"] for c in e.get("requires") or []}
    used |= {c["ref"] for c in list(e["checks"]) + list(e.get("requires") or []) if "ref" in c}
    missing = sorted(used - set(metrics))
    if missing:
        _fail(cid, f"missing metrics {missing}")
    vals = {}
    for k in used:
        v = _num(metrics[k])
        if v is None:
            _fail(cid, f"metric {k!r} must be a number or a bool, got {metrics[k]!r}")
        vals[k] = v
        ci = metrics.get(k + "_ci")
        if ci is not None:
            if len(ci) != 2:
                _fail(cid, f"metric {k}_ci must be a pair (lo, hi), got {ci!r}")
            vals[k + "_ci"] = tuple(float(t) for t in ci)
    bad = [f"{k} = {vals[k]}" for k in sorted(vals) if not k.endswith("_ci") and not isinstance(vals[k], bool)
           and not math.isfinite(vals[k])]
    bad += [f"{k} = {vals[k]}" for k in sorted(vals) if k.endswith("_ci") and not all(map(math.isfinite, vals[k]))]
    if bad:
        return _claims.NOT_ASSESSED, "diverged: " + ", ".join(bad), True
    needs = e.get("needs", "smoke")
    if not profiles.at_least(profile, needs):
        return _claims.NOT_ASSESSED, f"needs the {needs} profile (this run: {profile})", False
    for c in e.get("requires") or []:
        if _evaluate(c, vals) != "pass":
            return _claims.NOT_ASSESSED, f"{c['reason']} ({c['metric']} = {_fmt(vals[c['metric']])})", False
    outcome = {}
    for i, c in enumerate(e["checks"]):
        outcome[c.get("name") or f"check{i}"] = _evaluate(c, vals)
    undecided = [k for k, v in outcome.items() if v == "undecided"]
    if undecided:
        return (_claims.NOT_ASSESSED,
                "too few seeds to decide: the interval straddles the threshold of " + ", ".join(undecided), False)
    return _claims.grade({k: v == "pass" for k, v in outcome.items()}), "", False


def check(cid: str, *, profile: str, data: str | None = None, note: str | None = None, display: bool = True,
          **metrics) -> "_claims.Claim":
    """Judge claim ``cid`` from ``metrics`` against its registry entry, record and display it; return it.

    ``data`` names the data the measurement used (required in spirit for any claim about data: "digits
    stand-in", "CIFAR-10"); ``note`` is one optional sentence of context shown under the measurement.
    """
    e = entry(cid)
    verdict, reason, diverged = judge(cid, profile, metrics)
    shown = ", ".join(f"{k} = {_fmt(v)}" for k, v in metrics.items())
    measured = shown + (f" — data: {data}" if data else "") + (f". {note}" if note else "")
    return _claims.record(
        cid, paper_ref=e["ref"], paper_says=e["says"], measured=measured, values=dict(metrics), verdict=verdict,
        expected=e["expected"], profile=profile, needs=e.get("needs", "smoke"), display=display,
        kind=e["kind"], criterion=criterion_text(e), source=e["source"], reason=reason, diverged=diverged,
        data=data, why=e.get("why", ""))


def all_entries() -> dict[str, dict]:
    """Return every registered claim of every chapter as {id: entry}."""
    out = {}
    for ch in FILES:
        out.update(load(ch))
    return out
