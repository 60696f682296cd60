"""Scenarios: per-request timing, forced status and fault, from `X-Mock-Scenario` or a file."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from mock_server.faults import FAULTS
from mock_server.schemas import SchemaStore

__all__ = [
    "SCENARIO_KEYS",
    "SCENARIO_SCHEMA_ID",
    "Scenario",
    "ScenarioError",
    "load_scenario_file",
    "parse_scenario_header",
]

SCENARIO_SCHEMA_ID = "tag:chatcert,2026:harness/scenario"

_MS_KEYS = ("ttft_ms", "itl_ms", "jitter_ms", "delay_ms", "stall_ms")
_INT_KEYS = ("chunks", "status", "retry_after")
SCENARIO_KEYS = (*_MS_KEYS, *_INT_KEYS, "fault")


class ScenarioError(ValueError):
    """A scenario header or file that cannot be used; the message says why."""


@dataclass(frozen=True)
class Scenario:
    """What to do to one response; `None` means "not set" so layers can be merged key by key."""

    ttft_ms: float | None = None
    itl_ms: float | None = None
    jitter_ms: float | None = None
    delay_ms: float | None = None
    stall_ms: float | None = None
    chunks: int | None = None
    status: int | None = None
    retry_after: int | None = None
    fault: str | None = None

    def merged(self, override: Scenario) -> Scenario:
        """Return this scenario with every key that `override` sets replaced."""
        changes = {f.name: getattr(override, f.name) for f in dataclasses.fields(override)}
        return dataclasses.replace(self, **{k: v for k, v in changes.items() if v is not None})

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any]) -> Scenario:
        """Build and check a scenario from already-typed values (a file) or strings (a header)."""
        unknown = sorted(set(values) - set(SCENARIO_KEYS))
        if unknown:
            raise ScenarioError(
                f"unknown scenario key(s) {', '.join(unknown)}; known: {', '.join(SCENARIO_KEYS)}"
            )
        fields: dict[str, Any] = {}
        for key, value in values.items():
            if value is None:
                continue
            if key in _MS_KEYS:
                fields[key] = _number(key, value)
            elif key in _INT_KEYS:
                fields[key] = _integer(key, value)
            else:
                fields[key] = _fault(value)
        status = fields.get("status")
        if status is not None and not 400 <= status <= 599:
            raise ScenarioError(f"status={status} is not an error status (400-599)")
        return cls(**fields)


def parse_scenario_header(text: str) -> Scenario:
    """Parse `key=value;key=value` (blank segments and spaces are ignored)."""
    values: dict[str, str] = {}
    for segment in text.split(";"):
        if not segment.strip():
            continue
        key, sep, value = segment.partition("=")
        key, value = key.strip(), value.strip()
        if not sep or not key or not value:
            raise ScenarioError(f"scenario segment {segment.strip()!r} is not key=value")
        if key in values:
            raise ScenarioError(f"scenario key {key!r} given twice")
        values[key] = value
    return Scenario.from_mapping(values)


def load_scenario_file(path: str | Path) -> Scenario:
    """Read a YAML or JSON mapping of scenario keys (a top-level `scenario:` mapping is unwrapped)."""
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
        data = json.loads(text) if file.suffix == ".json" else yaml.safe_load(text)
    except (OSError, ValueError, yaml.YAMLError) as exc:
        # PyYAML's messages span lines; the CLI promises one.
        raise ScenarioError(f"cannot read scenario file {file}: {' '.join(str(exc).split())}") from exc
    except RecursionError:
        raise ScenarioError(f"cannot read scenario file {file}: it nests too deeply") from None
    problem = _schemas().error(SCENARIO_SCHEMA_ID, data)
    if problem:
        raise ScenarioError(f"scenario file {file} is invalid: {problem}")
    if isinstance(data, Mapping) and set(data) == {"scenario"}:
        data = data["scenario"]
    if data is None:
        return Scenario()
    if not isinstance(data, Mapping):
        raise ScenarioError(f"scenario file {file} must hold a mapping of {', '.join(SCENARIO_KEYS)}")
    return Scenario.from_mapping({str(k): v for k, v in data.items()})


@cache
def _schemas() -> SchemaStore:
    # Scenario files are read rarely (at start-up); one store, loaded on first use.
    return SchemaStore()


def _number(key: str, value: Any) -> float:
    try:
        number = float(value) if not isinstance(value, bool) else float("nan")
    except (TypeError, ValueError):
        number = float("nan")
    if not number >= 0 or number == float("inf"):  # also rejects NaN
        raise ScenarioError(f"{key}={value!r} must be a non-negative number of milliseconds")
    return number


def _integer(key: str, value: Any) -> int:
    if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
        raise ScenarioError(f"{key}={value!r} must be a non-negative integer")
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise ScenarioError(f"{key}={value!r} must be a non-negative integer") from None
    if number < 0:
        raise ScenarioError(f"{key}={value!r} must be a non-negative integer")
    return number


def _fault(value: Any) -> str:
    if not isinstance(value, str) or value not in FAULTS:
        raise ScenarioError(f"fault={value!r} is unknown; known: {', '.join(sorted(FAULTS))}")
    return value
