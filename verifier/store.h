/* SPDX-License-Identifier: MIT */
#pragma once

/* The verifier's persistent state in SQLite (WAL): gateways and their incremental attestation state, pending
 * enrollments, nonces, verdict history, policies and their assignments. Every change is one transaction; the schema
 * carries its version (table schema_version) and is migrated forward on open. One connection behind a mutex: every
 * function here is thread-safe. Functions return a negative errno: -ENOENT for what is not there, -EEXIST for a
 * uniqueness conflict, -ESTALE for an optimistic-concurrency conflict, -EIO for a database error (logged). */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <tss2/tss2_tpm2_types.h>

#include "attest-round.h"
#include "macro.h"

#define VF_STORE_SCHEMA_VERSION 6

struct vf_store;

/* Opens (creating it if needed) and migrates the database. msg says why on failure. */
int vf_store_open(const char *path, struct vf_store **ret, char *msg, size_t msg_size);
void vf_store_close(struct vf_store *s);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct vf_store *, vf_store_close);
int vf_store_schema_version(struct vf_store *s, int *ret);
/* A counter that changes after every committed change of who a gateway is (enrollment, re-enrollment, removal) and
 * of which policy applies to it (policies added, assignments, groups): what is derived from those (a connection's
 * client certificate owner, a gateway's effective policies) may be kept while it is unchanged. Read it before
 * reading what depends on it. */
uint64_t vf_store_generation(struct vf_store *s);

/* ---- gateways ---------------------------------------------------------------------------------------------- */

#define VF_TPM_PUBLIC_MAX sizeof(TPM2B_PUBLIC)

enum vf_status {
        VF_STATUS_UNKNOWN, /* enrolled, no fresh evidence (never attested, or past the deadline) */
        VF_STATUS_TRUSTED,
        VF_STATUS_UNTRUSTED,
        _VF_STATUS_MAX,
        _VF_STATUS_INVALID = -EINVAL,
};

const char *vf_status_name(enum vf_status s); /* "unknown", "trusted", "untrusted" */
enum vf_status vf_status_from_name(const char *name);

struct vf_gateway {
        char id[65];
        char group[65];
        uint8_t ek_public[VF_TPM_PUBLIC_MAX]; /* marshalled TPM2B_PUBLIC */
        size_t ek_public_size;
        uint8_t ak_public[VF_TPM_PUBLIC_MAX];
        size_t ak_public_size;
        uint8_t event_key_public[VF_TPM_PUBLIC_MAX];
        size_t event_key_public_size;
        char ek_name[2 * sizeof(TPMU_NAME) + 1]; /* hex; unique over all gateways */
        char ak_name[2 * sizeof(TPMU_NAME) + 1];
        char cert_fingerprint[65]; /* hex SHA-256 of the DER client certificate issued at enrollment */
        char cert_serial[41];
        uint64_t cert_not_after; /* usec */
        char tpm_manufacturer[64];
        enum vf_status status;
        uint64_t status_since; /* usec */
        uint64_t enrolled_at;
        uint64_t last_round_at;   /* 0: never */
        uint64_t last_verdict_at; /* 0: never */
        uint64_t rounds;          /* rounds completed; the optimistic-concurrency version of state */
        uint64_t ima_next_index;  /* the IMA entry index the gateway sends from in its next round */
        bool boot_log_required;   /* the next round must carry the boot event log */
        uint8_t *state;           /* the serialized incremental attestation state (opaque here) */
        size_t state_size;
        /* The IMA entries consumed in the current boot epoch are kept (store-evidence.c), to judge them again when
         * the runtime policy changes: the policy they were last judged against ("runtime:NAME@VERSION", "" when not
         * judged), and whether all of the epoch's entries are kept (not for an epoch that began before schema
         * version 5). */
        char runtime_judged[96];
        bool evidence_complete;
};

void vf_gateway_done(struct vf_gateway *g);

int vf_store_gateway_get(struct vf_store *s, const char *id, struct vf_gateway *ret);
/* Finds the gateway a client certificate was issued to. */
int vf_store_gateway_by_fingerprint(struct vf_store *s, const char *fingerprint_hex, char ret_id[static 65]);
/* Enrolls g (new), or re-enrolls an existing gateway with the same EK and AK (new certificate and event key;
 * attestation state kept). -EEXIST (with which in conflict: "ek", "ak" or "ek-in-use") when the id is enrolled with
 * another EK or AK, or the EK is enrolled under another id. */
int vf_store_gateway_enroll(struct vf_store *s, const struct vf_gateway *g, const char **ret_conflict);
/* Removes a gateway and everything of it (verdicts, pending enrollment, assignments, event-chain state, events) in
 * one transaction. (The nonces it used hold nothing of it: they age out.) */
int vf_store_gateway_delete(struct vf_store *s, const char *id);

/* ---- pending enrollments ----------------------------------------------------------------------------------- */

struct vf_enrollment {
        char gateway_id[65];
        uint8_t ek_public[VF_TPM_PUBLIC_MAX];
        size_t ek_public_size;
        uint8_t ak_public[VF_TPM_PUBLIC_MAX];
        size_t ak_public_size;
        uint8_t event_key_public[VF_TPM_PUBLIC_MAX];
        size_t event_key_public_size;
        char ek_name[2 * sizeof(TPMU_NAME) + 1];
        char ak_name[2 * sizeof(TPMU_NAME) + 1];
        char tpm_manufacturer[64];
        uint8_t nonce[32]; /* the challenge: qualifying data of the event key's TPM2_Certify */
        uint8_t proof[32]; /* HMAC-SHA256(credential secret, nonce): what the gateway must return */
        char *csr_pem;     /* malloc'd */
        uint64_t expires;  /* usec */
};

void vf_enrollment_done(struct vf_enrollment *e);
/* Replaces any pending enrollment of the same gateway. */
int vf_store_enrollment_put(struct vf_store *s, const struct vf_enrollment *e);
/* Fetches and deletes it (one attempt per challenge). */
int vf_store_enrollment_take(struct vf_store *s, const char *gateway_id, struct vf_enrollment *ret);

/* ---- nonces ------------------------------------------------------------------------------------------------ */

/* Unused nonces are kept in memory (nonces.h); the store keeps the used ones, recorded with the verdict of the round
 * that used them, until nonce_retention after their expiry. A nonce starts with its expiry (vf_nonce_make): the
 * used ones are kept in that order, so recording one appends, and the expired ones are a range of keys. A used
 * nonce holds nothing of its gateway: it is unique by itself (24 random bytes). */
#define VF_NONCES_OUTSTANDING 16

enum vf_nonce_result {
        VF_NONCE_OK,
        VF_NONCE_UNKNOWN, /* never issued to this gateway */
        VF_NONCE_REUSED,  /* already used */
        VF_NONCE_EXPIRED,
};

const char *vf_nonce_result_name(enum vf_nonce_result r); /* "ok", "nonce-unknown", "nonce-reused", ... */

/* A nonce used by a round: recorded (in the round's transaction) so that a replay is recognized. */
struct vf_nonce_use {
        const uint8_t *nonce; /* vf_nonce_make's layout: the expiry first */
        size_t size;
};

/* Whether a round used the nonce (recorded and not yet past retention). */
int vf_store_nonce_used(struct vf_store *s, const uint8_t *nonce, size_t size, bool *ret);

/* ---- retention (store-cleanup.c) --------------------------------------------------------------------------------- */

struct vf_cleanup {
        uint64_t nonces_before;      /* used nonces that expired before this (usec) */
        uint64_t events_before;      /* runtime events received before this */
        uint64_t enrollments_before; /* pending enrollments that expired before this */
        size_t batch;                /* rows deleted per transaction */
        size_t max_batches;          /* transactions per table and call: what is left waits for the next call */
};

struct vf_cleanup_counts {
        uint64_t nonces, events, enrollments;
        bool more; /* a table had more to delete than max_batches allowed */
};

/* Deletes what is past retention, in transactions of at most c->batch rows each, taking the store's lock for one
 * transaction at a time (requests go on in between). */
int vf_store_cleanup(struct vf_store *s, const struct vf_cleanup *c, struct vf_cleanup_counts *ret);

/* ---- rounds and verdicts ----------------------------------------------------------------------------------- */

struct vf_verdict_record {
        uint64_t time; /* usec */
        enum vf_status verdict;
        const char *reasons;       /* JSON array text */
        const char *evidence;      /* JSON object text: the report's "evidence" (what was TPM-backed); may be NULL */
        uint64_t ima_from, ima_to; /* entries verified in this round: [from, to) */
        const char *nonce_hex;     /* may be NULL */
        const char *token;         /* the EAR token (not kept by the daemon: it is in the answer); may be NULL */
        uint64_t latency_usec;
};

/* What a change of a gateway's state was computed from: it is written only if the gateway's round counter and
 * state are still these (-ESTALE otherwise: another round, an acknowledgement or a refused event batch came first). */
struct vf_state_expect {
        uint64_t rounds;
        const uint8_t *state;
        size_t state_size;
};

/* What a round changes of the gateway's kept IMA entries (store-evidence.c). */
struct vf_evidence_update {
        bool new_epoch; /* the gateway rebooted: the entries kept are of the previous epoch and are deleted first */
        const struct dw_round_stored_entry *entries; /* the entries the round consumed (records borrowed) */
        size_t n;
};

/* The end of a round, in one transaction: the new state and counters (ima_next_index, boot_log_required, state,
 * state_size, runtime_judged, evidence_complete of g) are written if the gateway is still as expected (-ESTALE
 * otherwise), the kept IMA entries updated (evidence, optional), the nonce (optional) recorded as used (-EEXIST when
 * it was already), the verdict appended, the status updated, and history beyond keep verdicts pruned (0 keeps all).
 * *ret_previous (optional) gets the status before. */
int vf_store_round_commit(struct vf_store *s, const struct vf_gateway *g, const struct vf_state_expect *expected,
                          const struct vf_evidence_update *evidence, const struct vf_nonce_use *nonce,
                          const struct vf_verdict_record *v, uint64_t keep, enum vf_status *ret_previous);
/* Replaces the state (an administrator's acknowledgement) if it is still as expected. */
int vf_store_state_replace(struct vf_store *s, const char *gateway_id, const struct vf_state_expect *expected,
                           const uint8_t *state, size_t state_size);
/* A verdict that changes the state but is no round (a refused event batch that adds a sticky failure): the state is
 * replaced if it is still as expected, and the verdict added, in one transaction. */
int vf_store_verdict_add_state(struct vf_store *s, const char *gateway_id, const struct vf_state_expect *expected,
                               const uint8_t *state, size_t state_size, const struct vf_verdict_record *v,
                               uint64_t keep, enum vf_status *ret_previous);
/* A verdict without a state change (a rejected round: stale nonce, replay; a round not judged, which uses its nonce
 * when nonce is not NULL). */
int vf_store_verdict_add(struct vf_store *s, const char *gateway_id, const struct vf_nonce_use *nonce,
                         const struct vf_verdict_record *v, uint64_t keep, enum vf_status *ret_previous);

/* Gateways that are not unknown and whose last verdict (or enrollment) is older than `before`: candidates for
 * "no fresh evidence". */
struct vf_stale_gateway {
        char id[65];
        enum vf_status status;
        uint64_t last_verdict_at;
        uint8_t *state;
        size_t state_size;
};

int vf_store_stale_gateways(struct vf_store *s, uint64_t before, struct vf_stale_gateway **ret, size_t *ret_n);
void vf_stale_gateways_free(struct vf_stale_gateway *list, size_t n);
/* vf_store_verdict_add, only if no verdict was added since expected_last_verdict_at (-ESTALE otherwise). */
int vf_store_verdict_add_if(struct vf_store *s, const char *gateway_id, uint64_t expected_last_verdict_at,
                            const struct vf_verdict_record *v, uint64_t keep, enum vf_status *ret_previous);

/* ---- read API ---------------------------------------------------------------------------------------------- */

/* [{"id", "group", "status", "status_since", "enrolled_at", "last_round_at", "rounds", "ima_next_index",
 *   "tpm_manufacturer", "last_verdict": {...}|null, "policies": {...}}] */
int vf_store_gateways_json(struct vf_store *s, const char *only_id, json_t **ret);
/* Newest first: [{"id", "time", "verdict", "reasons", "ima_from", "ima_to", "latency_ms"}]; before_id 0: from the
 * newest. */
int vf_store_verdicts_json(struct vf_store *s, const char *gateway_id, uint64_t limit, uint64_t before_id,
                           json_t **ret);
int vf_store_status_counts(struct vf_store *s, uint64_t ret_counts[static _VF_STATUS_MAX]);

/* ---- policies ---------------------------------------------------------------------------------------------- */

enum vf_policy_kind {
        VF_POLICY_RUNTIME,
        VF_POLICY_BOOT,
        _VF_POLICY_KIND_MAX,
        _VF_POLICY_KIND_INVALID = -EINVAL,
};

const char *vf_policy_kind_name(enum vf_policy_kind k); /* "runtime", "boot" */
enum vf_policy_kind vf_policy_kind_from_name(const char *name);

/* Stores body as the next version of (kind, name); *ret_version gets it (1 for a new name). */
int vf_store_policy_add(struct vf_store *s, enum vf_policy_kind kind, const char *name, const char *body, size_t size,
                        uint64_t *ret_version);
/* version 0: the latest. ret_body NULL: only the version is looked up. */
int vf_store_policy_get(struct vf_store *s, enum vf_policy_kind kind, const char *name, uint64_t version,
                        char **ret_body, size_t *ret_size, uint64_t *ret_version);
/* {"runtime": {"NAME": {"latest": N, "versions": [{"version", "created", "sha256", "size"}]}}, "boot": {...}} */
int vf_store_policies_json(struct vf_store *s, json_t **ret);

/* Assignments: a policy name and a version (0 follows the latest), per gateway or per group; the gateway's own
 * assignment wins over its group's. name NULL clears. */
struct vf_assignment {
        char name[65];
        uint64_t version;
};

int vf_store_assign(struct vf_store *s, bool group, const char *target, enum vf_policy_kind kind, const char *name,
                    uint64_t version);
int vf_store_gateway_set_group(struct vf_store *s, const char *id, const char *group);
/* The assignment in effect for a gateway: -ENOENT when it has none. */
int vf_store_effective_policy(struct vf_store *s, const char *gateway_id, enum vf_policy_kind kind,
                              struct vf_assignment *ret);
/* The gateways whose policy of kind a change affects: with policy_name, those that follow the latest version of that
 * policy (their own assignment, else their group's); with group, those of the group without an assignment of kind
 * of their own. *ret is an array of *ret_n ids (malloc'd; NULL when none). */
int vf_store_gateways_affected(struct vf_store *s, enum vf_policy_kind kind, const char *policy_name, const char *group,
                               char (**ret)[65], size_t *ret_n);
/* {"groups": {"NAME": {"runtime": {...}|null, "boot": ..., "gateways": N}}} */
int vf_store_groups_json(struct vf_store *s, json_t **ret);

/* ---- kept IMA entries (store-evidence.c) ---------------------------------------------------------------------
 *
 * Per gateway, the IMA entries consumed in its current boot epoch, as received (the binary record and the bank of
 * its template digest), so that a change of runtime policy judges them again (lib/attest-round dw_round_rejudge) and
 * `impact` can predict it. Records are content-addressed (SHA-256 of the bank and the record): a fleet running the
 * same files keeps each entry once. Written in the round's transaction; deleted at a reboot and with the gateway. */

struct vf_evidence {
        struct dw_round_stored_entry *entries; /* by index; records point into data */
        size_t n;
        uint8_t *data;
};

void vf_evidence_done(struct vf_evidence *e);
/* The kept entries of a gateway, by index (none: n = 0). */
int vf_store_evidence_get(struct vf_store *s, const char *gateway_id, struct vf_evidence *ret);
/* Distinct records kept, and kept entries (all gateways). */
int vf_store_evidence_counts(struct vf_store *s, uint64_t *ret_records, uint64_t *ret_entries);

/* ---- runtime events (store-events.c) ------------------------------------------------------------------------- */

/* The serialized event-chain verification state of a gateway (dw_event_verify_state_serialize): -ENOENT when no
 * batch was ever judged for it. */
int vf_store_event_state_get(struct vf_store *s, const char *gateway_id, uint8_t **ret, size_t *ret_size);

struct vf_event_record {
        uint32_t reset_count; /* the chain's TPM epoch */
        uint64_t seq;
        uint64_t time;      /* realtime, usec */
        uint64_t monotonic; /* boot-relative, usec */
        const char *kind;
        const char *severity;
        const char *fields; /* JSON object text */
};

/* An accepted batch: its events are appended and the state replaced, in one transaction, if the stored state is
 * still expected (NULL: none stored yet); -ESTALE otherwise (another batch won). */
int vf_store_events_commit(struct vf_store *s, const char *gateway_id, const uint8_t *expected, size_t expected_size,
                           const uint8_t *state, size_t state_size, const struct vf_event_record *events, size_t n,
                           uint64_t now);

struct vf_event_query {
        const char *gateway_id; /* NULL: all */
        const char *kind;       /* NULL: all */
        uint64_t since, until;  /* realtime usec, inclusive; 0: unbounded */
        uint64_t limit;
};

/* Newest first (by time, then id): [{"id", "gateway", "reset_count", "seq", "time", "monotonic_usec", "kind",
 * "severity", "fields", "received"}]. */
int vf_store_events_json(struct vf_store *s, const struct vf_event_query *q, json_t **ret);
