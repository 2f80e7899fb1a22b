"""``calbench study plan|run STUDY.yaml``: an experiment as one file. ``plan`` lists every step with its status
(done, partial, to do, waiting for an input, changed) and the command it runs, executing nothing; ``run`` runs
the steps that are not done, stage by stage, and resumes where an earlier run stopped.

    calbench study plan results/training/rd-smollm2-triviaqa-pass2/study.yaml
    calbench study run results/training/rd-smollm2-triviaqa-pass2/study.yaml --stage tables

Stages, in order: answers (the base model's answers on each fixed answer set, with the baselines), probes
(probes fitted on labelled answers), train, evaluate (the trained model on the answer sets), unseen (the same on
unseen domains), checkpoints, scalers, tables (comparison tables, reports, level gaps). Every step writes an
ordinary run folder or file; a folder made elsewhere (e.g. on a GPU machine) and copied in counts as done. The
file format: docs/studies.md.
"""

from __future__ import annotations

import argparse
import sys


def register(sub) -> None:
    p = sub.add_parser(
        "study",
        help="plan or run a study file (an experiment: training, evaluations, tables)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    actions = p.add_subparsers(dest="action", required=True)
    pl = actions.add_parser(
        "plan",
        help="what will run and what is done; nothing is executed",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    pl.add_argument("study", help="the study file (YAML)")
    pl.add_argument("--stage", help="only this stage")
    pl.set_defaults(func=run_plan)
    r = actions.add_parser(
        "run",
        help="run the steps that are not done (resumes)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    r.add_argument("study", help="the study file (YAML)")
    r.add_argument(
        "--stage", help="run only this stage (answers, probes, train, evaluate, unseen, checkpoints, scalers, tables)"
    )
    r.add_argument(
        "--only",
        metavar="NAME[,NAME...]",
        help="run only these steps (the names of their run folders or output files); two runners of one study may "
        "run disjoint steps at once, e.g. one per core (a step another runner is running is skipped)",
    )
    r.set_defaults(func=run_study)


def _load(args: argparse.Namespace):
    """The study file, with ``--stage`` checked before anything runs."""
    from calbench import study

    if args.stage and args.stage not in study.STAGES:
        raise study.StudyError(f"--stage: no stage {args.stage!r} (stages: {', '.join(study.STAGES)})")
    return study.load(args.study)


def run_plan(args: argparse.Namespace) -> int:
    from calbench import study

    sys.stdout.write(study.plan_text(_load(args), args.stage))
    return 0


def run_study(args: argparse.Namespace) -> int:
    from calbench import study

    only = [n.strip() for n in args.only.split(",") if n.strip()] if args.only else None
    return study.run(_load(args), args.stage, log=lambda m: print(m, file=sys.stderr, flush=True), only=only)
