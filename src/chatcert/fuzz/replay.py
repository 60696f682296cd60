"""Replay files: a failing payload saved by a fuzz run (schema `harness/replay`), loaded and re-sent.

The file keeps the exact bytes sent, the headers with secrets redacted, the property expected and
what was observed. Re-sending goes through chatcert's client with the replay target's own
credentials, and the same verdict functions the checks use decide whether it still fails.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from chatcert import __version__
from chatcert._models import Exchange, RequestSpec
from chatcert._redact import REDACTED, SECRET_HEADERS, Redactor
from chatcert._schemas import schema_errors
from chatcert.client import Client
from chatcert.errors import UsageError
from chatcert.fuzz.findings import Expectation
from chatcert.fuzz.rules import PayloadRules
from chatcert.fuzz.valid import minimal_request
from chatcert.fuzz.verdicts import Verdict, judge_follow_up, judge_invalid, judge_valid
from chatcert.profiles import Profile

__all__ = [
    "FORMAT",
    "ReplayOutcome",
    "build",
    "clear_failures",
    "decode_body",
    "encode_body",
    "load",
    "replay",
    "write",
]

FORMAT = "chatcert-replay/1"
# Headers the client sets itself or that describe a body it re-frames.
_DROP = frozenset({"content-length", "host", "user-agent", "connection", "transfer-encoding"})


def encode_body(raw: bytes | None) -> dict[str, Any]:
    """The exact bytes as JSON when they re-serialise byte for byte, else text, else base64."""
    if raw is None:
        return {"encoding": "none"}
    try:
        value = json.loads(raw)
        if json.dumps(value, separators=(",", ":")).encode() == raw:
            return {"encoding": "json", "json": value}
    except (ValueError, UnicodeDecodeError, RecursionError):
        pass
    try:
        return {"encoding": "text", "text": raw.decode("utf-8")}
    except UnicodeDecodeError:
        return {"encoding": "base64", "base64": base64.b64encode(raw).decode()}


def decode_body(doc: dict[str, Any]) -> bytes | None:
    encoding = doc["encoding"]
    if encoding == "json":
        return json.dumps(doc["json"], separators=(",", ":")).encode()
    if encoding == "text":
        return str(doc["text"]).encode("utf-8")
    if encoding == "base64":
        return base64.b64decode(doc["base64"])
    return None


def build(
    *,
    check: str,
    profile: Profile,
    model: str,
    exchange: Exchange,
    route: str,
    route_name: str,
    expectation: Expectation,
    verdict: Verdict,
    stream: bool,
) -> dict[str, Any]:
    """A replay document for one failing exchange (headers are the client's redacted copy)."""
    return {
        "format": FORMAT,
        "check": check,
        "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "chatcert_version": __version__,
        "profile": profile.name,
        "model": model,
        "request": {
            "method": exchange.method,
            "route": route,
            "route_name": route_name,
            "stream": stream,
            "headers": dict(exchange.request_headers),
            "body": encode_body(exchange.request_body),
        },
        "expected": expectation.as_dict(),
        "observed": {
            "status": exchange.status,
            "kind": verdict.kind,
            "message": verdict.message,
            "error": exchange.error,
            "body_excerpt": exchange.excerpt(800),
        },
    }


def clear_failures(directory: Path, checks: tuple[str, ...]) -> None:
    """Remove earlier runs' failure files of these checks, so the folder shows this run only."""
    for check in checks:
        for old in directory.glob(f"{check}-*.json"):
            if old.stem[len(check) + 1 :].isdigit():
                old.unlink(missing_ok=True)


def write(directory: Path, check: str, n: int, doc: dict[str, Any], redactor: Redactor) -> Path:
    """Write `<check>-<n>.json`; every known secret is redacted from the whole text first."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{check}-{n}.json"
    path.write_text(redactor.text(json.dumps(doc, indent=1)) + "\n", encoding="utf-8")
    return path


def load(path: str | Path) -> dict[str, Any]:
    """Read and validate a replay file; UsageError (exit 2) names what is wrong in one line."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(
            f"cannot read replay file {str(path)!r}: {getattr(exc, 'strerror', None) or exc}"
        ) from None
    try:
        doc = json.loads(text)
    except ValueError as exc:
        raise UsageError(f"replay file {str(path)!r} is not JSON: {exc}") from None
    except RecursionError:
        raise UsageError(f"replay file {str(path)!r} nests too deeply to be a replay file") from None
    errors = schema_errors("harness/replay", doc, limit=1)
    if errors:
        raise UsageError(f"{str(path)!r} is not a chatcert replay file: {errors[0]}")
    try:
        decode_body(doc["request"]["body"])
    except ValueError as exc:
        raise UsageError(f"replay file {str(path)!r} has an undecodable body: {exc}") from None
    return dict(doc)


@dataclass
class ReplayOutcome:
    """`status`: fixed (the property holds now), fails (it still does not) or inconclusive."""

    status: str
    verdict: Verdict
    exchanges: list[Exchange] = field(default_factory=list)


def _headers(stored: dict[str, str]) -> dict[str, str]:
    return {
        name: value
        for name, value in stored.items()
        if name.lower() not in SECRET_HEADERS and name.lower() not in _DROP and REDACTED not in value
    }


def _body(doc: dict[str, Any], model: str) -> bytes | None:
    """The stored bytes; the recorded model is swapped for the replay's where the body names it."""
    body = doc["request"]["body"]
    if body["encoding"] == "json" and model != doc["model"]:
        value = body["json"]
        if isinstance(value, dict) and value.get("model") == doc["model"]:
            return json.dumps({**value, "model": model}, separators=(",", ":")).encode()
    return decode_body(body)


def replay(doc: dict[str, Any], client: Client, profile: Profile, model: str) -> ReplayOutcome:
    """Re-send the payload and judge it by its expected property."""
    request = doc["request"]
    route = profile.route(str(request.get("route_name", ""))) or str(request["route"])
    stream = bool(request.get("stream", False))
    spec = RequestSpec(
        str(request["method"]),
        route,
        raw_body=_body(doc, model),
        headers=_headers(request["headers"]),
        stream=stream,
        label="replayed payload",
    )
    sent = [client.send(spec)]
    prop = doc["expected"]["property"]
    if prop == "accepted":
        verdict = judge_valid(profile, sent[0], stream=stream)
    elif prop == "rejected":
        verdict = judge_invalid(profile, sent[0])
    else:
        rules = PayloadRules.of(profile, model)
        sent.append(
            client.send(RequestSpec("POST", route, body=minimal_request(rules), label="valid follow-up"))
        )
        verdict = judge_follow_up(sent[1])
    status = "inconclusive" if verdict.inconclusive else ("fixed" if verdict.holds else "fails")
    return ReplayOutcome(status, verdict, sent)
