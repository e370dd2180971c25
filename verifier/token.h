/* SPDX-License-Identifier: MIT */
#pragma once

/* Attestation result tokens: a JWT signed ES256 by the verifier's token key (header "kid" = the key's RFC 7638
 * thumbprint, published at /.well-known/driftwatch/jwks.json), with claims in the shape of an IETF RATS EAT
 * Attestation Result (EAR, draft-fv-rats-ear):
 *
 *   {"eat_profile": "tag:github.com,2023:veraison/ear", "iat": ..., "exp": ...,
 *    "ear.verifier-id": {"developer": "driftwatch", "build": "driftwatch-verifier <version> <verifier_id>"},
 *    "eat_nonce": "<the round's nonce, base64url>", "sub": "<gateway id>",
 *    "submods": {"<gateway id>": {"ear.status": "affirming",
 *                                  "ear.trustworthiness-vector": {"instance-identity": 2, ...},
 *                                  "ear.appraisal-policy-id": "..."}}} */

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "pki.h"

#define VF_EAR_PROFILE "tag:github.com,2023:veraison/ear"

struct vf_ear {
        const char *gateway_id;
        const char *verifier_id;
        const uint8_t *nonce;
        size_t nonce_size;
        uint64_t iat; /* seconds */
        uint64_t exp;
        const char *status;      /* "affirming", "warning", "contraindicated", "none" */
        json_t *trustworthiness; /* borrowed: {"instance-identity": 2, ...} */
        const char *policy_id;   /* may be NULL */
};

int vf_token_ear_sign(struct vf_pki *p, const struct vf_ear *ear, char **ret_jwt);
