"""Root causes: when one misconfiguration or one failed precondition explains many failures, name it once.

A run against a host that is down, a server that wants a key, a web page instead of an API or a base URL
with one `/v1` too many fails forty checks for one reason. `diagnose` recognises such run-level causes
from the exchanges behind the failing results, and the check-level ones a check declares itself
(`depends_on` in chatcert.registry: a follow-on of a failed precondition). Each dependent result keeps
its outcome (the run fails exactly as before) and carries `caused_by`: a cause id below, or the id of
the failed precondition check. Reports print each cause once, first, with its dependents folded under it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from chatcert._models import Exchange
from chatcert.outcomes import CheckResult, Outcome
from chatcert.registry import Check, all_checks

if TYPE_CHECKING:
    from chatcert.engine import Run

__all__ = ["CAUSES", "Cause", "body_problem", "diagnose"]

# Run-level causes, in the order they are tried on a failing result: the first whose symptom its
# exchanges show explains it (a doubled /v1 explains a 404 page better than "not an API" does).
CAUSES: dict[str, str] = {
    "unreachable_host": "no connection to the host",
    "base_url_ends_in_v1": "the base URL ends in /v1 and the routes add another",
    "auth_refused": "requests refused with 401/403",
    "not_an_api": "HTML or other non-JSON answers on the models or chat route",
    "non_stream_answered_as_sse": "requests without stream: true answered with server-sent events",
    "sse_framing_broken": "SSE streams framed so badly that their events do not parse",
    "unparseable_bodies": "JSON bodies cut short, followed by trailing data, or invalid",
    "deadlines_hit": "requests that got no (complete) answer within a deadline",
    "transport_failures": "repeated transport failures stopped the run",
}

# Results a cause can explain. An errored result stays on its own: the harness broke, not the server.
_FAILING = (Outcome.FAILED, Outcome.NON_STRICT)
# A precondition that did not hold; an errored precondition says nothing about the server.
_PRECONDITION_FAILED = (Outcome.FAILED, Outcome.NON_STRICT)
# Skip reasons of checks the run could not run because it stopped (see the shared conventions).
_NOT_RUN = ("stopped:", "run deadline")
_JUDGED_BY_TOLERANT = ("unparseable_bodies", "deadlines_hit")
_CONNECT = ("ConnectError", "ConnectTimeout")
_TIMEOUT = ("ReadTimeout", "WriteTimeout", "PoolTimeout", "TimeoutException")
# What names a web page: its title, else its first heading (nginx's welcome page has no title).
_TITLE = re.compile(rb"<title[^>]*>(.*?)</title>|<h1[^>]*>(.*?)</h1>", re.IGNORECASE | re.DOTALL)


@dataclass
class Cause:
    """One root cause: a stable id, a one-line message, and the checks whose results follow from it."""

    id: str
    kind: str  # "run": a misconfiguration or server-wide behaviour; "check": a failed precondition check
    message: str
    dependents: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "message": self.message,
            "dependents": list(self.dependents),
        }


# -- what one exchange shows ---------------------------------------------------------------------------------


def _connect_failed(ex: Exchange) -> bool:
    return ex.status is None and (ex.error or "").startswith(_CONNECT)


def _deadline_hit(ex: Exchange) -> bool:
    error = ex.error or ""
    if _connect_failed(ex):
        return False
    return error.startswith(_TIMEOUT) or "deadline" in error


def body_problem(ex: Exchange) -> str | None:
    """What is wrong with a body meant to be JSON: "html", "not JSON", "truncated", "trailing data",
    "invalid JSON", "sse framing" (stream events that do not parse because the framing is broken), or
    None (JSON, an SSE stream of JSON events, empty, or cut by chatcert's own bounds)."""
    if ex.status is None or ex.truncated:
        return None  # no answer, or one chatcert stopped reading: the deadline or byte cap owns it
    if ex.events:
        for event in ex.events:
            data = event.data.strip()
            if data and data != "[DONE]" and data[0] in "{[":
                problem = _json_problem(data)
                if problem:
                    # Events run together (no blank line between them) read as one event whose data
                    # holds several documents: the framing broke them, not the JSON.
                    run_together = problem == "trailing data" and "\n" in data  # data lines of 2 events
                    return "sse framing" if ex.sse_errors or run_together else problem
        return None
    text = ex.body.decode("utf-8", errors="replace").strip()
    if not text:
        return None
    if ex.media_type == "text/html" or text.startswith("<"):
        return "html"
    if text[0] not in "{[":
        return "not JSON" if _json_problem(text) else None
    return _json_problem(text)


def _json_problem(text: str) -> str | None:
    try:
        json.loads(text)
    except RecursionError:
        return None  # deeply nested but well-formed enough: the checks judge it
    except json.JSONDecodeError as exc:
        if exc.msg == "Extra data":
            return "trailing data"
        if exc.pos >= len(text) or exc.msg.startswith("Unterminated"):  # ran out of input
            return "truncated"
        return "invalid JSON"
    return None


def _ok(ex: Exchange) -> bool:
    return ex.status is not None and 200 <= ex.status < 300


def _asked_json(ex: Exchange) -> bool:
    # The client asks for text/event-stream exactly when the request streams.
    return ex.request_headers.get("Accept") == "application/json" and ex.method == "POST"


def _is_sse(ex: Exchange) -> bool:
    return ex.media_type == "text/event-stream" or ex.body.lstrip().startswith(b"data:")


def _path(ex: Exchange) -> str:
    return _url_path(ex.url)


def _url_path(url: str) -> str:
    # Not urlsplit: a redacted URL ("http://[REDACTED]@host/...") is no valid netloc to it.
    rest = url.split("://", 1)[-1]
    slash = rest.find("/")
    return rest[slash:].split("?", 1)[0].split("#", 1)[0] if slash >= 0 else "/"


# -- the run -------------------------------------------------------------------------------------------------


@dataclass
class _Symptom:
    cause: str
    shows: Callable[[Exchange], bool]
    message: Callable[[list[CheckResult]], str]


def diagnose(run: Run) -> list[Cause]:
    """Name the run's root causes and set `caused_by` on the results that follow from them."""
    results = run.results
    checks = {c.id: c for c in [*all_checks(), *run.config.extra_checks]}
    sent = list(run.client.requests)
    symptoms = _symptoms(run, sent)
    dependents: dict[str, list[CheckResult]] = {}
    for result in results:
        if result.outcome not in _FAILING or result.caused_by:
            continue
        check = checks.get(result.id)
        exchanges = _exchanges(run, check)
        for symptom in symptoms:
            # A check that judges transport failures itself (fuzzing: a hang is a finding) owns them.
            if check and check.tolerate_transport_errors and symptom.cause in _JUDGED_BY_TOLERANT:
                continue
            if any(symptom.shows(ex) for ex in exchanges):
                result.caused_by = symptom.cause
                dependents.setdefault(symptom.cause, []).append(result)
                break
    stop = _stop_cause(run, sent)
    if stop is not None:
        for result in results:
            if (
                result.outcome is Outcome.SKIPPED
                and result.reason.startswith(_NOT_RUN)
                and not result.caused_by
            ):
                result.caused_by = stop
                dependents.setdefault(stop, []).append(result)
    folded = _fold_preconditions(results, checks)
    by_id = {r.id: r for r in results}
    for root, ids in folded.items():
        if root in CAUSES:  # the precondition itself followed from a run-level cause
            dependents.setdefault(root, []).extend(by_id[i] for i in ids)
    messages = {s.cause: s.message for s in symptoms}
    messages["transport_failures"] = lambda deps: _transport_message(run, deps)
    if run.key_refused and "auth_refused" not in messages:
        refusal = run.key_refused
        messages["auth_refused"] = lambda deps: f"authentication refused: {refusal}"
    causes = []
    for cause_id, summary in CAUSES.items():
        if cause_id in dependents:
            deps = dependents[cause_id]
            message = messages[cause_id](deps) if cause_id in messages else summary
            causes.append(Cause(cause_id, "run", message, [r.id for r in deps]))
    position = {r.id: i for i, r in enumerate(results)}
    for root, ids in sorted(folded.items(), key=lambda item: position.get(item[0], 0)):
        if root not in CAUSES and root in by_id:
            pre = by_id[root]
            message = (
                f"{pre.message or pre.reason} ({pre.level} check {pre.outcome.value}; checks depend on it)"
            )
            causes.append(Cause(root, "check", message, ids))
    return causes


def _exchanges(run: Run, check: Check | None) -> list[Exchange]:
    if check is None:
        return []
    return [ex for name in check.probes if name in run.probes for ex in run.probes[name].exchanges]


def _route_paths(run: Run, *names: str) -> list[str]:
    out = []
    for name in names:
        route = run.config.profile.route(name)
        if route and not route.startswith(("http://", "https://")):
            out.append(route.split("?", 1)[0])
    return out


def _symptoms(run: Run, sent: list[Exchange]) -> list[_Symptom]:
    """The run-level causes whose run-wide condition holds, each with its per-exchange symptom."""
    found: list[_Symptom] = []
    api_paths = _route_paths(run, "models", "chat")

    def on_api_route(ex: Exchange) -> bool:
        path = _path(ex)
        return any(path.endswith(p) for p in api_paths)

    if any(_connect_failed(ex) for ex in sent):
        found.append(_Symptom("unreachable_host", _connect_failed, lambda d: _unreachable_message(run, sent)))

    base_path = _url_path(run.config.target.base_url).rstrip("/")
    if base_path.endswith("/v1") and any(p.startswith("/v1/") for p in api_paths):
        doubled = base_path + "/v1/"

        # Every route then lives under the wrong prefix (/v1/v1/models, but also /v1/health).
        def v1_shows(ex: Exchange) -> bool:
            return ex.status is not None and ex.status >= 400 and _path(ex).startswith(base_path + "/")

        doubled_answers = [ex for ex in sent if v1_shows(ex) and _path(ex).startswith(doubled)]
        if doubled_answers:
            message = _v1_message(run, doubled_answers[0])
            found.append(_Symptom("base_url_ends_in_v1", v1_shows, lambda d: message))

    answered = [ex for ex in sent if ex.status is not None]
    refused = [ex for ex in answered if ex.status in (401, 403)]
    succeeded = [ex for ex in answered if _ok(ex) and on_api_route(ex)]
    # "Every request": no model or chat request got through and (nearly) all answers were 401/403; the
    # few others are answers to requests no server authenticates first (e.g. an unsupported method).
    if len(refused) >= 2 and not succeeded and len(refused) >= 0.8 * len(answered):
        found.append(
            _Symptom(
                "auth_refused",
                lambda ex: ex.status in (401, 403),
                lambda d: _auth_message(run, len(refused), len(answered)),
            )
        )

    # Judged on the successful answers: an API whose error pages are HTML is still an API (its error
    # checks say so); only when nothing succeeded do the error answers decide.
    api_answers = [ex for ex in answered if on_api_route(ex) and _ok(ex)] or [
        ex for ex in answered if on_api_route(ex)
    ]
    pages = [ex for ex in api_answers if body_problem(ex) in ("html", "not JSON")]
    if pages and 2 * len(pages) > len(api_answers):
        found.append(
            _Symptom(
                "not_an_api",
                lambda ex: body_problem(ex) in ("html", "not JSON"),
                lambda d: _not_api_message(pages, len(api_answers), _ok(api_answers[0])),
            )
        )

    json_asked = [ex for ex in answered if _asked_json(ex) and on_api_route(ex) and _ok(ex)]
    streamed = [ex for ex in json_asked if _is_sse(ex)]
    if streamed and 2 * len(streamed) > len(json_asked):
        found.append(
            _Symptom(
                "non_stream_answered_as_sse",
                lambda ex: _asked_json(ex) and _is_sse(ex),
                lambda d: (
                    f"non-stream requests answered as SSE: {len(streamed)} of {len(json_asked)} "
                    "successful answers to requests without stream: true came as server-sent events"
                ),
            )
        )

    framed = [ex for ex in sent if body_problem(ex) == "sse framing"]
    if framed:
        found.append(
            _Symptom(
                "sse_framing_broken",
                lambda ex: body_problem(ex) == "sse framing",
                lambda d: (
                    f"broken SSE framing: {len(framed)} stream(s) "
                    f"({(framed[0].sse_errors or ['events not separated by a blank line'])[0]}), so their "
                    "events run together and do not parse"
                ),
            )
        )
    found.append(
        _Symptom(
            "unparseable_bodies",
            lambda ex: body_problem(ex) in ("truncated", "trailing data", "invalid JSON"),
            lambda d: _unparseable_message(sent),
        )
    )
    found.append(_Symptom("deadlines_hit", _deadline_hit, lambda d: _deadline_message(run, sent, d)))
    return found


def _stop_cause(run: Run, sent: list[Exchange]) -> str | None:
    """Which cause made the run stop early (checks then skipped `stopped: ...`), if it stopped."""
    if not run.stopped:
        return None
    if run.key_refused:  # the free key check refused the key: the run stopped before any paid request
        return "auth_refused"
    if "deadline" in run.stopped:
        return "deadlines_hit"
    last = next((ex for ex in reversed(sent) if ex.error), None)
    if last is None:
        return "transport_failures"
    if _connect_failed(last):
        return "unreachable_host"
    if _deadline_hit(last):
        return "deadlines_hit"
    return "transport_failures"


# -- messages: one line each, saying what to do ------------------------------------------------------------


def _host(run: Run) -> str:
    rest = run.config.target.base_url.split("://", 1)[-1]
    return rest.split("/", 1)[0].rsplit("@", 1)[-1] or run.config.target.base_url


def _unreachable_message(run: Run, sent: list[Exchange]) -> str:
    failed = [ex for ex in sent if _connect_failed(ex)]
    error = run.client.redactor.text(failed[0].error or "") if failed else "no connection"
    answered = sum(ex.status is not None for ex in sent)
    if answered:
        return (
            f"host became unreachable: {_host(run)} refused {len(failed)} connection(s) after answering "
            f"{answered} request(s) ({error}); did the server stop?"
        )
    return (
        f"host unreachable: no connection to {_host(run)} ({error}); is the server running and "
        "--endpoint right?"
    )


def _v1_message(run: Run, first: Exchange) -> str:
    base = run.client.redactor.url(run.config.target.base_url).rstrip("/")
    suggestion = base[: -len("/v1")]
    return (
        f"the endpoint ends in /v1 and the profile's routes start with /v1: requests went to "
        f"{_path(first)} ({first.status}); drop /v1: --endpoint {suggestion}"
    )


def _auth_message(run: Run, refused: int, answered: int) -> str:
    options = run.config.options
    variable = options.get("api_key_env") or run.config.profile.key_env
    if run.config.target.api_key:
        if options.get("api_key_file"):
            hint = "the key from --api-key-file was refused"
        elif variable:
            hint = f"the key from {variable} was refused: check its value"
        else:
            hint = "the API key was refused"
    elif variable:
        hint = f"no API key was sent: set {variable} (the profile's key variable) or pass --api-key-env VAR"
    else:
        hint = "no API key was sent: pass --api-key-env VAR or --api-key-file PATH"
    every = "every request" if refused == answered else f"{refused} of {answered} answered requests"
    return f"authentication refused: {every} got 401/403 and none got through; {hint}"


def _not_api_message(pages: list[Exchange], answers: int, successful: bool) -> str:
    first = pages[0]
    kind = first.media_type or "no content type"
    title = _TITLE.search(first.body[:4096])
    name = (title.group(1) or title.group(2) or b"") if title else b""
    text = re.sub(r"<[^>]+>|\s+", " ", name.decode("utf-8", "replace")).strip()[:60]
    shown = f' "{text}"' if text else ""
    return (
        f"not an API: {first.method} {_path(first)} answered {first.status} {kind}{shown} instead of JSON "
        f"({len(pages)} of {answers} {'successful ' if successful else ''}answers on the models and chat "
        "routes are not JSON); is --endpoint "
        "the API's base URL?"
    )


def _unparseable_message(sent: list[Exchange]) -> str:
    kinds: dict[str, int] = {}
    for ex in sent:
        problem = body_problem(ex)
        if problem in ("truncated", "trailing data", "invalid JSON"):
            kinds[problem] = kinds.get(problem, 0) + 1
    words = {
        "truncated": "cut short",
        "trailing data": "followed by trailing data after the JSON document",
        "invalid JSON": "invalid JSON",
    }
    parts = ", ".join(f"{n} {words[k]}" for k, n in kinds.items())
    return f"unparseable bodies: {sum(kinds.values())} response(s) are not one whole JSON document ({parts})"


def _deadline_message(run: Run, sent: list[Exchange], deps: list[CheckResult]) -> str:
    bounds = run.config.bounds
    hit = [ex for ex in sent if _deadline_hit(ex)]
    text = (
        f"deadlines hit: {len(hit)} request(s) got no complete answer in time "
        f"(--timeout {bounds.deadline_s:g}s, --stall-timeout {bounds.stall_s:g}s)"
    )
    if hit:
        text += f", e.g. {hit[0].label}: {run.client.redactor.text(hit[0].error or '')}"
    if run.stopped and "deadline" in run.stopped:
        text += f"; the run's total deadline (--run-timeout {bounds.run_deadline_s:g}s) passed"
    not_run = sum(r.outcome is Outcome.SKIPPED for r in deps)
    if not_run:
        text += f"; {not_run} check(s) not run"
    return text


def _transport_message(run: Run, deps: list[CheckResult]) -> str:
    last = next((ex for ex in reversed(run.client.requests) if ex.error), None)
    error = run.client.redactor.text(last.error or "") if last else ""
    not_run = sum(r.outcome is Outcome.SKIPPED for r in deps)
    return f"transport failures: {run.stopped} ({error}); {not_run} check(s) not run"


# -- failed preconditions -----------------------------------------------------------------------------------


def _fold_preconditions(results: Iterable[CheckResult], checks: Mapping[str, Check]) -> dict[str, list[str]]:
    """Fold each failure under the failed precondition its check depends on (the root of a chain, or the
    run-level cause that precondition followed from); returns root -> dependent check ids."""
    by_id = {r.id: r for r in results}

    def root(check_id: str, seen: frozenset[str]) -> str | None:
        check = checks.get(check_id)
        for dep in check.depends_on if check else ():
            pre = by_id.get(dep)
            if pre is None or pre.outcome not in _PRECONDITION_FAILED or dep in seen:
                continue
            return pre.caused_by or root(dep, seen | {dep}) or dep
        return None

    folded: dict[str, list[str]] = {}
    for result in by_id.values():
        if result.outcome in _FAILING and not result.caused_by:
            cause = root(result.id, frozenset({result.id}))
            if cause:
                folded.setdefault(cause, []).append(result.id)
    for cause, ids in folded.items():
        for check_id in ids:
            by_id[check_id].caused_by = cause
    return folded
