"""Non-stream response defects that need code: options the server ignores (the request is rewritten
before the mock answers it). Defects that are edits of the reply are declared as data in
`fixtures/defects/response.json` and `usage.json` (served by `declared.py`)."""

from __future__ import annotations

from mock_server.defect_catalogue._edit import ignores
from mock_server.defects import Defect

__all__ = ["RESPONSE"]


RESPONSE = [
    Defect(
        "n_ignored",
        "n is ignored: one choice however many were asked for",
        request=ignores("n"),
        catches=("response_choices_match_n", "stream_multi_choice_indexes"),
        capabilities=("streaming",),
    ),
    Defect(
        "logprobs_ignored",
        "logprobs: true is ignored (logprobs stays null)",
        request=ignores("logprobs", "top_logprobs"),
        catches=("logprobs_returned_when_asked",),
        capabilities=("logprobs",),
    ),
    Defect(
        "json_mode_ignored",
        "response_format is ignored: JSON mode answers in prose",
        request=ignores("response_format"),
        catches=("json_object_response_parses",),
        capabilities=("response_format",),
    ),
]
