/* SPDX-License-Identifier: MIT */
/* Keylime's runtime policy format, to and from ours: see policy-keylime.h. */

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <regex.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/pem.h>
#include <openssl/x509.h>

#include "hex.h"
#include "policy-doc.h"
#include "policy-keylime.h"
#include "runtime-policy-internal.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(EVP_PKEY *, EVP_PKEY_free);
DEFINE_TRIVIAL_CLEANUP_FUNC(BIO *, BIO_free);

/* Keyrings IMA measures keys into (ima-buf entries named after them), and which "*" in ignored_keyrings covers. */
static const char *const known_keyrings[] = {
        ".ima", ".evm", ".builtin_trusted_keys", ".secondary_trusted_keys", ".platform", ".machine", ".blacklist",
        "_ima", "_evm",
};

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

_printf_(2, 3) static void warn(json_t *warnings, const char *fmt, ...)
{
        char buf[512];
        va_list ap;

        if (!warnings)
                return;
        va_start(ap, fmt);
        vsnprintf(buf, sizeof(buf), fmt, ap);
        va_end(ap);
        json_array_append_new(warnings, json_string(buf));
}

_printf_(3, 4) static int refuse(char *why, size_t why_size, const char *fmt, ...)
{
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(why, why_size, fmt, ap);
        va_end(ap);
        return -EBADMSG;
}

/* ---- Python re → POSIX ERE ---- */

static bool ere_special(char c)
{
        return c && strchr(".[]()*+?{}|^$\\", c);
}

static void put_literal(FILE *f, char c)
{
        if (ere_special(c))
                fputc('\\', f);
        fputc(c, f);
}

/* {m}, {m,}, {m,n}, {,n} at s: its length, with the POSIX form written to out; 0 when Python would take the brace
 * literally. */
static size_t py_interval(const char *s, char *out, size_t out_size)
{
        const char *p = s + 1, *m = p;
        const char *comma, *n;

        while (isdigit((unsigned char)*p))
                p++;
        comma = p;
        if (*p == ',') {
                p++;
                n = p;
                while (isdigit((unsigned char)*p))
                        p++;
        } else
                n = p;
        if (*p != '}' || (comma == m && (*comma != ',' || n == p)))
                return 0;
        snprintf(out, out_size, "{%s%.*s}", comma == m ? "0" : "", (int)(p - m), m);
        return (size_t)(p - s) + 1;
}

static int py_bracket(const char *s, size_t *pos, FILE *f, char *why, size_t why_size)
{
        size_t i = *pos + 1;
        bool first = true;

        fputc('[', f);
        if (s[i] == '^') {
                fputc('^', f);
                i++;
        }
        for (;; i++, first = false) {
                char c = s[i];

                if (c == '\0')
                        return refuse(why, why_size, "unterminated character set");
                if (c == ']' && !first)
                        break;
                if (c == '[' && (s[i + 1] == ':' || s[i + 1] == '=' || s[i + 1] == '.'))
                        return refuse(why, why_size, "\"[%c\" inside a character set", s[i + 1]);
                if (c != '\\') {
                        fputc(c, f);
                        continue;
                }
                c = s[++i];
                switch (c) {
                case 'd':
                        fputs("0-9", f);
                        break;
                case 's':
                        fputs("[:space:]", f);
                        break;
                case 'w':
                        fputs("[:alnum:]_", f);
                        break;
                case 'n':
                        fputc('\n', f);
                        break;
                case 't':
                        fputc('\t', f);
                        break;
                case '\\':
                case '.':
                case '/':
                case '[':
                case '*':
                case '+':
                case '?':
                case '(':
                case ')':
                case '{':
                case '}':
                case '|':
                case '$':
                case ':':
                case '_':
                case '@':
                case '#':
                case '%':
                case '&':
                case '~':
                case '=':
                case ',':
                case '!':
                case '<':
                case '>':
                        fputc(c, f);
                        break;
                default:
                        return refuse(why, why_size, "\"\\%c\" inside a character set has no POSIX equivalent",
                                      c ? c : '0');
                }
        }
        fputc(']', f);
        *pos = i;
        return 0;
}

static int py_escape(const char *s, size_t *pos, FILE *f, char *why, size_t why_size)
{
        char c = s[++*pos], hex[3];
        uint8_t b;

        switch (c) {
        case 'd':
                fputs("[0-9]", f);
                return 0;
        case 'D':
                fputs("[^0-9]", f);
                return 0;
        case 's':
                fputs("[[:space:]]", f);
                return 0;
        case 'S':
                fputs("[^[:space:]]", f);
                return 0;
        case 'w':
                fputs("[[:alnum:]_]", f);
                return 0;
        case 'W':
                fputs("[^[:alnum:]_]", f);
                return 0;
        case 'A':
                fputc('^', f);
                return 0;
        case 'Z':
        case 'z':
                fputc('$', f);
                return 0;
        case 'n':
                fputc('\n', f);
                return 0;
        case 't':
                fputc('\t', f);
                return 0;
        case 'x':
                if (!s[*pos + 1] || !s[*pos + 2])
                        return refuse(why, why_size, "bad \"\\x\" escape");
                memcpy(hex, s + *pos + 1, 2);
                hex[2] = '\0';
                if (dw_hex_decode(hex, 2, &b, 1) != 1 || b == 0)
                        return refuse(why, why_size, "bad \"\\x\" escape");
                put_literal(f, (char)b);
                *pos += 2;
                return 0;
        case '\0':
                return refuse(why, why_size, "a trailing backslash");
        default:
                if (isalnum((unsigned char)c))
                        return refuse(why, why_size, "\"\\%c\" has no POSIX equivalent", c);
                put_literal(f, c);
                return 0;
        }
}

int dw_regex_python_to_posix(const char *py, char **ret, char *why, size_t why_size)
{
        char *buf = NULL, msg[128];
        size_t size = 0;
        regex_t re;
        FILE *f;
        int r = 0;

        f = open_memstream(&buf, &size);
        if (!f)
                return -ENOMEM;
        for (size_t i = 0; r == 0 && py[i]; i++) {
                char c = py[i], interval[64];
                size_t n;

                switch (c) {
                case '\\':
                        r = py_escape(py, &i, f, why, why_size);
                        break;
                case '[':
                        r = py_bracket(py, &i, f, why, why_size);
                        break;
                case '(':
                        if (py[i + 1] != '?') {
                                fputc('(', f);
                                break;
                        }
                        if (py[i + 2] == ':') {
                                fputc('(', f);
                                i += 2;
                        } else if (py[i + 2] == 'P' && py[i + 3] == '<' && strchr(py + i, '>')) {
                                fputc('(', f);
                                i = (size_t)(strchr(py + i, '>') - py);
                        } else
                                r = refuse(why, why_size,
                                           "\"(?%c\" (lookaround, flags, comments or backreferences) has no POSIX "
                                           "equivalent",
                                           py[i + 2] ? py[i + 2] : ' ');
                        break;
                case '*':
                case '+':
                case '?':
                        fputc(c, f);
                        if (py[i + 1] == '?') /* lazy: the same match/no-match at the start of a name */
                                i++;
                        else if (py[i + 1] == '+')
                                r = refuse(why, why_size, "possessive quantifiers have no POSIX equivalent");
                        break;
                case '{':
                        n = py_interval(py + i, interval, sizeof(interval));
                        if (n == 0) {
                                fputs("\\{", f);
                                break;
                        }
                        fputs(interval, f);
                        i += n - 1;
                        if (py[i + 1] == '?')
                                i++;
                        break;
                case '}':
                        fputs("\\}", f);
                        break;
                default:
                        fputc(c, f);
                }
        }
        if (fclose(f) != 0 && r == 0)
                r = -ENOMEM;
        if (r < 0) {
                free(buf);
                return r;
        }
        r = regcomp(&re, buf, REG_EXTENDED | REG_NOSUB);
        if (r != 0) {
                regerror(r, &re, msg, sizeof(msg));
                regfree(&re);
                free(buf);
                return refuse(why, why_size, "not a valid POSIX regular expression once converted: %s", msg);
        }
        regfree(&re);
        *ret = buf;
        return 0;
}

/* ---- POSIX ERE → Python re ---- */

static const struct {
        const char *posix, *python;
} classes[] = {
        {"[:alpha:]", "a-zA-Z"}, {"[:digit:]", "0-9"},        {"[:alnum:]", "a-zA-Z0-9"},
        {"[:upper:]", "A-Z"},    {"[:lower:]", "a-z"},        {"[:space:]", " \\t\\n\\r\\f\\v"},
        {"[:blank:]", " \\t"},   {"[:xdigit:]", "0-9A-Fa-f"},
};

static int ere_bracket(const char *s, size_t *pos, FILE *f, char *why, size_t why_size)
{
        size_t i = *pos + 1;
        bool first = true;

        fputc('[', f);
        if (s[i] == '^') {
                fputc('^', f);
                i++;
        }
        for (;; i++, first = false) {
                char c = s[i];
                bool matched = false;

                if (c == '\0')
                        return refuse(why, why_size, "unterminated bracket expression");
                if (c == ']' && !first)
                        break;
                if (c == '[' && s[i + 1] == ':') {
                        for (size_t k = 0; k < ELEMENTSOF(classes) && !matched; k++)
                                if (strncmp(s + i, classes[k].posix, strlen(classes[k].posix)) == 0) {
                                        fputs(classes[k].python, f);
                                        i += strlen(classes[k].posix) - 1;
                                        matched = true;
                                }
                        if (!matched)
                                return refuse(why, why_size, "a character class Python does not have");
                        continue;
                }
                if (c == '[' && (s[i + 1] == '=' || s[i + 1] == '.'))
                        return refuse(why, why_size, "collating elements have no Python equivalent");
                if (c == '\\' || c == '[' || (c == ']' && first))
                        fputc('\\', f);
                fputc(c, f);
        }
        fputc(']', f);
        *pos = i;
        return 0;
}

int dw_regex_posix_to_python(const char *ere, char **ret, char *why, size_t why_size)
{
        char *buf = NULL;
        size_t size = 0;
        FILE *f;
        int r = 0;

        f = open_memstream(&buf, &size);
        if (!f)
                return -ENOMEM;
        for (size_t i = 0; r == 0 && ere[i]; i++) {
                char c = ere[i];

                if (c == '[') {
                        r = ere_bracket(ere, &i, f, why, why_size);
                        continue;
                }
                if (c != '\\') {
                        fputc(c, f);
                        continue;
                }
                c = ere[++i];
                if (c == 'w')
                        fputs("[a-zA-Z0-9_]", f);
                else if (c == 'W')
                        fputs("[^a-zA-Z0-9_]", f);
                else if (c == 's')
                        fputs("[ \\t\\n\\r\\f\\v]", f);
                else if (c == 'S')
                        fputs("[^ \\t\\n\\r\\f\\v]", f);
                else if (c == '\0')
                        r = refuse(why, why_size, "a trailing backslash");
                else if (isalnum((unsigned char)c) || c == '<' || c == '>' || c == '`' || c == '\'')
                        r = refuse(why, why_size, "\"\\%c\" has no Python equivalent", c);
                else {
                        fputc('\\', f);
                        fputc(c, f);
                }
        }
        if (fclose(f) != 0 && r == 0)
                r = -ENOMEM;
        if (r < 0) {
                free(buf);
                return r;
        }
        *ret = buf;
        return 0;
}

/* ---- import ---- */

static const char *where_name(char *buf, size_t size, const char *section, const char *name)
{
        snprintf(buf, size, "$.%s[\"%.100s\"]", section, name);
        return buf;
}

/* {NAME: [HEX...]} of Keylime into a section of doc. */
static int import_map(json_t *doc, const json_t *m, const char *kl_section, enum dw_policy_section s, json_t *warnings,
                      struct dw_policy_error *err)
{
        char w[192];

        if (!m || json_is_null(m))
                return 0;
        if (!json_is_object(m))
                return fail(err, EBADMSG, kl_section, "expected an object {\"<name>\": [\"<hex digest>\", ...]}");
        for (void *it = json_object_iter((json_t *)m); it; it = json_object_iter_next((json_t *)m, it)) {
                const char *name = json_object_iter_key(it);
                size_t len = json_object_iter_key_len(it);
                json_t *list = json_object_iter_value(it);
                int r;

                where_name(w, sizeof(w), kl_section, name);
                if (s == DW_POLICY_SECTION_DIGESTS && strcmp(name, "boot_aggregate") == 0) {
                        warn(warnings,
                             "%s: dropped: the boot_aggregate is checked against the quoted PCRs, not by "
                             "the runtime policy",
                             w);
                        continue;
                }
                if (len == 0 || memchr(name, '\0', len))
                        return fail(err, EBADMSG, w, "empty name, or one with a NUL character");
                if (!json_is_array(list))
                        return fail(err, EBADMSG, w, "expected an array of hex digests");
                r = dw_policy_doc_add_name(doc, s, name, len);
                if (r < 0)
                        return r == -ENOMEM ? r : fail(err, EBADMSG, w, "cannot add this name");
                for (size_t i = 0; i < json_array_size(list); i++) {
                        json_t *v = json_array_get(list, i);
                        uint8_t bytes[DW_HASH_MAX_SIZE];
                        size_t hexlen = json_string_length(v);
                        enum dw_hash_alg alg = hexlen == 40   ? DW_HASH_SHA1
                                               : hexlen == 64 ? DW_HASH_SHA256
                                               : hexlen == 96 ? DW_HASH_SHA384
                                                              : DW_HASH_SHA512;

                        if (!json_is_string(v) || (hexlen != 40 && hexlen != 64 && hexlen != 96 && hexlen != 128) ||
                            dw_hex_decode(json_string_value(v), hexlen, bytes, sizeof(bytes)) != (int)hexlen / 2)
                                return fail(err, EBADMSG, w,
                                            "item %zu: expected a digest of 40, 64, 96 or 128 hex digits (sha1, "
                                            "sha256, sha384, sha512)",
                                            i);
                        r = dw_policy_doc_add_digest(doc, s, name, len, alg, false, bytes);
                        if (r < 0)
                                return r;
                }
        }
        return 0;
}

static int add_exclude(json_t *doc, const char *pattern)
{
        json_t *x = json_object_get(doc, "excludes");

        if (!x) {
                x = json_array();
                if (!x || json_object_set_new(doc, "excludes", x) < 0)
                        return -ENOMEM;
        }
        for (size_t i = 0; i < json_array_size(x); i++)
                if (strcmp(json_string_value(json_array_get(x, i)), pattern) == 0)
                        return 0;
        return json_array_append_new(x, json_string(pattern)) < 0 ? -ENOMEM : 0;
}

static int import_excludes(json_t *doc, const json_t *x, bool drop_bad, json_t *warnings, struct dw_policy_error *err)
{
        char w[64], why[192];

        if (!x || json_is_null(x))
                return 0;
        if (!json_is_array(x))
                return fail(err, EBADMSG, "$.excludes", "expected an array of regular expressions");
        for (size_t i = 0; i < json_array_size(x); i++) {
                const json_t *v = json_array_get(x, i);
                _cleanup_free_ char *posix = NULL;
                int r;

                snprintf(w, sizeof(w), "$.excludes[%zu]", i);
                if (!json_is_string(v) || json_string_length(v) == 0 ||
                    strlen(json_string_value(v)) != json_string_length(v))
                        return fail(err, EBADMSG, w, "expected a non-empty string");
                r = dw_regex_python_to_posix(json_string_value(v), &posix, why, sizeof(why));
                if (r == -ENOMEM)
                        return r;
                if (r < 0 && !drop_bad)
                        return fail(err, EBADMSG, w, "\"%.80s\": %s (--drop-bad-excludes leaves it out)",
                                    json_string_value(v), why);
                if (r < 0) {
                        warn(warnings, "%s: \"%.80s\" left out: %s (the policy is stricter without it)", w,
                             json_string_value(v), why);
                        continue;
                }
                r = add_exclude(doc, posix);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* An exclude pattern matching exactly name. */
static int exclude_exact(json_t *doc, const char *name)
{
        _cleanup_free_ char *p = malloc(2 * strlen(name) + 3);
        size_t o = 0;

        if (!p)
                return -ENOMEM;
        p[o++] = '^';
        for (const char *s = name; *s; s++) {
                if (ere_special(*s))
                        p[o++] = '\\';
                p[o++] = *s;
        }
        p[o++] = '$';
        p[o] = '\0';
        return add_exclude(doc, p);
}

static int import_ima(json_t *doc, const json_t *ima, json_t *keylime_meta, json_t *warnings,
                      struct dw_policy_error *err)
{
        const json_t *ignored = json_object_get(ima, "ignored_keyrings"), *alg = json_object_get(ima, "log_hash_alg");
        const json_t *dm = json_object_get(ima, "dm_policy");
        int r;

        if (!ima || json_is_null(ima))
                return 0;
        if (!json_is_object(ima))
                return fail(err, EBADMSG, "$.ima", "expected an object");
        if (ignored && !json_is_array(ignored))
                return fail(err, EBADMSG, "$.ima.ignored_keyrings", "expected an array of keyring names");
        for (size_t i = 0; i < json_array_size(ignored); i++) {
                const char *name = json_string_value(json_array_get(ignored, i));

                if (!name || !name[0])
                        return fail(err, EBADMSG, "$.ima.ignored_keyrings", "expected keyring names");
                if (strcmp(name, "*") != 0) {
                        r = exclude_exact(doc, name);
                        if (r < 0)
                                return r;
                        continue;
                }
                warn(warnings, "$.ima.ignored_keyrings: \"*\" became excludes of the keyrings IMA measures keys into "
                               "(.ima, .evm, .builtin_trusted_keys, ...)");
                for (size_t k = 0; k < ELEMENTSOF(known_keyrings); k++) {
                        r = exclude_exact(doc, known_keyrings[k]);
                        if (r < 0)
                                return r;
                }
        }
        if (json_is_string(alg) && json_object_set(keylime_meta, "log_hash_alg", (json_t *)alg) < 0)
                return -ENOMEM;
        if (dm && !json_is_null(dm))
                warn(warnings, "$.ima.dm_policy: device-mapper policies are not supported and were left out: "
                               "device-mapper measurements fail as unknown buffers");
        return 0;
}

/* "verification-keys": a JSON text {KEYRING: {"pubkeys": [BASE64 DER], "keyids": [INT]}} (each keyring possibly JSON
 * text itself, as Keylime writes it). */
static int import_keyring(json_t *keys, const char *keyring, const json_t *ring, struct dw_policy_error *err)
{
        _cleanup_(json_decrefp) json_t *parsed = NULL;
        const json_t *pubkeys, *keyids;
        char w[192];

        snprintf(w, sizeof(w), "$[\"verification-keys\"][\"%.100s\"]", keyring);
        if (json_is_string(ring)) {
                parsed = json_loads(json_string_value(ring), 0, NULL);
                ring = parsed;
        }
        if (!json_is_object(ring))
                return fail(err, EBADMSG, w, "expected {\"pubkeys\": [...], \"keyids\": [...]}");
        pubkeys = json_object_get(ring, "pubkeys");
        keyids = json_object_get(ring, "keyids");
        for (size_t i = 0; i < json_array_size(pubkeys); i++) {
                _cleanup_(EVP_PKEY_freep) EVP_PKEY *pk = NULL;
                _cleanup_(BIO_freep) BIO *bio = NULL;
                const char *b64 = json_string_value(json_array_get(pubkeys, i));
                _cleanup_free_ uint8_t *der = NULL;
                const unsigned char *p;
                json_t *id = json_array_get(keyids, i), *k;
                char *pem = NULL, hex[9];
                long pem_len;
                int n;

                if (!b64)
                        return fail(err, EBADMSG, w, "pubkeys[%zu]: expected base64 text", i);
                der = malloc(strlen(b64) / 4 * 3 + 3);
                if (!der)
                        return -ENOMEM;
                n = EVP_DecodeBlock(der, (const unsigned char *)b64, (int)strlen(b64));
                p = der;
                pk = n > 0 ? d2i_PUBKEY(NULL, &p, n) : NULL;
                if (!pk)
                        return fail(err, EBADMSG, w, "pubkeys[%zu]: not a base64 DER public key", i);
                bio = BIO_new(BIO_s_mem());
                if (!bio || PEM_write_bio_PUBKEY(bio, pk) != 1)
                        return -ENOMEM;
                pem_len = BIO_get_mem_data(bio, &pem);
                k = json_pack("{ss#ss}", "pem", pem, (size_t)pem_len, "name", keyring);
                if (!k)
                        return -ENOMEM;
                if (json_is_integer(id) && json_integer_value(id) >= 0 && json_integer_value(id) <= UINT32_MAX) {
                        snprintf(hex, sizeof(hex), "%08" PRIx32, (uint32_t)json_integer_value(id));
                        json_object_set_new(k, "keyid", json_string(hex));
                }
                if (json_array_append_new(keys, k) < 0)
                        return -ENOMEM;
        }
        return 0;
}

static int import_keys(json_t *doc, const json_t *vk, struct dw_policy_error *err)
{
        _cleanup_(json_decrefp) json_t *parsed = NULL, *twice = NULL, *keys = json_array(), *tmp = NULL;
        char why[192];
        int r;

        if (!vk || json_is_null(vk) || (json_is_string(vk) && json_string_length(vk) == 0))
                return 0;
        if (!keys)
                return -ENOMEM;
        if (json_is_string(vk)) {
                parsed = json_loads(json_string_value(vk), JSON_REJECT_DUPLICATES, NULL);
                vk = parsed;
        }
        if (json_is_string(vk)) /* written twice-encoded */
                vk = twice = json_loads(json_string_value(vk), JSON_REJECT_DUPLICATES, NULL);
        if (json_is_array(vk) && json_array_size(vk) == 0)
                return 0;
        if (!json_is_object(vk))
                return fail(err, EBADMSG, "$[\"verification-keys\"]",
                            "expected JSON text {\"<keyring>\": {\"pubkeys\": [...], \"keyids\": [...]}}");
        for (void *it = json_object_iter((json_t *)vk); it; it = json_object_iter_next((json_t *)vk, it)) {
                r = import_keyring(keys, json_object_iter_key(it), json_object_iter_value(it), err);
                if (r < 0)
                        return r;
        }
        if (json_array_size(keys) == 0)
                return 0;
        /* The same key in two keyrings counts once; merge refuses one key id for two keys. */
        tmp = json_pack("{sO}", "keys", keys);
        if (!tmp)
                return -ENOMEM;
        json_object_set_new(doc, "keys", json_array());
        r = dw_policy_doc_merge(doc, tmp, why, sizeof(why));
        if (r == -EEXIST)
                return fail(err, EBADMSG, "$[\"verification-keys\"]", "%s", why);
        return r;
}

static int import_meta(json_t *doc, const json_t *kl, json_t *keylime_meta, struct dw_policy_error *err)
{
        const json_t *meta = json_object_get(kl, "meta"), *version = json_object_get(meta, "version");
        const json_t *release = json_object_get(kl, "release");
        char buf[32];

        if (!json_is_object(meta) || !json_is_integer(version))
                return fail(err, EBADMSG, "$.meta",
                            "not a Keylime runtime policy: expected \"meta\": {\"version\": 1, ...}");
        if (json_integer_value(version) != 1)
                return fail(err, EOPNOTSUPP, "$.meta.version",
                            "Keylime runtime policy version %" JSON_INTEGER_FORMAT " is not supported (1 is)",
                            json_integer_value(version));
        for (void *it = json_object_iter((json_t *)meta); it; it = json_object_iter_next((json_t *)meta, it))
                if (json_object_set(keylime_meta, json_object_iter_key(it), json_object_iter_value(it)) < 0)
                        return -ENOMEM;
        if (json_is_integer(release)) {
                snprintf(buf, sizeof(buf), "%" JSON_INTEGER_FORMAT, json_integer_value(release));
                if (json_object_set(keylime_meta, "release", (json_t *)release) < 0 ||
                    json_object_set_new(json_object_get(doc, "meta"), "version", json_string(buf)) < 0)
                        return -ENOMEM;
        }
        return 0;
}

int dw_keylime_import(const json_t *kl, bool drop_bad_excludes, const char *created, const char *generator,
                      json_t **ret, json_t *warnings, struct dw_policy_error *err)
{
        static const char *const known[] = {"meta", "release", "digests", "excludes",         "keyrings",
                                            "ima",  "ima-buf", "rules",   "verification-keys"};
        _cleanup_(json_decrefp) json_t *doc = dw_policy_doc_new("imported from Keylime", NULL, created, generator);
        json_t *keylime_meta = json_object();
        int r;

        if (!doc || !keylime_meta || json_object_set_new(json_object_get(doc, "meta"), "keylime", keylime_meta) < 0)
                return -ENOMEM;
        if (!json_is_object(kl))
                return fail(err, EBADMSG, "$", "expected a JSON object");
        r = import_meta(doc, kl, keylime_meta, err);
        if (r < 0)
                return r;
        for (void *it = json_object_iter((json_t *)kl); it; it = json_object_iter_next((json_t *)kl, it)) {
                bool ok = false;

                for (size_t i = 0; i < ELEMENTSOF(known) && !ok; i++)
                        ok = strcmp(json_object_iter_key(it), known[i]) == 0;
                if (!ok)
                        warn(warnings, "$.%.100s: unknown Keylime field, ignored", json_object_iter_key(it));
        }
        if (json_object_get(kl, "rules"))
                warn(warnings, "$.rules: Keylime rules are not supported and were left out");
        r = import_map(doc, json_object_get(kl, "digests"), "digests", DW_POLICY_SECTION_DIGESTS, warnings, err);
        if (r < 0)
                return r;
        r = import_map(doc, json_object_get(kl, "keyrings"), "keyrings", DW_POLICY_SECTION_IMA_BUF, warnings, err);
        if (r < 0)
                return r;
        r = import_map(doc, json_object_get(kl, "ima-buf"), "ima-buf", DW_POLICY_SECTION_IMA_BUF, warnings, err);
        if (r < 0)
                return r;
        r = import_excludes(doc, json_object_get(kl, "excludes"), drop_bad_excludes, warnings, err);
        if (r < 0)
                return r;
        r = import_ima(doc, json_object_get(kl, "ima"), keylime_meta, warnings, err);
        if (r < 0)
                return r;
        r = import_keys(doc, json_object_get(kl, "verification-keys"), err);
        if (r < 0)
                return r;
        r = dw_policy_doc_check(doc, err);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(doc);
        return 0;
}

/* ---- export ---- */

static bool is_keyring(const char *name)
{
        for (size_t i = 0; i < ELEMENTSOF(known_keyrings); i++)
                if (strcmp(name, known_keyrings[i]) == 0)
                        return true;
        return name[0] == '.';
}

static int export_map(const json_t *m, const char *section, json_t *out, json_t *out_keyrings, json_t *warnings)
{
        char w[192];

        for (void *it = json_object_iter((json_t *)m); it; it = json_object_iter_next((json_t *)m, it)) {
                const char *name = json_object_iter_key(it);
                json_t *list = json_object_iter_value(it), *hexes = json_array();

                if (!hexes)
                        return -ENOMEM;
                where_name(w, sizeof(w), section, name);
                for (size_t i = 0; i < json_array_size(list); i++) {
                        const char *d = json_string_value(json_array_get(list, i)), *colon;

                        if (strncmp(d, "verity:", 7) == 0) {
                                warn(warnings, "%s: fs-verity digest left out (Keylime does not know them)", w);
                                continue;
                        }
                        colon = strchr(d, ':');
                        if (colon && json_array_append_new(hexes, json_string(colon + 1)) < 0) {
                                json_decref(hexes);
                                return -ENOMEM;
                        }
                }
                if (json_array_size(hexes) == 0) {
                        /* Keylime needs at least one digest; an unlisted name fails there as it does here. */
                        json_decref(hexes);
                        continue;
                }
                if (json_object_set_new(out_keyrings && is_keyring(name) ? out_keyrings : out, name, hexes) < 0)
                        return -ENOMEM;
        }
        return 0;
}

static int export_keys(const json_t *doc, json_t *kl)
{
        const json_t *keys = json_object_get(doc, "keys");
        _cleanup_(json_decrefp) json_t *pubkeys = json_array(), *keyids = json_array(), *ring = NULL, *all = NULL;
        _cleanup_free_ char *ring_text = NULL, *all_text = NULL;

        if (!pubkeys || !keyids)
                return -ENOMEM;
        for (size_t i = 0; i < json_array_size(keys); i++) {
                const json_t *k = json_array_get(keys, i), *pem = json_object_get(k, "pem");
                const json_t *keyid = json_object_get(k, "keyid");
                _cleanup_(EVP_PKEY_freep) EVP_PKEY *pk = NULL;
                char why[DW_POLICY_WHY_MAX], *b64;
                unsigned char *der = NULL;
                uint32_t id;
                uint8_t b[4];
                int len;

                if (dw_policy_key_import(json_string_value(pem), json_string_length(pem), &pk, &id, why, sizeof(why)) <
                    0)
                        return -EINVAL;
                if (json_is_string(keyid) && dw_hex_decode(json_string_value(keyid), 8, b, 4) == 4)
                        id = (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
                len = i2d_PUBKEY(pk, &der);
                if (len <= 0)
                        return -ENOMEM;
                b64 = malloc(4 * ((size_t)len + 2) / 3 + 4);
                if (!b64) {
                        OPENSSL_free(der);
                        return -ENOMEM;
                }
                EVP_EncodeBlock((unsigned char *)b64, der, len);
                OPENSSL_free(der);
                if (json_array_append_new(pubkeys, json_string(b64)) < 0 ||
                    json_array_append_new(keyids, json_integer(id)) < 0) {
                        free(b64);
                        return -ENOMEM;
                }
                free(b64);
        }
        if (json_array_size(pubkeys) == 0)
                return json_object_set_new(kl, "verification-keys", json_string("")) < 0 ? -ENOMEM : 0;
        ring = json_pack("{sOsO}", "pubkeys", pubkeys, "keyids", keyids);
        ring_text = ring ? json_dumps(ring, JSON_COMPACT) : NULL;
        all = ring_text ? json_pack("{ss}", ".ima", ring_text) : NULL;
        all_text = all ? json_dumps(all, JSON_COMPACT) : NULL;
        if (!all_text)
                return -ENOMEM;
        return json_object_set_new(kl, "verification-keys", json_string(all_text)) < 0 ? -ENOMEM : 0;
}

static int export_excludes(const json_t *doc, json_t *kl, json_t *warnings)
{
        const json_t *x = json_object_get(doc, "excludes");
        json_t *out = json_array();
        char why[192], w[64];

        if (!out || json_object_set_new(kl, "excludes", out) < 0)
                return -ENOMEM;
        for (size_t i = 0; i < json_array_size(x); i++) {
                _cleanup_free_ char *py = NULL;
                int r;

                r = dw_regex_posix_to_python(json_string_value(json_array_get(x, i)), &py, why, sizeof(why));
                if (r == -ENOMEM)
                        return r;
                snprintf(w, sizeof(w), "$.excludes[%zu]", i);
                if (r < 0) {
                        warn(warnings, "%s: left out: %s (the Keylime policy is stricter without it)", w, why);
                        continue;
                }
                if (json_array_append_new(out, json_string(py)) < 0)
                        return -ENOMEM;
        }
        return 0;
}

int dw_keylime_export(const json_t *doc, bool lossy, json_t **ret, json_t *warnings, struct dw_policy_error *err)
{
        const json_t *meta = json_object_get(doc, "meta"), *km = json_object_get(meta, "keylime");
        const json_t *generator = json_object_get(km, "generator"), *release = json_object_get(km, "release");
        const json_t *created = json_object_get(meta, "created"), *alg = json_object_get(km, "log_hash_alg");
        const json_t *options = json_object_get(doc, "options");
        _cleanup_(json_decrefp) json_t *kl = json_object();
        json_t *digests = json_object(), *keyrings = json_object(), *imabuf = json_object();
        int r;

        if (!kl || json_object_set_new(kl, "digests", digests) < 0 ||
            json_object_set_new(kl, "keyrings", keyrings) < 0 || json_object_set_new(kl, "ima-buf", imabuf) < 0)
                return -ENOMEM;
        if (json_is_true(json_object_get(options, "require_signatures"))) {
                if (!lossy)
                        return fail(err, EBADMSG, "$.options.require_signatures",
                                    "Keylime cannot require signatures: its policy would accept unsigned files "
                                    "(--lossy exports anyway)");
                warn(warnings, "$.options.require_signatures: left out: Keylime accepts unsigned files whose digest "
                               "is listed");
        }
        if (json_is_true(json_object_get(options, "allow_violations")))
                warn(warnings, "$.options.allow_violations: left out: Keylime refuses violations unless excluded");
        if (json_object_set_new(kl, "meta",
                                json_pack("{sIsI}", "version", (json_int_t)1, "generator",
                                          json_is_integer(generator) ? json_integer_value(generator) : 0)) < 0 ||
            json_object_set_new(kl, "release",
                                json_integer(json_is_integer(release) ? json_integer_value(release) : 0)) < 0)
                return -ENOMEM;
        if (json_is_string(created))
                json_object_set(json_object_get(kl, "meta"), "timestamp", (json_t *)created);
        r = export_map(json_object_get(doc, "digests"), "digests", digests, NULL, warnings);
        if (r < 0)
                return r;
        r = export_map(json_object_get(doc, "ima_buf"), "ima_buf", imabuf, keyrings, warnings);
        if (r < 0)
                return r;
        r = export_excludes(doc, kl, warnings);
        if (r < 0)
                return r;
        if (json_object_set_new(kl, "ima",
                                json_pack("{s[]sssn}", "ignored_keyrings", "log_hash_alg",
                                          json_is_string(alg) ? json_string_value(alg) : "sha1", "dm_policy")) < 0)
                return -ENOMEM;
        r = export_keys(doc, kl);
        if (r < 0)
                return r == -EINVAL ? fail(err, EBADMSG, "$.keys", "a key that does not load") : r;
        *ret = TAKE_PTR(kl);
        return 0;
}
