"""Promises a single provider makes: Pharia's /v1/complete, /transcribe, text-only output.

The shapes of /v1/complete and /transcribe are inferred: the seed names the routes, not their bodies.
"""

from __future__ import annotations

from chatcert.checks._util import expect_client_error, expect_success, message_of
from chatcert.context import CheckContext
from chatcert.profiles import Profile
from chatcert.registry import Level, check


def _text_only(profile: Profile) -> str | None:
    return (
        None if profile.limit("output_modalities") == ["text"] else "profile does not restrict output to text"
    )


@check(
    area="pharia",
    level=Level.PROFILE,
    requires=("complete",),
    probes=("complete_basic",),
    rules=("PP1",),
    source=(
        "SEED-P 'If you want to use the luminous worker type with e.g. luminous-base you have to use the "
        "/v1/complete endpoint instead' (response shape inferred)"
    ),
)
def complete_route_answers(ctx: CheckContext) -> None:
    """/v1/complete answers a luminous model (the profile's route_models) with a completion text."""
    body = expect_success(ctx, "complete_basic")
    completions = body.get("completions")
    ok = (
        isinstance(completions, list)
        and bool(completions)
        and isinstance(completions[0], dict)
        and isinstance(completions[0].get("completion"), str)
    )
    ctx.require(
        ok,
        "no completions[0].completion",
        expected='{"completions": [{"completion": "..."}]}',
        actual=str(body)[:300],
        exchange=ctx.ex("complete_basic"),
    )


@check(
    area="pharia",
    level=Level.PROFILE,
    probes=("chat_alias_basic",),
    rules=("PP1",),
    source=(
        'SEED-P aleph-alpha-client example: Client(host="https://inference-api.pharia.example.com") and '
        "client.chat(...), which POSTs {host}/chat/completions"
    ),
)
def chat_alias_route_answers(ctx: CheckContext) -> None:
    """The second chat path (Pharia's SDK path /chat/completions) answers a chat completion."""
    body = expect_success(ctx, "chat_alias_basic")
    message = message_of(ctx, body, ctx.ex("chat_alias_basic"))
    ctx.require(
        isinstance(message.get("content"), str) and message["content"] != "",
        "no answer text on the alias path",
        expected="choices[0].message.content: non-empty text",
        actual=str(body)[:300],
        exchange=ctx.ex("chat_alias_basic"),
    )


@check(
    area="pharia",
    level=Level.PROFILE,
    requires=("transcribe",),
    probes=("transcribe_basic",),
    rules=("PP1",),
    source="SEED-P 'Transcription of input audio is supported via the /transcribe endpoint' (shape inferred)",
)
def transcribe_route_answers(ctx: CheckContext) -> None:
    """/transcribe accepts a multipart audio file and answers 200 with {"text": ...} (inferred contract)."""
    body = expect_success(ctx, "transcribe_basic")
    ctx.require(
        isinstance(body.get("text"), str),
        "no text in the transcription",
        expected='{"text": "..."}',
        actual=str(body)[:300],
        exchange=ctx.ex("transcribe_basic"),
    )


@check(
    area="pharia",
    level=Level.PROFILE,
    probes=("image_output_request",),
    applies=_text_only,
    rules=("PP1",),
    source="SEED-P 'Generating images as output is not supported'",
)
def image_output_refused(ctx: CheckContext) -> None:
    """A request for image output is refused with a 4xx."""
    expect_client_error(ctx, "image_output_request")


@check(
    area="pharia",
    level=Level.PROFILE,
    probes=("audio_output_request",),
    applies=_text_only,
    rules=("PP1",),
    source="SEED-P 'Generating audio as output is not supported'",
)
def audio_output_refused(ctx: CheckContext) -> None:
    """A request for audio output is refused with a 4xx."""
    expect_client_error(ctx, "audio_output_request")
