"""Rewards of the Rewarding Doubt trainer: proper scoring rules of the stated confidence.

The scores come from :mod:`calbench.metrics` (one definition for training rewards and evaluation metrics):

* log score (Rewarding Doubt): ``y log p + (1-y) log(1-p)``, ``p`` clipped to ``[eps, 1-eps]``;
* Brier (RLCR-style): ``-(p-y)^2``.

Both are *proper*: for a question answered right with probability ``q`` the expected reward is maximised only
at ``p = q``. With ``normalize`` the reward is mapped affinely onto [-1, 1] (worst score -> -1, perfect -> 1);
an affine map with positive slope keeps the rule proper. A reply whose confidence cannot be parsed gets the
format penalty (by default the worst score a parseable reply can get), so it is never better to be unparseable.
In joint mode ``correctness_weight * y`` rewards the answer itself.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np


@dataclass(frozen=True)
class RewardSpec:
    """The reward's settings (a subset of :class:`~trainers.rewarding_doubt.config.RDConfig`)."""

    rule: str = "log"
    clip_eps: float = 0.001
    normalize: bool = True
    format_penalty: float | None = None
    correctness_weight: float = 0.0
    scale: str = "0-10"
    strict_format: bool = False

    @classmethod
    def from_config(cls, cfg: Any) -> "RewardSpec":
        return cls(
            cfg.reward,
            cfg.clip_eps,
            cfg.normalize,
            cfg.format_penalty,
            cfg.correctness_weight,
            cfg.scale,
            cfg.strict_format,
        )

    @property
    def worst(self) -> float:
        """The lowest reward a parseable confidence can receive (before the correctness term)."""
        if self.normalize:
            return -1.0
        return math.log(self.clip_eps) if self.rule == "log" else -1.0

    @property
    def unparseable(self) -> float:
        return self.worst if self.format_penalty is None else float(self.format_penalty)


def proper_score(confidence: np.ndarray, correct: np.ndarray, spec: RewardSpec) -> np.ndarray:
    """The (optionally normalised) score of each confidence in [0, 1] given the 0/1 outcome; higher is better."""
    from calbench.metrics import brier_terms, log_score_terms

    p = np.asarray(confidence, dtype=float)
    y = np.asarray(correct, dtype=float)
    if spec.rule == "log":
        s = np.asarray(log_score_terms(p, y, eps=spec.clip_eps), dtype=float)  # in [log eps, log(1-eps)]
        return 1.0 + 2.0 * s / -math.log(spec.clip_eps) if spec.normalize else s
    if spec.rule == "brier":
        s = -np.asarray(brier_terms(p, y), dtype=float)  # in [-1, 0]
        return 1.0 + 2.0 * s if spec.normalize else s
    raise ValueError(f"unknown reward rule {spec.rule!r}")


def confidence_rewards(confidences: Sequence[float | None], correct: Sequence[int], spec: RewardSpec) -> list[float]:
    """Reward per reply: the proper score of its parsed confidence (None = unparseable -> format penalty),
    plus ``correctness_weight * correct``."""
    if len(confidences) != len(correct):
        raise ValueError(f"{len(confidences)} confidences but {len(correct)} outcomes")
    out = np.full(len(confidences), spec.unparseable, dtype=float)
    ok = np.array([c is not None for c in confidences], dtype=bool)
    if ok.any():
        p = np.array([c for c in confidences if c is not None], dtype=float)
        y = np.asarray(correct, dtype=float)[ok]
        out[ok] = proper_score(p, y, spec)
    out = out + spec.correctness_weight * np.asarray(correct, dtype=float)
    return out.tolist()


def read_confidence(text: str, spec: RewardSpec) -> float | None:
    """The confidence in [0, 1] that a reply states, or None if it counts as unparseable.

    calbench's parser reads every form models write. With ``spec.strict_format`` only a bare integer on the
    requested scale counts ("7" or "10" on 0-10); "0.7", "70%", "7/10" and "seven" are format errors.
    """
    from calbench.parse import parse_confidence

    return accepted_value(parse_confidence(text, scale=spec.scale), spec, text)


#: strict format: the reply starts with an integer that is not the start of a decimal ("0.7", "0.") or fraction
_STRICT_START = re.compile(r"\s*(\d+)(?![\d.,%/])")


def accepted_value(parsed: Any, spec: RewardSpec, text: str) -> float | None:
    """The value of a :class:`calbench.parse.ConfidenceParse` of ``text`` if the reward accepts it, else None."""
    if not parsed.ok:
        return None
    if spec.strict_format:
        m = _STRICT_START.match(text)
        if not (m and parsed.form == "bare" and parsed.matched == m.group(1)):
            return None
    return parsed.value


def completion_text(completion: Any) -> str:
    """TRL passes plain strings for text prompts and ``[{"role": "assistant", "content": ...}]`` for chats."""
    if isinstance(completion, str):
        return completion
    if isinstance(completion, list) and completion and isinstance(completion[-1], dict):
        return str(completion[-1].get("content", ""))
    return str(completion)


def make_confidence_reward(spec: RewardSpec) -> Callable[..., list[float]]:
    """The TRL reward function for confidence-only mode.

    The dataset column ``correct`` holds whether the fixed, pre-generated answer of each prompt is right;
    each completion is the text after the confidence prefix (e.g. ``"7"``).
    """

    def log_score_reward(prompts, completions, correct, **_: Any) -> list[float]:
        confs = [read_confidence(completion_text(c), spec) for c in completions]
        return confidence_rewards(confs, [int(y) for y in correct], spec)

    log_score_reward.__name__ = f"{spec.rule}_score_reward"
    return log_score_reward


def make_joint_reward(
    spec: RewardSpec, judge_fn: Callable[[str, dict], bool], split_fn: Callable[[str], tuple[str | None, float | None]]
) -> Callable[..., list[float]]:
    """The TRL reward function for joint mode: each completion holds an answer and a confidence.

    ``split_fn(text) -> (answer, confidence)`` reads the one-stage reply; ``judge_fn(answer, row)`` judges the
    answer against the dataset row (its ``answers``/``choices`` columns). An unreadable answer counts as wrong.
    """

    def joint_reward(prompts, completions, **columns: Any) -> list[float]:
        confs, ys = [], []
        for i, c in enumerate(completions):
            answer, conf = split_fn(completion_text(c))
            row = {k: v[i] for k, v in columns.items() if isinstance(v, list) and len(v) == len(completions)}
            ys.append(int(judge_fn(answer, row)) if answer else 0)
            confs.append(conf)
        return confidence_rewards(confs, ys, spec)

    joint_reward.__name__ = f"joint_{spec.rule}_reward"
    return joint_reward
