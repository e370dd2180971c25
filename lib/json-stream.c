/* SPDX-License-Identifier: MIT */
/* A pull tokenizer over a JSON text in memory: see json-stream.h. */

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "json-stream.h"

enum {
        PLAIN = 0, /* a byte that stands for itself in a string */
        QUOTE,
        BACKSLASH,
        CONTROL, /* below 0x20: refused in strings */
        HIGH,    /* 0x80 and above: the start (or not) of a UTF-8 sequence */
};

static const uint8_t string_class[256] = {
        [0x00 ... 0x1f] = CONTROL,
        ['"'] = QUOTE,
        ['\\'] = BACKSLASH,
        [0x80 ... 0xff] = HIGH,
};

void dw_json_stream_init(struct dw_json_stream *s, const void *text, size_t len)
{
        *s = (struct dw_json_stream){.p = text, .end = (const uint8_t *)text + len};
}

void dw_json_stream_done(struct dw_json_stream *s)
{
        free(s->buf);
        s->buf = NULL;
        s->buf_size = 0;
}

static bool is_space(uint8_t c)
{
        return c == ' ' || c == '\n' || c == '\t' || c == '\r';
}

int dw_json_peek(struct dw_json_stream *s)
{
        while (s->p < s->end && is_space(*s->p))
                s->p++;
        return s->p < s->end ? *s->p : -1;
}

bool dw_json_consume(struct dw_json_stream *s, char c)
{
        if (dw_json_peek(s) != (uint8_t)c)
                return false;
        s->p++;
        return true;
}

bool dw_json_at_end(struct dw_json_stream *s)
{
        return dw_json_peek(s) < 0;
}

/* The length of the valid UTF-8 sequence of more than one byte at p, or 0. */
static size_t utf8_sequence(const uint8_t *p, size_t avail)
{
        uint32_t cp;
        size_t n;

        if (p[0] >= 0xc2 && p[0] <= 0xdf)
                n = 2;
        else if (p[0] >= 0xe0 && p[0] <= 0xef)
                n = 3;
        else if (p[0] >= 0xf0 && p[0] <= 0xf4)
                n = 4;
        else
                return 0;
        if (avail < n)
                return 0;
        cp = p[0] & (0x7f >> n);
        for (size_t i = 1; i < n; i++) {
                if ((p[i] & 0xc0) != 0x80)
                        return 0;
                cp = cp << 6 | (p[i] & 0x3f);
        }
        if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
                return 0;
        return n;
}

static int hex4(const uint8_t *p, const uint8_t *end, uint32_t *ret)
{
        uint32_t v = 0;

        if (end - p < 4)
                return -EBADMSG;
        for (size_t i = 0; i < 4; i++) {
                uint8_t c = p[i];

                if (c >= '0' && c <= '9')
                        v = v << 4 | (uint32_t)(c - '0');
                else if (c >= 'a' && c <= 'f')
                        v = v << 4 | (uint32_t)(c - 'a' + 10);
                else if (c >= 'A' && c <= 'F')
                        v = v << 4 | (uint32_t)(c - 'A' + 10);
                else
                        return -EBADMSG;
        }
        *ret = v;
        return 0;
}

static size_t utf8_encode(uint32_t cp, char *out)
{
        if (cp < 0x80) {
                out[0] = (char)cp;
                return 1;
        }
        if (cp < 0x800) {
                out[0] = (char)(0xc0 | cp >> 6);
                out[1] = (char)(0x80 | (cp & 0x3f));
                return 2;
        }
        if (cp < 0x10000) {
                out[0] = (char)(0xe0 | cp >> 12);
                out[1] = (char)(0x80 | (cp >> 6 & 0x3f));
                out[2] = (char)(0x80 | (cp & 0x3f));
                return 3;
        }
        out[0] = (char)(0xf0 | cp >> 18);
        out[1] = (char)(0x80 | (cp >> 12 & 0x3f));
        out[2] = (char)(0x80 | (cp >> 6 & 0x3f));
        out[3] = (char)(0x80 | (cp & 0x3f));
        return 4;
}

/* A \uXXXX escape at p (after the backslash and the 'u'), with its low surrogate when it is a high one. Returns the
 * bytes of input used, or -EBADMSG for NUL, a lone surrogate or bad hex digits. */
static int unicode_escape(const uint8_t *p, const uint8_t *end, uint32_t *ret)
{
        uint32_t cp, low;

        if (hex4(p, end, &cp) < 0 || cp == 0 || (cp >= 0xdc00 && cp <= 0xdfff))
                return -EBADMSG;
        if (cp < 0xd800 || cp > 0xdbff) {
                *ret = cp;
                return 4;
        }
        if (end - p < 10 || p[4] != '\\' || p[5] != 'u' || hex4(p + 6, end, &low) < 0 || low < 0xdc00 || low > 0xdfff)
                return -EBADMSG;
        *ret = 0x10000 + ((cp - 0xd800) << 10) + (low - 0xdc00);
        return 10;
}

static char simple_escape(uint8_t c)
{
        switch (c) {
        case '"':
        case '\\':
        case '/':
                return (char)c;
        case 'b':
                return '\b';
        case 'f':
                return '\f';
        case 'n':
                return '\n';
        case 'r':
                return '\r';
        case 't':
                return '\t';
        default:
                return 0;
        }
}

/* The closing quote of the string whose contents start at p, escapes skipped but not checked; NULL if none. */
static const uint8_t *string_end(const uint8_t *p, const uint8_t *end)
{
        for (;;) {
                const uint8_t *q = memchr(p, '"', (size_t)(end - p));
                const uint8_t *b;

                if (!q)
                        return NULL;
                /* The quote closes the string unless an odd number of backslashes precedes it. */
                for (b = q; b > p && b[-1] == '\\'; b--)
                        ;
                if ((q - b) % 2 == 0)
                        return q;
                p = q + 1;
        }
}

/* The slow path: the string at start (after its opening quote) has escapes. Decoded into s->buf. */
static int string_decode(struct dw_json_stream *s, const uint8_t *start, const char **ret, size_t *ret_len)
{
        const uint8_t *close = string_end(start, s->end), *p = start;
        size_t o = 0, raw = close ? (size_t)(close - start) : 0;

        if (!close)
                return -EBADMSG;
        /* Decoding never lengthens: \uXXXX gives at most 3 bytes, a surrogate pair (12) 4. */
        if (raw + 1 > s->buf_size) {
                char *b = realloc(s->buf, raw + 1);

                if (!b)
                        return -ENOMEM;
                s->buf = b;
                s->buf_size = raw + 1;
        }
        while (p < close) {
                uint32_t cp;
                size_t n;
                int k;

                switch (string_class[*p]) {
                case PLAIN:
                        s->buf[o++] = (char)*p++;
                        break;
                case HIGH:
                        n = utf8_sequence(p, (size_t)(close - p));
                        if (n == 0)
                                return -EBADMSG;
                        memcpy(s->buf + o, p, n);
                        o += n;
                        p += n;
                        break;
                case BACKSLASH:
                        if (close - p < 2)
                                return -EBADMSG;
                        if (p[1] != 'u') {
                                s->buf[o] = simple_escape(p[1]);
                                if (s->buf[o++] == 0)
                                        return -EBADMSG;
                                p += 2;
                                break;
                        }
                        k = unicode_escape(p + 2, close, &cp);
                        if (k < 0)
                                return k;
                        o += utf8_encode(cp, s->buf + o);
                        p += 2 + k;
                        break;
                default: /* a control character (a quote cannot be before close) */
                        return -EBADMSG;
                }
        }
        s->p = close + 1;
        *ret = s->buf;
        *ret_len = o;
        return 0;
}

int dw_json_string(struct dw_json_stream *s, const char **ret, size_t *ret_len)
{
        const uint8_t *start, *q;

        if (dw_json_peek(s) != '"')
                return -EBADMSG;
        start = q = s->p + 1;
        for (;;) {
                size_t n;

                while (q < s->end && string_class[*q] == PLAIN)
                        q++;
                if (q >= s->end)
                        return -EBADMSG;
                switch (string_class[*q]) {
                case QUOTE:
                        s->p = q + 1;
                        *ret = (const char *)start;
                        *ret_len = (size_t)(q - start);
                        return 0;
                case HIGH:
                        n = utf8_sequence(q, (size_t)(s->end - q));
                        if (n == 0)
                                return -EBADMSG;
                        q += n;
                        break;
                case BACKSLASH:
                        return string_decode(s, start, ret, ret_len);
                default:
                        return -EBADMSG;
                }
        }
}

int dw_json_skip_raw(struct dw_json_stream *s, const char **ret, size_t *ret_len)
{
        const uint8_t *start = s->p, *q;
        size_t depth = 0;

        for (q = s->p; q < s->end; q++) {
                if (*q == '"') {
                        q = string_end(q + 1, s->end);
                        if (!q)
                                return -EBADMSG;
                } else if (*q == '[' || *q == '{')
                        depth++;
                else if (*q == ']' || *q == '}') {
                        if (depth == 0)
                                break;
                        depth--;
                } else if (*q == ',' && depth == 0)
                        break;
        }
        if (q >= s->end)
                return -EBADMSG;
        s->p = q;
        *ret = (const char *)start;
        *ret_len = (size_t)(q - start);
        return 0;
}
