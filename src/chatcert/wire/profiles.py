"""Profiles on disk: finding `profiles/NAME.yaml` (or a user's file), parsing it and checking it
against the profile schema. The judge (`chatcert.profiles`) and the mock (`mock_server.profile`) build
their typed views on this one reader, so both read the same file the same way."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from chatcert.wire.schemas import SchemaStore, default_store
from chatcert_data import data_dir

__all__ = [
    "PROFILE_SCHEMA_ID",
    "ROUTE_ALIASES",
    "ProfileError",
    "UnknownProfile",
    "builtin_profiles",
    "read_profile",
    "route_paths",
]

PROFILE_SCHEMA_ID = "tag:chatcert,2026:harness/profile"
# Routes that are another path for a logical route: seed 001's SDK posts {host}/chat/completions, the
# same chat API as the chat route. The mock serves, journals and gives defects to such a path as its
# logical route, and whoever edits "the chat route's replies" must edit these too.
ROUTE_ALIASES: dict[str, str] = {"chat_alias": "chat"}


def route_paths(routes: dict[str, str], logical: str) -> list[str]:
    """Every path a profile's `routes` serve `logical` on: its own, then its aliases'."""
    names = [logical, *(alias for alias, target in ROUTE_ALIASES.items() if target == logical)]
    return [routes[name] for name in names if routes.get(name)]


class ProfileError(ValueError):
    """A profile that cannot be used; the message names the file and what is wrong, on one line."""


class UnknownProfile(ProfileError):
    """No built-in profile of that name (`known` lists those there are)."""

    def __init__(self, name: str, known: list[str]) -> None:
        super().__init__(f"unknown profile {name!r}; known: {', '.join(known)}")
        self.name = name
        self.known = known


def builtin_profiles() -> list[str]:
    return sorted(p.stem for p in data_dir("profiles").glob("*.yaml"))


def locate(name_or_path: str | Path) -> Path:
    """A built-in profile's file by name, or the user's file by path (a suffix or a slash says which)."""
    text = str(name_or_path)
    if (
        isinstance(name_or_path, Path)
        or "/" in text
        or "\\" in text
        or text.endswith((".yaml", ".yml", ".json"))
    ):
        path = Path(name_or_path)
        if not path.is_file():
            raise ProfileError(f"profile file {text!r} not found")
        return path
    path = data_dir("profiles") / f"{text}.yaml"
    if not path.is_file():
        raise UnknownProfile(text, builtin_profiles())
    return path


def read_profile(name_or_path: str | Path, schemas: SchemaStore | None = None) -> tuple[Path, dict[str, Any]]:
    """The profile's file and its data, checked against the profile schema."""
    path = locate(name_or_path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise ProfileError(f"cannot read profile {str(path)!r}: {exc}") from exc
    except RecursionError:
        raise ProfileError(f"profile {str(path)!r} nests too deeply to parse") from None
    except yaml.YAMLError as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ProfileError(f"profile {str(path)!r} is not valid YAML: {first}") from exc
    except ValueError as exc:  # e.g. an integer over Python's 4300-digit limit
        raise ProfileError(f"profile {str(path)!r} cannot be parsed: {exc}") from None
    if not isinstance(data, Mapping):
        raise ProfileError(f"profile {str(path)!r} must be a mapping, not {type(data).__name__}")
    problem = (schemas or default_store()).error(PROFILE_SCHEMA_ID, data)
    if problem:
        raise ProfileError(f"profile {str(path)!r} is invalid: {problem}")
    return path, dict(data)
