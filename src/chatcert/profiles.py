"""Provider profiles: what an endpoint promises, as data (``profiles/*.yaml``)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from chatcert.errors import UsageError, did_you_mean
from chatcert.wire.profiles import ProfileError, UnknownProfile, builtin_profiles, read_profile

__all__ = ["CAPABILITIES", "Profile", "builtin_profiles", "load_profile"]

CAPABILITIES = (
    "streaming",
    "stream_usage",
    "vision",
    "tools",
    "models_list",
    "completions",
    "anthropic",
    "transcribe",
    "complete",
    "auth_check",
    "discovery",
    "logprobs",
    "response_format",
)


@dataclass(frozen=True)
class Profile:
    """A validated profile. `raw` keeps the file's data; the rest are typed views of it."""

    name: str
    raw: dict[str, Any]
    origin: str
    claims: dict[str, bool] = field(default_factory=dict)

    @property
    def tier(self) -> str:
        return str(self.raw["tier"])

    @property
    def model(self) -> str:
        return str(self.raw["model"])

    @property
    def paid(self) -> bool:
        return bool(self.raw.get("paid", False))

    @property
    def auth_scheme(self) -> str:
        return str(self.raw["auth"]["scheme"])

    @property
    def key_env(self) -> str | None:
        value = self.raw["auth"].get("key_env")
        return str(value) if value else None

    @property
    def auth_required(self) -> bool:
        return bool(self.raw["auth"].get("required", False))

    @property
    def error_shape(self) -> str:
        return str(self.raw["error_shape"])

    def route(self, name: str) -> str | None:
        value = self.raw["routes"].get(name)
        return str(value) if value else None

    def claims_capability(self, name: str) -> bool:
        if name in self.claims:
            return self.claims[name]
        return bool(self.raw["capabilities"].get(name, False))

    def limit(self, name: str) -> Any:
        return self.raw.get("limits", {}).get(name)

    @property
    def status_codes(self) -> tuple[int, ...]:
        return tuple(self.raw.get("status_codes", ()))

    def with_claims(self, claims: dict[str, bool]) -> Profile:
        unknown = sorted(set(claims) - set(CAPABILITIES))
        if unknown:
            raise UsageError(f"unknown capability {unknown[0]!r}; known: {', '.join(CAPABILITIES)}")
        return Profile(self.name, self.raw, self.origin, {**self.claims, **claims})

    def effective(self) -> dict[str, Any]:
        """The profile as used: the file's data with command-line claims applied."""
        data = json.loads(json.dumps(self.raw))
        data["capabilities"].update(self.claims)
        return dict(data)

    @property
    def digest(self) -> str:
        canonical = json.dumps(self.effective(), sort_keys=True, separators=(",", ":"))
        return "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()


def load_profile(name_or_path: str) -> Profile:
    """Load a built-in profile by name, or a user's profile file by path. Bad input -> UsageError."""
    try:
        path, data = read_profile(name_or_path)
    except UnknownProfile as exc:
        hint = did_you_mean(exc.name, exc.known) or ";"
        raise UsageError(
            f"unknown profile {exc.name!r}{hint} built-in profiles: {', '.join(exc.known)}"
        ) from None
    except ProfileError as exc:
        raise UsageError(str(exc)) from None
    return Profile(name=str(data["name"]), raw=data, origin=str(path))
