#!/usr/bin/env bash
# Issue 14, part 2, natural answers with beta 0.02: after training (README) and eval.sh. Fits the Platt scalers
# (on the 300-question SciQ calibration split of ../rd-smollm2-sciq-natural-exact/, as for every baseline),
# copies the run folders here (samples xz-compressed, figures as palette PNGs), writes the SciQ comparison report
# and the tables against the untrained readouts and their post-hoc scalers.
# Usage, from the repo root:  W=runs/natb2w T=runs/natural-beta002 A=runs/natb2-anneal/train bash results/training/rd-smollm2-sciq-natural-beta002/finish.sh
set -euo pipefail
export PYTHONUNBUFFERED=1 TOKENIZERS_PARALLELISM=false HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1
W=${W:-runs/natb2w}; T=${T:-runs/natural-beta002}; R=results/training/rd-smollm2-sciq-natural-beta002
B=results/training/rd-smollm2-sciq-natural-exact; NB=results/training/rd-smollm2-sciq-natural-beta; CB=.venv/bin/calbench
log() { echo "[finish $(date -u +%T) +${SECONDS}s] $*"; }
platt() {  # platt FIT APPLY OUT METHODS: Platt scalers, raw and rounded to the 0-10 levels
  [ -d "$3" ] || $CB calibrate --fit "$1" --apply "$2" --scaler platt --confidence-methods "$4" --out "$3"
  [ -d "$3-0-10" ] || $CB calibrate --fit "$1" --apply "$2" --scaler platt --stated-scale 0-10 \
      --confidence-methods "$4" --out "$3-0-10"
}
[ -f "$W/after-cal-sciq/run.json" ] && platt "$W/after-cal-sciq" "$W/after-sciq" "$W/after-sciq-platt" expected
# the untrained baselines on the 500 CommonsenseQA questions, scaled as ../rd-smollm2-sciq-natural-exact/ scales them
[ -d "$W/before-commonsenseqa-500" ] && platt "$W/cal-sciq" "$W/before-commonsenseqa-500" \
    "$W/before-commonsenseqa-500-platt" expected,seq-likelihood-mean,seq-likelihood-prod,ptrue
# MedQA extended to 500 questions (eval.sh lane medqa-500), its baselines scaled the same way
[ -d "$W/before-medqa-500" ] && platt "$W/cal-sciq" "$W/before-medqa-500" \
    "$W/before-medqa-500-platt" expected,seq-likelihood-mean,seq-likelihood-prod,ptrue
log "copying the runs"
for d in "$W"/after-* "$W"/before-commonsenseqa-500* "$W"/before-medqa-500*; do
  [ -d "$d" ] && rm -rf "$R/$(basename "$d")" && cp -r "$d" "$R/"
done
mkdir -p "$R/train"
for f in config.yaml train_log.jsonl training_curve.png summary.json; do [ -f "$T/$f" ] && cp "$T/$f" "$R/train/"; done
# the training answers are those of ../rd-smollm2-sciq-natural-4800/train/answers.jsonl.gz (checked, not copied)
zcat results/training/rd-smollm2-sciq-natural-4800/train/answers.jsonl.gz | cmp - "$T/answers.jsonl"
# the follow-up with beta 0.005 (README): its log (steps 500 on are the follow-up) and summary
A=${A:-runs/natb2-anneal/train}
if [ -f "$A/summary.json" ]; then mkdir -p "$R/anneal" && cp "$A/train_log.jsonl" "$A/summary.json" "$R/anneal/"; fi
# a rerun copies plain files over compressed ones: the fresh plain copy replaces the stale compressed one
find "$R" -name '*.xz' | while read -r f; do if [ -f "${f%.xz}" ]; then rm "$f"; fi; done
.venv/bin/python scripts/compress_results.py "$R" --png --min-bytes 0
log "report"
# the trained stated readout (reference) against the untrained stated, expected and likelihood readouts, the best
# baseline (Platt-scaled likelihood), the beta-0.1 run, and this run's expected readout raw and Platt-scaled
SYS=("$R/after-sciq#two-stage" "$B/before-sciq#two-stage" "$B/before-sciq#expected" "$B/before-sciq#seq-likelihood-mean"
     "$B/before-sciq-platt#seq-likelihood-mean+platt" "$NB/after-sciq#two-stage" "$NB/after-sciq#expected"
     "$R/after-sciq#expected")
[ -d "$R/after-sciq-platt" ] && SYS+=("$R/after-sciq-platt#expected+platt")
$CB report "${SYS[@]}" --out "$R/report_sciq.md"
# the per-sample pages (~3 MiB) are not committed: calbench show reads the run folders
rm -f "$R"/report_sciq_files/samples_*.html
sed -i -E 's#\[table\]\(report_sciq_files/samples_[0-9]+\.html\)#not kept (`calbench show` the run)#' "$R/report_sciq.md"
ARGS=()
for s in $B/before-sciq $B/before-sciq-platt $B/before-sciq-platt-0-10 $R/after-sciq $R/after-sciq-platt \
         $R/after-sciq-platt-0-10 $B/before-medqa $B/before-medqa-platt $B/before-medqa-platt-0-10 $R/after-medqa \
         $R/before-commonsenseqa-500 $R/before-commonsenseqa-500-platt $R/before-commonsenseqa-500-platt-0-10 \
         $R/after-commonsenseqa-500 $R/before-medqa-500 $R/before-medqa-500-platt $R/before-medqa-500-platt-0-10 \
         $R/after-medqa-500; do
  [ -d "$s" ] && ARGS+=("$s")
done
.venv/bin/python scripts/trained_tables.py "${ARGS[@]}" > "$R/tables.md"
log "done"
