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

from chatcert.wire.scenario import (
    COUNT_KEYS,
    MS_KEYS,
    SCENARIO_KEYS,
    ScenarioError,
    count,
    milliseconds,
    split_header,
)
from chatcert.wire.schemas import SchemaStore
from mock_server.faults import FAULTS

__all__ = [
    "SCENARIO_KEYS",
    "SCENARIO_SCHEMA_ID",
    "Scenario",
    "ScenarioError",
    "load_scenario_file",
    "parse_scenario_header",
]

SCENARIO_SCHEMA_ID = "tag:chatcert,2026:harness/scenario"


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
            if key in MS_KEYS:
                fields[key] = milliseconds(key, value)
            elif key in COUNT_KEYS:
                fields[key] = count(key, value)
            else:
                fields[key] = _fault(value)
        status = fields.get("status")
        if status is not None and not 400 <= status <= 599:
            raise ScenarioError(f"status={status} is not an error status (400-599)")
        return cls(**fields)


def parse_scenario_header(text: str) -> Scenario:
    """Parse `key=value;key=value` (the wire layer's grammar) into a checked scenario."""
    return Scenario.from_mapping(split_header(text))


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


def _fault(value: Any) -> str:
    if not isinstance(value, str) or value not in FAULTS:
        raise ScenarioError(f"fault={value!r} is unknown; known: {', '.join(sorted(FAULTS))}")
    return value
