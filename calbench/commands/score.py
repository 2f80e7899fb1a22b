"""``calbench score``: recompute the metrics (with bootstrap CIs) of any samples file."""

from __future__ import annotations

import argparse
import json
import math
from collections import defaultdict
from pathlib import Path

from calbench.argcheck import positive_int


def register(subparsers: argparse._SubParsersAction) -> None:
    from calbench.metrics import DEFAULT_BINS, DEFAULT_EPS, POLICIES

    p = subparsers.add_parser(
        "score",
        help="recompute the calibration metrics of a samples.jsonl file, with 95%% CIs",
        description="Recompute every calibration metric of a samples file with percentile-bootstrap CIs. "
        "A file holding several (task, method, model) groups is scored per group.",
    )
    p.add_argument("samples", type=Path, help="samples.jsonl (or .jsonl.gz), or a run folder holding one")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.add_argument("--bins", type=positive_int, default=DEFAULT_BINS, help="equal-width (and equal-mass) bins (default 10)")
    p.add_argument("--policy", choices=POLICIES, default="exclude", help="how unparsed replies count (default exclude)")
    p.add_argument("--eps", type=float, default=DEFAULT_EPS, help="log-score clipping (default 0.001)")
    p.add_argument("--resamples", type=positive_int, default=1000, help="bootstrap resamples (default 1000)")
    p.add_argument("--seed", type=int, default=0, help="bootstrap seed (default 0)")
    p.set_defaults(func=run)


def _groups(samples: list[dict]) -> dict[tuple, list[dict]]:
    out: dict[tuple, list[dict]] = defaultdict(list)
    for s in samples:
        out[(s.get("task"), s.get("method"), s.get("model"))].append(s)
    return dict(out)


def _fmt(v: float) -> str:
    if v is None or math.isnan(v):
        return "nan"
    return str(v) if isinstance(v, int) else f"{v:.4f}"


def format_table(metrics: dict[str, dict]) -> str:
    rows = [("metric", "value", "95% CI")]
    for name, e in metrics.items():
        ci = "" if name == "n" else f"[{_fmt(e['ci_low'])}, {_fmt(e['ci_high'])}]"
        rows.append((name, _fmt(e["value"]), ci + (f"  ({e['note']})" if e.get("note") else "")))
    w0, w1 = max(len(r[0]) for r in rows), max(len(r[1]) for r in rows)
    return "\n".join(f"{a:<{w0}}  {b:>{w1}}  {c}".rstrip() for a, b, c in rows)


def run(args: argparse.Namespace) -> int:
    from calbench.cli import UserError
    from calbench.metrics import metric_settings, summarize_samples
    from calbench.records import json_safe, read_samples, run_samples_path

    if args.bins < 1:
        raise UserError(f"--bins must be a positive integer; got {args.bins}")
    if args.resamples < 1:
        raise UserError(f"--resamples must be a positive integer; got {args.resamples}")
    if not 0 <= args.eps < 0.5:
        raise UserError(f"--eps must be in [0, 0.5); got {args.eps}")
    if args.samples.is_dir():
        args.samples = run_samples_path(args.samples)
    samples = read_samples(args.samples)
    if not samples:
        raise UserError(f"{args.samples}: no samples in the file")
    settings = dict(policy=args.policy, bins=args.bins, eps=args.eps, n_resamples=args.resamples, seed=args.seed)
    results = []
    for (task, method, model), group in _groups(samples).items():
        try:
            metrics = summarize_samples(group, **settings)
        except ValueError as e:
            raise UserError(f"{args.samples} (task {task}, method {method}, model {model}): {e}") from None
        results.append({"task": task, "method": method, "model": model, "metrics": metrics})
    if args.json:
        print(json.dumps(json_safe({"samples": str(args.samples), "settings": metric_settings(**settings),
                                     "groups": results}), indent=2, allow_nan=False))
        return 0
    for i, r in enumerate(results):
        if i:
            print()
        print(f"task {r['task']} · method {r['method']} · model {r['model']} · policy {args.policy}")
        print(format_table(r["metrics"]))
    return 0
