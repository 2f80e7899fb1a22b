"""Cross-readout paired comparison: the trained model's readouts against the UNTRAINED two-stage (verbalized)
baseline, per task (calbench.metrics.paired_bootstrap over the questions both parsed, aligned by id)."""
import json, sys
from pathlib import Path
from calbench.metrics import align_by_id, paired_bootstrap
from calbench.records import read_samples

before, after, out = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3])
res = []
for task in sorted(d.name for d in after.iterdir() if (d / "samples.jsonl").exists()):
    sb = [s for s in read_samples(before / task / "samples.jsonl") if s["method"] == "two-stage"]
    for ma in ("two-stage", "expected"):
        for mb_name, mb in (("two-stage", sb), ("expected", [s for s in read_samples(before / task / "samples.jsonl") if s["method"] == "expected"])):
            sa = [s for s in read_samples(after / task / "samples.jsonl") if s["method"] == ma]
            pb, pa = align_by_id(mb, sa)
            both = [(x, y) for x, y in zip(pb, pa) if x.get("confidence") is not None and y.get("confidence") is not None]
            d = paired_bootstrap([x["confidence"] for x, _ in both], [x["correct"] for x, _ in both],
                                 [y["confidence"] for _, y in both], [y["correct"] for _, y in both], n_resamples=1000, seed=0)
            row = {"task": task, "before_readout": mb_name, "after_readout": ma, "n": len(both),
                   **{k: {kk: d[k][kk] for kk in ("a", "b", "delta", "ci_low", "ci_high", "p_value")} for k in ("brier", "log_score", "ece", "auroc")}}
            res.append(row)
            print(f"{task:14s} untrained {mb_name:9s} -> trained {ma:9s} n={len(both)} " + " ".join(
                f"{k} {row[k]['a']:.3f}->{row[k]['b']:.3f} d={row[k]['delta']:+.3f} [{row[k]['ci_low']:+.3f},{row[k]['ci_high']:+.3f}]" for k in ("brier", "log_score", "auroc")))
out.write_text(json.dumps(res, indent=2))
