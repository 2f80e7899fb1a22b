"""The one paired comparison of calbench: two arms (one method of one run each) on the questions both scored.

:func:`compare` pairs the samples by id (under the ``exclude`` parse policy over the questions both runs parsed)
and computes the paired percentile-bootstrap difference (b - a) of the headline metrics
(:func:`calbench.metrics.paired_bootstrap`), with the questions needed to detect a difference that is not
significant (:mod:`calbench.reporting.stats`). The comparison report (:mod:`calbench.reporting.report`), the
leaderboard's trained-vs-baselines verdicts (:mod:`calbench.reporting.trained`), the trainer's before/after
report, the trained tables and the baseline table all compare through it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

import numpy as np

from calbench.metrics import (
    align_by_id,
    apply_policy,
    higher_is_better,
    is_parsed,
    metric_table,
    paired_bootstrap,
)
from calbench.metrics.catalogue import paired_terms
from calbench.records import DataError
from calbench.reporting.inputs import (
    RunFolder,
    Skipped,
    check_run_folder,
    discover,
    run_differences,
    system_key,
    system_label,
)
from calbench.reporting.stats import paired_questions_needed, questions_needed, se_from_ci
from calbench.runs import MANIFEST_FILE, parse_ref

#: Metrics compared between runs, in display order (the catalogue's ``paired`` table).
REPORT_METRICS = metric_table("paired")
#: Their per-sample terms, for the questions needed to detect a difference (metrics that are a mean of one).
PER_SAMPLE_TERMS = paired_terms(REPORT_METRICS)
#: Below this many paired questions a difference is reported as "too few", never as significant: the paired
#: bootstrap's p-values are unreliable on a handful of questions (5 pairs were once marked significant).
MIN_PAIRS = 30


@dataclass
class Arm:
    """One method of one run: what a report column shows."""

    run: RunFolder
    method: str
    system: tuple
    label: str

    @classmethod
    def of(cls, run: RunFolder, method: str, label: str | None = None) -> Arm:
        """The arm of ``method`` in ``run``: its system key, and the system's label unless one is given."""
        return cls(
            run,
            method,
            system_key(run.manifest, method),
            system_label(run.manifest, method) if label is None else label,
        )

    @property
    def task(self) -> str:
        return self.run.task

    @property
    def policy(self) -> str:
        return self.run.settings.policy

    def metrics(self) -> dict[str, dict]:
        return self.run.metrics(self.method)

    def samples(self) -> list[dict]:
        return self.run.samples(self.method)


@dataclass
class Delta:
    """One metric's paired difference of a system against the reference on one task."""

    metric: str
    a: float
    b: float
    delta: float
    ci_low: float
    ci_high: float
    p_value: float
    p_adjusted: float = math.nan
    significant: bool = False
    too_few: bool = False  # fewer than MIN_PAIRS paired questions: never called significant
    questions_needed: float | None = None  # for a non-significant difference

    @property
    def better(self) -> bool | None:
        """Whether b is better than a (None when equal or undefined)."""
        if math.isnan(self.delta) or self.delta == 0:
            return None
        return (self.delta > 0) == higher_is_better(self.metric)


@dataclass
class Comparison:
    """A system against the reference on one task."""

    task: str
    reference: Arm
    other: Arm
    n_pairs: int = 0
    deltas: dict[str, Delta] = field(default_factory=dict)
    problem: str | None = None  # why no comparison was made (not comparable, no shared questions, ...)


def load_arms(specs: Iterable[str | Path]) -> tuple[list[Arm], list[Skipped]]:
    arms: list[Arm] = []
    skipped: list[Skipped] = []
    for spec in map(str, specs):
        path, method = parse_ref(spec)
        if (path / MANIFEST_FILE).exists() or not path.is_dir():
            result = check_run_folder(path) if path.exists() else None
            if result is None:
                raise DataError(f"{path}: no such run folder")
            if isinstance(result, Skipped):
                raise DataError(f"cannot report on {path}: {result.reason}")
            runs = [result]
        else:
            runs, skip = discover([path])
            skipped += skip
        for run in runs:
            methods = run.methods
            if method:
                if method not in methods:
                    raise DataError(f"{run.path}: no method {method!r} in this run (it has {', '.join(methods)})")
                methods = [method]
            for m in methods:
                arms.append(Arm.of(run, m))
    if not arms:
        listing = "".join(f"\n  - {s}" for s in skipped)
        raise DataError(f"no complete run to report on{listing}")
    return arms, skipped


def _paired_arrays(a: Arm, b: Arm) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    sa, sb = align_by_id(a.samples(), b.samples())
    if a.policy == "exclude":
        both = [(x, y) for x, y in zip(sa, sb) if is_parsed(x) and is_parsed(y)]
        sa, sb = [x for x, _ in both], [y for _, y in both]
    ca, ya, _ = apply_policy(sa, a.policy)
    cb, yb, _ = apply_policy(sb, b.policy)
    return ca, ya, cb, yb


def compare(
    ref: Arm, other: Arm, *, n_resamples: int = 1000, seed: int = 0, alpha: float = 0.05, power: float = 0.8
) -> Comparison:
    """The paired comparison of ``other`` against ``ref`` on their task (before multiple-comparison correction).

    The one paired comparison of calbench: the comparison report, the leaderboard's trained-vs-baselines
    section, the trainer's before/after report and the baseline table (best method vs two-stage) use it."""
    comp = Comparison(ref.task, ref, other)
    differences = run_differences(ref.run, other.run)
    if differences:
        comp.problem = "not comparable: " + "; ".join(differences)
        return comp
    try:
        ca, ya, cb, yb = _paired_arrays(ref, other)
    except ValueError as e:
        comp.problem = str(e)
        return comp
    comp.n_pairs = int(ca.size)
    if ca.size < 2:
        rates = [(x.metrics().get("parse_rate") or {}).get("value") for x in (ref, other)]
        why = "" if None in rates else f" (parse rates {rates[0]:.0%} and {rates[1]:.0%}, policy {ref.policy})"
        comp.problem = f"only {ca.size} question(s) scored by both runs{why}; nothing to compare"
        return comp
    run_settings = ref.run.settings
    settings = {"bins": run_settings.bins, "eps": run_settings.eps}
    res = paired_bootstrap(
        ca, ya, cb, yb, n_resamples=n_resamples, seed=seed, level=1 - alpha, metrics=REPORT_METRICS, **settings
    )
    per_question = {
        name: term(cb, yb, settings["eps"]) - term(ca, ya, settings["eps"]) for name, term in PER_SAMPLE_TERMS.items()
    }
    for name in REPORT_METRICS:
        r = res[name]
        d = Delta(name, r["a"], r["b"], r["delta"], r["ci_low"], r["ci_high"], r["p_value"])
        if name in per_question:
            d.questions_needed = paired_questions_needed(per_question[name], alpha=alpha, power=power)
        elif not math.isnan(d.ci_low):
            se = se_from_ci(d.ci_low, d.ci_high, level=1 - alpha)
            d.questions_needed = questions_needed(d.delta, se, comp.n_pairs, alpha=alpha, power=power)
        comp.deltas[name] = d
    return comp
