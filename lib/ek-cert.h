/* SPDX-License-Identifier: MIT */
#pragma once

/* Endorsement key certificates (TCG EK Credential Profile): chain validation against a configured CA bundle and
 * CRLs, the TPM manufacturer/model/version of the subjectAltName, and the check that the certificate's key is the
 * TPM's EK. Pure: certificates, bundles and CRLs are bytes.
 *
 * EK certificates carry extensions that plain X.509 path validation does not expect: a critical subjectAltName
 * that is a directoryName with TCG attributes (OpenSSL handles it), and, from some manufacturers, critical
 * extensions OpenSSL does not process. Those are accepted on the EK certificate, and only those:
 * subjectDirectoryAttributes (2.5.29.9, the TPM specification and security assertions), authorityKeyIdentifier,
 * subjectKeyIdentifier and authorityInfoAccess. Any other unhandled critical extension fails validation, and on
 * a CA certificate every unhandled critical extension fails it. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <openssl/x509.h>
#include <tss2/tss2_tpm2_types.h>

#include "dw-error.h"

/* The trusted CA certificates (self-signed ones are the trust anchors; the others are intermediates a chain may
 * use) and the CRLs. */
struct dw_ek_trust;

/* ca_pem: one or more PEM certificates (at least one root). crl_pem (optional, NULL): PEM CRLs (or one DER CRL).
 * With CRLs, the EK certificate's issuer must have published one (fail closed: DW_EK_CERT_NO_CRL otherwise), and
 * each CA certificate is checked against its issuer's CRL when that is in the file. */
int dw_ek_trust_new(const uint8_t *ca_pem, size_t ca_size, const uint8_t *crl_pem, size_t crl_size,
                    struct dw_ek_trust **ret, struct dw_error *err);
void dw_ek_trust_free(struct dw_ek_trust *t);
static inline void dw_ek_trust_freep(struct dw_ek_trust **t)
{
        dw_ek_trust_free(*t);
}

/* An EK certificate, PEM or DER. DER as read from the TPM's NV index may be followed by zero padding. */
int dw_ek_cert_parse(const uint8_t *buf, size_t size, X509 **ret, struct dw_error *err);

enum dw_ek_cert_reason {
        DW_EK_CERT_OK,
        DW_EK_CERT_UNKNOWN_ISSUER, /* no chain to a root in the bundle */
        DW_EK_CERT_BAD_SIGNATURE,  /* a certificate's signature does not verify with its issuer's key */
        DW_EK_CERT_EXPIRED,
        DW_EK_CERT_NOT_YET_VALID,
        DW_EK_CERT_REVOKED,
        DW_EK_CERT_NO_CRL,             /* CRLs configured, none from the EK certificate's issuer */
        DW_EK_CERT_BAD_CRL,            /* a CRL expired, not yet valid, or badly signed */
        DW_EK_CERT_UNHANDLED_CRITICAL, /* a critical extension that is not a known EK certificate extension */
        DW_EK_CERT_INVALID_CA,         /* an issuer that may not issue certificates (CA:FALSE, keyUsage, path length) */
        DW_EK_CERT_KEY_MISMATCH,       /* valid chain, but its key is not the TPM's EK */
        DW_EK_CERT_OTHER,              /* any other path validation failure (the message has OpenSSL's reason) */
        _DW_EK_CERT_REASON_MAX,
};

/* "ok", "unknown-issuer", ... (stable, for JSON). */
const char *dw_ek_cert_reason_name(enum dw_ek_cert_reason reason);

/* The TPM the certificate names in its subjectAltName directoryName (TCG OIDs 2.23.133.2.1/2/3); empty strings
 * when absent. */
struct dw_ek_tpm_info {
        char manufacturer[64];
        char model[64];
        char version[64];
};

struct dw_ek_cert_result {
        bool valid;
        enum dw_ek_cert_reason reason;
        int depth;                 /* of the failing certificate in the chain: 0 is the EK certificate */
        bool ek_eku;               /* the EK certificate has the TCG EK extendedKeyUsage (2.23.133.8.1) */
        struct dw_ek_tpm_info tpm; /* of the EK certificate */
        char msg[256];             /* one line, no trailing newline */
};

/* Validates cert's chain to a root of t at time at (0: now), and, when ek is not NULL, that the certificate's key
 * is ek's. Returns 0 with the verdict in *ret; negative errno only when it could not run (out of memory). */
int dw_ek_cert_verify(const struct dw_ek_trust *t, X509 *cert, time_t at, const TPMT_PUBLIC *ek,
                      struct dw_ek_cert_result *ret);

/* The subjectAltName TPM attributes alone. */
int dw_ek_cert_tpm_info(X509 *cert, struct dw_ek_tpm_info *ret);
