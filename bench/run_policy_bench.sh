#!/usr/bin/env bash
# bench/run_policy_bench.sh: grpo's CPU policy against PyTorch fp32 (transformers Qwen2ForCausalLM),
# same shapes, batch and thread count, on this machine in one run. Prints a table of tokens/s and
# the grpo/torch ratios; the JSON lines are kept in $OUT_DIR. A benchmark, never a test.
#
#   bench/run_policy_bench.sh                 # tiny (8 x 256) and qwen2.5-0.5b (1 x 512), threads = nproc
#   THREADS=1 CASES="tiny:8:256:2:10" bench/run_policy_bench.sh
#
# CASES: space-separated config:batch:seq:warmup:iters. Both programs run each case back to back,
# REPEAT times over; the table takes each program's best median (and best single iteration).
# A finished JSONL file can be tabulated again with: bench/run_policy_bench.sh --table FILE
# Other processes on the machine make OpenMP runs slow in bursts: before each run the script waits
# (WAIT_IDLE seconds at most) for the CPUs to be idle and prints the load average; rerun when noisy.
# On a machine kept busy by long jobs, `NICE=-15 setsid bench/run_policy_bench.sh` runs both programs
# (alike) at a raised priority (root only): with the kernel's autogroup scheduling, nice counts only
# within a session, so the script, when it leads its own session, raises its session's autogroup too.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD_DIR="${BUILD_DIR:-$ROOT/build}"
THREADS="${THREADS:-$(nproc)}"
CASES="${CASES:-tiny:8:256:2:10 qwen2.5-0.5b:1:512:1:3}"
PYTHON="${PYTHON:-python3}"
OUT_DIR="${OUT_DIR:-$ROOT/runs/bench_policy}"
REPEAT="${REPEAT:-1}"   # runs of every case; the table keeps each program's best
NICE="${NICE:-}"        # e.g. -15: run both programs at that nice level (needs root), see above
PRIO=()
if [[ -n "$NICE" ]]; then
    PRIO=(nice -n "$NICE")
    if [[ -w /proc/self/autogroup && "$(ps -o sid= -p $$ | tr -d ' ')" == "$$" ]]; then
        echo "$NICE" >"/proc/$$/autogroup" || echo "   (could not set the autogroup's nice)" >&2
    fi
fi

load() { cut -d' ' -f1 /proc/loadavg; }

# Percent of CPU time idle over the next second (from /proc/stat).
idle_pct() {
    local a b
    read -r -a a < <(grep '^cpu ' /proc/stat)
    sleep 1
    read -r -a b < <(grep '^cpu ' /proc/stat)
    local total=0 i
    for i in 1 2 3 4 5 6 7 8; do total=$((total + b[i] - a[i])); done
    echo $(((b[4] - a[4]) * 100 / (total > 0 ? total : 1)))
}

# Waits (up to WAIT_IDLE seconds, default 300; 0 = never) until the machine has been >= 90% idle
# for 3 seconds in a row: a 2-thread OpenMP team sharing 2 cores with another busy process runs
# several times slower.
wait_idle() {
    local waited=0 quiet=0 limit="${WAIT_IDLE:-300}" p
    while ((limit > 0 && quiet < 3)); do
        p=$(idle_pct)
        waited=$((waited + 1))
        if ((p >= 90)); then
            quiet=$((quiet + 1))
            continue
        fi
        quiet=0
        ((waited == 1)) && echo "   (machine only ${p}% idle: waiting up to ${limit}s for other jobs)" >&2
        if ((waited >= limit)); then
            echo "   (still only ${p}% idle after ${limit}s: running anyway, expect noisy numbers)" >&2
            return 0
        fi
    done
}

# Runs every case REPEAT times, appending the JSON lines to $RESULTS.
run_cases() {
    local r c cfg batch seq warmup iters args
    for ((r = 1; r <= REPEAT; r++)); do
        for c in $CASES; do
            IFS=: read -r cfg batch seq warmup iters <<<"$c"
            args=(--config "$cfg" --batch "$batch" --seq "$seq" --warmup "$warmup" --iters "$iters"
                --threads "$THREADS")
            wait_idle
            echo "== [$r/$REPEAT] $cfg batch $batch seq $seq: grpo (load $(load))" >&2
            "${PRIO[@]}" "$BUILD_DIR/bench_policy" "${args[@]}" | tee -a "$RESULTS"
            wait_idle
            echo "== [$r/$REPEAT] $cfg batch $batch seq $seq: torch (load $(load))" >&2
            "${PRIO[@]}" "$PYTHON" "$ROOT/bench/torch_policy.py" "${args[@]}" | tee -a "$RESULTS"
        done
    done
}

# Prints the markdown table of the JSON lines in file $1.
table() {
    "$PYTHON" - "$1" <<'EOF'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
by = {}
for r in rows:  # per (case, impl): the best of the repeated runs, phase by phase
    d = by.setdefault((r["config"], r["batch"], r["seq"], r["threads"]), {})
    best = d.setdefault(r["impl"], dict(r, runs=0))
    best["runs"] += 1
    for ph in ("fwd", "fwdbwd"):
        if r[ph + "_s"] and r[ph + "_s"] < best[ph + "_s"]:
            for k in ("_s", "_tok_s", "_gflop_s", "_attn"):
                if ph + k in r:
                    best[ph + k] = r[ph + k]
        best[ph + "_min_s"] = min(best[ph + "_min_s"], r[ph + "_min_s"])
print()
print(f"results: {sys.argv[1]}")
hdr = ("config", "BxT", "thr", "phase", "grpo tok/s", "torch tok/s", "torch attn", "ratio", "ratio(min)",
       "grpo GF/s", "torch GF/s")
print("| " + " | ".join(hdr) + " |")
print("|" + "|".join("---" for _ in hdr) + "|")
for (cfg, b, t, th), d in by.items():
    g, p = d.get("grpo"), d.get("torch")
    if not g or not p:
        continue
    for ph in ("fwd", "fwdbwd"):
        ratio = g[ph + "_tok_s"] / p[ph + "_tok_s"]
        ratio_min = p[ph + "_min_s"] / g[ph + "_min_s"]
        print(f"| {cfg} | {b}x{t} | {th} | {ph} | {g[ph + '_tok_s']:.0f} | {p[ph + '_tok_s']:.0f} | "
              f"{p[ph + '_attn']} | {ratio:.2f}x | {ratio_min:.2f}x | {g[ph + '_gflop_s']:.0f} | "
              f"{p[ph + '_gflop_s']:.0f} |")
runs = sorted({d[i]["runs"] for d in by.values() for i in d})
print(f"ratio = grpo tok/s / torch tok/s on medians; ratio(min) on the fastest iteration of each; "
      f"best of {'/'.join(map(str, runs))} run(s).")
EOF
}

if [[ "${1:-}" == "--table" ]]; then
    table "$2"
    exit 0
fi
# build (configure only when the build directory has never been configured)
if [[ ! -f "$BUILD_DIR/CMakeCache.txt" ]]; then
    cmake -S "$ROOT" -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=Release >&2
fi
cmake --build "$BUILD_DIR" -j"$(nproc)" --target bench_policy >&2
mkdir -p "$OUT_DIR"
RESULTS="$OUT_DIR/$(date +%Y%m%d-%H%M%S).jsonl"
echo "# $(date -Iseconds) $(uname -n) threads=$THREADS cases=$CASES repeat=$REPEAT nice=${NICE:-0}" >&2
run_cases
table "$RESULTS"
