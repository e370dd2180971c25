/* SPDX-License-Identifier: MIT */
#pragma once

/* Shared by the verifier/store*.c files only: the connection, its lock, and thin SQLite helpers that log database
 * errors and map them to negative errnos (SQLITE_CONSTRAINT -> -EEXIST, SQLITE_BUSY -> -EBUSY, else -EIO). */

#include <pthread.h>
#include <stdatomic.h>

#include <sqlite3.h>

#include "store.h"

/* Gateways rows are kept in memory (store-gateways.c): every round reads its gateway's row twice and changes it
 * once. Whatever changes a gateways row must, under the lock, drop its copy (gateway_cache_drop), or, at the end of
 * a round only, update it once committed (gateway_cache_round). The copies have a lock of their own (cache_lock,
 * taken inside the store's lock, never around it): a read that finds its copy does not wait for the database. */
#define GATEWAY_CACHE_BUCKETS 4096u
#define GATEWAY_CACHE_MAX     65536u

struct gateway_cached;
struct vf_verdict_record;

void gateway_cache_drop(struct vf_store *s, const char *id);
/* Whether a copy of the gateway's row is kept; *ret gets its number of verdicts (-1: not known yet). */
bool gateway_cache_verdicts(struct vf_store *s, const char *id, int64_t *ret);
/* After a committed round of g (its new state, counters, verdict; previous: the status it replaced; verdicts: its
 * number of verdicts now, -1 when not known). */
void gateway_cache_round(struct vf_store *s, const struct vf_gateway *g, const struct vf_verdict_record *v,
                         enum vf_status previous, int64_t verdicts);
void gateway_cache_free(struct vf_store *s);

/* store-evidence.c, under the lock and in a transaction: the kept entries of a gateway deleted (with the records no
 * other gateway holds), or entries added. */
int evidence_clear_locked(struct vf_store *s, const char *gateway_id);
int evidence_add_locked(struct vf_store *s, const char *gateway_id, const struct dw_round_stored_entry *entries,
                        size_t n);

/* A prepared statement, kept for the store's lifetime: compiling SQL costs more than running these small queries. */
struct sql_cached {
        const char *sql; /* the string literal it was prepared from: the cache's key is its address */
        sqlite3_stmt *st;
};

struct vf_store {
        sqlite3 *db;
        pthread_mutex_t lock;
        struct sql_cached *stmts;
        size_t n_stmts;
        atomic_uint_fast64_t generation; /* vf_store_generation() */
        /* WAL checkpoints run in their own thread on their own connection, never under lock (store.c) */
        char *path;
        pthread_t checkpointer;
        bool checkpointer_started;
        pthread_mutex_t checkpoint_lock;
        pthread_cond_t checkpoint_cond;
        bool checkpoint_wanted, checkpoint_stop;
        atomic_bool checkpoint_signalled; /* asked, not done yet */
        atomic_int checkpointed;          /* WAL frames copied by the last checkpoint */
        /* copies of gateways rows (store-gateways.c) */
        pthread_mutex_t cache_lock;
        struct gateway_cached *gateways[GATEWAY_CACHE_BUCKETS];
        size_t n_gateways_cached;
};

/* After committing a change vf_store_generation() covers. */
static inline void store_changed(struct vf_store *s)
{
        atomic_fetch_add(&s->generation, 1);
}

/* A statement from sql_prepare goes back to its cache (reset, bindings cleared) at the end of its variable's scope
 * or when the thread releases the store's lock, whichever comes first: a function may declare its statements
 * before or after STORE_LOCKED, no other thread ever sees a statement still in use. */
void sql_release(sqlite3_stmt *st);
void sql_release_all(void);

static inline void sql_releasep(sqlite3_stmt **st)
{
        if (*st)
                sql_release(*st);
}
#define _cleanup_stmt_ _cleanup_(sql_releasep)

static inline void store_lock(struct vf_store *s)
{
        pthread_mutex_lock(&s->lock);
}

static inline void store_unlockp(struct vf_store **s)
{
        if (*s) {
                sql_release_all();
                pthread_mutex_unlock(&(*s)->lock);
        }
}

/* Takes the store's lock until the end of the scope. */
#define STORE_LOCKED(s)                                                                                                \
        _cleanup_(store_unlockp) struct vf_store *_locked_ = (s);                                                      \
        store_lock(_locked_)

int sql_error(struct vf_store *s, int rc, const char *what);
/* The prepared statement of sql (prepared on first use, then cached by its text for the store's lifetime: values
 * go in bindings, never in the text), for one use under the store's lock: hold it in a _cleanup_stmt_ variable,
 * which resets it. One statement cannot be used twice at once (-EBUSY). */
int sql_prepare(struct vf_store *s, const char *sql, sqlite3_stmt **ret);
int sql_exec(struct vf_store *s, const char *sql);
/* Runs a statement that returns no rows. */
int sql_step_done(struct vf_store *s, sqlite3_stmt *st);
/* 1 for a row, 0 at the end. */
int sql_step_row(struct vf_store *s, sqlite3_stmt *st);
/* NULL binds NULL. */
void sql_bind_text(sqlite3_stmt *st, int i, const char *s);
void sql_bind_blob(sqlite3_stmt *st, int i, const void *data, size_t size);
void sql_bind_u64(sqlite3_stmt *st, int i, uint64_t v);
uint64_t sql_column_u64(sqlite3_stmt *st, int i);
/* A text column into a buffer ("" for NULL), truncated to size. */
void sql_column_text(sqlite3_stmt *st, int i, char *buf, size_t size);
/* A blob column into a fixed buffer; -EIO when it does not fit. */
int sql_column_blob(sqlite3_stmt *st, int i, uint8_t *buf, size_t size, size_t *ret_size);
/* A text column as a JSON string, or null. */
json_t *sql_column_json(sqlite3_stmt *st, int i);
/* BEGIN IMMEDIATE. */
int sql_begin(struct vf_store *s);
/* Commits when r is 0, rolls back otherwise; returns r or the commit's error. */
int sql_end(struct vf_store *s, int r);
/* An RFC 3339 time, or null for 0. */
json_t *json_time(uint64_t usec);
