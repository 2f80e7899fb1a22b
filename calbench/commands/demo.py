"""``calbench demo``: the main job of ``make demo``. The default model evaluated on bundled TriviaQA and SciQ
(two-stage verbalized confidence), a summary table with 95 % bootstrap intervals, a results folder with
reliability diagrams; then, for each task with a trained adapter shipped in ``adapters/`` (its card names the
task and the base model), the trained model rates the same answers: a before/after table with paired 95 %
intervals, and the leaderboard and a comparison report (reliability diagrams side by side)."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any, Sequence

from calbench.argcheck import positive_int

#: the trained adapters the repository ships (adapters/README.md)
SHIPPED_ADAPTERS = Path(__file__).resolve().parents[2] / "adapters"


def register(sub) -> None:
    p = sub.add_parser("demo", help="evaluate the default model on TriviaQA and SciQ and report", description=__doc__)
    p.add_argument("--model", default="smollm2-135m-instruct", help="model (default: %(default)s)")
    p.add_argument("--limit", type=positive_int, default=200, help="questions per task (default: %(default)s)")
    p.add_argument("--tasks", default="triviaqa,sciq", help="comma-separated tasks (default: %(default)s)")
    p.add_argument("--method", default="two-stage", help="confidence method(s) (default: %(default)s)")
    p.add_argument("--batch-size", type=positive_int, help="generation batch size")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default="results/demo", help="results folder (default: %(default)s)")
    p.add_argument(
        "--adapters",
        default=str(SHIPPED_ADAPTERS),
        help="folder of trained adapters (one subfolder each, with its calbench_adapter.json); the trained model "
        "of a task rates the untrained answers (default: the adapters shipped in the repository)",
    )
    p.add_argument("--no-trained", action="store_true", help="evaluate the untrained model only")
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from calbench.evaluation import ModelSpec, evaluate
    from calbench.summary import print_summary

    out = Path(args.out)
    model = ModelSpec(args.model, "hf", {"batch_size": args.batch_size} if args.batch_size else {})
    t0 = time.perf_counter()
    backend = model.load()
    t_load = time.perf_counter() - t0
    manifests, run_dirs = [], []
    for name in [t.strip() for t in args.tasks.split(",") if t.strip()]:
        run_dir = out / f"{args.model.replace('/', '_')}__{name}__{args.method.replace(',', '+')}"
        result = evaluate(
            name,
            model,
            run_dir,
            methods=args.method.split(","),
            loaded=backend,
            limit=args.limit,
            seed=args.seed,
            judge_containment=True,
            progress=not args.quiet,
        )
        manifests.append(result.manifest)
        run_dirs.append(run_dir)
    t_eval = time.perf_counter() - t0 - t_load
    print()
    print_summary(manifests, file=sys.stdout)
    print(
        f"\nmodel load {t_load:.1f} s; evaluation {t_eval:.1f} s for "
        f"{sum(m['n'] for m in manifests)} questions ({backend.manifest().get('device')})"
    )
    for d, m in zip(run_dirs, manifests):
        plots = [p for p in m.get("plots", []) if p.endswith(".png")]
        print(f"  {d}/  run.json, samples.jsonl" + (f", {', '.join(plots)}" if plots else ""))
    trained_dirs = [] if args.no_trained else _trained(args, out, run_dirs, backend.manifest())
    demo_outputs(run_dirs + trained_dirs, out / "report")
    return 0


def shipped_adapters(folder: str | Path, model: str, model_sha256: str | None) -> dict[str, Path]:
    """task -> adapter folder: the adapters under ``folder`` whose card names a task and whose base model is
    ``model`` (its card's ``model`` name, and its ``model_sha256`` when the card records one); an adapter for
    another base model is left out."""
    from calbench.models import read_adapter_card

    found: dict[str, Path] = {}
    root = Path(folder)
    for sub in sorted(p for p in root.iterdir() if p.is_dir()) if root.is_dir() else []:
        card = read_adapter_card(sub)
        if not card or not card.get("task"):
            continue
        if card.get("model") not in (None, model) or card.get("model_sha256") not in (None, model_sha256):
            continue
        found.setdefault(str(card["task"]), sub)
    return found


def _trained(args: argparse.Namespace, out: Path, run_dirs: list[Path], untrained: dict) -> list[Path]:
    """For each task with a shipped adapter: the trained model rates the untrained run's answers; prints the
    before/after table. Returns the trained run folders."""
    from calbench.evaluation import ModelSpec, evaluate
    from calbench.reporting.compare import compare, load_arms
    from calbench.runs import Run, display_path, has_manifest, samples_file

    adapters = shipped_adapters(args.adapters, args.model, untrained.get("sha256"))
    pairs = []
    for run_dir in run_dirs:
        task = str(Run.open(run_dir).manifest.task_name)
        adapter = adapters.get(task)
        if adapter is None:
            print(f"\nno trained adapter for {task} in {args.adapters}: the untrained model only")
            continue
        trained_dir = run_dir.with_name(run_dir.name + "__trained")
        model = ModelSpec(
            args.model,
            "hf",
            {"adapter": display_path(adapter), **({"batch_size": args.batch_size} if args.batch_size else {})},
        )
        t0 = time.perf_counter()
        evaluate(
            task,
            model,
            trained_dir,
            methods=["two-stage"],
            answers=str(samples_file(run_dir)),
            limit=args.limit,
            seed=args.seed,
            judge_containment=True,
            progress=not args.quiet,
        )
        took = time.perf_counter() - t0
        print(f"{task}: the trained model ({adapter.name}) rated the same {args.limit} answers in {took:.1f} s")
        before, after = load_arms([f"{run_dir}#two-stage", f"{trained_dir}#two-stage"])[0]
        pairs.append((task, compare(before, after)))
    if pairs:
        print()
        print(before_after_table(pairs))
    done = [run_dir.with_name(run_dir.name + "__trained") for run_dir in run_dirs]
    return [d for d in done if has_manifest(d)]


def before_after_table(pairs: Sequence[tuple[str, Any]]) -> str:
    """The untrained and the trained stated confidence on the same answers, per task: each metric before and
    after, the paired difference with its 95 % bootstrap interval, and whether the trained model is better."""
    from calbench.reporting.board import metric_title

    lines = [
        "before/after: the same answers, rated by the untrained and the trained model (stated confidence, two-stage)",
        f"{'task':<10} {'metric':<10} {'untrained':>9} {'trained':>9}  {'difference [95 % CI]':<26} verdict",
    ]
    for task, comp in pairs:
        if comp.problem:
            lines.append(f"{task:<10} no comparison: {comp.problem}")
            continue
        for name in ("auroc", "ece", "brier", "log_score"):
            d = comp.deltas[name]
            ci = f"{d.delta:+.3f} [{d.ci_low:+.3f}, {d.ci_high:+.3f}]"
            excluded = not (d.ci_low <= 0 <= d.ci_high)
            verdict = ("better" if d.better else "worse") if excluded else "tie"
            lines.append(f"{task:<10} {metric_title(name):<10} {d.a:>9.3f} {d.b:>9.3f}  {ci:<26} {verdict}")
        lines.append(f"{'':<10} ({comp.n_pairs} answers scored by both)")
    return "\n".join(lines)


def demo_outputs(run_dirs: Sequence[str | Path], out_dir: str | Path, *, quiet: bool = False) -> dict[str, Path]:
    """The leaderboard over ``run_dirs`` and a comparison report of them, written to ``out_dir``; prints where
    they are. For ``make demo``. Returns ``{"leaderboard_html", "leaderboard_md", "leaderboard_csv",
    "report_html", "report_md"}``."""
    from calbench.reporting import leaderboard
    from calbench.reporting.render import fresh_sample_pages, write_report
    from calbench.reporting.report import build_report

    out = Path(out_dir)
    lb = leaderboard.build(run_dirs)
    lb_paths = leaderboard.write(lb, out)
    report = build_report(run_dirs)
    paths = {f"leaderboard_{k}": v for k, v in lb_paths.items()}
    # one set of per-run sample tables (report_samples/), linked from both the HTML and the Markdown report
    pages = fresh_sample_pages(report, out / "report_samples")
    paths["report_html"] = write_report(report, out / "report.html", pages=pages)
    paths["report_md"] = write_report(report, out / "report.md", pages=pages)
    if not quiet:
        print(f"leaderboard: {lb_paths['html']} (also {lb_paths['md'].name}, {lb_paths['csv'].name})")
        print(f"report:      {paths['report_html']} (also {paths['report_md'].name})")
        for s in lb.skipped:
            print(f"skipped: {s}")
    return paths
