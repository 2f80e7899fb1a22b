"""Property tests (hypothesis) and degenerate inputs."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from calbench import metrics as M

LEVELS = st.sampled_from([i / 10 for i in range(11)])
ANY_P = st.floats(0, 1, allow_nan=False)


@st.composite
def samples(draw, p_strategy=None, min_size=1, max_size=60):
    n = draw(st.integers(min_size, max_size))
    ps = draw(st.lists(p_strategy or st.one_of(LEVELS, ANY_P), min_size=n, max_size=n))
    ys = draw(st.lists(st.integers(0, 1), min_size=n, max_size=n))
    return np.array(ps, dtype=float), np.array(ys, dtype=float)


def _same(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for k in a:
        if math.isnan(a[k]):
            assert math.isnan(b[k]), k
        else:
            assert a[k] == pytest.approx(b[k], rel=1e-9, abs=1e-9), k


@settings(max_examples=60, deadline=None)
@given(samples(), st.randoms(use_true_random=False))
def test_order_invariance(data, rnd):
    p, y = data
    perm = list(range(p.size))
    rnd.shuffle(perm)
    _same(M.score(p, y), M.score(p[perm], y[perm]))


@settings(max_examples=80, deadline=None)
@given(samples())
def test_brier_decomposition_identity(data):
    p, y = data
    m = M.score(p, y)
    assert m["brier"] == pytest.approx(
        m["brier_reliability"] - m["brier_resolution"] + m["brier_uncertainty"], abs=1e-12
    )


@settings(max_examples=60, deadline=None)
@given(samples())
def test_ranges(data):
    p, y = data
    m = M.score(p, y)
    for k in ("accuracy", "ece", "ece_em", "mce", "rms_ce", "smece", "brier", "aurc", "sel_acc@10"):
        assert -1e-12 <= m[k] <= 1 + 1e-12, k
    assert m["ece"] <= m["rms_ce"] + 1e-12 <= m["mce"] + 2e-12
    assert m["log_score"] <= 0
    if 0 < y.sum() < y.size:
        assert 0 <= m["auroc"] <= 1 and 0 < m["auprc"] <= 1
    else:
        assert math.isnan(m["auroc"]) and math.isnan(m["auprc"])


@pytest.mark.parametrize("kind", ["continuous", "levels11"])
def test_calibrated_predictor_ece_shrinks_with_n(kind):
    rng = np.random.default_rng(0)
    prev = {}
    for n in (500, 5000, 50000, 500000):
        p = rng.uniform(size=n) if kind == "continuous" else rng.integers(0, 11, n) / 10
        y = (rng.uniform(size=n) < p).astype(float)  # P(correct | p) = p: perfectly calibrated
        m = M.score(p, y)
        bound = 3.0 / math.sqrt(n)
        assert m["ece"] < 2 * bound and m["ece_em"] < 2 * bound and m["rms_ce"] < 2 * bound
        for k in ("ece", "smece"):
            if k in prev:
                assert m[k] < prev[k] + bound
            prev[k] = m[k]
    assert m["ece"] < 0.005 and m["smece"] < 0.01


def test_miscalibrated_predictor_ece_converges_to_the_gap():
    rng = np.random.default_rng(1)
    p = rng.uniform(size=200000)
    y = (rng.uniform(size=p.size) < p * 0.5).astype(float)  # true accuracy is half the stated confidence
    m = M.score(p, y, bins=20)
    assert m["ece"] == pytest.approx(0.25, abs=0.01)  # E|p - p/2| = E[p]/2


# ---------------------------------------------------------------- degenerate inputs


@pytest.mark.parametrize("y", [[1, 1, 1], [0, 0, 0]])
def test_one_class_gives_nan_ranking_with_reason(y):
    m, notes = M.score_with_notes([0.2, 0.5, 0.9], y)
    assert math.isnan(m["auroc"]) and math.isnan(m["auprc"])
    assert "both correct and wrong" in notes["auroc"] and "auprc" in notes
    assert m["aurc"] == (0.0 if y[0] else 1.0)
    assert not any(math.isnan(v) for k, v in m.items() if k not in ("auroc", "auprc"))
    b = M.bootstrap([0.2, 0.5, 0.9], y, n_resamples=20)
    assert math.isnan(b["auroc"]["value"]) and "note" in b["auroc"]


def test_single_sample():
    m = M.score([0.7], [1])
    assert m["n"] == 1 and m["accuracy"] == 1.0
    assert m["ece"] == pytest.approx(0.3) and m["ece_em"] == pytest.approx(0.3) and m["mce"] == pytest.approx(0.3)
    assert m["brier"] == pytest.approx(0.09) and m["log_score"] == pytest.approx(math.log(0.7))
    assert m["sel_acc@10"] == pytest.approx(1.0)
    assert math.isnan(m["auroc"])
    b = M.bootstrap([0.7], [1], n_resamples=10)
    assert b["ece"]["ci_low"] == pytest.approx(0.3) and b["ece"]["ci_high"] == pytest.approx(0.3)


def test_constant_confidence():
    y = np.array([1, 0, 1, 1, 0, 1, 0, 1.0])
    m = M.score(np.full(8, 0.6), y)
    assert m["auroc"] == pytest.approx(0.5)  # every (right, wrong) pair tied
    assert m["auprc"] == pytest.approx(y.mean())
    assert m["aurc"] == pytest.approx(1 - y.mean())  # expected risk is the error rate at every coverage
    assert m["sel_acc@10"] == pytest.approx(y.mean())
    assert m["ece"] == pytest.approx(abs(0.6 - y.mean())) == m["ece_em"]
    assert m["brier_resolution"] == pytest.approx(0.0)


def test_empty_input_is_a_clear_error():
    with pytest.raises(ValueError, match="no samples"):
        M.score([], [])
    with pytest.raises(ValueError, match="no samples"):
        M.bootstrap([], [])


@pytest.mark.parametrize(
    "bad,row", [([0.5, 1.2, 0.1], 1), ([0.5, 0.2, -0.1], 2), ([float("nan"), 0.2], 0), ([0.3, None], 1)]
)
def test_out_of_range_or_nan_names_the_row(bad, row):
    with pytest.raises(ValueError, match=f"row {row}"):
        M.score(bad, [1] * len(bad))


def test_bad_labels_and_lengths():
    with pytest.raises(ValueError, match="correct at row 1"):
        M.score([0.2, 0.3], [1, 2])
    with pytest.raises(ValueError, match="pair up"):
        M.score([0.2, 0.3], [1])
    with pytest.raises(ValueError, match="bins"):
        M.score([0.2], [1], bins=0)


def test_sel_ks_and_em_bins_settings():
    m = M.score([0.1, 0.9], [0, 1], sel_ks=(5, 33.5))
    assert {"sel_acc@5", "sel_acc@33.5"} <= m.keys() and "sel_acc@10" not in m
    assert list(M.score([0.2], [1]).keys()) == list(M.BASE_METRICS) + ["sel_acc@10", "sel_acc@20", "sel_acc@50", "n"]
