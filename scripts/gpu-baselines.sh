#!/usr/bin/env bash
# CUDA baselines from one GPU session: a preflight (about ten seconds: CUDA visible, the
# bitsandbytes CUDA kernels load, the plugin registers once) that stops at once naming what is
# missing; then every benchmark the nightly runs (-m gpu) with --update-baselines; then the same
# again without it, judged against the baselines just written. Prints where the reports and the
# baselines went.
#   usage: bash scripts/gpu-baselines.sh [extra pytest args]
# Assumes torch with CUDA, transformers and peft are installed (as on the lent GPU image);
# bitsandbytes comes from .whl/ when it holds wheels (a machine without network: see
# ../shared/tools/gpu-wheels). The project need not be installed: llmbench loads from src/.
# Reports go to $OUT/gpu (or .llmbench/gpu); with $OUT set, the baselines written are also
# packed into $OUT/gpu-baselines.tgz (the working tree of a lent machine does not come back).
set -euo pipefail
cd "$(dirname "$0")/.."

# What the nightly runs (.github/workflows/nightly-gpu.yml); tests/test_gpu_baselines_script.py
# checks that both select the same benchmarks.
SELECTION=(benchmarks -m gpu)
# The plugin exactly once, whether llmbench is installed or not: the entry point (if any) is
# blocked and the module loaded from src/ (an entry point and -p together make pytest stop with
# "Plugin already registered under a different name").
PLUGIN=(-p no:llmbench -p llmbench.pytest_plugin)

if ls .whl/*.whl >/dev/null 2>&1; then
  site=$(mktemp -d)
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
    --target "$site" .whl/*.whl
  export PYTHONPATH="$site:$PWD/src${PYTHONPATH:+:$PYTHONPATH}"
else
  export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}"
fi

python3 -m llmbench.tools.gpu_preflight "${PLUGIN[@]}"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv || true

report="${OUT:-.llmbench}/gpu"
run=(python3 -m pytest "${PLUGIN[@]}" "${SELECTION[@]}" -p no:randomly -p no:cacheprovider
     -o addopts="" --no-bench-history)
start=$(date +%s)
since=$(mktemp)  # baselines newer than this file were written by this session
recorded=0
"${run[@]}" --update-baselines --bench-report "$report/update" "$@" || recorded=$?
echo "recording run: exit $recorded after $(( $(date +%s) - start )) s"
checked=skipped
if [ "$recorded" -le 1 ]; then  # 1: some benchmarks failed; the others have their baselines
  checked=0
  "${run[@]}" --bench-report "$report/check" "$@" || checked=$?
fi
echo "check run: exit $checked; both runs took $(( $(date +%s) - start )) s"

echo "reports: $report/update/results.json (recording run), $report/check/results.json" \
     "(check run), each with summary.md beside it"
mapfile -t written < <(find baselines -name '*.json' -newer "$since" | sort)
echo "baselines written: ${#written[@]} files"
printf '  %s\n' "${written[@]}"
if [ -n "${OUT:-}" ] && [ "${#written[@]}" -gt 0 ]; then
  tar czf "$OUT/gpu-baselines.tgz" "${written[@]}"
  echo "packed into $OUT/gpu-baselines.tgz"
fi
[ "$recorded" -eq 0 ] && [ "$checked" = 0 ]
