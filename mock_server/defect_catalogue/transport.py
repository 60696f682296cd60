"""Transport defects: content types, SSE where JSON was asked, HTML error pages, auth, strict request keys."""

from __future__ import annotations

import json
from functools import cache
from typing import Any

from chatcert_data import data_dir
from mock_server.defect_catalogue._edit import chat_reply, invalid
from mock_server.defects import AUTH, SKIP_AUTH, Defect, DefectContext

__all__ = ["TRANSPORT"]


def _stream_as_json(headers: dict[str, str], ctx: DefectContext) -> None:
    if ctx.stream:
        headers["Content-Type"] = "application/json"


def _json_as_text(headers: dict[str, str], ctx: DefectContext) -> None:
    if chat_reply(ctx):
        headers["Content-Type"] = "text/plain; charset=utf-8"


def _json_as_latin1(headers: dict[str, str], ctx: DefectContext) -> None:
    if chat_reply(ctx):
        headers["Content-Type"] = "application/json; charset=iso-8859-1"


def _sse_headers(headers: dict[str, str], ctx: DefectContext) -> None:
    if chat_reply(ctx):
        headers["Content-Type"] = "text/event-stream"


def _sse_body(text: str, ctx: DefectContext) -> str:
    return f"data: {text}\n\ndata: [DONE]\n\n" if chat_reply(ctx) else text


def _html_headers(headers: dict[str, str], ctx: DefectContext) -> None:
    if not ctx.ok:
        headers["Content-Type"] = "text/html; charset=utf-8"


def _html_page(text: str, ctx: DefectContext) -> str:
    if ctx.ok:
        return text
    title = f"{ctx.status} Error"
    return (
        f"<html>\r\n<head><title>{title}</title></head>\r\n<body>\r\n"
        f"<center><h1>{title}</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
    )


@cache
def _official_keys() -> frozenset[str]:
    # The top-level keys of the official request: the data shipped with chatcert, read once.
    path = data_dir("schemas") / "openai" / "chat-request.schema.json"
    properties = json.loads(path.read_text(encoding="utf-8")).get("properties", {})
    return frozenset(properties)


def _reject_unknown_keys(body: Any, ctx: DefectContext) -> Any:
    if ctx.route == "chat" and isinstance(body, dict):
        unknown = sorted(set(body) - _official_keys())
        if unknown:
            raise invalid(ctx, f"Unrecognized request argument supplied: {unknown[0]}", param=unknown[0])
    return body


def _content_type_refusal_as_500(status: int, ctx: DefectContext) -> int:
    # The mock refuses a non-JSON Content-Type with 415 and nothing else; a crashing server says 500.
    return 500 if status == 415 else status


TRANSPORT = [
    Defect(
        "stream_wrong_content_type",
        "streams are sent as application/json",
        headers=_stream_as_json,
        catches=("stream_content_type_is_event_stream",),
        capabilities=("streaming",),
        reference="foundry-dev-tools#195, LitServe#359",
    ),
    Defect(
        "json_wrong_content_type",
        "non-stream chat answers are sent as text/plain",
        headers=_json_as_text,
        catches=("chat_content_type_is_json",),
        reference="mistral.rs#79",
    ),
    Defect(
        "json_charset_not_utf8",
        "non-stream chat answers declare charset=iso-8859-1",
        headers=_json_as_latin1,
        catches=("json_charset_is_utf8",),
    ),
    Defect(
        "non_stream_sent_as_sse",
        "a chat request without stream: true is answered with server-sent events",
        headers=_sse_headers,
        wire=_sse_body,
        catches=("non_stream_is_not_sse", "chat_content_type_is_json"),
    ),
    Defect(
        "error_html_page",
        "error statuses carry a proxy's HTML page instead of a JSON error body",
        headers=_html_headers,
        wire=_html_page,
        catches=(
            "error_content_type_is_json",
            "rejections_carry_error_body",
            "error_body_matches_profile_shape",
        ),
    ),
    Defect(
        "unknown_field_rejected",
        "a top-level request key outside the official request is refused (400/422)",
        request=_reject_unknown_keys,
        catches=("unknown_fields_tolerated", "extension_params_tolerated"),
    ),
    Defect(
        "auth_not_enforced",
        "requests without a key, or with a wrong one, are served",
        switches=frozenset({SKIP_AUTH}),
        catches=("missing_key_rejected", "wrong_key_rejected"),
        capabilities=(AUTH,),
    ),
    Defect(
        "wrong_content_type_500",
        "a JSON body sent as text/plain makes the server fail with a 500 (llama-cpp-python's habit)",
        status=_content_type_refusal_as_500,
        catches=("wrong_content_type_rejected",),
    ),
]
