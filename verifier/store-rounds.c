/* SPDX-License-Identifier: MIT */
/* The store: the end of rounds, verdicts, and gateways without fresh evidence. */

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "store-internal.h"
#include "util.h"

/* ---- rounds and verdicts ------------------------------------------------------------------------------------- */

static int verdict_insert(struct vf_store *s, const char *gateway_id, const struct vf_verdict_record *v)
{
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int r;

        r = sql_prepare(s,
                        "INSERT INTO verdicts (gateway_id, time, verdict, reasons, ima_from, ima_to, nonce, token, "
                        "latency_usec, evidence) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        &st);
        if (r < 0)
                return r;
        sql_bind_text(st, 1, gateway_id);
        sql_bind_u64(st, 2, v->time);
        sql_bind_text(st, 3, vf_status_name(v->verdict));
        sql_bind_text(st, 4, v->reasons ? v->reasons : "[]");
        sql_bind_u64(st, 5, v->ima_from);
        sql_bind_u64(st, 6, v->ima_to);
        sql_bind_text(st, 7, v->nonce_hex);
        sql_bind_text(st, 8, v->token);
        sql_bind_u64(st, 9, v->latency_usec);
        sql_bind_text(st, 10, v->evidence);
        return sql_step_done(s, st);
}

static int verdicts_count(struct vf_store *s, const char *gateway_id, int64_t *ret)
{
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int r;

        r = sql_prepare(s, "SELECT count(*) FROM verdicts WHERE gateway_id = ?", &st);
        if (r < 0)
                return r;
        sql_bind_text(st, 1, gateway_id);
        r = sql_step_row(s, st);
        if (r < 0)
                return r;
        *ret = sqlite3_column_int64(st, 0);
        return 0;
}

/* Deletes a gateway's verdicts but the newest keep. With *count (>= 0: how many it has, the new one included), only
 * the excess is deleted, oldest first, through the index: no walk over the kept history; *count follows. */
static int verdicts_prune(struct vf_store *s, const char *gateway_id, uint64_t keep, int64_t *count)
{
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int r;

        if (keep == 0)
                return 0;
        if (count && *count >= 0) {
                if ((uint64_t)*count <= keep)
                        return 0;
                r = sql_prepare(s,
                                "DELETE FROM verdicts WHERE gateway_id = ?1 AND id <= (SELECT id FROM verdicts WHERE "
                                "gateway_id = ?1 ORDER BY id LIMIT 1 OFFSET ?2)",
                                &st);
                if (r < 0)
                        return r;
                sql_bind_text(st, 1, gateway_id);
                sql_bind_u64(st, 2, (uint64_t)*count - keep - 1);
                r = sql_step_done(s, st);
                if (r == 0)
                        *count -= sqlite3_changes(s->db);
                return r;
        }
        r = sql_prepare(s,
                        "DELETE FROM verdicts WHERE gateway_id = ?1 AND id <= (SELECT id FROM verdicts WHERE "
                        "gateway_id = ?1 ORDER BY id DESC LIMIT 1 OFFSET ?2)",
                        &st);
        if (r < 0)
                return r;
        sql_bind_text(st, 1, gateway_id);
        sql_bind_u64(st, 2, keep);
        return sql_step_done(s, st);
}

/* Status and verdict time of a gateway; the status changes only when it differs (status_since kept otherwise). */
/* The gateway's status now. */
static int status_get(struct vf_store *s, const char *gateway_id, enum vf_status *ret)
{
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        char status[16];
        enum vf_status k;
        int r;

        r = sql_prepare(s, "SELECT status FROM gateways WHERE id = ?", &st);
        if (r < 0)
                return r;
        sql_bind_text(st, 1, gateway_id);
        r = sql_step_row(s, st);
        if (r < 0)
                return r;
        if (r == 0)
                return -ENOENT;
        sql_column_text(st, 0, status, sizeof(status));
        k = vf_status_from_name(status);
        *ret = k < 0 ? VF_STATUS_UNKNOWN : k;
        return 0;
}

static int status_update(struct vf_store *s, const char *gateway_id, const struct vf_verdict_record *v,
                         enum vf_status *ret_previous)
{
        _cleanup_stmt_ sqlite3_stmt *upd = NULL;
        enum vf_status previous;
        int r;

        r = status_get(s, gateway_id, &previous);
        if (r < 0)
                return r;
        r = sql_prepare(s,
                        "UPDATE gateways SET status = ?1, last_verdict_at = ?2, status_since = CASE WHEN status = ?1 "
                        "THEN status_since ELSE ?2 END WHERE id = ?3",
                        &upd);
        if (r < 0)
                return r;
        sql_bind_text(upd, 1, vf_status_name(v->verdict));
        sql_bind_u64(upd, 2, v->time);
        sql_bind_text(upd, 3, gateway_id);
        r = sql_step_done(s, upd);
        if (r < 0)
                return r;
        if (ret_previous)
                *ret_previous = previous;
        return 0;
}

/* Records a nonce as used: -EEXIST when it was already. */
static int nonce_record(struct vf_store *s, const struct vf_nonce_use *n)
{
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int r;

        r = sql_prepare(s, "INSERT INTO used_nonces (nonce) VALUES (?)", &st);
        if (r < 0)
                return r;
        sql_bind_blob(st, 1, n->nonce, n->size);
        return sql_step_done(s, st);
}

/* The verdict row, and history beyond keep pruned; count (optional, in and out): the gateway's number of verdicts,
 * -1 when unknown. */
static int verdict_append(struct vf_store *s, const char *gateway_id, const struct vf_verdict_record *v, uint64_t keep,
                          int64_t *count)
{
        int r;

        r = verdict_insert(s, gateway_id, v);
        if (r == 0 && count && *count >= 0)
                (*count)++;
        else if (r == 0 && count && keep > 0)
                r = verdicts_count(s, gateway_id, count); /* once; afterwards it is followed */
        if (r == 0)
                r = verdicts_prune(s, gateway_id, keep, count);
        return r;
}

static int verdict_add_locked(struct vf_store *s, const char *gateway_id, const struct vf_nonce_use *nonce,
                              const struct vf_verdict_record *v, uint64_t keep, enum vf_status *ret_previous,
                              int64_t *count)
{
        int r;

        r = nonce ? nonce_record(s, nonce) : 0;
        if (r == 0)
                r = status_update(s, gateway_id, v, ret_previous);
        if (r == 0)
                r = verdict_append(s, gateway_id, v, keep, count);
        return r;
}

/* The gateway's row at the end of a round, in one statement: state and counters, status and verdict time, if the
 * row is still as expected (-ESTALE otherwise). */
static int round_update(struct vf_store *s, const struct vf_gateway *g, const struct vf_state_expect *expected,
                        const struct vf_verdict_record *v, enum vf_status *ret_previous)
{
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        enum vf_status previous;
        int r;

        r = status_get(s, g->id, &previous);
        if (r < 0)
                return r == -ENOENT ? -ESTALE : r;
        r = sql_prepare(s,
                        "UPDATE gateways SET rounds = rounds + 1, last_round_at = ?1, ima_next_index = ?2, "
                        "boot_log_required = ?3, state = ?4, status = ?5, last_verdict_at = ?1, status_since = CASE "
                        "WHEN status = ?5 THEN status_since ELSE ?1 END, runtime_judged = ?9, evidence_complete = ?10 "
                        "WHERE id = ?6 AND rounds = ?7 AND state IS ?8",
                        &st);
        if (r < 0)
                return r;
        sql_bind_u64(st, 1, v->time);
        sql_bind_u64(st, 2, g->ima_next_index);
        sqlite3_bind_int(st, 3, g->boot_log_required);
        sql_bind_blob(st, 4, g->state, g->state_size);
        sql_bind_text(st, 5, vf_status_name(v->verdict));
        sql_bind_text(st, 6, g->id);
        sql_bind_u64(st, 7, expected->rounds);
        sql_bind_blob(st, 8, expected->state, expected->state_size);
        sql_bind_text(st, 9, g->runtime_judged);
        sqlite3_bind_int(st, 10, g->evidence_complete);
        r = sql_step_done(s, st);
        if (r < 0)
                return r;
        if (sqlite3_changes(s->db) != 1)
                return -ESTALE;
        *ret_previous = previous;
        return 0;
}

int vf_store_round_commit(struct vf_store *s, const struct vf_gateway *g, const struct vf_state_expect *expected,
                          const struct vf_evidence_update *evidence, const struct vf_nonce_use *nonce,
                          const struct vf_verdict_record *v, uint64_t keep, enum vf_status *ret_previous)
{
        enum vf_status previous = VF_STATUS_UNKNOWN;
        int64_t verdicts;
        bool cached;
        int r;

        STORE_LOCKED(s);
        cached = gateway_cache_verdicts(s, g->id, &verdicts);
        r = sql_begin(s);
        if (r < 0)
                return r;
        r = round_update(s, g, expected, v, &previous);
        if (r == 0 && evidence && evidence->new_epoch)
                r = evidence_clear_locked(s, g->id);
        if (r == 0 && evidence)
                r = evidence_add_locked(s, g->id, evidence->entries, evidence->n);
        if (r == 0 && nonce)
                r = nonce_record(s, nonce);
        if (r == 0)
                r = verdict_append(s, g->id, v, keep, cached ? &verdicts : NULL);
        r = sql_end(s, r);
        if (r < 0)
                return r;
        gateway_cache_round(s, g, v, previous, verdicts);
        if (ret_previous)
                *ret_previous = previous;
        return 0;
}

static int state_replace_locked(struct vf_store *s, const char *gateway_id, const struct vf_state_expect *expected,
                                const uint8_t *state, size_t state_size)
{
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int r;

        r = sql_prepare(s, "UPDATE gateways SET state = ? WHERE id = ? AND rounds = ? AND state IS ?", &st);
        if (r < 0)
                return r;
        sql_bind_blob(st, 1, state, state_size);
        sql_bind_text(st, 2, gateway_id);
        sql_bind_u64(st, 3, expected->rounds);
        sql_bind_blob(st, 4, expected->state, expected->state_size);
        r = sql_step_done(s, st);
        if (r < 0)
                return r;
        return sqlite3_changes(s->db) == 1 ? 0 : -ESTALE;
}

int vf_store_state_replace(struct vf_store *s, const char *gateway_id, const struct vf_state_expect *expected,
                           const uint8_t *state, size_t state_size)
{
        STORE_LOCKED(s);
        gateway_cache_drop(s, gateway_id);
        return state_replace_locked(s, gateway_id, expected, state, state_size);
}

int vf_store_verdict_add(struct vf_store *s, const char *gateway_id, const struct vf_nonce_use *nonce,
                         const struct vf_verdict_record *v, uint64_t keep, enum vf_status *ret_previous)
{
        int r;

        STORE_LOCKED(s);
        gateway_cache_drop(s, gateway_id);
        r = sql_begin(s);
        if (r < 0)
                return r;
        return sql_end(s, verdict_add_locked(s, gateway_id, nonce, v, keep, ret_previous, NULL));
}

int vf_store_verdict_add_state(struct vf_store *s, const char *gateway_id, const struct vf_state_expect *expected,
                               const uint8_t *state, size_t state_size, const struct vf_verdict_record *v,
                               uint64_t keep, enum vf_status *ret_previous)
{
        int r;

        STORE_LOCKED(s);
        gateway_cache_drop(s, gateway_id);
        r = sql_begin(s);
        if (r < 0)
                return r;
        r = state_replace_locked(s, gateway_id, expected, state, state_size);
        if (r == 0)
                r = verdict_add_locked(s, gateway_id, NULL, v, keep, ret_previous, NULL);
        return sql_end(s, r);
}

void vf_stale_gateways_free(struct vf_stale_gateway *list, size_t n)
{
        for (size_t i = 0; i < n; i++)
                free(list[i].state);
        free(list);
}

static int stale_collect(struct vf_store *s, uint64_t before, struct vf_stale_gateway **ret, size_t *ret_n)
{
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        struct vf_stale_gateway *list = NULL;
        size_t n = 0;
        int r;

        r = sql_prepare(s,
                        "SELECT id, status, last_verdict_at, state FROM gateways WHERE status != 'unknown' AND "
                        "max(last_verdict_at, enrolled_at) < ?",
                        &st);
        if (r < 0)
                return r;
        sql_bind_u64(st, 1, before);
        while ((r = sql_step_row(s, st)) > 0) {
                struct vf_stale_gateway *p = realloc(list, (n + 1) * sizeof(*list)), *g;
                char status[16];
                int size;

                if (!p) {
                        r = -ENOMEM;
                        break;
                }
                list = p;
                g = &list[n++];
                *g = (struct vf_stale_gateway){};
                sql_column_text(st, 0, g->id, sizeof(g->id));
                sql_column_text(st, 1, status, sizeof(status));
                g->status = vf_status_from_name(status);
                g->last_verdict_at = sql_column_u64(st, 2);
                size = sqlite3_column_bytes(st, 3);
                if (size > 0) {
                        g->state = malloc((size_t)size);
                        if (!g->state) {
                                r = -ENOMEM;
                                break;
                        }
                        memcpy(g->state, sqlite3_column_blob(st, 3), (size_t)size);
                        g->state_size = (size_t)size;
                }
        }
        if (r < 0) {
                vf_stale_gateways_free(list, n);
                return r;
        }
        *ret = list;
        *ret_n = n;
        return 0;
}

int vf_store_stale_gateways(struct vf_store *s, uint64_t before, struct vf_stale_gateway **ret, size_t *ret_n)
{
        STORE_LOCKED(s);
        return stale_collect(s, before, ret, ret_n);
}

static int last_verdict_check(struct vf_store *s, const char *gateway_id, uint64_t expected)
{
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int r;

        r = sql_prepare(s, "SELECT last_verdict_at FROM gateways WHERE id = ?", &st);
        if (r < 0)
                return r;
        sql_bind_text(st, 1, gateway_id);
        r = sql_step_row(s, st);
        if (r < 0)
                return r;
        if (r == 0)
                return -ENOENT;
        return sql_column_u64(st, 0) == expected ? 0 : -ESTALE;
}

int vf_store_verdict_add_if(struct vf_store *s, const char *gateway_id, uint64_t expected_last_verdict_at,
                            const struct vf_verdict_record *v, uint64_t keep, enum vf_status *ret_previous)
{
        int r;

        STORE_LOCKED(s);
        gateway_cache_drop(s, gateway_id);
        r = sql_begin(s);
        if (r < 0)
                return r;
        r = last_verdict_check(s, gateway_id, expected_last_verdict_at);
        if (r == 0)
                r = verdict_add_locked(s, gateway_id, NULL, v, keep, ret_previous, NULL);
        return sql_end(s, r);
}
