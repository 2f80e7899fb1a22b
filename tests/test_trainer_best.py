"""`save_best_on`: the held-out evaluation with the best metric value keeps its adapter in OUT/adapter_best."""

import json
from types import SimpleNamespace

import pytest

from calbench.training import TrainerError
from trainers.rewarding_doubt.callbacks import HeldOutCallback
from trainers.rewarding_doubt.config import RDConfig


class _Evaluator:
    def __init__(self, values):
        self.values = list(values)

    def evaluate(self, model, tokenizer):
        return {"n": 4, **self.values.pop(0)}


class _Model:
    def __init__(self):
        self.saved = []

    def save_pretrained(self, path):
        from pathlib import Path

        Path(path).mkdir(parents=True, exist_ok=True)
        (Path(path) / "adapter_model.safetensors").write_text(f"step {self.step}")
        self.saved.append(self.step)


class _Log:
    def __init__(self):
        self.records = []

    def write(self, record):
        self.records.append(record)


def _run(tmp_path, metric, values):
    model = _Model()
    cb = HeldOutCallback(_Evaluator(values), 1, _Log(), best_metric=metric, best_dir=tmp_path / "adapter_best")
    cb.trainer = SimpleNamespace(
        accelerator=SimpleNamespace(unwrap_model=lambda m: m), model=model, processing_class=None
    )
    for step in range(len(values)):
        model.step = step
        cb._run(SimpleNamespace(is_world_process_zero=True, global_step=step))
    return cb, model


def test_keeps_the_highest_log_score(tmp_path):
    cb, model = _run(
        tmp_path,
        "expected/log_score",
        [
            {"expected/log_score": -0.7},
            {"expected/log_score": -0.5},
            {"expected/log_score": -0.6},
            {"expected/log_score": float("nan")},
        ],
    )
    assert model.saved == [0, 1]
    assert cb.best == {"step": 1, "metric": "expected/log_score", "value": -0.5}
    assert json.loads((tmp_path / "adapter_best" / "best.json").read_text())["step"] == 1
    assert (tmp_path / "adapter_best" / "adapter_model.safetensors").read_text() == "step 1"


def test_brier_is_lower_is_better(tmp_path):
    cb, model = _run(tmp_path, "greedy/brier", [{"greedy/brier": 0.3}, {"greedy/brier": 0.4}, {"greedy/brier": 0.2}])
    assert model.saved == [0, 2] and cb.best["value"] == 0.2


def test_without_the_setting_nothing_is_saved(tmp_path):
    cb, model = _run(tmp_path, None, [{"expected/log_score": -0.7}, {"expected/log_score": -0.5}])
    assert model.saved == [] and cb.best is None and not (tmp_path / "adapter_best").exists()


def test_config_validates_save_best_on():
    assert RDConfig(save_best_on="expected/log_score").save_best_on == "expected/log_score"
    with pytest.raises(TrainerError, match="save_best_on"):
        RDConfig(save_best_on="expected/accuracy")
    with pytest.raises(TrainerError, match="eval_every"):
        RDConfig(save_best_on="expected/log_score", eval_every=0)
