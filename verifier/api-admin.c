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

/* ---- impact: a dry run of a runtime policy against the evidence the verifier holds ---------------------------------
 *
 * POST /v1/admin/policies/runtime/impact {"policy": DOC | "ref": {"name", "version"}, "name", "scope": {"gateways":
 * [...], "groups": [...]}}: for every gateway in scope, what its next round would say under that policy, computed by
 * the same re-judge as the round (vf_round_predict) on a copy of its state and kept entries. Changes nothing. */

struct impact {
        struct dw_runtime_policy *policy;
        char name[65];
        uint64_t version; /* the stored version, or the one an upload would get */
        bool draft;
        char id[96]; /* "runtime:NAME@VERSION", as a round would record it */
        char (*ids)[65];
        size_t n_ids;
};

static void impact_done(struct impact *x)
{
        dw_runtime_policy_free(x->policy);
        free(x->ids);
}

/* The policy in the body: a document (checked as an upload is, but its signature is not required: drafts are
 * checked before they are signed) or a stored version. -EINVAL (400), -ENOENT (404) with why, -ENOMEM, -EIO. */
static int impact_policy(struct verifier *v, json_t *body, struct impact *x, char *why, size_t why_size)
{
        json_t *doc = json_object_get(body, "policy"), *ref = json_object_get(body, "ref");
        const char *name = NULL;
        uint64_t latest = 0;
        int r;

        if (!!doc == !!ref) {
                snprintf(why, why_size,
                         "give either \"policy\" (a runtime policy document) or \"ref\" "
                         "({\"name\", \"version\"}: a stored version)");
                return -EINVAL;
        }
        r = vf_json_string(body, "name", false, &name, why, why_size);
        if (r < 0 && r != -ENOENT)
                return -EINVAL;
        if (ref) {
                _cleanup_free_ char *text = NULL;
                struct dw_policy_error err = {};
                uint64_t version = 0;
                size_t size;

                if (!json_is_object(ref)) {
                        snprintf(why, why_size, "ref: expected {\"name\", \"version\"}");
                        return -EINVAL;
                }
                r = vf_json_string(ref, "name", true, &name, why, why_size);
                if (r == 0) {
                        r = vf_json_uint(ref, "version", false, &version, why, why_size);
                        r = r == -ENOENT ? 0 : r;
                }
                if (r < 0)
                        return -EINVAL;
                if (!vf_name_is_valid(name)) {
                        snprintf(why, why_size, "ref.name: '%.64s' is not a valid policy name", name);
                        return -EINVAL;
                }
                r = vf_store_policy_get(v->store, VF_POLICY_RUNTIME, name, version, &text, &size, &x->version);
                if (r == -ENOENT) {
                        snprintf(why, why_size, "no runtime policy '%s'%s", name, version ? " of that version" : "");
                        return -ENOENT;
                }
                if (r < 0)
                        return r;
                r = dw_runtime_policy_load(text, size, &x->policy, &err);
                if (r < 0 && r != -ENOMEM) {
                        snprintf(why, why_size, "the stored policy does not load: %s", err.msg);
                        return -EIO;
                }
                if (r < 0)
                        return r;
        } else {
                struct dw_policy_error err = {};

                if (!json_is_object(doc)) {
                        snprintf(why, why_size, "policy: expected a runtime policy document (a JSON object)");
                        return -EINVAL;
                }
                r = dw_runtime_policy_load_tree(doc, &x->policy, &err);
                if (r == -ENOMEM)
                        return r;
                if (r < 0) {
                        snprintf(why, why_size, "policy: %s%s%s", err.where, err.where[0] ? ": " : "", err.msg);
                        return -EINVAL;
                }
                if (!name)
                        name = json_string_value(json_object_get(json_object_get(doc, "meta"), "name"));
                x->draft = true;
        }
        if (name && !vf_name_is_valid(name)) {
                snprintf(why, why_size, "name: '%.64s' is not a valid policy name (give \"name\")", name);
                return -EINVAL;
        }
        snprintf(x->name, sizeof(x->name), "%s", name ?: "");
        if (x->draft && name) {
                r = vf_store_policy_get(v->store, VF_POLICY_RUNTIME, name, 0, NULL, NULL, &latest);
                if (r < 0 && r != -ENOENT)
                        return r;
                x->version = latest + 1; /* what an upload would make of it */
        }
        if (x->draft)
                snprintf(x->id, sizeof(x->id), "runtime:%s@%" PRIu64 "%s", name ?: "(unnamed)", x->version,
                         name ? "" : " (draft)");
        else
                snprintf(x->id, sizeof(x->id), "runtime:%s@%" PRIu64, x->name, x->version);
        return 0;
}

static int ids_add(struct impact *x, const char *id)
{
        char(*p)[65];

        for (size_t i = 0; i < x->n_ids; i++)
                if (strcmp(x->ids[i], id) == 0)
                        return 0;
        p = realloc(x->ids, (x->n_ids + 1) * sizeof(*p));
        if (!p)
                return -ENOMEM;
        x->ids = p;
        snprintf(x->ids[x->n_ids++], sizeof(x->ids[0]), "%s", id);
        return 0;
}

static int ids_add_all(struct impact *x, char (*ids)[65], size_t n)
{
        for (size_t i = 0; i < n; i++) {
                int r = ids_add(x, ids[i]);

                if (r < 0)
                        return r;
        }
        return 0;
}

/* The gateways in scope: those listed and those a group assignment would affect; without a scope, those a new
 * version of the policy's name would affect (following its latest version). -EINVAL (400), -ENOENT (404). */
static int impact_scope(struct verifier *v, json_t *body, struct impact *x, char *why, size_t why_size)
{
        json_t *scope = json_object_get(body, "scope"), *gws, *groups, *e;
        _cleanup_free_ char(*ids)[65] = NULL;
        size_t n = 0, i;
        const char *k;
        json_t *m;
        int r;

        if (!scope || json_is_null(scope)) {
                if (!x->name[0]) {
                        snprintf(why, why_size, "the policy has no name (meta.name): give \"name\" or a \"scope\"");
                        return -EINVAL;
                }
                r = vf_store_gateways_affected(v->store, VF_POLICY_RUNTIME, x->name, NULL, &ids, &n);
                return r < 0 ? r : ids_add_all(x, ids, n);
        }
        if (!json_is_object(scope)) {
                snprintf(why, why_size, "scope: expected {\"gateways\": [ID...], \"groups\": [NAME...]}");
                return -EINVAL;
        }
        json_object_foreach(scope, k, m) if (strcmp(k, "gateways") != 0 && strcmp(k, "groups") != 0)
        {
                snprintf(why, why_size, "scope.%.40s: unknown member (expected gateways, groups)", k);
                return -EINVAL;
        }
        gws = json_object_get(scope, "gateways");
        groups = json_object_get(scope, "groups");
        if ((gws && !json_is_array(gws)) || (groups && !json_is_array(groups))) {
                snprintf(why, why_size, "scope: gateways and groups are arrays of names");
                return -EINVAL;
        }
        json_array_foreach(gws, i, e)
        {
                const char *id = json_string_value(e);
                struct vf_gateway g = {};

                if (!id || !vf_name_is_valid(id)) {
                        snprintf(why, why_size, "scope.gateways[%zu]: not a gateway id", i);
                        return -EINVAL;
                }
                r = vf_store_gateway_get(v->store, id, &g);
                vf_gateway_done(&g);
                if (r == -ENOENT) {
                        snprintf(why, why_size, "no gateway %s is enrolled", id);
                        return -ENOENT;
                }
                if (r < 0)
                        return r;
                r = ids_add(x, id);
                if (r < 0)
                        return r;
        }
        json_array_foreach(groups, i, e)
        {
                const char *group = json_string_value(e);

                if (!group || !vf_name_is_valid(group)) {
                        snprintf(why, why_size, "scope.groups[%zu]: not a group name", i);
                        return -EINVAL;
                }
                r = vf_store_gateways_affected(v->store, VF_POLICY_RUNTIME, NULL, group, &ids, &n);
                if (r == 0)
                        r = ids_add_all(x, ids, n);
                free(TAKE_PTR(ids));
                if (r < 0)
                        return r;
        }
        return 0;
}

static int impact_gateway(struct verifier *v, const struct impact *x, const char *id, json_t **ret, char *why,
                          size_t why_size)
{
        _cleanup_(vf_gateway_done) struct vf_gateway g = {};
        _cleanup_(vf_evidence_done) struct vf_evidence kept = {};
        bool needed;
        int r;

        r = vf_store_gateway_get(v->store, id, &g);
        if (r == -ENOENT)
                return 0; /* removed meanwhile */
        if (r < 0)
                return r;
        needed = vf_round_rejudge_needed(&g, x->id);
        if (needed) {
                r = vf_store_evidence_get(v->store, g.id, &kept);
                if (r < 0)
                        return r;
        }
        return vf_round_predict(&g, g.status, x->policy, x->id, needed ? &kept : NULL, ret, why, why_size);
}

enum MHD_Result vf_api_policy_impact(struct vf_request *rq)
{
        struct verifier *v = rq->v;
        _cleanup_(json_decrefp) json_t *body = NULL, *list = json_array();
        _cleanup_(impact_done) struct impact x = {};
        size_t untrusted = 0, turn_untrusted = 0, turn_trusted = 0;
        const char *k;
        json_t *m;
        char why[600];
        int r;

        if (!list)
                return vf_reply_error(rq, 500, "internal-error", "out of memory");
        if (vf_request_json(rq, &body, why, sizeof(why)) < 0)
                return vf_reply_error(rq, 400, "malformed-json", "%s", why);
        if (!json_is_object(body))
                return vf_reply_error(rq, 400, "malformed-request", "expected a JSON object");
        json_object_foreach(body, k,
                            m) if (strcmp(k, "policy") && strcmp(k, "ref") && strcmp(k, "name") && strcmp(k, "scope"))
        {
                return vf_reply_error(rq, 400, "malformed-request",
                                      "%.40s: unknown member (expected policy or ref, name, scope)", k);
        }
        r = impact_policy(v, body, &x, why, sizeof(why));
        if (r == 0)
                r = impact_scope(v, body, &x, why, sizeof(why));
        if (r == -ENOMEM)
                return vf_reply_error(rq, 500, "internal-error", "out of memory");
        if (r == -ENOENT)
                return vf_reply_error(rq, 404, strstr(why, "gateway") ? "unknown-gateway" : "unknown-policy", "%s",
                                      why);
        if (r == -EINVAL)
                return vf_reply_error(rq, 400, strncmp(why, "policy:", 7) == 0 ? "invalid-policy" : "malformed-request",
                                      "%s", why);
        if (r < 0)
                return vf_reply_error(rq, 500, "internal-error", "%s", r == -EIO ? why : "database error");
        for (size_t i = 0; i < x.n_ids; i++) {
                json_t *gw = NULL;
                const char *current, *predicted;

                r = impact_gateway(v, &x, x.ids[i], &gw, why, sizeof(why));
                if (r < 0)
                        return vf_reply_error(rq, 500, "internal-error", "gateway %s: %s", x.ids[i],
                                              r == -ENOMEM ? "out of memory" : why);
                if (!gw)
                        continue;
                current = json_string_value(json_object_get(gw, "current"));
                predicted = json_string_value(json_object_get(gw, "predicted"));
                untrusted += strcmp(predicted, "untrusted") == 0;
                turn_untrusted += strcmp(predicted, "untrusted") == 0 && strcmp(current, "untrusted") != 0;
                turn_trusted += strcmp(predicted, "trusted") == 0 && strcmp(current, "untrusted") == 0;
                json_array_append_new(list, gw);
        }
        admin_log("policy-impact",
                  json_pack("{s:s, s:I, s:I, s:I}", "policy", x.id, "gateways", (json_int_t)json_array_size(list),
                            "turn_untrusted", (json_int_t)turn_untrusted, "turn_trusted", (json_int_t)turn_trusted));
        return vf_reply_json(rq, 200,
                             json_pack("{s:{s:s?, s:I, s:b, s:s}, s:O, s:{s:I, s:I, s:I, s:I, s:I}}", "policy", "name",
                                       x.name[0] ? x.name : NULL, "version", (json_int_t)x.version, "draft", x.draft,
                                       "id", x.id, "gateways", list, "summary", "gateways",
                                       (json_int_t)json_array_size(list), "turn_untrusted", (json_int_t)turn_untrusted,
                                       "turn_trusted", (json_int_t)turn_trusted, "unchanged",
                                       (json_int_t)(json_array_size(list) - turn_untrusted - turn_trusted), "untrusted",
                                       (json_int_t)untrusted));
}
