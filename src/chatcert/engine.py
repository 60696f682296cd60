"""Runs a certification: selects checks, sends each probe once within the budget, judges, emits events."""

from __future__ import annotations

import datetime as dt
import time
import traceback
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

from chatcert import __version__
from chatcert._models import Exchange, RequestSpec
from chatcert.budget import Budget, BudgetExhausted
from chatcert.client import Bounds, Client, Target, TooManyTransportFailures
from chatcert.completeness import incompleteness
from chatcert.context import CheckContext, ProbeContext, ProbeResult
from chatcert.diagnosis import Cause, diagnose
from chatcert.interrupt import Interrupted, acknowledge, exit_code_for, poll, shielded
from chatcert.outcomes import CheckResult, Outcome
from chatcert.profiles import Profile
from chatcert.registry import AREAS, Check, CheckFailure, CheckSkipped, Level, Probe, all_checks, all_probes

__all__ = [
    "Reporter",
    "Run",
    "RunConfig",
    "ordered_checks",
    "plan",
    "run_certification",
    "run_check",
    "start_run",
    "static_skip",
]


class Reporter(Protocol):
    def on_start(self, run: Run) -> None: ...
    def on_result(self, run: Run, result: CheckResult) -> None: ...
    def on_finish(self, run: Run) -> None: ...


@dataclass
class RunConfig:
    profile: Profile
    target: Target
    model: str | None = None
    target_is_mock: bool = False
    bounds: Bounds = field(default_factory=Bounds)
    budget: Budget = field(default_factory=Budget)
    areas: tuple[str, ...] = ()
    only: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    include_costly: bool = False
    strict: bool = False
    waivers: dict[str, str] = field(default_factory=dict)
    extra_checks: tuple[Check, ...] = ()
    # Exit 0 although MUST checks did not run (budget, stop, interruption); the verdict still says so.
    allow_incomplete: bool = False
    # Where the key came from, for the line that says it was refused (e.g. "environment variable X").
    key_source: str = ""
    # Options for probes that need more than the profile (e.g. fuzz: max_examples, seed, report_dir).
    options: dict[str, Any] = field(default_factory=dict)

    @property
    def model_name(self) -> str:
        return self.model or self.profile.model


@dataclass
class Run:
    config: RunConfig
    client: Client
    results: list[CheckResult] = field(default_factory=list)
    probes: dict[str, ProbeResult] = field(default_factory=dict)
    started_at: str = ""
    finished_at: str = ""
    stopped: str | None = None
    # The signal that cut the run short ("SIGINT", "SIGTERM"), or None for a run that finished.
    interrupted: str | None = None
    # Set when the free key check refused the key: the run stopped before any paid request.
    key_refused: str | None = None
    # Why the budget could not pay for a probe (the first time it could not), else None.
    budget_exhausted: str | None = None
    duration_s: float = 0.0
    artifacts: dict[str, str] = field(default_factory=dict)
    info: dict[str, Any] = field(default_factory=dict)
    # Root causes (chatcert.diagnosis), each named once; the results that follow carry `caused_by`.
    causes: list[Cause] = field(default_factory=list)
    # The last request abandoned at a time bound, until the next probe has waited for the server.
    abandoned: Exchange | None = None

    def counts(self) -> dict[str, int]:
        counts = {o.value: 0 for o in Outcome}
        for r in self.results:
            counts[r.outcome.value] += 1
        return counts

    @property
    def exit_code(self) -> int:
        if self.interrupted:
            return exit_code_for(self.interrupted)
        if any(r.outcome is Outcome.ERRORED and r.waived is None for r in self.results):
            return 3
        if self.stopped or any(r.blocking for r in self.results):
            return 1
        # A MUST check the run kept from running (budget, interruption, deadline) is missing evidence.
        if not self.config.allow_incomplete and incompleteness(self.results):
            return 1
        return 0

    @property
    def version(self) -> str:
        return __version__


def static_skip(check: Check, config: RunConfig, has_key: bool, probes: dict[str, Probe]) -> str | None:
    """Why a check cannot run here at all, or None."""
    profile = config.profile
    needed = set(check.requires)
    for name in check.probes:
        needed.update(probes[name].requires)
    for capability in sorted(needed):
        if not profile.claims_capability(capability):
            return f"capability not claimed: {capability}"
    for name in check.probes:
        for route in probes[name].routes:
            if profile.route(route) is None:
                return f"profile has no route: {route}"
    if (check.mock_only or any(probes[p].mock_only for p in check.probes)) and not config.target_is_mock:
        return "mock only: needs fault injection (run against the chatcert mock)"
    if (check.costly or any(probes[p].costly for p in check.probes)) and not config.include_costly:
        return "costly: run with --costly"
    if check.needs_key and not has_key:
        env = profile.key_env or "an API key variable"
        return f"needs an API key (set {env} and pass --api-key-env)"
    if check.applies is not None:
        reason = check.applies(profile)
        if reason:
            return reason
    return None


def selected(config: RunConfig) -> list[Check]:
    checks = [*all_checks(), *config.extra_checks]
    out = []
    for c in checks:
        if config.only and not any(
            c.id == o or (c.id.startswith(o.rstrip("*")) and o.endswith("*")) for o in config.only
        ):
            continue
        if config.areas and c.area not in config.areas:
            continue
        out.append(c)
    return out


def left_out(config: RunConfig) -> list[str]:
    """MUST/PROFILE checks that would run for this profile but --check/--area did not select: while
    one of a level's is left out, that level cannot be earned (its certificate would rest on part of
    its evidence)."""
    if not config.only and not config.areas:
        return []
    chosen = {c.id for c in selected(config)}
    probes = all_probes()
    has_key = bool(config.target.api_key)
    return [
        c.id
        for c in [*all_checks(), *config.extra_checks]
        if c.id not in chosen
        and _level(c, config) in (Level.MUST, Level.PROFILE)
        and _disabled_reason(c, config) is None
        and static_skip(c.for_profile(config.profile), config, has_key, probes) is None
    ]


def _order(checks: list[Check], probes: dict[str, Probe]) -> list[Check]:
    # Free checks (no tokens: models, auth check) run first so a spent budget never starves them.
    def key(c: Check) -> tuple[int, int]:
        free = all(probes[p].free or probes[p].tokens == 0 for p in c.probes)
        return (0 if free else 1, 0)

    return sorted(checks, key=key)


def plan(config: RunConfig, has_key: bool) -> list[tuple[Check, str | None, int, int]]:
    """For --dry-run: each selected check, its skip reason, and the requests and tokens it would send."""
    probes = all_probes()
    rows = []
    seen: set[str] = set()
    for c in _order(selected(config), probes):
        reason = _disabled_reason(c, config) or static_skip(c, config, has_key, probes)
        requests = tokens = 0
        if reason is None:
            for p in c.probes:
                if p not in seen:
                    seen.add(p)
                    cost = probes[p].cost(config.options)
                    requests += cost[0]
                    tokens += cost[1]
        rows.append((c, reason, requests, tokens))
    return rows


def _disabled_reason(check: Check, config: RunConfig) -> str | None:
    if check.area == "fuzz" and not config.options.get("fuzz"):
        return "fuzzing not requested (run with --fuzz)"
    if any(check.id == e or (e.endswith("*") and check.id.startswith(e[:-1])) for e in config.exclude):
        return "disabled by --exclude"
    return None


def _evidence(exchange: Exchange, redact: Callable[[str], str]) -> dict[str, Any]:
    body = exchange.request_body or b""
    request_excerpt = body[:600].decode("utf-8", errors="replace") + (
        f"... [{len(body)} bytes]" if len(body) > 600 else ""
    )
    return {
        "label": exchange.label,
        "request": {
            "method": exchange.method,
            "url": exchange.url,
            "headers": exchange.request_headers,
            "body_excerpt": redact(request_excerpt),
        },
        "response": {
            "status": exchange.status,
            "headers": {k: redact(v) for k, v in exchange.headers.items()},
            "body_excerpt": redact(exchange.excerpt(800)),
            "truncated": exchange.truncated,
            "bytes": len(exchange.body),
        },
        "error": redact(exchange.error) if exchange.error else None,
        "sse_errors": exchange.sse_errors[:5],
        "elapsed_ms": round(exchange.elapsed_s * 1000, 2),
    }


def start_run(config: RunConfig, client: Client | None = None) -> Run:
    """A run with its client, ready for run_check (the pytest plugin drives checks one by one)."""
    run = Run(config=config, client=client or Client(config.target, config.bounds, config.budget))
    run.started_at = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
    return run


def run_check(run: Run, c: Check) -> CheckResult:
    """Judge one check, sending the probes it needs that the run has not sent yet."""
    config = run.config
    result = _run_one(c, config, run, all_probes(), bool(config.target.api_key))
    if c.id in config.waivers and result.outcome in (Outcome.FAILED, Outcome.NON_STRICT, Outcome.ERRORED):
        result.waived = config.waivers[c.id]
    run.results.append(result)
    return result


def ordered_checks(config: RunConfig) -> list[Check]:
    return _order(selected(config), all_probes())


def run_certification(
    config: RunConfig, reporters: Iterable[Reporter] = (), client: Client | None = None
) -> Run:
    reporters = list(reporters)
    run = start_run(config, client)
    checks = ordered_checks(config)
    run.info["selected"] = len(checks)
    run.info["left_out"] = left_out(config)
    t0 = time.monotonic()
    try:
        for reporter in reporters:
            reporter.on_start(run)
        for c in checks:
            poll()
            result = run_check(run, c)
            for reporter in reporters:
                reporter.on_result(run, result)
        poll()  # a signal swallowed during the last check still stops the run as interrupted
    except Interrupted as exc:
        acknowledge()
        _mark_interrupted(run, checks, exc.signame)
    run.duration_s = time.monotonic() - t0
    # Checks run free-first; reports read better grouped by area, in the catalogue's order.
    order = {area: i for i, area in enumerate(AREAS)}
    run.results.sort(key=lambda r: order.get(r.area, len(order)))
    try:
        run.causes = diagnose(run)
    except Exception as exc:  # a diagnosis bug must not cost the run its reports; the results stand
        run.info["diagnosis_error"] = run.client.redactor.text(f"{type(exc).__name__}: {exc}")
    run.finished_at = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
    # A signal during writing must not cut the report in half (writing takes milliseconds): it is
    # held back and raised once the reports are complete.
    try:
        with shielded():
            for reporter in reporters:
                reporter.on_finish(run)
    except Interrupted:
        if not run.interrupted:
            raise
    return run


def _mark_interrupted(run: Run, checks: list[Check], signame: str) -> None:
    """Keep every result so far; each check that did not finish is `skipped: interrupted`."""
    run.interrupted = signame
    done = {r.id for r in run.results}
    for c in checks:
        if c.id not in done:
            reason = f"interrupted ({signame}) before this check finished"
            run.results.append(
                _result(
                    c.for_profile(run.config.profile), _level(c, run.config), Outcome.SKIPPED, reason=reason
                )
            )


def _result(c: Check, level: Level, outcome: Outcome, **kw: Any) -> CheckResult:
    return CheckResult(
        id=c.id,
        area=c.area,
        level=level.value,
        source=c.source,
        description=c.description,
        outcome=outcome,
        rules=list(c.rules),
        **kw,
    )


def _level(c: Check, config: RunConfig) -> Level:
    c = c.for_profile(config.profile)  # a level the profile's documentation sets, with its source
    return (
        Level.MUST
        if config.strict and c.level_for(config.profile) is Level.SHOULD
        else c.level_for(config.profile)
    )


def _run_one(c: Check, config: RunConfig, run: Run, probes: dict[str, Probe], has_key: bool) -> CheckResult:
    c = c.for_profile(config.profile)
    level = _level(c, config)
    disabled = _disabled_reason(c, config)
    if disabled:
        return _result(c, level, Outcome.DISABLED, reason=disabled)
    reason = static_skip(c, config, has_key, probes)
    if reason:
        return _result(c, level, Outcome.SKIPPED, reason=reason)
    if run.stopped:
        return _result(c, level, Outcome.SKIPPED, reason=f"stopped: {run.stopped}")
    start = time.monotonic()
    requests = tokens = 0
    for name in c.probes:
        if name not in run.probes:
            before_r, before_t = run.client.budget.requests_sent, run.client.budget.tokens_spent
            run.probes[name] = _send_probe(probes[name], config, run)
            run.probes[name].first_check = c.id
            requests += run.client.budget.requests_sent - before_r
            tokens += run.client.budget.tokens_spent - before_t
    blocked = [run.probes[n] for n in c.probes if run.probes[n].skipped or run.probes[n].error]
    used = [ex for n in c.probes for ex in run.probes[n].exchanges]
    evidence = [_evidence(ex, run.client.redactor.text) for ex in used]
    reproducer = next((ex.curl for ex in used), "")
    common = {"requests": requests, "tokens": tokens, "evidence": evidence, "reproducer": reproducer}
    for pr in blocked:
        if pr.skipped:
            return _result(
                c, level, Outcome.SKIPPED, reason=pr.skipped, duration_s=time.monotonic() - start, **common
            )
        return _result(
            c,
            level,
            Outcome.ERRORED,
            reason="probe broke",
            message=pr.error or "",
            duration_s=time.monotonic() - start,
            **common,
        )
    # A probe sent while the server was still busy: its transport failures are blamed on that.
    busy = next((str(run.probes[n].data["busy"]) for n in c.probes if run.probes[n].data.get("busy")), "")
    if not any(ex.error for ex in used):
        busy = ""
    if not c.tolerate_transport_errors:
        broken = next((ex for ex in used if ex.status is None), None)
        if broken is not None:
            # No answer is judged at the check's level: a SHOULD check that timed out is a warning.
            return _result(
                c,
                level,
                Outcome.NON_STRICT if level is Level.SHOULD else Outcome.FAILED,
                message=f"{busy}; " * bool(busy) + f"no HTTP response: {broken.error}",
                expected="an HTTP response",
                actual=broken.error or "",
                duration_s=time.monotonic() - start,
                **common,
            )
    ctx = CheckContext(
        profile=config.profile,
        model=config.model_name,
        probes=run.probes,
        has_key=has_key,
        target_is_mock=config.target_is_mock,
    )
    try:
        c.func(ctx)
    except CheckSkipped as skip:
        return _result(
            c, level, Outcome.SKIPPED, reason=skip.reason, duration_s=time.monotonic() - start, **common
        )
    except CheckFailure as failure:
        outcome = Outcome.NON_STRICT if level is Level.SHOULD else Outcome.FAILED
        if failure.exchange:
            chosen = next((ex for ex in used if ex.label == failure.exchange), None)
            if chosen is not None:
                common["reproducer"] = chosen.curl
        return _result(
            c,
            level,
            outcome,
            message=run.client.redactor.text(f"{busy}; " * bool(busy) + failure.message),
            expected=run.client.redactor.text(failure.expected),
            actual=run.client.redactor.text(failure.actual),
            duration_s=time.monotonic() - start,
            **common,
        )
    except Exception as exc:
        where = traceback.extract_tb(exc.__traceback__)[-1]
        return _result(
            c,
            level,
            Outcome.ERRORED,
            reason="check raised",
            message=run.client.redactor.text(f"{type(exc).__name__}: {exc} ({where.name}:{where.lineno})"),
            duration_s=time.monotonic() - start,
            **common,
        )
    return _result(c, level, Outcome.PASSED, duration_s=time.monotonic() - start, **common)


def _deadline_hit(exchanges: Iterable[Exchange]) -> Exchange | None:
    """The first exchange abandoned at a time bound: the server may still be working on it."""
    return next(
        (ex for ex in exchanges if ex.error and ("Timeout" in ex.error or "deadline" in ex.error)), None
    )


def _wait_until_idle(run: Run, after: Exchange) -> str:
    """After a request abandoned at its deadline, wait (one cheap GET, bounded by the request deadline)
    until the server answers again; '' when it did, else the note that blames the right request.

    A one-slot server (llama-cpp-python) keeps generating the abandoned answer; the next probe would
    wait behind it and be blamed for the delay. The models (or health) route is free and, on such a
    server, is served only once the slot is free.
    """
    route = run.config.profile.route("models") or run.config.profile.route("health")
    busy = f"server still busy with the previous request ({after.label!r} hit its deadline)"
    if route is None:
        return f"{busy}; the profile has no models or health route to wait on"
    spec = RequestSpec("GET", route, label="wait for the server after a deadline")
    try:
        probe_ex = run.client.send(spec)
    except (BudgetExhausted, TooManyTransportFailures):
        return busy
    waits = run.info.setdefault("idle_waits", [])
    waits.append({"after": after.label, "status": probe_ex.status, "waited_s": round(probe_ex.elapsed_s, 3)})
    if probe_ex.status is None:
        return f"{busy}; GET {route} got no answer either ({probe_ex.error})"
    return ""


def key_check_probe(config: RunConfig) -> str | None:
    """The free request that tells whether the configured key is accepted, or None (no key, no route).

    The profile's key-check route when it has one (seed 002: "without spending tokens"), else the models
    list sent with the key.
    """
    profile = config.profile
    if not config.target.api_key or profile.auth_scheme == "none":
        return None
    if profile.route("auth_check") and profile.claims_capability("auth_check"):
        return "auth_check_valid"
    if profile.route("models") and profile.claims_capability("models_list"):
        return "models_list"
    return None


def _key_gate(run: Run) -> None:
    """Before the first paid request: the free key check. A refused key stops the run right there."""
    if "key_checked" in run.info:
        return
    run.info["key_checked"] = True
    name = key_check_probe(run.config)
    if name is None:
        return
    probes = all_probes()
    if name not in run.probes:
        run.probes[name] = _send_probe(probes[name], run.config, run)
    refused = next((ex for ex in run.probes[name].exchanges if ex.status in (401, 403)), None)
    if refused is None:
        return
    source = run.config.key_source or "the configured key"
    route = run.config.profile.route(probes[name].routes[0]) or probes[name].routes[0]
    run.key_refused = (
        f"the key was refused: GET {route} answered {refused.status} to the key from {source}; "
        "no paid request was sent"
    )
    run.stopped = run.key_refused


def _send_probe(p: Probe, config: RunConfig, run: Run) -> ProbeResult:
    result = ProbeResult()
    if not p.free:
        _key_gate(run)
        if run.stopped:
            result.skipped = f"stopped: {run.stopped}"
            return result
    short = run.client.budget.shortfall(p.requests, p.tokens)  # the minimum; estimate() is the maximum
    if short:
        run.budget_exhausted = run.budget_exhausted or short
        result.skipped = f"budget: {short}"
        return result
    abandoned, run.abandoned = run.abandoned, None
    if abandoned is not None:
        note = _wait_until_idle(run, abandoned)
        if note:
            result.data["busy"] = note
    ctx = ProbeContext(
        options=config.options,
        profile=config.profile,
        model=config.model_name,
        client=run.client,
        target_is_mock=config.target_is_mock,
        result=result,
    )
    try:
        p.func(ctx)
    except BudgetExhausted as exc:
        run.budget_exhausted = run.budget_exhausted or str(exc)
        result.skipped = f"budget: {exc}"
    except TooManyTransportFailures as exc:
        run.stopped = str(exc)
        result.skipped = f"stopped: {exc}"
    except Exception as exc:
        result.error = run.client.redactor.text(f"{type(exc).__name__}: {exc}")
    hit = _deadline_hit(result.exchanges)
    if hit is not None:
        run.abandoned = hit
    return result
