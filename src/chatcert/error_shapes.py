"""Whether an error body has the shape a profile promises. Shared by the error checks and the fuzz
verdicts (which judge generated requests' rejections), so it sits below both."""

from __future__ import annotations

from typing import Any

from chatcert._schemas import schema_errors

__all__ = ["error_shape_problems"]


def error_shape_problems(profile_shape: str, body: Any) -> list[str]:
    """Why `body` is not an error body in the profile's shape (empty when it is).

    The `{"error": {...}}` form is judged as the OpenAI SDK reads it (errors/openai-envelope: a message,
    with type/param/code optional and code a string, integer or null); whether all four keys of the
    spec's Error object are there, with the documented types, is error_object_has_all_fields' finding.
    The messages name the missing or mistyped key.
    """
    if profile_shape == "openai":
        return schema_errors("errors/openai-envelope", body, limit=2)
    if profile_shape == "detail":
        return schema_errors("errors/detail", body, limit=2)
    openai = schema_errors("errors/openai-envelope", body, limit=2)
    detail = schema_errors("errors/detail", body, limit=2)
    if not openai or not detail:
        return []
    if isinstance(body, dict) and "error" in body:
        # An OpenAI-style body that misses a key: name that key, not the detail form it never tried.
        return openai
    return [f'neither {{"error": {{...}}}} ({openai[0]}) nor {{"detail": ...}} ({detail[0]})']
