#!/usr/bin/env python3
"""Generate the strict-tier OpenAI schemas from the official OpenAPI document.

Dev-time only (needs PyYAML). Re-run it whenever the upstream snapshot changes:

    python tools/gen_strict_schemas.py --spec path/to/openai-openapi/openapi.yaml
    python tools/gen_strict_schemas.py --spec ... --check      # exit 1 if the committed files differ

For each target component it copies the transitive closure of the ``$ref``'d components into
``$defs``, rewrites ``#/components/schemas/X`` to ``#/$defs/X`` and normalises the OpenAPI 3.0
keyword ``nullable: true`` (still present in the 3.1 document, and ignored by JSON Schema):

* a schema with ``type`` and no applicator gets ``"null"`` added to ``type`` (and ``null`` added
  to its ``enum``, if any; an ``enum`` without ``type`` gets ``null`` too);
* a schema with ``$ref`` or another applicator (``anyOf``, ``oneOf``, ``allOf``, ``not``,
  ``if``, ``const``) becomes ``anyOf: [<the schema>, {"type": "null"}]``, its annotations kept
  outside;
* a schema without ``type``, ``enum`` or applicator already accepts null: the keyword is dropped.

OpenAPI-only keywords (``discriminator``, ``example``, ``xml``, ``externalDocs``, ``x-*``) are
removed; annotations (``description``, ``title``, ``default``, ``deprecated``, ``format``) are kept.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
OUT_DIR = REPO / "schemas" / "openai" / "strict"
DRAFT = "https://json-schema.org/draft/2020-12/schema"
ID_PREFIX = "tag:chatcert,2026:openai/strict/"
COMPONENT_PREFIX = "#/components/schemas/"
DEFS_PREFIX = "#/$defs/"
DEFAULT_COMMIT = "f85dbe2"

# (component, output stem, title)
TARGETS: tuple[tuple[str, str, str], ...] = (
    ("CreateChatCompletionResponse", "chat-response", "Chat completion response (OpenAI-strict)"),
    ("CreateChatCompletionStreamResponse", "chat-chunk", "Chat completion stream chunk (OpenAI-strict)"),
)

# Keywords whose value is a single subschema.
SCHEMA_KEYS = frozenset(
    {
        "items",
        "additionalProperties",
        "not",
        "if",
        "then",
        "else",
        "contains",
        "propertyNames",
        "unevaluatedItems",
        "unevaluatedProperties",
        "contentSchema",
    }
)
# Keywords whose value is a list of subschemas.
SCHEMA_LIST_KEYS = frozenset({"allOf", "anyOf", "oneOf", "prefixItems"})
# Keywords whose value maps names to subschemas.
SCHEMA_MAP_KEYS = frozenset({"properties", "patternProperties", "$defs", "dependentSchemas"})
# OpenAPI-only keywords that are not JSON Schema (besides every ``x-*`` extension).
OPENAPI_ONLY = frozenset({"discriminator", "example", "xml", "externalDocs", "nullable"})
# Keywords that make ``type: [..., "null"]`` insufficient to admit null.
APPLICATORS = frozenset({"$ref", "allOf", "anyOf", "oneOf", "not", "if", "then", "else", "const"})
# Annotations left outside the anyOf wrapper.
ANNOTATIONS = frozenset(
    {"title", "description", "default", "deprecated", "readOnly", "writeOnly", "examples"}
)

Schema = dict[str, Any]


def _is_dropped(key: str) -> bool:
    return key in OPENAPI_ONLY or key.startswith("x-")


def _rewrite_ref(ref: str) -> str:
    if not ref.startswith(COMPONENT_PREFIX):
        raise ValueError(f"unsupported $ref {ref!r} (only {COMPONENT_PREFIX}* is handled)")
    return DEFS_PREFIX + ref[len(COMPONENT_PREFIX) :]


def make_nullable(schema: Schema) -> Schema:
    """Return ``schema`` (already converted, without ``nullable``) widened to admit null."""
    if APPLICATORS & schema.keys():
        outer = {k: v for k, v in schema.items() if k in ANNOTATIONS}
        inner = {k: v for k, v in schema.items() if k not in ANNOTATIONS}
        outer["anyOf"] = [inner, {"type": "null"}]
        return outer
    result = dict(schema)
    if "type" in result:
        types = result["type"] if isinstance(result["type"], list) else [result["type"]]
        if "null" not in types:
            result["type"] = [*types, "null"]
    if "enum" in result and None not in result["enum"]:
        result["enum"] = [*result["enum"], None]
    return result  # without type or enum, null was already accepted


def convert(schema: Any) -> Any:
    """Convert one OpenAPI schema object to JSON Schema draft 2020-12 (see module doc)."""
    if isinstance(schema, bool):
        return schema
    if not isinstance(schema, Mapping):
        raise TypeError(f"schema expected, got {type(schema).__name__}")
    out: Schema = {}
    for key, value in schema.items():
        if _is_dropped(key):
            continue
        if key == "$ref":
            out[key] = _rewrite_ref(value)
        elif key in SCHEMA_KEYS:
            out[key] = convert(value)
        elif key in SCHEMA_LIST_KEYS:
            out[key] = [convert(item) for item in value]
        elif key in SCHEMA_MAP_KEYS:
            out[key] = {name: convert(sub) for name, sub in value.items()}
        else:
            out[key] = value  # enum, const, required, description, default, ...: copied verbatim
    if schema.get("nullable") is True:
        out = make_nullable(out)
    return out


def _refs(schema: Any, found: set[str]) -> None:
    """Collect the component names referenced from schema positions of ``schema``."""
    if not isinstance(schema, Mapping):
        return
    for key, value in schema.items():
        if _is_dropped(key):
            continue
        if key == "$ref":
            found.add(_rewrite_ref(value)[len(DEFS_PREFIX) :])
        elif key in SCHEMA_KEYS:
            _refs(value, found)
        elif key in SCHEMA_LIST_KEYS:
            for item in value:
                _refs(item, found)
        elif key in SCHEMA_MAP_KEYS:
            for sub in value.values():
                _refs(sub, found)


def closure(components: Mapping[str, Any], root: str) -> list[str]:
    """Names of ``root`` and every component it reaches through ``$ref``, sorted."""
    seen: set[str] = set()
    todo = [root]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        if name not in components:
            raise KeyError(f"component {name!r} not found")
        seen.add(name)
        found: set[str] = set()
        _refs(components[name], found)
        todo.extend(sorted(found - seen))
    return sorted(seen)


def build(components: Mapping[str, Any], root: str, stem: str, title: str, source: str) -> Schema:
    """The standalone JSON Schema document for component ``root``."""
    return {
        "$schema": DRAFT,
        "$id": ID_PREFIX + stem,
        "$comment": (
            f"GENERATED by tools/gen_strict_schemas.py from {source}, component {root}. "
            "Do not edit by hand: re-run the script."
        ),
        "title": title,
        "$ref": DEFS_PREFIX + root,
        "$defs": {name: convert(components[name]) for name in closure(components, root)},
    }


def render(schema: Schema) -> str:
    return json.dumps(schema, indent=2, ensure_ascii=False) + "\n"


def load_components(spec: Path) -> tuple[Mapping[str, Any], str]:
    import yaml  # dev-time dependency only

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    with spec.open(encoding="utf-8") as handle:
        document = yaml.load(handle, Loader=loader)
    components: Mapping[str, Any] = document["components"]["schemas"]
    version = str(document.get("info", {}).get("version", "?"))
    return components, version


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--spec", type=Path, required=True, help="openai-openapi openapi.yaml")
    parser.add_argument("--commit", default=DEFAULT_COMMIT, help="upstream commit of the snapshot")
    parser.add_argument("--out", type=Path, default=OUT_DIR, help="output folder")
    parser.add_argument("--check", action="store_true", help="compare only; exit 1 when files differ")
    args = parser.parse_args(argv)

    components, version = load_components(args.spec)
    source = f"openai/openai-openapi@{args.commit} (openapi.yaml, info.version {version})"
    stale = []
    for root, stem, title in TARGETS:
        text = render(build(components, root, stem, title, source))
        path = args.out / f"{stem}.schema.json"
        if args.check:
            if not path.is_file() or path.read_text(encoding="utf-8") != text:
                stale.append(path)
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        print(f"wrote {path} ({len(text)} bytes)")
    for path in stale:
        print(f"stale: {path}", file=sys.stderr)
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main())
