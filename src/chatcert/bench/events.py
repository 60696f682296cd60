"""What a finished response says for latency: its token-bearing deltas with arrival stamps, usage, lag.

Runs once per response, after the last read, on the `(stamp, bytes)` pieces the transport kept; an
SSE event is stamped with the read that completed it (the one carrying its blank line).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

__all__ = ["Observed", "observe_json", "observe_stream", "parse_event", "sse_data"]

# This parse runs for every chunk of every response and was a third of the client's CPU per read:
# orjson parses a chunk in a sixth of the time the standard library takes. What orjson refuses (a
# lone surrogate, an integer past 64 bits) goes to the standard library, which stays the judge.
_orjson_loads = orjson.loads
_OrjsonError = orjson.JSONDecodeError
_raw_decode = json.JSONDecoder().raw_decode


def parse_event(data: bytes) -> Any:
    """One event's JSON; `ValueError` when it is not JSON (RecursionError passes through)."""
    try:
        return _orjson_loads(data)
    except _OrjsonError:
        pass
    text = data.decode()  # UnicodeDecodeError is a ValueError
    value, end = _raw_decode(text, len(text) - len(text.lstrip()))
    if text[end:].strip():
        raise ValueError("trailing data")
    return value


@dataclass
class Observed:
    """Token-bearing deltas (`token_stamps`), `usage` tokens, mock send stamps and stream problems.

    `token_stamps` holds the perf_counter stamp of every event whose delta carries non-empty
    `content` (or `reasoning_content`); a role-only or empty first chunk does not count.
    `sent_lags` pairs each stamped event's arrival (perf_counter) with the mock's `x_mock_sent_at`.
    """

    token_stamps: list[float] = field(default_factory=list)
    usage_tokens: int | None = None
    events: int = 0
    done: bool = False
    error: str | None = None
    sent_stamps: list[tuple[float, float]] = field(default_factory=list)
    first_token_sent_at: float | None = None  # the mock's send stamp of the first token-bearing event


def sse_data(parts: Sequence[tuple[float, bytes]]) -> list[tuple[float, bytes]]:
    """Split body pieces into SSE events' `data` payloads, each with the stamp of its last byte."""
    out: list[tuple[float, bytes]] = []
    buf = b""
    for stamp, piece in parts:
        if b"\r" in piece:  # rare: CRLF or CR line ends; normalise so "\n\n" ends every event
            piece = piece.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        if (
            not buf
            and piece.startswith(b"data: ")
            and piece.endswith(b"\n\n")
            and piece.find(b"\n") == len(piece) - 2
        ):
            out.append((stamp, piece[6:-2]))  # the usual read: one whole one-line event
            continue
        buf = buf + piece if buf else piece
        start = 0
        while True:
            end = buf.find(b"\n\n", start)
            if end < 0:
                break
            block = buf[start:end]
            start = end + 2
            if block.startswith(b"data: ") and b"\n" not in block:
                out.append((stamp, block[6:]))  # the common one-line case, without splitting
                continue
            data = [line[5:].removeprefix(b" ") for line in block.split(b"\n") if line.startswith(b"data:")]
            if data:
                out.append((stamp, b"\n".join(data)))
        buf = buf[start:] if start else buf
    return out


def _delta_text(choice: Any) -> bool:
    if not isinstance(choice, dict):
        return False
    delta = choice.get("delta")
    if not isinstance(delta, dict):
        return False
    return bool(delta.get("content")) or bool(delta.get("reasoning_content"))


def observe_stream(parts: Sequence[tuple[float, bytes]]) -> Observed:
    """Read a chat-completions SSE body."""
    seen = Observed()
    for stamp, data in sse_data(parts):
        seen.events += 1
        if data == b"[DONE]":
            seen.done = True
            continue
        try:
            chunk = parse_event(data)
        except ValueError:  # also UnicodeDecodeError
            seen.error = seen.error or "an SSE event is not JSON"
            continue
        except RecursionError:  # a hostile server's JSON nested ~1000+ deep must fail the sample, not the run
            seen.error = seen.error or "an SSE event nests JSON too deeply to parse"
            continue
        if not isinstance(chunk, dict):
            continue
        sent_at = chunk.get("x_mock_sent_at")
        if isinstance(sent_at, (int, float)):
            seen.sent_stamps.append((stamp, float(sent_at)))
        choices = chunk.get("choices")
        if choices and any(map(_delta_text, choices)):
            if not seen.token_stamps and isinstance(sent_at, (int, float)):
                seen.first_token_sent_at = float(sent_at)
            seen.token_stamps.append(stamp)
        usage = chunk.get("usage")
        if isinstance(usage, dict) and isinstance(usage.get("completion_tokens"), int):
            seen.usage_tokens = usage["completion_tokens"]
        if "error" in chunk and seen.error is None:
            seen.error = f"error event in stream: {str(chunk['error'])[:120]}"
    return seen


def observe_json(body: bytes, end: float) -> Observed:
    """Read a non-stream chat-completions body: every token arrives at `end`, with the whole body."""
    seen = Observed()
    try:
        doc = json.loads(body)
    except ValueError:
        seen.error = "response body is not JSON"
        return seen
    except RecursionError:  # a hostile server's JSON nested ~1000+ deep must fail the sample, not the run
        seen.error = "response body nests JSON too deeply to parse"
        return seen
    if not isinstance(doc, dict):
        seen.error = "response body is not a JSON object"
        return seen
    choices = doc.get("choices")
    message = choices[0].get("message") if isinstance(choices, list) and choices else None
    if isinstance(message, dict) and (message.get("content") or message.get("reasoning_content")):
        seen.token_stamps.append(end)
    usage = doc.get("usage")
    if isinstance(usage, dict) and isinstance(usage.get("completion_tokens"), int):
        seen.usage_tokens = usage["completion_tokens"]
    if "error" in doc:
        seen.error = f"error body: {str(doc['error'])[:120]}"
    seen.done = True
    return seen
