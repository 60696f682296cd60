"""Suite: the transport checks, one test per registered check id."""

import pytest

from chatcert.pytest_plugin import area_test

pytestmark = [pytest.mark.conformance]

test_transport = area_test("transport")
