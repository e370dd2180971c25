/* SPDX-License-Identifier: MIT */
/* The store of runtime events (schema version 2): the event-chain verification state per gateway (event_state) and
 * the events of the accepted batches (events). An accepted batch's events and the state that accepts it are written
 * in one transaction, so a batch is either wholly recorded with the state past it, or not at all. */

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "store-internal.h"

int vf_store_event_state_get(struct vf_store *s, const char *gateway_id, uint8_t **ret, size_t *ret_size)
{
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        const void *blob;
        uint8_t *copy;
        size_t size;
        int r;

        STORE_LOCKED(s);
        r = sql_prepare(s, "SELECT state FROM event_state WHERE gateway_id = ?", &st);
        if (r < 0)
                return r;
        sql_bind_text(st, 1, gateway_id);
        r = sql_step_row(s, st);
        if (r < 0)
                return r;
        if (r == 0)
                return -ENOENT;
        blob = sqlite3_column_blob(st, 0);
        size = (size_t)sqlite3_column_bytes(st, 0);
        copy = malloc(size + 1);
        if (!copy)
                return -ENOMEM;
        if (size > 0)
                memcpy(copy, blob, size);
        *ret = copy;
        *ret_size = size;
        return 0;
}

/* -ESTALE unless the stored state is exactly expected (NULL: no row). */
static int state_check(struct vf_store *s, const char *gateway_id, const uint8_t *expected, size_t expected_size)
{
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int r;

        r = sql_prepare(s, "SELECT state FROM event_state WHERE gateway_id = ?", &st);
        if (r < 0)
                return r;
        sql_bind_text(st, 1, gateway_id);
        r = sql_step_row(s, st);
        if (r < 0)
                return r;
        if (r == 0)
                return expected ? -ESTALE : 0;
        if (!expected || (size_t)sqlite3_column_bytes(st, 0) != expected_size ||
            (expected_size > 0 && memcmp(sqlite3_column_blob(st, 0), expected, expected_size) != 0))
                return -ESTALE;
        return 0;
}

static int state_put(struct vf_store *s, const char *gateway_id, const uint8_t *state, size_t state_size, uint64_t now)
{
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int r;

        r = sql_prepare(s,
                        "INSERT INTO event_state (gateway_id, state, updated) VALUES (?, ?, ?) "
                        "ON CONFLICT (gateway_id) DO UPDATE SET state = excluded.state, updated = excluded.updated",
                        &st);
        if (r < 0)
                return r;
        sql_bind_text(st, 1, gateway_id);
        sql_bind_blob(st, 2, state, state_size);
        sql_bind_u64(st, 3, now);
        return sql_step_done(s, st);
}

static int events_insert(struct vf_store *s, const char *gateway_id, const struct vf_event_record *events, size_t n,
                         uint64_t now)
{
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int r;

        r = sql_prepare(s,
                        "INSERT INTO events (gateway_id, reset_count, seq, time, monotonic, kind, severity, fields, "
                        "received) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        &st);
        if (r < 0)
                return r;
        for (size_t i = 0; i < n; i++) {
                sqlite3_reset(st);
                sql_bind_text(st, 1, gateway_id);
                sql_bind_u64(st, 2, events[i].reset_count);
                sql_bind_u64(st, 3, events[i].seq);
                sql_bind_u64(st, 4, events[i].time);
                sql_bind_u64(st, 5, events[i].monotonic);
                sql_bind_text(st, 6, events[i].kind);
                sql_bind_text(st, 7, events[i].severity);
                sql_bind_text(st, 8, events[i].fields ? events[i].fields : "{}");
                sql_bind_u64(st, 9, now);
                r = sql_step_done(s, st);
                if (r < 0)
                        return r;
        }
        return 0;
}

int vf_store_events_commit(struct vf_store *s, const char *gateway_id, const uint8_t *expected, size_t expected_size,
                           const uint8_t *state, size_t state_size, const struct vf_event_record *events, size_t n,
                           uint64_t now)
{
        int r;

        STORE_LOCKED(s);
        r = sql_begin(s);
        if (r < 0)
                return r;
        r = state_check(s, gateway_id, expected, expected_size);
        if (r == 0)
                r = events_insert(s, gateway_id, events, n, now);
        if (r == 0)
                r = state_put(s, gateway_id, state, state_size, now);
        return sql_end(s, r);
}

static json_t *event_row_json(sqlite3_stmt *st)
{
        const char *fields_text = (const char *)sqlite3_column_text(st, 8);
        json_t *fields = fields_text ? json_loads(fields_text, 0, NULL) : NULL;
        char gateway[65];

        sql_column_text(st, 1, gateway, sizeof(gateway));
        return json_pack("{s:I, s:s, s:I, s:I, s:o, s:I, s:I, s:o, s:o, s:o, s:o}", "id",
                         (json_int_t)sql_column_u64(st, 0), "gateway", gateway, "reset_count",
                         (json_int_t)sql_column_u64(st, 2), "seq", (json_int_t)sql_column_u64(st, 3), "time",
                         json_time(sql_column_u64(st, 4)), "realtime_usec", (json_int_t)sql_column_u64(st, 4),
                         "monotonic_usec", (json_int_t)sql_column_u64(st, 5), "kind", sql_column_json(st, 6),
                         "severity", sql_column_json(st, 7), "fields", fields ? fields : json_object(), "received",
                         json_time(sql_column_u64(st, 9)));
}

int vf_store_events_json(struct vf_store *s, const struct vf_event_query *q, json_t **ret)
{
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        _cleanup_(json_decrefp) json_t *list = json_array();
        int r;

        if (!list)
                return -ENOMEM;
        STORE_LOCKED(s);
        r = sql_prepare(s,
                        "SELECT id, gateway_id, reset_count, seq, time, monotonic, kind, severity, fields, received "
                        "FROM events WHERE (?1 IS NULL OR gateway_id = ?1) AND (?2 IS NULL OR kind = ?2) "
                        "AND time >= ?3 AND (?4 = 0 OR time <= ?4) ORDER BY time DESC, id DESC LIMIT ?5",
                        &st);
        if (r < 0)
                return r;
        sql_bind_text(st, 1, q->gateway_id);
        sql_bind_text(st, 2, q->kind);
        sql_bind_u64(st, 3, q->since);
        sql_bind_u64(st, 4, q->until);
        sql_bind_u64(st, 5, q->limit);
        while ((r = sql_step_row(s, st)) > 0) {
                json_t *e = event_row_json(st);

                if (!e || json_array_append_new(list, e) < 0)
                        return -ENOMEM;
        }
        if (r < 0)
                return r;
        *ret = TAKE_PTR(list);
        return 0;
}
