"""`chatcert mock`: serve the mock server for a profile in the foreground, or list its defects."""

from __future__ import annotations

import argparse
from typing import Any

from chatcert.errors import UsageError

SERVE_PROFILE = "compatible"  # as `chatcert certify` without --endpoint
LIST_PROFILE = "openai"  # --list-defects without --profile: the dialect with the most capabilities


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is not between 0 and 65535")
    return value


def register(sub: Any) -> None:
    p = sub.add_parser(
        "mock",
        help="serve the mock server (faults, scenarios, defects) for a profile",
        description="Serve chatcert's emulator of a profile's endpoint in the foreground until SIGINT or "
        "SIGTERM, one log line per request on stderr. Scenarios (--scenario, --fault, or the "
        "X-Mock-Scenario header per request) shape timing and failures; defects (--defect, or "
        "X-Mock-Defect per request) break the contract on purpose. Exit 0 on a clean shutdown, "
        "2 for unusable options.",
    )
    p.add_argument(
        "--profile",
        metavar="NAME|FILE",
        help=f"built-in profile or profile YAML [default: {SERVE_PROFILE}; "
        f"with --list-defects: {LIST_PROFILE}]",
    )
    p.add_argument("--host", default="127.0.0.1", help="bind address; loopback unless --allow-remote")
    p.add_argument("--port", type=_port, default=8080, help="port; 0 picks a free one [default: 8080]")
    p.add_argument("--allow-remote", action="store_true", help="allow a non-loopback --host")
    p.add_argument(
        "--api-key-env",
        metavar="VAR",
        help="require the key held in environment variable VAR (where the profile requires auth)",
    )
    p.add_argument(
        "--scenario",
        metavar="FILE",
        help="server-wide scenario: a YAML/JSON file (schema harness/scenario) or 'key=value;...'",
    )
    p.add_argument(
        "--fault",
        metavar="NAME",
        help="server-wide fault: drop, drop_mid_stream, truncated_json, malformed_json, slow_headers, "
        "stall or midstream_error",
    )
    p.add_argument(
        "--defect",
        action="append",
        default=[],
        metavar="NAME",
        help="server-wide defect (repeatable or comma-separated; see --list-defects)",
    )
    p.add_argument(
        "--list-defects",
        action="store_true",
        help="list the defects the profile claims the capabilities for, one per line, and exit",
    )
    p.add_argument("--quiet", action="store_true", help="no per-request log lines")
    p.set_defaults(func=run)


def _defect_names(items: list[str]) -> tuple[str, ...]:
    from mock_server.defects import parse_defect_names

    try:
        return parse_defect_names(",".join(items))
    except ValueError as exc:
        raise UsageError(f"--defect: {exc}") from None


def _list_defects(profile: str) -> int:
    from mock_server.defects import defects_for
    from mock_server.profile import MockConfigError, load_profile

    try:
        loaded = load_profile(profile)
    except MockConfigError as exc:
        raise UsageError(str(exc)) from None
    for defect in defects_for(loaded):
        print(defect.describe())
    return 0


def run(args: argparse.Namespace) -> int:
    from mock_server.profile import MockConfigError
    from mock_server.runner import ServeOptions, serve_forever

    if args.list_defects:
        return _list_defects(args.profile or LIST_PROFILE)
    options = ServeOptions(
        profile=args.profile or SERVE_PROFILE,
        host=args.host,
        port=args.port,
        api_key_env=args.api_key_env,
        scenario=args.scenario,
        fault=args.fault,
        defects=_defect_names(args.defect),
        allow_remote=args.allow_remote,
        log_requests=not args.quiet,
    )
    try:
        return serve_forever(options)
    except MockConfigError as exc:
        raise UsageError(str(exc)) from None
    except OSError as exc:  # the address is taken or cannot be bound
        raise UsageError(f"cannot listen on {args.host}:{args.port}: {exc.strerror or exc}") from None
