#!/usr/bin/env bash
# Issue 14, part 2: the TriviaQA second-pass recipe (kl_reference: uniform; ../rd-smollm2-triviaqa-pass2/) on
# SciQ. The beta-0.02 natural-answers run (../rd-smollm2-sciq-natural-beta002/, runs/natural-beta002: 500 steps
# over its 4,800-answer pool) is continued from its adapter over the pool again (continue_with: new_pass), then
# scored on the same untrained answers as the earlier SciQ runs (scripts/train_chain.sh: the 1,000 SciQ test
# answers, the 300 calibration answers for the Platt scalers, CommonsenseQA and MedQA, 500 each). `finish` also
# writes kl_optimum.md: both policies against the KL optimum of the likelihood's belief.
# Usage, from the repo root:  bash results/training/rd-smollm2-sciq-pass2/run.sh train|after|csqa|medqa|finish
#   STEP=575 bash .../run.sh checkpoint   (the step-575 checkpoint on the SciQ test answers: step575-sciq/)
# (runs/natural-beta002 must hold the first run: ../rd-smollm2-sciq-natural-beta002/README.md's command, with the
# trainer's --out folder moved there)
set -euo pipefail
B=results/training/rd-smollm2-sciq-natural-exact
export TASK=sciq R=results/training/rd-smollm2-sciq-pass2 P=pass2 T=${T:-runs/sciq-pass2} W=${W:-runs/sciqp2} \
       CONFIG=trainers/rewarding_doubt/configs/smollm2_sciq_natural_pass2.yaml \
       PREV=results/training/rd-smollm2-sciq-natural-beta002/after-sciq PLATT=expected,two-stage \
       KL_POSTERIOR="$B/before-sciq-platt#seq-likelihood-mean+platt"
exec bash scripts/train_chain.sh "$@"
