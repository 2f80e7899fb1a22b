"""Rewards of the Rewarding Doubt trainer on hand-written completions, against the formulas written out here."""

from __future__ import annotations

import json
import math

import pytest

from calbench.records import Example
from calbench.training import TrainerError
from trainers.rewarding_doubt.config import RDConfig
from trainers.rewarding_doubt.rewards import RewardSpec, confidence_rewards, make_confidence_reward

EPS = 0.001
LOG_EPS = math.log(EPS)  # the worst log score, -6.9078


def log_reward(p: float, y: int, normalize: bool) -> float:
    """The Rewarding Doubt reward written out independently: log p if right, log(1-p) if wrong, p clipped."""
    p = min(max(p, EPS), 1 - EPS)
    s = math.log(p) if y else math.log(1 - p)
    return 1 + 2 * s / -LOG_EPS if normalize else s


def rewards_for(completions, correct, **spec):
    fn = make_confidence_reward(RewardSpec(**spec))
    return fn(prompts=["p"] * len(completions), completions=completions, correct=correct)


@pytest.mark.parametrize("normalize", [False, True])
def test_log_score_reward_right_and_wrong(normalize):
    completions = ["7", "7", "3", "10", "0", "10", "0"]
    correct = [1, 0, 1, 1, 0, 0, 1]
    got = rewards_for(completions, correct, normalize=normalize)
    want = [
        log_reward(p, y, normalize) for p, y in [(0.7, 1), (0.7, 0), (0.3, 1), (1.0, 1), (0.0, 0), (1.0, 0), (0.0, 1)]
    ]
    assert got == pytest.approx(want, abs=1e-12)


def test_clipping_matches_the_paper():
    # confidence 10 and right: log(0.999), not log(1) = 0; confidence 10 and wrong: log(0.001), not -inf
    got = rewards_for(["10", "10"], [1, 0], normalize=False)
    assert got[0] == pytest.approx(math.log(0.999))
    assert got[1] == pytest.approx(math.log(0.001))
    assert all(math.isfinite(r) for r in got)


def test_normalised_range_is_minus_one_to_one():
    got = rewards_for(["10", "0", "10", "0"], [0, 1, 1, 0], normalize=True)
    assert got[0] == pytest.approx(-1.0) and got[1] == pytest.approx(-1.0)
    assert got[2] == pytest.approx(1 + 2 * math.log(0.999) / -LOG_EPS)
    assert 0.999 < got[2] < 1.0 and got[3] == pytest.approx(got[2])


@pytest.mark.parametrize("text", ["", "I am not sure", "62", "-3", "150%"])
def test_unparseable_gets_the_format_penalty(text):
    # default penalty: the worst score a parseable confidence can get (-1 normalised, log(eps) raw)
    assert rewards_for([text], [1], normalize=True) == [pytest.approx(-1.0)]
    assert rewards_for([text], [0], normalize=False) == [pytest.approx(LOG_EPS)]
    assert rewards_for([text], [1], normalize=True, format_penalty=-3.0) == [-3.0]


def test_unparseable_is_never_better_than_any_parseable_reply():
    for y in (0, 1):
        bad = rewards_for(["no idea"], [y])[0]
        assert all(bad <= r for r in rewards_for([str(k) for k in range(11)], [y] * 11))


def test_chat_style_completions_are_read():
    fn = make_confidence_reward(RewardSpec(normalize=False))
    got = fn(prompts=["p"], completions=[[{"role": "assistant", "content": "8"}]], correct=[1])
    assert got == [pytest.approx(math.log(0.8))]


def test_brier_reward():
    got = rewards_for(["8", "8", "0"], [0, 1, 0], rule="brier", normalize=False)
    assert got == pytest.approx([-(0.8**2), -(0.2**2), 0.0])
    got = rewards_for(["8"], [0], rule="brier", normalize=True)
    assert got == pytest.approx([1 - 2 * 0.64])


def test_correctness_term_adds_weight_times_outcome():
    got = confidence_rewards([0.6, 0.6, None], [1, 0, 1], RewardSpec(normalize=False, correctness_weight=0.5))
    assert got == pytest.approx([math.log(0.6) + 0.5, math.log(0.4), LOG_EPS + 0.5])


@pytest.mark.parametrize("rule", ["log", "brier"])
@pytest.mark.parametrize("q", [0.05, 0.2, 0.5, 0.73, 0.95])
def test_expected_reward_peaks_at_the_true_accuracy(rule, q):
    """Properness on the 11-level grid: the level with the best expected reward is the one nearest to q
    (for the log score the optimum of the continuous rule is exactly q)."""
    spec = RewardSpec(rule=rule)
    levels = [k / 10 for k in range(11)]
    expected = [
        q * confidence_rewards([p], [1], spec)[0] + (1 - q) * confidence_rewards([p], [0], spec)[0] for p in levels
    ]
    best = levels[max(range(11), key=lambda i: expected[i])]
    assert abs(best - q) <= 0.05 + 1e-9


def test_config_rejects_group_scaling_and_length_biased_loss():
    with pytest.raises(TrainerError, match="scale_rewards"):
        RDConfig(scale_rewards="group")
    with pytest.raises(TrainerError, match="loss_type"):
        RDConfig(loss_type="grpo")
    assert RDConfig().scale_rewards in ("batch", "none")


def test_config_from_yaml_mapping():
    cfg = RDConfig.from_mapping({"learning_rate": "1e-4", "max_steps": 3, "normalize": False})
    assert cfg.learning_rate == 1e-4 and cfg.max_steps == 3 and cfg.normalize is False
    with pytest.raises(TrainerError, match="unknown rewarding-doubt setting"):
        RDConfig.from_mapping({"learning_rat": 1e-4})
    with pytest.raises(TrainerError, match="must be a int"):
        RDConfig.from_mapping({"max_steps": "many"})
    with pytest.raises(TrainerError, match="correctness_weight"):
        RDConfig.from_mapping({"correctness_weight": 1.0})


def test_strict_format_accepts_only_integers_on_the_scale():
    completions = ["7", "10 ", "0\n", "0.7", "70%", "7/10", "seven", "0.", "0.000"]
    correct = [1, 0, 0, 1, 1, 1, 1, 0, 0]
    loose = rewards_for(completions, correct, normalize=True)
    strict = rewards_for(completions, correct, normalize=True, strict_format=True)
    # the integers score as before; "0." and "0.000" are read as 0 by the parser but are not integers
    assert strict[:3] == pytest.approx([log_reward(0.7, 1, True), log_reward(1.0, 0, True), log_reward(0.0, 0, True)])
    assert strict[3:] == [-1.0] * 6
    # without strict_format the parser's reading is scored
    assert loose[3:7] == pytest.approx([log_reward(0.7, 1, True)] * 4)
    assert loose[7:] == pytest.approx([log_reward(0.0, 0, True)] * 2)


def test_strict_format_needs_an_integer_scale():
    with pytest.raises(TrainerError, match="strict_format needs an integer scale"):
        RDConfig(scale="0-1", strict_format=True)
    assert RewardSpec.from_config(RDConfig(strict_format=True)).strict_format is True


def test_strict_format_applies_to_joint_mode():
    from trainers.rewarding_doubt.estimators.grpo import joint_reward as _joint_reward

    def judge(answer, example):
        return answer.strip().lower() == "paris"

    ex = Example(id="q1", task="toy", question="Capital of France?", answers=["Paris"])
    fn = _joint_reward(RewardSpec(strict_format=True), judge, "0-10")
    row = json.dumps(ex.to_dict())
    got = fn(prompts=["p", "p"], completions=[" Paris, Confidence: 9", " Paris, Confidence: 0.9"], example=[row, row])
    assert got == pytest.approx([log_reward(0.9, 1, True), -1.0])
