"""What each fuzz property demands of one exchange; the search, the checks and `chatcert replay` share it."""

from __future__ import annotations

import json
from dataclasses import dataclass

from chatcert._models import Exchange
from chatcert._schemas import schema_errors
from chatcert.error_shapes import error_shape_problems
from chatcert.fuzz.findings import Role
from chatcert.profiles import Profile

__all__ = [
    "CHECK_IDS",
    "INVALID_REJECTED",
    "LENIENT_REJECTED",
    "SURVIVES",
    "TOLERATED",
    "VALID_ACCEPTED",
    "VALID_CONFORM",
    "Verdict",
    "check_for",
    "judge_follow_up",
    "judge_invalid",
    "judge_role",
    "judge_valid",
    "rule_for",
]

VALID_ACCEPTED = "fuzz_valid_payloads_accepted"
VALID_CONFORM = "fuzz_valid_payload_answers_conform"
INVALID_REJECTED = "fuzz_invalid_payloads_rejected"
LENIENT_REJECTED = "fuzz_lenient_payloads_rejected"
SURVIVES = "fuzz_server_survives_invalid_payloads"
CHECK_IDS = (VALID_ACCEPTED, VALID_CONFORM, INVALID_REJECTED, LENIENT_REJECTED, SURVIVES)

# Answers that say nothing about the payload: the account, the model name or the rate limit is at issue.
TOLERATED = {402: "payment required", 404: "not found (unknown model?)", 429: "rate limited"}


@dataclass(frozen=True)
class Verdict:
    """`holds` is False for a violation; `kind` names it (the failure class the search keeps apart)."""

    holds: bool
    kind: str
    message: str
    inconclusive: bool = False


def _status(ex: Exchange) -> str:
    return f"{ex.status} {ex.excerpt(200)}" if ex.status is not None else f"no response ({ex.error})"


def judge_valid(profile: Profile, ex: Exchange, *, stream: bool) -> Verdict:
    """A valid payload: 200 with a body (or chunks) matching the profile tier's schema."""
    if ex.status is None:
        return Verdict(False, "no_response", f"a valid payload got no HTTP response: {ex.error}")
    if ex.status >= 500:
        return Verdict(False, "server_error", f"a valid payload was answered {_status(ex)}")
    if ex.status in TOLERATED:
        return Verdict(True, "inconclusive", f"{ex.status}: {TOLERATED[ex.status]}", inconclusive=True)
    if ex.status != 200:
        return Verdict(False, "rejected", f"a valid payload was refused: {_status(ex)}")
    problems = _stream_problems(profile, ex) if stream else _response_problems(profile, ex)
    if problems:
        return Verdict(
            False, "schema", f"the 200 answer breaks the {profile.tier} schema: {'; '.join(problems)}"
        )
    return Verdict(True, "accepted", "accepted")


def _response_problems(profile: Profile, ex: Exchange) -> list[str]:
    try:
        doc = ex.json()
    except ValueError as exc:
        return [str(exc)]
    return schema_errors(f"openai/{profile.tier}/chat-response", doc, limit=3)


def _stream_problems(profile: Profile, ex: Exchange) -> list[str]:
    if ex.media_type != "text/event-stream":
        return [f"a stream was asked for but Content-Type is {ex.content_type or 'missing'}"]
    problems = list(ex.sse_errors[:2])
    chunks = 0
    for event in ex.data_events():
        if event.data.strip() == "[DONE]":
            continue
        try:
            doc = json.loads(event.data)
        except (ValueError, RecursionError):
            problems.append(f"event data is not JSON: {event.data[:80]!r}")
            continue
        if isinstance(doc, dict) and "error" in doc:
            problems.append(f"mid-stream error: {json.dumps(doc)[:160]}")
            continue
        chunks += 1
        problems += [
            f"chunk {chunks}: {e}" for e in schema_errors(f"openai/{profile.tier}/chat-chunk", doc, limit=2)
        ]
        if len(problems) >= 3:
            break
    if not chunks and not problems:
        problems.append("the stream carried no chunk")
    return problems[:3]


def judge_invalid(profile: Profile, ex: Exchange) -> Verdict:
    """An invalid payload: a 4xx with an error body in the profile's shape; never a 5xx, never a 2xx."""
    if ex.status is None:
        return Verdict(False, "no_response", f"an invalid payload got no HTTP response: {ex.error}")
    if ex.status >= 500:
        return Verdict(False, "server_error", f"an invalid payload was answered {_status(ex)}")
    if ex.status == 429:
        return Verdict(True, "inconclusive", "429: rate limited", inconclusive=True)
    if ex.status < 400:
        return Verdict(False, "accepted", f"an invalid payload was accepted: {_status(ex)}")
    try:
        doc = ex.json()
    except ValueError:
        doc = None
    problems = error_shape_problems(profile.error_shape, doc)
    if problems:
        return Verdict(
            False,
            "error_shape",
            f"refused with {ex.status} but the body is not a {profile.error_shape}-shaped error: "
            f"{'; '.join(problems)} | {ex.excerpt(160)}",
        )
    return Verdict(True, "rejected", f"rejected with {ex.status}")


def judge_follow_up(ex: Exchange) -> Verdict:
    """The valid request sent after invalid ones: answered 200."""
    if ex.status == 200:
        return Verdict(True, "answered", "answered 200")
    if ex.status == 429:
        return Verdict(True, "inconclusive", "429: rate limited", inconclusive=True)
    return Verdict(False, "down", f"a valid request after invalid payloads got {_status(ex)}")


def judge_role(profile: Profile, ex: Exchange, role: Role) -> Verdict:
    """Judge an exchange by the property it was sent to test."""
    if role.property == "accepted":
        return judge_valid(profile, ex, stream=role.stream)
    if role.property == "rejected":
        return judge_invalid(profile, ex)
    return judge_follow_up(ex)


def check_for(role: Role, verdict: Verdict) -> str:
    """The check a violation belongs to."""
    if role.property == "accepted":
        return VALID_ACCEPTED if verdict.kind == "rejected" else VALID_CONFORM
    if role.property == "rejected":
        accepted_should = verdict.kind == "accepted" and role.expectation.level == "SHOULD"
        return LENIENT_REJECTED if accepted_should else INVALID_REJECTED
    return SURVIVES


_VALID_RULES = {"rejected": "N2", "schema": "R1", "server_error": "T4", "no_response": "T4"}


def rule_for(role: Role, verdict: Verdict) -> str:
    """The catalogue rule a violation breaks (for a valid payload it depends on how it failed)."""
    if role.property == "accepted":
        return _VALID_RULES.get(verdict.kind, role.expectation.rule)
    return role.expectation.rule
