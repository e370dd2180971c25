/* SPDX-License-Identifier: MIT */
/* The digests of executed files, keyed by what the kernel said of the file when it was executed (device, inode,
 * size, mtime, ctime): a file that changed in any of these is hashed again. One entry per file (device and
 * inode); least recently used entries go first when the cache is full. Pending entries (being hashed) hold the
 * executions waiting for their digest and are never evicted. Used by the main loop only. */

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "drift-internal.h"

struct drift_cache {
        struct drift_cache_entry **buckets;
        size_t n_buckets; /* a power of two */
        size_t n_entries; /* in the table, pending ones included */
        size_t max_entries;
        uint64_t next_id;
        struct drift_cache_entry *lru_head, *lru_tail; /* done entries, most recently used first */
        struct drift_cache_entry *pending;             /* every pending entry, orphans included */
};

static size_t bucket_of(const struct drift_cache *c, uint64_t dev, uint64_t ino)
{
        uint64_t h = (dev * 0x9e3779b97f4a7c15u) ^ (ino * 0xc2b2ae3d27d4eb4fu);

        return (size_t)(h ^ (h >> 29)) & (c->n_buckets - 1);
}

static bool key_equal(const struct drift_file_key *a, const struct drift_file_key *b)
{
        return a->dev == b->dev && a->ino == b->ino && a->size == b->size && a->mtime_sec == b->mtime_sec &&
               a->mtime_nsec == b->mtime_nsec && a->ctime_sec == b->ctime_sec && a->ctime_nsec == b->ctime_nsec;
}

int drift_cache_new(size_t max_entries, struct drift_cache **ret)
{
        struct drift_cache *c;
        size_t n = 16;

        while (n < max_entries * 2 && n < ((size_t)1 << 30))
                n <<= 1;
        c = calloc(1, sizeof(*c));
        if (!c)
                return -ENOMEM;
        c->buckets = calloc(n, sizeof(*c->buckets));
        if (!c->buckets) {
                free(c);
                return -ENOMEM;
        }
        c->n_buckets = n;
        c->max_entries = max_entries;
        *ret = c;
        return 0;
}

static void lru_unlink(struct drift_cache *c, struct drift_cache_entry *e)
{
        if (e->lru_prev)
                e->lru_prev->lru_next = e->lru_next;
        else if (c->lru_head == e)
                c->lru_head = e->lru_next;
        if (e->lru_next)
                e->lru_next->lru_prev = e->lru_prev;
        else if (c->lru_tail == e)
                c->lru_tail = e->lru_prev;
        e->lru_prev = e->lru_next = NULL;
}

static void lru_push(struct drift_cache *c, struct drift_cache_entry *e)
{
        e->lru_prev = NULL;
        e->lru_next = c->lru_head;
        if (c->lru_head)
                c->lru_head->lru_prev = e;
        c->lru_head = e;
        if (!c->lru_tail)
                c->lru_tail = e;
}

/* Takes e out of the hash table (and the LRU list). */
static void table_unlink(struct drift_cache *c, struct drift_cache_entry *e)
{
        struct drift_cache_entry **p = &c->buckets[bucket_of(c, e->key.dev, e->key.ino)];

        for (; *p; p = &(*p)->hash_next)
                if (*p == e) {
                        *p = e->hash_next;
                        e->hash_next = NULL;
                        c->n_entries--;
                        break;
                }
        if (!e->pending)
                lru_unlink(c, e);
}

static void pending_unlink(struct drift_cache *c, struct drift_cache_entry *e)
{
        for (struct drift_cache_entry **p = &c->pending; *p; p = &(*p)->pending_next)
                if (*p == e) {
                        *p = e->pending_next;
                        e->pending_next = NULL;
                        return;
                }
}

/* The entry of file dev:ino, whatever its key. */
static struct drift_cache_entry *file_find(struct drift_cache *c, uint64_t dev, uint64_t ino)
{
        for (struct drift_cache_entry *e = c->buckets[bucket_of(c, dev, ino)]; e; e = e->hash_next)
                if (e->key.dev == dev && e->key.ino == ino)
                        return e;
        return NULL;
}

/* Removes an entry: a pending one stays on the pending list as an orphan, a done one is freed. */
static void entry_drop(struct drift_cache *c, struct drift_cache_entry *e)
{
        table_unlink(c, e);
        if (e->pending)
                e->orphan = true;
        else
                free(e);
}

struct drift_cache_entry *drift_cache_get(struct drift_cache *c, const struct drift_file_key *key)
{
        struct drift_cache_entry *e = file_find(c, key->dev, key->ino);

        if (!e || !key_equal(&e->key, key))
                return NULL;
        if (!e->pending) {
                lru_unlink(c, e);
                lru_push(c, e);
        }
        return e;
}

int drift_cache_add_pending(struct drift_cache *c, const struct drift_file_key *key, struct drift_cache_entry **ret)
{
        struct drift_cache_entry *e, *old;
        size_t b;

        old = file_find(c, key->dev, key->ino);
        if (old)
                entry_drop(c, old);
        while (c->n_entries >= c->max_entries && c->lru_tail)
                entry_drop(c, c->lru_tail);
        e = calloc(1, sizeof(*e));
        if (!e)
                return -ENOMEM;
        e->key = *key;
        e->id = ++c->next_id;
        e->pending = true;
        b = bucket_of(c, key->dev, key->ino);
        e->hash_next = c->buckets[b];
        c->buckets[b] = e;
        c->n_entries++;
        e->pending_next = c->pending;
        c->pending = e;
        *ret = e;
        return 0;
}

struct drift_cache_entry *drift_cache_find_pending(struct drift_cache *c, uint64_t id)
{
        for (struct drift_cache_entry *e = c->pending; e; e = e->pending_next)
                if (e->id == id)
                        return e;
        return NULL;
}

void drift_cache_complete(struct drift_cache *c, struct drift_cache_entry *e, int error,
                          const struct drift_hash_result *res)
{
        pending_unlink(c, e);
        e->pending = false;
        e->waiters = NULL;
        if (e->orphan) {
                free(e);
                return;
        }
        e->error = error;
        e->extra_alg = -1;
        if (error == 0 && res) {
                memcpy(e->digest, res->digest, DRIFT_DIGEST_SIZE);
                e->extra_alg = res->extra_alg;
                memcpy(e->extra, res->extra, sizeof(e->extra));
        }
        if (error != 0 || !res) {
                /* No digest: nothing to remember (the next execution tries again). */
                table_unlink(c, e);
                free(e);
                return;
        }
        lru_push(c, e);
}

void drift_cache_invalidate(struct drift_cache *c, uint64_t dev, uint64_t ino)
{
        struct drift_cache_entry *e = file_find(c, dev, ino);

        if (e)
                entry_drop(c, e);
}

size_t drift_cache_size(const struct drift_cache *c)
{
        return c->n_entries;
}

void drift_cache_free(struct drift_cache *c, void (*free_waiter)(struct drift_waiter *w))
{
        if (!c)
                return;
        /* Pending entries (in the table or orphaned) own their waiters; done ones have none. */
        while (c->pending) {
                struct drift_cache_entry *e = c->pending;

                c->pending = e->pending_next;
                if (e->waiters && free_waiter)
                        free_waiter(e->waiters);
                e->waiters = NULL;
                if (e->orphan)
                        free(e);
                else
                        e->pending = false; /* freed with the table below */
        }
        for (size_t b = 0; b < c->n_buckets; b++)
                while (c->buckets[b]) {
                        struct drift_cache_entry *e = c->buckets[b];

                        c->buckets[b] = e->hash_next;
                        free(e);
                }
        free(c->buckets);
        free(c);
}
