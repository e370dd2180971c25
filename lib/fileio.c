/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#include "fileio.h"
#include "macro.h"

int dw_read_full_file(const char *path, size_t max_size, uint8_t **ret_data, size_t *ret_size)
{
        return dw_read_file_from(path, 0, max_size, ret_data, ret_size);
}

int dw_read_file_from(const char *path, uint64_t offset, size_t max_size, uint8_t **ret_data, size_t *ret_size)
{
        _cleanup_close_ int fd = -EBADF;
        _cleanup_free_ uint8_t *buf = NULL;
        size_t size = 0, allocated = 0;

        if (offset > INT64_MAX)
                return -EINVAL;
        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return -errno;
        if (offset > 0 && lseek(fd, (off_t)offset, SEEK_SET) < 0)
                return -errno;

        /* securityfs files report st_size 0, so grow as we read rather than trusting stat(). */
        for (;;) {
                ssize_t n;

                if (size == allocated) {
                        size_t want = allocated ? allocated * 2 : 64 * 1024;
                        uint8_t *p;

                        if (allocated >= max_size + 1)
                                return -EFBIG;
                        want = MIN(want, max_size + 1);
                        p = realloc(buf, want);
                        if (!p)
                                return -ENOMEM;
                        buf = p;
                        allocated = want;
                }
                n = read(fd, buf + size, allocated - size);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (n == 0)
                        break;
                size += (size_t)n;
                if (size > max_size)
                        return -EFBIG;
        }
        *ret_data = TAKE_PTR(buf);
        *ret_size = size;
        return 0;
}
