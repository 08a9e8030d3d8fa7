/* common/fsutil.c: whole-file reads, atomic writes and directory helpers. */
#include "fsutil.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

int fs_read_file(const char *path, char **data, size_t *len, grpo_err *err) {
    *data = NULL;
    if (len) *len = 0;
    FILE *f = fopen(path, "rb");
    if (!f) return grpo_errf(err, GRPO_EIO, "%s: cannot open: %s", path, strerror(errno));
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap + 1);
    if (!buf) { fclose(f); return grpo_errf(err, GRPO_ENOMEM, "%s: out of memory", path); }
    for (;;) {
        if (n == cap) {
            char *nb = realloc(buf, cap * 2 + 1);
            if (!nb) { free(buf); fclose(f); return grpo_errf(err, GRPO_ENOMEM, "%s: out of memory", path); }
            buf = nb;
            cap *= 2;
        }
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (got == 0) break;
    }
    int bad = ferror(f);
    fclose(f);
    if (bad) { free(buf); return grpo_errf(err, GRPO_EIO, "%s: read error", path); }
    buf[n] = '\0';
    *data = buf;
    if (len) *len = n;
    return GRPO_OK;
}

int fs_atomic_open(fs_atomic *w, const char *path, grpo_err *err) {
    w->fd = -1;
    if (strlen(path) >= sizeof w->path) return grpo_errf(err, GRPO_EINVAL, "%s: path too long", path);
    snprintf(w->path, sizeof w->path, "%s", path);
    snprintf(w->tmp, sizeof w->tmp, "%s.tmp", path);
    w->fd = open(w->tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (w->fd < 0) return grpo_errf(err, GRPO_EIO, "%s: cannot create: %s", w->tmp, strerror(errno));
    return GRPO_OK;
}

int fs_atomic_write(fs_atomic *w, const void *buf, size_t len, grpo_err *err) {
    const char *p = buf;
    while (len > 0) {
        ssize_t k = write(w->fd, p, len);
        if (k < 0) {
            if (errno == EINTR) continue;
            int e = errno;
            fs_atomic_abort(w);
            return grpo_errf(err, GRPO_EIO, "%s: write failed: %s", w->tmp, strerror(e));
        }
        p += k;
        len -= (size_t)k;
    }
    return GRPO_OK;
}

static void dir_of(const char *path, char *out, size_t cap) {
    snprintf(out, cap, "%s", path);
    char *slash = strrchr(out, '/');
    if (!slash) snprintf(out, cap, ".");
    else if (slash == out) out[1] = '\0';
    else *slash = '\0';
}

int fs_atomic_commit(fs_atomic *w, grpo_err *err) {
    if (fsync(w->fd) != 0) {
        int e = errno;
        fs_atomic_abort(w);
        return grpo_errf(err, GRPO_EIO, "%s: fsync failed: %s", w->tmp, strerror(e));
    }
    if (close(w->fd) != 0) {
        int e = errno;
        w->fd = -1;
        unlink(w->tmp);
        return grpo_errf(err, GRPO_EIO, "%s: close failed: %s", w->tmp, strerror(e));
    }
    w->fd = -1;
    if (rename(w->tmp, w->path) != 0) {
        int e = errno;
        unlink(w->tmp);
        return grpo_errf(err, GRPO_EIO, "%s: rename to %s failed: %s", w->tmp, w->path, strerror(e));
    }
    char dir[4096];
    dir_of(w->path, dir, sizeof dir);
    return fs_fsync_dir(dir, err);
}

void fs_atomic_abort(fs_atomic *w) {
    if (w->fd >= 0) close(w->fd);
    w->fd = -1;
    unlink(w->tmp);
}

int fs_write_file_atomic(const char *path, const void *buf, size_t len, grpo_err *err) {
    fs_atomic w;
    int rc = fs_atomic_open(&w, path, err);
    if (rc) return rc;
    rc = fs_atomic_write(&w, buf, len, err);
    if (rc) return rc;
    return fs_atomic_commit(&w, err);
}

int fs_mkdirs(const char *dir, grpo_err *err) {
    char buf[4096];
    if (strlen(dir) >= sizeof buf) return grpo_errf(err, GRPO_EINVAL, "%s: path too long", dir);
    snprintf(buf, sizeof buf, "%s", dir);
    for (char *p = buf + 1; ; p++) {
        if (*p == '/' || *p == '\0') {
            char c = *p;
            *p = '\0';
            if (mkdir(buf, 0755) != 0 && errno != EEXIST)
                return grpo_errf(err, GRPO_EIO, "%s: cannot create directory: %s", buf, strerror(errno));
            *p = c;
            if (c == '\0') break;
        }
    }
    struct stat st;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
        return grpo_errf(err, GRPO_EIO, "%s: not a directory", dir);
    return GRPO_OK;
}

int fs_fsync_dir(const char *dir, grpo_err *err) {
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return grpo_errf(err, GRPO_EIO, "%s: cannot open directory: %s", dir, strerror(errno));
    int rc = fsync(fd);
    int e = errno;
    close(fd);
    if (rc != 0 && e != EINVAL) return grpo_errf(err, GRPO_EIO, "%s: fsync failed: %s", dir, strerror(e));
    return GRPO_OK;
}

int fs_remove_tree(const char *dir, grpo_err *err) {
    DIR *d = opendir(dir);
    if (!d) {
        if (errno == ENOENT) return GRPO_OK;
        return grpo_errf(err, GRPO_EIO, "%s: cannot open directory: %s", dir, strerror(errno));
    }
    struct dirent *ent;
    int rc = GRPO_OK;
    while (rc == GRPO_OK && (ent = readdir(d)) != NULL) {
        if (!strcmp(ent->d_name, ".") || !strcmp(ent->d_name, "..")) continue;
        char p[4096];
        snprintf(p, sizeof p, "%s/%s", dir, ent->d_name);
        struct stat st;
        if (lstat(p, &st) != 0) continue;
        if (S_ISDIR(st.st_mode)) rc = fs_remove_tree(p, err);
        else if (unlink(p) != 0) rc = grpo_errf(err, GRPO_EIO, "%s: cannot remove: %s", p, strerror(errno));
    }
    closedir(d);
    if (rc == GRPO_OK && rmdir(dir) != 0)
        rc = grpo_errf(err, GRPO_EIO, "%s: cannot remove directory: %s", dir, strerror(errno));
    return rc;
}

int fs_exists(const char *path) {
    struct stat st;
    return stat(path, &st) == 0;
}
