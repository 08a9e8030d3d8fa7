/* policy/safetensors.h: reading and writing the safetensors format.
 *
 * Format: 8-byte little-endian header length N, then N bytes of JSON
 *   {"__metadata__": {...}, "name": {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}, ...}
 * then the data buffer; offsets are relative to the start of the data buffer.
 *
 * Reading mmaps the file and validates everything before any tensor is used:
 * header length, JSON, dtype, shape x dtype size == byte length, offsets inside
 * the buffer, no overlaps. Sharded models are read through model.safetensors.index.json.
 * Writing produces the layout transformers writes (metadata {"format":"pt"},
 * header padded with spaces to a multiple of 8, tensors contiguous in name order). */
#ifndef GRPO_SAFETENSORS_H
#define GRPO_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

#include "../common/err.h"

#define ST_MAX_DIMS 8

typedef enum {
    ST_F32 = 0,
    ST_F16,
    ST_BF16,
    ST_F64,
    ST_I64,
    ST_I32,
    ST_I16,
    ST_I8,
    ST_U8,
    ST_BOOL,
    ST_NDTYPES
} st_dtype;

typedef struct {
    char *name;
    st_dtype dtype;
    int ndim;
    int64_t shape[ST_MAX_DIMS];
    size_t numel;
    size_t offset;        /* from the start of the data buffer */
    size_t nbytes;
    const uint8_t *data;  /* points into the mapping */
} st_tensor;

typedef struct {
    char *path;           /* for error messages */
    uint8_t *map;         /* whole file (mmap), or NULL for st_parse on a caller buffer */
    size_t map_len;
    size_t n;
    st_tensor *tensors;
} st_file;

/* Size in bytes of one element of dtype d. */
size_t st_dtype_size(st_dtype d);
/* Name of dtype d as written in headers ("F32", "BF16", ...). */
const char *st_dtype_name(st_dtype d);

/* Maps and validates the file at path. On error f is left empty (st_close is safe). */
int st_open(st_file *f, const char *path, grpo_err *err);
/* Validates buf[0..len) as a safetensors image; tensors point into buf, which must outlive f.
 * name is used in error messages. This is the fuzz entry point. */
int st_parse(st_file *f, const uint8_t *buf, size_t len, const char *name, grpo_err *err);
/* Releases the mapping and the tensor table. */
void st_close(st_file *f);
/* The tensor called name, or NULL. */
const st_tensor *st_find(const st_file *f, const char *name);
/* Converts t (F32, F16, BF16, F64) into out[0..t->numel) as fp32. */
int st_to_f32(const st_tensor *t, float *out, grpo_err *err);

/* A model's tensors, from model.safetensors or from the shards an index names. */
typedef struct {
    size_t nfiles;
    st_file *files;
} st_model;

/* Opens dir/model.safetensors, or dir/model.safetensors.index.json and every shard it names
 * (checking that every tensor the index maps is in the shard it names). */
int st_model_open(st_model *m, const char *dir, grpo_err *err);
void st_model_close(st_model *m);
/* Finds name in any file; sets *file (when not NULL) to the file holding it. */
const st_tensor *st_model_find(const st_model *m, const char *name, const st_file **file);

/* One tensor to write: fp32 data of numel = product of shape. */
typedef struct {
    const char *name;
    const float *data;
    int ndim;
    int64_t shape[ST_MAX_DIMS];
} st_write_item;

/* Writes items to path as dtype (ST_F32 or ST_BF16, round-to-nearest-even), atomically:
 * to path.tmp, fsync, rename. Names must be unique. */
int st_write(const char *path, const st_write_item *items, size_t n, st_dtype dtype, grpo_err *err);

/* bf16/f16 <-> f32 conversions used by readers and writers. */
float st_bf16_to_f32(uint16_t h);
uint16_t st_f32_to_bf16(float f);
float st_f16_to_f32(uint16_t h);

#endif
