/* SPDX-License-Identifier: MIT */
/* Tests of monitor/drift-cache.c, the digests of executed files: a digest is reused only for exactly the key the
 * kernel reported (device, inode, size, mtime, ctime); a tamper event forgets the file; a file replaced while being
 * hashed orphans its pending entry, freed when its result arrives; failed hashes are not remembered; the least
 * recently used entries go first and pending ones never; a random workload against a model (ASan/UBSan builds). */

#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "drift-internal.h"

static struct drift_file_key key(uint64_t ino, int64_t mtime)
{
        return (struct drift_file_key){
                .dev = 0x800001, .ino = ino, .size = 4096, .mtime_sec = mtime, .ctime_sec = mtime};
}

static struct drift_hash_result result(uint8_t fill)
{
        struct drift_hash_result r = {.extra_alg = -1};

        memset(r.digest, fill, sizeof(r.digest));
        return r;
}

/* Adds a pending entry for k and completes it with a digest of fill bytes. */
static struct drift_cache_entry *hashed(struct drift_cache *c, struct drift_file_key k, uint8_t fill)
{
        struct drift_cache_entry *e;
        struct drift_hash_result r = result(fill);

        ck_assert_int_eq(drift_cache_add_pending(c, &k, &e), 0);
        ck_assert(e->pending);
        drift_cache_complete(c, e, 0, &r);
        return e;
}

START_TEST(test_exact_key)
{
        struct drift_cache *c = NULL;
        struct drift_file_key k = key(10, 100), other;
        struct drift_cache_entry *e;

        ck_assert_int_eq(drift_cache_new(16, &c), 0);
        ck_assert_ptr_null(drift_cache_get(c, &k));
        hashed(c, k, 0xab);
        e = drift_cache_get(c, &k);
        ck_assert_ptr_nonnull(e);
        ck_assert(!e->pending && e->error == 0 && e->digest[0] == 0xab && e->extra_alg == -1);

        /* any field of the key that differs: not the same file content, no digest */
        other = k, other.size++;
        ck_assert_ptr_null(drift_cache_get(c, &other));
        other = k, other.mtime_nsec = 1;
        ck_assert_ptr_null(drift_cache_get(c, &other));
        other = k, other.ctime_sec++;
        ck_assert_ptr_null(drift_cache_get(c, &other));
        other = k, other.dev++;
        ck_assert_ptr_null(drift_cache_get(c, &other));

        /* a new version of the file replaces the entry (one per device and inode) */
        other = key(10, 200);
        hashed(c, other, 0xcd);
        ck_assert_ptr_null(drift_cache_get(c, &k));
        ck_assert_int_eq(drift_cache_get(c, &other)->digest[0], 0xcd);
        ck_assert_uint_eq(drift_cache_size(c), 1);
        drift_cache_free(c, NULL);
}
END_TEST

START_TEST(test_invalidate)
{
        struct drift_cache *c = NULL;
        struct drift_file_key a = key(1, 1), b = key(2, 1);

        ck_assert_int_eq(drift_cache_new(16, &c), 0);
        hashed(c, a, 1);
        hashed(c, b, 2);
        drift_cache_invalidate(c, a.dev, a.ino);
        ck_assert_ptr_null(drift_cache_get(c, &a));
        ck_assert_ptr_nonnull(drift_cache_get(c, &b));
        drift_cache_invalidate(c, a.dev, 999); /* unknown: nothing */
        ck_assert_uint_eq(drift_cache_size(c), 1);
        drift_cache_free(c, NULL);
}
END_TEST

START_TEST(test_pending_and_orphans)
{
        struct drift_cache *c = NULL;
        struct drift_file_key k = key(5, 1), k2 = key(5, 2);
        struct drift_cache_entry *first, *second;
        struct drift_hash_result r = result(7);
        uint64_t first_id;

        ck_assert_int_eq(drift_cache_new(16, &c), 0);
        ck_assert_int_eq(drift_cache_add_pending(c, &k, &first), 0);
        first_id = first->id;
        ck_assert_ptr_eq(drift_cache_get(c, &k), first); /* pending: found, waiters may join */
        ck_assert_ptr_eq(drift_cache_find_pending(c, first_id), first);

        /* tampered while being hashed: the pending entry is orphaned, its result will not be kept */
        drift_cache_invalidate(c, k.dev, k.ino);
        ck_assert_ptr_null(drift_cache_get(c, &k));
        ck_assert(first->orphan);
        ck_assert_ptr_eq(drift_cache_find_pending(c, first_id), first);
        drift_cache_complete(c, first, 0, &r); /* frees it */
        ck_assert_ptr_null(drift_cache_find_pending(c, first_id));
        ck_assert_uint_eq(drift_cache_size(c), 0);

        /* replaced by a newer version while pending */
        ck_assert_int_eq(drift_cache_add_pending(c, &k, &first), 0);
        ck_assert_int_eq(drift_cache_add_pending(c, &k2, &second), 0);
        ck_assert(first->orphan && !second->orphan);
        ck_assert_uint_eq(drift_cache_size(c), 1);
        drift_cache_complete(c, second, 0, &r);
        drift_cache_complete(c, first, 0, &r);
        ck_assert_ptr_nonnull(drift_cache_get(c, &k2));
        ck_assert_ptr_null(drift_cache_get(c, &k));

        /* a failed hash is not remembered: the next execution hashes again */
        ck_assert_int_eq(drift_cache_add_pending(c, &k, &first), 0);
        drift_cache_complete(c, first, -ESTALE, NULL);
        ck_assert_ptr_null(drift_cache_get(c, &k));
        ck_assert_uint_eq(drift_cache_size(c), 0);
        drift_cache_free(c, NULL);
}
END_TEST

START_TEST(test_lru)
{
        struct drift_cache *c = NULL;
        struct drift_cache_entry *pending;
        struct drift_file_key k;

        ck_assert_int_eq(drift_cache_new(4, &c), 0);
        for (uint64_t i = 1; i <= 4; i++)
                hashed(c, key(i, 1), (uint8_t)i);
        k = key(1, 1);
        ck_assert_ptr_nonnull(drift_cache_get(c, &k)); /* 1 is now the most recently used */
        hashed(c, key(5, 1), 5);                       /* evicts 2, the least recently used */
        k = key(2, 1);
        ck_assert_ptr_null(drift_cache_get(c, &k));
        k = key(1, 1);
        ck_assert_ptr_nonnull(drift_cache_get(c, &k));
        ck_assert_uint_eq(drift_cache_size(c), 4);

        /* pending entries are never evicted: a full cache of pending files still takes more */
        drift_cache_free(c, NULL);
        ck_assert_int_eq(drift_cache_new(2, &c), 0);
        for (uint64_t i = 1; i <= 3; i++) {
                k = key(i, 1);
                ck_assert_int_eq(drift_cache_add_pending(c, &k, &pending), 0);
        }
        ck_assert_uint_eq(drift_cache_size(c), 3);
        for (uint64_t i = 1; i <= 3; i++) {
                k = key(i, 1);
                ck_assert_ptr_nonnull(drift_cache_get(c, &k));
        }
        drift_cache_free(c, NULL); /* frees pending ones too (ASan checks) */
}
END_TEST

/* Random operations against a model of what must be found: a done entry's digest is only ever the one its exact key
 * was completed with. */
START_TEST(test_random)
{
        enum { FILES = 40, OPS = 200000 };
        struct drift_cache *c = NULL;
        struct drift_cache_entry *pend[FILES] = {};
        int64_t version[FILES] = {};
        unsigned state = 7;

        ck_assert_int_eq(drift_cache_new(16, &c), 0);
        for (int i = 0; i < OPS; i++) {
                unsigned f = (state = state * 1103515245u + 12345u) >> 16;
                unsigned op = f % 5;
                struct drift_file_key k;
                struct drift_cache_entry *e;

                f = (f >> 3) % FILES;
                k = key(f + 1, version[f]);
                switch (op) {
                case 0: /* an execution: look up, hash when unknown */
                        e = drift_cache_get(c, &k);
                        if (e && !e->pending)
                                ck_assert_int_eq(e->digest[0], (uint8_t)(f * 7 + version[f]));
                        else if (!e && !pend[f]) {
                                ck_assert_int_eq(drift_cache_add_pending(c, &k, &pend[f]), 0);
                                pend[f]->waiters = NULL;
                        }
                        break;
                case 1: /* the hash finishes */
                        if (pend[f]) {
                                struct drift_hash_result r = result((uint8_t)(f * 7 + pend[f]->key.mtime_sec));

                                drift_cache_complete(c, pend[f], 0, &r);
                                pend[f] = NULL;
                        }
                        break;
                case 2: /* a tamper event */
                        drift_cache_invalidate(c, k.dev, k.ino);
                        break;
                case 3: /* the file changes */
                        version[f]++;
                        break;
                default: /* a hash fails */
                        if (pend[f]) {
                                drift_cache_complete(c, pend[f], -EIO, NULL);
                                pend[f] = NULL;
                        }
                }
                ck_assert_uint_le(drift_cache_size(c), 16 + FILES);
        }
        drift_cache_free(c, NULL);
}
END_TEST

int main(void)
{
        Suite *s = suite_create("monitor-drift-cache");
        TCase *tc = tcase_create("cache");
        SRunner *sr;
        int failed;

        tcase_add_test(tc, test_exact_key);
        tcase_add_test(tc, test_invalidate);
        tcase_add_test(tc, test_pending_and_orphans);
        tcase_add_test(tc, test_lru);
        tcase_add_test(tc, test_random);
        tcase_set_timeout(tc, 60);
        suite_add_tcase(s, tc);
        sr = srunner_create(s);
        srunner_run_all(sr, CK_NORMAL);
        failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed == 0 ? 0 : 1;
}
