/* SPDX-License-Identifier: MIT */
#pragma once

/* The gateway's side of the verifier protocol (docs/protocol.md) over https-client.h: HTTPS pinned to the verifier's
 * CA, mutual TLS with the certificate enrollment issued, HTTP/1.1 keep-alive on one connection. Every call blocks for
 * at most the configured timeouts. The TPM work of enrollment and of a round (credential activation, certify,
 * quote, NV certify) is done here too, through lib/tpm-gateway.h, so that a caller only says "enroll" or "run a
 * round with these logs".
 *
 * Errors: a negative errno with err saying what failed (one line naming the URL or the step; never a private key,
 * a token or a secret):
 *   -ECONNREFUSED, -ETIMEDOUT, -EHOSTUNREACH, -ECOMM  transport failures, TLS ones included (retry later)
 *   -EPROTO   an answer that is not the protocol: not a JSON object, larger than 16 MiB, members missing or of the
 *             wrong type or size
 *   -EACCES   a 401/403 in the calls that do not hand the answer back (mon_vclient_nonce, _challenge_wait)
 *   -EIO      a TPM error (err has the step and the TPM's decoded error)
 *   -EINVAL   a bad option (URL not https://, gateway id breaking the naming rule, unreadable CA file)
 *   -ENOKEY   the TLS client key or certificate of the state directory cannot be used
 * An HTTP error answer of the protocol (4xx/5xx with {"error", "detail"}) is not a transport error: where the call
 * hands the answer back, it is returned as the status and the JSON answer, and the call returns 0.
 * Not thread-safe: one client per thread. */

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <tss2/tss2_tpm2_types.h>

#include "dw-error.h"
#include "hash.h"
#include "tpm-gateway.h"

/* File names in the state directory. */
#define MON_TLS_KEY_FILE  "tls.key" /* 0600 */
#define MON_TLS_CERT_FILE "tls.pem"

struct mon_vclient_options {
        const char *url;     /* https://HOST:PORT, no trailing slash needed */
        const char *ca_file; /* the verifier's CA, pinned (no system CAs) */
        const char *gateway_id;
        const char *state_dir;   /* where tls.key / tls.pem are (written by enroll) */
        long connect_timeout_ms; /* 0: 5 s */
        long request_timeout_ms; /* 0: 30 s, for the whole exchange */
};

struct mon_vclient;

/* Copies the options (checked: see -EINVAL above). Does not connect. */
int mon_vclient_new(const struct mon_vclient_options *o, struct mon_vclient **ret, struct dw_error *err);
void mon_vclient_free(struct mon_vclient *c);
static inline void mon_vclient_freep(struct mon_vclient **c)
{
        if (*c)
                mon_vclient_free(*c);
}

/* A flag another thread may set to abort the transfer in progress (and any later one) with -ECANCELED, within
 * about a second: how a stopping daemon gets its threads out of a long poll. NULL: none. */
void mon_vclient_set_cancel(struct mon_vclient *c, const atomic_bool *flag);

/* Whether the state directory holds an enrollment (tls.key and tls.pem). */
bool mon_vclient_enrolled(const struct mon_vclient *c);

/* One HTTP exchange: POST (body non-NULL, JSON) or GET (body NULL) of path ("/v1/..."), with the client
 * certificate when the gateway is enrolled, with "Authorization: Bearer bearer" when bearer is non-NULL. The
 * answer's status and its JSON (NULL when the body is empty). Answers larger than 16 MiB are -EPROTO. */
int mon_vclient_request(struct mon_vclient *c, const char *path, const char *body, const char *bearer, long *ret_status,
                        json_t **ret_answer, struct dw_error *err);

struct mon_enroll_options {
        enum dw_tpm_key_type ek_type;
        uint32_t ak_handle, event_key_handle;
        const char *bearer; /* the enrollment token, or NULL */
};

/* Enrollment (docs/protocol.md): EK (its certificate from the TPM's NV), AK (NIST P-256) and event key (created if
 * missing), a fresh P-256 TLS key and CSR; /enroll; TPM2_ActivateCredential of the answer's credential; the HMAC
 * proof and TPM2_Certify of the event key; /activate; on 200 the certificate must carry the new key, and the TLS
 * key (0600) and certificate are written to the state directory (each atomically: temporary file, fsync, rename),
 * and the client drops its connections (the next request presents the new certificate). Both requests go without a
 * client certificate (a gateway whose certificate the verifier no longer accepts can enroll again). The
 * verifier's answer (status, JSON: of /enroll when it refused, else of /activate) in ret_status / ret_answer;
 * returns 0 when the exchange happened (enrolled only if *ret_status == 200). */
int mon_vclient_enroll(struct mon_vclient *c, struct dw_tpm *t, const struct mon_enroll_options *o, long *ret_status,
                       json_t **ret_answer, struct dw_error *err);

/* What /nonce said. */
struct mon_round_request {
        uint8_t nonce[64];
        size_t nonce_size;
        char pcr_selection[128];
        uint64_t ima_from;
        bool boot_log_required;
};

/* POST /v1/gateways/ID/nonce. A non-200 answer is -EACCES (401/403) or -EPROTO (others) with the error and detail
 * in err (and the status in ret_status when not NULL, also on success). */
int mon_vclient_nonce(struct mon_vclient *c, struct mon_round_request *ret, long *ret_status, struct dw_error *err);
/* The same from a /nonce answer at hand (a saved one): every member checked (nonce: hex of 1-64 bytes;
 * pcr_selection: shorter than 128 and a selection dw_tpm_pcr_selection_from_string takes; ima_from: an integer >= 0;
 * boot_log_required: a boolean, false when absent). -EPROTO otherwise. */
int mon_round_request_from_json(const json_t *answer, struct mon_round_request *ret, struct dw_error *err);

/* The evidence of a round. The logs must be read after the quote (else entries measured in between are quoted but
 * not sent: ima_log_mismatch): give their paths, and the client reads them after quoting; or give buffers the
 * caller read, accepting that race. */
struct mon_ima_offsets;

struct mon_round_evidence {
        uint32_t ak_handle;
        const char *ima_log_path;            /* read after the quote; when set, ima_log and ima_log_first are ignored */
        struct mon_ima_offsets *ima_offsets; /* NULL, or where the follower saw entries start in ima_log_path: the
                                              * log is read from the nearest before ima_from rather than whole */
        const char *boot_log_path; /* read after the quote when it is to be sent; when set, boot_log is ignored */
        const uint8_t *ima_log;    /* the binary IMA log as read (whole, or from some entry on, see ima_log_first) */
        size_t ima_log_size;
        uint64_t ima_log_first;       /* index of the first entry in ima_log (0: the whole log) */
        enum dw_hash_alg ima_log_alg; /* its template digest bank */
        const uint8_t *boot_log;      /* NULL: none available */
        size_t boot_log_size;
        bool always_boot_log; /* send it even when not required */
        bool nv_certify;      /* add TPM2_NV_Certify of nv_index */
        uint32_t nv_index;
        /* The monitor's eBPF capability report (`driftwatch-monitor --probe --json`'s object: tiers and coverage),
         * sent as the round's "capabilities" member so the verifier can say which evidence was TPM-backed; NULL:
         * none. Must be a JSON object. */
        const char *capabilities_json;
};

/* What was sent and what the TPM quoted (for the monitor's own cross-check of PCR 10). */
struct mon_round_sent {
        uint64_t ima_first_index, ima_entries;
        uint64_t ima_read_from; /* the byte of ima_log_path the read started at (0: the whole log was read) */
        size_t ima_read_size;   /* bytes read */
        bool boot_log;
        struct dw_tpm_pcrs pcrs; /* the quoted PCR values */
};

/* Quote first (the AK over the selection the verifier asked for, qualifying data = its nonce), then the IMA entries
 * from req->ima_from (from 0 when the log has fewer entries: a reboot), the boot log when required (or
 * always_boot_log) and available, the NV certification when asked; POST /v1/gateways/ID/attest. ret_status /
 * ret_answer as mon_vclient_request; ret_sent (may be NULL) says what was sent and quoted. Only complete
 * IMA entries are sent (a cut last entry, of a log read while it grows, waits for the next round); a log that does
 * not parse is -EBADMSG/-E2BIG/-EOPNOTSUPP (err: entry index and offset); a buffer that starts after the entry to
 * send from (ima_log_first > ima_from, or > 0 after a reboot) is -ERANGE. */
int mon_vclient_attest(struct mon_vclient *c, struct dw_tpm *t, const struct mon_round_request *req,
                       const struct mon_round_evidence *ev, struct mon_round_sent *ret_sent, long *ret_status,
                       json_t **ret_answer, struct dw_error *err);
/* The same without the POST: the attest request's JSON text (for callers that keep or send it themselves). */
int mon_vclient_attest_build(struct mon_vclient *c, struct dw_tpm *t, const struct mon_round_request *req,
                             const struct mon_round_evidence *ev, struct mon_round_sent *ret_sent, char **ret_body,
                             struct dw_error *err);

/* POST /v1/gateways/ID/events with one batch in its JSON form. */
int mon_vclient_post_batch(struct mon_vclient *c, const char *batch_json, long *ret_status, json_t **ret_answer,
                           struct dw_error *err);

/* GET /v1/gateways/ID/challenge?wait=SECONDS (a long poll, docs/protocol.md): 200 {"challenge": true|false, ...};
 * *ret_challenge true when the verifier asks for a round now, false when the wait ended without. The request
 * timeout is wait_sec + the configured request timeout. A verifier without the endpoint (404) is -EOPNOTSUPP. */
int mon_vclient_challenge_wait(struct mon_vclient *c, unsigned wait_sec, bool *ret_challenge, struct dw_error *err);
