/* SPDX-License-Identifier: MIT */
#pragma once

/* The HTTPS front: libmicrohttpd (GnuTLS), event-driven (epoll, a pool of http_threads threads each serving many
 * connections), HTTP/1.1 keep-alive, TLS 1.2/1.3 with optional client certificates that must chain to the verifier's
 * CA (checked in the handshake: a certificate that does not is a TLS failure, not an HTTP answer), request routing,
 * size limits, authentication per route, JSON errors and one log line per request.
 *
 * Handlers run on the pool's threads and must not block for long. A request that waits for something (a challenge
 * poll, the event stream) suspends its connection instead (vf_request_suspend), holding no thread, and is resumed
 * from any thread (vf_resume) or at its deadline. */

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <microhttpd.h>

#include "timer.h"
#include "verifier.h"

#define VF_SMALL_BODY_MAX (64u * 1024) /* enrollment, nonce, assignment requests */
#define VF_HEADERS_MAX    (8u * 1024)  /* request line and headers: more is 431 (or 414 for the URL alone) */
#define VF_PARAMS_MAX     4

enum vf_auth {
        VF_AUTH_NONE,    /* public: /healthz, the JWK set, the CA certificate */
        VF_AUTH_ENROLL,  /* enrollment: the bootstrap token when one is configured, no client certificate needed */
        VF_AUTH_GATEWAY, /* a client certificate issued to the gateway named by the first {} of the path */
        VF_AUTH_READ,    /* bearer token: the read token or the admin token */
        VF_AUTH_ADMIN,   /* bearer token: the admin token */
};

struct vf_request;
typedef enum MHD_Result (*vf_handler)(struct vf_request *rq);

/* A connection suspended until vf_resume() (from any thread) or its deadline. */
struct vf_suspension {
        struct MHD_Connection *conn;
        struct vf_timers *timers;
        struct vf_timer timer;
        atomic_bool suspended; /* and not resumed yet */
};

/* Suspends the connection (only from the access handler or a content reader callback) until vf_resume() or until
 * deadline (monotonic usec; 0: none). */
void vf_suspend(struct vf_suspension *s, uint64_t deadline);
/* Resumes it, once (later calls until the next vf_suspend do nothing). Any thread; never blocks. */
void vf_resume(struct vf_suspension *s);
/* Before the suspension's memory goes: its deadline disarmed (waiting for a deadline being handled). */
void vf_suspension_done(struct vf_suspension *s);

struct vf_route {
        const char *method;
        const char *pattern; /* "/v1/gateways/{}/nonce": {} matches one path segment */
        enum vf_auth auth;
        bool large_body; /* body up to max_request_size, else VF_SMALL_BODY_MAX */
        vf_handler handler;
};

struct vf_request {
        struct verifier *v;
        struct MHD_Connection *conn;
        const char *method;
        char *path;
        const struct vf_route *route;
        unsigned route_error;        /* 404 or 405 when no route matched */
        char *params[VF_PARAMS_MAX]; /* the {} segments of the route, in order */
        size_t n_params;
        uint8_t *body;
        size_t body_size, body_allocated;
        uint64_t body_limit;
        bool too_large;
        uint64_t start_usec; /* monotonic */
        unsigned status;
        char error[48];
        json_t *log; /* extra fields for the request's log line */
        /* called once the request is over: completed says whether the answer was sent in full */
        void (*on_done)(struct vf_request *rq, bool completed);
        void *on_done_data;
        /* a request waiting (vf_request_suspend): on_resume answers it, or suspends it again */
        struct vf_suspension susp;
        vf_handler on_resume;
};

/* Answers with a JSON body (steals body). */
enum MHD_Result vf_reply_json(struct vf_request *rq, unsigned status, json_t *body);
/* Answers {"error": error, "detail": <formatted>} and counts the rejection under error. */
enum MHD_Result vf_reply_error(struct vf_request *rq, unsigned status, const char *error, const char *fmt, ...)
        _printf_(4, 5);
/* Answers with data copied, of content_type. */
enum MHD_Result vf_reply_data(struct vf_request *rq, unsigned status, const char *content_type, const void *data,
                              size_t size);
/* Suspends the request's connection (from its handler, which then returns MHD_YES) until vf_resume(&rq->susp) or
 * deadline (monotonic usec; 0: none); on_resume is then called, in place of the route's handler, to answer or to
 * suspend again. */
enum MHD_Result vf_request_suspend(struct vf_request *rq, uint64_t deadline, vf_handler on_resume);
/* Queues a prepared response (an SSE stream), destroying the caller's reference. */
enum MHD_Result vf_reply_response(struct vf_request *rq, unsigned status, struct MHD_Response *resp);

/* The body as a JSON object. -EBADMSG with why for anything else. */
int vf_request_json(struct vf_request *rq, json_t **ret, char *why, size_t why_size);
/* A query-string argument, or NULL. */
const char *vf_request_arg(struct vf_request *rq, const char *name);
/* A request header, or NULL. */
const char *vf_request_header(struct vf_request *rq, const char *name);
/* Adds a field to the request's log line (steals value). */
void vf_request_log(struct vf_request *rq, const char *key, json_t *value);

/* Typed members of a JSON request body. Each returns 0, -ENOENT when an optional member is absent (required
 * members report that as an error), or -EINVAL with why ("<key>: expected ..."). */
int vf_json_string(json_t *obj, const char *key, bool required, const char **ret, char *why, size_t why_size);
/* Standard base64 of at most max bytes, decoded (malloc'd). */
int vf_json_base64(json_t *obj, const char *key, bool required, size_t max, uint8_t **ret, size_t *ret_size, char *why,
                   size_t why_size);
int vf_json_uint(json_t *obj, const char *key, bool required, uint64_t *ret, char *why, size_t why_size);
/* Hex of exactly size bytes. */
int vf_json_hex(json_t *obj, const char *key, bool required, uint8_t *ret, size_t size, char *why, size_t why_size);

struct vf_http;

/* Starts listening (address and port from the config; the actual port, for port 0, in *ret_port). */
int vf_http_start(struct verifier *v, const struct vf_route *routes, size_t n_routes, struct vf_http **ret,
                  uint16_t *ret_port, char *msg, size_t msg_size);
void vf_http_stop(struct vf_http *h);
