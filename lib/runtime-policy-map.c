/* SPDX-License-Identifier: MIT */
/* The runtime policy's name -> accepted digests map: see runtime-policy-internal.h. */

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "runtime-policy-internal.h"

#define RECORD_ALIGN      8
#define INLINE_DIGEST_MAX (2 + DW_HASH_MAX_SIZE) /* alg, verity, bytes */

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

static uint64_t pair_hash(uint32_t name, enum dw_hash_alg alg, bool verity, const uint8_t *bytes)
{
        /* File digests are already uniform: their first eight bytes, mixed with which name and algorithm. */
        return fmix64(load64(bytes) ^ ((uint64_t)name << 16) ^ ((uint64_t)alg << 8) ^ (uint64_t)verity);
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

static struct dw_pmap_record *record(const struct dw_pmap *m, uint32_t id)
{
        return (struct dw_pmap_record *)(m->pool + (size_t)id * RECORD_ALIGN);
}

int dw_pmap_init(struct dw_pmap *m, size_t max_names, size_t name_bytes, size_t max_digests, size_t max_pair_digests)
{
        size_t name_slots, pair_slots, pool;

        *m = (struct dw_pmap){};
        if (max_names > UINT32_MAX / 4 || max_digests > SIZE_MAX / (4 * INLINE_DIGEST_MAX) ||
            max_pair_digests > UINT32_MAX / 4 || name_bytes > SIZE_MAX / 4)
                return -E2BIG;
        /* Each record: header, name, NUL, alignment; digests at most INLINE_DIGEST_MAX bytes each. */
        pool = max_names * (sizeof(struct dw_pmap_record) + 1 + RECORD_ALIGN) + name_bytes +
               max_digests * INLINE_DIGEST_MAX + RECORD_ALIGN;
        if (pool / RECORD_ALIGN >= UINT32_MAX)
                return -E2BIG;
        name_slots = table_size(max_names);
        pair_slots = table_size(max_pair_digests);
        m->pool = aligned_alloc(RECORD_ALIGN, (pool + RECORD_ALIGN - 1) / RECORD_ALIGN * RECORD_ALIGN);
        m->name_slots = calloc(name_slots, sizeof(*m->name_slots));
        m->pairs = calloc(MAX(max_pair_digests, (size_t)1), sizeof(*m->pairs));
        m->pair_slots = calloc(pair_slots, sizeof(*m->pair_slots));
        if (!m->pool || !m->name_slots || !m->pairs || !m->pair_slots) {
                dw_pmap_done(m);
                return -ENOMEM;
        }
        m->pool_size = pool;
        m->max_names = max_names;
        m->name_mask = name_slots - 1;
        m->max_pairs = max_pair_digests;
        m->pair_mask = pair_slots - 1;
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
                if (r->hash == hash && r->len == len && memcmp(r->name, name, len) == 0)
                        return i;
        }
}

int dw_pmap_add_name(struct dw_pmap *m, const char *name, size_t len, size_t max_digests, uint32_t *ret_id)
{
        uint64_t hash = name_hash(name, len);
        size_t slot = name_probe(m, name, len, hash), at, size;
        struct dw_pmap_record *r;

        if (m->name_slots[slot].id != 0)
                return -EEXIST;
        at = (m->pool_used + RECORD_ALIGN - 1) / RECORD_ALIGN * RECORD_ALIGN;
        size = sizeof(*r) + len + 1;
        if (m->n_names >= m->max_names || len > UINT32_MAX || max_digests > UINT32_MAX || at > m->pool_size ||
            m->pool_size - at < size)
                return -ENOBUFS;
        r = (struct dw_pmap_record *)(m->pool + at);
        *r = (struct dw_pmap_record){
                .hash = hash,
                .len = (uint32_t)len,
                .max_digests = (uint32_t)max_digests,
                .digests_at = (uint32_t)size,
        };
        memcpy(r->name, name, len);
        r->name[len] = '\0';
        m->pool_used = at + size;
        m->n_names++;
        m->name_slots[slot] = (struct dw_pmap_slot){(uint32_t)(at / RECORD_ALIGN) + 1, tag_of(hash)};
        *ret_id = (uint32_t)(at / RECORD_ALIGN);
        return 0;
}

const struct dw_pmap_record *dw_pmap_find(const struct dw_pmap *m, const char *name, size_t len)
{
        uint32_t id;

        if (m->n_names == 0)
                return NULL;
        id = m->name_slots[name_probe(m, name, len, name_hash(name, len))].id;
        return id == 0 ? NULL : record(m, id - 1);
}

/* ---- digests of a name with few: after the name, scanned ---- */

static bool inline_has(const struct dw_pmap_record *r, enum dw_hash_alg alg, bool verity, const uint8_t *bytes)
{
        const uint8_t *p = (const uint8_t *)r + r->digests_at;
        size_t size = dw_hash_alg_size(alg);

        for (uint32_t k = 0; k < r->n_digests; k++) {
                if (p[0] == (uint8_t)alg && p[1] == verity && memcmp(p + 2, bytes, size) == 0)
                        return true;
                p += 2 + dw_hash_alg_size((enum dw_hash_alg)p[0]);
        }
        return false;
}

static int inline_add(struct dw_pmap *m, struct dw_pmap_record *r, enum dw_hash_alg alg, bool verity,
                      const uint8_t *bytes)
{
        size_t size = dw_hash_alg_size(alg), end = (size_t)((uint8_t *)r - m->pool) + r->digests_at;
        uint8_t *p;

        /* Digests go right after their name: only the last name added can take more. */
        for (uint32_t k = 0; k < r->n_digests; k++)
                end += 2 + dw_hash_alg_size((enum dw_hash_alg)m->pool[end]);
        if (end != m->pool_used || m->pool_size - m->pool_used < 2 + size)
                return -ENOBUFS;
        p = m->pool + m->pool_used;
        p[0] = (uint8_t)alg;
        p[1] = verity;
        memcpy(p + 2, bytes, size);
        m->pool_used += 2 + size;
        return 1;
}

/* ---- digests of a name with many: the pair table ---- */

static size_t pair_probe(const struct dw_pmap *m, uint32_t name, enum dw_hash_alg alg, bool verity,
                         const uint8_t *bytes, uint64_t hash)
{
        size_t size = dw_hash_alg_size(alg);

        for (size_t i = hash & m->pair_mask;; i = (i + 1) & m->pair_mask) {
                const struct dw_pmap_slot *s = &m->pair_slots[i];
                const struct dw_pdigest *d;

                if (s->id == 0)
                        return i;
                if (s->tag != tag_of(hash))
                        continue;
                d = &m->pairs[s->id - 1];
                if (d->name == name && d->alg == (uint8_t)alg && d->verity == verity &&
                    memcmp(d->bytes, bytes, size) == 0)
                        return i;
        }
}

static int pair_add(struct dw_pmap *m, uint32_t name, enum dw_hash_alg alg, bool verity, const uint8_t *bytes)
{
        uint64_t hash = pair_hash(name, alg, verity, bytes);
        size_t slot = pair_probe(m, name, alg, verity, bytes, hash);
        struct dw_pdigest *d;

        if (m->pair_slots[slot].id != 0)
                return 0;
        if (m->n_pairs >= m->max_pairs)
                return -ENOBUFS;
        d = &m->pairs[m->n_pairs];
        *d = (struct dw_pdigest){.name = name, .alg = (uint8_t)alg, .verity = verity};
        memcpy(d->bytes, bytes, dw_hash_alg_size(alg));
        m->pair_slots[slot] = (struct dw_pmap_slot){(uint32_t)++m->n_pairs, tag_of(hash)};
        return 1;
}

static bool pair_has(const struct dw_pmap *m, uint32_t name, enum dw_hash_alg alg, bool verity, const uint8_t *bytes)
{
        if (m->n_pairs == 0)
                return false;
        return m->pair_slots[pair_probe(m, name, alg, verity, bytes, pair_hash(name, alg, verity, bytes))].id != 0;
}

static bool many(const struct dw_pmap_record *r)
{
        return r->max_digests > DW_PMAP_INLINE_MAX;
}

int dw_pmap_add_digest(struct dw_pmap *m, uint32_t id, enum dw_hash_alg alg, bool verity, const uint8_t *bytes)
{
        struct dw_pmap_record *r;
        int added;

        if (alg < 0 || alg >= _DW_HASH_ALG_MAX || (size_t)id * RECORD_ALIGN >= m->pool_used)
                return -EINVAL;
        r = record(m, id);
        if (many(r) ? pair_has(m, id, alg, verity, bytes) : inline_has(r, alg, verity, bytes))
                return 0;
        if (r->n_digests >= r->max_digests)
                return -ENOBUFS;
        added = many(r) ? pair_add(m, id, alg, verity, bytes) : inline_add(m, r, alg, verity, bytes);
        if (added > 0) {
                r->n_digests++;
                m->n_digests++;
        }
        return added;
}

bool dw_pmap_accepts(const struct dw_pmap *m, const struct dw_pmap_record *r, enum dw_hash_alg alg, bool verity,
                     const uint8_t *bytes)
{
        if (alg < 0 || alg >= _DW_HASH_ALG_MAX)
                return false;
        if (many(r))
                return pair_has(m, (uint32_t)(((const uint8_t *)r - m->pool) / RECORD_ALIGN), alg, verity, bytes);
        return inline_has(r, alg, verity, bytes);
}
