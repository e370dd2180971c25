/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hex.h"
#include "ima-log.h"
#include "macro.h"

/* The kernel's hash_algo_name[] (crypto/hash_info.c) bounds an algorithm name to CRYPTO_MAX_ALG_NAME. */
#define KERNEL_ALG_NAME_MAX 128
#define IMA_D_NAME_BUF      (DW_IMA_EVENT_NAME_LEN_MAX + 1) /* the "ima" template hashes n padded to this */
#define IMA_D_SIZE          20                              /* "d" in the "ima" template: SHA-1 (or MD5) size */
#define SCRATCH_MIN         4096

static const char *const field_names[_DW_IMA_FIELD_MAX] = {
        [DW_IMA_FIELD_D] = "d",
        [DW_IMA_FIELD_N] = "n",
        [DW_IMA_FIELD_D_NG] = "d-ng",
        [DW_IMA_FIELD_D_NGV2] = "d-ngv2",
        [DW_IMA_FIELD_N_NG] = "n-ng",
        [DW_IMA_FIELD_SIG] = "sig",
        [DW_IMA_FIELD_BUF] = "buf",
        [DW_IMA_FIELD_D_MODSIG] = "d-modsig",
        [DW_IMA_FIELD_MODSIG] = "modsig",
        [DW_IMA_FIELD_EVMSIG] = "evmsig",
        [DW_IMA_FIELD_IUID] = "iuid",
        [DW_IMA_FIELD_IGID] = "igid",
        [DW_IMA_FIELD_IMODE] = "imode",
        [DW_IMA_FIELD_XATTRNAMES] = "xattrnames",
        [DW_IMA_FIELD_XATTRLENGTHS] = "xattrlengths",
        [DW_IMA_FIELD_XATTRVALUES] = "xattrvalues",
};

#define F(x) DW_IMA_FIELD_##x
static const struct builtin_template {
        const char *name;
        struct dw_ima_template tmpl;
} builtin_templates[] = {
        /* Most common first: lookups are a linear scan. */
        {"ima-ng", {{F(D_NG), F(N_NG)}, 2, false}},
        {"ima-sig", {{F(D_NG), F(N_NG), F(SIG)}, 3, false}},
        {"ima-buf", {{F(D_NG), F(N_NG), F(BUF)}, 3, false}},
        {"ima", {{F(D), F(N)}, 2, true}},
        {"ima-ngv2", {{F(D_NGV2), F(N_NG)}, 2, false}},
        {"ima-sigv2", {{F(D_NGV2), F(N_NG), F(SIG)}, 3, false}},
        {"ima-modsig", {{F(D_NG), F(N_NG), F(SIG), F(D_MODSIG), F(MODSIG)}, 5, false}},
        {"evm-sig",
         {{F(D_NG), F(N_NG), F(EVMSIG), F(XATTRNAMES), F(XATTRLENGTHS), F(XATTRVALUES), F(IUID), F(IGID), F(IMODE)},
          9,
          false}},
};
#undef F

/* The kernel's hash_algo_name[] with digest sizes; other names are accepted with any plausible size. */
static const struct kernel_hash_algo {
        const char *name;
        uint8_t size;
} kernel_hash_algos[] = {
        {"sha256", 32}, {"sha1", 20},     {"sha512", 64},   {"sha384", 48},      {"sm3", 32},         {"md5", 16},
        {"sha224", 28}, {"sha3-256", 32}, {"sha3-384", 48}, {"sha3-512", 64},    {"md4", 16},         {"rmd128", 16},
        {"rmd160", 20}, {"rmd256", 32},   {"rmd320", 40},   {"wp256", 32},       {"wp384", 48},       {"wp512", 64},
        {"tgr128", 16}, {"tgr160", 20},   {"tgr192", 24},   {"streebog256", 32}, {"streebog512", 64},
};

static const uint8_t zeros[DW_HASH_MAX_SIZE];

/* Where an entry is, for error messages. */
struct where {
        struct dw_error *err;
        uint64_t index;
        size_t offset;
};

_printf_(3, 4) static int fail(const struct where *w, int errnum, const char *fmt, ...)
{
        char msg[sizeof(((struct dw_error *)NULL)->msg)];
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        return dw_error_set(w->err, errnum, w->index, w->offset, "%s", msg);
}

/* A byte string from the input made safe for a message: printable ASCII only, cut at 48 characters. */
static const char *printable(const void *data, size_t len, char buf[static 64])
{
        const uint8_t *s = data;
        size_t n = MIN(len, (size_t)48), i;

        for (i = 0; i < n; i++)
                buf[i] = s[i] >= 0x20 && s[i] < 0x7f ? (char)s[i] : '?';
        if (n < len) {
                memcpy(buf + n, "...", 3);
                n += 3;
        }
        buf[n] = '\0';
        return buf;
}

static uint32_t get_le32(const uint8_t *p)
{
        return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void put_le32(uint8_t *p, uint32_t v)
{
        p[0] = (uint8_t)v;
        p[1] = (uint8_t)(v >> 8);
        p[2] = (uint8_t)(v >> 16);
        p[3] = (uint8_t)(v >> 24);
}

const char *dw_ima_field_id_name(enum dw_ima_field_id id)
{
        if (id < 0 || id >= _DW_IMA_FIELD_MAX)
                return NULL;
        return field_names[id];
}

static int field_id_from_name(const char *name, size_t len, enum dw_ima_field_id *ret)
{
        for (enum dw_ima_field_id id = 0; id < _DW_IMA_FIELD_MAX; id++)
                if (strlen(field_names[id]) == len && memcmp(field_names[id], name, len) == 0) {
                        *ret = id;
                        return 0;
                }
        return -EBADMSG;
}

/* Like dw_ima_template_lookup(), and on an unknown field id says which one. */
static int template_lookup(const char *name, size_t len, struct dw_ima_template *ret, const char **ret_bad,
                           size_t *ret_bad_len)
{
        struct dw_ima_template t = {};
        size_t start = 0;

        for (size_t i = 0; i < ELEMENTSOF(builtin_templates); i++)
                if (strlen(builtin_templates[i].name) == len && memcmp(builtin_templates[i].name, name, len) == 0) {
                        *ret = builtin_templates[i].tmpl;
                        return 0;
                }

        /* A custom template is named by its format string, "f1|f2|...". */
        if (len == 0 || len > DW_IMA_TEMPLATE_NAME_MAX)
                goto bad;
        for (size_t i = 0; i <= len; i++) {
                if (i < len && name[i] != '|')
                        continue;
                if (t.n_fields >= DW_IMA_TEMPLATE_FIELDS_MAX ||
                    field_id_from_name(name + start, i - start, &t.fields[t.n_fields]) < 0) {
                        if (t.n_fields < DW_IMA_TEMPLATE_FIELDS_MAX) {
                                *ret_bad = name + start;
                                *ret_bad_len = i - start;
                        } else {
                                *ret_bad = NULL; /* too many fields */
                                *ret_bad_len = 0;
                        }
                        return -EBADMSG;
                }
                t.n_fields++;
                start = i + 1;
        }
        *ret = t;
        return 0;
bad:
        *ret_bad = name;
        *ret_bad_len = len;
        return -EBADMSG;
}

int dw_ima_template_lookup(const char *name, size_t len, struct dw_ima_template *ret)
{
        const char *bad;
        size_t bad_len;

        if (!name || !ret)
                return -EINVAL;
        return template_lookup(name, len, ret, &bad, &bad_len);
}

static int template_lookup_where(const struct where *w, const char *name, size_t len, struct dw_ima_template *ret)
{
        char buf1[64], buf2[64];
        const char *bad;
        size_t bad_len;

        if (template_lookup(name, len, ret, &bad, &bad_len) >= 0)
                return 0;
        if (!bad)
                return fail(w, EBADMSG, "template '%s' has more than %d fields", printable(name, len, buf1),
                            DW_IMA_TEMPLATE_FIELDS_MAX);
        if (!memchr(name, '|', len))
                return fail(w, EBADMSG, "unknown template '%s'", printable(name, len, buf1));
        return fail(w, EBADMSG, "unknown template field '%s' in template '%s'", printable(bad, bad_len, buf1),
                    printable(name, len, buf2));
}

/* Digest size of one of the kernel's hash algorithms, 0 for a name it does not have. */
static size_t kernel_hash_algo_size(const char *name, size_t len)
{
        for (size_t i = 0; i < ELEMENTSOF(kernel_hash_algos); i++)
                if (strlen(kernel_hash_algos[i].name) == len && memcmp(kernel_hash_algos[i].name, name, len) == 0)
                        return kernel_hash_algos[i].size;
        return 0;
}

/* The parts of a d, d-ng, d-ngv2 or d-modsig field. */
struct digest_field {
        const char *type; /* d-ngv2: "ima" or "verity" (static strings); NULL otherwise */
        const char *algo; /* into the field data, not NUL-terminated; NULL for "d" */
        size_t algo_len;
        const uint8_t *digest;
        size_t digest_len;
};

static bool valid_algo_char(uint8_t c)
{
        return c > 0x20 && c < 0x7f && c != ':';
}

/* Splits a non-empty digest field: "d" is the bare digest, d-ng and d-modsig "<algo>:\0<digest>", d-ngv2
 * "<type>:<algo>:\0<digest>". */
static int digest_field_parse(const struct where *w, const struct dw_ima_field *f, struct digest_field *ret)
{
        const char *id = field_names[f->id];
        struct digest_field d = {};
        const uint8_t *nul, *p;
        size_t prefix_len, known;
        char buf[64];

        if (f->id == DW_IMA_FIELD_D) {
                if (f->len != 16 && f->len != 20)
                        return fail(w, EBADMSG, "field 'd' has %" PRIu32 " bytes, expected 20 (or 16)", f->len);
                d.digest = f->data;
                d.digest_len = f->len;
                *ret = d;
                return 0;
        }

        nul = memchr(f->data, '\0', MIN(f->len, (uint32_t)(2 * KERNEL_ALG_NAME_MAX)));
        if (!nul)
                return fail(w, EBADMSG, "field '%s' has no '<algorithm>:' prefix", id);
        prefix_len = (size_t)(nul - f->data);
        if (prefix_len < 2 || f->data[prefix_len - 1] != ':')
                return fail(w, EBADMSG, "field '%s' prefix '%s' does not end in ':'", id,
                            printable(f->data, prefix_len, buf));
        p = f->data;
        if (f->id == DW_IMA_FIELD_D_NGV2) {
                const uint8_t *colon = memchr(p, ':', prefix_len - 1);

                if (colon && colon - p == 3 && memcmp(p, "ima", 3) == 0)
                        d.type = "ima";
                else if (colon && colon - p == 6 && memcmp(p, "verity", 6) == 0)
                        d.type = "verity";
                else
                        return fail(w, EBADMSG, "field 'd-ngv2' prefix '%s' has no digest type ima: or verity:",
                                    printable(f->data, prefix_len, buf));
                p = colon + 1;
        }
        d.algo = (const char *)p;
        d.algo_len = (size_t)(nul - 1 - p);
        if (d.algo_len == 0)
                return fail(w, EBADMSG, "field '%s' has an empty algorithm name", id);
        for (size_t i = 0; i < d.algo_len; i++)
                if (!valid_algo_char(p[i]))
                        return fail(w, EBADMSG, "field '%s' has a bad algorithm name '%s'", id,
                                    printable(p, d.algo_len, buf));
        d.digest = nul + 1;
        d.digest_len = f->len - prefix_len - 1;
        known = kernel_hash_algo_size(d.algo, d.algo_len);
        if (known && d.digest_len != known)
                return fail(w, EBADMSG, "field '%s': %s digest has %zu bytes, expected %zu", id,
                            printable(d.algo, d.algo_len, buf), d.digest_len, known);
        if (!known && (d.digest_len == 0 || d.digest_len > DW_HASH_MAX_SIZE))
                return fail(w, EBADMSG, "field '%s': %s digest has %zu bytes", id, printable(d.algo, d.algo_len, buf),
                            d.digest_len);
        *ret = d;
        return 0;
}

/* A string field: the bytes, then one NUL, no NUL before it. */
static int string_field_check(const struct where *w, const struct dw_ima_field *f)
{
        const char *id = field_names[f->id];

        if (f->len == 0)
                return fail(w, EBADMSG, "field '%s' is empty", id);
        if (f->data[f->len - 1] != '\0')
                return fail(w, EBADMSG, "field '%s' does not end in a NUL", id);
        if (memchr(f->data, '\0', f->len - 1))
                return fail(w, EBADMSG, "field '%s' has a NUL inside", id);
        return 0;
}

static int field_check(const struct where *w, const struct dw_ima_field *f)
{
        struct digest_field d;

        switch (f->id) {
        case DW_IMA_FIELD_D:
        case DW_IMA_FIELD_D_NG:
        case DW_IMA_FIELD_D_NGV2:
                return digest_field_parse(w, f, &d);
        case DW_IMA_FIELD_D_MODSIG:
                return f->len == 0 ? 0 : digest_field_parse(w, f, &d);
        case DW_IMA_FIELD_N:
                if (f->len > DW_IMA_EVENT_NAME_LEN_MAX + 1)
                        return fail(w, EBADMSG, "field 'n' has %" PRIu32 " bytes, more than %d", f->len,
                                    DW_IMA_EVENT_NAME_LEN_MAX + 1);
                return string_field_check(w, f);
        case DW_IMA_FIELD_N_NG:
                return string_field_check(w, f);
        case DW_IMA_FIELD_XATTRNAMES:
                return f->len == 0 ? 0 : string_field_check(w, f);
        case DW_IMA_FIELD_IUID:
        case DW_IMA_FIELD_IGID:
                if (f->len != 0 && f->len != 4)
                        return fail(w, EBADMSG, "field '%s' has %" PRIu32 " bytes, expected 4", field_names[f->id],
                                    f->len);
                return 0;
        case DW_IMA_FIELD_IMODE:
                if (f->len != 0 && f->len != 2)
                        return fail(w, EBADMSG, "field 'imode' has %" PRIu32 " bytes, expected 2", f->len);
                return 0;
        case DW_IMA_FIELD_SIG:
        case DW_IMA_FIELD_BUF:
        case DW_IMA_FIELD_MODSIG:
        case DW_IMA_FIELD_EVMSIG:
        case DW_IMA_FIELD_XATTRLENGTHS:
        case DW_IMA_FIELD_XATTRVALUES:
                return 0;
        default:
                return fail(w, EBADMSG, "bad field id %d", (int)f->id);
        }
}

/* Splits template data (u32 length + data per field) into the template's fields. */
static int template_data_parse(const struct where *w, const struct dw_ima_template *t, const uint8_t *data,
                               uint32_t len, struct dw_ima_field *fields)
{
        uint32_t pos = 0;
        int r;

        for (unsigned i = 0; i < t->n_fields; i++) {
                const char *id = field_names[t->fields[i]];
                uint32_t flen;

                if (len - pos < 4)
                        return fail(w, EBADMSG, "template data ends after %u of %u fields (%" PRIu32 " bytes left)", i,
                                    t->n_fields, len - pos);
                flen = get_le32(data + pos);
                pos += 4;
                if (flen > len - pos)
                        return fail(w, EBADMSG,
                                    "field '%s' length %" PRIu32 " exceeds remaining %" PRIu32
                                    " bytes of template data",
                                    id, flen, len - pos);
                fields[i] = (struct dw_ima_field){.id = t->fields[i], .data = data + pos, .len = flen};
                r = field_check(w, &fields[i]);
                if (r < 0)
                        return r;
                pos += flen;
        }
        if (pos != len)
                return fail(w, EBADMSG, "template data has %" PRIu32 " bytes after its last field", len - pos);
        return 0;
}

static bool is_zero(const uint8_t *p, size_t n)
{
        return memcmp(p, zeros, n) == 0;
}

void dw_ima_parser_init(struct dw_ima_parser *p, enum dw_ima_format format, enum dw_hash_alg digest_alg,
                        const uint8_t *buf, size_t len)
{
        *p = (struct dw_ima_parser){
                .format = format,
                .digest_alg = digest_alg,
                .buf = buf,
                .len = buf ? len : 0,
        };
}

void dw_ima_parser_set_index(struct dw_ima_parser *p, uint64_t first_index)
{
        p->index = first_index;
}

void dw_ima_parser_done(struct dw_ima_parser *p)
{
        free(p->scratch);
        p->scratch = NULL;
        p->scratch_size = 0;
}

static int scratch_reserve(struct dw_ima_parser *p, const struct where *w, size_t size)
{
        uint8_t *s;

        if (p->scratch_size >= size)
                return 0;
        size = MAX(size, (size_t)SCRATCH_MIN);
        size = MAX(size, 2 * p->scratch_size);
        s = realloc(p->scratch, size);
        if (!s)
                return fail(w, ENOMEM, "out of memory for a %zu byte entry", size);
        p->scratch = s;
        p->scratch_size = size;
        return 0;
}

/* "ima" template: the scratch holds d (20 bytes), then n (name + NUL), as the fields point to them. */
static int ima_fields_set(struct dw_ima_parser *p, const struct where *w, const uint8_t *d, const char *name,
                          size_t name_len, struct dw_ima_entry *e)
{
        char buf[64];
        int r;

        if (name_len > DW_IMA_EVENT_NAME_LEN_MAX)
                return fail(w, EBADMSG, "event name of %zu bytes exceeds %d for template 'ima'", name_len,
                            DW_IMA_EVENT_NAME_LEN_MAX);
        if (memchr(name, '\0', name_len))
                return fail(w, EBADMSG, "event name '%s' has a NUL inside", printable(name, name_len, buf));
        r = scratch_reserve(p, w, IMA_D_SIZE + name_len + 1);
        if (r < 0)
                return r;
        memcpy(p->scratch, d, IMA_D_SIZE);
        memcpy(p->scratch + IMA_D_SIZE, name, name_len);
        p->scratch[IMA_D_SIZE + name_len] = '\0';
        e->fields[0] = (struct dw_ima_field){DW_IMA_FIELD_D, p->scratch, IMA_D_SIZE};
        e->fields[1] = (struct dw_ima_field){DW_IMA_FIELD_N, p->scratch + IMA_D_SIZE, (uint32_t)name_len + 1};
        e->template_data = NULL;
        e->template_data_len = 0;
        return 0;
}

static int cut_short(const struct where *w, size_t need, size_t have)
{
        return fail(w, EAGAIN, "entry cut short: needs %zu more bytes", need - have);
}

static int binary_next(struct dw_ima_parser *p, const struct where *w, struct dw_ima_entry *e)
{
        const uint8_t *b = p->buf + p->pos;
        size_t left = p->len - p->pos, dsize = dw_hash_alg_size(p->digest_alg), need, name_off;
        uint32_t name_len, data_len;
        int r;

        if (dsize == 0)
                return fail(w, EOPNOTSUPP, "unsupported template digest algorithm %d", (int)p->digest_alg);

        need = 4;
        if (left < need)
                return cut_short(w, need, left);
        e->pcr = get_le32(b);
        if (e->pcr >= DW_IMA_NR_PCRS)
                return fail(w, EBADMSG, "PCR index %" PRIu32 " out of range 0..%d", e->pcr, DW_IMA_NR_PCRS - 1);

        need += dsize + 4;
        if (left < need)
                return cut_short(w, need, left);
        e->digest_alg = p->digest_alg;
        memcpy(e->template_digest, b + 4, dsize);
        name_len = get_le32(b + 4 + dsize);
        if (name_len == 0 || name_len > DW_IMA_TEMPLATE_NAME_MAX)
                return fail(w, EBADMSG, "template name length %" PRIu32 " out of range 1..%d", name_len,
                            DW_IMA_TEMPLATE_NAME_MAX);
        name_off = need;
        need += name_len;
        if (left < need)
                return cut_short(w, need, left);
        e->template_name = (const char *)b + name_off;
        e->template_name_len = name_len;
        r = template_lookup_where(w, e->template_name, name_len, &e->tmpl);
        if (r < 0)
                return r;

        if (e->tmpl.is_ima) {
                /* d without a length, then n as u32 strlen + name without its NUL. */
                size_t d_off = need;

                need += IMA_D_SIZE + 4;
                if (left < need)
                        return cut_short(w, need, left);
                data_len = get_le32(b + d_off + IMA_D_SIZE);
                if (data_len > DW_IMA_EVENT_NAME_LEN_MAX)
                        return fail(w, EBADMSG, "event name length %" PRIu32 " exceeds %d for template 'ima'", data_len,
                                    DW_IMA_EVENT_NAME_LEN_MAX);
                need += data_len;
                if (left < need)
                        return cut_short(w, need, left);
                r = ima_fields_set(p, w, b + d_off, (const char *)b + d_off + IMA_D_SIZE + 4, data_len, e);
                if (r < 0)
                        return r;
        } else {
                size_t data_off;

                need += 4;
                if (left < need)
                        return cut_short(w, need, left);
                data_len = get_le32(b + need - 4);
                if (data_len > DW_IMA_TEMPLATE_DATA_MAX)
                        return fail(w, E2BIG, "template data length %" PRIu32 " exceeds the limit of %u bytes",
                                    data_len, DW_IMA_TEMPLATE_DATA_MAX);
                data_off = need;
                need += data_len;
                if (left < need)
                        return cut_short(w, need, left);
                r = template_data_parse(w, &e->tmpl, b + data_off, data_len, e->fields);
                if (r < 0)
                        return r;
                e->template_data = b + data_off;
                e->template_data_len = data_len;
        }

        e->violation = is_zero(e->template_digest, dsize);
        p->pos += need;
        return 1;
}

/* ---- ascii ---- */

struct cursor {
        const char *s, *end;
};

/* The next token, up to the next space or the end of the line. */
static void token_next(struct cursor *c, const char **ret, size_t *ret_len)
{
        const char *sp = memchr(c->s, ' ', (size_t)(c->end - c->s));
        const char *t_end = sp ?: c->end;

        *ret = c->s;
        *ret_len = (size_t)(t_end - c->s);
        c->s = t_end;
}

/* Consumes the single space before a token; false at the end of the line. */
static bool token_sep(struct cursor *c)
{
        if (c->s >= c->end || *c->s != ' ')
                return false;
        c->s++;
        return true;
}

static int hex_into(const struct where *w, const char *what, const char *hex, size_t hexlen, uint8_t *out,
                    size_t out_size, size_t *ret_len)
{
        char buf[64];
        int n;

        n = dw_hex_decode(hex, hexlen, out, out_size);
        if (n == -ENOBUFS)
                return fail(w, EBADMSG, "%s has %zu hex digits, too many", what, hexlen);
        if (n < 0)
                return fail(w, EBADMSG, "%s is not hex: '%s'", what, printable(hex, hexlen, buf));
        *ret_len = (size_t)n;
        return 0;
}

static int uint_parse(const struct where *w, const char *id, const char *s, size_t len, uint64_t max, uint64_t *ret)
{
        uint64_t v = 0;
        char buf[64];

        if (len == 0 || len > 20)
                goto bad;
        for (size_t i = 0; i < len; i++) {
                if (s[i] < '0' || s[i] > '9')
                        goto bad;
                v = v * 10 + (uint64_t)(s[i] - '0');
                if (v > max)
                        goto bad;
        }
        *ret = v;
        return 0;
bad:
        return fail(w, EBADMSG, "field '%s' is not a number in 0..%" PRIu64 ": '%s'", id, max, printable(s, len, buf));
}

/* Rebuilds one field's kernel data from its ascii form into out (which has room for the token + 16 bytes), returns
 * the data length. */
static int ascii_field_rebuild(const struct where *w, enum dw_ima_field_id id, const char *tok, size_t len,
                               uint8_t *out, size_t *ret_len)
{
        const char *name = field_names[id];
        size_t n = 0, prefix;
        uint64_t v;
        int r;

        switch (id) {
        case DW_IMA_FIELD_D:
        case DW_IMA_FIELD_SIG:
        case DW_IMA_FIELD_BUF:
        case DW_IMA_FIELD_MODSIG:
        case DW_IMA_FIELD_EVMSIG:
        case DW_IMA_FIELD_XATTRLENGTHS:
        case DW_IMA_FIELD_XATTRVALUES: {
                char what[32];

                snprintf(what, sizeof(what), "field '%s'", name);
                r = hex_into(w, what, tok, len, out, len / 2 + 1, &n);
                if (r < 0)
                        return r;
                break;
        }
        case DW_IMA_FIELD_D_NG:
        case DW_IMA_FIELD_D_NGV2:
        case DW_IMA_FIELD_D_MODSIG: {
                const char *colon;

                if (len == 0)
                        break; /* an empty field: the check rejects it where it must not be empty */
                colon = memrchr(tok, ':', len);
                if (!colon)
                        return fail(w, EBADMSG, "field '%s' has no '<algorithm>:' prefix", name);
                prefix = (size_t)(colon - tok) + 1;
                memcpy(out, tok, prefix);
                out[prefix] = '\0';
                r = hex_into(w, "file digest", colon + 1, len - prefix, out + prefix + 1, len, &n);
                if (r < 0)
                        return r;
                n += prefix + 1;
                break;
        }
        case DW_IMA_FIELD_N:
        case DW_IMA_FIELD_N_NG:
        case DW_IMA_FIELD_XATTRNAMES:
                /* An empty event name is "\0"; empty xattrnames means no xattrs, length 0. */
                if (len == 0 && id == DW_IMA_FIELD_XATTRNAMES)
                        break;
                memcpy(out, tok, len);
                out[len] = '\0';
                n = len + 1;
                break;
        case DW_IMA_FIELD_IUID:
        case DW_IMA_FIELD_IGID:
                if (len == 0)
                        break;
                r = uint_parse(w, name, tok, len, UINT32_MAX, &v);
                if (r < 0)
                        return r;
                put_le32(out, (uint32_t)v);
                n = 4;
                break;
        case DW_IMA_FIELD_IMODE:
                if (len == 0)
                        break;
                r = uint_parse(w, name, tok, len, UINT16_MAX, &v);
                if (r < 0)
                        return r;
                out[0] = (uint8_t)v;
                out[1] = (uint8_t)(v >> 8);
                n = 2;
                break;
        default:
                return fail(w, EBADMSG, "bad field id %d", (int)id);
        }
        *ret_len = n;
        return 0;
}

static int ascii_digest(struct dw_ima_parser *p, const struct where *w, const char *hex, size_t hexlen,
                        struct dw_ima_entry *e)
{
        static const enum dw_hash_alg by_size[] = {DW_HASH_SHA1, DW_HASH_SHA256, DW_HASH_SHA384, DW_HASH_SHA512};
        enum dw_hash_alg alg = _DW_HASH_ALG_INVALID;
        size_t n;
        int r;

        if (hexlen == 2 * dw_hash_alg_size(p->digest_alg))
                alg = p->digest_alg;
        else
                for (size_t i = 0; i < ELEMENTSOF(by_size); i++)
                        if (hexlen == 2 * dw_hash_alg_size(by_size[i]))
                                alg = by_size[i];
        if (alg == _DW_HASH_ALG_INVALID)
                return fail(w, EOPNOTSUPP, "template digest of %zu hex digits matches no supported hash algorithm",
                            hexlen);
        r = hex_into(w, "template digest", hex, hexlen, e->template_digest, sizeof(e->template_digest), &n);
        if (r < 0)
                return r;
        e->digest_alg = alg;
        e->violation = is_zero(e->template_digest, n);
        return 0;
}

static int ascii_pcr(const struct where *w, struct cursor *c, struct dw_ima_entry *e)
{
        const char *tok;
        size_t len;
        uint64_t v;
        char buf[64];

        /* "%2d ": one leading space for a single digit. */
        if (c->s < c->end && *c->s == ' ')
                c->s++;
        token_next(c, &tok, &len);
        if (len == 0 || len > 2 || uint_parse(w, "pcr", tok, len, UINT32_MAX, &v) < 0)
                return fail(w, EBADMSG, "line does not start with a PCR index: '%s'", printable(tok, len, buf));
        if (v >= DW_IMA_NR_PCRS)
                return fail(w, EBADMSG, "PCR index %" PRIu64 " out of range 0..%d", v, DW_IMA_NR_PCRS - 1);
        e->pcr = (uint32_t)v;
        return 0;
}

static int ascii_fields(struct dw_ima_parser *p, const struct where *w, struct cursor *c, struct dw_ima_entry *e)
{
        uint8_t d[IMA_D_SIZE] = {};
        size_t pos = 0, n = 0;
        int r;

        for (unsigned i = 0; i < e->tmpl.n_fields; i++) {
                enum dw_ima_field_id id = e->tmpl.fields[i];
                const char *tok;
                size_t len;

                if (!token_sep(c))
                        return fail(w, EBADMSG, "line ends after %u of %u fields of template '%.*s'", i,
                                    e->tmpl.n_fields, (int)MIN(e->template_name_len, (size_t)64), e->template_name);
                token_next(c, &tok, &len);
                if (e->tmpl.is_ima) {
                        if (id == DW_IMA_FIELD_D) {
                                r = hex_into(w, "field 'd'", tok, len, d, sizeof(d), &n);
                                if (r < 0)
                                        return r;
                                if (n != IMA_D_SIZE)
                                        return fail(w, EBADMSG, "field 'd' has %zu bytes, expected %d", n, IMA_D_SIZE);
                        } else {
                                r = ima_fields_set(p, w, d, tok, len, e);
                                if (r < 0)
                                        return r;
                        }
                        continue;
                }
                r = ascii_field_rebuild(w, id, tok, len, p->scratch + pos + 4, &n);
                if (r < 0)
                        return r;
                put_le32(p->scratch + pos, (uint32_t)n);
                e->fields[i] = (struct dw_ima_field){.id = id, .data = p->scratch + pos + 4, .len = (uint32_t)n};
                r = field_check(w, &e->fields[i]);
                if (r < 0)
                        return r;
                pos += 4 + n;
        }
        if (c->s != c->end)
                return fail(w, EBADMSG, "line has more fields than template '%.*s' (%u)",
                            (int)MIN(e->template_name_len, (size_t)64), e->template_name, e->tmpl.n_fields);
        if (!e->tmpl.is_ima) {
                if (pos > DW_IMA_TEMPLATE_DATA_MAX)
                        return fail(w, E2BIG, "template data of %zu bytes exceeds the limit of %u bytes", pos,
                                    DW_IMA_TEMPLATE_DATA_MAX);
                e->template_data = p->scratch;
                e->template_data_len = (uint32_t)pos;
        }
        return 0;
}

static int ascii_next(struct dw_ima_parser *p, const struct where *w, struct dw_ima_entry *e)
{
        const char *line = (const char *)p->buf + p->pos, *nl, *tok;
        size_t left = p->len - p->pos, line_len, len;
        struct cursor c;
        int r;

        nl = memchr(line, '\n', left);
        if (!nl)
                return fail(w, EAGAIN, "last line has no newline (%zu bytes)", left);
        line_len = (size_t)(nl - line);
        if (line_len > 2 * (size_t)DW_IMA_TEMPLATE_DATA_MAX)
                return fail(w, E2BIG, "line of %zu bytes is too long", line_len);
        c = (struct cursor){line, nl};

        r = ascii_pcr(w, &c, e);
        if (r < 0)
                return r;
        if (!token_sep(&c))
                return fail(w, EBADMSG, "line ends after the PCR index");
        token_next(&c, &tok, &len);
        r = ascii_digest(p, w, tok, len, e);
        if (r < 0)
                return r;
        if (!token_sep(&c))
                return fail(w, EBADMSG, "line ends after the template digest");
        token_next(&c, &tok, &len);
        if (len == 0 || len > DW_IMA_TEMPLATE_NAME_MAX)
                return fail(w, EBADMSG, "template name length %zu out of range 1..%d", len, DW_IMA_TEMPLATE_NAME_MAX);
        e->template_name = tok;
        e->template_name_len = len;
        r = template_lookup_where(w, tok, len, &e->tmpl);
        if (r < 0)
                return r;

        /* Each field's data is at most its token's length + 5 bytes (a d-ng prefix's NUL, or a string's NUL,
         * or a 4-byte uint from one digit), plus its 4-byte length. */
        r = scratch_reserve(p, w, line_len + 16 * DW_IMA_TEMPLATE_FIELDS_MAX + IMA_D_NAME_BUF + IMA_D_SIZE);
        if (r < 0)
                return r;
        r = ascii_fields(p, w, &c, e);
        if (r < 0)
                return r;
        p->pos += line_len + 1;
        return 1;
}

int dw_ima_parser_next(struct dw_ima_parser *p, struct dw_ima_entry *ret, struct dw_error *err)
{
        struct dw_ima_entry e;
        struct where w;
        int r;

        if (!p || !ret)
                return dw_error_set(err, EINVAL, 0, 0, "invalid argument");
        w = (struct where){err, p->index, p->pos};
        if (p->pos >= p->len)
                return 0;

        e = (struct dw_ima_entry){.index = p->index, .offset = p->pos};
        switch (p->format) {
        case DW_IMA_FORMAT_BINARY:
                r = binary_next(p, &w, &e);
                break;
        case DW_IMA_FORMAT_ASCII:
                r = ascii_next(p, &w, &e);
                break;
        default:
                return fail(&w, EINVAL, "unknown log format %d", (int)p->format);
        }
        if (r <= 0)
                return r;
        p->index++;
        *ret = e;
        return 1;
}

/* ---- accessors ---- */

static const struct dw_ima_field *entry_field(const struct dw_ima_entry *e, enum dw_ima_field_id id)
{
        for (unsigned i = 0; i < e->tmpl.n_fields && i < DW_IMA_TEMPLATE_FIELDS_MAX; i++)
                if (e->fields[i].id == id)
                        return &e->fields[i];
        return NULL;
}

int dw_ima_entry_field(const struct dw_ima_entry *e, enum dw_ima_field_id id, const uint8_t **ret_data,
                       uint32_t *ret_len)
{
        const struct dw_ima_field *f;

        if (!e)
                return -EINVAL;
        f = entry_field(e, id);
        if (!f || f->len == 0)
                return -ENOENT;
        if (ret_data)
                *ret_data = f->data;
        if (ret_len)
                *ret_len = f->len;
        return 0;
}

int dw_ima_entry_file_digest(const struct dw_ima_entry *e, enum dw_hash_alg *ret_alg, const uint8_t **ret_digest,
                             size_t *ret_len, const char **ret_type)
{
        static const enum dw_ima_field_id ids[] = {DW_IMA_FIELD_D_NG, DW_IMA_FIELD_D_NGV2, DW_IMA_FIELD_D};
        const struct where w = {};
        const struct dw_ima_field *f = NULL;
        struct digest_field d;
        enum dw_hash_alg alg = _DW_HASH_ALG_INVALID;

        if (!e)
                return -EINVAL;
        for (size_t i = 0; i < ELEMENTSOF(ids) && !f; i++)
                f = entry_field(e, ids[i]);
        if (!f || f->len == 0)
                return -ENOENT;
        if (digest_field_parse(&w, f, &d) < 0)
                return -EBADMSG;
        if (d.algo) {
                if (dw_hash_alg_from_name(d.algo, d.algo_len, &alg) < 0)
                        alg = _DW_HASH_ALG_INVALID;
        } else if (d.digest_len == 20)
                alg = DW_HASH_SHA1;

        if (ret_alg)
                *ret_alg = alg;
        if (ret_digest)
                *ret_digest = d.digest;
        if (ret_len)
                *ret_len = d.digest_len;
        if (ret_type)
                *ret_type = d.type;
        return 0;
}

int dw_ima_entry_event_name(const struct dw_ima_entry *e, const char **ret_name, size_t *ret_len)
{
        const struct dw_ima_field *f;

        if (!e)
                return -EINVAL;
        f = entry_field(e, DW_IMA_FIELD_N_NG) ?: entry_field(e, DW_IMA_FIELD_N);
        if (!f || f->len == 0)
                return -ENOENT;
        if (f->data[f->len - 1] != '\0')
                return -EBADMSG;
        if (ret_name)
                *ret_name = (const char *)f->data;
        if (ret_len)
                *ret_len = f->len - 1;
        return 0;
}

/* ---- template digest ---- */

int dw_ima_entry_template_hash(struct dw_hasher *h, const struct dw_ima_entry *e, enum dw_hash_alg alg, uint8_t *out)
{
        uint8_t name[IMA_D_NAME_BUF] = {};
        const struct dw_ima_field *d, *n;
        int r;

        if (!h || !e || !out)
                return -EINVAL;
        if (!e->tmpl.is_ima)
                return dw_hash_buf(h, alg, e->template_data, e->template_data_len, out);

        /* "ima": H(d || n zero-padded to IMA_EVENT_NAME_LEN_MAX + 1 bytes), no lengths. */
        d = entry_field(e, DW_IMA_FIELD_D);
        n = entry_field(e, DW_IMA_FIELD_N);
        if (!d || !n || n->len > sizeof(name))
                return -EBADMSG;
        memcpy(name, n->data, n->len);
        r = dw_hasher_init(h, alg);
        if (r < 0)
                return r;
        r = dw_hasher_update(h, d->data, d->len);
        if (r < 0)
                return r;
        r = dw_hasher_update(h, name, sizeof(name));
        if (r < 0)
                return r;
        return dw_hasher_final(h, out);
}

/* A violation's template data holds an all-zero file digest. */
static int violation_check(const struct where *w, const struct dw_ima_entry *e)
{
        const uint8_t *digest;
        size_t len;
        int r;

        r = dw_ima_entry_file_digest(e, NULL, &digest, &len, NULL);
        if (r == -ENOENT)
                return 0;
        if (r < 0)
                return fail(w, EBADMSG, "malformed file digest");
        if (!is_zero(digest, MIN(len, sizeof(zeros))))
                return fail(w, EBADMSG, "template digest is zero (a violation) but the file digest is not");
        return 0;
}

static void hex_short(const uint8_t *d, size_t n, char out[static 2 * 32 + 4])
{
        /* At most 32 bytes shown, so that both digests fit in one message. */
        dw_hex_encode(d, MIN(n, (size_t)32), out);
        if (n > 32)
                strcat(out, "...");
}

int dw_ima_entry_check_digest(struct dw_hasher *h, const struct dw_ima_entry *e, struct dw_error *err)
{
        const struct where w = {err, e ? e->index : 0, e ? e->offset : 0};
        uint8_t computed[DW_HASH_MAX_SIZE];
        char hex1[2 * 32 + 4], hex2[2 * 32 + 4];
        size_t size;
        int r;

        if (!h || !e)
                return fail(&w, EINVAL, "invalid argument");
        size = dw_hash_alg_size(e->digest_alg);
        if (size == 0)
                return fail(&w, EOPNOTSUPP, "unsupported template digest algorithm %d", (int)e->digest_alg);
        if (e->violation)
                return violation_check(&w, e);

        r = dw_ima_entry_template_hash(h, e, e->digest_alg, computed);
        if (r < 0)
                return fail(&w, r, "cannot compute the %s template digest", dw_hash_alg_name(e->digest_alg));
        if (memcmp(computed, e->template_digest, size) == 0)
                return 0;

        /* A bank the kernel could not hash natively logs the SHA-1 digest zero-padded. */
        if (e->digest_alg != DW_HASH_SHA1 && is_zero(e->template_digest + 20, size - 20)) {
                uint8_t sha1[DW_HASH_MAX_SIZE];

                r = dw_ima_entry_template_hash(h, e, DW_HASH_SHA1, sha1);
                if (r < 0)
                        return fail(&w, r, "cannot compute the sha1 template digest");
                if (memcmp(sha1, e->template_digest, 20) == 0)
                        return 0;
        }

        hex_short(e->template_digest, size, hex1);
        hex_short(computed, size, hex2);
        return fail(&w, EBADMSG, "template digest mismatch (logged %s, computed %s)", hex1, hex2);
}
