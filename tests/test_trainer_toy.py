"""The trainer's own GRPO advantage settings on a tabular policy with known accuracies
(trainers/rewarding_doubt/README.md, "The base-rate trap"): with them the policy converges to calibrated
confidence; with TRL's per-group scaling it does not."""

from __future__ import annotations

import numpy as np
import pytest

from trainers.rewarding_doubt.config import RDConfig
from trainers.rewarding_doubt.toy import group_advantages, simulate_tabular

ACCURACIES = [0.05, 0.15, 0.3, 0.5, 0.7, 0.9]


def test_group_advantages_formula():
    r = np.array([1.0, 2.0, 3.0, 4.0, 10.0, 10.0, 10.0, 12.0])
    centred = np.array([-1.5, -0.5, 0.5, 1.5, -0.5, -0.5, -0.5, 1.5])
    assert group_advantages(r, 4, "none") == pytest.approx(centred)
    assert group_advantages(r, 4, "batch") == pytest.approx(centred / (np.std(r, ddof=1) + 1e-4))
    g_std = np.repeat([np.std(r[:4], ddof=1), np.std(r[4:], ddof=1)], 4)
    assert group_advantages(r, 4, "group") == pytest.approx(centred / (g_std + 1e-4))


@pytest.mark.parametrize("scale_rewards", [RDConfig().scale_rewards, "none", "batch"])
def test_trainer_settings_converge_to_calibrated_confidence(scale_rewards):
    res = simulate_tabular(ACCURACIES, scale_rewards, num_generations=RDConfig().num_generations, steps=3000)
    err = np.abs(res.expected_confidence - np.array(ACCURACIES))
    assert err.max() <= 0.08, (scale_rewards, res.expected_confidence.round(3))
    # the confidences are ordered like the accuracies (the policy discriminates)
    assert np.all(np.diff(res.expected_confidence) > 0)


def test_per_group_scaling_fails_to_calibrate():
    res = simulate_tabular(ACCURACIES, "group", num_generations=RDConfig().num_generations, steps=3000)
    conf = res.expected_confidence
    assert np.abs(conf - np.array(ACCURACIES)).max() >= 0.15, conf.round(3)
    # pushed to the extremes: rare-success questions go to 0, frequent-success ones to (nearly) 1
    assert conf[0] < 0.03 and conf[1] < 0.05 and conf[-1] > 0.95


def test_the_grpo_config_uses_the_validated_settings(tmp_path):
    pytest.importorskip("trl")
    from trainers.rewarding_doubt.estimators.grpo import build_grpo_args

    cfg = RDConfig(prompts_per_step=3, num_generations=4)
    args = build_grpo_args(cfg, tmp_path, on_cuda=False, bf16=False)
    assert args.scale_rewards == cfg.scale_rewards != "group"
    assert args.loss_type == cfg.loss_type
    assert args.per_device_train_batch_size == 12 and args.num_generations == 4
    assert args.temperature == cfg.temperature and args.beta == cfg.beta
    assert args.gradient_checkpointing is True  # TRL's default unless the config turns it off
    assert (
        build_grpo_args(
            RDConfig(gradient_checkpointing=False), tmp_path, on_cuda=False, bf16=False
        ).gradient_checkpointing
        is False
    )


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_batch_scaling_is_biased_at_a_low_base_rate_with_few_groups(seed):
    """One question type at accuracy 0.155 (the log score's optimal level is 0.2), 4 groups per step: half the
    steps are all-wrong, their tiny batch std blows them up, and "batch" drifts towards 0; the default ("none")
    keeps the reward's magnitudes and settles at the optimum."""
    default = RDConfig().scale_rewards
    assert default == "none"
    kw = dict(num_generations=8, groups_per_type=4, steps=3000, lr=0.5, seed=seed)
    batch = simulate_tabular([0.155], "batch", **kw).expected_confidence[0]
    none = simulate_tabular([0.155], default, **kw).expected_confidence[0]
    assert batch < 0.09, batch
    assert abs(none - 0.2) <= 0.04, none


def test_batch_scaling_with_few_prompts_per_step_warns():
    assert any(
        "scale_rewards 'batch'" in w
        for w in RDConfig(estimator="grpo", scale_rewards="batch", prompts_per_step=4).warnings()
    )
    assert not RDConfig(estimator="grpo", scale_rewards="batch", prompts_per_step=64).warnings()
    assert not RDConfig(estimator="grpo").warnings()
