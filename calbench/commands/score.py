"""``calbench score``: recompute the metrics (with bootstrap CIs) of any samples file."""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from pathlib import Path

from calbench.argcheck import add_scoring_args, scoring_settings


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "score",
        help="recompute the calibration metrics of a samples.jsonl file, with 95%% CIs",
        description="Recompute every calibration metric of a samples file with percentile-bootstrap CIs. "
        "A file holding several (task, method, model) groups is scored per group. A line that repeats an "
        "(id, task, method, model) of an earlier line is dropped and reported (refused when the two differ); "
        "a truncated last line is reported and not counted.",
    )
    p.add_argument("samples", type=Path, help="samples.jsonl (or .jsonl.xz / .jsonl.gz), or a run folder holding one")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    add_scoring_args(p)
    p.set_defaults(func=run)


def _groups(samples: list[dict]) -> dict[tuple, list[dict]]:
    out: dict[tuple, list[dict]] = defaultdict(list)
    for s in samples:
        out[(s.get("task"), s.get("method"), s.get("model"))].append(s)
    return dict(out)


def _fmt(v: float) -> str:
    from calbench.metrics import format_number

    return format_number(v, 4, nan="nan", ints=True)


def format_table(metrics: dict[str, dict]) -> str:
    from calbench.metrics import format_interval

    rows = [("metric", "value", "95% CI")]
    for name, e in metrics.items():
        ci = "" if name == "n" else format_interval(e["ci_low"], e["ci_high"], 4, always=True, nan="nan", ints=True)
        rows.append((name, _fmt(e["value"]), ci + (f"  ({e['note']})" if e.get("note") else "")))
    w0, w1 = max(len(r[0]) for r in rows), max(len(r[1]) for r in rows)
    return "\n".join(f"{a:<{w0}}  {b:>{w1}}  {c}".rstrip() for a, b, c in rows)


def run(args: argparse.Namespace) -> int:
    from calbench.errors import UserError
    from calbench.metrics import metric_settings, summarize_samples
    from calbench.records import json_safe, read_samples_with_lines
    from calbench.runs import samples_file, unique_samples

    settings = scoring_settings(args)
    path = samples_file(args.samples)
    dropped: list[str] = []
    samples, duplicates = unique_samples(path, read_samples_with_lines(path, skipped=dropped))
    dropped += duplicates
    for note in dropped:  # never silent: every line not counted is named
        print(f"calbench score: warning: {note}", file=sys.stderr)
    if not samples:
        raise UserError(f"{path}: no samples in the file")
    results = []
    for (task, method, model), group in _groups(samples).items():
        try:
            metrics = summarize_samples(group, **settings)
        except ValueError as e:
            raise UserError(f"{path} (task {task}, method {method}, model {model}): {e}") from None
        judges = sorted({str(s.get("judge")) for s in group})
        results.append({"task": task, "method": method, "model": model, "judge": ", ".join(judges), "metrics": metrics})
    if args.json:
        print(
            json.dumps(
                json_safe(
                    {
                        "samples": str(path),
                        "settings": metric_settings(**settings),
                        "dropped_lines": dropped,
                        "groups": results,
                    }
                ),
                indent=2,
                allow_nan=False,
            )
        )
        return 0
    for i, r in enumerate(results):
        if i:
            print()
        print(
            f"task {r['task']} · method {r['method']} · model {r['model']} · judge {r['judge']} · "
            f"policy {args.policy} · ECE {args.bins} equal-width bins (ece_em: {args.bins} equal-mass)"
        )
        print(format_table(r["metrics"]))
        if r["judge"] == "alias_match" and r["metrics"]["accuracy"]["value"] == 0:
            print(
                "warning: accuracy is 0 under judge alias_match; if it ran as plain exact match, free-form "
                "answers may be right in other words (`calbench show` them; eval --judge-containment)"
            )
    if dropped:
        print(f"({len(dropped)} line(s) not counted; see the warnings above)")
    return 0
