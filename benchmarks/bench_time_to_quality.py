"""Time to quality of the exact trainer: CPU seconds until the held-out stated confidence reaches an AUROC, for
LoRA on every layer (today's trainer) and for LoRA on the top K layers with the frozen-prefix cache.

    python benchmarks/bench_time_to_quality.py [--arms all,top8,top15] [--grid all=3e-4/1e-3,top8=1e-3/3e-3]
        [--workers 2] [--threads 1] [--cpu-budget 3000] [--out results/benchmarks]

The task is the answer swap (results/training/answer-swap/: each SciQ question with its gold answer or another
question's, base rate 0.5): ``--train`` SciQ train questions (several passes), held-out questions from SciQ
validation, split in two disjoint sets: ``--select`` questions choose each arm's learning rate, ``--measure``
questions give the reported curve. Every run: SmolLM2-135M-Instruct in float32, LoRA r8 (all linear modules),
the headline recipe's objective (log score, whole-number readout, KL to uniform with beta 0.02, batch 8,
warm-up 10). The stated confidence is the modal level of the policy's distribution over the levels 0..10.

Clock: CPU seconds of the run's process (``time.process_time``: all its threads), the cache build included,
the held-out evaluations excluded. A run stops once both held-out sets passed ``--target`` or at
``--cpu-budget``. Runs go ``--workers`` at a time, each with ``--threads`` torch threads; each run's curve is
written line by line to ``OUT/ttq/<arm>.jsonl`` (git-ignored: ``trainer_ttq.json.xz`` holds every run's records)
and a finished run is not run again (resume). Each run also
measures the fp32 matmul rate of its own process (same threads) and counts its FLOPs per step
(``torch.utils.flop_counter``), so its achieved FLOP/s is a fraction of what the machine does at that moment.
Writes ``trainer_ttq.json.xz`` (every run's records), ``trainer_ttq.md`` and ``trainer_ttq.png``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SWAP = ROOT / "results/training/answer-swap"


class Stop(Exception):
    """Raised from the evaluation hook to end a run."""


def arm_name(arm: str, lr: float) -> str:
    return f"{arm}-lr{lr:g}"


def top_layers(arm: str) -> int | None:
    return None if arm == "all" else int(arm.removeprefix("top"))


def matmul_rate(seconds: float = 3.0) -> float:
    """fp32 GFLOP per CPU-second of this process on matmuls of the trainer's shapes (tokens x 576 @ 576 x 1536)."""
    import torch

    a, b = torch.randn(1024, 576), torch.randn(576, 1536)
    for _ in range(3):
        a @ b
    n, t0 = 0, time.process_time()
    while time.process_time() - t0 < seconds:
        a @ b
        n += 1
    return 2 * 1024 * 576 * 1536 * n / (time.process_time() - t0) / 1e9


def swap_rows(tokenizer, split: str, n: int, skip: int = 0, strip_system: bool = False):
    """(prompts, correct) of ``n`` answer-swap questions of SciQ ``split`` (seeded order, after ``skip``)."""
    from calbench.judge import judge_for
    from calbench.tasks import get_task, select
    from trainers.rewarding_doubt.data import confidence_rows, fixed_answer_examples

    examples = select(get_task("sciq").load(split), skip + n, 0)[skip:]
    answered, _ = fixed_answer_examples(
        examples, str(SWAP / f"sciq_{split}.jsonl.gz"), judge_for("open", containment=True), kind="open"
    )
    rows = confidence_rows(answered, tokenizer, "0-10", "open")
    prompts = [r["prompt"] for r in rows]
    if strip_system:
        prompts = [without_system(p) for p in prompts]
    return prompts, [r["correct"] for r in rows]


def without_system(text: str) -> str:
    """The rendered SmolLM2 prompt without the system turn its chat template adds by default."""
    start = text.find("<|im_start|>system")
    if start < 0:
        return text
    end = text.find("<|im_end|>\n", start) + len("<|im_end|>\n")
    return text[:start] + text[end:]


def run_one(arm: str, lr: float, a: argparse.Namespace) -> None:
    """One training run; its curve goes to OUT/ttq/<name>.jsonl, then a final line with ``done``."""
    import numpy as np
    import torch
    from peft import get_peft_model
    from torch.utils.flop_counter import FlopCounterMode

    from calbench.backends.hf import HFBackend
    from calbench.levels import ids_level_log_probs
    from calbench.metrics import score
    from trainers.rewarding_doubt.config import RDConfig
    from trainers.rewarding_doubt.estimators import lora_config as _lora_config
    from trainers.rewarding_doubt.exact_loop import ExactLoop
    from trainers.rewarding_doubt.prefix_cache import PrefixCache

    torch.set_num_threads(a.threads)
    name = arm_name(arm, lr) + ("-nosys" if a.strip_system else "")
    path = a.out / "ttq" / f"{name}.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.unlink(missing_ok=True)
    fh = open(path, "a", encoding="utf-8")

    def emit(rec):
        fh.write(json.dumps(rec) + "\n")
        fh.flush()

    rate = matmul_rate()
    backend = HFBackend("smollm2-135m-instruct", device="cpu", dtype="float32")
    tok = backend.tokenizer
    train_p, train_y = swap_rows(tok, "train", a.train, strip_system=a.strip_system)
    held_p, held_y = swap_rows(tok, "validation", a.select + a.measure, strip_system=a.strip_system)
    k = top_layers(arm)
    cfg = RDConfig(
        estimator="exact",
        strict_format=True,
        judge={"containment": True},
        batch_size=8,
        epochs=a.epochs,
        max_steps=None,
        learning_rate=lr,
        warmup_steps=10,
        beta=0.02,
        kl_reference="uniform",
        max_grad_norm=1.0,
        lora_r=8,
        lora_alpha=16,
        seed=a.seed,
        eval_every=max(1, a.eval_labels // 8),
        save_every=0,
        logging_steps=10**9,
        lora_top_layers=k,
        prefix_cache_dtype="float16",
    )
    torch.manual_seed(a.seed)
    model = get_peft_model(backend.model, _lora_config(cfg, backend.model))
    tokens = [len(tok(p, add_special_tokens=False)["input_ids"]) for p in train_p]
    emit(
        {
            "kind": "setup",
            "arm": arm,
            "lr": lr,
            "top_layers": k,
            "threads": a.threads,
            "matmul_gflops": rate,
            "train": len(train_p),
            "select": a.select,
            "measure": a.measure,
            "strip_system": a.strip_system,
            "prompt_tokens_mean": float(np.mean(tokens)),
            "train_accuracy": float(np.mean(train_y)),
        }
    )

    held_ids = None
    held_cache = None
    clock = {"eval": 0.0, "start": 0.0}
    crossed: dict[str, float | None] = {"select": None, "measure": None}

    with tempfile.TemporaryDirectory() as tmp:

        def evaluate(step: int, labels: int):
            t0 = time.process_time()
            train_cpu = t0 - clock["start"] - clock["eval"]
            model.eval()
            with torch.no_grad():
                parts = []
                for i in range(0, len(held_ids), 16):
                    batch = list(range(i, min(i + 16, len(held_ids))))
                    if held_cache is not None:  # the same readout through the (checked) cached bottom layers
                        parts.append(held_cache.forward(batch))
                    else:
                        parts.append(
                            ids_level_log_probs(
                                model, [held_ids[j] for j in batch], loop.pad_id, loop.digits, loop.end_ids
                            )
                        )
                lp = torch.cat(parts)
            model.train()
            stated = lp[:, :11].argmax(1).double().numpy() / 10
            y = np.asarray(held_y)
            rec = {
                "kind": "eval",
                "step": step,
                "labels": labels,
                "train_cpu_s": round(train_cpu, 2),
                "wall_s": round(time.time() - clock["wall"], 1),
            }
            for part, sl in (("select", slice(0, a.select)), ("measure", slice(a.select, None))):
                au = score(stated[sl], y[sl])["auroc"]
                rec[f"{part}_auroc"] = None if math.isnan(au) else round(au, 4)
                if crossed[part] is None and au >= a.target:
                    crossed[part] = train_cpu
            if loop.cache is not None:
                rec["cache_build_cpu_s"] = round(loop.cache.built_seconds, 2)
            emit(rec)
            clock["eval"] += time.process_time() - t0
            print(f"[{name}] {rec}", file=sys.stderr, flush=True)
            if all(v is not None for v in crossed.values()) or train_cpu > a.cpu_budget:
                raise Stop
            return rec

        loop = ExactLoop(model, tok, train_p, train_y, cfg, Path(tmp), evaluate=evaluate)
        loop._save = lambda *x, **kw: None  # no checkpoint writes inside the clock
        held_ids = [tok(p, add_special_tokens=False)["input_ids"] + [loop.digits[1]] for p in held_p]
        if k:
            held_cache = PrefixCache(
                model, held_ids, loop.digits, top_k=k, end_ids=loop.end_ids, dtype="float32", pad_id=loop.pad_id
            )
        # FLOPs of one training step (a batch of median length) and of building one cache entry
        order = np.argsort([len(x) for x in loop.ids])
        mid = [int(i) for i in order[max(0, len(order) // 2 - 4) :][:8]]
        flops = FlopCounterMode(display=False)
        probe = (
            PrefixCache(
                model,
                [loop.ids[i] for i in mid],
                loop.digits,
                top_k=k,
                end_ids=loop.end_ids,
                dtype="float32",
                pad_id=loop.pad_id,
            )
            if k
            else None
        )
        if probe is not None:
            with flops:
                probe._build(range(len(mid)))
            build_flops = flops.get_total_flops() / len(mid)
            probe.checked = True
            flops = FlopCounterMode(display=False)
        else:
            build_flops = 0.0
        with flops:
            out = probe.forward(range(len(mid))) if probe is not None else loop.outcome_log_probs(mid)
            out[:, 5].sum().backward()
        model.zero_grad(set_to_none=True)
        emit(
            {
                "kind": "flops",
                "step_flops": flops.get_total_flops(),
                "build_flops_per_entry": build_flops,
                "median_prompt_tokens": len(loop.ids[mid[0]]),
            }
        )
        clock["start"], clock["wall"] = time.process_time(), time.time()
        try:
            loop.train()
            stopped = "plan finished"
        except Stop:
            stopped = "target or budget"
        train_cpu = time.process_time() - clock["start"] - clock["eval"]
        emit(
            {
                "kind": "done",
                "stopped": stopped,
                "train_cpu_s": round(train_cpu, 2),
                "cross_select_cpu_s": crossed["select"],
                "cross_measure_cpu_s": crossed["measure"],
                "cache_build_cpu_s": round(loop.cache.built_seconds, 2) if loop.cache is not None else 0.0,
                "cache_check_gap": getattr(loop.cache, "check_gap", None) if loop.cache is not None else None,
            }
        )
    fh.close()


def throughput(a: argparse.Namespace) -> None:
    """Labelled answers per CPU-second and per wall-second of training steps (forward, backward, AdamW) for batch
    sizes x torch threads, top-K cached (cache built first, not timed) and all-layer; ``trainer_throughput.md``."""
    import numpy as np
    import torch
    from peft import get_peft_model

    from calbench.backends.hf import HFBackend
    from trainers.rewarding_doubt.config import RDConfig
    from trainers.rewarding_doubt.estimators import lora_config as _lora_config
    from trainers.rewarding_doubt.exact import exact_objective, reward_table
    from trainers.rewarding_doubt.exact_loop import ExactLoop
    from trainers.rewarding_doubt.rewards import RewardSpec

    rows = []
    for arm in a.arms.split(","):
        k = top_layers(arm)
        backend = HFBackend("smollm2-135m-instruct", device="cpu", dtype="float32")
        n_prompts = max((max(2, a.throughput_labels // b) + 1) * b for b in (8, 16, 32))
        prompts, correct = swap_rows(backend.tokenizer, "train", n_prompts)
        cfg = RDConfig(
            strict_format=True,
            lora_top_layers=k,
            beta=0.02,
            kl_reference="uniform",
            prefix_cache_dtype="float16",
            eval_every=0,
            save_every=0,
        )
        model = get_peft_model(backend.model, _lora_config(cfg, backend.model))
        with tempfile.TemporaryDirectory() as tmp:
            loop = ExactLoop(model, backend.tokenizer, prompts, correct, cfg, Path(tmp))
        if loop.cache is not None:
            loop.cache._build(range(len(prompts)))
            loop.cache.checked = True
        params = [p for p in model.parameters() if p.requires_grad]
        opt = torch.optim.AdamW(params, lr=1e-4)
        table = reward_table(RewardSpec.from_config(cfg))
        order = np.argsort([len(x) for x in loop.ids])
        for threads in (1, 2):
            torch.set_num_threads(threads)
            for batch in (8, 16, 32) if k else (8,):
                steps = max(2, a.throughput_labels // batch) if k else 3
                chunks = [[int(i) for i in order[j : j + batch]] for j in range(0, len(order), batch)][: steps + 1]
                times = []
                for n, idx in enumerate(chunks):
                    c0, w0 = time.process_time(), time.perf_counter()
                    log_pi = loop.outcome_log_probs(idx)
                    ref = torch.full_like(log_pi, -math.log(log_pi.shape[1]))
                    j, _ = exact_objective(log_pi, loop.correct[idx], table, beta=0.02, ref_log_pi=ref)
                    opt.zero_grad(set_to_none=True)
                    (-j).backward()
                    opt.step()
                    if n:  # the first step is a warm-up
                        times.append((time.process_time() - c0, time.perf_counter() - w0, len(idx)))
                labels = sum(t[2] for t in times)
                rows.append(
                    {
                        "arm": arm,
                        "threads": threads,
                        "batch": batch,
                        "labels_per_cpu_s": labels / sum(t[0] for t in times),
                        "labels_per_wall_s": labels / sum(t[1] for t in times),
                        "labels_timed": labels,
                    }
                )
                print(rows[-1], file=sys.stderr, flush=True)
    md = [
        "# Trainer throughput: batch size and threads (training steps only, one run)",
        "",
        f"`python benchmarks/bench_time_to_quality.py --throughput --arms {a.arms}` on {platform.machine()}: "
        "SmolLM2-135M-Instruct fp32, LoRA r8, the answer-swap prompts of similar length (sorted), whole-number "
        "readout, KL to uniform; forward + backward + AdamW per step, the first step of each setting untimed; "
        "the top-K arms read a float16 prefix cache built beforehand (not timed).",
        "",
        "| arm | torch threads | batch | labels / CPU-s | labels / wall-s | labels timed |",
        "|---|---|---|---|---|---|",
    ]
    md += [
        f"| {r['arm']} | {r['threads']} | {r['batch']} | {r['labels_per_cpu_s']:.2f} | {r['labels_per_wall_s']:.2f} | "
        f"{r['labels_timed']} |"
        for r in rows
    ]
    (a.out / "trainer_throughput.md").write_text("\n".join(md) + "\n", encoding="utf-8")
    print("\n".join(md))


def natural_summary(a: argparse.Namespace) -> None:
    """``natural_check/results.md`` and ``results.json``: the held-out evaluation after training of each
    ``--natural`` run folder (``calbench train`` outputs), side by side."""
    import yaml

    rows = []
    for folder in a.natural.split(","):
        summary = json.loads((Path(folder) / "summary.json").read_text(encoding="utf-8"))
        config = yaml.safe_load((Path(folder) / "config.yaml").read_text(encoding="utf-8"))
        rows.append(
            {
                "run": Path(folder).name,
                "settings": {
                    k: config["settings"].get(k)
                    for k in ("lora_top_layers", "learning_rate", "cpu_time_limit_s", "prefix_cache_dtype")
                },
                "train_cpu_seconds": summary.get("train_cpu_seconds"),
                "train_seconds": summary.get("train_seconds"),
                "steps": summary["steps"],
                "labels_seen": summary["labels_seen"],
                "prefix_cache": summary.get("prefix_cache"),
                "heldout": summary["final_heldout"],
                "model": config["model"],
                "answers": config["answers"],
            }
        )
    md = [
        "# Natural-answer check: today's trainer vs the top-8 and top-15 prefix-cached trainers at equal CPU time",
        "",
        "TriviaQA (DPR training pool), SmolLM2-135M-Instruct's own greedy answers (committed with "
        "rd-smollm2-triviaqa-beta002); 600 held-out questions (the pool's first 600 of the seeded order), 1,600 "
        "trained on in repeated passes. The headline recipe's objective (log score, whole-number readout, KL to "
        "uniform, beta 0.02, batch 8). Every run: one torch thread, stopped at the same CPU seconds "
        "(`cpu_time_limit_s`), run side by side with other jobs on the 2 cores; the held-out evaluation once, "
        "after training. Configs: `all_layers.yaml`, `top8_cached.yaml`, `top15_cached.yaml` here.",
        "",
        "| run | LoRA layers | lr | training CPU s | labels seen | held-out accuracy | stated AUROC [95 % CI] | "
        "stated ECE | stated log score | expected AUROC [95 % CI] | expected log score | expected Brier |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        h = r["heldout"]
        md.append(
            f"| {r['run']} | {r['settings']['lora_top_layers'] or 'all 30'} | {r['settings']['learning_rate']:g} | "
            f"{r['train_cpu_seconds']} | {r['labels_seen']} | {h['greedy/accuracy']:.3f} | "
            f"{h['greedy/auroc']:.3f} [{h['greedy/auroc_ci_low']:.3f}, {h['greedy/auroc_ci_high']:.3f}] | "
            f"{h['greedy/ece']:.3f} | {h['greedy/log_score']:.3f} | {h['expected/auroc']:.3f} "
            f"[{h['expected/auroc_ci_low']:.3f}, {h['expected/auroc_ci_high']:.3f}] | "
            f"{h['expected/log_score']:.3f} | {h['expected/brier']:.3f} |"
        )
    md += [
        "",
        "Stated confidences (histogram over the levels 0..10): "
        + "; ".join(f"{r['run']}: {r['heldout'].get('greedy/histogram')}" for r in rows),
        "",
    ]
    out = a.out / "natural_check"
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.md").write_text("\n".join(md), encoding="utf-8")
    (out / "results.json").write_text(json.dumps(rows, indent=1) + "\n", encoding="utf-8")
    print("\n".join(md))


def read_run(path: Path) -> dict | None:
    if not path.exists():
        return None
    recs = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    if not recs or recs[-1].get("kind") != "done":
        return None
    run = {"setup": recs[0], "evals": [r for r in recs if r["kind"] == "eval"], "done": recs[-1]}
    run["flops"] = next((r for r in recs if r["kind"] == "flops"), {})
    return run


def summarize(a: argparse.Namespace, arms: list[str], grid: dict[str, list[float]]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    suffix = "-nosys" if a.strip_system else ""
    runs = {
        (arm, lr): read_run(a.out / "ttq" / f"{arm_name(arm, lr)}{suffix}.jsonl") for arm in arms for lr in grid[arm]
    }
    md = [
        f"# Trainer: CPU seconds to held-out AUROC {a.target} (answer swap), all-layer LoRA vs top-K with the "
        "frozen-prefix cache",
        "",
        f"`python benchmarks/bench_time_to_quality.py --arms {','.join(arms)} --grid {a.grid} --select {a.select} "
        f"--measure {a.measure} --eval-labels {a.eval_labels} --workers {a.workers} --threads {a.threads} "
        f"--cpu-budget {a.cpu_budget:g}` on {platform.machine()}. "
        f"SmolLM2-135M-Instruct fp32, LoRA r8 all linear modules, log score + whole-number readout + KL to uniform "
        f"(beta 0.02), batch 8; {a.train} SciQ answer-swap training questions (passes repeated); held-out SciQ "
        f"validation answer swaps: {a.select} choose the learning rate, {a.measure} other ones give the reported "
        "curve. Stated confidence = modal level. Clock: CPU seconds of the run's process (all its threads), the "
        "cache build included, held-out evaluations excluded. Runs went "
        f"{a.workers} at a time with {a.threads} torch thread(s) each.",
        "",
        "## Every run",
        "",
        "| arm | lr | CPU s to target (selection set) | CPU s to target (measurement set) | labels then | "
        "best / final measurement AUROC | labels, CPU s at the end | CPU s per label (training) | "
        "cache build CPU s | GFLOP/step | achieved GFLOP/CPU-s | matmul GFLOP/CPU-s | fraction | stopped |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    best: dict[str, tuple[float, dict]] = {}
    for (arm, lr), run in runs.items():
        if run is None:
            md.append(f"| {arm} | {lr:g} | not run | | | | | | | | | | | |")
            continue
        d, ev, fl = run["done"], run["evals"], run["flops"]
        steps = ev[-1]["step"] if ev else 0
        labels_at = next((e["labels"] for e in ev if (e.get("measure_auroc") or 0) >= a.target), None)
        entries = min(ev[-1]["labels"], run["setup"]["train"]) if ev and top_layers(arm) else 0
        work = steps * fl.get("step_flops", 0) + entries * fl.get("build_flops_per_entry", 0)
        achieved = work / d["train_cpu_s"] / 1e9 if d["train_cpu_s"] else math.nan
        rate = run["setup"]["matmul_gflops"]
        best_au = max((e.get("measure_auroc") or 0) for e in ev) if ev else math.nan
        labels_end = ev[-1]["labels"] if ev else 0
        per_label = (d["train_cpu_s"] - d["cache_build_cpu_s"]) / labels_end if labels_end else math.nan
        md.append(
            f"| {arm} | {lr:g} | {_fmt(d['cross_select_cpu_s'])} | {_fmt(d['cross_measure_cpu_s'])} | "
            f"{labels_at if labels_at is not None else '-'} | {best_au:.3f} / {ev[-1].get('measure_auroc')} | "
            f"{labels_end}, {ev[-1]['train_cpu_s']:.0f} | {per_label:.2f} | "
            f"{d['cache_build_cpu_s']:.0f} | {fl.get('step_flops', 0) / 1e9:.1f} | {achieved:.1f} | "
            f"{rate:.1f} | {achieved / rate:.0%} | {d['stopped'].split(':')[0]} |"
        )
        key = d["cross_select_cpu_s"] if d["cross_select_cpu_s"] is not None else math.inf
        tie = -max((e.get("select_auroc") or 0) for e in ev) if ev else 0  # no crossing: the best selection AUROC
        if arm not in best or (key, tie) < best[arm][0]:
            best[arm] = ((key, tie), {"lr": lr, **run})
    md += [
        "",
        "## Each arm at the learning rate its selection set chose",
        "",
        "| arm | lr | CPU s to target (measurement set) | vs all-layer |",
        "|---|---|---|---|",
    ]
    ref = best.get("all", (None, {}))[1].get("done", {}).get("cross_measure_cpu_s")
    summary = {}
    for arm in arms:
        if arm not in best:
            continue
        r = best[arm][1]
        t = r["done"]["cross_measure_cpu_s"]
        ratio = t / ref if (t is not None and ref) else None
        summary[arm] = {"lr": r["lr"], "cpu_s_to_target": t, "ratio_to_all_layer": ratio}
        md.append(f"| {arm} | {r['lr']:g} | {_fmt(t)} | {'-' if ratio is None else f'{ratio:.2f}x'} |")
    md.append("")
    fig, ax = plt.subplots(figsize=(8, 4.5))
    for arm in arms:
        if arm in best:
            ev = best[arm][1]["evals"]
            ax.plot(
                [e["train_cpu_s"] for e in ev],
                [e.get("measure_auroc") or math.nan for e in ev],
                "o-",
                label=f"{arm} (lr {best[arm][1]['lr']:g})",
            )
    ax.axhline(a.target, color="grey", ls=":", lw=0.8)
    ax.set(
        xlabel="training CPU seconds (cache build included)",
        ylabel="held-out AUROC of the stated level",
        title="Answer swap: time to quality",
        ylim=(0.4, 1.0),
    )
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(a.out / f"trainer_ttq{suffix}.png", dpi=72)
    (a.out / f"trainer_ttq{suffix}.md").write_text("\n".join(md), encoding="utf-8")
    import lzma

    (a.out / f"trainer_ttq{suffix}.json.xz").write_bytes(
        lzma.compress(
            (
                json.dumps(
                    {
                        "settings": {k: str(v) for k, v in vars(a).items()},
                        "chosen": summary,
                        "runs": {arm_name(arm, lr): run for (arm, lr), run in runs.items()},
                    },
                    indent=1,
                )
                + "\n"
            ).encode()
        )
    )
    print("\n".join(md))


def _fmt(x) -> str:
    return "not reached" if x is None else f"{x:.0f}"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--arms", default="all,top8,top15")
    ap.add_argument("--lrs", default="3e-4,1e-3", help="the learning-rate grid of every arm")
    ap.add_argument(
        "--grid",
        default="all=3e-4/1e-3,top8=1e-3/3e-3,top15=1e-3/3e-3",
        help="per-arm grids ARM=LR/LR,... (overrides --lrs for the arms it names)",
    )
    ap.add_argument("--order", default="", help="runs to start first, ARM:LR,... (the rest follow in grid order)")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--cpu-budget", type=float, default=3000.0)
    ap.add_argument("--target", type=float, default=0.90)
    ap.add_argument("--train", type=int, default=960)
    ap.add_argument("--select", type=int, default=200)
    ap.add_argument("--measure", type=int, default=400)
    ap.add_argument("--eval-labels", type=int, default=480)
    ap.add_argument("--epochs", type=int, default=30)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--strip-system", action="store_true", help="drop the chat template's default system turn")
    ap.add_argument("--out", type=Path, default=ROOT / "results/benchmarks")
    ap.add_argument("--run", help="internal: run one ARM:LR in this process")
    ap.add_argument("--summary-only", action="store_true")
    ap.add_argument("--throughput", action="store_true", help="measure batch sizes x threads instead")
    ap.add_argument("--natural", help="summarise these natural-check run folders (comma separated) instead")
    ap.add_argument("--throughput-labels", type=int, default=96, help="labels timed per setting (top-K arms)")
    a = ap.parse_args(argv)
    arms = a.arms.split(",")
    grid = {arm: [float(x) for x in a.lrs.split(",")] for arm in arms}
    for part in filter(None, a.grid.split(",")):
        arm, values = part.split("=")
        if arm in grid:
            grid[arm] = [float(x) for x in values.split("/")]
    if a.throughput:
        throughput(a)
        return 0
    if a.natural:
        natural_summary(a)
        return 0
    if a.run:
        arm, lr = a.run.split(":")
        run_one(arm, float(lr), a)
        return 0
    if not a.summary_only:
        suffix = "-nosys" if a.strip_system else ""
        todo = [
            (arm, lr)
            for arm in arms
            for lr in grid[arm]
            if read_run(a.out / "ttq" / f"{arm_name(arm, lr)}{suffix}.jsonl") is None
        ]
        first = [(x.split(":")[0], float(x.split(":")[1])) for x in filter(None, a.order.split(","))]
        todo = [r for r in first if r in todo] + [r for r in todo if r not in first]
        passthrough = [
            f"--{k.replace('_', '-')}={v}"
            for k, v in vars(a).items()
            if k
            in ("threads", "cpu_budget", "target", "train", "select", "measure", "eval_labels", "epochs", "seed", "out")
        ] + (["--strip-system"] if a.strip_system else [])
        running: list[subprocess.Popen] = []
        (a.out / "ttq").mkdir(parents=True, exist_ok=True)
        env = {**os.environ, "OMP_NUM_THREADS": str(a.threads), "MKL_NUM_THREADS": str(a.threads)}
        while todo or running:
            while todo and len(running) < a.workers:
                arm, lr = todo.pop(0)
                print(f"starting {arm_name(arm, lr)}", file=sys.stderr, flush=True)
                log = open(a.out / "ttq" / f"{arm_name(arm, lr)}{suffix}.log", "w")
                running.append(
                    subprocess.Popen(
                        [sys.executable, __file__, "--run", f"{arm}:{lr}", *passthrough],
                        env=env,
                        stderr=log,
                        stdout=log,
                    )
                )
            time.sleep(5)
            running = [p for p in running if p.poll() is None]
    summarize(a, arms, grid)
    return 0


if __name__ == "__main__":
    sys.exit(main())
