#!/usr/bin/env python3
"""Our CUDA path against HF transformers on the same random-weight checkpoint and token ids.

For each case, `specialized logits` has already run greedy on the GPU and written the logits
that chose each output token. HF (float32, on the GPU, TF32 off) then scores prompt + our tokens in one teacher-forced
forward, so row k of both sides is the distribution over token k given the same prefix. Reports the largest logit
difference, and greedy agreement: HF's argmax against our token, counted where HF's top-1/top-2 margin is clear.
Also runs HF's own greedy generate and reports how many leading tokens agree with ours.

usage: check_cuda_vs_hf.py --checkpoint DIR --case PROMPT_IDS_FILE OURS_JSON OURS_LOGITS [--case ...] --out report.json
"""
import argparse
import json

import numpy as np
import torch
from transformers import AutoModelForCausalLM

MARGIN = 0.05  # logits; below this, float32 rounding in either implementation may flip the argmax


def load(checkpoint):
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    torch.set_float32_matmul_precision("highest")
    try:
        model = AutoModelForCausalLM.from_pretrained(checkpoint, dtype=torch.float32, attn_implementation="eager")
    except TypeError:
        model = AutoModelForCausalLM.from_pretrained(checkpoint, torch_dtype=torch.float32, attn_implementation="eager")
    return model.to("cuda").eval()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--checkpoint", required=True)
    ap.add_argument("--case", nargs=3, action="append", required=True, metavar=("PROMPT_IDS", "OURS_JSON", "OURS_LOGITS"))
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    model = load(args.checkpoint)
    vocab = model.config.vocab_size
    report = {"checkpoint": args.checkpoint, "torch": torch.__version__, "device": torch.cuda.get_device_name(0), "cases": []}

    for prompt_file, ours_json, ours_logits in args.case:
        prompt = [int(x) for x in open(prompt_file).read().split(",")]
        ours = json.load(open(ours_json))
        tokens = ours["output_ids"]
        logits = np.fromfile(ours_logits, dtype=np.float32).reshape(-1, vocab)
        assert logits.shape[0] == len(tokens), (logits.shape, len(tokens))

        seq = prompt + tokens[:-1]
        with torch.no_grad():
            hf = model(torch.tensor([seq], device="cuda")).logits[0, len(prompt) - 1:].float().cpu().numpy()
        diff = np.abs(hf - logits)
        top2 = np.sort(hf, axis=-1)[:, -2:]
        margin = top2[:, 1] - top2[:, 0]
        hf_argmax = hf.argmax(-1)
        clear = margin > MARGIN
        agree = hf_argmax == np.array(tokens)

        with torch.no_grad():
            generated = model.generate(torch.tensor([prompt], device="cuda"), do_sample=False, max_new_tokens=len(tokens),
                                       min_new_tokens=len(tokens), eos_token_id=None, pad_token_id=0)[0, len(prompt):].tolist()
        leading = next((i for i, (a, b) in enumerate(zip(generated, tokens)) if a != b), len(tokens))

        case = {
            "prompt_tokens": len(prompt), "new_tokens": len(tokens),
            "max_abs_logit_diff": float(diff.max()), "mean_abs_logit_diff": float(diff.mean()),
            "max_abs_logit": float(np.abs(hf).max()),
            "argmax_agreement": int(agree.sum()), "clear_margin_steps": int(clear.sum()),
            "argmax_agreement_where_clear": int((agree & clear).sum()),
            "hf_generate_leading_agreement": leading,
            "smallest_margin": float(margin.min()),
            "ours": {k: ours["meta_info"].get(k) for k in ("device_name", "specialized", "load_seconds", "prefill_seconds", "decode_tokens_per_second")},
        }
        report["cases"].append(case)
        print(json.dumps(case), flush=True)
    json.dump(report, open(args.out, "w"), indent=1)


if __name__ == "__main__":
    main()
