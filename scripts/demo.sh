#!/usr/bin/env bash
# The main job: render the embedded corpus and run the whole study on it (set-up included).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/timbral run --preset "${PRESET:-demo}" --out "${OUT:-runs/demo}" "$@"
