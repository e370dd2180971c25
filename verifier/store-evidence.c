/* SPDX-License-Identifier: MIT */
/* The store: the IMA entries each gateway consumed in its current boot epoch (store.h, "kept IMA entries").
 *
 *   ima_records (hash PRIMARY KEY, digest_alg, record): each distinct entry once; hash = SHA-256(bank byte || record)
 *   gateway_entries (gateway_id, idx, hash), keyed by (gateway_id, idx), indexed by hash: which gateway holds which
 *
 * A record is referenced by as many gateways as ran the same file: it is deleted when the last one lets it go (at
 * its reboot or removal), found through the hash index, so no scan of the fleet's entries is ever needed. */

#include <errno.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/sha.h>

#include "store-internal.h"

void vf_evidence_done(struct vf_evidence *e)
{
        free(e->entries);
        free(e->data);
        *e = (struct vf_evidence){};
}

int evidence_clear_locked(struct vf_store *s, const char *gateway_id)
{
        _cleanup_stmt_ sqlite3_stmt *records = NULL, *entries = NULL;
        int r;

        r = sql_prepare(s,
                        "DELETE FROM ima_records WHERE hash IN (SELECT hash FROM gateway_entries WHERE gateway_id = "
                        "?1) AND NOT EXISTS (SELECT 1 FROM gateway_entries e WHERE e.hash = ima_records.hash AND "
                        "e.gateway_id != ?1)",
                        &records);
        if (r < 0)
                return r;
        sql_bind_text(records, 1, gateway_id);
        r = sql_step_done(s, records);
        if (r < 0)
                return r;
        r = sql_prepare(s, "DELETE FROM gateway_entries WHERE gateway_id = ?", &entries);
        if (r < 0)
                return r;
        sql_bind_text(entries, 1, gateway_id);
        return sql_step_done(s, entries);
}

static int record_hash(EVP_MD_CTX *c, const struct dw_round_stored_entry *x, uint8_t out[static SHA256_DIGEST_LENGTH])
{
        uint8_t alg = (uint8_t)x->digest_alg;

        if (EVP_DigestInit_ex(c, EVP_sha256(), NULL) != 1 || EVP_DigestUpdate(c, &alg, 1) != 1 ||
            EVP_DigestUpdate(c, x->record, x->record_size) != 1 || EVP_DigestFinal_ex(c, out, NULL) != 1)
                return -EIO;
        return 0;
}

static void md_ctx_freep(EVP_MD_CTX **c)
{
        EVP_MD_CTX_free(*c);
}

int evidence_add_locked(struct vf_store *s, const char *gateway_id, const struct dw_round_stored_entry *entries,
                        size_t n)
{
        _cleanup_(md_ctx_freep) EVP_MD_CTX *md = n > 0 ? EVP_MD_CTX_new() : NULL;

        if (n > 0 && !md)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                _cleanup_stmt_ sqlite3_stmt *rec = NULL, *ent = NULL;
                uint8_t hash[SHA256_DIGEST_LENGTH];
                int r;

                r = record_hash(md, &entries[i], hash);
                if (r < 0)
                        return r;
                r = sql_prepare(s, "INSERT OR IGNORE INTO ima_records (hash, digest_alg, record) VALUES (?, ?, ?)",
                                &rec);
                if (r < 0)
                        return r;
                sql_bind_blob(rec, 1, hash, sizeof(hash));
                sqlite3_bind_int(rec, 2, (int)entries[i].digest_alg);
                sql_bind_blob(rec, 3, entries[i].record, entries[i].record_size);
                r = sql_step_done(s, rec);
                if (r < 0)
                        return r;
                r = sql_prepare(s, "INSERT OR REPLACE INTO gateway_entries (gateway_id, idx, hash) VALUES (?, ?, ?)",
                                &ent);
                if (r < 0)
                        return r;
                sql_bind_text(ent, 1, gateway_id);
                sql_bind_u64(ent, 2, entries[i].index);
                sql_bind_blob(ent, 3, hash, sizeof(hash));
                r = sql_step_done(s, ent);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* Appends a row's record to the buffer; offsets are turned into pointers at the end (the buffer moves). */
static int evidence_append(struct vf_evidence *e, size_t *allocated, size_t *data_size, size_t *data_allocated,
                           uint64_t index, int alg, const void *record, size_t size)
{
        if (alg < 0 || alg >= _DW_HASH_ALG_MAX)
                return -EIO;
        if (e->n == *allocated) {
                size_t m = MAX(*allocated * 2, (size_t)64);
                struct dw_round_stored_entry *p = realloc(e->entries, m * sizeof(*p));

                if (!p)
                        return -ENOMEM;
                e->entries = p;
                *allocated = m;
        }
        if (*data_size + size > *data_allocated) {
                size_t m = MAX(*data_allocated * 2, *data_size + size + 4096);
                uint8_t *p = realloc(e->data, m);

                if (!p)
                        return -ENOMEM;
                e->data = p;
                *data_allocated = m;
        }
        if (size > 0)
                memcpy(e->data + *data_size, record, size);
        e->entries[e->n++] = (struct dw_round_stored_entry){
                .index = index,
                .digest_alg = (enum dw_hash_alg)alg,
                .record = (const uint8_t *)(uintptr_t)*data_size, /* an offset until the end */
                .record_size = size,
        };
        *data_size += size;
        return 0;
}

int vf_store_evidence_get(struct vf_store *s, const char *gateway_id, struct vf_evidence *ret)
{
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        struct vf_evidence e = {};
        size_t allocated = 0, data_size = 0, data_allocated = 0;
        int r;

        STORE_LOCKED(s);
        r = sql_prepare(s,
                        "SELECT e.idx, r.digest_alg, r.record FROM gateway_entries e JOIN ima_records r ON r.hash = "
                        "e.hash WHERE e.gateway_id = ? ORDER BY e.idx",
                        &st);
        if (r < 0)
                return r;
        sql_bind_text(st, 1, gateway_id);
        while ((r = sql_step_row(s, st)) > 0) {
                r = evidence_append(&e, &allocated, &data_size, &data_allocated, sql_column_u64(st, 0),
                                    sqlite3_column_int(st, 1), sqlite3_column_blob(st, 2),
                                    (size_t)sqlite3_column_bytes(st, 2));
                if (r < 0)
                        break;
        }
        if (r < 0) {
                vf_evidence_done(&e);
                return r;
        }
        for (size_t i = 0; i < e.n; i++)
                e.entries[i].record = e.data + (uintptr_t)e.entries[i].record;
        *ret = e;
        return 0;
}

int vf_store_evidence_counts(struct vf_store *s, uint64_t *ret_records, uint64_t *ret_entries)
{
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int r;

        STORE_LOCKED(s);
        r = sql_prepare(s, "SELECT (SELECT count(*) FROM ima_records), (SELECT count(*) FROM gateway_entries)", &st);
        if (r < 0)
                return r;
        r = sql_step_row(s, st);
        if (r < 0)
                return r;
        *ret_records = sql_column_u64(st, 0);
        *ret_entries = sql_column_u64(st, 1);
        return 0;
}
