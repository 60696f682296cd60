"""Defects declared as data (`fixtures/defects/<area>.json`), served live.

A declaration edits the successful replies of one route: its `body` edits the JSON body of a non-stream
reply, its `chunks` edits each JSON chunk of a stream. The self-tests apply the same declarations to
captured exchanges (tests/defects/declared.py), so what a check is shown to catch offline is what the
mutation score serves here; adding such a defect is adding its entry to the file.
"""

from __future__ import annotations

from typing import Any

from chatcert.wire.defects import DeclaredDefect, apply_edits, load_declared
from mock_server.defect_catalogue._edit import edit_event
from mock_server.defects import BodyHook, Defect, DefectContext, EventHook
from mock_server.replies import SseEvent

__all__ = ["DECLARED", "declared_defect"]


def _body_hook(declared: DeclaredDefect) -> BodyHook:
    def hook(body: Any, ctx: DefectContext) -> Any:
        if ctx.route == declared.route and not ctx.stream and ctx.ok and isinstance(body, dict):
            apply_edits(body, declared.body)  # DefectSet hands hooks a copy
        return body

    return hook


def _event_hook(declared: DeclaredDefect) -> EventHook:
    counter = f"declared:{declared.name}"  # the response's hooks share `state`: one count per defect

    def hook(event: SseEvent, ctx: DefectContext) -> list[SseEvent]:
        if ctx.route != declared.route or not isinstance(event.data, dict):
            return [event]
        position: int = ctx.state.get(counter, 0)
        ctx.state[counter] = position + 1
        return edit_event(event, lambda doc: apply_edits(doc, declared.chunks, position))

    return hook


def declared_defect(declared: DeclaredDefect) -> Defect:
    """The live defect of one declaration."""
    return Defect(
        declared.name,
        declared.description,
        body=_body_hook(declared) if declared.body else None,
        event=_event_hook(declared) if declared.chunks else None,
        catches=tuple(declared.catches),
        capabilities=declared.capabilities,
        reference=declared.source,
    )


DECLARED: list[Defect] = [declared_defect(d) for d in load_declared()]
