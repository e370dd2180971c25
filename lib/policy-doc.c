/* SPDX-License-Identifier: MIT */
/* Runtime policy documents for tools: building, normalizing, writing, merging and diffing the JSON of
 * docs/runtime-policy.md. See policy-doc.h. */

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hex.h"
#include "policy-doc.h"
#include "runtime-policy-internal.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(EVP_PKEY *, EVP_PKEY_free);

static const char *const section_names[_DW_POLICY_SECTION_MAX] = {
        [DW_POLICY_SECTION_DIGESTS] = "digests",
        [DW_POLICY_SECTION_IMA_BUF] = "ima_buf",
};

const char *dw_policy_section_name(enum dw_policy_section s)
{
        return s >= 0 && s < _DW_POLICY_SECTION_MAX ? section_names[s] : NULL;
}

char *dw_policy_time_rfc3339(int64_t t, char buf[static 32])
{
        time_t tt = (time_t)t;
        struct tm tm;

        if (!gmtime_r(&tt, &tm) || strftime(buf, 32, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
                snprintf(buf, 32, "1970-01-01T00:00:00Z");
        return buf;
}

static int set_string(json_t *obj, const char *key, const char *value)
{
        if (!value)
                return 0;
        return json_object_set_new(obj, key, json_string(value)) < 0 ? -ENOMEM : 0;
}

json_t *dw_policy_doc_new(const char *name, const char *version, const char *created, const char *generator)
{
        _cleanup_(json_decrefp) json_t *doc = json_object();
        json_t *meta = json_object();

        if (!doc || !meta ||
            json_object_set_new(doc, "driftwatch_runtime_policy", json_integer(DW_RUNTIME_POLICY_VERSION)) < 0) {
                json_decref(meta);
                return NULL;
        }
        if (json_object_set_new(doc, "meta", meta) < 0 || set_string(meta, "name", name) < 0 ||
            set_string(meta, "version", version) < 0 || set_string(meta, "created", created) < 0 ||
            set_string(meta, "generator", generator) < 0 || json_object_set_new(doc, "digests", json_object()) < 0)
                return NULL;
        return TAKE_PTR(doc);
}

int dw_policy_doc_check(json_t *doc, struct dw_policy_error *err)
{
        _cleanup_(dw_runtime_policy_freep) struct dw_runtime_policy *p = NULL;

        return dw_runtime_policy_load_tree(doc, &p, err);
}

int dw_policy_doc_parse(const void *json, size_t len, json_t **ret, struct dw_policy_error *err)
{
        _cleanup_(json_decrefp) json_t *doc = NULL;
        int r;

        r = dw_policy_json_parse(json, len, &doc, err);
        if (r < 0)
                return r;
        r = dw_policy_doc_check(doc, err);
        if (r < 0)
                return r;
        r = dw_policy_doc_normalize(doc);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(doc);
        return 0;
}

/* ---- names ---- */

/* Well-formed UTF-8 as RFC 3629 defines it (no overlong forms, no surrogates, at most U+10FFFF), as jansson
 * requires of strings. */
static bool utf8_valid(const uint8_t *s, size_t len)
{
        for (size_t i = 0; i < len;) {
                uint8_t c = s[i];
                size_t n;
                uint32_t cp;

                if (c < 0x80) {
                        i++;
                        continue;
                }
                if (c >= 0xc2 && c <= 0xdf)
                        n = 1, cp = c & 0x1f;
                else if (c >= 0xe0 && c <= 0xef)
                        n = 2, cp = c & 0x0f;
                else if (c >= 0xf0 && c <= 0xf4)
                        n = 3, cp = c & 0x07;
                else
                        return false;
                if (len - i <= n)
                        return false;
                for (size_t k = 1; k <= n; k++) {
                        if ((s[i + k] & 0xc0) != 0x80)
                                return false;
                        cp = cp << 6 | (s[i + k] & 0x3f);
                }
                if ((n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) || cp > 0x10ffff ||
                    (cp >= 0xd800 && cp <= 0xdfff))
                        return false;
                i += n + 1;
        }
        return true;
}

char *dw_policy_name(const char *bytes, size_t len, bool ima_name)
{
        const uint8_t *s = (const uint8_t *)bytes;
        bool plain = utf8_valid(s, len) && !memchr(s, '\0', len);
        char *out = malloc(plain ? len + 1 : 4 * len + 1);
        size_t o = 0;

        if (!out)
                return NULL;
        for (size_t i = 0; i < len; i++) {
                uint8_t c = ima_name && s[i] == ' ' ? '_' : s[i];

                if (plain || (c >= 0x20 && c < 0x7f && c != '\\'))
                        out[o++] = (char)c;
                else
                        o += (size_t)sprintf(out + o, "\\x%02x", c);
        }
        out[o] = '\0';
        return out;
}

/* ---- digests ---- */

char *dw_policy_digest_string(enum dw_hash_alg alg, bool verity, const uint8_t *digest, char *out)
{
        int n = sprintf(out, "%s%s:", verity ? "verity:" : "", dw_hash_alg_name(alg));

        dw_hex_encode(digest, dw_hash_alg_size(alg), out + n);
        return out;
}

int dw_policy_digest_parse(const char *s, size_t len, enum dw_hash_alg *ret_alg, bool *ret_verity,
                           uint8_t ret_digest[static DW_HASH_MAX_SIZE])
{
        char why[DW_POLICY_WHY_MAX];

        return dw_policy_parse_digest(s, len, ret_alg, ret_verity, ret_digest, why);
}

static int section_map(json_t *doc, enum dw_policy_section s, json_t **ret)
{
        const char *key = dw_policy_section_name(s);
        json_t *m;

        if (!key || !json_is_object(doc))
                return -EINVAL;
        m = json_object_get(doc, key);
        if (!m) {
                m = json_object();
                if (!m || json_object_set_new(doc, key, m) < 0)
                        return -ENOMEM;
        }
        if (!json_is_object(m))
                return -EINVAL;
        *ret = m;
        return 0;
}

static int name_list(json_t *doc, enum dw_policy_section s, const char *name, size_t name_len, json_t **ret)
{
        json_t *m, *list;
        int r;

        if (name_len == 0 || memchr(name, '\0', name_len))
                return -EINVAL;
        r = section_map(doc, s, &m);
        if (r < 0)
                return r;
        list = json_object_getn(m, name, name_len);
        if (list) {
                *ret = list;
                return 0;
        }
        list = json_array();
        if (!list || json_object_setn_new(m, name, name_len, list) < 0)
                return -ENOMEM;
        *ret = list;
        return 1;
}

/* Inserts a normalized digest string into a sorted list. Returns 1 when added, 0 when present. */
static int list_insert(json_t *list, const char *d)
{
        size_t lo = 0, hi = json_array_size(list);

        while (lo < hi) {
                size_t mid = (lo + hi) / 2;
                int c = strcmp(json_string_value(json_array_get(list, mid)), d);

                if (c == 0)
                        return 0;
                if (c < 0)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        return json_array_insert_new(list, lo, json_string(d)) < 0 ? -ENOMEM : 1;
}

int dw_policy_doc_add_digest(json_t *doc, enum dw_policy_section s, const char *name, size_t name_len,
                             enum dw_hash_alg alg, bool verity, const uint8_t *digest)
{
        char d[DW_POLICY_DIGEST_STR_MAX];
        json_t *list;
        int r;

        if (alg < 0 || alg >= _DW_HASH_ALG_MAX || (verity && s != DW_POLICY_SECTION_DIGESTS))
                return -EINVAL;
        r = name_list(doc, s, name, name_len, &list);
        if (r < 0)
                return r;
        return list_insert(list, dw_policy_digest_string(alg, verity, digest, d));
}

int dw_policy_doc_add_name(json_t *doc, enum dw_policy_section s, const char *name, size_t name_len)
{
        json_t *list;

        return name_list(doc, s, name, name_len, &list);
}

static int cmp_strp(const void *a, const void *b)
{
        return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* A list of digest strings, normalized: parsed and rewritten, sorted, duplicates dropped. Strings that do not parse
 * (a document that was not checked) are kept as they are. */
static int normalize_list(json_t *list)
{
        size_t n = json_array_size(list), k = 0;
        _cleanup_free_ char **strs = NULL;
        _cleanup_(json_decrefp) json_t *out = NULL;
        int r = 0;

        if (n == 0)
                return 0;
        strs = calloc(n, sizeof(*strs));
        out = json_array();
        if (!strs || !out)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                json_t *v = json_array_get(list, i);
                uint8_t bytes[DW_HASH_MAX_SIZE];
                enum dw_hash_alg alg;
                bool verity;

                if (!json_is_string(v))
                        continue;
                if (dw_policy_digest_parse(json_string_value(v), json_string_length(v), &alg, &verity, bytes) < 0)
                        strs[k] = strdup(json_string_value(v));
                else {
                        strs[k] = malloc(DW_POLICY_DIGEST_STR_MAX);
                        if (strs[k])
                                dw_policy_digest_string(alg, verity, bytes, strs[k]);
                }
                if (!strs[k++]) {
                        r = -ENOMEM;
                        break;
                }
        }
        if (r == 0) {
                qsort(strs, k, sizeof(*strs), cmp_strp);
                for (size_t i = 0; i < k && r == 0; i++)
                        if (i == 0 || strcmp(strs[i], strs[i - 1]) != 0)
                                r = json_array_append_new(out, json_string(strs[i])) < 0 ? -ENOMEM : 0;
        }
        for (size_t i = 0; i < k; i++)
                free(strs[i]);
        if (r < 0)
                return r;
        return json_array_clear(list) < 0 || json_array_extend(list, out) < 0 ? -ENOMEM : 0;
}

int dw_policy_doc_normalize(json_t *doc)
{
        for (enum dw_policy_section s = 0; s < _DW_POLICY_SECTION_MAX; s++) {
                json_t *m = json_object_get(doc, dw_policy_section_name(s));

                for (void *it = json_object_iter(m); it; it = json_object_iter_next(m, it)) {
                        int r = normalize_list(json_object_iter_value(it));

                        if (r < 0)
                                return r;
                }
        }
        return 0;
}

/* ---- learning from an IMA log ---- */

int dw_policy_doc_learn_entry(json_t *doc, const struct dw_ima_entry *e, enum dw_policy_learn *ret)
{
        _cleanup_free_ char *name = NULL;
        const uint8_t *digest, *buf = NULL;
        const char *raw = "", *type;
        enum dw_hash_alg alg;
        size_t len = 0, dlen;
        uint32_t buf_len = 0;
        bool buffer;
        int r;

        (void)dw_ima_entry_event_name(e, &raw, &len);
        if (e->violation) {
                *ret = DW_POLICY_LEARN_VIOLATION;
                return 0;
        }
        if (len == strlen("boot_aggregate") && memcmp(raw, "boot_aggregate", len) == 0) {
                *ret = DW_POLICY_LEARN_BOOT_AGGREGATE;
                return 0;
        }
        if (len == 0 || dw_ima_entry_file_digest(e, &alg, &digest, &dlen, &type) < 0 || alg < 0 ||
            dlen != dw_hash_alg_size(alg)) {
                *ret = DW_POLICY_LEARN_UNSUPPORTED;
                return 0;
        }
        buffer = dw_ima_entry_field(e, DW_IMA_FIELD_BUF, &buf, &buf_len) == 0 && buf_len > 0;
        name = dw_policy_name(raw, len, false);
        if (!name)
                return -ENOMEM;
        r = dw_policy_doc_add_digest(doc, buffer ? DW_POLICY_SECTION_IMA_BUF : DW_POLICY_SECTION_DIGESTS, name,
                                     strlen(name), alg, !buffer && type && strcmp(type, "verity") == 0, digest);
        if (r == -EINVAL) {
                *ret = DW_POLICY_LEARN_UNSUPPORTED;
                return 0;
        }
        if (r < 0)
                return r;
        *ret = buffer ? DW_POLICY_LEARN_BUFFER : DW_POLICY_LEARN_FILE;
        return 0;
}

/* ---- writing ---- */

ssize_t dw_json_sorted_keys(const json_t *obj, const char ***ret)
{
        size_t n = json_object_size(obj), k = 0;
        const char **keys = malloc(MAX(n, (size_t)1) * sizeof(*keys));

        if (!keys)
                return -ENOMEM;
        for (void *it = json_object_iter((json_t *)obj); it && k < n; it = json_object_iter_next((json_t *)obj, it))
                keys[k++] = json_object_iter_key(it);
        qsort(keys, k, sizeof(*keys), cmp_strp);
        *ret = keys;
        return (ssize_t)k;
}

static void write_string(FILE *f, const char *s, size_t len)
{
        fputc('"', f);
        for (size_t i = 0; i < len; i++) {
                unsigned char c = (unsigned char)s[i];

                switch (c) {
                case '"':
                        fputs("\\\"", f);
                        break;
                case '\\':
                        fputs("\\\\", f);
                        break;
                case '\b':
                        fputs("\\b", f);
                        break;
                case '\f':
                        fputs("\\f", f);
                        break;
                case '\n':
                        fputs("\\n", f);
                        break;
                case '\r':
                        fputs("\\r", f);
                        break;
                case '\t':
                        fputs("\\t", f);
                        break;
                default:
                        if (c < 0x20)
                                fprintf(f, "\\u%04x", c);
                        else
                                fputc(c, f);
                }
        }
        fputc('"', f);
}

static void write_key(FILE *f, const char *key)
{
        write_string(f, key, strlen(key));
        fputs(": ", f);
}

/* A value on one line: objects with sorted keys, ", " and ": " as separators. */
static int write_compact(FILE *f, const json_t *v)
{
        const char **keys = NULL;
        ssize_t n;
        char *s;

        switch (json_typeof(v)) {
        case JSON_OBJECT:
                n = dw_json_sorted_keys(v, &keys);
                if (n < 0)
                        return (int)n;
                fputc('{', f);
                for (ssize_t i = 0; i < n; i++) {
                        fputs(i ? ", " : "", f);
                        write_key(f, keys[i]);
                        if (write_compact(f, json_object_get(v, keys[i])) < 0) {
                                free(keys);
                                return -ENOMEM;
                        }
                }
                fputc('}', f);
                free(keys);
                return 0;
        case JSON_ARRAY:
                fputc('[', f);
                for (size_t i = 0; i < json_array_size(v); i++) {
                        fputs(i ? ", " : "", f);
                        if (write_compact(f, json_array_get(v, i)) < 0)
                                return -ENOMEM;
                }
                fputc(']', f);
                return 0;
        case JSON_STRING:
                write_string(f, json_string_value(v), json_string_length(v));
                return 0;
        default:
                s = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
                if (!s)
                        return -ENOMEM;
                fputs(s, f);
                free(s);
                return 0;
        }
}

/* "name": {\n    "key": VALUE,\n ... }: one member per line. */
static int write_lines_object(FILE *f, const char *name, const json_t *obj)
{
        const char **keys = NULL;
        ssize_t n = dw_json_sorted_keys(obj, &keys);

        if (n < 0)
                return (int)n;
        fputs("  ", f);
        write_key(f, name);
        fputs(n ? "{\n" : "{}", f);
        for (ssize_t i = 0; i < n; i++) {
                fputs("    ", f);
                write_key(f, keys[i]);
                if (write_compact(f, json_object_get(obj, keys[i])) < 0) {
                        free(keys);
                        return -ENOMEM;
                }
                fputs(i + 1 < n ? ",\n" : "\n  }", f);
        }
        free(keys);
        return 0;
}

static int write_lines_array(FILE *f, const char *name, const json_t *arr)
{
        size_t n = json_array_size(arr);

        fputs("  ", f);
        write_key(f, name);
        fputs(n ? "[\n" : "[]", f);
        for (size_t i = 0; i < n; i++) {
                fputs("    ", f);
                if (write_compact(f, json_array_get(arr, i)) < 0)
                        return -ENOMEM;
                fputs(i + 1 < n ? ",\n" : "\n  ]", f);
        }
        return 0;
}

int dw_policy_doc_write(const json_t *doc, char **ret, size_t *ret_len)
{
        static const char *const order[] = {
                "driftwatch_runtime_policy", "meta", "digests", "excludes", "keys", "ima_buf", "options"};
        const char **keys = NULL;
        char *buf = NULL;
        size_t size = 0;
        bool first = true;
        ssize_t n;
        FILE *f;
        int r = 0;

        if (!json_is_object(doc))
                return -EINVAL;
        n = dw_json_sorted_keys(doc, &keys);
        if (n < 0)
                return (int)n;
        f = open_memstream(&buf, &size);
        if (!f) {
                free(keys);
                return -ENOMEM;
        }
        fputs("{\n", f);
        /* The known members in the documented order, then any other (sorted). */
        for (size_t pass = 0; pass < ELEMENTSOF(order) + (size_t)n && r == 0; pass++) {
                const char *key = pass < ELEMENTSOF(order) ? order[pass] : keys[pass - ELEMENTSOF(order)];
                const json_t *v = json_object_get(doc, key);
                bool known = false;

                for (size_t k = 0; k < ELEMENTSOF(order) && pass >= ELEMENTSOF(order); k++)
                        known = known || strcmp(order[k], key) == 0;
                if (!v || known)
                        continue;
                fputs(first ? "" : ",\n", f);
                first = false;
                if ((strcmp(key, "digests") == 0 || strcmp(key, "ima_buf") == 0) && json_is_object(v))
                        r = write_lines_object(f, key, v);
                else if ((strcmp(key, "excludes") == 0 || strcmp(key, "keys") == 0) && json_is_array(v))
                        r = write_lines_array(f, key, v);
                else {
                        fputs("  ", f);
                        write_key(f, key);
                        r = write_compact(f, v);
                }
        }
        fputs("\n}\n", f);
        free(keys);
        if (fclose(f) != 0 || r < 0) {
                free(buf);
                return r < 0 ? r : -ENOMEM;
        }
        *ret = buf;
        *ret_len = size;
        return 0;
}

/* ---- merging ---- */

static int merge_section(json_t *into, const json_t *from, enum dw_policy_section s)
{
        const json_t *m = json_object_get(from, dw_policy_section_name(s));

        for (void *it = json_object_iter((json_t *)m); it; it = json_object_iter_next((json_t *)m, it)) {
                const char *name = json_object_iter_key(it);
                size_t len = json_object_iter_key_len(it);
                json_t *src = json_object_iter_value(it), *list;
                int r;

                r = name_list(into, s, name, len, &list);
                if (r < 0)
                        return r;
                for (size_t i = 0; i < json_array_size(src); i++) {
                        r = list_insert(list, json_string_value(json_array_get(src, i)));
                        if (r < 0)
                                return r;
                }
        }
        return 0;
}

static int merge_excludes(json_t *into, const json_t *from)
{
        const json_t *src = json_object_get(from, "excludes");
        json_t *dst = json_object_get(into, "excludes");

        if (json_array_size(src) == 0)
                return 0;
        if (!dst) {
                dst = json_array();
                if (!dst || json_object_set_new(into, "excludes", dst) < 0)
                        return -ENOMEM;
        }
        for (size_t i = 0; i < json_array_size(src); i++) {
                const json_t *x = json_array_get(src, i);
                bool have = false;

                for (size_t k = 0; k < json_array_size(dst) && !have; k++)
                        have = json_equal(json_array_get(dst, k), (json_t *)x);
                if (!have && json_array_append(dst, (json_t *)x) < 0)
                        return -ENOMEM;
        }
        return 0;
}

/* A key object's id (its "keyid", else derived from its PEM as the engine derives it) and public key. */
static int key_identity(const json_t *k, uint32_t *ret_keyid, EVP_PKEY **ret_pkey)
{
        const json_t *pem = json_object_get(k, "pem"), *keyid = json_object_get(k, "keyid");
        char why[DW_POLICY_WHY_MAX];
        uint8_t b[4];
        int r;

        if (!json_is_string(pem))
                return -EINVAL;
        r = dw_policy_key_import(json_string_value(pem), json_string_length(pem), ret_pkey, ret_keyid, why,
                                 sizeof(why));
        if (r < 0)
                return r;
        if (json_is_string(keyid) && dw_hex_decode(json_string_value(keyid), json_string_length(keyid), b, 4) == 4)
                *ret_keyid = (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
        return 0;
}

static int merge_keys(json_t *into, const json_t *from, char *why, size_t why_size)
{
        const json_t *src = json_object_get(from, "keys");
        json_t *dst = json_object_get(into, "keys");

        if (json_array_size(src) == 0)
                return 0;
        if (!dst) {
                dst = json_array();
                if (!dst || json_object_set_new(into, "keys", dst) < 0)
                        return -ENOMEM;
        }
        for (size_t i = 0; i < json_array_size(src); i++) {
                _cleanup_(EVP_PKEY_freep) EVP_PKEY *pk = NULL;
                const json_t *k = json_array_get(src, i);
                bool have = false;
                uint32_t id;
                int r;

                r = key_identity(k, &id, &pk);
                if (r < 0)
                        return r;
                for (size_t j = 0; j < json_array_size(dst) && !have; j++) {
                        _cleanup_(EVP_PKEY_freep) EVP_PKEY *pk2 = NULL;
                        uint32_t id2;

                        r = key_identity(json_array_get(dst, j), &id2, &pk2);
                        if (r < 0)
                                return r;
                        if (id2 != id)
                                continue;
                        if (EVP_PKEY_eq(pk, pk2) != 1) {
                                snprintf(why, why_size, "two different keys have the key id %08" PRIx32, id);
                                return -EEXIST;
                        }
                        have = true;
                }
                if (!have && json_array_append(dst, (json_t *)k) < 0)
                        return -ENOMEM;
        }
        return 0;
}

static bool option(const json_t *doc, const char *name)
{
        return json_is_true(json_object_get(json_object_get(doc, "options"), name));
}

static int merge_options(json_t *into, const json_t *from)
{
        bool allow = option(into, "allow_violations") || option(from, "allow_violations");
        bool require = option(into, "require_signatures") && option(from, "require_signatures");
        json_t *o;

        if (!json_object_get(into, "options") && !json_object_get(from, "options"))
                return 0;
        o = json_pack("{sbsb}", "allow_violations", allow, "require_signatures", require);
        if (!o || json_object_set_new(into, "options", o) < 0)
                return -ENOMEM;
        return 0;
}

int dw_policy_doc_merge(json_t *into, const json_t *from, char *why, size_t why_size)
{
        int r;

        for (enum dw_policy_section s = 0; s < _DW_POLICY_SECTION_MAX; s++) {
                r = merge_section(into, from, s);
                if (r < 0)
                        return r;
        }
        r = merge_excludes(into, from);
        if (r < 0)
                return r;
        r = merge_keys(into, from, why, why_size);
        if (r < 0)
                return r;
        return merge_options(into, from);
}

/* ---- diffing ---- */

/* Sorted string lists a and b: what b adds and what it lacks. */
static int diff_lists(const json_t *a, const json_t *b, json_t *added, json_t *removed)
{
        size_t i = 0, j = 0, na = json_array_size(a), nb = json_array_size(b);

        while (i < na || j < nb) {
                const json_t *x = i < na ? json_array_get(a, i) : NULL, *y = j < nb ? json_array_get(b, j) : NULL;
                int c = !x ? 1 : !y ? -1 : strcmp(json_string_value(x), json_string_value(y));

                if (c == 0) {
                        i++, j++;
                        continue;
                }
                if (json_array_append((c < 0 ? removed : added), (json_t *)(c < 0 ? x : y)) < 0)
                        return -ENOMEM;
                c < 0 ? i++ : j++;
        }
        return 0;
}

struct diff_counts {
        json_int_t added, removed, changed;
};

static int diff_section(const json_t *old, const json_t *new, enum dw_policy_section s, json_t *out,
                        struct diff_counts *c)
{
        const json_t *mo = json_object_get(old, dw_policy_section_name(s));
        const json_t *mn = json_object_get(new, dw_policy_section_name(s));
        json_t *added = json_object(), *removed = json_object(), *changed = json_object();
        _cleanup_free_ const char **ko = NULL, **kn = NULL;
        ssize_t no, nn, i = 0, j = 0;
        int r = 0;

        if (!added || !removed || !changed ||
            json_object_set_new(out, dw_policy_section_name(s),
                                json_pack("{sososo}", "added", added, "removed", removed, "changed", changed)) < 0)
                return -ENOMEM;
        no = mo ? dw_json_sorted_keys(mo, &ko) : 0;
        nn = mn ? dw_json_sorted_keys(mn, &kn) : 0;
        if (no < 0 || nn < 0)
                return -ENOMEM;
        while ((i < no || j < nn) && r == 0) {
                int cmp = i >= no ? 1 : j >= nn ? -1 : strcmp(ko[i], kn[j]);
                json_t *lo = cmp <= 0 ? json_object_get(mo, ko[i]) : NULL;
                json_t *ln = cmp >= 0 ? json_object_get(mn, kn[j]) : NULL;

                if (cmp < 0) {
                        r = json_object_set(removed, ko[i++], lo) < 0 ? -ENOMEM : 0;
                        c->removed++;
                } else if (cmp > 0) {
                        r = json_object_set(added, kn[j++], ln) < 0 ? -ENOMEM : 0;
                        c->added++;
                } else {
                        json_t *da = json_array(), *dr = json_array();

                        r = !da || !dr ? -ENOMEM : diff_lists(lo, ln, da, dr);
                        if (r == 0 && (json_array_size(da) || json_array_size(dr) ||
                                       json_array_size(lo) != json_array_size(ln))) {
                                r = json_object_set_new(changed, ko[i],
                                                        json_pack("{sOsO}", "added", da, "removed", dr)) < 0
                                            ? -ENOMEM
                                            : 0;
                                c->changed++;
                        }
                        json_decref(da);
                        json_decref(dr);
                        i++, j++;
                }
        }
        return r;
}

static bool in_array(const json_t *arr, const json_t *v)
{
        for (size_t i = 0; i < json_array_size(arr); i++)
                if (json_equal(json_array_get(arr, i), (json_t *)v))
                        return true;
        return false;
}

static int diff_excludes(const json_t *old, const json_t *new, json_t *out, bool *same)
{
        const json_t *xo = json_object_get(old, "excludes"), *xn = json_object_get(new, "excludes");
        json_t *added = json_array(), *removed = json_array();

        if (!added || !removed ||
            json_object_set_new(out, "excludes", json_pack("{soso}", "added", added, "removed", removed)) < 0)
                return -ENOMEM;
        for (size_t i = 0; i < json_array_size(xo); i++)
                if (!in_array(xn, json_array_get(xo, i)) && json_array_append(removed, json_array_get(xo, i)) < 0)
                        return -ENOMEM;
        for (size_t i = 0; i < json_array_size(xn); i++)
                if (!in_array(xo, json_array_get(xn, i)) && json_array_append(added, json_array_get(xn, i)) < 0)
                        return -ENOMEM;
        *same = *same && json_array_size(added) == 0 && json_array_size(removed) == 0;
        return 0;
}

/* Key ids as 8 hex digits, sorted. */
static int key_ids(const json_t *doc, json_t **ret)
{
        const json_t *keys = json_object_get(doc, "keys");
        _cleanup_(json_decrefp) json_t *ids = json_array();

        if (!ids)
                return -ENOMEM;
        for (size_t i = 0; i < json_array_size(keys); i++) {
                _cleanup_(EVP_PKEY_freep) EVP_PKEY *pk = NULL;
                char hex[9];
                uint32_t id;
                int r;

                r = key_identity(json_array_get(keys, i), &id, &pk);
                if (r < 0)
                        return r;
                snprintf(hex, sizeof(hex), "%08" PRIx32, id);
                r = list_insert(ids, hex);
                if (r < 0)
                        return r;
        }
        *ret = TAKE_PTR(ids);
        return 0;
}

static int diff_keys(const json_t *old, const json_t *new, json_t *out, bool *same)
{
        _cleanup_(json_decrefp) json_t *io = NULL, *in = NULL;
        json_t *added = json_array(), *removed = json_array();
        int r;

        if (!added || !removed ||
            json_object_set_new(out, "keys", json_pack("{soso}", "added", added, "removed", removed)) < 0)
                return -ENOMEM;
        r = key_ids(old, &io);
        if (r < 0)
                return r;
        r = key_ids(new, &in);
        if (r < 0)
                return r;
        r = diff_lists(io, in, added, removed);
        if (r < 0)
                return r;
        *same = *same && json_array_size(added) == 0 && json_array_size(removed) == 0;
        return 0;
}

static int diff_options(const json_t *old, const json_t *new, json_t *out, bool *same)
{
        static const char *const names[] = {"allow_violations", "require_signatures"};
        json_t *o = json_object();

        if (!o || json_object_set_new(out, "options", o) < 0)
                return -ENOMEM;
        for (size_t i = 0; i < ELEMENTSOF(names); i++) {
                bool a = option(old, names[i]), b = option(new, names[i]);

                if (a == b)
                        continue;
                *same = false;
                if (json_object_set_new(o, names[i], json_pack("{sbsb}", "old", a, "new", b)) < 0)
                        return -ENOMEM;
        }
        return 0;
}

int dw_policy_doc_diff(const json_t *old, const json_t *new, json_t **ret)
{
        _cleanup_(json_decrefp) json_t *out = json_object();
        struct diff_counts c = {};
        bool same = true;
        int r;

        if (!out)
                return -ENOMEM;
        for (enum dw_policy_section s = 0; s < _DW_POLICY_SECTION_MAX; s++) {
                r = diff_section(old, new, s, out, &c);
                if (r < 0)
                        return r;
        }
        same = c.added == 0 && c.removed == 0 && c.changed == 0;
        r = diff_excludes(old, new, out, &same);
        if (r < 0)
                return r;
        r = diff_keys(old, new, out, &same);
        if (r < 0)
                return r;
        r = diff_options(old, new, out, &same);
        if (r < 0)
                return r;
        if (json_object_set_new(out, "counts",
                                json_pack("{sIsIsI}", "added", c.added, "removed", c.removed, "changed", c.changed)) <
                    0 ||
            json_object_set_new(out, "same", json_boolean(same)) < 0)
                return -ENOMEM;
        *ret = TAKE_PTR(out);
        return 0;
}
