/* tests/cli/test_cli.c: the grpo executable as a user meets it: --help everywhere, init then score,
 * and bad input giving a clear message naming the file and what is wrong, with exit code != 0. */
#include <CUnit/CUnit.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../checkpoints/model_dir.h"
#include "../../common/fsutil.h"
#include "../../grpo/loops/train_parts.h"
#include "../../policy/model.h"
#include "../test_util.h"

static char *tmp;

/* Runs `grpo ARGS` (stderr merged); returns the exit status and the output in *out. */
static int grpo(const char *args, char **out) {
    char cmd[8192];
    snprintf(cmd, sizeof cmd, "%s %s", GRPO_BIN, args);
    return tu_run(cmd, out, 1);
}

static void expect(const char *args, int want_rc, const char *want_text) {
    char *out = NULL;
    int rc = grpo(args, &out);
    if (rc != want_rc || !strstr(out, want_text))
        fprintf(stderr, "\n  grpo %s -> %d (want %d)\n  output: %s\n  wanted: %s\n", args, rc, want_rc, out, want_text);
    CU_ASSERT_EQUAL(rc, want_rc);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, want_text));
    free(out);
}

static void every_command_has_help(void) {
    expect("--help", 0, "commands:");
    expect("init --help", 0, "usage: grpo init");
    expect("score --help", 0, "usage: grpo score");
    expect("demo --help", 0, "usage: grpo demo");
    expect("train --help", 0, "usage: grpo train");
    expect("selfcheck --help", 0, "usage: grpo selfcheck");
}

static void unknown_command_and_option_are_usage_errors(void) {
    expect("frobnicate", 2, "unknown command 'frobnicate'");
    expect("init --arch qwen2 --bogus 1", 2, "unknown option '--bogus'");
    expect("init --arch gpt2 --out /tmp/x", 2, "unknown architecture 'gpt2'");
}

static void init_then_score_prints_one_logprob_per_token_after_the_first(void) {
    char args[4096];
    snprintf(args, sizeof args, "init --arch qwen3 --preset tiny --out %s/m --seed 3", tmp);
    expect(args, 0, "wrote");
    char *out = NULL;
    snprintf(args, sizeof args, "score --model %s/m --ids 5,9,13,2,7 2>/dev/null", tmp);
    char cmd[8192];
    snprintf(cmd, sizeof cmd, "%s %s", GRPO_BIN, args);
    CU_ASSERT_EQUAL_FATAL(tu_run(cmd, &out, 0), 0);
    CU_ASSERT(strncmp(out, "{\"logprobs\":[", 13) == 0);
    int commas = 0;
    for (char *p = out; *p; p++) commas += *p == ',';
    CU_ASSERT_EQUAL(commas, 3); /* 4 entries */
    free(out);
    snprintf(args, sizeof args, "init --arch qwen3 --preset tiny --out %s/m", tmp);
    expect(args, 1, "already exists");
}

static void score_rejects_token_outside_vocabulary(void) {
    char args[4096];
    snprintf(args, sizeof args, "init --arch llama --out %s/v --vocab 100", tmp);
    expect(args, 0, "wrote");
    snprintf(args, sizeof args, "score --model %s/v --ids 1,2,100", tmp);
    expect(args, 1, "token id 100 at position 2 of sequence 0 is outside the vocabulary");
    snprintf(args, sizeof args, "score --model %s/v --ids 1,x", tmp);
    expect(args, 2, "entry 1 ('x') is not an integer");
}

/* Copies the model at tmp/v to tmp/NAME and lets the caller damage one file. */
static char *model_copy(const char *name) {
    char cmd[8192], *dir = malloc(4096);
    snprintf(dir, 4096, "%s/%s", tmp, name);
    snprintf(cmd, sizeof cmd, "rm -rf %s && cp -r %s/v %s", dir, tmp, dir);
    CU_ASSERT_EQUAL(tu_run(cmd, NULL, 1), 0);
    return dir;
}

static void score_reports_damaged_files_by_name(void) {
    char cmd[8192], args[4096];
    char *d = model_copy("trunc");
    snprintf(cmd, sizeof cmd, "truncate -s 5 %s/model.safetensors", d);
    tu_run(cmd, NULL, 1);
    snprintf(args, sizeof args, "score --model %s --ids 1,2", d);
    expect(args, 1, "model.safetensors");
    expect(args, 1, "truncated");
    free(d);

    d = model_copy("cut");
    snprintf(cmd, sizeof cmd, "truncate -s -100 %s/model.safetensors", d);
    tu_run(cmd, NULL, 1);
    snprintf(args, sizeof args, "score --model %s --ids 1,2", d);
    expect(args, 1, "out of range");
    free(d);

    d = model_copy("notjson");
    snprintf(cmd, sizeof cmd, "printf '{\"architectures\": [' > %s/config.json", d);
    tu_run(cmd, NULL, 1);
    snprintf(args, sizeof args, "score --model %s --ids 1,2", d);
    expect(args, 1, "config.json: not valid JSON");
    free(d);

    d = model_copy("arch");
    snprintf(cmd, sizeof cmd, "sed -i 's/LlamaForCausalLM/MambaForCausalLM/' %s/config.json", d);
    tu_run(cmd, NULL, 1);
    snprintf(args, sizeof args, "score --model %s --ids 1,2", d);
    expect(args, 1, "unknown architecture \"MambaForCausalLM\"");
    free(d);

    d = model_copy("zero");
    snprintf(cmd, sizeof cmd, "sed -i 's/\"num_hidden_layers\": [0-9]*/\"num_hidden_layers\": 0/' %s/config.json", d);
    tu_run(cmd, NULL, 1);
    snprintf(args, sizeof args, "score --model %s --ids 1,2", d);
    expect(args, 1, "\"num_hidden_layers\" must be positive");
    free(d);

    snprintf(args, sizeof args, "score --model %s/nonexistent --ids 1,2", tmp);
    expect(args, 1, "nonexistent/config.json: cannot open");
}

static void docs_config_md_is_what_the_code_generates(void) {
    char cmd[8192], *out = NULL, *doc = tu_src("docs/config.md");
    snprintf(cmd, sizeof cmd, "%s train --config-doc", GRPO_BIN);
    CU_ASSERT_EQUAL_FATAL(tu_run(cmd, &out, 0), 0);
    char *text = NULL;
    size_t len;
    grpo_err e = {0};
    CU_ASSERT_EQUAL_FATAL(fs_read_file(doc, &text, &len, &e), GRPO_OK);
    if (strcmp(out, text)) fprintf(stderr, "\n  docs/config.md is stale: run grpo train --config-doc > docs/config.md\n");
    CU_ASSERT_STRING_EQUAL(out, text);
    free(out);
    free(text);
    free(doc);
}

/* README's command table is the command table every --help prints its usage line from. */
static void readme_command_table_is_what_the_code_generates(void) {
    char cmd[8192], *out = NULL, *readme = tu_src("README.md");
    snprintf(cmd, sizeof cmd, "%s help --markdown", GRPO_BIN);
    CU_ASSERT_EQUAL_FATAL(tu_run(cmd, &out, 0), 0);
    char *text = NULL;
    size_t len;
    grpo_err e = {0};
    CU_ASSERT_EQUAL_FATAL(fs_read_file(readme, &text, &len, &e), GRPO_OK);
    if (!strstr(text, out)) fprintf(stderr, "\n  README.md's command table is stale: paste `grpo help --markdown`\n");
    CU_ASSERT_PTR_NOT_NULL(strstr(text, out));
    free(out);
    free(text);
    free(readme);
}

static void train_config_errors_name_the_key_before_any_work(void) {
    char path[4200], args[4300];
    snprintf(path, sizeof path, "%s/bad.json", tmp);
    FILE *f = fopen(path, "w");
    fputs("{\"num_generations\": 8,\n \"learning_rat\": 1e-6}\n", f);
    fclose(f);
    snprintf(args, sizeof args, "train %s", path);
    expect(args, 1, "unknown config key \"learning_rat\"");
    f = fopen(path, "w");
    fputs("{\"num_generations\": 8, \"generation_batch_size\": 60}", f);
    fclose(f);
    expect(args, 1, "generation_batch_size (60) must be a positive multiple of num_generations (8)");
    f = fopen(path, "w");
    fputs("{\"sft_lr_scheduler_type\": \"linear\"}", f);
    fclose(f);
    expect(args, 1, "sft_lr_scheduler_type \"linear\" is not constant or cosine");
    f = fopen(path, "w");
    fputs("{\"num_generations\": 8,", f);
    fclose(f);
    expect(args, 1, "bad.json:1:");
    snprintf(args, sizeof args, "train %s --beta notanumber", path);
    expect(args, 1, "not valid JSON"); /* the file is read first */
}

/* grpo train on a tiny HF-format Qwen2 (the policy fixture; the demo tokenizer has the same 1024 ids),
 * a GSM8K-format JSONL file and the math reward. */
static int train_fixture(const char *run, int max_steps, const char *extra) {
    char args[8192], *model = tu_src("tests/fixtures/policy/qwen2"), *tok = tu_src("data/demo-tokenizer"),
                     *data = tu_src("tests/fixtures/tasks/gsm8k.jsonl"), *out = NULL;
    snprintf(args, sizeof args,
             "%s train %s/train.json --model %s --tokenizer %s --dataset %s --output_dir %s --run_name %s "
             "--max_steps %d %s",
             GRPO_BIN, tmp, model, tok, data, tmp, run, max_steps, extra);
    int rc = tu_run(args, &out, 1);
    if (rc) fprintf(stderr, "\n  %s\n  %s\n", args, out);
    free(out);
    free(model);
    free(tok);
    free(data);
    return rc;
}

/* Writes TMP/train.json, the config train_fixture runs. */
static void write_config(const char *json) {
    char path[4200];
    snprintf(path, sizeof path, "%s/train.json", tmp);
    FILE *f = fopen(path, "w");
    fputs(json, f);
    fclose(f);
}

static void write_train_config(void) {
    write_config("{\"dataset_format\": \"gsm8k\", \"eval_size\": 1, \"num_generations\": 4,\n"
                 " \"generation_batch_size\": 8, \"per_device_train_batch_size\": 4, \"max_completion_length\": 12,\n"
                 " \"max_prompt_length\": 200, \"reward_funcs\": [\"accuracy\", \"format\"], \"learning_rate\": 1e-3,\n"
                 " \"beta\": 0.04, \"num_iterations\": 2, \"save_steps\": 1, \"save_total_limit\": 0, \"seed\": 5}\n");
}

/* The output of sqlite3 on run's database (caller frees; NULL when sqlite3 gave none). */
static char *query(const char *run, const char *sql) {
    char cmd[8192], *out = NULL;
    snprintf(cmd, sizeof cmd, "sqlite3 %s/%s/rollouts.db \"%s\"", tmp, run, sql);
    if (tu_run(cmd, &out, 0)) fprintf(stderr, "\n  %s\n  %s\n", cmd, out ? out : "");
    return out;
}

static int count_steps(const char *run) {
    char *out = query(run, "SELECT count(*), count(DISTINCT step) FROM steps");
    int a = -1, b = -2;
    if (out) sscanf(out, "%d|%d", &a, &b);
    free(out);
    return a == b ? a : -1;
}

static void train_runs_three_steps_on_an_hf_qwen2_with_gsm8k_and_the_math_reward(void) {
    write_train_config();
    CU_ASSERT_EQUAL_FATAL(train_fixture("hf3", 3, ""), 0);
    char p[4200];
    snprintf(p, sizeof p, "%s/hf3/checkpoints/step-00000003/model.safetensors", tmp);
    CU_ASSERT_TRUE(fs_exists(p));
    snprintf(p, sizeof p, "%s/hf3/checkpoints/step-00000003/optimizer.safetensors", tmp);
    CU_ASSERT_TRUE(fs_exists(p));
    snprintf(p, sizeof p, "%s/hf3/checkpoints/step-00000003/tokenizer.json", tmp); /* a complete HF directory */
    CU_ASSERT_TRUE(fs_exists(p));
    CU_ASSERT_EQUAL(count_steps("hf3"), 3);
}

static void an_external_reward_command_adds_its_component(void) {
    write_train_config();
    CU_ASSERT_EQUAL_FATAL(train_fixture("ext", 1, "--external_reward_cmd \"while read l; do echo '{\\\"score\\\": 0.5}'; done\""), 0);
    char *out = query("ext", "SELECT count(*), min(value), max(value) FROM reward_components WHERE name = 'external'");
    CU_ASSERT_PTR_NOT_NULL_FATAL(out);
    CU_ASSERT_STRING_EQUAL(out, "8|0.5|0.5\n");
    free(out);
}

/* A random 0/1 reward with G = 2 leaves about half the groups with no spread. Dynamic sampling must drop
 * them and resample until the batch (4 groups) is full: no stored group has equal rewards, each step
 * still stores 8 rollouts, and the rounds and prompts drawn are recorded. The steps also carry the
 * policy's entropy. */
static void dynamic_sampling_keeps_only_groups_with_reward_spread(void) {
    write_config("{\"dataset_format\": \"gsm8k\", \"eval_size\": 1, \"num_generations\": 2,\n"
                 " \"generation_batch_size\": 8, \"per_device_train_batch_size\": 8, \"max_completion_length\": 8,\n"
                 " \"max_prompt_length\": 200, \"reward_funcs\": [\"random\"], \"learning_rate\": 1e-3,\n"
                 " \"dynamic_sampling\": true, \"max_resample_rounds\": 30, \"save_steps\": 0, \"seed\": 11}\n");
    CU_ASSERT_EQUAL_FATAL(train_fixture("dyn", 4, ""), 0);
    char *out = query("dyn", "SELECT count(*) FROM (SELECT step, prompt_id FROM rollouts GROUP BY step, prompt_id, "
                             "sample_index / 2 HAVING min(reward_total) = max(reward_total))");
    CU_ASSERT_STRING_EQUAL(out, "0\n");
    free(out);
    out = query("dyn", "SELECT group_concat(n) FROM (SELECT count(*) n FROM rollouts GROUP BY step ORDER BY step)");
    CU_ASSERT_STRING_EQUAL(out, "8,8,8,8\n");
    free(out);
    /* some groups were dropped (round 0 had zero-spread groups) and replaced by later rounds; every
     * step drew at least its 4 groups' prompts and at most 4 a round */
    out = query("dyn", "SELECT sum(json_extract(metrics_json, '$.groups_dropped')) > 0, "
                       "max(json_extract(metrics_json, '$.generation_rounds')) > 1, max(zero_std_frac) > 0, "
                       "min(json_extract(metrics_json, '$.prompts_drawn')) >= 4, sum(json_extract(metrics_json, "
                       "'$.prompts_drawn') > 4 * json_extract(metrics_json, '$.generation_rounds')) FROM steps");
    CU_ASSERT_STRING_EQUAL(out, "1|1|1|1|0\n");
    free(out);
    /* mean per-token entropy of a 1024-id policy: in (0, ln 1024] */
    out = query("dyn", "SELECT count(*) FROM steps WHERE entropy > 0 AND entropy <= 6.9315");
    CU_ASSERT_STRING_EQUAL(out, "4\n");
    free(out);
}

/* A resampling round draws what the missing groups need at the step's share of groups with spread,
 * plus a quarter, within [missing, B]; all B when no group has had spread. */
static void a_resampling_round_draws_what_the_missing_groups_need(void) {
    CU_ASSERT_EQUAL(train_resample_round_size(32, 2, 32, 30), 3);   /* 1.25 * 2 * 32 / 30 = 2.7 */
    CU_ASSERT_EQUAL(train_resample_round_size(32, 6, 64, 26), 19);  /* 18.5 */
    CU_ASSERT_EQUAL(train_resample_round_size(32, 19, 32, 13), 32); /* 58: capped at B */
    CU_ASSERT_EQUAL(train_resample_round_size(32, 5, 32, 0), 32);   /* no spread seen: a whole batch */
    CU_ASSERT_EQUAL(train_resample_round_size(32, 10, 10, 10), 13); /* 12.5 */
    CU_ASSERT_EQUAL(train_resample_round_size(32, 8, 40, 100), 8);  /* never fewer than missing */
}

static void resumed_run_equals_an_uninterrupted_one_bit_for_bit(void) {
    write_train_config();
    CU_ASSERT_EQUAL_FATAL(train_fixture("whole", 5, ""), 0);
    CU_ASSERT_EQUAL_FATAL(train_fixture("parts", 3, ""), 0);
    CU_ASSERT_EQUAL_FATAL(train_fixture("parts", 5, "--resume"), 0);
    char pa[4200];
    snprintf(pa, sizeof pa, "%s/whole/checkpoints/step-00000005/model.safetensors", tmp);
    char cmd[8800], *out = NULL;
    snprintf(cmd, sizeof cmd, "cmp %s %s/parts/checkpoints/step-00000005/model.safetensors", pa, tmp);
    CU_ASSERT_EQUAL(tu_run(cmd, &out, 1), 0); /* byte-identical weights */
    free(out);
    CU_ASSERT_EQUAL(count_steps("parts"), 5);
}

/* The cold start's weight decay is sft_weight_decay, or weight_decay's when that is negative (the
 * default). With learning_rate 0 the one GRPO step changes nothing (AdamW's decay is scaled by the
 * learning rate), so the step-1 weights are the cold start's. */
static void sft_weight_decay_is_the_cold_starts_own(void) {
    write_train_config();
    const char *common = "--learning_rate 0 --sft_steps 3 --sft_learning_rate 1e-2 --sft_batch_size 2";
    char extra[512];
    snprintf(extra, sizeof extra, "%s --weight_decay 0.5", common);
    CU_ASSERT_EQUAL_FATAL(train_fixture("wd_shared", 1, extra), 0);
    snprintf(extra, sizeof extra, "%s --weight_decay 0 --sft_weight_decay 0.5", common);
    CU_ASSERT_EQUAL_FATAL(train_fixture("wd_own", 1, extra), 0);
    snprintf(extra, sizeof extra, "%s --weight_decay 0.5 --sft_weight_decay 0", common);
    CU_ASSERT_EQUAL_FATAL(train_fixture("wd_none", 1, extra), 0);
    char cmd[9000], *out = NULL;
    const char *w = "checkpoints/step-00000001/model.safetensors";
    snprintf(cmd, sizeof cmd, "cmp %s/wd_shared/%s %s/wd_own/%s", tmp, w, tmp, w);
    CU_ASSERT_EQUAL(tu_run(cmd, &out, 1), 0); /* the same decay, from either key */
    free(out);
    snprintf(cmd, sizeof cmd, "cmp -s %s/wd_shared/%s %s/wd_none/%s", tmp, w, tmp, w);
    CU_ASSERT_NOT_EQUAL(tu_run(cmd, &out, 1), 0); /* sft_weight_decay 0 overrides weight_decay */
    free(out);
}

/* The ids `grpo tokenize` gives text with the demo tokenizer; returns how many (at most cap), -1 on error. */
static int demo_ids(const char *text, int *ids, int cap) {
    char args[4096], *out = NULL, *tok = tu_src("data/demo-tokenizer");
    snprintf(args, sizeof args, "tokenize --tokenizer %s --text '%s'", tok, text);
    free(tok);
    int n = -1;
    if (grpo(args, &out) == 0 && !strncmp(out, "{\"ids\":[", 8)) {
        n = 0;
        for (char *p = out + 8, *end; n < cap && (ids[n] = (int)strtol(p, &end, 10), end != p); p = end + 1) n++;
    }
    free(out);
    return n;
}

/* Writes dir: a one-layer Qwen2 (demo tokenizer's 1024 ids) whose next token depends on the current
 * token alone, so that its completions are known by construction. Attention and MLP write nothing
 * (every weight 0, so o_proj and down_proj add 0 to the residual) and the last hidden state is
 * RMSNorm(embedding). Token chain[c] (c >= 1) is embedded as the one-hot e_c and every other token as
 * e_0; lm_head row chain[c + 1] is 20 e_c. After the norm (e_c * sqrt(64)) the next token's logit is
 * 160 above all others: at temperature 1 any other token has probability below 1024 e^-160, i.e. never.
 * So from any prompt whose last token is outside the chain the model writes chain[1], chain[2], ... */
static void write_chain_model(const char *dir, const int *chain, int n) {
    policy_config c;
    policy_model m;
    grpo_err e = {0};
    CU_ASSERT_EQUAL_FATAL(policy_config_preset(&c, POLICY_ARCH_QWEN2, "tiny", &e), GRPO_OK);
    c.vocab_size = 1024;
    c.num_hidden_layers = 1;
    c.tie_word_embeddings = 0;
    CU_ASSERT_FATAL(n < c.hidden_size);
    CU_ASSERT_EQUAL_FATAL(policy_build(&m, &c, &e), GRPO_OK);
    memset(m.param_mem, 0, m.n_params * sizeof(float));
    const policy_param *emb = policy_find_param(&m, "model.embed_tokens.weight"),
                       *head = policy_find_param(&m, "lm_head.weight"), *norm = policy_find_param(&m, "model.norm.weight");
    CU_ASSERT_FATAL(emb && head && norm);
    float *E = m.param_mem + emb->offset, *W = m.param_mem + head->offset, *g = m.param_mem + norm->offset;
    const int H = c.hidden_size;
    for (int d = 0; d < H; d++) g[d] = 1.0f;
    for (int t = 0; t < c.vocab_size; t++) E[(size_t)t * H] = 1.0f; /* class 0 */
    for (int k = 1; k < n; k++) {
        E[(size_t)chain[k] * H] = 0.0f;
        E[(size_t)chain[k] * H + k] = 1.0f;
    }
    for (int k = 0; k + 1 < n; k++) W[(size_t)chain[k + 1] * H + k] = 20.0f;
    CU_ASSERT_EQUAL(ckpt_export_model(&m, dir, "float32", 1, &e), GRPO_OK);
    policy_free(&m);
}

/* pass@1, pass@k and maj@k counted by hand. The model (write_chain_model) answers every prompt with
 * "\boxed{7}" then <|im_end|>, in every sample. Four problems, gold answers 7, 4, 7, 7:
 *   problem   1 2 3 4
 *   correct   4 of 4, 0 of 4, 4 of 4, 4 of 4 samples; majority answer 7, 7, 7, 7 (right, wrong, right, right)
 * pass@1 = (1 + 0 + 1 + 1) / 4 = 0.75, pass@4 = 3/4 = 0.75, maj@4 = 3/4 = 0.75; greedy (k = 1) the same.
 * The three agree because a problem's samples are identical here; where they differ (some samples
 * right, ties, no answer) test_learner's eval_tally_matches_hand_counts counts them. */
static void eval_prints_pass1_passk_and_majk(void) {
    int chain[16], eos = -1;
    const int n = demo_ids("\\boxed{7}", chain + 1, 14);
    CU_ASSERT_FATAL(n >= 1 && demo_ids("<|im_end|>", &eos, 1) == 1);
    chain[0] = -1; /* the prompt's last token: any id outside the chain */
    chain[n + 1] = eos;
    for (int i = 1; i <= n + 1; i++)
        for (int j = 1; j < i; j++) CU_ASSERT_NOT_EQUAL_FATAL(chain[i], chain[j]); /* a chain, not a loop */
    char model[4200], data[4200], args[16384];
    snprintf(model, sizeof model, "%s/boxed7", tmp);
    write_chain_model(model, chain, n + 2);
    snprintf(data, sizeof data, "%s/sevens.jsonl", tmp);
    FILE *f = fopen(data, "w");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    fputs("{\"question\": \"What is 3 + 4?\", \"answer\": \"3 + 4 = 7.\\n#### 7\"}\n"
          "{\"question\": \"What is 2 + 2?\", \"answer\": \"2 + 2 = 4.\\n#### 4\"}\n"
          "{\"question\": \"What is 14 / 2?\", \"answer\": \"14 / 2 = 7.\\n#### 7\"}\n"
          "{\"question\": \"How many days has a week?\", \"answer\": \"#### 7\"}\n", f);
    fclose(f);
    char *tok = tu_src("data/demo-tokenizer");
    snprintf(args, sizeof args, "eval --model %s --tokenizer %s --data %s --k 4 --max_completion_length 8", model, tok, data);
    expect(args, 0, "{\"problems\": 4, \"k\": 4, \"pass@1\": 0.7500, \"pass@4\": 0.7500, \"maj@4\": 0.7500, ");
    snprintf(args, sizeof args, "eval --model %s --tokenizer %s --data %s --temperature 0", model, tok, data);
    expect(args, 0, "{\"problems\": 4, \"k\": 1, \"pass@1\": 0.7500, \"pass@1\": 0.7500, \"maj@1\": 0.7500, ");
    /* cut before the closing brace, the answer is not boxed: no sample is right */
    snprintf(args, sizeof args, "eval --model %s --tokenizer %s --data %s --k 2 --max_completion_length %d", model,
             tok, data, n - 1);
    expect(args, 0, "{\"problems\": 4, \"k\": 2, \"pass@1\": 0.0000, \"pass@2\": 0.0000, \"maj@2\": 0.0000, ");
    expect("eval --help", 0, "usage: grpo eval");
    char *fixture = tu_src("tests/fixtures/policy/qwen2"), *tok3k = tu_src("tests/fixtures/tokenizer/qwen2");
    snprintf(args, sizeof args, "eval --model %s --tokenizer %s --data %s --max_prompt_length 200", fixture, tok3k, data);
    expect(args, 1, "vocabulary mismatch: tokenizer"); /* 3000 ids for a 1024-id model */
    free(fixture);
    free(tok3k);
    free(tok);
}

static void selfcheck_passes(void) {
    char args[4096];
    snprintf(args, sizeof args, "selfcheck --out %s/selfcheck", tmp);
    expect(args, 0, "self-check passed");
}

int main(void) {
    tmp = tu_tmpdir("cli");
    if (!tmp || CU_initialize_registry() != CUE_SUCCESS) return 1;
    CU_pSuite s = CU_add_suite("cli", NULL, NULL);
    CU_add_test(s, "every_command_has_help", every_command_has_help);
    CU_add_test(s, "unknown_command_and_option_are_usage_errors", unknown_command_and_option_are_usage_errors);
    CU_add_test(s, "init_then_score_prints_one_logprob_per_token_after_the_first",
                init_then_score_prints_one_logprob_per_token_after_the_first);
    CU_add_test(s, "score_rejects_token_outside_vocabulary", score_rejects_token_outside_vocabulary);
    CU_add_test(s, "score_reports_damaged_files_by_name", score_reports_damaged_files_by_name);
    CU_add_test(s, "docs_config_md_is_what_the_code_generates", docs_config_md_is_what_the_code_generates);
    CU_add_test(s, "readme_command_table_is_what_the_code_generates", readme_command_table_is_what_the_code_generates);
    CU_add_test(s, "train_config_errors_name_the_key_before_any_work", train_config_errors_name_the_key_before_any_work);
    CU_add_test(s, "dynamic_sampling_keeps_only_groups_with_reward_spread", dynamic_sampling_keeps_only_groups_with_reward_spread);
    CU_add_test(s, "train_runs_three_steps_on_an_hf_qwen2_with_gsm8k_and_the_math_reward",
                train_runs_three_steps_on_an_hf_qwen2_with_gsm8k_and_the_math_reward);
    CU_add_test(s, "an_external_reward_command_adds_its_component", an_external_reward_command_adds_its_component);
    CU_add_test(s, "a_resampling_round_draws_what_the_missing_groups_need",
                a_resampling_round_draws_what_the_missing_groups_need);
    CU_add_test(s, "resumed_run_equals_an_uninterrupted_one_bit_for_bit", resumed_run_equals_an_uninterrupted_one_bit_for_bit);
    CU_add_test(s, "sft_weight_decay_is_the_cold_starts_own", sft_weight_decay_is_the_cold_starts_own);
    CU_add_test(s, "eval_prints_pass1_passk_and_majk", eval_prints_pass1_passk_and_majk);
    CU_add_test(s, "selfcheck_passes", selfcheck_passes);
    int rc = tu_run_registry();
    fs_remove_tree(tmp, NULL);
    free(tmp);
    return rc;
}
