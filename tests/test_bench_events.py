"""chatcert.bench.events: the fast paths (orjson, one-event reads) say what the general ones say."""

from __future__ import annotations

import json
from itertools import pairwise

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chatcert.bench.events import observe_stream, parse_event, sse_data

_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)


@given(_JSON)
def test_parse_event_reads_what_the_standard_library_reads(value: object) -> None:
    data = json.dumps(value, ensure_ascii=False).encode()
    assert parse_event(data) == json.loads(data)


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b'{"a": "\\ud800"}', {"a": "\ud800"}),  # a lone surrogate: orjson refuses, the stdlib reads it
        (b' \t{"a": 1} \n', {"a": 1}),  # white space around the value is JSON
    ],
)
def test_what_orjson_refuses_the_standard_library_still_judges(data: bytes, expected: object) -> None:
    assert parse_event(data) == expected


@pytest.mark.parametrize("data", [b'{"a": 1} x', b"{", b"\xff\xfe", b"nul", b""])
def test_what_is_not_json_is_a_value_error(data: bytes) -> None:
    with pytest.raises(ValueError):
        parse_event(data)


def test_a_token_count_past_64_bits_is_not_taken_as_usage() -> None:
    # orjson reads such an integer as a float; a count no server sends then falls back to counted chunks.
    chunk = b'data: {"choices": [], "usage": {"completion_tokens": 123456789012345678901234567890}}\n\n'
    assert observe_stream([(1.0, chunk)]).usage_tokens is None


def test_a_deeply_nested_event_fails_the_sample_not_the_run() -> None:
    deep = b"data: " + b"[" * 100_000 + b"]" * 100_000 + b"\n\n"
    seen = observe_stream([(1.0, deep)])
    assert seen.error is not None and "JSON" in seen.error


_EVENT = st.binary(max_size=40).map(lambda b: b.replace(b"\n", b"").replace(b"\r", b""))


@given(st.lists(_EVENT, min_size=1, max_size=8), st.lists(st.integers(0, 400), max_size=10))
def test_events_and_their_stamps_do_not_depend_on_where_reads_split_the_body(
    payloads: list[bytes], cuts: list[int]
) -> None:
    body = b"".join(b"data: " + p + b"\n\n" for p in payloads)
    bounds = sorted({0, len(body), *(c for c in cuts if c < len(body))})
    parts = [(float(i), body[a:b]) for i, (a, b) in enumerate(pairwise(bounds))]
    events = sse_data(parts)
    assert [data for _, data in events] == payloads
    # Each event carries the stamp of the read holding its closing blank line.
    ends = []
    offset = 0
    for p in payloads:
        offset += len(b"data: " + p + b"\n\n")
        ends.append(offset)
    expected = [next(float(i) for i, (a, b) in enumerate(pairwise(bounds)) if a < e <= b) for e in ends]
    assert [stamp for stamp, _ in events] == expected


def test_one_event_per_read_and_several_per_read_give_the_same_tokens() -> None:
    chunk = b'data: {"choices": [{"delta": {"content": "w"}}]}\n\n'
    done = b"data: [DONE]\n\n"
    alone = observe_stream([(1.0, chunk), (2.0, chunk), (3.0, done)])
    together = observe_stream([(1.0, chunk + chunk + done)])
    assert alone.token_stamps == [1.0, 2.0] and together.token_stamps == [1.0, 1.0]
    assert alone.done and together.done and alone.error is None and together.error is None
