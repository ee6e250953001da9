#!/usr/bin/env bash
# The package as a user installs it: a wheel (not editable), core dependencies only, used from a
# directory outside this repository. Runs the smoke LoRA benchmarks there against the committed
# baselines, so fixtures found through the package (not the checkout) and the pytest11 entry point
# of a core install are both exercised.
#   LLMBENCH_TORCH   torch requirement (default torch==2.13.0, the CPU build)
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

python3 -m venv "$work/venv"
"$work/venv/bin/python" -m pip install -q --upgrade pip
"$work/venv/bin/python" -m pip install -q "${LLMBENCH_TORCH:-torch==2.13.0}"
"$work/venv/bin/python" -m pip wheel -q --no-deps -w "$work/dist" "$repo" 2>"$work/wheel-build.log" \
    || { cat "$work/wheel-build.log"; exit 1; }
"$work/venv/bin/python" -m pip install -q "$work"/dist/llmbench-*.whl

# A user's project: the benchmarks and baselines copied, no src/ and no fixtures/ beside them.
mkdir "$work/project"
cp -r "$repo/benchmarks" "$repo/baselines" "$repo/conftest.py" "$work/project/"
cd "$work/project"
help_text="$("$work/venv/bin/pytest" --help)"
grep -q -- "--bench-profile" <<<"$help_text" || { echo "pytest --help lacks llmbench's options"; exit 1; }
"$work/venv/bin/pytest" benchmarks/test_lora_ranks.py --bench-profile smoke --no-cost-compare \
    -p no:cacheprovider -q
echo "wheel install: core dependencies, smoke LoRA from $work/project passed"
