"""Image headers read by hand (PNG, JPEG, GIF, WebP): format, MIME type, dimensions. No Pillow.

Why by hand: the pre-flight must say "this decodes" without a third-party decoder, and the formats a
chat server accepts announce their size in a few header bytes.
"""

from __future__ import annotations

import mimetypes
import os
import struct
import zlib
from dataclasses import dataclass

from chatcert.preflight.stdlib310 import IMAGE_TYPES_310

__all__ = [
    "FALLBACK_MIME",
    "ImageError",
    "ImageInfo",
    "guess_mime_local",
    "guess_mime_onboard",
    "sniff_image",
]

# What the seed's script sends when mimetypes cannot tell.
FALLBACK_MIME = "image/jpeg"


class ImageError(ValueError):
    """The bytes are not an image chatcert can read (unknown format, truncated, corrupt header)."""


@dataclass(frozen=True)
class ImageInfo:
    """What the header says."""

    format: str  # png | jpeg | gif | webp
    mime: str
    width: int
    height: int


def sniff_image(data: bytes, *, complete: bool = True) -> ImageInfo:
    """Identify the image by its magic bytes and read its dimensions; raise ImageError if that fails.

    `complete=False`: `data` is only the start of the file (a journal cut it), so a PNG is not
    checked to its end.
    """
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return _png(data, complete)
    if data.startswith(b"\xff\xd8"):
        return _jpeg(data)
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return _gif(data)
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return _webp(data)
    raise ImageError(f"not a PNG, JPEG, GIF or WebP image (starts with {data[:8].hex() or 'nothing'})")


def _sized(fmt: str, mime: str, width: int, height: int) -> ImageInfo:
    if width <= 0 or height <= 0:
        raise ImageError(f"{fmt.upper()} header gives an empty size {width}x{height}")
    return ImageInfo(fmt, mime, width, height)


def _png(data: bytes, complete: bool) -> ImageInfo:
    # Walk every chunk and check its CRC: a truncated upload or a corrupted file shows up here.
    pos, width, height, seen_end = 8, 0, 0, False
    while pos + 12 <= len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        tag = data[pos + 4 : pos + 8]
        body = data[pos + 8 : pos + 8 + length]
        crc_at = pos + 8 + length
        if crc_at + 4 > len(data):
            raise ImageError(f"PNG truncated inside chunk {tag!r}")
        (crc,) = struct.unpack(">I", data[crc_at : crc_at + 4])
        if zlib.crc32(tag + body) & 0xFFFFFFFF != crc:
            raise ImageError(f"PNG chunk {tag!r} fails its CRC")
        if pos == 8:
            if tag != b"IHDR" or length != 13:
                raise ImageError("PNG does not start with an IHDR chunk")
            width, height = struct.unpack(">II", body[:8])
        if tag == b"IEND" or not complete:
            seen_end = True
            break
        pos = crc_at + 4
    if width == 0 and height == 0:
        raise ImageError("PNG has no IHDR chunk")
    if not seen_end:
        raise ImageError("PNG truncated: no IEND chunk")
    return _sized("png", "image/png", width, height)


# JPEG start-of-frame markers carry the size; C4 (DHT), C8 (JPG) and CC (DAC) share the range but do not.
_SOF = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}


def _jpeg(data: bytes) -> ImageInfo:
    pos = 2
    while pos + 4 <= len(data):
        if data[pos] != 0xFF:
            raise ImageError(f"JPEG marker expected at byte {pos}")
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        if marker in (0x01, *range(0xD0, 0xD8)):  # markers without a length
            pos += 2
            continue
        (length,) = struct.unpack(">H", data[pos + 2 : pos + 4])
        if marker in _SOF:
            if pos + 9 > len(data):
                break
            height, width = struct.unpack(">HH", data[pos + 5 : pos + 9])
            return _sized("jpeg", "image/jpeg", width, height)
        if marker == 0xDA:  # start of scan before any frame header
            break
        pos += 2 + length
    raise ImageError("JPEG has no readable frame header (truncated or corrupt)")


def _gif(data: bytes) -> ImageInfo:
    if len(data) < 13:
        raise ImageError("GIF truncated before its screen descriptor")
    width, height = struct.unpack("<HH", data[6:10])
    return _sized("gif", "image/gif", width, height)


def _webp(data: bytes) -> ImageInfo:
    chunk, body = data[12:16], data[20:]
    if chunk == b"VP8 " and len(body) >= 10 and body[3:6] == b"\x9d\x01\x2a":
        width, height = struct.unpack("<HH", body[6:10])
        return _sized("webp", "image/webp", width & 0x3FFF, height & 0x3FFF)
    if chunk == b"VP8L" and len(body) >= 5 and body[0] == 0x2F:
        bits = int.from_bytes(body[1:5], "little")
        return _sized("webp", "image/webp", (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1)
    if chunk == b"VP8X" and len(body) >= 10:
        width = int.from_bytes(body[4:7], "little") + 1
        height = int.from_bytes(body[7:10], "little") + 1
        return _sized("webp", "image/webp", width, height)
    raise ImageError(f"WebP with an unreadable {chunk!r} chunk")


def guess_mime_local(path: str) -> str:
    """What the script's `mimetypes.guess_type(path)[0] or "image/jpeg"` gives on THIS machine."""
    return mimetypes.guess_type(path)[0] or FALLBACK_MIME


def guess_mime_onboard(path: str) -> str:
    """What the same expression gives in python:3.10-slim, which has only CPython 3.10's built-in table.

    Non-image types are taken from this machine (the 3.10 table agrees on those that matter: a
    non-image MIME type is wrong for an image whichever table says it).
    """
    ext = os.path.splitext(path)[1]
    onboard = IMAGE_TYPES_310.get(ext) or IMAGE_TYPES_310.get(ext.lower())
    if onboard:
        return onboard
    local = mimetypes.guess_type(path)[0]
    if local and not local.startswith("image/"):
        return local
    return FALLBACK_MIME
