#!/usr/bin/env bash
# Issue 14, part 2 (natural answers), the trained side: the adapter trained on SciQ train (runs/natural, config
# trainers/rewarding_doubt/configs/smollm2_sciq_natural_exact.yaml) evaluated on the untrained model's greedy
# answers (before.sh) on SciQ test (1,000), MedQA and CommonsenseQA (300 each): stated (two-stage) and expected.
# Usage, from the repo root:  W=runs/nat T=runs/natural bash results/training/rd-smollm2-sciq-natural-exact/after.sh
# (TASKS="sciq" and TASKS="medqa commonsenseqa" ran side by side, one CPU core each)
set -euo pipefail
export PYTHONUNBUFFERED=1 TOKENIZERS_PARALLELISM=false HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1
W=${W:-runs/nat}; T=${T:-runs/natural}
log() { echo "[after $(date -u +%T) +${SECONDS}s] $*"; }
done_run() { grep -q '"status": "complete"' "$1/run.json" 2>/dev/null; }
[ -n "${WAIT_PID:-}" ] && while kill -0 "$WAIT_PID" 2>/dev/null; do sleep 20; done
[ -d "$T/adapter" ] || { echo "no adapter in $T: train first" >&2; exit 1; }
EVAL=(.venv/bin/calbench eval --model smollm2-135m-instruct --adapter "$T/adapter" --judge-containment --seed 0
      --resamples 1000 --batch-size 50 --chunk-size 200 --quiet --method two-stage,expected)
for t in ${TASKS:-sciq medqa commonsenseqa}; do
  sel=(--limit 300); [ $t = sciq ] && sel=(--split test)
  while ! done_run "$W/before-$t"; do sleep 30; done
  log "trained model on the untrained model's $t answers"
  "${EVAL[@]}" --task $t "${sel[@]}" --answers "$W/before-$t/samples.jsonl" --out "$W/after-$t"
done
log "done"
