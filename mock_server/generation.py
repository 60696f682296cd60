"""Deterministic "model output": reply text from a request hash, token counts, minimal JSON instances."""

from __future__ import annotations

import functools
import hashlib
import json
import random
import re
from collections.abc import Iterable
from typing import Any

from jsonschema import Draft202012Validator

__all__ = [
    "IMAGE_TOKENS",
    "digest",
    "minimal_instance",
    "reply_text",
    "split_tokens",
    "word_count",
]

IMAGE_TOKENS = 85  # fixed prompt cost of one image, like OpenAI's low-detail tile
_MIN_WORDS, _MAX_WORDS = 5, 16
_WORDS = """
    amber anchor apple arrow basalt beacon birch bright canyon cedar cloud comet copper coral crisp
    delta dune ember fern field flint frost garnet glacier granite harbor hazel island ivory jade kelp
    lagoon lantern lilac linen maple meadow mesa mint moss nectar north oak ocean onyx orbit pebble pine
    quartz quiet raven reef ridge river sable sage shore slate spruce stone summit tide willow zephyr
"""
_VOCABULARY = tuple(_WORDS.split())
_TOKEN = re.compile(r"\s*\S+")


def digest(*parts: Any) -> str:
    """SHA-256 hex of the canonical JSON of `parts` (what makes a reply deterministic)."""
    text = json.dumps(parts, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


@functools.lru_cache(maxsize=1024)  # a pure function; a latency run asks the same question thousands of times
def reply_text(seed: str, index: int, words: int | None = None) -> str:
    """A sentence of words from a fixed vocabulary; `words` overrides the length (5-16 by default)."""
    rng = random.Random(f"{seed}:{index}")
    count = rng.randint(_MIN_WORDS, _MAX_WORDS) if words is None else words
    chosen = [rng.choice(_VOCABULARY) for _ in range(count)]
    if not chosen:
        return ""
    chosen[0] = chosen[0].capitalize()
    return " ".join(chosen) + "."


def split_tokens(text: str) -> list[str]:
    """Split into "tokens" that concatenate back to `text` (each word with its leading space)."""
    return _TOKEN.findall(text)


def word_count(texts: Iterable[str]) -> int:
    """Whitespace-separated words over all `texts` (the mock's prompt token count)."""
    return sum(len(t.split()) for t in texts)


def minimal_instance(schema: Any) -> Any:
    """A small value valid against `schema` where that is easy; `{}` for an unsatisfiable object schema."""
    value = _instance(schema, schema, 0)
    if isinstance(schema, dict) and schema.get("type", "object") == "object":
        try:
            if not isinstance(value, dict) or not Draft202012Validator(schema).is_valid(value):
                return {}
        except Exception:  # a schema jsonschema cannot run; {} is the honest fallback
            return {}
    return value


def _instance(schema: Any, root: Any, depth: int) -> Any:
    if not isinstance(schema, dict) or depth > 12:
        return None
    ref = schema.get("$ref")
    if isinstance(ref, str):
        return _instance(_resolve(ref, root), root, depth + 1)
    if "const" in schema:
        return schema["const"]
    if isinstance(schema.get("enum"), list) and schema["enum"]:
        return schema["enum"][0]
    for key in ("anyOf", "oneOf", "allOf"):
        if isinstance(schema.get(key), list) and schema[key]:
            return _instance(schema[key][0], root, depth + 1)
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if kind is None:
        kind = "object" if "properties" in schema else "array" if "items" in schema else None
    return _typed(kind, schema, root, depth)


def _typed(kind: Any, schema: dict[str, Any], root: Any, depth: int) -> Any:
    if kind == "object":
        found, wanted = schema.get("properties"), schema.get("required")
        properties: dict[str, Any] = found if isinstance(found, dict) else {}
        required = [r for r in wanted if isinstance(r, str)] if isinstance(wanted, list) else []
        return {name: _instance(properties.get(name, {}), root, depth + 1) for name in required}
    if kind == "array":
        count = schema.get("minItems", 0) if isinstance(schema.get("minItems"), int) else 0
        return [_instance(schema.get("items", {}), root, depth + 1) for _ in range(count)]
    if kind == "string":
        return _string(schema)
    if kind in ("integer", "number"):
        low = schema.get("minimum", schema.get("exclusiveMinimum"))
        value = 0 if not isinstance(low, (int, float)) else low + (1 if "minimum" not in schema else 0)
        high = schema.get("maximum")
        value = min(value, high) if isinstance(high, (int, float)) else value
        return int(value) if kind == "integer" else value
    if kind == "boolean":
        return False
    return None


def _string(schema: dict[str, Any]) -> str:
    formats = {"date": "2026-01-01", "date-time": "2026-01-01T00:00:00Z", "email": "mock@example.com"}
    text = formats.get(str(schema.get("format")), "mock")
    low, high = schema.get("minLength"), schema.get("maxLength")
    if isinstance(low, int) and len(text) < low:
        text += "k" * (low - len(text))
    if isinstance(high, int):
        text = text[:high]
    return text


def _resolve(ref: str, root: Any) -> Any:
    # Only local JSON pointers: tool schemas are self-contained, and nothing may be fetched.
    if not ref.startswith("#"):
        return {}
    node = root
    for part in (p for p in ref[1:].split("/") if p):
        part = part.replace("~1", "/").replace("~0", "~")
        node = node.get(part) if isinstance(node, dict) else None
    return node if isinstance(node, dict) else {}
