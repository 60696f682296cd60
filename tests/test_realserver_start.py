"""RealServer's startup proves the server can generate, not only list models (no llama.cpp needed).

A stand-in for `python -m llama_cpp.server` answers GET /v1/models and then, at its first chat
request, answers, fails, or dies of SIGILL as a llama.cpp built for the wrong CPU does.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from realserver import RealServer, RealServerStartError
from realserver import _server as server_module
from realserver._model import ModelPaths

_FAKE = f"""#!{sys.executable}
import json, os, signal, sys
from http.server import BaseHTTPRequestHandler, HTTPServer

MODE = os.environ["FAKE_SERVER_MODE"]
PORT = int(sys.argv[sys.argv.index("--port") + 1])


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def _send(self, status, body):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        self._send(200, {{"object": "list", "data": [{{"id": "m", "object": "model"}}]}})

    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        if MODE == "sigill":
            print("add_text: <start_of_turn>user", flush=True)
            os.kill(os.getpid(), signal.SIGILL)
        if MODE == "500":
            self._send(500, {{"error": "boom"}})
            return
        self._send(200, {{"choices": [{{"message": {{"role": "assistant", "content": "h"}}}}]}})


HTTPServer(("127.0.0.1", PORT), Handler).serve_forever()
"""


@pytest.fixture
def fake_python(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    script = tmp_path / "fake-python"
    script.write_text(_FAKE)
    script.chmod(0o755)
    paths = ModelPaths(model=tmp_path / "m.gguf", projector=tmp_path / "p.gguf", text_dim=640)
    monkeypatch.setattr(server_module, "prepare_model", lambda cache_dir: paths)
    monkeypatch.setattr(server_module, "require_llama_cpp", lambda: None)
    return script


def _server(fake_python: Path, tmp_path: Path) -> RealServer:
    return RealServer(tmp_path, python=str(fake_python), startup_timeout=20.0, log_path=tmp_path / "log")


def test_a_server_that_answers_its_first_chat_request_is_started(
    fake_python: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_SERVER_MODE", "ok")
    with _server(fake_python, tmp_path) as server:
        assert server.is_running()
        assert server.startup_seconds is not None


def test_a_server_that_dies_of_sigill_at_its_first_request_is_a_start_error_that_says_so(
    fake_python: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_SERVER_MODE", "sigill")
    with pytest.raises(RealServerStartError) as caught:
        _server(fake_python, tmp_path).start()
    message = str(caught.value)
    assert "died at its first chat request" in message
    assert "SIGILL" in message and "CMAKE_ARGS" in message
    assert "add_text" in message  # the log tail comes along


def test_a_server_whose_first_chat_request_fails_is_a_start_error(
    fake_python: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_SERVER_MODE", "500")
    with pytest.raises(RealServerStartError, match=r"first chat request failed .*HTTP 500"):
        _server(fake_python, tmp_path).start()


def test_exit_reasons_name_the_signal() -> None:
    assert server_module._exit_reason(1) == "exit code 1"
    assert server_module._exit_reason(-9) == "SIGKILL"
    assert server_module._exit_reason(-4).startswith("SIGILL: llama.cpp was compiled")
