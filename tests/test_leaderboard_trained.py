"""The leaderboard's "Trained models against the baselines" section: verdicts from paired bootstrap CIs."""

from __future__ import annotations

from pathlib import Path

from calbench.reporting.leaderboard import build, render_markdown
from calbench.reporting.trained import is_trained, trained_vs_baselines, verdict
from test_leaderboard import IDS, make_run

N = len(IDS)  # 40
CORRECT = [i % 2 for i in range(N)]
DISCRIMINATING = [0.9 if y else 0.1 for y in CORRECT]       # right -> 0.9, wrong -> 0.1
CONSTANT_HIGH = [0.95] * N                                   # overconfident, no discrimination
CONSTANT_HALF = [0.5] * N


def _board(tmp_path: Path, trained_conf, baselines: dict[str, list[float]]):
    make_run(tmp_path / "trained", model="m", methods=("two-stage",), conf=trained_conf, correct=CORRECT,
             adapter="runs/x/adapter")
    for name, conf in baselines.items():
        make_run(tmp_path / name, model="m", methods=(name,), conf=conf, correct=CORRECT)
    return build([tmp_path])


def test_trained_system_beats_and_ties(tmp_path):
    lb = _board(tmp_path, DISCRIMINATING, {"two-stage": CONSTANT_HIGH, "expected": DISCRIMINATING})
    (item,) = trained_vs_baselines(lb)
    assert "adapter" in item.label or "x/adapter" in item.label
    by = {label.split(" · ")[-1]: comp for label, comp in item.comparisons}
    assert set(by) == {"two-stage", "expected"}
    assert all(c.n_pairs == N for c in by.values())
    # against the overconfident constant: better Brier (lower) and AUROC (higher), CIs away from 0
    assert verdict(by["two-stage"], "brier") == "beats"
    assert verdict(by["two-stage"], "auroc") == "beats"
    assert by["two-stage"].deltas["brier"].delta < 0
    # against an identical predictor: every difference is 0 -> tie
    assert verdict(by["expected"], "brier") == "ties"
    assert item.tally("brier") == {"beats": 1, "ties": 1, "loses": 0}


def test_trained_system_that_loses(tmp_path):
    lb = _board(tmp_path, CONSTANT_HIGH, {"expected": DISCRIMINATING})
    (item,) = trained_vs_baselines(lb)
    (_, comp), = item.comparisons
    assert verdict(comp, "brier") == "loses"
    assert verdict(comp, "auroc") == "loses"


def test_section_in_markdown_only_with_both_kinds(tmp_path):
    lb = _board(tmp_path / "a", DISCRIMINATING, {"two-stage": CONSTANT_HALF})
    md = render_markdown(lb, tmp_path)
    assert "## Trained models against the baselines" in md
    assert "**beats**" in md
    assert md.index("## Trained models") < md.index("## In-domain")
    make_run(tmp_path / "b" / "base", model="m", methods=("two-stage",), conf=CONSTANT_HALF, correct=CORRECT)
    assert "Trained models" not in render_markdown(build([tmp_path / "b"]), tmp_path)


def test_is_trained():
    assert is_trained({"model": {"adapter": "a"}})
    assert not is_trained({"model": {"adapter": None}})
    assert not is_trained({})
