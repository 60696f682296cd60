"""Tiny valid images built in code, for tests and examples that must not depend on fixture files."""

from __future__ import annotations

import base64
import struct
import zlib

__all__ = ["data_url", "png_bytes"]


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_bytes(width: int = 8, height: int = 8, rgb: tuple[int, int, int] = (200, 30, 30)) -> bytes:
    """A decodable single-colour RGB PNG of the given size."""
    row = b"\x00" + bytes(rgb) * width  # filter type 0, then the pixels
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", zlib.compress(row * height))
        + _chunk(b"IEND", b"")
    )


def data_url(data: bytes, mime: str = "image/png") -> str:
    """`data:<mime>;base64,<data>`, as OpenAI-compatible clients send images."""
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"
