"""Fleets: many endpoints (or a gateway's many models) certified in parallel, one report folder each.

A fleet file (schema `harness/fleet`) lists entries `{endpoint, profile, model, key_env, ...}`. It is
read and checked whole before anything is sent: a bad file, an unknown profile or an unset key variable
is the user's error (UsageError, exit 2), never a half-run fleet. An entry with `models` counts once per
model; `models: all` asks the endpoint's models route which there are.

This module is core library: it never starts the embedded mock itself. Whoever runs a fleet (the CLI,
the pytest plugin) passes an `opener` that turns an entry into a reachable target for the duration
(`chatcert.targets.open_entry`).
"""

from __future__ import annotations

import json
import os
import re
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from contextlib import AbstractContextManager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit

import yaml

from chatcert._models import RequestSpec
from chatcert._redact import Redactor
from chatcert._schemas import schema_errors
from chatcert.budget import Budget
from chatcert.client import Bounds, Client, Target
from chatcert.engine import Run, RunConfig, plan, run_certification
from chatcert.errors import ChatcertError, UsageError
from chatcert.interrupt import Interrupted, exit_code_for
from chatcert.keys import key_origin, load_api_key
from chatcert.outcomes import CheckResult
from chatcert.profiles import Profile, load_profile
from chatcert.registry import all_checks, all_probes
from chatcert.reporting.files import FileReporter

__all__ = [
    "EntryOutcome",
    "FleetEntry",
    "FleetResult",
    "FleetSettings",
    "Resolved",
    "default_jobs",
    "expand_models",
    "fleet_redactor",
    "load_fleet",
    "plan_entry",
    "run_fleet",
]

FLEET_SCHEMA_ID = "harness/fleet"
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass(frozen=True)
class FleetEntry:
    """One row of the matrix: a target, its profile and model, and where its key comes from."""

    name: str
    profile: Profile
    endpoint: str | None = None
    model: str | None = None
    key_env: str | None = None
    max_requests: int | None = None
    max_tokens: int | None = None
    insecure: bool = False
    defects: tuple[str, ...] = ()
    # Before expansion only: "all", or the models this entry stands for.
    models: str | tuple[str, ...] | None = None

    @property
    def model_name(self) -> str:
        return self.model or self.profile.model


class Resolved(Protocol):
    """What an opener yields (chatcert.targets.Endpoint has these)."""

    url: str
    api_key: str | None
    is_mock: bool
    verify_tls: bool


Opener = Callable[[FleetEntry], AbstractContextManager[Resolved]]


@dataclass
class FleetSettings:
    """What every entry's run shares (the certify options given with --fleet)."""

    report_dir: Path
    bounds: Bounds = field(default_factory=Bounds)
    max_requests: int | None = None
    max_tokens: int | None = None
    areas: tuple[str, ...] = ()
    only: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    include_costly: bool = False
    strict: bool = False
    waivers: dict[str, str] = field(default_factory=dict)
    allow_incomplete: bool = False


@dataclass
class EntryOutcome:
    """How one entry ended; `document` is its results.json as written (already redacted), if any."""

    entry: FleetEntry
    status: str  # passed | failed | incomplete | unreachable | errored | unusable | interrupted | not_run
    exit_code: int
    message: str
    report_dir: Path | None = None
    document: dict[str, Any] | None = None
    url: str = ""


def _slug(text: str) -> str:
    return _UNSAFE.sub("_", text).strip("_.-")[:64] or "entry"


def _default_name(raw: dict[str, Any], index: int) -> str:
    """mock-N for the embedded mock, else host_port; with the model when the entry names one."""
    endpoint = raw.get("endpoint")
    if not endpoint:
        base = f"mock-{index + 1}"
    else:
        parts = urlsplit(str(endpoint))
        base = f"{parts.hostname or 'host'}_{parts.port or (443 if parts.scheme == 'https' else 80)}"
    return _slug(f"{base}--{raw['model']}" if raw.get("model") else base)


def load_fleet(
    path: str | Path,
    *,
    default_profile: str = "compatible",
    no_budget: bool = False,
    max_requests: int | None = None,
    max_tokens: int | None = None,
) -> list[FleetEntry]:
    """Read and check a fleet file: schema, profiles, key variables, budgets. Bad input -> UsageError.

    Entries with an explicit `models` list are expanded here; `models: all` stays for `expand_models`.
    """
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(
            f"cannot read fleet file {str(path)!r}: {getattr(exc, 'strerror', None) or type(exc).__name__}"
        ) from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark is not None else ""
        raise UsageError(f"fleet file {str(path)!r} is not valid YAML{where}") from None
    errors = schema_errors(FLEET_SCHEMA_ID, data, limit=1)
    if errors:
        raise UsageError(f"fleet file {str(path)!r}: {errors[0]} (schema harness/fleet)")
    entries: list[FleetEntry] = []
    for index, raw in enumerate(data):
        entries.extend(
            _entries(raw, index, file.parent, default_profile, no_budget, max_requests, max_tokens)
        )
    seen: set[str] = set()
    for e in entries:
        if e.name in seen:
            raise UsageError(f"fleet file {str(path)!r}: two entries are named {e.name!r}; give them names")
        seen.add(e.name)
    return entries


def _entries(
    raw: dict[str, Any],
    index: int,
    base: Path,
    default_profile: str,
    no_budget: bool,
    max_requests: int | None,
    max_tokens: int | None,
) -> list[FleetEntry]:
    where = f"entry {index + 1}"
    profile_name = str(raw.get("profile", default_profile))
    # A profile path is relative to the fleet file, so the file works from any folder.
    if ("/" in profile_name or profile_name.endswith((".yaml", ".yml", ".json"))) and not Path(
        profile_name
    ).is_absolute():
        profile_name = str(base / profile_name)
    try:
        profile = load_profile(profile_name)
    except UsageError as exc:
        raise UsageError(f"fleet {where}: {exc}") from None
    endpoint = raw.get("endpoint")
    key_env = raw.get("key_env")
    if raw.get("defects") and endpoint:
        raise UsageError(f"fleet {where}: 'defects' applies to the embedded mock only (no 'endpoint')")
    if key_env:
        try:  # read now only to prove it is set; each run reads it again, nothing keeps it here
            load_api_key(key_env, None)
        except UsageError as exc:
            raise UsageError(
                f"fleet {where}: {str(exc).replace(' (from --api-key-env)', ' (key_env)')}"
            ) from None
    requests = raw.get("max_requests", max_requests)
    tokens = raw.get("max_tokens", max_tokens)
    if profile.paid and endpoint and requests is None and tokens is None and not no_budget:
        raise UsageError(
            f"fleet {where}: profile {profile.name!r} is paid: give the entry max_requests/max_tokens, "
            "or pass --max-requests/--max-tokens or --no-budget"
        )
    models = raw.get("models")
    if models == "all" and profile.route("models") is None:
        raise UsageError(
            f"fleet {where}: models: all needs a models route; profile {profile.name!r} has none"
        )
    entry = FleetEntry(
        name=str(raw.get("name") or _default_name(raw, index)),
        profile=profile,
        endpoint=str(endpoint) if endpoint else None,
        model=raw.get("model"),
        key_env=key_env,
        max_requests=requests,
        max_tokens=tokens,
        insecure=bool(raw.get("insecure", False)),
        defects=tuple(raw.get("defects") or ()),
        models=models if models == "all" else (tuple(models) if models else None),
    )
    if isinstance(entry.models, tuple):
        return [per_model(entry, m) for m in entry.models]
    return [entry]


def per_model(entry: FleetEntry, model: str) -> FleetEntry:
    return replace(entry, name=f"{entry.name}--{_slug(model)}", model=model, models=None)


def expand_models(
    entries: Iterable[FleetEntry], opener: Opener, bounds: Bounds
) -> tuple[list[FleetEntry], list[EntryOutcome]]:
    """Replace each `models: all` entry by one entry per model its models route lists (one free GET).

    An entry whose list cannot be read becomes an `unreachable` outcome instead: the rest still run.
    """
    out: list[FleetEntry] = []
    failed: list[EntryOutcome] = []
    for entry in entries:
        if entry.models != "all":
            out.append(entry)
            continue
        route = entry.profile.route("models")
        if route is None:
            failed.append(
                EntryOutcome(entry, "unusable", 2, f"profile {entry.profile.name} has no models route")
            )
            continue
        try:
            with opener(entry) as target:
                client = Client(
                    Target(target.url, entry.profile.auth_scheme, target.api_key, target.verify_tls),
                    bounds,
                    Budget(),
                )
                ex = client.send(RequestSpec("GET", route, label="models list (fleet models: all)"))
                ids = _model_ids(ex.status, ex.body)
                why = client.redactor.text(ex.error or ex.excerpt(200)) if ids is None else ""
        except ChatcertError as exc:
            failed.append(EntryOutcome(entry, _status_of(exc.exit_code), exc.exit_code, str(exc)))
            continue
        if ids is None:
            failed.append(
                EntryOutcome(entry, "unreachable", 1, f"models: all: GET {route} answered {ex.status}: {why}")
            )
        else:
            out.extend(per_model(entry, m) for m in ids)
    return out, failed


def _model_ids(status: int | None, body: bytes) -> list[str] | None:
    if status != 200:
        return None
    try:
        doc = json.loads(body)
    except ValueError:
        return None
    data = doc.get("data") if isinstance(doc, dict) else None
    if not isinstance(data, list):
        return None
    ids = [m["id"] for m in data if isinstance(m, dict) and isinstance(m.get("id"), str) and m["id"]]
    return list(dict.fromkeys(ids)) or None


def _status_of(code: int) -> str:
    return {1: "unreachable", 2: "unusable", 3: "errored"}.get(code, "errored")


class _StopWhenAsked:
    """A reporter that ends a run as interrupted once the fleet is told to stop (Ctrl-C reaches only
    the main thread; the runs in worker threads learn of it here, between checks)."""

    def __init__(self, stop: threading.Event, signame: list[str]) -> None:
        self.stop = stop
        self.signame = signame

    def on_start(self, run: Run) -> None:
        pass

    def on_result(self, run: Run, result: CheckResult) -> None:
        if self.stop.is_set():
            raise Interrupted(self.signame[0] if self.signame else "SIGINT")

    def on_finish(self, run: Run) -> None:
        pass


def entry_config(entry: FleetEntry, settings: FleetSettings, target: Resolved) -> RunConfig:
    """The run configuration of one entry: its target, profile, model and budget, the fleet's options."""
    return RunConfig(
        profile=entry.profile,
        model=entry.model,
        target=Target(target.url, entry.profile.auth_scheme, target.api_key, target.verify_tls),
        target_is_mock=target.is_mock,
        bounds=settings.bounds,
        budget=Budget(max_requests=entry.max_requests, max_tokens=entry.max_tokens),
        areas=settings.areas,
        only=settings.only,
        exclude=settings.exclude,
        include_costly=settings.include_costly,
        strict=settings.strict,
        waivers=dict(settings.waivers),
        allow_incomplete=settings.allow_incomplete,
        key_source=key_origin(entry.key_env, None, entry.profile.key_env)
        if entry.endpoint
        else "the embedded mock's key",
        options={"report_dir": str(settings.report_dir / entry.name), "api_key_env": entry.key_env},
    )


@dataclass
class _Planned:
    url: str
    api_key: str | None
    is_mock: bool
    verify_tls: bool = True


def plan_entry(entry: FleetEntry, settings: FleetSettings) -> tuple[int, int, int, int]:
    """For --dry-run, sending nothing: (requests, at most tokens, checks that would run, checks skipped).

    Whether a key is there is read from the environment as a run would; the embedded mock always has one
    when its profile needs one. The budget is not applied: this is what a full run would spend.
    """
    if entry.endpoint:
        key = load_api_key(entry.key_env, None, entry.profile.key_env)
        target = _Planned(entry.endpoint, key, False)
    else:
        target = _Planned("http://127.0.0.1", "mock" if entry.profile.auth_scheme != "none" else None, True)
    rows = plan(entry_config(entry, settings, target), bool(target.api_key))
    requests = sum(r[2] for r in rows)
    tokens = sum(r[3] for r in rows)
    skipped = sum(r[1] is not None for r in rows)
    return requests, tokens, len(rows) - skipped, skipped


def certify_entry(
    entry: FleetEntry, settings: FleetSettings, opener: Opener, stop: threading.Event, signame: list[str]
) -> EntryOutcome:
    """Certify one entry into `report_dir/<name>/`; every end (also a crash) is an outcome, never raised."""
    folder = settings.report_dir / entry.name
    try:
        with opener(entry) as target:
            config = entry_config(entry, settings, target)
            run = run_certification(config, [FileReporter(folder), _StopWhenAsked(stop, signame)])
            url = run.client.redactor.url(target.url)
    except ChatcertError as exc:
        return EntryOutcome(entry, _status_of(exc.exit_code), exc.exit_code, str(exc))
    except Exception as exc:  # the harness broke on this entry; the others go on
        return EntryOutcome(entry, "errored", 3, f"harness error: {type(exc).__name__}: {exc}")
    try:
        document = json.loads((folder / "results.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        return EntryOutcome(entry, "errored", 3, f"results.json not readable: {exc}", folder, None, url)
    return EntryOutcome(entry, _run_status(run), run.exit_code, _run_message(run), folder, document, url)


def _run_status(run: Run) -> str:
    if run.interrupted:
        return "interrupted"
    if run.key_refused or run.stopped:
        return "unreachable"
    code = run.exit_code
    if code == 3:
        return "errored"
    if code == 1:
        return "failed" if any(r.blocking for r in run.results) else "incomplete"
    return "passed"


def _run_message(run: Run) -> str:
    if run.key_refused:
        return run.key_refused
    cause = next((c.message for c in run.causes if c.kind == "run"), None)
    if run.stopped:
        return f"target unreachable or failing: {cause or run.stopped}"
    failed = [r.id for r in run.results if r.blocking]
    if failed:
        head = f"{cause}; " if cause else ""
        return (
            f"{head}{len(failed)} check(s) failed: {', '.join(failed[:8])}{' ...' if len(failed) > 8 else ''}"
        )
    return str(run.counts().get("passed", 0)) + " check(s) passed"


def fleet_redactor(entries: Iterable[FleetEntry]) -> Redactor:
    """Redacts every key the fleet's entries name, for text written beside the runs' own reports."""
    return Redactor(os.environ.get(e.key_env, "").strip() for e in entries if e.key_env)


def default_jobs(entries: int) -> int:
    return max(1, min(4, entries))


@dataclass
class FleetResult:
    """Every entry's outcome, in the fleet file's order; `interrupted` names the signal that cut it short."""

    outcomes: list[EntryOutcome]
    interrupted: str | None = None

    @property
    def exit_code(self) -> int:
        """130/143 when interrupted; else 3 when the harness broke on an entry, 2 for an unusable entry
        (a `models: all` entry whose profile has no models route), 1 when any failed or was
        unreachable, 0 when all passed."""
        if self.interrupted:
            return exit_code_for(self.interrupted)
        codes = {o.exit_code for o in self.outcomes}
        for code in (3, 2, 1):
            if code in codes:
                return code
        return 0


def run_fleet(
    entries: list[FleetEntry],
    settings: FleetSettings,
    opener: Opener,
    *,
    jobs: int,
    on_done: Callable[[EntryOutcome, int, int], None] | None = None,
    earlier: Iterable[EntryOutcome] = (),
) -> FleetResult:
    """Certify the entries, `jobs` at a time; `on_done(outcome, n_done, n_total)` as each finishes.

    Runs are I/O-bound and the engine is synchronous, so each runs in a thread of its own. On Ctrl-C
    (Interrupted in the main thread) the entries not started are `not_run`, the running ones stop after
    their current check with a partial report (a signal cannot cut a worker thread's request short:
    that takes at most the request's deadline), and the result says it was interrupted. `earlier`:
    outcomes decided before the runs (a `models: all` list that could not be read), kept in order first.
    """
    # The check catalogue loads on first use; load it here, once, not from several threads at a time.
    all_checks()
    all_probes()
    stop = threading.Event()
    signame: list[str] = []
    total = len(entries)
    ended = 0  # runs that ended (not those never started)
    by_entry: dict[str, EntryOutcome] = {}
    with ThreadPoolExecutor(max_workers=max(1, jobs), thread_name_prefix="chatcert-fleet") as pool:
        pending: dict[Future[EntryOutcome], FleetEntry] = {
            pool.submit(certify_entry, e, settings, opener, stop, signame): e for e in entries
        }
        while pending:
            try:
                finished, _ = wait(pending, return_when=FIRST_COMPLETED)
                for future in finished:
                    outcome = future.result()
                    by_entry[outcome.entry.name] = outcome
                    del pending[future]
                    ended += 1
                    if on_done is not None:
                        on_done(outcome, ended, total)
            except Interrupted as exc:
                if not signame:
                    signame.append(exc.signame)
                stop.set()
                for future, entry in list(pending.items()):
                    if future.cancel():
                        del pending[future]
                        by_entry[entry.name] = EntryOutcome(
                            entry, "not_run", exc.exit_code, f"not started: interrupted ({exc.signame})"
                        )
    outcomes = [*earlier, *(by_entry[e.name] for e in entries if e.name in by_entry)]
    return FleetResult(outcomes, signame[0] if signame else None)
