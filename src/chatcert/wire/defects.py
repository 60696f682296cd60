"""Declared defects (`fixtures/defects/<area>.json`): a route's successful replies, edited; one
declaration read by both sides of the wire.

The mock serves each declaration live (`mock_server.defect_catalogue.declared` applies the edits to
the replies it sends) and the self-tests apply the same edits to captured conformant exchanges
(`tests/defects/declared.py`), so the defect a check is shown to catch offline is the defect the
mutation score serves live, and a check's defects sit in one file of its area. Only what can be said
as edits of JSON documents is declared here; a defect that needs code (pacing, framing, rewriting the
request) stays a hook in the mock's catalogue. The file format is `schemas/harness/defect.schema.json`.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from chatcert.wire.fixtures import fixture_folder
from chatcert.wire.schemas import default_store

__all__ = ["DEFECT_SCHEMA_ID", "DeclaredDefect", "DefectFileError", "Edit", "apply_edits", "load_declared"]

DEFECT_SCHEMA_ID = "tag:chatcert,2026:harness/defect"
_OPS = ("set", "drop", "scale", "stringify", "float", "copy", "parse")


class DefectFileError(ValueError):
    """A defect file that cannot be used; the message names the file and why."""


class _Unset:
    """No `when`/`unless` was given (None is a value one may ask for)."""

    def __repr__(self) -> str:
        return "UNSET"


UNSET: Any = _Unset()
Path_ = tuple[str | int, ...]


@dataclass(frozen=True)
class Edit:
    """One edit of a JSON document (see the schema for what each operation does)."""

    op: str
    path: Path_
    value: Any = None  # `set`: the new value; `scale`: the factor
    source: Path_ = ()  # `copy`: where the value comes from
    when: Any = UNSET
    unless: Any = UNSET
    chunk: int | None = None  # a stream's JSON chunk: only the one at this position
    from_chunk: int | None = None  # ... or only those from this position on

    @classmethod
    def read(cls, data: Mapping[str, Any]) -> Edit:
        op = next(o for o in _OPS if o in data)
        value = data.get("to") if op == "set" else data.get("by")
        return cls(
            op,
            tuple(data[op]),
            value,
            tuple(data.get("from", ())),
            data.get("when", UNSET),
            data.get("unless", UNSET),
            data.get("chunk"),
            data.get("from_chunk"),
        )

    @property
    def conditional(self) -> bool:
        return self.when is not UNSET or self.unless is not UNSET

    @property
    def positional(self) -> bool:
        return self.chunk is not None or self.from_chunk is not None

    def picks(self, position: int | None) -> bool:
        """Whether the edit acts on the JSON chunk at `position` (None: a body, always)."""
        if position is None or not self.positional:
            return True
        if self.chunk is not None:
            return position == self.chunk
        return position >= (self.from_chunk or 0)


@dataclass(frozen=True)
class DeclaredDefect:
    """One declaration: where it acts, its edits, and the checks that must catch it (with evidence)."""

    name: str
    description: str
    route: str
    body: tuple[Edit, ...]
    chunks: tuple[Edit, ...]
    catches: Mapping[str, str]  # check id -> a fragment of the message it fails with
    capabilities: tuple[str, ...]
    reference: str
    area: str  # the file's stem

    @property
    def source(self) -> str:
        """Where the declaration is, for listings: the reference when there is one, else its file."""
        return self.reference or f"fixtures/defects/{self.area}.json"


# -- applying edits ------------------------------------------------------------------------------------


def _members(node: Any, key: str | int) -> Iterator[tuple[Any, str | int]]:
    """(container, key) pairs `key` names in `node`; "*" names every member."""
    if key == "*":
        if isinstance(node, dict):
            yield from ((node, k) for k in list(node))
        elif isinstance(node, list):
            yield from ((node, i) for i in range(len(node)))
    elif (isinstance(node, dict) and isinstance(key, str)) or (
        isinstance(node, list) and isinstance(key, int) and -len(node) <= key < len(node)
    ):
        yield node, key


def _present(container: Any, key: str | int) -> bool:
    return key in container if isinstance(container, dict) else True


def _places(doc: Any, path: Path_) -> list[tuple[Any, str | int]]:
    """Every (container, key) the path reaches; an intermediate step that is missing reaches nothing."""
    nodes = [doc]
    for key in path[:-1]:
        nodes = [c[k] for n in nodes for c, k in _members(n, key) if _present(c, k)]
    return [place for n in nodes for place in _members(n, path[-1])]


def _first(doc: Any, path: Path_) -> Any:
    for container, key in _places(doc, path):
        if _present(container, key):
            return container[key]
    return UNSET


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _apply(doc: Any, edit: Edit) -> None:
    for container, key in _places(doc, edit.path):
        present = _present(container, key)
        if not present and (edit.op != "set" or edit.conditional):
            continue  # only `set` creates, and a condition asks for a value that is there
        current = container[key] if present else UNSET
        if edit.when is not UNSET and current != edit.when:
            continue
        if edit.unless is not UNSET and current == edit.unless:
            continue
        if edit.op == "set":
            container[key] = json.loads(json.dumps(edit.value))  # a fresh copy per place
        elif edit.op == "drop":
            del container[key]
        elif edit.op == "scale" and _number(current):
            container[key] = current * edit.value
        elif edit.op == "stringify" and current is not None and not isinstance(current, str):
            container[key] = json.dumps(current)  # as a server that serialised it twice would
        elif edit.op == "float" and _number(current):
            container[key] = float(current)
        elif edit.op == "parse" and isinstance(current, str):
            with contextlib.suppress(ValueError):  # not JSON: nothing to decode, the value stays
                container[key] = json.loads(current)
        elif edit.op == "copy":
            value = _first(doc, edit.source)
            if value is not UNSET:
                container[key] = value


def apply_edits(doc: Any, edits: tuple[Edit, ...], position: int | None = None) -> None:
    """Apply `edits` to `doc` in place, in order; a path that reaches nothing changes nothing.
    `position`: the document is a stream's JSON chunk at this position (0 the first), for the edits
    that pick chunks by position."""
    for edit in edits:
        if edit.picks(position):
            _apply(doc, edit)


# -- reading the files ---------------------------------------------------------------------------------


def read_defect_file(path: Path) -> tuple[DeclaredDefect, ...]:
    """One file's declarations, validated; DefectFileError says what is wrong with it."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise DefectFileError(f"{path}: cannot read the defects: {exc}") from None
    problem = default_store().error(DEFECT_SCHEMA_ID, data)
    if problem is not None:
        raise DefectFileError(f"{path}: not a valid defect file: {problem}")
    for d in data["defects"]:
        if any("chunk" in e or "from_chunk" in e for e in d.get("body", ())):
            raise DefectFileError(f"{path}: {d['name']}: `chunk`/`from_chunk` pick stream chunks, not a body")
        edits = [*d.get("body", ()), *d.get("chunks", ())]
        if any("when" in e and "unless" in e and e["when"] == e["unless"] for e in edits):
            raise DefectFileError(f"{path}: {d['name']}: `when` and `unless` name the same value")
    return tuple(
        DeclaredDefect(
            name=d["name"],
            description=d["description"],
            route=d.get("route", "chat"),
            body=tuple(Edit.read(e) for e in d.get("body", ())),
            chunks=tuple(Edit.read(e) for e in d.get("chunks", ())),
            catches=dict(d["catches"]),
            capabilities=tuple(d.get("capabilities", ())),
            reference=d.get("reference", ""),
            area=path.stem,
        )
        for d in data["defects"]
    )


def load_declared(root: Path | None = None) -> tuple[DeclaredDefect, ...]:
    """Every declaration under `root` (default: the installed `fixtures/defects`), by file then order.
    Names are unique across them."""
    return _load(root) if root is not None else _default()


@cache
def _default() -> tuple[DeclaredDefect, ...]:
    root = fixture_folder("defects")
    return _load(root) if root is not None else ()


def _load(root: Path) -> tuple[DeclaredDefect, ...]:
    found: list[DeclaredDefect] = []
    seen: dict[str, str] = {}
    for path in sorted(root.glob("*.json")):
        for defect in read_defect_file(path):
            if defect.name in seen:
                raise DefectFileError(f"{path}: defect {defect.name!r} is also in {seen[defect.name]}")
            seen[defect.name] = path.name
            found.append(defect)
    return tuple(found)
