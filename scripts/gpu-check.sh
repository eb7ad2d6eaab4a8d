#!/usr/bin/env bash
# The acestep engine on a machine with a GPU: the CPU tests of the engine (tiny random checkpoint),
# then a bf16 timing run on CUDA (seconds per minute of audio, peak GPU memory).
#
#   SONGFORGE_ACESTEP_WEIGHTS=/models/acestep-v15-turbo-diffusers scripts/gpu-check.sh [--seconds 60]
#
# Without SONGFORGE_ACESTEP_WEIGHTS the timing run uses the tests' tiny random checkpoint on CUDA: it
# checks the bf16/CUDA code path and says so, but its figures are not the model's. Figures go to
# benchmarks/results/acestep_speed.json. Exits non-zero when a test fails or there is no CUDA device.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}

"$PY" - <<'PYEOF'
import sys
import torch
if not torch.cuda.is_available():
    sys.exit("gpu-check: PyTorch sees no CUDA device (torch %s)" % torch.__version__)
print("gpu-check: %s, torch %s, CUDA %s" % (torch.cuda.get_device_name(0), torch.__version__, torch.version.cuda))
PYEOF

# 1. The same tests as CI (they pin SONGFORGE_ACESTEP_DEVICE=cpu and the tiny checkpoint).
"$PY" -m pytest -q -p no:cacheprovider \
  tests/engines/test_acestep.py tests/engines/test_acestep_extend.py tests/dialects/test_acestep_routing.py \
  tests/e2e/test_acestep_e2e.py

# 2. The timing run, bf16 on CUDA.
export SONGFORGE_ACESTEP_DEVICE=${SONGFORGE_ACESTEP_DEVICE:-cuda}
mkdir -p benchmarks/results
tiny=()
if [ -z "${SONGFORGE_ACESTEP_WEIGHTS:-}" ]; then
  echo "gpu-check: SONGFORGE_ACESTEP_WEIGHTS is not set: timing the tiny random checkpoint (code path only)"
  tiny=(--tiny)
fi
"$PY" benchmarks/acestep_speed.py "${tiny[@]}" --json benchmarks/results/acestep_speed.json "$@"
