/* SPDX-License-Identifier: MIT */
/* The store: policies, their versions and assignments, and the read API's JSON. */

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <openssl/sha.h>

#include "hex.h"

#include "store-internal.h"
#include "util.h"

/* ---- read API ------------------------------------------------------------------------------------------------ */

static json_t *verdict_row_json(sqlite3_stmt *st, int first)
{
        json_t *reasons = NULL, *v;
        const unsigned char *text = sqlite3_column_text(st, first + 3);

        if (text)
                reasons = json_loads((const char *)text, 0, NULL);
        v = json_pack("{s:I, s:o, s:o, s:o, s:I, s:I, s:f}", "id", (json_int_t)sqlite3_column_int64(st, first), "time",
                      json_time(sql_column_u64(st, first + 1)), "verdict", sql_column_json(st, first + 2), "reasons",
                      reasons ? reasons : json_array(), "ima_from", (json_int_t)sqlite3_column_int64(st, first + 4),
                      "ima_to", (json_int_t)sqlite3_column_int64(st, first + 5), "latency_ms",
                      (double)sql_column_u64(st, first + 6) / 1000.0);
        text = sqlite3_column_text(st, first + 7);
        if (v && text) {
                json_t *evidence = json_loads((const char *)text, 0, NULL);

                if (json_is_object(evidence))
                        json_object_set_new(v, "evidence", evidence);
                else
                        json_decref(evidence);
        }
        return v;
}

static json_t *assignment_json(struct vf_store *s, const char *target_kind, const char *target)
{
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        json_t *out = json_object();

        if (sql_prepare(s, "SELECT policy_kind, name, version FROM assignments WHERE target_kind = ? AND target = ?",
                        &st) < 0)
                return out;
        sql_bind_text(st, 1, target_kind);
        sql_bind_text(st, 2, target);
        while (sql_step_row(s, st) > 0) {
                uint64_t version = sql_column_u64(st, 2);

                json_object_set_new(out, (const char *)sqlite3_column_text(st, 0),
                                    json_pack("{s:o, s:o}", "name", sql_column_json(st, 1), "version",
                                              version ? json_integer((json_int_t)version) : json_string("latest")));
        }
        return out;
}

static json_t *last_verdict_json(struct vf_store *s, const char *id)
{
        _cleanup_stmt_ sqlite3_stmt *st = NULL;

        if (sql_prepare(
                    s,
                    "SELECT id, time, verdict, reasons, ima_from, ima_to, latency_usec, evidence FROM verdicts WHERE "
                    "gateway_id = ? ORDER BY id DESC LIMIT 1",
                    &st) < 0)
                return json_null();
        sql_bind_text(st, 1, id);
        if (sql_step_row(s, st) <= 0)
                return json_null();
        return verdict_row_json(st, 0);
}

static json_t *gateway_row_json(struct vf_store *s, sqlite3_stmt *st)
{
        const char *id = (const char *)sqlite3_column_text(st, 0);
        json_t *g;

        g = json_pack(
                "{s:s, s:o, s:o, s:o, s:o, s:o, s:I, s:I, s:b, s:o, s:o}", "id", id, "group", sql_column_json(st, 1),
                "status", sql_column_json(st, 2), "status_since", json_time(sql_column_u64(st, 3)), "enrolled_at",
                json_time(sql_column_u64(st, 4)), "last_round_at", json_time(sql_column_u64(st, 5)), "rounds",
                (json_int_t)sqlite3_column_int64(st, 6), "ima_next_index", (json_int_t)sqlite3_column_int64(st, 7),
                "boot_log_required", sqlite3_column_int(st, 8) != 0, "tpm_manufacturer", sql_column_json(st, 9),
                "client_certificate_not_after", json_time(sql_column_u64(st, 10)));
        if (!g)
                return NULL;
        json_object_set_new(g, "policies", assignment_json(s, "gateway", id));
        json_object_set_new(g, "last_verdict", last_verdict_json(s, id));
        return g;
}

int vf_store_gateways_json(struct vf_store *s, const char *only_id, json_t **ret)
{
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        _cleanup_(json_decrefp) json_t *list = json_array();
        int r;

        STORE_LOCKED(s);
        if (!list)
                return -ENOMEM;
        r = sql_prepare(s,
                        "SELECT id, grp, status, status_since, enrolled_at, last_round_at, rounds, ima_next_index, "
                        "boot_log_required, tpm_manufacturer, cert_not_after FROM gateways WHERE ?1 IS NULL OR id = ?1 "
                        "ORDER BY id",
                        &st);
        if (r < 0)
                return r;
        sql_bind_text(st, 1, only_id);
        while ((r = sql_step_row(s, st)) > 0) {
                json_t *g = gateway_row_json(s, st);

                if (!g || json_array_append_new(list, g) < 0)
                        return -ENOMEM;
        }
        if (r < 0)
                return r;
        *ret = TAKE_PTR(list);
        return 0;
}

int vf_store_verdicts_json(struct vf_store *s, const char *gateway_id, uint64_t limit, uint64_t before_id, json_t **ret)
{
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        _cleanup_(json_decrefp) json_t *list = json_array();
        int r;

        STORE_LOCKED(s);
        if (!list)
                return -ENOMEM;
        r = sql_prepare(
                s,
                "SELECT id, time, verdict, reasons, ima_from, ima_to, latency_usec, evidence FROM verdicts WHERE "
                "gateway_id = ? AND (?2 = 0 OR id < ?2) ORDER BY id DESC LIMIT ?3",
                &st);
        if (r < 0)
                return r;
        sql_bind_text(st, 1, gateway_id);
        sql_bind_u64(st, 2, before_id);
        sql_bind_u64(st, 3, limit);
        while ((r = sql_step_row(s, st)) > 0) {
                json_t *v = verdict_row_json(st, 0);

                if (!v || json_array_append_new(list, v) < 0)
                        return -ENOMEM;
        }
        if (r < 0)
                return r;
        *ret = TAKE_PTR(list);
        return 0;
}

int vf_store_status_counts(struct vf_store *s, uint64_t ret_counts[static _VF_STATUS_MAX])
{
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        uint64_t counts[_VF_STATUS_MAX] = {};
        int r;

        STORE_LOCKED(s);
        r = sql_prepare(s, "SELECT status, count(*) FROM gateways GROUP BY status", &st);
        if (r < 0)
                return r;
        while ((r = sql_step_row(s, st)) > 0) {
                enum vf_status k = vf_status_from_name((const char *)sqlite3_column_text(st, 0));

                if (k >= 0)
                        counts[k] = sql_column_u64(st, 1);
        }
        if (r < 0)
                return r;
        memcpy(ret_counts, counts, sizeof(counts));
        return 0;
}

/* ---- policies ------------------------------------------------------------------------------------------------ */

static int policy_next_version(struct vf_store *s, enum vf_policy_kind kind, const char *name, uint64_t *ret)
{
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int r;

        r = sql_prepare(s, "SELECT coalesce(max(version), 0) FROM policies WHERE kind = ? AND name = ?", &st);
        if (r < 0)
                return r;
        sql_bind_text(st, 1, vf_policy_kind_name(kind));
        sql_bind_text(st, 2, name);
        r = sql_step_row(s, st);
        if (r < 0)
                return r;
        *ret = sql_column_u64(st, 0) + 1;
        return 0;
}

static int policy_insert(struct vf_store *s, enum vf_policy_kind kind, const char *name, uint64_t version,
                         const char *body, size_t size)
{
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        uint8_t digest[SHA256_DIGEST_LENGTH];
        char hex[2 * SHA256_DIGEST_LENGTH + 1];
        int r;

        r = sql_prepare(
                s, "INSERT INTO policies (kind, name, version, body, sha256, created) VALUES (?, ?, ?, ?, ?, ?)", &st);
        if (r < 0)
                return r;
        SHA256((const uint8_t *)body, size, digest);
        sql_bind_text(st, 1, vf_policy_kind_name(kind));
        sql_bind_text(st, 2, name);
        sql_bind_u64(st, 3, version);
        sql_bind_blob(st, 4, body, size);
        sql_bind_text(st, 5, dw_hex_encode(digest, sizeof(digest), hex));
        sql_bind_u64(st, 6, vf_now_usec());
        return sql_step_done(s, st);
}

int vf_store_policy_add(struct vf_store *s, enum vf_policy_kind kind, const char *name, const char *body, size_t size,
                        uint64_t *ret_version)
{
        uint64_t version = 0;
        int r;

        STORE_LOCKED(s);
        r = sql_begin(s);
        if (r < 0)
                return r;
        r = policy_next_version(s, kind, name, &version);
        if (r == 0)
                r = policy_insert(s, kind, name, version, body, size);
        r = sql_end(s, r);
        if (r < 0)
                return r;
        store_changed(s);
        *ret_version = version;
        return 0;
}

int vf_store_policy_get(struct vf_store *s, enum vf_policy_kind kind, const char *name, uint64_t version,
                        char **ret_body, size_t *ret_size, uint64_t *ret_version)
{
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        char *body;
        int n, r;

        STORE_LOCKED(s);
        /* Without ret_body only the version is looked up: policies can be large. */
        r = sql_prepare(s,
                        ret_body ? "SELECT body, version FROM policies WHERE kind = ?1 AND name = ?2 AND (?3 = 0 OR "
                                   "version = ?3) ORDER BY version DESC LIMIT 1"
                                 : "SELECT NULL, version FROM policies WHERE kind = ?1 AND name = ?2 AND (?3 = 0 OR "
                                   "version = ?3) ORDER BY version DESC LIMIT 1",
                        &st);
        if (r < 0)
                return r;
        sql_bind_text(st, 1, vf_policy_kind_name(kind));
        sql_bind_text(st, 2, name);
        sql_bind_u64(st, 3, version);
        r = sql_step_row(s, st);
        if (r < 0)
                return r;
        if (r == 0)
                return -ENOENT;
        if (ret_body) {
                n = sqlite3_column_bytes(st, 0);
                body = malloc((size_t)n + 1);
                if (!body)
                        return -ENOMEM;
                if (n > 0)
                        memcpy(body, sqlite3_column_blob(st, 0), (size_t)n);
                body[n] = '\0';
                *ret_body = body;
                *ret_size = (size_t)n;
        }
        if (ret_version)
                *ret_version = sql_column_u64(st, 1);
        return 0;
}

int vf_store_policies_json(struct vf_store *s, json_t **ret)
{
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        _cleanup_(json_decrefp) json_t *out = json_pack("{s:{}, s:{}}", "runtime", "boot");
        int r;

        STORE_LOCKED(s);
        if (!out)
                return -ENOMEM;
        r = sql_prepare(s,
                        "SELECT kind, name, version, created, sha256, length(body) FROM policies ORDER BY kind, name, "
                        "version",
                        &st);
        if (r < 0)
                return r;
        while ((r = sql_step_row(s, st)) > 0) {
                json_t *kind = json_object_get(out, (const char *)sqlite3_column_text(st, 0));
                const char *name = (const char *)sqlite3_column_text(st, 1);
                json_t *p;

                if (!kind)
                        continue;
                p = json_object_get(kind, name);
                if (!p) {
                        p = json_pack("{s:I, s:[]}", "latest", (json_int_t)0, "versions");
                        json_object_set_new(kind, name, p);
                }
                json_object_set_new(p, "latest", json_integer(sqlite3_column_int64(st, 2)));
                json_array_append_new(json_object_get(p, "versions"),
                                      json_pack("{s:I, s:o, s:o, s:I}", "version",
                                                (json_int_t)sqlite3_column_int64(st, 2), "created",
                                                json_time(sql_column_u64(st, 3)), "sha256", sql_column_json(st, 4),
                                                "size", (json_int_t)sqlite3_column_int64(st, 5)));
        }
        if (r < 0)
                return r;
        *ret = TAKE_PTR(out);
        return 0;
}

int vf_store_assign(struct vf_store *s, bool group, const char *target, enum vf_policy_kind kind, const char *name,
                    uint64_t version)
{
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int r;

        STORE_LOCKED(s);
        if (name)
                r = sql_prepare(s,
                                "INSERT OR REPLACE INTO assignments (target_kind, target, policy_kind, name, version) "
                                "VALUES (?1, ?2, ?3, ?4, ?5)",
                                &st);
        else
                r = sql_prepare(
                        s, "DELETE FROM assignments WHERE target_kind = ?1 AND target = ?2 AND policy_kind = ?3", &st);
        if (r < 0)
                return r;
        sql_bind_text(st, 1, group ? "group" : "gateway");
        sql_bind_text(st, 2, target);
        sql_bind_text(st, 3, vf_policy_kind_name(kind));
        if (name) {
                sql_bind_text(st, 4, name);
                sql_bind_u64(st, 5, version);
        }
        r = sql_step_done(s, st);
        if (r == 0)
                store_changed(s);
        return r;
}

int vf_store_gateway_set_group(struct vf_store *s, const char *id, const char *group)
{
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int r;

        STORE_LOCKED(s);
        gateway_cache_drop(s, id);
        r = sql_prepare(s, "UPDATE gateways SET grp = ? WHERE id = ?", &st);
        if (r < 0)
                return r;
        sql_bind_text(st, 1, group);
        sql_bind_text(st, 2, id);
        r = sql_step_done(s, st);
        if (r < 0)
                return r;
        store_changed(s);
        return sqlite3_changes(s->db) == 1 ? 0 : -ENOENT;
}

int vf_store_effective_policy(struct vf_store *s, const char *gateway_id, enum vf_policy_kind kind,
                              struct vf_assignment *ret)
{
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        struct vf_assignment a = {};
        int r;

        STORE_LOCKED(s);
        /* The gateway's own assignment sorts first ('gateway' > 'group'). */
        r = sql_prepare(s,
                        "SELECT name, version FROM assignments WHERE policy_kind = ?2 AND ((target_kind = 'gateway' "
                        "AND target = ?1) OR (target_kind = 'group' AND target = (SELECT grp FROM gateways WHERE id = "
                        "?1))) ORDER BY target_kind DESC LIMIT 1",
                        &st);
        if (r < 0)
                return r;
        sql_bind_text(st, 1, gateway_id);
        sql_bind_text(st, 2, vf_policy_kind_name(kind));
        r = sql_step_row(s, st);
        if (r < 0)
                return r;
        if (r == 0)
                return -ENOENT;
        sql_column_text(st, 0, a.name, sizeof(a.name));
        a.version = sql_column_u64(st, 1);
        *ret = a;
        return 0;
}

static int ids_collect(struct vf_store *s, sqlite3_stmt *st, char (**ret)[65], size_t *ret_n)
{
        char(*ids)[65] = NULL;
        size_t n = 0, allocated = 0;
        int r;

        while ((r = sql_step_row(s, st)) > 0) {
                if (n == allocated) {
                        char(*p)[65] = realloc(ids, (allocated = MAX(allocated * 2, 16u)) * sizeof(*ids));

                        if (!p) {
                                r = -ENOMEM;
                                break;
                        }
                        ids = p;
                }
                sql_column_text(st, 0, ids[n++], sizeof(ids[0]));
        }
        if (r < 0) {
                free(ids);
                return r;
        }
        *ret = ids;
        *ret_n = n;
        return 0;
}

int vf_store_gateways_affected(struct vf_store *s, enum vf_policy_kind kind, const char *policy_name, const char *group,
                               char (**ret)[65], size_t *ret_n)
{
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int r;

        STORE_LOCKED(s);
        if (policy_name)
                r = sql_prepare(s,
                                "SELECT g.id FROM gateways g LEFT JOIN assignments own ON own.target_kind = 'gateway' "
                                "AND own.target = g.id AND own.policy_kind = ?1 LEFT JOIN assignments grp ON "
                                "grp.target_kind = 'group' AND grp.target = g.grp AND grp.policy_kind = ?1 WHERE "
                                "CASE WHEN own.name IS NOT NULL THEN own.name = ?2 AND own.version = 0 ELSE "
                                "grp.name = ?2 AND grp.version = 0 END ORDER BY g.id",
                                &st);
        else
                r = sql_prepare(s,
                                "SELECT g.id FROM gateways g WHERE g.grp = ?2 AND NOT EXISTS (SELECT 1 FROM "
                                "assignments a WHERE a.target_kind = 'gateway' AND a.target = g.id AND "
                                "a.policy_kind = ?1) ORDER BY g.id",
                                &st);
        if (r < 0)
                return r;
        sql_bind_text(st, 1, vf_policy_kind_name(kind));
        sql_bind_text(st, 2, policy_name ? policy_name : group);
        return ids_collect(s, st, ret, ret_n);
}

int vf_store_groups_json(struct vf_store *s, json_t **ret)
{
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        _cleanup_(json_decrefp) json_t *groups = json_object();
        int r;

        STORE_LOCKED(s);
        if (!groups)
                return -ENOMEM;
        r = sql_prepare(s,
                        "SELECT name, count(g.id) FROM (SELECT grp AS name FROM gateways UNION SELECT target FROM "
                        "assignments WHERE target_kind = 'group') LEFT JOIN gateways g ON g.grp = name GROUP BY name "
                        "ORDER BY name",
                        &st);
        if (r < 0)
                return r;
        while ((r = sql_step_row(s, st)) > 0) {
                const char *name = (const char *)sqlite3_column_text(st, 0);
                json_t *g = assignment_json(s, "group", name);

                json_object_set_new(g, "gateways", json_integer(sqlite3_column_int64(st, 1)));
                json_object_set_new(groups, name, g);
        }
        if (r < 0)
                return r;
        *ret = json_pack("{s:O}", "groups", groups);
        return *ret ? 0 : -ENOMEM;
}
