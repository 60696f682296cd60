"""The one generic form of a data-driven check: each `fixtures/cases/<area>/*.json` file becomes a probe
(its request) and a check (what must answer it), with no code of its own.

The case files are wire-layer data (`chatcert.wire.cases`): the mock reads the same files to serve a
defect per case, so judge and emulator agree on the request by construction.
"""

from __future__ import annotations

from chatcert.checks._util import NOT_ABOUT_CONTENT, expect_client_error, expect_success, expect_text_answer
from chatcert.checks.probes import PROMPT
from chatcert.context import DEFAULT_MAX_TOKENS, CheckContext, ProbeContext
from chatcert.registry import Level, check, probe
from chatcert.wire.cases import Case, load_cases

__all__ = ["register_case"]


def register_case(case: Case) -> None:
    """Register the probe that sends `case`'s request and the check that judges its answer."""

    def send(ctx: ProbeContext) -> None:
        ctx.chat(case.build(ctx.chat_body(PROMPT)), label=case.label)

    send.__doc__ = case.label
    probe(case.probe, tokens=DEFAULT_MAX_TOKENS, requires=case.requires)(send)

    allowed = case.status if isinstance(case.status, tuple) else ()

    def judge(ctx: CheckContext) -> None:
        if case.rejects:
            expect_client_error(
                ctx, case.probe, allowed=allowed, early=NOT_ABOUT_CONTENT - set(case.content_statuses)
            )
            return
        if case.answer == "text":
            expect_text_answer(ctx, case.probe, case.label)
        else:
            expect_success(ctx, case.probe)

    check(
        area=case.area,
        level=Level(case.level),
        source=case.source,
        probes=(case.probe,),
        rules=case.rules,
        requires=case.requires,
        check_id=case.check,
        doc=case.description,
    )(judge)


for _case in load_cases():
    register_case(_case)
