"""Exceptions of the real-server helpers."""

from __future__ import annotations

__all__ = ["RealServerError", "RealServerStartError", "RealServerUnavailable"]


class RealServerError(RuntimeError):
    """Base class of every real-server failure."""


class RealServerUnavailable(RealServerError):
    """A package the real server needs (``llama_cpp``, the model package, ``gguf``) is not installed.

    Callers (the pytest fixture) turn this, and only this, into a skip.
    """


class RealServerStartError(RealServerError):
    """The server process did not come up (crashed, or ``/v1/models`` did not answer before the deadline)."""
