"""Leaderboard and report clarity: user datasets stay out of the overall mean, a missing overall score says
which columns it lacks, a difference over a handful of pairs is never significant, plot titles clear the axes."""

from __future__ import annotations

import numpy as np
import pytest

from calbench.reporting.compare import MIN_PAIRS
from calbench.reporting.leaderboard import build
from calbench.reporting.report import build_report
from tests.helpers import make_run


def test_user_dataset_is_not_averaged_into_the_overall_score(tmp_path):
    ids = [f"q{i}" for i in range(40)]
    y = [i % 2 for i in range(40)]
    make_run(tmp_path / "a_sciq", model="a", ids=ids, conf=[0.5] * 40, correct=y, task="sciq")
    make_run(tmp_path / "a_user", model="a", ids=ids, conf=[0.9] * 40, correct=y, task="user:mine", group="user")
    lb = build([tmp_path])
    (row,) = lb.rows
    assert row.overall.ok
    assert row.overall.value == pytest.approx(0.25)  # SciQ's Brier alone, not averaged with the CSV's 0.41
    assert [c.in_overall for c in lb.columns if c.task == "user:mine"] == [False]


def test_missing_overall_names_the_columns_it_lacks(tmp_path):
    ids = [f"q{i}" for i in range(40)]
    y = [i % 2 for i in range(40)]
    make_run(tmp_path / "a_sciq", model="a", ids=ids, conf=[0.5] * 40, correct=y, task="sciq")
    make_run(tmp_path / "a_tqa", model="a", ids=ids, conf=[0.5] * 40, correct=y, task="triviaqa")
    make_run(tmp_path / "b_sciq", model="b", ids=ids, conf=[0.6] * 40, correct=y, task="sciq")
    lb = build([tmp_path])
    b = next(r for r in lb.rows if r.label.startswith("b"))
    assert not b.overall.ok
    assert "scored on 1 of the 2" in b.overall.note and "missing: triviaqa" in b.overall.note
    assert "shown in 1 column(s)" in b.overall.note


def test_a_delta_over_five_pairs_is_too_few_not_significant(tmp_path):
    ids = [f"q{i}" for i in range(5)]
    y = [0, 0, 0, 0, 0]
    a = make_run(tmp_path / "a", model="a", ids=ids, conf=[1.0] * 5, correct=y)
    b = make_run(tmp_path / "b", model="b", ids=ids, conf=[0.0] * 5, correct=y)
    rep = build_report([a, b], n_resamples=200)
    d = rep.comparisons[0].deltas["brier"]
    assert d.delta == pytest.approx(-1.0) and d.p_value < 0.05  # a huge, "significant-looking" difference
    assert d.too_few and not d.significant
    assert any(f"fewer than {MIN_PAIRS}" in n for n in rep.notes)


def test_plot_titles_sit_above_the_axes(tmp_path, monkeypatch):
    import calbench.figures as plots

    figs = []
    monkeypatch.setattr(plots, "_save", lambda fig, stem: figs.append(fig) or [])
    conf, corr = np.linspace(0, 1, 50), np.arange(50) % 2
    title = "a long system label · adapter\nsciq (parse rate 100%, policy exclude)"
    plots.confidence_histogram(conf, corr, title=title, path_stem=tmp_path / "h")
    plots.reliability_diagram(conf, corr, title=title, path_stem=tmp_path / "r", n_resamples=20)
    for fig in figs:
        renderer = fig.canvas.get_renderer()
        top_of_axes = max(ax.get_tightbbox(renderer).y1 for ax in fig.axes)
        assert fig._suptitle.get_window_extent(renderer).y0 >= top_of_axes - 1
