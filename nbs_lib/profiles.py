"""Size profiles: ``smoke`` (seconds, for the tests), ``cpu`` (the book's default), ``paper`` (GPU).

A notebook declares its sizes once per profile and reads back the ones in force::

    S = profiles.sizes(profile, smoke=dict(N=20, widths=[64, 128]),
                                cpu=dict(N=100, widths=[64, 256, 1024]),
                                paper=dict(N=100, widths=[64, 256, 1024, 4096]))
    S.N, S.widths

``gpu`` is accepted as another name for ``paper``.
"""
from __future__ import annotations

from types import SimpleNamespace
from typing import Any

PROFILES = ("smoke", "cpu", "paper")
ALIASES = {"gpu": "paper"}
_ORDER = {p: i for i, p in enumerate(PROFILES)}


def check_profile(profile: str) -> str:
    """Return the canonical profile name; raise ``ValueError`` listing the known profiles otherwise."""
    if isinstance(profile, str):
        p = ALIASES.get(profile.strip().lower(), profile.strip().lower())
        if p in PROFILES:
            return p
    known = ", ".join(PROFILES + tuple(ALIASES))
    raise ValueError(f"profile must be one of {known}; got {profile!r}")


def at_least(profile: str, minimum: str) -> bool:
    """Return True when ``profile`` is at least as large as ``minimum`` (smoke < cpu < paper)."""
    return _ORDER[check_profile(profile)] >= _ORDER[check_profile(minimum)]


def pick(profile: str, *, smoke: Any, cpu: Any, paper: Any) -> Any:
    """Return the value given for ``profile``."""
    return {"smoke": smoke, "cpu": cpu, "paper": paper}[check_profile(profile)]


def sizes(profile: str, *, smoke: dict, cpu: dict, paper: dict) -> SimpleNamespace:
    """Return the sizes declared for ``profile`` as attributes; every profile must declare the same keys."""
    p = check_profile(profile)
    keys = [set(smoke), set(cpu), set(paper)]
    if not (keys[0] == keys[1] == keys[2]):
        raise ValueError(
            "every profile must declare the same sizes; differing keys: "
            f"{sorted(keys[0] ^ keys[1] | keys[1] ^ keys[2])}"
        )
    chosen = {"smoke": smoke, "cpu": cpu, "paper": paper}[p]
    return SimpleNamespace(profile=p, **chosen)
