"""Evaluate one model (optionally with a LoRA adapter) on several tasks in one Python process, each exactly as
``calbench eval`` does (the same CLI entry point), so the torch/transformers import is paid once.

    python scripts/gpu/rd_evals.py --out DIR [--adapter A] --tasks triviaqa:eval:1000 medqa:test:500 ...

Each task lands in ``DIR/<task>/`` (samples.jsonl, run.json, plots). A task that is not registered is replaced
by the first ``--fallback`` task that is (the unseen tasks may not exist in every checkout).
"""

from __future__ import annotations

import argparse
import sys
import time

from calbench.cli import main as calbench
from calbench.tasks import all_tasks


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--out", required=True)
    p.add_argument("--model", default="smollm2-135m-instruct")
    p.add_argument("--adapter")
    p.add_argument(
        "--answers-dir",
        help="evaluate on fixed answers: DIR/<task>/samples.jsonl[.gz] of an earlier "
        "run (e.g. the untrained model's), passed as --answers",
    )
    p.add_argument("--tasks", nargs="+", required=True, help="name:split:limit")
    p.add_argument("--fallback", nargs="*", default=["sciq:test", "commonsenseqa:validation"])
    p.add_argument("--methods", default="two-stage,expected")
    p.add_argument("--batch-size", default="256")
    p.add_argument("--resamples", default="1000")
    args = p.parse_args()
    registered = all_tasks()
    used: list[str] = []
    status = 0
    for item in args.tasks:
        name, split, limit = item.split(":")
        if name not in registered:
            alt = next(
                (
                    f
                    for f in args.fallback
                    if f.split(":")[0] in registered
                    and f.split(":")[0] not in used
                    and f.split(":")[0] not in [t.split(":")[0] for t in args.tasks]
                ),
                None,
            )
            if alt is None:
                print(f"[rd_evals] task {name} not registered and no fallback left; skipped", flush=True)
                continue
            print(f"[rd_evals] task {name} not registered; using {alt} instead", flush=True)
            name, split = alt.split(":")
        used.append(name)
        cmd = [
            "eval",
            "--model",
            args.model,
            "--task",
            name,
            "--split",
            split,
            "--limit",
            limit,
            "--method",
            args.methods,
            "--batch-size",
            args.batch_size,
            "--chunk-size",
            "4096",
            "--resamples",
            args.resamples,
            "--judge-containment",
            "--quiet",
            "--out",
            f"{args.out}/{name}",
        ]
        if args.adapter:
            cmd += ["--adapter", args.adapter]
        if args.answers_dir:
            from calbench.records import run_samples_path

            cmd += ["--answers", str(run_samples_path(f"{args.answers_dir}/{name}"))]
        t0 = time.time()
        print(f"[rd_evals] calbench {' '.join(cmd)}", flush=True)
        rc = calbench(cmd)
        print(f"[rd_evals] {name}: exit {rc} in {time.time() - t0:.1f} s", flush=True)
        status = status or rc
    return status


if __name__ == "__main__":
    sys.exit(main())
