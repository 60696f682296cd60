"""Host discovery (LibertAI's ``GET /libertai/models``): the servers behind a model, and who gets the key."""

from __future__ import annotations

from urllib.parse import urlsplit

from chatcert._models import RequestSpec
from chatcert.client import Client
from chatcert.profiles import Profile

__all__ = ["discover_servers", "host_allowed"]


def discover_servers(client: Client, profile: Profile, model: str) -> tuple[list[str], str | None]:
    """The server URLs listed for `model`, or ([], why not)."""
    route = profile.route("discovery")
    if route is None:
        return [], f"profile {profile.name} has no discovery route"
    ex = client.send(RequestSpec("GET", route, label="discovery map (follow servers)", auth=False))
    if ex.status != 200:
        return [], f"discovery answered {ex.status}: {ex.error or ex.excerpt(200)}"
    try:
        doc = ex.json()
    except ValueError as exc:
        return [], f"discovery body is not JSON: {exc}"
    entry = doc.get(model) if isinstance(doc, dict) else None
    servers = entry.get("servers") if isinstance(entry, dict) else None
    if not isinstance(servers, list):
        return [], f"no servers listed for model {model!r}"
    urls = [s.rstrip("/") for s in servers if isinstance(s, str) and _usable(s)]
    return urls, None


def _usable(url: str) -> bool:
    """An http(s) URL with a host and a valid port (a hostile map may list anything)."""
    try:
        parts = urlsplit(url)
        return parts.scheme in ("http", "https") and bool(parts.hostname) and (parts.port or 1) <= 65535
    except ValueError:
        return False


def host_allowed(url: str, allowed: tuple[str, ...]) -> bool:
    """Is the host of `url` (optionally with its port) in the user's --allow-host list?"""
    try:
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
        with_port = f"{host}:{parts.port}" if parts.port else host
    except ValueError:
        return False
    return any(a.lower() in (host, with_port) for a in allowed)
