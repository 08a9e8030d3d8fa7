#!/usr/bin/env python3
"""tests/scripts/math_verify_agreement.py CASES.jsonl [--wrap-gold] [--seconds S]: math-verify (PyPI) on a
labelled math case file, for the side-by-side figures in bench/RESULTS.md: agreement with the labels, false
positives (scored equal where the label says unequal), false negatives, and checks/s single-thread with its
default `verify(parse(gold), parse(pred))`. --wrap-gold writes a bare gold answer as "$gold$" first (the usual
way to hand math-verify a LaTeX answer without delimiters). Tooling only: grpo never needs Python to run."""
import argparse
import json
import time

from math_verify import parse, verify


def check(gold, pred):
    try:
        return bool(verify(parse(gold), parse(pred)))
    except Exception:  # math-verify raising counts as "not equal", as a trainer would score it
        return False


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("cases")
    ap.add_argument("--wrap-gold", action="store_true")
    ap.add_argument("--seconds", type=float, default=0.0, help="also time repeated passes for this long")
    a = ap.parse_args()
    cases = [json.loads(l) for l in open(a.cases, encoding="utf-8") if l.strip()]
    golds = [f"${c['gold']}$" if a.wrap_gold and "$" not in c["gold"] else c["gold"] for c in cases]
    agree = fp = fn = 0
    t0 = time.perf_counter()
    for c, g in zip(cases, golds):
        got = check(g, c["pred"])
        agree += got == c["equal"]
        fp += got and not c["equal"]
        fn += c["equal"] and not got
    t = time.perf_counter() - t0
    n = len(cases)
    neg = sum(not c["equal"] for c in cases)
    print(f"math-verify on {a.cases}: {agree}/{n} agree ({100 * agree / n:.1f}%), false positives {fp}/{neg} "
          f"({100 * fp / max(neg, 1):.2f}% of unequal), false negatives {fn}; first pass {1e3 * t / n:.2f} ms/check")
    if a.seconds > 0:
        k, t0, c0 = 0, time.perf_counter(), time.process_time()
        while time.perf_counter() - t0 < a.seconds:
            for c, g in zip(cases, golds):
                check(g, c["pred"])
                k += 1
        t, cpu = time.perf_counter() - t0, time.process_time() - c0
        print(f"math-verify: {k / t:.0f} checks/s single-thread ({1e6 * t / k:.1f} us/check; CPU time "
              f"{k / cpu:.0f} checks/s, {1e6 * cpu / k:.1f} us/check)")


if __name__ == "__main__":
    main()
