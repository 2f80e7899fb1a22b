"""Held-out evaluation during training, with calbench's readouts and metrics engine.

Every ``eval_every`` steps the policy states its confidence for held-out questions whose (fixed) answers were
generated and judged before training, read out two ways:

* ``greedy``: the greedily decoded confidence, parsed by :func:`calbench.parse.parse_confidence`;
* ``expected``: the probability-weighted mean over the levels 0..10 from one forward pass
  (:meth:`calbench.backends.hf.HFBackend.confidence_distribution`), which does not collapse to the mode.

Metrics come from :func:`calbench.metrics.score` (ECE, Brier, log score, AUROC, ...), plus the parse rate and
the histogram of greedy confidences over the 11 levels. Each evaluation is one JSON line in the run's log.
"""

from __future__ import annotations

import math
import time
from contextlib import contextmanager
from typing import Any, Sequence

import numpy as np

from calbench.elicit import Prompt, confidence_prompt
from calbench.metrics import metric_table
from calbench.parse import parse_confidence

#: The metrics each held-out evaluation logs (the catalogue's ``paired`` table).
KEY_METRICS = metric_table("paired")


def confidence_histogram(confidences: Sequence[float | None], scale_levels: int = 11) -> list[int]:
    """Counts of confidences at each level 0, 0.1, ..., 1.0 (rounded to the nearest level; None skipped)."""
    hist = [0] * scale_levels
    for c in confidences:
        if c is not None:
            hist[int(round(c * (scale_levels - 1)))] += 1
    return hist


def _scores(conf: Sequence[float | None], correct: Sequence[int], n_resamples: int = 500) -> dict[str, float]:
    """The key metrics over the parsed confidences, and AUROC's 95 % bootstrap interval
    (``auroc_ci_low``/``auroc_ci_high``; :func:`calbench.metrics.bootstrap`)."""
    from calbench.metrics import bootstrap

    pairs = [(c, y) for c, y in zip(conf, correct) if c is not None]
    if not pairs:
        return {k: math.nan for k in KEY_METRICS + ("auroc_ci_low", "auroc_ci_high")}
    c, y = zip(*pairs)
    b = bootstrap(np.array(c, dtype=float), np.array(y, dtype=float), n_resamples=n_resamples)
    out = {k: float(b[k]["value"]) for k in KEY_METRICS}
    out["auroc_ci_low"], out["auroc_ci_high"] = float(b["auroc"]["ci_low"]), float(b["auroc"]["ci_high"])
    return out


@contextmanager
def inference_backend(model: Any, tokenizer: Any, batch_size: int):
    """An :class:`~calbench.backends.hf.HFBackend` around the model being trained, in eval mode with left
    padding and no gradients; the model's mode and the tokenizer's padding side are restored afterwards."""
    import torch

    from calbench.backends.hf import HFBackend

    was_training, side = model.training, tokenizer.padding_side
    model.eval()
    tokenizer.padding_side = "left"
    try:
        with torch.no_grad():
            # the very same generation and readout code as `calbench eval`
            yield HFBackend.from_loaded(model, tokenizer, batch_size=batch_size)
    finally:
        tokenizer.padding_side = side
        model.train(was_training)


class HeldOutEvaluator:
    """Evaluates the policy's confidence on fixed held-out (question, answer, correct) triples."""

    def __init__(
        self,
        answered: Sequence[Any],
        scale: str,
        *,
        kind: str | None = None,
        batch_size: int = 64,
        max_new_tokens: int | None = None,
    ):
        from calbench.methods.base import CONFIDENCE_TOKENS

        self.answered = list(answered)
        self.scale = scale
        self.max_new_tokens = max_new_tokens or CONFIDENCE_TOKENS  # the two-stage method's budget
        self.batch_size = batch_size
        self.prompts: list[Prompt] = [confidence_prompt(a.example, a.reply, scale, kind) for a in self.answered]
        self.correct = [a.correct for a in self.answered]

    def evaluate(self, model: Any, tokenizer: Any) -> dict[str, Any]:
        """Metrics of both readouts on the held-out set (flat ``{name: value}``, JSON-ready)."""
        from calbench.methods.expected import expected_confidence

        if not self.answered:
            return {}
        t0 = time.time()
        with inference_backend(model, tokenizer, self.batch_size) as backend:
            gens = backend.generate(self.prompts, max_new_tokens=self.max_new_tokens, temperature=0.0, stop=("\n",))
            dists = backend.confidence_distribution(self.prompts)
        parsed = [parse_confidence(g.text, scale=self.scale) for g in gens]
        greedy = [p.value if p.ok else None for p in parsed]
        expected = [expected_confidence(d["probs"]) for d in dists]
        out: dict[str, Any] = {"n": len(self.answered), "parse_rate": sum(g is not None for g in greedy) / len(greedy)}
        for name, conf in (("greedy", greedy), ("expected", expected)):
            for k, v in _scores(conf, self.correct).items():
                out[f"{name}/{k}"] = v
        out["greedy/mean_confidence"] = (
            float(np.mean([g for g in greedy if g is not None])) if any(g is not None for g in greedy) else math.nan
        )
        out["expected/mean_confidence"] = float(np.mean(expected))
        out["digit_mass"] = float(np.mean([d["digit_mass"] for d in dists]))
        out["greedy/histogram"] = confidence_histogram(greedy)
        out["expected/histogram"] = confidence_histogram(expected)
        out["eval_seconds"] = round(time.time() - t0, 2)
        return out


def format_eval(step: int, m: dict[str, Any]) -> str:
    """One console line for a held-out evaluation."""

    def f(k: str) -> str:
        v = m.get(k)
        return "nan" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:.3f}"

    return (
        f"[heldout step {step}] n={m.get('n')} acc={f('greedy/accuracy')} parse={f('parse_rate')} | greedy: "
        f"ece={f('greedy/ece')} brier={f('greedy/brier')} log={f('greedy/log_score')} auroc={f('greedy/auroc')} "
        f"mean={f('greedy/mean_confidence')} | expected: ece={f('expected/ece')} brier={f('expected/brier')} "
        f"log={f('expected/log_score')} auroc={f('expected/auroc')} mean={f('expected/mean_confidence')} | "
        f"hist={m.get('greedy/histogram')}"
    )


#: Below this held-out parse rate a warning says that the greedy replies drift (README, "Known limitation").
PARSE_WARN = 0.9


def parse_rate_warning(m: dict[str, Any], threshold: float = PARSE_WARN) -> str | None:
    """A console warning when the held-out greedy replies parse less often than ``threshold``, else None.
    The exact estimator scores the first confidence token only, so replies can drift after it unseen by the
    reward ("13.3 (", "88.8%"): the parse rate is where it shows."""
    rate = m.get("parse_rate")
    if rate is None or (isinstance(rate, float) and math.isnan(rate)) or rate >= threshold:
        return None
    return (
        f"[rewarding-doubt] warning: held-out parse rate {rate:.3f} < {threshold}: the greedy replies no longer "
        "read as a 0-10 level (the exact estimator scores the first confidence token only; see "
        "trainers/rewarding_doubt/README.md, 'Known limitation'); consider an earlier checkpoint or a lower "
        "learning rate"
    )


class OneStageEvaluator:
    """Joint mode's held-out evaluation: the policy answers and states its confidence in one reply
    (``Answer: <a>, Confidence: <c>``, the format it is trained on), greedily; the answer is judged and the
    stated confidence scored. Same output keys as :class:`HeldOutEvaluator`'s ``greedy/*`` (no expected
    readout: the answer is not fixed)."""

    def __init__(
        self,
        examples: Sequence[Any],
        judge: Any,
        scale: str,
        *,
        kind: str | None = None,
        batch_size: int = 64,
        max_new_tokens: int = 48,
    ):
        from calbench.elicit import one_stage_prompt

        self.examples = list(examples)
        self.judge, self.scale, self.batch_size, self.max_new_tokens = judge, scale, batch_size, max_new_tokens
        self.prompts = [one_stage_prompt(ex, scale, kind) for ex in self.examples]

    def evaluate(self, model: Any, tokenizer: Any) -> dict[str, Any]:
        from calbench.elicit import ANSWER_PREFIX
        from calbench.parse import parse_one_stage

        if not self.examples:
            return {}
        t0 = time.time()
        with inference_backend(model, tokenizer, self.batch_size) as backend:
            gens = backend.generate(self.prompts, max_new_tokens=self.max_new_tokens, temperature=0.0, stop=("\n",))
        conf, correct = [], []
        for ex, g in zip(self.examples, gens):
            answer, parsed = parse_one_stage(ANSWER_PREFIX + g.text, self.scale)
            conf.append(parsed.value if parsed.ok else None)
            correct.append(int(bool(answer) and bool(self.judge(answer, ex))))
        out: dict[str, Any] = {
            "n": len(self.examples),
            "format": "one-stage",
            "parse_rate": sum(c is not None for c in conf) / len(conf),
            "answer_accuracy": float(np.mean(correct)),
        }
        for k, v in _scores(conf, correct).items():
            out[f"greedy/{k}"] = v
        parsed_conf = [c for c in conf if c is not None]
        out["greedy/mean_confidence"] = float(np.mean(parsed_conf)) if parsed_conf else math.nan
        out["greedy/histogram"] = confidence_histogram(conf)
        out["eval_seconds"] = round(time.time() - t0, 2)
        return out
