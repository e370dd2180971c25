/* SPDX-License-Identifier: MIT */
/* The runtime policy (allowlist): loading and its errors, every verdict, excludes, digests of every algorithm, IMA
 * signatures (made here with OpenSSL, and by evmctl: tests/data/policy/), ima-buf, the real kernel's log, a
 * 100,000-path policy, several threads sharing one policy, and fuzz loops over malformed policies. The policies of
 * the tests (load_json_text()), the error cases and every fuzzed document are loaded three ways, which must agree:
 * dw_runtime_policy_load(), the streaming loader alone and the DOM loader (jansson's tree) alone. */
#include <check.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include "fileio.h"
#include "hex.h"
#include "ima-log.h"
#include "ima-write.h"
#include "macro.h"
#include "runtime-policy-internal.h"
#include "runtime-policy.h"

#define REAL_DIR                    "/../shared/testdata/realkernel-ima-ng-seabios/"
#define POLICY_DIR                  "/tests/data/policy/"
#define REAL_ENTRIES                11
#define REAL_VIOLATION              9  /* index of the open-writers violation */
#define DW_PMAP_INLINE_MAX_FOR_TEST 16 /* lib/runtime-policy-internal.h: digests scanned in place */

DEFINE_TRIVIAL_CLEANUP_FUNC(EVP_PKEY *, EVP_PKEY_free);

static struct dw_hasher *h;

static void hasher_setup(void)
{
        ck_assert_int_eq(dw_hasher_new(&h), 0);
}

static void hasher_teardown(void)
{
        dw_hasher_free(h);
        h = NULL;
}

/* ---- helpers ---- */

static uint8_t *read_path(const char *dir, const char *name, size_t *ret_len)
{
        const char *srcdir = getenv("DW_SRCDIR");
        _cleanup_free_ uint8_t *data = NULL;
        char path[4096];
        uint8_t *copy;
        size_t len;

        ck_assert_msg(srcdir, "DW_SRCDIR is not set");
        snprintf(path, sizeof(path), "%s%s%s", srcdir, dir, name);
        ck_assert_msg(dw_read_full_file(path, 1 << 20, &data, &len) == 0, "cannot read %s", path);
        /* Exactly its size, NUL-terminated past it, so that ASan sees any overread. */
        copy = malloc(len + 1);
        ck_assert_ptr_nonnull(copy);
        memcpy(copy, data, len);
        copy[len] = '\0';
        *ret_len = len;
        return copy;
}

static char *fixture(const char *name, size_t *ret_len)
{
        size_t len;
        char *s = (char *)read_path(POLICY_DIR, name, &len);

        if (ret_len)
                *ret_len = len;
        return s;
}

static void sha(enum dw_hash_alg alg, const char *seed, uint8_t *out)
{
        ck_assert_int_eq(dw_hash_buf(h, alg, seed, strlen(seed), out), 0);
}

/* "sha256:<hex>" */
static char *digest_str(enum dw_hash_alg alg, const uint8_t *d, char out[static 16 + 2 * DW_HASH_MAX_SIZE])
{
        size_t n = (size_t)sprintf(out, "%s:", dw_hash_alg_name(alg));

        dw_hex_encode(d, dw_hash_alg_size(alg), out + n);
        return out;
}

/* ---- the streaming and DOM loaders agree ---- */

static bool str_same(const char *a, const char *b)
{
        return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

static void assert_same_error(const struct dw_policy_error *a, const struct dw_policy_error *b, const char *what)
{
        ck_assert_msg(a->line == b->line && a->column == b->column && strcmp(a->where, b->where) == 0 &&
                              strcmp(a->msg, b->msg) == 0,
                      "%s: line %u col %u %s: %s, but the DOM loader says line %u col %u %s: %s", what, a->line,
                      a->column, a->where, a->msg, b->line, b->column, b->where, b->msg);
}

/* Every name of map obj (the DOM's tree), with each of its digests, one it lacks, and a name no map has. */
static void assert_same_map(const struct dw_runtime_policy *a, const struct dw_runtime_policy *b, json_t *obj,
                            bool files)
{
        const struct dw_pmap *ma = files ? &a->files : &a->buffers, *mb = files ? &b->files : &b->buffers;

        ck_assert_uint_eq(ma->n_names, mb->n_names);
        ck_assert_uint_eq(ma->n_digests, mb->n_digests);
        ck_assert_ptr_null(dw_pmap_find(ma, "/not/in/the/policy", 18));
        ck_assert_ptr_null(dw_pmap_find(mb, "/not/in/the/policy", 18));
        for (void *it = json_object_iter(obj); it; it = json_object_iter_next(obj, it)) {
                const char *key = json_object_iter_key(it);
                size_t len = json_object_iter_key_len(it);
                const struct dw_pmap_record *ra = dw_pmap_find(ma, key, len), *rb = dw_pmap_find(mb, key, len);
                json_t *list = json_object_iter_value(it);

                ck_assert_msg(ra && rb, "name %s: %p %p", key, (void *)ra, (void *)rb);
                ck_assert_uint_eq(ra->n_digests, rb->n_digests);
                for (size_t i = 0; i < json_array_size(list); i++) {
                        json_t *v = json_array_get(list, i);
                        uint8_t bytes[DW_HASH_MAX_SIZE];
                        char why[DW_POLICY_WHY_MAX];
                        enum dw_hash_alg alg;
                        bool verity;

                        ck_assert_int_eq(dw_policy_parse_digest(json_string_value(v), json_string_length(v), &alg,
                                                                &verity, bytes, why),
                                         0);
                        for (unsigned k = 0; k < 2; k++) {
                                struct dw_policy_file f = {.path = key,
                                                           .path_len = len,
                                                           .alg = alg,
                                                           .digest = bytes,
                                                           .digest_len = dw_hash_alg_size(alg),
                                                           .verity = verity};
                                struct dw_policy_verdict va, vb;

                                ck_assert(dw_pmap_accepts(ma, ra, alg, verity, bytes) ==
                                          dw_pmap_accepts(mb, rb, alg, verity, bytes));
                                ck_assert(k == 1 || dw_pmap_accepts(ma, ra, alg, verity, bytes));
                                if (files) {
                                        ck_assert_int_eq(dw_runtime_policy_judge_file(a, &f, &va), 0);
                                        ck_assert_int_eq(dw_runtime_policy_judge_file(b, &f, &vb), 0);
                                        ck_assert_int_eq(va.result, vb.result);
                                        ck_assert_str_eq(va.detail, vb.detail);
                                }
                                bytes[0] ^= 0x5a; /* then one it lacks (or another it has) */
                        }
                }
        }
}

static void assert_same_policy(const struct dw_runtime_policy *a, const struct dw_runtime_policy *b, json_t *root)
{
        struct dw_runtime_policy_info ia, ib;

        dw_runtime_policy_get_info(a, &ia);
        dw_runtime_policy_get_info(b, &ib);
        ck_assert(str_same(ia.name, ib.name) && str_same(ia.version, ib.version) && str_same(ia.created, ib.created) &&
                  str_same(ia.generator, ib.generator));
        ck_assert_uint_eq(ia.n_paths, ib.n_paths);
        ck_assert_uint_eq(ia.n_digests, ib.n_digests);
        ck_assert_uint_eq(ia.n_excludes, ib.n_excludes);
        ck_assert_uint_eq(ia.n_keys, ib.n_keys);
        ck_assert_uint_eq(ia.n_ima_buf, ib.n_ima_buf);
        ck_assert(ia.allow_violations == ib.allow_violations && ia.require_signatures == ib.require_signatures);
        assert_same_map(a, b, json_object_get(root, "digests"), true);
        assert_same_map(a, b, json_object_get(root, "ima_buf"), false);
}

/* Loads text the three ways. They agree on accepting it, on what it accepts, and on why not (byte for byte, for
 * dw_runtime_policy_load() and the DOM loader; the streaming loader may leave the why to the DOM loader). Returns
 * the streaming loader's answer: 0, -EAGAIN (left to the DOM loader), or its error. */
static int assert_loaders_agree(const char *in, size_t len)
{
        _cleanup_(dw_runtime_policy_freep) struct dw_runtime_policy *ps = NULL, *pd = NULL, *pl = NULL;
        _cleanup_(json_decrefp) json_t *root = NULL;
        struct dw_policy_error es = {}, ed = {}, el = {};
        _cleanup_free_ char *text = malloc(MAX(len, (size_t)1));
        int rs, rd, rl;

        /* Exactly its size, not NUL-terminated, so that ASan sees any read past the end. */
        ck_assert_ptr_nonnull(text);
        memcpy(text, in, len);
        rs = dw_runtime_policy_load_stream(text, len, &ps, &es);
        rd = dw_policy_json_parse(text, len, &root, &ed);
        if (rd == 0)
                rd = dw_runtime_policy_load_tree(root, &pd, &ed);
        rl = dw_runtime_policy_load(text, len, &pl, &el);
        ck_assert_msg((rs == 0) == (rd == 0), "streaming loader %d, DOM loader %d (%s: %s) on:\n%.*s", rs, rd, ed.where,
                      ed.msg, (int)MIN(len, (size_t)2000), text);
        ck_assert_int_eq(rl, rd);
        ck_assert((rs == 0) == (ps != NULL) && (rd == 0) == (pd != NULL) && (rl == 0) == (pl != NULL));
        if (rd < 0) {
                ck_assert_msg(rd == -EBADMSG || rd == -EOPNOTSUPP || rd == -ENOMEM, "DOM loader: %d", rd);
                assert_same_error(&el, &ed, "dw_runtime_policy_load()");
                if (rs != -EAGAIN) {
                        ck_assert_int_eq(rs, rd);
                        assert_same_error(&es, &ed, "the streaming loader");
                }
                return rs;
        }
        assert_same_policy(ps, pd, root);
        assert_same_policy(pl, pd, root);
        return rs;
}

static struct dw_runtime_policy *load_json_text(const char *text)
{
        struct dw_runtime_policy *p = NULL;
        struct dw_policy_error err = {};
        int r;

        ck_assert_int_eq(assert_loaders_agree(text, strlen(text)), 0);
        r = dw_runtime_policy_load(text, strlen(text), &p, &err);

        ck_assert_msg(r == 0, "policy refused: %d line %u col %u %s: %s\n%s", r, err.line, err.column, err.where,
                      err.msg, text);
        return p;
}

static struct dw_runtime_policy *load_json(json_t *j)
{
        _cleanup_free_ char *text = json_dumps(j, JSON_COMPACT);

        ck_assert_ptr_nonnull(text);
        return load_json_text(text);
}

/* {"driftwatch_runtime_policy": 1} plus whatever the test adds. */
static json_t *policy_new(void)
{
        json_t *j = json_object();

        json_object_set_new(j, "driftwatch_runtime_policy", json_integer(1));
        json_object_set_new(j, "digests", json_object());
        return j;
}

static void policy_add(json_t *j, const char *section, const char *name, enum dw_hash_alg alg, const uint8_t *d)
{
        char s[16 + 2 * DW_HASH_MAX_SIZE];
        json_t *map = json_object_get(j, section), *list;

        if (!map) {
                map = json_object();
                json_object_set_new(j, section, map);
        }
        list = json_object_get(map, name);
        if (!list) {
                list = json_array();
                json_object_set_new(map, name, list);
        }
        json_array_append_new(list, json_string(digest_str(alg, d, s)));
}

static void policy_option(json_t *j, const char *option, bool value)
{
        json_t *o = json_object_get(j, "options");

        if (!o) {
                o = json_object();
                json_object_set_new(j, "options", o);
        }
        json_object_set_new(o, option, json_boolean(value));
}

static void policy_exclude(json_t *j, const char *pattern)
{
        json_t *x = json_object_get(j, "excludes");

        if (!x) {
                x = json_array();
                json_object_set_new(j, "excludes", x);
        }
        json_array_append_new(x, json_string(pattern));
}

/* A key from a fixture file; keyid may be NULL (then derived). */
static void policy_key(json_t *j, const char *pem_fixture, const char *keyid)
{
        _cleanup_free_ char *pem = fixture(pem_fixture, NULL);
        json_t *keys = json_object_get(j, "keys"), *k = json_object();

        if (!keys) {
                keys = json_array();
                json_object_set_new(j, "keys", keys);
        }
        json_object_set_new(k, "pem", json_string(pem));
        if (keyid)
                json_object_set_new(k, "keyid", json_string(keyid));
        json_array_append_new(keys, k);
}

/* An entry of an event, built as the kernel writes it, its template digest checked, then judged. */
static enum dw_policy_result judge_ev(const struct dw_runtime_policy *p, const struct dw_ima_event *ev,
                                      struct dw_policy_verdict *ret)
{
        _cleanup_(dw_ima_built_entry_done) struct dw_ima_built_entry b = {};
        struct dw_policy_verdict v;
        struct dw_error err = {};

        ck_assert_int_eq(dw_ima_event_build(h, ev, DW_HASH_SHA1, DW_IMA_BANK_NATIVE, &b), 0);
        ck_assert_msg(dw_ima_entry_check_digest(h, &b.entry, &err) == 0, "%s", err.msg);
        ck_assert_int_eq(dw_runtime_policy_judge_entry(p, &b.entry, &v), 0);
        if (ret)
                *ret = v;
        return v.result;
}

/* An ima-ng (or other template) file measurement. */
static enum dw_policy_result judge_simple(const struct dw_runtime_policy *p, const char *tmpl, const char *name,
                                          const char *algo, const uint8_t *digest, size_t len,
                                          struct dw_policy_verdict *ret)
{
        struct dw_ima_event ev = {
                .pcr = 10,
                .template_name = tmpl,
                .digest_algo = algo,
                .digest = digest,
                .digest_len = len,
                .name = name,
        };

        return judge_ev(p, &ev, ret);
}

static enum dw_policy_result judge_sig(const struct dw_runtime_policy *p, const char *name, enum dw_hash_alg alg,
                                       const uint8_t *digest, const uint8_t *sig, size_t sig_len,
                                       struct dw_policy_verdict *ret)
{
        struct dw_ima_event ev = {
                .pcr = 10,
                .template_name = "ima-sig",
                .digest_algo = dw_hash_alg_name(alg),
                .digest = digest,
                .digest_len = dw_hash_alg_size(alg),
                .name = name,
                .sig = sig,
                .sig_len = sig_len,
        };

        return judge_ev(p, &ev, ret);
}

#define assert_result(got, want, v)                                                                                    \
        ck_assert_msg((got) == (want), "got %s (%s), wanted %s", dw_policy_result_name(got), (v).detail,               \
                      dw_policy_result_name(want))

/* ---- 1. loading ---- */

struct load_case {
        const char *json;
        int errnum;
        unsigned line; /* 0: a value error, where must equal */
        const char *where;
        const char *msg; /* substring */
};

#define V   "\"driftwatch_runtime_policy\":1"
#define H64 "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
#define H40 "a94a8fe5ccb19ba61c4c0873d391e987982fbbd3"

static const struct load_case load_cases[] = {
        /* JSON syntax: line and column */
        {"{" V ",\n\"digests\": {\n  \"/a\": [\"sha256:" H64 "\"\n}", EBADMSG, 4, "", "expected"},
        {"", EBADMSG, 1, "", ""},
        {"{" V ",\n\"digests\": {\"/bin/ls\": [], \n\"/bin/ls\": []}}", EBADMSG, 3, "", "duplicate"},
        {"{" V "} trailing", EBADMSG, 1, "", "end of file expected"},
        {"{" V ", \"digests\": {\"/a\\u0000b\": []}}", EBADMSG, 1, "", "NUL"},
        /* the document */
        {"[]", EBADMSG, 0, "$", "expected a JSON object"},
        {"{}", EBADMSG, 0, "$", "no \"driftwatch_runtime_policy\" version field"},
        {"{\"driftwatch_runtime_policy\": \"1\"}", EBADMSG, 0, "$.driftwatch_runtime_policy", "integer"},
        {"{\"driftwatch_runtime_policy\": 2, \"new_field\": 1}", EOPNOTSUPP, 0, "$.driftwatch_runtime_policy",
         "version 2 is not supported (this build reads version 1)"},
        {"{" V ", \"digest\": {}}", EBADMSG, 0, "$.digest", "unknown field (expected driftwatch_runtime_policy, meta"},
        /* meta */
        {"{" V ", \"meta\": []}", EBADMSG, 0, "$.meta", "expected an object"},
        {"{" V ", \"meta\": {\"name\": 7}}", EBADMSG, 0, "$.meta.name", "expected a string"},
        {"{" V ", \"meta\": {\"created\": \"yesterday\"}}", EBADMSG, 0, "$.meta.created", "RFC 3339"},
        {"{" V ", \"meta\": {\"created\": \"2026-13-01T00:00:00Z\"}}", EBADMSG, 0, "$.meta.created", "RFC 3339"},
        {"{" V ", \"meta\": {\"created\": \"2026-11-23T10:00:00\"}}", EBADMSG, 0, "$.meta.created", "RFC 3339"},
        /* digests */
        {"{" V ", \"digests\": []}", EBADMSG, 0, "$.digests", "expected an object"},
        {"{" V ", \"digests\": {\"/bin/ls\": \"sha256:" H64 "\"}}", EBADMSG, 0, "$.digests[\"/bin/ls\"]",
         "expected an array"},
        {"{" V ", \"digests\": {\"/bin/ls\": [7]}}", EBADMSG, 0, "$.digests[\"/bin/ls\"][0]", "expected a string"},
        {"{" V ", \"digests\": {\"/bin/ls\": [\"sha256:" H64 "\", \"sha256:9f8g\"]}}", EBADMSG, 0,
         "$.digests[\"/bin/ls\"][1]", "sha256 digest has 4 hex digits, expected 64"},
        {"{" V
         ", \"digests\": {\"/bin/ls\": [\"sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a0g\"]}}",
         EBADMSG, 0, "$.digests[\"/bin/ls\"][0]", "bad hex digit 'g' at position 64 of the sha256 digest"},
        {"{" V ", \"digests\": {\"/bin/ls\": [\"sha256:" H40 "\"]}}", EBADMSG, 0, "$.digests[\"/bin/ls\"][0]",
         "sha256 digest has 40 hex digits, expected 64"},
        {"{" V ", \"digests\": {\"/bin/ls\": [\"sha1:" H64 "\"]}}", EBADMSG, 0, "$.digests[\"/bin/ls\"][0]",
         "sha1 digest has 64 hex digits, expected 40"},
        {"{" V ", \"digests\": {\"/bin/ls\": [\"md5:d41d8cd98f00b204e9800998ecf8427e\"]}}", EBADMSG, 0,
         "$.digests[\"/bin/ls\"][0]", "unsupported digest algorithm \"md5\""},
        {"{" V ", \"digests\": {\"/bin/ls\": [\"" H64 "\"]}}", EBADMSG, 0, "$.digests[\"/bin/ls\"][0]",
         "expected \"<algorithm>:<hex digest>\""},
        {"{" V ", \"digests\": {\"\": []}}", EBADMSG, 0, "$.digests[\"\"]", "empty path"},
        {"{" V ", \"digests\": {\"/a\\\"b\": 1}}", EBADMSG, 0, "$.digests[\"/a\\\"b\"]", "expected an array"},
        /* excludes */
        {"{" V ", \"excludes\": \"^/tmp/\"}", EBADMSG, 0, "$.excludes", "expected an array"},
        {"{" V ", \"excludes\": [\"^/tmp/\", 1]}", EBADMSG, 0, "$.excludes[1]", "expected a string"},
        {"{" V ", \"excludes\": [\"^/tmp/\", \"(\"]}", EBADMSG, 0, "$.excludes[1]", "bad regular expression \"(\""},
        {"{" V ", \"excludes\": [\"\"]}", EBADMSG, 0, "$.excludes[0]", "empty pattern"},
        /* keys */
        {"{" V ", \"keys\": {}}", EBADMSG, 0, "$.keys", "expected an array"},
        {"{" V ", \"keys\": [1]}", EBADMSG, 0, "$.keys[0]", "expected an object"},
        {"{" V ", \"keys\": [{\"keyid\": \"01020304\"}]}", EBADMSG, 0, "$.keys[0]", "missing \"pem\""},
        {"{" V ", \"keys\": [{\"pem\": \"hello\"}]}", EBADMSG, 0, "$.keys[0].pem", "expected a PEM"},
        {"{" V ", \"keys\": [{\"pem\": \"-----BEGIN PUBLIC KEY-----\\nAAAA\\n-----END PUBLIC KEY-----\\n\"}]}", EBADMSG,
         0, "$.keys[0].pem", "bad PEM public key"},
        {"{" V ", \"keys\": [{\"pem\": \"-----BEGIN CERTIFICATE-----\\nAAAA\\n-----END CERTIFICATE-----\\n\"}]}",
         EBADMSG, 0, "$.keys[0].pem", "bad PEM certificate"},
        {"{" V ", \"keys\": [{\"pem\": \"-----BEGIN PUBLIC KEY-----\\n"
         "MCowBQYDK2VwAyEAGb9ECWmEzf6FQbrBZ9w7lshQhqowtrbLDFw4rXAxZuE=\\n-----END PUBLIC KEY-----\\n\"}]}",
         EBADMSG, 0, "$.keys[0].pem", "unsupported key type ED25519"},
        {"{" V ", \"keys\": [{\"pem\": 1}]}", EBADMSG, 0, "$.keys[0].pem", "expected a PEM string"},
        {"{" V ", \"keys\": [{\"pem\": \"x\", \"key_id\": \"01020304\"}]}", EBADMSG, 0, "$.keys[0].key_id",
         "unknown field (expected keyid, pem, name)"},
        /* ima_buf */
        {"{" V ", \"ima_buf\": {\".ima\": [\"sha256:xyz\"]}}", EBADMSG, 0, "$.ima_buf[\".ima\"][0]",
         "sha256 digest has 3 hex digits"},
        {"{" V ", \"ima_buf\": [\".ima\"]}", EBADMSG, 0, "$.ima_buf", "expected an object"},
        {"{" V ", \"ima_buf\": {\"\": []}}", EBADMSG, 0, "$.ima_buf[\"\"]", "empty event name"},
        {"{" V ", \"ima_buf\": {\".ima\": [\"verity:sha256:" H64 "\"]}}", EBADMSG, 0, "$.ima_buf[\".ima\"][0]",
         "an fs-verity digest, which only files have"},
        /* options */
        {"{" V ", \"options\": {\"allow_violation\": true}}", EBADMSG, 0, "$.options.allow_violation",
         "unknown field (expected allow_violations, require_signatures)"},
        {"{" V ", \"options\": {\"allow_violations\": 1}}", EBADMSG, 0, "$.options.allow_violations",
         "expected true or false"},
        {"{" V ", \"options\": true}", EBADMSG, 0, "$.options", "expected an object"},
};

START_TEST(test_load_errors)
{
        for (size_t i = 0; i < ELEMENTSOF(load_cases); i++) {
                const struct load_case *c = &load_cases[i];
                struct dw_runtime_policy *p = NULL;
                struct dw_policy_error err;
                int r;

                assert_loaders_agree(c->json, strlen(c->json));
                memset(&err, 0xaa, sizeof(err));
                r = dw_runtime_policy_load(c->json, strlen(c->json), &p, &err);
                ck_assert_msg(r == -c->errnum, "case %zu: got %d, wanted %d (%s)\n%s", i, r, -c->errnum, err.msg,
                              c->json);
                ck_assert_ptr_null(p);
                ck_assert_msg(err.line == c->line, "case %zu: line %u, wanted %u (%s)", i, err.line, c->line, err.msg);
                if (c->line == 0)
                        ck_assert_msg(strcmp(err.where, c->where) == 0, "case %zu: where '%s', wanted '%s'", i,
                                      err.where, c->where);
                else
                        ck_assert_uint_gt(err.column, 0);
                ck_assert_msg(strstr(err.msg, c->msg), "case %zu: message '%s' lacks '%s'", i, err.msg, c->msg);
                ck_assert_msg(err.msg[0] != '\0' && !strchr(err.msg, '\n'), "case %zu: message '%s'", i, err.msg);
        }
}
END_TEST

/* The streaming loader on what its tokenizer must get exactly right: it accepts what jansson accepts, with the same
 * names and digests, and leaves what jansson (or the checks of the DOM loader) refuses to the DOM loader. Each case
 * also goes through assert_loaders_agree(). */
#define D    "\"sha256:" H64 "\""
#define D1   "\"sha1:" H40 "\""
#define H64U "9F86D081884C7D659A2FEAA0C55AD015A3BF4F1B2B0B822CD15D6C15B0F00A08"
#define T(s) s, sizeof(s) - 1
#define ANY  1 /* the streaming loader's answer is not checked, only that it agrees */

static const struct stream_case {
        const char *json;
        size_t len;
        int stream; /* 0, -EAGAIN, the error it reports itself, or ANY */
} stream_cases[] = {
        /* accepted */
        {T("{" V ",\"digests\":{\"/usr/bin/caf\\u00e9\":[" D "],\"/opt/caf\\\\xe9/run\":[" D1
           "],\"\\ud83d\\ude00\":[],\"/a\\/b\\\"c\\\\d\\b\\f\\n\\r\\t\":[" D "," D "]}}"),
         0},
        {T("{" V ",\"digests\":{\"/caf\xc3\xa9\":[" D "],\"/\xe2\x82\xac\":[" D "],\"/\xf0\x9f\x98\x80\":[" D
           "],\"/\xef\xbf\xbf\x7f\xf4\x8f\xbf\xbf\":[" D "]}}"),
         0},
        {T("{" V ",\"digests\":{\"/a\":[\"sha\\u0032\\u0035\\u0036:" H64 "\",\"SHA256:" H64U "\",\"Sm3_256:" H64
           "\",\"verity:sha256:" H64 "\",\"\\u0073ha1:" H40 "\"]}}"),
         0},
        {T("{" V ",\"digests\":{\"/a\":[\"sha1:\\u0061" H40 "\"]}}"), -EAGAIN}, /* 41 digits */
        {T(" \t\r\n{\r\n\t" V " ,\n\"digests\" :\t{ \"/a\" : [ " D " , " D1 " ] } ,\"ima_buf\":{ } \n\t}\r\n "), 0},
        {T("{\"digests\":{\"/a\":[" D "]},\"ima_buf\":{\".ima\":[" D "]}," V
           ",\"meta\":{\"x\":[[[{}]]],\"name\":\"n\",\"digests\":{\"/b\":1}},\"excludes\":[\"^/tmp/\"],"
           "\"options\":{\"allow_violations\":true}}"),
         0},
        {T("{" V ",\"dig\\u0065sts\":{\"/a\":[" D "]},\"ima\\u005fbuf\":{\"k\":[" D1 "]}}"), 0},
        {T("{" V ",\"digests\":{},\"ima_buf\":{}}"), 0},
        {T("{" V "}"), 0},
        {T("{" V "\0,\"digests\":{}}"), ANY}, /* jansson skips a NUL after a number */
        {T("{" V ",\"digests\":{\"/a\":[" D "," D "," D "]},\"meta\":{\"name\":\"\\u00e9\\ud83d\\ude00\"}}"), 0},
        /* refused by the tokenizer: left to the DOM loader, which says where */
        {T("{" V ",\"digests\":{\"/\xc3\x28\":[]}}"), -EAGAIN},
        {T("{" V ",\"digests\":{\"/\xc0\xaf\":[]}}"), -EAGAIN},
        {T("{" V ",\"digests\":{\"/\xe0\x80\xaf\":[]}}"), -EAGAIN},
        {T("{" V ",\"digests\":{\"/\xed\xa0\x80\":[]}}"), -EAGAIN},
        {T("{" V ",\"digests\":{\"/\xf4\x90\x80\x80\":[]}}"), -EAGAIN},
        {T("{" V ",\"digests\":{\"/\xf0\x8f\xbf\xbf\":[]}}"), -EAGAIN},
        {T("{" V ",\"digests\":{\"/\xe2\x82\":[]}}"), -EAGAIN},
        {T("{" V ",\"digests\":{\"/\x80\":[]}}"), -EAGAIN},
        {T("{" V ",\"digests\":{\"/\xff\":[]}}"), -EAGAIN},
        {T("{" V ",\"digests\":{\"/a\":[]}}\xc3"), -EAGAIN},
        {T("{" V ",\"digests\":{\"/\\ud800\":[]}}"), -EAGAIN},
        {T("{" V ",\"digests\":{\"/\\udc00\":[]}}"), -EAGAIN},
        {T("{" V ",\"digests\":{\"/\\ud800\\u0041\":[]}}"), -EAGAIN},
        {T("{" V ",\"digests\":{\"/\\ud800x\":[]}}"), -EAGAIN},
        {T("{" V ",\"digests\":{\"/\\ud800\\n\":[]}}"), -EAGAIN},
        {T("{" V ",\"digests\":{\"/\\ud800\\udbff\":[]}}"), -EAGAIN},
        {T("{" V ",\"digests\":{\"/a\\u0000b\":[]}}"), -EAGAIN},
        {T("{" V ",\"digests\":{\"/a\":[\"sha256:\\u0000\"]}}"), -EAGAIN},
        {T("{" V ",\"digests\":{\"/a\\x41\":[]}}"), -EAGAIN},
        {T("{" V ",\"digests\":{\"/a\\u12\":[]}}"), -EAGAIN},
        {T("{" V ",\"digests\":{\"/a\\u12g4\":[]}}"), -EAGAIN},
        {T("{" V ",\"digests\":{\"/a\\U0041\":[]}}"), -EAGAIN},
        {T("{" V ",\"digests\":{\"/a\\\":[]}}"), -EAGAIN},
        {T("{" V ",\"digests\":{\"/a\t\":[]}}"), -EAGAIN},
        {T("{" V ",\"digests\":{\"/a\x1f\":[]}}"), -EAGAIN},
        {T("{" V ",\"digests\":{\"/a\0\":[]}}"), -EAGAIN},
        {T("{" V ",\"digests\":{\"/a\":[],\"/a\":[]}}"), -EAGAIN},
        {T("{" V ",\"digests\":{\"/a\":[],\"\\u002fa\":[" D "]}}"), -EAGAIN},
        {T("{" V ",\"digests\":{},\"digests\":{}}"), -EAGAIN},
        {T("{" V ",\"digests\":{},\"dig\\u0065sts\":{}}"), -EAGAIN},
        {T("{" V ",\"ima_buf\":{},\"ima_buf\":{}}"), -EAGAIN},
        {T("{" V ",\"meta\":{},\"meta\":{}}"), -EAGAIN},
        {T("{" V ",\"digests\":{\"/a\":[" D ",]}}"), -EAGAIN},
        {T("{" V ",\"digests\":{\"/a\":[],}}"), -EAGAIN},
        {T("{" V ",}"), -EAGAIN},
        {T("{" V ",\"digests\":{\"/a\" []}}"), -EAGAIN},
        {T("{" V ",\"digests\":{\"/a\":[] \"/b\":[]}}"), -EAGAIN},
        {T("{" V ",\"digests\":{\"/a\":[1]}}"), -EAGAIN},
        {T("{" V ",\"digests\":{\"/a\":[null]}}"), -EAGAIN},
        {T("{" V ",\"digests\":{\"/a\":[[" D "]]}}"), -EAGAIN},
        {T("{" V ",\"digests\":{\"/a\":" D "}}"), -EAGAIN},
        {T("{" V ",\"digests\":{\"/a\":null}}"), -EAGAIN},
        {T("{" V ",\"digests\":[]}"), -EAGAIN},
        {T("{" V ",\"digests\":{\"\":[]}}"), -EAGAIN},
        {T("{" V ",\"ima_buf\":{\".ima\":[\"verity:sha256:" H64 "\"]}}"), -EAGAIN},
        {T("{" V ",\"digests\":{\"/a\":[\"sha256:" H40 "\"]}}"), -EAGAIN},
        {T("{" V ",\"digests\":{\"/a\":[\"md5:" H40 "\"]}}"), -EAGAIN},
        {T("{" V ",\"digests\":{\"/a\":[\"sha1:" H40 "\"x]}}"), -EAGAIN},
        {T("{" V "} x"), -EAGAIN},
        {T("{" V "}{}"), -EAGAIN},
        {T("{" V "}]"), -EAGAIN},
        {T("{" V "}\0"), -EAGAIN},
        {T("\xef\xbb\xbf{" V "}"), -EAGAIN},
        {T(""), -EAGAIN},
        {T(" \n"), -EAGAIN},
        {T("{"), -EAGAIN},
        {T("[]"), -EAGAIN},
        {T("{" V ",\"digests\":{\"/a\":[" D), -EAGAIN},
        {T("{" V ",\"digests\":{\"/a"), -EAGAIN},
        {T("{" V ",\"meta\":{\"name\":\"x\\q\"}}"), -EAGAIN},
        {T("{" V ",\"meta\":{\"name\":\"\xc3\"}}"), -EAGAIN},
        {T("{" V ",\"meta\":[1}, \"x\":2]}"), -EAGAIN},
        {T("{" V ",\"meta\":{\"a\":1e999}}"), -EAGAIN},
        {T("{\"driftwatch_runtime_policy\":01}"), -EAGAIN},
        {T("{\"driftwatch_runtime_policy\":1 2}"), -EAGAIN},
        {T("{\"driftwatch_runtime_policy\":}"), -EAGAIN},
        {T("{\"driftwatch_runtime_policy\"}"), -EAGAIN},
        {T("{1:1}"), -EAGAIN},
        /* refused by the checks of the small members, in a document otherwise valid: said by the streaming loader */
        {T("{\"driftwatch_runtime_policy\":2,\"digests\":{\"/a\":[" D "]}}"), -EOPNOTSUPP},
        {T("{" V ",\"digests\":{\"/a\":[" D "]},\"meta\":{\"name\":7}}"), -EBADMSG},
        {T("{" V ",\"digests\":{\"/a\":[" D "]},\"excludes\":[\"(\"]}"), -EBADMSG},
        {T("{" V ",\"digests\":{\"/a\":[" D "]},\"digest\":{}}"), -EBADMSG},
        {T("{" V ",\"di\\u0067est\":{}}"), -EBADMSG},
        {T("{\"digests\":{\"/a\":[" D "]}}"), -EBADMSG},
        {T("{" V ",\"options\":{\"allow_violations\":1},\"ima_buf\":{\"k\":[" D "]}}"), -EBADMSG},
};

static char *nested(const char *prefix, unsigned depth, const char *suffix)
{
        size_t n = strlen(prefix) + 2 * depth + strlen(suffix) + 1;
        char *s = malloc(n), *o = s;

        ck_assert_ptr_nonnull(s);
        o = stpcpy(o, prefix);
        memset(o, '[', depth);
        memset(o + depth, ']', depth);
        strcpy(o + 2 * depth, suffix);
        return s;
}

START_TEST(test_stream_cases)
{
        static const struct {
                const char *prefix, *suffix;
                unsigned depth;
                int stream;
        } deep[] = {
                {"{" V ",\"digests\":{\"/a\":[" D "]},\"meta\":{\"x\":", "}}", 100, 0},
                {"{" V ",\"digests\":{\"/a\":[" D "]},\"meta\":{\"x\":", "}}", 3000, -EAGAIN},
                {"{" V ",\"digests\":{\"/a\":", "}}", 3000, -EAGAIN},
                {"{" V ",\"digests\":{\"/a\":", "}}", 100, -EAGAIN},
        };

        for (size_t i = 0; i < ELEMENTSOF(stream_cases); i++) {
                const struct stream_case *c = &stream_cases[i];
                int r = assert_loaders_agree(c->json, c->len);

                ck_assert_msg(c->stream == ANY || r == c->stream, "case %zu: streaming loader %d, wanted %d", i, r,
                              c->stream);
        }
        for (size_t i = 0; i < ELEMENTSOF(deep); i++) {
                _cleanup_free_ char *s = nested(deep[i].prefix, deep[i].depth, deep[i].suffix);

                ck_assert_int_eq(assert_loaders_agree(s, strlen(s)), deep[i].stream);
        }
}
END_TEST

START_TEST(test_load_keys_errors)
{
        _cleanup_(json_decrefp) json_t *j = policy_new();
        _cleanup_free_ char *text = NULL;
        struct dw_runtime_policy *p = NULL;
        struct dw_policy_error err = {};

        /* Two keys with one key id, and a key id that is not 8 hex digits. */
        policy_key(j, "rsa.pub.pem", NULL);
        policy_key(j, "rsa-skid.crt", "a1b2c3d4");
        policy_key(j, "ec.pub.pem", "A1B2C3D4");
        text = json_dumps(j, JSON_COMPACT);
        ck_assert_int_eq(dw_runtime_policy_load(text, strlen(text), &p, &err), -EBADMSG);
        ck_assert_str_eq(err.where, "$.keys[2]");
        ck_assert_str_eq(err.msg, "duplicate keyid a1b2c3d4 (also $.keys[1])");

        json_object_set_new(json_array_get(json_object_get(j, "keys"), 2), "keyid", json_string("a1b2c3"));
        free(text);
        text = json_dumps(j, JSON_COMPACT);
        ck_assert_int_eq(dw_runtime_policy_load(text, strlen(text), &p, &err), -EBADMSG);
        ck_assert_str_eq(err.where, "$.keys[2].keyid");
        ck_assert_ptr_nonnull(strstr(err.msg, "expected 8 hex digits"));
}
END_TEST

START_TEST(test_load_ok)
{
        _cleanup_(dw_runtime_policy_freep) struct dw_runtime_policy *p = NULL;
        struct dw_runtime_policy_info info;
        struct dw_policy_verdict v;
        uint8_t d[32];
        const char *json =
                "{\"driftwatch_runtime_policy\": 1,\n"
                " \"meta\": {\"name\": \"gw\", \"version\": \"7\", \"created\": \"2026-11-23T10:00:00.5+01:00\",\n"
                "          \"generator\": \"test\", \"x-anything\": {\"tools\": [1, 2]}},\n"
                " \"digests\": {\"/bin/ls\": "
                "[\"SHA256:9F86D081884C7D659A2FEAA0C55AD015A3BF4F1B2B0B822CD15D6C15B0F00A08\",\n"
                "                           \"sha256:" H64 "\", \"sha1:" H40 "\"],\n"
                "             \"/deny\": [],\n"
                "             \"/v\": [\"verity:sha256:" H64 "\"]},\n"
                " \"excludes\": [\"^/tmp/\"],\n"
                " \"ima_buf\": {\".ima\": []},\n"
                " \"keys\": [],\n"
                " \"options\": {}}";

        p = load_json_text(json);
        dw_runtime_policy_get_info(p, &info);
        ck_assert_str_eq(info.name, "gw");
        ck_assert_str_eq(info.version, "7");
        ck_assert_str_eq(info.generator, "test");
        ck_assert_str_eq(info.created, "2026-11-23T10:00:00.5+01:00");
        ck_assert_uint_eq(info.n_paths, 3);
        ck_assert_uint_eq(info.n_digests, 3); /* the uppercase duplicate counts once */
        ck_assert_uint_eq(info.n_excludes, 1);
        ck_assert_uint_eq(info.n_keys, 0);
        ck_assert_uint_eq(info.n_ima_buf, 1);
        ck_assert(!info.allow_violations && !info.require_signatures);

        ck_assert_int_eq(dw_hex_decode(H64, 64, d, sizeof(d)), 32);
        assert_result(judge_simple(p, "ima-ng", "/bin/ls", "sha256", d, 32, &v), DW_POLICY_ACCEPT, v);
        /* A path with no accepted digest is known: a mismatch, not "not in allowlist". */
        assert_result(judge_simple(p, "ima-ng", "/deny", "sha256", d, 32, &v), DW_POLICY_DIGEST_MISMATCH, v);
        ck_assert_str_eq(v.detail, "sha256 digest not among the 0 accepted for this path");
        /* An fs-verity digest matches only a verity: entry, and the other way round. */
        assert_result(judge_simple(p, "ima-ng", "/v", "sha256", d, 32, &v), DW_POLICY_DIGEST_MISMATCH, v);
        {
                struct dw_ima_event ev = {.pcr = 10,
                                          .template_name = "ima-ngv2",
                                          .digest_algo = "sha256",
                                          .digest = d,
                                          .digest_len = 32,
                                          .digest_type = "verity",
                                          .name = "/v"};

                assert_result(judge_ev(p, &ev, &v), DW_POLICY_ACCEPT, v);
                ev.name = "/bin/ls";
                assert_result(judge_ev(p, &ev, &v), DW_POLICY_DIGEST_MISMATCH, v);
                ck_assert_str_eq(v.detail, "fs-verity sha256 digest not among the 2 accepted for this path");
                ev.digest_type = "ima";
                assert_result(judge_ev(p, &ev, &v), DW_POLICY_ACCEPT, v);
        }

        /* The minimal policy: nothing is allowed. */
        dw_runtime_policy_free(p);
        p = load_json_text("{\"driftwatch_runtime_policy\": 1}");
        assert_result(judge_simple(p, "ima-ng", "/bin/ls", "sha256", d, 32, &v), DW_POLICY_NOT_IN_ALLOWLIST, v);
        dw_runtime_policy_get_info(p, &info);
        ck_assert_ptr_null(info.name);
        ck_assert_uint_eq(info.n_paths, 0);
}
END_TEST

/* The example of docs/runtime-policy.md. */
START_TEST(test_example)
{
        _cleanup_(dw_runtime_policy_freep) struct dw_runtime_policy *p = NULL;
        _cleanup_free_ char *text = fixture("example.json", NULL);
        struct dw_runtime_policy_info info;
        struct dw_policy_verdict v;
        uint8_t d[32];

        p = load_json_text(text);
        dw_runtime_policy_get_info(p, &info);
        ck_assert_str_eq(info.name, "gateway-base");
        ck_assert_uint_eq(info.n_paths, 6);
        ck_assert_uint_eq(info.n_digests, 7);
        ck_assert_uint_eq(info.n_excludes, 3);
        ck_assert_uint_eq(info.n_keys, 1);
        ck_assert_uint_eq(info.n_ima_buf, 2);
        ck_assert_int_eq(dw_hex_decode("3d9f2889d6782537624a4e1a10e68a2ddd53e0ee8bac02676f27308f42ec6bf6", 64, d, 32),
                         32);
        assert_result(judge_simple(p, "ima-ng", "/usr/bin/busybox", "sha256", d, 32, &v), DW_POLICY_ACCEPT, v);
        assert_result(judge_simple(p, "ima-ng", "/home/ann/.cache/x", "sha256", d, 32, &v), DW_POLICY_EXCLUDED, v);
        assert_result(judge_simple(p, "ima-ng", "/usr/bin/never-this", "sha256", d, 32, &v), DW_POLICY_DIGEST_MISMATCH,
                      v);
}
END_TEST

/* A name accepting more digests than are scanned in place: they go to the (name, digest) table. */
START_TEST(test_many_digests)
{
        _cleanup_(dw_runtime_policy_freep) struct dw_runtime_policy *p = NULL;
        _cleanup_(json_decrefp) json_t *j = policy_new();
        struct dw_runtime_policy_info info;
        struct dw_policy_verdict v;
        enum { MANY = 3 * DW_PMAP_INLINE_MAX_FOR_TEST };

        for (unsigned i = 0; i < MANY; i++) {
                enum dw_hash_alg alg = (enum dw_hash_alg)(i % 4);
                uint8_t d[DW_HASH_MAX_SIZE];
                char seed[32];

                snprintf(seed, sizeof(seed), "version %u", i);
                sha(alg, seed, d);
                policy_add(j, "digests", "/usr/bin/often-updated", alg, d);
                policy_add(j, "digests", "/usr/bin/often-updated", alg, d); /* listed twice: counted once */
                if (i < 3)
                        policy_add(j, "digests", "/usr/bin/rare", alg, d);
                policy_add(j, "ima_buf", "kernel_version", alg, d);
        }
        p = load_json(j);
        dw_runtime_policy_get_info(p, &info);
        ck_assert_uint_eq(info.n_paths, 2);
        ck_assert_uint_eq(info.n_digests, MANY + 3);
        for (unsigned i = 0; i < MANY + 4; i++) {
                enum dw_hash_alg alg = (enum dw_hash_alg)(i % 4);
                uint8_t d[DW_HASH_MAX_SIZE];
                char seed[32];

                snprintf(seed, sizeof(seed), "version %u", i);
                sha(alg, seed, d);
                assert_result(judge_simple(p, "ima-ng", "/usr/bin/often-updated", dw_hash_alg_name(alg), d,
                                           dw_hash_alg_size(alg), &v),
                              i < MANY ? DW_POLICY_ACCEPT : DW_POLICY_DIGEST_MISMATCH, v);
                assert_result(
                        judge_simple(p, "ima-ng", "/usr/bin/rare", dw_hash_alg_name(alg), d, dw_hash_alg_size(alg), &v),
                        i < 3 ? DW_POLICY_ACCEPT : DW_POLICY_DIGEST_MISMATCH, v);
                if (i == MANY) {
                        char want[80];

                        snprintf(want, sizeof(want), "%s digest not among the %d accepted for this path",
                                 dw_hash_alg_name(alg), MANY);
                        assert_result(judge_simple(p, "ima-ng", "/usr/bin/often-updated", dw_hash_alg_name(alg), d,
                                                   dw_hash_alg_size(alg), &v),
                                      DW_POLICY_DIGEST_MISMATCH, v);
                        ck_assert_str_eq(v.detail, want);
                }
        }
}
END_TEST

START_TEST(test_result_names)
{
        static const char *const names[] = {
                "accept",           "excluded",         "boot_aggregate",  "violation_allowed",
                "not_in_allowlist", "digest_mismatch",  "bad_signature",   "unsigned",
                "violation",        "ima_buf_mismatch", "ima_buf_unknown", "unsupported_digest",
        };
        enum dw_policy_result r;

        ck_assert_uint_eq(ELEMENTSOF(names), _DW_POLICY_RESULT_MAX);
        for (size_t i = 0; i < ELEMENTSOF(names); i++) {
                ck_assert_str_eq(dw_policy_result_name((enum dw_policy_result)i), names[i]);
                ck_assert_int_eq(dw_policy_result_from_name(names[i], &r), 0);
                ck_assert_int_eq(r, (int)i);
                ck_assert(dw_policy_result_is_failure(r) == (i >= DW_POLICY_NOT_IN_ALLOWLIST));
        }
        ck_assert_ptr_null(dw_policy_result_name(_DW_POLICY_RESULT_MAX));
        ck_assert_int_eq(dw_policy_result_from_name("nope", &r), -ENOENT);
}
END_TEST

/* ---- 2. verdicts ---- */

START_TEST(test_reasons)
{
        _cleanup_(dw_runtime_policy_freep) struct dw_runtime_policy *p = NULL;
        _cleanup_(json_decrefp) json_t *j = policy_new();
        struct dw_policy_verdict v;
        uint8_t ls[32], other[32], md5[16] = {1, 2, 3};

        sha(DW_HASH_SHA256, "ls", ls);
        sha(DW_HASH_SHA256, "other", other);
        policy_add(j, "digests", "/usr/bin/ls", DW_HASH_SHA256, ls);
        p = load_json(j);

        assert_result(judge_simple(p, "ima-ng", "/usr/bin/ls", "sha256", ls, 32, &v), DW_POLICY_ACCEPT, v);
        ck_assert_str_eq(v.detail, "");
        assert_result(judge_simple(p, "ima-ng", "/usr/bin/ls", "sha256", other, 32, &v), DW_POLICY_DIGEST_MISMATCH, v);
        ck_assert_str_eq(v.detail, "sha256 digest not among the 1 accepted for this path");
        assert_result(judge_simple(p, "ima-ng", "/usr/bin/cat", "sha256", ls, 32, &v), DW_POLICY_NOT_IN_ALLOWLIST, v);
        ck_assert_str_eq(v.detail, "path not in the policy");
        /* Paths are exact: no normalization. */
        assert_result(judge_simple(p, "ima-ng", "/usr/bin//ls", "sha256", ls, 32, &v), DW_POLICY_NOT_IN_ALLOWLIST, v);
        assert_result(judge_simple(p, "ima-ng", "/usr/bin/ls/", "sha256", ls, 32, &v), DW_POLICY_NOT_IN_ALLOWLIST, v);
        assert_result(judge_simple(p, "ima-ng", "/usr/bin/l", "sha256", ls, 32, &v), DW_POLICY_NOT_IN_ALLOWLIST, v);
        /* md5 (and any algorithm a policy cannot hold) is not judged. */
        assert_result(judge_simple(p, "ima-ng", "/usr/bin/ls", "md5", md5, 16, &v), DW_POLICY_UNSUPPORTED_DIGEST, v);
        ck_assert_str_eq(v.detail, "md5 digest cannot be judged (sha1, sha256, sha384, sha512, sm3)");
        {
                uint8_t sha224[28] = {};

                assert_result(judge_simple(p, "ima-ngv2", "/usr/bin/ls", "sha224", sha224, 28, &v),
                              DW_POLICY_UNSUPPORTED_DIGEST, v);
                ck_assert_str_eq(v.detail, "sha224 digest cannot be judged (sha1, sha256, sha384, sha512, sm3)");
        }
        /* A template without a digest field. */
        {
                struct dw_ima_event ev = {.pcr = 10, .template_name = "n-ng|iuid", .name = "/usr/bin/ls"};

                assert_result(judge_ev(p, &ev, &v), DW_POLICY_UNSUPPORTED_DIGEST, v);
                ck_assert_str_eq(v.detail, "the entry has no file digest");
        }

        /* boot_aggregate is reported for the verifier, whatever its digest. */
        assert_result(judge_simple(p, "ima-ng", "boot_aggregate", "sha256", other, 32, &v), DW_POLICY_BOOT_AGGREGATE,
                      v);
        assert_result(judge_simple(p, "ima", "boot_aggregate", "sha1", other, 20, &v), DW_POLICY_BOOT_AGGREGATE, v);

        /* Violations: refused unless allowed. */
        {
                struct dw_ima_event ev = {.pcr = 10,
                                          .template_name = "ima-ng",
                                          .violation = true,
                                          .digest_algo = "sha256",
                                          .name = "/usr/bin/ls"};

                assert_result(judge_ev(p, &ev, &v), DW_POLICY_VIOLATION, v);
                ck_assert_str_eq(v.detail, "measurement violation (ToMToU or open writers)");
                dw_runtime_policy_free(p);
                policy_option(j, "allow_violations", true);
                p = load_json(j);
                assert_result(judge_ev(p, &ev, &v), DW_POLICY_VIOLATION_ALLOWED, v);
                ev.template_name = "ima";
                ev.digest_algo = "sha1";
                assert_result(judge_ev(p, &ev, &v), DW_POLICY_VIOLATION_ALLOWED, v);
        }
}
END_TEST

START_TEST(test_digest_algorithms)
{
        static const enum dw_hash_alg algs[] = {DW_HASH_SHA1, DW_HASH_SHA256, DW_HASH_SHA384, DW_HASH_SHA512,
                                                DW_HASH_SM3_256};
        _cleanup_(dw_runtime_policy_freep) struct dw_runtime_policy *p = NULL;
        _cleanup_(json_decrefp) json_t *j = policy_new();
        uint8_t d[_DW_HASH_ALG_MAX][DW_HASH_MAX_SIZE];
        struct dw_policy_verdict v;

        FOREACH_HASH_ALG (a) {
                if (!dw_hasher_has(h, a))
                        continue;
                sha(a, "/usr/bin/multi", d[a]);
                policy_add(j, "digests", "/usr/bin/multi", a, d[a]);
        }
        p = load_json(j);
        for (size_t i = 0; i < ELEMENTSOF(algs); i++) {
                enum dw_hash_alg a = algs[i];
                const char *name = a == DW_HASH_SM3_256 ? "sm3" : dw_hash_alg_name(a);
                uint8_t wrong[DW_HASH_MAX_SIZE];

                if (!dw_hasher_has(h, a))
                        continue;
                assert_result(judge_simple(p, "ima-ng", "/usr/bin/multi", name, d[a], dw_hash_alg_size(a), &v),
                              DW_POLICY_ACCEPT, v);
                memcpy(wrong, d[a], dw_hash_alg_size(a));
                wrong[dw_hash_alg_size(a) - 1] ^= 1;
                assert_result(judge_simple(p, "ima-ng", "/usr/bin/multi", name, wrong, dw_hash_alg_size(a), &v),
                              DW_POLICY_DIGEST_MISMATCH, v);
        }
        /* The "ima" template: a bare SHA-1 digest. */
        assert_result(judge_simple(p, "ima", "/usr/bin/multi", "sha1", d[DW_HASH_SHA1], 20, &v), DW_POLICY_ACCEPT, v);
        /* The same bytes under another algorithm of that size are another digest (sm3 and sha256 are both 32). */
        if (dw_hasher_has(h, DW_HASH_SM3_256))
                assert_result(judge_simple(p, "ima-ng", "/usr/bin/multi", "sm3", d[DW_HASH_SHA256], 32, &v),
                              DW_POLICY_DIGEST_MISMATCH, v);
}
END_TEST

START_TEST(test_excludes)
{
        _cleanup_(dw_runtime_policy_freep) struct dw_runtime_policy *p = NULL;
        _cleanup_(json_decrefp) json_t *j = policy_new();
        struct dw_policy_verdict v;
        uint8_t d[32], other[32];
        static const struct {
                const char *path;
                bool excluded;
        } cases[] = {
                {"/tmp/x", true},
                {"/tmp/", true},
                {"/tmp", false},
                {"/var/tmp/x", false}, /* matched from the first byte, like Python's re.match */
                {"/var/log/syslog", true},
                {"/var/logx", false},
                {"/home/a/.cache/b", true}, /* ".*" lets a pattern match anywhere */
                {"/srv/x.log", true},
                {"/srv/x.log.1", false}, /* "$" anchors the end */
                {"/usr/bin/ls", true},   /* the pattern is an alternation: "tmp|/usr/bin/ls" */
                {"tmp", true},
                {"/etc/tmp", false},
        };

        sha(DW_HASH_SHA256, "d", d);
        sha(DW_HASH_SHA256, "other", other);
        policy_add(j, "digests", "/tmp/x", DW_HASH_SHA256, d);
        policy_exclude(j, "^/tmp/");
        policy_exclude(j, "/var/log/");
        policy_exclude(j, ".*/\\.cache/");
        policy_exclude(j, "/srv/.*\\.log$");
        policy_exclude(j, "tmp|/usr/bin/ls");
        p = load_json(j);

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                enum dw_policy_result r = judge_simple(p, "ima-ng", cases[i].path, "sha256", other, 32, &v);

                ck_assert_msg(r == (cases[i].excluded ? DW_POLICY_EXCLUDED : DW_POLICY_NOT_IN_ALLOWLIST), "%s: %s",
                              cases[i].path, dw_policy_result_name(r));
        }
        /* The detail names the pattern and what the entry would have been. */
        assert_result(judge_simple(p, "ima-ng", "/tmp/x", "sha256", other, 32, &v), DW_POLICY_EXCLUDED, v);
        ck_assert_str_eq(v.detail, "matches exclude \"^/tmp/\" (else digest_mismatch)");
        assert_result(judge_simple(p, "ima-ng", "/var/log/a", "sha256", other, 32, &v), DW_POLICY_EXCLUDED, v);
        ck_assert_str_eq(v.detail, "matches exclude \"/var/log/\" (else not_in_allowlist)");
        /* An accepted entry stays accepted. */
        assert_result(judge_simple(p, "ima-ng", "/tmp/x", "sha256", d, 32, &v), DW_POLICY_ACCEPT, v);
        /* Excludes cover violations and digests that cannot be judged, not boot_aggregate. */
        {
                struct dw_ima_event ev = {.pcr = 10,
                                          .template_name = "ima-ng",
                                          .violation = true,
                                          .digest_algo = "sha256",
                                          .name = "/var/log/syslog"};

                assert_result(judge_ev(p, &ev, &v), DW_POLICY_EXCLUDED, v);
                ck_assert_str_eq(v.detail, "matches exclude \"/var/log/\" (else violation)");
                ev.name = "/etc/shadow";
                assert_result(judge_ev(p, &ev, &v), DW_POLICY_VIOLATION, v);
        }
        assert_result(judge_simple(p, "ima-ng", "/tmp/m", "md5", d, 16, &v), DW_POLICY_EXCLUDED, v);
}
END_TEST

START_TEST(test_ima_buf)
{
        _cleanup_(dw_runtime_policy_freep) struct dw_runtime_policy *p = NULL;
        _cleanup_(json_decrefp) json_t *j = policy_new();
        static const uint8_t key[] = "a DER public key, measured into the .ima keyring";
        static const uint8_t cmdline[] = "root=/dev/vda1 ro ima_policy=tcb";
        uint8_t dkey[32], dcmd[32];
        struct dw_policy_verdict v;
        struct dw_ima_event ev = {
                .pcr = 10,
                .template_name = "ima-buf",
                .digest_algo = "sha256",
                .digest = dkey,
                .digest_len = 32,
                .name = ".ima",
                .buf = key,
                .buf_len = sizeof(key),
        };

        ck_assert_int_eq(dw_hash_buf(h, DW_HASH_SHA256, key, sizeof(key), dkey), 0);
        ck_assert_int_eq(dw_hash_buf(h, DW_HASH_SHA256, cmdline, sizeof(cmdline), dcmd), 0);
        policy_add(j, "ima_buf", ".ima", DW_HASH_SHA256, dkey);
        policy_add(j, "ima_buf", "kexec-cmdline", DW_HASH_SHA256, dcmd);
        /* A file of the same name does not make a buffer acceptable, nor the other way round. */
        policy_add(j, "digests", ".builtin_trusted_keys", DW_HASH_SHA256, dkey);
        policy_exclude(j, "^selinux-");
        p = load_json(j);

        assert_result(judge_ev(p, &ev, &v), DW_POLICY_ACCEPT, v);
        ev.name = "kexec-cmdline";
        assert_result(judge_ev(p, &ev, &v), DW_POLICY_IMA_BUF_MISMATCH, v);
        ck_assert_str_eq(v.detail, "sha256 buffer digest not accepted for this event name");
        ev.buf = cmdline;
        ev.buf_len = sizeof(cmdline);
        ev.digest = dcmd;
        assert_result(judge_ev(p, &ev, &v), DW_POLICY_ACCEPT, v);
        ev.name = ".builtin_trusted_keys";
        assert_result(judge_ev(p, &ev, &v), DW_POLICY_IMA_BUF_UNKNOWN, v);
        ck_assert_str_eq(v.detail, "no ima_buf entry for this event name");
        ev.name = "selinux-policy-hash";
        assert_result(judge_ev(p, &ev, &v), DW_POLICY_EXCLUDED, v);
        /* The ima-buf template's file measurements have an empty buf: judged as files. */
        ev.name = ".builtin_trusted_keys";
        ev.buf = NULL;
        ev.buf_len = 0;
        ev.digest = dkey;
        assert_result(judge_ev(p, &ev, &v), DW_POLICY_ACCEPT, v);
        ev.name = ".ima";
        assert_result(judge_ev(p, &ev, &v), DW_POLICY_NOT_IN_ALLOWLIST, v);
}
END_TEST

/* ---- 3. signatures ---- */

static uint32_t sig_keyid(const uint8_t *sig)
{
        return (uint32_t)sig[3] << 24 | (uint32_t)sig[4] << 16 | (uint32_t)sig[5] << 8 | sig[6];
}

static void file_digest(enum dw_hash_alg alg, uint8_t *out)
{
        _cleanup_free_ char *data = NULL;
        size_t len;

        data = fixture("file.bin", &len);
        ck_assert_int_eq(dw_hash_buf(h, alg, data, len, out), 0);
}

/* The signatures evmctl made of file.bin: verified with the public keys, whose key ids are derived, not given. */
START_TEST(test_sig_evmctl_fixtures)
{
        static const struct {
                const char *sig, *pem;
                enum dw_hash_alg alg;
        } cases[] = {
                {"rsa-sha1.sig", "rsa.pub.pem", DW_HASH_SHA1},
                {"rsa-sha256.sig", "rsa.pub.pem", DW_HASH_SHA256},
                {"rsa-sha384.sig", "rsa.pub.pem", DW_HASH_SHA384},
                {"rsa-sha512.sig", "rsa.pub.pem", DW_HASH_SHA512},
                {"ec-sha256.sig", "ec.pub.pem", DW_HASH_SHA256},
                {"ec-sha384.sig", "ec.pub.pem", DW_HASH_SHA384},
                {"rsa-skid-sha256.sig", "rsa-skid.crt", DW_HASH_SHA256},
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_(dw_runtime_policy_freep) struct dw_runtime_policy *p = NULL;
                _cleanup_(json_decrefp) json_t *j = policy_new();
                _cleanup_free_ uint8_t *sig = NULL;
                uint8_t d[DW_HASH_MAX_SIZE];
                struct dw_policy_verdict v;
                struct dw_ima_sig s;
                char want[64];
                size_t len;

                sig = (uint8_t *)fixture(cases[i].sig, &len);
                ck_assert_int_eq(dw_ima_sig_parse(sig, len, &s), 0);
                ck_assert_int_eq(s.type, DW_IMA_XATTR_DIGSIG);
                ck_assert_int_eq(s.version, 2);
                ck_assert_int_eq(s.alg, cases[i].alg);
                ck_assert_uint_eq(s.keyid, sig_keyid(sig));
                ck_assert_uint_eq(s.sig_len, len - 9);

                file_digest(cases[i].alg, d);
                policy_key(j, cases[i].pem, NULL);
                p = load_json(j);
                /* A good signature by a trusted key is enough: the path need not be listed. */
                assert_result(judge_sig(p, "/usr/bin/signed", cases[i].alg, d, sig, len, &v), DW_POLICY_ACCEPT, v);
                snprintf(want, sizeof(want), "signed by key %08x", s.keyid);
                ck_assert_str_eq(v.detail, want);
                ck_assert(v.signed_by_key);
                ck_assert_uint_eq(v.keyid, s.keyid);
                /* Another file's digest: the signature does not verify. */
                d[0] ^= 0x80;
                assert_result(judge_sig(p, "/usr/bin/signed", cases[i].alg, d, sig, len, &v), DW_POLICY_BAD_SIGNATURE,
                              v);
                snprintf(want, sizeof(want), "signature by key %08x does not verify", s.keyid);
                ck_assert_str_eq(v.detail, want);
                d[0] ^= 0x80;
                /* A flipped signature byte. */
                sig[len - 5] ^= 0x01;
                assert_result(judge_sig(p, "/usr/bin/signed", cases[i].alg, d, sig, len, &v), DW_POLICY_BAD_SIGNATURE,
                              v);
                sig[len - 5] ^= 0x01;
        }
}
END_TEST

/* The kernel finds a certificate's key by its subject key identifier; a bare public key's id is the SHA-1 of the
 * key, which is not the certificate's here. "keyid" in the policy says which id a key goes by. */
START_TEST(test_sig_keyids)
{
        _cleanup_free_ uint8_t *skid_sig = NULL, *rsa_sig = NULL;
        struct dw_policy_verdict v;
        uint8_t d[32];
        size_t skid_len, rsa_len;

        skid_sig = (uint8_t *)fixture("rsa-skid-sha256.sig", &skid_len);
        rsa_sig = (uint8_t *)fixture("rsa-sha256.sig", &rsa_len);
        ck_assert_uint_eq(sig_keyid(skid_sig), 0xa1b2c3d4);
        file_digest(DW_HASH_SHA256, d);
        {
                _cleanup_(dw_runtime_policy_freep) struct dw_runtime_policy *p = NULL;
                _cleanup_(json_decrefp) json_t *j = policy_new();

                policy_key(j, "rsa.pub.pem", NULL);
                p = load_json(j);
                assert_result(judge_sig(p, "/f", DW_HASH_SHA256, d, rsa_sig, rsa_len, &v), DW_POLICY_ACCEPT, v);
                /* Not required: a signature by a key the policy lacks falls back to the digests. */
                assert_result(judge_sig(p, "/f", DW_HASH_SHA256, d, skid_sig, skid_len, &v), DW_POLICY_NOT_IN_ALLOWLIST,
                              v);
                ck_assert(v.signed_by_key);
                ck_assert_uint_eq(v.keyid, 0xa1b2c3d4);
        }
        {
                _cleanup_(dw_runtime_policy_freep) struct dw_runtime_policy *p = NULL;
                _cleanup_(json_decrefp) json_t *j = policy_new();

                policy_key(j, "rsa-skid.crt", NULL);
                p = load_json(j);
                assert_result(judge_sig(p, "/f", DW_HASH_SHA256, d, skid_sig, skid_len, &v), DW_POLICY_ACCEPT, v);
                ck_assert_str_eq(v.detail, "signed by key a1b2c3d4");
                policy_add(j, "digests", "/f", DW_HASH_SHA256, d);
                dw_runtime_policy_free(p);
                p = load_json(j);
                assert_result(judge_sig(p, "/f", DW_HASH_SHA256, d, rsa_sig, rsa_len, &v), DW_POLICY_ACCEPT, v);
                ck_assert_str_eq(v.detail, ""); /* by the digest */
                /* Required: an unknown key is a bad signature even when the digest is listed. */
                policy_option(j, "require_signatures", true);
                dw_runtime_policy_free(p);
                p = load_json(j);
                assert_result(judge_sig(p, "/f", DW_HASH_SHA256, d, rsa_sig, rsa_len, &v), DW_POLICY_BAD_SIGNATURE, v);
                ck_assert_uint_eq(v.keyid, sig_keyid(rsa_sig));
                ck_assert_ptr_nonnull(strstr(v.detail, "which the policy does not have"));
        }
        {
                _cleanup_(dw_runtime_policy_freep) struct dw_runtime_policy *p = NULL;
                _cleanup_(json_decrefp) json_t *j = policy_new();

                policy_key(j, "rsa.pub.pem", "A1B2C3D4");
                p = load_json(j);
                assert_result(judge_sig(p, "/f", DW_HASH_SHA256, d, skid_sig, skid_len, &v), DW_POLICY_ACCEPT, v);
                assert_result(judge_sig(p, "/f", DW_HASH_SHA256, d, rsa_sig, rsa_len, &v), DW_POLICY_NOT_IN_ALLOWLIST,
                              v);
        }
}
END_TEST

static EVP_PKEY *private_key(const char *name)
{
        _cleanup_free_ char *pem = NULL;
        EVP_PKEY *key;
        BIO *bio;
        size_t len;

        pem = fixture(name, &len);
        bio = BIO_new_mem_buf(pem, (int)len);
        ck_assert_ptr_nonnull(bio);
        key = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
        BIO_free(bio);
        ck_assert_ptr_nonnull(key);
        return key;
}

static const char *evp_name(enum dw_hash_alg alg)
{
        static const char *const names[] = {"SHA1", "SHA256", "SHA384", "SHA512", "SM3"};

        return names[alg];
}

struct sig_spec {
        uint8_t type, version, kernel_algo;
        enum dw_hash_alg alg; /* what is really signed with */
        uint32_t keyid;
};

/* A security.ima signature made here: header, then RSA PKCS#1 v1.5 or ECDSA over the digest (v2) or over the hash
 * of type || kernel_algo || digest (v3). */
static size_t make_sig(EVP_PKEY *key, const struct sig_spec *s, const uint8_t *digest, uint8_t *out, size_t out_size)
{
        const EVP_MD *md = EVP_get_digestbyname(evp_name(s->alg));
        uint8_t tbs[DW_HASH_MAX_SIZE], file_id[2 + DW_HASH_MAX_SIZE];
        size_t size = dw_hash_alg_size(s->alg), sig_len = out_size - 9;
        EVP_PKEY_CTX *ctx;

        memcpy(tbs, digest, size);
        if (s->version == 3) {
                file_id[0] = s->type;
                file_id[1] = s->kernel_algo;
                memcpy(file_id + 2, digest, size);
                ck_assert_int_eq(dw_hash_buf(h, s->alg, file_id, 2 + size, tbs), 0);
        }
        ctx = EVP_PKEY_CTX_new(key, NULL);
        ck_assert_ptr_nonnull(ctx);
        ck_assert_int_eq(EVP_PKEY_sign_init(ctx), 1);
        if (EVP_PKEY_get_base_id(key) == EVP_PKEY_RSA)
                ck_assert_int_eq(EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING), 1);
        ck_assert_int_eq(EVP_PKEY_CTX_set_signature_md(ctx, md), 1);
        ck_assert_int_eq(EVP_PKEY_sign(ctx, out + 9, &sig_len, tbs, size), 1);
        EVP_PKEY_CTX_free(ctx);
        out[0] = s->type;
        out[1] = s->version;
        out[2] = s->kernel_algo;
        out[3] = (uint8_t)(s->keyid >> 24);
        out[4] = (uint8_t)(s->keyid >> 16);
        out[5] = (uint8_t)(s->keyid >> 8);
        out[6] = (uint8_t)s->keyid;
        out[7] = (uint8_t)(sig_len >> 8);
        out[8] = (uint8_t)sig_len;
        return 9 + sig_len;
}

START_TEST(test_sig_generated)
{
        _cleanup_(dw_runtime_policy_freep) struct dw_runtime_policy *p = NULL;
        _cleanup_(EVP_PKEY_freep) EVP_PKEY *rsa = private_key("rsa.key");
        _cleanup_(EVP_PKEY_freep) EVP_PKEY *ec = private_key("ec.key");
        _cleanup_free_ uint8_t *rsa_fixture = NULL, *ec_fixture = NULL;
        _cleanup_(json_decrefp) json_t *j = policy_new();
        uint8_t d256[32], d512[64], sig[600];
        uint32_t rsa_id, ec_id;
        struct dw_policy_verdict v;
        size_t len;

        /* The key ids evmctl computed for these keys. */
        rsa_fixture = (uint8_t *)fixture("rsa-sha256.sig", &len);
        ec_fixture = (uint8_t *)fixture("ec-sha256.sig", &len);
        rsa_id = sig_keyid(rsa_fixture);
        ec_id = sig_keyid(ec_fixture);
        sha(DW_HASH_SHA256, "signed file", d256);
        sha(DW_HASH_SHA512, "signed file", d512);
        policy_key(j, "rsa.pub.pem", NULL);
        policy_key(j, "ec.pub.pem", NULL);
        p = load_json(j);

        /* v2 over the file digest, RSA and ECDSA. */
        len = make_sig(rsa, &(struct sig_spec){3, 2, 4, DW_HASH_SHA256, rsa_id}, d256, sig, sizeof(sig));
        assert_result(judge_sig(p, "/a", DW_HASH_SHA256, d256, sig, len, &v), DW_POLICY_ACCEPT, v);
        len = make_sig(ec, &(struct sig_spec){3, 2, 6, DW_HASH_SHA512, ec_id}, d512, sig, sizeof(sig));
        assert_result(judge_sig(p, "/a", DW_HASH_SHA512, d512, sig, len, &v), DW_POLICY_ACCEPT, v);
        /* v3 over the hash of struct ima_file_id. */
        len = make_sig(rsa, &(struct sig_spec){3, 3, 4, DW_HASH_SHA256, rsa_id}, d256, sig, sizeof(sig));
        assert_result(judge_sig(p, "/a", DW_HASH_SHA256, d256, sig, len, &v), DW_POLICY_ACCEPT, v);
        /* A v3 signature checked as v2 (and the other way round) does not verify. */
        sig[1] = 2;
        assert_result(judge_sig(p, "/a", DW_HASH_SHA256, d256, sig, len, &v), DW_POLICY_BAD_SIGNATURE, v);
        /* fs-verity: type 6, version 3, over a d-ngv2 "verity:" digest; not over a file hash. */
        len = make_sig(ec, &(struct sig_spec){6, 3, 4, DW_HASH_SHA256, ec_id}, d256, sig, sizeof(sig));
        {
                struct dw_ima_event ev = {.pcr = 10,
                                          .template_name = "ima-sigv2",
                                          .digest_algo = "sha256",
                                          .digest = d256,
                                          .digest_len = 32,
                                          .digest_type = "verity",
                                          .name = "/v",
                                          .sig = sig,
                                          .sig_len = len};

                assert_result(judge_ev(p, &ev, &v), DW_POLICY_ACCEPT, v);
                ev.digest_type = "ima";
                assert_result(judge_ev(p, &ev, &v), DW_POLICY_BAD_SIGNATURE, v);
                ck_assert_str_eq(v.detail, "an fs-verity signature for a file-hash digest");
        }
        /* Wrong algorithm: the header says sha512, the file digest is sha256. */
        len = make_sig(rsa, &(struct sig_spec){3, 2, 6, DW_HASH_SHA256, rsa_id}, d256, sig, sizeof(sig));
        assert_result(judge_sig(p, "/a", DW_HASH_SHA256, d256, sig, len, &v), DW_POLICY_BAD_SIGNATURE, v);
        ck_assert_str_eq(v.detail, "signature is over a sha512 digest, the file digest is sha256");
        /* The header says sha256 but sha1 was signed (an RSA DigestInfo for the wrong algorithm). */
        {
                uint8_t d1[20];

                sha(DW_HASH_SHA1, "signed file", d1);
                len = make_sig(rsa, &(struct sig_spec){3, 2, 4, DW_HASH_SHA1, rsa_id}, d1, sig, sizeof(sig));
                memcpy(d256, d1, 20);
                assert_result(judge_sig(p, "/a", DW_HASH_SHA256, d256, sig, len, &v), DW_POLICY_BAD_SIGNATURE, v);
                sha(DW_HASH_SHA256, "signed file", d256);
        }
        /* A kernel algorithm we do not have (sha224 = 7). */
        len = make_sig(rsa, &(struct sig_spec){3, 2, 4, DW_HASH_SHA256, rsa_id}, d256, sig, sizeof(sig));
        sig[2] = 7;
        assert_result(judge_sig(p, "/a", DW_HASH_SHA256, d256, sig, len, &v), DW_POLICY_BAD_SIGNATURE, v);
        ck_assert_str_eq(v.detail, "signature hash algorithm 7 (kernel id) is not supported");
        sig[2] = 4;
        /* Signed by the RSA key, claiming the EC key's id. */
        sig[3] = (uint8_t)(ec_id >> 24);
        sig[4] = (uint8_t)(ec_id >> 16);
        sig[5] = (uint8_t)(ec_id >> 8);
        sig[6] = (uint8_t)ec_id;
        assert_result(judge_sig(p, "/a", DW_HASH_SHA256, d256, sig, len, &v), DW_POLICY_BAD_SIGNATURE, v);

        /* Malformed signatures are bad signatures. */
        len = make_sig(rsa, &(struct sig_spec){3, 2, 4, DW_HASH_SHA256, rsa_id}, d256, sig, sizeof(sig));
        {
                static const struct {
                        size_t at;
                        uint8_t value;
                        const char *detail;
                } bad[] = {
                        {0, 0x05, "signature type 0x05 is not an IMA signature (0x03 or 0x06)"},
                        {1, 1, "signature version 1 of type 0x03 is not one the kernel verifies"},
                        {1, 4, "signature version 4 of type 0x03 is not one the kernel verifies"},
                        {2, 40, "signature hash algorithm 40 is not one of the kernel's"},
                        {7, 0x02, "signature size field says 512 bytes, 256 follow the header"},
                };

                for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                        uint8_t copy[600];

                        memcpy(copy, sig, len);
                        copy[bad[i].at] = bad[i].value;
                        assert_result(judge_sig(p, "/a", DW_HASH_SHA256, d256, copy, len, &v), DW_POLICY_BAD_SIGNATURE,
                                      v);
                        ck_assert_str_eq(v.detail, bad[i].detail);
                }
                assert_result(judge_sig(p, "/a", DW_HASH_SHA256, d256, sig, 8, &v), DW_POLICY_BAD_SIGNATURE, v);
                ck_assert_str_eq(v.detail, "signature of 8 bytes is shorter than its 9-byte header");
                assert_result(judge_sig(p, "/a", DW_HASH_SHA256, d256, sig, len - 1, &v), DW_POLICY_BAD_SIGNATURE, v);
                /* type 6 with version 2 */
                sig[0] = 6;
                assert_result(judge_sig(p, "/a", DW_HASH_SHA256, d256, sig, len, &v), DW_POLICY_BAD_SIGNATURE, v);
                sig[0] = 3;
        }

        /* require_signatures: unsigned entries fail whatever their digest, signed ones pass on the signature. */
        policy_add(j, "digests", "/a", DW_HASH_SHA256, d256);
        policy_option(j, "require_signatures", true);
        dw_runtime_policy_free(p);
        p = load_json(j);
        assert_result(judge_simple(p, "ima-ng", "/a", "sha256", d256, 32, &v), DW_POLICY_UNSIGNED, v);
        ck_assert_str_eq(v.detail, "no signature, and the policy requires one");
        assert_result(judge_sig(p, "/a", DW_HASH_SHA256, d256, NULL, 0, &v), DW_POLICY_UNSIGNED, v);
        assert_result(judge_sig(p, "/a", DW_HASH_SHA256, d256, sig, len, &v), DW_POLICY_ACCEPT, v);
        assert_result(judge_sig(p, "/elsewhere", DW_HASH_SHA256, d256, sig, len, &v), DW_POLICY_ACCEPT, v);
        /* Without keys, any signature is then from an unknown key. */
        json_object_del(j, "keys");
        dw_runtime_policy_free(p);
        p = load_json(j);
        assert_result(judge_sig(p, "/a", DW_HASH_SHA256, d256, sig, len, &v), DW_POLICY_BAD_SIGNATURE, v);

        /* With neither keys nor require_signatures, signatures are not looked at: garbage does not matter. */
        json_object_del(j, "options");
        dw_runtime_policy_free(p);
        p = load_json(j);
        sig[1] = 99;
        assert_result(judge_sig(p, "/a", DW_HASH_SHA256, d256, sig, len, &v), DW_POLICY_ACCEPT, v);
}
END_TEST

/* evmctl, when installed, signs a file made here; the policy verifies it. */
START_TEST(test_sig_evmctl_live)
{
        _cleanup_(dw_runtime_policy_freep) struct dw_runtime_policy *p = NULL;
        _cleanup_(json_decrefp) json_t *j = policy_new();
        const char *srcdir = getenv("DW_SRCDIR");
        char dir[] = "/tmp/dw-policy-XXXXXX", cmd[8192], path[4200];
        static const char content[] = "a file signed by evmctl during the test\n";

        if (system("command -v evmctl >/dev/null 2>&1") != 0) {
                fprintf(stderr, "test_sig_evmctl_live: evmctl not installed, skipped\n");
                return;
        }
        ck_assert_ptr_nonnull(mkdtemp(dir));
        policy_key(j, "rsa.pub.pem", NULL);
        policy_key(j, "ec.pub.pem", NULL);
        p = load_json(j);
        for (int k = 0; k < 2; k++) {
                static const enum dw_hash_alg algs[] = {DW_HASH_SHA1, DW_HASH_SHA256, DW_HASH_SHA384, DW_HASH_SHA512};

                for (size_t a = 0; a < ELEMENTSOF(algs); a++) {
                        _cleanup_free_ uint8_t *sig = NULL;
                        uint8_t d[DW_HASH_MAX_SIZE];
                        struct dw_policy_verdict v;
                        size_t len;
                        FILE *f;

                        if (k == 1 && algs[a] == DW_HASH_SHA1)
                                continue;
                        snprintf(path, sizeof(path), "%s/f", dir);
                        f = fopen(path, "we");
                        ck_assert_ptr_nonnull(f);
                        fprintf(f, "%s%d%zu", content, k, a);
                        ck_assert_int_eq(fclose(f), 0);
                        snprintf(cmd, sizeof(cmd),
                                 "evmctl ima_sign --key %s" POLICY_DIR "%s --hashalgo %s --sigfile %s >/dev/null 2>&1",
                                 srcdir, k == 0 ? "rsa.key" : "ec.key", dw_hash_alg_name(algs[a]), path);
                        ck_assert_msg(system(cmd) == 0, "%s", cmd);
                        snprintf(path, sizeof(path), "%s/f.sig", dir);
                        ck_assert_int_eq(dw_read_full_file(path, 4096, &sig, &len), 0);
                        snprintf(cmd, sizeof(cmd), "%s%d%zu", content, k, a);
                        ck_assert_int_eq(dw_hash_buf(h, algs[a], cmd, strlen(cmd), d), 0);
                        assert_result(judge_sig(p, "/x", algs[a], d, sig, len, &v), DW_POLICY_ACCEPT, v);
                        d[3] ^= 4;
                        assert_result(judge_sig(p, "/x", algs[a], d, sig, len, &v), DW_POLICY_BAD_SIGNATURE, v);
                        unlink(path);
                }
        }
        snprintf(path, sizeof(path), "%s/f", dir);
        unlink(path);
        rmdir(dir);
}
END_TEST

/* ---- 4. the monitor's entry point ---- */

START_TEST(test_judge_file)
{
        _cleanup_(dw_runtime_policy_freep) struct dw_runtime_policy *p = NULL;
        _cleanup_(json_decrefp) json_t *j = policy_new();
        struct dw_policy_verdict v;
        uint8_t d[32];
        char long_path[3000];

        sha(DW_HASH_SHA256, "x", d);
        policy_add(j, "digests", "/usr/bin/x", DW_HASH_SHA256, d);
        /* Names that are not UTF-8 are held as `driftwatch ima show --json` prints them. */
        policy_add(j, "digests", "/opt/caf\\xe9/run", DW_HASH_SHA256, d);
        policy_add(j, "digests", "/opt/café/run", DW_HASH_SHA256, d);
        memset(long_path, 'a', sizeof(long_path));
        long_path[0] = '/';
        long_path[1000] = (char)0xff;
        long_path[sizeof(long_path) - 1] = '\0';
        policy_exclude(j, "^/a+\\\\xff");
        p = load_json(j);

        /* The path need not be NUL-terminated. */
        ck_assert_int_eq(dw_runtime_policy_judge_file(p,
                                                      &(struct dw_policy_file){.path = "/usr/bin/xyz",
                                                                               .path_len = 10,
                                                                               .alg = DW_HASH_SHA256,
                                                                               .digest = d,
                                                                               .digest_len = 32},
                                                      &v),
                         0);
        assert_result(v.result, DW_POLICY_ACCEPT, v);
        ck_assert_int_eq(dw_runtime_policy_judge_file(p,
                                                      &(struct dw_policy_file){.path = "/opt/caf\xe9/run",
                                                                               .path_len = 13,
                                                                               .alg = DW_HASH_SHA256,
                                                                               .digest = d,
                                                                               .digest_len = 32},
                                                      &v),
                         0);
        assert_result(v.result, DW_POLICY_ACCEPT, v);
        ck_assert_int_eq(dw_runtime_policy_judge_file(p,
                                                      &(struct dw_policy_file){.path = "/opt/caf\xc3\xa9/run",
                                                                               .path_len = 14,
                                                                               .alg = DW_HASH_SHA256,
                                                                               .digest = d,
                                                                               .digest_len = 32},
                                                      &v),
                         0);
        assert_result(v.result, DW_POLICY_ACCEPT, v);
        /* Overlong and surrogate encodings are not UTF-8 either. */
        ck_assert_int_eq(dw_runtime_policy_judge_file(p,
                                                      &(struct dw_policy_file){.path = "/opt/caf\xc1\xa9/run",
                                                                               .path_len = 14,
                                                                               .alg = DW_HASH_SHA256,
                                                                               .digest = d,
                                                                               .digest_len = 32},
                                                      &v),
                         0);
        assert_result(v.result, DW_POLICY_NOT_IN_ALLOWLIST, v);
        /* A long escaped name (past the stack buffer) matched by an exclude. */
        ck_assert_int_eq(dw_runtime_policy_judge_file(p,
                                                      &(struct dw_policy_file){.path = long_path,
                                                                               .path_len = strlen(long_path),
                                                                               .alg = DW_HASH_SHA256,
                                                                               .digest = d,
                                                                               .digest_len = 32},
                                                      &v),
                         0);
        assert_result(v.result, DW_POLICY_EXCLUDED, v);
        /* A digest of the wrong size for its algorithm cannot be judged. */
        ck_assert_int_eq(dw_runtime_policy_judge_file(p,
                                                      &(struct dw_policy_file){.path = "/usr/bin/x",
                                                                               .path_len = 10,
                                                                               .alg = DW_HASH_SHA256,
                                                                               .digest = d,
                                                                               .digest_len = 20},
                                                      &v),
                         0);
        assert_result(v.result, DW_POLICY_UNSUPPORTED_DIGEST, v);
        ck_assert_int_eq(
                dw_runtime_policy_judge_file(p, &(struct dw_policy_file){.path = "", .alg = _DW_HASH_ALG_INVALID}, &v),
                0);
        assert_result(v.result, DW_POLICY_UNSUPPORTED_DIGEST, v);
        ck_assert_int_eq(dw_runtime_policy_judge_file(p, &(struct dw_policy_file){.path_len = 3}, &v), -EINVAL);
        ck_assert_int_eq(dw_runtime_policy_judge_file(NULL, &(struct dw_policy_file){}, &v), -EINVAL);
        ck_assert_int_eq(dw_runtime_policy_judge_entry(p, NULL, &v), -EINVAL);
        ck_assert_int_eq(dw_runtime_policy_load(NULL, 0, &p, NULL), -EINVAL);
}
END_TEST

/* ---- 5. the real kernel's log ---- */

/* A policy of the log's own file digests (not its boot_aggregate nor its violation), without skip_path. */
static json_t *policy_from_log(enum dw_ima_format format, const uint8_t *log, size_t len, const char *skip_path)
{
        json_t *j = policy_new();
        struct dw_ima_parser p;
        struct dw_ima_entry e;
        struct dw_error err = {};
        int r;

        dw_ima_parser_init(&p, format, DW_HASH_SHA1, log, len);
        while ((r = dw_ima_parser_next(&p, &e, &err)) > 0) {
                const uint8_t *digest;
                enum dw_hash_alg alg;
                const char *name;
                size_t dlen, nlen;
                char path[256];

                ck_assert_int_eq(dw_ima_entry_event_name(&e, &name, &nlen), 0);
                ck_assert_int_eq(dw_ima_entry_file_digest(&e, &alg, &digest, &dlen, NULL), 0);
                snprintf(path, sizeof(path), "%.*s", (int)nlen, name);
                if (e.violation || strcmp(path, "boot_aggregate") == 0 || (skip_path && strcmp(path, skip_path) == 0))
                        continue;
                policy_add(j, "digests", path, alg, digest);
        }
        ck_assert_msg(r == 0, "%s", err.msg);
        dw_ima_parser_done(&p);
        return j;
}

/* Judges a whole log; returns the number of failures and sets results[index]. */
static unsigned judge_log(const struct dw_runtime_policy *policy, enum dw_ima_format format, const uint8_t *log,
                          size_t len, enum dw_policy_result *results, size_t max)
{
        struct dw_ima_parser p;
        struct dw_ima_entry e;
        struct dw_error err = {};
        unsigned failures = 0, n = 0;
        int r;

        dw_ima_parser_init(&p, format, DW_HASH_SHA1, log, len);
        while ((r = dw_ima_parser_next(&p, &e, &err)) > 0) {
                struct dw_policy_verdict v;

                ck_assert_msg(dw_ima_entry_check_digest(h, &e, &err) == 0, "%s", err.msg);
                ck_assert_int_eq(dw_runtime_policy_judge_entry(policy, &e, &v), 0);
                ck_assert_uint_lt(e.index, max);
                results[e.index] = v.result;
                failures += dw_policy_result_is_failure(v.result);
                n++;
        }
        ck_assert_msg(r == 0, "%s", err.msg);
        ck_assert_uint_eq(n, REAL_ENTRIES);
        dw_ima_parser_done(&p);
        return failures;
}

START_TEST(test_real_log)
{
        for (int f = 0; f < 2; f++) {
                enum dw_ima_format format = f ? DW_IMA_FORMAT_ASCII : DW_IMA_FORMAT_BINARY;
                _cleanup_free_ uint8_t *log = NULL;
                enum dw_policy_result results[REAL_ENTRIES];
                size_t len;

                log = read_path(REAL_DIR, f ? "ascii_runtime_measurements" : "binary_runtime_measurements", &len);
                {
                        _cleanup_(json_decrefp) json_t *j = policy_from_log(format, log, len, NULL);
                        _cleanup_(dw_runtime_policy_freep) struct dw_runtime_policy *p = load_json(j);

                        /* Trusted but for the violation. */
                        ck_assert_uint_eq(judge_log(p, format, log, len, results, REAL_ENTRIES), 1);
                        ck_assert_int_eq(results[0], DW_POLICY_BOOT_AGGREGATE);
                        ck_assert_int_eq(results[REAL_VIOLATION], DW_POLICY_VIOLATION);
                        for (unsigned i = 1; i < REAL_ENTRIES; i++)
                                if (i != REAL_VIOLATION)
                                        ck_assert_int_eq(results[i], DW_POLICY_ACCEPT);

                        policy_option(j, "allow_violations", true);
                        dw_runtime_policy_free(p);
                        p = load_json(j);
                        ck_assert_uint_eq(judge_log(p, format, log, len, results, REAL_ENTRIES), 0);
                        ck_assert_int_eq(results[REAL_VIOLATION], DW_POLICY_VIOLATION_ALLOWED);
                }
                {
                        /* /mnt/etc/app.conf was rewritten: both its digests are listed; without it, entries 6 and 8
                         * fail by name. */
                        _cleanup_(json_decrefp) json_t *j = policy_from_log(format, log, len, "/mnt/etc/app.conf");
                        _cleanup_(dw_runtime_policy_freep) struct dw_runtime_policy *p = NULL;

                        policy_option(j, "allow_violations", true);
                        p = load_json(j);
                        ck_assert_uint_eq(judge_log(p, format, log, len, results, REAL_ENTRIES), 2);
                        ck_assert_int_eq(results[6], DW_POLICY_NOT_IN_ALLOWLIST);
                        ck_assert_int_eq(results[8], DW_POLICY_NOT_IN_ALLOWLIST);
                }
                {
                        /* busybox and c1/true have the same content: removing one path fails only that one. */
                        _cleanup_(json_decrefp) json_t *j = policy_from_log(format, log, len, "/mnt/data/c1/true");
                        _cleanup_(dw_runtime_policy_freep) struct dw_runtime_policy *p = load_json(j);

                        ck_assert_uint_eq(judge_log(p, format, log, len, results, REAL_ENTRIES), 2);
                        ck_assert_int_eq(results[4], DW_POLICY_NOT_IN_ALLOWLIST);
                        ck_assert_int_eq(results[1], DW_POLICY_ACCEPT);
                }
        }
}
END_TEST

/* ---- 6. a 100,000-path policy ---- */

#define LARGE_PATHS 100000

static void large_path(unsigned i, char *out, size_t size)
{
        snprintf(out, size, "/usr/lib/x86_64-linux-gnu/driftwatch-large/%c/lib%06u.so.%u", 'a' + i % 26, i, i % 7);
}

START_TEST(test_large_policy)
{
        _cleanup_(dw_runtime_policy_freep) struct dw_runtime_policy *p = NULL;
        _cleanup_(json_decrefp) json_t *j = policy_new();
        json_t *digests = json_object_get(j, "digests");
        struct dw_runtime_policy_info info;
        unsigned counts[_DW_POLICY_RESULT_MAX] = {};

        for (unsigned i = 0; i < LARGE_PATHS; i++) {
                char path[128], seed[32], s[16 + 2 * DW_HASH_MAX_SIZE];
                json_t *list = json_array();
                uint8_t d[DW_HASH_MAX_SIZE];

                large_path(i, path, sizeof(path));
                snprintf(seed, sizeof(seed), "%u", i);
                sha(DW_HASH_SHA256, seed, d);
                json_array_append_new(list, json_string(digest_str(DW_HASH_SHA256, d, s)));
                if (i % 3 == 0) {
                        sha(DW_HASH_SHA1, seed, d);
                        json_array_append_new(list, json_string(digest_str(DW_HASH_SHA1, d, s)));
                }
                json_object_set_new(digests, path, list);
        }
        policy_exclude(j, "^/usr/lib/x86_64-linux-gnu/driftwatch-large/z/");
        p = load_json(j);
        dw_runtime_policy_get_info(p, &info);
        ck_assert_uint_eq(info.n_paths, LARGE_PATHS);
        ck_assert_uint_eq(info.n_digests, LARGE_PATHS + (LARGE_PATHS + 2) / 3);

        for (unsigned i = 0; i < LARGE_PATHS; i++) {
                char path[160], seed[32];
                uint8_t d[32], d1[20];
                struct dw_policy_verdict v;
                struct dw_policy_file f = {.alg = DW_HASH_SHA256, .digest = d, .digest_len = 32};

                large_path(i, path, sizeof(path));
                snprintf(seed, sizeof(seed), "%u", i);
                sha(DW_HASH_SHA256, seed, d);
                f.path = path;
                f.path_len = strlen(path);
                ck_assert_int_eq(dw_runtime_policy_judge_file(p, &f, &v), 0);
                ck_assert_msg(v.result == DW_POLICY_ACCEPT, "%s: %s", path, dw_policy_result_name(v.result));
                counts[v.result]++;

                /* The sha1 digest only where listed. */
                sha(DW_HASH_SHA1, seed, d1);
                f.alg = DW_HASH_SHA1;
                f.digest = d1;
                f.digest_len = 20;
                ck_assert_int_eq(dw_runtime_policy_judge_file(p, &f, &v), 0);
                ck_assert_int_eq(v.result, i % 3 == 0        ? DW_POLICY_ACCEPT
                                           : path[43] == 'z' ? DW_POLICY_EXCLUDED
                                                             : DW_POLICY_DIGEST_MISMATCH);

                /* The next path's digest is not this one's. */
                snprintf(seed, sizeof(seed), "%u", i + 1);
                sha(DW_HASH_SHA256, seed, d);
                f.alg = DW_HASH_SHA256;
                f.digest = d;
                f.digest_len = 32;
                ck_assert_int_eq(dw_runtime_policy_judge_file(p, &f, &v), 0);
                ck_assert_int_eq(v.result, path[43] == 'z' ? DW_POLICY_EXCLUDED : DW_POLICY_DIGEST_MISMATCH);
                counts[v.result]++;

                /* Paths the policy lacks. */
                strcat(path, ".bak");
                f.path_len = strlen(path);
                ck_assert_int_eq(dw_runtime_policy_judge_file(p, &f, &v), 0);
                ck_assert_int_eq(v.result, path[43] == 'z' ? DW_POLICY_EXCLUDED : DW_POLICY_NOT_IN_ALLOWLIST);
                counts[v.result]++;
        }
        ck_assert_uint_eq(counts[DW_POLICY_ACCEPT], LARGE_PATHS);
        ck_assert_uint_eq(counts[DW_POLICY_EXCLUDED], 2 * ((LARGE_PATHS + 1) / 26 + (LARGE_PATHS % 26 > 25)));
}
END_TEST

/* ---- 7. threads ---- */

struct thread_job {
        const struct dw_runtime_policy *p;
        const struct dw_policy_file *files;
        const enum dw_policy_result *expected;
        size_t n;
        unsigned rounds;
        unsigned mismatches;
};

static void *thread_judge(void *arg)
{
        struct thread_job *job = arg;

        for (unsigned round = 0; round < job->rounds; round++)
                for (size_t i = 0; i < job->n; i++) {
                        struct dw_policy_verdict v;

                        if (dw_runtime_policy_judge_file(job->p, &job->files[i], &v) < 0 ||
                            v.result != job->expected[i])
                                job->mismatches++;
                }
        return NULL;
}

START_TEST(test_threads)
{
        _cleanup_(dw_runtime_policy_freep) struct dw_runtime_policy *p = NULL;
        _cleanup_(EVP_PKEY_freep) EVP_PKEY *ec = private_key("ec.key");
        _cleanup_(json_decrefp) json_t *j = policy_new();
        _cleanup_free_ uint8_t *ec_fixture = NULL;
        enum { N = 64, THREADS = 4 };
        uint8_t digests[N][32], sigs[N][128];
        struct dw_policy_file files[N];
        enum dw_policy_result expected[N];
        char paths[N][32];
        struct thread_job jobs[THREADS];
        pthread_t threads[THREADS];
        size_t len;

        ec_fixture = (uint8_t *)fixture("ec-sha256.sig", &len);
        policy_key(j, "ec.pub.pem", NULL);
        policy_exclude(j, "^/tmp/");
        for (unsigned i = 0; i < N; i++) {
                snprintf(paths[i], sizeof(paths[i]), "%s/f%u", i % 5 == 0 ? "/tmp" : "/bin", i);
                sha(DW_HASH_SHA256, paths[i], digests[i]);
                if (i % 2 == 0)
                        policy_add(j, "digests", paths[i], DW_HASH_SHA256, digests[i]);
                files[i] = (struct dw_policy_file){.path = paths[i],
                                                   .path_len = strlen(paths[i]),
                                                   .alg = DW_HASH_SHA256,
                                                   .digest = digests[i],
                                                   .digest_len = 32};
                if (i % 3 == 0) {
                        files[i].sig = sigs[i];
                        files[i].sig_len =
                                make_sig(ec, &(struct sig_spec){3, 2, 4, DW_HASH_SHA256, sig_keyid(ec_fixture)},
                                         digests[i], sigs[i], sizeof(sigs[i]));
                        if (i % 9 == 0)
                                sigs[i][20] ^= 1;
                }
        }
        p = load_json(j);
        for (unsigned i = 0; i < N; i++) {
                struct dw_policy_verdict v;

                ck_assert_int_eq(dw_runtime_policy_judge_file(p, &files[i], &v), 0);
                expected[i] = v.result;
        }
        for (unsigned t = 0; t < THREADS; t++) {
                jobs[t] = (struct thread_job){.p = p, .files = files, .expected = expected, .n = N, .rounds = 20};
                ck_assert_int_eq(pthread_create(&threads[t], NULL, thread_judge, &jobs[t]), 0);
        }
        for (unsigned t = 0; t < THREADS; t++) {
                ck_assert_int_eq(pthread_join(threads[t], NULL), 0);
                ck_assert_uint_eq(jobs[t].mismatches, 0);
        }
}
END_TEST

/* ---- 8. fuzz ---- */

static uint64_t rng_state;

static uint64_t rng(void)
{
        /* xorshift64*: deterministic across runs */
        rng_state ^= rng_state >> 12;
        rng_state ^= rng_state << 25;
        rng_state ^= rng_state >> 27;
        return rng_state * 0x2545f4914f6cdd1dull;
}

static const char *const fuzz_tokens[] = {
        "\"",
        "{",
        "}",
        "[",
        "]",
        ":",
        ",",
        "null",
        "true",
        "1e999",
        "-1",
        "\"\\u0000\"",
        "\"sha256:\"",
        "\"verity:sha1:\"",
        "\"(\"",
        "\"\\\\\"",
        "\"\\ud800\"",
        "0",
        "\"\"",
        "{\"a\":[]}",
        "9999999999999999999",
        "\"-----BEGIN PUBLIC KEY-----\\n\"",
        "\"md5:00\"",
        "\"sha512:" H64 H64 "\"",
        "\xff",
        "\xc3\xa9",
};

/* What the tokenizer of the streaming loader must get right. */
static const char *const lexer_tokens[] = {
        "\\u00e9",
        "\\ud83d\\ude00",
        "\\ud800",
        "\\udc00",
        "\\u0000",
        "\\u002f",
        "\\/",
        "\\",
        "\\\"",
        "\\x",
        "\\u12",
        "\xed\xa0\x80",
        "\xf4\x90\x80\x80",
        "\xc0\xaf",
        "\xe2\x82",
        "\xf0\x9f\x98\x80",
        "\t",
        "\r\n",
        "\x01",
        "\"digests\":{}",
        "\"ima_buf\":{}",
        "\"dig\\u0065sts\":{\"/z\":[]}",
        ",\"/dup\":[]",
        "\"/usr/bin/caf\\u00e9\":[]",
        "\"SHA256:" H64 "\"",
        "\"verity:sha256:" H64 "\"",
        "\"sha1:" H40 "\"",
        "[[[[[[[[",
        "]]]]]]]]",
        "\"\":[]",
        "1 ",
        "\xef\xbb\xbf",
};

static void fuzz_mutate_with(char *buf, size_t *len, size_t max, const char *const *tokens, size_t n_tokens)
{
        size_t at = *len ? rng() % *len : 0, n = rng() % 64; /* not inside MIN(), which evaluates twice */

        switch (rng() % 6) {
        case 0: /* one byte */
                if (*len)
                        buf[at] = (char)rng();
                break;
        case 1: /* delete a span */
                n = MIN(*len - at, n % 16);
                memmove(buf + at, buf + at + n, *len - at - n);
                *len -= n;
                break;
        case 2: { /* a token */
                const char *t = tokens[rng() % n_tokens];

                n = strlen(t);
                if (*len + n > max)
                        break;
                memmove(buf + at + n, buf + at, *len - at);
                memcpy(buf + at, t, n);
                *len += n;
                break;
        }
        case 3: /* duplicate a span */
                n = MIN(*len - at, n);
                if (*len + n > max)
                        break;
                memmove(buf + at + n, buf + at, *len - at);
                *len += n;
                break;
        case 4: /* truncate */
                *len = at;
                break;
        default: /* swap two bytes */
                if (*len) {
                        size_t b = rng() % *len;
                        char c = buf[at];

                        buf[at] = buf[b];
                        buf[b] = c;
                }
                break;
        }
}

static void fuzz_mutate(char *buf, size_t *len, size_t max)
{
        fuzz_mutate_with(buf, len, max, fuzz_tokens, ELEMENTSOF(fuzz_tokens));
}

/* Every (container, key or index) of a JSON tree. */
struct slot {
        json_t *container;
        const char *key; /* NULL in an array */
        size_t index;
};

static void collect_slots(json_t *j, struct slot *slots, size_t *n, size_t max)
{
        for (void *it = json_object_iter(j); it; it = json_object_iter_next(j, it)) {
                if (*n < max)
                        slots[(*n)++] = (struct slot){j, json_object_iter_key(it), 0};
                collect_slots(json_object_iter_value(it), slots, n, max);
        }
        for (size_t i = 0; i < json_array_size(j); i++) {
                if (*n < max)
                        slots[(*n)++] = (struct slot){j, NULL, i};
                collect_slots(json_array_get(j, i), slots, n, max);
        }
}

static json_t *random_value(void)
{
        switch (rng() % 12) {
        case 0:
                return json_null();
        case 1:
                return json_true();
        case 2:
                return json_integer((json_int_t)(rng() % 5) - 1);
        case 3:
                return json_real(1.5);
        case 4:
                return json_string("");
        case 5:
                return json_string("sha256:" H64);
        case 6:
                return json_string("sha1:" H40);
        case 7:
                return json_array();
        case 8:
                return json_object();
        case 9:
                return json_pack("[s]", "sha384:" H64);
        case 10:
                return json_pack("{s:[s]}", "/x", "sha256:" H64);
        default:
                return json_string("(a|b");
        }
}

/* Well-formed JSON, wrong policies: values replaced by others of any type, fields removed. */
static void fuzz_tree(json_t *base, unsigned iterations, unsigned *loaded, unsigned *refused)
{
        for (unsigned i = 0; i < iterations; i++) {
                _cleanup_(json_decrefp) json_t *j = json_deep_copy(base);
                struct dw_runtime_policy *p = NULL;
                struct dw_policy_error err = {};
                struct slot slots[256];
                size_t n = 0;

                collect_slots(j, slots, &n, ELEMENTSOF(slots));
                ck_assert_uint_gt(n, 0);
                for (unsigned k = 0; k < 1 + rng() % 3; k++) {
                        struct slot *s = &slots[rng() % n];
                        bool del = rng() % 4 == 0;

                        if (s->key && del)
                                json_object_del(s->container, s->key);
                        else if (s->key)
                                json_object_set_new(s->container, s->key, random_value());
                        else if (s->index < json_array_size(s->container) && del)
                                json_array_remove(s->container, s->index);
                        else if (s->index < json_array_size(s->container))
                                json_array_set_new(s->container, s->index, random_value());
                        /* slots after a deletion may be stale: refresh */
                        n = 0;
                        collect_slots(j, slots, &n, ELEMENTSOF(slots));
                        if (n == 0)
                                break;
                }
                {
                        _cleanup_free_ char *text = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY);
                        int r = dw_runtime_policy_load(text, strlen(text), &p, &err);

                        assert_loaders_agree(text, strlen(text));

                        if (r < 0) {
                                ck_assert_msg(r == -EBADMSG || r == -EOPNOTSUPP, "tree iteration %u: %d", i, r);
                                ck_assert_msg(err.msg[0] != '\0', "tree iteration %u: no message", i);
                                (*refused)++;
                                continue;
                        }
                }
                (*loaded)++;
                dw_runtime_policy_free(p);
        }
}

START_TEST(test_fuzz)
{
        _cleanup_(json_decrefp) json_t *j = policy_new();
        _cleanup_free_ char *base = NULL, *buf = NULL;
        unsigned loaded = 0, refused = 0;
        uint8_t d[32], d1[20];
        size_t base_len, max;

        sha(DW_HASH_SHA256, "fuzz", d);
        sha(DW_HASH_SHA1, "fuzz", d1);
        policy_add(j, "digests", "/usr/bin/fuzz", DW_HASH_SHA256, d);
        policy_add(j, "digests", "/usr/bin/fuzz", DW_HASH_SHA1, d1);
        policy_add(j, "digests", "/usr/bin/other", DW_HASH_SHA256, d);
        policy_add(j, "ima_buf", ".ima", DW_HASH_SHA256, d);
        policy_exclude(j, "^/tmp/");
        policy_exclude(j, "(a|b)*c$");
        policy_key(j, "ec.pub.pem", NULL);
        policy_option(j, "allow_violations", false);
        json_object_set_new(j, "meta", json_pack("{s:s, s:s}", "name", "fuzz", "created", "2026-11-23T10:00:00Z"));
        base = json_dumps(j, JSON_INDENT(1));
        base_len = strlen(base);
        max = 2 * base_len + 256;
        buf = malloc(max);
        ck_assert_ptr_nonnull(buf);

        rng_state = 0x6472696674776174ull;
        for (unsigned i = 0; i < 6000; i++) {
                struct dw_runtime_policy *p = NULL;
                struct dw_policy_error err;
                size_t len = base_len;
                unsigned m = 1 + (unsigned)(rng() % 4);
                int r;

                memcpy(buf, base, base_len);
                for (unsigned k = 0; k < m; k++)
                        fuzz_mutate(buf, &len, max);
                memset(&err, 0, sizeof(err));
                assert_loaders_agree(buf, len);
                r = dw_runtime_policy_load(buf, len, &p, &err);
                if (r < 0) {
                        ck_assert_msg(r == -EBADMSG || r == -EOPNOTSUPP, "iteration %u: %d", i, r);
                        ck_assert_msg(err.msg[0] != '\0', "iteration %u: no message", i);
                        ck_assert_ptr_null(p);
                        refused++;
                        continue;
                }
                loaded++;
                {
                        struct dw_policy_verdict v;

                        ck_assert_int_eq(judge_simple(p, "ima-ng", "/usr/bin/fuzz", "sha256", d, 32, &v), v.result);
                        ck_assert_int_eq(judge_simple(p, "ima-ng", "/tmp/x", "sha1", d1, 20, &v), v.result);
                }
                dw_runtime_policy_free(p);
        }
        ck_assert_uint_gt(loaded, 50);
        ck_assert_uint_gt(refused, 1000);
        loaded = refused = 0;
        fuzz_tree(j, 3000, &loaded, &refused);
        ck_assert_uint_gt(loaded, 300);
        ck_assert_uint_gt(refused, 1000);
}
END_TEST

/* Random mutations of a policy that uses what the tokenizer of the streaming loader has to get right (escapes,
 * UTF-8, surrogate pairs, members in any order, many digests for a name), with mutations aimed at it: the three
 * loaders agree on every one (assert_loaders_agree()), and the streaming loader must have taken some of them itself,
 * both ways. */
START_TEST(test_fuzz_stream)
{
        static const char base[] =
                "{\n \"digests\": {\n  \"/usr/bin/caf\\u00e9\": [\"sha256:" H64 "\", \"SHA1:" H40 "\"],\n"
                "  \"/opt/caf\\\\xe9/run\": [\"verity:sha256:" H64 "\"],\n  \"/snow\\ud83d\\ude00\": [],\n"
                "  \"/raw/\xc3\xa9\xe2\x82\xac\": [\"sm3:" H64 "\", \"sha256:" H64 "\", \"sha256:" H64 "\"],\n"
                "  \"/a\\/b\\\"c\\td\": [\"sha\\u0032\\u0035\\u0036:" H64 "\"]\n },\n"
                " \"driftwatch_runtime_policy\": 1,\n"
                " \"ima_buf\": {\".ima\": [\"sha512:" H64 H64 "\"], \"kexec-cmdline\": [\"sha1:" H40 "\"]},\n"
                " \"meta\": {\"name\": \"fuzz\", \"x\": [{\"y\": null}, 1.5, -2, \"\\u00e9\"]},\n"
                " \"excludes\": [\"^/tmp/\"],\n \"options\": {\"allow_violations\": true}\n}\n";
        _cleanup_free_ char *buf = NULL, *many = NULL;
        unsigned taken = 0, left = 0;
        size_t max = 2 * sizeof(base) + 512, o;

        buf = malloc(max);
        ck_assert_ptr_nonnull(buf);
        ck_assert_int_eq(assert_loaders_agree(base, sizeof(base) - 1), 0);

        rng_state = 0x73747265616d2121ull;
        for (unsigned i = 0; i < 8000; i++) {
                size_t len = sizeof(base) - 1;
                unsigned m = 1 + (unsigned)(rng() % 3);
                int r;

                memcpy(buf, base, len);
                for (unsigned k = 0; k < m; k++) {
                        if (rng() % 2)
                                fuzz_mutate_with(buf, &len, max, lexer_tokens, ELEMENTSOF(lexer_tokens));
                        else
                                fuzz_mutate(buf, &len, max);
                }
                r = assert_loaders_agree(buf, len);
                if (r == 0)
                        taken++;
                else if (r == -EAGAIN)
                        left++;
        }
        ck_assert_uint_gt(taken, 200);
        ck_assert_uint_gt(left, 2000);

        /* A name with more digests than are scanned in place, some listed twice, and mutations of it. */
        many = malloc(64 * 1024);
        ck_assert_ptr_nonnull(many);
        o = (size_t)sprintf(many, "{\"driftwatch_runtime_policy\":1,\"digests\":{\"/many\":[");
        for (unsigned i = 0; i < 3 * DW_PMAP_INLINE_MAX_FOR_TEST; i++) {
                char seed[32], hex[2 * DW_HASH_MAX_SIZE + 1];
                uint8_t d[DW_HASH_MAX_SIZE];

                snprintf(seed, sizeof(seed), "many %u", i % 40);
                sha(DW_HASH_SHA256, seed, d);
                o += (size_t)sprintf(many + o, "%s\"sha256:%s\"", i ? "," : "", dw_hex_encode(d, 32, hex));
        }
        o += (size_t)sprintf(many + o, "]}}");
        ck_assert_int_eq(assert_loaders_agree(many, o), 0);
        for (unsigned i = 0; i < 500; i++) {
                char copy[8192];
                size_t len = o;

                ck_assert_uint_lt(o + 512, sizeof(copy));
                memcpy(copy, many, o);
                fuzz_mutate_with(copy, &len, sizeof(copy), lexer_tokens, ELEMENTSOF(lexer_tokens));
                assert_loaders_agree(copy, len);
        }
}
END_TEST

static Suite *policy_suite(void)
{
        Suite *s = suite_create("runtime-policy");
        struct {
                const char *name;
                const TTest *tests[16];
        } cases[] = {
                {"load",
                 {test_load_errors, test_stream_cases, test_load_keys_errors, test_load_ok, test_example,
                  test_many_digests, test_result_names}},
                {"verdicts", {test_reasons, test_digest_algorithms, test_excludes, test_ima_buf, test_judge_file}},
                {"signatures", {test_sig_evmctl_fixtures, test_sig_keyids, test_sig_generated, test_sig_evmctl_live}},
                {"scale", {test_real_log, test_large_policy, test_threads}},
                {"fuzz", {test_fuzz, test_fuzz_stream}},
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                TCase *tc = tcase_create(cases[i].name);

                tcase_add_checked_fixture(tc, hasher_setup, hasher_teardown);
                tcase_set_timeout(tc, 600);
                for (size_t k = 0; k < ELEMENTSOF(cases[i].tests) && cases[i].tests[k]; k++)
                        tcase_add_test(tc, cases[i].tests[k]);
                suite_add_tcase(s, tc);
        }
        return s;
}

int main(void)
{
        SRunner *sr = srunner_create(policy_suite());
        int failed;

        srunner_run_all(sr, CK_NORMAL);
        failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
