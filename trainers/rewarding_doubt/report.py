"""Before/after comparison of a trained adapter: every task and method, with paired bootstrap differences.

    python -m trainers.rewarding_doubt.report --before DIR --after DIR --out report.json [--md report.md]

``DIR/<task>/`` are ``calbench eval`` output folders (samples.jsonl + run.json) of the untrained and the trained
model on the same questions (complete runs: ``calbench.reporting.inputs.check_run_folder``). For each task and
method the report gives each run's metrics with their 95 % bootstrap intervals (from run.json) and the paired
difference after - before (:func:`calbench.reporting.compare.compare`, the comparison report's paired bootstrap:
over the questions both runs scored under their parse policy, aligned by id), plus the histogram of confidences
over the 11 levels.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

from calbench.errors import DataError
from calbench.metrics import format_number, format_value, metric_table
from calbench.runs import has_manifest

#: The metrics of the report (the catalogue's ``summary`` table); those with a paired difference are the
#: comparison report's (``calbench.reporting.report.REPORT_METRICS``, the catalogue's ``paired`` table).
METRICS = metric_table("summary")


def _histogram(samples: list[dict]) -> list[int]:
    from trainers.rewarding_doubt.evaluation import confidence_histogram

    return confidence_histogram([s.get("confidence") for s in samples])


def compare_task(before: Path, after: Path, *, n_resamples: int = 1000, seed: int = 0) -> dict[str, Any]:
    """Every method of both runs: their metrics and the paired difference after - before
    (:func:`calbench.reporting.compare.compare`; ``paired_problem`` says why there is none).

    Raises :class:`calbench.errors.DataError` when either folder is not a complete run."""
    from calbench.reporting.compare import Arm, compare
    from calbench.reporting.inputs import Skipped, check_run_folder

    run_b, run_a = (check_run_folder(d) for d in (before, after))
    for run in (run_b, run_a):
        if isinstance(run, Skipped):
            raise DataError(f"cannot compare {run}")
    assert not isinstance(run_b, Skipped) and not isinstance(run_a, Skipped)  # checked above
    man_b, man_a = run_b.manifest, run_a.manifest
    out: dict[str, Any] = {
        "task": man_b["task"]["name"],
        "split": man_b["task"]["split"],
        "n": man_b["n"],
        "methods": {},
    }
    for method in [m for m in run_b.methods if m in run_a.methods]:
        sb, sa = run_b.samples(method), run_a.samples(method)
        entry: dict[str, Any] = {
            "before": {k: man_b.metrics_for(method).get(k) for k in METRICS},
            "after": {k: man_a.metrics_for(method).get(k) for k in METRICS},
            "histogram_before": _histogram(sb),
            "histogram_after": _histogram(sa),
            "mean_confidence_before": _mean_conf(sb),
            "mean_confidence_after": _mean_conf(sa),
        }
        comp = compare(Arm.of(run_b, method), Arm.of(run_a, method), n_resamples=n_resamples, seed=seed)
        if comp.problem:
            entry["paired_problem"] = comp.problem
        else:
            entry["paired"] = {
                "n": comp.n_pairs,
                **{
                    k: {
                        "a": d.a,
                        "b": d.b,
                        "delta": d.delta,
                        "ci_low": d.ci_low,
                        "ci_high": d.ci_high,
                        "p_value": d.p_value,
                    }
                    for k, d in comp.deltas.items()
                },
            }
        out["methods"][method] = entry
    return out


def _mean_conf(samples: list[dict]) -> float | None:
    from calbench.metrics import is_parsed

    vals = [float(s["confidence"]) for s in samples if is_parsed(s)]
    return float(np.mean(vals)) if vals else None


def _f(x: Any) -> str:
    return format_number(x)


def _ci(m: dict | None) -> str:
    return format_value(m, always_ci=True)


def markdown(results: list[dict]) -> str:
    lines = [
        "| task | method | metric | before [95% CI] | after [95% CI] | paired delta [95% CI] | p |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in results:
        for method, e in r["methods"].items():
            for k in METRICS:
                d = (e.get("paired") or {}).get(k)
                delta = (
                    format_value({"value": d["delta"], "ci_low": d["ci_low"], "ci_high": d["ci_high"]}, always_ci=True)
                    if d
                    else ""
                )
                p = _f(d["p_value"]) if d else ""
                lines.append(
                    f"| {r['task']} | {method} | {k} | {_ci(e['before'].get(k))} | "
                    f"{_ci(e['after'].get(k))} | {delta} | {p} |"
                )
    lines += ["", "Confidence histograms (levels 0..10; counts of questions):", ""]
    for r in results:
        for method, e in r["methods"].items():
            lines.append(
                f"- {r['task']} / {method}: before {e['histogram_before']} (mean "
                f"{_f(e['mean_confidence_before'])}), after {e['histogram_after']} (mean "
                f"{_f(e['mean_confidence_after'])})"
            )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--before", type=Path, required=True)
    p.add_argument("--after", type=Path, required=True)
    p.add_argument("--out", type=Path, required=True, help="report JSON")
    p.add_argument("--md", type=Path, help="also write a markdown table")
    p.add_argument("--resamples", type=int, default=1000)
    args = p.parse_args(argv)
    results = []
    for task_dir in sorted(d for d in args.before.iterdir() if has_manifest(d)):
        other = args.after / task_dir.name
        if has_manifest(other):
            try:
                results.append(compare_task(task_dir, other, n_resamples=args.resamples))
            except DataError as e:  # an incomplete run: left out, and said so
                print(f"skipped {task_dir.name}: {e}", file=sys.stderr)
    args.out.write_text(json.dumps(results, indent=2))
    md = markdown(results)
    if args.md:
        args.md.write_text(md)
    print(md)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
