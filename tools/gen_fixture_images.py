#!/usr/bin/env python3
"""Generate the sample images in fixtures/images/ and their MANIFEST.json.

Dev-time only (needs Pillow); the generated files are committed and nothing at test or run time
imports Pillow. Re-run with:

    python tools/gen_fixture_images.py            # (re)write images + MANIFEST.json
    python tools/gen_fixture_images.py --check    # exit 1 when the committed files differ

Every image is drawn from code (no third-party content), so the set is CC0. Byte-exact output
can differ between Pillow/zlib/libjpeg versions; the manifest records what is committed.
File names follow ``<format>-<w>x<h>-<subject>.<ext>``.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageDraw

REPO = Path(__file__).resolve().parents[1]
OUT_DIR = REPO / "fixtures" / "images"

# Manifest ``format`` values are lower case (the file-name prefix); EXT is the file extension.
MIME = {"png": "image/png", "jpeg": "image/jpeg", "gif": "image/gif", "webp": "image/webp"}
EXT = {"png": "png", "jpeg": "jpg", "gif": "gif", "webp": "webp"}


@dataclass(frozen=True)
class Spec:
    subject: str
    fmt: str
    width: int
    height: int
    draw: Callable[[int, int], Image.Image]
    description: str
    expected_terms: tuple[str, ...] = ()

    @property
    def file(self) -> str:
        return f"{self.fmt}-{self.width}x{self.height}-{self.subject}.{EXT[self.fmt]}"


def solid(colour: tuple[int, int, int]) -> Callable[[int, int], Image.Image]:
    return lambda w, h: Image.new("RGB", (w, h), colour)


def red_cross(w: int, h: int) -> Image.Image:
    image = Image.new("RGB", (w, h), (255, 255, 255))
    draw = ImageDraw.Draw(image)
    bar = max(1, w // 5)
    draw.rectangle((w // 2 - bar, h // 8, w // 2 + bar - 1, h - h // 8 - 1), fill=(220, 0, 0))
    draw.rectangle((w // 8, h // 2 - bar, w - w // 8 - 1, h // 2 + bar - 1), fill=(220, 0, 0))
    return image


def rgba_circle(w: int, h: int) -> Image.Image:
    image = Image.new("RGBA", (w, h), (0, 0, 0, 0))
    ImageDraw.Draw(image).ellipse((1, 1, w - 2, h - 2), fill=(0, 90, 255, 255))
    return image


def gray_gradient(w: int, h: int) -> Image.Image:
    image = Image.new("L", (w, h))
    image.putdata([(x * 255) // max(1, w - 1) for _ in range(h) for x in range(w)])
    return image


def palette_stripes(w: int, h: int) -> Image.Image:
    image = Image.new("P", (w, h))
    image.putpalette([255, 0, 0, 0, 160, 0, 0, 0, 255, 255, 255, 0])
    image.putdata([(y // max(1, h // 4)) % 4 for y in range(h) for _ in range(w)])
    return image


def rgb_gradient(w: int, h: int) -> Image.Image:
    image = Image.new("RGB", (w, h))
    image.putdata([((x * 255) // (w - 1), (y * 255) // (h - 1), 128) for y in range(h) for x in range(w)])
    return image


def gray_line(w: int, h: int) -> Image.Image:
    return Image.new("L", (w, h), 128)


SPECS: tuple[Spec, ...] = (
    Spec("red", "png", 8, 8, solid((255, 0, 0)), "RGB PNG, solid red; the default placeholder image"),
    Spec("white", "png", 1, 1, solid((255, 255, 255)), "smallest possible RGB PNG"),
    Spec("blue-circle-rgba", "png", 16, 16, rgba_circle, "RGBA PNG, blue disc on a transparent ground"),
    Spec("gray-gradient", "png", 16, 16, gray_gradient, "grayscale (L) PNG, horizontal gradient"),
    Spec("palette-stripes", "png", 16, 16, palette_stripes, "palette (P) PNG, four horizontal stripes"),
    Spec(
        "red-cross",
        "png",
        64,
        64,
        red_cross,
        "RGB PNG, red cross on white (semantic probe)",
        ("red", "cross"),
    ),
    Spec("gray-line", "png", 4001, 1, gray_line, "grayscale PNG 4001 px wide: over a 4000x4000 limit"),
    Spec("gradient", "jpeg", 64, 64, rgb_gradient, "baseline JPEG, RGB gradient"),
    Spec("green", "gif", 16, 16, solid((0, 160, 0)), "GIF, solid green"),
    Spec("yellow", "webp", 16, 16, solid((255, 220, 0)), "lossless WebP, solid yellow"),
)


def encode(spec: Spec) -> tuple[bytes, str]:
    image = spec.draw(spec.width, spec.height)
    buffer = io.BytesIO()
    if spec.fmt == "png":
        image.save(buffer, "PNG", optimize=True)
    elif spec.fmt == "jpeg":
        image.save(buffer, "JPEG", quality=85, optimize=False, progressive=False)
    elif spec.fmt == "gif":
        image.save(buffer, "GIF")
    elif spec.fmt == "webp":
        image.save(buffer, "WEBP", lossless=True, exact=True)
    else:  # pragma: no cover - guarded by SPECS
        raise ValueError(spec.fmt)
    return buffer.getvalue(), image.mode


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Generate fixtures/images and MANIFEST.json")
    parser.add_argument("--out", type=Path, default=OUT_DIR)
    parser.add_argument("--check", action="store_true", help="compare only; exit 1 when files differ")
    args = parser.parse_args(argv)

    entries = []
    outputs: dict[Path, bytes] = {}
    for spec in SPECS:
        data, mode = encode(spec)
        entry: dict[str, object] = {
            "file": spec.file,
            "format": spec.fmt,
            "mime": MIME[spec.fmt],
            "width": spec.width,
            "height": spec.height,
            "mode": mode,
            "bytes": len(data),
            "sha256": hashlib.sha256(data).hexdigest(),
            "description": spec.description,
        }
        if spec.expected_terms:
            entry["expected_terms"] = list(spec.expected_terms)
        entries.append(entry)
        outputs[args.out / spec.file] = data
    manifest = {
        "generator": "tools/gen_fixture_images.py",
        "license": "CC0-1.0 (drawn by the generator; no third-party content)",
        "images": entries,
    }
    outputs[args.out / "MANIFEST.json"] = (json.dumps(manifest, indent=2) + "\n").encode()

    stale = [path for path, data in outputs.items() if not path.is_file() or path.read_bytes() != data]
    if args.check:
        for path in stale:
            print(f"stale: {path}", file=sys.stderr)
        return 1 if stale else 0
    args.out.mkdir(parents=True, exist_ok=True)
    for path, data in outputs.items():
        path.write_bytes(data)
        print(f"wrote {path} ({len(data)} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
