/* SPDX-License-Identifier: MIT */
#pragma once

/* Runtime events of driftwatch-monitor: hash-chained, sequence-numbered, in batches signed by the TPM-resident
 * event key, with every batch's chain head extended into the TPM's NV extend index. Pure: no clock, no I/O, no TPM
 * (the caller signs with dw_tpm_sign_digest and extends with dw_tpm_nv_extend). docs/events.md describes the
 * formats byte by byte.
 *
 * An event: sequence number (from 0 in each chain, never reused), realtime and boot-relative time, kind (a stable
 * short name: "monitor_start", "ima_policy_violation", "drift_exec", ...), severity, and up to 32 key/value fields
 * (string or integer). Its canonical encoding is a fixed-order binary form (big-endian, length-prefixed); the JSON
 * form maps 1:1 to it.
 *
 * A chain belongs to one gateway and one TPM reset epoch (the NV extend index is cleared by every TPM reset):
 *   genesis = SHA-256("driftwatch-event-chain-v1" || chain id)     chain id = gateway id, resetCount, boot id
 *   head_n  = SHA-256(head_{n-1} || encoding of event n)           head_{-1} = genesis
 * Two chains (two gateways, two boots) never share a head, so a batch cannot be replayed into another chain.
 *
 * A batch: consecutive events of one chain, the head before the first (prev_head) and after the last (head). The
 * event key signs SHA-256 of the batch's canonical encoding; the monitor then extends head into the NV index
 * (nv = SHA-256(nv || head)), so the TPM holds a value that commits to every batch since its last reset.
 *
 * Gateway side:  dw_event_chain_init, per batch dw_event_batch_new, dw_event_chain_append (per event),
 *                dw_event_batch_digest -> dw_tpm_sign_digest -> dw_event_batch_set_signature,
 *                dw_tpm_nv_extend(head), dw_event_batch_format_json.
 * Verifier side: dw_event_key_from_public (once), dw_event_verify_state_init (at enrollment), per batch
 *                dw_event_verify_batch_json (state in, result with the new state out), and per attestation round
 *                dw_event_verify_state_nv_value (dw_round_expect.event_chain_head) or dw_event_verify_nv.
 *
 * Functions return a negative errno; ret_ out-parameters are written only on success. Decoders take untrusted
 * input: they check every length, count, charset and encoding, and fill err (if not NULL) with what and where. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>
#include <tss2/tss2_tpm2_types.h>

#include "dw-error.h"
#include "macro.h"

struct json_t; /* jansson */

#define DW_EVENT_VERSION          1   /* of the event and batch encodings */
#define DW_EVENT_HEAD_SIZE        32  /* SHA-256 */
#define DW_EVENT_BOOT_ID_SIZE     16  /* /proc/sys/kernel/random/boot_id */
#define DW_EVENT_GATEWAY_ID_MAX   128 /* bytes of printable ASCII (0x21-0x7e) */
#define DW_EVENT_KIND_MAX         64  /* [a-z][a-z0-9_]* */
#define DW_EVENT_KEY_MAX          32  /* [a-z][a-z0-9_]* */
#define DW_EVENT_FIELDS_MAX       32
#define DW_EVENT_VALUE_MAX        4096                  /* bytes of a string value (UTF-8, no NUL) */
#define DW_EVENT_SEQ_MAX          ((uint64_t)INT64_MAX) /* also the largest time value (JSON integers are int64) */
#define DW_EVENT_BATCH_EVENTS_MAX 1024
#define DW_EVENT_BATCH_SIZE_MAX   (1u << 20) /* bytes of a batch's binary encoding */
#define DW_EVENT_JSON_SIZE_MAX    (8u << 20) /* bytes of a batch's JSON text */

/* ---- events ------------------------------------------------------------------------------------------------- */

enum dw_event_severity {
        DW_EVENT_INFO,
        DW_EVENT_NOTICE,
        DW_EVENT_WARNING,
        DW_EVENT_ERROR,
        DW_EVENT_CRITICAL,
        _DW_EVENT_SEVERITY_MAX,
        _DW_EVENT_SEVERITY_INVALID = -EINVAL,
};

/* "info", "notice", "warning", "error", "critical". */
const char *dw_event_severity_name(enum dw_event_severity s);
int dw_event_severity_from_name(const char *name, enum dw_event_severity *ret);

enum dw_event_value_type {
        DW_EVENT_VALUE_STRING = 1, /* the type bytes of the encoding */
        DW_EVENT_VALUE_INT = 2,
};

struct dw_event_field {
        char key[DW_EVENT_KEY_MAX + 1];
        enum dw_event_value_type type;
        char *str;      /* STRING: UTF-8 without NUL, NUL-terminated, owned by the event */
        size_t str_len; /* STRING: bytes, without the terminating NUL */
        int64_t num;    /* INT */
};

struct dw_event {
        uint64_t seq;            /* set by dw_event_chain_append */
        uint64_t realtime_usec;  /* CLOCK_REALTIME in µs since the Unix epoch, set by the caller */
        uint64_t monotonic_usec; /* CLOCK_BOOTTIME in µs, of the boot the chain id names, set by the caller */
        enum dw_event_severity severity;
        char kind[DW_EVENT_KIND_MAX + 1];
        size_t n_fields;
        struct dw_event_field fields[DW_EVENT_FIELDS_MAX]; /* keys strictly ascending (bytewise) */
};

/* [a-z][a-z0-9_]*, 1 to DW_EVENT_KIND_MAX / DW_EVENT_KEY_MAX bytes. */
bool dw_event_kind_valid(const char *kind);
bool dw_event_key_valid(const char *key);
/* Strict UTF-8 (no overlong forms, no surrogates, at most U+10FFFF) without NUL bytes. */
bool dw_event_utf8_valid(const char *s, size_t len);

/* A new event of kind, times 0, no fields. -EINVAL for an invalid kind or severity. */
int dw_event_new(const char *kind, enum dw_event_severity severity, struct dw_event **ret);
void dw_event_free(struct dw_event *ev);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct dw_event *, dw_event_free);

/* Add a field, keeping keys sorted: -EINVAL for an invalid key (or a string that is not UTF-8 without NUL),
 * -EEXIST for a key the event has, -E2BIG beyond DW_EVENT_FIELDS_MAX fields or DW_EVENT_VALUE_MAX bytes, -ENOMEM.
 * On failure the event is unchanged. */
int dw_event_add_string(struct dw_event *ev, const char *key, const char *value, size_t len);
int dw_event_add_int(struct dw_event *ev, const char *key, int64_t value);
/* Any bytes (a path from the kernel, a command line), made a string that always fits: '\' becomes "\\", bytes
 * that are not part of valid UTF-8 (and NUL) become "\xNN", and a value longer than DW_EVENT_VALUE_MAX is cut at a
 * character boundary and ends in "...". So an attacker's file name cannot keep an event from being recorded.
 * Errors as dw_event_add_string, except that the value is never refused. */
int dw_event_add_bytes(struct dw_event *ev, const char *key, const void *data, size_t len);
/* The field of key, NULL when absent. */
const struct dw_event_field *dw_event_get(const struct dw_event *ev, const char *key);

/* 0 when ev can be encoded (kind, severity, keys sorted and valid, values valid, seq and times at most
 * DW_EVENT_SEQ_MAX), else -EINVAL with err saying what is wrong. */
int dw_event_validate(const struct dw_event *ev, struct dw_error *err);
bool dw_event_equal(const struct dw_event *a, const struct dw_event *b);

/* The canonical binary encoding (docs/events.md): a malloc'd buffer. -EINVAL for an event that does not validate.
 * _decode accepts exactly the encodings _encode produces (whole buffer, nothing left over), so
 * encode(decode(x)) == x for every x it accepts. */
int dw_event_encode(const struct dw_event *ev, uint8_t **ret_buf, size_t *ret_size);
int dw_event_decode(const uint8_t *buf, size_t size, struct dw_event **ret, struct dw_error *err);

/* The JSON form (a new jansson reference):
 *   {"seq": 7, "realtime_usec": 1700000000000000, "monotonic_usec": 5000000, "kind": "drift_exec",
 *    "severity": "warning", "fields": {"path": "/tmp/x", "pid": 4242}}
 * String fields are JSON strings, integer fields JSON integers. _from_json requires every member, refuses unknown
 * ones, and checks what dw_event_decode checks (member order within objects is free). */
int dw_event_to_json(const struct dw_event *ev, struct json_t **ret);
int dw_event_from_json(const struct json_t *j, struct dw_event **ret, struct dw_error *err);

/* ---- chains (gateway) --------------------------------------------------------------------------------------- */

/* Which chain: one per gateway and TPM reset epoch (the NV extend index is cleared at each TPM reset, and so is the
 * chain). reset_count is the TPM's resetCount (clockInfo of any attestation: the event key's TPM2_Certify, a quote),
 * boot_id the kernel's /proc/sys/kernel/random/boot_id. */
struct dw_event_chain_id {
        char gateway_id[DW_EVENT_GATEWAY_ID_MAX + 1]; /* 1-128 bytes of 0x21-0x7e: the verifier's name for it */
        uint32_t reset_count;
        uint8_t boot_id[DW_EVENT_BOOT_ID_SIZE];
};

bool dw_event_gateway_id_valid(const char *gateway_id);
int dw_event_chain_id_init(struct dw_event_chain_id *ret, const char *gateway_id, uint32_t reset_count,
                           const uint8_t boot_id[static DW_EVENT_BOOT_ID_SIZE]);
bool dw_event_chain_id_equal(const struct dw_event_chain_id *a, const struct dw_event_chain_id *b);
/* The boot id as the kernel prints it: 36 characters, lowercase hex, dashes at 8, 13, 18, 23 (one trailing
 * newline accepted, as read from /proc). */
int dw_event_boot_id_parse(const char *s, size_t len, uint8_t ret[static DW_EVENT_BOOT_ID_SIZE]);
char *dw_event_boot_id_format(const uint8_t id[static DW_EVENT_BOOT_ID_SIZE], char buf[static 37]);

/* genesis = SHA-256("driftwatch-event-chain-v1" || encoding of the chain id): head_{-1}. */
int dw_event_chain_genesis(const struct dw_event_chain_id *id, uint8_t ret[static DW_EVENT_HEAD_SIZE]);

/* The monitor's chain: plain data. Persist it (dw_event_chain_serialize, in /run: it lives as long as the boot)
 * after every batch, before the batch's head is extended into the NV index, so that a restarted monitor continues
 * the chain. A monitor that lost it cannot continue the chain of this boot: starting it again would reuse sequence
 * numbers, which the verifier reports as a fork, as it must (that is what rewriting history looks like). */
struct dw_event_chain {
        struct dw_event_chain_id id;
        uint64_t next_seq;                /* of the next event */
        uint8_t head[DW_EVENT_HEAD_SIZE]; /* after event next_seq - 1; the genesis when next_seq is 0 */
};

int dw_event_chain_init(struct dw_event_chain *c, const struct dw_event_chain_id *id);

/* Versioned little-endian blobs with their own checksum (as dw_round_state_serialize): "DWEC" for the monitor's
 * chain, "DWEV" for the verifier's state (below). _deserialize refuses anything _serialize did not write: -EBADMSG
 * for a damaged or inconsistent blob, -EOPNOTSUPP for a newer version. */
#define DW_EVENT_STATE_VERSION 1
int dw_event_chain_serialize(const struct dw_event_chain *c, uint8_t **ret_buf, size_t *ret_size);
int dw_event_chain_deserialize(const uint8_t *buf, size_t size, struct dw_event_chain *ret, struct dw_error *err);

/* ---- batches ------------------------------------------------------------------------------------------------ */

struct dw_event_batch {
        struct dw_event_chain_id chain;
        uint64_t first_seq;
        uint8_t prev_head[DW_EVENT_HEAD_SIZE]; /* the chain head before events[0] */
        uint8_t head[DW_EVENT_HEAD_SIZE];      /* the chain head after the last event */
        size_t n_events;
        struct dw_event **events; /* owned, grown by this module (make batches with dw_event_batch_new or a
                                   * decoder); events[i]->seq == first_seq + i */
        size_t encoded_size;      /* bytes of the binary encoding (kept up to date by dw_event_chain_append) */
        bool has_signature;
        TPMT_SIGNATURE signature; /* by the event key over SHA-256 of the encoding (dw_event_batch_digest) */
};

/* An empty batch that begins where the chain is now. */
int dw_event_batch_new(const struct dw_event_chain *c, struct dw_event_batch **ret);
void dw_event_batch_free(struct dw_event_batch *b);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct dw_event_batch *, dw_event_batch_free);

/* Records ev as the chain's next event: sets ev->seq, advances the chain (next_seq, head) and appends ev to b,
 * which takes ownership of it (on success only). Fails, changing nothing, with -EINVAL for an event that does not
 * validate, -ESTALE when b does not end where c is (another chain, or events appended elsewhere since), -EBUSY
 * when b is signed, -E2BIG when b is full (DW_EVENT_BATCH_EVENTS_MAX events, or DW_EVENT_BATCH_SIZE_MAX bytes of
 * encoding): sign and send it, and append to a new batch. */
int dw_event_chain_append(struct dw_event_chain *c, struct dw_event_batch *b, struct dw_event *ev);

/* The canonical binary encoding of a batch (without its signature; docs/events.md). -EINVAL for a batch without
 * events or whose events are not its chain's consecutive events. _decode accepts exactly what _encode produces.
 * Neither recomputes the heads: whether the events hash from prev_head to head is the verifier's judgement
 * (dw_event_verify_batch: chain_mismatch), so that a tampered event is reported as such. */
int dw_event_batch_encode(const struct dw_event_batch *b, uint8_t **ret_buf, size_t *ret_size);
int dw_event_batch_decode(const uint8_t *buf, size_t size, struct dw_event_batch **ret, struct dw_error *err);
/* SHA-256 of the encoding: what the event key signs (dw_tpm_sign_digest with the event key). */
int dw_event_batch_digest(const struct dw_event_batch *b, uint8_t ret[static DW_EVENT_HEAD_SIZE]);
/* Attaches the signature: a TPMT_SIGNATURE as dw_tpm_sign_digest returns it, or marshalled (as
 * Tss2_MU_TPMT_SIGNATURE_Marshal writes it, the whole buffer). -EINVAL for a signature that does not marshal.
 * Whether it verifies (and is ECDSA over SHA-256) is the verifier's business. */
int dw_event_batch_set_signature(struct dw_event_batch *b, const TPMT_SIGNATURE *sig);
int dw_event_batch_set_signature_marshalled(struct dw_event_batch *b, const uint8_t *buf, size_t size,
                                            struct dw_error *err);

/* The NV extend index after TPM2_NV_Extend(head): SHA-256(nv || head), with nv NULL for an index not written since
 * the TPM's last reset (the TPM extends 32 zero bytes then). ret may be nv. */
int dw_event_nv_extend(const uint8_t *nv, const uint8_t head[static DW_EVENT_HEAD_SIZE],
                       uint8_t ret[static DW_EVENT_HEAD_SIZE]);

/* The JSON wire form (what the verifier receives; docs/events.md):
 *   {"version": 1, "chain": {"gateway_id": "gw-17", "reset_count": 3, "boot_id": "<uuid>"}, "first_seq": 12,
 *    "prev_head": "<hex>", "events": [<event>, ...], "head": "<hex>", "signature": "<base64>"}
 * hex lowercase, base64 standard with padding of the marshalled TPMT_SIGNATURE; "signature" is absent while the
 * batch is unsigned. _from_json / _parse_json refuse unknown members and non-canonical values (uppercase hex,
 * unpadded base64, ...), and check what dw_event_batch_decode checks; member order and whitespace are free.
 * _format_json writes compact JSON with members in the order above (a malloc'd string). */
int dw_event_batch_to_json(const struct dw_event_batch *b, struct json_t **ret);
int dw_event_batch_from_json(const struct json_t *j, struct dw_event_batch **ret, struct dw_error *err);
int dw_event_batch_format_json(const struct dw_event_batch *b, char **ret);
int dw_event_batch_parse_json(const char *text, size_t len, struct dw_event_batch **ret, struct dw_error *err);

/* ---- verification (verifier, no TPM) ------------------------------------------------------------------------ */

/* The event key's public key from its public area (as dw_tpm_event_key_ensure returns it, and as the AK certified
 * it with TPM2_Certify: check that first, with dw_tpm_certify_verify). It must be what an event key is: a NIST
 * P-256 ECDSA-SHA256 signing key that is not restricted and never left the TPM (fixedTPM, fixedParent,
 * sensitiveDataOrigin); else -EINVAL with err saying why. */
int dw_event_key_from_public(const TPMT_PUBLIC *pub, EVP_PKEY **ret, struct dw_error *err);

/* What the verifier knows of one gateway's event stream: plain data, persisted (dw_event_verify_state_serialize,
 * 154 bytes for a 16-byte gateway id) and replaced by the result's state after every batch. */
struct dw_event_verify_state {
        struct dw_event_chain_id chain;   /* gateway_id: fixed at init; reset_count, boot_id: of the current chain
                                           * (meaningful once started) */
        bool started;                     /* a batch has been accepted (chain names the current chain) */
        bool nv_lost;                     /* a gap was accepted in this chain: the NV value cannot be recomputed
                                           * before the next chain */
        uint64_t next_seq;                /* the next event expected */
        uint8_t head[DW_EVENT_HEAD_SIZE]; /* the chain head after event next_seq - 1 */
        uint8_t nv[DW_EVENT_HEAD_SIZE];   /* the NV extend index, recomputed from the heads of the accepted
                                           * batches of this chain (valid when batches > 0 and !nv_lost) */
        uint64_t batches;                 /* accepted in this chain */
        uint64_t events;                  /* accepted, all chains */
        uint64_t chains;                  /* chains started (1 + TPM resets seen) */
};

int dw_event_verify_state_init(struct dw_event_verify_state *s, const char *gateway_id);
int dw_event_verify_state_serialize(const struct dw_event_verify_state *s, uint8_t **ret_buf, size_t *ret_size);
int dw_event_verify_state_deserialize(const uint8_t *buf, size_t size, struct dw_event_verify_state *ret,
                                      struct dw_error *err);

enum dw_event_verdict {
        DW_EVENT_OK,             /* accepted: the state advances past it */
        DW_EVENT_DUPLICATE,      /* exactly the last batch accepted, again (a retransmission): nothing to do */
        DW_EVENT_GAP,            /* authentic, but starts after the next expected event: events were dropped */
        DW_EVENT_FORK,           /* authentic, but another history: it repeats sequence numbers already received
                                  * (a replay or a rewrite), or continues from another head than ours, or is a
                                  * second chain in the same TPM epoch */
        DW_EVENT_BAD_SIGNATURE,  /* not signed, or not by this event key (or over other bytes) */
        DW_EVENT_BAD_ENCODING,   /* malformed: JSON, limits, charsets, non-consecutive sequence numbers */
        DW_EVENT_CHAIN_MISMATCH, /* the events do not hash from prev_head to head (an event or head tampered
                                  * with), or the first chain's batch does not start from its genesis */
        DW_EVENT_WRONG_CHAIN,    /* another gateway's chain, or a chain of an earlier TPM epoch (replayed) */
        _DW_EVENT_VERDICT_MAX,
};

/* "ok", "duplicate", "gap", "fork", "bad_signature", "bad_encoding", "chain_mismatch", "wrong_chain". */
const char *dw_event_verdict_name(enum dw_event_verdict v);

struct dw_event_verify_result {
        enum dw_event_verdict verdict;
        bool accepted;      /* the state advanced past the batch (OK, or GAP with DW_EVENT_VERIFY_ACCEPT_GAP) */
        bool new_chain;     /* accepted as the start of a chain (the first, or after a TPM reset) */
        uint64_t first_seq; /* of the batch (0 when it did not parse) */
        uint64_t n_events;
        uint64_t expected_seq;              /* the state's next_seq before (0 for a new chain) */
        char msg[256];                      /* one line, no trailing newline */
        struct dw_event_verify_state state; /* the new state: the input state unless accepted */
};

/* Accept a GAP (an authentic batch after missing events) so that the stream continues; the events in between are
 * lost for good, and the chain's NV value cannot be recomputed any more (nv_lost). For an administrator's
 * decision, not by default. */
#define DW_EVENT_VERIFY_ACCEPT_GAP (1u << 0)

/* Judges one batch against the state with the event key. Checks, in order: structure (bad_encoding), the events
 * hash from prev_head to head and a chain's first batch starts from its genesis (chain_mismatch), the signature
 * (bad_signature), the gateway and TPM epoch (wrong_chain, fork), then the position (duplicate, gap, fork, ok).
 * Returns 0 with *ret filled whatever the verdict, or -EINVAL (no state, key or batch, unknown flags, a state
 * that _init or _deserialize did not make), -ENOMEM. Never modifies the input state; s may be &ret->state.
 * An accepted batch is final once an NV certification covering it matches (dw_event_verify_nv): root on the
 * gateway can use the event key too, but cannot take back what was extended into the NV index. */
int dw_event_verify_batch(const struct dw_event_verify_state *s, EVP_PKEY *key, const struct dw_event_batch *b,
                          unsigned flags, struct dw_event_verify_result *ret);
/* The same from the JSON text as received: text that does not parse is bad_encoding. ret_batch (optional) gets the
 * parsed batch, when it parsed. */
int dw_event_verify_batch_json(const struct dw_event_verify_state *s, EVP_PKEY *key, const char *text, size_t len,
                               unsigned flags, struct dw_event_verify_result *ret, struct dw_event_batch **ret_batch);

/* What the NV extend index holds if the gateway extended exactly the heads of the accepted batches of the state's
 * chain, in order: the expected event-chain head of an attestation round (dw_round_expect.event_chain_head, 32
 * bytes), valid for TPM epoch s->chain.reset_count. -ENODATA when the state has accepted no batch of its chain (the
 * index is then not written, and TPM2_NV_Certify fails), -ESTALE when nv_lost. Verify the batches the gateway sent
 * with the certification before asking: the gateway certifies after extending the last of them. */
int dw_event_verify_state_nv_value(const struct dw_event_verify_state *s, uint8_t ret[static DW_EVENT_HEAD_SIZE]);

enum dw_event_nv_verdict {
        DW_EVENT_NV_OK,        /* the TPM holds exactly the recomputed value */
        DW_EVENT_NV_MISMATCH,  /* it holds another value: batches were extended that the verifier did not receive
                                * (dropped, rewritten), or received batches were never extended */
        DW_EVENT_NV_EPOCH,     /* certified in another TPM epoch than the state's chain (a reboot whose chain has
                                * not arrived, or an old certification) */
        DW_EVENT_NV_UNKNOWN,   /* no value to compare: the state accepted a gap in this chain */
        DW_EVENT_NV_MALFORMED, /* not an NV certification of the whole 32-byte index */
        _DW_EVENT_NV_VERDICT_MAX,
};

/* "ok", "mismatch", "epoch", "unknown", "malformed". */
const char *dw_event_nv_verdict_name(enum dw_event_nv_verdict v);

struct dw_event_nv_result {
        enum dw_event_nv_verdict verdict;
        char msg[256];
};

/* Checks an NV certification of the extend index against the state: attest is the TPMS_ATTEST that
 * dw_tpm_nv_certify_verify returned (ret_attest) after it said valid (AK signature, nonce, index Name: not checked
 * again here). Returns 0 with *ret filled, or -EINVAL for a caller error. */
int dw_event_verify_nv(const struct dw_event_verify_state *s, const TPMS_ATTEST *attest,
                       struct dw_event_nv_result *ret);
