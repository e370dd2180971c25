/* SPDX-License-Identifier: MIT */
#pragma once

/* Verifier-initiated challenges for push-model gateways (docs/protocol.md, "Challenges"): the verifier cannot
 * connect to a gateway behind NAT, so a gateway long-polls GET /v1/gateways/{id}/challenge, and an administrator
 * (or a policy change) raises a challenge that the poll delivers; the gateway then runs a round at once.
 *
 * At most one challenge is pending per gateway (raising another while one is pending replaces its reason and time);
 * it is delivered once: taken by the first poll that sees it. Pending challenges live in memory only. Waiters are
 * registered per gateway and woken by a callback (the HTTP layer resumes a suspended connection): no thread waits
 * and no lock is held while a poll waits. Thread-safe. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "macro.h"

#define VF_CHALLENGE_REASON_MAX   200 /* characters (UTF-8 code points) */
#define VF_CHALLENGE_REASON_BYTES (4 * VF_CHALLENGE_REASON_MAX + 1)
#define VF_CHALLENGE_WAIT_MAX     60 /* seconds a poll may wait */
#define VF_CHALLENGE_WAIT_DEFAULT 25

struct vf_challenge {
        char reason[VF_CHALLENGE_REASON_BYTES];
        uint64_t requested; /* wall clock, usec */
};

struct vf_challenges;
struct challenge_entry;

/* A poll waiting for a gateway's challenge. wake is called, with the hub's lock held (it must not call into the
 * hub), when a challenge is raised for the gateway and when the hub shuts down; it may be called more than once. */
struct vf_challenge_waiter {
        void (*wake)(struct vf_challenge_waiter *w);
        void *userdata;
        /* the hub's */
        struct vf_challenge_waiter *next;
        struct challenge_entry *entry;
};

int vf_challenges_new(struct vf_challenges **ret);
void vf_challenges_free(struct vf_challenges *h);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct vf_challenges *, vf_challenges_free);

/* Whether a reason is acceptable: 1-VF_CHALLENGE_REASON_MAX characters of valid UTF-8 without control characters. */
bool vf_challenge_reason_valid(const char *reason);

/* Raises a challenge for a gateway (replacing the reason and time of one pending) and wakes its waiters. -EINVAL for
 * a reason that is not valid. */
int vf_challenges_raise(struct vf_challenges *h, const char *gateway_id, const char *reason, uint64_t now);
/* Puts back a challenge that was taken but could not be delivered, unless another one is pending by now. */
void vf_challenges_restore(struct vf_challenges *h, const char *gateway_id, const struct vf_challenge *c);
/* Takes the pending challenge of a gateway: -ENOENT when there is none. */
int vf_challenges_take(struct vf_challenges *h, const char *gateway_id, struct vf_challenge *ret);
/* Drops what is pending for a gateway (it was removed); its waiters keep waiting until their time is up. */
void vf_challenges_forget(struct vf_challenges *h, const char *gateway_id);
/* How many challenges are pending. */
size_t vf_challenges_pending(struct vf_challenges *h);

/* Registers w for a gateway. -EAGAIN when a challenge is pending already (take it instead), -ESHUTDOWN after
 * vf_challenges_shutdown. Unregister it with vf_challenges_unwatch, woken or not. */
int vf_challenges_watch(struct vf_challenges *h, const char *gateway_id, struct vf_challenge_waiter *w);
void vf_challenges_unwatch(struct vf_challenges *h, struct vf_challenge_waiter *w);

/* Wakes every waiter for good; watches are refused from now on. */
void vf_challenges_shutdown(struct vf_challenges *h);
