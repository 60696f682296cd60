"""Harness inputs: junk in every file chatcert reads, and every bad command-line value, is exit 2 in one line.

Property tests (Hypothesis) feed random bytes, random JSON/YAML documents, wrong types, nesting and huge
numbers, and mutations of known-good files to the parsers of profile files, mock scenario files,
Operation files (preflight), replay files, bench payload and saved-run files and key files. Each input
either loads or raises the error its command turns into exit 2 with one line, never another exception.

The property strategies stay below two crash classes that have tests of their own further down
(nesting deeper than the interpreter's recursion limit, integers over 4300 digits; both fixed). A
property that finds something new fails here first.
"""

from __future__ import annotations

import argparse
import copy
import json
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from chatcert._cli import bench as bench_cli
from chatcert._cli import mock as mock_cli
from chatcert._cli._common import parse_claims, positive_float, positive_int
from chatcert.bench import load_payloads, load_saved, parse_rules, parse_scenario, saved_runs
from chatcert.cli import main
from chatcert.client import check_url
from chatcert.errors import UsageError
from chatcert.fuzz import replay
from chatcert.keys import load_api_key
from chatcert.preflight.operation import load_operation
from chatcert.profiles import load_profile
from chatcert_data import data_dir
from mock_server.app import build_app
from mock_server.defects import parse_defect_names
from mock_server.profile import MockConfigError
from mock_server.runner import MockServer
from mock_server.scenarios import ScenarioError, load_scenario_file, parse_scenario_header

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "examples" / "liquidai"
JUNK = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.function_scoped_fixture,
        HealthCheck.data_too_large,
    ],
)
SLOW_JUNK = settings(JUNK, max_examples=20)

# -- strategies ---------------------------------------------------------------------------------------------

HUGE = [
    2**63,
    -(2**64),
    10**300,
    -(10**300),
    10**4000,
    1e308,
    -1e-308,
    float("inf"),
    float("-inf"),
    float("nan"),
]
leaves = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.sampled_from(HUGE),
    st.floats(),
    st.text(max_size=24),
    st.sampled_from(["", "null", "~", "yes", "0x1F", "1e999", "../../etc/passwd", "/dev/zero", "\x00", "é"]),
)
values = st.recursive(
    leaves,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=5),
    max_leaves=30,
)
# Without lone surrogates: the mock's schema check crashes on them (a "\ud800" escape, or an astral
# character that json.dumps escapes as a pair and PyYAML reads back as two lone surrogates), see
# test_a_lone_surrogate_in_a_mock_file_is_a_config_error (fixed).
_no_surrogates = st.text(st.characters(max_codepoint=0xFFFF, exclude_categories=["Cs"]), max_size=24)
mock_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.sampled_from(HUGE), st.floats(), _no_surrogates),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_no_surrogates, inner, max_size=5),
    max_leaves=30,
)


def _deep(depth: int, kind: str) -> str:
    if kind == "list":
        return "[" * depth + "]" * depth
    if kind == "object":
        return '{"a":' * depth + "1" + "}" * depth
    return "".join("  " * i + "a:\n" for i in range(depth)) + "  " * depth + "b\n"


# Below the recursion limit; deeper is test_100000_deep_* (fixed).
nesting = st.builds(_deep, st.integers(1, 150), st.sampled_from(["list", "object", "yaml"]))


def _paths(node: Any) -> Iterator[tuple[Any, Any]]:
    """(container, key) of every value inside `node`."""
    items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
    for key, child in list(items):
        yield node, key
        yield from _paths(child)


@st.composite
def mutations(draw: st.DrawFn, seed: Any, junk: st.SearchStrategy[Any] = values) -> Any:
    """`seed` with one to three values replaced by junk, deleted or wrapped in a list."""
    doc = copy.deepcopy(seed)
    for _ in range(draw(st.integers(1, 3))):
        places = list(_paths(doc))
        if not places:
            break
        parent, key = draw(st.sampled_from(places))
        action = draw(st.sampled_from(["replace", "replace", "delete", "wrap"]))
        if action == "replace":
            parent[key] = draw(junk)
        elif action == "wrap":
            parent[key] = [parent[key]]
        else:
            del parent[key]
    return doc


def _dump(doc: Any, as_json: bool) -> bytes:
    return (json.dumps(doc) if as_json else yaml.safe_dump(doc, allow_unicode=True)).encode(
        "utf-8", "surrogatepass"
    )


def documents(seed: Any, junk: st.SearchStrategy[Any] = values) -> st.SearchStrategy[bytes]:
    """Junk of every kind, most of it close to `seed` (a valid file) so the deeper code is reached."""
    near = st.builds(_dump, mutations(seed, junk), st.booleans())
    return st.one_of(
        st.binary(max_size=300),
        st.text(max_size=300).map(lambda t: t.encode("utf-8", "surrogatepass")),
        st.builds(_dump, junk, st.booleans()),
        nesting.map(str.encode),
        near,
        near,
        near,
    )


def one_line(exc: BaseException) -> None:
    text = str(exc)
    assert text.strip() and "\n" not in text and "Traceback" not in text, text


@pytest.fixture(scope="module")
def scratch() -> Iterator[Callable[[str, bytes], Path]]:
    """Writes one example's file (Hypothesis calls the test many times with one fixture value)."""
    folder = Path(tempfile.mkdtemp(prefix="chatcert-junk-"))

    def write(name: str, data: bytes) -> Path:
        path = folder / name
        path.write_bytes(data)
        return path

    yield write
    shutil.rmtree(folder, ignore_errors=True)


def cli(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    """`chatcert ARGV` in this process; `chatcert mock` in a child with a time limit, as it may serve."""
    if argv[0] == "mock":
        try:
            done = subprocess.run(
                [sys.executable, "-m", "chatcert", *argv],
                capture_output=True,
                text=True,
                timeout=30,
                check=False,
            )
        except subprocess.TimeoutExpired:
            pytest.fail(f"chatcert {' '.join(argv)} started serving instead of refusing its input")
        return done.returncode, done.stdout, done.stderr
    try:
        code = main(argv)
    except SystemExit as exc:
        code = int(exc.code or 0)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def exits_cleanly(code: int, err: str, allowed: tuple[int, ...]) -> None:
    """`code` is one of `allowed`; exit 2 comes with exactly one stderr line; never a traceback."""
    assert "Traceback" not in err and "internal error" not in err, err
    assert code in allowed, (code, err)
    if code == 2:
        assert len(err.strip().splitlines()) == 1, err


# -- seeds: valid files of each kind ---------------------------------------------------------------------

PROFILE = yaml.safe_load((data_dir("profiles") / "pharia.yaml").read_text())
SCENARIO = {"ttft_ms": 10, "itl_ms": 2.5, "jitter_ms": 0, "chunks": 4, "status": 503, "retry_after": 1}
OPERATION = yaml.safe_load((EXAMPLE / "liquidai.yaml").read_text())
REPLAY = {
    "format": "chatcert-replay/1",
    "check": "fuzz_invalid_payloads_rejected",
    "created": "2026-01-01T00:00:00+00:00",
    "profile": "compatible",
    "model": "default",
    "request": {
        "method": "POST",
        "route": "/v1/chat/completions",
        "route_name": "chat",
        "stream": False,
        "headers": {"Content-Type": "application/json", "Authorization": "Bearer [REDACTED]"},
        "body": {"encoding": "json", "json": {"model": "default", "messages": [], "max_tokens": 1}},
    },
    "expected": {"property": "rejected", "rule": "REQ2", "level": "MUST", "kind": "empty-messages"},
    "observed": {"status": 500, "kind": "server_error", "message": "answered 500", "error": None},
}
PAYLOADS = [{"messages": [{"role": "user", "content": "hi"}], "max_tokens": 8}, {"messages": []}]


# -- profile files --------------------------------------------------------------------------------------


@JUNK
@given(data=documents(PROFILE), suffix=st.sampled_from([".yaml", ".json"]))
def test_profile_files_load_or_raise_one_usage_line(
    data: bytes, suffix: str, scratch: Callable[[str, bytes], Path]
) -> None:
    path = scratch("profile" + suffix, data)
    try:
        profile = load_profile(str(path))
    except UsageError as exc:
        one_line(exc)
        return
    # A profile that loads is usable: what certify derives from it does not raise.
    assert profile.digest.startswith("sha256:") and profile.effective()["name"] == profile.name
    assert isinstance(profile.auth_scheme, str) and isinstance(profile.model, str)


@SLOW_JUNK
@given(data=st.builds(_dump, mutations(PROFILE), st.just(False)))
def test_a_mutated_profile_gives_a_dry_run_or_exit_2(
    data: bytes, scratch: Callable[[str, bytes], Path], capsys: pytest.CaptureFixture[str]
) -> None:
    path = scratch("dry-run.yaml", data)
    code, _, err = cli(
        ["certify", "--profile", str(path), "--endpoint", "http://127.0.0.1:9", "--dry-run"], capsys
    )
    exits_cleanly(code, err, (0, 2))


@JUNK
@given(data=documents(PROFILE, mock_values))
def test_mock_profile_files_build_or_raise_mock_config_error(
    data: bytes, scratch: Callable[[str, bytes], Path]
) -> None:
    assume(_utf8(data))  # undecodable bytes: test_mock_rejects_an_undecodable_profile
    path = scratch("mock-profile.yaml", data)
    try:
        build_app(path)
    except MockConfigError as exc:
        # One line only for schema problems; YAML syntax errors are multi-line (fixed).
        assert str(exc).strip()


def _utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


# -- scenario files (chatcert mock --scenario, MockServer(scenario=...)) -------------------------------------


@JUNK
@given(
    data=st.one_of(
        documents(SCENARIO, mock_values),
        st.builds(_dump, mutations({"scenario": SCENARIO}, mock_values), st.booleans()),
    ),
    suffix=st.sampled_from([".yaml", ".json"]),
)
def test_scenario_files_load_or_raise_scenario_error(
    data: bytes, suffix: str, scratch: Callable[[str, bytes], Path]
) -> None:
    path = scratch("scenario" + suffix, data)
    try:
        scenario = load_scenario_file(path)
    except ScenarioError as exc:
        assert str(exc).strip()  # one line except YAML syntax errors: all fixed
        return
    assert scenario.status is None or 400 <= scenario.status <= 599


@JUNK
@given(
    text=st.text(max_size=80)
    | st.builds(";".join, st.lists(st.text(max_size=12).map(lambda t: "ttft_ms=" + t)))
)
def test_scenario_headers_parse_or_raise_scenario_error(text: str) -> None:
    try:
        parse_scenario_header(text)
    except ScenarioError as exc:
        one_line(exc)


# -- Operation files (chatcert preflight)---------------------------------------------------------------------


@pytest.fixture(scope="module")
def operation_dir() -> Iterator[Path]:
    """The example's uplinked files next to each generated Operation, so uplink sources resolve."""
    folder = Path(tempfile.mkdtemp(prefix="chatcert-operation-"))
    for name in ("vlm_infer.py", "image.png"):
        shutil.copy(EXAMPLE / name, folder / name)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


@JUNK
@given(data=documents(OPERATION))
def test_operation_files_load_or_raise_one_usage_line(data: bytes, operation_dir: Path) -> None:
    path = operation_dir / "operation.yaml"
    path.write_bytes(data)
    try:
        load_operation(path)
    except UsageError as exc:
        one_line(exc)


@SLOW_JUNK
@given(data=documents(OPERATION))
def test_operation_files_are_go_no_go_or_exit_2(
    data: bytes, operation_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = operation_dir / "operation.yaml"
    path.write_bytes(data)
    code, out, err = cli(["preflight", str(path), "--no-rehearsal", "--json"], capsys)
    exits_cleanly(code, err, (0, 1, 2))
    if code in (0, 1):  # a readable Operation whose content is wrong is a NO-GO, not a usage error
        assert json.loads(out)["verdict"] == ("GO" if code == 0 else "NO-GO")


@settings(JUNK, max_examples=8)
@given(doc=mutations(OPERATION))
def test_mutated_operations_survive_the_rehearsal(
    doc: Any, operation_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = operation_dir / "rehearsed.yaml"
    path.write_bytes(_dump(doc, False))
    code, _, err = cli(["preflight", str(path), "--json", "--timeout", "20"], capsys)
    exits_cleanly(code, err, (0, 1, 2))


# -- replay files---------------------------------------------------------------------------------------------


@JUNK
@given(data=documents(REPLAY))
def test_replay_files_load_or_raise_one_usage_line(
    data: bytes, scratch: Callable[[str, bytes], Path]
) -> None:
    path = scratch("replay.json", data)
    try:
        doc = replay.load(path)
    except UsageError as exc:
        one_line(exc)
        return
    assert doc["format"] == "chatcert-replay/1"


@pytest.fixture(scope="module")
def replay_target() -> Iterator[MockServer]:
    with MockServer("compatible") as server:
        yield server


@SLOW_JUNK
@given(doc=mutations(REPLAY))
def test_mutated_replay_files_replay_or_exit_2(
    doc: Any,
    scratch: Callable[[str, bytes], Path],
    replay_target: MockServer,
    capsys: pytest.CaptureFixture[str],
) -> None:
    path = scratch("mutated-replay.json", json.dumps(doc).encode())
    code, out, err = cli(["replay", str(path), "--endpoint", replay_target.url, "--timeout", "10"], capsys)
    exits_cleanly(code, err, (0, 1, 2))
    if code in (0, 1):
        assert "FIXED" in out or "STILL FAILS" in out or "INCONCLUSIVE" in out


# -- bench files: --payload FILE, --compare FILE, the history folder------------------------------------------


@JUNK
@given(data=st.one_of(documents(PAYLOADS), documents(PAYLOADS[0])))
def test_bench_payload_files_load_or_raise_one_usage_line(
    data: bytes, scratch: Callable[[str, bytes], Path]
) -> None:
    path = scratch("payloads.json", data)
    try:
        payloads = load_payloads(str(path))
    except UsageError as exc:
        one_line(exc)
        return
    assert payloads and all(isinstance(p.body.get("messages"), list) for p in payloads)


@pytest.fixture(scope="module")
def saved_record(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A real saved bench run, the seed of the mutations."""
    history = tmp_path_factory.mktemp("history")
    with MockServer("compatible") as server:
        code = main(
            [
                "bench",
                "--endpoint",
                server.url,
                "--requests",
                "2",
                "--concurrency",
                "1",
                "--no-progress",
                "-q",
                "--save",
                "seed",
                "--history-dir",
                str(history),
                "--report-dir",
                str(history / "report"),
            ]
        )
    assert code == 0
    record: dict[str, Any] = json.loads((history / "seed.json").read_text())
    return record


@JUNK
@given(data=st.data())
def test_saved_bench_runs_load_or_raise_one_usage_line(
    data: st.DataObject, saved_record: dict[str, Any], scratch: Callable[[str, bytes], Path]
) -> None:
    raw = data.draw(documents(saved_record))
    path = scratch("record.json", raw)
    try:
        record = load_saved(str(path))
    except UsageError as exc:
        one_line(exc)
    else:
        assert isinstance(record.get("levels"), list)
    # A junk file in the history folder is skipped, never fatal to every later run.
    assert isinstance(saved_runs(path.parent), list)


# -- key files -----------------------------------------------------------------------------------------------


@JUNK
@given(data=st.binary(max_size=200) | st.text(max_size=100).map(str.encode))
def test_key_files_give_a_key_or_one_line_that_never_shows_the_content(
    data: bytes, scratch: Callable[[str, bytes], Path]
) -> None:
    path = scratch("key.txt", data)
    try:
        key = load_api_key(None, str(path))
    except UsageError as exc:
        one_line(exc)
        content = data.decode("utf-8", "replace").strip()
        assert len(content) < 6 or content not in str(exc)
        return
    assert key and key == key.strip()


# -- command-line value parsers ------------------------------------------------------------------------------


@JUNK
@given(
    text=st.text(max_size=30) | st.sampled_from(["nan", "inf", "-inf", "1e999", "0", "-1", "1_000", " 7 "])
)
def test_numeric_option_parsers_accept_only_finite_positive_numbers(text: str) -> None:
    for parse in (positive_int, positive_float):
        try:
            value = parse(text)
        except argparse.ArgumentTypeError as exc:
            one_line(exc)
            continue
        assert value > 0 and value != float("inf") and value == value


@JUNK
@given(text=st.text(max_size=40))
def test_bench_and_mock_option_parsers_raise_argparse_errors(text: str) -> None:
    parsers: list[Callable[[str], Any]] = [
        bench_cli._int_list,
        bench_cli._float_list,
        bench_cli._bool,
        mock_cli._port,
    ]
    for parse in parsers:
        try:
            parse(text)
        except argparse.ArgumentTypeError as exc:
            one_line(exc)


@JUNK
@given(
    text=st.one_of(
        st.text(max_size=60),
        st.builds(
            lambda scheme, host, port, rest: f"{scheme}://{host}{port}{rest}",
            st.sampled_from(["http", "https", "ftp", "HTTP", ""]),
            st.text(max_size=20),
            st.sampled_from(["", ":0", ":80", ":65536", ":-1", ":x", ":"]),
            st.text(max_size=20),
        ),
    )
)
def test_endpoint_urls_are_checked_or_raise_one_usage_line(text: str) -> None:
    assume("[" not in text and "]" not in text)  # test_bad_command_line_values_exit_2 pins 'http://[::1'
    try:
        url = check_url(text)
    except UsageError as exc:
        one_line(exc)
        return
    assert url.lower().startswith(("http://", "https://"))


@JUNK
@given(items=st.lists(st.text(max_size=30), max_size=3))
def test_claims_rules_scenarios_and_defects_parse_or_raise_one_line(items: list[str]) -> None:
    calls: list[tuple[Callable[[], Any], type[Exception]]] = [
        (lambda: parse_claims(items), UsageError),
        (lambda: parse_rules(items), UsageError),
        (lambda: parse_scenario(";".join(items)), UsageError),
        # Newlines in a defect name: test_a_defect_name_with_a_newline_is_one_line (fixed).
        (
            lambda: parse_defect_names(",".join(i.replace("\n", " ").replace("\r", " ") for i in items)),
            ValueError,
        ),
    ]
    for call, error in calls:
        try:
            call()
        except error as exc:
            one_line(exc)


# -- crash classes found by the properties, each pinned by a test (all fixed)---------------------------

DEEP_JSON = "[" * 100000 + "]" * 100000
DEEP_YAML = "a: " + "[" * 100000 + "]" * 100000 + "\n"
BIG_INT_YAML = "name: x\nmodel: " + "9" * 5000 + "\n"
BAD_YAML = "a: [1, 2\nb: {\n"
BAD_UTF8 = b"name: \xff\xfe\n"

_DEEP = (
    "json.loads / yaml.safe_load / jsonschema raise RecursionError on nesting 100000 deep; the loaders catch "
    "ValueError/YAMLError only, so the command dies with 'internal error' (exit 3). Fix: add RecursionError "
    "to the except clauses of src/chatcert/profiles.py load_profile, "
    "src/chatcert/preflight/operation.py load_operation, src/chatcert/bench/payloads.py _from_file, "
    "src/chatcert/bench/records.py load_saved and saved_runs, mock_server/scenarios.py "
    "load_scenario_file and mock_server/profile.py load_profile (for yaml, a depth check before the "
    "schema: jsonschema recurses too)"
)
_BIG_INT = (
    "YAML integers over 4300 digits raise ValueError ('Exceeds the limit (4300 digits)') from "
    "yaml.safe_load, which load_profile / load_operation do not catch (exit 3). Fix: catch ValueError "
    "next to yaml.YAMLError "
    "in src/chatcert/profiles.py load_profile, src/chatcert/preflight/operation.py load_operation and "
    "mock_server/profile.py load_profile"
)
_MOCK_UTF8 = (
    "mock_server/profile.py load_profile catches OSError and YAMLError only; an undecodable profile raises "
    "UnicodeDecodeError (chatcert mock: exit 3). Fix: except (OSError, UnicodeDecodeError, ValueError, "
    "yaml.YAMLError)"
)
_MULTILINE = (
    "the mock's YAML errors keep PyYAML's multi-line text (6 lines on stderr). Fix: mock_server/profile.py "
    "load_profile and mock_server/scenarios.py load_scenario_file: use ' '.join(str(exc).split()) as "
    "src/chatcert/preflight/operation.py does"
)


def test_a_defect_name_with_a_newline_is_one_line() -> None:
    with pytest.raises(ValueError) as caught:
        parse_defect_names("nope\nsecond line")
    one_line(caught.value)


def _content_id(value: Any) -> str | None:
    if isinstance(value, (str, bytes)) and len(value) > 40:
        return {DEEP_JSON: "deep-json", DEEP_YAML: "deep-yaml", BIG_INT_YAML: "big-int-yaml"}.get(
            value if isinstance(value, str) else "", "big-number" if value[:3] in ("999", b"999") else "long"
        )
    if value in (BAD_YAML, BAD_UTF8):
        return "bad-yaml" if value == BAD_YAML else "bad-utf8"
    return None


def _file_commands(path: Path) -> dict[str, list[str]]:
    offline = ["--endpoint", "http://127.0.0.1:9"]
    return {
        "certify --profile": ["certify", "--profile", str(path), *offline, "--dry-run"],
        "bench --payload": ["bench", "--payload", str(path), *offline],
        "bench --compare": ["bench", "--compare", str(path), *offline],
        "replay": ["replay", str(path), *offline],
        "preflight": ["preflight", str(path), "--no-rehearsal"],
        "preflight --profile": [
            "preflight",
            str(EXAMPLE / "liquidai.yaml"),
            "--profile",
            str(path),
            "--no-rehearsal",
        ],
        "mock --profile": ["mock", "--profile", str(path), "--port", "0"],
        "mock --scenario": ["mock", "--scenario", str(path), "--port", "0"],
    }


@pytest.mark.parametrize(
    ("command", "content", "suffix"),
    [
        pytest.param("certify --profile", DEEP_JSON, ".json"),
        pytest.param("certify --profile", DEEP_YAML, ".yaml"),
        pytest.param("certify --profile", BIG_INT_YAML, ".yaml"),
        ("certify --profile", BAD_YAML, ".yaml"),
        ("certify --profile", BAD_UTF8, ".yaml"),
        pytest.param("bench --payload", DEEP_JSON, ".json"),
        ("bench --payload", "9" * 5000, ".json"),
        ("bench --payload", BAD_UTF8, ".json"),
        pytest.param("bench --compare", DEEP_JSON, ".json"),
        ("bench --compare", "{}", ".json"),
        ("replay", DEEP_JSON, ".json"),
        ("replay", "9" * 5000, ".json"),
        ("replay", BAD_UTF8, ".json"),
        pytest.param("preflight", DEEP_JSON, ".yaml"),
        pytest.param("preflight", BIG_INT_YAML, ".yaml"),
        ("preflight", BAD_YAML, ".yaml"),
        ("preflight", BAD_UTF8, ".yaml"),
        pytest.param("preflight --profile", DEEP_JSON, ".json"),
        pytest.param("mock --profile", DEEP_YAML, ".yaml"),
        pytest.param("mock --profile", BIG_INT_YAML, ".yaml"),
        pytest.param("mock --profile", BAD_UTF8, ".yaml"),
        pytest.param("mock --profile", BAD_YAML, ".yaml"),
        pytest.param("mock --scenario", DEEP_JSON, ".json"),
        pytest.param("mock --scenario", DEEP_YAML, ".yaml"),
        ("mock --scenario", "ttft_ms: " + "9" * 5000 + "\n", ".yaml"),
        ("mock --scenario", BAD_UTF8, ".yaml"),
        pytest.param("mock --scenario", BAD_YAML, ".yaml"),
    ],
    ids=_content_id,
)
def test_unreadable_input_files_exit_2_in_one_line(
    command: str, content: str | bytes, suffix: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / f"input{suffix}"
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    code, _, err = cli(_file_commands(path)[command], capsys)
    exits_cleanly(code, err, (2,))


@pytest.mark.parametrize("option", ["--scenario", "--profile"])
def test_a_lone_surrogate_in_a_mock_file_is_a_config_error(
    option: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / ("scenario.json" if option == "--scenario" else "profile.json")
    if option == "--scenario":
        path.write_text('{"ttft_ms": 1, "\\ud800": 2}')
    else:  # a YAML profile whose tier is an escaped emoji: invalid either way, so the mock never serves
        path = tmp_path / "profile.yaml"
        path.write_text(yaml.safe_dump({**PROFILE, "tier": "TIER"}).replace("TIER", '"\\ud83d\\ude00"'))
    code, _, err = cli(["mock", option, str(path), "--port", "0"], capsys)
    exits_cleanly(code, err, (2,))


def test_a_lone_surrogate_in_a_request_body_is_a_400_not_a_500(replay_target: MockServer) -> None:
    body = b'{"model": "default", "messages": [{"role": "\\ud800", "content": "hi"}]}'
    answer = httpx.post(
        replay_target.url + "/v1/chat/completions", content=body, headers={"Content-Type": "application/json"}
    )
    assert answer.status_code == 400, answer.text


def test_a_deep_file_in_the_bench_history_is_skipped(tmp_path: Path) -> None:
    (tmp_path / "corrupt.json").write_text(DEEP_JSON)
    assert saved_runs(tmp_path) == []


# -- every bad command-line value of every command------------------------------------------------------------

OFFLINE = ["--endpoint", "http://127.0.0.1:9"]
BAD_VALUES: list[Any] = [
    # certify
    ["certify", "--endpoint", "ftp://example.com"],
    ["certify", "--endpoint", "http://127.0.0.1:99999"],
    ["certify", "--endpoint", "not a url"],
    ["certify", "--profile", "no-such-profile"],
    ["certify", "--profile", "/nonexistent/profile.yaml"],
    ["certify", "--claim", "vision=maybe"],
    ["certify", "--claim", "teleport=true"],
    ["certify", "--area", "nowhere"],
    ["certify", "--check", "no_such_check", *OFFLINE],
    ["certify", "--waive", "no_such_check=reason", *OFFLINE],
    ["certify", "--waive", "no-equals-sign", *OFFLINE],
    ["certify", "--max-examples", "0"],
    ["certify", "--seed", "abc"],
    ["certify", "--max-requests", "-3"],
    ["certify", "--max-tokens", "1.5"],
    ["certify", "--timeout", "nan"],
    ["certify", "--stall-timeout", "inf"],
    ["certify", "--max-body-bytes", "0"],
    ["certify", "--run-timeout", "-1"],
    ["certify", "--api-key-env", "CHATCERT_SURELY_UNSET_VARIABLE", *OFFLINE],
    ["certify", "--api-key-file", "/nonexistent/key", *OFFLINE],
    ["certify", "--api-key-env", "A", "--api-key-file", "B", *OFFLINE],
    ["certify", "--no-such-option"],
    pytest.param(
        ["certify", "--endpoint", "http://[::1", "--dry-run"],
        id="certify-bad-ipv6",
    ),
    pytest.param(
        ["certify", "--report-dir", "/proc/chatcert-cannot-write-here", *OFFLINE, "-q"],
        id="certify-unwritable-report-dir",
    ),
    pytest.param(
        ["certify", "--exclude", "no_such_check", *OFFLINE, "--dry-run"],
        id="certify-unknown-exclude",
    ),
    ["certify", "--check", "no_such_prefix_*", *OFFLINE, "-q"],
    ["certify", "--area", "models", *OFFLINE, "-q"],
    # checks
    ["checks", "--no-such-option"],
    ["checks", "extra-argument"],
    # bench
    ["bench", "--concurrency", "0"],
    ["bench", "--concurrency", "a,b"],
    ["bench", "--rate", "0"],
    ["bench", "--rate", "nan"],
    ["bench", "--requests", "0"],
    ["bench", "--duration", "-5"],
    ["bench", "--requests", "5", "--duration", "5"],
    ["bench", "--warmup", "-1", *OFFLINE],
    ["bench", "--rate", "1", "--concurrency", "1,2", *OFFLINE],
    ["bench", "--payload", "image:0x0", *OFFLINE],
    ["bench", "--payload", "image:99999x99999", *OFFLINE],
    ["bench", "--payload", "/nonexistent/payloads.json", *OFFLINE],
    ["bench", "--max-output-tokens", "0"],
    ["bench", "--cache-prompt", "perhaps"],
    ["bench", "--mock-scenario", "ttft_ms=-1"],
    ["bench", "--mock-scenario", "garbage"],
    ["bench", "--loop", "trio"],
    ["bench", "--timeout", "0"],
    ["bench", "--compare", "no-such-run", *OFFLINE],
    ["bench", "--fail-on", "p95:+10%"],
    ["bench", "--fail-on", "garbage", "--compare", "x", *OFFLINE],
    ["bench", "--save", "../../escape", "--requests", "1", "--no-progress", *OFFLINE],
    ["bench", "--profile", "no-such-profile", *OFFLINE],
    ["bench", "--endpoint", "ftp://example.com"],
    ["bench", "--api-key-env", "CHATCERT_SURELY_UNSET_VARIABLE", *OFFLINE],
    pytest.param(
        ["bench", "--endpoint", "http://[::1"],
        id="bench-bad-ipv6",
    ),
    pytest.param(
        ["bench", "--temperature", "nan", *OFFLINE, "--requests", "1"],
        id="bench-temperature-nan",
    ),
    pytest.param(
        ["bench", "--temperature", "inf", *OFFLINE, "--requests", "1"],
        id="bench-temperature-inf",
    ),
    pytest.param(
        ["bench", "--report-dir", "/proc/chatcert-cannot-write-here", "--requests", "1", "--no-pin"],
        id="bench-unwritable-report-dir",
    ),
    pytest.param(
        ["bench", "--history-dir", "/proc/chatcert-no", "--save", "x", "--requests", "1", "--no-pin"],
        id="bench-unwritable-history-dir",
    ),
    # preflight
    ["preflight"],
    ["preflight", "/nonexistent/operation.yaml"],
    ["preflight", str(EXAMPLE / "liquidai.yaml"), "--script", "x.py"],
    ["preflight", "--script", "/nonexistent/script.py", "--image", str(EXAMPLE / "image.png")],
    ["preflight", "--script", str(EXAMPLE / "vlm_infer.py")],
    ["preflight", str(EXAMPLE / "liquidai.yaml"), "--timeout", "abc"],
    ["preflight", str(EXAMPLE / "liquidai.yaml"), "--timeout", "0"],
    ["preflight", str(EXAMPLE / "liquidai.yaml"), "--profile", "no-such-profile"],
    ["preflight", str(EXAMPLE / "liquidai.yaml"), "--report-dir", "/proc/chatcert-cannot-write-here"],
    pytest.param(
        ["preflight", str(EXAMPLE / "liquidai.yaml"), "--timeout", "nan"],
        id="preflight-timeout-nan",
    ),
    pytest.param(
        ["preflight", str(EXAMPLE / "liquidai.yaml"), "--timeout", "inf", "--no-rehearsal"],
        id="preflight-timeout-inf",
    ),
    # replay
    ["replay"],
    ["replay", "/nonexistent/replay.json"],
    ["replay", "/"],
    ["replay", "{replay}", "--timeout", "0"],
    ["replay", "{replay}", "--profile", "no-such-profile"],
    ["replay", "{replay}", "--endpoint", "ftp://example.com"],
    ["replay", "{replay}", "--api-key-env", "CHATCERT_SURELY_UNSET_VARIABLE", *OFFLINE],
    pytest.param(
        ["replay", "{replay}", "--endpoint", "http://[::1"],
        id="replay-bad-ipv6",
    ),
    # mock (none of these may start serving)
    ["mock", "--port", "70000"],
    ["mock", "--port", "http"],
    ["mock", "--host", "8.8.8.8", "--port", "0"],
    ["mock", "--host", "not-a-host", "--port", "0"],
    ["mock", "--profile", "no-such-profile", "--port", "0"],
    ["mock", "--profile", "pharia", "--api-key-env", "CHATCERT_SURELY_UNSET_VARIABLE", "--port", "0"],
    ["mock", "--fault", "meteor", "--port", "0"],
    ["mock", "--defect", "no_such_defect", "--port", "0"],
    ["mock", "--scenario", "status=200", "--port", "0"],
    ["mock", "--scenario", "/nonexistent/scenario.yaml", "--port", "0"],
    ["mock", "--list-defects", "--profile", "no-such-profile"],
    # no command at all / an unknown one
    ["frobnicate"],
]


@pytest.mark.parametrize("argv", BAD_VALUES, ids=lambda a: "-".join(a[:3]) if isinstance(a, list) else None)
def test_bad_command_line_values_exit_2_in_one_line(
    argv: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("CHATCERT_SURELY_UNSET_VARIABLE", raising=False)
    monkeypatch.delenv("CHATCERT_ENDPOINT", raising=False)
    path = tmp_path / "replay.json"
    path.write_text(json.dumps(REPLAY))
    argv = [str(path) if a == "{replay}" else a for a in argv]
    code, _, err = cli(argv, capsys)
    exits_cleanly(code, err, (2,))


def test_a_bad_save_name_is_refused_before_any_request(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with MockServer("compatible") as server:
        code, _, err = cli(
            [
                "bench",
                "--endpoint",
                server.url,
                "--save",
                "../../escape",
                "--requests",
                "2",
                "--concurrency",
                "1",
                "--no-progress",
                "--report-dir",
                str(tmp_path),
            ],
            capsys,
        )
        sent = len(server.journal())
    exits_cleanly(code, err, (2,))
    assert sent == 0
