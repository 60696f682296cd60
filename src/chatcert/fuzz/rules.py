"""What a profile lets a generated payload contain: capabilities and limits, read once."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from chatcert.profiles import Profile, load_profile

__all__ = ["PayloadRules", "resolve_profile"]

# Sides of generated valid images stay small: big images cost prompt tokens and prove nothing more.
VALID_IMAGE_SIDE = 96


def resolve_profile(profile: Profile | str | None) -> Profile:
    """A Profile from a Profile, a built-in name or a YAML path (None: the built-in `compatible`)."""
    if isinstance(profile, Profile):
        return profile
    return load_profile(profile or "compatible")


def _int_or_none(value: Any) -> int | None:
    return int(value) if isinstance(value, int) and not isinstance(value, bool) else None


@dataclass(frozen=True)
class PayloadRules:
    """The parts of a profile payload generators obey."""

    model: str
    vision: bool = True
    tools: bool = True
    streaming: bool = True
    stream_usage: bool = True
    logprobs: bool = False
    response_format: bool = False
    image_first: bool = False
    external_image_urls: str = "unknown"
    # limits.image_mime_label: only a server that checks labels must refuse bytes of another type.
    image_mime_label: str = "unknown"
    max_image_width: int | None = None
    max_image_height: int | None = None
    # Not in today's profile schema: a profile that sets a minimum makes 1x1 images invalid.
    min_image_width: int | None = None
    min_image_height: int | None = None
    cache_prompt: bool = False

    @classmethod
    def of(cls, profile: Profile, model: str | None = None) -> PayloadRules:
        claims = profile.claims_capability
        return cls(
            model=model or profile.model,
            vision=claims("vision"),
            tools=claims("tools"),
            streaming=claims("streaming"),
            stream_usage=claims("streaming") and claims("stream_usage"),
            logprobs=claims("logprobs"),
            response_format=claims("response_format"),
            image_first=bool(profile.limit("image_first_required")),
            external_image_urls=str(profile.limit("external_image_urls") or "unknown"),
            image_mime_label=str(profile.limit("image_mime_label") or "unknown"),
            max_image_width=_int_or_none(profile.limit("max_image_width")),
            max_image_height=_int_or_none(profile.limit("max_image_height")),
            min_image_width=_int_or_none(profile.limit("min_image_width")),
            min_image_height=_int_or_none(profile.limit("min_image_height")),
            cache_prompt=bool((profile.raw.get("extensions") or {}).get("cache_prompt")),
        )

    def side_range(self, axis: str) -> tuple[int, int]:
        """Sides a valid image may have along `axis` ("width" or "height")."""
        low = (self.min_image_width if axis == "width" else self.min_image_height) or 1
        high = (self.max_image_width if axis == "width" else self.max_image_height) or VALID_IMAGE_SIDE
        return low, max(low, min(high, VALID_IMAGE_SIDE))

    def fits(self, width: int, height: int) -> bool:
        """Whether an image of this size is within the profile's limits."""
        return (
            (self.max_image_width is None or width <= self.max_image_width)
            and (self.max_image_height is None or height <= self.max_image_height)
            and (self.min_image_width is None or width >= self.min_image_width)
            and (self.min_image_height is None or height >= self.min_image_height)
        )
