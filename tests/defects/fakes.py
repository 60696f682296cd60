"""Fakes that misbehave: edits of captured exchanges, and the Defect record the tables are made of.

An `Edit` changes one Exchange in place; a `Mutation` changes a run's probe results in place. Edits keep
an exchange self-consistent: a new body is re-parsed as SSE exactly as chatcert's client would, so
`events`, `sse_errors` and `chunks` always describe `body`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from chatcert._models import Exchange, SSEEvent
from chatcert.context import ProbeResult
from chatcert.registry import get_check
from chatcert.sse import parse_sse

Probes = dict[str, ProbeResult]
Edit = Callable[[Exchange], None]
Mutation = Callable[[Probes], None]
Path = Sequence[str | int]


@dataclass(frozen=True)
class Defect:
    """One way a server can break what `check` judges, and the evidence its failure must name."""

    check: str
    name: str
    mutate: Mutation
    # A fragment (case-insensitive) of the failure's message, expected or actual: proof it failed for this.
    evidence: str
    # Non-empty: the check misses (or crashes on) this defect today; the test is a strict xfail until fixed.
    known_bug: str = ""

    @property
    def id(self) -> str:
        return f"{self.check}-{self.name}"

    def __repr__(self) -> str:
        return f"Defect({self.id})"


# -- whole-exchange rewrites ------------------------------------------------------------------------


def with_body(exchange: Exchange, raw: bytes, reads: Sequence[tuple[float, int]] | None = None) -> None:
    """Replace the body; re-parse it as SSE when chatcert's client would (event-stream or `data:`)."""
    exchange.body = raw
    exchange.chunks = list(reads) if reads is not None else [(exchange.elapsed_s, len(raw))]
    if exchange.media_type == "text/event-stream" or raw.startswith(b"data:"):
        exchange.events, exchange.sse_errors = parse_sse(raw, exchange.chunks)
    else:
        exchange.events, exchange.sse_errors = [], []


def with_json(exchange: Exchange, fn: Callable[[Any], object]) -> None:
    """Edit the JSON body in place (what `fn` returns is ignored: `list.pop` in a lambda is fine)."""
    doc = json.loads(exchange.body)
    fn(doc)
    with_body(exchange, json.dumps(doc).encode())


def with_json_replaced(exchange: Exchange, fn: Callable[[Any], Any]) -> None:
    """Replace the JSON body by what `fn` makes of it."""
    with_body(exchange, json.dumps(fn(json.loads(exchange.body))).encode())


def _serialise(items: Sequence[SSEEvent]) -> tuple[bytes, list[tuple[float, int]]]:
    out = bytearray()
    reads: list[tuple[float, int]] = []
    for event in items:
        lines = [] if event.event == "message" else [f"event: {event.event}"]
        if event.id is not None:
            lines.append(f"id: {event.id}")
        lines += [f"data: {line}" for line in event.data.split("\n")]
        out += ("\n".join(lines) + "\n\n").encode()
        # One read per event at the event's own time, so parse_sse gives every event back its `at`.
        reads.append((event.at, len(out)))
    return bytes(out), reads


def with_events(exchange: Exchange, fn: Callable[[list[SSEEvent]], list[SSEEvent] | None]) -> None:
    """Edit the SSE events (copies): `fn` changes the list in place or returns a new one."""
    items = [SSEEvent(e.data, e.event, e.id, e.at, e.raw) for e in exchange.events]
    result = fn(items)
    raw, reads = _serialise(items if result is None else result)
    with_body(exchange, raw, reads)


# -- paths in JSON documents ------------------------------------------------------------------------


def _parent(doc: Any, path: Path) -> Any:
    for key in path[:-1]:
        doc = doc[key]
    return doc


def set_in(doc: Any, path: Path, value: Any) -> None:
    _parent(doc, path)[path[-1]] = value


def del_in(doc: Any, path: Path) -> None:
    del _parent(doc, path)[path[-1]]


# -- edits ----------------------------------------------------------------------------------------------


def status(code: int | None, error: str | None = None) -> Edit:
    def edit(exchange: Exchange) -> None:
        exchange.status = code
        exchange.error = error

    return edit


def header(name: str, value: str | None) -> Edit:
    """Set (or, with None, remove) a response header."""

    def edit(exchange: Exchange) -> None:
        exchange.headers.pop(name.lower(), None)
        if value is not None:
            exchange.headers[name.lower()] = value

    return edit


def body(raw: bytes | str | Any, content_type: str | None = None) -> Edit:
    """Replace the body with bytes, text, or (anything else) that value as JSON."""

    def edit(exchange: Exchange) -> None:
        if content_type is not None:
            exchange.headers["content-type"] = content_type
        with_body(exchange, _encode(raw))

    return edit


def _encode(value: bytes | str | Any) -> bytes:
    if isinstance(value, bytes):
        return value
    return (value if isinstance(value, str) else json.dumps(value)).encode()


def body_edit(fn: Callable[[bytes], bytes]) -> Edit:
    """Rewrite the raw body bytes (for framing defects no event list can express)."""
    return lambda exchange: with_body(exchange, fn(exchange.body))


def elapsed(seconds: float) -> Edit:
    """The answer took `seconds` to come (a server retrying or queueing before it answers)."""

    def edit(exchange: Exchange) -> None:
        exchange.elapsed_s = seconds

    return edit


def probe_data(probe: str, **values: Any) -> Mutation:
    """Findings a probe recorded beyond its exchanges (e.g. who fetched chatcert's listener URL)."""

    def mutate(probes: Probes) -> None:
        probes[probe].data.update(values)

    return mutate


def no_answer(error: str) -> Edit:
    """No response at all: the wall-clock deadline passed before a status line came."""

    def edit(exchange: Exchange) -> None:
        exchange.status = None
        exchange.headers = {}
        exchange.body = b""
        exchange.error = error

    return edit


def cut(error: str) -> Edit:
    """The client stopped reading: a bound was hit and the body is partial."""

    def edit(exchange: Exchange) -> None:
        exchange.truncated = True
        exchange.error = error

    return edit


def json_set(path: Path, value: Any) -> Edit:
    return lambda exchange: with_json(exchange, lambda doc: set_in(doc, path, value))


def json_del(path: Path) -> Edit:
    return lambda exchange: with_json(exchange, lambda doc: del_in(doc, path))


def json_edit(fn: Callable[[Any], Any]) -> Edit:
    return lambda exchange: with_json(exchange, fn)


def json_replace(fn: Callable[[Any], Any]) -> Edit:
    return lambda exchange: with_json_replaced(exchange, fn)


def events(fn: Callable[[list[SSEEvent]], list[SSEEvent] | None]) -> Edit:
    return lambda exchange: with_events(exchange, fn)


def chunks(fn: Callable[[list[dict[str, Any]]], object]) -> Edit:
    """Edit, in place, the JSON objects the stream's data events carry ([DONE] and the rest kept as is)."""

    def rewrite(items: list[SSEEvent]) -> None:
        holders: list[SSEEvent] = []
        docs: list[dict[str, Any]] = []
        for event in items:
            try:
                doc = json.loads(event.data)
            except ValueError:
                continue
            if isinstance(doc, dict):
                holders.append(event)
                docs.append(doc)
        fn(docs)
        for event, doc in zip(holders, docs, strict=True):
            event.data = json.dumps(doc)

    return events(rewrite)


# -- mutations ------------------------------------------------------------------------------------------


def on(probe: str, *edits: Edit, index: int = 0) -> Mutation:
    """Apply edits to one exchange of a probe."""

    def mutate(probes: Probes) -> None:
        for edit in edits:
            edit(probes[probe].exchanges[index])

    return mutate


def each(probe: str, *edits: Edit) -> Mutation:
    """Apply edits to every exchange of a probe."""

    def mutate(probes: Probes) -> None:
        for exchange in probes[probe].exchanges:
            for edit in edits:
                edit(exchange)

    return mutate


def is_done(event: SSEEvent) -> bool:
    return event.data.strip() == "[DONE]"


def _event(data: Any, name: str, at: float) -> SSEEvent:
    return SSEEvent(data if isinstance(data, str) else json.dumps(data), name, None, at)


def drop_done() -> Edit:
    return events(lambda items: [e for e in items if not is_done(e)])


def insert_before_done(data: Any, event: str = "message") -> Edit:
    """Add an event (a JSON value or raw text) just before [DONE], or at the end when there is none."""

    def rewrite(items: list[SSEEvent]) -> None:
        at = next((i for i, e in enumerate(items) if is_done(e)), len(items))
        items.insert(at, _event(data, event, items[at - 1].at if at else 0.0))

    return events(rewrite)


def append_event(data: Any, event: str = "message") -> Edit:
    return events(lambda items: [*items, _event(data, event, items[-1].at if items else 0.0)])


# -- defect factories for the checks that only judge a status --------------------------------------------

CHAT_COMPLETION: dict[str, Any] = {
    "id": "chatcmpl-fake",
    "object": "chat.completion",
    "created": 1767225600,
    "model": "fake",
    "choices": [
        {"index": 0, "message": {"role": "assistant", "content": "Hi."}, "finish_reason": "stop"},
    ],
    "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
}


def accepted(probe: str, index: int = 0) -> Mutation:
    """The server answered 200 with a completion where it had to refuse."""
    return on(probe, status(200), body(CHAT_COMPLETION, "application/json"), index=index)


def server_error(probe: str, index: int = 0) -> Mutation:
    return on(probe, status(500), body({"detail": "Internal Server Error"}, "application/json"), index=index)


def refused(probe: str, index: int = 0, code: int = 400) -> Mutation:
    return on(probe, status(code), body({"detail": "rejected"}, "application/json"), index=index)


def rejection_defects(check_id: str, *, wrong_4xx: int | None = None) -> list[Defect]:
    """A check that its probe is refused with a 4xx: accepted (200) and crashed (500) both fail it."""
    probe = get_check(check_id).probes[0]
    found = [
        Defect(check_id, "accepted_200", accepted(probe), "200"),
        Defect(check_id, "server_error_500", server_error(probe), "500"),
    ]
    if wrong_4xx is not None:
        found.append(Defect(check_id, f"wrong_{wrong_4xx}", refused(probe, code=wrong_4xx), str(wrong_4xx)))
    return found


def acceptance_defects(check_id: str, index: int = 0) -> list[Defect]:
    """A check that its probe's exchange is answered 200: a 400 and a 500 both fail it."""
    probe = get_check(check_id).probes[0]
    return [
        Defect(check_id, "refused_400", refused(probe, index), "400"),
        Defect(check_id, "server_error_500", server_error(probe, index), "500"),
    ]
