"""The metric catalogue: every fact about a metric except its formula, in one place.

Each :class:`Metric` says its name (the key in ``run.json``), how tables title it, which direction is better,
which tables show it, how many digits they print, a one-line description, and, for a metric whose paired
difference is a mean of per-sample terms, that term. Everything else is derived from :data:`CATALOGUE`:
``BASE_METRICS`` and ``HIGHER_IS_BETTER`` (:mod:`calbench.metrics.scores`), and the columns of every table
(:func:`table`): the eval summary, the leaderboard, the comparison report, the lm-eval pack, the trainer's
logs and before/after report, and the baseline table. :func:`format_value` is the one way a value with its
interval is written.

Adding a metric: its formula over the shared counts (``calibration.py`` / ``ranking.py``) and its line in
``scores.metrics_from_counts``, an entry here, ``docs/metrics.md`` and a test.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from calbench.metrics.terms import brier_terms, log_score_terms

#: The tables a metric can appear in (:attr:`Metric.tables`):
#:
#: * ``summary``: the summary ``calbench eval`` / ``calibrate`` / ``demo`` print, the baseline
#:   table and the trainer's before/after report (``trainers/rewarding_doubt/report.py``);
#: * ``paired``: paired differences between runs (``calbench report``, the trainer's before/after report) and
#:   the trainer's held-out evaluation log;
#: * ``leaderboard``: the leaderboard's columns and the comparison report's per-run table;
#: * ``lmeval``: the lm-eval task pack (each needs an aggregation function of that name in
#:   ``calbench/lmeval/hooks.py``, and the YAMLs regenerated: ``python -m calbench.lmeval.pack --write``).
TABLES = ("summary", "paired", "leaderboard", "lmeval")

#: Directions (:attr:`Metric.direction`).
DIRECTIONS = ("higher", "lower", "none")

#: A per-sample term: ``term(confidence, correct, eps)`` -> one value per sample whose mean is the metric.
Term = Callable[[np.ndarray, np.ndarray, float], np.ndarray]


@dataclass(frozen=True)
class Metric:
    """One metric of run.json's ``metrics``."""

    name: str  # the key in run.json (a family: ``sel_acc@k``, one key per k)
    title: str  # its column title in the report and in prose ("accuracy", "ECE")
    direction: str  # "higher", "lower" or "none" (is better)
    description: str  # one line
    tables: frozenset[str] = frozenset()  # the tables that show it (:data:`TABLES`)
    digits: int = 3  # decimals tables print
    short: str | None = None  # the leaderboard's (narrower) column title, when not ``title``
    source: str = "counts"  # "counts": scores.metrics_from_counts; "policy": policy.summarize_samples
    family: bool = False  # one key per setting (``sel_acc@k`` for each k of ``sel_ks``)
    term: Term | None = None  # per-sample term, when the metric is its mean (paired differences)

    @property
    def higher_is_better(self) -> bool:
        return self.direction == "higher"

    @property
    def column_title(self) -> str:
        return self.short or self.title


def _accuracy_terms(confidence: np.ndarray, correct: np.ndarray, eps: float) -> np.ndarray:
    return correct


def _brier_terms(confidence: np.ndarray, correct: np.ndarray, eps: float) -> np.ndarray:
    return brier_terms(confidence, correct)


def _log_score_terms(confidence: np.ndarray, correct: np.ndarray, eps: float) -> np.ndarray:
    return log_score_terms(confidence, correct, eps)


_HEADLINE = frozenset({"summary", "paired", "leaderboard", "lmeval"})

#: Every metric, in catalogue order. Tables list their metrics in this order (the leaderboard and report put
#: the coverage metrics, ``parse_rate`` and ``n``, after the scores: :func:`table`).
CATALOGUE: tuple[Metric, ...] = (
    Metric(
        "accuracy",
        "accuracy",
        "higher",
        "fraction of scored answers judged correct",
        _HEADLINE,
        short="acc",
        term=_accuracy_terms,
    ),
    Metric(
        "parse_rate",
        "parse rate",
        "higher",
        "fraction of replies whose confidence parsed (over all samples)",
        frozenset({"summary", "leaderboard", "lmeval"}),
        source="policy",
    ),
    Metric("ece", "ECE", "lower", "expected calibration error, equal-width bins", _HEADLINE),
    Metric("ece_em", "ECE (equal mass)", "lower", "expected calibration error, equal-mass bins"),
    Metric("mce", "MCE", "lower", "maximum calibration error over equal-width bins"),
    Metric("rms_ce", "RMS CE", "lower", "root-mean-square calibration error over equal-width bins"),
    Metric("smece", "smECE", "lower", "smooth ECE (Blasiok & Nakkiran 2023)"),
    Metric("brier", "Brier", "lower", "mean squared error of the confidence, (p - y)^2", _HEADLINE, term=_brier_terms),
    Metric(
        "brier_reliability",
        "Brier reliability",
        "lower",
        "reliability term of the Brier decomposition (grouped by distinct confidence)",
    ),
    Metric(
        "brier_resolution",
        "Brier resolution",
        "higher",
        "resolution term of the Brier decomposition (grouped by distinct confidence)",
    ),
    Metric(
        "brier_uncertainty",
        "Brier uncertainty",
        "none",
        "uncertainty term of the Brier decomposition, accuracy (1 - accuracy)",
    ),
    Metric(
        "log_score",
        "log score",
        "higher",
        "mean log-likelihood of the outcome, p clipped to [eps, 1 - eps]",
        _HEADLINE,
        term=_log_score_terms,
    ),
    Metric("auroc", "AUROC", "higher", "area under the ROC curve of confidence separating right from wrong", _HEADLINE),
    Metric("auprc", "AUPRC", "higher", "average precision of confidence for retrieving right answers"),
    Metric("aurc", "AURC", "lower", "area under the risk-coverage curve"),
    Metric("sel_acc@k", "selective accuracy @k %", "higher", "accuracy of the k % most confident answers", family=True),
    Metric(
        "n",
        "n scored",
        "none",
        "number of samples scored under the parse policy",
        frozenset({"leaderboard"}),
        digits=0,
        short="n",
    ),
)

BY_NAME: dict[str, Metric] = {m.name: m for m in CATALOGUE}
#: Metrics about coverage rather than calibration; the leaderboard and report list them after the scores.
_COVERAGE = ("parse_rate", "n")


def get(name: str) -> Metric:
    """The catalogue entry of a metric key (``sel_acc@20`` -> the ``sel_acc@k`` entry); KeyError if unknown."""
    if name in BY_NAME:
        return BY_NAME[name]
    stem, at, _ = name.partition("@")
    if at and f"{stem}@k" in BY_NAME:
        return BY_NAME[f"{stem}@k"]
    raise KeyError(f"unknown metric {name!r}; known: {', '.join(BY_NAME)}")


def higher_is_better(name: str) -> bool:
    """Whether higher values of metric ``name`` are better (False for lower-is-better, no direction, unknown)."""
    try:
        return get(name).higher_is_better
    except KeyError:
        return False


def table(which: str) -> tuple[str, ...]:
    """The metric names a table shows, in order (``which``: one of :data:`TABLES`)."""
    if which not in TABLES:
        raise ValueError(f"unknown table {which!r}; use one of {', '.join(TABLES)}")
    names = tuple(m.name for m in CATALOGUE if which in m.tables)
    if which == "leaderboard":  # scores first, then coverage
        names = tuple(n for n in names if n not in _COVERAGE) + tuple(n for n in names if n in _COVERAGE)
    return names


def titles(names: tuple[str, ...] | None = None, *, short: bool = False) -> dict[str, str]:
    """``{name: title}`` (``short``: the leaderboard's column titles) of ``names`` (default: every metric)."""
    return {n: (get(n).column_title if short else get(n).title) for n in (names or tuple(BY_NAME))}


def paired_terms(names: tuple[str, ...] | None = None) -> dict[str, Term]:
    """``{name: per-sample term}`` of the metrics (default: every metric) that are a mean of per-sample terms."""
    return {n: term for n in (names or tuple(BY_NAME)) if (term := get(n).term) is not None}


# -- formatting -------------------------------------------------------------------------------------------------
def _is_nan(x: object) -> bool:
    return x != x  # noqa: PLR0124 (NaN, whatever the numeric type)


def format_number(x: float | None, digits: int = 3, *, nan: str = "n/a", sign: bool = False, ints: bool = False) -> str:
    """One number: ``nan`` when None or NaN; ``ints``: an int as it is; else ``digits`` decimals (``sign``: +/-)."""
    if x is None or _is_nan(x):
        return nan
    if ints and isinstance(x, int):
        return str(x)
    return f"{x:+.{digits}f}" if sign else f"{x:.{digits}f}"


def format_interval(
    lo: float | None,
    hi: float | None,
    digits: int = 3,
    *,
    value: float | None = None,
    always: bool = False,
    nan: str = "n/a",
    sign: bool = False,
    ints: bool = False,
) -> str:
    """``[lo, hi]``; empty when either end is None or ``lo`` is NaN, or when the interval is the point
    ``value`` itself (``lo == hi == value``). ``always``: written whatever the ends are (None/NaN as ``nan``,
    ``ints``: an int as it is)."""
    if always:

        def num(x: float | None) -> str:
            return format_number(x, digits, nan=nan, sign=sign, ints=ints)

        return f"[{num(lo)}, {num(hi)}]"
    if lo is None or hi is None or _is_nan(lo) or (value is not None and lo == hi == value):
        return ""
    return f"[{lo:+.{digits}f}, {hi:+.{digits}f}]" if sign else f"[{lo:.{digits}f}, {hi:.{digits}f}]"


def format_value(
    m: dict[str, Any] | None,
    digits: int = 3,
    *,
    missing: str = "n/a",
    nan: str = "n/a",
    sign: bool = False,
    always_ci: bool = False,
    ints: bool = False,
    hide_point_ci: bool = False,
) -> str:
    """A metric entry ``{"value", "ci_low", "ci_high"}`` as ``value [ci_low, ci_high]``.

    ``missing`` when ``m`` is None/empty; with ``always_ci`` the interval is always written (``nan`` for a None
    or NaN part: ``0.500 [n/a, n/a]``); otherwise ``missing`` when the value is None, ``nan`` when it is NaN, and
    the value alone when the interval is missing (a None end, or ``ci_low`` NaN) or, with ``hide_point_ci``, is
    the point itself. ``sign``: +/- on every number (differences); ``ints``: an int value as it is.

    The tables differ only in these parameters: the eval summary writes NaN as ``NaN``
    (``format_value(m, nan="NaN")``); the trainer's before/after report always writes the interval
    (``always_ci=True``); the leaderboard writes integers as they are and hides an interval that is the point
    (``ints=True, hide_point_ci=True``); ``calbench score`` uses 4 digits and ``nan`` (``format_number``,
    ``format_interval(always=True)``); paired differences in the report and the baseline table carry a sign.
    """
    if not m:
        return missing
    v = m.get("value")
    lo, hi = m.get("ci_low"), m.get("ci_high")
    if always_ci:
        return (
            f"{format_number(v, digits, nan=nan, sign=sign, ints=ints)} "
            f"{format_interval(lo, hi, digits, always=True, nan=nan, sign=sign)}"
        )
    if v is None:
        return missing
    text = format_number(v, digits, nan=nan, sign=sign, ints=ints)
    if _is_nan(v):
        return text
    ci = format_interval(lo, hi, digits, value=v if hide_point_ci else None, sign=sign)
    return f"{text} {ci}" if ci else text
