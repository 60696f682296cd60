"""`chatcert preflight`: GO / NO-GO for a Clustergate 2 uplink, rehearsed on the ground, offline."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from chatcert._cli import _common
from chatcert._cli._common import positive_float, writable_dir
from chatcert.errors import UsageError
from chatcert.preflight import DEFAULT_PROMPT, DEFAULT_TIMEOUT_S, run_preflight
from chatcert.preflight.reporter import PreflightReporter
from chatcert.reporting.preflight import PreflightJsonView, PreflightJsonWriter, PreflightTextView

__all__ = ["register", "run"]

_DESCRIPTION = """\
Rehearse a Clustergate 2 job on the ground before it is uplinked, and say GO or NO-GO.

Checks the Operation (steps uplink -> pod_run_job -> downlink_results, uplinked files exist, the job
runs an uplinked script, the file it writes is the one downlinked), the script (Python 3.10 syntax,
standard-library imports only, the on-board URL or a --server argument, the /v1/chat/completions
route) and the image (decodes, MIME type matches, within the profile's limits). Then it runs the
script unmodified against chatcert's mock server on 127.0.0.1 and judges the request it sent
(image part before text, data: URL, model, max_tokens) and the file it left for downlink.
Nothing leaves the machine. Ends with an upper-bound estimate of the (paid) usage.

The Operation format is inferred from the LiquidAI page (seed 000); see docs/preflight.md.
"""

_EPILOG = """\
examples:
  chatcert preflight examples/liquidai/liquidai.yaml
  chatcert preflight --script vlm_infer.py --image photo.png --prompt "describe this"
  chatcert preflight job.yaml --profile tight-limits.yaml --json --report-dir out/

exit status: 0 GO, 1 NO-GO, 2 an input cannot be read or parsed, 3 chatcert itself failed.
"""


def register(subparsers: Any) -> None:
    """Add the `preflight` sub-command."""
    parser = subparsers.add_parser(
        "preflight",
        help="GO / NO-GO for a Clustergate 2 job: check and rehearse it offline",
        description=_DESCRIPTION,
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    what = "the Operation YAML (e.g. examples/liquidai/liquidai.yaml)"
    parser.add_argument("operation", nargs="?", metavar="OPERATION", help=what)
    job = parser.add_argument_group("without an Operation file (the job is built as seed 000 runs it)")
    job.add_argument("--script", metavar="FILE", help="the Python script the pod would run")
    job.add_argument("--image", metavar="FILE", help="the image to send (required with --script)")
    job.add_argument("--prompt", metavar="TEXT", help=f"the prompt (default: {DEFAULT_PROMPT!r})")
    parser.add_argument(
        "--profile",
        default="liquidai",
        metavar="NAME|FILE",
        help="profile name or profile YAML whose model, route and limits apply (default: liquidai)",
    )
    parser.add_argument("--json", action="store_true", help="print the report as JSON on stdout (no text)")
    parser.add_argument("--report-dir", metavar="DIR", help="also write DIR/preflight.json")
    parser.add_argument(
        "--timeout",
        type=positive_float,
        default=DEFAULT_TIMEOUT_S,
        metavar="SECONDS",
        help=f"how long the rehearsed script may run (default: {DEFAULT_TIMEOUT_S:g})",
    )
    parser.add_argument(
        "--no-rehearsal", action="store_true", help="static checks only: do not run the script (weaker GO)"
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="show each finding's evidence")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run the pre-flight; 0 GO, 1 NO-GO (UsageError -> 2 is raised for unusable input)."""
    if args.operation is None and args.script is None:
        raise UsageError("preflight needs an OPERATION file, or --script FILE --image FILE [--prompt TEXT]")
    if args.operation is not None and (args.script or args.image or args.prompt is not None):
        raise UsageError("preflight takes an OPERATION file or --script/--image/--prompt, not both")
    if args.report_dir:
        writable_dir(args.report_dir, "--report-dir")
        # The previous verdict goes as this run starts: the folder never shows an older GO.
        (Path(args.report_dir) / "preflight.json").unlink(missing_ok=True)
    # The pre-flight hands its events to these: the file first, then the view on stdout.
    reporters: list[PreflightReporter] = [PreflightJsonWriter(args.report_dir)] if args.report_dir else []
    reporters.append(PreflightJsonView() if args.json else PreflightTextView(verbose=args.verbose))
    report = run_preflight(
        args.operation,
        script=args.script,
        image=args.image,
        prompt=args.prompt,
        profile=args.profile,
        rehearsal=not args.no_rehearsal,
        timeout=args.timeout,
        server_factory=_common.mock_server_factory,
        reporters=reporters,
    )
    if report.interrupted:
        where = f"; partial report in {args.report_dir}" if args.report_dir else ""
        print(
            f"chatcert: interrupted ({report.interrupted}): pre-flight not finished{where}", file=sys.stderr
        )
    return report.exit_code
