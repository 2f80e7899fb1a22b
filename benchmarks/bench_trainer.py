"""Labelled answers per second of the Rewarding Doubt trainer's two estimators, same model, prompts and machine,
in one run: ``grpo`` (TRL GRPOTrainer, sampled confidences, the CPU runs' 4 prompts x 8 samples per step) and
``exact`` (the expected reward over the 11 levels, one forward/backward per labelled answer, batch 8).

    python benchmarks/bench_trainer.py [--grpo-steps 3] [--exact-steps 8] [--out results/benchmarks]
    python benchmarks/bench_trainer.py --time-to-quality [its options]   # CPU seconds to a held-out AUROC:
        all-layer LoRA vs top-K with the frozen-prefix cache (benchmarks/bench_time_to_quality.py)

A labelled answer is one (question, fixed answer, correct?) triple the update learns from: GRPO's 8 samples of
a group share one. Both arms train a fresh LoRA (r8, all-linear) on SmolLM2-135M-Instruct in float32 over the
same SciQ answer-swap prompts; the first step of each arm is a warm-up and is not timed. Writes
``trainer.json`` and ``trainer.md``.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def prompts_and_labels(tokenizer, n: int):
    from calbench.judge import judge_for
    from calbench.tasks import get_task, select
    from trainers.rewarding_doubt.data import confidence_rows, fixed_answer_examples

    examples = select(get_task("sciq").load("train"), n, 0)
    answered, _ = fixed_answer_examples(
        examples,
        str(ROOT / "results/training/answer-swap/sciq_train.jsonl.gz"),
        judge_for("open", containment=True),
        kind="open",
    )
    return confidence_rows(answered, tokenizer, "0-10", "open")


def fresh_backend():
    from calbench.backends.hf import HFBackend

    return HFBackend("smollm2-135m-instruct", device="cpu", dtype="float32")


class _StepTimer:
    """A TrainerCallback recording the wall time of each step."""

    def __init__(self):
        from transformers import TrainerCallback

        timer = self

        class CB(TrainerCallback):
            def on_step_begin(self, args, state, control, **kw):
                timer.t0 = time.perf_counter()

            def on_step_end(self, args, state, control, **kw):
                timer.steps.append(time.perf_counter() - timer.t0)

        self.steps: list[float] = []
        self.callback = CB()


def bench_grpo(steps: int) -> dict:
    import datasets
    from trl import GRPOTrainer

    from trainers.rewarding_doubt.config import RDConfig
    from trainers.rewarding_doubt.estimators import lora_config as _lora_config
    from trainers.rewarding_doubt.estimators.grpo import build_grpo_args
    from trainers.rewarding_doubt.rewards import RewardSpec, make_confidence_reward

    cfg = RDConfig(
        estimator="grpo",
        prompts_per_step=4,
        num_generations=8,
        max_steps=steps + 1,
        strict_format=True,
        gradient_checkpointing=False,
        logging_steps=1000,
        save_every=0,
        learning_rate=1e-4,
    )
    backend = fresh_backend()
    rows = prompts_and_labels(backend.tokenizer, 4 * (steps + 1))
    timer = _StepTimer()
    with tempfile.TemporaryDirectory() as tmp:
        args = build_grpo_args(cfg, Path(tmp), on_cuda=False, bf16=False)
        args.save_strategy = "no"
        trainer = GRPOTrainer(
            model=backend.model,
            reward_funcs=[make_confidence_reward(RewardSpec.from_config(cfg))],
            args=args,
            train_dataset=datasets.Dataset.from_list(rows),
            processing_class=backend.tokenizer,
            peft_config=_lora_config(cfg),
            callbacks=[timer.callback],
        )
        trainer.train()
    timed = timer.steps[1:]
    return {
        "steps_timed": len(timed),
        "seconds_per_step": sum(timed) / len(timed),
        "labels_per_step": cfg.prompts_per_step,
        "completions_per_step": cfg.prompts_per_step * cfg.num_generations,
    }


def bench_exact(steps: int) -> dict:
    from peft import get_peft_model

    from trainers.rewarding_doubt.config import RDConfig
    from trainers.rewarding_doubt.estimators import lora_config as _lora_config
    from trainers.rewarding_doubt.exact_loop import ExactLoop

    cfg = RDConfig(
        estimator="exact", batch_size=8, epochs=1, max_steps=steps + 1, eval_every=0, save_every=0, logging_steps=1
    )
    backend = fresh_backend()
    rows = prompts_and_labels(backend.tokenizer, 8 * (steps + 1))
    model = get_peft_model(backend.model, _lora_config(cfg))

    class Log:
        def __init__(self):
            self.times: list[float] = []

        def write(self, rec):
            self.times.append(time.perf_counter())

    log = Log()
    with tempfile.TemporaryDirectory() as tmp:
        loop = ExactLoop(
            model, backend.tokenizer, [r["prompt"] for r in rows], [r["correct"] for r in rows], cfg, Path(tmp), log=log
        )
        loop._save = lambda *a, **k: None  # no checkpoint writes inside the timing
        loop.train()
    timed = [b - a for a, b in zip(log.times, log.times[1:])]
    return {"steps_timed": len(timed), "seconds_per_step": sum(timed) / len(timed), "labels_per_step": cfg.batch_size}


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if "--time-to-quality" in argv:
        sys.path.insert(0, str(ROOT / "benchmarks"))
        from bench_time_to_quality import main as time_to_quality

        return time_to_quality([a for a in argv if a != "--time-to-quality"])
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--grpo-steps", type=int, default=3)
    ap.add_argument("--exact-steps", type=int, default=8)
    ap.add_argument("--out", type=Path, default=ROOT / "results/benchmarks")
    args = ap.parse_args(argv)
    import torch

    res = {"grpo": bench_grpo(args.grpo_steps), "exact": bench_exact(args.exact_steps)}
    for r in res.values():
        r["labels_per_second"] = r["labels_per_step"] / r["seconds_per_step"]
    ratio = res["exact"]["labels_per_second"] / res["grpo"]["labels_per_second"]
    out = {
        "model": "smollm2-135m-instruct (float32, LoRA r8 all-linear)",
        "data": "SciQ answer-swap train prompts",
        "torch_threads": torch.get_num_threads(),
        "cpu": platform.processor() or platform.machine(),
        "results": res,
        "ratio_exact_over_grpo": ratio,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "trainer.json").write_text(json.dumps(out, indent=2) + "\n", encoding="utf-8")
    md = [
        "# Trainer: labelled answers per second, exact vs GRPO (one run, same model, prompts and machine)",
        "",
        f"`python benchmarks/bench_trainer.py` on {out['cpu']}, {out['torch_threads']} torch threads; {out['model']}; "
        f"{out['data']}. The first step of each arm is not timed.",
        "",
        "| estimator | labelled answers / step | s / step | labelled answers / s |",
        "|---|---|---|---|",
    ]
    for name, r in res.items():
        md.append(f"| {name} | {r['labels_per_step']} | {r['seconds_per_step']:.2f} | {r['labels_per_second']:.3f} |")
    md += ["", f"**exact / grpo = {ratio:.1f}x** labelled answers per second.", ""]
    (args.out / "trainer.md").write_text("\n".join(md), encoding="utf-8")
    print("\n".join(md))
    return 0


if __name__ == "__main__":
    sys.exit(main())
