"""The JSON Schemas under schemas/, the seed bodies and the payload corpora in fixtures/payloads/."""

from __future__ import annotations

import base64
import copy
import importlib.util
import json
import os
import re
from collections.abc import Callable, Iterator
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

REPO = Path(__file__).resolve().parents[1]
SCHEMAS = REPO / "schemas"
FIXTURES = REPO / "fixtures"
PAYLOADS = FIXTURES / "payloads"
IMAGES = FIXTURES / "images"
DRAFT = "https://json-schema.org/draft/2020-12/schema"
PREFIX = "tag:chatcert,2026:"
CHAT_REQUEST = PREFIX + "openai/chat-request"
STRICT_RESPONSE = PREFIX + "openai/strict/chat-response"
STRICT_CHUNK = PREFIX + "openai/strict/chat-chunk"
COMPAT_RESPONSE = PREFIX + "openai/compatible/chat-response"
COMPAT_CHUNK = PREFIX + "openai/compatible/chat-chunk"
RESPONSE_TIERS = (STRICT_RESPONSE, COMPAT_RESPONSE)
CHUNK_TIERS = (STRICT_CHUNK, COMPAT_CHUNK)

# The $id -> file contract of docs/architecture.md, for the schemas this suite owns.
DOCUMENTED_FILES = {
    "openai/chat-request": "openai/chat-request.schema.json",
    "openai/strict/chat-response": "openai/strict/chat-response.schema.json",
    "openai/strict/chat-chunk": "openai/strict/chat-chunk.schema.json",
    "openai/compatible/chat-response": "openai/compatible/chat-response.schema.json",
    "openai/compatible/chat-chunk": "openai/compatible/chat-chunk.schema.json",
    "openai/error": "openai/error.schema.json",
    "errors/detail": "errors/detail.schema.json",
    "errors/openai-envelope": "errors/openai-envelope.schema.json",
    "openai/models-list": "openai/models-list.schema.json",
    "openai/completion-request": "openai/completion-request.schema.json",
    "openai/completion-response": "openai/completion-response.schema.json",
    "openai/completion-chunk": "openai/completion-chunk.schema.json",
    "anthropic/messages-request": "anthropic/messages-request.schema.json",
    "anthropic/messages-response": "anthropic/messages-response.schema.json",
    "anthropic/stream-event": "anthropic/stream-event.schema.json",
    "anthropic/error": "anthropic/error.schema.json",
    "libertai/models-map": "libertai/models-map.schema.json",
}

# ---------------------------------------------------------------------------------------------
# Local helpers: schema registry by $id, JSON Pointers, image placeholders.
# ---------------------------------------------------------------------------------------------


def _load_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


SCHEMA_FILES = sorted(SCHEMAS.rglob("*.schema.json"))


@cache
def registry() -> Registry[Any]:
    """Every schema file, registered under its ``$id`` (nothing is fetched)."""
    resources = []
    for path in SCHEMA_FILES:
        contents = _load_json(path)
        resource: Resource[Any] = Resource.from_contents(contents, default_specification=DRAFT202012)
        resources.append((str(contents["$id"]), resource))
    return Registry().with_resources(resources)


def validator(schema_id: str) -> Draft202012Validator:
    return Draft202012Validator(registry().contents(schema_id), registry=registry())


def pointer(path: Any) -> str:
    return "".join("/" + str(part).replace("~", "~0").replace("/", "~1") for part in path)


def errors(schema_id: str, instance: Any) -> list[ValidationError]:
    return list(validator(schema_id).iter_errors(instance))


def error_set(schema_id: str, instance: Any) -> set[tuple[str, str, str]]:
    return {(pointer(e.absolute_path), str(e.validator), e.message) for e in errors(schema_id, instance)}


def is_at_or_below(location: str, prefix: str) -> bool:
    return location == prefix or location.startswith(prefix + "/")


@cache
def manifest_mimes() -> dict[str, str]:
    return {str(e["file"]): str(e["mime"]) for e in _load_json(IMAGES / "MANIFEST.json")["images"]}


PLACEHOLDER = re.compile(r"^\{\{(?P<kind>image|image-base64):(?P<file>[^{}]+)\}\}$")


def image_data_url(name: str) -> str:
    return f"data:{manifest_mimes()[name]};base64,{base64.b64encode((IMAGES / name).read_bytes()).decode()}"


def substitute(value: Any) -> Any:
    """Replace ``{{image:FILE}}`` / ``{{image-base64:FILE}}`` strings as documented in fixtures/README.md."""
    if isinstance(value, dict):
        return {key: substitute(item) for key, item in value.items()}
    if isinstance(value, list):
        return [substitute(item) for item in value]
    if isinstance(value, str) and (match := PLACEHOLDER.match(value)):
        if match["kind"] == "image":
            return image_data_url(match["file"])
        return base64.b64encode((IMAGES / match["file"]).read_bytes()).decode()
    return value


def _walk(node: Any) -> Iterator[tuple[str, Any]]:
    if isinstance(node, dict):
        for key, value in node.items():
            yield key, value
            yield from _walk(value)
    elif isinstance(node, list):
        for item in node:
            yield from _walk(item)


def _generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "gen_strict_schemas", REPO / "tools" / "gen_strict_schemas.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


GEN = _generator()

# ---------------------------------------------------------------------------------------------
# Every schema file
# ---------------------------------------------------------------------------------------------


def _rel(path: Path) -> str:
    return path.relative_to(SCHEMAS).as_posix()


@pytest.mark.parametrize("path", SCHEMA_FILES, ids=_rel)
def test_schema_is_valid_draft_2020_12(path: Path) -> None:
    schema = _load_json(path)
    assert schema.get("$schema") == DRAFT
    assert str(schema.get("$id", "")).startswith(PREFIX)
    Draft202012Validator.check_schema(schema)


def test_schema_ids_are_unique() -> None:
    ids = [str(_load_json(path).get("$id")) for path in SCHEMA_FILES]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    assert not duplicates


@pytest.mark.parametrize("short_id", sorted(DOCUMENTED_FILES))
def test_documented_id_lives_in_documented_file(short_id: str) -> None:
    path = SCHEMAS / DOCUMENTED_FILES[short_id]
    assert path.is_file()
    assert _load_json(path)["$id"] == PREFIX + short_id
    assert registry().contents(PREFIX + short_id) == _load_json(path)


@pytest.mark.parametrize("path", SCHEMA_FILES, ids=_rel)
def test_every_ref_resolves(path: Path) -> None:
    schema = _load_json(path)
    resolver = registry().resolver(base_uri=schema["$id"])
    refs = [value for key, value in _walk(schema) if key == "$ref" and isinstance(value, str)]
    for ref in refs:
        resolved = resolver.lookup(ref).contents
        assert isinstance(resolved, dict | bool), ref
    if path.is_relative_to(SCHEMAS / "openai" / "strict"):
        assert refs, "the generated schemas reach their $defs through $ref"


def test_cross_file_refs_use_ids() -> None:
    """A $ref either stays in its file (#...) or names a registered $id, never a path."""
    ids = {str(_load_json(path)["$id"]) for path in SCHEMA_FILES}
    for path in SCHEMA_FILES:
        for key, value in _walk(_load_json(path)):
            if key == "$ref" and not value.startswith("#"):
                assert value.split("#", 1)[0] in ids, (path, value)


# ---------------------------------------------------------------------------------------------
# The strict tier and its generator
# ---------------------------------------------------------------------------------------------

OPENAPI_ONLY = {"nullable", "discriminator", "example", "x-oaiMeta", "x-oaiTypeLabel", "x-stainless-const"}


@pytest.mark.parametrize("name", ["chat-response", "chat-chunk"])
def test_strict_schema_has_no_openapi_only_keywords(name: str) -> None:
    schema = _load_json(SCHEMAS / "openai" / "strict" / f"{name}.schema.json")

    def keywords(node: Any) -> Iterator[str]:  # keys in schema positions only, not property names
        if isinstance(node, dict):
            for key, value in node.items():
                yield key
                if key in {"properties", "$defs", "patternProperties"}:
                    for sub in value.values():
                        yield from keywords(sub)
                elif key in {"enum", "const", "default", "required", "examples"}:
                    continue
                else:
                    yield from keywords(value)
        elif isinstance(node, list):
            for item in node:
                yield from keywords(item)

    found = set(keywords(schema)) & OPENAPI_ONLY
    assert not found
    assert not any(k.startswith("x-") for k in keywords(schema))
    assert "#/components/" not in json.dumps(schema)


def test_normaliser_widens_type_and_enum() -> None:
    converted = GEN.convert({"type": "string", "enum": ["stop", "length"], "nullable": True})
    assert converted == {"type": ["string", "null"], "enum": ["stop", "length", None]}
    check = Draft202012Validator(converted)
    assert check.is_valid(None)
    assert check.is_valid("stop")
    assert not check.is_valid("")


def test_normaliser_wraps_ref_in_any_of() -> None:
    converted = GEN.convert(
        {"$ref": "#/components/schemas/CompletionUsage", "nullable": True, "description": "d"}
    )
    assert converted == {"description": "d", "anyOf": [{"$ref": "#/$defs/CompletionUsage"}, {"type": "null"}]}


def test_normaliser_keeps_non_nullable_and_property_names() -> None:
    source = {
        "type": "object",
        "discriminator": {"propertyName": "type"},
        "x-oaiMeta": {"name": "n"},
        "example": {"a": 1},
        "properties": {"example": {"type": "string", "nullable": False}, "nullable": {"type": "integer"}},
    }
    assert GEN.convert(source) == {
        "type": "object",
        "properties": {"example": {"type": "string"}, "nullable": {"type": "integer"}},
    }


def test_normaliser_without_type_drops_keyword() -> None:
    assert GEN.convert({"description": "anything", "nullable": True}) == {"description": "anything"}
    assert GEN.convert({"oneOf": [{"type": "string"}], "nullable": True}) == {
        "anyOf": [{"oneOf": [{"type": "string"}]}, {"type": "null"}]
    }


def test_generator_closure_and_ref_errors() -> None:
    components = {
        "A": {"type": "object", "properties": {"b": {"$ref": "#/components/schemas/B"}}},
        "B": {"type": "array", "items": {"$ref": "#/components/schemas/C"}},
        "C": {"type": "string"},
        "Unused": {"type": "integer"},
    }
    assert GEN.closure(components, "A") == ["A", "B", "C"]
    with pytest.raises(KeyError):
        GEN.closure({"A": {"$ref": "#/components/schemas/Missing"}}, "A")
    with pytest.raises(ValueError):
        GEN.convert({"$ref": "https://example.com/other.json"})


def test_raw_openapi_chunk_fails_where_the_normalised_one_passes() -> None:
    """Note N1 in miniature: without normalisation a null finish_reason/usage is rejected."""
    components = {
        "Chunk": {
            "type": "object",
            "properties": {
                "finish_reason": {"type": "string", "enum": ["stop"], "nullable": True},
                "usage": {"$ref": "#/components/schemas/Usage", "nullable": True},
            },
        },
        "Usage": {"type": "object"},
    }
    chunk = {"finish_reason": None, "usage": None}
    generated = GEN.build(components, "Chunk", "t", "t", "test")
    assert Draft202012Validator(generated).is_valid(chunk)
    raw = {
        "$ref": "#/$defs/Chunk",
        "$defs": json.loads(json.dumps(components).replace("components/schemas", "$defs")),
    }
    assert len(list(Draft202012Validator(raw).iter_errors(chunk))) == 3


def _spec_path() -> Path | None:
    candidates = [
        os.environ.get("CHATCERT_OPENAPI_SPEC", ""),
        str(REPO.parent / "shared/reference/openai-openapi.yaml"),
    ]
    return next((Path(c) for c in candidates if c and Path(c).is_file()), None)


@pytest.mark.skipif(
    _spec_path() is None, reason="openai-openapi.yaml not available (set CHATCERT_OPENAPI_SPEC)"
)
def test_committed_strict_schemas_match_the_generator(tmp_path: Path) -> None:
    assert GEN.main(["--spec", str(_spec_path()), "--out", str(tmp_path)]) == 0
    for name in ("chat-response", "chat-chunk"):
        committed = (SCHEMAS / "openai" / "strict" / f"{name}.schema.json").read_text(encoding="utf-8")
        assert (tmp_path / f"{name}.schema.json").read_text(encoding="utf-8") == committed


# ---------------------------------------------------------------------------------------------
# Responses and chunks: both tiers
# ---------------------------------------------------------------------------------------------

RESPONSE: dict[str, Any] = {
    "id": "chatcmpl-B9MHDbslfkBeAs8l4bebGdFOJ6PeG",
    "object": "chat.completion",
    "created": 1741570283,
    "model": "gpt-4o-2024-08-06",
    "choices": [
        {
            "index": 0,
            "message": {"role": "assistant", "content": "A boardwalk.", "refusal": None, "annotations": []},
            "logprobs": None,
            "finish_reason": "stop",
        }
    ],
    "usage": {
        "prompt_tokens": 1117,
        "completion_tokens": 46,
        "total_tokens": 1163,
        "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
        "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0},
    },
    "service_tier": "default",
    "system_fingerprint": "fp_fc9f1d7035",
}

TOOL_RESPONSE: dict[str, Any] = {
    "id": "chatcmpl-2",
    "object": "chat.completion",
    "created": 1741570283,
    "model": "m",
    "choices": [
        {
            "index": 0,
            "message": {
                "role": "assistant",
                "content": None,
                "refusal": None,
                "tool_calls": [
                    {
                        "id": "call_1",
                        "type": "function",
                        "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
                    }
                ],
            },
            "logprobs": None,
            "finish_reason": "tool_calls",
        }
    ],
}


def _chunk(delta: dict[str, Any], finish_reason: str | None = None, **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": "chatcmpl-123",
        "object": "chat.completion.chunk",
        "created": 1694268190,
        "model": "gpt-4o-mini",
        "system_fingerprint": "fp_44709d6fcb",
        "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}],
    }
    body.update(extra)
    return body


FIRST_CHUNK = _chunk({"role": "assistant", "content": ""}, usage=None)
MID_CHUNK = _chunk({"content": "Hello"}, usage=None, x_mock_sent_at=1694268190.25)
LAST_CHUNK = _chunk({}, "stop", usage=None, obfuscation="")
USAGE_CHUNK: dict[str, Any] = {
    "id": "chatcmpl-123",
    "object": "chat.completion.chunk",
    "created": 1694268190,
    "model": "gpt-4o-mini",
    "choices": [],
    "usage": {"prompt_tokens": 9, "completion_tokens": 12, "total_tokens": 21},
}
TOOL_CHUNKS = [
    _chunk(
        {
            "role": "assistant",
            "tool_calls": [
                {
                    "index": 0,
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": ""},
                }
            ],
        }
    ),
    _chunk({"tool_calls": [{"index": 0, "function": {"arguments": '{"city": "Paris"}'}}]}),
    _chunk({}, "tool_calls"),
]

GOOD_RESPONSES = {"normal": RESPONSE, "tool-call": TOOL_RESPONSE}
GOOD_CHUNKS = {
    "first": FIRST_CHUNK,
    "mid-stream": MID_CHUNK,
    "last": LAST_CHUNK,
    "usage": USAGE_CHUNK,
    **{f"tool-{i}": chunk for i, chunk in enumerate(TOOL_CHUNKS)},
}


@pytest.mark.parametrize("schema_id", RESPONSE_TIERS)
@pytest.mark.parametrize("name", sorted(GOOD_RESPONSES))
def test_good_response_validates(schema_id: str, name: str) -> None:
    assert error_set(schema_id, GOOD_RESPONSES[name]) == set()


@pytest.mark.parametrize("schema_id", CHUNK_TIERS)
@pytest.mark.parametrize("name", sorted(GOOD_CHUNKS))
def test_good_chunk_validates(schema_id: str, name: str) -> None:
    assert error_set(schema_id, GOOD_CHUNKS[name]) == set()


Mutation = Callable[[dict[str, Any]], None]


def _set(path: str, value: Any) -> Mutation:
    def mutate(body: dict[str, Any]) -> None:
        *parents, last = [int(p) if p.isdigit() else p for p in path.strip("/").split("/")]
        node: Any = body
        for part in parents:
            node = node[part]
        node[last] = value

    return mutate


def _delete(path: str) -> Mutation:
    def mutate(body: dict[str, Any]) -> None:
        *parents, last = [int(p) if p.isdigit() else p for p in path.strip("/").split("/")]
        node: Any = body
        for part in parents:
            node = node[part]
        del node[last]

    return mutate


# (case, base, mutation, pointer every error lies at or below)
BROKEN_RESPONSES: list[tuple[str, dict[str, Any], Mutation, str]] = [
    (
        "content-object",
        RESPONSE,
        _set("/choices/0/message/content", {"text": "hi"}),
        "/choices/0/message/content",
    ),
    ("content-number", RESPONSE, _set("/choices/0/message/content", 3), "/choices/0/message/content"),
    ("finish-reason-empty", RESPONSE, _set("/choices/0/finish_reason", ""), "/choices/0/finish_reason"),
    ("finish-reason-unknown", RESPONSE, _set("/choices/0/finish_reason", "eos"), "/choices/0/finish_reason"),
    ("finish-reason-missing", RESPONSE, _delete("/choices/0/finish_reason"), "/choices/0"),
    ("index-missing", RESPONSE, _delete("/choices/0/index"), "/choices/0"),
    ("role-user", RESPONSE, _set("/choices/0/message/role", "user"), "/choices/0/message/role"),
    ("object-chunk", RESPONSE, _set("/object", "chat.completion.chunk"), "/object"),
    ("created-string", RESPONSE, _set("/created", "1741570283"), "/created"),
    ("choices-missing", RESPONSE, _delete("/choices"), ""),
    ("id-missing", RESPONSE, _delete("/id"), ""),
    ("usage-tokens-string", RESPONSE, _set("/usage/total_tokens", "1163"), "/usage/total_tokens"),
    (
        "arguments-object",
        TOOL_RESPONSE,
        _set("/choices/0/message/tool_calls/0/function/arguments", {"city": "Paris"}),
        "/choices/0/message/tool_calls/0",
    ),
    (
        "tool-call-id-missing",
        TOOL_RESPONSE,
        _delete("/choices/0/message/tool_calls/0/id"),
        "/choices/0/message/tool_calls/0",
    ),
]

BROKEN_CHUNKS: list[tuple[str, dict[str, Any], Mutation, str]] = [
    (
        "delta-content-object",
        MID_CHUNK,
        _set("/choices/0/delta/content", {"text": "x"}),
        "/choices/0/delta/content",
    ),
    ("finish-reason-empty", LAST_CHUNK, _set("/choices/0/finish_reason", ""), "/choices/0/finish_reason"),
    ("finish-reason-missing", MID_CHUNK, _delete("/choices/0/finish_reason"), "/choices/0"),
    ("delta-missing", MID_CHUNK, _delete("/choices/0/delta"), "/choices/0"),
    ("object-response", MID_CHUNK, _set("/object", "chat.completion"), "/object"),
    ("usage-string", MID_CHUNK, _set("/usage", "none"), "/usage"),
    ("usage-incomplete", USAGE_CHUNK, _delete("/usage/total_tokens"), "/usage"),
    ("choices-null", USAGE_CHUNK, _set("/choices", None), "/choices"),
    (
        "tool-arguments-object",
        TOOL_CHUNKS[1],
        _set("/choices/0/delta/tool_calls/0/function/arguments", {"city": "Paris"}),
        "/choices/0/delta/tool_calls/0/function/arguments",
    ),
    (
        "tool-index-missing",
        TOOL_CHUNKS[1],
        _delete("/choices/0/delta/tool_calls/0/index"),
        "/choices/0/delta/tool_calls/0",
    ),
]


def _check_broken(schema_id: str, base: dict[str, Any], mutate: Mutation, where: str) -> None:
    body = copy.deepcopy(base)
    mutate(body)
    assert body != base
    found = errors(schema_id, body)
    assert found, "the broken variant is accepted"
    locations = {pointer(e.absolute_path) for e in found}
    assert all(is_at_or_below(loc, where) for loc in locations), locations


@pytest.mark.parametrize("schema_id", RESPONSE_TIERS)
@pytest.mark.parametrize(
    ("case", "base", "mutate", "where"), BROKEN_RESPONSES, ids=[c[0] for c in BROKEN_RESPONSES]
)
def test_broken_response_is_rejected(
    schema_id: str, case: str, base: dict[str, Any], mutate: Mutation, where: str
) -> None:
    _check_broken(schema_id, base, mutate, where)


@pytest.mark.parametrize("schema_id", CHUNK_TIERS)
@pytest.mark.parametrize(
    ("case", "base", "mutate", "where"), BROKEN_CHUNKS, ids=[c[0] for c in BROKEN_CHUNKS]
)
def test_broken_chunk_is_rejected(
    schema_id: str, case: str, base: dict[str, Any], mutate: Mutation, where: str
) -> None:
    _check_broken(schema_id, base, mutate, where)


def _pharia_response() -> dict[str, Any]:
    body: dict[str, Any] = _load_json(PAYLOADS / "seeds" / "pharia-response.json")
    return body


def test_pharia_response_is_compatible() -> None:
    assert error_set(COMPAT_RESPONSE, _pharia_response()) == set()


def test_pharia_response_fails_strict_only_for_missing_refusal() -> None:
    assert error_set(STRICT_RESPONSE, _pharia_response()) == {
        ("/choices/0/message", "required", "'refusal' is a required property")
    }
    fixed = _pharia_response()
    fixed["choices"][0]["message"]["refusal"] = None
    assert error_set(STRICT_RESPONSE, fixed) == set()


def test_minimal_server_response_differs_between_tiers() -> None:
    """No refusal, no logprobs, null usage details (vLLM/mockllm style): compatible only."""
    body = copy.deepcopy(RESPONSE)
    del body["choices"][0]["message"]["refusal"]
    del body["choices"][0]["logprobs"]
    body["usage"]["prompt_tokens_details"] = None
    assert error_set(COMPAT_RESPONSE, body) == set()
    assert error_set(STRICT_RESPONSE, body) == {
        ("/choices/0/message", "required", "'refusal' is a required property"),
        ("/choices/0", "required", "'logprobs' is a required property"),
        ("/usage/prompt_tokens_details", "type", "None is not of type 'object'"),
    }


def test_compatible_usage_rejects_negative_counts() -> None:
    body = copy.deepcopy(RESPONSE)
    body["usage"]["completion_tokens"] = -1
    assert {loc for loc, _, _ in error_set(COMPAT_RESPONSE, body)} == {"/usage/completion_tokens"}
    assert error_set(STRICT_RESPONSE, body) == set()  # upstream sets no minimum


# ---------------------------------------------------------------------------------------------
# Seeds
# ---------------------------------------------------------------------------------------------

SEED_INDEX: list[dict[str, Any]] = _load_json(PAYLOADS / "seeds" / "SEEDS.json")["seeds"]


def test_seed_index_lists_every_seed_file() -> None:
    on_disk = {p.name for p in (PAYLOADS / "seeds").glob("*.json")} - {"SEEDS.json"}
    listed = [str(entry["file"]) for entry in SEED_INDEX]
    assert len(listed) == len(set(listed))
    assert set(listed) == on_disk


def _replace_seed_images(value: Any, placeholders: set[str], url: str, hits: list[str]) -> Any:
    if isinstance(value, dict):
        if value.get("type") == "image_url" and isinstance(value.get("image_url"), dict):
            image = dict(value["image_url"])
            if image.get("url") in placeholders:
                hits.append(image["url"])
                image["url"] = url
            return {**value, "image_url": image}
        return {k: _replace_seed_images(v, placeholders, url, hits) for k, v in value.items()}
    if isinstance(value, list):
        return [_replace_seed_images(v, placeholders, url, hits) for v in value]
    return value


@pytest.mark.parametrize("entry", SEED_INDEX, ids=[str(e["file"]) for e in SEED_INDEX])
def test_seed_validates_with_a_real_image(entry: dict[str, Any]) -> None:
    body = _load_json(PAYLOADS / "seeds" / entry["file"])
    hits: list[str] = []
    url = image_data_url("png-8x8-red.png")
    replaced = _replace_seed_images(body, set(entry["image_placeholders"]), url, hits)
    assert sorted(hits) == sorted(entry["image_placeholders"])
    if hits:
        assert url in json.dumps(replaced) and url not in json.dumps(body)
    assert [f"{pointer(e.absolute_path)}: {e.message}" for e in errors(entry["schema"], replaced)] == []


def test_liquid_seed_keeps_its_fields() -> None:
    body = _load_json(PAYLOADS / "seeds" / "liquid-vlm-request.json")
    assert [part["type"] for part in body["messages"][0]["content"]] == ["image_url", "text"]
    assert (body["max_tokens"], body["temperature"], body["cache_prompt"]) == (256, 0.2, False)


# ---------------------------------------------------------------------------------------------
# valid/ and invalid/ corpora
# ---------------------------------------------------------------------------------------------

VALID = sorted((PAYLOADS / "valid").glob("*.json"))
INVALID = sorted((PAYLOADS / "invalid").glob("*.json"))
CASE_KEYS = {"description", "rule", "schema", "invalid_at", "body"}
RULE = re.compile(r"^[A-Z]{1,3}[0-9]{1,2}$")


def _names(paths: list[Path]) -> list[str]:
    return [p.stem for p in paths]


@pytest.mark.parametrize("path", VALID, ids=_names(VALID))
def test_valid_payload_validates(path: Path) -> None:
    case = _load_json(path)
    body = substitute(case["body"])
    assert [
        f"{pointer(e.absolute_path)}: {e.message}" for e in errors(case.get("schema", CHAT_REQUEST), body)
    ] == []


@pytest.mark.parametrize("path", INVALID, ids=_names(INVALID))
def test_invalid_payload_is_rejected_at_its_label(path: Path) -> None:
    case = _load_json(path)
    found = errors(case.get("schema", CHAT_REQUEST), substitute(case["body"]))
    assert found, "the invalid payload validates"
    locations = {pointer(e.absolute_path) for e in found}
    assert all(is_at_or_below(loc, case["invalid_at"]) for loc in locations), locations


def test_corpora_are_well_formed() -> None:
    assert len(VALID) >= 20 and len(INVALID) >= 30
    descriptions: list[str] = []
    for path in VALID + INVALID:
        case = _load_json(path)
        assert set(case) <= CASE_KEYS, path
        assert {"description", "rule", "body"} <= set(case), path
        assert ("invalid_at" in case) == (path.parent.name == "invalid"), path
        assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*\.json", path.name), path
        assert RULE.match(case["rule"]), path
        description = case["description"]
        assert description and "should" not in description.lower(), path
        verdict = "valid" if path.parent.name == "valid" else "invalid"
        assert description.endswith((f" is {verdict}", f" are {verdict}")), path
        assert case.get("schema", CHAT_REQUEST) in {str(_load_json(p)["$id"]) for p in SCHEMA_FILES}, path
        descriptions.append(description)
    assert len(descriptions) == len(set(descriptions))


def test_corpora_cover_the_required_rejections() -> None:
    names = {p.stem for p in INVALID}
    required = {
        "missing-messages",
        "missing-model",
        "empty-messages",
        "unknown-role",
        "temperature-too-high",
        "top-p-too-high",
        "n-zero",
        "n-too-high",
        "image-url-bare-string",
        "stop-too-many",
        "tool-message-without-tool-call-id",
        "content-is-object",
        "tool-call-arguments-object",
    }
    assert required <= names


def test_substitution_yields_a_decodable_data_url() -> None:
    url = substitute("{{image:png-8x8-red.png}}")
    assert url.startswith("data:image/png;base64,")
    assert base64.b64decode(url.split(",", 1)[1]) == (IMAGES / "png-8x8-red.png").read_bytes()
    assert (
        substitute("{{image-base64:gif-16x16-green.gif}}")
        == base64.b64encode((IMAGES / "gif-16x16-green.gif").read_bytes()).decode()
    )
    assert substitute("see {{image:png-8x8-red.png}}") == "see {{image:png-8x8-red.png}}"


# ---------------------------------------------------------------------------------------------
# The other schemas: one good and some bad instances each
# ---------------------------------------------------------------------------------------------

ANTHROPIC_RESPONSE: dict[str, Any] = {
    "id": "msg_01",
    "type": "message",
    "role": "assistant",
    "content": [
        {"type": "text", "text": "Hello!"},
        {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"city": "Paris"}},
    ],
    "model": "claude-test",
    "stop_reason": "tool_use",
    "stop_sequence": None,
    "usage": {"input_tokens": 10, "output_tokens": 5},
}

ANTHROPIC_STREAM: list[dict[str, Any]] = [
    {
        "type": "message_start",
        "message": {
            **ANTHROPIC_RESPONSE,
            "content": [],
            "stop_reason": None,
            "usage": {"input_tokens": 10, "output_tokens": 1},
        },
    },
    {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
    {"type": "ping"},
    {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Hel"}},
    {"type": "content_block_stop", "index": 0},
    {
        "type": "content_block_start",
        "index": 1,
        "content_block": {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {}},
    },
    {
        "type": "content_block_delta",
        "index": 1,
        "delta": {"type": "input_json_delta", "partial_json": '{"city":'},
    },
    {"type": "content_block_delta", "index": 2, "delta": {"type": "thinking_delta", "thinking": "hmm"}},
    {"type": "content_block_delta", "index": 2, "delta": {"type": "signature_delta", "signature": "sig"}},
    {"type": "content_block_stop", "index": 1},
    {
        "type": "message_delta",
        "delta": {"stop_reason": "tool_use", "stop_sequence": None},
        "usage": {"output_tokens": 5},
    },
    {"type": "message_stop"},
    {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}},
]

GOOD: list[tuple[str, str, Any]] = [
    (
        "openai/error",
        "full",
        {"error": {"message": "bad", "type": "invalid_request_error", "param": None, "code": None}},
    ),
    (
        "openai/error",
        "strings",
        {"error": {"message": "m", "type": "t", "param": "model", "code": "model_not_found"}},
    ),
    (
        "errors/openai-envelope",
        "llama_cpp_integer_code_no_param",
        {"error": {"code": 400, "message": "bad", "type": "invalid_request_error"}},
    ),
    (
        "errors/openai-envelope",
        "vllm_integer_code",
        {"error": {"message": "bad", "type": "Bad Request", "param": "body.28", "code": 400}},
    ),
    ("errors/openai-envelope", "message_only", {"error": {"message": "bad"}}),
    ("errors/detail", "string", {"detail": "Invalid API key"}),
    (
        "errors/detail",
        "list",
        {"detail": [{"loc": ["body", "messages", 0], "msg": "Field required", "type": "missing"}]},
    ),
    ("errors/detail", "object", {"detail": {"x402Version": 1, "accepts": []}}),
    (
        "openai/models-list",
        "full",
        {
            "object": "list",
            "data": [
                {"id": "gpt-4o", "object": "model", "created": 1, "owned_by": "openai"},
                {"id": "local", "object": "model"},
            ],
        },
    ),
    (
        "openai/completion-request",
        "string",
        {"model": "m", "prompt": "Say hi", "max_tokens": 0, "stream": True},
    ),
    ("openai/completion-request", "tokens", {"model": "m", "prompt": [[1, 2], [3]], "logprobs": 5}),
    (
        "openai/completion-response",
        "full",
        {
            "id": "cmpl-1",
            "object": "text_completion",
            "created": 1,
            "model": "m",
            "choices": [{"text": "hi", "index": 0, "logprobs": None, "finish_reason": "length"}],
            "usage": {"prompt_tokens": 2, "completion_tokens": 1, "total_tokens": 3},
        },
    ),
    (
        "openai/completion-chunk",
        "mid",
        {
            "id": "cmpl-1",
            "object": "text_completion",
            "created": 1,
            "model": "m",
            "choices": [{"text": "h", "index": 0, "logprobs": None, "finish_reason": None}],
        },
    ),
    (
        "openai/completion-chunk",
        "usage",
        {
            "id": "cmpl-1",
            "object": "text_completion",
            "created": 1,
            "model": "m",
            "choices": [],
            "usage": {"prompt_tokens": 2, "completion_tokens": 1, "total_tokens": 3},
        },
    ),
    ("anthropic/messages-response", "tool-use", ANTHROPIC_RESPONSE),
    (
        "anthropic/error",
        "full",
        {"type": "error", "error": {"type": "not_found_error", "message": "model"}, "request_id": "req_1"},
    ),
    ("libertai/models-map", "empty", {}),
    *[("anthropic/stream-event", f"event-{i}", event) for i, event in enumerate(ANTHROPIC_STREAM)],
]

# (schema, case, instance, pointer every error lies at or below)
BAD: list[tuple[str, str, Any, str]] = [
    ("openai/error", "param-missing", {"error": {"message": "m", "type": "t", "code": None}}, "/error"),
    (
        "openai/error",
        "code-integer",
        {"error": {"message": "m", "type": "t", "param": None, "code": 400}},
        "/error/code",
    ),
    (
        "openai/error",
        "vllm-legacy",
        {"object": "error", "message": "m", "type": "t", "param": None, "code": 400},
        "",
    ),
    ("errors/openai-envelope", "error-is-string", {"error": "temperature too high"}, "/error"),
    ("errors/openai-envelope", "message-missing", {"error": {"code": 400, "type": "t"}}, "/error"),
    ("errors/openai-envelope", "vllm-legacy", {"object": "error", "message": "m", "code": 400}, ""),
    ("errors/detail", "missing", {"message": "x"}, ""),
    ("errors/detail", "item-without-msg", {"detail": [{"loc": ["body"], "type": "missing"}]}, "/detail"),
    ("errors/detail", "number", {"detail": 3}, "/detail"),
    ("openai/models-list", "object-models", {"object": "models", "data": []}, "/object"),
    ("openai/models-list", "model-without-id", {"object": "list", "data": [{"object": "model"}]}, "/data/0"),
    ("openai/completion-request", "prompt-missing", {"model": "m"}, ""),
    (
        "openai/completion-request",
        "negative-max-tokens",
        {"model": "m", "prompt": "p", "max_tokens": -1},
        "/max_tokens",
    ),
    (
        "openai/completion-response",
        "chat-object",
        {"id": "c", "object": "chat.completion", "created": 1, "model": "m", "choices": []},
        "/object",
    ),
    (
        "openai/completion-chunk",
        "text-number",
        {
            "id": "c",
            "object": "text_completion",
            "created": 1,
            "model": "m",
            "choices": [{"index": 0, "text": 1}],
        },
        "/choices/0/text",
    ),
    (
        "anthropic/messages-request",
        "content-number",
        {"model": "m", "max_tokens": 1, "messages": [{"role": "user", "content": 1}]},
        "/messages/0/content",
    ),
    (
        "anthropic/messages-request",
        "role-system",
        {"model": "m", "max_tokens": 1, "messages": [{"role": "system", "content": "x"}]},
        "/messages/0/role",
    ),
    (
        "anthropic/messages-request",
        "image-media-type",
        {
            "model": "m",
            "max_tokens": 1,
            "messages": [
                {
                    "role": "user",
                    "content": [
                        {
                            "type": "image",
                            "source": {"type": "base64", "media_type": "image/bmp", "data": "AAAA"},
                        }
                    ],
                }
            ],
        },
        "/messages/0/content/0/source/media_type",
    ),
    (
        "anthropic/messages-response",
        "stop-reason-unknown",
        {**ANTHROPIC_RESPONSE, "stop_reason": "stop"},
        "/stop_reason",
    ),
    (
        "anthropic/messages-response",
        "tool-input-string",
        {**ANTHROPIC_RESPONSE, "content": [{"type": "tool_use", "id": "t", "name": "n", "input": "{}"}]},
        "/content/0/input",
    ),
    (
        "anthropic/messages-response",
        "usage-missing-output",
        {**ANTHROPIC_RESPONSE, "usage": {"input_tokens": 1}},
        "/usage",
    ),
    ("anthropic/messages-response", "role-user", {**ANTHROPIC_RESPONSE, "role": "user"}, "/role"),
    ("anthropic/stream-event", "unknown-type", {"type": "message_end"}, "/type"),
    (
        "anthropic/stream-event",
        "text-delta-without-text",
        {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta"}},
        "/delta",
    ),
    (
        "anthropic/stream-event",
        "delta-index-missing",
        {"type": "content_block_delta", "delta": {"type": "text_delta", "text": "x"}},
        "",
    ),
    (
        "anthropic/stream-event",
        "message-delta-stop-reason",
        {"type": "message_delta", "delta": {"stop_reason": "done"}, "usage": {"output_tokens": 1}},
        "/delta/stop_reason",
    ),
    (
        "anthropic/stream-event",
        "message-start-wrong-type",
        {"type": "message_start", "message": {**ANTHROPIC_RESPONSE, "type": "msg"}},
        "/message/type",
    ),
    (
        "anthropic/stream-event",
        "error-without-message",
        {"type": "error", "error": {"type": "api_error"}},
        "/error",
    ),
    ("anthropic/error", "openai-shape", {"error": {"type": "t", "message": "m"}}, ""),
    ("libertai/models-map", "servers-string", {"m": {"servers": "https://a.example"}}, "/m/servers"),
    ("libertai/models-map", "server-not-url", {"m": {"servers": ["a.example"]}}, "/m/servers/0"),
    ("libertai/models-map", "servers-missing", {"m": {}}, "/m"),
]


@pytest.mark.parametrize(("short_id", "case", "instance"), GOOD, ids=[f"{g[0]}:{g[1]}" for g in GOOD])
def test_good_instance_validates(short_id: str, case: str, instance: Any) -> None:
    assert error_set(PREFIX + short_id, instance) == set()


@pytest.mark.parametrize(("short_id", "case", "instance", "where"), BAD, ids=[f"{b[0]}:{b[1]}" for b in BAD])
def test_bad_instance_is_rejected(short_id: str, case: str, instance: Any, where: str) -> None:
    found = errors(PREFIX + short_id, instance)
    assert found, "the bad instance validates"
    locations = {pointer(e.absolute_path) for e in found}
    assert all(is_at_or_below(loc, where) for loc in locations), locations


def test_every_owned_schema_has_good_and_bad_instances() -> None:
    tested = {g[0] for g in GOOD} | {b[0] for b in BAD}
    covered_elsewhere = {
        "openai/chat-request",
        "openai/strict/chat-response",
        "openai/strict/chat-chunk",
        "openai/compatible/chat-response",
        "openai/compatible/chat-chunk",
    }
    assert tested | covered_elsewhere == set(DOCUMENTED_FILES)
    assert {b[0] for b in BAD} == tested
    assert {g[0] for g in GOOD} | {"anthropic/messages-request"} == tested  # that one: seeds and corpus


# ---------------------------------------------------------------------------------------------
# The compatible tier against the official SDK's models (issue 18): null wherever the SDK accepts it
# ---------------------------------------------------------------------------------------------
# The rule stated in both compatible schemas' descriptions: a field the openai SDK types Optional may be
# null, because an SDK client parses that answer; a field it requires may not. The SDK's pydantic models
# are the reference: every compatible-tier example, and every variant of it with one field (present or
# declared by the SDK) set to null, must be accepted by the schema exactly when the SDK's model accepts it.

# What vLLM (OpenAI server, protocol.py models dumped without exclude_none) sends: null for every optional
# field it does not fill, plus its own extensions (reasoning, stop_reason, token_ids, prompt_logprobs).
VLLM_LIKE_RESPONSE: dict[str, Any] = {
    "id": "chatcmpl-8f0c",
    "object": "chat.completion",
    "created": 1764748800,
    "model": "gemma-3-270m",
    "choices": [
        {
            "index": 0,
            "message": {
                "role": "assistant",
                "content": "Hi",
                "refusal": None,
                "annotations": None,
                "audio": None,
                "function_call": None,
                "tool_calls": [],
                "reasoning": None,
                "reasoning_content": None,
            },
            "logprobs": {
                "content": [
                    {
                        "token": "Hi",
                        "logprob": -0.5,
                        "bytes": [72, 105],
                        "top_logprobs": [{"token": "Hi", "logprob": -0.5, "bytes": None}],
                    }
                ],
                "refusal": None,
            },
            "finish_reason": "stop",
            "stop_reason": None,
            "token_ids": None,
        }
    ],
    "service_tier": None,
    "system_fingerprint": None,
    "usage": {
        "prompt_tokens": 11,
        "total_tokens": 13,
        "completion_tokens": 2,
        "prompt_tokens_details": None,
        "completion_tokens_details": None,
    },
    "prompt_logprobs": None,
    "prompt_token_ids": None,
    "kv_transfer_params": None,
}

VLLM_LIKE_TOOL_CHUNK = _chunk(
    {
        "role": None,
        "content": None,
        "reasoning": None,
        "tool_calls": [
            {
                "index": 0,
                "id": "chatcmpl-tool-1",
                "type": "function",
                "function": {"name": "get_weather", "arguments": None},
            }
        ],
    },
    usage=None,
    system_fingerprint=None,
    service_tier=None,
)

SDK_RESPONSE_EXAMPLES = {
    **GOOD_RESPONSES,
    "pharia": _pharia_response(),
    "vllm-like": VLLM_LIKE_RESPONSE,
}
SDK_CHUNK_EXAMPLES = {**GOOD_CHUNKS, "vllm-like-tool": VLLM_LIKE_TOOL_CHUNK}


def _sdk_models() -> tuple[type[Any], type[Any]]:
    from openai.types.chat import ChatCompletion, ChatCompletionChunk

    return ChatCompletion, ChatCompletionChunk


def _sdk_accepts(model: type[Any], instance: Any) -> bool:
    from pydantic import ValidationError as PydanticValidationError

    try:
        model.model_validate(instance)
    except PydanticValidationError:
        return False
    return True


def _model_classes(annotation: Any) -> list[type[Any]]:
    """The pydantic model classes an annotation admits (through Optional, List, Union, Annotated)."""
    from typing import get_args

    from pydantic import BaseModel

    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    found: list[type[Any]] = []
    for arg in get_args(annotation):
        found.extend(_model_classes(arg))
    return found


def _null_variants(model: type[Any], node: Any, path: tuple[Any, ...]) -> Iterator[tuple[Any, ...]]:
    """Paths of every field the SDK declares (or the example has) at an object node the SDK models."""
    if not isinstance(node, dict):
        return
    for name, field in model.model_fields.items():
        key = field.alias or name
        yield (*path, key)
        value = node.get(key)
        classes = _model_classes(field.annotation)
        items = value if isinstance(value, list) else [value]
        for index, item in enumerate(items):
            item_path = (*path, key, index) if isinstance(value, list) else (*path, key)
            # A union (a tool call is function or custom): recurse into the member that parses the item.
            for cls in classes:
                if _sdk_accepts(cls, item):
                    yield from _null_variants(cls, item, item_path)
                    break


def _with_null(instance: dict[str, Any], path: tuple[Any, ...]) -> dict[str, Any]:
    body = copy.deepcopy(instance)
    node: Any = body
    for part in path[:-1]:
        node = node[part]
    node[path[-1]] = None
    return body


def _sdk_disagreements(model: type[Any], schema_id: str, example: dict[str, Any]) -> list[str]:
    found = []
    for path in sorted(set(_null_variants(model, example, ())), key=str):
        variant = _with_null(example, path)
        sdk, schema = _sdk_accepts(model, variant), not errors(schema_id, variant)
        if sdk != schema:
            verdict = "accepted" if sdk else "rejected"
            found.append(f"{pointer(path)}: null {verdict} by the SDK, not the schema")
    return found


@pytest.mark.parametrize("name", sorted(SDK_RESPONSE_EXAMPLES))
def test_compatible_response_example_parses_with_the_sdk(name: str) -> None:
    example = SDK_RESPONSE_EXAMPLES[name]
    assert error_set(COMPAT_RESPONSE, example) == set()
    assert _sdk_accepts(_sdk_models()[0], example)


@pytest.mark.parametrize("name", sorted(SDK_CHUNK_EXAMPLES))
def test_compatible_chunk_example_parses_with_the_sdk(name: str) -> None:
    example = SDK_CHUNK_EXAMPLES[name]
    assert error_set(COMPAT_CHUNK, example) == set()
    assert _sdk_accepts(_sdk_models()[1], example)


@pytest.mark.parametrize("name", sorted(SDK_RESPONSE_EXAMPLES))
def test_compatible_response_nulls_agree_with_the_sdk(name: str) -> None:
    assert _sdk_disagreements(_sdk_models()[0], COMPAT_RESPONSE, SDK_RESPONSE_EXAMPLES[name]) == []


@pytest.mark.parametrize("name", sorted(SDK_CHUNK_EXAMPLES))
def test_compatible_chunk_nulls_agree_with_the_sdk(name: str) -> None:
    assert _sdk_disagreements(_sdk_models()[1], COMPAT_CHUNK, SDK_CHUNK_EXAMPLES[name]) == []


def test_sdk_null_walk_reaches_the_fields_vllm_leaves_null() -> None:
    """The walk is not vacuous: it covers the fields of the issue, the logprob items and required ones."""
    paths = {pointer(p) for p in _null_variants(_sdk_models()[0], VLLM_LIKE_RESPONSE, ())}
    assert {
        "/choices/0/message/annotations",
        "/choices/0/message/audio",
        "/choices/0/message/function_call",
        "/choices/0/message/refusal",
        "/usage/prompt_tokens_details",
        "/usage/completion_tokens_details",
        "/choices/0/logprobs/content/0/top_logprobs/0/bytes",
        "/choices/0/finish_reason",
        "/usage/total_tokens",
    } <= paths
    required = _with_null(VLLM_LIKE_RESPONSE, ("choices", 0, "finish_reason"))
    assert not _sdk_accepts(_sdk_models()[0], required)
    assert errors(COMPAT_RESPONSE, required)


def test_strict_tier_keeps_the_documented_types() -> None:
    """The SDK rule is the compatible tier's: the strict tier still rejects vLLM's nulls."""
    assert {loc for loc, _, _ in error_set(STRICT_RESPONSE, VLLM_LIKE_RESPONSE)} >= {
        "/choices/0/message/annotations",
        "/usage/prompt_tokens_details",
        "/system_fingerprint",
    }
