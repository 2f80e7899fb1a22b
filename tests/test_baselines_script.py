"""calbench.reporting.baselines compares the best method with two-stage through calbench.reporting.compare.compare."""

from __future__ import annotations

from calbench.reporting import baselines
from calbench.reporting.inputs import check_run_folder
from tests.helpers import IDS, make_run


def _script():
    return baselines


def test_compare_brier_pairs_the_questions_both_methods_parsed(tmp_path):
    parse_ok = [i % 4 != 0 for i in range(len(IDS))]
    make_run(tmp_path / "run", methods=("two-stage", "expected"), parse_ok=parse_ok)
    comp = _script().compare_brier(check_run_folder(tmp_path / "run"), "expected", n_resamples=50)
    assert comp.problem is None and comp.n_pairs == sum(parse_ok)
    assert comp.reference.method == "two-stage" and comp.other.method == "expected"
    assert comp.deltas["brier"].delta == 0  # the same confidences: no difference


def test_verdict_names_why_a_run_is_not_compared(tmp_path):
    make_run(tmp_path / "run", methods=("two-stage", "expected"), status="incomplete")
    text = _script()._versus_baseline(tmp_path / "run", "expected", 50)
    assert text.startswith("not compared with two-stage (status is 'incomplete'")
