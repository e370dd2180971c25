/* SPDX-License-Identifier: MIT */
#pragma once

#include <stddef.h>
#include <sys/types.h>

/* Writes path atomically and durably: a temporary file in the same directory, fsync, rename over path, fsync of the
 * directory. On error nothing of the new content is left behind and path keeps its old content. */
int mon_write_file_atomic(const char *path, const void *data, size_t size, mode_t mode);

/* fsync of the directory that holds path (or of dir itself when path is a directory). */
int mon_fsync_dir_of(const char *path);

/* write()/read() of exactly size bytes, retried on EINTR: -errno, or -EIO when the file ends (read) or the device
 * takes nothing (write). */
int mon_write_all(int fd, const void *data, size_t size);
int mon_read_all(int fd, void *data, size_t size);
