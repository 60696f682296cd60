"""What probes and checks are given: the profile, the client, the exchanges, and small helpers."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, NoReturn

from chatcert._json import parse_json
from chatcert._models import Exchange, RequestSpec, SSEEvent
from chatcert._schemas import schema_errors
from chatcert.client import Client
from chatcert.profiles import Profile
from chatcert.registry import CheckFailure, CheckSkipped

__all__ = ["CheckContext", "ProbeContext", "ProbeResult"]

# Every generated request carries a limit: a server given none may generate for a minute.
DEFAULT_MAX_TOKENS = 16


@dataclass
class ProbeResult:
    exchanges: list[Exchange] = field(default_factory=list)
    skipped: str | None = None
    error: str | None = None
    first_check: str | None = None
    # Findings a probe computes beyond its exchanges (e.g. fuzzing's shrunk counterexamples).
    data: dict[str, Any] = field(default_factory=dict)


@dataclass
class ProbeContext:
    profile: Profile
    model: str
    client: Client
    target_is_mock: bool
    result: ProbeResult
    options: dict[str, Any] = field(default_factory=dict)

    def send(self, spec: RequestSpec) -> Exchange:
        exchange = self.client.send(spec)
        self.result.exchanges.append(exchange)
        return exchange

    def route(self, name: str) -> str:
        route = self.profile.route(name)
        if route is None:
            raise LookupError(f"profile {self.profile.name!r} has no route {name!r}")
        return route

    def chat_body(self, content: Any = "Say hello.", **extra: Any) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": self.model,
            "messages": [{"role": "user", "content": content}],
            "max_tokens": DEFAULT_MAX_TOKENS,
        }
        if self.profile.raw.get("extensions", {}).get("cache_prompt"):
            body["cache_prompt"] = False
        body.update(extra)
        return body

    def chat(
        self,
        body: Any,
        *,
        label: str,
        stream: bool | None = None,
        raw_body: bytes | None = None,
        headers: dict[str, str] | None = None,
        auth: bool = True,
        route: str = "chat",
    ) -> Exchange:
        is_stream = bool(body.get("stream")) if stream is None and isinstance(body, dict) else bool(stream)
        return self.send(
            RequestSpec(
                "POST",
                self.route(route),
                body=body,
                raw_body=raw_body,
                label=label,
                headers=dict(headers or {}),
                stream=is_stream,
                auth=auth,
            )
        )

    def get(
        self, route_name: str, *, label: str, auth: bool = True, headers: dict[str, str] | None = None
    ) -> Exchange:
        return self.send(
            RequestSpec("GET", self.route(route_name), label=label, auth=auth, headers=dict(headers or {}))
        )


@dataclass
class CheckContext:
    profile: Profile
    model: str
    probes: dict[str, ProbeResult]
    has_key: bool
    target_is_mock: bool

    def exchanges(self, probe: str) -> list[Exchange]:
        return self.probes[probe].exchanges

    def ex(self, probe: str, index: int = 0) -> Exchange:
        items = self.exchanges(probe)
        if index >= len(items):
            raise CheckFailure(f"probe {probe!r} produced no exchange #{index}")
        return items[index]

    def fail(
        self, message: str, *, expected: str = "", actual: str = "", exchange: Exchange | None = None
    ) -> NoReturn:
        raise CheckFailure(
            message, expected=expected, actual=actual, exchange=exchange.label if exchange else None
        )

    def skip(self, reason: str) -> NoReturn:
        """Nothing to judge here: the check ends `skipped` with `reason` (another check owns the failure)."""
        raise CheckSkipped(reason)

    def require(
        self,
        condition: bool,
        message: str,
        *,
        expected: str = "",
        actual: Any = "",
        exchange: Exchange | None = None,
    ) -> None:
        if not condition:
            self.fail(message, expected=expected, actual=_short(actual), exchange=exchange)

    def require_valid(self, schema_id: str, instance: Any, message: str, exchange: Exchange) -> None:
        """`instance` validates against the schema `schema_id`; the failure lists the schema's complaints."""
        errors = schema_errors(schema_id, instance)
        self.require(not errors, message, expected=schema_id, actual="; ".join(errors), exchange=exchange)

    def require_status(self, exchange: Exchange, status: int, message: str) -> None:
        """The exchange was answered `status`; the failure shows what came back instead."""
        actual = f"{exchange.status} {exchange.excerpt(300)}"
        location = exchange.headers.get("location")
        if exchange.status is not None and 300 <= exchange.status < 400 and location:
            # chatcert follows no redirect, not even to the same host (README, SECURITY.md): say where
            # the server points so the user can name that URL, instead of a bare "3xx".
            actual = (
                f"{exchange.status} redirect to {location} (chatcert follows no redirects; "
                "point --endpoint at the URL the server redirects to)"
            )
        self.require(
            exchange.status == status, message, expected=str(status), actual=actual, exchange=exchange
        )

    def json(self, probe: str, index: int = 0, *, status: int | None = 200) -> Any:
        """The JSON body of an exchange, requiring `status` first; failures carry the evidence."""
        ex = self.ex(probe, index)
        if status is not None:
            self.require_status(ex, status, f"expected HTTP {status}")
        try:
            return ex.json()
        except ValueError as exc:
            self.fail(str(exc), expected="a JSON body", actual=ex.excerpt(300), exchange=ex)

    def body_object(self, probe: str, index: int = 0, *, status: int | None = 200) -> dict[str, Any]:
        doc = self.json(probe, index, status=status)
        self.require(
            isinstance(doc, dict),
            "body is not a JSON object",
            expected="object",
            actual=type(doc).__name__,
            exchange=self.ex(probe, index),
        )
        return dict(doc)

    def stream_events(self, probe: str, index: int = 0) -> list[SSEEvent]:
        ex = self.ex(probe, index)
        self.require(
            ex.status == 200,
            "expected HTTP 200 for the stream",
            expected="200",
            actual=f"{ex.status} {ex.excerpt(300)}",
            exchange=ex,
        )
        return ex.data_events()

    def chunks(self, probe: str, index: int = 0) -> list[dict[str, Any]]:
        """The JSON objects of a chat stream's data events, [DONE] and non-JSON excluded."""
        out: list[dict[str, Any]] = []
        for event in self.stream_events(probe, index):
            if event.data.strip() == "[DONE]":
                continue
            try:
                doc = parse_json(event.data)
            except ValueError:
                continue
            if isinstance(doc, dict):
                out.append(doc)
        return out


def _short(value: Any, limit: int = 400) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str)[: limit + 1]
    return text if len(text) <= limit else text[:limit] + "..."
