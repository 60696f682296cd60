"""Loads every `*.schema.json` under the data folder into a registry and validates by `$id`.

Validation is what a request costs the mock most (docs/mock-server.md has the figures), so each schema
gets one pre-compiled validator, and, where the `jsonschema_rs` package is installed, a compiled one
that decides valid requests in microseconds. The `jsonschema` validator stays the reference: it
decides whatever the fast one rejects and writes every error message.
"""

from __future__ import annotations

import importlib
import json
import logging
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import best_match
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from chatcert_data import data_dir

__all__ = ["SchemaStore"]

_LOG = logging.getLogger("mock_server")
_MAX_MESSAGE = 300  # jsonschema messages embed the instance repr; a data URL would flood the reply


def _optional(module: str) -> Any:
    try:
        return importlib.import_module(module)
    except ImportError:
        return None


_RUST = _optional("jsonschema_rs")


class SchemaStore:
    """Schemas by `$id`; a missing schema is skipped (it may not be written yet), never an error."""

    def __init__(self, root: Path | None = None) -> None:
        self._schemas: dict[str, dict[str, Any]] = {}
        self._validators: dict[str, Draft202012Validator] = {}
        self._fast: dict[str, Any] = {}  # $id -> jsonschema_rs validator, or None where it cannot be used
        self._fast_registry: Any = None
        resources: list[tuple[str, Resource[Any]]] = []
        try:
            folder = root or data_dir("schemas")
        except FileNotFoundError:
            folder = None
        for path in sorted(folder.rglob("*.schema.json")) if folder else ():
            try:
                contents = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError) as exc:
                _LOG.warning("mock_server: skipping unreadable schema %s: %s", path, exc)
                continue
            schema_id = contents.get("$id") if isinstance(contents, dict) else None
            if isinstance(schema_id, str):
                self._schemas[schema_id] = contents
                resources.append((schema_id, Resource.from_contents(contents, DRAFT202012)))
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
                _LOG.warning("mock_server: no fast validator for %s: %s", schema_id, exc)
                self._fast[schema_id] = None
        return self._fast[schema_id]
