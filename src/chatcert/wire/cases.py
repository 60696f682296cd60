"""Data-driven request cases (`fixtures/cases/<area>/*.json`): one request and what must answer it.

A case is the whole of a simple check: the judge builds its request from the basic chat body and
judges the status (`chatcert.checks.cases`), and the mock serves a live defect per case from the same
file (`mock_server.defect_catalogue.cases`), so the request the judge sends and the request the
emulator recognises cannot drift apart. Adding such a check is adding one file; its JSON Schema is
`schemas/harness/case.schema.json`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from chatcert.wire.fixtures import fixture_folder, substitute
from chatcert.wire.schemas import default_store

__all__ = ["CASE_SCHEMA_ID", "Case", "CaseError", "load_cases", "read_case"]

CASE_SCHEMA_ID = "tag:chatcert,2026:harness/case"


class CaseError(ValueError):
    """A case file that cannot be used; the message names the file and why."""


@dataclass(frozen=True)
class Case:
    """One case file, read and validated."""

    area: str  # the folder it sits in
    check: str
    description: str
    level: str
    source: str
    rules: tuple[str, ...]
    requires: tuple[str, ...]
    probe: str
    label: str
    set: Mapping[str, Any]
    drop: tuple[str, ...]
    content: Any  # the user message's content (placeholders filled in), or None for the basic prompt
    status: str | int | tuple[int, ...]  # "4xx", the client errors allowed, or 200 (answered)
    answer: str | None  # with 200: "text", the answer's content must be a non-empty string
    content_statuses: tuple[int, ...]  # with "4xx": early statuses that answer this content here
    path: Path

    def build(self, base: Mapping[str, Any]) -> dict[str, Any]:
        """The case's request: `base` (the basic chat body) with the user message's content replaced,
        `set` merged in and `drop` removed. A deep copy: callers may edit it."""
        body = {k: v for k, v in base.items() if k not in self.drop}
        if self.content is not None:
            body["messages"] = [{"role": "user", "content": self.content}]
        body.update(self.set)
        return json.loads(json.dumps(body))  # type: ignore[no-any-return]

    def matches(self, body: Any) -> bool:
        """Whether a request body is this case's request: its content, every `set` member equal, every
        `drop` absent. The mock reads it to serve this case's defect on exactly this request."""
        if not isinstance(body, dict):
            return False
        if self.content is not None and body.get("messages") != [{"role": "user", "content": self.content}]:
            return False
        return all(k in body and body[k] == v for k, v in self.set.items()) and not any(
            k in body for k in self.drop
        )

    @property
    def rejects(self) -> bool:
        """The case expects a client error (else it expects the request answered)."""
        return self.status == "4xx" or isinstance(self.status, tuple)


def read_case(path: Path, area: str | None = None) -> Case:
    """One case file, validated against its schema; CaseError says what is wrong with it."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise CaseError(f"{path}: cannot read the case: {exc}") from None
    problem = default_store().error(CASE_SCHEMA_ID, data)
    if problem is not None:
        raise CaseError(f"{path}: not a valid case: {problem}")
    request = data["request"]
    status = data["expect"]["status"]
    return Case(
        area=area or path.parent.name,
        check=data["check"],
        description=data["description"],
        level=data["level"],
        source=data["source"],
        rules=tuple(data["rules"]),
        requires=tuple(data.get("requires", ())),
        probe=request["probe"],
        label=request["label"],
        set=_filled(path, request.get("set", {})),
        drop=tuple(request.get("drop", ())),
        content=_filled(path, request.get("content")),
        status=tuple(status) if isinstance(status, list) else status,
        answer=data["expect"].get("answer"),
        content_statuses=tuple(data["expect"].get("content_statuses", ())),
        path=path,
    )


def _filled(path: Path, value: Any) -> Any:
    try:
        return substitute(value)
    except LookupError as exc:
        raise CaseError(f"{path}: {exc}") from None


def load_cases(root: Path | None = None) -> tuple[Case, ...]:
    """Every case under `root` (default: the installed `fixtures/cases`), by area folder then name.
    Check ids and probe names are unique across them."""
    return _load(root) if root is not None else _default()


@cache
def _default() -> tuple[Case, ...]:
    root = fixture_folder("cases")
    return _load(root) if root is not None else ()


def _load(root: Path) -> tuple[Case, ...]:
    cases = tuple(read_case(p) for p in sorted(root.glob("*/*.json")))
    for attribute in ("check", "probe"):
        seen: dict[str, Path] = {}
        for case in cases:
            name = getattr(case, attribute)
            if name in seen:
                raise CaseError(f"{case.path}: {attribute} {name!r} is also in {seen[name]}")
            seen[name] = case.path
    return cases
