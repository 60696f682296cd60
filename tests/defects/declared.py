"""The declared defects (`fixtures/defects/<area>.json`), applied offline.

The mock serves a declaration by editing the successful replies of its route as it sends them
(mock_server/defect_catalogue/declared.py); here the same edits are applied to every captured
exchange that is such a reply, and each check the declaration names must fail with its evidence.
One declaration, two interpreters of the same `chatcert.wire.defects.apply_edits`.
"""

from __future__ import annotations

import json
from collections.abc import Collection
from typing import Any
from urllib.parse import urlsplit

from chatcert._models import Exchange
from chatcert.profiles import load_profile
from chatcert.wire.defects import DeclaredDefect, apply_edits, load_declared
from chatcert.wire.profiles import route_paths
from defects.fakes import Defect, Mutation, Probes, chunks, with_json


def _replies(probes: Probes, paths: Collection[str], media_type: str) -> list[Exchange]:
    """The successful replies of the route at `paths` (its own and its aliases'), of one media type,
    across every probe."""
    return [
        exchange
        for result in probes.values()
        for exchange in result.exchanges
        if exchange.status == 200
        and urlsplit(exchange.url).path in paths
        and exchange.media_type == media_type
        and not exchange.truncated
    ]


def _json_body(exchange: Exchange) -> bool:
    try:
        return isinstance(json.loads(exchange.body), dict)
    except ValueError:
        return False


def _each(docs: list[dict[str, Any]], declared: DeclaredDefect) -> None:
    for position, doc in enumerate(docs):
        apply_edits(doc, declared.chunks, position)


def declared_mutation(declared: DeclaredDefect, paths: Collection[str]) -> Mutation:
    """Edit every reply the mock would have edited: the bodies, and each JSON chunk of the streams."""

    def mutate(probes: Probes) -> None:
        if declared.body:
            for exchange in _replies(probes, paths, "application/json"):
                if _json_body(exchange):
                    with_json(exchange, lambda doc: apply_edits(doc, declared.body))
        if declared.chunks:
            edit = chunks(lambda docs: _each(docs, declared))
            for exchange in _replies(probes, paths, "text/event-stream"):
                edit(exchange)

    return mutate


def declared_defects(profile_path: str) -> list[Defect]:
    """One offline defect per (declaration, check it names), against the routes of `profile_path`."""
    profile = load_profile(profile_path)
    found: list[Defect] = []
    for declared in load_declared():
        paths = route_paths(profile.raw["routes"], declared.route)
        if not paths:
            raise LookupError(f"{declared.name}: the self-test profile has no {declared.route!r} route")
        mutation = declared_mutation(declared, {urlsplit(p).path for p in paths})
        found += [
            Defect(check, declared.name, mutation, evidence) for check, evidence in declared.catches.items()
        ]
    return found
