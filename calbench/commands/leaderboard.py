"""``calbench leaderboard``: rank every complete run under some results folders (Markdown, CSV, HTML)."""

from __future__ import annotations

import argparse
import sys

from calbench.errors import UserError


def register(sub) -> None:
    p = sub.add_parser(
        "leaderboard", help="leaderboard of every run under results folders (md, csv, html)", description=__doc__
    )
    p.add_argument(
        "results",
        nargs="+",
        metavar="RESULTS_DIR",
        help="run folders or folders holding run folders (searched at any depth)",
    )
    p.add_argument(
        "--out",
        required=True,
        help="output folder (writes leaderboard.md/.csv/.html) or a file path whose stem names all three",
    )
    p.add_argument(
        "--rank-by", default="brier", help="metric to rank by (default: brier; a proper score: brier or log_score)"
    )
    p.add_argument(
        "--suite",
        metavar="FILE",
        help="tracks of comparable columns (YAML): write the compact, at-a-glance pages and the full tables as "
        "drill-down files (default: OUT/suite.yaml when it exists)",
    )
    p.add_argument("--strict", action="store_true", help="exit with status 1 if any folder was skipped")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from calbench.records import DataError
    from calbench.reporting.leaderboard import build, write

    try:
        lb = build(args.results, rank_by=args.rank_by)
    except DataError as e:
        raise UserError(str(e)) from None

    from calbench.reporting.leaderboard import output_paths

    suite = args.suite
    if suite is None and (default := output_paths(args.out)["md"].parent / "suite.yaml").is_file():
        suite = default
    try:
        paths = write(lb, args.out, suite=suite)
    except DataError as e:
        raise UserError(str(e)) from None
    n_entries = sum(len(c.entries) for c in lb.columns)
    print(f"leaderboard: {len(lb.rows)} system(s), {len(lb.columns)} task column(s), {n_entries} run(s)")
    for note in lb.notes:
        print(f"flag: {note}")
    if lb.skipped:
        print(f"skipped {len(lb.skipped)} folder(s):", file=sys.stderr)
        for s in lb.skipped:
            print(f"  - {s}", file=sys.stderr)
    for kind, path in paths.items():
        for one in path if isinstance(path, list) else [path]:
            print(f"wrote {one}")
    return 1 if args.strict and lb.skipped else 0
