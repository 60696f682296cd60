"""Every finding `chatcert preflight` can report, registered like a check: id, area, level, source.

A finding is created with `findings.error(id, ...)` or `findings.warning(id, ...)`; both refuse an id
that is not registered here, so this table is the complete list that traceability, the docs and the
reports read (it used to be recovered by parsing preflight's source). The level says what the finding
does to the verdict: MUST findings are errors (NO-GO), SHOULD findings are warnings, PROFILE findings
are errors only where the profile makes them so (e.g. a mislabelled image where the server checks
labels). Sources cite seed 000's requirement ids (fixtures/requirements/seeds.yaml, L-nn), seed 001's
(P-nn), or the rule of docs/preflight.md the finding enforces.
"""

from __future__ import annotations

from dataclasses import dataclass

from chatcert.registry import Level

__all__ = ["FINDINGS", "FindingRule", "finding_rule"]

_DOC = "docs/preflight.md"


@dataclass(frozen=True)
class FindingRule:
    """What one finding id means."""

    id: str
    area: str  # operation | script | payload | rehearsal | usage
    level: Level
    source: str
    description: str

    @property
    def severities(self) -> tuple[str, ...]:
        """The severities a finding of this id may carry."""
        return {Level.MUST: ("error",), Level.SHOULD: ("warning",)}.get(self.level, ("error", "warning"))


_M, _S, _P = Level.MUST, Level.SHOULD, Level.PROFILE

# fmt: off
_TABLE: tuple[tuple[str, str, Level, str, str], ...] = (
    # -- operation: the Operation YAML and its job command
    ("operation_invalid", "operation", _M, "SEED-L L-36, L-37", "The Operation matches its (inferred) schema."),
    ("operation_unknown_key", "operation", _S, "SEED-L L-37", "The Operation uses only known keys."),
    ("operation_schema_unavailable", "operation", _S, _DOC, "The Operation schema could be loaded."),
    ("operation_step_missing", "operation", _M, "SEED-L L-38..L-40", "uplink, pod_run_job and downlink_results are all present."),
    ("operation_steps_out_of_order", "operation", _M, "SEED-L L-40", "The steps run uplink, then the job, then the downlink."),
    ("operation_step_repeated", "operation", _S, _DOC, "No step type is repeated."),
    ("operation_step_unknown", "operation", _S, _DOC, "Every step type is known."),
    ("uplink_file_missing", "operation", _M, "SEED-L L-17, L-38", "Every uplinked file exists locally."),
    ("uplink_target_outside_volume", "operation", _M, "SEED-L L-38", "Every uplinked file lands in the working volume."),
    ("uplink_target_duplicate", "operation", _M, _DOC, "No two uplinks write the same target."),
    ("job_image_unexpected", "operation", _S, "SEED-L L-39", "The pod runs a python:3.10 image."),
    ("job_command_missing", "operation", _M, "SEED-L L-39", "The job has a command."),
    ("job_command_unrehearsed", "operation", _S, _DOC, "The job command is one the rehearsal can replay."),
    ("job_runs_no_script", "operation", _M, "SEED-L L-33", "The job command runs a Python script."),
    ("job_script_not_py", "operation", _S, "SEED-L L-33", "The script the job runs is a .py file."),
    ("job_script_not_uplinked", "operation", _M, "SEED-L L-38", "The script the job runs is uplinked."),
    ("job_path_not_uplinked", "operation", _M, "SEED-L L-38", "Every volume path the job passes is uplinked."),
    ("job_server_not_onboard", "operation", _M, "SEED-L L-03, L-12, L-33", "The server URL the job passes is the on-board server."),
    ("job_no_server_argument", "operation", _S, "SEED-L L-33", "The job passes the server URL."),
    ("job_output_not_captured", "operation", _M, "SEED-L L-39", "The job writes its answer to a file."),
    ("job_output_not_downlinked", "operation", _S, "SEED-L L-40", "The file the job writes is downlinked."),
    ("downlink_not_written", "operation", _M, "SEED-L L-40", "Every downlinked file is one the job writes."),
    ("downlink_outside_volume", "operation", _M, "SEED-L L-40", "Every downlink reads from the working volume."),
    # -- script: the job's Python
    ("script_syntax_error", "script", _M, "SEED-L L-39 (python:3.10-slim)", "The script is valid Python 3.10."),
    ("script_non_stdlib_import", "script", _M, "SEED-L L-32 (urllib, no external SDK)", "The script imports only Python 3.10's standard library or uplinked modules."),
    ("script_optional_import", "script", _S, "SEED-L L-32", "An import outside the standard library is only attempted (try/except ImportError)."),
    ("script_windows_only_import", "script", _S, "SEED-L L-39 (a Linux container)", "The script imports no Windows-only module."),
    ("script_no_server", "script", _M, "SEED-L L-03", "The script takes --server or names the on-board server."),
    ("script_route_missing", "script", _M, "SEED-L L-12", "The script names the profile's chat route."),
    # -- payload: the images and the request
    ("image_unreadable", "payload", _M, "SEED-L L-17, L-34", "Every uplinked image can be read."),
    ("image_undecodable", "payload", _M, "SEED-L L-34", "Every uplinked image decodes."),
    ("image_mime_mismatch", "payload", _P, "SEED-L L-18, L-35; profile limits.image_mime_label", "The MIME type the script sends matches the image bytes (an error where the profile says the server checks it)."),
    ("image_mime_platform_dependent", "payload", _S, "SEED-L L-18", "python:3.10-slim guesses the same MIME type as this machine."),
    ("image_too_large", "payload", _M, "SEED-P P-05; profile limits.max_image_width/height", "Every image is within the profile's pixel limits."),
    ("request_too_large", "payload", _M, "SEED-P P-06; profile limits.max_request_bytes", "The request is within the profile's size limit."),
    ("request_not_json", "payload", _M, "SEED-L L-15", "The captured request body is JSON."),
    ("request_invalid", "payload", _M, "SEED-L L-15; SPEC CreateChatCompletionRequest", "The captured request matches openai/chat-request."),
    ("request_schema_unavailable", "payload", _S, _DOC, "The request schema could be loaded."),
    ("request_model_missing", "payload", _M, "SEED-L L-23", "The request names a model."),
    ("request_model_unknown", "payload", _M, "SEED-L L-23; profile models", "The model is one the profile lists."),
    ("request_model_unexpected", "payload", _S, "SEED-L L-23", "The model is the profile's."),
    ("request_max_tokens_missing", "payload", _S, "SEED-L L-05, L-30", "The request bounds the answer with max_tokens (each request is paid)."),
    ("request_no_image", "payload", _M, "SEED-L L-04, L-21", "The request carries an image part."),
    ("request_no_text", "payload", _S, "SEED-L L-04, L-21", "The request carries a text prompt."),
    ("request_text_before_image", "payload", _M, "SEED-L L-24, L-29; profile limits.image_first_required", "The image part comes before the text part."),
    ("request_image_url_missing", "payload", _M, "SEED-L L-28", "Every image part has an image_url.url."),
    ("request_data_url_malformed", "payload", _M, "SEED-L L-19, L-20, L-28", "Every image is a well-formed base64 data: URL."),
    ("request_external_image_url", "payload", _P, "SEED-L L-28; profile limits.external_image_urls", "No image is an external link (an error where the profile rejects links)."),
    # -- rehearsal: the script run against the mock
    ("rehearsal_disabled", "rehearsal", _S, _DOC, "The rehearsal ran (--no-rehearsal skips it)."),
    ("rehearsal_unguarded", "rehearsal", _S, _DOC, "The network guard was active for the rehearsal."),
    ("rehearsal_external_contact", "rehearsal", _M, "SEED-L L-12 (on board only the on-board server answers)", "The script contacts nothing but the server it was given."),
    ("rehearsal_no_request", "rehearsal", _M, "SEED-L L-12", "The script sent a request."),
    ("script_failed", "rehearsal", _M, "SEED-L L-39", "The script exits 0."),
    ("script_timeout", "rehearsal", _M, "SEED-L L-05 (a hung job still costs the uplink)", "The script ends within the timeout."),
    ("request_wrong_route", "rehearsal", _M, "SEED-L L-12", "The request went to the chat route."),
    ("request_rejected", "rehearsal", _M, "SEED-L L-15", "The rehearsal server accepted the request."),
    ("request_multiple", "rehearsal", _S, "SEED-L L-05", "The script sends one request (each is paid)."),
    ("output_missing", "rehearsal", _M, "SEED-L L-40", "Every downlinked file exists after the run."),
    ("output_empty", "rehearsal", _M, "SEED-L L-22", "Every downlinked file has content."),
    # -- usage
    ("usage_unbounded", "usage", _S, "SEED-L L-05", "The estimate of requests and tokens has an upper bound."),
)
# fmt: on

FINDINGS: dict[str, FindingRule] = {row[0]: FindingRule(*row) for row in _TABLE}
if len(FINDINGS) != len(_TABLE):  # a repeated id would silently shadow the first
    raise ValueError("a preflight finding id is registered twice")


def finding_rule(id_: str) -> FindingRule:
    """The registered rule of a finding id; KeyError names an unregistered one."""
    try:
        return FINDINGS[id_]
    except KeyError:
        raise KeyError(
            f"preflight finding {id_!r} is not registered in chatcert.preflight.catalogue"
        ) from None
