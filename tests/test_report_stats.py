"""calbench.reporting.stats: multiple-comparison corrections and the questions-needed estimate, against hand
computations, statsmodels (when installed) and a simulation."""

from __future__ import annotations

import math

import numpy as np
import pytest

from calbench.reporting.stats import (
    adjust,
    benjamini_hochberg,
    holm,
    paired_questions_needed,
    questions_needed,
    se_from_ci,
)

P = [0.01, 0.04, 0.03, 0.005]


def test_holm_by_hand():
    # Sorted: 0.005, 0.01, 0.03, 0.04 -> x4, x3, x2, x1 = 0.02, 0.03, 0.06, 0.04 -> running max 0.02, 0.03, 0.06, 0.06
    np.testing.assert_allclose(holm(P), [0.03, 0.06, 0.06, 0.02])
    assert holm([0.5, 0.9]).tolist() == [1.0, 1.0]  # capped at 1
    assert holm([0.2]).tolist() == [0.2]  # one test: unchanged


def test_bh_by_hand():
    # Sorted: 0.005, 0.01, 0.03, 0.04 -> m p / rank = 0.02, 0.02, 0.04, 0.04 -> min from the right: same
    np.testing.assert_allclose(benjamini_hochberg(P), [0.02, 0.04, 0.04, 0.02])
    # A step-up case: 0.01, 0.02, 0.03, 0.5 -> 0.04, 0.04, 0.04, 0.5
    np.testing.assert_allclose(benjamini_hochberg([0.03, 0.5, 0.01, 0.02]), [0.04, 0.5, 0.04, 0.04])


def test_nan_is_kept_out_of_the_family():
    out = holm([0.01, math.nan, 0.04])
    assert math.isnan(out[1])
    np.testing.assert_allclose(out[[0, 2]], [0.02, 0.04])  # m = 2, not 3
    assert np.isnan(benjamini_hochberg([math.nan])).all()
    with pytest.raises(ValueError, match="in \\[0, 1\\]"):
        holm([1.5])
    with pytest.raises(ValueError, match="unknown correction"):
        adjust([0.1], "bonferonni")
    assert adjust(P, "none").tolist() == P


@pytest.mark.parametrize("method,sm", [("holm", "holm"), ("bh", "fdr_bh")])
def test_against_statsmodels(method, sm):
    multitest = pytest.importorskip("statsmodels.stats.multitest")
    rng = np.random.default_rng(0)
    for _ in range(50):
        p = rng.uniform(0, 0.2, size=rng.integers(1, 15)) ** rng.uniform(0.5, 2)
        if rng.random() < 0.3:
            p[rng.integers(0, p.size)] = p[0]  # ties
        want = multitest.multipletests(p, alpha=0.05, method=sm)[1]
        np.testing.assert_allclose(adjust(p, method), want, rtol=1e-12, atol=1e-15)


def test_questions_needed_by_hand():
    z = 1.959964 + 0.841621  # z_{0.975} + z_{0.8}
    # sd of paired differences 0.2, delta 0.05 -> n = (z * 0.2 / 0.05)^2 = 125.58 -> 126
    assert questions_needed(0.05, 0.2 / math.sqrt(100), 100) == math.ceil((z * 0.2 / 0.05) ** 2) == 126
    assert questions_needed(-0.05, 0.02, 100) == 126  # sign does not matter
    assert questions_needed(0.0, 0.02, 100) == math.inf
    assert math.isnan(questions_needed(float("nan"), 0.02, 100))
    d = np.array([0.1, -0.1] * 50) + 0.05  # mean 0.05, sd 0.1005
    sd = d.std(ddof=1)
    assert paired_questions_needed(d) == math.ceil((z * sd / 0.05) ** 2)
    assert se_from_ci(-0.0392, 0.0392) == pytest.approx(0.02, rel=1e-4)


def test_questions_needed_gives_the_promised_power():
    # Simulate paired Brier-like differences; at the estimated n, a two-sided z-test at 0.05 should reject
    # about 80 % of the time.
    rng = np.random.default_rng(1)
    pilot = rng.normal(0.02, 0.15, size=400)
    n = int(paired_questions_needed(pilot))
    true_mean, true_sd = pilot.mean(), pilot.std(ddof=1)
    draws = rng.normal(true_mean, true_sd, size=(4000, n))
    z = draws.mean(axis=1) / (draws.std(axis=1, ddof=1) / math.sqrt(n))
    assert 0.77 < np.mean(np.abs(z) > 1.959964) < 0.83
