"""What a route handler returns: a JSON reply or a planned SSE stream; delivery sends it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = ["EventKind", "JsonReply", "Reply", "SseEvent", "StreamReply"]

EventKind = Literal["chunk", "usage", "done", "error", "meta"]


@dataclass
class JsonReply:
    """A complete JSON response."""

    body: Any
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)  # slots: a stream holds many, each one object for the GC
class SseEvent:
    """One SSE event: JSON data (stamped with `x_mock_sent_at` when sent) or a raw string like `[DONE]`.

    `step` numbers content events for pacing (TTFT, then ITL per step); None goes out at once.
    """

    data: dict[str, Any] | str
    kind: EventKind = "chunk"
    event: str | None = None
    step: int | None = None


@dataclass
class StreamReply:
    """A 200 `text/event-stream` reply; `midstream_error` sends `error_event`; `seed` fixes the jitter;
    `usage` is the whole reply's usage, sent or not (defects may misplace it). Delivery consumes
    `events`: its fast path empties the list once it has serialised them."""

    events: list[SseEvent]
    error_event: SseEvent
    seed: str = ""
    headers: dict[str, str] = field(default_factory=dict)
    usage: dict[str, int] | None = None

    @property
    def content_steps(self) -> int:
        """How many paced steps the stream has."""
        return 1 + max((e.step for e in self.events if e.step is not None), default=-1)


Reply = JsonReply | StreamReply
