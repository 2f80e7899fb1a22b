"""Trained models against the baselines: the leaderboard section that says at a glance which trained system
beats which baseline.

In every leaderboard column (one comparable set: same questions, judge, parse policy and, for runs on given
answers, the same answers file), each *trained* system (a model evaluated with a LoRA adapter) is paired with
each *baseline* (a system without an adapter) on the questions both scored, with
:func:`calbench.reporting.compare.compare` (the comparison report's paired bootstrap). A metric's verdict is
**beats** when the 95 % interval of the difference lies wholly on the better side of 0, **loses** when it lies
wholly on the worse side, and **ties** otherwise (also when fewer than ``MIN_PAIRS`` questions pair up).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from calbench.metrics import format_value
from calbench.metrics.catalogue import titles
from calbench.reporting.board import Column, Entry, Leaderboard
from calbench.reporting.compare import MIN_PAIRS, Arm, Comparison, compare

#: The metrics a verdict is given on, in the order shown.
VERDICT_METRICS = ("brier", "auroc", "ece", "log_score")
TITLES = titles(VERDICT_METRICS)


def is_trained(manifest: dict[str, Any]) -> bool:
    """Whether a run's model was evaluated with a trained adapter."""
    return bool((manifest.get("model") or {}).get("adapter"))


def verdict(comp: Comparison, metric: str) -> str:
    """``beats``, ``loses`` or ``ties``: the trained system (``comp.other``) against the baseline
    (``comp.reference``) on ``metric``."""
    d = comp.deltas.get(metric)
    if comp.problem or d is None or comp.n_pairs < MIN_PAIRS or d.ci_low != d.ci_low:
        return "ties"
    if d.ci_low > 0 or d.ci_high < 0:
        return "beats" if d.better else "loses"
    return "ties"


@dataclass
class TrainedVsBaselines:
    """One trained system in one column against every baseline of that column."""

    column: Column
    trained: Entry
    label: str
    comparisons: list[tuple[str, Comparison]] = field(default_factory=list)  # (baseline label, comparison)

    def tally(self, metric: str) -> dict[str, int]:
        out = {"beats": 0, "ties": 0, "loses": 0}
        for _, comp in self.comparisons:
            out[verdict(comp, metric)] += 1
        return out


def trained_vs_baselines(
    lb: Leaderboard, *, n_resamples: int = 1000, seed: int = 0, alpha: float = 0.05
) -> list[TrainedVsBaselines]:
    """Every trained system against every baseline of its column (columns with both kinds only)."""
    labels = {r.system: r.label for r in lb.rows}
    out: list[TrainedVsBaselines] = []
    for col in lb.columns:
        trained = [(sk, e) for sk, e in col.entries.items() if is_trained(e.run.manifest)]
        baselines = [(sk, e) for sk, e in col.entries.items() if not is_trained(e.run.manifest)]
        if not trained or not baselines:
            continue
        baselines.sort(key=lambda x: (x[1].rank is None, x[1].rank or 0, labels[x[0]]))
        for sk, e in sorted(trained, key=lambda x: labels[x[0]]):
            item = TrainedVsBaselines(col, e, labels[sk])
            for bk, b in baselines:
                comp = compare(
                    Arm.of(b.run, b.method, labels[bk]),
                    Arm.of(e.run, e.method, labels[sk]),
                    n_resamples=n_resamples,
                    seed=seed,
                    alpha=alpha,
                    power=0.8,
                )
                item.comparisons.append((labels[bk], comp))
            out.append(item)
    return out


def _delta_text(comp: Comparison, metric: str) -> str:
    d = comp.deltas.get(metric)
    if comp.problem or d is None:
        return "n/a"
    mark = {"beats": " **beats**", "loses": " *loses*", "ties": ""}[verdict(comp, metric)]
    return format_value({"value": d.delta, "ci_low": d.ci_low, "ci_high": d.ci_high}, sign=True) + mark


def html_items(items: list[TrainedVsBaselines]) -> list[dict[str, Any]]:
    """The section's data for the HTML leaderboard (``leaderboard.html.j2``): per trained system and column,
    the tallies and one row per baseline with each metric's Δ text and verdict (the CSS class of its cell)."""
    out = []
    for item in items:
        rows = []
        for label, comp in item.comparisons:
            cells = []
            for m in VERDICT_METRICS:
                d = comp.deltas.get(m)
                if comp.problem or d is None:
                    cells.append({"text": "n/a", "ci": "", "verdict": "", "title": comp.problem or ""})
                    continue
                v = verdict(comp, m)
                cells.append(
                    {
                        "text": format_value({"value": d.delta}, sign=True),
                        "ci": "["
                        + ", ".join(format_value({"value": x}, sign=True) for x in (d.ci_low, d.ci_high))
                        + "]",
                        "verdict": v,
                        "title": f"{TITLES[m]}: {v} (Δ = trained − baseline, 95 % paired-bootstrap CI)",
                    }
                )
            rows.append({"baseline": label, "pairs": comp.n_pairs, "cells": cells})
        out.append(
            {
                "label": item.label,
                "column": item.column.label,
                "rows": rows,
                "tallies": [(TITLES[m], item.tally(m)) for m in VERDICT_METRICS],
            }
        )
    return out


def render_markdown(items: list[TrainedVsBaselines]) -> list[str]:
    """The section's markdown lines (empty when no column holds both a trained system and a baseline)."""
    if not items:
        return []
    out = [
        "## Trained models against the baselines",
        "",
        "Each trained system (evaluated with a LoRA adapter) paired with every baseline (no adapter) of the same "
        "task column, on the questions both scored: Δ = trained − baseline [95 % paired-bootstrap CI]. "
        "**beats**: the interval lies wholly on the better side of 0 (Brier, ECE: below; AUROC, log score: "
        f"above); *loses*: wholly on the worse side; otherwise a tie (also below {MIN_PAIRS} paired questions).",
    ]
    for item in items:
        tallies = "; ".join(
            f"{TITLES[m]} beats {t['beats']}, ties {t['ties']}, loses {t['loses']}"
            for m in VERDICT_METRICS
            for t in [item.tally(m)]
        )
        out += [
            "",
            f"### {item.label} · {item.column.label}",
            "",
            f"Against {len(item.comparisons)} baseline(s): {tallies}.",
            "",
            "| baseline | pairs | " + " | ".join(f"Δ {TITLES[m]}" for m in VERDICT_METRICS) + " |",
            "|---" * (len(VERDICT_METRICS) + 2) + "|",
        ]
        for label, comp in item.comparisons:
            if comp.problem:
                out.append(f"| {label} | 0 | " + " | ".join("n/a" for _ in VERDICT_METRICS) + " |")
                continue
            cells = " | ".join(_delta_text(comp, m) for m in VERDICT_METRICS)
            out.append(f"| {label} | {comp.n_pairs} | {cells} |")
    return out + [""]
