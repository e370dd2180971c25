/* SPDX-License-Identifier: MIT */
/* Runtime events (docs/protocol.md, "Runtime events"; the batch format: docs/events.md):
 *
 *   POST /v1/gateways/{id}/events   one batch in JSON, signed by the gateway's certified event key -> 200 with the
 *                                   next expected sequence number (ok, duplicate), or 409/400 with the verdict
 *   GET  /v1/events                 the stored events, newest first, filtered by gateway, kind and time
 *
 * A batch is judged with lib/event-chain against the gateway's persisted event-chain state and the event key from
 * its enrollment. An accepted batch's events and the new state are committed in one transaction (optimistically:
 * a concurrent batch of the same gateway makes it 409 concurrent-batch, nothing written). A batch that is refused
 * changes no event-chain state: it is recorded as an untrusted verdict with the reason "event_chain_<verdict>".
 * One that shows tampering (fork, bad signature, chain mismatch) is also a sticky failure, kept in the gateway's
 * round state like a rejected executable until an administrator acknowledges it; a gap, another chain's batch and
 * bad encoding are not. */

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api.h"
#include "event-chain.h"
#include "log.h"
#include "round.h"
#include "tpm-marshal.h"
#include "util.h"

#define EVENTS_DEFAULT 100
#define EVENTS_MAX     1000

static void batch_freep(struct dw_event_batch **b)
{
        dw_event_batch_free(*b);
}

static int event_key_load(const struct vf_gateway *g, EVP_PKEY **ret, char *why, size_t why_size)
{
        struct dw_error err = {};
        TPMT_PUBLIC pub;
        int r;

        r = dw_tpm_public_parse(g->event_key_public, g->event_key_public_size, &pub, &err);
        if (r == 0)
                r = dw_event_key_from_public(&pub, ret, &err);
        if (r < 0)
                snprintf(why, why_size, "the enrolled event key is unusable: %s", err.msg[0] ? err.msg : strerror(-r));
        return r;
}

/* The stored state (*ret_blob NULL when there is none yet: a new state for the gateway). */
static int state_load(struct verifier *v, const char *gateway_id, struct dw_event_verify_state *ret, uint8_t **ret_blob,
                      size_t *ret_size, char *why, size_t why_size)
{
        struct dw_error err = {};
        int r;

        *ret_blob = NULL;
        *ret_size = 0;
        r = vf_store_event_state_get(v->store, gateway_id, ret_blob, ret_size);
        if (r == -ENOENT) {
                r = dw_event_verify_state_init(ret, gateway_id);
                if (r < 0)
                        snprintf(why, why_size, "cannot start an event-chain state for %s", gateway_id);
                return r;
        }
        if (r < 0) {
                snprintf(why, why_size, "database error");
                return r;
        }
        r = dw_event_verify_state_deserialize(*ret_blob, *ret_size, ret, &err);
        if (r < 0)
                snprintf(why, why_size, "the stored event-chain state is unusable: %s", err.msg);
        return r;
}

#define STICKY_TRIES 8

/* Whether a refused batch shows tampering (authentic evidence of an attack or a rewritten history: sticky, like a
 * rejected executable) rather than a transport or bookkeeping problem (a gap, another chain, bad encoding). */
static bool verdict_sticky(enum dw_event_verdict v)
{
        return v == DW_EVENT_FORK || v == DW_EVENT_BAD_SIGNATURE || v == DW_EVENT_CHAIN_MISMATCH;
}

/* The reason of a refused batch, as attestation reasons look; round: the round it counts as found in (sticky). */
static json_t *batch_reasons(const struct dw_event_verify_result *res, bool sticky, uint64_t round)
{
        _cleanup_free_ char *kind = vf_strprintf("event_chain_%s", dw_event_verdict_name(res->verdict));
        json_t *reasons;

        if (!kind)
                return NULL;
        reasons =
                json_pack("[{s:s, s:b, s:I, s:s, s:s}]", "kind", kind, "sticky", sticky, "index",
                          (json_int_t)res->first_seq, "rule", dw_event_verdict_name(res->verdict), "message", res->msg);
        if (reasons && sticky)
                json_object_set_new(json_array_get(reasons, 0), "round", json_integer((json_int_t)round));
        return reasons;
}

/* Records the verdict (and the state that keeps its sticky failure, when not NULL) and publishes the status change.
 * -ESTALE when the state changed since expected was read. */
static int refused_commit(struct vf_request *rq, json_t *reasons, const struct vf_state_expect *expected,
                          const uint8_t *state, size_t state_size)
{
        struct verifier *v = rq->v;
        _cleanup_free_ char *text = json_dumps(reasons, JSON_COMPACT);
        struct vf_verdict_record rec = {.time = vf_now_usec(), .verdict = VF_STATUS_UNTRUSTED, .reasons = text};
        enum vf_status previous;
        int r;

        if (!text)
                return -ENOMEM;
        if (state)
                r = vf_store_verdict_add_state(v->store, rq->params[0], expected, state, state_size, &rec,
                                               v->cfg->verdict_history, &previous);
        else
                r = vf_store_verdict_add(v->store, rq->params[0], NULL, &rec, v->cfg->verdict_history, &previous);
        if (r < 0)
                return r;
        vf_metrics_round(v->metrics, VF_STATUS_UNTRUSTED, 0);
        if (previous != VF_STATUS_UNTRUSTED)
                vf_verdict_changed(v, rq->params[0], previous, VF_STATUS_UNTRUSTED, reasons);
        vf_request_log(rq, "verdict", json_string("untrusted"));
        return 0;
}

/* A sticky refusal: its failure goes into the gateway's round state with the verdict, retried when a round (or
 * another refusal) changed the state meanwhile. *ret_reasons gets the reasons recorded. */
static int sticky_record(struct vf_request *rq, const struct dw_event_verify_result *res, json_t **ret_reasons)
{
        struct verifier *v = rq->v;
        int r = -ESTALE;

        for (unsigned i = 0; i < STICKY_TRIES && r == -ESTALE; i++) {
                _cleanup_(vf_gateway_done) struct vf_gateway g = {};
                _cleanup_(json_decrefp) json_t *reasons = NULL;
                _cleanup_free_ uint8_t *state = NULL;
                size_t size;
                uint64_t round;

                r = vf_store_gateway_get(v->store, rq->params[0], &g);
                if (r < 0)
                        return r;
                r = vf_round_add_sticky_batch(g.state, g.state_size, dw_event_verdict_name(res->verdict),
                                              res->first_seq, res->msg, &state, &size, &round);
                if (r < 0)
                        return r;
                reasons = batch_reasons(res, true, round);
                if (!reasons)
                        return -ENOMEM;
                r = refused_commit(
                        rq, reasons,
                        &(struct vf_state_expect){.rounds = g.rounds, .state = g.state, .state_size = g.state_size},
                        state, size);
                if (r == 0)
                        *ret_reasons = TAKE_PTR(reasons);
        }
        return r;
}

static int refused_record(struct vf_request *rq, const struct dw_event_verify_result *res, json_t **ret_reasons)
{
        _cleanup_(json_decrefp) json_t *reasons = NULL;
        int r;

        if (verdict_sticky(res->verdict))
                return sticky_record(rq, res, ret_reasons);
        reasons = batch_reasons(res, false, 0);
        if (!reasons)
                return -ENOMEM;
        r = refused_commit(rq, reasons, NULL, NULL, 0);
        if (r == 0)
                *ret_reasons = TAKE_PTR(reasons);
        return r;
}

static enum MHD_Result batch_refused(struct vf_request *rq, const struct dw_event_verify_result *res)
{
        _cleanup_(json_decrefp) json_t *reasons = NULL;
        _cleanup_free_ char *error = vf_strprintf("event_chain_%s", dw_event_verdict_name(res->verdict));

        if (!error || refused_record(rq, res, &reasons) < 0)
                return vf_reply_error(rq, 500, "internal-error", "database error");
        vf_metrics_rejected(rq->v->metrics, error);
        vf_log_json(VF_LOG_WARNING, "event-batch-refused",
                    json_pack("{s:s, s:s, s:I, s:I, s:s}", "gateway", rq->params[0], "verdict",
                              dw_event_verdict_name(res->verdict), "first_seq", (json_int_t)res->first_seq,
                              "expected_seq", (json_int_t)res->expected_seq, "message", res->msg));
        snprintf(rq->error, sizeof(rq->error), "%s", error);
        return vf_reply_json(rq, res->verdict == DW_EVENT_BAD_ENCODING ? 400 : 409,
                             json_pack("{s:s, s:s, s:s, s:I, s:s, s:O}", "error", error, "detail", res->msg,
                                       "batch_verdict", dw_event_verdict_name(res->verdict), "expected_seq",
                                       (json_int_t)res->expected_seq, "verdict", "untrusted", "reasons", reasons));
}

struct records {
        struct vf_event_record *rec;
        char **fields;
        size_t n;
};

static void records_done(struct records *r)
{
        for (size_t i = 0; i < r->n; i++)
                free(r->fields[i]);
        free(r->fields);
        free(r->rec);
}

static int records_make(const struct dw_event_batch *b, struct records *ret)
{
        ret->rec = calloc(b->n_events ? b->n_events : 1, sizeof(*ret->rec));
        ret->fields = calloc(b->n_events ? b->n_events : 1, sizeof(*ret->fields));
        if (!ret->rec || !ret->fields)
                return -ENOMEM;
        for (size_t i = 0; i < b->n_events; i++) {
                const struct dw_event *ev = b->events[i];
                _cleanup_(json_decrefp) json_t *j = NULL;

                if (dw_event_to_json(ev, &j) < 0)
                        return -ENOMEM;
                ret->fields[i] = json_dumps(json_object_get(j, "fields"), JSON_COMPACT | JSON_SORT_KEYS);
                ret->n = i + 1;
                if (!ret->fields[i])
                        return -ENOMEM;
                ret->rec[i] = (struct vf_event_record){
                        .reset_count = b->chain.reset_count,
                        .seq = ev->seq,
                        .time = ev->realtime_usec,
                        .monotonic = ev->monotonic_usec,
                        .kind = ev->kind,
                        .severity = dw_event_severity_name(ev->severity),
                        .fields = ret->fields[i],
                };
        }
        return 0;
}

static void events_publish(struct verifier *v, const char *gateway_id, const struct dw_event_batch *b)
{
        for (size_t i = 0; i < b->n_events; i++) {
                json_t *j = NULL;
                char ts[32];

                if (dw_event_to_json(b->events[i], &j) < 0)
                        continue;
                json_object_set_new(j, "gateway", json_string(gateway_id));
                json_object_set_new(j, "reset_count", json_integer(b->chain.reset_count));
                json_object_set_new(j, "time",
                                    json_string(vf_format_time(b->events[i]->realtime_usec, ts, sizeof(ts))));
                vf_events_publish(v->events, "runtime-event", j);
        }
}

static enum MHD_Result batch_accept(struct vf_request *rq, const struct dw_event_batch *b,
                                    const struct dw_event_verify_result *res, const uint8_t *expected,
                                    size_t expected_size)
{
        struct verifier *v = rq->v;
        _cleanup_(records_done) struct records recs = {};
        _cleanup_free_ uint8_t *blob = NULL;
        size_t blob_size;
        int r;

        r = dw_event_verify_state_serialize(&res->state, &blob, &blob_size);
        if (r == 0)
                r = records_make(b, &recs);
        if (r < 0)
                return vf_reply_error(rq, 500, "internal-error", "out of memory");
        r = vf_store_events_commit(v->store, rq->params[0], expected, expected_size, blob, blob_size, recs.rec,
                                   b->n_events, vf_now_usec());
        if (r == -ESTALE)
                return vf_reply_error(rq, 409, "concurrent-batch",
                                      "another batch of this gateway was accepted meanwhile; send it again");
        if (r < 0)
                return vf_reply_error(rq, 500, "internal-error", "database error");
        events_publish(v, rq->params[0], b);
        vf_log_json(VF_LOG_INFO, "event-batch",
                    json_pack("{s:s, s:I, s:I, s:b}", "gateway", rq->params[0], "first_seq", (json_int_t)res->first_seq,
                              "events", (json_int_t)res->n_events, "new_chain", res->new_chain));
        return vf_reply_json(rq, 200,
                             json_pack("{s:s, s:I, s:I, s:I, s:b}", "verdict", "ok", "accepted",
                                       (json_int_t)res->n_events, "first_seq", (json_int_t)res->first_seq, "next_seq",
                                       (json_int_t)res->state.next_seq, "new_chain", res->new_chain));
}

enum MHD_Result vf_api_events_post(struct vf_request *rq)
{
        struct verifier *v = rq->v;
        _cleanup_(vf_gateway_done) struct vf_gateway g = {};
        _cleanup_(dw_pkey_freep) EVP_PKEY *key = NULL;
        _cleanup_(batch_freep) struct dw_event_batch *batch = NULL;
        _cleanup_free_ uint8_t *stored = NULL;
        _cleanup_free_ struct dw_event_verify_result *res = NULL;
        struct dw_event_verify_state state;
        size_t stored_size;
        char why[300];
        int r;

        vf_request_log(rq, "gateway", json_string(rq->params[0]));
        if (!rq->body || rq->body_size == 0)
                return vf_reply_error(rq, 400, "malformed-json", "expected one event batch (docs/events.md)");
        r = vf_store_gateway_get(v->store, rq->params[0], &g);
        if (r < 0)
                return vf_reply_error(rq, 500, "internal-error", "database error");
        if (event_key_load(&g, &key, why, sizeof(why)) < 0)
                return vf_reply_error(rq, 500, "internal-error", "%s", why);
        if (state_load(v, g.id, &state, &stored, &stored_size, why, sizeof(why)) < 0)
                return vf_reply_error(rq, 500, "internal-error", "%s", why);
        res = malloc(sizeof(*res));
        if (!res)
                return vf_reply_error(rq, 500, "internal-error", "out of memory");
        r = dw_event_verify_batch_json(&state, key, (const char *)rq->body, rq->body_size, 0, res, &batch);
        if (r < 0)
                return vf_reply_error(rq, 500, "internal-error", "the batch could not be judged: %s", strerror(-r));
        vf_request_log(rq, "batch", json_string(dw_event_verdict_name(res->verdict)));
        if (res->verdict == DW_EVENT_DUPLICATE)
                return vf_reply_json(rq, 200,
                                     json_pack("{s:s, s:I, s:I, s:I}", "verdict", "duplicate", "accepted",
                                               (json_int_t)0, "first_seq", (json_int_t)res->first_seq, "next_seq",
                                               (json_int_t)state.next_seq));
        if (res->verdict != DW_EVENT_OK || !res->accepted || !batch)
                return batch_refused(rq, res);
        return batch_accept(rq, batch, res, stored, stored_size);
}

/* ---- read API ------------------------------------------------------------------------------------------------ */

/* Unix seconds, or RFC 3339 in UTC ("2024-05-01T12:00:00Z", optional fraction) -> usec. */
static int time_parse(const char *s, uint64_t *ret)
{
        struct tm tm = {};
        uint64_t usec = 0, scale = 100000;
        const char *p;
        time_t t;

        if (vf_parse_uint(s, UINT64_MAX / 1000000u, &usec) == 0) {
                *ret = usec * 1000000u;
                return 0;
        }
        p = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
        if (!p)
                return -EINVAL;
        if (*p == '.') {
                for (p++; *p >= '0' && *p <= '9'; p++) {
                        usec += (uint64_t)(*p - '0') * scale;
                        scale /= 10;
                }
        }
        if (strcmp(p, "Z") != 0)
                return -EINVAL;
        t = timegm(&tm);
        if (t < 0)
                return -EINVAL;
        *ret = (uint64_t)t * 1000000u + usec;
        return 0;
}

enum MHD_Result vf_api_events(struct vf_request *rq)
{
        struct vf_event_query q = {.gateway_id = vf_request_arg(rq, "gateway"), .kind = vf_request_arg(rq, "kind")};
        const char *since = vf_request_arg(rq, "since"), *until = vf_request_arg(rq, "until"),
                   *limit = vf_request_arg(rq, "limit");
        json_t *list;

        q.limit = EVENTS_DEFAULT;
        if (limit && (vf_parse_uint(limit, EVENTS_MAX, &q.limit) < 0 || q.limit == 0))
                return vf_reply_error(rq, 400, "invalid-argument", "limit: expected 1-%d", EVENTS_MAX);
        if (q.gateway_id && !vf_name_is_valid(q.gateway_id))
                return vf_reply_error(rq, 400, "invalid-argument", "gateway: not a gateway name");
        if (q.kind && !dw_event_kind_valid(q.kind))
                return vf_reply_error(rq, 400, "invalid-argument", "kind: expected [a-z][a-z0-9_]*");
        if (since && time_parse(since, &q.since) < 0)
                return vf_reply_error(rq, 400, "invalid-argument", "since: expected RFC 3339 (UTC) or Unix seconds");
        if (until && time_parse(until, &q.until) < 0)
                return vf_reply_error(rq, 400, "invalid-argument", "until: expected RFC 3339 (UTC) or Unix seconds");
        if (vf_store_events_json(rq->v->store, &q, &list) < 0)
                return vf_reply_error(rq, 500, "internal-error", "database error");
        return vf_reply_json(rq, 200, json_pack("{s:o}", "events", list));
}
