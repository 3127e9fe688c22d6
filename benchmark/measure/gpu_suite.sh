#!/usr/bin/env bash
# Every GPU figure of `vidtr-bench speed` in one command, so that one call on a machine with a
# GPU measures them all:
#
#   bash benchmark/measure/gpu_suite.sh [OUT_DIR] [STEPS]   # default results/performance, "infer train memory"
#
# STEPS picks among infer, train and memory, to split the suite over calls with a time limit.
#
# On a machine that lacks the project's pure-Python dependencies (the lent GPU machines
# have torch but no mmengine/mmaction2/fvcore), build them here first with
# `make gpu-wheels` and carry `.whl`: the script installs them into /tmp/site.
# Each step writes its own speed_<mode>_<dtype>[...]_cuda.{csv,md}; a step that fails
# is reported, the others still run, and the script exits 1.
set -uo pipefail
OUT=${1:-results/performance}
STEPS=${2:-infer train memory}
PY=${PYTHON:-python3}
if ! $PY -c "import mmaction, mmengine, fvcore" 2>/dev/null; then
  [ -d .whl ] || { echo "gpu_suite: mmaction2/mmengine/fvcore missing and no .whl/ to install (make gpu-wheels)"; exit 2; }
  $PY -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 2
  export PYTHONPATH=/tmp/site${PYTHONPATH:+:$PYTHONPATH}
fi
export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH} PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
$PY -c "import torch; print('torch', torch.__version__, torch.cuda.get_device_name())" || exit 2

FAILED=0
speed() {
  echo "== vidtr-bench speed $*"
  $PY -m benchmark.cli speed --device cuda --quiet --out "$OUT" "$@" || { echo "gpu_suite: FAILED: speed $*"; FAILED=$((FAILED + 1)); }
}
MODELS=vidtr_s_8x8,cvidtr_s_8x8,vanilla_tr_8x8
if [[ " $STEPS " == *" infer "* ]]; then
  # Inference vs the released structure: bf16 autocast, and fp32 (TF32 for all but 'released').
  speed --models $MODELS --dtype bf16 --batch 1,32 --iters 20 --warmup 5
  speed --models $MODELS --dtype fp32 --tf32 fast --batch 1,32 --iters 20 --warmup 5
fi
if [[ " $STEPS " == *" train "* ]]; then
  # VidTr-S bf16 training step: MFU over batch sizes, eager and compiled.
  speed --models vidtr_s_8x8 --impls sdpa --mode train --dtype bf16 --batch 8,16,32,64 --iters 10 --warmup 3
  speed --models vidtr_s_8x8 --impls sdpa --mode train --dtype bf16 --batch 16,32,64 --iters 10 --warmup 3 --compile
fi
if [[ " $STEPS " == *" memory "* ]]; then
  # Table 4b memory: joint vs separable at 16x224x224, batch 1, fp32 training step, both implementations.
  speed --models vanilla_tr_8x8,vidtr_s_8x8 --impls released,sdpa --mode train --dtype fp32 --frames 16 --batch 1 \
    --iters 3 --warmup 1
fi
echo "gpu_suite: $FAILED step(s) failed; results in $OUT"
[ "$FAILED" -eq 0 ]
