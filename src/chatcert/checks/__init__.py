"""The check catalogue. Importing this package registers every probe and check, one module per area."""

from chatcert.checks import (  # noqa: F401
    anthropic,
    cases,
    completions,
    discovery,
    errors,
    faults,
    fuzz,
    probes,
    providers,
    request,
    response,
    streaming,
    tools,
    transport,
    usage,
    vision,
)
