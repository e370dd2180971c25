/* SPDX-License-Identifier: MIT */
#pragma once

/* Counters for /metrics (Prometheus text exposition format 0.0.4). Thread-safe. */

#include <stdint.h>

#include "store.h"

struct vf_metrics;

int vf_metrics_new(struct vf_metrics **ret);
void vf_metrics_free(struct vf_metrics *m);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct vf_metrics *, vf_metrics_free);

/* Every answered request, by status class. */
void vf_metrics_request(struct vf_metrics *m, unsigned status);
/* A request refused with a 4xx/5xx error: counted by its error code ("nonce-reused", "body-too-large", ...). */
void vf_metrics_rejected(struct vf_metrics *m, const char *reason);
/* A judged attestation round: its verdict and how long verification took. */
void vf_metrics_round(struct vf_metrics *m, enum vf_status verdict, uint64_t latency_usec);
void vf_metrics_enrollment(struct vf_metrics *m, bool ok);

/* The exposition text, with the gateways by status (from the store). malloc'd. */
char *vf_metrics_render(struct vf_metrics *m, const uint64_t gateways_by_status[static _VF_STATUS_MAX]);
