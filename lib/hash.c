/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <string.h>
#include <strings.h>

/* The SHA-1/SHA-2 low-level contexts are deprecated in OpenSSL 3 but still shipped: they skip the provider dispatch
 * that EVP_DigestInit_ex2 pays on every call, which at IMA entry sizes (~100 bytes) is about 40% of the time
 * (docs/benchmarks.md). Every other algorithm goes through EVP. */
#define OPENSSL_SUPPRESS_DEPRECATED 1
#include <openssl/evp.h>
#include <openssl/sha.h>

#include "hash.h"
#include "macro.h"

struct dw_hash_alg_info {
        const char *name;
        const char *ossl_name;
        uint16_t tpm_id;
        size_t size;
};

static const struct dw_hash_alg_info hash_algs[_DW_HASH_ALG_MAX] = {
        [DW_HASH_SHA1] = {"sha1", "SHA1", DW_TPM_ALG_SHA1, 20},
        [DW_HASH_SHA256] = {"sha256", "SHA2-256", DW_TPM_ALG_SHA256, 32},
        [DW_HASH_SHA384] = {"sha384", "SHA2-384", DW_TPM_ALG_SHA384, 48},
        [DW_HASH_SHA512] = {"sha512", "SHA2-512", DW_TPM_ALG_SHA512, 64},
        [DW_HASH_SM3_256] = {"sm3_256", "SM3", DW_TPM_ALG_SM3_256, 32},
};

struct dw_hasher {
        EVP_MD *md[_DW_HASH_ALG_MAX];
        EVP_MD_CTX *ctx;
        enum dw_hash_alg current;
        union {
                SHA_CTX sha1;
                SHA256_CTX sha256;
                SHA512_CTX sha512; /* also SHA-384 */
        } ll;
};

const char *dw_hash_alg_name(enum dw_hash_alg alg)
{
        if (alg < 0 || alg >= _DW_HASH_ALG_MAX)
                return NULL;
        return hash_algs[alg].name;
}

size_t dw_hash_alg_size(enum dw_hash_alg alg)
{
        if (alg < 0 || alg >= _DW_HASH_ALG_MAX)
                return 0;
        return hash_algs[alg].size;
}

uint16_t dw_hash_alg_tpm_id(enum dw_hash_alg alg)
{
        if (alg < 0 || alg >= _DW_HASH_ALG_MAX)
                return 0;
        return hash_algs[alg].tpm_id;
}

int dw_hash_alg_from_name(const char *name, size_t len, enum dw_hash_alg *ret)
{
        if (!name)
                return -EINVAL;
        FOREACH_HASH_ALG (a) {
                if (strlen(hash_algs[a].name) == len && strncasecmp(hash_algs[a].name, name, len) == 0) {
                        *ret = a;
                        return 0;
                }
        }
        if (len == 3 && strncasecmp(name, "sm3", 3) == 0) {
                *ret = DW_HASH_SM3_256;
                return 0;
        }
        return -EOPNOTSUPP;
}

int dw_hash_alg_from_tpm_id(uint16_t id, enum dw_hash_alg *ret)
{
        FOREACH_HASH_ALG (a) {
                if (hash_algs[a].tpm_id == id) {
                        *ret = a;
                        return 0;
                }
        }
        return -EOPNOTSUPP;
}

int dw_hasher_new(struct dw_hasher **ret)
{
        struct dw_hasher *h = calloc(1, sizeof(*h));

        if (!h)
                return -ENOMEM;
        h->ctx = EVP_MD_CTX_new();
        if (!h->ctx) {
                free(h);
                return -ENOMEM;
        }
        /* Fetch once; a missing algorithm (SM3 on some builds) stays NULL and is reported per use. */
        FOREACH_HASH_ALG (a)
                h->md[a] = EVP_MD_fetch(NULL, hash_algs[a].ossl_name, NULL);
        h->current = _DW_HASH_ALG_INVALID;
        *ret = h;
        return 0;
}

void dw_hasher_free(struct dw_hasher *h)
{
        if (!h)
                return;
        FOREACH_HASH_ALG (a)
                EVP_MD_free(h->md[a]);
        EVP_MD_CTX_free(h->ctx);
        free(h);
}

bool dw_hasher_has(struct dw_hasher *h, enum dw_hash_alg alg)
{
        return alg >= 0 && alg < _DW_HASH_ALG_MAX && h->md[alg];
}

int dw_hasher_init(struct dw_hasher *h, enum dw_hash_alg alg)
{
        int ok;

        if (!dw_hasher_has(h, alg))
                return -EOPNOTSUPP;
        switch (alg) {
        case DW_HASH_SHA1:
                ok = SHA1_Init(&h->ll.sha1);
                break;
        case DW_HASH_SHA256:
                ok = SHA256_Init(&h->ll.sha256);
                break;
        case DW_HASH_SHA384:
                ok = SHA384_Init(&h->ll.sha512);
                break;
        case DW_HASH_SHA512:
                ok = SHA512_Init(&h->ll.sha512);
                break;
        default:
                ok = EVP_DigestInit_ex2(h->ctx, h->md[alg], NULL);
        }
        if (ok != 1)
                return -EIO;
        h->current = alg;
        return 0;
}

int dw_hasher_update(struct dw_hasher *h, const void *data, size_t len)
{
        int ok;

        if (len == 0)
                return 0;
        switch (h->current) {
        case DW_HASH_SHA1:
                ok = SHA1_Update(&h->ll.sha1, data, len);
                break;
        case DW_HASH_SHA256:
                ok = SHA256_Update(&h->ll.sha256, data, len);
                break;
        case DW_HASH_SHA384:
                ok = SHA384_Update(&h->ll.sha512, data, len);
                break;
        case DW_HASH_SHA512:
                ok = SHA512_Update(&h->ll.sha512, data, len);
                break;
        case _DW_HASH_ALG_INVALID:
                return -EINVAL;
        default:
                ok = EVP_DigestUpdate(h->ctx, data, len);
        }
        return ok == 1 ? 0 : -EIO;
}

int dw_hasher_final(struct dw_hasher *h, uint8_t *out)
{
        unsigned int n = 0;
        int ok;

        switch (h->current) {
        case DW_HASH_SHA1:
                ok = SHA1_Final(out, &h->ll.sha1);
                break;
        case DW_HASH_SHA256:
                ok = SHA256_Final(out, &h->ll.sha256);
                break;
        case DW_HASH_SHA384:
                ok = SHA384_Final(out, &h->ll.sha512);
                break;
        case DW_HASH_SHA512:
                ok = SHA512_Final(out, &h->ll.sha512);
                break;
        case _DW_HASH_ALG_INVALID:
                return -EINVAL;
        default:
                ok = EVP_DigestFinal_ex(h->ctx, out, &n) == 1 && n == dw_hash_alg_size(h->current);
        }
        h->current = _DW_HASH_ALG_INVALID;
        return ok == 1 ? 0 : -EIO;
}

int dw_hash_buf(struct dw_hasher *h, enum dw_hash_alg alg, const void *data, size_t len, uint8_t *out)
{
        int r;

        r = dw_hasher_init(h, alg);
        if (r < 0)
                return r;
        r = dw_hasher_update(h, data, len);
        if (r < 0)
                return r;
        return dw_hasher_final(h, out);
}

int dw_pcr_extend(struct dw_hasher *h, enum dw_hash_alg alg, uint8_t *pcr, const uint8_t *digest)
{
        uint8_t buf[2 * DW_HASH_MAX_SIZE];
        size_t n = dw_hash_alg_size(alg);

        if (n == 0)
                return -EINVAL;
        memcpy(buf, pcr, n);
        memcpy(buf + n, digest, n);
        return dw_hash_buf(h, alg, buf, 2 * n, pcr);
}

int dw_hash_oneshot(enum dw_hash_alg alg, const void *data, size_t len, uint8_t *out)
{
        size_t n = 0;

        switch (alg) {
        case DW_HASH_SHA1: {
                SHA_CTX c;

                if (SHA1_Init(&c) != 1 || SHA1_Update(&c, data, len) != 1 || SHA1_Final(out, &c) != 1)
                        return -EIO;
                break;
        }
        case DW_HASH_SHA256: {
                SHA256_CTX c;

                if (SHA256_Init(&c) != 1 || SHA256_Update(&c, data, len) != 1 || SHA256_Final(out, &c) != 1)
                        return -EIO;
                break;
        }
        case DW_HASH_SHA384: {
                SHA512_CTX c;

                if (SHA384_Init(&c) != 1 || SHA384_Update(&c, data, len) != 1 || SHA384_Final(out, &c) != 1)
                        return -EIO;
                break;
        }
        case DW_HASH_SHA512: {
                SHA512_CTX c;

                if (SHA512_Init(&c) != 1 || SHA512_Update(&c, data, len) != 1 || SHA512_Final(out, &c) != 1)
                        return -EIO;
                break;
        }
        case DW_HASH_SM3_256:
                if (!EVP_Q_digest(NULL, hash_algs[alg].ossl_name, NULL, data, len, out, &n))
                        return -EOPNOTSUPP;
                break;
        default:
                return -EINVAL;
        }
        return (int)dw_hash_alg_size(alg);
}
