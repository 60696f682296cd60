"""The parts of a profile the pre-flight needs: model, chat route and limits.

A thin reader of `profiles/NAME.yaml` (or any YAML path); the shared profile loader can replace it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from chatcert.errors import UsageError
from chatcert_data import data_dir

__all__ = ["PreflightProfile", "builtin_profile_names", "load_profile"]


@dataclass(frozen=True)
class PreflightProfile:
    """Limits and names the checks compare against (None: no limit known)."""

    name: str
    source: str  # the file it came from
    builtin: bool  # one of chatcert's own profiles (the mock server knows it by name)
    model: str | None
    chat_route: str
    paid: bool
    max_image_width: int | None
    max_image_height: int | None
    max_request_bytes: int | None
    external_image_urls: str  # allowed | rejected | unknown
    image_first_required: bool


def builtin_profile_names() -> list[str]:
    """Names of the profiles shipped with chatcert."""
    return sorted(p.stem for p in data_dir("profiles").glob("*.yaml"))


def load_profile(spec: str) -> PreflightProfile:
    """Load a profile by name (`liquidai`) or by YAML path; UsageError if it cannot be used."""
    looks_like_path = spec.endswith((".yaml", ".yml")) or "/" in spec or "\\" in spec
    path = Path(spec) if looks_like_path else data_dir("profiles") / f"{spec}.yaml"
    if not path.is_file():
        known = ", ".join(builtin_profile_names())
        where = f"file {spec} not found" if looks_like_path else f"unknown profile {spec!r} (known: {known})"
        raise UsageError(f"profile: {where}")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"profile {path}: cannot read: {exc}") from exc
    except yaml.YAMLError as exc:
        raise UsageError(f"profile {path}: not valid YAML: {_one_line(exc)}") from exc
    if not isinstance(raw, dict):
        raise UsageError(f"profile {path}: expected a mapping at the top level")
    return _from_mapping(raw, path, builtin=not looks_like_path)


def _from_mapping(raw: dict[str, Any], path: Path, *, builtin: bool) -> PreflightProfile:
    limits = raw.get("limits") or {}
    routes = raw.get("routes") or {}
    if not isinstance(limits, dict) or not isinstance(routes, dict):
        raise UsageError(f"profile {path}: 'limits' and 'routes' must be mappings")

    def limit(key: str) -> int | None:
        value = limits.get(key)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            raise UsageError(f"profile {path}: limits.{key} must be a positive integer or null")
        return value

    model = raw.get("model")
    external = limits.get("external_image_urls", "unknown")
    if external not in ("allowed", "rejected", "unknown"):
        raise UsageError(f"profile {path}: limits.external_image_urls must be allowed, rejected or unknown")
    return PreflightProfile(
        name=str(raw.get("name") or path.stem),
        source=str(path),
        builtin=builtin,
        model=str(model) if model is not None else None,
        chat_route=str(routes.get("chat") or "/v1/chat/completions"),
        paid=bool(raw.get("paid", False)),
        max_image_width=limit("max_image_width"),
        max_image_height=limit("max_image_height"),
        max_request_bytes=limit("max_request_bytes"),
        external_image_urls=str(external),
        image_first_required=bool(limits.get("image_first_required", False)),
    )


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())
