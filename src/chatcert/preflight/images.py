"""What MIME type the job script gives a file, here and on board. Reading the image itself is the
wire layer's (`chatcert.wire.images.read_image`, the mock's reader too), re-exported here."""

from __future__ import annotations

import mimetypes
import os

from chatcert.preflight.stdlib310 import IMAGE_TYPES_310
from chatcert.wire.images import ImageError, ImageInfo, read_image

__all__ = [
    "FALLBACK_MIME",
    "ImageError",
    "ImageInfo",
    "guess_mime_local",
    "guess_mime_onboard",
    "read_image",
]

# What the seed's script sends when mimetypes cannot tell.
FALLBACK_MIME = "image/jpeg"


def guess_mime_local(path: str) -> str:
    """What the script's `mimetypes.guess_type(path)[0] or "image/jpeg"` gives on THIS machine."""
    return mimetypes.guess_type(path)[0] or FALLBACK_MIME


def guess_mime_onboard(path: str) -> str:
    """What the same expression gives in python:3.10-slim, which has only CPython 3.10's built-in table.

    Non-image types are taken from this machine (the 3.10 table agrees on those that matter: a
    non-image MIME type is wrong for an image whichever table says it).
    """
    ext = os.path.splitext(path)[1]
    onboard = IMAGE_TYPES_310.get(ext) or IMAGE_TYPES_310.get(ext.lower())
    if onboard:
        return onboard
    local = mimetypes.guess_type(path)[0]
    if local and not local.startswith("image/"):
        return local
    return FALLBACK_MIME
