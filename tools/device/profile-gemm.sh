#!/usr/bin/env bash
# On the GPU machine: the tensor-core GEMM under Nsight Compute, in the engine's own prefill (8 prompts of 1024 tokens:
# one 8,192-token chunk, so every projection runs at M = 8192). Speed of light, memory, warp stalls, occupancy and the
# tensor pipe's utilisation for the first NUM launches, one line of chosen metrics per launch; the full raw CSV in
# $OUT/ncu_${TAG:-gemm}.csv. Expects .device as gpu-bench.sh does (tools/device/pack-app.sh).
# Usage: [TAG=name] [ARGS="--bf16-activations ..."] profile-gemm.sh [NUM] [SKIP]
set -uo pipefail
source tools/device/setup.sh
num=${1:-8}; skip=${2:-0}
ck=/tmp/q05
[ -f $ck/model.safetensors ] || timeout 120 dotnet .device/app/specialized.dll make-random-checkpoint --config models/Qwen2.5-0.5B-Instruct/config.json --out $ck --seed 1
timeout 400 /usr/local/cuda/bin/ncu -k regex:TensorCoreGemmKernel --launch-skip $skip --launch-count $num \
  --section SpeedOfLight --section MemoryWorkloadAnalysis --section WarpStateStats --section Occupancy --section LaunchStats \
  --metrics sm__pipe_tensor_op_hmma_cycles_active.avg.pct_of_peak_sustained_active,sm__inst_executed_pipe_tensor_op_hmma.avg.pct_of_peak_sustained_active,lts__t_bytes.sum.per_second,dram__bytes.sum.per_second,smsp__inst_executed.sum \
  --csv --page raw --log-file $OUT/ncu_${TAG:-gemm}.csv \
  dotnet .device/app/OfflineThroughput.dll --model $ck --device cuda --num-prompts 8 --input-len 1024 --output-len 2 --max-total-tokens 12288 ${ARGS:-} > /tmp/gemm_run.log 2>&1
tail -3 /tmp/gemm_run.log
python3 - "$OUT/ncu_${TAG:-gemm}.csv" <<'PY'
import csv, sys
lines = open(sys.argv[1]).read().splitlines()
start = next((i for i, l in enumerate(lines) if l.startswith('"ID"')), 0)
rows = list(csv.DictReader(lines[start:]))
if not rows: print("no rows"); sys.exit()
units, rows = rows[0], rows[1:]
want = ["gpu__time_duration.sum", "launch__grid_size", "launch__registers_per_thread", "launch__shared_mem_per_block_dynamic",
        "sm__warps_active.avg.pct_of_peak_sustained_active", "sm__throughput.avg.pct_of_peak_sustained_elapsed",
        "sm__pipe_tensor_op_hmma_cycles_active.avg.pct_of_peak_sustained_active", "lts__t_bytes.sum.per_second",
        "dram__bytes.sum.per_second", "lts__throughput.avg.pct_of_peak_sustained_elapsed", "l1tex__throughput.avg.pct_of_peak_sustained_active",
        "smsp__inst_executed.sum", "smsp__average_warp_latency_per_inst_issued.ratio"]
for r in rows:
    print("--", r.get("Kernel Name", "?")[:40], "block", r.get("launch__block_size"))
    for k in want:
        if k in r: print(f"   {k} = {r[k]} {units.get(k, '')}")
    def num(v):
        try: return float(v.replace(',', ''))
        except ValueError: return None
    stalls = sorted(((num(v), k) for k, v in r.items() if "issue_stalled" in k and num(v) is not None), reverse=True)[:10]
    for v, k in stalls: print(f"   {k} = {v:.2f}")
PY
