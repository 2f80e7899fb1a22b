#!/usr/bin/env bash
# The answer-swap experiment (issue 14, part 1): SmolLM2-135M-Instruct trained with the exact estimator on SciQ
# train with fixed answers (gold or another question's gold, half and half), then the untrained and the trained
# model evaluated on the SAME 1,000 fixed SciQ test answers (two-stage = stated confidence, expected readout;
# the untrained model also with every answer-conditioned baseline), and the paired comparisons.
# Usage, from the repo root:  W=runs/swap bash results/training/rd-smollm2-sciq-swap-exact/run.sh
set -euo pipefail
export PYTHONUNBUFFERED=1 TOKENIZERS_PARALLELISM=false HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1
W=${W:-runs/swap}; R=results/training/rd-smollm2-sciq-swap-exact; PY=.venv/bin/python
SWAP=results/training/answer-swap
log() { echo "[run $(date -u +%T) +${SECONDS}s] $*"; }
# 0. the answers files (deterministic; the committed ones are checked against manifest.json's sha256)
$PY scripts/answer_swap.py --out "$W/answer-swap" && cmp "$W/answer-swap/sciq_test.jsonl.gz" "$SWAP/sciq_test.jsonl.gz"
# 1. training (time_limit_s in the config ends it; rerun resumes from the last checkpoint)
if [ ! -f "$W/summary.json" ]; then
  RES=""; [ -d "$W/checkpoints" ] && RES=--resume
  log "1. training"
  .venv/bin/calbench train --trainer rewarding-doubt --model smollm2-135m-instruct --task sciq \
      --config trainers/rewarding_doubt/configs/smollm2_sciq_swap_exact.yaml --out "$W" $RES
fi
EVAL=(eval --model smollm2-135m-instruct --task sciq --split test --answers "$SWAP/sciq_test.jsonl.gz"
      --judge-containment --seed 0 --resamples 1000 --batch-size 50 --quiet)
log "2. untrained model on the 1,000 test answers: stated, expected and the baselines that condition on an answer"
.venv/bin/calbench "${EVAL[@]}" --method two-stage,expected,seq-likelihood-mean,seq-likelihood-prod,ptrue \
    --out "$R/before"
log "3. trained model (final adapter) on the same answers"
.venv/bin/calbench "${EVAL[@]}" --method two-stage,expected --adapter "$W/adapter" --out "$R/after"
log "4. reports"
.venv/bin/calbench report "$R/before#two-stage" "$R/after#two-stage" "$R/before#expected" "$R/after#expected" \
    --out "$R/report_before_after.md"
.venv/bin/calbench report "$R/after#two-stage" "$R/before#seq-likelihood-mean" "$R/before#seq-likelihood-prod" \
    "$R/before#ptrue" "$R/before#expected" "$R/before#two-stage" "$R/after#expected" --out "$R/report_vs_baselines.md"
# 5. continued training (session 2): resumed from the last checkpoint (step 556) with one thread for 3,300 s more
#    (to step 737, 5,895 labels); the adapter at step 556 was kept as adapter_step556 and evaluated in after/
log "5. training resumed"
cp -r "$W/adapter" "$W/adapter_step556"
.venv/bin/calbench train --trainer rewarding-doubt --model smollm2-135m-instruct --task sciq \
    --config trainers/rewarding_doubt/configs/smollm2_sciq_swap_exact.yaml --out "$W" --resume --set time_limit_s=3300
log "6. continued adapter on the same test answers"
.venv/bin/calbench "${EVAL[@]}" --method two-stage,expected --adapter "$W/adapter" --out "$R/after2"
log "7. post-hoc scalers for the untrained readouts, fitted on the 1,000 validation answers (disjoint from test)"
.venv/bin/calbench eval --model smollm2-135m-instruct --task sciq --split validation \
    --answers "$SWAP/sciq_validation.jsonl.gz" --judge-containment --seed 0 --resamples 1000 --batch-size 50 --quiet \
    --method seq-likelihood-mean,seq-likelihood-prod,expected,ptrue --out "$R/validation-before"
.venv/bin/calbench calibrate --fit "$R/validation-before" --apply "$R/before" --scaler platt \
    --confidence-methods seq-likelihood-mean,seq-likelihood-prod,expected,ptrue --out "$R/before-platt"
.venv/bin/calbench report "$R/after2#two-stage" "$R/before-platt" "$R/before#seq-likelihood-mean" "$R/after#two-stage" \
    "$R/after2#expected" --out "$R/report_after2_vs_scaled.md"
.venv/bin/python scripts/trained_tables.py "$R/before" "$R/before-platt" "$R/after" "$R/after2" > "$R/tables.md"
log "done"
