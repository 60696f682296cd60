"""One pre-flight, start to finish: operation, script and image checks, rehearsal, request, estimate."""

from __future__ import annotations

import posixpath
from collections.abc import Sequence
from functools import partial
from pathlib import Path

from chatcert.errors import UsageError
from chatcert.interrupt import Interrupted, acknowledge
from chatcert.preflight.findings import CheckLog, Finding, warning
from chatcert.preflight.images import ImageError, read_image
from chatcert.preflight.operation import (
    ONBOARD_SERVER,
    Operation,
    UplinkFile,
    check_container,
    check_downlink,
    check_job_command,
    check_schema,
    check_steps,
    check_unknown_keys,
    check_uplinks,
    load_operation,
    synthesize_operation,
)
from chatcert.preflight.payload import (
    body_size,
    check_image_file,
    check_request,
    elide_data_urls,
    known_image_keys,
)
from chatcert.preflight.profile import PreflightProfile, load_profile
from chatcert.preflight.rehearsal import ServerFactory, check_outputs, check_run, rehearse
from chatcert.preflight.reporter import PreflightEvents, PreflightReporter
from chatcert.preflight.script import (
    Script,
    argparse_default,
    check_imports,
    check_route,
    check_server,
    check_syntax,
    read_script,
)
from chatcert.preflight.stdlib310 import IMAGE_TYPES_310
from chatcert.preflight.usage import RequestEstimate, UsageEstimate, estimate_request
from chatcert.preflight.verdict import PreflightReport

__all__ = ["DEFAULT_PROMPT", "DEFAULT_TIMEOUT_S", "run_preflight"]

DEFAULT_PROMPT = "describe this"  # seed 000's example prompt
DEFAULT_TIMEOUT_S = 60.0
_IMAGE_SUFFIXES = {*IMAGE_TYPES_310, ".webp"}


def run_preflight(
    operation: str | Path | None = None,
    *,
    script: str | Path | None = None,
    image: str | Path | None = None,
    prompt: str | None = None,
    profile: str | PreflightProfile = "liquidai",
    rehearsal: bool = True,
    timeout: float = DEFAULT_TIMEOUT_S,
    server_factory: ServerFactory | None = None,
    reporters: Sequence[PreflightReporter] = (),
) -> PreflightReport:
    """Pre-flight an Operation file, or (no operation) a script + image + prompt as the seed runs them.

    Raises UsageError when an input cannot be read or parsed; every other problem is a finding.
    `reporters` hear the start, each check record as it is made, and the finished (or interrupted) report.
    """
    events = PreflightEvents(reporters)
    prof = load_profile(profile) if isinstance(profile, str) else profile
    if operation is not None and script is not None:
        raise UsageError("preflight takes an OPERATION file or --script/--image/--prompt, not both")
    if operation is not None:
        op = load_operation(Path(operation))
        report = PreflightReport(subject=str(operation), mode="operation", profile=prof.name)
    elif script is not None:
        if image is None:
            raise UsageError("preflight --script needs --image")
        for kind, path in (("script", Path(script)), ("image", Path(image))):
            if not path.is_file():
                raise UsageError(f"{kind} file {path} not found")
        op = synthesize_operation(Path(script), Path(image), prompt if prompt is not None else DEFAULT_PROMPT)
        report = PreflightReport(subject=str(script), mode="script", profile=prof.name)
    else:
        raise UsageError("preflight needs an OPERATION file, or --script FILE --image FILE [--prompt TEXT]")

    events.start(report)
    log = CheckLog(events.check)
    try:
        if report.mode == "operation":
            _operation_checks(op, log)
        main, _ = _script_checks(op, log, prof.chat_route)
        known_images = _image_checks(op, prof, log)
        requests = _rehearsal(op, prof, log, main, rehearsal, timeout, server_factory, known_images, report)
        report.estimate = _estimate(op, prof, main, requests, log, rehearsed=report.rehearsal is not None)
    except Interrupted as exc:
        # The checks done so far stand; the verdict says the pre-flight did not finish.
        acknowledge()
        report.interrupted = exc.signame
    report.checks = log.records
    events.finish(report)
    return report


def _operation_checks(op: Operation, log: CheckLog) -> None:
    log.run(
        "operation.schema",
        "operation",
        "structure matches the inferred Operation schema",
        lambda: check_schema(op),
    )
    log.run(
        "operation.unknown_keys",
        "operation",
        "no keys outside the inferred format",
        lambda: check_unknown_keys(op),
    )
    log.run(
        "operation.steps",
        "operation",
        "uplink -> pod_run_job -> downlink_results, in order",
        lambda: check_steps(op),
    )
    log.run(
        "operation.uplinks",
        "operation",
        f"{len(op.uplinks)} uplinked file(s) exist and land in the volume",
        lambda: check_uplinks(op),
    )
    log.run("operation.container", "operation", "the pod runs python:3.10", lambda: check_container(op))
    log.run(
        "operation.job",
        "operation",
        "the job runs an uplinked script with on-board paths and URL",
        lambda: check_job_command(op),
    )
    log.run(
        "operation.downlink",
        "operation",
        "the file the job writes is the one downlinked",
        lambda: check_downlink(op),
    )


def _python_uplinks(op: Operation) -> list[UplinkFile]:
    return [u for u in op.uplinks if u.target.endswith(".py") and u.local.is_file()]


def _script_checks(op: Operation, log: CheckLog, route: str) -> tuple[Script | None, list[Script]]:
    """Check the job's script and the Python files uplinked with it; return them, parsed."""
    job = op.job
    up = op.uplink_for(job.script) if job is not None and job.script is not None else None
    if up is None or not up.local.is_file():
        reason = "no uplinked script to check" if up is None else f"{up.source} does not exist"
        log.skip("script", "script", "Python 3.10 syntax, imports, server URL, route", reason)
        return None, []
    main = read_script(up.local, up.source)
    helpers = [read_script(u.local, u.source) for u in _python_uplinks(op) if u.target != up.target]
    # Modules importable beside the script: uplinked .py files and packages in the script's folder.
    folder = posixpath.dirname(up.target)
    local: set[str] = set()
    for other in op.uplinks:
        rel = posixpath.relpath(other.target, folder)
        if not rel.startswith(".."):
            first = rel.split("/")[0]
            local.add(first[:-3] if first.endswith(".py") else first)
    for script in (main, *helpers):
        log.run(f"script.syntax:{script.name}", "script", "valid Python 3.10", partial(check_syntax, script))
        log.run(
            f"script.imports:{script.name}",
            "script",
            "imports only the Python 3.10 standard library",
            partial(check_imports, script, local),
        )
    log.run(
        "script.server",
        "script",
        f"takes --server or names {ONBOARD_SERVER}",
        lambda: check_server(main, helpers, ONBOARD_SERVER),
    )
    log.run("script.route", "script", f"posts to {route}", lambda: check_route(main, helpers, route))
    return main, helpers


def _image_files(op: Operation) -> list[UplinkFile]:
    """Uplinked images: the one passed as --image, and any file named or shaped like an image."""
    chosen: list[UplinkFile] = []
    job = op.job
    passed = job.option_value("--image") if job is not None else None
    for up in op.uplinks:
        is_arg = passed is not None and job is not None and job.resolve(passed) == up.target
        named = posixpath.splitext(up.target)[1].lower() in _IMAGE_SUFFIXES
        if (is_arg or named) and up.local.is_file():
            chosen.append(up)
    return chosen


def _image_checks(op: Operation, prof: PreflightProfile, log: CheckLog) -> dict[str, str]:
    """Check each uplinked image as a file; return the keys that recognise them in a request."""
    known: dict[str, str] = {}
    prompt = op.job.option_value("--prompt") if op.job is not None else None
    for up in _image_files(op):
        log.run(
            f"payload.image_file:{up.source}",
            "payload",
            "decodes; MIME from its name matches its bytes; within the profile's limits",
            partial(check_image_file, up.local, up.source, prompt, prof),
        )
        for key in known_image_keys(up.local.read_bytes()):
            known[key] = up.source
    return known


def _rehearsal(
    op: Operation,
    prof: PreflightProfile,
    log: CheckLog,
    main: Script | None,
    enabled: bool,
    timeout: float,
    server_factory: ServerFactory | None,
    known_images: dict[str, str],
    report: PreflightReport,
) -> list[object]:
    """Run the script against the mock; check the run, the outputs and the captured requests."""
    summary = "the unmodified script runs against the mock on loopback"
    if not enabled:
        log.add(
            "rehearsal.run",
            "rehearsal",
            summary,
            [
                warning(
                    "rehearsal_disabled",
                    "--no-rehearsal: the script was not run, so the request it sends, its exit "
                    "status and its output are unverified",
                )
            ],
        )
        return []
    blocker = _rehearsal_blocker(op, main, log)
    if blocker is not None:
        log.skip("rehearsal.run", "rehearsal", summary, blocker)
        return []
    result = rehearse(op, mock_profile=prof.mock_profile, timeout=timeout, server_factory=server_factory)
    report.rehearsal = result.to_dict()
    log.add("rehearsal.run", "rehearsal", summary, check_run(result, prof.chat_route))
    if op.downlinks:
        log.add(
            "rehearsal.output",
            "rehearsal",
            "every downlinked file is written and not empty",
            check_outputs(result),
        )
    bodies: list[object] = []
    for index, entry in enumerate(result.posts):
        body = entry.get("body")
        bodies.append(body)
        report.captured_requests.append(elide_data_urls(body))
        log.add(
            f"payload.request[{index}]",
            "payload",
            "captured request: schema, model, max_tokens, image first, data: URL, image bytes",
            check_request(body, body_size(entry), prof, known_images),
        )
    return bodies


def _rehearsal_blocker(op: Operation, main: Script | None, log: CheckLog) -> str | None:
    """Why the script cannot be rehearsed at all, or None."""
    if op.job is None or op.job.script is None:
        return "the job runs no script"
    if main is None:
        return "the job's script is not uplinked or does not exist"
    failed = {f.id for f in log.findings}
    if "script_syntax_error" in failed:
        return "the script does not parse as Python 3.10"
    # A run without its inputs would only fail again for the same reason.
    if "uplink_file_missing" in failed:
        return "an uplinked file is missing"
    return None


def _estimate(
    op: Operation,
    prof: PreflightProfile,
    main: Script | None,
    bodies: list[object],
    log: CheckLog,
    *,
    rehearsed: bool = False,
) -> UsageEstimate:
    """Bound the job's usage: from the captured requests, else from the command and the image."""
    if bodies:
        est = UsageEstimate("rehearsal", [estimate_request(b) for b in bodies], paid=prof.paid)
    else:
        est = UsageEstimate("static", [_static_request(op, main)], paid=prof.paid)
        # The rehearsal may have run and captured nothing (the script failed first): say which.
        est.notes.append(
            "the rehearsal captured no request: assumes the script sends exactly one"
            if rehearsed
            else "not rehearsed: assumes the script sends exactly one request"
        )
    unknown = sum(r.unknown_images for r in est.requests)
    if unknown:
        est.notes.append(f"{unknown} image(s) of unknown size are not counted")
    found: list[Finding] = []
    if est.completion_tokens is None:
        found.append(
            warning(
                "usage_unbounded",
                "no max_tokens known for every request: the completion (paid) has no upper bound",
            )
        )
    log.add("usage.estimate", "usage", "an upper bound for requests and tokens", found)
    return est


def _static_request(op: Operation, main: Script | None) -> RequestEstimate:
    job = op.job
    prompt = (job.option_value("--prompt") if job is not None else None) or ""
    images: list[tuple[int, int]] = []
    unknown = 0
    for up in _image_files(op):
        try:
            info = read_image(up.local.read_bytes(), complete=True)
            images.append((info.width, info.height))
        except (OSError, ImageError):
            unknown += 1
    cap: object = job.option_value("--max-tokens") if job is not None else None
    if cap is None and main is not None:
        cap = argparse_default(main, "--max-tokens")
    try:
        max_tokens = int(str(cap)) if cap is not None else None
    except ValueError:
        max_tokens = None
    return RequestEstimate(len(prompt), images, 1, max_tokens, unknown)
