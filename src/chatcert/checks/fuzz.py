"""Property-based payloads (`certify --fuzz`): generated valid payloads are accepted, invalid ones refused.

Two probes each send one explicit example per payload class or feature, then run a Hypothesis search,
all through the run's client (budgets count every request, explicit examples and shrinking included),
and keep the shrunk counterexamples plus a few samples; the checks judge those
kept exchanges again by the property each was sent to test. Disabled unless the run asks for
fuzzing (RunConfig.options["fuzz"]). See docs/fuzzing.md.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from chatcert.context import DEFAULT_MAX_TOKENS, CheckContext, ProbeContext
from chatcert.fuzz import invalid, properties, valid
from chatcert.fuzz.findings import Finding, Role, body_preview
from chatcert.fuzz.search import SearchConfig
from chatcert.fuzz.verdicts import (
    INVALID_REJECTED,
    LENIENT_REJECTED,
    SURVIVES,
    VALID_ACCEPTED,
    VALID_CONFORM,
    check_for,
    judge_role,
    rule_for,
)
from chatcert.registry import Level, check, probe

_VALID = "fuzz_valid_payloads"
_INVALID = "fuzz_invalid_payloads"
_SHOWN = 3  # findings spelled out in a failure message


# The declared requests are the least a search sends: the real count depends on --max-examples and
# shrinking, and the budget stops a search cleanly wherever it runs out.
def _estimate(explicit: int, follow_ups: int) -> Callable[[Mapping[str, Any]], tuple[int, int]]:
    """Upper bound for --dry-run: the explicit examples (counted for every profile: a profile only
    removes classes), every generated example, every shrinking step, and the valid follow-ups."""

    def estimate(options: Mapping[str, Any]) -> tuple[int, int]:
        search = SearchConfig.from_options(options)
        requests = explicit + search.max_examples + search.shrink_limit + follow_ups
        return requests, requests * DEFAULT_MAX_TOKENS

    return estimate


@probe(_VALID, requests=1, tokens=DEFAULT_MAX_TOKENS, estimate=_estimate(len(valid.FEATURES), 0))
def fuzz_valid_payloads(ctx: ProbeContext) -> None:
    """One valid chat request per feature, then Hypothesis-generated ones (shrunk on failure)."""
    properties.run_valid(ctx)


@probe(
    _INVALID,
    requests=2,
    tokens=DEFAULT_MAX_TOKENS,
    estimate=_estimate(invalid.most_explicit(), properties.MOST_FOLLOW_UPS),
)
def fuzz_invalid_payloads(ctx: ProbeContext) -> None:
    """One invalid chat request per class, then Hypothesis-generated ones (shrunk on failure), then a
    valid one."""
    properties.run_invalid(ctx)


@dataclass(frozen=True)
class _Violation:
    label: str
    status: int | None
    kind: str
    message: str
    summary: str


def _violations(ctx: CheckContext, probe_name: str, check_id: str) -> list[_Violation]:
    """Each kept exchange judged again by the property it was sent to test (so the verdict rests on the
    evidence shown), plus the probe's findings that have no exchange to show (the client gave up)."""
    data = ctx.probes[probe_name].data
    roles: dict[str, Role] = data.get("roles", {})
    findings: dict[str, Finding] = {f.label: f for f in data.get("findings", ()) if f.check == check_id}
    out = []
    seen: set[tuple[str, str, int | None]] = set()
    # The findings' exchanges first: a kept sample failing the same way as a finding is not a second one.
    exchanges = sorted(ctx.exchanges(probe_name), key=lambda e: e.label not in findings)
    for ex in exchanges:
        role = roles.get(ex.label)
        if role is None:
            continue
        verdict = judge_role(ctx.profile, ex, role)
        if verdict.holds or check_for(role, verdict) != check_id:
            continue
        # The probe's own grouping: an invalid payload by the rule it breaks, a valid one by its status.
        same = (role.expectation.rule, verdict.kind, ex.status if role.property == "accepted" else None)
        if same in seen:
            continue
        seen.add(same)
        finding = findings.pop(ex.label, None)
        summary = (
            finding.summary()
            if finding is not None
            else f"[{rule_for(role, verdict)} {role.expectation.kind}] {verdict.message} | "
            f"body: {body_preview(ex.request_body, 400)}"
        )
        out.append(_Violation(ex.label, ex.status, verdict.kind, verdict.message, summary))
    for finding in findings.values():
        if not finding.label:
            out.append(_Violation("", finding.status, finding.kind, finding.message, finding.summary()))
    return out


def _judge(ctx: CheckContext, probe_name: str, check_id: str, expected: str) -> None:
    found = _violations(ctx, probe_name, check_id)
    if not found:
        return
    data = ctx.probes[probe_name].data
    stopped = f"; search stopped early: {data['stopped']}" if data.get("stopped") else ""
    shown = " || ".join(v.summary for v in found[:_SHOWN])
    more = f" (+{len(found) - _SHOWN} more)" if len(found) > _SHOWN else ""
    first = found[0]
    explicit = data.get("explicit")
    sent = f"{data.get('trials', '?')} sent" + (f", {explicit} of them explicit examples" if explicit else "")
    ctx.fail(
        f"{len(found)} distinct failure(s) among {sent}{stopped}; shrunk counterexample(s): {shown}{more}",
        expected=expected,
        actual=f"{first.status} ({first.kind}): {first.message}",
        exchange=next((ex for ex in ctx.exchanges(probe_name) if ex.label == first.label), None),
    )


@check(
    area="fuzz",
    level=Level.SHOULD,
    strict_level=Level.MUST,
    source="Schemathesis positive_data_acceptance; SPEC CreateChatCompletionRequest",
    probes=(_VALID,),
    rules=("N2", "REQ4", "REQ5", "V1", "V2", "V3", "TC7"),
    tolerate_transport_errors=True,
)
def fuzz_valid_payloads_accepted(ctx: CheckContext) -> None:
    """Generated schema-valid payloads within the profile are accepted (200; 402/404/429 say nothing)."""
    _judge(ctx, _VALID, VALID_ACCEPTED, "200")
    stats = ctx.probes[_VALID].data.get("stats", {})
    ctx.require(
        not isinstance(stats, dict) or not stats or stats.get("accepted", 0) > 0,
        "no generated valid payload was accepted",
        expected="at least one 200",
        actual=stats,
    )


@check(
    area="fuzz",
    level=Level.MUST,
    source="Schemathesis not_a_server_error; SPEC CreateChatCompletionResponse / StreamResponse",
    probes=(_VALID,),
    rules=("T4", "R1", "S2"),
    tolerate_transport_errors=True,
)
def fuzz_valid_payload_answers_conform(ctx: CheckContext) -> None:
    """Generated valid payloads never get a 5xx or no answer, and every 200 matches the tier's schema."""
    tier = ctx.profile.tier
    _judge(
        ctx, _VALID, VALID_CONFORM, f"a non-5xx answer; 200 bodies valid against openai/{tier}/chat-response"
    )


@check(
    area="fuzz",
    level=Level.MUST,
    source="Schemathesis negative_data_rejection, not_a_server_error; SPEC CreateChatCompletionRequest",
    probes=(_INVALID,),
    rules=("N1", "N3", "T4", "REQ1", "REQ2", "REQ3", "V4", "V5", "V6", "V7", "V8", "TC6", "E1", "E2"),
    tolerate_transport_errors=True,
)
def fuzz_invalid_payloads_rejected(ctx: CheckContext) -> None:
    """Generated invalid payloads get a 4xx with an error body in the profile's shape, never 5xx or 2xx."""
    _judge(
        ctx,
        _INVALID,
        INVALID_REJECTED,
        f"4xx with an error body in the profile's shape ({ctx.profile.error_shape})",
    )


@check(
    area="fuzz",
    level=Level.SHOULD,
    source="SPEC CreateChatCompletionRequest ranges and enums; catalogue REQ5, REQ6, REQ8, N4, V5",
    probes=(_INVALID,),
    rules=("REQ5", "REQ6", "REQ8", "REQ9", "N4", "V5"),
    tolerate_transport_errors=True,
)
def fuzz_lenient_payloads_rejected(ctx: CheckContext) -> None:
    """Payloads breaking SHOULD rules (ranges, roles, MIME mismatch, Content-Type) are refused with a 4xx."""
    _judge(ctx, _INVALID, LENIENT_REJECTED, "4xx")


@check(
    area="fuzz",
    level=Level.MUST,
    source="vLLM test_chat 'server should still work afterwards'",
    probes=(_INVALID,),
    rules=("REQ10",),
    tolerate_transport_errors=True,
)
def fuzz_server_survives_invalid_payloads(ctx: CheckContext) -> None:
    """After the invalid payloads (and right after any 5xx), a valid request is still answered 200."""
    _judge(ctx, _INVALID, SURVIVES, "200 for the valid follow-up request")
