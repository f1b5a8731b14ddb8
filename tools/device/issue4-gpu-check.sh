#!/usr/bin/env bash
# On the GPU machine, in one device call (see /work/shared/GPU.md): reference data for the tests (tokenizer golden
# files, tiny HF checkpoints) and the CUDA path against HF transformers on a Qwen2.5-0.5B-shape random checkpoint.
# Usage: issue4-gpu-check.sh [references] [cuda]. Expects .device/dotnet-rt.tar.xz and .device/app.tar.xz (tools/device/pack-app.sh; setup.sh unpacks them). Writes to $OUT.
set -uo pipefail
source tools/device/setup.sh
cli="dotnet .device/app/specialized.dll"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv | tee $OUT/gpu.txt

references() {
echo "== tokenizer golden data"
timeout 300 python3 tools/reference/tokenizer_golden.py 2>&1 | tail -20 | tee $OUT/tokenizer.log
tar -cf $OUT/golden.tar tests/Specialized.Tests/Text/Data/golden_ids.json tests/Specialized.Tests/Text/Data/golden_chat.json

echo "== tiny model references"
PYTHONUNBUFFERED=1 timeout 300 python3 tools/reference/make_model_references.py --out /tmp/models 2>&1 | tail -40 | tee $OUT/references.log
tar -C /tmp -cf $OUT/models.tar models
}

cuda() {
echo "== CUDA vs HF, Qwen2.5-0.5B shape"
ck=/tmp/q05
timeout 120 $cli make-random-checkpoint --config models/Qwen2.5-0.5B-Instruct/config.json --out $ck --seed 1 --tokenizer models/qwen-tokenizer
python3 - <<'PY'
import numpy as np
rng = np.random.default_rng(7)
for name, n in (("short", 9), ("medium", 120), ("long", 1000)):
    open(f"/tmp/prompt_{name}.txt", "w").write(",".join(str(int(x)) for x in rng.integers(0, 151000, n)))
PY
cases=()
for name in short medium long; do
  timeout 180 $cli logits --model $ck --input-ids "$(cat /tmp/prompt_$name.txt)" --max-new-tokens 32 --ignore-eos \
    --device cuda --out /tmp/ours_$name.bin > /tmp/ours_$name.json 2> >(tee -a $OUT/cuda.log >&2)
  cases+=(--case /tmp/prompt_$name.txt /tmp/ours_$name.json /tmp/ours_$name.bin)
done
timeout 300 python3 tools/device/check_cuda_vs_hf.py --checkpoint $ck "${cases[@]}" --out $OUT/cuda_vs_hf.json 2>&1 | tail -20 | tee -a $OUT/cuda.log

echo "== decode speed, batch 1, prompt 128, 256 new tokens"
python3 -c "import numpy as np; print(','.join(str(int(x)) for x in np.random.default_rng(3).integers(0,151000,128)))" > /tmp/prompt128.txt
timeout 180 $cli generate --model $ck --input-ids "$(cat /tmp/prompt128.txt)" --max-new-tokens 256 --temperature 0 --ignore-eos --device cuda --json 2>&1 | tee $OUT/decode.json
}

# Sections to run: references, cuda (default: both).
for section in "${@:-references cuda}"; do $section; done
