"""LibertAI's x402 "402 Payment Required" flow: the v1 challenge body and the paid resubmission."""

from __future__ import annotations

import base64
import json
from typing import Any

from mock_server.exchange import Exchange
from mock_server.replies import JsonReply

__all__ = ["PAYMENT_HEADER", "payment_receipt", "payment_required"]

PAYMENT_HEADER = "X-PAYMENT"
_NETWORK = "base"
_ASSET = "0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913"  # USDC on Base, as x402 examples use
_PAY_TO = "0x000000000000000000000000000000000000c4a7"


def payment_required(ex: Exchange) -> JsonReply:
    """The x402 v1 challenge for this request's resource."""
    body: dict[str, Any] = {
        "x402Version": 1,
        "error": f"{PAYMENT_HEADER} header is required",
        "accepts": [
            {
                "scheme": "exact",
                "network": _NETWORK,
                "maxAmountRequired": "1000",
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


def payment_receipt() -> str:
    """Value of `X-PAYMENT-RESPONSE` on an accepted paid request (base64 JSON settlement)."""
    settlement = {"success": True, "transaction": "0x" + "ab" * 32, "network": _NETWORK, "payer": _PAY_TO}
    return base64.b64encode(json.dumps(settlement).encode()).decode()
