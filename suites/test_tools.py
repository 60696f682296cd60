"""Suite: the tools checks, one test per registered check id."""

import pytest

from chatcert.pytest_plugin import area_test

pytestmark = [pytest.mark.tools]

test_tools = area_test("tools")
