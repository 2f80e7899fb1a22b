"""The comparison report: several runs side by side, with paired differences against the first.

``build_report(specs)`` reads the runs (a run folder, ``FOLDER#METHOD`` for one method of a multi-method run,
or a folder of run folders), groups them into *systems* (model x adapter x method; the first is the
reference) and *tasks*, and computes for every other system on every task:

* the paired percentile-bootstrap difference (system - reference) of the headline metrics over the questions
  both runs answered (:func:`calbench.metrics.paired_bootstrap`); under the ``exclude`` parse policy over the
  questions both runs parsed;
* p-values adjusted for multiple comparisons within each metric's family (all system x task comparisons):
  Holm-Bonferroni by default, Benjamini-Hochberg as an option (:mod:`calbench.reporting.stats`);
* for a difference that is not significant, the questions needed to detect it with 80 % power at the same
  alpha (two-sided, before correction): from the per-question paired differences for accuracy, Brier and
  log score (the metrics with a per-sample term in :mod:`calbench.metrics.catalogue`), from the paired-bootstrap
  standard error for ECE and AUROC (:func:`calbench.reporting.stats.questions_needed`).

The paired comparison itself is :func:`calbench.reporting.compare.compare`; rendering (HTML and Markdown) and
figures are in :mod:`calbench.reporting.render`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Sequence

from calbench.metrics import apply_policy, score
from calbench.reporting.compare import MIN_PAIRS, REPORT_METRICS, Arm, Comparison, compare, load_arms
from calbench.reporting.inputs import Skipped, unique_labels
from calbench.reporting.stats import CORRECTION_NAMES, adjust


@dataclass
class Report:
    systems: list[tuple]
    labels: dict[tuple, str]
    tasks: list[str]
    arms: dict[tuple[str, tuple], Arm]  # (task, system) -> arm
    comparisons: list[Comparison]
    breakdown: list[dict[str, Any]]  # rows: task, domain, and per-system metrics
    skipped: list[Skipped]
    correction: str
    alpha: float
    n_resamples: int
    notes: list[str] = field(default_factory=list)

    def arm(self, task: str, system: tuple) -> Arm | None:
        return self.arms.get((task, system))

    @property
    def reference(self) -> tuple:
        return self.systems[0]


def _domain(sample: dict) -> str | None:
    for key in ("domain", "subject"):
        v = sample.get(key)
        if v not in (None, ""):
            return str(v)
    return None


def breakdown(arms: Sequence[Arm], systems: Sequence[tuple], tasks: Sequence[str]) -> list[dict[str, Any]]:
    """Per task and domain (a sample's ``domain``/``subject`` field; the whole task when samples have none):
    n, accuracy, ECE, Brier of every system (point values under each run's parse policy)."""
    by = {(a.task, a.system): a for a in arms}
    rows = []
    for task in tasks:
        per_system: dict[tuple, dict[str | None, list[dict]]] = {}
        for s in systems:
            arm = by.get((task, s))
            if arm is None:
                continue
            groups: dict[str | None, list[dict]] = {}
            for smp in arm.samples():
                groups.setdefault(_domain(smp), []).append(smp)
            per_system[s] = groups
        domains = sorted({d for g in per_system.values() for d in g}, key=lambda d: (d is None, d or ""))
        if len(domains) > 1 or domains != [None]:
            domains = [None] + [d for d in domains if d is not None]  # the whole task first
        for dom in domains:
            row: dict[str, Any] = {"task": task, "domain": dom or "(all)", "systems": {}}
            for s, groups in per_system.items():
                samples = [x for g in groups.values() for x in g] if dom is None else groups.get(dom, [])
                conf, corr, info = apply_policy(samples, by[(task, s)].policy)
                if conf.size == 0:
                    row["systems"][s] = {"n": info["n_total"], "accuracy": math.nan, "ece": math.nan, "brier": math.nan}
                    continue
                m = score(conf, corr)
                row["systems"][s] = {
                    "n": int(conf.size),
                    "accuracy": m["accuracy"],
                    "ece": m["ece"],
                    "brier": m["brier"],
                }
            rows.append(row)
    return rows


def build_report(
    specs: Iterable[str | Path],
    *,
    correction: str = "holm",
    alpha: float = 0.05,
    power: float = 0.8,
    n_resamples: int = 1000,
    seed: int = 0,
) -> Report:
    """Read the runs named by ``specs`` and compute every comparison against the first system."""
    arms, skipped = load_arms(specs)
    systems: list[tuple] = []
    labels: dict[tuple, str] = {}
    tasks: list[str] = []
    by: dict[tuple[str, tuple], Arm] = {}
    for arm in arms:
        if arm.system not in labels:
            systems.append(arm.system)
            labels[arm.system] = arm.label
        if arm.task not in tasks:
            tasks.append(arm.task)
        key = (arm.task, arm.system)
        if key in by:
            skipped.append(
                Skipped(
                    arm.run.path,
                    f"method {arm.method}: a second run of {arm.label} on "
                    f"{arm.task}; the first given ({by[key].run.path}) is used",
                )
            )
            continue
        by[key] = arm
    labels.update(unique_labels({s: labels[s] for s in systems}))
    ref = systems[0]
    comps: list[Comparison] = []
    notes: list[str] = []
    for task in tasks:
        a = by.get((task, ref))
        for s in systems[1:]:
            b = by.get((task, s))
            if b is None:
                continue
            if a is None:
                comps.append(Comparison(task, b, b, problem=f"the reference ({labels[ref]}) has no run on {task}"))
                continue
            comps.append(compare(a, b, n_resamples=n_resamples, seed=seed, alpha=alpha, power=power))
    for name in REPORT_METRICS:
        family = [(c, c.deltas[name]) for c in comps if name in c.deltas]
        adjusted = adjust([d.p_value for _, d in family], correction)
        for (c, d), p in zip(family, adjusted):
            d.p_adjusted = float(p)
            d.too_few = c.n_pairs < MIN_PAIRS
            d.significant = bool(p <= alpha) and not d.too_few
            if d.significant:
                d.questions_needed = None
    if len({c.task for c in comps if c.deltas}) > 1 or len(systems) > 2:
        notes.append(
            f"p-values are adjusted for {sum(1 for c in comps if c.deltas)} comparisons per metric "
            f"({CORRECTION_NAMES.get(correction, correction)})."
        )
    for c in comps:
        if c.deltas and c.n_pairs < MIN_PAIRS:
            notes.append(
                f"{labels[c.other.system]} on {c.task}: only {c.n_pairs} paired questions (fewer than "
                f"{MIN_PAIRS}); bootstrap intervals and p-values are unreliable at this size, so no "
                'difference is called significant ("too few")'
            )
        if c.problem:
            notes.append(f"{labels[c.other.system]} on {c.task}: no paired comparison — {c.problem}")
    if skipped:
        notes.append(f"{len(skipped)} folder(s) or run(s) skipped; see the list at the end.")
    return Report(
        systems,
        labels,
        tasks,
        by,
        comps,
        breakdown(list(by.values()), systems, tasks),
        skipped,
        correction,
        alpha,
        n_resamples,
        notes,
    )
