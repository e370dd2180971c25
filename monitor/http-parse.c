/* SPDX-License-Identifier: MIT */
/* HTTP/1.1 response framing: see http-parse.h. */

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "http-parse.h"

#define CONTENT_LENGTH_MAX ((int64_t)1 << 53)
#define CHUNK_LINE_MAX     4096 /* a chunk-size line with its extensions, or a trailer line */

enum chunked_state {
        CHUNK_SIZE = 0, /* hex digits of the next chunk's size */
        CHUNK_EXT,      /* after the size: extensions, up to CR */
        CHUNK_SIZE_LF,  /* the LF of the size line */
        CHUNK_DATA,
        CHUNK_DATA_CR, /* the CRLF after a chunk's data */
        CHUNK_DATA_LF,
        CHUNK_TRAILER,    /* at the start of a trailer line (or of the final empty line) */
        CHUNK_TRAILER_IN, /* inside a trailer line */
        CHUNK_TRAILER_LF, /* the LF of a trailer line */
        CHUNK_END_LF,     /* the LF of the final empty line */
        CHUNK_DONE,
};

static int refuse(char why[static MON_HTTP_WHY_SIZE], const char *fmt, ...)
{
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(why, MON_HTTP_WHY_SIZE, fmt, ap);
        va_end(ap);
        return -EBADMSG;
}

/* RFC 9110 tchar. */
static bool is_tchar(unsigned char c)
{
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
               (c && strchr("!#$%&'*+-.^_`|~", c));
}

/* A field value's bytes: visible ASCII, obs-text, space and tab. */
static bool is_value_char(unsigned char c)
{
        return c == ' ' || c == '\t' || (c > 0x20 && c != 0x7f);
}

static bool is_ows(char c)
{
        return c == ' ' || c == '\t';
}

/* The value without its surrounding whitespace. */
static void trim(const char **v, size_t *len)
{
        while (*len > 0 && is_ows(**v))
                (*v)++, (*len)--;
        while (*len > 0 && is_ows((*v)[*len - 1]))
                (*len)--;
}

static bool value_is(const char *v, size_t len, const char *word)
{
        return len == strlen(word) && strncasecmp(v, word, len) == 0;
}

/* Content-Length: 1*DIGIT, at most CONTENT_LENGTH_MAX. */
static int content_length_parse(const char *v, size_t len, int64_t *ret)
{
        int64_t n = 0;

        if (len == 0 || len > 16)
                return -EBADMSG;
        for (size_t i = 0; i < len; i++) {
                if (v[i] < '0' || v[i] > '9')
                        return -EBADMSG;
                n = n * 10 + (v[i] - '0');
        }
        if (n > CONTENT_LENGTH_MAX)
                return -EBADMSG;
        *ret = n;
        return 0;
}

/* Connection: a comma-separated list of options; close and keep-alive are the ones that matter. */
static void connection_parse(const char *v, size_t len, bool *close, bool *keep_alive)
{
        while (len > 0) {
                const char *comma = memchr(v, ',', len);
                size_t n = comma ? (size_t)(comma - v) : len;
                const char *opt = v;
                size_t optlen = n;

                trim(&opt, &optlen);
                if (value_is(opt, optlen, "close"))
                        *close = true;
                else if (value_is(opt, optlen, "keep-alive"))
                        *keep_alive = true;
                v += n;
                len -= n;
                if (len > 0)
                        v++, len--;
        }
}

/* "HTTP/1.x SP 3DIGIT [SP reason]" (the line without its CRLF); *ret_minor is x. */
static int status_line_parse(const char *s, size_t len, int *ret_status, int *ret_minor,
                             char why[static MON_HTTP_WHY_SIZE])
{
        int status;

        if (len < 12 || memcmp(s, "HTTP/1.", 7) != 0 || (s[7] != '0' && s[7] != '1') || s[8] != ' ')
                return refuse(why, "not an HTTP/1.x status line");
        for (size_t i = 9; i < 12; i++)
                if (s[i] < '0' || s[i] > '9')
                        return refuse(why, "the status code is not three digits");
        status = (s[9] - '0') * 100 + (s[10] - '0') * 10 + (s[11] - '0');
        if (status < 100 || status > 599)
                return refuse(why, "status code %d out of range", status);
        if (len > 12 && s[12] != ' ')
                return refuse(why, "no space after the status code");
        for (size_t i = 13; i < len; i++)
                if (!is_value_char((unsigned char)s[i]))
                        return refuse(why, "a control character in the reason phrase");
        *ret_status = status;
        *ret_minor = s[7] - '0';
        return 0;
}

struct head_fields {
        int64_t content_length;
        bool chunked, close, keep_alive;
};

static int field_parse(const char *line, size_t len, struct head_fields *f, char why[static MON_HTTP_WHY_SIZE])
{
        const char *colon = memchr(line, ':', len);
        const char *v;
        size_t namelen, vlen;

        if (len > 0 && is_ows(line[0]))
                return refuse(why, "a folded header line (obsolete line folding)");
        if (!colon || colon == line)
                return refuse(why, "a header line without a name and a colon");
        namelen = (size_t)(colon - line);
        for (size_t i = 0; i < namelen; i++)
                if (!is_tchar((unsigned char)line[i]))
                        return refuse(why, "a header name with a character outside the token set");
        v = colon + 1;
        vlen = len - namelen - 1;
        for (size_t i = 0; i < vlen; i++)
                if (!is_value_char((unsigned char)v[i]))
                        return refuse(why, "a control character in the value of %.*s", namelen < 40 ? (int)namelen : 40,
                                      line);
        trim(&v, &vlen);

        if (namelen == 14 && strncasecmp(line, "Content-Length", 14) == 0) {
                int64_t n;

                if (content_length_parse(v, vlen, &n) < 0)
                        return refuse(why, "Content-Length is not a number of bytes");
                if (f->content_length >= 0 && f->content_length != n)
                        return refuse(why, "two different Content-Length values");
                f->content_length = n;
        } else if (namelen == 17 && strncasecmp(line, "Transfer-Encoding", 17) == 0) {
                if (!value_is(v, vlen, "chunked") || f->chunked)
                        return refuse(why, "unsupported Transfer-Encoding (only a single 'chunked')");
                f->chunked = true;
        } else if (namelen == 10 && strncasecmp(line, "Connection", 10) == 0)
                connection_parse(v, vlen, &f->close, &f->keep_alive);
        return 0;
}

int mon_http_head_parse(const char *buf, size_t len, struct mon_http_head *ret, char why[static MON_HTTP_WHY_SIZE])
{
        struct head_fields f = {.content_length = -1};
        size_t pos = 0, limit = len < MON_HTTP_HEAD_MAX ? len : MON_HTTP_HEAD_MAX;
        int status = 0, minor = 1, r;

        for (unsigned n = 0;; n++) {
                const char *line = buf + pos;
                const char *lf = memchr(line, '\n', limit - pos);
                size_t linelen;

                if (!lf) {
                        if (len >= MON_HTTP_HEAD_MAX)
                                return refuse(why, "the response head is larger than %u KiB", MON_HTTP_HEAD_MAX / 1024);
                        return -EAGAIN;
                }
                linelen = (size_t)(lf - line);
                if (linelen == 0 || line[linelen - 1] != '\r')
                        return refuse(why, "a line not ended by CRLF");
                linelen--;
                if (memchr(line, '\r', linelen))
                        return refuse(why, "a bare CR inside a line");
                pos += linelen + 2;
                if (n == 0) {
                        r = status_line_parse(line, linelen, &status, &minor, why);
                        if (r < 0)
                                return r;
                        continue;
                }
                if (linelen == 0)
                        break;
                r = field_parse(line, linelen, &f, why);
                if (r < 0)
                        return r;
        }
        if (f.chunked && f.content_length >= 0)
                return refuse(why, "both Content-Length and Transfer-Encoding");
        *ret = (struct mon_http_head){
                .status = status,
                .content_length = f.content_length,
                .chunked = f.chunked,
                .close = f.close || (minor == 0 && !f.keep_alive),
                .size = pos,
        };
        return 0;
}

bool mon_http_head_has_body(const struct mon_http_head *h, const char *method)
{
        if (strcmp(method, "HEAD") == 0)
                return false;
        return !(h->status < 200 || h->status == 204 || h->status == 304);
}

static int hex_value(char c)
{
        if (c >= '0' && c <= '9')
                return c - '0';
        if (c >= 'a' && c <= 'f')
                return c - 'a' + 10;
        if (c >= 'A' && c <= 'F')
                return c - 'A' + 10;
        return -1;
}

/* One byte of everything but chunk data. Returns 0, or -EBADMSG. */
static int chunked_byte(struct mon_http_chunked *c, char b, char why[static MON_HTTP_WHY_SIZE])
{
        int h;

        switch (c->state) {
        case CHUNK_SIZE:
                h = hex_value(b);
                if (h >= 0) {
                        if (++c->digits > 11 || (c->remaining = c->remaining * 16 + (uint64_t)h) > MON_HTTP_CHUNK_MAX)
                                return refuse(why, "a chunk larger than %llu bytes",
                                              (unsigned long long)MON_HTTP_CHUNK_MAX);
                        return 0;
                }
                if (c->digits == 0)
                        return refuse(why, "a chunk size that is not hexadecimal");
                c->line = 0;
                c->state = b == '\r' ? CHUNK_SIZE_LF : CHUNK_EXT;
                if (b != '\r' && b != ';' && !is_ows(b))
                        return refuse(why, "a chunk size followed by '%c'", b >= 0x20 && b < 0x7f ? b : '?');
                return 0;
        case CHUNK_EXT:
                if (b == '\r')
                        c->state = CHUNK_SIZE_LF;
                else if (!is_value_char((unsigned char)b))
                        return refuse(why, "a control character in a chunk extension");
                else if (++c->line > CHUNK_LINE_MAX)
                        return refuse(why, "a chunk extension longer than %d bytes", CHUNK_LINE_MAX);
                return 0;
        case CHUNK_SIZE_LF:
                if (b != '\n')
                        return refuse(why, "a chunk size line not ended by CRLF");
                c->digits = 0;
                c->state = c->remaining > 0 ? CHUNK_DATA : CHUNK_TRAILER;
                return 0;
        case CHUNK_DATA_CR:
                if (b != '\r')
                        return refuse(why, "chunk data longer than its size");
                c->state = CHUNK_DATA_LF;
                return 0;
        case CHUNK_DATA_LF:
                if (b != '\n')
                        return refuse(why, "chunk data not followed by CRLF");
                c->state = CHUNK_SIZE;
                return 0;
        case CHUNK_TRAILER:
                c->line = 0;
                if (b == '\r') {
                        c->state = CHUNK_END_LF;
                        return 0;
                }
                c->state = CHUNK_TRAILER_IN;
                __attribute__((fallthrough)); /* the line's first byte */
        case CHUNK_TRAILER_IN:
                if (b == '\r')
                        c->state = CHUNK_TRAILER_LF;
                else if (!is_value_char((unsigned char)b) || ++c->line > CHUNK_LINE_MAX)
                        return refuse(why, "a malformed trailer line");
                return 0;
        case CHUNK_TRAILER_LF:
                if (b != '\n')
                        return refuse(why, "a trailer line not ended by CRLF");
                c->state = CHUNK_TRAILER;
                return 0;
        case CHUNK_END_LF:
                if (b != '\n')
                        return refuse(why, "the chunked body not ended by CRLF");
                c->state = CHUNK_DONE;
                return 0;
        default:
                return refuse(why, "bytes after the end of the chunked body");
        }
}

int mon_http_chunked_feed(struct mon_http_chunked *c, const char *in, size_t len, char *out, size_t *ret_consumed,
                          size_t *ret_produced, char why[static MON_HTTP_WHY_SIZE])
{
        size_t i = 0, produced = 0;
        int r;

        while (i < len && c->state != CHUNK_DONE) {
                if (c->state == CHUNK_DATA) {
                        size_t n = len - i;

                        if (n > c->remaining)
                                n = (size_t)c->remaining;
                        memmove(out + produced, in + i, n);
                        produced += n;
                        i += n;
                        c->remaining -= n;
                        if (c->remaining == 0)
                                c->state = CHUNK_DATA_CR;
                        continue;
                }
                r = chunked_byte(c, in[i], why);
                if (r < 0)
                        return r;
                i++;
        }
        *ret_consumed = i;
        *ret_produced = produced;
        return c->state == CHUNK_DONE ? 1 : 0;
}
