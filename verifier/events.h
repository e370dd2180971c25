/* SPDX-License-Identifier: MIT */
#pragma once

/* The Server-Sent Events hub behind GET /v1/stream: verdict changes (and enrollments) are published once and read
 * by every subscriber at its own pace. The last VF_EVENTS_KEPT events stay in a ring, so a client reconnecting with
 * Last-Event-ID gets what it missed; one that fell further behind is told so (event "overflow"). Thread-safe. */

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <jansson.h>

#include "macro.h"

#define VF_EVENTS_KEPT 1024

struct vf_events;
struct vf_subscriber;

int vf_events_new(struct vf_events **ret);
void vf_events_free(struct vf_events *e);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct vf_events *, vf_events_free);

/* Publishes {"type": data} with the next event id; steals data. */
void vf_events_publish(struct vf_events *e, const char *type, json_t *data);
/* Wakes every subscriber for good: their reads return end of stream. */
void vf_events_shutdown(struct vf_events *e);

/* A subscriber getting the events after *last_event_id (those still kept), or only new ones when it is NULL. */
int vf_events_subscribe(struct vf_events *e, const uint64_t *last_event_id, struct vf_subscriber **ret);
void vf_events_unsubscribe(struct vf_subscriber *s);

/* Copies at most max bytes of the stream into buf, without waiting: the bytes copied, 0 when there is nothing to
 * read now, -ESHUTDOWN after vf_events_shutdown. The stream opens with a "retry:" line. */
ssize_t vf_subscriber_read(struct vf_subscriber *s, char *buf, size_t max);
/* Calls fn(userdata) once, with the hub's lock held (it must not call into the hub), when there is something to read
 * (at once when there is already) or the hub shuts down. A later call replaces the earlier registration. */
void vf_subscriber_notify(struct vf_subscriber *s, void (*fn)(void *userdata), void *userdata);
/* Cancels the registration: fn is not called after this returns. */
void vf_subscriber_notify_cancel(struct vf_subscriber *s);
