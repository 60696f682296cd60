"""Faults only a mock can provoke: how a mid-stream error must look so a client can surface it."""

from __future__ import annotations

from chatcert._json import parse_json
from chatcert.checks.probes import fault_probe
from chatcert.context import CheckContext
from chatcert.registry import Level, check

# -- probes: the requests these checks read ------------------------------------------------------------

fault_probe(
    "fault_midstream_error",
    "mock mid-stream error",
    "fault=midstream_error",
    stream=True,
    requires=("streaming",),
)


# -- checks --------------------------------------------------------------------------------------------


@check(
    area="faults",
    level=Level.SHOULD,
    requires=("streaming",),
    probes=("fault_midstream_error",),
    mock_only=True,
    rules=("S13", "PB1"),
    source="llama.cpp PR #16109 (data: {\"error\": ...}); SEED-B 'handle error events in your SSE consumer'",
)
def midstream_error_is_recognisable(ctx: CheckContext) -> None:
    """A mid-stream failure is sent as an error event ({"error": {...}}) and ends the stream."""
    ex = ctx.ex("fault_midstream_error")
    events = ex.data_events()
    index = None
    for i, event in enumerate(events):
        try:
            doc = parse_json(event.data)
        except ValueError:
            continue
        if isinstance(doc, dict) and isinstance(doc.get("error"), (dict, str)):
            index = i
            break
    ctx.require(
        index is not None,
        "no recognisable error event",
        expected='data: {"error": {...}}',
        actual=ex.excerpt(300),
        exchange=ex,
    )
    assert index is not None
    rest = [e.data.strip() for e in events[index + 1 :]]
    ctx.require(
        rest in ([], ["[DONE]"]),
        "stream went on after the error",
        expected="end or [DONE]",
        actual=rest[:3],
        exchange=ex,
    )
