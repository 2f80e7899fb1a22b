"""calbench eval against lm-eval's ``hf`` backend: same model, task, prompt and 64 questions; questions/s.

Both arms run the one-stage verbalized method (the pack's format) greedily, batch size 16, float32:

* in-process (the headline): one loaded model shared by both arms -- calbench's runner (``evaluate``: generate,
  parse, judge, write samples, bootstrap CIs) and ``lm_eval.simple_evaluate`` on the ``calbench_<task>`` pack
  task with ``--apply_chat_template`` semantics and ``log_samples``. Order A B B A cancels drift in the load of
  the shared machine; each arm's questions/s is the mean of its two runs.
* command line (with ``--cli``; end to end, once each): ``calbench eval`` and ``lm-eval run`` as subprocesses, counting
  imports, model loading and lm-eval's task indexing.

Also checks that the two tools sent identical prompts and how many greedy replies were identical.
Writes results/benchmarks/lmeval.{json,md}.

    python benchmarks/bench_lmeval.py [--n 64] [--task triviaqa] [--batch-size 16] [--cli]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from calbench.backends.hf import HFBackend
from calbench.elicit import one_stage_prompt, render
from calbench.lmeval.pack import include_path, lmeval_task_name
from calbench.models import resolve_model
from calbench.records import read_run_samples
from calbench.runner import EvalSettings, evaluate
from calbench.tasks import get_task, select

OUT = Path(__file__).resolve().parents[1] / "results" / "benchmarks"
BIN = Path(sys.executable).parent


def calbench_arm(backend, task, examples, out: Path) -> tuple[float, dict]:
    settings = EvalSettings(
        methods=["verbalized"], split=task.default_split, limit=len(examples), plots=False, chunk_size=len(examples)
    )
    t0 = time.perf_counter()
    evaluate(task, examples, backend, settings, out, model_name="smollm2-135m-instruct", progress=False)
    elapsed = time.perf_counter() - t0
    return elapsed, {s["id"]: s["raw_output"] for s in read_run_samples(out)}


def lmeval_arm(lm, tm, task, n: int) -> tuple[float, dict, dict, dict]:
    import lm_eval

    t0 = time.perf_counter()
    res = lm_eval.simple_evaluate(
        model=lm,
        tasks=[lmeval_task_name(task.name)],
        task_manager=tm,
        limit=n,
        apply_chat_template=True,
        log_samples=True,
        bootstrap_iters=0,
    )
    elapsed = time.perf_counter() - t0
    rows = res["samples"][lmeval_task_name(task.name)]
    replies = {r["doc"]["id"]: r["filtered_resps"][0] for r in rows}
    prompts = {r["doc"]["id"]: r["arguments"][0][0] for r in rows}
    return elapsed, replies, prompts, res["results"][lmeval_task_name(task.name)]


def cli_arms(model_dir: str, task, n: int, batch: int, work: Path) -> dict:
    env = {**os.environ, "HF_DATASETS_OFFLINE": "1", "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    cmds = {
        "calbench eval": [
            str(BIN / "calbench"),
            "eval",
            "--model",
            model_dir,
            "--task",
            task.name,
            "--limit",
            str(n),
            "--method",
            "verbalized",
            "--batch-size",
            str(batch),
            "--device",
            "cpu",
            "--dtype",
            "float32",
            "--out",
            str(work / "cli_calbench"),
            "--quiet",
            "--no-plots",
        ],
        "lm-eval run": [
            str(BIN / "lm-eval"),
            "run",
            "--include_path",
            str(include_path()),
            "--tasks",
            lmeval_task_name(task.name),
            "--model",
            "hf",
            "--model_args",
            f"pretrained={model_dir},dtype=float32",
            "--device",
            "cpu",
            "--batch_size",
            str(batch),
            "--limit",
            str(n),
            "--apply_chat_template",
            "--log_samples",
            "--output_path",
            str(work / "cli_lmeval"),
        ],
    }
    out = {}
    for name, cmd in cmds.items():
        t0 = time.perf_counter()
        r = subprocess.run(cmd, env=env, capture_output=True, text=True)
        wall = time.perf_counter() - t0
        if r.returncode != 0:
            raise SystemExit(f"{name} failed:\n{r.stdout[-2000:]}\n{r.stderr[-2000:]}")
        out[name] = {
            "command": " ".join(cmd[0:1] + [c if "/" not in c else Path(c).name for c in cmd[1:]]),
            "wall_s": round(wall, 2),
            "q_per_s": round(n / wall, 3),
        }
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=64)
    ap.add_argument("--task", default="triviaqa")
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--cli", action="store_true", help="also time both command lines end to end (slow)")
    ap.add_argument("--markdown-only", action="store_true", help="rewrite lmeval.md from lmeval.json and exit")
    args = ap.parse_args()
    if args.markdown_only:
        (OUT / "lmeval.md").write_text(markdown(json.loads((OUT / "lmeval.json").read_text())) + "\n")
        return
    os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from lm_eval.models.huggingface import HFLM
    from lm_eval.tasks import TaskManager

    task = get_task(args.task)
    examples = select(task.load(task.default_split), args.n, 0)
    model_dir = resolve_model("smollm2-135m-instruct").path
    backend = HFBackend(model_dir, device="cpu", dtype="float32", batch_size=args.batch_size)
    lm = HFLM(pretrained=backend.model, tokenizer=backend.tokenizer, batch_size=args.batch_size, device="cpu")
    tm = TaskManager(include_path=str(include_path()), include_defaults=False)
    work = Path(tempfile.mkdtemp(prefix="bench_lmeval_"))

    calbench_arm(backend, task, examples[:4], work / "warm")  # warm-up both
    lmeval_arm(lm, tm, task, 4)
    times: dict[str, list[float]] = {"calbench": [], "lm-eval": []}
    for i, arm in enumerate(["calbench", "lm-eval", "lm-eval", "calbench"]):
        if arm == "calbench":
            t, cb_replies = calbench_arm(backend, task, examples, work / f"cb{i}")
        else:
            t, lm_replies, lm_prompts, lm_metrics = lmeval_arm(lm, tm, task, args.n)
        times[arm].append(t)
        print(f"{arm}: {t:.1f} s", flush=True)
    same_prompt = sum(
        lm_prompts[e.id] == render(backend.tokenizer, one_stage_prompt(e, "0-10", task.kind)) for e in examples
    )
    same_reply = sum(lm_replies[e.id] == cb_replies[e.id] for e in examples)
    q = {k: args.n / (sum(v) / len(v)) for k, v in times.items()}
    res = {
        "task": task.name,
        "n_questions": args.n,
        "method": "verbalized (one stage)",
        "model": "smollm2-135m-instruct",
        "model_dir": model_dir,
        "device": "cpu",
        "dtype": "float32",
        "batch_size": args.batch_size,
        "in_process": {
            "calbench_s": [round(t, 2) for t in times["calbench"]],
            "lmeval_s": [round(t, 2) for t in times["lm-eval"]],
            "calbench_q_per_s": round(q["calbench"], 3),
            "lmeval_q_per_s": round(q["lm-eval"], 3),
            "ratio_calbench_over_lmeval": round(q["calbench"] / q["lm-eval"], 3),
        },
        "identical_prompts": f"{same_prompt}/{args.n}",
        "identical_replies": f"{same_reply}/{args.n}",
        "lmeval_metrics": {
            k.split(",")[0]: v for k, v in lm_metrics.items() if k.endswith(",none") and "_stderr" not in k
        },
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, {platform.platform()}",
        "versions": {"python": platform.python_version()},
    }
    import lm_eval as _le
    import torch
    import transformers

    res["versions"].update(lm_eval=_le.__version__, torch=torch.__version__, transformers=transformers.__version__)
    if args.cli:
        res["command_line"] = cli_arms(model_dir, task, args.n, args.batch_size, work)
        cl = res["command_line"]
        res["command_line_ratio"] = round(cl["calbench eval"]["q_per_s"] / cl["lm-eval run"]["q_per_s"], 3)
    res["load_avg_at_end"] = [round(x, 2) for x in os.getloadavg()]
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "lmeval.json").write_text(json.dumps(res, indent=2) + "\n")
    (OUT / "lmeval.md").write_text(markdown(res) + "\n")
    print(json.dumps(res, indent=2))


def markdown(r: dict) -> str:
    ip = r["in_process"]
    # pairs in time: (calbench run 1, lm-eval run 1) and (lm-eval run 2, calbench run 2)
    pairs = [ip["lmeval_s"][i] / ip["calbench_s"][i] for i in range(2)]
    lines = [
        "# calbench eval vs lm-eval (hf backend)",
        "",
        f"Same model ({r['model']}, local directory, {r['device']} {r['dtype']}), task {r['task']}, the same "
        f"{r['n_questions']} questions (lm-eval `--limit {r['n_questions']}` takes the pack's first docs, which "
        f"are calbench's seeded sample), one-stage verbalized prompt, greedy, batch size {r['batch_size']}. "
        "Generated by `python benchmarks/bench_lmeval.py`.",
        "",
        "## In process (one loaded model shared by both; order A B B A)",
        "",
        "| arm | seconds (two runs) | questions/s |",
        "|---|---|---:|",
        f"| calbench `evaluate` (generate, parse, judge, samples.jsonl, bootstrap CIs) | "
        f"{', '.join(map(str, ip['calbench_s']))} | {ip['calbench_q_per_s']} |",
        f"| lm-eval `simple_evaluate` (`--apply_chat_template`, `--log_samples`) | "
        f"{', '.join(map(str, ip['lmeval_s']))} | {ip['lmeval_q_per_s']} |",
        "",
        f"Ratio calbench / lm-eval (mean questions/s): **{ip['ratio_calbench_over_lmeval']}x** (target: at "
        f"least 1); per adjacent pair: {pairs[0]:.2f}x and {pairs[1]:.2f}x. "
        f"Identical prompts: {r['identical_prompts']}; identical greedy replies: {r['identical_replies']}. "
        "calbench's runner got all questions as one chunk (batches of the batch size, sorted by length), "
        "as lm-eval sorts all requests.",
        "",
    ]
    if "command_line" in r:
        lines += [
            "## Command line, end to end (imports, model load, lm-eval's task index included)",
            "",
            "| command | wall seconds | questions/s |",
            "|---|---:|---:|",
        ]
        for name, c in r["command_line"].items():
            lines.append(f"| `{name}` | {c['wall_s']} | {c['q_per_s']} |")
        lines += ["", f"Ratio calbench / lm-eval: **{r['command_line_ratio']}x**.", ""]
    m = r["lmeval_metrics"]
    lines += [
        "lm-eval's metrics for the run (calbench's aggregations): "
        + ", ".join(f"{k} {v:.3f}" if isinstance(v, float) else f"{k} {v}" for k, v in m.items())
        + " (SmolLM2-135M rarely follows the one-stage format zero-shot).",
        "",
        f"Machine: {r['machine']}; load average at the end {r['load_avg_at_end']}. The 2 CPUs are shared with "
        "other jobs, so absolute times vary between runs; the ratio is measured under the same conditions "
        "(interleaved arms), not the seconds. When the spread between runs of the same arm is larger than the "
        "gap between the arms, read the result as parity, not as a speed-up.",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
