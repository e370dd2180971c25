/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "round.h"
#include "tpm-marshal.h"
#include "util.h"

/* EAR trustworthiness claim values (draft-ietf-rats-ar4si): 0 no claim, 2 affirming, 96 contraindicated. */
#define TV_NONE            0
#define TV_AFFIRMING       2
#define TV_CONTRAINDICATED 96

/* ---- round scratch space ----------------------------------------------------------------------------------------
 *
 * A round needs about 140 KB of scratch: lib/attest-round's context (hashers, a copy of the state, PCR values,
 * replay state, ...), the result and the state. Every connection has a thread of its own, but only a few rounds are
 * judged at any moment, so the scratch comes from a pool (at most SCRATCH_POOL_MAX idle ones are kept) instead of
 * living in each thread: with a thousand gateways connected that is megabytes instead of a hundred. */

#define SCRATCH_POOL_MAX 16

struct scratch {
        struct dw_round_ctx *ctx;
        struct dw_round_result res;
        struct dw_round_state state;
        struct dw_round_rejudge_result rejudge;
};

static struct {
        pthread_mutex_t lock;
        struct scratch *idle[SCRATCH_POOL_MAX];
        size_t n_idle;
} scratch_pool = {.lock = PTHREAD_MUTEX_INITIALIZER};

static void scratch_free(struct scratch *s)
{
        if (!s)
                return;
        dw_round_ctx_free(s->ctx);
        free(s);
}

static int scratch_get(struct scratch **ret)
{
        struct scratch *s = NULL;
        int r;

        pthread_mutex_lock(&scratch_pool.lock);
        if (scratch_pool.n_idle > 0)
                s = scratch_pool.idle[--scratch_pool.n_idle];
        pthread_mutex_unlock(&scratch_pool.lock);
        if (s) {
                *ret = s;
                return 0;
        }
        s = malloc(sizeof(*s));
        if (!s)
                return -ENOMEM;
        r = dw_round_ctx_new(&s->ctx);
        if (r < 0) {
                free(s);
                return r;
        }
        *ret = s;
        return 0;
}

static void scratch_putp(struct scratch **p)
{
        struct scratch *s = *p;

        if (!s)
                return;
        pthread_mutex_lock(&scratch_pool.lock);
        if (scratch_pool.n_idle < SCRATCH_POOL_MAX) {
                scratch_pool.idle[scratch_pool.n_idle++] = s;
                s = NULL;
        }
        pthread_mutex_unlock(&scratch_pool.lock);
        scratch_free(s);
}

/* ---- policies ------------------------------------------------------------------------------------------------ */

void vf_round_policies_done(struct vf_round_policies *p)
{
        vf_policy_ref_release(p->runtime);
        vf_policy_ref_release(p->boot);
        *p = (struct vf_round_policies){};
}

int vf_round_policies_acquire(struct verifier *v, const char *gateway_id, struct vf_round_policies *ret, char *msg,
                              size_t msg_size)
{
        struct vf_round_policies p = {};
        int r;

        r = vf_policy_cache_acquire(v->policies, VF_POLICY_RUNTIME, gateway_id, &p.runtime, msg, msg_size);
        if (r < 0)
                return r;
        r = vf_policy_cache_acquire(v->policies, VF_POLICY_BOOT, gateway_id, &p.boot, msg, msg_size);
        if (r < 0) {
                vf_round_policies_done(&p);
                return r;
        }
        *ret = p;
        return 0;
}

/* ---- state --------------------------------------------------------------------------------------------------- */

static int state_load(const uint8_t *buf, size_t size, struct dw_round_state *ret, char *why, size_t why_size)
{
        struct dw_error err = {};
        int r;

        r = dw_round_state_deserialize(buf, size, ret, &err);
        if (r < 0)
                snprintf(why, why_size, "the stored attestation state is unusable: %s", err.msg);
        return r;
}

int vf_round_initial_state(enum dw_hash_alg bank, uint8_t **ret, size_t *ret_size)
{
        struct dw_round_state s;
        int r;

        r = dw_round_state_init(&s, bank);
        if (r < 0)
                return r;
        return dw_round_state_serialize(&s, ret, ret_size);
}

int vf_round_pcr_selection(const uint8_t *state, size_t state_size, char *buf, size_t size)
{
        struct dw_round_state s;
        TPML_PCR_SELECTION sel;
        char why[300];
        int r;

        r = state_load(state, state_size, &s, why, sizeof(why));
        if (r < 0)
                return r;
        dw_round_pcr_selection(&s, &sel);
        dw_tpm_pcr_selection_format(&sel, buf, size);
        return 0;
}

static enum vf_status status_of(enum dw_round_verdict v)
{
        switch (v) {
        case DW_ROUND_TRUSTED:
                return VF_STATUS_TRUSTED;
        case DW_ROUND_UNTRUSTED:
                return VF_STATUS_UNTRUSTED;
        default:
                return VF_STATUS_UNKNOWN;
        }
}

int vf_round_state_status(const uint8_t *state, size_t state_size, uint64_t now, uint64_t max_age_usec,
                          enum vf_status *ret)
{
        struct dw_round_state s;
        char why[300];
        int r;

        r = state_load(state, state_size, &s, why, sizeof(why));
        if (r < 0)
                return r;
        *ret = status_of(dw_round_state_verdict(&s, now, max_age_usec));
        return 0;
}

int vf_round_acknowledge(const uint8_t *state, size_t state_size, uint64_t through_round, uint8_t **ret,
                         size_t *ret_size, uint32_t *ret_cleared)
{
        struct dw_round_state s;
        char why[300];
        uint32_t n;
        int r;

        r = state_load(state, state_size, &s, why, sizeof(why));
        if (r < 0)
                return r;
        n = dw_round_state_acknowledge(&s, through_round);
        r = dw_round_state_serialize(&s, ret, ret_size);
        if (r < 0)
                return r;
        *ret_cleared = n;
        return 0;
}

/* ---- sticky failures found outside rounds ----------------------------------------------------------------------
 *
 * A refused event batch that shows tampering is a sticky failure of the gateway like a rejected executable, so it is
 * kept in the round state with the others (lib/attest-round lists it again in every round until acknowledged). The
 * state knows round reasons only: it is kept as an event_chain_mismatch reason whose rule is BATCH_RULE_PREFIX and
 * the batch verdict, and shown as event_chain_<verdict> (reason_json). */

#define BATCH_RULE_PREFIX "batch:"

int vf_round_add_sticky_batch(const uint8_t *state, size_t state_size, const char *verdict, uint64_t first_seq,
                              const char *msg, uint8_t **ret, size_t *ret_size, uint64_t *ret_round)
{
        _cleanup_free_ struct dw_round_state *s = malloc(sizeof(*s));
        struct dw_round_reason reason = {
                .kind = DW_ROUND_EVENT_CHAIN_MISMATCH,
                .sticky = true,
                .index = first_seq > INT64_MAX ? -1 : (int64_t)first_seq,
        };
        char why[300];
        int r;

        if (!s)
                return -ENOMEM;
        r = state_load(state, state_size, s, why, sizeof(why));
        if (r < 0)
                return r;
        /* Found before the next round: it counts as that round's (acknowledging through the last round leaves it). */
        reason.round = s->rounds + 1;
        snprintf(reason.rule, sizeof(reason.rule), "%s%s", BATCH_RULE_PREFIX, verdict);
        snprintf(reason.msg, sizeof(reason.msg), "%s", msg);
        if (s->n_sticky < DW_ROUND_STICKY_MAX)
                s->sticky[s->n_sticky++] = reason;
        s->sticky_count++;
        s->sticky_last_round = MAX(s->sticky_last_round, reason.round);
        r = dw_round_state_serialize(s, ret, ret_size);
        if (r < 0)
                return r;
        *ret_round = reason.round;
        return 0;
}

/* ---- the round ----------------------------------------------------------------------------------------------- */

void vf_round_output_done(struct vf_round_output *o)
{
        json_decref(o->reasons);
        json_decref(o->report);
        json_decref(o->trustworthiness);
        free(o->state);
        *o = (struct vf_round_output){};
}

static json_t *reason_json(const struct dw_round_reason *r)
{
        bool batch = r->kind == DW_ROUND_EVENT_CHAIN_MISMATCH &&
                     strncmp(r->rule, BATCH_RULE_PREFIX, strlen(BATCH_RULE_PREFIX)) == 0;
        const char *rule = batch ? r->rule + strlen(BATCH_RULE_PREFIX) : r->rule;
        char kind[96];
        json_t *j;

        snprintf(kind, sizeof(kind), "%s%s", batch ? "event_chain_" : dw_round_reason_kind_name(r->kind),
                 batch ? rule : "");
        j = json_pack("{s:s, s:b, s:b, s:I, s:o}", "kind", kind, "sticky", r->sticky, "earlier", r->earlier, "round",
                      (json_int_t)r->round, "index", r->index >= 0 ? json_integer(r->index) : json_null());
        if (!j)
                return NULL;
        if (r->path[0])
                json_object_set_new(j, "path", json_string(r->path));
        if (r->digest[0])
                json_object_set_new(j, "digest", json_string(r->digest));
        if (rule[0])
                json_object_set_new(j, "rule", json_string(rule));
        json_object_set_new(j, "message", json_string(r->msg));
        return j;
}

static json_t *reasons_json(const struct dw_round_result *res)
{
        json_t *list = json_array();

        if (!list)
                return NULL;
        for (size_t i = 0; i < res->n_reasons; i++)
                json_array_append_new(list, reason_json(&res->reasons[i]));
        if (res->reasons_omitted > 0)
                json_array_append_new(list, json_pack("{s:s, s:I, s:s}", "kind", "omitted", "count",
                                                      (json_int_t)res->reasons_omitted, "message",
                                                      "more failures than a verdict lists"));
        return list;
}

static json_t *report_json(const struct dw_round_result *res)
{
        const struct dw_round_checks *c = &res->checks;

        return json_pack(
                "{s:{s:s, s:s, s:s, s:s, s:s, s:s, s:s}, s:s, s:b, s:{s:I, s:I, s:I, s:I, s:I}, s:{s:I}}", "checks",
                "quote", dw_round_check_name(c->quote), "boot_log", dw_round_check_name(c->boot_log), "boot_policy",
                dw_round_check_name(c->boot_policy), "boot_aggregate", dw_round_check_name(c->boot_aggregate), "ima",
                dw_round_check_name(c->ima), "runtime_policy", dw_round_check_name(c->runtime_policy), "event_chain",
                dw_round_check_name(c->event_chain), "notes", res->notes, "reboot", res->reboot, "ima", "consumed",
                (json_int_t)res->stats.entries_consumed, "pending", (json_int_t)res->stats.entries_pending, "skipped",
                (json_int_t)res->stats.entries_skipped, "rejected", (json_int_t)res->stats.entries_rejected,
                "next_index", (json_int_t)res->ima_next_index, "boot", "events", (json_int_t)res->stats.boot_events);
}

static int claim(enum dw_round_check c)
{
        switch (c) {
        case DW_ROUND_PASSED:
        case DW_ROUND_PASSED_EARLIER:
                return TV_AFFIRMING;
        case DW_ROUND_FAILED:
                return TV_CONTRAINDICATED;
        default:
                return TV_NONE;
        }
}

/* instance-identity: the enrolled AK signed a fresh quote; hardware: a TPM whose EK chains to a manufacturer CA
 * (enrollment) is behind it; executables: the runtime policy; configuration: measured boot. */
static json_t *trustworthiness_json(const struct dw_round_result *res)
{
        int quote = claim(res->checks.quote);

        return json_pack("{s:i, s:i, s:i, s:i}", "instance-identity", quote, "hardware",
                         quote == TV_AFFIRMING ? TV_AFFIRMING : TV_NONE, "executables",
                         claim(res->checks.runtime_policy), "configuration", claim(res->checks.boot_policy));
}

/* ---- AK keys, derived once per gateway ------------------------------------------------------------------------
 *
 * Turning the enrolled AK's TPM public area into an OpenSSL key (and OpenSSL's first use of it, which converts it
 * for ECDSA_do_verify) costs about as much as the signature check itself (lib/tpm-quote.h), so each gateway's key
 * is kept, keyed by gateway id and checked against the stored public area at every use (a gateway deleted and
 * enrolled again with another AK gets a new key). Shared by all request threads: verifying with a key does not
 * modify it. A few KiB per gateway; the whole cache is dropped if it ever holds AK_CACHE_MAX keys (ids of deleted
 * gateways are never removed otherwise). */

#define AK_CACHE_BUCKETS 4096u
#define AK_CACHE_MAX     (1u << 20)

struct ak_entry {
        struct ak_entry *next;
        char id[65];
        TPMT_PUBLIC public;
        EVP_PKEY *key;
        size_t raw_size;
        uint8_t raw[]; /* the marshalled TPM2B_PUBLIC it was derived from */
};

static struct {
        pthread_mutex_t lock;
        struct ak_entry *buckets[AK_CACHE_BUCKETS];
        size_t n;
} ak_cache = {.lock = PTHREAD_MUTEX_INITIALIZER};

static unsigned ak_bucket(const char *id)
{
        uint32_t h = 2166136261u; /* FNV-1a */

        for (; *id; id++)
                h = (h ^ (uint8_t)*id) * 16777619u;
        return h & (AK_CACHE_BUCKETS - 1);
}

static void ak_entry_free(struct ak_entry *e)
{
        EVP_PKEY_free(e->key);
        free(e);
}

/* Under the lock: the entry of id, removed from the cache when it is for another public area. */
static struct ak_entry *ak_lookup_locked(const char *id, const uint8_t *raw, size_t raw_size)
{
        for (struct ak_entry **p = &ak_cache.buckets[ak_bucket(id)]; *p; p = &(*p)->next) {
                struct ak_entry *e = *p;

                if (strcmp(e->id, id) != 0)
                        continue;
                if (e->raw_size == raw_size && memcmp(e->raw, raw, raw_size) == 0)
                        return e;
                *p = e->next;
                ak_cache.n--;
                ak_entry_free(e);
                return NULL;
        }
        return NULL;
}

static void ak_insert_locked(struct ak_entry *e)
{
        unsigned b = ak_bucket(e->id);

        if (ak_cache.n >= AK_CACHE_MAX) {
                for (unsigned i = 0; i < AK_CACHE_BUCKETS; i++)
                        while (ak_cache.buckets[i]) {
                                struct ak_entry *x = ak_cache.buckets[i];

                                ak_cache.buckets[i] = x->next;
                                ak_entry_free(x);
                        }
                ak_cache.n = 0;
        }
        e->next = ak_cache.buckets[b];
        ak_cache.buckets[b] = e;
        ak_cache.n++;
}

/* The gateway's AK: its public area and a reference to its key (the caller frees it). */
static int ak_load(const struct vf_gateway *g, TPMT_PUBLIC *ret_public, EVP_PKEY **ret_key, char *why, size_t why_size)
{
        struct dw_error err = {};
        struct ak_entry *e;
        int r;

        pthread_mutex_lock(&ak_cache.lock);
        e = ak_lookup_locked(g->id, g->ak_public, g->ak_public_size);
        if (e && EVP_PKEY_up_ref(e->key) == 1) {
                *ret_public = e->public;
                *ret_key = e->key;
                pthread_mutex_unlock(&ak_cache.lock);
                return 0;
        }
        pthread_mutex_unlock(&ak_cache.lock);

        e = calloc(1, sizeof(*e) + g->ak_public_size);
        if (!e) {
                snprintf(why, why_size, "out of memory");
                return -ENOMEM;
        }
        r = dw_tpm_public_parse(g->ak_public, g->ak_public_size, &e->public, &err);
        if (r == 0)
                r = dw_tpm_public_to_pkey(&e->public, &e->key);
        if (r < 0) {
                snprintf(why, why_size, "the enrolled AK is unusable: %s", err.msg[0] ? err.msg : strerror(-r));
                free(e);
                return r;
        }
        snprintf(e->id, sizeof(e->id), "%s", g->id);
        memcpy(e->raw, g->ak_public, g->ak_public_size);
        e->raw_size = g->ak_public_size;
        *ret_public = e->public;
        if (EVP_PKEY_up_ref(e->key) != 1) {
                ak_entry_free(e);
                snprintf(why, why_size, "out of memory");
                return -ENOMEM;
        }
        *ret_key = e->key;
        pthread_mutex_lock(&ak_cache.lock);
        if (!ak_lookup_locked(g->id, g->ak_public, g->ak_public_size))
                ak_insert_locked(e);
        else
                ak_entry_free(e); /* another round of this gateway won the race: ours is just a reference */
        pthread_mutex_unlock(&ak_cache.lock);
        return 0;
}

static void policy_id(const struct vf_round_policies *p, char *buf, size_t size)
{
        snprintf(buf, size, "%s%s%s", p->runtime ? vf_policy_ref_id(p->runtime) : "", p->runtime && p->boot ? "," : "",
                 p->boot ? vf_policy_ref_id(p->boot) : "");
}

static int output_fill(const struct dw_round_result *res, const struct dw_round_state *before,
                       struct vf_round_output *o)
{
        int r;

        o->verdict = status_of(res->verdict);
        o->round = res->state.rounds;
        o->reasons = reasons_json(res);
        o->report = report_json(res);
        o->trustworthiness = trustworthiness_json(res);
        if (!o->reasons || !o->report || !o->trustworthiness)
                return -ENOMEM;
        r = dw_round_state_serialize(&res->state, &o->state, &o->state_size);
        if (r < 0)
                return r;
        o->ima_from = res->ima_next_index - res->stats.entries_consumed;
        if (res->stats.entries_consumed == 0)
                o->ima_from = before->ima_next_index;
        o->ima_next_index = res->ima_next_index;
        o->boot_log_required = res->boot_log_needed;
        o->entries_consumed = res->stats.entries_consumed;
        return 0;
}

/* ---- re-judging the kept entries under a new runtime policy ---------------------------------------------------- */

bool vf_round_rejudge_needed(const struct vf_gateway *g, const char *runtime_policy_id)
{
        return runtime_policy_id && g->evidence_complete && g->ima_next_index > 0 &&
               strcmp(g->runtime_judged, runtime_policy_id) != 0;
}

/* The re-judge of a round and of a prediction: 1 with scratch->rejudge set, 0 when the kept entries do not match the
 * state (logged; the round goes on without, and they are no longer complete), or a negative errno. */
static int rejudge(struct scratch *scratch, const struct vf_gateway *g, const struct dw_round_state *state,
                   const struct dw_runtime_policy *policy, const struct vf_evidence *kept, char *why, size_t why_size)
{
        int r;

        r = dw_round_rejudge(scratch->ctx, state, policy, kept->entries, kept->n, &scratch->rejudge);
        if (r == -EBADMSG) {
                vf_log(VF_LOG_WARNING, "evidence",
                       "gateway %s: the kept IMA entries (%zu) do not match its state (%" PRIu64
                       " consumed): not judged again under the new runtime policy",
                       g->id, kept->n, state->ima_next_index);
                return 0;
        }
        if (r < 0) {
                snprintf(why, why_size, "the kept IMA entries could not be judged again: %s", strerror(-r));
                return r;
        }
        return 1;
}

int vf_round_consumed_entries(const struct dw_round_evidence *ev, uint64_t from, uint64_t to,
                              struct dw_round_stored_entry **ret, size_t *ret_n)
{
        _cleanup_free_ struct dw_round_stored_entry *list = NULL;
        struct dw_ima_parser p;
        size_t n = 0;
        int r = 0;

        *ret = NULL;
        *ret_n = 0;
        if (to <= from || !ev->ima_log)
                return 0;
        if (to - from > SIZE_MAX / sizeof(*list))
                return -ENOMEM;
        list = calloc((size_t)(to - from), sizeof(*list));
        if (!list)
                return -ENOMEM;
        dw_ima_parser_init(&p, DW_IMA_FORMAT_BINARY, ev->ima_log_digest_alg, ev->ima_log, ev->ima_log_size);
        dw_ima_parser_set_index(&p, ev->ima_first_index);
        while (n < to - from) {
                struct dw_error err = {};
                struct dw_ima_entry e;

                r = dw_ima_parser_next(&p, &e, &err);
                if (r <= 0)
                        break;
                if (e.index < from)
                        continue;
                if (e.index >= to)
                        break;
                list[n++] = (struct dw_round_stored_entry){
                        .index = e.index,
                        .digest_alg = ev->ima_log_digest_alg,
                        .record = ev->ima_log + e.offset,
                        .record_size = p.pos - e.offset,
                };
        }
        dw_ima_parser_done(&p);
        if (r < 0 && r != -EAGAIN)
                return r;
        if (n != to - from)
                return -EBADMSG; /* the round consumed what this does not find: cannot be */
        *ret = TAKE_PTR(list);
        *ret_n = n;
        return 0;
}

static json_t *failure_json(const struct dw_round_reason *r)
{
        return json_pack("{s:o, s:s, s:o, s:s, s:s}", "index", r->index >= 0 ? json_integer(r->index) : json_null(),
                         "path", r->path, "digest", r->digest[0] ? json_string(r->digest) : json_null(), "reason",
                         r->rule, "message", r->msg);
}

static bool epoch_runtime(const struct dw_round_state *s, const struct dw_round_reason *r)
{
        return r->kind == DW_ROUND_RUNTIME_POLICY && r->epoch == s->reboots;
}

int vf_round_predict(const struct vf_gateway *g, enum vf_status current, const struct dw_runtime_policy *policy,
                     const char *policy_id, const struct vf_evidence *kept, json_t **ret, char *why, size_t why_size)
{
        _cleanup_(scratch_putp) struct scratch *scratch = NULL;
        _cleanup_(json_decrefp) json_t *failures = json_array(), *other = json_array(), *o = NULL;
        const struct dw_round_state *after;
        const char *evidence = g->evidence_complete ? "complete" : "incomplete";
        size_t failures_omitted = 0, other_listed = 0;
        enum dw_round_verdict predicted;
        bool rejudged = false;
        int r;

        if (!failures || !other)
                return -ENOMEM;
        r = scratch_get(&scratch);
        if (r < 0) {
                snprintf(why, why_size, "out of memory");
                return r;
        }
        r = state_load(g->state, g->state_size, &scratch->state, why, why_size);
        if (r < 0)
                return r;
        after = &scratch->state;
        if (vf_round_rejudge_needed(g, policy_id) && policy && kept) {
                r = rejudge(scratch, g, &scratch->state, policy, kept, why, why_size);
                if (r < 0)
                        return r;
                if (r == 0)
                        evidence = "inconsistent";
                else {
                        after = &scratch->rejudge.state;
                        rejudged = true;
                }
        }
        predicted = after->rounds == 0        ? DW_ROUND_UNKNOWN
                    : after->sticky_count > 0 ? DW_ROUND_UNTRUSTED
                                              : DW_ROUND_TRUSTED;
        if (rejudged) {
                for (size_t i = 0; i < scratch->rejudge.n_reasons; i++)
                        json_array_append_new(failures, failure_json(&scratch->rejudge.reasons[i]));
                failures_omitted = scratch->rejudge.reasons_omitted;
        } else {
                size_t listed = 0;

                for (uint32_t i = 0; i < after->n_sticky; i++)
                        if (epoch_runtime(after, &after->sticky[i])) {
                                json_array_append_new(failures, failure_json(&after->sticky[i]));
                                listed++;
                        }
                failures_omitted = after->epoch_runtime_count - MIN(listed, (size_t)after->epoch_runtime_count);
        }
        for (uint32_t i = 0; i < after->n_sticky; i++)
                if (!epoch_runtime(after, &after->sticky[i])) {
                        json_array_append_new(other, reason_json(&after->sticky[i]));
                        other_listed++;
                }
        o = json_pack("{s:s, s:s, s:s, s:b, s:s, s:I, s:O, s:I, s:O, s:I}", "id", g->id, "current",
                      vf_status_name(current), "predicted", vf_status_name(status_of(predicted)), "rejudged", rejudged,
                      "evidence", evidence, "entries", (json_int_t)after->ima_next_index, "failures", failures,
                      "failures_omitted", (json_int_t)failures_omitted, "other_sticky", other, "other_sticky_omitted",
                      (json_int_t)(after->sticky_count - after->epoch_runtime_count -
                                   MIN(other_listed, (size_t)(after->sticky_count - after->epoch_runtime_count))));
        if (!o) {
                snprintf(why, why_size, "out of memory");
                return -ENOMEM;
        }
        *ret = TAKE_PTR(o);
        return 0;
}

int vf_round_judge(const struct vf_gateway *g, const struct vf_round_policies *policies, const struct vf_evidence *kept,
                   const uint8_t *nonce, size_t nonce_size, const struct dw_round_evidence *ev, uint64_t now,
                   struct vf_round_output *ret, char *why, size_t why_size)
{
        _cleanup_(dw_pkey_freep) EVP_PKEY *ak = NULL;
        _cleanup_(scratch_putp) struct scratch *scratch = NULL;
        struct dw_round_result *res;
        struct dw_round_state *state;
        struct vf_round_output o = {};
        TPMT_PUBLIC ak_public;
        int r;

        r = scratch_get(&scratch);
        if (r < 0) {
                snprintf(why, why_size, "out of memory");
                return r;
        }
        res = &scratch->res;
        state = &scratch->state;
        r = state_load(g->state, g->state_size, state, why, why_size);
        if (r < 0)
                return r;
        r = ak_load(g, &ak_public, &ak, why, why_size);
        if (r < 0)
                return r;
        o.evidence_complete = g->evidence_complete;
        if (kept && policies->runtime) {
                r = rejudge(scratch, g, state, vf_policy_ref_runtime(policies->runtime), kept, why, why_size);
                if (r < 0)
                        return r;
                if (r == 0)
                        o.evidence_complete = false;
                else {
                        *state = scratch->rejudge.state;
                        o.rejudged = true;
                }
        }
        r = dw_attest_round(scratch->ctx, state,
                            &(struct dw_round_expect){
                                    .ak = ak,
                                    .ak_public = &ak_public,
                                    .nonce = nonce,
                                    .nonce_size = nonce_size,
                                    .now = now,
                                    .runtime_policy = vf_policy_ref_runtime(policies->runtime),
                                    .boot_policy = vf_policy_ref_boot(policies->boot),
                            },
                            ev, res);
        if (r < 0) {
                snprintf(why, why_size, "the round could not run: %s", strerror(-r));
                return r;
        }
        policy_id(policies, o.policy_id, sizeof(o.policy_id));
        snprintf(o.runtime_judged, sizeof(o.runtime_judged), "%s",
                 policies->runtime ? vf_policy_ref_id(policies->runtime) : "");
        o.new_epoch = res->reboot;
        if (o.new_epoch)
                o.evidence_complete = true; /* the kept entries are deleted: the new epoch's are all kept */
        r = output_fill(res, state, &o);
        if (r == 0 && o.rejudged)
                r = json_object_set_new(o.report, "rejudge",
                                        json_pack("{s:s, s:I, s:I, s:I}", "policy", o.runtime_judged, "entries",
                                                  (json_int_t)scratch->rejudge.entries, "failures_before",
                                                  (json_int_t)scratch->rejudge.before, "failures",
                                                  (json_int_t)scratch->rejudge.found)) < 0
                            ? -ENOMEM
                            : 0;
        if (r < 0) {
                vf_round_output_done(&o);
                snprintf(why, why_size, "out of memory");
                return r;
        }
        *ret = o;
        return 0;
}
