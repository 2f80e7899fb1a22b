#!/usr/bin/env bash
# One stretch of a SmolLM2 training chain on natural answers (issue 14, part 2): train it (a continuation of the
# chain's last run), then score it on the same untrained answers as every earlier stretch of that task: the
# in-domain test answers (TriviaQA: 1,000, SciQ: its 1,000-question test split; the first SUB of them kept apart:
# they pair with the self-consistency baseline), the calibration answers (for the Platt scalers), CommonsenseQA and
# MedQA (500 each); then copy, compress, report and tabulate into the stretch's results folder. The untrained runs
# and scalers are committed (read compressed): for TriviaQA those of results/training/rd-smollm2-triviaqa-beta002/,
# for SciQ those of results/training/rd-smollm2-sciq-natural-exact/; CommonsenseQA and MedQA those of
# results/training/rd-smollm2-sciq-natural-beta002/.
# Called by results/training/rd-smollm2-{triviaqa-full,triviaqa-pass2,sciq-pass2,sciq-full}/run.sh, which set:
#   TASK (triviaqa|sciq), R (results folder), P (prefix of its run folders), CONFIG (the trainer config),
#   T (--out of the training), W (work folder of the evaluations), PREV (the previous stretch's in-domain run
#   folder, compared in the report), PLATT (readouts to Platt-scale on the calibration answers), and optionally
#   KL_POSTERIOR (RUN#METHOD: `finish` then writes kl_optimum.md, the previous and this stretch's policies against
#   the optimum of the KL-regularised objective for that belief; scripts/kl_optimum.py) and NO_FIGURES (suffixes
#   of run folders after "$P-", e.g. "medqa-500": `finish` keeps them without figures)
# Usage: scripts/train_chain.sh train|after|csqa|medqa|finish|checkpoint     (OMP_NUM_THREADS=1 beside a training)
set -euo pipefail
export PYTHONUNBUFFERED=1 TOKENIZERS_PARALLELISM=false HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1
: "${R:?}" "${P:?}" "${CONFIG:?}" "${T:?}" "${W:?}" "${PREV:?}" "${PLATT:=expected}" "${TASK:=triviaqa}"
N2=results/training/rd-smollm2-sciq-natural-beta002
case $TASK in
  triviaqa)
    B=results/training/rd-smollm2-triviaqa-beta002; SC=results/baselines/smollm2-135m-instruct/triviaqa; SUB=400
    TEST=(--task triviaqa --limit 1000)
    CAL=(--task triviaqa --split train --limit 200
         --answers results/baselines/calibration/smollm2-135m-instruct/triviaqa-train/samples.jsonl.xz) ;;
  sciq)
    B=results/training/rd-smollm2-sciq-natural-exact; SC=$B/before-sciq-sc; SUB=200
    TEST=(--task sciq --split test --limit 1000)
    CAL=(--task sciq --split validation --limit 300 --answers $B/cal-sciq/samples.jsonl.xz) ;;
  *) echo "TASK must be triviaqa or sciq, got $TASK" >&2; exit 2 ;;
esac
BEFORE=$B/before-$TASK
CB=${CB:-.venv/bin/calbench}  # CB=echo prints the commands
log() { echo "[run $(date -u +%T) +${SECONDS}s] $*"; }
EVAL_FLAGS=(--model smollm2-135m-instruct --judge-containment --seed 0 --resamples 1000 --batch-size 50
            --chunk-size 200 --quiet)
EVAL=(eval --adapter "$T/adapter" "${EVAL_FLAGS[@]}" --method two-stage,expected)
# run folders kept without figures (`calbench report RUN#METHOD --out x.md` draws them): the tracked tree travels
# with every GPU call
drop_figures() { for d in "$@"; do rm -f "$d"/*.png; done; }
mkdir -p "$W"
case ${1:?lane: train|after|csqa|medqa|finish|checkpoint} in
  train)  # time_limit_s in the config ends a stretch; a rerun resumes from the last checkpoint
    RES=""; [ -d "$T/checkpoints" ] && RES=--resume
    $CB train --trainer rewarding-doubt --model smollm2-135m-instruct --task "$TASK" --config "$CONFIG" \
        --out "$T" $RES ;;
  after)  # the questions of the self-consistency baseline, kept, then extended to the whole test set; calibration
    SUBARGS=("${TEST[@]}"); SUBARGS[${#SUBARGS[@]}-1]=$SUB  # the same flags, --limit SUB
    $CB "${EVAL[@]}" "${SUBARGS[@]}" --answers "$BEFORE/samples.jsonl.xz" --out "$W/$P-$TASK"
    [ -d "$W/$P-$TASK-$SUB" ] || cp -r "$W/$P-$TASK" "$W/$P-$TASK-$SUB"
    $CB "${EVAL[@]}" "${TEST[@]}" --answers "$BEFORE/samples.jsonl.xz" --out "$W/$P-$TASK"
    $CB "${EVAL[@]}" "${CAL[@]}" --out "$W/$P-cal-$TASK" ;;
  csqa)
    $CB "${EVAL[@]}" --task commonsenseqa --limit 500 --answers "$N2/before-commonsenseqa-500/samples.jsonl.xz" \
        --out "$W/$P-commonsenseqa-500" ;;
  medqa)
    $CB "${EVAL[@]}" --task medqa --limit 500 --answers "$N2/before-medqa-500/samples.jsonl.xz" --out "$W/$P-medqa-500" ;;
  checkpoint)  # STEP=N: the checkpoint of step N on the in-domain test answers, stated readout (does a result hold
    # a few steps before the end?); the trainer keeps the last two checkpoints
    : "${STEP:?set STEP to a step under $T/checkpoints}"
    .venv/bin/python scripts/checkpoint_adapter.py "$T" "$STEP" "$T-$STEP/adapter"
    $CB eval --adapter "$T-$STEP/adapter" "${EVAL_FLAGS[@]}" --method two-stage "${TEST[@]}" \
        --answers "$BEFORE/samples.jsonl.xz" --out "$W/step$STEP-$TASK"
    bash scripts/collect_runs.sh "$R" "$W/step$STEP-$TASK" && drop_figures "$R/step$STEP-$TASK" ;;
  finish)
    if [ -f "$W/$P-cal-$TASK/run.json" ]; then  # the trained readouts, Platt-scaled on the calibration answers
      [ -d "$W/$P-$TASK-platt" ] || $CB calibrate --fit "$W/$P-cal-$TASK" --apply "$W/$P-$TASK" \
          --scaler platt --confidence-methods "$PLATT" --out "$W/$P-$TASK-platt"
    fi
    log "copying and compressing"
    bash scripts/collect_train.sh "$T" "$R/train"  # the curve redrawn over the whole chain
    bash scripts/collect_runs.sh "$R" "$W/$P"-*
    # the calibration and subset runs keep no figures (their samples fit the scalers and pair with the baselines),
    # nor the run folders NO_FIGURES names (suffixes after "$P-")
    drop_figures "$R/$P-cal-$TASK" "$R/$P-$TASK-$SUB" ${NO_FIGURES:+$(printf "$R/$P-%s " $NO_FIGURES)}
    log "report and tables"
    bash scripts/trained_report.sh "$R/report_$TASK.md" \
        "$R/$P-$TASK#two-stage" "$PREV#two-stage" "$R/$P-$TASK#expected" "$PREV#expected" \
        "$BEFORE#two-stage" "$BEFORE#seq-likelihood-prod" "$BEFORE-platt#seq-likelihood-mean+platt"
    ARGS=()
    for s in $BEFORE $BEFORE-platt $BEFORE-platt-0-10 $R/$P-$TASK $R/$P-$TASK-platt $SC $R/$P-$TASK-$SUB \
             $N2/before-commonsenseqa-500 $N2/before-commonsenseqa-500-platt $R/$P-commonsenseqa-500 \
             $N2/before-medqa-500 $N2/before-medqa-500-platt $R/$P-medqa-500; do
      [ -d "$s" ] && ARGS+=("$s")
    done
    .venv/bin/python scripts/trained_tables.py "${ARGS[@]}" > "$R/tables.md"
    .venv/bin/python scripts/level_gaps.py "$R/$P-$TASK#two-stage" > "$R/level_gaps.md"
    if [ -n "${KL_POSTERIOR:-}" ]; then  # the previous and this stretch's policies against the KL optimum of a belief
      KL=(.venv/bin/python scripts/kl_optimum.py "$KL_POSTERIOR" "$BEFORE#expected" --beta 0 0.005 0.02)
      { "${KL[@]}" --policy "$PREV#expected"
        echo; echo "The second pass's policy against the same pi*:"; echo
        "${KL[@]}" --policy "$R/$P-$TASK#expected" | sed -n '/trained policy/,$p'
      } > "$R/kl_optimum.md"
    fi ;;
  *) echo "unknown lane $1" >&2; exit 2 ;;
esac
log "done"
