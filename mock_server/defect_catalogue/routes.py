"""Defects of error bodies and statuses, and of the other routes: models, completions, Anthropic, LibertAI."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from mock_server.defect_catalogue._edit import edit_event, error_message, invalid
from mock_server.defects import Defect, DefectContext
from mock_server.replies import SseEvent

__all__ = ["ANTHROPIC", "COMPLETIONS", "DISCOVERY", "ERRORS", "MODELS"]

BodyHook = Callable[[Any, DefectContext], Any]
EventHook = Callable[[SseEvent, DefectContext], list[SseEvent]]


# ---- errors ----------------------------------------------------------------------------------------


def _openai_style_error(ctx: DefectContext) -> bool:
    # Anthropic's route has its own error shape (see ANTHROPIC below).
    return not ctx.ok and ctx.route != "messages"


def _error_body(build: Callable[[str, DefectContext], Any]) -> BodyHook:
    def hook(body: Any, ctx: DefectContext) -> Any:
        return build(error_message(body), ctx) if _openai_style_error(ctx) else body

    return hook


def _legacy_vllm(message: str, ctx: DefectContext) -> Any:
    return {
        "object": "error",
        "message": message,
        "type": "BadRequestError",
        "param": None,
        "code": ctx.status,
    }


def _error_string(message: str, ctx: DefectContext) -> Any:
    return {"error": message}


def _message_only(message: str, ctx: DefectContext) -> Any:
    return {"error": {"message": message}}


def _client_error_as_200(status: int, ctx: DefectContext) -> int:
    return 200 if ctx.route == "chat" and 400 <= status < 500 else status


def _unknown_model_invalid(body: Any, ctx: DefectContext) -> Any:
    if ctx.route == "chat" and isinstance(body, dict) and ctx.profile is not None:
        model = body.get("model")
        if isinstance(model, str) and model and model not in ctx.profile.models:
            raise invalid(ctx, f"model '{model}' is not available", param="model")
    return body


def _drop_retry_after(headers: dict[str, str], ctx: DefectContext) -> None:
    if ctx.status == 429:
        headers.pop("Retry-After", None)


def _server_error_headers(headers: dict[str, str], ctx: DefectContext) -> None:
    if ctx.status >= 500:
        headers["Content-Type"] = "text/plain; charset=utf-8"


def _server_error_text(text: str, ctx: DefectContext) -> str:
    return "" if ctx.status >= 500 else text


ERRORS = [
    Defect(
        "error_legacy_vllm_shape",
        'errors use the legacy vLLM body {"object": "error", "message", "type", "param", "code"}',
        body=_error_body(_legacy_vllm),
        catches=("error_body_matches_profile_shape", "rejections_carry_error_body"),
        reference="vLLM PR #17664",
    ),
    Defect(
        "error_as_string",
        'errors are {"error": "<message>"} (a string, not an object)',
        body=_error_body(_error_string),
        catches=("error_body_matches_profile_shape", "rejections_carry_error_body"),
        reference="microsoft/autogen#279, tensorzero/tensorzero#5445",
    ),
    Defect(
        "error_fields_missing",
        'error objects carry only a message: {"error": {"message": ...}}',
        body=_error_body(_message_only),
        # The SDK reads such a body fine (a recognised shape); the spec's four keys are a SHOULD.
        catches=("error_object_has_all_fields",),
    ),
    Defect(
        "client_errors_as_200",
        "invalid chat requests are answered 200 (with the error body)",
        status=_client_error_as_200,
        catches=("missing_messages_rejected", "missing_model_rejected", "empty_messages_rejected"),
    ),
    Defect(
        "unknown_model_not_404",
        "an unknown model is a validation error (400/422) instead of 404",
        request=_unknown_model_invalid,
        catches=("unknown_model_is_404",),
    ),
    Defect(
        "retry_after_missing",
        "429 answers carry no Retry-After",
        headers=_drop_retry_after,
        catches=("rate_limit_has_retry_after",),
    ),
    Defect(
        "server_error_without_body",
        "5xx answers have an empty text/plain body",
        headers=_server_error_headers,
        wire=_server_error_text,
        catches=("server_error_has_error_body", "unavailable_503_has_error_body"),
    ),
]


# ---- models ----------------------------------------------------------------------------------------


def _models_body(edit: Callable[[dict[str, Any]], Any]) -> BodyHook:
    def hook(body: Any, ctx: DefectContext) -> Any:
        return edit(body) if ctx.route == "models" and ctx.ok and isinstance(body, dict) else body

    return hook


def _rename_models(body: dict[str, Any]) -> Any:
    for model in body.get("data") or ():
        if isinstance(model, dict):
            model["id"] = f"{model.get('id')}-renamed"
    return body


def _bare_array(body: dict[str, Any]) -> Any:
    return body.get("data", body)


def _duplicate_models(body: dict[str, Any]) -> Any:
    data = body.get("data")
    if isinstance(data, list):
        body["data"] = data + data
    return body


MODELS = [
    Defect(
        "models_list_missing_model",
        "GET /v1/models does not list the model the server answers to",
        body=_models_body(_rename_models),
        catches=("models_list_contains_model",),
        capabilities=("models_list",),
    ),
    Defect(
        "models_list_bare_array",
        'GET /v1/models returns a bare array instead of {"object": "list", "data": [...]}',
        body=_models_body(_bare_array),
        catches=("models_list_schema_valid",),
        capabilities=("models_list",),
    ),
    Defect(
        "models_list_duplicate_ids",
        "GET /v1/models lists every model twice",
        body=_models_body(_duplicate_models),
        catches=("models_ids_unique",),
        capabilities=("models_list",),
    ),
]


# ---- legacy completions --------------------------------------------------------------------------


def _completions_done(event: SseEvent, ctx: DefectContext) -> list[SseEvent]:
    if ctx.route == "completions" and event.kind == "done":
        return []
    return [event]


COMPLETIONS = [
    Defect(
        "completions_stream_missing_done",
        "streamed legacy completions end without data: [DONE]",
        event=_completions_done,
        catches=("completions_stream_ends_with_done",),
        capabilities=("completions", "streaming"),
    ),
]


# ---- Anthropic Messages --------------------------------------------------------------------------


def _messages_event(edit: Callable[[SseEvent, DefectContext], list[SseEvent]]) -> EventHook:
    def hook(event: SseEvent, ctx: DefectContext) -> list[SseEvent]:
        return edit(event, ctx) if ctx.route == "messages" else [event]

    return hook


def _done_after_stop(event: SseEvent, ctx: DefectContext) -> list[SseEvent]:
    if isinstance(event.data, dict) and event.data.get("type") == "message_stop":
        return [event, SseEvent("[DONE]", kind="done")]
    return [event]


def _delta_after_stop(event: SseEvent, ctx: DefectContext) -> list[SseEvent]:
    # message_delta is held back and sent after message_stop.
    kind = event.data.get("type") if isinstance(event.data, dict) else None
    if kind == "message_delta":
        ctx.state["held"] = event
        return []
    if kind == "message_stop" and "held" in ctx.state:
        return [event, ctx.state.pop("held")]
    return [event]


def _unnamed(event: SseEvent, ctx: DefectContext) -> list[SseEvent]:
    return [SseEvent(event.data, kind=event.kind, event=None, step=event.step)]


def _shifted_index(event: SseEvent, ctx: DefectContext) -> list[SseEvent]:
    if isinstance(event.data, dict) and event.data.get("type") == "content_block_delta":
        return edit_event(event, lambda data: data.update(index=int(data.get("index", 0)) + 1))
    return [event]


def _anthropic_error_as_openai(body: Any, ctx: DefectContext) -> Any:
    if ctx.route == "messages" and not ctx.ok:
        error = body.get("error") if isinstance(body, dict) else None
        message = error.get("message") if isinstance(error, dict) else "error"
        return {"error": {"message": message, "type": "invalid_request_error", "param": None, "code": None}}
    return body


ANTHROPIC_STREAM = ("anthropic", "streaming")
ANTHROPIC = [
    Defect(
        "anthropic_stream_with_done",
        "Messages streams end with an OpenAI-style data: [DONE]",
        event=_messages_event(_done_after_stop),
        catches=("messages_stream_has_no_done",),
        capabilities=ANTHROPIC_STREAM,
    ),
    Defect(
        "anthropic_events_out_of_order",
        "message_delta is sent after message_stop",
        event=_messages_event(_delta_after_stop),
        catches=("messages_stream_event_order",),
        capabilities=ANTHROPIC_STREAM,
    ),
    Defect(
        "anthropic_events_unnamed",
        "Messages stream events have no event: line (data only)",
        event=_messages_event(_unnamed),
        catches=("messages_stream_events_named",),
        capabilities=ANTHROPIC_STREAM,
    ),
    Defect(
        "anthropic_block_index_mismatch",
        "content_block_delta events carry the next block's index",
        event=_messages_event(_shifted_index),
        catches=("messages_stream_block_indexes_consistent",),
        capabilities=ANTHROPIC_STREAM,
    ),
    Defect(
        "anthropic_error_openai_shape",
        "Messages errors come in the OpenAI shape instead of Anthropic's",
        body=_anthropic_error_as_openai,
        catches=("messages_error_shape",),
        capabilities=("anthropic",),
    ),
]


# ---- LibertAI discovery and key check ------------------------------------------------------------


def _servers_as_string(body: Any, ctx: DefectContext) -> Any:
    if ctx.route == "discovery" and ctx.ok and isinstance(body, dict):
        return {model: {"servers": ",".join(entry.get("servers", []))} for model, entry in body.items()}
    return body


def _auth_check_status(status: int, ctx: DefectContext) -> int:
    return 200 if ctx.route == "auth_check" and status == 401 else status


def _auth_check_body(body: Any, ctx: DefectContext) -> Any:
    return {"status": "ok"} if ctx.route == "auth_check" and ctx.status == 401 else body


DISCOVERY = [
    Defect(
        "discovery_servers_as_string",
        "/libertai/models gives each model's servers as one comma-separated string",
        body=_servers_as_string,
        catches=("discovery_map_schema_valid",),
        capabilities=("discovery",),
    ),
    Defect(
        "auth_check_accepts_any_key",
        "/libertai/auth/check answers 200 without a valid key",
        status=_auth_check_status,
        body=_auth_check_body,
        catches=("auth_check_rejects_missing_key", "auth_check_rejects_wrong_key"),
        capabilities=("auth_check",),
    ),
]
