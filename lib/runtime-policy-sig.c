/* SPDX-License-Identifier: MIT */
/* IMA signatures (the security.ima xattr as the ima-sig template logs it) checked against a policy's keys, the way
 * the kernel's digsig_asymmetric.c does: RSA PKCS#1 v1.5 or ECDSA (X9.62 DER) over the file digest (version 2), or
 * over the hash of struct ima_file_id (version 3). */

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "runtime-policy-internal.h"

#define SIG_HDR_SIZE 9 /* type, version, hash_algo, keyid[4], sig_size[2] */

DEFINE_TRIVIAL_CLEANUP_FUNC(EVP_PKEY_CTX *, EVP_PKEY_CTX_free);
DEFINE_TRIVIAL_CLEANUP_FUNC(EVP_PKEY *, EVP_PKEY_free);
DEFINE_TRIVIAL_CLEANUP_FUNC(X509 *, X509_free);
DEFINE_TRIVIAL_CLEANUP_FUNC(X509_PUBKEY *, X509_PUBKEY_free);
DEFINE_TRIVIAL_CLEANUP_FUNC(BIO *, BIO_free);

/* The kernel's enum hash_algo (include/uapi/linux/hash_info.h) for the algorithms we have. */
static const struct {
        uint8_t kernel_id;
        enum dw_hash_alg alg;
} kernel_hash_algos[] = {
        {2, DW_HASH_SHA1},     /* HASH_ALGO_SHA1 */
        {4, DW_HASH_SHA256},   /* HASH_ALGO_SHA256 */
        {5, DW_HASH_SHA384},   /* HASH_ALGO_SHA384 */
        {6, DW_HASH_SHA512},   /* HASH_ALGO_SHA512 */
        {17, DW_HASH_SM3_256}, /* HASH_ALGO_SM3_256 */
};

#define KERNEL_HASH_ALGO_LAST 23 /* HASH_ALGO__LAST, with SHA-3 */

static uint32_t get_be32(const uint8_t *p)
{
        return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

static enum dw_hash_alg alg_from_kernel_id(uint8_t id)
{
        for (size_t i = 0; i < ELEMENTSOF(kernel_hash_algos); i++)
                if (kernel_hash_algos[i].kernel_id == id)
                        return kernel_hash_algos[i].alg;
        return _DW_HASH_ALG_INVALID;
}

static int sig_parse(const uint8_t *data, size_t len, struct dw_ima_sig *ret, char *why, size_t why_size)
{
        struct dw_ima_sig s = {};
        size_t sig_size;

        if (!data || len < SIG_HDR_SIZE) {
                snprintf(why, why_size, "signature of %zu bytes is shorter than its %d-byte header", len, SIG_HDR_SIZE);
                return -EBADMSG;
        }
        s.type = data[0];
        s.version = data[1];
        s.kernel_hash_algo = data[2];
        s.keyid = get_be32(data + 3);
        sig_size = (size_t)data[7] << 8 | data[8];
        if (s.type != DW_IMA_XATTR_DIGSIG && s.type != DW_IMA_XATTR_VERITY_DIGSIG) {
                snprintf(why, why_size, "signature type 0x%02x is not an IMA signature (0x03 or 0x06)", s.type);
                return -EBADMSG;
        }
        if (!(s.version == 3 || (s.version == 2 && s.type == DW_IMA_XATTR_DIGSIG))) {
                snprintf(why, why_size, "signature version %u of type 0x%02x is not one the kernel verifies", s.version,
                         s.type);
                return -EBADMSG;
        }
        if (s.kernel_hash_algo >= KERNEL_HASH_ALGO_LAST) {
                snprintf(why, why_size, "signature hash algorithm %u is not one of the kernel's", s.kernel_hash_algo);
                return -EBADMSG;
        }
        if (sig_size == 0 || sig_size != len - SIG_HDR_SIZE) {
                snprintf(why, why_size, "signature size field says %zu bytes, %zu follow the header", sig_size,
                         len - SIG_HDR_SIZE);
                return -EBADMSG;
        }
        s.alg = alg_from_kernel_id(s.kernel_hash_algo);
        s.sig = data + SIG_HDR_SIZE;
        s.sig_len = sig_size;
        *ret = s;
        return 0;
}

int dw_ima_sig_parse(const uint8_t *data, size_t len, struct dw_ima_sig *ret)
{
        char why[128];

        if (!ret)
                return -EINVAL;
        return sig_parse(data, len, ret, why, sizeof(why));
}

/* ---- keys ---- */

static void openssl_why(const char *what, char *why, size_t why_size)
{
        unsigned long e = ERR_peek_last_error();

        if (e)
                snprintf(why, why_size, "%s: %s", what, ERR_reason_error_string(e) ?: "unknown OpenSSL error");
        else
                snprintf(why, why_size, "%s", what);
        ERR_clear_error();
}

/* The last 4 bytes of the SHA-1 of the subjectPublicKey BIT STRING's contents (for RSA the DER RSAPublicKey, for EC
 * the point), as ima-evm-utils' calc_keyid_v2() and RFC 5280's first subject key identifier method compute it. */
static int keyid_from_pubkey(EVP_PKEY *pkey, uint32_t *ret)
{
        _cleanup_(X509_PUBKEY_freep) X509_PUBKEY *xpk = NULL;
        const unsigned char *bits;
        unsigned char sha1[20];
        unsigned sha1_len = 0;
        int bits_len;

        if (X509_PUBKEY_set(&xpk, pkey) != 1 || X509_PUBKEY_get0_param(NULL, &bits, &bits_len, NULL, xpk) != 1)
                return -EBADMSG;
        if (EVP_Digest(bits, (size_t)bits_len, sha1, &sha1_len, EVP_sha1(), NULL) != 1 || sha1_len != 20)
                return -ENOMEM;
        *ret = get_be32(sha1 + 16);
        return 0;
}

/* The kernel looks a key up by the tail of its certificate's subject key identifier. */
static int keyid_from_cert(X509 *cert, uint32_t *ret)
{
        const ASN1_OCTET_STRING *skid = X509_get0_subject_key_id(cert);
        int len;

        if (!skid)
                return -ENOENT;
        len = ASN1_STRING_length(skid);
        if (len < 4)
                return -ENOENT;
        *ret = get_be32(ASN1_STRING_get0_data(skid) + len - 4);
        return 0;
}

static bool has_label(const char *pem, size_t len, const char *label)
{
        const char *begin = memmem(pem, len, "-----BEGIN ", 11);
        size_t n = strlen(label);

        return begin && (size_t)(pem + len - begin) >= 11 + n + 5 && memcmp(begin + 11, label, n) == 0 &&
               memcmp(begin + 11 + n, "-----", 5) == 0;
}

int dw_policy_key_import(const char *pem, size_t len, EVP_PKEY **ret_pkey, uint32_t *ret_keyid, char *why,
                         size_t why_size)
{
        _cleanup_(EVP_PKEY_freep) EVP_PKEY *pkey = NULL;
        _cleanup_(X509_freep) X509 *cert = NULL;
        _cleanup_(BIO_freep) BIO *bio = NULL;
        uint32_t keyid;
        int base, r;

        if (len > INT32_MAX) {
                snprintf(why, why_size, "PEM of %zu bytes is too large", len);
                return -EBADMSG;
        }
        bio = BIO_new_mem_buf(pem, (int)len);
        if (!bio)
                return -ENOMEM;
        if (has_label(pem, len, "PUBLIC KEY")) {
                pkey = PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL);
                if (!pkey) {
                        openssl_why("bad PEM public key", why, why_size);
                        return -EBADMSG;
                }
        } else if (has_label(pem, len, "CERTIFICATE")) {
                cert = PEM_read_bio_X509(bio, NULL, NULL, NULL);
                if (!cert) {
                        openssl_why("bad PEM certificate", why, why_size);
                        return -EBADMSG;
                }
                pkey = X509_get_pubkey(cert);
                if (!pkey) {
                        openssl_why("certificate has no usable public key", why, why_size);
                        return -EBADMSG;
                }
        } else {
                snprintf(why, why_size, "expected a PEM \"PUBLIC KEY\" or \"CERTIFICATE\" (-----BEGIN ...)");
                return -EBADMSG;
        }

        base = EVP_PKEY_get_base_id(pkey);
        if (base != EVP_PKEY_RSA && base != EVP_PKEY_EC) {
                snprintf(why, why_size, "unsupported key type %s: IMA signatures here are RSA or ECDSA",
                         EVP_PKEY_get0_type_name(pkey) ?: "?");
                return -EBADMSG;
        }
        r = cert ? keyid_from_cert(cert, &keyid) : -ENOENT;
        if (r < 0)
                r = keyid_from_pubkey(pkey, &keyid);
        if (r < 0) {
                openssl_why("cannot compute the key id", why, why_size);
                return r;
        }
        *ret_pkey = TAKE_PTR(pkey);
        *ret_keyid = keyid;
        return 0;
}

/* ---- verification ---- */

static const struct dw_policy_key *key_find(const struct dw_runtime_policy *p, uint32_t keyid)
{
        for (size_t i = 0; i < p->n_keys; i++)
                if (p->keys[i].keyid == keyid)
                        return &p->keys[i];
        return NULL;
}

/* 1 when sig is key's signature over tbs (a digest made with md), 0 when not, -ENOMEM. */
static int verify_digest(EVP_PKEY *key, const EVP_MD *md, const uint8_t *tbs, size_t tbs_len, const uint8_t *sig,
                         size_t sig_len)
{
        _cleanup_(EVP_PKEY_CTX_freep) EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, key, NULL);
        int r;

        if (!ctx)
                return -ENOMEM;
        if (EVP_PKEY_verify_init(ctx) <= 0) {
                ERR_clear_error();
                return -ENOMEM;
        }
        if (EVP_PKEY_get_base_id(key) == EVP_PKEY_RSA && EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING) <= 0) {
                ERR_clear_error();
                return 0;
        }
        if (EVP_PKEY_CTX_set_signature_md(ctx, md) <= 0) {
                ERR_clear_error();
                return 0;
        }
        r = EVP_PKEY_verify(ctx, sig, sig_len, tbs, tbs_len);
        ERR_clear_error();
        return r == 1;
}

/* Version 3 signs hash(struct ima_file_id): the xattr type, the kernel's hash algorithm id, the digest. */
static int file_id_hash(const EVP_MD *md, const struct dw_ima_sig *s, const uint8_t *digest, size_t digest_len,
                        uint8_t *out, size_t *ret_len)
{
        uint8_t file_id[2 + DW_HASH_MAX_SIZE];
        unsigned len = 0;

        file_id[0] = s->type;
        file_id[1] = s->kernel_hash_algo;
        memcpy(file_id + 2, digest, digest_len);
        if (EVP_Digest(file_id, 2 + digest_len, out, &len, md, NULL) != 1) {
                ERR_clear_error();
                return -ENOMEM;
        }
        *ret_len = len;
        return 0;
}

/* Whether the signature can apply to this digest at all: same algorithm, and a verity signature for a verity
 * digest only. */
static int sig_matches_digest(const struct dw_ima_sig *s, const struct dw_policy_file *f, char *why, size_t why_size)
{
        if (s->alg < 0) {
                snprintf(why, why_size, "signature hash algorithm %u (kernel id) is not supported",
                         s->kernel_hash_algo);
                return -EOPNOTSUPP;
        }
        if (s->alg != f->alg) {
                snprintf(why, why_size, "signature is over a %s digest, the file digest is %s",
                         dw_hash_alg_name(s->alg), dw_hash_alg_name(f->alg) ?: "of another algorithm");
                return -EBADMSG;
        }
        if ((s->type == DW_IMA_XATTR_VERITY_DIGSIG) != f->verity) {
                snprintf(why, why_size, "%s signature for %s digest",
                         s->type == DW_IMA_XATTR_VERITY_DIGSIG ? "an fs-verity" : "a file-hash",
                         f->verity ? "an fs-verity" : "a file-hash");
                return -EBADMSG;
        }
        return 0;
}

int dw_policy_sig_check(const struct dw_runtime_policy *p, const struct dw_policy_file *f, struct dw_policy_verdict *v)
{
        uint8_t tbs[DW_HASH_MAX_SIZE];
        const struct dw_policy_key *key;
        struct dw_ima_sig s;
        const EVP_MD *md;
        size_t tbs_len = f->digest_len;
        int r;

        if (sig_parse(f->sig, f->sig_len, &s, v->detail, sizeof(v->detail)) < 0)
                return DW_SIG_BAD;
        v->signed_by_key = true;
        v->keyid = s.keyid;
        if (sig_matches_digest(&s, f, v->detail, sizeof(v->detail)) < 0)
                return DW_SIG_BAD;
        key = key_find(p, s.keyid);
        if (!key) {
                snprintf(v->detail, sizeof(v->detail), "signed by key %08x, which the policy does not have", s.keyid);
                return DW_SIG_UNKNOWN_KEY;
        }
        md = p->md[s.alg];
        if (!md) {
                snprintf(v->detail, sizeof(v->detail), "%s is not available in this OpenSSL", dw_hash_alg_name(s.alg));
                return DW_SIG_BAD;
        }
        if (s.version == 3) {
                r = file_id_hash(md, &s, f->digest, f->digest_len, tbs, &tbs_len);
                if (r < 0)
                        return r;
        } else
                memcpy(tbs, f->digest, f->digest_len);

        r = verify_digest(key->pkey, md, tbs, tbs_len, s.sig, s.sig_len);
        if (r < 0)
                return r;
        if (r == 0) {
                snprintf(v->detail, sizeof(v->detail), "signature by key %08x does not verify", s.keyid);
                return DW_SIG_BAD;
        }
        snprintf(v->detail, sizeof(v->detail), "signed by key %08x", s.keyid);
        return DW_SIG_GOOD;
}
