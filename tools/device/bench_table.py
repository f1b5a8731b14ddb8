#!/usr/bin/env python3
"""One table from a gpu-bench.sh run: our kernels and engine next to the PyTorch baselines, with ratios.

usage: bench_table.py RESULTS_DIR   (reads BenchmarkDotNet CSV reports and the JSON files gpu-bench.sh wrote there)
"""
import csv
import glob
import json
import os
import sys

d = sys.argv[1]


def load(name):
    try:
        return json.load(open(os.path.join(d, name)))
    except (OSError, ValueError):
        return None


HBM_GB_S = [("H200", 4800), ("H100", 3350)]  # the SXM cards' HBM bandwidth, GB/s


def card():
    """The GPU's name (first field of gpu.txt's first line, nvidia-smi's) and its HBM bandwidth in GB/s, if known."""
    try:
        name = open(os.path.join(d, "gpu.txt")).readline().split(",")[0].strip()
    except OSError:
        return "GPU ?", None
    for key, bandwidth in HBM_GB_S:
        if key in name:
            return name, bandwidth
    return name, None


def report(suite):
    files = glob.glob(os.path.join(d, "bdn", f"*{suite}-report.csv"))
    return list(csv.DictReader(open(files[0]))) if files else []


lines = ["| what | ours | baseline | ours / baseline |", "|---|---|---|---|"]
torch_mm = load("torch_matmul.json") or {}
for row in report("GpuGemmBenchmarks"):
    shape = row.get("Shape", "").split(" ")[0]
    ours = row.get("TFLOP/s", "-")
    key = shape if row.get("Tokens") == "4096" else f"{shape}@{row.get('Tokens')}"
    base = torch_mm.get(key, {}).get("tflops")
    try:
        ratio = f"{float(ours) / base:.2f}" if base else "-"
    except ValueError:
        ratio = "-"
    lines.append(f"| GEMM {row.get('Method')} {row.get('Shape')} M={row.get('Tokens')} (TFLOP/s) | {ours} | torch.matmul bf16 {base and f'{base:.1f}'} | {ratio} |")
gpu, hbm = card()
for row in report("GpuGemvBenchmarks"):
    try:
        ratio = f"{float(row.get('GB/s')) / hbm:.2f}" if hbm else "-"
    except (TypeError, ValueError):
        ratio = "-"
    lines.append(f"| GEMV {row.get('Tokens')} token(s) {row.get('Shape')} (weight GB/s) | {row.get('GB/s')} | {gpu} HBM {hbm or '?'} | {ratio} |")
for row in report("GpuLayerBenchmarks"):
    lines.append(f"| layer op {row.get('Op')}, {row.get('Step')} (mean) | {row.get('Mean')} | - | - |")
for row in report("GpuModelBenchmarks"):
    graph = ", CUDA graph" if row.get("CudaGraph") == "True" else ""
    lines.append(f"| runner {row.get('Method')}{graph} (tok/s) | {row.get('tok/s')} | - | - |")
bs1 = load("decode_bs1.json")
hf = load("hf_eager.json")
tc = load("torch_compiled.json") or {}
tc_tok, tc_ms = tc.get("tok_s"), tc.get("ms_per_token")
tc_name = f"PyTorch gpt-fast recipe, {tc.get('method')}" if tc.get("method") else f"PyTorch compiled: {tc.get('error', 'no result')}"
if bs1:
    hf_tok = hf and hf.get("tok_s")
    lines.append(f"| engine decode batch 1, prompt 128 (output tok/s) | {bs1['output_throughput']:.1f} | HF eager bf16 {hf_tok and f'{hf_tok:.1f}'} | "
                 f"{(bs1['output_throughput'] / hf_tok) if hf_tok else float('nan'):.1f} |")
    lines.append(f"| engine decode batch 1, prompt 128, {tc.get('new_tokens', '?')} new (output tok/s) | {bs1['output_throughput']:.1f} | "
                 f"{tc_name} {tc_tok and f'{tc_tok:.1f}'} | {(bs1['output_throughput'] / tc_tok) if tc_tok else float('nan'):.2f} |")
    lines.append(f"| engine decode batch 1: median ITL (ms, lower is better) | {bs1['median_itl_ms']:.2f} | "
                 f"{tc_name} decode step {tc_ms and f'{tc_ms:.3f}'} | {(bs1['median_itl_ms'] / tc_ms) if tc_ms else float('nan'):.2f} |")
launches = load("decode_bs1_launches.json")
if bs1 and launches:
    lines.append(f"| engine decode batch 1: CUDA graphs against launch by launch (output tok/s) | {bs1['output_throughput']:.1f} | "
                 f"--disable-cuda-graph {launches['output_throughput']:.1f} | {bs1['output_throughput'] / launches['output_throughput']:.2f} |")
if tc:
    lines.append(f"| torch compiled baseline: HF greedy agreement, compile s, manual CUDA graph step (ms) | - | "
                 f"{tc.get('hf_leading_agreement')}/{tc.get('hf_checked_tokens')}, {tc.get('compile_seconds')}, "
                 f"{(tc.get('manual_cuda_graph') or {}).get('ms_per_token')} | - |")
off = load("offline_throughput.json")
if off:
    lines.append(f"| offline throughput {off['num_prompts']}x{off['input_len']}/{off['output_len']} (output tok/s) | {off['output_throughput']:.1f} | target 60000 | {off['output_throughput'] / 60000:.3f} |")
    lines.append(f"| offline: mean TTFT (ms) / median ITL (ms) | {off['mean_ttft_ms']:.0f} / {off['median_itl_ms']:.1f} | - | - |")
off16 = load("offline_throughput_bf16.json")
if off16:
    lines.append(f"| offline, bf16 activations (output tok/s) | {off16['output_throughput']:.1f} | target 60000 | {off16['output_throughput'] / 60000:.3f} |")
ttft = load("ttft_process.json")
if ttft:
    lines.append(f"| process start to first token (s) | {ttft['seconds']:.2f} | target 3 | {ttft['seconds'] / 3:.2f} |")
text = "\n".join(lines)
print(text)
open(os.path.join(d, "table.md"), "w").write(text + "\n")
