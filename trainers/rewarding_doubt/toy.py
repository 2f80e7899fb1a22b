"""A tabular model of the trainer's GRPO update, to check that its settings keep the reward proper.

The policy is a softmax over the confidence levels (0, 0.1, ..., 1.0) for each question type; a question type
has a known accuracy. One step mirrors confidence-only GRPO: for each sampled question the (fixed) answer is
right with that type's accuracy, ``num_generations`` confidences are sampled for it (one group, all sharing the
outcome), rewarded with :func:`~trainers.rewarding_doubt.rewards.confidence_rewards` and turned into advantages
by :func:`group_advantages` -- the same formula as TRL's ``GRPOTrainer`` for the given ``scale_rewards`` -- and
the logits take a policy-gradient step (the sequence-level gradient, as TRL's length-unbiased losses give).

With ``scale_rewards="batch"`` or ``"none"`` the update is the gradient of the expected score (up to a positive
factor shared by the batch), so the policy converges to calibrated confidence; with ``"group"`` each group is
rescaled by its own 1/std and the policy is pushed towards the extremes (README.md here, "The base-rate trap").
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from trainers.rewarding_doubt.rewards import RewardSpec, confidence_rewards

LEVELS = np.linspace(0.0, 1.0, 11)


def group_advantages(rewards: np.ndarray, num_generations: int, scale_rewards: str) -> np.ndarray:
    """TRL 1.16 GRPO advantages: reward minus its group mean, divided by the group's std ("group"), the
    batch's std ("batch") or nothing ("none"); std is the unbiased one, plus 1e-4."""
    r = np.asarray(rewards, dtype=float)
    grouped = r.reshape(-1, num_generations)
    adv = (grouped - grouped.mean(axis=1, keepdims=True)).reshape(-1)
    if scale_rewards == "group":
        std = np.repeat(grouped.std(axis=1, ddof=1), num_generations)
        adv = adv / (std + 1e-4)
    elif scale_rewards == "batch":
        adv = adv / (r.std(ddof=1) + 1e-4)
    elif scale_rewards != "none":
        raise ValueError(f"scale_rewards must be 'group', 'batch' or 'none', got {scale_rewards!r}")
    return adv


@dataclass
class TabularResult:
    accuracies: np.ndarray
    probs: np.ndarray  # (types, 11) final policy

    @property
    def expected_confidence(self) -> np.ndarray:
        return self.probs @ LEVELS


def simulate_tabular(
    accuracies: list[float],
    scale_rewards: str,
    spec: RewardSpec = RewardSpec(),
    num_generations: int = 8,
    groups_per_type: int = 4,
    steps: int = 3000,
    lr: float = 0.2,
    seed: int = 0,
) -> TabularResult:
    """Run the tabular GRPO update and return the final policy (one softmax row per question type)."""
    rng = np.random.default_rng(seed)
    acc = np.asarray(accuracies, dtype=float)
    n_types = len(acc)
    logits = np.zeros((n_types, len(LEVELS)))
    types = np.repeat(np.arange(n_types), groups_per_type)  # one group per (type, repeat)
    for _ in range(steps):
        probs = _softmax(logits)
        outcome = (rng.random(len(types)) < acc[types]).astype(int)  # the group's fixed answer is right?
        cdf = probs[types].cumsum(axis=1)
        u = rng.random((len(types), num_generations, 1))
        choice = np.minimum((u > cdf[:, None, :]).sum(axis=2), len(LEVELS) - 1)  # (groups, G) level indices
        conf = LEVELS[choice].reshape(-1)
        y = np.repeat(outcome, num_generations)
        rewards = np.asarray(confidence_rewards(conf.tolist(), y.tolist(), spec))
        adv = group_advantages(rewards, num_generations, scale_rewards).reshape(len(types), num_generations)
        # d/dlogits of sum_i A_i log pi(a_i) = sum_i A_i (onehot(a_i) - pi), averaged over all completions
        grad = np.zeros_like(logits)
        onehot = np.eye(len(LEVELS))[choice]  # (groups, G, 11)
        per_group = (adv[..., None] * (onehot - probs[types][:, None, :])).sum(axis=1)
        np.add.at(grad, types, per_group)
        logits += lr * grad / (len(types) * num_generations) * n_types
    return TabularResult(acc, _softmax(logits))


def _softmax(x: np.ndarray) -> np.ndarray:
    z = np.exp(x - x.max(axis=1, keepdims=True))
    return z / z.sum(axis=1, keepdims=True)


def simulate_exact(
    accuracies: list[float],
    spec: RewardSpec = RewardSpec(),
    batch_per_type: int = 4,
    steps: int = 2000,
    lr: float = 0.5,
    seed: int = 0,
    beta: float = 0.0,
    ref: np.ndarray | None = None,
) -> TabularResult:
    """The exact estimator on a tabular policy: one softmax over the 12 outcomes (levels 0..10, "other") per
    question type; each step samples ``batch_per_type`` labels per type (answers right with the type's
    accuracy) and ascends :func:`~trainers.rewarding_doubt.exact.exact_objective` (autograd through the same
    code as the trainer), with ``beta`` KL to ``ref`` (12 outcome probabilities shared by every type; None: the
    uniform distribution, as ``kl_reference: uniform``). Returns the policy over the 11 levels (renormalised)."""
    import torch

    from trainers.rewarding_doubt.exact import N_LEVELS, exact_objective, reward_table

    rng = np.random.default_rng(seed)
    acc = np.asarray(accuracies, dtype=float)
    logits = torch.zeros(len(acc), N_LEVELS + 1, dtype=torch.float64, requires_grad=True)
    table = reward_table(spec)
    types = np.repeat(np.arange(len(acc)), batch_per_type)
    opt = torch.optim.SGD([logits], lr=lr)
    ref_row = np.full(N_LEVELS + 1, 1 / (N_LEVELS + 1)) if ref is None else np.asarray(ref, dtype=float)
    ref_log = torch.as_tensor(np.log(ref_row / ref_row.sum()), dtype=torch.float64).expand(len(types), -1)
    for _ in range(steps):
        y = (rng.random(len(types)) < acc[types]).astype(int)
        log_pi = logits.log_softmax(-1)[torch.as_tensor(types)]
        j, _ = exact_objective(log_pi, y, table, beta=beta, ref_log_pi=ref_log)
        opt.zero_grad()
        (-j * len(acc)).backward()
        opt.step()
    probs = logits.detach().softmax(-1).numpy()[:, :N_LEVELS]
    return TabularResult(acc, probs / probs.sum(1, keepdims=True))
