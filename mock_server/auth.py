"""API-key checks per the profile's `auth.scheme` (Anthropic's `messages` route takes either header)."""

from __future__ import annotations

import hmac

from mock_server.errors import MockError
from mock_server.exchange import Exchange

__all__ = ["check_auth", "key_is_valid", "presented_key"]


def presented_key(ex: Exchange) -> str | None:
    """The credential the client sent in the header the profile (or route) uses."""
    headers = ex.request.headers
    scheme, _, token = headers.get("Authorization", "").partition(" ")
    bearer = token.strip() if scheme.lower() == "bearer" and token.strip() else None
    api_key = headers.get("x-api-key") or None
    if ex.route == "messages":
        return api_key or bearer
    return api_key if ex.profile.auth_scheme == "x-api-key" else bearer


def key_is_valid(ex: Exchange) -> bool:
    """Whether the presented key is the configured one (any key, when the mock was given none)."""
    key = presented_key(ex)
    expected = ex.state.api_key
    if key is None:
        return False
    return expected is None or hmac.compare_digest(key.encode(), expected.encode())


def check_auth(ex: Exchange) -> None:
    """401 when the profile requires auth, the mock has a key, and the request lacks it."""
    profile = ex.profile
    if not profile.auth_required or profile.auth_scheme == "none" or ex.state.api_key is None:
        return
    if presented_key(ex) is None:
        where = "x-api-key header" if profile.auth_scheme == "x-api-key" else "Authorization: Bearer header"
        raise MockError(401, f"Missing API key: send it in the {where}", code="missing_api_key")
    if not key_is_valid(ex):
        raise MockError(401, "Invalid API key", code="invalid_api_key")
