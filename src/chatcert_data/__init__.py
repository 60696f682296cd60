"""Locates chatcert's data folders (schemas, fixtures, profiles).

A wheel carries them inside this package; a source checkout keeps them at the
repository's top level. Nothing here imports the rest of chatcert, so the mock
server can find its data without touching the judge's code.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["data_dir"]

_HERE = Path(__file__).resolve().parent


def data_dir(name: str) -> Path:
    """Return the folder `name` (``schemas``, ``fixtures`` or ``profiles``)."""
    for candidate in (_HERE / name, _HERE.parents[1] / name):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"chatcert data folder {name!r} not found beside {_HERE}")
