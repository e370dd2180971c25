/* SPDX-License-Identifier: MIT */
/* verifier/store and verifier/round against a database in a temporary directory: the schema, the end of a round in
 * one transaction (conditional on the state it was judged from, recording its nonce once), sticky failures added
 * by refused event batches, the retention (used nonces by the expiry their key starts with, events by arrival), the
 * removal of a gateway with everything of it, the gateways a policy change affects, the IMA entries kept per gateway
 * and boot epoch (stored with the round, dropped at a reboot and with the gateway, shared records kept once) and the
 * migration that introduced them. */

#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>
#include <sqlite3.h>

#include "nonces.h"
#include "round.h"
#include "store.h"

#define SEC 1000000ull

static char dir[64], path[128];
static struct vf_store *store;

static void setup(void)
{
        char msg[300];

        snprintf(dir, sizeof(dir), "/tmp/dw-store-XXXXXX");
        ck_assert_ptr_nonnull(mkdtemp(dir));
        snprintf(path, sizeof(path), "%s/verifier.db", dir);
        ck_assert_msg(vf_store_open(path, &store, msg, sizeof(msg)) == 0, "%s", msg);
}

static void teardown(void)
{
        char cmd[200];

        vf_store_close(store);
        store = NULL;
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
        ck_assert_int_eq(system(cmd), 0);
}

/* A gateway as enrollment stores it (placeholder public areas: the store does not parse them). */
static void enroll(const char *id, const char *group)
{
        struct vf_gateway g = {};
        const char *conflict = NULL;
        int r;

        snprintf(g.id, sizeof(g.id), "%s", id);
        snprintf(g.group, sizeof(g.group), "%s", group);
        g.ek_public_size = g.ak_public_size = g.event_key_public_size = 4;
        memcpy(g.ek_public, id, 3);
        memcpy(g.ak_public, id, 3);
        memcpy(g.event_key_public, id, 3);
        snprintf(g.ek_name, sizeof(g.ek_name), "ek-%s", id);
        snprintf(g.ak_name, sizeof(g.ak_name), "ak-%s", id);
        snprintf(g.cert_fingerprint, sizeof(g.cert_fingerprint), "fp-%s", id);
        snprintf(g.cert_serial, sizeof(g.cert_serial), "01");
        g.enrolled_at = 1 * SEC;
        g.boot_log_required = true;
        ck_assert_int_eq(vf_round_initial_state(DW_HASH_SHA256, &g.state, &g.state_size), 0);
        r = vf_store_gateway_enroll(store, &g, &conflict);
        ck_assert_msg(r == 0, "enroll %s: %d %s", id, r, conflict ? conflict : "");
        vf_gateway_done(&g);
}

static const struct vf_verdict_record trusted = {.time = 10 * SEC, .verdict = VF_STATUS_TRUSTED, .reasons = "[]"};

START_TEST(test_schema)
{
        int version = 0;

        ck_assert_int_eq(vf_store_schema_version(store, &version), 0);
        ck_assert_int_eq(version, VF_STORE_SCHEMA_VERSION);
        ck_assert_int_eq(version, 6);
}
END_TEST

START_TEST(test_round_commit)
{
        struct vf_gateway g = {}, again = {};
        _cleanup_free_ uint8_t *judged = NULL;
        uint8_t nonce[VF_NONCE_SIZE];
        size_t judged_size;
        enum vf_status previous = _VF_STATUS_INVALID;
        bool used = true;

        enroll("gw1", "default");
        ck_assert_int_eq(vf_store_gateway_get(store, "gw1", &g), 0);
        ck_assert_int_eq(g.status, VF_STATUS_UNKNOWN);
        judged = malloc(g.state_size);
        memcpy(judged, g.state, g.state_size);
        judged_size = g.state_size;
        ck_assert_int_eq(vf_nonce_make(100 * SEC, nonce), 0);
        ck_assert_int_eq(vf_store_nonce_used(store, nonce, sizeof(nonce), &used), 0);
        ck_assert(!used);

        /* The new state is written with the verdict, the nonce recorded, the status and counters updated. */
        {
                uint8_t *next;
                size_t next_size;
                uint64_t round;

                /* any state other than the judged one will do */
                ck_assert_int_eq(
                        vf_round_add_sticky_batch(g.state, g.state_size, "fork", 0, "m", &next, &next_size, &round), 0);
                free(g.state);
                g.state = next;
                g.state_size = next_size;
        }
        g.ima_next_index = 20;
        g.boot_log_required = false;
        ck_assert_int_eq(vf_store_round_commit(
                                 store, &g,
                                 &(struct vf_state_expect){.rounds = 0, .state = judged, .state_size = judged_size},
                                 NULL, &(struct vf_nonce_use){nonce, sizeof(nonce)}, &trusted, 1000, &previous),
                         0);
        ck_assert_int_eq(previous, VF_STATUS_UNKNOWN);
        ck_assert_int_eq(vf_store_nonce_used(store, nonce, sizeof(nonce), &used), 0);
        ck_assert(used);
        ck_assert_int_eq(vf_store_gateway_get(store, "gw1", &again), 0);
        ck_assert_uint_eq(again.rounds, 1);
        ck_assert_uint_eq(again.ima_next_index, 20);
        ck_assert(!again.boot_log_required);
        ck_assert_int_eq(again.status, VF_STATUS_TRUSTED);
        vf_gateway_done(&again);

        /* Judged from a state that is not the stored one any more: nothing is written. */
        ck_assert_int_eq(vf_store_round_commit(
                                 store, &g,
                                 &(struct vf_state_expect){.rounds = 1, .state = judged, .state_size = judged_size},
                                 NULL, NULL, &trusted, 1000, &previous),
                         -ESTALE);
        ck_assert_int_eq(vf_store_round_commit(
                                 store, &g,
                                 &(struct vf_state_expect){.rounds = 0, .state = g.state, .state_size = g.state_size},
                                 NULL, NULL, &trusted, 1000, &previous),
                         -ESTALE);
        /* A nonce is recorded once: a second round with it is refused as a whole. */
        ck_assert_int_eq(vf_store_round_commit(
                                 store, &g,
                                 &(struct vf_state_expect){.rounds = 1, .state = g.state, .state_size = g.state_size},
                                 NULL, &(struct vf_nonce_use){nonce, sizeof(nonce)}, &trusted, 1000, &previous),
                         -EEXIST);
        ck_assert_int_eq(vf_store_gateway_get(store, "gw1", &again), 0);
        ck_assert_uint_eq(again.rounds, 1);
        vf_gateway_done(&again);
        vf_gateway_done(&g);
}
END_TEST

START_TEST(test_sticky_batch)
{
        struct vf_gateway g = {};
        _cleanup_free_ uint8_t *state = NULL, *acked = NULL;
        size_t size, acked_size;
        uint64_t round = 0;
        uint32_t cleared = 0;
        enum vf_status st, previous;
        const struct vf_verdict_record refused = {
                .time = 20 * SEC, .verdict = VF_STATUS_UNTRUSTED, .reasons = "[{\"kind\":\"event_chain_fork\"}]"};

        enroll("gw1", "default");
        ck_assert_int_eq(vf_store_gateway_get(store, "gw1", &g), 0);
        ck_assert_int_eq(
                vf_round_add_sticky_batch(g.state, g.state_size, "fork", 4, "a second chain", &state, &size, &round),
                0);
        ck_assert_uint_eq(round, 1); /* counts as found in the next round */
        ck_assert_int_eq(vf_round_state_status(state, size, 30 * SEC, 300 * SEC, &st), 0);
        ck_assert_int_eq(st, VF_STATUS_UNTRUSTED); /* sticky: untrusted whatever the time */
        ck_assert_int_eq(vf_round_state_status(state, size, 3000 * SEC, 300 * SEC, &st), 0);
        ck_assert_int_eq(st, VF_STATUS_UNTRUSTED);
        /* Written with the verdict if the state did not move meanwhile. */
        ck_assert_int_eq(vf_store_verdict_add_state(
                                 store, "gw1",
                                 &(struct vf_state_expect){.rounds = g.rounds, .state = state, .state_size = size},
                                 state, size, &refused, 1000, &previous),
                         -ESTALE);
        ck_assert_int_eq(
                vf_store_verdict_add_state(
                        store, "gw1",
                        &(struct vf_state_expect){.rounds = g.rounds, .state = g.state, .state_size = g.state_size},
                        state, size, &refused, 1000, &previous),
                0);
        vf_gateway_done(&g);
        ck_assert_int_eq(vf_store_gateway_get(store, "gw1", &g), 0);
        ck_assert_int_eq(g.status, VF_STATUS_UNTRUSTED);
        ck_assert_uint_eq(g.state_size, size);
        ck_assert_mem_eq(g.state, state, size);
        /* An administrator's acknowledgement clears it: the gateway has not attested yet, so it is unknown. */
        ck_assert_int_eq(vf_round_acknowledge(g.state, g.state_size, 1, &acked, &acked_size, &cleared), 0);
        ck_assert_uint_eq(cleared, 1);
        ck_assert_int_eq(vf_round_state_status(acked, acked_size, 30 * SEC, 300 * SEC, &st), 0);
        ck_assert_int_eq(st, VF_STATUS_UNKNOWN);
        vf_gateway_done(&g);
}
END_TEST

START_TEST(test_retention)
{
        uint8_t old_nonce[VF_NONCE_SIZE], new_nonce[VF_NONCE_SIZE];
        struct vf_gateway g = {};
        struct vf_cleanup_counts n = {};
        struct vf_event_record ev = {.reset_count = 1, .kind = "drift_exec", .severity = "warning", .fields = "{}"};
        const uint8_t event_state[] = "state";
        bool used;

        enroll("gw1", "default");
        ck_assert_int_eq(vf_store_gateway_get(store, "gw1", &g), 0);
        ck_assert_int_eq(vf_nonce_make(100 * SEC, old_nonce), 0);
        ck_assert_int_eq(vf_nonce_make(900 * SEC, new_nonce), 0);
        ck_assert_int_eq(vf_store_verdict_add(store, "gw1", &(struct vf_nonce_use){old_nonce, VF_NONCE_SIZE}, &trusted,
                                              1000, NULL),
                         0);
        ck_assert_int_eq(vf_store_verdict_add(store, "gw1", &(struct vf_nonce_use){new_nonce, VF_NONCE_SIZE}, &trusted,
                                              1000, NULL),
                         0);
        ev.seq = 0;
        ck_assert_int_eq(
                vf_store_events_commit(store, "gw1", NULL, 0, event_state, sizeof(event_state), &ev, 1, 50 * SEC), 0);
        ev.seq = 1;
        ck_assert_int_eq(vf_store_events_commit(store, "gw1", event_state, sizeof(event_state), event_state,
                                                sizeof(event_state), &ev, 1, 500 * SEC),
                         0);
        /* Batches of one row: everything is still deleted, in several transactions. */
        ck_assert_int_eq(vf_store_cleanup(store,
                                          &(struct vf_cleanup){.nonces_before = 500 * SEC,
                                                               .events_before = 100 * SEC,
                                                               .enrollments_before = 500 * SEC,
                                                               .batch = 1,
                                                               .max_batches = 10},
                                          &n),
                         0);
        ck_assert_uint_eq(n.nonces, 1);
        ck_assert_uint_eq(n.events, 1);
        ck_assert(!n.more);
        ck_assert_int_eq(vf_store_nonce_used(store, old_nonce, VF_NONCE_SIZE, &used), 0);
        ck_assert(!used);
        ck_assert_int_eq(vf_store_nonce_used(store, new_nonce, VF_NONCE_SIZE, &used), 0);
        ck_assert(used);
        /* A limit on batches stops early and says so. */
        for (unsigned i = 0; i < 3; i++) {
                uint8_t x[VF_NONCE_SIZE];

                ck_assert_int_eq(vf_nonce_make((200 + i) * SEC, x), 0);
                ck_assert_int_eq(vf_store_verdict_add(store, "gw1", &(struct vf_nonce_use){x, VF_NONCE_SIZE}, &trusted,
                                                      1000, NULL),
                                 0);
        }
        ck_assert_int_eq(
                vf_store_cleanup(store, &(struct vf_cleanup){.nonces_before = 500 * SEC, .batch = 1, .max_batches = 2},
                                 &n),
                0);
        ck_assert_uint_eq(n.nonces, 2);
        ck_assert(n.more);
        ck_assert_int_eq(vf_store_cleanup(store, &(struct vf_cleanup){.batch = 0, .max_batches = 1}, &n), -EINVAL);
        vf_gateway_done(&g);
}
END_TEST

START_TEST(test_delete)
{
        struct vf_gateway g = {};
        struct vf_event_record ev = {.reset_count = 1, .kind = "drift_exec", .severity = "warning", .fields = "{}"};
        const uint8_t event_state[] = "state";
        _cleanup_free_ uint8_t *blob = NULL;
        size_t blob_size;
        json_t *list = NULL;

        enroll("gw1", "default");
        enroll("gw2", "default");
        ck_assert_int_eq(vf_store_verdict_add(store, "gw1", NULL, &trusted, 1000, NULL), 0);
        ck_assert_int_eq(
                vf_store_events_commit(store, "gw1", NULL, 0, event_state, sizeof(event_state), &ev, 1, 50 * SEC), 0);
        ck_assert_int_eq(
                vf_store_events_commit(store, "gw2", NULL, 0, event_state, sizeof(event_state), &ev, 1, 50 * SEC), 0);
        ck_assert_int_eq(vf_store_assign(store, false, "gw1", VF_POLICY_RUNTIME, "base", 0), 0);
        ck_assert_int_eq(vf_store_gateway_delete(store, "gw1"), 0);
        ck_assert_int_eq(vf_store_gateway_get(store, "gw1", &g), -ENOENT);
        ck_assert_int_eq(vf_store_event_state_get(store, "gw1", &blob, &blob_size), -ENOENT);
        ck_assert_int_eq(vf_store_verdicts_json(store, "gw1", 10, 0, &list), 0);
        ck_assert_uint_eq(json_array_size(list), 0);
        json_decref(list);
        ck_assert_int_eq(vf_store_events_json(store, &(struct vf_event_query){.gateway_id = "gw1", .limit = 10}, &list),
                         0);
        ck_assert_uint_eq(json_array_size(list), 0);
        json_decref(list);
        /* The other gateway keeps all of its own. */
        ck_assert_int_eq(vf_store_events_json(store, &(struct vf_event_query){.gateway_id = "gw2", .limit = 10}, &list),
                         0);
        ck_assert_uint_eq(json_array_size(list), 1);
        json_decref(list);
        ck_assert_int_eq(vf_store_gateway_delete(store, "gw1"), -ENOENT);
}
END_TEST

START_TEST(test_affected)
{
        char(*ids)[65] = NULL;
        size_t n = 0;
        uint64_t version;

        enroll("gw1", "edge");
        enroll("gw2", "edge");
        enroll("gw3", "core");
        ck_assert_int_eq(vf_store_policy_add(store, VF_POLICY_RUNTIME, "base", "{}", 2, &version), 0);
        ck_assert_int_eq(vf_store_assign(store, true, "edge", VF_POLICY_RUNTIME, "base", 0), 0);
        ck_assert_int_eq(vf_store_assign(store, false, "gw2", VF_POLICY_RUNTIME, "base", 1), 0); /* pinned */
        ck_assert_int_eq(vf_store_assign(store, false, "gw3", VF_POLICY_RUNTIME, "base", 0), 0);
        /* A new version of base: those that follow its latest version (gw1 through its group, gw3 its own). */
        ck_assert_int_eq(vf_store_gateways_affected(store, VF_POLICY_RUNTIME, "base", NULL, &ids, &n), 0);
        ck_assert_uint_eq(n, 2);
        ck_assert_str_eq(ids[0], "gw1");
        ck_assert_str_eq(ids[1], "gw3");
        free(ids);
        /* The edge group's assignment: its gateways without their own (gw1). */
        ck_assert_int_eq(vf_store_gateways_affected(store, VF_POLICY_RUNTIME, NULL, "edge", &ids, &n), 0);
        ck_assert_uint_eq(n, 1);
        ck_assert_str_eq(ids[0], "gw1");
        free(ids);
        /* Boot policies: nobody has one of their own, so every gateway of the group. */
        ck_assert_int_eq(vf_store_gateways_affected(store, VF_POLICY_BOOT, NULL, "edge", &ids, &n), 0);
        ck_assert_uint_eq(n, 2);
        free(ids);
        ck_assert_int_eq(vf_store_gateways_affected(store, VF_POLICY_BOOT, "base", NULL, &ids, &n), 0);
        ck_assert_uint_eq(n, 0);
        free(ids);
}
END_TEST

/* ---- kept IMA entries (store-evidence.c) ------------------------------------------------------------------------- */

/* A round of gateway id that consumed entries (records as given) and optionally started a new epoch. */
static void round_with_entries(const char *id, bool new_epoch, const struct dw_round_stored_entry *e, size_t n,
                               const char *judged)
{
        struct vf_gateway g = {};
        _cleanup_free_ uint8_t *expected = NULL;
        size_t expected_size;
        uint64_t rounds;

        ck_assert_int_eq(vf_store_gateway_get(store, id, &g), 0);
        expected = malloc(g.state_size);
        memcpy(expected, g.state, g.state_size);
        expected_size = g.state_size;
        rounds = g.rounds;
        g.ima_next_index = (new_epoch ? 0 : g.ima_next_index) + n;
        snprintf(g.runtime_judged, sizeof(g.runtime_judged), "%s", judged);
        g.evidence_complete = new_epoch || g.evidence_complete;
        ck_assert_int_eq(
                vf_store_round_commit(
                        store, &g,
                        &(struct vf_state_expect){.rounds = rounds, .state = expected, .state_size = expected_size},
                        &(struct vf_evidence_update){.new_epoch = new_epoch, .entries = e, .n = n}, NULL, &trusted,
                        1000, NULL),
                0);
        vf_gateway_done(&g);
}

#define REC(i, text)                                                                                                   \
        {                                                                                                              \
                .index = (i), .digest_alg = DW_HASH_SHA1, .record = (const uint8_t *)(text),                           \
                .record_size = sizeof(text) - 1                                                                        \
        }

static void assert_kept(const char *id, size_t n, const char *const *texts)
{
        struct vf_evidence e = {};

        ck_assert_int_eq(vf_store_evidence_get(store, id, &e), 0);
        ck_assert_uint_eq(e.n, n);
        for (size_t i = 0; i < n; i++) {
                ck_assert_uint_eq(e.entries[i].index, i);
                ck_assert_int_eq(e.entries[i].digest_alg, DW_HASH_SHA1);
                ck_assert_uint_eq(e.entries[i].record_size, strlen(texts[i]));
                ck_assert_mem_eq(e.entries[i].record, texts[i], strlen(texts[i]));
        }
        vf_evidence_done(&e);
}

START_TEST(test_evidence)
{
        const struct dw_round_stored_entry a[] = {REC(0, "boot"), REC(1, "bash"), REC(2, "app-1")};
        const struct dw_round_stored_entry a2[] = {REC(3, "ls")};
        const struct dw_round_stored_entry b[] = {REC(0, "boot"), REC(1, "bash")};
        const struct dw_round_stored_entry a_rebooted[] = {REC(0, "boot-2")};
        struct vf_gateway g = {};
        uint64_t records, entries;

        enroll("gw1", "default");
        enroll("gw2", "default");
        ck_assert_int_eq(vf_store_gateway_get(store, "gw1", &g), 0);
        ck_assert(g.evidence_complete); /* enrolled: nothing consumed, nothing missing */
        ck_assert_str_eq(g.runtime_judged, "");
        vf_gateway_done(&g);

        /* Entries are kept per round, in the round's transaction; identical records once for the fleet. */
        round_with_entries("gw1", false, a, 3, "runtime:base@1");
        round_with_entries("gw1", false, a2, 1, "runtime:base@1");
        round_with_entries("gw2", false, b, 2, "runtime:base@1");
        assert_kept("gw1", 4, (const char *const[]){"boot", "bash", "app-1", "ls"});
        assert_kept("gw2", 2, (const char *const[]){"boot", "bash"});
        ck_assert_int_eq(vf_store_evidence_counts(store, &records, &entries), 0);
        ck_assert_uint_eq(records, 4);
        ck_assert_uint_eq(entries, 6);
        ck_assert_int_eq(vf_store_gateway_get(store, "gw1", &g), 0);
        ck_assert_str_eq(g.runtime_judged, "runtime:base@1");
        ck_assert(g.evidence_complete);
        ck_assert_uint_eq(g.ima_next_index, 4);
        vf_gateway_done(&g);

        /* A reboot: the previous epoch's entries go (records other gateways hold stay), the new epoch's come. */
        round_with_entries("gw1", true, a_rebooted, 1, "runtime:base@2");
        assert_kept("gw1", 1, (const char *const[]){"boot-2"});
        assert_kept("gw2", 2, (const char *const[]){"boot", "bash"});
        ck_assert_int_eq(vf_store_evidence_counts(store, &records, &entries), 0);
        ck_assert_uint_eq(records, 3);
        ck_assert_uint_eq(entries, 3);
        ck_assert_int_eq(vf_store_gateway_get(store, "gw1", &g), 0); /* from the cache */
        ck_assert_str_eq(g.runtime_judged, "runtime:base@2");
        vf_gateway_done(&g);

        /* A round without entries changes none. */
        round_with_entries("gw2", false, NULL, 0, "runtime:base@2");
        assert_kept("gw2", 2, (const char *const[]){"boot", "bash"});

        /* Removing a gateway removes its entries, and the records nobody else holds. */
        ck_assert_int_eq(vf_store_gateway_delete(store, "gw2"), 0);
        assert_kept("gw2", 0, NULL);
        ck_assert_int_eq(vf_store_evidence_counts(store, &records, &entries), 0);
        ck_assert_uint_eq(records, 1);
        ck_assert_uint_eq(entries, 1);
        ck_assert_int_eq(vf_store_gateway_delete(store, "gw1"), 0);
        ck_assert_int_eq(vf_store_evidence_counts(store, &records, &entries), 0);
        ck_assert_uint_eq(records, 0);
        ck_assert_uint_eq(entries, 0);
}
END_TEST

/* A version 4 database (before kept entries): made from the current one by taking away what migrations 4 -> 5 and
 * 5 -> 6 add. */
START_TEST(test_migration_v5)
{
        const struct dw_round_stored_entry e[] = {REC(0, "boot")};
        struct vf_gateway g = {};
        sqlite3 *db = NULL;
        char msg[300];
        int version = 0;

        enroll("mid-epoch", "default");
        enroll("fresh", "default");
        vf_store_close(store);
        store = NULL;
        ck_assert_int_eq(sqlite3_open(path, &db), SQLITE_OK);
        ck_assert_int_eq(sqlite3_exec(db,
                                      "DROP TABLE gateway_entries; DROP TABLE ima_records;"
                                      "ALTER TABLE gateways DROP COLUMN runtime_judged;"
                                      "ALTER TABLE gateways DROP COLUMN evidence_complete;"
                                      "UPDATE gateways SET ima_next_index = 7, rounds = 3 WHERE id = 'mid-epoch';"
                                      "ALTER TABLE verdicts DROP COLUMN evidence;"
                                      "UPDATE schema_version SET version = 4",
                                      NULL, NULL, NULL),
                         SQLITE_OK);
        sqlite3_close(db);

        ck_assert_msg(vf_store_open(path, &store, msg, sizeof(msg)) == 0, "%s", msg);
        ck_assert_int_eq(vf_store_schema_version(store, &version), 0);
        ck_assert_int_eq(version, 6);
        /* In the middle of an epoch: its earlier entries were never kept, so they cannot be judged again. */
        ck_assert_int_eq(vf_store_gateway_get(store, "mid-epoch", &g), 0);
        ck_assert(!g.evidence_complete);
        ck_assert_str_eq(g.runtime_judged, "");
        vf_gateway_done(&g);
        ck_assert_int_eq(vf_store_gateway_get(store, "fresh", &g), 0);
        ck_assert(g.evidence_complete);
        vf_gateway_done(&g);
        assert_kept("mid-epoch", 0, NULL);
        /* Its next reboot starts a complete epoch. */
        round_with_entries("mid-epoch", true, e, 1, "runtime:base@1");
        ck_assert_int_eq(vf_store_gateway_get(store, "mid-epoch", &g), 0);
        ck_assert(g.evidence_complete);
        vf_gateway_done(&g);
        assert_kept("mid-epoch", 1, (const char *const[]){"boot"});
}
END_TEST

int main(void)
{
        Suite *s = suite_create("verifier-store");
        TCase *tc = tcase_create("core");
        SRunner *sr;
        int failed;

        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_add_test(tc, test_schema);
        tcase_add_test(tc, test_round_commit);
        tcase_add_test(tc, test_sticky_batch);
        tcase_add_test(tc, test_retention);
        tcase_add_test(tc, test_delete);
        tcase_add_test(tc, test_affected);
        tcase_add_test(tc, test_evidence);
        tcase_add_test(tc, test_migration_v5);
        suite_add_tcase(s, tc);
        sr = srunner_create(s);
        srunner_run_all(sr, CK_NORMAL);
        failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
