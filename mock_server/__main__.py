"""`python -m mock_server`: serve a profile in the foreground (one log line per request on stderr)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from mock_server.defects import DEFECTS
from mock_server.faults import FAULTS
from mock_server.profile import MockConfigError
from mock_server.runner import ServeOptions, serve_forever


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m mock_server",
        description="Emulate an OpenAI-compatible (vision) chat-completions endpoint for a chatcert profile.",
    )
    parser.add_argument(
        "--profile", default="compatible", help="profile name (profiles/NAME.yaml) or a YAML path"
    )
    parser.add_argument("--host", default="127.0.0.1", help="bind address (loopback unless --allow-remote)")
    parser.add_argument("--port", type=int, default=8080, help="port (0 picks a free one)")
    parser.add_argument(
        "--api-key-env", metavar="VAR", help="require the key held in this environment variable"
    )
    parser.add_argument("--scenario", metavar="FILE", help="server-wide scenario (YAML or JSON mapping)")
    parser.add_argument("--fault", choices=sorted(FAULTS), help="server-wide fault")
    parser.add_argument(
        "--defect",
        action="append",
        default=[],
        metavar="NAME",
        help=f"server-wide defect, repeatable or comma-separated ({len(DEFECTS)} known: "
        "`chatcert mock --list-defects`)",
    )
    parser.add_argument("--allow-remote", action="store_true", help="allow a non-loopback --host")
    parser.add_argument("--quiet", action="store_true", help="no per-request log lines")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    options = ServeOptions(
        profile=args.profile,
        host=args.host,
        port=args.port,
        api_key_env=args.api_key_env,
        scenario=args.scenario,
        fault=args.fault,
        defects=tuple(n.strip() for d in args.defect for n in d.split(",") if n.strip()),
        allow_remote=args.allow_remote,
        log_requests=not args.quiet,
    )
    try:
        return serve_forever(options)
    except MockConfigError as exc:
        print(f"mock_server: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
