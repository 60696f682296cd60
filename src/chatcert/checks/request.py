"""Request acceptance: what the server must accept, and what it must reject with a 4xx."""

from __future__ import annotations

from typing import Any

from chatcert._models import Exchange, RequestSpec
from chatcert.checks._util import expect_client_error, json_or_none, obj
from chatcert.checks.probes import LONG_PROMPT, PROMPT, simple_probe
from chatcert.context import DEFAULT_MAX_TOKENS, CheckContext, ProbeContext
from chatcert.error_shapes import error_shape_problems
from chatcert.registry import Level, check, probe

# -- probes: the requests these checks read ------------------------------------------------------------

simple_probe("chat_nul", "NUL and odd unicode in content", content="Repeat: a\u0000b \u202e\U0001f600 \ufffe")


@probe("chat_max_completion_tokens", tokens=3)
def chat_max_completion_tokens(ctx: ProbeContext) -> None:
    """max_completion_tokens=3 (no max_tokens)."""
    body = ctx.chat_body(LONG_PROMPT)
    del body["max_tokens"]
    body["max_completion_tokens"] = 3
    ctx.chat(body, label="max_completion_tokens=3")


NEGATIVE_MAX_TOKENS_DEADLINE_S = 10.0
NEGATIVE_MAX_TOKENS_ENOUGH_BYTES = 2048


@probe("negative_max_tokens", tokens=DEFAULT_MAX_TOKENS)
def negative_max_tokens(ctx: ProbeContext) -> None:
    """max_tokens: -1 on a one-word answer, streamed where the profile streams, read only so far."""
    if (ctx.profile.paid or ctx.client.budget.max_tokens is not None) and not ctx.target_is_mock:
        # A server that reads -1 as "no limit" spends tokens no budget can bound.
        ctx.result.skipped = (
            "not exercised: under a token budget or on a paid endpoint, a server that takes "
            "max_tokens -1 as 'no limit' would spend tokens the budget cannot bound"
        )
        return
    # A 4xx needs no generation. A server that took -1 as "no limit" must not be left generating
    # for the rest of the run (a single-slot server would then time out every later check): the
    # answer is streamed where the profile streams, and chatcert hangs up after the first couple of
    # kilobytes, which stops generation on servers that watch for disconnects. Without streaming, a
    # short deadline bounds the wait.
    stream = ctx.profile.claims_capability("streaming")
    ctx.result.data["deadline_s"] = NEGATIVE_MAX_TOKENS_DEADLINE_S
    body = ctx.chat_body(PROMPT, max_tokens=-1, **({"stream": True} if stream else {}))
    ctx.send(
        RequestSpec(
            "POST",
            ctx.route("chat"),
            body=body,
            stream=stream,
            label="max_tokens: -1 on a one-word answer",
            deadline_s=NEGATIVE_MAX_TOKENS_DEADLINE_S,
            enough_bytes=NEGATIVE_MAX_TOKENS_ENOUGH_BYTES if stream else None,
        )
    )


@probe("wrong_content_type", tokens=DEFAULT_MAX_TOKENS)
def wrong_content_type(ctx: ProbeContext) -> None:
    """A valid body sent as text/plain."""
    ctx.chat(ctx.chat_body(PROMPT), label="Content-Type: text/plain", headers={"Content-Type": "text/plain"})


@probe("healthy_after_rejection", requests=2, tokens=2 * DEFAULT_MAX_TOKENS)
def healthy_after_rejection(ctx: ProbeContext) -> None:
    """A rejected request, then a valid one."""
    ctx.chat(None, label="malformed JSON before a valid request", raw_body=b"{not json", stream=False)
    ctx.chat(ctx.chat_body(PROMPT), label="valid request after a rejected one")


# -- checks --------------------------------------------------------------------------------------------

SPEC_REQ = "SPEC CreateChatCompletionRequest"


# The plain rejections of a chat body are data: fixtures/cases/request/*.json (chatcert.checks.cases).
@check(
    area="request",
    level=Level.MUST,
    source="vLLM test_non_object_body_validation; ST negative_data_rejection",
    probes=("malformed_json",),
    rules=("N3", "T4"),
)
def malformed_json_rejected(ctx: CheckContext) -> None:
    """A body that is not JSON is rejected with a 4xx, not a 5xx."""
    expect_client_error(ctx, "malformed_json")


@check(
    area="request",
    level=Level.MUST,
    source="vLLM test_non_object_body_validation",
    probes=("non_object_body",),
    rules=("N3",),
)
def non_object_body_rejected(ctx: CheckContext) -> None:
    """A JSON array body is rejected with a 4xx."""
    expect_client_error(ctx, "non_object_body")


@check(
    area="request",
    level=Level.SHOULD,
    source="RFC 9110 §15.5.16 (415 is the server's option, no OpenAI rule requires it); no 5xx for "
    "a client's request (RFC 9110 §15.6)",
    probes=("wrong_content_type",),
    rules=("N4",),
)
def wrong_content_type_rejected(ctx: CheckContext) -> None:
    """A valid JSON body sent as text/plain is not a server error: 415/4xx or reading it as JSON are fine.

    The id predates the rule: no OpenAI document requires a 415 (that was a mock tool's habit), so a
    server that reads the JSON anyway and answers 200 conforms; only a 5xx (it crashed on the header)
    fails.
    """
    ex = ctx.ex("wrong_content_type")
    ctx.require(
        ex.status is not None and ex.status < 500,
        f"a text/plain request body made the server fail with {ex.status}",
        expected="a 4xx (e.g. 415), or 200 when the body is read as JSON",
        actual=f"{ex.status} {ex.excerpt(300)}",
        exchange=ex,
    )


@check(
    area="request",
    level=Level.MUST,
    source="vLLM test_chat 'server should still work afterwards'",
    probes=("healthy_after_rejection",),
    tolerate_transport_errors=True,
    rules=("REQ10", "T4"),
)
def healthy_after_rejected_request(ctx: CheckContext) -> None:
    """After a rejected request, the next valid request succeeds.

    How the bad request itself was answered is malformed_json_rejected's business; this check judges
    only whether the server is still healthy afterwards.
    """
    second = ctx.ex("healthy_after_rejection", 1)
    ctx.require(
        second.status == 200,
        "valid request after a rejected one failed",
        expected="200",
        actual=f"{second.status} {second.error or second.excerpt(200)}",
        exchange=second,
    )


@check(
    area="request",
    level=Level.SHOULD,
    source="vLLM test_openai_schema allow_x00=False",
    probes=("chat_nul",),
    rules=("N7", "T4"),
)
def odd_unicode_not_5xx(ctx: CheckContext) -> None:
    """NUL bytes and odd unicode in content do not make the server fail (no 5xx)."""
    ex = ctx.ex("chat_nul")
    ctx.require(
        ex.status is not None and ex.status < 500,
        "odd unicode caused a server error",
        expected="< 500",
        actual=f"{ex.status} {ex.excerpt(200)}",
        exchange=ex,
    )


@check(
    area="request",
    level=Level.SHOULD,
    probes=("negative_max_tokens",),
    tolerate_transport_errors=True,
    rules=("N1",),
    source=f"{SPEC_REQ} max_tokens: the maximum number of tokens to generate (no minimum is given, so "
    "SHOULD; a negative bound is meaningless); seen accepted by a real server, which then generated "
    "without a limit",
)
def negative_max_tokens_rejected(ctx: CheckContext) -> None:
    """max_tokens: -1 is rejected with a 4xx, not taken as 'no limit'."""
    ex = ctx.ex("negative_max_tokens")
    if ex.status is not None and 400 <= ex.status < 500:
        return
    if ex.status is None:
        deadline = ctx.probes["negative_max_tokens"].data.get("deadline_s")
        ctx.fail(
            f"max_tokens -1 was not rejected: no answer within {deadline} s, where a 4xx needs no "
            "generation; the server took -1 as 'no limit'",
            expected="4xx",
            actual=f"no response ({ex.error})",
            exchange=ex,
        )
    if ex.status == 200 and ex.events:
        more = ", and was still streaming when chatcert hung up" if ex.truncated else ""
        ctx.fail(
            f"max_tokens -1 was accepted: 200 and {len(ex.events)} stream event(s){more}; "
            "a negative cap means no cap",
            expected="4xx",
            actual=f"{ex.status} {ex.excerpt(300)}",
            exchange=ex,
        )
    usage = obj(obj(json_or_none(ex)).get("usage"))
    spent = usage.get("completion_tokens")
    ctx.fail(
        f"max_tokens -1 was accepted and generated {spent} token(s): a negative cap means no cap"
        if ex.status == 200 and isinstance(spent, int)
        else f"expected a 4xx rejection of max_tokens -1, got {ex.status}",
        expected="4xx",
        actual=f"{ex.status} {ex.excerpt(300)}",
        exchange=ex,
    )


_REJECT_PROBES = ("malformed_json", "missing_messages", "empty_messages", "temperature_out_of_range")


@check(
    area="request",
    level=Level.MUST,
    source="SPEC ErrorResponse; SEED-B 'Errors return JSON'",
    probes=_REJECT_PROBES,
    rules=("REQ3", "E1", "E2"),
)
def rejections_carry_error_body(ctx: CheckContext) -> None:
    """Every 4xx answer to a bad request carries a JSON error body in an accepted shape."""
    for name in _REJECT_PROBES:
        ex = ctx.ex(name)
        if ex.status is None or not 400 <= ex.status < 500:
            continue
        body = json_or_none(ex)
        problems = error_shape_problems("any", body)
        ctx.require(
            not problems,
            f"{ex.label}: error body has no recognised shape ({(problems or [''])[0]})",
            expected='{"error": {"message": ...}} or {"detail": ...}',
            actual=f"{'; '.join(problems)} | {ex.excerpt(300)}",
            exchange=ex,
        )


def _require_cap(ctx: CheckContext, probe: str, key: str) -> None:
    """usage.completion_tokens of `probe`'s answer is within its cap of 3."""
    body: Any = ctx.body_object(probe)
    usage = body.get("usage") if isinstance(body, dict) else None
    used = usage.get("completion_tokens") if isinstance(usage, dict) else None
    ctx.require(
        isinstance(used, int),
        "usage.completion_tokens missing: cannot verify the cap",
        expected="an integer",
        actual=usage,
        exchange=ctx.ex(probe),
    )
    ctx.require(
        isinstance(used, int) and used <= 3,
        f"cap ignored: {used} tokens generated ({key}=3)",
        expected="completion_tokens <= 3",
        actual=used,
        exchange=ctx.ex(probe),
    )


def _generation_rate(ex: Exchange) -> float | None:
    """Output tokens per second of a finished non-stream answer (a lower bound: prompt time included)."""
    try:
        used = obj(obj(ex.json()).get("usage")).get("completion_tokens")
    except ValueError:
        return None
    if ex.status != 200 or not isinstance(used, int) or used <= 0 or ex.elapsed_s <= 0:
        return None
    return used / ex.elapsed_s


@check(
    area="request",
    level=Level.SHOULD,
    source="SPEC max_completion_tokens; vLLM uses max_completion_tokens",
    probes=("chat_max_completion_tokens", "chat_basic"),
    rules=("REQ7",),
    tolerate_transport_errors=True,
)
def max_completion_tokens_honoured(ctx: CheckContext) -> None:
    """max_completion_tokens caps the completion (completion_tokens <= the cap).

    A server that ignores the cap may generate to its context limit and miss the deadline: that is
    reported as the cap ignored, with the tokens it generated estimated from chat_basic's rate, not as
    a bare ReadTimeout.
    """
    ex = ctx.ex("chat_max_completion_tokens")
    if ex.error and ("Timeout" in ex.error or "deadline" in ex.error):
        rate = _generation_rate(ctx.ex("chat_basic"))
        generated = (
            f"about {int(rate * ex.elapsed_s):,} tokens generated in {ex.elapsed_s:.1f}s "
            f"(at the {rate:.1f} tokens/s chat_basic measured) and still going at the deadline"
            if rate
            else f"no complete answer within {ex.elapsed_s:.1f}s for a 3-token cap"
        )
        ctx.fail(
            f"cap ignored: {generated}",
            expected="max_completion_tokens=3: completion_tokens <= 3, answered well within the deadline",
            actual=ex.error,
            exchange=ex,
        )
    if ex.status is None:
        ctx.fail("no HTTP response", expected="an HTTP response", actual=ex.error or "", exchange=ex)
    _require_cap(ctx, "chat_max_completion_tokens", "max_completion_tokens")
