"""Settings of the Rewarding Doubt trainer: one dataclass, read from YAML, validated with clear messages."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field, fields
from typing import Any

from calbench.metrics import HIGHER_IS_BETTER
from calbench.training import TrainerError

MODES = ("confidence_only", "joint")
#: ``exact``: the expected reward over the 11 confidence levels, computed from one forward pass per prompt
#: (confidence_only mode only; trainers/rewarding_doubt/exact.py). ``grpo``: TRL's sampled GRPO (both modes).
#: ``auto``: exact in confidence_only mode, grpo in joint mode.
ESTIMATORS = ("auto", "exact", "grpo")
REWARDS = ("log", "brier")
CONTINUE_WITH = ("rest", "new_pass")  # continue_with: the rest of the pass, or another pass
KL_REFERENCES = ("model", "uniform")  # kl_reference: the model without the adapter, or the uniform distribution
#: TRL's ``scale_rewards`` values that keep the proper-scoring property (see README.md here, "The base-rate trap"):
#: "group" divides each group's advantages by that group's reward std, which in confidence-only mode (every
#: sample of a group shares one answer) reweights questions by 1/std and drives confidences to 0 or 1.
SCALE_REWARDS_OK = ("batch", "none")
#: Below this many prompts (groups) per step "batch" scaling is biased at a low base rate: a step whose groups
#: are all wrong has a tiny batch std and is blown up to unit size. Measured with the tabular model
#: (trainers/rewarding_doubt/toy.py, one question type at accuracy 0.155, optimum 0.2): 4 groups per step
#: settle at 0.03 with "batch" vs 0.18 with "none"; 16 groups: 0.10 vs 0.20; 64 groups: 0.19 vs 0.19.
BATCH_SCALING_MIN_GROUPS = 64
#: Loss aggregations whose gradient is the sequence-level policy gradient. "grpo" averages each completion
#: over its own length, so "10" (two digit tokens) would be weighted differently from "7".
LOSS_TYPES_OK = ("dapo", "dr_grpo", "bnpo")
#: Held-out metrics that ``save_best_on`` can select on, with their direction (True: higher is better).
#: tokens a joint-mode completion needs at least: ", Confidence: 10" is ~6 tokens plus a short answer
JOINT_MIN_COMPLETION = 16
BEST_METRICS = {
    f"{readout}/{metric}": HIGHER_IS_BETTER.get(metric, False)
    for readout in ("greedy", "expected")
    for metric in ("log_score", "brier", "ece", "auroc")
}


@dataclass
class TaskSettings:
    """What is trained: the mode, the confidence scale, the adapter's name. YAML: flat keys, or under ``task:``."""

    mode: str = "confidence_only"
    scale: str = "0-10"
    # the adapter's human name and one-line description (OUT/adapter/calbench_adapter.json; leaderboards show
    # the name); None: made from the task and the settings, e.g. "RD triviaqa (exact, log score, KL to uniform)"
    adapter_name: str | None = None
    adapter_description: str | None = None

    def _task_problems(self) -> list[str]:
        problems = []
        if self.mode not in MODES:
            problems.append(f"mode must be one of {MODES}, got {self.mode!r}")
        return problems


@dataclass
class DataSettings:
    """The questions: the training pool and held-out set, the judge, a continuation of an earlier run. YAML: flat keys,
    or under ``data:``."""

    source: str = "bundled"  # bundled task data, or "hub" for the full dataset (network)
    train_size: int | None = 4000  # None: the whole training pool
    heldout_size: int = 200
    # held-out questions from this split of the task (e.g. "validation"); None: carved out of the training pool
    heldout_split: str | None = None
    judge: dict[str, Any] = field(default_factory=dict)
    # a finished run's --out folder: start from its adapter (fresh optimizer) and train on the pool's training
    # questions after the ones it trained on, with its held-out set and answers (trainers/rewarding_doubt/
    # continuation.py); train_size then counts the new questions only
    continue_from: str | None = None
    # what a continuation trains on: "rest" (the questions after the chain's, in the same pass) or "new_pass"
    # (the pool again from its first training question: another epoch, with a fresh batch shuffle)
    continue_with: str = "rest"
    # questions never to train or hold out on: a file of question ids, one per line ('#' comments allowed), e.g.
    # a confirmation study's test questions carved out of the training split (relative to the working folder)
    exclude_ids: str | None = None
    # a pool mixed from several tasks (trainers/rewarding_doubt/mix.py; train with --task mix): questions per
    # task's training split, null for all of them, e.g. {triviaqa: 4400, sciq: 4400, arc_challenge: null}
    mix: dict[str, int | None] | None = None

    def _data_problems(self) -> list[str]:
        problems = _at_least(self, 1, "train_size") + _at_least(self, 0, "heldout_size")
        if self.source not in ("bundled", "hub"):
            problems.append(f"source must be 'bundled' or 'hub', got {self.source!r}")
        if self.mix is not None and (not isinstance(self.mix, dict) or self.heldout_split):
            problems.append(
                "mix must map task names to question counts (or null), and carves its held-out set out "
                "of the pool (no heldout_split)"
            )
        if self.continue_with not in CONTINUE_WITH:
            problems.append(f"continue_with must be one of {CONTINUE_WITH}, got {self.continue_with!r}")
        return problems


@dataclass
class AnswerSettings:
    """The fixed stage-1 answers (confidence-only mode): given in a file, or generated once and cached. YAML: flat
    keys, or under ``answers:``."""

    # fixed answers instead of generated ones: a file (or list of files) that `calbench eval --answers` reads
    # (JSONL/CSV with id and answer, or a samples file); must cover the training and held-out questions
    answers_file: str | list[str] | None = None
    answer_max_new_tokens: int | None = None  # None: calbench eval's budget for the task kind
    answer_batch_size: int = 64
    # take the untrained model's answers from (and add new ones to) the cache shared by every run on the same
    # model and generation settings ($CALBENCH_CACHE/answers/; trainers/rewarding_doubt/data.py)
    shared_answer_cache: bool = True

    def _answers_problems(self) -> list[str]:
        problems = _at_least(self, 1, "answer_batch_size")
        if self.answer_max_new_tokens is not None and self.answer_max_new_tokens < 1:
            problems.append(f"answer_max_new_tokens must be >= 1 or null, got {self.answer_max_new_tokens}")
        return problems


@dataclass
class RewardSettings:
    """The proper-scoring reward of the stated confidence. YAML: flat keys, or under ``reward:``."""

    reward: str = "log"
    clip_eps: float = 0.001
    normalize: bool = True
    format_penalty: float | None = None
    correctness_weight: float = 0.0
    # only an integer on the scale ("7", "10") counts as a confidence; anything else the parser would read
    # ("0.7", "70%", "7/10", "seven") gets the format penalty. Keeps the trained model on the format it is
    # asked for, so the expected readout (first-token levels) stays a reading of what it states. With estimator
    # exact it scores the whole number: level d is "d" followed by an end token (end of turn, whitespace), so
    # "13.3" or "88%" are format failures instead of levels 1 and 8 (calbench.backends.hf.whole_number_level_log_probs)
    strict_format: bool = False

    def _reward_problems(self) -> list[str]:
        problems = []
        if self.reward not in REWARDS:
            problems.append(f"reward must be one of {REWARDS}, got {self.reward!r}")
        if not 0 < self.clip_eps < 0.5:
            problems.append(f"clip_eps must be in (0, 0.5), got {self.clip_eps}")
        return problems


@dataclass
class LoraSettings:
    """The LoRA adapter (peft), and the frozen-prefix cache of LoRA on the top layers only. YAML: flat keys, or under
    ``lora:``."""

    lora_r: int = 8
    lora_alpha: int = 16
    lora_dropout: float = 0.0
    lora_target_modules: str | list[str] = "all-linear"
    # LoRA on the top K decoder layers only (None: every layer). With the exact estimator the hidden states
    # entering layer L - K are then computed once per labelled answer and reused (prefix_cache; see
    # trainers/rewarding_doubt/prefix_cache.py): each step runs only the top K layers
    lora_top_layers: int | None = None
    prefix_cache: bool = True
    prefix_cache_dtype: str = "float16"  # storage of the cached hidden states: float32, bfloat16 or float16
    prefix_cache_dir: str | None = None  # None: in memory; a folder: an on-disk cache that later runs reuse

    def _lora_problems(self) -> list[str]:
        problems = _at_least(self, 1, "lora_r", "lora_top_layers")
        if self.prefix_cache_dtype not in ("float32", "bfloat16", "float16"):
            problems.append(f"prefix_cache_dtype must be float32, bfloat16 or float16, got {self.prefix_cache_dtype!r}")
        if self.prefix_cache_dir and not self.lora_top_layers:
            problems.append(
                "prefix_cache_dir needs lora_top_layers (with LoRA on every layer nothing is frozen "
                "below the first trained layer)"
            )
        return problems


@dataclass
class OptimisationSettings:
    """The optimiser, its schedule, the budget and the seed. YAML: flat keys, or under ``optimisation:``."""

    learning_rate: float = 1e-4
    lr_scheduler_type: str = "constant_with_warmup"
    warmup_steps: int = 10
    max_grad_norm: float | None = 1.0
    max_steps: int | None = 250  # exact: a cap on epochs x batches (None: no cap)
    # exact estimator (plain PyTorch loop): prompts per step, passes over the training questions
    batch_size: int = 8
    epochs: int = 1
    seed: int = 0
    time_limit_s: float | None = None  # stop training gracefully after this many seconds (adapter still saved)
    # exact estimator: the same, counted in CPU seconds of the process (all its threads): equal-cost comparisons
    # of settings on a shared machine
    cpu_time_limit_s: float | None = None
    dtype: str = "auto"

    def _optimisation_problems(self) -> list[str]:
        problems = _at_least(self, 1, "max_steps", "batch_size", "epochs") + _at_least(self, 0, "warmup_steps")
        if self.dtype not in ("auto", "float32", "bfloat16", "float16"):
            problems.append(f"dtype must be auto, float32, bfloat16 or float16, got {self.dtype!r}")
        return problems


@dataclass
class EstimatorSettings:
    """The estimator of the policy gradient (ESTIMATORS) and its own settings: the KL term for both; sampling and TRL's
    GRPO settings for grpo. YAML: flat keys, or under ``estimator:``."""

    estimator: str = "auto"
    beta: float = 0.0
    # exact estimator: what the KL term pulls towards. "model": the model without the adapter (the paper's KL);
    # "uniform": the uniform distribution over the 12 outcomes, i.e. an entropy bonus, whose optimum
    # exp(r / beta) has its mode at the best level for every beta (no preference of the untrained model's)
    kl_reference: str = "model"
    scale_rewards: str = "none"
    loss_type: str = "dapo"
    num_generations: int = 8
    prompts_per_step: int = 16
    gradient_accumulation_steps: int = 1
    temperature: float = 1.0
    max_completion_length: int = 4
    epsilon: float = 0.2
    num_iterations: int = 1
    gradient_checkpointing: bool = True  # TRL's default; false is ~1/4 less compute for a small model on CPU

    def _estimator_problems(self) -> list[str]:
        problems = _at_least(
            self, 1, "prompts_per_step", "gradient_accumulation_steps", "max_completion_length"
        ) + _at_least(self, 0, "beta")
        if self.estimator not in ESTIMATORS:
            problems.append(f"estimator must be one of {ESTIMATORS}, got {self.estimator!r}")
        if self.scale_rewards not in SCALE_REWARDS_OK:
            problems.append(
                f"scale_rewards must be one of {SCALE_REWARDS_OK}, got {self.scale_rewards!r}: per-group scaling "
                "breaks the proper-scoring reward (each all-right/all-wrong group is reweighted by 1/std, which "
                "pushes confidences to 0 or 1; trainers/rewarding_doubt/README.md, 'The base-rate trap')"
            )
        if self.loss_type not in LOSS_TYPES_OK:
            problems.append(
                f"loss_type must be one of {LOSS_TYPES_OK}, got {self.loss_type!r} ('grpo' averages over each "
                "completion's own length, which weights '10' differently from '7')"
            )
        if self.kl_reference not in KL_REFERENCES:
            problems.append(f"kl_reference must be one of {KL_REFERENCES}, got {self.kl_reference!r}")
        if self.num_generations < 2:
            problems.append(f"num_generations must be >= 2 (GRPO compares samples), got {self.num_generations}")
        if self.temperature <= 0:
            problems.append(f"temperature must be > 0 (GRPO needs sampled completions), got {self.temperature}")
        return problems


@dataclass
class EvaluationSettings:
    """The held-out evaluation during training, checkpoints and logging. YAML: flat keys, or under ``evaluation:``."""

    eval_every: int = 50
    save_every: int = 50
    logging_steps: int = 5
    eval_batch_size: int = 64
    # keep the adapter of the held-out evaluation with the best value of this metric in OUT/adapter_best
    # (e.g. "expected/log_score"; None: only the final adapter is saved)
    save_best_on: str | None = None
    report_to: str | list[str] = "none"

    def _evaluation_problems(self) -> list[str]:
        problems = _at_least(self, 1, "eval_batch_size") + _at_least(self, 0, "eval_every", "save_every")
        if self.save_best_on is not None and self.save_best_on not in BEST_METRICS:
            problems.append(f"save_best_on must be null or one of {sorted(BEST_METRICS)}, got {self.save_best_on!r}")
        if self.save_best_on is not None and not self.eval_every:
            problems.append("save_best_on needs held-out evaluations during training (eval_every > 0)")
        return problems


#: The sections of a config, in order: name -> the dataclass that holds its settings.
SECTIONS = {
    "task": TaskSettings,
    "data": DataSettings,
    "answers": AnswerSettings,
    "reward": RewardSettings,
    "lora": LoraSettings,
    "optimisation": OptimisationSettings,
    "estimator": EstimatorSettings,
    "evaluation": EvaluationSettings,
}


def _at_least(cfg: Any, low: int, *names: str) -> list[str]:
    """A problem for each setting of ``names`` that is set and below ``low``."""
    return [
        f"{name} must be >= {low}, got {getattr(cfg, name)}"
        for name in names
        if getattr(cfg, name) is not None and getattr(cfg, name) < low
    ]


@dataclass
class RDConfig(
    EvaluationSettings,
    EstimatorSettings,
    OptimisationSettings,
    LoraSettings,
    RewardSettings,
    AnswerSettings,
    DataSettings,
    TaskSettings,
):
    """Every setting of a run, in sections (:data:`SECTIONS`, like transformers' ``TrainingArguments`` beside
    peft's ``LoraConfig``); each section checks its own settings, and this class the ones that tie sections
    together. The YAML keys are the field names, flat (as every config written so far) or grouped under their
    section's name (``reward: {clip_eps: 0.001}``).

    Reward (per completion, confidence ``p`` parsed from it, ``y`` = 1 if the answer is right):
    ``log``: ``y log p + (1-y) log(1-p)``, p clipped to ``[clip_eps, 1-clip_eps]``; ``brier``: ``-(p-y)^2``.
    With ``normalize`` the score is mapped affinely to [-1, 1] (worst -> -1, perfect -> 1), which keeps it
    proper. An unparseable confidence gets ``format_penalty`` (``None``: the worst score a parseable reply can
    get, minus nothing; so a reply is never better off unparseable). ``strict_format`` treats every confidence
    that is not an integer on the scale as unparseable. ``correctness_weight`` adds ``w*y`` (joint mode only: in
    confidence-only mode the answer is fixed and the term is a constant).
    """

    def __post_init__(self) -> None:
        problems = []
        for name, section in SECTIONS.items():
            problems += getattr(section, f"_{name}_problems")(self)
        problems += self._cross_section_problems()
        if problems:
            raise TrainerError("invalid rewarding-doubt config:\n  - " + "\n  - ".join(problems))

    def _cross_section_problems(self) -> list[str]:
        """The checks that tie sections together (mode, estimator, scale, answers, KL, continuation)."""
        problems = []
        if self.estimator == "exact" and self.mode != "confidence_only":
            problems.append(
                "estimator 'exact' computes the expectation over the confidence levels of a fixed "
                "answer: it needs mode confidence_only (use estimator grpo for joint mode)"
            )
        if self.estimator_used == "exact" and self.scale != "0-10":
            problems.append(f"estimator 'exact' reads the 0-10 levels from the logits; got scale {self.scale!r}")
        if self.mode == "joint" and self.max_completion_length < JOINT_MIN_COMPLETION:
            problems.append(
                f"max_completion_length {self.max_completion_length} cannot hold a joint-mode reply "
                f"'<answer>, Confidence: <c>'; use at least {JOINT_MIN_COMPLETION} tokens"
            )
        if self.answers_file is not None and self.mode != "confidence_only":
            problems.append("answers_file fixes the answers: it needs mode confidence_only")
        if self.kl_reference != "model" and self.estimator_used != "exact":
            problems.append("kl_reference 'uniform' needs estimator exact (TRL's GRPO takes its KL to the model)")
        if self.continue_from and self.estimator_used != "exact":
            problems.append("continue_from needs estimator exact (the GRPO path starts its adapter inside TRL)")
        if self.cpu_time_limit_s is not None and self.estimator_used != "exact":
            problems.append("cpu_time_limit_s needs estimator exact (use time_limit_s with grpo)")
        if self.mode == "confidence_only" and self.correctness_weight:
            problems.append(
                "correctness_weight has no effect in confidence_only mode (the answer is fixed); "
                "set it to 0 or use mode: joint"
            )
        if self.strict_format and self.scale not in ("0-10", "0-100"):
            problems.append(f"strict_format needs an integer scale (0-10 or 0-100), got scale {self.scale!r}")
        return problems

    def section(self, name: str) -> dict[str, Any]:
        """The settings of one section (:data:`SECTIONS`), by field name."""
        return {f.name: getattr(self, f.name) for f in fields(SECTIONS[name])}

    @property
    def estimator_used(self) -> str:
        """The estimator a run uses (``auto`` resolved by mode)."""
        if self.estimator != "auto":
            return self.estimator
        return "exact" if self.mode == "confidence_only" else "grpo"

    def warnings(self) -> list[str]:
        """Settings that are allowed but likely to mislead."""
        out = []
        if (
            self.estimator_used == "grpo"
            and self.scale_rewards == "batch"
            and self.prompts_per_step < BATCH_SCALING_MIN_GROUPS
        ):
            out.append(
                f"scale_rewards 'batch' with {self.prompts_per_step} prompts per step (< "
                f"{BATCH_SCALING_MIN_GROUPS}) is biased towards 0 at a low base rate (an all-wrong step is "
                "blown up to unit size); use scale_rewards: none"
            )
        return out

    @classmethod
    def from_mapping(cls, data: dict[str, Any]) -> "RDConfig":
        """The config of a YAML mapping: flat keys, or sections (``reward: {clip_eps: 0.001}``), or both."""
        known = {f.name: f for f in fields(cls)}
        data = _flatten_sections(data)
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


def _flatten_sections(data: dict[str, Any]) -> dict[str, Any]:
    """``data`` with every section given as a mapping (``lora: {lora_r: 8}``) spread into flat keys. A section
    name whose value is not a mapping is a setting of that name (``reward: log``, ``estimator: exact``)."""
    flat: dict[str, Any] = {}
    for key, value in data.items():
        if key in SECTIONS and isinstance(value, dict):
            own = {f.name for f in fields(SECTIONS[key])}
            for name, v in value.items():
                if name not in own:
                    raise TrainerError(
                        f"{key}.{name}: not a setting of section {key!r} (its settings: {', '.join(sorted(own))})"
                    )
                if name in flat or (name in data and name != key):
                    raise TrainerError(f"setting {name!r} is given twice (flat and under {key!r})")
                flat[name] = v
        else:
            if key in flat:
                raise TrainerError(f"setting {key!r} is given twice (flat and under its section)")
            flat[key] = value
    return flat


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
