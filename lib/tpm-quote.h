/* SPDX-License-Identifier: MIT */
#pragma once

/* Verification of TPM attestations signed by an attestation key (AK): TPM2_Quote (PCRs), TPM2_Certify (an
 * object's Name) and TPM2_NV_Certify (an NV index's contents). Pure: the evidence is bytes (a marshalled
 * TPMS_ATTEST and TPMT_SIGNATURE, as tpm2_quote -m/-s, tpm2_certify -o/-s and tpm2_nvcertify write them), the
 * verifier's expectations are plain data.
 *
 * Every verify function returns a negative errno (with err) when the evidence cannot be judged: malformed or
 * truncated structures, trailing bytes, an unsupported signature scheme or key. Otherwise it returns 0 with a
 * verdict in *ret: valid or not, one reason code and a one-line message. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>
#include <tss2/tss2_tpm2_types.h>

#include "dw-error.h"
#include "tpm-marshal.h"

/* A TPM's clock as an attestation reports it (TPMS_CLOCK_INFO). */
struct dw_tpm_clock {
        uint64_t clock;         /* ms the TPM has been powered, monotonic except across unorderly shutdowns */
        uint32_t reset_count;   /* TPM Resets (reboots) since TPM2_Clear */
        uint32_t restart_count; /* TPM Restarts/Resumes since the last Reset */
        bool safe;              /* no greater clock value was ever reported */
};

enum dw_attest_reason {
        DW_ATTEST_OK,                     /* valid */
        DW_ATTEST_BAD_SIGNATURE,          /* not signed by this AK (wrong AK, tampered bytes, wrong key type) */
        DW_ATTEST_AK_NOT_RESTRICTED,      /* the AK's public area is not a restricted signing key */
        DW_ATTEST_NOT_TPM_GENERATED,      /* magic is not TPM_GENERATED_VALUE */
        DW_ATTEST_WRONG_TYPE,             /* not the attestation type asked for */
        DW_ATTEST_NONCE_MISMATCH,         /* extraData is not the nonce issued (replay, or another verifier's) */
        DW_ATTEST_RESET_ROLLBACK,         /* resetCount went back: TPM cleared, or an old attestation replayed */
        DW_ATTEST_RESTART_ROLLBACK,       /* restartCount went back within one reset epoch */
        DW_ATTEST_CLOCK_REWIND,           /* clock went back without a reset/restart that allows it */
        DW_ATTEST_PCR_SELECTION_MISMATCH, /* the claimed PCR values are not for the quoted selection */
        DW_ATTEST_PCR_DIGEST_MISMATCH,    /* the claimed PCR values do not hash to the quoted pcrDigest */
        DW_ATTEST_NAME_MISMATCH,          /* certify: not the Name of the expected object / NV index */
        DW_ATTEST_QUALIFIED_NAME_MISMATCH,
        _DW_ATTEST_REASON_MAX,
};

/* "ok", "bad-signature", ... (stable, for JSON). */
const char *dw_attest_reason_name(enum dw_attest_reason reason);

struct dw_attest_result {
        bool valid;
        enum dw_attest_reason reason;
        bool reset;                /* valid, and resetCount grew since the previous clock: the TPM rebooted */
        bool restarted;            /* valid, and restartCount grew within the same reset epoch (resume, hibernate) */
        bool pcrs_checked;         /* quote: the claimed PCR values were checked against pcrDigest */
        struct dw_tpm_clock clock; /* this attestation's clock: keep it as the next "previous" when valid */
        char msg[256];             /* one line, no trailing newline */
};

/* What the verifier expects of an attestation. */
struct dw_attest_expect {
        EVP_PKEY *ak;                 /* the AK's public key; may be NULL when ak_public is given */
        const TPMT_PUBLIC *ak_public; /* optional: the AK's public area (from enrollment). When given, it must be
                                       * a restricted signing key; its key is the one checked unless ak is also
                                       * given, which must then be that same key (derived once by the caller
                                       * with dw_tpm_public_to_pkey, not again on every round) */
        const uint8_t *nonce;         /* the nonce issued for this attestation: extraData must equal it */
        size_t nonce_size;
        const struct dw_tpm_clock *previous; /* optional: the last accepted clock of this TPM */
};

/* The signed evidence: a marshalled TPMS_ATTEST and a marshalled TPMT_SIGNATURE over it. */
struct dw_attest_evidence {
        const uint8_t *attest;
        size_t attest_size;
        const uint8_t *signature;
        size_t signature_size;
};

/* Whole-buffer unmarshalling: trailing bytes are an error. */
int dw_tpm_attest_parse(const uint8_t *buf, size_t size, TPMS_ATTEST *ret, struct dw_error *err);
int dw_tpm_signature_parse(const uint8_t *buf, size_t size, TPMT_SIGNATURE *ret, struct dw_error *err);

/* Checks sig (RSASSA, RSAPSS or ECDSA, any hash we know) over data with key. Returns 1 valid, 0 invalid (why says
 * why), -EOPNOTSUPP for another scheme or hash. */
int dw_tpm_signature_verify(EVP_PKEY *key, const uint8_t *data, size_t size, const TPMT_SIGNATURE *sig, char *why,
                            size_t why_size);

/* Judges a clock against the previous one (NULL: first observation, always fine). Fills ret->clock, ->reset,
 * ->restarted and, when it is not acceptable, returns false with ->valid false and the reason and message:
 *   resetCount lower                                         -> DW_ATTEST_RESET_ROLLBACK
 *   same resetCount, restartCount lower                      -> DW_ATTEST_RESTART_ROLLBACK
 *   clock lower, same resetCount and restartCount            -> DW_ATTEST_CLOCK_REWIND
 *   clock lower across a reset/restart while safe is YES     -> DW_ATTEST_CLOCK_REWIND (the TPM vouches that no
 *                                                               greater value was reported, yet one was)
 *   clock lower across a reset/restart with safe NO          -> accepted (unorderly shutdown lost clock updates)
 *   resetCount higher                                        -> valid, ret->reset (reboot detected)
 *   same resetCount, restartCount higher                     -> valid, ret->restarted */
bool dw_tpm_clock_check(const struct dw_tpm_clock *previous, const TPMS_CLOCK_INFO *now, struct dw_attest_result *ret);

/* TPM2_Quote: signature, magic, type TPM_ST_ATTEST_QUOTE, extraData == nonce, clock; then, when pcrs is not NULL,
 * its selection must be the quoted one and H(values) == pcrDigest (hash of the signature's scheme). Without pcrs
 * the PCR digest is unchecked (ret->pcrs_checked false, and the message says so). ret_attest (optional) gets the
 * parsed attestation whenever it parsed. */
int dw_tpm_quote_verify(const struct dw_attest_expect *expect, const struct dw_attest_evidence *ev,
                        const struct dw_tpm_pcrs *pcrs, struct dw_attest_result *ret, TPMS_ATTEST *ret_attest,
                        struct dw_error *err);

/* TPM2_Certify: the common checks, type TPM_ST_ATTEST_CERTIFY, the certified Name equal to the Name of certified,
 * and (when qualified_name is not NULL) the qualifiedName equal to it. */
int dw_tpm_certify_verify(const struct dw_attest_expect *expect, const struct dw_attest_evidence *ev,
                          const TPMT_PUBLIC *certified, const TPM2B_NAME *qualified_name, struct dw_attest_result *ret,
                          TPMS_ATTEST *ret_attest, struct dw_error *err);

/* TPM2_NV_Certify: the common checks, type TPM_ST_ATTEST_NV and indexName equal to index_name (the Name of the
 * index as it is now: see dw_tpm_nv_public_name; writing sets TPMA_NV_WRITTEN, which changes it). The certified
 * offset and contents are ret_attest->attested.nv.offset and .nvContents. */
int dw_tpm_nv_certify_verify(const struct dw_attest_expect *expect, const struct dw_attest_evidence *ev,
                             const TPM2B_NAME *index_name, struct dw_attest_result *ret, TPMS_ATTEST *ret_attest,
                             struct dw_error *err);
