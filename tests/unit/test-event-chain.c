/* SPDX-License-Identifier: MIT */
/* Tests of lib/event-chain.c: the canonical encodings against a golden vector assembled by hand from
 * docs/events.md (its hashes computed independently with Python's hashlib), round trips, the chain across batches,
 * and every verdict of the verifier (gap, fork, reordering, tampering, bad signatures, replays, TPM resets), with
 * batches signed here by an OpenSSL P-256 key the way TPM2_Sign signs them; then thousands of mutations of binary
 * and JSON input, which must never crash (also run under ASan+UBSan). */

#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <tss2/tss2_mu.h>

#include "event-chain.h"
#include "hex.h"
#include "macro.h"
#include "tpm-marshal.h"

/* ---- the golden vector (docs/events.md, "Example") ------------------------------------------------------------ */

#define GOLDEN_GATEWAY "gw-test-01"
#define GOLDEN_RESET   7
#define GOLDEN_BOOT    "00112233-4455-6677-8899-aabbccddeeff"

/* Event 0 of the golden chain, byte by byte. */
static const uint8_t golden_event0[] = {
        0x01,                                                            /* version */
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,                  /* seq 0 */
        0x00, 0x06, 0x0a, 0x24, 0x18, 0x20, 0x22, 0x40,                  /* realtime_usec 1700000000123456 */
        0x00, 0x00, 0x00, 0x00, 0x00, 0x4c, 0x4b, 0x40,                  /* monotonic_usec 5000000 */
        0x02,                                                            /* severity warning */
        0x0a, 'd',  'r',  'i',  'f',  't',  '_',  'e',  'x',  'e',  'c', /* kind */
        0x03,                                                            /* 3 fields, keys ascending */
        0x05, 'd',  'e',  'l',  't',  'a',  0x02, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe, /* delta: int -2 */
        0x04, 'p',  'a',  't',  'h',  0x01, 0x00, 0x0e, '/',  'u',  's',  'r',  '/',  'b',  'i',
        'n',  '/',  0xc3, 0xa9, 'v',  'i',  'l',                                      /* path: "/usr/bin/évil" */
        0x03, 'p',  'i',  'd',  0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x10, 0x92, /* pid: int 4242 */
};

static const uint8_t golden_event1[] = {
        0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, /* version, seq 1 */
        0x00, 0x06, 0x0a, 0x24, 0x18, 0x21, 0xa8, 0xe0,       /* realtime_usec 1700000000223456 */
        0x00, 0x00, 0x00, 0x00, 0x00, 0x4d, 0xd1, 0xe0,       /* monotonic_usec 5100000 */
        0x00,                                                 /* severity info */
        0x0d, 'm',  'o',  'n',  'i',  't',  'o',  'r',  '_',  's', 't', 'a', 'r', 't', /* kind */
        0x00,                                                                          /* no fields */
};

/* SHA-256("driftwatch-event-chain-v1" || 0a "gw-test-01" 00000007 00112233445566778899aabbccddeeff) */
#define GOLDEN_GENESIS "e2174215d3079a4402d2c800f0c246ad0f947b7c5154e21dde992264a757f3fc"
#define GOLDEN_HEAD0   "2d18624d1115934081ebcc7d82347f6f8b7865056993fe1ddae6d23f391e3c29"
#define GOLDEN_HEAD1   "323dba6c112890fe8bd459cd07c4811fd4cda49da0dd42fcec53bd6d01b0f481"
/* SHA-256 of the 249-byte batch of both events, and the NV value after extending its head once. */
#define GOLDEN_DIGEST "94b85f97e82459305c61cdba5e273a04440010cb876c734465bd5626f0fceb33"
#define GOLDEN_NV1    "019bf800e8ee73b4b79efa10154d52d4e62d6bbf7411c4e9f560def48c3dd8b4"
/* An ECDSA TPMT_SIGNATURE with r = 01..20, s = 21..40 (not a valid signature: for the JSON form only). */
#define GOLDEN_SIG "ABgACwAgAQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyAAICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj9A"

static const char golden_json[] =
        "{\"version\":1,\"chain\":{\"gateway_id\":\"gw-test-01\",\"reset_count\":7,"
        "\"boot_id\":\"00112233-4455-6677-8899-aabbccddeeff\"},\"first_seq\":0,"
        "\"prev_head\":\"" GOLDEN_GENESIS "\",\"events\":["
        "{\"seq\":0,\"realtime_usec\":1700000000123456,\"monotonic_usec\":5000000,\"kind\":\"drift_exec\","
        "\"severity\":\"warning\",\"fields\":{\"delta\":-2,\"path\":\"/usr/bin/\xc3\xa9vil\",\"pid\":4242}},"
        "{\"seq\":1,\"realtime_usec\":1700000000223456,\"monotonic_usec\":5100000,\"kind\":\"monitor_start\","
        "\"severity\":\"info\",\"fields\":{}}],"
        "\"head\":\"" GOLDEN_HEAD1 "\",\"signature\":\"" GOLDEN_SIG "\"}";

/* ---- helpers ------------------------------------------------------------------------------------------------ */

static void hex_of(const uint8_t *data, size_t size, char *out)
{
        dw_hex_encode(data, size, out);
}

static void chain_id(struct dw_event_chain_id *id, const char *gateway, uint32_t reset, uint8_t boot_byte)
{
        uint8_t boot[DW_EVENT_BOOT_ID_SIZE];

        memset(boot, boot_byte, sizeof(boot));
        ck_assert_int_eq(dw_event_chain_id_init(id, gateway, reset, boot), 0);
}

static void golden_chain_id(struct dw_event_chain_id *id)
{
        uint8_t boot[DW_EVENT_BOOT_ID_SIZE];

        ck_assert_int_eq(dw_event_boot_id_parse(GOLDEN_BOOT, strlen(GOLDEN_BOOT), boot), 0);
        ck_assert_int_eq(dw_event_chain_id_init(id, GOLDEN_GATEWAY, GOLDEN_RESET, boot), 0);
}

static struct dw_event *golden_event(unsigned i)
{
        struct dw_event *ev = NULL;

        if (i == 0) {
                ck_assert_int_eq(dw_event_new("drift_exec", DW_EVENT_WARNING, &ev), 0);
                ev->realtime_usec = 1700000000123456;
                ev->monotonic_usec = 5000000;
                /* added out of order: the event keeps them sorted */
                ck_assert_int_eq(dw_event_add_int(ev, "pid", 4242), 0);
                ck_assert_int_eq(dw_event_add_string(ev, "path", "/usr/bin/\xc3\xa9vil", 14), 0);
                ck_assert_int_eq(dw_event_add_int(ev, "delta", -2), 0);
        } else {
                ck_assert_int_eq(dw_event_new("monitor_start", DW_EVENT_INFO, &ev), 0);
                ev->seq = 1;
                ev->realtime_usec = 1700000000223456;
                ev->monotonic_usec = 5100000;
        }
        return ev;
}

/* An event of the monitor's kinds, a little different for each i. */
static struct dw_event *some_event(unsigned i)
{
        static const char *const kinds[] = {"ima_policy_violation", "pcr_log_mismatch", "drift_exec", "tpm_error",
                                            "config_change"};
        struct dw_event *ev = NULL;
        char path[64];

        ck_assert_int_eq(dw_event_new(kinds[i % ELEMENTSOF(kinds)], (enum dw_event_severity)(i % 5), &ev), 0);
        ev->realtime_usec = 1700000000000000 + i * 1000;
        ev->monotonic_usec = 1000000 + i;
        snprintf(path, sizeof(path), "/usr/lib/x%u.so", i);
        ck_assert_int_eq(dw_event_add_string(ev, "path", path, strlen(path)), 0);
        ck_assert_int_eq(dw_event_add_int(ev, "pid", 100 + i), 0);
        if (i % 2)
                ck_assert_int_eq(dw_event_add_string(ev, "rule", "not_in_allowlist", 16), 0);
        return ev;
}

static EVP_PKEY *new_key(void)
{
        EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");

        ck_assert_ptr_nonnull(k);
        return k;
}

/* ECDSA over the digest itself, as TPM2_Sign does, wrapped as a TPMT_SIGNATURE. */
static void sign_digest(EVP_PKEY *key, const uint8_t digest[32], TPMT_SIGNATURE *sig)
{
        EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new(key, NULL);
        unsigned char der[128];
        const unsigned char *p = der;
        size_t der_size = sizeof(der);
        ECDSA_SIG *es;

        ck_assert_ptr_nonnull(ctx);
        ck_assert_int_eq(EVP_PKEY_sign_init(ctx), 1);
        ck_assert_int_eq(EVP_PKEY_sign(ctx, der, &der_size, digest, 32), 1);
        EVP_PKEY_CTX_free(ctx);
        es = d2i_ECDSA_SIG(NULL, &p, (long)der_size);
        ck_assert_ptr_nonnull(es);
        *sig = (TPMT_SIGNATURE){.sigAlg = TPM2_ALG_ECDSA};
        sig->signature.ecdsa.hash = TPM2_ALG_SHA256;
        sig->signature.ecdsa.signatureR.size = 32;
        sig->signature.ecdsa.signatureS.size = 32;
        BN_bn2binpad(ECDSA_SIG_get0_r(es), sig->signature.ecdsa.signatureR.buffer, 32);
        BN_bn2binpad(ECDSA_SIG_get0_s(es), sig->signature.ecdsa.signatureS.buffer, 32);
        ECDSA_SIG_free(es);
}

static void sign_batch(EVP_PKEY *key, struct dw_event_batch *b)
{
        uint8_t digest[32];
        TPMT_SIGNATURE sig;

        ck_assert_int_eq(dw_event_batch_digest(b, digest), 0);
        sign_digest(key, digest, &sig);
        ck_assert_int_eq(dw_event_batch_set_signature(b, &sig), 0);
}

/* The next n events of the chain, in a batch signed with key (not signed when key is NULL). */
static struct dw_event_batch *next_batch(struct dw_event_chain *c, unsigned n, EVP_PKEY *key)
{
        struct dw_event_batch *b = NULL;

        ck_assert_int_eq(dw_event_batch_new(c, &b), 0);
        for (unsigned i = 0; i < n; i++) {
                struct dw_event *ev = some_event((unsigned)c->next_seq);

                ck_assert_int_eq(dw_event_chain_append(c, b, ev), 0);
        }
        if (key)
                sign_batch(key, b);
        return b;
}

static char *to_json(const struct dw_event_batch *b)
{
        char *s = NULL;

        ck_assert_int_eq(dw_event_batch_format_json(b, &s), 0);
        return s;
}

/* Verifies the JSON text of b; returns the verdict, the result in *res. */
static enum dw_event_verdict verify(const struct dw_event_verify_state *s, EVP_PKEY *key,
                                    const struct dw_event_batch *b, unsigned flags, struct dw_event_verify_result *res)
{
        _cleanup_free_ char *text = to_json(b);
        struct dw_event_verify_state before = *s;

        ck_assert_int_eq(dw_event_verify_batch_json(s, key, text, strlen(text), flags, res, NULL), 0);
        ck_assert_msg(memcmp(&before, s, sizeof(before)) == 0, "the input state was modified");
        return res->verdict;
}

static enum dw_event_verdict verify_text(const struct dw_event_verify_state *s, EVP_PKEY *key, const char *text,
                                         struct dw_event_verify_result *res)
{
        ck_assert_int_eq(dw_event_verify_batch_json(s, key, text, strlen(text), 0, res, NULL), 0);
        return res->verdict;
}

#define ck_verdict(got, want, res)                                                                                     \
        ck_assert_msg((got) == (want), "verdict %s, wanted %s: %s", dw_event_verdict_name(got),                        \
                      dw_event_verdict_name(want), (res)->msg)

/* Replaces the first occurrence of from by to in s (same length or shorter), in place. */
static void replace(char *s, const char *from, const char *to)
{
        char *p = strstr(s, from);
        size_t fl = strlen(from), tl = strlen(to);

        ck_assert_ptr_nonnull(p);
        ck_assert_uint_le(tl, fl);
        memcpy(p, to, tl);
        memmove(p + tl, p + fl, strlen(p + fl) + 1);
}

/* A TPMS_ATTEST of an NV certification of value at resetCount reset. */
static void nv_attest(TPMS_ATTEST *a, uint32_t reset, const uint8_t *value, uint16_t size)
{
        *a = (TPMS_ATTEST){.magic = TPM2_GENERATED_VALUE, .type = TPM2_ST_ATTEST_NV};
        a->clockInfo.resetCount = reset;
        a->attested.nv.nvContents.size = size;
        memcpy(a->attested.nv.nvContents.buffer, value, size);
}

/* ---- events ------------------------------------------------------------------------------------------------- */

START_TEST(test_event_build)
{
        _cleanup_(dw_event_freep) struct dw_event *ev = NULL;
        const struct dw_event_field *f;
        char big[DW_EVENT_VALUE_MAX + 2];

        ck_assert_int_eq(dw_event_new("Drift", DW_EVENT_INFO, &ev), -EINVAL);
        ck_assert_int_eq(dw_event_new("1drift", DW_EVENT_INFO, &ev), -EINVAL);
        ck_assert_int_eq(dw_event_new("", DW_EVENT_INFO, &ev), -EINVAL);
        ck_assert_int_eq(dw_event_new("drift-exec", DW_EVENT_INFO, &ev), -EINVAL);
        ck_assert_int_eq(dw_event_new("drift_exec", _DW_EVENT_SEVERITY_MAX, &ev), -EINVAL);
        memset(big, 'a', DW_EVENT_KIND_MAX + 1);
        big[DW_EVENT_KIND_MAX + 1] = '\0';
        ck_assert_int_eq(dw_event_new(big, DW_EVENT_INFO, &ev), -EINVAL);
        big[DW_EVENT_KIND_MAX] = '\0';
        ck_assert_int_eq(dw_event_new(big, DW_EVENT_INFO, &ev), 0);
        dw_event_free(TAKE_PTR(ev));
        ck_assert_ptr_null(ev);

        ck_assert_int_eq(dw_event_new("drift_exec", DW_EVENT_CRITICAL, &ev), 0);
        ck_assert_int_eq(dw_event_add_string(ev, "path", "/bin/sh", 7), 0);
        ck_assert_int_eq(dw_event_add_int(ev, "path", 1), -EEXIST);
        ck_assert_int_eq(dw_event_add_int(ev, "Pid", 1), -EINVAL);
        ck_assert_int_eq(dw_event_add_int(ev, "p.id", 1), -EINVAL);
        ck_assert_int_eq(dw_event_add_string(ev, "a", "x\0y", 3), -EINVAL);             /* NUL */
        ck_assert_int_eq(dw_event_add_string(ev, "a", "\xc0\x80", 2), -EINVAL);         /* overlong NUL */
        ck_assert_int_eq(dw_event_add_string(ev, "a", "\xe0\x80\xaf", 3), -EINVAL);     /* overlong '/' */
        ck_assert_int_eq(dw_event_add_string(ev, "a", "\xed\xa0\x80", 3), -EINVAL);     /* surrogate */
        ck_assert_int_eq(dw_event_add_string(ev, "a", "\xf4\x90\x80\x80", 4), -EINVAL); /* > U+10FFFF */
        ck_assert_int_eq(dw_event_add_string(ev, "a", "\xe2\x82", 2), -EINVAL);         /* truncated */
        ck_assert_int_eq(dw_event_add_string(ev, "a", "\xff", 1), -EINVAL);
        ck_assert_int_eq(dw_event_add_string(ev, "a", "\xf0\x9f\x98\x80 \xe2\x82\xac", 8), 0); /* U+1F600, U+20AC */
        memset(big, 'x', sizeof(big));
        ck_assert_int_eq(dw_event_add_string(ev, "b", big, DW_EVENT_VALUE_MAX + 1), -E2BIG);
        ck_assert_int_eq(dw_event_add_string(ev, "b", big, DW_EVENT_VALUE_MAX), 0);
        ck_assert_int_eq(dw_event_add_string(ev, "c", "", 0), 0);
        ck_assert_uint_eq(ev->n_fields, 4);
        ck_assert_str_eq(ev->fields[0].key, "a");
        ck_assert_str_eq(ev->fields[1].key, "b");
        ck_assert_str_eq(ev->fields[2].key, "c");
        ck_assert_str_eq(ev->fields[3].key, "path");
        f = dw_event_get(ev, "path");
        ck_assert_ptr_nonnull(f);
        ck_assert_str_eq(f->str, "/bin/sh");
        ck_assert_ptr_null(dw_event_get(ev, "pid"));
        for (int i = 0; i < DW_EVENT_FIELDS_MAX - 4; i++) {
                char key[16];

                snprintf(key, sizeof(key), "k%02d", i);
                ck_assert_int_eq(dw_event_add_int(ev, key, i), 0);
        }
        ck_assert_int_eq(dw_event_add_int(ev, "zz", 1), -E2BIG);
        ck_assert_int_eq(dw_event_add_bytes(ev, "zz", "x", 1), -E2BIG);
        ck_assert_uint_eq(ev->n_fields, DW_EVENT_FIELDS_MAX);
        ck_assert_int_eq(dw_event_validate(ev, NULL), 0);
        ev->seq = (uint64_t)INT64_MAX + 1;
        ck_assert_int_eq(dw_event_validate(ev, NULL), -EINVAL);
}
END_TEST

START_TEST(test_event_bytes)
{
        _cleanup_(dw_event_freep) struct dw_event *ev = NULL;
        _cleanup_free_ uint8_t *raw = malloc(3 * DW_EVENT_VALUE_MAX);
        const struct dw_event_field *f;

        ck_assert_int_eq(dw_event_new("drift_exec", DW_EVENT_WARNING, &ev), 0);
        ck_assert_int_eq(dw_event_add_bytes(ev, "a", "/tmp/\xff\x00x\\y\xc3\xa9\xe2\x82", 14), 0);
        f = dw_event_get(ev, "a");
        ck_assert_str_eq(f->str, "/tmp/\\xff\\x00x\\\\y\xc3\xa9\\xe2\\x82");
        ck_assert(dw_event_utf8_valid(f->str, f->str_len));

        /* too long: cut at a character boundary, with "..." */
        memset(raw, 0xfe, 3 * DW_EVENT_VALUE_MAX);
        ck_assert_int_eq(dw_event_add_bytes(ev, "b", raw, 3 * DW_EVENT_VALUE_MAX), 0);
        f = dw_event_get(ev, "b");
        ck_assert_uint_le(f->str_len, DW_EVENT_VALUE_MAX);
        ck_assert_uint_eq(f->str_len, (DW_EVENT_VALUE_MAX - 3) / 4 * 4 + 3);
        ck_assert_str_eq(f->str + f->str_len - 7, "\\xfe...");
        memset(raw, 'q', DW_EVENT_VALUE_MAX);
        ck_assert_int_eq(dw_event_add_bytes(ev, "c", raw, DW_EVENT_VALUE_MAX), 0); /* fits exactly: not cut */
        ck_assert_uint_eq(dw_event_get(ev, "c")->str_len, DW_EVENT_VALUE_MAX);
        ck_assert_int_eq(dw_event_add_bytes(ev, "d", raw, DW_EVENT_VALUE_MAX + 1), 0);
        ck_assert_uint_eq(dw_event_get(ev, "d")->str_len, DW_EVENT_VALUE_MAX);
        ck_assert_str_eq(dw_event_get(ev, "d")->str + DW_EVENT_VALUE_MAX - 4, "q...");
        ck_assert_int_eq(dw_event_add_bytes(ev, "e", NULL, 0), 0);
        ck_assert_int_eq(dw_event_validate(ev, NULL), 0);
}
END_TEST

START_TEST(test_golden_event)
{
        _cleanup_(dw_event_freep) struct dw_event *e0 = golden_event(0), *e1 = golden_event(1), *back = NULL;
        _cleanup_free_ uint8_t *buf = NULL;
        size_t size;

        ck_assert_int_eq(dw_event_encode(e0, &buf, &size), 0);
        ck_assert_uint_eq(size, sizeof(golden_event0));
        ck_assert_mem_eq(buf, golden_event0, size);
        free(TAKE_PTR(buf));
        ck_assert_int_eq(dw_event_encode(e1, &buf, &size), 0);
        ck_assert_uint_eq(size, sizeof(golden_event1));
        ck_assert_mem_eq(buf, golden_event1, size);

        ck_assert_int_eq(dw_event_decode(golden_event0, sizeof(golden_event0), &back, NULL), 0);
        ck_assert(dw_event_equal(back, e0));
        ck_assert_int_eq(back->fields[0].num, -2);
        ck_assert_str_eq(back->fields[1].str, "/usr/bin/\xc3\xa9vil");
}
END_TEST

START_TEST(test_golden_chain)
{
        struct dw_event_chain_id id;
        struct dw_event_chain c;
        _cleanup_(dw_event_batch_freep) struct dw_event_batch *b = NULL, *back = NULL;
        _cleanup_free_ uint8_t *buf = NULL;
        _cleanup_free_ char *json = NULL;
        uint8_t digest[32], nv[32], sig[128];
        char hex[65], boot[37];
        size_t size;

        golden_chain_id(&id);
        ck_assert_str_eq(dw_event_boot_id_format(id.boot_id, boot), GOLDEN_BOOT);
        ck_assert_int_eq(dw_event_chain_genesis(&id, digest), 0);
        hex_of(digest, 32, hex);
        ck_assert_str_eq(hex, GOLDEN_GENESIS);
        ck_assert_int_eq(dw_event_chain_init(&c, &id), 0);
        ck_assert_int_eq(dw_event_batch_new(&c, &b), 0);
        ck_assert_int_eq(dw_event_chain_append(&c, b, golden_event(0)), 0);
        hex_of(c.head, 32, hex);
        ck_assert_str_eq(hex, GOLDEN_HEAD0);
        ck_assert_int_eq(dw_event_chain_append(&c, b, golden_event(1)), 0);
        hex_of(c.head, 32, hex);
        ck_assert_str_eq(hex, GOLDEN_HEAD1);
        ck_assert_mem_eq(b->head, c.head, 32);
        ck_assert_uint_eq(c.next_seq, 2);

        ck_assert_int_eq(dw_event_batch_encode(b, &buf, &size), 0);
        ck_assert_uint_eq(size, 249);
        ck_assert_uint_eq(b->encoded_size, 249);
        ck_assert_mem_eq(buf + 4 + 1 + 31 + 8 + 4 + 32 + 4, golden_event0, sizeof(golden_event0));
        ck_assert_int_eq(dw_event_batch_digest(b, digest), 0);
        hex_of(digest, 32, hex);
        ck_assert_str_eq(hex, GOLDEN_DIGEST);
        ck_assert_int_eq(dw_event_nv_extend(NULL, b->head, nv), 0);
        hex_of(nv, 32, hex);
        ck_assert_str_eq(hex, GOLDEN_NV1);

        /* The JSON form, with a fixed signature: stable, byte for byte. */
        ck_assert_int_eq(dw_hex_decode("0018000b0020", 12, sig, 6), 6);
        for (int i = 0; i < 32; i++)
                sig[6 + i] = (uint8_t)(1 + i), sig[40 + i] = (uint8_t)(0x21 + i);
        sig[38] = 0x00, sig[39] = 0x20;
        ck_assert_int_eq(dw_event_batch_set_signature_marshalled(b, sig, 72, NULL), 0);
        json = to_json(b);
        ck_assert_str_eq(json, golden_json);
        ck_assert_int_eq(dw_event_batch_parse_json(golden_json, strlen(golden_json), &back, NULL), 0);
        ck_assert_uint_eq(back->n_events, 2);
        ck_assert(dw_event_equal(back->events[0], b->events[0]));
        ck_assert(dw_event_equal(back->events[1], b->events[1]));
        ck_assert_mem_eq(back->head, b->head, 32);
        ck_assert_uint_eq(back->encoded_size, 249);
        free(TAKE_PTR(json));
        json = to_json(back);
        ck_assert_str_eq(json, golden_json);
}
END_TEST

START_TEST(test_roundtrips)
{
        struct dw_event_chain_id id;
        struct dw_event_chain c;
        _cleanup_(dw_pkey_freep) EVP_PKEY *key = new_key();
        _cleanup_(dw_event_batch_freep) struct dw_event_batch *b = NULL, *bin = NULL, *js = NULL;
        _cleanup_free_ uint8_t *buf = NULL, *buf2 = NULL;
        _cleanup_free_ char *json = NULL;
        size_t size, size2;

        chain_id(&id, "gateway.example/17", 3, 0x5a);
        ck_assert_int_eq(dw_event_chain_init(&c, &id), 0);
        b = next_batch(&c, 40, key);
        ck_assert_int_eq(dw_event_batch_encode(b, &buf, &size), 0);
        ck_assert_uint_eq(size, b->encoded_size);
        ck_assert_int_eq(dw_event_batch_decode(buf, size, &bin, NULL), 0);
        ck_assert_int_eq(dw_event_batch_encode(bin, &buf2, &size2), 0);
        ck_assert_uint_eq(size, size2);
        ck_assert_mem_eq(buf, buf2, size);
        json = to_json(b);
        ck_assert_int_eq(dw_event_batch_parse_json(json, strlen(json), &js, NULL), 0);
        ck_assert(js->has_signature);
        ck_assert_mem_eq(&js->signature.signature.ecdsa, &b->signature.signature.ecdsa,
                         sizeof(b->signature.signature.ecdsa));
        for (size_t i = 0; i < b->n_events; i++) {
                _cleanup_free_ uint8_t *e = NULL;
                _cleanup_(dw_event_freep) struct dw_event *back = NULL;
                json_t *j;
                size_t es;

                ck_assert(dw_event_equal(b->events[i], bin->events[i]));
                ck_assert(dw_event_equal(b->events[i], js->events[i]));
                ck_assert_int_eq(dw_event_encode(b->events[i], &e, &es), 0);
                ck_assert_int_eq(dw_event_to_json(b->events[i], &j), 0);
                ck_assert_int_eq(dw_event_from_json(j, &back, NULL), 0);
                json_decref(j);
                ck_assert(dw_event_equal(back, b->events[i]));
        }

        /* member order and whitespace are free */
        {
                const char *text =
                        "  {\"head\":\"" GOLDEN_HEAD1 "\", \"events\":[{\"fields\":{\"pid\":4242,"
                        "\"path\":\"/usr/bin/\\u00e9vil\",\"delta\":-2},\"severity\":\"warning\","
                        "\"kind\":\"drift_exec\",\"monotonic_usec\":5000000,"
                        "\"realtime_usec\":1700000000123456,\"seq\":0},{\"seq\":1,\"realtime_usec\":"
                        "1700000000223456,\"monotonic_usec\":5100000,\"kind\":\"monitor_start\","
                        "\"severity\":\"info\",\"fields\":{}}],\n\"first_seq\":0,\"prev_head\":\"" GOLDEN_GENESIS
                        "\",\"chain\":{\"boot_id\":\"" GOLDEN_BOOT "\",\"reset_count\":7,\"gateway_id\":"
                        "\"gw-test-01\"},\"version\":1,\"signature\":\"" GOLDEN_SIG "\"}\n";
                _cleanup_(dw_event_batch_freep) struct dw_event_batch *o = NULL;
                _cleanup_free_ char *canon = NULL;

                ck_assert_int_eq(dw_event_batch_parse_json(text, strlen(text), &o, NULL), 0);
                canon = to_json(o);
                ck_assert_str_eq(canon, golden_json);
        }
}
END_TEST

/* Every strict prefix of an encoding fails to decode; one byte more fails too. */
START_TEST(test_decode_truncated)
{
        struct dw_event_chain_id id;
        struct dw_event_chain c;
        _cleanup_(dw_event_batch_freep) struct dw_event_batch *b = NULL;
        _cleanup_free_ uint8_t *buf = NULL;
        uint8_t longer[sizeof(golden_event0) + 1];
        size_t size;

        for (size_t n = 0; n < sizeof(golden_event0); n++) {
                _cleanup_free_ uint8_t *copy = malloc(n ? n : 1);
                struct dw_event *ev = NULL;

                memcpy(copy, golden_event0, n);
                ck_assert_int_lt(dw_event_decode(copy, n, &ev, NULL), 0);
                ck_assert_ptr_null(ev);
        }
        memcpy(longer, golden_event0, sizeof(golden_event0));
        longer[sizeof(golden_event0)] = 0;
        {
                struct dw_event *ev = NULL;
                struct dw_error err = {};

                ck_assert_int_eq(dw_event_decode(longer, sizeof(longer), &ev, &err), -EINVAL);
                ck_assert_str_eq(err.msg, "1 bytes after the event");
                ck_assert_uint_eq(err.offset, sizeof(golden_event0));
        }

        golden_chain_id(&id);
        ck_assert_int_eq(dw_event_chain_init(&c, &id), 0);
        b = next_batch(&c, 3, NULL);
        ck_assert_int_eq(dw_event_batch_encode(b, &buf, &size), 0);
        for (size_t n = 0; n < size; n++) {
                _cleanup_free_ uint8_t *copy = malloc(n ? n : 1);
                struct dw_event_batch *d = NULL;

                memcpy(copy, buf, n);
                ck_assert_int_lt(dw_event_batch_decode(copy, n, &d, NULL), 0);
                ck_assert_ptr_null(d);
        }
}
END_TEST

/* One-byte changes of the golden event that break a rule each. */
START_TEST(test_decode_malformed)
{
        static const struct {
                size_t offset;
                uint8_t value;
                const char *why;
        } cases[] = {
                {0, 0x02, "event encoding version 2 (this build reads 1)"},
                {0, 0x00, "event encoding version 0 (this build reads 1)"},
                {1, 0x80, "seq or time beyond 2^63-1"},
                {9, 0x80, "seq or time beyond 2^63-1"},
                {17, 0xff, "seq or time beyond 2^63-1"},
                {25, 0x05, "unknown severity 5"},
                {26, 0x00, "kind: not 1-64 characters of [a-z0-9_] starting with a letter"},
                {27, 'D', "kind: not 1-64 characters of [a-z0-9_] starting with a letter"},
                {32, '-', "kind: not 1-64 characters of [a-z0-9_] starting with a letter"},
                {37, 0x21, "field count 33: truncated or over 32"},
                {37, 0x02, "13 bytes after the event"},
                {38, 0x06, "field key: not 1-32 characters of [a-z0-9_] starting with a letter"},
                {39, 'q', "field 'path': keys not strictly ascending"},
                {44, 0x03, "field 'delta': unknown value type 3"},
                {44, 0x00, "field 'delta': unknown value type 0"},
                {59, 0xff, "field 'path': truncated"},
                {64, 0x00, "field 'path': not UTF-8 (or has NUL)"},
                {73, 0xc0, "field 'path': not UTF-8 (or has NUL)"},
                {71, 0x29, "field 'path': not UTF-8 (or has NUL)"},
                {79, 0x04, "field 'pid': unknown value type 4"},
                {77, 'a', "field 'pad': keys not strictly ascending"},
        };
        uint8_t buf[sizeof(golden_event0)];

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                struct dw_event *ev = NULL;
                struct dw_error err = {};
                int r;

                memcpy(buf, golden_event0, sizeof(buf));
                buf[cases[i].offset] = cases[i].value;
                r = dw_event_decode(buf, sizeof(buf), &ev, &err);
                ck_assert_msg(r < 0, "case %zu decoded", i);
                ck_assert_ptr_null(ev);
                ck_assert_msg(strcmp(err.msg, cases[i].why) == 0, "case %zu: '%s', wanted '%s'", i, err.msg,
                              cases[i].why);
        }
        /* a string over the limit */
        {
                _cleanup_free_ uint8_t *big = calloc(1, 64 + DW_EVENT_VALUE_MAX + 1);
                struct dw_event *ev = NULL;
                struct dw_error err = {};
                size_t o = 0;

                memcpy(big, golden_event1, 26);
                o = 26;
                big[o++] = 1, big[o++] = 'k', big[o++] = 1; /* kind "k", 1 field */
                big[o++] = 1, big[o++] = 'v', big[o++] = 1, big[o++] = (DW_EVENT_VALUE_MAX + 1) >> 8;
                big[o++] = (DW_EVENT_VALUE_MAX + 1) & 0xff;
                memset(big + o, 'x', DW_EVENT_VALUE_MAX + 1);
                o += DW_EVENT_VALUE_MAX + 1;
                ck_assert_int_eq(dw_event_decode(big, o, &ev, &err), -EINVAL);
                ck_assert_str_eq(err.msg, "field 'v': 4097 bytes, at most 4096");
                big[o - DW_EVENT_VALUE_MAX - 3] = DW_EVENT_VALUE_MAX >> 8;
                big[o - DW_EVENT_VALUE_MAX - 2] = DW_EVENT_VALUE_MAX & 0xff;
                ck_assert_int_eq(dw_event_decode(big, o - 1, &ev, &err), 0);
                dw_event_free(ev);
        }
}
END_TEST

START_TEST(test_json_malformed)
{
        static const struct {
                const char *from, *to, *why;
        } cases[] = {
                {"\"version\":1", "\"version\":2", "batch: version 2 (this build reads 1)"},
                {"\"version\":1,", "", "batch: no \"version\""},
                {"\"version\":1", "\"versio\":1", "batch: unknown member \"versio\""},
                {"\"first_seq\":0", "\"first_seq\":-1", "batch: \"first_seq\" is not an integer 0-9223372036854775807"},
                {"\"first_seq\":0", "\"first_seq\":0.0",
                 "batch: \"first_seq\" is not an integer 0-9223372036854775807"},
                {"\"first_seq\":0", "\"first_seq\":\"0\"",
                 "batch: \"first_seq\" is not an integer 0-9223372036854775807"},
                {"\"first_seq\":0", "\"first_seq\":1", "events[0]: seq is not 1 (first_seq + 0)"},
                {"\"reset_count\":7", "\"reset_count\":4294967296",
                 "chain: \"reset_count\" is not an integer 0-4294967295"},
                {"\"gateway_id\":\"gw-test-01\"", "\"gateway_id\":\"gw test01\"",
                 "chain: \"gateway_id\" is not 1-128 bytes of printable ASCII"},
                {"\"gateway_id\":\"gw-test-01\"", "\"gateway_id\":\"\"",
                 "chain: \"gateway_id\" is not 1-128 bytes of printable ASCII"},
                {"\"gateway_id\":\"gw-test-01\"", "\"gateway_id\":\"gw\\u0000x\"", "not JSON: \\u0000 is not allowed"},
                {"00112233-4455", "00112233-445A",
                 "chain: \"boot_id\" is not a lowercase UUID (8-4-4-4-12 hex digits)"},
                {"00112233-4455", "001122334-455",
                 "chain: \"boot_id\" is not a lowercase UUID (8-4-4-4-12 hex digits)"},
                {"\"prev_head\":\"e2", "\"prev_head\":\"E2", "batch: \"prev_head\" is not 64 lowercase hex digits"},
                {"\"head\":\"323d", "\"head\":\"323", "batch: \"head\" is not 64 lowercase hex digits"},
                {"\"kind\":\"drift_exec\"", "\"kind\":\"drift-exec\"",
                 "events[0]: \"kind\" is not 1-64 characters of [a-z0-9_] starting with a letter"},
                {"\"kind\":\"drift_exec\"", "\"kind\":\"drift\\u0000\"", "not JSON: \\u0000 is not allowed"},
                {"\"severity\":\"warning\"", "\"severity\":\"warn\"",
                 "events[0]: \"severity\" is not info, notice, warning, error or critical"},
                {"\"severity\":\"warning\"", "\"severity\":2", "events[0]: \"severity\" is missing or not a string"},
                {"\"delta\":-2", "\"Delta\":-2",
                 "events[0].fields.Delta: key is not 1-32 characters of [a-z0-9_] starting with a letter"},
                {"\"delta\":-2", "\"delta\":1.5", "events[0].fields.delta: not a string or an integer"},
                {"\"delta\":-2", "\"delta\":true", "events[0].fields.delta: not a string or an integer"},
                {"\"delta\":-2", "\"delta\":[]", "events[0].fields.delta: not a string or an integer"},
                {"\"delta\":-2", "\"pid\":-2", "not JSON: duplicate object key"},
                {"\"seq\":1,", "\"seq\":2,", "events[1]: seq is not 1 (first_seq + 1)"},
                {"\"seq\":1,", "", "events[1]: no \"seq\""},
                {",\"fields\":{}", "", "events[1]: \"fields\" is missing or not an object"},
                {",\"fields\":{}", ",\"fields\":{},\"x\":1", "events[1]: unknown member \"x\""},
                {"\"signature\":\"ABgA",
                 "\"signature\":\"ABg=", "signature: not canonical base64 (with padding) of at most"},
                {"Pj9A\"", "Pj9=\"", "signature: not canonical base64 (with padding) of at most"},
                {"Pj9A\"", "Pj9\"", "signature: not canonical base64 (with padding) of at most"},
                {"Pj9A\"", "Pj8=\"", "signature: not a marshalled TPMT_SIGNATURE"},
                {"Pj9A\"", "Pj9AAAAA\"", "signature: 3 trailing bytes after the TPMT_SIGNATURE"},
                {"\"signature\":\"ABgA", "\"signature\":\"AJkA", "signature: not a marshalled TPMT_SIGNATURE"},
                {"\"events\":[{", "\"events\":[], \"x\":[{", "batch: unknown member \"x\""},
        };
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                char text[sizeof(golden_json) + 64];
                char *p = strstr(golden_json, cases[i].from);
                struct dw_event_batch *b = NULL;
                struct dw_error err = {};
                size_t pre;

                ck_assert_msg(p, "case %zu: '%s' not in the golden JSON", i, cases[i].from);
                pre = (size_t)(p - golden_json);
                snprintf(text, sizeof(text), "%.*s%s%s", (int)pre, golden_json, cases[i].to, p + strlen(cases[i].from));
                ck_assert_msg(dw_event_batch_parse_json(text, strlen(text), &b, &err) < 0, "case %zu parsed", i);
                ck_assert_ptr_null(b);
                ck_assert_msg(strncmp(err.msg, cases[i].why, strlen(cases[i].why)) == 0, "case %zu: '%s', wanted '%s'",
                              i, err.msg, cases[i].why);
        }
        {
                static const char *const bad[] = {"",     "[]",
                                                  "1",    "{",
                                                  "{}",   "{\"version\":1}",
                                                  "null", "{\"version\":1,\"chain\":[],\"first_seq\":0}"};
                for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                        struct dw_event_batch *b = NULL;

                        ck_assert_int_lt(dw_event_batch_parse_json(bad[i], strlen(bad[i]), &b, NULL), 0);
                        ck_assert_ptr_null(b);
                }
        }
}
END_TEST

/* ---- the chain ---------------------------------------------------------------------------------------------- */

START_TEST(test_chain_append_errors)
{
        struct dw_event_chain_id id, other;
        struct dw_event_chain c, c2;
        _cleanup_(dw_event_batch_freep) struct dw_event_batch *b = NULL, *b2 = NULL, *full = NULL;
        _cleanup_(dw_pkey_freep) EVP_PKEY *key = new_key();
        struct dw_event *ev = some_event(0);
        char big[DW_EVENT_VALUE_MAX];
        uint8_t head[32];

        chain_id(&id, "gw", 1, 1);
        chain_id(&other, "gw", 2, 1);
        ck_assert_int_eq(dw_event_chain_init(&c, &id), 0);
        ck_assert_int_eq(dw_event_chain_init(&c2, &other), 0);
        ck_assert_int_eq(dw_event_batch_new(&c, &b), 0);
        ck_assert_int_eq(dw_event_chain_append(&c2, b, ev), -ESTALE); /* another chain */
        ev->seq = 77;
        ev->kind[0] = 'X';
        ck_assert_int_eq(dw_event_chain_append(&c, b, ev), -EINVAL);
        ck_assert_uint_eq(ev->seq, 77); /* unchanged on failure */
        ck_assert_uint_eq(c.next_seq, 0);
        ev->kind[0] = 'i';
        ck_assert_int_eq(dw_event_chain_append(&c, b, ev), 0);
        ck_assert_uint_eq(ev->seq, 0);
        ck_assert_int_eq(dw_event_batch_new(&c, &b2), 0);
        ck_assert_int_eq(dw_event_chain_append(&c, b2, some_event(1)), 0);
        ev = some_event(2);
        ck_assert_int_eq(dw_event_chain_append(&c, b, ev), -ESTALE); /* the chain moved on elsewhere */
        sign_batch(key, b2);
        ck_assert_int_eq(dw_event_chain_append(&c, b2, ev), -EBUSY);
        dw_event_free(ev);

        /* full: by count, then by size */
        ck_assert_int_eq(dw_event_batch_new(&c, &full), 0);
        for (unsigned i = 0; i < DW_EVENT_BATCH_EVENTS_MAX; i++) {
                struct dw_event *e = NULL;

                ck_assert_int_eq(dw_event_new("tick", DW_EVENT_INFO, &e), 0);
                ck_assert_int_eq(dw_event_chain_append(&c, full, e), 0);
        }
        memcpy(head, c.head, 32);
        ev = some_event(3);
        ck_assert_int_eq(dw_event_chain_append(&c, full, ev), -E2BIG);
        ck_assert_mem_eq(head, c.head, 32);
        dw_event_batch_free(TAKE_PTR(full));
        ck_assert_int_eq(dw_event_batch_new(&c, &full), 0);
        memset(big, 'x', sizeof(big));
        for (unsigned i = 0;; i++) {
                struct dw_event *e = NULL;
                int r;

                ck_assert_int_eq(dw_event_new("big", DW_EVENT_INFO, &e), 0);
                for (int k = 0; k < 8; k++) {
                        char key_name[4] = {'k', (char)('a' + k), 0};

                        ck_assert_int_eq(dw_event_add_string(e, key_name, big, sizeof(big)), 0);
                }
                r = dw_event_chain_append(&c, full, e);
                if (r == -E2BIG) {
                        dw_event_free(e);
                        break;
                }
                ck_assert_int_eq(r, 0);
                ck_assert_uint_lt(i, 40);
        }
        ck_assert_uint_le(full->encoded_size, DW_EVENT_BATCH_SIZE_MAX);
        ck_assert_uint_gt(full->encoded_size, DW_EVENT_BATCH_SIZE_MAX - 33000);
        ck_assert_int_eq(dw_event_chain_append(&c, full, ev), 0); /* a small one still fits */
}
END_TEST

START_TEST(test_chain_blob)
{
        struct dw_event_chain_id id;
        struct dw_event_chain c, back;
        _cleanup_(dw_event_batch_freep) struct dw_event_batch *b = NULL;
        _cleanup_free_ uint8_t *buf = NULL;
        size_t size;

        chain_id(&id, "gw-blob", 9, 2);
        ck_assert_int_eq(dw_event_chain_init(&c, &id), 0);
        b = next_batch(&c, 5, NULL);
        ck_assert_int_eq(dw_event_chain_serialize(&c, &buf, &size), 0);
        ck_assert_uint_eq(size, 12 + 1 + 7 + 4 + 16 + 8 + 32 + 8);
        ck_assert_int_eq(dw_event_chain_deserialize(buf, size, &back, NULL), 0);
        ck_assert_mem_eq(&back, &c, sizeof(c));
        for (size_t i = 0; i < size; i++) {
                struct dw_error err = {};

                buf[i] ^= 0x10;
                ck_assert_int_lt(dw_event_chain_deserialize(buf, size, &back, &err), 0);
                buf[i] ^= 0x10;
        }
        for (size_t n = 0; n < size; n++)
                ck_assert_int_eq(dw_event_chain_deserialize(buf, n, &back, NULL), -EBADMSG);
        /* a fresh chain whose head is not its genesis is refused */
        c.next_seq = 0;
        ck_assert_int_eq(dw_event_chain_serialize(&c, &buf, &size), -EINVAL);
}
END_TEST

/* Three batches in a row, the state persisted in between, and the NV value. */
START_TEST(test_verify_continuation)
{
        struct dw_event_chain_id id;
        struct dw_event_chain c;
        struct dw_event_verify_state s;
        struct dw_event_verify_result res;
        _cleanup_(dw_pkey_freep) EVP_PKEY *key = new_key();
        uint8_t nv[32] = {}, got[32];

        chain_id(&id, "gw-1", 4, 3);
        ck_assert_int_eq(dw_event_chain_init(&c, &id), 0);
        ck_assert_int_eq(dw_event_verify_state_init(&s, "gw-1"), 0);
        ck_assert_int_eq(dw_event_verify_state_nv_value(&s, got), -ENODATA);
        for (unsigned k = 0; k < 3; k++) {
                _cleanup_(dw_event_batch_freep) struct dw_event_batch *b = next_batch(&c, 1 + k * 3, key);
                _cleanup_free_ uint8_t *blob = NULL;
                size_t size;

                ck_verdict(verify(&s, key, b, 0, &res), DW_EVENT_OK, &res);
                ck_assert(res.accepted);
                ck_assert(res.new_chain == (k == 0));
                ck_assert_int_eq(dw_event_nv_extend(k ? nv : NULL, b->head, nv), 0);
                ck_assert_int_eq(dw_event_verify_state_serialize(&res.state, &blob, &size), 0);
                ck_assert_int_eq(dw_event_verify_state_deserialize(blob, size, &s, NULL), 0);
                ck_assert_mem_eq(&s, &res.state, sizeof(s));
                ck_assert_int_eq(dw_event_verify_state_nv_value(&s, got), 0);
                ck_assert_mem_eq(got, nv, 32);
        }
        ck_assert_uint_eq(s.next_seq, 1 + 4 + 7);
        ck_assert_uint_eq(s.batches, 3);
        ck_assert_uint_eq(s.events, 12);
        ck_assert_uint_eq(s.chains, 1);
        ck_assert_mem_eq(s.head, c.head, 32);
}
END_TEST

/* A verifier that starts with batch 1 of three (0, 1, 2): 0 and 2 missing. */
START_TEST(test_verify_gap)
{
        struct dw_event_chain_id id;
        struct dw_event_chain c;
        struct dw_event_verify_state s, g;
        struct dw_event_verify_result res;
        _cleanup_(dw_pkey_freep) EVP_PKEY *key = new_key();
        _cleanup_(dw_event_batch_freep) struct dw_event_batch *b0 = NULL, *b1 = NULL, *b2 = NULL, *b3 = NULL;
        uint8_t nv[32];
        TPMS_ATTEST a;
        struct dw_event_nv_result nres;

        chain_id(&id, "gw-gap", 2, 4);
        ck_assert_int_eq(dw_event_chain_init(&c, &id), 0);
        b0 = next_batch(&c, 2, key);
        b1 = next_batch(&c, 3, key);
        b2 = next_batch(&c, 1, key);
        b3 = next_batch(&c, 2, key);
        ck_assert_int_eq(dw_event_verify_state_init(&s, "gw-gap"), 0);

        /* the first batch the verifier ever sees does not start the chain */
        ck_verdict(verify(&s, key, b1, 0, &res), DW_EVENT_GAP, &res);
        ck_assert(!res.accepted);
        ck_assert_str_eq(res.msg,
                         "a new chain (TPM resetCount 2) that starts at event 2: events 0-1 were not received");
        ck_assert_mem_eq(&res.state, &s, sizeof(s));

        ck_verdict(verify(&s, key, b0, 0, &res), DW_EVENT_OK, &res);
        s = res.state;
        ck_verdict(verify(&s, key, b2, 0, &res), DW_EVENT_GAP, &res);
        ck_assert_str_eq(res.msg, "events 2-4 were not received (the batch starts at 5)");
        ck_assert(!res.accepted);
        ck_assert_uint_eq(res.expected_seq, 2);
        ck_assert_uint_eq(res.first_seq, 5);
        ck_assert_mem_eq(&res.state, &s, sizeof(s));

        /* accepted by decision: the stream goes on, the NV value is lost for this chain */
        ck_verdict(verify(&s, key, b2, DW_EVENT_VERIFY_ACCEPT_GAP, &res), DW_EVENT_GAP, &res);
        ck_assert(res.accepted);
        g = res.state;
        ck_assert(g.nv_lost);
        ck_assert_uint_eq(g.next_seq, 6);
        ck_assert_int_eq(dw_event_verify_state_nv_value(&g, nv), -ESTALE);
        ck_verdict(verify(&g, key, b3, 0, &res), DW_EVENT_OK, &res);
        ck_assert(res.state.nv_lost);
        memset(nv, 1, 32);
        nv_attest(&a, 2, nv, 32);
        ck_assert_int_eq(dw_event_verify_nv(&res.state, &a, &nres), 0);
        ck_assert_int_eq(nres.verdict, DW_EVENT_NV_UNKNOWN);

        /* the gap is also visible in the TPM: the NV value holds all four heads, the verifier has one */
        ck_assert_int_eq(dw_event_nv_extend(NULL, b0->head, nv), 0);
        ck_assert_int_eq(dw_event_nv_extend(nv, b1->head, nv), 0);
        ck_assert_int_eq(dw_event_nv_extend(nv, b2->head, nv), 0);
        nv_attest(&a, 2, nv, 32);
        ck_assert_int_eq(dw_event_verify_nv(&s, &a, &nres), 0);
        ck_assert_int_eq(nres.verdict, DW_EVENT_NV_MISMATCH);
}
END_TEST

START_TEST(test_verify_fork)
{
        struct dw_event_chain_id id, id2;
        struct dw_event_chain c, fork, other;
        struct dw_event_verify_state s;
        struct dw_event_verify_result res;
        _cleanup_(dw_pkey_freep) EVP_PKEY *key = new_key();
        _cleanup_(dw_event_batch_freep) struct dw_event_batch *b0 = NULL, *b1 = NULL, *f1 = NULL, *b2 = NULL,
                                                              *o0 = NULL, *over = NULL;

        chain_id(&id, "gw-fork", 5, 6);
        ck_assert_int_eq(dw_event_chain_init(&c, &id), 0);
        b0 = next_batch(&c, 3, key);
        fork = c; /* a second history from here: a monitor whose chain state was restored from a copy */
        b1 = next_batch(&c, 2, key);
        {
                struct dw_event *ev = NULL;

                ck_assert_int_eq(dw_event_batch_new(&fork, &f1), 0);
                ck_assert_int_eq(dw_event_new("monitor_start", DW_EVENT_NOTICE, &ev), 0);
                ck_assert_int_eq(dw_event_chain_append(&fork, f1, ev), 0);
                ck_assert_int_eq(dw_event_chain_append(&fork, f1, some_event(9)), 0);
                sign_batch(key, f1);
        }
        b2 = next_batch(&c, 1, key);
        ck_assert_int_eq(dw_event_verify_state_init(&s, "gw-fork"), 0);
        ck_verdict(verify(&s, key, b0, 0, &res), DW_EVENT_OK, &res);
        s = res.state;
        ck_verdict(verify(&s, key, b1, 0, &res), DW_EVENT_OK, &res);
        s = res.state;
        /* same sequence numbers, other events: the forked batch */
        ck_verdict(verify(&s, key, f1, 0, &res), DW_EVENT_FORK, &res);
        ck_assert_ptr_nonnull(strstr(res.msg, "events 3-4 repeat sequence numbers already received (up to 4)"));
        ck_assert_mem_eq(&res.state, &s, sizeof(s));
        /* the fork's continuation: starts at the expected seq, from another head */
        fork.next_seq = b2->first_seq;
        {
                _cleanup_(dw_event_batch_freep) struct dw_event_batch *f2 = next_batch(&fork, 1, key);

                ck_verdict(verify(&s, key, f2, 0, &res), DW_EVENT_FORK, &res);
                ck_assert_ptr_nonnull(strstr(res.msg, "continue from head"));
        }
        /* a batch overlapping the last accepted one */
        {
                struct dw_event_chain back = c;

                back.next_seq = 4;
                memcpy(back.head, b0->head, 32); /* not the real head after event 3: built as a rewrite */
                over = next_batch(&back, 2, key);
                ck_verdict(verify(&s, key, over, 0, &res), DW_EVENT_FORK, &res);
        }
        /* a second chain in the same TPM epoch, with another boot id */
        chain_id(&id2, "gw-fork", 5, 7);
        ck_assert_int_eq(dw_event_chain_init(&other, &id2), 0);
        o0 = next_batch(&other, 1, key);
        ck_verdict(verify(&s, key, o0, 0, &res), DW_EVENT_FORK, &res);
        ck_assert_ptr_nonnull(strstr(res.msg, "a second chain in TPM resetCount 5"));
        /* the real continuation is still fine */
        ck_verdict(verify(&s, key, b2, 0, &res), DW_EVENT_OK, &res);
}
END_TEST

START_TEST(test_verify_reordered)
{
        struct dw_event_chain_id id;
        struct dw_event_chain c;
        struct dw_event_verify_state s;
        struct dw_event_verify_result res;
        _cleanup_(dw_pkey_freep) EVP_PKEY *key = new_key();
        struct dw_event_batch *b[4] = {};
        struct dw_event *tmp;

        chain_id(&id, "gw-order", 1, 8);
        ck_assert_int_eq(dw_event_chain_init(&c, &id), 0);
        for (int i = 0; i < 4; i++)
                b[i] = next_batch(&c, 3, key);
        ck_assert_int_eq(dw_event_verify_state_init(&s, "gw-order"), 0);
        ck_verdict(verify(&s, key, b[0], 0, &res), DW_EVENT_OK, &res);
        s = res.state;
        ck_verdict(verify(&s, key, b[2], 0, &res), DW_EVENT_GAP, &res);
        ck_verdict(verify(&s, key, b[1], 0, &res), DW_EVENT_OK, &res);
        s = res.state;
        ck_verdict(verify(&s, key, b[2], 0, &res), DW_EVENT_OK, &res);
        s = res.state;

        /* events swapped inside a batch: their sequence numbers are no longer consecutive */
        tmp = b[3]->events[0];
        b[3]->events[0] = b[3]->events[1];
        b[3]->events[1] = tmp;
        ck_verdict(dw_event_verify_batch(&s, key, b[3], 0, &res) == 0 ? res.verdict : _DW_EVENT_VERDICT_MAX,
                   DW_EVENT_BAD_ENCODING, &res);
        ck_assert_str_eq(res.msg, "event 0 has seq 10, not 9 (events not consecutive)");
        /* ... and renumbered to look consecutive: the chain says otherwise */
        b[3]->events[0]->seq = 9;
        b[3]->events[1]->seq = 10;
        ck_verdict(verify(&s, key, b[3], 0, &res), DW_EVENT_CHAIN_MISMATCH, &res);
        b[3]->events[1] = b[3]->events[0];
        b[3]->events[0] = tmp;
        b[3]->events[0]->seq = 9;
        b[3]->events[1]->seq = 10;
        ck_verdict(verify(&s, key, b[3], 0, &res), DW_EVENT_OK, &res);
        for (int i = 0; i < 4; i++)
                dw_event_batch_free(b[i]);
}
END_TEST

/* The JSON text with one substring replaced must get verdict want. */
static void expect_tampered(const struct dw_event_verify_state *s, EVP_PKEY *key, const char *json, const char *from,
                            const char *to, enum dw_event_verdict want, const char *msg)
{
        _cleanup_free_ char *t = strdup(json);
        struct dw_event_verify_result res;

        ck_assert_ptr_nonnull(t);
        replace(t, from, to);
        ck_verdict(verify_text(s, key, t, &res), want, &res);
        if (msg)
                ck_assert_msg(strstr(res.msg, msg), "'%s' not in '%s'", msg, res.msg);
        ck_assert(!res.accepted);
}

START_TEST(test_verify_tampered)
{
        static const char ff[] = "00000000000000000000000000000000000000000000000000000000000000ff";
        struct dw_event_chain_id id;
        struct dw_event_chain c;
        struct dw_event_verify_state s;
        struct dw_event_verify_result res;
        _cleanup_(dw_pkey_freep) EVP_PKEY *key = new_key();
        _cleanup_(dw_event_batch_freep) struct dw_event_batch *b0 = NULL, *b1 = NULL;
        _cleanup_free_ char *j0 = NULL, *j1 = NULL;
        char head[65], prev[65];

        chain_id(&id, "gw-tamper", 3, 9);
        ck_assert_int_eq(dw_event_chain_init(&c, &id), 0);
        b0 = next_batch(&c, 3, key);
        b1 = next_batch(&c, 3, key);
        j0 = to_json(b0);
        j1 = to_json(b1);
        ck_assert_int_eq(dw_event_verify_state_init(&s, "gw-tamper"), 0);
        ck_verdict(verify_text(&s, key, j0, &res), DW_EVENT_OK, &res);
        s = res.state;

        /* an event's fields */
        expect_tampered(&s, key, j1, "/usr/lib/x4.so", "/usr/lib/x5.so", DW_EVENT_CHAIN_MISMATCH,
                        "events 3-5 hash to head");
        expect_tampered(&s, key, j1, "\"pid\":104", "\"pid\":105", DW_EVENT_CHAIN_MISMATCH, NULL);
        expect_tampered(&s, key, j1, "\"severity\":\"error\"", "\"severity\":\"info\"", DW_EVENT_CHAIN_MISMATCH, NULL);
        expect_tampered(&s, key, j1, "\"realtime_usec\":1700000000004000", "\"realtime_usec\":1700000000004001",
                        DW_EVENT_CHAIN_MISMATCH, NULL);
        expect_tampered(&s, key, j1, ",\"rule\":\"not_in_allowlist\"", "", DW_EVENT_CHAIN_MISMATCH, NULL);
        /* the heads */
        hex_of(b1->head, 32, head);
        hex_of(b1->prev_head, 32, prev);
        expect_tampered(&s, key, j1, head, ff, DW_EVENT_CHAIN_MISMATCH, NULL);
        expect_tampered(&s, key, j1, prev, ff, DW_EVENT_CHAIN_MISMATCH, NULL);
        /* the chain id (covered by the signature) */
        expect_tampered(&s, key, j1, "\"reset_count\":3", "\"reset_count\":4", DW_EVENT_BAD_SIGNATURE, NULL);
        /* the first batch's chain id changes its genesis */
        expect_tampered(&s, key, j0, "\"reset_count\":3", "\"reset_count\":4", DW_EVENT_CHAIN_MISMATCH,
                        "is not its genesis");
        /* a tampered event with the head recomputed to match: only the signature can tell */
        {
                _cleanup_(dw_event_batch_freep) struct dw_event_batch *x = NULL;
                struct dw_event_chain again = {.id = id, .next_seq = b1->first_seq};
                _cleanup_free_ char *tx = NULL;
                TPMT_SIGNATURE sig = b1->signature;

                memcpy(again.head, b1->prev_head, 32);
                ck_assert_int_eq(dw_event_batch_new(&again, &x), 0);
                for (size_t i = 0; i < 3; i++) {
                        struct dw_event *e = some_event((unsigned)(3 + i));

                        if (i == 1)
                                ck_assert_int_eq(dw_event_add_string(e, "zzz", "hidden", 6), 0);
                        ck_assert_int_eq(dw_event_chain_append(&again, x, e), 0);
                }
                ck_assert_int_eq(dw_event_batch_set_signature(x, &sig), 0);
                tx = to_json(x);
                ck_verdict(verify_text(&s, key, tx, &res), DW_EVENT_BAD_SIGNATURE, &res);
        }
        ck_verdict(verify_text(&s, key, j1, &res), DW_EVENT_OK, &res);
}
END_TEST

START_TEST(test_verify_bad_signature)
{
        struct dw_event_chain_id id;
        struct dw_event_chain c;
        struct dw_event_verify_state s;
        struct dw_event_verify_result res;
        _cleanup_(dw_pkey_freep) EVP_PKEY *key = new_key(), *other = new_key();
        _cleanup_(dw_event_batch_freep) struct dw_event_batch *b = NULL;
        TPMT_SIGNATURE good;

        chain_id(&id, "gw-sig", 1, 10);
        ck_assert_int_eq(dw_event_chain_init(&c, &id), 0);
        b = next_batch(&c, 2, NULL);
        ck_assert_int_eq(dw_event_verify_state_init(&s, "gw-sig"), 0);
        ck_verdict(verify(&s, key, b, 0, &res), DW_EVENT_BAD_SIGNATURE, &res);
        ck_assert_str_eq(res.msg, "the batch is not signed");
        sign_batch(other, b);
        ck_verdict(verify(&s, key, b, 0, &res), DW_EVENT_BAD_SIGNATURE, &res);
        ck_assert_str_eq(res.msg, "the batch's signature does not verify with the event key");
        sign_batch(key, b);
        good = b->signature;
        b->signature.signature.ecdsa.signatureS.buffer[31] ^= 1;
        ck_verdict(verify(&s, key, b, 0, &res), DW_EVENT_BAD_SIGNATURE, &res);
        b->signature = good;
        b->signature.signature.ecdsa.hash = TPM2_ALG_SHA1;
        ck_verdict(verify(&s, key, b, 0, &res), DW_EVENT_BAD_SIGNATURE, &res);
        ck_assert_str_eq(res.msg, "signature over a digest of hash 0x0004, not SHA-256");
        b->signature = good;
        b->signature.sigAlg = TPM2_ALG_ECDAA;
        ck_verdict(verify(&s, key, b, 0, &res), DW_EVENT_BAD_SIGNATURE, &res);
        b->signature = good;
        b->signature.sigAlg = TPM2_ALG_RSASSA;
        b->signature.signature.rsassa.sig.size = 256;
        ck_verdict(verify(&s, key, b, 0, &res), DW_EVENT_BAD_SIGNATURE, &res);
        b->signature = good;
        b->signature.signature.ecdsa.signatureR.size = 0;
        ck_verdict(verify(&s, key, b, 0, &res), DW_EVENT_BAD_SIGNATURE, &res);
        b->signature = good;
        ck_verdict(verify(&s, key, b, 0, &res), DW_EVENT_OK, &res);
        ck_assert_int_eq(dw_event_verify_batch(&s, NULL, b, 0, &res), -EINVAL);
}
END_TEST

START_TEST(test_verify_replay)
{
        struct dw_event_chain_id id, id2, other_gw;
        struct dw_event_chain c, c2, cg;
        struct dw_event_verify_state s;
        struct dw_event_verify_result res;
        _cleanup_(dw_pkey_freep) EVP_PKEY *key = new_key();
        _cleanup_(dw_event_batch_freep) struct dw_event_batch *b0 = NULL, *b1 = NULL, *n0 = NULL, *n1 = NULL,
                                                              *g0 = NULL;

        chain_id(&id, "gw-replay", 10, 11);
        ck_assert_int_eq(dw_event_chain_init(&c, &id), 0);
        b0 = next_batch(&c, 2, key);
        b1 = next_batch(&c, 2, key);
        ck_assert_int_eq(dw_event_verify_state_init(&s, "gw-replay"), 0);
        ck_verdict(verify(&s, key, b0, 0, &res), DW_EVENT_OK, &res);
        s = res.state;
        ck_verdict(verify(&s, key, b0, 0, &res), DW_EVENT_DUPLICATE, &res); /* retransmitted */
        ck_assert(!res.accepted);
        ck_verdict(verify(&s, key, b1, 0, &res), DW_EVENT_OK, &res);
        s = res.state;
        ck_verdict(verify(&s, key, b1, 0, &res), DW_EVENT_DUPLICATE, &res);
        ck_verdict(verify(&s, key, b0, 0, &res), DW_EVENT_FORK, &res); /* an older batch again */
        ck_assert_ptr_nonnull(strstr(res.msg, "a replay or a rewrite"));

        /* a TPM reset: a new chain; the old chain's batches are now replays of an earlier epoch */
        chain_id(&id2, "gw-replay", 11, 12);
        ck_assert_int_eq(dw_event_chain_init(&c2, &id2), 0);
        n0 = next_batch(&c2, 1, key);
        n1 = next_batch(&c2, 1, key);
        ck_verdict(verify(&s, key, n1, 0, &res), DW_EVENT_GAP, &res); /* the new chain's start is missing */
        ck_assert(res.new_chain == false && !res.accepted);
        ck_verdict(verify(&s, key, n0, 0, &res), DW_EVENT_OK, &res);
        ck_assert(res.new_chain);
        s = res.state;
        ck_assert_uint_eq(s.chains, 2);
        ck_assert_uint_eq(s.batches, 1);
        ck_assert_uint_eq(s.events, 5);
        ck_assert_uint_eq(s.chain.reset_count, 11);
        ck_verdict(verify(&s, key, b1, 0, &res), DW_EVENT_WRONG_CHAIN, &res);
        ck_assert_str_eq(res.msg, "a batch of TPM resetCount 10, older than the chain's 11 (an earlier boot's batch "
                                  "replayed)");
        ck_verdict(verify(&s, key, n1, 0, &res), DW_EVENT_OK, &res);

        /* another gateway's batch (signed with this key, even) */
        chain_id(&other_gw, "gw-other", 11, 12);
        ck_assert_int_eq(dw_event_chain_init(&cg, &other_gw), 0);
        g0 = next_batch(&cg, 1, key);
        ck_verdict(verify(&s, key, g0, 0, &res), DW_EVENT_WRONG_CHAIN, &res);
        ck_assert_str_eq(res.msg, "a batch of gateway \"gw-other\", not of \"gw-replay\"");
}
END_TEST

/* The state may be the result's own state. */
START_TEST(test_verify_in_place)
{
        struct dw_event_chain_id id;
        struct dw_event_chain c;
        struct dw_event_verify_result res;
        _cleanup_(dw_pkey_freep) EVP_PKEY *key = new_key();
        _cleanup_(dw_event_batch_freep) struct dw_event_batch *b0 = NULL, *b1 = NULL;
        struct dw_event_verify_state before;

        chain_id(&id, "gw-inplace", 1, 13);
        ck_assert_int_eq(dw_event_chain_init(&c, &id), 0);
        b0 = next_batch(&c, 1, key);
        b1 = next_batch(&c, 1, key);
        ck_assert_int_eq(dw_event_verify_state_init(&res.state, "gw-inplace"), 0);
        ck_assert_int_eq(dw_event_verify_batch(&res.state, key, b1, 0, &res), 0);
        ck_assert_int_eq(res.verdict, DW_EVENT_GAP);
        ck_assert(!res.state.started);
        ck_assert_int_eq(dw_event_verify_batch(&res.state, key, b0, 0, &res), 0);
        ck_assert_int_eq(res.verdict, DW_EVENT_OK);
        before = res.state;
        ck_assert_int_eq(dw_event_verify_batch(&res.state, key, b0, 0, &res), 0);
        ck_assert_int_eq(res.verdict, DW_EVENT_DUPLICATE);
        ck_assert_mem_eq(&res.state, &before, sizeof(before));
        ck_assert_int_eq(dw_event_verify_batch(&res.state, key, b1, 0, &res), 0);
        ck_assert_int_eq(res.verdict, DW_EVENT_OK);
        ck_assert_uint_eq(res.state.next_seq, 2);
}
END_TEST

START_TEST(test_verify_nv)
{
        struct dw_event_chain_id id;
        struct dw_event_chain c;
        struct dw_event_verify_state s;
        struct dw_event_verify_result res;
        struct dw_event_nv_result nres;
        _cleanup_(dw_pkey_freep) EVP_PKEY *key = new_key();
        _cleanup_(dw_event_batch_freep) struct dw_event_batch *b0 = NULL, *b1 = NULL;
        uint8_t nv[32], want[32];
        TPMS_ATTEST a;

        chain_id(&id, "gw-nv", 6, 14);
        ck_assert_int_eq(dw_event_chain_init(&c, &id), 0);
        b0 = next_batch(&c, 2, key);
        b1 = next_batch(&c, 2, key);
        ck_assert_int_eq(dw_event_nv_extend(NULL, b0->head, nv), 0);
        ck_assert_int_eq(dw_event_verify_state_init(&s, "gw-nv"), 0);
        nv_attest(&a, 6, nv, 32);
        ck_assert_int_eq(dw_event_verify_nv(&s, &a, &nres), 0);
        ck_assert_int_eq(nres.verdict, DW_EVENT_NV_MISMATCH); /* the TPM has a value, the verifier no batch */
        ck_verdict(verify(&s, key, b0, 0, &res), DW_EVENT_OK, &res);
        s = res.state;
        ck_assert_int_eq(dw_event_verify_state_nv_value(&s, want), 0);
        ck_assert_mem_eq(want, nv, 32);
        ck_assert_int_eq(dw_event_verify_nv(&s, &a, &nres), 0);
        ck_assert_msg(nres.verdict == DW_EVENT_NV_OK, "%s", nres.msg);
        ck_assert_str_eq(dw_event_nv_verdict_name(nres.verdict), "ok");

        /* the gateway extended b1 and certified, but b1 never arrived: the last batch dropped, no gap to see */
        ck_assert_int_eq(dw_event_nv_extend(nv, b1->head, nv), 0);
        nv_attest(&a, 6, nv, 32);
        ck_assert_int_eq(dw_event_verify_nv(&s, &a, &nres), 0);
        ck_assert_int_eq(nres.verdict, DW_EVENT_NV_MISMATCH);
        ck_assert_ptr_nonnull(strstr(nres.msg, "batches were dropped, rewritten or not extended"));
        ck_verdict(verify(&s, key, b1, 0, &res), DW_EVENT_OK, &res);
        s = res.state;
        ck_assert_int_eq(dw_event_verify_nv(&s, &a, &nres), 0);
        ck_assert_int_eq(nres.verdict, DW_EVENT_NV_OK);

        /* another epoch, partial or foreign certifications */
        nv_attest(&a, 7, nv, 32);
        ck_assert_int_eq(dw_event_verify_nv(&s, &a, &nres), 0);
        ck_assert_int_eq(nres.verdict, DW_EVENT_NV_EPOCH);
        nv_attest(&a, 6, nv, 16);
        ck_assert_int_eq(dw_event_verify_nv(&s, &a, &nres), 0);
        ck_assert_int_eq(nres.verdict, DW_EVENT_NV_MALFORMED);
        nv_attest(&a, 6, nv, 32);
        a.attested.nv.offset = 1;
        ck_assert_int_eq(dw_event_verify_nv(&s, &a, &nres), 0);
        ck_assert_int_eq(nres.verdict, DW_EVENT_NV_MALFORMED);
        nv_attest(&a, 6, nv, 32);
        a.type = TPM2_ST_ATTEST_QUOTE;
        ck_assert_int_eq(dw_event_verify_nv(&s, &a, &nres), 0);
        ck_assert_int_eq(nres.verdict, DW_EVENT_NV_MALFORMED);
        ck_assert_int_eq(dw_event_verify_nv(&s, NULL, &nres), -EINVAL);
}
END_TEST

START_TEST(test_verify_state_blob)
{
        struct dw_event_chain_id id;
        struct dw_event_chain c;
        struct dw_event_verify_state s, back;
        struct dw_event_verify_result res;
        _cleanup_(dw_pkey_freep) EVP_PKEY *key = new_key();
        _cleanup_(dw_event_batch_freep) struct dw_event_batch *b0 = NULL;
        _cleanup_free_ uint8_t *blob = NULL;
        size_t size;

        ck_assert_int_eq(dw_event_verify_state_init(&s, "0123456789abcdef"), 0);
        ck_assert_int_eq(dw_event_verify_state_serialize(&s, &blob, &size), 0);
        ck_assert_uint_eq(size, 154);
        ck_assert_int_eq(dw_event_verify_state_deserialize(blob, size, &back, NULL), 0);
        ck_assert_mem_eq(&back, &s, sizeof(s));
        free(TAKE_PTR(blob));

        chain_id(&id, "0123456789abcdef", 6, 15);
        ck_assert_int_eq(dw_event_chain_init(&c, &id), 0);
        b0 = next_batch(&c, 2, key);
        ck_verdict(verify(&s, key, b0, 0, &res), DW_EVENT_OK, &res);
        ck_assert_int_eq(dw_event_verify_state_serialize(&res.state, &blob, &size), 0);
        ck_assert_uint_eq(size, 154);
        ck_assert_int_eq(dw_event_verify_state_deserialize(blob, size, &back, NULL), 0);
        ck_assert_mem_eq(&back, &res.state, sizeof(back));
        for (size_t i = 0; i < size; i++) {
                struct dw_error err = {};

                blob[i] ^= 0x01;
                ck_assert_int_lt(dw_event_verify_state_deserialize(blob, size, &back, &err), 0);
                blob[i] ^= 0x01;
        }
        for (size_t n = 0; n < size; n++)
                ck_assert_int_eq(dw_event_verify_state_deserialize(blob, n, &back, NULL), -EBADMSG);
        blob[4] = 2;
        {
                struct dw_error err = {};

                ck_assert_int_eq(dw_event_verify_state_deserialize(blob, size, &back, &err), -EOPNOTSUPP);
                ck_assert_str_eq(err.msg, "event verifier state version 2 (this build reads 1)");
        }
        /* a state that is not one: refused by verify and serialize */
        back = res.state;
        back.batches = 0;
        ck_assert_int_eq(dw_event_verify_state_serialize(&back, &blob, &size), -EINVAL);
        ck_assert_int_eq(dw_event_verify_batch(&back, key, b0, 0, &res), -EINVAL);
}
END_TEST

/* The public area of an OpenSSL P-256 key, as a TPM event key's. */
static void key_public(EVP_PKEY *key, TPMT_PUBLIC *pub)
{
        BIGNUM *x = NULL, *y = NULL;

        ck_assert_int_eq(EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_EC_PUB_X, &x), 1);
        ck_assert_int_eq(EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_EC_PUB_Y, &y), 1);
        *pub = (TPMT_PUBLIC){.type = TPM2_ALG_ECC, .nameAlg = TPM2_ALG_SHA256};
        pub->objectAttributes = TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT | TPMA_OBJECT_SENSITIVEDATAORIGIN |
                                TPMA_OBJECT_USERWITHAUTH | TPMA_OBJECT_SIGN_ENCRYPT;
        pub->parameters.eccDetail.symmetric.algorithm = TPM2_ALG_NULL;
        pub->parameters.eccDetail.scheme.scheme = TPM2_ALG_ECDSA;
        pub->parameters.eccDetail.scheme.details.ecdsa.hashAlg = TPM2_ALG_SHA256;
        pub->parameters.eccDetail.curveID = TPM2_ECC_NIST_P256;
        pub->parameters.eccDetail.kdf.scheme = TPM2_ALG_NULL;
        pub->unique.ecc.x.size = 32;
        pub->unique.ecc.y.size = 32;
        BN_bn2binpad(x, pub->unique.ecc.x.buffer, 32);
        BN_bn2binpad(y, pub->unique.ecc.y.buffer, 32);
        BN_free(x);
        BN_free(y);
}

START_TEST(test_event_key)
{
        _cleanup_(dw_pkey_freep) EVP_PKEY *key = new_key(), *pk = NULL;
        struct dw_event_chain_id id;
        struct dw_event_chain c;
        struct dw_event_verify_state s;
        struct dw_event_verify_result res;
        _cleanup_(dw_event_batch_freep) struct dw_event_batch *b = NULL;
        TPMT_PUBLIC pub, bad;
        struct dw_error err = {};

        key_public(key, &pub);
        ck_assert_int_eq(dw_event_key_from_public(&pub, &pk, &err), 0);
        chain_id(&id, "gw-key", 1, 16);
        ck_assert_int_eq(dw_event_chain_init(&c, &id), 0);
        b = next_batch(&c, 1, key);
        ck_assert_int_eq(dw_event_verify_state_init(&s, "gw-key"), 0);
        ck_verdict(verify(&s, pk, b, 0, &res), DW_EVENT_OK, &res);

        bad = pub;
        bad.objectAttributes |= TPMA_OBJECT_RESTRICTED; /* an AK */
        ck_assert_int_eq(dw_event_key_from_public(&bad, &pk, &err), -EINVAL);
        ck_assert_ptr_nonnull(strstr(err.msg, "not those of a non-restricted signing key"));
        bad = pub;
        bad.objectAttributes &= ~TPMA_OBJECT_FIXEDTPM; /* could have been imported or duplicated */
        ck_assert_int_eq(dw_event_key_from_public(&bad, &pk, &err), -EINVAL);
        bad = pub;
        bad.objectAttributes |= TPMA_OBJECT_DECRYPT;
        ck_assert_int_eq(dw_event_key_from_public(&bad, &pk, &err), -EINVAL);
        bad = pub;
        bad.parameters.eccDetail.curveID = TPM2_ECC_NIST_P384;
        ck_assert_int_eq(dw_event_key_from_public(&bad, &pk, &err), -EINVAL);
        ck_assert_str_eq(err.msg, "the event key is not a NIST P-256 key");
        bad = pub;
        bad.parameters.eccDetail.scheme.details.ecdsa.hashAlg = TPM2_ALG_SHA1;
        ck_assert_int_eq(dw_event_key_from_public(&bad, &pk, &err), -EINVAL);
        bad = pub;
        bad.unique.ecc.y.buffer[31] ^= 1; /* not on the curve */
        ck_assert_int_lt(dw_event_key_from_public(&bad, &pk, &err), 0);
        bad = pub;
        bad.type = TPM2_ALG_RSA;
        ck_assert_int_eq(dw_event_key_from_public(&bad, &pk, &err), -EINVAL);
}
END_TEST

/* ---- mutations ---------------------------------------------------------------------------------------------- */

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t rnd(void)
{
        rng_state ^= rng_state << 13;
        rng_state ^= rng_state >> 7;
        rng_state ^= rng_state << 17;
        return rng_state;
}

/* A random change of buf (flip, set, insert, delete, truncate, duplicate a span); returns the new size. */
static size_t mutate(uint8_t *buf, size_t size, size_t cap, const char *alphabet)
{
        size_t pos = size ? rnd() % size : 0, n;
        uint8_t v = alphabet ? (uint8_t)alphabet[rnd() % strlen(alphabet)] : (uint8_t)rnd();

        switch (rnd() % 6) {
        case 0:
                if (size)
                        buf[pos] ^= (uint8_t)(1u << (rnd() % 8));
                return size;
        case 1:
                if (size)
                        buf[pos] = v;
                return size;
        case 2:
                if (size >= cap)
                        return size;
                memmove(buf + pos + 1, buf + pos, size - pos);
                buf[pos] = v;
                return size + 1;
        case 3:
                if (!size)
                        return size;
                memmove(buf + pos, buf + pos + 1, size - pos - 1);
                return size - 1;
        case 4:
                return pos;
        default:
                n = MIN((size_t)(rnd() % 16), size - pos);
                if (size + n > cap)
                        return size;
                memmove(buf + pos + n, buf + pos, size - pos);
                return size + n;
        }
}

START_TEST(test_fuzz_binary)
{
        struct dw_event_chain_id id;
        struct dw_event_chain c;
        _cleanup_(dw_event_batch_freep) struct dw_event_batch *b = NULL;
        _cleanup_free_ uint8_t *orig = NULL;
        size_t orig_size, decoded = 0;

        golden_chain_id(&id);
        ck_assert_int_eq(dw_event_chain_init(&c, &id), 0);
        b = next_batch(&c, 4, NULL);
        ck_assert_int_eq(dw_event_batch_encode(b, &orig, &orig_size), 0);
        for (unsigned i = 0; i < 4000; i++) {
                bool event = i % 2;
                const uint8_t *src = event ? golden_event0 : orig;
                size_t size = event ? sizeof(golden_event0) : orig_size, cap = size + 64;
                _cleanup_free_ uint8_t *buf = malloc(cap), *exact = NULL, *again = NULL;
                unsigned rounds = 1 + (unsigned)(rnd() % 4);
                size_t again_size;

                memcpy(buf, src, size);
                for (unsigned k = 0; k < rounds; k++)
                        size = mutate(buf, size, cap, NULL);
                exact = malloc(size ? size : 1); /* exactly its size, so ASan sees reads past the end */
                memcpy(exact, buf, size);
                if (event) {
                        _cleanup_(dw_event_freep) struct dw_event *ev = NULL;

                        if (dw_event_decode(exact, size, &ev, NULL) < 0)
                                continue;
                        ck_assert_int_eq(dw_event_encode(ev, &again, &again_size), 0);
                } else {
                        _cleanup_(dw_event_batch_freep) struct dw_event_batch *d = NULL;

                        if (dw_event_batch_decode(exact, size, &d, NULL) < 0)
                                continue;
                        ck_assert_int_eq(dw_event_batch_encode(d, &again, &again_size), 0);
                        ck_assert_uint_eq(d->encoded_size, size);
                }
                /* canonical: whatever decodes encodes back to the same bytes */
                decoded++;
                ck_assert_uint_eq(again_size, size);
                ck_assert_mem_eq(again, exact, size);
        }
        ck_assert_uint_gt(decoded, 0);
}
END_TEST

START_TEST(test_fuzz_json)
{
        _cleanup_(dw_pkey_freep) EVP_PKEY *key = new_key();
        struct dw_event_verify_state s;
        size_t len = strlen(golden_json), parsed = 0;

        ck_assert_int_eq(dw_event_verify_state_init(&s, GOLDEN_GATEWAY), 0);
        for (unsigned i = 0; i < 4000; i++) {
                size_t cap = len + 64, size = len;
                _cleanup_free_ char *buf = malloc(cap + 1), *again = NULL;
                _cleanup_(dw_event_batch_freep) struct dw_event_batch *b = NULL, *b2 = NULL;
                struct dw_event_verify_result res;
                unsigned rounds = 1 + (unsigned)(rnd() % 3);

                memcpy(buf, golden_json, len);
                for (unsigned k = 0; k < rounds; k++)
                        size = mutate((uint8_t *)buf, size, cap,
                                      i % 3 ? "{}[]\":,0123456789-.eE\\u aAfF=+/\xc3\xff" : NULL);
                buf[size] = '\0';
                ck_assert_int_eq(dw_event_verify_batch_json(&s, key, buf, size, 0, &res, NULL), 0);
                ck_assert(!res.accepted || res.verdict == DW_EVENT_OK);
                if (dw_event_batch_parse_json(buf, size, &b, NULL) < 0)
                        continue;
                parsed++;
                ck_assert_int_eq(dw_event_batch_format_json(b, &again), 0);
                ck_assert_int_eq(dw_event_batch_parse_json(again, strlen(again), &b2, NULL), 0);
                ck_assert_uint_eq(b2->n_events, b->n_events);
                for (size_t k = 0; k < b->n_events; k++)
                        ck_assert(dw_event_equal(b->events[k], b2->events[k]));
        }
        ck_assert_uint_gt(parsed, 0);
}
END_TEST

int main(void)
{
        /* libtss2-mu logs every unmarshalling failure on stderr; the mutation tests make many. */
        setenv("TSS2_LOG", "all+NONE", 0);
        Suite *s = suite_create("event-chain");
        TCase *enc = tcase_create("encoding"), *chain = tcase_create("chain"), *ver = tcase_create("verify"),
              *fuzz = tcase_create("mutations");
        SRunner *sr;
        int failed;

        tcase_add_test(enc, test_event_build);
        tcase_add_test(enc, test_event_bytes);
        tcase_add_test(enc, test_golden_event);
        tcase_add_test(enc, test_golden_chain);
        tcase_add_test(enc, test_roundtrips);
        tcase_add_test(enc, test_decode_truncated);
        tcase_add_test(enc, test_decode_malformed);
        tcase_add_test(enc, test_json_malformed);
        suite_add_tcase(s, enc);

        tcase_add_test(chain, test_chain_append_errors);
        tcase_add_test(chain, test_chain_blob);
        tcase_set_timeout(chain, 60);
        suite_add_tcase(s, chain);

        tcase_add_test(ver, test_verify_continuation);
        tcase_add_test(ver, test_verify_gap);
        tcase_add_test(ver, test_verify_fork);
        tcase_add_test(ver, test_verify_reordered);
        tcase_add_test(ver, test_verify_tampered);
        tcase_add_test(ver, test_verify_bad_signature);
        tcase_add_test(ver, test_verify_replay);
        tcase_add_test(ver, test_verify_in_place);
        tcase_add_test(ver, test_verify_nv);
        tcase_add_test(ver, test_verify_state_blob);
        tcase_add_test(ver, test_event_key);
        suite_add_tcase(s, ver);

        tcase_add_test(fuzz, test_fuzz_binary);
        tcase_add_test(fuzz, test_fuzz_json);
        tcase_set_timeout(fuzz, 120);
        suite_add_tcase(s, fuzz);

        sr = srunner_create(s);
        srunner_run_all(sr, CK_NORMAL);
        failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
