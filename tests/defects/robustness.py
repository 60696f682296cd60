"""Garbage for the never-crash sweep: a check judging nonsense must fail (or pass), never raise.

A check that raises is reported `errored` (exit 3, "the harness broke") although the server is at fault.
`GARBAGE` rewrites every JSON document of an exchange (its body, or each SSE event's data) so that all
values at one depth become one wrong type: `null@3` turns `choices[0].index` and `choices[0].delta` into
null. `KNOWN_CRASHES` lists the checks that raise today, and on what.
"""

from __future__ import annotations

import json
from typing import Any

from chatcert._models import Exchange, SSEEvent
from defects.fakes import Edit, body, with_body, with_events

__all__ = ["GARBAGE", "KNOWN_CRASHES"]

_LEAVES: dict[str, Any] = {"null": None, "str": "x", "int": 7, "list": [], "dict": {}}
_DEPTHS = range(1, 7)


def _at_depth(doc: Any, depth: int, leaf: Any) -> Any:
    if depth == 0:
        return json.loads(json.dumps(leaf))
    if isinstance(doc, dict):
        return {k: _at_depth(v, depth - 1, leaf) for k, v in doc.items()}
    if isinstance(doc, list):
        return [_at_depth(v, depth - 1, leaf) for v in doc]
    return doc


def _retype(depth: int, leaf: Any) -> Edit:
    def rewrite_events(items: list[SSEEvent]) -> None:
        for event in items:
            try:
                doc = json.loads(event.data)
            except ValueError:
                continue
            event.data = json.dumps(_at_depth(doc, depth, leaf))

    def edit(exchange: Exchange) -> None:
        if exchange.events:
            with_events(exchange, rewrite_events)
            return
        try:
            doc = json.loads(exchange.body)
        except ValueError:
            return
        with_body(exchange, json.dumps(_at_depth(doc, depth, leaf)).encode())

    return edit


GARBAGE: dict[str, Edit] = {
    "html_page": body("<html><body>502 Bad Gateway</body></html>", "text/html"),
    "json_array": body("[]", "application/json"),
    "empty_body": body(b""),
    **{f"{name}@{depth}": _retype(depth, leaf) for name, leaf in _LEAVES.items() for depth in _DEPTHS},
}


KNOWN_CRASHES: dict[str, str] = {}
