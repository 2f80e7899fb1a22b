"""trainers.rewarding_doubt.kl_optimum: the KL-regularised optimum of the exact objective, checked against its
definition."""

from __future__ import annotations

import numpy as np

from trainers.rewarding_doubt import kl_optimum
from trainers.rewarding_doubt.rewards import RewardSpec


def _script():
    return kl_optimum


def _objective(pi, r, ref, beta):
    return (pi * r).sum(1) - beta * (pi * (np.log(pi) - np.log(ref))).sum(1)


def test_beta_zero_is_the_bayes_act_with_the_closed_form_boundary():
    # the log score's "1"/"2" boundary is at p = log(9/8) / log(9/4) = 0.14524 (see tests of calbench.scalers)
    mod, spec = _script(), RewardSpec()
    p = np.array([0.01, 0.1445, 0.1460, 0.5, 0.99])  # "9"/"10" at 0.978 (eps 0.001)
    pi = mod.optimal_policy(p, np.full((5, 11), 1 / 11), 0.0, spec)
    assert pi.argmax(1).tolist() == [0, 1, 2, 5, 10] and np.allclose(pi.sum(1), 1)


def test_the_optimum_beats_every_other_policy_on_the_regularised_objective():
    mod, spec = _script(), RewardSpec()
    rng = np.random.default_rng(0)
    p = rng.uniform(0, 1, 20)
    ref = rng.dirichlet(np.ones(11), 20)
    r = mod.expected_rewards(p, spec)
    for beta in (0.005, 0.02, 0.1):
        best = _objective(mod.optimal_policy(p, ref, beta, spec), r, ref, beta)
        for _ in range(50):
            other = rng.dirichlet(np.ones(11) * 0.5, 20) * 0.98 + 0.02 / 11
            assert np.all(best >= _objective(other, r, ref, beta) - 1e-12)


def test_a_strong_reference_holds_the_mode_until_beta_is_small():
    mod, spec = _script(), RewardSpec()
    ref = np.full((1, 11), 0.01)
    ref[0, 1] = 0.9  # the untrained model prefers "1"
    p = np.array([0.3])  # the Bayes act is "3"
    modes = [int(mod.optimal_policy(p, ref / ref.sum(), b, spec).argmax()) for b in (0.1, 0.02, 0.001)]
    assert modes[0] == 1 and modes[-1] == 3


def test_a_policy_at_the_optimum_has_no_gap_and_one_elsewhere_is_measured():
    mod, spec = _script(), RewardSpec()
    rng = np.random.default_rng(1)
    p = rng.uniform(0, 0.6, 30)
    ref = rng.dirichlet(np.ones(11), 30)
    at = mod.optimal_policy(p, ref, 0.02, spec)
    rows = mod.policy_gap(at, p, ref, [0.0, 0.02], spec)
    tv = {float(r.split("|")[1]): float(r.split("|")[2]) for r in rows[2:]}
    agree = {float(r.split("|")[1]): float(r.split("|")[3]) for r in rows[2:]}
    assert tv[0.02] == 0.0 and agree[0.02] == 1.0 and tv[0.0] > 0.1
    uniform = np.full((30, 11), 1 / 11)  # total variation from pi* at beta 0 (one-hot): 1 - 1/11
    rows = mod.policy_gap(uniform, p, ref, [0.0], spec)
    assert float(rows[2].split("|")[2]) == round(10 / 11, 3)


def test_the_margin_check_finds_a_policy_at_its_optimum():
    mod, spec = _script(), RewardSpec()
    rng = np.random.default_rng(2)
    p = rng.uniform(0, 0.6, 40)
    ref = rng.dirichlet(np.ones(11), 40)
    line = mod.margin_check(mod.optimal_policy(p, ref, 0.02, spec), p, ref, 0.02, spec)
    parts = line.replace(";", ",").split(",")
    implied = float(parts[0].split("policy ")[1].split(" ")[0])
    actual = float(parts[1].split("posterior ")[1])
    assert implied == actual and line.endswith("correlation over answers 1.00")
    off = mod.margin_check(np.full((40, 11), 1 / 11), p, ref, 0.02, spec)
    assert not off.endswith("1.00")
