"""Defects: named, deliberate contract violations a response can be given (the judge must catch them).

A defect is a small mutation of the headers, the JSON body or each SSE event. Add one with
`register(Defect(...))`; select them per request with `X-Mock-Defect: a,b` or server-wide.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from typing import Any

from mock_server.replies import SseEvent

__all__ = ["DEFECTS", "Defect", "DefectContext", "DefectSet", "parse_defect_names", "register"]


@dataclass(frozen=True)
class DefectContext:
    """Where the response goes: the logical route and whether it streams."""

    route: str
    stream: bool


HeaderHook = Callable[[dict[str, str], DefectContext], None]
BodyHook = Callable[[Any, DefectContext], Any]
EventHook = Callable[[SseEvent, DefectContext], list[SseEvent]]


@dataclass(frozen=True)
class Defect:
    """One defect: any of the three hooks; `headers` edits in place, `body` returns the new body,
    `event` returns the events to send instead of one (none drops it)."""

    name: str
    description: str
    headers: HeaderHook | None = None
    body: BodyHook | None = None
    event: EventHook | None = None


DEFECTS: dict[str, Defect] = {}


def register(defect: Defect) -> Defect:
    """Add a defect to the registry; names are unique."""
    if defect.name in DEFECTS:
        raise ValueError(f"defect {defect.name!r} is already registered")
    DEFECTS[defect.name] = defect
    return defect


def parse_defect_names(text: str) -> tuple[str, ...]:
    """Comma-separated names -> known names; ValueError names the unknown ones."""
    names = tuple(n.strip() for n in text.split(",") if n.strip())
    unknown = [n for n in names if n not in DEFECTS]
    if unknown:
        raise ValueError(f"unknown defect(s) {', '.join(unknown)}; known: {', '.join(sorted(DEFECTS))}")
    return names


class DefectSet:
    """The defects active for one response, applied in order."""

    def __init__(self, names: Iterable[str] = ()) -> None:
        self.names = tuple(dict.fromkeys(names))
        self._defects = [DEFECTS[n] for n in self.names]

    def __bool__(self) -> bool:
        return bool(self._defects)

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


# ---- the first defects; the full catalogue is added the same way -------------------------------


def _event_stream_as_json(headers: dict[str, str], ctx: DefectContext) -> None:
    if ctx.stream:
        headers["Content-Type"] = "application/json"


def _drop_done(event: SseEvent, ctx: DefectContext) -> list[SseEvent]:
    return [] if event.kind == "done" else [event]


def _empty_finish_reasons(choices: Any) -> None:
    for choice in choices if isinstance(choices, list) else ():
        if isinstance(choice, dict) and choice.get("finish_reason") is not None:
            choice["finish_reason"] = ""


def _finish_reason_body(body: Any, ctx: DefectContext) -> Any:
    if isinstance(body, dict):
        _empty_finish_reasons(body.get("choices"))
    return body


def _finish_reason_event(event: SseEvent, ctx: DefectContext) -> list[SseEvent]:
    if not isinstance(event.data, dict) or "choices" not in event.data:
        return [event]
    data = copy.deepcopy(event.data)
    _empty_finish_reasons(data["choices"])
    return [replace(event, data=data)]


register(
    Defect("stream_wrong_content_type", "streams are sent as application/json", headers=_event_stream_as_json)
)
register(Defect("stream_missing_done", "the data: [DONE] sentinel is left out", event=_drop_done))
register(
    Defect(
        "finish_reason_empty_string",
        'finish_reason "" instead of "stop"/"length"/... (body and the final chunk)',
        body=_finish_reason_body,
        event=_finish_reason_event,
    )
)
