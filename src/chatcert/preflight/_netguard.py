"""Network guard for the rehearsal's subprocess, copied into it as `sitecustomize.py`.

It lets the unmodified script reach loopback (the mock) and nothing else: name look-ups and connections
to any other host fail as an unreachable host would, and each attempt is written to the log the
pre-flight reads back (`CHATCERT_PREFLIGHT_GUARD_LOG`). Importing this module does nothing; only the
copy named `sitecustomize` installs itself.
"""

from __future__ import annotations

import os
import socket
from typing import Any

__all__ = ["install", "is_loopback"]

_LOOPBACK_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback"}


def is_loopback(host: object) -> bool:
    """True for 127.0.0.0/8, ::1 and the usual names of them."""
    if isinstance(host, bytes):
        host = host.decode("ascii", "replace")
    if not isinstance(host, str):
        return False
    host = host.strip("[]").lower()
    return host in _LOOPBACK_NAMES or host == "::1" or host.startswith("127.")


def _note(line: str) -> None:
    path = os.environ.get("CHATCERT_PREFLIGHT_GUARD_LOG")
    if path:
        with open(path, "a", encoding="utf-8") as log:
            log.write(line + "\n")


def install() -> None:
    """Wrap socket's resolver and connect so that only loopback peers are reachable."""
    real_getaddrinfo = socket.getaddrinfo
    real_gethostbyname = socket.gethostbyname
    real_gethostbyname_ex = socket.gethostbyname_ex
    real_connect = socket.socket.connect
    real_connect_ex = socket.socket.connect_ex

    def refuse(host: object, port: object = None) -> socket.gaierror:
        _note(f"blocked {host}:{port}" if port is not None else f"blocked {host}")
        return socket.gaierror(
            socket.EAI_NONAME, f"chatcert preflight: {host} is not reachable in a rehearsal"
        )

    def getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        if host is not None and not is_loopback(host):
            raise refuse(host, port)
        return real_getaddrinfo(host, port, *args, **kwargs)

    def gethostbyname(host: str) -> str:
        if not is_loopback(host):
            raise refuse(host)
        return real_gethostbyname(host)

    def gethostbyname_ex(host: str) -> tuple[str, list[str], list[str]]:
        if not is_loopback(host):
            raise refuse(host)
        return real_gethostbyname_ex(host)

    def allowed(sock: socket.socket, address: Any) -> bool:
        if sock.family not in (socket.AF_INET, socket.AF_INET6):
            return True  # Unix sockets and the like never leave the machine
        return isinstance(address, tuple) and is_loopback(address[0])

    def connect(self: socket.socket, address: Any) -> None:
        if not allowed(self, address):
            _note(f"blocked connect {address}")
            raise ConnectionRefusedError(f"chatcert preflight: {address} is not reachable in a rehearsal")
        real_connect(self, address)

    def connect_ex(self: socket.socket, address: Any) -> int:
        if not allowed(self, address):
            _note(f"blocked connect {address}")
            return 111  # ECONNREFUSED
        return real_connect_ex(self, address)

    socket.getaddrinfo = getaddrinfo
    socket.gethostbyname = gethostbyname
    socket.gethostbyname_ex = gethostbyname_ex
    socket.socket.connect = connect  # type: ignore[method-assign,assignment]
    socket.socket.connect_ex = connect_ex  # type: ignore[method-assign,assignment]
    _note("guard installed")


if __name__ == "sitecustomize":
    install()
