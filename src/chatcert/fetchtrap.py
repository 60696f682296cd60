"""A loopback listener that records who fetches the URLs chatcert hands a server.

A server that fetches a client-supplied image URL itself can be made to reach internal addresses
(OWASP API7:2023, server-side request forgery). chatcert cannot see what a remote server fetches,
but when the target runs on this host its fetch of `http://127.0.0.1:<port>/...` lands here. The
listener answers every request 404 (it serves nothing), records the method, path and user agent,
and lives only for one probe.
"""

from __future__ import annotations

import ipaddress
import secrets
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

__all__ = ["FetchTrap", "is_loopback_target"]

# How long to wait for a fetch after the server answered: a server may fetch after replying (async).
_GRACE_S = 0.5


def is_loopback_target(base_url: str) -> bool:
    """The target runs on this host, so its fetches of 127.0.0.1 reach chatcert's listener."""
    host = urlsplit(base_url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class _Handler(BaseHTTPRequestHandler):
    server: _TrapServer

    def _record(self) -> None:
        self.server.hits.append(
            {
                "method": self.command,
                "path": self.path,
                "user_agent": self.headers.get("User-Agent", ""),
                "from": self.client_address[0],
            }
        )
        self.server.hit.set()
        self.send_response(404)
        self.send_header("Content-Length", "0")
        self.end_headers()

    do_GET = do_HEAD = do_POST = _record

    def log_message(self, format: str, *args: Any) -> None:
        """Silent: the hits are the record."""


class _TrapServer(ThreadingHTTPServer):
    daemon_threads = True
    hits: list[dict[str, str]]
    hit: threading.Event


class FetchTrap:
    """`with FetchTrap() as trap:` hand `trap.url` to the server, then `trap.wait()` lists the fetches."""

    def __init__(self) -> None:
        self._server = _TrapServer(("127.0.0.1", 0), _Handler)
        self._server.hits = []
        self._server.hit = threading.Event()
        self._server.timeout = 1.0
        port = self._server.server_address[1]
        # A unique path: a hit on it can only come from this probe's URL.
        self.url = f"http://127.0.0.1:{port}/chatcert-probe/{secrets.token_hex(8)}.png"
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="chatcert-fetchtrap", daemon=True
        )

    def __enter__(self) -> FetchTrap:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=2.0)

    def wait(self, grace_s: float = _GRACE_S) -> list[dict[str, str]]:
        """The fetches so far, after waiting up to `grace_s` for a first one."""
        self._server.hit.wait(grace_s)
        time.sleep(0.05 if self._server.hits else 0)  # let a fetch in flight finish its record
        return list(self._server.hits)
