"""Test helpers shared by several test modules (test modules do not import each other)."""

from __future__ import annotations

import hashlib
import itertools
import json
from pathlib import Path

from calbench.backends.base import Generation
from calbench.backends.scripted import ScriptedBackend
from calbench.judge import judge_for
from calbench.methods import MethodContext


class SamplingScript(ScriptedBackend):
    """Greedy calls answer from the script; sampled calls (temperature > 0) cycle through ``samples``."""

    def __init__(self, greedy: str, samples: list[str]):
        super().__init__(default=greedy)
        self.samples = itertools.cycle(samples)
        self.temperatures: list[float] = []

    def generate(self, prompts, *, max_new_tokens, temperature=0.0, stop=("\n",), seed=None):
        self.temperatures.append(temperature)
        if temperature == 0:
            return super().generate(prompts, max_new_tokens=max_new_tokens, stop=stop, seed=seed)
        return [Generation(text=next(self.samples), n_tokens=2) for _ in prompts]


def ctx_for(backend, kind: str, **settings) -> MethodContext:
    judge = judge_for(kind)
    return MethodContext(
        backend=backend,
        model_name="scripted",
        task_name="toy",
        kind=kind,
        judge=judge,
        judge_name=judge.name,
        settings=settings,
    )


# -- run folders written by hand (the leaderboard, report and show tests) --

IDS = [f"q{i}" for i in range(40)]


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def metric(v, lo=None, hi=None, note=None) -> dict:
    d = {"value": v, "ci_low": v if lo is None else lo, "ci_high": v if hi is None else hi}
    if note:
        d["note"] = note
    return d


def make_run(
    folder: Path,
    *,
    model: str = "m",
    methods=("verbalized",),
    task: str = "triviaqa",
    group: str = "in_domain",
    ids=IDS,
    conf=None,
    correct=None,
    metrics: dict | None = None,
    status: str = "complete",
    judge: dict | None = None,
    policy: str = "exclude",
    adapter: str | None = None,
    finished: str = "2026-01-01T00:00:00+00:00",
    parse_ok=None,
) -> Path:
    """Write a run folder. Samples come from ``conf``/``correct`` (default: all 0.7 / alternating right);
    metrics are computed from them by calbench's engine unless given explicitly per method."""
    from calbench.metrics import metric_settings, summarize_samples

    folder.mkdir(parents=True, exist_ok=True)
    conf = [0.7] * len(ids) if conf is None else conf
    correct = [i % 2 for i in range(len(ids))] if correct is None else correct
    parse_ok = [True] * len(ids) if parse_ok is None else parse_ok
    samples, by_method = [], {}
    for m in methods:
        rows = []
        for i, (c, y, ok) in enumerate(zip(conf, correct, parse_ok)):
            rows.append(
                {
                    "id": ids[i],
                    "task": task,
                    "model": model,
                    "method": m,
                    "prompt": "q",
                    "raw_output": "r",
                    "answer": "a",
                    "confidence": c if ok else None,
                    "parse_ok": ok,
                    "correct": int(y),
                    "judge": "alias_match",
                }
            )
        samples += rows
        by_method[m] = (metrics or {}).get(m) or summarize_samples(rows, policy=policy, n_resamples=200)
    with open(folder / "samples.jsonl", "w") as fh:
        for s in samples:
            fh.write(json.dumps(s) + "\n")
    man = {
        "calbench_run": 1,
        "status": status,
        "model": {"id": model, "sha256": _sha(model), "adapter": adapter, "adapter_sha256": None},
        "task": {
            "name": task,
            "split": "eval",
            "source": "bundled",
            "kind": "open",
            "group": group,
            "limit": None,
            "data_sha256": _sha("data" + "".join(ids)),
            "ids_sha256": _sha("\n".join(ids)),
        },
        "n": len(ids),
        "methods": list(methods),
        "method": ",".join(methods),
        "elicitation": {"scale": "0-10"},
        "judge": judge or {"name": "alias_match", "settings": {"f1": None}},
        "parse_policy": policy,
        "seed": 0,
        "versions": {"calbench": "0.1.0"},
        "timings": {"finished": finished},
        "metrics": by_method[methods[0]],
        "metric_settings": metric_settings(policy=policy, n_resamples=200),
    }
    if len(methods) > 1:
        man["metrics_by_method"] = by_method
    (folder / "run.json").write_text(json.dumps(man))
    return folder


def brier_only(v, lo, hi, **extra) -> dict:
    base = {
        "accuracy": metric(0.5),
        "ece": metric(0.1),
        "brier": metric(v, lo, hi),
        "log_score": metric(-0.6),
        "auroc": metric(0.7),
        "parse_rate": metric(1.0),
        "n": metric(40),
    }
    base.update(extra)
    return base


# ------------------------------------------------------------------------------------------ rank_with_ties
