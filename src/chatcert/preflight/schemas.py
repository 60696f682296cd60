"""Schema look-up by `$id` over `data_dir("schemas")`, and the request validator the payload check uses.

`validate_request` is a thin adapter: the shared check functions of the core library will replace its
body, and the pre-flight only relies on its signature.
"""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any

from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from chatcert_data import data_dir

__all__ = [
    "CHAT_REQUEST_ID",
    "OPERATION_ID",
    "SchemaUnavailable",
    "schema",
    "validate_request",
    "validator",
]

CHAT_REQUEST_ID = "tag:chatcert,2026:openai/chat-request"
OPERATION_ID = "tag:chatcert,2026:harness/operation"


class SchemaUnavailable(LookupError):
    """No schema with that `$id` under data_dir("schemas")."""


@lru_cache(maxsize=1)
def _registry() -> tuple[Registry[Any], dict[str, dict[str, Any]]]:
    by_id: dict[str, dict[str, Any]] = {}
    for path in sorted(data_dir("schemas").rglob("*.json")):
        try:
            contents = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue  # a schema being written right now must not break the others
        if isinstance(contents, dict) and isinstance(contents.get("$id"), str):
            by_id[contents["$id"]] = contents
    registry: Registry[Any] = Registry().with_resources(
        (sid, Resource.from_contents(body, default_specification=DRAFT202012)) for sid, body in by_id.items()
    )
    return registry, by_id


def schema(schema_id: str) -> dict[str, Any]:
    """The schema document with this `$id`; SchemaUnavailable if there is none."""
    try:
        return _registry()[1][schema_id]
    except KeyError:
        raise SchemaUnavailable(f"no schema with $id {schema_id!r} in {data_dir('schemas')}") from None


def validator(schema_id: str) -> Draft202012Validator:
    """A draft 2020-12 validator for the schema with this `$id`, resolving `$ref`s across schemas."""
    return Draft202012Validator(schema(schema_id), registry=_registry()[0])


def _where(path: Any) -> str:
    parts = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path)
    return parts.lstrip(".") or "(top level)"


def validate_request(body: Any) -> list[str]:
    """Problems of a chat-completions request body against `openai/chat-request` ([] when valid).

    Raises SchemaUnavailable when the schema is not installed.
    """
    found = validator(CHAT_REQUEST_ID).iter_errors(body)
    return [f"{_where(e.absolute_path)}: {e.message}" for e in sorted(found, key=lambda e: list(e.path))]


def validate_operation(document: Any) -> list[tuple[str, str]]:
    """(where, message) for each structural problem of an Operation document."""
    found = validator(OPERATION_ID).iter_errors(document)
    return [
        (_where(e.absolute_path), e.message) for e in sorted(found, key=lambda e: [str(p) for p in e.path])
    ]
