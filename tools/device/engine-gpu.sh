#!/usr/bin/env bash
# On the GPU machine, in one device call: the engine on CUDA with a Qwen2.5-0.5B-shape random checkpoint — the
# OfflineBatch sample (four modes), batch-1 decode through the engine, and SGLang's offline-throughput benchmark.
# Expects .device/dotnet-rt.tar.xz and .device/app.tar.xz (tools/device/pack-app.sh; setup.sh unpacks them).
# Usage: engine-gpu.sh [NUM_PROMPTS] [INPUT_LEN] [OUTPUT_LEN]   (defaults 1000 1024 256, SGLang's setting here)
set -uo pipefail
source tools/device/setup.sh
n=${1:-1000}; in=${2:-1024}; out=${3:-256}
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | tee $OUT/gpu.txt
git log -1 --format='commit %H' 2>/dev/null | tee -a $OUT/gpu.txt
ck=/tmp/q05
[ -f $ck/model.safetensors ] || timeout 120 dotnet .device/app/specialized.dll make-random-checkpoint --config models/Qwen2.5-0.5B-Instruct/config.json --out $ck --seed 1 --tokenizer models/qwen-tokenizer
echo "== OfflineBatch sample on cuda"
timeout 180 dotnet .device/app/OfflineBatch.dll $ck --device cuda 2>&1 | tail -12 | tee $OUT/sample.log
echo "== decode, batch 1, prompt 128, 256 new tokens, through the engine"
timeout 180 dotnet .device/app/OfflineThroughput.dll --model $ck --device cuda --num-prompts 1 --input-len 128 --output-len 256 \
  --json $OUT/decode_bs1.json 2>&1 | tail -14 | tee $OUT/decode_bs1.log
echo "== offline throughput: $n prompts, input $in, output $out"
timeout 400 dotnet .device/app/OfflineThroughput.dll --model $ck --device cuda --num-prompts $n --input-len $in --output-len $out \
  --json $OUT/offline_throughput.json 2>&1 | tail -14 | tee $OUT/offline_throughput.log
