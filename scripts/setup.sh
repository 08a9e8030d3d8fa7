#!/usr/bin/env bash
# scripts/setup.sh: installs the Debian packages grpo builds and tests with.
# Idempotent and quiet: prints nothing when everything is already present.
# The CUDA toolkit is not installed here; CMake builds the CUDA backend when nvcc is found.
set -euo pipefail

PACKAGES=(
  build-essential cmake pkg-config        # compiler and build
  libjansson-dev                          # JSON (config.json, safetensors headers)
  libcunit1-dev                           # tests
  libopenblas-openmp-dev                  # CPU GEMM (OpenMP build shares our thread pool)
  libpcre2-dev libutf8proc-dev             # tokenizer regex, NFC normalization
  libsqlite3-dev sqlite3                  # rollout store
  libmicrohttpd-dev                       # grpo view's HTTP server
  chromium                                # the viewer's browser tests (headless)
  bubblewrap                              # code sandbox
  libopenmpi-dev openmpi-bin              # multi-process launch
  clang libclang-rt-14-dev valgrind       # fuzzing, sanitizers, leak checks
)

missing=()
for p in "${PACKAGES[@]}"; do
  [[ "$p" == \#* ]] && continue
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "setup: installing ${missing[*]}" >&2
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq >/dev/null
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
