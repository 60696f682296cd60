"""Options several sub-commands share, and their parsing into library objects."""

from __future__ import annotations

import argparse
import contextlib
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from chatcert import targets
from chatcert.errors import HarnessError, UsageError
from chatcert.keys import key_origin
from chatcert.preflight.rehearsal import MockLike
from chatcert.profiles import Profile, load_profile
from chatcert.targets import Endpoint

__all__ = [
    "Endpoint",
    "add_no_budget",
    "add_target_options",
    "key_source",
    "open_target",
    "positive_float",
    "positive_int",
    "require_spending_decision",
]


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} must be at least 1")
    return value


def positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not value > 0 or value != value or value == float("inf"):
        raise argparse.ArgumentTypeError(f"{text!r} must be a positive number")
    return value


def _refuse_key(_value: str) -> str:
    raise argparse.ArgumentTypeError(
        "keys are never taken on the command line (value not shown); use --api-key-env VAR or --api-key-file"
    )


def writable_dir(path: str, option: str) -> Path:
    """Create `path` if needed and prove a file can be written there, before any request is sent."""
    folder = Path(path)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".chatcert-probe-"):
            pass
    except OSError as exc:
        raise UsageError(
            f"{option} {path!r} is not a writable folder: {exc.strerror or type(exc).__name__}"
        ) from None
    return folder


def add_target_options(parser: argparse.ArgumentParser, target_is_mock: str | None = None) -> None:
    """The target's options; `target_is_mock` is what --target-is-mock does for this command (None: nothing,
    so the command does not offer it)."""
    group = parser.add_argument_group("target")
    group.add_argument(
        "--endpoint",
        metavar="URL",
        default=os.environ.get("CHATCERT_ENDPOINT"),
        help="base URL of the server (e.g. https://api.example.com); without it chatcert starts "
        "its embedded mock server on a free loopback port [env CHATCERT_ENDPOINT]",
    )
    group.add_argument(
        "--profile",
        metavar="NAME|FILE",
        default=os.environ.get("CHATCERT_PROFILE", "compatible"),
        help="built-in profile (openai, compatible, liquidai, pharia, libertai) or a profile YAML "
        "file [default: compatible; env CHATCERT_PROFILE]",
    )
    group.add_argument("--model", metavar="NAME", help="model to request [default: the profile's model]")
    keys = group.add_mutually_exclusive_group()
    keys.add_argument(
        "--api-key-env",
        metavar="VAR",
        help="read the API key from environment variable VAR [default: the profile's variable, when set]",
    )
    keys.add_argument("--api-key-file", metavar="PATH", help="read the API key from a file")
    # Never an option: a key typed here would land in shell history and CI logs. Named so argparse
    # refuses it without echoing the value.
    group.add_argument("--api-key", type=_refuse_key, help=argparse.SUPPRESS)
    group.add_argument(
        "--insecure", action="store_true", help="do NOT verify TLS certificates (loudly warned)"
    )
    group.add_argument(
        "--claim",
        action="append",
        default=[],
        metavar="CAP=BOOL",
        help="override a capability claim of the profile, e.g. --claim tools=false (repeatable)",
    )
    if target_is_mock is None:
        parser.set_defaults(target_is_mock=False)
    else:
        group.add_argument("--target-is-mock", action="store_true", help=target_is_mock)


def add_no_budget(group: argparse._ArgumentGroup) -> None:
    group.add_argument(
        "--no-budget",
        action="store_true",
        help="spend without a limit on a paid profile (otherwise a paid --endpoint needs --max-requests "
        "or --max-tokens)",
    )


def require_spending_decision(args: argparse.Namespace, profile: Profile) -> None:
    """A paid endpoint is not sent a request until the user set a budget or said there is none.

    The embedded mock (no --endpoint) costs nothing, so it needs no decision.
    """
    limited = args.max_requests is not None or args.max_tokens is not None
    if args.no_budget and limited:
        raise UsageError("--no-budget contradicts --max-requests/--max-tokens; give one or the other")
    if profile.paid and args.endpoint and not limited and not args.no_budget:
        raise UsageError(
            f"profile {profile.name!r} is paid: set a budget with --max-requests N and/or "
            "--max-tokens N, or pass --no-budget to spend without a limit"
        )


def key_source(args: argparse.Namespace, profile: Profile) -> str:
    """Where the API key came from, named in the line that says the target refused it."""
    return key_origin(args.api_key_env, args.api_key_file, profile.key_env)


def parse_claims(items: list[str]) -> dict[str, bool]:
    claims = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or value.lower() not in ("true", "false", "yes", "no", "1", "0"):
            raise UsageError(f"--claim takes CAPABILITY=true|false, not {item!r}")
        claims[name.strip()] = value.lower() in ("true", "yes", "1")
    return claims


@contextmanager
def open_target(
    args: argparse.Namespace, *, defects: tuple[str, ...] = (), scenario: str | None = None, warn: bool = True
) -> Iterator[Endpoint]:
    """Resolve profile, key and URL from the options (chatcert.targets); without --endpoint, run the
    embedded mock for the duration."""
    profile = load_profile(args.profile).with_claims(parse_claims(args.claim))
    if args.endpoint and args.insecure and warn:
        import sys

        print("chatcert: WARNING: TLS certificate verification is OFF (--insecure)", file=sys.stderr)
    with targets.open_target(
        profile,
        endpoint=args.endpoint,
        api_key_env=args.api_key_env,
        api_key_file=args.api_key_file,
        target_is_mock=bool(getattr(args, "target_is_mock", False)),
        insecure=bool(getattr(args, "insecure", False)),
        defects=defects,
        scenario=scenario,
    ) as endpoint:
        yield endpoint


def mock_server_factory(profile: str) -> contextlib.AbstractContextManager[MockLike]:
    """chatcert's mock server serving `profile`: what a pre-flight rehearses against."""
    try:
        from mock_server.runner import MockServer
    except ImportError as exc:
        raise HarnessError(f"the mock server is not available ({exc}); run with --no-rehearsal") from exc
    server: contextlib.AbstractContextManager[MockLike] = MockServer(profile=profile)
    return server
