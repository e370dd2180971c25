/* SPDX-License-Identifier: MIT */
#pragma once

/* The monitor's link to the verifier, off the main loop: a worker thread that enrolls (once), posts spooled event
 * batches in order and runs attestation rounds, retrying with exponential back-off while the verifier cannot be
 * reached; and a second thread holding the challenge long poll open so the verifier can ask for a round at once.
 * Results go back to the main loop through a queue and a pipe the loop watches (mon_uplink_fd).
 *
 * The TPM is shared with the main loop through mon_tpm_lock. The worker holds it across a round's quote, NV
 * certification and POST, so that no batch can be extended into the NV index between the check "every extended
 * batch was acknowledged" and the certification (which would make the verifier see a mismatch); the main loop
 * therefore only ever try-locks it. */

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "dw-error.h"
#include "hash.h"
#include "tpm-gateway.h"
#include "verifier-client.h"

struct mon_tpm_lock {
        pthread_mutex_t mutex;
        struct dw_tpm *tpm;
        /* Batches extended into the NV index and not yet acknowledged by the verifier: raised by the main loop
         * with the mutex held (when it seals), lowered without it (acknowledgements). */
        _Atomic uint64_t unacked_batches;
};

struct mon_uplink_options {
        struct mon_vclient_options client;
        struct mon_enroll_options enroll;
        const char *ima_log;
        struct mon_ima_offsets *ima_offsets; /* NULL, or where the follower saw entries start (outlives the uplink) */
        enum dw_hash_alg ima_log_alg;
        const char *boot_log; /* NULL or "": none */
        uint32_t ak_handle, nv_index;
        uint64_t retry_max_usec;
        bool challenge_wait;
        const char *capabilities_json; /* sent with every round (see mon_round_evidence), or NULL */
};

enum mon_uplink_result_kind {
        MON_UPLINK_ENROLLED,  /* status, answer: the verifier's answer to /activate (or an enrollment refusal) */
        MON_UPLINK_ROUND,     /* status, answer, sent: a round's answer */
        MON_UPLINK_BATCH,     /* status, answer, batch_key */
        MON_UPLINK_DOWN,      /* msg: the verifier became unreachable (the worker keeps retrying) */
        MON_UPLINK_UP,        /* reachable again */
        MON_UPLINK_CHALLENGE, /* msg: the verifier asked for a round (one is already queued) */
        MON_UPLINK_ERROR,     /* msg, error: a round or enrollment that failed on the gateway side (TPM, log) */
};

struct mon_uplink_result {
        enum mon_uplink_result_kind kind;
        long status;
        json_t *answer; /* owned by the result */
        uint64_t batch_key;
        struct mon_round_sent sent;
        int error;
        char msg[256];
};

void mon_uplink_result_done(struct mon_uplink_result *r);

struct mon_uplink;

/* Starts the threads. The options' strings are copied. */
int mon_uplink_start(const struct mon_uplink_options *o, struct mon_tpm_lock *tpm, struct mon_uplink **ret,
                     struct dw_error *err);
/* Stops the threads (a transfer in progress is abandoned within about a second) and frees everything. */
void mon_uplink_stop(struct mon_uplink *u);

/* Readable when results are waiting. */
int mon_uplink_fd(const struct mon_uplink *u);
/* The next result: 1 with *ret filled (mon_uplink_result_done it), 0 when none. Drains the pipe. */
int mon_uplink_next_result(struct mon_uplink *u, struct mon_uplink_result *ret);

/* Asks for a round as soon as possible (coalesced with one already asked for). */
void mon_uplink_request_round(struct mon_uplink *u, const char *why);
/* Hands the worker the next batch to post (the oldest of the spool), taken over. Only one at a time: false (and
 * json not taken) when one is still in flight. */
bool mon_uplink_offer_batch(struct mon_uplink *u, uint64_t key, char *json);
bool mon_uplink_batch_in_flight(struct mon_uplink *u);
bool mon_uplink_enrolled(struct mon_uplink *u);
