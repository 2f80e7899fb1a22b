"""The periodic held-out evaluation during training (both estimators); the log and curve are in
:mod:`trainers.rewarding_doubt.training_log`."""

from __future__ import annotations

import json
import math
import sys
import time
from pathlib import Path
from typing import Any

from transformers import TrainerCallback

from calbench.records import iter_jsonl
from trainers.rewarding_doubt.evaluation import HeldOutEvaluator, OneStageEvaluator, format_eval, parse_rate_warning
from trainers.rewarding_doubt.training_log import JsonlLogCallback, chain_curve_rows, plot_training_curve


class HeldOutCallback(TrainerCallback):
    """Evaluates the held-out set before training, every ``every`` steps, and at the end (rank 0 only)."""

    def __init__(
        self,
        evaluator: HeldOutEvaluator | OneStageEvaluator,
        every: int,
        log: JsonlLogCallback,
        *,
        best_metric: str | None = None,
        best_dir: Path | None = None,
        resume: bool = False,
        curve: Path | None = None,
        labels_per_step: int = 1,
        continuation: Any = None,
    ):
        self.evaluator = evaluator
        self.continuation = continuation  # continue_from: the curve shows the whole chain of runs
        self.curve = Path(curve) if curve is not None else None
        self.labels_per_step = labels_per_step
        self.every = every
        self.log = log
        self.trainer: Any = None  # set after the trainer is built (the callback needs its model and tokenizer)
        self.last: dict[str, Any] | None = None
        self._done_steps: set[int] = set()
        # save_best_on: the adapter of the evaluation with the best `best_metric` goes to `best_dir`
        self.best_metric = best_metric
        self.best_dir = Path(best_dir) if best_dir is not None else None
        self.best: dict[str, Any] | None = None
        if best_metric and self.best_dir is None:
            raise ValueError("best_metric needs best_dir")
        if best_metric and resume and self.best_dir is not None and (self.best_dir / "best.json").exists():
            self.best = json.loads((self.best_dir / "best.json").read_text(encoding="utf-8"))

    def _is_better(self, value: float | None) -> bool:
        from trainers.rewarding_doubt.config import BEST_METRICS

        if value is None or math.isnan(value):
            return False
        if self.best is None:
            return True
        assert self.best_metric is not None  # only called with one (_maybe_save_best)
        return value > self.best["value"] if BEST_METRICS[self.best_metric] else value < self.best["value"]

    def _maybe_save_best(self, model: Any, step: int, metrics: dict[str, Any]) -> None:
        if not self.best_metric:
            return
        value = metrics.get(self.best_metric)
        value = float(value) if isinstance(value, (int, float)) else None
        if not self._is_better(value):
            return
        assert self.best_dir is not None  # given with best_metric (__init__)
        model.save_pretrained(str(self.best_dir))
        self.best = {"step": step, "metric": self.best_metric, "value": value}
        (self.best_dir / "best.json").write_text(json.dumps(self.best, indent=2), encoding="utf-8")
        print(
            f"[heldout step {step}] new best {self.best_metric}={value:.4f}: adapter saved to {self.best_dir}",
            file=sys.stderr,
            flush=True,
        )

    def record(self, model: Any, tokenizer: Any, step: int, labels_seen: int) -> dict[str, Any] | None:
        """Evaluate ``model`` on the held-out set, log it with the labels seen, keep the best adapter and
        redraw the training curve. Used by both estimators."""
        metrics = self.evaluator.evaluate(model, tokenizer)
        if not metrics:
            return None
        metrics = {"labels_seen": labels_seen, **metrics}
        self.last = {"step": step, **metrics}
        self.log.write({"step": step, "kind": "heldout", **metrics})
        print(format_eval(step, metrics), file=sys.stderr, flush=True)
        warning = parse_rate_warning(metrics)
        if warning:
            print(warning, file=sys.stderr, flush=True)
        self._maybe_save_best(model, step, metrics)
        self.plot()
        return self.last

    def plot(self) -> None:
        """Redraw ``training_curve.png`` from every held-out evaluation in the log (resumed runs included, and
        the runs a continuation continues)."""
        if self.curve is None or not self.log.path.exists():
            return
        rows, starts = chain_curve_rows(
            self.continuation, [r for _, r in iter_jsonl(self.log.path, tolerate_truncated_tail=True)]
        )
        plot_training_curve(rows, self.curve, starts=starts)

    def _run(self, state) -> None:
        if not state.is_world_process_zero or state.global_step in self._done_steps or self.trainer is None:
            return
        self._done_steps.add(state.global_step)
        model = self.trainer.accelerator.unwrap_model(self.trainer.model)
        self.record(model, self.trainer.processing_class, state.global_step, state.global_step * self.labels_per_step)

    def on_train_begin(self, args, state, control, **kwargs):
        if self.every:
            self._run(state)

    def on_step_end(self, args, state, control, **kwargs):
        if self.every and state.global_step % self.every == 0:
            self._run(state)

    def on_train_end(self, args, state, control, **kwargs):
        self._run(state)


class TimeLimitCallback(TrainerCallback):
    """Stops training gracefully (the adapter is still saved and evaluated) once ``seconds`` have passed since
    the first step began: a run on a rented GPU then always leaves time for the evaluation after it."""

    def __init__(self, seconds: float):
        self.seconds = seconds
        self._t0: float | None = None
        self.stopped_at: int | None = None

    def on_train_begin(self, args, state, control, **kwargs):
        self._t0 = time.time()

    def on_step_end(self, args, state, control, **kwargs):
        if self._t0 is not None and time.time() - self._t0 > self.seconds and not control.should_training_stop:
            control.should_training_stop = True
            control.should_save = True
            self.stopped_at = state.global_step
            print(
                f"[rewarding-doubt] time limit of {self.seconds:.0f} s reached: stopping at step {state.global_step}",
                file=sys.stderr,
                flush=True,
            )
