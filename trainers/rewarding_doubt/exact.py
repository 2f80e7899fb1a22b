"""The exact estimator of confidence-only training: the expected reward over the confidence levels, computed
instead of sampled.

In confidence-only mode the answer is fixed and the policy only chooses a confidence. On the 0-10 scale that is
one of 11 levels, and the policy's distribution over them is read from one forward pass of ``prompt + "1"``
(the prompt ends with the confidence prefix, so the next token is a digit):

* ``P(k) = P(first = "k")`` for k = 0, 2, ..., 9;
* ``P(1) = P(first = "1") (1 - P("0" | "1"))`` and ``P(10) = P(first = "1") P("0" | "1")`` ("10" is two tokens);
* ``P(other) = 1 - sum_k P(k)``: every reply that does not start with a digit is a format failure.

With ``strict_format: true`` the whole number is scored instead of its first token
(:func:`calbench.backends.hf.whole_number_level_log_probs`): ``P(k) = P("k") P(end | "k")``, ``P(10) = P("1")
P("0" | "1") P(end | "10")``, where "end" is the end of the turn or whitespace, and every other reply ("13.3",
"0.7", "88%") is a format failure. The prompt is run once with its key/value cache and the ten continuations
``"d" "0"`` on top of it, so the cost per labelled answer grows by 20 tokens.

The objective for a prompt whose fixed answer has outcome ``y`` is

    J = sum_k pi(k) r(k/10, y) + pi(other) * penalty - beta * KL(pi || pi_ref)

with ``r`` the trainer's proper score (:func:`~trainers.rewarding_doubt.rewards.proper_score`, i.e.
:mod:`calbench.metrics`) and the KL taken over the same 12 outcomes. Its gradient is the exact policy gradient
of the paper's objective (``sum_o pi(o) (r_o - J) grad log pi(o)``), with no sampling noise: one forward and
one backward pass per labelled answer instead of ``num_generations`` sampled completions.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from calbench.levels import N_OUTCOMES
from trainers.rewarding_doubt.rewards import RewardSpec, proper_score

#: outcomes (:func:`calbench.levels.level_log_probs`): levels 0..10 (confidence k/10), then "other"
N_LEVELS = N_OUTCOMES - 1
OTHER = N_LEVELS


def reward_table(spec: RewardSpec) -> np.ndarray:
    """``table[y, o]``: the reward of outcome ``o`` (levels 0..10, then other) when the answer's outcome is
    ``y`` (0 wrong, 1 right). Levels get the proper score of ``k/10``; "other" the format penalty."""
    levels = np.arange(N_LEVELS) / (N_LEVELS - 1)
    table = np.empty((2, N_LEVELS + 1))
    for y in (0, 1):
        table[y, :N_LEVELS] = proper_score(levels, np.full(N_LEVELS, y), spec)
        table[y, OTHER] = spec.unparseable
    return table


def exact_objective(
    log_pi: Any, correct: Any, table: Any, *, beta: float = 0.0, ref_log_pi: Any | None = None
) -> tuple[Any, dict[str, float]]:
    """Mean over the batch of ``J = sum_o pi(o) r(o, y) - beta KL(pi || pi_ref)``; returns ``(J, stats)``.
    ``log_pi``: (B, 12) outcome log-probabilities; ``correct``: (B,) 0/1; ``table``: :func:`reward_table`."""
    import torch

    table = torch.as_tensor(table, dtype=log_pi.dtype, device=log_pi.device)
    y = torch.as_tensor(correct, device=log_pi.device).long()
    pi = log_pi.exp()
    expected = (pi * table[y]).sum(1)  # (B,)
    j = expected
    kl = torch.zeros_like(expected)
    if beta and ref_log_pi is not None:
        kl = (pi * (log_pi - ref_log_pi)).sum(1)
        j = expected - beta * kl
    with torch.no_grad():
        levels = torch.arange(N_LEVELS, device=log_pi.device, dtype=log_pi.dtype) / (N_LEVELS - 1)
        stats = {
            "expected_reward": expected.mean().item(),
            "kl": kl.mean().item(),
            "format_mass": pi[:, OTHER].mean().item(),
            "expected_confidence": ((pi[:, :N_LEVELS] * levels).sum(1) / pi[:, :N_LEVELS].sum(1)).mean().item(),
            "entropy": -(pi * log_pi).sum(1).mean().item(),
        }
    return j.mean(), stats


def length_batches(lengths: Sequence[int], batch_size: int, rng: np.random.Generator) -> list[list[int]]:
    """Indices grouped into batches of similar length (little padding), the batch order shuffled by ``rng``.
    Every index appears exactly once."""
    order = np.argsort(np.asarray(lengths), kind="stable")
    batches = [order[i : i + batch_size].tolist() for i in range(0, len(order), batch_size)]
    perm = rng.permutation(len(batches))
    return [batches[i] for i in perm]
