"""Exceptions that map to the exit codes every chatcert command keeps.

0: every MUST check passed (GO, dry-run, gate held); 1: a check failed, the target was unreachable,
NO-GO or a gate tripped; 2: the user's input is unusable; 3: the harness itself broke.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable

__all__ = ["ChatcertError", "HarnessError", "TargetError", "UsageError", "did_you_mean"]


# Names other tools give these options (pytest -k/--select habits, curl's --url): spelling distance
# would suggest something unrelated ('--only' is closest to '--costly').
_SYNONYMS = {"--only": "--check", "--select": "--check", "--checks": "--check", "--url": "--endpoint"}


def did_you_mean(given: str, valid: Iterable[str]) -> str:
    """'; did you mean 'x'?' when a valid value is close to what the user typed, else ''."""
    valid = list(valid)
    flag = given.split("=", 1)[0]
    if _SYNONYMS.get(flag) in valid:
        return f"; did you mean {_SYNONYMS[flag]!r}?"
    close = difflib.get_close_matches(given, valid, n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else ""


class ChatcertError(Exception):
    """Base class: carries the exit code the CLI turns it into."""

    exit_code = 3


class UsageError(ChatcertError):
    """The user's input cannot be used (bad option, unknown profile, unreadable file, unset key)."""

    exit_code = 2


class TargetError(ChatcertError):
    """The target could not be certified (unreachable, NO-GO, gate tripped)."""

    exit_code = 1


class HarnessError(ChatcertError):
    """The harness itself broke."""

    exit_code = 3
