"""Streaming defects that need code: SSE framing, the [DONE] sentinel, finish timing, usage placement,
errors sent as 200. Edits of the chunks' fields are declared in `fixtures/defects/streaming.json`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from mock_server.defect_catalogue._edit import chat_chunk, choices, edit_event
from mock_server.defects import Defect, DefectContext
from mock_server.replies import SseEvent

__all__ = ["STREAMING"]

EventHook = Callable[[SseEvent, DefectContext], list[SseEvent]]


def _on_chunks(edit: Callable[[dict[str, Any], DefectContext], None]) -> EventHook:
    """An event hook applying `edit(chunk, ctx)` to every chat chunk (JSON with choices)."""

    def hook(event: SseEvent, ctx: DefectContext) -> list[SseEvent]:
        if not chat_chunk(event, ctx):
            return [event]
        return edit_event(event, lambda data: edit(data, ctx))

    return hook


def _is_done(event: SseEvent) -> bool:
    return event.kind == "done" and event.data == "[DONE]"


def _drop_done(event: SseEvent, ctx: DefectContext) -> list[SseEvent]:
    return [] if _is_done(event) else [event]


def _done_twice(event: SseEvent, ctx: DefectContext) -> list[SseEvent]:
    return [event, event] if _is_done(event) and ctx.route == "chat" else [event]


def _other_text(chunk: dict[str, Any], ctx: DefectContext) -> None:
    for choice in choices(chunk):
        delta = choice.get("delta")
        if isinstance(delta, dict) and isinstance(delta.get("content"), str):
            delta["content"] = delta["content"].upper()


def _early_finish(chunk: dict[str, Any], ctx: DefectContext) -> None:
    """finish_reason on each choice's first content chunk, none on its real last one."""
    finished: set[int] = ctx.state.setdefault("finished", set())
    for choice in choices(chunk):
        index = choice.get("index", 0)
        delta = choice.get("delta")
        has_content = isinstance(delta, dict) and bool(delta.get("content") or delta.get("tool_calls"))
        if index in finished:
            choice["finish_reason"] = None
        elif has_content:
            finished.add(index)
            choice["finish_reason"] = choice.get("finish_reason") or "stop"


def _asked_usage(ctx: DefectContext) -> bool:
    options = ctx.request.get("stream_options") if isinstance(ctx.request, dict) else None
    return isinstance(options, dict) and options.get("include_usage") is True


def _usage_unasked(chunk: dict[str, Any], ctx: DefectContext) -> None:
    finishing = any(c.get("finish_reason") is not None for c in choices(chunk))
    if finishing and not _asked_usage(ctx) and ctx.usage is not None:
        chunk["usage"] = dict(ctx.usage)  # llama.cpp-style: usage rides on the final chunk


def _usage_everywhere(chunk: dict[str, Any], ctx: DefectContext) -> None:
    if ctx.usage is not None:
        chunk["usage"] = dict(ctx.usage)


def _drop_usage_chunk(event: SseEvent, ctx: DefectContext) -> list[SseEvent]:
    return [] if ctx.route == "chat" and event.kind == "usage" else [event]


def _single_newline(text: str, ctx: DefectContext) -> str:
    if ctx.route == "chat" and ctx.stream and text.endswith("\n\n"):
        return text[:-1]
    return text


def _split_json(text: str, ctx: DefectContext) -> str:
    # A proxy that re-chunks the stream and frames each piece as its own event.
    if ctx.route != "chat" or not ctx.stream or not text.startswith("data: {"):
        return text
    payload = text[len("data: ") :].rstrip("\n")
    half = len(payload) // 2
    return f"data: {payload[:half]}\n\ndata: {payload[half:]}\n\n"


def _rejected_stream(ctx: DefectContext) -> bool:
    return ctx.route == "chat" and ctx.asked_stream and not ctx.stream and not ctx.ok


def _error_status_as_200(status: int, ctx: DefectContext) -> int:
    return 200 if _rejected_stream(ctx) else status


def _error_as_sse_headers(headers: dict[str, str], ctx: DefectContext) -> None:
    if _rejected_stream(ctx):
        headers["Content-Type"] = "text/event-stream"


def _error_as_sse_event(text: str, ctx: DefectContext) -> str:
    return f"data: {text}\n\ndata: [DONE]\n\n" if _rejected_stream(ctx) else text


STREAM = ("streaming",)
STREAMING = [
    Defect(
        "stream_missing_done",
        "the data: [DONE] sentinel is left out",
        event=_drop_done,
        catches=("stream_ends_with_done", "stream_done_sent_once"),
        capabilities=STREAM,
    ),
    Defect(
        "stream_done_twice",
        "data: [DONE] is sent twice",
        event=_done_twice,
        catches=("stream_done_sent_once",),
        capabilities=STREAM,
        reference="songquanpeng/one-api#1628, ray-project/ray#62228",
    ),
    Defect(
        "stream_content_after_finish",
        "finish_reason arrives with the first content chunk; the rest of the text follows it",
        event=_on_chunks(_early_finish),
        catches=("stream_no_content_after_finish",),
        capabilities=STREAM,
    ),
    Defect(
        "stream_text_differs",
        "the streamed text differs from the non-stream text of the same request",
        event=_on_chunks(_other_text),
        catches=("stream_matches_non_stream",),
        capabilities=STREAM,
    ),
    Defect(
        "stream_no_blank_line",
        "SSE events end with one newline instead of a blank line",
        wire=_single_newline,
        catches=("stream_sse_framing_valid", "stream_events_are_json"),
        capabilities=STREAM,
    ),
    Defect(
        "stream_json_split_across_events",
        "each chunk's JSON is split across two data: events",
        wire=_split_json,
        catches=("stream_events_are_json",),
        capabilities=STREAM,
    ),
    Defect(
        "stream_usage_unasked",
        "the final chunk carries usage although include_usage was not asked",
        event=_on_chunks(_usage_unasked),
        catches=("stream_no_usage_unless_asked",),
        capabilities=STREAM,
        reference="llama.cpp#12102",
    ),
    Defect(
        "stream_include_usage_ignored",
        "stream_options.include_usage is ignored: no usage chunk",
        event=_drop_usage_chunk,
        catches=("stream_usage_chunk_when_asked", "stream_usage_totals_consistent"),
        capabilities=("streaming", "stream_usage"),
        reference="tensorzero/tensorzero PR #1851 (fix)",
    ),
    Defect(
        "stream_usage_every_chunk",
        "every chunk carries the full usage",
        event=_on_chunks(_usage_everywhere),
        catches=("stream_usage_chunk_when_asked", "stream_no_usage_unless_asked"),
        capabilities=("streaming", "stream_usage"),
        reference="llama.cpp PR #22081",
    ),
    Defect(
        "stream_error_as_200",
        "an invalid streamed request is answered 200 with an error event instead of a 4xx",
        status=_error_status_as_200,
        headers=_error_as_sse_headers,
        wire=_error_as_sse_event,
        catches=("stream_errors_use_http_status",),
        capabilities=STREAM,
        reference="litellm-rs#170",
    ),
]
