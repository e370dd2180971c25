/* SPDX-License-Identifier: MIT */
/* NV on the gateway's TPM: reading ordinary indices (EK certificates) and the NV extend index. */

#include <string.h>

#include <openssl/x509.h>

#include "tpm-gateway-internal.h"

#define NV_EXTEND_SIZE 32 /* SHA-256 */

#define NV_EXTEND_ATTRS                                                                                                \
        (TPMA_NV_AUTHWRITE | TPMA_NV_AUTHREAD | TPMA_NV_NO_DA | TPMA_NV_ORDERLY | TPMA_NV_CLEAR_STCLEAR |              \
         ((TPMA_NV)TPM2_NT_EXTEND << TPMA_NV_TPM2_NT_SHIFT))
#define NV_PLATFORM_ATTRS (TPMA_NV_PLATFORMCREATE | TPMA_NV_POLICY_DELETE)

static int nv_read_public(struct dw_tpm *t, ESYS_TR nv, TPMS_NV_PUBLIC *ret, TPM2B_NAME *ret_name, struct dw_error *err)
{
        _cleanup_esys_ TPM2B_NV_PUBLIC *pub = NULL;
        _cleanup_esys_ TPM2B_NAME *name = NULL;
        TSS2_RC rc;

        rc = Esys_NV_ReadPublic(t->esys, nv, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &pub, &name);
        if (rc != TSS2_RC_SUCCESS)
                return tpm_error(err, rc, "TPM2_NV_ReadPublic");
        *ret = pub->nvPublic;
        if (ret_name)
                *ret_name = *name;
        return 0;
}

/* Who may read an ordinary index without a policy: the index's own (empty) auth, else owner, else platform. */
static int nv_read_auth(const TPMS_NV_PUBLIC *pub, ESYS_TR nv, ESYS_TR *ret, struct dw_error *err)
{
        if (pub->attributes & TPMA_NV_AUTHREAD)
                *ret = nv;
        else if (pub->attributes & TPMA_NV_OWNERREAD)
                *ret = ESYS_TR_RH_OWNER;
        else if (pub->attributes & TPMA_NV_PPREAD)
                *ret = ESYS_TR_RH_PLATFORM;
        else
                return dw_error_set(err, EACCES, 0, 0, "NV index 0x%08x can only be read with a policy", pub->nvIndex);
        return 0;
}

int dw_tpm_nv_read_all(struct dw_tpm *t, uint32_t nv_index, uint8_t **ret_data, size_t *ret_size, struct dw_error *err)
{
        _cleanup_tpm_obj_ struct tpm_obj nv = TPM_OBJ_INIT(t);
        _cleanup_free_ uint8_t *data = NULL;
        TPMS_NV_PUBLIC pub;
        ESYS_TR auth = ESYS_TR_NONE;
        int r;

        r = tpm_obj_open(t, nv_index, &nv, err);
        if (r < 0)
                return r;
        r = nv_read_public(t, nv.tr, &pub, NULL, err);
        if (r < 0)
                return r;
        r = nv_read_auth(&pub, nv.tr, &auth, err);
        if (r < 0)
                return r;
        data = malloc(pub.dataSize > 0 ? pub.dataSize : 1);
        if (!data)
                return dw_error_set(err, ENOMEM, 0, 0, "out of memory");
        for (size_t off = 0; off < pub.dataSize;) {
                _cleanup_esys_ TPM2B_MAX_NV_BUFFER *chunk = NULL;
                UINT16 n = (UINT16)MIN(pub.dataSize - off, (size_t)t->nv_buffer_max);
                TSS2_RC rc;

                rc = Esys_NV_Read(t->esys, auth, nv.tr, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, n, (UINT16)off,
                                  &chunk);
                if (rc != TSS2_RC_SUCCESS)
                        return tpm_error(err, rc, "TPM2_NV_Read(0x%08x, %u bytes at %zu)", nv_index, n, off);
                if (chunk->size != n)
                        return dw_error_set(err, EIO, 0, 0, "TPM2_NV_Read(0x%08x) returned %u bytes, not %u", nv_index,
                                            chunk->size, n);
                memcpy(data + off, chunk->buffer, n);
                off += n;
        }
        *ret_data = TAKE_PTR(data);
        *ret_size = pub.dataSize;
        return 0;
}

/* ---- EK certificates ---------------------------------------------------------------------------------------- */

static const struct {
        uint32_t index;
        const char *label;
        bool high_range;
} ek_cert_indices[] = {
        {DW_TPM_NV_EK_CERT_RSA2048, "rsa2048", false},
        {DW_TPM_NV_EK_CERT_ECC_P256, "ecc-p256", false},
        {0x01c00012, "rsa2048", true},
        {0x01c00014, "ecc-p256", true},
        {DW_TPM_NV_EK_CERT_ECC_P384, "ecc-p384", true},
        {0x01c00018, "ecc-p521", true},
        {0x01c0001a, "ecc-sm2-p256", true},
        {0x01c0001c, "rsa3072", true},
        {0x01c0001e, "rsa4096", true},
};

/* NV indices are often larger than the certificate (padded): the DER SEQUENCE's own length. */
static size_t der_length(const uint8_t *der, size_t size)
{
        size_t len = 0, n;

        if (size < 2 || der[0] != 0x30)
                return size;
        if (der[1] < 0x80)
                return MIN(size, 2 + (size_t)der[1]);
        n = der[1] & 0x7f;
        if (n == 0 || n > 4 || size < 2 + n)
                return size;
        for (size_t i = 0; i < n; i++)
                len = len << 8 | der[2 + i];
        return MIN(size, 2 + n + len);
}

void dw_tpm_ek_certs_free(struct dw_tpm_ek_cert *certs, size_t n)
{
        if (!certs)
                return;
        for (size_t i = 0; i < n; i++)
                free(certs[i].der);
        free(certs);
}

int dw_tpm_ek_certs_read(struct dw_tpm *t, struct dw_tpm_ek_cert **ret, size_t *ret_n, struct dw_error *err)
{
        struct dw_tpm_ek_cert *certs;
        size_t n = 0;

        certs = calloc(ELEMENTSOF(ek_cert_indices), sizeof(*certs));
        if (!certs)
                return dw_error_set(err, ENOMEM, 0, 0, "out of memory");
        for (size_t i = 0; i < ELEMENTSOF(ek_cert_indices); i++) {
                struct dw_error e = {};
                uint8_t *der = NULL;
                size_t size;
                int r;

                r = dw_tpm_nv_read_all(t, ek_cert_indices[i].index, &der, &size, &e);
                if (r == -ENOENT)
                        continue;
                if (r < 0) {
                        dw_tpm_ek_certs_free(certs, n);
                        if (err)
                                *err = e;
                        return r;
                }
                certs[n++] = (struct dw_tpm_ek_cert){
                        .nv_index = ek_cert_indices[i].index,
                        .label = ek_cert_indices[i].label,
                        .high_range = ek_cert_indices[i].high_range,
                        .der = der,
                        .der_size = der_length(der, size),
                };
        }
        *ret = certs;
        *ret_n = n;
        return 0;
}

int dw_tpm_ek_cert_matches(const uint8_t *der, size_t size, const struct dw_tpm_key *key, struct dw_error *err)
{
        _cleanup_(dw_x509_freep) X509 *cert = NULL;
        const unsigned char *p = der;
        EVP_PKEY *pkey;

        cert = d2i_X509(NULL, &p, (long)size);
        if (!cert)
                return dw_error_set(err, EINVAL, 0, 0, "EK certificate: not a DER X.509 certificate");
        pkey = X509_get0_pubkey(cert);
        if (!pkey)
                return dw_error_set(err, EINVAL, 0, 0, "EK certificate: unreadable public key");
        return dw_tpm_public_matches_pkey(&key->public.publicArea, pkey) ? 1 : 0;
}

/* ---- NV extend index ---------------------------------------------------------------------------------------- */

/* PolicyCommandCode(TPM2_CC_NV_UndefineSpaceSpecial) from the zero digest:
 * SHA-256(0^32 || TPM2_CC_PolicyCommandCode || TPM2_CC_NV_UndefineSpaceSpecial), both big-endian u32. */
static int delete_policy(TPM2B_DIGEST *ret)
{
        uint8_t buf[32 + 8] = {};
        const uint32_t cc[2] = {TPM2_CC_PolicyCommandCode, TPM2_CC_NV_UndefineSpaceSpecial};
        int size;

        for (unsigned i = 0; i < 2; i++)
                for (unsigned b = 0; b < 4; b++)
                        buf[32 + 4 * i + b] = (uint8_t)(cc[i] >> (24 - 8 * b));
        size = dw_tpm_hash(TPM2_ALG_SHA256, buf, sizeof(buf), ret->buffer);
        if (size <= 0)
                return -EIO;
        ret->size = (UINT16)size;
        return 0;
}

static int nv_extend_template(uint32_t nv_index, bool platform, TPM2B_NV_PUBLIC *ret)
{
        *ret = (TPM2B_NV_PUBLIC){
                .nvPublic =
                        {
                                .nvIndex = nv_index,
                                .nameAlg = TPM2_ALG_SHA256,
                                .attributes = NV_EXTEND_ATTRS | (platform ? NV_PLATFORM_ATTRS : 0),
                                .dataSize = NV_EXTEND_SIZE,
                        },
        };
        return platform ? delete_policy(&ret->nvPublic.authPolicy) : 0;
}

static int nv_define(struct dw_tpm *t, uint32_t nv_index, bool platform, struct dw_error *err)
{
        const TPM2B_AUTH auth = {};
        TPM2B_NV_PUBLIC pub;
        ESYS_TR nv = ESYS_TR_NONE;
        TSS2_RC rc;

        if (nv_extend_template(nv_index, platform, &pub) < 0)
                return dw_error_set(err, EIO, 0, 0, "cannot compute the NV delete policy");
        rc = Esys_NV_DefineSpace(t->esys, platform ? ESYS_TR_RH_PLATFORM : ESYS_TR_RH_OWNER, ESYS_TR_PASSWORD,
                                 ESYS_TR_NONE, ESYS_TR_NONE, &auth, &pub, &nv);
        if (rc != TSS2_RC_SUCCESS)
                return tpm_error(err, rc, "TPM2_NV_DefineSpace(0x%08x, %s hierarchy)", nv_index,
                                 platform ? "platform" : "owner");
        (void)Esys_TR_Close(t->esys, &nv);
        return 0;
}

/* An existing index is ours if it is a SHA-256 extend index with our attributes (WRITTEN aside), either kind. */
static bool nv_is_extend_index(const TPMS_NV_PUBLIC *pub)
{
        TPMA_NV attrs = pub->attributes & ~TPMA_NV_WRITTEN;

        return pub->nameAlg == TPM2_ALG_SHA256 && pub->dataSize == NV_EXTEND_SIZE &&
               (attrs == NV_EXTEND_ATTRS || attrs == (NV_EXTEND_ATTRS | NV_PLATFORM_ATTRS));
}

static int nv_extend_open(struct dw_tpm *t, uint32_t nv_index, struct tpm_obj *ret, TPMS_NV_PUBLIC *ret_pub,
                          TPM2B_NAME *ret_name, struct dw_error *err)
{
        _cleanup_tpm_obj_ struct tpm_obj nv = TPM_OBJ_INIT(t);
        TPMS_NV_PUBLIC pub;
        int r;

        r = tpm_obj_open(t, nv_index, &nv, err);
        if (r == -ENOENT)
                return dw_error_set(err, ENOENT, 0, 0, "NV index 0x%08x is not defined (driftwatch tpm nv define)",
                                    nv_index);
        if (r < 0)
                return r;
        r = nv_read_public(t, nv.tr, &pub, ret_name, err);
        if (r < 0)
                return r;
        if (!nv_is_extend_index(&pub))
                return dw_error_set(err, EEXIST, 0, 0,
                                    "NV index 0x%08x is not a driftwatch extend index (attributes 0x%08x, %u bytes)",
                                    nv_index, pub.attributes, pub.dataSize);
        if (ret_pub)
                *ret_pub = pub;
        *ret = nv;
        nv.tr = ESYS_TR_NONE;
        return 0;
}

static int nv_define_either(struct dw_tpm *t, uint32_t nv_index, bool owner_fallback, bool *ret_platform, char *reason,
                            size_t reason_size, struct dw_error *err)
{
        struct dw_error perr = {};
        int r;

        r = nv_define(t, nv_index, true, &perr);
        if (r >= 0 || r == -EEXIST) {
                *ret_platform = true;
                return r;
        }
        if (!owner_fallback) {
                if (err)
                        *err = perr;
                return r;
        }
        snprintf(reason, reason_size, "%s", perr.msg);
        *ret_platform = false;
        return nv_define(t, nv_index, false, err);
}

int dw_tpm_nv_extend_define(struct dw_tpm *t, uint32_t nv_index, bool owner_fallback, struct dw_tpm_nv_extend_info *ret,
                            struct dw_error *err)
{
        _cleanup_tpm_obj_ struct tpm_obj nv = TPM_OBJ_INIT(t);
        struct dw_tpm_nv_extend_info info = {.nv_index = nv_index};
        bool exists, platform;
        int r;

        if ((nv_index >> 24) != TPM2_HT_NV_INDEX)
                return dw_error_set(err, EINVAL, 0, 0, "0x%08x is not an NV index handle (0x01xxxxxx)", nv_index);
        r = tpm_handle_exists(t, nv_index, &exists, err);
        if (r < 0)
                return r;
        if (!exists) {
                r = nv_define_either(t, nv_index, owner_fallback, &platform, info.owner_reason,
                                     sizeof(info.owner_reason), err);
                if (r < 0 && r != -EEXIST) /* -EEXIST: defined concurrently, check that one */
                        return r;
                info.created = r >= 0;
        }
        r = nv_extend_open(t, nv_index, &nv, &info.public, &info.name, err);
        if (r < 0)
                return r;
        info.platform_created = info.public.attributes & TPMA_NV_PLATFORMCREATE;
        if (info.platform_created || !info.created)
                info.owner_reason[0] = '\0';
        *ret = info;
        return 0;
}

int dw_tpm_nv_extend(struct dw_tpm *t, uint32_t nv_index, const uint8_t *data, size_t size, struct dw_error *err)
{
        _cleanup_tpm_obj_ struct tpm_obj nv = TPM_OBJ_INIT(t);
        TPM2B_MAX_NV_BUFFER buf = {};
        TSS2_RC rc;
        int r;

        if (size == 0 || size > t->nv_buffer_max)
                return dw_error_set(err, EINVAL, 0, 0, "NV extend data of %zu bytes (1 to %u)", size, t->nv_buffer_max);
        buf.size = (UINT16)size;
        memcpy(buf.buffer, data, size);
        r = nv_extend_open(t, nv_index, &nv, NULL, NULL, err);
        if (r < 0)
                return r;
        rc = Esys_NV_Extend(t->esys, nv.tr, nv.tr, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, &buf);
        if (rc != TSS2_RC_SUCCESS)
                return tpm_error(err, rc, "TPM2_NV_Extend(0x%08x)", nv_index);
        return 0;
}

int dw_tpm_nv_extend_read(struct dw_tpm *t, uint32_t nv_index, uint8_t ret_value[static 32], struct dw_error *err)
{
        _cleanup_tpm_obj_ struct tpm_obj nv = TPM_OBJ_INIT(t);
        _cleanup_esys_ TPM2B_MAX_NV_BUFFER *data = NULL;
        TPMS_NV_PUBLIC pub;
        TSS2_RC rc;
        int r;

        r = nv_extend_open(t, nv_index, &nv, &pub, NULL, err);
        if (r < 0)
                return r;
        if (!(pub.attributes & TPMA_NV_WRITTEN))
                return dw_error_set(err, ENODATA, 0, 0, "NV index 0x%08x not extended since the last TPM reset",
                                    nv_index);
        rc = Esys_NV_Read(t->esys, nv.tr, nv.tr, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, NV_EXTEND_SIZE, 0,
                          &data);
        if (rc != TSS2_RC_SUCCESS)
                return tpm_error(err, rc, "TPM2_NV_Read(0x%08x)", nv_index);
        if (data->size != NV_EXTEND_SIZE)
                return dw_error_set(err, EIO, 0, 0, "TPM2_NV_Read(0x%08x) returned %u bytes", nv_index, data->size);
        memcpy(ret_value, data->buffer, NV_EXTEND_SIZE);
        return 0;
}

int dw_tpm_nv_extend_certify(struct dw_tpm *t, uint32_t nv_index, uint32_t ak_handle, const uint8_t *nonce,
                             size_t nonce_size, struct dw_tpm_signed_attest *ret, struct dw_error *err)
{
        _cleanup_tpm_obj_ struct tpm_obj nv = TPM_OBJ_INIT(t), ak = TPM_OBJ_INIT(t);
        _cleanup_esys_ TPM2B_ATTEST *attest = NULL;
        _cleanup_esys_ TPMT_SIGNATURE *signature = NULL;
        const TPMT_SIG_SCHEME scheme = {.scheme = TPM2_ALG_NULL};
        TPM2B_DATA qualifying;
        TPMS_NV_PUBLIC pub;
        TSS2_RC rc;
        int r;

        r = tpm_data_from(nonce, nonce_size, &qualifying, err);
        if (r < 0)
                return r;
        r = nv_extend_open(t, nv_index, &nv, &pub, NULL, err);
        if (r < 0)
                return r;
        if (!(pub.attributes & TPMA_NV_WRITTEN))
                return dw_error_set(err, ENODATA, 0, 0, "NV index 0x%08x not extended since the last TPM reset",
                                    nv_index);
        r = tpm_obj_open(t, ak_handle, &ak, err);
        if (r < 0)
                return r;
        rc = Esys_NV_Certify(t->esys, ak.tr, nv.tr, nv.tr, ESYS_TR_PASSWORD, ESYS_TR_PASSWORD, ESYS_TR_NONE,
                             &qualifying, &scheme, NV_EXTEND_SIZE, 0, &attest, &signature);
        if (rc != TSS2_RC_SUCCESS)
                return tpm_error(err, rc, "TPM2_NV_Certify(0x%08x by AK 0x%08x)", nv_index, ak_handle);
        ret->attest = *attest;
        ret->signature = *signature;
        return 0;
}

static int nv_undefine_special(struct dw_tpm *t, struct tpm_obj *nv, struct dw_error *err)
{
        _cleanup_tpm_obj_ struct tpm_obj session = TPM_OBJ_INIT(t);
        TSS2_RC rc;
        int r;

        r = tpm_policy_session(t, TPM2_ALG_SHA256, &session, err);
        if (r < 0)
                return r;
        rc = Esys_PolicyCommandCode(t->esys, session.tr, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE,
                                    TPM2_CC_NV_UndefineSpaceSpecial);
        if (rc != TSS2_RC_SUCCESS)
                return tpm_error(err, rc, "TPM2_PolicyCommandCode");
        rc = Esys_NV_UndefineSpaceSpecial(t->esys, nv->tr, ESYS_TR_RH_PLATFORM, session.tr, ESYS_TR_PASSWORD,
                                          ESYS_TR_NONE);
        if (rc != TSS2_RC_SUCCESS)
                return tpm_error(err, rc, "TPM2_NV_UndefineSpaceSpecial");
        nv->tr = ESYS_TR_NONE; /* ESAPI dropped it */
        return 0;
}

int dw_tpm_nv_extend_undefine(struct dw_tpm *t, uint32_t nv_index, struct dw_error *err)
{
        _cleanup_tpm_obj_ struct tpm_obj nv = TPM_OBJ_INIT(t);
        TPMS_NV_PUBLIC pub;
        TSS2_RC rc;
        int r;

        r = nv_extend_open(t, nv_index, &nv, &pub, NULL, err);
        if (r < 0)
                return r;
        if (pub.attributes & TPMA_NV_POLICY_DELETE)
                return nv_undefine_special(t, &nv, err);
        rc = Esys_NV_UndefineSpace(t->esys, ESYS_TR_RH_OWNER, nv.tr, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE);
        if (rc != TSS2_RC_SUCCESS)
                return tpm_error(err, rc, "TPM2_NV_UndefineSpace(0x%08x)", nv_index);
        nv.tr = ESYS_TR_NONE;
        return 0;
}
