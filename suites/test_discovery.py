"""Suite: the discovery checks, one test per registered check id."""

import pytest

from chatcert.pytest_plugin import area_test

pytestmark = [pytest.mark.conformance]

test_discovery = area_test("discovery")
