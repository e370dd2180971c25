/* SPDX-License-Identifier: MIT */
/* Loading a runtime policy: the JSON format of docs/runtime-policy.md, checked strictly (unknown fields are errors,
 * except inside "meta") and compiled into hash tables, regexes and OpenSSL keys. */

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "hex.h"
#include "runtime-policy-internal.h"

#define WHERE_MAX sizeof(((struct dw_policy_error *)NULL)->where)
#define KEY_SHOWN 96 /* longest part of a key shown in a JSON path */
#define WHY_MAX   192

static const char *const result_names[_DW_POLICY_RESULT_MAX] = {
        [DW_POLICY_ACCEPT] = "accept",
        [DW_POLICY_EXCLUDED] = "excluded",
        [DW_POLICY_BOOT_AGGREGATE] = "boot_aggregate",
        [DW_POLICY_VIOLATION_ALLOWED] = "violation_allowed",
        [DW_POLICY_NOT_IN_ALLOWLIST] = "not_in_allowlist",
        [DW_POLICY_DIGEST_MISMATCH] = "digest_mismatch",
        [DW_POLICY_BAD_SIGNATURE] = "bad_signature",
        [DW_POLICY_UNSIGNED] = "unsigned",
        [DW_POLICY_VIOLATION] = "violation",
        [DW_POLICY_IMA_BUF_MISMATCH] = "ima_buf_mismatch",
        [DW_POLICY_IMA_BUF_UNKNOWN] = "ima_buf_unknown",
        [DW_POLICY_UNSUPPORTED_DIGEST] = "unsupported_digest",
};

const char *dw_policy_result_name(enum dw_policy_result r)
{
        if (r < 0 || r >= _DW_POLICY_RESULT_MAX)
                return NULL;
        return result_names[r];
}

int dw_policy_result_from_name(const char *name, enum dw_policy_result *ret)
{
        if (!name || !ret)
                return -EINVAL;
        for (enum dw_policy_result r = 0; r < _DW_POLICY_RESULT_MAX; r++)
                if (strcmp(result_names[r], name) == 0) {
                        *ret = r;
                        return 0;
                }
        return -ENOENT;
}

/* ---- errors ---- */

_printf_(4, 5) static int fail(struct dw_policy_error *err, int errnum, const char *where, const char *fmt, ...)
{
        va_list ap;

        if (err) {
                *err = (struct dw_policy_error){};
                snprintf(err->where, sizeof(err->where), "%s", where);
                va_start(ap, fmt);
                vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
                va_end(ap);
        }
        return -errnum;
}

/* parent + .key when key is a plain identifier, else parent + ["key"] with " and \ escaped, control characters as
 * \uXXXX, and a long key cut with "...". */
static const char *where_key(char *buf, const char *parent, const char *key, size_t len)
{
        size_t o, max = WHERE_MAX;
        bool ident = len > 0 && (isalpha((unsigned char)key[0]) || key[0] == '_');

        for (size_t i = 0; i < len && ident; i++)
                ident = isalnum((unsigned char)key[i]) || key[i] == '_';
        o = (size_t)snprintf(buf, max, "%s%s", parent, ident ? "." : "[\"");
        for (size_t i = 0; i < len && o + 16 < max; i++) {
                unsigned char c = (unsigned char)key[i];

                if (i == KEY_SHOWN) {
                        o += (size_t)snprintf(buf + o, max - o, "...");
                        break;
                }
                if (c == '"' || c == '\\')
                        o += (size_t)snprintf(buf + o, max - o, "\\%c", c);
                else if (c < 0x20 || c == 0x7f)
                        o += (size_t)snprintf(buf + o, max - o, "\\u%04x", c);
                else
                        buf[o++] = (char)c;
        }
        if (!ident && o + 3 < max)
                o += (size_t)snprintf(buf + o, max - o, "\"]");
        buf[MIN(o, max - 1)] = '\0';
        return buf;
}

static const char *where_index(char *buf, const char *parent, size_t i)
{
        /* A long parent is cut so that the index always shows. */
        snprintf(buf, WHERE_MAX, "%.*s[%zu]", (int)(WHERE_MAX - 24), parent, i);
        return buf;
}

/* A short, printable rendering of a string value for messages. */
static const char *shown(const char *s, size_t len, char buf[static 72])
{
        size_t n = MIN(len, (size_t)64);

        for (size_t i = 0; i < n; i++)
                buf[i] = s[i] >= 0x20 && s[i] < 0x7f ? s[i] : '?';
        if (n < len) {
                memcpy(buf + n, "...", 4);
                return buf;
        }
        buf[n] = '\0';
        return buf;
}

/* ---- objects with a fixed set of fields ---- */

static int check_fields(json_t *obj, const char *where, const char *const *known, size_t n_known,
                        struct dw_policy_error *err)
{
        char w[WHERE_MAX], list[160] = "";

        for (void *it = json_object_iter(obj); it; it = json_object_iter_next(obj, it)) {
                const char *key = json_object_iter_key(it);
                bool ok = false;

                for (size_t i = 0; i < n_known && !ok; i++)
                        ok = strcmp(key, known[i]) == 0;
                if (ok)
                        continue;
                for (size_t i = 0; i < n_known; i++)
                        snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s%s", i ? ", " : "", known[i]);
                return fail(err, EBADMSG, where_key(w, where, key, strlen(key)), "unknown field (expected %s)", list);
        }
        return 0;
}

static int get_bool(json_t *obj, const char *where, const char *field, bool *ret, struct dw_policy_error *err)
{
        json_t *v = json_object_get(obj, field);
        char w[WHERE_MAX];

        if (!v)
                return 0;
        if (!json_is_boolean(v))
                return fail(err, EBADMSG, where_key(w, where, field, strlen(field)), "expected true or false");
        *ret = json_is_true(v);
        return 0;
}

/* An optional string field, copied. */
static int get_string(json_t *obj, const char *where, const char *field, char **ret, struct dw_policy_error *err)
{
        json_t *v = json_object_get(obj, field);
        char w[WHERE_MAX];

        if (!v)
                return 0;
        if (!json_is_string(v))
                return fail(err, EBADMSG, where_key(w, where, field, strlen(field)), "expected a string");
        *ret = strndup(json_string_value(v), json_string_length(v));
        if (!*ret)
                return -ENOMEM;
        return 0;
}

/* ---- meta ---- */

static bool digits(const char *s, size_t n, unsigned min, unsigned max)
{
        unsigned v = 0;

        for (size_t i = 0; i < n; i++) {
                if (!isdigit((unsigned char)s[i]))
                        return false;
                v = v * 10 + (unsigned)(s[i] - '0');
        }
        return v >= min && v <= max;
}

/* RFC 3339 date-time: 2026-11-23T10:00:00Z, with optional fraction and a numeric offset instead of Z. */
static bool rfc3339_valid(const char *s, size_t len)
{
        size_t i = 19;

        if (len < 20 || !digits(s, 4, 0, 9999) || s[4] != '-' || !digits(s + 5, 2, 1, 12) || s[7] != '-' ||
            !digits(s + 8, 2, 1, 31) || !strchr("Tt ", s[10]) || !digits(s + 11, 2, 0, 23) || s[13] != ':' ||
            !digits(s + 14, 2, 0, 59) || s[16] != ':' || !digits(s + 17, 2, 0, 60))
                return false;
        if (s[i] == '.') {
                for (i++; i < len && isdigit((unsigned char)s[i]); i++)
                        ;
                if (i == 20)
                        return false;
        }
        if (i + 1 == len && (s[i] == 'Z' || s[i] == 'z'))
                return true;
        return i + 6 == len && (s[i] == '+' || s[i] == '-') && digits(s + i + 1, 2, 0, 23) && s[i + 3] == ':' &&
               digits(s + i + 4, 2, 0, 59);
}

static int load_meta(struct dw_runtime_policy *p, json_t *meta, struct dw_policy_error *err)
{
        char w[WHERE_MAX];
        int r;

        /* Free-form for tools: only the fields we know are checked. */
        if (!json_is_object(meta))
                return fail(err, EBADMSG, "$.meta", "expected an object");
        r = get_string(meta, "$.meta", "name", &p->name, err);
        if (r < 0)
                return r;
        r = get_string(meta, "$.meta", "version", &p->version, err);
        if (r < 0)
                return r;
        r = get_string(meta, "$.meta", "generator", &p->generator, err);
        if (r < 0)
                return r;
        r = get_string(meta, "$.meta", "created", &p->created, err);
        if (r < 0)
                return r;
        if (p->created && !rfc3339_valid(p->created, strlen(p->created)))
                return fail(err, EBADMSG, where_key(w, "$.meta", "created", 7),
                            "expected an RFC 3339 date-time like 2026-11-23T10:00:00Z");
        return 0;
}

/* ---- digests ---- */

_printf_(2, 3) static int bad(char *why, const char *fmt, ...)
{
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(why, WHY_MAX, fmt, ap);
        va_end(ap);
        return -EBADMSG;
}

/* A hex digit's value + 1; 0 for anything else. */
static const uint8_t hex_value[256] = {
        ['0'] = 1,  ['1'] = 2,  ['2'] = 3,  ['3'] = 4,  ['4'] = 5,  ['5'] = 6,  ['6'] = 7,  ['7'] = 8,
        ['8'] = 9,  ['9'] = 10, ['a'] = 11, ['b'] = 12, ['c'] = 13, ['d'] = 14, ['e'] = 15, ['f'] = 16,
        ['A'] = 11, ['B'] = 12, ['C'] = 13, ['D'] = 14, ['E'] = 15, ['F'] = 16,
};

static int parse_alg(const char *s, size_t len, enum dw_hash_alg *ret)
{
        /* The common spellings without a string search: policies hold a million of them. */
        if (len == 6 && memcmp(s, "sha256", 6) == 0) {
                *ret = DW_HASH_SHA256;
                return 0;
        }
        if (len == 4 && memcmp(s, "sha1", 4) == 0) {
                *ret = DW_HASH_SHA1;
                return 0;
        }
        return dw_hash_alg_from_name(s, len, ret);
}

/* Why hex (whose length is right) does not decode. */
static int bad_hex(const char *hex, size_t hexlen, enum dw_hash_alg alg, char *why)
{
        char buf[72];

        for (size_t i = 0; i < hexlen; i++)
                if (!isxdigit((unsigned char)hex[i]))
                        return bad(why, "bad hex digit '%s' at position %zu of the %s digest", shown(hex + i, 1, buf),
                                   i + 1, dw_hash_alg_name(alg));
        return bad(why, "bad hex digest");
}

/* "sha256:<hex>", or "verity:sha256:<hex>" for an fs-verity digest. */
int dw_policy_parse_digest(const char *s, size_t len, enum dw_hash_alg *ret_alg, bool *ret_verity, uint8_t *out,
                           char *why)
{
        const char *colon, *hex;
        bool verity = false;
        enum dw_hash_alg alg;
        size_t hexlen, size;
        char buf[72];

        if (len > 7 && memcmp(s, "verity:", 7) == 0) {
                verity = true;
                s += 7;
                len -= 7;
        }
        colon = memchr(s, ':', len);
        if (!colon)
                return bad(why, "expected \"<algorithm>:<hex digest>\", got \"%s\"", shown(s, len, buf));
        if (parse_alg(s, (size_t)(colon - s), &alg) < 0)
                return bad(why, "unsupported digest algorithm \"%s\" (sha1, sha256, sha384, sha512, sm3)",
                           shown(s, (size_t)(colon - s), buf));
        hex = colon + 1;
        hexlen = len - (size_t)(hex - s);
        size = dw_hash_alg_size(alg);
        if (hexlen != 2 * size)
                return bad(why, "%s digest has %zu hex digits, expected %zu", dw_hash_alg_name(alg), hexlen, 2 * size);
        for (size_t i = 0; i < size; i++) {
                uint8_t hi = hex_value[(uint8_t)hex[2 * i]], lo = hex_value[(uint8_t)hex[2 * i + 1]];

                if (hi == 0 || lo == 0)
                        return bad_hex(hex, hexlen, alg, why);
                out[i] = (uint8_t)((hi - 1) << 4 | (lo - 1));
        }
        *ret_alg = alg;
        *ret_verity = verity;
        return 0;
}

/* Sizes a name -> digests object for dw_pmap_reserve(). Types are checked on the real pass. */
struct map_size {
        size_t names, name_bytes, digests;
};

static void count_map(json_t *obj, struct map_size *ret)
{
        struct map_size s = {};

        for (void *it = json_object_iter(obj); it; it = json_object_iter_next(obj, it)) {
                json_t *v = json_object_iter_value(it);
                size_t n = json_is_array(v) ? json_array_size(v) : 0;

                s.names++;
                s.name_bytes += json_object_iter_key_len(it);
                s.digests += n;
        }
        *ret = s;
}

/* The digests of the name key of the map at parent. The JSON path is only written out for an error: a policy has a
 * million names. */
static int load_digest_list(struct dw_pmap_digests *l, json_t *list, bool files, const char *parent, const char *key,
                            size_t len, struct dw_policy_error *err)
{
        char w[WHERE_MAX], wi[WHERE_MAX], why[WHY_MAX];
        int r;

        if (!json_is_array(list))
                return fail(err, EBADMSG, where_key(w, parent, key, len),
                            "expected an array of \"<algorithm>:<hex digest>\" strings");
        r = dw_pmap_digests_reserve(l, json_array_size(list));
        if (r < 0)
                return -ENOMEM; /* a list jansson could hold, but not a copy of it */
        l->n = 0;
        for (size_t i = 0; i < json_array_size(list); i++) {
                struct dw_pmap_digest *d = &l->d[l->n];
                json_t *v = json_array_get(list, i);
                enum dw_hash_alg alg = DW_HASH_SHA256;

                if (!json_is_string(v))
                        return fail(err, EBADMSG, where_index(wi, where_key(w, parent, key, len), i),
                                    "expected a string \"<algorithm>:<hex digest>\"");
                if (dw_policy_parse_digest(json_string_value(v), json_string_length(v), &alg, &d->verity, d->bytes,
                                           why) < 0)
                        return fail(err, EBADMSG, where_index(wi, where_key(w, parent, key, len), i), "%s", why);
                if (d->verity && !files)
                        return fail(err, EBADMSG, where_index(wi, where_key(w, parent, key, len), i),
                                    "an fs-verity digest, which only files have");
                d->alg = (uint8_t)alg;
                l->n++;
        }
        return 0;
}

/* "digests" and "ima_buf": {"<name>": ["<alg>:<hex>", ...], ...}. */
static int load_map(struct dw_pmap *m, json_t *obj, bool files, struct dw_policy_error *err)
{
        _cleanup_(dw_pmap_digests_done) struct dw_pmap_digests list = {};
        const char *where = files ? "$.digests" : "$.ima_buf", *what = files ? "path" : "event name";
        struct map_size size;
        char w[WHERE_MAX];
        int r;

        if (!json_is_object(obj))
                return fail(err, EBADMSG, where, "expected an object {\"<%s>\": [\"<algorithm>:<hex>\", ...]}", what);
        count_map(obj, &size);
        r = dw_pmap_reserve(m, size.names, size.name_bytes, size.digests);
        if (r < 0)
                return fail(err, -r, where, "cannot allocate %zu names: %s", size.names, strerror(-r));

        for (void *it = json_object_iter(obj); it; it = json_object_iter_next(obj, it)) {
                const char *key = json_object_iter_key(it);
                size_t len = json_object_iter_key_len(it);

                if (len == 0)
                        return fail(err, EBADMSG, where_key(w, where, key, len), "empty %s", what);
                if (memchr(key, '\0', len))
                        return fail(err, EBADMSG, where_key(w, where, key, len), "%s with a NUL character", what);
                r = load_digest_list(&list, json_object_iter_value(it), files, where, key, len, err);
                if (r < 0)
                        return r;
                r = dw_pmap_append(m, key, len, list.d, list.n);
                if (r < 0)
                        return fail(err, -r, where_key(w, where, key, len), "cannot add %s: %s", what, strerror(-r));
        }
        r = dw_pmap_finish(m);
        if (r == -EEXIST)
                return fail(err, EBADMSG, where, "duplicate %s", what);
        if (r < 0)
                return fail(err, -r, where, "cannot allocate %zu names: %s", size.names, strerror(-r));
        return 0;
}

/* ---- excludes ---- */

static int load_excludes(struct dw_runtime_policy *p, json_t *list, struct dw_policy_error *err)
{
        char w[WHERE_MAX], buf[72];

        if (!json_is_array(list))
                return fail(err, EBADMSG, "$.excludes", "expected an array of regular expressions");
        p->excludes = calloc(MAX(json_array_size(list), (size_t)1), sizeof(*p->excludes));
        if (!p->excludes)
                return -ENOMEM;
        for (size_t i = 0; i < json_array_size(list); i++) {
                struct dw_policy_exclude *x = &p->excludes[p->n_excludes];
                json_t *v = json_array_get(list, i);
                char msg[128];
                int r;

                where_index(w, "$.excludes", i);
                if (!json_is_string(v))
                        return fail(err, EBADMSG, w, "expected a string (a POSIX extended regular expression)");
                if (json_string_length(v) == 0)
                        return fail(err, EBADMSG, w,
                                    "empty pattern, which would exclude everything (write \".*\" "
                                    "if that is meant)");
                if (strlen(json_string_value(v)) != json_string_length(v))
                        return fail(err, EBADMSG, w, "pattern with a NUL character");
                r = regcomp(&x->re, json_string_value(v), REG_EXTENDED);
                if (r != 0) {
                        regerror(r, &x->re, msg, sizeof(msg));
                        return fail(err, EBADMSG, w, "bad regular expression \"%s\": %s",
                                    shown(json_string_value(v), json_string_length(v), buf), msg);
                }
                x->pattern = strdup(json_string_value(v));
                p->n_excludes++; /* from here on, freeing the policy frees the regex */
                if (!x->pattern)
                        return -ENOMEM;
        }
        return 0;
}

/* ---- keys ---- */

static int parse_keyid(json_t *v, uint32_t *ret)
{
        uint8_t b[4];

        if (!json_is_string(v) || json_string_length(v) != 8 ||
            dw_hex_decode(json_string_value(v), 8, b, sizeof(b)) != 4)
                return -EBADMSG;
        *ret = (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
        return 0;
}

static int load_key(struct dw_runtime_policy *p, json_t *k, const char *where, struct dw_policy_error *err)
{
        static const char *const fields[] = {"keyid", "pem", "name"};
        struct dw_policy_key *key = &p->keys[p->n_keys];
        char w[WHERE_MAX], why[WHY_MAX];
        json_t *pem, *keyid, *name;
        uint32_t derived;
        int r;

        if (!json_is_object(k))
                return fail(err, EBADMSG, where, "expected an object {\"keyid\": \"<8 hex>\", \"pem\": \"...\"}");
        r = check_fields(k, where, fields, ELEMENTSOF(fields), err);
        if (r < 0)
                return r;
        name = json_object_get(k, "name");
        if (name && !json_is_string(name))
                return fail(err, EBADMSG, where_key(w, where, "name", 4), "expected a string");
        pem = json_object_get(k, "pem");
        if (!pem)
                return fail(err, EBADMSG, where, "missing \"pem\": the public key or certificate, PEM-encoded");
        if (!json_is_string(pem))
                return fail(err, EBADMSG, where_key(w, where, "pem", 3), "expected a PEM string");
        r = dw_policy_key_import(json_string_value(pem), json_string_length(pem), &key->pkey, &derived, why,
                                 sizeof(why));
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                return fail(err, EBADMSG, where_key(w, where, "pem", 3), "%s", why);
        key->keyid = derived;
        p->n_keys++; /* from here on, freeing the policy frees the key */

        keyid = json_object_get(k, "keyid");
        if (keyid && parse_keyid(keyid, &key->keyid) < 0)
                return fail(err, EBADMSG, where_key(w, where, "keyid", 5),
                            "expected 8 hex digits, the key id IMA signatures carry (like \"1323f853\")");
        for (size_t i = 0; i + 1 < p->n_keys; i++)
                if (p->keys[i].keyid == key->keyid)
                        return fail(err, EBADMSG, where, "duplicate keyid %08" PRIx32 " (also $.keys[%zu])", key->keyid,
                                    i);
        return 0;
}

static int load_keys(struct dw_runtime_policy *p, json_t *list, struct dw_policy_error *err)
{
        char w[WHERE_MAX];
        int r;

        if (!json_is_array(list))
                return fail(err, EBADMSG, "$.keys", "expected an array of {\"keyid\", \"pem\"} objects");
        p->keys = calloc(MAX(json_array_size(list), (size_t)1), sizeof(*p->keys));
        if (!p->keys)
                return -ENOMEM;
        for (size_t i = 0; i < json_array_size(list); i++) {
                r = load_key(p, json_array_get(list, i), where_index(w, "$.keys", i), err);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* ---- options ---- */

static int load_options(struct dw_runtime_policy *p, json_t *o, struct dw_policy_error *err)
{
        static const char *const fields[] = {"allow_violations", "require_signatures"};
        int r;

        if (!json_is_object(o))
                return fail(err, EBADMSG, "$.options", "expected an object");
        r = check_fields(o, "$.options", fields, ELEMENTSOF(fields), err);
        if (r < 0)
                return r;
        r = get_bool(o, "$.options", "allow_violations", &p->allow_violations, err);
        if (r < 0)
                return r;
        return get_bool(o, "$.options", "require_signatures", &p->require_signatures, err);
}

/* ---- the whole policy ---- */

static int check_version(json_t *root, struct dw_policy_error *err)
{
        json_t *v = json_object_get(root, "driftwatch_runtime_policy");

        if (!v)
                return fail(err, EBADMSG, "$",
                            "not a driftwatch runtime policy: no \"driftwatch_runtime_policy\" version field");
        if (!json_is_integer(v))
                return fail(err, EBADMSG, "$.driftwatch_runtime_policy", "expected the format version, an integer");
        if (json_integer_value(v) != DW_RUNTIME_POLICY_VERSION)
                return fail(err, EOPNOTSUPP, "$.driftwatch_runtime_policy",
                            "format version %" JSON_INTEGER_FORMAT " is not supported (this build reads version %d)",
                            json_integer_value(v), DW_RUNTIME_POLICY_VERSION);
        return 0;
}

static int load_root(struct dw_runtime_policy *p, json_t *root, struct dw_policy_error *err)
{
        static const char *const fields[] = {
                "driftwatch_runtime_policy", "meta", "digests", "excludes", "keys", "ima_buf", "options"};
        json_t *v;
        int r;

        if (!json_is_object(root))
                return fail(err, EBADMSG, "$", "expected a JSON object");
        /* The version first: a newer policy should say so, not trip over a field it added. */
        r = check_version(root, err);
        if (r < 0)
                return r;
        r = check_fields(root, "$", fields, ELEMENTSOF(fields), err);
        if (r < 0)
                return r;

        v = json_object_get(root, "meta");
        r = v ? load_meta(p, v, err) : 0;
        if (r < 0)
                return r;
        /* An absent map stays zeroed: empty, and lookups in it find nothing. */
        v = json_object_get(root, "digests");
        r = v ? load_map(&p->files, v, true, err) : 0;
        if (r < 0)
                return r;
        v = json_object_get(root, "ima_buf");
        r = v ? load_map(&p->buffers, v, false, err) : 0;
        if (r < 0)
                return r;
        v = json_object_get(root, "excludes");
        r = v ? load_excludes(p, v, err) : 0;
        if (r < 0)
                return r;
        v = json_object_get(root, "keys");
        r = v ? load_keys(p, v, err) : 0;
        if (r < 0)
                return r;
        v = json_object_get(root, "options");
        return v ? load_options(p, v, err) : 0;
}

static int fetch_mds(struct dw_runtime_policy *p)
{
        static const char *const names[_DW_HASH_ALG_MAX] = {
                [DW_HASH_SHA1] = "SHA1",       [DW_HASH_SHA256] = "SHA2-256", [DW_HASH_SHA384] = "SHA2-384",
                [DW_HASH_SHA512] = "SHA2-512", [DW_HASH_SM3_256] = "SM3",
        };

        /* Only needed to check signatures; a missing one (SM3 in some builds) fails those signatures. */
        if (p->n_keys == 0)
                return 0;
        FOREACH_HASH_ALG (alg)
                p->md[alg] = EVP_MD_fetch(NULL, names[alg], NULL);
        return 0;
}

int dw_policy_json_parse(const void *json, size_t len, json_t **ret, struct dw_policy_error *err)
{
        json_error_t jerr;
        json_t *root;

        root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);
        if (!root) {
                if (err) {
                        *err = (struct dw_policy_error){
                                .line = jerr.line > 0 ? (unsigned)jerr.line : 1,
                                .column = jerr.column > 0 ? (unsigned)jerr.column : 1,
                        };
                        snprintf(err->msg, sizeof(err->msg), "%s", jerr.text);
                }
                return -EBADMSG;
        }
        *ret = root;
        return 0;
}

int dw_runtime_policy_compile(struct dw_runtime_policy *p, json_t *root, struct dw_policy_error *err)
{
        int r;

        r = load_root(p, root, err);
        if (r == -ENOMEM)
                return fail(err, ENOMEM, "", "out of memory");
        if (r == -EOPNOTSUPP)
                return r;
        if (r < 0)
                return -EBADMSG; /* err says why; a policy too large for the tables is just as unusable */
        return fetch_mds(p);
}

int dw_runtime_policy_load_tree(json_t *root, struct dw_runtime_policy **ret, struct dw_policy_error *err)
{
        _cleanup_(dw_runtime_policy_freep) struct dw_runtime_policy *p = NULL;
        int r;

        if (!root || !ret)
                return fail(err, EINVAL, "", "invalid argument");
        p = calloc(1, sizeof(*p));
        if (!p)
                return -ENOMEM;
        r = dw_runtime_policy_compile(p, root, err);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(p);
        return 0;
}

int dw_runtime_policy_load(const void *json, size_t len, struct dw_runtime_policy **ret, struct dw_policy_error *err)
{
        _cleanup_(json_decrefp) json_t *root = NULL;
        int r;

        if (!json || !ret)
                return fail(err, EINVAL, "", "invalid argument");
        /* The streaming loader first: it holds no tree of the document. What it refuses without saying why is loaded
         * again with jansson's tree, which says where and why (line and column, or the JSON path). */
        r = dw_runtime_policy_load_stream(json, len, ret, err);
        if (r != -EAGAIN)
                return r;
        r = dw_policy_json_parse(json, len, &root, err);
        if (r < 0)
                return r;
        return dw_runtime_policy_load_tree(root, ret, err);
}

void dw_runtime_policy_free(struct dw_runtime_policy *p)
{
        if (!p)
                return;
        free(p->name);
        free(p->version);
        free(p->created);
        free(p->generator);
        dw_pmap_done(&p->files);
        dw_pmap_done(&p->buffers);
        for (size_t i = 0; i < p->n_excludes; i++) {
                regfree(&p->excludes[i].re);
                free(p->excludes[i].pattern);
        }
        free(p->excludes);
        for (size_t i = 0; i < p->n_keys; i++)
                EVP_PKEY_free(p->keys[i].pkey);
        free(p->keys);
        FOREACH_HASH_ALG (alg)
                EVP_MD_free(p->md[alg]);
        free(p);
}

void dw_runtime_policy_get_info(const struct dw_runtime_policy *p, struct dw_runtime_policy_info *ret)
{
        *ret = (struct dw_runtime_policy_info){
                .name = p->name,
                .version = p->version,
                .created = p->created,
                .generator = p->generator,
                .n_paths = p->files.n_names,
                .n_digests = p->files.n_digests,
                .n_excludes = p->n_excludes,
                .n_keys = p->n_keys,
                .n_ima_buf = p->buffers.n_names,
                .allow_violations = p->allow_violations,
                .require_signatures = p->require_signatures,
        };
}
