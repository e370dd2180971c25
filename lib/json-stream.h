/* SPDX-License-Identifier: MIT */
#pragma once

/* A pull tokenizer over a JSON text in memory, for documents too large to build a tree of: the caller walks the
 * grammar it expects, token by token, and nothing is allocated but a buffer for strings with escapes.
 *
 * It accepts exactly what jansson's json_loadb() accepts in the tokens it reads, so that a caller can use either and
 * get the same answer: whitespace is space, tab, LF and CR; a string is valid UTF-8 (no overlong forms, surrogates or
 * code points above U+10FFFF) without control characters, with the escapes \" \\ \/ \b \f \n \r \t and \uXXXX, UTF-16
 * surrogates only in pairs, and no \u0000 (jansson refuses NUL without JSON_ALLOW_NUL). Nothing recurses: a caller
 * that descends into nested values counts its own depth. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct dw_json_stream {
        const uint8_t *p, *end; /* the cursor, and the end of the text */
        char *buf;              /* decoded strings that had escapes */
        size_t buf_size;
};

void dw_json_stream_init(struct dw_json_stream *s, const void *text, size_t len);
void dw_json_stream_done(struct dw_json_stream *s);

/* Skips whitespace and returns the next byte without consuming it, or -1 at the end of the text. */
int dw_json_peek(struct dw_json_stream *s);

/* Skips whitespace and consumes c if it comes next. */
bool dw_json_consume(struct dw_json_stream *s, char c);

/* True when only whitespace is left. */
bool dw_json_at_end(struct dw_json_stream *s);

/* Reads the string token that comes next (after whitespace). *ret points into the text when the string has no
 * escapes, else into the stream's buffer, valid until the next call; it may contain any byte but NUL and is not
 * NUL-terminated. Returns 0, -EBADMSG (not a string, or one jansson refuses), or -ENOMEM. */
int dw_json_string(struct dw_json_stream *s, const char **ret, size_t *ret_len);

/* Skips what comes next, unchecked, up to the ',' or closing bracket that ends it at the current level (brackets
 * are counted and strings skipped, nothing else is looked at): *ret is the text skipped, leading whitespace
 * included. For a value that another parser checks afterwards. Returns 0, or -EBADMSG when the text ends first. */
int dw_json_skip_raw(struct dw_json_stream *s, const char **ret, size_t *ret_len);
