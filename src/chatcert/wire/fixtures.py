"""The fixture images (`fixtures/images/MANIFEST.json`) and the image placeholders of fixture files.

A string that is exactly `{{image:FILE}}` stands for the data URL of `fixtures/images/FILE`, and
`{{image-base64:FILE}}` for its bare base64 (fixtures/README.md). The payload corpora and the request
cases use them; the mock recognises a case's request by the same substituted bytes, so the
substitution lives here, on the wire layer, once.
"""

from __future__ import annotations

import base64
import json
import re
from functools import cache
from pathlib import Path
from typing import Any

from chatcert.wire.images import data_url
from chatcert_data import data_dir

__all__ = ["fixture_bytes", "fixture_folder", "fixture_images", "fixture_mime", "substitute"]

_PLACEHOLDER = re.compile(r"^\{\{(image|image-base64):([^{}]+)\}\}$")


def fixture_folder(name: str) -> Path | None:
    """`fixtures/<name>` of the installed data, or None when there is no data folder (a stripped
    install: the loaders then have nothing to load, and say so by loading nothing)."""
    try:
        return data_dir("fixtures") / name
    except FileNotFoundError:
        return None


@cache
def fixture_images() -> tuple[dict[str, object], ...]:
    """The entries of fixtures/images/MANIFEST.json (file, format, mime, width, height, ...)."""
    manifest = data_dir("fixtures") / "images" / "MANIFEST.json"
    doc = json.loads(manifest.read_text(encoding="utf-8"))
    entries = doc["images"] if isinstance(doc, dict) else doc
    return tuple(entries)


def _entry(file: str) -> dict[str, object]:
    for entry in fixture_images():
        if entry.get("file") == file:
            return entry
    raise LookupError(f"{file!r} is not in fixtures/images/MANIFEST.json")


@cache
def fixture_bytes(file: str) -> bytes:
    """The bytes of an image listed in fixtures/images/MANIFEST.json."""
    _entry(file)
    return Path(data_dir("fixtures") / "images" / file).read_bytes()


def fixture_mime(file: str) -> str:
    """The manifest's MIME type of a fixture image."""
    return str(_entry(file)["mime"])


def substitute(value: Any) -> Any:
    """`value` with every placeholder string replaced (lists and objects walked); LookupError names an
    image the manifest does not list."""
    if isinstance(value, str):
        match = _PLACEHOLDER.match(value)
        if not match:
            return value
        kind, file = match.groups()
        raw = fixture_bytes(file)
        return data_url(raw, fixture_mime(file)) if kind == "image" else base64.b64encode(raw).decode()
    if isinstance(value, list):
        return [substitute(v) for v in value]
    if isinstance(value, dict):
        return {k: substitute(v) for k, v in value.items()}
    return value
