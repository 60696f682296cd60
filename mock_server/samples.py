"""Tiny valid images built in code, for tests and examples that must not depend on fixture files
(the encoder is the wire layer's, shared with chatcert)."""

from __future__ import annotations

from chatcert.wire import images

__all__ = ["data_url", "png_bytes"]


def png_bytes(width: int = 8, height: int = 8, rgb: tuple[int, int, int] = (200, 30, 30)) -> bytes:
    """A decodable single-colour RGB PNG of the given size."""
    return images.make_png(width, height, rgb)


def data_url(data: bytes, mime: str = "image/png") -> str:
    """`data:<mime>;base64,<data>`, as OpenAI-compatible clients send images."""
    return images.data_url(data, mime)
