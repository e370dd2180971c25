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

/* Copies at most max bytes of the stream into buf, waiting up to timeout_usec for an event. Returns the bytes
 * copied; when the wait timed out with nothing to send, a keep-alive comment; -ESHUTDOWN after vf_events_shutdown. */
ssize_t vf_subscriber_read(struct vf_subscriber *s, char *buf, size_t max, uint64_t timeout_usec);
