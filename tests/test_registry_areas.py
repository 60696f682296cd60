"""`--area` offers exactly the areas that hold checks: an offered area that selects nothing is a lie."""

from __future__ import annotations

from chatcert.registry import AREAS, all_checks


def test_every_offered_area_holds_a_check_and_every_check_is_in_an_offered_area() -> None:
    used = {c.area for c in all_checks()}
    assert set(AREAS) == used, {"offered, empty": set(AREAS) - used, "used, not offered": used - set(AREAS)}
