"""Image sniffing without Pillow: magic bytes and header dimensions for PNG, JPEG, GIF and WebP."""

from __future__ import annotations

import base64
import binascii
import re
import struct
import zlib
from dataclasses import dataclass

__all__ = ["SUPPORTED_MIME", "ImageInfo", "canonical_mime", "decode_data_url", "sniff_image"]

SUPPORTED_MIME = ("image/png", "image/jpeg", "image/gif", "image/webp")
_ALIASES = {"image/jpg": "image/jpeg", "image/pjpeg": "image/jpeg"}
_DATA_URL = re.compile(r"data:([^,;]*)((?:;[^,;]*)*),(.*)", re.DOTALL)
# JPEG start-of-frame markers carry the dimensions (C4, C8 and CC are not frames).
_SOF = frozenset({0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF})


@dataclass(frozen=True)
class ImageInfo:
    """What the bytes really are."""

    mime: str
    width: int
    height: int


def canonical_mime(mime: str) -> str:
    """Lower-case MIME with common aliases folded (image/jpg -> image/jpeg)."""
    mime = mime.strip().lower()
    return _ALIASES.get(mime, mime)


def decode_data_url(url: str) -> tuple[str, bytes]:
    """Split `data:<mime>;base64,<data>` into (declared MIME, bytes); ValueError says what is wrong."""
    match = _DATA_URL.fullmatch(url)
    if match is None:
        raise ValueError("data URL is malformed (expected data:<mime>;base64,<data>)")
    mime, params, payload = match.groups()
    if "base64" not in {p.strip().lower() for p in params.split(";")}:
        raise ValueError("data URL is not base64-encoded (missing ;base64)")
    if not payload:
        raise ValueError("data URL carries no data")
    try:
        data = base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("data URL payload is not valid base64") from None
    return canonical_mime(mime), data


def sniff_image(data: bytes) -> ImageInfo | None:
    """Recognise the format from its magic and parse width/height; None for anything else or damaged."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return _png(data)
    if data.startswith(b"\xff\xd8\xff"):
        return _jpeg(data)
    if data[:6] in (b"GIF87a", b"GIF89a") and len(data) >= 10:
        return _sized("image/gif", *struct.unpack("<HH", data[6:10]))
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return _webp(data)
    return None


def _sized(mime: str, width: int, height: int) -> ImageInfo | None:
    return ImageInfo(mime, width, height) if width > 0 and height > 0 else None


def _png(data: bytes) -> ImageInfo | None:
    # The first chunk must be IHDR; its CRC tells a real header from bytes that merely start right.
    if len(data) < 33 or data[12:16] != b"IHDR":
        return None
    if zlib.crc32(data[12:29]) != struct.unpack(">I", data[29:33])[0]:
        return None
    return _sized("image/png", *struct.unpack(">II", data[16:24]))


def _jpeg(data: bytes) -> ImageInfo | None:
    i = 2
    while i + 4 <= len(data):
        if data[i] != 0xFF:
            return None
        marker = data[i + 1]
        if marker == 0xFF:  # fill byte before a marker
            i += 1
            continue
        if marker == 0x01 or 0xD0 <= marker <= 0xD8:  # markers without a length
            i += 2
            continue
        if marker in (0xD9, 0xDA):  # end of image or scan data before any frame header
            return None
        length = struct.unpack(">H", data[i + 2 : i + 4])[0]
        if length < 2:
            return None
        if marker in _SOF:
            if i + 9 > len(data):
                return None
            height, width = struct.unpack(">HH", data[i + 5 : i + 9])
            return _sized("image/jpeg", width, height)
        i += 2 + length
    return None


def _webp(data: bytes) -> ImageInfo | None:
    chunk = data[12:16]
    if chunk == b"VP8 " and len(data) >= 30 and data[23:26] == b"\x9d\x01\x2a":
        width, height = struct.unpack("<HH", data[26:30])
        return _sized("image/webp", width & 0x3FFF, height & 0x3FFF)
    if chunk == b"VP8L" and len(data) >= 25 and data[20] == 0x2F:
        bits = int.from_bytes(data[21:25], "little")
        return _sized("image/webp", (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1)
    if chunk == b"VP8X" and len(data) >= 30:
        width = int.from_bytes(data[24:27], "little") + 1
        height = int.from_bytes(data[27:30], "little") + 1
        return _sized("image/webp", width, height)
    return None
