"""The two estimators of the policy gradient, behind one interface.

``exact`` (:mod:`.exact`): the expected reward over the 12 outcomes of the confidence readout, computed from the
logits of one forward pass per labelled answer (confidence-only mode); ``grpo`` (:mod:`.grpo`): TRL's sampled
GRPO (either mode). :func:`train` runs the one a config names on an :class:`EstimatorRun` and returns the same
result shape from both (:data:`RESULT_KEYS`); each writes the final adapter to ``OUT/adapter`` and its
checkpoints under ``OUT/checkpoints/`` (``step-N/`` for exact, TRL's ``checkpoint-N/`` for grpo), which
``--resume`` continues and ``calbench checkpoint`` exports as an adapter folder (either kind).
``continue_from`` (start from a finished run's adapter) is exact only: the config refuses
it for grpo (:class:`~trainers.rewarding_doubt.config.RDConfig`).
"""

from __future__ import annotations

from typing import Any

from trainers.rewarding_doubt.estimators.base import RESULT_KEYS, EstimatorRun, lora_config

__all__ = ["RESULT_KEYS", "EstimatorRun", "lora_config", "train"]


def train(run: EstimatorRun) -> dict[str, Any]:
    """Train with the config's estimator; the result has every key of :data:`RESULT_KEYS`."""
    if run.cfg.estimator_used == "exact":
        from trainers.rewarding_doubt.estimators.exact import train as train_estimator
    else:
        from trainers.rewarding_doubt.estimators.grpo import train as train_estimator
    result = train_estimator(run)
    return {**{k: None for k in RESULT_KEYS}, **result}
