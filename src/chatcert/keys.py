"""API keys come from an environment variable or a file, never from the command line."""

from __future__ import annotations

import os
import re
from pathlib import Path

from chatcert.errors import UsageError

__all__ = ["key_origin", "load_api_key"]


_VAR_NAME = re.compile(r"[A-Z_][A-Z0-9_]{0,63}")


def _shown(name: str) -> str:
    """A variable name as it may appear in a message. Someone who typed the key itself where a name
    belongs must not see it echoed into a CI log: only conventional upper-case names are shown."""
    return name if _VAR_NAME.fullmatch(name) else "(the value given, not shown: not a variable NAME)"


def _checked(key: str, origin: str) -> str:
    # A key with whitespace, control or non-ASCII characters is a broken paste (two lines of a file, a
    # stray quote); sent as a header it makes the HTTP library echo it in an error message.
    if not key.isascii() or any(ch.isspace() or not ch.isprintable() for ch in key):
        raise UsageError(
            f"the key from {origin} contains spaces, line breaks, control or non-ASCII characters"
        )
    return key


def load_api_key(env_var: str | None, key_file: str | None, default_env: str | None = None) -> str | None:
    """The key named by --api-key-env / --api-key-file, else the profile's variable when it is set."""
    if env_var and key_file:
        raise UsageError("give either --api-key-env or --api-key-file, not both")
    if env_var:
        value = os.environ.get(env_var)
        if not value or not value.strip():
            raise UsageError(
                f"environment variable {_shown(env_var)} (from --api-key-env) is not set or empty"
            )
        return _checked(value.strip(), f"environment variable {_shown(env_var)}")
    if key_file:
        try:
            value = Path(key_file).read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError) as exc:
            raise UsageError(f"cannot read the file given to --api-key-file: {type(exc).__name__}") from exc
        if not value:
            raise UsageError("the file given to --api-key-file is empty")
        return _checked(value, "--api-key-file")
    if default_env:
        value = os.environ.get(default_env, "").strip()
        return _checked(value, f"environment variable {_shown(default_env)}") if value else None
    return None


def key_origin(env_var: str | None, key_file: str | None, default_env: str | None = None) -> str:
    """Where load_api_key takes the key from, for a message that must name it (never the key itself)."""
    if env_var:
        return f"environment variable {_shown(env_var)}"
    if key_file:
        return "the file given to --api-key-file"
    if default_env:
        return f"environment variable {_shown(default_env)}"
    return "the configured key"
