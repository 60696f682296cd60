"""Reporters consume a run's events and results: terminal, results.json, JUnit, HTML, badge."""

from chatcert.reporting.certificate import certificate
from chatcert.reporting.console import ConsoleReporter
from chatcert.reporting.files import write_reports

__all__ = ["ConsoleReporter", "certificate", "write_reports"]
