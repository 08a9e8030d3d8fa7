/* policy/model.c: the parameter table and arenas, HF loading/saving, random init,
 * gradient bookkeeping, and thin wrappers over the backend table. */
#include "model.h"

#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/fsutil.h"
#include "../common/rng.h"
#include "safetensors.h"

/* ---- the parameter table ---- */

typedef struct {
    policy_param *p;
    size_t n, cap, off;
} table_builder;

static int tb_add(table_builder *tb, const char *name, int ndim, int64_t d0, int64_t d1, int layer, size_t slot) {
    if (tb->n == tb->cap) {
        size_t cap = tb->cap ? tb->cap * 2 : 64;
        policy_param *np = realloc(tb->p, cap * sizeof *np);
        if (!np) return -1;
        tb->p = np;
        tb->cap = cap;
    }
    policy_param *e = &tb->p[tb->n++];
    memset(e, 0, sizeof *e);
    snprintf(e->name, sizeof e->name, "%s", name);
    e->ndim = ndim;
    e->shape[0] = d0;
    e->shape[1] = ndim == 2 ? d1 : 1;
    e->numel = (size_t)d0 * (size_t)e->shape[1];
    e->decay = ndim == 2;
    e->layer = layer;
    e->slot = slot;
    /* 16-float alignment keeps every tensor 64-byte aligned for vector loads. */
    e->offset = tb->off;
    tb->off += (e->numel + 15) & ~(size_t)15;
    return 0;
}

/* The sizes a tensor's shape is written in. */
typedef enum { D_ONE, D_H, D_I, D_Q, D_KV, D_HD } dim;

/* One tensor of a decoder layer: its HF name suffix, shape, the field of policy_layer that points
 * at it, and the config flag it depends on (0: always present). The one table that both the
 * parameter table and every view (weights, gradients) follow. */
typedef enum { ALWAYS, IF_QKV_BIAS, IF_O_BIAS, IF_QK_NORM } presence;
static const struct {
    const char *suffix;
    int ndim;
    dim d0, d1;
    size_t field;
    presence when;
} LAYER_TENSORS[] = {
    {"input_layernorm.weight", 1, D_H, D_ONE, offsetof(policy_layer, input_norm), ALWAYS},
    {"self_attn.q_proj.weight", 2, D_Q, D_H, offsetof(policy_layer, wq), ALWAYS},
    {"self_attn.q_proj.bias", 1, D_Q, D_ONE, offsetof(policy_layer, bq), IF_QKV_BIAS},
    {"self_attn.k_proj.weight", 2, D_KV, D_H, offsetof(policy_layer, wk), ALWAYS},
    {"self_attn.k_proj.bias", 1, D_KV, D_ONE, offsetof(policy_layer, bk), IF_QKV_BIAS},
    {"self_attn.v_proj.weight", 2, D_KV, D_H, offsetof(policy_layer, wv), ALWAYS},
    {"self_attn.v_proj.bias", 1, D_KV, D_ONE, offsetof(policy_layer, bv), IF_QKV_BIAS},
    {"self_attn.o_proj.weight", 2, D_H, D_Q, offsetof(policy_layer, wo), ALWAYS},
    {"self_attn.o_proj.bias", 1, D_H, D_ONE, offsetof(policy_layer, bo), IF_O_BIAS},
    {"self_attn.q_norm.weight", 1, D_HD, D_ONE, offsetof(policy_layer, q_norm), IF_QK_NORM},
    {"self_attn.k_norm.weight", 1, D_HD, D_ONE, offsetof(policy_layer, k_norm), IF_QK_NORM},
    {"post_attention_layernorm.weight", 1, D_H, D_ONE, offsetof(policy_layer, post_norm), ALWAYS},
    {"mlp.gate_proj.weight", 2, D_I, D_H, offsetof(policy_layer, w_gate), ALWAYS},
    {"mlp.up_proj.weight", 2, D_I, D_H, offsetof(policy_layer, w_up), ALWAYS},
    {"mlp.down_proj.weight", 2, D_H, D_I, offsetof(policy_layer, w_down), ALWAYS},
};

static int64_t dim_size(const policy_config *c, dim d) {
    switch (d) {
    case D_H: return c->hidden_size;
    case D_I: return c->intermediate_size;
    case D_Q: return (int64_t)c->num_attention_heads * c->head_dim;
    case D_KV: return (int64_t)c->num_key_value_heads * c->head_dim;
    case D_HD: return c->head_dim;
    default: return 1;
    }
}

static int present(const policy_config *c, presence p) {
    return p == ALWAYS || (p == IF_QKV_BIAS && c->qkv_bias) || (p == IF_O_BIAS && c->o_bias) ||
           (p == IF_QK_NORM && c->qk_norm);
}

/* Builds m->params in HF order: embeddings, each layer's LAYER_TENSORS, final norm, lm_head. */
static int build_table(policy_model *m, grpo_err *err) {
    const policy_config *c = &m->cfg;
    const int64_t H = c->hidden_size, V = c->vocab_size;
    table_builder tb = {0};
    char n[96];
    int bad = tb_add(&tb, "model.embed_tokens.weight", 2, V, H, -1, offsetof(policy_weights, embed));
    for (int l = 0; l < c->num_hidden_layers && !bad; l++)
        for (size_t i = 0; i < sizeof LAYER_TENSORS / sizeof LAYER_TENSORS[0] && !bad; i++) {
            if (!present(c, LAYER_TENSORS[i].when)) continue;
            snprintf(n, sizeof n, "model.layers.%d.%s", l, LAYER_TENSORS[i].suffix);
            bad |= tb_add(&tb, n, LAYER_TENSORS[i].ndim, dim_size(c, LAYER_TENSORS[i].d0),
                          dim_size(c, LAYER_TENSORS[i].d1), l, LAYER_TENSORS[i].field);
        }
    bad |= tb_add(&tb, "model.norm.weight", 1, H, 1, -1, offsetof(policy_weights, final_norm));
    if (!c->tie_word_embeddings) bad |= tb_add(&tb, "lm_head.weight", 2, V, H, -1, offsetof(policy_weights, lm_head));
    if (bad) {
        free(tb.p);
        return grpo_errf(err, GRPO_ENOMEM, "out of memory building the parameter table");
    }
    m->params = tb.p;
    m->n_tensors = tb.n;
    m->n_params = tb.off;
    return GRPO_OK;
}

const policy_param *policy_find_param(const policy_model *m, const char *name) {
    for (size_t i = 0; i < m->n_tensors; i++)
        if (!strcmp(m->params[i].name, name)) return &m->params[i];
    return NULL;
}

/* Points a policy_weights view at arena base: every pointer where the parameter table says. */
static void bind_view(const policy_model *m, float *base, policy_weights *w) {
    for (int l = 0; l < m->cfg.num_hidden_layers; l++) memset(&w->layers[l], 0, sizeof w->layers[l]);
    for (size_t i = 0; i < m->n_tensors; i++) {
        const policy_param *p = &m->params[i];
        char *owner = p->layer < 0 ? (char *)w : (char *)&w->layers[p->layer];
        float *at = base + p->offset;
        memcpy(owner + p->slot, &at, sizeof at);
    }
    if (m->cfg.tie_word_embeddings) w->lm_head = w->embed;
}

static float *arena_alloc(size_t n) {
    void *p = NULL;
    if (posix_memalign(&p, 64, (n ? n : 1) * sizeof(float)) != 0) return NULL;
    memset(p, 0, n * sizeof(float));
    return p;
}

/* RoPE inverse frequencies as transformers computes them in fp32, with llama3 scaling. */
static void rope_init(policy_model *m) {
    const policy_config *c = &m->cfg;
    int half = c->head_dim / 2;
    for (int i = 0; i < half; i++) {
        float e = (float)(2 * i) / (float)c->head_dim;
        float inv = 1.0f / powf((float)c->rope_theta, e);
        if (c->rope_type == POLICY_ROPE_LLAMA3) {
            double old_ctx = c->rope_original_max_pos;
            double low_wavelen = old_ctx / c->rope_low_freq_factor;
            double high_wavelen = old_ctx / c->rope_high_freq_factor;
            double wavelen = 2.0 * M_PI / inv;
            double f = inv;
            if (wavelen > low_wavelen) f = inv / c->rope_factor;
            else if (wavelen >= high_wavelen) {
                double smooth = (old_ctx / wavelen - c->rope_low_freq_factor) /
                                (c->rope_high_freq_factor - c->rope_low_freq_factor);
                f = (1.0 - smooth) * inv / c->rope_factor + smooth * inv;
            }
            inv = (float)f;
        }
        m->rope_inv_freq[i] = inv;
    }
}

int policy_build(policy_model *m, const policy_config *cfg, grpo_err *err) {
    memset(m, 0, sizeof *m);
    m->cfg = *cfg;
    int rc = policy_config_validate(cfg, "config", err);
    if (rc) return rc;
    if ((rc = build_table(m, err))) return rc;
    m->w.layers = calloc((size_t)cfg->num_hidden_layers, sizeof(policy_layer));
    m->g.layers = calloc((size_t)cfg->num_hidden_layers, sizeof(policy_layer));
    m->rope_inv_freq = calloc((size_t)cfg->head_dim / 2, sizeof(float));
    m->param_mem = arena_alloc(m->n_params);
    if (!m->w.layers || !m->g.layers || !m->rope_inv_freq || !m->param_mem) {
        policy_free(m);
        return grpo_errf(err, GRPO_ENOMEM, "out of memory allocating %.1f MiB of parameters",
                         (double)m->n_params * 4 / 1048576.0);
    }
    bind_view(m, m->param_mem, &m->w);
    rope_init(m);
    m->backend = &policy_backend_cpu;
    return GRPO_OK;
}

void policy_free(policy_model *m) {
    if (m->backend && m->backend->release) m->backend->release(m);
    free(m->params);
    free(m->w.layers);
    free(m->g.layers);
    free(m->rope_inv_freq);
    free(m->param_mem);
    free(m->grad_mem);
    free(m->m_mem);
    free(m->v_mem);
    memset(m, 0, sizeof *m);
}

int policy_enable_training(policy_model *m, grpo_err *err) {
    if (m->grad_mem) return GRPO_OK;
    m->grad_mem = arena_alloc(m->n_params);
    m->m_mem = arena_alloc(m->n_params);
    m->v_mem = arena_alloc(m->n_params);
    if (!m->grad_mem || !m->m_mem || !m->v_mem) {
        free(m->grad_mem); free(m->m_mem); free(m->v_mem);
        m->grad_mem = m->m_mem = m->v_mem = NULL;
        return grpo_errf(err, GRPO_ENOMEM, "out of memory allocating %.1f MiB of gradients and optimizer state",
                         (double)m->n_params * 12 / 1048576.0);
    }
    bind_view(m, m->grad_mem, &m->g);
    m->adam_t = 0;
    return GRPO_OK;
}

void policy_zero_grad(policy_model *m) {
    if (m->grad_mem) memset(m->grad_mem, 0, m->n_params * sizeof(float));
}

double policy_clip_grad_norm(policy_model *m, double max_norm) {
    if (!m->grad_mem) return 0.0;
    double ss = 0.0;
    const float *g = m->grad_mem;
    /* padding between tensors is always zero, so the whole arena can be summed */
#pragma omp parallel for reduction(+ : ss) schedule(static)
    for (size_t i = 0; i < m->n_params; i++) ss += (double)g[i] * g[i];
    double norm = sqrt(ss);
    if (max_norm > 0) {
        double coef = max_norm / (norm + 1e-6);
        if (coef < 1.0) {
            float c = (float)coef;
            float *gw = m->grad_mem;
#pragma omp parallel for schedule(static)
            for (size_t i = 0; i < m->n_params; i++) gw[i] *= c;
        }
    }
    return norm;
}

/* ---- random init ---- */

void policy_init_random(policy_model *m, uint64_t seed) {
    for (size_t i = 0; i < m->n_tensors; i++) {
        const policy_param *p = &m->params[i];
        float *x = m->param_mem + p->offset;
        const char *dot = strrchr(p->name, '.');
        int is_bias = dot && !strcmp(dot, ".bias");
        rng_state r;
        /* one stream per tensor, so adding a tensor never changes the others */
        rng_seed(&r, rng_mix64(seed) ^ rng_mix64(i + 0x1234));
        for (size_t j = 0; j < p->numel; j++) {
            if (p->ndim == 2) x[j] = (float)(0.02 * rng_normal(&r));
            else x[j] = is_bias ? 0.0f : 1.0f;
        }
    }
}

/* ---- loading and saving in HF layout ---- */

int policy_load(policy_model *m, const char *dir, grpo_err *err) {
    policy_config cfg;
    int rc = policy_config_load(&cfg, dir, err);
    if (rc) return rc;
    if ((rc = policy_build(m, &cfg, err))) return rc;
    st_model sm;
    if ((rc = st_model_open(&sm, dir, err))) {
        policy_free(m);
        return rc;
    }
    for (size_t i = 0; i < m->n_tensors && !rc; i++) {
        const policy_param *p = &m->params[i];
        const st_file *f = NULL;
        const st_tensor *t = st_model_find(&sm, p->name, &f);
        char want[64];
        if (p->ndim == 2) snprintf(want, sizeof want, "[%lld, %lld]", (long long)p->shape[0], (long long)p->shape[1]);
        else snprintf(want, sizeof want, "[%lld]", (long long)p->shape[0]);
        if (!t) {
            rc = grpo_errf(err, GRPO_EFORMAT, "%s: missing tensor \"%s\" (expected shape %s for %s)", dir, p->name, want,
                           policy_arch_name(cfg.arch));
            break;
        }
        int same = t->ndim == p->ndim && t->shape[0] == p->shape[0] && (p->ndim == 1 || t->shape[1] == p->shape[1]);
        if (!same) {
            char got[160] = "[";
            for (int d = 0; d < t->ndim; d++)
                snprintf(got + strlen(got), sizeof got - strlen(got), "%s%lld", d ? ", " : "", (long long)t->shape[d]);
            strcat(got, "]");
            rc = grpo_errf(err, GRPO_EFORMAT, "%s: tensor \"%s\" has shape %s, config.json implies %s", f->path, p->name,
                           got, want);
            break;
        }
        if ((rc = st_to_f32(t, m->param_mem + p->offset, err))) grpo_err_prefix(err, "%s", f->path);
    }
    st_model_close(&sm);
    if (rc) policy_free(m);
    return rc;
}

int policy_save(const policy_model *m, const char *dir, const char *dtype, grpo_err *err) {
    st_dtype dt;
    if (!strcmp(dtype, "float32")) dt = ST_F32;
    else if (!strcmp(dtype, "bfloat16")) dt = ST_BF16;
    else return grpo_errf(err, GRPO_EINVAL, "unsupported save dtype \"%s\" (float32, bfloat16)", dtype);
    st_write_item *items = calloc(m->n_tensors, sizeof *items);
    if (!items) return grpo_errf(err, GRPO_ENOMEM, "out of memory");
    for (size_t i = 0; i < m->n_tensors; i++) {
        const policy_param *p = &m->params[i];
        items[i].name = p->name;
        items[i].data = m->param_mem + p->offset;
        items[i].ndim = p->ndim;
        items[i].shape[0] = p->shape[0];
        items[i].shape[1] = p->shape[1];
    }
    char path[4096];
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    int rc = st_write(path, items, m->n_tensors, dt, err);
    free(items);
    if (rc) return rc;
    char *json = policy_config_to_json(&m->cfg, dtype);
    if (!json) return grpo_errf(err, GRPO_ENOMEM, "out of memory");
    snprintf(path, sizeof path, "%s/config.json", dir);
    size_t len = strlen(json);
    char *withnl = malloc(len + 2);
    if (!withnl) { free(json); return grpo_errf(err, GRPO_ENOMEM, "out of memory"); }
    memcpy(withnl, json, len);
    withnl[len] = '\n';
    rc = fs_write_file_atomic(path, withnl, len + 1, err);
    free(withnl);
    free(json);
    return rc;
}

/* ---- batches ---- */

size_t policy_batch_tokens(const policy_batch *b) {
    size_t n = 0;
    for (int s = 0; s < b->n_seq; s++) n += (size_t)b->seq_len[s];
    return n;
}

size_t policy_batch_targets(const policy_batch *b) {
    size_t n = 0;
    for (int s = 0; s < b->n_seq; s++) n += (size_t)(b->seq_len[s] - 1);
    return n;
}

int policy_batch_check(const policy_model *m, const policy_batch *b, grpo_err *err) {
    if (b->n_seq <= 0) return grpo_errf(err, GRPO_EINVAL, "empty batch");
    size_t k = 0;
    for (int s = 0; s < b->n_seq; s++) {
        if (b->seq_len[s] < 1) return grpo_errf(err, GRPO_EINVAL, "sequence %d is empty", s);
        if (b->seq_len[s] > m->cfg.max_position_embeddings)
            return grpo_errf(err, GRPO_EINVAL, "sequence %d has %d tokens, more than max_position_embeddings %d", s,
                             b->seq_len[s], m->cfg.max_position_embeddings);
        for (int t = 0; t < b->seq_len[s]; t++, k++)
            if (b->tokens[k] < 0 || b->tokens[k] >= m->cfg.vocab_size)
                return grpo_errf(err, GRPO_EINVAL, "token id %d at position %d of sequence %d is outside the vocabulary (0..%d)",
                                 b->tokens[k], t, s, m->cfg.vocab_size - 1);
    }
    return GRPO_OK;
}

/* ---- wrappers ---- */

int policy_forward(policy_model *m, const policy_batch *b, float temperature, float *logp, float *logits, int keep,
                   grpo_err *err) {
    int rc = policy_batch_check(m, b, err);
    if (rc) return rc;
    if (!(temperature > 0)) return grpo_errf(err, GRPO_EINVAL, "temperature must be positive, got %g", temperature);
    return m->backend->forward(m, b, temperature, logp, logits, keep, err);
}

int policy_backward(policy_model *m, const policy_batch *b, float temperature, const float *dlogp, grpo_err *err) {
    if (!m->grad_mem) return grpo_errf(err, GRPO_EINVAL, "backward needs policy_enable_training first");
    return m->backend->backward(m, b, temperature, dlogp, err);
}

int policy_backward_logits(policy_model *m, const policy_batch *b, const float *dlogits, grpo_err *err) {
    if (!m->grad_mem) return grpo_errf(err, GRPO_EINVAL, "backward needs policy_enable_training first");
    if (!m->backend->backward_logits)
        return grpo_errf(err, GRPO_EUNSUPPORTED,
                         "backend %s has no backward over the logits yet (soft-target losses such as distill \"gkd\" "
                         "run on the cpu backend)",
                         m->backend->name);
    return m->backend->backward_logits(m, b, dlogits, err);
}

int policy_adamw_step(policy_model *m, const policy_adamw *h, grpo_err *err) {
    if (!m->grad_mem) return grpo_errf(err, GRPO_EINVAL, "adamw needs policy_enable_training first");
    return m->backend->adamw_step(m, h, err);
}

int policy_ce_step(policy_model *m, const policy_batch *b, const float *mask, int backward, double *loss, grpo_err *err) {
    size_t nt = policy_batch_targets(b);
    float *logp = malloc((nt ? nt : 1) * sizeof(float));
    float *w = malloc((nt ? nt : 1) * sizeof(float));
    if (!logp || !w) { free(logp); free(w); return grpo_errf(err, GRPO_ENOMEM, "out of memory"); }
    int rc = policy_forward(m, b, 1.0f, logp, NULL, backward, err);
    if (!rc) {
        double count = 0, sum = 0;
        for (size_t i = 0; i < nt; i++) {
            float k = mask ? (mask[i] != 0) : 1.0f;
            count += k;
            sum -= k * (double)logp[i];
        }
        *loss = count > 0 ? sum / count : 0.0;
        if (backward && count > 0) {
            for (size_t i = 0; i < nt; i++) w[i] = -(mask ? (mask[i] != 0) : 1.0f) / (float)count;
            rc = policy_backward(m, b, 1.0f, w, err);
        }
    }
    free(logp);
    free(w);
    return rc;
}

void policy_memory(const policy_model *m, size_t *params, size_t *grads, size_t *optim, size_t *acts) {
    *params = m->n_params * sizeof(float);
    *grads = m->grad_mem ? m->n_params * sizeof(float) : 0;
    *optim = m->m_mem ? 2 * m->n_params * sizeof(float) : 0;
    *acts = m->acts_bytes;
}

size_t policy_kv_block_floats(const policy_model *m, int cap) {
    return 2 * (size_t)m->cfg.num_hidden_layers * (size_t)cap * m->cfg.num_key_value_heads * m->cfg.head_dim;
}

int policy_forward_step(policy_model *m, const policy_step *st, float *logits, grpo_err *err) {
    if (st->n_seq <= 0) return grpo_errf(err, GRPO_EINVAL, "empty step");
    if (!m->backend->forward_step)
        return grpo_errf(err, GRPO_EUNSUPPORTED, "backend %s has no cached forward", m->backend->name);
    for (int s = 0, k = 0; s < st->n_seq; s++) {
        int pl = st->prefix && st->prefix[s] ? st->prefix_len[s] : 0;
        if (st->rows[s] < 1) return grpo_errf(err, GRPO_EINVAL, "step sequence %d has no rows", s);
        if (st->own_start[s] + st->rows[s] > st->own[s]->cap)
            return grpo_errf(err, GRPO_EINVAL, "step sequence %d: KV block of %d rows cannot hold %d more after %d", s,
                             st->own[s]->cap, st->rows[s], st->own_start[s]);
        if (pl + st->own_start[s] + st->rows[s] > m->cfg.max_position_embeddings)
            return grpo_errf(err, GRPO_EINVAL, "step sequence %d: position %d exceeds max_position_embeddings %d", s,
                             pl + st->own_start[s] + st->rows[s] - 1, m->cfg.max_position_embeddings);
        for (int i = 0; i < st->rows[s]; i++, k++)
            if (st->tokens[k] < 0 || st->tokens[k] >= m->cfg.vocab_size)
                return grpo_errf(err, GRPO_EINVAL, "token id %d of step sequence %d is outside the vocabulary (0..%d)",
                                 st->tokens[k], s, m->cfg.vocab_size - 1);
    }
    return m->backend->forward_step(m, st, logits, err);
}
