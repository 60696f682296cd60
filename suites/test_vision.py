"""Suite: the vision checks, one test per registered check id."""

import pytest

from chatcert.pytest_plugin import area_test

pytestmark = [pytest.mark.vision]

test_vision = area_test("vision")
