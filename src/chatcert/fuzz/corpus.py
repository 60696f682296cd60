"""The labelled payload corpora under fixtures/payloads/ (valid/, invalid/), image placeholders filled in."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from typing import Any

from chatcert.wire.fixtures import fixture_bytes, substitute
from chatcert_data import data_dir

__all__ = ["CorpusCase", "fixture_bytes", "load_corpus", "substitute"]

CHAT_REQUEST = "tag:chatcert,2026:openai/chat-request"


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
