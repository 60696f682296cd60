"""Defects for the transport and request areas: content types, auth, methods, acceptance, rejection."""

from __future__ import annotations

import json

from chatcert._models import Exchange, SSEEvent
from defects.fakes import (
    Defect,
    body,
    events,
    header,
    json_del,
    json_set,
    no_answer,
    on,
    refused,
    rejection_defects,
    status,
)

D = Defect
HTML = "<html><body><h1>502 Bad Gateway</h1></body></html>"

TRANSPORT = [
    D(
        "chat_content_type_is_json",
        "text_html",
        on("chat_basic", header("content-type", "text/html; charset=utf-8")),
        "text/html",
    ),
    D(
        "chat_content_type_is_json",
        "no_content_type",
        on("chat_basic", header("content-type", None)),
        "(none)",
    ),
    D("chat_content_type_is_json", "status_500", on("chat_basic", status(500)), "500"),
    D(
        "json_charset_is_utf8",
        "latin1",
        on("chat_basic", header("content-type", "application/json; charset=ISO-8859-1")),
        "iso-8859-1",
    ),
    D(
        "non_stream_is_not_sse",
        "streamed_unasked",
        on(
            "chat_basic",
            body('data: {"id": "chatcmpl-x"}\n\ndata: [DONE]\n\n', "text/event-stream"),
        ),
        "data: [DONE]",
    ),
    D(
        "non_stream_is_not_sse",
        "sse_body_labelled_json",
        on("chat_basic", body('data: {"id": "chatcmpl-x"}\n\n', "application/json")),
        'data: {"id"',
    ),
    D(
        "stream_content_type_is_event_stream",
        "labelled_json",
        on("chat_stream", header("content-type", "application/json")),
        "application/json",
    ),
    D(
        "stream_content_type_is_event_stream",
        "status_503",
        on("chat_stream", status(503), body({"detail": "busy"}, "application/json")),
        "503",
    ),
    D(
        "error_content_type_is_json",
        "html_error_page",
        on("malformed_json", body(HTML, "text/html")),
        "text/html",
    ),
    D(
        "error_content_type_is_json",
        "plain_text_422",
        on("missing_messages", body("messages missing", "text/plain")),
        "text/plain",
    ),
    D(
        "authorized_request_succeeds",
        "key_refused_401",
        on("chat_basic", status(401), body({"detail": "Invalid API key"})),
        "401",
    ),
    D(
        "authorized_request_succeeds",
        "key_refused_403",
        on("chat_basic", status(403), body({"detail": "Forbidden"})),
        "403",
    ),
    *rejection_defects("missing_key_rejected", wrong_4xx=400),
    *rejection_defects("wrong_key_rejected", wrong_4xx=404),
    *rejection_defects("unsupported_method_is_4xx"),
    D("unknown_fields_tolerated", "refused_400", refused("chat_unknown_field"), "400"),
    D("unknown_fields_tolerated", "refused_422", refused("chat_unknown_field", code=422), "422"),
    D("status_codes_documented", "teapot_418", on("malformed_json", status(418)), "418"),
    D("status_codes_documented", "created_201", on("chat_basic", status(201)), "201"),
]


def _rejects(*check_ids: str) -> list[Defect]:
    return [d for c in check_ids for d in rejection_defects(c)]


def _chunk(i: int) -> SSEEvent:
    doc = {
        "id": "chatcmpl-1",
        "object": "chat.completion.chunk",
        "created": 1767225600,
        "model": "fake",
        "choices": [{"index": 0, "delta": {"content": "OK "}, "finish_reason": None}],
    }
    return SSEEvent(json.dumps(doc), "message", None, 0.05 * i)


def hung_up(exchange: Exchange) -> None:
    """chatcert read what it needed and closed the stream (RequestSpec.enough_bytes)."""
    exchange.truncated = True


REQUEST = [
    *rejection_defects("negative_max_tokens_rejected"),
    D(
        "negative_max_tokens_rejected",
        "no_limit_then_2023_tokens",
        on(
            "negative_max_tokens",
            status(200),
            body(
                {
                    "id": "chatcmpl-1",
                    "object": "chat.completion",
                    "created": 1767225600,
                    "model": "fake",
                    "choices": [
                        {
                            "index": 0,
                            "message": {"role": "assistant", "content": "OK " * 2023},
                            "finish_reason": "length",
                        }
                    ],
                    "usage": {"prompt_tokens": 9, "completion_tokens": 2023, "total_tokens": 2032},
                },
                "application/json",
            ),
        ),
        "generated 2023 token(s): a negative cap means no cap",
    ),
    D(
        "negative_max_tokens_rejected",
        "no_limit_streams_until_hung_up",
        on(
            "negative_max_tokens",
            status(200),
            header("content-type", "text/event-stream"),
            events(lambda _: [_chunk(i) for i in range(40)]),
            hung_up,
        ),
        "200 and 40 stream event(s), and was still streaming when chatcert hung up",
    ),
    D(
        "negative_max_tokens_rejected",
        "no_limit_no_answer_before_deadline",
        on("negative_max_tokens", no_answer("ReadTimeout: wall-clock deadline of 10.0 s passed")),
        "no answer within 10.0 s, where a 4xx needs no generation",
    ),
    *_rejects(
        "malformed_json_rejected",
        "non_object_body_rejected",
    ),
    # The contract changed (issue 14): a text/plain body read as JSON (200) conforms; only a 5xx fails.
    D(
        "wrong_content_type_rejected",
        "server_error_500",
        on(
            "wrong_content_type", status(500), body("1 validation error: model_attributes_type", "text/plain")
        ),
        "500",
    ),
    D("wrong_content_type_rejected", "bad_gateway_502", on("wrong_content_type", status(502)), "502"),
    D(
        "healthy_after_rejected_request",
        "next_request_fails_503",
        on("healthy_after_rejection", status(503), body({"detail": "down"}), index=1),
        "503",
    ),
    D(
        "healthy_after_rejected_request",
        "connection_dropped",
        on("healthy_after_rejection", status(None, "RemoteProtocolError: peer closed connection"), index=1),
        "peer closed connection",
    ),
    D("odd_unicode_not_5xx", "nul_crashes_500", on("chat_nul", status(500)), "500"),
    D("odd_unicode_not_5xx", "nul_crashes_502", on("chat_nul", status(502), body(HTML, "text/html")), "502"),
    D(
        "rejections_carry_error_body",
        "plain_text_error",
        on("empty_messages", body("Bad Request", "text/plain")),
        "Bad Request",
    ),
    D(
        "rejections_carry_error_body",
        "error_is_a_string",
        on("temperature_out_of_range", body({"error": "temperature too high"})),
        "temperature too high",
    ),
    D(
        "rejections_carry_error_body",
        "empty_body",
        on("missing_messages", body(b"")),
        "no recognised shape",
    ),
    D(
        "max_completion_tokens_honoured",
        "cap_ignored",
        on(
            "chat_max_completion_tokens",
            json_set(("usage",), {"prompt_tokens": 14, "completion_tokens": 9, "total_tokens": 23}),
        ),
        "max_completion_tokens=3",
    ),
    D(
        "max_completion_tokens_honoured",
        "usage_missing",
        on("chat_max_completion_tokens", json_del(("usage",))),
        "cannot verify the cap",
    ),
    D(
        "max_completion_tokens_honoured",
        "request_refused",
        refused("chat_max_completion_tokens"),
        "400",
    ),
]
