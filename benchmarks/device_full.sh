#!/bin/bash
# The device call of benchmarks/device_full.py (read its docstring first): on a lent GPU
# machine, from the repository root, carrying the prepared data:
#     bash benchmarks/device_full.sh points|molecules MINUTES
# Everything lands in $OUT (at most 8 files of 16 MB come back): report.txt (the GPU, the
# CUDA tests, the training log), best.pt, metrics.jsonl, config.json, and latest.pt cut into
# 15 MB parts (latest.pt.part-aa, -ab, ...: `cat` them together to resume in a later session).
# Plan MINUTES so that start-up, tests and copying fit the call's 10 minutes.
# (TRAIN_DEVICE=cpu tries the same path on a machine without a GPU.)
set -uo pipefail
kind=$1
minutes=$2
out=${OUT:?run this through the device tool, which sets OUT}
report=$out/report.txt
export PYTHONUNBUFFERED=1 PYTHONPATH=$PWD
if compgen -G ".whl/*.whl" > /dev/null; then
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target /tmp/site .whl/*.whl \
        && export PYTHONPATH=$PYTHONPATH:/tmp/site
fi
{ date -u; nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv; } > "$report" 2>&1
timeout 120 python3 -m pytest -q -p no:cacheprovider tests/training/test_failures.py -k cuda >> "$report" 2>&1
run=.device/run-$kind
timeout -k 60 $(( ${minutes%.*} * 60 + 240 )) python3 benchmarks/device_full.py train "$kind" --minutes "$minutes" \
    --out "$run" --device "${TRAIN_DEVICE:-cuda}" >> "$report" 2>&1
echo "train exit $? at $(date -u)" >> "$report"
cp "$run/checkpoints/best.pt" "$run/metrics.jsonl" "$run/config.json" "$out/" 2>> "$report"
split -b 15M "$run/checkpoints/latest.pt" "$out/latest.pt.part-" 2>> "$report"
tail -n 8 "$report"
