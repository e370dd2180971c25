/* SPDX-License-Identifier: MIT */
/* The admin API (bearer token: the admin token): policies and their versions, assignments to gateways and groups,
 * acknowledging sticky failures, removing a gateway. A policy or assignment change takes effect at each gateway's
 * next round, and raises a challenge ("policy-changed") for every gateway it affects so that the next round comes at
 * once; attestation state is never reset by it. */

#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include "api.h"
#include "policy-sign.h"
#include "log.h"
#include "round.h"
#include "util.h"

static void admin_log(const char *action, json_t *fields)
{
        if (!fields)
                fields = json_object();
        json_object_set_new(fields, "action", json_string(action));
        vf_log_json(VF_LOG_INFO, "admin", fields);
}

#define POLICY_CHANGED "policy-changed"

/* Challenges the gateways a policy change affects (policy_name: new version of it; group: its assignment changed);
 * returns how many. */
static size_t challenge_affected(struct verifier *v, enum vf_policy_kind kind, const char *policy_name,
                                 const char *group)
{
        _cleanup_free_ char(*ids)[65] = NULL;
        size_t n = 0;

        if (vf_store_gateways_affected(v->store, kind, policy_name, group, &ids, &n) < 0)
                return 0;
        vf_challenge_gateways(v, POLICY_CHANGED, ids, n);
        return n;
}

static enum vf_policy_kind kind_param(struct vf_request *rq)
{
        return vf_policy_kind_from_name(rq->params[0]);
}

/* policy_signing_keys: the uploaded runtime policy must carry a valid enveloped signature by one of the keys. 0, or
 * -EPERM with why (unsigned, changed after signing, by a key not trusted here, malformed), -ENOMEM. */
static int signature_check(struct verifier *v, const char *body, size_t size, char *why, size_t why_size)
{
        _cleanup_(json_decrefp) json_t *doc = json_loadb(body, size, JSON_REJECT_DUPLICATES, NULL);
        enum dw_policy_sig_verdict best = DW_POLICY_SIG_UNSIGNED;
        char first_why[300] = "";

        if (!doc)
                return -ENOMEM; /* validated just before: it parses */
        for (size_t i = 0; i < v->n_policy_keys; i++) {
                struct dw_policy_error err = {};
                enum dw_policy_sig_verdict verdict;
                char w[300] = "";
                int r;

                r = dw_policy_verify(doc, v->policy_keys[i], &verdict, w, sizeof(w), &err);
                if (r == -ENOMEM)
                        return r;
                if (r < 0) {
                        snprintf(why, why_size, "the signature cannot be checked: %s", err.msg);
                        return -EPERM;
                }
                if (verdict == DW_POLICY_SIG_VALID)
                        return 0;
                /* The most telling refusal: changed after signing > malformed > another key > unsigned. */
                if (verdict == DW_POLICY_SIG_MISMATCH ||
                    (verdict == DW_POLICY_SIG_MALFORMED && best != DW_POLICY_SIG_MISMATCH) ||
                    (verdict == DW_POLICY_SIG_WRONG_KEY && best == DW_POLICY_SIG_UNSIGNED) || !first_why[0]) {
                        best = verdict;
                        snprintf(first_why, sizeof(first_why), "%s", w);
                }
        }
        snprintf(why, why_size,
                 "this verifier requires runtime policies signed by one of its %zu policy signing "
                 "keys: %s (%s)",
                 v->n_policy_keys, dw_policy_sig_verdict_name(best), first_why);
        return -EPERM;
}

enum MHD_Result vf_api_policy_add(struct vf_request *rq)
{
        struct verifier *v = rq->v;
        enum vf_policy_kind kind = kind_param(rq);
        const char *name = rq->params[1];
        uint64_t version;
        char why[600];
        int r;

        if (kind < 0)
                return vf_reply_error(rq, 404, "not-found", "policy kinds are 'runtime' and 'boot'");
        r = vf_policy_validate(kind, (const char *)rq->body, rq->body_size, why, sizeof(why));
        if (r == -ENOMEM)
                return vf_reply_error(rq, 500, "internal-error", "out of memory");
        if (r < 0)
                return vf_reply_error(rq, 400, "invalid-policy", "%s", why);
        if (kind == VF_POLICY_RUNTIME && v->n_policy_keys > 0) {
                r = signature_check(v, (const char *)rq->body, rq->body_size, why, sizeof(why));
                if (r == -ENOMEM)
                        return vf_reply_error(rq, 500, "internal-error", "out of memory");
                if (r < 0) {
                        admin_log("policy-refused", json_pack("{s:s, s:s}", "name", name, "reason", why));
                        return vf_reply_error(rq, 403, "policy-signature-invalid", "%s", why);
                }
        }
        r = vf_store_policy_add(v->store, kind, name, (const char *)rq->body, rq->body_size, &version);
        if (r < 0)
                return vf_reply_error(rq, 500, "internal-error", "database error");
        admin_log("policy-add", json_pack("{s:s, s:s, s:I, s:I, s:I}", "kind", vf_policy_kind_name(kind), "name", name,
                                          "version", (json_int_t)version, "size", (json_int_t)rq->body_size,
                                          "challenged", (json_int_t)challenge_affected(v, kind, name, NULL)));
        return vf_reply_json(rq, 201,
                             json_pack("{s:s, s:s, s:I}", "kind", vf_policy_kind_name(kind), "name", name, "version",
                                       (json_int_t)version));
}

enum MHD_Result vf_api_policy_get(struct vf_request *rq)
{
        enum vf_policy_kind kind = kind_param(rq);
        const char *arg = vf_request_arg(rq, "version");
        _cleanup_free_ char *body = NULL;
        uint64_t version = 0, got;
        char header[32];
        size_t size;
        struct MHD_Response *resp;
        int r;

        if (kind < 0)
                return vf_reply_error(rq, 404, "not-found", "policy kinds are 'runtime' and 'boot'");
        if (arg && (vf_parse_uint(arg, INT64_MAX, &version) < 0 || version == 0))
                return vf_reply_error(rq, 400, "invalid-argument", "version: expected a version number");
        r = vf_store_policy_get(rq->v->store, kind, rq->params[1], version, &body, &size, &got);
        if (r == -ENOENT)
                return vf_reply_error(rq, 404, "unknown-policy", "no %s policy '%s'%s", rq->params[0], rq->params[1],
                                      version ? " of that version" : "");
        if (r < 0)
                return vf_reply_error(rq, 500, "internal-error", "database error");
        resp = MHD_create_response_from_buffer(size, body, MHD_RESPMEM_MUST_COPY);
        if (!resp)
                return MHD_NO;
        snprintf(header, sizeof(header), "%" PRIu64, got);
        MHD_add_response_header(resp, "Content-Type", "application/json");
        MHD_add_response_header(resp, "X-Policy-Version", header);
        return vf_reply_response(rq, 200, resp);
}

enum MHD_Result vf_api_policies(struct vf_request *rq)
{
        json_t *list;

        if (vf_store_policies_json(rq->v->store, &list) < 0)
                return vf_reply_error(rq, 500, "internal-error", "database error");
        return vf_reply_json(rq, 200, list);
}

enum MHD_Result vf_api_groups(struct vf_request *rq)
{
        json_t *groups;

        if (vf_store_groups_json(rq->v->store, &groups) < 0)
                return vf_reply_error(rq, 500, "internal-error", "database error");
        return vf_reply_json(rq, 200, groups);
}

/* ---- assignments --------------------------------------------------------------------------------------------- */

/* One member of an assignment body: null (clear), "NAME" (follow the latest version) or {"name", "version"}.
 * *ret_set false when the member is absent (unchanged). */
static int assignment_parse(struct vf_store *store, json_t *body, enum vf_policy_kind kind, bool *ret_set,
                            struct vf_assignment *ret, bool *ret_clear, char *why, size_t why_size)
{
        const char *key = vf_policy_kind_name(kind), *name;
        json_t *m = json_object_get(body, key);
        uint64_t version = 0;
        int r;

        *ret_set = m != NULL;
        *ret_clear = m && json_is_null(m);
        if (!m || json_is_null(m))
                return 0;
        if (json_is_string(m))
                name = json_string_value(m);
        else if (json_is_object(m)) {
                r = vf_json_string(m, "name", true, &name, why, why_size);
                if (r == 0)
                        r = vf_json_uint(m, "version", false, &version, why, why_size);
                if (r < 0 && r != -ENOENT)
                        return r;
        } else {
                snprintf(why, why_size, "%s: expected null, a policy name or {\"name\", \"version\"}", key);
                return -EINVAL;
        }
        if (!vf_name_is_valid(name)) {
                snprintf(why, why_size, "%s: '%.64s' is not a valid policy name", key, name);
                return -EINVAL;
        }
        r = vf_store_policy_get(store, kind, name, version, NULL, NULL, NULL);
        if (r == -ENOENT) {
                snprintf(why, why_size, "%s: no %s policy '%s'%s", key, key, name, version ? " of that version" : "");
                return -ENOENT;
        }
        if (r < 0)
                return r;
        snprintf(ret->name, sizeof(ret->name), "%s", name);
        ret->version = version;
        return 0;
}

static enum MHD_Result assign(struct vf_request *rq, bool group)
{
        struct verifier *v = rq->v;
        _cleanup_(json_decrefp) json_t *body = NULL;
        struct vf_assignment a[_VF_POLICY_KIND_MAX] = {};
        bool set[_VF_POLICY_KIND_MAX], clear[_VF_POLICY_KIND_MAX];
        char why[300];
        int r;

        if (vf_request_json(rq, &body, why, sizeof(why)) < 0)
                return vf_reply_error(rq, 400, "malformed-json", "%s", why);
        if (!group) {
                struct vf_gateway g = {};

                r = vf_store_gateway_get(v->store, rq->params[0], &g);
                if (r == -ENOENT)
                        return vf_reply_error(rq, 404, "unknown-gateway", "no gateway %s is enrolled", rq->params[0]);
                if (r < 0)
                        return vf_reply_error(rq, 500, "internal-error", "database error");
                vf_gateway_done(&g);
        }
        for (enum vf_policy_kind k = 0; k < _VF_POLICY_KIND_MAX; k++) {
                r = assignment_parse(v->store, body, k, &set[k], &a[k], &clear[k], why, sizeof(why));
                if (r == -EIO || r == -EBUSY)
                        return vf_reply_error(rq, 500, "internal-error", "database error");
                if (r < 0)
                        return vf_reply_error(rq, 400, r == -ENOENT ? "unknown-policy" : "malformed-request", "%s",
                                              why);
        }
        for (enum vf_policy_kind k = 0; k < _VF_POLICY_KIND_MAX; k++) {
                size_t challenged = 1;

                if (!set[k])
                        continue;
                r = vf_store_assign(v->store, group, rq->params[0], k, clear[k] ? NULL : a[k].name, a[k].version);
                if (r < 0)
                        return vf_reply_error(rq, 500, "internal-error", "database error");
                if (group)
                        challenged = challenge_affected(v, k, NULL, rq->params[0]);
                else
                        (void)vf_challenges_raise(v->challenges, rq->params[0], POLICY_CHANGED, vf_now_usec());
                admin_log("assign", json_pack("{s:s, s:s, s:s, s:o, s:I, s:I}", "target", group ? "group" : "gateway",
                                              "id", rq->params[0], "kind", vf_policy_kind_name(k), "policy",
                                              clear[k] ? json_null() : json_string(a[k].name), "version",
                                              (json_int_t)a[k].version, "challenged", (json_int_t)challenged));
        }
        return vf_reply_json(rq, 200,
                             json_pack("{s:s, s:s}", group ? "group" : "gateway", rq->params[0], "status",
                                       "assigned (takes effect at the next round)"));
}

enum MHD_Result vf_api_assign_gateway(struct vf_request *rq)
{
        return assign(rq, false);
}

enum MHD_Result vf_api_assign_group(struct vf_request *rq)
{
        return assign(rq, true);
}

enum MHD_Result vf_api_set_group(struct vf_request *rq)
{
        _cleanup_(json_decrefp) json_t *body = NULL;
        const char *group;
        char why[300];
        int r;

        if (vf_request_json(rq, &body, why, sizeof(why)) < 0)
                return vf_reply_error(rq, 400, "malformed-json", "%s", why);
        r = vf_json_string(body, "group", true, &group, why, sizeof(why));
        if (r == 0 && !vf_name_is_valid(group)) {
                snprintf(why, sizeof(why), "group: '%.64s' is not a valid name", group);
                r = -EINVAL;
        }
        if (r < 0)
                return vf_reply_error(rq, 400, "malformed-request", "%s", why);
        r = vf_store_gateway_set_group(rq->v->store, rq->params[0], group);
        if (r == -ENOENT)
                return vf_reply_error(rq, 404, "unknown-gateway", "no gateway %s is enrolled", rq->params[0]);
        if (r < 0)
                return vf_reply_error(rq, 500, "internal-error", "database error");
        admin_log("set-group", json_pack("{s:s, s:s}", "gateway", rq->params[0], "group", group));
        return vf_reply_json(rq, 200, json_pack("{s:s, s:s}", "gateway", rq->params[0], "group", group));
}

/* ---- gateways ------------------------------------------------------------------------------------------------ */

enum MHD_Result vf_api_acknowledge(struct vf_request *rq)
{
        struct verifier *v = rq->v;
        _cleanup_(json_decrefp) json_t *body = NULL;
        _cleanup_(vf_gateway_done) struct vf_gateway g = {};
        _cleanup_free_ uint8_t *state = NULL;
        uint64_t through = 0;
        uint32_t cleared;
        size_t size;
        char why[300];
        int r;

        if (rq->body_size > 0) {
                if (vf_request_json(rq, &body, why, sizeof(why)) < 0)
                        return vf_reply_error(rq, 400, "malformed-json", "%s", why);
                r = vf_json_uint(body, "through_round", false, &through, why, sizeof(why));
                if (r < 0 && r != -ENOENT)
                        return vf_reply_error(rq, 400, "malformed-request", "%s", why);
        }
        r = vf_store_gateway_get(v->store, rq->params[0], &g);
        if (r == -ENOENT)
                return vf_reply_error(rq, 404, "unknown-gateway", "no gateway %s is enrolled", rq->params[0]);
        if (r < 0)
                return vf_reply_error(rq, 500, "internal-error", "database error");
        r = vf_round_acknowledge(g.state, g.state_size, through, &state, &size, &cleared);
        if (r < 0)
                return vf_reply_error(rq, 500, "internal-error", "the stored attestation state is unusable");
        r = vf_store_state_replace(
                v->store, g.id,
                &(struct vf_state_expect){.rounds = g.rounds, .state = g.state, .state_size = g.state_size}, state,
                size);
        if (r == -ESTALE)
                return vf_reply_error(rq, 409, "concurrent-round",
                                      "a round (or a refused event batch) changed the state meanwhile; try again");
        if (r < 0)
                return vf_reply_error(rq, 500, "internal-error", "database error");
        admin_log("acknowledge", json_pack("{s:s, s:I, s:i}", "gateway", g.id, "through_round", (json_int_t)through,
                                           "cleared", (int)cleared));
        return vf_reply_json(rq, 200,
                             json_pack("{s:s, s:i, s:s}", "gateway", g.id, "cleared", (int)cleared, "status",
                                       "acknowledged (the next round decides the verdict)"));
}

enum MHD_Result vf_api_unenroll(struct vf_request *rq)
{
        int r;

        r = vf_store_gateway_delete(rq->v->store, rq->params[0]);
        if (r == -ENOENT)
                return vf_reply_error(rq, 404, "unknown-gateway", "no gateway %s is enrolled", rq->params[0]);
        if (r < 0)
                return vf_reply_error(rq, 500, "internal-error", "database error");
        vf_challenges_forget(rq->v->challenges, rq->params[0]);
        vf_nonces_forget(rq->v->nonces, rq->params[0]);
        admin_log("unenroll", json_pack("{s:s}", "gateway", rq->params[0]));
        return vf_reply_json(rq, 200, json_pack("{s:s, s:s}", "gateway", rq->params[0], "status", "removed"));
}
