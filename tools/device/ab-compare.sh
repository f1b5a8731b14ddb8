#!/usr/bin/env bash
# On the GPU machine, in ONE device call: this build (.device/app.tar.xz) against an earlier one
# (.device/app-base.tar.xz: an app.tar.xz that tools/device/pack-app.sh made at the earlier commit, renamed), on the same
# machine: time to first token, CUDA vs HF float32, batch-1 decode and offline throughput of both, the offline run's
# profile by operation (SPECIALIZED_PROFILE_OPS), then HF eager and the gpt-fast recipe (SKIP_BASELINES=1 leaves
# these out). ~5 minutes, ~7 with the baselines.
# Usage: [TTFT_RUNS=3] [SKIP_BASELINES=1] ab-compare.sh [NUM_PROMPTS] [INPUT_LEN] [OUTPUT_LEN]
set -uo pipefail
source tools/device/setup.sh
n=${1:-1000}; in=${2:-1024}; out=${3:-256}
mkdir -p .device/base && tar xJf .device/app-base.tar.xz -C .device/base
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | tee $OUT/gpu.txt
cat .device/app/commit.txt .device/base/app/commit.txt | tee -a $OUT/gpu.txt
ck=/tmp/q05
cli="dotnet .device/app/specialized.dll"
timeout 120 $cli make-random-checkpoint --config models/Qwen2.5-0.5B-Instruct/config.json --out $ck --seed 1 --tokenizer models/qwen-tokenizer > /dev/null
echo "== time to first token from process start, ${TTFT_RUNS:-3} runs"
for i in $(seq ${TTFT_RUNS:-3}); do
  s=$(date +%s.%N)
  timeout 60 $cli generate --model $ck --prompt Hello --max-new-tokens 1 --temperature 0 --device cuda --json > /dev/null 2>&1
  python3 -c "print(f'{$(date +%s.%N) - $s:.2f} s')"
done
echo "== CUDA vs HF float32: prompts of 9 and 1000 tokens, 16 greedy"
cuda_vs_hf "$cli" $ck
timeout 90 $cli logits --model $ck --input-ids "$(cat /tmp/p1000.txt)" --max-new-tokens 16 --ignore-eos --device cuda --kv-cache-dtype bf16 \
  --out /tmp/k1000.bin > /tmp/k1000.json 2>> $OUT/hf.log
echo "== the same 1000-token case with a bf16 KV cache"
timeout 150 python3 tools/device/check_cuda_vs_hf.py --checkpoint $ck --case /tmp/p1000.txt /tmp/k1000.json /tmp/k1000.bin --out $OUT/cuda_vs_hf_bf16kv.json 2>&1 | tail -2
b() { offline $1 200 "${@:2}"; }
for app in .device/base/app .device/app; do echo "== $app: decode batch 1, prompt 128, 256 new"; b $app --num-prompts 1 --input-len 128 --output-len 256; done
for app in .device/base/app .device/app; do echo "== $app: offline $n x $in/$out"; b $app --num-prompts $n --input-len $in --output-len $out; done
echo "== this build: offline with bf16 activations"; b .device/app --num-prompts $n --input-len $in --output-len $out --bf16-activations
echo "== this build: offline with a bf16 KV cache"; b .device/app --num-prompts $n --input-len $in --output-len $out --kv-cache-dtype bf16
echo "== this build: offline with bf16 activations and a bf16 KV cache (SGLang's bf16 throughout)"
b .device/app --num-prompts $n --input-len $in --output-len $out --bf16-activations --kv-cache-dtype bf16
echo "== this build: decode batch 1 with a bf16 KV cache"; b .device/app --num-prompts 1 --input-len 128 --output-len 256 --kv-cache-dtype bf16
echo "== this build, profiled: offline"
SPECIALIZED_PROFILE_OPS=$OUT/ops_offline.txt b .device/app --num-prompts $n --input-len $in --output-len $out; cat $OUT/ops_offline.txt
[ -n "${SKIP_BASELINES:-}" ] && exit 0
echo "== HF transformers eager, batch 1"
timeout 120 python3 tools/device/torch_baselines.py hf-eager --checkpoint $ck --out $OUT/hf_eager.json 2>&1 | tail -1
echo "== PyTorch compiled (gpt-fast recipe), batch 1, prompt 128, 256 new"
timeout 200 python3 tools/device/torch_baselines.py compiled --checkpoint $ck --out $OUT/torch_compiled.json --prompt 128 --new 256 --compile-budget 120 2>&1 | tail -4
