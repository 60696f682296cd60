"""Defects for the non-stream response and usage that are not edits of one reply: a crash, and a count
compared across two probes. The rest are declared as data (fixtures/defects/response.json and
usage.json) and applied by defects.declared, the same declarations the mock serves live."""

from __future__ import annotations

from defects.fakes import Defect, Probes, json_set, refused

D = Defect


def _image_not_counted(probes: Probes) -> None:
    baseline = probes["vision_text_baseline"].exchanges[0].json()["usage"]
    edit = json_set(("usage",), dict(baseline))
    edit(probes["vision_png"].exchanges[0])


RESPONSE: list[Defect] = []

USAGE = [
    D("usage_present", "status_500", refused("chat_basic", code=500), "500"),
    D("usage_counts_image_tokens", "image_not_counted", _image_not_counted, "image not counted"),
]
