"""`chatcert bench --ray`: workers as Ray actors on a local two-node cluster (127.0.0.1, small object
stores), merged on the driver's timeline; one budget across the cluster; a killed actor ends its level
incomplete, not hung. Run by `tox -e ray` (the `ray` extra); skipped where Ray is not installed."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from chatcert.bench.mockproc import MockProcess
from chatcert.bench.payloads import load_payloads
from chatcert.bench.ray_workers import measure_clock, run_bench_ray
from chatcert.bench.records import check_record
from chatcert.bench.runner import BenchConfig
from chatcert.bench.scheduler import LevelSpec
from chatcert.budget import Budget
from chatcert.profiles import load_profile

ray = pytest.importorskip("ray")
pytestmark = pytest.mark.ray

MODEL = load_profile("compatible").model
STORE = 80 * 1024 * 1024  # Ray's smallest object store is 75 MiB


@pytest.fixture(scope="module")
def cluster() -> Iterator[Any]:
    from ray.cluster_utils import Cluster

    # Both nodes on this host. Ray's own control traffic uses the host's address (pinning it to
    # 127.0.0.1 made the driver wait for a node it could not reach); the benchmarked target is loopback.
    nodes = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "object_store_memory": STORE})
    nodes.add_node(num_cpus=1, object_store_memory=STORE)
    ray.init(address=nodes.address, log_to_driver=False)
    yield nodes
    ray.shutdown()
    nodes.shutdown()


@pytest.fixture(scope="module")
def mock() -> Iterator[MockProcess]:
    with MockProcess("compatible", {"ttft_ms": 20, "itl_ms": 5, "chunks": 8}, pin=False) as server:
        yield server


def _config(url: str, levels: list[LevelSpec], **extra: Any) -> BenchConfig:
    return BenchConfig(
        base_url=url, model=MODEL, levels=levels, payloads=load_payloads("text"), is_mock=True, **extra
    )


def test_the_clock_offset_is_the_midpoint_of_the_shortest_round_trip(monkeypatch: pytest.MonkeyPatch) -> None:
    replies = iter([105.0, 100.2, 130.0])
    stamps = iter([0.0, 0.5, 100.0, 100.1, 200.0, 201.0])
    monkeypatch.setattr(time, "perf_counter", lambda: next(stamps))
    offset, bound = measure_clock(lambda: next(replies), rounds=3)
    monkeypatch.undo()
    assert offset == pytest.approx(100.2 - 100.05) and bound == pytest.approx(0.05)


def test_two_nodes_one_worker_each(cluster: Any, mock: MockProcess) -> None:
    record = run_bench_ray(
        _config(mock.url, [LevelSpec(4, None, 24), LevelSpec(2, None, 8)]), cluster.address
    )
    check_record(record)
    placed = record["machine"]["ray"]
    assert placed["nodes"] == 2 and len(placed["workers"]) == 2
    assert all(w["clock_offset_bound_s"] < 0.5 for w in placed["workers"])
    for level, total in zip(record["levels"], (24, 8), strict=True):
        assert level["ok"] == total and level["stopped"] is None
        assert sum(w["requests"] for w in level["workers"]) == total
        assert {w["node"] for w in level["workers"]} == {w["node"] for w in placed["workers"]}


def test_one_budget_across_the_cluster(cluster: Any, mock: MockProcess) -> None:
    config = _config(mock.url, [LevelSpec(4, None, 40)], budget=Budget(max_requests=15))
    record = run_bench_ray(config, cluster.address)
    assert record["budget"]["requests_sent"] == 15
    assert record["levels"][0]["requests"] == 15


def test_a_killed_actor_ends_its_level_incomplete(cluster: Any) -> None:
    def kill_one(journal: str) -> None:
        """Kill worker 1 once the level's requests are in flight (the mock's journal shows them)."""
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            names = [n for n in ray.util.list_named_actors() if n.endswith("-worker-1")]
            seen = httpx.get(journal, timeout=5).json()["requests"]
            if names and len([r for r in seen if r["method"] == "POST"]) >= 4:
                ray.kill(ray.get_actor(names[0]))
                return
            time.sleep(0.1)

    with MockProcess("compatible", {"ttft_ms": 200, "itl_ms": 150, "chunks": 8}, pin=False) as slow:
        killer = threading.Thread(target=kill_one, args=(slow.url + "/_mock/journal",))
        killer.start()
        started = time.monotonic()
        record = run_bench_ray(
            _config(slow.url, [LevelSpec(4, None, 16), LevelSpec(4, None, 8)]), cluster.address
        )
        killer.join()
    assert time.monotonic() - started < 60
    (level,) = record["levels"]
    assert "incomplete: worker" in level["stopped"] and "died" in level["stopped"]
    assert len(level["workers"]) == 1 and level["ok"] == 8  # the other worker's share, kept


def test_the_cli_from_a_venv_with_the_ray_extra(tmp_path: Path) -> None:
    """`chatcert bench --ray auto --workers 2`: Ray started for the run, two actors, one record."""
    report = tmp_path / "bench"
    args = [
        "bench",
        "--ray",
        "auto",
        "--workers",
        "2",
        "--concurrency",
        "2",
        "--requests",
        "8",
        "--no-progress",
    ]
    done = subprocess.run(
        [sys.executable, "-m", "chatcert", *args, "--no-progress", "--report-dir", str(report)],
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    record = json.loads((report / "bench.json").read_text(encoding="utf-8"))
    assert record["machine"]["workers"] == 2
    assert record["levels"][0]["ok"] == 8
