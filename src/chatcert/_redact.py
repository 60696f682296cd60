"""Keeps secrets out of everything chatcert prints or writes."""

from __future__ import annotations

import base64
import re
from collections.abc import Iterable, Mapping
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

__all__ = ["REDACTED", "SECRET_HEADERS", "Redactor"]

REDACTED = "[REDACTED]"
SECRET_HEADERS = frozenset(
    {"authorization", "proxy-authorization", "x-api-key", "api-key", "x-payment", "cookie", "set-cookie"}
)
_SECRET_QUERY = re.compile(r"(key|token|secret|passw|sig|auth|credential)", re.IGNORECASE)


class Redactor:
    """Replaces known secret values anywhere in text, and secret headers and query values by name."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._secrets: list[str] = []
        for secret in secrets:
            self.add(secret)

    def add(self, secret: str) -> None:
        # Short values would redact innocent text; real keys are long. A target may echo the key
        # encoded, so its base64 and URL-encoded forms are secrets too.
        if not secret or len(secret) < 6:
            return
        forms = {
            secret,
            quote(secret, safe=""),
            base64.b64encode(secret.encode()).decode(),
            base64.urlsafe_b64encode(secret.encode()).decode(),
        }
        forms |= {f.rstrip("=") for f in forms if len(f.rstrip("=")) >= 6}
        self._secrets = sorted(set(self._secrets) | forms, key=len, reverse=True)

    def text(self, value: str) -> str:
        for secret in self._secrets:
            value = value.replace(secret, REDACTED)
        return value

    def headers(self, headers: Mapping[str, str] | Iterable[tuple[str, str]]) -> dict[str, str]:
        items = headers.items() if isinstance(headers, Mapping) else headers
        out: dict[str, str] = {}
        for name, value in items:
            if name.lower() in SECRET_HEADERS:
                scheme = value.split(" ", 1)[0] if name.lower() == "authorization" and " " in value else ""
                out[name] = f"{scheme} {REDACTED}".strip()
            else:
                out[name] = self.text(value)
        return out

    def url(self, url: str) -> str:
        try:
            parts = urlsplit(url)
        except ValueError:
            return self.text(url)
        netloc = parts.netloc
        if "@" in netloc:
            netloc = REDACTED + "@" + netloc.rsplit("@", 1)[1]
        query = parts.query
        if query:
            pairs = parse_qsl(query, keep_blank_values=True)
            query = urlencode([(k, REDACTED if _SECRET_QUERY.search(k) else v) for k, v in pairs])
        return self.text(urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment)))
