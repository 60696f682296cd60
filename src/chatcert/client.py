"""The one httpx path every conformance request takes: it times, bounds, budgets and redacts."""

from __future__ import annotations

import contextlib
import json
import logging
import re
import shlex
import ssl
import time
import weakref
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import certifi
import httpx

from chatcert import interrupt
from chatcert._json import parse_json
from chatcert._models import Exchange, RequestSpec
from chatcert._redact import Redactor
from chatcert.budget import Budget
from chatcert.errors import UsageError
from chatcert.sse import parse_sse

__all__ = ["Bounds", "Client", "Target", "TooManyTransportFailures", "check_url"]


@dataclass(frozen=True)
class Bounds:
    """Per-request limits: wall-clock deadline, stall bound (max silence), bytes read; run limits."""

    deadline_s: float = 60.0
    stall_s: float = 20.0
    connect_s: float = 5.0
    max_body_bytes: int = 8 * 1024 * 1024
    max_transport_failures: int = 3
    run_deadline_s: float = 1800.0


@dataclass
class Target:
    """Where requests go and how they authenticate. The key never leaves this object unredacted."""

    base_url: str
    auth_scheme: str = "none"
    api_key: str | None = None
    verify_tls: bool = True
    extra_headers: dict[str, str] = field(default_factory=dict)

    def auth_headers(self) -> dict[str, str]:
        if not self.api_key or self.auth_scheme == "none":
            return {}
        if self.auth_scheme == "x-api-key":
            return {"x-api-key": self.api_key}
        return {"Authorization": f"Bearer {self.api_key}"}

    def url(self, route: str) -> str:
        if route.startswith(("http://", "https://")):
            return route
        return self.base_url.rstrip("/") + route


_URL = re.compile(r"https?://[^\s\"'<>]+")


class _LogRedactor(logging.Filter):
    """httpx logs every request URL at INFO: userinfo, key-like query values and the run's keys go."""

    def __init__(self) -> None:
        super().__init__()
        # Weak: a redactor lives as long as its Client, so finished runs do not pile up here forever.
        self.redactors: weakref.WeakSet[Redactor] = weakref.WeakSet()

    def filter(self, record: logging.LogRecord) -> bool:
        message = _URL.sub(lambda m: Redactor().url(m.group()), record.getMessage())
        for redactor in list(self.redactors):
            message = redactor.text(message)
        record.msg, record.args = message, ()
        return True


_LOG_REDACTOR = _LogRedactor()
for _name in ("httpx", "httpcore"):
    logging.getLogger(_name).addFilter(_LOG_REDACTOR)


def check_url(url: str) -> str:
    """The --endpoint as given, checked the same way by the CLI and the pytest plugin (UsageError)."""
    try:
        parts = urlsplit(url)
    except ValueError as exc:
        raise UsageError(f"--endpoint is not a valid URL: {exc}") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UsageError(f"--endpoint must be an http(s) URL with a host, not {url!r}")
    try:
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError:
        raise UsageError(f"--endpoint has an invalid port: {url!r}") from None
    return url.rstrip("/")


class TooManyTransportFailures(Exception):
    """The target failed at the transport level repeatedly; the run stops."""


class Client:
    """Sends RequestSpecs. Every request: fresh connection, deadline, stall bound, byte cap, budget."""

    def __init__(
        self,
        target: Target,
        bounds: Bounds | None = None,
        budget: Budget | None = None,
        redactor: Redactor | None = None,
    ) -> None:
        self.target = target
        self.bounds = bounds or Bounds()
        self.budget = budget or Budget()
        self.redactor = redactor or Redactor([target.api_key] if target.api_key else [])
        if target.api_key:
            self.redactor.add(target.api_key)
        _LOG_REDACTOR.redactors.add(self.redactor)
        self.consecutive_failures = 0
        self.started = time.monotonic()
        self.requests: list[Exchange] = []
        self._target_host = urlsplit(target.base_url).netloc
        # One TLS context per run: building it (loading the CA bundle) costs ~30 ms, per request that
        # would dominate a certification. Plain http needs none.
        self._verify: ssl.SSLContext | bool = False
        if target.verify_tls and target.base_url.startswith("https://"):
            self._verify = ssl.create_default_context(cafile=certifi.where())

    def remaining_run_s(self) -> float:
        return self.bounds.run_deadline_s - (time.monotonic() - self.started)

    def _headers(self, spec: RequestSpec) -> dict[str, str]:
        headers = {
            "Accept": "text/event-stream" if spec.stream else "application/json",
            "User-Agent": "chatcert",
        }
        if spec.body is not None or spec.raw_body is not None:
            headers["Content-Type"] = "application/json"
        headers.update(self.target.extra_headers)
        if spec.auth:
            headers.update(self.target.auth_headers())
        # The probe's own headers win (e.g. a deliberately wrong Content-Type or a bad key).
        headers.update(spec.headers)
        return {k: v for k, v in headers.items() if v is not None}

    def send(self, spec: RequestSpec) -> Exchange:
        """Send one request. Raises BudgetExhausted (nothing sent) or TooManyTransportFailures."""
        interrupt.poll()  # a Ctrl-C whose exception something swallowed still stops the next request
        if self.consecutive_failures >= self.bounds.max_transport_failures:
            raise TooManyTransportFailures(
                f"stopped after {self.consecutive_failures} consecutive transport failures"
            )
        if self.remaining_run_s() <= 0:
            raise TooManyTransportFailures("the run's total deadline has passed")
        granted = self.budget.reserve(spec.max_tokens)
        if granted and isinstance(spec.body, dict) and granted < spec.max_tokens:
            for key in ("max_tokens", "max_completion_tokens"):
                if isinstance(spec.body.get(key), int):
                    spec.body[key] = granted
        url = self.target.url(spec.route)
        headers = self._headers(spec)
        content = spec.content()
        exchange = Exchange(
            label=spec.label or f"{spec.method} {spec.route}",
            method=spec.method,
            url=self.redactor.url(url),
            request_headers=self.redactor.headers(headers),
            request_body=content,
            tokens_reserved=granted,
        )
        exchange.curl = self.curl(spec.method, url, headers, content)
        deadline = min(spec.deadline_s or self.bounds.deadline_s, max(self.remaining_run_s(), 0.1))
        self._perform(exchange, spec.method, url, headers, content, deadline, spec.enough_bytes)
        # A bound that trips (deadline, stall, byte cap) counts like a refused connection: a target that
        # answers every request with an endless stream must not hold the run for hours.
        if exchange.error:
            self.consecutive_failures += 1
        else:
            self.consecutive_failures = 0
        exchange.tokens_used = _completion_tokens(exchange)
        self.budget.settle(granted, exchange.tokens_used if exchange.tokens_used >= 0 else None)
        self.requests.append(exchange)
        return exchange

    def _perform(
        self,
        exchange: Exchange,
        method: str,
        url: str,
        headers: dict[str, str],
        content: bytes | None,
        deadline: float,
        enough_bytes: int | None = None,
    ) -> None:
        bounds = self.bounds
        timeout = httpx.Timeout(
            connect=min(bounds.connect_s, deadline),
            read=min(bounds.stall_s, deadline),
            write=deadline,
            pool=deadline,
        )
        # A fresh connection per request: a server may drop keep-alive after an error, and reuse
        # would then show up as a failure of the next, innocent check.
        limits = httpx.Limits(max_connections=1, max_keepalive_connections=0)
        start = time.monotonic()
        end = start + deadline
        try:
            with (
                httpx.Client(
                    timeout=timeout,
                    limits=limits,
                    verify=self._verify,
                    follow_redirects=False,
                    trust_env=False,
                ) as http,
                http.stream(method, url, headers=headers, content=content) as response,
            ):
                exchange.status = response.status_code
                exchange.headers = {k.lower(): v for k, v in response.headers.items()}
                exchange.first_byte_s = time.monotonic() - start
                buf = bytearray()
                for piece in response.iter_bytes():
                    now = time.monotonic()
                    buf += piece
                    exchange.chunks.append((now - start, len(buf)))
                    if len(buf) > bounds.max_body_bytes:
                        exchange.truncated = True
                        exchange.error = f"response body exceeded the cap of {bounds.max_body_bytes} bytes"
                        del buf[bounds.max_body_bytes :]
                        break
                    if now > end:
                        exchange.error = f"wall-clock deadline of {deadline:.1f}s exceeded while reading body"
                        exchange.truncated = True
                        break
                    if enough_bytes is not None and len(buf) >= enough_bytes:
                        exchange.truncated = True  # by choice: no error, the probe has its evidence
                        break
                exchange.body = bytes(buf)
        except httpx.TimeoutException as exc:
            kind = type(exc).__name__
            exchange.error = f"{kind}: no data for {bounds.stall_s:.1f}s (stall bound) or deadline passed"
        except httpx.HTTPError as exc:
            exchange.error = f"{type(exc).__name__}: {self.redactor.text(str(exc)) or 'transport error'}"
        except (OSError, ValueError) as exc:
            exchange.error = f"{type(exc).__name__}: {self.redactor.text(str(exc))}"
        exchange.elapsed_s = time.monotonic() - start
        if exchange.media_type == "text/event-stream" or (exchange.body.startswith(b"data:")):
            exchange.events, exchange.sse_errors = parse_sse(exchange.body, exchange.chunks)

    def curl(self, method: str, url: str, headers: dict[str, str], content: bytes | None) -> str:
        """A reproducer with the key replaced by an environment variable reference."""
        parts = [
            "curl",
            "-sS",
            "-N" if "text/event-stream" in headers.get("Accept", "") else "-i",
            "-X",
            method,
            shlex.quote(self.redactor.url(url)),
        ]
        for name, value in headers.items():
            if name.lower() == "user-agent":
                continue
            if self.target.api_key and self.target.api_key in value:
                env = "${CHATCERT_API_KEY}"
                shown = f"{name}: {value}".replace(self.target.api_key, env)
                parts += ["-H", '"' + shown.replace('"', '\\"') + '"']
            else:
                # Secret headers are redacted by name too, even a probe's deliberately wrong key.
                shown = self.redactor.headers({name: value})[name]
                parts += ["-H", shlex.quote(f"{name}: {shown}")]
        if content is not None:
            text = content.decode("utf-8", errors="replace")
            if len(text) > 4000:
                text = _shorten_json(text)
            parts += ["--data-binary", shlex.quote(self.redactor.text(text))]
        return " ".join(parts)


def _shorten_json(text: str) -> str:
    """Long data URLs make a reproducer unreadable; keep structure, elide the middle of long strings."""
    try:
        value = parse_json(text)
    except ValueError:
        return text[:4000] + "...(truncated)"

    def walk(v: Any) -> Any:
        if isinstance(v, str) and len(v) > 200:
            return v[:120] + f"...({len(v)} chars)"
        if isinstance(v, list):
            return [walk(x) for x in v]
        if isinstance(v, dict):
            return {k: walk(x) for k, x in v.items()}
        return v

    return json.dumps(walk(value), separators=(",", ":"))


def _completion_tokens(exchange: Exchange) -> int:
    """Output tokens from `usage` (JSON body or the stream's usage chunk); -1 when not reported."""
    candidates: list[Any] = []
    if exchange.events:
        for event in reversed(exchange.events):
            try:
                candidates.append(parse_json(event.data))
            except ValueError:
                continue
    elif exchange.body[:1] == b"{" and len(exchange.body) < 1_000_000:
        with contextlib.suppress(ValueError, RecursionError):
            candidates.append(parse_json(exchange.body))
    for doc in candidates:
        if isinstance(doc, dict):
            usage = doc.get("usage")
            if isinstance(usage, dict):
                for key in ("completion_tokens", "output_tokens"):
                    if isinstance(usage.get(key), int):
                        return int(usage[key])
    return -1
