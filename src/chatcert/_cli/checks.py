"""`chatcert checks`: list the registered checks (and, with --by-source, the traceability map)."""

from __future__ import annotations

import argparse
import json
from typing import Any

from chatcert.registry import all_checks, all_probes


def register(sub: Any) -> None:
    p = sub.add_parser(
        "checks",
        help="list the registered checks",
        description="List every registered check: id, level, area, source. --json for machines; "
        "--by-source maps each seed requirement and catalogue rule to its checks.",
    )
    p.add_argument("--json", action="store_true", help="print JSON")
    p.add_argument(
        "--by-source",
        action="store_true",
        help="map seed requirements and catalogue rules (T1 ... PB1) to the checks that cover them",
    )
    p.set_defaults(func=run)


def describe() -> list[dict[str, Any]]:
    probes = all_probes()
    out = []
    for c in all_checks():
        requires = sorted(set(c.requires) | {r for p in c.probes for r in probes[p].requires})
        out.append(
            {
                "id": c.id,
                "area": c.area,
                "level": c.level.value,
                "strict_level": c.strict_level.value if c.strict_level else None,
                "source": c.source,
                "description": c.description,
                "rules": list(c.rules),
                "probes": list(c.probes),
                "requires": requires,
                "mock_only": c.mock_only or any(probes[p].mock_only for p in c.probes),
                "costly": c.costly or any(probes[p].costly for p in c.probes),
                "needs_key": c.needs_key,
                "requests": sum(probes[p].requests for p in c.probes),
            }
        )
    return out


def run(args: argparse.Namespace) -> int:
    if args.by_source:
        from chatcert.traceability import traceability

        doc = traceability()
        if args.json:
            print(json.dumps(doc, indent=1))
        else:
            for section in ("seeds", "catalogue"):
                print(f"== {section}")
                for item in doc[section]:
                    cover = ", ".join(item["checks"]) or f"(not covered: {item.get('reason', '')})"
                    print(f"{item['id']:<10} {item['text'][:70]:<72} -> {cover}")
        return 0
    rows = describe()
    if args.json:
        print(json.dumps(rows, indent=1))
        return 0
    print(f"{'id':<46} {'level':<8} {'area':<12} source")
    for r in rows:
        flags = "".join(f" [{f}]" for f in ("mock_only", "costly", "needs_key") if r[f])
        print(f"{r['id']:<46} {r['level']:<8} {r['area']:<12} {r['source'][:70]}{flags}")
    print(f"{len(rows)} checks")
    return 0
