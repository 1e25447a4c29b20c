#!/usr/bin/env bash
# Train the sparse60 model on a CUDA machine without package registries.
#
# Prepare here (the machine with the registries), in the repository root:
#   mkdir -p .devdata && echo /.devdata/ >> .git/info/exclude
#   .venv/bin/python benchmarks/train_sparse60.py --save-npz .devdata/chest.npz
#   python3 -m pip download --no-deps --only-binary=:all: --python-version 3.12 \
#       --implementation cp --platform manylinux_2_28_x86_64 -d .devdata/whl \
#       connected-components-3d edt fill-voids fastremap
# Then run this script there with .devdata carried along. It trains STEPS steps (stopped after
# LIMIT_S seconds, keeping the last checkpoint) and leaves in $OUT (default ./gpu-out):
# train.log, sparse60.safetensors, sparse60.json (the model card, with seconds per step),
# log.csv and, when stopped early, last.safetensors.
# With TIMING=1 it first times 60 steps alone (timing.json). EXTRA passes more options to
# train_sparse60.py, e.g. EXTRA="--base-channels 24 --depth 5", or
# EXTRA="--refine sparse60 --base-channels 8" for the cascade's second network.
set -uo pipefail
OUT=${OUT:-gpu-out}
STEPS=${STEPS:-3000}
LIMIT_S=${LIMIT_S:-600}
mkdir -p "$OUT"
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
    --target /tmp/site .devdata/whl/*.whl || exit 1
export PYTHONPATH=/tmp/site:src PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader
train="python3 benchmarks/train_sparse60.py --device cuda --chest-npz .devdata/chest.npz"
if [ "${TIMING:-0}" = 1 ]; then
    $train --steps 60 --time-only -o /tmp/timing | tee "$OUT/timing.json"
fi
# shellcheck disable=SC2086  # EXTRA holds several options
timeout "$LIMIT_S" $train --steps "$STEPS" ${EXTRA:-} -o /tmp/run > "$OUT/train.log" 2>&1
cp /tmp/run/sparse60.safetensors /tmp/run/sparse60.json "$OUT/" 2>/dev/null \
    || cp /tmp/run/run/last.safetensors "$OUT/"
cp /tmp/run/run/log.csv "$OUT/"
tail -3 "$OUT/train.log"
