#!/usr/bin/env python3
"""bench/math_verify_peer.py CASES.jsonl: the peer for bench_rewards' math numbers: math-verify (PyPI)
checks/s single-thread on the same case file (parse(gold), parse(pred), verify), and its agreement with the
labels. Tooling only; grpo never needs Python packages to run."""
import json
import sys
import time

from math_verify import parse, verify

cases = [json.loads(l) for l in open(sys.argv[1])]


def check(c):
    try:
        return bool(verify(parse(c["gold"]), parse(c["pred"])))
    except Exception:
        return False


agree = sum(check(c) == c["equal"] for c in cases)
t0 = time.perf_counter()
n = 0
while True:
    for c in cases:
        check(c)
        n += 1
    t = time.perf_counter()
    if t - t0 > 5.0:
        break
print(f"math-verify: {len(cases)} cases, agreement {agree}/{len(cases)} ({100 * agree / len(cases):.1f}%), "
      f"{n / (t - t0):.0f} checks/s single-thread ({1e6 * (t - t0) / n:.1f} us/check)")
