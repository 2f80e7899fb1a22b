#!/usr/bin/env bash
# One stretch of the SmolLM2 TriviaQA training chain (issue 14, part 2): train it (a continuation of the chain's
# last run), then score it on the same untrained answers as every earlier stretch: 1,000 TriviaQA test answers
# (the first 400 kept: they pair with the self-consistency baseline), the 200 calibration answers (= the held-out
# set, for the Platt scaler), CommonsenseQA and MedQA (500 each); then copy, compress, report and tabulate into
# the stretch's results folder. The untrained runs and scalers are those of results/training/
# rd-smollm2-triviaqa-beta002/ and rd-smollm2-sciq-natural-beta002/ (committed, read compressed).
# Called by results/training/rd-smollm2-triviaqa-{full,pass2}/run.sh, which set:
#   R (results folder), P (prefix of its run folders), CONFIG (the trainer config), T (--out of the training),
#   W (work folder of the evaluations), PREV (the previous stretch's TriviaQA run folder, compared in the report),
#   PLATT (readouts to Platt-scale on the calibration answers)
# Usage: scripts/triviaqa_chain.sh train|after|csqa|medqa|finish     (OMP_NUM_THREADS=1 beside a training)
set -euo pipefail
export PYTHONUNBUFFERED=1 TOKENIZERS_PARALLELISM=false HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1
: "${R:?}" "${P:?}" "${CONFIG:?}" "${T:?}" "${W:?}" "${PREV:?}" "${PLATT:=expected}"
R0=results/training/rd-smollm2-triviaqa-beta002; N2=results/training/rd-smollm2-sciq-natural-beta002
SC=results/baselines/smollm2-135m-instruct/triviaqa
CB=.venv/bin/calbench
log() { echo "[run $(date -u +%T) +${SECONDS}s] $*"; }
EVAL=(eval --model smollm2-135m-instruct --adapter "$T/adapter" --judge-containment --seed 0 --resamples 1000
      --batch-size 50 --chunk-size 200 --quiet --method two-stage,expected)
mkdir -p "$W"
case ${1:?lane: train|after|csqa|medqa|finish} in
  train)  # time_limit_s in the config ends a stretch; a rerun resumes from the last checkpoint
    RES=""; [ -d "$T/checkpoints" ] && RES=--resume
    $CB train --trainer rewarding-doubt --model smollm2-135m-instruct --task triviaqa --config "$CONFIG" \
        --out "$T" $RES ;;
  after)  # the 400 questions of the self-consistency baseline, kept, then extended to 1,000; calibration
    $CB "${EVAL[@]}" --task triviaqa --limit 400 --answers "$R0/before-triviaqa/samples.jsonl.xz" --out "$W/$P-triviaqa"
    [ -d "$W/$P-triviaqa-400" ] || cp -r "$W/$P-triviaqa" "$W/$P-triviaqa-400"
    $CB "${EVAL[@]}" --task triviaqa --limit 1000 --answers "$R0/before-triviaqa/samples.jsonl.xz" --out "$W/$P-triviaqa"
    $CB "${EVAL[@]}" --task triviaqa --split train --limit 200 \
        --answers "results/baselines/calibration/smollm2-135m-instruct/triviaqa-train/samples.jsonl.xz" \
        --out "$W/$P-cal-triviaqa" ;;
  csqa)
    $CB "${EVAL[@]}" --task commonsenseqa --limit 500 --answers "$N2/before-commonsenseqa-500/samples.jsonl.xz" \
        --out "$W/$P-commonsenseqa-500" ;;
  medqa)
    $CB "${EVAL[@]}" --task medqa --limit 500 --answers "$N2/before-medqa-500/samples.jsonl.xz" --out "$W/$P-medqa-500" ;;
  finish)
    if [ -f "$W/$P-cal-triviaqa/run.json" ]; then  # the trained readouts, Platt-scaled on the held-out 200
      [ -d "$W/$P-triviaqa-platt" ] || $CB calibrate --fit "$W/$P-cal-triviaqa" --apply "$W/$P-triviaqa" \
          --scaler platt --confidence-methods "$PLATT" --out "$W/$P-triviaqa-platt"
    fi
    log "copying and compressing"
    bash scripts/collect_train.sh "$T" "$R/train"  # the curve redrawn over the whole chain
    bash scripts/collect_runs.sh "$R" "$W/$P"-*
    log "report and tables"
    bash scripts/trained_report.sh "$R/report_triviaqa.md" \
        "$R/$P-triviaqa#two-stage" "$PREV#two-stage" "$R/$P-triviaqa#expected" "$PREV#expected" \
        "$R0/before-triviaqa#two-stage" "$R0/before-triviaqa#seq-likelihood-prod" \
        "$R0/before-triviaqa-platt#seq-likelihood-mean+platt"
    ARGS=()
    for s in $R0/before-triviaqa $R0/before-triviaqa-platt $R0/before-triviaqa-platt-0-10 $R/$P-triviaqa \
             $R/$P-triviaqa-platt $SC $R/$P-triviaqa-400 $N2/before-commonsenseqa-500 \
             $N2/before-commonsenseqa-500-platt $R/$P-commonsenseqa-500 $N2/before-medqa-500 \
             $N2/before-medqa-500-platt $R/$P-medqa-500; do
      [ -d "$s" ] && ARGS+=("$s")
    done
    .venv/bin/python scripts/trained_tables.py "${ARGS[@]}" > "$R/tables.md"
    .venv/bin/python scripts/level_gaps.py "$R/$P-triviaqa#two-stage" > "$R/level_gaps.md" ;;
  *) echo "unknown lane $1" >&2; exit 2 ;;
esac
log "done"
