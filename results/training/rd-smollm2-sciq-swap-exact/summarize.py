"""Tables of the answer-swap experiment from its run folders: each readout's metrics with 95 % CIs, and paired
bootstrap differences (same 1,000 test answers, aligned by id) of the trained readouts against every
untrained readout. Run folders: before/ (untrained), before-platt/ (post-hoc scalers fitted on the validation
answers, when present), after/ (adapter at 4,447 labels) and after2/ (the continued run, when present).
Usage: python results/training/rd-smollm2-sciq-swap-exact/summarize.py > tables.md"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from calbench.metrics import align_by_id, is_parsed, paired_bootstrap
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
    for t in [k for k in a if k.startswith("after")]:
        for b in [k for k in a if k.startswith("before")]:
            ra, rb = align_by_id([s for s in a[b][1] if is_parsed(s)], [s for s in a[t][1] if is_parsed(s)])
            d = paired_bootstrap([s["confidence"] for s in ra], [s["correct"] for s in ra],
                                 [s["confidence"] for s in rb], [s["correct"] for s in rb], n_resamples=1000)
            cells = [f"{d[k]['delta']:+.3f} [{d[k]['ci_low']:+.3f}, {d[k]['ci_high']:+.3f}]" for k in METRICS]
            print(f"| {t} | {b} (n={len(ra)}) | " + " | ".join(cells) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
