"""The request journal: a bounded, thread-safe record of what clients sent, with secrets redacted."""

from __future__ import annotations

import json
import re
import threading
from collections import deque
from collections.abc import Iterable, Mapping
from typing import Any

__all__ = ["MAX_ENTRIES", "Journal", "body_record", "redact_headers", "redact_query"]

MAX_ENTRIES = 10_000
REDACTED = "[REDACTED]"
_MAX_STRING = 4096  # long strings (base64 images) are cut so 10,000 entries stay small
_MAX_TEXT = 2048
_SECRET_HEADERS = frozenset(
    {"authorization", "proxy-authorization", "x-api-key", "api-key", "x-payment", "cookie", "set-cookie"}
)
_SECRET_QUERY = re.compile(r"key|token|secret|passw|auth|sig|credential", re.IGNORECASE)


class Journal:
    """Keeps the last `maxlen` entries; safe to read from another thread (MockServer.journal()).

    Entries are kept as JSON text: 10,000 entries of nested dicts would be objects the garbage
    collector walks on every full collection, pausing every open stream; text is not walked.
    """

    def __init__(self, maxlen: int = MAX_ENTRIES) -> None:
        self._entries: deque[str] = deque(maxlen=maxlen)
        self._lock = threading.Lock()
        self._counter = 0

    def add(self, entry: dict[str, Any]) -> None:
        """Record `entry` (JSON values only) with the next sequence number as `seq`."""
        with self._lock:
            self._counter += 1
            entry["seq"] = self._counter
            try:
                text = json.dumps(entry)
            except (TypeError, ValueError, RecursionError):  # a body too deep to write: keep the rest
                text = json.dumps({**entry, "body": None})
            self._entries.append(text)

    def entries(self) -> list[dict[str, Any]]:
        """Fresh copies, oldest first."""
        with self._lock:
            kept = list(self._entries)
        return [json.loads(text) for text in kept]

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


def redact_headers(headers: Iterable[tuple[str, str]]) -> dict[str, str]:
    """Headers as a dict (repeats joined by ", "); credentials keep only their scheme word."""
    result: dict[str, str] = {}
    for name, value in headers:
        if name.lower() in _SECRET_HEADERS:
            scheme, _, rest = value.partition(" ")
            value = f"{scheme} {REDACTED}" if rest and name.lower().endswith("authorization") else REDACTED
        result[name] = f"{result[name]}, {value}" if name in result else value
    return result


def redact_query(query: Mapping[str, str] | Iterable[tuple[str, str]]) -> dict[str, str]:
    """Query parameters with key-like names (api_key, token, sig, ...) redacted."""
    pairs = query.items() if isinstance(query, Mapping) else query
    return {k: (REDACTED if _SECRET_QUERY.search(k) else v) for k, v in pairs}


def body_record(raw: bytes | None, parsed: Any = None, *, has_parsed: bool = False) -> Any:
    """The body as JSON when it parses (long strings cut), else a bounded text excerpt, else None."""
    if has_parsed:
        return _shrink(parsed)
    if not raw:
        return None
    try:
        return _shrink(json.loads(raw))
    except (ValueError, RecursionError):
        text = raw[:_MAX_TEXT].decode("utf-8", "replace")
        return text + (f"…[{len(raw) - _MAX_TEXT} more bytes]" if len(raw) > _MAX_TEXT else "")


def _shrink(value: Any) -> Any:
    if isinstance(value, str) and len(value) > _MAX_STRING:
        return value[:_MAX_STRING] + f"…[{len(value) - _MAX_STRING} more chars]"
    if isinstance(value, dict):
        return {k: _shrink(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_shrink(v) for v in value]
    return value
