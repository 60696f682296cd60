"""`chatcert replay FILE`: re-send a failing payload saved by `certify --fuzz`; does it still fail?"""

from __future__ import annotations

import argparse
import os
from typing import Any

from chatcert._cli._common import add_target_options, open_target, positive_float
from chatcert.client import Bounds, Client, Target
from chatcert.fuzz import replay
from chatcert.fuzz.findings import body_preview
from chatcert.profiles import builtin_profiles

_EPILOG = """\
exit status: 0 the failure is gone (the expected property holds now); 1 it still fails (or the
answer cannot tell, e.g. 429, or the target is unreachable); 2 the file is unreadable or not a
replay file.

examples:
  chatcert replay chatcert-report/failures/fuzz_invalid_payloads_rejected-1.json
  chatcert replay FILE --endpoint https://api.example.com --api-key-env MY_KEY
"""


def register(sub: Any) -> None:
    p = sub.add_parser(
        "replay",
        help="re-send a failing payload saved by 'certify --fuzz'",
        description="Re-send a failing payload that 'chatcert certify --fuzz' saved under "
        "REPORT_DIR/failures/ and judge the answer by the same rule the check used (accepted: 200 "
        "with a schema-valid answer; rejected: a 4xx in the profile's error shape; survives: a valid "
        "request afterwards gets 200). The saved headers never hold a key: replay authenticates "
        "with the target's own key. Without --endpoint the embedded mock answers.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("file", metavar="FILE", help="a replay file (<check>-<n>.json)")
    add_target_options(p)
    # The profile defaults to the one recorded in the file (then $CHATCERT_PROFILE, then compatible).
    p.set_defaults(profile=None)
    for action in p._actions:
        if action.dest == "profile":
            action.help = (
                "built-in profile or profile YAML file [default: the profile recorded in FILE when it "
                "is built in, else $CHATCERT_PROFILE, else compatible]"
            )
    p.add_argument(
        "--timeout",
        type=positive_float,
        default=60.0,
        metavar="S",
        help="wall-clock deadline per request [default: 60]",
    )
    p.set_defaults(func=run)


def _profile_name(args: argparse.Namespace, doc: dict[str, Any]) -> str:
    if args.profile:
        return str(args.profile)
    recorded = str(doc["profile"])
    if recorded in builtin_profiles():
        return recorded
    return os.environ.get("CHATCERT_PROFILE", "compatible")


def run(args: argparse.Namespace) -> int:
    doc = replay.load(args.file)
    args.profile = _profile_name(args, doc)
    expected = doc["expected"]
    with open_target(args) as endpoint:
        model = args.model or (
            doc["model"] if endpoint.profile.name == doc["profile"] else endpoint.profile.model
        )
        target = Target(endpoint.url, endpoint.profile.auth_scheme, endpoint.api_key, endpoint.verify_tls)
        client = Client(target, Bounds(deadline_s=args.timeout, stall_s=min(20.0, args.timeout)))
        mock = "embedded mock, " if not args.endpoint else ""
        where = f"{endpoint.url} ({mock}profile {endpoint.profile.name})"
        print(
            f"replay {os.path.basename(args.file)}: {doc['check']} expects '{expected['property']}' "
            f"[{expected['rule']}{' ' + expected['level'] if expected.get('level') else ''}] "
            f"{expected.get('description', '')}".rstrip()
        )
        outcome = replay.replay(doc, client, endpoint.profile, model)
    first = outcome.exchanges[0]
    print(f"sent: {first.method} {first.url} body {body_preview(first.request_body, 300)}")
    print(f"to:   {where}")
    for ex in outcome.exchanges:
        answer = f"{ex.status} {ex.excerpt(200)}" if ex.status is not None else f"no response ({ex.error})"
        print(f"got:  [{ex.label}] {answer}")
    observed = doc["observed"]
    print(f"was:  {observed['status']} ({observed['kind']})")
    if outcome.status == "fixed":
        print(f"FIXED: {outcome.verdict.message}")
        return 0
    if outcome.status == "inconclusive":
        print(f"INCONCLUSIVE: {outcome.verdict.message}; try again later")
        return 1
    print(f"STILL FAILS: {outcome.verdict.message}")
    return 1
