/* SPDX-License-Identifier: MIT */
/* Runtime events: canonical encodings (binary and JSON), the hash chain, signed batches, and their verification.
 * docs/events.md is the specification; this file follows it section by section. */

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <tss2/tss2_mu.h>

#include "event-chain.h"
#include "hash.h"
#include "hex.h"
#include "tpm-marshal.h"
#include "tpm-quote.h"

#define GENESIS_LABEL "driftwatch-event-chain-v1"
#define BATCH_MAGIC   "DWEB"
#define CHAIN_MAGIC   "DWEC"
#define VERIFY_MAGIC  "DWEV"
#define BLOB_HEADER   12 /* magic, u16 version, u16 0, u32 payload size */
#define BLOB_CHECK    8  /* first bytes of SHA-256 of everything before */
#define HEX_SHOWN     8  /* bytes of a head shown in messages */

/* Fixed parts of the encodings (docs/events.md). */
#define EVENT_FIXED_SIZE (1 + 8 + 8 + 8 + 1 + 1 + 1) /* version, seq, times, severity, kind length, field count */
#define CHAIN_ID_FIXED   (1 + 4 + DW_EVENT_BOOT_ID_SIZE)
#define BATCH_FIXED      (4 + 1 + 8 + 4 + 2 * DW_EVENT_HEAD_SIZE) /* magic, version, first_seq, count, heads */

static const char *const severity_names[_DW_EVENT_SEVERITY_MAX] = {
        [DW_EVENT_INFO] = "info",   [DW_EVENT_NOTICE] = "notice",     [DW_EVENT_WARNING] = "warning",
        [DW_EVENT_ERROR] = "error", [DW_EVENT_CRITICAL] = "critical",
};

static const char *const verdict_names[_DW_EVENT_VERDICT_MAX] = {
        [DW_EVENT_OK] = "ok",
        [DW_EVENT_DUPLICATE] = "duplicate",
        [DW_EVENT_GAP] = "gap",
        [DW_EVENT_FORK] = "fork",
        [DW_EVENT_BAD_SIGNATURE] = "bad_signature",
        [DW_EVENT_BAD_ENCODING] = "bad_encoding",
        [DW_EVENT_CHAIN_MISMATCH] = "chain_mismatch",
        [DW_EVENT_WRONG_CHAIN] = "wrong_chain",
};

static const char *const nv_verdict_names[_DW_EVENT_NV_VERDICT_MAX] = {
        [DW_EVENT_NV_OK] = "ok",           [DW_EVENT_NV_MISMATCH] = "mismatch",   [DW_EVENT_NV_EPOCH] = "epoch",
        [DW_EVENT_NV_UNKNOWN] = "unknown", [DW_EVENT_NV_MALFORMED] = "malformed",
};

const char *dw_event_severity_name(enum dw_event_severity s)
{
        if (s < 0 || s >= _DW_EVENT_SEVERITY_MAX)
                return NULL;
        return severity_names[s];
}

int dw_event_severity_from_name(const char *name, enum dw_event_severity *ret)
{
        if (!name || !ret)
                return -EINVAL;
        for (enum dw_event_severity s = 0; s < _DW_EVENT_SEVERITY_MAX; s++)
                if (strcmp(severity_names[s], name) == 0) {
                        *ret = s;
                        return 0;
                }
        return -EINVAL;
}

const char *dw_event_verdict_name(enum dw_event_verdict v)
{
        if (v < 0 || v >= _DW_EVENT_VERDICT_MAX)
                return NULL;
        return verdict_names[v];
}

const char *dw_event_nv_verdict_name(enum dw_event_nv_verdict v)
{
        if (v < 0 || v >= _DW_EVENT_NV_VERDICT_MAX)
                return NULL;
        return nv_verdict_names[v];
}

/* ---- charsets ------------------------------------------------------------------------------------------------ */

static bool name_valid(const char *s, size_t len, size_t max)
{
        if (len == 0 || len > max || s[0] < 'a' || s[0] > 'z')
                return false;
        for (size_t i = 1; i < len; i++)
                if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '_'))
                        return false;
        return true;
}

bool dw_event_kind_valid(const char *kind)
{
        return kind && name_valid(kind, strnlen(kind, DW_EVENT_KIND_MAX + 1), DW_EVENT_KIND_MAX);
}

bool dw_event_key_valid(const char *key)
{
        return key && name_valid(key, strnlen(key, DW_EVENT_KEY_MAX + 1), DW_EVENT_KEY_MAX);
}

static bool gateway_id_valid(const char *s, size_t len)
{
        if (len == 0 || len > DW_EVENT_GATEWAY_ID_MAX)
                return false;
        for (size_t i = 0; i < len; i++)
                if (s[i] < 0x21 || s[i] > 0x7e)
                        return false;
        return true;
}

bool dw_event_gateway_id_valid(const char *gateway_id)
{
        return gateway_id && gateway_id_valid(gateway_id, strnlen(gateway_id, DW_EVENT_GATEWAY_ID_MAX + 1));
}

/* Bytes of the valid UTF-8 character (not NUL) at s, 0 when there is none. */
static size_t utf8_char_len(const uint8_t *s, size_t len)
{
        uint32_t cp, min;
        size_t n;

        if (len == 0 || s[0] == 0)
                return 0;
        if (s[0] < 0x80)
                return 1;
        if ((s[0] & 0xe0) == 0xc0)
                n = 2, cp = s[0] & 0x1f, min = 0x80;
        else if ((s[0] & 0xf0) == 0xe0)
                n = 3, cp = s[0] & 0x0f, min = 0x800;
        else if ((s[0] & 0xf8) == 0xf0)
                n = 4, cp = s[0] & 0x07, min = 0x10000;
        else
                return 0;
        if (len < n)
                return 0;
        for (size_t i = 1; i < n; i++) {
                if ((s[i] & 0xc0) != 0x80)
                        return 0;
                cp = cp << 6 | (s[i] & 0x3f);
        }
        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
                return 0;
        return n;
}

bool dw_event_utf8_valid(const char *s, size_t len)
{
        for (size_t i = 0; i < len;) {
                size_t n = utf8_char_len((const uint8_t *)s + i, len - i);

                if (n == 0)
                        return false;
                i += n;
        }
        return true;
}

/* ---- events -------------------------------------------------------------------------------------------------- */

int dw_event_new(const char *kind, enum dw_event_severity severity, struct dw_event **ret)
{
        struct dw_event *ev;

        if (!ret || !dw_event_kind_valid(kind) || severity < 0 || severity >= _DW_EVENT_SEVERITY_MAX)
                return -EINVAL;
        ev = calloc(1, sizeof(*ev));
        if (!ev)
                return -ENOMEM;
        ev->severity = severity;
        strcpy(ev->kind, kind);
        *ret = ev;
        return 0;
}

void dw_event_free(struct dw_event *ev)
{
        if (!ev)
                return;
        for (size_t i = 0; i < ev->n_fields && i < DW_EVENT_FIELDS_MAX; i++)
                free(ev->fields[i].str);
        free(ev);
}

/* Inserts a field at its sorted place; str (when STRING) is copied. Validation is the caller's. */
static int field_insert(struct dw_event *ev, const char *key, enum dw_event_value_type type, const char *str,
                        size_t len, int64_t num)
{
        struct dw_event_field f = {.type = type, .num = num};
        size_t pos = 0;

        if (ev->n_fields > DW_EVENT_FIELDS_MAX)
                return -EINVAL;
        while (pos < ev->n_fields && strcmp(ev->fields[pos].key, key) < 0)
                pos++;
        if (pos < ev->n_fields && strcmp(ev->fields[pos].key, key) == 0)
                return -EEXIST;
        if (ev->n_fields == DW_EVENT_FIELDS_MAX)
                return -E2BIG;
        strcpy(f.key, key);
        if (type == DW_EVENT_VALUE_STRING) {
                f.str = malloc(len + 1);
                if (!f.str)
                        return -ENOMEM;
                memcpy(f.str, str, len);
                f.str[len] = '\0';
                f.str_len = len;
        }
        memmove(ev->fields + pos + 1, ev->fields + pos, (ev->n_fields - pos) * sizeof(f));
        ev->fields[pos] = f;
        ev->n_fields++;
        return 0;
}

int dw_event_add_string(struct dw_event *ev, const char *key, const char *value, size_t len)
{
        if (!ev || !dw_event_key_valid(key) || (!value && len > 0))
                return -EINVAL;
        if (len > DW_EVENT_VALUE_MAX)
                return -E2BIG;
        if (!dw_event_utf8_valid(value, len))
                return -EINVAL;
        return field_insert(ev, key, DW_EVENT_VALUE_STRING, value ?: "", len, 0);
}

int dw_event_add_int(struct dw_event *ev, const char *key, int64_t value)
{
        if (!ev || !dw_event_key_valid(key))
                return -EINVAL;
        return field_insert(ev, key, DW_EVENT_VALUE_INT, NULL, 0, value);
}

int dw_event_add_bytes(struct dw_event *ev, const char *key, const void *data, size_t len)
{
        const uint8_t *d = data;
        char out[DW_EVENT_VALUE_MAX + 1];
        size_t o = 0, fit = 0;
        bool cut = false;

        if (!ev || (!data && len > 0))
                return -EINVAL;
        for (size_t i = 0; i < len;) {
                char piece[8];
                size_t n = utf8_char_len(d + i, len - i), pn;

                if (d[i] == '\\')
                        n = 1, pn = 2, memcpy(piece, "\\\\", 2);
                else if (n > 0)
                        pn = n, memcpy(piece, d + i, n);
                else
                        n = 1, pn = (size_t)snprintf(piece, sizeof(piece), "\\x%02x", d[i]);
                if (o + pn > DW_EVENT_VALUE_MAX) {
                        cut = true;
                        break;
                }
                memcpy(out + o, piece, pn);
                o += pn;
                i += n;
                if (o <= DW_EVENT_VALUE_MAX - 3)
                        fit = o;
        }
        if (cut) {
                memcpy(out + fit, "...", 3);
                o = fit + 3;
        }
        return dw_event_add_string(ev, key, out, o);
}

const struct dw_event_field *dw_event_get(const struct dw_event *ev, const char *key)
{
        if (!ev || !key)
                return NULL;
        for (size_t i = 0; i < ev->n_fields && i < DW_EVENT_FIELDS_MAX; i++)
                if (strcmp(ev->fields[i].key, key) == 0)
                        return &ev->fields[i];
        return NULL;
}

static int field_validate(const struct dw_event *ev, size_t i, struct dw_error *err)
{
        const struct dw_event_field *f = &ev->fields[i];

        if (!dw_event_key_valid(f->key))
                return dw_error_set(err, EINVAL, ev->seq, 0, "field %zu: invalid key", i);
        if (i > 0 && strcmp(ev->fields[i - 1].key, f->key) >= 0)
                return dw_error_set(err, EINVAL, ev->seq, 0, "field '%s': keys not strictly ascending", f->key);
        switch (f->type) {
        case DW_EVENT_VALUE_INT:
                return 0;
        case DW_EVENT_VALUE_STRING:
                if (!f->str || f->str_len > DW_EVENT_VALUE_MAX || f->str[f->str_len] != '\0')
                        return dw_error_set(err, EINVAL, ev->seq, 0, "field '%s': bad string", f->key);
                if (!dw_event_utf8_valid(f->str, f->str_len))
                        return dw_error_set(err, EINVAL, ev->seq, 0, "field '%s': not UTF-8 (or has NUL)", f->key);
                return 0;
        default:
                return dw_error_set(err, EINVAL, ev->seq, 0, "field '%s': unknown value type %d", f->key, f->type);
        }
}

int dw_event_validate(const struct dw_event *ev, struct dw_error *err)
{
        int r;

        if (!ev)
                return dw_error_set(err, EINVAL, 0, 0, "no event");
        if (ev->seq > DW_EVENT_SEQ_MAX || ev->realtime_usec > DW_EVENT_SEQ_MAX || ev->monotonic_usec > DW_EVENT_SEQ_MAX)
                return dw_error_set(err, EINVAL, ev->seq, 0, "seq or time beyond 2^63-1");
        if (ev->severity < 0 || ev->severity >= _DW_EVENT_SEVERITY_MAX)
                return dw_error_set(err, EINVAL, ev->seq, 0, "invalid severity %d", ev->severity);
        if (!dw_event_kind_valid(ev->kind))
                return dw_error_set(err, EINVAL, ev->seq, 0, "invalid kind");
        if (ev->n_fields > DW_EVENT_FIELDS_MAX)
                return dw_error_set(err, EINVAL, ev->seq, 0, "%zu fields, at most %d", ev->n_fields,
                                    DW_EVENT_FIELDS_MAX);
        for (size_t i = 0; i < ev->n_fields; i++) {
                r = field_validate(ev, i, err);
                if (r < 0)
                        return r;
        }
        return 0;
}

bool dw_event_equal(const struct dw_event *a, const struct dw_event *b)
{
        if (!a || !b)
                return a == b;
        if (a->seq != b->seq || a->realtime_usec != b->realtime_usec || a->monotonic_usec != b->monotonic_usec ||
            a->severity != b->severity || strcmp(a->kind, b->kind) != 0 || a->n_fields != b->n_fields ||
            a->n_fields > DW_EVENT_FIELDS_MAX)
                return false;
        for (size_t i = 0; i < a->n_fields; i++) {
                const struct dw_event_field *x = &a->fields[i], *y = &b->fields[i];

                if (strcmp(x->key, y->key) != 0 || x->type != y->type)
                        return false;
                if (x->type == DW_EVENT_VALUE_INT && x->num != y->num)
                        return false;
                if (x->type == DW_EVENT_VALUE_STRING &&
                    (x->str_len != y->str_len || memcmp(x->str, y->str, x->str_len) != 0))
                        return false;
        }
        return true;
}

/* ---- binary writer and reader --------------------------------------------------------------------------------- */

struct writer {
        uint8_t *buf;
        size_t len, size;
        bool oom;
};

static void writer_done(struct writer *w)
{
        free(w->buf);
}

static void w_bytes(struct writer *w, const void *p, size_t n)
{
        if (w->oom || n == 0)
                return;
        if (w->len + n > w->size) {
                size_t size = MAX(w->size * 2, w->len + n + 256);
                uint8_t *b = realloc(w->buf, size);

                if (!b) {
                        w->oom = true;
                        return;
                }
                w->buf = b;
                w->size = size;
        }
        memcpy(w->buf + w->len, p, n);
        w->len += n;
}

static void w_be(struct writer *w, uint64_t v, unsigned bytes)
{
        uint8_t b[8];

        for (unsigned i = 0; i < bytes; i++)
                b[i] = (uint8_t)(v >> (8 * (bytes - 1 - i)));
        w_bytes(w, b, bytes);
}

static void w_le(struct writer *w, uint64_t v, unsigned bytes)
{
        uint8_t b[8];

        for (unsigned i = 0; i < bytes; i++)
                b[i] = (uint8_t)(v >> (8 * i));
        w_bytes(w, b, bytes);
}

/* Hands the buffer over (-ENOMEM if any write failed). */
static int writer_take(struct writer *w, uint8_t **ret_buf, size_t *ret_size)
{
        if (w->oom) {
                writer_done(w);
                return -ENOMEM;
        }
        *ret_buf = w->buf ? w->buf : malloc(1);
        if (!*ret_buf)
                return -ENOMEM;
        *ret_size = w->len;
        *w = (struct writer){};
        return 0;
}

struct reader {
        const uint8_t *buf;
        size_t len, pos;
        size_t base; /* offset of buf in the caller's input, for errors */
        bool bad;    /* read past the end */
};

static bool r_has(struct reader *r, size_t n)
{
        if (r->bad || r->len - r->pos < n) {
                r->bad = true;
                return false;
        }
        return true;
}

static uint64_t r_be(struct reader *r, unsigned bytes)
{
        uint64_t v = 0;

        if (!r_has(r, bytes))
                return 0;
        for (unsigned i = 0; i < bytes; i++)
                v = v << 8 | r->buf[r->pos++];
        return v;
}

static uint64_t r_le(struct reader *r, unsigned bytes)
{
        uint64_t v = 0;

        if (!r_has(r, bytes))
                return 0;
        for (unsigned i = 0; i < bytes; i++)
                v |= (uint64_t)r->buf[r->pos++] << (8 * i);
        return v;
}

static const uint8_t *r_bytes(struct reader *r, size_t n)
{
        const uint8_t *p;

        if (!r_has(r, n))
                return NULL;
        p = r->buf + r->pos;
        r->pos += n;
        return p;
}

static size_t r_off(const struct reader *r)
{
        return r->base + r->pos;
}

/* ---- event encoding ------------------------------------------------------------------------------------------- */

static size_t event_encoded_size(const struct dw_event *ev)
{
        size_t size = EVENT_FIXED_SIZE + strlen(ev->kind);

        for (size_t i = 0; i < ev->n_fields; i++) {
                const struct dw_event_field *f = &ev->fields[i];

                size += 1 + strlen(f->key) + 1 + (f->type == DW_EVENT_VALUE_STRING ? 2 + f->str_len : 8);
        }
        return size;
}

/* The event must validate. */
static void put_event(struct writer *w, const struct dw_event *ev)
{
        size_t kind_len = strlen(ev->kind);

        w_be(w, DW_EVENT_VERSION, 1);
        w_be(w, ev->seq, 8);
        w_be(w, ev->realtime_usec, 8);
        w_be(w, ev->monotonic_usec, 8);
        w_be(w, (uint64_t)ev->severity, 1);
        w_be(w, kind_len, 1);
        w_bytes(w, ev->kind, kind_len);
        w_be(w, ev->n_fields, 1);
        for (size_t i = 0; i < ev->n_fields; i++) {
                const struct dw_event_field *f = &ev->fields[i];
                size_t key_len = strlen(f->key);

                w_be(w, key_len, 1);
                w_bytes(w, f->key, key_len);
                w_be(w, (uint64_t)f->type, 1);
                if (f->type == DW_EVENT_VALUE_STRING) {
                        w_be(w, f->str_len, 2);
                        w_bytes(w, f->str, f->str_len);
                } else
                        w_be(w, (uint64_t)f->num, 8);
        }
}

int dw_event_encode(const struct dw_event *ev, uint8_t **ret_buf, size_t *ret_size)
{
        struct writer w = {};

        if (!ret_buf || !ret_size || dw_event_validate(ev, NULL) < 0)
                return -EINVAL;
        put_event(&w, ev);
        return writer_take(&w, ret_buf, ret_size);
}

/* A name (kind or key) of the encoding: u8 length, bytes; copied NUL-terminated into out. */
static int get_name(struct reader *r, size_t max, char *out, const char *what, uint64_t index, struct dw_error *err)
{
        size_t off = r_off(r), len = (size_t)r_be(r, 1);
        const uint8_t *p = r_bytes(r, len);

        if (!p)
                return dw_error_set(err, EINVAL, index, off, "%s: truncated", what);
        if (!name_valid((const char *)p, len, max))
                return dw_error_set(err, EINVAL, index, off,
                                    "%s: not 1-%zu characters of [a-z0-9_] starting with a letter", what, max);
        memcpy(out, p, len);
        out[len] = '\0';
        return 0;
}

static int get_field(struct reader *r, struct dw_event *ev, uint64_t index, struct dw_error *err)
{
        struct dw_event_field *f = &ev->fields[ev->n_fields];
        size_t off = r_off(r), len;
        const uint8_t *p;
        int k;

        k = get_name(r, DW_EVENT_KEY_MAX, f->key, "field key", index, err);
        if (k < 0)
                return k;
        if (ev->n_fields > 0 && strcmp(ev->fields[ev->n_fields - 1].key, f->key) >= 0)
                return dw_error_set(err, EINVAL, index, off, "field '%s': keys not strictly ascending", f->key);
        f->type = (enum dw_event_value_type)r_be(r, 1);
        if (f->type == DW_EVENT_VALUE_INT) {
                f->num = (int64_t)r_be(r, 8);
                if (r->bad)
                        return dw_error_set(err, EINVAL, index, off, "field '%s': truncated", f->key);
                ev->n_fields++;
                return 0;
        }
        if (r->bad || f->type != DW_EVENT_VALUE_STRING)
                return dw_error_set(err, EINVAL, index, off, "field '%s': unknown value type %d", f->key, f->type);
        len = (size_t)r_be(r, 2);
        p = r_bytes(r, len);
        if (!p)
                return dw_error_set(err, EINVAL, index, off, "field '%s': truncated", f->key);
        if (len > DW_EVENT_VALUE_MAX)
                return dw_error_set(err, EINVAL, index, off, "field '%s': %zu bytes, at most %d", f->key, len,
                                    DW_EVENT_VALUE_MAX);
        if (!dw_event_utf8_valid((const char *)p, len))
                return dw_error_set(err, EINVAL, index, off, "field '%s': not UTF-8 (or has NUL)", f->key);
        f->str = malloc(len + 1);
        if (!f->str)
                return dw_error_set(err, ENOMEM, index, off, "out of memory");
        memcpy(f->str, p, len);
        f->str[len] = '\0';
        f->str_len = len;
        ev->n_fields++;
        return 0;
}

/* Decodes one event from all of r; index names it in errors. */
static int get_event(struct reader *r, uint64_t index, struct dw_event **ret, struct dw_error *err)
{
        _cleanup_(dw_event_freep) struct dw_event *ev = calloc(1, sizeof(*ev));
        size_t start = r_off(r), n;
        unsigned version, severity;
        int k;

        if (!ev)
                return dw_error_set(err, ENOMEM, index, start, "out of memory");
        version = (unsigned)r_be(r, 1);
        if (!r->bad && version != DW_EVENT_VERSION)
                return dw_error_set(err, version > DW_EVENT_VERSION ? EOPNOTSUPP : EINVAL, index, start,
                                    "event encoding version %u (this build reads %d)", version, DW_EVENT_VERSION);
        ev->seq = r_be(r, 8);
        ev->realtime_usec = r_be(r, 8);
        ev->monotonic_usec = r_be(r, 8);
        severity = (unsigned)r_be(r, 1);
        if (r->bad)
                return dw_error_set(err, EINVAL, index, start, "event truncated (%zu bytes)", r->len);
        if (ev->seq > DW_EVENT_SEQ_MAX || ev->realtime_usec > DW_EVENT_SEQ_MAX || ev->monotonic_usec > DW_EVENT_SEQ_MAX)
                return dw_error_set(err, EINVAL, index, start + 1, "seq or time beyond 2^63-1");
        if (severity >= _DW_EVENT_SEVERITY_MAX)
                return dw_error_set(err, EINVAL, index, start + 25, "unknown severity %u", severity);
        ev->severity = (enum dw_event_severity)severity;
        k = get_name(r, DW_EVENT_KIND_MAX, ev->kind, "kind", index, err);
        if (k < 0)
                return k;
        n = (size_t)r_be(r, 1);
        if (r->bad || n > DW_EVENT_FIELDS_MAX)
                return dw_error_set(err, EINVAL, index, r_off(r), "field count %zu: truncated or over %d", n,
                                    DW_EVENT_FIELDS_MAX);
        for (size_t i = 0; i < n; i++) {
                k = get_field(r, ev, index, err);
                if (k < 0)
                        return k;
        }
        if (r->pos != r->len)
                return dw_error_set(err, EINVAL, index, r_off(r), "%zu bytes after the event", r->len - r->pos);
        *ret = TAKE_PTR(ev);
        return 0;
}

int dw_event_decode(const uint8_t *buf, size_t size, struct dw_event **ret, struct dw_error *err)
{
        struct reader r = {.buf = buf, .len = size};

        if (!ret || (!buf && size > 0))
                return dw_error_set(err, EINVAL, 0, 0, "invalid argument");
        return get_event(&r, 0, ret, err);
}

/* ---- chain ids, genesis, chains ------------------------------------------------------------------------------ */

bool dw_event_chain_id_equal(const struct dw_event_chain_id *a, const struct dw_event_chain_id *b)
{
        return strcmp(a->gateway_id, b->gateway_id) == 0 && a->reset_count == b->reset_count &&
               memcmp(a->boot_id, b->boot_id, DW_EVENT_BOOT_ID_SIZE) == 0;
}

static bool chain_id_ok(const struct dw_event_chain_id *id)
{
        return id && memchr(id->gateway_id, '\0', sizeof(id->gateway_id)) && dw_event_gateway_id_valid(id->gateway_id);
}

int dw_event_chain_id_init(struct dw_event_chain_id *ret, const char *gateway_id, uint32_t reset_count,
                           const uint8_t boot_id[static DW_EVENT_BOOT_ID_SIZE])
{
        struct dw_event_chain_id id = {.reset_count = reset_count};

        if (!ret || !boot_id || !dw_event_gateway_id_valid(gateway_id))
                return -EINVAL;
        strcpy(id.gateway_id, gateway_id);
        memcpy(id.boot_id, boot_id, DW_EVENT_BOOT_ID_SIZE);
        *ret = id;
        return 0;
}

int dw_event_boot_id_parse(const char *s, size_t len, uint8_t ret[static DW_EVENT_BOOT_ID_SIZE])
{
        uint8_t id[DW_EVENT_BOOT_ID_SIZE];
        size_t o = 0;

        if (!s || !ret)
                return -EINVAL;
        if (len == 37 && s[36] == '\n')
                len = 36;
        if (len != 36)
                return -EINVAL;
        for (size_t i = 0; i < 36; i++) {
                bool dash = i == 8 || i == 13 || i == 18 || i == 23;

                if (dash != (s[i] == '-'))
                        return -EINVAL;
                if (!dash && !((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
                        return -EINVAL;
        }
        for (size_t i = 0; i < 36; i += 2) {
                if (s[i] == '-')
                        i++;
                if (dw_hex_decode(s + i, 2, id + o++, 1) != 1)
                        return -EINVAL;
        }
        memcpy(ret, id, sizeof(id));
        return 0;
}

char *dw_event_boot_id_format(const uint8_t id[static DW_EVENT_BOOT_ID_SIZE], char buf[static 37])
{
        char hex[2 * DW_EVENT_BOOT_ID_SIZE + 1];

        dw_hex_encode(id, DW_EVENT_BOOT_ID_SIZE, hex);
        snprintf(buf, 37, "%.8s-%.4s-%.4s-%.4s-%.12s", hex, hex + 8, hex + 12, hex + 16, hex + 20);
        return buf;
}

/* The chain id in the event and batch encodings (big-endian). */
static void put_chain_id(struct writer *w, const struct dw_event_chain_id *id)
{
        size_t len = strlen(id->gateway_id);

        w_be(w, len, 1);
        w_bytes(w, id->gateway_id, len);
        w_be(w, id->reset_count, 4);
        w_bytes(w, id->boot_id, DW_EVENT_BOOT_ID_SIZE);
}

static int get_chain_id(struct reader *r, bool le, struct dw_event_chain_id *ret, struct dw_error *err)
{
        size_t off = r_off(r), len = (size_t)r_be(r, 1);
        const uint8_t *p = r_bytes(r, len);
        const uint8_t *boot;

        if (!p)
                return dw_error_set(err, EINVAL, 0, off, "chain id truncated");
        if (!gateway_id_valid((const char *)p, len))
                return dw_error_set(err, EINVAL, 0, off, "gateway id: not 1-%d bytes of printable ASCII",
                                    DW_EVENT_GATEWAY_ID_MAX);
        *ret = (struct dw_event_chain_id){};
        memcpy(ret->gateway_id, p, len);
        ret->reset_count = (uint32_t)(le ? r_le(r, 4) : r_be(r, 4));
        boot = r_bytes(r, DW_EVENT_BOOT_ID_SIZE);
        if (!boot)
                return dw_error_set(err, EINVAL, 0, off, "chain id truncated");
        memcpy(ret->boot_id, boot, DW_EVENT_BOOT_ID_SIZE);
        return 0;
}

static int sha256(const struct writer *w, uint8_t ret[static DW_EVENT_HEAD_SIZE])
{
        int r;

        if (w->oom)
                return -ENOMEM;
        r = dw_hash_oneshot(DW_HASH_SHA256, w->buf, w->len, ret);
        return r < 0 ? r : 0;
}

int dw_event_chain_genesis(const struct dw_event_chain_id *id, uint8_t ret[static DW_EVENT_HEAD_SIZE])
{
        struct writer w = {};
        int r;

        if (!chain_id_ok(id) || !ret)
                return -EINVAL;
        w_bytes(&w, GENESIS_LABEL, strlen(GENESIS_LABEL));
        put_chain_id(&w, id);
        r = sha256(&w, ret);
        writer_done(&w);
        return r;
}

/* ret = SHA-256(prev || encoding of ev); ev must validate. */
static int chain_step(const uint8_t prev[static DW_EVENT_HEAD_SIZE], const struct dw_event *ev,
                      uint8_t ret[static DW_EVENT_HEAD_SIZE])
{
        struct writer w = {};
        int r;

        w_bytes(&w, prev, DW_EVENT_HEAD_SIZE);
        put_event(&w, ev);
        r = sha256(&w, ret);
        writer_done(&w);
        return r;
}

int dw_event_chain_init(struct dw_event_chain *c, const struct dw_event_chain_id *id)
{
        struct dw_event_chain n = {};
        int r;

        if (!c || !chain_id_ok(id))
                return -EINVAL;
        n.id = *id;
        r = dw_event_chain_genesis(id, n.head);
        if (r < 0)
                return r;
        *c = n;
        return 0;
}

/* ---- batches ------------------------------------------------------------------------------------------------- */

static size_t batch_base_size(const struct dw_event_chain_id *id)
{
        return BATCH_FIXED + CHAIN_ID_FIXED + strlen(id->gateway_id);
}

int dw_event_batch_new(const struct dw_event_chain *c, struct dw_event_batch **ret)
{
        struct dw_event_batch *b;

        if (!c || !ret || !chain_id_ok(&c->id) || c->next_seq > DW_EVENT_SEQ_MAX)
                return -EINVAL;
        b = calloc(1, sizeof(*b));
        if (!b)
                return -ENOMEM;
        b->chain = c->id;
        b->first_seq = c->next_seq;
        memcpy(b->prev_head, c->head, DW_EVENT_HEAD_SIZE);
        memcpy(b->head, c->head, DW_EVENT_HEAD_SIZE);
        b->encoded_size = batch_base_size(&c->id);
        *ret = b;
        return 0;
}

void dw_event_batch_free(struct dw_event_batch *b)
{
        if (!b)
                return;
        for (size_t i = 0; i < b->n_events; i++)
                dw_event_free(b->events[i]);
        free(b->events);
        free(b);
}

/* Appends ev to b's array (growing it); nothing else. */
static int batch_push(struct dw_event_batch *b, struct dw_event *ev)
{
        if ((b->n_events & (b->n_events - 1)) == 0) { /* 0, 1, 2, 4, ...: grow to the next power of two */
                struct dw_event **e = realloc(b->events, MAX(b->n_events * 2, (size_t)1) * sizeof(*e));

                if (!e)
                        return -ENOMEM;
                b->events = e;
        }
        b->events[b->n_events++] = ev;
        return 0;
}

int dw_event_chain_append(struct dw_event_chain *c, struct dw_event_batch *b, struct dw_event *ev)
{
        uint8_t head[DW_EVENT_HEAD_SIZE];
        uint64_t old_seq;
        size_t size;
        int r;

        if (!c || !b || !ev)
                return -EINVAL;
        if (b->has_signature)
                return -EBUSY;
        if (!dw_event_chain_id_equal(&b->chain, &c->id) || b->first_seq + b->n_events != c->next_seq ||
            memcmp(b->head, c->head, DW_EVENT_HEAD_SIZE) != 0)
                return -ESTALE;
        if (c->next_seq > DW_EVENT_SEQ_MAX)
                return -EOVERFLOW;
        if (b->n_events >= DW_EVENT_BATCH_EVENTS_MAX)
                return -E2BIG;
        old_seq = ev->seq;
        ev->seq = c->next_seq;
        r = dw_event_validate(ev, NULL);
        if (r >= 0) {
                size = 4 + event_encoded_size(ev);
                r = b->encoded_size + size > DW_EVENT_BATCH_SIZE_MAX ? -E2BIG : 0;
        }
        if (r >= 0)
                r = chain_step(c->head, ev, head);
        if (r >= 0)
                r = batch_push(b, ev);
        if (r < 0) {
                ev->seq = old_seq;
                return r;
        }
        b->encoded_size += size;
        memcpy(b->head, head, DW_EVENT_HEAD_SIZE);
        memcpy(c->head, head, DW_EVENT_HEAD_SIZE);
        c->next_seq++;
        return 0;
}

/* Structure of a batch (not its heads): why it is not encodable, or NULL. */
static const char *batch_structure_error(const struct dw_event_batch *b, char *buf, size_t size)
{
        if (!chain_id_ok(&b->chain))
                return "invalid chain id";
        if (b->n_events == 0 || !b->events)
                return "no events";
        if (b->n_events > DW_EVENT_BATCH_EVENTS_MAX)
                return "too many events";
        if (b->first_seq > DW_EVENT_SEQ_MAX || b->n_events - 1 > DW_EVENT_SEQ_MAX - b->first_seq)
                return "sequence numbers beyond 2^63-1";
        for (size_t i = 0; i < b->n_events; i++) {
                struct dw_error e = {};

                if (!b->events[i])
                        return "missing event";
                if (b->events[i]->seq != b->first_seq + i) {
                        snprintf(buf, size, "event %zu has seq %" PRIu64 ", not %" PRIu64 " (events not consecutive)",
                                 i, b->events[i]->seq, b->first_seq + i);
                        return buf;
                }
                if (dw_event_validate(b->events[i], &e) < 0) {
                        snprintf(buf, size, "event %zu: %s", i, e.msg);
                        return buf;
                }
        }
        return NULL;
}

static void put_batch(struct writer *w, const struct dw_event_batch *b)
{
        w_bytes(w, BATCH_MAGIC, 4);
        w_be(w, DW_EVENT_VERSION, 1);
        put_chain_id(w, &b->chain);
        w_be(w, b->first_seq, 8);
        w_be(w, b->n_events, 4);
        w_bytes(w, b->prev_head, DW_EVENT_HEAD_SIZE);
        for (size_t i = 0; i < b->n_events; i++) {
                w_be(w, event_encoded_size(b->events[i]), 4);
                put_event(w, b->events[i]);
        }
        w_bytes(w, b->head, DW_EVENT_HEAD_SIZE);
}

int dw_event_batch_encode(const struct dw_event_batch *b, uint8_t **ret_buf, size_t *ret_size)
{
        struct writer w = {};
        char buf[DW_EVENT_KEY_MAX + 256];

        if (!b || !ret_buf || !ret_size || batch_structure_error(b, buf, sizeof(buf)))
                return -EINVAL;
        put_batch(&w, b);
        return writer_take(&w, ret_buf, ret_size);
}

int dw_event_batch_digest(const struct dw_event_batch *b, uint8_t ret[static DW_EVENT_HEAD_SIZE])
{
        _cleanup_free_ uint8_t *buf = NULL;
        size_t size;
        int r;

        if (!ret)
                return -EINVAL;
        r = dw_event_batch_encode(b, &buf, &size);
        if (r < 0)
                return r;
        r = dw_hash_oneshot(DW_HASH_SHA256, buf, size, ret);
        return r < 0 ? r : 0;
}

static int batch_decode_events(struct reader *r, struct dw_event_batch *b, uint32_t n, struct dw_error *err)
{
        for (uint32_t i = 0; i < n; i++) {
                struct dw_event *ev = NULL;
                size_t off = r_off(r), len = (size_t)r_be(r, 4);
                const uint8_t *p = r_bytes(r, len);
                struct reader sub = {.buf = p, .len = len, .base = off + 4};
                int k;

                if (!p)
                        return dw_error_set(err, EINVAL, i, off, "event %" PRIu32 " truncated", i);
                k = get_event(&sub, i, &ev, err);
                if (k < 0)
                        return k;
                if (ev->seq != b->first_seq + i) {
                        uint64_t seq = ev->seq;

                        dw_event_free(ev);
                        return dw_error_set(err, EINVAL, i, off + 5,
                                            "event %" PRIu32 " has seq %" PRIu64 ", not %" PRIu64, i, seq,
                                            b->first_seq + i);
                }
                k = batch_push(b, ev);
                if (k < 0) {
                        dw_event_free(ev);
                        return dw_error_set(err, ENOMEM, i, off, "out of memory");
                }
        }
        return 0;
}

int dw_event_batch_decode(const uint8_t *buf, size_t size, struct dw_event_batch **ret, struct dw_error *err)
{
        _cleanup_(dw_event_batch_freep) struct dw_event_batch *b = NULL;
        struct reader r = {.buf = buf, .len = size};
        const uint8_t *magic, *p;
        unsigned version;
        uint32_t n;
        int k;

        if (!ret || (!buf && size > 0))
                return dw_error_set(err, EINVAL, 0, 0, "invalid argument");
        if (size > DW_EVENT_BATCH_SIZE_MAX)
                return dw_error_set(err, EINVAL, 0, 0, "batch of %zu bytes, at most %u", size, DW_EVENT_BATCH_SIZE_MAX);
        magic = r_bytes(&r, 4);
        version = (unsigned)r_be(&r, 1);
        if (!magic || memcmp(magic, BATCH_MAGIC, 4) != 0 || r.bad)
                return dw_error_set(err, EINVAL, 0, 0, "not a driftwatch event batch");
        if (version != DW_EVENT_VERSION)
                return dw_error_set(err, version > DW_EVENT_VERSION ? EOPNOTSUPP : EINVAL, 0, 4,
                                    "batch encoding version %u (this build reads %d)", version, DW_EVENT_VERSION);
        b = calloc(1, sizeof(*b));
        if (!b)
                return dw_error_set(err, ENOMEM, 0, 0, "out of memory");
        k = get_chain_id(&r, false, &b->chain, err);
        if (k < 0)
                return k;
        b->first_seq = r_be(&r, 8);
        n = (uint32_t)r_be(&r, 4);
        p = r_bytes(&r, DW_EVENT_HEAD_SIZE);
        if (!p)
                return dw_error_set(err, EINVAL, 0, r_off(&r), "batch truncated");
        if (b->first_seq > DW_EVENT_SEQ_MAX || n == 0 || n > DW_EVENT_BATCH_EVENTS_MAX ||
            n - 1 > DW_EVENT_SEQ_MAX - b->first_seq)
                return dw_error_set(err, EINVAL, 0, r_off(&r) - DW_EVENT_HEAD_SIZE - 12,
                                    "first_seq %" PRIu64 " and %" PRIu32 " events: not 1-%d events below 2^63",
                                    b->first_seq, n, DW_EVENT_BATCH_EVENTS_MAX);
        memcpy(b->prev_head, p, DW_EVENT_HEAD_SIZE);
        k = batch_decode_events(&r, b, n, err);
        if (k < 0)
                return k;
        p = r_bytes(&r, DW_EVENT_HEAD_SIZE);
        if (!p)
                return dw_error_set(err, EINVAL, n, r_off(&r), "batch truncated before its head");
        memcpy(b->head, p, DW_EVENT_HEAD_SIZE);
        if (r.pos != r.len)
                return dw_error_set(err, EINVAL, n, r_off(&r), "%zu bytes after the batch", r.len - r.pos);
        b->encoded_size = size;
        *ret = TAKE_PTR(b);
        return 0;
}

static int signature_marshal(const TPMT_SIGNATURE *sig, uint8_t *buf, size_t size, size_t *ret_size)
{
        size_t off = 0;

        if (Tss2_MU_TPMT_SIGNATURE_Marshal(sig, buf, size, &off) != TSS2_RC_SUCCESS)
                return -EINVAL;
        *ret_size = off;
        return 0;
}

int dw_event_batch_set_signature(struct dw_event_batch *b, const TPMT_SIGNATURE *sig)
{
        uint8_t buf[sizeof(TPMT_SIGNATURE)];
        size_t size;

        if (!b || !sig || signature_marshal(sig, buf, sizeof(buf), &size) < 0)
                return -EINVAL;
        b->signature = *sig;
        b->has_signature = true;
        return 0;
}

int dw_event_batch_set_signature_marshalled(struct dw_event_batch *b, const uint8_t *buf, size_t size,
                                            struct dw_error *err)
{
        TPMT_SIGNATURE sig;
        int r;

        if (!b || (!buf && size > 0))
                return dw_error_set(err, EINVAL, 0, 0, "invalid argument");
        r = dw_tpm_signature_parse(buf, size, &sig, err);
        if (r < 0)
                return r;
        if (dw_event_batch_set_signature(b, &sig) < 0)
                return dw_error_set(err, EINVAL, 0, 0, "TPMT_SIGNATURE does not marshal again");
        return 0;
}

int dw_event_nv_extend(const uint8_t *nv, const uint8_t head[static DW_EVENT_HEAD_SIZE],
                       uint8_t ret[static DW_EVENT_HEAD_SIZE])
{
        uint8_t buf[2 * DW_EVENT_HEAD_SIZE] = {};
        int r;

        if (!head || !ret)
                return -EINVAL;
        if (nv)
                memcpy(buf, nv, DW_EVENT_HEAD_SIZE);
        memcpy(buf + DW_EVENT_HEAD_SIZE, head, DW_EVENT_HEAD_SIZE);
        r = dw_hash_oneshot(DW_HASH_SHA256, buf, sizeof(buf), ret);
        return r < 0 ? r : 0;
}

/* ---- base64 (RFC 4648 section 4, with padding; decoding accepts only the canonical form) --------------------- */

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static void base64_encode(const uint8_t *data, size_t size, char *out)
{
        size_t o = 0;

        for (size_t i = 0; i < size; i += 3) {
                uint32_t v = (uint32_t)data[i] << 16 | (i + 1 < size ? (uint32_t)data[i + 1] << 8 : 0) |
                             (i + 2 < size ? data[i + 2] : 0);

                out[o++] = b64[v >> 18 & 63];
                out[o++] = b64[v >> 12 & 63];
                out[o++] = i + 1 < size ? b64[v >> 6 & 63] : '=';
                out[o++] = i + 2 < size ? b64[v & 63] : '=';
        }
        out[o] = '\0';
}

static int b64_value(char c)
{
        const char *p = c ? strchr(b64, c) : NULL;

        return p ? (int)(p - b64) : -1;
}

/* Decodes into out (size at most out_size); -EINVAL for anything but canonical padded base64. */
static int base64_decode(const char *s, size_t len, uint8_t *out, size_t out_size, size_t *ret_size)
{
        size_t o = 0;

        if (len % 4 != 0 || len / 4 * 3 > out_size + 2)
                return -EINVAL;
        for (size_t i = 0; i < len; i += 4) {
                bool last = i + 4 == len;
                size_t pad = last ? (s[i + 3] == '=') + (s[i + 2] == '=') : 0;
                int v[4];
                uint32_t x = 0;

                if (pad == 1 && s[i + 2] == '=')
                        return -EINVAL;
                for (size_t k = 0; k < 4; k++) {
                        v[k] = k >= 4 - pad ? 0 : b64_value(s[i + k]);
                        if (v[k] < 0)
                                return -EINVAL;
                        x = x << 6 | (uint32_t)v[k];
                }
                if ((pad == 1 && (x & 0xff)) || (pad == 2 && (x & 0xffff)))
                        return -EINVAL; /* non-zero unused bits: not canonical */
                if (o + 3 - pad > out_size)
                        return -EINVAL;
                out[o++] = (uint8_t)(x >> 16);
                if (pad < 2)
                        out[o++] = (uint8_t)(x >> 8);
                if (pad < 1)
                        out[o++] = (uint8_t)x;
        }
        *ret_size = o;
        return 0;
}

/* ---- JSON ---------------------------------------------------------------------------------------------------- */

#define PATH_MAX_LEN 96

static int set_new(json_t *o, const char *key, json_t *v)
{
        if (!v || json_object_set_new(o, key, v) < 0)
                return -ENOMEM;
        return 0;
}

static int set_hex(json_t *o, const char *key, const uint8_t *data, size_t size)
{
        char hex[2 * DW_EVENT_HEAD_SIZE + 1];

        return set_new(o, key, json_string(dw_hex_encode(data, size, hex)));
}

int dw_event_to_json(const struct dw_event *ev, struct json_t **ret)
{
        json_t *o = NULL, *fields = NULL;
        int r;

        if (!ret || dw_event_validate(ev, NULL) < 0)
                return -EINVAL;
        o = json_object();
        fields = json_object();
        r = o && fields ? 0 : -ENOMEM;
        if (r >= 0)
                r = set_new(o, "seq", json_integer((json_int_t)ev->seq));
        if (r >= 0)
                r = set_new(o, "realtime_usec", json_integer((json_int_t)ev->realtime_usec));
        if (r >= 0)
                r = set_new(o, "monotonic_usec", json_integer((json_int_t)ev->monotonic_usec));
        if (r >= 0)
                r = set_new(o, "kind", json_string(ev->kind));
        if (r >= 0)
                r = set_new(o, "severity", json_string(severity_names[ev->severity]));
        for (size_t i = 0; r >= 0 && i < ev->n_fields; i++) {
                const struct dw_event_field *f = &ev->fields[i];

                r = set_new(fields, f->key,
                            f->type == DW_EVENT_VALUE_INT ? json_integer(f->num)
                                                          : json_stringn_nocheck(f->str, f->str_len));
        }
        if (r >= 0) {
                r = set_new(o, "fields", fields);
                fields = NULL;
        }
        json_decref(fields);
        if (r < 0) {
                json_decref(o);
                return r;
        }
        *ret = o;
        return 0;
}

/* JSON decoding: where = the JSON path of the value, index = the event index (for err). */
struct jctx {
        uint64_t index;
        struct dw_error *err;
};

_printf_(3, 4) static int jfail(const struct jctx *c, const char *where, const char *fmt, ...)
{
        char msg[sizeof(((struct dw_error *)NULL)->msg)];
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        return dw_error_set(c->err, EINVAL, c->index, 0, "%s: %s", where, msg);
}

/* Every member of o is one of the names (NULL-terminated list). */
static int check_members(const struct jctx *c, const json_t *o, const char *where, const char *const *names)
{
        const char *key;
        json_t *v;

        if (!json_is_object(o))
                return jfail(c, where, "not an object");
        json_object_foreach((json_t *)o, key, v)
        {
                bool known = false;

                for (const char *const *n = names; *n && !known; n++)
                        known = strcmp(*n, key) == 0;
                if (!known)
                        return jfail(c, where, "unknown member \"%.40s\"", key);
        }
        return 0;
}

static int get_uint(const struct jctx *c, const json_t *o, const char *key, const char *where, uint64_t max,
                    uint64_t *ret)
{
        json_t *v = json_object_get(o, key);

        if (!v)
                return jfail(c, where, "no \"%s\"", key);
        if (!json_is_integer(v) || json_integer_value(v) < 0 || (uint64_t)json_integer_value(v) > max)
                return jfail(c, where, "\"%s\" is not an integer 0-%" PRIu64, key, max);
        *ret = (uint64_t)json_integer_value(v);
        return 0;
}

static int get_string(const struct jctx *c, const json_t *o, const char *key, const char *where, const char **ret,
                      size_t *ret_len)
{
        json_t *v = json_object_get(o, key);

        if (!v || !json_is_string(v))
                return jfail(c, where, "\"%s\" is missing or not a string", key);
        *ret = json_string_value(v);
        *ret_len = json_string_length(v);
        return 0;
}

/* 2*size lowercase hex digits. */
static int get_hex(const struct jctx *c, const json_t *o, const char *key, const char *where, uint8_t *out, size_t size)
{
        const char *s = NULL;
        size_t len = 0;
        int r;

        r = get_string(c, o, key, where, &s, &len);
        if (r < 0)
                return r;
        if (len != 2 * size || strspn(s, "0123456789abcdef") != len || dw_hex_decode(s, len, out, size) != (int)size)
                return jfail(c, where, "\"%s\" is not %zu lowercase hex digits", key, 2 * size);
        return 0;
}

static int field_from_json(const struct jctx *c, struct dw_event *ev, const char *key, const json_t *v,
                           const char *where)
{
        char path[PATH_MAX_LEN + 48];
        int r;

        snprintf(path, sizeof(path), "%s.fields.%.40s", where, key);
        if (!dw_event_key_valid(key))
                return jfail(c, path, "key is not 1-%d characters of [a-z0-9_] starting with a letter",
                             DW_EVENT_KEY_MAX);
        if (json_is_integer(v))
                r = dw_event_add_int(ev, key, json_integer_value(v));
        else if (json_is_string(v))
                r = dw_event_add_string(ev, key, json_string_value(v), json_string_length(v));
        else
                return jfail(c, path, "not a string or an integer");
        if (r == -ENOMEM)
                return dw_error_set(c->err, ENOMEM, c->index, 0, "out of memory");
        if (r == -E2BIG)
                return jfail(c, path, "more than %d fields, or a string over %d bytes", DW_EVENT_FIELDS_MAX,
                             DW_EVENT_VALUE_MAX);
        if (r < 0)
                return jfail(c, path, "not UTF-8 (or has NUL)");
        return 0;
}

static int event_from_json(const struct jctx *c, const json_t *j, const char *where, struct dw_event **ret)
{
        static const char *const members[] = {"seq", "realtime_usec", "monotonic_usec", "kind", "severity", "fields",
                                              NULL};
        _cleanup_(dw_event_freep) struct dw_event *ev = calloc(1, sizeof(*ev));
        const char *kind = NULL, *sev = NULL, *key;
        size_t kind_len = 0, sev_len = 0;
        json_t *fields, *v;
        int r;

        if (!ev)
                return dw_error_set(c->err, ENOMEM, c->index, 0, "out of memory");
        r = check_members(c, j, where, members);
        if (r >= 0)
                r = get_uint(c, j, "seq", where, DW_EVENT_SEQ_MAX, &ev->seq);
        if (r >= 0)
                r = get_uint(c, j, "realtime_usec", where, DW_EVENT_SEQ_MAX, &ev->realtime_usec);
        if (r >= 0)
                r = get_uint(c, j, "monotonic_usec", where, DW_EVENT_SEQ_MAX, &ev->monotonic_usec);
        if (r >= 0)
                r = get_string(c, j, "kind", where, &kind, &kind_len);
        if (r >= 0)
                r = get_string(c, j, "severity", where, &sev, &sev_len);
        if (r < 0)
                return r;
        if (!name_valid(kind, kind_len, DW_EVENT_KIND_MAX))
                return jfail(c, where, "\"kind\" is not 1-%d characters of [a-z0-9_] starting with a letter",
                             DW_EVENT_KIND_MAX);
        memcpy(ev->kind, kind, kind_len + 1);
        if (strlen(sev) != sev_len || dw_event_severity_from_name(sev, &ev->severity) < 0)
                return jfail(c, where, "\"severity\" is not info, notice, warning, error or critical");
        fields = json_object_get(j, "fields");
        if (!json_is_object(fields))
                return jfail(c, where, "\"fields\" is missing or not an object");
        json_object_foreach(fields, key, v)
        {
                r = field_from_json(c, ev, key, v, where);
                if (r < 0)
                        return r;
        }
        *ret = TAKE_PTR(ev);
        return 0;
}

int dw_event_from_json(const struct json_t *j, struct dw_event **ret, struct dw_error *err)
{
        struct jctx c = {.err = err};

        if (!j || !ret)
                return dw_error_set(err, EINVAL, 0, 0, "invalid argument");
        return event_from_json(&c, j, "event", ret);
}

static json_t *chain_id_to_json(const struct dw_event_chain_id *id)
{
        char boot[37];

        return json_pack("{s:s,s:I,s:s}", "gateway_id", id->gateway_id, "reset_count", (json_int_t)id->reset_count,
                         "boot_id", dw_event_boot_id_format(id->boot_id, boot));
}

static int signature_to_json(const TPMT_SIGNATURE *sig, json_t **ret)
{
        uint8_t buf[sizeof(TPMT_SIGNATURE)];
        char text[4 * sizeof(TPMT_SIGNATURE) / 3 + 8];
        size_t size;

        if (signature_marshal(sig, buf, sizeof(buf), &size) < 0)
                return -EINVAL;
        base64_encode(buf, size, text);
        *ret = json_string(text);
        return *ret ? 0 : -ENOMEM;
}

static int events_to_json(const struct dw_event_batch *b, json_t **ret)
{
        json_t *a = json_array();

        if (!a)
                return -ENOMEM;
        for (size_t i = 0; i < b->n_events; i++) {
                json_t *e;
                int r = dw_event_to_json(b->events[i], &e);

                if (r >= 0 && json_array_append_new(a, e) < 0)
                        r = -ENOMEM;
                if (r < 0) {
                        json_decref(a);
                        return r;
                }
        }
        *ret = a;
        return 0;
}

int dw_event_batch_to_json(const struct dw_event_batch *b, struct json_t **ret)
{
        json_t *o, *events = NULL, *sig = NULL;
        char buf[DW_EVENT_KEY_MAX + 256];
        int r;

        if (!b || !ret || batch_structure_error(b, buf, sizeof(buf)))
                return -EINVAL;
        if (b->has_signature) {
                r = signature_to_json(&b->signature, &sig);
                if (r < 0)
                        return r;
        }
        r = events_to_json(b, &events);
        if (r < 0) {
                json_decref(sig);
                return r;
        }
        o = json_object();
        r = o ? 0 : -ENOMEM;
        if (r >= 0)
                r = set_new(o, "version", json_integer(DW_EVENT_VERSION));
        if (r >= 0)
                r = set_new(o, "chain", chain_id_to_json(&b->chain));
        if (r >= 0)
                r = set_new(o, "first_seq", json_integer((json_int_t)b->first_seq));
        if (r >= 0)
                r = set_hex(o, "prev_head", b->prev_head, DW_EVENT_HEAD_SIZE);
        if (r >= 0)
                r = set_new(o, "events", TAKE_PTR(events));
        if (r >= 0)
                r = set_hex(o, "head", b->head, DW_EVENT_HEAD_SIZE);
        if (r >= 0 && sig)
                r = set_new(o, "signature", TAKE_PTR(sig));
        json_decref(events);
        json_decref(sig);
        if (r < 0) {
                json_decref(o);
                return r;
        }
        *ret = o;
        return 0;
}

int dw_event_batch_format_json(const struct dw_event_batch *b, char **ret)
{
        json_t *j;
        char *s;
        int r;

        if (!ret)
                return -EINVAL;
        r = dw_event_batch_to_json(b, &j);
        if (r < 0)
                return r;
        s = json_dumps(j, JSON_COMPACT);
        json_decref(j);
        if (!s)
                return -ENOMEM;
        *ret = s;
        return 0;
}

static int chain_id_from_json(const struct jctx *c, const json_t *j, struct dw_event_chain_id *ret)
{
        static const char *const members[] = {"gateway_id", "reset_count", "boot_id", NULL};
        const char *gid = NULL, *boot = NULL;
        size_t gid_len = 0, boot_len = 0;
        uint64_t reset = 0;
        int r;

        r = check_members(c, j, "chain", members);
        if (r >= 0)
                r = get_string(c, j, "gateway_id", "chain", &gid, &gid_len);
        if (r >= 0)
                r = get_uint(c, j, "reset_count", "chain", UINT32_MAX, &reset);
        if (r >= 0)
                r = get_string(c, j, "boot_id", "chain", &boot, &boot_len);
        if (r < 0)
                return r;
        *ret = (struct dw_event_chain_id){.reset_count = (uint32_t)reset};
        if (!gateway_id_valid(gid, gid_len))
                return jfail(c, "chain", "\"gateway_id\" is not 1-%d bytes of printable ASCII",
                             DW_EVENT_GATEWAY_ID_MAX);
        memcpy(ret->gateway_id, gid, gid_len);
        if (boot_len != 36 || dw_event_boot_id_parse(boot, boot_len, ret->boot_id) < 0)
                return jfail(c, "chain", "\"boot_id\" is not a lowercase UUID (8-4-4-4-12 hex digits)");
        return 0;
}

static int signature_from_json(const struct jctx *c, const json_t *j, struct dw_event_batch *b)
{
        uint8_t buf[sizeof(TPMT_SIGNATURE)];
        struct dw_error e = {};
        const char *s;
        size_t len, size;

        if (!json_is_string(j))
                return jfail(c, "signature", "not a string");
        s = json_string_value(j);
        len = json_string_length(j);
        if (base64_decode(s, len, buf, sizeof(buf), &size) < 0)
                return jfail(c, "signature", "not canonical base64 (with padding) of at most %zu bytes", sizeof(buf));
        if (dw_event_batch_set_signature_marshalled(b, buf, size, &e) < 0)
                return jfail(c, "signature", "%s", e.msg);
        return 0;
}

static int events_from_json(struct jctx *c, const json_t *a, struct dw_event_batch *b)
{
        char where[32];

        if (!json_is_array(a) || json_array_size(a) == 0 || json_array_size(a) > DW_EVENT_BATCH_EVENTS_MAX)
                return jfail(c, "events", "not an array of 1-%d events", DW_EVENT_BATCH_EVENTS_MAX);
        if (json_array_size(a) - 1 > DW_EVENT_SEQ_MAX - b->first_seq)
                return jfail(c, "events", "sequence numbers beyond 2^63-1");
        for (size_t i = 0; i < json_array_size(a); i++) {
                struct dw_event *ev = NULL;
                int r;

                c->index = i;
                snprintf(where, sizeof(where), "events[%zu]", i);
                r = event_from_json(c, json_array_get(a, i), where, &ev);
                if (r < 0)
                        return r;
                if (ev->seq != b->first_seq + i) {
                        dw_event_free(ev);
                        return jfail(c, where, "seq is not %" PRIu64 " (first_seq + %zu)", b->first_seq + i, i);
                }
                b->encoded_size += 4 + event_encoded_size(ev);
                if (batch_push(b, ev) < 0) {
                        dw_event_free(ev);
                        return dw_error_set(c->err, ENOMEM, i, 0, "out of memory");
                }
        }
        if (b->encoded_size > DW_EVENT_BATCH_SIZE_MAX)
                return jfail(c, "events", "%zu bytes encoded, at most %u", b->encoded_size, DW_EVENT_BATCH_SIZE_MAX);
        return 0;
}

int dw_event_batch_from_json(const struct json_t *j, struct dw_event_batch **ret, struct dw_error *err)
{
        static const char *const members[] = {"version", "chain", "first_seq", "prev_head",
                                              "events",  "head",  "signature", NULL};
        _cleanup_(dw_event_batch_freep) struct dw_event_batch *b = NULL;
        struct jctx c = {.err = err};
        uint64_t version = 0;
        json_t *sig;
        int r;

        if (!j || !ret)
                return dw_error_set(err, EINVAL, 0, 0, "invalid argument");
        b = calloc(1, sizeof(*b));
        if (!b)
                return dw_error_set(err, ENOMEM, 0, 0, "out of memory");
        r = check_members(&c, j, "batch", members);
        if (r >= 0)
                r = get_uint(&c, j, "version", "batch", UINT32_MAX, &version);
        if (r >= 0 && version != DW_EVENT_VERSION)
                return dw_error_set(err, version > DW_EVENT_VERSION ? EOPNOTSUPP : EINVAL, 0, 0,
                                    "batch: version %" PRIu64 " (this build reads %d)", version, DW_EVENT_VERSION);
        if (r >= 0)
                r = chain_id_from_json(&c, json_object_get(j, "chain"), &b->chain);
        if (r >= 0)
                r = get_uint(&c, j, "first_seq", "batch", DW_EVENT_SEQ_MAX, &b->first_seq);
        if (r >= 0)
                r = get_hex(&c, j, "prev_head", "batch", b->prev_head, DW_EVENT_HEAD_SIZE);
        if (r >= 0)
                r = get_hex(&c, j, "head", "batch", b->head, DW_EVENT_HEAD_SIZE);
        if (r < 0)
                return r;
        b->encoded_size = batch_base_size(&b->chain);
        r = events_from_json(&c, json_object_get(j, "events"), b);
        if (r < 0)
                return r;
        c.index = 0;
        sig = json_object_get(j, "signature");
        if (sig) {
                r = signature_from_json(&c, sig, b);
                if (r < 0)
                        return r;
        }
        *ret = TAKE_PTR(b);
        return 0;
}

int dw_event_batch_parse_json(const char *text, size_t len, struct dw_event_batch **ret, struct dw_error *err)
{
        json_error_t je;
        json_t *j;
        int r;

        if (!ret || (!text && len > 0))
                return dw_error_set(err, EINVAL, 0, 0, "invalid argument");
        if (len > DW_EVENT_JSON_SIZE_MAX)
                return dw_error_set(err, EINVAL, 0, 0, "batch JSON of %zu bytes, at most %u", len,
                                    DW_EVENT_JSON_SIZE_MAX);
        j = json_loadb(text ?: "", len, JSON_REJECT_DUPLICATES, &je);
        if (!j)
                return dw_error_set(err, EINVAL, 0, (size_t)MAX(je.position, 0), "not JSON: %s (line %d, column %d)",
                                    je.text, je.line, je.column);
        r = dw_event_batch_from_json(j, ret, err);
        json_decref(j);
        return r;
}

/* ---- state blobs: magic, u16 version, u16 0, u32 payload size, payload, 8 bytes of SHA-256 of all before ------ */

static void blob_begin(struct writer *w, const char *magic)
{
        w_bytes(w, magic, 4);
        w_le(w, DW_EVENT_STATE_VERSION, 2);
        w_le(w, 0, 2);
        w_le(w, 0, 4); /* payload size, set by blob_finish */
}

static int blob_finish(struct writer *w, uint8_t **ret_buf, size_t *ret_size)
{
        uint8_t check[DW_EVENT_HEAD_SIZE];
        size_t payload = w->len - BLOB_HEADER;
        int r;

        if (!w->oom)
                for (unsigned i = 0; i < 4; i++)
                        w->buf[8 + i] = (uint8_t)(payload >> (8 * i));
        r = sha256(w, check);
        if (r < 0) {
                writer_done(w);
                return r;
        }
        w_bytes(w, check, BLOB_CHECK);
        return writer_take(w, ret_buf, ret_size);
}

/* Checks the frame; *ret reads the payload. */
static int blob_open(const uint8_t *buf, size_t size, const char *magic, const char *what, struct reader *ret,
                     struct dw_error *err)
{
        uint8_t check[DW_EVENT_HEAD_SIZE];
        uint32_t payload;
        uint16_t version;

        if (!buf || size < BLOB_HEADER + BLOB_CHECK || memcmp(buf, magic, 4) != 0)
                return dw_error_set(err, EBADMSG, 0, 0, "not a driftwatch %s (%zu bytes)", what, size);
        version = (uint16_t)(buf[4] | buf[5] << 8);
        if (version != DW_EVENT_STATE_VERSION)
                return dw_error_set(err, version > DW_EVENT_STATE_VERSION ? EOPNOTSUPP : EBADMSG, 0, 4,
                                    "%s version %u (this build reads %d)", what, version, DW_EVENT_STATE_VERSION);
        payload = (uint32_t)buf[8] | (uint32_t)buf[9] << 8 | (uint32_t)buf[10] << 16 | (uint32_t)buf[11] << 24;
        if (buf[6] || buf[7] || payload != size - BLOB_HEADER - BLOB_CHECK)
                return dw_error_set(err, EBADMSG, 0, 6, "%s of %zu bytes says its payload is %" PRIu32, what, size,
                                    payload);
        if (dw_hash_oneshot(DW_HASH_SHA256, buf, size - BLOB_CHECK, check) < 0)
                return dw_error_set(err, EIO, 0, 0, "cannot hash the %s", what);
        if (memcmp(check, buf + size - BLOB_CHECK, BLOB_CHECK) != 0)
                return dw_error_set(err, EBADMSG, 0, size - BLOB_CHECK, "%s checksum mismatch (damaged)", what);
        *ret = (struct reader){.buf = buf + BLOB_HEADER, .len = payload, .base = BLOB_HEADER};
        return 0;
}

static void blob_chain_id(struct writer *w, const struct dw_event_chain_id *id)
{
        size_t len = strlen(id->gateway_id);

        w_le(w, len, 1);
        w_bytes(w, id->gateway_id, len);
        w_le(w, id->reset_count, 4);
        w_bytes(w, id->boot_id, DW_EVENT_BOOT_ID_SIZE);
}

static bool chain_ok(const struct dw_event_chain *c)
{
        uint8_t genesis[DW_EVENT_HEAD_SIZE];

        if (!chain_id_ok(&c->id) || c->next_seq > DW_EVENT_SEQ_MAX + 1)
                return false;
        if (c->next_seq > 0)
                return true;
        return dw_event_chain_genesis(&c->id, genesis) == 0 && memcmp(genesis, c->head, DW_EVENT_HEAD_SIZE) == 0;
}

int dw_event_chain_serialize(const struct dw_event_chain *c, uint8_t **ret_buf, size_t *ret_size)
{
        struct writer w = {};

        if (!c || !ret_buf || !ret_size || !chain_ok(c))
                return -EINVAL;
        blob_begin(&w, CHAIN_MAGIC);
        blob_chain_id(&w, &c->id);
        w_le(&w, c->next_seq, 8);
        w_bytes(&w, c->head, DW_EVENT_HEAD_SIZE);
        return blob_finish(&w, ret_buf, ret_size);
}

int dw_event_chain_deserialize(const uint8_t *buf, size_t size, struct dw_event_chain *ret, struct dw_error *err)
{
        struct dw_event_chain c = {};
        struct reader r;
        const uint8_t *p;
        int k;

        if (!ret)
                return dw_error_set(err, EINVAL, 0, 0, "invalid argument");
        k = blob_open(buf, size, CHAIN_MAGIC, "event chain", &r, err);
        if (k < 0)
                return k;
        k = get_chain_id(&r, true, &c.id, err);
        if (k < 0)
                return dw_error_set(err, EBADMSG, 0, r_off(&r), "event chain: bad chain id");
        c.next_seq = r_le(&r, 8);
        p = r_bytes(&r, DW_EVENT_HEAD_SIZE);
        if (!p || r.pos != r.len)
                return dw_error_set(err, EBADMSG, 0, r_off(&r), "event chain: truncated or too long");
        memcpy(c.head, p, DW_EVENT_HEAD_SIZE);
        if (!chain_ok(&c))
                return dw_error_set(err, EBADMSG, 0, 0, "event chain: inconsistent");
        *ret = c;
        return 0;
}

static bool is_zero(const void *p, size_t n)
{
        const uint8_t *b = p;

        for (size_t i = 0; i < n; i++)
                if (b[i])
                        return false;
        return true;
}

static bool verify_state_ok(const struct dw_event_verify_state *s)
{
        if (!chain_id_ok(&s->chain) || s->next_seq > DW_EVENT_SEQ_MAX + 1)
                return false;
        if (!s->started)
                return !s->nv_lost && s->next_seq == 0 && s->batches == 0 && s->chains == 0 &&
                       s->chain.reset_count == 0 && is_zero(s->chain.boot_id, DW_EVENT_BOOT_ID_SIZE) &&
                       is_zero(s->head, DW_EVENT_HEAD_SIZE) && is_zero(s->nv, DW_EVENT_HEAD_SIZE);
        return s->next_seq > 0 && s->batches > 0 && s->chains > 0 && s->events >= s->batches;
}

int dw_event_verify_state_init(struct dw_event_verify_state *s, const char *gateway_id)
{
        if (!s || !dw_event_gateway_id_valid(gateway_id))
                return -EINVAL;
        *s = (struct dw_event_verify_state){};
        strcpy(s->chain.gateway_id, gateway_id);
        return 0;
}

int dw_event_verify_state_serialize(const struct dw_event_verify_state *s, uint8_t **ret_buf, size_t *ret_size)
{
        struct writer w = {};

        if (!s || !ret_buf || !ret_size || !verify_state_ok(s))
                return -EINVAL;
        blob_begin(&w, VERIFY_MAGIC);
        w_le(&w, (s->started ? 1u : 0u) | (s->nv_lost ? 2u : 0u), 1);
        blob_chain_id(&w, &s->chain);
        w_le(&w, s->next_seq, 8);
        w_bytes(&w, s->head, DW_EVENT_HEAD_SIZE);
        w_bytes(&w, s->nv, DW_EVENT_HEAD_SIZE);
        w_le(&w, s->batches, 8);
        w_le(&w, s->events, 8);
        w_le(&w, s->chains, 8);
        return blob_finish(&w, ret_buf, ret_size);
}

int dw_event_verify_state_deserialize(const uint8_t *buf, size_t size, struct dw_event_verify_state *ret,
                                      struct dw_error *err)
{
        struct dw_event_verify_state s = {};
        const uint8_t *head, *nv;
        struct reader r;
        unsigned flags;
        int k;

        if (!ret)
                return dw_error_set(err, EINVAL, 0, 0, "invalid argument");
        k = blob_open(buf, size, VERIFY_MAGIC, "event verifier state", &r, err);
        if (k < 0)
                return k;
        flags = (unsigned)r_le(&r, 1);
        if (flags & ~3u)
                return dw_error_set(err, EBADMSG, 0, r_off(&r), "event verifier state: unknown flags 0x%x", flags);
        s.started = flags & 1;
        s.nv_lost = flags & 2;
        k = get_chain_id(&r, true, &s.chain, err);
        if (k < 0)
                return dw_error_set(err, EBADMSG, 0, r_off(&r), "event verifier state: bad chain id");
        s.next_seq = r_le(&r, 8);
        head = r_bytes(&r, DW_EVENT_HEAD_SIZE);
        nv = r_bytes(&r, DW_EVENT_HEAD_SIZE);
        s.batches = r_le(&r, 8);
        s.events = r_le(&r, 8);
        s.chains = r_le(&r, 8);
        if (r.bad || r.pos != r.len)
                return dw_error_set(err, EBADMSG, 0, r_off(&r), "event verifier state: truncated or too long");
        memcpy(s.head, head, DW_EVENT_HEAD_SIZE);
        memcpy(s.nv, nv, DW_EVENT_HEAD_SIZE);
        if (!verify_state_ok(&s))
                return dw_error_set(err, EBADMSG, 0, 0, "event verifier state: inconsistent");
        *ret = s;
        return 0;
}

/* ---- verification -------------------------------------------------------------------------------------------- */

int dw_event_key_from_public(const TPMT_PUBLIC *pub, EVP_PKEY **ret, struct dw_error *err)
{
        const TPMA_OBJECT need = TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT | TPMA_OBJECT_SENSITIVEDATAORIGIN |
                                 TPMA_OBJECT_SIGN_ENCRYPT;
        const TPMA_OBJECT refuse = TPMA_OBJECT_RESTRICTED | TPMA_OBJECT_DECRYPT;
        int r;

        if (!pub || !ret)
                return dw_error_set(err, EINVAL, 0, 0, "invalid argument");
        if (pub->type != TPM2_ALG_ECC || pub->parameters.eccDetail.curveID != TPM2_ECC_NIST_P256)
                return dw_error_set(err, EINVAL, 0, 0, "the event key is not a NIST P-256 key");
        if ((pub->objectAttributes & need) != need || (pub->objectAttributes & refuse) != 0)
                return dw_error_set(err, EINVAL, 0, 0,
                                    "the event key's attributes 0x%08" PRIx32 " are not those of a non-restricted "
                                    "signing key that never left the TPM",
                                    pub->objectAttributes);
        if (pub->parameters.eccDetail.scheme.scheme != TPM2_ALG_ECDSA ||
            pub->parameters.eccDetail.scheme.details.ecdsa.hashAlg != TPM2_ALG_SHA256)
                return dw_error_set(err, EINVAL, 0, 0, "the event key's scheme is not ECDSA-SHA256");
        r = dw_tpm_public_to_pkey(pub, ret);
        if (r < 0)
                return dw_error_set(err, r, 0, 0, "the event key's public point is not a valid P-256 point");
        return 0;
}

static char *short_hex(const uint8_t *data, char buf[static 2 * HEX_SHOWN + 4])
{
        dw_hex_encode(data, HEX_SHOWN, buf);
        memcpy(buf + 2 * HEX_SHOWN, "...", 4);
        return buf;
}

_printf_(3, 4) static int judge(struct dw_event_verify_result *res, enum dw_event_verdict v, const char *fmt, ...)
{
        va_list ap;

        res->verdict = v;
        va_start(ap, fmt);
        vsnprintf(res->msg, sizeof(res->msg), fmt, ap);
        va_end(ap);
        return 0;
}

/* The events hash from prev_head to head, and a chain's first batch starts from its genesis. */
static int check_heads(const struct dw_event_batch *b, struct dw_event_verify_result *res, bool *ret_ok)
{
        uint8_t head[DW_EVENT_HEAD_SIZE];
        char h1[2 * HEX_SHOWN + 4], h2[2 * HEX_SHOWN + 4];
        int r;

        *ret_ok = false;
        if (b->first_seq == 0) {
                r = dw_event_chain_genesis(&b->chain, head);
                if (r < 0)
                        return r;
                if (memcmp(head, b->prev_head, DW_EVENT_HEAD_SIZE) != 0)
                        return judge(res, DW_EVENT_CHAIN_MISMATCH,
                                     "the batch starts the chain but prev_head %s is not its genesis %s",
                                     short_hex(b->prev_head, h1), short_hex(head, h2));
        }
        memcpy(head, b->prev_head, DW_EVENT_HEAD_SIZE);
        for (size_t i = 0; i < b->n_events; i++) {
                r = chain_step(head, b->events[i], head);
                if (r < 0)
                        return r;
        }
        if (memcmp(head, b->head, DW_EVENT_HEAD_SIZE) != 0)
                return judge(res, DW_EVENT_CHAIN_MISMATCH,
                             "events %" PRIu64 "-%" PRIu64 " hash to head %s, the batch says %s (an event or the "
                             "head was changed)",
                             b->first_seq, b->first_seq + b->n_events - 1, short_hex(head, h1), short_hex(b->head, h2));
        *ret_ok = true;
        return 0;
}

static int check_signature(const struct dw_event_batch *b, EVP_PKEY *key, struct dw_event_verify_result *res,
                           bool *ret_ok)
{
        _cleanup_free_ uint8_t *buf = NULL;
        char why[160];
        size_t size;
        int r;

        *ret_ok = false;
        if (!b->has_signature)
                return judge(res, DW_EVENT_BAD_SIGNATURE, "the batch is not signed");
        if (b->signature.sigAlg != TPM2_ALG_ECDSA && b->signature.sigAlg != TPM2_ALG_RSASSA &&
            b->signature.sigAlg != TPM2_ALG_RSAPSS)
                return judge(res, DW_EVENT_BAD_SIGNATURE, "signature scheme 0x%04x is not one an event key uses",
                             b->signature.sigAlg);
        if (b->signature.signature.any.hashAlg != TPM2_ALG_SHA256)
                return judge(res, DW_EVENT_BAD_SIGNATURE, "signature over a digest of hash 0x%04x, not SHA-256",
                             b->signature.signature.any.hashAlg);
        r = dw_event_batch_encode(b, &buf, &size);
        if (r < 0)
                return r;
        r = dw_tpm_signature_verify(key, buf, size, &b->signature, why, sizeof(why));
        if (r == -ENOMEM)
                return r;
        if (r <= 0)
                return judge(res, DW_EVENT_BAD_SIGNATURE, "the batch's signature does not verify with the event key");
        *ret_ok = true;
        return 0;
}

/* The state after accepting b: same chain (or a new one, already reset by the caller). */
static int advance(struct dw_event_verify_state *s, const struct dw_event_batch *b, bool gap)
{
        int r;

        if (gap)
                s->nv_lost = true;
        if (!s->nv_lost) {
                r = dw_event_nv_extend(s->batches > 0 ? s->nv : NULL, b->head, s->nv);
                if (r < 0)
                        return r;
        } else
                memset(s->nv, 0, DW_EVENT_HEAD_SIZE);
        s->next_seq = b->first_seq + b->n_events;
        memcpy(s->head, b->head, DW_EVENT_HEAD_SIZE);
        s->batches++;
        s->events += b->n_events;
        return 0;
}

static int judge_new_chain(const struct dw_event_batch *b, unsigned flags, struct dw_event_verify_result *res)
{
        struct dw_event_verify_state *s = &res->state;
        bool gap = b->first_seq > 0;

        res->expected_seq = 0;
        if (gap)
                judge(res, DW_EVENT_GAP,
                      "a new chain (TPM resetCount %" PRIu32 ") that starts at event %" PRIu64 ": events 0-%" PRIu64
                      " were not received",
                      b->chain.reset_count, b->first_seq, b->first_seq - 1);
        else
                judge(res, DW_EVENT_OK, "events 0-%" PRIu64 " start the chain of TPM resetCount %" PRIu32,
                      b->n_events - 1, b->chain.reset_count);
        if (gap && !(flags & DW_EVENT_VERIFY_ACCEPT_GAP))
                return 0;
        s->chain = b->chain;
        s->started = true;
        s->nv_lost = false;
        s->batches = 0;
        s->chains++;
        memset(s->nv, 0, DW_EVENT_HEAD_SIZE);
        res->accepted = res->new_chain = true;
        return advance(s, b, gap);
}

static int judge_position(const struct dw_event_batch *b, unsigned flags, struct dw_event_verify_result *res)
{
        struct dw_event_verify_state *s = &res->state;
        uint64_t last = b->first_seq + b->n_events - 1;
        char h1[2 * HEX_SHOWN + 4], h2[2 * HEX_SHOWN + 4];

        if (b->first_seq == s->next_seq) {
                if (memcmp(b->prev_head, s->head, DW_EVENT_HEAD_SIZE) != 0)
                        return judge(res, DW_EVENT_FORK,
                                     "events %" PRIu64 "-%" PRIu64 " continue from head %s, the chain is at %s "
                                     "(another history)",
                                     b->first_seq, last, short_hex(b->prev_head, h1), short_hex(s->head, h2));
                judge(res, DW_EVENT_OK, "events %" PRIu64 "-%" PRIu64 " continue the chain", b->first_seq, last);
                res->accepted = true;
                return advance(s, b, false);
        }
        if (b->first_seq > s->next_seq) {
                judge(res, DW_EVENT_GAP,
                      "events %" PRIu64 "-%" PRIu64 " were not received (the batch starts at %" PRIu64 ")", s->next_seq,
                      b->first_seq - 1, b->first_seq);
                if (!(flags & DW_EVENT_VERIFY_ACCEPT_GAP))
                        return 0;
                res->accepted = true;
                return advance(s, b, true);
        }
        if (last == s->next_seq - 1 && memcmp(b->head, s->head, DW_EVENT_HEAD_SIZE) == 0)
                return judge(res, DW_EVENT_DUPLICATE, "events %" PRIu64 "-%" PRIu64 " again: the last batch accepted",
                             b->first_seq, last);
        return judge(res, DW_EVENT_FORK,
                     "events %" PRIu64 "-%" PRIu64 " repeat sequence numbers already received (up to %" PRIu64
                     "): a replay or a rewrite",
                     b->first_seq, last, s->next_seq - 1);
}

static int judge_chain(const struct dw_event_batch *b, unsigned flags, struct dw_event_verify_result *res)
{
        const struct dw_event_verify_state *s = &res->state;
        char b1[37], b2[37];

        if (strcmp(b->chain.gateway_id, s->chain.gateway_id) != 0)
                return judge(res, DW_EVENT_WRONG_CHAIN, "a batch of gateway \"%.*s\", not of \"%.*s\"", 64,
                             b->chain.gateway_id, 64, s->chain.gateway_id);
        if (!s->started || b->chain.reset_count > s->chain.reset_count)
                return judge_new_chain(b, flags, res);
        if (b->chain.reset_count < s->chain.reset_count)
                return judge(res, DW_EVENT_WRONG_CHAIN,
                             "a batch of TPM resetCount %" PRIu32 ", older than the chain's %" PRIu32
                             " (an earlier boot's batch replayed)",
                             b->chain.reset_count, s->chain.reset_count);
        if (memcmp(b->chain.boot_id, s->chain.boot_id, DW_EVENT_BOOT_ID_SIZE) != 0)
                return judge(res, DW_EVENT_FORK,
                             "a second chain in TPM resetCount %" PRIu32 ": boot id %s, the chain's is %s",
                             b->chain.reset_count, dw_event_boot_id_format(b->chain.boot_id, b1),
                             dw_event_boot_id_format(s->chain.boot_id, b2));
        return judge_position(b, flags, res);
}

int dw_event_verify_batch(const struct dw_event_verify_state *s, EVP_PKEY *key, const struct dw_event_batch *b,
                          unsigned flags, struct dw_event_verify_result *ret)
{
        struct dw_event_verify_state old;
        char buf[DW_EVENT_KEY_MAX + 256];
        const char *why;
        bool ok;
        int r;

        if (!s || !key || !b || !ret || (flags & ~DW_EVENT_VERIFY_ACCEPT_GAP) || !verify_state_ok(s))
                return -EINVAL;
        old = *s;
        *ret = (struct dw_event_verify_result){.state = old, .expected_seq = old.next_seq};
        ret->first_seq = b->first_seq;
        ret->n_events = b->n_events;
        why = batch_structure_error(b, buf, sizeof(buf));
        if (why)
                return judge(ret, DW_EVENT_BAD_ENCODING, "%s", why);
        r = check_heads(b, ret, &ok);
        if (r < 0 || !ok)
                return r;
        r = check_signature(b, key, ret, &ok);
        if (r < 0 || !ok)
                return r;
        r = judge_chain(b, flags, ret);
        if (r < 0) {
                ret->state = old;
                ret->accepted = ret->new_chain = false;
        }
        return r;
}

int dw_event_verify_batch_json(const struct dw_event_verify_state *s, EVP_PKEY *key, const char *text, size_t len,
                               unsigned flags, struct dw_event_verify_result *ret, struct dw_event_batch **ret_batch)
{
        _cleanup_(dw_event_batch_freep) struct dw_event_batch *b = NULL;
        struct dw_error err = {};
        int r;

        if (!s || !key || (!text && len > 0) || !ret || (flags & ~DW_EVENT_VERIFY_ACCEPT_GAP) || !verify_state_ok(s))
                return -EINVAL;
        r = dw_event_batch_parse_json(text, len, &b, &err);
        if (r == -ENOMEM)
                return r;
        if (r < 0) {
                *ret = (struct dw_event_verify_result){.state = *s, .expected_seq = s->next_seq};
                return judge(ret, DW_EVENT_BAD_ENCODING, "%s", err.msg);
        }
        r = dw_event_verify_batch(s, key, b, flags, ret);
        if (r < 0)
                return r;
        if (ret_batch)
                *ret_batch = TAKE_PTR(b);
        return 0;
}

int dw_event_verify_state_nv_value(const struct dw_event_verify_state *s, uint8_t ret[static DW_EVENT_HEAD_SIZE])
{
        if (!s || !ret)
                return -EINVAL;
        if (!s->started || s->batches == 0)
                return -ENODATA;
        if (s->nv_lost)
                return -ESTALE;
        memcpy(ret, s->nv, DW_EVENT_HEAD_SIZE);
        return 0;
}

_printf_(3, 4) static int nv_judge(struct dw_event_nv_result *res, enum dw_event_nv_verdict v, const char *fmt, ...)
{
        va_list ap;

        res->verdict = v;
        va_start(ap, fmt);
        vsnprintf(res->msg, sizeof(res->msg), fmt, ap);
        va_end(ap);
        return 0;
}

int dw_event_verify_nv(const struct dw_event_verify_state *s, const TPMS_ATTEST *attest, struct dw_event_nv_result *ret)
{
        const TPMS_NV_CERTIFY_INFO *nv;
        char h1[2 * HEX_SHOWN + 4], h2[2 * HEX_SHOWN + 4];
        uint8_t want[DW_EVENT_HEAD_SIZE];
        int r;

        if (!s || !attest || !ret || !verify_state_ok(s))
                return -EINVAL;
        *ret = (struct dw_event_nv_result){};
        nv = &attest->attested.nv;
        if (attest->type != TPM2_ST_ATTEST_NV || nv->offset != 0 || nv->nvContents.size != DW_EVENT_HEAD_SIZE)
                return nv_judge(ret, DW_EVENT_NV_MALFORMED,
                                "not a certification of the whole 32-byte NV extend index (type 0x%04x, %u bytes at "
                                "offset %u)",
                                attest->type, nv->nvContents.size, nv->offset);
        if (!s->started)
                return nv_judge(ret, DW_EVENT_NV_MISMATCH,
                                "the TPM certifies NV value %s, but no batch of events was received",
                                short_hex(nv->nvContents.buffer, h1));
        if (attest->clockInfo.resetCount != s->chain.reset_count)
                return nv_judge(ret, DW_EVENT_NV_EPOCH,
                                "the NV value is certified at TPM resetCount %" PRIu32
                                ", the event chain is of %" PRIu32,
                                attest->clockInfo.resetCount, s->chain.reset_count);
        r = dw_event_verify_state_nv_value(s, want);
        if (r == -ESTALE)
                return nv_judge(ret, DW_EVENT_NV_UNKNOWN,
                                "a gap was accepted in this chain: the NV value cannot be recomputed");
        if (r < 0)
                return r;
        if (memcmp(want, nv->nvContents.buffer, DW_EVENT_HEAD_SIZE) != 0)
                return nv_judge(ret, DW_EVENT_NV_MISMATCH,
                                "the TPM certifies NV value %s, the %" PRIu64 " batches received (events up to %" PRIu64
                                ") give %s: batches were dropped, rewritten or not extended",
                                short_hex(nv->nvContents.buffer, h1), s->batches, s->next_seq - 1, short_hex(want, h2));
        return nv_judge(ret, DW_EVENT_NV_OK, "the TPM certifies the NV value of the %" PRIu64 " batches received (%s)",
                        s->batches, short_hex(want, h1));
}
