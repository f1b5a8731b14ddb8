#!/usr/bin/env bash
# On the GPU machine: batch-1 decode of this build against the base (.device/app-base.tar.xz), plain runs alternated
# (base, this, this without the grid-dependency prologue; twice), then each timed operation by operation (SPECIALIZED_PROFILE_OPS: CUDA events around every
# seam call, launch by launch) to say which operation a difference lives in. ~3 minutes.
set -uo pipefail
source tools/device/setup.sh
ck=/tmp/q05
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader | tee $OUT/gpu.txt
mkdir -p .device/base && tar xJf .device/app-base.tar.xz -C .device/base
cat .device/app/commit.txt .device/base/app/commit.txt | tee -a $OUT/gpu.txt
timeout 120 dotnet .device/app/specialized.dll make-random-checkpoint --config models/Qwen2.5-0.5B-Instruct/config.json --out $ck --seed 1 \
  --tokenizer models/qwen-tokenizer > /dev/null
bs1() { offline $1 60 --num-prompts 1 --input-len 128 --output-len 256 "${@:2}" | grep -E "Output|ITL"; }
for i in 1 2; do
  for app in .device/base/app .device/app; do echo "== $app"; bs1 $app; done
  echo "== .device/app, SPECIALIZED_PROGRAMMATIC_LAUNCH=off"; SPECIALIZED_PROGRAMMATIC_LAUNCH=off bs1 .device/app
done
for app in base/app app; do
  echo "== $app: operation by operation"
  SPECIALIZED_PROFILE_OPS=$OUT/ops_${app%%/*}.txt bs1 .device/$app > /dev/null
  head -40 $OUT/ops_${app%%/*}.txt
done
