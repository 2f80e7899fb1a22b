#!/usr/bin/env bash
# Device call 2 of 3 -- carry: .dev/p2
# Stashes part 2 of the SmolLM2 GGUF (the machine must still be the warm one from call 1).
set -euo pipefail
test -f "$HOME/m/p1" || { echo "step2: $HOME/m/p1 is missing: the machine is not the one of call 1; start again with step1"; exit 3; }
cp .dev/p2 "$HOME/m/p2"
ls -la "$HOME/m"
echo "step2 ok"
