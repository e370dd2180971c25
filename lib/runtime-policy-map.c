/* SPDX-License-Identifier: MIT */
/* The runtime policy's name -> accepted digests map: see runtime-policy-internal.h. */

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "runtime-policy-internal.h"

#define RECORD_ALIGN 4
#define POOL_MIN     (64 * 1024)
#define VERITY_BIT   0x80                     /* in the algorithm byte of an inline digest */
#define SMALL_DEDUP  (2 * DW_PMAP_INLINE_MAX) /* up to this many digests, duplicates are found by scanning */

static uint64_t fmix64(uint64_t k)
{
        /* MurmurHash3's finalizer: every input bit affects every output bit. */
        k ^= k >> 33;
        k *= 0xff51afd7ed558ccdull;
        k ^= k >> 33;
        k *= 0xc4ceb9fe1a85ec53ull;
        k ^= k >> 33;
        return k;
}

static uint64_t load64(const uint8_t *p)
{
        uint64_t v;

        memcpy(&v, p, sizeof(v));
        return v;
}

/* Eight bytes at a time, then the finalizer. Names come from the policy (the admin's), so no keyed hash is needed:
 * queries from a gateway cannot lengthen the probe sequences, which only the policy's names fill. */
static uint64_t name_hash(const char *name, size_t len)
{
        const uint8_t *p = (const uint8_t *)name;
        uint64_t h = 0x9e3779b97f4a7c15ull ^ len;
        uint8_t tail[8] = {};

        for (; len >= 8; p += 8, len -= 8) {
                h = (h ^ load64(p)) * 0x9fb21c651e98df25ull;
                h ^= h >> 31;
        }
        memcpy(tail, p, len);
        h = (h ^ load64(tail)) * 0x9fb21c651e98df25ull;
        return fmix64(h);
}

static uint32_t tag_of(uint64_t hash)
{
        return (uint32_t)(hash >> 32);
}

/* Smallest power of two at least twice n, and at least 8: tables stay at most half full. */
static size_t table_size(size_t n)
{
        size_t s = 8;

        while (s < 2 * n)
                s *= 2;
        return s;
}

static size_t align_up(size_t n)
{
        return (n + RECORD_ALIGN - 1) / RECORD_ALIGN * RECORD_ALIGN;
}

static struct dw_pmap_record *record(const struct dw_pmap *m, uint32_t id)
{
        return (struct dw_pmap_record *)(m->pool + (size_t)id * RECORD_ALIGN);
}

static uint32_t record_id(const struct dw_pmap *m, const struct dw_pmap_record *r)
{
        return (uint32_t)(((const uint8_t *)r - m->pool) / RECORD_ALIGN);
}

static bool many(const struct dw_pmap_record *r)
{
        return r->n_digests > DW_PMAP_INLINE_MAX;
}

static size_t digest_size(uint8_t alg_byte)
{
        return dw_hash_alg_size((enum dw_hash_alg)(alg_byte & ~VERITY_BIT));
}

/* Header, name, NUL and inline digests: where the next record starts, before alignment. */
static size_t record_size(const struct dw_pmap_record *r)
{
        size_t size = sizeof(*r) + r->len + 1;

        if (!many(r))
                for (uint32_t k = 0; k < r->n_digests; k++)
                        size += 1 + digest_size(((const uint8_t *)r)[size]);
        return size;
}

/* ---- building ---- */

static int pool_grow(struct dw_pmap *m, size_t need)
{
        size_t size = MAX(m->pool_size, (size_t)POOL_MIN);
        uint8_t *pool;

        if (need <= m->pool_size)
                return 0;
        /* Ids are 32-bit offsets / RECORD_ALIGN, and a slot holds id + 1. */
        if (need > (size_t)(UINT32_MAX - 1) * RECORD_ALIGN)
                return -E2BIG;
        while (size < need)
                size = size > SIZE_MAX / 2 ? need : 2 * size;
        size = align_up(MIN(size, (size_t)(UINT32_MAX - 1) * RECORD_ALIGN));
        /* Large pools are mapped apart by malloc: realloc() moves their pages rather than copying them, and pages
         * never touched cost nothing. */
        pool = realloc(m->pool, size);
        if (!pool)
                return -ENOMEM;
        m->pool = pool;
        m->pool_size = size;
        return 0;
}

static int pairs_grow(struct dw_pmap *m, size_t n)
{
        size_t max = MAX(m->max_pairs, (size_t)64);
        struct dw_pdigest *pairs;

        if (n <= m->max_pairs - m->n_pairs)
                return 0;
        if (n > UINT32_MAX - 1 - m->n_pairs)
                return -E2BIG;
        while (max - m->n_pairs < n)
                max *= 2;
        max = MIN(max, (size_t)UINT32_MAX - 1);
        pairs = realloc(m->pairs, max * sizeof(*pairs));
        if (!pairs)
                return -ENOMEM;
        m->pairs = pairs;
        m->max_pairs = max;
        return 0;
}

int dw_pmap_reserve(struct dw_pmap *m, size_t names, size_t name_bytes, size_t digests)
{
        size_t per_name = sizeof(struct dw_pmap_record) + 1 + RECORD_ALIGN, per_digest = 1 + DW_HASH_MAX_SIZE;

        if (names > SIZE_MAX / 4 / per_name || digests > SIZE_MAX / 4 / per_digest || name_bytes > SIZE_MAX / 4)
                return -E2BIG;
        return pool_grow(m, m->pool_used + names * per_name + name_bytes + digests * per_digest);
}

static int digest_cmp(const void *a, const void *b)
{
        const struct dw_pmap_digest *x = a, *y = b;

        if (x->alg != y->alg)
                return x->alg < y->alg ? -1 : 1;
        if (x->verity != y->verity)
                return x->verity < y->verity ? -1 : 1;
        return memcmp(x->bytes, y->bytes, dw_hash_alg_size(x->alg));
}

/* Drops duplicates: the first of each stays, in order, when there are few (as they are written inline). */
static size_t dedup(struct dw_pmap_digest *d, size_t n)
{
        size_t k = 0;

        if (n > SMALL_DEDUP) {
                qsort(d, n, sizeof(*d), digest_cmp);
                for (size_t i = 0; i < n; i++)
                        if (k == 0 || digest_cmp(&d[k - 1], &d[i]) != 0)
                                d[k++] = d[i];
                return k;
        }
        for (size_t i = 0; i < n; i++) {
                bool dup = false;

                for (size_t j = 0; j < k && !dup; j++)
                        dup = digest_cmp(&d[j], &d[i]) == 0;
                if (!dup)
                        d[k++] = d[i];
        }
        return k;
}

int dw_pmap_append(struct dw_pmap *m, const char *name, size_t len, struct dw_pmap_digest *d, size_t n)
{
        size_t at = align_up(m->pool_used), size;
        struct dw_pmap_record *r;
        uint8_t *p;
        int ret;

        for (size_t i = 0; i < n; i++)
                if (d[i].alg >= _DW_HASH_ALG_MAX)
                        return -EINVAL;
        n = dedup(d, n);
        if (len > UINT32_MAX - 1 || len > SIZE_MAX / 2 || n > UINT32_MAX - 1)
                return -E2BIG;
        size = sizeof(*r) + len + 1;
        if (n <= DW_PMAP_INLINE_MAX)
                for (size_t i = 0; i < n; i++)
                        size += 1 + dw_hash_alg_size(d[i].alg);
        else {
                ret = pairs_grow(m, n);
                if (ret < 0)
                        return ret;
        }
        if (at > SIZE_MAX - size)
                return -E2BIG;
        ret = pool_grow(m, at + size);
        if (ret < 0)
                return ret;

        r = (struct dw_pmap_record *)(m->pool + at);
        *r = (struct dw_pmap_record){.len = (uint32_t)len, .n_digests = (uint32_t)n};
        memcpy(r->name, name, len);
        r->name[len] = '\0';
        p = (uint8_t *)r->name + len + 1;
        for (size_t i = 0; i < n; i++) {
                if (many(r)) {
                        m->pairs[m->n_pairs++] = (struct dw_pdigest){.name = (uint32_t)(at / RECORD_ALIGN), .d = d[i]};
                        continue;
                }
                *p = (uint8_t)(d[i].alg | (d[i].verity ? VERITY_BIT : 0));
                memcpy(p + 1, d[i].bytes, dw_hash_alg_size(d[i].alg));
                p += 1 + dw_hash_alg_size(d[i].alg);
        }
        m->pool_used = at + size;
        m->n_names++;
        m->n_digests += n;
        return 0;
}

/* ---- the name table ---- */

/* The slot holding name, or the empty slot where it would go. */
static size_t name_probe(const struct dw_pmap *m, const char *name, size_t len, uint64_t hash)
{
        for (size_t i = hash & m->name_mask;; i = (i + 1) & m->name_mask) {
                const struct dw_pmap_slot *s = &m->name_slots[i];
                const struct dw_pmap_record *r;

                if (s->id == 0)
                        return i;
                if (s->tag != tag_of(hash))
                        continue;
                r = record(m, s->id - 1);
                if (r->len == len && memcmp(r->name, name, len) == 0)
                        return i;
        }
}

const struct dw_pmap_record *dw_pmap_find(const struct dw_pmap *m, const char *name, size_t len)
{
        uint32_t id;

        if (m->n_names == 0 || !m->name_slots)
                return NULL;
        id = m->name_slots[name_probe(m, name, len, name_hash(name, len))].id;
        return id == 0 ? NULL : record(m, id - 1);
}

/* ---- the pair table ---- */

static uint64_t pair_hash(uint32_t name, const struct dw_pmap_digest *d)
{
        /* File digests are already uniform: their first eight bytes, mixed with which name and algorithm. */
        return fmix64(load64(d->bytes) ^ ((uint64_t)name << 16) ^ ((uint64_t)d->alg << 8) ^ (uint64_t)d->verity);
}

static size_t pair_probe(const struct dw_pmap *m, uint32_t name, const struct dw_pmap_digest *d, uint64_t hash)
{
        for (size_t i = hash & m->pair_mask;; i = (i + 1) & m->pair_mask) {
                const struct dw_pmap_slot *s = &m->pair_slots[i];
                const struct dw_pdigest *e;

                if (s->id == 0)
                        return i;
                if (s->tag != tag_of(hash))
                        continue;
                e = &m->pairs[s->id - 1];
                if (e->name == name && digest_cmp(&e->d, d) == 0)
                        return i;
        }
}

static int insert_name(struct dw_pmap *m, uint32_t id, uint64_t hash)
{
        const struct dw_pmap_record *r = record(m, id);
        size_t slot = name_probe(m, r->name, r->len, hash);

        if (m->name_slots[slot].id != 0)
                return -EEXIST;
        m->name_slots[slot] = (struct dw_pmap_slot){id + 1, tag_of(hash)};
        return 0;
}

/* Every record of the pool into the name table. The pool is read in order, the table at random: each name's slot is
 * prefetched INSERT_AHEAD names before it is written, so that the cache misses overlap. */
#define INSERT_AHEAD 16
static int insert_names(struct dw_pmap *m)
{
        struct {
                uint32_t id;
                uint64_t hash;
        } ahead[INSERT_AHEAD];
        size_t n = 0;
        int r;

        for (size_t at = 0; at < m->pool_used; n++) {
                uint32_t id = (uint32_t)(at / RECORD_ALIGN);
                const struct dw_pmap_record *rec = record(m, id);
                uint64_t hash = name_hash(rec->name, rec->len);

                if (n >= INSERT_AHEAD) {
                        r = insert_name(m, ahead[n % INSERT_AHEAD].id, ahead[n % INSERT_AHEAD].hash);
                        if (r < 0)
                                return r;
                }
                ahead[n % INSERT_AHEAD].id = id;
                ahead[n % INSERT_AHEAD].hash = hash;
                __builtin_prefetch(&m->name_slots[hash & m->name_mask], 1);
                at = align_up(at + record_size(rec));
        }
        for (size_t k = n > INSERT_AHEAD ? n - INSERT_AHEAD : 0; k < n; k++) {
                r = insert_name(m, ahead[k % INSERT_AHEAD].id, ahead[k % INSERT_AHEAD].hash);
                if (r < 0)
                        return r;
        }
        return 0;
}

int dw_pmap_finish(struct dw_pmap *m)
{
        size_t names = table_size(m->n_names), pairs = table_size(m->n_pairs);
        int r;

        if (m->name_slots)
                return -EALREADY;
        /* Give back what growing by doubling left unused. */
        if (m->pool_size > m->pool_used && m->pool_used > 0) {
                uint8_t *pool = realloc(m->pool, m->pool_used);

                if (pool) {
                        m->pool = pool;
                        m->pool_size = m->pool_used;
                }
        }
        if (m->max_pairs > m->n_pairs && m->n_pairs > 0) {
                struct dw_pdigest *p = realloc(m->pairs, m->n_pairs * sizeof(*p));

                if (p) {
                        m->pairs = p;
                        m->max_pairs = m->n_pairs;
                }
        }
        m->name_slots = calloc(names, sizeof(*m->name_slots));
        m->pair_slots = calloc(pairs, sizeof(*m->pair_slots));
        if (!m->name_slots || !m->pair_slots)
                return -ENOMEM;
        m->name_mask = names - 1;
        m->pair_mask = pairs - 1;

        r = insert_names(m);
        if (r < 0)
                return r;
        for (size_t i = 0; i < m->n_pairs; i++) {
                const struct dw_pdigest *e = &m->pairs[i];
                uint64_t hash = pair_hash(e->name, &e->d);
                size_t slot = pair_probe(m, e->name, &e->d, hash);

                if (m->pair_slots[slot].id != 0)
                        return -EEXIST;
                m->pair_slots[slot] = (struct dw_pmap_slot){(uint32_t)i + 1, tag_of(hash)};
        }
        return 0;
}

void dw_pmap_done(struct dw_pmap *m)
{
        free(m->pool);
        free(m->name_slots);
        free(m->pairs);
        free(m->pair_slots);
        *m = (struct dw_pmap){};
}

/* ---- lookups ---- */

static bool inline_has(const struct dw_pmap_record *r, uint8_t alg_byte, const uint8_t *bytes)
{
        const uint8_t *p = (const uint8_t *)r->name + r->len + 1;
        size_t size = digest_size(alg_byte);

        for (uint32_t k = 0; k < r->n_digests; k++) {
                if (p[0] == alg_byte && memcmp(p + 1, bytes, size) == 0)
                        return true;
                p += 1 + digest_size(p[0]);
        }
        return false;
}

bool dw_pmap_accepts(const struct dw_pmap *m, const struct dw_pmap_record *r, enum dw_hash_alg alg, bool verity,
                     const uint8_t *bytes)
{
        struct dw_pmap_digest d = {.alg = (uint8_t)alg, .verity = verity};
        uint32_t id;

        if (alg < 0 || alg >= _DW_HASH_ALG_MAX)
                return false;
        if (!many(r))
                return inline_has(r, (uint8_t)(alg | (verity ? VERITY_BIT : 0)), bytes);
        if (m->n_pairs == 0 || !m->pair_slots)
                return false;
        memcpy(d.bytes, bytes, dw_hash_alg_size(alg));
        id = record_id(m, r);
        return m->pair_slots[pair_probe(m, id, &d, pair_hash(id, &d))].id != 0;
}

/* ---- digest lists ---- */

int dw_pmap_digests_reserve(struct dw_pmap_digests *l, size_t n)
{
        size_t size = MAX(l->size, (size_t)16);
        struct dw_pmap_digest *d;

        if (n <= l->size)
                return 0;
        if (n > SIZE_MAX / 2 / sizeof(*d))
                return -E2BIG;
        while (size < n)
                size *= 2;
        d = realloc(l->d, size * sizeof(*d));
        if (!d)
                return -ENOMEM;
        l->d = d;
        l->size = size;
        return 0;
}

void dw_pmap_digests_done(struct dw_pmap_digests *l)
{
        free(l->d);
        *l = (struct dw_pmap_digests){};
}
