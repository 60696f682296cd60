"""The two fuzz probes' bodies: search valid and invalid payloads, then hand findings to the checks.

Each probe first sends its explicit examples (one per valid-payload feature, one per invalid-payload
class and corpus case), then the Hypothesis search. Failures are told apart by how they fail, not by
which example failed: an invalid payload by (catalogue rule, verdict), e.g. `REQ2/server_error`, a
valid one by (verdict, status). So one defect hit by several classes or many examples is one finding
with one shrunk counterexample, which names the other classes that failed the same way.

Every request goes through `ProbeContext.send`, so the run's budget counts each one, shrinking
included. The probe keeps only a few exchanges (the first two, each finding's, the follow-ups), not
the hundreds a search sends, and records in `ctx.result.data` why each was sent (`roles`, so the
checks can judge it again), the findings, counters and why the search stopped. Each failing payload
is also saved as a replay file under `{report_dir}/failures/`.
"""

from __future__ import annotations

import copy
import itertools
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from chatcert._models import Exchange, RequestSpec
from chatcert.budget import BudgetExhausted
from chatcert.client import TooManyTransportFailures
from chatcert.context import ProbeContext
from chatcert.fuzz import invalid, replay, valid
from chatcert.fuzz.findings import Expectation, Finding, Role, body_preview
from chatcert.fuzz.invalid import InvalidCase
from chatcert.fuzz.rules import PayloadRules
from chatcert.fuzz.search import Failure, SearchConfig, SearchResult, run_search
from chatcert.fuzz.verdicts import (
    INVALID_REJECTED,
    LENIENT_REJECTED,
    SURVIVES,
    VALID_ACCEPTED,
    VALID_CONFORM,
    Verdict,
    check_for,
    judge_follow_up,
    judge_invalid,
    judge_valid,
)

__all__ = ["MOST_FOLLOW_UPS", "run_invalid", "run_valid"]

_KEEP_SAMPLES = 2  # exchanges kept as evidence besides the findings'
_MID_SEARCH_FOLLOW_UPS = 3  # valid requests sent right after a 5xx or a dropped connection
MOST_FOLLOW_UPS = _MID_SEARCH_FOLLOW_UPS + 1  # and one after the whole search
_VALID_EXPECTATIONS = {
    "rejected": Expectation("accepted", "N2", "SHOULD", "valid", "a schema-valid payload is accepted"),
    "schema": Expectation("accepted", "R1", "MUST", "valid", "a 200 answer matches the tier's schema"),
    "server_error": Expectation("accepted", "T4", "MUST", "valid", "a valid payload never gets a 5xx"),
    "no_response": Expectation("accepted", "T4", "MUST", "valid", "a valid payload is answered"),
}


@dataclass
class _Run:
    """One probe's bookkeeping: counters, roles of the exchanges sent, findings, replay files."""

    ctx: ProbeContext
    checks: tuple[str, ...]
    config: SearchConfig = field(init=False)
    rules: PayloadRules = field(init=False)
    route: str = field(init=False)
    stats: Counter[str] = field(default_factory=Counter)
    roles: dict[str, Role] = field(default_factory=dict)
    findings: list[Finding] = field(default_factory=list)
    numbers: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    written: Counter[str] = field(default_factory=Counter)
    # Per failure key: how many payloads failed that way, and the classes they belonged to.
    failing: Counter[str] = field(default_factory=Counter)
    classes: dict[str, list[str]] = field(default_factory=dict)

    def failed(self, key: str, kind: str) -> None:
        self.failing[key] += 1
        seen = self.classes.setdefault(key, [])
        if kind not in seen:
            seen.append(kind)

    def __post_init__(self) -> None:
        self.config = SearchConfig.from_options(self.ctx.options)
        self.rules = PayloadRules.of(self.ctx.profile, self.ctx.model)
        self.route = self.ctx.route("chat")
        folder = self.failures_dir
        if folder is not None and folder.is_dir():
            replay.clear_failures(folder, self.checks)

    @property
    def failures_dir(self) -> Path | None:
        report_dir = self.ctx.options.get("report_dir")
        return Path(str(report_dir)) / "failures" if report_dir else None

    def add(
        self,
        verdict: Verdict,
        shown: Exchange | None,
        payload: Exchange,
        expectation: Expectation,
        role: Role | None = None,
        key: str | None = None,
    ) -> None:
        """Record a finding: `shown` is the exchange that fails (None: none was sent), `payload` the
        request to save (a survival failure shows on the follow-up, but the culprit is replayed)."""
        role = role or self.roles[shown.label if shown is not None else payload.label]
        check = check_for(role, verdict)
        key = key or f"{expectation.rule}/{verdict.kind}"
        finding = Finding(
            check=check,
            key=key,
            kind=verdict.kind,
            message=verdict.message,
            label=shown.label if shown is not None else "",
            status=shown.status if shown is not None else None,
            body=body_preview(payload.request_body, 400),
            expectation=expectation,
            count=max(1, self.failing[key]),
            also=tuple(k for k in self.classes.get(key, ()) if k != expectation.kind),
        )
        folder = self.failures_dir
        if folder is not None:
            self.written[check] += 1
            doc = replay.build(
                check=check,
                profile=self.ctx.profile,
                model=self.ctx.model,
                exchange=payload,
                route=self.route,
                route_name="chat",
                expectation=expectation,
                verdict=verdict,
                stream=self.roles[payload.label].stream,
            )
            observed = shown or payload
            doc["observed"].update(
                status=shown.status if shown else None,
                error=observed.error if shown else verdict.message,
                body_excerpt=observed.excerpt(800) if shown else "",
            )
            path = replay.write(folder, check, self.written[check], doc, self.ctx.client.redactor)
            finding.replay_file = str(path)
        self.findings.append(finding)

    def finish(self, result: SearchResult[Any], extra: list[Exchange]) -> None:
        """Store what the checks judge; when empty-handed, skip (budget) or stop the run (client gave up)."""
        kept = {f.label for f in self.findings} | {e.label for e in extra}
        exchanges = self.ctx.result.exchanges
        chosen = exchanges[:_KEEP_SAMPLES] + [e for e in exchanges[_KEEP_SAMPLES:] if e.label in kept]
        self.ctx.result.exchanges = chosen
        self.ctx.result.data.update(
            trials=result.trials,
            explicit=result.explicit,
            stats=dict(self.stats),
            stopped=result.stopped,
            findings=self.findings,
            roles={e.label: self.roles[e.label] for e in chosen if e.label in self.roles},
            max_examples=self.config.max_examples,
            seed=self.config.seed,
        )
        if self.findings:
            return
        if result.budget_spent:
            self.ctx.result.skipped = (
                f"budget: {result.trials} payload(s) sent, no failure found ({result.stopped})"
            )
        elif result.client_stopped:
            # Nothing found and the client gave up: let the engine stop the run, as for any probe.
            raise TooManyTransportFailures(str(result.stopped).removeprefix("stopped: "))


_VALID_ROLE = Expectation("accepted", "N2", "SHOULD", "valid", "a schema-valid payload is accepted")


def run_valid(ctx: ProbeContext) -> None:
    """Send generated valid payloads; each must be answered 200 with a schema-valid answer."""
    run = _Run(ctx, (VALID_ACCEPTED, VALID_CONFORM))
    verdicts: dict[str, Verdict] = {}

    def trial(body: dict[str, Any]) -> Failure | None:
        body = copy.deepcopy(body)  # the client lowers max_tokens in place when the budget is short
        stream = body.get("stream") is True
        label = f"fuzz valid #{next(run.numbers)}"
        run.roles[label] = Role("accepted", _VALID_ROLE, stream)
        ex = ctx.chat(body, label=label, stream=stream)
        verdict = judge_valid(ctx.profile, ex, stream=stream)
        run.stats[verdict.kind] += 1
        if verdict.holds:
            return None
        verdicts[label] = verdict
        key = f"{verdict.kind}:{ex.status}"
        run.failed(key, "valid")
        return Failure(key, verdict.message, ex)

    explicit = [body for _, body in valid.explicit_requests(run.rules)]
    result = run_search(valid.requests(run.rules), trial, run.config, ctx.client.budget, explicit=explicit)
    for key, failure in result.failures.items():
        verdict = verdicts[failure.exchange.label]
        run.add(verdict, failure.exchange, failure.exchange, _VALID_EXPECTATIONS[verdict.kind], key=key)
    run.finish(result, [])


def _expectation(case: InvalidCase) -> Expectation:
    return Expectation("rejected", case.rule, case.level, case.kind, case.description)


def _survival(case: InvalidCase) -> Expectation:
    return Expectation(
        "survives", "REQ10", "MUST", case.kind, f"the server still answers after: {case.description}"
    )


def run_invalid(ctx: ProbeContext) -> None:
    """Send generated invalid payloads (each must get a 4xx in the profile's error shape), then a valid one.

    A valid request also follows right after a 5xx or a dropped connection (a few times at most).
    """
    run = _Run(ctx, (INVALID_REJECTED, LENIENT_REJECTED, SURVIVES))
    judged: dict[str, tuple[Verdict, InvalidCase]] = {}
    follow_ups: list[Exchange] = []
    last: list[tuple[InvalidCase, Exchange]] = []

    def follow_up(label: str, case: InvalidCase) -> Exchange:
        run.roles[label] = Role("follow_up", _survival(case))
        ex = ctx.chat(valid.minimal_request(run.rules), label=label)
        follow_ups.append(ex)
        return ex

    def trial(case: InvalidCase) -> Failure | None:
        number = next(run.numbers)
        label = f"fuzz invalid #{number} ({case.kind})"
        run.roles[label] = Role("rejected", _expectation(case))
        spec = RequestSpec(
            "POST", run.route, raw_body=case.body, headers={"Content-Type": case.content_type}, label=label
        )
        ex = ctx.send(spec)
        last[:] = [(case, ex)]
        verdict = judge_invalid(ctx.profile, ex)
        run.stats[verdict.kind] += 1
        if verdict.holds:
            return None
        if verdict.kind in ("server_error", "no_response") and _can_follow_up(run, follow_ups):
            after = follow_up(f"fuzz valid request after invalid #{number}", case)
            answer = judge_follow_up(after)
            if not answer.holds:
                run.add(answer, after, ex, _survival(case))
        judged[label] = (verdict, case)
        # One defect, one finding: keyed by the rule broken and how, not by the class of payload.
        key = f"{case.rule}/{verdict.kind}"
        run.failed(key, case.kind)
        return Failure(key, verdict.message, ex)

    result = run_search(
        invalid.cases(run.rules),
        trial,
        run.config,
        ctx.client.budget,
        reserve=1,
        explicit=invalid.explicit_cases(run.rules),
    )
    for key, failure in result.failures.items():
        verdict, case = judged[failure.exchange.label]
        run.add(verdict, failure.exchange, failure.exchange, _expectation(case), key=key)
    if last and not any(f.check == SURVIVES for f in run.findings):
        _final_follow_up(run, result, follow_up, last[0])
    run.finish(result, follow_ups)


def _can_follow_up(run: _Run, sent: list[Exchange]) -> bool:
    """A few follow-ups, none once the server is known not to survive, one request kept in reserve."""
    if len(sent) >= _MID_SEARCH_FOLLOW_UPS or any(f.check == SURVIVES for f in run.findings):
        return False
    budget = run.ctx.client.budget
    return not budget.limited or budget.can_afford(2, 1)


def _final_follow_up(
    run: _Run, result: SearchResult[Any], follow_up: Any, last: tuple[InvalidCase, Exchange]
) -> None:
    """One valid request after the whole search; the payload saved with a failure is the last one sent."""
    case, culprit = last
    if run.ctx.client.remaining_run_s() <= 0:
        run.ctx.result.data["follow_up"] = "not sent: the run's deadline has passed"
        return
    try:
        after: Exchange = follow_up(f"fuzz valid request after {result.trials} invalid payloads", case)
    except BudgetExhausted as exc:
        run.ctx.result.data["follow_up"] = f"not sent: budget: {exc}"
        return
    except TooManyTransportFailures as exc:
        # No exchange to show: the finding rests on the culprit and the client's verdict.
        verdict = Verdict(False, "down", f"the server stopped answering: {exc}")
        run.add(verdict, None, culprit, _survival(case), Role("follow_up", _survival(case)))
        return
    answer = judge_follow_up(after)
    run.ctx.result.data["follow_up"] = answer.message
    if not answer.holds:
        run.add(answer, after, culprit, _survival(case))
