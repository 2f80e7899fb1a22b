"""``calbench import-lmeval``: turn lm-eval sample logs of calbench's task pack into calbench samples and a
run manifest with bootstrap CIs."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from calbench.argcheck import add_scoring_args, scoring_settings


def register(sub) -> None:
    p = sub.add_parser(
        "import-lmeval",
        help="import lm-eval --log_samples output of calbench tasks (samples + run.json)",
        description="Read lm-eval sample logs (samples_calbench_<task>_<time>.jsonl, from --log_samples) -- a "
        "results folder is searched recursively -- re-parse and re-judge every reply with calbench, check the "
        "per-sample items and aggregated metrics lm-eval logged, and write samples.jsonl and run.json (metrics "
        "with 95%% bootstrap CIs) to --out, or to --out/<task>/ when several tasks are imported.",
    )
    p.add_argument("inputs", nargs="+", type=Path, metavar="RESULTS_DIR|samples_*.jsonl")
    p.add_argument("--out", required=True, type=Path, help="output folder")
    p.add_argument("--model-name", help="model id for the records (default: pretrained= of lm-eval's model_args)")
    add_scoring_args(p)
    p.add_argument("--no-plots", action="store_true", help="skip the reliability diagram")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from calbench.lmeval.importer import import_logs
    from calbench.summary import print_summary

    written = import_logs(
        args.inputs, args.out, model=args.model_name, plots=not args.no_plots, **scoring_settings(args)
    )
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
