"""Promises a single provider makes: Pharia's /v1/complete, /transcribe, text-only output.

The shapes of /v1/complete and /transcribe are inferred: the seed names the routes, not their bodies.
"""

from __future__ import annotations

import struct
import uuid

from chatcert._models import RequestSpec
from chatcert.checks._util import expect_client_error, expect_success, message_of
from chatcert.checks.probes import PROMPT, reject_probe, route_model, set_fields
from chatcert.context import DEFAULT_MAX_TOKENS, CheckContext, ProbeContext
from chatcert.profiles import Profile
from chatcert.registry import Level, check, probe

# -- probes: the requests these checks read ------------------------------------------------------------


@probe("chat_alias_basic", tokens=DEFAULT_MAX_TOKENS, routes=("chat_alias",))
def chat_alias_basic(ctx: ProbeContext) -> None:
    """A plain chat request on the profile's second chat path (Pharia: /chat/completions)."""
    ctx.chat(ctx.chat_body(PROMPT), label="chat on the alias path", route="chat_alias")


reject_probe("image_output_request", "image output requested", set_fields(modalities=["text", "image"]))
reject_probe(
    "audio_output_request",
    "audio output requested",
    set_fields(modalities=["text", "audio"], audio={"voice": "alloy", "format": "wav"}),
)


@probe("complete_basic", tokens=DEFAULT_MAX_TOKENS, requires=("complete",), routes=("complete",))
def complete_basic(ctx: ProbeContext) -> None:
    """Pharia /v1/complete request with a luminous model (contract inferred)."""
    body = {
        "model": route_model(ctx, "complete"),
        "prompt": "Once upon a time",
        "maximum_tokens": DEFAULT_MAX_TOKENS,
        "max_tokens": DEFAULT_MAX_TOKENS,
    }
    ctx.chat(body, label="complete", route="complete")


@probe("transcribe_basic", requires=("transcribe",), routes=("transcribe",))
def transcribe_basic(ctx: ProbeContext) -> None:
    """Pharia /transcribe with a short WAV file (contract inferred)."""
    boundary = "chatcert" + uuid.uuid4().hex
    wav = _silent_wav()
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="probe.wav"\r\n'
            f"Content-Type: audio/wav\r\n\r\n"
        ).encode()
        + wav
        + f"\r\n--{boundary}--\r\n".encode()
    )
    ctx.send(
        RequestSpec(
            "POST",
            ctx.route("transcribe"),
            raw_body=body,
            label="transcribe",
            headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
        )
    )


def _silent_wav(samples: int = 1600) -> bytes:
    data = b"\x00\x00" * samples
    return (
        b"RIFF"
        + struct.pack("<I", 36 + len(data))
        + b"WAVEfmt "
        + struct.pack("<IHHIIHH", 16, 1, 1, 16000, 32000, 2, 16)
        + b"data"
        + struct.pack("<I", len(data))
        + data
    )


# -- checks --------------------------------------------------------------------------------------------


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
