#!/usr/bin/env bash
# Device calls 2 .. N-1 -- carry: .dev/pK; run as `bash scripts/gpu/step2.sh pK` for K = 1 .. N-2
# Stashes one middle part of the SmolLM2 GGUF (the machine must still be the warm one from call 1).
set -euo pipefail
part=${1:?usage: step2.sh PART (p1, p2, ...)}
test -f "$HOME/m/p0" || { echo "step2: $HOME/m/p0 is missing: the machine is not the one of call 1; start again with step1"; exit 3; }
cp ".dev/$part" "$HOME/m/$part"
ls -la "$HOME/m"
echo "step2 $part ok"
