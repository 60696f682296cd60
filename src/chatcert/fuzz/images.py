"""Real PNG, GIF, JPEG and WebP bytes of any size, built with zlib and struct (no Pillow at run time).

Every encoder writes a complete, decodable file: PNG in any colour type, GIF with LZW-compressed
pixels, JPEG as a baseline greyscale of one grey level, WebP as a lossless (VP8L) single colour.
Solid and striped images compress to a few hundred bytes even at thousands of pixels a side, which
is what limit probes need (an image one pixel over 4000x4000 in under a kilobyte).
"""

from __future__ import annotations

import random
import struct
import zlib
from collections.abc import Iterable, Sequence

__all__ = ["MAX_GIF_SIDE", "MAX_JPEG_SIDE", "MAX_WEBP_SIDE", "gif", "jpeg", "png", "webp"]

MAX_GIF_SIDE = 65535
MAX_JPEG_SIDE = 65535
MAX_WEBP_SIDE = 16384

RGBA = tuple[int, int, int, int]

# PNG colour type -> channels per pixel (palette images store one index byte).
_PNG_CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}


def _pixels(width: int, height: int, colours: Sequence[RGBA], pattern: str, seed: int) -> Iterable[list[int]]:
    """Rows of colour indices: one colour, horizontal stripes, or pseudo-random noise."""
    if pattern == "noise":
        rng = random.Random(seed)
        for _ in range(height):
            yield [rng.randrange(len(colours)) for _ in range(width)]
    elif pattern == "stripes":
        for y in range(height):
            yield [(y * len(colours) // max(height, 1)) % len(colours)] * width
    else:
        for _ in range(height):
            yield [0] * width


def _grey(colour: RGBA) -> int:
    r, g, b, _ = colour
    return (299 * r + 587 * g + 114 * b) // 1000


def _chunk(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))


def png(
    width: int,
    height: int,
    *,
    colour_type: int = 2,
    colours: Sequence[RGBA] = ((200, 30, 30, 255),),
    pattern: str = "solid",
    seed: int = 0,
) -> bytes:
    """A PNG (8 bits per sample) of colour type 0 (grey), 2 (RGB), 3 (palette), 4 (grey+alpha) or 6 (RGBA)."""
    if colour_type not in _PNG_CHANNELS:
        raise ValueError(f"unknown PNG colour type {colour_type}")
    if width < 1 or height < 1:
        raise ValueError("PNG sides must be at least 1")
    colours = list(colours) or [(0, 0, 0, 255)]
    encoded: list[bytes] = []
    for colour in colours:
        r, g, b, a = colour
        encoded.append(
            {
                0: bytes([_grey(colour)]),
                2: bytes([r, g, b]),
                3: b"",  # replaced by the index below
                4: bytes([_grey(colour), a]),
                6: bytes([r, g, b, a]),
            }[colour_type]
        )
    compressor = zlib.compressobj(9)
    data = bytearray()
    for row in _pixels(width, height, colours, pattern, seed):
        line = bytes(row) if colour_type == 3 else b"".join(encoded[i] for i in row)
        data += compressor.compress(b"\x00" + line)  # filter type 0 (None) on every row
    data += compressor.flush()
    out = b"\x89PNG\r\n\x1a\n" + _chunk(
        b"IHDR", struct.pack(">IIBBBBB", width, height, 8, colour_type, 0, 0, 0)
    )
    if colour_type == 3:
        out += _chunk(b"PLTE", b"".join(bytes(c[:3]) for c in colours))
        if any(c[3] != 255 for c in colours):
            out += _chunk(b"tRNS", bytes(c[3] for c in colours))
    return out + _chunk(b"IDAT", bytes(data)) + _chunk(b"IEND", b"")


class _LsbWriter:
    """Packs codes least-significant bit first (GIF's LZW and WebP's VP8L)."""

    def __init__(self) -> None:
        self.out = bytearray()
        self._acc = 0
        self._bits = 0

    def write(self, value: int, bits: int) -> None:
        self._acc |= value << self._bits
        self._bits += bits
        while self._bits >= 8:
            self.out.append(self._acc & 0xFF)
            self._acc >>= 8
            self._bits -= 8

    def flush(self) -> bytes:
        if self._bits:
            self.out.append(self._acc & 0xFF)
            self._acc = self._bits = 0
        return bytes(self.out)


def _lzw(indices: Iterable[int], min_code_size: int) -> bytes:
    """GIF LZW: variable-width codes from min_code_size + 1 up to 12 bits, clearing a full table."""
    clear, end = 1 << min_code_size, (1 << min_code_size) + 1
    writer = _LsbWriter()

    def reset() -> tuple[dict[tuple[int, ...], int], int, int]:
        return {(i,): i for i in range(clear)}, end + 1, min_code_size + 1

    table, next_code, size = reset()
    writer.write(clear, size)
    current: tuple[int, ...] = ()
    for index in indices:
        candidate = (*current, index)
        if candidate in table:
            current = candidate
            continue
        writer.write(table[current], size)
        if next_code < 4096:
            table[candidate] = next_code
            next_code += 1
            # The decoder adds its entry one code later, so it widens when this code passes 2**size.
            if next_code > (1 << size) and size < 12:
                size += 1
        else:
            writer.write(clear, size)
            table, next_code, size = reset()
        current = (index,)
    if current:
        writer.write(table[current], size)
    writer.write(end, size)
    return writer.flush()


def gif(
    width: int,
    height: int,
    *,
    colours: Sequence[RGBA] = ((30, 160, 30, 255),),
    pattern: str = "solid",
    seed: int = 0,
) -> bytes:
    """A GIF89a with a global palette of up to 256 colours and one full-frame image."""
    if not 1 <= width <= MAX_GIF_SIDE or not 1 <= height <= MAX_GIF_SIDE:
        raise ValueError(f"GIF sides must be between 1 and {MAX_GIF_SIDE}")
    colours = list(colours)[:256] or [(0, 0, 0, 255)]
    bits = max(1, (len(colours) - 1).bit_length())  # palette of 2**bits entries
    palette = b"".join(bytes(c[:3]) for c in colours).ljust(3 * (1 << bits), b"\x00")
    min_code_size = max(2, bits)
    pixels = (i for row in _pixels(width, height, colours, pattern, seed) for i in row)
    data = _lzw(pixels, min_code_size)
    blocks = b"".join(bytes([len(data[i : i + 255])]) + data[i : i + 255] for i in range(0, len(data), 255))
    screen = struct.pack("<HHBBB", width, height, 0x80 | (bits - 1), 0, 0)
    descriptor = b"," + struct.pack("<HHHHB", 0, 0, width, height, 0)
    return b"GIF89a" + screen + palette + descriptor + bytes([min_code_size]) + blocks + b"\x00;"


class _JpegBits:
    """Entropy-coded JPEG data: most significant bit first, 0xFF bytes stuffed with 0x00."""

    def __init__(self) -> None:
        self.out = bytearray()
        self._acc = 0
        self._bits = 0

    def write(self, value: int, bits: int) -> None:
        for shift in range(bits - 1, -1, -1):
            self._acc = (self._acc << 1) | ((value >> shift) & 1)
            self._bits += 1
            if self._bits == 8:
                self._emit()

    def _emit(self) -> None:
        self.out.append(self._acc)
        if self._acc == 0xFF:
            self.out.append(0x00)
        self._acc = self._bits = 0

    def flush(self) -> bytes:
        if self._bits:
            pad = 8 - self._bits
            self._acc = (self._acc << pad) | ((1 << pad) - 1)  # pad with one-bits
            self._bits = 8
            self._emit()
        return bytes(self.out)


def _segment(marker: int, payload: bytes) -> bytes:
    return bytes([0xFF, marker]) + struct.pack(">H", len(payload) + 2) + payload


def jpeg(width: int, height: int, *, grey: int = 128) -> bytes:
    """A baseline greyscale JFIF of one grey level (every 8x8 block is its DC value and an EOB)."""
    if not 1 <= width <= MAX_JPEG_SIDE or not 1 <= height <= MAX_JPEG_SIDE:
        raise ValueError(f"JPEG sides must be between 1 and {MAX_JPEG_SIDE}")
    grey = min(max(grey, 0), 255)
    # With a quantiser of 1 the DC coefficient of a flat block is 8 * (level - 128).
    dc = 8 * (grey - 128)
    category = abs(dc).bit_length()
    extra = dc if dc >= 0 else dc + (1 << category) - 1
    bits = _JpegBits()
    blocks = ((width + 7) // 8) * ((height + 7) // 8)
    for n in range(blocks):
        if n == 0:
            bits.write(category, 4)  # DC table: categories 0..11, all four-bit codes 0000..1011
            bits.write(extra, category)
        else:
            bits.write(0, 4)  # difference 0: category 0
        bits.write(0, 1)  # AC table: one code, "0", for EOB
    dc_table = b"\x00" + bytes([0, 0, 0, 12] + [0] * 12) + bytes(range(12))
    ac_table = b"\x10" + bytes([1] + [0] * 15) + b"\x00"
    return (
        b"\xff\xd8"
        + _segment(0xE0, b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00")
        + _segment(0xDB, b"\x00" + b"\x01" * 64)
        + _segment(0xC0, b"\x08" + struct.pack(">HH", height, width) + b"\x01\x01\x11\x00")
        + _segment(0xC4, dc_table)
        + _segment(0xC4, ac_table)
        + _segment(0xDA, b"\x01\x01\x00\x00\x3f\x00")
        + bits.flush()
        + b"\xff\xd9"
    )


def webp(width: int, height: int, *, colour: RGBA = (230, 220, 40, 255)) -> bytes:
    """A lossless WebP of one colour: five one-symbol prefix codes, so every pixel costs zero bits."""
    if not 1 <= width <= MAX_WEBP_SIDE or not 1 <= height <= MAX_WEBP_SIDE:
        raise ValueError(f"WebP sides must be between 1 and {MAX_WEBP_SIDE}")
    r, g, b, a = colour
    bits = _LsbWriter()
    bits.write(0x2F, 8)  # VP8L signature
    bits.write(width - 1, 14)
    bits.write(height - 1, 14)
    bits.write(1 if a != 255 else 0, 1)  # alpha_is_used (a hint)
    bits.write(0, 3)  # version
    bits.write(0, 1)  # no transform
    bits.write(0, 1)  # no colour cache
    bits.write(0, 1)  # no meta prefix codes
    for symbol in (g, r, b, a):  # green, red, blue, alpha: simple code, one 8-bit symbol
        bits.write(1, 1)
        bits.write(0, 1)
        bits.write(1, 1)
        bits.write(symbol, 8)
    bits.write(1, 1)  # distance: simple code, one 1-bit symbol (0)
    bits.write(0, 1)
    bits.write(0, 1)
    bits.write(0, 1)
    payload = bits.flush()
    chunk = b"VP8L" + struct.pack("<I", len(payload)) + payload + (b"\x00" if len(payload) % 2 else b"")
    return b"RIFF" + struct.pack("<I", 4 + len(chunk)) + b"WEBP" + chunk
