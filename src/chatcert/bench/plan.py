"""The requests of a run: serialised once per (payload, max_tokens), so a send costs no JSON encoding."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from chatcert.bench.payloads import Payload
from chatcert.bench.transport import build_request

__all__ = ["RequestPlan"]


@dataclass
class RequestPlan:
    """Everything that shapes a request body; `request(i, max_tokens)` gives its bytes."""

    url: str
    headers: dict[str, str]
    payloads: list[Payload]
    model: str
    stream: bool = True
    max_tokens: int = 128
    temperature: float | None = None
    cache_prompt: bool | None = None
    include_usage: bool = True
    _cache: dict[tuple[int, int], bytes] = field(default_factory=dict, repr=False)
    _drivers: dict[tuple[int, int], dict[str, Any]] = field(default_factory=dict, repr=False)

    def body(self, index: int, max_tokens: int) -> dict[str, Any]:
        payload = self.payloads[index % len(self.payloads)]
        body = {**payload.body, "model": self.model, "stream": self.stream}
        if max_tokens > 0:
            body["max_tokens"] = max_tokens
            body.pop("max_completion_tokens", None)
        if self.temperature is not None:
            body["temperature"] = self.temperature
        if self.cache_prompt is not None:
            body["cache_prompt"] = self.cache_prompt  # llama.cpp's prompt-cache switch
        if self.stream and self.include_usage:
            body["stream_options"] = {"include_usage": True}
        else:
            body.pop("stream_options", None)
        return body

    def request(self, index: int, max_tokens: int) -> bytes:
        key = (index % len(self.payloads), max_tokens)
        cached = self._cache.get(key)
        if cached is None:
            data = json.dumps(self.body(index, max_tokens), separators=(",", ":")).encode()
            cached = self._cache[key] = build_request("POST", self.url, self.headers, data)
        return cached

    def drivers(self, index: int, max_tokens: int) -> dict[str, Any]:
        """The drivers the body carries (the run adds concurrency, rate, host and version)."""
        key = (index % len(self.payloads), max_tokens)
        found = self._drivers.get(key)
        if found is None:
            body = self.body(index, max_tokens)
            found = self._drivers[key] = {
                "payload_class": self.payloads[key[0]].payload_class,
                "max_tokens": body.get("max_tokens"),
                "temperature": body.get("temperature"),
                "cache_prompt": body.get("cache_prompt"),
                "stream": self.stream,
            }
        return found
