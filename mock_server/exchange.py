"""One request being answered: its route, scenario, defects and body, with the common checks."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from mock_server.defects import ANY_CONTENT_TYPE, DefectContext, DefectSet
from mock_server.errors import MockError, Shape
from mock_server.profile import Profile
from mock_server.scenarios import Scenario
from mock_server.state import MockState, current_trace

__all__ = ["Exchange"]


@dataclass
class Exchange:
    """The request plus what the server decided about it before the handler runs."""

    request: web.Request
    state: MockState
    route: str
    scenario: Scenario
    defects: DefectSet
    raw: bytes = b""

    @property
    def profile(self) -> Profile:
        return self.state.profile

    @property
    def shape(self) -> Shape:
        return self.profile.shape_for(self.route)

    @property
    def validation_status(self) -> int:
        """400, or 422 where errors are FastAPI-shaped (`detail`)."""
        return 422 if self.shape == "detail" else 400

    def invalid(self, message: str, param: str | None = None) -> MockError:
        """A validation error with this route's status."""
        return MockError(self.validation_status, message, param=param)

    def json_object(self) -> dict[str, Any]:
        """The body as a JSON object: 415 for a non-JSON Content-Type, 400/422 for bad JSON."""
        declared = self.request.headers.get("Content-Type")
        json_type = self.request.content_type in ("application/json", "text/json")
        if declared is not None and not json_type and not self.defects.has(ANY_CONTENT_TYPE):
            raise MockError(415, f"Content-Type must be application/json, not {self.request.content_type!r}")
        try:
            body = json.loads(self.raw)
        except (ValueError, RecursionError):
            raise self.invalid("request body is not valid JSON") from None
        trace = current_trace()
        trace.parsed, trace.has_parsed = body, True
        if self.defects:
            stream = isinstance(body, dict) and body.get("stream") is True
            ctx = DefectContext(self.route, stream, request=body, profile=self.profile)
            body = self.defects.request(body, ctx)
        if not isinstance(body, dict):
            raise self.invalid(f"request body must be a JSON object, not {type(body).__name__}")
        return body

    def check_schema(self, schema_id: str, body: Any) -> None:
        """Validate against a schema by `$id` (skipped while that schema does not exist)."""
        problem = self.state.schemas.error(schema_id, body)
        if problem:
            raise self.invalid(f"invalid request: {problem}")

    def require_model(self, model: Any) -> str:
        """The model id, or 400/422 when missing and 404 when this server does not serve it."""
        if not isinstance(model, str) or not model:
            raise self.invalid("'model' is required and must be a non-empty string", param="model")
        served = self.profile.models_for(self.route)
        if model not in served:
            raise MockError(
                404,
                f"The model '{model}' does not exist; this server serves {', '.join(served)} here",
                param="model",
                code="model_not_found",
            )
        return model
