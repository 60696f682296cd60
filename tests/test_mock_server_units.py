"""The mock's building blocks without a server: image sniffing, scenarios, generation, journal, config."""

from __future__ import annotations

import base64
import struct
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from chatcert.wire.images import DataURL, ImageInfo, parse_data_url
from chatcert.wire.images import sniff as sniff_image
from mock_server import MockConfigError, Scenario, ScenarioError, load_scenario_file, parse_scenario_header
from mock_server.defects import DEFECTS, Defect, register
from mock_server.generation import minimal_instance, reply_text, split_tokens
from mock_server.journal import Journal, body_record, redact_headers, redact_query
from mock_server.profile import load_profile
from mock_server.runner import check_host
from mock_server.samples import data_url, png_bytes

# ---- images -------------------------------------------------------------------------------------


def jpeg(width: int, height: int) -> bytes:
    app0 = b"\xff\xe0" + struct.pack(">H", 16) + b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
    sof0 = b"\xff\xc0" + struct.pack(">HBHHB", 11, 8, height, width, 1) + b"\x01\x11\x00"
    return b"\xff\xd8" + app0 + b"\xff\xff" + sof0 + b"\xff\xda\x00\x08\x01\x01\x00\x00\x3f\x00" + b"\xff\xd9"


def webp(kind: bytes, payload: bytes) -> bytes:
    chunk = kind + struct.pack("<I", len(payload)) + payload
    return b"RIFF" + struct.pack("<I", 4 + len(chunk)) + b"WEBP" + chunk


def test_sniff_recognises_each_format_and_its_size() -> None:
    assert sniff_image(png_bytes(640, 480)) == ImageInfo("png", "image/png", 640, 480)
    assert sniff_image(jpeg(1024, 768)) == ImageInfo("jpeg", "image/jpeg", 1024, 768)
    assert sniff_image(b"GIF89a" + struct.pack("<HH", 12, 34) + b"\x00" * 8) == ImageInfo(
        "gif", "image/gif", 12, 34
    )
    lossy = b"\x00\x00\x00" + b"\x9d\x01\x2a" + struct.pack("<HH", 320, 200) + b"\x00" * 4
    assert sniff_image(webp(b"VP8 ", lossy)) == ImageInfo("webp", "image/webp", 320, 200)
    bits = (100 - 1) | ((50 - 1) << 14)
    assert sniff_image(webp(b"VP8L", b"\x2f" + struct.pack("<I", bits))) == ImageInfo(
        "webp", "image/webp", 100, 50
    )
    extended = b"\x00" * 4 + (4999).to_bytes(3, "little") + (2999).to_bytes(3, "little")
    assert sniff_image(webp(b"VP8X", extended)) == ImageInfo("webp", "image/webp", 5000, 3000)


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"hello",
        png_bytes()[:30],
        png_bytes()[:29] + b"\x00\x00\x00\x00" + png_bytes()[33:],  # bad IHDR CRC
        png_bytes(0, 5),
        b"\xff\xd8\xff\xe0\x00\x10JFIF",  # JPEG without a frame header
        jpeg(0, 10),
        b"\xff\xd8" + b"\xff\xda\x00\x02" + b"\x00" * 20,  # scan before frame
        b"GIF89a\x01",
        b"RIFF\x00\x00\x00\x00WEBPVP8 " + b"\x00" * 8,
        b"<svg xmlns='http://www.w3.org/2000/svg'/>",
    ],
)
def test_sniff_refuses_non_images_and_damaged_headers(data: bytes) -> None:
    assert sniff_image(data) is None


def test_decode_data_url() -> None:
    assert parse_data_url(data_url(b"abc", "image/JPG")) == DataURL("image/jpeg", b"abc")
    assert parse_data_url("data:image/png;charset=x;base64,YWJj") == DataURL("image/png", b"abc")
    for bad in ("data:image/png,YWJj", "data:image/png;base64,", "data:image/png;base64,YW Jj", "nodata"):
        with pytest.raises(ValueError):
            parse_data_url(bad)


# ---- scenarios ----------------------------------------------------------------------------------


def test_parse_scenario_header() -> None:
    scenario = parse_scenario_header(" ttft_ms=120 ; itl_ms=15.5;chunks=3;fault=stall;stall_ms=10; ")
    assert scenario == Scenario(ttft_ms=120, itl_ms=15.5, chunks=3, fault="stall", stall_ms=10)
    assert parse_scenario_header("") == Scenario()
    merged = Scenario(ttft_ms=1, itl_ms=2).merged(parse_scenario_header("itl_ms=5;status=429"))
    assert merged == Scenario(ttft_ms=1, itl_ms=5, status=429)


@pytest.mark.parametrize(
    "header",
    ["x=1", "ttft_ms=-1", "ttft_ms=nan", "ttft_ms=inf", "chunks=2.5", "status=302", "fault=boom", "a"],
)
def test_parse_scenario_header_errors(header: str) -> None:
    with pytest.raises(ScenarioError):
        parse_scenario_header(header)


def test_load_scenario_file(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text("ttft_ms: 50\nitl_ms: 5\nfault: drop_mid_stream\n")
    assert load_scenario_file(tmp_path / "a.yaml") == Scenario(ttft_ms=50, itl_ms=5, fault="drop_mid_stream")
    (tmp_path / "b.json").write_text('{"scenario": {"status": 503}}')
    assert load_scenario_file(tmp_path / "b.json") == Scenario(status=503)
    (tmp_path / "c.yaml").write_text("- 1\n")
    for bad in ("c.yaml", "missing.yaml"):
        with pytest.raises(ScenarioError):
            load_scenario_file(tmp_path / bad)
    with pytest.raises(ScenarioError):
        Scenario.from_mapping({"chunks": True})


# ---- generation ---------------------------------------------------------------------------------


def test_reply_text_is_deterministic_and_splits_back() -> None:
    text = reply_text("seed", 0)
    assert text == reply_text("seed", 0) != reply_text("seed", 1)
    assert 5 <= len(text.split()) <= 16 and text.endswith(".") and text[0].isupper()
    assert len(reply_text("seed", 0, 3).split()) == 3 and reply_text("seed", 0, 0) == ""
    assert "".join(split_tokens(text)) == text and len(split_tokens(text)) == len(text.split())


@pytest.mark.parametrize(
    "schema",
    [
        {},
        {"type": "object"},
        {"type": "object", "properties": {"a": {"type": "string", "minLength": 9}}, "required": ["a"]},
        {
            "type": "object",
            "properties": {"n": {"type": "integer", "exclusiveMinimum": 4}},
            "required": ["n"],
        },
        {
            "type": "object",
            "properties": {"u": {"enum": ["c", "f"]}, "d": {"type": "string", "format": "date"}},
            "required": ["u", "d"],
        },
        {
            "type": "object",
            "properties": {"l": {"type": "array", "minItems": 2, "items": {"type": "boolean"}}},
            "required": ["l"],
        },
        {
            "type": "object",
            "properties": {"r": {"$ref": "#/$defs/R"}},
            "required": ["r"],
            "$defs": {
                "R": {"type": "object", "properties": {"x": {"type": ["null", "number"]}}, "required": ["x"]}
            },
        },
        {
            "type": "object",
            "properties": {"o": {"anyOf": [{"type": "string", "maxLength": 2}, {"type": "null"}]}},
            "required": ["o"],
        },
    ],
)
def test_minimal_instance_is_valid(schema: dict[str, Any]) -> None:
    Draft202012Validator(schema).validate(minimal_instance(schema))


def test_minimal_instance_falls_back_to_an_empty_object() -> None:
    impossible = {
        "type": "object",
        "properties": {"p": {"type": "string", "pattern": "^[0-9]+$"}},
        "required": ["p"],
    }
    assert minimal_instance(impossible) == {}


# ---- journal ------------------------------------------------------------------------------------


def test_journal_is_bounded_and_copies() -> None:
    journal = Journal(maxlen=3)
    for i in range(5):
        journal.add({"i": i})
    entries = journal.entries()
    assert [e["i"] for e in entries] == [2, 3, 4] and [e["seq"] for e in entries] == [3, 4, 5]
    entries[0]["i"] = 99
    assert journal.entries()[0]["i"] == 2
    journal.clear()
    assert journal.entries() == []


def test_redaction() -> None:
    headers = redact_headers(
        [
            ("Authorization", "Bearer sk-1"),
            ("X-Api-Key", "k"),
            ("X-PAYMENT", "p"),
            ("Cookie", "c"),
            ("Accept", "a"),
        ]
    )
    assert headers == {
        "Authorization": "Bearer [REDACTED]",
        "X-Api-Key": "[REDACTED]",
        "X-PAYMENT": "[REDACTED]",
        "Cookie": "[REDACTED]",
        "Accept": "a",
    }
    assert redact_headers([("Authorization", "sk-bare")]) == {"Authorization": "[REDACTED]"}
    query = redact_query([("key", "1"), ("access_token", "2"), ("sig", "3"), ("model", "m")])
    assert query == {"key": "[REDACTED]", "access_token": "[REDACTED]", "sig": "[REDACTED]", "model": "m"}


def test_body_record() -> None:
    assert body_record(b'{"a": [1, "x"]}') == {"a": [1, "x"]}
    assert body_record(b"") is None
    long = body_record(b"z" * 5000)
    assert (
        isinstance(long, str) and long.startswith("zz") and long.endswith("more bytes]") and len(long) < 2100
    )
    big = body_record(None, {"s": "y" * 10_000}, has_parsed=True)
    assert big["s"].endswith("…[5904 more chars]")
    raw = base64.b64encode(b"\x00\xff").decode()
    assert body_record(raw.encode()) == raw


# ---- configuration ------------------------------------------------------------------------------


def test_loopback_only_unless_allowed() -> None:
    for host in ("127.0.0.1", "::1", "localhost", "127.0.0.2"):
        check_host(host, allow_remote=False)
    for host in ("0.0.0.0", "192.168.1.5", "example.com", "::"):
        with pytest.raises(MockConfigError):
            check_host(host, allow_remote=False)
        check_host(host, allow_remote=True)


def test_profiles_load_by_name_or_path(tmp_path: Path) -> None:
    assert load_profile("pharia").max_image_width == 4000
    assert load_profile("libertai").shape_for("chat") == "detail"
    assert load_profile("libertai").shape_for("messages") == "anthropic"
    assert load_profile("compatible").shape_for("chat") == "openai"
    with pytest.raises(MockConfigError, match="known: "):
        load_profile("no-such-profile")
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "name: bad\nmodel: m\ntier: strict\nauth: {scheme: none}\nerror_shape: openai\nroutes: {}\n"
    )
    with pytest.raises(MockConfigError, match=r"invalid|lacks"):
        load_profile(bad)


def test_defect_names_are_unique() -> None:
    assert {"stream_wrong_content_type", "stream_missing_done", "finish_reason_empty_string"} <= set(DEFECTS)
    with pytest.raises(ValueError, match="already"):
        register(Defect("stream_missing_done", "duplicate"))
