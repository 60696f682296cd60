"""Rehearsal: run the job's script, unmodified, against the mock server on loopback.

The uplinked files are copied into a temporary working volume (a pod path /work/x becomes
<volume>/work/x), the command's paths are rewritten into it, the on-board server URL is replaced by the
mock's, and the script runs with `sys.executable`, a timeout, no proxies, and a network guard that
refuses every peer but loopback. Whatever the mock journals is what the script would have sent.
"""

from __future__ import annotations

import contextlib
import json
import os
import posixpath
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from chatcert.errors import HarnessError
from chatcert.preflight.findings import Finding, error, warning
from chatcert.preflight.operation import ONBOARD_SERVER, Operation

__all__ = [
    "MockLike",
    "OutputFile",
    "RehearsalResult",
    "ServerFactory",
    "check_outputs",
    "check_run",
    "rehearse",
]

_TAIL = 2000  # characters of the script's stdout/stderr kept in the report
# Environment the script may see: enough to start Python and nothing that routes traffic elsewhere.
_KEEP_ENV = ("PATH", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "SYSTEMROOT", "TMPDIR", "TEMP", "TMP")


class MockLike(Protocol):
    """What the rehearsal needs from a running mock server."""

    @property
    def url(self) -> str: ...

    def journal(self) -> list[dict[str, Any]]: ...


ServerFactory = Callable[[str], contextlib.AbstractContextManager[MockLike]]


@dataclass
class OutputFile:
    """A downlinked file after the rehearsal."""

    pod_path: str
    exists: bool
    size: int = 0
    preview: str = ""


@dataclass
class RehearsalResult:
    """What happened when the script ran against the mock."""

    argv: list[str]
    cwd: str
    server_url: str
    exit_code: int | None  # None: killed at the timeout
    duration_s: float
    timeout_s: float
    stdout_tail: str
    stderr_tail: str
    journal: list[dict[str, Any]]
    blocked: list[str] = field(default_factory=list)  # contacts the network guard refused
    guarded: bool = True
    outputs: list[OutputFile] = field(default_factory=list)

    @property
    def posts(self) -> list[dict[str, Any]]:
        return [e for e in self.journal if str(e.get("method", "")).upper() == "POST"]

    def to_dict(self) -> dict[str, Any]:
        return {
            "argv": self.argv,
            "cwd": self.cwd,
            "server_url": self.server_url,
            "exit_code": self.exit_code,
            "timed_out": self.exit_code is None,
            "duration_s": round(self.duration_s, 3),
            "timeout_s": self.timeout_s,
            "stdout_tail": self.stdout_tail,
            "stderr_tail": self.stderr_tail,
            "requests": [
                {"method": e.get("method"), "path": e.get("path"), "status": e.get("status")}
                for e in self.journal
            ],
            "blocked": self.blocked,
            "guarded": self.guarded,
            "outputs": [o.__dict__ for o in self.outputs],
        }


def _child_env(extra: dict[str, str], guard_dir: Path, guard_log: Path, home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k in _KEEP_ENV}
    env.update({k: v for k, v in extra.items() if "proxy" not in k.lower() and not k.startswith("PYTHON")})
    env.update(
        {
            "HOME": str(home),
            "PYTHONPATH": str(guard_dir),  # only so that the guard loads as sitecustomize
            "PYTHONDONTWRITEBYTECODE": "1",
            "PYTHONIOENCODING": "utf-8",
            "CHATCERT_PREFLIGHT_GUARD_LOG": str(guard_log),
            "no_proxy": "*",  # belt and braces: no proxy for any host, whatever the platform reads
            "NO_PROXY": "*",
        }
    )
    return env


def _map(volume: Path, pod_path: str) -> Path:
    """Where a pod path lives in the temporary volume."""
    return volume / posixpath.normpath(pod_path).lstrip("/")


def _rewrite_arg(arg: str, op: Operation, volume: Path, server_url: str) -> str:
    """Point the on-board URL at the mock and pod paths inside the volume at the temporary copy."""
    prefix, sep, value = arg.partition("=") if arg.startswith("--") and "=" in arg else ("", "", arg)
    if value.rstrip("/") == ONBOARD_SERVER or value.startswith(ONBOARD_SERVER + "/"):
        value = server_url + value[len(ONBOARD_SERVER) :]
    elif value.startswith("/") and op.in_volume(value):
        value = str(_map(volume, value))
    return f"{prefix}{sep}{value}"


def rehearse(
    op: Operation,
    *,
    mock_profile: str,
    timeout: float,
    server_factory: ServerFactory | None = None,
) -> RehearsalResult:
    """Run the operation's job once against a server `server_factory(mock_profile)` starts (the CLI
    passes chatcert's mock; the core library never imports the mock itself); needs `op.job.script`."""
    job = op.job
    if job is None or job.script is None:
        raise ValueError("the operation has no script to rehearse")
    if server_factory is None:
        raise HarnessError("no server to rehearse against: pass server_factory, or run without rehearsal")
    factory = server_factory
    with tempfile.TemporaryDirectory(prefix="chatcert-preflight-") as tmp:
        root = Path(tmp)
        volume, guard_dir, home = root / "volume", root / "guard", root / "home"
        for folder in (volume, guard_dir, home):
            folder.mkdir()
        shutil.copyfile(Path(__file__).with_name("_netguard.py"), guard_dir / "sitecustomize.py")
        guard_log = root / "guard.log"
        _map(volume, op.mount_path).mkdir(parents=True, exist_ok=True)
        for up in op.uplinks:
            if up.local.is_file():
                target = _map(volume, up.target)
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(up.local, target)
        for folder_path in job.mkdirs:
            _map(volume, folder_path).mkdir(parents=True, exist_ok=True)
        cwd = _map(volume, job.workdir)
        cwd.mkdir(parents=True, exist_ok=True)
        step_env = op.job_step.get("env")
        extra = {str(k): str(v) for k, v in step_env.items()} if isinstance(step_env, dict) else {}
        extra.update(job.env)

        with factory(mock_profile) as server:
            server_url = server.url.rstrip("/")
            # Interpreter options are dropped: -I, -E, -S or -s would switch the network guard off.
            argv = [sys.executable, str(_map(volume, job.script))]
            argv += [_rewrite_arg(a, op, volume, server_url) for a in job.args]
            started = time.monotonic()
            try:
                done = subprocess.run(
                    argv,
                    cwd=cwd,
                    env=_child_env(extra, guard_dir, guard_log, home),
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.STDOUT if job.stderr_to_stdout else subprocess.PIPE,
                    timeout=timeout,
                    check=False,
                )
                exit_code: int | None = done.returncode
                stdout, stderr = done.stdout, done.stderr or b""
            except subprocess.TimeoutExpired as exc:
                exit_code = None
                stdout, stderr = _bytes(exc.stdout), _bytes(exc.stderr)
            duration = time.monotonic() - started
            journal = [_normalise(e) for e in server.journal()]

        # Replay the shell's side: stdout into the redirect and tee files, stderr into its file.
        for pod_path, append in [*job.stdout_files, *job.tee_files]:
            target = _map(volume, pod_path)
            if target.parent.is_dir():
                with target.open("ab" if append else "wb") as handle:
                    handle.write(stdout)
        if job.stderr_file is not None and _map(volume, job.stderr_file).parent.is_dir():
            _map(volume, job.stderr_file).write_bytes(stderr)
        outputs = [_output(volume, p) for p in op.downlinks]
        log = guard_log.read_text(encoding="utf-8").splitlines() if guard_log.exists() else []
        return RehearsalResult(
            argv=[_relative(a, root) for a in argv],
            cwd=_relative(str(cwd), root),
            server_url=server_url,
            exit_code=exit_code,
            duration_s=duration,
            timeout_s=timeout,
            stdout_tail=stdout.decode("utf-8", "replace")[-_TAIL:],
            stderr_tail=stderr.decode("utf-8", "replace")[-_TAIL:],
            journal=journal,
            blocked=[line for line in log if line.startswith("blocked")],
            guarded="guard installed" in log,
            outputs=outputs,
        )


def _bytes(value: bytes | str | None) -> bytes:
    if value is None:
        return b""
    return value.encode("utf-8") if isinstance(value, str) else value


def _relative(text: str, root: Path) -> str:
    """Report paths as <volume>/work/x rather than a temporary directory that is gone."""
    return text.replace(str(root / "volume"), "<volume>").replace(str(root), "<tmp>")


def _normalise(entry: dict[str, Any]) -> dict[str, Any]:
    """A journal entry with its body parsed when it arrived as JSON text."""
    entry = dict(entry)
    body = entry.get("body")
    if isinstance(body, (bytes, str)):
        with contextlib.suppress(ValueError):
            entry["body"] = json.loads(body)
    return entry


def _output(volume: Path, pod_path: str) -> OutputFile:
    path = _map(volume, pod_path)
    if not path.is_file():
        return OutputFile(pod_path, exists=False)
    data = path.read_bytes()
    return OutputFile(pod_path, True, len(data), data[:500].decode("utf-8", "replace"))


# --------------------------------------------------------------------------------------------- checks


def check_run(result: RehearsalResult, chat_route: str) -> Iterator[Finding]:
    """The script ran to exit 0, talked only to the mock, and posted to the chat route."""
    if not result.guarded:
        yield warning(
            "rehearsal_unguarded",
            "the network guard did not load in the script's process; "
            "outbound traffic was not policed (only proxies were removed)",
        )
    for line in result.blocked:
        yield error(
            "rehearsal_external_contact",
            f"the script tried to reach the network beyond the mock "
            f"({line}); on board only {ONBOARD_SERVER} is there",
            attempt=line,
        )
    if result.exit_code is None:
        yield error(
            "script_timeout",
            f"the script was still running after {result.timeout_s:g} s",
            timeout_s=result.timeout_s,
            stderr_tail=result.stderr_tail[-500:],
        )
    elif result.exit_code != 0:
        yield error(
            "script_failed",
            f"the script exited with status {result.exit_code}: "
            f"{_last_line(result.stderr_tail) or _last_line(result.stdout_tail) or 'no message'}",
            exit_code=result.exit_code,
            stderr_tail=result.stderr_tail[-500:],
        )
    if not result.journal:
        yield error(
            "rehearsal_no_request",
            "the script contacted nothing: the mock journalled no request",
            server_url=result.server_url,
        )
        return
    posts = result.posts
    for entry in posts:
        if entry.get("path") != chat_route:
            yield error(
                "request_wrong_route",
                f"the script posted to {entry.get('path')}; the chat route is {chat_route}",
                path=entry.get("path"),
                expected=chat_route,
            )
        status = entry.get("status")
        if isinstance(status, int) and status >= 400:
            yield error(
                "request_rejected",
                f"the mock answered {status} to {entry.get('method')} {entry.get('path')}",
                status=status,
                path=entry.get("path"),
            )
    if not posts:
        yield error(
            "rehearsal_no_request",
            "the script sent no POST request",
            requests=[f"{e.get('method')} {e.get('path')}" for e in result.journal],
        )
    elif len(posts) > 1:
        yield warning(
            "request_multiple",
            f"the script sent {len(posts)} POST requests; each one is paid",
            count=len(posts),
        )


def check_outputs(result: RehearsalResult) -> Iterator[Finding]:
    """Every downlinked file is there after the run, and not empty."""
    for out in result.outputs:
        if not out.exists:
            yield error(
                "output_missing",
                f"after the rehearsal there is no {out.pod_path} to downlink",
                path=out.pod_path,
            )
        elif out.size == 0 or not out.preview.strip():
            yield error(
                "output_empty",
                f"{out.pod_path} is empty after the rehearsal: the script wrote no answer",
                path=out.pod_path,
                bytes=out.size,
            )


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1][:300] if lines else ""
