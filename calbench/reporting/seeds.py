"""A trained readout over several seeds against references: per seed the paired difference with its bootstrap
interval (:func:`calbench.reporting.compare.compare`), over the seeds their mean with a t-interval, and a
verdict by a rule fixed in advance (the confirmation study's pre-registration,
``results/studies/confirmation/PREREGISTRATION.md``):

* **met**: the seed mean's interval excludes 0 in the trained readout's favour, and so does every seed's own
  interval;
* **failed (loses)**: the seed mean's interval excludes 0 against it;
* **not met**: anything else (a tie, or seeds that disagree), with the per-seed verdicts shown.

With one trained arm (one seed) the "mean" is that seed's paired difference and its interval the bootstrap one.

A reference is one arm (``RUN#METHOD``: the untrained statement, the equal-label probe) or the **best of** a set
of baselines, chosen per metric by its point value on the same test answers (the choice favours the baselines).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np
from scipy import stats

from calbench.metrics import higher_is_better
from calbench.reporting.board import metric_title
from calbench.reporting.compare import Arm, Comparison, Delta, compare

METRICS = ("auroc", "brier", "ece", "log_score")


def t_interval(values: Sequence[float], level: float = 0.95) -> tuple[float, float, float]:
    """(mean, low, high): the t-interval of the mean of ``values`` (n - 1 degrees of freedom); the interval is
    nan for fewer than two values."""
    x = np.asarray(values, dtype=float)
    mean = float(x.mean()) if x.size else math.nan
    if x.size < 2:
        return mean, math.nan, math.nan
    half = float(stats.t.ppf(0.5 + level / 2, x.size - 1) * x.std(ddof=1) / math.sqrt(x.size))
    return mean, mean - half, mean + half


def _side(lo: float, hi: float, metric: str) -> int:
    """+1 when the interval [lo, hi] of (trained - reference) excludes 0 in the trained side's favour, -1 when it
    excludes 0 against it, 0 otherwise (or undefined)."""
    if math.isnan(lo) or math.isnan(hi) or lo <= 0 <= hi:
        return 0
    up = lo > 0
    return 1 if up == higher_is_better(metric) else -1


def seed_verdict(per_seed: Sequence[Delta], mean_ci: tuple[float, float, float], metric: str) -> str:
    """The pre-registered verdict of one metric over the seeds (module docstring)."""
    _, lo, hi = mean_ci
    overall = _side(lo, hi, metric)
    sides = [_side(d.ci_low, d.ci_high, metric) for d in per_seed]
    if overall == 1 and sides and all(s == 1 for s in sides):
        return "met"
    if overall == -1:
        return "failed (loses)"
    words = {1: "beats", 0: "ties", -1: "loses"}
    return "not met (" + ", ".join(words[s] for s in sides) + ")"


def best_of(candidates: Sequence[Arm], metric: str) -> Arm:
    """The candidate with the best point value of ``metric`` (ties: the first)."""

    def value(a: Arm) -> float:
        v = (a.metrics().get(metric) or {}).get("value")
        return math.nan if v is None else float(v)

    scored = [(value(a), i, a) for i, a in enumerate(candidates) if not math.isnan(value(a))]
    if not scored:
        raise ValueError(f"no candidate has a value of {metric}")
    sign = -1 if higher_is_better(metric) else 1
    return min(scored, key=lambda t: (sign * t[0], t[1]))[2]


@dataclass
class SeedRow:
    metric: str
    reference: str  # the reference arm's label (for a best-of reference, the baseline chosen for this metric)
    comparisons: list[Comparison]
    mean: float
    low: float
    high: float
    verdict: str


def seed_rows(
    trained: Sequence[Arm],
    reference: Arm | Sequence[Arm],
    metrics: Sequence[str] = METRICS,
    *,
    n_resamples: int = 1000,
    seed: int = 0,
) -> list[SeedRow]:
    """One row per metric: each trained arm (one per seed) against the reference (an arm, or the best of several
    per metric), paired, and the verdict over the seeds."""
    rows = []
    for metric in metrics:
        ref = reference if isinstance(reference, Arm) else best_of(reference, metric)
        comps = [compare(ref, arm, n_resamples=n_resamples, seed=seed) for arm in trained]
        problems = [c.problem for c in comps if c.problem]
        if problems:
            raise ValueError(f"{ref.label} against a trained arm: {problems[0]}")
        deltas = [c.deltas[metric] for c in comps]
        one = deltas[0]
        mean_ci = t_interval([d.delta for d in deltas]) if len(deltas) > 1 else (one.delta, one.ci_low, one.ci_high)
        rows.append(SeedRow(metric, ref.label, comps, *mean_ci, seed_verdict(deltas, mean_ci, metric)))
    return rows


def _num(x: float) -> str:
    return "n/a" if x is None or math.isnan(x) else f"{x:+.3f}"


def seed_table(rows: Sequence[SeedRow], seeds: Sequence[str]) -> str:
    """A markdown table: per metric the reference, each seed's trained value and paired difference [95 % CI], the
    mean difference over the seeds [t 95 % CI] and the verdict."""
    head = ["metric", "reference (value)"] + [f"{s}: trained, Δ [95 % CI]" for s in seeds]
    head += ["mean Δ over seeds [t 95 % CI]", "verdict"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        ref_value = r.comparisons[0].deltas[r.metric].a
        cells = [metric_title(r.metric), f"{r.reference} ({ref_value:.3f})"]
        for c in r.comparisons:
            d = c.deltas[r.metric]
            cells.append(f"{d.b:.3f}, {_num(d.delta)} [{_num(d.ci_low)}, {_num(d.ci_high)}]")
        cells += [f"{_num(r.mean)} [{_num(r.low)}, {_num(r.high)}]", f"**{r.verdict}**"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"
