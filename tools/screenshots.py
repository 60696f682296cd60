"""Regenerate the report screenshots in docs/img/ with headless Chromium (Debian package `chromium`).

    python tools/screenshots.py [--chromium PATH] [--out docs/img]

Four pictures at 1400x900, the first screen a reader sees: report.html of a clean certification of the
embedded mock and of a mock with two defects (stream_missing_done, finish_reason_empty_string), and
bench.html of a short bench and of the same bench compared against a faster baseline with a gate that
trips. Everything runs on loopback; nothing is fetched from a network.
"""

from __future__ import annotations

import argparse
import contextlib
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SIZE = "1400,900"


def _chatcert(*argv: str) -> int:
    return subprocess.run([sys.executable, "-m", "chatcert", *argv], check=False).returncode


def _wait_for_port(port: int, seconds: float = 20.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return
        time.sleep(0.1)
    raise SystemExit(f"screenshots: the mock did not listen on port {port}")


def _shot(chromium: str, page: Path, png: Path) -> None:
    command = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars"]
    command += [f"--window-size={SIZE}", f"--screenshot={png}", page.as_uri()]
    subprocess.run(command, check=True, capture_output=True, timeout=120)
    print(f"wrote {png.relative_to(REPO) if png.is_relative_to(REPO) else png}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chromium", default=shutil.which("chromium") or shutil.which("chromium-browser"))
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "img")
    args = parser.parse_args()
    if not args.chromium:
        print("screenshots: chromium not found (apt-get install chromium)", file=sys.stderr)
        return 2
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        _chatcert("certify", "--report-dir", str(work / "clean"), "-q")
        _chatcert("mock", "--list-defects")  # fails loudly if the defects below were renamed
        defects = ["--defect", "stream_missing_done", "--defect", "finish_reason_empty_string"]
        mock = subprocess.Popen(
            [sys.executable, "-m", "chatcert", "mock", "--port", "18787", "--quiet", *defects]
        )
        try:
            _wait_for_port(18787)
            _chatcert(
                "certify", "--endpoint", "http://127.0.0.1:18787", "--report-dir", str(work / "fail"), "-q"
            )
        finally:
            mock.terminate()
            mock.wait(timeout=10)
        bench = ["bench", "--requests", "60", "--concurrency", "1,8", "--no-progress", "-q"]
        bench += ["--history-dir", str(work / "history")]
        fast = "ttft_ms=20;itl_ms=5;chunks=32;jitter_ms=0"
        _chatcert(*bench, "--mock-scenario", fast, "--save", "baseline", "--report-dir", str(work / "base"))
        _chatcert(*bench, "--report-dir", str(work / "bench"))
        _chatcert(
            *bench,
            "--compare",
            "baseline",
            "--fail-on",
            "p95:+10%",
            "--report-dir",
            str(work / "gate"),
        )
        _shot(args.chromium, work / "clean" / "report.html", args.out / "report-certified.png")
        _shot(args.chromium, work / "fail" / "report.html", args.out / "report-failing.png")
        _shot(args.chromium, work / "bench" / "bench.html", args.out / "bench.png")
        _shot(args.chromium, work / "gate" / "bench.html", args.out / "bench-gate-tripped.png")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
