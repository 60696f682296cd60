"""Suite: the request checks, one test per registered check id."""

import pytest

from chatcert.pytest_plugin import area_test

pytestmark = [pytest.mark.conformance]

test_request = area_test("request")
