#!/usr/bin/env python3
"""Independent PyTorch reference for the GRPO losses (DESIGN.md section 3).

Writes tests/fixtures/grpo/loss_cases.safetensors: for 10 loss configurations
(loss_type x beta x scale_rewards x importance-sampling level) and two
iterations (num_iterations = 2) of a fixed batch of 16 completions (4 groups of
4), the completion-token logprobs, importance ratios, step loss, total grad
norm, selected gradients (accumulated over the two micro-batches, before
clipping), clip fractions and mean k3 KL.  See tests/fixtures/grpo/README.md.

Usage:  python3 tests/scripts/make_grpo_fixtures.py [--out tests/fixtures/grpo]

Deterministic: fixed seeds, one CPU thread, float32 model, eager attention.
"""

import argparse
import json
import os
import sys

import numpy as np
import torch
import transformers
import safetensors
from safetensors.torch import save_file, load_file
from transformers import AutoModelForCausalLM

REPO_ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
MODEL_DIR = os.path.join(REPO_ROOT, "tests", "fixtures", "policy", "qwen2")
DEFAULT_OUT = os.path.join(REPO_ROOT, "tests", "fixtures", "grpo")

# ---------------------------------------------------------------- settings --
SEED = 1234
VOCAB = 1024
G = 4
PROMPT_LEN = [5, 7, 4, 6]                       # per group
COMPLETION_LEN = [3, 8, 5, 6, 4, 4, 7, 2, 8, 1, 5, 6, 3, 6, 8, 4]
L_MAX = 8                                      # max_completion_length
TEMPERATURE = 0.9
REWARDS = [1, 0, 0, 1, 0.2, 0.9, 0.4, 0.1, 1, 1, 1, 1, 0, 0.5, 1, 0.25]
OLD_NOISE_STD = 0.3
REF_NOISE_STD = 0.1
LR, BETA1, BETA2, ADAM_EPS, WEIGHT_DECAY = 1e-3, 0.9, 0.999, 1e-8, 0.0
MAX_GRAD_NORM = 1.0
N_MICRO = 2
MICRO_SPLIT = 8                                # sequences [0,8) and [8,16)
NUM_ITERATIONS = 2
STD_EPS = 1e-4
LOG_RATIO_CLAMP = 20.0
SIZE_LIMIT = 1_500_000
NOISE_SEED = int(os.environ.get("GRPO_NOISE_SEED", SEED + 4))   # generator for the old/ref noise

LOSS_TYPES = {"grpo": 0, "bnpo": 1, "dr_grpo": 2, "dapo": 3}
SCALES = {"group": 0, "batch": 1, "none": 2}

# (loss_type, beta, epsilon, epsilon_high, scale, sequence_is)
CASES = (
    [(lt, 0.0, 0.2, 0.28, "group", False) for lt in ("grpo", "bnpo", "dr_grpo", "dapo")]
    + [(lt, 0.04, 0.2, 0.28, "group", False) for lt in ("grpo", "bnpo", "dr_grpo", "dapo")]
    + [("dapo", 0.0, 0.2, 0.28, "none", True),
       ("dr_grpo", 0.04, 0.2, 0.28, "batch", False)]
)

GRAD_PARAMS = [
    "model.layers.0.self_attn.q_proj.weight",
    "model.layers.0.self_attn.k_proj.bias",
    "model.layers.1.mlp.down_proj.weight",
    "model.norm.weight",
]
EMBED = "model.embed_tokens.weight"
EMBED_ROWS = 32

N_SEQ = G * len(PROMPT_LEN)


# ------------------------------------------------------------------- batch --
def make_batch():
    torch.manual_seed(SEED)
    rng = np.random.RandomState(SEED)
    prompts = [rng.randint(1, VOCAB, size=p).astype(np.int64) for p in PROMPT_LEN]
    completions = [rng.randint(1, VOCAB, size=c).astype(np.int64) for c in COMPLETION_LEN]
    # Force some ids into [1, 32) so that the dumped embedding-gradient rows
    # 0..31 also receive input-embedding (not only tied lm_head) gradient.
    for g in range(len(prompts)):
        prompts[g][0] = 1 + 7 * g                   # 1, 8, 15, 22
    for i in range(0, N_SEQ, 3):
        completions[i][0] = rng.randint(1, EMBED_ROWS)
    seqs = []
    for i in range(N_SEQ):
        g = i // G
        seqs.append(np.concatenate([prompts[g], completions[i]]))
    return seqs


def completion_logprobs(model, seqs, idx):
    """List of 1-D tensors: logprob of every completion token of sequences idx.

    One forward per sequence (no padding).  Token t of the completion sits at
    position pos = P + t and is scored by log_softmax(logits[pos-1] / T).
    """
    out = []
    for i in idx:
        ids = torch.as_tensor(seqs[i], dtype=torch.long).unsqueeze(0)
        p = PROMPT_LEN[i // G]
        logits = model(input_ids=ids).logits[0]              # [len, V]
        lp = torch.log_softmax(logits[p - 1:-1] / TEMPERATURE, dim=-1)
        tok = ids[0, p:]
        out.append(lp.gather(1, tok.unsqueeze(1)).squeeze(1))
    return out


def advantages(scale):
    """Advantages in float64 from the exact decimal rewards (python floats), not from the
    widened float32 values: group 1 = [0.2, 0.9, 0.4, 0.1] has mean exactly 0.4, so
    A_6 must be exactly 0.  From widened float32 values it would come out as ~ +2.6e-8,
    and its sign would decide whether sequence 6's tokens count in clip_high / clip_low."""
    r = torch.tensor(REWARDS, dtype=torch.float64)
    rg = r.view(-1, G)
    mean_g = rg.mean(dim=1, keepdim=True)
    centered = (rg - mean_g).reshape(-1)
    if scale == "group":
        std = rg.std(dim=1, keepdim=True).expand(-1, G).reshape(-1)   # unbiased
        return centered / (std + STD_EPS)
    if scale == "batch":
        return centered / (r.std() + STD_EPS)                          # unbiased
    if scale == "none":
        return centered
    raise ValueError(scale)


def ratios(logp_new, logp_old, seq_is):
    """Per-token importance ratio for a list of per-sequence 1-D tensors."""
    out = []
    for ln, lo in zip(logp_new, logp_old):
        d = ln - lo
        if seq_is:
            s = d.sum() / float(d.numel())          # mask is all ones
            out.append(torch.exp(torch.clamp(s, -LOG_RATIO_CLAMP, LOG_RATIO_CLAMP)).expand(d.numel()))
        else:
            out.append(torch.exp(torch.clamp(d, -LOG_RATIO_CLAMP, LOG_RATIO_CLAMP)))
    return out


def micro_loss(logp_new, logp_old, logp_ref, adv, idx, case, n_active_step):
    """Loss of one micro-batch plus per-token diagnostics.

    logp_new: list over idx of 1-D tensors (with grad); logp_old/logp_ref/adv
    indexed by global sequence index.
    """
    loss_type, beta, eps, eps_high, _scale, seq_is = case
    lo = [logp_old[i] for i in idx]
    rho = ratios(logp_new, lo, seq_is)
    per_seq_sum, per_seq_cnt, kls = [], [], []
    for k, i in enumerate(idx):
        a = adv[i]
        r = rho[k]
        t1 = r * a
        t2 = torch.clamp(r, 1.0 - eps, 1.0 + eps_high) * a
        ell = -torch.minimum(t1, t2)
        dref = logp_ref[i] - logp_new[k]
        kl = torch.exp(dref) - dref - 1.0
        if beta != 0.0:
            ell = ell + beta * kl
        m = torch.ones_like(ell)                     # every completion token is real
        per_seq_sum.append((ell * m).sum())
        per_seq_cnt.append(m.sum())
        kls.append(kl.detach())
    if loss_type == "grpo":
        loss = sum(s / c for s, c in zip(per_seq_sum, per_seq_cnt)) / N_SEQ
    elif loss_type == "bnpo":
        loss = (sum(per_seq_sum) / sum(per_seq_cnt)) / N_MICRO
    elif loss_type == "dr_grpo":
        loss = sum(per_seq_sum) / (N_SEQ * L_MAX)
    elif loss_type == "dapo":
        loss = sum(per_seq_sum) / n_active_step
    else:
        raise ValueError(loss_type)
    return loss, rho, kls


def step_forward_backward(model, seqs, logp_old, logp_ref, adv, case, backward=True):
    """Forward (+ backward per micro-batch, gradients accumulating) of one optimizer step.

    Returns ([loss of micro-batch 0, loss of micro-batch 1], packed logp_new,
    packed ratio, packed k3 KL), all detached when backward=True.
    """
    n_active = float(sum(COMPLETION_LEN))
    mbs = [list(range(0, MICRO_SPLIT)), list(range(MICRO_SPLIT, N_SEQ))]
    assert len(mbs) == N_MICRO
    lps, rhos, kls, losses = [], [], [], []
    for idx in mbs:
        lp = completion_logprobs(model, seqs, idx)
        loss, rho, kl = micro_loss(lp, logp_old, logp_ref, adv, idx, case, n_active)
        if backward:
            loss.backward()
        losses.append(loss.detach() if backward else loss)
        lps += [x.detach() for x in lp]
        rhos += [x.detach() for x in rho]
        kls += kl
    return losses, torch.cat(lps), torch.cat(rhos), torch.cat(kls)


def load_model(dtype=torch.float32):
    model = AutoModelForCausalLM.from_pretrained(MODEL_DIR, dtype=torch.float32,
                                                 attn_implementation="eager")
    model.eval()                                      # no dropout (there is none anyway)
    return model.to(dtype)


def packed_adv_per_token(adv):
    return torch.cat([torch.full((c,), float(adv[i])) for i, c in enumerate(COMPLETION_LEN)])


# ---------------------------------------------------------------- checks --
def check_ratio_one(model, seqs, logp_ref):
    """(a) iteration 0 of the beta = 0 cases with logp_old := logp_new.detach(): the ratio
    produced by the loss code path must be exactly 1 (token and sequence IS)."""
    for c, case in enumerate(CASES):
        if case[1] != 0.0:
            continue
        adv = advantages(case[4]).to(torch.float32)
        for idx in (list(range(0, MICRO_SPLIT)), list(range(MICRO_SPLIT, N_SEQ))):
            lp = completion_logprobs(model, seqs, idx)
            lo = {i: x.detach() for i, x in zip(idx, lp)}
            _loss, rho, _kl = micro_loss(lp, lo, logp_ref, adv, idx, case, float(sum(COMPLETION_LEN)))
            allr = torch.cat([r.detach() for r in rho])
            assert torch.equal(allr, torch.ones_like(allr)), f"case {c}: ratio != 1"
    print("check (a): ratio == 1 exactly when logp_old = logp_new.detach() "
          "(cases 0-3 token IS, case 8 sequence IS): OK")


def check_finite_difference(state_dict32, seqs, logp_old, logp_ref, case_idx, ref_grad32, label):
    """(b) float64 autograd and central finite difference on model.norm.weight[0]."""
    case = CASES[case_idx]
    model = load_model(torch.float64)
    model.load_state_dict({k: v.to(torch.float64) for k, v in state_dict32.items()})
    lo = [x.to(torch.float64) for x in logp_old]
    lr_ = [x.to(torch.float64) for x in logp_ref]
    adv = advantages(case[4]).to(torch.float32).to(torch.float64)
    model.zero_grad(set_to_none=True)
    step_forward_backward(model, seqs, lo, lr_, adv, case, backward=True)
    p = dict(model.named_parameters())["model.norm.weight"]
    g_auto = p.grad[0].item()

    def total_loss():
        with torch.no_grad():
            losses, *_ = step_forward_backward(model, seqs, lo, lr_, adv, case, backward=False)
        return sum(l.item() for l in losses)

    h = 1e-6
    w0 = p.data[0].item()
    with torch.no_grad():
        p.data[0] = w0 + h
        lp_ = total_loss()
        p.data[0] = w0 - h
        lm_ = total_loss()
        p.data[0] = w0
    g_fd = (lp_ - lm_) / (2 * h)
    rel64 = abs(g_auto - g_fd) / max(abs(g_fd), 1e-30)
    rel32 = abs(ref_grad32 - g_fd) / max(abs(g_fd), 1e-30)
    print(f"check (b) {label} case {case_idx} ({case[0]}, beta={case[1]}, scale={case[4]}, "
          f"{'seq' if case[5] else 'token'} IS): d loss / d model.norm.weight[0]\n"
          f"    central FD (float64, h={h:g}) = {g_fd:.12e}\n"
          f"    autograd float64               = {g_auto:.12e}  rel err {rel64:.2e}\n"
          f"    autograd float32 (dumped)      = {ref_grad32:.12e}  rel err {rel32:.2e}")
    assert rel64 < 1e-6, rel64
    assert rel32 < 1e-3, rel32
    return rel64, rel32


def rel(a, b):
    a, b = float(a), float(b)
    return abs(a - b) / max(abs(b), 1e-30)


def rel_norm(a, b):
    b = b.double()
    return ((a.double() - b).norm() / b.norm().clamp_min(1e-30)).item()


def run_case(case, dtype, init_state, seqs, logp_old, logp_ref, adv):
    """num_iterations optimizer steps from the initial weights with a fresh AdamW.

    The inputs (logp_old, logp_ref, adv) are the float32 values; for dtype float64
    they are widened, so the float64 run sees exactly the same inputs.
    """
    model = load_model(dtype)
    model.load_state_dict({k: v.to(dtype) for k, v in init_state.items()})
    opt = torch.optim.AdamW(model.parameters(), lr=LR, betas=(BETA1, BETA2), eps=ADAM_EPS,
                            weight_decay=WEIGHT_DECAY, foreach=False)
    lo = [x.to(dtype) for x in logp_old]
    lr_ = [x.to(dtype) for x in logp_ref]
    a = adv.to(dtype)
    outs = []
    for k in range(NUM_ITERATIONS):
        state_before = {n: v.detach().clone() for n, v in model.state_dict().items()}
        opt.zero_grad(set_to_none=True)
        losses, lp_new, rho, kl = step_forward_backward(model, seqs, lo, lr_, a, case)
        loss = (losses[0] + losses[1]).reshape(1)
        named = dict(model.named_parameters())
        grads = {n: named[n].grad.detach().clone() for n in GRAD_PARAMS + [EMBED]}
        gnorm = torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm=MAX_GRAD_NORM)
        opt.step()
        outs.append(dict(lp=lp_new, rho=rho, kl=kl, loss=loss, gnorm=gnorm.detach(), grads=grads,
                         state_before=state_before))
    return outs


def check_file_consistency(t):
    """(d) recompute ratio / loss / clip fractions / kl_mean from the dumped tensors alone
    (numpy float64, no model), as a consumer of the fixture would."""
    C = t["completion_len"].numpy().astype(np.int64)
    off = np.concatenate([[0], np.cumsum(C)])
    lo = t["logp_old"].numpy().astype(np.float64)
    lref = t["logp_ref"].numpy().astype(np.float64)
    n_seq = len(C)
    split = int(t["micro_split"][0])
    L = float(t["hparams"][6])
    worst = 0.0
    for c in range(len(CASES)):
        lt, beta, eps, eps_hi, _sc = [float(x) for x in t[f"c{c}.params"]]
        seq = float(t[f"c{c}.seq_is"][0]) == 1.0
        A = t[f"c{c}.advantages"].numpy().astype(np.float64)
        for k in range(NUM_ITERATIONS):
            p = f"c{c}.k{k}."
            ln = t[p + "logp_new"].numpy().astype(np.float64)
            d = np.clip(ln - lo, -LOG_RATIO_CLAMP, LOG_RATIO_CLAMP)
            if seq:
                rho = np.concatenate([np.repeat(np.exp(np.clip((ln - lo)[off[i]:off[i + 1]].mean(),
                                                               -LOG_RATIO_CLAMP, LOG_RATIO_CLAMP)), C[i])
                                      for i in range(n_seq)])
            else:
                rho = np.exp(d)
            At = np.repeat(A, C)
            ell = -np.minimum(rho * At, np.clip(rho, 1 - eps, 1 + eps_hi) * At)
            kl = np.exp(lref - ln) - (lref - ln) - 1
            ell = ell + beta * kl
            total = 0.0
            for mb in (range(0, split), range(split, n_seq)):
                tok = np.concatenate([np.arange(off[i], off[i + 1]) for i in mb])
                if lt == 0:
                    total += sum(ell[off[i]:off[i + 1]].mean() for i in mb) / n_seq
                elif lt == 1:
                    total += ell[tok].sum() / len(tok) / N_MICRO
                elif lt == 2:
                    total += ell[tok].sum() / (n_seq * L)
                else:
                    total += ell[tok].sum() / C.sum()
            e = [abs(total - float(t[p + "loss"][0])) / max(abs(total), 1e-3),
                 np.abs(rho / t[p + "ratio"].numpy() - 1).max(),
                 abs(((rho < 1 - eps) & (At < 0)).mean() - float(t[p + "clip_low"][0])),
                 abs(((rho > 1 + eps_hi) & (At > 0)).mean() - float(t[p + "clip_high"][0])),
                 abs(kl.mean() / float(t[p + "kl_mean"][0]) - 1)]
            worst = max(worst, max(e))
    print(f"check (d): loss/ratio/clip/kl_mean recomputed from the file alone (numpy float64): "
          f"worst relative deviation {worst:.2e}")
    assert worst < 1e-4, worst


# ------------------------------------------------------------------ main --
def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=DEFAULT_OUT)
    args = ap.parse_args()

    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    torch.manual_seed(SEED)

    seqs = make_batch()
    rewards32 = np.array(REWARDS, dtype=np.float32)
    n_tok = sum(COMPLETION_LEN)

    model0 = load_model()
    init_state = {k: v.detach().clone() for k, v in model0.state_dict().items()}

    with torch.no_grad():
        lp_init = completion_logprobs(model0, seqs, range(N_SEQ))
    gen = torch.Generator().manual_seed(NOISE_SEED)
    noise_old = torch.randn(n_tok, generator=gen, dtype=torch.float32) * OLD_NOISE_STD
    noise_ref = torch.randn(n_tok, generator=gen, dtype=torch.float32) * REF_NOISE_STD
    lp_init_packed = torch.cat(lp_init)
    logp_old_packed = (lp_init_packed + noise_old).to(torch.float32)
    logp_ref_packed = (lp_init_packed + noise_ref).to(torch.float32)
    splits = list(COMPLETION_LEN)
    logp_old = list(torch.split(logp_old_packed, splits))
    logp_ref = list(torch.split(logp_ref_packed, splits))

    check_ratio_one(model0, seqs, logp_ref)
    small = sorted({int(x) for s_ in seqs for x in s_ if x < EMBED_ROWS})
    print(f"ids < {EMBED_ROWS} present in the batch (their rows of grad.embed[0:{EMBED_ROWS}] also get "
          f"input-embedding gradient): {small}")

    tensors = {
        "input_ids": torch.as_tensor(np.concatenate(seqs), dtype=torch.int32),
        "seq_len": torch.tensor([len(s) for s in seqs], dtype=torch.int32),
        "prompt_len": torch.tensor([PROMPT_LEN[i // G] for i in range(N_SEQ)], dtype=torch.int32),
        "completion_len": torch.tensor(COMPLETION_LEN, dtype=torch.int32),
        "rewards": torch.from_numpy(rewards32.copy()),
        "logp_old": logp_old_packed.contiguous(),
        "logp_ref": logp_ref_packed.contiguous(),
        "temperature": torch.tensor([TEMPERATURE], dtype=torch.float32),
        "hparams": torch.tensor([LR, BETA1, BETA2, ADAM_EPS, WEIGHT_DECAY, MAX_GRAD_NORM, L_MAX],
                                dtype=torch.float32),
        "n_micro": torch.tensor([N_MICRO], dtype=torch.int32),
        "micro_split": torch.tensor([MICRO_SPLIT], dtype=torch.int32),
    }

    rows = []
    devs = []
    fd_inputs = []
    ratio_k = {}
    for c, case in enumerate(CASES):
        loss_type, beta, eps, eps_high, scale, seq_is = case
        adv64 = advantages(scale)
        assert adv64[6].item() == 0.0 and bool((adv64[8:12] == 0).all()), "exact-zero advantages"
        adv = adv64.to(torch.float32)
        adv_tok = packed_adv_per_token(adv)
        tensors[f"c{c}.advantages"] = adv.clone()
        tensors[f"c{c}.params"] = torch.tensor(
            [LOSS_TYPES[loss_type], beta, eps, eps_high, SCALES[scale]], dtype=torch.float32)
        tensors[f"c{c}.seq_is"] = torch.tensor([1.0 if seq_is else 0.0], dtype=torch.float32)

        outs = run_case(case, torch.float32, init_state, seqs, logp_old, logp_ref, adv)
        outs64 = run_case(case, torch.float64, init_state, seqs, logp_old, logp_ref, adv)
        for k, (o, o64) in enumerate(zip(outs, outs64)):
            lp_new, rho, kl, loss, gnorm, grads = (o[x] for x in ("lp", "rho", "kl", "loss", "gnorm", "grads"))
            state_before = o["state_before"]
            dev = {
                "loss": rel(loss, o64["loss"]),
                "grad_norm": rel(gnorm, o64["gnorm"]),
                "logp_new": (lp_new.double() - o64["lp"]).abs().max().item(),
                "ratio": ((rho.double() - o64["rho"]).abs() / o64["rho"]).max().item(),
                "grads": max(rel_norm(grads[n], o64["grads"][n]) for n in grads),
            }
            # the clip state of every token must be the same in float32 and float64
            for lo_, hi_ in ((1.0 - eps, 1.0 + eps_high),):
                assert torch.equal(rho < lo_, o64["rho"] < lo_) and torch.equal(rho > hi_, o64["rho"] > hi_), \
                    f"case {c} k {k}: clip state differs between float32 and float64"
            devs.append((c, k, dev))
            clip_low = ((rho < 1.0 - eps) & (adv_tok < 0)).float().mean()
            clip_high = ((rho > 1.0 + eps_high) & (adv_tok > 0)).float().mean()
            kl_mean = kl.mean()

            p = f"c{c}.k{k}."
            tensors[p + "logp_new"] = lp_new.float().contiguous()
            tensors[p + "ratio"] = rho.float().contiguous()
            tensors[p + "loss"] = loss.float()
            tensors[p + "grad_norm"] = gnorm.detach().float().reshape(1)
            for n in GRAD_PARAMS:
                tensors[p + "grad." + n] = grads[n].float().contiguous()
            ge = grads[EMBED].float()
            tensors[p + "grad." + EMBED] = ge.norm().reshape(1)
            tensors[p + "grad." + EMBED + f"[0:{EMBED_ROWS}]"] = ge[:EMBED_ROWS].reshape(-1).contiguous()
            tensors[p + "clip_low"] = clip_low.reshape(1)
            tensors[p + "clip_high"] = clip_high.reshape(1)
            tensors[p + "kl_mean"] = kl_mean.float().reshape(1)
            ratio_k[(c, k)] = rho
            # distance (relative) of the nearest ratio to a clip boundary: tells how far a
            # float32 re-implementation may drift before a token changes clip state
            margin = torch.minimum((rho / (1.0 - eps) - 1.0).abs(),
                                   (rho / (1.0 + eps_high) - 1.0).abs()).min().item()
            rows.append((c, k, loss_type, beta, scale, seq_is, loss.item(), gnorm.item(),
                         clip_low.item(), clip_high.item(), kl_mean.item(), margin))
            if (c, k) in ((4, 0), (8, 0), (7, 1), (9, 1)):
                fd_inputs.append((state_before, c, grads["model.norm.weight"][0].item(), f"k={k}"))

    # (c) summary table
    print()
    print(" case k  loss_type beta  scale IS    |        loss      grad_norm   clip_low  clip_high"
          "      kl_mean  clip_margin")
    for (c, k, lt, beta, scale, sis, l, gn, cl, ch, klm, mg) in rows:
        print(f" {c:4d} {k:1d} {lt:>9s} {beta:4.2f} {scale:>6s} {'seq' if sis else 'tok':5s} |"
              f" {l:+.6e} {gn:.6e} {cl:10.4f} {ch:10.4f} {klm:.6e} {mg:.2e}")
    print()
    for c in range(len(CASES)):
        d = (ratio_k[(c, 1)] - ratio_k[(c, 0)]).abs().max().item()
        assert d > 1e-3, f"case {c}: iteration-1 ratios equal iteration-0 ratios"
        print(f" case {c}: max |ratio(k=1) - ratio(k=0)| = {d:.4e}")
    print()
    print(" float32 fixture vs the same computation in float64 (relative unless noted):")
    print(" case k |     loss  grad_norm  grads(norm) ratio(max) logp_new(max abs)")
    for c, k, d in devs:
        print(f" {c:4d} {k:1d} | {d['loss']:.2e}  {d['grad_norm']:.2e}   {d['grads']:.2e}   "
              f"{d['ratio']:.2e}   {d['logp_new']:.2e}")
    assert all(r[8] + r[9] > 0 for r in rows), "some (case, iteration) has no clipped token"
    assert all(r[11] > 1e-4 for r in rows), "a ratio sits too close to a clip boundary"
    print()

    # (b) finite differences in float64
    for state, c, g32, label in fd_inputs:
        check_finite_difference(state, seqs, logp_old, logp_ref, c, g32, label)

    os.makedirs(args.out, exist_ok=True)
    path = os.path.join(args.out, "loss_cases.safetensors")
    meta = {
        "generator": "tests/scripts/make_grpo_fixtures.py",
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "safetensors": safetensors.__version__,
        "numpy": np.__version__,
        "model": "tests/fixtures/policy/qwen2",
    }
    # one metadata key only: safetensors writes the metadata map in hash order, so several
    # keys would make the file bytes differ from run to run
    save_file({k: v.contiguous() for k, v in sorted(tensors.items())}, path,
              metadata={"info": json.dumps(meta, sort_keys=True)})
    size = os.path.getsize(path)
    print(f"wrote {path}: {len(tensors)} tensors, {size} bytes")
    assert size <= SIZE_LIMIT, size

    back = load_file(path)
    for k, v in tensors.items():
        assert torch.equal(back[k], v), k
    check_file_consistency(back)
    return 0


if __name__ == "__main__":
    sys.exit(main())
