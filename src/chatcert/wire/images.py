"""Images on the wire: format, MIME type and size read from the header bytes, and base64 `data:` URLs.

Read by hand, not with Pillow: the formats a chat server accepts announce their size in a few header
bytes, the pre-flight must run in a bare `python:3.10-slim`, and a decoder would accept (or choke on)
more than the contract says.
"""

from __future__ import annotations

import base64
import binascii
import re
import struct
import zlib
from dataclasses import dataclass

__all__ = [
    "MIME_BY_FORMAT",
    "SUPPORTED_MIME",
    "DataURL",
    "ImageError",
    "ImageInfo",
    "canonical_mime",
    "data_url",
    "make_png",
    "parse_data_url",
    "read_image",
    "sniff",
]

MIME_BY_FORMAT = {"png": "image/png", "jpeg": "image/jpeg", "gif": "image/gif", "webp": "image/webp"}
SUPPORTED_MIME = tuple(MIME_BY_FORMAT.values())
_ALIASES = {"image/jpg": "image/jpeg", "image/pjpeg": "image/jpeg"}


class ImageError(ValueError):
    """The bytes are not an image this layer can read (unknown format, truncated, corrupt header)."""


@dataclass(frozen=True)
class ImageInfo:
    """What the header says."""

    format: str  # png | jpeg | gif | webp
    mime: str
    width: int
    height: int


def read_image(data: bytes, *, complete: bool = False) -> ImageInfo:
    """Identify the image by its magic bytes and read its size; raise ImageError when that fails.

    `complete=True` walks a PNG to its IEND chunk checking every CRC (a truncated upload shows); by
    default only the header is read, and the IHDR CRC tells a real PNG from bytes that merely start
    right.
    """
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return _png(data, complete)
    if data.startswith(b"\xff\xd8"):
        return _jpeg(data)
    if data[:6] in (b"GIF87a", b"GIF89a"):
        if len(data) < 10:
            raise ImageError("GIF truncated before its screen descriptor")
        return _sized("gif", *struct.unpack("<HH", data[6:10]))
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return _webp(data)
    raise ImageError(f"not a PNG, JPEG, GIF or WebP image (starts with {data[:8].hex() or 'nothing'})")


def sniff(data: bytes) -> ImageInfo | None:
    """`read_image` of the header, or None when the bytes are no readable image."""
    try:
        return read_image(data)
    except ImageError:
        return None


def _sized(fmt: str, width: int, height: int) -> ImageInfo:
    if width <= 0 or height <= 0:
        raise ImageError(f"{fmt.upper()} header gives an empty size {width}x{height}")
    return ImageInfo(fmt, MIME_BY_FORMAT[fmt], width, height)


def _png(data: bytes, complete: bool) -> ImageInfo:
    pos, size, seen_end = 8, (0, 0), False
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
            size = struct.unpack(">II", body[:8])
        if tag == b"IEND" or not complete:
            seen_end = True
            break
        pos = crc_at + 4
    if size == (0, 0):
        raise ImageError("PNG has no IHDR chunk")
    if not seen_end:
        raise ImageError("PNG truncated: no IEND chunk")
    return _sized("png", *size)


# JPEG start-of-frame markers carry the size; C4 (DHT), C8 (JPG) and CC (DAC) share the range but do not.
_SOF = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}


def _jpeg(data: bytes) -> ImageInfo:
    pos = 2
    while pos + 4 <= len(data):
        if data[pos] != 0xFF:
            raise ImageError(f"JPEG marker expected at byte {pos}")
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte before a marker
            pos += 1
            continue
        if marker == 0x01 or 0xD0 <= marker <= 0xD8:  # markers without a length
            pos += 2
            continue
        if marker in (0xD9, 0xDA):  # end of image, or scan data, before any frame header
            break
        (length,) = struct.unpack(">H", data[pos + 2 : pos + 4])
        if length < 2:
            raise ImageError(f"JPEG segment at byte {pos} has an impossible length {length}")
        if marker in _SOF:
            if pos + 9 > len(data):
                break
            height, width = struct.unpack(">HH", data[pos + 5 : pos + 9])
            return _sized("jpeg", width, height)
        pos += 2 + length
    raise ImageError("JPEG has no readable frame header (truncated or corrupt)")


def _webp(data: bytes) -> ImageInfo:
    chunk, body = data[12:16], data[20:]
    if chunk == b"VP8 " and len(body) >= 10 and body[3:6] == b"\x9d\x01\x2a":
        width, height = struct.unpack("<HH", body[6:10])
        return _sized("webp", width & 0x3FFF, height & 0x3FFF)
    if chunk == b"VP8L" and len(body) >= 5 and body[0] == 0x2F:
        bits = int.from_bytes(body[1:5], "little")
        return _sized("webp", (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1)
    if chunk == b"VP8X" and len(body) >= 10:
        width = int.from_bytes(body[4:7], "little") + 1
        height = int.from_bytes(body[7:10], "little") + 1
        return _sized("webp", width, height)
    raise ImageError(f"WebP with an unreadable {chunk!r} chunk")


def canonical_mime(mime: str) -> str:
    """Lower-case MIME with common aliases folded (image/jpg -> image/jpeg)."""
    mime = mime.strip().lower()
    return _ALIASES.get(mime, mime)


@dataclass(frozen=True)
class DataURL:
    mime: str  # canonical (see canonical_mime); "" when the URL names none
    data: bytes


_DATA_URL = re.compile(r"data:([^,;]*)((?:;[^,;]*)*),(.*)", re.DOTALL)


@dataclass(frozen=True)
class DataURLParts:
    """A `data:` URL split, not decoded: what each side reads before judging or decoding it."""

    mime: str  # as written, lower-cased and stripped ("" when the URL names none)
    base64: bool  # the `;base64` parameter is present
    payload: str  # everything after the first comma


def split_data_url(url: str) -> DataURLParts | None:
    """`data:<mime>[;params],<payload>` split into its parts; None when `url` is no data: URL at all."""
    match = _DATA_URL.fullmatch(url)
    if match is None:
        return None
    mime, params, payload = match.groups()
    flags = {p.strip().lower() for p in params.split(";")}
    return DataURLParts(mime.strip().lower(), "base64" in flags, payload)


def decode_base64(payload: str) -> bytes:
    """Strict base64 (no stray characters, right padding); ValueError when it does not decode."""
    try:
        return base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("data URL payload is not valid base64") from None


def parse_data_url(url: str) -> DataURL:
    """Split `data:<mime>;base64,<data>` into its MIME type and bytes; ValueError says what is wrong."""
    parts = split_data_url(url)
    if parts is None:
        raise ValueError("data URL is malformed (expected data:<mime>;base64,<data>)")
    if not parts.base64:
        raise ValueError("data URL is not base64-encoded (missing ;base64)")
    if not parts.payload:
        raise ValueError("data URL carries no data")
    return DataURL(canonical_mime(parts.mime), decode_base64(parts.payload))


def data_url(data: bytes, mime: str | None = None) -> str:
    """A base64 data URL; the MIME type is the one given, else what the bytes are."""
    info = sniff(data)
    kind = mime or (info.mime if info else "application/octet-stream")
    return f"data:{kind};base64,{base64.b64encode(data).decode()}"


def make_png(width: int, height: int, rgb: tuple[int, int, int] = (200, 30, 30)) -> bytes:
    """A real, solid-colour RGB PNG of any size (it compresses well, so huge sizes stay small)."""
    row = b"\x00" + bytes(rgb) * width  # filter type 0, then the pixels

    def chunk(kind: bytes, payload: bytes) -> bytes:
        return (
            struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))
        )

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(row * height, 9))
        + chunk(b"IEND", b"")
    )
