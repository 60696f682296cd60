"""Tool-call defects: arguments as objects, missing ids and indexes, wrong finish reasons, ignored choices."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from mock_server.defect_catalogue._edit import invalid, messages
from mock_server.defects import Defect, DefectContext

__all__ = ["TOOLS"]

Edit = Callable[[dict[str, Any]], None]


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
