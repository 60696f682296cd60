"""LibertAI's x402 "402 Payment Required" flow: the v1 challenge body and the paid resubmission.

Seed 002 says only "402 Payment required (x402 flow) — Sign and resubmit with X-PAYMENT — see x402".
The x402 v1 protocol defines the header: base64 of a JSON PaymentPayload `{"x402Version": 1,
"scheme", "network", "payload"}`, where the `exact` scheme on an EVM network carries
`payload.signature` (0x-hex) and `payload.authorization` (an EIP-3009 transfer: from, to, value,
validAfter, validBefore, nonce). The mock cannot verify a signature; it accepts a header of that
form that pays the challenge's `payTo` at least `maxAmountRequired`, and answers anything else
with the challenge again, naming what is wrong.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from typing import Any

from mock_server.exchange import Exchange
from mock_server.replies import JsonReply

__all__ = ["PAYMENT_HEADER", "payment_problem", "payment_receipt", "payment_required"]

PAYMENT_HEADER = "X-PAYMENT"
_VERSION = 1
_SCHEME = "exact"
_NETWORK = "base"
_ASSET = "0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913"  # USDC on Base, as x402 examples use
_PAY_TO = "0x000000000000000000000000000000000000c4a7"
_AMOUNT = 1000
_HEX = re.compile(r"^0x[0-9a-fA-F]+$")
_AUTHORIZATION = ("from", "to", "value", "validAfter", "validBefore", "nonce")


def payment_required(ex: Exchange, problem: str | None = None) -> JsonReply:
    """The x402 v1 challenge for this request's resource; `problem` says why a header was refused."""
    error = problem or f"{PAYMENT_HEADER} header is required"
    body: dict[str, Any] = {
        "x402Version": _VERSION,
        "error": error,
        "detail": error,  # seed 002: 'Errors return JSON of the form {"detail": "..."}'
        "accepts": [
            {
                "scheme": _SCHEME,
                "network": _NETWORK,
                "maxAmountRequired": str(_AMOUNT),
                "resource": str(ex.request.url),
                "description": f"{ex.profile.name} inference via {ex.request.path} (chatcert mock)",
                "mimeType": "application/json",
                "payTo": _PAY_TO,
                "maxTimeoutSeconds": 60,
                "asset": _ASSET,
                "extra": {"name": "USD Coin", "version": "2"},
            }
        ],
    }
    return JsonReply(body, status=402)


def payment_problem(header: str) -> str | None:
    """Why an X-PAYMENT value is not a well-formed x402 v1 `exact` payment for the challenge, or None."""
    try:
        payment = json.loads(base64.b64decode(header.strip(), validate=True))
    except (binascii.Error, ValueError, RecursionError):
        return f"{PAYMENT_HEADER} is not base64-encoded JSON"
    if not isinstance(payment, dict):
        return f"{PAYMENT_HEADER} is not a JSON object"
    if payment.get("x402Version") != _VERSION:
        return f"{PAYMENT_HEADER}: x402Version must be {_VERSION}"
    if payment.get("scheme") != _SCHEME or payment.get("network") != _NETWORK:
        return f"{PAYMENT_HEADER}: scheme/network must be {_SCHEME}/{_NETWORK}, as the challenge accepts"
    inner = payment.get("payload")
    authorization = inner.get("authorization") if isinstance(inner, dict) else None
    signature = inner.get("signature") if isinstance(inner, dict) else None
    if not isinstance(signature, str) or not _HEX.match(signature):
        return f"{PAYMENT_HEADER}: payload.signature must be a 0x-hex string"
    if not isinstance(authorization, dict) or any(k not in authorization for k in _AUTHORIZATION):
        return f"{PAYMENT_HEADER}: payload.authorization needs {', '.join(_AUTHORIZATION)}"
    if str(authorization["to"]).lower() != _PAY_TO.lower():
        return f"{PAYMENT_HEADER}: the authorization does not pay the challenge's payTo"
    value = authorization["value"]
    if not isinstance(value, str) or not value.isdigit() or int(value) < _AMOUNT:
        return f"{PAYMENT_HEADER}: authorization.value must be at least {_AMOUNT}"
    return None


def payment_receipt() -> str:
    """Value of `X-PAYMENT-RESPONSE` on an accepted paid request (base64 JSON settlement)."""
    settlement = {"success": True, "transaction": "0x" + "ab" * 32, "network": _NETWORK, "payer": _PAY_TO}
    return base64.b64encode(json.dumps(settlement).encode()).decode()
