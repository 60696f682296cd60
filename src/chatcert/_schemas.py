"""The judge's view of the JSON Schemas: a `referencing` registry over the wire layer's schemas
(`chatcert.wire.schemas.load_schemas`, the mock's too), validators by ``$id`` and readable errors."""

from __future__ import annotations

from functools import cache
from typing import Any

from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from chatcert.wire.schemas import load_schemas

__all__ = ["SCHEMA_PREFIX", "registry", "schema_errors", "validator"]

SCHEMA_PREFIX = "tag:chatcert,2026:"


@cache
def registry() -> Registry[Any]:
    resources = [
        Resource.from_contents(c, default_specification=DRAFT202012) for c in load_schemas().values()
    ]
    return Registry().with_resources((r.id(), r) for r in resources if r.id())  # type: ignore[misc]


def _full_id(schema_id: str) -> str:
    return schema_id if schema_id.startswith("tag:") else SCHEMA_PREFIX + schema_id


@cache
def validator(schema_id: str) -> Draft202012Validator:
    """A validator for the schema whose ``$id`` is `schema_id` (the tag prefix is optional)."""
    full = _full_id(schema_id)
    try:
        contents = registry().contents(full)
    except Exception as exc:
        raise LookupError(f"no schema with $id {full!r}") from exc
    return Draft202012Validator(contents, registry=registry())


def schema_errors(schema_id: str, instance: object, limit: int = 5) -> list[str]:
    """Human-readable validation errors (path: message), at most `limit`, best first."""
    errors = sorted(validator(schema_id).iter_errors(instance), key=lambda e: (len(e.path), str(e.path)))
    out = []
    for err in errors[:limit]:
        where = "/".join(str(p) for p in err.absolute_path) or "(root)"
        message = err.message if len(err.message) <= 300 else err.message[:300] + "..."
        out.append(f"{where}: {message}")
    return out
