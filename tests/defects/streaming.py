"""Defects for chat streams: SSE framing, chunk schema and identity, role, finish, [DONE], usage, stalls."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from chatcert._models import SSEEvent
from defects.fakes import (
    Defect,
    Edit,
    append_event,
    body,
    body_edit,
    chunks,
    cut,
    drop_done,
    events,
    insert_before_done,
    is_done,
    on,
    status,
)

D = Defect
Docs = list[dict[str, Any]]
ERROR = {"error": {"message": "upstream overloaded", "type": "server_error", "param": None, "code": None}}


def _stream(*edits: Edit) -> Any:
    return on("chat_stream", *edits)


def _usage_stream(*edits: Edit) -> Any:
    return on("chat_stream_usage", *edits)


def _choice_docs(docs: Docs) -> Docs:
    return [d for d in docs if d.get("choices")]


def _delta(doc: dict[str, Any]) -> dict[str, Any]:
    delta: dict[str, Any] = doc["choices"][0]["delta"]
    return delta


def _content_docs(docs: Docs) -> Docs:
    return [d for d in _choice_docs(docs) if _delta(d).get("content")]


def _chunk_edit(fn: Callable[[Docs], object]) -> Edit:
    return chunks(fn)


def _before_done(raw: bytes) -> Callable[[bytes], bytes]:
    """Insert raw bytes just before the final `data: [DONE]` line (which must be there)."""

    def edit(data: bytes) -> bytes:
        at = data.rindex(b"data: [DONE]")
        return data[:at] + raw + data[at:]

    return edit


def _late_content(items: list[SSEEvent]) -> None:
    """A content chunk after the finish chunk (a copy of the first content chunk, new text)."""
    done = next((i for i, e in enumerate(items) if is_done(e)), len(items))
    first = next(
        doc
        for doc in map(_doc, items)
        if doc.get("choices") and "role" not in _delta(doc) and _delta(doc).get("content")
    )
    first["choices"][0]["delta"] = {"content": " late words"}
    items.insert(done, SSEEvent(json.dumps(first), "message", None, items[done - 1].at))


def _delay_from(index: int, seconds: float) -> Edit:
    def rewrite(items: list[SSEEvent]) -> None:
        for event in items[index:]:
            event.at += seconds

    return events(rewrite)


def _drop_usage_chunk(items: list[SSEEvent]) -> list[SSEEvent]:
    return [e for e in items if _doc(e).get("choices") != []]


def _doc(event: SSEEvent) -> dict[str, Any]:
    """An event's JSON object ({} for [DONE] and anything else that is not one): fakes edit by meaning,
    not by the server's spacing."""
    try:
        doc = json.loads(event.data)
    except ValueError:
        return {}
    return doc if isinstance(doc, dict) else {}


def _usage_of(docs: Docs) -> dict[str, Any]:
    usage: dict[str, Any] = next(d["usage"] for d in docs if isinstance(d.get("usage"), dict))
    return usage


def _usage_everywhere(docs: Docs) -> None:
    usage = _usage_of(docs)
    for doc in docs:
        doc["usage"] = dict(usage)


def _all_usage_null(docs: Docs) -> None:
    for doc in docs:
        doc["usage"] = None


def _finish_reason_twice(docs: Docs) -> None:
    _content_docs(docs)[0]["choices"][0]["finish_reason"] = "stop"


def _n2_second_unfinished(docs: Docs) -> None:
    for doc in _choice_docs(docs):
        for choice in doc["choices"]:
            if choice.get("index") == 1:
                choice["finish_reason"] = None


def _n2_second_finishes_twice(docs: Docs) -> None:
    for doc in _choice_docs(docs):
        for choice in doc["choices"]:
            if choice.get("index") == 1 and _delta(doc).get("content") is not None:
                choice["finish_reason"] = "stop"


STREAMING = [
    D(
        "stream_sse_framing_valid",
        "line_not_a_field",
        _stream(body_edit(_before_done(b"this line is not a field\n\n"))),
        "not an SSE field",
    ),
    D(
        "stream_sse_framing_valid",
        "unterminated_last_line",
        _stream(body_edit(lambda data: data.rstrip(b"\n"))),
        "unterminated line",
    ),
    D(
        "stream_sse_framing_valid",
        "no_final_blank_line",
        _stream(body_edit(lambda data: data.rstrip(b"\n") + b"\n")),
        "without the blank line",
    ),
    D(
        "stream_sse_framing_valid",
        "invalid_utf8",
        _stream(body_edit(_before_done(b'data: {"note": "\xff\xfe"}\n\n'))),
        "not UTF-8",
    ),
    D(
        "stream_sse_framing_valid",
        "cut_by_byte_cap",
        _stream(cut("response body exceeded the cap of 8388608 bytes")),
        "exceeded the cap",
    ),
    D("stream_events_are_json", "not_json", _stream(insert_before_done("{not json")), "{not json"),
    D("stream_events_are_json", "json_array", _stream(insert_before_done("[1, 2]")), "[1, 2]"),
    D(
        "stream_finish_reason_exactly_once",
        "finished_twice",
        _stream(_chunk_edit(_finish_reason_twice)),
        "exactly once",
    ),
    D("stream_no_content_after_finish", "late_content", _stream(events(_late_content)), "late words"),
    D("stream_ends_with_done", "missing_DONE", _stream(drop_done()), "does not end with data: [DONE]"),
    D(
        "stream_ends_with_done",
        "chunk_after_DONE",
        _stream(append_event({"id": "chatcmpl-late", "object": "chat.completion.chunk", "choices": []})),
        "chatcmpl-late",
    ),
    D("stream_done_sent_once", "DONE_twice", _stream(append_event("[DONE]")), "exactly once"),
    D("stream_done_sent_once", "missing_DONE", _stream(drop_done()), "exactly once"),
    D("stream_has_no_error_event", "error_chunk", _stream(insert_before_done(ERROR)), "upstream overloaded"),
    D(
        "stream_has_no_error_event",
        "named_error_event_json",
        _stream(insert_before_done({"message": "upstream overloaded"}, event="error")),
        "upstream overloaded",
    ),
    D(
        "stream_has_no_error_event",
        "named_error_event_text",
        _stream(insert_before_done("upstream overloaded", event="error")),
        "upstream overloaded",
    ),
    D(
        "stream_matches_non_stream",
        "text_differs",
        _stream(_chunk_edit(lambda docs: _delta(_content_docs(docs)[1]).update(content=" EXTRA"))),
        "EXTRA",
    ),
    D(
        "stream_matches_non_stream",
        "content_chunk_lost",
        _stream(_chunk_edit(lambda docs: _delta(_content_docs(docs)[0]).update(content=""))),
        "differs",
    ),
    D(
        "stream_no_usage_unless_asked",
        "usage_unasked",
        _stream(
            _chunk_edit(
                lambda docs: docs[-1].update(
                    usage={"prompt_tokens": 5, "completion_tokens": 6, "total_tokens": 11}
                )
            )
        ),
        "usage sent without include_usage",
    ),
    D(
        "stream_usage_chunk_when_asked",
        "usage_chunk_missing",
        _usage_stream(events(_drop_usage_chunk)),
        "no final usage chunk",
    ),
    D(
        "stream_usage_chunk_when_asked",
        "usage_on_every_chunk",
        _usage_stream(_chunk_edit(_usage_everywhere)),
        "usage on chunks other than the last",
    ),
    D(
        "stream_usage_chunk_when_asked",
        "usage_counts_missing",
        _usage_stream(_chunk_edit(lambda docs: docs[-1].update(usage={"total_tokens": 11}))),
        "no final usage chunk",
    ),
    D(
        "stream_usage_totals_consistent",
        "no_usage_at_all",
        _usage_stream(events(_drop_usage_chunk), _chunk_edit(_all_usage_null)),
        "no usage in the stream",
    ),
    D(
        "stream_multi_choice_indexes",
        "second_choice_unfinished",
        on("chat_stream_n2", _chunk_edit(_n2_second_unfinished)),
        "n=2 stream",
    ),
    D(
        "stream_multi_choice_indexes",
        "second_choice_finishes_often",
        on("chat_stream_n2", _chunk_edit(_n2_second_finishes_twice)),
        "finish both choices once",
    ),
    D("stream_no_stall", "gap_of_12s", _stream(_delay_from(3, 12.5)), "max gap 12.5"),
    D(
        "stream_no_stall",
        "read_timeout",
        _stream(cut("ReadTimeout: no data for 20.0s (stall bound) or deadline passed")),
        "ReadTimeout",
    ),
    D(
        "stream_errors_use_http_status",
        "error_event_in_200",
        on(
            "stream_rejected",
            status(200),
            body("data: " + json.dumps(ERROR) + "\n\ndata: [DONE]\n\n", "text/event-stream"),
        ),
        "200",
    ),
    # A 5xx is a real HTTP status (the contract changed: only a 200 hiding the error fails); a 200 with
    # an empty stream (llama-cpp-python for messages: []) or an unfinished one does.
    D(
        "stream_errors_use_http_status",
        "empty_200_stream",
        on("stream_rejected", status(200), body("", "text/event-stream")),
        "empty stream",
    ),
    D(
        "stream_errors_use_http_status",
        "unfinished_200_stream",
        on(
            "stream_rejected",
            status(200),
            body('data: {"choices": [{"index": 0, "delta": {"content": "hi"}}]}\n\n', "text/event-stream"),
        ),
        "without [DONE]",
    ),
]
