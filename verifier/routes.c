/* SPDX-License-Identifier: MIT */
#include "api.h"

/* Order matters only for readability: a path matches at most one pattern per method. */
const struct vf_route vf_routes[] = {
        {"GET", "/healthz", VF_AUTH_NONE, false, vf_api_healthz},
        {"GET", "/.well-known/driftwatch/jwks.json", VF_AUTH_NONE, false, vf_api_jwks},
        {"GET", "/.well-known/driftwatch/ca.pem", VF_AUTH_NONE, false, vf_api_ca},

        /* gateways: enrollment (no client certificate yet), then mutual TLS */
        {"POST", "/v1/gateways/{}/enroll", VF_AUTH_ENROLL, false, vf_api_enroll},
        {"POST", "/v1/gateways/{}/activate", VF_AUTH_ENROLL, false, vf_api_activate},
        {"POST", "/v1/gateways/{}/nonce", VF_AUTH_GATEWAY, false, vf_api_nonce},
        {"POST", "/v1/gateways/{}/attest", VF_AUTH_GATEWAY, true, vf_api_attest},
        {"POST", "/v1/gateways/{}/events", VF_AUTH_GATEWAY, true, vf_api_events_post},
        {"GET", "/v1/gateways/{}/challenge", VF_AUTH_GATEWAY, false, vf_api_challenge_poll},

        /* read API */
        {"GET", "/v1/gateways", VF_AUTH_READ, false, vf_api_gateways},
        {"GET", "/v1/gateways/{}", VF_AUTH_READ, false, vf_api_gateway},
        {"GET", "/v1/gateways/{}/verdicts", VF_AUTH_READ, false, vf_api_verdicts},
        {"GET", "/v1/events", VF_AUTH_READ, false, vf_api_events},
        {"GET", "/v1/stream", VF_AUTH_READ, false, vf_api_stream},
        {"GET", "/metrics", VF_AUTH_READ, false, vf_api_metrics},

        /* admin API */
        {"GET", "/v1/admin/policies", VF_AUTH_ADMIN, false, vf_api_policies},
        /* before the pattern below: "impact" is not a runtime policy name one can upload */
        {"POST", "/v1/admin/policies/runtime/impact", VF_AUTH_ADMIN, true, vf_api_policy_impact},
        {"POST", "/v1/admin/policies/{}/{}", VF_AUTH_ADMIN, true, vf_api_policy_add},
        {"GET", "/v1/admin/policies/{}/{}", VF_AUTH_ADMIN, false, vf_api_policy_get},
        {"PUT", "/v1/admin/gateways/{}/policies", VF_AUTH_ADMIN, false, vf_api_assign_gateway},
        {"PUT", "/v1/admin/gateways/{}/group", VF_AUTH_ADMIN, false, vf_api_set_group},
        {"POST", "/v1/admin/gateways/{}/acknowledge", VF_AUTH_ADMIN, false, vf_api_acknowledge},
        {"POST", "/v1/admin/gateways/{}/challenge", VF_AUTH_ADMIN, false, vf_api_challenge_raise},
        {"DELETE", "/v1/admin/gateways/{}", VF_AUTH_ADMIN, false, vf_api_unenroll},
        {"GET", "/v1/admin/groups", VF_AUTH_ADMIN, false, vf_api_groups},
        {"PUT", "/v1/admin/groups/{}/policies", VF_AUTH_ADMIN, false, vf_api_assign_group},
};

const size_t vf_n_routes = ELEMENTSOF(vf_routes);
