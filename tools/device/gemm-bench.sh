#!/usr/bin/env bash
# On the GPU machine, in ONE device call (~3 minutes): the tensor-core GEMM alone. ptxas -v on its PTX, CUDA vs HF
# float32 on prompts of 9 and 1000 tokens (the prefill runs through the GEMM, so a wrong fragment shows here), then
# torch.matmul bf16 and our GpuGemmBenchmarks (tensor-core methods) on the model's shapes, one after the other, and the
# ratios. Expects .device/dotnet-rt.tar.xz and .device/app.tar.xz (tools/device/pack-app.sh); with .device/app-alt.tar.xz
# (another commit's app.tar.xz, renamed), that build's GEMM suite too.
# With AB=1 and .device/app-base.tar.xz (an earlier build, as for ab-compare.sh), and only if the HF check agreed,
# then: time to first token, and batch-1 decode and offline throughput (default, and bf16 throughout) of both builds on
# this machine (~4 more minutes); PROFILE=1 adds this build's offline profile by operation and a batch-1 profile under ncu.
# Usage: [AB=1] [PROFILE=1] gemm-bench.sh [NUM_PROMPTS] [INPUT_LEN] [OUTPUT_LEN]
set -uo pipefail
source tools/device/setup.sh
n=${1:-1000}; in=${2:-1024}; out=${3:-256}
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | tee $OUT/gpu.txt
cat .device/app/commit.txt | tee -a $OUT/gpu.txt
cli="dotnet .device/app/specialized.dll"
ck=/tmp/q05
echo "== ptxas"
ptxas=$(python3 -c "import triton, os; print(os.path.join(os.path.dirname(triton.__file__), 'backends/nvidia/bin/ptxas'))" 2>/dev/null)
for f in .device/ptx/TensorCoreGemmKernel*.ptx; do timeout 60 $ptxas -arch=sm_90 -v "$f" -o /dev/null 2>&1 | tail -2 | sed "s|^|$(basename $f): |"; done
timeout 120 $cli make-random-checkpoint --config models/Qwen2.5-0.5B-Instruct/config.json --out $ck --seed 1 --tokenizer models/qwen-tokenizer > /dev/null
echo "== CUDA vs HF float32: prompts of 9 and 1000 tokens, 16 greedy"
cuda_vs_hf "$cli" $ck
# Greedy agreement on every clear step of both cases: the GEMM is right (a wrong fragment moves logits by far more).
agreed=$(hf_agreed)
echo "agreed with HF: $agreed"
echo "== torch.matmul bf16 at M=4096"
timeout 90 python3 tools/device/torch_baselines.py matmul --out $OUT/torch_matmul.json 2>&1 | tail -6
echo "== GpuGemmBenchmarks (tensor core)"
gemm_suite .device/app bdn
if [ -f .device/app-alt.tar.xz ]; then
  # Another GEMM (an app.tar.xz of another commit, renamed): its suite too, for the kernels' ratio on this machine.
  mkdir -p .device/alt && tar xJf .device/app-alt.tar.xz -C .device/alt && cat .device/alt/app/commit.txt
  echo "== GpuGemmBenchmarks (tensor core), the other build"
  gemm_suite .device/alt/app bdn-alt
fi

[ -n "${AB:-}" ] && [ "$agreed" = 1 ] || exit 0
mkdir -p .device/base && tar xJf .device/app-base.tar.xz -C .device/base
cat .device/base/app/commit.txt | tee -a $OUT/gpu.txt
echo "== time to first token from process start, 2 runs"
for i in 1 2; do
  s=$(date +%s.%N); timeout 60 $cli generate --model $ck --prompt Hello --max-new-tokens 1 --temperature 0 --device cuda --json > /dev/null 2>&1
  python3 -c "print(f'{$(date +%s.%N) - $s:.2f} s')"
done
b() { offline $1 150 "${@:2}"; }
for app in .device/base/app .device/app; do echo "== $app: decode batch 1, prompt 128, 256 new"; b $app --num-prompts 1 --input-len 128 --output-len 256; done
for app in .device/base/app .device/app; do echo "== $app: offline $n x $in/$out"; b $app --num-prompts $n --input-len $in --output-len $out; done
for app in .device/base/app .device/app; do echo "== $app: offline, bf16 activations and KV cache"; b $app --num-prompts $n --input-len $in --output-len $out --bf16-activations --kv-cache-dtype bf16; done
[ -n "${PROFILE:-}" ] || exit 0
echo "== this build, profiled: offline, bf16 activations and KV cache"
SPECIALIZED_PROFILE_OPS=$OUT/ops_offline.txt b .device/app --num-prompts $n --input-len $in --output-len $out --bf16-activations --kv-cache-dtype bf16; cat $OUT/ops_offline.txt
echo "== this build: kernel by kernel under ncu, batch 1 (prompt 128, 8 new)"
ARGS="--max-total-tokens 4096" timeout 150 bash tools/device/profile-kernels.sh 1 128 8 2>&1 | tail -30
