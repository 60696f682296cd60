"""Defects for tool calling (calls, arguments, round trips, streamed fragments) and vision."""

from __future__ import annotations

import json
from typing import Any

from chatcert.registry import get_check
from defects.fakes import (
    Defect,
    acceptance_defects,
    body,
    chunks,
    json_edit,
    json_set,
    on,
    probe_data,
    refused,
    rejection_defects,
    status,
)

D = Defect
MESSAGE = ("choices", 0, "message")
Docs = list[dict[str, Any]]


def _second_call(doc: dict[str, Any]) -> None:
    calls = doc["choices"][0]["message"]["tool_calls"]
    extra = json.loads(json.dumps(calls[0]))
    extra["id"] += "_2"
    extra["function"] = {"name": "get_time", "arguments": json.dumps({"zone": "UTC"})}
    calls.append(extra)


def _add_call(doc: dict[str, Any]) -> None:
    doc["choices"][0]["message"]["tool_calls"] = [
        {
            "id": "call_1",
            "type": "function",
            "function": {"name": "get_weather", "arguments": '{"city": "x"}'},
        }
    ]


def _drop_last_argument_fragment(docs: Docs) -> None:
    fragments = [
        call["function"]
        for doc in docs
        for choice in doc.get("choices") or []
        for call in (choice.get("delta") or {}).get("tool_calls") or []
        if (call.get("function") or {}).get("arguments")
    ]
    fragments[-1]["arguments"] = ""


def _cut_at_length(docs: Docs) -> None:
    """Arguments cut short and the stream ends with finish_reason length: a request's token budget."""
    _drop_last_argument_fragment(docs)
    for doc in docs:
        for choice in doc.get("choices") or []:
            if choice.get("finish_reason") is not None:
                choice["finish_reason"] = "length"


def _tool_calls_as_content(docs: Docs) -> None:
    for doc in docs:
        for choice in doc.get("choices") or []:
            delta = choice.get("delta") or {}
            if delta.pop("tool_calls", None) is not None:
                delta["content"] = "I would call get_weather."


TOOLS = [
    *rejection_defects("undefined_tool_choice_rejected"),
    *rejection_defects("tool_choice_without_tools_rejected"),
    D(
        "tool_round_trip_accepted",
        "result_turn_refused",
        refused("tools_round_trip", index=1),
        "tool result turn rejected",
    ),
    D(
        "tool_round_trip_accepted",
        "result_turn_500",
        refused("tools_round_trip", index=1, code=500),
        "500",
    ),
    *acceptance_defects("tool_round_trip_empty_arguments_accepted"),
    D(
        "tool_choice_none_calls_nothing",
        "called_anyway",
        on("tools_none", json_edit(_add_call)),
        "tool called despite tool_choice none",
    ),
    D(
        "parallel_tool_calls_false_honoured",
        "two_calls",
        on("tools_parallel_false", json_edit(_second_call)),
        "more than one call",
    ),
    D(
        "stream_tool_call_fragments_valid",
        "arguments_cut",
        on("tools_stream", chunks(_drop_last_argument_fragment)),
        "do not join to a JSON object (the model's text as the server streamed it",
    ),
    D(
        "stream_tool_call_fragments_valid",
        "arguments_cut_at_length",
        on("tools_stream", chunks(_cut_at_length)),
        "do not join to a JSON object (the answer was cut at max_tokens",
    ),
    D(
        "stream_tool_call_fragments_valid",
        "no_fragments",
        on("tools_stream", chunks(_tool_calls_as_content)),
        "no tool call fragments",
    ),
]


def empty_answer_defects(check_id: str) -> list[Defect]:
    """Answered 200 with nothing to say: fails a check that the request was really answered."""
    name = get_check(check_id).probes[0]
    return [
        D(check_id, "empty_answer", on(name, json_set((*MESSAGE, "content"), "")), "empty answer"),
        D(check_id, "null_answer", on(name, json_set((*MESSAGE, "content"), None)), "empty answer"),
    ]


def _vision_accepts(check_id: str) -> list[Defect]:
    """Refused, crashed, or answered 200 with nothing to say: each fails an image-acceptance check."""
    return [*acceptance_defects(check_id), *empty_answer_defects(check_id)]


VISION = [
    *_vision_accepts("vision_text_first_accepted"),
    *_vision_accepts("vision_multi_turn_accepted"),
    *_vision_accepts("vision_max_dimensions_accepted"),
    *rejection_defects("vision_mime_mismatch_rejected"),
    *rejection_defects("vision_file_url_rejected"),
    D(
        "vision_file_url_rejected",
        "server_read_the_path",
        on(
            "vision_file_url",
            status(500),
            body(
                {
                    "detail": "<urlopen error [Errno 2] No such file or directory: "
                    "'/chatcert-probe/no-such-image.png'>"
                },
                "application/json",
            ),
        ),
        "tried to read a local file",
    ),
    D(
        "image_url_not_fetched_by_server",
        "fetched_the_loopback_url",
        probe_data(
            "vision_url_fetch",
            fetches=[
                {
                    "method": "GET",
                    "path": "/chatcert-probe/0123456789abcdef.png",
                    "user_agent": "Python-urllib/3.11",
                    "from": "127.0.0.1",
                }
            ],
            trap_url="http://127.0.0.1:40001/chatcert-probe/0123456789abcdef.png",
        ),
        "fetched the image URL itself (GET /chatcert-probe/0123456789abcdef.png",
    ),
    *rejection_defects("vision_external_url_rejected"),
    *rejection_defects("vision_oversize_dimensions_rejected"),
    *rejection_defects("vision_oversize_request_rejected", wrong_4xx=404),
]
