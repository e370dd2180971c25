/* SPDX-License-Identifier: MIT */
#pragma once

/* The monitor's HTTPS client: HTTP/1.1 over OpenSSL's TLS, to one server (the verifier), pinned to one CA file (no
 * system CAs), the server's name or IP address checked against its certificate, with or without a client certificate
 * (mutual TLS), one connection kept alive between exchanges. Every exchange ends within its timeout, or within about
 * 250 ms of the cancel flag being set.
 *
 * Why not libcurl: the monitor is a root daemon on every gateway, and Debian's libcurl brings 26 more libraries into
 * its address space (GnuTLS, Kerberos, LDAP, RTMP, SSH, SASL, p11-kit...) for one protocol it speaks to one server;
 * they cost 4 MiB of its resident memory (docs/benchmarks.md). libssl, which the monitor needs anyway, does the TLS;
 * the response framing is http-parse.c, tested and run under the sanitizers.
 *
 * Errors: a negative errno and err saying what failed (naming the URL, never a header's value):
 *   -EHOSTUNREACH  the name does not resolve        -ECONNREFUSED  nobody listens (or the connection was reset)
 *   -ETIMEDOUT     connect or exchange timeout      -ECANCELED     the cancel flag was set
 *   -ECOMM         TLS failures (certificate not from the CA, wrong name...), a connection closed mid-answer
 *   -EPROTO        an answer that is not HTTP/1.x, or larger than the request's answer_max
 *   -ENOKEY        the client certificate or key cannot be used     -EINVAL  a bad URL or CA file
 * Not thread-safe: one client per thread. */

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

#include "dw-error.h"
#include "macro.h"

struct mon_https;

/* url: https://HOST[:PORT] (HOST a DNS name, an IPv4 address or [IPv6]; PORT 443 by default), nothing after it but
 * slashes. ca_file: the PEM CA certificates the server's must chain to. Does not connect. */
int mon_https_new(const char *url, const char *ca_file, long connect_timeout_ms, struct mon_https **ret,
                  struct dw_error *err);
void mon_https_free(struct mon_https *h);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct mon_https *, mon_https_free);

/* A flag another thread may set to abort the exchange in progress (and later ones) with -ECANCELED. */
void mon_https_set_cancel(struct mon_https *h, const atomic_bool *flag);

/* The client certificate (PEM, the leaf first) and its private key presented by the next connections; NULL, NULL:
 * none. Read now (-ENOKEY when they cannot be used, or do not match); a change closes the connection. */
int mon_https_set_identity(struct mon_https *h, const char *cert_file, const char *key_file, struct dw_error *err);

/* Whether the next connections present the identity set last (true) or none (false), without reading it again. */
void mon_https_use_identity(struct mon_https *h, bool use);

/* Closes the connection (the next exchange opens one). */
void mon_https_disconnect(struct mon_https *h);

struct mon_https_request {
        const char *method;         /* "GET", "POST" */
        const char *path;           /* "/v1/...": sent as is (the caller escapes it) */
        const char *const *headers; /* "Name: value" lines, no CRLF; Host, Content-Length and User-Agent are added */
        size_t n_headers;
        const char *body; /* NULL: none */
        size_t body_size;
        long timeout_ms;   /* the whole exchange, connection included */
        size_t answer_max; /* a larger answer body is -EPROTO */
};

struct mon_https_answer {
        int status;
        char *body; /* malloc'd, NUL-terminated (not counted in size); NULL when the answer has no body */
        size_t size;
};

void mon_https_answer_done(struct mon_https_answer *a);

/* One request and its answer. An HTTP error status is an answer, not an error: returns 0 with it. When a kept-alive
 * connection turns out closed by the server before any of the answer arrived, the request is sent again once on a
 * new connection (the server cannot have acted on it). */
int mon_https_exchange(struct mon_https *h, const struct mon_https_request *rq, struct mon_https_answer *ret,
                       struct dw_error *err);
