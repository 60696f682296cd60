"""Defects generated from the request cases (`fixtures/cases/<area>/*.json`), two per case.

A case names a request a server must reject, or one it must answer. A rejection goes wrong when it is
served (`<probe>_accepted`: answered as if it were a plain valid request) or crashed on
(`<probe>_500`); an answer, when it is refused (`<probe>_refused`, a 4xx) or crashed on. Both are built
from the case file the judge builds its probe from, so a new case file brings its live defects with it
and the mutation score covers it with no code here.
"""

from __future__ import annotations

from typing import Any

from chatcert.wire.cases import Case, load_cases
from mock_server.defect_catalogue._edit import invalid, server_error
from mock_server.defects import Defect, DefectContext, RequestHook

__all__ = ["CASES", "case_defects"]


def _plain_request(body: dict[str, Any], ctx: DefectContext) -> dict[str, Any]:
    """The valid request a lenient server makes of the case's: its model (or the profile's), one user
    message, and the body's own stream flag and token cap where they are usable."""
    model = body.get("model") if isinstance(body.get("model"), str) else None
    plain: dict[str, Any] = {
        "model": model or (ctx.profile.model if ctx.profile is not None else "local"),
        "messages": [{"role": "user", "content": "Say hello."}],
    }
    if isinstance(body.get("stream"), bool):
        plain["stream"] = body["stream"]
    cap = body.get("max_tokens")
    if isinstance(cap, int) and not isinstance(cap, bool) and cap > 0:
        plain["max_tokens"] = cap
    return plain


def case_defects(case: Case) -> list[Defect]:
    """The two live defects of one case: served or crashed on (a rejection), refused or crashed on
    (a request to answer)."""

    def accept(body: Any, ctx: DefectContext) -> Any:
        return _plain_request(body, ctx) if ctx.route == "chat" and case.matches(body) else body

    def refuse(body: Any, ctx: DefectContext) -> Any:
        if ctx.route == "chat" and case.matches(body):
            raise invalid(ctx, f"unsupported request ({case.label})", param="messages")
        return body

    def crash(body: Any, ctx: DefectContext) -> Any:
        if ctx.route == "chat" and case.matches(body):
            raise server_error(f"unhandled request ({case.label})")
        return body

    def defect(suffix: str, what: str, hook: RequestHook) -> Defect:
        return Defect(
            f"{case.probe}_{suffix}",
            f"{case.label}: {what}",
            request=hook,
            catches=(case.check,),
            capabilities=case.requires,
            reference=f"fixtures/cases/{case.area}/{case.path.name}",
        )

    if case.rejects:
        return [
            defect("accepted", "answered as a plain request instead of refused", accept),
            defect("500", "crashes the server (500) instead of a 4xx", crash),
        ]
    return [
        defect("refused", "refused with a 4xx instead of answered", refuse),
        defect("500", "crashes the server (500) instead of answering", crash),
    ]


CASES: list[Defect] = [d for case in load_cases() for d in case_defects(case)]
