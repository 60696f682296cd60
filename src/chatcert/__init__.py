"""chatcert: certify OpenAI-compatible (vision) chat-completions endpoints and measure their latency."""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
