/* SPDX-License-Identifier: MIT */
/* Verifier-initiated challenges (docs/protocol.md, "Challenges"):
 *
 *   GET  /v1/gateways/{id}/challenge?wait=S        the gateway's long poll (mutual TLS): a pending challenge at once,
 *                                                  else waits up to S seconds for one -> {"challenge": true|false}
 *   POST /v1/admin/gateways/{id}/challenge         an administrator asks the gateway to re-attest now
 *
 * Policy changes raise challenges too (api-admin.c). A waiting poll suspends its connection (no thread, no lock
 * held) and is resumed by the hub when a challenge is raised, or at the end of its wait. A challenge is taken by the
 * poll that answers it; when that answer cannot be sent (the gateway went away meanwhile) it is put back for the
 * next poll. */

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "log.h"
#include "util.h"

/* A poll: while it waits, its connection is suspended and its waiter registered with the hub. */
struct poll {
        struct vf_challenge_waiter waiter;
        uint64_t deadline; /* monotonic usec */
        bool watching;
        bool delivered; /* the answer carries challenge */
        struct vf_challenge challenge;
        char gateway_id[65];
};

static void poll_unwatch(struct vf_request *rq, struct poll *p)
{
        if (p->watching)
                vf_challenges_unwatch(rq->v->challenges, &p->waiter);
        p->watching = false;
}

/* The request is over. An answer carrying a challenge that did not reach the gateway: the next poll gets it. */
static void poll_done(struct vf_request *rq, bool completed)
{
        struct poll *p = rq->on_done_data;

        poll_unwatch(rq, p);
        if (p->delivered && !completed)
                vf_challenges_restore(rq->v->challenges, p->gateway_id, &p->challenge);
        free(p);
        rq->on_done_data = NULL;
}

/* Under the hub's lock: a challenge was raised for the gateway, or the hub shuts down. */
static void poll_wake(struct vf_challenge_waiter *w)
{
        struct vf_request *rq = w->userdata;

        vf_resume(&rq->susp);
}

static enum MHD_Result poll_answer(struct vf_request *rq, struct poll *p)
{
        char ts[32];

        vf_request_log(rq, "challenge", json_boolean(p->delivered));
        if (!p->delivered)
                return vf_reply_json(rq, 200, json_pack("{s:b}", "challenge", false));
        return vf_reply_json(rq, 200,
                             json_pack("{s:b, s:s, s:s}", "challenge", true, "reason", p->challenge.reason, "requested",
                                       vf_format_time(p->challenge.requested, ts, sizeof(ts))));
}

/* The poll's step: answer with a pending challenge, or false when the wait is up (or the verifier stops), or wait
 * on with the connection suspended. Called again whenever it is resumed. */
static enum MHD_Result poll_step(struct vf_request *rq)
{
        struct verifier *v = rq->v;
        struct poll *p = rq->on_done_data;
        int r;

        poll_unwatch(rq, p);
        if (vf_challenges_take(v->challenges, p->gateway_id, &p->challenge) == 0) {
                p->delivered = true;
                return poll_answer(rq, p);
        }
        if (vf_monotonic_usec() >= p->deadline || v->stopping)
                return poll_answer(rq, p);
        /* Suspend first, then watch: a wake may come at once, and must find the connection suspended. */
        vf_request_suspend(rq, p->deadline, poll_step);
        r = vf_challenges_watch(v->challenges, p->gateway_id, &p->waiter);
        if (r == 0)
                p->watching = true;
        else
                vf_resume(&rq->susp); /* pending meanwhile, or shutting down: the next step answers */
        return MHD_YES;
}

enum MHD_Result vf_api_challenge_poll(struct vf_request *rq)
{
        const char *arg = vf_request_arg(rq, "wait");
        uint64_t wait = VF_CHALLENGE_WAIT_DEFAULT;
        struct poll *p;

        if (arg && vf_parse_uint(arg, VF_CHALLENGE_WAIT_MAX, &wait) < 0)
                return vf_reply_error(rq, 400, "invalid-argument", "wait: expected 0-%d (seconds)",
                                      VF_CHALLENGE_WAIT_MAX);
        vf_request_log(rq, "gateway", json_string(rq->params[0]));
        p = calloc(1, sizeof(*p));
        if (!p)
                return vf_reply_error(rq, 500, "internal-error", "out of memory");
        snprintf(p->gateway_id, sizeof(p->gateway_id), "%s", rq->params[0]);
        p->deadline = vf_monotonic_usec() + wait * 1000000u;
        p->waiter.wake = poll_wake;
        p->waiter.userdata = rq;
        rq->on_done = poll_done;
        rq->on_done_data = p;
        return poll_step(rq);
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
