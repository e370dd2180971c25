/* SPDX-License-Identifier: MIT */
#pragma once

/* One-shot timers run by a thread of their own (a binary heap by due time): the HTTP server uses them to resume
 * suspended connections (a challenge poll whose wait is up, an event stream's keep-alive). A timer lives in its
 * owner's memory; vf_timer_disarm returns only when its callback is not running, so the owner may free it then.
 * Thread-safe. */

#include <stddef.h>
#include <stdint.h>

#include "macro.h"

struct vf_timers;

struct vf_timer {
        void (*fn)(struct vf_timer *t); /* runs on the timer thread; must not arm or disarm t itself */
        void *userdata;
        /* the timers' */
        uint64_t due; /* monotonic usec */
        size_t index; /* in the heap, + 1; 0: not armed */
};

int vf_timers_new(struct vf_timers **ret);
/* Stops the thread; timers still armed never run. */
void vf_timers_free(struct vf_timers *ts);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct vf_timers *, vf_timers_free);

/* Arms t (t->fn set) to run at due (monotonic usec), re-arming it when it is armed already. */
int vf_timer_arm(struct vf_timers *ts, struct vf_timer *t, uint64_t due);
/* Disarms t; when its callback is running, waits for it to return. */
void vf_timer_disarm(struct vf_timers *ts, struct vf_timer *t);
