"""What fitting a scaler on part of the equal-label pool costs: Platt and isotonic of the likelihood readouts fitted
on the TriviaQA pool's first N answers (its seeded order) against all 8,629, applied to the same 1,000 test answers.

The logit readouts (expected, P(True)) cost ~1 CPU s an answer on this machine, so the equal-label logit scalers of
``results/baselines/equal-labels-triviaqa`` are fitted on the pool's first 4,000 answers; the likelihood readouts
exist for all 8,629, so the same cut can be measured on them (no test answer chose N: it was set by the CPU budget
before this ran).

    python scripts/equal_label_subset.py [--first 4000] [--out results/baselines/equal-labels-triviaqa/subset-check.md]
"""

from __future__ import annotations

import argparse
import json
import lzma
from pathlib import Path

from calbench.metrics import apply_policy, score
from calbench.records import find_samples_file, read_samples
from calbench.scalers import fit_on_calibration, make_scaler

STUDY = Path("results/baselines/equal-labels-triviaqa")
TEST = Path("results/training/rd-smollm2-triviaqa-beta002/before-triviaqa")
METRICS = ("ece", "brier", "log_score", "auroc")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--first", type=int, default=4000)
    ap.add_argument("--out", type=Path, default=STUDY / "subset-check.md")
    args = ap.parse_args()
    with lzma.open(STUDY / "pool-answers.jsonl.xz", "rt") as f:
        pool = [json.loads(line)["id"] for line in f]
    first = set(pool[: args.first])
    fit = read_samples(find_samples_file(STUDY / "pool-readouts"))
    test = read_samples(find_samples_file(TEST))
    lines = [
        f"# Scalers fitted on the pool's first {args.first:,} answers vs all {len(pool):,}",
        "",
        f"`python scripts/equal_label_subset.py --first {args.first}`: the likelihood readouts of `pool-readouts/` "
        f"(all {len(pool):,} labelled pool answers), each scaler fitted on all of them and on the first "
        f"{args.first:,} in the pool's seeded order, applied to the 1,000 test answers of `{TEST}` (point values; "
        "ECE 10 equal-width bins).",
        "",
        "| readout | scaler | fitted on | ECE | Brier | log score | AUROC |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for method in ("seq-likelihood-mean", "seq-likelihood-prod"):
        fm = [s for s in fit if s["method"] == method]
        tm = [s for s in test if s["method"] == method]
        for scaler in ("platt", "isotonic"):
            for rows in (fm, [s for s in fm if s["id"] in first]):
                c, y, _ = apply_policy(fit_on_calibration(make_scaler(scaler), rows, tm), "exclude")
                r = score(c, y)
                lines.append(
                    f"| {method} | {scaler} | {len(rows):,} | " + " | ".join(f"{r[m]:.4f}" for m in METRICS) + " |"
                )
    args.out.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
