"""The across-seed analysis of the confirmation study (calbench.reporting.seeds): the t-interval, the
pre-registered verdict rule, the best-of reference and the study output that writes the table."""

from __future__ import annotations

import math

import numpy as np
import pytest
import yaml

from calbench import study as st
from calbench.reporting.compare import Arm, Delta
from calbench.reporting.inputs import RunFolder
from calbench.reporting.seeds import best_of, seed_rows, seed_table, seed_verdict, t_interval
from tests.helpers import make_run


def test_t_interval_matches_the_textbook_values():
    # mean 2, sd 1, n 3: half-width t_{0.975, 2} / sqrt(3) = 4.302653 / 1.732051 = 2.484138
    mean, lo, hi = t_interval([1.0, 2.0, 3.0])
    assert mean == 2.0 and lo == pytest.approx(2 - 2.484138, abs=1e-6) and hi == pytest.approx(2 + 2.484138, abs=1e-6)
    assert math.isnan(t_interval([0.5])[1])


def _d(metric, lo, hi):
    return Delta(metric, 0.5, 0.5 + (lo + hi) / 2, (lo + hi) / 2, lo, hi, 0.01)


@pytest.mark.parametrize(
    "metric, seeds, mean_ci, expected",
    [
        ("auroc", [(0.01, 0.1)] * 3, (0.05, 0.02, 0.08), "met"),
        ("brier", [(-0.1, -0.01)] * 3, (-0.05, -0.08, -0.02), "met"),  # lower is better
        ("auroc", [(0.01, 0.1), (-0.02, 0.1), (0.01, 0.1)], (0.05, 0.02, 0.08), "not met (beats, ties, beats)"),
        ("auroc", [(0.01, 0.1)] * 3, (0.05, -0.01, 0.11), "not met (beats, beats, beats)"),
        ("brier", [(0.01, 0.1)] * 3, (0.05, 0.02, 0.08), "failed (loses)"),
        ("ece", [(-0.1, -0.01), (0.01, 0.1), (-0.1, 0.1)], (0.0, -0.2, 0.2), "not met (beats, loses, ties)"),
    ],
)
def test_the_verdict_rule(metric, seeds, mean_ci, expected):
    assert seed_verdict([_d(metric, lo, hi) for lo, hi in seeds], mean_ci, metric) == expected


def _arm(folder, conf, correct, method="m1"):
    ids = [f"q{i}" for i in range(len(conf))]
    run = make_run(folder, ids=ids, conf=conf, correct=correct, methods=(method,), model=folder.name)
    return Arm.of(RunFolder.open(run), method)


def test_seed_rows_pair_each_seed_with_the_reference_and_pick_the_best_baseline(tmp_path):
    rng = np.random.default_rng(0)
    y = (rng.random(300) < 0.3).astype(int)
    good = [list(np.clip(0.3 + 0.4 * (y - 0.3) + rng.normal(0, 0.1, 300), 0.01, 0.99)) for _ in range(3)]
    trained = [_arm(tmp_path / f"s{i}", g, y) for i, g in enumerate(good)]
    flat = _arm(tmp_path / "flat", [0.3] * 300, y)  # calibrated on average, no discrimination
    # noisy: some discrimination, far too confident
    noisy = _arm(tmp_path / "noisy", list(np.clip(0.6 + 0.2 * (y - 0.3) + rng.normal(0, 0.2, 300), 0.01, 0.99)), y)
    assert best_of([flat, noisy], "auroc") is noisy and best_of([flat, noisy], "brier") is flat
    rows = seed_rows(trained, [flat, noisy], ["auroc", "brier"], n_resamples=200)
    assert [r.reference for r in rows] == [noisy.label, flat.label]
    assert all(r.verdict == "met" for r in rows)
    auroc = rows[0]
    assert auroc.mean == pytest.approx(np.mean([c.deltas["auroc"].delta for c in auroc.comparisons]))
    text = seed_table(rows, ["s0", "s1", "s2"])
    assert text.count("\n") == 4 and "**met**" in text and "s2: trained" in text
    (single,) = seed_rows(trained[:1], flat, ["auroc"], n_resamples=200)  # one seed: its own paired interval
    d = single.comparisons[0].deltas["auroc"]
    assert (single.mean, single.low, single.high) == (d.delta, d.ci_low, d.ci_high) and single.verdict == "met"


def test_a_study_writes_the_seed_table_and_names_what_is_not_run_yet(tmp_path):
    y = [i % 3 == 0 for i in range(60)]
    for i in range(2):
        _arm(tmp_path / f"s{i}", [0.8 if v else 0.2 for v in y], y, method="two-stage")
    _arm(tmp_path / "before", [0.5] * 60, y, method="two-stage")
    spec = {
        "study": "x",
        "model": "m",
        "seeds": [
            {
                "out": "primary.md",
                "title": "T",
                "trained": ["s0#two-stage", "s1#two-stage"],
                "references": [
                    {"label": "untrained", "arm": "before#two-stage"},
                    {"label": "probe", "arm": "probe#probe"},
                ],
                "metrics": ["auroc"],
            }
        ],
    }
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(spec))
    assert st.run(st.load(path), "tables", log=lambda *_: None) == 0
    text = (tmp_path / "primary.md").read_text()
    assert text.startswith("# T\n") and "## Against untrained" in text and "**met**" in text
    assert "## Against probe" in text and "Not yet:" in text and "probe#probe" in text
    spec["seeds"][0]["references"] = [{"label": "both", "arm": "before#two-stage", "best_of": ["before"]}]
    path.write_text(yaml.safe_dump(spec))
    with pytest.raises(st.StudyError, match="give either arm"):
        st.load(path)


def test_the_transfer_table_gives_the_papers_form_and_judges_calibration_and_discrimination_apart(tmp_path):
    """transfer: per unseen task the untrained -> trained values with the paired difference, and the verdicts:
    a trained statement that ranks well but is over-confident transfers discrimination, not calibration, when a
    carried-over scaler is better calibrated; a task not run yet is named."""
    rng = np.random.default_rng(1)
    y = (rng.random(400) < 0.3).astype(int)
    _arm(tmp_path / "before", [0.9] * 400, y, method="two-stage")  # the untrained statement: "90 %" for all
    for i in range(2):  # trained: ranks well, over-confident on average
        conf = np.clip(0.55 + 0.35 * (y - 0.3) + rng.normal(0, 0.05, 400), 0.01, 0.99)
        _arm(tmp_path / f"s{i}", list(conf), y, method="two-stage")
    _arm(tmp_path / "platt", [0.3] * 400, y, method="two-stage+platt")  # carried over: calibrated, flat
    spec = {
        "study": "x",
        "model": "m",
        "transfer": [
            {
                "out": "unseen.md",
                "title": "From A",
                "tasks": [
                    {
                        "task": "medqa",
                        "untrained": "before#two-stage",
                        "trained": ["s0#two-stage", "s1#two-stage"],
                        "carried_over": ["platt"],
                    },
                    {"task": "mmlu", "untrained": "gone#two-stage", "trained": ["s0#two-stage"]},
                ],
            }
        ],
    }
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(spec))
    assert st.run(st.load(path), "tables", log=lambda *_: None) == 0
    text = (tmp_path / "unseen.md").read_text()
    assert text.startswith("# From A\n") and "## The paper's form" in text and "## Does calibration transfer?" in text
    paper = next(line for line in text.splitlines() if line.startswith("| medqa | 400 |"))
    assert f"{0.9 - y.mean():.3f} → " in paper and "the mean over 2 seeds" in text  # ECE of "90 %" for all
    rows = [line for line in text.splitlines() if line.startswith("| medqa |")]
    cal = [c.strip() for c in rows[1].strip("|").split("|")]
    assert cal[1].startswith("**met**")  # ECE: better than "90 %" for everything
    assert cal[2].startswith("**failed (loses)**") and "two-stage+platt" in cal[2]  # not than the scaler
    assert cal[5] == "no: beats the untrained statement only"
    disc = [c.strip() for c in rows[2].strip("|").split("|")]
    assert disc[2] == "yes" and disc[3].startswith("**met**") and disc[5] == "**yes**"  # ranks: above chance
    assert "mmlu: not yet" in text and "gone" in text
