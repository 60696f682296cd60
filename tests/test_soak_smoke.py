"""The soak benchmark (benchmarks/soak_mock_server.py) at small scale: a few seconds, a dozen clients.

One run, in a child process as CI would start it, with every kind of client at once: streams, plain
requests, faults, clients that disconnect mid-stream and before the headers. Each test reads one
property of its report; the helpers the soak judges with are checked to be able to say no.
"""

from __future__ import annotations

import importlib.util
import json
import socket
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

SOAK = Path(__file__).resolve().parents[1] / "benchmarks" / "soak_mock_server.py"

pytestmark = pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="the soak counts sockets in /proc")


def _module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("soak_mock_server", SOAK)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module


soak = _module()


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    out = tmp_path_factory.mktemp("soak") / "soak.json"
    done = subprocess.run(
        [sys.executable, str(SOAK), "--duration", "3", "--clients", "12", "--seed", "1", "--json", str(out)],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert out.is_file(), done.stdout + done.stderr
    doc: dict[str, Any] = json.loads(out.read_text())
    doc["stdout"] = done.stdout
    doc["returncode"] = done.returncode
    return doc


def test_every_kind_of_client_ran(report: dict[str, Any]) -> None:
    assert set(report["requests"]) == set(soak.KINDS), report["requests"]
    assert report["requests"]["stream"] >= 10 and report["requests"]["disconnect"] >= 3


def test_the_mock_stays_alive_and_healthy(report: dict[str, Any]) -> None:
    assert report["checks"]["alive"] and report["alive"]
    assert report["health_polls"] >= 3 and report["health_failures"] == 0


def test_no_connection_is_leaked(report: dict[str, Any]) -> None:
    assert report["sockets_peak"] > report["sockets_before"], "the load never opened a connection"
    assert report["checks"]["no leaked connection"], report


def test_the_journal_has_every_request_once(report: dict[str, Any]) -> None:
    assert report["sent_ids"] > 50
    assert report["journal_missing"] == [] and report["journal_duplicates"] == []
    assert report["journal_seq_gaps"] == 0 and report["checks"]["journal has every request"]


def test_disconnecting_clients_do_not_disturb_the_others(report: dict[str, Any]) -> None:
    assert report["failures"] == {}, report["failures"]
    assert report["checks"]["undisturbed"]


def test_the_mock_logs_no_internal_error(report: dict[str, Any]) -> None:
    assert report["log_problems"] == [] and report["checks"]["clean log"]
    assert report["returncode"] == 0, report["stdout"]


# -- the soak's own judges can say no-------------------------------------------------------------------------


def test_socket_count_sees_a_new_socket() -> None:
    import os

    before = soak.socket_fds(os.getpid())
    with socket.socket() as extra:
        extra.bind(("127.0.0.1", 0))
        assert soak.socket_fds(os.getpid()) == before + 1


def test_journal_check_finds_missing_duplicated_and_lost_entries() -> None:
    entries = [
        {"seq": 1, "headers": {"X-Soak-Id": "1"}},
        {"seq": 2, "headers": {"x-soak-id": "2"}},
        {"seq": 3, "headers": {"X-Soak-Id": "2"}},
        {"seq": 6, "headers": {"X-Soak-Id": "4"}},
        {"seq": 7, "headers": {}},
    ]
    missing, duplicated, gaps = soak.journal_problems(["1", "2", "3", "4"], entries)
    assert (missing, duplicated, gaps) == (["3"], ["2"], 2)
    assert soak.journal_problems(["1"], [{"seq": 1, "headers": {"X-Soak-Id": "1"}}]) == ([], [], 0)


def test_soak_rejects_bad_arguments(capsys: pytest.CaptureFixture[str]) -> None:
    for argv in (
        ["--duration", "0"],
        ["--clients", "x"],
        ["--kinds", "plain"],
        ["--kinds", "stream,teleport"],
    ):
        with pytest.raises(SystemExit) as exited:
            soak.main(argv)
        assert exited.value.code == 2
        assert "error" in capsys.readouterr().err
