"""``calbench lmeval-path``: print the folder to pass to lm-eval's ``--include_path`` (calbench's task pack)."""

from __future__ import annotations

import argparse


def register(sub) -> None:
    p = sub.add_parser(
        "lmeval-path",
        help="print the lm-eval --include_path of calbench's task pack",
        description="Print the folder holding calbench's lm-eval task YAMLs, for "
        '`lm-eval run --include_path "$(calbench lmeval-path)" --tasks calbench_triviaqa ...`. '
        "Tasks are named calbench_<task>; tags: calbench, calbench_in_domain, calbench_unseen.",
    )
    p.add_argument("--list", action="store_true", help="list the lm-eval task names and tags instead")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from calbench.errors import UserError
    from calbench.lmeval.pack import include_path, lmeval_task_name, tags_for, write_pack
    from calbench.tasks import all_tasks

    stale = write_pack(check=True)
    if stale:
        raise UserError(
            f"the lm-eval pack is stale or incomplete ({', '.join(map(str, stale))}); "
            "run: python -m calbench.lmeval.pack --write"
        )
    if args.list:
        for name, spec in all_tasks().items():
            print(f"{lmeval_task_name(name):26s} tags: {', '.join(tags_for(spec))}")
        return 0
    print(include_path())
    return 0
