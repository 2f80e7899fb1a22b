"""P(True)'s forward pass: the vocabulary projection of the last position only against every position.

``HFBackend.next_token_logprobs`` (P(True), and any method reading one next-token distribution) needs the logits
of the last position; the model's default computes them for every position (a 49,152-wide projection per token,
and batch x length x vocabulary floats of logits). Both arms run here on the same batch of real P(True) prompts
(TriviaQA questions with the packaged model's own answers from a committed run), interleaved, in one process,
and must give the same log-probabilities. Writes results/benchmarks/next_token.{json,md}.

    python benchmarks/bench_next_token.py [--n 50] [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "results" / "benchmarks"
ANSWERS = ROOT / "results" / "training" / "rd-smollm2-triviaqa-beta002" / "before-triviaqa"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=50, help="prompts in the batch (the studies' batch size)")
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()

    import torch

    from calbench.backends.hf import HFBackend
    from calbench.methods.ptrue import ptrue_prompt
    from calbench.records import find_samples_file, read_samples
    from calbench.tasks import get_task

    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
    backend = HFBackend("smollm2-135m-instruct", batch_size=args.n)
    given = [s for s in read_samples(find_samples_file(ANSWERS)) if s["method"] == "two-stage"][: args.n]
    examples = {e.id: e for e in get_task("triviaqa").load(None)}
    texts = [backend.render(ptrue_prompt(examples[s["id"]], s["answer"] or "")) for s in given]
    enc = backend._encode(texts)
    arms = {"every position": {}, "last position only (logits_to_keep=1)": {"logits_to_keep": 1}}
    times: dict[str, list[float]] = {a: [] for a in arms}
    out: dict[str, torch.Tensor] = {}
    with torch.inference_mode():
        for _ in range(args.repeats):
            for arm, kw in arms.items():  # interleaved: both arms see the same machine load
                t = time.perf_counter()
                out[arm] = backend.model(**enc, **kw).logits[:, -1, :].float().log_softmax(-1)
                times[arm].append(time.perf_counter() - t)
    a, b = out.values()
    diff = float((a - b).abs().max())
    best = {arm: min(ts) for arm, ts in times.items()}
    speedup = best["every position"] / best["last position only (logits_to_keep=1)"]
    record = {
        "benchmark": "next_token",
        "prompts": len(texts),
        "padded_shape": list(enc["input_ids"].shape),
        "seconds_best_of_repeats": best,
        "seconds_all": times,
        "speedup": speedup,
        "max_abs_logprob_difference": diff,
        "threads": torch.get_num_threads(),
        "load_average": os.getloadavg(),
        "cpus": os.cpu_count(),
        "machine": platform.machine(),
        "torch": torch.__version__,
    }
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "next_token.json").write_text(json.dumps(record, indent=1) + "\n")
    lines = [
        "# P(True)'s forward pass: last-position logits only vs every position",
        "",
        f"{len(texts)} P(True) prompts (TriviaQA, the packaged SmolLM2-135M-Instruct's answers from "
        f"`{ANSWERS.relative_to(ROOT)}`), "
        f"one padded batch {tuple(enc['input_ids'].shape)}, cpu float32, {record['threads']} thread(s), "
        f"best of {args.repeats} interleaved repeats, `python benchmarks/bench_next_token.py`.",
        "",
        "| arm | seconds (best) | all repeats |",
        "|---|---:|---|",
        *[f"| {arm} | {best[arm]:.2f} | {', '.join(f'{t:.2f}' for t in times[arm])} |" for arm in arms],
        "",
        f"Speed-up: **{speedup:.2f}x**; largest difference in a log-probability: {diff:.1e}. Load average at the "
        f"end: {record['load_average'][0]:.1f} on {record['cpus']} CPUs (other jobs ran beside it; both arms shared "
        "that load).",
        "",
    ]
    (OUT / "next_token.md").write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
