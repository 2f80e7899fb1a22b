#!/usr/bin/env bash
# Issue 14, part 2 (natural answers), the untrained side: SmolLM2-135M-Instruct's own greedy answers on the SciQ
# test split (1,000), MedQA and CommonsenseQA (300 each, seeded samples; 500 did not fit the 2-core session) and a
# disjoint calibration split (300 SciQ validation questions), with every baseline that conditions on the answer;
# self-consistency on the same answers for a seeded 200-question subset of SciQ test.
# The greedy answers of before-<task> are the fixed answers the trained model is evaluated on (after.sh).
# Usage, from the repo root:  W=runs/nat bash results/training/rd-smollm2-sciq-natural-exact/before.sh
set -euo pipefail
export PYTHONUNBUFFERED=1 TOKENIZERS_PARALLELISM=false HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1
W=${W:-runs/nat}
log() { echo "[before $(date -u +%T) +${SECONDS}s] $*"; }
EVAL=(.venv/bin/calbench eval --model smollm2-135m-instruct --judge-containment --seed 0 --resamples 1000
      --batch-size 50 --chunk-size 200 --quiet)
BASE=two-stage,expected,seq-likelihood-mean,seq-likelihood-prod,ptrue
[ -n "${WAIT_PID:-}" ] && while kill -0 "$WAIT_PID" 2>/dev/null; do sleep 20; done
if ! grep -q '"status": "complete"' "$W/before-sciq/run.json" 2>/dev/null; then
  log "1. SciQ test (1,000): greedy answers, stated confidence and the answer-conditioned baselines"
  "${EVAL[@]}" --task sciq --split test --method $BASE --out "$W/before-sciq"
fi
log "2. unseen domains: MedQA and CommonsenseQA, 300 each"
"${EVAL[@]}" --task medqa --limit 300 --method $BASE --out "$W/before-medqa"
"${EVAL[@]}" --task commonsenseqa --limit 300 --method $BASE --out "$W/before-commonsenseqa"
log "3. calibration split for the post-hoc scalers: 300 SciQ validation questions (disjoint from test)"
"${EVAL[@]}" --task sciq --split validation --limit 300 --method expected,seq-likelihood-mean,seq-likelihood-prod,ptrue \
    --out "$W/cal-sciq"
log "4. self-consistency (5 answers sampled at T=1 agreeing with the fixed greedy answer), 200 SciQ test questions"
"${EVAL[@]}" --task sciq --split test --limit 200 --method self-consistency --answers "$W/before-sciq/samples.jsonl" \
    --out "$W/before-sciq-sc"
log "done"
