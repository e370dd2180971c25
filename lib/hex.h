/* SPDX-License-Identifier: MIT */
#pragma once

#include <stddef.h>
#include <stdint.h>

/* Lowercase hex of len bytes into out (2*len+1 bytes, NUL-terminated). Returns out. */
char *dw_hex_encode(const uint8_t *data, size_t len, char *out);

/* Decodes exactly hexlen hex digits (upper or lower case) into out (at most out_size bytes).
 * Returns the byte count, -EINVAL for an odd length or a non-hex digit, -ENOBUFS when out is too small. */
int dw_hex_decode(const char *hex, size_t hexlen, uint8_t *out, size_t out_size);
