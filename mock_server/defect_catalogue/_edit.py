"""Small helpers the catalogue's hooks share: where a hook acts and how it edits bodies and events."""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import Any

from mock_server.defects import DefectContext
from mock_server.errors import MockError, Shape, error_body
from mock_server.replies import SseEvent

__all__ = [
    "chat_chunk",
    "chat_reply",
    "choices",
    "content_parts",
    "crash_body",
    "edit_event",
    "error_message",
    "ignores",
    "image_parts",
    "invalid",
    "messages",
    "server_error",
    "shape",
]


def ignores(*keys: str) -> Callable[[Any, DefectContext], Any]:
    """A request hook for a server that ignores options: `keys` are dropped from chat requests before
    the mock reads them, as if they had never been sent."""

    def hook(body: Any, ctx: DefectContext) -> Any:
        if ctx.route == "chat" and isinstance(body, dict):
            for key in keys:
                body.pop(key, None)
        return body

    return hook


def shape(ctx: DefectContext) -> Shape:
    """The error shape of the route the hook acts on."""
    return ctx.profile.shape_for(ctx.route) if ctx.profile is not None else "openai"


def invalid(ctx: DefectContext, message: str, param: str | None = None) -> MockError:
    """A validation error as this profile sends one: 422 where errors are FastAPI-shaped, else 400."""
    return MockError(422 if shape(ctx) == "detail" else 400, message, param=param)


def server_error(message: str = "Internal Server Error") -> MockError:
    """What a server that crashed on the request answers."""
    return MockError(500, message)


def chat_reply(ctx: DefectContext) -> bool:
    """A successful non-stream chat completion is on its way."""
    return ctx.route == "chat" and not ctx.stream and ctx.ok


def choices(body: Any) -> list[dict[str, Any]]:
    """The choice objects of a chat body or chunk."""
    found = body.get("choices") if isinstance(body, dict) else None
    return [c for c in found if isinstance(c, dict)] if isinstance(found, list) else []


def chat_chunk(event: SseEvent, ctx: DefectContext) -> bool:
    """A chat-completion chunk (JSON with choices) of a chat stream."""
    return ctx.route == "chat" and isinstance(event.data, dict) and "choices" in event.data


def edit_event(event: SseEvent, edit: Callable[[dict[str, Any]], None]) -> list[SseEvent]:
    """The event with `edit` applied to a copy of its JSON data."""
    if not isinstance(event.data, dict):
        return [event]
    data = copy.deepcopy(event.data)
    edit(data)
    return [replace(event, data=data)]


def messages(request: Any) -> list[dict[str, Any]]:
    """The message objects of a chat request."""
    found = request.get("messages") if isinstance(request, dict) else None
    return [m for m in found if isinstance(m, dict)] if isinstance(found, list) else []


def content_parts(request: Any) -> Iterator[dict[str, Any]]:
    """Every content part (object) of every message, in order."""
    for message in messages(request):
        content = message.get("content")
        if isinstance(content, list):
            yield from (p for p in content if isinstance(p, dict))


def image_parts(request: Any) -> list[dict[str, Any]]:
    """The image_url parts of a chat request."""
    return [p for p in content_parts(request) if p.get("type") == "image_url"]


def error_message(body: Any) -> str:
    """The message of an error body in any of the mock's shapes."""
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict) and isinstance(error.get("message"), str):
            return str(error["message"])
        if isinstance(body.get("detail"), str):
            return str(body["detail"])
    return "error"


def crash_body(ctx: DefectContext) -> dict[str, Any]:
    """The body of a 500 in the route's shape (what a server that crashed on a request sends)."""
    return error_body(shape(ctx), 500, "Internal Server Error")
