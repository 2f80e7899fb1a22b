#!/usr/bin/env bash
# Issue 14, part 2 on TriviaQA: the untrained baselines and the trained adapter's evaluations, one CPU thread per
# lane. Every evaluation is on the untrained model's greedy answers (--answers), so before and after are paired.
# $W/cal-triviaqa is results/baselines/calibration/smollm2-135m-instruct/triviaqa-train (200 questions of the
# training pool, the trainer's held-out set) with samples.jsonl decompressed (xz -d samples.jsonl.xz).
# $U holds the untrained CommonsenseQA and MedQA runs of ../rd-smollm2-sciq-natural-beta002/ (500 questions each),
# samples decompressed.
# Usage, from the repo root:  W=runs/tqaw T=runs/tqa-train U=runs/natb2w LANE=before|after|csqa|medqa bash .../eval.sh
set -euo pipefail
export PYTHONUNBUFFERED=1 TOKENIZERS_PARALLELISM=false HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 OMP_NUM_THREADS=1
W=${W:-runs/tqaw}; T=${T:-runs/tqa-train}; U=${U:-runs/natb2w}
log() { echo "[eval $(date -u +%T) +${SECONDS}s] $*"; }
CB=(.venv/bin/calbench eval --model smollm2-135m-instruct --judge-containment --seed 0 --resamples 1000 --batch-size 50
    --chunk-size 200 --quiet)
BASELINES=two-stage,expected,seq-likelihood-mean,seq-likelihood-prod,ptrue
case ${LANE:?set LANE} in
  before)  # the untrained model on 1,000 TriviaQA evaluation questions: its answers and every baseline
    "${CB[@]}" --task triviaqa --limit 1000 --method $BASELINES --out "$W/before-triviaqa" ;;
  after)  # the trained adapter on the same answers: first the 400 questions of the self-consistency baseline
    # (results/baselines/smollm2-135m-instruct/triviaqa: the first 400 of the same seeded selection), kept as
    # after-triviaqa-400, then extended to all 1,000 (a larger --limit extends a run); then on the 200
    # calibration answers (for its scaler)
    log "TriviaQA eval, 400"
    "${CB[@]}" --adapter "$T/adapter" --method two-stage,expected --task triviaqa --limit 400 \
      --answers "$W/before-triviaqa/samples.jsonl" --out "$W/after-triviaqa"
    [ -d "$W/after-triviaqa-400" ] || cp -r "$W/after-triviaqa" "$W/after-triviaqa-400"
    log "TriviaQA eval, 400 -> 1,000"
    "${CB[@]}" --adapter "$T/adapter" --method two-stage,expected --task triviaqa --limit 1000 \
      --answers "$W/before-triviaqa/samples.jsonl" --out "$W/after-triviaqa"
    log "calibration split (TriviaQA train, the held-out 200)"
    "${CB[@]}" --adapter "$T/adapter" --method two-stage,expected --task triviaqa --split train --limit 200 \
      --answers "$W/cal-triviaqa/samples.jsonl" --out "$W/after-cal-triviaqa" ;;
  csqa)  # CommonsenseQA, the 500 answers of ../rd-smollm2-sciq-natural-beta002/before-commonsenseqa-500
    "${CB[@]}" --adapter "$T/adapter" --method two-stage,expected --task commonsenseqa --limit 500 \
      --answers "$U/before-commonsenseqa-500/samples.jsonl" --out "$W/after-commonsenseqa-500" ;;
  medqa)  # MedQA, the 500 answers of ../rd-smollm2-sciq-natural-beta002/before-medqa-500
    "${CB[@]}" --adapter "$T/adapter" --method two-stage,expected --task medqa --limit 500 \
      --answers "$U/before-medqa-500/samples.jsonl" --out "$W/after-medqa-500" ;;
esac
log "done"
