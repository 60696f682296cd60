"""Suite: the errors checks, one test per registered check id."""

import pytest

from chatcert.pytest_plugin import area_test

pytestmark = [pytest.mark.errors]

test_errors = area_test("errors")
