/* SPDX-License-Identifier: MIT */
/* Tests of the verifier side of TPM attestation: lib/tpm-marshal.c, lib/tpm-quote.c, lib/ek-cert.c and
 * lib/tpm-credential.c, on evidence captured once from swtpm with tpm2-tools (tests/data/tpm/generate.sh), on
 * attestations signed here with keys of our own (for what a real TPM never signs), and on malformed input at every
 * truncation length (also run under ASan+UBSan). */

#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509v3.h>
#include <tss2/tss2_mu.h>

#include "ek-cert.h"
#include "fileio.h"
#include "hex.h"
#include "macro.h"
#include "tpm-credential.h"
#include "tpm-marshal.h"
#include "tpm-quote.h"

#define DATA      "/tests/data/tpm/"
#define TIME_2000 946684800  /* 2000-01-01: before every certificate's notBefore */
#define TIME_2200 7258118400 /* 2200-01-01: after the CRLs' nextUpdate (2126), before the certs' 9999 */

/* ---- Helpers ---------------------------------------------------------------------------------------------- */

/* A fixture in a buffer of exactly its size, so that ASan sees any read past the end. */
static uint8_t *load(const char *name, size_t *ret_size)
{
        const char *root = getenv("DW_SRCDIR");
        _cleanup_free_ uint8_t *data = NULL;
        _cleanup_free_ char *path = NULL;
        uint8_t *copy;
        size_t size;

        ck_assert_msg(root, "DW_SRCDIR is not set");
        ck_assert_int_ge(asprintf(&path, "%s" DATA "%s", root, name), 0);
        ck_assert_msg(dw_read_full_file(path, 1 << 20, &data, &size) == 0, "cannot read %s", path);
        copy = malloc(size ? size : 1);
        ck_assert_ptr_nonnull(copy);
        memcpy(copy, data, size);
        *ret_size = size;
        return copy;
}

/* Hex in a text fixture: the whole file, or the value of "key HEX" line. Returns the byte count. */
static size_t load_hex(const char *name, const char *key, uint8_t *out, size_t out_size)
{
        _cleanup_free_ uint8_t *text = NULL;
        _cleanup_free_ char *s = NULL;
        size_t size, len;
        char *p;
        int n;

        text = load(name, &size);
        s = strndup((const char *)text, size);
        ck_assert_ptr_nonnull(s);
        p = s;
        if (key) {
                char *line = strstr(s, key);

                ck_assert_ptr_nonnull(line);
                p = line + strlen(key) + 1;
        }
        len = strspn(p, "0123456789abcdefABCDEF");
        n = dw_hex_decode(p, len, out, out_size);
        ck_assert_int_ge(n, 0);
        return (size_t)n;
}

static void load_public(const char *name, TPMT_PUBLIC *pub)
{
        _cleanup_free_ uint8_t *buf = NULL;
        struct dw_error err = {};
        size_t size;

        buf = load(name, &size);
        ck_assert_msg(dw_tpm_public_parse(buf, size, pub, &err) == 0, "%s: %s", name, err.msg);
}

static EVP_PKEY *load_key(const char *name)
{
        _cleanup_free_ uint8_t *buf = NULL;
        struct dw_error err = {};
        EVP_PKEY *pkey = NULL;
        size_t size;

        buf = load(name, &size);
        ck_assert_msg(dw_tpm_key_load(buf, size, &pkey, NULL, NULL, &err) == 0, "%s: %s", name, err.msg);
        return pkey;
}

static X509 *load_cert(const char *name)
{
        _cleanup_free_ uint8_t *buf = NULL;
        struct dw_error err = {};
        X509 *cert = NULL;
        size_t size;

        buf = load(name, &size);
        ck_assert_msg(dw_ek_cert_parse(buf, size, &cert, &err) == 0, "%s: %s", name, err.msg);
        return cert;
}

static void load_name(const char *file, TPM2B_NAME *name)
{
        _cleanup_free_ uint8_t *buf = NULL;
        size_t size;

        buf = load(file, &size);
        ck_assert_uint_le(size, sizeof(name->name));
        memcpy(name->name, buf, size);
        name->size = (UINT16)size;
}

/* One captured attestation: attest, signature and (for quotes) the PCR file. */
struct fixture {
        uint8_t *attest, *sig, *pcrs_file;
        size_t attest_size, sig_size, pcrs_size;
        struct dw_tpm_pcrs *pcrs;
};

static void fixture_load(struct fixture *f, const char *base, bool with_pcrs)
{
        _cleanup_free_ char *a = NULL, *s = NULL, *p = NULL;
        struct dw_error err = {};

        *f = (struct fixture){};
        ck_assert_int_ge(asprintf(&a, "%s.attest", base), 0);
        ck_assert_int_ge(asprintf(&s, "%s.sig", base), 0);
        f->attest = load(a, &f->attest_size);
        f->sig = load(s, &f->sig_size);
        if (!with_pcrs)
                return;
        ck_assert_int_ge(asprintf(&p, "%s.pcrs", base), 0);
        f->pcrs_file = load(p, &f->pcrs_size);
        f->pcrs = malloc(sizeof(*f->pcrs));
        ck_assert_ptr_nonnull(f->pcrs);
        ck_assert_msg(dw_tpm_pcrs_file_parse(f->pcrs_file, f->pcrs_size, f->pcrs, &err) == 0, "%s: %s", p, err.msg);
}

static void fixture_done(struct fixture *f)
{
        free(f->attest);
        free(f->sig);
        free(f->pcrs_file);
        free(f->pcrs);
}

static struct dw_attest_evidence evidence_of(const struct fixture *f)
{
        return (struct dw_attest_evidence){f->attest, f->attest_size, f->sig, f->sig_size};
}

static size_t nonce(uint8_t out[64])
{
        return load_hex("nonce.hex", NULL, out, 64);
}

/* Verifies quote fixture base with its AK PEM and the fixture nonce; pcrs as given. */
static struct dw_attest_result quote_check(const char *base, const char *ak, const struct dw_tpm_pcrs *pcrs,
                                           const struct dw_tpm_clock *previous)
{
        _cleanup_(dw_pkey_freep) EVP_PKEY *key = load_key(ak);
        struct dw_attest_result res = {};
        struct dw_error err = {};
        struct dw_attest_evidence ev;
        struct fixture f;
        uint8_t n[64];
        size_t nsize = nonce(n);
        struct dw_attest_expect e = {.ak = key, .nonce = n, .nonce_size = nsize, .previous = previous};

        fixture_load(&f, base, false);
        ev = evidence_of(&f);
        ck_assert_msg(dw_tpm_quote_verify(&e, &ev, pcrs, &res, NULL, &err) == 0, "%s: %s", base, err.msg);
        fixture_done(&f);
        return res;
}

static struct dw_tpm_clock clock_of_fixture(const char *base)
{
        _cleanup_free_ TPMS_ATTEST *a = calloc(1, sizeof(*a));
        struct fixture f;

        ck_assert_ptr_nonnull(a);
        fixture_load(&f, base, false);
        ck_assert_int_eq(dw_tpm_attest_parse(f.attest, f.attest_size, a, NULL), 0);
        fixture_done(&f);
        return (struct dw_tpm_clock){a->clockInfo.clock, a->clockInfo.resetCount, a->clockInfo.restartCount,
                                     a->clockInfo.safe == TPM2_YES};
}

/* A deterministic byte stream for the garbage tests. */
static uint32_t prng(uint32_t *s)
{
        *s ^= *s << 13;
        *s ^= *s >> 17;
        *s ^= *s << 5;
        return *s;
}

/* ---- Public areas, Names, keys ------------------------------------------------------------------------------ */

START_TEST(test_public_names)
{
        static const char *const objects[] = {"ak-ecc", "ak-rsa", "ak-rsapss", "certified"};

        for (size_t i = 0; i < ELEMENTSOF(objects); i++) {
                _cleanup_free_ char *pub = NULL, *name = NULL;
                TPMT_PUBLIC p;
                TPM2B_NAME want, got;

                ck_assert_int_ge(asprintf(&pub, "%s.pub", objects[i]), 0);
                ck_assert_int_ge(asprintf(&name, "%s.name", objects[i]), 0);
                load_public(pub, &p);
                load_name(name, &want);
                ck_assert_int_eq(dw_tpm_public_name(&p, &got), 0);
                ck_assert_uint_eq(got.size, want.size);
                ck_assert_mem_eq(got.name, want.name, want.size);
        }
}
END_TEST

START_TEST(test_key_load)
{
        static const char *const pairs[][2] = {
                {"ak-ecc.pub", "ak-ecc.pem"},      {"ak-rsa.pub", "ak-rsa.pem"}, {"ak-rsapss.pub", "ak-rsapss.pem"},
                {"ek-rsa.pub", "ek-rsa.pem"},      {"ek-ecc.pub", "ek-ecc.pem"}, {"ek-rsa.pub", "ek-rsa-cert.der"},
                {"ek-ecc.pub", "ek-ecc-cert.der"},
        };

        for (size_t i = 0; i < ELEMENTSOF(pairs); i++) {
                _cleanup_(dw_pkey_freep) EVP_PKEY *a = NULL, *b = NULL;
                _cleanup_free_ uint8_t *buf = NULL;
                TPMT_PUBLIC pub;
                bool has_public = false;
                size_t size;

                buf = load(pairs[i][0], &size);
                ck_assert_int_eq(dw_tpm_key_load(buf, size, &a, &pub, &has_public, NULL), 0);
                ck_assert(has_public);
                b = load_key(pairs[i][1]);
                ck_assert_msg(EVP_PKEY_eq(a, b) == 1, "%s and %s differ", pairs[i][0], pairs[i][1]);
                ck_assert(dw_tpm_public_matches_pkey(&pub, b));
        }
}
END_TEST

START_TEST(test_key_load_bad)
{
        static const char garbage[] = "not a key at all";
        _cleanup_(dw_pkey_freep) EVP_PKEY *k = NULL, *other = NULL;
        _cleanup_free_ uint8_t *buf = NULL;
        struct dw_error err = {};
        TPMT_PUBLIC pub;
        size_t size;

        ck_assert_int_eq(dw_tpm_key_load((const uint8_t *)garbage, sizeof(garbage), &k, NULL, NULL, &err), -EINVAL);
        ck_assert_ptr_null(k);
        /* Truncated TPM2B_PUBLIC at every length: rejected, never read past the end. */
        buf = load("ak-rsa.pub", &size);
        for (size_t len = 0; len < size; len++) {
                uint8_t *copy = malloc(len ? len : 1);

                memcpy(copy, buf, len);
                ck_assert_int_lt(dw_tpm_public_parse(copy, len, &pub, NULL), 0);
                ck_assert_int_lt(dw_tpm_key_load(copy, len, &k, NULL, NULL, NULL), 0);
                free(copy);
        }
        /* A key is not another key. */
        load_public("ak-ecc.pub", &pub);
        other = load_key("ak-rsa.pem");
        ck_assert(!dw_tpm_public_matches_pkey(&pub, other));
}
END_TEST

START_TEST(test_ek_template_from_cert)
{
        _cleanup_(dw_x509_freep) X509 *rsa = load_cert("ek-rsa-cert.der"), *ecc = load_cert("ek-ecc-cert.der");
        TPMT_PUBLIC from_tpm, built;

        load_public("ek-rsa.pub", &from_tpm);
        ck_assert_int_eq(dw_tpm_public_from_ek_pkey(X509_get0_pubkey(rsa), &built), 0);
        ck_assert_int_eq(built.nameAlg, from_tpm.nameAlg);
        ck_assert_mem_eq(&built.parameters.rsaDetail.symmetric, &from_tpm.parameters.rsaDetail.symmetric,
                         sizeof(TPMT_SYM_DEF_OBJECT));
        ck_assert_uint_eq(built.unique.rsa.size, from_tpm.unique.rsa.size);
        ck_assert_mem_eq(built.unique.rsa.buffer, from_tpm.unique.rsa.buffer, from_tpm.unique.rsa.size);
        ck_assert_uint_eq(built.parameters.rsaDetail.exponent, from_tpm.parameters.rsaDetail.exponent);

        load_public("ek-ecc.pub", &from_tpm);
        ck_assert_int_eq(dw_tpm_public_from_ek_pkey(X509_get0_pubkey(ecc), &built), 0);
        ck_assert_int_eq(built.nameAlg, from_tpm.nameAlg); /* P-384: SHA-384 */
        ck_assert_int_eq(built.parameters.eccDetail.curveID, from_tpm.parameters.eccDetail.curveID);
        ck_assert_int_eq(built.parameters.eccDetail.symmetric.keyBits.aes,
                         from_tpm.parameters.eccDetail.symmetric.keyBits.aes);
        ck_assert_mem_eq(&built.unique.ecc, &from_tpm.unique.ecc, sizeof(TPMS_ECC_POINT));
}
END_TEST

/* ---- The tpm2-tools PCR file ------------------------------------------------------------------------------- */

START_TEST(test_pcrs_file_roundtrip)
{
        static const struct {
                const char *file;
                size_t values;
                const char *selection;
        } files[] = {
                {"quote-ecc.pcrs", 7, "sha256:0,1,2,3,16,23+sha1:16"},
                {"quote-rsapss.pcrs", 2, "sha1:16+sha256:16"},
                {"quote-many.pcrs", 48, NULL},
        };

        for (size_t i = 0; i < ELEMENTSOF(files); i++) {
                _cleanup_free_ struct dw_tpm_pcrs *p = malloc(sizeof(*p));
                _cleanup_free_ uint8_t *buf = NULL, *out = NULL;
                struct dw_error err = {};
                size_t size, out_size;
                char sel[256];

                buf = load(files[i].file, &size);
                ck_assert_msg(dw_tpm_pcrs_file_parse(buf, size, p, &err) == 0, "%s", err.msg);
                ck_assert_uint_eq(p->n_values, files[i].values);
                if (files[i].selection)
                        ck_assert_str_eq(dw_tpm_pcr_selection_format(&p->selection, sel, sizeof(sel)),
                                         files[i].selection);
                /* What we write is byte for byte what tpm2_quote wrote. */
                ck_assert_int_eq(dw_tpm_pcrs_file_write(p, &out, &out_size), 0);
                ck_assert_uint_eq(out_size, size);
                ck_assert_mem_eq(out, buf, size);
        }
}
END_TEST

START_TEST(test_pcrs_values)
{
        _cleanup_free_ struct dw_tpm_pcrs *p = malloc(sizeof(*p));
        _cleanup_free_ uint8_t *buf = NULL;
        uint8_t sha1_16[20], sha256_16[32], zero[32] = {};
        size_t size;

        /* PCR 16 was extended once with H("driftwatch") in both banks. */
        buf = load("quote-ecc.pcrs", &size);
        ck_assert_int_eq(dw_tpm_pcrs_file_parse(buf, size, p, NULL), 0);
        {
                uint8_t in[64] = {};

                EVP_Q_digest(NULL, "SHA256", NULL, "driftwatch", 10, in + 32, NULL);
                EVP_Q_digest(NULL, "SHA256", NULL, in, 64, sha256_16, NULL);
                memset(in, 0, sizeof(in));
                EVP_Q_digest(NULL, "SHA1", NULL, "driftwatch", 10, in + 20, NULL);
                EVP_Q_digest(NULL, "SHA1", NULL, in, 40, sha1_16, NULL);
        }
        ck_assert_int_eq(p->values[0].hash_alg, TPM2_ALG_SHA256);
        ck_assert_int_eq(p->values[0].pcr, 0);
        ck_assert_mem_eq(p->values[0].digest, zero, 32);
        ck_assert_int_eq(p->values[4].pcr, 16);
        ck_assert_mem_eq(p->values[4].digest, sha256_16, 32);
        ck_assert_int_eq(p->values[6].hash_alg, TPM2_ALG_SHA1);
        ck_assert_int_eq(p->values[6].size, 20);
        ck_assert_mem_eq(p->values[6].digest, sha1_16, 20);
}
END_TEST

START_TEST(test_pcrs_file_bad)
{
        _cleanup_free_ struct dw_tpm_pcrs *p = malloc(sizeof(*p));
        _cleanup_free_ uint8_t *buf = NULL;
        struct dw_error err = {};
        size_t size;

        buf = load("quote-ecc.pcrs", &size);
        /* Every truncation, and one byte more. */
        for (size_t len = 0; len <= size + 1; len++) {
                uint8_t *copy = calloc(1, len ? len : 1);

                memcpy(copy, buf, MIN(len, size));
                if (len != size)
                        ck_assert_int_eq(dw_tpm_pcrs_file_parse(copy, len, p, &err), -EINVAL);
                free(copy);
        }
        /* Field by field: bank count, sizeofSelect, unknown hash, list count, digest count and size. */
        {
                static const struct {
                        size_t offset;
                        uint8_t value;
                        const char *what;
                } cases[] = {
                        {0, 17, "banks"},          {6, 5, "sizeofSelect"},   {4, 0x99, "unknown hash"},
                        {132, 33, "digest lists"}, {136, 9, "digests"},      {140, 65, "digest of 65"},
                        {140, 20, "wrong size"},   {136, 5, "fewer values"}, {8, 0x01, "more selected"},
                };

                for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                        uint8_t old = buf[cases[i].offset];

                        buf[cases[i].offset] = cases[i].value;
                        ck_assert_msg(dw_tpm_pcrs_file_parse(buf, size, p, &err) == -EINVAL, "%s accepted",
                                      cases[i].what);
                        buf[cases[i].offset] = old;
                }
                ck_assert_int_eq(dw_tpm_pcrs_file_parse(buf, size, p, &err), 0);
        }
        /* Garbage of many sizes. */
        for (uint32_t seed = 1, i = 0; i < 2000; i++) {
                size_t len = prng(&seed) % 1200;
                uint8_t *g = malloc(len ? len : 1);

                for (size_t k = 0; k < len; k++)
                        g[k] = (uint8_t)prng(&seed);
                ck_assert_int_lt(dw_tpm_pcrs_file_parse(g, len, p, NULL), 0);
                free(g);
        }
}
END_TEST

START_TEST(test_pcrs_from_digests)
{
        _cleanup_free_ struct dw_tpm_pcrs *p = malloc(sizeof(*p));
        TPML_PCR_SELECTION sel = {.count = 1};
        TPML_DIGEST lists[2] = {};

        sel.pcrSelections[0] = (TPMS_PCR_SELECTION){TPM2_ALG_SHA256, 3, {0x01, 0x00, 0x81}}; /* 0, 16, 23 */
        lists[0].count = 2;
        lists[1].count = 1;
        for (unsigned i = 0; i < 2; i++)
                lists[0].digests[i].size = 32;
        lists[1].digests[0].size = 32;
        lists[1].digests[0].buffer[0] = 0x23;
        ck_assert_int_eq(dw_tpm_pcrs_from_digests(&sel, lists, 2, p, NULL), 0);
        ck_assert_uint_eq(p->n_values, 3);
        ck_assert_int_eq(p->values[2].pcr, 23);
        ck_assert_int_eq(p->values[2].digest[0], 0x23);
        /* One value short, one too many, one of the wrong size. */
        ck_assert_int_eq(dw_tpm_pcrs_from_digests(&sel, lists, 1, p, NULL), -EINVAL);
        lists[1].count = 2;
        lists[1].digests[1].size = 32;
        ck_assert_int_eq(dw_tpm_pcrs_from_digests(&sel, lists, 2, p, NULL), -EINVAL);
        lists[1].count = 1;
        lists[1].digests[0].size = 20;
        ck_assert_int_eq(dw_tpm_pcrs_from_digests(&sel, lists, 2, p, NULL), -EINVAL);
}
END_TEST

/* ---- Quotes ------------------------------------------------------------------------------------------------ */

START_TEST(test_quote_valid)
{
        static const char *const quotes[][2] = {
                {"quote-ecc", "ak-ecc.pem"},  {"quote-rsa", "ak-rsa.pem"},       {"quote-rsapss", "ak-rsapss.pem"},
                {"quote-many", "ak-ecc.pem"}, {"quote-ecc-reset", "ak-ecc.pub"},
        };

        for (size_t i = 0; i < ELEMENTSOF(quotes); i++) {
                struct dw_attest_result res;
                struct fixture f;

                fixture_load(&f, quotes[i][0], true);
                res = quote_check(quotes[i][0], quotes[i][1], f.pcrs, NULL);
                ck_assert_msg(res.valid && res.reason == DW_ATTEST_OK, "%s: %s", quotes[i][0], res.msg);
                ck_assert(res.pcrs_checked);
                ck_assert(!res.reset);
                /* Without PCR values: valid, and says the digest was not checked. */
                res = quote_check(quotes[i][0], quotes[i][1], NULL, NULL);
                ck_assert_msg(res.valid, "%s: %s", quotes[i][0], res.msg);
                ck_assert(!res.pcrs_checked);
                ck_assert_ptr_nonnull(strstr(res.msg, "unchecked"));
                fixture_done(&f);
        }
}
END_TEST

START_TEST(test_quote_ak_public)
{
        _cleanup_free_ TPMS_ATTEST *a = calloc(1, sizeof(*a));
        struct dw_attest_result res;
        struct dw_error err = {};
        struct dw_attest_evidence ev;
        struct fixture f;
        TPMT_PUBLIC ak;
        uint8_t n[64];
        size_t nsize = nonce(n);
        struct dw_attest_expect e = {.ak_public = &ak, .nonce = n, .nonce_size = nsize};

        /* The AK given as its TPM public area: a restricted signing key, so fine. */
        load_public("ak-ecc.pub", &ak);
        fixture_load(&f, "quote-ecc", true);
        ev = evidence_of(&f);
        ck_assert_int_eq(dw_tpm_quote_verify(&e, &ev, f.pcrs, &res, a, &err), 0);
        ck_assert_msg(res.valid, "%s", res.msg);
        ck_assert_int_eq(a->type, TPM2_ST_ATTEST_QUOTE);
        ck_assert_int_eq(a->extraData.size, nsize);
        /* The same key, but not restricted: it could have signed anything. */
        ak.objectAttributes &= ~TPMA_OBJECT_RESTRICTED;
        ck_assert_int_eq(dw_tpm_quote_verify(&e, &ev, f.pcrs, &res, NULL, &err), 0);
        ck_assert_int_eq(res.reason, DW_ATTEST_AK_NOT_RESTRICTED);
        ck_assert(!res.valid);
        fixture_done(&f);
}
END_TEST

START_TEST(test_quote_nonce)
{
        _cleanup_(dw_pkey_freep) EVP_PKEY *key = load_key("ak-ecc.pem");
        struct dw_attest_result res;
        struct dw_attest_evidence ev;
        struct fixture f;
        uint8_t n[64];
        size_t nsize = nonce(n);
        struct dw_attest_expect e = {.ak = key, .nonce = n, .nonce_size = nsize};

        fixture_load(&f, "quote-ecc", true);
        ev = evidence_of(&f);
        /* A replayed quote carries an old nonce: any other nonce than the one issued now is refused. */
        n[0] ^= 1;
        ck_assert_int_eq(dw_tpm_quote_verify(&e, &ev, f.pcrs, &res, NULL, NULL), 0);
        ck_assert_int_eq(res.reason, DW_ATTEST_NONCE_MISMATCH);
        ck_assert_str_eq(dw_attest_reason_name(res.reason), "nonce-mismatch");
        n[0] ^= 1;
        e.nonce_size = nsize - 1; /* a prefix is not the nonce */
        ck_assert_int_eq(dw_tpm_quote_verify(&e, &ev, f.pcrs, &res, NULL, NULL), 0);
        ck_assert_int_eq(res.reason, DW_ATTEST_NONCE_MISMATCH);
        e.nonce_size = 0;
        ck_assert_int_eq(dw_tpm_quote_verify(&e, &ev, f.pcrs, &res, NULL, NULL), 0);
        ck_assert_int_eq(res.reason, DW_ATTEST_NONCE_MISMATCH);
        fixture_done(&f);
}
END_TEST

START_TEST(test_quote_tampered)
{
        static const char *const quotes[][2] = {
                {"quote-ecc", "ak-ecc.pem"},
                {"quote-rsa", "ak-rsa.pem"},
                {"quote-rsapss", "ak-rsapss.pem"},
        };

        for (size_t q = 0; q < ELEMENTSOF(quotes); q++) {
                _cleanup_(dw_pkey_freep) EVP_PKEY *key = load_key(quotes[q][1]);
                struct dw_attest_evidence ev;
                struct fixture f;
                uint8_t n[64];
                size_t nsize = nonce(n);
                struct dw_attest_expect e = {.ak = key, .nonce = n, .nonce_size = nsize};

                fixture_load(&f, quotes[q][0], true);
                ev = evidence_of(&f);
                /* Every byte of the attestation, and every byte of the signature, flipped in turn. */
                for (size_t i = 0; i < f.attest_size + f.sig_size; i++) {
                        uint8_t *b = i < f.attest_size ? &f.attest[i] : &f.sig[i - f.attest_size];
                        struct dw_attest_result res = {};
                        int r;

                        *b ^= 0x01;
                        r = dw_tpm_quote_verify(&e, &ev, f.pcrs, &res, NULL, NULL);
                        ck_assert_msg(r < 0 || !res.valid, "%s: byte %zu flipped, still valid", quotes[q][0], i);
                        if (r == 0 && i < f.attest_size)
                                ck_assert_int_eq(res.reason, DW_ATTEST_BAD_SIGNATURE);
                        *b ^= 0x01;
                }
                fixture_done(&f);
        }
}
END_TEST

START_TEST(test_quote_wrong_ak)
{
        static const char *const cases[][2] = {
                {"quote-ecc", "ak-rsa.pem"},    /* ECDSA signature, RSA key */
                {"quote-rsa", "ak-ecc.pem"},    /* RSASSA signature, ECC key */
                {"quote-rsa", "ak-rsapss.pem"}, /* another RSA key */
                {"quote-rsapss", "ak-rsa.pem"}, {"quote-ecc", "ek-rsa.pem"},
        };
        _cleanup_(dw_pkey_freep) EVP_PKEY *other = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
        struct dw_attest_result res;
        struct dw_attest_evidence ev;
        struct fixture f;
        uint8_t n[64];
        size_t nsize = nonce(n);
        struct dw_attest_expect e = {.ak = other, .nonce = n, .nonce_size = nsize};

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                res = quote_check(cases[i][0], cases[i][1], NULL, NULL);
                ck_assert_msg(!res.valid && res.reason == DW_ATTEST_BAD_SIGNATURE, "%s with %s: %s", cases[i][0],
                              cases[i][1], res.msg);
        }
        /* Another P-256 key. */
        fixture_load(&f, "quote-ecc", false);
        ev = evidence_of(&f);
        ck_assert_int_eq(dw_tpm_quote_verify(&e, &ev, NULL, &res, NULL, NULL), 0);
        ck_assert_int_eq(res.reason, DW_ATTEST_BAD_SIGNATURE);
        fixture_done(&f);
}
END_TEST

START_TEST(test_quote_pcrs_mismatch)
{
        struct dw_attest_result res;
        struct fixture f, other;

        fixture_load(&f, "quote-ecc", true);
        fixture_load(&other, "quote-rsa", true);
        /* A claimed PCR value that is not what the TPM had. */
        f.pcrs->values[4].digest[7] ^= 0x40;
        res = quote_check("quote-ecc", "ak-ecc.pem", f.pcrs, NULL);
        ck_assert_msg(res.reason == DW_ATTEST_PCR_DIGEST_MISMATCH, "%s", res.msg);
        f.pcrs->values[4].digest[7] ^= 0x40;
        /* Values in another order hash differently too. */
        {
                struct dw_tpm_pcr_value v = f.pcrs->values[4];

                f.pcrs->values[4] = f.pcrs->values[5];
                f.pcrs->values[5] = v;
                res = quote_check("quote-ecc", "ak-ecc.pem", f.pcrs, NULL);
                ck_assert_msg(res.reason == DW_ATTEST_PCR_DIGEST_MISMATCH, "%s", res.msg);
                f.pcrs->values[5] = f.pcrs->values[4];
                f.pcrs->values[4] = v;
        }
        /* Values for another selection. */
        res = quote_check("quote-ecc", "ak-ecc.pem", other.pcrs, NULL);
        ck_assert_msg(res.reason == DW_ATTEST_PCR_SELECTION_MISMATCH, "%s", res.msg);
        res = quote_check("quote-ecc", "ak-ecc.pem", f.pcrs, NULL);
        ck_assert_msg(res.valid, "%s", res.msg);
        fixture_done(&f);
        fixture_done(&other);
}
END_TEST

START_TEST(test_quote_clock)
{
        struct dw_tpm_clock first = clock_of_fixture("quote-ecc"), later = clock_of_fixture("quote-ecc-later"),
                            restart = clock_of_fixture("quote-ecc-restart"),
                            reset = clock_of_fixture("quote-ecc-reset"),
                            unorderly = clock_of_fixture("quote-ecc-unorderly");
        struct dw_attest_result res;

        /* What swtpm did between the captures. */
        ck_assert_uint_gt(later.clock, first.clock);
        ck_assert_uint_eq(restart.reset_count, later.reset_count);
        ck_assert_uint_eq(restart.restart_count, later.restart_count + 1);
        ck_assert_uint_eq(reset.reset_count, later.reset_count + 1);
        ck_assert_uint_eq(unorderly.reset_count, reset.reset_count + 1);
        ck_assert(!unorderly.safe);

        res = quote_check("quote-ecc-later", "ak-ecc.pem", NULL, &first);
        ck_assert_msg(res.valid && !res.reset && !res.restarted, "%s", res.msg);
        ck_assert_uint_eq(res.clock.clock, later.clock);
        /* An older quote presented after a newer one: the clock went back. */
        res = quote_check("quote-ecc", "ak-ecc.pem", NULL, &later);
        ck_assert_msg(res.reason == DW_ATTEST_CLOCK_REWIND, "%s", res.msg);
        ck_assert_str_eq(dw_attest_reason_name(res.reason), "clock-rewind");
        res = quote_check("quote-ecc-restart", "ak-ecc.pem", NULL, &later);
        ck_assert_msg(res.valid && res.restarted && !res.reset, "%s", res.msg);
        res = quote_check("quote-ecc-reset", "ak-ecc.pem", NULL, &restart);
        ck_assert_msg(res.valid && res.reset, "%s", res.msg);
        ck_assert_ptr_nonnull(strstr(res.msg, "reboot"));
        res = quote_check("quote-ecc-unorderly", "ak-ecc.pem", NULL, &reset);
        ck_assert_msg(res.valid && res.reset, "%s", res.msg);
        /* Before the reset again: resetCount went back. */
        res = quote_check("quote-ecc-later", "ak-ecc.pem", NULL, &reset);
        ck_assert_msg(res.reason == DW_ATTEST_RESET_ROLLBACK, "%s", res.msg);
        res = quote_check("quote-ecc-later", "ak-ecc.pem", NULL, &restart);
        ck_assert_msg(res.reason == DW_ATTEST_RESTART_ROLLBACK, "%s", res.msg);
}
END_TEST

START_TEST(test_clock_rules)
{
        struct dw_tpm_clock prev = {.clock = 1000, .reset_count = 5, .restart_count = 2, .safe = true};
        struct dw_attest_result res;
        TPMS_CLOCK_INFO now;

#define CHECK(clk, rst, rsc, sf, ok, why)                                                                              \
        do {                                                                                                           \
                now = (TPMS_CLOCK_INFO){clk, rst, rsc, sf};                                                            \
                res = (struct dw_attest_result){};                                                                     \
                ck_assert_msg(dw_tpm_clock_check(&prev, &now, &res) == (ok), "%s", res.msg);                           \
                if (!(ok))                                                                                             \
                        ck_assert_int_eq(res.reason, why);                                                             \
        } while (0)

        CHECK(1000, 5, 2, TPM2_YES, true, 0);                      /* same instant */
        CHECK(999, 5, 2, TPM2_YES, false, DW_ATTEST_CLOCK_REWIND); /* rewind */
        CHECK(999, 5, 2, TPM2_NO, false, DW_ATTEST_CLOCK_REWIND);  /* rewind, unsafe, no reset: still */
        CHECK(5000, 4, 9, TPM2_YES, false, DW_ATTEST_RESET_ROLLBACK);
        CHECK(5000, 5, 1, TPM2_YES, false, DW_ATTEST_RESTART_ROLLBACK);
        CHECK(5000, 6, 0, TPM2_YES, true, 0); /* reboot: restartCount starts over */
        ck_assert(res.reset);
        CHECK(500, 6, 0, TPM2_NO, true, 0); /* lost clock updates, TPM says unsafe */
        ck_assert(res.reset);
        CHECK(500, 6, 0, TPM2_YES, false, DW_ATTEST_CLOCK_REWIND); /* ... but not when it says safe */
        CHECK(500, 5, 3, TPM2_NO, true, 0);
        ck_assert(res.restarted);
        /* First observation: anything goes. */
        now = (TPMS_CLOCK_INFO){0, 0, 0, TPM2_NO};
        ck_assert(dw_tpm_clock_check(NULL, &now, &res));
#undef CHECK
}
END_TEST

START_TEST(test_quote_truncated)
{
        static const char *const quotes[][2] = {
                {"quote-ecc", "ak-ecc.pem"},
                {"quote-rsa", "ak-rsa.pem"},
        };

        for (size_t q = 0; q < ELEMENTSOF(quotes); q++) {
                _cleanup_(dw_pkey_freep) EVP_PKEY *key = load_key(quotes[q][1]);
                struct fixture f;
                uint8_t n[64];
                size_t nsize = nonce(n);
                struct dw_attest_expect e = {.ak = key, .nonce = n, .nonce_size = nsize};

                fixture_load(&f, quotes[q][0], true);
                /* Attestation cut at every length, and one byte longer. */
                for (size_t len = 0; len <= f.attest_size + 1; len++) {
                        uint8_t *a = calloc(1, len ? len : 1);
                        struct dw_attest_evidence ev = {a, len, f.sig, f.sig_size};
                        struct dw_attest_result res = {};
                        struct dw_error err = {};

                        memcpy(a, f.attest, MIN(len, f.attest_size));
                        if (len != f.attest_size) {
                                ck_assert_int_eq(dw_tpm_quote_verify(&e, &ev, f.pcrs, &res, NULL, &err), -EINVAL);
                                ck_assert(err.msg[0]);
                        }
                        free(a);
                }
                /* Signature cut at every length, and one byte longer. */
                for (size_t len = 0; len <= f.sig_size + 1; len++) {
                        uint8_t *s = calloc(1, len ? len : 1);
                        struct dw_attest_evidence ev = {f.attest, f.attest_size, s, len};
                        struct dw_attest_result res = {};
                        int r;

                        memcpy(s, f.sig, MIN(len, f.sig_size));
                        r = dw_tpm_quote_verify(&e, &ev, f.pcrs, &res, NULL, NULL);
                        if (len != f.sig_size)
                                ck_assert_msg(r < 0 || !res.valid, "signature of %zu bytes accepted", len);
                        free(s);
                }
                fixture_done(&f);
        }
}
END_TEST

START_TEST(test_quote_garbage)
{
        _cleanup_(dw_pkey_freep) EVP_PKEY *key = load_key("ak-ecc.pem");
        struct fixture f;
        uint8_t n[64];
        size_t nsize = nonce(n);
        struct dw_attest_expect e = {.ak = key, .nonce = n, .nonce_size = nsize};
        uint32_t seed = 0x5eed;

        fixture_load(&f, "quote-ecc", false);
        /* Random bytes, and the real evidence with random bytes overwritten: never valid, never a crash. */
        for (unsigned i = 0; i < 3000; i++) {
                size_t alen = i % 2 ? prng(&seed) % 300 : f.attest_size, slen = i % 3 ? f.sig_size : prng(&seed) % 300;
                uint8_t *a = malloc(alen ? alen : 1), *s = malloc(slen ? slen : 1);
                struct dw_attest_evidence ev = {a, alen, s, slen};
                struct dw_attest_result res = {};
                int r;

                for (size_t k = 0; k < alen; k++)
                        a[k] = k < f.attest_size && prng(&seed) % 8 ? f.attest[k] : (uint8_t)prng(&seed);
                for (size_t k = 0; k < slen; k++)
                        s[k] = k < f.sig_size && prng(&seed) % 8 ? f.sig[k] : (uint8_t)prng(&seed);
                r = dw_tpm_quote_verify(&e, &ev, NULL, &res, NULL, NULL);
                ck_assert(r < 0 || !res.valid || (alen == f.attest_size && memcmp(a, f.attest, alen) == 0));
                free(a);
                free(s);
        }
        fixture_done(&f);
}
END_TEST

/* ---- Attestations no TPM signs: signed here with a key of our own -------------------------------------------- */

static void sign_attest(EVP_PKEY *key, const TPMS_ATTEST *a, uint8_t *attest, size_t *attest_size, uint8_t *sig,
                        size_t *sig_size)
{
        EVP_MD_CTX *ctx = EVP_MD_CTX_new();
        TPMT_SIGNATURE s = {.sigAlg = TPM2_ALG_ECDSA};
        unsigned char der[128];
        const unsigned char *p = der;
        size_t der_size = sizeof(der), off = 0;
        ECDSA_SIG *es;

        ck_assert_int_eq(Tss2_MU_TPMS_ATTEST_Marshal(a, attest, 4096, &off), TSS2_RC_SUCCESS);
        *attest_size = off;
        ck_assert_int_eq(EVP_DigestSignInit_ex(ctx, NULL, "SHA256", NULL, NULL, key, NULL), 1);
        ck_assert_int_eq(EVP_DigestSign(ctx, der, &der_size, attest, *attest_size), 1);
        EVP_MD_CTX_free(ctx);
        es = d2i_ECDSA_SIG(NULL, &p, (long)der_size);
        ck_assert_ptr_nonnull(es);
        s.signature.ecdsa.hash = TPM2_ALG_SHA256;
        s.signature.ecdsa.signatureR.size = 32;
        s.signature.ecdsa.signatureS.size = 32;
        BN_bn2binpad(ECDSA_SIG_get0_r(es), s.signature.ecdsa.signatureR.buffer, 32);
        BN_bn2binpad(ECDSA_SIG_get0_s(es), s.signature.ecdsa.signatureS.buffer, 32);
        ECDSA_SIG_free(es);
        off = 0;
        ck_assert_int_eq(Tss2_MU_TPMT_SIGNATURE_Marshal(&s, sig, 256, &off), TSS2_RC_SUCCESS);
        *sig_size = off;
}

START_TEST(test_attest_magic_and_type)
{
        _cleanup_(dw_pkey_freep) EVP_PKEY *key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
        _cleanup_free_ TPMS_ATTEST *a = calloc(1, sizeof(*a));
        _cleanup_free_ uint8_t *attest = malloc(4096), *sig = malloc(256);
        static const uint8_t n[4] = {1, 2, 3, 4};
        struct dw_attest_expect e = {.ak = key, .nonce = n, .nonce_size = sizeof(n)};
        struct dw_attest_evidence ev = {attest, 0, sig, 0};
        struct dw_attest_result res;

        a->magic = TPM2_GENERATED_VALUE;
        a->type = TPM2_ST_ATTEST_QUOTE;
        a->extraData.size = sizeof(n);
        memcpy(a->extraData.buffer, n, sizeof(n));
        a->clockInfo.safe = TPM2_YES;
        a->attested.quote.pcrSelect.count = 0;
        sign_attest(key, a, attest, &ev.attest_size, sig, &ev.signature_size);
        ck_assert_int_eq(dw_tpm_quote_verify(&e, &ev, NULL, &res, NULL, NULL), 0);
        ck_assert_msg(res.valid, "%s", res.msg);
        /* Signed by a key, but not made by a TPM: a non-restricted key can sign such bytes. */
        a->magic = 0xff544348;
        sign_attest(key, a, attest, &ev.attest_size, sig, &ev.signature_size);
        ck_assert_int_eq(dw_tpm_quote_verify(&e, &ev, NULL, &res, NULL, NULL), 0);
        ck_assert_int_eq(res.reason, DW_ATTEST_NOT_TPM_GENERATED);
        a->magic = TPM2_GENERATED_VALUE;
        a->type = TPM2_ST_ATTEST_TIME;
        sign_attest(key, a, attest, &ev.attest_size, sig, &ev.signature_size);
        ck_assert_int_eq(dw_tpm_quote_verify(&e, &ev, NULL, &res, NULL, NULL), 0);
        ck_assert_int_eq(res.reason, DW_ATTEST_WRONG_TYPE);
        /* A real TPM certify attestation is no quote either (and its extraData is not our nonce, but the type is
         * checked first). */
        res = quote_check("certify", "ak-ecc.pem", NULL, NULL);
        ck_assert_int_eq(res.reason, DW_ATTEST_WRONG_TYPE);
        ck_assert_ptr_nonnull(strstr(res.msg, "certify"));
}
END_TEST

START_TEST(test_unsupported_signature)
{
        _cleanup_(dw_pkey_freep) EVP_PKEY *key = load_key("ak-ecc.pem");
        TPMT_SIGNATURE s = {.sigAlg = TPM2_ALG_HMAC};
        uint8_t sig[256];
        size_t off = 0;
        struct fixture f;
        struct dw_attest_result res;
        struct dw_error err = {};
        uint8_t n[64];
        size_t nsize = nonce(n);
        struct dw_attest_expect e = {.ak = key, .nonce = n, .nonce_size = nsize};
        struct dw_attest_evidence ev;

        s.signature.hmac.hashAlg = TPM2_ALG_SHA256;
        ck_assert_int_eq(Tss2_MU_TPMT_SIGNATURE_Marshal(&s, sig, sizeof(sig), &off), TSS2_RC_SUCCESS);
        fixture_load(&f, "quote-ecc", false);
        ev = (struct dw_attest_evidence){f.attest, f.attest_size, sig, off};
        ck_assert_int_eq(dw_tpm_quote_verify(&e, &ev, NULL, &res, NULL, &err), -EOPNOTSUPP);
        ck_assert(err.msg[0]);
        fixture_done(&f);
}
END_TEST

/* ---- Certify, NV certify ----------------------------------------------------------------------------------- */

START_TEST(test_certify)
{
        _cleanup_(dw_pkey_freep) EVP_PKEY *key = load_key("ak-ecc.pem");
        _cleanup_free_ TPMS_ATTEST *a = calloc(1, sizeof(*a));
        static const uint8_t tools_qualifier[] = {0x00, 0xff, 0x55, 0xaa}; /* what tpm2_certify 5.4 always sends */
        struct dw_attest_expect e = {.ak = key, .nonce = tools_qualifier, .nonce_size = sizeof(tools_qualifier)};
        struct dw_attest_result res;
        struct dw_attest_evidence ev;
        struct dw_error err = {};
        TPMT_PUBLIC certified, other;
        TPM2B_NAME qname;
        struct fixture f;

        load_public("certified.pub", &certified);
        load_public("ak-ecc.pub", &other);
        load_name("certified.qname", &qname);
        fixture_load(&f, "certify", false);
        ev = evidence_of(&f);
        ck_assert_int_eq(dw_tpm_certify_verify(&e, &ev, &certified, NULL, &res, a, &err), 0);
        ck_assert_msg(res.valid, "%s", res.msg);
        ck_assert_int_eq(a->type, TPM2_ST_ATTEST_CERTIFY);
        ck_assert_int_eq(dw_tpm_certify_verify(&e, &ev, &certified, &qname, &res, NULL, &err), 0);
        ck_assert_msg(res.valid, "%s", res.msg);
        ck_assert_int_eq(dw_tpm_certify_verify(&e, &ev, &other, NULL, &res, NULL, &err), 0);
        ck_assert_int_eq(res.reason, DW_ATTEST_NAME_MISMATCH);
        qname.name[qname.size - 1] ^= 1;
        ck_assert_int_eq(dw_tpm_certify_verify(&e, &ev, &certified, &qname, &res, NULL, &err), 0);
        ck_assert_int_eq(res.reason, DW_ATTEST_QUALIFIED_NAME_MISMATCH);
        /* A quote is not a certification. */
        fixture_done(&f);
        fixture_load(&f, "quote-ecc", false);
        ev = evidence_of(&f);
        ck_assert_int_eq(dw_tpm_certify_verify(&e, &ev, &certified, NULL, &res, NULL, &err), 0);
        ck_assert_int_eq(res.reason, DW_ATTEST_WRONG_TYPE);
        fixture_done(&f);
}
END_TEST

START_TEST(test_nv_certify)
{
        _cleanup_(dw_pkey_freep) EVP_PKEY *key = load_key("ak-ecc.pem");
        _cleanup_free_ TPMS_ATTEST *a = calloc(1, sizeof(*a));
        _cleanup_free_ uint8_t *data = NULL;
        struct dw_attest_result res;
        struct dw_attest_evidence ev;
        struct dw_error err = {};
        TPM2B_NAME name;
        struct fixture f;
        uint8_t n[64];
        size_t nsize = nonce(n), data_size;
        struct dw_attest_expect e = {.ak = key, .nonce = n, .nonce_size = nsize};

        load_name("nv.name", &name);
        data = load("nv.data", &data_size);
        fixture_load(&f, "nvcertify", false);
        ev = evidence_of(&f);
        ck_assert_int_eq(dw_tpm_nv_certify_verify(&e, &ev, &name, &res, a, &err), 0);
        ck_assert_msg(res.valid, "%s", res.msg);
        ck_assert_int_eq(a->attested.nv.offset, 0);
        ck_assert_uint_eq(a->attested.nv.nvContents.size, data_size);
        ck_assert_mem_eq(a->attested.nv.nvContents.buffer, data, data_size);
        name.name[5] ^= 1;
        ck_assert_int_eq(dw_tpm_nv_certify_verify(&e, &ev, &name, &res, NULL, &err), 0);
        ck_assert_int_eq(res.reason, DW_ATTEST_NAME_MISMATCH);
        name.name[5] ^= 1;
        n[3] ^= 1;
        ck_assert_int_eq(dw_tpm_nv_certify_verify(&e, &ev, &name, &res, NULL, &err), 0);
        ck_assert_int_eq(res.reason, DW_ATTEST_NONCE_MISMATCH);
        ck_assert_int_eq(dw_tpm_nv_certify_verify(&e, &ev, NULL, &res, NULL, &err), -EINVAL);
        fixture_done(&f);
}
END_TEST

/* ---- EK certificates --------------------------------------------------------------------------------------- */

static struct dw_ek_trust *trust(const char *ca, const char *crl)
{
        _cleanup_free_ uint8_t *cabuf = NULL, *crlbuf = NULL;
        struct dw_ek_trust *t = NULL;
        struct dw_error err = {};
        size_t casize, crlsize = 0;

        cabuf = load(ca, &casize);
        if (crl)
                crlbuf = load(crl, &crlsize);
        ck_assert_msg(dw_ek_trust_new(cabuf, casize, crlbuf, crlsize, &t, &err) == 0, "%s: %s", ca, err.msg);
        return t;
}

static struct dw_ek_cert_result ek_check(const char *ca, const char *crl, const char *cert, time_t at,
                                         const char *ek_pub)
{
        _cleanup_(dw_ek_trust_freep) struct dw_ek_trust *t = trust(ca, crl);
        _cleanup_(dw_x509_freep) X509 *c = load_cert(cert);
        struct dw_ek_cert_result res = {};
        TPMT_PUBLIC ek;

        if (ek_pub)
                load_public(ek_pub, &ek);
        ck_assert_int_eq(dw_ek_cert_verify(t, c, at, ek_pub ? &ek : NULL, &res), 0);
        return res;
}

#define EXPECT_EK(res, want)                                                                                           \
        ck_assert_msg((res).reason == (want) && (res).valid == ((want) == DW_EK_CERT_OK), "want %s, got: %s",          \
                      dw_ek_cert_reason_name(want), (res).msg)

START_TEST(test_ek_cert_swtpm)
{
        struct dw_ek_cert_result res;

        res = ek_check("swtpm-ca-bundle.pem", NULL, "ek-rsa-cert.der", 0, "ek-rsa.pub");
        EXPECT_EK(res, DW_EK_CERT_OK);
        ck_assert_str_eq(res.tpm.manufacturer, "id:00001014");
        ck_assert_str_eq(res.tpm.model, "swtpm");
        ck_assert(res.ek_eku);
        res = ek_check("swtpm-ca-bundle.pem", NULL, "ek-ecc-cert.der", 0, "ek-ecc.pub");
        EXPECT_EK(res, DW_EK_CERT_OK);
        /* A valid certificate, but of another EK. */
        res = ek_check("swtpm-ca-bundle.pem", NULL, "ek-rsa-cert.der", 0, "ek-ecc.pub");
        EXPECT_EK(res, DW_EK_CERT_KEY_MISMATCH);
        /* swtpm's local CA may not sign CRLs (its keyUsage is keyCertSign only): a CRL signed with its key is no
         * CRL, and with CRLs configured the EK certificate's issuer needs a valid one. */
        res = ek_check("swtpm-ca-bundle.pem", "crl-swtpm-issuer.pem", "ek-rsa-cert.der", 0, NULL);
        EXPECT_EK(res, DW_EK_CERT_BAD_CRL);
        ck_assert_ptr_nonnull(strstr(res.msg, "CRL signing"));
        /* Unknown CA: the swtpm certificate against another CA, or without its issuer. */
        res = ek_check("testca/bundle.pem", NULL, "ek-rsa-cert.der", 0, NULL);
        EXPECT_EK(res, DW_EK_CERT_UNKNOWN_ISSUER);
        res = ek_check("swtpm-root.pem", NULL, "ek-rsa-cert.der", 0, NULL);
        EXPECT_EK(res, DW_EK_CERT_UNKNOWN_ISSUER);
        /* Time: before notBefore; long after, when the CRL has expired but the certificate (9999) has not. */
        res = ek_check("swtpm-ca-bundle.pem", NULL, "ek-rsa-cert.der", TIME_2000, NULL);
        EXPECT_EK(res, DW_EK_CERT_NOT_YET_VALID);
        res = ek_check("swtpm-ca-bundle.pem", NULL, "ek-rsa-cert.der", TIME_2200, NULL);
        EXPECT_EK(res, DW_EK_CERT_OK);
}
END_TEST

START_TEST(test_ek_cert_bad_signature)
{
        _cleanup_(dw_ek_trust_freep) struct dw_ek_trust *t = trust("swtpm-ca-bundle.pem", NULL);
        _cleanup_free_ uint8_t *der = NULL;
        struct dw_ek_cert_result res;
        size_t size;
        X509 *c = NULL;

        der = load("ek-rsa-cert.der", &size);
        der[size - 10] ^= 0x01; /* inside the signature value */
        ck_assert_int_eq(dw_ek_cert_parse(der, size, &c, NULL), 0);
        ck_assert_int_eq(dw_ek_cert_verify(t, c, 0, NULL, &res), 0);
        EXPECT_EK(res, DW_EK_CERT_BAD_SIGNATURE);
        X509_free(c);
}
END_TEST

START_TEST(test_ek_cert_extensions)
{
        struct dw_ek_cert_result res;

        res = ek_check("testca/bundle.pem", NULL, "testca/ek-plain.pem", 0, "ek-rsa.pub");
        EXPECT_EK(res, DW_EK_CERT_OK);
        /* A critical subjectDirectoryAttributes (as some manufacturers issue) is a known EK extension. */
        res = ek_check("testca/bundle.pem", NULL, "testca/ek-known-critical.pem", 0, "ek-rsa.pub");
        EXPECT_EK(res, DW_EK_CERT_OK);
        ck_assert_str_eq(res.tpm.model, "swtpm");
        /* An unknown critical extension is not. */
        res = ek_check("testca/bundle.pem", NULL, "testca/ek-unknown-critical.pem", 0, NULL);
        EXPECT_EK(res, DW_EK_CERT_UNHANDLED_CRITICAL);
        ck_assert_ptr_nonnull(strstr(res.msg, "1.3.6.1.4.1.99999.1"));
        res = ek_check("testca/bundle.pem", NULL, "testca/ek-expired.pem", 0, NULL);
        EXPECT_EK(res, DW_EK_CERT_EXPIRED);
        res = ek_check("testca/bundle-not-a-ca.pem", NULL, "testca/ek-by-not-a-ca.pem", 0, NULL);
        EXPECT_EK(res, DW_EK_CERT_INVALID_CA);
        /* CRLs: the intermediate's, revoking nothing (the root's CRL may be absent); revoking the EK certificate;
         * the root's, revoking the intermediate; the intermediate's, expired (nextUpdate 2126). */
        res = ek_check("testca/bundle.pem", "testca/crl-int.pem", "testca/ek-plain.pem", 0, NULL);
        EXPECT_EK(res, DW_EK_CERT_OK);
        res = ek_check("testca/bundle.pem", "testca/crl-int-revoked-ek.pem", "testca/ek-plain.pem", 0, NULL);
        EXPECT_EK(res, DW_EK_CERT_REVOKED);
        ck_assert_int_eq(res.depth, 0);
        ck_assert_str_eq(dw_ek_cert_reason_name(res.reason), "revoked");
        res = ek_check("testca/bundle.pem", "testca/crl-int-revoked-ek.pem", "testca/ek-known-critical.pem", 0, NULL);
        EXPECT_EK(res, DW_EK_CERT_OK);
        res = ek_check("testca/bundle.pem", "testca/crls-int-revoked.pem", "testca/ek-plain.pem", 0, NULL);
        EXPECT_EK(res, DW_EK_CERT_REVOKED);
        ck_assert_int_eq(res.depth, 1);
        res = ek_check("testca/bundle.pem", "testca/crl-int.pem", "testca/ek-plain.pem", TIME_2200, NULL);
        EXPECT_EK(res, DW_EK_CERT_BAD_CRL);
        res = ek_check("testca/bundle.pem", NULL, "testca/ek-plain.pem", TIME_2200, NULL);
        EXPECT_EK(res, DW_EK_CERT_OK);
        /* CRLs configured, none from the EK certificate's issuer: fail closed. */
        res = ek_check("testca/bundle.pem", "crl-swtpm-issuer.pem", "testca/ek-plain.pem", 0, NULL);
        EXPECT_EK(res, DW_EK_CERT_NO_CRL);
}
END_TEST

/* The accepted critical extension is accepted deliberately: OpenSSL alone refuses it. */
START_TEST(test_ek_cert_openssl_refuses_known_critical)
{
        _cleanup_(dw_x509_freep) X509 *c = load_cert("testca/ek-known-critical.pem"),
                                      *root = load_cert("testca/root.pem"), *inter = load_cert("testca/int.pem");
        X509_STORE *store = X509_STORE_new();
        X509_STORE_CTX *ctx = X509_STORE_CTX_new();
        STACK_OF(X509) *untrusted = sk_X509_new_null();

        X509_STORE_add_cert(store, root);
        sk_X509_push(untrusted, inter);
        ck_assert_int_eq(X509_STORE_CTX_init(ctx, store, c, untrusted), 1);
        ck_assert_int_ne(X509_verify_cert(ctx), 1);
        ck_assert_int_eq(X509_STORE_CTX_get_error(ctx), X509_V_ERR_UNHANDLED_CRITICAL_EXTENSION);
        X509_STORE_CTX_free(ctx);
        X509_STORE_free(store);
        sk_X509_free(untrusted);
        ERR_clear_error();
}
END_TEST

START_TEST(test_ek_cert_parse_bad)
{
        _cleanup_free_ uint8_t *der = NULL, *padded = NULL, *bundle = NULL;
        static const char garbage[] = "-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n";
        struct dw_ek_trust *t = NULL;
        struct dw_error err = {};
        size_t size, bsize;
        X509 *c = NULL;

        der = load("ek-rsa-cert.der", &size);
        /* NV padding after the DER is fine, other trailing bytes are not. */
        padded = calloc(1, size + 64);
        memcpy(padded, der, size);
        ck_assert_int_eq(dw_ek_cert_parse(padded, size + 64, &c, &err), 0);
        X509_free(c);
        padded[size + 5] = 0x42;
        ck_assert_int_eq(dw_ek_cert_parse(padded, size + 64, &c, &err), -EINVAL);
        for (size_t len = 0; len < size; len++)
                ck_assert_int_eq(dw_ek_cert_parse(der, len, &c, NULL), -EINVAL);
        ck_assert_int_eq(dw_ek_cert_parse((const uint8_t *)garbage, strlen(garbage), &c, &err), -EINVAL);
        /* Bundles: garbage, empty, no root among the certificates, a malformed CRL file. */
        ck_assert_int_eq(dw_ek_trust_new((const uint8_t *)garbage, strlen(garbage), NULL, 0, &t, &err), -EINVAL);
        ck_assert_int_eq(dw_ek_trust_new((const uint8_t *)"", 0, NULL, 0, &t, &err), -EINVAL);
        bundle = load("swtpm-issuer.pem", &bsize);
        ck_assert_int_eq(dw_ek_trust_new(bundle, bsize, NULL, 0, &t, &err), -EINVAL);
        ck_assert_ptr_nonnull(strstr(err.msg, "root"));
        free(bundle);
        bundle = load("swtpm-ca-bundle.pem", &bsize);
        ck_assert_int_eq(dw_ek_trust_new(bundle, bsize, (const uint8_t *)garbage, strlen(garbage), &t, &err), -EINVAL);
        ck_assert_ptr_null(t);
}
END_TEST

/* ---- MakeCredential ---------------------------------------------------------------------------------------- */

START_TEST(test_kdf_vectors)
{
        /* Computed independently with "openssl kdf ... KBKDF" (counter mode HMAC, label, separator, context, L)
         * and "openssl kdf ... SSKDF" (one-step hash KDF, fixed info = label || 0 || partyU || partyV). */
        static const uint8_t ctx[] = {0x00, 0x0b, 0x11, 0x22}, z[] = {0x00, 0x11, 0x22, 0x33}, u[] = {0xaa, 0xbb};
        uint8_t key[32], out[32], want[32];
        char hex[65];

        for (unsigned i = 0; i < 32; i++)
                key[i] = (uint8_t)i;
        ck_assert_int_eq(dw_tpm_kdfa(TPM2_ALG_SHA256, key, 32, "STORAGE", ctx, 4, NULL, 0, out, 128), 0);
        ck_assert_str_eq(dw_hex_encode(out, 16, hex), "a806fbe9bc5fe13918a2007219ba26d7");
        ck_assert_int_eq(dw_tpm_kdfe(TPM2_ALG_SHA256, z, 4, "IDENTITY", u, 2, NULL, 0, out, 256), 0);
        ck_assert_str_eq(dw_hex_encode(out, 32, hex),
                         "0f70cc8d1f042948062bc66d281c8a064fe35256df40e08cefab2fafaacb89b5");
        /* Longer than one block: the first block is the one-block output. */
        {
                uint8_t longer[48];

                ck_assert_int_eq(dw_tpm_kdfa(TPM2_ALG_SHA256, key, 32, "STORAGE", ctx, 4, NULL, 0, want, 256), 0);
                ck_assert_int_eq(dw_tpm_kdfa(TPM2_ALG_SHA256, key, 32, "STORAGE", ctx, 4, NULL, 0, longer, 384), 0);
                ck_assert_mem_ne(longer, want, 32); /* L is part of the input */
        }
        ck_assert_int_eq(dw_tpm_kdfa(TPM2_ALG_SHA256, key, 32, "STORAGE", NULL, 0, NULL, 0, out, 12), -EINVAL);
}
END_TEST

static void load_vector_common(const char *file, TPM2B_NAME *name, TPM2B_DIGEST *cred, uint8_t *id, size_t *id_size)
{
        name->size = (UINT16)load_hex(file, "name", name->name, sizeof(name->name));
        cred->size = (UINT16)load_hex(file, "credential", cred->buffer, sizeof(cred->buffer));
        *id_size = load_hex(file, "id_object", id, 256);
}

START_TEST(test_makecredential_vector_rsa)
{
        _cleanup_free_ uint8_t *file = NULL, *written = NULL;
        uint8_t seed[64], id[256];
        size_t seed_size, id_size, file_size, written_size;
        TPM2B_ENCRYPTED_SECRET secret;
        TPM2B_ID_OBJECT blob, from_file;
        TPM2B_DIGEST cred;
        TPM2B_NAME name;
        TPMT_PUBLIC ek;

        load_public("ek-rsa.pub", &ek);
        seed_size = load_hex("mc-vector-rsa.txt", "seed", seed, sizeof(seed));
        load_vector_common("mc-vector-rsa.txt", &name, &cred, id, &id_size);
        ck_assert_int_eq(dw_tpm_credential_wrap(&ek, &name, &cred, seed, seed_size, &blob), 0);
        /* id_object is the marshalled TPM2B. */
        ck_assert_uint_eq(2 + blob.size, id_size);
        ck_assert_mem_eq(blob.credential, id + 2, blob.size);
        /* The file that tpm2_activatecredential accepted is the header, this blob and the OAEP secret. */
        file = load("mc-vector-rsa.out", &file_size);
        ck_assert_int_eq(dw_tpm_credential_file_parse(file, file_size, &from_file, &secret, NULL), 0);
        ck_assert_int_eq(dw_tpm_credential_file_write(&blob, &secret, &written, &written_size), 0);
        ck_assert_uint_eq(written_size, file_size);
        ck_assert_mem_eq(written, file, file_size);
}
END_TEST

START_TEST(test_makecredential_vector_ecc)
{
        _cleanup_(dw_pkey_freep) EVP_PKEY *eph = NULL;
        _cleanup_free_ uint8_t *file = NULL, *written = NULL, *pem = NULL;
        uint8_t want_seed[64], seed[64], id[256], want_secret[256];
        size_t want_seed_size, seed_size, id_size, file_size, written_size, want_secret_size, pem_size;
        TPM2B_ENCRYPTED_SECRET secret;
        TPM2B_ID_OBJECT blob;
        TPM2B_DIGEST cred;
        TPM2B_NAME name;
        TPMT_PUBLIC ek;
        BIO *bio;

        load_public("ek-ecc.pub", &ek);
        pem = load("mc-ephemeral.pem", &pem_size);
        bio = BIO_new_mem_buf(pem, (int)pem_size);
        eph = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
        BIO_free(bio);
        ck_assert_ptr_nonnull(eph);
        want_seed_size = load_hex("mc-vector-ecc.txt", "seed", want_seed, sizeof(want_seed));
        want_secret_size = load_hex("mc-vector-ecc.txt", "secret", want_secret, sizeof(want_secret));
        load_vector_common("mc-vector-ecc.txt", &name, &cred, id, &id_size);

        /* ECDH with the fixed ephemeral key and KDFe give the seed; the secret is the ephemeral point. */
        ck_assert_int_eq(dw_tpm_credential_seed(&ek, eph, seed, &seed_size, &secret), 0);
        ck_assert_uint_eq(seed_size, want_seed_size);
        ck_assert_mem_eq(seed, want_seed, seed_size);
        ck_assert_uint_eq(secret.size, want_secret_size);
        ck_assert_mem_eq(secret.secret, want_secret, want_secret_size);
        ck_assert_int_eq(dw_tpm_credential_wrap(&ek, &name, &cred, seed, seed_size, &blob), 0);
        ck_assert_uint_eq(2 + blob.size, id_size);
        ck_assert_mem_eq(blob.credential, id + 2, blob.size);
        /* Byte for byte the file tpm2_activatecredential accepted on the swtpm. */
        file = load("mc-vector-ecc.out", &file_size);
        ck_assert_int_eq(dw_tpm_credential_file_write(&blob, &secret, &written, &written_size), 0);
        ck_assert_uint_eq(written_size, file_size);
        ck_assert_mem_eq(written, file, file_size);
}
END_TEST

/* TPM2_ActivateCredential in software, written from the specification independently of lib/tpm-credential.c's
 * structure: recovers the seed with the EK's private key, checks the HMAC and decrypts. */
static int soft_activate(const TPMT_PUBLIC *ek, EVP_PKEY *ek_priv, const TPM2B_NAME *name, const TPM2B_ID_OBJECT *blob,
                         const TPM2B_ENCRYPTED_SECRET *secret, TPM2B_DIGEST *out)
{
        const char *md = ek->nameAlg == TPM2_ALG_SHA384 ? "SHA384" : "SHA256";
        size_t hsize = ek->nameAlg == TPM2_ALG_SHA384 ? 48 : 32, seed_size = hsize, mac_size = 0;
        unsigned aes_bits = ek->type == TPM2_ALG_RSA ? ek->parameters.rsaDetail.symmetric.keyBits.aes
                                                     : ek->parameters.eccDetail.symmetric.keyBits.aes;
        uint8_t seed[512], hmac_key[64], sym_key[32], mac[64], plain[128], macin[512];
        EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, ek_priv, NULL);
        const uint8_t *enc;
        size_t enc_size, sz = sizeof(seed);
        char cipher[16];
        int len = 0;

        if (ek->type == TPM2_ALG_RSA) {
                ck_assert_int_eq(EVP_PKEY_decrypt_init(ctx), 1);
                EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_OAEP_PADDING);
                EVP_PKEY_CTX_set_rsa_oaep_md_name(ctx, md, NULL);
                EVP_PKEY_CTX_set_rsa_mgf1_md_name(ctx, md, NULL);
                EVP_PKEY_CTX_set0_rsa_oaep_label(ctx, OPENSSL_memdup("IDENTITY", 9), 9);
                ck_assert_int_eq(EVP_PKEY_decrypt(ctx, seed, &sz, secret->secret, secret->size), 1);
                ck_assert_uint_eq(sz, seed_size);
        } else {
                TPMT_PUBLIC peer = *ek;
                TPMS_ECC_POINT q;
                EVP_PKEY *pk = NULL;
                uint8_t z[66];
                size_t off = 0, zs = sizeof(z);

                ck_assert_int_eq(Tss2_MU_TPMS_ECC_POINT_Unmarshal(secret->secret, secret->size, &off, &q), 0);
                peer.unique.ecc = q;
                ck_assert_int_eq(dw_tpm_public_to_pkey(&peer, &pk), 0);
                ck_assert_int_eq(EVP_PKEY_derive_init(ctx), 1);
                ck_assert_int_eq(EVP_PKEY_derive_set_peer(ctx, pk), 1);
                ck_assert_int_eq(EVP_PKEY_derive(ctx, z, &zs), 1);
                EVP_PKEY_free(pk);
                ck_assert_int_eq(dw_tpm_kdfe(ek->nameAlg, z, zs, "IDENTITY", q.x.buffer, q.x.size,
                                             ek->unique.ecc.x.buffer, ek->unique.ecc.x.size, seed, hsize * 8),
                                 0);
        }
        EVP_PKEY_CTX_free(ctx);
        /* credentialBlob: TPM2B integrityHMAC, then encIdentity. */
        ck_assert_uint_eq((size_t)(blob->credential[0] << 8 | blob->credential[1]), hsize);
        enc = blob->credential + 2 + hsize;
        enc_size = blob->size - 2 - hsize;
        ck_assert_int_eq(dw_tpm_kdfa(ek->nameAlg, seed, seed_size, "INTEGRITY", NULL, 0, NULL, 0, hmac_key, hsize * 8),
                         0);
        memcpy(macin, enc, enc_size);
        memcpy(macin + enc_size, name->name, name->size);
        ck_assert_ptr_nonnull(EVP_Q_mac(NULL, "HMAC", NULL, md, NULL, hmac_key, hsize, macin, enc_size + name->size,
                                        mac, sizeof(mac), &mac_size));
        if (memcmp(mac, blob->credential + 2, hsize) != 0)
                return -EBADMSG; /* the TPM's "integrity check failed" */
        ck_assert_int_eq(dw_tpm_kdfa(ek->nameAlg, seed, seed_size, "STORAGE", name->name, name->size, NULL, 0, sym_key,
                                     aes_bits),
                         0);
        {
                EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
                static const uint8_t iv[16] = {};
                int fin = 0;

                snprintf(cipher, sizeof(cipher), "AES-%u-CFB", aes_bits);
                ck_assert_int_eq(EVP_DecryptInit_ex2(c, EVP_get_cipherbyname(cipher), sym_key, iv, NULL), 1);
                ck_assert_int_eq(EVP_DecryptUpdate(c, plain, &len, enc, (int)enc_size), 1);
                ck_assert_int_eq(EVP_DecryptFinal_ex(c, plain + len, &fin), 1);
                EVP_CIPHER_CTX_free(c);
        }
        out->size = (UINT16)(plain[0] << 8 | plain[1]);
        ck_assert_uint_eq(out->size + 2u, enc_size);
        memcpy(out->buffer, plain + 2, out->size);
        return 0;
}

START_TEST(test_makecredential_roundtrip)
{
        static const char *const keys[][2] = {{"RSA", NULL}, {"EC", "P-256"}, {"EC", "P-384"}};

        for (size_t i = 0; i < ELEMENTSOF(keys); i++) {
                _cleanup_(dw_pkey_freep) EVP_PKEY *k = keys[i][1]
                                                               ? EVP_PKEY_Q_keygen(NULL, NULL, keys[i][0], keys[i][1])
                                                               : EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
                TPM2B_DIGEST cred = {.size = 32}, got;
                TPM2B_ENCRYPTED_SECRET secret, secret2;
                TPM2B_ID_OBJECT blob, blob2;
                TPM2B_NAME name;
                TPMT_PUBLIC ek, ak;

                ck_assert_ptr_nonnull(k);
                load_public("ak-ecc.pub", &ak);
                ck_assert_int_eq(dw_tpm_public_name(&ak, &name), 0);
                ck_assert_int_eq(dw_tpm_public_from_ek_pkey(k, &ek), 0);
                memcpy(cred.buffer, "a secret only that TPM may learn", 32);
                ck_assert_int_eq(dw_tpm_make_credential(&ek, &name, &cred, &blob, &secret), 0);
                ck_assert_int_eq(soft_activate(&ek, k, &name, &blob, &secret, &got), 0);
                ck_assert_uint_eq(got.size, cred.size);
                ck_assert_mem_eq(got.buffer, cred.buffer, cred.size);
                /* Bound to the Name: activating it for another object fails the integrity check. */
                name.name[10] ^= 1;
                ck_assert_int_eq(soft_activate(&ek, k, &name, &blob, &secret, &got), -EBADMSG);
                name.name[10] ^= 1;
                /* Fresh randomness each time. */
                ck_assert_int_eq(dw_tpm_make_credential(&ek, &name, &cred, &blob2, &secret2), 0);
                ck_assert_mem_ne(secret.secret, secret2.secret, MIN(secret.size, secret2.size));
        }
}
END_TEST

START_TEST(test_makecredential_errors)
{
        TPM2B_DIGEST cred = {.size = 33};
        TPM2B_ENCRYPTED_SECRET secret;
        TPM2B_ID_OBJECT blob;
        TPM2B_NAME name;
        TPMT_PUBLIC ek;

        load_public("ek-rsa.pub", &ek);
        load_name("ak-ecc.name", &name);
        /* Larger than the nameAlg digest: TPM2_MakeCredential refuses it too. */
        ck_assert_int_eq(dw_tpm_make_credential(&ek, &name, &cred, &blob, &secret), -EINVAL);
        cred.size = 16;
        ck_assert_int_eq(dw_tpm_make_credential(&ek, &name, &cred, &blob, &secret), 0);
        ek.parameters.rsaDetail.symmetric.algorithm = TPM2_ALG_NULL;
        ck_assert_int_eq(dw_tpm_make_credential(&ek, &name, &cred, &blob, &secret), -EOPNOTSUPP);
        load_public("ak-ecc.pub", &ek); /* a signing key has no symmetric definition */
        ck_assert_int_eq(dw_tpm_make_credential(&ek, &name, &cred, &blob, &secret), -EOPNOTSUPP);
}
END_TEST

START_TEST(test_credential_file)
{
        _cleanup_free_ uint8_t *file = NULL, *written = NULL;
        TPM2B_ENCRYPTED_SECRET secret;
        TPM2B_ID_OBJECT blob;
        struct dw_error err = {};
        size_t size, written_size;

        /* What tpm2_makecredential wrote: parses, and writes back identically. */
        file = load("mc-tools.out", &size);
        ck_assert_msg(dw_tpm_credential_file_parse(file, size, &blob, &secret, &err) == 0, "%s", err.msg);
        ck_assert_uint_eq(secret.size, 256);
        ck_assert_int_eq(dw_tpm_credential_file_write(&blob, &secret, &written, &written_size), 0);
        ck_assert_uint_eq(written_size, size);
        ck_assert_mem_eq(written, file, size);
        for (size_t len = 0; len <= size + 1; len++) {
                uint8_t *copy = calloc(1, len ? len : 1);

                memcpy(copy, file, MIN(len, size));
                if (len != size)
                        ck_assert_int_eq(dw_tpm_credential_file_parse(copy, len, &blob, &secret, &err), -EINVAL);
                free(copy);
        }
        file[0] ^= 1;
        ck_assert_int_eq(dw_tpm_credential_file_parse(file, size, &blob, &secret, &err), -EINVAL);
        file[0] ^= 1;
        file[7] = 2;
        ck_assert_int_eq(dw_tpm_credential_file_parse(file, size, &blob, &secret, &err), -EINVAL);
}
END_TEST

int main(void)
{
        /* libtss2-mu logs every unmarshalling failure on stderr; the garbage tests make thousands. */
        setenv("TSS2_LOG", "all+NONE", 0);
        Suite *s = suite_create("tpm-verify");
        TCase *marshal = tcase_create("marshal"), *quote = tcase_create("quote"), *ek = tcase_create("ek-cert"),
              *cred = tcase_create("credential");
        SRunner *sr;
        int failed;

        tcase_add_test(marshal, test_public_names);
        tcase_add_test(marshal, test_key_load);
        tcase_add_test(marshal, test_key_load_bad);
        tcase_add_test(marshal, test_ek_template_from_cert);
        tcase_add_test(marshal, test_pcrs_file_roundtrip);
        tcase_add_test(marshal, test_pcrs_values);
        tcase_add_test(marshal, test_pcrs_file_bad);
        tcase_add_test(marshal, test_pcrs_from_digests);
        suite_add_tcase(s, marshal);

        tcase_add_test(quote, test_quote_valid);
        tcase_add_test(quote, test_quote_ak_public);
        tcase_add_test(quote, test_quote_nonce);
        tcase_add_test(quote, test_quote_tampered);
        tcase_add_test(quote, test_quote_wrong_ak);
        tcase_add_test(quote, test_quote_pcrs_mismatch);
        tcase_add_test(quote, test_quote_clock);
        tcase_add_test(quote, test_clock_rules);
        tcase_add_test(quote, test_quote_truncated);
        tcase_add_test(quote, test_quote_garbage);
        tcase_add_test(quote, test_attest_magic_and_type);
        tcase_add_test(quote, test_unsupported_signature);
        tcase_add_test(quote, test_certify);
        tcase_add_test(quote, test_nv_certify);
        tcase_set_timeout(quote, 120);
        suite_add_tcase(s, quote);

        tcase_add_test(ek, test_ek_cert_swtpm);
        tcase_add_test(ek, test_ek_cert_bad_signature);
        tcase_add_test(ek, test_ek_cert_extensions);
        tcase_add_test(ek, test_ek_cert_openssl_refuses_known_critical);
        tcase_add_test(ek, test_ek_cert_parse_bad);
        suite_add_tcase(s, ek);

        tcase_add_test(cred, test_kdf_vectors);
        tcase_add_test(cred, test_makecredential_vector_rsa);
        tcase_add_test(cred, test_makecredential_vector_ecc);
        tcase_add_test(cred, test_makecredential_roundtrip);
        tcase_add_test(cred, test_makecredential_errors);
        tcase_add_test(cred, test_credential_file);
        tcase_set_timeout(cred, 60);
        suite_add_tcase(s, cred);

        sr = srunner_create(s);
        srunner_run_all(sr, CK_NORMAL);
        failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
