"""fixtures/: the image manifest matches the committed bytes; payloads only name images that exist.

Dimensions come from a small header parser written here (no Pillow at test time).
"""

from __future__ import annotations

import hashlib
import json
import re
import struct
import zlib
from pathlib import Path
from typing import Any, NamedTuple

import pytest

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
IMAGES = FIXTURES / "images"
PAYLOADS = FIXTURES / "payloads"
MIME = {"png": "image/png", "jpeg": "image/jpeg", "gif": "image/gif", "webp": "image/webp"}
EXTENSION = {"png": "png", "jpeg": "jpg", "gif": "gif", "webp": "webp"}
PNG_MODES = {0: "L", 2: "RGB", 3: "P", 4: "LA", 6: "RGBA"}
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


class Header(NamedTuple):
    format: str
    width: int
    height: int
    mode: str | None  # PNG colour mode from IHDR; None for the other formats


def parse_header(data: bytes) -> Header:
    """Format and pixel size from the first bytes of a PNG, JPEG, GIF or lossless WebP file."""
    if data.startswith(PNG_SIGNATURE):
        length, kind = struct.unpack(">I4s", data[8:16])
        if kind != b"IHDR" or length != 13:
            raise ValueError("PNG without a leading IHDR chunk")
        width, height, _depth, colour = struct.unpack(">IIBB", data[16:26])
        return Header("png", width, height, PNG_MODES[colour])
    if data[:6] in (b"GIF87a", b"GIF89a"):
        width, height = struct.unpack("<HH", data[6:10])
        return Header("gif", width, height, None)
    if data[:2] == b"\xff\xd8":
        pos = 2
        while pos + 4 <= len(data):
            if data[pos] != 0xFF:
                raise ValueError(f"JPEG marker expected at byte {pos}")
            marker = data[pos + 1]
            if marker == 0xFF:  # fill byte
                pos += 1
                continue
            if marker == 0x01 or 0xD0 <= marker <= 0xD7:  # markers without a length
                pos += 2
                continue
            (length,) = struct.unpack(">H", data[pos + 2 : pos + 4])
            if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):  # SOFn
                height, width = struct.unpack(">HH", data[pos + 5 : pos + 9])
                return Header("jpeg", width, height, None)
            pos += 2 + length
        raise ValueError("JPEG without a SOF segment")
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        if data[12:16] != b"VP8L" or data[20] != 0x2F:
            raise ValueError("only lossless (VP8L) WebP is parsed here")
        bits = int.from_bytes(data[21:25], "little")
        return Header("webp", (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1, None)
    raise ValueError("not a PNG, JPEG, GIF or WebP file")


def _manifest() -> dict[str, Any]:
    manifest: dict[str, Any] = json.loads((IMAGES / "MANIFEST.json").read_text(encoding="utf-8"))
    return manifest


ENTRIES: list[dict[str, Any]] = _manifest()["images"]
NAME = re.compile(
    r"^(?P<prefix>[a-z]+)-(?P<w>[0-9]+)x(?P<h>[0-9]+)-(?P<subject>[a-z0-9]+(-[a-z0-9]+)*)\.(?P<ext>[a-z]+)$"
)


def test_manifest_lists_exactly_the_image_files() -> None:
    on_disk = sorted(p.name for p in IMAGES.iterdir() if p.name != "MANIFEST.json")
    listed = [str(e["file"]) for e in ENTRIES]
    assert len(listed) == len(set(listed))
    assert sorted(listed) == on_disk


@pytest.mark.parametrize("entry", ENTRIES, ids=[str(e["file"]) for e in ENTRIES])
def test_manifest_entry_matches_file(entry: dict[str, Any]) -> None:
    data = (IMAGES / entry["file"]).read_bytes()
    assert entry["bytes"] == len(data)
    assert entry["sha256"] == hashlib.sha256(data).hexdigest()
    header = parse_header(data)
    assert (header.format, header.width, header.height) == (entry["format"], entry["width"], entry["height"])
    assert entry["mime"] == MIME[entry["format"]]
    if header.mode is not None:
        assert header.mode == entry["mode"]
    match = NAME.match(entry["file"])
    assert match is not None
    assert match["prefix"] == entry["format"] and match["ext"] == EXTENSION[entry["format"]]
    assert (int(match["w"]), int(match["h"])) == (entry["width"], entry["height"])


def test_manifest_covers_the_required_variants() -> None:
    kinds = {(e["format"], e["mode"]) for e in ENTRIES}
    assert {("png", "RGB"), ("png", "RGBA"), ("png", "L"), ("png", "P")} <= kinds
    assert {"jpeg", "gif", "webp"} <= {e["format"] for e in ENTRIES}
    sizes = {(e["format"], e["width"], e["height"]) for e in ENTRIES}
    assert ("png", 1, 1) in sizes
    oversize = [e for e in ENTRIES if e["width"] > 4000 or e["height"] > 4000]
    assert oversize and all(e["format"] == "png" and e["bytes"] < 1024 for e in oversize)
    assert all(e["bytes"] < 16 * 1024 for e in ENTRIES)
    assert any(e["file"] == "png-8x8-red.png" for e in ENTRIES)  # the documented default placeholder


def _png(width: int, height: int, colour: int) -> bytes:
    ihdr = struct.pack(">IIBBBBB", width, height, 8, colour, 0, 0, 0)
    return (
        PNG_SIGNATURE + struct.pack(">I", 13) + b"IHDR" + ihdr + struct.pack(">I", zlib.crc32(b"IHDR" + ihdr))
    )


def test_header_parser_reads_synthetic_headers() -> None:
    assert parse_header(_png(4001, 1, 0)) == Header("png", 4001, 1, "L")
    assert parse_header(_png(3, 70000, 6)) == Header("png", 3, 70000, "RGBA")
    assert parse_header(b"GIF89a" + struct.pack("<HH", 300, 2) + b"\x00" * 3) == Header("gif", 300, 2, None)
    app0 = b"\xff\xe0" + struct.pack(">H", 16) + b"JFIF\x00" + b"\x00" * 9
    sof2 = b"\xff\xc2" + struct.pack(">HBHHB", 11, 8, 480, 640, 1) + b"\x01\x11\x00"
    assert parse_header(b"\xff\xd8" + app0 + b"\xff" + sof2) == Header("jpeg", 640, 480, None)
    vp8l = b"\x2f" + ((4000 - 1) | ((17 - 1) << 14)).to_bytes(4, "little")
    assert parse_header(b"RIFF\x00\x00\x00\x00WEBPVP8L\x05\x00\x00\x00" + vp8l) == Header(
        "webp", 4000, 17, None
    )


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"not an image",
        b"\xff\xd8\xff\xd9",
        b"RIFF\x00\x00\x00\x00WEBPVP8 " + b"\x00" * 20,
        PNG_SIGNATURE + b"\x00\x00\x00\x0dIDAT" + b"\x00" * 17,
    ],
    ids=["empty", "text", "jpeg-without-sof", "lossy-webp", "png-without-ihdr"],
)
def test_header_parser_rejects_what_it_cannot_read(data: bytes) -> None:
    with pytest.raises(ValueError):
        parse_header(data)


# ---------------------------------------------------------------------------------------------
# payloads and the placeholder convention
# ---------------------------------------------------------------------------------------------

PLACEHOLDER = re.compile(r"\{\{(image|image-base64):([^{}]*)\}\}")


def _strings(node: Any) -> list[str]:
    if isinstance(node, dict):
        return [s for value in node.values() for s in _strings(value)]
    if isinstance(node, list):
        return [s for item in node for s in _strings(item)]
    return [node] if isinstance(node, str) else []


def test_placeholders_name_manifest_images_and_fill_whole_strings() -> None:
    listed = {str(e["file"]) for e in ENTRIES}
    used: set[str] = set()
    for path in sorted(PAYLOADS.rglob("*.json")):
        for text in _strings(json.loads(path.read_text(encoding="utf-8"))):
            for match in PLACEHOLDER.finditer(text):
                assert match.group(0) == text, (path, text)
                assert match.group(2) in listed, (path, text)
                used.add(match.group(2))
    assert "png-8x8-red.png" in used and len(used) >= 5


def test_fixtures_hold_data_only() -> None:
    assert not [p for p in FIXTURES.rglob("*") if p.suffix in {".py", ".pyc"}]
    for path in FIXTURES.rglob("*.json"):
        json.loads(path.read_text(encoding="utf-8"))
