"""Defects for the other routes and failure paths: discovery, error bodies, faults, Pharia, Anthropic
Messages and legacy completions."""

from __future__ import annotations

from typing import Any

from chatcert._models import SSEEvent
from defects.fakes import (
    Defect,
    Edit,
    Probes,
    acceptance_defects,
    append_event,
    body,
    chunks,
    drop_done,
    elapsed,
    events,
    header,
    json_del,
    json_edit,
    json_replace,
    json_set,
    on,
    refused,
    rejection_defects,
    status,
)

D = Defect
HTML = "<html><body><h1>Internal Server Error</h1></body></html>"
OPENAI_ERROR = {
    "error": {"message": "bad request", "type": "invalid_request_error", "param": None, "code": None}
}


def _models(*edits: Edit) -> Any:
    return on("models_list", *edits)


def _unlist(doc: dict[str, Any]) -> None:
    for model in doc["data"]:
        model["id"] = "some-other-model"


def _duplicate_first(doc: dict[str, Any]) -> None:
    doc["data"].append(dict(doc["data"][0]))


def _servers(value: Any) -> Edit:
    def edit(doc: dict[str, Any]) -> None:
        for entry in doc.values():
            entry["servers"] = value

    return json_edit(edit)


DISCOVERY = [
    D("models_list_ok", "status_404", _models(status(404), body({"detail": "Not Found"})), "404"),
    D("models_list_ok", "text_html", _models(header("content-type", "text/html")), "text/html"),
    D(
        "models_list_schema_valid",
        "data_is_an_object",
        _models(json_edit(lambda doc: doc.update(data=doc["data"][0]))),
        "data",
    ),
    D("models_list_schema_valid", "bare_array", _models(json_replace(lambda doc: doc["data"])), "(root)"),
    D("models_list_schema_valid", "model_without_id", _models(json_del(("data", 0, "id"))), "'id'"),
    D("models_list_contains_model", "model_not_listed", _models(json_edit(_unlist)), "is not listed"),
    D("models_list_contains_model", "empty_list", _models(json_set(("data",), [])), "is not listed"),
    D("models_ids_unique", "duplicate_id", _models(json_edit(_duplicate_first)), "duplicate model ids"),
    D("health_endpoint_ok", "status_503", on("health", status(503)), "503"),
    D("health_endpoint_ok", "status_404", on("health", status(404), body({"detail": "Not Found"})), "404"),
    D(
        "health_endpoint_ok",
        "welcome_page",
        on("health", body("<!doctype html><html><body>Welcome to nginx!</body></html>", "text/html")),
        "HTML page",
    ),
    D("health_endpoint_ok", "unhealthy", on("health", body({"status": "error"})), "unhealthy"),
    D("auth_check_accepts_valid_key", "key_refused", on("auth_check_valid", status(401)), "401"),
    *rejection_defects("auth_check_rejects_missing_key", wrong_4xx=403),
    *rejection_defects("auth_check_rejects_wrong_key", wrong_4xx=403),
    D(
        "discovery_map_schema_valid",
        "servers_is_a_string",
        on("discovery_map", _servers("http://127.0.0.1:8000")),
        "servers",
    ),
    D(
        "discovery_map_schema_valid",
        "server_not_a_url",
        on("discovery_map", _servers(["not a url"])),
        "not a url",
    ),
    D("discovery_map_schema_valid", "status_500", on("discovery_map", status(500)), "500"),
    D(
        "discovery_map_lists_model",
        "no_servers",
        on("discovery_map", _servers([])),
        "no servers listed",
    ),
    D(
        "discovery_map_lists_model",
        "model_missing",
        on("discovery_map", body({"other-model": {"servers": ["http://127.0.0.1:8000"]}})),
        "no servers listed",
    ),
]


def _payment_sent(probes: Probes) -> None:
    probes["fault_402"].exchanges[0].request_headers["X-PAYMENT"] = "eyJ4NDAyVmVyc2lvbiI6MX0="


ERRORS = [
    D(
        "error_bodies_do_not_leak_internals",
        "python_traceback_in_500",
        on(
            "malformed_json",
            status(500),
            body(
                {
                    "detail": 'Traceback (most recent call last):\n  File "/usr/lib/python3/dist-packages/'
                    'app/server.py", line 88, in chat\nValueError: Expecting value'
                },
                "application/json",
            ),
        ),
        "Traceback (most recent call last)",
    ),
    D(
        "error_bodies_do_not_leak_internals",
        "build_path_in_400",
        on(
            "empty_messages",
            body(
                {
                    "error": {
                        "message": "empty input at /home/runner/work/llama.cpp/tools/server/server.cpp",
                        "type": "invalid_request_error",
                    }
                }
            ),
        ),
        "/home/runner/work/llama.cpp/tools/server/server.cpp",
    ),
    D(
        "error_bodies_do_not_leak_internals",
        "go_panic_in_500",
        on(
            "unknown_role",
            status(500),
            body("panic: bad role\n\ngoroutine 1 [running]:\nmain.chat()", "text/plain"),
        ),
        "goroutine 1 [running]",
    ),
    D(
        "rejections_answer_promptly",
        "400_after_retries",
        on("missing_messages", elapsed(7.5)),
        "took 7.5 s",
    ),
    D(
        "error_body_matches_profile_shape",
        "openai_shape_for_detail_profile",
        on("missing_messages", body(OPENAI_ERROR)),
        "not in the detail shape",
    ),
    D(
        "error_body_matches_profile_shape",
        "html_404",
        on("unknown_model", body(HTML, "text/html")),
        "Internal Server Error",
    ),
    # Judged against the capture whose profile has error_shape openai (the only one it applies to).
    D(
        "error_object_has_all_fields",
        "param_missing",
        on("missing_messages", json_del(("error", "param"))),
        "'param' is a required property",
    ),
    D(
        "error_object_has_all_fields",
        "integer_code",
        on("unknown_model", json_set(("error", "code"), 404)),
        "404 is not of type",
    ),
    D("unknown_model_is_404", "status_400", refused("unknown_model"), "400"),
    D("unknown_model_is_404", "accepted", on("unknown_model", status(200)), "200"),
    D("validation_error_is_422", "status_400", refused("missing_messages"), "400"),
    D("validation_error_is_422", "accepted", on("missing_messages", status(200)), "200"),
    D(
        "rate_limit_has_retry_after",
        "no_retry_after",
        on("fault_429", header("retry-after", None)),
        "(none)",
    ),
    D(
        "rate_limit_has_retry_after",
        "retry_after_zero",
        on("fault_429", header("retry-after", "0")),
        "Retry-After",
    ),
    D(
        "rate_limit_has_retry_after",
        "html_body",
        on("fault_429", body(HTML, "text/html")),
        "429 body not an error body",
    ),
    D("rate_limit_has_retry_after", "status_503", on("fault_429", status(503)), "503"),
    D(
        "payment_required_has_x402_body",
        "no_accepts",
        on("fault_402", json_set(("accepts",), [])),
        "x402",
    ),
    D(
        "payment_required_has_x402_body",
        "detail_only",
        on("fault_402", body({"detail": "Payment required"})),
        "Payment required",
    ),
    D("payment_required_has_x402_body", "payment_sent", _payment_sent, "chatcert sent a payment"),
    D("payment_required_has_x402_body", "status_400", on("fault_402", status(400)), "400"),
    D("unavailable_503_has_error_body", "status_500", on("fault_503", status(500)), "expected 503"),
    D(
        "unavailable_503_has_error_body",
        "html_body",
        on("fault_503", body(HTML, "text/html")),
        "503 body not an error body",
    ),
    D("server_error_has_error_body", "status_502", on("fault_500", status(502)), "502"),
    D(
        "server_error_has_error_body",
        "html_body",
        on("fault_500", body(HTML, "text/html")),
        "500 body not an error body",
    ),
    D(
        "payload_too_large_has_error_body",
        "plain_text",
        on("fault_413", body("Request Entity Too Large", "text/plain")),
        "Request Entity Too Large",
    ),
    D("payload_too_large_has_error_body", "status_400", on("fault_413", status(400)), "400"),
]


def _error_event_removed(items: list[SSEEvent]) -> list[SSEEvent]:
    return [e for e in items if '"error"' not in e.data]


def _error_as_text(items: list[SSEEvent]) -> None:
    for event in items:
        if '"error"' in event.data:
            event.data = "mock mid-stream error"


def _content_after_error(items: list[SSEEvent]) -> None:
    content = next(e for e in items if '"delta"' in e.data)
    items.append(SSEEvent(content.data, "message", None, items[-1].at))


FAULTS = [
    D(
        "midstream_error_is_recognisable",
        "error_event_missing",
        on("fault_midstream_error", events(_error_event_removed)),
        "no recognisable error event",
    ),
    D(
        "midstream_error_is_recognisable",
        "error_as_plain_text",
        on("fault_midstream_error", events(_error_as_text)),
        "no recognisable error event",
    ),
    D(
        "midstream_error_is_recognisable",
        "stream_goes_on",
        on("fault_midstream_error", events(_content_after_error)),
        "stream went on after the error",
    ),
]

PHARIA = [
    *acceptance_defects("chat_alias_route_answers"),
    D("chat_alias_route_answers", "not_found", refused("chat_alias_basic", code=404), "404"),
    D(
        "chat_alias_route_answers",
        "empty_answer",
        on("chat_alias_basic", json_set(("choices", 0, "message", "content"), "")),
        "no answer text",
    ),
    D(
        "complete_route_answers",
        "completions_missing",
        on("complete_basic", json_del(("completions",))),
        "completions[0].completion",
    ),
    D(
        "complete_route_answers",
        "completion_not_text",
        on("complete_basic", json_set(("completions", 0, "completion"), 42)),
        "no completions[0].completion",
    ),
    D("complete_route_answers", "status_404", refused("complete_basic", code=404), "404"),
    D(
        "transcribe_route_answers",
        "transcript_key",
        on("transcribe_basic", body({"transcript": "hello"})),
        "transcript",
    ),
    D("transcribe_route_answers", "status_415", refused("transcribe_basic", code=415), "415"),
    *rejection_defects("image_output_refused"),
    *rejection_defects("audio_output_refused"),
]


def _stream(*edits: Edit) -> Any:
    return on("messages_stream", *edits)


def _rename(old: str, new: str) -> Edit:
    def rewrite(items: list[SSEEvent]) -> None:
        for event in items:
            if event.event == old:
                event.event = new

    return events(rewrite)


def _swap_last_two(items: list[SSEEvent]) -> None:
    items[-1], items[-2] = items[-2], items[-1]


def _drop(name: str) -> Edit:
    return events(lambda items: [e for e in items if e.event != name])


def _docs_of(kind: str, fn: Any) -> Edit:
    def edit(docs: list[dict[str, Any]]) -> None:
        for doc in docs:
            if doc.get("type") == kind:
                fn(doc)

    return chunks(edit)


def _duplicate(name: str) -> Edit:
    def rewrite(items: list[SSEEvent]) -> None:
        at = next(i for i, e in enumerate(items) if e.event == name)
        items.insert(at, SSEEvent(items[at].data, name, None, items[at].at))

    return events(rewrite)


ANTHROPIC = [
    *rejection_defects("messages_missing_max_tokens_rejected"),
    D(
        "messages_error_shape",
        "openai_shape",
        on("messages_missing_max_tokens", body(OPENAI_ERROR)),
        "bad request",
    ),
    D(
        "messages_error_shape",
        "detail_shape",
        on("messages_missing_max_tokens", body({"detail": "max_tokens: field required"})),
        "field required",
    ),
    D(
        "messages_stream_events_named",
        "unnamed_events",
        _stream(_rename("content_block_delta", "message")),
        "event name differs",
    ),
    D(
        "messages_stream_events_named",
        "delta_without_text",
        _stream(_docs_of("content_block_delta", lambda doc: doc["delta"].pop("text"))),
        "does not match the schema",
    ),
    D("messages_stream_has_no_done", "DONE_appended", _stream(append_event("[DONE]")), "[DONE]"),
    D(
        "messages_stream_event_order",
        "stop_before_delta",
        _stream(events(_swap_last_two)),
        "out of order",
    ),
    D(
        "messages_stream_event_order",
        "block_never_stopped",
        _stream(_drop("content_block_stop")),
        "out of order",
    ),
    D("messages_stream_event_order", "no_message_start", _stream(_drop("message_start")), "out of order"),
    D(
        "messages_stream_event_order",
        "block_without_delta",
        _stream(_drop("content_block_delta")),
        "out of order",
    ),
    D(
        "messages_stream_block_indexes_consistent",
        "delta_index_1",
        _stream(_docs_of("content_block_delta", lambda doc: doc.update(index=1))),
        "index differs",
    ),
    D(
        "messages_stream_delta_has_stop_reason",
        "stop_reason_missing",
        _stream(_docs_of("message_delta", lambda doc: doc["delta"].pop("stop_reason"))),
        "lacks stop_reason",
    ),
    D(
        "messages_stream_delta_has_stop_reason",
        "usage_missing",
        _stream(_docs_of("message_delta", lambda doc: doc.pop("usage"))),
        "lacks stop_reason or usage",
    ),
    D(
        "messages_stream_delta_has_stop_reason",
        "two_message_deltas",
        _stream(_duplicate("message_delta")),
        "one message_delta",
    ),
]


COMPLETIONS = [
    D(
        "completions_stream_ends_with_done",
        "missing_DONE",
        on("completions_stream", drop_done()),
        "no final [DONE]",
    ),
]
