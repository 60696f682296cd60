"""Provider profiles (`profiles/NAME.yaml`) as the typed facts the mock needs."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chatcert.wire.profiles import PROFILE_SCHEMA_ID, ProfileError, read_profile
from chatcert.wire.schemas import SchemaStore
from mock_server.errors import Shape

__all__ = ["PROFILE_SCHEMA_ID", "MockConfigError", "Profile", "load_profile"]


class MockConfigError(ValueError):
    """The mock cannot start as asked (unknown profile, bad scenario, refused host, unset key)."""


@dataclass(frozen=True)
class Profile:
    """The parts of a profile the emulator acts on; `raw` keeps the whole file."""

    name: str
    model: str
    auth_scheme: str
    auth_required: bool
    error_shape: str
    routes: Mapping[str, str]
    max_image_width: int | None
    max_image_height: int | None
    max_request_bytes: int | None
    external_image_urls: str
    output_modalities: tuple[str, ...] | None
    raw: Mapping[str, Any]

    @property
    def models(self) -> tuple[str, ...]:
        """Model ids the chat route serves: the profile's `models` (its `model` first), else its model."""
        listed = self.raw.get("models") or ()
        return tuple(dict.fromkeys([self.model, *(str(m) for m in listed)]))

    def models_for(self, route: str | None) -> tuple[str, ...]:
        """Model ids `route` serves: its `route_models` entry (Pharia's luminous-base), else `models`."""
        own = (self.raw.get("route_models") or {}).get(route or "")
        return tuple(str(m) for m in own) if own else self.models

    @property
    def all_models(self) -> tuple[str, ...]:
        """Every model id some route serves: what the models list and the discovery map name."""
        extra = [str(m) for ms in (self.raw.get("route_models") or {}).values() for m in ms]
        return tuple(dict.fromkeys([*self.models, *extra]))

    @property
    def free_routes(self) -> frozenset[str]:
        """Routes the provider documents as free: a 402 (x402) scenario spares them."""
        return frozenset(str(r) for r in self.raw.get("free_routes") or ())

    @property
    def image_mime_label(self) -> str:
        """checked (a label that disagrees with the bytes is refused), ignored or unknown (both decode)."""
        return str((self.raw.get("limits") or {}).get("image_mime_label", "unknown"))

    def shape_for(self, route: str | None) -> Shape:
        """Error shape of a route: Anthropic on `messages`, else the profile's (`any` answers as OpenAI)."""
        if route == "messages":
            return "anthropic"
        return "detail" if self.error_shape == "detail" else "openai"

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> Profile:
        """Build from a parsed profile (validated beforehand when the profile schema exists)."""
        auth = data.get("auth") or {}
        limits = data.get("limits") or {}
        modalities = limits.get("output_modalities")
        return cls(
            name=str(data["name"]),
            model=str(data["model"]),
            auth_scheme=str(auth.get("scheme", "none")),
            auth_required=bool(auth.get("required", False)),
            error_shape=str(data.get("error_shape", "openai")),
            routes={str(k): str(v) for k, v in (data.get("routes") or {}).items()},
            max_image_width=limits.get("max_image_width"),
            max_image_height=limits.get("max_image_height"),
            max_request_bytes=limits.get("max_request_bytes"),
            external_image_urls=str(limits.get("external_image_urls", "unknown")),
            output_modalities=tuple(str(m) for m in modalities) if modalities is not None else None,
            raw=data,
        )


def load_profile(name_or_path: str | Path, schemas: SchemaStore | None = None) -> Profile:
    """Load `profiles/NAME.yaml` by name, or a YAML file by path (the wire layer's reader)."""
    try:
        path, data = read_profile(name_or_path, schemas)
    except ProfileError as exc:
        raise MockConfigError(str(exc)) from None
    for key in ("name", "model", "routes"):
        if key not in data:
            raise MockConfigError(f"profile {path} lacks {key!r}")
    return Profile.from_mapping(data)
