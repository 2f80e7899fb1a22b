"""calbench.reporting.level_gaps: per-level accuracy of a stated readout and the ECE floor of the log score's levels."""

from __future__ import annotations

import numpy as np
import pytest

from calbench.errors import DataError
from calbench.metrics import score
from calbench.reporting import level_gaps


def _data():
    # 100 answers stated "1", 3 of them right; 100 stated "9", 96 right
    conf = np.r_[np.full(100, 0.1), np.full(100, 0.9)]
    y = np.r_[np.ones(3), np.zeros(97), np.ones(96), np.zeros(4)].astype(int)
    return conf, y


def test_groups_and_relabellings_follow_the_log_score_boundaries():
    mod = level_gaps
    conf, y = _data()
    assert mod.groups(conf, y, 10) == [(1, 100, 0.03), (9, 100, 0.96)]
    out = mod.relabelled(conf, y, "0-10")
    # 0.03 is above the "0"/"1" boundary (0.022 at eps 0.001) and 0.96 below "9"/"10" (0.978): the log score
    # keeps "1" and "9"; the nearest levels are "0" and "10"
    assert np.array_equal(out["each group at its log-optimal level"], conf)
    assert np.array_equal(out["each group at its nearest level"], np.r_[np.zeros(100), np.ones(100)])
    # ECE as stated: half the answers off by 0.07, half by 0.06 -> 0.065, the same for the log-optimal levels
    assert score(conf, y)["ece"] == pytest.approx(0.065)
    assert score(out["each group at its nearest level"], y)["ece"] == pytest.approx(0.035)


def test_a_group_whose_accuracy_calls_for_another_level_moves():
    mod = level_gaps
    conf = np.full(50, 0.5)
    y = np.r_[np.ones(40), np.zeros(10)].astype(int)  # stated "5", right 80 % of the time
    out = mod.relabelled(conf, y, "0-10")
    assert out["each group at its log-optimal level"][0] == pytest.approx(0.8)
    assert out["each group at its nearest level"][0] == pytest.approx(0.8)


def test_confidences_off_the_grid_are_refused():
    mod = level_gaps
    with pytest.raises(ValueError, match="not levels of a 0..10 grid"):
        mod.groups(np.array([0.1, 0.55]), np.array([0, 1]), 10)


def test_the_text_has_both_tables(tmp_path):
    from tests.helpers import make_run

    mod = level_gaps
    conf, y = _data()
    ids = [f"q{i}" for i in range(len(y))]
    run = make_run(tmp_path / "after", methods=("two-stage",), ids=ids, conf=conf.tolist(), correct=y.tolist())
    out = mod.text(f"{run}#two-stage")
    assert "200 parsed answers, accuracy 0.495" in out
    assert "| 1 | 100 | 0.030 | 0.070 | 1 | 0 |" in out and "| 9 | 100 | 0.960 | 0.060 | 9 | 10 |" in out
    assert "| each group at its nearest level | 0.035" in out
    with pytest.raises(DataError, match="no method 'expected'"):
        mod.text(f"{run}#expected")
    with pytest.raises(DataError, match="no-such"):
        mod.text(str(tmp_path / "no-such") + "#two-stage")
    with pytest.raises(DataError, match="scale"):
        mod.text(f"{run}#two-stage", scale="0-1")
