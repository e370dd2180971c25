/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "policy-cache.h"
#include "util.h"

struct vf_policy_ref {
        struct vf_policy_cache *cache;
        enum vf_policy_kind kind;
        char name[65];
        uint64_t version;
        char id[96];
        void *compiled;
        unsigned refs; /* the cache's own reference counts as one while cached */
        uint64_t used; /* LRU clock */
        bool cached;
};

/* Which version of which policy applies to a gateway, as resolved from the store at a generation
 * (vf_store_generation): valid until the store's gateways, policies or assignments change, so that a round asks the
 * database for it only after such a change. */
#define RESOLVED_BUCKETS 4096u
#define RESOLVED_MAX     (1u << 20)

struct resolved {
        struct resolved *next;
        uint64_t generation;
        enum vf_policy_kind kind;
        bool assigned;
        uint64_t version; /* never 0 ("latest" is resolved) */
        char name[65];
        char gateway_id[65];
};

struct vf_policy_cache {
        pthread_mutex_t lock;
        struct vf_store *store;
        uint64_t clock;
        struct vf_policy_ref *entries[VF_POLICY_CACHE_MAX];
        struct resolved *resolved[RESOLVED_BUCKETS];
        size_t n_resolved;
};

int vf_policy_cache_new(struct vf_store *store, struct vf_policy_cache **ret)
{
        struct vf_policy_cache *c = calloc(1, sizeof(*c));

        if (!c)
                return -ENOMEM;
        pthread_mutex_init(&c->lock, NULL);
        c->store = store;
        *ret = c;
        return 0;
}

static void ref_free(struct vf_policy_ref *r)
{
        if (r->kind == VF_POLICY_RUNTIME)
                dw_runtime_policy_free(r->compiled);
        else
                dw_boot_policy_free(r->compiled);
        free(r);
}

static void resolved_clear(struct vf_policy_cache *c)
{
        for (size_t i = 0; i < RESOLVED_BUCKETS; i++)
                while (c->resolved[i]) {
                        struct resolved *e = c->resolved[i];

                        c->resolved[i] = e->next;
                        free(e);
                }
        c->n_resolved = 0;
}

void vf_policy_cache_free(struct vf_policy_cache *c)
{
        if (!c)
                return;
        for (size_t i = 0; i < VF_POLICY_CACHE_MAX; i++)
                if (c->entries[i])
                        ref_free(c->entries[i]); /* every round has ended: no other reference is left */
        resolved_clear(c);
        pthread_mutex_destroy(&c->lock);
        free(c);
}

static struct resolved **resolved_slot(struct vf_policy_cache *c, enum vf_policy_kind kind, const char *gateway_id)
{
        uint32_t h = 2166136261u ^ (uint32_t)kind; /* FNV-1a */
        struct resolved **p;

        for (const char *s = gateway_id; *s; s++)
                h = (h ^ (uint8_t)*s) * 16777619u;
        for (p = &c->resolved[h & (RESOLVED_BUCKETS - 1)]; *p; p = &(*p)->next)
                if ((*p)->kind == kind && strcmp((*p)->gateway_id, gateway_id) == 0)
                        break;
        return p;
}

/* Remembers a resolution made at generation (an older one than what is kept is dropped). */
static void resolved_put(struct vf_policy_cache *c, enum vf_policy_kind kind, const char *gateway_id,
                         uint64_t generation, bool assigned, const char *name, uint64_t version)
{
        struct resolved **p, *e;

        pthread_mutex_lock(&c->lock);
        if (c->n_resolved >= RESOLVED_MAX)
                resolved_clear(c);
        p = resolved_slot(c, kind, gateway_id);
        e = *p;
        if (!e) {
                e = calloc(1, sizeof(*e));
                if (!e)
                        goto out;
                e->kind = kind;
                snprintf(e->gateway_id, sizeof(e->gateway_id), "%s", gateway_id);
                *p = e;
                c->n_resolved++;
        } else if (e->generation > generation)
                goto out;
        e->generation = generation;
        e->assigned = assigned;
        e->version = version;
        snprintf(e->name, sizeof(e->name), "%s", assigned ? name : "");
out:
        pthread_mutex_unlock(&c->lock);
}

static bool resolved_get(struct vf_policy_cache *c, enum vf_policy_kind kind, const char *gateway_id,
                         uint64_t generation, struct vf_assignment *ret, bool *ret_assigned)
{
        struct resolved *e;
        bool hit = false;

        pthread_mutex_lock(&c->lock);
        e = *resolved_slot(c, kind, gateway_id);
        if (e && e->generation == generation) {
                *ret_assigned = e->assigned;
                snprintf(ret->name, sizeof(ret->name), "%s", e->name);
                ret->version = e->version;
                hit = true;
        }
        pthread_mutex_unlock(&c->lock);
        return hit;
}

static int compile(enum vf_policy_kind kind, const char *body, size_t size, void **ret, char *msg, size_t msg_size)
{
        struct dw_policy_error err = {};
        int r;

        if (kind == VF_POLICY_RUNTIME)
                r = dw_runtime_policy_load(body, size, (struct dw_runtime_policy **)ret, &err);
        else
                r = dw_boot_policy_load(body, size, (struct dw_boot_policy **)ret, &err);
        if (r == -ENOMEM)
                return r;
        if (r < 0) {
                if (err.line > 0)
                        snprintf(msg, msg_size, "line %u column %u: %s", err.line, err.column, err.msg);
                else
                        snprintf(msg, msg_size, "%s%s%s", err.where, err.where[0] ? ": " : "", err.msg);
                return -EBADMSG;
        }
        return 0;
}

int vf_policy_validate(enum vf_policy_kind kind, const char *body, size_t size, char *msg, size_t msg_size)
{
        void *compiled = NULL;
        int r;

        r = compile(kind, body, size, &compiled, msg, msg_size);
        if (r < 0)
                return r;
        if (kind == VF_POLICY_RUNTIME)
                dw_runtime_policy_free(compiled);
        else
                dw_boot_policy_free(compiled);
        return 0;
}

static struct vf_policy_ref *lookup_locked(struct vf_policy_cache *c, enum vf_policy_kind kind, const char *name,
                                           uint64_t version)
{
        for (size_t i = 0; i < VF_POLICY_CACHE_MAX; i++) {
                struct vf_policy_ref *r = c->entries[i];

                if (r && r->kind == kind && r->version == version && strcmp(r->name, name) == 0) {
                        r->refs++;
                        r->used = ++c->clock;
                        return r;
                }
        }
        return NULL;
}

/* Puts r in the cache (evicting the least recently used entry), or hands it out uncached when it lost a race. */
static struct vf_policy_ref *insert_locked(struct vf_policy_cache *c, struct vf_policy_ref *r)
{
        struct vf_policy_ref *existing = lookup_locked(c, r->kind, r->name, r->version);
        size_t victim = 0;

        if (existing) {
                ref_free(r);
                return existing;
        }
        for (size_t i = 0; i < VF_POLICY_CACHE_MAX; i++) {
                if (!c->entries[i]) {
                        victim = i;
                        break;
                }
                if (c->entries[i]->used < c->entries[victim]->used)
                        victim = i;
        }
        if (c->entries[victim]) {
                struct vf_policy_ref *old = c->entries[victim];

                old->cached = false;
                if (--old->refs == 0)
                        ref_free(old);
        }
        r->cached = true;
        r->refs = 2; /* the cache's and the caller's */
        r->used = ++c->clock;
        c->entries[victim] = r;
        return r;
}

static int load(struct vf_policy_cache *c, enum vf_policy_kind kind, const char *name, uint64_t version,
                struct vf_policy_ref **ret, char *msg, size_t msg_size)
{
        _cleanup_free_ char *body = NULL;
        struct vf_policy_ref *r;
        size_t size;
        int k;

        k = vf_store_policy_get(c->store, kind, name, version, &body, &size, NULL);
        if (k == -ENOENT)
                snprintf(msg, msg_size, "%s policy '%s' version %" PRIu64 " does not exist", vf_policy_kind_name(kind),
                         name, version);
        else if (k < 0)
                snprintf(msg, msg_size, "database error");
        if (k < 0)
                return k;
        r = calloc(1, sizeof(*r));
        if (!r)
                return -ENOMEM;
        k = compile(kind, body, size, &r->compiled, msg, msg_size);
        if (k < 0) {
                free(r);
                return k;
        }
        r->cache = c;
        r->kind = kind;
        r->version = version;
        snprintf(r->name, sizeof(r->name), "%s", name);
        snprintf(r->id, sizeof(r->id), "%s:%s@%" PRIu64, vf_policy_kind_name(kind), name, version);
        pthread_mutex_lock(&c->lock);
        *ret = insert_locked(c, r);
        pthread_mutex_unlock(&c->lock);
        return 0;
}

/* The assignment in effect for a gateway, with "latest" resolved to a version. */
static int resolve(struct vf_policy_cache *c, enum vf_policy_kind kind, const char *gateway_id,
                   struct vf_assignment *ret, bool *ret_assigned, char *msg, size_t msg_size)
{
        uint64_t generation = vf_store_generation(c->store); /* before reading what it covers */
        struct vf_assignment a;
        int k;

        if (resolved_get(c, kind, gateway_id, generation, ret, ret_assigned))
                return 0;
        k = vf_store_effective_policy(c->store, gateway_id, kind, &a);
        if (k == -ENOENT) {
                resolved_put(c, kind, gateway_id, generation, false, NULL, 0);
                *ret_assigned = false;
                return 0;
        }
        if (k < 0) {
                snprintf(msg, msg_size, "database error");
                return k;
        }
        if (a.version == 0) {
                k = vf_store_policy_get(c->store, kind, a.name, 0, NULL, NULL, &a.version);
                if (k == -ENOENT)
                        snprintf(msg, msg_size, "%s policy '%s' does not exist", vf_policy_kind_name(kind), a.name);
                else if (k < 0)
                        snprintf(msg, msg_size, "database error");
                if (k < 0)
                        return k;
        }
        resolved_put(c, kind, gateway_id, generation, true, a.name, a.version);
        *ret = a;
        *ret_assigned = true;
        return 0;
}

int vf_policy_cache_acquire(struct vf_policy_cache *c, enum vf_policy_kind kind, const char *gateway_id,
                            struct vf_policy_ref **ret, char *msg, size_t msg_size)
{
        struct vf_assignment a;
        struct vf_policy_ref *r;
        uint64_t version;
        bool assigned;
        int k;

        k = resolve(c, kind, gateway_id, &a, &assigned, msg, msg_size);
        if (k < 0)
                return k;
        if (!assigned) {
                *ret = NULL;
                return 0;
        }
        version = a.version;
        pthread_mutex_lock(&c->lock);
        r = lookup_locked(c, kind, a.name, version);
        pthread_mutex_unlock(&c->lock);
        if (r) {
                *ret = r;
                return 0;
        }
        return load(c, kind, a.name, version, ret, msg, msg_size);
}

void vf_policy_ref_release(struct vf_policy_ref *r)
{
        struct vf_policy_cache *c;
        bool free_it;

        if (!r)
                return;
        c = r->cache;
        pthread_mutex_lock(&c->lock);
        free_it = --r->refs == 0;
        pthread_mutex_unlock(&c->lock);
        if (free_it)
                ref_free(r);
}

const struct dw_runtime_policy *vf_policy_ref_runtime(const struct vf_policy_ref *r)
{
        return r && r->kind == VF_POLICY_RUNTIME ? r->compiled : NULL;
}

const struct dw_boot_policy *vf_policy_ref_boot(const struct vf_policy_ref *r)
{
        return r && r->kind == VF_POLICY_BOOT ? r->compiled : NULL;
}

const char *vf_policy_ref_id(const struct vf_policy_ref *r)
{
        return r ? r->id : NULL;
}
