"""Payload checks, offline: the image file as the script will send it, and the request it did send."""

from __future__ import annotations

import base64
import hashlib
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chatcert.preflight.findings import Finding, error, warning
from chatcert.preflight.images import ImageError, ImageInfo, guess_mime_local, guess_mime_onboard, read_image
from chatcert.preflight.profile import PreflightProfile
from chatcert.preflight.schemas import SchemaUnavailable, validate_request
from chatcert.wire.images import decode_base64, split_data_url

__all__ = [
    "DecodedImage",
    "body_size",
    "check_image_file",
    "check_request",
    "decode_data_url",
    "elide_data_urls",
    "estimated_request_bytes",
    "known_image_keys",
]

# The MIME type a data: URL must name for the seed's script to have built it (type/subtype).
_MIME = re.compile(r"[a-z0-9.+-]+/[a-z0-9.+-]+")
# JSON around the image in the seed's request: messages, roles, the prompt, max_tokens... generous.
_REQUEST_OVERHEAD_BYTES = 1024


# How the mock's journal marks a long string it cut ("…[12345 more chars]").
_CUT = re.compile(r"\u2026\[(\d+) more chars\]$")


@dataclass(frozen=True)
class DecodedImage:
    """An image part of a request, decoded (only its start when the journal cut the URL)."""

    mime: str
    data: bytes
    truncated: bool = False
    b64_prefix: str = ""  # the first characters of the base64 payload, to recognise a known file


def decode_data_url(url: str) -> DecodedImage:
    """Split a `data:<mime>;base64,<payload>` URL; ValueError naming the defect if it is malformed."""
    cut = _CUT.search(url)
    # Only the start may have survived the journal: then decode whole 4-character groups and judge
    # the header only.
    whole = url if cut is None else url[: cut.start()]
    parts = split_data_url(whole)
    if parts is None or not parts.base64 or _MIME.fullmatch(parts.mime) is None:
        head = whole[:40] + ("..." if len(whole) > 40 or cut is not None else "")
        raise ValueError(f"not of the form data:<mime>;base64,<payload>: {head!r}")
    b64 = parts.payload if cut is None else parts.payload[: len(parts.payload) // 4 * 4]
    try:
        data = decode_base64(b64)
    except ValueError as exc:
        raise ValueError(f"the base64 payload does not decode: {exc}") from exc
    if cut is not None:
        return DecodedImage(parts.mime, data, truncated=True, b64_prefix=b64)
    if not data:
        raise ValueError("the base64 payload is empty")
    return DecodedImage(parts.mime, data, b64_prefix=b64[:4096])


def estimated_request_bytes(image_bytes: int, prompt: str) -> int:
    """Upper bound of the request the seed's script builds around an image of this size."""
    return 4 * ((image_bytes + 2) // 3) + len(prompt.encode("utf-8")) + _REQUEST_OVERHEAD_BYTES


def _limits(info: ImageInfo, profile: PreflightProfile, where: str) -> Iterator[Finding]:
    too_wide = profile.max_image_width is not None and info.width > profile.max_image_width
    too_tall = profile.max_image_height is not None and info.height > profile.max_image_height
    if too_wide or too_tall:
        yield error(
            "image_too_large",
            f"{where} is {info.width}x{info.height}; profile {profile.name} allows at most "
            f"{profile.max_image_width or 'any'}x{profile.max_image_height or 'any'}",
            width=info.width,
            height=info.height,
            max_width=profile.max_image_width,
            max_height=profile.max_image_height,
        )


def check_image_file(
    path: Path, name: str, prompt: str | None, profile: PreflightProfile
) -> Iterator[Finding]:
    """The image decodes, the MIME type the script will guess matches its bytes, it is within limits."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        yield error("image_unreadable", f"cannot read image {name}: {exc}", file=name)
        return
    try:
        info = read_image(data, complete=True)
    except ImageError as exc:
        yield error("image_undecodable", f"{name} is not a readable image: {exc}", file=name, bytes=len(data))
        return
    onboard, local = guess_mime_onboard(name), guess_mime_local(name)
    if onboard != info.mime:
        text = (
            f"{name} is {info.format.upper()} but on board the script will label it {onboard} (mimetypes of "
            f"python:3.10-slim, falling back to image/jpeg){_label_consequence(profile)}; rename it to a "
            "matching extension"
        )
        evidence = {"file": name, "sniffed": info.mime, "guessed_onboard": onboard, "guessed_here": local}
        yield (
            error("image_mime_mismatch", text, **evidence)
            if profile.image_mime_label == "checked"
            else warning("image_mime_mismatch", text, **evidence)
        )
    elif local != onboard:
        yield warning(
            "image_mime_platform_dependent",
            f"{name}: this machine guesses {local}, python:3.10-slim guesses {onboard}; the rehearsal "
            "sends what this machine guesses",
            file=name,
            guessed_onboard=onboard,
            guessed_here=local,
        )
    yield from _limits(info, profile, name)
    if profile.max_request_bytes is not None:
        size = estimated_request_bytes(len(data), prompt or "")
        if size > profile.max_request_bytes:
            yield error(
                "request_too_large",
                f"{name} ({len(data)} bytes) makes a request of about {size} "
                f"bytes; profile {profile.name} allows {profile.max_request_bytes}",
                file=name,
                estimated_bytes=size,
                max_request_bytes=profile.max_request_bytes,
            )


def _label_consequence(profile: PreflightProfile) -> str:
    if profile.image_mime_label == "ignored":
        return f"; profile {profile.name} says the server reads the bytes whatever the label"
    if profile.image_mime_label == "unknown":
        # Seed 000's script sends such a file as image/jpeg on purpose; the seed never says whether the
        # server then refuses it (a label check), misreads it, or decodes the bytes (format sniffing).
        return (
            f"; profile {profile.name} does not say whether the server checks the label (it may refuse or "
            "misread the image, or decode the bytes anyway)"
        )
    return f"; profile {profile.name}'s server refuses an image whose label disagrees with its bytes"


def _parts(body: dict[str, Any]) -> list[tuple[int, int, dict[str, Any]]]:
    """(message index, part index, part) for every typed part of every message."""
    out: list[tuple[int, int, dict[str, Any]]] = []
    for m, message in enumerate(body.get("messages") or []):
        content = message.get("content") if isinstance(message, dict) else None
        if isinstance(content, list):
            out.extend((m, p, part) for p, part in enumerate(content) if isinstance(part, dict))
    return out


def check_request(
    body: Any, size: int, profile: PreflightProfile, known_images: dict[str, str]
) -> Iterator[Finding]:
    """Judge one captured request. `known_images`: sha256 -> file name of images already checked as files."""
    if not isinstance(body, dict):
        yield error(
            "request_not_json", "the captured request body is not a JSON object", body=str(body)[:200]
        )
        return
    try:
        for problem in validate_request(body):
            yield error(
                "request_invalid", f"request: {problem}", schema="tag:chatcert,2026:openai/chat-request"
            )
    except SchemaUnavailable as exc:
        yield warning("request_schema_unavailable", f"request not checked against its schema: {exc}")
    if not body.get("model"):
        yield error("request_model_missing", "the request has no 'model'")
    elif profile.models and body["model"] not in profile.models:
        # The profile lists every name the provider documents; the mock serves exactly those.
        yield error(
            "request_model_unknown",
            f"the request asks for model {body['model']!r}; profile {profile.name} documents only "
            f"{', '.join(map(repr, profile.models))} (the rehearsal mock answers other names 404)",
            model=body["model"],
            expected=list(profile.models),
        )
    elif profile.model is not None and body["model"] != profile.model:
        yield warning(
            "request_model_unexpected",
            f"the request asks for model {body['model']!r}; profile {profile.name} serves {profile.model!r}",
            model=body["model"],
            expected=profile.model,
        )
    if body.get("max_tokens") is None and body.get("max_completion_tokens") is None:
        # Seed 000: "max_tokens and temperature are optional parameters"; the server answers without.
        yield warning(
            "request_max_tokens_missing",
            "the request sets no 'max_tokens' (optional): the answer"
            + (" and the bill have" if profile.paid else " has")
            + " no upper bound",
        )
    if profile.max_request_bytes is not None and size > profile.max_request_bytes:
        yield error(
            "request_too_large",
            f"the request is {size} bytes; profile {profile.name} allows {profile.max_request_bytes}",
            bytes=size,
            max_request_bytes=profile.max_request_bytes,
        )
    parts = _parts(body)
    images = [(m, p, part) for m, p, part in parts if part.get("type") == "image_url"]
    texts = [(m, p, part) for m, p, part in parts if part.get("type") == "text"]
    if not images:
        yield error(
            "request_no_image", "the request carries no image_url part: the model cannot see the image"
        )
    if not texts and not any(
        isinstance(msg, dict) and isinstance(msg.get("content"), str) for msg in body.get("messages") or []
    ):
        yield warning("request_no_text", "the request carries no text prompt")
    if profile.image_first_required:
        for m, p, _ in texts:
            later = [ip for im, ip, _ in images if im == m and ip > p]
            if later:
                yield error(
                    "request_text_before_image",
                    f"messages[{m}].content[{p}] (text) comes before "
                    f"content[{later[0]}] (image); the on-board server wants the image first",
                    message=m,
                    text_part=p,
                    image_part=later[0],
                )
                break
    for m, p, part in images:
        yield from _image_part(m, p, part, profile, known_images)


def _image_part(
    m: int, p: int, part: dict[str, Any], profile: PreflightProfile, known_images: dict[str, str]
) -> Iterator[Finding]:
    where = f"messages[{m}].content[{p}]"
    image_url = part.get("image_url")
    url = image_url.get("url") if isinstance(image_url, dict) else None
    if not isinstance(url, str):
        yield error("request_image_url_missing", f"{where} has no image_url.url string", where=where)
        return
    if not url.startswith("data:"):
        scheme = url.split(":", 1)[0] if ":" in url else "(none)"
        found = error if profile.external_image_urls == "rejected" else warning
        yield found(
            "request_external_image_url",
            f"{where} links the image ({url[:80]}) instead of embedding "
            f"it as a data: URL; the pod is offline and profile {profile.name} says external image URLs "
            f"are {profile.external_image_urls}",
            where=where,
            scheme=scheme,
        )
        return
    try:
        image = decode_data_url(url)
    except ValueError as exc:
        yield error("request_data_url_malformed", f"{where}: data URL {exc}", where=where)
        return
    if _known(image, known_images):
        return  # the same bytes were judged as a file already; do not report twice
    try:
        info = read_image(image.data, complete=not image.truncated)
    except ImageError as exc:
        if image.truncated:
            return  # the journal kept too little to judge; the mock itself decoded the whole image
        yield error("image_undecodable", f"{where}: the image does not decode: {exc}", where=where)
        return
    if info.mime != image.mime:
        # An error only where the profile says the server checks the label against the bytes.
        text = (
            f"{where} is labelled {image.mime} but the bytes are {info.format.upper()} ({info.mime})"
            + _label_consequence(profile)
        )
        evidence = {"where": where, "labelled": image.mime, "sniffed": info.mime}
        yield (
            error("image_mime_mismatch", text, **evidence)
            if profile.image_mime_label == "checked"
            else warning("image_mime_mismatch", text, **evidence)
        )
    yield from _limits(info, profile, where)


def _known(image: DecodedImage, known_images: dict[str, str]) -> bool:
    if not image.truncated:
        return hashlib.sha256(image.data).hexdigest() in known_images
    return any(key.startswith("b64:") and key[4:].startswith(image.b64_prefix) for key in known_images)


def known_image_keys(data: bytes) -> list[str]:
    """Keys under which check_request recognises these file bytes in a captured request."""
    return [hashlib.sha256(data).hexdigest(), "b64:" + base64.b64encode(data).decode("ascii")]


def elide_data_urls(value: Any, keep: int = 48) -> Any:
    """A copy of a JSON value with long data: URLs shortened, for reports."""
    if isinstance(value, dict):
        return {k: elide_data_urls(v, keep) for k, v in value.items()}
    if isinstance(value, list):
        return [elide_data_urls(v, keep) for v in value]
    if isinstance(value, str) and value.startswith("data:") and len(value) > keep:
        return f"{value[:keep]}...<{len(value) - keep} characters elided>"
    return value


def body_size(entry: dict[str, Any]) -> int:
    """Bytes of a journalled request body: as recorded, else Content-Length, else compact JSON."""
    if isinstance(entry.get("body_bytes"), int) and entry["body_bytes"] > 0:
        return int(entry["body_bytes"])
    headers = entry.get("headers") or {}
    if isinstance(headers, dict):
        for key, value in headers.items():
            if str(key).lower() == "content-length":
                try:
                    return int(value)
                except (TypeError, ValueError):
                    break
    body = entry.get("body")
    if isinstance(body, (bytes, str)):
        return len(body.encode("utf-8") if isinstance(body, str) else body)
    return len(json.dumps(body, separators=(",", ":")).encode("utf-8"))
