/* tests/policy/test_safetensors.c: the safetensors suite — writing and reading back (F32, BF16),
 * header layout, F16/F64 conversion, sharded models, and every way a file can be malformed.
 * Bad-input files are built by hand (8-byte length + header text + data) next to the good ones. */
#include <CUnit/CUnit.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/fsutil.h"
#include "policy/safetensors.h"
#include "tests/test_util.h"

/* ---- helpers ---- */

/* A safetensors image: little-endian length of header, header text, then dlen bytes of data. */
static uint8_t *image(const char *header, const void *data, size_t dlen, size_t *len) {
    size_t h = strlen(header);
    uint8_t *b = malloc(8 + h + dlen + 1);
    uint64_t n = h;
    memcpy(b, &n, 8);
    memcpy(b + 8, header, h);
    if (dlen) memcpy(b + 8 + h, data, dlen);
    *len = 8 + h + dlen;
    return b;
}

/* Writes an image to dir/name and returns the path (caller frees). */
static char *write_image(const char *dir, const char *name, const char *header, const void *data, size_t dlen) {
    size_t len;
    uint8_t *b = image(header, data, dlen, &len);
    char *p = tu_write(dir, name, b, len);
    free(b);
    return p;
}

/* Removes the test directory and frees its name. */
static void rmdir_free(char *dir) {
    fs_remove_tree(dir, NULL);
    free(dir);
}

/* 1 when sub occurs in s. */
static int contains(const char *s, const char *sub) {
    return strstr(s, sub) != NULL;
}

/* Opens a one-file image with the given header and data; asserts it fails with code and that the
 * message names the file and contains want. */
static void expect_open_error(const char *header, const void *data, size_t dlen, int code, const char *want) {
    char *dir = tu_tmpdir("st");
    char *path = write_image(dir, "bad.safetensors", header, data, dlen);
    st_file f;
    grpo_err e = {0};
    int rc = st_open(&f, path, &e);
    CU_ASSERT_EQUAL(rc, code);
    CU_ASSERT_EQUAL(e.code, code);
    CU_ASSERT_TRUE(contains(e.msg, path));
    CU_ASSERT_TRUE(contains(e.msg, want));
    if (!contains(e.msg, want)) fprintf(stderr, "\n  message was: %s\n  expected to contain: %s\n", e.msg, want);
    CU_ASSERT_EQUAL(f.n, 0);
    CU_ASSERT_PTR_NULL(f.tensors);
    CU_ASSERT_PTR_NULL(f.map);
    st_close(&f);
    free(path);
    rmdir_free(dir);
}

/* The IEEE bits of x. */
static uint32_t bits(float x) {
    uint32_t u;
    memcpy(&u, &x, 4);
    return u;
}

/* The float whose IEEE bits are u. */
static float from_bits(uint32_t u) {
    float x;
    memcpy(&x, &u, 4);
    return x;
}

/* ---- writing and reading back ---- */

static void test_write_then_read_f32_round_trips_exactly(void) {
    char *dir = tu_tmpdir("st");
    char path[4096];
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    float a[6] = {1.5f, -2.25f, 3.0e-38f, 1e30f, 0.0f, -0.0f};
    float b[3] = {7.0f, 8.0f, 1.0f / 3.0f};
    st_write_item items[2] = {
        {.name = "b.bias", .data = b, .ndim = 1, .shape = {3}},
        {.name = "a.weight", .data = a, .ndim = 2, .shape = {2, 3}},
    };
    grpo_err e = {0};
    CU_ASSERT_EQUAL_FATAL(st_write(path, items, 2, ST_F32, &e), GRPO_OK);
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    CU_ASSERT_FALSE(fs_exists(tmp));

    st_file f;
    CU_ASSERT_EQUAL_FATAL(st_open(&f, path, &e), GRPO_OK);
    CU_ASSERT_EQUAL(f.n, 2);
    const st_tensor *ta = st_find(&f, "a.weight"), *tb = st_find(&f, "b.bias");
    CU_ASSERT_PTR_NOT_NULL_FATAL(ta);
    CU_ASSERT_PTR_NOT_NULL_FATAL(tb);
    CU_ASSERT_PTR_NULL(st_find(&f, "c"));
    CU_ASSERT_EQUAL(ta->dtype, ST_F32);
    CU_ASSERT_EQUAL(ta->ndim, 2);
    CU_ASSERT_EQUAL(ta->shape[0], 2);
    CU_ASSERT_EQUAL(ta->shape[1], 3);
    CU_ASSERT_EQUAL(ta->numel, 6);
    CU_ASSERT_EQUAL(ta->nbytes, 24);
    CU_ASSERT_EQUAL(ta->offset, 0);   /* name order: a.weight first */
    CU_ASSERT_EQUAL(tb->offset, 24);  /* then b.bias, contiguous */
    float out[6];
    CU_ASSERT_EQUAL(st_to_f32(ta, out, &e), GRPO_OK);
    CU_ASSERT_EQUAL(memcmp(out, a, sizeof a), 0);
    CU_ASSERT_EQUAL(st_to_f32(tb, out, &e), GRPO_OK);
    CU_ASSERT_EQUAL(memcmp(out, b, sizeof b), 0);
    st_close(&f);
    rmdir_free(dir);
}

static void test_write_then_read_bf16_round_trips_representable_values_exactly(void) {
    char *dir = tu_tmpdir("st");
    char path[4096];
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    /* all exactly representable in bf16 (8 significant bits) */
    float x[8] = {1.0f, -2.0f, 0.5f, 3.140625f, 65536.0f, 0x1p-126f, INFINITY, -0.0f};
    st_write_item it = {.name = "w", .data = x, .ndim = 2, .shape = {2, 4}};
    grpo_err e = {0};
    CU_ASSERT_EQUAL_FATAL(st_write(path, &it, 1, ST_BF16, &e), GRPO_OK);
    st_file f;
    CU_ASSERT_EQUAL_FATAL(st_open(&f, path, &e), GRPO_OK);
    const st_tensor *t = st_find(&f, "w");
    CU_ASSERT_PTR_NOT_NULL_FATAL(t);
    CU_ASSERT_EQUAL(t->dtype, ST_BF16);
    CU_ASSERT_EQUAL(t->nbytes, 16);
    float out[8];
    CU_ASSERT_EQUAL(st_to_f32(t, out, &e), GRPO_OK);
    for (int i = 0; i < 8; i++) CU_ASSERT_EQUAL(bits(out[i]), bits(x[i]));
    st_close(&f);
    rmdir_free(dir);
}

static void test_write_bf16_rounds_a_non_representable_value_to_nearest_even(void) {
    char *dir = tu_tmpdir("st");
    char path[4096];
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    /* 1 + 2^-8 is halfway between bf16 1.0 and 1 + 2^-7: ties go to the even mantissa (1.0);
     * 1 + 3*2^-8 is halfway between 1 + 2^-7 and 1 + 2^-6: ties go to 1 + 2^-6;
     * 1 + 2^-8 + 2^-20 is just above halfway: rounds up to 1 + 2^-7. */
    float x[3] = {1.0f + 0x1p-8f, 1.0f + 3 * 0x1p-8f, 1.0f + 0x1p-8f + 0x1p-20f};
    st_write_item it = {.name = "w", .data = x, .ndim = 1, .shape = {3}};
    grpo_err e = {0};
    CU_ASSERT_EQUAL_FATAL(st_write(path, &it, 1, ST_BF16, &e), GRPO_OK);
    st_file f;
    CU_ASSERT_EQUAL_FATAL(st_open(&f, path, &e), GRPO_OK);
    float out[3];
    CU_ASSERT_EQUAL(st_to_f32(st_find(&f, "w"), out, &e), GRPO_OK);
    CU_ASSERT_EQUAL(out[0], 1.0f);
    CU_ASSERT_EQUAL(out[1], 1.0f + 0x1p-6f);
    CU_ASSERT_EQUAL(out[2], 1.0f + 0x1p-7f);
    st_close(&f);
    rmdir_free(dir);
}

static void test_f32_to_bf16_keeps_nan_quiet_and_rounds_overflow_to_inf(void) {
    CU_ASSERT_EQUAL(st_f32_to_bf16(1.0f), 0x3f80);
    CU_ASSERT_EQUAL(st_f32_to_bf16(-2.0f), 0xc000);
    /* a signalling NaN whose payload sits only in the low bits would truncate to inf */
    uint16_t h = st_f32_to_bf16(from_bits(0x7f800001u));
    CU_ASSERT_EQUAL(h & 0x7f80, 0x7f80);
    CU_ASSERT_TRUE(h & 0x0040);
    CU_ASSERT_TRUE(isnan(st_bf16_to_f32(h)));
    CU_ASSERT_TRUE(isnan(st_bf16_to_f32(st_f32_to_bf16(-NAN))));
    CU_ASSERT_EQUAL(st_f32_to_bf16(INFINITY), 0x7f80);
    CU_ASSERT_EQUAL(st_f32_to_bf16(-INFINITY), 0xff80);
    CU_ASSERT_EQUAL(st_f32_to_bf16(3.4028235e38f), 0x7f80); /* FLT_MAX rounds up to inf */
}

static void test_write_pads_header_so_data_starts_at_a_multiple_of_8(void) {
    char *dir = tu_tmpdir("st");
    char path[4096];
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    float x[1] = {2.0f};
    const char *names[8] = {"a", "ab", "abc", "abcd", "abcde", "abcdef", "abcdefg", "abcdefgh"};
    int padded = 0;
    for (int i = 0; i < 8; i++) {
        st_write_item it = {.name = names[i], .data = x, .ndim = 1, .shape = {1}};
        grpo_err e = {0};
        CU_ASSERT_EQUAL_FATAL(st_write(path, &it, 1, ST_F32, &e), GRPO_OK);
        char *buf;
        size_t len;
        CU_ASSERT_EQUAL_FATAL(fs_read_file(path, &buf, &len, &e), GRPO_OK);
        uint64_t n;
        memcpy(&n, buf, 8);
        CU_ASSERT_EQUAL((8 + n) % 8, 0);
        CU_ASSERT_EQUAL(len, 8 + n + 4);
        CU_ASSERT_EQUAL(strncmp(buf + 8, "{\"__metadata__\":{\"format\":\"pt\"},", 32), 0);
        size_t close = 8 + n - 1;          /* the JSON ends at the last '}', spaces after it */
        while (buf[close] == ' ') close--;
        CU_ASSERT_EQUAL(buf[close], '}');
        CU_ASSERT_TRUE(8 + n - 1 - close < 8);
        if (close != 8 + n - 1) padded = 1;
        free(buf);
    }
    CU_ASSERT_TRUE(padded); /* some name length needed padding */
    rmdir_free(dir);
}

static void test_write_rejects_duplicate_names_and_leaves_no_file(void) {
    char *dir = tu_tmpdir("st");
    char path[4096], tmp[4200];
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    float x[2] = {1, 2};
    st_write_item items[3] = {
        {.name = "w", .data = x, .ndim = 1, .shape = {2}},
        {.name = "v", .data = x, .ndim = 1, .shape = {1}},
        {.name = "w", .data = x, .ndim = 1, .shape = {1}},
    };
    grpo_err e = {0};
    CU_ASSERT_EQUAL(st_write(path, items, 3, ST_F32, &e), GRPO_EINVAL);
    CU_ASSERT_TRUE(contains(e.msg, path));
    CU_ASSERT_TRUE(contains(e.msg, "duplicate tensor name 'w'"));
    CU_ASSERT_FALSE(fs_exists(path));
    CU_ASSERT_FALSE(fs_exists(tmp));
    rmdir_free(dir);
}

static void test_write_rejects_dtypes_other_than_f32_and_bf16(void) {
    char *dir = tu_tmpdir("st");
    char path[4096];
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    float x[1] = {1};
    st_write_item it = {.name = "w", .data = x, .ndim = 1, .shape = {1}};
    grpo_err e = {0};
    CU_ASSERT_EQUAL(st_write(path, &it, 1, ST_F16, &e), GRPO_EUNSUPPORTED);
    CU_ASSERT_TRUE(contains(e.msg, "F16"));
    CU_ASSERT_FALSE(fs_exists(path));
    rmdir_free(dir);
}

static void test_write_rejects_negative_shape(void) {
    char *dir = tu_tmpdir("st");
    char path[4096];
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    float x[1] = {1};
    st_write_item it = {.name = "w", .data = x, .ndim = 2, .shape = {1, -3}};
    grpo_err e = {0};
    CU_ASSERT_EQUAL(st_write(path, &it, 1, ST_F32, &e), GRPO_EINVAL);
    CU_ASSERT_TRUE(contains(e.msg, "'w'"));
    CU_ASSERT_TRUE(contains(e.msg, "shape[1] is negative"));
    rmdir_free(dir);
}

static void test_write_accepts_scalars_and_empty_tensors(void) {
    char *dir = tu_tmpdir("st");
    char path[4096];
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    float s[1] = {42.0f};
    st_write_item items[2] = {
        {.name = "scalar", .data = s, .ndim = 0},
        {.name = "empty", .data = NULL, .ndim = 2, .shape = {0, 5}},
    };
    grpo_err e = {0};
    CU_ASSERT_EQUAL_FATAL(st_write(path, items, 2, ST_F32, &e), GRPO_OK);
    st_file f;
    CU_ASSERT_EQUAL_FATAL(st_open(&f, path, &e), GRPO_OK);
    const st_tensor *ts = st_find(&f, "scalar"), *te = st_find(&f, "empty");
    CU_ASSERT_PTR_NOT_NULL_FATAL(ts);
    CU_ASSERT_PTR_NOT_NULL_FATAL(te);
    CU_ASSERT_EQUAL(ts->ndim, 0);
    CU_ASSERT_EQUAL(ts->numel, 1);
    CU_ASSERT_EQUAL(te->numel, 0);
    CU_ASSERT_EQUAL(te->nbytes, 0);
    float out[1];
    CU_ASSERT_EQUAL(st_to_f32(ts, out, &e), GRPO_OK);
    CU_ASSERT_EQUAL(out[0], 42.0f);
    st_close(&f);
    rmdir_free(dir);
}

/* ---- reading other dtypes ---- */

static void test_read_f16_converts_normals_subnormals_infinities_and_nan(void) {
    uint16_t h[9] = {0x3c00, 0xc000, 0x0001, 0x03ff, 0x7c00, 0xfc00, 0x7e00, 0x8000, 0x7bff};
    char *dir = tu_tmpdir("st");
    char *path = write_image(dir, "h.safetensors", "{\"h\":{\"dtype\":\"F16\",\"shape\":[9],\"data_offsets\":[0,18]}}",
                             h, sizeof h);
    st_file f;
    grpo_err e = {0};
    CU_ASSERT_EQUAL_FATAL(st_open(&f, path, &e), GRPO_OK);
    const st_tensor *t = st_find(&f, "h");
    CU_ASSERT_PTR_NOT_NULL_FATAL(t);
    CU_ASSERT_EQUAL(t->dtype, ST_F16);
    float out[9];
    CU_ASSERT_EQUAL(st_to_f32(t, out, &e), GRPO_OK);
    CU_ASSERT_EQUAL(out[0], 1.0f);
    CU_ASSERT_EQUAL(out[1], -2.0f);
    CU_ASSERT_EQUAL(out[2], 0x1p-24f);            /* smallest subnormal */
    CU_ASSERT_EQUAL(out[3], 1023 * 0x1p-24f);     /* largest subnormal */
    CU_ASSERT_TRUE(isinf(out[4]) && out[4] > 0);
    CU_ASSERT_TRUE(isinf(out[5]) && out[5] < 0);
    CU_ASSERT_TRUE(isnan(out[6]));
    CU_ASSERT_EQUAL(bits(out[7]), 0x80000000u);   /* -0 */
    CU_ASSERT_EQUAL(out[8], 65504.0f);            /* largest normal */
    st_close(&f);
    free(path);
    rmdir_free(dir);
}

static void test_read_f64_and_unaligned_f32_convert(void) {
    /* U8 byte at 0, F32 at offset 1 (unaligned), F64 at offset 9 (unaligned) */
    uint8_t data[25] = {0xab};
    float f32[2] = {0.25f, -8.0f};
    double f64[2] = {1.0 / 3.0, -1e300};
    memcpy(data + 1, f32, 8);
    memcpy(data + 9, f64, 16);
    char *dir = tu_tmpdir("st");
    char *path = write_image(dir, "m.safetensors",
                             "{\"u\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]},"
                             "\"f\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[1,9]},"
                             "\"d\":{\"dtype\":\"F64\",\"shape\":[2],\"data_offsets\":[9,25]}}",
                             data, sizeof data);
    st_file f;
    grpo_err e = {0};
    CU_ASSERT_EQUAL_FATAL(st_open(&f, path, &e), GRPO_OK);
    float out[2];
    CU_ASSERT_EQUAL(st_to_f32(st_find(&f, "f"), out, &e), GRPO_OK);
    CU_ASSERT_EQUAL(out[0], 0.25f);
    CU_ASSERT_EQUAL(out[1], -8.0f);
    CU_ASSERT_EQUAL(st_to_f32(st_find(&f, "d"), out, &e), GRPO_OK);
    CU_ASSERT_EQUAL(out[0], (float)(1.0 / 3.0));
    CU_ASSERT_TRUE(isinf(out[1]) && out[1] < 0);
    CU_ASSERT_EQUAL(st_find(&f, "u")->data[0], 0xab);
    st_close(&f);
    free(path);
    rmdir_free(dir);
}

static void test_to_f32_on_i32_is_unsupported(void) {
    int32_t v[2] = {1, 2};
    char *dir = tu_tmpdir("st");
    char *path = write_image(dir, "i.safetensors",
                             "{\"ids\":{\"dtype\":\"I32\",\"shape\":[2],\"data_offsets\":[0,8]}}", v, sizeof v);
    st_file f;
    grpo_err e = {0};
    CU_ASSERT_EQUAL_FATAL(st_open(&f, path, &e), GRPO_OK);
    float out[2];
    CU_ASSERT_EQUAL(st_to_f32(st_find(&f, "ids"), out, &e), GRPO_EUNSUPPORTED);
    CU_ASSERT_EQUAL(e.code, GRPO_EUNSUPPORTED);
    CU_ASSERT_TRUE(contains(e.msg, "'ids'"));
    CU_ASSERT_TRUE(contains(e.msg, "I32"));
    st_close(&f);
    free(path);
    rmdir_free(dir);
}

static void test_zero_size_tensors_may_share_offsets_with_others(void) {
    float x[2] = {1, 2};
    char *dir = tu_tmpdir("st");
    char *path = write_image(dir, "z.safetensors",
                             "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                             "\"z\":{\"dtype\":\"F32\",\"shape\":[0,3],\"data_offsets\":[4,4]}}",
                             x, sizeof x);
    st_file f;
    grpo_err e = {0};
    CU_ASSERT_EQUAL(st_open(&f, path, &e), GRPO_OK);
    CU_ASSERT_EQUAL(f.n, 2);
    st_close(&f);
    free(path);
    rmdir_free(dir);
}

static void test_metadata_of_strings_is_skipped(void) {
    float x[1] = {1};
    char *dir = tu_tmpdir("st");
    char *path = write_image(dir, "m.safetensors",
                             "{\"__metadata__\":{\"format\":\"pt\",\"note\":\"hi\"},"
                             "\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}   ",
                             x, sizeof x);
    st_file f;
    grpo_err e = {0};
    CU_ASSERT_EQUAL(st_open(&f, path, &e), GRPO_OK);
    CU_ASSERT_EQUAL(f.n, 1);
    CU_ASSERT_PTR_NULL(st_find(&f, "__metadata__"));
    st_close(&f);
    free(path);
    rmdir_free(dir);
}

/* ---- models: single file and shards ---- */

/* Writes a shard holding the named 1-element tensors, whose values are 10*i. */
static void write_shard(const char *dir, const char *file, const char **names, int n) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, file);
    float v[8];
    st_write_item items[8];
    for (int i = 0; i < n; i++) {
        v[i] = 10.0f * (float)i;
        items[i] = (st_write_item){.name = names[i], .data = &v[i], .ndim = 1, .shape = {1}};
    }
    grpo_err e = {0};
    CU_ASSERT_EQUAL_FATAL(st_write(path, items, (size_t)n, ST_F32, &e), GRPO_OK);
}

static const char *INDEX_TWO_SHARDS =
    "{\"metadata\":{\"total_size\":12},\"weight_map\":{"
    "\"a\":\"model-00001-of-00002.safetensors\","
    "\"b\":\"model-00001-of-00002.safetensors\","
    "\"c\":\"model-00002-of-00002.safetensors\"}}";

static void test_sharded_model_reads_tensors_from_both_shards(void) {
    char *dir = tu_tmpdir("st");
    const char *s1[2] = {"a", "b"}, *s2[1] = {"c"};
    write_shard(dir, "model-00001-of-00002.safetensors", s1, 2);
    write_shard(dir, "model-00002-of-00002.safetensors", s2, 1);
    free(tu_write(dir, "model.safetensors.index.json", INDEX_TWO_SHARDS, strlen(INDEX_TWO_SHARDS)));
    st_model m;
    grpo_err e = {0};
    CU_ASSERT_EQUAL_FATAL(st_model_open(&m, dir, &e), GRPO_OK);
    CU_ASSERT_EQUAL(m.nfiles, 2);
    const st_file *file = NULL;
    const st_tensor *t = st_model_find(&m, "c", &file);
    CU_ASSERT_PTR_NOT_NULL_FATAL(t);
    CU_ASSERT_PTR_NOT_NULL_FATAL(file);
    CU_ASSERT_TRUE(contains(file->path, "model-00002-of-00002.safetensors"));
    float out[1];
    CU_ASSERT_EQUAL(st_to_f32(t, out, &e), GRPO_OK);
    CU_ASSERT_EQUAL(out[0], 0.0f);
    t = st_model_find(&m, "b", &file);
    CU_ASSERT_PTR_NOT_NULL_FATAL(t);
    CU_ASSERT_TRUE(contains(file->path, "model-00001-of-00002.safetensors"));
    CU_ASSERT_EQUAL(st_to_f32(t, out, &e), GRPO_OK);
    CU_ASSERT_EQUAL(out[0], 10.0f);
    CU_ASSERT_PTR_NULL(st_model_find(&m, "zzz", &file));
    CU_ASSERT_PTR_NULL(file);
    st_model_close(&m);
    rmdir_free(dir);
}

static void test_index_naming_a_tensor_missing_from_its_shard_is_rejected(void) {
    char *dir = tu_tmpdir("st");
    const char *s1[1] = {"a"}, *s2[1] = {"c"};  /* "b" is in the index but in no shard */
    write_shard(dir, "model-00001-of-00002.safetensors", s1, 1);
    write_shard(dir, "model-00002-of-00002.safetensors", s2, 1);
    free(tu_write(dir, "model.safetensors.index.json", INDEX_TWO_SHARDS, strlen(INDEX_TWO_SHARDS)));
    st_model m;
    grpo_err e = {0};
    CU_ASSERT_EQUAL(st_model_open(&m, dir, &e), GRPO_EFORMAT);
    CU_ASSERT_TRUE(contains(e.msg, "model.safetensors.index.json"));
    CU_ASSERT_TRUE(contains(e.msg, "'b'"));
    CU_ASSERT_TRUE(contains(e.msg, "model-00001-of-00002.safetensors"));
    CU_ASSERT_EQUAL(m.nfiles, 0);
    CU_ASSERT_PTR_NULL(m.files);
    st_model_close(&m);
    rmdir_free(dir);
}

static void test_index_with_a_shard_path_outside_the_directory_is_rejected(void) {
    char *dir = tu_tmpdir("st");
    const char *idx = "{\"weight_map\":{\"a\":\"../model.safetensors\"}}";
    free(tu_write(dir, "model.safetensors.index.json", idx, strlen(idx)));
    st_model m;
    grpo_err e = {0};
    CU_ASSERT_EQUAL(st_model_open(&m, dir, &e), GRPO_EFORMAT);
    CU_ASSERT_TRUE(contains(e.msg, "model.safetensors.index.json"));
    CU_ASSERT_TRUE(contains(e.msg, "../model.safetensors"));
    rmdir_free(dir);
}

static void test_index_naming_a_missing_shard_file_is_rejected(void) {
    char *dir = tu_tmpdir("st");
    const char *s1[2] = {"a", "b"};
    write_shard(dir, "model-00001-of-00002.safetensors", s1, 2);
    free(tu_write(dir, "model.safetensors.index.json", INDEX_TWO_SHARDS, strlen(INDEX_TWO_SHARDS)));
    st_model m;
    grpo_err e = {0};
    CU_ASSERT_EQUAL(st_model_open(&m, dir, &e), GRPO_EIO);
    CU_ASSERT_TRUE(contains(e.msg, "model-00002-of-00002.safetensors"));
    CU_ASSERT_EQUAL(m.nfiles, 0);
    rmdir_free(dir);
}

static void test_model_without_index_opens_model_safetensors(void) {
    char *dir = tu_tmpdir("st");
    const char *names[2] = {"x", "y"};
    write_shard(dir, "model.safetensors", names, 2);
    st_model m;
    grpo_err e = {0};
    CU_ASSERT_EQUAL_FATAL(st_model_open(&m, dir, &e), GRPO_OK);
    CU_ASSERT_EQUAL(m.nfiles, 1);
    CU_ASSERT_PTR_NOT_NULL(st_model_find(&m, "y", NULL));
    st_model_close(&m);
    rmdir_free(dir);
}

static void test_model_dir_without_weights_is_an_error(void) {
    char *dir = tu_tmpdir("st");
    st_model m;
    grpo_err e = {0};
    CU_ASSERT_EQUAL(st_model_open(&m, dir, &e), GRPO_EIO);
    CU_ASSERT_TRUE(contains(e.msg, dir));
    CU_ASSERT_TRUE(contains(e.msg, "no model.safetensors or model.safetensors.index.json"));
    rmdir_free(dir);
}

/* ---- malformed files ---- */

static void test_missing_file_is_an_io_error(void) {
    char *dir = tu_tmpdir("st");
    char path[4096];
    snprintf(path, sizeof path, "%s/nope.safetensors", dir);
    st_file f;
    grpo_err e = {0};
    CU_ASSERT_EQUAL(st_open(&f, path, &e), GRPO_EIO);
    CU_ASSERT_TRUE(contains(e.msg, path));
    CU_ASSERT_TRUE(contains(e.msg, "cannot open"));
    st_close(&f);
    rmdir_free(dir);
}

static void test_file_shorter_than_8_bytes_is_truncated(void) {
    char *dir = tu_tmpdir("st");
    char *path = tu_write(dir, "bad.safetensors", "\x05\0\0\0\0", 5);
    st_file f;
    grpo_err e = {0};
    CU_ASSERT_EQUAL(st_open(&f, path, &e), GRPO_EFORMAT);
    CU_ASSERT_TRUE(contains(e.msg, path));
    CU_ASSERT_TRUE(contains(e.msg, "truncated: 5 bytes, need at least 8 for the header length"));
    free(path);
    path = tu_write(dir, "empty.safetensors", "", 0);
    CU_ASSERT_EQUAL(st_open(&f, path, &e), GRPO_EFORMAT);
    CU_ASSERT_TRUE(contains(e.msg, "truncated: 0 bytes"));
    free(path);
    rmdir_free(dir);
}

static void test_header_length_beyond_file_is_rejected(void) {
    char *dir = tu_tmpdir("st");
    uint8_t b[20] = {0};
    uint64_t n = 1000;
    memcpy(b, &n, 8);
    b[8] = '{';
    b[9] = '}';
    char *path = tu_write(dir, "bad.safetensors", b, sizeof b);
    st_file f;
    grpo_err e = {0};
    CU_ASSERT_EQUAL(st_open(&f, path, &e), GRPO_EFORMAT);
    CU_ASSERT_TRUE(contains(e.msg, path));
    CU_ASSERT_TRUE(contains(e.msg, "header length 1000 exceeds file size"));
    free(path);
    rmdir_free(dir);
}

static void test_header_length_over_100MB_is_rejected(void) {
    size_t hlen = 100u * 1000 * 1000 + 1;
    uint8_t *b = calloc(8 + hlen, 1);
    CU_ASSERT_PTR_NOT_NULL_FATAL(b);
    uint64_t n = hlen;
    memcpy(b, &n, 8);
    st_file f;
    grpo_err e = {0};
    CU_ASSERT_EQUAL(st_parse(&f, b, 8 + hlen, "huge", &e), GRPO_EFORMAT);
    CU_ASSERT_TRUE(contains(e.msg, "huge: header length 100000001 exceeds the limit"));
    free(b);
}

static void test_header_not_json_is_rejected(void) {
    expect_open_error("{\"a\": {\"dtype\": ", NULL, 0, GRPO_EFORMAT, "header is not valid JSON");
}

static void test_header_not_an_object_is_rejected(void) {
    expect_open_error("[1, 2, 3]", NULL, 0, GRPO_EFORMAT, "header does not start with '{'");
    expect_open_error(" {}", NULL, 0, GRPO_EFORMAT, "header does not start with '{'");
}

static void test_entry_that_is_not_an_object_is_rejected(void) {
    expect_open_error("{\"a\": 3}", NULL, 0, GRPO_EFORMAT, "tensor 'a': entry is not an object");
}

static void test_offset_out_of_range_is_rejected(void) {
    float x[1] = {1};
    expect_open_error("{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", x, sizeof x,
                      GRPO_EFORMAT, "tensor 'w': data_offsets [0, 8] offset out of range");
}

static void test_offsets_with_begin_after_end_are_rejected(void) {
    float x[2] = {1, 2};
    expect_open_error("{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,4]}}", x, sizeof x,
                      GRPO_EFORMAT, "tensor 'w': data_offsets [8, 4] has begin > end");
}

static void test_missing_data_offsets_is_rejected(void) {
    expect_open_error("{\"w\":{\"dtype\":\"F32\",\"shape\":[0]}}", NULL, 0, GRPO_EFORMAT,
                      "tensor 'w': data_offsets must be [begin, end]");
}

static void test_shape_bytes_mismatch_is_rejected(void) {
    uint8_t d[12] = {0};
    expect_open_error("{\"w\":{\"dtype\":\"BF16\",\"shape\":[2,3],\"data_offsets\":[0,10]}}", d, sizeof d,
                      GRPO_EFORMAT, "tensor 'w': shape/bytes mismatch: shape [2, 3] of BF16 needs 12 bytes, offsets give 10");
}

static void test_overlapping_tensors_are_rejected(void) {
    float x[3] = {1, 2, 3};
    expect_open_error("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                      "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}",
                      x, sizeof x, GRPO_EFORMAT, "tensor 'b': bytes [4, 12) overlap tensor 'a'");
}

static void test_unknown_dtype_is_rejected(void) {
    uint8_t d[2] = {0};
    expect_open_error("{\"q\":{\"dtype\":\"Q4\",\"shape\":[2],\"data_offsets\":[0,2]}}", d, sizeof d,
                      GRPO_EFORMAT, "tensor 'q': unknown dtype 'Q4'");
}

static void test_negative_shape_entry_is_rejected(void) {
    expect_open_error("{\"w\":{\"dtype\":\"F32\",\"shape\":[2,-1],\"data_offsets\":[0,0]}}", NULL, 0,
                      GRPO_EFORMAT, "tensor 'w': shape[1] is negative (-1)");
}

static void test_non_integer_shape_entry_is_rejected(void) {
    expect_open_error("{\"w\":{\"dtype\":\"F32\",\"shape\":[2.0],\"data_offsets\":[0,8]}}", NULL, 0,
                      GRPO_EFORMAT, "tensor 'w': shape[0] is not an integer");
}

static void test_shape_with_more_than_max_dims_is_rejected(void) {
    expect_open_error("{\"w\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,1,1,1,1,1],\"data_offsets\":[0,0]}}", NULL, 0,
                      GRPO_EFORMAT, "tensor 'w': shape has 9 dims, at most 8 supported");
}

static void test_shape_whose_product_overflows_is_rejected(void) {
    expect_open_error("{\"w\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296,16],\"data_offsets\":[0,0]}}",
                      NULL, 0, GRPO_EFORMAT, "tensor 'w': shape [4294967296, 4294967296, 16] overflows");
}

static void test_metadata_with_non_string_value_is_rejected(void) {
    expect_open_error("{\"__metadata__\":{\"n\":1}}", NULL, 0, GRPO_EFORMAT, "__metadata__ 'n' is not a string");
}

static void test_every_prefix_of_a_valid_file_is_rejected(void) {
    char *dir = tu_tmpdir("st");
    char path[4096];
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    float a[3] = {1, 2, 3}, b[2] = {4, 5};
    st_write_item items[2] = {
        {.name = "a", .data = a, .ndim = 1, .shape = {3}},
        {.name = "b", .data = b, .ndim = 2, .shape = {1, 2}},
    };
    grpo_err e = {0};
    CU_ASSERT_EQUAL_FATAL(st_write(path, items, 2, ST_BF16, &e), GRPO_OK);
    char *buf;
    size_t len;
    CU_ASSERT_EQUAL_FATAL(fs_read_file(path, &buf, &len, &e), GRPO_OK);
    st_file f;
    CU_ASSERT_EQUAL(st_parse(&f, (const uint8_t *)buf, len, "whole", &e), GRPO_OK);
    st_close(&f);
    int rejected = 0;
    for (size_t l = 0; l < len; l++) {
        uint8_t *p = malloc(l ? l : 1); /* exact-size copy so an over-read is caught by the sanitizer */
        memcpy(p, buf, l);
        if (st_parse(&f, p, l, "prefix", &e) != GRPO_OK && f.n == 0 && contains(e.msg, "prefix: ")) rejected++;
        st_close(&f);
        free(p);
    }
    CU_ASSERT_EQUAL(rejected, (int)len);
    free(buf);
    rmdir_free(dir);
}

/* ---- registration ---- */

int register_safetensors_suite(void) {
    static const struct {
        const char *name;
        CU_TestFunc fn;
    } tests[] = {
#define T(f) {#f, f}
        T(test_write_then_read_f32_round_trips_exactly),
        T(test_write_then_read_bf16_round_trips_representable_values_exactly),
        T(test_write_bf16_rounds_a_non_representable_value_to_nearest_even),
        T(test_f32_to_bf16_keeps_nan_quiet_and_rounds_overflow_to_inf),
        T(test_write_pads_header_so_data_starts_at_a_multiple_of_8),
        T(test_write_rejects_duplicate_names_and_leaves_no_file),
        T(test_write_rejects_dtypes_other_than_f32_and_bf16),
        T(test_write_rejects_negative_shape),
        T(test_write_accepts_scalars_and_empty_tensors),
        T(test_read_f16_converts_normals_subnormals_infinities_and_nan),
        T(test_read_f64_and_unaligned_f32_convert),
        T(test_to_f32_on_i32_is_unsupported),
        T(test_zero_size_tensors_may_share_offsets_with_others),
        T(test_metadata_of_strings_is_skipped),
        T(test_sharded_model_reads_tensors_from_both_shards),
        T(test_index_naming_a_tensor_missing_from_its_shard_is_rejected),
        T(test_index_with_a_shard_path_outside_the_directory_is_rejected),
        T(test_index_naming_a_missing_shard_file_is_rejected),
        T(test_model_without_index_opens_model_safetensors),
        T(test_model_dir_without_weights_is_an_error),
        T(test_missing_file_is_an_io_error),
        T(test_file_shorter_than_8_bytes_is_truncated),
        T(test_header_length_beyond_file_is_rejected),
        T(test_header_length_over_100MB_is_rejected),
        T(test_header_not_json_is_rejected),
        T(test_header_not_an_object_is_rejected),
        T(test_entry_that_is_not_an_object_is_rejected),
        T(test_offset_out_of_range_is_rejected),
        T(test_offsets_with_begin_after_end_are_rejected),
        T(test_missing_data_offsets_is_rejected),
        T(test_shape_bytes_mismatch_is_rejected),
        T(test_overlapping_tensors_are_rejected),
        T(test_unknown_dtype_is_rejected),
        T(test_negative_shape_entry_is_rejected),
        T(test_non_integer_shape_entry_is_rejected),
        T(test_shape_with_more_than_max_dims_is_rejected),
        T(test_shape_whose_product_overflows_is_rejected),
        T(test_metadata_with_non_string_value_is_rejected),
        T(test_every_prefix_of_a_valid_file_is_rejected),
#undef T
    };
    CU_pSuite s = CU_add_suite("safetensors", NULL, NULL);
    if (!s) return -1;
    for (size_t i = 0; i < sizeof tests / sizeof tests[0]; i++)
        if (!CU_add_test(s, tests[i].name, tests[i].fn)) return -1;
    return 0;
}
