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

/* ---- Server-Sent Events -------------------------------------------------------------------------------------- */

static ssize_t stream_read(void *cls, uint64_t pos, char *buf, size_t max)
{
        ssize_t n;

        (void)pos;
        n = vf_subscriber_read(cls, buf, max, SSE_KEEPALIVE_USEC);
        if (n == -ESHUTDOWN)
                return MHD_CONTENT_READER_END_OF_STREAM;
        if (n < 0)
                return MHD_CONTENT_READER_END_WITH_ERROR;
        return n;
}

static void stream_free(void *cls)
{
        vf_events_unsubscribe(cls);
}

enum MHD_Result vf_api_stream(struct vf_request *rq)
{
        const char *last = vf_request_header(rq, "Last-Event-ID");
        struct vf_subscriber *sub;
        struct MHD_Response *resp;
        uint64_t last_id = 0;

        if (last && vf_parse_uint(last, INT64_MAX, &last_id) < 0)
                return vf_reply_error(rq, 400, "invalid-argument", "Last-Event-ID: expected an event id");
        if (vf_events_subscribe(rq->v->events, last ? &last_id : NULL, &sub) < 0)
                return vf_reply_error(rq, 500, "internal-error", "out of memory");
        resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, SSE_BLOCK, stream_read, sub, stream_free);
        if (!resp) {
                vf_events_unsubscribe(sub);
                return MHD_NO;
        }
        MHD_add_response_header(resp, "Content-Type", "text/event-stream");
        return vf_reply_response(rq, 200, resp);
}
