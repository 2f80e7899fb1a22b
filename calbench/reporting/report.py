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

Rendering (HTML and Markdown) and figures are in :mod:`calbench.reporting.render`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np

from calbench.metrics import (
    DEFAULT_BINS,
    DEFAULT_EPS,
    align_by_id,
    apply_policy,
    higher_is_better,
    is_parsed,
    metric_table,
    paired_bootstrap,
    score,
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
    unique_labels,
)
from calbench.reporting.stats import CORRECTION_NAMES, adjust, paired_questions_needed, questions_needed, se_from_ci
from calbench.runs import MANIFEST_FILE

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
        return str(self.run.manifest.get("parse_policy") or "exclude")

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


def _load(specs: Iterable[str | Path]) -> tuple[list[Arm], list[Skipped]]:
    arms: list[Arm] = []
    skipped: list[Skipped] = []
    for spec in map(str, specs):
        folder, _, method = spec.partition("#")
        path = Path(folder)
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
    ms = ref.run.manifest.get("metric_settings") or {}
    settings = {"bins": int(ms.get("ece_bins", DEFAULT_BINS)), "eps": float(ms.get("log_score_eps", DEFAULT_EPS))}
    res = paired_bootstrap(ca, ya, cb, yb, n_resamples=n_resamples, seed=seed, level=1 - alpha, **settings)
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
    arms, skipped = _load(specs)
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


def demo_outputs(run_dirs: Sequence[str | Path], out_dir: str | Path, *, quiet: bool = False) -> dict[str, Path]:
    """The leaderboard over ``run_dirs`` and a comparison report of them, written to ``out_dir``; prints where
    they are. For ``make demo``. Returns ``{"leaderboard_html", "leaderboard_md", "leaderboard_csv",
    "report_html", "report_md"}``."""
    from calbench.reporting import leaderboard
    from calbench.reporting.render import fresh_sample_pages, write_report

    out = Path(out_dir)
    lb = leaderboard.build(run_dirs)
    lb_paths = leaderboard.write(lb, out)
    report = build_report(run_dirs)
    paths = {f"leaderboard_{k}": v for k, v in lb_paths.items()}
    # one set of per-run sample tables (report_samples/), linked from both the HTML and the Markdown report
    pages = fresh_sample_pages(report, out / "report_samples")
    paths["report_html"] = write_report(report, out / "report.html", pages=pages)
    paths["report_md"] = write_report(report, out / "report.md", pages=pages)
    if not quiet:
        print(f"leaderboard: {lb_paths['html']} (also {lb_paths['md'].name}, {lb_paths['csv'].name})")
        print(f"report:      {paths['report_html']} (also {paths['report_md'].name})")
        for s in lb.skipped:
            print(f"skipped: {s}")
    return paths
