#!/usr/bin/env bash
# On the GPU machine: per-kernel GPU time of a short offline run under Nsight Compute (duration metric only), summed
# by kernel and launch shape, so decode and prefill costs show apart. Expects .device as gpu-bench.sh does (tools/device/pack-app.sh).
# Usage: [ARGS="--max-total-tokens N ..."] profile-kernels.sh [NUM_PROMPTS] [INPUT_LEN] [OUTPUT_LEN]
#   (ARGS go to OfflineThroughput; a small KV cache keeps the replay's memory saves short)
set -uo pipefail
source tools/device/setup.sh
n=${1:-64}; in=${2:-256}; out=${3:-8}
ck=/tmp/q05
[ -f $ck/model.safetensors ] || timeout 120 dotnet .device/app/specialized.dll make-random-checkpoint --config models/Qwen2.5-0.5B-Instruct/config.json --out $ck --seed 1
timeout 500 /usr/local/cuda/bin/ncu --metrics gpu__time_duration.sum --csv --page raw --log-file /tmp/ncu.csv \
  dotnet .device/app/OfflineThroughput.dll --model $ck --device cuda --num-prompts $n --input-len $in --output-len $out ${ARGS:-} > /tmp/run.log 2>&1
tail -5 /tmp/run.log
python3 - <<'PY'
import csv, collections
lines = open("/tmp/ncu.csv").read().splitlines()
# ncu writes its own "==PROF==" lines before the CSV: start at the header row.
start = next((i for i, l in enumerate(lines) if l.startswith('"ID"')), 0)
rows = list(csv.DictReader(lines[start:]))
# The first row under the header gives units (ns, usecond, msecond); numbers may carry thousands separators.
scale = {"ns": 1, "nsecond": 1, "usecond": 1e3, "us": 1e3, "msecond": 1e6, "ms": 1e6}.get(rows[0].get("gpu__time_duration.sum", "ns") if rows else "ns", 1)
print("duration unit:", rows[0].get("gpu__time_duration.sum") if rows else None)
print(len(rows), "launches profiled; columns:", [k for k in rows[0].keys()][:12] if rows else None)
agg = collections.defaultdict(lambda: [0, 0.0])
for r in rows:
    name = r.get("Kernel Name", "?")[:60]
    grid = r.get("Grid Size", r.get("launch__grid_size", "?"))
    block = r.get("Block Size", r.get("launch__block_size", "?"))
    try:
        ns = float(r["gpu__time_duration.sum"].replace(",", "")) * scale
    except (KeyError, ValueError):
        continue
    a = agg[(name, grid, block)]
    a[0] += 1; a[1] += ns
total = sum(v[1] for v in agg.values())
print(f"total GPU time {total/1e6:.1f} ms")
for (name, grid, block), (count, ns) in sorted(agg.items(), key=lambda kv: -kv[1][1])[:45]:
    print(f"{ns/1e6:9.2f} ms {count:6d}x {ns/count/1e3:9.1f} us  grid {grid:>14} block {block:>10}  {name}")
PY
