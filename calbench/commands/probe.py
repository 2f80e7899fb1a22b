"""``calbench probe fit``: fit a probe (logistic regression on the hidden state at the answer's last token) on
labelled answers, for ``calbench eval --method probe --probe FILE``.

    calbench probe fit --model smollm2-135m-instruct --task triviaqa --split train \\
        --answers runs/tqa-train/answers.jsonl --judge-containment --out probes/triviaqa.json

The answers file is any file ``eval --answers`` reads (JSONL/CSV with id and answer, or a run's samples): every
question of ``--split`` that has an answer there is a labelled example, judged by the task's judge (the same
flags as ``eval``). For a fair comparison with a trained confidence model, give it the answers the trainer
trained on (its ``answers.jsonl``). The layer is chosen by cross-validation on these labels only
(:mod:`calbench.probe`); the file records it, the cross-validation table, the model's sha256 and the answers
file's sha256.
"""

from __future__ import annotations

import argparse
import sys

from calbench.argcheck import positive_int, unit_interval
from calbench.errors import UserError


def register(sub) -> None:
    from calbench.commands.eval import add_model_args

    p = sub.add_parser(
        "probe",
        help="fit a hidden-state probe on labelled answers (for --method probe)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    actions = p.add_subparsers(dest="action", required=True)
    f = actions.add_parser(
        "fit", help="fit a probe", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    add_model_args(f)
    f.add_argument("--task", required=True, help="task name (see `calbench tasks`)")
    f.add_argument("--split", help="split of the labelled answers (default: the task's training split)")
    f.add_argument("--answers", required=True, metavar="FILE", help="the answers to label (id and answer)")
    f.add_argument("--limit", type=positive_int, help="use at most N labelled answers (a seeded sample)")
    f.add_argument(
        "--ids",
        metavar="FILE",
        help="fit on the questions this file names (one id per line, as `calbench eval --ids`; --limit: its first N)",
    )
    f.add_argument(
        "--exclude",
        metavar="FILE",
        action="append",
        default=[],
        help="an answers file whose ids are left out (e.g. the trainer's held-out questions)",
    )
    f.add_argument("--layers", help="candidate layers, comma separated (default: every layer)")
    f.add_argument("--folds", type=positive_int, default=5, help="cross-validation folds (default: 5)")
    f.add_argument("--C", type=float, default=0.1, help="inverse L2 strength of the regression (default: 0.1)")
    f.add_argument("--seed", type=int, default=0)
    f.add_argument("--judge-containment", action="store_true", help="as in `calbench eval`")
    f.add_argument("--judge-f1", type=unit_interval, metavar="T", help="as in `calbench eval`")
    f.add_argument("--out", required=True, help="the probe file to write (JSON)")
    f.set_defaults(func=run_fit)


def run_fit(args: argparse.Namespace) -> int:
    import numpy as np

    from calbench.answers import file_sha256, load_answers
    from calbench.backends import make_backend
    from calbench.commands.eval import backend_options
    from calbench.judge import judge_for
    from calbench.methods.base import fixed_reply
    from calbench.probe import fit_probe
    from calbench.tasks import get_task, select, select_ids

    task = get_task(args.task)
    split = args.split or task.train_split or task.default_split
    answers = load_answers(args.answers)
    excluded: set[str] = set()
    for path in args.exclude:
        excluded |= set(load_answers(path))
    pool = select_ids(task.load(split), args.ids) if args.ids else select(task.load(split), None, args.seed)
    examples = [e for e in pool if e.id in answers and e.id not in excluded]
    if args.limit:
        examples = examples[: args.limit]
    if not examples:
        raise UserError(f"{args.answers} has no answer for a question of {task.name}/{split}")
    judge_settings = dict(task.judge_settings or {})
    if args.judge_containment:
        judge_settings["containment"] = True
    if args.judge_f1 is not None:
        judge_settings["f1_threshold"] = args.judge_f1
    judge = judge_for(task.kind, **judge_settings)
    labels = [int(bool(answers[e.id]) and bool(judge(answers[e.id], e))) for e in examples]
    backend = make_backend(args.backend, args.model, **backend_options(args))
    if not hasattr(backend, "answer_hidden_states"):
        raise UserError(f"the {args.backend!r} backend gives no hidden states; use --backend hf")
    replies = [fixed_reply(e, answers[e.id], task.kind) for e in examples]
    print(
        f"probe: {len(examples)} labelled answers ({sum(labels)} right); reading hidden states ...",
        file=sys.stderr,
        flush=True,
    )
    feats = []
    chunk = 256
    from tqdm.auto import tqdm

    for start in tqdm(range(0, len(replies), chunk), desc="hidden states", file=sys.stderr):
        part = replies[start : start + chunk]
        feats.append(backend.answer_hidden_states([p for p, _ in part], [g.text for _, g in part]))
    layers = [int(x) for x in args.layers.split(",")] if args.layers else None
    probe = fit_probe(
        np.concatenate(feats),
        labels,
        layers=layers,
        C=args.C,
        folds=args.folds,
        seed=args.seed,
        model_sha256=getattr(getattr(backend, "resolved", None), "sha256", None),
        labels_record={
            "task": task.name,
            "split": split,
            "answers": str(args.answers),
            "answers_sha256": file_sha256(args.answers),
            "n": len(labels),
            "excluded_files": list(args.exclude),
            **({"ids": str(args.ids), "ids_sha256": file_sha256(args.ids)} if args.ids else {}),
            "judge": {"name": judge.name, **judge.settings},
        },
    )
    probe.save(args.out)
    cv = probe.cv[str(probe.layer)]
    print(
        f"probe: layer {probe.layer} chosen by {args.folds}-fold cross-validation (log loss {cv['log_loss']:.4f}, "
        f"AUROC {cv['auroc']:.3f}); wrote {args.out}"
    )
    return 0
