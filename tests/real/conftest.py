"""Fixtures for tests against a real third-party server (llama-cpp-python serving Gemma 3 270M + vision).

``real_server`` starts one server for the whole session on a free 127.0.0.1 port and stops it at the end.
It skips only when the ``real`` extra is not installed (an import fails); set ``CHATCERT_REQUIRE_REAL=1``
(CI does) to turn that skip into an error. A server that is installed but does not start is an error.
Model files are cached in ``$CHATCERT_REAL_CACHE`` or ``~/.cache/chatcert/real``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from realserver import (
    RealServer,
    RealServerUnavailable,
    base_model_chunks,
    default_cache_dir,
    require_llama_cpp,
)


def pytest_configure(config: pytest.Config) -> None:
    # pyproject registers `real` too; registering it here as well keeps --strict-markers happy either way.
    config.addinivalue_line("markers", "real: needs the real llama-cpp-python server (the 'real' extra)")


def _require_install() -> None:
    require_llama_cpp()
    base_model_chunks()
    try:
        import gguf  # noqa: F401
    except ImportError as exc:
        raise RealServerUnavailable(f"the PyPI package 'gguf' is not installed ({exc})") from exc


@pytest.fixture(scope="session")
def real_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RealServer]:
    """A running :class:`RealServer`: ``.base_url`` is ``http://127.0.0.1:PORT/v1``; ``.model_alias``."""
    try:
        _require_install()
    except RealServerUnavailable as exc:
        if os.environ.get("CHATCERT_REQUIRE_REAL") == "1":
            pytest.fail(f"CHATCERT_REQUIRE_REAL=1 but the real server cannot be installed: {exc}")
        pytest.skip(f"real server not installed: {exc}")
    log_path = tmp_path_factory.mktemp("real-server") / "server.log"
    with RealServer(default_cache_dir(), log_path=log_path) as server:
        yield server
