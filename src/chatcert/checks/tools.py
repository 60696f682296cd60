"""Tool calling: calls returned, arguments a JSON string that validates, round trips, streamed fragments."""

from __future__ import annotations

import json
from typing import Any

from jsonschema import Draft202012Validator

from chatcert._json import parse_json
from chatcert._models import Exchange
from chatcert.checks._util import arr, expect_client_error, expect_success, first_choice, message_of, obj
from chatcert.checks.probes import TIME_TOOL, TOOL_MAX_TOKENS, WEATHER_TOOL
from chatcert.context import CheckContext, ProbeContext
from chatcert.registry import Level, check, probe

# -- probes: the requests these checks read ------------------------------------------------------------


def _tools_body(
    ctx: ProbeContext, tool_choice: Any, tools: list[dict[str, Any]] | None = None, **extra: Any
) -> dict[str, Any]:
    body = ctx.chat_body("What's the weather in Paris? Use the tool.", max_tokens=TOOL_MAX_TOKENS, **extra)
    body["tools"] = tools if tools is not None else [WEATHER_TOOL]
    if tool_choice is not None:
        body["tool_choice"] = tool_choice
    return body


@probe("tools_required", tokens=TOOL_MAX_TOKENS, requires=("tools",))
def tools_required(ctx: ProbeContext) -> None:
    """tools + tool_choice: required."""
    ctx.chat(_tools_body(ctx, "required"), label="tool_choice required")


@probe("tools_named", tokens=TOOL_MAX_TOKENS, requires=("tools",))
def tools_named(ctx: ProbeContext) -> None:
    """Two tools, tool_choice naming the second."""
    choice = {"type": "function", "function": {"name": "get_time"}}
    ctx.chat(_tools_body(ctx, choice, [WEATHER_TOOL, TIME_TOOL]), label="named tool_choice")


@probe("tools_none", tokens=TOOL_MAX_TOKENS, requires=("tools",))
def tools_none(ctx: ProbeContext) -> None:
    """tools + tool_choice: none."""
    ctx.chat(_tools_body(ctx, "none"), label="tool_choice none")


@probe("tools_parallel_false", tokens=TOOL_MAX_TOKENS, requires=("tools",))
def tools_parallel_false(ctx: ProbeContext) -> None:
    """Two tools, parallel_tool_calls false."""
    ctx.chat(
        _tools_body(ctx, "required", [WEATHER_TOOL, TIME_TOOL], parallel_tool_calls=False),
        label="parallel_tool_calls false",
    )


@probe("tools_undefined_choice", tokens=TOOL_MAX_TOKENS, requires=("tools",))
def tools_undefined_choice(ctx: ProbeContext) -> None:
    """tool_choice naming a function that is not declared."""
    choice = {"type": "function", "function": {"name": "no_such_function"}}
    ctx.chat(_tools_body(ctx, choice), label="tool_choice names an undefined function")


@probe("tools_choice_without_tools", tokens=TOOL_MAX_TOKENS, requires=("tools",))
def tools_choice_without_tools(ctx: ProbeContext) -> None:
    """tool_choice given without tools."""
    body = _tools_body(ctx, "required")
    del body["tools"]
    ctx.chat(body, label="tool_choice without tools")


@probe("tools_stream", tokens=TOOL_MAX_TOKENS, requires=("tools", "streaming"))
def tools_stream(ctx: ProbeContext) -> None:
    """Streamed tool call (tool_choice required)."""
    ctx.chat(_tools_body(ctx, "required", stream=True), label="streamed tool call")


@probe("tools_round_trip", requests=2, tokens=2 * TOOL_MAX_TOKENS, requires=("tools",))
def tools_round_trip(ctx: ProbeContext) -> None:
    """A tool call, then the tool's result sent back."""
    first = ctx.chat(_tools_body(ctx, "required"), label="tool call (round trip, turn 1)")
    call: dict[str, Any] = {
        "id": "call_chatcert_1",
        "type": "function",
        "function": {"name": "get_weather", "arguments": json.dumps({"city": "Paris"})},
    }
    try:
        calls = first.json()["choices"][0]["message"]["tool_calls"]
        if (
            isinstance(calls, list)
            and calls
            and isinstance(calls[0], dict)
            and isinstance(calls[0].get("function", {}).get("arguments"), str)
        ):
            call = calls[0]
    except (ValueError, KeyError, IndexError, TypeError):
        pass
    body = _tools_body(ctx, "auto")
    body["messages"] += [
        {"role": "assistant", "content": None, "tool_calls": [call]},
        {"role": "tool", "tool_call_id": call.get("id", "call_chatcert_1"), "content": '{"temp_c": 21}'},
    ]
    ctx.chat(body, label="tool result sent back (round trip, turn 2)")


@probe("tools_empty_args_round_trip", tokens=TOOL_MAX_TOKENS, requires=("tools",))
def tools_empty_args_round_trip(ctx: ProbeContext) -> None:
    """A follow-up turn whose assistant tool call has arguments "{}"."""
    tool = {
        "type": "function",
        "function": {
            "name": "get_time",
            "description": "time",
            "parameters": {"type": "object", "properties": {}},
        },
    }
    body = _tools_body(ctx, "auto", [tool])
    body["messages"] += [
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_chatcert_2",
                    "type": "function",
                    "function": {"name": "get_time", "arguments": "{}"},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "call_chatcert_2", "content": "12:00"},
    ]
    ctx.chat(body, label="tool result after a call with arguments {}")


# -- checks --------------------------------------------------------------------------------------------

TOOLS = ("tools",)
DECLARED = {WEATHER_TOOL["function"]["name"]: WEATHER_TOOL, TIME_TOOL["function"]["name"]: TIME_TOOL}


def _calls(ctx: CheckContext, probe: str) -> list[dict[str, Any]]:
    body = expect_success(ctx, probe)
    calls = message_of(ctx, body, ctx.ex(probe)).get("tool_calls")
    ctx.require(
        isinstance(calls, list) and len(calls) > 0,
        "no tool_calls in the message",
        expected="message.tool_calls: [...]",
        actual=calls,
        exchange=ctx.ex(probe),
    )
    return [c for c in calls if isinstance(c, dict)]  # type: ignore[union-attr]


CALL_PROBES = ("tools_required", "tools_named")


def _message(ctx: CheckContext, probe: str) -> dict[str, Any]:
    """choices[0].message of a 200 answer, or {} (never fails: the caller decides what is missing)."""
    ex = ctx.ex(probe)
    try:
        return obj(obj(arr(obj(ex.json()).get("choices"))[0]).get("message")) if ex.status == 200 else {}
    except (ValueError, IndexError):
        return {}


def _calls_in(ctx: CheckContext, probe: str) -> list[dict[str, Any]]:
    return [c for c in arr(_message(ctx, probe).get("tool_calls")) if isinstance(c, dict)]


def _parsed_arguments(call: dict[str, Any]) -> Any:
    """The call's arguments parsed from their JSON string; None when they do not parse."""
    args = obj(call.get("function")).get("arguments")
    if not isinstance(args, str):
        return None
    try:
        return parse_json(args)
    except ValueError:
        return None


def _no_baseline_call(ctx: CheckContext) -> str | None:
    """Why a "does not call" check would test nothing: tool_choice "required" got no call either."""
    if _calls_in(ctx, "tools_required"):
        return None
    return (
        'not exercised: the server never called a tool (tool_choice "required" got no call), so '
        "calling none (or one) proves nothing"
    )


def _returned_calls(ctx: CheckContext) -> list[tuple[str, dict[str, Any]]]:
    """Every tool call the required and named probes returned, with its probe; skip when there is none.

    Whether a call comes back at all is judged by tool_call_returned_when_required and
    named_tool_choice_honoured; the per-call properties hold vacuously without calls.
    """
    found = [(probe, c) for probe in CALL_PROBES for c in _calls_in(ctx, probe)]
    if not found:
        ctx.skip(
            "not exercised: no tool call came back to judge (tool_call_returned_when_required judges that)"
        )
    return found


@check(
    area="tools",
    level=Level.MUST,
    requires=TOOLS,
    probes=("tools_required",),
    rules=("TC1",),
    source="SPEC tool_choice required; SEED-B tool_calls[0]; llm-comply chat-tool-calling",
)
def tool_call_returned_when_required(ctx: CheckContext) -> None:
    """tool_choice "required" yields at least one tool call."""
    _calls(ctx, "tools_required")


@check(
    area="tools",
    level=Level.MUST,
    requires=TOOLS,
    probes=("tools_required",),
    rules=("TC1",),
    source="SPEC finish_reason tool_calls; aimock conformance",
    depends_on=("tool_call_returned_when_required",),
)
def tool_call_finish_reason_is_tool_calls(ctx: CheckContext) -> None:
    """A response that calls a tool finishes with "tool_calls".

    Without a call, "length" or "stop" is the right finish: whether a call came back is
    tool_call_returned_when_required's finding, so this check has nothing to judge then.
    """
    body = expect_success(ctx, "tools_required")
    if not _calls_in(ctx, "tools_required"):
        ctx.skip("not exercised: no tool call came back (tool_call_returned_when_required judges that)")
    choice = first_choice(ctx, body, ctx.ex("tools_required"))
    used, cap = _usage_and_cap(ctx.ex("tools_required"), body)
    # A call cut at the max_tokens cap rightly finishes "length" (see tool_calls_finish_not_claimed_when_cut).
    cut = choice.get("finish_reason") == "length" and used >= cap > 0
    ctx.require(
        choice.get("finish_reason") == "tool_calls" or cut,
        "wrong finish_reason for a tool call",
        expected="tool_calls",
        actual=choice.get("finish_reason"),
        exchange=ctx.ex("tools_required"),
    )


_CUT_PROBES = ("tools_required", "tools_named", "tools_parallel_false")


def _usage_and_cap(ex: Exchange, body: dict[str, Any]) -> tuple[int, int]:
    """(usage.completion_tokens, the request's max_tokens); 0 for what is missing."""
    try:
        cap = obj(parse_json((ex.request_body or b"{}").decode("utf-8"))).get("max_tokens")
    except (ValueError, UnicodeDecodeError):
        cap = None
    used = obj(body.get("usage")).get("completion_tokens")
    return (used if isinstance(used, int) else 0), (cap if isinstance(cap, int) else 0)


@check(
    area="tools",
    level=Level.SHOULD,
    requires=TOOLS,
    probes=_CUT_PROBES,
    rules=("TC1", "R11"),
    source="SPEC finish_reason: 'length' if the maximum number of tokens specified in the request was "
    "reached, 'tool_calls' if the model called a tool",
)
def tool_calls_finish_not_claimed_when_cut(ctx: CheckContext) -> None:
    """An answer cut at the max_tokens cap mid-call finishes "length", not "tool_calls".

    Cut means: completion_tokens reached the request's max_tokens and a call's arguments do not parse
    (a call that completes exactly at the cap is a finished call). A client trusting "tool_calls" would
    run the tool with broken arguments.
    """
    judged = 0
    for probe_name in _CUT_PROBES:
        ex = ctx.ex(probe_name)
        try:
            body = obj(ex.json()) if ex.status == 200 else {}
        except ValueError:
            body = {}
        choice = obj(arr(body.get("choices"))[0]) if arr(body.get("choices")) else {}
        if choice.get("finish_reason") != "tool_calls":
            continue
        judged += 1
        used, cap = _usage_and_cap(ex, body)
        broken = [c for c in _calls_in(ctx, probe_name) if not isinstance(_parsed_arguments(c), dict)]
        ctx.require(
            not (used >= cap > 0 and broken),
            f'{ex.label}: answer cut at the max_tokens cap ({used} of {cap} tokens) reported as "tool_calls"',
            expected='finish_reason "length" for a call cut at the cap',
            actual=f"finish_reason tool_calls; arguments {obj(broken[0].get('function')).get('arguments')!r}"
            if broken
            else "finish_reason tool_calls",
            exchange=ex,
        )
    if not judged:
        ctx.skip('not exercised: no answer finished with "tool_calls"')


@check(
    area="tools",
    level=Level.MUST,
    requires=TOOLS,
    probes=CALL_PROBES,
    rules=("TC2",),
    source="SPEC ChatCompletionMessageToolCall required [id, type, function]",
)
def tool_call_fields_valid(ctx: CheckContext) -> None:
    """Each tool call has a string id, type "function" and a declared function name."""
    for probe_name, call in _returned_calls(ctx):
        function: dict[str, Any] = call["function"] if isinstance(call.get("function"), dict) else {}
        ok = (
            isinstance(call.get("id"), str)
            and call["id"] != ""
            and call.get("type") == "function"
            and function.get("name") in DECLARED
        )
        ctx.require(
            ok,
            "malformed tool call",
            expected="id, type function, declared name",
            actual=call,
            exchange=ctx.ex(probe_name),
        )


@check(
    area="tools",
    level=Level.MUST,
    requires=TOOLS,
    probes=CALL_PROBES,
    rules=("TC3",),
    source="SPEC function.arguments string; llama.cpp#20198, ollama#6155, TGI#2136",
)
def tool_arguments_are_json_string(ctx: CheckContext) -> None:
    """function.arguments is a JSON-encoded string that parses to an object, not an object itself."""
    for probe_name, call in _returned_calls(ctx):
        args = obj(call.get("function")).get("arguments")
        ctx.require(
            isinstance(args, str),
            "arguments is not a string",
            expected="a JSON string",
            actual=args,
            exchange=ctx.ex(probe_name),
        )
        try:
            parsed = parse_json(str(args))
        except ValueError:
            parsed = None
        ctx.require(
            isinstance(parsed, dict),
            "arguments do not parse to a JSON object",
            expected="{...}",
            actual=args,
            exchange=ctx.ex(probe_name),
        )


@check(
    area="tools",
    level=Level.SHOULD,
    requires=TOOLS,
    probes=CALL_PROBES,
    rules=("TC4",),
    source="SPEC function.arguments ('validate the arguments'); vLLM jsonschema.validate",
)
def tool_arguments_match_parameters(ctx: CheckContext) -> None:
    """The parsed arguments validate against the tool's parameters schema.

    Arguments that never parse as a JSON object (e.g. cut mid-string) are tool_arguments_are_json_string's
    finding; validating None against the schema would only repeat it under a misleading message.
    """
    judged = 0
    for probe_name, call in _returned_calls(ctx):
        function = obj(call.get("function"))
        tool = DECLARED.get(function.get("name"))
        args = _parsed_arguments(call)
        if tool is None or not isinstance(args, dict):
            continue
        judged += 1
        errors = [e.message for e in Draft202012Validator(tool["function"]["parameters"]).iter_errors(args)]
        ctx.require(
            not errors,
            "arguments do not match the parameters",
            expected="valid arguments",
            actual="; ".join(errors[:3]),
            exchange=ctx.ex(probe_name),
        )
    if not judged:
        ctx.skip(
            "not exercised: no call's arguments parsed as a JSON object of a declared tool "
            "(tool_arguments_are_json_string judges that)"
        )


@check(
    area="tools",
    level=Level.SHOULD,
    requires=TOOLS,
    probes=("tools_named",),
    rules=("TC5",),
    source="SPEC ChatCompletionNamedToolChoice; vLLM test_named_tool_use",
    depends_on=("tool_call_returned_when_required",),
)
def named_tool_choice_honoured(ctx: CheckContext) -> None:
    """A named tool_choice calls exactly that function."""
    names = [obj(c.get("function")).get("name") for c in _calls(ctx, "tools_named")]
    ctx.require(
        bool(names) and all(n == "get_time" for n in names),
        "named tool not called",
        expected="get_time",
        actual=names,
        exchange=ctx.ex("tools_named"),
    )


@check(
    area="tools",
    level=Level.MUST,
    requires=TOOLS,
    probes=("tools_undefined_choice",),
    rules=("TC6",),
    source="vLLM test_inconsistent_tool_choice_and_tools",
)
def undefined_tool_choice_rejected(ctx: CheckContext) -> None:
    """tool_choice naming an undeclared function is rejected with a 4xx."""
    expect_client_error(ctx, "tools_undefined_choice")


@check(
    area="tools",
    level=Level.MUST,
    requires=TOOLS,
    probes=("tools_choice_without_tools",),
    rules=("TC6",),
    source="vLLM test_inconsistent_tool_choice_and_tools; SPEC tool_choice",
)
def tool_choice_without_tools_rejected(ctx: CheckContext) -> None:
    """tool_choice without tools is rejected with a 4xx."""
    expect_client_error(ctx, "tools_choice_without_tools")


@check(
    area="tools",
    level=Level.MUST,
    requires=TOOLS,
    probes=("tools_round_trip",),
    rules=("TC7", "PB1"),
    source="SEED-B 'append a role: \"tool\" message with tool_call_id and content and call the model again'",
)
def tool_round_trip_accepted(ctx: CheckContext) -> None:
    """Sending the tool's result back (assistant tool_calls + role tool) is accepted."""
    ex = ctx.ex("tools_round_trip", 1)
    ctx.require_status(ex, 200, "tool result turn rejected")


@check(
    area="tools",
    level=Level.MUST,
    requires=TOOLS,
    probes=("tools_empty_args_round_trip",),
    rules=("TC7",),
    source="vLLM test_no_args_tool_call; openclaw PR #97834",
)
def tool_round_trip_empty_arguments_accepted(ctx: CheckContext) -> None:
    """A follow-up turn whose tool call had arguments "{}" is accepted."""
    ex = ctx.ex("tools_empty_args_round_trip")
    ctx.require_status(ex, 200, "turn after a no-argument call rejected")


@check(
    area="tools",
    level=Level.SHOULD,
    requires=TOOLS,
    probes=("tools_none", "tools_required"),
    rules=("TC8",),
    source="SPEC tool_choice none",
)
def tool_choice_none_calls_nothing(ctx: CheckContext) -> None:
    """tool_choice "none" yields no tool calls (judged only on a server that calls tools at all)."""
    body = expect_success(ctx, "tools_none")
    calls = message_of(ctx, body, ctx.ex("tools_none")).get("tool_calls")
    if not calls:
        reason = _no_baseline_call(ctx)
        if reason:
            ctx.skip(reason)
    ctx.require(
        not calls,
        "tool called despite tool_choice none",
        expected="no tool_calls",
        actual=calls,
        exchange=ctx.ex("tools_none"),
    )


@check(
    area="tools",
    level=Level.SHOULD,
    requires=TOOLS,
    probes=("tools_parallel_false",),
    rules=("TC9",),
    source="SPEC ParallelToolCalls",
)
def parallel_tool_calls_false_honoured(ctx: CheckContext) -> None:
    """parallel_tool_calls false yields at most one tool call (judged only when a call came back)."""
    body = expect_success(ctx, "tools_parallel_false")
    calls = arr(message_of(ctx, body, ctx.ex("tools_parallel_false")).get("tool_calls"))
    if not calls:
        ctx.skip("not exercised: no tool call came back, so at most one call proves nothing")
    ctx.require(
        len(calls) <= 1,
        "more than one call despite parallel_tool_calls false",
        expected="<= 1",
        actual=len(calls),
        exchange=ctx.ex("tools_parallel_false"),
    )


@check(
    area="tools",
    level=Level.MUST,
    requires=("tools", "streaming"),
    probes=("tools_stream",),
    rules=("S16",),
    source="SPEC ChatCompletionMessageToolCallChunk (index required); vLLM tool streaming",
    depends_on=("tool_call_returned_when_required",),
)
def stream_tool_call_fragments_valid(ctx: CheckContext) -> None:
    """Streamed tool calls: fragments have an index, the first id/type/name; arguments join to JSON."""
    calls: dict[int, dict[str, Any]] = {}
    finish = None
    for chunk in ctx.chunks("tools_stream"):
        for choice in arr(chunk.get("choices")):
            if not isinstance(choice, dict):
                continue
            finish = choice.get("finish_reason") or finish
            for frag in arr(obj(choice.get("delta")).get("tool_calls")):
                ctx.require(
                    isinstance(frag, dict) and isinstance(frag.get("index"), int),
                    "tool call fragment without index",
                    expected="index: int",
                    actual=frag,
                    exchange=ctx.ex("tools_stream"),
                )
                entry = calls.setdefault(frag["index"], {"first": frag, "args": ""})
                entry["args"] += str(obj(frag.get("function")).get("arguments") or "")
    ctx.require(
        len(calls) > 0,
        "no tool call fragments",
        expected="delta.tool_calls",
        actual=0,
        exchange=ctx.ex("tools_stream"),
    )
    for entry in calls.values():
        first = entry["first"]
        ok = (
            isinstance(first.get("id"), str)
            and first.get("type") == "function"
            and isinstance(obj(first.get("function")).get("name"), str)
        )
        ctx.require(
            ok,
            "first fragment lacks id/type/name",
            expected="id, type function, function.name",
            actual=first,
            exchange=ctx.ex("tools_stream"),
        )
        try:
            parsed = parse_json(entry["args"])
        except ValueError:
            parsed = None
        # Whose fault (issue 18): the server streams what the model wrote, and the spec warns that "the
        # model does not always generate valid JSON"; a cut answer is the request's token budget. The
        # message says which, so a reader does not blame the server for its model or its client.
        cause = (
            "the answer was cut at max_tokens (finish_reason length): the request's budget, not the server"
            if finish == "length"
            else "the model's text as the server streamed it, unless the server split or dropped fragments"
        )
        ctx.require(
            isinstance(parsed, dict),
            f"argument fragments do not join to a JSON object ({cause})",
            expected="{...}",
            actual=entry["args"][:200],
            exchange=ctx.ex("tools_stream"),
        )
    ctx.require(
        finish == "tool_calls",
        "streamed tool call does not finish with tool_calls",
        expected="tool_calls",
        actual=finish,
        exchange=ctx.ex("tools_stream"),
    )
