"""The metric catalogue (calbench.metrics.catalogue) is the one owner of a metric's names, titles, directions
and table memberships; the lists of every table derive from it, and format_value writes every value."""

from __future__ import annotations

import math

import numpy as np
import pytest

from calbench import metrics as M
from calbench.metrics import catalogue as C
from calbench.metrics.counts import Grouped
from calbench.metrics.scores import Settings, metrics_from_counts


def _computed_keys(sel_ks=(10, 20, 50)) -> set[str]:
    c = Grouped.from_arrays([0.1, 0.4, 0.4, 0.9, 0.7], [0, 1, 0, 1, 1]).counts()
    return set(metrics_from_counts(c, Settings(sel_ks=sel_ks)))


def test_every_computed_metric_has_an_entry_and_vice_versa():
    keys = _computed_keys((10, 33.5))
    for k in keys:
        assert C.get(k).source == "counts", k
    expected = {m.name for m in C.CATALOGUE if m.source == "counts" and not m.family}
    assert expected <= keys
    families = {m.name for m in C.CATALOGUE if m.family}
    assert families == {"sel_acc@k"}
    assert {"sel_acc@10", "sel_acc@33.5"} <= keys
    assert keys - expected == {"sel_acc@10", "sel_acc@33.5"}


def test_run_json_metrics_all_have_entries():
    samples = [
        {"id": str(i), "confidence": p, "parse_ok": True, "correct": y}
        for i, (p, y) in enumerate([(0.2, 0), (0.8, 1), (0.6, 1), (0.3, 1), (0.9, 0)])
    ]
    out = M.summarize_samples(samples, n_resamples=20)
    for k in out:
        C.get(k)
    assert {m.name for m in C.CATALOGUE if not m.family} <= set(out)


def test_base_metrics_and_higher_is_better_are_derived():
    assert M.BASE_METRICS == (
        "accuracy",
        "ece",
        "ece_em",
        "mce",
        "rms_ce",
        "smece",
        "brier",
        "brier_reliability",
        "brier_resolution",
        "brier_uncertainty",
        "log_score",
        "auroc",
        "auprc",
        "aurc",
    )
    assert M.HIGHER_IS_BETTER == {
        "accuracy": True,
        "log_score": True,
        "auroc": True,
        "auprc": True,
        "brier_resolution": True,
        "parse_rate": True,
    }
    assert list(M.score([0.2, 0.9], [0, 1])) == [*M.BASE_METRICS, "sel_acc@10", "sel_acc@20", "sel_acc@50", "n"]


@pytest.mark.parametrize(
    "name, direction",
    [
        ("accuracy", "higher"),
        ("parse_rate", "higher"),
        ("ece", "lower"),
        ("ece_em", "lower"),
        ("mce", "lower"),
        ("rms_ce", "lower"),
        ("smece", "lower"),
        ("brier", "lower"),
        ("brier_reliability", "lower"),
        ("brier_resolution", "higher"),
        ("brier_uncertainty", "none"),
        ("log_score", "higher"),
        ("auroc", "higher"),
        ("auprc", "higher"),
        ("aurc", "lower"),
        ("sel_acc@20", "higher"),
        ("n", "none"),
    ],
)
def test_directions(name, direction):
    assert C.get(name).direction == direction
    assert M.higher_is_better(name) == (direction == "higher")


def test_directions_agree_with_the_definitions():
    """A better forecaster scores better in the catalogue's direction (perfect vs. uninformative confidence)."""
    rng = np.random.default_rng(0)
    y = (rng.random(400) < 0.6).astype(float)
    good = np.where(y == 1, 0.9, 0.1)
    bad = np.round(rng.random(y.size), 1)  # discrete levels, so the Brier resolution is informative
    g, b = M.score(good, y), M.score(bad, y)
    for name in (
        "ece",
        "mce",
        "rms_ce",
        "smece",
        "brier",
        "brier_reliability",
        "aurc",
        "log_score",
        "auroc",
        "auprc",
        "brier_resolution",
        "sel_acc@20",
        "ece_em",
    ):
        if C.get(name).direction == "higher":
            assert g[name] > b[name], name
        else:
            assert g[name] < b[name], name


def test_every_entry_is_well_formed():
    assert len({m.name for m in C.CATALOGUE}) == len(C.CATALOGUE)
    for m in C.CATALOGUE:
        assert m.direction in C.DIRECTIONS, m.name
        assert set(m.tables) <= set(C.TABLES), m.name
        assert m.title and m.description and m.source in ("counts", "policy"), m.name
    with pytest.raises(KeyError):
        C.get("no_such_metric")
    with pytest.raises(ValueError):
        C.table("no_such_table")


def test_tables_derive_from_the_catalogue():
    from calbench import summary
    from calbench.lmeval import hooks
    from calbench.reporting import board, compare, render

    names = set(C.BY_NAME)
    derived = {
        "summary": summary.SUMMARY_METRICS,
        "leaderboard": tuple(n for n, _ in board.COLUMNS),
        "report": compare.REPORT_METRICS,
        "render": render.SHOWN,
        "titles": tuple(render.TITLES),
        "lmeval": hooks.METRICS,
        "lmeval_higher": tuple(hooks.HIGHER_IS_BETTER),
        "terms": tuple(compare.PER_SAMPLE_TERMS),
    }
    for where, lst in derived.items():
        assert set(lst) <= names, where
    # the tables as they were listed before the catalogue (outputs must not change)
    assert summary.SUMMARY_METRICS == ("accuracy", "parse_rate", "ece", "brier", "log_score", "auroc")
    assert board.COLUMNS == (
        ("accuracy", "acc"),
        ("ece", "ECE"),
        ("brier", "Brier"),
        ("log_score", "log score"),
        ("auroc", "AUROC"),
        ("parse_rate", "parse rate"),
        ("n", "n"),
    )
    assert compare.REPORT_METRICS == ("accuracy", "ece", "brier", "log_score", "auroc")
    assert [render.TITLES[n] for n in render.SHOWN] == [
        "accuracy",
        "ECE",
        "Brier",
        "log score",
        "AUROC",
        "parse rate",
        "n scored",
    ]
    assert hooks.METRICS == summary.SUMMARY_METRICS
    assert set(compare.PER_SAMPLE_TERMS) == {"accuracy", "brier", "log_score"}
    for name in hooks.METRICS:  # lm-eval looks an aggregation up by the metric's name
        assert callable(getattr(hooks, name)), name


def test_trainer_and_baseline_tables_derive_from_the_catalogue():
    from calbench.reporting.compare import REPORT_METRICS
    from trainers.rewarding_doubt import evaluation, report

    # the trainer's before/after report pairs through calbench.reporting.compare.compare (REPORT_METRICS)
    assert evaluation.KEY_METRICS == REPORT_METRICS == C.table("paired")
    assert report.METRICS == C.table("summary")
    from calbench.reporting import baselines

    assert baselines.SHOWN == C.table("summary")
    assert set(baselines.SHOWN) <= set(C.BY_NAME)


def test_docs_state_the_catalogue_directions():
    """docs/metrics.md's point-metric table: a row per computed metric, its "better" column as the catalogue."""
    import re
    from pathlib import Path

    text = (Path(__file__).resolve().parents[1] / "docs" / "metrics.md").read_text(encoding="utf-8")
    rows = {}
    for line in text.splitlines():
        m = re.match(r"\| `([^`]+)` \|.*\| (higher|lower|—) \| [^|]*\|$", line)
        if m:
            rows[m.group(1)] = {"—": "none"}.get(m.group(2), m.group(2))
    assert set(rows) == {m.name for m in C.CATALOGUE if m.source == "counts"}
    for name, direction in rows.items():
        assert C.get(name).direction == direction, name


def test_per_sample_terms_average_to_the_metric():
    rng = np.random.default_rng(1)
    p, y = rng.random(50), (rng.random(50) < 0.5).astype(float)
    s = M.score(p, y)
    for name, term in C.paired_terms().items():
        assert float(np.mean(term(p, y, M.DEFAULT_EPS))) == pytest.approx(s[name], abs=1e-12), name


@pytest.mark.parametrize(
    "m, kwargs, expected",
    [
        (None, {}, "n/a"),
        ({}, {}, "n/a"),
        ({"value": None}, {}, "n/a"),
        ({"value": math.nan, "ci_low": math.nan, "ci_high": math.nan}, {}, "n/a"),
        ({"value": math.nan, "ci_low": math.nan, "ci_high": math.nan}, {"nan": "NaN"}, "NaN"),
        ({"value": 0.5}, {}, "0.500"),
        ({"value": 0.5, "ci_low": None, "ci_high": 0.6}, {}, "0.500"),
        ({"value": 0.5, "ci_low": math.nan, "ci_high": math.nan}, {}, "0.500"),
        ({"value": 0.5, "ci_low": 0.4, "ci_high": 0.6}, {}, "0.500 [0.400, 0.600]"),
        ({"value": 0.5, "ci_low": 0.4, "ci_high": 0.6}, {"digits": 2}, "0.50 [0.40, 0.60]"),
        ({"value": -1.25, "ci_low": -1.5, "ci_high": -1.0}, {}, "-1.250 [-1.500, -1.000]"),
        ({"value": 0.05, "ci_low": -0.01, "ci_high": 0.1}, {"sign": True}, "+0.050 [-0.010, +0.100]"),
        # the trainer's before/after report always writes the interval
        ({"value": 0.5}, {"always_ci": True}, "0.500 [n/a, n/a]"),
        ({"value": math.nan, "ci_low": math.nan, "ci_high": math.nan}, {"always_ci": True}, "n/a [n/a, n/a]"),
        (None, {"always_ci": True}, "n/a"),
        # the leaderboard: integers as they are, no interval that is the point itself
        ({"value": 200, "ci_low": 200, "ci_high": 200}, {"ints": True, "hide_point_ci": True}, "200"),
        ({"value": 1.0, "ci_low": 1.0, "ci_high": 1.0}, {"hide_point_ci": True}, "1.000"),
        ({"value": 1.0, "ci_low": 1.0, "ci_high": 1.0}, {}, "1.000 [1.000, 1.000]"),
    ],
)
def test_format_value(m, kwargs, expected):
    kwargs = dict(kwargs)
    digits = kwargs.pop("digits", 3)
    assert M.format_value(m, digits, **kwargs) == expected


def test_format_value_matches_the_functions_it_replaced():
    """The former formatters of summary.py and the baseline table's, kept here as the reference."""

    def summary_fmt(m):
        if not m or m.get("value") is None:
            return "n/a"
        v = m["value"]
        if v != v:  # noqa: PLR0124
            return "NaN"
        lo, hi = m.get("ci_low"), m.get("ci_high")
        if lo is None or hi is None or lo != lo:  # noqa: PLR0124
            return f"{v:.3f}"
        return f"{v:.3f} [{lo:.3f}, {hi:.3f}]"

    def baselines_fmt(m, digits=3):
        if not m or m.get("value") is None or m["value"] != m["value"]:
            return "n/a"
        lo, hi = m.get("ci_low"), m.get("ci_high")
        if lo is None or hi is None or lo != lo:  # noqa: PLR0124
            return f"{m['value']:.{digits}f}"
        return f"{m['value']:.{digits}f} [{lo:.{digits}f}, {hi:.{digits}f}]"

    def trainer_f(x):
        if x is None or (isinstance(x, float) and math.isnan(x)):
            return "n/a"
        return f"{x:.3f}"

    def trainer_ci(m):
        if not m:
            return "n/a"
        return f"{trainer_f(m.get('value'))} [{trainer_f(m.get('ci_low'))}, {trainer_f(m.get('ci_high'))}]"

    cases = [
        None,
        {},
        {"value": None},
        {"value": math.nan},
        {"value": 0.25},
        {"value": 3},
        {"value": 0.25, "ci_low": math.nan, "ci_high": math.nan},
        {"value": 0.25, "ci_low": 0.2},
        {"value": 0.25, "ci_low": 0.2, "ci_high": 0.3},
        {"value": -0.7, "ci_low": -0.9, "ci_high": -0.5},
        {"value": 0.25, "ci_low": 0.25, "ci_high": 0.25},
    ]
    for m in cases:
        assert M.format_value(m, nan="NaN") == summary_fmt(m), m
        assert M.format_value(m) == baselines_fmt(m), m
        assert M.format_value(m, 2) == baselines_fmt(m, 2), m
        assert M.format_value(m, always_ci=True) == trainer_ci(m), m


def test_format_number_and_interval():
    assert M.format_number(None) == "n/a"
    assert M.format_number(math.nan, 4, nan="nan") == "nan"
    assert M.format_number(7, ints=True) == "7"
    assert M.format_number(7) == "7.000"
    assert M.format_number(-0.01234, sign=True) == "-0.012"
    assert M.format_interval(None, 0.3) == ""
    assert M.format_interval(math.nan, 0.3) == ""
    assert M.format_interval(0.2, 0.2, value=0.2) == ""
    assert M.format_interval(0.2, 0.3) == "[0.200, 0.300]"
    assert M.format_interval(math.nan, None, 4, always=True, nan="nan") == "[nan, nan]"


def test_is_parsed_is_the_one_rule():
    assert M.is_parsed({"parse_ok": True, "confidence": 0.3})
    assert not M.is_parsed({"parse_ok": True, "confidence": None})
    assert not M.is_parsed({"parse_ok": False, "confidence": 0.3})
    assert not M.is_parsed({})
    from calbench.show import sample_rows

    rows = sample_rows(
        [
            {"id": "a", "method": "m", "correct": 1, "parse_ok": True, "confidence": None},
            {"id": "b", "method": "m", "correct": 0, "parse_ok": True, "confidence": 0.7},
        ]
    )
    assert [r.parsed for r in rows] == [False, True]
    assert rows[0].verdict == "right, no confidence"
