"""A strict server-sent-events parser (WHATWG framing) that records where the framing breaks."""

from __future__ import annotations

import re
from bisect import bisect_left
from collections.abc import Sequence

from chatcert._models import SSEEvent

__all__ = ["parse_sse"]

_NEWLINE = re.compile(r"\r\n|\r|\n")


def parse_sse(body: bytes, chunks: Sequence[tuple[float, int]] = ()) -> tuple[list[SSEEvent], list[str]]:
    """Split a body into events. `chunks` are (time, cumulative bytes) reads, to time each event.

    Returns the events and a list of framing problems (invalid UTF-8, an unterminated last event,
    lines that are neither fields nor comments).
    """
    problems: list[str] = []
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        problems.append(f"stream is not UTF-8: {exc.reason} at byte {exc.start}")
        text = body.decode("utf-8", errors="replace")
    if text.startswith("\ufeff"):
        text = text[1:]
    ends = [c[1] for c in chunks]
    events: list[SSEEvent] = []
    data: list[str] = []
    event_name = ""
    event_id: str | None = None
    raw: list[str] = []
    pos = 0
    byte_pos = 0
    length = len(text)
    while pos < length:
        match = _NEWLINE.search(text, pos)
        if match is None:
            problems.append(f"stream ends inside an unterminated line: {text[pos : pos + 80]!r}")
            break
        line = text[pos : match.start()]
        byte_pos += len(text[pos : match.end()].encode("utf-8", errors="replace"))
        pos = match.end()
        if line == "":
            if data or event_name:
                at = chunks[min(bisect_left(ends, byte_pos), len(chunks) - 1)][0] if chunks else 0.0
                events.append(
                    SSEEvent("\n".join(data), event_name or "message", event_id, at, "\n".join(raw))
                )
            data, event_name, raw = [], "", []
            continue
        raw.append(line)
        if line.startswith(":"):
            continue
        name, sep, value = line.partition(":")
        if sep and value.startswith(" "):
            value = value[1:]
        if name == "data":
            data.append(value)
        elif name == "event":
            event_name = value
        elif name == "id":
            event_id = value
        elif name == "retry":
            pass
        else:
            problems.append(f"line is not an SSE field: {line[:80]!r}")
    if data or event_name:
        problems.append("stream ends without the blank line that terminates its last event")
        at = chunks[-1][0] if chunks else 0.0
        events.append(SSEEvent("\n".join(data), event_name or "message", event_id, at, "\n".join(raw)))
    return events, problems
