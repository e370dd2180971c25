/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <string.h>

#include "token.h"
#include "util.h"
#include "version.h"

static json_t *ear_claims(const struct vf_ear *ear)
{
        _cleanup_free_ char *nonce = vf_base64url_encode(ear->nonce, ear->nonce_size);
        _cleanup_free_ char *build = vf_strprintf("driftwatch-verifier %s %s", VF_VERSION, ear->verifier_id);
        json_t *submod, *claims;

        if (!nonce || !build)
                return NULL;
        submod = json_pack("{s:s, s:O}", "ear.status", ear->status, "ear.trustworthiness-vector", ear->trustworthiness);
        if (submod && ear->policy_id)
                json_object_set_new(submod, "ear.appraisal-policy-id", json_string(ear->policy_id));
        claims = json_pack("{s:s, s:I, s:I, s:{s:s, s:s}, s:s, s:s, s:{s:o}}", "eat_profile", VF_EAR_PROFILE, "iat",
                           (json_int_t)ear->iat, "exp", (json_int_t)ear->exp, "ear.verifier-id", "developer",
                           "driftwatch", "build", build, "eat_nonce", nonce, "sub", ear->gateway_id, "submods",
                           ear->gateway_id, submod);
        return claims;
}

/* base64url(json) of a JSON value, compact, keys in insertion order. */
static char *segment(json_t *j)
{
        _cleanup_free_ char *text = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER);

        if (!text)
                return NULL;
        return vf_base64url_encode((const uint8_t *)text, strlen(text));
}

int vf_token_ear_sign(struct vf_pki *p, const struct vf_ear *ear, char **ret_jwt)
{
        _cleanup_(json_decrefp) json_t *header = NULL, *claims = NULL;
        _cleanup_free_ char *h = NULL, *c = NULL, *signing_input = NULL, *s = NULL;
        uint8_t sig[64];
        char *jwt;
        int r;

        header = json_pack("{s:s, s:s, s:s}", "alg", "ES256", "typ", "JWT", "kid", vf_pki_token_kid(p));
        claims = ear_claims(ear);
        if (!header || !claims)
                return -ENOMEM;
        h = segment(header);
        c = segment(claims);
        if (!h || !c)
                return -ENOMEM;
        signing_input = vf_strprintf("%s.%s", h, c);
        if (!signing_input)
                return -ENOMEM;
        r = vf_pki_sign_es256(p, signing_input, strlen(signing_input), sig);
        if (r < 0)
                return r;
        s = vf_base64url_encode(sig, sizeof(sig));
        if (!s)
                return -ENOMEM;
        jwt = vf_strprintf("%s.%s", signing_input, s);
        if (!jwt)
                return -ENOMEM;
        *ret_jwt = jwt;
        return 0;
}
