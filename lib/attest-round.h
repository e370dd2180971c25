/* SPDX-License-Identifier: MIT */
#pragma once

/* The verifier's decision for one attestation round of one gateway. Pure: evidence is bytes the caller received,
 * the per-gateway state is plain data the caller persists, policies are shared immutable objects; nothing here does
 * I/O, talks to a network or a TPM, or reads a clock. docs/attest-round.md describes the round in full.
 *
 * A round (push model: the gateway answers the verifier's single-use nonce):
 *  1. the quote: AK signature, magic, type, nonce, PCR digest of the claimed values, TPM clock against the last one
 *     this gateway's TPM vouched for (resetCount up = reboot: a new boot epoch; a rollback or rewind is an attack).
 *     The quote must cover PCRs 0-7 and 10 of the state's bank; DW_ROUND_PCRS_DEFAULT (0-10) is what a verifier
 *     should ask for, so that boot_aggregate (PCRs 0-9) can be checked too. Nothing else is judged unless the
 *     quote is valid: the logs are only worth what the quoted PCRs prove of them.
 *  2. measured boot: the boot event log is required once per boot epoch (the first round, after each reboot, and
 *     whenever PCRs 0-9 changed since it was verified); it must replay to every quoted PCR 0-9 of every bank it
 *     carries, then it is judged against the boot policy (event allowlists, Secure Boot). Golden PCR values of the
 *     boot policy are compared with the quoted PCRs in every round.
 *  3. IMA: the entries from the state's next index are replayed one by one from the persisted running PCR 10 (both
 *     the native and the sha1-padded rule until one has matched, then that rule only); the first point where the
 *     running value equals the quoted PCR 10 ends the replay. Entries before it are consumed: judged against the
 *     runtime policy, and the state advances past them. Entries after it are pending: neither judged nor consumed,
 *     the gateway sends them again next round (a log read after the quote runs ahead of it). A log that never
 *     reaches the quoted value is ima_log_mismatch, and nothing of it is consumed or judged. Entry 0,
 *     boot_aggregate, is checked against the quoted PCRs 0-9 (0-7 for a SHA-1 aggregate) when they are quoted.
 *  4. the event chain (optional): TPM2_NV_Certify of the monitor's event-chain head NV index, by the AK over the
 *     same nonce; its value is reported, and compared with the head the caller expects when given.
 *
 * Verdict: trusted when nothing failed and nothing sticky is pending; otherwise untrusted, with every reason (kind,
 * entry index, path, digest, rule, message). Unknown is the caller's verdict for a gateway whose evidence did not
 * arrive in time: dw_round_state_verdict().
 *
 * Sticky failures: a reason is sticky when the evidence was authentic (valid quote, logs that replay to it) and shows
 * the gateway in a bad state: a runtime or boot policy failure, a boot_aggregate that contradicts the quoted boot
 * PCRs, a TPM clock/reset rollback. Such a gateway stays untrusted, with those reasons kept in its state, even
 * after clean rounds and reboots, until an administrator acknowledges them (dw_round_state_acknowledge()).
 * Failures of the evidence itself (bad signature, wrong nonce, a log that does not replay, a missing boot log) are
 * not sticky: they do not advance the state, so they recur in every round for as long as their cause lasts.
 *
 * Threads: a struct dw_round_ctx per thread; the policies are immutable and may be shared by any number of threads.
 * Per-round cost does not depend on the size of the policies (hash-table lookups). */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>
#include <tss2/tss2_tpm2_types.h>

#include "boot-policy.h"
#include "dw-error.h"
#include "hash.h"
#include "ima-replay.h"
#include "runtime-policy.h"
#include "tpm-quote.h"

/* The PCRs a verifier asks the gateway to quote: boot PCRs 0-7, 8-9 (boot loader: kernel command line and image,
 * and the rest of boot_aggregate) and 10 (IMA). The bank is the state's (sha256 by default). A quote of 0-7,10 only
 * is accepted, with boot_aggregate reported as not checked. */
#define DW_ROUND_PCRS_DEFAULT  "sha256:0,1,2,3,4,5,6,7,8,9,10"
#define DW_ROUND_PCRS_REQUIRED 0x4ffu /* PCRs 0-7 and 10: the bitmask of PCRs every quote must cover */
#define DW_ROUND_IMA_PCR       10
#define DW_ROUND_BOOT_PCRS     0x3ffu /* PCRs 0-9: replayed from the boot log when quoted */

#define DW_ROUND_REASONS_MAX   32 /* reasons a result lists; more are counted in reasons_omitted */
#define DW_ROUND_EPOCH_UNKNOWN UINT64_MAX
#define DW_ROUND_STICKY_MAX    8 /* sticky reasons a state keeps (the first ones); more are counted */

enum dw_round_verdict {
        DW_ROUND_UNKNOWN,   /* no fresh evidence (dw_round_state_verdict), or never attested */
        DW_ROUND_TRUSTED,   /* everything checked passed, nothing sticky pending */
        DW_ROUND_UNTRUSTED, /* reasons say why */
        _DW_ROUND_VERDICT_MAX,
};

/* "unknown", "trusted", "untrusted". */
const char *dw_round_verdict_name(enum dw_round_verdict v);

enum dw_round_reason_kind {
        DW_ROUND_EVIDENCE_MALFORMED,   /* quote, signature or PCR file cannot be parsed, or is missing */
        DW_ROUND_QUOTE,                /* the quote is not valid: rule = the lib/tpm-quote reason ("nonce-mismatch",
                                        * "bad-signature", "pcr-digest-mismatch", "clock-rewind", ...); sticky
                                        * for "reset-rollback", "restart-rollback" and "clock-rewind" */
        DW_ROUND_QUOTE_SELECTION,      /* the quote does not cover the required PCRs of the state's bank */
        DW_ROUND_BOOT_LOG_REQUIRED,    /* no boot log, but none verified for this boot epoch and quoted PCRs */
        DW_ROUND_BOOT_LOG_MALFORMED,   /* the boot log cannot be parsed (index = the event) */
        DW_ROUND_BOOT_LOG_MISMATCH,    /* the boot log does not replay to a quoted PCR (rule "sha256:4") */
        DW_ROUND_BOOT_POLICY,          /* sticky: a boot policy rule failed (rule = its JSON path) */
        DW_ROUND_IMA_INDEX_GAP,        /* the entries sent start after the next expected index */
        DW_ROUND_IMA_ENTRY_MALFORMED,  /* an entry that cannot be parsed, or for another PCR than 10 */
        DW_ROUND_IMA_DIGEST_MISMATCH,  /* an entry's template digest is not the hash of its template data */
        DW_ROUND_IMA_LOG_MISMATCH,     /* the entries never replay to the quoted PCR 10 (dropped, added, changed) */
        DW_ROUND_BOOT_AGGREGATE,       /* sticky: boot_aggregate is not the hash of the quoted PCRs 0-9 (or a
                                        * boot_aggregate entry that is not entry 0) */
        DW_ROUND_RUNTIME_POLICY,       /* sticky: an entry the runtime policy rejects (rule = the result name:
                                        * "not_in_allowlist", "digest_mismatch", ...) */
        DW_ROUND_EVENT_CHAIN_ATTEST,   /* the NV certification of the event-chain head is not valid (rule = the
                                        * lib/tpm-quote reason) or is of another boot epoch than the quote */
        DW_ROUND_EVENT_CHAIN_MISMATCH, /* the certified head is not the one the caller expects */
        _DW_ROUND_REASON_KIND_MAX,
};

/* "evidence_malformed", "quote", "quote_selection", "boot_log_required", "boot_log_malformed", "boot_log_mismatch",
 * "boot_policy", "ima_index_gap", "ima_entry_malformed", "ima_digest_mismatch", "ima_log_mismatch",
 * "boot_aggregate", "runtime_policy", "event_chain_attest", "event_chain_mismatch". */
const char *dw_round_reason_kind_name(enum dw_round_reason_kind kind);

struct dw_round_reason {
        enum dw_round_reason_kind kind;
        bool sticky;    /* kept in the state until acknowledged */
        bool earlier;   /* a sticky reason of an earlier round, listed again (not found in this round) */
        uint64_t round; /* the round it was found in (state rounds counter, 1-based) */
        uint64_t epoch; /* the boot epoch of the evidence (the state's reboots counter then);
                         * DW_ROUND_EPOCH_UNKNOWN for a reason read from a version 1 state blob */
        int64_t index;  /* IMA entry index or boot log event index; -1 when none */
        char path[256]; /* the IMA event name (bytes outside printable ASCII as \xNN, cut with "..."), or the boot
                         * event's label; "" when none */
        char digest[8 + 2 * DW_HASH_MAX_SIZE + 1]; /* "sha256:<hex>": the file or event digest, or the PCR value;
                                                    * "" when none */
        char rule[64]; /* what failed, by name (see the kinds); "" when the kind says it all */
        char msg[256]; /* one line, no trailing newline */
};

/* The persisted per-gateway state: plain data, no pointers. Create it with dw_round_state_init() at enrollment,
 * replace it with the result's state after each round (persist it: dw_round_state_serialize()). */
struct dw_round_state {
        /* counters */
        uint64_t rounds;           /* rounds judged */
        uint64_t rounds_untrusted; /* of which untrusted */
        uint64_t reboots;          /* boot epochs seen after the first */
        uint64_t ima_entries;      /* IMA entries consumed, all epochs */

        /* the caller's clock (any unit, the same in every call: dw_round_expect.now) */
        uint64_t last_round_time;           /* of the last round */
        enum dw_round_verdict last_verdict; /* of the last round */

        /* the TPM's clock as the last valid quote vouched for it; the boot epoch is clock.reset_count */
        bool has_clock;
        struct dw_tpm_clock clock;

        /* measured boot of the current epoch */
        bool boot_verified;        /* a boot log replayed to the quoted PCRs in this epoch ... */
        uint32_t boot_reset_count; /* ... at this resetCount, ... */
        /* ... to these PCRs 0-9 of ima_bank: a later quote of other values needs the boot log again */
        uint8_t boot_pcrs[10][DW_HASH_MAX_SIZE];

        /* IMA replay of the current epoch, in one bank, PCR 10 only */
        enum dw_hash_alg ima_bank; /* the quoted bank replayed (dw_round_state_init) */
        int ima_rule;              /* enum dw_ima_bank_rule that matched the TPM, -1 until one has */
        uint64_t ima_next_index;   /* entries consumed this epoch = index of the next one */
        uint64_t ima_violations;   /* violations among them */
        uint8_t ima_pcr[_DW_IMA_BANK_RULE_MAX][DW_HASH_MAX_SIZE]; /* running PCR 10 under each rule */

        /* sticky failures since the last acknowledgement */
        uint32_t sticky_count;        /* all of them (may exceed n_sticky) */
        uint64_t sticky_last_round;   /* the round of the latest */
        uint32_t epoch_runtime_count; /* of which runtime policy failures of the current boot epoch (kept or not):
                                       * what a re-judge under another policy replaces (dw_round_rejudge) */
        uint32_t n_sticky;            /* kept below: the first ones */
        struct dw_round_reason sticky[DW_ROUND_STICKY_MAX];
};

/* A new gateway: never attested, verdict unknown, IMA replayed in bank (DW_HASH_SHA256 normally; the quote must
 * then include that bank). Returns 0, or -EINVAL for a bank we cannot hash. */
int dw_round_state_init(struct dw_round_state *s, enum dw_hash_alg ima_bank);

/* The verdict to show now: untrusted while sticky failures are pending; unknown when there never was a round or the
 * last one is older than max_age (now - last_round_time > max_age, in the caller's unit); else the last round's. */
enum dw_round_verdict dw_round_state_verdict(const struct dw_round_state *s, uint64_t now, uint64_t max_age);

/* An administrator acknowledges the sticky failures found up to and including round through_round (0: all of them).
 * Later ones stay. Returns the number of sticky failures cleared. */
uint32_t dw_round_state_acknowledge(struct dw_round_state *s, uint64_t through_round);

/* A compact, versioned binary blob for the verifier's database (a few hundred bytes; little-endian; its own
 * checksum). _serialize returns a malloc'd buffer. _deserialize refuses anything it did not write: -EBADMSG for a
 * damaged or inconsistent blob, -EOPNOTSUPP for a newer version (err says why). */
#define DW_ROUND_STATE_VERSION 2 /* 2: reasons' epoch, epoch_runtime_count; version 1 is still read */
int dw_round_state_serialize(const struct dw_round_state *s, uint8_t **ret_buf, size_t *ret_size);
int dw_round_state_deserialize(const uint8_t *buf, size_t size, struct dw_round_state *ret, struct dw_error *err);

/* What the caller knows of the gateway and of this round. Pointers are borrowed for the call. */
struct dw_round_expect {
        EVP_PKEY *ak;                 /* the AK (from enrollment, derived once: see dw_attest_expect) */
        const TPMT_PUBLIC *ak_public; /* optional: its public area (must be a restricted signing key) */
        const uint8_t *nonce;         /* the single-use nonce issued for this round */
        size_t nonce_size;
        uint64_t now; /* the caller's clock when the evidence arrived (stored in the state) */
        const struct dw_runtime_policy *runtime_policy; /* NULL: entries are not judged (reported not checked) */
        const struct dw_boot_policy *boot_policy;       /* NULL: measured boot is replayed but not judged */
        const TPM2B_NAME *nv_index_name; /* the event-chain NV index's Name (written): needed with nv_attest */
        const uint8_t *event_chain_head; /* optional: the head the event stream says the NV index holds */
        size_t event_chain_head_size;
};

/* The evidence of one round, as the gateway sent it. Any part may be missing (NULL/0): what is then required fails
 * the round with a reason. Malformed bytes never make dw_attest_round() fail: they make the round untrusted. */
struct dw_round_evidence {
        const uint8_t *quote; /* marshalled TPMS_ATTEST (tpm2_quote -m) */
        size_t quote_size;
        const uint8_t *signature; /* marshalled TPMT_SIGNATURE (tpm2_quote -s) */
        size_t signature_size;
        const uint8_t *pcrs; /* the PCR values: the tpm2-tools PCR file (tpm2_quote -o) */
        size_t pcrs_size;
        const uint8_t *ima_log; /* binary IMA entries, ima_first_index on; the tail may be incomplete */
        size_t ima_log_size;
        uint64_t ima_first_index;            /* index of the first entry in ima_log (earlier ones are skipped) */
        enum dw_hash_alg ima_log_digest_alg; /* bank of the logged template digests: DW_HASH_SHA1 for
                                              * binary_runtime_measurements, DW_HASH_SHA256 for ..._sha256. One
                                              * file suffices: every bank's template digest is recomputed from the
                                              * template data */
        const uint8_t *boot_log;             /* binary_bios_measurements, when sent */
        size_t boot_log_size;
        const uint8_t *nv_attest; /* optional: TPM2_NV_Certify of the event-chain head (TPMS_ATTEST) */
        size_t nv_attest_size;
        const uint8_t *nv_signature;
        size_t nv_signature_size;
};

enum dw_round_check {
        DW_ROUND_NOT_CHECKED, /* not done: no policy, not quoted, or the quote failed (notes say why) */
        DW_ROUND_PASSED,
        DW_ROUND_PASSED_EARLIER, /* boot log: verified in an earlier round of this boot epoch */
        DW_ROUND_FAILED,
        _DW_ROUND_CHECK_MAX,
};

/* "not_checked", "passed", "passed_earlier", "failed". */
const char *dw_round_check_name(enum dw_round_check c);

struct dw_round_checks {
        enum dw_round_check quote;          /* signature, nonce, clock, PCR digest, selection */
        enum dw_round_check boot_log;       /* boot log replays to the quoted PCRs */
        enum dw_round_check boot_policy;    /* golden PCRs (every round), events and Secure Boot (with the log) */
        enum dw_round_check boot_aggregate; /* only in the round that consumes entry 0 */
        enum dw_round_check ima;            /* IMA entries replay to the quoted PCR 10 */
        enum dw_round_check runtime_policy; /* every consumed entry accepted */
        enum dw_round_check event_chain;    /* NV certification valid (and the head as expected, when given) */
};

struct dw_round_result {
        enum dw_round_verdict verdict;
        struct dw_round_checks checks;
        char notes[512]; /* what was not checked and why, "; "-separated; "" when everything was */

        /* for the caller's next request to the gateway */
        bool reboot;             /* the quote shows a TPM reset since the previous valid quote: a new boot epoch */
        bool boot_log_needed;    /* the next round must carry the boot log */
        uint64_t ima_next_index; /* the next round's IMA entries start here */

        struct dw_tpm_clock clock; /* the quote's clock (when it parsed) */
        int ima_rule;              /* enum dw_ima_bank_rule the TPM follows, -1 while unknown */

        /* the event chain head, when an NV certification was valid */
        bool event_chain_certified;
        uint16_t event_chain_offset;
        uint16_t event_chain_head_size;
        uint8_t event_chain_head[64];

        struct {
                uint64_t entries_consumed; /* replayed, judged, and the state advanced past them */
                uint64_t entries_pending;  /* complete entries after the match: sent again next round */
                uint64_t entries_skipped;  /* entries before the state's next index (already consumed) */
                uint64_t entries_rejected; /* consumed entries the runtime policy rejected */
                uint64_t boot_events;      /* events of the boot log replayed */
        } stats;

        /* The new state: persist it as this gateway's state. The input state is never modified. */
        struct dw_round_state state;

        /* Every failure of this round, then the sticky ones of earlier rounds still pending (earlier = true). */
        size_t n_reasons;
        size_t reasons_omitted; /* failures beyond DW_ROUND_REASONS_MAX, and earlier sticky ones the state did
                                 * not keep */
        struct dw_round_reason reasons[DW_ROUND_REASONS_MAX];
};

/* Scratch space and hashing contexts for rounds: one per thread, reused for every round (a round allocates only
 * the small buffers of the quote verification). */
struct dw_round_ctx;
int dw_round_ctx_new(struct dw_round_ctx **ret);
void dw_round_ctx_free(struct dw_round_ctx *ctx);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct dw_round_ctx *, dw_round_ctx_free);

/* Judges one round. Returns 0 with *ret filled (any verdict), or a negative errno for a caller error: -EINVAL (no
 * AK, no nonce, a state that is not one dw_round_state_init/_deserialize made, nv_attest without nv_index_name),
 * -ENOMEM. state and &ret->state may be the same object. */
int dw_attest_round(struct dw_round_ctx *ctx, const struct dw_round_state *state, const struct dw_round_expect *expect,
                    const struct dw_round_evidence *ev, struct dw_round_result *ret);

/* ---- re-judging an epoch's evidence under another runtime policy ----------------------------------------------
 *
 * When the runtime policy that applies to a gateway changes, the entries it consumed in its current boot epoch (which
 * the caller keeps) are judged again under the new policy, before the round judges its new entries: the runtime
 * policy failures of the current epoch are replaced by the new policy's judgement of all of them. Failures it now
 * accepts are no longer pending; entries it rejects are sticky runtime_policy failures found in the coming round
 * (state->rounds + 1; that round lists them as its own, not as earlier). Other sticky failures (boot policy,
 * boot_aggregate, rollbacks, event-chain tampering) and runtime failures of earlier epochs (or of unknown epoch: read
 * from a version 1 state) are kept as they are. An acknowledged failure that the new policy still rejects is pending
 * again: an acknowledgement is of the evidence under the policy of its time. */

/* One IMA entry the caller kept: the binary log record exactly as received (PCR, template digest, template name,
 * template data), the bank of its template digest, and its index. */
struct dw_round_stored_entry {
        uint64_t index;
        enum dw_hash_alg digest_alg;
        const uint8_t *record;
        size_t record_size;
};

struct dw_round_rejudge_result {
        /* The verdict the next round gives when its own evidence is clean: untrusted while sticky failures are
         * pending, trusted otherwise; unknown for a gateway that never attested. */
        enum dw_round_verdict verdict;
        uint64_t entries; /* judged (boot_aggregate entries are not the policy's) */
        uint32_t before;  /* sticky runtime failures of the epoch pending before (state->epoch_runtime_count) */
        uint32_t found;   /* entries the new policy rejects: the epoch's sticky runtime failures now */
        struct dw_round_state state; /* the state to judge the round from (and to persist) */
        /* The failures found (as reasons of the coming round), the first DW_ROUND_REASONS_MAX */
        size_t n_reasons;
        size_t reasons_omitted;
        struct dw_round_reason reasons[DW_ROUND_REASONS_MAX];
};

/* Re-judges the current epoch's entries of state under policy. entries must be exactly the entries the state
 * consumed in its epoch (indexes 0 .. state->ima_next_index - 1, in order), else -EBADMSG (nothing judged); an entry
 * that does not parse as its index is -EBADMSG too. -EINVAL for a caller error (no policy, a bad state), -ENOMEM.
 * Never modifies state; state and &ret->state may be the same object. Pure. */
int dw_round_rejudge(struct dw_round_ctx *ctx, const struct dw_round_state *state,
                     const struct dw_runtime_policy *policy, const struct dw_round_stored_entry *entries, size_t n,
                     struct dw_round_rejudge_result *ret);

/* The result as JSON (a new jansson reference; NULL when out of memory), for APIs and logs:
 *   {"verdict": "untrusted", "checks": {"quote": "passed", ..., "event_chain": "not_checked"}, "notes": "...",
 *    "reboot": false, "boot_log_needed": false, "ima_next_index": 12, "ima_rule": "native" | null,
 *    "clock": {"clock", "reset_count", "restart_count", "safe"},
 *    "event_chain": {"offset", "head": "<hex>"} (only when certified),
 *    "stats": {"entries_consumed", "entries_pending", "entries_skipped", "entries_rejected", "boot_events"},
 *    "reasons": [{"kind", "sticky", "earlier", "round", "index" (absent when none), "path", "digest", "rule",
 *                 "message"}, ...], "reasons_omitted": 0,
 *    "sticky_pending": 1}
 * Empty strings are left out of reasons. */
struct json_t *dw_round_result_to_json(const struct dw_round_result *r);
/* One reason, as in "reasons" above (also for the sticky reasons a state keeps). */
struct json_t *dw_round_reason_to_json(const struct dw_round_reason *r);

/* The quote selection to request for a state's bank: DW_ROUND_PCRS_DEFAULT in that bank. */
void dw_round_pcr_selection(const struct dw_round_state *s, TPML_PCR_SELECTION *ret);
