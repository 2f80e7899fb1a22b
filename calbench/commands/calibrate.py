"""``calbench calibrate``: fit a post-hoc scaler on one run's samples (the calibration split) and apply it to
another run's samples (the test split), writing a new, scored run.

    calbench calibrate --fit runs/triviaqa-train --apply runs/triviaqa-eval --scaler platt --out runs/eval-platt

Each confidence method of the test run gets its own scaler, fitted on the same method's samples of the
calibration run; the new run's methods are named ``<method>+<scaler>`` (e.g. ``ptrue+platt``), each sample
keeps its original confidence in ``raw_confidence``, and run.json records the scaler, its learned
parameters and the calibration run it came from. The two runs must come from the same model and share no
example (a scaler is never fitted on test data).

``--stated-scale 0-10`` then rounds each calibrated probability to the level of that confidence scale with the
best expected log score (methods ``<method>+<scaler>@0-10``): the best a model that *states* its confidence on
the scale could say with the method's information, e.g. a ceiling for a trained model's stated confidence.
"""

from __future__ import annotations

import argparse
import sys

from calbench.argcheck import positive_int


def register(sub) -> None:
    p = sub.add_parser(
        "calibrate",
        help="fit a post-hoc scaler on a calibration run, apply it to a test run",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--fit", required=True, metavar="CAL_RUN_DIR", help="run folder of the calibration split")
    p.add_argument("--apply", required=True, metavar="TEST_RUN_DIR", help="run folder of the test split")
    p.add_argument(
        "--scaler",
        "--method",
        dest="scaler",
        default="platt",
        help="platt, temperature, isotonic or histogram (default: %(default)s)",
    )
    p.add_argument(
        "--confidence-methods",
        help="comma-separated methods of the runs to calibrate (default: every method of the test run)",
    )
    p.add_argument("--bins", type=positive_int, default=10, help="histogram scaler: number of bins (default: 10)")
    p.add_argument(
        "--allow-other-model",
        action="store_true",
        help="allow a calibration run of a different model (normally refused)",
    )
    p.add_argument(
        "--stated-scale",
        choices=["0-10", "0-100"],
        metavar="SCALE",
        help="round each calibrated probability to the level of this stated scale (0-10 or 0-100) "
        "with the best expected log score; methods are named <method>+<scaler>@<scale>",
    )
    p.add_argument(
        "--label",
        help="name the methods <method>+<LABEL> instead of <method>+<scaler>, e.g. platt-4800 for a scaler fitted "
        "on 4,800 labels beside the usual one (the leaderboard tells systems apart by method name)",
    )
    p.add_argument("--no-plots", action="store_true", help="skip the reliability diagrams")
    p.add_argument("--out", required=True, help="output folder for the calibrated run")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from calbench.calibrate import calibrate_runs
    from calbench.summary import print_summary

    methods = [m.strip() for m in args.confidence_methods.split(",")] if args.confidence_methods else None
    manifest = calibrate_runs(
        args.fit,
        args.apply,
        args.scaler,
        args.out,
        methods=methods,
        bins=args.bins,
        allow_other_model=args.allow_other_model,
        plots=not args.no_plots,
        stated_scale=args.stated_scale,
        label=args.label,
    )
    print_summary([manifest], file=sys.stdout)
    print(f"\nwrote {args.out}/samples.jsonl and {args.out}/run.json")
    return 0
