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

struct vf_events {
        pthread_mutex_t lock;
        pthread_cond_t cond;
        uint64_t next_id; /* of the next event published; ids start at 1 */
        struct event ring[VF_EVENTS_KEPT];
        bool shutdown;
};

struct vf_subscriber {
        struct vf_events *hub;
        uint64_t next_id; /* the next event this subscriber reads */
        char *pending;    /* the rest of an event that did not fit in the last read */
        size_t pending_size, pending_off;
        bool greeted; /* the opening "retry:" line was sent (so headers go out at once) */
};

int vf_events_new(struct vf_events **ret)
{
        struct vf_events *e = calloc(1, sizeof(*e));
        pthread_condattr_t attr;

        if (!e)
                return -ENOMEM;
        pthread_mutex_init(&e->lock, NULL);
        pthread_condattr_init(&attr);
        pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
        pthread_cond_init(&e->cond, &attr);
        pthread_condattr_destroy(&attr);
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
        pthread_cond_destroy(&e->cond);
        pthread_mutex_destroy(&e->lock);
        free(e);
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
                pthread_cond_broadcast(&e->cond);
        }
        pthread_mutex_unlock(&e->lock);
}

void vf_events_shutdown(struct vf_events *e)
{
        pthread_mutex_lock(&e->lock);
        e->shutdown = true;
        pthread_cond_broadcast(&e->cond);
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
        pthread_mutex_unlock(&e->lock);
        *ret = s;
        return 0;
}

void vf_events_unsubscribe(struct vf_subscriber *s)
{
        if (!s)
                return;
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

ssize_t vf_subscriber_read(struct vf_subscriber *s, char *buf, size_t max, uint64_t timeout_usec)
{
        struct vf_events *e = s->hub;
        static const char keepalive[] = ": keep-alive\n\n";
        struct timespec deadline;
        int r = 0;

        if (s->pending)
                return (ssize_t)take_pending(s, buf, max);
        if (!s->greeted) {
                static const char hello[] = "retry: 5000\n\n";

                s->greeted = true;
                if (max >= sizeof(hello) - 1) {
                        memcpy(buf, hello, sizeof(hello) - 1);
                        return (ssize_t)(sizeof(hello) - 1);
                }
        }
        clock_gettime(CLOCK_MONOTONIC, &deadline);
        deadline.tv_sec += (time_t)(timeout_usec / 1000000u);
        deadline.tv_nsec += (long)(timeout_usec % 1000000u) * 1000;
        if (deadline.tv_nsec >= 1000000000) {
                deadline.tv_sec++;
                deadline.tv_nsec -= 1000000000;
        }
        pthread_mutex_lock(&e->lock);
        while (!e->shutdown && s->next_id >= e->next_id && r != ETIMEDOUT)
                r = pthread_cond_timedwait(&e->cond, &e->lock, &deadline);
        if (e->shutdown) {
                pthread_mutex_unlock(&e->lock);
                return -ESHUTDOWN;
        }
        if (s->next_id < e->next_id && next_event_locked(s) < 0) {
                pthread_mutex_unlock(&e->lock);
                return -ENOMEM;
        }
        pthread_mutex_unlock(&e->lock);
        if (s->pending)
                return (ssize_t)take_pending(s, buf, max);
        if (max < sizeof(keepalive) - 1)
                return 0;
        memcpy(buf, keepalive, sizeof(keepalive) - 1);
        return (ssize_t)(sizeof(keepalive) - 1);
}
