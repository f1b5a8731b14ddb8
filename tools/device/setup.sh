# Sourced by the device scripts, in the repository root on the GPU machine: unpacks the .NET runtime
# (/work/shared/tools/pack-dotnet-runtime.sh) and the app (tools/device/pack-app.sh), which both travel xz-compressed
# to stay under the 64 MiB a run carries. Defines the steps several scripts share (below).
mkdir -p /opt/dn && tar xJf .device/dotnet-rt.tar.xz -C /opt/dn && export DOTNET_ROOT=/opt/dn PATH=/opt/dn:$PATH
[ -d .device/app ] || tar xJf .device/app.tar.xz -C .device

# CUDA vs HF float32 on two seeded random prompts, of 9 and 1000 tokens (written to /tmp/p9.txt, /tmp/p1000.txt), 16
# greedy tokens each: our logits from the CLI ($1, e.g. "dotnet .device/app/specialized.dll") on checkpoint $2, HF's on
# the same; the report in $OUT/cuda_vs_hf.json. Usage: cuda_vs_hf CLI CHECKPOINT
cuda_vs_hf() {
  local cli=$1 ck=$2
  python3 -c "import numpy as np; r=np.random.default_rng(7); open('/tmp/p1000.txt','w').write(','.join(str(int(x)) for x in r.integers(0,151000,1000))); open('/tmp/p9.txt','w').write(','.join(str(int(x)) for x in r.integers(0,151000,9)))"
  for p in 9 1000; do
    timeout 90 $cli logits --model $ck --input-ids "$(cat /tmp/p$p.txt)" --max-new-tokens 16 --ignore-eos --device cuda --out /tmp/o$p.bin > /tmp/o$p.json 2>> $OUT/hf.log
  done
  timeout 150 python3 tools/device/check_cuda_vs_hf.py --checkpoint $ck --case /tmp/p9.txt /tmp/o9.json /tmp/o9.bin --case /tmp/p1000.txt /tmp/o1000.json /tmp/o1000.bin \
    --out $OUT/cuda_vs_hf.json 2>&1 | tail -3
}

# 1 if the last cuda_vs_hf agreed with HF greedy on every clear step of both cases and the logits stayed within 0.05
# (a wrong GEMM fragment or attention merge moves them by far more), else 0.
hf_agreed() {
  python3 -c "import json; r=json.load(open('$OUT/cuda_vs_hf.json')); print(int(all(c['argmax_agreement_where_clear'] == c['clear_margin_steps'] and c['max_abs_logit_diff'] < 0.05 for c in r['cases'])))" 2>/dev/null || echo 0
}

# The offline-throughput program of the app folder $1 on checkpoint $ck, within $2 seconds; the rest are its options.
# Prints its result lines. Usage: offline APP SECONDS [OPTIONS...]
offline() {
  local app=$1 limit=$2; shift 2
  timeout $limit dotnet $app/OfflineThroughput.dll --model $ck --device cuda "$@" 2>&1 | grep -E "Output token|TTFT|ITL|rror|xception"
}

# GpuGemmBenchmarks' tensor-core methods from the app folder $1 (token counts from SPECIALIZED_GEMM_TOKENS if set),
# within $3 seconds (default 300), those matching $4 (default all: TensorCore*); the log as $OUT/$2.log, its table
# printed. Usage: gemm_suite APP NAME [SECONDS [METHODS]]
gemm_suite() {
  (cd /tmp && timeout ${3:-300} dotnet $OLDPWD/$1/Specialized.Benchmarks.dll --filter "*GpuGemmBenchmarks.${4:-TensorCore*}" --artifacts /tmp/$2 > $OUT/$2.log 2>&1)
  grep -E "^\|" $OUT/$2.log | cut -c1-150 | tail -40
}
