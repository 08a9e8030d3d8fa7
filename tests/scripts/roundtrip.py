#!/usr/bin/env python3
"""Cross-check `grpo score` against transformers.

Single model:
    python3 tests/scripts/roundtrip.py --grpo build/grpo --model DIR [--ids 1,2,3,...] [--tol 1e-4]

  Loads DIR with transformers AutoModelForCausalLM (float32, eager attention),
  computes the per-token log-probabilities of the ids (for token i >= 1:
  log_softmax(logits[i-1])[ids[i]], temperature 1), runs
      grpo score --model DIR --ids 1,2,3,...
  which must print one JSON object {"logprobs": [...]} (n-1 values) on stdout,
  and compares.  Without --ids, --len random ids (seeded by --seed) below the
  config's vocab_size are used.

All architectures from `grpo init`:
    python3 tests/scripts/roundtrip.py --grpo build/grpo --init-all

  For each arch in qwen2, qwen3, llama runs
      grpo init --arch A --preset tiny --out TMP/A --seed 1
  then does the comparison above with --len random ids, printing one line per
  arch and an overall PASS/FAIL.

Exit status: 0 when every max |difference| <= --tol, 1 on a mismatch or any
error (grpo failing, unparsable output, wrong length, weights transformers
could not match to the architecture, ...), 2 on usage errors.
"""

import argparse
import json
import math
import os
import random
import shutil
import subprocess
import sys
import tempfile

ARCHS = ("qwen2", "qwen3", "llama")


class RoundtripError(Exception):
    pass


def read_vocab_size(model_dir):
    path = os.path.join(model_dir, "config.json")
    try:
        with open(path) as fh:
            cfg = json.load(fh)
    except (OSError, ValueError) as e:
        raise RoundtripError(f"cannot read {path}: {e}")
    v = cfg.get("vocab_size")
    if v is None and isinstance(cfg.get("text_config"), dict):
        v = cfg["text_config"].get("vocab_size")
    if not isinstance(v, int) or v <= 0:
        raise RoundtripError(f"{path}: no usable vocab_size")
    return v


def random_ids(vocab_size, n, seed):
    rng = random.Random(seed)
    return [rng.randrange(vocab_size) for _ in range(n)]


def reference_logprobs(model_dir, ids):
    """Per-token log-probs from transformers (fp32, eager)."""
    import torch
    from transformers import AutoModelForCausalLM

    try:
        model, info = AutoModelForCausalLM.from_pretrained(
            model_dir, dtype=torch.float32, attn_implementation="eager", output_loading_info=True)
    except Exception as e:  # noqa: BLE001 - report any loading failure
        raise RoundtripError(f"transformers cannot load {model_dir}: {type(e).__name__}: {e}")
    # Weights transformers could not match would be silently random-initialised:
    # that is a naming/format bug, not a numerical one, so report it as such.
    problems = []
    for key in ("missing_keys", "unexpected_keys", "mismatched_keys", "error_msgs"):
        vals = info.get(key) if isinstance(info, dict) else None
        if vals:
            problems.append(f"{key}: {sorted(map(str, vals))[:10]}{' ...' if len(vals) > 10 else ''}")
    if problems:
        raise RoundtripError(f"transformers loaded {model_dir} with problems: " + "; ".join(problems))

    vocab = model.config.vocab_size
    bad = [t for t in ids if not 0 <= t < vocab]
    if bad:
        raise RoundtripError(f"ids out of range [0, {vocab}): {bad[:10]}")
    model.eval()
    with torch.no_grad():
        x = torch.tensor([ids], dtype=torch.long)
        logits = model(input_ids=x, use_cache=False).logits[0].to(torch.float32)
        lp = torch.log_softmax(logits[:-1], dim=-1)
        tok = lp.gather(-1, x[0, 1:].unsqueeze(-1)).squeeze(-1)
    return [float(v) for v in tok.tolist()]


def parse_score_output(stdout):
    text = stdout.strip()
    candidates = [text] + [ln.strip() for ln in reversed(text.splitlines())]
    for c in candidates:
        if not c.startswith("{"):
            continue
        try:
            obj = json.loads(c)
        except ValueError:
            continue
        if isinstance(obj, dict) and "logprobs" in obj:
            return obj
    raise RoundtripError("grpo score printed no JSON object with \"logprobs\"; stdout was:\n"
                         + _clip(stdout))


def _clip(s, n=2000):
    s = s if s else "(empty)"
    return s if len(s) <= n else s[:n] + f"... ({len(s)} chars)"


def run_cmd(cmd, timeout):
    try:
        p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=timeout)
    except FileNotFoundError:
        raise RoundtripError(f"cannot execute {cmd[0]!r} (not found)")
    except PermissionError:
        raise RoundtripError(f"cannot execute {cmd[0]!r} (permission denied)")
    except subprocess.TimeoutExpired:
        raise RoundtripError(f"timed out after {timeout}s: {' '.join(cmd)}")
    if p.returncode != 0:
        raise RoundtripError(f"exit status {p.returncode}: {' '.join(cmd)}\n"
                             f"stderr:\n{_clip(p.stderr)}\nstdout:\n{_clip(p.stdout)}")
    return p


def grpo_logprobs(grpo, model_dir, ids, timeout):
    cmd = [grpo, "score", "--model", model_dir, "--ids", ",".join(str(t) for t in ids)]
    p = run_cmd(cmd, timeout)
    obj = parse_score_output(p.stdout)
    lp = obj["logprobs"]
    if not isinstance(lp, list):
        raise RoundtripError(f"\"logprobs\" is not a list: {_clip(json.dumps(lp))}")
    out = []
    for i, v in enumerate(lp):
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise RoundtripError(f"logprobs[{i}] is not a number: {v!r}")
        out.append(float(v))
    return out


def compare(model_dir, ids, grpo, tol, timeout, verbose):
    """Returns (max_abs_diff, worst_index, n_compared). Raises RoundtripError."""
    if len(ids) < 2:
        raise RoundtripError("need at least 2 ids")
    ref = reference_logprobs(model_dir, ids)
    got = grpo_logprobs(grpo, model_dir, ids, timeout)
    if len(got) != len(ref):
        raise RoundtripError(f"grpo returned {len(got)} logprobs, expected {len(ref)} (n-1 for n={len(ids)})")
    worst, where = 0.0, -1
    for i, (a, b) in enumerate(zip(ref, got)):
        d = abs(a - b) if math.isfinite(b) else math.inf
        if d > worst or where < 0:
            worst, where = d, i
    if verbose:
        for i, (a, b) in enumerate(zip(ref, got)):
            print(f"    [{i:3d}] token {ids[i + 1]:6d}  ref {a:12.6f}  grpo {b:12.6f}  diff {b - a:+.3e}")
    return worst, where, len(ref), ref, got


def parse_ids(s):
    try:
        ids = [int(t) for t in s.replace(" ", "").split(",") if t != ""]
    except ValueError:
        raise RoundtripError(f"--ids must be comma-separated integers, got {s!r}")
    return ids


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--grpo", default="build/grpo", help="path to the grpo binary (default: build/grpo)")
    ap.add_argument("--model", help="model directory (config.json + model.safetensors)")
    ap.add_argument("--ids", help="comma-separated token ids (default: --len random ids)")
    ap.add_argument("--init-all", action="store_true",
                    help="run `grpo init --arch A --preset tiny --seed 1` for qwen2, qwen3, llama and compare each")
    ap.add_argument("--tol", type=float, default=1e-4, help="max allowed |logprob difference| (default 1e-4)")
    ap.add_argument("--len", type=int, default=32, help="number of random ids when --ids is not given (default 32)")
    ap.add_argument("--seed", type=int, default=0, help="seed for the random ids (default 0)")
    ap.add_argument("--timeout", type=float, default=300.0, help="seconds allowed per grpo command (default 300)")
    ap.add_argument("--keep", action="store_true", help="--init-all: keep the temporary model directories")
    ap.add_argument("-v", "--verbose", action="store_true", help="print every logprob pair")
    args = ap.parse_args()

    if args.init_all == bool(args.model):
        ap.error("give exactly one of --model DIR or --init-all")
    if args.init_all and args.ids:
        ap.error("--ids is not used with --init-all (random ids of --len are)")
    if args.len < 2:
        ap.error("--len must be >= 2")
    if not args.tol >= 0:
        ap.error("--tol must be >= 0")

    grpo = args.grpo
    if os.sep in grpo and not os.path.isabs(grpo):
        grpo = os.path.abspath(grpo)

    try:
        import torch
        torch.set_num_threads(max(1, min(4, os.cpu_count() or 1)))
        import transformers
        transformers.utils.logging.disable_progress_bar()
        print(f"roundtrip: torch {torch.__version__}, transformers {transformers.__version__}, "
              f"grpo {grpo}, tol {args.tol:g}")
    except ImportError as e:
        print(f"roundtrip: FAIL: {e} (needs torch and transformers)", file=sys.stderr)
        return 1

    if not args.init_all:
        try:
            if args.ids:
                ids = parse_ids(args.ids)
            else:
                ids = random_ids(read_vocab_size(args.model), args.len, args.seed)
            worst, where, n, ref, got = compare(args.model, ids, grpo, args.tol, args.timeout, args.verbose)
        except RoundtripError as e:
            print(f"{args.model}: ERROR: {e}")
            print("FAIL")
            return 1
        ok = worst <= args.tol
        print(f"{args.model}: n={len(ids)} compared={n} max|diff|={worst:.3e} at logprob[{where}] "
              f"(ref {ref[where]:.6f}, grpo {got[where]:.6f}) {'PASS' if ok else 'FAIL'}")
        print("PASS" if ok else "FAIL")
        return 0 if ok else 1

    tmp = tempfile.mkdtemp(prefix="grpo-roundtrip-")
    all_ok = True
    try:
        for arch in ARCHS:
            out = os.path.join(tmp, arch)
            try:
                run_cmd([grpo, "init", "--arch", arch, "--preset", "tiny", "--out", out, "--seed", "1"],
                        args.timeout)
                ids = random_ids(read_vocab_size(out), args.len, args.seed)
                worst, where, n, ref, got = compare(out, ids, grpo, args.tol, args.timeout, args.verbose)
            except RoundtripError as e:
                all_ok = False
                msg = str(e).replace("\n", "\n    ")
                print(f"{arch:6s} ERROR: {msg}")
                continue
            ok = worst <= args.tol
            all_ok &= ok
            print(f"{arch:6s} n={len(ids)} max|diff|={worst:.3e} at logprob[{where}] "
                  f"(ref {ref[where]:.6f}, grpo {got[where]:.6f}) {'PASS' if ok else 'FAIL'}")
    finally:
        if args.keep:
            print(f"kept model directories under {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    print("overall: " + ("PASS" if all_ok else "FAIL"))
    return 0 if all_ok else 1


if __name__ == "__main__":
    sys.exit(main())
