#!/usr/bin/env python3
"""bench/tokenizer_peer.py: the peer for bench_tokenizer: HF `tokenizers` single-thread encode throughput.

    RAYON_NUM_THREADS=1 python3 bench/tokenizer_peer.py TOKENIZER_DIR CORPUS.jsonl[.gz] [REPS]

Encodes every corpus string with encode_batch_fast (one call, the loop in Rust, no offsets: HF's fastest
path, so Python overhead is not counted against HF; encode_batch where _fast is missing) under
RAYON_NUM_THREADS=1, add_special_tokens=False, and prints the best rep as
MB/s of UTF-8 input, in the same JSON shape as bench_tokenizer. Load time is not counted.
"""
import gzip
import json
import os
import sys
import time

os.environ.setdefault("RAYON_NUM_THREADS", "1")
from tokenizers import Tokenizer  # noqa: E402  (after RAYON_NUM_THREADS is set)


def main():
    d, corpus = sys.argv[1], sys.argv[2]
    reps = int(sys.argv[3]) if len(sys.argv) > 3 else 5
    opener = gzip.open if corpus.endswith(".gz") else open
    with opener(corpus, "rt", encoding="utf-8") as f:
        texts = [json.loads(line) for line in f]
    nbytes = sum(len(s.encode()) for s in texts)
    t0 = time.perf_counter()
    tok = Tokenizer.from_file(os.path.join(d, "tokenizer.json"))
    load_s = time.perf_counter() - t0
    encode = getattr(tok, "encode_batch_fast", tok.encode_batch)
    best, ids = 1e30, 0
    for _ in range(reps):
        a = time.perf_counter()
        out = encode(texts, add_special_tokens=False)
        s = time.perf_counter() - a
        best = min(best, s)
        ids = sum(len(e.ids) for e in out)
    print(json.dumps({"impl": "hf-tokenizers", "tokenizer": d, "strings": len(texts), "bytes": nbytes, "ids": ids,
                      "load_s": round(load_s, 3), "encode_s": round(best, 4), "mb_per_s": round(nbytes / best / 1e6, 2),
                      "rayon_threads": os.environ["RAYON_NUM_THREADS"]}))


if __name__ == "__main__":
    main()
