#!/usr/bin/env bash
# Issue 14, part 2: a second pass over the DPR TriviaQA training pool with kl_reference: uniform. The full-pool
# chain (../rd-smollm2-triviaqa-full/: runs/tqa-train then runs/tqa-full, one pass, 8,629 labels) is continued
# from its adapter over the pool again (continue_with: new_pass), then scored on the same untrained answers as
# the earlier stretches (scripts/train_chain.sh: 1,000 TriviaQA test answers, the 200 calibration answers for
# the Platt scalers, CommonsenseQA and MedQA, 500 each). `finish` also writes kl_optimum.md: both passes'
# policies against the KL optimum of the first pass's belief.
# Usage, from the repo root:  bash results/training/rd-smollm2-triviaqa-pass2/run.sh train|after|csqa|medqa|finish
#   STEP=975 bash .../run.sh checkpoint   (the step-975 checkpoint on the TriviaQA test answers: step975-triviaqa/)
# (runs/tqa-full must hold the first pass: ../rd-smollm2-triviaqa-full/run.sh train)
set -euo pipefail
R1=results/training/rd-smollm2-triviaqa-full
export TASK=triviaqa R=results/training/rd-smollm2-triviaqa-pass2 P=pass2 T=${T:-runs/tqa-pass2} W=${W:-runs/tqap2} \
       CONFIG=trainers/rewarding_doubt/configs/smollm2_triviaqa_cpu_pass2.yaml PREV=$R1/full-triviaqa \
       PLATT=expected,two-stage KL_POSTERIOR="$R1/full-triviaqa-platt#expected+platt"
exec bash scripts/train_chain.sh "$@"
