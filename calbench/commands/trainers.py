"""``calbench trainers``: list the trainer plugins registered under the ``calbench.trainers`` entry points."""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("trainers", help="list registered trainer plugins")
    p.add_argument("-v", "--verbose", action="store_true", help="also print each trainer's default settings")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from calbench.training import TrainerError, discover_trainers

    entries = discover_trainers()
    if not entries:
        print("no trainers registered (install calbench with `pip install -e .` to register the built-in one)")
        return 0
    status = 0
    for name, entry in entries.items():
        try:
            cls = entry.load()
        except TrainerError as e:
            print(f"{name:20s} [failed to load] {e}")
            status = 1
            continue
        print(f"{name:20s} {cls.description}  ({entry.target}, package {entry.distribution})")
        if args.verbose:
            for key, value in cls().default_config().items():
                print(f"    {key}: {value}")
    return status
