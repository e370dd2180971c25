/* SPDX-License-Identifier: MIT */
/* verifier/timer: one-shot timers run in the order they are due, disarmed ones never run, re-arming moves them. */

#include <check.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <unistd.h>

#include "timer.h"
#include "util.h"

#define MS 1000ull

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static int order[16];
static atomic_int n_fired;

static void fired(struct vf_timer *t)
{
        pthread_mutex_lock(&lock);
        order[n_fired] = (int)(intptr_t)t->userdata;
        atomic_fetch_add(&n_fired, 1);
        pthread_mutex_unlock(&lock);
}

static void wait_fired(int n)
{
        for (int i = 0; i < 400 && atomic_load(&n_fired) < n; i++)
                usleep(5000);
}

START_TEST(test_order_and_disarm)
{
        struct vf_timers *ts = NULL;
        struct vf_timer t[5] = {};
        uint64_t now = vf_monotonic_usec();

        atomic_store(&n_fired, 0);
        ck_assert_int_eq(vf_timers_new(&ts), 0);
        for (int i = 0; i < 5; i++) {
                t[i].fn = fired;
                t[i].userdata = (void *)(intptr_t)i;
        }
        ck_assert_int_eq(vf_timer_arm(ts, &t[0], now + 60 * MS), 0);
        ck_assert_int_eq(vf_timer_arm(ts, &t[1], now + 20 * MS), 0);
        ck_assert_int_eq(vf_timer_arm(ts, &t[2], now + 40 * MS), 0);
        ck_assert_int_eq(vf_timer_arm(ts, &t[3], now + 30 * MS), 0);
        ck_assert_int_eq(vf_timer_arm(ts, &t[4], now + 10 * MS), 0);
        vf_timer_disarm(ts, &t[3]);                                  /* never runs */
        ck_assert_int_eq(vf_timer_arm(ts, &t[1], now + 50 * MS), 0); /* re-armed: later */
        wait_fired(4);
        usleep(50000);
        ck_assert_int_eq(atomic_load(&n_fired), 4);
        ck_assert_int_eq(order[0], 4);
        ck_assert_int_eq(order[1], 2);
        ck_assert_int_eq(order[2], 1);
        ck_assert_int_eq(order[3], 0);
        vf_timer_disarm(ts, &t[0]); /* already run: nothing to do */
        vf_timers_free(ts);
}
END_TEST

START_TEST(test_free_with_armed)
{
        struct vf_timers *ts = NULL;
        struct vf_timer t = {.fn = fired};

        atomic_store(&n_fired, 0);
        ck_assert_int_eq(vf_timers_new(&ts), 0);
        ck_assert_int_eq(vf_timer_arm(ts, &t, vf_monotonic_usec() + 3600 * 1000 * MS), 0);
        vf_timers_free(ts); /* armed timers never run */
        ck_assert_int_eq(atomic_load(&n_fired), 0);
}
END_TEST

int main(void)
{
        Suite *s = suite_create("verifier-timer");
        TCase *tc = tcase_create("core");
        SRunner *sr;
        int failed;

        tcase_add_test(tc, test_order_and_disarm);
        tcase_add_test(tc, test_free_with_armed);
        suite_add_tcase(s, tc);
        sr = srunner_create(s);
        srunner_run_all(sr, CK_NORMAL);
        failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
