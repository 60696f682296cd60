"""Tool calling: calls returned, arguments a JSON string that validates, round trips, streamed fragments."""

from __future__ import annotations

from typing import Any

from jsonschema import Draft202012Validator

from chatcert._json import parse_json
from chatcert._models import Exchange
from chatcert.checks._util import arr, expect_client_error, expect_success, first_choice, message_of, obj
from chatcert.checks.probes import TIME_TOOL, WEATHER_TOOL
from chatcert.context import CheckContext
from chatcert.registry import Level, check

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
    for probe in _CUT_PROBES:
        ex = ctx.ex(probe)
        try:
            body = obj(ex.json()) if ex.status == 200 else {}
        except ValueError:
            body = {}
        choice = obj(arr(body.get("choices"))[0]) if arr(body.get("choices")) else {}
        if choice.get("finish_reason") != "tool_calls":
            continue
        judged += 1
        used, cap = _usage_and_cap(ex, body)
        broken = [c for c in _calls_in(ctx, probe) if not isinstance(_parsed_arguments(c), dict)]
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
    for probe, call in _returned_calls(ctx):
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
            exchange=ctx.ex(probe),
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
    for probe, call in _returned_calls(ctx):
        args = obj(call.get("function")).get("arguments")
        ctx.require(
            isinstance(args, str),
            "arguments is not a string",
            expected="a JSON string",
            actual=args,
            exchange=ctx.ex(probe),
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
            exchange=ctx.ex(probe),
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
    for probe, call in _returned_calls(ctx):
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
            exchange=ctx.ex(probe),
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
