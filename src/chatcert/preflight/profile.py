"""The parts of a profile the pre-flight needs: model, chat route and limits (a typed view)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from chatcert.profiles import Profile, builtin_profiles
from chatcert.profiles import load_profile as load_shared_profile

__all__ = ["PreflightProfile", "load_profile"]


@dataclass(frozen=True)
class PreflightProfile:
    """Limits and names the checks compare against (None: no limit known)."""

    name: str
    mock_profile: str  # what the mock server is started with: a built-in name, or the file's path
    model: str | None
    models: tuple[str, ...]  # the profile's `models`: every name the provider documents (none: unknown)
    chat_route: str
    paid: bool
    max_image_width: int | None
    max_image_height: int | None
    max_request_bytes: int | None
    external_image_urls: str  # allowed | rejected | unknown
    image_first_required: bool
    image_mime_label: str = "unknown"  # checked | ignored | unknown: a label that disagrees with the bytes

    @classmethod
    def from_profile(cls, profile: Profile) -> PreflightProfile:
        """The view of a validated profile (chatcert.profiles)."""
        origin = Path(profile.origin)
        builtin = origin.stem in builtin_profiles() and origin.parent.name == "profiles"

        def limit(key: str) -> int | None:
            value = profile.limit(key)
            return value if isinstance(value, int) and not isinstance(value, bool) else None

        return cls(
            name=profile.name,
            mock_profile=origin.stem if builtin else str(origin),
            model=profile.model,
            models=tuple(str(m) for m in profile.raw.get("models") or ()),
            chat_route=profile.route("chat") or "/v1/chat/completions",
            paid=profile.paid,
            max_image_width=limit("max_image_width"),
            max_image_height=limit("max_image_height"),
            max_request_bytes=limit("max_request_bytes"),
            external_image_urls=str(profile.limit("external_image_urls") or "unknown"),
            image_first_required=bool(profile.limit("image_first_required")),
            image_mime_label=str(profile.limit("image_mime_label") or "unknown"),
        )


def load_profile(spec: str) -> PreflightProfile:
    """Load a profile by name (`liquidai`) or YAML path; UsageError if it cannot be used."""
    return PreflightProfile.from_profile(load_shared_profile(spec))
