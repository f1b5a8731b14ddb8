#!/usr/bin/env bash
# On the GPU machine, in ONE device call: our GPU benchmarks and the PyTorch baselines on the same shapes and
# checkpoint, then one table with the ratios ($OUT/table.md). Expects .device/dotnet-rt.tar.xz and
#   .device/app.tar.xz (tools/device/pack-app.sh: the CLI, the offline-throughput program and the BenchmarkDotNet suites;
#   tools/device/setup.sh unpacks it)
#   .device/ptx/*.ptx (kernels' PTX from tools/ptx, which pack-app.sh runs; checked with ptxas -v for registers and spills)
# Usage: [PROFILE=1] [BUDGET=540] [SUITES=quick|all] gpu-bench.sh [NUM_PROMPTS] [INPUT_LEN] [OUTPUT_LEN]
#   (offline throughput; SGLang's: 1000 1024 256). BUDGET: seconds the whole script may take; each step's timeout is cut to
#   what is left (less a margin for the table and the archive), so a slow step cannot cost the results of the others.
#   SUITES=quick (default) runs the GEMM and model suites; all adds the per-layer and GEMV suites (~3 more minutes).
set -uo pipefail
deadline=$((SECONDS + ${BUDGET:-540} - 20))
# The timeout for a step: its own cap, or what is left of the budget.
cap() { local left=$((deadline - SECONDS)); [ $left -lt 5 ] && left=5; echo $(( $1 < left ? $1 : left )); }
source tools/device/setup.sh
n=${1:-1000}; in=${2:-1024}; out=${3:-256}
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | tee $OUT/gpu.txt
cat .device/app/commit.txt 2>/dev/null | tee -a $OUT/gpu.txt   # written by pack-app.sh: the device's copy has no usable git history
cli="dotnet .device/app/specialized.dll"
ck=/tmp/q05

echo "== ptxas on the kernels' PTX"
ptxas=$(python3 -c "import triton, os; print(os.path.join(os.path.dirname(triton.__file__), 'backends/nvidia/bin/ptxas'))" 2>/dev/null)
for f in .device/ptx/*.ptx; do
  [ -f "$f" ] && timeout 60 $ptxas -arch=sm_90 -v "$f" -o /dev/null 2>&1 | tail -3 | sed "s|^|$(basename $f): |" | tee -a $OUT/ptxas.log
done

echo "== time to first token from process start (engine create + first generate, 1 token)"
timeout $(cap 120) $cli make-random-checkpoint --config models/Qwen2.5-0.5B-Instruct/config.json --out $ck --seed 1 --tokenizer models/qwen-tokenizer > /dev/null
start=$(date +%s.%N)
timeout $(cap 120) $cli generate --model $ck --prompt "Hello" --max-new-tokens 1 --temperature 0 --device cuda --json --log-level information \
  > $OUT/ttft_generate.json 2> $OUT/ttft_stages.log
python3 -c "import json; json.dump({'seconds': $(date +%s.%N) - $start}, open('$OUT/ttft_process.json', 'w'))"
cat $OUT/ttft_process.json; echo; tail -12 $OUT/ttft_stages.log

echo "== CUDA vs HF float32 on a 1000-token prompt (prefill through the tensor-core GEMM)"
python3 -c "import numpy as np; print(','.join(str(int(x)) for x in np.random.default_rng(7).integers(0,151000,1000)))" > /tmp/prompt_long.txt
timeout $(cap 120) $cli logits --model $ck --input-ids "$(cat /tmp/prompt_long.txt)" --max-new-tokens 16 --ignore-eos \
  --device cuda --out /tmp/ours_long.bin > /tmp/ours_long.json 2>> $OUT/cuda_vs_hf.log
timeout $(cap 150) python3 tools/device/check_cuda_vs_hf.py --checkpoint $ck --case /tmp/prompt_long.txt /tmp/ours_long.json /tmp/ours_long.bin \
  --out $OUT/cuda_vs_hf.json 2>&1 | tail -8 | tee -a $OUT/cuda_vs_hf.log

echo "== torch.matmul bf16 at M=4096"
timeout $(cap 60) python3 tools/device/torch_baselines.py matmul --out $OUT/torch_matmul.json 2>&1 | tee $OUT/torch_matmul.log

echo "== BenchmarkDotNet GPU suites"
suites=('*GpuModelBenchmarks*' '*GpuGemmBenchmarks.TensorCore*')
[ "${SUITES:-quick}" = all ] && suites=('*GpuLayerBenchmarks*' '*GpuModelBenchmarks*' '*GpuGemmBenchmarks*' '*GpuGemvBenchmarks*')
(cd /tmp && timeout $(cap 300) dotnet $OLDPWD/.device/app/Specialized.Benchmarks.dll --filter "${suites[@]}" \
  --artifacts /tmp/bdn > $OUT/bdn.log 2>&1); tail -60 $OUT/bdn.log | grep -E "^\|| Mean|Error|Exception" | head -60
mkdir -p $OUT/bdn && cp /tmp/bdn/results/*.csv /tmp/bdn/results/*.md $OUT/bdn/ 2>/dev/null

echo "== engine: decode batch 1, prompt 128, 256 new tokens"
timeout $(cap 120) dotnet .device/app/OfflineThroughput.dll --model $ck --device cuda --num-prompts 1 --input-len 128 --output-len 256 \
  --json $OUT/decode_bs1.json 2>&1 | tail -6 | tee $OUT/decode_bs1.log

echo "== engine: the same, every decode step launch by launch (--disable-cuda-graph)"
timeout $(cap 120) dotnet .device/app/OfflineThroughput.dll --model $ck --device cuda --num-prompts 1 --input-len 128 --output-len 256 \
  --disable-cuda-graph --json $OUT/decode_bs1_launches.json 2>&1 | tail -3 | tee $OUT/decode_bs1_launches.log

echo "== engine: offline throughput, $n prompts, input $in, output $out"
timeout $(cap 240) dotnet .device/app/OfflineThroughput.dll --model $ck --device cuda --num-prompts $n --input-len $in --output-len $out \
  --json $OUT/offline_throughput.json 2>&1 | tail -14 | tee $OUT/offline_throughput.log

echo "== engine: the same with bf16 activations (GEMM inputs rounded to bf16, as SGLang's bf16 runs)"
timeout $(cap 240) dotnet .device/app/OfflineThroughput.dll --model $ck --device cuda --num-prompts $n --input-len $in --output-len $out \
  --bf16-activations --json $OUT/offline_throughput_bf16.json 2>&1 | tail -14 | tee $OUT/offline_throughput_bf16.log

echo "== HF transformers eager generate, batch 1"
timeout $(cap 120) python3 tools/device/torch_baselines.py hf-eager --checkpoint $ck --out $OUT/hf_eager.json 2>&1 | tail -2 | tee $OUT/hf_eager.log

echo "== PyTorch compiled (gpt-fast recipe), batch 1, prompt 128, 256 new tokens"
timeout $(cap 420) python3 tools/device/torch_baselines.py compiled --checkpoint $ck --out $OUT/torch_compiled.json --prompt 128 --new 256 \
  --compile-budget $(( $(cap 420) / 2 )) 2>&1 \
  | tee /tmp/torch_compiled_full.log | tail -4 | tee $OUT/torch_compiled.log
tail -300 /tmp/torch_compiled_full.log > $OUT/torch_compiled_full.log

if [ -n "${PROFILE:-}" ]; then
  echo "== Nsight: per-kernel GPU time of one 1024-token prompt (PROFILE=1)"
  timeout $(cap 300) bash tools/device/profile-kernels.sh 1 1024 2 2>&1 | tail -40 | tee $OUT/profile.log
fi

echo "== table"
python3 tools/device/bench_table.py $OUT
# A run brings back at most 8 files: everything in one archive.
(cd $OUT && tar -cf /tmp/gpu-bench.tar * && rm -rf ./* && mv /tmp/gpu-bench.tar .)
