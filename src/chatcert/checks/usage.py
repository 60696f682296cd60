"""Usage accounting: present, integral, consistent, within the cap. Budgets rely on it."""

from __future__ import annotations

from typing import Any

from chatcert._json import parse_json
from chatcert.checks._util import expect_success, obj, require_usage_totals
from chatcert.checks.probes import text_part, vision_probe
from chatcert.context import CheckContext
from chatcert.registry import Level, check

# -- probes: the requests these checks read ------------------------------------------------------------

vision_probe(
    "vision_text_baseline",
    "the vision prompt without its image",
    lambda ctx: [text_part("Describe this image.")],
)


# -- checks --------------------------------------------------------------------------------------------

KEYS = ("prompt_tokens", "completion_tokens", "total_tokens")


def _usage(ctx: CheckContext, probe: str) -> dict[str, Any]:
    body = expect_success(ctx, probe)
    usage = body.get("usage")
    ctx.require(
        isinstance(usage, dict),
        "usage missing",
        expected="usage object",
        actual=usage,
        exchange=ctx.ex(probe),
    )
    return dict(usage)  # type: ignore[arg-type]


@check(
    area="usage",
    level=Level.MUST,
    source="SPEC CompletionUsage required; SEED-L 'usage is a paid metric'",
    probes=("chat_basic",),
    rules=("U1",),
)
def usage_present(ctx: CheckContext) -> None:
    """A non-stream response reports usage."""
    _usage(ctx, "chat_basic")


@check(
    area="usage",
    level=Level.MUST,
    source="SPEC CompletionUsage (integers)",
    probes=("chat_basic",),
    rules=("U1",),
)
def usage_counts_are_nonnegative_integers(ctx: CheckContext) -> None:
    """prompt_tokens, completion_tokens and total_tokens are integers >= 0."""
    usage = _usage(ctx, "chat_basic")
    bad = {
        k: usage.get(k)
        for k in KEYS
        if not (isinstance(usage.get(k), int) and not isinstance(usage.get(k), bool) and usage[k] >= 0)
    }
    ctx.require(
        not bad,
        "usage counts are not non-negative integers",
        expected="integers >= 0",
        actual=bad,
        exchange=ctx.ex("chat_basic"),
    )


@check(
    area="usage",
    level=Level.MUST,
    source="vLLM test_chat, test_vision (total = prompt + completion)",
    probes=("chat_basic",),
    rules=("U2",),
)
def usage_total_is_sum(ctx: CheckContext) -> None:
    """total_tokens equals prompt_tokens + completion_tokens."""
    usage = _usage(ctx, "chat_basic")
    require_usage_totals(ctx, usage, "usage", ctx.ex("chat_basic"))


@check(
    area="usage",
    level=Level.MUST,
    source="SPEC max_tokens; llama.cpp/vLLM tests (completion == cap at length)",
    probes=("chat_length_cap",),
    rules=("U3", "REQ7"),
)
def usage_completion_within_max_tokens(ctx: CheckContext) -> None:
    """completion_tokens does not exceed max_tokens."""
    usage = _usage(ctx, "chat_length_cap")
    try:
        sent = parse_json(ctx.ex("chat_length_cap").request_body or b"{}")
    except ValueError:
        sent = {}
    cap = obj(sent).get("max_tokens")
    cap = cap if isinstance(cap, int) else None
    value = usage.get("completion_tokens")
    # A count that is missing or not an integer is named as such: "exceeds" would claim a number.
    ctx.require(
        isinstance(value, int) and not isinstance(value, bool),
        "usage.completion_tokens missing or not an integer: cannot verify the cap",
        expected="an integer",
        actual=value,
        exchange=ctx.ex("chat_length_cap"),
    )
    ctx.require(
        cap is None or (isinstance(value, int) and value <= cap),
        "completion exceeds max_tokens",
        expected=f"<= {cap}",
        actual=value,
        exchange=ctx.ex("chat_length_cap"),
    )


@check(
    area="usage",
    level=Level.SHOULD,
    requires=("vision",),
    probes=("vision_png", "vision_text_baseline"),
    rules=("U4",),
    source="vLLM test_vision (image tokens counted); SEED-P sample 16421 prompt tokens",
)
def usage_counts_image_tokens(ctx: CheckContext) -> None:
    """A request with an image reports more prompt tokens than the same text without it."""
    with_image = _usage(ctx, "vision_png").get("prompt_tokens")
    without = _usage(ctx, "vision_text_baseline").get("prompt_tokens")
    ctx.require(
        isinstance(with_image, int) and isinstance(without, int) and with_image > without,
        "image not counted in prompt_tokens",
        expected=f"> {without}",
        actual=with_image,
        exchange=ctx.ex("vision_png"),
    )


@check(
    area="usage",
    level=Level.SHOULD,
    source="SPEC CompletionUsage.prompt_tokens_details.cached_tokens",
    probes=("chat_basic",),
    rules=("U5",),
)
def usage_cached_tokens_within_prompt(ctx: CheckContext) -> None:
    """prompt_tokens_details.cached_tokens, when reported, is between 0 and prompt_tokens."""
    usage = _usage(ctx, "chat_basic")
    details = usage.get("prompt_tokens_details")
    if not isinstance(details, dict) or details.get("cached_tokens") is None:
        return
    cached = details["cached_tokens"]
    prompt = usage.get("prompt_tokens")
    ctx.require(
        isinstance(cached, int) and isinstance(prompt, int) and 0 <= cached <= prompt,
        "cached_tokens out of range",
        expected=f"0..{prompt}",
        actual=cached,
        exchange=ctx.ex("chat_basic"),
    )
