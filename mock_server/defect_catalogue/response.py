"""Non-stream response and usage defects: missing or mistyped fields, wrong values, ignored options."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from mock_server.defect_catalogue._edit import chat_chunk, chat_reply, choices, edit_event
from mock_server.defects import Defect, DefectContext
from mock_server.replies import SseEvent

__all__ = ["RESPONSE", "USAGE"]

Edit = Callable[[dict[str, Any]], None]


def _on_reply(edit: Edit) -> Callable[[Any, DefectContext], Any]:
    """A body hook applying `edit` to successful non-stream chat completions only."""

    def hook(body: Any, ctx: DefectContext) -> Any:
        if chat_reply(ctx) and isinstance(body, dict):
            edit(body)
        return body

    return hook


def _messages(body: dict[str, Any]) -> list[dict[str, Any]]:
    return [c["message"] for c in choices(body) if isinstance(c.get("message"), dict)]


def _each_message(edit: Edit) -> Edit:
    def apply(body: dict[str, Any]) -> None:
        for message in _messages(body):
            edit(message)

    return apply


def _each_choice(edit: Edit) -> Edit:
    def apply(body: dict[str, Any]) -> None:
        for choice in choices(body):
            edit(choice)

    return apply


def _set(key: str, value: Any) -> Edit:
    def apply(doc: dict[str, Any]) -> None:
        doc[key] = value

    return apply


def _drop(key: str) -> Edit:
    def apply(doc: dict[str, Any]) -> None:
        doc.pop(key, None)

    return apply


def _empty_finish(choice: dict[str, Any]) -> None:
    if choice.get("finish_reason") is not None:
        choice["finish_reason"] = ""


def _finish_reason_event(event: SseEvent, ctx: DefectContext) -> list[SseEvent]:
    if not chat_chunk(event, ctx):
        return [event]
    return edit_event(event, _each_choice(_empty_finish))


def _created_as_string(body: dict[str, Any]) -> None:
    body["created"] = str(body.get("created"))


def _created_in_ms(body: dict[str, Any]) -> None:
    if isinstance(body.get("created"), int):
        body["created"] *= 1000


def _content_object(message: dict[str, Any]) -> None:
    if isinstance(message.get("content"), str):
        message["content"] = {"type": "text", "text": message["content"]}


def _empty_content(message: dict[str, Any]) -> None:
    if isinstance(message.get("content"), str):
        message["content"] = ""


def _length_as_stop(choice: dict[str, Any]) -> None:
    if choice.get("finish_reason") == "length":
        choice["finish_reason"] = "stop"


def _chat_request(drop: Callable[[dict[str, Any]], None]) -> Callable[[Any, DefectContext], Any]:
    def hook(body: Any, ctx: DefectContext) -> Any:
        if ctx.route == "chat" and isinstance(body, dict):
            drop(body)
        return body

    return hook


def _without(*keys: str) -> Callable[[dict[str, Any]], None]:
    def apply(body: dict[str, Any]) -> None:
        for key in keys:
            body.pop(key, None)

    return apply


def _usage(doc: dict[str, Any]) -> dict[str, Any] | None:
    usage = doc.get("usage")
    return usage if isinstance(usage, dict) else None


def _total_is_completion(doc: dict[str, Any]) -> None:
    usage = _usage(doc)
    if usage is not None:
        usage["total_tokens"] = usage.get("completion_tokens")


def _total_event(event: SseEvent, ctx: DefectContext) -> list[SseEvent]:
    if ctx.route == "chat" and event.kind == "usage":
        return edit_event(event, _total_is_completion)
    return [event]


def _floats(doc: dict[str, Any]) -> None:
    usage = _usage(doc)
    for key, value in (usage or {}).items():
        if isinstance(value, int):
            usage[key] = float(value)  # type: ignore[index]


def _cached_over_prompt(doc: dict[str, Any]) -> None:
    usage = _usage(doc)
    if usage is not None and isinstance(usage.get("prompt_tokens"), int):
        usage["prompt_tokens_details"] = {"cached_tokens": usage["prompt_tokens"] + 10}


RESPONSE = [
    Defect(
        "finish_reason_empty_string",
        'finish_reason "" instead of "stop"/"length"/... (body and the final chunk)',
        body=_on_reply(_each_choice(_empty_finish)),
        event=_finish_reason_event,
        catches=("response_finish_reason_valid", "stream_finish_reason_exactly_once"),
        capabilities=("streaming",),
        reference="sglang#3912, openai-dotnet#389",
    ),
    Defect(
        "refusal_missing",
        "message.refusal is left out",
        body=_on_reply(_each_message(_drop("refusal"))),
        catches=("response_refusal_present", "response_matches_strict_schema"),
        reference="llm-rosetta#428 (DeepSeek omits refusal)",
    ),
    Defect(
        "logprobs_key_missing",
        "choices carry no logprobs key",
        body=_on_reply(_each_choice(_drop("logprobs"))),
        catches=("response_logprobs_key_present", "response_matches_strict_schema"),
    ),
    Defect(
        "model_not_echoed",
        "model names the file the server loaded instead of the requested model",
        body=_on_reply(_set("model", "/models/model-q4_k_m.gguf")),
        catches=("response_model_echoes_request",),
        reference="llama.cpp PR #17668",
    ),
    Defect(
        "model_missing",
        "the response has no model",
        body=_on_reply(_drop("model")),
        catches=("response_model_is_string", "response_matches_compatible_schema"),
        reference="pollinations#12142",
    ),
    Defect(
        "created_as_string",
        "created is a string of digits",
        body=_on_reply(_created_as_string),
        catches=("response_created_is_unix_seconds", "response_matches_compatible_schema"),
    ),
    Defect(
        "created_in_milliseconds",
        "created is Unix time in milliseconds",
        body=_on_reply(_created_in_ms),
        catches=("response_created_is_unix_seconds",),
    ),
    Defect(
        "content_as_object",
        'message.content is an object {"type": "text", "text": ...} instead of a string',
        body=_on_reply(_each_message(_content_object)),
        catches=("response_content_is_string_or_null", "response_matches_compatible_schema"),
    ),
    Defect(
        "content_empty_on_stop",
        'message.content is "" although finish_reason is "stop"',
        body=_on_reply(_each_message(_empty_content)),
        catches=("response_content_nonempty_on_stop",),
    ),
    Defect(
        "object_not_chat_completion",
        'object is "text_completion"',
        body=_on_reply(_set("object", "text_completion")),
        catches=("response_object_is_chat_completion",),
    ),
    Defect(
        "id_missing",
        "the response has no id",
        body=_on_reply(_drop("id")),
        catches=("response_id_nonempty", "response_matches_compatible_schema"),
    ),
    Defect(
        "id_without_chatcmpl_prefix",
        "id is a bare UUID without the chatcmpl- prefix",
        body=_on_reply(_set("id", str(uuid.UUID(int=0x5EED)))),
        catches=("response_id_has_chatcmpl_prefix",),
    ),
    Defect(
        "role_not_assistant",
        'message.role is "model"',
        body=_on_reply(_each_message(_set("role", "model"))),
        catches=("response_role_is_assistant",),
    ),
    Defect(
        "choices_empty",
        "choices is an empty array",
        body=_on_reply(_set("choices", [])),
        catches=("response_has_choices",),
    ),
    Defect(
        "finish_reason_stop_at_length",
        'an answer cut by max_tokens reports finish_reason "stop"',
        body=_on_reply(_each_choice(_length_as_stop)),
        catches=("response_finish_reason_length_at_cap",),
    ),
    Defect(
        "system_fingerprint_not_string",
        "system_fingerprint is a number",
        body=_on_reply(_set("system_fingerprint", 20260101)),
        catches=("response_system_fingerprint_is_string",),
    ),
    Defect(
        "n_ignored",
        "n is ignored: one choice however many were asked for",
        request=_chat_request(_without("n")),
        catches=("response_choices_match_n", "stream_multi_choice_indexes"),
        capabilities=("streaming",),
    ),
    Defect(
        "logprobs_ignored",
        "logprobs: true is ignored (logprobs stays null)",
        request=_chat_request(_without("logprobs", "top_logprobs")),
        catches=("logprobs_returned_when_asked",),
        capabilities=("logprobs",),
    ),
    Defect(
        "json_mode_ignored",
        "response_format is ignored: JSON mode answers in prose",
        request=_chat_request(_without("response_format")),
        catches=("json_object_response_parses",),
        capabilities=("response_format",),
    ),
]

USAGE = [
    Defect(
        "usage_missing",
        "non-stream responses carry no usage",
        body=_on_reply(_drop("usage")),
        catches=("usage_present", "usage_total_is_sum"),
    ),
    Defect(
        "usage_total_mismatch",
        "total_tokens counts only the completion (body and usage chunk)",
        body=_on_reply(_total_is_completion),
        event=_total_event,
        catches=("usage_total_is_sum", "stream_usage_totals_consistent"),
        capabilities=("streaming", "stream_usage"),
    ),
    Defect(
        "usage_counts_as_floats",
        "usage counts are floats (12.0)",
        body=_on_reply(_floats),
        catches=("usage_counts_are_nonnegative_integers",),
    ),
    Defect(
        "cached_tokens_exceed_prompt",
        "prompt_tokens_details.cached_tokens is larger than prompt_tokens",
        body=_on_reply(_cached_over_prompt),
        catches=("usage_cached_tokens_within_prompt",),
    ),
]
