#!/usr/bin/env bash
# On the GPU machine: where the offline benchmark's GPU time goes, operation by operation (SPECIALIZED_PROFILE_OPS:
# every seam call timed with CUDA events, launch by launch), next to the plain runs of the same commit on the same
# machine. Expects .device as gpu-bench.sh does (tools/device/pack-app.sh).
# Usage: profile-ops.sh [NUM_PROMPTS] [INPUT_LEN] [OUTPUT_LEN] [EXTRA OfflineThroughput args...]
set -uo pipefail
source tools/device/setup.sh
n=${1:-1000}; in=${2:-1024}; out=${3:-256}; shift 3 2>/dev/null; extra=("$@")
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | tee $OUT/gpu.txt
cat .device/app/commit.txt 2>/dev/null | tee -a $OUT/gpu.txt
ck=/tmp/q05
timeout 120 dotnet .device/app/specialized.dll make-random-checkpoint --config models/Qwen2.5-0.5B-Instruct/config.json --out $ck --seed 1 \
  --tokenizer models/qwen-tokenizer > /dev/null
bench() { timeout 240 dotnet .device/app/OfflineThroughput.dll --model $ck --device cuda "$@" 2>&1 | grep -E "duration|Output token|TTFT|ITL|rror|xception"; }
echo "== plain: decode batch 1, prompt 128, 256 new"; bench --num-prompts 1 --input-len 128 --output-len 256 "${extra[@]}"
echo "== plain: offline $n x $in/$out"; bench --num-prompts $n --input-len $in --output-len $out "${extra[@]}"
echo "== profiled: offline $n x $in/$out"
SPECIALIZED_PROFILE_OPS=$OUT/ops_offline.txt bench --num-prompts $n --input-len $in --output-len $out "${extra[@]}"
cat $OUT/ops_offline.txt
echo "== profiled: decode batch 1 (launch by launch: the host's launches show in the gaps)"
SPECIALIZED_PROFILE_OPS=$OUT/ops_bs1.txt bench --num-prompts 1 --input-len 128 --output-len 256 "${extra[@]}"
head -30 $OUT/ops_bs1.txt
