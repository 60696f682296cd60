"""What a latency run sends: request bodies with their payload class (text, or an image size bucket).

`--payload text` is a fixed short prompt; `image` a 64x64 PNG fixture; `image:WxH` a generated PNG
of that size; anything else a JSON file holding one request body, a list of them, or JSON lines.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chatcert._json import parse_json
from chatcert.errors import UsageError
from chatcert.images import data_url, fixture_image, make_png, parse_data_url, sniff

__all__ = ["IMAGE_BUCKETS", "Payload", "image_bucket", "load_payloads"]

# Pixel-count buckets: what drives a vision model's prefill time is the image's area.
IMAGE_BUCKETS = (("image-s", 256 * 256), ("image-m", 512 * 512), ("image-l", 1024 * 1024))
_PROMPT = "Write one long paragraph about the history of the printing press."
# Real request bodies nest a handful of levels (tool schemas a few dozen). A body json.loads can just
# parse (~990 deep) still overflows the stack when the run encodes it, deeper inside the event loop.
_MAX_DEPTH = 100


@dataclass(frozen=True)
class Payload:
    """A request body without the run's own keys (model, stream, max_tokens ...) and its class."""

    body: dict[str, Any]
    payload_class: str


def image_bucket(width: int, height: int) -> str:
    """image-s (<= 256x256 pixels), image-m (<= 512x512), image-l (<= 1024x1024), else image-xl."""
    return _bucket(width * height)


def _bucket(area: int) -> str:
    for name, limit in IMAGE_BUCKETS:
        if area <= limit:
            return name
    return "image-xl"


def _image_body(image: bytes) -> dict[str, Any]:
    return {
        "messages": [
            {
                "role": "user",
                "content": [
                    {"type": "image_url", "image_url": {"url": data_url(image)}},
                    {"type": "text", "text": "Describe this image in detail."},
                ],
            }
        ]
    }


def _image_urls(value: Any) -> Iterator[str]:
    if isinstance(value, dict):
        if value.get("type") == "image_url" and isinstance(value.get("image_url"), dict):
            url = value["image_url"].get("url")
            if isinstance(url, str):
                yield url
        for item in value.values():
            yield from _image_urls(item)
    elif isinstance(value, list):
        for item in value:
            yield from _image_urls(item)


def classify(body: dict[str, Any]) -> str:
    """The payload class of a body: text, the bucket of its largest image, or image-url (remote)."""
    largest = -1
    remote = False
    for url in _image_urls(body.get("messages")):
        if not url.startswith("data:"):
            remote = True
            continue
        try:
            info = sniff(parse_data_url(url).data)
        except ValueError:
            info = None
        if info is not None:
            largest = max(largest, info.width * info.height)
    if largest >= 0:
        return _bucket(largest)
    return "image-url" if remote else "text"


def _depth(value: Any) -> int:
    """How deep containers nest in `value`, counted without recursion (the point is deep input)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict):
            item = list(item.values())
        if isinstance(item, list):
            deepest = max(deepest, level)
            stack.extend((child, level + 1) for child in item)
    return deepest


def load_payloads(spec: str) -> list[Payload]:
    """Parse `--payload`: text | image | image:WxH | FILE. Bad input raises UsageError."""
    if spec == "text":
        return [Payload({"messages": [{"role": "user", "content": _PROMPT}]}, "text")]
    if spec == "image":
        image = fixture_image("png", largest=True)
        info = sniff(image)
        bucket = image_bucket(info.width, info.height) if info else "image-s"
        return [Payload(_image_body(image), bucket)]
    if spec.startswith("image:"):
        width, sep, height = spec[6:].lower().partition("x")
        if not sep or not width.isdigit() or not height.isdigit() or int(width) * int(height) <= 0:
            raise UsageError(f"--payload image:WxH needs two positive integers, not {spec!r}")
        if int(width) > 8192 or int(height) > 8192:
            raise UsageError(f"--payload {spec}: sides above 8192 pixels are not supported")
        return [
            Payload(_image_body(make_png(int(width), int(height))), image_bucket(int(width), int(height)))
        ]
    return _from_file(Path(spec))


def _from_file(path: Path) -> list[Payload]:
    if not path.is_file():
        raise UsageError(f"--payload takes text, image, image:WxH or a JSON file; {str(path)!r} is none")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"cannot read payload file {str(path)!r}: {exc}") from exc
    # parse_json: JSON nested too deeply for json.loads is a ValueError (a UsageError here), not a crash.
    try:
        doc = parse_json(text)
        bodies = doc if isinstance(doc, list) else [doc]
    except ValueError:
        try:
            bodies = [parse_json(line) for line in text.splitlines() if line.strip()]
        except ValueError as exc:
            raise UsageError(f"payload file {str(path)!r} is neither JSON nor JSON lines: {exc}") from None
    out = []
    for number, body in enumerate(bodies, 1):
        if not isinstance(body, dict) or not isinstance(body.get("messages"), list):
            raise UsageError(f"payload {number} of {str(path)!r} is not a request body with 'messages'")
        if _depth(body) > _MAX_DEPTH:
            raise UsageError(f"payload {number} of {str(path)!r} nests more than {_MAX_DEPTH} levels deep")
        out.append(Payload(body, classify(body)))
    if not out:
        raise UsageError(f"payload file {str(path)!r} holds no request body")
    return out
