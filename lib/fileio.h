/* SPDX-License-Identifier: MIT */
#pragma once

#include <stddef.h>
#include <stdint.h>

/* Reads a whole file (regular file, pipe or securityfs pseudo-file whose size stat() does not know) into a
 * malloc'd buffer. Refuses files larger than max_size with -EFBIG. Returns 0 and sets ret_data/ret_size. */
int dw_read_full_file(const char *path, size_t max_size, uint8_t **ret_data, size_t *ret_size);
/* The same from byte offset on (lseek, which securityfs' sequential files support too); max_size counts the bytes
 * read from offset. An offset past the end reads nothing. */
int dw_read_file_from(const char *path, uint64_t offset, size_t max_size, uint8_t **ret_data, size_t *ret_size);
