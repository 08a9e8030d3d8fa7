/* common/fsutil.h: small file-system helpers with grpo_err reporting:
 * reading a whole file, atomic whole-file writes (tmp + fsync + rename), directories. */
#ifndef GRPO_FSUTIL_H
#define GRPO_FSUTIL_H

#include <stddef.h>

#include "err.h"

/* Reads path into a malloc'd buffer (NUL-terminated; *len excludes the NUL). */
int fs_read_file(const char *path, char **data, size_t *len, grpo_err *err);

/* Writer that goes to path.tmp and only replaces path on fs_atomic_commit. */
typedef struct {
    int fd;
    char path[4096];
    char tmp[4110];
} fs_atomic;

int fs_atomic_open(fs_atomic *w, const char *path, grpo_err *err);
/* Appends len bytes; on error the temporary file is removed. */
int fs_atomic_write(fs_atomic *w, const void *buf, size_t len, grpo_err *err);
/* fsyncs, closes and renames over path, then fsyncs the directory. */
int fs_atomic_commit(fs_atomic *w, grpo_err *err);
/* Closes and removes the temporary file (safe after a failed write). */
void fs_atomic_abort(fs_atomic *w);

/* Writes a whole buffer to path atomically. */
int fs_write_file_atomic(const char *path, const void *buf, size_t len, grpo_err *err);

/* Creates dir and its parents (like mkdir -p). */
int fs_mkdirs(const char *dir, grpo_err *err);
/* fsyncs a directory so that renames inside it are durable. */
int fs_fsync_dir(const char *dir, grpo_err *err);
/* Removes a directory tree (files and subdirectories). */
int fs_remove_tree(const char *dir, grpo_err *err);
/* 1 when path exists. */
int fs_exists(const char *path);

#endif
