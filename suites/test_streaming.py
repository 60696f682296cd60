"""Suite: the streaming checks, one test per registered check id."""

import pytest

from chatcert.pytest_plugin import area_test

pytestmark = [pytest.mark.streaming]

test_streaming = area_test("streaming")
