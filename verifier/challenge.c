/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "challenge.h"
#include "util.h"

#define BUCKETS 4096u

/* A gateway with a pending challenge, or with polls waiting: gateways with neither have no entry. */
struct challenge_entry {
        struct challenge_entry *next;
        char id[65];
        bool pending;
        struct vf_challenge challenge;
        struct vf_challenge_waiter *waiters;
};

struct vf_challenges {
        pthread_mutex_t lock;
        bool shutdown;
        size_t n_pending;
        struct challenge_entry *buckets[BUCKETS];
};

int vf_challenges_new(struct vf_challenges **ret)
{
        struct vf_challenges *h = calloc(1, sizeof(*h));

        if (!h)
                return -ENOMEM;
        pthread_mutex_init(&h->lock, NULL);
        *ret = h;
        return 0;
}

void vf_challenges_free(struct vf_challenges *h)
{
        if (!h)
                return;
        for (size_t i = 0; i < BUCKETS; i++)
                while (h->buckets[i]) {
                        struct challenge_entry *e = h->buckets[i];

                        h->buckets[i] = e->next;
                        free(e);
                }
        pthread_mutex_destroy(&h->lock);
        free(h);
}

bool vf_challenge_reason_valid(const char *reason)
{
        size_t chars = 0;

        if (!reason || reason[0] == '\0')
                return false;
        for (const unsigned char *p = (const unsigned char *)reason; *p; chars++) {
                size_t n = *p < 0x80             ? 1
                           : (*p & 0xe0) == 0xc0 ? 2
                           : (*p & 0xf0) == 0xe0 ? 3
                           : (*p & 0xf8) == 0xf0 ? 4
                                                 : 0;

                if (n == 0 || *p < 0x20 || *p == 0x7f)
                        return false;
                for (size_t k = 1; k < n; k++)
                        if ((p[k] & 0xc0) != 0x80)
                                return false;
                p += n;
        }
        return chars <= VF_CHALLENGE_REASON_MAX;
}

static struct challenge_entry **slot(struct vf_challenges *h, const char *id)
{
        uint32_t hash = 2166136261u; /* FNV-1a */
        struct challenge_entry **p;

        for (const char *c = id; *c; c++)
                hash = (hash ^ (uint8_t)*c) * 16777619u;
        for (p = &h->buckets[hash & (BUCKETS - 1)]; *p; p = &(*p)->next)
                if (strcmp((*p)->id, id) == 0)
                        break;
        return p;
}

static struct challenge_entry *entry_get(struct vf_challenges *h, const char *id, bool create)
{
        struct challenge_entry **p = slot(h, id), *e;

        if (*p || !create)
                return *p;
        if (strlen(id) >= sizeof(e->id))
                return NULL;
        e = calloc(1, sizeof(*e));
        if (!e)
                return NULL;
        strcpy(e->id, id);
        *p = e;
        return e;
}

/* Frees an entry that holds nothing any more. */
static void entry_release(struct vf_challenges *h, struct challenge_entry *e)
{
        struct challenge_entry **p;

        if (e->pending || e->waiters)
                return;
        p = slot(h, e->id);
        *p = e->next;
        free(e);
}

static void wake_all(struct challenge_entry *e)
{
        for (struct vf_challenge_waiter *w = e->waiters; w; w = w->next)
                w->wake(w);
}

static void set_pending(struct vf_challenges *h, struct challenge_entry *e, const struct vf_challenge *c)
{
        if (!e->pending)
                h->n_pending++;
        e->pending = true;
        e->challenge = *c;
        wake_all(e);
}

int vf_challenges_raise(struct vf_challenges *h, const char *gateway_id, const char *reason, uint64_t now)
{
        struct vf_challenge c = {.requested = now};
        struct challenge_entry *e;

        if (!vf_challenge_reason_valid(reason))
                return -EINVAL;
        snprintf(c.reason, sizeof(c.reason), "%s", reason);
        pthread_mutex_lock(&h->lock);
        e = entry_get(h, gateway_id, true);
        if (e)
                set_pending(h, e, &c);
        pthread_mutex_unlock(&h->lock);
        return e ? 0 : -ENOMEM;
}

void vf_challenges_restore(struct vf_challenges *h, const char *gateway_id, const struct vf_challenge *c)
{
        struct challenge_entry *e;

        pthread_mutex_lock(&h->lock);
        e = entry_get(h, gateway_id, true);
        if (e && !e->pending)
                set_pending(h, e, c);
        pthread_mutex_unlock(&h->lock);
}

static int take_locked(struct vf_challenges *h, const char *gateway_id, struct vf_challenge *ret)
{
        struct challenge_entry *e = entry_get(h, gateway_id, false);

        if (!e || !e->pending)
                return -ENOENT;
        *ret = e->challenge;
        e->pending = false;
        h->n_pending--;
        entry_release(h, e);
        return 0;
}

int vf_challenges_take(struct vf_challenges *h, const char *gateway_id, struct vf_challenge *ret)
{
        int r;

        pthread_mutex_lock(&h->lock);
        r = take_locked(h, gateway_id, ret);
        pthread_mutex_unlock(&h->lock);
        return r;
}

void vf_challenges_forget(struct vf_challenges *h, const char *gateway_id)
{
        struct vf_challenge c;

        pthread_mutex_lock(&h->lock);
        (void)take_locked(h, gateway_id, &c);
        pthread_mutex_unlock(&h->lock);
}

size_t vf_challenges_pending(struct vf_challenges *h)
{
        size_t n;

        pthread_mutex_lock(&h->lock);
        n = h->n_pending;
        pthread_mutex_unlock(&h->lock);
        return n;
}

static int watch_locked(struct vf_challenges *h, const char *gateway_id, struct vf_challenge_waiter *w)
{
        struct challenge_entry *e;

        if (h->shutdown)
                return -ESHUTDOWN;
        e = entry_get(h, gateway_id, true);
        if (!e)
                return -ENOMEM;
        if (e->pending)
                return -EAGAIN;
        w->entry = e;
        w->next = e->waiters;
        e->waiters = w;
        return 0;
}

static void unwatch_locked(struct vf_challenges *h, struct vf_challenge_waiter *w)
{
        struct challenge_entry *e = w->entry;

        if (!e)
                return;
        for (struct vf_challenge_waiter **p = &e->waiters; *p; p = &(*p)->next)
                if (*p == w) {
                        *p = w->next;
                        break;
                }
        w->entry = NULL;
        w->next = NULL;
        entry_release(h, e);
}

int vf_challenges_watch(struct vf_challenges *h, const char *gateway_id, struct vf_challenge_waiter *w)
{
        int r;

        pthread_mutex_lock(&h->lock);
        r = watch_locked(h, gateway_id, w);
        pthread_mutex_unlock(&h->lock);
        return r;
}

void vf_challenges_unwatch(struct vf_challenges *h, struct vf_challenge_waiter *w)
{
        pthread_mutex_lock(&h->lock);
        unwatch_locked(h, w);
        pthread_mutex_unlock(&h->lock);
}

void vf_challenges_shutdown(struct vf_challenges *h)
{
        pthread_mutex_lock(&h->lock);
        h->shutdown = true;
        for (size_t i = 0; i < BUCKETS; i++)
                for (struct challenge_entry *e = h->buckets[i]; e; e = e->next)
                        wake_all(e);
        pthread_mutex_unlock(&h->lock);
}
