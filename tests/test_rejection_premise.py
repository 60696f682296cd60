"""A rejection check passes only on a rejection of the request's content.

A wrong base URL answers every probe 404, a rate limit 429, a payment wall 402: each is a 4xx, and none
says the server refused the invalid field the probe sent. Those checks end `skipped: not exercised`
(never `passed`), with the status in the reason; the same checks pass against the conformant mock.
"""

from __future__ import annotations

import re

import pytest
from pytest_httpserver import HTTPServer

from chatcert.client import Target
from chatcert.engine import RunConfig, run_certification
from chatcert.outcomes import Outcome
from chatcert.profiles import load_profile
from chatcert.wire.cases import load_cases
from mock_server.runner import MockServer

# Every rejection case (any 4xx expected), plus code-built rejection checks of the request area.
REJECTIONS = (*(c.check for c in load_cases() if c.rejects and c.status == "4xx"), "malformed_json_rejected")


def _certify(url: str) -> dict[str, tuple[Outcome, str]]:
    profile = load_profile("openai")
    config = RunConfig(
        profile=profile, target=Target(url, "none", None), target_is_mock=True, only=REJECTIONS
    )
    run = run_certification(config)
    return {r.id: (r.outcome, r.reason) for r in run.results}


def test_rejection_checks_pass_on_the_conformant_mock() -> None:
    with MockServer("openai") as server:
        found = _certify(server.url)
    assert set(found) == set(REJECTIONS)
    assert {outcome for outcome, _ in found.values()} == {Outcome.PASSED}


@pytest.mark.parametrize(("status", "body"), [(404, {"detail": "Not Found"}), (429, {"error": "slow down"})])
def test_a_4xx_that_refuses_before_the_content_is_not_a_pass(
    httpserver: HTTPServer, status: int, body: dict[str, str]
) -> None:
    httpserver.expect_request(re.compile(".*")).respond_with_json(body, status=status)
    found = _certify(httpserver.url_for("/"))
    assert set(found) == set(REJECTIONS)
    # A case may name such a status as a content answer (a request without model -> 404 "model not
    # found"): there it is the rejection under test.
    content = {c.check for c in load_cases() if status in c.content_statuses}
    assert content <= {"missing_model_rejected"}
    for check, (outcome, reason) in found.items():
        if check in content:
            assert outcome is Outcome.PASSED, (check, outcome, reason)
            continue
        assert outcome is Outcome.SKIPPED, (check, outcome, reason)
        assert reason.startswith("not exercised") and str(status) in reason, (check, reason)
    assert sum(outcome is Outcome.PASSED for outcome, _ in found.values()) == len(content)


def test_a_model_not_found_answers_a_request_without_model(httpserver: HTTPServer) -> None:
    """404 to a request without model is that request's rejection (vLLM answers an unknown model so)."""
    httpserver.expect_request(re.compile(".*")).respond_with_json(
        {"error": {"message": "The model `` does not exist.", "code": 404}}, status=404
    )
    found = _certify(httpserver.url_for("/"))
    assert found["missing_model_rejected"][0] is Outcome.PASSED
