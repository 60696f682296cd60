"""`chatcert certify --fleet FILE`: the fleet options' parsing and progress lines (logic: chatcert.fleet)."""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from pathlib import Path

from chatcert._cli._common import writable_dir
from chatcert._redact import Redactor
from chatcert.client import Bounds
from chatcert.errors import UsageError
from chatcert.fleet import (
    EntryOutcome,
    FleetEntry,
    FleetSettings,
    default_jobs,
    expand_models,
    fleet_redactor,
    load_fleet,
    plan_entry,
    run_fleet,
)
from chatcert.reporting.matrix import MATRIX_FILES, matrix_document, write_matrix
from chatcert.targets import check_defects, open_entry

__all__ = ["run_fleet_command"]

# Options that name one target: a fleet file names its targets itself.
_SINGLE_TARGET = {
    "endpoint": "--endpoint (or CHATCERT_ENDPOINT)",
    "model": "--model",
    "api_key_env": "--api-key-env",
    "api_key_file": "--api-key-file",
    "claim": "--claim",
    "target_is_mock": "--target-is-mock",
    "insecure": "--insecure",
    "follow_servers": "--follow-servers",
    "fuzz": "--fuzz",
}


def _settings(args: argparse.Namespace, waivers: dict[str, str], root: Path) -> FleetSettings:
    return FleetSettings(
        report_dir=root,
        bounds=Bounds(
            deadline_s=args.timeout,
            stall_s=min(args.stall_timeout, args.timeout),
            max_body_bytes=args.max_body_bytes,
            run_deadline_s=args.run_timeout,
        ),
        areas=tuple(args.area),
        only=tuple(args.check),
        exclude=tuple(args.exclude),
        include_costly=args.costly,
        strict=args.strict,
        waivers=waivers,
        allow_incomplete=args.allow_incomplete,
    )


def _dry_run(entries: list[FleetEntry], settings: FleetSettings) -> int:
    """Send nothing: what each entry's full run would send (its budget may stop it sooner)."""
    redact = Redactor()
    print(f"dry run: nothing is sent. {len(entries)} fleet entr{'y' if len(entries) == 1 else 'ies'}")
    total_r = total_t = 0
    for entry in entries:
        requests, tokens, run, skipped = plan_entry(entry, settings)
        where = redact.url(entry.endpoint) if entry.endpoint else "embedded mock"
        per_model = " per listed model (models: all, listed when run)" if entry.models == "all" else ""
        print(
            f"  {entry.name:<32} {where} ({entry.profile.name}, {entry.model_name}): {requests} request(s), "
            f"<= {tokens} tokens, {run} checks ({skipped} skipped){per_model}"
        )
        total_r += requests
        total_t += tokens
    print(f"total: {total_r} request(s), at most {total_t} output tokens (models: all entries counted once)")
    return 0


def run_fleet_command(args: argparse.Namespace, waivers: dict[str, str]) -> int:
    given = [flag for name, flag in _SINGLE_TARGET.items() if getattr(args, name, None)]
    if given:
        raise UsageError(
            f"{given[0]} cannot be combined with --fleet: the fleet file names each entry's target "
            "(endpoint, profile, model, key_env, insecure)"
        )
    if args.no_budget and (args.max_requests is not None or args.max_tokens is not None):
        raise UsageError("--no-budget contradicts --max-requests/--max-tokens; give one or the other")
    entries = load_fleet(
        args.fleet,
        default_profile=args.profile,
        # A dry run spends nothing: a paid entry needs no budget decision to be planned.
        no_budget=args.no_budget or args.dry_run,
        max_requests=args.max_requests,
        max_tokens=args.max_tokens,
    )
    check_defects(entries)
    from chatcert.registry import all_checks

    # Loaded here, once, before any worker thread wants it.
    known = {c.id for c in all_checks()}
    for name in [*waivers, *[c for c in [*args.check, *args.exclude] if not c.endswith("*")]]:
        if name not in known:
            raise UsageError(f"unknown check id {name!r} (see 'chatcert checks')")
    if args.dry_run:
        return _dry_run(entries, _settings(args, waivers, Path(args.report_dir)))
    root = writable_dir(args.report_dir, "--report-dir")
    for name in MATRIX_FILES:  # never an older fleet's matrix beside this run's reports
        (root / name).unlink(missing_ok=True)
    started = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
    settings = _settings(args, waivers, root)
    bounds = settings.bounds
    redact = fleet_redactor(entries)
    entries, unlisted = expand_models(entries, open_entry, bounds)
    for outcome in unlisted:
        print(redact.text(f"fleet: {outcome.entry.name}: {outcome.status}: {outcome.message}"), flush=True)
    if len({e.name for e in entries}) != len(entries):
        raise UsageError("two fleet entries expand to the same name; give the entries names")
    jobs = args.jobs or default_jobs(len(entries))
    if not args.quiet:
        print(f"fleet: certifying {len(entries)} entr{'y' if len(entries) == 1 else 'ies'}, {jobs} at a time")

    def progress(outcome: EntryOutcome, done: int, total: int) -> None:
        where = f" -> {outcome.report_dir}" if outcome.report_dir else ""
        print(
            redact.text(
                f"[{done}/{total}] {outcome.entry.name}: {outcome.status.upper()}: {outcome.message}{where}"
            ),
            flush=True,
        )

    result = run_fleet(entries, settings, open_entry, jobs=jobs, on_done=progress, earlier=unlisted)
    doc = matrix_document(result, root, started)
    files = write_matrix(doc, root, redact)
    print(f"fleet matrix: {files['matrix.html']} and {files['matrix.json']}")
    code = result.exit_code
    if result.interrupted:
        print(
            f"chatcert: fleet interrupted ({result.interrupted}); partial matrix in {root}", file=sys.stderr
        )
    elif code:
        bad = [o for o in result.outcomes if o.status != "passed"]
        names = ", ".join(f"{o.entry.name} ({o.status})" for o in bad[:6]) + (" ..." if len(bad) > 6 else "")
        print(
            redact.text(
                f"chatcert: {len(bad)} of {len(result.outcomes)} fleet entries did not pass: {names}"
            ),
            file=sys.stderr,
        )
    return code
