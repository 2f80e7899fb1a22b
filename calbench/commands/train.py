"""``calbench train``: fine-tune a model with a registered trainer plugin (see :mod:`calbench.training`)."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "train",
        help="train a model (LoRA) with a trainer plugin, e.g. rewarding-doubt",
        description="Train a model with a registered trainer plugin (list them with `calbench trainers`). "
        "The adapter lands in OUT/adapter; evaluate it with `calbench eval --adapter OUT/adapter`.",
    )
    p.add_argument("--trainer", required=True, help="registered trainer name (see `calbench trainers`)")
    p.add_argument("--model", required=True, help="model id, local directory or packaged name")
    p.add_argument("--task", required=True, help="training task (its training split is used)")
    p.add_argument("--config", type=Path, default=None, help="YAML file of trainer settings")
    p.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override one config setting (repeatable), e.g. --set max_steps=200",
    )
    p.add_argument("--out", type=Path, required=True, help="output directory (checkpoints, logs, adapter)")
    p.add_argument("--resume", action="store_true", help="continue from the last checkpoint under --out")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from calbench.training import TrainRequest, apply_overrides, get_trainer, load_config

    # a TrainerError is a calbench.errors.UserError: the CLI prints it as one line, exit code 2
    trainer = get_trainer(args.trainer)
    config = apply_overrides(load_config(args.config), args.overrides)
    request = TrainRequest(model=args.model, task=args.task, out_dir=args.out, config=config, resume=args.resume)
    result = trainer.train(request)
    print(f"adapter: {result.adapter_dir}")
    if result.log_path:
        print(f"log:     {result.log_path}")
    for name, value in result.metrics.items():
        print(f"  {name:>24s} {value:.4f}")
    return 0
