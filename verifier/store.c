/* SPDX-License-Identifier: MIT */
/* The store: opening the database, its schema and migrations, and the SQLite helpers of store-internal.h. The
 * tables are used by store-gateways.c (gateways, enrollments, nonces), store-rounds.c (rounds, verdicts) and
 * store-policies.c (policies, assignments, the read API). */

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "store-internal.h"
#include "util.h"

/* Migrations: migrations[i] takes the schema from version i to i + 1. Never edit a released one; append. */
static const char *const migrations[] = {
        /* 0 -> 1: the initial schema. */
        "CREATE TABLE gateways ("
        "  id TEXT PRIMARY KEY,"
        "  grp TEXT NOT NULL,"
        "  ek_public BLOB NOT NULL,"
        "  ak_public BLOB NOT NULL,"
        "  event_key_public BLOB NOT NULL,"
        "  ek_name TEXT NOT NULL UNIQUE,"
        "  ak_name TEXT NOT NULL,"
        "  cert_fingerprint TEXT NOT NULL UNIQUE,"
        "  cert_serial TEXT NOT NULL,"
        "  cert_not_after INTEGER NOT NULL,"
        "  tpm_manufacturer TEXT NOT NULL DEFAULT '',"
        "  status TEXT NOT NULL,"
        "  status_since INTEGER NOT NULL,"
        "  enrolled_at INTEGER NOT NULL,"
        "  last_round_at INTEGER NOT NULL DEFAULT 0,"
        "  last_verdict_at INTEGER NOT NULL DEFAULT 0,"
        "  rounds INTEGER NOT NULL DEFAULT 0,"
        "  ima_next_index INTEGER NOT NULL DEFAULT 0,"
        "  boot_log_required INTEGER NOT NULL DEFAULT 1,"
        "  state BLOB"
        ");"
        "CREATE TABLE enrollments ("
        "  gateway_id TEXT PRIMARY KEY,"
        "  ek_public BLOB NOT NULL,"
        "  ak_public BLOB NOT NULL,"
        "  event_key_public BLOB NOT NULL,"
        "  ek_name TEXT NOT NULL,"
        "  ak_name TEXT NOT NULL,"
        "  tpm_manufacturer TEXT NOT NULL,"
        "  nonce BLOB NOT NULL,"
        "  proof BLOB NOT NULL,"
        "  csr TEXT NOT NULL,"
        "  expires INTEGER NOT NULL"
        ");"
        "CREATE TABLE nonces ("
        "  nonce BLOB PRIMARY KEY,"
        "  gateway_id TEXT NOT NULL,"
        "  expires INTEGER NOT NULL,"
        "  used INTEGER NOT NULL DEFAULT 0"
        ");"
        "CREATE INDEX nonces_expires ON nonces(expires);"
        "CREATE TABLE verdicts ("
        "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
        "  gateway_id TEXT NOT NULL,"
        "  time INTEGER NOT NULL,"
        "  verdict TEXT NOT NULL,"
        "  reasons TEXT NOT NULL,"
        "  ima_from INTEGER NOT NULL DEFAULT 0,"
        "  ima_to INTEGER NOT NULL DEFAULT 0,"
        "  nonce TEXT,"
        "  token TEXT,"
        "  latency_usec INTEGER NOT NULL DEFAULT 0"
        ");"
        "CREATE INDEX verdicts_gateway ON verdicts(gateway_id, id);"
        "CREATE TABLE policies ("
        "  kind TEXT NOT NULL,"
        "  name TEXT NOT NULL,"
        "  version INTEGER NOT NULL,"
        "  body BLOB NOT NULL,"
        "  sha256 TEXT NOT NULL,"
        "  created INTEGER NOT NULL,"
        "  PRIMARY KEY (kind, name, version)"
        ");"
        "CREATE TABLE assignments ("
        "  target_kind TEXT NOT NULL,"
        "  target TEXT NOT NULL,"
        "  policy_kind TEXT NOT NULL,"
        "  name TEXT NOT NULL,"
        "  version INTEGER NOT NULL,"
        "  PRIMARY KEY (target_kind, target, policy_kind)"
        ");",
        /* 1 -> 2: runtime events (store-events.c): the event-chain verification state per gateway, the events. */
        "CREATE TABLE event_state ("
        "  gateway_id TEXT PRIMARY KEY,"
        "  state BLOB NOT NULL,"
        "  updated INTEGER NOT NULL"
        ");"
        "CREATE TABLE events ("
        "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
        "  gateway_id TEXT NOT NULL,"
        "  reset_count INTEGER NOT NULL,"
        "  seq INTEGER NOT NULL,"
        "  time INTEGER NOT NULL,"
        "  monotonic INTEGER NOT NULL,"
        "  kind TEXT NOT NULL,"
        "  severity TEXT NOT NULL,"
        "  fields TEXT NOT NULL,"
        "  received INTEGER NOT NULL"
        ");"
        "CREATE INDEX events_gateway_time ON events(gateway_id, time);"
        "CREATE INDEX events_time ON events(time);",
        /* 2 -> 3: the unused nonces of a gateway (capped at VF_NONCES_OUTSTANDING at every issue) without scanning
         * every nonce of the fleet, which the table keeps for a day: a partial index, at most 16 entries a gateway. */
        "CREATE INDEX nonces_unused ON nonces(gateway_id, expires) WHERE used = 0;",
        /* 3 -> 4: events are kept event_retention after their arrival (store-cleanup.c): found through this index
         * without scanning the table. Unused nonces are kept in memory from now on (nonces.h), used ones in
         * used_nonces: a nonce starts with its expiry, big-endian, so they are kept in time order (recording one
         * appends) and the expired ones are a range of keys. */
        "CREATE INDEX events_received ON events(received);"
        "DROP TABLE nonces;"
        "CREATE TABLE used_nonces (nonce BLOB PRIMARY KEY) WITHOUT ROWID;",
        /* 4 -> 5: the IMA entries each gateway consumed in its current boot epoch (store-evidence.c), to judge them
         * again when its runtime policy changes; the policy they were judged against; whether all of the epoch's
         * entries are kept (not for gateways in the middle of an epoch now: from their next reboot on). */
        "ALTER TABLE gateways ADD COLUMN runtime_judged TEXT NOT NULL DEFAULT '';"
        "ALTER TABLE gateways ADD COLUMN evidence_complete INTEGER NOT NULL DEFAULT 0;"
        "UPDATE gateways SET evidence_complete = 1 WHERE ima_next_index = 0;"
        "CREATE TABLE ima_records ("
        "  hash BLOB PRIMARY KEY,"
        "  digest_alg INTEGER NOT NULL,"
        "  record BLOB NOT NULL"
        ");"
        "CREATE TABLE gateway_entries ("
        "  gateway_id TEXT NOT NULL,"
        "  idx INTEGER NOT NULL,"
        "  hash BLOB NOT NULL,"
        "  PRIMARY KEY (gateway_id, idx)"
        ") WITHOUT ROWID;"
        "CREATE INDEX gateway_entries_hash ON gateway_entries(hash);",
        /* 5 -> 6: each verdict keeps what of its round was TPM-backed and the monitor's eBPF coverage (the report's
         * "evidence"), for the history and dashboards; NULL for verdicts not judged from evidence, and older ones. */
        "ALTER TABLE verdicts ADD COLUMN evidence TEXT;",
};

static const char *const status_names[_VF_STATUS_MAX] = {
        [VF_STATUS_UNKNOWN] = "unknown",
        [VF_STATUS_TRUSTED] = "trusted",
        [VF_STATUS_UNTRUSTED] = "untrusted",
};

const char *vf_status_name(enum vf_status s)
{
        return s >= 0 && s < _VF_STATUS_MAX ? status_names[s] : NULL;
}

enum vf_status vf_status_from_name(const char *name)
{
        for (enum vf_status s = 0; s < _VF_STATUS_MAX; s++)
                if (name && strcmp(name, status_names[s]) == 0)
                        return s;
        return _VF_STATUS_INVALID;
}

static const char *const kind_names[_VF_POLICY_KIND_MAX] = {
        [VF_POLICY_RUNTIME] = "runtime",
        [VF_POLICY_BOOT] = "boot",
};

const char *vf_policy_kind_name(enum vf_policy_kind k)
{
        return k >= 0 && k < _VF_POLICY_KIND_MAX ? kind_names[k] : NULL;
}

enum vf_policy_kind vf_policy_kind_from_name(const char *name)
{
        for (enum vf_policy_kind k = 0; k < _VF_POLICY_KIND_MAX; k++)
                if (name && strcmp(name, kind_names[k]) == 0)
                        return k;
        return _VF_POLICY_KIND_INVALID;
}

const char *vf_nonce_result_name(enum vf_nonce_result r)
{
        static const char *const names[] = {
                [VF_NONCE_OK] = "ok",
                [VF_NONCE_UNKNOWN] = "nonce-unknown",
                [VF_NONCE_REUSED] = "nonce-reused",
                [VF_NONCE_EXPIRED] = "nonce-expired",
        };

        return r < ELEMENTSOF(names) ? names[r] : NULL;
}

/* ---- plumbing ------------------------------------------------------------------------------------------------ */

int sql_error(struct vf_store *s, int rc, const char *what)
{
        if ((rc & 0xff) == SQLITE_CONSTRAINT)
                return -EEXIST;
        vf_log(VF_LOG_ERROR, "database", "%s: %s (%d)", what, sqlite3_errmsg(s->db), rc);
        return (rc & 0xff) == SQLITE_BUSY ? -EBUSY : -EIO;
}

/* The statements this thread holds: handed out by sql_prepare, not yet released (store-internal.h). */
#define HELD_MAX 32
static _Thread_local sqlite3_stmt *held[HELD_MAX];
static _Thread_local size_t n_held;

static bool is_held(sqlite3_stmt *st)
{
        for (size_t i = 0; i < n_held; i++)
                if (held[i] == st)
                        return true;
        return false;
}

void sql_release(sqlite3_stmt *st)
{
        for (size_t i = 0; i < n_held; i++)
                if (held[i] == st) {
                        sqlite3_reset(st);
                        sqlite3_clear_bindings(st);
                        held[i] = held[--n_held];
                        return;
                }
        /* Not held (any more): released when the lock was, and maybe another thread's by now. Leave it alone. */
}

void sql_release_all(void)
{
        while (n_held > 0) {
                sqlite3_stmt *st = held[--n_held];

                sqlite3_reset(st);
                sqlite3_clear_bindings(st);
        }
}

static int hand_out(sqlite3_stmt *st, const char *sql, sqlite3_stmt **ret)
{
        if (is_held(st) || sqlite3_stmt_busy(st) || n_held == HELD_MAX) {
                vf_log(VF_LOG_ERROR, "database", "statement used twice at once: %s", sql);
                return -EBUSY;
        }
        held[n_held++] = st;
        *ret = st;
        return 0;
}

int sql_prepare(struct vf_store *s, const char *sql, sqlite3_stmt **ret)
{
        struct sql_cached *p;
        sqlite3_stmt *st;
        int rc;

        /* By address first (a string literal), confirmed by the text (an address may be reused by other text). */
        for (size_t i = 0; i < s->n_stmts; i++)
                if (s->stmts[i].sql == sql && strcmp(sqlite3_sql(s->stmts[i].st), sql) == 0)
                        return hand_out(s->stmts[i].st, sql, ret);
        for (size_t i = 0; i < s->n_stmts; i++)
                if (strcmp(sqlite3_sql(s->stmts[i].st), sql) == 0) {
                        s->stmts[i].sql = sql;
                        return hand_out(s->stmts[i].st, sql, ret);
                }
        p = realloc(s->stmts, (s->n_stmts + 1) * sizeof(*s->stmts));
        if (!p)
                return -ENOMEM;
        s->stmts = p;
        rc = sqlite3_prepare_v3(s->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &st, NULL);
        if (rc != SQLITE_OK)
                return sql_error(s, rc, sql);
        s->stmts[s->n_stmts++] = (struct sql_cached){.sql = sql, .st = st};
        return hand_out(st, sql, ret);
}

int sql_exec(struct vf_store *s, const char *sql)
{
        int rc = sqlite3_exec(s->db, sql, NULL, NULL, NULL);

        if (rc != SQLITE_OK)
                return sql_error(s, rc, sql);
        return 0;
}

/* Runs a statement that returns no rows. */
int sql_step_done(struct vf_store *s, sqlite3_stmt *st)
{
        int rc = sqlite3_step(st);

        if (rc != SQLITE_DONE)
                return sql_error(s, rc, sqlite3_sql(st));
        return 0;
}

/* 1 for a row, 0 at the end. */
int sql_step_row(struct vf_store *s, sqlite3_stmt *st)
{
        int rc = sqlite3_step(st);

        if (rc == SQLITE_ROW)
                return 1;
        if (rc == SQLITE_DONE)
                return 0;
        return sql_error(s, rc, sqlite3_sql(st));
}

void sql_bind_text(sqlite3_stmt *st, int i, const char *s)
{
        if (s)
                sqlite3_bind_text(st, i, s, -1, SQLITE_TRANSIENT);
        else
                sqlite3_bind_null(st, i);
}

void sql_bind_blob(sqlite3_stmt *st, int i, const void *data, size_t size)
{
        if (data)
                sqlite3_bind_blob64(st, i, data ? data : "", size, SQLITE_TRANSIENT);
        else
                sqlite3_bind_null(st, i);
}

void sql_bind_u64(sqlite3_stmt *st, int i, uint64_t v)
{
        sqlite3_bind_int64(st, i, (sqlite3_int64)v);
}

uint64_t sql_column_u64(sqlite3_stmt *st, int i)
{
        sqlite3_int64 v = sqlite3_column_int64(st, i);

        return v < 0 ? 0 : (uint64_t)v;
}

void sql_column_text(sqlite3_stmt *st, int i, char *buf, size_t size)
{
        const unsigned char *t = sqlite3_column_text(st, i);

        snprintf(buf, size, "%s", t ? (const char *)t : "");
}

/* Copies a blob column into a fixed buffer; -EIO when it does not fit. */
int sql_column_blob(sqlite3_stmt *st, int i, uint8_t *buf, size_t size, size_t *ret_size)
{
        const void *p = sqlite3_column_blob(st, i);
        int n = sqlite3_column_bytes(st, i);

        if (n < 0 || (size_t)n > size)
                return -EIO;
        if (n > 0)
                memcpy(buf, p, (size_t)n);
        *ret_size = (size_t)n;
        return 0;
}

json_t *sql_column_json(sqlite3_stmt *st, int i)
{
        const unsigned char *t = sqlite3_column_text(st, i);

        return t ? json_string((const char *)t) : json_null();
}

static int sql_run(struct vf_store *s, const char *sql)
{
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int r;

        r = sql_prepare(s, sql, &st);
        if (r < 0)
                return r;
        return sql_step_done(s, st);
}

int sql_begin(struct vf_store *s)
{
        return sql_run(s, "BEGIN IMMEDIATE");
}

/* Commits when r is 0, rolls back otherwise; returns r or the commit's error. */
int sql_end(struct vf_store *s, int r)
{
        if (r < 0) {
                (void)sql_run(s, "ROLLBACK");
                return r;
        }
        r = sql_run(s, "COMMIT");
        if (r < 0)
                (void)sql_run(s, "ROLLBACK");
        return r;
}

json_t *json_time(uint64_t usec)
{
        char buf[32];

        if (usec == 0)
                return json_null();
        return json_string(vf_format_time(usec, buf, sizeof(buf)));
}

/* ---- open and migrate ---------------------------------------------------------------------------------------- */

static int read_version(struct vf_store *s, int *ret)
{
        _cleanup_stmt_ sqlite3_stmt *exists = NULL, *st = NULL;
        int r;

        r = sql_prepare(s, "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'",
                        &exists);
        if (r < 0)
                return r;
        r = sql_step_row(s, exists);
        if (r < 0)
                return r;
        if (sqlite3_column_int(exists, 0) == 0) {
                *ret = 0;
                return 0;
        }
        r = sql_prepare(s, "SELECT version FROM schema_version", &st);
        if (r < 0)
                return r;
        r = sql_step_row(s, st);
        if (r < 0)
                return r;
        *ret = r == 0 ? 0 : sqlite3_column_int(st, 0);
        return 0;
}

static int migrate_one(struct vf_store *s, int from)
{
        _cleanup_free_ char *set =
                vf_strprintf("DELETE FROM schema_version; INSERT INTO schema_version VALUES (%d)", from + 1);
        int r;

        if (!set)
                return -ENOMEM;
        r = sql_begin(s);
        if (r < 0)
                return r;
        r = sql_exec(s, "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)");
        if (r == 0)
                r = sql_exec(s, migrations[from]);
        if (r == 0)
                r = sql_exec(s, set);
        return sql_end(s, r);
}

static int migrate(struct vf_store *s, char *msg, size_t msg_size)
{
        int version, r;

        r = read_version(s, &version);
        if (r < 0) {
                snprintf(msg, msg_size, "cannot read the schema version: %s", sqlite3_errmsg(s->db));
                return r;
        }
        if (version > (int)ELEMENTSOF(migrations)) {
                snprintf(msg, msg_size, "the database has schema version %d, newer than this verifier's %zu", version,
                         ELEMENTSOF(migrations));
                return -EPROTONOSUPPORT;
        }
        for (int v = version; v < (int)ELEMENTSOF(migrations); v++) {
                r = migrate_one(s, v);
                if (r < 0) {
                        snprintf(msg, msg_size, "migration to schema version %d failed: %s", v + 1,
                                 sqlite3_errmsg(s->db));
                        return r;
                }
                vf_log(VF_LOG_INFO, "database-migrated", "schema version %d -> %d", v, v + 1);
        }
        return 0;
}

static int configure(struct vf_store *s, char *msg, size_t msg_size)
{
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        const unsigned char *mode;
        int r;

        sqlite3_busy_timeout(s->db, 5000);
        r = sql_prepare(s, "PRAGMA journal_mode = WAL", &st);
        if (r == 0)
                r = sql_step_row(s, st);
        mode = r > 0 ? sqlite3_column_text(st, 0) : NULL;
        if (!mode || strcmp((const char *)mode, "wal") != 0) {
                snprintf(msg, msg_size, "cannot switch the database to WAL mode: %s", sqlite3_errmsg(s->db));
                return -EIO;
        }
        r = sql_exec(s, "PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON");
        if (r < 0)
                snprintf(msg, msg_size, "cannot configure the database: %s", sqlite3_errmsg(s->db));
        return r;
}

/* ---- checkpoints ----------------------------------------------------------------------------------------------
 *
 * SQLite's automatic checkpoint runs inside the COMMIT that crosses its threshold, so under the store's lock: the
 * copying of every page changed since the last one (a few microseconds each) and two fsyncs, while every request
 * thread waits (under load, the largest stall of the service: bench/verifier-load). Instead a thread of its own,
 * with its own connection, checkpoints PASSIVE (commits go on meanwhile) every CHECKPOINT_PAGES new frames: the
 * same copying, outside the lock. The WAL is rewound (instead of growing) only by a commit that starts after a
 * complete checkpoint, which a checkpoint running beside the commits rarely is, so when the WAL holds RESTART_PAGES
 * frames the thread catches up outside the lock until few frames came meanwhile, then makes one more pass under the
 * store's lock over those few (little to copy, little to sync), and the next commit starts the WAL over. An idle WAL is
 * checkpointed every CHECKPOINT_IDLE_SEC. Durability is unchanged (synchronous = NORMAL). */
#define CHECKPOINT_PAGES    1000 /* SQLite's default auto-checkpoint threshold */
#define RESTART_PAGES       8192
#define CATCH_UP_PASSES     4
#define CATCH_UP_FRAMES     64
#define CHECKPOINT_IDLE_SEC 5

static int wal_hook(void *userdata, sqlite3 *db, const char *name, int pages)
{
        struct vf_store *s = userdata;
        int done = atomic_load(&s->checkpointed);

        (void)db;
        (void)name;
        if (pages < done) /* the WAL started over */
                atomic_store(&s->checkpointed, done = 0);
        if (pages >= done + CHECKPOINT_PAGES && !atomic_exchange(&s->checkpoint_signalled, true)) {
                pthread_mutex_lock(&s->checkpoint_lock);
                s->checkpoint_wanted = true;
                pthread_cond_signal(&s->checkpoint_cond);
                pthread_mutex_unlock(&s->checkpoint_lock);
        }
        return SQLITE_OK;
}

static int checkpoint(struct vf_store *s, sqlite3 *db)
{
        int frames = 0, done = 0, rc;

        rc = sqlite3_wal_checkpoint_v2(db, NULL, SQLITE_CHECKPOINT_PASSIVE, &frames, &done);
        if (rc == SQLITE_OK && frames >= RESTART_PAGES) {
                /* Catch up outside the lock with what was committed meanwhile, until that is little. */
                for (int i = 0, before; rc == SQLITE_OK && i < CATCH_UP_PASSES; i++) {
                        before = frames;
                        rc = sqlite3_wal_checkpoint_v2(db, NULL, SQLITE_CHECKPOINT_PASSIVE, &frames, &done);
                        if (frames - before < CATCH_UP_FRAMES)
                                break;
                }
                /* No commit can come while we hold the lock: this pass completes the checkpoint. */
                pthread_mutex_lock(&s->lock);
                rc = sqlite3_wal_checkpoint_v2(db, NULL, SQLITE_CHECKPOINT_PASSIVE, &frames, &done);
                pthread_mutex_unlock(&s->lock);
        }
        if (rc == SQLITE_OK)
                atomic_store(&s->checkpointed, done);
        atomic_store(&s->checkpoint_signalled, false);
        return rc;
}

static void *checkpointer_main(void *userdata)
{
        struct vf_store *s = userdata;
        sqlite3 *db = NULL;
        int rc;

        rc = sqlite3_open_v2(s->path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL);
        if (rc != SQLITE_OK) {
                vf_log(VF_LOG_ERROR, "database", "checkpoints: cannot open %s: %s; checkpointing in commits instead",
                       s->path, sqlite3_errstr(rc));
                sqlite3_close(db);
                /* Without this thread nothing would ever checkpoint: SQLite's automatic checkpoint again. */
                pthread_mutex_lock(&s->lock);
                sqlite3_wal_autocheckpoint(s->db, CHECKPOINT_PAGES);
                pthread_mutex_unlock(&s->lock);
                return NULL;
        }
        sqlite3_busy_timeout(db, 5000);
        /* A connection opens the database lazily: until it has read it, it does not know it is in WAL mode, and
         * checkpoints would do nothing. */
        rc = sqlite3_exec(db, "SELECT count(*) FROM sqlite_master", NULL, NULL, NULL);
        if (rc != SQLITE_OK)
                vf_log(VF_LOG_ERROR, "database", "checkpoints: cannot read %s: %s", s->path, sqlite3_errmsg(db));
        pthread_mutex_lock(&s->checkpoint_lock);
        while (!s->checkpoint_stop) {
                struct timespec until;

                if (!s->checkpoint_wanted) {
                        clock_gettime(CLOCK_REALTIME, &until);
                        until.tv_sec += CHECKPOINT_IDLE_SEC;
                        pthread_cond_timedwait(&s->checkpoint_cond, &s->checkpoint_lock, &until);
                        if (s->checkpoint_stop)
                                break;
                }
                s->checkpoint_wanted = false;
                pthread_mutex_unlock(&s->checkpoint_lock);
                rc = checkpoint(s, db);
                if (rc != SQLITE_OK && rc != SQLITE_BUSY)
                        vf_log(VF_LOG_ERROR, "database", "checkpoint: %s (%d)", sqlite3_errmsg(db), rc);
                pthread_mutex_lock(&s->checkpoint_lock);
        }
        pthread_mutex_unlock(&s->checkpoint_lock);
        sqlite3_close(db);
        return NULL;
}

static int checkpointer_start(struct vf_store *s, const char *path, char *msg, size_t msg_size)
{
        s->path = strdup(path);
        if (!s->path)
                return -ENOMEM;
        sqlite3_wal_hook(s->db, wal_hook, s); /* replaces the automatic checkpoint */
        if (pthread_create(&s->checkpointer, NULL, checkpointer_main, s) != 0) {
                sqlite3_wal_autocheckpoint(s->db, CHECKPOINT_PAGES);
                snprintf(msg, msg_size, "cannot start the checkpoint thread");
                return -EAGAIN;
        }
        s->checkpointer_started = true;
        return 0;
}

static void checkpointer_stop(struct vf_store *s)
{
        if (!s->checkpointer_started)
                return;
        sqlite3_wal_hook(s->db, NULL, NULL);
        pthread_mutex_lock(&s->checkpoint_lock);
        s->checkpoint_stop = true;
        pthread_cond_signal(&s->checkpoint_cond);
        pthread_mutex_unlock(&s->checkpoint_lock);
        pthread_join(s->checkpointer, NULL);
        s->checkpointer_started = false;
}

int vf_store_open(const char *path, struct vf_store **ret, char *msg, size_t msg_size)
{
        _cleanup_(vf_store_closep) struct vf_store *s = NULL;
        int rc, r;

        s = calloc(1, sizeof(*s));
        if (!s)
                return -ENOMEM;
        pthread_mutex_init(&s->lock, NULL);
        pthread_mutex_init(&s->cache_lock, NULL);
        pthread_mutex_init(&s->checkpoint_lock, NULL);
        pthread_cond_init(&s->checkpoint_cond, NULL);
        /* Every use of the connection is under s->lock: SQLite's own per-call mutex would only be taken again. */
        rc = sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
        if (rc != SQLITE_OK) {
                snprintf(msg, msg_size, "%s: %s", path, s->db ? sqlite3_errmsg(s->db) : sqlite3_errstr(rc));
                return -EIO;
        }
        r = configure(s, msg, msg_size);
        if (r < 0)
                return r;
        r = migrate(s, msg, msg_size);
        if (r < 0)
                return r;
        r = checkpointer_start(s, path, msg, msg_size);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(s);
        return 0;
}

void vf_store_close(struct vf_store *s)
{
        if (!s)
                return;
        checkpointer_stop(s);
        gateway_cache_free(s);
        for (size_t i = 0; i < s->n_stmts; i++)
                sqlite3_finalize(s->stmts[i].st);
        free(s->stmts);
        sqlite3_close(s->db); /* the last connection: checkpoints the whole WAL and removes it */
        pthread_mutex_destroy(&s->lock);
        pthread_mutex_destroy(&s->cache_lock);
        pthread_mutex_destroy(&s->checkpoint_lock);
        pthread_cond_destroy(&s->checkpoint_cond);
        free(s->path);
        free(s);
}

uint64_t vf_store_generation(struct vf_store *s)
{
        return atomic_load(&s->generation);
}

int vf_store_schema_version(struct vf_store *s, int *ret)
{
        STORE_LOCKED(s);
        return read_version(s, ret);
}
