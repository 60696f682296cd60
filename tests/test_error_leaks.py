"""What error_bodies_do_not_leak_internals calls a leak, and what it must not (false alarms)."""

from __future__ import annotations

import json

import pytest

from chatcert._models import Exchange
from chatcert.checks.errors import _leak


def _answer(body: str, sent: object = None) -> Exchange:
    raw = json.dumps(sent if sent is not None else {"model": "m", "messages": []}).encode()
    return Exchange(
        "probe", "POST", "http://127.0.0.1/v1/chat/completions", {}, raw, status=500, body=body.encode()
    )


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ('Traceback (most recent call last):\n  File "x.py", line 3', "Traceback (most recent call last)"),
        ('  File "/srv/app/main.py", line 12, in handler', 'File "/srv/app/main.py", line 12'),
        ("goroutine 7 [running]:", "goroutine 7 [running]"),
        ("at com.example.Chat.handle(Chat.java:42)", "at com.example.Chat.handle(Chat.java:42)"),
        ("at handler (/app/dist/server.js:10:5)", "at handler (/app/dist/server.js:10:5)"),
        (
            "failed: /usr/local/lib/python3.11/site-packages/vllm/entrypoints/api.py",
            "/usr/local/lib/python3.11",
        ),
        ("cannot open C:\\inference\\models\\gemma.gguf", "C:\\inference\\models\\gemma.gguf"),
        # A source file under any root (here a CI checkout's virtualenv).
        ("at /check/work/main/.tox/real/lib/server/app.py", "/check/work/main/.tox/real/lib/server/app.py"),
    ],
)
def test_stack_traces_and_server_paths_are_leaks(body: str, fragment: str) -> None:
    found = _leak(_answer(body))
    assert found is not None and fragment.startswith(found[:20])


# llama-cpp-python 0.3.36 answering `[1, 2, 3]` (tox -e real): the traceback line sits in a JSON
# string, so its quotes arrive escaped; the check reads the decoded message.
LLAMA_CPP_PYTHON_500 = json.dumps(
    {
        "error": {
            "message": "1 validation error:\n  {'type': 'model_attributes_type', 'loc': ('body',), "
            "'msg': 'Input should be a valid dictionary or object to extract fields from', "
            "'input': [1, 2, 3]}\n\n  File \"/work/main/.tox/real/lib/python3.11/site-packages/llama_cpp/"
            'server/app.py", line 376, in create_chat_completion\n    POST /v1/chat/completions',
            "type": "internal_server_error",
            "param": None,
            "code": None,
        }
    },
    separators=(",", ":"),
)


def test_a_traceback_inside_a_json_string_is_a_leak() -> None:
    found = _leak(_answer(LLAMA_CPP_PYTHON_500, [1, 2, 3]))
    assert (
        found == 'File "/work/main/.tox/real/lib/python3.11/site-packages/llama_cpp/server/app.py", line 376'
    )


@pytest.mark.parametrize(
    ("body", "sent"),
    [
        # The request's own file:// path echoed back is the client's text, not the server's disk.
        (
            "<urlopen error [Errno 2] No such file or directory: '/chatcert-probe/no-such-image.png'>",
            {"messages": [{"content": [{"image_url": {"url": "file:///chatcert-probe/no-such-image.png"}}]}]},
        ),
        ('{"error": {"message": "Unknown route /v1/chat/completions/x"}}', None),
        ('{"detail": [{"loc": ["body", "messages"], "msg": "field required"}]}', None),
        ('{"error": {"message": "temperature: 3 > 2", "type": "invalid_request_error"}}', None),
        ("see https://platform.openai.com/docs/api-reference/chat/create", None),
        ("image at https://cdn.example.com/static/js/app.js is not an image", None),
    ],
)
def test_ordinary_error_messages_are_not_leaks(body: str, sent: object) -> None:
    assert _leak(_answer(body, sent)) is None
