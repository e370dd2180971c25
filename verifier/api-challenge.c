/* SPDX-License-Identifier: MIT */
/* Verifier-initiated challenges (docs/protocol.md, "Challenges"):
 *
 *   GET  /v1/gateways/{id}/challenge?wait=S        the gateway's long poll (mutual TLS): a pending challenge at once,
 *                                                  else waits up to S seconds for one -> {"challenge": true|false}
 *   POST /v1/admin/gateways/{id}/challenge         an administrator asks the gateway to re-attest now
 *
 * Policy changes raise challenges too (api-admin.c). A challenge is taken by the poll that answers it; when that
 * answer cannot be sent (the gateway went away meanwhile) it is put back for the next poll. */

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "log.h"
#include "util.h"

struct delivered {
        char gateway_id[65];
        struct vf_challenge challenge;
};

/* The answer carrying a challenge did not reach the gateway: the next poll gets it. */
static void delivered_done(struct vf_request *rq, bool completed)
{
        struct delivered *d = rq->on_done_data;

        if (!completed)
                vf_challenges_restore(rq->v->challenges, d->gateway_id, &d->challenge);
        free(d);
        rq->on_done_data = NULL;
}

static enum MHD_Result challenge_answer(struct vf_request *rq, const struct vf_challenge *c)
{
        struct delivered *d = malloc(sizeof(*d));
        char ts[32];

        vf_request_log(rq, "challenge", json_true());
        if (d) {
                snprintf(d->gateway_id, sizeof(d->gateway_id), "%s", rq->params[0]);
                d->challenge = *c;
                rq->on_done = delivered_done;
                rq->on_done_data = d;
        }
        return vf_reply_json(rq, 200,
                             json_pack("{s:b, s:s, s:s}", "challenge", true, "reason", c->reason, "requested",
                                       vf_format_time(c->requested, ts, sizeof(ts))));
}

enum MHD_Result vf_api_challenge_poll(struct vf_request *rq)
{
        struct verifier *v = rq->v;
        const char *arg = vf_request_arg(rq, "wait");
        uint64_t wait = VF_CHALLENGE_WAIT_DEFAULT;
        struct vf_challenge c;
        int r;

        if (arg && vf_parse_uint(arg, VF_CHALLENGE_WAIT_MAX, &wait) < 0)
                return vf_reply_error(rq, 400, "invalid-argument", "wait: expected 0-%d (seconds)",
                                      VF_CHALLENGE_WAIT_MAX);
        vf_request_log(rq, "gateway", json_string(rq->params[0]));
        if (wait == 0 || v->stopping)
                r = vf_challenges_take(v->challenges, rq->params[0], &c);
        else
                r = vf_challenges_wait(v->challenges, rq->params[0], wait * 1000000u, &c);
        if (r == 0)
                return challenge_answer(rq, &c);
        vf_request_log(rq, "challenge", json_false());
        return vf_reply_json(rq, 200, json_pack("{s:b}", "challenge", false));
}

enum MHD_Result vf_api_challenge_raise(struct vf_request *rq)
{
        struct verifier *v = rq->v;
        _cleanup_(json_decrefp) json_t *body = NULL;
        _cleanup_(vf_gateway_done) struct vf_gateway g = {};
        const char *reason = "admin";
        char why[300];
        int r;

        if (rq->body_size > 0) {
                if (vf_request_json(rq, &body, why, sizeof(why)) < 0)
                        return vf_reply_error(rq, 400, "malformed-json", "%s", why);
                r = vf_json_string(body, "reason", false, &reason, why, sizeof(why));
                if (r < 0 && r != -ENOENT)
                        return vf_reply_error(rq, 400, "malformed-request", "%s", why);
                if (!vf_challenge_reason_valid(reason))
                        return vf_reply_error(rq, 400, "malformed-request",
                                              "reason: expected 1-%d characters, no control characters",
                                              VF_CHALLENGE_REASON_MAX);
        }
        r = vf_store_gateway_get(v->store, rq->params[0], &g);
        if (r == -ENOENT)
                return vf_reply_error(rq, 404, "unknown-gateway", "no gateway %s is enrolled", rq->params[0]);
        if (r < 0)
                return vf_reply_error(rq, 500, "internal-error", "database error");
        r = vf_challenges_raise(v->challenges, g.id, reason, vf_now_usec());
        if (r < 0)
                return vf_reply_error(rq, 500, "internal-error", "out of memory");
        vf_log_json(VF_LOG_INFO, "admin",
                    json_pack("{s:s, s:s, s:s}", "gateway", g.id, "reason", reason, "action", "challenge"));
        return vf_reply_json(rq, 202, json_pack("{s:s, s:b}", "gateway", g.id, "challenged", true));
}

void vf_challenge_gateways(struct verifier *v, const char *reason, char (*ids)[65], size_t n)
{
        uint64_t now = vf_now_usec();

        for (size_t i = 0; i < n; i++)
                (void)vf_challenges_raise(v->challenges, ids[i], reason, now);
}
