"""The registry of probes (requests to send) and checks (what must hold of their exchanges).

A probe sends one or more requests and keeps the exchanges; several checks judge the same probe, so a
run sends each probe at most once. A check is a plain function of a CheckContext that returns when the
property holds and raises CheckFailure (with evidence) when it does not.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from chatcert.context import CheckContext, ProbeContext
    from chatcert.profiles import Profile

__all__ = [
    "AREAS",
    "Check",
    "CheckFailure",
    "CheckSkipped",
    "Level",
    "Probe",
    "all_checks",
    "all_probes",
    "check",
    "get_check",
    "get_probe",
    "probe",
]

# Areas in the order a run and the reports present them.
AREAS = (
    "discovery",
    "transport",
    "request",
    "response",
    "usage",
    "streaming",
    "tools",
    "vision",
    "errors",
    "anthropic",
    "completions",
    "pharia",
    "faults",
    "fuzz",
)


class Level(str, enum.Enum):
    MUST = "MUST"
    SHOULD = "SHOULD"
    PROFILE = "PROFILE"  # a MUST that only the profile's own promise creates (e.g. Pharia's 4000 px)


class CheckFailure(Exception):
    """A property does not hold. `exchange` labels point the report at the evidence."""

    def __init__(self, message: str, *, expected: str = "", actual: str = "", exchange: str | None = None):
        super().__init__(message)
        self.message = message
        self.expected = expected
        self.actual = actual
        self.exchange = exchange


class CheckSkipped(Exception):
    """The exchange gives the check nothing to judge (e.g. no tool call came back); `reason` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Probe:
    name: str
    func: Callable[[ProbeContext], None]
    requests: int
    tokens: int
    requires: tuple[str, ...] = ()
    routes: tuple[str, ...] = ("chat",)
    mock_only: bool = False
    costly: bool = False
    free: bool = False
    description: str = ""
    # For probes whose size depends on the run's options (fuzzing): options -> (requests, tokens).
    estimate: Callable[[Mapping[str, Any]], tuple[int, int]] | None = None

    def cost(self, options: Mapping[str, Any]) -> tuple[int, int]:
        """Upper bounds on the requests and output tokens this probe sends."""
        return self.estimate(options) if self.estimate is not None else (self.requests, self.tokens)


@dataclass(frozen=True)
class Check:
    id: str
    area: str
    level: Level
    source: str
    description: str
    probes: tuple[str, ...]
    func: Callable[[CheckContext], None]
    requires: tuple[str, ...] = ()
    rules: tuple[str, ...] = ()
    strict_level: Level | None = None
    applies: Callable[[Profile], str | None] | None = None
    mock_only: bool = False
    costly: bool = False
    needs_key: bool = False
    tolerate_transport_errors: bool = False
    extra: dict[str, Any] = field(default_factory=dict)
    # Preconditions: checks whose failure makes this one's failure a follow-on (folded under it).
    depends_on: tuple[str, ...] = ()

    def level_for(self, profile: Profile) -> Level:
        own = _profile_level(profile, self.id)
        if own is not None:
            return Level(own["level"])
        if self.strict_level is not None and profile.tier == "strict":
            return self.strict_level
        return self.level

    def for_profile(self, profile: Profile) -> Check:
        """This check as `profile` judges it: a level the profile's `check_levels` sets comes with the
        provider's line that sets it as the source (seed 002's error table makes 404 a promise)."""
        own = _profile_level(profile, self.id)
        if own is None:
            return self
        return replace(self, level=Level(own["level"]), strict_level=None, source=str(own["source"]))


def _profile_level(profile: Profile, check_id: str) -> Mapping[str, Any] | None:
    levels = profile.raw.get("check_levels") or {}
    entry = levels.get(check_id) if isinstance(levels, Mapping) else None
    return entry if isinstance(entry, Mapping) else None


_CHECKS: dict[str, Check] = {}
_PROBES: dict[str, Probe] = {}


def probe(
    name: str,
    *,
    requests: int = 1,
    tokens: int = 0,
    requires: Iterable[str] = (),
    routes: Iterable[str] = ("chat",),
    mock_only: bool = False,
    costly: bool = False,
    free: bool = False,
    estimate: Callable[[Mapping[str, Any]], tuple[int, int]] | None = None,
) -> Callable[[Callable[[ProbeContext], None]], Callable[[ProbeContext], None]]:
    """Register a probe: `requests` and `tokens` are upper bounds (used by --dry-run and budgets)."""

    def register(func: Callable[[ProbeContext], None]) -> Callable[[ProbeContext], None]:
        if name in _PROBES:
            raise ValueError(f"probe {name!r} registered twice")
        _PROBES[name] = Probe(
            name,
            func,
            requests,
            tokens,
            tuple(requires),
            tuple(routes),
            mock_only,
            costly,
            free,
            (func.__doc__ or "").strip().splitlines()[0] if func.__doc__ else "",
            estimate,
        )
        return func

    return register


def check(
    *,
    area: str,
    level: Level,
    source: str,
    probes: Iterable[str],
    requires: Iterable[str] = (),
    rules: Iterable[str] = (),
    strict_level: Level | None = None,
    applies: Callable[[Profile], str | None] | None = None,
    mock_only: bool = False,
    costly: bool = False,
    needs_key: bool = False,
    tolerate_transport_errors: bool = False,
    check_id: str | None = None,
    doc: str | None = None,
    depends_on: Iterable[str] = (),
) -> Callable[[Callable[[CheckContext], None]], Callable[[CheckContext], None]]:
    """Register a check under its function's name (its stable id); its docstring says what holds.

    `depends_on` names precondition checks: when one of them fails, this check's failure is a follow-on
    of it and carries `caused_by` (the run still fails; reports show the precondition once).
    """

    def register(func: Callable[[CheckContext], None]) -> Callable[[CheckContext], None]:
        cid = check_id or func.__name__
        if cid in _CHECKS:
            raise ValueError(f"check {cid!r} registered twice")
        if area not in AREAS:
            raise ValueError(f"check {cid!r}: unknown area {area!r}")
        text = (doc or func.__doc__ or "").strip()
        if not text:
            raise ValueError(f"check {cid!r} needs a docstring saying what holds")
        _CHECKS[cid] = Check(
            cid,
            area,
            level,
            source,
            text.splitlines()[0],
            tuple(probes),
            func,
            tuple(requires),
            tuple(rules),
            strict_level,
            applies,
            mock_only,
            costly,
            needs_key,
            tolerate_transport_errors,
            depends_on=tuple(depends_on),
        )
        return func

    return register


def _load() -> None:
    # Importing the area modules registers their probes and checks.
    from chatcert import checks  # noqa: F401


def all_checks() -> list[Check]:
    _load()
    order = {a: i for i, a in enumerate(AREAS)}
    return sorted(_CHECKS.values(), key=lambda c: (order[c.area], c.id))


def all_probes() -> dict[str, Probe]:
    _load()
    return dict(_PROBES)


def get_check(check_id: str) -> Check:
    _load()
    return _CHECKS[check_id]


def get_probe(name: str) -> Probe:
    _load()
    return _PROBES[name]
