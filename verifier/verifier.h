/* SPDX-License-Identifier: MIT */
#pragma once

/* The daemon's shared state: configuration, store, keys, trust anchors, metrics, the event hub, the policy cache
 * and the pending challenges. Created by main() before the HTTPS server starts, read by every request thread. */

#include <stdatomic.h>

#include <openssl/evp.h>
#include <stdbool.h>
#include <stdint.h>

#include "challenge.h"
#include "config.h"
#include "ek-cert.h"
#include "events.h"
#include "metrics.h"
#include "nonces.h"
#include "pki.h"
#include "policy-cache.h"
#include "store.h"
#include "timer.h"

struct verifier {
        const struct vf_config *cfg;
        struct vf_store *store;
        struct vf_pki *pki;
        struct dw_ek_trust *ek_trust; /* NULL: no ek_ca_bundle, enrollment refused */
        struct vf_metrics *metrics;
        struct vf_events *events;
        struct vf_policy_cache *policies;
        struct vf_challenges *challenges;
        struct vf_nonces *nonces; /* issued, not used yet */
        struct vf_timers *timers; /* deadlines of suspended connections */
        char *admin_token;        /* never NULL once started */
        char *read_token;         /* NULL: the read API takes the admin token only */
        char *enrollment_token;   /* NULL: enrollment without a bootstrap token */
        EVP_PKEY **policy_keys;   /* policy_signing_keys; NULL: unsigned runtime policies are accepted */
        size_t n_policy_keys;
        atomic_bool stopping;
};

/* Publishes a verdict change on the event stream and logs it. */
void vf_verdict_changed(struct verifier *v, const char *gateway_id, enum vf_status previous, enum vf_status now,
                        json_t *reasons);
