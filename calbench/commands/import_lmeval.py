"""``calbench import-lmeval``: turn lm-eval sample logs of calbench's task pack into calbench samples and a
run manifest with bootstrap CIs."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from calbench.argcheck import positive_int


def register(sub) -> None:
    from calbench.metrics import DEFAULT_BINS, DEFAULT_EPS, POLICIES

    p = sub.add_parser(
        "import-lmeval", help="import lm-eval --log_samples output of calbench tasks (samples + run.json)",
        description="Read lm-eval sample logs (samples_calbench_<task>_<time>.jsonl, from --log_samples) -- a "
        "results folder is searched recursively -- re-parse and re-judge every reply with calbench, check the "
        "per-sample items and aggregated metrics lm-eval logged, and write samples.jsonl and run.json (metrics "
        "with 95%% bootstrap CIs) to --out, or to --out/<task>/ when several tasks are imported.")
    p.add_argument("inputs", nargs="+", type=Path, metavar="RESULTS_DIR|samples_*.jsonl")
    p.add_argument("--out", required=True, type=Path, help="output folder")
    p.add_argument("--model-name", help="model id for the records (default: pretrained= of lm-eval's model_args)")
    p.add_argument("--policy", choices=POLICIES, default="exclude", help="parse-failure policy (default exclude)")
    p.add_argument("--bins", type=positive_int, default=DEFAULT_BINS, help="ECE bins (default 10)")
    p.add_argument("--eps", type=float, default=DEFAULT_EPS, help="log-score clipping (default 0.001)")
    p.add_argument("--resamples", type=positive_int, default=1000, help="bootstrap resamples (default 1000)")
    p.add_argument("--seed", type=int, default=0, help="bootstrap seed (default 0)")
    p.add_argument("--no-plots", action="store_true", help="skip the reliability diagram")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from calbench.errors import UserError
    from calbench.summary import print_summary
    from calbench.lmeval.importer import import_logs

    if args.bins < 1 or args.resamples < 1:
        raise UserError("--bins and --resamples must be positive integers")
    written = import_logs(args.inputs, args.out, model=args.model_name, policy=args.policy, bins=args.bins,
                          eps=args.eps, n_resamples=args.resamples, seed=args.seed, plots=not args.no_plots)
    print_summary([m for _, m in written], file=sys.stdout)
    for folder, m in written:
        check = m["lmeval"]["check_against_pack_settings"]
        if not check["checked"]:
            note = "no lm-eval results file beside the samples: metrics not cross-checked"
        elif check["agree"]:
            note = f"lm-eval's reported {', '.join(check['checked'])} equal calbench's"
        else:
            note = f"WARNING: lm-eval reported different values: {check['differences']}"
        print(f"wrote {folder}/samples.jsonl and {folder}/run.json ({note})")
    return 0
