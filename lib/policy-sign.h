/* SPDX-License-Identifier: MIT */
#pragma once

/* Signed runtime policies (docs/runtime-policy.md, "Signed policies"). What is signed is the policy's canonical
 * form: the JSON Canonicalization Scheme (RFC 8785) of the whole document with the member "signature" of "meta"
 * removed: no whitespace, object members sorted by their names' UTF-16 code units, strings with only the escapes
 * JSON requires (\" \\ \b \f \n \r \t, other control characters as \u00XX), integers in decimal. So the signature
 * survives any reformatting of the file, and anyone can recompute the signed bytes and check them with openssl.
 *
 * An enveloped signature is meta.signature = {"alg": ALG, "keyid": SHA-256 of the signer's DER SubjectPublicKeyInfo
 * (hex), "value": base64 of the signature}; a detached one is the raw signature bytes in a file of their own. ALG is
 * "ecdsa-p256-sha256", "ecdsa-p384-sha384", "ecdsa-p521-sha512" (DER-encoded ECDSA signatures, what `openssl dgst
 * -sign` writes) or "rsa-pkcs1-sha256" (RSASSA-PKCS1-v1_5). meta is free-form for the loader, so a signed policy
 * loads wherever an unsigned one does. Pure: no I/O. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <openssl/evp.h>

#include "runtime-policy.h"

/* The canonical form of doc. Returns 0 with a malloc'd buffer (not NUL-terminated in meaning; a NUL follows it),
 * -EDOM with err set for a value RFC 8785 would write differently from how we can (a number that is not an integer
 * of at most 2^53), -ENOMEM. */
int dw_policy_canonical(const json_t *doc, char **ret, size_t *ret_len, struct dw_policy_error *err);

/* "ecdsa-p256-sha256"... for a private or public key, or NULL for a key type we do not sign with. */
const char *dw_policy_sig_alg(EVP_PKEY *key);
/* The key id: lowercase hex SHA-256 of the DER SubjectPublicKeyInfo (`openssl pkey -pubout -outform DER | sha256sum`).
 * Returns 0, -EINVAL, -ENOMEM. */
int dw_policy_key_fingerprint(EVP_PKEY *key, char out[static 65]);

/* A raw signature of data with key (the detached form). Returns 0 with a malloc'd signature, -EOPNOTSUPP for a key
 * type we do not sign with, -EIO when OpenSSL fails. */
int dw_policy_sign_data(EVP_PKEY *key, const void *data, size_t len, uint8_t **ret_sig, size_t *ret_sig_len);

/* Signs doc in place: sets meta.signature (replacing any). Returns 0, -EDOM (err set), -EOPNOTSUPP, -EIO, -ENOMEM. */
int dw_policy_sign(json_t *doc, EVP_PKEY *key, struct dw_policy_error *err);

enum dw_policy_sig_verdict {
        DW_POLICY_SIG_VALID,     /* signed by this key, and the content is what was signed */
        DW_POLICY_SIG_UNSIGNED,  /* no meta.signature */
        DW_POLICY_SIG_WRONG_KEY, /* signed, but by another key */
        DW_POLICY_SIG_MISMATCH,  /* by this key, but the signature does not match the content: changed after signing */
        DW_POLICY_SIG_MALFORMED, /* meta.signature is not a signature object we read */
};

const char *dw_policy_sig_verdict_name(enum dw_policy_sig_verdict v);

/* Checks doc's enveloped signature against pub. Returns 0 with *ret (and why, one line) set, -EDOM (err), -ENOMEM. */
int dw_policy_verify(const json_t *doc, EVP_PKEY *pub, enum dw_policy_sig_verdict *ret, char *why, size_t why_size,
                     struct dw_policy_error *err);

/* Checks a detached signature of doc's canonical form. Same returns; WRONG_KEY cannot be told from MISMATCH and is
 * reported as MISMATCH. */
int dw_policy_verify_detached(const json_t *doc, const uint8_t *sig, size_t sig_len, EVP_PKEY *pub,
                              enum dw_policy_sig_verdict *ret, char *why, size_t why_size, struct dw_policy_error *err);
