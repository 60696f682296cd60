"""The judge's images: fixture images and generated PNGs. Reading images and data: URLs off the wire
is the wire layer's (`chatcert.wire.images`, shared with the mock), re-exported here."""

from __future__ import annotations

from pathlib import Path

from chatcert.wire.fixtures import fixture_images
from chatcert.wire.images import DataURL, ImageInfo, data_url, make_png, parse_data_url, sniff
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
