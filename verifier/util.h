/* SPDX-License-Identifier: MIT */
#pragma once

/* Small helpers of the verifier daemon: base64 (standard and URL-safe), time, randomness, files written atomically,
 * and the duration and size syntax of the config file. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "macro.h"

/* Standard base64 with padding (RFC 4648 section 4), NUL-terminated, malloc'd. NULL on out of memory. */
char *vf_base64_encode(const uint8_t *data, size_t size);
/* URL-safe base64 without padding (RFC 4648 section 5, as JOSE uses it). */
char *vf_base64url_encode(const uint8_t *data, size_t size);
/* Strict decoding: the standard alphabet with exact padding (whitespace is refused); returns a malloc'd buffer (one
 * spare NUL byte after the data). -EINVAL for anything that is not base64, -ENOMEM. */
int vf_base64_decode(const char *s, size_t len, uint8_t **ret, size_t *ret_size);
/* The URL-safe alphabet, padding optional. */
int vf_base64url_decode(const char *s, size_t len, uint8_t **ret, size_t *ret_size);

/* Wall clock, microseconds since the epoch, and monotonic microseconds. */
uint64_t vf_now_usec(void);
uint64_t vf_monotonic_usec(void);
/* "2024-05-01T12:00:00Z" (RFC 3339, UTC, seconds) into buf of at least 21 bytes; returns buf. */
char *vf_format_time(uint64_t usec, char *buf, size_t size);

/* Cryptographically random bytes (OpenSSL RAND_bytes). */
int vf_random_bytes(void *buf, size_t size);

/* Writes data to path atomically (a temporary file in the same directory, fsync, rename) with mode. */
int vf_write_file_atomic(const char *path, const void *data, size_t size, mode_t mode);
/* Creates a directory (not its parents) with mode if it does not exist. */
int vf_mkdir(const char *path, mode_t mode);

/* "30", "30s", "5m", "2h", "365d" -> seconds (> 0, at most 100 years). */
int vf_parse_duration(const char *s, uint64_t *ret_sec);
/* "65536", "64K", "16M", "1G" (binary multiples) -> bytes (> 0). */
int vf_parse_size(const char *s, uint64_t *ret);
/* "yes"/"no", "true"/"false", "1"/"0", "on"/"off". */
int vf_parse_bool(const char *s, bool *ret);
/* A decimal unsigned integer that fits in max. */
int vf_parse_uint(const char *s, uint64_t max, uint64_t *ret);

/* A gateway, group or policy name: 1-64 of [A-Za-z0-9._-], not starting with '.' or '-'. */
bool vf_name_is_valid(const char *s);

/* snprintf into a fresh string; NULL on out of memory. */
char *vf_strprintf(const char *fmt, ...) _printf_(1, 2);

/* Constant-time comparison of two equal-length buffers. */
bool vf_memeq_const(const void *a, const void *b, size_t size);
