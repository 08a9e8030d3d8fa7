/* policy/safetensors.c: reading (mmap + full validation), sharded models through
 * model.safetensors.index.json, fp16/bf16/f64 -> fp32 conversion, and atomic writing
 * in the transformers layout. Sections follow the data: dtypes, conversions, header
 * validation, files, models, writing. The format is little-endian; so is every host we
 * build for (checked below), so tensor bytes are copied without swapping. */
#include "safetensors.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../common/fsutil.h"
#include "../common/strbuf.h"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "safetensors.c assumes a little-endian host"
#endif

/* Headers larger than this are rejected before parsing (real ones are a few MB at most). */
#define ST_MAX_HEADER ((uint64_t)100 * 1000 * 1000)

/* ---- dtypes ---- */

typedef void (*st_conv_fn)(const uint8_t *src, float *dst, size_t n);

static void conv_f32(const uint8_t *src, float *dst, size_t n);
static void conv_f16(const uint8_t *src, float *dst, size_t n);
static void conv_bf16(const uint8_t *src, float *dst, size_t n);
static void conv_f64(const uint8_t *src, float *dst, size_t n);

static const struct {
    const char *name;
    size_t size;
    st_conv_fn to_f32; /* NULL: not convertible to fp32 */
} st_dtypes[ST_NDTYPES] = {
    [ST_F32] = {"F32", 4, conv_f32},   [ST_F16] = {"F16", 2, conv_f16},
    [ST_BF16] = {"BF16", 2, conv_bf16}, [ST_F64] = {"F64", 8, conv_f64},
    [ST_I64] = {"I64", 8, NULL},       [ST_I32] = {"I32", 4, NULL},
    [ST_I16] = {"I16", 2, NULL},       [ST_I8] = {"I8", 1, NULL},
    [ST_U8] = {"U8", 1, NULL},         [ST_BOOL] = {"BOOL", 1, NULL},
};

size_t st_dtype_size(st_dtype d) {
    return (unsigned)d < ST_NDTYPES ? st_dtypes[d].size : 0;
}

const char *st_dtype_name(st_dtype d) {
    return (unsigned)d < ST_NDTYPES ? st_dtypes[d].name : "?";
}

/* The dtype called name, or -1. */
static int dtype_from_name(const char *name) {
    for (int d = 0; d < ST_NDTYPES; d++)
        if (strcmp(st_dtypes[d].name, name) == 0) return d;
    return -1;
}

/* ---- scalar conversions ---- */

/* The IEEE bits of f. */
static uint32_t f32_bits(float f) {
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

/* The float whose IEEE bits are u. */
static float bits_f32(uint32_t u) {
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

float st_bf16_to_f32(uint16_t h) {
    return bits_f32((uint32_t)h << 16);
}

uint16_t st_f32_to_bf16(float f) {
    uint32_t u = f32_bits(f);
    if ((u & 0x7fffffffu) > 0x7f800000u)           /* NaN: keep sign and top payload, force quiet */
        return (uint16_t)((u >> 16) | 0x0040u);
    uint32_t bias = 0x7fffu + ((u >> 16) & 1u);     /* round half to even */
    return (uint16_t)((u + bias) >> 16);
}

float st_f16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t exp = (h >> 10) & 0x1fu;
    uint32_t mant = h & 0x3ffu;
    if (exp == 0x1f)                                 /* inf / NaN (payload kept) */
        return bits_f32(sign | 0x7f800000u | (mant << 13));
    if (exp == 0) {
        if (mant == 0) return bits_f32(sign);        /* signed zero */
        int e = 1;                                   /* subnormal: normalize the mantissa */
        while (!(mant & 0x400u)) {
            mant <<= 1;
            e--;
        }
        mant &= 0x3ffu;
        return bits_f32(sign | ((uint32_t)(e - 15 + 127) << 23) | (mant << 13));
    }
    return bits_f32(sign | ((exp - 15 + 127) << 23) | (mant << 13));
}

/* ---- buffer conversions (source may be unaligned) ---- */

/* Each conv_X converts n little-endian X values at src into dst. */
static void conv_f32(const uint8_t *src, float *dst, size_t n) {
    if (n) memcpy(dst, src, n * sizeof(float));
}

static void conv_f16(const uint8_t *src, float *dst, size_t n) {
    for (size_t i = 0; i < n; i++) {
        uint16_t h;
        memcpy(&h, src + 2 * i, 2);
        dst[i] = st_f16_to_f32(h);
    }
}

static void conv_bf16(const uint8_t *src, float *dst, size_t n) {
    for (size_t i = 0; i < n; i++) {
        uint16_t h;
        memcpy(&h, src + 2 * i, 2);
        dst[i] = st_bf16_to_f32(h);
    }
}

static void conv_f64(const uint8_t *src, float *dst, size_t n) {
    for (size_t i = 0; i < n; i++) {
        double d;
        memcpy(&d, src + 8 * i, 8);
        dst[i] = (float)d;
    }
}

int st_to_f32(const st_tensor *t, float *out, grpo_err *err) {
    if ((unsigned)t->dtype >= ST_NDTYPES || !st_dtypes[t->dtype].to_f32)
        return grpo_errf(err, GRPO_EUNSUPPORTED, "tensor '%s': dtype %s cannot be converted to F32",
                         t->name ? t->name : "?", st_dtype_name(t->dtype));
    st_dtypes[t->dtype].to_f32(t->data, out, t->numel);
    return GRPO_OK;
}

/* ---- header validation ---- */

/* Writes "[d0, d1, ...]" into buf (cut at cap). */
static void format_shape(char *buf, size_t cap, const int64_t *shape, int ndim) {
    size_t k = 0;
    int rc = sb_catf(buf, cap, &k, "[");
    for (int i = 0; i < ndim && !rc; i++) rc = sb_catf(buf, cap, &k, "%s%lld", i ? ", " : "", (long long)shape[i]);
    if (!rc) sb_catf(buf, cap, &k, "]");
}

/* Reads a JSON integer >= 0 into *out; 0 on success, -1 when v is not one. */
static int json_nonneg(const json_t *v, uint64_t *out) {
    if (!json_is_integer(v) || json_integer_value(v) < 0) return -1;
    *out = (uint64_t)json_integer_value(v);
    return 0;
}

/* Validates one tensor entry of the header and fills t (except name). */
static int parse_entry(const char *file, const char *key, const json_t *v, const uint8_t *data,
                       size_t data_len, st_tensor *t, grpo_err *err) {
    if (!json_is_object(v))
        return grpo_errf(err, GRPO_EFORMAT, "%s: tensor '%s': entry is not an object", file, key);

    const json_t *jd = json_object_get(v, "dtype");
    if (!json_is_string(jd))
        return grpo_errf(err, GRPO_EFORMAT, "%s: tensor '%s': dtype is missing or not a string", file, key);
    int d = dtype_from_name(json_string_value(jd));
    if (d < 0)
        return grpo_errf(err, GRPO_EFORMAT, "%s: tensor '%s': unknown dtype '%s'", file, key,
                         json_string_value(jd));
    t->dtype = (st_dtype)d;

    const json_t *js = json_object_get(v, "shape");
    if (!json_is_array(js))
        return grpo_errf(err, GRPO_EFORMAT, "%s: tensor '%s': shape is missing or not an array", file, key);
    size_t ndim = json_array_size(js);
    if (ndim > ST_MAX_DIMS)
        return grpo_errf(err, GRPO_EFORMAT, "%s: tensor '%s': shape has %zu dims, at most %d supported",
                         file, key, ndim, ST_MAX_DIMS);
    t->ndim = (int)ndim;
    int has_zero = 0;
    for (size_t i = 0; i < ndim; i++) {
        const json_t *e = json_array_get(js, i);
        uint64_t dim;
        if (json_nonneg(e, &dim) != 0) {
            if (json_is_integer(e))
                return grpo_errf(err, GRPO_EFORMAT, "%s: tensor '%s': shape[%zu] is negative (%lld)",
                                 file, key, i, (long long)json_integer_value(e));
            return grpo_errf(err, GRPO_EFORMAT, "%s: tensor '%s': shape[%zu] is not an integer",
                             file, key, i);
        }
        t->shape[i] = (int64_t)dim;
        if (dim == 0) has_zero = 1;
    }
    char shp[256];
    format_shape(shp, sizeof shp, t->shape, t->ndim);
    size_t esize = st_dtypes[d].size;
    size_t numel = has_zero ? 0 : 1; /* a zero dim makes the product 0 whatever the others are */
    for (size_t i = 0; i < ndim && numel; i++) {
        uint64_t dim = (uint64_t)t->shape[i];
        if (dim > SIZE_MAX / esize / numel)
            return grpo_errf(err, GRPO_EFORMAT, "%s: tensor '%s': shape %s overflows", file, key, shp);
        numel *= (size_t)dim;
    }
    t->numel = numel;

    const json_t *jo = json_object_get(v, "data_offsets");
    uint64_t begin, end;
    if (!json_is_array(jo) || json_array_size(jo) != 2 || json_nonneg(json_array_get(jo, 0), &begin) != 0 ||
        json_nonneg(json_array_get(jo, 1), &end) != 0)
        return grpo_errf(err, GRPO_EFORMAT,
                         "%s: tensor '%s': data_offsets must be [begin, end] with non-negative integers",
                         file, key);
    if (begin > end)
        return grpo_errf(err, GRPO_EFORMAT, "%s: tensor '%s': data_offsets [%llu, %llu] has begin > end",
                         file, key, (unsigned long long)begin, (unsigned long long)end);
    if (end > data_len)
        return grpo_errf(err, GRPO_EFORMAT,
                         "%s: tensor '%s': data_offsets [%llu, %llu] offset out of range (data buffer is %zu bytes)",
                         file, key, (unsigned long long)begin, (unsigned long long)end, data_len);
    size_t need = numel * esize;
    if ((uint64_t)need != end - begin)
        return grpo_errf(err, GRPO_EFORMAT,
                         "%s: tensor '%s': shape/bytes mismatch: shape %s of %s needs %zu bytes, offsets give %llu",
                         file, key, shp, st_dtypes[d].name, need, (unsigned long long)(end - begin));
    t->offset = (size_t)begin;
    t->nbytes = need;
    t->data = data + begin;
    return GRPO_OK;
}

/* Checks that "__metadata__" is an object of strings. */
static int check_metadata(const char *file, const json_t *meta, grpo_err *err) {
    if (!json_is_object(meta))
        return grpo_errf(err, GRPO_EFORMAT, "%s: __metadata__ is not an object", file);
    const char *k;
    const json_t *v;
    json_object_foreach((json_t *)meta, k, v) {
        if (!json_is_string(v))
            return grpo_errf(err, GRPO_EFORMAT, "%s: __metadata__ '%s' is not a string", file, k);
    }
    return GRPO_OK;
}

/* qsort order of st_tensor by name. */
static int cmp_by_name(const void *a, const void *b) {
    return strcmp(((const st_tensor *)a)->name, ((const st_tensor *)b)->name);
}

/* qsort order of st_tensor pointers by offset, then name. */
static int cmp_by_offset(const void *a, const void *b) {
    const st_tensor *x = *(const st_tensor *const *)a, *y = *(const st_tensor *const *)b;
    if (x->offset != y->offset) return x->offset < y->offset ? -1 : 1;
    return strcmp(x->name, y->name);
}

/* Fails when two non-empty tensors share a byte. */
static int check_overlaps(const char *file, st_tensor *ts, size_t n, grpo_err *err) {
    st_tensor **by = malloc((n ? n : 1) * sizeof *by);
    if (!by) return grpo_errf(err, GRPO_ENOMEM, "%s: out of memory", file);
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (ts[i].nbytes > 0) by[k++] = &ts[i];
    qsort(by, k, sizeof *by, cmp_by_offset);
    int rc = GRPO_OK;
    /* sorted by begin: ranges are disjoint exactly when each ends before the next begins */
    for (size_t i = 1; i < k && rc == GRPO_OK; i++) {
        const st_tensor *p = by[i - 1], *q = by[i];
        if (p->offset + p->nbytes > q->offset)
            rc = grpo_errf(err, GRPO_EFORMAT,
                           "%s: tensor '%s': bytes [%zu, %zu) overlap tensor '%s' bytes [%zu, %zu)", file,
                           q->name, q->offset, q->offset + q->nbytes, p->name, p->offset,
                           p->offset + p->nbytes);
    }
    free(by);
    return rc;
}

/* Frees the names, the tensor table and the path of f. */
static void free_table(st_file *f) {
    for (size_t i = 0; i < f->n; i++) free(f->tensors[i].name);
    free(f->tensors);
    free(f->path);
    f->tensors = NULL;
    f->path = NULL;
    f->n = 0;
}

int st_parse(st_file *f, const uint8_t *buf, size_t len, const char *name, grpo_err *err) {
    memset(f, 0, sizeof *f);
    if (!name) name = "(buffer)";
    if (len < 8)
        return grpo_errf(err, GRPO_EFORMAT, "%s: truncated: %zu bytes, need at least 8 for the header length",
                         name, len);
    uint64_t hlen;
    memcpy(&hlen, buf, 8);
    if (hlen > len - 8)
        return grpo_errf(err, GRPO_EFORMAT, "%s: header length %llu exceeds file size (%zu bytes)", name,
                         (unsigned long long)hlen, len);
    if (hlen > ST_MAX_HEADER)
        return grpo_errf(err, GRPO_EFORMAT, "%s: header length %llu exceeds the limit of %llu bytes", name,
                         (unsigned long long)hlen, (unsigned long long)ST_MAX_HEADER);
    if (hlen == 0 || buf[8] != '{')
        return grpo_errf(err, GRPO_EFORMAT, "%s: header does not start with '{'", name);

    json_error_t je;
    json_t *root = json_loadb((const char *)buf + 8, (size_t)hlen, 0, &je);
    if (!root)
        return grpo_errf(err, GRPO_EFORMAT, "%s: header is not valid JSON: %s (line %d, column %d, byte %d)",
                         name, je.text, je.line, je.column, je.position);
    if (!json_is_object(root)) {
        json_decref(root);
        return grpo_errf(err, GRPO_EFORMAT, "%s: header is not a JSON object", name);
    }

    const uint8_t *data = buf + 8 + hlen;
    size_t data_len = len - 8 - (size_t)hlen;
    size_t cap = json_object_size(root);
    int rc = GRPO_OK;
    f->path = strdup(name);
    f->tensors = calloc(cap ? cap : 1, sizeof *f->tensors);
    if (!f->path || !f->tensors) rc = grpo_errf(err, GRPO_ENOMEM, "%s: out of memory", name);

    const char *key;
    json_t *v;
    json_object_foreach(root, key, v) {
        if (rc != GRPO_OK) break;
        if (strcmp(key, "__metadata__") == 0) {
            rc = check_metadata(name, v, err);
            continue;
        }
        st_tensor *t = &f->tensors[f->n];
        rc = parse_entry(name, key, v, data, data_len, t, err);
        if (rc != GRPO_OK) break;
        t->name = strdup(key);
        if (!t->name) {
            rc = grpo_errf(err, GRPO_ENOMEM, "%s: out of memory", name);
            break;
        }
        f->n++;
    }
    json_decref(root);
    if (rc == GRPO_OK) rc = check_overlaps(name, f->tensors, f->n, err);
    if (rc != GRPO_OK) {
        free_table(f);
        memset(f, 0, sizeof *f);
        return rc;
    }
    qsort(f->tensors, f->n, sizeof *f->tensors, cmp_by_name);
    return GRPO_OK;
}

/* ---- files ---- */

int st_open(st_file *f, const char *path, grpo_err *err) {
    memset(f, 0, sizeof *f);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return grpo_errf(err, GRPO_EIO, "%s: cannot open: %s", path, strerror(errno));
    struct stat sb;
    if (fstat(fd, &sb) != 0) {
        int e = errno;
        close(fd);
        return grpo_errf(err, GRPO_EIO, "%s: cannot stat: %s", path, strerror(e));
    }
    if (!S_ISREG(sb.st_mode)) {
        close(fd);
        return grpo_errf(err, GRPO_EIO, "%s: not a regular file", path);
    }
    size_t len = (size_t)sb.st_size;
    uint8_t *map = NULL;
    if (len > 0) {
        void *p = mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0);
        if (p == MAP_FAILED) {
            int e = errno;
            close(fd);
            return grpo_errf(err, GRPO_EIO, "%s: cannot mmap %zu bytes: %s", path, len, strerror(e));
        }
        map = p;
    }
    close(fd);
    static const uint8_t empty[1];
    int rc = st_parse(f, map ? map : empty, len, path, err);
    if (rc != GRPO_OK) {
        if (map) munmap(map, len);
        return rc;
    }
    f->map = map;
    f->map_len = len;
    return GRPO_OK;
}

void st_close(st_file *f) {
    if (!f) return;
    if (f->map) munmap(f->map, f->map_len);
    free_table(f);
    memset(f, 0, sizeof *f);
}

const st_tensor *st_find(const st_file *f, const char *name) {
    size_t lo = 0, hi = f->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(f->tensors[mid].name, name);
        if (c == 0) return &f->tensors[mid];
        if (c < 0) lo = mid + 1;
        else hi = mid;
    }
    return NULL;
}

/* ---- models (single file or sharded) ---- */

/* Joins dir and name into out; fails when it does not fit. */
static int join_path(char *out, size_t cap, const char *dir, const char *name, grpo_err *err) {
    int k = snprintf(out, cap, "%s/%s", dir, name);
    if (k < 0 || (size_t)k >= cap) return grpo_errf(err, GRPO_EINVAL, "%s: path too long", dir);
    return GRPO_OK;
}

/* Opens every shard the index at idx names and checks the weight_map against them. */
static int open_index(st_model *m, const char *dir, const char *idx, grpo_err *err) {
    char *text;
    size_t len;
    int rc = fs_read_file(idx, &text, &len, err);
    if (rc) return rc;
    json_error_t je;
    json_t *root = json_loadb(text, len, 0, &je);
    free(text);
    if (!root)
        return grpo_errf(err, GRPO_EFORMAT, "%s: not valid JSON: %s (line %d, column %d)", idx, je.text,
                         je.line, je.column);
    json_t *wm = json_object_get(root, "weight_map");
    json_t *shard_ids = json_object(); /* shard file name -> index into shards[] */
    const char **shards = calloc(json_object_size(wm) + 1, sizeof *shards);
    size_t nshards = 0;
    if (!shard_ids || !shards) rc = grpo_errf(err, GRPO_ENOMEM, "%s: out of memory", idx);
    else if (!json_is_object(wm))
        rc = grpo_errf(err, GRPO_EFORMAT, "%s: weight_map is missing or not an object", idx);
    else if (json_object_size(wm) == 0)
        rc = grpo_errf(err, GRPO_EFORMAT, "%s: weight_map is empty", idx);

    const char *key;
    json_t *v;
    if (rc == GRPO_OK) json_object_foreach(wm, key, v) {
        const char *s = json_string_value(v);
        if (!s) {
            rc = grpo_errf(err, GRPO_EFORMAT, "%s: weight_map '%s' is not a string", idx, key);
            break;
        }
        if (!*s || strchr(s, '/') || strstr(s, "..")) {
            rc = grpo_errf(err, GRPO_EFORMAT, "%s: weight_map '%s': shard name '%s' is not a plain file name",
                           idx, key, s);
            break;
        }
        if (!json_object_get(shard_ids, s)) {
            if (json_object_set_new(shard_ids, s, json_integer((json_int_t)nshards)) != 0) {
                rc = grpo_errf(err, GRPO_ENOMEM, "%s: out of memory", idx);
                break;
            }
            shards[nshards++] = s;
        }
    }

    if (rc == GRPO_OK) {
        m->files = calloc(nshards, sizeof *m->files);
        if (!m->files) rc = grpo_errf(err, GRPO_ENOMEM, "%s: out of memory", idx);
    }
    for (size_t i = 0; rc == GRPO_OK && i < nshards; i++) {
        char path[4096];
        rc = join_path(path, sizeof path, dir, shards[i], err);
        if (rc == GRPO_OK) rc = st_open(&m->files[i], path, err);
        if (rc == GRPO_OK) m->nfiles++;
    }
    if (rc == GRPO_OK) json_object_foreach(wm, key, v) {
        const char *s = json_string_value(v);
        size_t i = (size_t)json_integer_value(json_object_get(shard_ids, s));
        if (!st_find(&m->files[i], key)) {
            rc = grpo_errf(err, GRPO_EFORMAT, "%s: tensor '%s' is mapped to shard '%s' but is not in it", idx,
                           key, s);
            break;
        }
    }
    free(shards);
    json_decref(shard_ids);
    json_decref(root);
    if (rc != GRPO_OK) st_model_close(m);
    return rc;
}

int st_model_open(st_model *m, const char *dir, grpo_err *err) {
    memset(m, 0, sizeof *m);
    char idx[4096], single[4096];
    int rc = join_path(idx, sizeof idx, dir, "model.safetensors.index.json", err);
    if (rc == GRPO_OK) rc = join_path(single, sizeof single, dir, "model.safetensors", err);
    if (rc) return rc;
    if (fs_exists(idx)) return open_index(m, dir, idx, err);
    if (!fs_exists(single))
        return grpo_errf(err, GRPO_EIO, "%s: no model.safetensors or model.safetensors.index.json", dir);
    m->files = calloc(1, sizeof *m->files);
    if (!m->files) return grpo_errf(err, GRPO_ENOMEM, "%s: out of memory", dir);
    rc = st_open(&m->files[0], single, err);
    if (rc) {
        st_model_close(m);
        return rc;
    }
    m->nfiles = 1;
    return GRPO_OK;
}

void st_model_close(st_model *m) {
    if (!m) return;
    for (size_t i = 0; i < m->nfiles; i++) st_close(&m->files[i]);
    free(m->files);
    m->files = NULL;
    m->nfiles = 0;
}

const st_tensor *st_model_find(const st_model *m, const char *name, const st_file **file) {
    for (size_t i = 0; i < m->nfiles; i++) {
        const st_tensor *t = st_find(&m->files[i], name);
        if (t) {
            if (file) *file = &m->files[i];
            return t;
        }
    }
    if (file) *file = NULL;
    return NULL;
}

/* ---- writing ---- */

/* Elements converted per write call when writing BF16. */
#define ST_WRITE_CHUNK ((size_t)1 << 20)

/* qsort order of st_write_item pointers by name. */
static int cmp_item_names(const void *a, const void *b) {
    return strcmp((*(const st_write_item *const *)a)->name, (*(const st_write_item *const *)b)->name);
}

/* Checks one item and computes its element count. */
static int check_item(const char *path, const st_write_item *it, size_t esize, size_t *numel, grpo_err *err) {
    if (strcmp(it->name, "__metadata__") == 0)
        return grpo_errf(err, GRPO_EINVAL, "%s: tensor name '__metadata__' is reserved", path);
    if (it->ndim < 0 || it->ndim > ST_MAX_DIMS)
        return grpo_errf(err, GRPO_EINVAL, "%s: tensor '%s': ndim %d outside 0..%d", path, it->name, it->ndim,
                         ST_MAX_DIMS);
    size_t n = 1;
    int zero = 0, overflow = 0;
    for (int d = 0; d < it->ndim; d++) {
        if (it->shape[d] < 0)
            return grpo_errf(err, GRPO_EINVAL, "%s: tensor '%s': shape[%d] is negative (%lld)", path, it->name,
                             d, (long long)it->shape[d]);
        uint64_t s = (uint64_t)it->shape[d];
        if (s == 0) zero = 1;
        else if (n > SIZE_MAX / s) overflow = 1;
        else n *= (size_t)s;
    }
    if (zero) n = 0;
    else if (overflow || n > SIZE_MAX / esize)
        return grpo_errf(err, GRPO_EINVAL, "%s: tensor '%s': shape overflows", path, it->name);
    if (n > 0 && !it->data)
        return grpo_errf(err, GRPO_EINVAL, "%s: tensor '%s': data is NULL", path, it->name);
    *numel = n;
    return GRPO_OK;
}

/* Builds the JSON header for the items in order (numel[k] belongs to order[k]) into *out (malloc'd). */
static int build_header(const char *path, const st_write_item *const *order, const size_t *numel, size_t n,
                        st_dtype dtype, char **out, grpo_err *err) {
    *out = NULL;
    json_t *root = json_object(), *meta = json_object();
    if (!root || !meta || json_object_set_new(root, "__metadata__", meta) != 0 ||
        json_object_set_new(meta, "format", json_string("pt")) != 0) {
        json_decref(root);
        return grpo_errf(err, GRPO_ENOMEM, "%s: out of memory", path);
    }
    size_t off = 0;
    int rc = GRPO_OK;
    for (size_t k = 0; k < n && rc == GRPO_OK; k++) {
        const st_write_item *it = order[k];
        size_t nb = numel[k] * st_dtypes[dtype].size;
        if (off > (size_t)INT64_MAX - nb) {
            rc = grpo_errf(err, GRPO_EINVAL, "%s: total tensor bytes overflow", path);
            break;
        }
        json_t *shape = json_array();
        for (int d = 0; shape && d < it->ndim; d++)
            if (json_array_append_new(shape, json_integer(it->shape[d])) != 0) {
                json_decref(shape);
                shape = NULL;
            }
        json_t *e = json_pack("{s:s, s:o, s:[I,I]}", "dtype", st_dtypes[dtype].name, "shape", shape,
                              "data_offsets", (json_int_t)off, (json_int_t)(off + nb));
        if (!e) {
            rc = grpo_errf(err, GRPO_ENOMEM, "%s: out of memory", path);
            break;
        }
        if (json_object_set_new(root, it->name, e) != 0)
            rc = grpo_errf(err, GRPO_EINVAL, "%s: tensor name '%s' is not valid UTF-8", path, it->name);
        off += nb;
    }
    if (rc == GRPO_OK) {
        *out = json_dumps(root, JSON_COMPACT | JSON_PRESERVE_ORDER);
        if (!*out) rc = grpo_errf(err, GRPO_ENOMEM, "%s: out of memory", path);
    }
    json_decref(root);
    return rc;
}

/* Streams one tensor's data to w as dtype, converting through buf for BF16. */
static int write_data(fs_atomic *w, const float *x, size_t n, st_dtype dtype, uint16_t *buf, grpo_err *err) {
    if (dtype == ST_F32) return n ? fs_atomic_write(w, x, n * sizeof(float), err) : GRPO_OK;
    for (size_t i = 0; i < n; i += ST_WRITE_CHUNK) {
        size_t m = n - i < ST_WRITE_CHUNK ? n - i : ST_WRITE_CHUNK;
        for (size_t j = 0; j < m; j++) buf[j] = st_f32_to_bf16(x[i + j]);
        int rc = fs_atomic_write(w, buf, m * sizeof *buf, err);
        if (rc) return rc;
    }
    return GRPO_OK;
}

/* Writes the length, the space-padded header and the data of every item in order to path.tmp, then commits. */
static int write_file(const char *path, const char *hdr, const st_write_item *const *order, const size_t *numel,
                      size_t n, st_dtype dtype, uint16_t *buf, grpo_err *err) {
    size_t hlen = strlen(hdr);
    size_t pad = (8 - (8 + hlen) % 8) % 8;
    uint64_t total = (uint64_t)(hlen + pad);
    static const char spaces[8] = "        ";
    fs_atomic w;
    int rc = fs_atomic_open(&w, path, err);
    if (rc) return rc;
    rc = fs_atomic_write(&w, &total, 8, err);
    if (rc == GRPO_OK) rc = fs_atomic_write(&w, hdr, hlen, err);
    if (rc == GRPO_OK && pad) rc = fs_atomic_write(&w, spaces, pad, err);
    for (size_t k = 0; rc == GRPO_OK && k < n; k++)
        rc = write_data(&w, order[k]->data, numel[k], dtype, buf, err);
    if (rc == GRPO_OK) rc = fs_atomic_commit(&w, err);
    return rc; /* a failed fs_atomic_write has already removed path.tmp */
}

int st_write(const char *path, const st_write_item *items, size_t n, st_dtype dtype, grpo_err *err) {
    if (dtype != ST_F32 && dtype != ST_BF16)
        return grpo_errf(err, GRPO_EUNSUPPORTED, "%s: cannot write dtype %s (only F32 and BF16)", path,
                         st_dtype_name(dtype));
    const st_write_item **order = malloc((n ? n : 1) * sizeof *order);
    size_t *numel = malloc((n ? n : 1) * sizeof *numel);
    uint16_t *buf = dtype == ST_BF16 ? malloc(ST_WRITE_CHUNK * sizeof *buf) : NULL;
    char *hdr = NULL;
    int rc = GRPO_OK;
    if (!order || !numel || (dtype == ST_BF16 && !buf))
        rc = grpo_errf(err, GRPO_ENOMEM, "%s: out of memory", path);
    for (size_t i = 0; rc == GRPO_OK && i < n; i++) {
        order[i] = &items[i];
        if (!items[i].name) rc = grpo_errf(err, GRPO_EINVAL, "%s: item %zu has no name", path, i);
    }
    if (rc == GRPO_OK) qsort(order, n, sizeof *order, cmp_item_names);
    for (size_t k = 0; rc == GRPO_OK && k < n; k++) {
        if (k > 0 && strcmp(order[k - 1]->name, order[k]->name) == 0)
            rc = grpo_errf(err, GRPO_EINVAL, "%s: duplicate tensor name '%s'", path, order[k]->name);
        else
            rc = check_item(path, order[k], st_dtypes[dtype].size, &numel[k], err);
    }
    if (rc == GRPO_OK) rc = build_header(path, order, numel, n, dtype, &hdr, err);
    if (rc == GRPO_OK) rc = write_file(path, hdr, order, numel, n, dtype, buf, err);
    free(hdr);
    free(buf);
    free(numel);
    free(order);
    return rc;
}
