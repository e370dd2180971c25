/* SPDX-License-Identifier: MIT */
/* verifier/challenge: pending challenges per gateway (delivered once, merged, put back), waiters woken by a raise
 * and by shutdown, and the reason rule. */

#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "challenge.h"

struct counting_waiter {
        struct vf_challenge_waiter w; /* first */
        unsigned woken;
};

static void count_wake(struct vf_challenge_waiter *w)
{
        ((struct counting_waiter *)w)->woken++;
}

START_TEST(test_delivered_once)
{
        struct vf_challenges *h = NULL;
        struct vf_challenge c;

        ck_assert_int_eq(vf_challenges_new(&h), 0);
        ck_assert_int_eq(vf_challenges_take(h, "gw1", &c), -ENOENT);
        ck_assert_int_eq(vf_challenges_raise(h, "gw1", "admin", 1000), 0);
        ck_assert_uint_eq(vf_challenges_pending(h), 1);
        ck_assert_int_eq(vf_challenges_take(h, "gw2", &c), -ENOENT); /* another gateway's */
        ck_assert_int_eq(vf_challenges_take(h, "gw1", &c), 0);
        ck_assert_str_eq(c.reason, "admin");
        ck_assert_uint_eq(c.requested, 1000);
        ck_assert_int_eq(vf_challenges_take(h, "gw1", &c), -ENOENT); /* once */
        ck_assert_uint_eq(vf_challenges_pending(h), 0);
        vf_challenges_free(h);
}
END_TEST

START_TEST(test_merge_and_restore)
{
        struct vf_challenges *h = NULL;
        struct vf_challenge c, old = {.reason = "older", .requested = 5};

        ck_assert_int_eq(vf_challenges_new(&h), 0);
        ck_assert_int_eq(vf_challenges_raise(h, "gw1", "first", 1), 0);
        ck_assert_int_eq(vf_challenges_raise(h, "gw1", "second", 2), 0);
        ck_assert_uint_eq(vf_challenges_pending(h), 1);
        /* A challenge that could not be delivered goes back only when nothing newer is pending. */
        vf_challenges_restore(h, "gw1", &old);
        ck_assert_int_eq(vf_challenges_take(h, "gw1", &c), 0);
        ck_assert_str_eq(c.reason, "second");
        ck_assert_uint_eq(c.requested, 2);
        vf_challenges_restore(h, "gw1", &old);
        ck_assert_int_eq(vf_challenges_take(h, "gw1", &c), 0);
        ck_assert_str_eq(c.reason, "older");
        /* A removed gateway's challenge is dropped. */
        ck_assert_int_eq(vf_challenges_raise(h, "gw1", "x", 3), 0);
        vf_challenges_forget(h, "gw1");
        ck_assert_int_eq(vf_challenges_take(h, "gw1", &c), -ENOENT);
        vf_challenges_free(h);
}
END_TEST

START_TEST(test_waiters)
{
        struct vf_challenges *h = NULL;
        struct counting_waiter a = {.w.wake = count_wake}, b = {.w.wake = count_wake}, other = {.w.wake = count_wake};
        struct vf_challenge c;

        ck_assert_int_eq(vf_challenges_new(&h), 0);
        ck_assert_int_eq(vf_challenges_watch(h, "gw1", &a.w), 0);
        ck_assert_int_eq(vf_challenges_watch(h, "gw1", &b.w), 0);
        ck_assert_int_eq(vf_challenges_watch(h, "gw2", &other.w), 0);
        ck_assert_int_eq(vf_challenges_raise(h, "gw1", "policy-changed", 7), 0);
        ck_assert_uint_eq(a.woken, 1);
        ck_assert_uint_eq(b.woken, 1);
        ck_assert_uint_eq(other.woken, 0);
        /* One of them takes it; the other finds none and waits on. */
        ck_assert_int_eq(vf_challenges_take(h, "gw1", &c), 0);
        ck_assert_int_eq(vf_challenges_take(h, "gw1", &c), -ENOENT);
        vf_challenges_unwatch(h, &a.w);
        ck_assert_int_eq(vf_challenges_raise(h, "gw1", "again", 8), 0);
        ck_assert_uint_eq(a.woken, 1); /* unwatched: not woken */
        ck_assert_uint_eq(b.woken, 2);
        /* Watching while one is pending: take it instead. */
        ck_assert_int_eq(vf_challenges_watch(h, "gw1", &a.w), -EAGAIN);
        vf_challenges_unwatch(h, &b.w);
        vf_challenges_unwatch(h, &b.w); /* twice is harmless */
        /* Shutdown wakes every waiter and refuses new ones. */
        vf_challenges_shutdown(h);
        ck_assert_uint_eq(other.woken, 1);
        ck_assert_int_eq(vf_challenges_watch(h, "gw3", &a.w), -ESHUTDOWN);
        vf_challenges_unwatch(h, &other.w);
        vf_challenges_free(h);
}
END_TEST

START_TEST(test_reasons)
{
        char s[1000];

        ck_assert(vf_challenge_reason_valid("admin"));
        ck_assert(vf_challenge_reason_valid("Wartung: Prüfung jetzt")); /* UTF-8 */
        ck_assert(!vf_challenge_reason_valid(""));
        ck_assert(!vf_challenge_reason_valid(NULL));
        ck_assert(!vf_challenge_reason_valid("a\nb"));
        ck_assert(!vf_challenge_reason_valid("tab\there"));
        ck_assert(!vf_challenge_reason_valid("del\x7f"));
        ck_assert(!vf_challenge_reason_valid("\xc3"));       /* cut sequence */
        ck_assert(!vf_challenge_reason_valid("\xff\xfe"));   /* not UTF-8 */
        ck_assert(!vf_challenge_reason_valid("a\xe2\x82z")); /* bad continuation */
        memset(s, 'x', 200);
        s[200] = '\0';
        ck_assert(vf_challenge_reason_valid(s));
        s[200] = 'x';
        s[201] = '\0';
        ck_assert(!vf_challenge_reason_valid(s));
        /* 200 characters of two bytes each: characters count, not bytes */
        for (int i = 0; i < 200; i++)
                memcpy(s + 2 * i, "\xc3\xa9", 2);
        s[400] = '\0';
        ck_assert(vf_challenge_reason_valid(s));
}
END_TEST

START_TEST(test_raise_refuses_bad_reason)
{
        struct vf_challenges *h = NULL;
        struct vf_challenge c;

        ck_assert_int_eq(vf_challenges_new(&h), 0);
        ck_assert_int_eq(vf_challenges_raise(h, "gw1", "bad\nreason", 1), -EINVAL);
        ck_assert_int_eq(vf_challenges_take(h, "gw1", &c), -ENOENT);
        vf_challenges_free(h);
}
END_TEST

int main(void)
{
        Suite *s = suite_create("verifier-challenge");
        TCase *tc = tcase_create("core");
        SRunner *sr;
        int failed;

        tcase_add_test(tc, test_delivered_once);
        tcase_add_test(tc, test_merge_and_restore);
        tcase_add_test(tc, test_waiters);
        tcase_add_test(tc, test_reasons);
        tcase_add_test(tc, test_raise_refuses_bad_reason);
        suite_add_tcase(s, tc);
        sr = srunner_create(s);
        srunner_run_all(sr, CK_NORMAL);
        failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
