/* SPDX-License-Identifier: MIT */
#pragma once

/* One attestation round of one gateway, as the daemon runs it: the policies in effect for the gateway, then the
 * pure decision of lib/attest-round (quote, boot log, incremental IMA replay to the quoted PCR 10, policies) from
 * the gateway's persisted state, turned into what the daemon stores and answers: the verdict, the reasons as JSON,
 * the new serialized state, where the next round starts, and the EAR trustworthiness claims. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "attest-round.h"
#include "policy-cache.h"
#include "verifier.h"

struct vf_round_policies {
        struct vf_policy_ref *runtime; /* NULL: none assigned */
        struct vf_policy_ref *boot;
};

void vf_round_policies_done(struct vf_round_policies *p);

/* The policies in effect for a gateway now. -ENOENT/-EBADMSG (msg says which and why) when an assigned policy does
 * not exist or does not load: the round cannot be judged. */
int vf_round_policies_acquire(struct verifier *v, const char *gateway_id, struct vf_round_policies *ret, char *msg,
                              size_t msg_size);

struct vf_round_output {
        enum vf_status verdict;
        uint64_t round;          /* this round's number (1-based) */
        json_t *reasons;         /* [{"kind", "sticky", "earlier", "round", "index", "path", "digest", "rule",
                                  *   "message"}] */
        json_t *report;          /* {"checks": {...}, "notes", "reboot", "ima": {...}, "boot": {...}} */
        json_t *trustworthiness; /* the EAR trustworthiness vector */
        char policy_id[200];     /* "runtime:NAME@V,boot:NAME@V" or "" */
        uint8_t *state;          /* serialized new state */
        size_t state_size;
        uint64_t ima_from;       /* the first entry index this round consumed */
        uint64_t ima_next_index; /* where the next round starts */
        bool boot_log_required;  /* the next round must carry the boot log */
        uint64_t entries_consumed;
        /* the kept IMA entries (store.h): */
        bool new_epoch;          /* the gateway rebooted: the kept entries are of the previous epoch */
        char runtime_judged[96]; /* the runtime policy the epoch's entries are judged against now, "" for none */
        bool evidence_complete;  /* all of the epoch's entries are kept */
        bool rejudged;           /* the kept entries were judged again under a new runtime policy first */
};

void vf_round_output_done(struct vf_round_output *o);

/* Whether a round of g under the runtime policy runtime judges the kept entries of the epoch again first: the policy
 * (name and version) is not the one they were judged against, entries were consumed in the epoch, and all of them
 * are kept. The caller then passes them to vf_round_judge. */
bool vf_round_rejudge_needed(const struct vf_gateway *g, const char *runtime_policy_id);

/* Judges a round. g is the gateway as loaded (its state), kept its kept entries when vf_round_rejudge_needed (else
 * NULL), now the wall clock in usec. Returns 0 with *ret set for any verdict; a negative errno only when the round
 * could not run (a damaged state, out of memory), with why. */
int vf_round_judge(const struct vf_gateway *g, const struct vf_round_policies *policies, const struct vf_evidence *kept,
                   const uint8_t *nonce, size_t nonce_size, const struct dw_round_evidence *ev, uint64_t now,
                   struct vf_round_output *ret, char *why, size_t why_size);

/* The entries of ev with index in [from, to) (what a round consumed), as records pointing into ev->ima_log: a
 * malloc'd array (NULL when none). */
int vf_round_consumed_entries(const struct dw_round_evidence *ev, uint64_t from, uint64_t to,
                              struct dw_round_stored_entry **ret, size_t *ret_n);

/* What a runtime policy would make of a gateway at its next round (`impact`): the same re-judge as vf_round_judge,
 * on a copy of its state and kept entries. policy_id: the policy's "runtime:NAME@VERSION" (a draft gets one no
 * gateway was judged against). *ret: {"id", "current", "predicted", "rejudged", "evidence", "entries", "failures":
 * [{"index", "path", "digest", "reason", "message"}], "failures_omitted", "other_sticky": [...]}. */
int vf_round_predict(const struct vf_gateway *g, enum vf_status current, const struct dw_runtime_policy *policy,
                     const char *policy_id, const struct vf_evidence *kept, json_t **ret, char *why, size_t why_size);

/* The state of a newly enrolled gateway, serialized. */
int vf_round_initial_state(enum dw_hash_alg bank, uint8_t **ret, size_t *ret_size);
/* What the gateway must quote next, in tpm2-tools syntax, from its serialized state. */
int vf_round_pcr_selection(const uint8_t *state, size_t state_size, char *buf, size_t size);
/* The status to show for a state now (unknown when its last round is older than max_age_usec, untrusted while
 * sticky failures are pending). */
int vf_round_state_status(const uint8_t *state, size_t state_size, uint64_t now, uint64_t max_age_usec,
                          enum vf_status *ret);
/* Adds to a state the sticky failure of a refused event batch that shows tampering (verdict "fork", "bad_signature",
 * "chain_mismatch"; first_seq the batch's first sequence number): it counts as found in the next round (*ret_round),
 * is listed in every later round as the reason event_chain_<verdict>, and keeps the gateway untrusted until an
 * administrator acknowledges it. The new serialized state. */
int vf_round_add_sticky_batch(const uint8_t *state, size_t state_size, const char *verdict, uint64_t first_seq,
                              const char *msg, uint8_t **ret, size_t *ret_size, uint64_t *ret_round);
/* Acknowledges sticky failures through a round (0: all); the new serialized state and how many were cleared. */
int vf_round_acknowledge(const uint8_t *state, size_t state_size, uint64_t through_round, uint8_t **ret,
                         size_t *ret_size, uint32_t *ret_cleared);
