"""``calbench checkpoint``: write a checkpoint of a training run as an adapter folder, to evaluate an earlier
step than the final adapter (``calbench eval --adapter OUT``)."""

from __future__ import annotations

import argparse
from pathlib import Path

from calbench.argcheck import positive_int


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "checkpoint",
        help="write a training checkpoint as an adapter folder (to evaluate an earlier step)",
        description=__doc__,
    )
    p.add_argument("--trainer", required=True, help="the trainer that ran it (see `calbench trainers`)")
    p.add_argument("run", type=Path, help="the training run's --out folder")
    p.add_argument("step", type=positive_int, help="the checkpoint's step (OUT/checkpoints/step-N)")
    p.add_argument("out", type=Path, help="the adapter folder to write")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from calbench.training import get_trainer

    print(get_trainer(args.trainer).export_checkpoint(args.run, args.step, args.out))
    return 0
