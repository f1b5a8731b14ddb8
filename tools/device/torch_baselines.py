#!/usr/bin/env python3
"""PyTorch baselines on the GPU machine, for the same shapes and checkpoint our benchmarks use.

  torch_baselines.py matmul --out FILE             bf16 torch.matmul TFLOP/s on the Qwen2.5-0.5B GEMM shapes at M=4096
  torch_baselines.py hf-eager --checkpoint DIR --out FILE [--prompt 128] [--new 64]
                                                   HF transformers generate, eager, bf16, batch 1, greedy: tok/s
"""
import argparse
import json
import time

import torch

SHAPES = [("qkv", 1152, 896), ("o", 896, 896), ("gate_up", 9728, 896), ("down", 896, 4864), ("lm_head", 151936, 896)]


def matmul(args):
    results = {}
    m = 4096
    for name, n, k in SHAPES:
        x = torch.randn(m, k, device="cuda", dtype=torch.bfloat16)
        w = torch.randn(n, k, device="cuda", dtype=torch.bfloat16)
        for _ in range(5):
            torch.matmul(x, w.t())
        torch.cuda.synchronize()
        reps = 50
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        for _ in range(reps):
            torch.matmul(x, w.t())
        end.record()
        torch.cuda.synchronize()
        seconds = start.elapsed_time(end) / 1e3 / reps
        results[name] = {"n": n, "k": k, "m": m, "us": seconds * 1e6, "tflops": 2 * m * n * k / seconds / 1e12}
        print(f"torch.matmul bf16 {name:8s} {m}x{n}x{k}: {seconds * 1e6:9.1f} us  {results[name]['tflops']:7.1f} TFLOP/s", flush=True)
    json.dump(results, open(args.out, "w"), indent=1)


def hf_eager(args):
    from transformers import AutoModelForCausalLM
    model = AutoModelForCausalLM.from_pretrained(args.checkpoint, dtype=torch.bfloat16, attn_implementation="sdpa").to("cuda").eval()
    g = torch.Generator().manual_seed(3)
    ids = torch.randint(0, 151000, (1, args.prompt), generator=g).to("cuda")
    with torch.no_grad():
        model.generate(ids, max_new_tokens=8, do_sample=False, min_new_tokens=8)
        torch.cuda.synchronize()
        t = time.perf_counter()
        out = model.generate(ids, max_new_tokens=args.new, do_sample=False, min_new_tokens=args.new)
        torch.cuda.synchronize()
        seconds = time.perf_counter() - t
    new = out.shape[1] - ids.shape[1]
    result = {"prompt": args.prompt, "new_tokens": new, "seconds": seconds, "tok_s": new / seconds}
    print(f"HF eager generate bf16, batch 1, prompt {args.prompt}: {new} tokens in {seconds:.2f} s = {new / seconds:.1f} tok/s", flush=True)
    json.dump(result, open(args.out, "w"), indent=1)


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    a = sub.add_parser("matmul")
    a.add_argument("--out", required=True)
    b = sub.add_parser("hf-eager")
    b.add_argument("--checkpoint", required=True)
    b.add_argument("--out", required=True)
    b.add_argument("--prompt", type=int, default=128)
    b.add_argument("--new", type=int, default=64)
    args = p.parse_args()
    {"matmul": matmul, "hf-eager": hf_eager}[args.cmd](args)
