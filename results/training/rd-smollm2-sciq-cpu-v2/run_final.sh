#!/usr/bin/env bash
# The same evaluation and paired report for the FINAL adapter (OUT/train/adapter, the last step), next to run.sh's
# evaluation of adapter_best. Usage (after run.sh): W=/tmp/rdwork2 bash results/training/rd-smollm2-sciq-cpu-v2/run_final.sh
set -euo pipefail
export PYTHONUNBUFFERED=1 TOKENIZERS_PARALLELISM=false HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1
W=${W:-/tmp/rdwork2}; PY=.venv/bin/python
BEFORE=results/training/rd-smollm2-sciq-cpu/before
TASKS=${TASKS:-"sciq:test:120 commonsenseqa:validation:100"}
log() { echo "[run_final $(date -u +%T) +${SECONDS}s] $*"; }
if [ ! -f "$W/after_final/.done" ]; then
  log "evaluation with $W/train/adapter"
  $PY - "$W/after_final" "$W/train/adapter" $TASKS <<'PY'
import sys, time
from calbench.cli import main
out, adapter, tasks = sys.argv[1], sys.argv[2], sys.argv[3:]
for t in tasks:
    name, split, n = t.split(":")
    cmd = ["eval", "--model", "smollm2-135m-instruct", "--task", name, "--split", split, "--limit", n,
           "--method", "two-stage,expected", "--judge-containment", "--batch-size", "32", "--seed", "0",
           "--resamples", "1000", "--quiet", "--out", f"{out}/{name}", "--adapter", adapter]
    t0 = time.time(); print("[evals] calbench", " ".join(cmd), flush=True)
    rc = main(cmd); print(f"[evals] {name}: exit {rc} in {time.time()-t0:.1f} s", flush=True)
PY
  touch "$W/after_final/.done"
fi
log "paired report (final adapter)"
$PY -m trainers.rewarding_doubt.report --before "$BEFORE" --after "$W/after_final" --out "$W/report_final.json" \
    --md "$W/report_final.md" --resamples 1000
log "done"
