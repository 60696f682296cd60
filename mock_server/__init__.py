"""chatcert's emulator of OpenAI-compatible (vision) chat-completions endpoints, one profile at a time.

It shares no code with the judge (checks, probes, engine): of chatcert it imports only the wire layer
(`chatcert.wire`: how images and data URLs are read off the wire) and finds its data through
`chatcert_data`; `tests/test_layers.py` holds that boundary.
Run it with `python -m mock_server --profile NAME` or `MockServer(NAME)`; tests use
`mock_server.fixtures`. The HTTP contract is in docs/architecture.md.
"""

from __future__ import annotations

from mock_server.app import DEFECT_HEADER, SCENARIO_HEADER, build_app
from mock_server.defects import DEFECTS, Defect, DefectContext, register
from mock_server.faults import FAULTS
from mock_server.profile import MockConfigError, Profile, load_profile
from mock_server.runner import MockServer, ServeOptions, serve_forever
from mock_server.scenarios import Scenario, ScenarioError, load_scenario_file, parse_scenario_header

__all__ = [
    "DEFECTS",
    "DEFECT_HEADER",
    "FAULTS",
    "SCENARIO_HEADER",
    "Defect",
    "DefectContext",
    "MockConfigError",
    "MockServer",
    "Profile",
    "Scenario",
    "ScenarioError",
    "ServeOptions",
    "build_app",
    "load_profile",
    "load_scenario_file",
    "parse_scenario_header",
    "register",
    "serve_forever",
]
