/* SPDX-License-Identifier: MIT */
/* The runtime policy tooling in lib/: the canonical form signatures cover (RFC 8785 rules), regex conversions
 * between Python and POSIX, names as the policy holds them, the deterministic writer, merge and diff, signing and
 * verification, and a fuzz loop: mutated documents through parse, normalize, write and canonicalize. */
#include <check.h>
#include <errno.h>
#include <regex.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/ec.h>
#include <openssl/evp.h>

#include "policy-doc.h"
#include "policy-keylime.h"
#include "policy-sign.h"

static json_t *doc_of(const char *text)
{
        json_t *doc = NULL;
        struct dw_policy_error err;
        int r = dw_policy_doc_parse(text, strlen(text), &doc, &err);

        ck_assert_msg(r == 0, "parse: %s %s", err.where, err.msg);
        return doc;
}

static char *canon_of(const json_t *doc)
{
        struct dw_policy_error err;
        char *out = NULL;
        size_t len;

        ck_assert_int_eq(dw_policy_canonical(doc, &out, &len, &err), 0);
        ck_assert_uint_eq(strlen(out), len);
        return out;
}

START_TEST(test_canonical)
{
        json_t *doc = json_loads("{\"b\": 1, \"a\": [true, null, -0.0, 3.0], \"\\u00e9\": \"x\\u0001\\n\\\"\\\\/\","
                                 " \"\\ud83d\\ude00\": 1, \"\\uffff\": 2, \"meta\": {\"signature\": 1, \"z\": 2}}",
                                 0, NULL);
        struct dw_policy_error err;
        char *c, *out;
        size_t len;

        ck_assert_ptr_nonnull(doc);
        c = canon_of(doc);
        /* U+1F600 is a surrogate pair (D83D...), which sorts before U+FFFF in UTF-16 code units. */
        ck_assert_str_eq(c, "{\"a\":[true,null,0,3],\"b\":1,\"meta\":{\"z\":2},\"\xc3\xa9\":\"x\\u0001\\n\\\"\\\\/\","
                            "\"\xf0\x9f\x98\x80\":1,\"\xef\xbf\xbf\":2}");
        free(c);
        json_object_set_new(doc, "r", json_real(1.5));
        ck_assert_int_eq(dw_policy_canonical(doc, &out, &len, &err), -EDOM);
        ck_assert_str_eq(err.where, "$.r");
        json_object_set_new(doc, "r", json_integer(9007199254740993LL));
        ck_assert_int_eq(dw_policy_canonical(doc, &out, &len, &err), -EDOM);
        json_decref(doc);
}
END_TEST

static void py2posix(const char *py, const char *want)
{
        char why[192], *out = NULL;
        int r = dw_regex_python_to_posix(py, &out, why, sizeof(why));

        if (!want) {
                ck_assert_msg(r == -EBADMSG, "%s: converted to %s", py, out ? out : "");
                ck_assert(why[0]);
                return;
        }
        ck_assert_msg(r == 0, "%s: %s", py, why);
        ck_assert_str_eq(out, want);
        free(out);
}

START_TEST(test_regex_python_to_posix)
{
        py2posix("/tmp/.*", "/tmp/.*");
        py2posix("\\d+\\.log$", "[0-9]+\\.log$");
        py2posix("\\A/var/(?:log|cache)/\\Z", "^/var/(log|cache)/$");
        py2posix("(?P<x>a)b", "(a)b");
        py2posix("a.*?b+?c??", "a.*b+c?");
        py2posix("x{,3}y{2}z{1,}w{", "x{0,3}y{2}z{1,}w\\{");
        py2posix("[\\d\\s_\\-]", NULL);
        py2posix("[\\d\\s_.]", "[0-9[:space:]_.]");
        py2posix("\\/usr\\-x", "/usr-x");
        py2posix("\\x41", "A");
        py2posix("(?=a)", NULL);
        py2posix("(?i)a", NULL);
        py2posix("(a)\\1", NULL);
        py2posix("\\bword", NULL);
        py2posix("a*+", NULL);
        py2posix("[[:alpha:]]", NULL);
        py2posix("trailing\\", NULL);
        py2posix("\\x4", NULL);
}
END_TEST

static void posix2py(const char *ere, const char *want)
{
        char why[192], *out = NULL;
        int r = dw_regex_posix_to_python(ere, &out, why, sizeof(why));

        if (!want) {
                ck_assert_int_eq(r, -EBADMSG);
                return;
        }
        ck_assert_msg(r == 0, "%s: %s", ere, why);
        ck_assert_str_eq(out, want);
        free(out);
}

START_TEST(test_regex_posix_to_python)
{
        posix2py("^/tmp/", "^/tmp/");
        posix2py("[[:digit:]]+\\.log", "[0-9]+\\.log");
        posix2py("[]a\\]", "[\\]a\\\\]");
        posix2py("\\w", "[a-zA-Z0-9_]");
        posix2py("[[:punct:]]", NULL);
        posix2py("\\<x", NULL);
}
END_TEST

START_TEST(test_names)
{
        char *s;

        s = dw_policy_name("/usr/bin/two words", 18, true);
        ck_assert_str_eq(s, "/usr/bin/two_words");
        free(s);
        s = dw_policy_name("/opt/caf\xc3\xa9", 10, false);
        ck_assert_str_eq(s, "/opt/caf\xc3\xa9");
        free(s);
        s = dw_policy_name("/opt/caf\xe9\\", 10, false);
        ck_assert_str_eq(s, "/opt/caf\\xe9\\x5c");
        free(s);
        s = dw_policy_name("/a\xed\xa0\x80", 5, false); /* a surrogate is not UTF-8 */
        ck_assert_str_eq(s, "/a\\xed\\xa0\\x80");
        free(s);
}
END_TEST

#define H(c)                                                                                                           \
        c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c  \
                c c c c c c c c c

START_TEST(test_write_merge_diff)
{
        json_t *a = doc_of("{\"driftwatch_runtime_policy\": 1, \"digests\": {\"/b\": [\"SHA256:" H(
                "A") "\", \"sha256:" H("a") "\"], \"/a\": []}, \"excludes\": [\"^/tmp/\"]}");
        json_t *b = doc_of("{\"driftwatch_runtime_policy\": 1, \"digests\": {\"/b\": [\"sha256:" H(
                "b") "\"], \"/c\": [\"sha256:" H("c") "\"]}, \"options\": {\"allow_violations\": true}}");
        json_t *d = NULL;
        char *text, why[128];
        size_t len;

        ck_assert_int_eq(dw_policy_doc_write(a, &text, &len), 0);
        ck_assert_str_eq(text, "{\n  \"driftwatch_runtime_policy\": 1,\n  \"digests\": {\n    \"/a\": [],\n    \"/b\": "
                               "[\"sha256:" H("a") "\"]\n  },\n  \"excludes\": [\n    \"^/tmp/\"\n  ]\n}\n");
        free(text);
        ck_assert_int_eq(dw_policy_doc_diff(a, b, &d), 0);
        ck_assert(json_is_false(json_object_get(d, "same")));
        ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(d, "counts"), "changed")), 1);
        ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(d, "counts"), "added")), 1);
        ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(d, "counts"), "removed")), 1);
        json_decref(d);
        ck_assert_int_eq(dw_policy_doc_merge(a, b, why, sizeof(why)), 0);
        ck_assert_uint_eq(json_array_size(json_object_get(json_object_get(a, "digests"), "/b")), 2);
        ck_assert(json_is_true(json_object_get(json_object_get(a, "options"), "allow_violations")));
        ck_assert_int_eq(dw_policy_doc_diff(a, a, &d), 0);
        ck_assert(json_is_true(json_object_get(d, "same")));
        json_decref(d);
        json_decref(a);
        json_decref(b);
}
END_TEST

START_TEST(test_sign_verify)
{
        json_t *doc = doc_of("{\"driftwatch_runtime_policy\": 1, \"meta\": {\"name\": \"x\"}, \"digests\": {\"/a\": "
                             "[\"sha256:" H("1") "\"]}}");
        EVP_PKEY *key = EVP_EC_gen("P-256"), *other = EVP_EC_gen("P-256");
        enum dw_policy_sig_verdict v;
        struct dw_policy_error err;
        char why[256];

        ck_assert_ptr_nonnull(key);
        ck_assert_int_eq(dw_policy_verify(doc, key, &v, why, sizeof(why), &err), 0);
        ck_assert_int_eq(v, DW_POLICY_SIG_UNSIGNED);
        ck_assert_int_eq(dw_policy_sign(doc, key, &err), 0);
        ck_assert_int_eq(dw_policy_verify(doc, key, &v, why, sizeof(why), &err), 0);
        ck_assert_int_eq(v, DW_POLICY_SIG_VALID);
        ck_assert_int_eq(dw_policy_verify(doc, other, &v, why, sizeof(why), &err), 0);
        ck_assert_int_eq(v, DW_POLICY_SIG_WRONG_KEY);
        json_object_set_new(json_object_get(doc, "digests"), "/evil", json_array());
        ck_assert_int_eq(dw_policy_verify(doc, key, &v, why, sizeof(why), &err), 0);
        ck_assert_int_eq(v, DW_POLICY_SIG_MISMATCH);
        ck_assert(strstr(why, "changed after it was signed"));
        EVP_PKEY_free(key);
        EVP_PKEY_free(other);
        json_decref(doc);
}
END_TEST

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t rng(void)
{
        rng_state ^= rng_state << 13;
        rng_state ^= rng_state >> 7;
        rng_state ^= rng_state << 17;
        return rng_state;
}

/* Mutated policies and Keylime documents: whatever parses goes through every tool without a sanitizer report. */
START_TEST(test_fuzz)
{
        static const char seed[] = "{\"driftwatch_runtime_policy\": 1, \"meta\": {\"name\": \"n\", \"x\": [1, 2]},"
                                   " \"digests\": {\"/a b\": [\"sha1:"
                                   "0123456789012345678901234567890123456789"
                                   "\"], \"/\\u00e9\": []}, \"excludes\": [\"^/tmp/\"], \"ima_buf\": {\".ima\": "
                                   "[\"sha256:" H("f") "\"]}, \"options\": {\"allow_violations\": true}}";
        char buf[sizeof(seed) + 64];

        for (int i = 0; i < 3000; i++) {
                size_t len = sizeof(seed) - 1;
                json_t *doc = NULL, *kl = NULL, *back = NULL, *warnings = json_array();
                struct dw_policy_error err;
                char *text = NULL;
                size_t tlen;

                memcpy(buf, seed, len);
                for (int k = 0; k < 1 + (int)(rng() % 3); k++) {
                        size_t at = rng() % len;

                        buf[at] = "{}[]\",:0aZ\\ \x80\xff"[rng() % 14];
                }
                if (dw_policy_doc_parse(buf, len, &doc, &err) == 0) {
                        ck_assert_int_eq(dw_policy_doc_write(doc, &text, &tlen), 0);
                        free(text);
                        text = NULL;
                        if (dw_policy_canonical(doc, &text, &tlen, &err) == 0)
                                free(text);
                        if (dw_keylime_export(doc, true, &kl, warnings, &err) == 0 &&
                            dw_keylime_import(kl, true, NULL, NULL, &back, warnings, &err) == 0)
                                json_decref(back);
                        json_decref(kl);
                        json_decref(doc);
                }
                kl = json_loadb(buf, len, 0, NULL);
                if (kl && dw_keylime_import(kl, true, NULL, NULL, &back, warnings, &err) == 0)
                        json_decref(back);
                json_decref(kl);
                json_decref(warnings);
        }
}
END_TEST

int main(void)
{
        Suite *s = suite_create("policy-tools");
        TCase *tc = tcase_create("tools");
        SRunner *sr;
        int failed;

        tcase_set_timeout(tc, 60);
        tcase_add_test(tc, test_canonical);
        tcase_add_test(tc, test_regex_python_to_posix);
        tcase_add_test(tc, test_regex_posix_to_python);
        tcase_add_test(tc, test_names);
        tcase_add_test(tc, test_write_merge_diff);
        tcase_add_test(tc, test_sign_verify);
        tcase_add_test(tc, test_fuzz);
        suite_add_tcase(s, tc);
        sr = srunner_create(s);
        srunner_run_all(sr, CK_NORMAL);
        failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
