/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <tss2/tss2_mu.h>

#include "hash.h"
#include "macro.h"
#include "tpm-credential.h"
#include "tpm-marshal.h"

#define CREDENTIAL_FILE_MAGIC   0xBADCC0DEu
#define CREDENTIAL_FILE_VERSION 1u
#define CREDENTIAL_FILE_HEADER  8

static const char LABEL_IDENTITY[] = "IDENTITY";
static const char LABEL_STORAGE[] = "STORAGE";
static const char LABEL_INTEGRITY[] = "INTEGRITY";

struct part {
        const void *data;
        size_t size;
};

static void put_be32(uint8_t *p, uint32_t v)
{
        p[0] = (uint8_t)(v >> 24);
        p[1] = (uint8_t)(v >> 16);
        p[2] = (uint8_t)(v >> 8);
        p[3] = (uint8_t)v;
}

static uint32_t be32(const uint8_t *p)
{
        return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void mac_ctx_freep(EVP_MAC_CTX **p)
{
        EVP_MAC_CTX_free(*p);
}

static void cipher_ctx_freep(EVP_CIPHER_CTX **p)
{
        EVP_CIPHER_CTX_free(*p);
}

static void cipher_freep(EVP_CIPHER **p)
{
        EVP_CIPHER_free(*p);
}

/* out = HMAC_alg(key, parts...), the digest size of alg. */
static int hmac_parts(uint16_t alg, const uint8_t *key, size_t key_size, const struct part *parts, size_t n,
                      uint8_t *out)
{
        _cleanup_(mac_ctx_freep) EVP_MAC_CTX *ctx = NULL;
        const char *md = dw_tpm_hash_ossl_name(alg);
        OSSL_PARAM params[2];
        EVP_MAC *mac;
        size_t outlen = 0;

        if (!md)
                return -EOPNOTSUPP;
        mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
        if (!mac)
                return -EOPNOTSUPP;
        ctx = EVP_MAC_CTX_new(mac);
        EVP_MAC_free(mac);
        if (!ctx)
                return -ENOMEM;
        params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)md, 0);
        params[1] = OSSL_PARAM_construct_end();
        if (EVP_MAC_init(ctx, key, key_size, params) != 1)
                return -EOPNOTSUPP;
        for (size_t i = 0; i < n; i++)
                if (parts[i].size && EVP_MAC_update(ctx, parts[i].data, parts[i].size) != 1)
                        return -EIO;
        if (EVP_MAC_final(ctx, out, &outlen, DW_HASH_MAX_SIZE) != 1)
                return -EIO;
        return (int)outlen;
}

/* out = H_alg(parts...). */
static int hash_parts(uint16_t alg, const struct part *parts, size_t n, uint8_t *out)
{
        _cleanup_(dw_md_ctx_freep) EVP_MD_CTX *ctx = EVP_MD_CTX_new();
        const char *md = dw_tpm_hash_ossl_name(alg);
        unsigned len = 0;

        if (!md)
                return -EOPNOTSUPP;
        if (!ctx)
                return -ENOMEM;
        if (EVP_DigestInit_ex2(ctx, EVP_get_digestbyname(md), NULL) != 1)
                return -EOPNOTSUPP;
        for (size_t i = 0; i < n; i++)
                if (parts[i].size && EVP_DigestUpdate(ctx, parts[i].data, parts[i].size) != 1)
                        return -EIO;
        if (EVP_DigestFinal_ex(ctx, out, &len) != 1)
                return -EIO;
        return (int)len;
}

int dw_tpm_kdfa(uint16_t hash_alg, const uint8_t *key, size_t key_size, const char *label, const uint8_t *context_u,
                size_t context_u_size, const uint8_t *context_v, size_t context_v_size, uint8_t *out, size_t bits)
{
        size_t want = bits / 8, done = 0;
        uint8_t counter[4], length[4], block[DW_HASH_MAX_SIZE];

        if (!label || bits % 8 || bits > UINT32_MAX)
                return -EINVAL;
        put_be32(length, (uint32_t)bits);
        for (uint32_t i = 1; done < want; i++) {
                struct part parts[] = {
                        {counter, 4},
                        {label, strlen(label) + 1},
                        {context_u, context_u_size},
                        {context_v, context_v_size},
                        {length, 4},
                };
                int r;

                put_be32(counter, i);
                r = hmac_parts(hash_alg, key, key_size, parts, ELEMENTSOF(parts), block);
                if (r < 0)
                        return r;
                memcpy(out + done, block, MIN((size_t)r, want - done));
                done += MIN((size_t)r, want - done);
        }
        OPENSSL_cleanse(block, sizeof(block));
        return 0;
}

int dw_tpm_kdfe(uint16_t hash_alg, const uint8_t *z, size_t z_size, const char *label, const uint8_t *party_u,
                size_t party_u_size, const uint8_t *party_v, size_t party_v_size, uint8_t *out, size_t bits)
{
        size_t want = bits / 8, done = 0;
        uint8_t counter[4], block[DW_HASH_MAX_SIZE];

        if (!label || bits % 8)
                return -EINVAL;
        for (uint32_t i = 1; done < want; i++) {
                struct part parts[] = {
                        {counter, 4},
                        {z, z_size},
                        {label, strlen(label) + 1},
                        {party_u, party_u_size},
                        {party_v, party_v_size},
                };
                int r;

                put_be32(counter, i);
                r = hash_parts(hash_alg, parts, ELEMENTSOF(parts), block);
                if (r < 0)
                        return r;
                memcpy(out + done, block, MIN((size_t)r, want - done));
                done += MIN((size_t)r, want - done);
        }
        OPENSSL_cleanse(block, sizeof(block));
        return 0;
}

static const TPMT_SYM_DEF_OBJECT *ek_symmetric(const TPMT_PUBLIC *ek)
{
        switch (ek->type) {
        case TPM2_ALG_RSA:
                return &ek->parameters.rsaDetail.symmetric;
        case TPM2_ALG_ECC:
                return &ek->parameters.eccDetail.symmetric;
        default:
                return NULL;
        }
}

static int rsa_seed(EVP_PKEY *ekkey, uint16_t name_alg, const uint8_t *seed, size_t seed_size,
                    TPM2B_ENCRYPTED_SECRET *ret)
{
        _cleanup_(dw_pkey_ctx_freep) EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, ekkey, NULL);
        const char *md = dw_tpm_hash_ossl_name(name_alg);
        size_t outlen = sizeof(ret->secret);
        void *label;

        if (!ctx)
                return -ENOMEM;
        if (EVP_PKEY_encrypt_init(ctx) != 1 || EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_OAEP_PADDING) != 1 ||
            EVP_PKEY_CTX_set_rsa_oaep_md_name(ctx, md, NULL) != 1 ||
            EVP_PKEY_CTX_set_rsa_mgf1_md_name(ctx, md, NULL) != 1)
                return -EOPNOTSUPP;
        label = OPENSSL_memdup(LABEL_IDENTITY, sizeof(LABEL_IDENTITY)); /* with its NUL */
        if (!label)
                return -ENOMEM;
        if (EVP_PKEY_CTX_set0_rsa_oaep_label(ctx, label, sizeof(LABEL_IDENTITY)) != 1) {
                OPENSSL_free(label);
                return -EOPNOTSUPP;
        }
        if (EVP_PKEY_encrypt(ctx, ret->secret, &outlen, seed, seed_size) != 1)
                return -EINVAL; /* modulus too small for the seed, or larger than a TPM2B_ENCRYPTED_SECRET */
        ret->size = (UINT16)outlen;
        return 0;
}

static int ephemeral_for(EVP_PKEY *ekkey, EVP_PKEY *given, EVP_PKEY **ret)
{
        _cleanup_(dw_pkey_ctx_freep) EVP_PKEY_CTX *ctx = NULL;
        EVP_PKEY *key = NULL;

        if (given) {
                if (EVP_PKEY_get_base_id(given) != EVP_PKEY_EC || EVP_PKEY_parameters_eq(given, ekkey) != 1)
                        return -EINVAL;
                if (!EVP_PKEY_up_ref(given))
                        return -ENOMEM;
                *ret = given;
                return 0;
        }
        /* A fresh key on the EK's curve: key generation from the EK key's domain parameters. */
        ctx = EVP_PKEY_CTX_new_from_pkey(NULL, ekkey, NULL);
        if (!ctx)
                return -ENOMEM;
        if (EVP_PKEY_keygen_init(ctx) != 1 || EVP_PKEY_keygen(ctx, &key) != 1)
                return -EIO;
        *ret = key;
        return 0;
}

static int ecdh(EVP_PKEY *priv, EVP_PKEY *peer, uint8_t *z, size_t *z_size)
{
        _cleanup_(dw_pkey_ctx_freep) EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, priv, NULL);

        if (!ctx)
                return -ENOMEM;
        if (EVP_PKEY_derive_init(ctx) != 1 || EVP_PKEY_derive_set_peer(ctx, peer) != 1 ||
            EVP_PKEY_derive(ctx, z, z_size) != 1)
                return -EINVAL;
        return 0;
}

static int ec_coordinate(EVP_PKEY *key, const char *param, size_t size, TPM2B_ECC_PARAMETER *ret)
{
        BIGNUM *bn = NULL;
        int r = -EINVAL;

        if (size > sizeof(ret->buffer) || EVP_PKEY_get_bn_param(key, param, &bn) != 1)
                return -EINVAL;
        if (BN_bn2binpad(bn, ret->buffer, (int)size) == (int)size) {
                ret->size = (UINT16)size;
                r = 0;
        }
        BN_free(bn);
        return r;
}

static int ecc_seed(const TPMT_PUBLIC *ek, EVP_PKEY *ekkey, EVP_PKEY *given, uint8_t *seed, size_t seed_size,
                    TPM2B_ENCRYPTED_SECRET *ret)
{
        _cleanup_(dw_pkey_freep) EVP_PKEY *eph = NULL;
        uint8_t z[TPM2_MAX_ECC_KEY_BYTES];
        size_t z_size = sizeof(z), fs, offset = 0;
        TPMS_ECC_POINT q = {};
        int r;

        r = ephemeral_for(ekkey, given, &eph);
        if (r < 0)
                return r;
        fs = ((size_t)EVP_PKEY_get_bits(eph) + 7) / 8;
        r = ecdh(eph, ekkey, z, &z_size);
        if (r < 0)
                return r;
        r = ec_coordinate(eph, OSSL_PKEY_PARAM_EC_PUB_X, fs, &q.x);
        if (r >= 0)
                r = ec_coordinate(eph, OSSL_PKEY_PARAM_EC_PUB_Y, fs, &q.y);
        if (r >= 0)
                r = dw_tpm_kdfe(ek->nameAlg, z, z_size, LABEL_IDENTITY, q.x.buffer, q.x.size, ek->unique.ecc.x.buffer,
                                ek->unique.ecc.x.size, seed, seed_size * 8);
        OPENSSL_cleanse(z, sizeof(z));
        if (r < 0)
                return r;
        if (Tss2_MU_TPMS_ECC_POINT_Marshal(&q, ret->secret, sizeof(ret->secret), &offset) != TSS2_RC_SUCCESS)
                return -EINVAL;
        ret->size = (UINT16)offset;
        return 0;
}

int dw_tpm_credential_seed(const TPMT_PUBLIC *ek, EVP_PKEY *ephemeral, uint8_t *ret_seed, size_t *ret_seed_size,
                           TPM2B_ENCRYPTED_SECRET *ret_secret)
{
        _cleanup_(dw_pkey_freep) EVP_PKEY *ekkey = NULL;
        size_t seed_size = dw_tpm_hash_size(ek->nameAlg);
        uint8_t seed[DW_HASH_MAX_SIZE];
        TPM2B_ENCRYPTED_SECRET secret = {};
        int r;

        if (seed_size == 0)
                return -EOPNOTSUPP;
        r = dw_tpm_public_to_pkey(ek, &ekkey);
        if (r < 0)
                return r;
        if (ek->type == TPM2_ALG_RSA) {
                if (RAND_priv_bytes(seed, (int)seed_size) != 1)
                        return -EIO;
                r = rsa_seed(ekkey, ek->nameAlg, seed, seed_size, &secret);
        } else
                r = ecc_seed(ek, ekkey, ephemeral, seed, seed_size, &secret);
        if (r >= 0) {
                memcpy(ret_seed, seed, seed_size);
                *ret_seed_size = seed_size;
                *ret_secret = secret;
        }
        OPENSSL_cleanse(seed, sizeof(seed));
        return r < 0 ? r : 0;
}

static int aes_cfb_encrypt(unsigned key_bits, const uint8_t *key, const uint8_t *in, size_t size, uint8_t *out)
{
        _cleanup_(cipher_ctx_freep) EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
        _cleanup_(cipher_freep) EVP_CIPHER *cipher = NULL;
        static const uint8_t iv[16] = {};
        char name[16];
        int len = 0, fin = 0;

        if (!ctx)
                return -ENOMEM;
        snprintf(name, sizeof(name), "AES-%u-CFB", key_bits);
        cipher = EVP_CIPHER_fetch(NULL, name, NULL);
        if (!cipher)
                return -EOPNOTSUPP;
        if (EVP_EncryptInit_ex2(ctx, cipher, key, iv, NULL) != 1 ||
            EVP_EncryptUpdate(ctx, out, &len, in, (int)size) != 1 || EVP_EncryptFinal_ex(ctx, out + len, &fin) != 1)
                return -EIO;
        return len + fin == (int)size ? 0 : -EIO;
}

int dw_tpm_credential_wrap(const TPMT_PUBLIC *ek, const TPM2B_NAME *name, const TPM2B_DIGEST *credential,
                           const uint8_t *seed, size_t seed_size, TPM2B_ID_OBJECT *ret)
{
        const TPMT_SYM_DEF_OBJECT *sym = ek_symmetric(ek);
        size_t digest_size = dw_tpm_hash_size(ek->nameAlg), plain_size;
        uint8_t sym_key[32], hmac_key[DW_HASH_MAX_SIZE], plain[2 + sizeof(credential->buffer)];
        TPM2B_ID_OBJECT blob = {};
        uint8_t *enc;
        int r;

        if (!sym || digest_size == 0 || sym->algorithm != TPM2_ALG_AES || sym->mode.aes != TPM2_ALG_CFB ||
            (sym->keyBits.aes != 128 && sym->keyBits.aes != 192 && sym->keyBits.aes != 256))
                return -EOPNOTSUPP;
        if (credential->size > digest_size || name->size > sizeof(name->name))
                return -EINVAL;
        /* encIdentity: the marshalled TPM2B_DIGEST, AES-CFB encrypted; it follows the HMAC's TPM2B in the blob. */
        plain[0] = (uint8_t)(credential->size >> 8);
        plain[1] = (uint8_t)credential->size;
        memcpy(plain + 2, credential->buffer, credential->size);
        plain_size = 2 + credential->size;
        enc = blob.credential + 2 + digest_size;
        r = dw_tpm_kdfa(ek->nameAlg, seed, seed_size, LABEL_STORAGE, name->name, name->size, NULL, 0, sym_key,
                        sym->keyBits.aes);
        if (r >= 0)
                r = aes_cfb_encrypt(sym->keyBits.aes, sym_key, plain, plain_size, enc);
        if (r >= 0)
                r = dw_tpm_kdfa(ek->nameAlg, seed, seed_size, LABEL_INTEGRITY, NULL, 0, NULL, 0, hmac_key,
                                digest_size * 8);
        if (r >= 0) {
                struct part parts[] = {{enc, plain_size}, {name->name, name->size}};

                r = hmac_parts(ek->nameAlg, hmac_key, digest_size, parts, ELEMENTSOF(parts), blob.credential + 2);
        }
        OPENSSL_cleanse(sym_key, sizeof(sym_key));
        OPENSSL_cleanse(hmac_key, sizeof(hmac_key));
        OPENSSL_cleanse(plain, sizeof(plain));
        if (r < 0)
                return r;
        blob.credential[0] = (uint8_t)(digest_size >> 8);
        blob.credential[1] = (uint8_t)digest_size;
        blob.size = (UINT16)(2 + digest_size + plain_size);
        *ret = blob;
        return 0;
}

int dw_tpm_make_credential(const TPMT_PUBLIC *ek, const TPM2B_NAME *name, const TPM2B_DIGEST *credential,
                           TPM2B_ID_OBJECT *ret_blob, TPM2B_ENCRYPTED_SECRET *ret_secret)
{
        TPM2B_ENCRYPTED_SECRET secret;
        uint8_t seed[DW_HASH_MAX_SIZE];
        TPM2B_ID_OBJECT blob;
        size_t seed_size;
        int r;

        r = dw_tpm_credential_seed(ek, NULL, seed, &seed_size, &secret);
        if (r < 0)
                return r;
        r = dw_tpm_credential_wrap(ek, name, credential, seed, seed_size, &blob);
        OPENSSL_cleanse(seed, sizeof(seed));
        if (r < 0)
                return r;
        *ret_blob = blob;
        *ret_secret = secret;
        return 0;
}

int dw_tpm_credential_file_write(const TPM2B_ID_OBJECT *blob, const TPM2B_ENCRYPTED_SECRET *secret, uint8_t **ret_buf,
                                 size_t *ret_size)
{
        size_t size = CREDENTIAL_FILE_HEADER + sizeof(*blob) + sizeof(*secret), offset = CREDENTIAL_FILE_HEADER;
        _cleanup_free_ uint8_t *buf = malloc(size);

        if (!buf)
                return -ENOMEM;
        put_be32(buf, CREDENTIAL_FILE_MAGIC);
        put_be32(buf + 4, CREDENTIAL_FILE_VERSION);
        if (Tss2_MU_TPM2B_ID_OBJECT_Marshal(blob, buf, size, &offset) != TSS2_RC_SUCCESS ||
            Tss2_MU_TPM2B_ENCRYPTED_SECRET_Marshal(secret, buf, size, &offset) != TSS2_RC_SUCCESS)
                return -EINVAL;
        *ret_buf = TAKE_PTR(buf);
        *ret_size = offset;
        return 0;
}

int dw_tpm_credential_file_parse(const uint8_t *buf, size_t size, TPM2B_ID_OBJECT *ret_blob,
                                 TPM2B_ENCRYPTED_SECRET *ret_secret, struct dw_error *err)
{
        TPM2B_ENCRYPTED_SECRET secret = {};
        TPM2B_ID_OBJECT blob = {};
        size_t offset = CREDENTIAL_FILE_HEADER;

        if (size < CREDENTIAL_FILE_HEADER || be32(buf) != CREDENTIAL_FILE_MAGIC)
                return dw_error_set(err, EINVAL, 0, 0, "no tpm2-tools header (magic 0x%08x)", CREDENTIAL_FILE_MAGIC);
        if (be32(buf + 4) != CREDENTIAL_FILE_VERSION)
                return dw_error_set(err, EINVAL, 0, 4, "credential file version %u, not %u", be32(buf + 4),
                                    CREDENTIAL_FILE_VERSION);
        if (Tss2_MU_TPM2B_ID_OBJECT_Unmarshal(buf, size, &offset, &blob) != TSS2_RC_SUCCESS)
                return dw_error_set(err, EINVAL, 0, offset, "malformed TPM2B_ID_OBJECT");
        if (Tss2_MU_TPM2B_ENCRYPTED_SECRET_Unmarshal(buf, size, &offset, &secret) != TSS2_RC_SUCCESS)
                return dw_error_set(err, EINVAL, 0, offset, "malformed TPM2B_ENCRYPTED_SECRET");
        if (offset != size)
                return dw_error_set(err, EINVAL, 0, offset, "%zu trailing bytes", size - offset);
        *ret_blob = blob;
        *ret_secret = secret;
        return 0;
}
