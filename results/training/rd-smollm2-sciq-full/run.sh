#!/usr/bin/env bash
# Issue 14, part 2: SmolLM2 on the whole SciQ training pool (11,679 questions). The chain: the beta-0.02 run over
# the first 4,800 questions of the pool's seeded order (../rd-smollm2-sciq-natural-beta002/, runs/natural-beta002),
# the second pass over them with kl_reference: uniform (../rd-smollm2-sciq-pass2/, runs/sciq-pass2), and this
# stretch: the second pass's adapter continued on the pool's other 6,879 questions (continue_with: rest), then
# scored on the same untrained answers as every earlier SciQ run (scripts/train_chain.sh: the 1,000 SciQ test
# answers, the 300 calibration answers for the Platt scalers, CommonsenseQA and MedQA, 500 each).
# Usage, from the repo root:  bash results/training/rd-smollm2-sciq-full/run.sh train|after|csqa|medqa|finish
# (runs/sciq-pass2 must hold the second pass: ../rd-smollm2-sciq-pass2/run.sh train)
set -euo pipefail
export TASK=sciq R=results/training/rd-smollm2-sciq-full P=full T=${T:-runs/sciq-full} W=${W:-runs/sciqf} \
       CONFIG=trainers/rewarding_doubt/configs/smollm2_sciq_natural_rest.yaml \
       PREV=results/training/rd-smollm2-sciq-pass2/pass2-sciq PLATT=expected,two-stage \
       NO_FIGURES="commonsenseqa-500 medqa-500"  # the unseen-domain runs (nothing carries over): the tree's size
exec bash scripts/train_chain.sh "$@"
