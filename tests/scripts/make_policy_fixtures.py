#!/usr/bin/env python3
"""Generate the policy-model reference fixtures under tests/fixtures/policy/.

For each of three tiny randomly-initialised causal LMs (qwen2, qwen3, llama)
this writes

  <out>/<name>/config.json         transformers config (save_pretrained)
  <out>/<name>/model.safetensors   weights (fp32 for qwen2/qwen3, bf16 for llama)
  <out>/<name>/ref.safetensors     reference forward / backward / AdamW values

All reference values are computed in float32 on the CPU with eager attention.
For llama the references use the bf16-rounded weights cast back to float32,
i.e. exactly what a reader of model.safetensors sees after widening to fp32.

Usage:  python3 tests/scripts/make_policy_fixtures.py [--out tests/fixtures/policy]

The script is deterministic: fixed seeds, single CPU thread, no data-dependent
randomness.  Running it twice produces byte-identical files.
"""

import argparse
import json
import math
import os
import sys

import numpy as np
import torch
import transformers
from transformers import AutoModelForCausalLM
from safetensors.torch import save_file, load_file
from transformers import (
    LlamaConfig,
    LlamaForCausalLM,
    Qwen2Config,
    Qwen2ForCausalLM,
    Qwen3Config,
    Qwen3ForCausalLM,
)

REPO_ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
DEFAULT_OUT = os.path.join(REPO_ROOT, "tests", "fixtures", "policy")

# --- shared reference settings -------------------------------------------------
B, T = 3, 9
LENGTHS = [9, 5, 7]
TEMPERATURE = 0.7
ADAMW_LR = 1e-2
ADAMW_BETAS = (0.9, 0.95)
ADAMW_EPS = 1e-8
ADAMW_WD = 0.1
MAX_GRAD_NORM = 1.0
ADAMW_STEPS = 5
SIZE_LIMIT = 5 * 1000 * 1000  # 5 MB

# Init scales.  The brief suggested the default std 0.02 for linear layers, but
# with 0.02 the attention pattern is nearly uniform and the MLP contribution to
# the residual stream is a few percent, so RoPE / masking / softmax / MLP bugs
# would barely move the logits.  We therefore use 0.05 for the linear layers and
# 0.12 for q_proj/k_proj.  Embeddings / lm_head are larger than 0.02 so the
# output softmax is clearly non-uniform, but not so large that (with tied
# embeddings) the "predict the current token" logit saturates the softmax.
STD_LINEAR = 0.05
STD_QK = 0.12
STD_BIAS = 0.02
STD_EMBED = 0.15
STD_LM_HEAD = 0.2  # only for untied models (llama)
NORM_JITTER = 0.1

COMMON = dict(
    vocab_size=1024,
    hidden_size=64,
    intermediate_size=128,
    num_hidden_layers=2,
    num_attention_heads=4,
    num_key_value_heads=2,
)

MODELS = [
    dict(
        name="qwen2",
        seed=1001,
        cls=Qwen2ForCausalLM,
        cfg=lambda: Qwen2Config(
            **COMMON,
            max_position_embeddings=256,
            rope_theta=10000.0,
            rms_norm_eps=1e-6,
            tie_word_embeddings=True,
        ),
        save_dtype=torch.float32,
    ),
    dict(
        name="qwen3",
        seed=1002,
        cls=Qwen3ForCausalLM,
        cfg=lambda: Qwen3Config(
            **COMMON,
            head_dim=32,
            max_position_embeddings=256,
            rope_theta=1000000.0,
            rms_norm_eps=1e-6,
            tie_word_embeddings=True,
            attention_bias=False,
        ),
        save_dtype=torch.float32,
    ),
    dict(
        name="llama",
        seed=1003,
        cls=LlamaForCausalLM,
        cfg=lambda: LlamaConfig(
            **COMMON,
            max_position_embeddings=512,
            rope_theta=500000.0,
            rms_norm_eps=1e-5,
            tie_word_embeddings=False,
            rope_scaling={
                "rope_type": "llama3",
                "factor": 8.0,
                "low_freq_factor": 1.0,
                "high_freq_factor": 4.0,
                "original_max_position_embeddings": 64,
            },
        ),
        save_dtype=torch.bfloat16,
    ),
]


def build_model(spec):
    cfg = spec["cfg"]()
    cfg._attn_implementation = "eager"
    torch.manual_seed(spec["seed"])
    model = spec["cls"](cfg)
    model.to(torch.float32)
    model.eval()  # no dropout (attention_dropout is 0 anyway)

    g = torch.Generator().manual_seed(spec["seed"] + 17)
    with torch.no_grad():
        for name, p in model.named_parameters():
            leaf = name.split(".")[-2] if name.endswith(".weight") or name.endswith(".bias") else ""
            if "norm" in leaf:  # input_layernorm, post_attention_layernorm, model.norm, q_norm, k_norm
                assert p.ndim == 1, name
                p.copy_(1.0 + NORM_JITTER * torch.randn(p.shape, generator=g))
            elif name.endswith(".bias"):
                p.copy_(STD_BIAS * torch.randn(p.shape, generator=g))
            elif name == "model.embed_tokens.weight":
                p.copy_(STD_EMBED * torch.randn(p.shape, generator=g))
            elif name == "lm_head.weight":
                p.copy_(STD_LM_HEAD * torch.randn(p.shape, generator=g))
            elif leaf in ("q_proj", "k_proj"):
                p.copy_(STD_QK * torch.randn(p.shape, generator=g))
            else:
                assert p.ndim == 2, name
                p.copy_(STD_LINEAR * torch.randn(p.shape, generator=g))
    return model


def make_inputs(seed, vocab):
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(1, vocab, (B, T), generator=g, dtype=torch.int64)
    lengths = torch.tensor(LENGTHS, dtype=torch.int64)
    pos = torch.arange(T)
    valid = pos[None, :] < lengths[:, None]  # [B, T]
    ids = torch.where(valid, ids, torch.zeros_like(ids))
    attn = valid.to(torch.int64)
    position_ids = pos[None, :].expand(B, T).contiguous()
    # weights for the policy-gradient style objective, 0 on invalid targets
    w = torch.rand((B, T - 1), generator=g, dtype=torch.float32) * 2.0 - 1.0
    tvalid = (pos[None, 1:] < lengths[:, None])  # target t+1 valid, [B, T-1]
    w = torch.where(tvalid, w, torch.zeros_like(w))
    return ids, lengths, attn, position_ids, w, tvalid


def forward_logits(model, ids, attn, position_ids):
    out = model(input_ids=ids, attention_mask=attn, position_ids=position_ids, use_cache=False)
    return out.logits  # [B, T, V] fp32


def token_logprobs(logits, ids, tvalid, temperature):
    lp = torch.log_softmax(logits[:, :-1, :] / temperature, dim=-1)
    tok = lp.gather(-1, ids[:, 1:].unsqueeze(-1)).squeeze(-1)  # [B, T-1]
    return torch.where(tvalid, tok, torch.zeros_like(tok))


def ce_loss_fn(model, ids, attn, position_ids, tvalid):
    logits = forward_logits(model, ids, attn, position_ids)
    lp = token_logprobs(logits, ids, tvalid, 1.0)
    return -(lp.sum() / tvalid.sum())


def print_llama3_bands(cfg):
    rp = cfg.rope_parameters
    head_dim = getattr(cfg, "head_dim", None) or cfg.hidden_size // cfg.num_attention_heads
    base = rp["rope_theta"]
    inv = 1.0 / (base ** (torch.arange(0, head_dim, 2, dtype=torch.int64).float() / head_dim))
    old = rp["original_max_position_embeddings"]
    low_wl = old / rp["low_freq_factor"]
    high_wl = old / rp["high_freq_factor"]
    bands = []
    for i, f in enumerate(inv.tolist()):
        wl = 2 * math.pi / f
        band = "high(unscaled)" if wl < high_wl else ("low(/factor)" if wl > low_wl else "medium(smoothed)")
        bands.append(band.split("(")[0])
        print(f"    inv_freq[{i}] = {f:.6e}  wavelen = {wl:10.3f}  -> {band}")
    print(f"    high_freq_wavelen={high_wl} low_freq_wavelen={low_wl}; band counts:",
          {b: bands.count(b) for b in ("high", "medium", "low")})
    for b in ("high", "medium", "low"):
        assert b in bands, f"llama3 rope: no inv_freq in the {b} band"


def make_one(spec, out_dir):
    name = spec["name"]
    d = os.path.join(out_dir, name)
    os.makedirs(d, exist_ok=True)
    print(f"== {name} ==")

    model = build_model(spec)
    cfg = model.config
    tied = cfg.tie_word_embeddings
    if tied:
        assert model.lm_head.weight.data_ptr() == model.model.embed_tokens.weight.data_ptr(), "tie failed"

    # ---- save the weights (and config) -------------------------------------
    for f in ("config.json", "model.safetensors"):
        if os.path.exists(os.path.join(d, f)):
            os.remove(os.path.join(d, f))
    if spec["save_dtype"] == torch.bfloat16:
        # model.to() also casts the floating-point *buffers* (rotary inv_freq),
        # which would leave bf16-rounded RoPE frequencies behind; keep them fp32.
        bufs = {n: b.detach().clone() for n, b in model.named_buffers()}
        model.to(torch.bfloat16)
        model.config.dtype = torch.bfloat16
        model.save_pretrained(d, safe_serialization=True)
        model.to(torch.float32)  # bf16-rounded parameter values, widened back to fp32
        model.config.dtype = torch.float32
        with torch.no_grad():
            for n, b in model.named_buffers():
                b.copy_(bufs[n])
    else:
        model.config.dtype = torch.float32
        model.save_pretrained(d, safe_serialization=True)
    # save_pretrained writes generation_config.json as well for *ForCausalLM; not needed.
    gc = os.path.join(d, "generation_config.json")
    if os.path.exists(gc):
        os.remove(gc)

    # sanity: the saved weights (widened to fp32) equal the reference weights
    saved = load_file(os.path.join(d, "model.safetensors"))
    params = dict(model.named_parameters())
    for k, v in saved.items():
        assert v.dtype == spec["save_dtype"], (k, v.dtype)
        assert k in params, f"unexpected tensor {k} in model.safetensors"
        assert torch.equal(v.to(torch.float32), params[k].detach()), k
    for k in params:
        assert k in saved, f"{k} missing from model.safetensors"

    with open(os.path.join(d, "config.json")) as fh:
        cj = json.load(fh)
    print("  config.json keys:", sorted(cj.keys()))
    for k in ("dtype", "torch_dtype", "rope_scaling", "rope_parameters", "head_dim",
              "attention_bias", "layer_types", "tie_word_embeddings", "architectures"):
        if k in cj:
            print(f"    {k} = {json.dumps(cj[k])}")
    print("  model.safetensors:")
    for k in sorted(saved):
        print(f"    {k:50s} {str(saved[k].dtype):15s} {list(saved[k].shape)}")

    if name == "llama":
        print("  llama3 rope bands:")
        print_llama3_bands(cfg)
        # cross-check against the model's rotary buffer
        rot = model.model.rotary_emb
        print("    model inv_freq:", [f"{x:.6e}" for x in rot.inv_freq.tolist()])

    # ---- forward / logprobs / objective / gradients ------------------------
    ids, lengths, attn, position_ids, w, tvalid = make_inputs(spec["seed"] + 29, cfg.vocab_size)
    model.zero_grad(set_to_none=True)
    logits = forward_logits(model, ids, attn, position_ids)
    lp = token_logprobs(logits, ids, tvalid, TEMPERATURE)
    objective = (w * lp).sum()
    objective.backward()

    # per-sequence check: valid logits must not depend on the padding/batching
    with torch.no_grad():
        worst = 0.0
        for b in range(B):
            L = LENGTHS[b]
            lb = forward_logits(model, ids[b:b + 1, :L], None, position_ids[b:b + 1, :L])
            worst = max(worst, (lb[0] - logits[b, :L]).abs().max().item())
        print(f"  max |logits(single, unpadded) - logits(batched)| over valid positions = {worst:.3e}")

    # diagnostics: how much each decoder layer moves the residual stream, and
    # how much the logits depend on the RoPE frequencies (so RoPE bugs show up)
    with torch.no_grad():
        out = model(input_ids=ids, attention_mask=attn, position_ids=position_ids,
                    use_cache=False, output_hidden_states=True)
        # hidden_states = (embeddings, after layer 0, ..., after the last layer AND the final norm)
        hs = out.hidden_states
        m = attn.bool()
        rel = []
        for i in range(1, len(hs)):
            d_ = (hs[i] - hs[i - 1])[m]
            rel.append(f"{(d_.pow(2).mean().sqrt() / hs[i - 1][m].pow(2).mean().sqrt()).item():.2f}")
        print("  rms(h_out - h_in)/rms(h_in) per layer (last one includes the final norm):", rel)
        rot = model.model.rotary_emb
        saved_inv = rot.inv_freq.clone()
        head_dim = saved_inv.numel() * 2
        base = cfg.rope_parameters["rope_theta"]
        plain = 1.0 / (base ** (torch.arange(0, head_dim, 2, dtype=torch.int64).float() / head_dim))
        probes = [("no rope (inv_freq = 0)", torch.zeros_like(saved_inv))]
        if name == "llama":
            probes.append(("plain rope (no llama3 scaling)", plain))
            for idx, band in ((0, "high"), (1, "medium"), (2, "low")):
                alt = saved_inv.clone()
                alt[idx] = plain[idx] / cfg.rope_parameters["factor"] if band == "high" else plain[idx]
                probes.append((f"inv_freq[{idx}] ({band} band) given the wrong band's value", alt))
        for label, inv in probes:
            rot.inv_freq.copy_(inv)
            lg = forward_logits(model, ids, attn, position_ids)
            print(f"  sensitivity: {label}: max |dlogits| = {(lg - logits)[m].abs().max().item():.3e}")
        rot.inv_freq.copy_(saved_inv)
        assert torch.equal(forward_logits(model, ids, attn, position_ids), logits.detach())

    vals = lp[tvalid]
    print(f"  logits: std {logits.detach()[attn.bool()].std().item():.3f}; "
          f"logprobs@T={TEMPERATURE}: min {vals.min().item():.3f} max {vals.max().item():.3f} "
          f"mean {vals.mean().item():.3f}; uniform would be {-math.log(cfg.vocab_size):.3f}; "
          f"max softmax prob per position: "
          f"{torch.softmax(logits.detach() / TEMPERATURE, -1).amax(-1)[attn.bool()].min().item():.3f}.."
          f"{torch.softmax(logits.detach() / TEMPERATURE, -1).amax(-1)[attn.bool()].max().item():.3f}")
    print(f"  objective = {objective.item():.6f}")

    # end-to-end check: the saved directory, loaded the ordinary way in fp32,
    # reproduces the reference logits (one unpadded sequence at a time)
    with torch.no_grad():
        reloaded = AutoModelForCausalLM.from_pretrained(d, dtype=torch.float32, attn_implementation="eager")
        reloaded.eval()
        worst = 0.0
        for b in range(B):
            L = LENGTHS[b]
            lb = reloaded(input_ids=ids[b:b + 1, :L], use_cache=False).logits
            worst = max(worst, (lb[0] - logits[b, :L]).abs().max().item())
        print(f"  reload check: max |logits(from_pretrained) - ref logits| = {worst:.3e}")
        assert worst < 1e-5, "saved model does not reproduce the reference logits"
        del reloaded

    ref = {
        "input_ids": ids.to(torch.int32),
        "lengths": lengths.to(torch.int32),
        "logits": logits.detach(),
        "temperature": torch.tensor([TEMPERATURE], dtype=torch.float32),
        "logprobs": lp.detach(),
        "weights": w,
        "objective": objective.detach().reshape(1),
        "rope.inv_freq": model.model.rotary_emb.inv_freq.detach().to(torch.float32).clone(),
    }
    for pname, p in model.named_parameters():
        assert p.grad is not None, pname
        ref["grad." + pname] = p.grad.detach().clone()
    model.zero_grad(set_to_none=True)

    with torch.no_grad():
        ce = ce_loss_fn(model, ids, attn, position_ids, tvalid)
    ref["ce_loss"] = ce.detach().reshape(1)
    print(f"  ce_loss (T=1, mean over {int(tvalid.sum())} targets) = {ce.item():.6f}")

    # ---- AdamW steps --------------------------------------------------------
    named = list(model.named_parameters())
    decay = [p for n, p in named if p.ndim == 2]
    no_decay = [p for n, p in named if p.ndim != 2]
    opt = torch.optim.AdamW(
        [dict(params=decay, weight_decay=ADAMW_WD), dict(params=no_decay, weight_decay=0.0)],
        lr=ADAMW_LR, betas=ADAMW_BETAS, eps=ADAMW_EPS, foreach=False, fused=False,
    )
    losses, norms = [], []
    for step in range(ADAMW_STEPS):
        opt.zero_grad(set_to_none=True)
        loss = ce_loss_fn(model, ids, attn, position_ids, tvalid)
        losses.append(loss.item())
        loss.backward()
        gn = torch.nn.utils.clip_grad_norm_([p for _, p in named], max_norm=MAX_GRAD_NORM)
        norms.append(gn.item())
        opt.step()
    opt.zero_grad(set_to_none=True)
    print("  adamw losses:", [f"{x:.6f}" for x in losses])
    print("  adamw grad norms:", [f"{x:.6f}" for x in norms])
    ref["adamw_losses"] = torch.tensor(losses, dtype=torch.float32)
    ref["adamw_gradnorms"] = torch.tensor(norms, dtype=torch.float32)
    ref["adamw_hparams"] = torch.tensor(
        [ADAMW_LR, ADAMW_BETAS[0], ADAMW_BETAS[1], ADAMW_EPS, ADAMW_WD, MAX_GRAD_NORM], dtype=torch.float32)
    p = dict(model.named_parameters())
    ref["final.model.norm.weight"] = p["model.norm.weight"].detach().clone()
    ref["final.model.layers.1.mlp.down_proj.weight"] = p["model.layers.1.mlp.down_proj.weight"].detach().clone()

    for k, v in ref.items():
        assert v.dtype in (torch.float32, torch.int32), (k, v.dtype)
        ref[k] = v.contiguous()
    rp = os.path.join(d, "ref.safetensors")
    # a single metadata key: safetensors stores metadata in a hash map, so with
    # several keys the header order (and thus the file bytes) varies run to run
    save_file(ref, rp, metadata={
        "generator": f"tests/scripts/make_policy_fixtures.py; torch {torch.__version__}; "
                     f"transformers {transformers.__version__}",
    })
    print(f"  ref.safetensors: {len(ref)} tensors")


def dir_size(path):
    total = 0
    for root, _, files in os.walk(path):
        for f in files:
            total += os.path.getsize(os.path.join(root, f))
    return total


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=DEFAULT_OUT, help="output directory (default: tests/fixtures/policy)")
    args = ap.parse_args()

    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    print(f"torch {torch.__version__}  transformers {transformers.__version__}  numpy {np.__version__}")
    os.makedirs(args.out, exist_ok=True)
    for spec in MODELS:
        make_one(spec, args.out)

    print("== sizes ==")
    for spec in MODELS:
        d = os.path.join(args.out, spec["name"])
        for f in sorted(os.listdir(d)):
            print(f"  {spec['name']}/{f}: {os.path.getsize(os.path.join(d, f))} bytes")
    total = dir_size(args.out)
    print(f"  total under {args.out}: {total} bytes ({total / 1e6:.3f} MB), limit {SIZE_LIMIT}")
    if total > SIZE_LIMIT:
        print("ERROR: fixtures exceed the size limit", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
