/* SPDX-License-Identifier: MIT */
/* The store: gateways, pending enrollments and nonces. */

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>

#include "store-internal.h"
#include "util.h"

/* ---- gateways ------------------------------------------------------------------------------------------------ */

void vf_gateway_done(struct vf_gateway *g)
{
        free(g->state);
        g->state = NULL;
        g->state_size = 0;
}

#define GATEWAY_COLUMNS                                                                                                \
        "id, grp, ek_public, ak_public, event_key_public, ek_name, ak_name, cert_fingerprint, cert_serial, "           \
        "cert_not_after, tpm_manufacturer, status, status_since, enrolled_at, last_round_at, last_verdict_at, "        \
        "rounds, ima_next_index, boot_log_required, state, runtime_judged, evidence_complete"

static int gateway_from_row(sqlite3_stmt *st, struct vf_gateway *ret)
{
        struct vf_gateway g = {};
        char status[16];
        int n, r = 0;

        sql_column_text(st, 0, g.id, sizeof(g.id));
        sql_column_text(st, 1, g.group, sizeof(g.group));
        r = sql_column_blob(st, 2, g.ek_public, sizeof(g.ek_public), &g.ek_public_size);
        if (r == 0)
                r = sql_column_blob(st, 3, g.ak_public, sizeof(g.ak_public), &g.ak_public_size);
        if (r == 0)
                r = sql_column_blob(st, 4, g.event_key_public, sizeof(g.event_key_public), &g.event_key_public_size);
        if (r < 0)
                return r;
        sql_column_text(st, 5, g.ek_name, sizeof(g.ek_name));
        sql_column_text(st, 6, g.ak_name, sizeof(g.ak_name));
        sql_column_text(st, 7, g.cert_fingerprint, sizeof(g.cert_fingerprint));
        sql_column_text(st, 8, g.cert_serial, sizeof(g.cert_serial));
        g.cert_not_after = sql_column_u64(st, 9);
        sql_column_text(st, 10, g.tpm_manufacturer, sizeof(g.tpm_manufacturer));
        sql_column_text(st, 11, status, sizeof(status));
        g.status = vf_status_from_name(status);
        if (g.status < 0)
                g.status = VF_STATUS_UNKNOWN;
        g.status_since = sql_column_u64(st, 12);
        g.enrolled_at = sql_column_u64(st, 13);
        g.last_round_at = sql_column_u64(st, 14);
        g.last_verdict_at = sql_column_u64(st, 15);
        g.rounds = sql_column_u64(st, 16);
        g.ima_next_index = sql_column_u64(st, 17);
        g.boot_log_required = sqlite3_column_int(st, 18) != 0;
        n = sqlite3_column_bytes(st, 19);
        if (n > 0) {
                g.state = malloc((size_t)n);
                if (!g.state)
                        return -ENOMEM;
                memcpy(g.state, sqlite3_column_blob(st, 19), (size_t)n);
                g.state_size = (size_t)n;
        }
        sql_column_text(st, 20, g.runtime_judged, sizeof(g.runtime_judged));
        g.evidence_complete = sqlite3_column_int(st, 21) != 0;
        *ret = g;
        return 0;
}

static int gateway_get_locked(struct vf_store *s, const char *id, struct vf_gateway *ret)
{
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int r;

        r = sql_prepare(s, "SELECT " GATEWAY_COLUMNS " FROM gateways WHERE id = ?", &st);
        if (r < 0)
                return r;
        sql_bind_text(st, 1, id);
        r = sql_step_row(s, st);
        if (r < 0)
                return r;
        if (r == 0)
                return -ENOENT;
        return gateway_from_row(st, ret);
}

/* ---- gateway rows in memory (store-internal.h) ---------------------------------------------------------------- */

struct gateway_cached {
        struct gateway_cached *next;
        struct vf_gateway g; /* g.state is owned */
        int64_t verdicts;    /* rows in verdicts, -1: not counted yet (store-rounds.c keeps it exact) */
};

static struct gateway_cached **cache_slot(struct vf_store *s, const char *id)
{
        uint32_t h = 2166136261u; /* FNV-1a */
        struct gateway_cached **p;

        for (const char *c = id; *c; c++)
                h = (h ^ (uint8_t)*c) * 16777619u;
        for (p = &s->gateways[h & (GATEWAY_CACHE_BUCKETS - 1)]; *p; p = &(*p)->next)
                if (strcmp((*p)->g.id, id) == 0)
                        break;
        return p;
}

static void cached_free(struct gateway_cached *c)
{
        vf_gateway_done(&c->g);
        free(c);
}

static void cache_drop_locked(struct vf_store *s, const char *id)
{
        struct gateway_cached **p = cache_slot(s, id), *c = *p;

        if (!c)
                return;
        *p = c->next;
        s->n_gateways_cached--;
        cached_free(c);
}

void gateway_cache_drop(struct vf_store *s, const char *id)
{
        pthread_mutex_lock(&s->cache_lock);
        cache_drop_locked(s, id);
        pthread_mutex_unlock(&s->cache_lock);
}

void gateway_cache_free(struct vf_store *s)
{
        /* the store is being closed: no other thread uses it */
        for (size_t i = 0; i < GATEWAY_CACHE_BUCKETS; i++)
                while (s->gateways[i]) {
                        struct gateway_cached *c = s->gateways[i];

                        s->gateways[i] = c->next;
                        cached_free(c);
                }
        s->n_gateways_cached = 0;
}

static int state_copy(const uint8_t *state, size_t size, uint8_t **ret)
{
        *ret = NULL;
        if (size == 0)
                return 0;
        *ret = malloc(size);
        if (!*ret)
                return -ENOMEM;
        memcpy(*ret, state, size);
        return 0;
}

bool gateway_cache_verdicts(struct vf_store *s, const char *id, int64_t *ret)
{
        struct gateway_cached *c;

        pthread_mutex_lock(&s->cache_lock);
        c = *cache_slot(s, id);
        *ret = c ? c->verdicts : -1;
        pthread_mutex_unlock(&s->cache_lock);
        return c;
}

static void cache_round_locked(struct vf_store *s, const struct vf_gateway *g, const struct vf_verdict_record *v,
                               enum vf_status previous, int64_t verdicts)
{
        struct gateway_cached *c = *cache_slot(s, g->id);
        uint8_t *state;

        /* Only a copy that is still there: one dropped meanwhile (a re-enrollment) must be read again. */
        if (!c)
                return;
        if (state_copy(g->state, g->state_size, &state) < 0) {
                cache_drop_locked(s, g->id);
                return;
        }
        free(c->g.state);
        c->g.state = state;
        c->g.state_size = g->state_size;
        c->g.rounds++;
        c->g.last_round_at = v->time;
        c->g.ima_next_index = g->ima_next_index;
        c->g.boot_log_required = g->boot_log_required;
        memcpy(c->g.runtime_judged, g->runtime_judged, sizeof(c->g.runtime_judged));
        c->g.evidence_complete = g->evidence_complete;
        if (v->verdict != previous)
                c->g.status_since = v->time;
        c->g.status = v->verdict;
        c->g.last_verdict_at = v->time;
        c->verdicts = verdicts;
}

void gateway_cache_round(struct vf_store *s, const struct vf_gateway *g, const struct vf_verdict_record *v,
                         enum vf_status previous, int64_t verdicts)
{
        pthread_mutex_lock(&s->cache_lock);
        cache_round_locked(s, g, v, previous, verdicts);
        pthread_mutex_unlock(&s->cache_lock);
}

static int gateway_copy(const struct vf_gateway *from, struct vf_gateway *ret)
{
        uint8_t *state;

        if (state_copy(from->state, from->state_size, &state) < 0)
                return -ENOMEM;
        *ret = *from;
        ret->state = state;
        return 0;
}

/* A copy of the cached row: 0, -ENOENT when it is not cached (or -ENOMEM). */
static int cache_get(struct vf_store *s, const char *id, struct vf_gateway *ret)
{
        struct gateway_cached *c;
        int r = -ENOENT;

        pthread_mutex_lock(&s->cache_lock);
        c = *cache_slot(s, id);
        if (c)
                r = gateway_copy(&c->g, ret);
        pthread_mutex_unlock(&s->cache_lock);
        return r;
}

/* Keeps a copy of a row read under the store's lock (unless one is there by now, or the cache is full). */
static void cache_put(struct vf_store *s, const struct vf_gateway *g)
{
        struct gateway_cached **p, *c;

        pthread_mutex_lock(&s->cache_lock);
        p = cache_slot(s, g->id);
        if (*p || s->n_gateways_cached >= GATEWAY_CACHE_MAX)
                goto out;
        c = calloc(1, sizeof(*c));
        if (!c || gateway_copy(g, &c->g) < 0) {
                free(c);
                goto out; /* not kept: the next read asks the database again */
        }
        c->verdicts = -1;
        *p = c; /* not there: the end of its bucket's list */
        s->n_gateways_cached++;
out:
        pthread_mutex_unlock(&s->cache_lock);
}

int vf_store_gateway_get(struct vf_store *s, const char *id, struct vf_gateway *ret)
{
        int r;

        r = cache_get(s, id, ret);
        if (r != -ENOENT)
                return r;
        STORE_LOCKED(s);
        r = gateway_get_locked(s, id, ret);
        if (r == 0)
                cache_put(s, ret);
        return r;
}

int vf_store_gateway_by_fingerprint(struct vf_store *s, const char *fingerprint_hex, char ret_id[static 65])
{
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int r;

        STORE_LOCKED(s);
        r = sql_prepare(s, "SELECT id FROM gateways WHERE cert_fingerprint = ?", &st);
        if (r < 0)
                return r;
        sql_bind_text(st, 1, fingerprint_hex);
        r = sql_step_row(s, st);
        if (r < 0)
                return r;
        if (r == 0)
                return -ENOENT;
        sql_column_text(st, 0, ret_id, 65);
        return 0;
}

/* Who else holds this EK: "ek-in-use" when another gateway does. */
static int ek_owner_check(struct vf_store *s, const struct vf_gateway *g, const char **ret_conflict)
{
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int r;

        r = sql_prepare(s, "SELECT id FROM gateways WHERE ek_name = ? AND id != ?", &st);
        if (r < 0)
                return r;
        sql_bind_text(st, 1, g->ek_name);
        sql_bind_text(st, 2, g->id);
        r = sql_step_row(s, st);
        if (r < 0)
                return r;
        if (r > 0) {
                *ret_conflict = "ek-in-use";
                return -EEXIST;
        }
        return 0;
}

static int gateway_insert(struct vf_store *s, const struct vf_gateway *g)
{
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int r;

        r = sql_prepare(
                s,
                "INSERT INTO gateways (id, grp, ek_public, ak_public, event_key_public, ek_name, ak_name, "
                "cert_fingerprint, cert_serial, cert_not_after, tpm_manufacturer, status, status_since, "
                "enrolled_at, boot_log_required, ima_next_index, state, evidence_complete) VALUES (?, ?, ?, ?, ?, ?, "
                "?, ?, ?, ?, ?, 'unknown', ?, ?, ?, ?, ?, 1)",
                &st);
        if (r < 0)
                return r;
        sql_bind_text(st, 1, g->id);
        sql_bind_text(st, 2, g->group);
        sql_bind_blob(st, 3, g->ek_public, g->ek_public_size);
        sql_bind_blob(st, 4, g->ak_public, g->ak_public_size);
        sql_bind_blob(st, 5, g->event_key_public, g->event_key_public_size);
        sql_bind_text(st, 6, g->ek_name);
        sql_bind_text(st, 7, g->ak_name);
        sql_bind_text(st, 8, g->cert_fingerprint);
        sql_bind_text(st, 9, g->cert_serial);
        sql_bind_u64(st, 10, g->cert_not_after);
        sql_bind_text(st, 11, g->tpm_manufacturer);
        sql_bind_u64(st, 12, g->enrolled_at);
        sql_bind_u64(st, 13, g->enrolled_at);
        sqlite3_bind_int(st, 14, g->boot_log_required);
        sql_bind_u64(st, 15, g->ima_next_index);
        sql_bind_blob(st, 16, g->state, g->state_size);
        return sql_step_done(s, st);
}

/* Same TPM enrolling again (lost its TLS key, re-installed): new certificate and event key, state kept. */
static int gateway_reenroll(struct vf_store *s, const struct vf_gateway *g)
{
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int r;

        r = sql_prepare(s,
                        "UPDATE gateways SET event_key_public = ?, cert_fingerprint = ?, cert_serial = ?, "
                        "cert_not_after = ?, tpm_manufacturer = ? WHERE id = ?",
                        &st);
        if (r < 0)
                return r;
        sql_bind_blob(st, 1, g->event_key_public, g->event_key_public_size);
        sql_bind_text(st, 2, g->cert_fingerprint);
        sql_bind_text(st, 3, g->cert_serial);
        sql_bind_u64(st, 4, g->cert_not_after);
        sql_bind_text(st, 5, g->tpm_manufacturer);
        sql_bind_text(st, 6, g->id);
        return sql_step_done(s, st);
}

static int enroll_locked(struct vf_store *s, const struct vf_gateway *g, const char **ret_conflict)
{
        struct vf_gateway old = {};
        int r;

        gateway_cache_drop(s, g->id);
        r = ek_owner_check(s, g, ret_conflict);
        if (r < 0)
                return r;
        r = gateway_get_locked(s, g->id, &old);
        if (r == -ENOENT)
                return gateway_insert(s, g);
        if (r < 0)
                return r;
        vf_gateway_done(&old);
        if (strcmp(old.ek_name, g->ek_name) != 0) {
                *ret_conflict = "ek";
                return -EEXIST;
        }
        if (strcmp(old.ak_name, g->ak_name) != 0) {
                *ret_conflict = "ak";
                return -EEXIST;
        }
        return gateway_reenroll(s, g);
}

int vf_store_gateway_enroll(struct vf_store *s, const struct vf_gateway *g, const char **ret_conflict)
{
        const char *conflict = "certificate";
        int r;

        STORE_LOCKED(s);
        r = sql_begin(s);
        if (r < 0)
                return r;
        r = sql_end(s, enroll_locked(s, g, &conflict));
        if (r == -EEXIST && ret_conflict)
                *ret_conflict = conflict;
        if (r == 0)
                store_changed(s);
        return r;
}

int vf_store_gateway_delete(struct vf_store *s, const char *id)
{
        static const char *const sql[] = {
                "DELETE FROM verdicts WHERE gateway_id = ?1",
                "DELETE FROM events WHERE gateway_id = ?1",
                "DELETE FROM event_state WHERE gateway_id = ?1",
                "DELETE FROM enrollments WHERE gateway_id = ?1",
                "DELETE FROM assignments WHERE target_kind = 'gateway' AND target = ?1",
                "DELETE FROM gateways WHERE id = ?1",
        };
        int r;

        STORE_LOCKED(s);
        gateway_cache_drop(s, id);
        r = sql_begin(s);
        if (r == 0)
                r = evidence_clear_locked(s, id);
        for (size_t i = 0; r == 0 && i < ELEMENTSOF(sql); i++) {
                _cleanup_stmt_ sqlite3_stmt *st = NULL;

                r = sql_prepare(s, sql[i], &st);
                if (r < 0)
                        break;
                sql_bind_text(st, 1, id);
                r = sql_step_done(s, st);
                if (r == 0 && i == ELEMENTSOF(sql) - 1 && sqlite3_changes(s->db) == 0)
                        r = -ENOENT;
        }
        r = sql_end(s, r);
        if (r == 0)
                store_changed(s);
        return r;
}

/* ---- enrollments --------------------------------------------------------------------------------------------- */

void vf_enrollment_done(struct vf_enrollment *e)
{
        free(e->csr_pem);
        e->csr_pem = NULL;
        OPENSSL_cleanse(e->proof, sizeof(e->proof));
}

int vf_store_enrollment_put(struct vf_store *s, const struct vf_enrollment *e)
{
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int r;

        STORE_LOCKED(s);
        r = sql_prepare(
                s,
                "INSERT OR REPLACE INTO enrollments (gateway_id, ek_public, ak_public, event_key_public, ek_name, "
                "ak_name, tpm_manufacturer, nonce, proof, csr, expires) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                &st);
        if (r < 0)
                return r;
        sql_bind_text(st, 1, e->gateway_id);
        sql_bind_blob(st, 2, e->ek_public, e->ek_public_size);
        sql_bind_blob(st, 3, e->ak_public, e->ak_public_size);
        sql_bind_blob(st, 4, e->event_key_public, e->event_key_public_size);
        sql_bind_text(st, 5, e->ek_name);
        sql_bind_text(st, 6, e->ak_name);
        sql_bind_text(st, 7, e->tpm_manufacturer);
        sql_bind_blob(st, 8, e->nonce, sizeof(e->nonce));
        sql_bind_blob(st, 9, e->proof, sizeof(e->proof));
        sql_bind_text(st, 10, e->csr_pem);
        sql_bind_u64(st, 11, e->expires);
        return sql_step_done(s, st);
}

static int enrollment_from_row(sqlite3_stmt *st, struct vf_enrollment *ret)
{
        struct vf_enrollment e = {};
        size_t n;
        int r;

        sql_column_text(st, 0, e.gateway_id, sizeof(e.gateway_id));
        r = sql_column_blob(st, 1, e.ek_public, sizeof(e.ek_public), &e.ek_public_size);
        if (r == 0)
                r = sql_column_blob(st, 2, e.ak_public, sizeof(e.ak_public), &e.ak_public_size);
        if (r == 0)
                r = sql_column_blob(st, 3, e.event_key_public, sizeof(e.event_key_public), &e.event_key_public_size);
        if (r == 0)
                r = sql_column_blob(st, 7, e.nonce, sizeof(e.nonce), &n);
        if (r == 0 && n != sizeof(e.nonce))
                r = -EIO;
        if (r == 0)
                r = sql_column_blob(st, 8, e.proof, sizeof(e.proof), &n);
        if (r == 0 && n != sizeof(e.proof))
                r = -EIO;
        if (r < 0)
                return r;
        sql_column_text(st, 4, e.ek_name, sizeof(e.ek_name));
        sql_column_text(st, 5, e.ak_name, sizeof(e.ak_name));
        sql_column_text(st, 6, e.tpm_manufacturer, sizeof(e.tpm_manufacturer));
        e.csr_pem = strdup(sqlite3_column_text(st, 9) ? (const char *)sqlite3_column_text(st, 9) : "");
        if (!e.csr_pem)
                return -ENOMEM;
        e.expires = sql_column_u64(st, 10);
        *ret = e;
        return 0;
}

static int enrollment_take_locked(struct vf_store *s, const char *gateway_id, struct vf_enrollment *ret)
{
        _cleanup_stmt_ sqlite3_stmt *st = NULL, *del = NULL;
        int r;

        r = sql_prepare(
                s,
                "SELECT gateway_id, ek_public, ak_public, event_key_public, ek_name, ak_name, tpm_manufacturer, "
                "nonce, proof, csr, expires FROM enrollments WHERE gateway_id = ?",
                &st);
        if (r < 0)
                return r;
        sql_bind_text(st, 1, gateway_id);
        r = sql_step_row(s, st);
        if (r < 0)
                return r;
        if (r == 0)
                return -ENOENT;
        r = sql_prepare(s, "DELETE FROM enrollments WHERE gateway_id = ?", &del);
        if (r < 0)
                return r;
        sql_bind_text(del, 1, gateway_id);
        r = sql_step_done(s, del);
        if (r < 0)
                return r;
        return enrollment_from_row(st, ret);
}

int vf_store_enrollment_take(struct vf_store *s, const char *gateway_id, struct vf_enrollment *ret)
{
        int r;

        STORE_LOCKED(s);
        r = sql_begin(s);
        if (r < 0)
                return r;
        return sql_end(s, enrollment_take_locked(s, gateway_id, ret));
}

/* ---- nonces -------------------------------------------------------------------------------------------------- */

int vf_store_nonce_used(struct vf_store *s, const uint8_t *nonce, size_t size, bool *ret)
{
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int r;

        STORE_LOCKED(s);
        r = sql_prepare(s, "SELECT 1 FROM used_nonces WHERE nonce = ?", &st);
        if (r < 0)
                return r;
        sql_bind_blob(st, 1, nonce, size);
        r = sql_step_row(s, st);
        if (r < 0)
                return r;
        *ret = r > 0;
        return 0;
}
