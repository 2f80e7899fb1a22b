"""``calbench report``: compare runs side by side (reliability diagrams, paired differences against the first
run with multiple-comparison correction, per-domain breakdown, run settings) as self-contained HTML or
Markdown."""

from __future__ import annotations

import argparse
import sys

from calbench.argcheck import add_scoring_args, scoring_settings
from calbench.errors import UserError


def register(sub) -> None:
    p = sub.add_parser(
        "report", help="compare runs: diagrams, paired differences, significance (html or md)", description=__doc__
    )
    p.add_argument(
        "runs",
        nargs="+",
        metavar="RUN",
        help="run folder, FOLDER#METHOD for one method of a multi-method run, or a folder of runs; "
        "the first system is the reference",
    )
    p.add_argument("--out", required=True, help="output file, .html (self-contained) or .md")
    p.add_argument(
        "--correction",
        default="holm",
        choices=["holm", "bh", "none"],
        help="multiple-comparison correction: holm (Holm-Bonferroni, default), bh (Benjamini-Hochberg)",
    )
    p.add_argument("--alpha", type=float, default=0.05, help="significance level (default: 0.05)")
    p.add_argument("--power", type=float, default=0.8, help="power for the questions-needed estimate (default: 0.8)")
    add_scoring_args(p, ("resamples", "seed"))
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from calbench.records import DataError
    from calbench.reporting.render import write_report
    from calbench.reporting.report import build_report

    if not args.out.lower().endswith((".html", ".htm", ".md")):
        raise UserError(f"--out must end in .html or .md; got {args.out!r}")
    if not 0 < args.alpha < 1 or not 0 < args.power < 1:
        raise UserError("--alpha and --power must be in (0, 1)")
    try:
        report = build_report(
            args.runs, correction=args.correction, alpha=args.alpha, power=args.power, **scoring_settings(args)
        )
    except DataError as e:
        raise UserError(str(e)) from None
    path = write_report(report, args.out)
    print(
        f"report: {len(report.systems)} system(s) x {len(report.tasks)} task(s), reference "
        f"{report.labels[report.reference]}"
    )
    for s in report.skipped:
        print(f"skipped: {s}", file=sys.stderr)
    print(f"wrote {path}")
    return 0
