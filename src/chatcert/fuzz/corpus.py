"""The labelled payload corpora under fixtures/payloads/ (valid/, invalid/), image placeholders filled in."""

from __future__ import annotations

import base64
import json
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from chatcert.images import fixture_images
from chatcert.wire.images import data_url
from chatcert_data import data_dir

__all__ = ["CorpusCase", "fixture_bytes", "load_corpus", "substitute"]

CHAT_REQUEST = "tag:chatcert,2026:openai/chat-request"
_PLACEHOLDER = re.compile(r"^\{\{(image|image-base64):([^{}]+)\}\}$")


@dataclass(frozen=True)
class CorpusCase:
    """One corpus file: `name` is the file stem, `body` has its placeholders replaced."""

    name: str
    description: str
    rule: str
    schema: str
    invalid_at: str | None
    body: Any


@cache
def fixture_bytes(file: str) -> bytes:
    """The bytes of an image listed in fixtures/images/MANIFEST.json."""
    if not any(entry.get("file") == file for entry in fixture_images()):
        raise LookupError(f"{file!r} is not in fixtures/images/MANIFEST.json")
    return Path(data_dir("fixtures") / "images" / file).read_bytes()


def _mime(file: str) -> str:
    for entry in fixture_images():
        if entry.get("file") == file:
            return str(entry["mime"])
    raise LookupError(file)


def substitute(value: Any) -> Any:
    """Replace strings that are exactly `{{image:FILE}}` / `{{image-base64:FILE}}` (fixtures/README.md)."""
    if isinstance(value, str):
        match = _PLACEHOLDER.match(value)
        if not match:
            return value
        kind, file = match.groups()
        raw = fixture_bytes(file)
        return data_url(raw, _mime(file)) if kind == "image" else base64.b64encode(raw).decode()
    if isinstance(value, list):
        return [substitute(v) for v in value]
    if isinstance(value, dict):
        return {k: substitute(v) for k, v in value.items()}
    return value


@cache
def load_corpus(folder: str) -> tuple[CorpusCase, ...]:
    """The cases of fixtures/payloads/<folder> (``valid`` or ``invalid``), sorted by name."""
    cases = []
    for path in sorted((data_dir("fixtures") / "payloads" / folder).glob("*.json")):
        doc = json.loads(path.read_text(encoding="utf-8"))
        cases.append(
            CorpusCase(
                name=path.stem,
                description=str(doc["description"]),
                rule=str(doc["rule"]),
                schema=str(doc.get("schema", CHAT_REQUEST)),
                invalid_at=doc.get("invalid_at"),
                body=substitute(doc["body"]),
            )
        )
    return tuple(cases)
