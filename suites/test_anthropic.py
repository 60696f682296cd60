"""Suite: the anthropic checks, one test per registered check id."""

import pytest

from chatcert.pytest_plugin import area_test

pytestmark = [pytest.mark.anthropic]

test_anthropic = area_test("anthropic")
