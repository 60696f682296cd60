"""`chatcert certify`: certify an endpoint (or the embedded mock) against a profile."""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from chatcert._cli._common import (
    add_no_budget,
    add_target_options,
    key_source,
    open_target,
    positive_float,
    positive_int,
    require_spending_decision,
    writable_dir,
)
from chatcert._redact import Redactor
from chatcert.budget import Budget
from chatcert.client import Bounds, Client, Target
from chatcert.completeness import incompleteness
from chatcert.discovery import discover_servers, host_allowed
from chatcert.engine import Reporter, RunConfig, ordered_checks, plan, run_certification
from chatcert.errors import TargetError, UsageError
from chatcert.interrupt import Interrupted
from chatcert.registry import AREAS
from chatcert.reporting.console import ConsoleReporter
from chatcert.reporting.files import FileReporter, clear_reports


def register(sub: Any) -> None:
    p = sub.add_parser(
        "certify",
        help="certify an endpoint against a profile",
        description="Send the probes of every selected check to the endpoint, judge the answers, "
        "print a verdict per check and write results.json, junit.xml, report.html and "
        "badge.svg. Exit 0 when every MUST check ran and passed, 1 when one failed, did not "
        "run (budget, stop: the certificate is 'incomplete') or the target is unreachable, 2 "
        "for unusable input (also a paid profile with no budget decision), 3 when the harness broke. "
        "With --fleet FILE, every entry of the file is certified (several at a time, -j N) into a folder "
        "of its own, and a matrix of entries x checks is written beside them.",
    )
    add_target_options(p, target_is_mock="the --endpoint is a chatcert mock: also run mock-only fault checks")
    fl = p.add_argument_group(
        "fleet (many targets in parallel; see README 'Fleets')",
        "With --fleet, each entry of FILE (endpoint, profile, model, key_env; no endpoint: the embedded "
        "mock) is certified into REPORT_DIR/<entry>/, and REPORT_DIR/matrix.json and matrix.html hold "
        "the entry x check matrix. Exit 1 when any entry failed or was unreachable. --profile is the "
        "default for entries without one; --max-requests/--max-tokens are each entry's budget; "
        "--dry-run prints what each entry would send.",
    )
    fl.add_argument(
        "--fleet", metavar="FILE", help="certify every entry of this fleet YAML (schema harness/fleet)"
    )
    fl.add_argument(
        "-j",
        "--jobs",
        type=positive_int,
        metavar="N",
        help="with --fleet: entries certified at the same time [default: min(4, entries)]",
    )
    sel = p.add_argument_group("selection")
    sel.add_argument(
        "--area", action="append", default=[], choices=AREAS, help="only checks of this area (repeatable)"
    )
    sel.add_argument(
        "--check",
        action="append",
        default=[],
        metavar="ID",
        help="only this check id; a trailing * matches a prefix (repeatable)",
    )
    sel.add_argument(
        "--exclude", action="append", default=[], metavar="ID", help="disable a check (repeatable)"
    )
    sel.add_argument(
        "--costly", action="store_true", help="also run costly checks (e.g. a request near 128 MiB)"
    )
    sel.add_argument("--strict", action="store_true", help="treat SHOULD checks as MUST")
    sel.add_argument(
        "--waive",
        action="append",
        default=[],
        metavar="ID=REASON",
        help="accept a known failure of check ID; shown in every report (repeatable)",
    )
    fz = p.add_argument_group("property-based payloads (Hypothesis)")
    fz.add_argument("--fuzz", action="store_true", help="also send generated valid and invalid payloads")
    fz.add_argument(
        "--max-examples",
        type=positive_int,
        default=25,
        metavar="N",
        help="generated payloads per property [default: 25]",
    )
    fz.add_argument(
        "--seed", type=int, metavar="S", help="Hypothesis seed (derandomized anyway when CI is set)"
    )
    bud = p.add_argument_group("budget and bounds")
    bud.add_argument("--max-requests", type=positive_int, metavar="N", help="hard limit on requests sent")
    bud.add_argument("--max-tokens", type=positive_int, metavar="N", help="hard limit on output tokens")
    add_no_budget(bud)
    bud.add_argument(
        "--allow-incomplete",
        action="store_true",
        help="exit 0 even when MUST checks did not run (budget spent, run stopped); the certificate "
        "still says 'incomplete'",
    )
    bud.add_argument(
        "--dry-run",
        action="store_true",
        help="send nothing; print the requests and tokens each check would spend, or why it would be skipped",
    )
    bud.add_argument(
        "--timeout",
        type=positive_float,
        default=60.0,
        metavar="S",
        help="wall-clock deadline per request [default: 60]",
    )
    bud.add_argument(
        "--stall-timeout",
        type=positive_float,
        default=20.0,
        metavar="S",
        help="abort a response that sends nothing for S seconds [default: 20]",
    )
    bud.add_argument(
        "--max-body-bytes",
        type=positive_int,
        default=8 * 1024 * 1024,
        metavar="N",
        help="read at most N bytes of any response [default: 8 MiB]",
    )
    bud.add_argument(
        "--run-timeout",
        type=positive_float,
        default=1800.0,
        metavar="S",
        help="total deadline for the run [default: 1800]",
    )
    fol = p.add_argument_group("direct hosts (LibertAI /libertai/models)")
    fol.add_argument(
        "--follow-servers",
        action="store_true",
        help="also certify each server the discovery route lists for the model",
    )
    fol.add_argument(
        "--allow-host",
        action="append",
        default=[],
        metavar="HOST[:PORT]",
        help="a followed server that may receive the API key (repeatable); others are not certified",
    )
    out = p.add_argument_group("output")
    out.add_argument(
        "--report-dir",
        default="chatcert-report",
        metavar="DIR",
        help="where to write the reports [default: chatcert-report]",
    )
    out.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        help="also list every check as it finishes, all skip reasons and longer reproducers",
    )
    out.add_argument("-q", "--quiet", action="store_true", help="only the summary")
    out.add_argument(
        "--color",
        choices=("auto", "always", "never"),
        default="auto",
        help="colour verdicts: auto (a terminal, unless NO_COLOR is set), always or never [default: auto]",
    )
    p.set_defaults(func=run)


def _waivers(items: list[str]) -> dict[str, str]:
    out = {}
    for item in items:
        check_id, sep, reason = item.partition("=")
        if not sep or not check_id.strip() or not reason.strip():
            raise UsageError(f"--waive takes CHECK_ID=reason, not {item!r}")
        out[check_id.strip()] = reason.strip()
    return out


def run(args: argparse.Namespace) -> int:
    waivers = _waivers(args.waive)
    if args.fleet:
        from chatcert._cli.fleet import run_fleet_command

        return run_fleet_command(args, waivers)
    if args.jobs:
        raise UsageError("-j/--jobs applies to --fleet only")
    if not args.dry_run:
        writable_dir(args.report_dir, "--report-dir")
        # Before the target even starts: a run interrupted this early leaves no older verdict behind.
        clear_reports(Path(args.report_dir), dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"))
    bounds = Bounds(
        deadline_s=args.timeout,
        stall_s=min(args.stall_timeout, args.timeout),
        max_body_bytes=args.max_body_bytes,
        run_deadline_s=args.run_timeout,
    )
    budget = Budget(max_requests=args.max_requests, max_tokens=args.max_tokens)
    with open_target(args) as endpoint:
        if not args.dry_run:
            require_spending_decision(args, endpoint.profile)
        from chatcert.registry import all_checks

        known = {c.id for c in all_checks()}
        named = [*waivers, *[c for c in [*args.check, *args.exclude] if not c.endswith("*")]]
        for name in named:
            if name not in known:
                raise UsageError(f"unknown check id {name!r} (see 'chatcert checks')")
        config = RunConfig(
            profile=endpoint.profile,
            model=args.model,
            target=Target(endpoint.url, endpoint.profile.auth_scheme, endpoint.api_key, endpoint.verify_tls),
            target_is_mock=endpoint.is_mock,
            bounds=bounds,
            budget=budget,
            areas=tuple(args.area),
            only=tuple(args.check),
            exclude=tuple(args.exclude),
            include_costly=args.costly,
            strict=args.strict,
            options={
                "fuzz": args.fuzz,
                "max_examples": args.max_examples,
                "seed": args.seed,
                "report_dir": args.report_dir,
                # Named by the root cause of a run refused 401/403 (chatcert.diagnosis).
                "api_key_env": args.api_key_env,
                "api_key_file": bool(args.api_key_file),
            },
            waivers=waivers,
            allow_incomplete=args.allow_incomplete,
            key_source=key_source(args, endpoint.profile) if args.endpoint else "the embedded mock's key",
        )
        if not any(c for c in ordered_checks(config)):
            raise UsageError("no registered check matches --area/--check; see 'chatcert checks'")
        if args.dry_run:
            return _dry_run(config, bool(endpoint.api_key))
        reporters: list[Reporter] = [
            FileReporter(Path(args.report_dir)),
            ConsoleReporter(verbose=args.verbose, quiet=args.quiet, color=args.color),
        ]
        result = run_certification(config, reporters)
        if result.interrupted:
            not_run = sum(r.reason.startswith("interrupted") for r in result.results)
            print(
                f"chatcert: interrupted ({result.interrupted}): {not_run} check(s) not run; "
                f"partial report in {args.report_dir}",
                file=sys.stderr,
            )
            return result.exit_code
        if args.follow_servers:
            code = _follow_servers(args, config, result.client)
            if code and not result.exit_code:
                result.info["follow_exit"] = code
    code = max(result.exit_code, int(result.info.get("follow_exit", 0)))
    # The one stderr line names the first root cause when there is one: it is what to fix first.
    cause = next((c.message for c in result.causes if c.kind == "run"), None)
    if result.key_refused:
        raise TargetError(result.key_refused)
    if result.stopped:
        raise TargetError(f"target unreachable or failing: {cause or result.stopped}")
    if code == 1:
        failed = [r.id for r in result.results if r.blocking]
        missing = incompleteness(result.results)
        head = f"{cause}; " if cause else ""
        if failed:
            print(
                f"chatcert: {head}{len(failed)} check(s) failed: {', '.join(failed[:8])}"
                f"{' ...' if len(failed) > 8 else ''}",
                file=sys.stderr,
            )
        elif missing:
            remedy = "raise --max-requests/--max-tokens or " if "budget" in missing.counts else ""
            print(
                f"chatcert: certificate incomplete: {len(missing.checks)} MUST check(s) did not run "
                f"({', '.join(f'{c}: {n}' for c, n in missing.counts.items())}); {remedy}pass "
                "--allow-incomplete to accept it",
                file=sys.stderr,
            )
        else:
            print("chatcert: a followed server failed certification; see its report", file=sys.stderr)
    elif code == 3:
        print(
            "chatcert: the harness itself broke on some checks (outcome 'errored'); see the report",
            file=sys.stderr,
        )
    return code


def _follow_servers(args: argparse.Namespace, config: RunConfig, client: Client) -> int:
    """Certify every server listed for the model; the key goes only to --allow-host hosts."""
    servers, why = discover_servers(client, config.profile, config.model_name)
    if why:
        print(f"follow servers: {why}")
        return 1
    worst = 0
    for url in servers:
        if not host_allowed(url, tuple(args.allow_host)):
            print(
                f"follow servers: {client.redactor.url(url)} not certified: host not in --allow-host "
                "(the key is sent only to hosts you allow)"
            )
            continue
        host = urlsplit(url)
        sub = Path(args.report_dir) / "servers" / f"{host.hostname}_{host.port or 443}"
        print(f"\nfollow servers: certifying {client.redactor.url(url)}")
        sub_config = replace(
            config, target=replace(config.target, base_url=url), target_is_mock=False, budget=config.budget
        )
        run = run_certification(
            sub_config,
            [FileReporter(sub), ConsoleReporter(quiet=args.quiet, verbose=args.verbose, color=args.color)],
        )
        if run.interrupted:  # its report is written; the servers after it are not started
            raise Interrupted(run.interrupted)
        worst = max(worst, run.exit_code)
    return worst


def _dry_run(config: RunConfig, has_key: bool) -> int:
    rows = plan(config, has_key)
    total_r = total_t = 0
    endpoint = Redactor().url(config.target.base_url)
    print(f"dry run: nothing is sent. Profile {config.profile.name}, endpoint {endpoint}")
    for check, reason, requests, tokens in rows:
        total_r += requests
        total_t += tokens
        status = f"skip ({reason})" if reason else f"{requests} request(s), <= {tokens} tokens"
        print(f"  {check.id:<48} {status}")
    print(f"total: {total_r} request(s), at most {total_t} output tokens, {len(rows)} checks")
    return 0
