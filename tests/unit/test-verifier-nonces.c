/* SPDX-License-Identifier: MIT */
/* verifier/nonces: the nonces issued and not used yet (single use, expiry, at most 16 per gateway, the oldest unused
 * one forgotten), and the nonce layout (its expiry first, so that used nonces are kept in time order). */

#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "nonces.h"

#define SEC 1000000ull

static void nonce_of(unsigned i, uint8_t out[VF_NONCE_SIZE])
{
        memset(out, 0, VF_NONCE_SIZE);
        out[VF_NONCE_SIZE - 1] = (uint8_t)i;
        out[VF_NONCE_SIZE - 2] = (uint8_t)(i >> 8);
}

START_TEST(test_single_use)
{
        struct vf_nonces *n = NULL;
        uint8_t a[VF_NONCE_SIZE], b[VF_NONCE_SIZE];

        ck_assert_int_eq(vf_nonces_new(&n), 0);
        nonce_of(1, a);
        nonce_of(2, b);
        ck_assert_int_eq(vf_nonces_issue(n, "gw1", a, 100 * SEC, 160 * SEC), 0);
        ck_assert_int_eq(vf_nonces_use(n, "gw2", a, 110 * SEC), VF_NONCE_UNKNOWN); /* gw1's */
        ck_assert_int_eq(vf_nonces_use(n, "gw1", b, 110 * SEC), VF_NONCE_UNKNOWN); /* never issued */
        ck_assert_int_eq(vf_nonces_use(n, "gw1", a, 110 * SEC), VF_NONCE_OK);
        ck_assert_int_eq(vf_nonces_use(n, "gw1", a, 111 * SEC), VF_NONCE_REUSED);
        /* Expired: refused, and used up. */
        ck_assert_int_eq(vf_nonces_issue(n, "gw1", b, 100 * SEC, 160 * SEC), 0);
        ck_assert_int_eq(vf_nonces_use(n, "gw1", b, 161 * SEC), VF_NONCE_EXPIRED);
        ck_assert_int_eq(vf_nonces_use(n, "gw1", b, 162 * SEC), VF_NONCE_REUSED);
        vf_nonces_forget(n, "gw1");
        ck_assert_int_eq(vf_nonces_use(n, "gw1", a, 111 * SEC), VF_NONCE_UNKNOWN);
        ck_assert_uint_eq(vf_nonces_count(n), 0);
        vf_nonces_free(n);
}
END_TEST

START_TEST(test_outstanding_cap)
{
        struct vf_nonces *n = NULL;
        uint8_t x[VF_NONCE_SIZE];

        ck_assert_int_eq(vf_nonces_new(&n), 0);
        for (unsigned i = 0; i < VF_NONCES_OUTSTANDING; i++) {
                nonce_of(i, x);
                ck_assert_int_eq(vf_nonces_issue(n, "gw1", x, 100 * SEC + i, 200 * SEC), 0);
        }
        ck_assert_uint_eq(vf_nonces_count(n), VF_NONCES_OUTSTANDING);
        /* One more forgets the oldest unused one (0)... */
        nonce_of(100, x);
        ck_assert_int_eq(vf_nonces_issue(n, "gw1", x, 101 * SEC, 200 * SEC), 0);
        nonce_of(0, x);
        ck_assert_int_eq(vf_nonces_use(n, "gw1", x, 102 * SEC), VF_NONCE_UNKNOWN);
        nonce_of(1, x);
        ck_assert_int_eq(vf_nonces_use(n, "gw1", x, 102 * SEC), VF_NONCE_OK);
        /* ... but a used one goes first: 1 was used, so 2 survives the next issue. */
        nonce_of(101, x);
        ck_assert_int_eq(vf_nonces_issue(n, "gw1", x, 103 * SEC, 200 * SEC), 0);
        nonce_of(2, x);
        ck_assert_int_eq(vf_nonces_use(n, "gw1", x, 104 * SEC), VF_NONCE_OK);
        ck_assert_uint_eq(vf_nonces_count(n), VF_NONCES_OUTSTANDING);
        /* Other gateways are not affected. */
        nonce_of(1, x);
        ck_assert_int_eq(vf_nonces_issue(n, "gw2", x, 100 * SEC, 200 * SEC), 0);
        ck_assert_int_eq(vf_nonces_use(n, "gw2", x, 104 * SEC), VF_NONCE_OK);
        vf_nonces_free(n);
}
END_TEST

START_TEST(test_prune)
{
        struct vf_nonces *n = NULL;
        uint8_t x[VF_NONCE_SIZE];

        ck_assert_int_eq(vf_nonces_new(&n), 0);
        nonce_of(1, x);
        ck_assert_int_eq(vf_nonces_issue(n, "gw1", x, 100 * SEC, 160 * SEC), 0);
        ck_assert_int_eq(vf_nonces_issue(n, "gw2", x, 100 * SEC, 500 * SEC), 0);
        /* Until then, expired nonces are told so. */
        vf_nonces_prune(n, 150 * SEC);
        ck_assert_int_eq(vf_nonces_use(n, "gw1", x, 170 * SEC), VF_NONCE_EXPIRED);
        vf_nonces_prune(n, 200 * SEC); /* gw1's all expired before 200 s: forgotten; gw2's not */
        ck_assert_uint_eq(vf_nonces_count(n), 1);
        ck_assert_int_eq(vf_nonces_use(n, "gw1", x, 210 * SEC), VF_NONCE_UNKNOWN);
        ck_assert_int_eq(vf_nonces_use(n, "gw2", x, 210 * SEC), VF_NONCE_OK);
        vf_nonces_free(n);
}
END_TEST

START_TEST(test_layout)
{
        uint8_t a[VF_NONCE_SIZE], b[VF_NONCE_SIZE];
        uint64_t t = 0x0102030405060708ull;

        ck_assert_int_eq(vf_nonce_make(t, a), 0);
        ck_assert_int_eq(vf_nonce_make(t, b), 0);
        ck_assert_mem_eq(a, "\x01\x02\x03\x04\x05\x06\x07\x08", 8); /* the expiry, big-endian */
        ck_assert_mem_eq(a, b, 8);
        ck_assert(memcmp(a + 8, b + 8, VF_NONCE_SIZE - 8) != 0); /* 24 random bytes */
        /* Later expiries sort after earlier ones. */
        ck_assert_int_eq(vf_nonce_make(t + 1, b), 0);
        ck_assert_int_lt(memcmp(a, b, VF_NONCE_SIZE), 0);
}
END_TEST

int main(void)
{
        Suite *s = suite_create("verifier-nonces");
        TCase *tc = tcase_create("core");
        SRunner *sr;
        int failed;

        tcase_add_test(tc, test_single_use);
        tcase_add_test(tc, test_outstanding_cap);
        tcase_add_test(tc, test_prune);
        tcase_add_test(tc, test_layout);
        suite_add_tcase(s, tc);
        sr = srunner_create(s);
        srunner_run_all(sr, CK_NORMAL);
        failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
