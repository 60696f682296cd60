"""The mock's request validation: the fast validator (jsonschema_rs) agrees with the reference (jsonschema).

The mock lets the compiled validator accept a request on its own (docs/mock-server.md: validation was most
of a request's cost), so the two must agree: on every payload of the corpus and on random edits of the
valid ones. Without jsonschema_rs the mock uses the reference alone and these tests skip.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from chatcert.wire import schemas as schemas_module
from chatcert.wire.schemas import SchemaStore
from chatcert_data import data_dir

REQUESTS = (
    "tag:chatcert,2026:openai/chat-request",
    "tag:chatcert,2026:openai/completion-request",
    "tag:chatcert,2026:anthropic/messages-request",
)
pytestmark = pytest.mark.skipif(schemas_module._RUST is None, reason="jsonschema_rs is not installed")


def _corpus() -> list[tuple[str, Any]]:
    """(schema $id, body) of every valid and invalid payload file (chat requests unless it names another)."""
    found = []
    for path in sorted(Path(data_dir("fixtures"), "payloads").rglob("*.json")):
        doc = json.loads(path.read_text(encoding="utf-8"))
        if isinstance(doc, dict) and "body" in doc and doc.get("schema", REQUESTS[0]) in REQUESTS:
            found.append((doc.get("schema", REQUESTS[0]), doc["body"]))
    return found


CORPUS = _corpus()
STORE = SchemaStore()


def verdicts(schema_id: str, body: Any) -> tuple[bool, bool]:
    """(fast, reference) verdicts on `body`."""
    fast = STORE._fast_validator(schema_id)
    assert fast is not None, f"no fast validator for {schema_id}"
    reference = STORE._validator(schema_id)
    assert isinstance(reference, Draft202012Validator)
    return bool(fast.is_valid(body)), reference.is_valid(body)


def test_the_corpus_has_valid_and_invalid_requests() -> None:
    outcomes = {verdicts(schema_id, body)[1] for schema_id, body in CORPUS}
    assert len(CORPUS) >= 20 and outcomes == {True, False}


@pytest.mark.parametrize(("schema_id", "body"), CORPUS, ids=[f"{i}" for i in range(len(CORPUS))])
def test_fast_and_reference_agree_on_the_corpus(schema_id: str, body: Any) -> None:
    fast, reference = verdicts(schema_id, body)
    assert fast == reference


JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False)
    | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=6,
)
VALID = [(s, b) for s, b in CORPUS if STORE.error(s, b) is None]


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix]
    if isinstance(value, dict):
        for key, item in value.items():
            found += _paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += _paths(item, (*prefix, index))
    return found


def _replace(body: Any, path: tuple[Any, ...], value: Any) -> Any:
    if not path:
        return value
    edited = copy.deepcopy(body)
    holder = edited
    for step in path[:-1]:
        holder = holder[step]
    holder[path[-1]] = value
    return edited


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_fast_and_reference_agree_on_edited_requests(data: st.DataObject) -> None:
    schema_id, body = data.draw(st.sampled_from(VALID))
    path = data.draw(st.sampled_from(_paths(body)))
    edited = _replace(body, path, data.draw(JSON))
    fast, reference = verdicts(schema_id, edited)
    assert fast == reference, f"{schema_id} at {list(path)}: fast {fast}, reference {reference}"


def test_invalid_requests_still_get_the_reference_message() -> None:
    message = STORE.error(REQUESTS[0], {"model": "m", "messages": []})
    assert message is not None and "non-empty" in message and "$.messages" in message
