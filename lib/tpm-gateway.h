/* SPDX-License-Identifier: MIT */
#pragma once

/* The gateway side of TPM attestation, over tpm2-tss ESAPI and any TCTI ("device:/dev/tpmrm0", "swtpm:port=N",
 * ...): the EK and its certificates, a persistent attestation key (AK) under the EK, credential activation, quotes
 * with the PCR values that go with them, a TPM-resident event-signing key certified by the AK, and an NV extend
 * index certified by the AK.
 *
 * Every function flushes every transient object and session it loaded, on every path: a TPM without a resource
 * manager (swtpm, /dev/tpm0) has as few as 3 object and 3 session slots. Hierarchy and object authorisations are
 * the empty password (the state of a gateway's TPM; the owner may not have set one). Functions return a negative
 * errno and fill err (if not NULL) with one line naming the operation and, for TPM errors, the error decoded by
 * Tss2_RC_Decode. ret_ out-parameters are written only on success. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <tss2/tss2_tpm2_types.h>

#include "dw-error.h"
#include "macro.h"
#include "tpm-marshal.h"

#define DW_TPM_TCTI_DEFAULT "device:/dev/tpmrm0"
#define DW_TPM_PCRS_DEFAULT "sha256:0,1,2,3,4,5,6,7,10"

/* Persistent handles (owner range of the TCG handle registry, next to the conventional EK at 0x81010001). */
#define DW_TPM_AK_HANDLE_DEFAULT        0x81010002u
#define DW_TPM_EVENT_KEY_HANDLE_DEFAULT 0x81010003u
/* The NV extend index: in the owner range of the TCG handle registry (0x01800000-0x01bfffff), whichever hierarchy
 * defines it (the TPM does not enforce ranges). */
#define DW_TPM_NV_INDEX_DEFAULT 0x01800100u

/* TCG EK certificate NV indices (EK Credential Profile 2.x): low range (templates L-1, L-2) and high range. */
#define DW_TPM_NV_EK_CERT_RSA2048  0x01c00002u
#define DW_TPM_NV_EK_CERT_ECC_P256 0x01c0000au
#define DW_TPM_NV_EK_CERT_ECC_P384 0x01c00016u

/* Key kinds. The EK is created from the TCG default templates of the EK Credential Profile: RSA 2048 is L-1,
 * NIST P-256 is L-2 (both SHA-256, AES-128-CFB, PolicySecret(TPM_RH_ENDORSEMENT) as authPolicy), NIST P-384 is H-3
 * (SHA-384, AES-256-CFB, userWithAuth; what swtpm 0.7 certifies at 0x01c00016). AKs are RSA 2048 (RSASSA-SHA256)
 * or NIST P-256 (ECDSA-SHA256). */
enum dw_tpm_key_type {
        DW_TPM_KEY_RSA2048,
        DW_TPM_KEY_ECC_P256,
        DW_TPM_KEY_ECC_P384,
        _DW_TPM_KEY_TYPE_MAX,
        _DW_TPM_KEY_TYPE_INVALID = -EINVAL,
};

/* "rsa", "ecc", "ecc384"; _from_name also accepts "rsa2048", "ecc256", "ecc_nist_p256", "ecc_nist_p384". */
const char *dw_tpm_key_type_name(enum dw_tpm_key_type type);
int dw_tpm_key_type_from_name(const char *name, enum dw_tpm_key_type *ret);

/* A key as the TPM reports it. */
struct dw_tpm_key {
        uint32_t handle; /* persistent handle; 0 for the EK, which is a transient primary flushed after use */
        enum dw_tpm_key_type type;
        bool created;              /* created (and persisted) by this call, rather than found */
        TPM2B_PUBLIC public;       /* marshal with Tss2_MU_TPM2B_PUBLIC_Marshal for tpm2-tools' "tss" format */
        TPM2B_NAME name;           /* nameAlg || H(TPMT_PUBLIC): what the verifier binds credentials to */
        TPM2B_NAME qualified_name; /* binds the key to its parent chain (the AK's names the EK) */
};

/* An attestation signed by the AK: attest.attestationData is the marshalled TPMS_ATTEST (what the signature covers,
 * as tpm2_quote -m writes it); marshal signature with Tss2_MU_TPMT_SIGNATURE_Marshal (tpm2_quote -s, "tss"). */
struct dw_tpm_signed_attest {
        TPM2B_ATTEST attest;
        TPMT_SIGNATURE signature;
};

/* An open TPM: an ESAPI context over a TCTI. Not thread-safe. */
struct dw_tpm;

/* Opens the TCTI (NULL: DW_TPM_TCTI_DEFAULT) with Tss2_TctiLdr_Initialize and asks the TPM for its NV buffer size,
 * so an unreachable TPM fails here. */
int dw_tpm_open(const char *tcti, struct dw_tpm **ret, struct dw_error *err);
void dw_tpm_close(struct dw_tpm *t);
static inline void dw_tpm_closep(struct dw_tpm **t)
{
        if (*t)
                dw_tpm_close(*t);
}

/* A TSS2_RC as text ("tpm:handle(1):the handle is not correct for the use"), by Tss2_RC_Decode. The string is
 * static storage of libtss2-rc, overwritten by the next call. */
const char *dw_tpm_strerror(uint32_t rc);

/* ---- EK ----------------------------------------------------------------------------------------------------- */

/* The EK certificate NV index of a key type. */
uint32_t dw_tpm_ek_cert_nv_index(enum dw_tpm_key_type type);

/* Creates the EK (TPM2_CreatePrimary in the endorsement hierarchy) from its template, reads it back and flushes it.
 * For RSA 2048 and P-256, a template or nonce that the manufacturer stored in NV (0x01c00004/3, 0x01c0000c/b) is
 * used as the EK Credential Profile says. */
int dw_tpm_ek_create(struct dw_tpm *t, enum dw_tpm_key_type type, struct dw_tpm_key *ret, struct dw_error *err);

struct dw_tpm_ek_cert {
        uint32_t nv_index;
        const char *label; /* "rsa2048", "ecc-p256", "ecc-p384", ...; static */
        bool high_range;   /* from the H templates' indices (0x01c00012..) */
        uint8_t *der;
        size_t der_size;
};

/* Every EK certificate the TPM holds at the TCG indices (low and high range; 0 of them is not an error). */
int dw_tpm_ek_certs_read(struct dw_tpm *t, struct dw_tpm_ek_cert **ret, size_t *ret_n, struct dw_error *err);
void dw_tpm_ek_certs_free(struct dw_tpm_ek_cert *certs, size_t n);

/* Whether a DER certificate carries the key of key: 1 yes, 0 no, -EINVAL (with err) for a certificate that does not
 * parse. */
int dw_tpm_ek_cert_matches(const uint8_t *der, size_t size, const struct dw_tpm_key *key, struct dw_error *err);

/* Reads the whole data of an ordinary NV index (as the index's attributes allow: its own empty auth, else owner, else
 * platform), in chunks of the TPM's NV buffer size. -ENOENT when the index is not defined. */
int dw_tpm_nv_read_all(struct dw_tpm *t, uint32_t nv_index, uint8_t **ret_data, size_t *ret_size, struct dw_error *err);

/* ---- AK and credential activation -------------------------------------------------------------------------- */

/* The AK at a persistent handle (owner range 0x81000000-0x817fffff), created if the handle is empty: a restricted
 * signing key (ak_type RSA 2048 or P-256) that is a child of the EK of ek_type, persisted with TPM2_EvictControl.
 * A key already at the handle is used only if it is an AK of exactly that kind and a child of that EK (its qualified
 * name says so); anything else is -EEXIST, never replaced. */
int dw_tpm_ak_ensure(struct dw_tpm *t, uint32_t handle, enum dw_tpm_key_type ak_type, enum dw_tpm_key_type ek_type,
                     struct dw_tpm_key *ret, struct dw_error *err);
/* The existing AK at handle: -ENOENT when the handle is empty, -EINVAL when it is not a restricted signing key.
 * Does not create the EK, so does not check the parent (dw_tpm_ak_ensure does). */
int dw_tpm_ak_load(struct dw_tpm *t, uint32_t handle, struct dw_tpm_key *ret, struct dw_error *err);

/* TPM2_ActivateCredential: recovers the secret a verifier bound to the AK's name and the EK's public key
 * (TPM2_MakeCredential, dw_tpm_make_credential, tpm2_makecredential; dw_tpm_credential_file_parse reads the latter's
 * file). A credential the TPM refuses (made for another EK or another AK name) is -EACCES. */
int dw_tpm_activate_credential(struct dw_tpm *t, uint32_t ak_handle, enum dw_tpm_key_type ek_type,
                               const TPM2B_ID_OBJECT *blob, const TPM2B_ENCRYPTED_SECRET *secret,
                               TPM2B_DIGEST *ret_secret, struct dw_error *err);

/* ---- Quotes ------------------------------------------------------------------------------------------------- */

/* "sha256:0,1,2+sha1:all", as tpm2-tools spells PCR selections; ranges "0-7" too. */
int dw_tpm_pcr_selection_from_string(const char *s, TPML_PCR_SELECTION *ret, struct dw_error *err);

/* TPM2_PCR_Read of a whole selection, in as many calls as the TPM needs (it returns at most 8 digests each).
 * ret_update_counter (optional) is the TPM's pcrUpdateCounter, the same over all calls (else retried; -EAGAIN if
 * the PCRs keep changing). A bank the TPM does not have is -ENOENT. */
int dw_tpm_pcr_read(struct dw_tpm *t, const TPML_PCR_SELECTION *sel, struct dw_tpm_pcrs *ret,
                    uint32_t *ret_update_counter, struct dw_error *err);

/* TPM2_Quote with the AK at ak_handle over sel, qualifying data = nonce (at most 64 bytes), and the PCR values it
 * covers: read before the quote and kept only if the pcrUpdateCounter did not move across the quote and their
 * digest equals the quote's pcrDigest (retried otherwise, -EAGAIN after a few tries). */
int dw_tpm_quote_pcrs(struct dw_tpm *t, uint32_t ak_handle, const uint8_t *nonce, size_t nonce_size,
                      const TPML_PCR_SELECTION *sel, struct dw_tpm_signed_attest *ret_quote,
                      struct dw_tpm_pcrs *ret_pcrs, struct dw_error *err);

/* ---- Event-signing key -------------------------------------------------------------------------------------- */

/* The event-signing key at a persistent handle, created if the handle is empty: a non-restricted NIST P-256
 * ECDSA-SHA256 signing key, child of the EK of ek_type, persisted. An existing key must be exactly that (and a
 * child of that EK), else -EEXIST. */
int dw_tpm_event_key_ensure(struct dw_tpm *t, uint32_t handle, enum dw_tpm_key_type ek_type, struct dw_tpm_key *ret,
                            struct dw_error *err);
/* TPM2_Certify of the persistent object at object_handle by the AK at ak_handle, qualifying data = nonce. */
int dw_tpm_certify(struct dw_tpm *t, uint32_t object_handle, uint32_t ak_handle, const uint8_t *nonce,
                   size_t nonce_size, struct dw_tpm_signed_attest *ret, struct dw_error *err);
/* TPM2_Sign of a digest (of the key's scheme hash, SHA-256 for the event key) with the persistent non-restricted
 * key at handle. */
int dw_tpm_sign_digest(struct dw_tpm *t, uint32_t handle, const uint8_t *digest, size_t digest_size,
                       TPMT_SIGNATURE *ret, struct dw_error *err);

/* ---- NV extend index ---------------------------------------------------------------------------------------- */

/* The index is TPM_NT_EXTEND, SHA-256 (32 bytes), read and extended with its own empty auth, TPMA_NV_ORDERLY and
 * TPMA_NV_CLEAR_STCLEAR (reads as "not written" after every TPM reset until the first extend), TPMA_NV_NO_DA.
 * Defined with platform authorisation when the platform hierarchy is available (swtpm; firmware usually disables
 * it), then also TPMA_NV_PLATFORMCREATE + TPMA_NV_POLICY_DELETE with authPolicy
 * PolicyCommandCode(TPM2_CC_NV_UndefineSpaceSpecial): neither the owner nor TPM2_Clear can delete it, only the
 * platform with that policy. Otherwise it falls back to an owner index (which the owner can delete), and says so. */
struct dw_tpm_nv_extend_info {
        uint32_t nv_index;
        bool created;           /* defined by this call, rather than found */
        bool platform_created;  /* TPMA_NV_PLATFORMCREATE (+ POLICY_DELETE) */
        char owner_reason[200]; /* when !platform_created and created: why the platform hierarchy was not used */
        TPMS_NV_PUBLIC public;
        TPM2B_NAME name; /* changes when the index is first written (TPMA_NV_WRITTEN) */
};

/* Ensures the index exists with the attributes above. An index at nv_index that is not such an extend index is
 * -EEXIST. With owner_fallback false, failing to use the platform hierarchy is an error. */
int dw_tpm_nv_extend_define(struct dw_tpm *t, uint32_t nv_index, bool owner_fallback, struct dw_tpm_nv_extend_info *ret,
                            struct dw_error *err);
/* TPM2_NV_Extend: value = SHA-256(value || data); data at most the TPM's NV buffer size (typically 1024). */
int dw_tpm_nv_extend(struct dw_tpm *t, uint32_t nv_index, const uint8_t *data, size_t size, struct dw_error *err);
/* The current value (32 bytes); -ENODATA when not written since the last TPM reset. */
int dw_tpm_nv_extend_read(struct dw_tpm *t, uint32_t nv_index, uint8_t ret_value[static 32], struct dw_error *err);
/* TPM2_NV_Certify of the whole value by the AK at ak_handle, qualifying data = nonce. */
int dw_tpm_nv_extend_certify(struct dw_tpm *t, uint32_t nv_index, uint32_t ak_handle, const uint8_t *nonce,
                             size_t nonce_size, struct dw_tpm_signed_attest *ret, struct dw_error *err);
/* Deletes the index: TPM2_NV_UndefineSpaceSpecial with the platform and the policy for a platform index,
 * TPM2_NV_UndefineSpace with the owner otherwise. -ENOENT when not defined. */
int dw_tpm_nv_extend_undefine(struct dw_tpm *t, uint32_t nv_index, struct dw_error *err);
