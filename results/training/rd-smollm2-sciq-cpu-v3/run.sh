#!/usr/bin/env bash
# The third CPU run: confidence-only GRPO on SciQ train (format-strict reward, lr 1e-4, KL beta 0.1, 96 held-out, best
# held-out checkpoint kept) -> evaluation with the best adapter -> paired report against the first run's untrained
# evaluation (same model, questions, seed, judge and settings; see README). Usage, from the repo root:
#   W=/tmp/rdwork3 bash results/training/rd-smollm2-sciq-cpu-v3/run.sh
set -euo pipefail
export PYTHONUNBUFFERED=1 TOKENIZERS_PARALLELISM=false HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1
W=${W:-/tmp/rdwork3}; PY=.venv/bin/python
CONFIG=trainers/rewarding_doubt/configs/smollm2_sciq_cpu_v3.yaml
BEFORE=results/training/rd-smollm2-sciq-cpu/before   # the first run's untrained evaluation (identical settings)
TASKS=${TASKS:-"sciq:test:120 commonsenseqa:validation:100 medqa:test:80"}
SET=${SET:-}   # extra --set overrides, e.g. SET="--set time_limit_s=500"
mkdir -p "$W/train"
log() { echo "[run $(date -u +%T) +${SECONDS}s] $*"; }
evals() {  # $1 = out dir, $2 = adapter; one process, the same CLI as `calbench eval`
  $PY - "$1" "$2" $TASKS <<'PY'
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
}
# the fixed stage-1 answers of 232 of the 296 questions (same model, seed and judge) from the first run; the other 64 are generated
[ -f "$W/train/answers.jsonl" ] || cp results/training/rd-smollm2-sciq-cpu/train/answers.jsonl "$W/train/"
if [ ! -f "$W/train/summary.json" ]; then
  log "1. training ($CONFIG $SET)"
  R=""; [ -d "$W/train/checkpoints" ] && ls "$W/train/checkpoints" | grep -q checkpoint- && R=--resume
  .venv/bin/calbench train --trainer rewarding-doubt --model smollm2-135m-instruct --task sciq \
      --config "$CONFIG" --out "$W/train" $R $SET
fi
ADAPTER="$W/train/adapter_best"; [ -d "$ADAPTER" ] || ADAPTER="$W/train/adapter"
if [ ! -f "$W/after/.done" ]; then log "2. evaluation with $ADAPTER"; evals "$W/after" "$ADAPTER"; touch "$W/after/.done"; fi
log "3. paired report"
$PY -m trainers.rewarding_doubt.report --before "$BEFORE" --after "$W/after" --out "$W/report.json" \
    --md "$W/report.md" --resamples 1000
log "done"
# the final adapter too (same evaluation, its own report), unless FINAL=0
if [ "${FINAL:-1}" = 1 ]; then
  if [ ! -f "$W/after_final/.done" ]; then log "4. evaluation with $W/train/adapter"; evals "$W/after_final" "$W/train/adapter"; touch "$W/after_final/.done"; fi
  $PY -m trainers.rewarding_doubt.report --before "$BEFORE" --after "$W/after_final" --out "$W/report_final.json" \
      --md "$W/report_final.md" --resamples 1000
  log "done (final)"
fi
