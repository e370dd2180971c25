/* SPDX-License-Identifier: MIT */
/* The store: retention. Used nonces, runtime events and pending enrollments past their retention are deleted in
 * small transactions, each through an index (used_nonces' key, which starts with the expiry; events_received; the
 * enrollments' few rows), so that a cleanup never holds the store's lock for long, however much there is to
 * delete. */

#include <errno.h>

#include "store-internal.h"

/* Deletes up to `batch` rows of one statement ("... LIMIT ?2", ?1 the cutoff: a time, or with as_key the 8-byte
 * big-endian key prefix of that time); *ret_n gets how many. */
static int delete_batch(struct vf_store *s, const char *sql, uint64_t before, bool as_key, size_t batch,
                        uint64_t *ret_n)
{
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int r;

        STORE_LOCKED(s);
        r = sql_prepare(s, sql, &st);
        if (r < 0)
                return r;
        if (as_key) {
                uint8_t key[8];

                for (int i = 0; i < 8; i++)
                        key[i] = (uint8_t)(before >> (56 - 8 * i));
                sql_bind_blob(st, 1, key, sizeof(key));
        } else
                sql_bind_u64(st, 1, before);
        sql_bind_u64(st, 2, batch);
        r = sql_step_done(s, st);
        if (r < 0)
                return r;
        *ret_n = (uint64_t)sqlite3_changes(s->db);
        return 0;
}

/* Batches until fewer than a full batch was deleted or max_batches ran; *more when it stopped on the limit. */
static int delete_all(struct vf_store *s, const char *sql, uint64_t before, bool as_key, const struct vf_cleanup *c,
                      uint64_t *count, bool *more)
{
        uint64_t n = 0;
        int r;

        if (before == 0)
                return 0;
        for (size_t i = 0; i < c->max_batches; i++) {
                r = delete_batch(s, sql, before, as_key, c->batch, &n);
                if (r < 0)
                        return r;
                *count += n;
                if (n < c->batch)
                        return 0;
        }
        *more = true;
        return 0;
}

int vf_store_cleanup(struct vf_store *s, const struct vf_cleanup *c, struct vf_cleanup_counts *ret)
{
        struct vf_cleanup_counts n = {};
        int r;

        if (c->batch == 0 || c->max_batches == 0)
                return -EINVAL;
        r = delete_all(s,
                       "DELETE FROM used_nonces WHERE nonce IN (SELECT nonce FROM used_nonces WHERE nonce < ?1 LIMIT "
                       "?2)",
                       c->nonces_before, true, c, &n.nonces, &n.more); /* a nonce starts with its expiry */
        if (r == 0)
                r = delete_all(s,
                               "DELETE FROM events WHERE id IN (SELECT id FROM events WHERE received < ?1 ORDER BY "
                               "received LIMIT ?2)",
                               c->events_before, false, c, &n.events, &n.more);
        if (r == 0)
                r = delete_all(s,
                               "DELETE FROM enrollments WHERE rowid IN (SELECT rowid FROM enrollments WHERE expires "
                               "< ?1 LIMIT ?2)",
                               c->enrollments_before, false, c, &n.enrollments, &n.more);
        if (r < 0)
                return r;
        *ret = n;
        return 0;
}
