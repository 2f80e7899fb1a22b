"""``calbench demo``: the main job of ``make demo``. The default model evaluated on bundled TriviaQA and SciQ
(two-stage verbalized confidence), a summary table with 95 % bootstrap intervals, a results folder with
reliability diagrams, then the leaderboard and a comparison report of the runs."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Sequence

from calbench.argcheck import positive_int


def register(sub) -> None:
    p = sub.add_parser("demo", help="evaluate the default model on TriviaQA and SciQ and report", description=__doc__)
    p.add_argument("--model", default="smollm2-135m-instruct", help="model (default: %(default)s)")
    p.add_argument("--limit", type=positive_int, default=200, help="questions per task (default: %(default)s)")
    p.add_argument("--tasks", default="triviaqa,sciq", help="comma-separated tasks (default: %(default)s)")
    p.add_argument("--method", default="two-stage", help="confidence method(s) (default: %(default)s)")
    p.add_argument("--batch-size", type=positive_int, help="generation batch size")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default="results/demo", help="results folder (default: %(default)s)")
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
    demo_outputs(run_dirs, out / "report")
    return 0


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
