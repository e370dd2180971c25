/* SPDX-License-Identifier: MIT */
#pragma once

/* The hash algorithms of TPM PCR banks and IMA, and a reusable hashing context over OpenSSL 3. */

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum dw_hash_alg {
        DW_HASH_SHA1,
        DW_HASH_SHA256,
        DW_HASH_SHA384,
        DW_HASH_SHA512,
        DW_HASH_SM3_256,
        _DW_HASH_ALG_MAX,
        _DW_HASH_ALG_INVALID = -EINVAL,
};

#define DW_HASH_MAX_SIZE 64

/* TPM_ALG_ID values (TPM 2.0 Part 2, table 9). */
#define DW_TPM_ALG_SHA1    0x0004
#define DW_TPM_ALG_SHA256  0x000B
#define DW_TPM_ALG_SHA384  0x000C
#define DW_TPM_ALG_SHA512  0x000D
#define DW_TPM_ALG_SM3_256 0x0012

#define FOREACH_HASH_ALG(a) for (enum dw_hash_alg a = 0; a < _DW_HASH_ALG_MAX; a++)

/* "sha1", "sha256", ... as the kernel, TPM tools and our JSON name them. */
const char *dw_hash_alg_name(enum dw_hash_alg alg);
size_t dw_hash_alg_size(enum dw_hash_alg alg);
uint16_t dw_hash_alg_tpm_id(enum dw_hash_alg alg);
/* Case-insensitive; also accepts "sm3" (the kernel's name for SM3-256). */
int dw_hash_alg_from_name(const char *name, size_t len, enum dw_hash_alg *ret);
int dw_hash_alg_from_tpm_id(uint16_t id, enum dw_hash_alg *ret);

/* A hashing context that keeps fetched OpenSSL digests and one EVP_MD_CTX around, so that hashing millions of
 * small inputs does not pay for a provider lookup each time. Not thread-safe: one per thread. */
struct dw_hasher;

int dw_hasher_new(struct dw_hasher **ret);
void dw_hasher_free(struct dw_hasher *h);
static inline void dw_hasher_freep(struct dw_hasher **h)
{
        if (*h)
                dw_hasher_free(*h);
}

/* True when OpenSSL here provides the algorithm (SM3 may be missing). */
bool dw_hasher_has(struct dw_hasher *h, enum dw_hash_alg alg);

int dw_hasher_init(struct dw_hasher *h, enum dw_hash_alg alg);
int dw_hasher_update(struct dw_hasher *h, const void *data, size_t len);
/* Writes dw_hash_alg_size(alg) bytes. */
int dw_hasher_final(struct dw_hasher *h, uint8_t *out);

/* One-shot: out = H(data). */
int dw_hash_buf(struct dw_hasher *h, enum dw_hash_alg alg, const void *data, size_t len, uint8_t *out);

/* One-shot without a context: out = H(data). SHA-1/SHA-2 go straight to OpenSSL's low-level functions (no provider
 * lookup), others through EVP. Returns the digest size or a negative errno. */
int dw_hash_oneshot(enum dw_hash_alg alg, const void *data, size_t len, uint8_t *out);

/* PCR extend: pcr = H(pcr || digest); both are dw_hash_alg_size(alg) bytes. */
int dw_pcr_extend(struct dw_hasher *h, enum dw_hash_alg alg, uint8_t *pcr, const uint8_t *digest);
