"""Streaming: SSE framing, chunk schema, identity, role, finish reasons, [DONE], usage chunk, stalls."""

from __future__ import annotations

import itertools
import json
from collections import Counter
from typing import Any

from chatcert._json import parse_json
from chatcert.checks._util import FINISH_REASONS, index_of, obj, require_usage_totals
from chatcert.checks.probes import PROMPT, reject_probe, set_fields, simple_probe
from chatcert.context import DEFAULT_MAX_TOKENS, CheckContext
from chatcert.registry import Level, check

# -- probes: the requests these checks read ------------------------------------------------------------

simple_probe(
    "chat_stream_usage",
    "streamed chat with include_usage",
    requires=("streaming", "stream_usage"),
    content=PROMPT,
    stream=True,
    stream_options={"include_usage": True},
)
simple_probe(
    "chat_stream_n2",
    "streamed n=2",
    tokens=2 * DEFAULT_MAX_TOKENS,
    requires=("streaming",),
    content=PROMPT,
    n=2,
    stream=True,
)
reject_probe(
    "stream_rejected",
    "invalid streamed request",
    set_fields(messages=[], stream=True),
    requires=("streaming",),
)


# -- checks --------------------------------------------------------------------------------------------

SPEC = "SPEC CreateChatCompletionStreamResponse"
STREAM = ("streaming",)
# Silence longer than this between two events is a stall (S15); the client's stall bound aborts sooner.
STALL_WARN_S = 10.0


def _chunks(ctx: CheckContext, probe: str = "chat_stream") -> list[dict[str, Any]]:
    chunks = ctx.chunks(probe)
    ctx.require(
        len(chunks) > 0,
        "stream carried no JSON chunks",
        expected="data: {...} events",
        actual=ctx.ex(probe).excerpt(300),
        exchange=ctx.ex(probe),
    )
    return chunks


def _choice_chunks(chunks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [c for c in chunks if isinstance(c.get("choices"), list) and c["choices"]]


@check(
    area="streaming",
    level=Level.MUST,
    requires=STREAM,
    probes=("chat_stream",),
    rules=("S1",),
    source="WHATWG HTML §9.2 server-sent events",
)
def stream_sse_framing_valid(ctx: CheckContext) -> None:
    """The stream is well-formed SSE: UTF-8, field lines, events ended by a blank line."""
    ex = ctx.ex("chat_stream")
    ctx.stream_events("chat_stream")
    ctx.require(
        not ex.sse_errors,
        "malformed SSE",
        expected="well-formed events",
        actual="; ".join(ex.sse_errors),
        exchange=ex,
    )
    ctx.require(
        not ex.truncated,
        "stream was cut by a bound",
        expected="a complete stream",
        actual=ex.error,
        exchange=ex,
    )


@check(
    area="streaming", level=Level.MUST, requires=STREAM, probes=("chat_stream",), rules=("S2",), source=SPEC
)
def stream_events_are_json(ctx: CheckContext) -> None:
    """Every data event other than [DONE] is a JSON object."""
    for event in ctx.stream_events("chat_stream"):
        if event.data.strip() == "[DONE]":
            continue
        try:
            doc = parse_json(event.data)
        except ValueError:
            doc = None
        ctx.require(
            isinstance(doc, dict),
            "a data event is not a JSON object",
            expected="JSON object",
            actual=event.data[:300],
            exchange=ctx.ex("chat_stream"),
        )


def _chunks_match(ctx: CheckContext, tier: str) -> None:
    for chunk in _chunks(ctx):
        ctx.require_valid(
            f"openai/{tier}/chat-chunk",
            chunk,
            f"chunk does not match the {tier} schema",
            ctx.ex("chat_stream"),
        )


@check(
    area="streaming",
    level=Level.MUST,
    requires=STREAM,
    probes=("chat_stream",),
    rules=("S2",),
    source=f"{SPEC}, relaxed per catalogue N2 (compatible tier)",
)
def stream_chunks_match_compatible_schema(ctx: CheckContext) -> None:
    """Every chunk validates against the compatible-tier chunk schema."""
    _chunks_match(ctx, "compatible")


@check(
    area="streaming",
    level=Level.SHOULD,
    strict_level=Level.MUST,
    requires=STREAM,
    probes=("chat_stream",),
    rules=("S2",),
    source=f"{SPEC} (nullable normalised, catalogue N1)",
)
def stream_chunks_match_strict_schema(ctx: CheckContext) -> None:
    """Every chunk validates against the official (strict-tier) chunk schema."""
    _chunks_match(ctx, "strict")


@check(
    area="streaming",
    level=Level.MUST,
    requires=STREAM,
    probes=("chat_stream",),
    rules=("S3",),
    source=f"{SPEC}.object enum",
)
def stream_object_is_chunk(ctx: CheckContext) -> None:
    """Every chunk has object "chat.completion.chunk"."""
    for chunk in _chunks(ctx):
        ctx.require(
            chunk.get("object") == "chat.completion.chunk",
            "wrong chunk object",
            expected="chat.completion.chunk",
            actual=chunk.get("object"),
            exchange=ctx.ex("chat_stream"),
        )


@check(
    area="streaming",
    level=Level.MUST,
    requires=STREAM,
    probes=("chat_stream",),
    rules=("S4",),
    source=f"{SPEC}.id ('Each chunk has the same ID'); llama.cpp test_chat_completion",
)
def stream_id_stable(ctx: CheckContext) -> None:
    """All chunks carry the same non-empty id."""
    ids = [c.get("id") for c in _chunks(ctx)]
    ctx.require(
        len(set(map(str, ids))) == 1 and bool(ids[0]),
        "chunk ids differ or are empty",
        expected="one id",
        actual=sorted(set(map(str, ids)))[:5],
        exchange=ctx.ex("chat_stream"),
    )


@check(
    area="streaming",
    level=Level.SHOULD,
    requires=STREAM,
    probes=("chat_stream",),
    rules=("S4",),
    source=f"{SPEC}.created ('Each chunk has the same timestamp')",
)
def stream_created_stable(ctx: CheckContext) -> None:
    """All chunks carry the same created timestamp."""
    values = {json.dumps(c.get("created")) for c in _chunks(ctx)}
    ctx.require(
        len(values) == 1,
        "created changes between chunks",
        expected="one value",
        actual=sorted(values)[:5],
        exchange=ctx.ex("chat_stream"),
    )


@check(
    area="streaming",
    level=Level.SHOULD,
    requires=STREAM,
    probes=("chat_stream",),
    rules=("S4",),
    source=f"{SPEC}.model",
)
def stream_model_stable(ctx: CheckContext) -> None:
    """All chunks name the same model."""
    values = {str(c.get("model")) for c in _chunks(ctx)}
    ctx.require(
        len(values) == 1,
        "model changes between chunks",
        expected="one model",
        actual=sorted(values),
        exchange=ctx.ex("chat_stream"),
    )


@check(
    area="streaming",
    level=Level.SHOULD,
    requires=STREAM,
    probes=("chat_stream",),
    rules=("S5",),
    source="llama.cpp test_chat_completion; aimock conformance (role on the first delta)",
)
def stream_role_first(ctx: CheckContext) -> None:
    """The first delta carries role "assistant"; no later delta changes it."""
    chunks = _choice_chunks(_chunks(ctx))
    ctx.require(
        len(chunks) > 0,
        "no chunk with choices",
        expected="choices",
        actual=len(chunks),
        exchange=ctx.ex("chat_stream"),
    )
    first = obj(obj(chunks[0]["choices"][0]).get("delta"))
    ctx.require(
        first.get("role") == "assistant",
        "first delta has no role assistant",
        expected="assistant",
        actual=first,
        exchange=ctx.ex("chat_stream"),
    )
    later = [obj(obj(c["choices"][0]).get("delta")).get("role") for c in chunks[1:]]
    ctx.require(
        all(r in (None, "assistant") for r in later),
        "a later delta changes role",
        expected="no role or assistant",
        actual=later,
        exchange=ctx.ex("chat_stream"),
    )


def _finish_counts(chunks: list[dict[str, Any]]) -> tuple[Counter[int], list[Any]]:
    counts: Counter[int] = Counter()
    values: list[Any] = []
    for chunk in _choice_chunks(chunks):
        for choice in chunk["choices"]:
            if isinstance(choice, dict) and choice.get("finish_reason") is not None:
                index = index_of(choice)
                counts[-1 if index is None else index] += 1
                values.append(choice.get("finish_reason"))
    return counts, values


@check(
    area="streaming",
    level=Level.MUST,
    requires=STREAM,
    probes=("chat_stream",),
    rules=("S6",),
    source="vLLM test_chat (finish_reason_count == 1); SPEC choice.finish_reason",
)
def stream_finish_reason_exactly_once(ctx: CheckContext) -> None:
    """Each choice gets exactly one non-null finish_reason, and it is a valid value."""
    counts, values = _finish_counts(_chunks(ctx))
    ctx.require(
        counts.get(0, 0) == 1 and all(n == 1 for n in counts.values()),
        "finish_reason not sent exactly once per choice",
        expected="1 per choice",
        actual=dict(counts),
        exchange=ctx.ex("chat_stream"),
    )
    ctx.require(
        all(v in FINISH_REASONS for v in values),
        "invalid finish_reason in stream",
        expected=" | ".join(FINISH_REASONS),
        actual=values,
        exchange=ctx.ex("chat_stream"),
    )


@check(
    area="streaming",
    level=Level.MUST,
    requires=STREAM,
    probes=("chat_stream",),
    rules=("S6",),
    source="SPEC choice.finish_reason (set on the last chunk)",
)
def stream_no_content_after_finish(ctx: CheckContext) -> None:
    """No content arrives for a choice after its finish_reason."""
    finished: set[int] = set()
    for chunk in _choice_chunks(_chunks(ctx)):
        for choice in chunk["choices"]:
            if not isinstance(choice, dict):
                continue
            index = index_of(choice)
            delta = obj(choice.get("delta"))
            ctx.require(
                not (index in finished and (delta.get("content") or delta.get("tool_calls"))),
                "content after finish_reason",
                expected="nothing after finish_reason",
                actual=chunk,
                exchange=ctx.ex("chat_stream"),
            )
            if choice.get("finish_reason") is not None and index is not None:
                finished.add(index)


@check(
    area="streaming",
    level=Level.MUST,
    requires=STREAM,
    probes=("chat_stream",),
    rules=("S7",),
    source="SPEC ChatCompletionStreamResponseDelta.content string|null; aimock",
)
def stream_delta_content_is_string(ctx: CheckContext) -> None:
    """delta.content is a string, null or absent, never an object."""
    for chunk in _choice_chunks(_chunks(ctx)):
        for choice in chunk["choices"]:
            content = obj(obj(choice).get("delta")).get("content")
            ctx.require(
                content is None or isinstance(content, str),
                "delta.content is not a string",
                expected="string or null",
                actual=content,
                exchange=ctx.ex("chat_stream"),
            )


@check(
    area="streaming",
    level=Level.MUST,
    requires=STREAM,
    probes=("chat_stream",),
    rules=("S8",),
    source="SPEC stream ('terminated by a data: [DONE] message'); vLLM, llama.cpp",
)
def stream_ends_with_done(ctx: CheckContext) -> None:
    """The last data event is [DONE]."""
    events = ctx.stream_events("chat_stream")
    last = events[-1].data.strip() if events else "(no events)"
    ctx.require(
        last == "[DONE]",
        "stream does not end with data: [DONE]",
        expected="[DONE]",
        actual=last[:200],
        exchange=ctx.ex("chat_stream"),
    )


@check(
    area="streaming",
    level=Level.MUST,
    requires=STREAM,
    probes=("chat_stream",),
    rules=("S8",),
    source="SPEC stream termination",
)
def stream_done_sent_once(ctx: CheckContext) -> None:
    """[DONE] is sent exactly once."""
    count = sum(1 for e in ctx.stream_events("chat_stream") if e.data.strip() == "[DONE]")
    ctx.require(
        count == 1, "[DONE] not sent exactly once", expected="1", actual=count, exchange=ctx.ex("chat_stream")
    )


@check(
    area="streaming",
    level=Level.MUST,
    requires=STREAM,
    probes=("chat_stream",),
    rules=("S13", "PB1"),
    source="SEED-B 'Streaming responses can fail mid-stream'; llama.cpp PR #16109",
)
def stream_has_no_error_event(ctx: CheckContext) -> None:
    """A normal stream carries no error event (a mid-stream error is a failure, not an empty success)."""
    for event in ctx.stream_events("chat_stream"):
        try:
            doc = parse_json(event.data)
        except ValueError:
            doc = None
        ctx.require(
            not (isinstance(doc, dict) and "error" in doc) and event.event != "error",
            "the stream reported an error mid-stream",
            expected="no error event",
            actual=event.data[:300],
            exchange=ctx.ex("chat_stream"),
        )


@check(
    area="streaming",
    level=Level.SHOULD,
    requires=STREAM,
    probes=("chat_basic", "chat_stream"),
    rules=("S9",),
    source="vLLM test_chat_streaming (same text streamed and not); llama.cpp cache_prompt",
)
def stream_matches_non_stream(ctx: CheckContext) -> None:
    """At temperature 0 with the same seed, the streamed text equals the non-stream text."""
    body = ctx.body_object("chat_basic")
    try:
        text = str(body["choices"][0]["message"]["content"] or "")
    except (KeyError, IndexError, TypeError):
        text = ""
    streamed = "".join(
        str(obj(obj(c["choices"][0]).get("delta")).get("content") or "")
        for c in _choice_chunks(_chunks(ctx))
        if index_of(c["choices"][0]) == 0
    )
    ctx.require(
        streamed == text,
        "streamed text differs from the non-stream text",
        expected=text[:200],
        actual=streamed[:200],
        exchange=ctx.ex("chat_stream"),
    )


@check(
    area="streaming",
    level=Level.SHOULD,
    requires=STREAM,
    probes=("chat_stream",),
    rules=("S10",),
    source="llama.cpp#12102; vLLM test_chat (no usage unless include_usage)",
)
def stream_no_usage_unless_asked(ctx: CheckContext) -> None:
    """Without stream_options.include_usage, chunks carry no usage (or usage: null)."""
    with_usage = [c for c in _chunks(ctx) if c.get("usage") not in (None, {})]
    ctx.require(
        not with_usage,
        "usage sent without include_usage",
        expected="usage absent or null",
        actual=with_usage[:1],
        exchange=ctx.ex("chat_stream"),
    )


@check(
    area="streaming",
    level=Level.MUST,
    requires=("streaming", "stream_usage"),
    probes=("chat_stream_usage",),
    rules=("S11",),
    source="SPEC ChatCompletionStreamOptions.include_usage; llama.cpp PR #15444; ollama#4448",
)
def stream_usage_chunk_when_asked(ctx: CheckContext) -> None:
    """With include_usage, one chunk before [DONE] has choices [] and full usage; others usage null."""
    chunks = _chunks(ctx, "chat_stream_usage")
    last = chunks[-1]
    usage = last.get("usage")
    ok = isinstance(usage, dict) and all(
        isinstance(usage.get(k), int) for k in ("prompt_tokens", "completion_tokens", "total_tokens")
    )
    ctx.require(
        ok and last.get("choices") == [],
        "no final usage chunk with choices []",
        expected='{"choices": [], "usage": {...}}',
        actual=last,
        exchange=ctx.ex("chat_stream_usage"),
    )
    others = [c.get("usage") for c in chunks[:-1] if c.get("usage") is not None]
    ctx.require(
        not others,
        "usage on chunks other than the last",
        expected="usage: null",
        actual=others[:2],
        exchange=ctx.ex("chat_stream_usage"),
    )


@check(
    area="streaming",
    level=Level.MUST,
    requires=("streaming", "stream_usage"),
    probes=("chat_stream_usage",),
    rules=("S11", "U2"),
    source="vLLM test_chat; CompletionUsage",
    depends_on=("stream_usage_chunk_when_asked",),
)
def stream_usage_totals_consistent(ctx: CheckContext) -> None:
    """The usage chunk's total_tokens equals prompt_tokens + completion_tokens."""
    chunks = _chunks(ctx, "chat_stream_usage")
    usage = next((c["usage"] for c in reversed(chunks) if isinstance(c.get("usage"), dict)), None)
    ctx.require(
        isinstance(usage, dict),
        "no usage in the stream",
        expected="usage",
        actual=None,
        exchange=ctx.ex("chat_stream_usage"),
    )
    assert isinstance(usage, dict)
    require_usage_totals(ctx, usage, "stream usage", ctx.ex("chat_stream_usage"))


@check(
    area="streaming",
    level=Level.SHOULD,
    requires=STREAM,
    probes=("chat_stream_n2",),
    rules=("S12",),
    source="SPEC choices[].index; ollama#4448",
)
def stream_multi_choice_indexes(ctx: CheckContext) -> None:
    """With n=2, chunks carry choice indexes 0 and 1, each finishing once."""
    counts, _ = _finish_counts(_chunks(ctx, "chat_stream_n2"))
    ctx.require(
        sorted(counts) == [0, 1] and all(v == 1 for v in counts.values()),
        "n=2 stream does not finish both choices once",
        expected="{0: 1, 1: 1}",
        actual=dict(counts),
        exchange=ctx.ex("chat_stream_n2"),
    )


@check(
    area="streaming",
    level=Level.SHOULD,
    requires=STREAM,
    probes=("chat_stream",),
    rules=("S15",),
    source="SSE; latency tooling (stall bound)",
)
def stream_no_stall(ctx: CheckContext) -> None:
    """No gap between two stream events exceeds the stall bound (10 s)."""
    ex = ctx.ex("chat_stream")
    times = [0.0] + [e.at for e in ex.events]
    gaps = [b - a for a, b in itertools.pairwise(times)]
    worst = max(gaps, default=0.0)
    ctx.require(
        worst <= STALL_WARN_S and ex.error is None,
        "the stream stalled",
        expected=f"gaps <= {STALL_WARN_S}s",
        actual=f"max gap {worst:.2f}s; {ex.error or ''}",
        exchange=ex,
    )


@check(
    area="streaming",
    level=Level.SHOULD,
    requires=STREAM,
    probes=("stream_rejected",),
    rules=("S14",),
    source="litellm-rs#170; llama.cpp test_context_size_exceeded_stream (400 before first byte)",
)
def stream_errors_use_http_status(ctx: CheckContext) -> None:
    """An invalid streamed request is not answered 200 with an error event, an empty or an unfinished stream.

    A 4xx is the rule; a 200 carrying a normal, complete stream means the server accepted the request
    (messages: []), which is empty_messages_rejected's finding, not an error hidden behind a 200.
    """
    ex = ctx.ex("stream_rejected")
    if ex.status != 200:
        return
    events = ex.data_events()
    datas = [e.data.strip() for e in events]
    error_event = next(
        (e for e in events if e.event == "error" or _carries_error(e.data)),
        None,
    )
    problem = (
        f"an error event: {error_event.data[:200]}"
        if error_event is not None
        else "an empty stream"
        if not [d for d in datas if d != "[DONE]"]
        else "a stream that ends without [DONE]"
        if datas[-1] != "[DONE]"
        else ""
    )
    ctx.require(
        not problem,
        f"invalid streamed request answered 200 with {problem}",
        expected="a 4xx status (or a complete stream if the server accepts the request)",
        actual=f"200 {ex.excerpt(300)}",
        exchange=ex,
    )


def _carries_error(data: str) -> bool:
    try:
        doc = parse_json(data)
    except ValueError:
        return False
    # Any error body: {"error": ...}, FastAPI's {"detail": ...}, vLLM's legacy {"object": "error"}.
    return isinstance(doc, dict) and ("error" in doc or "detail" in doc or doc.get("object") == "error")
