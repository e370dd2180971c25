/* SPDX-License-Identifier: MIT */
#pragma once

/* Where and why a parser rejected its input. Parsers fill it and return a negative errno; front ends print it. */

#include <stddef.h>
#include <stdint.h>

#include "macro.h"

struct dw_error {
        uint64_t index; /* entry/event number (0-based) the problem was found in */
        size_t offset;  /* byte offset in the input where that entry (binary) or its line (ascii) starts */
        char msg[200];  /* one line, no trailing newline */
};

/* Sets err (if not NULL) and returns -errnum, so callers can write "return dw_error_set(err, ...)". */
int dw_error_set(struct dw_error *err, int errnum, uint64_t index, size_t offset, const char *fmt, ...) _printf_(5, 6);
