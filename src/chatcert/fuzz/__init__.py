"""Property-based payloads: generators (valid, invalid, images), the budget-aware search, verdicts, replay.

The public face is `chatcert.strategies`; the fuzz checks live in `chatcert.checks.fuzz`.
"""
