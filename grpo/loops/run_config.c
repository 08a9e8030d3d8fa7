/* grpo/loops/run_config.c: the key table, JSON and --key value parsing, validation, docs. */
#include "run_config.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/strbuf.h"
#include "grpo/learner/learner.h"

typedef enum { K_INT, K_LONG, K_FLOAT, K_BOOL, K_STR, K_STRLIST, K_FLOATLIST } key_type;

typedef struct {
    const char *name;
    key_type type;
    size_t off, size;     /* field offset; byte size for strings */
    size_t count_off;     /* lists: offset of the int count */
    const char *dflt;     /* as JSON text */
    const char *section;
    const char *help;
} key_def;

#define F(field) offsetof(run_config, field), sizeof(((run_config *)0)->field)
#define L(field, count) offsetof(run_config, field), sizeof(((run_config *)0)->field), offsetof(run_config, count)

static const key_def KEYS[] = {
    {"model", K_STR, F(model), 0, "\"init:qwen2:tiny\"", "Model and data",
     "HF model directory (config.json + safetensors), or `init:ARCH:PRESET` for a fresh random model"},
    {"tokenizer", K_STR, F(tokenizer), 0, "\"\"", "Model and data", "directory with tokenizer.json; empty: the model directory"},
    {"dataset", K_STR, F(dataset), 0, "\"builtin:arithmetic\"", "Model and data",
     "training data: a JSONL file, or `builtin:arithmetic` / `builtin:countdown`"},
    {"dataset_format", K_STR, F(dataset_format), 0, "\"gsm8k\"", "Model and data",
     "JSONL row format: gsm8k, math, humaneval, mbpp, countdown or custom"},
    {"prompt_field", K_STR, F(prompt_field), 0, "\"\"", "Model and data", "custom format: the prompt's field"},
    {"answer_field", K_STR, F(answer_field), 0, "\"\"", "Model and data", "custom format: the answer's field"},
    {"eval_dataset", K_STR, F(eval_dataset), 0, "\"\"", "Model and data",
     "held-out JSONL; empty: eval_size items are split off the training data"},
    {"eval_size", K_INT, F(eval_size), 0, "200", "Model and data", "held-out items when split off the training data"},
    {"train_size", K_INT, F(train_size), 0, "5000", "Model and data", "builtin generators: training items"},
    {"builtin_operands", K_INT, F(builtin_operands), 0, "3", "Model and data", "builtin:arithmetic: operands per problem, 2 to this"},
    {"builtin_digits", K_INT, F(builtin_digits), 0, "2", "Model and data", "builtin:arithmetic: digits per operand, 1 to this"},
    {"builtin_ops", K_STR, F(builtin_ops), 0, "\"+-\"", "Model and data",
     "builtin:arithmetic: the operators drawn from, any of + - * / (division is exact)"},
    {"chat_template", K_STR, F(chat_template), 0, "\"raw\"", "Model and data",
     "prompt wrapping: chatml, qwen2.5, qwen3, llama3, deepseek-r1 or raw"},
    {"system_prompt", K_STR, F(system_prompt), 0, "\"\"", "Model and data", "system message (empty: none)"},
    {"prompt_template", K_STR, F(prompt_template), 0, "\"{prompt}\"", "Model and data",
     "user message; `{prompt}` is replaced by the item's prompt"},
    {"output_dir", K_STR, F(output_dir), 0, "\"runs\"", "Output", "runs are written to OUTPUT_DIR/RUN_NAME"},
    {"run_name", K_STR, F(run_name), 0, "\"grpo\"", "Output", "the run's directory name and its name in the database"},
    {"num_generations", K_INT, F(num_generations), 0, "8", "Generation", "completions per prompt (G)"},
    {"generation_batch_size", K_INT, F(generation_batch_size), 0, "64", "Generation",
     "completions per step; a multiple of num_generations (prompts per step = this / G)"},
    {"max_prompt_length", K_INT, F(max_prompt_length), 0, "512", "Generation", "longer prompts are an error"},
    {"max_completion_length", K_INT, F(max_completion_length), 0, "256", "Generation", "tokens per completion at most (L)"},
    {"temperature", K_FLOAT, F(temperature), 0, "1.0", "Generation", "sampling temperature; logprobs use the same"},
    {"top_p", K_FLOAT, F(top_p), 0, "1.0", "Generation", "nucleus sampling (1 = off)"},
    {"top_k", K_INT, F(top_k), 0, "0", "Generation", "top-k sampling (0 = off)"},
    {"min_p", K_FLOAT, F(min_p), 0, "0.0", "Generation", "min-p sampling (0 = off)"},
    {"repetition_penalty", K_FLOAT, F(repetition_penalty), 0, "1.0", "Generation", "HF repetition penalty (1 = off)"},
    {"beta", K_FLOAT, F(beta), 0, "0.0", "Loss", "KL coefficient (k3 estimator); 0 loads no reference model"},
    {"epsilon", K_FLOAT, F(epsilon), 0, "0.2", "Loss", "lower clip: ratio >= 1 - epsilon"},
    {"epsilon_high", K_FLOAT, F(epsilon_high), 0, "0.28", "Loss", "upper clip: ratio <= 1 + epsilon_high (DAPO clip-higher)"},
    {"loss_type", K_STR, F(loss_type), 0, "\"dapo\"", "Loss", "grpo, bnpo, dr_grpo or dapo (docs/algorithm.md)"},
    {"scale_rewards", K_STR, F(scale_rewards), 0, "\"group\"", "Loss", "group, batch or none (Dr. GRPO)"},
    {"importance_sampling_level", K_STR, F(importance_sampling_level), 0, "\"token\"", "Loss", "token, or sequence (GSPO)"},
    {"num_iterations", K_INT, F(num_iterations), 0, "1", "Loss", "optimizer steps per generation batch (mu)"},
    {"per_device_train_batch_size", K_INT, F(per_device_train_batch_size), 0, "16", "Loss",
     "completions per micro-batch; an optimizer step accumulates every micro-batch of the generation batch"},
    {"mask_truncated_completions", K_BOOL, F(mask_truncated_completions), 0, "false", "Loss",
     "completions cut at max_completion_length add nothing to the loss"},
    {"dynamic_sampling", K_BOOL, F(dynamic_sampling), 0, "false", "Loss",
     "drop groups whose rewards have zero spread and sample replacements (DAPO)"},
    {"max_resample_rounds", K_INT, F(max_resample_rounds), 0, "3", "Loss",
     "dynamic sampling: extra generation rounds per step at most; the last round's groups fill what is still missing"},
    {"overlong_buffer_length", K_INT, F(overlong_buffer_length), 0, "0", "Loss",
     "DAPO soft overlong penalty buffer C (0 = off); adds the reward component `overlong`"},
    {"overlong_penalty_factor", K_FLOAT, F(overlong_penalty_factor), 0, "1.0", "Loss", "weight of the overlong penalty"},
    {"reward_funcs", K_STRLIST, L(reward_funcs, n_reward_funcs), "[\"accuracy\", \"format\"]", "Rewards",
     "reward functions by name (accuracy, format, tag_count, countdown, overlong, random), combined by reward_weights"},
    {"reward_weights", K_FLOATLIST, L(reward_weights, n_reward_weights), "[]", "Rewards",
     "one weight per reward function; empty: all 1"},
    {"external_reward_cmd", K_STR, F(external_reward_cmd), 0, "\"\"", "Rewards",
     "a long-running command scoring completions over JSON lines (stdin: {prompt, completion, answer}; stdout: "
     "{score}); adds the component `external`"},
    {"external_reward_weight", K_FLOAT, F(external_reward_weight), 0, "1.0", "Rewards", "weight of the external reward"},
    {"external_reward_timeout", K_FLOAT, F(external_reward_timeout), 0, "30.0", "Rewards",
     "seconds the external command may take per completion"},
    {"learning_rate", K_FLOAT, F(learning_rate), 0, "1e-6", "Optimizer", "AdamW peak learning rate"},
    {"adam_beta1", K_FLOAT, F(adam_beta1), 0, "0.9", "Optimizer", "AdamW beta1"},
    {"adam_beta2", K_FLOAT, F(adam_beta2), 0, "0.999", "Optimizer", "AdamW beta2"},
    {"adam_epsilon", K_FLOAT, F(adam_epsilon), 0, "1e-8", "Optimizer", "AdamW epsilon"},
    {"weight_decay", K_FLOAT, F(weight_decay), 0, "0.0", "Optimizer", "decoupled weight decay (matrices and embeddings)"},
    {"max_grad_norm", K_FLOAT, F(max_grad_norm), 0, "1.0", "Optimizer", "global gradient-norm clip (0 = off)"},
    {"lr_scheduler_type", K_STR, F(lr_scheduler_type), 0, "\"constant\"", "Optimizer", "constant or cosine (after warmup)"},
    {"warmup_steps", K_INT, F(warmup_steps), 0, "0", "Optimizer", "linear warmup steps"},
    {"max_steps", K_INT, F(max_steps), 0, "100", "Optimizer", "GRPO steps"},
    {"sft_steps", K_INT, F(sft_steps), 0, "0", "SFT cold start", "supervised steps on worked solutions before GRPO"},
    {"sft_learning_rate", K_FLOAT, F(sft_learning_rate), 0, "1e-3", "SFT cold start", "SFT learning rate"},
    {"sft_weight_decay", K_FLOAT, F(sft_weight_decay), 0, "-1", "SFT cold start",
     "the cold start's decoupled weight decay (negative: the same as weight_decay)"},
    {"sft_lr_scheduler_type", K_STR, F(sft_lr_scheduler_type), 0, "\"constant\"", "SFT cold start",
     "the cold start's schedule: constant, or cosine from sft_learning_rate to 0 over sft_steps (no warmup)"},
    {"sft_batch_size", K_INT, F(sft_batch_size), 0, "32", "SFT cold start", "SFT sequences per step"},
    {"sft_size", K_INT, F(sft_size), 0, "0", "SFT cold start",
     "items split off the training data as the cold start's worked solutions; GRPO trains on the rest from their "
     "answers alone (the R1 recipe). 0: SFT and GRPO share every training item"},
    {"sft_eval_steps", K_INT, F(sft_eval_steps), 0, "0", "SFT cold start",
     "log held-out greedy accuracy every this many SFT steps (0: only before and after the cold start)"},
    {"teacher_model", K_STR, F(teacher_model), 0, "\"\"", "Distillation",
     "token-level distillation: the teacher's HF model directory (same vocabulary as the student)"},
    {"distill", K_STR, F(distill), 0, "\"\"", "Distillation",
     "`on_policy` (`grpo train`): per-token advantage -(log pi_student - log pi_teacher) on the student's own samples; "
     "`gkd` (`grpo sft`): forward KL to the teacher's top-k next-token distribution on the traces; empty: off"},
    {"distill_task_weight", K_FLOAT, F(distill_task_weight), 0, "0.0", "Distillation",
     "on-policy: weight of the group-relative task advantage added to the per-token one (0: pure distillation)"},
    {"distill_top_k", K_INT, F(distill_top_k), 0, "20", "Distillation",
     "`gkd`: the teacher's most likely ids per token whose probabilities the student matches, the rest of the mass "
     "in one tail bucket (>= the vocabulary: the full KL)"},
    {"sft_dataset", K_STR, F(sft_dataset), 0, "\"\"", "Distillation",
     "`grpo sft`: JSONL rows to train on: `messages`, `prompt`/`completion` or open-r1 `generations` rows"},
    {"num_train_epochs", K_FLOAT, F(num_train_epochs), 0, "0.0", "Distillation",
     "`grpo sft`: epochs over sft_dataset; 0: sft_steps steps"},
    {"max_length", K_INT, F(max_length), 0, "1024", "Distillation", "`grpo sft`: rows are cut to this many tokens"},
    {"sft_tokens_per_batch", K_INT, F(sft_tokens_per_batch), 0, "0", "Distillation",
     "`grpo sft`: a batch takes rows while their tokens fit this budget (0: sft_batch_size rows per batch)"},
    {"seed", K_LONG, F(seed), 0, "42", "Run", "seed of the data order and of every completion's sampler"},
    {"save_steps", K_INT, F(save_steps), 0, "50", "Run", "checkpoint every N steps (and at the end)"},
    {"save_total_limit", K_INT, F(save_total_limit), 0, "3", "Run", "checkpoints kept (0 = all)"},
    {"eval_steps", K_INT, F(eval_steps), 0, "0", "Run", "evaluate on the held-out set every N steps (0 = start and end only)"},
    {"logging_steps", K_INT, F(logging_steps), 0, "1", "Run", "a metrics line every N steps"},
    {"num_threads", K_INT, F(num_threads), 0, "0", "Run", "OpenMP threads (0 = all cores)"},
    {"device", K_STR, F(device), 0, "\"cpu\"", "Run", "cpu or cuda"},
};
#define N_KEYS (sizeof KEYS / sizeof KEYS[0])

static const key_def *find_key(const char *name) {
    char norm[96];
    snprintf(norm, sizeof norm, "%s", name);
    for (char *p = norm; *p; p++)
        if (*p == '-') *p = '_';
    for (size_t i = 0; i < N_KEYS; i++)
        if (!strcmp(KEYS[i].name, norm)) return &KEYS[i];
    return NULL;
}

/* Stores JSON value v into c for key k; where names the source in errors. */
static int set_json(run_config *c, const key_def *k, json_t *v, const char *where, grpo_err *err) {
    char *base = (char *)c;
    switch (k->type) {
    case K_INT:
    case K_LONG: {
        if (!json_is_integer(v)) return grpo_errf(err, GRPO_EINVAL, "%s: key \"%s\" must be an integer", where, k->name);
        json_int_t x = json_integer_value(v);
        if (k->type == K_INT && (x < -2147483647LL || x > 2147483647LL))
            return grpo_errf(err, GRPO_EINVAL, "%s: key \"%s\" is out of range", where, k->name);
        if (k->type == K_INT) *(int *)(base + k->off) = (int)x;
        else *(long long *)(base + k->off) = x;
        return GRPO_OK;
    }
    case K_FLOAT:
        if (!json_is_number(v)) return grpo_errf(err, GRPO_EINVAL, "%s: key \"%s\" must be a number", where, k->name);
        *(double *)(base + k->off) = json_number_value(v);
        return GRPO_OK;
    case K_BOOL:
        if (!json_is_boolean(v)) return grpo_errf(err, GRPO_EINVAL, "%s: key \"%s\" must be true or false", where, k->name);
        *(int *)(base + k->off) = json_is_true(v);
        return GRPO_OK;
    case K_STR:
        if (!json_is_string(v)) return grpo_errf(err, GRPO_EINVAL, "%s: key \"%s\" must be a string", where, k->name);
        if (strlen(json_string_value(v)) >= k->size)
            return grpo_errf(err, GRPO_EINVAL, "%s: key \"%s\" is longer than %zu bytes", where, k->name, k->size - 1);
        snprintf(base + k->off, k->size, "%s", json_string_value(v));
        return GRPO_OK;
    case K_STRLIST:
    case K_FLOATLIST: {
        if (!json_is_array(v)) return grpo_errf(err, GRPO_EINVAL, "%s: key \"%s\" must be an array", where, k->name);
        if (json_array_size(v) > RC_MAX_LIST)
            return grpo_errf(err, GRPO_EINVAL, "%s: key \"%s\" has more than %d entries", where, k->name, RC_MAX_LIST);
        size_t i;
        json_t *x;
        json_array_foreach(v, i, x) {
            if (k->type == K_STRLIST) {
                if (!json_is_string(x) || strlen(json_string_value(x)) >= 64)
                    return grpo_errf(err, GRPO_EINVAL, "%s: key \"%s\"[%zu] must be a short string", where, k->name, i);
                snprintf(((char(*)[64])(base + k->off))[i], 64, "%s", json_string_value(x));
            } else {
                if (!json_is_number(x)) return grpo_errf(err, GRPO_EINVAL, "%s: key \"%s\"[%zu] must be a number", where, k->name, i);
                ((double *)(base + k->off))[i] = json_number_value(x);
            }
        }
        *(int *)(base + k->count_off) = (int)json_array_size(v);
        return GRPO_OK;
    }
    }
    return GRPO_EINVAL;
}

void rc_defaults(run_config *c) {
    memset(c, 0, sizeof *c);
    for (size_t i = 0; i < N_KEYS; i++) {
        json_t *v = json_loads(KEYS[i].dflt, JSON_DECODE_ANY, NULL);
        set_json(c, &KEYS[i], v, "defaults", NULL);
        json_decref(v);
    }
}

int rc_apply_json(run_config *c, const char *text, size_t len, const char *path, grpo_err *err) {
    json_error_t je;
    json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
    if (!root) return grpo_errf(err, GRPO_EFORMAT, "%s:%d:%d: not valid JSON: %s", path, je.line, je.column, je.text);
    if (!json_is_object(root)) {
        json_decref(root);
        return grpo_errf(err, GRPO_EFORMAT, "%s: the config must be a JSON object", path);
    }
    const char *key;
    json_t *v;
    int rc = GRPO_OK;
    json_object_foreach(root, key, v) {
        const key_def *k = find_key(key);
        if (!k) {
            rc = grpo_errf(err, GRPO_EINVAL, "%s: unknown config key \"%s\" (see docs/config.md)", path, key);
            break;
        }
        if ((rc = set_json(c, k, v, path, err))) break;
    }
    json_decref(root);
    return rc;
}

int rc_set(run_config *c, const char *key, const char *value, grpo_err *err) {
    const key_def *k = find_key(key);
    if (!k) return grpo_errf(err, GRPO_EINVAL, "unknown config key \"%s\" (see docs/config.md)", key);
    json_t *v;
    if (k->type == K_STR) v = json_string(value);
    else v = json_loads(value, JSON_DECODE_ANY, NULL);
    if (!v && k->type == K_STRLIST) { /* a,b,c */
        v = json_array();
        char buf[1024];
        snprintf(buf, sizeof buf, "%s", value);
        for (char *s = strtok(buf, ","); s; s = strtok(NULL, ",")) json_array_append_new(v, json_string(s));
    }
    if (!v) return grpo_errf(err, GRPO_EINVAL, "--%s: cannot parse '%s'", k->name, value);
    char where[128];
    snprintf(where, sizeof where, "--%s", k->name);
    int rc = set_json(c, k, v, where, err);
    json_decref(v);
    return rc;
}

int rc_validate(const run_config *c, grpo_err *err) {
    if (c->num_generations < 2)
        return grpo_errf(err, GRPO_EINVAL, "num_generations must be at least 2 (advantages are group-relative), got %d",
                         c->num_generations);
    if (c->generation_batch_size <= 0 || c->generation_batch_size % c->num_generations != 0)
        return grpo_errf(err, GRPO_EINVAL,
                         "generation_batch_size (%d) must be a positive multiple of num_generations (%d)",
                         c->generation_batch_size, c->num_generations);
    if (c->per_device_train_batch_size <= 0)
        return grpo_errf(err, GRPO_EINVAL, "per_device_train_batch_size must be positive");
    if (c->max_completion_length <= 0 || c->max_prompt_length <= 0)
        return grpo_errf(err, GRPO_EINVAL, "max_prompt_length and max_completion_length must be positive");
    if (c->num_iterations < 1) return grpo_errf(err, GRPO_EINVAL, "num_iterations must be at least 1");
    if (!(c->temperature > 0)) return grpo_errf(err, GRPO_EINVAL, "temperature must be positive for GRPO sampling");
    if (c->epsilon < 0 || c->epsilon_high < 0) return grpo_errf(err, GRPO_EINVAL, "epsilon and epsilon_high must be >= 0");
    if (c->beta < 0) return grpo_errf(err, GRPO_EINVAL, "beta must be >= 0");
    if (learner_loss_type_from_name(c->loss_type) < 0)
        return grpo_errf(err, GRPO_EINVAL, "loss_type \"%s\" is not one of grpo, bnpo, dr_grpo, dapo", c->loss_type);
    if (learner_scale_from_name(c->scale_rewards) < 0)
        return grpo_errf(err, GRPO_EINVAL, "scale_rewards \"%s\" is not one of group, batch, none", c->scale_rewards);
    if (learner_is_level_from_name(c->importance_sampling_level) < 0)
        return grpo_errf(err, GRPO_EINVAL, "importance_sampling_level \"%s\" is not token or sequence",
                         c->importance_sampling_level);
    if (strcmp(c->lr_scheduler_type, "constant") && strcmp(c->lr_scheduler_type, "cosine"))
        return grpo_errf(err, GRPO_EINVAL, "lr_scheduler_type \"%s\" is not constant or cosine", c->lr_scheduler_type);
    if (strcmp(c->sft_lr_scheduler_type, "constant") && strcmp(c->sft_lr_scheduler_type, "cosine"))
        return grpo_errf(err, GRPO_EINVAL, "sft_lr_scheduler_type \"%s\" is not constant or cosine",
                         c->sft_lr_scheduler_type);
    if (c->n_reward_funcs < 1) return grpo_errf(err, GRPO_EINVAL, "reward_funcs is empty");
    if (c->n_reward_weights && c->n_reward_weights != c->n_reward_funcs)
        return grpo_errf(err, GRPO_EINVAL, "reward_weights has %d entries for %d reward_funcs", c->n_reward_weights,
                         c->n_reward_funcs);
    if (c->distill[0] && strcmp(c->distill, "on_policy") && strcmp(c->distill, "gkd"))
        return grpo_errf(err, GRPO_EINVAL,
                         "distill \"%s\" is not \"on_policy\" (grpo train) or \"gkd\" (grpo sft), or empty: off", c->distill);
    if (c->distill_top_k < 1) return grpo_errf(err, GRPO_EINVAL, "distill_top_k must be at least 1, got %d", c->distill_top_k);
    if (c->distill[0] && !c->teacher_model[0])
        return grpo_errf(err, GRPO_EINVAL, "distill \"%s\" needs teacher_model (the teacher's model directory)", c->distill);
    if (c->max_length < 2 || c->sft_tokens_per_batch < 0 || c->num_train_epochs < 0)
        return grpo_errf(err, GRPO_EINVAL, "max_length must be at least 2, sft_tokens_per_batch and num_train_epochs >= 0");
    if (c->max_steps < 0 || c->sft_steps < 0 || c->sft_size < 0 || c->sft_eval_steps < 0)
        return grpo_errf(err, GRPO_EINVAL, "max_steps, sft_steps, sft_size and sft_eval_steps must be >= 0");
    return GRPO_OK;
}

/* 1 when 15 significant digits give v back exactly: then it prints as written (0.2, not 0.20000000000000001). */
static int short_enough(double v) {
    char b[40];
    snprintf(b, sizeof b, "%.15g", v);
    return strtod(b, NULL) == v;
}

char *rc_to_json(const run_config *c) {
    json_t *o = json_object();
    const char *base = (const char *)c;
    int short_reals = 1; /* every real round-trips at 15 digits (values people type do) */
    for (size_t i = 0; i < N_KEYS; i++) {
        const key_def *k = &KEYS[i];
        json_t *v = NULL;
        switch (k->type) {
        case K_INT: v = json_integer(*(const int *)(base + k->off)); break;
        case K_LONG: v = json_integer(*(const long long *)(base + k->off)); break;
        case K_FLOAT:
            v = json_real(*(const double *)(base + k->off));
            short_reals &= short_enough(*(const double *)(base + k->off));
            break;
        case K_BOOL: v = json_boolean(*(const int *)(base + k->off)); break;
        case K_STR: v = json_string(base + k->off); break;
        case K_STRLIST:
        case K_FLOATLIST: {
            v = json_array();
            int n = *(const int *)(base + k->count_off);
            for (int j = 0; j < n; j++) {
                const double x = k->type == K_FLOATLIST ? ((const double *)(base + k->off))[j] : 0.0;
                json_array_append_new(v, k->type == K_STRLIST ? json_string(((const char(*)[64])(base + k->off))[j])
                                                              : json_real(x));
                short_reals &= short_enough(x);
            }
            break;
        }
        }
        json_object_set_new(o, k->name, v);
    }
    char *s = json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(short_reals ? 15 : 17));
    json_decref(o);
    return s;
}

char *rc_doc_markdown(void) {
    strbuf b = {0};
    sb_add(&b, "# `grpo train` configuration\n\n"
               "`grpo train CONFIG.json [--key value ...]` reads a JSON object of these keys; `--key value` "
               "(or `--key=value`) overrides one, with `-` or `_` in the name. An unknown key is an error that "
               "names it. Names follow TRL's `GRPOConfig` where one exists. This page is generated by "
               "`grpo train --config-doc`; a test keeps it in step with the code.\n");
    const char *section = "";
    for (size_t i = 0; i < N_KEYS; i++) {
        const key_def *k = &KEYS[i];
        if (strcmp(section, k->section)) {
            section = k->section;
            sb_addf(&b, "\n## %s\n\n| key | default | meaning |\n| --- | --- | --- |\n", section);
        }
        sb_addf(&b, "| `%s` | `%s` | %s |\n", k->name, k->dflt, k->help);
    }
    return sb_take(&b);
}
