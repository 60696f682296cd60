"""The pytest plugin refuses the input the CLI refuses, with the same line and exit 2."""

from __future__ import annotations

import pytest

# A suite of one test that needs the session's run: option handling happens when the fixture starts.
_SUITE = """
def test_needs_the_run(chatcert_run):
    assert chatcert_run is not None
"""


@pytest.mark.parametrize(
    ("options", "needle"),
    [
        (["--endpoint", "127.0.0.1:8080"], "--endpoint must be an http(s) URL with a host"),
        (["--endpoint", "http://127.0.0.1:99999"], "--endpoint has an invalid port"),
        (["--api-key-env", "CHATCERT_PLUGIN_UNSET"], "CHATCERT_PLUGIN_UNSET (from --api-key-env)"),
        (["--api-key-file", "/nonexistent/key"], "cannot read the file given to --api-key-file"),
        (["--profile", "liquidia"], "did you mean 'liquidai'?"),
    ],
)
def test_the_plugin_refuses_what_the_cli_refuses(
    options: list[str], needle: str, pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CHATCERT_PLUGIN_UNSET", raising=False)
    pytester.makepyfile(test_one=_SUITE)
    result = pytester.runpytest_subprocess(*options)
    assert result.ret == 2
    assert needle in result.stdout.str() + result.stderr.str()
