"""Hypothesis strategies for chat-completions payloads, for chatcert's fuzz checks and for your own tests.

    from hypothesis import given
    from chatcert.strategies import invalid_chat_requests, valid_chat_requests

    @given(valid_chat_requests(profile="pharia"))
    def test_my_server_accepts(body): ...

    @given(invalid_chat_requests(profile="pharia"))
    def test_my_server_rejects(case): ...   # case.body (bytes), case.content_type, case.rule

`invalid_chat_request_examples(profile)` and `valid_chat_request_examples(profile)` give the explicit
examples `certify --fuzz` sends before its search: one per invalid-payload class and one per
valid-payload feature, by name (handy as `@example`s, or to see what a run always covers).

`profile` is a built-in profile name, a profile YAML path or a loaded `chatcert.profiles.Profile`
(default: the built-in `compatible`); generated payloads obey its capabilities and limits.
"""

from __future__ import annotations

import copy
from typing import Any

from hypothesis import strategies as st

from chatcert.fuzz import images as _images
from chatcert.fuzz.invalid import InvalidCase, cases, explicit_cases
from chatcert.fuzz.rules import PayloadRules, resolve_profile
from chatcert.fuzz.valid import MAX_TOKENS, data_url, explicit_requests, image_bytes, requests
from chatcert.profiles import Profile

__all__ = [
    "InvalidCase",
    "PayloadRules",
    "gif",
    "image_data_urls",
    "image_files",
    "invalid_chat_request_examples",
    "invalid_chat_requests",
    "jpeg",
    "png",
    "valid_chat_request_examples",
    "valid_chat_requests",
    "webp",
]


def _rules(profile: Profile | str | None, model: str | None) -> PayloadRules:
    return PayloadRules.of(resolve_profile(profile), model)


def valid_chat_requests(
    profile: Profile | str | None = None, model: str | None = None, *, max_tokens: int = MAX_TOKENS
) -> st.SearchStrategy[dict[str, Any]]:
    """Request bodies a server conforming to `profile` must accept (200), each with a small `max_tokens`.

    Covers text and multi-turn conversations; system, developer, assistant and tool roles (tool
    messages answer an assistant `tool_calls` turn); content-part arrays; PNG, JPEG, GIF and WebP
    images of varied sizes in data: URLs; tools and tool_choice; stream and stream_options;
    sampling parameters at their bounds. Only what the profile claims: no images without vision,
    no tools without tools, image first where `image_first_required`, images within the profile's
    pixel limits, and never an external image link (a valid payload must not make the server fetch
    third-party content).
    """
    return requests(_rules(profile, model), max_tokens)


def invalid_chat_requests(
    profile: Profile | str | None = None, model: str | None = None
) -> st.SearchStrategy[InvalidCase]:
    """Labelled payloads a server conforming to `profile` must refuse with a 4xx (never a 5xx or a 200).

    Each `InvalidCase` carries `kind`, the catalogue `rule`, a `description`, the exact `body` bytes,
    the `content_type` to send and a `level` (MUST, or SHOULD for what many servers tolerate).
    """
    return cases(_rules(profile, model))


def invalid_chat_request_examples(
    profile: Profile | str | None = None, model: str | None = None
) -> dict[str, InvalidCase]:
    """One case per invalid-payload class the profile can be judged on (the simplest its strategy
    draws), then every corpus case, keyed by `kind`: what `certify --fuzz` sends before its search."""
    return {case.kind: case for case in explicit_cases(_rules(profile, model))}


def valid_chat_request_examples(
    profile: Profile | str | None = None, model: str | None = None, *, max_tokens: int = MAX_TOKENS
) -> dict[str, dict[str, Any]]:
    """One request per valid-payload feature the profile claims (that feature on, the rest off),
    keyed by feature name: what `certify --fuzz` sends before its search."""
    rules = _rules(profile, model)
    return {name: copy.deepcopy(body) for name, body in explicit_requests(rules, max_tokens)}


def image_files(profile: Profile | str | None = None) -> st.SearchStrategy[bytes]:
    """Real PNG, JPEG, GIF and WebP files of varied sizes, within the profile's pixel limits."""
    return image_bytes(_rules(profile, None))


def image_data_urls(profile: Profile | str | None = None) -> st.SearchStrategy[str]:
    """`data:<mime>;base64,...` URLs of `image_files(profile)`."""
    return image_files(profile).map(data_url)


# The encoders, for building your own edge cases (e.g. `png(4001, 1)`).
png, gif, jpeg, webp = _images.png, _images.gif, _images.jpeg, _images.webp
