"""What a fuzz probe hands its checks: one Finding per failure class, with its shrunk payload."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

__all__ = ["Expectation", "Finding", "Role", "body_preview"]


@dataclass(frozen=True)
class Expectation:
    """The property a payload was sent to test, and the catalogue rule behind it."""

    property: str  # accepted | rejected | survives
    rule: str
    level: str
    kind: str
    description: str

    def as_dict(self) -> dict[str, str]:
        return {
            "property": self.property,
            "rule": self.rule,
            "level": self.level,
            "kind": self.kind,
            "description": self.description,
        }


@dataclass(frozen=True)
class Role:
    """Why an exchange was sent, so a check can judge it again: `property` is accepted (a valid
    payload), rejected (an invalid one) or follow_up (a valid request after invalid ones)."""

    property: str
    expectation: Expectation
    stream: bool = False


@dataclass
class Finding:
    """The smallest payload seen failing one way; `label` names its exchange in the probe's evidence."""

    check: str
    key: str
    kind: str
    message: str
    label: str
    status: int | None
    body: str  # bounded preview of the request body
    expectation: Expectation
    replay_file: str | None = None
    count: int = 1  # payloads that failed this way (one finding for all of them)
    also: tuple[str, ...] = ()  # other classes of payload that failed the same way

    def summary(self) -> str:
        saved = f"; saved to {self.replay_file}" if self.replay_file else ""
        same = f" (also: {', '.join(self.also)})" if self.also else ""
        times = f"; {self.count} payloads failed this way{same}" if self.count > 1 or self.also else ""
        return (
            f"[{self.expectation.rule} {self.expectation.kind}] {self.message} | body: {self.body}"
            f"{times}{saved}"
        )


def _elide(value: Any) -> Any:
    if isinstance(value, str) and len(value) > 120:
        return value[:60] + f"...({len(value)} chars)"
    if isinstance(value, list):
        return [_elide(v) for v in value]
    if isinstance(value, dict):
        return {k: _elide(v) for k, v in value.items()}
    return value


def body_preview(raw: bytes | None, limit: int = 600) -> str:
    """The body for a failure message: JSON with long strings (images) elided, at most `limit` chars."""
    if raw is None:
        return "(no body)"
    if not raw:
        return "(empty body)"
    try:
        text = json.dumps(_elide(json.loads(raw)), separators=(",", ":"), ensure_ascii=False)
    except (ValueError, UnicodeDecodeError, RecursionError):
        text = repr(raw[: limit + 1])[2:-1]
    return text if len(text) <= limit else text[:limit] + f"... [{len(raw)} bytes]"
