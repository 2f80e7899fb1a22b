#!/usr/bin/env bash
# Issue 14, part 2: a second pass over the DPR TriviaQA training pool with beta 0. The full-pool chain
# (../rd-smollm2-triviaqa-full/: runs/tqa-train then runs/tqa-full, one pass, 8,629 labels) is continued from its
# adapter over the pool again (continue_with: new_pass), then scored on the same untrained answers as the earlier
# runs: 1,000 TriviaQA test answers (the first 400 kept for the self-consistency baseline), the 200 calibration
# answers (= the held-out set, for the Platt scaler), CommonsenseQA and MedQA (500 each).
# Usage, from the repo root:  bash results/training/rd-smollm2-triviaqa-pass2/run.sh train|after|csqa|medqa|finish
# (T1=runs/tqa-full must hold the first pass: ../rd-smollm2-triviaqa-full/run.sh train)
set -euo pipefail
export PYTHONUNBUFFERED=1 TOKENIZERS_PARALLELISM=false HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1
T=${T:-runs/tqa-pass2}; W=${W:-runs/tqap2}
R=results/training/rd-smollm2-triviaqa-pass2; R1=results/training/rd-smollm2-triviaqa-full
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
    $CB train --trainer rewarding-doubt --model smollm2-135m-instruct --task triviaqa \
        --config trainers/rewarding_doubt/configs/smollm2_triviaqa_cpu_pass2.yaml --out "$T" $RES ;;
  after)  # the 400 questions of the self-consistency baseline, kept, then extended to 1,000; calibration
    $CB "${EVAL[@]}" --task triviaqa --limit 400 --answers "$R0/before-triviaqa/samples.jsonl.xz" --out "$W/pass2-triviaqa"
    [ -d "$W/pass2-triviaqa-400" ] || cp -r "$W/pass2-triviaqa" "$W/pass2-triviaqa-400"
    $CB "${EVAL[@]}" --task triviaqa --limit 1000 --answers "$R0/before-triviaqa/samples.jsonl.xz" --out "$W/pass2-triviaqa"
    $CB "${EVAL[@]}" --task triviaqa --split train --limit 200 \
        --answers "results/baselines/calibration/smollm2-135m-instruct/triviaqa-train/samples.jsonl.xz" \
        --out "$W/pass2-cal-triviaqa" ;;
  csqa)
    $CB "${EVAL[@]}" --task commonsenseqa --limit 500 --answers "$N2/before-commonsenseqa-500/samples.jsonl.xz" \
        --out "$W/pass2-commonsenseqa-500" ;;
  medqa)
    $CB "${EVAL[@]}" --task medqa --limit 500 --answers "$N2/before-medqa-500/samples.jsonl.xz" --out "$W/pass2-medqa-500" ;;
  finish)
    if [ -f "$W/pass2-cal-triviaqa/run.json" ]; then  # both readouts Platt-scaled on the held-out 200
      [ -d "$W/pass2-triviaqa-platt" ] || $CB calibrate --fit "$W/pass2-cal-triviaqa" --apply "$W/pass2-triviaqa" \
          --scaler platt --confidence-methods expected,two-stage --out "$W/pass2-triviaqa-platt"
    fi
    log "copying and compressing"
    bash scripts/collect_train.sh "$T" "$R/train"  # the curve redrawn over the whole chain
    bash scripts/collect_runs.sh "$R" "$W"/pass2-*
    log "report and tables"
    bash scripts/trained_report.sh "$R/report_triviaqa.md" \
        "$R/pass2-triviaqa#two-stage" "$R1/full-triviaqa#two-stage" "$R/pass2-triviaqa#expected" \
        "$R1/full-triviaqa#expected" "$R0/before-triviaqa#two-stage" "$R0/before-triviaqa#seq-likelihood-prod" \
        "$R0/before-triviaqa-platt#seq-likelihood-mean+platt"
    ARGS=()
    for s in $R0/before-triviaqa $R0/before-triviaqa-platt $R0/before-triviaqa-platt-0-10 $R/pass2-triviaqa \
             $R/pass2-triviaqa-platt $SC $R/pass2-triviaqa-400 $N2/before-commonsenseqa-500 \
             $N2/before-commonsenseqa-500-platt $R/pass2-commonsenseqa-500 $N2/before-medqa-500 \
             $N2/before-medqa-500-platt $R/pass2-medqa-500; do
      [ -d "$s" ] && ARGS+=("$s")
    done
    .venv/bin/python scripts/trained_tables.py "${ARGS[@]}" > "$R/tables.md"
    .venv/bin/python scripts/level_gaps.py "$R/pass2-triviaqa#two-stage" > "$R/level_gaps.md"
    { .venv/bin/python scripts/kl_optimum.py "$R1/full-triviaqa-platt#expected+platt" "$R0/before-triviaqa#expected" \
          --beta 0 0.005 0.02 --policy "$R1/full-triviaqa#expected"
      echo; echo "The second pass's policy against the same pi*:"; echo
      .venv/bin/python scripts/kl_optimum.py "$R1/full-triviaqa-platt#expected+platt" "$R0/before-triviaqa#expected" \
          --beta 0 0.005 0.02 --policy "$R/pass2-triviaqa#expected" | sed -n '/trained policy/,$p'
    } > "$R/kl_optimum.md" ;;
  *) echo "unknown lane $1" >&2; exit 2 ;;
esac
log "done"
