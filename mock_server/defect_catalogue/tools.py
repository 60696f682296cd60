"""Tool-call defects: arguments as objects, missing ids and indexes, wrong finish reasons, ignored choices."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from mock_server.defect_catalogue._edit import chat_chunk, chat_reply, choices, edit_event, invalid, messages
from mock_server.defects import Defect, DefectContext
from mock_server.replies import SseEvent

__all__ = ["TOOLS"]

Edit = Callable[[dict[str, Any]], None]


def _calls(choice: dict[str, Any], key: str) -> list[dict[str, Any]]:
    holder = choice.get(key)
    found = holder.get("tool_calls") if isinstance(holder, dict) else None
    return [c for c in found if isinstance(c, dict)] if isinstance(found, list) else []


def _body_calls(edit: Edit) -> Callable[[Any, DefectContext], Any]:
    """A body hook applying `edit` to each tool call of a non-stream chat completion."""

    def hook(body: Any, ctx: DefectContext) -> Any:
        if chat_reply(ctx):
            for choice in choices(body):
                for call in _calls(choice, "message"):
                    edit(call)
        return body

    return hook


def _fragments(edit: Edit) -> Callable[[SseEvent, DefectContext], list[SseEvent]]:
    """An event hook applying `edit` to each streamed tool-call fragment."""

    def apply(chunk: dict[str, Any]) -> None:
        for choice in choices(chunk):
            for fragment in _calls(choice, "delta"):
                edit(fragment)

    def hook(event: SseEvent, ctx: DefectContext) -> list[SseEvent]:
        return edit_event(event, apply) if chat_chunk(event, ctx) else [event]

    return hook


def _arguments_object(call: dict[str, Any]) -> None:
    function = call.get("function")
    if isinstance(function, dict) and isinstance(function.get("arguments"), str):
        function["arguments"] = json.loads(function["arguments"])


def _arguments_empty(call: dict[str, Any]) -> None:
    function = call.get("function")
    if isinstance(function, dict):
        function["arguments"] = "{}"


def _drop(key: str) -> Edit:
    def apply(doc: dict[str, Any]) -> None:
        doc.pop(key, None)

    return apply


def _stop_not_tool_calls(choice: dict[str, Any]) -> None:
    if choice.get("finish_reason") == "tool_calls":
        choice["finish_reason"] = "stop"


def _finish_body(body: Any, ctx: DefectContext) -> Any:
    if chat_reply(ctx) and isinstance(body, dict):
        _finish_chunk(body)
    return body


def _finish_chunk(chunk: dict[str, Any]) -> None:
    for choice in choices(chunk):
        _stop_not_tool_calls(choice)


def _finish_event(event: SseEvent, ctx: DefectContext) -> list[SseEvent]:
    return edit_event(event, _finish_chunk) if chat_chunk(event, ctx) else [event]


def _tools_request(
    edit: Callable[[dict[str, Any], DefectContext], None],
) -> Callable[[Any, DefectContext], Any]:
    def hook(body: Any, ctx: DefectContext) -> Any:
        if ctx.route == "chat" and isinstance(body, dict):
            edit(body, ctx)
        return body

    return hook


def _declared(body: dict[str, Any]) -> set[str]:
    tools = body.get("tools")
    names = set()
    for tool in tools if isinstance(tools, list) else ():
        function = tool.get("function") if isinstance(tool, dict) else None
        if isinstance(function, dict) and isinstance(function.get("name"), str):
            names.add(function["name"])
    return names


def _named(body: dict[str, Any]) -> str | None:
    choice = body.get("tool_choice")
    function = choice.get("function") if isinstance(choice, dict) else None
    return function.get("name") if isinstance(function, dict) else None


def _none_as_auto(body: dict[str, Any], ctx: DefectContext) -> None:
    if body.get("tool_choice") == "none":
        body["tool_choice"] = "auto"


def _drop_parallel(body: dict[str, Any], ctx: DefectContext) -> None:
    body.pop("parallel_tool_calls", None)


def _named_as_required(body: dict[str, Any], ctx: DefectContext) -> None:
    if _named(body) is not None:
        body["tool_choice"] = "required"


def _undeclared_as_auto(body: dict[str, Any], ctx: DefectContext) -> None:
    name = _named(body)
    if name is not None and name not in _declared(body):
        body["tool_choice"] = "auto"


def _choice_without_tools(body: dict[str, Any], ctx: DefectContext) -> None:
    if "tool_choice" in body and not _declared(body):
        body.pop("tool_choice")


def _refuse_tool_results(body: dict[str, Any], ctx: DefectContext) -> None:
    if any(m.get("role") == "tool" for m in messages(body)):
        raise invalid(ctx, "Unexpected message role: tool", param="messages")


TOOL = ("tools",)
TOOLS = [
    Defect(
        "tool_arguments_as_object",
        "function.arguments is a JSON object instead of a JSON-encoded string",
        body=_body_calls(_arguments_object),
        catches=("tool_arguments_are_json_string",),
        capabilities=TOOL,
        reference="llama.cpp#20198, ollama#6155, TGI#2136",
    ),
    Defect(
        "tool_arguments_invalid",
        'function.arguments is "{}" whatever the tool\'s required parameters',
        body=_body_calls(_arguments_empty),
        catches=("tool_arguments_match_parameters",),
        capabilities=TOOL,
    ),
    Defect(
        "tool_call_id_missing",
        "tool calls (and their first streamed fragment) carry no id",
        body=_body_calls(_drop("id")),
        event=_fragments(_drop("id")),
        catches=("tool_call_fields_valid", "stream_tool_call_fragments_valid"),
        capabilities=("tools", "streaming"),
        reference="llama.cpp#11992, openai-dotnet#428 (Gemini)",
    ),
    Defect(
        "stream_tool_call_index_missing",
        "streamed tool-call fragments carry no index",
        event=_fragments(_drop("index")),
        catches=("stream_tool_call_fragments_valid",),
        capabilities=("tools", "streaming"),
    ),
    Defect(
        "tool_finish_reason_stop",
        'a tool call finishes with "stop" instead of "tool_calls" (body and stream)',
        body=_finish_body,
        event=_finish_event,
        catches=("tool_call_finish_reason_is_tool_calls", "stream_tool_call_fragments_valid"),
        capabilities=("tools", "streaming"),
    ),
    Defect(
        "tool_choice_none_ignored",
        'tool_choice "none" is ignored: the model calls tools anyway',
        request=_tools_request(_none_as_auto),
        catches=("tool_choice_none_calls_nothing",),
        capabilities=TOOL,
    ),
    Defect(
        "parallel_tool_calls_ignored",
        "parallel_tool_calls: false is ignored",
        request=_tools_request(_drop_parallel),
        catches=("parallel_tool_calls_false_honoured",),
        capabilities=TOOL,
    ),
    Defect(
        "named_tool_choice_ignored",
        "a named tool_choice is read as required: every declared tool is called",
        request=_tools_request(_named_as_required),
        catches=("named_tool_choice_honoured",),
        capabilities=TOOL,
    ),
    Defect(
        "undefined_tool_choice_accepted",
        "tool_choice naming an undeclared function is read as auto",
        request=_tools_request(_undeclared_as_auto),
        catches=("undefined_tool_choice_rejected",),
        capabilities=TOOL,
    ),
    Defect(
        "tool_choice_without_tools_accepted",
        "tool_choice without tools is ignored instead of refused",
        request=_tools_request(_choice_without_tools),
        catches=("tool_choice_without_tools_rejected",),
        capabilities=TOOL,
    ),
    Defect(
        "tool_result_turn_rejected",
        "a conversation carrying a role: tool result is refused",
        request=_tools_request(_refuse_tool_results),
        catches=("tool_round_trip_accepted", "tool_round_trip_empty_arguments_accepted"),
        capabilities=TOOL,
    ),
]
