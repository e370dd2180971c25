/* SPDX-License-Identifier: MIT */
/* Attestation rounds (docs/protocol.md, "Attestation"):
 *
 *   POST /v1/gateways/{id}/nonce    -> a single-use nonce with its expiry, the PCRs to quote, the IMA entry index
 *                                      to send from, whether the boot log is needed
 *   POST /v1/gateways/{id}/attest   the nonce, the quote and its PCR values, the IMA entries from that index, the
 *                                   boot log when asked -> the verdict with its reasons (and a token if trusted)
 *
 * Nonces are issued from memory (nonces.h). The evidence is parsed completely before the nonce is used, so a
 * malformed request costs no nonce; then the nonce is used atomically, the round is judged from the persisted state
 * with lib/attest-round, and the used nonce, the new state, the verdict and the status are committed in one
 * transaction. */

#include <errno.h>
#include <string.h>

#include <tss2/tss2_mu.h>

#include "api.h"
#include "event-chain.h"
#include "hex.h"
#include "log.h"
#include "round.h"
#include "token.h"
#include "tpm-gateway.h"
#include "tpm-marshal.h"
#include "util.h"

#define NONCE_SIZE VF_NONCE_SIZE

enum MHD_Result vf_api_nonce(struct vf_request *rq)
{
        struct verifier *v = rq->v;
        _cleanup_(vf_gateway_done) struct vf_gateway g = {};
        uint8_t nonce[NONCE_SIZE];
        char hex[2 * NONCE_SIZE + 1], expires_text[32], selection[128];
        uint64_t now = vf_now_usec(), expires;
        int r;

        r = vf_store_gateway_get(v->store, rq->params[0], &g);
        if (r < 0)
                return vf_reply_error(rq, 500, "internal-error", "database error");
        r = vf_round_pcr_selection(g.state, g.state_size, selection, sizeof(selection));
        if (r < 0)
                return vf_reply_error(rq, 500, "internal-error", "the stored attestation state is unusable");
        expires = now + v->cfg->nonce_lifetime * 1000000u;
        r = vf_nonce_make(expires, nonce);
        if (r < 0)
                return vf_reply_error(rq, 500, "internal-error", "no randomness");
        r = vf_nonces_issue(v->nonces, g.id, nonce, now, expires);
        if (r < 0)
                return vf_reply_error(rq, 500, "internal-error", "out of memory");
        vf_request_log(rq, "gateway", json_string(g.id));
        return vf_reply_json(rq, 200,
                             json_pack("{s:s, s:s, s:I, s:s, s:I, s:b}", "nonce",
                                       dw_hex_encode(nonce, sizeof(nonce), hex), "expires",
                                       vf_format_time(expires, expires_text, sizeof(expires_text)), "expires_in",
                                       (json_int_t)v->cfg->nonce_lifetime, "pcr_selection", selection, "ima_from",
                                       (json_int_t)g.ima_next_index, "boot_log_required", g.boot_log_required));
}

/* ---- the evidence -------------------------------------------------------------------------------------------- */

struct evidence {
        uint8_t nonce[NONCE_SIZE];
        uint8_t *quote, *signature, *pcrs, *ima, *boot_log;
        struct dw_round_evidence ev;
        /* nv_certify: judged here against the event-chain state (not by dw_attest_round) */
        bool has_nv;
        uint8_t *nv_attest, *nv_signature, *nv_public;
        size_t nv_attest_size, nv_signature_size, nv_public_size;
        TPMS_NV_PUBLIC nv_pub;
        /* "capabilities": the monitor's eBPF hook coverage (borrowed from the request body) */
        json_t *coverage;
};

static void evidence_done(struct evidence *e)
{
        free(e->quote);
        free(e->signature);
        free(e->pcrs);
        free(e->ima);
        free(e->boot_log);
        free(e->nv_attest);
        free(e->nv_signature);
        free(e->nv_public);
}

static int quote_parse(json_t *body, struct evidence *e, char *why, size_t why_size)
{
        json_t *q = json_object_get(body, "quote");
        int r;

        if (!json_is_object(q)) {
                snprintf(why, why_size, "quote: expected an object {\"attest\", \"signature\", \"pcrs\"}");
                return -EINVAL;
        }
        r = vf_json_base64(q, "attest", true, sizeof(TPMS_ATTEST), &e->quote, &e->ev.quote_size, why, why_size);
        if (r == 0)
                r = vf_json_base64(q, "signature", true, sizeof(TPMT_SIGNATURE), &e->signature, &e->ev.signature_size,
                                   why, why_size);
        if (r == 0)
                r = vf_json_base64(q, "pcrs", true, 64 * 1024, &e->pcrs, &e->ev.pcrs_size, why, why_size);
        e->ev.quote = e->quote;
        e->ev.signature = e->signature;
        e->ev.pcrs = e->pcrs;
        return r;
}

static int ima_parse(json_t *body, struct evidence *e, char *why, size_t why_size)
{
        json_t *ima = json_object_get(body, "ima");
        const char *alg = "sha1";
        int r;

        e->ev.ima_log_digest_alg = DW_HASH_SHA1;
        if (!ima || json_is_null(ima))
                return 0;
        if (!json_is_object(ima)) {
                snprintf(why, why_size, "ima: expected an object {\"first_index\", \"digest_alg\", \"entries\"}");
                return -EINVAL;
        }
        r = vf_json_uint(ima, "first_index", true, &e->ev.ima_first_index, why, why_size);
        if (r == 0) {
                r = vf_json_string(ima, "digest_alg", false, &alg, why, why_size);
                r = r == -ENOENT ? 0 : r;
        }
        if (r == 0 && dw_hash_alg_from_name(alg, strlen(alg), &e->ev.ima_log_digest_alg) < 0) {
                snprintf(why, why_size, "ima.digest_alg: unknown algorithm '%s'", alg);
                r = -EINVAL;
        }
        if (r == 0)
                r = vf_json_base64(ima, "entries", true, SIZE_MAX / 2, &e->ima, &e->ev.ima_log_size, why, why_size);
        e->ev.ima_log = e->ima;
        return r;
}

/* "nv_certify": {"attest", "signature", "public"}: TPM2_NV_Certify of the event-chain NV index over the round's
 * nonce, and the index's public area (a marshalled TPMS_NV_PUBLIC, from which its Name is computed). Optional. */
static int nv_parse(json_t *body, struct evidence *e, char *why, size_t why_size)
{
        json_t *nv = json_object_get(body, "nv_certify");
        size_t offset = 0;
        int r;

        if (!nv || json_is_null(nv))
                return 0;
        if (!json_is_object(nv)) {
                snprintf(why, why_size, "nv_certify: expected an object {\"attest\", \"signature\", \"public\"}");
                return -EINVAL;
        }
        r = vf_json_base64(nv, "attest", true, sizeof(TPMS_ATTEST), &e->nv_attest, &e->nv_attest_size, why, why_size);
        if (r == 0)
                r = vf_json_base64(nv, "signature", true, sizeof(TPMT_SIGNATURE), &e->nv_signature,
                                   &e->nv_signature_size, why, why_size);
        if (r == 0)
                r = vf_json_base64(nv, "public", true, sizeof(TPMS_NV_PUBLIC), &e->nv_public, &e->nv_public_size, why,
                                   why_size);
        if (r < 0)
                return r;
        if (Tss2_MU_TPMS_NV_PUBLIC_Unmarshal(e->nv_public, e->nv_public_size, &offset, &e->nv_pub) != TSS2_RC_SUCCESS ||
            offset != e->nv_public_size) {
                snprintf(why, why_size, "nv_certify.public: not a marshalled TPMS_NV_PUBLIC");
                return -EINVAL;
        }
        e->has_nv = true;
        return 0;
}

#define COVERAGE_MAX 32

/* "capabilities": {"coverage": {CATEGORY: "lsm"|"fentry"|"tracepoint"|"none", ...}, ...} (optional): which eBPF
 * hooks the monitor watches runtime drift with. Only coverage is kept, checked: at most COVERAGE_MAX categories
 * named like event keys, each one of the four tiers. */
static int capabilities_parse(json_t *body, struct evidence *e, char *why, size_t why_size)
{
        json_t *caps = json_object_get(body, "capabilities"), *coverage, *v;
        const char *k;

        if (!caps)
                return 0;
        coverage = json_object_get(caps, "coverage");
        if (!json_is_object(caps) || !json_is_object(coverage) || json_object_size(coverage) > COVERAGE_MAX) {
                snprintf(why, why_size, "capabilities.coverage: an object of at most %d categories", COVERAGE_MAX);
                return -EINVAL;
        }
        json_object_foreach(coverage, k, v)
        {
                const char *t = json_string_value(v);

                if (!dw_event_key_valid(k) || !t ||
                    (strcmp(t, "lsm") && strcmp(t, "fentry") && strcmp(t, "tracepoint") && strcmp(t, "none"))) {
                        snprintf(why, why_size, "capabilities.coverage.%.40s: lsm, fentry, tracepoint or none", k);
                        return -EINVAL;
                }
        }
        e->coverage = coverage;
        return 0;
}

/* report.evidence: which checks of this round rest on the TPM (passed now or earlier in this boot), and the
 * monitor's eBPF coverage — reported by the monitor, covered by the signed event chain, not measured by the TPM. */
static void evidence_report(struct vf_round_output *o, const struct evidence *e)
{
        static const char *const tpm_checks[] = {"quote", "boot_log",       "boot_policy", "boot_aggregate",
                                                 "ima",   "runtime_policy", "event_chain"};
        json_t *checks = json_object_get(o->report, "checks"), *backed = json_array();

        for (size_t i = 0; backed && i < ELEMENTSOF(tpm_checks); i++) {
                const char *c = json_string_value(json_object_get(checks, tpm_checks[i]));

                if (c && (strcmp(c, "passed") == 0 || strcmp(c, "passed_earlier") == 0))
                        json_array_append_new(backed, json_string(tpm_checks[i]));
        }
        json_object_set_new(o->report, "evidence",
                            json_pack("{s:o*, s:O?, s:b}", "tpm_backed", backed, "runtime_hooks", e->coverage,
                                      "runtime_hooks_tpm_backed", false));
}

static int evidence_parse(json_t *body, struct evidence *e, char *why, size_t why_size)
{
        int r;

        r = vf_json_hex(body, "nonce", true, e->nonce, sizeof(e->nonce), why, why_size);
        if (r == 0)
                r = quote_parse(body, e, why, why_size);
        if (r == 0)
                r = ima_parse(body, e, why, why_size);
        if (r == 0) {
                r = vf_json_base64(body, "boot_log", false, SIZE_MAX / 2, &e->boot_log, &e->ev.boot_log_size, why,
                                   why_size);
                r = r == -ENOENT ? 0 : r;
        }
        e->ev.boot_log = e->boot_log;
        if (r == 0)
                r = nv_parse(body, e, why, why_size);
        if (r == 0)
                r = capabilities_parse(body, e, why, why_size);
        return r;
}

/* ---- the event chain's NV certification ---------------------------------------------------------------------- */

/* Whether the certified index is the event-chain extend index: at the agreed handle, SHA-256, 32 bytes, an extend
 * index cleared at every TPM reset, written. Another index (one root defined and extended at will) proves nothing. */
static bool nv_public_ok(const TPMS_NV_PUBLIC *p, char *why, size_t why_size)
{
        TPMA_NV a = p->attributes;

        if (p->nvIndex != DW_TPM_NV_INDEX_DEFAULT)
                snprintf(why, why_size, "the certified index is 0x%08x, not the event-chain index 0x%08x", p->nvIndex,
                         DW_TPM_NV_INDEX_DEFAULT);
        else if (p->nameAlg != TPM2_ALG_SHA256 || p->dataSize != DW_EVENT_HEAD_SIZE ||
                 ((a & TPMA_NV_TPM2_NT_MASK) >> TPMA_NV_TPM2_NT_SHIFT) != TPM2_NT_EXTEND ||
                 !(a & TPMA_NV_CLEAR_STCLEAR))
                snprintf(why, why_size, "the certified index is not a 32-byte SHA-256 extend index cleared at reset");
        else if (!(a & TPMA_NV_WRITTEN))
                snprintf(why, why_size, "the certified index was not written since the TPM's last reset");
        else
                return true;
        return false;
}

/* Adds an event-chain reason to the round's output, which makes it untrusted. */
static void chain_fail(struct vf_round_output *o, const char *kind, const char *rule, const char *msg,
                       const char *digest)
{
        json_array_append_new(o->reasons,
                              json_pack("{s:s, s:b, s:b, s:I, s:I, s:s, s:s, s:s, s:s}", "kind", kind, "sticky", false,
                                        "earlier", false, "round", (json_int_t)o->round, "index", (json_int_t)-1,
                                        "path", "", "digest", digest ?: "", "rule", rule ?: "", "message", msg));
        o->verdict = VF_STATUS_UNTRUSTED;
}

/* The NV certification of the event-chain head, when sent: valid (by the AK, over this round's nonce, of the
 * event-chain index), and holding exactly what the batches the verifier accepted extend it to. A dropped, held
 * back or rewritten batch is event_chain_mismatch. */
static int event_chain_judge(struct verifier *v, const struct vf_gateway *g, const struct evidence *e,
                             struct vf_round_output *o)
{
        _cleanup_(dw_pkey_freep) EVP_PKEY *ak = NULL;
        _cleanup_free_ uint8_t *blob = NULL;
        _cleanup_free_ TPMS_ATTEST *attest = malloc(sizeof(TPMS_ATTEST));
        struct dw_event_verify_state st;
        struct dw_attest_result ar = {};
        struct dw_event_nv_result nr = {};
        struct dw_error err = {};
        TPMT_PUBLIC ak_public;
        TPM2B_NAME name;
        const char *check = "failed";
        char why[256], digest[8 + 2 * DW_EVENT_HEAD_SIZE + 1] = "", want[2 * DW_EVENT_HEAD_SIZE + 1] = "";
        uint8_t expected[DW_EVENT_HEAD_SIZE];
        size_t blob_size;
        int r;

        if (!e->has_nv)
                return 0;
        if (!attest)
                return -ENOMEM;
        r = vf_store_event_state_get(v->store, g->id, &blob, &blob_size);
        if (r == -ENOENT)
                r = dw_event_verify_state_init(&st, g->id);
        else if (r == 0)
                r = dw_event_verify_state_deserialize(blob, blob_size, &st, &err);
        if (r < 0)
                return r;
        if (dw_event_verify_state_nv_value(&st, expected) == 0)
                dw_hex_encode(expected, sizeof(expected), want);
        r = dw_tpm_public_parse(g->ak_public, g->ak_public_size, &ak_public, &err);
        if (r == 0)
                r = dw_tpm_public_to_pkey(&ak_public, &ak);
        if (r < 0)
                return r;
        if (!nv_public_ok(&e->nv_pub, why, sizeof(why)))
                chain_fail(o, "event_chain_attest", "nv-index", why, NULL);
        else if (dw_tpm_nv_public_name(&e->nv_pub, &name) < 0 ||
                 dw_tpm_nv_certify_verify(
                         &(struct dw_attest_expect){
                                 .ak = ak, .ak_public = &ak_public, .nonce = e->nonce, .nonce_size = sizeof(e->nonce)},
                         &(struct dw_attest_evidence){.attest = e->nv_attest,
                                                      .attest_size = e->nv_attest_size,
                                                      .signature = e->nv_signature,
                                                      .signature_size = e->nv_signature_size},
                         &name, &ar, attest, &err) < 0)
                chain_fail(o, "event_chain_attest", "malformed", err.msg[0] ? err.msg : "unusable NV certification",
                           NULL);
        else if (!ar.valid)
                chain_fail(o, "event_chain_attest", dw_attest_reason_name(ar.reason), ar.msg, NULL);
        else {
                const TPM2B_MAX_NV_BUFFER *c = &attest->attested.nv.nvContents;

                if (c->size == DW_EVENT_HEAD_SIZE) {
                        strcpy(digest, "sha256:");
                        dw_hex_encode(c->buffer, c->size, digest + 7);
                }
                r = dw_event_verify_nv(&st, attest, &nr);
                if (r < 0)
                        return r;
                switch (nr.verdict) {
                case DW_EVENT_NV_OK:
                        check = "passed";
                        break;
                case DW_EVENT_NV_UNKNOWN:
                        check = "not_checked";
                        break;
                case DW_EVENT_NV_MISMATCH:
                        chain_fail(o, "event_chain_mismatch", "nv-mismatch", nr.msg, digest);
                        break;
                default:
                        chain_fail(o, "event_chain_attest", dw_event_nv_verdict_name(nr.verdict), nr.msg, digest);
                        break;
                }
        }
        json_object_set_new(json_object_get(o->report, "checks"), "event_chain", json_string(check));
        json_object_set_new(o->report, "event_chain",
                            json_pack("{s:s, s:s, s:s?, s:I, s:I}", "nv",
                                      nr.verdict || ar.valid ? dw_event_nv_verdict_name(nr.verdict) : "invalid",
                                      "expected", want, "certified", digest[0] ? digest : NULL, "batches",
                                      (json_int_t)st.batches, "next_seq", (json_int_t)st.next_seq));
        return 0;
}

/* ---- verdicts ------------------------------------------------------------------------------------------------ */

void vf_verdict_changed(struct verifier *v, const char *gateway_id, enum vf_status previous, enum vf_status now,
                        json_t *reasons)
{
        char ts[32];

        vf_log_json(VF_LOG_INFO, "status-change",
                    json_pack("{s:s, s:s, s:s}", "gateway", gateway_id, "from", vf_status_name(previous), "to",
                              vf_status_name(now)));
        vf_events_publish(v->events, "verdict",
                          json_pack("{s:s, s:s, s:s, s:s, s:O}", "gateway", gateway_id, "time",
                                    vf_format_time(vf_now_usec(), ts, sizeof(ts)), "previous", vf_status_name(previous),
                                    "verdict", vf_status_name(now), "reasons", reasons ? reasons : json_array()));
}

/* Records a verdict that did not come from judging evidence (the state does not move; nonce, when not NULL, is
 * recorded as used), and publishes the status change it makes. */
static int verdict_record(struct vf_request *rq, const struct vf_nonce_use *nonce, enum vf_status verdict,
                          json_t *reasons)
{
        struct verifier *v = rq->v;
        _cleanup_free_ char *text = json_dumps(reasons, JSON_COMPACT);
        struct vf_verdict_record rec = {.time = vf_now_usec(), .verdict = verdict, .reasons = text};
        enum vf_status previous;
        int r;

        if (!text)
                return -ENOMEM;
        r = vf_store_verdict_add(v->store, rq->params[0], nonce, &rec, v->cfg->verdict_history, &previous);
        if (r < 0)
                return r;
        vf_metrics_round(v->metrics, verdict, 0);
        if (previous != verdict)
                vf_verdict_changed(v, rq->params[0], previous, verdict, reasons);
        vf_request_log(rq, "verdict", json_string(vf_status_name(verdict)));
        return 0;
}

/* require_runtime_policy and none assigned: nothing is judged and the state does not move, so the entries are
 * judged once a policy is assigned, never skipped. */
static enum MHD_Result policy_missing(struct vf_request *rq, const struct vf_gateway *g,
                                      const struct vf_nonce_use *nonce)
{
        _cleanup_(json_decrefp) json_t *reasons = json_pack(
                "[{s:s, s:b, s:s, s:s}]", "kind", "policy_missing", "sticky", false, "rule", "runtime", "message",
                "no runtime policy is assigned to this gateway or its group (require_runtime_policy): the evidence "
                "was not judged");

        if (!reasons || verdict_record(rq, nonce, VF_STATUS_UNTRUSTED, reasons) < 0)
                return vf_reply_error(rq, 500, "internal-error", "database error");
        return vf_reply_json(rq, 200,
                             json_pack("{s:s, s:O, s:{s:I, s:b}}", "verdict", "untrusted", "reasons", reasons, "next",
                                       "ima_from", (json_int_t)g->ima_next_index, "boot_log_required",
                                       g->boot_log_required));
}

/* A round refused before judging (nonce unknown, reused or expired): recorded as an untrusted verdict, answered
 * with 409. */
static enum MHD_Result nonce_refused(struct vf_request *rq, enum vf_nonce_result nr)
{
        static const char *const details[] = {
                [VF_NONCE_UNKNOWN] = "the nonce was not issued to this gateway",
                [VF_NONCE_REUSED] = "the nonce was already used (a replayed round)",
                [VF_NONCE_EXPIRED] = "the nonce expired before the evidence arrived (nonce_lifetime)",
        };
        struct verifier *v = rq->v;
        _cleanup_(json_decrefp) json_t *reasons = json_pack("[{s:s, s:b, s:s, s:s}]", "kind", "nonce", "sticky", false,
                                                            "rule", vf_nonce_result_name(nr), "message", details[nr]);

        if (!reasons || verdict_record(rq, NULL, VF_STATUS_UNTRUSTED, reasons) < 0)
                return vf_reply_error(rq, 500, "internal-error", "database error");
        snprintf(rq->error, sizeof(rq->error), "%s", vf_nonce_result_name(nr));
        vf_metrics_rejected(v->metrics, vf_nonce_result_name(nr));
        return vf_reply_json(rq, 409,
                             json_pack("{s:s, s:s, s:s, s:O}", "error", vf_nonce_result_name(nr), "detail", details[nr],
                                       "verdict", "untrusted", "reasons", reasons));
}

static int token_make(struct verifier *v, const char *gateway_id, const uint8_t *nonce, const struct vf_round_output *o,
                      char **ret)
{
        uint64_t now = vf_now_usec() / 1000000u;

        return vf_token_ear_sign(v->pki,
                                 &(struct vf_ear){
                                         .gateway_id = gateway_id,
                                         .verifier_id = v->cfg->verifier_id,
                                         .nonce = nonce,
                                         .nonce_size = NONCE_SIZE,
                                         .iat = now,
                                         .exp = now + v->cfg->token_lifetime,
                                         .status = "affirming",
                                         .trustworthiness = o->trustworthiness,
                                         .policy_id = o->policy_id[0] ? o->policy_id : NULL,
                                 },
                                 ret);
}

static void verdict_log(struct vf_request *rq, const struct vf_round_output *o, uint64_t latency)
{
        json_t *first = json_array_get(o->reasons, 0);

        vf_log_json(VF_LOG_INFO, "verdict",
                    json_pack("{s:s, s:s, s:I, s:I, s:I, s:I, s:f, s:O}", "gateway", rq->params[0], "verdict",
                              vf_status_name(o->verdict), "round", (json_int_t)o->round, "reasons",
                              (json_int_t)json_array_size(o->reasons), "ima_consumed", (json_int_t)o->entries_consumed,
                              "ima_next", (json_int_t)o->ima_next_index, "ms", (double)latency / 1000.0, "first_reason",
                              first ? first : json_null()));
        vf_request_log(rq, "gateway", json_string(rq->params[0]));
        vf_request_log(rq, "verdict", json_string(vf_status_name(o->verdict)));
}

static enum MHD_Result round_answer(struct vf_request *rq, const struct vf_round_output *o, const char *token)
{
        json_t *answer = json_pack("{s:s, s:I, s:O, s:O, s:{s:I, s:b}}", "verdict", vf_status_name(o->verdict), "round",
                                   (json_int_t)o->round, "reasons", o->reasons, "report", o->report, "next", "ima_from",
                                   (json_int_t)o->ima_next_index, "boot_log_required", o->boot_log_required);

        if (answer && token)
                json_object_set_new(answer, "token", json_string(token));
        return vf_reply_json(rq, 200, answer);
}

/* Judges, signs, commits. */
static enum MHD_Result round_run(struct vf_request *rq, struct vf_gateway *g, const struct vf_round_policies *pol,
                                 const struct evidence *e, const struct vf_nonce_use *nonce)
{
        struct verifier *v = rq->v;
        _cleanup_(vf_round_output_done) struct vf_round_output o = {};
        _cleanup_free_ char *token = NULL, *reasons = NULL;
        _cleanup_free_ uint8_t *judged = NULL; /* the state judged from: the commit's condition */
        _cleanup_(vf_evidence_done) struct vf_evidence kept = {};
        _cleanup_free_ struct dw_round_stored_entry *consumed = NULL;
        const char *runtime_id = pol->runtime ? vf_policy_ref_id(pol->runtime) : NULL;
        bool rejudge = vf_round_rejudge_needed(g, runtime_id);
        size_t judged_size = g->state_size, n_consumed = 0;
        uint64_t start = vf_monotonic_usec(), now = vf_now_usec(), latency, expected = g->rounds;
        enum vf_status previous;
        char why[300], nonce_hex[2 * NONCE_SIZE + 1];
        int r;

        /* A runtime policy the epoch's entries were not judged against: they are judged again first. */
        if (rejudge && vf_store_evidence_get(v->store, g->id, &kept) < 0)
                return vf_reply_error(rq, 500, "internal-error", "database error");
        r = vf_round_judge(g, pol, rejudge ? &kept : NULL, e->nonce, sizeof(e->nonce), &e->ev, now, &o, why,
                           sizeof(why));
        if (r < 0)
                return vf_reply_error(rq, 500, "internal-error", "%s", why);
        r = vf_round_consumed_entries(&e->ev, o.ima_from, o.ima_next_index, &consumed, &n_consumed);
        if (r < 0)
                return vf_reply_error(rq, 500, "internal-error", "the consumed IMA entries cannot be kept: %s",
                                      strerror(-r));
        r = event_chain_judge(v, g, e, &o);
        if (r < 0)
                return vf_reply_error(rq, 500, "internal-error", "the event chain could not be judged: %s",
                                      strerror(-r));
        evidence_report(&o, e);
        if (o.verdict == VF_STATUS_TRUSTED && token_make(v, g->id, e->nonce, &o, &token) < 0)
                return vf_reply_error(rq, 500, "internal-error", "cannot sign the attestation result token");
        latency = vf_monotonic_usec() - start;
        reasons = json_dumps(o.reasons, JSON_COMPACT);
        judged = TAKE_PTR(g->state);
        g->state = TAKE_PTR(o.state);
        g->state_size = o.state_size;
        g->ima_next_index = o.ima_next_index;
        g->boot_log_required = o.boot_log_required;
        snprintf(g->runtime_judged, sizeof(g->runtime_judged), "%s", o.runtime_judged);
        g->evidence_complete = o.evidence_complete;
        const json_t *evidence = json_object_get(o.report, "evidence");
        _cleanup_free_ char *evidence_text = evidence ? json_dumps(evidence, JSON_COMPACT) : NULL;
        r = vf_store_round_commit(
                v->store, g, &(struct vf_state_expect){.rounds = expected, .state = judged, .state_size = judged_size},
                &(struct vf_evidence_update){.new_epoch = o.new_epoch, .entries = consumed, .n = n_consumed}, nonce,
                &(struct vf_verdict_record){
                        .time = now,
                        .verdict = o.verdict,
                        .reasons = reasons,
                        .evidence = evidence_text,
                        .ima_from = o.ima_from,
                        .ima_to = o.ima_next_index,
                        .nonce_hex = dw_hex_encode(e->nonce, sizeof(e->nonce), nonce_hex),
                        .latency_usec = latency,
                },
                v->cfg->verdict_history, &previous);
        if (r == -ESTALE)
                return vf_reply_error(rq, 409, "concurrent-round",
                                      "another round of this gateway completed meanwhile; ask for a new nonce");
        if (r == -EEXIST)
                return nonce_refused(rq, VF_NONCE_REUSED);
        if (r < 0)
                return vf_reply_error(rq, 500, "internal-error", "database error");
        vf_metrics_round(v->metrics, o.verdict, latency);
        verdict_log(rq, &o, latency);
        if (previous != o.verdict)
                vf_verdict_changed(v, g->id, previous, o.verdict, o.reasons);
        return round_answer(rq, &o, token);
}

/* Uses the nonce: from memory, or, when it is not there (issued before a restart, forgotten), the store says
 * whether a round used it already. */
static int nonce_use(struct verifier *v, const char *gateway_id, const uint8_t *nonce, enum vf_nonce_result *ret)
{
        bool used;
        int r;

        *ret = vf_nonces_use(v->nonces, gateway_id, nonce, vf_now_usec());
        if (*ret != VF_NONCE_UNKNOWN)
                return 0;
        r = vf_store_nonce_used(v->store, nonce, NONCE_SIZE, &used);
        if (r < 0)
                return r;
        *ret = used ? VF_NONCE_REUSED : VF_NONCE_UNKNOWN;
        return 0;
}

enum MHD_Result vf_api_attest(struct vf_request *rq)
{
        struct verifier *v = rq->v;
        _cleanup_(json_decrefp) json_t *body = NULL;
        _cleanup_(evidence_done) struct evidence e = {};
        _cleanup_(vf_gateway_done) struct vf_gateway g = {};
        _cleanup_(vf_round_policies_done) struct vf_round_policies pol = {};
        enum vf_nonce_result nr;
        char why[512];
        int r;

        if (vf_request_json(rq, &body, why, sizeof(why)) < 0)
                return vf_reply_error(rq, 400, "malformed-json", "%s", why);
        r = evidence_parse(body, &e, why, sizeof(why));
        if (r == -ENOMEM)
                return vf_reply_error(rq, 500, "internal-error", "out of memory");
        if (r < 0)
                return vf_reply_error(rq, 400, "malformed-evidence", "%s", why);
        r = vf_store_gateway_get(v->store, rq->params[0], &g);
        if (r < 0)
                return vf_reply_error(rq, 500, "internal-error", "database error");
        r = vf_round_policies_acquire(v, g.id, &pol, why, sizeof(why));
        if (r < 0)
                return vf_reply_error(rq, 503, "policy-unavailable", "%s", why);
        r = nonce_use(v, g.id, e.nonce, &nr);
        if (r < 0)
                return vf_reply_error(rq, 500, "internal-error", "database error");
        if (nr != VF_NONCE_OK)
                return nonce_refused(rq, nr);
        if (v->cfg->require_runtime_policy && !pol.runtime)
                return policy_missing(rq, &g, &(struct vf_nonce_use){e.nonce, sizeof(e.nonce)});
        return round_run(rq, &g, &pol, &e, &(struct vf_nonce_use){e.nonce, sizeof(e.nonce)});
}
