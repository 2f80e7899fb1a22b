"""``calbench eval``: evaluate a model's confidence on a task; write samples.jsonl and run.json."""

from __future__ import annotations

import argparse
import json
import sys

from calbench.argcheck import (
    VALUE_TYPES,
    add_scoring_args,
    nonnegative_float,
    positive_int,
    scoring_settings,
    unit_interval,
)
from calbench.errors import UserError
from calbench.summary import print_summary


def add_model_args(p: argparse.ArgumentParser) -> None:
    """The model options: the shared ones, ``--backend`` (from the backend registry) and each backend's own
    flags (``BackendSpec.flags``: ``--script``, ``--base-url`` ...)."""
    from calbench.backends.base import DEFAULT_BACKEND, backends

    g = p.add_argument_group("model")
    g.add_argument(
        "--model",
        default="smollm2-135m-instruct",
        help="Hugging Face id, local directory or packaged model name (default: %(default)s)",
    )
    g.add_argument("--adapter", help="directory of a LoRA adapter (peft) to apply to the model")
    g.add_argument(
        "--backend",
        default=DEFAULT_BACKEND,
        choices=list(backends()),
        metavar="NAME",
        help="; ".join(f"{s.name}: {s.description}" for s in backends().values()) + "; default: %(default)s",
    )
    g.add_argument("--device", help="cpu, cuda, cuda:1 ... (default: cuda if available)")
    g.add_argument("--dtype", help="float32, bfloat16 ... (default: bfloat16 on GPU, float32 on CPU)")
    g.add_argument("--batch-size", type=positive_int, help="generation batch size (default: 16 CPU, 128 GPU)")
    for spec in backends().values():
        for name, kwargs in spec.flags.items():
            if isinstance(kwargs.get("type"), str):  # a value type named by the backend (argcheck.VALUE_TYPES)
                kwargs = {**kwargs, "type": VALUE_TYPES[kwargs["type"]]}
            g.add_argument("--" + name.replace("_", "-"), **kwargs)
    g.add_argument(
        "--backend-option", action="append", default=[], metavar="KEY=VALUE", help="extra backend option (repeatable)"
    )


def backend_options(args: argparse.Namespace) -> dict:
    """The model options given (every option a backend declares, ``backends.base.model_options``) and the
    ``--backend-option KEY=VALUE`` ones; ``make_backend`` passes each backend the ones it takes."""
    from calbench.backends.base import model_options

    opts = {}
    for key in model_options():
        v = getattr(args, key, None)
        if v is not None:
            opts[key] = v
    for kv in args.backend_option:
        if "=" not in kv:
            raise UserError(f"--backend-option expects KEY=VALUE, got {kv!r}")
        k, v = kv.split("=", 1)
        try:  # numbers, true/false/null, JSON lists and objects; anything else (e.g. prefill=none) is a string
            opts[k.replace("-", "_")] = json.loads(v)
        except json.JSONDecodeError:
            opts[k.replace("-", "_")] = v
    return opts


def register(sub) -> None:
    p = sub.add_parser("eval", help="evaluate a model's stated confidence on a task", description=__doc__)
    add_model_args(p)
    g = p.add_argument_group("data")
    g.add_argument("--task", help="task name (see `calbench tasks`)")
    g.add_argument("--split", help="split (default: the task's evaluation split)")
    g.add_argument(
        "--source",
        default="bundled",
        choices=["bundled", "hub"],
        help="bundled data (default) or the full dataset from the Hugging Face hub",
    )
    g.add_argument("--limit", type=positive_int, help="evaluate N questions (a seeded random sample of the split)")
    g.add_argument(
        "--ids",
        metavar="FILE",
        help="evaluate the questions this file names (one id per line, in that order; --limit: its first N)",
    )
    g.add_argument("--data", help="your own dataset (.jsonl, .json or .csv) instead of --task")
    g.add_argument("--question-field", help="with --data: the question column")
    g.add_argument("--answer-field", help="with --data: the answer column")
    g.add_argument("--choices-field", help="with --data: the column of options (multiple choice)")
    g.add_argument("--alias-sep", help="with --data: separator of several accepted answers, e.g. '|'")
    g.add_argument("--id-field", help="with --data: a column of unique ids (default: the row number)")
    g.add_argument("--kind", choices=["open", "mc", "numeric"], help="with --data: the answer kind")
    g = p.add_argument_group("method")
    g.add_argument(
        "--method",
        default="two-stage",
        help="confidence method(s), comma separated (default: %(default)s; see --list-methods)",
    )
    g.add_argument("--scale", default="0-10", choices=["0-10", "0-100", "0-1"], help="verbalized scale")
    g.add_argument("--max-new-tokens", type=positive_int, help="answer generation budget (default by task kind)")
    g.add_argument(
        "--answers",
        metavar="FILE",
        help="use these answers instead of generating them: JSONL or CSV with 'id' and 'answer', or a "
        "previous run's samples.jsonl[.gz]; every question needs one (not with 'verbalized')",
    )
    g.add_argument(
        "--answers-verbatim",
        action="store_true",
        help="with --answers FILE from a run's samples.jsonl: continue each conversation with that run's stage-1 "
        "reply as the model generated it (trailing full stop and all; as its own two-stage samples and the "
        "trainers do) rather than the parsed answer; the answer judged is the same",
    )
    g.add_argument(
        "--answered-only",
        action="store_true",
        help="with --answers: evaluate only the selected questions the answers file answers (e.g. a trainer's "
        "labelled pool, part of the training split)",
    )
    g.add_argument("--sc-k", type=positive_int, help="self-consistency: number of sampled answers (default 5)")
    g.add_argument(
        "--sc-temperature", type=nonnegative_float, help="self-consistency: sampling temperature (default 1.0)"
    )
    g.add_argument("--topk-k", type=positive_int, help="verbalized-topk: number of guesses (default 3)")
    g.add_argument("--probe", metavar="FILE", help="method 'probe': the fitted probe (`calbench probe fit`)")
    g.add_argument(
        "--judge-containment",
        action="store_true",
        help="open questions: also accept an answer containing an alias as a whole-word span",
    )
    g.add_argument("--judge-f1", type=unit_interval, metavar="T", help="open questions: also accept token-F1 >= T")
    g.add_argument(
        "--calibrate",
        metavar="SCALER",
        choices=["platt", "temperature", "isotonic", "histogram"],
        help="also fit this post-hoc scaler on --calibration-split and apply it to the evaluated split "
        "(writes OUT/calibration/<split> and OUT/calibrated-<scaler>; see `calbench calibrate`)",
    )
    g.add_argument("--calibration-split", metavar="S", help="with --calibrate: the split the scaler is fitted on")
    g = p.add_argument_group("scoring and output")
    add_scoring_args(g, seed_help="seed for sampling questions and bootstrap (default: 0)")
    g.add_argument(
        "--chunk-size",
        type=positive_int,
        default=32,
        help="questions in flight at most (for --backend openai: keep it >= --concurrency); samples "
        "are written to disk as each generation batch finishes (default: 32)",
    )
    g.add_argument("--no-plots", action="store_true", help="skip the reliability diagram")
    g.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--out", help="output folder (samples.jsonl, run.json, plots)")
    p.add_argument("--list-methods", action="store_true", help="list the confidence methods and exit")
    p.set_defaults(func=run, field_options=OPTION_OF)


def load_task(args: argparse.Namespace):
    """The task of ``--task NAME``, or ``--data FILE`` read as one."""
    from calbench.evaluation import resolve_task

    if args.data:
        if not (args.question_field and args.answer_field):
            raise UserError("--data needs --question-field and --answer-field")
        from calbench.userdata import load_user_dataset

        choices = args.choices_field
        if choices and "," in choices:  # several option columns, e.g. A,B,C,D
            choices = [c.strip() for c in choices.split(",") if c.strip()]
        task = load_user_dataset(
            args.data,
            question_field=args.question_field,
            answer_field=args.answer_field,
            choices_field=choices,
            alias_sep=args.alias_sep,
            id_field=args.id_field,
            kind=args.kind,
            seed=args.seed,
        )
    elif args.task:
        task = resolve_task(args.task)
    else:
        raise UserError("give --task NAME (see `calbench tasks`) or --data FILE")
    return task


#: Settings of a run's identity, as the option that sets them: a refusal of ``--out`` names the option
#: (:meth:`calbench.errors.UserError.message`).
OPTION_OF = {
    "model": "--model",
    "task": "--task/--data",
    "split": "--split",
    "source": "--source",
    "limit": "--limit",
    "ids": "--ids",
    "methods": "--method",
    "scale": "--scale",
    "judge": "--judge-*",
    "seed": "--seed",
    "method_settings": "--sc-k/--sc-temperature/--topk-k/--probe",
    "calibrate": "--calibrate",
    "calibration_split": "--calibration-split",
    "answered_only": "--answered-only",
}


def run(args: argparse.Namespace) -> int:
    from calbench.argcheck import check_eval_args
    from calbench.evaluation import ModelSpec, evaluate
    from calbench.methods import METHODS

    if args.list_methods:
        for name, cls in sorted(METHODS.items()):
            print(method_summary(name, cls))
        return 0
    if not args.out:
        raise UserError("--out DIR is required")
    methods = [m.strip() for m in args.method.split(",") if m.strip()]
    check_eval_args(args)
    try:
        result = evaluate(
            load_task(args),
            ModelSpec(args.model, args.backend, backend_options(args)),
            args.out,
            methods=methods,
            calibrate=args.calibrate,
            calibration_split=args.calibration_split,
            answers=args.answers,
            answered_only=args.answered_only,
            answers_verbatim=args.answers_verbatim,
            progress=not args.quiet,
            split=args.split,
            source=args.source,
            limit=args.limit,
            ids=args.ids,
            scale=args.scale,
            **scoring_settings(args),
            judge_containment=args.judge_containment,
            judge_f1=args.judge_f1,
            max_new_tokens=args.max_new_tokens,
            plots=not args.no_plots,
            chunk_size=args.chunk_size,
            method_settings={
                **{
                    k: v
                    for k, v in (("sc_k", args.sc_k), ("sc_temperature", args.sc_temperature), ("topk_k", args.topk_k))
                    if v is not None
                },
                **probe_settings(args, methods),
            },
        )
    except KeyboardInterrupt:
        return interrupted(args)
    print_summary(result.manifests, file=sys.stdout)
    print(f"\nwrote {args.out}/samples.jsonl and {args.out}/run.json")
    return 0


def probe_settings(args: argparse.Namespace, methods: list[str]) -> dict:
    """``--probe FILE`` for method 'probe': its path and sha256 (part of the run's identity), checked now."""
    if "probe" not in methods:
        if args.probe:
            raise UserError("--probe is the fitted probe of method 'probe'; add it to --method")
        return {}
    if not args.probe:
        raise UserError("method 'probe' needs --probe FILE (fit one with `calbench probe fit`)")
    from calbench.answers import file_sha256
    from calbench.probe import Probe

    Probe.load(args.probe)
    return {"probe": str(args.probe), "probe_sha256": file_sha256(args.probe)}


def method_summary(name: str, cls: type, width: int = 110) -> str:
    """``name`` and the first paragraph of the method's docstring, whole (wrapped), without RST markup."""
    import textwrap

    from calbench.commands import help_text

    first = " ".join((cls.__doc__ or "").strip().split("\n\n")[0].split())
    lines = textwrap.wrap(help_text(first) or "", width - 23) or [""]
    return "\n".join([f"{name:22s} {lines[0]}"] + [" " * 23 + line for line in lines[1:]])


def interrupted(args: argparse.Namespace) -> int:
    """After Ctrl-C: say what is saved and the command that resumes; exit code 130 (128 + SIGINT)."""
    import shlex
    from pathlib import Path

    from calbench.records import read_samples
    from calbench.runs import Run, has_manifest

    path = Path(args.out) / "samples.jsonl"
    saved = len(read_samples(path)) if path.exists() else 0
    of = ""
    if has_manifest(args.out):  # written when the run started: n questions x its methods
        manifest = Run.open(args.out).manifest
        of = f" of {int(manifest['n']) * len(manifest.methods)}"
    print(
        f"\ncalbench eval: interrupted; {saved}{of} samples are saved in {path}.\n"
        f"Resume (finished samples are kept, none is repeated) with:\n"
        f"  calbench {shlex.join(getattr(args, 'argv', None) or sys.argv[1:])}",
        file=sys.stderr,
    )
    return 130
