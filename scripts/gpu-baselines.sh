#!/usr/bin/env bash
# Produce CUDA figures and baselines on a GPU machine in one short run (target: under 6 minutes
# per suite on one H100). Assumes torch with CUDA, transformers and peft are already installed
# (as on the lent GPU image); bitsandbytes comes from .whl/ (see ../shared/tools/gpu-wheels).
#   usage: bash scripts/gpu-baselines.sh [extra pytest args]
# Writes the report to $OUT (or .llmbench/gpu) and rewrites the opt-350m-random CUDA entries
# under baselines/.
set -euo pipefail
cd "$(dirname "$0")/.."
if ls .whl/*.whl >/dev/null 2>&1; then
  S=$(mktemp -d)
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
    --target "$S" .whl/*.whl
  export PYTHONPATH="$S:$PWD/src${PYTHONPATH:+:$PYTHONPATH}"
else
  export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}"
fi
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv
report="${OUT:-.llmbench}/gpu"
python3 -m pytest -p llmbench.pytest_plugin benchmarks -m "gpu and (lora or quant)" \
  --bench-profile opt-350m-random --update-baselines --bench-report "$report" \
  -o addopts="" -p no:cacheprovider "$@"
