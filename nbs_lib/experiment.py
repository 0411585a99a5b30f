"""The experiment contract: a validated config in, a result object out, nothing plotted.

Every figure, table and claim protocol of the book is a function in its chapter's ``experiments`` module::

    @dataclass(frozen=True)
    class Fig1Config(Config):
        N: int = 100                       # samples (integer in [2, 2000])
        widths: tuple = (64, 256, 1024)    # widths 2m (even integers in [2, 200000])
        PROFILES = {"smoke": dict(N=20, widths=(64,)), "cpu": dict(), "paper": dict(widths=(64, 4096))}

        def validate(self):
            validate.int_in("N", self.N, 2, 2000)
            validate.int_list("widths", self.widths, minimum=2, even=True)

    def fig1(cfg: Fig1Config, ctx: RunContext) -> Fig1Result: ...

``Config.for_profile(profile, **knobs)`` starts from the profile's sizes, applies the notebook's knobs
(unknown names are an error), and validates the whole config before any work: each error names the
parameter and its range. ``Config.resources()`` may estimate peak memory and work (the runner's plan uses
it); :meth:`Config.check_resources` refuses a config that would not fit.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, ClassVar, Mapping

from . import profiles


@dataclass(frozen=True)
class Resources:
    """Estimated peak host and device memory (bytes) and work (floating-point operations) of a config."""

    host_bytes: float = 0.0
    device_bytes: float = 0.0
    flops: float = 0.0

    def describe(self) -> str:
        """Return e.g. ``host 1.2 GB, device 0 GB, 3.4e+12 flop``."""
        return f"host {self.host_bytes / 1e9:.2g} GB, device {self.device_bytes / 1e9:.2g} GB, {self.flops:.2g} flop"


#: limits a config is checked against when it is built (override per machine with NBS_MAX_HOST_GB)
DEFAULT_MAX_HOST_GB = 20.0


@dataclass(frozen=True)
class Config:
    """Base class of experiment configs (module docstring): frozen, validated when built."""

    PROFILES: ClassVar[Mapping[str, Mapping[str, Any]]] = {}

    def __post_init__(self):
        self.validate()
        self.check_resources()

    def validate(self) -> None:
        """Raise ``ValueError`` naming the parameter and its range for any bad field (subclasses extend)."""

    def resources(self) -> Resources | None:
        """Return the estimated :class:`Resources` of running this config (``None``: not estimated)."""
        return None

    def check_resources(self, max_host_gb: float | None = None) -> None:
        """Raise ``ValueError`` when the estimated host memory exceeds ``max_host_gb`` ($NBS_MAX_HOST_GB)."""
        import os

        r = self.resources()
        if r is None:
            return
        env = os.environ.get("NBS_MAX_HOST_GB")
        limit = max_host_gb if max_host_gb is not None else float(env) if env else DEFAULT_MAX_HOST_GB
        if r.host_bytes > limit * 1e9:
            raise ValueError(
                f"{type(self).__name__} needs about {r.host_bytes / 1e9:.3g} GB of host memory, over the limit of "
                f"{limit:g} GB (NBS_MAX_HOST_GB); reduce the sizes ({self.describe()})")

    @classmethod
    def field_names(cls) -> tuple[str, ...]:
        """Return the names of the config's parameters."""
        return tuple(f.name for f in dataclasses.fields(cls))

    @classmethod
    def for_profile(cls, profile: str, **knobs):
        """Return the config at ``profile``'s sizes with ``knobs`` applied; unknown names are an error."""
        p = profiles.check_profile(profile)
        names = cls.field_names()
        unknown = sorted(set(knobs) - set(names))
        if unknown:
            raise ValueError(f"{cls.__name__}: unknown parameter(s) {unknown}; known: {list(names)}")
        base = dict(cls.PROFILES.get(p, {}))
        bad = sorted(set(base) - set(names))
        if bad:  # pragma: no cover - a programming error in the config class
            raise ValueError(f"{cls.__name__}.PROFILES[{p!r}] names unknown fields {bad}")
        base.update(knobs)
        return cls(**base)

    def replace(self, **changes):
        """Return a copy with ``changes`` (validated again)."""
        unknown = sorted(set(changes) - set(self.field_names()))
        if unknown:
            raise ValueError(f"{type(self).__name__}: unknown parameter(s) {unknown}")
        return dataclasses.replace(self, **changes)

    def describe(self) -> str:
        """Return ``name=value`` pairs of every field."""
        return ", ".join(f"{f.name}={getattr(self, f.name)!r}" for f in dataclasses.fields(self))
