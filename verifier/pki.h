/* SPDX-License-Identifier: MIT */
#pragma once

/* The verifier's own keys and certificates, all ECDSA P-256, made with OpenSSL on first start in the state
 * directory:
 *   ca.pem, ca.key           the verifier's CA: issues the server certificate and the gateways' TLS client
 *                            certificates (and is the trust anchor gateways pin);
 *   server.pem, server.key   the HTTPS server certificate, re-issued by the CA at every start, so that its
 *                            subjectAltName always lists the configured server_names;
 *   token.key                the ES256 key that signs attestation result tokens, published as a JWK set.
 * Private keys are written 0600 and never logged. */

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

#include "macro.h"

struct vf_pki;

int vf_pki_load_or_create(const char *state_dir, const char *server_names, const char *verifier_id, struct vf_pki **ret,
                          char *msg, size_t msg_size);
void vf_pki_free(struct vf_pki *p);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct vf_pki *, vf_pki_free);

/* PEM text for the TLS server (libmicrohttpd) and for clients. Live as long as p. */
const char *vf_pki_ca_pem(const struct vf_pki *p);
const char *vf_pki_server_cert_pem(const struct vf_pki *p);
const char *vf_pki_server_key_pem(const struct vf_pki *p);
/* {"keys": [{"kty": "EC", "crv": "P-256", "x", "y", "use": "sig", "alg": "ES256", "kid"}]} */
const char *vf_pki_jwks_json(const struct vf_pki *p);
/* The RFC 7638 thumbprint of the token key, base64url: the "kid" of tokens. */
const char *vf_pki_token_kid(const struct vf_pki *p);

struct vf_issued_cert {
        char *pem;
        char fingerprint[65]; /* hex SHA-256 of the DER certificate */
        char serial[41];      /* hex */
        uint64_t not_after;   /* usec */
};

void vf_issued_cert_done(struct vf_issued_cert *c);

/* Issues a TLS client certificate for a gateway from a PKCS#10 CSR (PEM): the CSR's signature must verify and its key
 * must be ECDSA P-256/P-384 or RSA >= 2048; whatever subject it asks for, the certificate says CN=<gateway id> with
 * the URI SAN urn:driftwatch:gateway:<id> and extendedKeyUsage clientAuth. -EINVAL with why for a bad CSR. */
int vf_pki_issue_client_cert(struct vf_pki *p, const char *csr_pem, size_t csr_size, const char *gateway_id,
                             uint64_t lifetime_sec, struct vf_issued_cert *ret, char *why, size_t why_size);
/* Checks a CSR without issuing anything (the same checks). */
int vf_pki_check_csr(const char *csr_pem, size_t csr_size, char *why, size_t why_size);

/* ES256 (ECDSA P-256 SHA-256) with the token key: the JOSE signature, r || s, 32 bytes each. */
int vf_pki_sign_es256(struct vf_pki *p, const void *data, size_t size, uint8_t ret_sig[static 64]);
