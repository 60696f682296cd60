"""Error bodies in the three shapes the mock speaks: OpenAI, FastAPI `detail` and Anthropic."""

from __future__ import annotations

from typing import Any, Literal

__all__ = ["MockError", "Shape", "error_body"]

Shape = Literal["openai", "detail", "anthropic"]

# status -> (OpenAI type, OpenAI code, Anthropic type); codes follow what api.openai.com sends.
_KINDS: dict[int, tuple[str, str | None, str]] = {
    400: ("invalid_request_error", None, "invalid_request_error"),
    401: ("invalid_request_error", "invalid_api_key", "authentication_error"),
    402: ("insufficient_quota", "payment_required", "billing_error"),
    403: ("permission_error", None, "permission_error"),
    404: ("invalid_request_error", "not_found", "not_found_error"),
    405: ("invalid_request_error", "method_not_allowed", "invalid_request_error"),
    413: ("invalid_request_error", "request_too_large", "request_too_large"),
    415: ("invalid_request_error", "unsupported_media_type", "invalid_request_error"),
    422: ("invalid_request_error", None, "invalid_request_error"),
    429: ("rate_limit_error", "rate_limit_exceeded", "rate_limit_error"),
    500: ("server_error", None, "api_error"),
    503: ("server_error", "service_unavailable", "overloaded_error"),
}


class MockError(Exception):
    """An error response to send; `shape` is chosen later by the route that answers."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        param: str | None = None,
        code: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.param = param
        self.code = code
        self.headers = dict(headers or {})

    def body(self, shape: Shape) -> dict[str, Any]:
        """The JSON body for `shape`."""
        return error_body(shape, self.status, self.message, param=self.param, code=self.code)


def error_body(
    shape: Shape, status: int, message: str, *, param: str | None = None, code: str | None = None
) -> dict[str, Any]:
    """Build an error body; unknown statuses fall back to the 4xx/5xx defaults."""
    default = _KINDS[500] if status >= 500 else _KINDS[400]
    openai_type, default_code, anthropic_type = _KINDS.get(status, default)
    if shape == "detail":
        return {"detail": message}
    if shape == "anthropic":
        return {"type": "error", "error": {"type": anthropic_type, "message": message}}
    return {"error": {"message": message, "type": openai_type, "param": param, "code": code or default_code}}
