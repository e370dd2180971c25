/* SPDX-License-Identifier: MIT */
#pragma once

/* The HTTP API (docs/protocol.md): the route table and its handlers. */

#include "http.h"

extern const struct vf_route vf_routes[];
extern const size_t vf_n_routes;

/* api-enroll.c */
enum MHD_Result vf_api_enroll(struct vf_request *rq);
enum MHD_Result vf_api_activate(struct vf_request *rq);

/* api-attest.c */
enum MHD_Result vf_api_nonce(struct vf_request *rq);
enum MHD_Result vf_api_attest(struct vf_request *rq);

/* api-events.c */
enum MHD_Result vf_api_events_post(struct vf_request *rq);
enum MHD_Result vf_api_events(struct vf_request *rq);

/* api-read.c */
enum MHD_Result vf_api_healthz(struct vf_request *rq);
enum MHD_Result vf_api_jwks(struct vf_request *rq);
enum MHD_Result vf_api_ca(struct vf_request *rq);
enum MHD_Result vf_api_gateways(struct vf_request *rq);
enum MHD_Result vf_api_gateway(struct vf_request *rq);
enum MHD_Result vf_api_verdicts(struct vf_request *rq);
enum MHD_Result vf_api_stream(struct vf_request *rq);
enum MHD_Result vf_api_metrics(struct vf_request *rq);

/* api-challenge.c */
enum MHD_Result vf_api_challenge_poll(struct vf_request *rq);
enum MHD_Result vf_api_challenge_raise(struct vf_request *rq);
/* Raises a challenge with reason for each of n gateways. */
void vf_challenge_gateways(struct verifier *v, const char *reason, char (*ids)[65], size_t n);

/* api-admin.c */
enum MHD_Result vf_api_policy_add(struct vf_request *rq);
enum MHD_Result vf_api_policy_get(struct vf_request *rq);
enum MHD_Result vf_api_policy_impact(struct vf_request *rq);
enum MHD_Result vf_api_policies(struct vf_request *rq);
enum MHD_Result vf_api_assign_gateway(struct vf_request *rq);
enum MHD_Result vf_api_assign_group(struct vf_request *rq);
enum MHD_Result vf_api_set_group(struct vf_request *rq);
enum MHD_Result vf_api_groups(struct vf_request *rq);
enum MHD_Result vf_api_acknowledge(struct vf_request *rq);
enum MHD_Result vf_api_unenroll(struct vf_request *rq);
