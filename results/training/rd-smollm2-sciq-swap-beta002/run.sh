#!/usr/bin/env bash
# Issue 14, part 1 again: the answer-swap experiment of ../rd-smollm2-sciq-swap-exact/ (same fixed answers, same
# 1,000 SciQ test answers) retrained with whole-number scoring and a small KL term (beta 0.02), the adapter chosen
# on the 400 held-out SciQ validation answers (best stated log score), then compared with the untrained readouts
# and the Platt-scaled baselines of the first run (its before/ and before-platt/, the same test answers).
# Usage, from the repo root:  W=runs/swapb bash results/training/rd-smollm2-sciq-swap-beta002/run.sh [train|after|final|brier|finish]
set -euo pipefail
export PYTHONUNBUFFERED=1 TOKENIZERS_PARALLELISM=false HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1
W=${W:-runs/swapb}; R=results/training/rd-smollm2-sciq-swap-beta002; CB=.venv/bin/calbench
R1=results/training/rd-smollm2-sciq-swap-exact; SWAP=results/training/answer-swap
log() { echo "[run $(date -u +%T) +${SECONDS}s] $*"; }
EVAL=(eval --model smollm2-135m-instruct --task sciq --split test --answers "$SWAP/sciq_test.jsonl.gz"
      --judge-containment --seed 0 --resamples 1000 --batch-size 50 --quiet --method two-stage,expected)
lane=${1:-all}
if [ "$lane" = train ] || [ "$lane" = all ]; then
  log "training (time_limit_s in the config ends it; a rerun resumes from the last checkpoint)"
  RES=""; [ -d "$W/train/checkpoints" ] && RES=--resume
  $CB train --trainer rewarding-doubt --model smollm2-135m-instruct --task sciq \
      --config trainers/rewarding_doubt/configs/smollm2_sciq_swap_beta002.yaml --out "$W/train" $RES
fi
if [ "$lane" = after ] || [ "$lane" = all ]; then
  log "the held-out-selected adapter on the 1,000 test answers"
  $CB "${EVAL[@]}" --adapter "$W/train/adapter_best" --out "$W/after"
fi
if [ "$lane" = final ]; then  # optional: the last adapter, when it is not the selected one
  $CB "${EVAL[@]}" --adapter "$W/train/adapter" --out "$W/after-final"
fi
if [ "$lane" = brier ]; then  # follow-up: 150 more steps from the last checkpoint (798) with the Brier reward, no KL
  if [ ! -f "$W/brier/summary.json" ] || ! grep -q '"steps": 948' "$W/brier/summary.json"; then
    [ -d "$W/brier" ] || { cp -r "$W/train" "$W/brier"; rm -rf "$W/brier/checkpoints/step-750"; }
    $CB train --trainer rewarding-doubt --model smollm2-135m-instruct --task sciq \
        --config trainers/rewarding_doubt/configs/smollm2_sciq_swap_beta002.yaml --out "$W/brier" --resume \
        --set reward=brier --set beta=0 --set max_steps=948 --set eval_every=75 --set time_limit_s=1500
  fi
  $CB "${EVAL[@]}" --adapter "$W/brier/adapter" --out "$W/after-brier"
fi
if [ "$lane" = finish ] || [ "$lane" = all ]; then
  log "copying and compressing"
  mkdir -p "$R/train"
  for f in config.yaml train_log.jsonl training_curve.png summary.json; do cp "$W/train/$f" "$R/train/"; done
  cp "$W/train/adapter_best/best.json" "$R/train/"
  if [ -f "$W/brier/summary.json" ]; then
    mkdir -p "$R/brier"
    for f in config.yaml train_log.jsonl training_curve.png summary.json; do cp "$W/brier/$f" "$R/brier/"; done
  fi
  bash scripts/collect_runs.sh "$R" "$W"/after*
  log "report and tables"
  for r in "$R/after" "$R/after-brier" "$R1/after2"; do  # per-level accuracy and the log score's ECE floor
    [ -d "$r" ] && .venv/bin/python scripts/level_gaps.py "$r#two-stage" && echo
  done > "$R/level_gaps.md"
  $CB report "$R/after#two-stage" "$R1/before#two-stage" "$R1/before-platt#seq-likelihood-mean+platt" \
      "$R1/before#seq-likelihood-mean" "$R1/after2#two-stage" "$R/after#expected" \
      $([ -d "$R/after-brier" ] && echo "$R/after-brier#two-stage") --out "$R/report.md"
  rm -f "$R"/report_files/samples_*.html  # per-sample pages (MiBs): calbench show reads the run folders
  sed -i -E 's#\[table\]\(report_files/samples_[0-9]+\.html\)#not kept (`calbench show` the run)#' "$R/report.md"
  ARGS=("$R1/before" "$R1/before-platt" "$R/after")
  [ -d "$R/after-final" ] && ARGS+=("$R/after-final")
  [ -d "$R/after-brier" ] && ARGS+=("$R/after-brier")
  ARGS+=("$R1/after2")
  .venv/bin/python scripts/trained_tables.py "${ARGS[@]}" > "$R/tables.md"
fi
log "done"
