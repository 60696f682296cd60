"""Defects for the fuzz area: how a server answers generated payloads, edited after the fact."""

from __future__ import annotations

from chatcert.fuzz.findings import Expectation, Finding
from defects.fakes import Defect, Probes, body, each, status

D = Defect

_OK_BODY = {
    "id": "chatcmpl-x",
    "object": "chat.completion",
    "created": 1,
    "model": "m",
    "choices": [{"index": 0, "message": {"role": "assistant", "content": "hi"}, "finish_reason": "stop"}],
}


def _lenient_finding(probes: Probes) -> None:
    """The search found a SHOULD-rule payload (temperature 3) answered 200, with no exchange kept."""
    expectation = Expectation("rejected", "REQ6", "SHOULD", "out_of_range", "temperature above 2")
    probes["fuzz_invalid_payloads"].data.setdefault("findings", []).append(
        Finding(
            check="fuzz_lenient_payloads_rejected",
            key="out_of_range/accepted",
            kind="accepted",
            message="temperature 3 answered 200",
            label="",
            status=200,
            body='{"model":"m","messages":[{"role":"user","content":"a"}],"temperature":3,"max_tokens":1}',
            expectation=expectation,
        )
    )


FUZZ = [
    D("fuzz_valid_payloads_accepted", "valid_refused_400", each("fuzz_valid_payloads", status(400)), "400"),
    D(
        "fuzz_valid_payload_answers_conform",
        "valid_crashes_500",
        each("fuzz_valid_payloads", status(500)),
        "500",
    ),
    D(
        "fuzz_valid_payload_answers_conform",
        "answer_not_schema_valid",
        each("fuzz_valid_payloads", body({"id": 1, "object": "chat.completion"}, "application/json")),
        "schema",
    ),
    D(
        "fuzz_invalid_payloads_rejected",
        "invalid_crashes_500",
        each("fuzz_invalid_payloads", status(500)),
        "500",
    ),
    D(
        "fuzz_invalid_payloads_rejected",
        "invalid_accepted_200",
        each("fuzz_invalid_payloads", status(200), body(_OK_BODY, "application/json")),
        "200",
    ),
    D("fuzz_lenient_payloads_rejected", "temperature_3_accepted", _lenient_finding, "temperature 3"),
    D(
        "fuzz_server_survives_invalid_payloads",
        "follow_up_fails_503",
        each("fuzz_invalid_payloads", status(503)),
        "503",
    ),
]
