/* SPDX-License-Identifier: MIT */
/* Tests of one attestation round (lib/attest-round.c) and of the boot policy (lib/boot-policy.c), on real evidence of
 * one gateway over two boot epochs: swtpm quotes, IMA logs written by the IMA simulator in lockstep with PCR 10, a
 * real SeaBIOS boot log replayed into PCRs 0-7, NV certifications of the event-chain head
 * (tests/data/round/generate.sh). Then tampered, truncated and random variants of that evidence, which must never
 * crash and never be trusted (also run under ASan+UBSan). */

#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "attest-round.h"
#include "boot-policy.h"
#include "fileio.h"
#include "hex.h"
#include "ima-log.h"
#include "ima-write.h"
#include "macro.h"
#include "tcg-eventlog.h"
#include "tpm-marshal.h"

#define DATA "/tests/data/round/"

/* ---- fixtures --------------------------------------------------------------------------------------------- */

struct blob {
        uint8_t *data;
        size_t size;
};

static void blob_done(struct blob *b)
{
        free(b->data);
        *b = (struct blob){};
}

/* A fixture in a buffer of exactly its size, so that ASan sees any read past the end. NULL data when absent and
 * optional. */
static struct blob load_opt(const char *dir, const char *name, bool optional)
{
        const char *root = getenv("DW_SRCDIR");
        _cleanup_free_ uint8_t *data = NULL;
        _cleanup_free_ char *path = NULL;
        struct blob b = {};
        size_t size;
        int r;

        ck_assert_msg(root, "DW_SRCDIR is not set");
        ck_assert_int_ge(asprintf(&path, "%s%s%s", root, dir, name), 0);
        r = dw_read_full_file(path, 1 << 24, &data, &size);
        if (r == -ENOENT && optional)
                return b;
        ck_assert_msg(r == 0, "cannot read %s: %s", path, strerror(-r));
        b.data = malloc(size ? size : 1);
        ck_assert_ptr_nonnull(b.data);
        memcpy(b.data, data, size);
        b.size = size;
        return b;
}

static struct blob load(const char *name)
{
        return load_opt(DATA, name, false);
}

static struct blob blob_copy(const uint8_t *data, size_t size)
{
        struct blob b = {.data = malloc(size ? size : 1), .size = size};

        ck_assert_ptr_nonnull(b.data);
        if (size)
                memcpy(b.data, data, size);
        return b;
}

static size_t round_nonce(const char *round, uint8_t *out, size_t size)
{
        struct blob b = load("nonces");
        _cleanup_free_ char *text = strndup((const char *)b.data, b.size);
        char key[32], *p;
        int n;

        blob_done(&b);
        snprintf(key, sizeof(key), "%s ", round);
        p = strstr(text, key);
        ck_assert_msg(p, "no nonce for %s", round);
        p += strlen(key);
        n = dw_hex_decode(p, strspn(p, "0123456789abcdef"), out, size);
        ck_assert_int_gt(n, 0);
        return (size_t)n;
}

static EVP_PKEY *load_ak(const char *dir, const char *name)
{
        struct blob b = load_opt(dir, name, false);
        struct dw_error err = {};
        EVP_PKEY *pkey = NULL;

        ck_assert_msg(dw_tpm_key_load(b.data, b.size, &pkey, NULL, NULL, &err) == 0, "%s: %s", name, err.msg);
        blob_done(&b);
        return pkey;
}

static struct dw_runtime_policy *load_runtime_policy(const char *json, size_t len)
{
        struct dw_runtime_policy *p = NULL;
        struct dw_policy_error err = {};

        ck_assert_msg(dw_runtime_policy_load(json, len, &p, &err) == 0, "runtime policy: %s: %s", err.where, err.msg);
        return p;
}

static struct dw_boot_policy *boot_policy_from(const char *json)
{
        struct dw_boot_policy *p = NULL;
        struct dw_policy_error err = {};

        ck_assert_msg(dw_boot_policy_load(json, strlen(json), &p, &err) == 0, "boot policy: %s: %s", err.where,
                      err.msg);
        return p;
}

/* Shared by every test (check forks each test, so each starts from a fresh copy). */
static struct {
        EVP_PKEY *ak;
        struct dw_runtime_policy *policy;
        struct dw_boot_policy *boot_policy;
        TPM2B_NAME nv_name;
        struct dw_round_ctx *ctx;
        uint64_t now;
} F;

static void setup(void)
{
        struct blob b;

        F.ak = load_ak(DATA, "ak.pem");
        b = load("policy.json");
        F.policy = load_runtime_policy((const char *)b.data, b.size);
        blob_done(&b);
        b = load("boot-policy.json");
        F.boot_policy = NULL;
        ck_assert_int_eq(dw_boot_policy_load(b.data, b.size, &F.boot_policy, NULL), 0);
        blob_done(&b);
        b = load("nv.name");
        ck_assert_uint_le(b.size, sizeof(F.nv_name.name));
        F.nv_name.size = (UINT16)b.size;
        memcpy(F.nv_name.name, b.data, b.size);
        blob_done(&b);
        ck_assert_int_eq(dw_round_ctx_new(&F.ctx), 0);
        F.now = 1000;
}

static void teardown(void)
{
        EVP_PKEY_free(F.ak);
        dw_runtime_policy_free(F.policy);
        dw_boot_policy_free(F.boot_policy);
        dw_round_ctx_free(F.ctx);
        F = (typeof(F)){};
}

/* ---- building a round ------------------------------------------------------------------------------------- */

/* Byte offset of IMA entry index in a binary log (the size when index is the number of entries). */
static size_t ima_offset(const struct blob *log, uint64_t index)
{
        struct dw_ima_parser p;
        struct dw_ima_entry e;
        size_t off = log->size;
        int r;

        dw_ima_parser_init(&p, DW_IMA_FORMAT_BINARY, DW_HASH_SHA1, log->data, log->size);
        while ((r = dw_ima_parser_next(&p, &e, NULL)) > 0)
                if (e.index == index) {
                        off = e.offset;
                        break;
                }
        ck_assert_int_ge(r, 0);
        dw_ima_parser_done(&p);
        return off;
}

struct round_in {
        struct blob quote, sig, pcrs, ima, boot, nv_attest, nv_sig;
        uint64_t ima_from;
        uint8_t nonce[64];
        size_t nonce_size;
        struct dw_round_evidence ev;
        struct dw_round_expect x;
};

/* The evidence of a round as the gateway would send it: the round's quote, the IMA entries of ima_file from
 * ima_from on (NULL: none), the boot log when boot, the NV certification when nv. */
static void round_in_load(struct round_in *in, const char *round, const char *ima_file, uint64_t ima_from, bool boot,
                          bool nv)
{
        char name[64];

        *in = (struct round_in){};
        snprintf(name, sizeof(name), "%s.attest", round);
        in->quote = load(name);
        snprintf(name, sizeof(name), "%s.sig", round);
        in->sig = load(name);
        snprintf(name, sizeof(name), "%s.pcrs", round);
        in->pcrs = load(name);
        if (ima_file) {
                struct blob full = load(ima_file);
                size_t off = ima_offset(&full, ima_from);

                in->ima = blob_copy(full.data + off, full.size - off);
                in->ima_from = ima_from;
                blob_done(&full);
        }
        if (boot)
                in->boot = load("bios.log");
        if (nv) {
                snprintf(name, sizeof(name), "%s-nv.attest", round);
                in->nv_attest = load(name);
                snprintf(name, sizeof(name), "%s-nv.sig", round);
                in->nv_sig = load(name);
        }
        in->nonce_size = round_nonce(round, in->nonce, sizeof(in->nonce));
        in->x = (struct dw_round_expect){
                .ak = F.ak,
                .nonce = in->nonce,
                .nonce_size = in->nonce_size,
                .runtime_policy = F.policy,
                .boot_policy = F.boot_policy,
                .nv_index_name = &F.nv_name,
        };
}

static void round_in_done(struct round_in *in)
{
        blob_done(&in->quote);
        blob_done(&in->sig);
        blob_done(&in->pcrs);
        blob_done(&in->ima);
        blob_done(&in->boot);
        blob_done(&in->nv_attest);
        blob_done(&in->nv_sig);
}

static void round_in_sync(struct round_in *in)
{
        in->ev = (struct dw_round_evidence){
                .quote = in->quote.data,
                .quote_size = in->quote.size,
                .signature = in->sig.data,
                .signature_size = in->sig.size,
                .pcrs = in->pcrs.data,
                .pcrs_size = in->pcrs.size,
                .ima_log = in->ima.data,
                .ima_log_size = in->ima.size,
                .ima_first_index = in->ima_from,
                .ima_log_digest_alg = DW_HASH_SHA1,
                .boot_log = in->boot.data,
                .boot_log_size = in->boot.size,
                .nv_attest = in->nv_attest.data,
                .nv_attest_size = in->nv_attest.size,
                .nv_signature = in->nv_sig.data,
                .nv_signature_size = in->nv_sig.size,
        };
}

static const char *describe(const struct dw_round_result *res)
{
        static char buf[8192];
        size_t o;

        o = (size_t)snprintf(buf, sizeof(buf), "verdict %s, %zu reasons (+%zu), notes: %s",
                             dw_round_verdict_name(res->verdict), res->n_reasons, res->reasons_omitted, res->notes);
        for (size_t i = 0; i < res->n_reasons && o < sizeof(buf); i++) {
                const struct dw_round_reason *r = &res->reasons[i];

                o += (size_t)snprintf(buf + o, sizeof(buf) - o, "\n  %s%s%s [%s] index %lld %s %s: %s",
                                      dw_round_reason_kind_name(r->kind), r->sticky ? " sticky" : "",
                                      r->earlier ? " earlier" : "", r->rule, (long long)r->index, r->path, r->digest,
                                      r->msg);
        }
        return buf;
}

/* Judges in against state; the result is the caller's to free. */
static struct dw_round_result *judge(const struct dw_round_state *state, struct round_in *in)
{
        struct dw_round_result *res = calloc(1, sizeof(*res));
        int r;

        ck_assert_ptr_nonnull(res);
        round_in_sync(in);
        in->x.now = ++F.now;
        r = dw_attest_round(F.ctx, state, &in->x, &in->ev, res);
        ck_assert_msg(r == 0, "dw_attest_round: %s", strerror(-r));
        return res;
}

/* Loads and judges a round in one go. */
static struct dw_round_result *run(const struct dw_round_state *state, const char *round, const char *ima_file,
                                   uint64_t ima_from, bool boot)
{
        struct round_in in;
        struct dw_round_result *res;

        round_in_load(&in, round, ima_file, ima_from, boot, false);
        res = judge(state, &in);
        round_in_done(&in);
        return res;
}

static const struct dw_round_reason *find_reason(const struct dw_round_result *res, enum dw_round_reason_kind kind,
                                                 const char *rule)
{
        for (size_t i = 0; i < res->n_reasons; i++)
                if (res->reasons[i].kind == kind && !res->reasons[i].earlier &&
                    (!rule || strcmp(res->reasons[i].rule, rule) == 0))
                        return &res->reasons[i];
        return NULL;
}

static size_t count_reasons(const struct dw_round_result *res, enum dw_round_reason_kind kind)
{
        size_t n = 0;

        for (size_t i = 0; i < res->n_reasons; i++)
                n += res->reasons[i].kind == kind && !res->reasons[i].earlier;
        return n;
}

#define assert_trusted(res)   ck_assert_msg((res)->verdict == DW_ROUND_TRUSTED, "%s", describe(res))
#define assert_untrusted(res) ck_assert_msg((res)->verdict == DW_ROUND_UNTRUSTED, "%s", describe(res))
#define assert_reason(res, kind, rule)                                                                                 \
        ({                                                                                                             \
                const struct dw_round_reason *_r = find_reason((res), (kind), (rule));                                 \
                ck_assert_msg(_r, "no %s reason%s%s: %s", dw_round_reason_kind_name(kind), (rule) ? " " : "",          \
                              (rule) ? (const char *)(rule) : "", describe(res));                                      \
                _r;                                                                                                    \
        })

static void state_new(struct dw_round_state *s)
{
        ck_assert_int_eq(dw_round_state_init(s, DW_HASH_SHA256), 0);
}

/* The state after the clean first round of epoch 1. */
static void state_after_round1(struct dw_round_state *s)
{
        struct dw_round_state s0;
        _cleanup_free_ struct dw_round_result *res = NULL;

        state_new(&s0);
        res = run(&s0, "round1", "round1.ima", 0, true);
        assert_trusted(res);
        *s = res->state;
}

static void state_after_round2(struct dw_round_state *s)
{
        struct dw_round_state s1;
        _cleanup_free_ struct dw_round_result *res = NULL;

        state_after_round1(&s1);
        res = run(&s1, "round2", "round2.ima", 5, false);
        assert_trusted(res);
        *s = res->state;
}

static void serialize_roundtrip(const struct dw_round_state *in, struct dw_round_state *out)
{
        _cleanup_free_ uint8_t *blob = NULL;
        struct dw_error err = {};
        size_t size;

        ck_assert_int_eq(dw_round_state_serialize(in, &blob, &size), 0);
        ck_assert_msg(dw_round_state_deserialize(blob, size, out, &err) == 0, "%s", err.msg);
}

/* ---- clean rounds ----------------------------------------------------------------------------------------- */

START_TEST(test_clean_first_round)
{
        _cleanup_free_ struct dw_round_result *res = NULL;
        struct dw_round_state s0;

        state_new(&s0);
        res = run(&s0, "round1", "round1.ima", 0, true);
        assert_trusted(res);
        ck_assert_int_eq(res->checks.quote, DW_ROUND_PASSED);
        ck_assert_int_eq(res->checks.boot_log, DW_ROUND_PASSED);
        ck_assert_int_eq(res->checks.boot_policy, DW_ROUND_PASSED);
        ck_assert_int_eq(res->checks.boot_aggregate, DW_ROUND_PASSED);
        ck_assert_int_eq(res->checks.ima, DW_ROUND_PASSED);
        ck_assert_int_eq(res->checks.runtime_policy, DW_ROUND_PASSED);
        ck_assert_int_eq(res->checks.event_chain, DW_ROUND_NOT_CHECKED);
        ck_assert_msg(res->notes[0] == '\0', "notes: %s", res->notes);
        ck_assert(!res->reboot);
        ck_assert(!res->boot_log_needed);
        ck_assert_uint_eq(res->ima_next_index, 5);
        ck_assert_int_eq(res->ima_rule, DW_IMA_BANK_NATIVE);
        ck_assert_uint_eq(res->stats.entries_consumed, 5);
        ck_assert_uint_eq(res->stats.entries_pending, 0);
        ck_assert_uint_eq(res->stats.boot_events, 16);
        ck_assert_uint_eq(res->state.rounds, 1);
        ck_assert_uint_eq(res->state.rounds_untrusted, 0);
        ck_assert(res->state.has_clock);
        ck_assert(res->state.boot_verified);
        ck_assert_uint_eq(res->state.boot_reset_count, res->clock.reset_count);
        ck_assert_uint_eq(res->state.ima_entries, 5);
        ck_assert_int_eq(res->state.last_verdict, DW_ROUND_TRUSTED);
        ck_assert_uint_eq(res->state.last_round_time, F.now);
        /* The input state is untouched. */
        ck_assert_uint_eq(s0.rounds, 0);
        ck_assert(!s0.has_clock);
}
END_TEST

START_TEST(test_log_ahead_of_quote)
{
        _cleanup_free_ struct dw_round_result *res = NULL, *full = NULL, *next = NULL;
        struct dw_round_state s1;

        state_after_round1(&s1);
        /* round2.ima has 10 entries, the quote covers 7: entries 5 and 6 are consumed, 7-9 wait. */
        res = run(&s1, "round2", "round2.ima", 5, false);
        assert_trusted(res);
        ck_assert_int_eq(res->checks.boot_log, DW_ROUND_PASSED_EARLIER);
        ck_assert_uint_eq(res->stats.entries_consumed, 2);
        ck_assert_uint_eq(res->stats.entries_pending, 3);
        ck_assert_uint_eq(res->stats.entries_skipped, 0);
        ck_assert_uint_eq(res->ima_next_index, 7);
        ck_assert_uint_eq(res->state.ima_next_index, 7);
        ck_assert_uint_eq(res->state.ima_entries, 7);

        /* The whole log from entry 0: the first 5 are skipped, the same decision. */
        full = run(&s1, "round2", "round2.ima", 0, false);
        assert_trusted(full);
        ck_assert_uint_eq(full->stats.entries_skipped, 5);
        ck_assert_uint_eq(full->stats.entries_consumed, 2);
        ck_assert_uint_eq(full->stats.entries_pending, 3);
        ck_assert_mem_eq(full->state.ima_pcr, res->state.ima_pcr, sizeof(res->state.ima_pcr));

        /* Round 3 picks the pending ones up. */
        next = run(&res->state, "round3", "round3.ima", 7, false);
        ck_assert_uint_eq(next->stats.entries_consumed, 5);
        ck_assert_uint_eq(next->ima_next_index, 12);
}
END_TEST

START_TEST(test_serialized_state_resumes)
{
        _cleanup_free_ struct dw_round_result *a = NULL, *b = NULL;
        struct dw_round_state s1, s1b;

        state_after_round1(&s1);
        serialize_roundtrip(&s1, &s1b);
        a = run(&s1, "round2", "round2.ima", 5, false);
        b = run(&s1b, "round2", "round2.ima", 5, false);
        assert_trusted(b);
        ck_assert_uint_eq(b->stats.entries_consumed, 2);
        ck_assert_uint_eq(b->ima_next_index, 7);
        ck_assert_mem_eq(a->state.ima_pcr, b->state.ima_pcr, sizeof(a->state.ima_pcr));
        ck_assert_uint_eq(b->state.clock.clock, a->state.clock.clock);
        ck_assert_uint_eq(b->state.rounds, 2);
}
END_TEST

START_TEST(test_no_new_entries)
{
        _cleanup_free_ struct dw_round_result *res = NULL, *again = NULL;
        struct dw_round_state s2;

        state_after_round2(&s2);
        /* The same quote again (same nonce: the test issues it twice) with no IMA entries: the state's PCR 10 is
         * already the quoted one, nothing to consume. */
        res = run(&s2, "round2", NULL, 0, false);
        assert_trusted(res);
        ck_assert_uint_eq(res->stats.entries_consumed, 0);
        ck_assert_uint_eq(res->ima_next_index, 7);
        /* Only the entries already consumed: all skipped. */
        again = run(&s2, "round2", "round2.ima", 0, false);
        assert_trusted(again);
        ck_assert_uint_eq(again->stats.entries_skipped, 7);
        ck_assert_uint_eq(again->stats.entries_pending, 3);
}
END_TEST

START_TEST(test_sha256_digest_log)
{
        _cleanup_(dw_hasher_freep) struct dw_hasher *h = NULL;
        _cleanup_free_ struct dw_round_result *res = NULL;
        struct dw_ima_buf out = {};
        struct dw_round_state s0;
        struct dw_ima_parser p;
        struct dw_ima_entry e;
        struct round_in in;

        /* binary_runtime_measurements_sha256: the same entries with SHA-256 template digests. */
        ck_assert_int_eq(dw_hasher_new(&h), 0);
        round_in_load(&in, "round1", "round1.ima", 0, true, false);
        dw_ima_parser_init(&p, DW_IMA_FORMAT_BINARY, DW_HASH_SHA1, in.ima.data, in.ima.size);
        while (dw_ima_parser_next(&p, &e, NULL) > 0) {
                e.digest_alg = DW_HASH_SHA256;
                ck_assert_int_eq(dw_ima_entry_template_hash(h, &e, DW_HASH_SHA256, e.template_digest), 0);
                ck_assert_int_eq(dw_ima_entry_write_binary(&e, &out), 0);
        }
        dw_ima_parser_done(&p);
        blob_done(&in.ima);
        in.ima = blob_copy(out.data, out.len);
        dw_ima_buf_done(&out);
        state_new(&s0);
        round_in_sync(&in);
        res = calloc(1, sizeof(*res));
        in.ev.ima_log_digest_alg = DW_HASH_SHA256;
        in.x.now = ++F.now;
        ck_assert_int_eq(dw_attest_round(F.ctx, &s0, &in.x, &in.ev, res), 0);
        assert_trusted(res);
        ck_assert_uint_eq(res->stats.entries_consumed, 5);
        /* Read as if its digests were SHA-1: malformed. */
        in.ev.ima_log_digest_alg = DW_HASH_SHA1;
        ck_assert_int_eq(dw_attest_round(F.ctx, &s0, &in.x, &in.ev, res), 0);
        assert_untrusted(res);
        round_in_done(&in);
}
END_TEST

/* ---- runtime policy, stickiness --------------------------------------------------------------------------- */

START_TEST(test_unknown_executable_sticky)
{
        _cleanup_free_ struct dw_round_result *r3 = NULL, *r3b = NULL, *r4 = NULL, *r5 = NULL;
        const struct dw_round_reason *why;
        struct dw_round_state s2, s3, ack;

        state_after_round2(&s2);
        r3 = run(&s2, "round3", "round3.ima", 7, false);
        assert_untrusted(r3);
        ck_assert_uint_eq(r3->stats.entries_consumed, 5);
        ck_assert_uint_eq(r3->stats.entries_rejected, 1);
        ck_assert_int_eq(r3->checks.runtime_policy, DW_ROUND_FAILED);
        ck_assert_int_eq(r3->checks.ima, DW_ROUND_PASSED);
        ck_assert_uint_eq(r3->n_reasons, 1);
        why = assert_reason(r3, DW_ROUND_RUNTIME_POLICY, "not_in_allowlist");
        ck_assert_str_eq(why->path, "/usr/local/bin/evil");
        ck_assert_int_eq(why->index, 10);
        ck_assert(why->sticky);
        ck_assert_uint_eq(why->round, 3);
        ck_assert_msg(strncmp(why->digest, "sha256:", 7) == 0 && strlen(why->digest) == 7 + 64, "%s", why->digest);
        ck_assert_ptr_nonnull(strstr(why->msg, "/usr/local/bin/evil"));
        /* The state advanced (the entries are verified) and keeps the reason. */
        ck_assert_uint_eq(r3->state.ima_next_index, 12);
        ck_assert_uint_eq(r3->state.sticky_count, 1);
        ck_assert_uint_eq(r3->state.n_sticky, 1);
        ck_assert_str_eq(r3->state.sticky[0].path, "/usr/local/bin/evil");
        ck_assert_int_eq(dw_round_state_verdict(&r3->state, F.now, 10), DW_ROUND_UNTRUSTED);
        ck_assert_int_eq(dw_round_state_verdict(&r3->state, F.now + 1000, 10), DW_ROUND_UNTRUSTED);

        /* Survives serialization, a clean round and a reboot into a clean epoch. */
        serialize_roundtrip(&r3->state, &s3);
        r3b = run(&s3, "round3", NULL, 0, false);
        assert_untrusted(r3b);
        ck_assert_uint_eq(r3b->stats.entries_consumed, 0);
        ck_assert_uint_eq(count_reasons(r3b, DW_ROUND_RUNTIME_POLICY), 0);
        ck_assert_uint_eq(r3b->n_reasons, 1);
        ck_assert(r3b->reasons[0].earlier);
        ck_assert_str_eq(r3b->reasons[0].path, "/usr/local/bin/evil");
        ck_assert_uint_eq(r3b->reasons[0].round, 3);
        r4 = run(&r3b->state, "round4", "round4.ima", 0, true);
        assert_untrusted(r4);
        ck_assert(r4->reboot);
        ck_assert_uint_eq(r4->n_reasons, 1);
        ck_assert(r4->reasons[0].earlier);
        ck_assert_int_eq(r4->checks.ima, DW_ROUND_PASSED);

        /* Acknowledged: the next round is trusted again. */
        ack = r4->state;
        ck_assert_uint_eq(dw_round_state_acknowledge(&ack, 2), 0); /* before the failure: nothing */
        ck_assert_uint_eq(ack.sticky_count, 1);
        ck_assert_uint_eq(dw_round_state_acknowledge(&ack, 3), 1);
        ck_assert_uint_eq(ack.sticky_count, 0);
        ck_assert_uint_eq(ack.n_sticky, 0);
        r5 = run(&ack, "round5", NULL, 0, false);
        assert_trusted(r5);
}
END_TEST

START_TEST(test_reasons_bounded)
{
        _cleanup_free_ struct dw_round_result *res = NULL, *next = NULL;
        struct dw_round_state s0, s;

        /* 40 unknown files in one round: 32 listed, 8 counted; the state keeps the first 8. */
        state_new(&s0);
        res = run(&s0, "round6", "round6.ima", 0, true);
        assert_untrusted(res);
        ck_assert_uint_eq(res->stats.entries_consumed, 43);
        ck_assert_uint_eq(res->stats.entries_rejected, 40);
        ck_assert_uint_eq(res->n_reasons, DW_ROUND_REASONS_MAX);
        ck_assert_uint_eq(res->reasons_omitted, 40 - DW_ROUND_REASONS_MAX);
        ck_assert_str_eq(res->reasons[0].path, "/opt/unknown/tool1");
        ck_assert_uint_eq(res->state.sticky_count, 40);
        ck_assert_uint_eq(res->state.n_sticky, DW_ROUND_STICKY_MAX);
        ck_assert_str_eq(res->state.sticky[7].path, "/opt/unknown/tool8");

        serialize_roundtrip(&res->state, &s);
        next = run(&s, "round6", NULL, 0, false);
        assert_untrusted(next);
        ck_assert_uint_eq(next->n_reasons, DW_ROUND_STICKY_MAX);
        ck_assert_uint_eq(next->reasons_omitted, 40 - DW_ROUND_STICKY_MAX);
        ck_assert_uint_eq(next->state.sticky_count, 40);
        ck_assert_uint_eq(dw_round_state_acknowledge(&s, 0), 40);
        ck_assert_int_eq(dw_round_state_verdict(&s, F.now, 100), DW_ROUND_UNTRUSTED); /* last round's verdict */
}
END_TEST

START_TEST(test_no_policies)
{
        _cleanup_free_ struct dw_round_result *res = NULL;
        struct dw_round_state s0;
        struct round_in in;

        state_new(&s0);
        round_in_load(&in, "round3", "round3.ima", 0, true, false);
        in.x.runtime_policy = NULL;
        in.x.boot_policy = NULL;
        res = judge(&s0, &in);
        round_in_done(&in);
        assert_trusted(res); /* evil is not judged: nothing says it is bad */
        ck_assert_int_eq(res->checks.runtime_policy, DW_ROUND_NOT_CHECKED);
        ck_assert_int_eq(res->checks.boot_policy, DW_ROUND_NOT_CHECKED);
        ck_assert_int_eq(res->checks.boot_aggregate, DW_ROUND_PASSED);
        ck_assert_ptr_nonnull(strstr(res->notes, "no runtime policy"));
        ck_assert_ptr_nonnull(strstr(res->notes, "no boot policy"));
}
END_TEST

/* ---- IMA log integrity ------------------------------------------------------------------------------------ */

/* The byte offset of entry index's file digest in a binary log. */
static size_t file_digest_offset(const struct blob *log, uint64_t index)
{
        struct dw_ima_parser p;
        struct dw_ima_entry e;
        size_t off = 0;

        dw_ima_parser_init(&p, DW_IMA_FORMAT_BINARY, DW_HASH_SHA1, log->data, log->size);
        while (dw_ima_parser_next(&p, &e, NULL) > 0)
                if (e.index == index) {
                        enum dw_hash_alg alg;
                        const uint8_t *d;
                        size_t len;

                        ck_assert_int_eq(dw_ima_entry_file_digest(&e, &alg, &d, &len, NULL), 0);
                        off = (size_t)(d - log->data);
                }
        dw_ima_parser_done(&p);
        ck_assert_uint_gt(off, 0);
        return off;
}

START_TEST(test_tampered_entry)
{
        _cleanup_free_ struct dw_round_result *res = NULL;
        const struct dw_round_reason *why;
        struct dw_round_state s0;
        struct round_in in;

        state_new(&s0);
        round_in_load(&in, "round1", "round1.ima", 0, true, false);
        in.ima.data[file_digest_offset(&in.ima, 3)] ^= 0x01;
        res = judge(&s0, &in);
        round_in_done(&in);
        assert_untrusted(res);
        why = assert_reason(res, DW_ROUND_IMA_DIGEST_MISMATCH, NULL);
        ck_assert_int_eq(why->index, 3);
        ck_assert_str_eq(why->path, "/usr/sbin/sshd");
        ck_assert_ptr_nonnull(strstr(why->msg, "template digest"));
        ck_assert_int_eq(res->checks.ima, DW_ROUND_FAILED);
        ck_assert_int_eq(res->checks.boot_aggregate, DW_ROUND_NOT_CHECKED); /* entries before were not verified */
        ck_assert_uint_eq(res->n_reasons, 1);
        ck_assert(!why->sticky);
        ck_assert_uint_eq(res->state.ima_next_index, 0);
        ck_assert_uint_eq(res->ima_next_index, 0);
        ck_assert_uint_eq(res->state.sticky_count, 0);
        /* The rest of the round stands: the boot log was verified. */
        ck_assert(res->state.boot_verified);
}
END_TEST

START_TEST(test_dropped_entry)
{
        _cleanup_free_ struct dw_round_result *res = NULL, *added = NULL;
        struct dw_round_state s0;
        struct round_in in;
        size_t a, b;

        state_new(&s0);
        round_in_load(&in, "round1", "round1.ima", 0, true, false);
        a = ima_offset(&in.ima, 3);
        b = ima_offset(&in.ima, 4);
        memmove(in.ima.data + a, in.ima.data + b, in.ima.size - b);
        in.ima.size -= b - a;
        res = judge(&s0, &in);
        assert_untrusted(res);
        assert_reason(res, DW_ROUND_IMA_LOG_MISMATCH, "sha256:10");
        ck_assert_uint_eq(res->n_reasons, 1);
        ck_assert_uint_eq(res->stats.entries_consumed, 0);
        ck_assert_uint_eq(res->state.ima_next_index, 0);
        ck_assert_int_eq(res->state.ima_rule, -1);
        round_in_done(&in);

        /* An entry the TPM never saw (round 1's quote with round 2's longer log minus nothing: it matches first,
         * so use round 1's log with an entry appended twice instead). */
        round_in_load(&in, "round1", "round1.ima", 0, true, false);
        a = ima_offset(&in.ima, 1);
        b = ima_offset(&in.ima, 2);
        {
                struct blob longer = {.data = malloc(in.ima.size + (b - a)), .size = in.ima.size + (b - a)};

                memcpy(longer.data, in.ima.data, b);
                memcpy(longer.data + b, in.ima.data + a, in.ima.size - a);
                blob_done(&in.ima);
                in.ima = longer;
        }
        added = judge(&s0, &in);
        round_in_done(&in);
        assert_untrusted(added);
        assert_reason(added, DW_ROUND_IMA_LOG_MISMATCH, NULL);
}
END_TEST

START_TEST(test_ima_index_gap)
{
        _cleanup_free_ struct dw_round_result *res = NULL;
        struct dw_round_state s1;

        state_after_round1(&s1);
        res = run(&s1, "round2", "round2.ima", 6, false);
        assert_untrusted(res);
        assert_reason(res, DW_ROUND_IMA_INDEX_GAP, NULL);
        ck_assert_uint_eq(res->state.ima_next_index, 5);
}
END_TEST

START_TEST(test_incomplete_tail)
{
        _cleanup_free_ struct dw_round_result *res = NULL, *cut = NULL;
        struct dw_round_state s1;
        struct round_in in;

        state_after_round1(&s1);
        /* The log cut in the middle of a pending entry: no matter. */
        round_in_load(&in, "round2", "round2.ima", 5, false, false);
        in.ima.size -= 10;
        res = judge(&s1, &in);
        round_in_done(&in);
        assert_trusted(res);
        ck_assert_uint_eq(res->stats.entries_pending, 2);
        /* Cut in the middle of an entry the quote covers: it cannot match. */
        round_in_load(&in, "round2", "round2.ima", 5, false, false);
        in.ima.size = ima_offset(&in.ima, 1) + 10;
        cut = judge(&s1, &in);
        round_in_done(&in);
        assert_untrusted(cut);
        assert_reason(cut, DW_ROUND_IMA_LOG_MISMATCH, NULL);
        ck_assert_ptr_nonnull(strstr(cut->notes, "incomplete entry"));
}
END_TEST

/* ---- the quote -------------------------------------------------------------------------------------------- */

START_TEST(test_replayed_nonce)
{
        _cleanup_free_ struct dw_round_result *res = NULL;
        const struct dw_round_reason *why;
        struct dw_round_state s1;
        struct round_in in;

        state_after_round1(&s1);
        round_in_load(&in, "round2", "round2.ima", 5, false, false);
        in.nonce_size = round_nonce("round1", in.nonce, sizeof(in.nonce));
        res = judge(&s1, &in);
        round_in_done(&in);
        assert_untrusted(res);
        why = assert_reason(res, DW_ROUND_QUOTE, "nonce-mismatch");
        ck_assert(!why->sticky);
        ck_assert_uint_eq(res->n_reasons, 1);
        ck_assert_int_eq(res->checks.quote, DW_ROUND_FAILED);
        ck_assert_int_eq(res->checks.ima, DW_ROUND_NOT_CHECKED);
        ck_assert_ptr_nonnull(strstr(res->notes, "nothing else"));
        /* Nothing advanced but the counters. */
        ck_assert_uint_eq(res->state.ima_next_index, 5);
        ck_assert_uint_eq(res->state.clock.clock, s1.clock.clock);
        ck_assert_uint_eq(res->state.rounds, 2);
        ck_assert_uint_eq(res->state.rounds_untrusted, 1);
        ck_assert_uint_eq(res->state.sticky_count, 0);
        ck_assert_int_eq(dw_round_state_verdict(&res->state, F.now, 100), DW_ROUND_UNTRUSTED);
}
END_TEST

START_TEST(test_wrong_ak)
{
        _cleanup_free_ struct dw_round_result *res = NULL;
        struct dw_round_state s0;
        struct round_in in;
        EVP_PKEY *other = load_ak("/tests/data/tpm/", "ak-ecc.pem");

        state_new(&s0);
        round_in_load(&in, "round1", "round1.ima", 0, true, false);
        in.x.ak = other;
        res = judge(&s0, &in);
        round_in_done(&in);
        EVP_PKEY_free(other);
        assert_untrusted(res);
        assert_reason(res, DW_ROUND_QUOTE, "bad-signature");
        ck_assert(!res->state.has_clock);
}
END_TEST

START_TEST(test_pcr_values_tampered)
{
        _cleanup_free_ struct dw_round_result *res = NULL, *sel = NULL;
        struct dw_round_state s0;
        struct round_in in;

        state_new(&s0);
        round_in_load(&in, "round1", "round1.ima", 0, true, false);
        /* PCR file: 132-byte selection, u32 count, then lists of {u32 count, 8 x (u16 size, 64 bytes)}. PCR 4 is
         * the fifth value of the first list. */
        in.pcrs.data[136 + 4 + 4 * 66 + 2] ^= 0x80;
        res = judge(&s0, &in);
        round_in_done(&in);
        assert_untrusted(res);
        assert_reason(res, DW_ROUND_QUOTE, "pcr-digest-mismatch");

        /* The PCR values of another quote (another selection). */
        round_in_load(&in, "round4", "round4.ima", 0, true, false);
        blob_done(&in.pcrs);
        in.pcrs = load("round5.pcrs");
        sel = judge(&s0, &in);
        round_in_done(&in);
        assert_untrusted(sel);
        assert_reason(sel, DW_ROUND_QUOTE, "pcr-selection-mismatch");
}
END_TEST

START_TEST(test_missing_evidence)
{
        _cleanup_free_ struct dw_round_result *res = NULL;
        struct dw_round_state s0;
        struct round_in in;

        state_new(&s0);
        round_in_load(&in, "round1", "round1.ima", 0, true, false);
        blob_done(&in.pcrs);
        res = judge(&s0, &in);
        round_in_done(&in);
        assert_untrusted(res);
        assert_reason(res, DW_ROUND_EVIDENCE_MALFORMED, NULL);
        ck_assert_int_eq(res->checks.quote, DW_ROUND_FAILED);
}
END_TEST

START_TEST(test_clock_rewind)
{
        _cleanup_free_ struct dw_round_result *res = NULL;
        const struct dw_round_reason *why;
        struct dw_round_state s2;

        /* Round 1's quote (with its own nonce) after round 2 was accepted: the TPM clock went back in the same boot,
         * which only a rolled-back TPM state produces once nonces are single-use. */
        state_after_round2(&s2);
        res = run(&s2, "round1", "round1.ima", 0, false);
        assert_untrusted(res);
        why = assert_reason(res, DW_ROUND_QUOTE, "clock-rewind");
        ck_assert(why->sticky);
        ck_assert_uint_eq(res->state.sticky_count, 1);
        ck_assert_uint_eq(res->state.clock.clock, s2.clock.clock);
        ck_assert_uint_eq(res->state.ima_next_index, 7);
}
END_TEST

START_TEST(test_quote_selection)
{
        _cleanup_free_ struct dw_round_result *res = NULL;
        struct dw_round_state s0;

        /* A state replaying the sha1 bank: the quotes (sha256 only) do not cover it. */
        ck_assert_int_eq(dw_round_state_init(&s0, DW_HASH_SHA1), 0);
        res = run(&s0, "round1", "round1.ima", 0, true);
        assert_untrusted(res);
        assert_reason(res, DW_ROUND_QUOTE_SELECTION, "sha1:0-7,10");
        ck_assert_int_eq(res->checks.quote, DW_ROUND_FAILED);
}
END_TEST

/* ---- reboot ----------------------------------------------------------------------------------------------- */

START_TEST(test_reboot)
{
        _cleanup_free_ struct dw_round_result *ok = NULL, *noboot = NULL, *later = NULL, *gap = NULL, *old = NULL;
        struct dw_round_state s2;

        state_after_round2(&s2);
        /* A new epoch: the boot log again, IMA from entry 0. */
        ok = run(&s2, "round4", "round4.ima", 0, true);
        assert_trusted(ok);
        ck_assert(ok->reboot);
        ck_assert_uint_eq(ok->state.reboots, 1);
        ck_assert_uint_eq(ok->clock.reset_count, s2.clock.reset_count + 1);
        ck_assert_uint_eq(ok->stats.entries_consumed, 3);
        ck_assert_uint_eq(ok->ima_next_index, 3);
        ck_assert_uint_eq(ok->state.ima_entries, 10);
        ck_assert_int_eq(ok->checks.boot_log, DW_ROUND_PASSED);
        ck_assert_int_eq(ok->checks.boot_aggregate, DW_ROUND_PASSED);
        ck_assert(!ok->boot_log_needed);

        /* Without the boot log: untrusted, and still needed next round; IMA is consumed all the same. */
        noboot = run(&s2, "round4", "round4.ima", 0, false);
        assert_untrusted(noboot);
        assert_reason(noboot, DW_ROUND_BOOT_LOG_REQUIRED, NULL);
        ck_assert_uint_eq(noboot->n_reasons, 1);
        ck_assert(noboot->boot_log_needed);
        ck_assert_uint_eq(noboot->ima_next_index, 3);
        later = run(&noboot->state, "round5", NULL, 0, false);
        assert_untrusted(later);
        assert_reason(later, DW_ROUND_BOOT_LOG_REQUIRED, NULL);
        ck_assert(!later->reboot);

        /* The old epoch's IMA index: a gap. */
        gap = run(&s2, "round4", "round4.ima", 0, true);
        ck_assert(gap->verdict == DW_ROUND_TRUSTED);
        {
                struct round_in in;

                round_in_load(&in, "round4", "round4.ima", 0, true, false);
                in.ima_from = 7; /* claims to continue the old log */
                free(gap);
                gap = judge(&s2, &in);
                round_in_done(&in);
        }
        assert_untrusted(gap);
        assert_reason(gap, DW_ROUND_IMA_INDEX_GAP, NULL);
        ck_assert_ptr_nonnull(strstr(find_reason(gap, DW_ROUND_IMA_INDEX_GAP, NULL)->msg, "rebooted"));

        /* A quote of the previous epoch after the reboot was seen: resetCount went back. */
        old = run(&ok->state, "round2", NULL, 0, false);
        assert_untrusted(old);
        ck_assert(assert_reason(old, DW_ROUND_QUOTE, "reset-rollback")->sticky);
}
END_TEST

/* ---- measured boot ---------------------------------------------------------------------------------------- */

/* Offset of the digest of algorithm tpm_alg of boot log event index. */
static size_t boot_digest_offset(const struct blob *log, uint64_t index, uint16_t tpm_alg)
{
        struct dw_tcg_parser p;
        struct dw_tcg_event ev;
        size_t off = 0;

        ck_assert_int_eq(dw_tcg_parser_init(&p, log->data, log->size, NULL), 0);
        while (dw_tcg_parser_next(&p, &ev, NULL) > 0)
                if (ev.index == index)
                        for (unsigned i = 0; i < ev.n_digests; i++)
                                if (ev.digests[i].tpm_alg == tpm_alg)
                                        off = (size_t)(ev.digests[i].digest - log->data);
        ck_assert_uint_gt(off, 0);
        return off;
}

START_TEST(test_boot_log_mismatch)
{
        _cleanup_free_ struct dw_round_result *res = NULL, *bad = NULL;
        const struct dw_round_reason *why;
        struct dw_round_state s0;
        struct round_in in;

        state_new(&s0);
        round_in_load(&in, "round1", "round1.ima", 0, true, false);
        in.boot.data[boot_digest_offset(&in.boot, 7, DW_TPM_ALG_SHA256)] ^= 0x01; /* "Calling INT 19h", PCR 4 */
        res = judge(&s0, &in);
        round_in_done(&in);
        assert_untrusted(res);
        why = assert_reason(res, DW_ROUND_BOOT_LOG_MISMATCH, "sha256:4");
        ck_assert(!why->sticky);
        ck_assert_uint_eq(count_reasons(res, DW_ROUND_BOOT_LOG_MISMATCH), 1);
        ck_assert_int_eq(res->checks.boot_log, DW_ROUND_FAILED);
        ck_assert(!res->state.boot_verified);
        ck_assert(res->boot_log_needed);
        /* IMA is independent of it. */
        ck_assert_int_eq(res->checks.ima, DW_ROUND_PASSED);

        /* Garbage instead of a boot log. */
        round_in_load(&in, "round1", "round1.ima", 0, true, false);
        memset(in.boot.data + 40, 0xee, 64);
        bad = judge(&s0, &in);
        round_in_done(&in);
        assert_untrusted(bad);
        ck_assert(find_reason(bad, DW_ROUND_BOOT_LOG_MALFORMED, NULL) ||
                  find_reason(bad, DW_ROUND_BOOT_LOG_MISMATCH, NULL));
}
END_TEST

static char *policy_with_golden_pcr4(const char *hex)
{
        struct blob b = load("boot-policy.json");
        char *json = strndup((const char *)b.data, b.size), *p;
        const char *good = "1eb9aa21337cc1fa31ce5f56900d7bf59b9dda366823095aed06544caa2557ca";

        blob_done(&b);
        p = strstr(json, good);
        ck_assert_ptr_nonnull(p);
        memcpy(p, hex, strlen(good));
        return json;
}

START_TEST(test_boot_golden_mismatch)
{
        _cleanup_free_ struct dw_round_result *res = NULL, *later = NULL;
        _cleanup_(dw_boot_policy_freep) struct dw_boot_policy *bp = NULL;
        _cleanup_free_ char *json = NULL;
        const struct dw_round_reason *why;
        struct dw_round_state s0;
        struct round_in in;

        json = policy_with_golden_pcr4("00000000000000000000000000000000000000000000000000000000000000aa");
        bp = boot_policy_from(json);
        state_new(&s0);
        round_in_load(&in, "round1", "round1.ima", 0, true, false);
        in.x.boot_policy = bp;
        res = judge(&s0, &in);
        round_in_done(&in);
        assert_untrusted(res);
        why = assert_reason(res, DW_ROUND_BOOT_POLICY, "pcrs.sha256.4");
        ck_assert(why->sticky);
        ck_assert_str_eq(why->digest, "sha256:1eb9aa21337cc1fa31ce5f56900d7bf59b9dda366823095aed06544caa2557ca");
        ck_assert_uint_eq(res->n_reasons, 1);
        ck_assert_int_eq(res->checks.boot_policy, DW_ROUND_FAILED);
        ck_assert_int_eq(res->checks.boot_log, DW_ROUND_PASSED); /* the log is authentic, just not the golden one */
        ck_assert_uint_eq(res->state.sticky_count, 1);

        /* The next round judges the golden values again: one new reason and the earlier one. */
        round_in_load(&in, "round2", "round2.ima", 5, false, false);
        in.x.boot_policy = bp;
        later = judge(&res->state, &in);
        round_in_done(&in);
        ck_assert_uint_eq(count_reasons(later, DW_ROUND_BOOT_POLICY), 1);
        ck_assert_uint_eq(later->n_reasons, 2);
}
END_TEST

START_TEST(test_boot_events_and_secure_boot)
{
        _cleanup_free_ struct dw_round_result *res = NULL, *sb = NULL;
        _cleanup_(dw_boot_policy_freep) struct dw_boot_policy *events = NULL, *secure = NULL;
        const struct dw_round_reason *why;
        struct dw_round_state s0;
        struct round_in in;

        /* Only event 2's digest allowed for EV_ACTION: event 7 ("Calling INT 19h") fails. */
        events = boot_policy_from("{\"driftwatch_boot_policy\": 1, \"events\": {\"EV_ACTION\": "
                                  "[\"sha256:ceb1bb117d14a37f07e23c96e580729e3fcc12f749915bbdc8edadfc20e21acf\"]}}");
        state_new(&s0);
        round_in_load(&in, "round1", "round1.ima", 0, true, false);
        in.x.boot_policy = events;
        res = judge(&s0, &in);
        round_in_done(&in);
        assert_untrusted(res);
        why = assert_reason(res, DW_ROUND_BOOT_POLICY, "events.EV_ACTION");
        ck_assert_int_eq(why->index, 7);
        ck_assert_ptr_nonnull(strstr(why->path, "Calling INT 19h"));
        ck_assert_str_eq(why->digest, "sha256:7a19a5a56fd2c4a9c9dbd8c74537f34d0bc442a4a528c36fb44a3ccd858df12b");
        ck_assert_uint_eq(res->n_reasons, 1);

        secure = boot_policy_from("{\"driftwatch_boot_policy\": 1, \"secure_boot\": true}");
        round_in_load(&in, "round1", "round1.ima", 0, true, false);
        in.x.boot_policy = secure;
        sb = judge(&s0, &in);
        round_in_done(&in);
        assert_untrusted(sb);
        why = assert_reason(sb, DW_ROUND_BOOT_POLICY, "secure_boot");
        ck_assert_ptr_nonnull(strstr(why->msg, "absent"));
}
END_TEST

START_TEST(test_boot_aggregate)
{
        _cleanup_free_ struct dw_round_result *minimal = NULL, *late = NULL;
        struct dw_round_state s0;
        struct round_in in;

        /* A quote without PCRs 8-9: accepted, boot_aggregate reported as not checked. */
        state_new(&s0);
        minimal = run(&s0, "round5", "round4.ima", 0, true);
        assert_trusted(minimal);
        ck_assert_int_eq(minimal->checks.boot_aggregate, DW_ROUND_NOT_CHECKED);
        ck_assert_ptr_nonnull(strstr(minimal->notes, "boot_aggregate (sha256) not checked"));
        ck_assert_ptr_nonnull(strstr(minimal->notes, "8,9"));

        /* PCR 9 extended after IMA started: boot_aggregate no longer matches (sticky), nor does the boot log. */
        round_in_load(&in, "round7", "round6.ima", 0, true, false);
        in.x.runtime_policy = NULL;
        late = judge(&s0, &in);
        round_in_done(&in);
        assert_untrusted(late);
        ck_assert(assert_reason(late, DW_ROUND_BOOT_AGGREGATE, "sha256:0-9")->sticky);
        assert_reason(late, DW_ROUND_BOOT_LOG_MISMATCH, "sha256:9");
        ck_assert_int_eq(late->checks.boot_aggregate, DW_ROUND_FAILED);
        ck_assert_uint_eq(late->state.sticky_count, 1);
}
END_TEST

START_TEST(test_boot_pcrs_changed)
{
        _cleanup_free_ struct dw_round_result *r6 = NULL, *r7 = NULL;
        struct dw_round_state s0;
        struct round_in in;

        /* Boot log verified with round 6's quote; round 7's PCR 9 differs: the log is needed again. */
        state_new(&s0);
        round_in_load(&in, "round6", "round6.ima", 0, true, false);
        in.x.runtime_policy = NULL;
        r6 = judge(&s0, &in);
        round_in_done(&in);
        assert_trusted(r6);
        round_in_load(&in, "round7", NULL, 0, false, false);
        in.x.runtime_policy = NULL;
        r7 = judge(&r6->state, &in);
        round_in_done(&in);
        assert_untrusted(r7);
        assert_reason(r7, DW_ROUND_BOOT_LOG_REQUIRED, NULL);
        ck_assert_ptr_nonnull(strstr(r7->notes, "changed since the boot log"));
        ck_assert(r7->boot_log_needed);
}
END_TEST

/* ---- event chain ------------------------------------------------------------------------------------------ */

START_TEST(test_event_chain)
{
        _cleanup_free_ struct dw_round_result *plain = NULL, *same = NULL, *other = NULL, *stale = NULL;
        struct blob head1 = load("round1-nv.head"), head2 = load("round2-nv.head");
        struct dw_round_state s0, s1;
        struct round_in in;

        state_new(&s0);
        round_in_load(&in, "round1", "round1.ima", 0, true, true);
        plain = judge(&s0, &in);
        assert_trusted(plain);
        ck_assert_int_eq(plain->checks.event_chain, DW_ROUND_PASSED);
        ck_assert(plain->event_chain_certified);
        ck_assert_uint_eq(plain->event_chain_head_size, 32);
        ck_assert_mem_eq(plain->event_chain_head, head1.data, 32);

        in.x.event_chain_head = head1.data;
        in.x.event_chain_head_size = head1.size;
        same = judge(&s0, &in);
        assert_trusted(same);

        in.x.event_chain_head = head2.data;
        other = judge(&s0, &in);
        round_in_done(&in);
        assert_untrusted(other);
        assert_reason(other, DW_ROUND_EVENT_CHAIN_MISMATCH, NULL);
        ck_assert_int_eq(other->checks.event_chain, DW_ROUND_FAILED);

        /* Round 1's certification sent again in round 2: another nonce. */
        s1 = plain->state;
        round_in_load(&in, "round2", "round2.ima", 5, false, true);
        blob_done(&in.nv_attest);
        blob_done(&in.nv_sig);
        in.nv_attest = load("round1-nv.attest");
        in.nv_sig = load("round1-nv.sig");
        stale = judge(&s1, &in);
        round_in_done(&in);
        assert_untrusted(stale);
        assert_reason(stale, DW_ROUND_EVENT_CHAIN_ATTEST, "nonce-mismatch");
        blob_done(&head1);
        blob_done(&head2);
}
END_TEST

/* ---- re-judging an epoch under another runtime policy (dw_round_rejudge) ---------------------------------------- */

/* The records of entries 0 .. n-1 of an IMA log fixture, as a verifier keeps them. The log stays loaded in *log. */
static struct dw_round_stored_entry *stored_entries(const char *ima_file, size_t n, struct blob *log)
{
        struct dw_round_stored_entry *list = calloc(n ? n : 1, sizeof(*list));
        struct dw_ima_parser p;
        struct dw_ima_entry e;
        size_t i = 0;

        ck_assert_ptr_nonnull(list);
        *log = load(ima_file);
        dw_ima_parser_init(&p, DW_IMA_FORMAT_BINARY, DW_HASH_SHA1, log->data, log->size);
        while (i < n && dw_ima_parser_next(&p, &e, NULL) > 0) {
                list[i] = (struct dw_round_stored_entry){
                        .index = e.index,
                        .digest_alg = DW_HASH_SHA1,
                        .record = log->data + e.offset,
                        .record_size = p.pos - e.offset,
                };
                i++;
        }
        dw_ima_parser_done(&p);
        ck_assert_uint_eq(i, n);
        return list;
}

/* The test policy with path accepting digest ("sha256:..."; NULL removes path). */
static struct dw_runtime_policy *policy_variant(const char *path, const char *digest)
{
        struct blob b = load("policy.json");
        json_t *doc = json_loadb((const char *)b.data, b.size, 0, NULL), *digests;
        _cleanup_free_ char *text = NULL;
        struct dw_runtime_policy *p;

        ck_assert_ptr_nonnull(doc);
        digests = json_object_get(doc, "digests");
        ck_assert_ptr_nonnull(digests);
        if (digest)
                json_object_set_new(digests, path, json_pack("[s]", digest));
        else
                ck_assert_int_eq(json_object_del(digests, path), 0);
        text = json_dumps(doc, 0);
        p = load_runtime_policy(text, strlen(text));
        json_decref(doc);
        blob_done(&b);
        return p;
}

/* The event name of entry index of an IMA log fixture. */
static void entry_name(const char *ima_file, uint64_t index, char *out, size_t size)
{
        struct blob log = load(ima_file);
        struct dw_ima_parser p;
        struct dw_ima_entry e;
        const char *name;
        size_t len;

        dw_ima_parser_init(&p, DW_IMA_FORMAT_BINARY, DW_HASH_SHA1, log.data, log.size);
        while (dw_ima_parser_next(&p, &e, NULL) > 0 && e.index != index)
                ;
        ck_assert_uint_eq(e.index, index);
        ck_assert_int_eq(dw_ima_entry_event_name(&e, &name, &len), 0);
        snprintf(out, size, "%.*s", (int)len, name);
        dw_ima_parser_done(&p);
        blob_done(&log);
}

/* Round 3 of epoch 1: /usr/local/bin/evil (entry 10) rejected; entries 0-11 consumed. */
static struct dw_round_result *epoch1_with_evil(void)
{
        struct dw_round_state s2;
        struct dw_round_result *r3;

        state_after_round2(&s2);
        r3 = run(&s2, "round3", "round3.ima", 7, false);
        assert_untrusted(r3);
        ck_assert_uint_eq(r3->state.ima_next_index, 12);
        ck_assert_uint_eq(r3->state.epoch_runtime_count, 1);
        ck_assert_uint_eq(r3->state.sticky[0].epoch, 0);
        return r3;
}

START_TEST(test_rejudge_drops_and_adds)
{
        _cleanup_free_ struct dw_round_result *r3 = epoch1_with_evil(), *next = NULL, *after = NULL;
        _cleanup_free_ struct dw_round_rejudge_result *rj = malloc(sizeof(*rj));
        _cleanup_free_ struct dw_round_stored_entry *kept = NULL;
        _cleanup_(dw_runtime_policy_freep) struct dw_runtime_policy *allows = NULL, *drops = NULL, *orig = NULL;
        struct dw_round_state before = r3->state;
        const struct dw_round_reason *why;
        struct blob log;
        char first[256];

        ck_assert_ptr_nonnull(rj);
        kept = stored_entries("round3.ima", 12, &log);
        allows = policy_variant("/usr/local/bin/evil", r3->reasons[0].digest);
        entry_name("round3.ima", 1, first, sizeof(first));
        drops = policy_variant(first, NULL);

        /* A policy that accepts what ran: the epoch's failure is no longer pending. */
        ck_assert_int_eq(dw_round_rejudge(F.ctx, &r3->state, allows, kept, 12, rj), 0);
        ck_assert_int_eq(rj->verdict, DW_ROUND_TRUSTED);
        ck_assert_uint_eq(rj->entries, 11); /* all but boot_aggregate */
        ck_assert_uint_eq(rj->before, 1);
        ck_assert_uint_eq(rj->found, 0);
        ck_assert_uint_eq(rj->n_reasons, 0);
        ck_assert_uint_eq(rj->state.sticky_count, 0);
        ck_assert_uint_eq(rj->state.n_sticky, 0);
        ck_assert_uint_eq(rj->state.epoch_runtime_count, 0);
        ck_assert_uint_eq(rj->state.rounds, before.rounds); /* no round */
        ck_assert_uint_eq(rj->state.ima_next_index, 12);
        ck_assert_mem_eq(&r3->state, &before, sizeof(before)); /* input untouched */
        /* ... and the next round under it is trusted, without an acknowledgement. */
        orig = F.policy;
        F.policy = TAKE_PTR(allows);
        next = run(&rj->state, "round3", NULL, 0, false);
        assert_trusted(next);
        dw_runtime_policy_free(F.policy);
        F.policy = NULL;

        /* A policy that drops a file that ran before the change: it is rejected now too. */
        ck_assert_int_eq(dw_round_rejudge(F.ctx, &r3->state, drops, kept, 12, rj), 0);
        ck_assert_int_eq(rj->verdict, DW_ROUND_UNTRUSTED);
        ck_assert_uint_eq(rj->found, 2);
        ck_assert_uint_eq(rj->n_reasons, 2);
        ck_assert_uint_eq(rj->state.sticky_count, 2);
        ck_assert_uint_eq(rj->state.epoch_runtime_count, 2);
        ck_assert_int_eq(rj->reasons[0].index, 1);
        ck_assert_str_eq(rj->reasons[0].path, first);
        ck_assert_str_eq(rj->reasons[0].rule, "not_in_allowlist");
        ck_assert_uint_eq(rj->reasons[0].round, before.rounds + 1); /* found in the coming round */
        ck_assert(!rj->reasons[0].earlier);
        ck_assert_str_eq(rj->reasons[1].path, "/usr/local/bin/evil");
        ck_assert_uint_eq(rj->state.sticky_last_round, before.rounds + 1);
        /* The next round lists them as its own; the one after as earlier. */
        F.policy = TAKE_PTR(drops);
        next = (free(next), run(&rj->state, "round3", NULL, 0, false));
        assert_untrusted(next);
        ck_assert_uint_eq(next->n_reasons, 2);
        ck_assert(!next->reasons[0].earlier && next->reasons[0].sticky);
        ck_assert_uint_eq(next->state.sticky_count, 2);
        ck_assert_uint_eq(next->state.epoch_runtime_count, 2);
        after = run(&next->state, "round3", NULL, 0, false);
        ck_assert(after->reasons[0].earlier);
        why = &after->reasons[1];
        ck_assert_str_eq(why->path, "/usr/local/bin/evil");
        /* The same policy again (a round judges again only when the policy changes): the same state. */
        ck_assert_int_eq(dw_round_rejudge(F.ctx, &next->state, F.policy, kept, 12, rj), 0);
        ck_assert_uint_eq(rj->before, 2);
        ck_assert_uint_eq(rj->found, 2);
        ck_assert_uint_eq(rj->state.sticky_count, 2);
        blob_done(&log);
}
END_TEST

START_TEST(test_rejudge_keeps_other_failures)
{
        _cleanup_free_ struct dw_round_result *r3 = epoch1_with_evil(), *r4 = NULL;
        _cleanup_free_ struct dw_round_rejudge_result *rj = malloc(sizeof(*rj));
        _cleanup_free_ struct dw_round_stored_entry *kept = NULL, *kept4 = NULL;
        _cleanup_(dw_runtime_policy_freep) struct dw_runtime_policy *allows = NULL;
        struct dw_round_state s = r3->state, ack;
        struct blob log, log4;

        ck_assert_ptr_nonnull(rj);
        kept = stored_entries("round3.ima", 12, &log);
        allows = policy_variant("/usr/local/bin/evil", r3->reasons[0].digest);

        /* Sticky failures of other kinds, even of this epoch, stay: a boot policy failure and a refused batch. */
        s.sticky[s.n_sticky++] = (struct dw_round_reason){
                .kind = DW_ROUND_BOOT_POLICY, .sticky = true, .round = 3, .epoch = 0, .index = 4, .rule = "$.events"};
        s.sticky[s.n_sticky++] = (struct dw_round_reason){
                .kind = DW_ROUND_EVENT_CHAIN_MISMATCH, .sticky = true, .round = 4, .epoch = 0, .index = -1};
        s.sticky_count += 2;
        ck_assert_int_eq(dw_round_rejudge(F.ctx, &s, allows, kept, 12, rj), 0);
        ck_assert_int_eq(rj->verdict, DW_ROUND_UNTRUSTED);
        ck_assert_uint_eq(rj->state.sticky_count, 2);
        ck_assert_uint_eq(rj->state.n_sticky, 2);
        ck_assert_int_eq(rj->state.sticky[0].kind, DW_ROUND_BOOT_POLICY);
        ck_assert_int_eq(rj->state.sticky[1].kind, DW_ROUND_EVENT_CHAIN_MISMATCH);

        /* A runtime failure of an earlier epoch stays: after a reboot, only the new epoch's entries are judged. */
        r4 = run(&r3->state, "round4", "round4.ima", 0, true);
        ck_assert(r4->reboot);
        ck_assert_uint_eq(r4->state.reboots, 1);
        ck_assert_uint_eq(r4->state.epoch_runtime_count, 0);
        kept4 = stored_entries("round4.ima", r4->state.ima_next_index, &log4);
        ck_assert_int_eq(dw_round_rejudge(F.ctx, &r4->state, allows, kept4, r4->state.ima_next_index, rj), 0);
        ck_assert_int_eq(rj->verdict, DW_ROUND_UNTRUSTED);
        ck_assert_uint_eq(rj->before, 0);
        ck_assert_uint_eq(rj->state.sticky_count, 1);
        ck_assert_str_eq(rj->state.sticky[0].path, "/usr/local/bin/evil");
        ck_assert_uint_eq(rj->state.sticky[0].epoch, 0);

        /* An acknowledged failure the new policy still rejects is pending again; one it accepts is not. */
        ack = r3->state;
        ck_assert_uint_eq(dw_round_state_acknowledge(&ack, 0), 1);
        ck_assert_uint_eq(ack.epoch_runtime_count, 0);
        ck_assert_int_eq(dw_round_rejudge(F.ctx, &ack, F.policy, kept, 12, rj), 0);
        ck_assert_uint_eq(rj->state.sticky_count, 1);
        ck_assert_int_eq(dw_round_rejudge(F.ctx, &ack, allows, kept, 12, rj), 0);
        ck_assert_uint_eq(rj->state.sticky_count, 0);
        /* A partial acknowledgement counts the epoch's runtime failures it clears. */
        ack = rj->state;
        ck_assert_int_eq(dw_round_rejudge(F.ctx, &r3->state, F.policy, kept, 12, rj), 0);
        ack = rj->state; /* evil, found in round 4 */
        ck_assert_uint_eq(dw_round_state_acknowledge(&ack, 3), 0);
        ck_assert_uint_eq(ack.epoch_runtime_count, 1);
        ck_assert_uint_eq(dw_round_state_acknowledge(&ack, 4), 1);
        ck_assert_uint_eq(ack.epoch_runtime_count, 0);
        blob_done(&log);
        blob_done(&log4);
}
END_TEST

START_TEST(test_rejudge_bad_input)
{
        _cleanup_free_ struct dw_round_result *r3 = epoch1_with_evil();
        _cleanup_free_ struct dw_round_rejudge_result *rj = malloc(sizeof(*rj));
        _cleanup_free_ struct dw_round_stored_entry *kept = NULL;
        struct dw_round_stored_entry bad[12];
        struct dw_round_state s;
        struct blob log;

        ck_assert_ptr_nonnull(rj);
        kept = stored_entries("round3.ima", 12, &log);
        /* Not the epoch's entries: too few, out of order, a record cut, two records in one, another PCR. */
        ck_assert_int_eq(dw_round_rejudge(F.ctx, &r3->state, F.policy, kept, 11, rj), -EBADMSG);
        memcpy(bad, kept, sizeof(bad));
        bad[3] = kept[4];
        ck_assert_int_eq(dw_round_rejudge(F.ctx, &r3->state, F.policy, bad, 12, rj), -EBADMSG);
        memcpy(bad, kept, sizeof(bad));
        bad[5].record_size--;
        ck_assert_int_eq(dw_round_rejudge(F.ctx, &r3->state, F.policy, bad, 12, rj), -EBADMSG);
        memcpy(bad, kept, sizeof(bad));
        bad[5].record_size += kept[6].record_size;
        ck_assert_int_eq(dw_round_rejudge(F.ctx, &r3->state, F.policy, bad, 12, rj), -EBADMSG);
        memcpy(bad, kept, sizeof(bad));
        bad[5].record_size = 0;
        ck_assert_int_eq(dw_round_rejudge(F.ctx, &r3->state, F.policy, bad, 12, rj), -EBADMSG);
        memcpy(bad, kept, sizeof(bad));
        bad[5].digest_alg = _DW_HASH_ALG_MAX;
        ck_assert_int_eq(dw_round_rejudge(F.ctx, &r3->state, F.policy, bad, 12, rj), -EBADMSG);
        /* Every truncation of every record: refused, never a crash. */
        for (size_t i = 0; i < 12; i++)
                for (size_t n = 0; n < kept[i].record_size; n++) {
                        memcpy(bad, kept, sizeof(bad));
                        bad[i].record_size = n;
                        ck_assert_int_eq(dw_round_rejudge(F.ctx, &r3->state, F.policy, bad, 12, rj), -EBADMSG);
                }
        /* Caller errors. */
        ck_assert_int_eq(dw_round_rejudge(F.ctx, &r3->state, NULL, kept, 12, rj), -EINVAL);
        ck_assert_int_eq(dw_round_rejudge(F.ctx, &r3->state, F.policy, NULL, 12, rj), -EINVAL);
        s = r3->state;
        s.epoch_runtime_count = s.sticky_count + 1;
        ck_assert_int_eq(dw_round_rejudge(F.ctx, &s, F.policy, kept, 12, rj), -EINVAL);
        s = r3->state;
        s.epoch_runtime_count = 0; /* a kept failure of the epoch the count does not know */
        ck_assert_int_eq(dw_round_rejudge(F.ctx, &s, F.policy, kept, 12, rj), -EINVAL);
        /* state and &ret->state may be the same. */
        rj->state = r3->state;
        ck_assert_int_eq(dw_round_rejudge(F.ctx, &rj->state, F.policy, kept, 12, rj), 0);
        ck_assert_uint_eq(rj->state.sticky_count, 1);
        blob_done(&log);
}
END_TEST

/* A version 1 blob of s (the layout before epochs): what a verifier of before kept. */
static void serialize_v1(const struct dw_round_state *s, uint8_t **ret, size_t *ret_size)
{
        size_t bank = dw_hash_alg_size(s->ima_bank), o = 12, cap = 8192;
        uint8_t *b = calloc(1, cap), check[32];

#define PUT(v, n)                                                                                                      \
        do {                                                                                                           \
                uint64_t _v = (uint64_t)(v);                                                                           \
                for (unsigned _i = 0; _i < (n); _i++)                                                                  \
                        b[o++] = (uint8_t)(_v >> (8 * _i));                                                            \
        } while (0)
#define PUTB(p, n)                                                                                                     \
        do {                                                                                                           \
                memcpy(b + o, (p), (n));                                                                               \
                o += (n);                                                                                              \
        } while (0)
#define PUTS(str)                                                                                                      \
        do {                                                                                                           \
                PUT(strlen(str), 2);                                                                                   \
                PUTB(str, strlen(str));                                                                                \
        } while (0)
        ck_assert_ptr_nonnull(b);
        memcpy(b, "DWRS", 4);
        b[4] = 1;
        PUT(s->rounds, 8);
        PUT(s->rounds_untrusted, 8);
        PUT(s->reboots, 8);
        PUT(s->ima_entries, 8);
        PUT(s->last_round_time, 8);
        PUT(s->last_verdict, 1);
        PUT((s->has_clock ? 1u : 0u) | (s->clock.safe ? 2u : 0u) | (s->boot_verified ? 4u : 0u), 1);
        PUT(s->clock.clock, 8);
        PUT(s->clock.reset_count, 4);
        PUT(s->clock.restart_count, 4);
        PUT(s->ima_bank, 1);
        PUT((uint8_t)(int8_t)s->ima_rule, 1);
        PUT(s->boot_reset_count, 4);
        for (unsigned pcr = 0; pcr < 10; pcr++)
                PUTB(s->boot_pcrs[pcr], bank);
        PUT(s->ima_next_index, 8);
        PUT(s->ima_violations, 8);
        for (int rule = 0; rule < _DW_IMA_BANK_RULE_MAX; rule++)
                PUTB(s->ima_pcr[rule], bank);
        PUT(s->sticky_count, 4);
        PUT(s->sticky_last_round, 8);
        PUT(s->n_sticky, 1);
        for (uint32_t i = 0; i < s->n_sticky; i++) {
                const struct dw_round_reason *r = &s->sticky[i];

                PUT(r->kind, 1);
                PUT((r->sticky ? 1u : 0u) | (r->earlier ? 2u : 0u), 1);
                PUT(r->round, 8);
                PUT(r->index, 8);
                PUTS(r->path);
                PUTS(r->digest);
                PUTS(r->rule);
                PUTS(r->msg);
        }
        for (unsigned i = 0; i < 4; i++)
                b[8 + i] = (uint8_t)((o - 12) >> (8 * i));
        ck_assert_int_ge(dw_hash_oneshot(DW_HASH_SHA256, b, o, check), 0);
        PUTB(check, 8);
#undef PUT
#undef PUTB
#undef PUTS
        *ret = b;
        *ret_size = o;
}

START_TEST(test_state_blob_v1)
{
        _cleanup_free_ struct dw_round_result *r3 = epoch1_with_evil();
        _cleanup_free_ struct dw_round_rejudge_result *rj = malloc(sizeof(*rj));
        _cleanup_free_ struct dw_round_stored_entry *kept = NULL;
        _cleanup_free_ uint8_t *v1 = NULL, *v2 = NULL;
        _cleanup_(dw_runtime_policy_freep) struct dw_runtime_policy *allows = NULL;
        struct dw_round_state back, again;
        struct dw_error err = {};
        size_t size, size2;
        struct blob log;

        ck_assert_ptr_nonnull(rj);
        serialize_v1(&r3->state, &v1, &size);
        ck_assert_msg(dw_round_state_deserialize(v1, size, &back, &err) == 0, "%s", err.msg);
        ck_assert_uint_eq(back.rounds, r3->state.rounds);
        ck_assert_uint_eq(back.ima_next_index, 12);
        ck_assert_uint_eq(back.sticky_count, 1);
        ck_assert_str_eq(back.sticky[0].path, "/usr/local/bin/evil");
        ck_assert_uint_eq(back.sticky[0].epoch, DW_ROUND_EPOCH_UNKNOWN); /* version 1 did not say */
        ck_assert_uint_eq(back.epoch_runtime_count, 0);
        for (size_t n = 0; n < size; n++)
                ck_assert_int_eq(dw_round_state_deserialize(v1, n, &again, NULL), -EBADMSG);

        /* Its runtime failures are of an unknown epoch: a re-judge leaves them. */
        kept = stored_entries("round3.ima", 12, &log);
        allows = policy_variant("/usr/local/bin/evil", r3->reasons[0].digest);
        ck_assert_int_eq(dw_round_rejudge(F.ctx, &back, allows, kept, 12, rj), 0);
        ck_assert_uint_eq(rj->state.sticky_count, 1);
        ck_assert_int_eq(rj->verdict, DW_ROUND_UNTRUSTED);

        /* Written again, it is version 2, and reads back the same. */
        ck_assert_int_eq(dw_round_state_serialize(&back, &v2, &size2), 0);
        ck_assert_uint_eq(v2[4], DW_ROUND_STATE_VERSION);
        ck_assert_int_eq(dw_round_state_deserialize(v2, size2, &again, &err), 0);
        ck_assert_uint_eq(again.sticky[0].epoch, DW_ROUND_EPOCH_UNKNOWN);
        ck_assert_uint_eq(again.epoch_runtime_count, 0);
        /* And a version 2 blob keeps the epochs. */
        free(v2);
        ck_assert_int_eq(dw_round_state_serialize(&r3->state, &v2, &size2), 0);
        ck_assert_int_eq(dw_round_state_deserialize(v2, size2, &again, &err), 0);
        ck_assert_uint_eq(again.sticky[0].epoch, 0);
        ck_assert_uint_eq(again.epoch_runtime_count, 1);
        blob_done(&log);
}
END_TEST

/* ---- state: serialization, verdict helper, caller errors -------------------------------------------------- */

START_TEST(test_state_blob)
{
        _cleanup_free_ struct dw_round_result *res = NULL;
        _cleanup_free_ uint8_t *blob = NULL, *blob2 = NULL;
        struct dw_round_state s0, back;
        struct dw_error err = {};
        size_t size, size2;

        state_new(&s0);
        res = run(&s0, "round6", "round6.ima", 0, true); /* 8 sticky reasons kept */
        ck_assert_int_eq(dw_round_state_serialize(&res->state, &blob, &size), 0);
        ck_assert_uint_lt(size, 8192);
        ck_assert_int_eq(dw_round_state_deserialize(blob, size, &back, &err), 0);
        ck_assert_int_eq(dw_round_state_serialize(&back, &blob2, &size2), 0);
        ck_assert_uint_eq(size, size2);
        ck_assert_mem_eq(blob, blob2, size);
        ck_assert_uint_eq(back.rounds, res->state.rounds);
        ck_assert_uint_eq(back.clock.clock, res->state.clock.clock);
        ck_assert_int_eq(back.ima_rule, res->state.ima_rule);
        ck_assert_str_eq(back.sticky[3].path, res->state.sticky[3].path);
        ck_assert_str_eq(back.sticky[3].msg, res->state.sticky[3].msg);

        /* Every truncation, every single bit flip: refused, never a crash. */
        for (size_t n = 0; n < size; n++)
                ck_assert_int_eq(dw_round_state_deserialize(blob, n, &back, NULL), -EBADMSG);
        for (size_t i = 0; i < size; i++)
                for (unsigned bit = 0; bit < 8; bit++) {
                        int r;

                        blob[i] ^= (uint8_t)(1u << bit);
                        r = dw_round_state_deserialize(blob, size, &back, NULL);
                        ck_assert_msg(r == -EBADMSG || r == -EOPNOTSUPP, "byte %zu bit %u: %d", i, bit, r);
                        blob[i] ^= (uint8_t)(1u << bit);
                }
        /* A newer version. */
        blob[4] = DW_ROUND_STATE_VERSION + 1;
        ck_assert_int_eq(dw_round_state_deserialize(blob, size, &back, &err), -EOPNOTSUPP);
        ck_assert_int_eq(dw_round_state_deserialize(NULL, 0, &back, NULL), -EBADMSG);
}
END_TEST

START_TEST(test_state_small)
{
        _cleanup_free_ uint8_t *blob = NULL;
        struct dw_round_state s;
        size_t size;

        /* What the verifier keeps per gateway, in memory and in its database. */
        ck_assert_uint_le(sizeof(struct dw_round_state), 64 * 1024);
        state_new(&s);
        ck_assert_int_eq(dw_round_state_serialize(&s, &blob, &size), 0);
        ck_assert_uint_lt(size, 1024);
        fprintf(stderr, "struct dw_round_state: %zu bytes; empty blob %zu bytes; struct dw_round_result: %zu bytes\n",
                sizeof(struct dw_round_state), size, sizeof(struct dw_round_result));
}
END_TEST

START_TEST(test_verdict_helper)
{
        struct dw_round_state s;

        state_new(&s);
        ck_assert_int_eq(dw_round_state_verdict(&s, 100, 10), DW_ROUND_UNKNOWN);
        s.rounds = 1;
        s.last_round_time = 100;
        s.last_verdict = DW_ROUND_TRUSTED;
        ck_assert_int_eq(dw_round_state_verdict(&s, 105, 10), DW_ROUND_TRUSTED);
        ck_assert_int_eq(dw_round_state_verdict(&s, 110, 10), DW_ROUND_TRUSTED);
        ck_assert_int_eq(dw_round_state_verdict(&s, 111, 10), DW_ROUND_UNKNOWN);
        ck_assert_int_eq(dw_round_state_verdict(&s, 50, 10), DW_ROUND_TRUSTED); /* caller's clock stepped back */
        s.last_verdict = DW_ROUND_UNTRUSTED;
        ck_assert_int_eq(dw_round_state_verdict(&s, 105, 10), DW_ROUND_UNTRUSTED);
        ck_assert_int_eq(dw_round_state_verdict(&s, 200, 10), DW_ROUND_UNKNOWN);
        s.sticky_count = 1;
        ck_assert_int_eq(dw_round_state_verdict(&s, 200, 10), DW_ROUND_UNTRUSTED);
        ck_assert_int_eq(dw_round_state_verdict(NULL, 200, 10), DW_ROUND_UNKNOWN);
        ck_assert_str_eq(dw_round_verdict_name(DW_ROUND_UNKNOWN), "unknown");
        ck_assert_ptr_null(dw_round_verdict_name(_DW_ROUND_VERDICT_MAX));
        for (int k = 0; k < _DW_ROUND_REASON_KIND_MAX; k++)
                ck_assert_ptr_nonnull(dw_round_reason_kind_name(k));
        for (int c = 0; c < _DW_ROUND_CHECK_MAX; c++)
                ck_assert_ptr_nonnull(dw_round_check_name(c));
}
END_TEST

START_TEST(test_caller_errors)
{
        struct dw_round_result *res = calloc(1, sizeof(*res));
        struct dw_round_state s0, bad;
        struct round_in in;

        state_new(&s0);
        round_in_load(&in, "round1", "round1.ima", 0, true, false);
        round_in_sync(&in);
        ck_assert_int_eq(dw_attest_round(NULL, &s0, &in.x, &in.ev, res), -EINVAL);
        ck_assert_int_eq(dw_attest_round(F.ctx, NULL, &in.x, &in.ev, res), -EINVAL);
        ck_assert_int_eq(dw_attest_round(F.ctx, &s0, &in.x, &in.ev, NULL), -EINVAL);
        bad = s0;
        bad.ima_bank = 77;
        ck_assert_int_eq(dw_attest_round(F.ctx, &bad, &in.x, &in.ev, res), -EINVAL);
        bad = s0;
        bad.n_sticky = 3;
        ck_assert_int_eq(dw_attest_round(F.ctx, &bad, &in.x, &in.ev, res), -EINVAL);
        in.x.nonce_size = 0;
        ck_assert_int_eq(dw_attest_round(F.ctx, &s0, &in.x, &in.ev, res), -EINVAL);
        in.x.nonce_size = in.nonce_size;
        in.x.ak = NULL;
        ck_assert_int_eq(dw_attest_round(F.ctx, &s0, &in.x, &in.ev, res), -EINVAL);
        in.x.ak = F.ak;
        in.x.nv_index_name = NULL;
        in.ev.nv_attest = in.quote.data;
        ck_assert_int_eq(dw_attest_round(F.ctx, &s0, &in.x, &in.ev, res), -EINVAL);
        ck_assert_int_eq(dw_round_state_init(&bad, 99), -EINVAL);
        ck_assert_uint_eq(res->state.rounds, 0); /* never written on failure */
        round_in_done(&in);
        free(res);
}
END_TEST

START_TEST(test_aliasing_and_untouched_input)
{
        _cleanup_free_ struct dw_round_result *res = calloc(1, sizeof(*res));
        struct dw_round_state s1, copy;
        struct round_in in;

        state_after_round1(&s1);
        copy = s1;
        round_in_load(&in, "round3", "round3.ima", 5, false, false);
        round_in_sync(&in);
        in.x.now = 42;
        ck_assert_int_eq(dw_attest_round(F.ctx, &s1, &in.x, &in.ev, res), 0);
        ck_assert_mem_eq(&s1, &copy, sizeof(s1));
        /* state and &ret->state the same: round 3 from round 3's own result. */
        ck_assert_int_eq(dw_attest_round(F.ctx, &res->state, &in.x, &in.ev, res), 0);
        ck_assert_uint_eq(res->state.rounds, 3);
        ck_assert_uint_eq(res->stats.entries_consumed, 0);
        ck_assert_uint_eq(res->stats.entries_skipped, 7);
        round_in_done(&in);
}
END_TEST

START_TEST(test_result_json)
{
        _cleanup_free_ struct dw_round_result *res = NULL;
        _cleanup_free_ char *text = NULL;
        struct dw_round_state s2;
        json_t *j, *reason;

        state_after_round2(&s2);
        res = run(&s2, "round3", "round3.ima", 7, false);
        j = dw_round_result_to_json(res);
        ck_assert_ptr_nonnull(j);
        ck_assert_str_eq(json_string_value(json_object_get(j, "verdict")), "untrusted");
        ck_assert_str_eq(json_string_value(json_object_get(json_object_get(j, "checks"), "runtime_policy")), "failed");
        ck_assert_int_eq(json_integer_value(json_object_get(j, "ima_next_index")), 12);
        ck_assert_str_eq(json_string_value(json_object_get(j, "ima_rule")), "native");
        ck_assert_int_eq(json_integer_value(json_object_get(j, "sticky_pending")), 1);
        ck_assert_int_eq(json_array_size(json_object_get(j, "reasons")), 1);
        reason = json_array_get(json_object_get(j, "reasons"), 0);
        ck_assert_str_eq(json_string_value(json_object_get(reason, "kind")), "runtime_policy");
        ck_assert_str_eq(json_string_value(json_object_get(reason, "path")), "/usr/local/bin/evil");
        ck_assert_str_eq(json_string_value(json_object_get(reason, "rule")), "not_in_allowlist");
        ck_assert_int_eq(json_integer_value(json_object_get(reason, "index")), 10);
        ck_assert(json_is_true(json_object_get(reason, "sticky")));
        text = json_dumps(j, JSON_COMPACT);
        ck_assert_ptr_nonnull(text);
        json_decref(j);
}
END_TEST

START_TEST(test_pcr_selection)
{
        TPML_PCR_SELECTION sel;
        struct dw_round_state s;
        char buf[128];

        state_new(&s);
        dw_round_pcr_selection(&s, &sel);
        ck_assert_str_eq(dw_tpm_pcr_selection_format(&sel, buf, sizeof(buf)), "sha256:0,1,2,3,4,5,6,7,8,9,10");
}
END_TEST

/* ---- bad input: never a crash, never trusted -------------------------------------------------------------- */

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t rng(void)
{
        rng_state ^= rng_state << 13;
        rng_state ^= rng_state >> 7;
        rng_state ^= rng_state << 17;
        return rng_state;
}

static void check_sane(const struct dw_round_result *res)
{
        _cleanup_free_ uint8_t *blob = NULL;
        size_t size;

        ck_assert(res->verdict == DW_ROUND_TRUSTED || res->verdict == DW_ROUND_UNTRUSTED);
        ck_assert_uint_le(res->n_reasons, DW_ROUND_REASONS_MAX);
        ck_assert_int_eq(dw_round_state_serialize(&res->state, &blob, &size), 0);
        for (size_t i = 0; i < res->n_reasons; i++) {
                ck_assert_ptr_nonnull(memchr(res->reasons[i].msg, '\0', sizeof(res->reasons[i].msg)));
                ck_assert_ptr_nonnull(memchr(res->reasons[i].path, '\0', sizeof(res->reasons[i].path)));
        }
}

static struct blob *part(struct round_in *in, unsigned i)
{
        struct blob *parts[] = {&in->quote, &in->sig, &in->pcrs, &in->ima, &in->boot, &in->nv_attest, &in->nv_sig};

        return parts[i % ELEMENTSOF(parts)];
}

START_TEST(test_truncated_evidence)
{
        struct dw_round_result *res = calloc(1, sizeof(*res));
        struct dw_round_state s1;
        unsigned rounds = 0;

        ck_assert_ptr_nonnull(res);
        state_after_round1(&s1);
        for (unsigned p = 0; p < 7; p++) {
                struct round_in in;
                size_t full;

                round_in_load(&in, "round2", "round2.ima", 5, true, true);
                full = part(&in, p)->size;
                for (size_t n = 0; n < full; n++) {
                        struct blob *b = part(&in, p);

                        /* A buffer of exactly n bytes, for ASan. */
                        uint8_t *cut = malloc(n ? n : 1);

                        memcpy(cut, b->data, n);
                        free(b->data);
                        b->data = cut;
                        b->size = n;
                        round_in_sync(&in);
                        in.x.now = ++F.now;
                        ck_assert_int_eq(dw_attest_round(F.ctx, &s1, &in.x, &in.ev, res), 0);
                        check_sane(res);
                        /* Cut IMA entries only ever wait for the next round; anything else cut is untrusted. */
                        if (p != 3)
                                ck_assert_msg(res->verdict == DW_ROUND_UNTRUSTED, "part %u cut at %zu: %s", p, n,
                                              describe(res));
                        rounds++;
                        /* Restore the full part for the next length. */
                        round_in_done(&in);
                        round_in_load(&in, "round2", "round2.ima", 5, true, true);
                }
                round_in_done(&in);
        }
        fprintf(stderr, "truncated evidence: %u rounds\n", rounds);
        free(res);
}
END_TEST

/* A change the round trusted must have left what it judges intact: the PCR values, the entries it consumed. */
static void check_harmless(unsigned which, const struct blob *b)
{
        struct round_in orig;

        round_in_load(&orig, "round2", "round2.ima", 5, true, true);
        if (which == 2) {
                _cleanup_free_ struct dw_tpm_pcrs *x = calloc(1, sizeof(*x)), *y = calloc(1, sizeof(*y));

                ck_assert_int_eq(dw_tpm_pcrs_file_parse(orig.pcrs.data, orig.pcrs.size, x, NULL), 0);
                ck_assert_int_eq(dw_tpm_pcrs_file_parse(b->data, b->size, y, NULL), 0);
                ck_assert_uint_eq(x->n_values, y->n_values);
                ck_assert_mem_eq(x->values, y->values, x->n_values * sizeof(x->values[0]));
        }
        if (which == 3) {
                size_t consumed = ima_offset(&orig.ima, 2);

                ck_assert_uint_ge(b->size, consumed);
                ck_assert_mem_eq(b->data, orig.ima.data, consumed);
        }
        round_in_done(&orig);
}

START_TEST(test_fuzzed_evidence)
{
        struct dw_round_result *res = calloc(1, sizeof(*res));
        struct dw_round_state s1;
        unsigned trusted = 0, n = 4000, trusted_part[7] = {};

        ck_assert_ptr_nonnull(res);
        state_after_round1(&s1);
        for (unsigned i = 0; i < n; i++) {
                struct round_in in;
                struct blob *b;
                unsigned what = (unsigned)(rng() % 4), flips = 1 + (unsigned)(rng() % 4);

                unsigned which = (unsigned)(rng() % 7);

                round_in_load(&in, "round2", "round2.ima", 5, true, true);
                b = part(&in, which);
                switch (what) {
                case 0: /* flip bits */
                case 1:
                        for (unsigned k = 0; k < flips && b->size; k++)
                                b->data[rng() % b->size] ^= (uint8_t)(1u << (rng() % 8));
                        break;
                case 2: /* random changes over a random range */
                        if (b->size) {
                                size_t at = rng() % b->size, len = 1 + rng() % MIN(b->size - at, (size_t)16);

                                for (size_t k = 0; k < len; k++)
                                        b->data[at + k] ^= (uint8_t)(1 + rng() % 255);
                        }
                        break;
                default: /* garbage of a random size */
                        blob_done(b);
                        b->size = rng() % 300;
                        b->data = malloc(b->size ? b->size : 1);
                        for (size_t k = 0; k < b->size; k++)
                                b->data[k] = (uint8_t)rng();
                        break;
                }
                round_in_sync(&in);
                in.x.now = ++F.now;
                ck_assert_int_eq(dw_attest_round(F.ctx, &s1, &in.x, &in.ev, res), 0);
                check_sane(res);
                trusted += res->verdict == DW_ROUND_TRUSTED;
                trusted_part[which] += res->verdict == DW_ROUND_TRUSTED;
                if (res->verdict == DW_ROUND_TRUSTED)
                        check_harmless(which, b);
                round_in_done(&in);
        }
        /* Signed structures: any change is untrusted. */
        ck_assert_uint_eq(trusted_part[0], 0);
        ck_assert_uint_eq(trusted_part[1], 0);
        ck_assert_uint_eq(trusted_part[5], 0);
        ck_assert_uint_eq(trusted_part[6], 0);
        fprintf(stderr, "fuzzed evidence still trusted by part: quote %u sig %u pcrs %u ima %u boot %u nv %u/%u\n",
                trusted_part[0], trusted_part[1], trusted_part[2], trusted_part[3], trusted_part[4], trusted_part[5],
                trusted_part[6]);
        /* Trusted only where the damage hit what a round does not consume (pending IMA entries, event data the
         * replay does not use): a small share. */
        fprintf(stderr, "fuzzed evidence: %u rounds, %u still trusted\n", n, trusted);
        ck_assert_uint_lt(trusted, n / 4);
        free(res);
}
END_TEST

/* ---- boot policy on its own ------------------------------------------------------------------------------- */

static void put(struct blob *b, const void *data, size_t n)
{
        b->data = realloc(b->data, b->size + n);
        ck_assert_ptr_nonnull(b->data);
        memcpy(b->data + b->size, data, n);
        b->size += n;
}

static void put32(struct blob *b, uint32_t v)
{
        uint8_t x[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};

        put(b, x, 4);
}

static void put_event2(struct blob *b, struct dw_hasher *h, uint32_t pcr, uint32_t type, const uint8_t *data,
                       size_t len, bool bad_digest)
{
        uint8_t d[32];

        put32(b, pcr);
        put32(b, type);
        put32(b, 1);
        put(b, (const uint8_t[]){0x0b, 0x00}, 2);
        ck_assert_int_ge(dw_hash_buf(h, DW_HASH_SHA256, data, len, d), 0);
        d[0] ^= bad_digest;
        put(b, d, 32);
        put32(b, (uint32_t)len);
        put(b, data, len);
}

/* A crypto-agile sha256 log: Spec ID, SecureBoot (value sb) on PCR 7, a boot application on PCR 4. */
static struct blob efi_log(uint8_t sb, bool bad_digest)
{
        static const uint8_t guid[16] = {0x61, 0xdf, 0xe4, 0x8b, 0xca, 0x93, 0xd2, 0x11,
                                         0xaa, 0x0d, 0x00, 0xe0, 0x98, 0x03, 0x2b, 0x8c};
        _cleanup_(dw_hasher_freep) struct dw_hasher *h = NULL;
        struct blob b = {}, var = {};
        uint8_t zero[20] = {};

        ck_assert_int_eq(dw_hasher_new(&h), 0);
        put32(&b, 0);
        put32(&b, EV_NO_ACTION);
        put(&b, zero, 20);
        put32(&b, 33);
        put(&b, "Spec ID Event03", 16);
        put32(&b, 0);
        put(&b, (const uint8_t[]){0, 2, 0, 2}, 4);
        put32(&b, 1);
        put(&b, (const uint8_t[]){0x0b, 0x00, 0x20, 0x00, 0x00}, 5);

        put(&var, guid, 16);
        put(&var, (const uint8_t[]){10, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0}, 16);
        for (const char *c = "SecureBoot"; *c; c++)
                put(&var, (const uint8_t[]){(uint8_t)*c, 0}, 2);
        put(&var, &sb, 1);
        put_event2(&b, h, 7, EV_EFI_VARIABLE_DRIVER_CONFIG, var.data, var.size, bad_digest);
        put_event2(&b, h, 4, EV_EFI_BOOT_SERVICES_APPLICATION, (const uint8_t *)"shimx64.efi", 11, false);
        blob_done(&var);
        return b;
}

static int collect(const struct dw_boot_finding *f, void *userdata)
{
        struct dw_boot_finding *out = userdata;

        *out = *f;
        return 0;
}

START_TEST(test_secure_boot)
{
        _cleanup_(dw_hasher_freep) struct dw_hasher *h = NULL;
        _cleanup_(dw_boot_policy_freep) struct dw_boot_policy *on = NULL, *off = NULL, *apps = NULL;
        struct blob enabled = efi_log(1, false), disabled = efi_log(0, false), forged = efi_log(1, true),
                    odd = efi_log(7, false), bios = load("bios.log");
        struct dw_boot_finding f = {};
        enum dw_secure_boot sb;
        char json[512];
        uint8_t app[32];

        ck_assert_int_eq(dw_hasher_new(&h), 0);
        ck_assert_int_eq(dw_boot_log_secure_boot(h, enabled.data, enabled.size, &sb, NULL), 0);
        ck_assert_int_eq(sb, DW_SECURE_BOOT_ENABLED);
        ck_assert_int_eq(dw_boot_log_secure_boot(h, disabled.data, disabled.size, &sb, NULL), 0);
        ck_assert_int_eq(sb, DW_SECURE_BOOT_DISABLED);
        ck_assert_int_eq(dw_boot_log_secure_boot(h, forged.data, forged.size, &sb, NULL), 0);
        ck_assert_int_eq(sb, DW_SECURE_BOOT_UNVERIFIABLE);
        ck_assert_int_eq(dw_boot_log_secure_boot(h, odd.data, odd.size, &sb, NULL), 0);
        ck_assert_int_eq(sb, DW_SECURE_BOOT_UNVERIFIABLE);
        ck_assert_int_eq(dw_boot_log_secure_boot(h, bios.data, bios.size, &sb, NULL), 0);
        ck_assert_int_eq(sb, DW_SECURE_BOOT_ABSENT);
        ck_assert_str_eq(dw_secure_boot_name(sb), "absent");

        on = boot_policy_from("{\"driftwatch_boot_policy\": 1, \"secure_boot\": true}");
        off = boot_policy_from("{\"driftwatch_boot_policy\": 1, \"secure_boot\": false}");
        ck_assert_int_eq(dw_boot_policy_check_log(on, h, enabled.data, enabled.size, collect, &f, NULL), 0);
        ck_assert_int_eq(dw_boot_policy_check_log(on, h, forged.data, forged.size, collect, &f, NULL), 1);
        ck_assert_int_eq(f.kind, DW_BOOT_SECURE_BOOT);
        ck_assert_int_eq(f.event, 1);
        ck_assert_ptr_nonnull(strstr(f.msg, "unverifiable"));
        ck_assert_int_eq(dw_boot_policy_check_log(off, h, enabled.data, enabled.size, collect, &f, NULL), 1);
        ck_assert_int_eq(dw_boot_policy_check_log(off, h, disabled.data, disabled.size, collect, &f, NULL), 0);
        ck_assert_int_eq(dw_boot_policy_check_log(off, h, bios.data, bios.size, collect, &f, NULL), 0);

        /* The boot application by its digest. */
        ck_assert_int_ge(dw_hash_buf(h, DW_HASH_SHA256, "shimx64.efi", 11, app), 0);
        {
                char hex[65];

                dw_hex_encode(app, 32, hex);
                snprintf(json, sizeof(json),
                         "{\"driftwatch_boot_policy\": 1, \"events\": {\"EV_EFI_BOOT_SERVICES_APPLICATION\": "
                         "[\"sha1:%040d\", \"sha256:%s\"]}}",
                         0, hex);
                apps = boot_policy_from(json);
        }
        ck_assert_int_eq(dw_boot_policy_check_log(apps, h, enabled.data, enabled.size, collect, &f, NULL), 0);
        dw_boot_policy_free(apps);
        apps = boot_policy_from("{\"driftwatch_boot_policy\": 1, \"events\": {\"EV_EFI_BOOT_SERVICES_APPLICATION\": "
                                "[], \"0x80000001\": []}}");
        ck_assert_int_eq(dw_boot_policy_check_log(apps, h, enabled.data, enabled.size, collect, &f, NULL), 2);
        ck_assert_int_eq(f.kind, DW_BOOT_EVENT_DIGEST);
        ck_assert_int_eq(f.event, 2);
        ck_assert_str_eq(f.rule, "events.EV_EFI_BOOT_SERVICES_APPLICATION");
        ck_assert_uint_eq(f.digest_len, 32);
        ck_assert_mem_eq(f.digest, app, 32);

        blob_done(&enabled);
        blob_done(&disabled);
        blob_done(&forged);
        blob_done(&odd);
        blob_done(&bios);
}
END_TEST

START_TEST(test_boot_policy_load)
{
        static const struct {
                const char *json;
                int error;
                const char *where;
        } cases[] = {
                {"{\"driftwatch_boot_policy\": 1}", 0, NULL},
                {"{\"driftwatch_boot_policy\": 1, \"meta\": {\"name\": \"x\", \"anything\": [1]}}", 0, NULL},
                {"{\"driftwatch_boot_policy\": 2}", -EOPNOTSUPP, "$.driftwatch_boot_policy"},
                {"{\"driftwatch_boot_policy\": \"1\"}", -EBADMSG, "$.driftwatch_boot_policy"},
                {"{}", -EBADMSG, "$"},
                {"[]", -EBADMSG, "$"},
                {"{\"driftwatch_boot_policy\": 1, \"pcr\": {}}", -EBADMSG, "$"},
                {"{\"driftwatch_boot_policy\": 1, \"pcrs\": {\"md5\": {}}}", -EBADMSG, "$.pcrs[\"md5\"]"},
                {"{\"driftwatch_boot_policy\": 1, \"pcrs\": {\"sha256\": {\"24\": \"00\"}}}", -EBADMSG,
                 "$.pcrs[\"sha256\"][\"24\"]"},
                {"{\"driftwatch_boot_policy\": 1, \"pcrs\": {\"sha256\": {\"07\": \"00\"}}}", -EBADMSG,
                 "$.pcrs[\"sha256\"][\"07\"]"},
                {"{\"driftwatch_boot_policy\": 1, \"pcrs\": {\"sha1\": {\"0\": \"00\"}}}", -EBADMSG,
                 "$.pcrs[\"sha1\"][\"0\"]"},
                {"{\"driftwatch_boot_policy\": 1, \"pcrs\": {\"sha1\": {\"0\": "
                 "\"000000000000000000000000000000000000000g\"}}}",
                 -EBADMSG, "$.pcrs[\"sha1\"][\"0\"]"},
                {"{\"driftwatch_boot_policy\": 1, \"pcrs\": {\"sha1\": {\"7\": "
                 "\"0000000000000000000000000000000000000000\"}}}",
                 0, NULL},
                {"{\"driftwatch_boot_policy\": 1, \"events\": {\"EV_NOPE\": []}}", -EBADMSG, "$.events[\"EV_NOPE\"]"},
                {"{\"driftwatch_boot_policy\": 1, \"events\": {\"EV_NO_ACTION\": []}}", -EBADMSG,
                 "$.events[\"EV_NO_ACTION\"]"},
                {"{\"driftwatch_boot_policy\": 1, \"events\": {\"EV_IPL\": [\"sha256:00\"]}}", -EBADMSG,
                 "$.events[\"EV_IPL\"][0]"},
                {"{\"driftwatch_boot_policy\": 1, \"events\": {\"EV_IPL\": [], \"0x0000000d\": []}}", -EBADMSG,
                 "$.events[\"0x0000000d\"]"},
                {"{\"driftwatch_boot_policy\": 1, \"events\": {\"EV_IPL\": \"x\"}}", -EBADMSG, "$.events[\"EV_IPL\"]"},
                {"{\"driftwatch_boot_policy\": 1, \"secure_boot\": 1}", -EBADMSG, "$.secure_boot"},
                {"{\"driftwatch_boot_policy\": 1, \"secure_boot\": true, \"secure_boot\": false}", -EBADMSG, ""},
                {"{\"driftwatch_boot_policy\": 1,", -EBADMSG, ""},
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                struct dw_boot_policy *p = NULL;
                struct dw_policy_error err = {};
                int r = dw_boot_policy_load(cases[i].json, strlen(cases[i].json), &p, &err);

                ck_assert_msg(r == cases[i].error, "case %zu: %d (%s: %s)", i, r, err.where, err.msg);
                if (r == 0) {
                        ck_assert_ptr_nonnull(p);
                        dw_boot_policy_free(p);
                        continue;
                }
                ck_assert_ptr_null(p);
                ck_assert_msg(err.msg[0], "case %zu: no message", i);
                if (cases[i].where)
                        ck_assert_msg(strcmp(err.where, cases[i].where) == 0, "case %zu: where %s, expected %s", i,
                                      err.where, cases[i].where);
        }
}
END_TEST

START_TEST(test_boot_policy_info)
{
        struct dw_boot_policy_info info;

        dw_boot_policy_get_info(F.boot_policy, &info);
        ck_assert_str_eq(info.name, "seabios round fixtures");
        ck_assert_uint_eq(info.n_golden, 8);
        ck_assert_uint_eq(info.n_event_types, 1);
        ck_assert_uint_eq(info.n_event_digests, 2);
        ck_assert(info.checks_secure_boot);
        ck_assert(!info.secure_boot);
}
END_TEST

int main(void)
{
        /* libtss2-mu logs every unmarshalling failure on stderr; the fuzz tests make thousands. */
        setenv("TSS2_LOG", "all+NONE", 0);
        Suite *s = suite_create("attest-round");
        TCase *clean = tcase_create("clean"), *ima = tcase_create("ima"), *quote = tcase_create("quote"),
              *boot = tcase_create("boot"), *state = tcase_create("state"), *bad = tcase_create("bad-input");
        TCase *all[] = {clean, ima, quote, boot, state, bad};
        SRunner *sr;
        int failed;

        for (size_t i = 0; i < ELEMENTSOF(all); i++) {
                tcase_add_checked_fixture(all[i], setup, teardown);
                tcase_set_timeout(all[i], 300);
                suite_add_tcase(s, all[i]);
        }
        tcase_add_test(clean, test_clean_first_round);
        tcase_add_test(clean, test_log_ahead_of_quote);
        tcase_add_test(clean, test_serialized_state_resumes);
        tcase_add_test(clean, test_no_new_entries);
        tcase_add_test(clean, test_sha256_digest_log);
        tcase_add_test(clean, test_unknown_executable_sticky);
        tcase_add_test(clean, test_reasons_bounded);
        tcase_add_test(clean, test_no_policies);

        tcase_add_test(ima, test_tampered_entry);
        tcase_add_test(ima, test_dropped_entry);
        tcase_add_test(ima, test_ima_index_gap);
        tcase_add_test(ima, test_incomplete_tail);

        tcase_add_test(quote, test_replayed_nonce);
        tcase_add_test(quote, test_wrong_ak);
        tcase_add_test(quote, test_pcr_values_tampered);
        tcase_add_test(quote, test_missing_evidence);
        tcase_add_test(quote, test_clock_rewind);
        tcase_add_test(quote, test_quote_selection);
        tcase_add_test(quote, test_reboot);
        tcase_add_test(quote, test_event_chain);

        tcase_add_test(boot, test_boot_log_mismatch);
        tcase_add_test(boot, test_boot_golden_mismatch);
        tcase_add_test(boot, test_boot_events_and_secure_boot);
        tcase_add_test(boot, test_boot_aggregate);
        tcase_add_test(boot, test_boot_pcrs_changed);
        tcase_add_test(boot, test_secure_boot);
        tcase_add_test(boot, test_boot_policy_load);
        tcase_add_test(boot, test_boot_policy_info);

        tcase_add_test(state, test_state_blob);
        tcase_add_test(state, test_state_blob_v1);
        tcase_add_test(state, test_rejudge_drops_and_adds);
        tcase_add_test(state, test_rejudge_keeps_other_failures);
        tcase_add_test(state, test_rejudge_bad_input);
        tcase_add_test(state, test_state_small);
        tcase_add_test(state, test_verdict_helper);
        tcase_add_test(state, test_caller_errors);
        tcase_add_test(state, test_aliasing_and_untouched_input);
        tcase_add_test(state, test_pcr_selection);
        tcase_add_test(state, test_result_json);

        tcase_add_test(bad, test_truncated_evidence);
        tcase_add_test(bad, test_fuzzed_evidence);

        sr = srunner_create(s);
        srunner_run_all(sr, CK_NORMAL);
        failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
