"""A canary key, planted every way chatcert reads keys, never shows up in anything chatcert prints or writes.

Each test plants a unique random key, runs commands through `chatcert.cli.main` in a temporary working
directory (so `.chatcert/` history and `.hypothesis/` land there too), then scans stdout, stderr, the
log records, the mock's journal and every file under the working directory for the key, its base64
and its URL-encoded forms. The key is also checked to have been *used* (the mock saw authenticated
requests), so a scan of a run that never touched the key cannot pass by accident.
"""

from __future__ import annotations

import base64
import json
import logging
import secrets
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus

import pytest

import chatcert.targets as targets_module
import mock_server.runner
from chatcert._models import RequestSpec
from chatcert._redact import REDACTED, Redactor
from chatcert.bench import MockProcess
from chatcert.cli import main
from chatcert.client import Client, Target
from chatcert.profiles import builtin_profiles, load_profile
from mock_server.runner import MockServer

try:  # the fuzz area registers itself once chatcert.checks imports it; until then, import it here
    import chatcert.checks.fuzz  # noqa: F401

    HAVE_FUZZ = True
except ImportError:  # pragma: no cover - the fuzz area is not in this checkout
    HAVE_FUZZ = False

REPO = Path(__file__).resolve().parents[1]
OPERATION = REPO / "examples" / "liquidai" / "liquidai.yaml"
KEY_ENV = "CHATCERT_CANARY_KEY"
# Answers every client error with 200: the fuzz checks fail at once and save failing payloads to replay.
FUZZ_DEFECT = "client_errors_as_200"


def make_canary() -> str:
    """A key no run can produce by chance; '+', '/' and '=' make its URL-encoded form differ from it."""
    return f"canary-{secrets.token_hex(20)}+{secrets.token_hex(6)}/Q="


def forms(key: str) -> dict[str, bytes]:
    """The key as chatcert might write it: verbatim, base64 (both alphabets), URL-encoded."""
    raw = key.encode()
    return {
        "plain": raw,
        "base64": base64.b64encode(raw),
        "base64url": base64.urlsafe_b64encode(raw).rstrip(b"="),
        "urlencoded": quote(key, safe="").encode(),
        "form-encoded": quote_plus(key).encode(),
    }


@dataclass
class Scan:
    """Where any form of `key` was found."""

    key: str
    hits: list[str] = field(default_factory=list)

    def text(self, where: str, value: str | bytes) -> None:
        data = value.encode("utf-8", "surrogateescape") if isinstance(value, str) else value
        for name, needle in forms(self.key).items():
            if needle in data:
                self.hits.append(f"{where} ({name})")

    def tree(self, root: Path, skip: tuple[Path, ...] = ()) -> int:
        """Scan every file under `root` (except `skip`); returns how many files were read."""
        count = 0
        for path in sorted(root.rglob("*")):
            if path.is_file() and path not in skip:
                self.text(str(path.relative_to(root)), path.read_bytes())
                count += 1
        return count


def cli(
    argv: list[str], capsys: pytest.CaptureFixture[str], scan: Scan | None = None
) -> tuple[int, str, str]:
    """Run `chatcert ARGV`; argparse errors exit through SystemExit. Output is scanned when given a Scan."""
    try:
        code = main(argv)
    except SystemExit as exc:
        code = int(exc.code or 0)
    captured = capsys.readouterr()
    if scan is not None:
        scan.text(f"stdout of {argv[0]}", captured.out)
        scan.text(f"stderr of {argv[0]}", captured.err)
    return code, captured.out, captured.err


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh working directory, so history (.chatcert/) and every default path are ours to scan."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("CHATCERT_ENDPOINT", raising=False)
    monkeypatch.delenv("CHATCERT_PROFILE", raising=False)
    monkeypatch.delenv("CHATCERT_BENCH_DIR", raising=False)
    return tmp_path


def plant_everywhere(key: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The canary in our variable and in every profile's own key variable: no command may echo them."""
    monkeypatch.setenv(KEY_ENV, key)
    for name in builtin_profiles():
        env = load_profile(name).key_env
        if env:
            monkeypatch.setenv(env, key)


def replay_document(profile: str) -> dict[str, Any]:
    """A replay file as `certify --fuzz` saves it (schema harness/replay), for runs that found none."""
    loaded = load_profile(profile)
    return {
        "format": "chatcert-replay/1",
        "check": "fuzz_invalid_payloads_rejected",
        "profile": profile,
        "model": loaded.model,
        "request": {
            "method": "POST",
            "route": loaded.route("chat") or "/v1/chat/completions",
            "route_name": "chat",
            "stream": False,
            "headers": {"Content-Type": "application/json", "Authorization": f"Bearer {REDACTED}"},
            "body": {"encoding": "json", "json": {"model": loaded.model, "messages": [], "max_tokens": 1}},
        },
        "expected": {"property": "rejected", "rule": "REQ2", "level": "MUST", "kind": "empty-messages"},
        "observed": {"status": 500, "kind": "server_error", "message": "answered 500"},
    }


def authenticated(journal: list[dict[str, Any]]) -> int:
    """Requests the mock answered 2xx that carried a (redacted) credential: the key was really used."""
    return sum(
        1
        for entry in journal
        if isinstance(entry.get("status"), int)
        and 200 <= entry["status"] < 300
        and any(name.lower() in ("authorization", "x-api-key") for name in entry["headers"])
    )


# -- a full set of commands against mocks that require the key ---------------------------------------


@pytest.mark.skipif(not HAVE_FUZZ, reason="the fuzz area (chatcert.checks.fuzz) is not in this checkout")
@pytest.mark.parametrize("source", ["env", "file"])
@pytest.mark.parametrize("profile", ["pharia", "libertai"])
def test_a_full_run_never_leaks_the_key(
    profile: str,
    source: str,
    workdir: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    key = make_canary()
    scan = Scan(key)
    plant_everywhere(key, monkeypatch)
    key_file = workdir / "secrets" / "key.txt"
    key_file.parent.mkdir()
    key_file.write_text(key + "\n")
    key_args = ["--api-key-env", KEY_ENV] if source == "env" else ["--api-key-file", str(key_file)]
    caplog.set_level(logging.DEBUG)
    with MockServer(profile, api_key=key, defects=(FUZZ_DEFECT,), log_requests=True) as server:
        target = ["--endpoint", server.url, "--profile", profile, *key_args]
        code, _, _ = cli(
            [
                "certify",
                *target,
                "--no-budget",  # a mock: nothing is paid
                "-v",
                "--fuzz",
                "--max-examples",
                "10",
                "--seed",
                "1",
                "--report-dir",
                "reports/certify",
            ],
            capsys,
            scan,
        )
        assert code == 1  # the defect makes checks fail, so failing payloads and reproducers exist
        saved = sorted((workdir / "reports" / "certify" / "failures").glob("*.json"))
        assert saved, "certify --fuzz saved no failing payload: the replay part would scan nothing"
        for path in saved[:3]:
            code, out, _ = cli(["replay", str(path), *target, "--timeout", "10"], capsys, scan)
            assert code in (0, 1) and ("FIXED" in out or "STILL FAILS" in out or "INCONCLUSIVE" in out)
        code, _, _ = cli(
            [
                "bench",
                *target,
                "--no-budget",
                "--requests",
                "3",
                "--concurrency",
                "1,2",
                "--save",
                "canary-run",
                "--report-dir",
                "reports/bench",
                "--no-progress",
            ],
            capsys,
            scan,
        )
        assert code == 0
        journal = server.journal()
    code, _, _ = cli(
        ["preflight", str(OPERATION), "--json", "--report-dir", "reports/preflight"], capsys, scan
    )
    assert code in (0, 1)
    scan.text("log records", "\n".join(r.getMessage() for r in caplog.records))
    scan.text("mock journal", json.dumps(journal))
    files = scan.tree(workdir, skip=(key_file,))

    assert authenticated(journal) >= 10, "the key was not used: the scan proves nothing"
    assert (workdir / ".chatcert" / "bench" / "canary-run.json").is_file()
    assert (workdir / "reports" / "preflight" / "preflight.json").is_file()
    assert files >= 10
    assert scan.hits == []


def test_the_embedded_mocks_one_off_key_never_leaks(
    workdir: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Without --endpoint chatcert makes up a key for its own mock; that key is a secret like any other."""
    keys: list[str] = []

    class RecordingServer(MockServer):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            if self.api_key:
                keys.append(self.api_key)

    class RecordingProcess(MockProcess):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            if self.api_key:
                keys.append(self.api_key)

    monkeypatch.setattr(mock_server.runner, "MockServer", RecordingServer)
    monkeypatch.setattr(targets_module, "MockProcess", RecordingProcess)
    caplog.set_level(logging.DEBUG)
    replay_file = workdir / "replay.json"
    replay_file.write_text(json.dumps(replay_document("pharia")))
    outputs: list[str] = []
    runs = [
        ["certify", "--profile", "pharia", "-v", "--report-dir", "reports/certify"],
        ["replay", str(replay_file), "--profile", "pharia", "--timeout", "10"],
        [
            "bench",
            "--profile",
            "pharia",
            "--requests",
            "2",
            "--concurrency",
            "1",
            "--no-pin",
            "--no-progress",
            "--save",
            "embedded",
            "--report-dir",
            "reports/bench",
        ],
    ]
    for argv in runs:
        code, out, err = cli(argv, capsys)
        assert code in (0, 1), err
        outputs += [out, err]
    if len(keys) < len(runs):
        pytest.skip("the embedded mock's key could not be observed through the server objects")
    for key in keys:
        scan = Scan(key)
        for number, text in enumerate(outputs):
            scan.text(f"output {number}", text)
        scan.text("log records", "\n".join(r.getMessage() for r in caplog.records))
        scan.tree(workdir)
        assert scan.hits == []
    doc = json.loads((workdir / "reports" / "certify" / "results.json").read_text())
    assert doc["target"]["api_key"] == REDACTED


# -- a target that echoes the credential back ---------------------------------------------------------


class _Echo(BaseHTTPRequestHandler):
    """Answers everything 200 with the credential it received, encoded as `server.form` says."""

    server: EchoServer

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        credential = self.headers.get("Authorization", "").partition(" ")[2] or self.headers.get(
            "x-api-key", ""
        )
        echo = self.server.encode(credential)
        self.server.seen += int(bool(credential))
        if "text/event-stream" in self.headers.get("Accept", ""):
            chunk = {
                "id": "chatcmpl-echo",
                "object": "chat.completion.chunk",
                "created": 1,
                "model": "m",
                "choices": [
                    {"index": 0, "delta": {"role": "assistant", "content": echo}, "finish_reason": None}
                ],
            }
            body = f"data: {json.dumps(chunk)}\n\ndata: [DONE]\n\n".encode()
            kind = "text/event-stream"
        else:
            doc = {
                "id": "chatcmpl-echo",
                "object": "chat.completion",
                "created": 1,
                "model": "m",
                "echo": echo,
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": f"you sent {echo}"},
                        "finish_reason": "stop",
                    }
                ],
                "data": [{"id": echo, "object": "model"}],
            }
            body = json.dumps(doc).encode()
            kind = "application/json"
        self.send_response(200)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("X-Echo", echo)
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = do_PUT = do_DELETE = _answer

    def log_message(self, format: str, *args: Any) -> None:
        pass


class EchoServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, form: str) -> None:
        super().__init__(("127.0.0.1", 0), _Echo)
        self.form = form
        self.seen = 0

    def encode(self, value: str) -> str:
        if not value:
            return ""
        return forms(value)[self.form].decode()


@pytest.fixture
def echo_server(request: pytest.FixtureRequest) -> Iterator[EchoServer]:
    server = EchoServer(request.param)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


_ECHO_LEAK = (
    "Redactor only replaces a key verbatim; a target that echoes it base64- or URL-encoded gets it into "
    "evidence. Fix: src/chatcert/_redact.py Redactor.add/__init__ also register base64.b64encode(s), "
    "base64.urlsafe_b64encode(s).rstrip(b'='), urllib.parse.quote(s, safe='') and quote_plus(s) of "
    "each secret"
)


@pytest.mark.parametrize(
    "echo_server",
    [
        "plain",
        pytest.param("base64"),
        pytest.param("urlencoded"),
    ],
    indirect=True,
)
def test_a_target_that_echoes_the_key_does_not_get_it_into_the_evidence(
    echo_server: EchoServer,
    workdir: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    key = make_canary()
    monkeypatch.setenv(KEY_ENV, key)
    scan = Scan(key)
    url = f"http://127.0.0.1:{echo_server.server_address[1]}"
    code, _, _ = cli(
        [
            "certify",
            "--endpoint",
            url,
            "--profile",
            "pharia",
            "--api-key-env",
            KEY_ENV,
            "--no-budget",
            "-v",
            "--report-dir",
            "reports",
            "--timeout",
            "10",
        ],
        capsys,
        scan,
    )
    assert code == 1
    assert echo_server.seen >= 5, "the key was not sent: the scan proves nothing"
    scan.tree(workdir)
    assert scan.hits == []


# -- keys given the wrong way ---------------------------------------------------------------------------

_ECHOED_NAME = (
    "the error line repeats the value given to --api-key-env/--api-key-file, which is the key itself when "
    "the user wrote `--api-key-env $KEY`. Fix: src/chatcert/keys.py load_api_key (and "
    "mock_server/runner.py ServeOptions.resolved_key): when the value is not a variable name "
    "(re.fullmatch(r'[A-Za-z_][A-Za-z0-9_]*')) or the file does not exist and the value is longer "
    "than 20 chars, say 'the value given to "
    "--api-key-env is not a variable name (not shown: it may be the key itself)' without the value"
)


def _command(name: str, replay_file: Path) -> list[str]:
    return {
        "certify": ["certify", "--endpoint", "http://127.0.0.1:9", "-q"],
        "bench": ["bench", "--endpoint", "http://127.0.0.1:9", "--requests", "1", "--no-progress"],
        "replay": ["replay", str(replay_file), "--endpoint", "http://127.0.0.1:9"],
        "mock": ["mock", "--profile", "pharia", "--port", "0"],
    }[name]


@pytest.mark.parametrize(
    ("command", "option"),
    [
        ("certify", "--api-key-env"),
        ("certify", "--api-key-file"),
        ("bench", "--api-key-env"),
        ("bench", "--api-key-file"),
        ("replay", "--api-key-env"),
        ("replay", "--api-key-file"),
        ("mock", "--api-key-env"),
    ],
)
def test_a_key_pasted_where_its_name_belongs_is_not_printed(
    command: str, option: str, workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    key = make_canary().replace("/", "_")  # a shell-expanded key, as in `--api-key-env $MY_KEY`
    replay_file = workdir / "replay.json"
    replay_file.write_text(json.dumps(replay_document("pharia")))
    scan = Scan(key)
    code, _, err = cli([*_command(command, replay_file), option, key], capsys, scan)
    assert code == 2 and len(err.strip().splitlines()) == 1, err
    assert scan.hits == []


_KEY_OPTION = (
    "argparse echoes `--api-key=KEY` whole in its 'ambiguous option' error (it is a prefix of --api-key-env "
    "and --api-key-file). Fix: src/chatcert/_cli/_common.py add_target_options (and bench's, which uses it): "
    "a hidden `--api-key` option (help=argparse.SUPPRESS) whose type function raises "
    "argparse.ArgumentTypeError('keys are never taken on the command line; use --api-key-env VAR or "
    "--api-key-file PATH') without the value"
)


@pytest.mark.parametrize("command", ["certify", "bench", "replay"])
@pytest.mark.parametrize("form", ["separate", pytest.param("joined")])
def test_a_key_on_the_command_line_is_refused_without_echoing_it(
    command: str, form: str, workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    key = make_canary()
    replay_file = workdir / "replay.json"
    replay_file.write_text(json.dumps(replay_document("pharia")))
    given = [f"--api-key={key}"] if form == "joined" else ["--api-key", key]
    scan = Scan(key)
    code, _, err = cli([*_command(command, replay_file), *given], capsys, scan)
    assert code == 2 and len(err.strip().splitlines()) == 1, err
    assert scan.hits == []


def test_a_key_file_with_two_lines_is_refused_without_showing_it(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    key = make_canary()
    key_file = workdir / "key.txt"
    key_file.write_text(f"{key}\nsecond-line\n")
    scan = Scan(key)
    with MockServer("pharia", api_key=key) as server:
        code, _, err = cli(
            [
                "certify",
                "--endpoint",
                server.url,
                "--profile",
                "pharia",
                "--api-key-file",
                str(key_file),
                "--report-dir",
                "reports",
                "-q",
            ],
            capsys,
            scan,
        )
    scan.tree(workdir, skip=(key_file,))
    assert scan.hits == []
    assert code == 2 and len(err.strip().splitlines()) == 1


# -- the redactor and URLs that carry credentials -------------------------------------------------------


@pytest.mark.parametrize(
    "name", ["key", "api_key", "apikey", "API-KEY", "access_token", "token", "secret", "password", "auth"]
)
def test_redactor_url_hides_key_like_query_values(name: str) -> None:
    key = make_canary()
    url = f"https://api.example.com/v1/chat?model=m&{name}={quote(key, safe='')}"
    shown = Redactor().url(url)
    assert key not in shown and quote(key, safe="") not in shown
    assert "model=m" in shown and "api.example.com/v1/chat" in shown


@pytest.mark.parametrize("name", ["sig", "passwd", "X-Amz-Credential"])
def test_redactor_url_hides_signature_query_values(name: str) -> None:
    key = make_canary()
    shown = Redactor().url(f"https://blob.example.com/x?sv=2024&{name}={quote(key, safe='')}")
    assert key not in shown and quote(key, safe="") not in shown


def test_redactor_url_hides_userinfo_and_keeps_the_rest() -> None:
    user, password = "alice", make_canary()
    shown = Redactor().url(f"https://{user}:{quote(password, safe='')}@api.example.com:8443/v1?x=1")
    assert password not in shown and quote(password, safe="") not in shown and user not in shown
    assert shown.startswith("https://") and "api.example.com:8443/v1" in shown and "x=1" in shown


@pytest.mark.parametrize(
    ("name", "value", "shown"),
    [
        ("Authorization", "Bearer {key}", f"Bearer {REDACTED}"),
        ("authorization", "Basic {key}", f"Basic {REDACTED}"),
        ("x-api-key", "{key}", REDACTED),
        ("X-API-Key", "{key}", REDACTED),
        ("X-PAYMENT", "{key}", REDACTED),
        ("Proxy-Authorization", "Bearer {key}", REDACTED),
        ("Cookie", "session={key}", REDACTED),
        ("api-key", "{key}", REDACTED),
    ],
)
def test_redactor_headers_hide_credentials(name: str, value: str, shown: str) -> None:
    key = make_canary()
    out = Redactor().headers({name: value.format(key=key), "Accept": "application/json"})
    assert out[name] == shown
    assert out["Accept"] == "application/json"


def test_redactor_text_hides_known_secrets_anywhere() -> None:
    key = make_canary()
    redactor = Redactor([key])
    assert (
        redactor.text(f"error: bad key {key} (twice: {key})")
        == f"error: bad key {REDACTED} (twice: {REDACTED})"
    )
    assert redactor.headers({"X-Echo": f"you sent {key}"})["X-Echo"] == f"you sent {REDACTED}"


@pytest.mark.parametrize(
    ("scheme", "header"), [("bearer", "Authorization: Bearer"), ("x-api-key", "x-api-key:")]
)
def test_curl_reproducer_names_the_key_by_variable(scheme: str, header: str) -> None:
    key = make_canary()
    with MockServer("pharia", api_key=key) as server:
        client = Client(Target(server.url, scheme, key))
        exchange = client.send(RequestSpec("GET", "/v1/models"))
    assert key not in exchange.curl
    assert f"{header} ${{CHATCERT_API_KEY}}" in exchange.curl


def _userinfo_endpoint(url: str, user_secret: str, query_secret: str) -> str:
    host = url.split("://", 1)[1]
    return f"http://user:{quote(user_secret, safe='')}@{host}/?key={quote(query_secret, safe='')}"


def test_endpoint_userinfo_and_key_query_stay_out_of_reports_and_output(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    user_secret, query_secret = make_canary(), make_canary()
    scans = [Scan(user_secret), Scan(query_secret)]
    with MockServer("compatible") as server:
        endpoint = _userinfo_endpoint(server.url, user_secret, query_secret)
        code, out, err = cli(["certify", "--endpoint", endpoint, "-v", "--report-dir", "reports"], capsys)
        journal = server.journal()
    assert code in (0, 1) and journal, "the endpoint was never reached"
    for scan in scans:
        scan.text("stdout", out)
        scan.text("stderr", err)
        scan.tree(workdir)
        assert scan.hits == []
    doc = json.loads((workdir / "reports" / "results.json").read_text())
    assert REDACTED in doc["target"]["endpoint"]


def test_dry_run_does_not_print_endpoint_credentials(capsys: pytest.CaptureFixture[str]) -> None:
    user_secret, query_secret = make_canary(), make_canary()
    endpoint = _userinfo_endpoint("http://127.0.0.1:9", user_secret, query_secret)
    code, out, err = cli(["certify", "--endpoint", endpoint, "--dry-run"], capsys)
    assert code == 0
    for secret in (user_secret, query_secret):
        scan = Scan(secret)
        scan.text("dry run", out + err)
        assert scan.hits == []


def test_endpoint_credentials_stay_out_of_log_records(
    workdir: Path, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    user_secret, query_secret = make_canary(), make_canary()
    caplog.set_level(logging.DEBUG)
    with MockServer("compatible") as server:
        endpoint = _userinfo_endpoint(server.url, user_secret, query_secret)
        argv = [
            "certify",
            "--endpoint",
            endpoint,
            "--check",
            "models_list_ok",
            "--report-dir",
            "reports",
            "-q",
        ]
        cli(argv, capsys)
        assert server.journal(), "the endpoint was never reached"
    logs = "\n".join(r.getMessage() for r in caplog.records)
    assert logs, "nothing was logged: the scan proves nothing"
    for secret in (user_secret, query_secret):
        scan = Scan(secret)
        scan.text("log records", logs)
        assert scan.hits == []


def test_the_log_filter_holds_only_the_redactors_of_live_clients() -> None:
    """httpx's log filter keeps each client's redactor while the client lives, not forever."""
    import gc

    from chatcert.client import _LOG_REDACTOR

    key = make_canary()
    client = Client(Target("http://127.0.0.1:9", "bearer", key))
    record = logging.LogRecord("httpx", logging.INFO, __file__, 1, f"HTTP Request: key {key}", None, None)
    _LOG_REDACTOR.filter(record)
    assert key not in record.getMessage()
    before = len(_LOG_REDACTOR.redactors)
    del client
    gc.collect()
    assert len(_LOG_REDACTOR.redactors) == before - 1
