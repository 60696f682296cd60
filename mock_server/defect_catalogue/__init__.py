"""The defect catalogue: how real servers break the contract, one module per area, plus the defects
declared as data in `fixtures/defects/` (`declared.py`).

`CATALOGUE` lists every defect; `mock_server.defects` registers them at import.
"""

from __future__ import annotations

from mock_server.defect_catalogue.cases import CASES
from mock_server.defect_catalogue.declared import DECLARED
from mock_server.defect_catalogue.request import REQUEST
from mock_server.defect_catalogue.response import RESPONSE
from mock_server.defect_catalogue.routes import ANTHROPIC, COMPLETIONS, DISCOVERY, ERRORS, MODELS
from mock_server.defect_catalogue.streaming import STREAMING
from mock_server.defect_catalogue.tools import TOOLS
from mock_server.defect_catalogue.transport import TRANSPORT
from mock_server.defect_catalogue.vision import VISION
from mock_server.defects import Defect

__all__ = ["CATALOGUE"]

CATALOGUE: list[Defect] = [
    *TRANSPORT,
    *REQUEST,
    *CASES,
    *DECLARED,
    *RESPONSE,
    *STREAMING,
    *TOOLS,
    *VISION,
    *ERRORS,
    *MODELS,
    *COMPLETIONS,
    *ANTHROPIC,
    *DISCOVERY,
]
