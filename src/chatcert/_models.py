"""The records a run is made of: requests, exchanges, SSE events."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from chatcert._json import parse_json

__all__ = ["Exchange", "RequestSpec", "SSEEvent"]


@dataclass
class RequestSpec:
    """One request a probe wants sent. `body` is JSON unless `raw_body` is given."""

    method: str
    route: str
    body: Any = None
    raw_body: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)
    stream: bool = False
    auth: bool = True
    label: str = ""
    # None: the client's default deadline.
    deadline_s: float | None = None
    # Stop reading, without error, once this many bytes came: the probe has seen what it needs, and a
    # server streaming an answer it should have refused stops generating when the client hangs up.
    enough_bytes: int | None = None

    def content(self) -> bytes | None:
        if self.raw_body is not None:
            return self.raw_body
        if self.body is None:
            return None
        return json.dumps(self.body, separators=(",", ":")).encode()

    @property
    def max_tokens(self) -> int:
        if isinstance(self.body, dict):
            for key in ("max_tokens", "max_completion_tokens"):
                value = self.body.get(key)
                if isinstance(value, int) and value > 0:
                    return value
        return 0


@dataclass
class SSEEvent:
    """One server-sent event: `data` joined from its data lines; `at` seconds since the request began."""

    data: str
    event: str = "message"
    id: str | None = None
    at: float = 0.0
    raw: str = ""

    def json(self) -> Any:
        return parse_json(self.data)


@dataclass
class Exchange:
    """A request as sent (redacted) and what came back, bounded, with timings."""

    label: str
    method: str
    url: str
    request_headers: dict[str, str]
    request_body: bytes | None
    status: int | None = None
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    truncated: bool = False
    error: str | None = None
    elapsed_s: float = 0.0
    first_byte_s: float | None = None
    events: list[SSEEvent] = field(default_factory=list)
    sse_errors: list[str] = field(default_factory=list)
    chunks: list[tuple[float, int]] = field(default_factory=list)
    curl: str = ""
    tokens_reserved: int = 0
    tokens_used: int = 0

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "")

    @property
    def media_type(self) -> str:
        return self.content_type.split(";", 1)[0].strip().lower()

    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")

    def json(self) -> Any:
        """The body as JSON; raises ValueError with a short reason when it is not."""
        try:
            return parse_json(self.body.decode("utf-8"))
        except UnicodeDecodeError as exc:
            raise ValueError(f"body is not UTF-8: {exc.reason} at byte {exc.start}") from exc
        except json.JSONDecodeError as exc:
            raise ValueError(f"body is not JSON: {exc.msg} at char {exc.pos}") from exc

    def excerpt(self, limit: int = 600) -> str:
        text = self.text()
        return text if len(text) <= limit else text[:limit] + f"... [{len(self.body)} bytes]"

    def data_events(self) -> list[SSEEvent]:
        """Events carrying data, in order."""
        return [e for e in self.events if e.data != "" or e.event != "message"]
