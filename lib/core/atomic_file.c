#include "atomic_file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "alloc.h"
#include "error.h"

static int write_all(int fd, const void *data, size_t len) {
    const char *p = data;
    while (len > 0) {
        const ssize_t w = write(fd, p, len);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) {
            if (w == 0) errno = ENOSPC;
            return 0;
        }
        p += w, len -= (size_t)w;
    }
    return 1;
}

/* The folder's own entry flushed, so the rename survives a crash; a
 * filesystem that cannot fsync a folder is not an error. */
static void sync_folder(const char *path) {
    char *dir = fm_strdup(path);
    if (dir == NULL) return;
    char *slash = strrchr(dir, '/');
    const char *d = slash == NULL ? "." : (slash == dir ? "/" : (*slash = '\0', dir));
    const int fd = open(d, O_RDONLY);
    if (fd >= 0) {
        (void)fsync(fd);
        close(fd);
    }
    free(dir);
}

fm_status fm_write_file_atomic(const char *path, const void *const *data, const size_t *len, int n) {
    const size_t pl = strlen(path);
    char *tmp = fm_malloc(pl + 8);
    if (tmp == NULL) return fm_error(FM_STATUS_NO_MEMORY, "out of memory");
    memcpy(tmp, path, pl);
    memcpy(tmp + pl, ".XXXXXX", 8);
    const int fd = mkstemp(tmp);
    if (fd < 0) {
        fm_status s = fm_error(FM_STATUS_IO, "cannot create a file beside '%s': %s", path, strerror(errno));
        free(tmp);
        return s;
    }
    int ok = fchmod(fd, 0644) == 0; /* mkstemp's 0600 is for secrets, this is a data file */
    for (int i = 0; i < n && ok; i++) ok = write_all(fd, data[i], len[i]);
    if (ok && fsync(fd) != 0) ok = 0;
    const int err = errno;
    if (close(fd) != 0 && ok) ok = 0;
    if (ok && rename(tmp, path) != 0) ok = 0;
    if (!ok) {
        unlink(tmp);
        fm_status s = fm_error(FM_STATUS_IO, "cannot write '%s': %s", path, strerror(err ? err : errno));
        free(tmp);
        return s;
    }
    free(tmp);
    sync_folder(path);
    return FM_STATUS_OK;
}
