"""Suite: the faults checks, one test per registered check id."""

import pytest

from chatcert.pytest_plugin import area_test

pytestmark = [pytest.mark.mock_only]

test_faults = area_test("faults")
