"""Defects for the non-stream response (shape, identity, choices, message, finish reason) and usage."""

from __future__ import annotations

from typing import Any

from defects.fakes import Defect, Probes, json_del, json_edit, json_set, on, refused

D = Defect
MESSAGE = ("choices", 0, "message")
FINISH = ("choices", 0, "finish_reason")


def _basic(*edits: Any) -> Any:
    return on("chat_basic", *edits)


def _usage(prompt: Any, completion: Any, total: Any) -> dict[str, Any]:
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": total}


def _second_choice_dropped(doc: dict[str, Any]) -> None:
    del doc["choices"][1:]


def _both_index_zero(doc: dict[str, Any]) -> None:
    for choice in doc["choices"]:
        choice["index"] = 0


RESPONSE = [
    D("response_matches_compatible_schema", "choices_missing", _basic(json_del(("choices",))), "choices"),
    D(
        "response_matches_compatible_schema",
        "created_is_a_string",
        _basic(json_set(("created",), "2026-01-01T00:00:00Z")),
        "created",
    ),
    D(
        "response_matches_compatible_schema",
        "finish_reason_empty",
        _basic(json_set(FINISH, "")),
        "finish_reason",
    ),
    D(
        "response_matches_strict_schema",
        "refusal_missing",
        _basic(json_del((*MESSAGE, "refusal"))),
        "refusal",
    ),
    D(
        "response_matches_strict_schema",
        "logprobs_key_missing",
        _basic(json_del(("choices", 0, "logprobs"))),
        "logprobs",
    ),
    D(
        "response_object_is_chat_completion",
        "chunk_object",
        _basic(json_set(("object",), "chat.completion.chunk")),
        "chat.completion.chunk",
    ),
    D("response_object_is_chat_completion", "object_missing", _basic(json_del(("object",))), "wrong object"),
    D("response_id_nonempty", "empty_id", _basic(json_set(("id",), "")), "id missing or empty"),
    D("response_id_nonempty", "integer_id", _basic(json_set(("id",), 4242)), "4242"),
    D(
        "response_id_has_chatcmpl_prefix",
        "cmpl_prefix",
        _basic(json_set(("id",), "cmpl-123abc")),
        "cmpl-123abc",
    ),
    D(
        "response_created_is_unix_seconds",
        "milliseconds",
        _basic(json_edit(lambda doc: doc.update(created=doc["created"] * 1000))),
        "not the current Unix time",
    ),
    D(
        "response_created_is_unix_seconds",
        "iso_string",
        _basic(json_set(("created",), "2026-01-01T00:00:00Z")),
        "2026-01-01T00:00:00Z",
    ),
    D("response_created_is_unix_seconds", "epoch_zero", _basic(json_set(("created",), 0)), "Unix time"),
    D("response_model_is_string", "model_null", _basic(json_set(("model",), None)), "model missing"),
    D("response_model_is_string", "model_empty", _basic(json_set(("model",), "")), "model missing"),
    D(
        "response_model_echoes_request",
        "other_model",
        _basic(json_set(("model",), "gpt-4o-mini")),
        "gpt-4o-mini",
    ),
    D("response_has_choices", "choices_empty", _basic(json_set(("choices",), [])), "no choices[0]"),
    D("response_has_choices", "choice_null", _basic(json_set(("choices",), [None])), "no choices[0]"),
    D(
        "response_choices_match_n",
        "one_choice_for_n2",
        on("chat_n2", json_edit(_second_choice_dropped)),
        "n=2 not honoured",
    ),
    D("response_choices_match_n", "indexes_both_zero", on("chat_n2", json_edit(_both_index_zero)), "[0, 1]"),
    D("response_role_is_assistant", "role_user", _basic(json_set((*MESSAGE, "role"), "user")), "user"),
    D(
        "response_role_is_assistant",
        "message_missing",
        _basic(json_del(MESSAGE)),
        "message is not an object",
    ),
    D(
        "response_content_is_string_or_null",
        "content_parts",
        _basic(json_set((*MESSAGE, "content"), [{"type": "text", "text": "Hello"}])),
        '"type": "text"',
    ),
    D(
        "response_content_is_string_or_null",
        "content_number",
        _basic(json_set((*MESSAGE, "content"), 42)),
        "string or null",
    ),
    D(
        "response_content_nonempty_on_stop",
        "empty_string",
        _basic(json_set((*MESSAGE, "content"), "")),
        "empty answer",
    ),
    D(
        "response_content_nonempty_on_stop",
        "null_content",
        _basic(json_set((*MESSAGE, "content"), None)),
        "empty answer",
    ),
    D(
        "response_refusal_present",
        "refusal_missing",
        _basic(json_del((*MESSAGE, "refusal"))),
        "message.refusal missing",
    ),
    D(
        "response_refusal_present",
        "refusal_is_a_bool",
        _basic(json_set((*MESSAGE, "refusal"), False)),
        "refusal",
    ),
    D("response_finish_reason_valid", "empty_string", _basic(json_set(FINISH, "")), "invalid finish_reason"),
    D("response_finish_reason_valid", "eos", _basic(json_set(FINISH, "eos")), "eos"),
    D("response_finish_reason_valid", "null", _basic(json_set(FINISH, None)), "invalid finish_reason"),
    D(
        "response_finish_reason_length_at_cap",
        "stop_at_cap",
        on("chat_length_cap", json_set(FINISH, "stop")),
        "stop",
    ),
    D(
        "response_logprobs_key_present",
        "logprobs_missing",
        _basic(json_del(("choices", 0, "logprobs"))),
        "no logprobs key",
    ),
    D(
        "response_system_fingerprint_is_string",
        "integer",
        _basic(json_set(("system_fingerprint",), 12345)),
        "12345",
    ),
    D(
        "logprobs_returned_when_asked",
        "logprobs_null",
        on("chat_logprobs", json_set(("choices", 0, "logprobs"), None)),
        "no logprobs.content",
    ),
    D(
        "logprobs_returned_when_asked",
        "positive_logprob",
        on("chat_logprobs", json_set(("choices", 0, "logprobs", "content", 0, "logprob"), 0.5)),
        "0.5",
    ),
    D(
        "logprobs_returned_when_asked",
        "one_alternative",
        on(
            "chat_logprobs",
            json_edit(lambda doc: doc["choices"][0]["logprobs"]["content"][-1]["top_logprobs"].pop()),
        ),
        "2 top_logprobs",
    ),
    D(
        "json_object_response_parses",
        "prose_around_json",
        on("chat_json_object", json_set((*MESSAGE, "content"), 'Sure! {"greeting": "hi"}')),
        "Sure!",
    ),
    D(
        "json_object_response_parses",
        "json_array",
        on("chat_json_object", json_set((*MESSAGE, "content"), '["hi"]')),
        "not a JSON object",
    ),
]


def _image_not_counted(probes: Probes) -> None:
    baseline = probes["vision_text_baseline"].exchanges[0].json()["usage"]
    edit = json_set(("usage",), dict(baseline))
    edit(probes["vision_png"].exchanges[0])


USAGE = [
    D("usage_present", "usage_missing", _basic(json_del(("usage",))), "usage missing"),
    D("usage_present", "usage_null", _basic(json_set(("usage",), None)), "usage missing"),
    D("usage_present", "status_500", refused("chat_basic", code=500), "500"),
    D(
        "usage_counts_are_nonnegative_integers",
        "negative",
        _basic(json_set(("usage",), _usage(-1, 6, 5))),
        "-1",
    ),
    D(
        "usage_counts_are_nonnegative_integers",
        "string_count",
        _basic(json_set(("usage",), _usage(5, "6", 11))),
        "completion_tokens",
    ),
    D(
        "usage_counts_are_nonnegative_integers",
        "float_count",
        _basic(json_set(("usage",), _usage(5, 6, 11.0))),
        "total_tokens",
    ),
    D(
        "usage_counts_are_nonnegative_integers",
        "boolean_count",
        _basic(json_set(("usage",), _usage(True, 6, 7))),
        "prompt_tokens",
    ),
    D("usage_total_is_sum", "total_off_by_one", _basic(json_set(("usage",), _usage(5, 6, 12))), "12"),
    D(
        "usage_total_is_sum",
        "total_missing",
        _basic(json_del(("usage", "total_tokens"))),
        "do not add up",
    ),
    D(
        "usage_completion_within_max_tokens",
        "over_the_cap",
        on("chat_length_cap", json_set(("usage",), _usage(14, 2, 16))),
        "completion exceeds max_tokens",
    ),
    D(
        "usage_completion_within_max_tokens",
        "completion_missing",
        on("chat_length_cap", json_del(("usage", "completion_tokens"))),
        "completion exceeds max_tokens",
    ),
    D("usage_counts_image_tokens", "image_not_counted", _image_not_counted, "image not counted"),
    D(
        "usage_cached_tokens_within_prompt",
        "cached_over_prompt",
        _basic(json_set(("usage", "prompt_tokens_details"), {"cached_tokens": 99})),
        "99",
    ),
    D(
        "usage_cached_tokens_within_prompt",
        "cached_negative",
        _basic(json_set(("usage", "prompt_tokens_details"), {"cached_tokens": -3})),
        "cached_tokens out of range",
    ),
]
