"""Error bodies in the profile's shape, unknown models, and the statuses only a mock can provoke."""

from __future__ import annotations

import re

from chatcert._models import Exchange
from chatcert._schemas import schema_errors
from chatcert.checks._util import expect_client_error, json_or_none
from chatcert.checks.probes import fault_probe
from chatcert.context import CheckContext
from chatcert.error_shapes import error_shape_problems
from chatcert.profiles import Profile
from chatcert.registry import Level, check

# -- probes: the requests these checks read ------------------------------------------------------------

fault_probe("fault_429", "mock 429", "status=429")
fault_probe("fault_402", "mock 402 (x402)", "status=402")
fault_probe("fault_503", "mock 503", "status=503")
fault_probe("fault_500", "mock 500", "status=500")
fault_probe("fault_413", "mock 413", "status=413")


# -- checks --------------------------------------------------------------------------------------------

_ERROR_PROBES = ("malformed_json", "missing_messages", "unknown_model")


def _shape_is(shape: str) -> object:
    def applies(profile: Profile) -> str | None:
        return None if profile.error_shape == shape else f"profile's error shape is {profile.error_shape}"

    return applies


@check(
    area="errors",
    level=Level.MUST,
    probes=_ERROR_PROBES,
    rules=("E1", "E2"),
    source='SPEC ErrorResponse; SEED-B \'Errors return JSON of the form {"detail": "..."}\'',
    depends_on=("rejections_carry_error_body",),
)
def error_body_matches_profile_shape(ctx: CheckContext) -> None:
    """Error bodies have the profile's shape ({"error": {...}}, {"detail": ...}, or either)."""
    for name in _ERROR_PROBES:
        ex = ctx.ex(name)
        if ex.status is None or ex.status < 400:
            continue
        problems = error_shape_problems(ctx.profile.error_shape, json_or_none(ex))
        ctx.require(
            not problems,
            f"{ex.label}: error body not in the {ctx.profile.error_shape} shape ({(problems or [''])[0]})",
            expected=ctx.profile.error_shape,
            actual=f"{'; '.join(problems)} | {ex.excerpt(200)}",
            exchange=ex,
        )


@check(
    area="errors",
    level=Level.SHOULD,
    strict_level=Level.MUST,
    probes=_ERROR_PROBES,
    rules=("E1", "E8"),
    source="SPEC Error required [code, message, param, type]; vLLM PR #17664 (legacy shape)",
    depends_on=("error_body_matches_profile_shape",),
)
def error_object_has_all_fields(ctx: CheckContext) -> None:
    """OpenAI error objects carry message, type, param and code (null allowed), with the spec's types.

    Judged on every {"error": {...}} body whatever the profile's shape: error_body_matches_profile_shape
    accepts what the SDK reads (a message; code may be an integer), the spec's full object is this
    SHOULD (MUST in the strict tier). Without such a body there is nothing to judge.
    """
    judged = 0
    for name in _ERROR_PROBES:
        ex = ctx.ex(name)
        if ex.status is None or ex.status < 400:
            continue
        body = json_or_none(ex)
        if not (isinstance(body, dict) and isinstance(body.get("error"), dict)):
            continue
        judged += 1
        errors = schema_errors("openai/error", body)
        ctx.require(
            not errors,
            f"{ex.label}: incomplete error object",
            expected="message, type, param, code",
            actual="; ".join(errors),
            exchange=ex,
        )
    if not judged:
        ctx.skip('not exercised: no error body in the {"error": {...}} form')


@check(
    area="errors",
    level=Level.SHOULD,
    probes=("unknown_model",),
    rules=("E4", "PB1"),
    source="SEED-B '404 Unknown model'; OpenAI model_not_found",
)
def unknown_model_is_404(ctx: CheckContext) -> None:
    """An unknown model is answered 404."""
    expect_client_error(ctx, "unknown_model", allowed=(404,))


@check(
    area="errors",
    level=Level.PROFILE,
    probes=("missing_messages",),
    rules=("E2", "PB1"),
    applies=_shape_is("detail"),  # type: ignore[arg-type]
    source="SEED-B '422 Validation error — Check field types and enum values'",
)
def validation_error_is_422(ctx: CheckContext) -> None:
    """A request that fails validation is answered 422 (FastAPI-style gateway)."""
    expect_client_error(ctx, "missing_messages", allowed=(422,))


@check(
    area="errors",
    level=Level.SHOULD,
    probes=("fault_429",),
    mock_only=True,
    rules=("T6",),
    source="SPEC components.responses.TooManyRequests; RFC 9110 Retry-After",
)
def rate_limit_has_retry_after(ctx: CheckContext) -> None:
    """A 429 carries Retry-After (an integer >= 1) and an error body."""
    ex = expect_client_error(ctx, "fault_429", allowed=(429,))
    value = ex.headers.get("retry-after", "")
    ctx.require(
        value.isdigit() and int(value) >= 1,
        "429 without a usable Retry-After",
        expected="Retry-After: N",
        actual=value or "(none)",
        exchange=ex,
    )
    ctx.require(
        not error_shape_problems(ctx.profile.error_shape, json_or_none(ex)),
        "429 body not an error body",
        expected=ctx.profile.error_shape,
        actual=ex.excerpt(200),
        exchange=ex,
    )


@check(
    area="errors",
    level=Level.PROFILE,
    probes=("fault_402",),
    mock_only=True,
    rules=("E5", "PB1"),
    applies=_shape_is("detail"),  # type: ignore[arg-type]
    source="SEED-B '402 Payment required (x402 flow)'; x402 spec v1 (x402Version, accepts)",
)
def payment_required_has_x402_body(ctx: CheckContext) -> None:
    """A 402 carries x402 payment requirements (x402Version, accepts[]); chatcert never pays."""
    ex = expect_client_error(ctx, "fault_402", allowed=(402,))
    body = json_or_none(ex)
    ok = (
        isinstance(body, dict)
        and isinstance(body.get("x402Version"), int)
        and isinstance(body.get("accepts"), list)
        and len(body["accepts"]) > 0
    )
    ctx.require(
        ok,
        "402 without x402 requirements",
        expected='{"x402Version": 1, "accepts": [...]}',
        actual=ex.excerpt(300),
        exchange=ex,
    )
    ctx.require(
        "x-payment" not in {k.lower() for k in ex.request_headers},
        "chatcert sent a payment",
        expected="no X-PAYMENT header",
        actual=ex.request_headers,
        exchange=ex,
    )


def _fault_has_error_body(ctx: CheckContext, status: int) -> None:
    """The mock's `status` answer carries an error body in the profile's shape."""
    ex = ctx.ex(f"fault_{status}")
    ctx.require(
        ex.status == status, f"expected {status}", expected=str(status), actual=str(ex.status), exchange=ex
    )
    problems = error_shape_problems(ctx.profile.error_shape, json_or_none(ex))
    ctx.require(
        not problems,
        f"{status} body not an error body",
        expected=ctx.profile.error_shape,
        actual=ex.excerpt(200),
        exchange=ex,
    )


@check(
    area="errors",
    level=Level.SHOULD,
    probes=("fault_503",),
    mock_only=True,
    rules=("E6", "PB1"),
    source="SEED-B '503 All servers failed for this model — Retry shortly'",
)
def unavailable_503_has_error_body(ctx: CheckContext) -> None:
    """A 503 carries an error body in the profile's shape."""
    _fault_has_error_body(ctx, 503)


@check(
    area="errors",
    level=Level.SHOULD,
    probes=("fault_500",),
    mock_only=True,
    rules=("E1",),
    source="SPEC ErrorResponse (server errors carry a body too)",
)
def server_error_has_error_body(ctx: CheckContext) -> None:
    """A 500 carries an error body in the profile's shape."""
    _fault_has_error_body(ctx, 500)


@check(
    area="errors",
    level=Level.SHOULD,
    probes=("fault_413",),
    mock_only=True,
    rules=("T9",),
    source="RFC 9110 §15.5.14 Content Too Large; SEED-P 128MiB",
)
def payload_too_large_has_error_body(ctx: CheckContext) -> None:
    """A 413 carries an error body in the profile's shape."""
    _fault_has_error_body(ctx, 413)


# Probes a server must answer with a 4xx and no model involved: their error bodies and their timing.
_REJECTIONS = (
    "malformed_json",
    "non_object_body",
    "missing_messages",
    "empty_messages",
    "messages_not_objects",
    "unknown_role",
    "temperature_out_of_range",
)
# What a body shows when a server hands its internals to the client: a Python, Go, Java or Node stack
# trace, or an absolute path on its disk (under a usual root, or to a source file anywhere). Paths the
# request itself carried are not leaks.
_LEAKS = (
    re.compile(r"Traceback \(most recent call last\)"),
    re.compile(r'File "[^"]+", line \d+'),
    re.compile(r"goroutine \d+ \[running\]"),
    re.compile(r"\bat [\w.$]+\([\w$]+\.java:\d+\)"),
    re.compile(r"\bat .+\((?:/|[A-Za-z]:\\)[^)]+\.(?:js|ts|mjs):\d+:\d+\)"),
    re.compile(
        r"(?<![\w/.])/(?:usr|home|opt|srv|var|app|root|workspace|code|site-packages|lib|tmp)/[\w.@+-]+(?:/[\w.@+-]+)+"
    ),
    re.compile(r"(?<![\w/.:])/(?:[\w.@+-]+/){2,}[\w.@+-]+\.(?:py|go|js|mjs|ts|java|rb|rs|c|cc|cpp|h|so)\b"),
    re.compile(r"\b[A-Za-z]:\\(?:[\w .-]+\\)+[\w .-]+"),
)


def _strings(doc: object) -> list[str]:
    """Every string in a JSON document, decoded (a traceback in JSON has its quotes escaped)."""
    if isinstance(doc, str):
        return [doc]
    if isinstance(doc, dict):
        return [s for value in doc.values() for s in _strings(value)]
    if isinstance(doc, list):
        return [s for value in doc for s in _strings(value)]
    return []


def _leak(ex: Exchange) -> str | None:
    """The first leaking fragment of an error body, or None."""
    doc = json_or_none(ex)
    texts = [ex.text(), *_strings(doc)]
    sent = (ex.request_body or b"").decode("utf-8", errors="replace")
    for pattern in _LEAKS:
        for text in texts:
            for found in pattern.finditer(text):
                if found.group() not in sent:
                    return found.group()
    return None


@check(
    area="errors",
    level=Level.SHOULD,
    probes=_REJECTIONS,
    rules=("E1",),
    source="OWASP API Security Top 10 2023 API8 Security Misconfiguration (error messages that carry "
    "stack traces or other sensitive information); CWE-209",
)
def error_bodies_do_not_leak_internals(ctx: CheckContext) -> None:
    """Error bodies carry no stack trace and no absolute path of the server's disk (every error seen)."""
    errors = [
        (name, ex)
        for name, result in ctx.probes.items()
        for ex in result.exchanges
        if ex.status is not None and ex.status >= 400
    ]
    if not errors:
        ctx.skip("not exercised: no error body came back")
    for name, ex in errors:
        fragment = _leak(ex)
        if fragment is not None:
            ctx.fail(
                f"the {ex.status} answer to {ex.label or name} shows the server's internals: {fragment!r}",
                expected="an error message without stack traces or server paths",
                actual=ex.excerpt(400),
                exchange=ex,
            )


_DEFAULT_REJECTION_S = 3.0


@check(
    area="errors",
    level=Level.SHOULD,
    probes=_REJECTIONS,
    rules=("E1",),
    source="chatcert: validation needs no model, so a 4xx that takes seconds means the server retried or "
    "queued an invalid request (seen on a real gateway: a 400 after several seconds of retries); "
    "threshold limits.rejection_seconds",
)
def rejections_answer_promptly(ctx: CheckContext) -> None:
    """Each invalid request is rejected within the profile's limits.rejection_seconds (default 3 s)."""
    limit = float(ctx.profile.limit("rejection_seconds") or _DEFAULT_REJECTION_S)
    rejected = [
        ex
        for name in _REJECTIONS
        for ex in ctx.exchanges(name)
        if ex.status is not None and 400 <= ex.status < 500
    ]
    if not rejected:
        ctx.skip("not exercised: no invalid request was rejected with a 4xx")
    slowest = max(rejected, key=lambda ex: ex.elapsed_s)
    ctx.require(
        slowest.elapsed_s <= limit,
        f"the {slowest.status} to {slowest.label} took {slowest.elapsed_s:.1f} s: a rejection should not "
        "wait for retries or a queue",
        expected=f"<= {limit:g} s (limits.rejection_seconds)",
        actual=f"{slowest.elapsed_s:.2f} s",
        exchange=slowest,
    )
