#!/usr/bin/env bash
# Copy a finished rewarding-doubt run's record (config.yaml, train_log.jsonl, training_curve.png, summary.json)
# into a results folder, the training curve first redrawn over the whole chain when the run continues others
# (continue_from). The adapter and checkpoints stay out (model weights are never committed).
# Usage, from the repo root:  bash scripts/collect_train.sh RUN_DIR DEST_DIR
set -euo pipefail
T=${1:?usage: collect_train.sh RUN_DIR DEST_DIR}; D=${2:?usage: collect_train.sh RUN_DIR DEST_DIR}
mkdir -p "$D"
.venv/bin/python -m trainers.rewarding_doubt.continuation "$T"
for f in config.yaml train_log.jsonl training_curve.png summary.json; do cp "$T/$f" "$D/"; done
