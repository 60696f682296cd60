"""chatcert's conformance suites: one pytest file per area, each test one registered check.

Run them with ``pytest suites [--endpoint URL] [--profile NAME]``; they use chatcert's public API only.
"""
