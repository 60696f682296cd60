"""Property-based payloads (`certify --fuzz`): generated valid payloads are accepted, invalid ones refused.

Two probes each run a Hypothesis search through the run's client (budgets count every request,
shrinking included); the checks judge the shrunk counterexamples the probes found. Disabled unless
the run asks for fuzzing (RunConfig.options["fuzz"]).
"""

from __future__ import annotations

from chatcert.context import DEFAULT_MAX_TOKENS, CheckContext, ProbeContext
from chatcert.fuzz import properties
from chatcert.fuzz.findings import Finding
from chatcert.fuzz.verdicts import INVALID_REJECTED, LENIENT_REJECTED, SURVIVES, VALID_ACCEPTED, VALID_CONFORM
from chatcert.registry import Level, check, probe

_VALID = "fuzz_valid_payloads"
_INVALID = "fuzz_invalid_payloads"
_SHOWN = 3  # findings spelled out in a failure message


# The declared requests are the least a search sends: the real count depends on --max-examples and
# shrinking, and the budget stops a search cleanly wherever it runs out.
@probe(_VALID, requests=1, tokens=DEFAULT_MAX_TOKENS)
def fuzz_valid_payloads(ctx: ProbeContext) -> None:
    """Hypothesis-generated valid chat requests (shrunk on failure)."""
    properties.run_valid(ctx)


@probe(_INVALID, requests=2, tokens=DEFAULT_MAX_TOKENS)
def fuzz_invalid_payloads(ctx: ProbeContext) -> None:
    """Hypothesis-generated invalid chat requests, then a valid one (shrunk on failure)."""
    properties.run_invalid(ctx)


def _judge(ctx: CheckContext, probe_name: str, check_id: str, expected: str) -> None:
    data = ctx.probes[probe_name].data
    findings: list[Finding] = [f for f in data.get("findings", ()) if f.check == check_id]
    if not findings:
        return
    stopped = f"; search stopped early: {data['stopped']}" if data.get("stopped") else ""
    shown = " || ".join(f.summary() for f in findings[:_SHOWN])
    more = f" (+{len(findings) - _SHOWN} more)" if len(findings) > _SHOWN else ""
    first = findings[0]
    ctx.fail(
        f"{len(findings)} failing payload class(es) in {data.get('trials', 0)} payloads{stopped}; "
        f"smallest counterexample(s): {shown}{more}",
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
        stats.get("accepted", 0) > 0 or not stats,
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
    _judge(ctx, _INVALID, INVALID_REJECTED, f"4xx with a {ctx.profile.error_shape}-shaped error body")


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
