/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hex.h"
#include "ima-write.h"
#include "macro.h"

#define IMA_D_SIZE 20

void dw_ima_buf_done(struct dw_ima_buf *b)
{
        free(b->data);
        *b = (struct dw_ima_buf){};
}

static int buf_reserve(struct dw_ima_buf *b, size_t more)
{
        size_t want;
        uint8_t *d;

        if (more > SIZE_MAX - b->len)
                return -ENOMEM;
        if (b->len + more <= b->allocated)
                return 0;
        want = MAX(b->len + more, MAX(2 * b->allocated, (size_t)256));
        d = realloc(b->data, want);
        if (!d)
                return -ENOMEM;
        b->data = d;
        b->allocated = want;
        return 0;
}

int dw_ima_buf_append(struct dw_ima_buf *b, const void *data, size_t len)
{
        int r;

        if (len == 0)
                return 0;
        r = buf_reserve(b, len);
        if (r < 0)
                return r;
        memcpy(b->data + b->len, data, len);
        b->len += len;
        return 0;
}

static int buf_append_le32(struct dw_ima_buf *b, uint32_t v)
{
        uint8_t le[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};

        return dw_ima_buf_append(b, le, sizeof(le));
}

static int buf_append_str(struct dw_ima_buf *b, const char *s)
{
        return dw_ima_buf_append(b, s, strlen(s));
}

static int buf_append_hex(struct dw_ima_buf *b, const uint8_t *data, size_t len)
{
        int r;

        r = buf_reserve(b, 2 * len + 1);
        if (r < 0)
                return r;
        dw_hex_encode(data, len, (char *)b->data + b->len);
        b->len += 2 * len;
        return 0;
}

/* A string field as the kernel stores it (DATA_FMT_STRING): spaces become '_', then a NUL. */
static int buf_append_kernel_string(struct dw_ima_buf *b, const char *s, size_t len)
{
        size_t start = b->len;
        int r;

        r = dw_ima_buf_append(b, s, len);
        if (r < 0)
                return r;
        for (size_t i = start; i < b->len; i++)
                if (b->data[i] == ' ')
                        b->data[i] = '_';
        return dw_ima_buf_append(b, "", 1);
}

void dw_ima_built_entry_done(struct dw_ima_built_entry *b)
{
        dw_ima_buf_done(&b->data);
        *b = (struct dw_ima_built_entry){};
}

/* "<type>:<algo>:\0<digest>" (type may be NULL); a violation's digest is zeros. */
static int append_digest_with_algo(struct dw_ima_buf *b, const char *type, const char *algo, const uint8_t *digest,
                                   size_t len, bool violation)
{
        static const uint8_t zeros[DW_HASH_MAX_SIZE];
        int r;

        if (!algo)
                return -EINVAL;
        if (type) {
                r = buf_append_str(b, type);
                if (r >= 0)
                        r = dw_ima_buf_append(b, ":", 1);
                if (r < 0)
                        return r;
        }
        r = buf_append_str(b, algo);
        if (r >= 0)
                r = dw_ima_buf_append(b, ":", 2); /* ':' and the NUL */
        if (r < 0)
                return r;
        if (violation || !digest) {
                if (len > sizeof(zeros))
                        return -EINVAL;
                return dw_ima_buf_append(b, zeros, len);
        }
        return dw_ima_buf_append(b, digest, len);
}

/* Digest size for a violation without a digest: the one given, else the algorithm's. */
static size_t event_digest_len(const struct dw_ima_event *ev)
{
        enum dw_hash_alg alg;

        if (ev->digest_len > 0 || ev->digest)
                return ev->digest_len;
        if (ev->digest_algo && dw_hash_alg_from_name(ev->digest_algo, strlen(ev->digest_algo), &alg) >= 0)
                return dw_hash_alg_size(alg);
        return IMA_D_SIZE;
}

static int append_uint_le(struct dw_ima_buf *b, uint32_t v, size_t width)
{
        uint8_t le[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};

        return dw_ima_buf_append(b, le, width);
}

/* Appends one field's data (without its length) as the kernel's field_init writes it. */
static int field_append(struct dw_ima_buf *b, enum dw_ima_field_id id, const struct dw_ima_event *ev)
{
        static const uint8_t zeros[DW_HASH_MAX_SIZE];
        size_t n;

        switch (id) {
        case DW_IMA_FIELD_D:
                n = event_digest_len(ev);
                if (ev->violation || !ev->digest)
                        return n <= sizeof(zeros) ? dw_ima_buf_append(b, zeros, n) : -EINVAL;
                return dw_ima_buf_append(b, ev->digest, n);
        case DW_IMA_FIELD_D_NG:
                return append_digest_with_algo(b, NULL, ev->digest_algo, ev->digest, event_digest_len(ev),
                                               ev->violation);
        case DW_IMA_FIELD_D_NGV2:
                return append_digest_with_algo(b, ev->digest_type ?: "ima", ev->digest_algo, ev->digest,
                                               event_digest_len(ev), ev->violation);
        case DW_IMA_FIELD_N:
                if (!ev->name)
                        return -EINVAL;
                return buf_append_kernel_string(b, ev->name, MIN(strlen(ev->name), (size_t)DW_IMA_EVENT_NAME_LEN_MAX));
        case DW_IMA_FIELD_N_NG:
                if (!ev->name)
                        return -EINVAL;
                return buf_append_kernel_string(b, ev->name, strlen(ev->name));
        case DW_IMA_FIELD_SIG:
                return dw_ima_buf_append(b, ev->sig, ev->sig ? ev->sig_len : 0);
        case DW_IMA_FIELD_BUF:
                return dw_ima_buf_append(b, ev->buf, ev->buf ? ev->buf_len : 0);
        case DW_IMA_FIELD_D_MODSIG:
                if (ev->modsig_len == 0)
                        return 0;
                return append_digest_with_algo(b, NULL, ev->modsig_digest_algo, ev->modsig_digest,
                                               ev->modsig_digest_len, ev->violation);
        case DW_IMA_FIELD_MODSIG:
                return dw_ima_buf_append(b, ev->modsig, ev->modsig ? ev->modsig_len : 0);
        case DW_IMA_FIELD_EVMSIG:
                return dw_ima_buf_append(b, ev->evmsig, ev->evmsig ? ev->evmsig_len : 0);
        case DW_IMA_FIELD_IUID:
                return ev->has_inode ? append_uint_le(b, ev->uid, 4) : 0;
        case DW_IMA_FIELD_IGID:
                return ev->has_inode ? append_uint_le(b, ev->gid, 4) : 0;
        case DW_IMA_FIELD_IMODE:
                return ev->has_inode ? append_uint_le(b, ev->mode, 2) : 0;
        case DW_IMA_FIELD_XATTRNAMES:
                if (!ev->xattrnames || !ev->xattrnames[0])
                        return 0;
                return dw_ima_buf_append(b, ev->xattrnames, strlen(ev->xattrnames) + 1);
        case DW_IMA_FIELD_XATTRLENGTHS:
                return dw_ima_buf_append(b, ev->xattrlengths, ev->xattrlengths ? ev->xattrlengths_len : 0);
        case DW_IMA_FIELD_XATTRVALUES:
                return dw_ima_buf_append(b, ev->xattrvalues, ev->xattrvalues ? ev->xattrvalues_len : 0);
        default:
                return -EINVAL;
        }
}

/* Template data: u32 length + data per field, lengths patched in once each field is written. */
static int template_data_build(const struct dw_ima_template *t, const struct dw_ima_event *ev, struct dw_ima_buf *b)
{
        int r;

        for (unsigned i = 0; i < t->n_fields; i++) {
                size_t start = b->len;
                uint32_t n;

                r = buf_append_le32(b, 0);
                if (r < 0)
                        return r;
                r = field_append(b, t->fields[i], ev);
                if (r < 0)
                        return r;
                if (b->len - start - 4 > DW_IMA_TEMPLATE_DATA_MAX)
                        return -E2BIG;
                n = (uint32_t)(b->len - start - 4);
                b->data[start] = (uint8_t)n;
                b->data[start + 1] = (uint8_t)(n >> 8);
                b->data[start + 2] = (uint8_t)(n >> 16);
                b->data[start + 3] = (uint8_t)(n >> 24);
        }
        return b->len > DW_IMA_TEMPLATE_DATA_MAX ? -E2BIG : 0;
}

/* Points the entry's fields into the built data. */
static void fields_point(struct dw_ima_built_entry *b)
{
        struct dw_ima_entry *e = &b->entry;
        size_t pos = 0;

        if (e->tmpl.is_ima) {
                e->fields[0] = (struct dw_ima_field){DW_IMA_FIELD_D, b->data.data, IMA_D_SIZE};
                e->fields[1] = (struct dw_ima_field){DW_IMA_FIELD_N, b->data.data + IMA_D_SIZE,
                                                     (uint32_t)(b->data.len - IMA_D_SIZE)};
                e->template_data = NULL;
                e->template_data_len = 0;
                return;
        }
        for (unsigned i = 0; i < e->tmpl.n_fields; i++) {
                const uint8_t *p = b->data.data + pos;
                uint32_t n = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;

                e->fields[i] = (struct dw_ima_field){e->tmpl.fields[i], p + 4, n};
                pos += 4 + n;
        }
        e->template_data = b->data.data;
        e->template_data_len = (uint32_t)b->data.len;
}

static int template_digest_set(struct dw_hasher *h, enum dw_ima_bank_rule rule, struct dw_ima_entry *e)
{
        size_t size = dw_hash_alg_size(e->digest_alg);
        int r;

        memset(e->template_digest, 0, sizeof(e->template_digest));
        if (e->violation)
                return 0;
        if (rule == DW_IMA_BANK_SHA1_PADDED)
                r = dw_ima_entry_template_hash(h, e, DW_HASH_SHA1, e->template_digest);
        else
                r = dw_ima_entry_template_hash(h, e, e->digest_alg, e->template_digest);
        if (r < 0)
                return r;
        if (rule == DW_IMA_BANK_SHA1_PADDED && size > 20)
                memset(e->template_digest + 20, 0, size - 20);
        return 0;
}

int dw_ima_event_build(struct dw_hasher *h, const struct dw_ima_event *ev, enum dw_hash_alg digest_alg,
                       enum dw_ima_bank_rule rule, struct dw_ima_built_entry *ret)
{
        struct dw_ima_built_entry b = {};
        struct dw_ima_entry *e = &b.entry;
        size_t name_len;
        int r;

        if (!h || !ev || !ret || !ev->template_name || dw_hash_alg_size(digest_alg) == 0 ||
            (rule != DW_IMA_BANK_NATIVE && rule != DW_IMA_BANK_SHA1_PADDED))
                return -EINVAL;
        name_len = strlen(ev->template_name);
        if (name_len == 0 || name_len > DW_IMA_TEMPLATE_NAME_MAX || ev->pcr >= DW_IMA_NR_PCRS)
                return -EINVAL;
        r = dw_ima_template_lookup(ev->template_name, name_len, &e->tmpl);
        if (r < 0)
                return -EINVAL;

        if (e->tmpl.is_ima) {
                /* d then n with its NUL: the layout the fields point into. */
                if (event_digest_len(ev) != IMA_D_SIZE)
                        r = -EINVAL;
                else
                        r = field_append(&b.data, DW_IMA_FIELD_D, ev);
                if (r >= 0)
                        r = field_append(&b.data, DW_IMA_FIELD_N, ev);
        } else
                r = template_data_build(&e->tmpl, ev, &b.data);
        if (r < 0) {
                dw_ima_buf_done(&b.data);
                return r;
        }

        memcpy(b.template_name, ev->template_name, name_len + 1);
        e->pcr = ev->pcr;
        e->digest_alg = digest_alg;
        e->violation = ev->violation;
        e->template_name_len = name_len;
        fields_point(&b);
        r = template_digest_set(h, rule, e);
        if (r < 0) {
                dw_ima_buf_done(&b.data);
                return r;
        }

        dw_ima_built_entry_done(ret);
        *ret = b;
        /* The copy moved template_name: point at the copy's. */
        ret->entry.template_name = ret->template_name;
        return 0;
}

int dw_ima_entry_write_binary(const struct dw_ima_entry *e, struct dw_ima_buf *out)
{
        size_t dsize, start;
        int r;

        if (!e || !out)
                return -EINVAL;
        dsize = dw_hash_alg_size(e->digest_alg);
        if (dsize == 0 || !e->template_name || e->template_name_len == 0 ||
            e->template_name_len > DW_IMA_TEMPLATE_NAME_MAX)
                return -EINVAL;
        if (e->tmpl.is_ima && (e->tmpl.n_fields != 2 || e->fields[0].len != IMA_D_SIZE || e->fields[1].len == 0))
                return -EINVAL;
        if (!e->tmpl.is_ima && e->template_data_len > 0 && !e->template_data)
                return -EINVAL;

        start = out->len;
        r = buf_append_le32(out, e->pcr);
        if (r >= 0)
                r = dw_ima_buf_append(out, e->template_digest, dsize);
        if (r >= 0)
                r = buf_append_le32(out, (uint32_t)e->template_name_len);
        if (r >= 0)
                r = dw_ima_buf_append(out, e->template_name, e->template_name_len);
        if (r >= 0 && e->tmpl.is_ima) {
                /* d without its length; n as strlen + the name without its NUL (IMA_SHOW_BINARY_OLD_STRING_FMT). */
                size_t n = strnlen((const char *)e->fields[1].data, e->fields[1].len);

                r = dw_ima_buf_append(out, e->fields[0].data, IMA_D_SIZE);
                if (r >= 0)
                        r = buf_append_le32(out, (uint32_t)n);
                if (r >= 0)
                        r = dw_ima_buf_append(out, e->fields[1].data, n);
        } else if (r >= 0) {
                r = buf_append_le32(out, e->template_data_len);
                if (r >= 0)
                        r = dw_ima_buf_append(out, e->template_data, e->template_data_len);
        }
        if (r < 0)
                out->len = start;
        return r;
}

/* One field as ima_show_template_data_ascii() shows it. */
static int field_write_ascii(const struct dw_ima_field *f, struct dw_ima_buf *out)
{
        const uint8_t *nul;
        char num[24];
        uint64_t v = 0;

        if (f->len == 0)
                return 0;
        switch (f->id) {
        case DW_IMA_FIELD_D_NG:
        case DW_IMA_FIELD_D_NGV2:
        case DW_IMA_FIELD_D_MODSIG: {
                int r;

                nul = memchr(f->data, '\0', f->len);
                if (!nul)
                        return -EINVAL;
                r = dw_ima_buf_append(out, f->data, (size_t)(nul - f->data));
                if (r < 0)
                        return r;
                return buf_append_hex(out, nul + 1, f->len - (size_t)(nul + 1 - f->data));
        }
        case DW_IMA_FIELD_N:
        case DW_IMA_FIELD_N_NG:
        case DW_IMA_FIELD_XATTRNAMES:
                return dw_ima_buf_append(out, f->data, strnlen((const char *)f->data, f->len));
        case DW_IMA_FIELD_IUID:
        case DW_IMA_FIELD_IGID:
        case DW_IMA_FIELD_IMODE:
                if (f->len != 1 && f->len != 2 && f->len != 4 && f->len != 8)
                        return 0; /* the kernel shows nothing */
                for (uint32_t i = f->len; i > 0; i--)
                        v = v << 8 | f->data[i - 1];
                snprintf(num, sizeof(num), "%" PRIu64, v);
                return buf_append_str(out, num);
        default:
                return buf_append_hex(out, f->data, f->len);
        }
}

int dw_ima_entry_write_ascii(const struct dw_ima_entry *e, struct dw_ima_buf *out)
{
        size_t dsize, start;
        char pcr[16];
        int r;

        if (!e || !out)
                return -EINVAL;
        dsize = dw_hash_alg_size(e->digest_alg);
        if (dsize == 0 || !e->template_name || e->tmpl.n_fields > DW_IMA_TEMPLATE_FIELDS_MAX)
                return -EINVAL;

        start = out->len;
        snprintf(pcr, sizeof(pcr), "%2" PRIu32 " ", e->pcr);
        r = buf_append_str(out, pcr);
        if (r >= 0)
                r = buf_append_hex(out, e->template_digest, dsize);
        if (r >= 0)
                r = dw_ima_buf_append(out, " ", 1);
        if (r >= 0)
                r = dw_ima_buf_append(out, e->template_name, e->template_name_len);
        for (unsigned i = 0; r >= 0 && i < e->tmpl.n_fields; i++) {
                r = dw_ima_buf_append(out, " ", 1);
                if (r >= 0)
                        r = field_write_ascii(&e->fields[i], out);
        }
        if (r >= 0)
                r = dw_ima_buf_append(out, "\n", 1);
        if (r < 0)
                out->len = start;
        return r;
}

int dw_ima_event_write(struct dw_hasher *h, const struct dw_ima_event *ev, enum dw_ima_format format,
                       enum dw_hash_alg digest_alg, enum dw_ima_bank_rule rule, struct dw_ima_buf *out)
{
        _cleanup_(dw_ima_built_entry_done) struct dw_ima_built_entry b = {};
        int r;

        r = dw_ima_event_build(h, ev, digest_alg, rule, &b);
        if (r < 0)
                return r;
        switch (format) {
        case DW_IMA_FORMAT_BINARY:
                return dw_ima_entry_write_binary(&b.entry, out);
        case DW_IMA_FORMAT_ASCII:
                return dw_ima_entry_write_ascii(&b.entry, out);
        default:
                return -EINVAL;
        }
}
