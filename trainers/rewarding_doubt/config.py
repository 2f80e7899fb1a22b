"""Settings of the Rewarding Doubt trainer: one dataclass, read from YAML, validated with clear messages."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field, fields
from typing import Any

from calbench.metrics import HIGHER_IS_BETTER
from calbench.training import TrainerError

MODES = ("confidence_only", "joint")
REWARDS = ("log", "brier")
#: TRL's ``scale_rewards`` values that keep the proper-scoring property (see DESIGN.md, "Trainer plugin"):
#: "group" divides each group's advantages by that group's reward std, which in confidence-only mode (every
#: sample of a group shares one answer) reweights questions by 1/std and drives confidences to 0 or 1.
SCALE_REWARDS_OK = ("batch", "none")
#: Loss aggregations whose gradient is the sequence-level policy gradient. "grpo" averages each completion
#: over its own length, so "10" (two digit tokens) would be weighted differently from "7".
LOSS_TYPES_OK = ("dapo", "dr_grpo", "bnpo")
#: Held-out metrics that ``save_best_on`` can select on, with their direction (True: higher is better).
BEST_METRICS = {f"{readout}/{metric}": HIGHER_IS_BETTER.get(metric, False)
                for readout in ("greedy", "expected") for metric in ("log_score", "brier", "ece", "auroc")}


@dataclass
class RDConfig:
    """Every setting of a run; the YAML keys are these field names.

    Reward (per completion, confidence ``p`` parsed from it, ``y`` = 1 if the answer is right):
    ``log``: ``y log p + (1-y) log(1-p)``, p clipped to ``[clip_eps, 1-clip_eps]``; ``brier``: ``-(p-y)^2``.
    With ``normalize`` the score is mapped affinely to [-1, 1] (worst -> -1, perfect -> 1), which keeps it
    proper. An unparseable confidence gets ``format_penalty`` (``None``: the worst score a parseable reply can
    get, minus nothing; so a reply is never better off unparseable). ``strict_format`` treats every confidence
    that is not an integer on the scale as unparseable. ``correctness_weight`` adds ``w*y`` (joint mode only: in
    confidence-only mode the answer is fixed and the term is a constant).
    """

    # what is trained
    mode: str = "confidence_only"
    scale: str = "0-10"
    # reward
    reward: str = "log"
    clip_eps: float = 0.001
    normalize: bool = True
    format_penalty: float | None = None
    correctness_weight: float = 0.0
    # only an integer on the scale ("7", "10") counts as a confidence; anything else the parser would read
    # ("0.7", "70%", "7/10", "seven") gets the format penalty. Keeps the trained model on the format it is
    # asked for, so the expected readout (first-token levels) stays a reading of what it states.
    strict_format: bool = False
    # data
    source: str = "bundled"  # bundled task data, or "hub" for the full dataset (network)
    train_size: int = 4000
    heldout_size: int = 200
    answer_max_new_tokens: int | None = None  # None: calbench eval's budget for the task kind
    answer_batch_size: int = 64
    judge: dict[str, Any] = field(default_factory=dict)
    # GRPO (TRL)
    scale_rewards: str = "batch"
    loss_type: str = "dapo"
    num_generations: int = 8
    prompts_per_step: int = 16
    gradient_accumulation_steps: int = 1
    max_steps: int = 250
    learning_rate: float = 1e-4
    lr_scheduler_type: str = "constant_with_warmup"
    warmup_steps: int = 10
    beta: float = 0.0
    temperature: float = 1.0
    max_completion_length: int = 4
    epsilon: float = 0.2
    num_iterations: int = 1
    gradient_checkpointing: bool = True  # TRL's default; false is ~1/4 less compute for a small model on CPU
    # LoRA
    lora_r: int = 8
    lora_alpha: int = 16
    lora_dropout: float = 0.0
    lora_target_modules: str | list[str] = "all-linear"
    # bookkeeping
    seed: int = 0
    eval_every: int = 50
    save_every: int = 50
    logging_steps: int = 5
    eval_batch_size: int = 64
    time_limit_s: float | None = None  # stop training gracefully after this many seconds (adapter still saved)
    # keep the adapter of the held-out evaluation with the best value of this metric in OUT/adapter_best
    # (e.g. "expected/log_score"; None: only the final adapter is saved)
    save_best_on: str | None = None
    dtype: str = "auto"
    report_to: str | list[str] = "none"

    def __post_init__(self) -> None:
        problems = []
        if self.mode not in MODES:
            problems.append(f"mode must be one of {MODES}, got {self.mode!r}")
        if self.reward not in REWARDS:
            problems.append(f"reward must be one of {REWARDS}, got {self.reward!r}")
        if self.scale_rewards not in SCALE_REWARDS_OK:
            problems.append(
                f"scale_rewards must be one of {SCALE_REWARDS_OK}, got {self.scale_rewards!r}: per-group scaling "
                "breaks the proper-scoring reward (each all-right/all-wrong group is reweighted by 1/std, which "
                "pushes confidences to 0 or 1; DESIGN.md, 'Trainer plugin')"
            )
        if self.loss_type not in LOSS_TYPES_OK:
            problems.append(
                f"loss_type must be one of {LOSS_TYPES_OK}, got {self.loss_type!r} ('grpo' averages over each "
                "completion's own length, which weights '10' differently from '7')"
            )
        if not 0 < self.clip_eps < 0.5:
            problems.append(f"clip_eps must be in (0, 0.5), got {self.clip_eps}")
        if self.num_generations < 2:
            problems.append(f"num_generations must be >= 2 (GRPO compares samples), got {self.num_generations}")
        for name in ("prompts_per_step", "max_steps", "train_size", "max_completion_length", "eval_batch_size",
                     "answer_batch_size", "gradient_accumulation_steps", "lora_r"):
            if getattr(self, name) < 1:
                problems.append(f"{name} must be >= 1, got {getattr(self, name)}")
        for name in ("heldout_size", "eval_every", "save_every", "beta", "warmup_steps"):
            if getattr(self, name) < 0:
                problems.append(f"{name} must be >= 0, got {getattr(self, name)}")
        if self.answer_max_new_tokens is not None and self.answer_max_new_tokens < 1:
            problems.append(f"answer_max_new_tokens must be >= 1 or null, got {self.answer_max_new_tokens}")
        if self.temperature <= 0:
            problems.append(f"temperature must be > 0 (GRPO needs sampled completions), got {self.temperature}")
        if self.mode == "confidence_only" and self.correctness_weight:
            problems.append("correctness_weight has no effect in confidence_only mode (the answer is fixed); "
                            "set it to 0 or use mode: joint")
        if self.strict_format and self.scale not in ("0-10", "0-100"):
            problems.append(f"strict_format needs an integer scale (0-10 or 0-100), got scale {self.scale!r}")
        if self.save_best_on is not None and self.save_best_on not in BEST_METRICS:
            problems.append(f"save_best_on must be null or one of {sorted(BEST_METRICS)}, got {self.save_best_on!r}")
        if self.save_best_on is not None and not self.eval_every:
            problems.append("save_best_on needs held-out evaluations during training (eval_every > 0)")
        if self.source not in ("bundled", "hub"):
            problems.append(f"source must be 'bundled' or 'hub', got {self.source!r}")
        if self.dtype not in ("auto", "float32", "bfloat16", "float16"):
            problems.append(f"dtype must be auto, float32, bfloat16 or float16, got {self.dtype!r}")
        if problems:
            raise TrainerError("invalid rewarding-doubt config:\n  - " + "\n  - ".join(problems))

    @classmethod
    def from_mapping(cls, data: dict[str, Any]) -> "RDConfig":
        known = {f.name: f for f in fields(cls)}
        unknown = sorted(set(data) - set(known))
        if unknown:
            raise TrainerError(
                f"unknown rewarding-doubt setting(s) {unknown}; known settings: {', '.join(sorted(known))}"
            )
        values = {}
        for key, value in data.items():
            values[key] = _coerce(known[key], value)
        return cls(**values)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def _coerce(f: dataclasses.Field, value: Any) -> Any:
    """YAML gives ``1e-4`` as a string; convert numbers to the field's declared type with a clear error."""
    default = f.default if f.default is not dataclasses.MISSING else None
    if value is None or default is None or isinstance(default, (dict, list, str)):
        return value
    target = type(default)
    if target is bool:
        if isinstance(value, bool):
            return value
        raise TrainerError(f"setting {f.name!r} must be true or false, got {value!r}")
    try:
        if target is int and isinstance(value, float) and not value.is_integer():
            raise ValueError
        return target(value)
    except (TypeError, ValueError):
        raise TrainerError(f"setting {f.name!r} must be a {target.__name__}, got {value!r}") from None
