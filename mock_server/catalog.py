"""The small GET routes: health, the models list, LibertAI discovery and auth check."""

from __future__ import annotations

from typing import Any

from mock_server.auth import key_is_valid
from mock_server.errors import MockError
from mock_server.exchange import Exchange
from mock_server.replies import JsonReply, Reply

__all__ = ["handle_auth_check", "handle_discovery", "handle_health", "handle_model", "handle_models"]

_CREATED = 1767225600  # 2026-01-01: a fixed date keeps the models list deterministic


def _model(model_id: str) -> dict[str, Any]:
    return {"id": model_id, "object": "model", "created": _CREATED, "owned_by": "chatcert-mock"}


async def handle_health(ex: Exchange) -> Reply:
    return JsonReply({"status": "ok"})


async def handle_models(ex: Exchange) -> Reply:
    """OpenAI `GET /v1/models`."""
    return JsonReply({"object": "list", "data": [_model(m) for m in ex.profile.all_models]})


async def handle_model(ex: Exchange) -> Reply:
    """OpenAI `GET /v1/models/{id}`."""
    model_id = ex.request.match_info.get("model_id", "")
    if model_id not in ex.profile.all_models:
        raise MockError(404, f"The model '{model_id}' does not exist", param="model", code="model_not_found")
    return JsonReply(_model(model_id))


async def handle_discovery(ex: Exchange) -> Reply:
    """LibertAI `GET /libertai/models`: every model is served by this very server."""
    origin = str(ex.request.url.origin())
    return JsonReply({m: {"servers": [origin]} for m in ex.profile.all_models})


async def handle_auth_check(ex: Exchange) -> Reply:
    """LibertAI `GET /libertai/auth/check`: 200 with a valid key, 401 otherwise."""
    if not key_is_valid(ex):
        raise MockError(401, "Missing or invalid API key", code="invalid_api_key")
    return JsonReply({"status": "ok"})
