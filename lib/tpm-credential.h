/* SPDX-License-Identifier: MIT */
#pragma once

/* TPM2_MakeCredential in software (TPM 2.0 Part 1 "Credential Protection", Part 3 TPM2_MakeCredential): wraps a
 * short secret (the credential) so that only the TPM holding the EK's private key, and only for an object with the
 * given Name (the AK), releases it with TPM2_ActivateCredential. This is how a verifier learns that an AK lives in
 * the same TPM as an EK whose certificate it trusts.
 *
 *   seed          RSA EK: random, nameAlg-digest-sized, encrypted with RSA-OAEP(hash = nameAlg, label "IDENTITY\0")
 *                 ECC EK: KDFe(nameAlg, Z, "IDENTITY", ephemeral.x, EK.x) with Z = ECDH(ephemeral, EK); the secret
 *                 is the marshalled ephemeral point
 *   symKey        KDFa(nameAlg, seed, "STORAGE", name, "", EK's symmetric key bits), AES-CFB with a zero IV
 *   encIdentity   AES-CFB(symKey, marshalled TPM2B_DIGEST credential)
 *   HMACkey       KDFa(nameAlg, seed, "INTEGRITY", "", "", digest bits)
 *   outerHMAC     HMAC_nameAlg(HMACkey, encIdentity || name)
 *   credentialBlob (TPM2B_ID_OBJECT) = marshalled TPM2B_DIGEST outerHMAC || encIdentity
 *
 * Pure (OpenSSL only). The EK is a TPMT_PUBLIC: from the TPM (tpm2_createek -u), or built from an EK certificate's
 * key with dw_tpm_public_from_ek_pkey. */

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>
#include <tss2/tss2_tpm2_types.h>

#include "dw-error.h"

/* KDFa (Part 1, "Key Derivation Function"): counter-mode HMAC_hash over [i]32 || label || 0x00 || context_u ||
 * context_v || [bits]32, truncated to bits (a multiple of 8). */
int dw_tpm_kdfa(uint16_t hash_alg, const uint8_t *key, size_t key_size, const char *label, const uint8_t *context_u,
                size_t context_u_size, const uint8_t *context_v, size_t context_v_size, uint8_t *out, size_t bits);
/* KDFe (Part 1, ECDH "KDFe"): H([i]32 || Z || label || 0x00 || party_u || party_v), counter from 1, truncated to
 * bits (a multiple of 8). */
int dw_tpm_kdfe(uint16_t hash_alg, const uint8_t *z, size_t z_size, const char *label, const uint8_t *party_u,
                size_t party_u_size, const uint8_t *party_v, size_t party_v_size, uint8_t *out, size_t bits);

/* The seed and the encrypted secret for an EK. RSA: a random seed, OAEP-encrypted. ECC: ephemeral (an EC key on
 * the EK's curve with its private part) or, when NULL, a fresh one. ret_seed gets nameAlg's digest size bytes
 * (DW_HASH_MAX_SIZE is enough), *ret_seed_size its size. */
int dw_tpm_credential_seed(const TPMT_PUBLIC *ek, EVP_PKEY *ephemeral, uint8_t *ret_seed, size_t *ret_seed_size,
                           TPM2B_ENCRYPTED_SECRET *ret_secret);

/* The credential blob for a given seed: deterministic, for tests with known vectors. credential must not be larger
 * than the EK nameAlg's digest (-EINVAL); name is the Name of the object it is bound to (the AK). */
int dw_tpm_credential_wrap(const TPMT_PUBLIC *ek, const TPM2B_NAME *name, const TPM2B_DIGEST *credential,
                           const uint8_t *seed, size_t seed_size, TPM2B_ID_OBJECT *ret);

/* Both: what TPM2_MakeCredential(ek, credential, name) returns. Needs an EK with AES-CFB symmetric definition
 * (every EK template) and a nameAlg we know; -EOPNOTSUPP otherwise. */
int dw_tpm_make_credential(const TPMT_PUBLIC *ek, const TPM2B_NAME *name, const TPM2B_DIGEST *credential,
                           TPM2B_ID_OBJECT *ret_blob, TPM2B_ENCRYPTED_SECRET *ret_secret);

/* The file tpm2_makecredential -o writes and tpm2_activatecredential -i reads: big-endian u32 magic 0xBADCC0DE,
 * u32 version 1, then the marshalled TPM2B_ID_OBJECT and TPM2B_ENCRYPTED_SECRET. _write returns a malloc'd
 * buffer; _parse checks the header, both structures and that nothing follows. */
int dw_tpm_credential_file_write(const TPM2B_ID_OBJECT *blob, const TPM2B_ENCRYPTED_SECRET *secret, uint8_t **ret_buf,
                                 size_t *ret_size);
int dw_tpm_credential_file_parse(const uint8_t *buf, size_t size, TPM2B_ID_OBJECT *ret_blob,
                                 TPM2B_ENCRYPTED_SECRET *ret_secret, struct dw_error *err);
