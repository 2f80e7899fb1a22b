#!/usr/bin/env bash
# Issue 14, part 2: SmolLM2 on the whole DPR TriviaQA training pool (one pass, 8,629 questions). The 2,000-question
# run of ../rd-smollm2-triviaqa-beta002/ (runs/tqa-train) is continued on the pool's other 6,629 training questions
# (continue_from), then scored on the same untrained answers as that run (scripts/train_chain.sh: 1,000
# TriviaQA test answers, the 200 calibration answers for the Platt scaler, CommonsenseQA and MedQA, 500 each).
# Usage, from the repo root:  bash results/training/rd-smollm2-triviaqa-full/run.sh train|after|csqa|medqa|finish
# (runs/tqa-train must hold the first run; train it with ../rd-smollm2-triviaqa-beta002/README.md's command)
set -euo pipefail
export TASK=triviaqa R=results/training/rd-smollm2-triviaqa-full P=full T=${T:-runs/tqa-full} W=${W:-runs/tqaf} \
       CONFIG=trainers/rewarding_doubt/configs/smollm2_triviaqa_cpu_rest.yaml \
       PREV=results/training/rd-smollm2-triviaqa-beta002/after-triviaqa PLATT=expected
case ${1:-} in after|csqa|medqa) export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1} ;; esac  # ran beside the training
exec bash scripts/train_chain.sh "$@"
