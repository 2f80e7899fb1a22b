#!/usr/bin/env bash
# Issue 14, part 2, natural answers with beta 0.02: the evaluations of the trained adapter, on the untrained model's
# answers, in two lanes of one CPU thread each. Train first (README), then move runs/natb2/train to $T so that
# reports label the adapter natural-beta002/adapter.
# $W/before-sciq, $W/before-medqa and $W/cal-sciq are the untrained runs of ../rd-smollm2-sciq-natural-exact/ with
# samples.jsonl decompressed (xz -dk samples.jsonl.xz); $W/before-commonsenseqa-500 is new (500 CommonsenseQA
# questions, the first 300 of which are those of the earlier runs), made by LANE=csqa-before.
# Usage, from the repo root:  W=runs/natb2w T=runs/natural-beta002 LANE=sciq|csqa-before|csqa|medqa|medqa-500 bash .../eval.sh
set -euo pipefail
export PYTHONUNBUFFERED=1 TOKENIZERS_PARALLELISM=false HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 OMP_NUM_THREADS=1
W=${W:-runs/natb2w}; T=${T:-runs/natural-beta002}
log() { echo "[eval $(date -u +%T) +${SECONDS}s] $*"; }
done_run() { grep -q '"status": "complete"' "$1/run.json" 2>/dev/null; }
CB=(.venv/bin/calbench eval --model smollm2-135m-instruct --judge-containment --seed 0 --resamples 1000 --batch-size 50
    --chunk-size 200 --quiet)
case ${LANE:?set LANE} in
  csqa-before)  # the untrained model on 500 CommonsenseQA questions: its answers and every baseline
    "${CB[@]}" --task commonsenseqa --limit 500 --method two-stage,expected,seq-likelihood-mean,seq-likelihood-prod,ptrue \
      --out "$W/before-commonsenseqa-500" ;;
  sciq)  # SciQ test (1,000), then the expected readout on the calibration split (300 SciQ validation questions)
    log "SciQ test"
    "${CB[@]}" --adapter "$T/adapter" --method two-stage,expected --task sciq --split test \
      --answers "$W/before-sciq/samples.jsonl" --out "$W/after-sciq"
    log "calibration split"
    "${CB[@]}" --adapter "$T/adapter" --method expected --task sciq --split validation --limit 300 \
      --answers "$W/cal-sciq/samples.jsonl" --out "$W/after-cal-sciq" ;;
  csqa)  # CommonsenseQA (500)
    while ! done_run "$W/before-commonsenseqa-500"; do sleep 30; done
    "${CB[@]}" --adapter "$T/adapter" --method two-stage,expected --task commonsenseqa --limit 500 \
      --answers "$W/before-commonsenseqa-500/samples.jsonl" --out "$W/after-commonsenseqa-500" ;;
  medqa)  # MedQA (300; ~40 min on one thread; not run for this run, see README)
    "${CB[@]}" --adapter "$T/adapter" --method two-stage,expected --task medqa --limit 300 \
      --answers "$W/before-medqa/samples.jsonl" --out "$W/after-medqa" ;;
  medqa-500)  # MedQA extended to 500 questions (calbench eval extends a run to a larger --limit: the first 300
    # questions, answers and scores are kept, only the 200 new ones are computed), untrained then trained
    [ -d "$W/before-medqa-500" ] || cp -r "$W/before-medqa" "$W/before-medqa-500"
    log "untrained, 300 -> 500"
    "${CB[@]}" --task medqa --limit 500 --method two-stage,expected,seq-likelihood-mean,seq-likelihood-prod,ptrue \
      --out "$W/before-medqa-500"
    [ -d "$W/after-medqa-500" ] || cp -r "$W/after-medqa" "$W/after-medqa-500"
    log "trained, 300 -> 500"
    "${CB[@]}" --adapter "$T/adapter" --method two-stage,expected --task medqa --limit 500 \
      --answers "$W/before-medqa-500/samples.jsonl" --out "$W/after-medqa-500" ;;
esac
log "done"
