"""Tables of the answer-swap experiment from its run folders: each readout's metrics with 95 % CIs, and paired
bootstrap differences (same 1,000 test answers, paired by id through calbench.reporting.report.compare) of the
trained readouts against every untrained readout. Run folders: before/ (untrained), before-platt/ (post-hoc
scalers fitted on the validation answers, when present), after/ (adapter at 4,447 labels) and after2/ (the
continued run, when present).
Usage: python results/training/rd-smollm2-sciq-swap-exact/summarize.py > tables.md"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from calbench.metrics import is_parsed
from calbench.reporting.inputs import check_run_folder
from calbench.reporting.report import Arm, compare
from calbench.runs import read_manifest, read_run_samples

HERE = Path(__file__).parent
METRICS = ("auroc", "ece", "brier", "log_score")
SIDES = ("before", "before-platt", "after", "after2")


def arms() -> dict[str, tuple[dict, list[dict]]]:
    out = {}
    for side in SIDES:
        if not (HERE / side).is_dir():
            continue
        run = read_manifest(HERE / side)
        samples = read_run_samples(HERE / side)
        for method, metrics in run.metrics_per_method().items():
            out[f"{side}:{method}"] = (metrics, [s for s in samples if s["method"] == method])
    return out


def fmt(m: dict) -> str:
    return f"{m['value']:.3f} [{m['ci_low']:.3f}, {m['ci_high']:.3f}]"


def main() -> int:
    a = arms()
    print("| readout | n | mean confidence | " + " | ".join(METRICS) + " |")
    print("|---|---|---|" + "---|" * len(METRICS))
    for name, (m, rows) in a.items():
        conf = [s["confidence"] for s in rows if is_parsed(s)]
        print(f"| {name} | {len(rows)} | {np.mean(conf):.3f} | " + " | ".join(fmt(m[k]) for k in METRICS) + " |")
    print()
    print("Paired differences, trained minus untrained (same answers; 1,000 resamples; AUROC/log score: higher is "
          "better, ECE/Brier: lower):")
    print()
    print("| trained | untrained | " + " | ".join(f"Δ {k}" for k in METRICS) + " |")
    print("|---|---|" + "---|" * len(METRICS))
    runs = {side: check_run_folder(HERE / side) for side in SIDES if (HERE / side).is_dir()}
    for t in [k for k in a if k.startswith("after")]:
        for b in [k for k in a if k.startswith("before")]:
            (sb, mb), (st, mt) = b.split(":"), t.split(":")
            comp = compare(Arm.of(runs[sb], mb), Arm.of(runs[st], mt))
            if comp.problem:
                raise SystemExit(f"{t} vs {b}: {comp.problem}")
            d = comp.deltas
            cells = [f"{d[k].delta:+.3f} [{d[k].ci_low:+.3f}, {d[k].ci_high:+.3f}]" for k in METRICS]
            print(f"| {t} | {b} (n={comp.n_pairs}) | " + " | ".join(cells) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
