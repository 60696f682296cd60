#!/usr/bin/env python3
"""Ask the LiquidAI model on board Clustergate 2 about an image; print its answer.

Standard library only (urllib), Python 3.10+, so it runs unchanged in a python:3.10-slim container:

    python3 vlm_infer.py --server http://liquid-3b.dphi-public --image ./image.png --prompt "describe this"

Every request is paid: the script sends exactly one.
"""

from __future__ import annotations

import argparse
import base64
import json
import mimetypes
import sys
import urllib.error
import urllib.request
from typing import Any

ROUTE = "/v1/chat/completions"
TIMEOUT_S = 120  # the on-board model can be slow on a large image; never hang the job forever


def image_data_url(path: str) -> str:
    """Read an image and wrap it in a base64 data: URL, MIME type guessed from the file name."""
    mime = mimetypes.guess_type(path)[0] or "image/jpeg"
    with open(path, "rb") as handle:
        encoded = base64.b64encode(handle.read()).decode("ascii")
    return f"data:{mime};base64,{encoded}"


def build_payload(
    image_url: str, prompt: str, model: str, max_tokens: int, temperature: float
) -> dict[str, Any]:
    """The chat-completions body: one user message, the image part BEFORE the text part."""
    return {
        "model": model,
        "messages": [
            {
                "role": "user",
                "content": [
                    {"type": "image_url", "image_url": {"url": image_url}},
                    {"type": "text", "text": prompt},
                ],
            }
        ],
        "max_tokens": max_tokens,
        "temperature": temperature,
        "cache_prompt": False,
    }


def post_json(url: str, payload: dict[str, Any]) -> dict[str, Any]:
    """POST a JSON body and decode the JSON answer."""
    request = urllib.request.Request(
        url,
        data=json.dumps(payload).encode("utf-8"),
        headers={"Content-Type": "application/json", "Accept": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=TIMEOUT_S) as response:
        answer: dict[str, Any] = json.loads(response.read().decode("utf-8"))
    return answer


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Send an image plus a prompt to an OpenAI-compatible VLM.")
    parser.add_argument("--server", required=True, help="base URL, e.g. http://liquid-3b.dphi-public")
    parser.add_argument("--image", required=True, help="path of the image to describe")
    parser.add_argument("--prompt", required=True, help="the question about the image")
    parser.add_argument("--max-tokens", type=int, default=256, help="answer length cap (default 256)")
    parser.add_argument("--temperature", type=float, default=0.2, help="sampling temperature (default 0.2)")
    parser.add_argument("--model", default="local", help="model name (default: local)")
    args = parser.parse_args(argv)

    try:
        image_url = image_data_url(args.image)
    except OSError as exc:
        print(f"vlm_infer: cannot read image {args.image}: {exc}", file=sys.stderr)
        return 2
    payload = build_payload(image_url, args.prompt, args.model, args.max_tokens, args.temperature)
    url = args.server.rstrip("/") + ROUTE
    try:
        answer = post_json(url, payload)
    except urllib.error.HTTPError as exc:
        detail = exc.read().decode("utf-8", "replace")[:500]
        print(f"vlm_infer: HTTP {exc.code} from {url}: {detail}", file=sys.stderr)
        return 1
    except (urllib.error.URLError, TimeoutError) as exc:
        print(f"vlm_infer: cannot reach {url}: {exc}", file=sys.stderr)
        return 1
    except json.JSONDecodeError as exc:
        print(f"vlm_infer: the answer from {url} is not JSON: {exc}", file=sys.stderr)
        return 1
    try:
        content = answer["choices"][0]["message"]["content"]
    except (KeyError, IndexError, TypeError):
        print(f"vlm_infer: no choices[0].message.content in the answer: {answer!r:.500}", file=sys.stderr)
        return 1
    print(content)
    return 0


if __name__ == "__main__":
    sys.exit(main())
