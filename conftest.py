"""Root wiring only: the mock server's fixtures.

chatcert's own plugin loads through its pytest11 entry point; naming it here too makes pytest refuse to start.
"""

pytest_plugins = ["mock_server.fixtures"]
