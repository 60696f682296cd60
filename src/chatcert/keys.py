"""API keys come from an environment variable or a file, never from the command line."""

from __future__ import annotations

import os
from pathlib import Path

from chatcert.errors import UsageError

__all__ = ["load_api_key"]


def load_api_key(env_var: str | None, key_file: str | None, default_env: str | None = None) -> str | None:
    """The key named by --api-key-env / --api-key-file, else the profile's variable when it is set."""
    if env_var and key_file:
        raise UsageError("give either --api-key-env or --api-key-file, not both")
    if env_var:
        value = os.environ.get(env_var)
        if not value:
            raise UsageError(f"environment variable {env_var} (from --api-key-env) is not set or empty")
        return value.strip()
    if key_file:
        try:
            value = Path(key_file).read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError) as exc:
            raise UsageError(f"cannot read --api-key-file {key_file!r}: {type(exc).__name__}") from exc
        if not value:
            raise UsageError(f"--api-key-file {key_file!r} is empty")
        return value
    if default_env:
        value = os.environ.get(default_env, "").strip()
        return value or None
    return None
