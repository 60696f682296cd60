"""Transport safety: TLS verified by default, no redirect followed, run deadline, no retries of paid requests.

Also what tests/test_hostile_targets.py does not cover: a stream that never stalls and never ends, JSON
nested 100000 deep inside a stream event, memory bounded while a 1 GB body arrives, a run that goes on
past one failure but stops after repeated ones, and hostile targets for `chatcert bench` and
`chatcert replay`. Every server here listens on 127.0.0.1.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import ipaddress
import json
import re
import shutil
import socket
import ssl
import struct
import subprocess
import sys
import threading
import time
import tracemalloc
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from chatcert._models import RequestSpec
from chatcert.cli import main
from chatcert.client import Bounds, Client, Target, TooManyTransportFailures
from chatcert.profiles import load_profile
from mock_server.runner import MockServer

from evil_server import BEHAVIOURS, EvilServer, _read_request

KEY = "transport-safety-key-0123456789abcdef"
KEY_ENV = "CHATCERT_TRANSPORT_TEST_KEY"
BOUNDS = Bounds(deadline_s=2.0, stall_s=1.0, max_body_bytes=256 * 1024)
HOSTILE_CERTIFY = [
    "--timeout",
    "2",
    "--stall-timeout",
    "1",
    "--max-body-bytes",
    "262144",
    "--run-timeout",
    "60",
]
HOSTILE_BENCH = [
    "--requests",
    "2",
    "--concurrency",
    "1",
    "--warmup",
    "0",
    "--timeout",
    "2",
    "--stall-timeout",
    "1",
]


def cli(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    try:
        code = main(argv)
    except SystemExit as exc:
        code = int(exc.code or 0)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def wait_for(condition: Callable[[], bool], timeout_s: float) -> bool:
    """Poll `condition` until it holds or `timeout_s` passes (a server may still be finishing up)."""
    end = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > end:
            return False
        time.sleep(0.05)
    return True


def results(report_dir: Path) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads((report_dir / "results.json").read_text())
    return doc


def replay_file(directory: Path, profile: str = "compatible") -> Path:
    """A replay document as `certify --fuzz` saves it (schema harness/replay)."""
    loaded = load_profile(profile)
    doc = {
        "format": "chatcert-replay/1",
        "check": "fuzz_invalid_payloads_rejected",
        "profile": profile,
        "model": loaded.model,
        "request": {
            "method": "POST",
            "route": "/v1/chat/completions",
            "route_name": "chat",
            "stream": False,
            "headers": {"Content-Type": "application/json"},
            "body": {"encoding": "json", "json": {"model": loaded.model, "messages": [], "max_tokens": 1}},
        },
        "expected": {"property": "rejected", "rule": "REQ2", "level": "MUST", "kind": "empty-messages"},
        "observed": {"status": 500, "kind": "server_error", "message": "answered 500"},
    }
    path = directory / "replay.json"
    path.write_text(json.dumps(doc))
    return path


# -- loopback servers that record what reaches them ----------------------------------------------------

_CHUNK = {
    "id": "chatcmpl-1",
    "object": "chat.completion.chunk",
    "created": 1,
    "model": "default",
    "choices": [{"index": 0, "delta": {"role": "assistant", "content": "hi"}, "finish_reason": "stop"}],
}
_STREAM = f"data: {json.dumps(_CHUNK)}\n\ndata: [DONE]\n\n".encode()
_MODELS = json.dumps(
    {"object": "list", "data": [{"id": "default", "object": "model", "created": 0, "owned_by": "x"}]}
)


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]


Reply = Callable[[Seen, str], "tuple[int, dict[str, str], bytes]"]


def ok_reply(seen: Seen, base: str) -> tuple[int, dict[str, str], bytes]:
    if "text/event-stream" in seen.headers.get("accept", ""):
        return 200, {"Content-Type": "text/event-stream"}, _STREAM
    return 200, {"Content-Type": "application/json"}, _MODELS.encode()


class _Handler(BaseHTTPRequestHandler):
    server: Recorder

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        seen = Seen(self.command, self.path, {k.lower(): v for k, v in self.headers.items()})
        self.server.seen.append(seen)
        status, headers, body = self.server.reply(seen, self.server.base)
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _answer

    def log_message(self, format: str, *args: Any) -> None:
        pass


class Recorder(ThreadingHTTPServer):
    """Answers with `reply` and records every HTTP request that reached it (after TLS, if any)."""

    daemon_threads = True

    def __init__(self, reply: Reply = ok_reply, tls: ssl.SSLContext | None = None) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.reply = reply
        self.seen: list[Seen] = []
        self.tls = tls
        self.base = f"{'https' if tls else 'http'}://127.0.0.1:{self.server_address[1]}"

    def get_request(self) -> tuple[Any, Any]:
        conn, addr = super().get_request()
        if self.tls is not None:
            # The handshake happens on the first read, in the connection's own thread.
            conn = self.tls.wrap_socket(conn, server_side=True, do_handshake_on_connect=False)
        return conn, addr

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # refused handshakes and dropped clients are what these tests provoke

    def __enter__(self) -> Recorder:
        threading.Thread(target=self.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown()
        self.server_close()


# -- TLS ------------------------------------------------------------------------------------------------


def _cert_with_cryptography(cert: Path, key: Path) -> bool:
    try:
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import NameOID
    except ImportError:
        return False
    private = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.timezone.utc)
    built = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(private.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False
        )
        .sign(private, hashes.SHA256())
    )
    cert.write_bytes(built.public_bytes(serialization.Encoding.PEM))
    key.write_bytes(
        private.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return True


def _cert_with_openssl(cert: Path, key: Path) -> bool:
    openssl = shutil.which("openssl")
    if openssl is None:
        return False
    command = [openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    command += ["-keyout", str(key), "-out", str(cert), "-days", "1", "-subj", "/CN=127.0.0.1"]
    command += ["-addext", "subjectAltName=IP:127.0.0.1"]
    done = subprocess.run(command, capture_output=True, timeout=60, check=False)
    return done.returncode == 0


@pytest.fixture(scope="module")
def tls_context(tmp_path_factory: pytest.TempPathFactory) -> ssl.SSLContext:
    """A server context with a fresh self-signed certificate for 127.0.0.1 (trusted by nobody)."""
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    if not (_cert_with_cryptography(cert, key) or _cert_with_openssl(cert, key)):
        pytest.skip("cannot make a self-signed certificate: neither `cryptography` nor the openssl CLI")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    return context


@pytest.fixture
def tls_server(tls_context: ssl.SSLContext) -> Iterator[Recorder]:
    with Recorder(tls=tls_context) as server:
        yield server


def test_tls_is_verified_by_default(tls_server: Recorder) -> None:
    exchange = Client(Target(tls_server.base)).send(RequestSpec("GET", "/v1/models"))
    assert exchange.status is None
    assert exchange.error and "CERTIFICATE_VERIFY_FAILED" in exchange.error
    assert tls_server.seen == []  # the handshake failed: no HTTP request reached the server


def test_insecure_client_reaches_a_self_signed_server(tls_server: Recorder) -> None:
    exchange = Client(Target(tls_server.base, verify_tls=False)).send(RequestSpec("GET", "/v1/models"))
    assert exchange.status == 200 and exchange.error is None
    assert [s.path for s in tls_server.seen] == ["/v1/models"]


def test_certify_refuses_a_self_signed_server_unless_insecure(
    tls_server: Recorder, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base = ["certify", "--endpoint", tls_server.base, "--check", "models_list_ok", "-q"]
    code, _, err = cli([*base, "--report-dir", str(tmp_path / "verified")], capsys)
    assert code == 1 and "WARNING" not in err
    assert tls_server.seen == []
    doc = results(tmp_path / "verified")
    assert doc["target"]["tls_verified"] is True
    assert "CERTIFICATE_VERIFY_FAILED" in json.dumps(doc["results"])

    code, _, err = cli([*base, "--insecure", "--report-dir", str(tmp_path / "insecure")], capsys)
    assert "WARNING: TLS certificate verification is OFF (--insecure)" in err
    assert tls_server.seen, "with --insecure the request must get through"
    assert results(tmp_path / "insecure")["target"]["tls_verified"] is False


def test_bench_refuses_a_self_signed_server_unless_insecure(
    tls_server: Recorder, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base = ["bench", "--endpoint", tls_server.base, "--requests", "2", "--concurrency", "1", "--warmup", "0"]
    base += ["--no-progress", "--report-dir", str(tmp_path)]
    code, _, err = cli(base, capsys)
    assert code == 1 and "WARNING" not in err
    assert tls_server.seen == []
    code, _, err = cli([*base, "--insecure"], capsys)
    assert "WARNING: TLS certificate verification is OFF (--insecure)" in err
    assert code == 0 and len(tls_server.seen) == 2


def test_replay_refuses_a_self_signed_server_unless_insecure(
    tls_server: Recorder, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base = ["replay", str(replay_file(tmp_path)), "--endpoint", tls_server.base, "--timeout", "5"]
    code, out, err = cli(base, capsys)
    assert code == 1 and "CERTIFICATE_VERIFY_FAILED" in out and "WARNING" not in err
    assert tls_server.seen == []
    code, out, err = cli([*base, "--insecure"], capsys)
    assert "WARNING: TLS certificate verification is OFF (--insecure)" in err
    assert tls_server.seen


# -- redirects --------------------------------------------------------------------------------------------


@pytest.fixture
def catcher() -> Iterator[Recorder]:
    """Where redirects point: a different host name (localhost) and port than the target."""
    with Recorder() as server:
        yield server


def _redirect_to(catcher: Recorder, status: int) -> Reply:
    port = catcher.server_address[1]

    def reply(seen: Seen, base: str) -> tuple[int, dict[str, str], bytes]:
        return status, {"Location": f"http://localhost:{port}{seen.path}"}, b""

    return reply


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_client_never_follows_a_redirect(status: int, catcher: Recorder) -> None:
    with Recorder(_redirect_to(catcher, status)) as target:
        client = Client(Target(target.base, "bearer", KEY))
        exchange = client.send(
            RequestSpec("POST", "/v1/chat/completions", body={"model": "m", "messages": []})
        )
    assert exchange.status == status
    assert target.seen and target.seen[0].headers["authorization"] == f"Bearer {KEY}"
    assert catcher.seen == []


def _same_host_redirect(status: int) -> Reply:
    """Seed 001's curl uses -L: a server that moves its API under /api on the same host and port."""

    def reply(seen: Seen, base: str) -> tuple[int, dict[str, str], bytes]:
        if seen.path.startswith("/api/"):
            return ok_reply(seen, base)
        return status, {"Location": f"{base}/api{seen.path}"}, b""

    return reply


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_a_same_host_redirect_is_not_followed_either(status: int) -> None:
    # By design: the key goes only to the URL the user named, and a 301/302/303 would turn the POST into
    # a GET without its body (what curl -L does too), so the redirect is the answer, recorded as such.
    with Recorder(_same_host_redirect(status)) as target:
        client = Client(Target(target.base, "bearer", KEY))
        exchange = client.send(RequestSpec("POST", "/v1/chat/completions", body={"model": "m"}))
    assert exchange.status == status
    assert exchange.headers["location"] == f"{target.base}/api/v1/chat/completions"
    assert [s.path for s in target.seen] == ["/v1/chat/completions"]


def test_certify_names_the_redirect_target_so_the_user_can_point_at_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv(KEY_ENV, KEY)
    with Recorder(_same_host_redirect(308)) as target:
        endpoint = ["--endpoint", target.base, "--profile", "pharia", "--api-key-env", KEY_ENV]
        report = tmp_path / "c"
        code, _, err = cli(
            ["certify", *endpoint, "--no-budget", "--report-dir", str(report), "-q", "--area", "discovery"],
            capsys,
        )
        assert code == 1, err
    assert all(not s.path.startswith("/api/") for s in target.seen)
    results = json.loads((report / "results.json").read_text(encoding="utf-8"))
    (models_ok,) = [r for r in results["results"] if r["id"] == "models_list_ok"]
    assert f"308 redirect to {target.base}/api/v1/models" in models_ok["actual"]
    assert "point --endpoint at the URL the server redirects to" in models_ok["actual"]
    assert KEY not in (report / "results.json").read_text(encoding="utf-8")


def test_certify_bench_and_replay_never_carry_the_key_to_a_redirected_host(
    catcher: Recorder, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv(KEY_ENV, KEY)
    with Recorder(_redirect_to(catcher, 307)) as target:
        endpoint = ["--endpoint", target.base, "--profile", "pharia", "--api-key-env", KEY_ENV]
        code, _, err = cli(
            ["certify", *endpoint, "--no-budget", "--report-dir", str(tmp_path / "c"), "-q"], capsys
        )
        assert code == 1, err
        code, _, err = cli(
            [
                "bench",
                *endpoint,
                "--no-budget",
                "--requests",
                "2",
                "--concurrency",
                "1",
                "--no-progress",
                "--report-dir",
                str(tmp_path / "b"),
            ],
            capsys,
        )
        assert code == 1, err
        code, _, err = cli(["replay", str(replay_file(tmp_path, "pharia")), *endpoint], capsys)
        assert code == 1, err
    paths = {s.path for s in target.seen}
    assert {"/v1/models", "/v1/chat/completions"} <= paths
    assert any(s.headers.get("authorization") == f"Bearer {KEY}" for s in target.seen)
    assert catcher.seen == []


@pytest.mark.parametrize("listed", ["http://[::1", "http://127.0.0.1:99999"])
def test_a_hostile_discovery_map_is_a_finding_not_a_crash(
    listed: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    model = load_profile("libertai").model

    def reply(seen: Seen, base: str) -> tuple[int, dict[str, str], bytes]:
        if seen.path == "/libertai/models":
            return (
                200,
                {"Content-Type": "application/json"},
                json.dumps({model: {"servers": [listed]}}).encode(),
            )
        return ok_reply(seen, base)

    with Recorder(reply) as target:
        code, _, err = cli(
            [
                "certify",
                "--endpoint",
                target.base,
                "--profile",
                "libertai",
                "--no-budget",
                "--follow-servers",
                "--check",
                "models_list_ok",
                "--report-dir",
                str(tmp_path),
                "-q",
            ],
            capsys,
        )
    assert code in (0, 1) and "internal error" not in err, err


# -- run deadline, one failure against repeated failures --------------------------------------------------


def test_the_total_run_timeout_stops_a_slow_but_healthy_target(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Every answer is correct but takes 0.4 s, so no transport failure ever stops the run: only the run
    # deadline can.
    with MockServer("compatible", scenario={"fault": "slow_headers", "delay_ms": 400}) as server:
        code, _, err = cli(
            ["certify", "--endpoint", server.url, "--run-timeout", "2", "--report-dir", str(tmp_path), "-q"],
            capsys,
        )
        sent = results(tmp_path)["budget"]["requests_sent"]
        # The request the run deadline cut is journalled when the mock's handler gives up on it.
        received = wait_for(lambda: len(server.journal()) >= sent, 5) and len(server.journal())
    doc = results(tmp_path)
    assert code == 1 and len(err.strip().splitlines()) == 1
    assert doc["stopped"] and "deadline" in doc["stopped"]
    assert 1 <= sent <= 8 and received == sent
    stopped = [r for r in doc["results"] if r["outcome"] == "skipped" and r["reason"].startswith("stopped")]
    assert len(stopped) > 20


class ResettingProxy:
    """Forwards TCP to `upstream`, except that the connections numbered in `resets` (1-based) get a reset."""

    def __init__(self, upstream: str, resets: set[int]) -> None:
        host, port = upstream.split("://", 1)[1].rsplit(":", 1)
        self.upstream = (host, int(port))
        self.resets = resets
        self.connections = 0
        self._sock = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._sock.getsockname()[1]}"
        self._stop = threading.Event()

    def __enter__(self) -> ResettingProxy:
        threading.Thread(target=self._accept, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._sock.close()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            self.connections += 1
            if self.connections in self.resets:
                _read_request(conn)
                conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                conn.close()
                continue
            threading.Thread(target=self._forward, args=(conn,), daemon=True).start()

    def _forward(self, conn: socket.socket) -> None:
        with contextlib.suppress(OSError), conn, socket.create_connection(self.upstream) as up:
            back = threading.Thread(target=_pipe, args=(up, conn), daemon=True)
            back.start()
            _pipe(conn, up)
            back.join(timeout=30)


def _pipe(source: socket.socket, sink: socket.socket) -> None:
    with contextlib.suppress(OSError):
        while data := source.recv(65536):
            sink.sendall(data)
        sink.shutdown(socket.SHUT_WR)


def test_client_failure_count_resets_on_success() -> None:
    with MockServer("compatible") as server, ResettingProxy(server.url, {1, 2, 4, 5}) as proxy:
        client = Client(Target(proxy.url))
        statuses = [client.send(RequestSpec("GET", "/v1/models")).status for _ in range(6)]
    assert statuses == [None, None, 200, None, None, 200]


def test_client_stops_after_repeated_failures_without_sending_more() -> None:
    with MockServer("compatible") as server, ResettingProxy(server.url, {1, 2, 3}) as proxy:
        client = Client(Target(proxy.url))
        for _ in range(3):
            assert client.send(RequestSpec("GET", "/v1/models")).error
        with pytest.raises(TooManyTransportFailures):
            client.send(RequestSpec("GET", "/v1/models"))
        assert proxy.connections == 3


def test_certify_goes_on_past_one_transport_failure(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with MockServer("compatible") as server, ResettingProxy(server.url, {1}) as proxy:
        code, _, _ = cli(["certify", "--endpoint", proxy.url, "--report-dir", str(tmp_path), "-q"], capsys)
    doc = results(tmp_path)
    failed = [r for r in doc["results"] if r["outcome"] == "failed"]
    assert doc["stopped"] is None and code == 1
    # Only the checks judging the one reset request fail (the models list: compatible claims no health
    # route, so it is the first request; two checks share it).
    assert failed and all(r["message"].startswith("no HTTP response") for r in failed)
    assert len({r["evidence"][0]["label"] for r in failed}) == 1
    assert doc["summary"]["passed"] >= 20


def test_certify_stops_after_repeated_transport_failures(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with MockServer("compatible") as server, ResettingProxy(server.url, {1, 2, 3}) as proxy:
        code, _, err = cli(["certify", "--endpoint", proxy.url, "--report-dir", str(tmp_path), "-q"], capsys)
        connections = proxy.connections
    doc = results(tmp_path)
    assert code == 1 and "unreachable or failing" in err
    assert doc["stopped"] and doc["budget"]["requests_sent"] == 3 and connections == 3


# -- retries: never for paid requests, never past the budget ----------------------------------------------


@pytest.mark.parametrize(
    "scenario",
    [{"fault": "drop"}, {"status": 503}, {"status": 429, "retry_after": 1}, {"fault": "drop_mid_stream"}],
    ids=["dropped", "503", "429", "dropped-mid-stream"],
)
def test_certify_never_resends_a_failed_paid_request(
    scenario: dict[str, Any],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv(KEY_ENV, KEY)
    with MockServer("pharia", api_key=KEY, scenario=scenario) as server:
        cli(
            [
                "certify",
                "--endpoint",
                server.url,
                "--profile",
                "pharia",
                "--api-key-env",
                KEY_ENV,
                "--no-budget",
                "--report-dir",
                str(tmp_path),
                "-q",
            ],
            capsys,
        )
        journal = server.journal()
    doc = results(tmp_path)
    # Every send is counted against the budget; a retry inside the client would reach the mock uncounted.
    assert doc["budget"]["requests_sent"] >= 3
    assert len(journal) == doc["budget"]["requests_sent"]


def test_a_402_is_never_paid_and_never_retried(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv(KEY_ENV, KEY)
    with MockServer("libertai", api_key=KEY, scenario={"status": 402}) as server:
        cli(
            [
                "certify",
                "--endpoint",
                server.url,
                "--profile",
                "libertai",
                "--api-key-env",
                KEY_ENV,
                "--no-budget",
                "--report-dir",
                str(tmp_path),
                "-q",
            ],
            capsys,
        )
        journal = server.journal()
    doc = results(tmp_path)
    assert any(e["status"] == 402 for e in journal)
    assert len(journal) == doc["budget"]["requests_sent"]
    assert not [e for e in journal if "x-payment" in {h.lower() for h in e["headers"]}]


def test_bench_never_resends_a_failed_request(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with MockServer("compatible", scenario={"status": 503}) as server:
        code, _, _ = cli(
            [
                "bench",
                "--endpoint",
                server.url,
                "--requests",
                "5",
                "--concurrency",
                "1",
                "--warmup",
                "0",
                "--no-progress",
                "--report-dir",
                str(tmp_path),
            ],
            capsys,
        )
        journal = server.journal()
    assert code == 1 and len(journal) == 5


def test_bench_stays_within_max_requests(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with MockServer("compatible") as server:
        cli(
            [
                "bench",
                "--endpoint",
                server.url,
                "--requests",
                "10",
                "--concurrency",
                "2",
                "--max-requests",
                "3",
                "--no-progress",
                "--report-dir",
                str(tmp_path),
            ],
            capsys,
        )
        journal = server.journal()
    assert 1 <= len(journal) <= 3


# -- more hostile behaviours ------------------------------------------------------------------------------


class MoreEvil(EvilServer):
    """EvilServer's machinery with behaviours tests/evil_server.py does not have."""

    MORE = ("keepalive_trickle", "deep_sse", "close_second", "headers_then_silence", "big_body")
    BIG_BODY = 128 * 1024 * 1024

    def __init__(self, behaviour: str) -> None:
        if behaviour not in self.MORE:
            raise ValueError(behaviour)
        super().__init__("stall")
        self.behaviour = behaviour
        self.requests = 0

    def __enter__(self) -> MoreEvil:
        super().__enter__()
        return self

    def _serve(self, conn: socket.socket) -> None:
        with contextlib.suppress(OSError), conn:
            getattr(self, "_" + self.behaviour)(conn)

    def _keepalive_trickle(self, conn: socket.socket) -> None:
        """Never silent long enough to trip the stall bound, never a data event, never an end."""
        _read_request(conn)
        self.requests += 1
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n\r\n")
        while self._alive():
            conn.sendall(b": keep-alive\n\n")
            time.sleep(0.2)

    def _headers_then_silence(self, conn: socket.socket) -> None:
        """Headers, then nothing at all for as long as the server lives."""
        _read_request(conn)
        self.requests += 1
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n\r\n")
        while self._alive():
            time.sleep(0.05)

    def _deep_sse(self, conn: socket.socket) -> None:
        _read_request(conn)
        self.requests += 1
        body = b"data: " + b"[" * 100000 + b"]" * 100000 + b"\n\ndata: [DONE]\n\n"
        conn.sendall(
            b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\nContent-Length: "
            + str(len(body)).encode()
            + b"\r\n\r\n"
            + body
        )

    def _big_body(self, conn: socket.socket) -> None:
        """huge_body at an eighth of the size, for a client that has no byte cap yet (see below)."""
        _read_request(conn)
        self.requests += 1
        conn.sendall(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "
            + str(self.BIG_BODY).encode()
            + b"\r\n\r\n"
        )
        block = b" " * 65536
        for _ in range(self.BIG_BODY // len(block)):
            if not self._alive():
                return
            conn.sendall(block)

    def _close_second(self, conn: socket.socket) -> None:
        """Keep-alive: answer the first request on a connection, then read the next and hang up."""
        for number in (1, 2):
            if not _read_request(conn):
                return
            self.requests += 1
            if number == 2:
                return
            conn.sendall(
                b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nContent-Length: "
                + str(len(_STREAM)).encode()
                + b"\r\n\r\n"
                + _STREAM
            )


@pytest.mark.parametrize("behaviour", ["keepalive_trickle", "headers_then_silence"])
def test_a_stream_that_never_ends_is_cut_by_the_deadlines(behaviour: str) -> None:
    with MoreEvil(behaviour) as server:
        client = Client(Target(server.url), BOUNDS)
        start = time.monotonic()
        exchange = client.send(RequestSpec("POST", "/v1/chat/completions", body={"model": "m"}, stream=True))
        elapsed = time.monotonic() - start
    assert exchange.error and exchange.data_events() == []
    # Bounded, not fast: a target that never stops would run forever; the slack is for a loaded machine.
    assert elapsed < BOUNDS.deadline_s + BOUNDS.stall_s + 6, elapsed


_DEEP_SSE = (
    "JSON nested 100000 deep inside a stream event raises RecursionError out of Client.send (the token "
    "count): probes end 'errored' (certify exit 3), replay crashes (exit 3). Fix: src/chatcert/client.py "
    "line 259 in _completion_tokens: `except (ValueError, RecursionError): continue`; "
    "src/chatcert/context.py CheckContext.chunks: `except (ValueError, RecursionError): continue`; "
    "src/chatcert/_models.py SSEEvent.json: turn RecursionError into ValueError('event JSON nests too "
    "deeply') as Exchange.json does"
)


def test_client_survives_json_nested_100000_deep_in_a_stream_event() -> None:
    with MoreEvil("deep_sse") as server:
        exchange = Client(Target(server.url), BOUNDS).send(
            RequestSpec("POST", "/v1/chat/completions", body={"model": "m"}, stream=True)
        )
    assert exchange.status == 200 and exchange.tokens_used == -1


@pytest.mark.parametrize(
    "behaviour",
    [
        "keepalive_trickle",
        "headers_then_silence",
        pytest.param("deep_sse"),
    ],
)
def test_certify_against_more_hostile_targets_fails_cleanly(
    behaviour: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with MoreEvil(behaviour) as server:
        code, out, err = cli(
            ["certify", "--endpoint", server.url, *HOSTILE_CERTIFY, "--report-dir", str(tmp_path), "-q"],
            capsys,
        )
    assert code == 1, err
    assert "Traceback" not in out + err and len(err.strip().splitlines()) == 1
    doc = results(tmp_path)
    assert [r for r in doc["results"] if r["outcome"] == "failed"]
    assert not [r["id"] for r in doc["results"] if r["outcome"] == "errored"]


_BENCH_DEEP = (
    "chatcert bench parses a response body (or stream event) nested 100000 deep with json.loads/raw_decode "
    "and lets RecursionError escape: 'internal error', exit 3. Fix: src/chatcert/bench/events.py "
    "observe_json and observe_stream: `except (ValueError, RecursionError):`"
)


@pytest.mark.parametrize(
    "behaviour",
    [
        *[
            pytest.param(b) if b == "deep_json" else b
            for b in BEHAVIOURS
            if b != "huge_body"  # measured in a child process below: in-process it would hold ~1 GB
        ],
        "keepalive_trickle",
        "headers_then_silence",
        pytest.param("deep_sse"),
    ],
)
def test_bench_against_a_hostile_target_fails_cleanly(
    behaviour: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    server = MoreEvil(behaviour) if behaviour in MoreEvil.MORE else EvilServer(behaviour)
    with server:
        start = time.monotonic()
        code, out, err = cli(
            [
                "bench",
                "--endpoint",
                server.url,
                *HOSTILE_BENCH,
                "--no-progress",
                "--report-dir",
                str(tmp_path),
            ],
            capsys,
        )
        elapsed = time.monotonic() - start
    lines = err.strip().splitlines()
    assert code == 1, err
    assert "Traceback" not in out + err and "internal error" not in err
    assert lines and lines[-1].startswith("chatcert: no request succeeded")
    assert elapsed < 60
    level = json.loads((tmp_path / "bench.json").read_text())["levels"][0]
    assert level["ok"] == 0 and level["failed"] >= 1


def test_bench_stops_a_level_after_repeated_failures(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with EvilServer("reset_mid_body") as server:
        code, _, _ = cli(
            [
                "bench",
                "--endpoint",
                server.url,
                "--requests",
                "200",
                "--concurrency",
                "1",
                "--warmup",
                "0",
                "--no-progress",
                "--report-dir",
                str(tmp_path),
            ],
            capsys,
        )
        connections = server.connections
    level = json.loads((tmp_path / "bench.json").read_text())["levels"][0]
    assert code == 1 and level["stopped"] and "in a row" in level["stopped"]
    assert connections < 200


def test_bench_never_resends_a_request_a_server_hung_up_on(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with MoreEvil("close_second") as server:
        cli(
            [
                "bench",
                "--endpoint",
                server.url,
                "--requests",
                "3",
                "--concurrency",
                "1",
                "--warmup",
                "0",
                "--no-progress",
                "--report-dir",
                str(tmp_path),
                "--timeout",
                "5",
            ],
            capsys,
        )
        received = server.requests
    assert received == 3


@pytest.mark.parametrize(
    "behaviour",
    [
        *BEHAVIOURS,
        "keepalive_trickle",
        "headers_then_silence",
        pytest.param("deep_sse"),
    ],
)
def test_replay_against_a_hostile_target_fails_cleanly(
    behaviour: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    server = MoreEvil(behaviour) if behaviour in MoreEvil.MORE else EvilServer(behaviour)
    with server:
        code, out, err = cli(
            ["replay", str(replay_file(tmp_path)), "--endpoint", server.url, "--timeout", "2"], capsys
        )
    assert code == 1, err
    assert "Traceback" not in out + err and "internal error" not in err
    assert re.search(r"^(STILL FAILS|INCONCLUSIVE): ", out, re.MULTILINE), out


# -- memory stays bounded while a 1 GB body arrives -----------------------------------------------------


def test_client_memory_is_bounded_by_the_byte_cap() -> None:
    cap = 1024 * 1024
    with EvilServer("huge_body") as server:
        client = Client(Target(server.url), Bounds(deadline_s=10, stall_s=5, max_body_bytes=cap))
        tracemalloc.start()
        try:
            exchange = client.send(RequestSpec("POST", "/v1/chat/completions", body={"model": "m"}))
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
    assert exchange.truncated and len(exchange.body) == cap
    assert peak < 4 * cap, peak


_RSS_PROBE = """
import json, resource, sys
resource.setrlimit(resource.RLIMIT_AS, (3 << 30, 3 << 30))  # a runaway child fails instead of swapping
from chatcert.cli import main
import chatcert._cli.bench, chatcert._cli.certify, chatcert.bench, chatcert.checks  # before the baseline
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
try:
    code = main(json.loads(sys.argv[1]))
except SystemExit as exc:
    code = exc.code
print(json.dumps({"code": code, "growth_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before}))
"""


def peak_rss_growth_mib(argv: list[str], cwd: Path) -> tuple[int, float]:
    """Run `chatcert ARGV` in a child process; its exit code and how far its peak RSS rose (MiB)."""
    done = subprocess.run(
        [sys.executable, "-c", _RSS_PROBE, json.dumps(argv)],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=cwd,
        check=False,
    )
    report = json.loads(done.stdout.strip().splitlines()[-1])
    return int(report["code"]), report["growth_kib"] / 1024


def test_certify_peak_memory_stays_bounded_while_a_1gb_body_arrives(tmp_path: Path) -> None:
    command = ["certify", *HOSTILE_CERTIFY[:4], "--max-body-bytes", "1048576", "--report-dir", "r", "-q"]
    with EvilServer("html_200") as small:
        code_small, baseline = peak_rss_growth_mib([*command, "--endpoint", small.url], tmp_path)
    with EvilServer("huge_body") as huge:
        code_huge, growth = peak_rss_growth_mib([*command, "--endpoint", huge.url], tmp_path)
    assert code_small == code_huge == 1
    assert growth - baseline < 48, (baseline, growth)


def test_bench_peak_memory_stays_bounded_while_a_large_body_arrives(tmp_path: Path) -> None:
    # 128 MiB, not 1 GB: without a cap the child would hold several GB (see the reason above).
    command = ["bench", *HOSTILE_BENCH[:6], "--timeout", "30", "--no-progress", "--report-dir", "r"]
    with EvilServer("html_200") as small:
        code_small, baseline = peak_rss_growth_mib([*command, "--endpoint", small.url], tmp_path)
    with MoreEvil("big_body") as big:
        code_big, growth = peak_rss_growth_mib([*command, "--endpoint", big.url], tmp_path)
    assert code_small == code_big == 1
    assert growth - baseline < 48, (baseline, growth)
