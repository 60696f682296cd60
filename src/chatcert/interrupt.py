"""SIGINT and SIGTERM: stop the run where it is, keep what it found, and say so.

The handler raises `Interrupted` in the main thread. A blocking socket read is woken by the signal
(EINTR), so an in-flight request is abandoned at once rather than at its wall-clock deadline. The
exception derives from KeyboardInterrupt so that no `except Exception` on the way swallows it.
While reports are being written (`shielded()`), a further signal is only recorded: the report of an
interrupted run must not itself be cut in half.

An exception raised by a signal handler can be lost: when the signal lands while Python runs a
garbage-collector callback or a `__del__` (Hypothesis installs one), the interpreter prints
"Exception ignored in ..." and carries on. So the handler also records the signal, and `poll()`,
called before each request and between checks, raises it again until someone `acknowledge()`s it.
"""

from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any

__all__ = ["Interrupted", "acknowledge", "exit_code_for", "install", "poll", "restore", "shielded"]

_EXIT = {"SIGINT": 130, "SIGTERM": 143}
_state: dict[str, int] = {"shield": 0}
_pending: list[str] = []
_hooks: list[Any] = []  # the unraisable hooks `install()` replaced, to give back
_received: list[str] = []  # raised but not yet acknowledged by whoever stops the run


class Interrupted(KeyboardInterrupt):
    """The user (SIGINT) or the system (SIGTERM) asked the run to stop."""

    def __init__(self, signame: str = "SIGINT") -> None:
        super().__init__(signame)
        self.signame = signame

    @property
    def exit_code(self) -> int:
        return exit_code_for(self.signame)


def exit_code_for(signame: str) -> int:
    """130 for SIGINT, 143 for SIGTERM (128 + the signal number, as shells report it)."""
    return _EXIT.get(signame, 130)


def _handler(signum: int, frame: FrameType | None) -> None:
    if _state["shield"]:
        _pending.append(signal.Signals(signum).name)
        return
    name = signal.Signals(signum).name
    if not _received:
        _received.append(name)
    raise Interrupted(name)


def poll() -> None:
    """Raise `Interrupted` again if a signal arrived and its first raising may have been swallowed."""
    if _received and not _state["shield"]:
        raise Interrupted(_received[0])


def acknowledge() -> None:
    """The run has stopped for the signal: `poll()` is quiet again."""
    _received.clear()


_Handlers = dict[int, Any]


def _quiet_unraisable(unraisable: Any) -> None:
    # The interpreter would print the swallowed `Interrupted` with a traceback; `poll()` raises it
    # again where it can stop the run, so it is not news. Anything else goes to the usual hook.
    if isinstance(unraisable.exc_value, Interrupted):
        return
    sys.__unraisablehook__(unraisable)


def install() -> _Handlers:
    """Route SIGINT and SIGTERM to `Interrupted`; returns the handlers it replaced.

    Only the main thread may set handlers: elsewhere (chatcert called from a worker thread) this
    does nothing and KeyboardInterrupt keeps its usual meaning.
    """
    if threading.current_thread() is not threading.main_thread():
        return {}
    _received.clear()
    _hooks.append(sys.unraisablehook)
    sys.unraisablehook = _quiet_unraisable
    previous = {}
    for sig in (signal.SIGINT, signal.SIGTERM):
        previous[int(sig)] = signal.signal(sig, _handler)
    return previous


def restore(previous: _Handlers) -> None:
    if previous and _hooks:
        sys.unraisablehook = _hooks.pop()
    for sig, handler in previous.items():
        signal.signal(sig, handler)


@contextmanager
def shielded() -> Iterator[None]:
    """Signals arriving inside are held back until the block ends, then raised as `Interrupted`."""
    _state["shield"] += 1
    try:
        yield
    finally:
        _state["shield"] -= 1
    if not _state["shield"] and _pending:
        name = _pending[0]
        _pending.clear()
        raise Interrupted(name)
