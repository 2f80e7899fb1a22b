"""``calbench tasks``: list the registered tasks with their splits, sizes, source and licence."""

from __future__ import annotations

import argparse
import json
from typing import Any


def register(sub) -> None:
    p = sub.add_parser("tasks", help="list tasks with split sizes, source and licence")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from calbench.tasks import all_tasks

    rows: list[dict[str, Any]] = []
    for name, t in sorted(all_tasks().items()):
        sizes = {s: len(t.load(s)) for s in t.splits}
        rows.append(
            {
                "task": name,
                "kind": t.kind,
                "group": t.group,
                "default_split": t.default_split,
                "train_split": t.train_split,
                "splits": sizes,
                "source": t.source,
                "licence": t.license,
                "hub": t.hub_id,
                "description": t.description,
                "notes": t.notes if t.group != "user" else "",
            }
        )
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    for r in rows:
        splits = ", ".join(f"{s}={n:,}" + ("*" if s == r["default_split"] else "") for s, n in r["splits"].items())
        print(f"{r['task']}  [{r['kind']}, {r['group']}]  {r['description']}")
        print(f"    splits: {splits}   (* = default evaluation split; train pool: {r['train_split']})")
        print(f"    source: {r['source']}")
        print(f"    licence: {r['licence']}   hub: {r['hub']}")
        if r["notes"]:
            print(f"    note: {r['notes']}")
    return 0
