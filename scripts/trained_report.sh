#!/usr/bin/env bash
# A training experiment's comparison report (calbench report) without its per-sample pages: those are MiBs of
# HTML per run, and `calbench show RUN` renders the same table from the committed run folder. The report's links
# to them are replaced by a note saying so, and its figures that repeat a committed one link to that copy.
# Usage, from the repo root:  bash scripts/trained_report.sh OUT.md RUN#METHOD [RUN#METHOD ...]
set -euo pipefail
OUT=${1:?usage: trained_report.sh OUT.md RUN#METHOD [RUN#METHOD ...]}; shift
.venv/bin/calbench report "$@" --out "$OUT"
FILES="$(basename "${OUT%.md}")_files"
rm -f "$(dirname "$OUT")/$FILES"/samples_*.html
sed -i -E "s#\[table\]\($FILES/samples_[0-9]+\.html\)#not kept (\`calbench show\` the run)#" "$OUT"
# figures identical to ones committed elsewhere (the same run in another experiment's report) are linked there
.venv/bin/python scripts/compress_results.py results/training --dedupe-figures
