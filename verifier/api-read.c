/* SPDX-License-Identifier: MIT */
/* The read API (bearer token: the read or the admin token) and the public endpoints. */

#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include "api.h"
#include "util.h"

#define VERDICTS_DEFAULT   50
#define VERDICTS_MAX       1000
#define SSE_BLOCK          (16 * 1024)
#define SSE_KEEPALIVE_USEC (15 * 1000000u)

enum MHD_Result vf_api_healthz(struct vf_request *rq)
{
        int version;

        if (vf_store_schema_version(rq->v->store, &version) < 0)
                return vf_reply_error(rq, 503, "unhealthy", "the database does not answer");
        return vf_reply_json(rq, 200, json_pack("{s:s, s:i}", "status", "ok", "schema_version", version));
}

enum MHD_Result vf_api_jwks(struct vf_request *rq)
{
        const char *jwks = vf_pki_jwks_json(rq->v->pki);

        return vf_reply_data(rq, 200, "application/jwk-set+json", jwks, strlen(jwks));
}

enum MHD_Result vf_api_ca(struct vf_request *rq)
{
        const char *pem = vf_pki_ca_pem(rq->v->pki);

        return vf_reply_data(rq, 200, "application/x-pem-file", pem, strlen(pem));
}

enum MHD_Result vf_api_gateways(struct vf_request *rq)
{
        json_t *list;

        if (vf_store_gateways_json(rq->v->store, NULL, &list) < 0)
                return vf_reply_error(rq, 500, "internal-error", "database error");
        return vf_reply_json(rq, 200, json_pack("{s:o}", "gateways", list));
}

enum MHD_Result vf_api_gateway(struct vf_request *rq)
{
        json_t *list, *g;

        if (vf_store_gateways_json(rq->v->store, rq->params[0], &list) < 0)
                return vf_reply_error(rq, 500, "internal-error", "database error");
        g = json_incref(json_array_get(list, 0));
        json_decref(list);
        if (!g)
                return vf_reply_error(rq, 404, "unknown-gateway", "no gateway %s is enrolled", rq->params[0]);
        return vf_reply_json(rq, 200, g);
}

static int arg_uint(struct vf_request *rq, const char *name, uint64_t def, uint64_t max, uint64_t *ret)
{
        const char *s = vf_request_arg(rq, name);

        if (!s) {
                *ret = def;
                return 0;
        }
        return vf_parse_uint(s, max, ret);
}

enum MHD_Result vf_api_verdicts(struct vf_request *rq)
{
        struct vf_gateway g = {};
        uint64_t limit, before;
        json_t *list;
        int r;

        if (arg_uint(rq, "limit", VERDICTS_DEFAULT, VERDICTS_MAX, &limit) < 0 || limit == 0)
                return vf_reply_error(rq, 400, "invalid-argument", "limit: expected 1-%d", VERDICTS_MAX);
        if (arg_uint(rq, "before", 0, INT64_MAX, &before) < 0)
                return vf_reply_error(rq, 400, "invalid-argument", "before: expected a verdict id");
        r = vf_store_gateway_get(rq->v->store, rq->params[0], &g);
        if (r == -ENOENT)
                return vf_reply_error(rq, 404, "unknown-gateway", "no gateway %s is enrolled", rq->params[0]);
        if (r < 0)
                return vf_reply_error(rq, 500, "internal-error", "database error");
        vf_gateway_done(&g);
        if (vf_store_verdicts_json(rq->v->store, rq->params[0], limit, before, &list) < 0)
                return vf_reply_error(rq, 500, "internal-error", "database error");
        return vf_reply_json(rq, 200, json_pack("{s:s, s:o}", "gateway", rq->params[0], "verdicts", list));
}

enum MHD_Result vf_api_metrics(struct vf_request *rq)
{
        uint64_t counts[_VF_STATUS_MAX];
        _cleanup_free_ char *text = NULL;

        if (vf_store_status_counts(rq->v->store, counts) < 0)
                return vf_reply_error(rq, 500, "internal-error", "database error");
        text = vf_metrics_render(rq->v->metrics, counts);
        if (!text)
                return vf_reply_error(rq, 500, "internal-error", "out of memory");
        return vf_reply_data(rq, 200, "text/plain; version=0.0.4; charset=utf-8", text, strlen(text));
}

/* ---- Server-Sent Events ----------------------------------------------------------------------------------------
 *
 * A stream's connection is suspended while there is nothing to send: the hub resumes it when an event is
 * published (vf_subscriber_notify), the timer when a keep-alive is due; libmicrohttpd then asks for data again. */

struct stream {
        struct vf_subscriber *sub;
        struct vf_suspension susp;
        uint64_t keepalive_at; /* monotonic usec: when the next keep-alive comment is due */
};

static void stream_wake(void *userdata)
{
        struct stream *st = userdata;

        vf_resume(&st->susp);
}

static ssize_t stream_read(void *cls, uint64_t pos, char *buf, size_t max)
{
        static const char keepalive[] = ": keep-alive\n\n";
        struct stream *st = cls;
        uint64_t now = vf_monotonic_usec();
        ssize_t n;

        (void)pos;
        vf_subscriber_notify_cancel(st->sub);
        vf_suspension_done(&st->susp);
        n = vf_subscriber_read(st->sub, buf, max);
        if (n == -ESHUTDOWN)
                return MHD_CONTENT_READER_END_OF_STREAM;
        if (n < 0)
                return MHD_CONTENT_READER_END_WITH_ERROR;
        if (n == 0 && now >= st->keepalive_at && max >= sizeof(keepalive) - 1) {
                memcpy(buf, keepalive, sizeof(keepalive) - 1);
                n = (ssize_t)(sizeof(keepalive) - 1);
        }
        if (n > 0) {
                st->keepalive_at = now + SSE_KEEPALIVE_USEC;
                return n;
        }
        /* Nothing to send: suspend until an event (at once if one came meanwhile) or the keep-alive is due. */
        vf_suspend(&st->susp, st->keepalive_at);
        vf_subscriber_notify(st->sub, stream_wake, st);
        return 0;
}

static void stream_free(void *cls)
{
        struct stream *st = cls;

        vf_subscriber_notify_cancel(st->sub);
        vf_suspension_done(&st->susp);
        vf_events_unsubscribe(st->sub);
        free(st);
}

enum MHD_Result vf_api_stream(struct vf_request *rq)
{
        const char *last = vf_request_header(rq, "Last-Event-ID");
        struct MHD_Response *resp;
        struct stream *st;
        uint64_t last_id = 0;

        if (last && vf_parse_uint(last, INT64_MAX, &last_id) < 0)
                return vf_reply_error(rq, 400, "invalid-argument", "Last-Event-ID: expected an event id");
        st = calloc(1, sizeof(*st));
        if (!st)
                return vf_reply_error(rq, 500, "internal-error", "out of memory");
        st->susp.conn = rq->conn;
        st->susp.timers = rq->v->timers;
        st->keepalive_at = vf_monotonic_usec() + SSE_KEEPALIVE_USEC;
        if (vf_events_subscribe(rq->v->events, last ? &last_id : NULL, &st->sub) < 0) {
                free(st);
                return vf_reply_error(rq, 500, "internal-error", "out of memory");
        }
        resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, SSE_BLOCK, stream_read, st, stream_free);
        if (!resp) {
                stream_free(st);
                return MHD_NO;
        }
        MHD_add_response_header(resp, "Content-Type", "text/event-stream");
        return vf_reply_response(rq, 200, resp);
}
