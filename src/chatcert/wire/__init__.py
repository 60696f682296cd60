"""The wire layer: what both sides of the wire must agree on, with no judgement in it.

The mock server (`mock_server`) and the judge (`chatcert.checks`, the engine, preflight, bench) both
read images and `data:` URLs off the wire; one copy of that reading lives here so an emulator and its
judge cannot drift apart on what a PNG or a data URL is. The boundary that stays: this package imports
nothing from chatcert outside itself, and the mock imports nothing from chatcert but this package
(`tests/test_layers.py` holds both).
"""

from __future__ import annotations
