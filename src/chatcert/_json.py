"""JSON from untrusted servers: deep nesting is malformed input, not a harness crash."""

from __future__ import annotations

import json
from typing import Any

__all__ = ["parse_json"]


def parse_json(data: str | bytes | bytearray) -> Any:
    """json.loads, except that JSON nested too deeply to parse raises ValueError like any malformed JSON."""
    try:
        return json.loads(data)
    except RecursionError as exc:
        raise ValueError("JSON nests too deeply to parse") from exc
