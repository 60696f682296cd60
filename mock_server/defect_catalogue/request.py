"""Request defects: what a server wrongly accepts, wrongly refuses, or crashes on (500 instead of 4xx)."""

from __future__ import annotations

from typing import Any

from mock_server.defect_catalogue._edit import crash_body, ignores, invalid, messages, server_error
from mock_server.defects import Defect, DefectContext

__all__ = ["REQUEST"]


def _chat(body: Any, ctx: DefectContext) -> dict[str, Any] | None:
    """The chat request as a dict, or None when the hook must leave it alone."""
    return body if ctx.route == "chat" and isinstance(body, dict) else None


def _unparsed_rejection(ctx: DefectContext) -> bool:
    # The JSON parser failed (nothing was parsed) and the mock chose a validation error.
    return ctx.route == "chat" and ctx.request is None and ctx.status in (400, 422)


def _crash_status(status: int, ctx: DefectContext) -> int:
    return 500 if _unparsed_rejection(ctx) else status


def _crash_body(body: Any, ctx: DefectContext) -> Any:
    return crash_body(ctx) if _unparsed_rejection(ctx) else body


def _clamp(body: Any, ctx: DefectContext) -> Any:
    chat = _chat(body, ctx)
    if chat is not None:
        for key, high in (("temperature", 2.0), ("top_p", 1.0)):
            value = chat.get(key)
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                chat[key] = min(max(value, 0.0), high)
    return body


def _first_four_stops(body: Any, ctx: DefectContext) -> Any:
    chat = _chat(body, ctx)
    if chat is not None and isinstance(chat.get("stop"), list):
        chat["stop"] = chat["stop"][:4]
    return body


def _refuse_role(role: str, message: str) -> Any:
    def hook(body: Any, ctx: DefectContext) -> Any:
        if any(m.get("role") == role for m in messages(_chat(body, ctx))):
            raise invalid(ctx, message, param="messages")
        return body

    return hook


def _refuse_parts(body: Any, ctx: DefectContext) -> Any:
    if any(isinstance(m.get("content"), list) for m in messages(_chat(body, ctx))):
        raise invalid(ctx, "messages[].content must be a string", param="messages")
    return body


def _has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, list):
        return any(_has_nul(v) for v in value)
    if isinstance(value, dict):
        return any(_has_nul(v) for v in value.values())
    return False


def _crash_on_nul(body: Any, ctx: DefectContext) -> Any:
    if any(_has_nul(m.get("content")) for m in messages(_chat(body, ctx))):
        raise server_error("embedded null character")
    return body


def _negative_cap_means_none(body: Any, ctx: DefectContext) -> Any:
    chat = _chat(body, ctx)
    for key in ("max_tokens", "max_completion_tokens") if chat is not None else ():
        value = chat.get(key)  # type: ignore[union-attr]
        if isinstance(value, int) and not isinstance(value, bool) and value < 0:
            chat.pop(key)  # type: ignore[union-attr]  # llama.cpp: n_predict -1 generates until the context is full
    return body


_TRACE = (
    'Traceback (most recent call last):\n  File "/usr/lib/python3/dist-packages/inference/server.py", '
    "line 214, in chat\n    request = ChatRequest(**payload)\n"
)


def _traceback_in_errors(body: Any, ctx: DefectContext) -> Any:
    if ctx.route != "chat" or ctx.ok or not isinstance(body, dict):
        return body
    error = body.get("error")
    if isinstance(error, dict) and isinstance(error.get("message"), str):
        error["message"] = _TRACE + error["message"]
    elif isinstance(body.get("detail"), str):
        body["detail"] = _TRACE + body["detail"]
    elif "detail" in body:
        body["traceback"] = _TRACE
    return body


REQUEST = [
    Defect(
        "negative_max_tokens_unbounded",
        "max_tokens -1 is taken as no limit (generation runs on) instead of refused",
        request=_negative_cap_means_none,
        catches=("negative_max_tokens_rejected",),
        reference="llama.cpp server: n_predict -1 means infinite",
    ),
    Defect(
        "traceback_in_errors",
        "error bodies carry the server's Python traceback, with its file paths",
        body=_traceback_in_errors,
        catches=("error_bodies_do_not_leak_internals",),
    ),
    Defect(
        "malformed_json_500",
        "a body that is not JSON crashes the server (500) instead of a 4xx",
        status=_crash_status,
        body=_crash_body,
        catches=("malformed_json_rejected",),
    ),
    Defect(
        "sampling_params_clamped",
        "temperature and top_p out of range are clamped silently instead of refused",
        request=_clamp,
        catches=("temperature_out_of_range_rejected", "top_p_out_of_range_rejected"),
    ),
    Defect(
        "stop_list_truncated",
        "more than four stop strings are cut to four instead of refused",
        request=_first_four_stops,
        catches=("too_many_stop_sequences_rejected",),
    ),
    Defect(
        "developer_role_rejected",
        "the developer role is refused (servers that predate it)",
        request=_refuse_role("developer", "Unexpected message role: developer"),
        catches=("developer_message_accepted",),
    ),
    Defect(
        "system_role_rejected",
        "a system message is refused (chat templates without a system role)",
        request=_refuse_role("system", "System role not supported"),
        catches=("system_message_accepted",),
    ),
    Defect(
        "content_parts_rejected",
        "content given as an array of parts is refused; only strings are read",
        request=_refuse_parts,
        catches=("text_content_parts_accepted",),
    ),
    Defect(
        "nul_in_content_500",
        "a NUL character in content crashes the server (500)",
        request=_crash_on_nul,
        catches=("odd_unicode_not_5xx",),
    ),
    Defect(
        "max_tokens_ignored",
        "max_tokens and max_completion_tokens are ignored: answers run to their natural end",
        request=ignores("max_tokens", "max_completion_tokens"),
        catches=(
            "usage_completion_within_max_tokens",
            "response_finish_reason_length_at_cap",
            "max_completion_tokens_honoured",
        ),
    ),
    Defect(
        "max_completion_tokens_ignored",
        "max_completion_tokens is ignored (only the deprecated max_tokens is read)",
        request=ignores("max_completion_tokens"),
        catches=("max_completion_tokens_honoured",),
    ),
]
