#!/usr/bin/env bash
# Issue 14, part 2, natural answers with beta 0.1: after training (README) and eval.sh. Fits a Platt scaler on the
# trained model's expected readout (calibration split), copies the run folders here (samples xz-compressed, figures as
# palette PNGs), writes the SciQ comparison report and the tables against the untrained readouts and the post-hoc
# scalers of ../rd-smollm2-sciq-natural-exact/.
# Usage, from the repo root:  W=runs/natbw T=runs/natural-beta bash results/training/rd-smollm2-sciq-natural-beta/finish.sh
set -euo pipefail
export PYTHONUNBUFFERED=1 TOKENIZERS_PARALLELISM=false HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1
W=${W:-runs/natbw}; T=${T:-runs/natural-beta}; R=results/training/rd-smollm2-sciq-natural-beta
B=results/training/rd-smollm2-sciq-natural-exact; CB=.venv/bin/calbench
log() { echo "[finish $(date -u +%T) +${SECONDS}s] $*"; }
# a post-hoc Platt scaler on the trained model's expected readout, fitted on the same 300 SciQ validation
# questions (the untrained model's answers, ../rd-smollm2-sciq-natural-exact/cal-sciq) as the baselines' scalers
if [ -f "$W/after-cal-sciq/run.json" ]; then
  [ -d "$W/after-sciq-platt" ] || $CB calibrate --fit "$W/after-cal-sciq" --apply "$W/after-sciq" --scaler platt \
      --confidence-methods expected --out "$W/after-sciq-platt"
  [ -d "$W/after-sciq-platt-0-10" ] || $CB calibrate --fit "$W/after-cal-sciq" --apply "$W/after-sciq" \
      --scaler platt --stated-scale 0-10 --confidence-methods expected --out "$W/after-sciq-platt-0-10"
fi
log "copying the runs"
for d in "$W"/after-*; do [ -d "$d" ] && rm -rf "$R/$(basename "$d")" && cp -r "$d" "$R/"; done
mkdir -p "$R/train"
for f in config.yaml train_log.jsonl training_curve.png summary.json; do [ -f "$T/$f" ] && cp "$T/$f" "$R/train/"; done
# the training answers are those of ../rd-smollm2-sciq-natural-4800/train/answers.jsonl.gz (checked, not copied)
zcat results/training/rd-smollm2-sciq-natural-4800/train/answers.jsonl.gz | cmp - "$T/answers.jsonl"
.venv/bin/python scripts/compress_results.py "$R" --png --min-bytes 0
log "report"
# the trained stated readout (reference) against the untrained stated, expected and likelihood readouts, the best
# baseline (Platt-scaled likelihood), the beta-0 run, and the trained expected readout raw and Platt-scaled
SYS=("$R/after-sciq#two-stage" "$B/before-sciq#two-stage" "$B/before-sciq#expected" "$B/before-sciq#seq-likelihood-mean"
     "$B/before-sciq-platt#seq-likelihood-mean+platt" "$B/after-sciq#two-stage" "$R/after-sciq#expected")
[ -d "$R/after-sciq-platt" ] && SYS+=("$R/after-sciq-platt#expected+platt")
$CB report "${SYS[@]}" --out "$R/report_sciq.md"
ARGS=()
for t in sciq medqa commonsenseqa; do
  for s in $B/before-$t $B/before-$t-platt $B/before-$t-platt-0-10 $R/after-$t $R/after-$t-platt $R/after-$t-platt-0-10; do [ -d "$s" ] && ARGS+=("$s"); done
done
.venv/bin/python scripts/trained_tables.py "${ARGS[@]}" > "$R/tables.md"
log "done"
