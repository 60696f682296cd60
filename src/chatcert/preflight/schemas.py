"""Schema look-ups by `$id` (through chatcert's shared registry) and the request check's adapter.

`validate_request` is a thin adapter: the shared check functions of the core library can replace its
body; the pre-flight relies only on its signature.
"""

from __future__ import annotations

from typing import Any

from chatcert import _schemas

__all__ = [
    "CHAT_REQUEST_ID",
    "OPERATION_ID",
    "SchemaUnavailable",
    "schema",
    "validate_operation",
    "validate_request",
]

CHAT_REQUEST_ID = "tag:chatcert,2026:openai/chat-request"
OPERATION_ID = "tag:chatcert,2026:harness/operation"
_MAX_PROBLEMS = 20


class SchemaUnavailable(LookupError):
    """No schema with that `$id` under data_dir("schemas")."""


def schema(schema_id: str) -> dict[str, Any]:
    """The schema document with this `$id`; SchemaUnavailable if there is none."""
    try:
        contents = _schemas.registry().contents(schema_id)
    except Exception as exc:  # referencing raises its own NoSuchResource
        raise SchemaUnavailable(f"no schema with $id {schema_id!r}") from exc
    if not isinstance(contents, dict):
        raise SchemaUnavailable(f"schema {schema_id!r} is not an object")
    return contents


def _errors(schema_id: str, instance: Any) -> list[str]:
    try:
        return _schemas.schema_errors(schema_id, instance, limit=_MAX_PROBLEMS)
    except LookupError as exc:
        raise SchemaUnavailable(str(exc)) from exc


def validate_request(body: Any) -> list[str]:
    """Problems of a chat-completions request body against `openai/chat-request` ([] when valid).

    Raises SchemaUnavailable when the schema is not installed.
    """
    return _errors(CHAT_REQUEST_ID, body)


def validate_operation(document: Any) -> list[tuple[str, str]]:
    """(where, message) for each structural problem of an Operation document."""
    out: list[tuple[str, str]] = []
    for problem in _errors(OPERATION_ID, document):
        where, _, message = problem.partition(": ")
        out.append((where, message))
    return out
