"""Upper-bound usage estimate: requests, prompt tokens, completion tokens (LiquidAI usage is paid).

Assumptions, stated in every report:
- text: ceil(characters / 4) tokens (the usual English average; it is a rule of thumb, not a tokenizer);
- each image: ceil(width / 14) * ceil(height / 14) patch tokens + 10 tokens of image markers, i.e. a
  ViT with 14-pixel patches and no downsampling, more than any VLM that merges or resizes patches uses;
- each message: 4 tokens of chat template;
- completion: at most `max_tokens` per request.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from chatcert.preflight.images import ImageError, read_image
from chatcert.preflight.payload import decode_data_url

__all__ = [
    "CHARS_PER_TOKEN",
    "FORMULA",
    "IMAGE_OVERHEAD_TOKENS",
    "MESSAGE_OVERHEAD_TOKENS",
    "PATCH_PIXELS",
    "RequestEstimate",
    "UsageEstimate",
    "estimate_request",
    "image_tokens",
    "text_tokens",
]

CHARS_PER_TOKEN = 4
PATCH_PIXELS = 14
IMAGE_OVERHEAD_TOKENS = 10
MESSAGE_OVERHEAD_TOKENS = 4
FORMULA = (
    f"prompt_tokens <= ceil(text_chars/{CHARS_PER_TOKEN}) + sum over images of "
    f"(ceil(w/{PATCH_PIXELS})*ceil(h/{PATCH_PIXELS}) + {IMAGE_OVERHEAD_TOKENS}) + "
    f"{MESSAGE_OVERHEAD_TOKENS}*messages; completion_tokens <= max_tokens; per request, summed over requests"
)
ASSUMPTIONS = [
    f"text: {CHARS_PER_TOKEN} characters per token (rule of thumb, not the model's tokenizer)",
    f"image: one token per {PATCH_PIXELS}x{PATCH_PIXELS} pixel patch, no merging or resizing, plus "
    f"{IMAGE_OVERHEAD_TOKENS} marker tokens (an upper bound for LFM-VL-class models)",
    f"chat template: {MESSAGE_OVERHEAD_TOKENS} tokens per message",
    "completion: the model stops at max_tokens at the latest",
]


def text_tokens(chars: int) -> int:
    """Upper bound for `chars` characters of text."""
    return math.ceil(chars / CHARS_PER_TOKEN)


def image_tokens(width: int, height: int) -> int:
    """Upper bound for one image of width x height pixels."""
    return math.ceil(width / PATCH_PIXELS) * math.ceil(height / PATCH_PIXELS) + IMAGE_OVERHEAD_TOKENS


@dataclass
class RequestEstimate:
    """One request: what went into its bound."""

    text_chars: int
    images: list[tuple[int, int]]  # (width, height); unknown images are counted in `unknown_images`
    messages: int
    max_tokens: int | None
    unknown_images: int = 0

    @property
    def prompt_tokens(self) -> int:
        return (
            text_tokens(self.text_chars)
            + sum(image_tokens(w, h) for w, h in self.images)
            + MESSAGE_OVERHEAD_TOKENS * self.messages
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "text_chars": self.text_chars,
            "images": [{"width": w, "height": h, "tokens": image_tokens(w, h)} for w, h in self.images],
            "unknown_images": self.unknown_images,
            "messages": self.messages,
            "prompt_tokens": self.prompt_tokens,
            "max_tokens": self.max_tokens,
        }


@dataclass
class UsageEstimate:
    """The bound for the whole job."""

    basis: str  # "rehearsal": counted from the mock's journal; "static": from the command and files
    requests: list[RequestEstimate] = field(default_factory=list)
    paid: bool = False
    notes: list[str] = field(default_factory=list)

    @property
    def prompt_tokens(self) -> int:
        return sum(r.prompt_tokens for r in self.requests)

    @property
    def completion_tokens(self) -> int | None:
        caps = [r.max_tokens for r in self.requests]
        return None if any(c is None for c in caps) else sum(c for c in caps if c is not None)

    @property
    def total_tokens(self) -> int | None:
        completion = self.completion_tokens
        return None if completion is None else self.prompt_tokens + completion

    def to_dict(self) -> dict[str, Any]:
        return {
            "basis": self.basis,
            "paid": self.paid,
            "requests": len(self.requests),
            "prompt_tokens_max": self.prompt_tokens,
            "completion_tokens_max": self.completion_tokens,
            "total_tokens_max": self.total_tokens,
            "per_request": [r.to_dict() for r in self.requests],
            "formula": FORMULA,
            "assumptions": ASSUMPTIONS,
            "notes": self.notes,
        }


def estimate_request(body: Any) -> RequestEstimate:
    """Bound one chat-completions request body (as captured by the mock)."""
    messages = body.get("messages") if isinstance(body, dict) else None
    messages = messages if isinstance(messages, list) else []
    chars, images, unknown = 0, [], 0
    for message in messages:
        content = message.get("content") if isinstance(message, dict) else None
        if isinstance(content, str):
            chars += len(content)
            continue
        for part in content if isinstance(content, list) else []:
            if not isinstance(part, dict):
                continue
            if part.get("type") == "text" and isinstance(part.get("text"), str):
                chars += len(part["text"])
            elif part.get("type") == "image_url":
                size = _image_size(part)
                if size is None:
                    unknown += 1
                else:
                    images.append(size)
    cap = body.get("max_tokens", body.get("max_completion_tokens")) if isinstance(body, dict) else None
    return RequestEstimate(chars, images, len(messages), cap if isinstance(cap, int) else None, unknown)


def _image_size(part: dict[str, Any]) -> tuple[int, int] | None:
    image_url = part.get("image_url")
    url = image_url.get("url") if isinstance(image_url, dict) else None
    if not isinstance(url, str):
        return None
    try:
        image = decode_data_url(url)
        info = read_image(image.data, complete=not image.truncated)
    except (ValueError, ImageError):
        return None
    return info.width, info.height
