"""Non-stream response defects that need code: options the server ignores (the request is rewritten
before the mock answers it). Defects that are edits of the reply are declared as data in
`fixtures/defects/response.json` and `usage.json` (served by `declared.py`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from mock_server.defects import Defect, DefectContext

__all__ = ["RESPONSE"]


def _chat_request_without(*keys: str) -> Callable[[Any, DefectContext], Any]:
    """A request hook dropping `keys` from chat requests: the server never saw the option."""

    def hook(body: Any, ctx: DefectContext) -> Any:
        if ctx.route == "chat" and isinstance(body, dict):
            for key in keys:
                body.pop(key, None)
        return body

    return hook


RESPONSE = [
    Defect(
        "n_ignored",
        "n is ignored: one choice however many were asked for",
        request=_chat_request_without("n"),
        catches=("response_choices_match_n", "stream_multi_choice_indexes"),
        capabilities=("streaming",),
    ),
    Defect(
        "logprobs_ignored",
        "logprobs: true is ignored (logprobs stays null)",
        request=_chat_request_without("logprobs", "top_logprobs"),
        catches=("logprobs_returned_when_asked",),
        capabilities=("logprobs",),
    ),
    Defect(
        "json_mode_ignored",
        "response_format is ignored: JSON mode answers in prose",
        request=_chat_request_without("response_format"),
        catches=("json_object_response_parses",),
        capabilities=("response_format",),
    ),
]
