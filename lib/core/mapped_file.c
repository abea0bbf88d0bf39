#define _POSIX_C_SOURCE 200809L
#include "mapped_file.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "error.h"

fm_status fm_mapped_file_open(fm_mapped_file *mf, const char *path) {
    mf->data = NULL;
    mf->size = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return fm_error(FM_STATUS_IO, "cannot open '%s': %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int e = errno;
        close(fd);
        return fm_error(FM_STATUS_IO, "cannot stat '%s': %s", path, strerror(e));
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return fm_error(FM_STATUS_IO, "'%s' is not a regular file", path);
    }
    if (st.st_size == 0) {
        /* nothing to map; a real pointer all the same, so that readers
         * may compute data + size (arithmetic on NULL is undefined) */
        static const uint8_t empty[1];
        close(fd);
        mf->data = empty;
        return FM_STATUS_OK;
    }
    void *p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    int e = errno;
    close(fd);
    if (p == MAP_FAILED) return fm_error(FM_STATUS_IO, "cannot map '%s': %s", path, strerror(e));
    mf->data = p;
    mf->size = (size_t)st.st_size;
    return FM_STATUS_OK;
}

void fm_mapped_file_close(fm_mapped_file *mf) {
    if (mf->data != NULL && mf->size > 0) munmap((void *)mf->data, mf->size);
    mf->data = NULL;
    mf->size = 0;
}
