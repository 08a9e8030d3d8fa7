#!/usr/bin/env bash
# bench/demo_learning.sh: what does the demo's GRPO phase add beyond SFT? For each build and seed it runs
#   demo      `grpo demo --seed S`: the R1 recipe at tiny scale (an SFT cold start on sft_size worked
#             solutions, then GRPO on train_size problems that carry answers only);
#   sft-only  the same model and the same worked-solution split, SFT alone (`--max_steps 0`), for enough
#             SFT steps to take at least the demo's whole wall time (measured from the demo's own SFT rate);
#   control   seed 1 with the reward replaced by a random one (`--reward_funcs random`), on the first
#             build: must not improve.
# Builds: `native` (build-learn-native, -march=native: AVX-512 kernels where the CPU has them) and
# `portable` (build-learn-portable, GRPO_NATIVE=OFF: SSE2 only, no FMA, so the decode kernels and every
# vectorized loop round differently; run with OPENBLAS_CORETYPE=Sandybridge, so the training GEMMs take
# OpenBLAS's AVX kernels (no FMA), not the AVX2/AVX-512 ones it picks on current CPUs: together a
# stand-in for another CPU). It prints one markdown table, writes bench/demo_learning.json (every
# number and held-out curve) and bench/demo_learning.svg (held-out accuracy against wall time).
#
# Usage: bench/demo_learning.sh [--builds "native portable"] [--seeds "1 2 3"] [--jobs N] [--out DIR]
#   --jobs N runs N chains at a time, one thread each (default 1: one run at a time on every core). A
#   chain is one seed's demo and then its SFT-only baseline, with steps for 1.1x the demo's wall time
#   at the demo's SFT rate; the control is one more job.
# Finished runs are kept: the same command with the same --out resumes where it stopped.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILDS="native portable" SEEDS="1 2 3" JOBS=1 OUT=/tmp/grpo-demo-learning
while [ $# -gt 0 ]; do
  case "$1" in
    --builds) BUILDS=$2; shift 2 ;;
    --seeds) SEEDS=$2; shift 2 ;;
    --jobs) JOBS=$2; shift 2 ;;
    --out) OUT=$2; shift 2 ;;
    -h|--help) sed -n '2,/^set -e/p' "$0" | sed -n 's/^# \{0,1\}//p'; exit 0 ;;
    *) echo "demo_learning.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done
mkdir -p "$OUT"
THREADS=0
[ "$JOBS" -gt 1 ] && THREADS=1
export OMP_WAIT_POLICY=PASSIVE

build() { # build NAME -> path of its grpo
  local dir=build-learn-$1 native=ON
  [ "$1" = portable ] && native=OFF
  cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=Release -DGRPO_CUDA=OFF -DGRPO_NATIVE=$native >"$OUT/cmake-$1.log" 2>&1
  cmake --build "$dir" -j2 --target grpo >>"$OUT/cmake-$1.log" 2>&1 || { cat "$OUT/cmake-$1.log" >&2; exit 1; }
  echo "$dir/grpo"
}

# run NAME GRPO ARGS...: one demo run, its log in $OUT/NAME.log, its wall seconds in $OUT/NAME.wall.
# A run that finished before (NAME.wall exists) is kept: the script resumes where it stopped.
run() {
  local name=$1 grpo=$2; shift 2
  local t0 t1 blas=
  [ -f "$OUT/$name.wall" ] && return 0
  case $name in portable-*) blas=Sandybridge ;; esac
  rm -rf "$OUT/runs/$name"
  t0=$(date +%s.%N)
  env ${blas:+OPENBLAS_CORETYPE=$blas} "$grpo" demo --num_threads "$THREADS" --output_dir "$OUT/runs" --run_name "$name" "$@" >"$OUT/$name.log" 2>&1
  t1=$(date +%s.%N)
  python3 -c "print(f'{$t1 - $t0:.1f}')" >"$OUT/$name.wall"
}

# sft_steps_for DEMO_LOG WALL: SFT steps that take at least WALL seconds at the demo's own SFT rate (+10%)
sft_steps_for() {
  python3 - "$1" "$2" <<'EOF'
import math, re, sys
log, wall = open(sys.argv[1]).read(), float(sys.argv[2])
last = re.findall(r"sft step (\d+)/\d+  loss \S+  ([\d.]+)s", log)[-1]
per_step = float(last[1]) / int(last[0])
print(max(1, math.ceil(1.1 * wall / per_step)))
EOF
}

echo "demo_learning: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'); $(nproc) cores; builds: $BUILDS; seeds: $SEEDS; jobs: $JOBS; logs in $OUT" >&2

# A queue of runs, --jobs at a time: per build and seed a chain of the demo and then its SFT-only
# baseline (sized from that demo's wall time and SFT rate), and the control.
slot() { while [ "$(jobs -rp | wc -l)" -ge "$JOBS" ]; do wait -n || true; done; }
chain() { # chain BUILD SEED
  local b=$1 s=$2 n
  run "$b-demo-s$s" "${GRPO_OF[$b]}" --seed "$s"
  n=$(sft_steps_for "$OUT/$b-demo-s$s.log" "$(cat "$OUT/$b-demo-s$s.wall")")
  run "$b-sft-s$s" "${GRPO_OF[$b]}" --seed "$s" --max_steps 0 --sft_steps "$n" --sft_eval_steps $(( (n + 9) / 10 ))
}
declare -A GRPO_OF
for b in $BUILDS; do GRPO_OF[$b]=$(build "$b"); done
CONTROL=${BUILDS%% *}   # the control runs on the first build only
for b in $BUILDS; do
  for s in $SEEDS; do slot; chain "$b" "$s" & done
done
slot; run "$CONTROL-control-s1" "${GRPO_OF[$CONTROL]}" --seed 1 --reward_funcs random &
wait
python3 bench/demo_learning_report.py --out "$OUT" --builds "$BUILDS" --seeds "$SEEDS" \
  --json bench/demo_learning.json --svg bench/demo_learning.svg
