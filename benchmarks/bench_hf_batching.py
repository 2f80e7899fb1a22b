"""Questions/s of the batched ``hf`` backend against one-question-at-a-time generation, same 64 questions.

Both arms run the full two-stage method (answer, then confidence) on the default model in one process, one
after the other, so the ratio is measured under the same conditions. Writes results/benchmarks/hf_batching.*

    python benchmarks/bench_hf_batching.py [--n 64] [--batch-size 32] [--task triviaqa]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

from calbench.backends.hf import HFBackend
from calbench.judge import judge_for
from calbench.methods import MethodContext, get_method
from calbench.tasks import get_task, select

OUT = Path(__file__).resolve().parents[1] / "results" / "benchmarks"


def run_arm(backend: HFBackend, examples, task, batch_size: int) -> tuple[float, list]:
    backend.batch_size = batch_size
    judge = judge_for(task.kind, containment=True)
    ctx = MethodContext(
        backend=backend,
        model_name="smollm2-135m-instruct",
        task_name=task.name,
        kind=task.kind,
        judge=judge,
        judge_name=judge.name,
    )
    method = get_method("two-stage")
    t0 = time.perf_counter()
    samples = method.run(ctx, examples)
    return time.perf_counter() - t0, samples


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=64)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--task", default="triviaqa")
    args = ap.parse_args()
    task = get_task(args.task)
    examples = select(task.load(task.default_split), args.n, 0)
    backend = HFBackend("smollm2-135m-instruct")
    run_arm(backend, examples[:4], task, 4)  # warm-up
    t_batched, s_batched = run_arm(backend, examples, task, args.batch_size)
    t_single, s_single = run_arm(backend, examples, task, 1)
    same = sum(a.to_dict()["answer"] == b.to_dict()["answer"] for a, b in zip(s_batched, s_single))
    res = {
        "task": args.task,
        "n_questions": args.n,
        "method": "two-stage",
        "model": "smollm2-135m-instruct",
        "device": backend.device,
        "dtype": backend.dtype,
        "batch_size": args.batch_size,
        "batched_s": round(t_batched, 2),
        "single_s": round(t_single, 2),
        "batched_q_per_s": round(args.n / t_batched, 3),
        "single_q_per_s": round(args.n / t_single, 3),
        "speedup": round(t_single / t_batched, 2),
        "same_answers": f"{same}/{args.n}",
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs",
        "load_avg_at_end": os.getloadavg()[0],
    }
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "hf_batching.json").write_text(json.dumps(res, indent=2) + "\n")
    md = [
        "# Batched hf backend vs one question at a time",
        "",
        f"Two-stage verbalized confidence, {args.n} {args.task} questions, SmolLM2-135M-Instruct, "
        f"{res['device']} {res['dtype']}, `python benchmarks/bench_hf_batching.py`.",
        "",
        "| arm | seconds | questions/s |",
        "|---|---:|---:|",
        f"| batched (batch {args.batch_size}) | {res['batched_s']} | {res['batched_q_per_s']} |",
        f"| one at a time | {res['single_s']} | {res['single_q_per_s']} |",
        "",
        f"Speed-up: **{res['speedup']}x**; identical answers: {res['same_answers']} "
        f"(greedy decoding; float32 batching can flip near-ties). Load average at the end: "
        f"{res['load_avg_at_end']:.1f} on {os.cpu_count()} CPUs (a shared machine: both arms ran in the same "
        "process, back to back).",
    ]
    (OUT / "hf_batching.md").write_text("\n".join(md) + "\n")
    print(json.dumps(res, indent=2))


if __name__ == "__main__":
    main()
