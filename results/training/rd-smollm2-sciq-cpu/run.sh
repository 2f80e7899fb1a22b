#!/usr/bin/env bash
# The CPU run: untrained evaluation -> confidence-only GRPO on SciQ train -> evaluation with the adapter ->
# paired report. Usage: W=/tmp/rdwork bash results/training/rd-smollm2-sciq-cpu/run.sh  (from the repo root)
set -euo pipefail
export PYTHONUNBUFFERED=1 TOKENIZERS_PARALLELISM=false HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1
W=${W:-/tmp/rdwork}; PY=.venv/bin/python
CONFIG=trainers/rewarding_doubt/configs/smollm2_sciq_cpu.yaml
TASKS=${TASKS:-"sciq:test:120 commonsenseqa:validation:100 medqa:test:80"}
mkdir -p "$W"
log() { echo "[run $(date -u +%T) +${SECONDS}s] $*"; }
evals() {  # $1 = out dir, $2 = adapter or empty; one process, the same CLI as `calbench eval`
  $PY - "$1" "$2" $TASKS <<'PY'
import sys, time
from calbench.cli import main
out, adapter, tasks = sys.argv[1], sys.argv[2], sys.argv[3:]
for t in tasks:
    name, split, n = t.split(":")
    cmd = ["eval", "--model", "smollm2-135m-instruct", "--task", name, "--split", split, "--limit", n,
           "--method", "two-stage,expected", "--judge-containment", "--batch-size", "32", "--seed", "0",
           "--resamples", "1000", "--quiet", "--out", f"{out}/{name}"]
    if adapter:
        cmd += ["--adapter", adapter]
    t0 = time.time(); print("[evals] calbench", " ".join(cmd), flush=True)
    rc = main(cmd); print(f"[evals] {name}: exit {rc} in {time.time()-t0:.1f} s", flush=True)
PY
}
if [ ! -f "$W/before/.done" ]; then log "1. untrained evaluation: $TASKS"; evals "$W/before" ""; touch "$W/before/.done"; fi
if [ ! -f "$W/train/summary.json" ]; then
  log "2. training ($CONFIG)"
  R=""; [ -d "$W/train/checkpoints" ] && ls "$W/train/checkpoints" | grep -q checkpoint- && R=--resume
  .venv/bin/calbench train --trainer rewarding-doubt --model smollm2-135m-instruct --task sciq \
      --config "$CONFIG" --out "$W/train" $R
fi
if [ ! -f "$W/after/.done" ]; then log "3. evaluation with the adapter"; evals "$W/after" "$W/train/adapter"; touch "$W/after/.done"; fi
log "4. paired report"
$PY -m trainers.rewarding_doubt.report --before "$W/before" --after "$W/after" --out "$W/report.json" \
    --md "$W/report.md" --resamples 1000
log "done"
