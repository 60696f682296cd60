"""The layering holds: imports flow data <- wire <- core <- plugin/CLI <- suites, and the mock imports
nothing that judges. Read from the source (static imports and `importlib` strings), so an upward import
fails here before it is ever executed."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src" / "chatcert"

# The front ends of the core library: only they (and suites, tests) may import pytest or the CLI.
FRONT_ENDS = (
    "chatcert.pytest_plugin",
    "chatcert.cli",
    "chatcert._cli",
    "chatcert.__main__",
    "chatcert.targets",
)
# Test tooling that builds real third-party servers lives under tests/ and is not shipped.
TEST_TOOLING = ("realserver", "vllmserver", "evil_server", "defects")


def imports_of(source: str) -> Iterator[tuple[int, str]]:
    """(line, module) for every import, and every `importlib.import_module("...")` with a literal name."""
    tree = ast.parse(source)
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.lineno, node.module
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute | ast.Name)
            and (node.func.attr if isinstance(node.func, ast.Attribute) else node.func.id) == "import_module"
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            yield node.lineno, node.args[0].value


def _within(module: str, *packages: str) -> bool:
    return any(module == p or module.startswith(p + ".") for p in packages)


def violation(layer: str, module: str, importer: str = "") -> str | None:
    """Why `importer` (in `layer`) may not import `module`, or None."""
    if (
        layer == "core"
        and _within(module, "chatcert.checks")
        and not _within(importer, "chatcert.checks", "chatcert.registry")
    ):
        # The catalogue sits on top of the core: only the registry loads it (that registers the checks).
        return "only chatcert.registry imports the check catalogue"
    if layer == "mock":
        if _within(module, "chatcert") and not _within(module, "chatcert.wire"):
            return "the mock imports only the wire layer of chatcert (an emulator must not share its judge)"
    elif layer == "wire":
        if _within(module, "chatcert", "mock_server", "suites") and not _within(module, "chatcert.wire"):
            return "the wire layer imports nothing above it"
    elif layer == "core":
        if _within(module, *FRONT_ENDS, *TEST_TOOLING, "pytest", "_pytest", "suites", "mock_server"):
            return "the core library imports no front end, no pytest, no suite and no mock"
    elif layer == "front" and _within(module, "suites"):
        return "the plugin and CLI do not import the suites"
    return None


def _layer(path: Path) -> str:
    rel = path.relative_to(ROOT).as_posix()
    if rel.startswith("mock_server/"):
        return "mock"
    if rel.startswith("src/chatcert/wire/"):
        return "wire"
    module = "chatcert." + path.relative_to(SRC).with_suffix("").as_posix().replace("/", ".")
    if _within(module, *FRONT_ENDS):
        return "front"
    return "core"


def _files() -> list[Path]:
    return sorted([*SRC.rglob("*.py"), *(ROOT / "mock_server").rglob("*.py")])


def test_every_import_respects_the_layers() -> None:
    problems = []
    for path in _files():
        layer = _layer(path)
        importer = ".".join(path.relative_to(ROOT / "src").with_suffix("").parts) if layer != "mock" else ""
        for line, module in imports_of(path.read_text(encoding="utf-8")):
            why = violation(layer, module, importer)
            if why:
                problems.append(f"{path.relative_to(ROOT)}:{line}: imports {module}: {why}")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize(
    ("layer", "source"),
    [
        ("mock", "from chatcert.checks import errors\n"),
        ("mock", "import chatcert.engine\n"),
        ("mock", "import importlib\nimportlib.import_module('chatcert.checks.probes')\n"),
        ("wire", "from chatcert.profiles import load_profile\n"),
        ("wire", "from mock_server.app import build_app\n"),
        ("core", "from chatcert.pytest_plugin import chatcert_run\n"),
        ("core", "import pytest\n"),
        ("core", "from importlib import import_module\nimport_module('mock_server.runner')\n"),
    ],
)
def test_an_upward_import_added_on_purpose_is_caught(layer: str, source: str) -> None:
    assert any(violation(layer, module) for _, module in imports_of(source))


def test_the_fuzz_verdicts_may_not_reach_into_the_checks() -> None:
    # Once so (fuzz/verdicts.py imported checks._util); the shared piece now sits below both.
    assert violation("core", "chatcert.checks._util", "chatcert.fuzz.verdicts")
    assert violation("core", "chatcert.checks._util", "chatcert.checks.errors") is None


def test_the_wire_layer_is_importable_alone() -> None:
    # What the mock may import exists and holds what both sides read off the wire.
    from chatcert.wire.images import parse_data_url, read_image, sniff

    assert callable(parse_data_url) and callable(read_image) and callable(sniff)


def test_the_bench_and_preflight_runs_import_no_report_writer() -> None:
    # Their writers (chatcert.reporting.bench, .preflight) consume the events the runs emit to the
    # reporters they are handed; a run that imported a writer would have its output decided below the CLI.
    problems = []
    for package in ("bench", "preflight"):
        for path in sorted((SRC / package).rglob("*.py")):
            for line, module in imports_of(path.read_text(encoding="utf-8")):
                if _within(module, "chatcert.reporting"):
                    problems.append(f"{path.relative_to(ROOT)}:{line}: imports {module}")
    assert not problems, "\n".join(problems)
