"""The JSON Schemas by `$id`: loaded once from the data folder, for the mock and the judge alike.

`load_schemas()` reads every `*.schema.json`; chatcert's registry (`chatcert._schemas`) and the mock's
`SchemaStore` are both built on it. Validation is what a request costs the mock most
(docs/mock-server.md has the figures), so each schema gets one pre-compiled validator, and, where the
`jsonschema_rs` package is installed, a compiled one that decides valid requests in microseconds. The
`jsonschema` validator stays the reference: it decides whatever the fast one rejects and writes every
error message.
"""

from __future__ import annotations

import importlib
import json
import logging
from functools import cache
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import best_match
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from chatcert_data import data_dir

__all__ = ["SchemaStore", "default_store", "load_schemas"]

_LOG = logging.getLogger("chatcert.wire")
_MAX_MESSAGE = 300  # jsonschema messages embed the instance repr; a data URL would flood the reply


def _optional(module: str) -> Any:
    try:
        return importlib.import_module(module)
    except ImportError:
        return None


_RUST = _optional("jsonschema_rs")


def load_schemas(root: Path | None = None) -> dict[str, dict[str, Any]]:
    """Every schema under `root` (default: the installed data folder) by its `$id`. An unreadable file
    is skipped with a warning, never an error: the mock must start with what it has."""
    return dict(_load(root)) if root is not None else dict(_default())


@cache
def _default() -> tuple[tuple[str, dict[str, Any]], ...]:
    try:
        folder = data_dir("schemas")
    except FileNotFoundError:
        return ()
    return _load(folder)


def _load(folder: Path) -> tuple[tuple[str, dict[str, Any]], ...]:
    found = []
    for path in sorted(folder.rglob("*.schema.json")):
        try:
            contents = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            _LOG.warning("skipping unreadable schema %s: %s", path, exc)
            continue
        schema_id = contents.get("$id") if isinstance(contents, dict) else None
        if isinstance(schema_id, str):
            found.append((schema_id, contents))
    return tuple(found)


class SchemaStore:
    """Schemas by `$id`; a missing schema is skipped (it may not be written yet), never an error."""

    def __init__(self, root: Path | None = None) -> None:
        self._validators: dict[str, Draft202012Validator] = {}
        self._fast: dict[str, Any] = {}  # $id -> jsonschema_rs validator, or None where it cannot be used
        self._fast_registry: Any = None
        self._schemas: dict[str, dict[str, Any]] = load_schemas(root)
        resources = [(i, Resource.from_contents(c, DRAFT202012)) for i, c in self._schemas.items()]
        self._registry: Registry[Any] = Registry().with_resources(resources)

    def has(self, schema_id: str) -> bool:
        """Whether a schema with this `$id` was found."""
        return schema_id in self._schemas

    def error(self, schema_id: str, instance: Any) -> str | None:
        """The most relevant validation error as one line, or None when valid or the schema is absent."""
        fast = self._fast_validator(schema_id)
        try:
            if fast is not None and fast.is_valid(instance):
                return None
        except (UnicodeError, ValueError):
            pass  # the Rust validator refuses lone surrogates; the pure-Python one below judges them
        validator = self._validator(schema_id)
        # is_valid first: it stops at the first failing branch, so a valid request (the usual case)
        # costs less than collecting every error; only an invalid one pays for best_match.
        if validator is None or validator.is_valid(instance):
            return None
        found = best_match(validator.iter_errors(instance))
        if found is None:
            return None
        where = found.json_path
        message = found.message if len(found.message) <= _MAX_MESSAGE else found.message[:_MAX_MESSAGE] + "…"
        return f"{message} (at {where})"

    def _validator(self, schema_id: str) -> Draft202012Validator | None:
        if schema_id not in self._validators:
            schema = self._schemas.get(schema_id)
            if schema is None:
                return None
            self._validators[schema_id] = Draft202012Validator(schema, registry=self._registry)
        return self._validators[schema_id]

    def _fast_validator(self, schema_id: str) -> Any:
        if _RUST is None or schema_id not in self._schemas:
            return None
        if schema_id not in self._fast:
            try:
                if self._fast_registry is None:
                    self._fast_registry = _RUST.Registry(list(self._schemas.items()))
                self._fast[schema_id] = _RUST.validator_for(
                    self._schemas[schema_id], registry=self._fast_registry, validate_formats=False
                )
            except Exception as exc:  # a schema it cannot compile is left to the reference validator
                _LOG.warning("no fast validator for %s: %s", schema_id, exc)
                self._fast[schema_id] = None
        return self._fast[schema_id]


@cache
def default_store() -> SchemaStore:
    """The store of the installed schemas, one per process: building its registry each time a profile
    or a case is read would repeat the work."""
    return SchemaStore()
