#!/usr/bin/env python3
"""Golden data for the C# Qwen tokenizer and chat template, written with Hugging Face's own code.

Reads the vendored tokenizer (models/qwen-tokenizer) and the corpus the tests use
(tests/Specialized.Tests/Text/Data/corpus.json), and writes next to the corpus:
  golden_ids.json   per corpus string: HF `tokenizers` ids, ids with special tokens encoded as plain text,
                    and decode(ids) with and without skip_special_tokens
  golden_chat.json  conversations rendered by transformers' apply_chat_template with Qwen2.5's chat template
Then times HF encode on the 1 MB benchmark text that benchmarks/Specialized.Benchmarks builds the same way.

Needs Python 3.9+, `tokenizers` and `transformers` (jinja2 comes with it); no network.
Run from anywhere, e.g. from the repository root: python3 tools/reference/tokenizer_golden.py
"""
import hashlib
import json
import platform
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
TOKENIZER_DIR = REPO / "models" / "qwen-tokenizer"
TOKENIZER_JSON = TOKENIZER_DIR / "tokenizer.json"
CHAT_TEMPLATE = TOKENIZER_DIR / "qwen2.5_chat_template.jinja"
DATA = REPO / "tests" / "Specialized.Tests" / "Text" / "Data"
CORPUS = DATA / "corpus.json"

# The benchmark text: corpus strings in order, each followed by "\n", cycled until the UTF-8 size reaches this.
# TokenizerBenchmarks.BuildBenchmarkText in C# builds the identical text.
BENCHMARK_BYTES = 1_000_000

SYSTEM = {"role": "system", "content": "You are a terse assistant."}

# Each: (name, messages, add_generation_prompt). Roles are the ones ChatTemplate supports: system, user,
# assistant, tool (tool calls inside assistant messages are out of its scope).
CONVERSATIONS = [
    ("user_only_prompt", [{"role": "user", "content": "Hello!"}], True),
    ("user_only_no_prompt", [{"role": "user", "content": "Hello!"}], False),
    ("system_user_prompt", [SYSTEM, {"role": "user", "content": "What is 2+2?"}], True),
    ("system_user_assistant", [SYSTEM, {"role": "user", "content": "What is 2+2?"}, {"role": "assistant", "content": "4"}], False),
    ("system_user_assistant_prompt", [SYSTEM, {"role": "user", "content": "What is 2+2?"}, {"role": "assistant", "content": "4"}], True),
    ("multi_turn_default_system", [
        {"role": "user", "content": "Name a colour."},
        {"role": "assistant", "content": "Blue."},
        {"role": "user", "content": "Another one?"},
        {"role": "assistant", "content": "Green."},
        {"role": "user", "content": "And a third?"},
    ], True),
    ("empty_user", [{"role": "user", "content": ""}], True),
    ("empty_system", [{"role": "system", "content": ""}, {"role": "user", "content": "hi"}], True),
    ("empty_assistant", [{"role": "user", "content": "Say nothing."}, {"role": "assistant", "content": ""}], False),
    ("whitespace_content", [{"role": "user", "content": "   "}, {"role": "assistant", "content": "\n\n"}], True),
    ("unicode", [
        {"role": "system", "content": "你是一个有用的助手。"},
        {"role": "user", "content": "Привет! مرحبا 👩🏽‍💻 café e\u0301 \u00a0nbsp"},
        {"role": "assistant", "content": "こんにちは 🇯🇵"},
    ], True),
    ("special_tokens_in_content", [
        {"role": "user", "content": "Print <|im_end|> and <|im_start|>assistant\nliterally."},
    ], True),
    ("newlines_and_crlf", [
        {"role": "user", "content": "\nline one\r\nline two  \n\n"},
        {"role": "assistant", "content": "\tindented\n"},
    ], True),
    ("system_only_prompt", [SYSTEM], True),
    ("system_only_no_prompt", [SYSTEM], False),
    ("assistant_first", [{"role": "assistant", "content": "I speak first."}, {"role": "user", "content": "OK."}], True),
    ("two_system_messages", [SYSTEM, {"role": "system", "content": "Second system."}, {"role": "user", "content": "hi"}], True),
    ("system_after_user", [{"role": "user", "content": "hi"}, {"role": "system", "content": "Late system."}], True),
    ("tool_results", [
        {"role": "user", "content": "Weather in Paris and Rome?"},
        {"role": "assistant", "content": "Checking both."},
        {"role": "tool", "content": "{\"city\": \"Paris\", \"temp\": 21}"},
        {"role": "tool", "content": "{\"city\": \"Rome\", \"temp\": 25}"},
        {"role": "user", "content": "Thanks."},
    ], True),
    ("tool_last", [{"role": "user", "content": "Time?"}, {"role": "tool", "content": "12:00"}], True),
    ("tool_first", [{"role": "tool", "content": "orphan result"}, {"role": "user", "content": "ok"}], False),
    ("explicit_default_system", [
        {"role": "system", "content": "You are Qwen, created by Alibaba Cloud. You are a helpful assistant."},
        {"role": "user", "content": "Who are you?"},
    ], True),
    ("think_tags_in_assistant", [
        {"role": "user", "content": "2+2?"},
        {"role": "assistant", "content": "<think>\nadd\n</think>\n\n4"},
        {"role": "user", "content": "3+3?"},
    ], True),
    ("template_syntax_in_content", [{"role": "user", "content": "{{ messages }} {% if x %}y{% endif %} {# c #}"}], True),
    ("long_content", [{"role": "user", "content": "lorem ipsum dolor sit amet " * 200}], True),
    ("ten_turns", [
        {"role": "user" if i % 2 == 0 else "assistant", "content": f"turn {i}"} for i in range(10)
    ], False),
]


def load_corpus():
    with open(CORPUS, encoding="utf-8") as f:
        return [entry["text"] for entry in json.load(f)["strings"]]


def build_benchmark_text(strings):
    pieces, size, i = [], 0, 0
    while size < BENCHMARK_BYTES:
        piece = strings[i % len(strings)] + "\n"
        pieces.append(piece)
        size += len(piece.encode("utf-8"))
        i += 1
    return "".join(pieces)


def sha256(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def write_cases(path, header, cases):
    # One case a line, so a regenerated file diffs line by line.
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        f.write("{\n")
        for key, value in header.items():
            f.write(f" {json.dumps(key)}: {json.dumps(value, ensure_ascii=False)},\n")
        f.write(' "cases": [\n')
        f.write(",\n".join("  " + json.dumps(c, ensure_ascii=False) for c in cases))
        f.write("\n ]\n}\n")


def golden_ids(corpus, versions):
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(TOKENIZER_JSON))
    plain = Tokenizer.from_file(str(TOKENIZER_JSON))
    plain.encode_special_tokens = True  # what Qwen2Tokenizer.Encode(text, parseSpecialTokens: false) must match
    cases = []
    for text in corpus:
        ids = tokenizer.encode(text, add_special_tokens=False).ids
        cases.append({
            "text": text,
            "ids": ids,
            "ids_special_as_text": plain.encode(text, add_special_tokens=False).ids,
            "decoded": tokenizer.decode(ids, skip_special_tokens=False),
            "decoded_skip_special": tokenizer.decode(ids, skip_special_tokens=True),
        })
    header = {"generator": versions, "tokenizer_json_sha256": sha256(TOKENIZER_JSON)}
    write_cases(DATA / "golden_ids.json", header, cases)
    print(f"golden_ids.json: {len(cases)} strings, {sum(len(c['ids']) for c in cases)} ids")
    return tokenizer


def golden_chat(versions):
    from transformers import PreTrainedTokenizerFast

    template = CHAT_TEMPLATE.read_text(encoding="utf-8")
    tokenizer = PreTrainedTokenizerFast(tokenizer_file=str(TOKENIZER_JSON), eos_token="<|im_end|>", pad_token="<|endoftext|>")
    cases = []
    for name, messages, add_generation_prompt in CONVERSATIONS:
        text = tokenizer.apply_chat_template(messages, chat_template=template, tokenize=False, add_generation_prompt=add_generation_prompt)
        cases.append({"name": name, "messages": messages, "add_generation_prompt": add_generation_prompt, "text": text})
    header = {"generator": versions, "chat_template_sha256": sha256(CHAT_TEMPLATE)}
    write_cases(DATA / "golden_chat.json", header, cases)
    print(f"golden_chat.json: {len(cases)} conversations")


def time_encode(tokenizer, corpus):
    text = build_benchmark_text(corpus)
    size = len(text.encode("utf-8"))
    tokenizer.encode(text, add_special_tokens=False)  # warm-up
    times = []
    for _ in range(5):
        start = time.perf_counter()
        ids = tokenizer.encode(text, add_special_tokens=False).ids
        times.append(time.perf_counter() - start)
    best, median = min(times), sorted(times)[len(times) // 2]
    print(f"HF tokenizers encode of the benchmark text: {size:,} bytes -> {len(ids):,} ids; "
          f"median {median * 1e3:.1f} ms = {size / median / 1e6:.2f} MB/s (best {size / best / 1e6:.2f} MB/s; MB = 10^6 bytes, one encode call)")


def main():
    import tokenizers
    import transformers

    versions = f"tokenizers {tokenizers.__version__}, transformers {transformers.__version__}, Python {platform.python_version()}"
    print(versions)
    corpus = load_corpus()
    tokenizer = golden_ids(corpus, versions)
    golden_chat(versions)
    time_encode(tokenizer, corpus)


if __name__ == "__main__":
    sys.exit(main())
