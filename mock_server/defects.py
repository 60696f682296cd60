"""Defects: named, deliberate contract violations a response can be given (the judge must catch them).

A defect is a small mutation at one or more points of the pipeline: the parsed request (`request`),
the JSON body (`body`), each SSE event (`event`), the serialised text (`wire`), the headers
(`headers`) or the status (`status`), plus `switches` that turn off one of the mock's own checks.
Each documents the chatcert check ids that must catch it (`catches`, plain strings: the mock never
imports chatcert), the profile capabilities it needs and the real bug report it comes from.
Select defects per request with `X-Mock-Defect: a,b` or server-wide; the catalogue lives in
`mock_server/defect_catalogue/`.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from mock_server.profile import Profile
from mock_server.replies import SseEvent

__all__ = [
    "ANY_CONTENT_TYPE",
    "AUTH",
    "DEFECTS",
    "MIME_CHECKED",
    "SKIP_AUTH",
    "SWITCHES",
    "TEXT_FIRST",
    "Defect",
    "DefectContext",
    "DefectSet",
    "defects_for",
    "parse_defect_names",
    "profile_claims",
    "register",
]

# Switches: checks of the mock that a defect turns off (looked up where the check is made).
SKIP_AUTH = "skip_auth"  # every key, or none, is accepted
ANY_CONTENT_TYPE = "any_content_type"  # a JSON body is read whatever its Content-Type says
SWITCHES = frozenset({SKIP_AUTH, ANY_CONTENT_TYPE})
# A pseudo-capability: the profile requires an API key (its `auth.required`).
AUTH = "auth"
# Pseudo-capabilities from limits: a behaviour is a defect only where the profile does not allow it.
TEXT_FIRST = "text_first"  # no `image_first_required`: a text-first request must be answered
MIME_CHECKED = "mime_checked"  # `image_mime_label: checked`: a wrong label must be refused


@dataclass(frozen=True)
class DefectContext:
    """Where a hook acts: the logical route, whether the reply streams, the status the mock chose,
    the parsed request (None when it did not parse), the profile, the reply's full usage (streams)
    and `state`, a scratch dict shared by the hooks of one response (e.g. to count chunks)."""

    route: str
    stream: bool
    status: int = 200
    request: Any = None
    profile: Profile | None = None
    usage: Mapping[str, int] | None = None
    state: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def ok(self) -> bool:
        """The mock meant to answer with success."""
        return self.status < 400

    @property
    def asked_stream(self) -> bool:
        """The request asked for a stream (also true for a rejected streamed request)."""
        return isinstance(self.request, dict) and self.request.get("stream") is True


RequestHook = Callable[[Any, DefectContext], Any]
HeaderHook = Callable[[dict[str, str], DefectContext], None]
BodyHook = Callable[[Any, DefectContext], Any]
EventHook = Callable[[SseEvent, DefectContext], list[SseEvent]]
WireHook = Callable[[str, DefectContext], str]
StatusHook = Callable[[int, DefectContext], int]


@dataclass(frozen=True)
class Defect:
    """One defect and what it documents.

    Hooks (all optional): `request` returns the request body the mock then validates (or raises a
    MockError); `headers` edits in place; `body` returns the new JSON body; `event` returns the
    events to send instead of one (none drops it); `wire` returns the text to send instead of a
    serialised body or event (`data: ...\\n\\n`); `status` returns the status of a JSON reply.
    `catches`: chatcert check ids that must fail (or warn) on it. `capabilities`: profile
    capabilities it needs (`auth` means the profile requires a key). `reference`: the real report.
    """

    name: str
    description: str
    headers: HeaderHook | None = None
    body: BodyHook | None = None
    event: EventHook | None = None
    request: RequestHook | None = None
    wire: WireHook | None = None
    status: StatusHook | None = None
    switches: frozenset[str] = frozenset()
    catches: tuple[str, ...] = ()
    capabilities: tuple[str, ...] = ()
    reference: str | None = None

    @property
    def capability(self) -> str:
        """The capabilities as one word for listings: "none", "tools" or "anthropic+streaming"."""
        return "+".join(self.capabilities) or "none"

    def describe(self) -> str:
        """One line: name first, then capability, description, checks that catch it and the reference."""
        line = f"{self.name}  [{self.capability}]  {self.description}; catches: {', '.join(self.catches)}"
        return line + (f"; ref: {self.reference}" if self.reference else "")


DEFECTS: dict[str, Defect] = {}


def register(defect: Defect) -> Defect:
    """Add a defect to the registry; names are unique and switches known."""
    if defect.name in DEFECTS:
        raise ValueError(f"defect {defect.name!r} is already registered")
    unknown = defect.switches - SWITCHES
    if unknown:
        raise ValueError(f"defect {defect.name!r}: unknown switch(es) {', '.join(sorted(unknown))}")
    DEFECTS[defect.name] = defect
    return defect


def parse_defect_names(text: str) -> tuple[str, ...]:
    """Comma-separated names -> known names; ValueError names the unknown ones."""
    names = tuple(n.strip() for n in text.split(",") if n.strip())
    unknown = [n for n in names if n not in DEFECTS]
    if unknown:
        # repr: a name holding a newline or control characters must not break the one-line error.
        raise ValueError(f"unknown defect(s) {', '.join(map(repr, unknown))}; list them with --list-defects")
    return names


def profile_claims(profile: Profile, capability: str) -> bool:
    """Whether `profile` claims `capability` (`auth`: it requires a key)."""
    if capability == AUTH:
        return profile.auth_required and profile.auth_scheme != "none"
    if capability == TEXT_FIRST:
        return not (profile.raw.get("limits") or {}).get("image_first_required")
    if capability == MIME_CHECKED:
        return profile.image_mime_label == "checked"
    claimed = profile.raw.get("capabilities") or {}
    return isinstance(claimed, Mapping) and claimed.get(capability) is True


def defects_for(profile: Profile) -> list[Defect]:
    """The defects a profile can show: those whose every capability it claims, by name."""
    return [
        DEFECTS[name]
        for name in sorted(DEFECTS)
        if all(profile_claims(profile, c) for c in DEFECTS[name].capabilities)
    ]


class DefectSet:
    """The defects active for one request, applied in order."""

    def __init__(self, names: Iterable[str] = ()) -> None:
        self.names = tuple(dict.fromkeys(names))
        self._defects = [DEFECTS[n] for n in self.names]
        self._switches = frozenset().union(*(d.switches for d in self._defects))

    def __bool__(self) -> bool:
        return bool(self._defects)

    def has(self, switch: str) -> bool:
        """Whether an active defect turns off the check named by `switch`."""
        return switch in self._switches

    def request(self, body: Any, ctx: DefectContext) -> Any:
        hooks = [d.request for d in self._defects if d.request]
        if hooks:
            body = copy.deepcopy(body)  # the journal keeps what the client really sent
            for hook in hooks:
                body = hook(body, ctx)
        return body

    def headers(self, headers: dict[str, str], ctx: DefectContext) -> dict[str, str]:
        for defect in self._defects:
            if defect.headers:
                defect.headers(headers, ctx)
        return headers

    def body(self, body: Any, ctx: DefectContext) -> Any:
        hooks = [d.body for d in self._defects if d.body]
        if hooks:
            body = copy.deepcopy(body)
            for hook in hooks:
                body = hook(body, ctx)
        return body

    def events(self, event: SseEvent, ctx: DefectContext) -> list[SseEvent]:
        events = [event]
        for defect in self._defects:
            if defect.event:
                hook = defect.event
                events = [out for ev in events for out in hook(ev, ctx)]
        return events

    def wire(self, text: str, ctx: DefectContext) -> str:
        for defect in self._defects:
            if defect.wire:
                text = defect.wire(text, ctx)
        return text

    def status(self, status: int, ctx: DefectContext) -> int:
        for defect in self._defects:
            if defect.status:
                status = defect.status(status, ctx)
        return status


def _load_catalogue() -> None:
    # Imported here, not at the top: the catalogue's modules import Defect from this module.
    from mock_server.defect_catalogue import CATALOGUE

    for defect in CATALOGUE:
        register(defect)


_load_catalogue()
