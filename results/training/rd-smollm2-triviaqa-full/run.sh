#!/usr/bin/env bash
# Issue 14, part 2: SmolLM2 on the whole DPR TriviaQA training pool (one pass, 8,629 questions). The 2,000-question
# run of ../rd-smollm2-triviaqa-beta002/ (--out $T0) is continued on the pool's other 6,629 training questions
# (continue_from), then scored on the same untrained answers as that run: 1,000 TriviaQA test answers (first the
# 400 of the self-consistency baseline), the 200 calibration answers (= the held-out set, for the Platt scaler),
# CommonsenseQA and MedQA (500 each). The untrained runs and scalers are those of ../rd-smollm2-triviaqa-beta002/
# and ../rd-smollm2-sciq-natural-beta002/ (committed, read compressed).
# Usage, from the repo root:  bash results/training/rd-smollm2-triviaqa-full/run.sh train|after|csqa|medqa|finish
# (T0=runs/tqa-train must hold the first run; train it with ../rd-smollm2-triviaqa-beta002/README.md's command)
set -euo pipefail
export PYTHONUNBUFFERED=1 TOKENIZERS_PARALLELISM=false HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1
T0=${T0:-runs/tqa-train}; T=${T:-runs/tqa-full}; W=${W:-runs/tqaf}
R=results/training/rd-smollm2-triviaqa-full; R0=results/training/rd-smollm2-triviaqa-beta002
N2=results/training/rd-smollm2-sciq-natural-beta002; SC=results/baselines/smollm2-135m-instruct/triviaqa
CB=.venv/bin/calbench
log() { echo "[run $(date -u +%T) +${SECONDS}s] $*"; }
EVAL=(eval --model smollm2-135m-instruct --adapter "$T/adapter" --judge-containment --seed 0 --resamples 1000
      --batch-size 50 --chunk-size 200 --quiet --method two-stage,expected)
mkdir -p "$W"
case ${1:?lane: train|after|csqa|medqa|finish} in
  train)  # time_limit_s in the config ends a stretch; a rerun resumes from the last checkpoint
    RES=""; [ -d "$T/checkpoints" ] && RES=--resume
    $CB train --trainer rewarding-doubt --model smollm2-135m-instruct --task triviaqa \
        --config trainers/rewarding_doubt/configs/smollm2_triviaqa_cpu_rest.yaml --out "$T" $RES ;;
  after)  # one thread: the 400 questions of the self-consistency baseline, kept, then extended to 1,000; calibration
    export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
    $CB "${EVAL[@]}" --task triviaqa --limit 400 --answers "$R0/before-triviaqa/samples.jsonl.xz" --out "$W/full-triviaqa"
    [ -d "$W/full-triviaqa-400" ] || cp -r "$W/full-triviaqa" "$W/full-triviaqa-400"
    $CB "${EVAL[@]}" --task triviaqa --limit 1000 --answers "$R0/before-triviaqa/samples.jsonl.xz" --out "$W/full-triviaqa"
    $CB "${EVAL[@]}" --task triviaqa --split train --limit 200 \
        --answers "results/baselines/calibration/smollm2-135m-instruct/triviaqa-train/samples.jsonl.xz" \
        --out "$W/full-cal-triviaqa" ;;
  csqa)
    export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
    $CB "${EVAL[@]}" --task commonsenseqa --limit 500 --answers "$N2/before-commonsenseqa-500/samples.jsonl.xz" \
        --out "$W/full-commonsenseqa-500" ;;
  medqa)
    export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
    $CB "${EVAL[@]}" --task medqa --limit 500 --answers "$N2/before-medqa-500/samples.jsonl.xz" --out "$W/full-medqa-500" ;;
  finish)
    if [ -f "$W/full-cal-triviaqa/run.json" ]; then  # the trained expected readout, Platt-scaled on the held-out 200
      [ -d "$W/full-triviaqa-platt" ] || $CB calibrate --fit "$W/full-cal-triviaqa" --apply "$W/full-triviaqa" \
          --scaler platt --confidence-methods expected --out "$W/full-triviaqa-platt"
    fi
    log "copying and compressing"
    bash scripts/collect_train.sh "$T" "$R/train"  # the curve redrawn over the whole chain
    bash scripts/collect_runs.sh "$R" "$W"/full-*
    log "report and tables"
    bash scripts/trained_report.sh "$R/report_triviaqa.md" \
        "$R/full-triviaqa#two-stage" "$R0/after-triviaqa#two-stage" "$R/full-triviaqa#expected" \
        "$R0/after-triviaqa#expected" "$R0/before-triviaqa#two-stage" "$R0/before-triviaqa#seq-likelihood-prod" \
        "$R0/before-triviaqa-platt#seq-likelihood-mean+platt"
    ARGS=()
    for s in $R0/before-triviaqa $R0/before-triviaqa-platt $R0/before-triviaqa-platt-0-10 $R/full-triviaqa \
             $R/full-triviaqa-platt $SC $R/full-triviaqa-400 $N2/before-commonsenseqa-500 \
             $N2/before-commonsenseqa-500-platt $R/full-commonsenseqa-500 $N2/before-medqa-500 \
             $N2/before-medqa-500-platt $R/full-medqa-500; do
      [ -d "$s" ] && ARGS+=("$s")
    done
    .venv/bin/python scripts/trained_tables.py "${ARGS[@]}" > "$R/tables.md"
    .venv/bin/python scripts/level_gaps.py "$R/full-triviaqa#two-stage" > "$R/level_gaps.md" ;;
  *) echo "unknown lane $1" >&2; exit 2 ;;
esac
log "done"
