/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/decoder.h>
#include <openssl/ec.h>
#include <openssl/obj_mac.h>
#include <openssl/objects.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <tss2/tss2_mu.h>

#include "tpm-marshal.h"

/* Sizes of the tpm2-tools PCR file's raw C structures (see tpm-marshal.h). */
#define PCRS_FILE_SELECTION_SIZE 132
#define PCRS_FILE_PCR_SEL_SIZE   8
#define PCRS_FILE_COUNT_SIZE     4
#define PCRS_FILE_DIGEST_SIZE    66
#define PCRS_FILE_DIGESTS        8
#define PCRS_FILE_LIST_SIZE      (4 + PCRS_FILE_DIGESTS * PCRS_FILE_DIGEST_SIZE)
#define PCRS_FILE_HEADER_SIZE    (PCRS_FILE_SELECTION_SIZE + PCRS_FILE_COUNT_SIZE)

static const struct {
        uint16_t tpm_alg;
        const char *ossl_name;
        size_t size;
} tpm_hashes[] = {
        {TPM2_ALG_SHA1, "SHA1", 20},     {TPM2_ALG_SHA256, "SHA256", 32}, {TPM2_ALG_SHA384, "SHA384", 48},
        {TPM2_ALG_SHA512, "SHA512", 64}, {TPM2_ALG_SM3_256, "SM3", 32},
};

static const struct {
        TPM2_ECC_CURVE curve;
        int nid;
        const char *group;
        size_t size;
} tpm_curves[] = {
        {TPM2_ECC_NIST_P192, NID_X9_62_prime192v1, "P-192", 24}, {TPM2_ECC_NIST_P224, NID_secp224r1, "P-224", 28},
        {TPM2_ECC_NIST_P256, NID_X9_62_prime256v1, "P-256", 32}, {TPM2_ECC_NIST_P384, NID_secp384r1, "P-384", 48},
        {TPM2_ECC_NIST_P521, NID_secp521r1, "P-521", 66},
};

static uint16_t le16(const uint8_t *p)
{
        return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t le32(const uint8_t *p)
{
        return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void put_le16(uint8_t *p, uint16_t v)
{
        p[0] = (uint8_t)v;
        p[1] = (uint8_t)(v >> 8);
}

static void put_le32(uint8_t *p, uint32_t v)
{
        for (unsigned i = 0; i < 4; i++)
                p[i] = (uint8_t)(v >> (8 * i));
}

const char *dw_tpm_hash_ossl_name(uint16_t tpm_alg)
{
        for (size_t i = 0; i < ELEMENTSOF(tpm_hashes); i++)
                if (tpm_hashes[i].tpm_alg == tpm_alg)
                        return tpm_hashes[i].ossl_name;
        return NULL;
}

size_t dw_tpm_hash_size(uint16_t tpm_alg)
{
        for (size_t i = 0; i < ELEMENTSOF(tpm_hashes); i++)
                if (tpm_hashes[i].tpm_alg == tpm_alg)
                        return tpm_hashes[i].size;
        return 0;
}

int dw_tpm_hash(uint16_t tpm_alg, const void *data, size_t size, uint8_t *out)
{
        enum dw_hash_alg alg;
        int r;

        if (dw_hash_alg_from_tpm_id(tpm_alg, &alg) < 0)
                return -EOPNOTSUPP;
        r = dw_hash_oneshot(alg, data, size, out);
        return r == -EINVAL || r == -EIO ? -EOPNOTSUPP : r; /* SM3 may be missing from this OpenSSL */
}

int dw_tpm_public_parse(const uint8_t *buf, size_t size, TPMT_PUBLIC *ret, struct dw_error *err)
{
        TPM2B_PUBLIC pub = {};
        size_t offset = 0;
        TSS2_RC rc;

        rc = Tss2_MU_TPM2B_PUBLIC_Unmarshal(buf, size, &offset, &pub);
        if (rc != TSS2_RC_SUCCESS)
                return dw_error_set(err, EINVAL, 0, offset, "not a marshalled TPM2B_PUBLIC (%zu bytes)", size);
        if (offset != size)
                return dw_error_set(err, EINVAL, 0, offset, "%zu trailing bytes after the TPM2B_PUBLIC", size - offset);
        *ret = pub.publicArea;
        return 0;
}

static int name_of(TPMI_ALG_HASH name_alg, const uint8_t *data, size_t size, TPM2B_NAME *ret)
{
        TPM2B_NAME name = {};
        int r;

        if (dw_tpm_hash_size(name_alg) == 0)
                return -EOPNOTSUPP;
        name.name[0] = (uint8_t)(name_alg >> 8);
        name.name[1] = (uint8_t)name_alg;
        r = dw_tpm_hash(name_alg, data, size, name.name + 2);
        if (r < 0)
                return r;
        name.size = (UINT16)(2 + r);
        *ret = name;
        return 0;
}

int dw_tpm_public_name(const TPMT_PUBLIC *pub, TPM2B_NAME *ret)
{
        _cleanup_free_ uint8_t *buf = malloc(sizeof(TPMT_PUBLIC));
        size_t offset = 0;

        if (!buf)
                return -ENOMEM;
        if (Tss2_MU_TPMT_PUBLIC_Marshal(pub, buf, sizeof(TPMT_PUBLIC), &offset) != TSS2_RC_SUCCESS)
                return -EINVAL;
        return name_of(pub->nameAlg, buf, offset, ret);
}

int dw_tpm_nv_public_name(const TPMS_NV_PUBLIC *pub, TPM2B_NAME *ret)
{
        uint8_t buf[sizeof(TPMS_NV_PUBLIC)];
        size_t offset = 0;

        if (Tss2_MU_TPMS_NV_PUBLIC_Marshal(pub, buf, sizeof(buf), &offset) != TSS2_RC_SUCCESS)
                return -EINVAL;
        return name_of(pub->nameAlg, buf, offset, ret);
}

static int pkey_from_params(const char *type, OSSL_PARAM_BLD *bld, EVP_PKEY **ret)
{
        _cleanup_(dw_pkey_ctx_freep) EVP_PKEY_CTX *ctx = NULL;
        OSSL_PARAM *params;
        EVP_PKEY *pkey = NULL;
        int ok;

        params = OSSL_PARAM_BLD_to_param(bld);
        if (!params)
                return -ENOMEM;
        ctx = EVP_PKEY_CTX_new_from_name(NULL, type, NULL);
        ok = ctx && EVP_PKEY_fromdata_init(ctx) == 1 && EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) == 1;
        OSSL_PARAM_free(params);
        if (!ok)
                return -EINVAL;
        *ret = pkey;
        return 0;
}

static int rsa_to_pkey(const TPMT_PUBLIC *pub, EVP_PKEY **ret)
{
        const TPM2B_PUBLIC_KEY_RSA *n = &pub->unique.rsa;
        uint32_t exponent = pub->parameters.rsaDetail.exponent ?: 65537;
        OSSL_PARAM_BLD *bld;
        BIGNUM *bn_n, *bn_e;
        int r = -ENOMEM;

        if (n->size == 0 || n->size > sizeof(n->buffer))
                return -EINVAL;
        bld = OSSL_PARAM_BLD_new();
        bn_n = BN_bin2bn(n->buffer, n->size, NULL);
        bn_e = BN_new();
        if (bld && bn_n && bn_e && BN_set_word(bn_e, exponent) &&
            OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn_n) &&
            OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, bn_e))
                r = pkey_from_params("RSA", bld, ret);
        BN_free(bn_n);
        BN_free(bn_e);
        OSSL_PARAM_BLD_free(bld);
        return r;
}

static int curve_index(TPM2_ECC_CURVE curve)
{
        for (size_t i = 0; i < ELEMENTSOF(tpm_curves); i++)
                if (tpm_curves[i].curve == curve)
                        return (int)i;
        return -EOPNOTSUPP;
}

static int ecc_to_pkey(const TPMT_PUBLIC *pub, EVP_PKEY **ret)
{
        const TPMS_ECC_POINT *q = &pub->unique.ecc;
        uint8_t point[1 + 2 * TPM2_MAX_ECC_KEY_BYTES] = {0x04};
        OSSL_PARAM_BLD *bld;
        size_t fs;
        int r, i;

        i = curve_index(pub->parameters.eccDetail.curveID);
        if (i < 0)
                return i;
        fs = tpm_curves[i].size;
        if (q->x.size == 0 || q->y.size == 0 || q->x.size > fs || q->y.size > fs)
                return -EINVAL;
        /* Uncompressed point, each coordinate left-padded to the field size. */
        memcpy(point + 1 + fs - q->x.size, q->x.buffer, q->x.size);
        memcpy(point + 1 + 2 * fs - q->y.size, q->y.buffer, q->y.size);
        bld = OSSL_PARAM_BLD_new();
        if (!bld)
                return -ENOMEM;
        r = -ENOMEM;
        if (OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, tpm_curves[i].group, 0) &&
            OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, point, 1 + 2 * fs))
                r = pkey_from_params("EC", bld, ret);
        OSSL_PARAM_BLD_free(bld);
        return r;
}

int dw_tpm_public_to_pkey(const TPMT_PUBLIC *pub, EVP_PKEY **ret)
{
        switch (pub->type) {
        case TPM2_ALG_RSA:
                return rsa_to_pkey(pub, ret);
        case TPM2_ALG_ECC:
                return ecc_to_pkey(pub, ret);
        default:
                return -EOPNOTSUPP;
        }
}

bool dw_tpm_public_matches_pkey(const TPMT_PUBLIC *pub, EVP_PKEY *pkey)
{
        _cleanup_(dw_pkey_freep) EVP_PKEY *mine = NULL;

        if (dw_tpm_public_to_pkey(pub, &mine) < 0)
                return false;
        return EVP_PKEY_eq(mine, pkey) == 1;
}

static int bn_param_to_buf(EVP_PKEY *pkey, const char *param, uint8_t *buf, size_t size)
{
        BIGNUM *bn = NULL;
        int r = -EINVAL;

        if (EVP_PKEY_get_bn_param(pkey, param, &bn) != 1)
                return -EINVAL;
        if ((size_t)BN_num_bytes(bn) <= size && BN_bn2binpad(bn, buf, (int)size) == (int)size)
                r = 0;
        BN_free(bn);
        return r;
}

static int ek_template_rsa(EVP_PKEY *pkey, TPMT_PUBLIC *pub)
{
        BIGNUM *e = NULL;
        int bits = EVP_PKEY_get_bits(pkey), r;

        if (bits <= 0 || bits % 8 || bits / 8 > TPM2_MAX_RSA_KEY_BYTES)
                return -EOPNOTSUPP;
        if (EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_RSA_E, &e) != 1)
                return -EINVAL;
        r = BN_num_bits(e) <= 32 ? 0 : -EOPNOTSUPP;
        pub->parameters.rsaDetail.exponent = BN_get_word(e) == 65537 ? 0 : (UINT32)BN_get_word(e);
        BN_free(e);
        if (r < 0)
                return r;
        pub->type = TPM2_ALG_RSA;
        pub->nameAlg = bits <= 2048 ? TPM2_ALG_SHA256 : TPM2_ALG_SHA384;
        pub->parameters.rsaDetail.symmetric.algorithm = TPM2_ALG_AES;
        pub->parameters.rsaDetail.symmetric.keyBits.aes = bits <= 2048 ? 128 : 256;
        pub->parameters.rsaDetail.symmetric.mode.aes = TPM2_ALG_CFB;
        pub->parameters.rsaDetail.scheme.scheme = TPM2_ALG_NULL;
        pub->parameters.rsaDetail.keyBits = (UINT16)bits;
        pub->unique.rsa.size = (UINT16)(bits / 8);
        return bn_param_to_buf(pkey, OSSL_PKEY_PARAM_RSA_N, pub->unique.rsa.buffer, pub->unique.rsa.size);
}

static int ek_template_ecc(EVP_PKEY *pkey, TPMT_PUBLIC *pub)
{
        char group[64];
        size_t fs;
        int nid, i = -1, r;

        if (EVP_PKEY_get_utf8_string_param(pkey, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof(group), NULL) != 1)
                return -EINVAL;
        nid = OBJ_txt2nid(group);
        if (nid == NID_undef)
                nid = EC_curve_nist2nid(group);
        for (size_t k = 0; k < ELEMENTSOF(tpm_curves); k++)
                if (tpm_curves[k].nid == nid)
                        i = (int)k;
        if (i < 0)
                return -EOPNOTSUPP;
        fs = tpm_curves[i].size;
        pub->type = TPM2_ALG_ECC;
        pub->nameAlg = fs <= 32 ? TPM2_ALG_SHA256 : fs <= 48 ? TPM2_ALG_SHA384 : TPM2_ALG_SHA512;
        pub->parameters.eccDetail.symmetric.algorithm = TPM2_ALG_AES;
        pub->parameters.eccDetail.symmetric.keyBits.aes = fs <= 32 ? 128 : 256;
        pub->parameters.eccDetail.symmetric.mode.aes = TPM2_ALG_CFB;
        pub->parameters.eccDetail.scheme.scheme = TPM2_ALG_NULL;
        pub->parameters.eccDetail.curveID = tpm_curves[i].curve;
        pub->parameters.eccDetail.kdf.scheme = TPM2_ALG_NULL;
        pub->unique.ecc.x.size = (UINT16)fs;
        pub->unique.ecc.y.size = (UINT16)fs;
        r = bn_param_to_buf(pkey, OSSL_PKEY_PARAM_EC_PUB_X, pub->unique.ecc.x.buffer, fs);
        if (r < 0)
                return r;
        return bn_param_to_buf(pkey, OSSL_PKEY_PARAM_EC_PUB_Y, pub->unique.ecc.y.buffer, fs);
}

int dw_tpm_public_from_ek_pkey(EVP_PKEY *pkey, TPMT_PUBLIC *ret)
{
        _cleanup_free_ TPMT_PUBLIC *pub = calloc(1, sizeof(*pub));
        int r;

        if (!pub)
                return -ENOMEM;
        /* TCG EK Credential Profile default templates: fixedTPM, fixedParent, sensitiveDataOrigin,
         * adminWithPolicy, restricted, decrypt. */
        pub->objectAttributes = TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT | TPMA_OBJECT_SENSITIVEDATAORIGIN |
                                TPMA_OBJECT_ADMINWITHPOLICY | TPMA_OBJECT_RESTRICTED | TPMA_OBJECT_DECRYPT;
        switch (EVP_PKEY_get_base_id(pkey)) {
        case EVP_PKEY_RSA:
                r = ek_template_rsa(pkey, pub);
                break;
        case EVP_PKEY_EC:
                r = ek_template_ecc(pkey, pub);
                break;
        default:
                r = -EOPNOTSUPP;
        }
        if (r < 0)
                return r;
        *ret = *pub;
        return 0;
}

static bool starts_with_pem(const uint8_t *buf, size_t size)
{
        static const char pem[] = "-----BEGIN ";

        for (size_t i = 0; i + sizeof(pem) - 1 <= size; i++) {
                if (memcmp(buf + i, pem, sizeof(pem) - 1) == 0)
                        return true;
                if (buf[i] != ' ' && buf[i] != '\t' && buf[i] != '\n' && buf[i] != '\r')
                        return false;
        }
        return false;
}

static EVP_PKEY *pkey_from_cert(const uint8_t *buf, size_t size, bool pem)
{
        _cleanup_(dw_x509_freep) X509 *cert = NULL;
        const unsigned char *p = buf;

        if (size > INT32_MAX)
                return NULL;
        if (pem) {
                BIO *bio = BIO_new_mem_buf(buf, (int)size);

                if (!bio)
                        return NULL;
                cert = PEM_read_bio_X509(bio, NULL, NULL, NULL);
                BIO_free(bio);
        } else {
                cert = d2i_X509(NULL, &p, (long)size);
                if (cert && p != buf + size)
                        return NULL;
        }
        return cert ? X509_get_pubkey(cert) : NULL;
}

static EVP_PKEY *pkey_decode(const uint8_t *buf, size_t size, bool pem)
{
        OSSL_DECODER_CTX *dctx;
        const unsigned char *p = buf;
        EVP_PKEY *pkey = NULL;
        size_t left = size;

        dctx = OSSL_DECODER_CTX_new_for_pkey(&pkey, pem ? "PEM" : "DER", NULL, NULL, EVP_PKEY_PUBLIC_KEY, NULL, NULL);
        if (!dctx)
                return NULL;
        if (OSSL_DECODER_from_data(dctx, &p, &left) != 1 || (!pem && left != 0)) {
                EVP_PKEY_free(pkey);
                pkey = NULL;
        }
        OSSL_DECODER_CTX_free(dctx);
        return pkey;
}

int dw_tpm_key_load(const uint8_t *buf, size_t size, EVP_PKEY **ret_pkey, TPMT_PUBLIC *ret_public, bool *ret_has_public,
                    struct dw_error *err)
{
        _cleanup_free_ TPMT_PUBLIC *pub = calloc(1, sizeof(*pub));
        bool pem = starts_with_pem(buf, size), has_public = false;
        EVP_PKEY *pkey = NULL;
        int r;

        if (!pub)
                return -ENOMEM;
        if (!pem && dw_tpm_public_parse(buf, size, pub, NULL) == 0) {
                r = dw_tpm_public_to_pkey(pub, &pkey);
                if (r < 0)
                        return dw_error_set(err, r, 0, 0, "TPM2B_PUBLIC of type 0x%04x: %s", pub->type,
                                            r == -EOPNOTSUPP ? "unsupported key type or curve" : "malformed key");
                has_public = true;
        }
        if (!pkey)
                pkey = pkey_decode(buf, size, pem);
        if (!pkey)
                pkey = pkey_from_cert(buf, size, pem);
        if (!pkey)
                return dw_error_set(err, EINVAL, 0, 0,
                                    "not a public key (PEM/DER SubjectPublicKeyInfo, X.509 certificate or "
                                    "marshalled TPM2B_PUBLIC)");
        if (ret_public && has_public)
                *ret_public = *pub;
        if (ret_has_public)
                *ret_has_public = has_public;
        *ret_pkey = pkey;
        return 0;
}

static bool pcr_selected(const TPMS_PCR_SELECTION *s, unsigned pcr)
{
        return pcr / 8 < s->sizeofSelect && (s->pcrSelect[pcr / 8] & (1u << (pcr % 8)));
}

int dw_tpm_pcr_selection_count(const TPML_PCR_SELECTION *sel)
{
        int n = 0;

        if (sel->count > TPM2_NUM_PCR_BANKS)
                return -EINVAL;
        for (UINT32 i = 0; i < sel->count; i++) {
                if (sel->pcrSelections[i].sizeofSelect > TPM2_PCR_SELECT_MAX)
                        return -EINVAL;
                for (unsigned pcr = 0; pcr < TPM2_MAX_PCRS; pcr++)
                        n += pcr_selected(&sel->pcrSelections[i], pcr);
        }
        return n;
}

bool dw_tpm_pcr_selection_equal(const TPML_PCR_SELECTION *a, const TPML_PCR_SELECTION *b)
{
        if (a->count != b->count || dw_tpm_pcr_selection_count(a) < 0 || dw_tpm_pcr_selection_count(b) < 0)
                return false;
        for (UINT32 i = 0; i < a->count; i++) {
                if (a->pcrSelections[i].hash != b->pcrSelections[i].hash)
                        return false;
                for (unsigned pcr = 0; pcr < TPM2_MAX_PCRS; pcr++)
                        if (pcr_selected(&a->pcrSelections[i], pcr) != pcr_selected(&b->pcrSelections[i], pcr))
                                return false;
        }
        return true;
}

_printf_(4, 5) static void appendf(char *buf, size_t size, size_t *pos, const char *fmt, ...)
{
        va_list ap;
        int n;

        if (*pos >= size)
                return;
        va_start(ap, fmt);
        n = vsnprintf(buf + *pos, size - *pos, fmt, ap);
        va_end(ap);
        if (n > 0)
                *pos += (size_t)n;
}

char *dw_tpm_pcr_selection_format(const TPML_PCR_SELECTION *sel, char *buf, size_t size)
{
        size_t pos = 0;

        if (size == 0)
                return buf;
        buf[0] = '\0';
        for (UINT32 i = 0; i < MIN(sel->count, (UINT32)TPM2_NUM_PCR_BANKS); i++) {
                const TPMS_PCR_SELECTION *s = &sel->pcrSelections[i];
                enum dw_hash_alg alg;
                bool first = true;

                if (i > 0)
                        appendf(buf, size, &pos, "+");
                if (dw_hash_alg_from_tpm_id(s->hash, &alg) == 0)
                        appendf(buf, size, &pos, "%s:", dw_hash_alg_name(alg));
                else
                        appendf(buf, size, &pos, "0x%04x:", s->hash);
                for (unsigned pcr = 0; pcr < TPM2_MAX_PCRS; pcr++) {
                        if (!pcr_selected(s, pcr))
                                continue;
                        appendf(buf, size, &pos, "%s%u", first ? "" : ",", pcr);
                        first = false;
                }
        }
        return buf;
}

/* Walks the selected PCRs in selection order, taking the next digest of the lists for each. */
struct digest_cursor {
        const TPML_DIGEST *lists;
        size_t n_lists;
        size_t list, item;
};

static const TPM2B_DIGEST *cursor_next(struct digest_cursor *c)
{
        while (c->list < c->n_lists && c->item >= MIN(c->lists[c->list].count, 8u)) {
                c->list++;
                c->item = 0;
        }
        if (c->list >= c->n_lists)
                return NULL;
        return &c->lists[c->list].digests[c->item++];
}

static bool cursor_done(struct digest_cursor *c)
{
        return cursor_next(c) == NULL;
}

int dw_tpm_pcrs_from_digests(const TPML_PCR_SELECTION *sel, const TPML_DIGEST *digests, size_t n_digests,
                             struct dw_tpm_pcrs *ret, struct dw_error *err)
{
        _cleanup_free_ struct dw_tpm_pcrs *p = calloc(1, sizeof(*p));
        struct digest_cursor c = {.lists = digests, .n_lists = n_digests};

        if (!p)
                return -ENOMEM;
        if (dw_tpm_pcr_selection_count(sel) < 0)
                return dw_error_set(err, EINVAL, 0, 0, "malformed PCR selection (%u banks)", sel->count);
        for (UINT32 i = 0; i < sel->count; i++) {
                const TPMS_PCR_SELECTION *s = &sel->pcrSelections[i];
                size_t size = dw_tpm_hash_size(s->hash);

                if (size == 0)
                        return dw_error_set(err, EOPNOTSUPP, 0, 0, "PCR bank of unknown hash 0x%04x", s->hash);
                for (unsigned pcr = 0; pcr < TPM2_MAX_PCRS; pcr++) {
                        struct dw_tpm_pcr_value *v = &p->values[p->n_values];
                        const TPM2B_DIGEST *d;

                        if (!pcr_selected(s, pcr))
                                continue;
                        d = cursor_next(&c);
                        if (!d)
                                return dw_error_set(err, EINVAL, 0, 0, "no value for PCR %u of bank 0x%04x", pcr,
                                                    s->hash);
                        if (d->size != size)
                                return dw_error_set(err, EINVAL, 0, 0,
                                                    "value for PCR %u of bank 0x%04x has %u bytes, not %zu", pcr,
                                                    s->hash, d->size, size);
                        v->hash_alg = s->hash;
                        v->pcr = (uint8_t)pcr;
                        v->size = (uint8_t)size;
                        memcpy(v->digest, d->buffer, size);
                        p->n_values++;
                }
        }
        if (!cursor_done(&c))
                return dw_error_set(err, EINVAL, 0, 0, "more PCR values than selected PCRs (%zu)", p->n_values);
        p->selection = *sel;
        *ret = *p;
        return 0;
}

int dw_tpm_pcrs_digest(const struct dw_tpm_pcrs *pcrs, uint16_t hash_alg, uint8_t *out)
{
        _cleanup_(dw_md_ctx_freep) EVP_MD_CTX *ctx = EVP_MD_CTX_new();
        const char *name = dw_tpm_hash_ossl_name(hash_alg);
        unsigned len = 0;

        if (!name)
                return -EOPNOTSUPP;
        if (!ctx)
                return -ENOMEM;
        if (EVP_DigestInit_ex2(ctx, EVP_get_digestbyname(name), NULL) != 1)
                return -EOPNOTSUPP;
        for (size_t i = 0; i < pcrs->n_values; i++)
                if (EVP_DigestUpdate(ctx, pcrs->values[i].digest, pcrs->values[i].size) != 1)
                        return -EIO;
        if (EVP_DigestFinal_ex(ctx, out, &len) != 1)
                return -EIO;
        return (int)len;
}

static int pcrs_file_selection(const uint8_t *buf, TPML_PCR_SELECTION *sel, struct dw_error *err)
{
        *sel = (TPML_PCR_SELECTION){.count = le32(buf)};
        if (sel->count > TPM2_NUM_PCR_BANKS)
                return dw_error_set(err, EINVAL, 0, 0, "PCR selection of %u banks (at most %u)", sel->count,
                                    TPM2_NUM_PCR_BANKS);
        for (UINT32 i = 0; i < sel->count; i++) {
                const uint8_t *s = buf + 4 + i * PCRS_FILE_PCR_SEL_SIZE;
                TPMS_PCR_SELECTION *ps = &sel->pcrSelections[i];
                size_t offset = (size_t)(s - buf);

                ps->hash = le16(s);
                ps->sizeofSelect = s[2];
                if (ps->sizeofSelect > TPM2_PCR_SELECT_MAX)
                        return dw_error_set(err, EINVAL, 0, offset, "PCR selection %u: sizeofSelect %u (at most %u)", i,
                                            ps->sizeofSelect, TPM2_PCR_SELECT_MAX);
                if (dw_tpm_hash_size(ps->hash) == 0)
                        return dw_error_set(err, EINVAL, 0, offset, "PCR selection %u: unknown hash 0x%04x", i,
                                            ps->hash);
                memcpy(ps->pcrSelect, s + 3, TPM2_PCR_SELECT_MAX);
        }
        return 0;
}

static int pcrs_file_list(const uint8_t *l, size_t offset, TPML_DIGEST *d, struct dw_error *err)
{
        d->count = le32(l);
        if (d->count > PCRS_FILE_DIGESTS)
                return dw_error_set(err, EINVAL, 0, offset, "digest list of %u digests (at most %u)", d->count,
                                    PCRS_FILE_DIGESTS);
        for (UINT32 k = 0; k < d->count; k++) {
                const uint8_t *dg = l + 4 + k * PCRS_FILE_DIGEST_SIZE;

                d->digests[k].size = le16(dg);
                if (d->digests[k].size > DW_HASH_MAX_SIZE)
                        return dw_error_set(err, EINVAL, 0, offset + 4 + k * PCRS_FILE_DIGEST_SIZE,
                                            "digest of %u bytes (at most %u)", d->digests[k].size, DW_HASH_MAX_SIZE);
                memcpy(d->digests[k].buffer, dg + 2, d->digests[k].size);
        }
        return 0;
}

int dw_tpm_pcrs_file_parse(const uint8_t *buf, size_t size, struct dw_tpm_pcrs *ret, struct dw_error *err)
{
        _cleanup_free_ TPML_DIGEST *lists = NULL;
        TPML_PCR_SELECTION sel;
        uint32_t n;
        int r;

        if (size < PCRS_FILE_HEADER_SIZE)
                return dw_error_set(err, EINVAL, 0, 0, "PCR file of %zu bytes, shorter than its %u-byte header", size,
                                    PCRS_FILE_HEADER_SIZE);
        r = pcrs_file_selection(buf, &sel, err);
        if (r < 0)
                return r;
        n = le32(buf + PCRS_FILE_SELECTION_SIZE);
        if (n > TPM2_MAX_PCRS)
                return dw_error_set(err, EINVAL, 0, PCRS_FILE_SELECTION_SIZE, "%u digest lists (at most %u)", n,
                                    TPM2_MAX_PCRS);
        if (size != PCRS_FILE_HEADER_SIZE + (size_t)n * PCRS_FILE_LIST_SIZE)
                return dw_error_set(err, EINVAL, 0, PCRS_FILE_HEADER_SIZE,
                                    "PCR file of %zu bytes, but %u digest lists make %zu", size, n,
                                    PCRS_FILE_HEADER_SIZE + (size_t)n * PCRS_FILE_LIST_SIZE);
        lists = calloc(MAX(n, 1u), sizeof(TPML_DIGEST));
        if (!lists)
                return -ENOMEM;
        for (uint32_t j = 0; j < n; j++) {
                size_t offset = PCRS_FILE_HEADER_SIZE + (size_t)j * PCRS_FILE_LIST_SIZE;

                r = pcrs_file_list(buf + offset, offset, &lists[j], err);
                if (r < 0)
                        return r;
        }
        r = dw_tpm_pcrs_from_digests(&sel, lists, n, ret, err);
        if (r < 0 && err)
                err->offset = PCRS_FILE_HEADER_SIZE;
        return r;
}

/* Values name the selected PCRs in selection order, each with its bank's digest size. */
static bool pcrs_in_selection_order(const struct dw_tpm_pcrs *pcrs)
{
        size_t v = 0;

        for (UINT32 i = 0; i < pcrs->selection.count; i++) {
                const TPMS_PCR_SELECTION *s = &pcrs->selection.pcrSelections[i];

                for (unsigned pcr = 0; pcr < TPM2_MAX_PCRS; pcr++) {
                        if (!pcr_selected(s, pcr))
                                continue;
                        if (v >= pcrs->n_values || pcrs->values[v].hash_alg != s->hash || pcrs->values[v].pcr != pcr ||
                            pcrs->values[v].size != dw_tpm_hash_size(s->hash))
                                return false;
                        v++;
                }
        }
        return v == pcrs->n_values;
}

int dw_tpm_pcrs_file_write(const struct dw_tpm_pcrs *pcrs, uint8_t **ret_buf, size_t *ret_size)
{
        size_t n_lists = (pcrs->n_values + PCRS_FILE_DIGESTS - 1) / PCRS_FILE_DIGESTS, size;
        const TPML_PCR_SELECTION *sel = &pcrs->selection;
        uint8_t *buf;
        int n;

        n = dw_tpm_pcr_selection_count(sel);
        if (n < 0 || (size_t)n != pcrs->n_values || n_lists > TPM2_MAX_PCRS || !pcrs_in_selection_order(pcrs))
                return -EINVAL;
        size = PCRS_FILE_HEADER_SIZE + n_lists * PCRS_FILE_LIST_SIZE;
        buf = calloc(1, size);
        if (!buf)
                return -ENOMEM;
        put_le32(buf, sel->count);
        for (UINT32 i = 0; i < sel->count; i++) {
                uint8_t *s = buf + 4 + i * PCRS_FILE_PCR_SEL_SIZE;

                put_le16(s, sel->pcrSelections[i].hash);
                s[2] = sel->pcrSelections[i].sizeofSelect;
                memcpy(s + 3, sel->pcrSelections[i].pcrSelect, sel->pcrSelections[i].sizeofSelect);
        }
        put_le32(buf + PCRS_FILE_SELECTION_SIZE, (uint32_t)n_lists);
        for (size_t v = 0; v < pcrs->n_values; v++) {
                uint8_t *l = buf + PCRS_FILE_HEADER_SIZE + (v / PCRS_FILE_DIGESTS) * PCRS_FILE_LIST_SIZE;
                uint8_t *d = l + 4 + (v % PCRS_FILE_DIGESTS) * PCRS_FILE_DIGEST_SIZE;

                put_le32(l, (uint32_t)MIN(pcrs->n_values - v / PCRS_FILE_DIGESTS * PCRS_FILE_DIGESTS,
                                          (size_t)PCRS_FILE_DIGESTS));
                put_le16(d, pcrs->values[v].size);
                memcpy(d + 2, pcrs->values[v].digest, pcrs->values[v].size);
        }
        *ret_buf = buf;
        *ret_size = size;
        return 0;
}
