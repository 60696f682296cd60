"""Vision: data URLs in every format, part orders, several images, and what must be refused."""

from __future__ import annotations

from typing import Any

from chatcert.checks._util import NOT_ABOUT_CONTENT, expect_client_error, expect_text_answer
from chatcert.checks.probes import image_part, png_url, text_part, vision_probe
from chatcert.context import DEFAULT_MAX_TOKENS, CheckContext, ProbeContext
from chatcert.fetchtrap import FetchTrap, is_loopback_target
from chatcert.images import data_url, fixture_image, make_png
from chatcert.profiles import Profile
from chatcert.registry import Level, check, probe

# -- probes: the requests these checks read ------------------------------------------------------------

vision_probe(
    "vision_text_first",
    "text before image",
    lambda ctx: [text_part("Describe this image."), image_part(png_url())],
)
vision_probe(
    "vision_mime_mismatch",
    "JPEG bytes declared as image/png",
    lambda ctx: [image_part(data_url(fixture_image("jpeg"), "image/png")), text_part("Describe.")],
)
vision_probe(
    "vision_file_url",
    "file:// image URL",
    lambda ctx: [image_part("file:///chatcert-probe/no-such-image.png"), text_part("Describe this image.")],
)
vision_probe(
    "vision_external_url",
    "external https image URL",
    lambda ctx: [image_part("https://example.com/chatcert-probe.png"), text_part("Describe this image.")],
)
vision_probe(
    "vision_oversize_dimensions",
    "an image over the profile's pixel limit",
    lambda ctx: [
        image_part(data_url(make_png(int(ctx.profile.limit("max_image_width") or 4000) + 1, 1))),
        text_part("Describe this image."),
    ],
)


@probe("vision_url_fetch", tokens=DEFAULT_MAX_TOKENS, requires=("vision",))
def vision_url_fetch(ctx: ProbeContext) -> None:
    """An http image URL that points at a listener chatcert runs on loopback, to see who fetches it."""
    if not is_loopback_target(ctx.client.target.base_url):
        # A remote server would fetch its own loopback, which chatcert neither sees nor should probe.
        ctx.result.skipped = (
            "not exercised: the target is not on this host, so a loopback listener cannot see its fetches"
        )
        return
    with FetchTrap() as trap:
        ctx.chat(
            ctx.chat_body([image_part(trap.url), text_part("Describe this image.")]),
            label="http image URL to chatcert's loopback listener",
        )
        ctx.result.data["fetches"] = trap.wait()
    ctx.result.data["trap_url"] = trap.url


def _at_pixel_limit(ctx: ProbeContext) -> Any:
    # One colour: 4000x4000 deflates to about 53 KB (71 KB of base64), so this is no costly probe.
    width = int(ctx.profile.limit("max_image_width") or ctx.profile.limit("max_image_height") or 1)
    height = int(ctx.profile.limit("max_image_height") or width)
    return [image_part(data_url(make_png(width, height))), text_part("Describe this image.")]


vision_probe("vision_max_dimensions", "an image exactly at the profile's pixel limit", _at_pixel_limit)


@probe("vision_multi_turn", tokens=DEFAULT_MAX_TOKENS, requires=("vision",))
def vision_multi_turn(ctx: ProbeContext) -> None:
    """A follow-up question after an image turn."""
    body = ctx.chat_body("What colour was it?")
    body["messages"][:0] = [
        {"role": "user", "content": [image_part(png_url()), text_part("Describe this image.")]},
        {"role": "assistant", "content": "A small square."},
    ]
    ctx.chat(body, label="multi-turn after an image")


@probe("vision_oversize_request", tokens=DEFAULT_MAX_TOKENS, requires=("vision",), costly=True)
def vision_oversize_request(ctx: ProbeContext) -> None:
    """A request one MiB over the profile's byte limit."""
    limit = int(ctx.profile.limit("max_request_bytes") or 128 * 1024 * 1024)
    filler = "x" * (limit + 1024 * 1024)
    body = ctx.chat_body([image_part(png_url()), text_part(filler)])
    ctx.chat(body, label=f"request over {limit} bytes")


# -- checks --------------------------------------------------------------------------------------------

VISION = ("vision",)


def _external_rejected(profile: Profile) -> str | None:
    return (
        None
        if profile.limit("external_image_urls") == "rejected"
        else "profile does not forbid external images"
    )


def _checks_mime(profile: Profile) -> str | None:
    # No OpenAI rule forbids decoding JPEG bytes labelled image/png (servers sniff the bytes); only a
    # profile that promises MIME checking makes a mislabelled image a rejection.
    label = profile.limit("image_mime_label") or "unknown"
    return (
        None
        if label == "checked"
        else f"profile does not declare MIME checking (limits.image_mime_label: {label})"
    )


def _has_pixel_limit(profile: Profile) -> str | None:
    return (
        None
        if profile.limit("max_image_width") or profile.limit("max_image_height")
        else "profile states no pixel limit"
    )


def _any_part_order(profile: Profile) -> str | None:
    # Seed 000 asks for the image before the text; a server that holds its clients to that order
    # conforms to its profile, so a text-first request proves nothing there.
    return (
        "profile asks for the image before the text (limits.image_first_required)"
        if profile.limit("image_first_required")
        else None
    )


def _has_byte_limit(profile: Profile) -> str | None:
    return None if profile.limit("max_request_bytes") else "profile states no request size limit"


@check(
    area="vision",
    level=Level.MUST,
    requires=VISION,
    probes=("vision_text_first",),
    rules=("V2",),
    applies=_any_part_order,
    source="SEED-P curl example (text part first); SEED-B vision example",
)
def vision_text_first_accepted(ctx: CheckContext) -> None:
    """Text before the image is answered too."""
    expect_text_answer(ctx, "vision_text_first", "an image request")


@check(
    area="vision",
    level=Level.SHOULD,
    requires=VISION,
    probes=("vision_multi_turn",),
    rules=("V12",),
    source="vLLM test_vision multi-turn",
)
def vision_multi_turn_accepted(ctx: CheckContext) -> None:
    """A follow-up after an image turn is answered."""
    expect_text_answer(ctx, "vision_multi_turn", "an image request")


@check(
    area="vision",
    level=Level.SHOULD,
    requires=VISION,
    probes=("vision_mime_mismatch",),
    rules=("V5", "PL2"),
    applies=_checks_mime,
    source="profile limits.image_mime_label: checked; SEED-L MIME from mimetypes.guess_type (client side); "
    "catalogue PL2",
)
def vision_mime_mismatch_rejected(ctx: CheckContext) -> None:
    """Bytes that disagree with the declared MIME are rejected with a 4xx (profiles that check MIME)."""
    expect_client_error(ctx, "vision_mime_mismatch")


# What a server that opened the path says: Python's urlopen/open, C's strerror, Go's os.Open.
_FILE_READ_SIGNS = (
    "no such file",
    "errno 2",
    "enoent",
    "filenotfounderror",
    "urlopen error",
    "/chatcert-probe/no-such-image.png",
    "cannot open",
    "failed to open",
)


@check(
    area="vision",
    level=Level.MUST,
    requires=VISION,
    probes=("vision_file_url",),
    rules=("V7",),
    source="llama.cpp test_vision_api (local file)",
)
def vision_file_url_rejected(ctx: CheckContext) -> None:
    """A file:// image URL is rejected with a 4xx; a failure says when the server tried to read the file."""
    ex = ctx.ex("vision_file_url")
    if ex.status is not None and 400 <= ex.status < 500:
        return
    text = ex.text().lower()
    tried = ex.status is not None and ex.status >= 500 and any(sign in text for sign in _FILE_READ_SIGNS)
    ctx.fail(
        f"the server tried to read a local file for a file:// image URL (its {ex.status} names the path "
        "or the OS error): a client can make it open paths on its disk"
        if tried
        else f"expected a 4xx rejection, got {ex.status}",
        expected="4xx",
        actual=f"{ex.status} {ex.excerpt(300)}",
        exchange=ex,
    )


@check(
    area="vision",
    level=Level.SHOULD,
    requires=VISION,
    probes=("vision_url_fetch",),
    rules=("V6",),
    source="OWASP API Security Top 10 2023 API7 Server Side Request Forgery (a client-supplied URL fetched "
    "by the server reaches its internal addresses)",
)
def image_url_not_fetched_by_server(ctx: CheckContext) -> None:
    """The server does not fetch a client's http image URL pointing at loopback (local targets only)."""
    ex = ctx.ex("vision_url_fetch")
    fetches = ctx.probes["vision_url_fetch"].data.get("fetches") or []
    if fetches:
        first = fetches[0]
        ctx.fail(
            f"the server fetched the image URL itself ({first['method']} {first['path']} from "
            f"{first['from']}, User-Agent {first['user_agent']!r}): a client can make it request internal "
            "addresses",
            expected="no request to chatcert's loopback listener",
            actual=f"{len(fetches)} request(s) to {ctx.probes['vision_url_fetch'].data.get('trap_url')}",
            exchange=ex,
        )


@check(
    area="vision",
    level=Level.PROFILE,
    requires=VISION,
    probes=("vision_external_url",),
    rules=("V6", "PP1"),
    applies=_external_rejected,
    source="SEED-P 'External links to images are not supported'; SEED-L data: URL only",
)
def vision_external_url_rejected(ctx: CheckContext) -> None:
    """An external image link is rejected with a 4xx."""
    # 403: a server that will not fetch the URL may say so as "forbidden".
    expect_client_error(ctx, "vision_external_url", early=NOT_ABOUT_CONTENT - {403})


@check(
    area="vision",
    level=Level.PROFILE,
    requires=VISION,
    probes=("vision_oversize_dimensions",),
    rules=("V8", "PP1"),
    applies=_has_pixel_limit,
    source="SEED-P 'resolution of 4000x4000 pixels or smaller'",
)
def vision_oversize_dimensions_rejected(ctx: CheckContext) -> None:
    """An image over the profile's pixel limit is rejected with a 4xx."""
    expect_client_error(ctx, "vision_oversize_dimensions")


@check(
    area="vision",
    level=Level.PROFILE,
    requires=VISION,
    probes=("vision_max_dimensions",),
    rules=("V8", "PP1"),
    applies=_has_pixel_limit,
    source="SEED-P 'Input images need to be base64 encoded and have a resolution of 4000x4000 pixels or "
    "smaller'",
)
def vision_max_dimensions_accepted(ctx: CheckContext) -> None:
    """An image exactly at the profile's pixel limit (Pharia: 4000x4000) is answered."""
    expect_text_answer(ctx, "vision_max_dimensions", "an image request")


@check(
    area="vision",
    level=Level.PROFILE,
    requires=VISION,
    probes=("vision_oversize_request",),
    rules=("V8", "T9", "PP1"),
    applies=_has_byte_limit,
    costly=True,
    source="SEED-P 'the combined request size does not exceed 128MiB'",
)
def vision_oversize_request_rejected(ctx: CheckContext) -> None:
    """A request over the profile's byte limit is rejected with 413 or 400, not a 5xx or a timeout."""
    expect_client_error(ctx, "vision_oversize_request", allowed=(400, 413, 422))
