/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <time.h>

#include "timer.h"
#include "util.h"

struct vf_timers {
        pthread_mutex_t lock;
        pthread_cond_t wake; /* the thread: the earliest timer changed, or stop */
        pthread_cond_t done; /* disarm: a callback returned */
        pthread_t thread;
        bool stop;
        struct vf_timer **heap;
        size_t n, allocated;
        struct vf_timer *running;
};

/* ---- the heap (under the lock) ------------------------------------------------------------------------------- */

static void heap_set(struct vf_timers *ts, size_t i, struct vf_timer *t)
{
        ts->heap[i] = t;
        t->index = i + 1;
}

static void sift_up(struct vf_timers *ts, size_t i)
{
        struct vf_timer *t = ts->heap[i];

        while (i > 0 && ts->heap[(i - 1) / 2]->due > t->due) {
                heap_set(ts, i, ts->heap[(i - 1) / 2]);
                i = (i - 1) / 2;
        }
        heap_set(ts, i, t);
}

static void sift_down(struct vf_timers *ts, size_t i)
{
        struct vf_timer *t = ts->heap[i];

        for (;;) {
                size_t c = 2 * i + 1;

                if (c >= ts->n)
                        break;
                if (c + 1 < ts->n && ts->heap[c + 1]->due < ts->heap[c]->due)
                        c++;
                if (ts->heap[c]->due >= t->due)
                        break;
                heap_set(ts, i, ts->heap[c]);
                i = c;
        }
        heap_set(ts, i, t);
}

static void heap_remove(struct vf_timers *ts, struct vf_timer *t)
{
        size_t i = t->index - 1;
        struct vf_timer *last = ts->heap[--ts->n];

        t->index = 0;
        if (last == t)
                return;
        heap_set(ts, i, last);
        sift_down(ts, i);
        sift_up(ts, last->index - 1);
}

static int heap_add(struct vf_timers *ts, struct vf_timer *t)
{
        if (ts->n == ts->allocated) {
                size_t want = MAX(ts->allocated * 2, 64u);
                struct vf_timer **p = realloc(ts->heap, want * sizeof(*p));

                if (!p)
                        return -ENOMEM;
                ts->heap = p;
                ts->allocated = want;
        }
        heap_set(ts, ts->n++, t);
        sift_up(ts, ts->n - 1);
        return 0;
}

/* ---- the thread ---------------------------------------------------------------------------------------------- */

static struct timespec to_timespec(uint64_t usec)
{
        return (struct timespec){.tv_sec = (time_t)(usec / 1000000u), .tv_nsec = (long)(usec % 1000000u) * 1000};
}

static void *timers_main(void *arg)
{
        struct vf_timers *ts = arg;

        pthread_mutex_lock(&ts->lock);
        while (!ts->stop) {
                struct vf_timer *t;
                struct timespec until;

                if (ts->n == 0) {
                        pthread_cond_wait(&ts->wake, &ts->lock);
                        continue;
                }
                t = ts->heap[0];
                if (t->due > vf_monotonic_usec()) {
                        until = to_timespec(t->due);
                        pthread_cond_timedwait(&ts->wake, &ts->lock, &until);
                        continue;
                }
                heap_remove(ts, t);
                ts->running = t;
                pthread_mutex_unlock(&ts->lock);
                t->fn(t);
                pthread_mutex_lock(&ts->lock);
                ts->running = NULL;
                pthread_cond_broadcast(&ts->done);
        }
        pthread_mutex_unlock(&ts->lock);
        return NULL;
}

int vf_timers_new(struct vf_timers **ret)
{
        struct vf_timers *ts = calloc(1, sizeof(*ts));
        pthread_condattr_t attr;

        if (!ts)
                return -ENOMEM;
        pthread_mutex_init(&ts->lock, NULL);
        pthread_condattr_init(&attr);
        pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
        pthread_cond_init(&ts->wake, &attr);
        pthread_condattr_destroy(&attr);
        pthread_cond_init(&ts->done, NULL);
        if (pthread_create(&ts->thread, NULL, timers_main, ts) != 0) {
                pthread_cond_destroy(&ts->wake);
                pthread_cond_destroy(&ts->done);
                pthread_mutex_destroy(&ts->lock);
                free(ts);
                return -EAGAIN;
        }
        *ret = ts;
        return 0;
}

void vf_timers_free(struct vf_timers *ts)
{
        if (!ts)
                return;
        pthread_mutex_lock(&ts->lock);
        ts->stop = true;
        pthread_cond_signal(&ts->wake);
        pthread_mutex_unlock(&ts->lock);
        pthread_join(ts->thread, NULL);
        for (size_t i = 0; i < ts->n; i++)
                ts->heap[i]->index = 0;
        free(ts->heap);
        pthread_cond_destroy(&ts->wake);
        pthread_cond_destroy(&ts->done);
        pthread_mutex_destroy(&ts->lock);
        free(ts);
}

int vf_timer_arm(struct vf_timers *ts, struct vf_timer *t, uint64_t due)
{
        int r = 0;

        pthread_mutex_lock(&ts->lock);
        if (t->index > 0)
                heap_remove(ts, t);
        t->due = due;
        r = heap_add(ts, t);
        if (r == 0 && t->index == 1)
                pthread_cond_signal(&ts->wake); /* the earliest now */
        pthread_mutex_unlock(&ts->lock);
        return r;
}

void vf_timer_disarm(struct vf_timers *ts, struct vf_timer *t)
{
        pthread_mutex_lock(&ts->lock);
        if (t->index > 0)
                heap_remove(ts, t);
        while (ts->running == t)
                pthread_cond_wait(&ts->done, &ts->lock);
        pthread_mutex_unlock(&ts->lock);
}
