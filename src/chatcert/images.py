"""Image bytes: sniff the format and dimensions from headers (no decoder needed), data: URLs, fixtures."""

from __future__ import annotations

import base64
import binascii
import json
import re
import struct
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from chatcert_data import data_dir

__all__ = [
    "DataURL",
    "ImageInfo",
    "data_url",
    "fixture_image",
    "fixture_images",
    "make_png",
    "parse_data_url",
    "sniff",
]

MIME_BY_FORMAT = {"png": "image/png", "jpeg": "image/jpeg", "gif": "image/gif", "webp": "image/webp"}


@dataclass(frozen=True)
class ImageInfo:
    format: str
    width: int
    height: int

    @property
    def mime(self) -> str:
        return MIME_BY_FORMAT[self.format]


def sniff(data: bytes) -> ImageInfo | None:
    """Format and size from the file header, or None when the bytes are not a PNG/JPEG/GIF/WebP."""
    if data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) >= 24 and data[12:16] == b"IHDR":
        width, height = struct.unpack(">II", data[16:24])
        return ImageInfo("png", width, height)
    if data[:6] in (b"GIF87a", b"GIF89a") and len(data) >= 10:
        width, height = struct.unpack("<HH", data[6:10])
        return ImageInfo("gif", width, height)
    if data.startswith(b"\xff\xd8"):
        return _jpeg(data)
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return _webp(data)
    return None


def _jpeg(data: bytes) -> ImageInfo | None:
    pos = 2
    while pos + 4 <= len(data):
        if data[pos] != 0xFF:
            return None
        marker = data[pos + 1]
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:
            pos += 2
            continue
        (length,) = struct.unpack(">H", data[pos + 2 : pos + 4])
        # SOF0..SOF15 except DHT (C4), JPG (C8) and DAC (CC) carry the frame size.
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            if pos + 9 > len(data):
                return None
            height, width = struct.unpack(">HH", data[pos + 5 : pos + 9])
            return ImageInfo("jpeg", width, height)
        pos += 2 + length
    return None


def _webp(data: bytes) -> ImageInfo | None:
    chunk = data[12:16]
    if chunk == b"VP8X" and len(data) >= 30:
        width = 1 + int.from_bytes(data[24:27], "little")
        height = 1 + int.from_bytes(data[27:30], "little")
        return ImageInfo("webp", width, height)
    if chunk == b"VP8L" and len(data) >= 25:
        bits = int.from_bytes(data[21:25], "little")
        return ImageInfo("webp", (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1)
    if chunk == b"VP8 " and len(data) >= 30:
        width, height = struct.unpack("<HH", data[26:30])
        return ImageInfo("webp", width & 0x3FFF, height & 0x3FFF)
    return None


@dataclass(frozen=True)
class DataURL:
    mime: str
    data: bytes


_DATA_URL = re.compile(
    r"^data:(?P<mime>[\w.+-]+/[\w.+-]+)?(?P<params>(;[\w.+-]+=[^;,]*)*)(?P<b64>;base64)?,(?P<payload>.*)$",
    re.DOTALL,
)


def parse_data_url(url: str) -> DataURL:
    """Decode a base64 ``data:`` URL; raises ValueError naming what is wrong."""
    match = _DATA_URL.match(url)
    if not match:
        raise ValueError("not a data: URL of the form data:<mime>;base64,<payload>")
    if not match.group("b64"):
        raise ValueError("data: URL is not base64-encoded")
    try:
        raw = base64.b64decode(match.group("payload"), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ValueError(f"data: URL payload is not valid base64: {exc}") from exc
    return DataURL(mime=(match.group("mime") or "").lower(), data=raw)


def data_url(data: bytes, mime: str | None = None) -> str:
    info = sniff(data)
    kind = mime or (info.mime if info else "application/octet-stream")
    return f"data:{kind};base64,{base64.b64encode(data).decode()}"


@cache
def fixture_images() -> tuple[dict[str, object], ...]:
    """The entries of fixtures/images/MANIFEST.json (file, format, mime, width, height, ...)."""
    manifest = data_dir("fixtures") / "images" / "MANIFEST.json"
    doc = json.loads(manifest.read_text(encoding="utf-8"))
    entries = doc["images"] if isinstance(doc, dict) else doc
    return tuple(entries)


def fixture_image(fmt: str, *, largest: bool = False) -> bytes:
    """The smallest (or largest) fixture image of a format, as bytes."""
    # Edge-case images (1x1, 4001x1 for pixel limits) are fixtures for limit checks, not samples.
    candidates = [
        e
        for e in fixture_images()
        if e.get("format") == fmt
        and 8 <= int(str(e.get("width", 0))) <= 1024
        and 8 <= int(str(e.get("height", 0))) <= 1024
    ]
    if not candidates:
        raise LookupError(f"no fixture image of format {fmt!r}")
    candidates.sort(key=lambda e: int(str(e.get("bytes", 0))))
    entry = candidates[-1] if largest else candidates[0]
    return Path(data_dir("fixtures") / "images" / str(entry["file"])).read_bytes()


def make_png(width: int, height: int, rgb: tuple[int, int, int] = (200, 30, 30)) -> bytes:
    """A real, solid-colour PNG of any size (compresses well, so huge sizes stay small)."""
    import zlib

    row = b"\x00" + bytes(rgb) * width
    raw = zlib.compress(row * height, 9)

    def chunk(kind: bytes, payload: bytes) -> bytes:
        return (
            struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))
        )

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", raw) + chunk(b"IEND", b"")
