"""Unseen domains as the Rewarding Doubt paper reports them: per unseen task, the untrained statement against the
statement of a model trained on another domain (accuracy, ECE, AUROC, Brier, log score, each with its interval),
and whether calibration and discrimination transfer, judged separately:

* **calibration transfers** when the trained statement's ECE beats the untrained statement's *and* the best
  post-hoc baseline fitted in-domain and carried over unchanged (as the trained model is); Brier alongside;
* **discrimination transfers** when its AUROC interval lies above 0.5 and it beats the untrained statement's
  (the pre-registration's two criteria); the carried-over baselines' AUROC is shown for reference.

Each comparison is paired on the same fixed answers and judged by the seeds rule of
:mod:`calbench.reporting.seeds` (one seed: the paired bootstrap interval; several: the t-interval of the mean
difference, every seed agreeing). The answers are the untrained model's, so accuracy is one number per task.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Sequence

from calbench.reporting.board import metric_title
from calbench.reporting.compare import Arm
from calbench.reporting.seeds import SeedRow, _num, seed_rows, t_interval

PAPER_METRICS = ("ece", "auroc", "brier", "log_score")


@dataclass
class TransferTask:
    name: str
    untrained: Arm
    trained: list[Arm]  # one per seed
    carried_over: list[Arm] = field(default_factory=list)  # post-hoc baselines fitted in-domain, applied unchanged


def _value(metrics: dict, key: str) -> str:
    m = metrics.get(key) or {}
    v, lo, hi = m.get("value"), m.get("ci_low"), m.get("ci_high")
    if v is None:
        return "n/a"
    return f"{v:.3f} [{lo:.3f}, {hi:.3f}]" if lo is not None and hi is not None else f"{v:.3f}"


def _trained_mean(row: SeedRow) -> float:
    return sum(c.deltas[row.metric].b for c in row.comparisons) / len(row.comparisons)


def _delta(row: SeedRow) -> str:  # as the seed tables write it ("n/a" where a metric is undefined)
    return f"Δ {_num(row.mean)} [{_num(row.low)}, {_num(row.high)}]"


def transfer_rows(
    task: TransferTask, metrics: Sequence[str] = PAPER_METRICS, *, n_resamples: int = 1000
) -> tuple[list[SeedRow], list[SeedRow]]:
    """Per metric, the trained statement against the untrained one, and against the best carried-over baseline
    (empty without any)."""
    vs_untrained = seed_rows(task.trained, task.untrained, metrics, n_resamples=n_resamples)
    vs_carried = (
        seed_rows(task.trained, task.carried_over, metrics, n_resamples=n_resamples) if task.carried_over else []
    )
    return vs_untrained, vs_carried


def _above_chance(task: TransferTask) -> tuple[float, float, float]:
    """The trained statement's AUROC with its interval: one seed's bootstrap interval, or the t-interval of the
    seeds' values."""
    if len(task.trained) == 1:
        m = task.trained[0].metrics().get("auroc") or {}
        return (
            float(m.get("value", math.nan)),
            float(m.get("ci_low", math.nan)),
            float(m.get("ci_high", math.nan)),
        )
    return t_interval([float((a.metrics().get("auroc") or {}).get("value", math.nan)) for a in task.trained])


def transfer_tables(tasks: Sequence[TransferTask], *, n_resamples: int = 1000) -> str:
    """Markdown: the paper's form (untrained -> trained per metric, with the paired difference), then the two
    pre-registered questions answered apart: does calibration transfer (ECE, and Brier, against the untrained
    statement and the best carried-over baseline) and does discrimination transfer (AUROC above 0.5 and above
    the untrained statement; against the carried-over baselines for reference)."""
    seeds = {len(t.trained) for t in tasks}
    note = "one seed" if seeds == {1} else f"the mean over {'/'.join(map(str, sorted(seeds)))} seeds"
    paper = [
        "| task | n | accuracy [95 % CI] | "
        + " | ".join(f"{metric_title(m)}: untrained → trained" for m in PAPER_METRICS)
        + " |",
        "|" + "---|" * (3 + len(PAPER_METRICS)),
    ]
    calibration = [
        "| task | ECE vs the untrained statement | ECE vs the best carried-over baseline | Brier vs the untrained "
        "statement | Brier vs the best carried-over baseline | calibration transfers |",
        "|" + "---|" * 6,
    ]
    discrimination = [
        "| task | trained AUROC [95 % CI] | above chance | AUROC vs the untrained statement | AUROC vs the best "
        "carried-over baseline (for reference) | discrimination transfers |",
        "|" + "---|" * 6,
    ]
    for t in tasks:
        vs_u, vs_c = transfer_rows(t, n_resamples=n_resamples)
        by_u = {r.metric: r for r in vs_u}
        by_c: dict[str, SeedRow] = {r.metric: r for r in vs_c}
        cells = [t.name, str(t.untrained.run.manifest.get("n", "")), _value(t.untrained.metrics(), "accuracy")]
        for m in PAPER_METRICS:
            r = by_u[m]
            cells.append(f"{r.comparisons[0].deltas[m].a:.3f} → {_trained_mean(r):.3f} ({_delta(r)})")
        paper.append("| " + " | ".join(cells) + " |")

        ece_u, ece_c = by_u["ece"], by_c.get("ece")
        if ece_u.verdict == "met" and ece_c is not None and ece_c.verdict == "met":
            cal = "**yes**"
        elif ece_u.verdict == "met":
            cal = "no: beats the untrained statement only" if ece_c is not None else "no carried-over baseline"
        else:
            cal = "no"
        calibration.append(
            "| "
            + " | ".join(
                [
                    t.name,
                    _verdict(ece_u),
                    _verdict(ece_c, True),
                    _verdict(by_u["brier"]),
                    _verdict(by_c.get("brier"), True),
                    cal,
                ]
            )
            + " |"
        )
        auc, lo, hi = _above_chance(t)
        chance = "yes" if lo > 0.5 else "no"
        auc_u = by_u["auroc"]
        disc = "**yes**" if chance == "yes" and auc_u.verdict == "met" else "no"
        discrimination.append(
            "| "
            + " | ".join(
                [
                    t.name,
                    f"{auc:.3f} [{lo:.3f}, {hi:.3f}]",
                    chance,
                    _verdict(auc_u),
                    _verdict(by_c.get("auroc"), True),
                    disc,
                ]
            )
            + " |"
        )
    return (
        f"Trained statements: {note}. The answers are the untrained model's (fixed), so accuracy is one number per "
        "task; each difference is paired on them (Δ = trained - untrained [95 % CI]).\n\n"
        "## The paper's form\n\n" + "\n".join(paper) + "\n\n## Does calibration transfer?\n\n"
        "Yes when the trained statement's ECE beats both the untrained statement and the best post-hoc baseline "
        "fitted in-domain and carried over unchanged (per metric, the best point value among them); Brier "
        "alongside. Verdicts by the seeds rule (met / not met / failed).\n\n"
        + "\n".join(calibration)
        + "\n\n## Does discrimination transfer?\n\n"
        "Yes when the trained statement's AUROC interval lies above 0.5 and it beats the untrained statement's "
        "AUROC (met).\n\n" + "\n".join(discrimination) + "\n"
    )


def _verdict(row: SeedRow | None, with_ref: bool = False) -> str:
    if row is None:
        return "no baseline"
    ref = f" against {row.reference} ({row.comparisons[0].deltas[row.metric].a:.3f})" if with_ref else ""
    return f"**{row.verdict}**, {_delta(row)}{ref}"
