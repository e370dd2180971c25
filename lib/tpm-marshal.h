/* SPDX-License-Identifier: MIT */
#pragma once

/* TPM 2.0 structures as the verifier meets them: public areas and their Names, public keys as OpenSSL keys, PCR
 * selections and values, and the tpm2-tools PCR file ("tpm2_quote -o FILE"). Pure: parses and builds memory
 * buffers, no TPM and no I/O. TPM structures are unmarshalled with libtss2-mu (big-endian TPM wire format). */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>
#include <openssl/x509.h>
#include <tss2/tss2_tpm2_types.h>

#include "dw-error.h"
#include "hash.h"
#include "macro.h"

/* Scoped cleanup of the OpenSSL objects the TPM modules use. */
static inline void dw_pkey_freep(EVP_PKEY **p)
{
        EVP_PKEY_free(*p);
}
static inline void dw_pkey_ctx_freep(EVP_PKEY_CTX **p)
{
        EVP_PKEY_CTX_free(*p);
}
static inline void dw_md_ctx_freep(EVP_MD_CTX **p)
{
        EVP_MD_CTX_free(*p);
}
static inline void dw_x509_freep(X509 **p)
{
        X509_free(*p);
}

/* OpenSSL's name of a TPM hash algorithm ("SHA256", ...), NULL for one we do not know. */
const char *dw_tpm_hash_ossl_name(uint16_t tpm_alg);
/* Digest size of a TPM hash algorithm, 0 for one we do not know. */
size_t dw_tpm_hash_size(uint16_t tpm_alg);
/* out = H(data) with a TPM hash algorithm; returns the digest size. */
int dw_tpm_hash(uint16_t tpm_alg, const void *data, size_t size, uint8_t *out);

/* A marshalled TPM2B_PUBLIC, as tpm2-tools writes public areas (tpm2_createak -u, tpm2_createek -u,
 * tpm2_readpublic -o) and ESAPI returns them. The whole buffer must be the structure. */
int dw_tpm_public_parse(const uint8_t *buf, size_t size, TPMT_PUBLIC *ret, struct dw_error *err);
/* The Name of an object: nameAlg (big-endian u16) || H_nameAlg(marshalled TPMT_PUBLIC). */
int dw_tpm_public_name(const TPMT_PUBLIC *pub, TPM2B_NAME *ret);
/* The Name of an NV index: nameAlg || H_nameAlg(marshalled TPMS_NV_PUBLIC). */
int dw_tpm_nv_public_name(const TPMS_NV_PUBLIC *pub, TPM2B_NAME *ret);

/* The public key of an RSA or ECC (NIST P-192/224/256/384/521) public area as an OpenSSL key. -EOPNOTSUPP for
 * other types and curves, -EINVAL for a malformed key. */
int dw_tpm_public_to_pkey(const TPMT_PUBLIC *pub, EVP_PKEY **ret);
/* True when the public area carries exactly the key of pkey. */
bool dw_tpm_public_matches_pkey(const TPMT_PUBLIC *pub, EVP_PKEY *pkey);
/* A storage (EK-like) public area for a key known only as an OpenSSL key (from an EK certificate): the key, and
 * the nameAlg and symmetric definition of the TCG EK Credential Profile templates (RSA 2048 and NIST P-256:
 * SHA-256 and AES-128-CFB; RSA 3072/4096 and P-384: SHA-384 and AES-256-CFB; P-521: SHA-512 and AES-256-CFB).
 * Enough for MakeCredential; authPolicy is left empty, so it is not meant to compute the EK's Name. When the
 * TPM's own TPM2B_PUBLIC of the EK is at hand, prefer it. */
int dw_tpm_public_from_ek_pkey(EVP_PKEY *pkey, TPMT_PUBLIC *ret);

/* A public key in any form the CLI accepts: PEM or DER SubjectPublicKeyInfo, a PEM or DER X.509 certificate, or a
 * marshalled TPM2B_PUBLIC. ret_public (optional) gets the TPM public area when the input was one; *ret_has_public
 * (optional) says so. Returns -EINVAL (with err) for anything else. */
int dw_tpm_key_load(const uint8_t *buf, size_t size, EVP_PKEY **ret_pkey, TPMT_PUBLIC *ret_public, bool *ret_has_public,
                    struct dw_error *err);

/* PCR values in selection order: bank by bank as the selection lists them, PCRs ascending within a bank. This is
 * the order of a quote's pcrDigest and of TPM2_PCR_Read's output. */
#define DW_TPM_PCRS_MAX (TPM2_NUM_PCR_BANKS * TPM2_MAX_PCRS)

struct dw_tpm_pcr_value {
        uint16_t hash_alg; /* TPM_ALG_ID of the bank */
        uint8_t pcr;
        uint8_t size;
        uint8_t digest[DW_HASH_MAX_SIZE];
};

struct dw_tpm_pcrs {
        TPML_PCR_SELECTION selection;
        size_t n_values;
        struct dw_tpm_pcr_value values[DW_TPM_PCRS_MAX];
};

/* Number of PCRs a selection selects (bits beyond sizeofSelect ignored); -EINVAL for a malformed selection
 * (count > TPM2_NUM_PCR_BANKS or sizeofSelect > TPM2_PCR_SELECT_MAX). */
int dw_tpm_pcr_selection_count(const TPML_PCR_SELECTION *sel);
/* Same banks in the same order with the same PCRs (trailing zero select bytes do not matter). */
bool dw_tpm_pcr_selection_equal(const TPML_PCR_SELECTION *a, const TPML_PCR_SELECTION *b);
/* "sha256:0,1,16+sha1:16", as tpm2-tools spells selections; truncated to size. Returns buf. */
char *dw_tpm_pcr_selection_format(const TPML_PCR_SELECTION *sel, char *buf, size_t size);

/* Builds the values of a selection from the digest lists TPM2_PCR_Read returned (one TPML_DIGEST per call, in
 * call order, each continuing where the previous stopped). Every selected PCR needs exactly one digest of its
 * bank's size: -EINVAL (with err) otherwise. */
int dw_tpm_pcrs_from_digests(const TPML_PCR_SELECTION *sel, const TPML_DIGEST *digests, size_t n_digests,
                             struct dw_tpm_pcrs *ret, struct dw_error *err);
/* H_alg(value 0 || value 1 || ...): what a quote's pcrDigest must be for these values. Returns the size. */
int dw_tpm_pcrs_digest(const struct dw_tpm_pcrs *pcrs, uint16_t hash_alg, uint8_t *out);

/* The PCR file of "tpm2_quote -o FILE" (tpm2-tools' default "serialized" format, read by tpm2_checkquote -f). It is
 * the tools' in-memory C structures written raw, little-endian on x86:
 *
 *   TPML_PCR_SELECTION  132 bytes: u32 count, then 16 TPMS_PCR_SELECTION of 8 bytes each
 *                       (u16 hash, u8 sizeofSelect, u8 pcrSelect[4], 1 padding byte); unused entries zero
 *   u32 n               number of TPML_DIGEST that follow (at most TPM2_MAX_PCRS)
 *   TPML_DIGEST[n]      532 bytes each: u32 count (at most 8), then 8 TPM2B_DIGEST of 66 bytes each
 *                       (u16 size, u8 buffer[64]); unused bytes zero
 *
 * The digests, taken in order across the lists, are the values of the selected PCRs in selection order.
 * _parse checks all of it (sizes, counts, one digest of the bank's size per selected PCR, nothing left over) and
 * returns -EINVAL with err naming the offset. _write produces the same layout (8 digests per list, as
 * TPM2_PCR_Read returns them) in a malloc'd buffer; -EINVAL when the values are not those of the selection, in
 * its order, each of its bank's size (as dw_tpm_pcrs_from_digests and _parse make them). */
int dw_tpm_pcrs_file_parse(const uint8_t *buf, size_t size, struct dw_tpm_pcrs *ret, struct dw_error *err);
int dw_tpm_pcrs_file_write(const struct dw_tpm_pcrs *pcrs, uint8_t **ret_buf, size_t *ret_size);
