"""Vision defects: image inputs wrongly accepted, refused or crashed on, and images left out of usage."""

from __future__ import annotations

import contextlib
import urllib.request
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from chatcert.wire.images import canonical_mime, decode_base64, sniff, split_data_url
from mock_server.defect_catalogue._edit import (
    chat_reply,
    content_parts,
    image_parts,
    invalid,
    messages,
    server_error,
)
from mock_server.defects import TEXT_FIRST, Defect, DefectContext
from mock_server.generation import IMAGE_TOKENS
from mock_server.samples import data_url, png_bytes

__all__ = ["VISION"]

RequestHook = Callable[[Any, DefectContext], Any]


def _on_images(edit: Callable[[dict[str, Any], DefectContext], None]) -> RequestHook:
    """A request hook applying `edit(part, ctx)` to each image_url part of a chat request."""

    def hook(body: Any, ctx: DefectContext) -> Any:
        if ctx.route == "chat":
            for part in image_parts(body):
                edit(part, ctx)
        return body

    return hook


def _url(part: dict[str, Any]) -> str | None:
    inner = part.get("image_url")
    url = inner.get("url") if isinstance(inner, dict) else None
    return url if isinstance(url, str) else None


def _decoded(url: str) -> bytes | None:
    """The bytes of a base64 data: URL; None when it is none or does not decode."""
    parts = split_data_url(url)
    if parts is None or not parts.base64:
        return None
    try:
        return decode_base64(parts.payload)
    except ValueError:
        return None


def _wrap_bare_string(part: dict[str, Any], ctx: DefectContext) -> None:
    if isinstance(part.get("image_url"), str):
        part["image_url"] = {"url": part["image_url"]}


def _read_local_file(part: dict[str, Any], ctx: DefectContext) -> None:
    url = _url(part)
    if url is not None and url.lower().startswith("file:"):
        part["image_url"] = {"url": data_url(png_bytes())}  # as if the server had opened the file


def _raw_base64_as_png(part: dict[str, Any], ctx: DefectContext) -> None:
    url = _url(part)
    if url is not None and ":" not in url[:12]:  # no scheme at all: bare base64
        part["image_url"] = {"url": "data:image/png;base64," + url}


def _fetch_loopback_urls(part: dict[str, Any], ctx: DefectContext) -> None:
    """What a server that downloads image URLs does (llama-cpp-python: urlopen); loopback only, 1 s."""
    url = _url(part)
    if url is None or urlsplit(url).hostname not in ("127.0.0.1", "localhost"):
        return
    with contextlib.suppress(OSError, ValueError):
        urllib.request.urlopen(url, timeout=1.0).close()  # the defect is this very fetch
    part["image_url"] = {"url": data_url(png_bytes())}  # as if the download had brought an image


def _crash_on_bad_base64(part: dict[str, Any], ctx: DefectContext) -> None:
    url = _url(part)
    parts = split_data_url(url) if url is not None else None
    if parts is not None and parts.base64 and _decoded(url or "") is None:
        raise server_error("binascii.Error: Incorrect padding")


def _any_bytes_as_image(part: dict[str, Any], ctx: DefectContext) -> None:
    url = _url(part)
    data = _decoded(url) if url is not None else None
    if data is not None and sniff(data) is None:
        part["image_url"] = {"url": data_url(png_bytes())}  # decoded "somehow" into a blank image


def _refuse_webp(part: dict[str, Any], ctx: DefectContext) -> None:
    parts = split_data_url(_url(part) or "")
    if parts is not None and parts.base64 and canonical_mime(parts.mime) == "image/webp":
        raise invalid(ctx, "Unsupported image format: webp (use PNG or JPEG)", param="messages")


def _image_first_only(body: Any, ctx: DefectContext) -> Any:
    if ctx.route != "chat":
        return body
    for message in messages(body):
        content = message.get("content")
        kinds = [p.get("type") for p in content if isinstance(p, dict)] if isinstance(content, list) else []
        if "image_url" in kinds and "text" in kinds and kinds.index("text") < kinds.index("image_url"):
            raise invalid(ctx, "the image must come before the text", param="messages")
    return body


def _one_image_only(body: Any, ctx: DefectContext) -> Any:
    if ctx.route == "chat" and len(image_parts(body)) > 1:
        raise invalid(ctx, "At most 1 image(s) may be provided in one request", param="messages")
    return body


def _prompt_without_images(body: Any, ctx: DefectContext) -> Any:
    images = sum(1 for p in content_parts(ctx.request) if p.get("type") == "image_url")
    usage = body.get("usage") if chat_reply(ctx) and isinstance(body, dict) else None
    if images and isinstance(usage, dict) and isinstance(usage.get("prompt_tokens"), int):
        usage["prompt_tokens"] -= IMAGE_TOKENS * images
        usage["total_tokens"] = usage["prompt_tokens"] + usage.get("completion_tokens", 0)
    return body


VISION_ONLY = ("vision",)
VISION = [
    Defect(
        "raw_base64_image_accepted",
        "image_url.url holding bare base64 (no data: prefix) is decoded as a PNG instead of refused",
        request=_on_images(_raw_base64_as_png),
        catches=("vision_raw_base64_url_rejected",),
        capabilities=VISION_ONLY,
    ),
    Defect(
        "fetches_image_urls",
        "an http image URL is downloaded by the server itself (so a client can make it reach internal hosts)",
        request=_on_images(_fetch_loopback_urls),
        catches=("image_url_not_fetched_by_server",),
        capabilities=VISION_ONLY,
        reference="llama-cpp-python server: image URLs are opened with urllib",
    ),
    Defect(
        "bare_string_image_url_accepted",
        "image_url given as a bare string is read as {url: ...} instead of refused",
        request=_on_images(_wrap_bare_string),
        catches=("vision_bare_string_image_url_rejected",),
        capabilities=VISION_ONLY,
    ),
    Defect(
        "file_url_accepted",
        "a file:// image URL is read from the server's disk",
        request=_on_images(_read_local_file),
        catches=("vision_file_url_rejected",),
        capabilities=VISION_ONLY,
    ),
    Defect(
        "bad_base64_500",
        "a data: URL with broken base64 crashes the server (500)",
        request=_on_images(_crash_on_bad_base64),
        catches=("vision_bad_base64_rejected",),
        capabilities=VISION_ONLY,
        reference="mlc-ai/mlc-llm PR #3539",
    ),
    Defect(
        "non_image_bytes_accepted",
        "bytes that are no image are answered as if they were one",
        request=_on_images(_any_bytes_as_image),
        catches=("vision_non_image_bytes_rejected",),
        capabilities=VISION_ONLY,
    ),
    Defect(
        "webp_rejected",
        "WebP images are refused; only PNG and JPEG are read",
        request=_on_images(_refuse_webp),
        catches=("vision_webp_data_url_accepted",),
        capabilities=VISION_ONLY,
    ),
    Defect(
        "text_before_image_rejected",
        "a text part before the image part is refused (the image must come first)",
        request=_image_first_only,
        catches=("vision_text_first_accepted",),
        capabilities=("vision", TEXT_FIRST),  # conformant where the profile asks for the image first
    ),
    Defect(
        "multiple_images_rejected",
        "more than one image per request is refused",
        request=_one_image_only,
        catches=("vision_multiple_images_accepted",),
        capabilities=VISION_ONLY,
    ),
    Defect(
        "image_tokens_not_counted",
        "prompt_tokens leave out the images (text tokens only)",
        body=_prompt_without_images,
        catches=("usage_counts_image_tokens",),
        capabilities=VISION_ONLY,
    ),
]
