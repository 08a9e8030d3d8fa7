/* checkpoints/model_dir.c: atomic export of a model directory (tmp dir, fsync, rename). */
#include "model_dir.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "../common/fsutil.h"

static void parent_of(const char *path, char *out, size_t cap) {
    snprintf(out, cap, "%s", path);
    size_t n = strlen(out);
    while (n > 1 && out[n - 1] == '/') out[--n] = '\0';
    char *slash = strrchr(out, '/');
    if (!slash) snprintf(out, cap, ".");
    else if (slash == out) out[1] = '\0';
    else *slash = '\0';
}

int ckpt_export_model(const policy_model *m, const char *dir, const char *dtype, int overwrite, grpo_err *err) {
    if (fs_exists(dir) && !overwrite)
        return grpo_errf(err, GRPO_EIO, "%s: already exists (pass --force to replace it)", dir);
    char parent[4096], tmp[4200], old[4200];
    parent_of(dir, parent, sizeof parent);
    int rc = fs_mkdirs(parent, err);
    if (rc) return rc;
    snprintf(tmp, sizeof tmp, "%s.tmp-%d", dir, (int)getpid());
    snprintf(old, sizeof old, "%s.old-%d", dir, (int)getpid());
    fs_remove_tree(tmp, NULL);
    if ((rc = fs_mkdirs(tmp, err))) return rc;
    if ((rc = policy_save(m, tmp, dtype, err)) || (rc = fs_fsync_dir(tmp, err))) {
        fs_remove_tree(tmp, NULL);
        return rc;
    }
    int had_old = 0;
    if (fs_exists(dir)) {
        if (rename(dir, old) != 0) {
            int e = errno;
            fs_remove_tree(tmp, NULL);
            return grpo_errf(err, GRPO_EIO, "%s: cannot move the old directory aside: %s", dir, strerror(e));
        }
        had_old = 1;
    }
    if (rename(tmp, dir) != 0) {
        int e = errno;
        if (had_old) rename(old, dir);
        fs_remove_tree(tmp, NULL);
        return grpo_errf(err, GRPO_EIO, "%s: cannot rename %s into place: %s", dir, tmp, strerror(e));
    }
    if ((rc = fs_fsync_dir(parent, err))) return rc;
    if (had_old) fs_remove_tree(old, NULL);
    return GRPO_OK;
}
