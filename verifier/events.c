/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "events.h"
#include "util.h"

struct event {
        uint64_t id;
        char *text; /* "id: N\nevent: TYPE\ndata: JSON\n\n" */
};

struct vf_subscriber {
        struct vf_events *hub;
        struct vf_subscriber *prev, *next; /* the hub's list */
        uint64_t next_id;                  /* the next event this subscriber reads */
        char *pending;                     /* the rest of an event that did not fit in the last read */
        size_t pending_size, pending_off;
        bool greeted; /* the opening "retry:" line was sent (so headers go out at once) */
        void (*notify)(void *userdata);
        void *notify_userdata;
};

struct vf_events {
        pthread_mutex_t lock;
        uint64_t next_id; /* of the next event published; ids start at 1 */
        struct event ring[VF_EVENTS_KEPT];
        bool shutdown;
        struct vf_subscriber *subscribers;
};

int vf_events_new(struct vf_events **ret)
{
        struct vf_events *e = calloc(1, sizeof(*e));

        if (!e)
                return -ENOMEM;
        pthread_mutex_init(&e->lock, NULL);
        e->next_id = 1;
        *ret = e;
        return 0;
}

void vf_events_free(struct vf_events *e)
{
        if (!e)
                return;
        for (size_t i = 0; i < VF_EVENTS_KEPT; i++)
                free(e->ring[i].text);
        pthread_mutex_destroy(&e->lock);
        free(e);
}

/* Under the lock: calls the registered subscribers that have something to read now (or all, at shutdown). */
static void notify_locked(struct vf_events *e)
{
        for (struct vf_subscriber *s = e->subscribers; s; s = s->next) {
                void (*fn)(void *) = s->notify;

                if (!fn || (!e->shutdown && !s->pending && s->next_id >= e->next_id && s->greeted))
                        continue;
                s->notify = NULL;
                fn(s->notify_userdata);
        }
}

void vf_events_publish(struct vf_events *e, const char *type, json_t *data)
{
        _cleanup_free_ char *json = json_dumps(data, JSON_COMPACT | JSON_PRESERVE_ORDER);
        struct event *slot;
        char *text;

        json_decref(data);
        if (!json)
                return;
        pthread_mutex_lock(&e->lock);
        text = vf_strprintf("id: %" PRIu64 "\nevent: %s\ndata: %s\n\n", e->next_id, type, json);
        if (text) {
                slot = &e->ring[e->next_id % VF_EVENTS_KEPT];
                free(slot->text);
                slot->id = e->next_id++;
                slot->text = text;
                notify_locked(e);
        }
        pthread_mutex_unlock(&e->lock);
}

void vf_events_shutdown(struct vf_events *e)
{
        pthread_mutex_lock(&e->lock);
        e->shutdown = true;
        notify_locked(e);
        pthread_mutex_unlock(&e->lock);
}

int vf_events_subscribe(struct vf_events *e, const uint64_t *last_event_id, struct vf_subscriber **ret)
{
        struct vf_subscriber *s = calloc(1, sizeof(*s));

        if (!s)
                return -ENOMEM;
        s->hub = e;
        pthread_mutex_lock(&e->lock);
        s->next_id = last_event_id && *last_event_id < e->next_id ? *last_event_id + 1 : e->next_id;
        s->next = e->subscribers;
        if (s->next)
                s->next->prev = s;
        e->subscribers = s;
        pthread_mutex_unlock(&e->lock);
        *ret = s;
        return 0;
}

void vf_events_unsubscribe(struct vf_subscriber *s)
{
        struct vf_events *e;

        if (!s)
                return;
        e = s->hub;
        pthread_mutex_lock(&e->lock);
        if (s->prev)
                s->prev->next = s->next;
        else
                e->subscribers = s->next;
        if (s->next)
                s->next->prev = s->prev;
        pthread_mutex_unlock(&e->lock);
        free(s->pending);
        free(s);
}

static size_t take_pending(struct vf_subscriber *s, char *buf, size_t max)
{
        size_t n = MIN(max, s->pending_size - s->pending_off);

        memcpy(buf, s->pending + s->pending_off, n);
        s->pending_off += n;
        if (s->pending_off == s->pending_size) {
                free(s->pending);
                s->pending = NULL;
                s->pending_size = s->pending_off = 0;
        }
        return n;
}

/* Under the hub's lock: the next event (or an overflow notice) into pending. */
static int next_event_locked(struct vf_subscriber *s)
{
        struct vf_events *e = s->hub;
        uint64_t oldest = e->next_id > VF_EVENTS_KEPT ? e->next_id - VF_EVENTS_KEPT : 1;

        if (s->next_id < oldest) {
                s->pending = vf_strprintf("event: overflow\ndata: {\"missed\":%" PRIu64 "}\n\n", oldest - s->next_id);
                s->next_id = oldest;
        } else {
                s->pending = strdup(e->ring[s->next_id % VF_EVENTS_KEPT].text);
                s->next_id++;
        }
        if (!s->pending)
                return -ENOMEM;
        s->pending_size = strlen(s->pending);
        s->pending_off = 0;
        return 0;
}

ssize_t vf_subscriber_read(struct vf_subscriber *s, char *buf, size_t max)
{
        struct vf_events *e = s->hub;
        ssize_t n = 0;

        pthread_mutex_lock(&e->lock);
        if (e->shutdown)
                n = -ESHUTDOWN;
        else if (!s->greeted) {
                static const char hello[] = "retry: 5000\n\n";

                s->greeted = true;
                if (max >= sizeof(hello) - 1) {
                        memcpy(buf, hello, sizeof(hello) - 1);
                        n = (ssize_t)(sizeof(hello) - 1);
                }
        } else if (!s->pending && s->next_id < e->next_id && next_event_locked(s) < 0)
                n = -ENOMEM;
        pthread_mutex_unlock(&e->lock);
        /* pending is the subscriber's own: only its reader touches it */
        if (n == 0 && s->pending)
                n = (ssize_t)take_pending(s, buf, max);
        return n;
}

void vf_subscriber_notify(struct vf_subscriber *s, void (*fn)(void *userdata), void *userdata)
{
        struct vf_events *e = s->hub;

        pthread_mutex_lock(&e->lock);
        s->notify = fn;
        s->notify_userdata = userdata;
        notify_locked(e);
        pthread_mutex_unlock(&e->lock);
}

void vf_subscriber_notify_cancel(struct vf_subscriber *s)
{
        struct vf_events *e = s->hub;

        pthread_mutex_lock(&e->lock);
        s->notify = NULL;
        pthread_mutex_unlock(&e->lock);
}
