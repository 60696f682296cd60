"""The Operation file (format INFERRED from seed 000): loading, its model, and the operation checks."""

from __future__ import annotations

import posixpath
import re
import shlex
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft202012Validator

from chatcert.errors import UsageError
from chatcert.preflight.findings import Finding, error, warning
from chatcert.preflight.jobcommand import JobCommand, parse_command
from chatcert.preflight.schemas import OPERATION_ID, SchemaUnavailable, schema, validate_operation

__all__ = [
    "DEFAULT_MOUNT",
    "ONBOARD_SERVER",
    "STEP_ORDER",
    "Operation",
    "UplinkFile",
    "check_container",
    "check_downlink",
    "check_job_command",
    "check_schema",
    "check_steps",
    "check_unknown_keys",
    "check_uplinks",
    "load_operation",
    "synthesize_operation",
]

# Seed 000: "make a POST request to http://liquid-3b.dphi-public/v1/chat/completions".
ONBOARD_SERVER = "http://liquid-3b.dphi-public"
# Seed 000: uplink, then pod_run_job, then downlink_results.
STEP_ORDER = ("uplink", "pod_run_job", "downlink_results")
DEFAULT_MOUNT = "/work"
_URL = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*://")


@dataclass(frozen=True)
class UplinkFile:
    """One file to upload: as written in the YAML, where it is on the ground, where it lands in the pod."""

    source: str
    target: str
    local: Path


@dataclass
class Operation:
    """What the checks and the rehearsal need from an Operation, however malformed the file is."""

    path: Path | None  # None: synthesised from --script/--image/--prompt
    document: Any
    name: str
    mount_path: str
    steps: list[tuple[int, str, str]]  # (index, name, type)
    uplinks: list[UplinkFile] = field(default_factory=list)
    job: JobCommand | None = None
    job_step: dict[str, Any] = field(default_factory=dict)
    downlinks: list[str] = field(default_factory=list)

    @property
    def subject(self) -> str:
        return str(self.path) if self.path is not None else "(no operation file)"

    def uplink_for(self, pod_path: str) -> UplinkFile | None:
        """The uplinked file that lands at this pod path, if any."""
        for up in self.uplinks:
            if posixpath.normpath(up.target) == posixpath.normpath(pod_path):
                return up
        return None

    def in_volume(self, pod_path: str) -> bool:
        mount = posixpath.normpath(self.mount_path)
        return posixpath.normpath(pod_path) == mount or posixpath.normpath(pod_path).startswith(mount + "/")


def load_operation(path: Path) -> Operation:
    """Read and parse an Operation YAML; UsageError (exit 2) if it cannot be read or parsed."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UsageError(f"operation file {path} not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"operation file {path}: cannot read: {exc}") from exc
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise UsageError(f"operation file {path}: not valid YAML: {' '.join(str(exc).split())}") from exc
    except RecursionError:
        raise UsageError(f"operation file {path}: nests too deeply to parse") from None
    except ValueError as exc:  # e.g. an integer over Python's 4300-digit limit
        raise UsageError(f"operation file {path}: cannot be parsed: {exc}") from None
    return _model(document, path)


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _as_dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _model(document: Any, path: Path | None) -> Operation:
    root = _as_dict(document)
    spec = _as_dict(root.get("spec"))
    volume = _as_dict(spec.get("volume"))
    mount = volume.get("mountPath")
    mount = mount if isinstance(mount, str) and mount.startswith("/") else DEFAULT_MOUNT
    op = Operation(
        path=path,
        document=document,
        name=str(_as_dict(root.get("metadata")).get("name") or (path.stem if path else "preflight")),
        mount_path=mount,
        steps=[],
    )
    base = path.parent if path is not None else Path.cwd()
    for index, step in enumerate(_as_list(spec.get("steps"))):
        step = _as_dict(step)
        kind = step.get("type")
        kind = kind if isinstance(kind, str) else ""
        op.steps.append((index, str(step.get("name") or kind or f"step {index + 1}"), kind))
        if kind == "uplink":
            for item in _as_list(step.get("files")):
                item = _as_dict(item)
                source, target = item.get("source"), item.get("target")
                if isinstance(source, str) and isinstance(target, str):
                    op.uplinks.append(UplinkFile(source, posixpath.normpath(target), base / source))
        elif kind == "pod_run_job" and op.job is None:
            op.job_step = step
            command = step.get("command")
            workdir = step.get("workdir")
            workdir = workdir if isinstance(workdir, str) and workdir.startswith("/") else mount
            if isinstance(command, str) or (
                isinstance(command, list) and command and all(isinstance(c, str) for c in command)
            ):
                op.job = parse_command(command, workdir)
        elif kind == "downlink_results":
            op.downlinks.extend(
                posixpath.normpath(f) for f in _as_list(step.get("files")) if isinstance(f, str)
            )
    return op


def synthesize_operation(script: Path, image: Path, prompt: str) -> Operation:
    """The Operation a `--script/--image/--prompt` pre-flight stands for (the seed's own job)."""
    script_target = f"{DEFAULT_MOUNT}/{script.name}"
    image_target = f"{DEFAULT_MOUNT}/{image.name}"
    output = f"{DEFAULT_MOUNT}/output.txt"
    command = (
        f"python3 {shlex.quote(script_target)} --server {ONBOARD_SERVER} "
        f"--image {shlex.quote(image_target)} --prompt {shlex.quote(prompt)} > {output}"
    )
    document = {
        "kind": "Operation",
        "metadata": {"name": f"preflight-{script.stem}"},
        "spec": {
            "volume": {"name": "work", "mountPath": DEFAULT_MOUNT},
            "steps": [
                {
                    "name": "uplink",
                    "type": "uplink",
                    "files": [
                        {"source": str(script), "target": script_target},
                        {"source": str(image), "target": image_target},
                    ],
                },
                {"name": "run", "type": "pod_run_job", "image": "python:3.10-slim", "command": command},
                {"name": "downlink", "type": "downlink_results", "files": [output]},
            ],
        },
    }
    return _model(document, None)


# --------------------------------------------------------------------------------------------- checks


def check_schema(op: Operation) -> Iterator[Finding]:
    """The document has the inferred Operation structure (schema `harness/operation`)."""
    try:
        problems = validate_operation(op.document)
    except SchemaUnavailable as exc:
        yield warning("operation_schema_unavailable", f"cannot check the structure: {exc}")
        return
    for where, message in problems:
        yield error(
            "operation_invalid",
            f"{where}: {message[:200]}",
            where=where,
            schema=OPERATION_ID,
        )


def check_unknown_keys(op: Operation) -> Iterator[Finding]:
    """Keys the inferred format does not know: a typo, or a field chatcert has not seen (warning)."""
    try:
        root = schema(OPERATION_ID)
    except SchemaUnavailable:
        return
    for where, key in _unknown_keys(op.document, root, root, ""):
        yield warning(
            "operation_unknown_key",
            f"{where or '(top level)'}: unknown key {key!r} (the Operation format is inferred; "
            "check the spelling)",
            where=where,
            key=key,
        )


def _deref(node: Any, root: dict[str, Any]) -> dict[str, Any]:
    while isinstance(node, dict) and isinstance(node.get("$ref"), str) and node["$ref"].startswith("#/"):
        target: Any = root
        for part in node["$ref"][2:].split("/"):
            target = target[part]
        node = target
    return node if isinstance(node, dict) else {}


def _unknown_keys(instance: Any, node: Any, root: dict[str, Any], where: str) -> Iterator[tuple[str, str]]:
    """Walk the instance beside the schema: properties of the node and of every applicable allOf/then."""
    node = _deref(node, root)
    applicable = [node]
    for sub in _as_list(node.get("allOf")):
        sub = _deref(sub, root)
        condition = sub.get("if")
        if condition is None:
            applicable.append(sub)
        elif Draft202012Validator(condition).is_valid(instance) and "then" in sub:
            applicable.append(_deref(sub["then"], root))
    if isinstance(instance, dict):
        properties: dict[str, Any] = {}
        open_ended = False
        for sub in applicable:
            properties.update(
                {k: v for k, v in _as_dict(sub.get("properties")).items() if k not in properties}
            )
            open_ended = open_ended or "additionalProperties" in sub or "patternProperties" in sub
        for key, value in instance.items():
            here = f"{where}.{key}" if where else str(key)
            # A key whose schema is `true` (re-declared in a step's then-branch) is known but has no shape.
            shape = next(
                (
                    _as_dict(s.get("properties")).get(key)
                    for s in applicable
                    if _as_dict(s.get("properties")).get(key) not in (None, True)
                ),
                None,
            )
            if key not in properties:
                if not open_ended:
                    yield where, str(key)
            elif shape is not None:
                yield from _unknown_keys(value, shape, root, here)
    elif isinstance(instance, list):
        items = [sub.get("items") for sub in applicable if sub.get("items") is not None]
        for index, value in enumerate(instance):
            for item_schema in items:
                yield from _unknown_keys(value, item_schema, root, f"{where}[{index}]")


def check_steps(op: Operation) -> Iterator[Finding]:
    """uplink, pod_run_job and downlink_results are all there, in that order."""
    kinds = [kind for _, _, kind in op.steps]
    for kind in STEP_ORDER:
        if kind not in kinds:
            yield error(
                "operation_step_missing",
                f"no {kind!r} step (the job needs {' -> '.join(STEP_ORDER)})",
                step_type=kind,
                steps=kinds,
            )
        elif kinds.count(kind) > 1:
            yield warning(
                "operation_step_repeated",
                f"{kinds.count(kind)} {kind!r} steps: only the first is checked and rehearsed",
                step_type=kind,
            )
    first = [kinds.index(k) for k in STEP_ORDER if k in kinds]
    if first != sorted(first):
        yield error(
            "operation_steps_out_of_order",
            f"steps run {' -> '.join(k for k in kinds if k in STEP_ORDER)}; they must run "
            f"{' -> '.join(STEP_ORDER)}",
            steps=kinds,
        )
    for index, name, kind in op.steps:
        if kind and kind not in STEP_ORDER:
            yield warning(
                "operation_step_unknown",
                f"step {index + 1} ({name}) has unknown type {kind!r}; it is neither checked nor rehearsed",
                step=index,
                step_type=kind,
            )


def check_uplinks(op: Operation) -> Iterator[Finding]:
    """Every uplinked file exists on the ground (relative to the YAML) and lands inside the volume."""
    seen: dict[str, str] = {}
    for up in op.uplinks:
        if not up.local.is_file():
            yield error(
                "uplink_file_missing",
                f"uplinked file {up.source} does not exist (looked for {up.local})",
                source=up.source,
                looked_for=str(up.local),
                target=up.target,
            )
        if not op.in_volume(up.target):
            yield error(
                "uplink_target_outside_volume",
                f"{up.source} is uplinked to {up.target}, outside the working volume {op.mount_path}",
                target=up.target,
                volume=op.mount_path,
            )
        if up.target in seen:
            yield error(
                "uplink_target_duplicate",
                f"{up.source} and {seen[up.target]} are both uplinked to {up.target}",
                target=up.target,
            )
        seen[up.target] = up.source


def check_container(op: Operation) -> Iterator[Finding]:
    """The pod runs python:3.10 (what the script checks assume)."""
    image = op.job_step.get("image")
    if isinstance(image, str) and not re.match(r"^(docker\.io/)?(library/)?python:3\.10([.-]|$)", image):
        yield warning(
            "job_image_unexpected",
            f"the pod runs {image!r}; seed 000 uses python:3.10-slim, and "
            "the script checks assume Python 3.10",
            image=image,
        )


def check_job_command(op: Operation) -> Iterator[Finding]:
    """The job runs an uplinked Python script; the paths and URL it passes make sense on board."""
    job = op.job
    if job is None:
        if any(kind == "pod_run_job" for _, _, kind in op.steps):
            yield error("job_command_missing", "the pod_run_job step has no usable 'command'")
        return
    for problem in job.problems:
        yield warning("job_command_unrehearsed", f"{problem} (command: {job.raw})", command=job.raw)
    if job.script is None:
        yield error(
            "job_runs_no_script", f"the job command runs no Python script: {job.raw}", command=job.raw
        )
        return
    if op.uplink_for(job.script) is None:
        yield error(
            "job_script_not_uplinked",
            f"the job runs {job.script}, which no uplink puts there (uplinked: "
            f"{', '.join(u.target for u in op.uplinks) or 'nothing'})",
            script=job.script,
            uplinked=[u.target for u in op.uplinks],
        )
    elif not job.script.endswith(".py"):
        yield warning("job_script_not_py", f"the job runs {job.script}, which does not end in .py")
    outputs = set(job.written_files)
    urls: list[str] = []
    for arg in job.args:
        value = arg.split("=", 1)[1] if arg.startswith("--") and "=" in arg else arg
        if _URL.match(value):
            urls.append(value)
        elif _missing_in_volume(op, value, outputs):
            yield error(
                "job_path_not_uplinked",
                f"the job passes {value}, which no uplink provides",
                path=value,
                uplinked=[u.target for u in op.uplinks],
            )
    image = job.option_value("--image")
    if image is not None and not image.startswith("/") and op.uplink_for(job.resolve(image)) is None:
        yield error(
            "job_path_not_uplinked",
            f"the job passes --image {image} (= {job.resolve(image)}), which no uplink provides",
            path=job.resolve(image),
        )
    for url in urls:
        if url.rstrip("/") != ONBOARD_SERVER and not url.startswith(ONBOARD_SERVER + "/"):
            yield error(
                "job_server_not_onboard",
                f"the job sends the script to {url}; on board Clustergate 2 "
                f"the LiquidAI server is {ONBOARD_SERVER}",
                url=url,
                expected=ONBOARD_SERVER,
            )
    if not urls:
        yield warning(
            "job_no_server_argument",
            f"the job passes no server URL (e.g. --server {ONBOARD_SERVER});"
            " the rehearsal cannot point the script at the mock",
            command=job.raw,
        )


def _missing_in_volume(op: Operation, value: str, outputs: set[str]) -> bool:
    """An absolute path in the volume that the job reads but nothing puts there."""
    if not value.startswith("/") or not op.in_volume(value) or value in outputs:
        return False
    made = op.job.mkdirs if op.job is not None else []
    return op.uplink_for(value) is None and not any(value.startswith(d + "/") or value == d for d in made)


def check_downlink(op: Operation) -> Iterator[Finding]:
    """The file the job writes (>, >>, tee, -o) is the one downlinked."""
    job = op.job
    written = job.written_files if job is not None else []
    if job is not None and job.script is not None and not written:
        yield error(
            "job_output_not_captured",
            "the job writes no file: its answer goes to the pod's stdout and "
            f"nothing can be downlinked (add '> {op.mount_path}/output.txt')",
            command=job.raw,
        )
    for path in op.downlinks:
        if not op.in_volume(path):
            yield error(
                "downlink_outside_volume",
                f"downlinks {path}, outside the working volume {op.mount_path}",
                path=path,
            )
        if path not in written and op.uplink_for(path) is None:
            yield error(
                "downlink_not_written",
                f"downlinks {path}, which nothing writes (the job writes: {', '.join(written) or 'nothing'})",
                path=path,
                written=written,
            )
    for path in written:
        if path not in op.downlinks and job is not None and path != job.stderr_file:
            yield warning(
                "job_output_not_downlinked",
                f"the job writes {path} but no downlink_results step retrieves it",
                path=path,
            )
