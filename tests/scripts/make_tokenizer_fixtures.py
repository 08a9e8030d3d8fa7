#!/usr/bin/env python3
"""tests/scripts/make_tokenizer_fixtures.py: the tokenizer fixtures, made with HF `tokenizers`.

1. Trains small byte-level BPE tokenizers with the HF library, one per pre-tokenizer family, and
   writes them to tests/fixtures/tokenizer/<name>/tokenizer.json:
     qwen2  Split(Qwen2 regex, Isolated) + ByteLevel, NFC normalizer, merges as [a, b] pairs
     llama3 Split(Llama-3 regex, Isolated) + ByteLevel, ignore_merges, merges as "a b" strings
     gpt2   ByteLevel(add_prefix_space, GPT-2 regex), a lstrip/rstrip added token
     demo   the demo model's tokenizer (1024 ids, Qwen2 regex, chat special tokens), with
            tokenizer_config.json and generation_config.json
2. Encodes the corpus (tests/fixtures/tokenizer/corpus.jsonl.gz) with each of them, and with the real
   tokenizers fetched by tests/tokenizer/fetch_real.sh when --real DIR is given, and writes
   tests/fixtures/tokenizer/expected/<name>.ids.xz: one line per corpus string, the ids separated by
   spaces, then (only when HF's decode of those ids differs from the string) a tab and HF's decoded
   text as a JSON string. Ids come from encode(text, add_special_tokens=False).

    python3 tests/scripts/make_tokenizer_fixtures.py [--real build/real-tokenizers]
"""
import argparse
import gzip
import hashlib
import json
import lzma
import os
import random

from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FIX = os.path.join(ROOT, "tests/fixtures/tokenizer")

QWEN2_RE = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+"
            r"|\s+(?!\S)|\s+")
LLAMA3_RE = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*"
             r"|\s*[\r\n]+|\s+(?!\S)|\s+")
CHAT_SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
REAL = ["qwen2", "llama3", "deepseek-v3"]


def load_corpus():
    with gzip.open(os.path.join(FIX, "corpus.jsonl.gz"), "rt", encoding="utf-8") as f:
        return [json.loads(line) for line in f]


def training_text(corpus, seed):
    rng = random.Random(seed)
    text = list(corpus)
    rng.shuffle(text)
    return text


def bytelevel_split(pattern):
    return pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(pattern), behavior="isolated", invert=False),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
    ])


def train(name, pre, normalizer, vocab, specials, texts, added=()):
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre
    if normalizer is not None:
        tok.normalizer = normalizer
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab, min_frequency=2, show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), special_tokens=specials)
    tok.train_from_iterator(texts, trainer)
    if added:
        tok.add_tokens(list(added))
    return tok


def save(tok, name, edit=None):
    d = os.path.join(FIX, name)
    os.makedirs(d, exist_ok=True)
    j = json.loads(tok.to_str())
    if edit:
        edit(j)
    path = os.path.join(d, "tokenizer.json")
    with open(path, "w", encoding="utf-8") as f:
        json.dump(j, f, ensure_ascii=False, indent=1)
    return Tokenizer.from_file(path)


def legacy_merges(j):
    j["model"]["merges"] = [" ".join(m) if isinstance(m, list) else m for m in j["model"]["merges"]]
    j["model"]["ignore_merges"] = True


def demo_text(seed):
    """Arithmetic and short reasoning text, the kind the demo model is trained on (the ASCII part of the
    corpus is added to it so that the vocabulary fills up to 1024)."""
    rng = random.Random(seed)
    out = []
    for _ in range(20000):
        a, b = rng.randint(0, 999), rng.randint(0, 999)
        op = rng.choice(["+", "-", "*"])
        v = eval(f"{a}{op}{b}")
        out.append(rng.choice([
            f"What is {a} {op} {b}? <think>{a} {op} {b} = {v}</think> The answer is {v}.",
            f"Compute {a}{op}{b}. Let me think step by step. {a} {op} {b} equals {v}. Answer: {v}",
            f"Q: {a} {op} {b} = ? A: {v}",
            f"Using the numbers {a}, {b} and {rng.randint(1, 99)}, reach {rng.randint(1, 999)}.",
        ]))
    return out


def write_ids(name, tok, corpus):
    os.makedirs(os.path.join(FIX, "expected"), exist_ok=True)
    lines, differ = [], 0
    for s in corpus:
        ids = tok.encode(s, add_special_tokens=False).ids
        line = " ".join(map(str, ids))
        back = tok.decode(ids, skip_special_tokens=False)
        if back != s:
            differ += 1
            line += "\t" + json.dumps(back, ensure_ascii=True)
        lines.append(line)
    data = ("\n".join(lines) + "\n").encode()
    path = os.path.join(FIX, "expected", name + ".ids.xz")
    with open(path, "wb") as f:
        f.write(lzma.compress(data, preset=9 | lzma.PRESET_EXTREME))
    print(f"{path}: {len(corpus)} strings, {sum(len(l.split()) for l in lines)} ids, "
          f"{differ} where decode(encode(x)) != x, {os.path.getsize(path)} bytes")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--real", help="directory holding qwen2/, llama3/, deepseek-v3/ from tests/tokenizer/fetch_real.sh")
    ap.add_argument("--skip-train", action="store_true", help="reuse the committed trained tokenizers")
    a = ap.parse_args()
    corpus = load_corpus()
    texts = training_text(corpus, 1)
    names = ["qwen2", "llama3", "gpt2", "demo"]
    if a.skip_train:
        toks = {n: Tokenizer.from_file(os.path.join(FIX, n, "tokenizer.json")) for n in names}
    else:
        toks = {}
        t = train("qwen2", bytelevel_split(QWEN2_RE), normalizers.NFC(), 3000, CHAT_SPECIALS, texts,
                  added=[AddedToken("<think>", normalized=True, special=False),
                         AddedToken("</think>", normalized=True, special=False)])
        toks["qwen2"] = save(t, "qwen2")
        t = train("llama3", bytelevel_split(LLAMA3_RE), None, 3000,
                  ["<|begin_of_text|>", "<|end_of_text|>", "<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>"],
                  texts)
        toks["llama3"] = save(t, "llama3", legacy_merges)
        t = train("gpt2", pre_tokenizers.ByteLevel(add_prefix_space=True, use_regex=True), None, 2500,
                  ["<|endoftext|>"], texts,
                  added=[AddedToken("<mask>", lstrip=True, rstrip=True, special=True, normalized=False)])
        toks["gpt2"] = save(t, "gpt2")
        t = train("demo", bytelevel_split(QWEN2_RE), normalizers.NFC(), 1024,
                  CHAT_SPECIALS + ["<think>", "</think>", "<answer>", "</answer>"],
                  demo_text(7) + [x for x in texts if x.isascii()])
        toks["demo"] = save(t, "demo")
        d = os.path.join(FIX, "demo")
        with open(os.path.join(d, "tokenizer_config.json"), "w") as f:
            json.dump({"bos_token": None, "eos_token": "<|im_end|>", "pad_token": "<|endoftext|>",
                       "tokenizer_class": "PreTrainedTokenizerFast", "model_max_length": 4096}, f, indent=1)
        with open(os.path.join(d, "generation_config.json"), "w") as f:
            json.dump({"eos_token_id": [toks["demo"].token_to_id("<|im_end|>"),
                                        toks["demo"].token_to_id("<|endoftext|>")],
                       "pad_token_id": toks["demo"].token_to_id("<|endoftext|>")}, f, indent=1)
    for n in names:
        write_ids(n, toks[n], corpus)
    if a.real:
        sums = {}
        for n in REAL:
            path = os.path.join(a.real, n, "tokenizer.json")
            sums[n] = hashlib.sha256(open(path, "rb").read()).hexdigest()
            write_ids(n + "-real", Tokenizer.from_file(path), corpus)
        with open(os.path.join(FIX, "expected", "real.sha256"), "w") as f:
            for n in REAL:
                f.write(f"{sums[n]}  {n}/tokenizer.json\n")


if __name__ == "__main__":
    main()
