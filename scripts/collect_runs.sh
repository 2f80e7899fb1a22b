#!/usr/bin/env bash
# Copy finished calbench run folders into a results folder and compress the folder as the results tree keeps it
# (samples and logs xz, figures palette PNGs; scripts/compress_results.py). A run still in progress (run.json not
# "complete") is skipped with a line saying so; a rerun replaces the earlier copy.
# Usage, from the repo root:  bash scripts/collect_runs.sh RESULTS_DIR [RUN_DIR ...]
set -euo pipefail
R=${1:?usage: collect_runs.sh RESULTS_DIR [RUN_DIR ...]}; shift
mkdir -p "$R"
for d in "$@"; do
  grep -q '"status": "complete"' "$d/run.json" 2>/dev/null || { echo "[collect] skipped $d (not complete)"; continue; }
  rm -rf "${R:?}/$(basename "$d")" && cp -r "$d" "$R/"
done
# a rerun copies plain files over compressed ones: the fresh plain copy replaces the stale compressed one
find "$R" -name '*.xz' | while read -r f; do if [ -f "${f%.xz}" ]; then rm "$f"; fi; done
.venv/bin/python scripts/compress_results.py "$R" --png --min-bytes 0
