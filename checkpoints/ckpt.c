/* checkpoints/ckpt.c: atomic training checkpoints (see ckpt.h). */
#include "ckpt.h"

#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../common/fsutil.h"
#include "../policy/safetensors.h"

static int write_optimizer(const char *dir, const policy_model *m, grpo_err *err) {
    st_write_item *items = calloc(2 * m->n_tensors, sizeof *items);
    char (*names)[112] = calloc(2 * m->n_tensors, sizeof *names);
    if (!items || !names) {
        free(items);
        free(names);
        return grpo_errf(err, GRPO_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < m->n_tensors; i++) {
        const policy_param *p = &m->params[i];
        for (int k = 0; k < 2; k++) {
            st_write_item *it = &items[2 * i + k];
            snprintf(names[2 * i + k], sizeof names[0], "%s.%s", k ? "exp_avg_sq" : "exp_avg", p->name);
            it->name = names[2 * i + k];
            it->data = (k ? m->v_mem : m->m_mem) + p->offset;
            it->ndim = p->ndim;
            it->shape[0] = p->shape[0];
            it->shape[1] = p->shape[1];
        }
    }
    char path[4400];
    snprintf(path, sizeof path, "%s/optimizer.safetensors", dir);
    int rc = st_write(path, items, 2 * m->n_tensors, ST_F32, err);
    free(items);
    free(names);
    return rc;
}

static int write_state(const char *dir, const policy_model *m, const ckpt_state *st, grpo_err *err) {
    json_t *o = json_object();
    json_object_set_new(o, "step", json_integer(st->step));
    json_object_set_new(o, "adam_t", json_integer(m->adam_t));
    json_object_set_new(o, "cursor_epoch", json_integer(st->cursor_epoch));
    json_object_set_new(o, "cursor_pos", json_integer(st->cursor_pos));
    char seed[32];
    snprintf(seed, sizeof seed, "%llu", (unsigned long long)st->seed);
    json_object_set_new(o, "seed", json_string(seed));
    json_object_set_new(o, "has_optimizer", json_boolean(m->m_mem != NULL));
    if (st->config_json) {
        json_t *cfg = json_loads(st->config_json, 0, NULL);
        json_object_set_new(o, "config", cfg ? cfg : json_string(st->config_json));
    }
    char *text = json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    json_decref(o);
    if (!text) return grpo_errf(err, GRPO_ENOMEM, "out of memory");
    char path[4400];
    snprintf(path, sizeof path, "%s/trainer_state.json", dir);
    int rc = fs_write_file_atomic(path, text, strlen(text), err);
    free(text);
    return rc;
}

/* Step numbers of complete checkpoints (names step-N without a suffix), ascending. */
/* The steps of the complete checkpoints under root (those with a trainer_state.json), ascending,
 * into a malloc'd *steps (NULL when none). A missing root is no checkpoint. */
static int list_steps(const char *root, int64_t **steps, int *n, grpo_err *err) {
    *steps = NULL;
    *n = 0;
    DIR *d = opendir(root);
    if (!d) return GRPO_OK;
    struct dirent *e;
    int cap = 0;
    while ((e = readdir(d))) {
        long long s;
        char tail;
        if (sscanf(e->d_name, "step-%lld%c", &s, &tail) != 1) continue;
        char sp[4400];
        snprintf(sp, sizeof sp, "%s/%s/trainer_state.json", root, e->d_name);
        if (!fs_exists(sp)) continue;
        if (*n == cap) {
            int64_t *grown = realloc(*steps, (size_t)(cap = cap ? cap * 2 : 16) * sizeof **steps);
            if (!grown) {
                closedir(d);
                free(*steps);
                *steps = NULL;
                *n = 0;
                return grpo_errf(err, GRPO_ENOMEM, "%s: out of memory listing checkpoints", root);
            }
            *steps = grown;
        }
        (*steps)[(*n)++] = s;
    }
    closedir(d);
    for (int i = 1; i < *n; i++)
        for (int j = i; j > 0 && (*steps)[j - 1] > (*steps)[j]; j--) {
            int64_t t = (*steps)[j];
            (*steps)[j] = (*steps)[j - 1];
            (*steps)[j - 1] = t;
        }
    return GRPO_OK;
}

/* Copies the tokenizer files that exist in src into dst. */
static int copy_tokenizer(const char *src, const char *dst, grpo_err *err) {
    static const char *const names[] = {"tokenizer.json", "tokenizer_config.json", "generation_config.json",
                                        "special_tokens_map.json"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        char from[4400], to[4400];
        snprintf(from, sizeof from, "%s/%s", src, names[i]);
        snprintf(to, sizeof to, "%s/%s", dst, names[i]);
        if (!fs_exists(from)) continue;
        char *data;
        size_t len;
        int rc = fs_read_file(from, &data, &len, err);
        if (!rc) rc = fs_write_file_atomic(to, data, len, err);
        free(data);
        if (rc) return rc;
    }
    return GRPO_OK;
}

int ckpt_save(const char *run_dir, const policy_model *m, const ckpt_state *st, int keep_last, grpo_err *err) {
    char root[4096], final[4200], tmp[4300];
    snprintf(root, sizeof root, "%s/checkpoints", run_dir);
    int rc = fs_mkdirs(root, err);
    if (rc) return rc;
    snprintf(final, sizeof final, "%s/step-%08lld", root, (long long)st->step);
    snprintf(tmp, sizeof tmp, "%s.tmp-%d", final, (int)getpid());
    /* temporary directories left by a killed run (one trainer writes a run directory) */
    DIR *d = opendir(root);
    struct dirent *de;
    while (d && (de = readdir(d)))
        if (!strncmp(de->d_name, "step-", 5) && strstr(de->d_name, ".tmp-")) {
            char stale[4400];
            snprintf(stale, sizeof stale, "%s/%s", root, de->d_name);
            fs_remove_tree(stale, NULL);
        }
    if (d) closedir(d);
    if ((rc = fs_mkdirs(tmp, err))) return rc;
    if ((rc = policy_save(m, tmp, "float32", err))) goto fail;
    if (m->m_mem && (rc = write_optimizer(tmp, m, err))) goto fail;
    if (st->tokenizer_dir && (rc = copy_tokenizer(st->tokenizer_dir, tmp, err))) goto fail;
    /* trainer_state.json last: its presence marks a complete checkpoint */
    if ((rc = write_state(tmp, m, st, err))) goto fail;
    if ((rc = fs_fsync_dir(tmp, err))) goto fail;
    if (fs_exists(final)) fs_remove_tree(final, NULL); /* a re-save of the same step after a resume */
    if (rename(tmp, final) != 0) {
        rc = grpo_errf(err, GRPO_EIO, "%s: cannot rename into place: %s", final, strerror(errno));
        goto fail;
    }
    if ((rc = fs_fsync_dir(root, err))) return rc;
    if (keep_last > 0) {
        int64_t *steps;
        int n;
        /* the new checkpoint is in place: a failure here only leaves older ones unpruned */
        if ((rc = list_steps(root, &steps, &n, err))) return rc;
        for (int i = 0; i + keep_last < n; i++) {
            char old[4200];
            snprintf(old, sizeof old, "%s/step-%08lld", root, (long long)steps[i]);
            fs_remove_tree(old, NULL);
        }
        free(steps);
    }
    return GRPO_OK;
fail:
    fs_remove_tree(tmp, NULL);
    return rc;
}

int ckpt_find_latest(const char *run_dir, char *path, size_t cap, grpo_err *err) {
    char root[4096];
    snprintf(root, sizeof root, "%s/checkpoints", run_dir);
    int64_t *steps;
    int n;
    path[0] = '\0';
    int rc = list_steps(root, &steps, &n, err);
    if (rc) return rc;
    if (n > 0) snprintf(path, cap, "%s/step-%08lld", root, (long long)steps[n - 1]);
    free(steps);
    return GRPO_OK;
}

static int json_i64(json_t *o, const char *key, int64_t *out, const char *path, grpo_err *err) {
    json_t *v = json_object_get(o, key);
    if (!json_is_integer(v)) return grpo_errf(err, GRPO_EFORMAT, "%s: field \"%s\" missing or not an integer", path, key);
    *out = json_integer_value(v);
    return GRPO_OK;
}

int ckpt_load(const char *dir, policy_model *m, ckpt_state *st, grpo_err *err) {
    memset(st, 0, sizeof *st);
    char path[4200];
    snprintf(path, sizeof path, "%s/trainer_state.json", dir);
    json_error_t je;
    json_t *o = json_load_file(path, 0, &je);
    if (!o) return grpo_errf(err, GRPO_EFORMAT, "%s: %s (line %d)", path, je.text, je.line);
    int64_t adam_t = 0;
    int rc;
    if ((rc = json_i64(o, "step", &st->step, path, err)) || (rc = json_i64(o, "adam_t", &adam_t, path, err)) ||
        (rc = json_i64(o, "cursor_epoch", &st->cursor_epoch, path, err)) ||
        (rc = json_i64(o, "cursor_pos", &st->cursor_pos, path, err))) {
        json_decref(o);
        return rc;
    }
    json_t *seed = json_object_get(o, "seed");
    st->seed = json_is_string(seed) ? strtoull(json_string_value(seed), NULL, 10) : 0;
    json_t *cfg = json_object_get(o, "config");
    if (cfg) st->config_json = json_is_string(cfg) ? strdup(json_string_value(cfg)) : json_dumps(cfg, JSON_COMPACT);
    int has_opt = json_is_true(json_object_get(o, "has_optimizer"));
    json_decref(o);
    if ((rc = policy_load(m, dir, err))) {
        ckpt_state_free(st);
        return rc;
    }
    if (has_opt) {
        if ((rc = policy_enable_training(m, err))) goto fail;
        snprintf(path, sizeof path, "%s/optimizer.safetensors", dir);
        st_file f;
        if ((rc = st_open(&f, path, err))) goto fail;
        for (size_t i = 0; i < m->n_tensors && !rc; i++) {
            const policy_param *p = &m->params[i];
            for (int k = 0; k < 2 && !rc; k++) {
                char name[128];
                snprintf(name, sizeof name, "%s.%s", k ? "exp_avg_sq" : "exp_avg", p->name);
                const st_tensor *t = st_find(&f, name);
                if (!t || t->numel != p->numel)
                    rc = grpo_errf(err, GRPO_EFORMAT, "%s: tensor \"%s\" missing or of the wrong size", path, name);
                else
                    rc = st_to_f32(t, (k ? m->v_mem : m->m_mem) + p->offset, err);
            }
        }
        st_close(&f);
        if (rc) goto fail;
        m->adam_t = (int)adam_t;
    }
    return GRPO_OK;
fail:
    policy_free(m);
    ckpt_state_free(st);
    return rc;
}

void ckpt_state_free(ckpt_state *st) {
    free(st->config_json);
    st->config_json = NULL;
}
