/* tests/tokenizer/test_tokenizer.c: the tokenizer's behaviour on small hand-written tokenizer.json files
 * (merge order, both merge spellings, ignore_merges, added tokens, decoding, streaming), the special
 * ids from tokenizer_config.json / generation_config.json, and every kind of bad input, each of which
 * must be refused with a message naming the field. */
#include <CUnit/CUnit.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/fsutil.h"
#include "policy/tokenizer/tokenizer.h"
#include "tests/test_util.h"
#include "tok_test.h"

/* A tokenizer.json with the given model, added tokens and pre-tokenizer (NULL: defaults). The default
 * vocab spells bytes in GPT-2's byte-level alphabet: "Ġ" is the space. */
static char *tj(const char *model, const char *added, const char *pre) {
    static const char *MODEL =
        "{\"type\":\"BPE\",\"vocab\":{\"a\":0,\"b\":1,\"c\":2,\"ab\":3,\"bc\":4,\"abc\":5,\"Ġ\":6,\"Ġa\":7,\"x\":8},"
        "\"merges\":[\"b c\",\"a b\",\"Ġ a\"]}";
    static const char *PRE = "{\"type\":\"ByteLevel\",\"add_prefix_space\":false,\"use_regex\":true}";
    char *s = malloc(8192);
    snprintf(s, 8192, "{\"version\":\"1.0\",\"added_tokens\":%s,\"normalizer\":null,\"pre_tokenizer\":%s,"
             "\"decoder\":{\"type\":\"ByteLevel\"},\"model\":%s}",
             added ? added : "[]", pre ? pre : PRE, model ? model : MODEL);
    return s;
}

static tok_tokenizer *load_ok(char *json) {
    tok_tokenizer *t = NULL;
    grpo_err e = {0};
    int rc = tok_load_json(&t, json, strlen(json), "t.json", &e);
    if (rc) fprintf(stderr, "\n  unexpected load error: %s\n", e.msg);
    free(json);
    CU_ASSERT_EQUAL(rc, 0);
    return t;
}

/* Asserts that loading json fails with code and a message containing want (and naming the file). */
static void load_fails(char *json, int code, const char *want) {
    tok_tokenizer *t = (tok_tokenizer *)1;
    grpo_err e = {0};
    int rc = tok_load_json(&t, json, strlen(json), "bad/tokenizer.json", &e);
    if (rc != code || !strstr(e.msg, want) || !strstr(e.msg, "bad/tokenizer.json"))
        fprintf(stderr, "\n  load -> %d (want %d): %s\n  wanted: %s\n", rc, code, e.msg, want);
    CU_ASSERT_EQUAL(rc, code);
    CU_ASSERT_PTR_NOT_NULL(strstr(e.msg, want));
    CU_ASSERT_PTR_NOT_NULL(strstr(e.msg, "bad/tokenizer.json"));
    CU_ASSERT_PTR_NULL(t);
    free(json);
}

/* Encodes text and compares with the expected ids (terminated by -1). */
static void encodes_to(tok_tokenizer *t, const char *text, int flags, const int *want) {
    int *ids;
    size_t n, k = 0;
    grpo_err e = {0};
    CU_ASSERT_EQUAL_FATAL(tok_encode(t, text, strlen(text), flags, &ids, &n, &e), 0);
    while (want[k] >= 0) k++;
    int same = n == k && (k == 0 || !memcmp(ids, want, k * sizeof *ids));
    if (!same) {
        fprintf(stderr, "\n  encode(\"%s\") = [", text);
        for (size_t i = 0; i < n; i++) fprintf(stderr, "%s%d", i ? " " : "", ids[i]);
        fprintf(stderr, "]\n");
    }
    CU_ASSERT_TRUE(same);
    free(ids);
}

static char *decode_str(tok_tokenizer *t, const int *ids, size_t n, int flags) {
    char *text = NULL;
    size_t len;
    grpo_err e = {0};
    CU_ASSERT_EQUAL(tok_decode(t, ids, n, flags, &text, &len, &e), 0);
    return text;
}

/* ---- encoding ---- */

static void merges_apply_lowest_rank_first_not_leftmost_first(void) {
    tok_tokenizer *t = load_ok(tj(NULL, NULL, NULL));
    /* "b c" has rank 0, so "abc" becomes a + bc, never ab + c (and abc is not reachable) */
    encodes_to(t, "abc", 0, (int[]){0, 4, -1});
    encodes_to(t, "ab", 0, (int[]){3, -1});
    encodes_to(t, "abab a", 0, (int[]){3, 3, 7, -1});
    encodes_to(t, "", 0, (int[]){-1});
    tok_free(t);
}

static void merges_as_pairs_mean_the_same_as_merges_as_strings(void) {
    tok_tokenizer *t = load_ok(tj("{\"type\":\"BPE\",\"vocab\":{\"a\":0,\"b\":1,\"c\":2,\"ab\":3,\"bc\":4},"
                                  "\"merges\":[[\"b\",\"c\"],[\"a\",\"b\"]]}", NULL, NULL));
    encodes_to(t, "abc", 0, (int[]){0, 4, -1});
    tok_free(t);
}

static void ignore_merges_takes_a_whole_word_found_in_the_vocab(void) {
    tok_tokenizer *t = load_ok(tj("{\"type\":\"BPE\",\"ignore_merges\":true,\"vocab\":{\"a\":0,\"b\":1,\"c\":2,"
                                  "\"ab\":3,\"bc\":4,\"abc\":5},\"merges\":[\"b c\",\"a b\"]}", NULL, NULL));
    encodes_to(t, "abc", 0, (int[]){5, -1});
    encodes_to(t, "abcab", 0, (int[]){0, 4, 3, -1}); /* not in the vocab whole: merges as usual */
    tok_free(t);
}

static void bytes_without_a_token_are_dropped_and_neighbours_merge_like_hf(void) {
    tok_tokenizer *t = load_ok(tj(NULL, NULL, NULL));
    /* "z" has no token: HF drops it, and "a" "b" then merge (checked against tokenizers 0.23) */
    encodes_to(t, "azb", 0, (int[]){3, -1});
    encodes_to(t, "zz", 0, (int[]){-1});
    tok_free(t);
}

static void special_tokens_match_only_when_asked_and_plain_added_tokens_always(void) {
    tok_tokenizer *t = load_ok(tj(NULL, "[{\"id\":9,\"content\":\"<s>\",\"special\":true},"
                                        "{\"id\":10,\"content\":\"xab\",\"special\":false}]", NULL));
    /* "<", "s", ">" have no tokens in this vocab, so the unmatched special's text vanishes */
    encodes_to(t, "a<s>b", TOK_SPECIAL, (int[]){0, 9, 1, -1});
    encodes_to(t, "a<s>b", 0, (int[]){0, 1, -1});
    encodes_to(t, "axabc", 0, (int[]){0, 10, 2, -1});
    CU_ASSERT_EQUAL(tok_token_id(t, "<s>"), 9);
    CU_ASSERT_EQUAL(tok_token_id(t, "ab"), 3);
    CU_ASSERT_EQUAL(tok_token_id(t, "zz"), -1);
    CU_ASSERT_TRUE(tok_is_special(t, 9));
    CU_ASSERT_FALSE(tok_is_special(t, 10));
    CU_ASSERT_EQUAL(tok_get_info(t)->vocab_size, 11);
    int ids[] = {0, 9, 1};
    char *s = decode_str(t, ids, 3, 0);
    CU_ASSERT_STRING_EQUAL(s, "a<s>b");
    free(s);
    s = decode_str(t, ids, 3, TOK_SKIP_SPECIAL);
    CU_ASSERT_STRING_EQUAL(s, "ab");
    free(s);
    tok_free(t);
}

static void encode_refuses_invalid_utf8_naming_the_byte(void) {
    tok_tokenizer *t = load_ok(tj(NULL, NULL, NULL));
    int *ids;
    size_t n;
    grpo_err e = {0};
    CU_ASSERT_EQUAL(tok_encode(t, "ab\xC3(", 4, 0, &ids, &n, &e), GRPO_EINVAL);
    CU_ASSERT_PTR_NOT_NULL(strstr(e.msg, "not valid UTF-8 (byte 2)"));
    tok_free(t);
}

static void long_runs_encode_in_reasonable_time_and_round_trip(void) {
    char *dir = tu_src("tests/fixtures/tokenizer/demo");
    tok_tokenizer *t;
    grpo_err e = {0};
    CU_ASSERT_EQUAL_FATAL(tok_load(&t, dir, &e), 0);
    free(dir);
    size_t n = 200000;
    char *s = malloc(n + 1);
    for (size_t i = 0; i < n; i++) s[i] = i < n / 2 ? 'a' : ' ';
    s[n] = '\0';
    int *ids;
    size_t k;
    CU_ASSERT_EQUAL_FATAL(tok_encode(t, s, n, 0, &ids, &k, &e), 0); /* a quadratic merge would take minutes */
    char *back;
    size_t len;
    CU_ASSERT_EQUAL_FATAL(tok_decode(t, ids, k, 0, &back, &len, &e), 0);
    CU_ASSERT_TRUE(len == n && !memcmp(back, s, n));
    free(back);
    free(ids);
    free(s);
    tok_free(t);
}

/* ---- decoding ---- */

static void decode_names_an_out_of_range_id_and_its_position(void) {
    tok_tokenizer *t = load_ok(tj(NULL, "[{\"id\":12,\"content\":\"<s>\",\"special\":true}]", NULL));
    char *text;
    size_t len;
    grpo_err e = {0};
    CU_ASSERT_EQUAL(tok_decode(t, (int[]){0, 13}, 2, 0, &text, &len, &e), GRPO_EINVAL);
    CU_ASSERT_PTR_NOT_NULL(strstr(e.msg, "token id 13 at position 1 is outside the vocabulary (size 13)"));
    CU_ASSERT_EQUAL(tok_decode(t, (int[]){-1}, 1, 0, &text, &len, &e), GRPO_EINVAL);
    CU_ASSERT_PTR_NOT_NULL(strstr(e.msg, "token id -1 at position 0"));
    CU_ASSERT_EQUAL(tok_decode(t, (int[]){10}, 1, 0, &text, &len, &e), GRPO_EINVAL); /* a hole: no token has id 10 */
    CU_ASSERT_PTR_NOT_NULL(strstr(e.msg, "token id 10"));
    tok_free(t);
}

/* Real checkpoints pad the embedding beyond the tokenizer (Qwen2.5: 151,936 rows, 151,646 ids). Told
 * the model's size, the tokenizer decodes such ids, and ids no token has, to "" as HF does; batch
 * and streaming decoding agree; ids beyond the model stay errors. */
static void padding_ids_of_the_model_decode_to_empty_text(void) {
    tok_tokenizer *t = load_ok(tj(NULL, "[{\"id\":12,\"content\":\"<s>\",\"special\":true}]", NULL));
    char *plain, *padded;
    size_t lp, lq;
    grpo_err e = {0};
    tok_set_model_vocab(t, 20);
    CU_ASSERT_EQUAL_FATAL(tok_decode(t, (int[]){0, 1}, 2, 0, &plain, &lp, &e), 0);
    CU_ASSERT_EQUAL_FATAL(tok_decode(t, (int[]){13, 0, 19, 10, 1, 15}, 6, 0, &padded, &lq, &e), 0);
    CU_ASSERT_TRUE(lp > 0 && lp == lq && !memcmp(plain, padded, lp));
    tok_stream st;
    tok_stream_init(&st, t, 0);
    const char *piece;
    size_t n;
    CU_ASSERT_EQUAL(tok_stream_push(&st, 17, &piece, &n, &e), 0);
    CU_ASSERT_EQUAL(n, 0);
    tok_stream_free(&st);
    free(padded);
    CU_ASSERT_EQUAL(tok_decode(t, (int[]){0, 20}, 2, 0, &padded, &lq, &e), GRPO_EINVAL);
    CU_ASSERT_PTR_NOT_NULL(strstr(e.msg, "token id 20 at position 1 is outside the vocabulary (size 20)"));
    free(plain);
    free(padded);
    tok_free(t);
}

/* A tokenizer whose ids 0..255 are the bytes 0..255, to decode any byte string. */
static tok_tokenizer *bytes_tokenizer(void) {
    tok_tokenizer *t = NULL;
    grpo_err e = {0};
    char *dir = tu_src("tests/fixtures/tokenizer/gpt2");
    CU_ASSERT_EQUAL(tok_load(&t, dir, &e), 0);
    free(dir);
    return t;
}

/* Id of the single-byte token for byte b. */
static int byte_id(tok_tokenizer *t, unsigned char b) {
    for (int id = 0; id < tok_get_info(t)->vocab_size; id++) {
        size_t len;
        const char *p = tok_token_bytes(t, id, &len);
        if (p && len == 1 && (unsigned char)p[0] == b && !tok_is_special(t, id)) return id;
    }
    return -1;
}

static void invalid_bytes_decode_to_one_replacement_per_maximal_subpart(void) {
    tok_tokenizer *t = bytes_tokenizer();
    /* E2 82 is a cut-off "€" (one U+FFFD), FF is invalid (one), C3 A9 is "é", 80 a stray continuation */
    const unsigned char raw[] = {'a', 0xE2, 0x82, 'b', 0xFF, 0xC3, 0xA9, 0x80, 0xF0, 0x9F, 0x98};
    int ids[sizeof raw];
    for (size_t i = 0; i < sizeof raw; i++) ids[i] = byte_id(t, raw[i]);
    char *s = decode_str(t, ids, sizeof raw, 0);
    CU_ASSERT_STRING_EQUAL(s, "a\xEF\xBF\xBD" "b\xEF\xBF\xBD\xC3\xA9\xEF\xBF\xBD\xEF\xBF\xBD");
    free(s);
    tok_free(t);
}

static void streaming_holds_back_partial_characters_and_equals_decode(void) {
    tok_tokenizer *t = bytes_tokenizer();
    const char *text = "h\xC3\xA9llo \xF0\x9F\x91\x8B \xE4\xB8\x96\xE7\x95\x8C";
    tok_stream s;
    tok_stream_init(&s, t, 0);
    char all[256] = "";
    grpo_err e = {0};
    for (size_t i = 0; text[i]; i++) {
        const char *out;
        size_t len;
        CU_ASSERT_EQUAL_FATAL(tok_stream_push(&s, byte_id(t, (unsigned char)text[i]), &out, &len, &e), 0);
        /* nothing comes out while a character is incomplete, and what comes out is whole characters */
        if (i == 1 || i == 7 || i == 8 || i == 9) CU_ASSERT_EQUAL(len, 0);
        if (i == 2) CU_ASSERT_STRING_EQUAL(out, "\xC3\xA9");
        if (i == 10) CU_ASSERT_STRING_EQUAL(out, "\xF0\x9F\x91\x8B");
        strncat(all, out, len);
    }
    const char *out;
    size_t len;
    CU_ASSERT_EQUAL(tok_stream_finish(&s, &out, &len, &e), 0);
    CU_ASSERT_EQUAL(len, 0);
    CU_ASSERT_STRING_EQUAL(all, text);
    tok_stream_free(&s);
    /* a character never finished: the stream ends with U+FFFD, as decode does */
    tok_stream_init(&s, t, 0);
    CU_ASSERT_EQUAL(tok_stream_push(&s, byte_id(t, 'x'), &out, &len, &e), 0);
    CU_ASSERT_EQUAL(tok_stream_push(&s, byte_id(t, 0xE4), &out, &len, &e), 0);
    CU_ASSERT_EQUAL(len, 0);
    CU_ASSERT_EQUAL(tok_stream_push(&s, byte_id(t, 0xB8), &out, &len, &e), 0);
    CU_ASSERT_EQUAL(len, 0);
    CU_ASSERT_EQUAL(tok_stream_finish(&s, &out, &len, &e), 0);
    CU_ASSERT_STRING_EQUAL(out, "\xEF\xBF\xBD");
    CU_ASSERT_EQUAL(tok_stream_push(&s, 1 << 20, &out, &len, &e), GRPO_EINVAL);
    tok_stream_free(&s);
    tok_free(t);
}

/* ---- special ids from the config files ---- */

static void demo_tokenizer_reads_eos_and_pad_from_its_configs(void) {
    char *dir = tu_src("tests/fixtures/tokenizer/demo");
    tok_tokenizer *t;
    grpo_err e = {0};
    CU_ASSERT_EQUAL_FATAL(tok_load(&t, dir, &e), 0);
    free(dir);
    const tok_info *in = tok_get_info(t);
    CU_ASSERT_EQUAL(in->vocab_size, 1024);
    CU_ASSERT_EQUAL(in->eos_id, tok_token_id(t, "<|im_end|>"));
    CU_ASSERT_EQUAL(in->pad_id, tok_token_id(t, "<|endoftext|>"));
    CU_ASSERT_EQUAL(in->bos_id, -1);
    CU_ASSERT_EQUAL(in->n_eos, 2);
    CU_ASSERT_EQUAL(in->eos_ids[0], tok_token_id(t, "<|im_end|>"));
    CU_ASSERT_EQUAL(in->eos_ids[1], tok_token_id(t, "<|endoftext|>"));
    tok_free(t);
}

/* Writes tokenizer.json plus one config file into a fresh directory and loads it. */
static int load_dir_with(const char *config_name, const char *config, grpo_err *e, tok_tokenizer **t) {
    char *dir = tu_tmpdir("tok");
    char *json = tj(NULL, "[{\"id\":9,\"content\":\"<s>\",\"special\":true}]", NULL);
    free(tu_write(dir, "tokenizer.json", json, strlen(json)));
    free(json);
    free(tu_write(dir, config_name, config, strlen(config)));
    int rc = tok_load(t, dir, e);
    fs_remove_tree(dir, NULL);
    free(dir);
    return rc;
}

static void config_files_give_ids_and_bad_ones_are_named(void) {
    tok_tokenizer *t;
    grpo_err e = {0};
    CU_ASSERT_EQUAL_FATAL(load_dir_with("tokenizer_config.json", "{\"bos_token\":{\"content\":\"<s>\"},\"eos_token\":\"ab\"}", &e, &t), 0);
    CU_ASSERT_EQUAL(tok_get_info(t)->bos_id, 9);
    CU_ASSERT_EQUAL(tok_get_info(t)->eos_id, 3);
    tok_free(t);
    CU_ASSERT_EQUAL_FATAL(load_dir_with("generation_config.json", "{\"bos_token_id\":9,\"eos_token_id\":[1,2]}", &e, &t), 0);
    CU_ASSERT_EQUAL(tok_get_info(t)->bos_id, 9);
    CU_ASSERT_EQUAL(tok_get_info(t)->eos_id, 1);
    CU_ASSERT_EQUAL(tok_get_info(t)->n_eos, 2);
    tok_free(t);
    CU_ASSERT_EQUAL(load_dir_with("tokenizer_config.json", "{\"eos_token\":\"</nope>\"}", &e, &t), GRPO_EFORMAT);
    CU_ASSERT_PTR_NOT_NULL(strstr(e.msg, "tokenizer_config.json: field \"eos_token\" = \"</nope>\" is not a token"));
    CU_ASSERT_EQUAL(load_dir_with("generation_config.json", "{\"eos_token_id\":[1,99]}", &e, &t), GRPO_EFORMAT);
    CU_ASSERT_PTR_NOT_NULL(strstr(e.msg, "generation_config.json: field \"eos_token_id\""));
    CU_ASSERT_EQUAL(load_dir_with("tokenizer_config.json", "{\"eos_token\":", &e, &t), GRPO_EFORMAT);
    CU_ASSERT_PTR_NOT_NULL(strstr(e.msg, "tokenizer_config.json: invalid JSON"));
    CU_ASSERT_EQUAL(tok_load(&t, "/nonexistent/tok", &e), GRPO_EIO);
    CU_ASSERT_PTR_NOT_NULL(strstr(e.msg, "/nonexistent/tok/tokenizer.json"));
}

/* ---- bad tokenizer.json ---- */

static void missing_model_and_unknown_model_type_are_named(void) {
    load_fails(strdup("{\"pre_tokenizer\":null}"), GRPO_EFORMAT, "missing required field \"model\"");
    load_fails(tj("{\"type\":\"WordPiece\",\"vocab\":{}}", NULL, NULL), GRPO_EUNSUPPORTED,
               "unknown model type \"WordPiece\" in field \"model.type\"");
    load_fails(tj("{\"type\":\"BPE\"}", NULL, NULL), GRPO_EFORMAT, "field \"model.vocab\" is missing");
    load_fails(tj("{\"type\":\"BPE\",\"vocab\":{\"a\":\"0\"}}", NULL, NULL), GRPO_EFORMAT,
               "field \"model.vocab\"[\"a\"] must be an integer");
    load_fails(tj("{\"type\":\"BPE\",\"vocab\":{\"a\":-4}}", NULL, NULL), GRPO_EFORMAT, "= -4 is out of range");
    load_fails(tj("{\"type\":\"BPE\",\"vocab\":{\"a\":0,\"b\":0}}", NULL, NULL), GRPO_EFORMAT,
               "id 0 is given to two tokens");
    load_fails(tj("{\"type\":\"BPE\",\"vocab\":{}}", NULL, NULL), GRPO_EFORMAT, "field \"model.vocab\" is empty");
    load_fails(tj("{\"type\":\"BPE\",\"vocab\":{\"a\":0},\"byte_fallback\":true}", NULL, NULL), GRPO_EUNSUPPORTED,
               "model.byte_fallback");
    load_fails(tj("{\"type\":\"BPE\",\"vocab\":{\"a\":0},\"unk_token\":\"<unk>\"}", NULL, NULL), GRPO_EFORMAT,
               "field \"model.unk_token\" = \"<unk>\" is not in model.vocab");
    load_fails(strdup("[1,2]"), GRPO_EFORMAT, "top level must be a JSON object");
    load_fails(strdup("{\"model\": {"), GRPO_EFORMAT, "invalid JSON at line 1");
}

static void malformed_merges_are_named_by_index(void) {
    load_fails(tj("{\"type\":\"BPE\",\"vocab\":{\"a\":0,\"b\":1,\"ab\":2},\"merges\":[\"a b\",\"ab\"]}", NULL, NULL),
               GRPO_EFORMAT, "field \"model.merges\"[1] = \"ab\" is not two tokens separated by one space");
    load_fails(tj("{\"type\":\"BPE\",\"vocab\":{\"a\":0,\"b\":1},\"merges\":[\"a b\"]}", NULL, NULL), GRPO_EFORMAT,
               "field \"model.merges\"[0]: merged token \"ab\" is not in model.vocab");
    load_fails(tj("{\"type\":\"BPE\",\"vocab\":{\"a\":0,\"ab\":2},\"merges\":[[\"a\",\"b\"]]}", NULL, NULL), GRPO_EFORMAT,
               "field \"model.merges\"[0]: token \"b\" is not in model.vocab");
    load_fails(tj("{\"type\":\"BPE\",\"vocab\":{\"a\":0},\"merges\":[7]}", NULL, NULL), GRPO_EFORMAT,
               "field \"model.merges\"[0] must be a string");
    load_fails(tj("{\"type\":\"BPE\",\"vocab\":{\"a\":0},\"merges\":\"a b\"}", NULL, NULL), GRPO_EFORMAT,
               "field \"model.merges\" must be an array");
}

static void invalid_regex_and_unsupported_steps_are_named(void) {
    load_fails(tj(NULL, NULL, "{\"type\":\"Sequence\",\"pretokenizers\":[{\"type\":\"Split\",\"pattern\":{\"Regex\":"
                              "\"(a|b\"},\"behavior\":\"Isolated\"},{\"type\":\"ByteLevel\",\"use_regex\":false}]}"),
               GRPO_EFORMAT, "field \"pre_tokenizer.pretokenizers[0].pattern.Regex\": invalid regex \"(a|b\"");
    load_fails(tj(NULL, NULL, "{\"type\":\"Split\",\"pattern\":{\"Regex\":\"a\"},\"behavior\":\"Sideways\"}"),
               GRPO_EUNSUPPORTED, "unknown split behavior \"Sideways\" in field \"pre_tokenizer.behavior\"");
    load_fails(tj(NULL, NULL, "{\"type\":\"Split\",\"pattern\":{\"Regex\":\"a\"},\"behavior\":\"Isolated\"}"),
               GRPO_EUNSUPPORTED, "has no ByteLevel step");
    load_fails(tj(NULL, NULL, "{\"type\":\"Whitespace\"}"), GRPO_EUNSUPPORTED,
               "unsupported pre-tokenizer type \"Whitespace\" in field \"pre_tokenizer.type\"");
    load_fails(tj(NULL, NULL, "null"), GRPO_EUNSUPPORTED, "field \"pre_tokenizer\" is null");
    load_fails(tj(NULL, NULL, "{\"type\":\"Split\",\"pattern\":7,\"behavior\":\"Isolated\"}"), GRPO_EFORMAT,
               "field \"pre_tokenizer.pattern\" must be");
    char *j = tj(NULL, NULL, NULL), *p = strstr(j, "\"normalizer\":null");
    char *k = malloc(strlen(j) + 64);
    snprintf(k, strlen(j) + 64, "%.*s\"normalizer\":{\"type\":\"Lowercase\"}%s", (int)(p - j), j, p + 17);
    free(j);
    load_fails(k, GRPO_EUNSUPPORTED, "unsupported normalizer \"Lowercase\" in field \"normalizer.type\"");
}

static void bad_added_tokens_are_named_by_index(void) {
    load_fails(tj(NULL, "[{\"id\":9,\"content\":\"<s>\"},{\"id\":10}]", NULL), GRPO_EFORMAT,
               "field \"added_tokens[1].content\" must be a non-empty string");
    load_fails(tj(NULL, "[{\"content\":\"<s>\"}]", NULL), GRPO_EFORMAT, "field \"added_tokens[0].id\" must be an integer");
    load_fails(tj(NULL, "[{\"id\":9,\"content\":\"<s>\",\"special\":\"yes\"}]", NULL), GRPO_EFORMAT,
               "field \"added_tokens[0].special\" must be true or false");
    load_fails(tj(NULL, "{}", NULL), GRPO_EFORMAT, "field \"added_tokens\" must be an array");
}

void tok_suite_unit(void) {
    CU_pSuite s = CU_add_suite("tokenizer", NULL, NULL);
    CU_add_test(s, "merges apply lowest rank first, not leftmost first", merges_apply_lowest_rank_first_not_leftmost_first);
    CU_add_test(s, "merges as pairs mean the same as merges as strings", merges_as_pairs_mean_the_same_as_merges_as_strings);
    CU_add_test(s, "ignore_merges takes a whole word found in the vocab", ignore_merges_takes_a_whole_word_found_in_the_vocab);
    CU_add_test(s, "bytes without a token are dropped and neighbours merge, like HF", bytes_without_a_token_are_dropped_and_neighbours_merge_like_hf);
    CU_add_test(s, "special tokens match only when asked, plain added tokens always", special_tokens_match_only_when_asked_and_plain_added_tokens_always);
    CU_add_test(s, "encode refuses invalid UTF-8 naming the byte", encode_refuses_invalid_utf8_naming_the_byte);
    CU_add_test(s, "long runs encode in reasonable time and round-trip", long_runs_encode_in_reasonable_time_and_round_trip);
    CU_add_test(s, "decode names an out-of-range id and its position", decode_names_an_out_of_range_id_and_its_position);
    CU_add_test(s, "padding ids of the model decode to empty text", padding_ids_of_the_model_decode_to_empty_text);
    CU_add_test(s, "invalid bytes decode to one U+FFFD per maximal subpart", invalid_bytes_decode_to_one_replacement_per_maximal_subpart);
    CU_add_test(s, "streaming holds back partial characters and equals decode", streaming_holds_back_partial_characters_and_equals_decode);
    CU_add_test(s, "demo tokenizer reads eos and pad from its configs", demo_tokenizer_reads_eos_and_pad_from_its_configs);
    CU_add_test(s, "config files give ids, and bad ones are named", config_files_give_ids_and_bad_ones_are_named);
    CU_add_test(s, "missing model and unknown model type are named", missing_model_and_unknown_model_type_are_named);
    CU_add_test(s, "malformed merges are named by index", malformed_merges_are_named_by_index);
    CU_add_test(s, "invalid regex and unsupported steps are named", invalid_regex_and_unsupported_steps_are_named);
    CU_add_test(s, "bad added tokens are named by index", bad_added_tokens_are_named_by_index);
}
