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
    passed = [check for check, (outcome, _) in found.items() if outcome is Outcome.PASSED]
    assert not passed, f"passed on a bare {status}: {passed}"
    for check, (outcome, reason) in found.items():
        assert outcome is Outcome.SKIPPED, (check, outcome, reason)
        assert reason.startswith("not exercised") and str(status) in reason, (check, reason)
