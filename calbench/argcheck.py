"""Command-line argument checks that run before anything is loaded or written.

Number arguments are checked by argparse itself (``type=positive_int`` etc.), so a bad value stops the
command at once with exit code 2 and one line naming the option. :func:`check_eval_args` checks what needs
several arguments together (the output folder is checked by :func:`calbench.runner.check_out_folder` before the
model loads). This is the CLI's module: the library never imports it (``tests/test_architecture.py``).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from calbench.errors import UserError


def _number(text: str, convert: type, ok, expected: str, must: str):
    """``convert(text)`` if ``ok`` holds for it, else an ``argparse.ArgumentTypeError`` saying what was wanted."""
    try:
        value = convert(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}") from None
    if not ok(value):
        raise argparse.ArgumentTypeError(f"must be {must}, got {text}")
    return value


def positive_int(text: str) -> int:
    """An integer >= 1 (argparse ``type``)."""
    return _number(text, int, lambda v: v >= 1, "a positive integer", "a positive integer")


def nonnegative_float(text: str) -> float:
    """A finite float >= 0 (argparse ``type``)."""
    return _number(text, float, lambda v: 0 <= v < float("inf"), "a number", "a number >= 0")


#: The value types a backend's ``flags`` may name by string (``"type": "positive_int"``): the library declares
#: options without importing the CLI.
VALUE_TYPES = {"positive_int": positive_int, "nonnegative_float": nonnegative_float}


def unit_interval(text: str) -> float:
    """A float in (0, 1] (argparse ``type``; e.g. a token-F1 threshold)."""
    return _number(text, float, lambda v: 0 < v <= 1, "a number in (0, 1]", "in (0, 1]")


#: The scoring options, in the order :func:`add_scoring_args` adds them.
SCORING_OPTIONS = ("policy", "bins", "eps", "resamples", "seed")


def add_scoring_args(
    p, which: tuple[str, ...] = SCORING_OPTIONS, *, seed_help: str = "bootstrap seed (default: 0)"
) -> None:
    """The scoring options of every command that scores samples, declared once: ``--policy`` (how unparsed
    replies count), ``--bins`` (ECE bins), ``--eps`` (log-score clipping), ``--resamples`` (bootstrap) and
    ``--seed``; ``which`` picks a subset. :func:`scoring_settings` reads them back. ``p`` is a parser or an
    argument group."""
    from calbench.metrics import DEFAULT_BINS, DEFAULT_EPS, POLICIES

    declared: dict[str, dict[str, Any]] = {
        "policy": dict(choices=POLICIES, default="exclude", help="how unparsed replies count (default: exclude)"),
        "bins": dict(
            type=positive_int,
            default=DEFAULT_BINS,
            help=f"ECE bins, equal-width (and equal-mass for ece_em) (default: {DEFAULT_BINS})",
        ),
        "eps": dict(type=float, default=DEFAULT_EPS, help=f"log-score clipping (default: {DEFAULT_EPS})"),
        "resamples": dict(type=positive_int, default=1000, help="bootstrap resamples (default: 1000)"),
        "seed": dict(type=int, default=0, help=seed_help),
    }
    unknown = set(which) - set(declared)
    if unknown:
        raise ValueError(f"unknown scoring option(s) {sorted(unknown)}; use {SCORING_OPTIONS}")
    for name in SCORING_OPTIONS:
        if name in which:
            p.add_argument(f"--{name}", **declared[name])


def scoring_settings(args: argparse.Namespace) -> dict:
    """The scoring options of :func:`add_scoring_args` as the keyword arguments of the library
    (``policy``, ``bins``, ``eps``, ``n_resamples``, ``seed``: ``EvalSettings``, ``summarize_samples``,
    ``import_logs`` ...); only the options the command declares."""
    out = {}
    for name in SCORING_OPTIONS:
        if hasattr(args, name):
            out["n_resamples" if name == "resamples" else name] = getattr(args, name)
    if "eps" in out and not 0 <= out["eps"] < 0.5:
        raise UserError(f"--eps must be in [0, 0.5); got {out['eps']}")
    return out


#: eval's options that only mean something with --data.
DATA_ONLY = ("question_field", "answer_field", "choices_field", "alias_sep", "id_field", "kind")


def check_eval_args(args: argparse.Namespace) -> None:
    """The checks of ``calbench eval`` that involve several arguments or the file system (no data loaded)."""
    if args.data and args.task:
        raise UserError(f"give --task or --data, not both (--task {args.task} would be ignored)")
    if not args.data:
        given = [f"--{k.replace('_', '-')}" for k in DATA_ONLY if getattr(args, k, None) is not None]
        if given:
            raise UserError(f"{', '.join(given)} only appl{'ies' if len(given) == 1 else 'y'} with --data FILE")
    if args.data and getattr(args, "ids", None):
        raise UserError("--ids applies to --task, not to --data (select your file's rows yourself)")
    if args.data and args.source != "bundled":
        raise UserError("--source applies to --task, not to --data")
    if getattr(args, "answers_verbatim", False) and not args.answers:
        raise UserError("--answers-verbatim applies with --answers FILE (a run's samples.jsonl)")
    from calbench.backends.base import backends

    if args.backend not in backends():
        raise UserError(f"unknown --backend {args.backend!r}; available: {', '.join(backends())}")
    if args.backend == "scripted" and not args.script:
        raise UserError("--backend scripted needs --script FILE (a JSON reply table)")
    if args.script and not Path(args.script).is_file():
        raise UserError(f"--script {args.script}: no such file")
    if args.out and Path(args.out).exists() and not Path(args.out).is_dir():
        raise UserError(f"--out {args.out} is a file, not a folder")
