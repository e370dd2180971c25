/* SPDX-License-Identifier: MIT */
/* Keys of the gateway's TPM: the EK (TCG default templates), the AK and the event-signing key (children of the EK,
 * persisted), credential activation, TPM2_Certify and TPM2_Sign. */

#include <string.h>

#include <tss2/tss2_mu.h>

#include "tpm-gateway-internal.h"

/* PolicySecret(TPM_RH_ENDORSEMENT) with SHA-256: the authPolicy of the EK Credential Profile's L templates. */
static const uint8_t ek_policy_sha256[32] = {
        0x83, 0x71, 0x97, 0x67, 0x44, 0x84, 0xb3, 0xf8, 0x1a, 0x90, 0xcc, 0x8d, 0x46, 0xa5, 0xd7, 0x24,
        0xfd, 0x52, 0xd7, 0x6e, 0x06, 0x52, 0x0b, 0x64, 0xf2, 0xa1, 0xda, 0x1b, 0x33, 0x14, 0x69, 0xaa,
};

/* The SHA-384 authPolicy of the H templates (as swtpm 0.7 creates its P-384 EK). The H templates also set
 * userWithAuth, so the EK is used with its empty password and this policy need not be satisfied. */
static const uint8_t ek_policy_sha384[48] = {
        0xb2, 0x6e, 0x7d, 0x28, 0xd1, 0x1a, 0x50, 0xbc, 0x53, 0xd8, 0x82, 0xbc, 0xf5, 0xfd, 0x3a, 0x1a,
        0x07, 0x41, 0x48, 0xbb, 0x35, 0xd3, 0xb4, 0xe4, 0xcb, 0x1c, 0x0a, 0xd9, 0xbd, 0xe4, 0x19, 0xca,
        0xcb, 0x47, 0xba, 0x09, 0x69, 0x96, 0x46, 0x15, 0x0f, 0x9f, 0xc0, 0x00, 0xf3, 0xf8, 0x0e, 0x12,
};

#define EK_ATTRS_L                                                                                                     \
        (TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT | TPMA_OBJECT_SENSITIVEDATAORIGIN |                            \
         TPMA_OBJECT_ADMINWITHPOLICY | TPMA_OBJECT_RESTRICTED | TPMA_OBJECT_DECRYPT)
#define EK_ATTRS_H (EK_ATTRS_L | TPMA_OBJECT_USERWITHAUTH)

#define SIGNING_KEY_ATTRS                                                                                              \
        (TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT | TPMA_OBJECT_SENSITIVEDATAORIGIN | TPMA_OBJECT_USERWITHAUTH | \
         TPMA_OBJECT_SIGN_ENCRYPT)
#define AK_ATTRS (SIGNING_KEY_ATTRS | TPMA_OBJECT_RESTRICTED)

/* EK certificate, nonce and template NV indices per key type (the H templates have no nonce or template index). */
static const struct {
        uint32_t cert, nonce, template;
} ek_nv[_DW_TPM_KEY_TYPE_MAX] = {
        [DW_TPM_KEY_RSA2048] = {DW_TPM_NV_EK_CERT_RSA2048, 0x01c00003, 0x01c00004},
        [DW_TPM_KEY_ECC_P256] = {DW_TPM_NV_EK_CERT_ECC_P256, 0x01c0000b, 0x01c0000c},
        [DW_TPM_KEY_ECC_P384] = {DW_TPM_NV_EK_CERT_ECC_P384, 0, 0},
};

uint32_t dw_tpm_ek_cert_nv_index(enum dw_tpm_key_type type)
{
        if (type < 0 || type >= _DW_TPM_KEY_TYPE_MAX)
                return 0;
        return ek_nv[type].cert;
}

static void set_policy(TPMT_PUBLIC *pub, const uint8_t *policy, size_t size)
{
        pub->authPolicy.size = (UINT16)size;
        memcpy(pub->authPolicy.buffer, policy, size);
}

static void ek_default_template(enum dw_tpm_key_type type, TPMT_PUBLIC *ret)
{
        const TPMT_SYM_DEF_OBJECT aes128cfb = {.algorithm = TPM2_ALG_AES, .keyBits.aes = 128, .mode.aes = TPM2_ALG_CFB};
        const TPMT_SYM_DEF_OBJECT aes256cfb = {.algorithm = TPM2_ALG_AES, .keyBits.aes = 256, .mode.aes = TPM2_ALG_CFB};

        *ret = (TPMT_PUBLIC){};
        switch (type) {
        case DW_TPM_KEY_RSA2048: /* L-1: unique is 256 zero bytes */
                ret->type = TPM2_ALG_RSA;
                ret->nameAlg = TPM2_ALG_SHA256;
                ret->objectAttributes = EK_ATTRS_L;
                ret->parameters.rsaDetail.symmetric = aes128cfb;
                ret->parameters.rsaDetail.scheme.scheme = TPM2_ALG_NULL;
                ret->parameters.rsaDetail.keyBits = 2048;
                ret->unique.rsa.size = 256;
                set_policy(ret, ek_policy_sha256, sizeof(ek_policy_sha256));
                break;
        case DW_TPM_KEY_ECC_P256: /* L-2: unique is two 32-byte zero coordinates */
                ret->type = TPM2_ALG_ECC;
                ret->nameAlg = TPM2_ALG_SHA256;
                ret->objectAttributes = EK_ATTRS_L;
                ret->parameters.eccDetail.symmetric = aes128cfb;
                ret->parameters.eccDetail.scheme.scheme = TPM2_ALG_NULL;
                ret->parameters.eccDetail.curveID = TPM2_ECC_NIST_P256;
                ret->parameters.eccDetail.kdf.scheme = TPM2_ALG_NULL;
                ret->unique.ecc.x.size = 32;
                ret->unique.ecc.y.size = 32;
                set_policy(ret, ek_policy_sha256, sizeof(ek_policy_sha256));
                break;
        default: /* H-3: unique is empty */
                ret->type = TPM2_ALG_ECC;
                ret->nameAlg = TPM2_ALG_SHA384;
                ret->objectAttributes = EK_ATTRS_H;
                ret->parameters.eccDetail.symmetric = aes256cfb;
                ret->parameters.eccDetail.scheme.scheme = TPM2_ALG_NULL;
                ret->parameters.eccDetail.curveID = TPM2_ECC_NIST_P384;
                ret->parameters.eccDetail.kdf.scheme = TPM2_ALG_NULL;
                set_policy(ret, ek_policy_sha384, sizeof(ek_policy_sha384));
                break;
        }
}

/* An NV index that may be absent: -ENOENT is not an error here, *ret_data stays NULL. */
static int nv_read_optional(struct dw_tpm *t, uint32_t index, uint8_t **ret_data, size_t *ret_size,
                            struct dw_error *err)
{
        struct dw_error e = {};
        int r = dw_tpm_nv_read_all(t, index, ret_data, ret_size, &e);

        if (r < 0 && r != -ENOENT && err)
                *err = e;
        return r == -ENOENT ? 0 : r;
}

/* The EK Credential Profile's L templates may be overridden by the manufacturer: a marshalled TPMT_PUBLIC in the
 * template index replaces the default, and a nonce in the nonce index goes at the start of the unique field
 * (RSA: the 256-byte modulus; ECC: the x coordinate, y stays 32 zero bytes). */
static int ek_template(struct dw_tpm *t, enum dw_tpm_key_type type, TPMT_PUBLIC *ret, struct dw_error *err)
{
        _cleanup_free_ uint8_t *tmpl = NULL, *nonce = NULL;
        size_t tmpl_size = 0, nonce_size = 0, offset = 0;
        TPMT_PUBLIC pub;
        int r;

        ek_default_template(type, &pub);
        if (ek_nv[type].template) {
                r = nv_read_optional(t, ek_nv[type].template, &tmpl, &tmpl_size, err);
                if (r < 0)
                        return r;
                r = nv_read_optional(t, ek_nv[type].nonce, &nonce, &nonce_size, err);
                if (r < 0)
                        return r;
        }
        if (tmpl &&
            (Tss2_MU_TPMT_PUBLIC_Unmarshal(tmpl, tmpl_size, &offset, &pub) != TSS2_RC_SUCCESS || offset != tmpl_size))
                return dw_error_set(err, EINVAL, 0, 0, "EK template in NV index 0x%08x does not parse",
                                    ek_nv[type].template);
        if (nonce && pub.type == TPM2_ALG_RSA) {
                if (nonce_size > sizeof(pub.unique.rsa.buffer))
                        return dw_error_set(err, EINVAL, 0, 0, "EK nonce of %zu bytes", nonce_size);
                memset(pub.unique.rsa.buffer, 0, sizeof(pub.unique.rsa.buffer));
                memcpy(pub.unique.rsa.buffer, nonce, nonce_size);
                pub.unique.rsa.size = 256;
        } else if (nonce && pub.type == TPM2_ALG_ECC) {
                if (nonce_size > 32)
                        return dw_error_set(err, EINVAL, 0, 0, "EK nonce of %zu bytes", nonce_size);
                pub.unique.ecc.x = (TPM2B_ECC_PARAMETER){.size = 32};
                pub.unique.ecc.y = (TPM2B_ECC_PARAMETER){.size = 32};
                memcpy(pub.unique.ecc.x.buffer, nonce, nonce_size);
        }
        *ret = pub;
        return 0;
}

int tpm_ek_load(struct dw_tpm *t, enum dw_tpm_key_type type, struct tpm_obj *ret_ek, struct dw_tpm_key *ret_key,
                struct dw_error *err)
{
        _cleanup_tpm_obj_ struct tpm_obj ek = TPM_OBJ_INIT(t);
        const TPM2B_SENSITIVE_CREATE sensitive = {};
        const TPML_PCR_SELECTION creation_pcrs = {};
        const TPM2B_DATA outside = {};
        TPM2B_PUBLIC in = {};
        struct dw_tpm_key key = {.type = type};
        TSS2_RC rc;
        int r;

        if (type < 0 || type >= _DW_TPM_KEY_TYPE_MAX)
                return dw_error_set(err, EINVAL, 0, 0, "unknown EK type %d", type);
        r = ek_template(t, type, &in.publicArea, err);
        if (r < 0)
                return r;
        rc = Esys_CreatePrimary(t->esys, ESYS_TR_RH_ENDORSEMENT, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE,
                                &sensitive, &in, &outside, &creation_pcrs, &ek.tr, NULL, NULL, NULL, NULL);
        if (rc != TSS2_RC_SUCCESS)
                return tpm_error(err, rc, "TPM2_CreatePrimary(%s EK)", dw_tpm_key_type_name(type));
        ek.flush = true;
        r = tpm_key_read(t, ek.tr, &key, err);
        if (r < 0)
                return r;
        if (ret_key)
                *ret_key = key;
        *ret_ek = ek;
        ek.tr = ESYS_TR_NONE;
        return 0;
}

int tpm_ek_session(struct dw_tpm *t, const TPMT_PUBLIC *ek, struct tpm_obj *ret, struct dw_error *err)
{
        _cleanup_tpm_obj_ struct tpm_obj session = TPM_OBJ_INIT(t);
        _cleanup_esys_ TPM2B_TIMEOUT *timeout = NULL;
        _cleanup_esys_ TPMT_TK_AUTH *ticket = NULL;
        TSS2_RC rc;
        int r;

        if (ek->objectAttributes & TPMA_OBJECT_USERWITHAUTH) {
                *ret = (struct tpm_obj){.esys = t->esys, .tr = ESYS_TR_PASSWORD};
                return 0;
        }
        r = tpm_policy_session(t, ek->nameAlg, &session, err);
        if (r < 0)
                return r;
        rc = Esys_PolicySecret(t->esys, ESYS_TR_RH_ENDORSEMENT, session.tr, ESYS_TR_PASSWORD, ESYS_TR_NONE,
                               ESYS_TR_NONE, NULL, NULL, NULL, 0, &timeout, &ticket);
        if (rc != TSS2_RC_SUCCESS)
                return tpm_error(err, rc, "TPM2_PolicySecret(TPM_RH_ENDORSEMENT)");
        *ret = session;
        session.tr = ESYS_TR_NONE;
        return 0;
}

int dw_tpm_ek_create(struct dw_tpm *t, enum dw_tpm_key_type type, struct dw_tpm_key *ret, struct dw_error *err)
{
        _cleanup_tpm_obj_ struct tpm_obj ek = TPM_OBJ_INIT(t);

        return tpm_ek_load(t, type, &ek, ret, err);
}

/* ---- Children of the EK ------------------------------------------------------------------------------------- */

static int signing_template(enum dw_tpm_key_type type, TPMA_OBJECT attrs, TPMT_PUBLIC *ret)
{
        *ret = (TPMT_PUBLIC){.nameAlg = TPM2_ALG_SHA256, .objectAttributes = attrs};
        switch (type) {
        case DW_TPM_KEY_RSA2048:
                ret->type = TPM2_ALG_RSA;
                ret->parameters.rsaDetail.symmetric.algorithm = TPM2_ALG_NULL;
                ret->parameters.rsaDetail.scheme.scheme = TPM2_ALG_RSASSA;
                ret->parameters.rsaDetail.scheme.details.rsassa.hashAlg = TPM2_ALG_SHA256;
                ret->parameters.rsaDetail.keyBits = 2048;
                return 0;
        case DW_TPM_KEY_ECC_P256:
                ret->type = TPM2_ALG_ECC;
                ret->parameters.eccDetail.symmetric.algorithm = TPM2_ALG_NULL;
                ret->parameters.eccDetail.scheme.scheme = TPM2_ALG_ECDSA;
                ret->parameters.eccDetail.scheme.details.ecdsa.hashAlg = TPM2_ALG_SHA256;
                ret->parameters.eccDetail.curveID = TPM2_ECC_NIST_P256;
                ret->parameters.eccDetail.kdf.scheme = TPM2_ALG_NULL;
                return 0;
        default:
                return -EOPNOTSUPP;
        }
}

/* Same kind of key as the template: type, nameAlg, attributes, policy, scheme and size. */
static bool public_matches_template(const TPMT_PUBLIC *pub, const TPMT_PUBLIC *tmpl)
{
        if (pub->type != tmpl->type || pub->nameAlg != tmpl->nameAlg ||
            pub->objectAttributes != tmpl->objectAttributes || pub->authPolicy.size != tmpl->authPolicy.size ||
            memcmp(pub->authPolicy.buffer, tmpl->authPolicy.buffer, tmpl->authPolicy.size) != 0)
                return false;
        if (pub->type == TPM2_ALG_RSA) {
                const TPMS_RSA_PARMS *a = &pub->parameters.rsaDetail, *b = &tmpl->parameters.rsaDetail;

                return a->symmetric.algorithm == b->symmetric.algorithm && a->scheme.scheme == b->scheme.scheme &&
                       a->scheme.details.anySig.hashAlg == b->scheme.details.anySig.hashAlg &&
                       a->keyBits == b->keyBits && (a->exponent == 0 || a->exponent == 65537);
        }
        if (pub->type == TPM2_ALG_ECC) {
                const TPMS_ECC_PARMS *a = &pub->parameters.eccDetail, *b = &tmpl->parameters.eccDetail;

                return a->symmetric.algorithm == b->symmetric.algorithm && a->scheme.scheme == b->scheme.scheme &&
                       a->scheme.details.anySig.hashAlg == b->scheme.details.anySig.hashAlg &&
                       a->curveID == b->curveID && a->kdf.scheme == b->kdf.scheme;
        }
        return false;
}

/* The qualified name of a child is nameAlg || H_nameAlg(QN(parent) || Name(child)) (TPM 2.0 Part 1, "Qualified Name").
 */
static bool is_child_of(const struct dw_tpm_key *key, const struct dw_tpm_key *parent)
{
        uint16_t alg = key->public.publicArea.nameAlg;
        uint8_t buf[2 * sizeof(TPMU_NAME)], digest[DW_HASH_MAX_SIZE];
        size_t n = 0;
        int size;

        memcpy(buf, parent->qualified_name.name, parent->qualified_name.size);
        n += parent->qualified_name.size;
        memcpy(buf + n, key->name.name, key->name.size);
        n += key->name.size;
        size = dw_tpm_hash(alg, buf, n, digest);
        if (size <= 0 || key->qualified_name.size != 2 + (size_t)size)
                return false;
        return key->qualified_name.name[0] == (alg >> 8) && key->qualified_name.name[1] == (alg & 0xff) &&
               memcmp(key->qualified_name.name + 2, digest, (size_t)size) == 0;
}

static bool is_owner_persistent_handle(uint32_t handle)
{
        return handle >= 0x81000000u && handle < 0x81800000u;
}

static int persist(struct dw_tpm *t, ESYS_TR transient, uint32_t handle, struct dw_error *err)
{
        ESYS_TR persistent = ESYS_TR_NONE;
        TSS2_RC rc;

        rc = Esys_EvictControl(t->esys, ESYS_TR_RH_OWNER, transient, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE,
                               handle, &persistent);
        if (rc != TSS2_RC_SUCCESS)
                return tpm_error(err, rc, "TPM2_EvictControl(0x%08x)", handle);
        (void)Esys_TR_Close(t->esys, &persistent);
        return 0;
}

/* TPM2_Create under the EK, TPM2_Load, TPM2_EvictControl; a fresh EK session for each of the two EK uses. */
static int create_child(struct dw_tpm *t, const struct tpm_obj *ek, const TPMT_PUBLIC *ek_public,
                        const TPMT_PUBLIC *tmpl, uint32_t handle, struct dw_error *err)
{
        _cleanup_tpm_obj_ struct tpm_obj session = TPM_OBJ_INIT(t), key = TPM_OBJ_INIT(t);
        _cleanup_esys_ TPM2B_PRIVATE *priv = NULL;
        _cleanup_esys_ TPM2B_PUBLIC *pub = NULL;
        const TPM2B_SENSITIVE_CREATE sensitive = {};
        const TPML_PCR_SELECTION creation_pcrs = {};
        const TPM2B_DATA outside = {};
        const TPM2B_PUBLIC in = {.publicArea = *tmpl};
        TSS2_RC rc;
        int r;

        r = tpm_ek_session(t, ek_public, &session, err);
        if (r < 0)
                return r;
        rc = Esys_Create(t->esys, ek->tr, session.tr, ESYS_TR_NONE, ESYS_TR_NONE, &sensitive, &in, &outside,
                         &creation_pcrs, &priv, &pub, NULL, NULL, NULL);
        if (rc != TSS2_RC_SUCCESS)
                return tpm_error(err, rc, "TPM2_Create(under the EK)");
        tpm_obj_release(&session);

        r = tpm_ek_session(t, ek_public, &session, err);
        if (r < 0)
                return r;
        rc = Esys_Load(t->esys, ek->tr, session.tr, ESYS_TR_NONE, ESYS_TR_NONE, priv, pub, &key.tr);
        if (rc != TSS2_RC_SUCCESS)
                return tpm_error(err, rc, "TPM2_Load(under the EK)");
        key.flush = true;
        tpm_obj_release(&session);

        return persist(t, key.tr, handle, err);
}

/* The key at a persistent handle, created from tmpl under the EK if the handle is empty, and checked: exactly of
 * the template's kind and a child of that EK, or -EEXIST. */
static int ensure_child(struct dw_tpm *t, uint32_t handle, const char *what, enum dw_tpm_key_type type,
                        const TPMT_PUBLIC *tmpl, enum dw_tpm_key_type ek_type, struct dw_tpm_key *ret,
                        struct dw_error *err)
{
        _cleanup_tpm_obj_ struct tpm_obj ek = TPM_OBJ_INIT(t), obj = TPM_OBJ_INIT(t);
        struct dw_tpm_key ek_key, key = {};
        bool exists, created = false;
        int r;

        if (!is_owner_persistent_handle(handle))
                return dw_error_set(err, EINVAL, 0, 0,
                                    "0x%08x is not a persistent handle of the owner range "
                                    "(0x81000000-0x817fffff)",
                                    handle);
        r = tpm_handle_exists(t, handle, &exists, err);
        if (r < 0)
                return r;
        r = tpm_ek_load(t, ek_type, &ek, &ek_key, err);
        if (r < 0)
                return r;
        if (!exists) {
                r = create_child(t, &ek, &ek_key.public.publicArea, tmpl, handle, err);
                if (r < 0 && r != -EEXIST) /* -EEXIST: created concurrently, check that one */
                        return r;
                created = r >= 0;
        }
        r = tpm_obj_open(t, handle, &obj, err);
        if (r < 0)
                return r;
        r = tpm_key_read(t, obj.tr, &key, err);
        if (r < 0)
                return r;
        if (!public_matches_template(&key.public.publicArea, tmpl))
                return dw_error_set(err, EEXIST, 0, 0,
                                    "persistent handle 0x%08x holds a key that is not an %s of type %s (type, "
                                    "attributes, scheme or size differ); not replacing it",
                                    handle, what, dw_tpm_key_type_name(type));
        if (!is_child_of(&key, &ek_key))
                return dw_error_set(err, EEXIST, 0, 0,
                                    "persistent handle 0x%08x holds an %s (%s) that is not a child of the %s EK; "
                                    "not replacing it",
                                    handle, what, dw_tpm_key_type_name(type), dw_tpm_key_type_name(ek_type));
        key.handle = handle;
        key.type = type;
        key.created = created;
        *ret = key;
        return 0;
}

int dw_tpm_ak_ensure(struct dw_tpm *t, uint32_t handle, enum dw_tpm_key_type ak_type, enum dw_tpm_key_type ek_type,
                     struct dw_tpm_key *ret, struct dw_error *err)
{
        TPMT_PUBLIC tmpl;

        if (signing_template(ak_type, AK_ATTRS, &tmpl) < 0)
                return dw_error_set(err, EOPNOTSUPP, 0, 0, "an AK is RSA 2048 or ECC P-256, not %s",
                                    dw_tpm_key_type_name(ak_type) ?: "that");
        return ensure_child(t, handle, "AK", ak_type, &tmpl, ek_type, ret, err);
}

int dw_tpm_event_key_ensure(struct dw_tpm *t, uint32_t handle, enum dw_tpm_key_type ek_type, struct dw_tpm_key *ret,
                            struct dw_error *err)
{
        TPMT_PUBLIC tmpl;

        (void)signing_template(DW_TPM_KEY_ECC_P256, SIGNING_KEY_ATTRS, &tmpl);
        return ensure_child(t, handle, "event-signing key", DW_TPM_KEY_ECC_P256, &tmpl, ek_type, ret, err);
}

static int key_type_of(const TPMT_PUBLIC *pub, enum dw_tpm_key_type *ret)
{
        if (pub->type == TPM2_ALG_RSA && pub->parameters.rsaDetail.keyBits == 2048)
                *ret = DW_TPM_KEY_RSA2048;
        else if (pub->type == TPM2_ALG_ECC && pub->parameters.eccDetail.curveID == TPM2_ECC_NIST_P256)
                *ret = DW_TPM_KEY_ECC_P256;
        else if (pub->type == TPM2_ALG_ECC && pub->parameters.eccDetail.curveID == TPM2_ECC_NIST_P384)
                *ret = DW_TPM_KEY_ECC_P384;
        else
                return -EOPNOTSUPP;
        return 0;
}

int dw_tpm_ak_load(struct dw_tpm *t, uint32_t handle, struct dw_tpm_key *ret, struct dw_error *err)
{
        _cleanup_tpm_obj_ struct tpm_obj obj = TPM_OBJ_INIT(t);
        const TPMA_OBJECT need = TPMA_OBJECT_RESTRICTED | TPMA_OBJECT_SIGN_ENCRYPT;
        struct dw_tpm_key key = {.handle = handle};
        TPMA_OBJECT attrs;
        int r;

        r = tpm_obj_open(t, handle, &obj, err);
        if (r == -ENOENT)
                return dw_error_set(err, ENOENT, 0, 0, "no AK at persistent handle 0x%08x (run driftwatch tpm enroll)",
                                    handle);
        if (r < 0)
                return r;
        r = tpm_key_read(t, obj.tr, &key, err);
        if (r < 0)
                return r;
        attrs = key.public.publicArea.objectAttributes;
        if ((attrs & need) != need || (attrs & TPMA_OBJECT_DECRYPT))
                return dw_error_set(err, EINVAL, 0, 0, "the key at 0x%08x is not a restricted signing key (an AK)",
                                    handle);
        if (key_type_of(&key.public.publicArea, &key.type) < 0)
                return dw_error_set(err, EOPNOTSUPP, 0, 0, "the AK at 0x%08x is neither RSA 2048 nor ECC P-256/384",
                                    handle);
        *ret = key;
        return 0;
}

/* ---- Credential activation, certification, signing ---------------------------------------------------------- */

int dw_tpm_activate_credential(struct dw_tpm *t, uint32_t ak_handle, enum dw_tpm_key_type ek_type,
                               const TPM2B_ID_OBJECT *blob, const TPM2B_ENCRYPTED_SECRET *secret,
                               TPM2B_DIGEST *ret_secret, struct dw_error *err)
{
        _cleanup_tpm_obj_ struct tpm_obj ak = TPM_OBJ_INIT(t), ek = TPM_OBJ_INIT(t), session = TPM_OBJ_INIT(t);
        _cleanup_esys_ TPM2B_DIGEST *cert = NULL;
        struct dw_tpm_key ek_key;
        TSS2_RC rc;
        int r;

        r = tpm_obj_open(t, ak_handle, &ak, err);
        if (r < 0)
                return r;
        r = tpm_ek_load(t, ek_type, &ek, &ek_key, err);
        if (r < 0)
                return r;
        r = tpm_ek_session(t, &ek_key.public.publicArea, &session, err);
        if (r < 0)
                return r;
        rc = Esys_ActivateCredential(t->esys, ak.tr, ek.tr, ESYS_TR_PASSWORD, session.tr, ESYS_TR_NONE, blob, secret,
                                     &cert);
        if (rc != TSS2_RC_SUCCESS) {
                r = tpm_error(err, rc, "TPM2_ActivateCredential (AK 0x%08x, %s EK)", ak_handle,
                              dw_tpm_key_type_name(ek_type));
                /* The TPM refuses a credential made for another EK or another AK name (integrity or value check). */
                return (rc & TSS2_RC_LAYER_MASK) == TSS2_TPM_RC_LAYER && r != -ENOSPC ? -EACCES : r;
        }
        *ret_secret = *cert;
        return 0;
}

int dw_tpm_certify(struct dw_tpm *t, uint32_t object_handle, uint32_t ak_handle, const uint8_t *nonce,
                   size_t nonce_size, struct dw_tpm_signed_attest *ret, struct dw_error *err)
{
        _cleanup_tpm_obj_ struct tpm_obj obj = TPM_OBJ_INIT(t), ak = TPM_OBJ_INIT(t);
        _cleanup_esys_ TPM2B_ATTEST *attest = NULL;
        _cleanup_esys_ TPMT_SIGNATURE *signature = NULL;
        const TPMT_SIG_SCHEME scheme = {.scheme = TPM2_ALG_NULL};
        TPM2B_DATA qualifying;
        TSS2_RC rc;
        int r;

        r = tpm_data_from(nonce, nonce_size, &qualifying, err);
        if (r < 0)
                return r;
        r = tpm_obj_open(t, object_handle, &obj, err);
        if (r < 0)
                return r;
        r = tpm_obj_open(t, ak_handle, &ak, err);
        if (r < 0)
                return r;
        rc = Esys_Certify(t->esys, obj.tr, ak.tr, ESYS_TR_PASSWORD, ESYS_TR_PASSWORD, ESYS_TR_NONE, &qualifying,
                          &scheme, &attest, &signature);
        if (rc != TSS2_RC_SUCCESS)
                return tpm_error(err, rc, "TPM2_Certify(0x%08x by AK 0x%08x)", object_handle, ak_handle);
        ret->attest = *attest;
        ret->signature = *signature;
        return 0;
}

int dw_tpm_sign_digest(struct dw_tpm *t, uint32_t handle, const uint8_t *digest, size_t digest_size,
                       TPMT_SIGNATURE *ret, struct dw_error *err)
{
        _cleanup_tpm_obj_ struct tpm_obj key = TPM_OBJ_INIT(t);
        _cleanup_esys_ TPMT_SIGNATURE *signature = NULL;
        const TPMT_SIG_SCHEME scheme = {.scheme = TPM2_ALG_NULL};
        const TPMT_TK_HASHCHECK validation = {.tag = TPM2_ST_HASHCHECK, .hierarchy = TPM2_RH_NULL};
        TPM2B_DIGEST d = {};
        TSS2_RC rc;
        int r;

        if (digest_size == 0 || digest_size > sizeof(d.buffer))
                return dw_error_set(err, EINVAL, 0, 0, "a digest of %zu bytes", digest_size);
        d.size = (UINT16)digest_size;
        memcpy(d.buffer, digest, digest_size);
        r = tpm_obj_open(t, handle, &key, err);
        if (r < 0)
                return r;
        rc = Esys_Sign(t->esys, key.tr, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, &d, &scheme, &validation,
                       &signature);
        if (rc != TSS2_RC_SUCCESS)
                return tpm_error(err, rc, "TPM2_Sign(0x%08x)", handle);
        *ret = *signature;
        return 0;
}
