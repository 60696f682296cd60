"""`chatcert preflight` end to end: the example is GO, and each breakage of a copy of it is NO-GO.

The rehearsals here run against a tiny stand-in of the mock server (same interface: a context manager
with `.url` and `.journal()`), so these tests judge the pre-flight, not the mock; the tests at the end
use the real `mock_server.runner.MockServer`. All traffic goes to 127.0.0.1.
"""

from __future__ import annotations

import json
import shutil
import struct
import sys
import threading
import zlib
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest
import yaml

from chatcert._cli import _common
from chatcert.cli import main
from chatcert.preflight import PreflightReport, run_preflight
from chatcert_data import data_dir

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "liquidai"
REPLY = "A red disc on a blue-green gradient."


# ------------------------------------------------------------------------------------------ stand-in mock


class _Handler(BaseHTTPRequestHandler):
    server: _StandInHTTPServer

    def log_message(self, format: str, *args: Any) -> None:  # quiet test output
        pass

    def _record(self, status: int, raw: bytes) -> None:
        try:
            body: Any = json.loads(raw) if raw else None
        except ValueError:
            body = raw.decode("utf-8", "replace")
        self.server.entries.append(
            {
                "method": self.command,
                "path": self.path,
                "headers": dict(self.headers.items()),
                "body": body,
                "body_bytes": len(raw),
                "status": status,
            }
        )

    def _send(self, status: int, payload: dict[str, Any]) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self) -> None:
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.path != "/v1/chat/completions":
            self._record(404, raw)
            self._send(404, {"error": {"message": f"Unknown route {self.path}", "type": "not_found"}})
            return
        self._record(200, raw)
        self._send(
            200,
            {
                "id": "chatcmpl-standin",
                "object": "chat.completion",
                "created": 0,
                "model": "local",
                "choices": [
                    {"index": 0, "message": {"role": "assistant", "content": REPLY}, "finish_reason": "stop"}
                ],
                "usage": {"prompt_tokens": 10, "completion_tokens": 8, "total_tokens": 18},
            },
        )

    def do_GET(self) -> None:
        self._record(404, b"")
        self._send(404, {"error": {"message": "not found"}})


class _StandInHTTPServer(ThreadingHTTPServer):
    entries: list[dict[str, Any]]


class StandInMock:
    """The MockServer interface the rehearsal uses, over http.server on 127.0.0.1."""

    instances: ClassVar[list[StandInMock]] = []

    def __init__(self, profile: str = "liquidai") -> None:
        self.profile = profile
        self._server = _StandInHTTPServer(("127.0.0.1", 0), _Handler)
        self._server.entries = []
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        StandInMock.instances.append(self)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def journal(self) -> list[dict[str, Any]]:
        return list(self._server.entries)

    def __enter__(self) -> StandInMock:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture
def standin(monkeypatch: pytest.MonkeyPatch) -> Iterator[type[StandInMock]]:
    """Make every rehearsal (CLI included) use the stand-in mock."""
    StandInMock.instances = []
    monkeypatch.setattr(_common, "mock_server_factory", StandInMock)
    yield StandInMock


# ------------------------------------------------------------------------------------------------ helpers


@pytest.fixture
def example(tmp_path: Path) -> Path:
    """A copy of examples/liquidai; returns its Operation file."""
    folder = tmp_path / "liquidai"
    shutil.copytree(EXAMPLE, folder, ignore=shutil.ignore_patterns("__pycache__"))
    return folder / "liquidai.yaml"


def edit(path: Path, old: str, new: str) -> None:
    """Replace text that must be there (so a test cannot silently stop breaking anything)."""
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def png(width: int, height: int) -> bytes:
    """A real grey PNG of the given size."""

    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data))

    raw = b"".join(b"\x00" + b"\x80" * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


def custom_profile(folder: Path, name: str, **limits: Any) -> Path:
    """The liquidai profile under another name, with some limits changed."""
    data = yaml.safe_load((data_dir("profiles") / "liquidai.yaml").read_text(encoding="utf-8"))
    data["name"] = name
    data["limits"].update(limits)
    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


def ids(report: PreflightReport, severity: str = "error") -> set[str]:
    return {f.id for f in report.findings if f.severity == severity}


def _factory(profile: str) -> Any:
    # Looked up at call time, so the `standin` fixture's replacement applies as it does in the CLI.
    return _common.mock_server_factory(profile)


def preflight(operation: Path, **kwargs: Any) -> PreflightReport:
    kwargs.setdefault("server_factory", _factory)
    return run_preflight(operation, timeout=30, **kwargs)


# ------------------------------------------------------------------------------------------------ GO


def test_example_is_go(example: Path, standin: type[StandInMock]) -> None:
    report = preflight(example)
    assert report.verdict == "GO", report.errors
    assert report.exit_code == 0
    assert not report.warnings
    # The script really ran against the stand-in: one POST on the chat route, answer downlinkable.
    (mock,) = standin.instances
    (post,) = [e for e in mock.journal() if e["method"] == "POST"]
    assert post["path"] == "/v1/chat/completions"
    content = post["body"]["messages"][0]["content"]
    assert [p["type"] for p in content] == ["image_url", "text"]
    assert content[0]["image_url"]["url"].startswith("data:image/png;base64,iVBORw0KGgo")
    assert report.rehearsal is not None
    (output,) = report.rehearsal["outputs"]
    assert output["pod_path"] == "/work/output.txt"
    assert output["preview"].strip() == REPLY
    # Every check ran, none was skipped.
    names = {c.name for c in report.checks}
    assert {
        "operation.steps",
        "operation.downlink",
        "script.route",
        "rehearsal.run",
        "rehearsal.output",
    } <= names
    assert all(c.status == "pass" for c in report.checks)


def test_example_estimate_shows_formula(example: Path, standin: type[StandInMock]) -> None:
    report = preflight(example)
    assert report.estimate is not None
    est = report.estimate.to_dict()
    assert est["basis"] == "rehearsal"
    assert est["requests"] == 1
    assert est["paid"] is True
    # "describe this" = 13 chars -> 4; 32x32 image -> 3*3 + 10 = 19; one message -> 4.
    assert est["prompt_tokens_max"] == 4 + 19 + 4
    assert est["completion_tokens_max"] == 256
    assert est["total_tokens_max"] == 27 + 256
    assert "ceil(w/14)*ceil(h/14)" in est["formula"]


def test_cli_go_exit_zero_and_text(
    example: Path, standin: type[StandInMock], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["preflight", str(example)]) == 0
    out = capsys.readouterr().out
    assert "GO: 0 error(s)" in out
    assert "formula: prompt_tokens <= ceil(text_chars/4)" in out
    assert "inferred" in out


def test_cli_json_and_report_dir(
    example: Path, standin: type[StandInMock], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out_dir = tmp_path / "report"
    assert main(["preflight", str(example), "--json", "--report-dir", str(out_dir)]) == 0
    printed = json.loads(capsys.readouterr().out)
    written = json.loads((out_dir / "preflight.json").read_text(encoding="utf-8"))
    for doc in (printed, written):
        assert doc["verdict"] == "GO"
        assert doc["reasons"] == []
        assert doc["operation_format"] == "inferred"
        assert doc["usage_estimate"]["requests"] == 1
        # data: URLs are elided in reports
        url = doc["captured_requests"][0]["messages"][0]["content"][0]["image_url"]["url"]
        assert "characters elided" in url


def test_script_mode_go(standin: type[StandInMock], tmp_path: Path) -> None:
    image = tmp_path / "photo.png"
    image.write_bytes(png(20, 10))
    code = main(
        ["preflight", "--script", str(EXAMPLE / "vlm_infer.py"), "--image", str(image), "--prompt", "hi"]
    )
    assert code == 0
    (mock,) = standin.instances
    (post,) = mock.journal()
    assert post["body"]["messages"][0]["content"][1] == {"type": "text", "text": "hi"}


def test_no_rehearsal_is_go_with_a_warning(example: Path) -> None:
    report = preflight(example, rehearsal=False)
    assert report.verdict == "GO"
    assert ids(report, "warning") == {"rehearsal_disabled"}
    assert report.estimate is not None and report.estimate.basis == "static"
    assert report.estimate.completion_tokens == 256  # the script's argparse default


# --------------------------------------------------------------------------------------- NO-GO reasons


def test_third_party_import(example: Path, standin: type[StandInMock]) -> None:
    script = example.parent / "vlm_infer.py"
    edit(script, "import argparse\n", "import argparse\n\nimport requests  # noqa\n")
    line = script.read_text(encoding="utf-8").splitlines().index("import requests  # noqa") + 1
    report = preflight(example)
    assert report.verdict == "NO-GO"
    (finding,) = [f for f in report.errors if f.id == "script_non_stdlib_import"]
    assert finding.evidence == {"file": "./vlm_infer.py", "line": line, "module": "requests"}
    assert f"vlm_infer.py:{line} imports 'requests'" in finding.message


def test_stdlib_of_newer_python_is_not_stdlib_on_310(example: Path, standin: type[StandInMock]) -> None:
    edit(example.parent / "vlm_infer.py", "import argparse\n", "import argparse\nimport tomllib  # noqa\n")
    report = preflight(example)
    assert "script_non_stdlib_import" in ids(report)


def test_guarded_optional_import_only_warns(example: Path, standin: type[StandInMock]) -> None:
    edit(
        example.parent / "vlm_infer.py",
        "import argparse\n",
        "import argparse\n\ntry:\n    import requests  # noqa\nexcept ImportError:\n    requests = None\n",
    )
    report = preflight(example)
    assert report.verdict == "GO"
    assert "script_optional_import" in ids(report, "warning")


def test_sibling_module_import_is_allowed(example: Path, standin: type[StandInMock]) -> None:
    folder = example.parent
    (folder / "helpers.py").write_text("ANSWER = 42\n", encoding="utf-8")
    edit(folder / "vlm_infer.py", "import argparse\n", "import argparse\n\nimport helpers  # noqa\n")
    edit(
        example,
        "        - source: ./image.png\n",
        "        - source: ./helpers.py\n          target: /work/helpers.py\n        - source: ./image.png\n",
    )
    report = preflight(example)
    assert report.verdict == "GO", report.errors


def test_text_before_image(example: Path, standin: type[StandInMock]) -> None:
    script = example.parent / "vlm_infer.py"
    edit(script, '{"type": "image_url", "image_url": {"url": image_url}},\n', "")
    edit(
        script,
        '{"type": "text", "text": prompt},\n',
        '{"type": "text", "text": prompt},\n'
        '                    {"type": "image_url", "image_url": {"url": image_url}},\n',
    )
    report = preflight(example)
    assert report.verdict == "NO-GO"
    (finding,) = [f for f in report.errors if f.id == "request_text_before_image"]
    assert finding.evidence == {"message": 0, "text_part": 0, "image_part": 1}


def test_http_image_link(example: Path, standin: type[StandInMock]) -> None:
    edit(
        example.parent / "vlm_infer.py",
        '    return f"data:{mime};base64,{encoded}"',
        '    return "http://images.example/image.png"',
    )
    report = preflight(example)
    assert report.verdict == "NO-GO"
    assert "request_external_image_url" in ids(report)


def test_wrong_route(example: Path, standin: type[StandInMock]) -> None:
    edit(example.parent / "vlm_infer.py", 'ROUTE = "/v1/chat/completions"', 'ROUTE = "/v1/completions"')
    report = preflight(example)
    assert report.verdict == "NO-GO"
    errors = ids(report)
    assert {"script_route_missing", "request_wrong_route", "script_failed"} <= errors
    wrong = next(f for f in report.errors if f.id == "request_wrong_route")
    assert wrong.evidence["path"] == "/v1/completions"


def test_missing_image(example: Path, standin: type[StandInMock]) -> None:
    (example.parent / "image.png").unlink()
    report = preflight(example)
    assert report.verdict == "NO-GO"
    (finding,) = [f for f in report.errors if f.id == "uplink_file_missing"]
    assert finding.evidence["source"] == "./image.png"
    assert next(c for c in report.checks if c.name == "rehearsal.run").status == "skipped"


def test_oversize_image_against_profile_limits(
    example: Path, standin: type[StandInMock], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    profile = custom_profile(tmp_path, "tight", max_image_width=16, max_image_height=16)
    assert main(["preflight", str(example), "--profile", str(profile), "--json"]) == 1
    doc = json.loads(capsys.readouterr().out)
    too_large = [f for f in doc["findings"] if f["id"] == "image_too_large"]
    assert too_large, doc["findings"]
    assert too_large[0]["evidence"]["width"] == 32
    assert too_large[0]["evidence"]["max_width"] == 16
    assert doc["profile"] == "tight"


def test_request_bytes_limit(example: Path, standin: type[StandInMock], tmp_path: Path) -> None:
    profile = custom_profile(tmp_path, "small", max_request_bytes=1500)
    report = preflight(example, profile=str(profile))
    assert "request_too_large" in ids(report)


def test_script_that_writes_no_output(example: Path, standin: type[StandInMock]) -> None:
    edit(example.parent / "vlm_infer.py", "    print(content)\n", "    del content\n")
    report = preflight(example)
    assert report.verdict == "NO-GO"
    assert ids(report) == {"output_empty"}


@pytest.mark.parametrize(
    ("snippet", "why"),
    [
        ("type Alias = int\n", "type alias (3.12)"),
        ("try:\n    pass\nexcept* ValueError:\n    pass\n", "except* (3.11)"),
        ("x = {'a': 1}\nprint(f'{x['a']}')\n", "f-string reusing its quotes (3.12)"),
        ("def f(x):\n    return x[*x]\n", "star in subscript (3.11)"),
        ("def broken(:\n    pass\n", "plain syntax error"),
    ],
)
def test_syntax_error_on_310(example: Path, standin: type[StandInMock], snippet: str, why: str) -> None:
    edit(
        example.parent / "vlm_infer.py",
        'ROUTE = "/v1/chat/completions"\n',
        f'ROUTE = "/v1/chat/completions"\n{snippet}',
    )
    report = preflight(example)
    assert report.verdict == "NO-GO", why
    assert "script_syntax_error" in ids(report), why
    # A script that does not parse is not rehearsed (its failure would only repeat the syntax error).
    run = next(c for c in report.checks if c.name == "rehearsal.run")
    assert run.status == "skipped"


def test_downlink_of_a_file_nobody_writes(example: Path, standin: type[StandInMock]) -> None:
    edit(example, "        - /work/output.txt\n", "        - /work/result.txt\n")
    report = preflight(example)
    assert report.verdict == "NO-GO"
    (finding,) = [f for f in report.errors if f.id == "downlink_not_written"]
    assert finding.evidence == {"path": "/work/result.txt", "written": ["/work/output.txt"]}
    assert "output_missing" in ids(report)
    assert "job_output_not_downlinked" in ids(report, "warning")


def test_job_output_not_captured(example: Path, standin: type[StandInMock]) -> None:
    edit(example, " > /work/output.txt", "")
    report = preflight(example)
    assert {"job_output_not_captured", "downlink_not_written", "output_missing"} <= ids(report)


def test_tee_and_output_option_count_as_writes(example: Path, standin: type[StandInMock]) -> None:
    edit(example, " > /work/output.txt", " | tee /work/output.txt")
    assert preflight(example).verdict == "GO"


# --------------------------------------------------------------------------------- operation structure


def test_steps_out_of_order(example: Path, standin: type[StandInMock]) -> None:
    text = example.read_text(encoding="utf-8")
    run_at, down_at = text.index("    # 2."), text.index("    # 3.")
    up_at = text.index("    # 1.")
    example.write_text(
        text[:up_at] + text[run_at:down_at] + text[up_at:run_at] + text[down_at:], encoding="utf-8"
    )
    report = preflight(example)
    assert "operation_steps_out_of_order" in ids(report)


def test_missing_step(example: Path, standin: type[StandInMock]) -> None:
    text = example.read_text(encoding="utf-8")
    example.write_text(text[: text.index("    # 3.")], encoding="utf-8")
    report = preflight(example)
    assert "operation_step_missing" in ids(report)
    assert report.verdict == "NO-GO"


def test_unknown_keys_warn_only(example: Path, standin: type[StandInMock]) -> None:
    edit(example, "      image: python:3.10-slim\n", "      image: python:3.10-slim\n      gpu: true\n")
    edit(example, "kind: Operation\n", "kind: Operation\npriority: high\n")
    report = preflight(example)
    assert report.verdict == "GO"
    unknown = {f.evidence["key"] for f in report.warnings if f.id == "operation_unknown_key"}
    assert unknown == {"gpu", "priority"}


def test_schema_violation_is_no_go(example: Path, standin: type[StandInMock]) -> None:
    edit(example, "kind: Operation\n", "kind: Workflow\n")
    report = preflight(example)
    assert "operation_invalid" in ids(report)


def test_job_runs_a_script_nobody_uplinked(example: Path, standin: type[StandInMock]) -> None:
    edit(example, "python3 /work/vlm_infer.py", "python3 /work/infer.py")
    report = preflight(example)
    assert "job_script_not_uplinked" in ids(report)


def test_job_targets_another_server(example: Path, standin: type[StandInMock]) -> None:
    edit(example, "--server http://liquid-3b.dphi-public", "--server http://127.0.0.1:9")
    report = preflight(example)
    assert "job_server_not_onboard" in ids(report)


def test_webp_named_webp_is_sent_as_jpeg_on_board(example: Path, standin: type[StandInMock]) -> None:
    # python:3.10-slim's mimetypes has no .webp: the script's fallback labels it image/jpeg.
    vp8l = b"\x2f" + ((32 - 1) | ((32 - 1) << 14)).to_bytes(4, "little") + b"\x00" * 16
    webp = (
        b"RIFF"
        + struct.pack("<I", 4 + 8 + len(vp8l))
        + b"WEBP"
        + b"VP8L"
        + struct.pack("<I", len(vp8l))
        + vp8l
    )
    (example.parent / "image.webp").write_bytes(webp)
    edit(example, "./image.png", "./image.webp")
    text = example.read_text(encoding="utf-8").replace("/work/image.png", "/work/image.webp")
    example.write_text(text, encoding="utf-8")
    report = preflight(example, rehearsal=False)
    # Seed 000 never says whether the server checks the label: a warning that says so, not a NO-GO.
    (finding,) = [f for f in report.warnings if f.id == "image_mime_mismatch"]
    assert finding.evidence["guessed_onboard"] == "image/jpeg"
    assert finding.evidence["sniffed"] == "image/webp"
    assert "does not say whether the server checks the label" in finding.message


def test_png_bytes_named_jpg(example: Path, standin: type[StandInMock]) -> None:
    folder = example.parent
    (folder / "image.png").rename(folder / "image.jpg")
    example.write_text(
        example.read_text(encoding="utf-8").replace("image.png", "image.jpg"), encoding="utf-8"
    )
    report = preflight(example)
    assert "image_mime_mismatch" in ids(report, "warning")


def test_corrupt_image(example: Path, standin: type[StandInMock]) -> None:
    image = example.parent / "image.png"
    image.write_bytes(image.read_bytes()[:-20])  # truncated upload
    report = preflight(example, rehearsal=False)
    assert "image_undecodable" in ids(report)


# --------------------------------------------------------------------------------- rehearsal behaviour


def test_script_timeout(example: Path, standin: type[StandInMock]) -> None:
    edit(
        example.parent / "vlm_infer.py",
        "    args = parser.parse_args(argv)\n",
        "    args = parser.parse_args(argv)\n    import time\n\n    time.sleep(30)\n",
    )
    report = run_preflight(example, timeout=1, server_factory=_factory)
    assert {"script_timeout", "rehearsal_no_request"} <= ids(report)


def test_hardcoded_onboard_url_is_blocked_not_contacted(example: Path, standin: type[StandInMock]) -> None:
    # The script ignores --server and goes for the on-board host itself. It first makes sure the
    # rehearsal's network guard is loaded, so that even a broken guard sends nothing off the machine.
    edit(
        example.parent / "vlm_infer.py",
        '    url = args.server.rstrip("/") + ROUTE\n',
        "    import socket\n\n"
        "    if getattr(socket.getaddrinfo, '__module__', '') != 'sitecustomize':\n"
        "        print('network guard missing; not trying', file=sys.stderr)\n"
        "        return 9\n"
        "    url = 'http://liquid-3b.dphi-public' + ROUTE\n",
    )
    report = preflight(example)
    assert report.verdict == "NO-GO"
    errors = ids(report)
    assert {"rehearsal_external_contact", "rehearsal_no_request", "script_failed"} <= errors
    contact = next(f for f in report.errors if f.id == "rehearsal_external_contact")
    assert "liquid-3b.dphi-public" in contact.evidence["attempt"]
    assert report.rehearsal is not None and report.rehearsal["guarded"] is True


def test_proxies_are_not_passed_to_the_script(
    example: Path, standin: type[StandInMock], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HTTP_PROXY", "http://10.255.255.1:3128")
    monkeypatch.setenv("http_proxy", "http://10.255.255.1:3128")
    edit(
        example.parent / "vlm_infer.py",
        "    print(content)\n",
        "    import os\n\n"
        "    print(content, sorted(k for k, v in os.environ.items() if 'proxy' in k.lower() and v != '*'))\n",
    )
    report = preflight(example)
    assert report.verdict == "GO"
    assert report.rehearsal is not None
    assert report.rehearsal["stdout_tail"].strip().endswith("[]")


def test_rehearsal_copies_files_into_a_temporary_volume(example: Path, standin: type[StandInMock]) -> None:
    before = sorted(p.name for p in example.parent.iterdir())
    report = preflight(example)
    assert report.rehearsal is not None
    assert report.rehearsal["argv"][1:] == [
        "<volume>/work/vlm_infer.py",
        "--server",
        standin.instances[0].url,
        "--image",
        "<volume>/work/image.png",
        "--prompt",
        "describe this",
    ]
    assert report.rehearsal["argv"][0] == sys.executable
    # Neither the example's folder nor the real /work received the answer: it went to the temporary volume.
    assert sorted(p.name for p in example.parent.iterdir()) == before
    assert not Path("/work/output.txt").exists() or REPLY not in Path("/work/output.txt").read_text()


# ----------------------------------------------------------------------------------------- exit code 2


def test_missing_yaml_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["preflight", str(tmp_path / "nope.yaml")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "not found" in err


def test_yaml_syntax_error_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("kind: Operation\nspec: {steps: [\n", encoding="utf-8")
    assert main(["preflight", str(bad)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "not valid YAML" in err


def test_unreadable_script_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    script = tmp_path / "bad.py"
    script.write_bytes(b"print('\xff\xfe')\n")  # not UTF-8 and no coding cookie
    image = tmp_path / "i.png"
    image.write_bytes(png(4, 4))
    assert main(["preflight", "--script", str(script), "--image", str(image)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "cannot read" in err


def test_unreadable_uplinked_script_exit_2(example: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (example.parent / "vlm_infer.py").write_bytes(b"\xff\xfe\x00garbage")
    assert main(["preflight", str(example), "--no-rehearsal"]) == 2
    assert "cannot read" in capsys.readouterr().err


@pytest.mark.parametrize(
    "argv",
    [
        ["preflight"],
        ["preflight", "--script", "x.py"],
        ["preflight", "op.yaml", "--script", "x.py"],
        ["preflight", "--profile", "no-such-profile", "--script", "x.py", "--image", "y.png"],
        ["preflight", "--script", "missing.py", "--image", "missing.png"],
    ],
)
def test_usage_errors_exit_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == 2
    assert capsys.readouterr().err.startswith("chatcert:")


def test_help_mentions_go_no_go(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["preflight", "--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    for word in ("GO", "NO-GO", "--no-rehearsal", "--report-dir", "inferred"):
        assert word in out


# ------------------------------------------------------------------------------- against the real mock


@pytest.fixture
def real_mock() -> None:
    pytest.importorskip("aiohttp")
    pytest.importorskip("mock_server.runner")


def test_example_is_go_against_the_mock(example: Path, real_mock: None) -> None:
    report = preflight(example)
    assert report.verdict == "GO", [f.message for f in report.errors]
    assert report.rehearsal is not None
    assert report.rehearsal["requests"] == [{"method": "POST", "path": "/v1/chat/completions", "status": 200}]
    assert report.rehearsal["outputs"][0]["size"] > 0


def test_text_before_image_against_the_mock(example: Path, real_mock: None) -> None:
    script = example.parent / "vlm_infer.py"
    edit(script, '{"type": "image_url", "image_url": {"url": image_url}},\n', "")
    edit(
        script,
        '{"type": "text", "text": prompt},\n',
        '{"type": "text", "text": prompt},\n'
        '                    {"type": "image_url", "image_url": {"url": image_url}},\n',
    )
    report = preflight(example)
    assert report.verdict == "NO-GO"
    assert "request_text_before_image" in ids(report)


def test_oversize_image_against_the_mock(example: Path, real_mock: None, tmp_path: Path) -> None:
    # A custom profile file reaches the mock too: it refuses the image as the checks do.
    profile = custom_profile(tmp_path, "tight", max_image_width=16, max_image_height=16)
    report = preflight(example, profile=str(profile))
    assert report.verdict == "NO-GO"
    assert {"image_too_large", "request_rejected", "script_failed"} <= ids(report)


# ------------------------------------------------------------------ seed 000's own points, against the mock


def _drop_extension(example: Path) -> None:
    folder = example.parent
    (folder / "image.png").rename(folder / "image")
    example.write_text(example.read_text(encoding="utf-8").replace("image.png", "image"), encoding="utf-8")


def test_png_without_extension_is_sent_as_jpeg_and_warned(example: Path, real_mock: None) -> None:
    # Seed 000: "The script will infer the MIME type from the filename and fall back to image/jpeg if it
    # cannot determine one." It then sends the PNG labelled image/jpeg; the seed does not say that the
    # server refuses it, so the pre-flight warns (rename the file) and the rehearsal mock answers it.
    _drop_extension(example)
    report = preflight(example)
    assert report.verdict == "GO", [f.message for f in report.errors]
    mislabelled = [f for f in report.warnings if f.id == "image_mime_mismatch"]
    assert mislabelled and mislabelled[0].evidence["guessed_onboard"] == "image/jpeg"
    assert report.rehearsal is not None
    assert report.rehearsal["requests"][0]["status"] == 200


def test_a_mislabelled_image_is_no_go_where_the_profile_checks_labels(
    example: Path, real_mock: None, tmp_path: Path
) -> None:
    _drop_extension(example)
    profile = custom_profile(tmp_path, "labels", image_mime_label="checked")
    report = preflight(example, profile=str(profile))
    assert report.verdict == "NO-GO"
    assert {"image_mime_mismatch", "request_rejected"} <= ids(report)


def test_no_max_tokens_is_a_warning_and_the_mock_answers(example: Path, real_mock: None) -> None:
    # Seed 000: "max_tokens and temperature are optional parameters used by the example".
    edit(example.parent / "vlm_infer.py", '        "max_tokens": max_tokens,\n', "")
    report = preflight(example)
    assert report.verdict == "GO", [f.message for f in report.errors]
    assert "request_max_tokens_missing" in ids(report, "warning")
    assert report.rehearsal is not None
    assert report.rehearsal["requests"][0]["status"] == 200


def test_another_model_name_is_no_go_as_the_mock_answers_it(example: Path, real_mock: None) -> None:
    # Seed 000 documents one model name, "local"; the pre-flight and the rehearsal mock agree on others.
    edit(example, '--prompt "describe this"', '--prompt "describe this" --model lfm2-vl')
    report = preflight(example)
    assert report.verdict == "NO-GO"
    assert "request_model_unknown" in ids(report)
    assert report.rehearsal is not None
    assert report.rehearsal["requests"][0]["status"] == 404


# --------------------------------------------------------------------------------- one cause, told once


def test_a_crashing_script_is_one_cause_with_its_follow_ons_folded(
    example: Path, standin: type[StandInMock], capsys: pytest.CaptureFixture[str]
) -> None:
    edit(
        example.parent / "vlm_infer.py",
        'ROUTE = "/v1/chat/completions"\n',
        'ROUTE = "/v1/chat/completions"\nraise SystemExit("boom")\n',
    )
    report = preflight(example)
    assert {"script_failed", "rehearsal_no_request", "output_empty"} <= ids(report)
    doc = report.to_dict()
    causes = {f["id"]: f["caused_by"] for f in doc["findings"]}
    assert causes["script_failed"] is None
    assert causes["rehearsal_no_request"] == causes["output_empty"] == "script_failed"
    assert len(doc["reasons"]) == 1 and "boom" in doc["reasons"][0]
    assert main(["preflight", str(example)]) == 1
    out = capsys.readouterr().out
    verdict = out[out.index("NO-GO:") :].splitlines()
    assert verdict[1].startswith("  - [script_failed]")
    assert verdict[2].startswith("      + follows from it: [rehearsal_no_request]")
    assert verdict[3].startswith("      + follows from it: [output_empty]")
    # The rehearsal ran (and captured nothing): the estimate does not claim it was never rehearsed.
    assert "the rehearsal captured no request" in out and "not rehearsed" not in out


def test_a_syntax_error_folds_the_unbounded_usage_warning(example: Path, standin: type[StandInMock]) -> None:
    edit(
        example.parent / "vlm_infer.py",
        'ROUTE = "/v1/chat/completions"\n',
        'ROUTE = "/v1/chat/completions"\ndef broken(:\n',
    )
    # The max_tokens default lives in the script, which no longer parses: the bound is unknown.
    report = preflight(example)
    doc = report.to_dict()
    by_id = {f["id"]: f["caused_by"] for f in doc["findings"]}
    assert by_id.get("usage_unbounded") == "script_syntax_error"


def test_verbose_shows_what_the_downlink_would_bring_back(
    example: Path, standin: type[StandInMock], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["preflight", str(example), "-v"]) == 0
    line = next(
        x for x in capsys.readouterr().out.splitlines() if x.startswith("  downlink /work/output.txt")
    )
    assert "bytes): '" in line and len(line) > len("  downlink /work/output.txt (1 bytes): ''")
