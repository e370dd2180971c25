/* SPDX-License-Identifier: MIT */
#pragma once

/* HTTP/1.1 response framing (RFC 9112), as the monitor's HTTPS client (https-client.h) needs it: the status line and
 * headers of a response, and the chunked transfer coding. Pure functions over bytes the network sent: nothing here
 * trusts them, every length is checked, and anything outside the grammar is refused rather than guessed at (a
 * Content-Length given twice with different values, or with Transfer-Encoding, is a smuggling attempt, not a
 * response). */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MON_HTTP_HEAD_MAX  (16u * 1024) /* a response head (status line, headers, empty line) larger than this */
#define MON_HTTP_WHY_SIZE  96           /* room for the reason a head or a chunk is refused */
#define MON_HTTP_CHUNK_MAX (UINT64_C(1) << 40)

struct mon_http_head {
        int status;             /* 100-599 */
        int64_t content_length; /* -1 when the response has no Content-Length */
        bool chunked;           /* Transfer-Encoding: chunked */
        bool close;             /* the server closes the connection after it (Connection: close, or HTTP/1.0
                                 * without keep-alive) */
        size_t size;            /* bytes of the head, up to and including its empty line */
};

/* Parses the response head at the start of buf[0..len). Returns 0 with *ret filled; -EAGAIN when buf does not hold
 * all of it yet (read more and call again with everything); -EBADMSG when it is not an HTTP/1.x response head or is
 * larger than MON_HTTP_HEAD_MAX (why says what, printable ASCII). */
int mon_http_head_parse(const char *buf, size_t len, struct mon_http_head *ret, char why[static MON_HTTP_WHY_SIZE]);

/* Whether a response to method with this head carries a body at all (RFC 9112 6.3: not for HEAD, 1xx, 204, 304). */
bool mon_http_head_has_body(const struct mon_http_head *h, const char *method);

/* The chunked transfer coding, decoded incrementally. Zero-initialise, then feed it the bytes after the head. */
struct mon_http_chunked {
        int state;
        uint64_t remaining; /* data bytes left in the current chunk */
        unsigned digits;    /* hex digits of the current size line */
        size_t line;        /* bytes of the current size, extension or trailer line */
};

/* Consumes in[0..len): the data bytes are copied to out (room for len bytes; out may be in: the output never runs
 * ahead of the input). *ret_consumed is how much of in was used (all of it unless the body ended), *ret_produced
 * the data bytes written. Returns 1 when the body ended (the last chunk and the trailers were read), 0 when more is
 * needed, -EBADMSG for bytes that are not the chunked coding (why says what). */
int mon_http_chunked_feed(struct mon_http_chunked *c, const char *in, size_t len, char *out, size_t *ret_consumed,
                          size_t *ret_produced, char why[static MON_HTTP_WHY_SIZE]);
