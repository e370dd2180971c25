/* SPDX-License-Identifier: MIT */
/* Signed runtime policies: the canonical form (RFC 8785) and enveloped or detached signatures. See policy-sign.h. */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/x509.h>

#include "hex.h"
#include "macro.h"
#include "policy-sign.h"

#define MAX_SAFE_INTEGER 9007199254740992LL /* 2^53: beyond it, RFC 8785 writes a double */

DEFINE_TRIVIAL_CLEANUP_FUNC(EVP_MD_CTX *, EVP_MD_CTX_free);

/* ---- the canonical form ---- */

struct canon {
        FILE *f;
        struct dw_policy_error *err;
};

/* The next code point of well-formed UTF-8 (jansson strings are). */
static uint32_t next_cp(const unsigned char **p)
{
        const unsigned char *s = *p;
        uint32_t cp;
        unsigned n;

        if (s[0] < 0x80) {
                *p = s + 1;
                return s[0];
        }
        n = s[0] >= 0xf0 ? 3 : s[0] >= 0xe0 ? 2 : 1;
        cp = s[0] & (0x3f >> n);
        for (unsigned k = 1; k <= n && s[k]; k++)
                cp = cp << 6 | (s[k] & 0x3f);
        *p = s + n + 1;
        return cp;
}

/* RFC 8785 section 3.2.3: member names compared as arrays of UTF-16 code units. */
static int cmp_utf16(const void *a, const void *b)
{
        const unsigned char *x = *(const unsigned char *const *)a, *y = *(const unsigned char *const *)b;
        uint32_t pending_x = 0, pending_y = 0;

        for (;;) {
                uint32_t ux, uy;

                if (pending_x)
                        ux = pending_x, pending_x = 0;
                else if (*x) {
                        uint32_t cp = next_cp(&x);

                        if (cp >= 0x10000) {
                                ux = 0xd800 + ((cp - 0x10000) >> 10);
                                pending_x = 0xdc00 + ((cp - 0x10000) & 0x3ff);
                        } else
                                ux = cp;
                } else
                        ux = UINT32_MAX; /* end */
                if (pending_y)
                        uy = pending_y, pending_y = 0;
                else if (*y) {
                        uint32_t cp = next_cp(&y);

                        if (cp >= 0x10000) {
                                uy = 0xd800 + ((cp - 0x10000) >> 10);
                                pending_y = 0xdc00 + ((cp - 0x10000) & 0x3ff);
                        } else
                                uy = cp;
                } else
                        uy = UINT32_MAX;
                if (ux == UINT32_MAX && uy == UINT32_MAX)
                        return 0;
                if (ux == UINT32_MAX)
                        return -1;
                if (uy == UINT32_MAX)
                        return 1;
                if (ux != uy)
                        return ux < uy ? -1 : 1;
        }
}

static void canon_string(FILE *f, const char *s, size_t len)
{
        fputc('"', f);
        for (size_t i = 0; i < len; i++) {
                unsigned char c = (unsigned char)s[i];
                const char *esc = c == '"'    ? "\\\""
                                  : c == '\\' ? "\\\\"
                                  : c == '\b' ? "\\b"
                                  : c == '\f' ? "\\f"
                                  : c == '\n' ? "\\n"
                                  : c == '\r' ? "\\r"
                                  : c == '\t' ? "\\t"
                                              : NULL;

                if (esc)
                        fputs(esc, f);
                else if (c < 0x20)
                        fprintf(f, "\\u%04x", c);
                else
                        fputc(c, f);
        }
        fputc('"', f);
}

static int canon_number(struct canon *c, const json_t *v, const char *where)
{
        if (json_is_integer(v)) {
                json_int_t i = json_integer_value(v);

                if (i > MAX_SAFE_INTEGER || i < -MAX_SAFE_INTEGER)
                        goto refuse;
                fprintf(c->f, "%" JSON_INTEGER_FORMAT, i);
                return 0;
        }
        double d = json_real_value(v);

        /* NaN fails every comparison; the range check comes before the cast. */
        if (!(d >= -(double)MAX_SAFE_INTEGER && d <= (double)MAX_SAFE_INTEGER) || (double)(long long)d != d)
                goto refuse;
        fprintf(c->f, "%lld", d == 0 ? 0LL : (long long)d); /* -0 is written 0 */
        return 0;
refuse:
        if (c->err) {
                *c->err = (struct dw_policy_error){};
                snprintf(c->err->where, sizeof(c->err->where), "%s", where);
                snprintf(c->err->msg, sizeof(c->err->msg),
                         "a number that is not an integer of at most 2^53 cannot be signed (write it as a string)");
        }
        return -EDOM;
}

static int canon_value(struct canon *c, const json_t *v, const char *where, int depth);

static int canon_object(struct canon *c, const json_t *v, const char *where, int depth)
{
        size_t n = json_object_size(v), k = 0;
        _cleanup_free_ const char **keys = malloc(MAX(n, (size_t)1) * sizeof(*keys));
        bool first = true;

        if (!keys)
                return -ENOMEM;
        for (void *it = json_object_iter((json_t *)v); it && k < n; it = json_object_iter_next((json_t *)v, it))
                keys[k++] = json_object_iter_key(it);
        qsort(keys, k, sizeof(*keys), cmp_utf16);
        fputc('{', c->f);
        for (size_t i = 0; i < k; i++) {
                char w[192];
                int r;

                /* The signature itself is not signed. */
                if (depth == 1 && strcmp(where, "$.meta") == 0 && strcmp(keys[i], "signature") == 0)
                        continue;
                fputs(first ? "" : ",", c->f);
                first = false;
                canon_string(c->f, keys[i], strlen(keys[i]));
                fputc(':', c->f);
                snprintf(w, sizeof(w), "%.120s.%.60s", where, keys[i]);
                r = canon_value(c, json_object_get(v, keys[i]), w, depth + 1);
                if (r < 0)
                        return r;
        }
        fputc('}', c->f);
        return 0;
}

static int canon_value(struct canon *c, const json_t *v, const char *where, int depth)
{
        switch (json_typeof(v)) {
        case JSON_OBJECT:
                return canon_object(c, v, where, depth);
        case JSON_ARRAY:
                fputc('[', c->f);
                for (size_t i = 0; i < json_array_size(v); i++) {
                        char w[192];
                        int r;

                        fputs(i ? "," : "", c->f);
                        snprintf(w, sizeof(w), "%.160s[%zu]", where, i);
                        r = canon_value(c, json_array_get(v, i), w, depth + 1);
                        if (r < 0)
                                return r;
                }
                fputc(']', c->f);
                return 0;
        case JSON_STRING:
                canon_string(c->f, json_string_value(v), json_string_length(v));
                return 0;
        case JSON_INTEGER:
        case JSON_REAL:
                return canon_number(c, v, where);
        case JSON_TRUE:
                fputs("true", c->f);
                return 0;
        case JSON_FALSE:
                fputs("false", c->f);
                return 0;
        default:
                fputs("null", c->f);
                return 0;
        }
}

int dw_policy_canonical(const json_t *doc, char **ret, size_t *ret_len, struct dw_policy_error *err)
{
        struct canon c = {.err = err};
        char *buf = NULL;
        size_t size = 0;
        int r;

        c.f = open_memstream(&buf, &size);
        if (!c.f)
                return -ENOMEM;
        r = canon_value(&c, doc, "$", 0);
        if (fclose(c.f) != 0 && r == 0)
                r = -ENOMEM;
        if (r < 0) {
                free(buf);
                return r;
        }
        *ret = buf;
        *ret_len = size;
        return 0;
}

/* ---- keys ---- */

const char *dw_policy_sig_alg(EVP_PKEY *key)
{
        char group[64];

        if (!key)
                return NULL;
        if (EVP_PKEY_is_a(key, "RSA"))
                return "rsa-pkcs1-sha256";
        if (!EVP_PKEY_is_a(key, "EC") || EVP_PKEY_get_group_name(key, group, sizeof(group), NULL) != 1)
                return NULL;
        if (strcmp(group, "prime256v1") == 0 || strcmp(group, "P-256") == 0)
                return "ecdsa-p256-sha256";
        if (strcmp(group, "secp384r1") == 0 || strcmp(group, "P-384") == 0)
                return "ecdsa-p384-sha384";
        if (strcmp(group, "secp521r1") == 0 || strcmp(group, "P-521") == 0)
                return "ecdsa-p521-sha512";
        return NULL;
}

static const char *alg_digest(const char *alg)
{
        size_t n = strlen(alg);

        if (n > 6 && strcmp(alg + n - 6, "sha256") == 0)
                return "SHA256";
        if (n > 6 && strcmp(alg + n - 6, "sha384") == 0)
                return "SHA384";
        return "SHA512";
}

int dw_policy_key_fingerprint(EVP_PKEY *key, char out[static 65])
{
        unsigned char *der = NULL, md[32];
        int len = i2d_PUBKEY(key, &der);

        if (len <= 0)
                return -EINVAL;
        if (EVP_Digest(der, (size_t)len, md, NULL, EVP_sha256(), NULL) != 1) {
                OPENSSL_free(der);
                return -ENOMEM;
        }
        OPENSSL_free(der);
        dw_hex_encode(md, sizeof(md), out);
        return 0;
}

int dw_policy_sign_data(EVP_PKEY *key, const void *data, size_t len, uint8_t **ret_sig, size_t *ret_sig_len)
{
        _cleanup_(EVP_MD_CTX_freep) EVP_MD_CTX *ctx = EVP_MD_CTX_new();
        const char *alg = dw_policy_sig_alg(key);
        _cleanup_free_ uint8_t *sig = NULL;
        size_t n = 0;

        if (!alg)
                return -EOPNOTSUPP;
        if (!ctx)
                return -ENOMEM;
        if (EVP_DigestSignInit_ex(ctx, NULL, alg_digest(alg), NULL, NULL, key, NULL) != 1 ||
            EVP_DigestSign(ctx, NULL, &n, data, len) != 1)
                return -EIO;
        sig = malloc(n);
        if (!sig)
                return -ENOMEM;
        if (EVP_DigestSign(ctx, sig, &n, data, len) != 1)
                return -EIO;
        *ret_sig = TAKE_PTR(sig);
        *ret_sig_len = n;
        return 0;
}

/* ---- base64 (RFC 4648 with padding) ---- */

static char *base64_encode(const uint8_t *data, size_t len)
{
        char *out = malloc(4 * ((len + 2) / 3) + 1);

        if (out)
                EVP_EncodeBlock((unsigned char *)out, data, (int)len);
        return out;
}

static int base64_decode(const char *s, size_t len, uint8_t **ret, size_t *ret_len)
{
        size_t pad = 0;
        uint8_t *out;
        int n;

        if (len == 0 || len % 4 != 0 || len > 1 << 20)
                return -EBADMSG;
        for (size_t i = 0; i < len; i++) {
                bool ok = (s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= 'a' && s[i] <= 'z') ||
                          (s[i] >= '0' && s[i] <= '9') || s[i] == '+' || s[i] == '/';

                if (s[i] == '=' && i >= len - 2) {
                        pad++;
                        continue;
                }
                if (!ok || pad)
                        return -EBADMSG;
        }
        out = malloc(len / 4 * 3);
        if (!out)
                return -ENOMEM;
        n = EVP_DecodeBlock(out, (const unsigned char *)s, (int)len);
        if (n < 0 || (size_t)n < pad) {
                free(out);
                return -EBADMSG;
        }
        *ret = out;
        *ret_len = (size_t)n - pad;
        return 0;
}

/* ---- enveloped signatures ---- */

int dw_policy_sign(json_t *doc, EVP_PKEY *key, struct dw_policy_error *err)
{
        _cleanup_free_ char *canon = NULL, *b64 = NULL;
        _cleanup_free_ uint8_t *sig = NULL;
        size_t len, sig_len;
        char keyid[65];
        json_t *meta;
        int r;

        if (!dw_policy_sig_alg(key))
                return -EOPNOTSUPP;
        meta = json_object_get(doc, "meta");
        if (!meta) {
                meta = json_object();
                if (!meta || json_object_set_new(doc, "meta", meta) < 0)
                        return -ENOMEM;
        }
        if (!json_is_object(meta))
                return -EINVAL;
        r = dw_policy_canonical(doc, &canon, &len, err);
        if (r < 0)
                return r;
        r = dw_policy_sign_data(key, canon, len, &sig, &sig_len);
        if (r < 0)
                return r;
        r = dw_policy_key_fingerprint(key, keyid);
        if (r < 0)
                return r;
        b64 = base64_encode(sig, sig_len);
        if (!b64)
                return -ENOMEM;
        if (json_object_set_new(meta, "signature",
                                json_pack("{ssssss}", "alg", dw_policy_sig_alg(key), "keyid", keyid, "value", b64)) < 0)
                return -ENOMEM;
        return 0;
}

static const char *const verdict_names[] = {
        [DW_POLICY_SIG_VALID] = "valid",         [DW_POLICY_SIG_UNSIGNED] = "unsigned",
        [DW_POLICY_SIG_WRONG_KEY] = "wrong_key", [DW_POLICY_SIG_MISMATCH] = "mismatch",
        [DW_POLICY_SIG_MALFORMED] = "malformed",
};

const char *dw_policy_sig_verdict_name(enum dw_policy_sig_verdict v)
{
        return v >= 0 && v < (int)ELEMENTSOF(verdict_names) ? verdict_names[v] : NULL;
}

static int verify_raw(EVP_PKEY *pub, const char *alg, const void *data, size_t len, const uint8_t *sig, size_t sig_len,
                      bool *ret)
{
        _cleanup_(EVP_MD_CTX_freep) EVP_MD_CTX *ctx = EVP_MD_CTX_new();

        if (!ctx)
                return -ENOMEM;
        if (EVP_DigestVerifyInit_ex(ctx, NULL, alg_digest(alg), NULL, NULL, pub, NULL) != 1)
                return -EIO;
        *ret = EVP_DigestVerify(ctx, sig, sig_len, data, len) == 1;
        return 0;
}

int dw_policy_verify(const json_t *doc, EVP_PKEY *pub, enum dw_policy_sig_verdict *ret, char *why, size_t why_size,
                     struct dw_policy_error *err)
{
        const json_t *s = json_object_get(json_object_get(doc, "meta"), "signature");
        const json_t *alg = json_object_get(s, "alg"), *keyid = json_object_get(s, "keyid");
        const json_t *value = json_object_get(s, "value");
        const char *want_alg = dw_policy_sig_alg(pub);
        _cleanup_free_ uint8_t *sig = NULL;
        _cleanup_free_ char *canon = NULL;
        size_t sig_len, len;
        char fp[65];
        bool ok;
        int r;

        if (!s) {
                snprintf(why, why_size, "the policy is not signed (no meta.signature)");
                *ret = DW_POLICY_SIG_UNSIGNED;
                return 0;
        }
        if (!json_is_string(alg) || !json_is_string(keyid) || !json_is_string(value) ||
            base64_decode(json_string_value(value), json_string_length(value), &sig, &sig_len) < 0) {
                snprintf(why, why_size,
                         "meta.signature is not {\"alg\": ..., \"keyid\": ..., \"value\": \"<base64>\"}");
                *ret = DW_POLICY_SIG_MALFORMED;
                return 0;
        }
        r = dw_policy_key_fingerprint(pub, fp);
        if (r < 0)
                return r;
        if (strcmp(json_string_value(keyid), fp) != 0) {
                snprintf(why, why_size, "signed by key %.64s, not by this key (%s)", json_string_value(keyid), fp);
                *ret = DW_POLICY_SIG_WRONG_KEY;
                return 0;
        }
        if (!want_alg || strcmp(json_string_value(alg), want_alg) != 0) {
                snprintf(why, why_size, "signature algorithm %.40s does not fit this key (%s)", json_string_value(alg),
                         want_alg ?: "unsupported key type");
                *ret = DW_POLICY_SIG_MALFORMED;
                return 0;
        }
        r = dw_policy_canonical(doc, &canon, &len, err);
        if (r < 0)
                return r;
        r = verify_raw(pub, want_alg, canon, len, sig, sig_len, &ok);
        if (r < 0)
                return r;
        if (!ok) {
                snprintf(why, why_size,
                         "the signature by key %.16s... does not match the content: the policy was changed after "
                         "it was signed",
                         fp);
                *ret = DW_POLICY_SIG_MISMATCH;
                return 0;
        }
        snprintf(why, why_size, "signed by key %s (%s)", fp, want_alg);
        *ret = DW_POLICY_SIG_VALID;
        return 0;
}

int dw_policy_verify_detached(const json_t *doc, const uint8_t *sig, size_t sig_len, EVP_PKEY *pub,
                              enum dw_policy_sig_verdict *ret, char *why, size_t why_size, struct dw_policy_error *err)
{
        const char *alg = dw_policy_sig_alg(pub);
        _cleanup_free_ char *canon = NULL;
        size_t len;
        bool ok;
        int r;

        if (!alg) {
                snprintf(why, why_size, "unsupported key type");
                *ret = DW_POLICY_SIG_MALFORMED;
                return 0;
        }
        r = dw_policy_canonical(doc, &canon, &len, err);
        if (r < 0)
                return r;
        r = verify_raw(pub, alg, canon, len, sig, sig_len, &ok);
        if (r < 0)
                return r;
        *ret = ok ? DW_POLICY_SIG_VALID : DW_POLICY_SIG_MISMATCH;
        snprintf(why, why_size, "%s",
                 ok ? "the detached signature matches"
                    : "the detached signature does not match: the policy was changed after it was signed, or it was "
                      "signed by another key");
        return 0;
}
