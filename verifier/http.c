/* SPDX-License-Identifier: MIT */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <openssl/sha.h>

#include "hex.h"
#include "http.h"
#include "log.h"
#include "util.h"

struct vf_http {
        struct MHD_Daemon *daemon;
        struct verifier *v;
        const struct vf_route *routes;
        size_t n_routes;
};

/* ---- replies ------------------------------------------------------------------------------------------------- */

enum MHD_Result vf_reply_response(struct vf_request *rq, unsigned status, struct MHD_Response *resp)
{
        enum MHD_Result r;

        rq->status = status;
        MHD_add_response_header(resp, "Cache-Control", "no-store");
        MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
        r = MHD_queue_response(rq->conn, status, resp);
        MHD_destroy_response(resp);
        return r;
}

enum MHD_Result vf_reply_data(struct vf_request *rq, unsigned status, const char *content_type, const void *data,
                              size_t size)
{
        struct MHD_Response *resp = MHD_create_response_from_buffer(size, (void *)data, MHD_RESPMEM_MUST_COPY);

        if (!resp)
                return MHD_NO;
        MHD_add_response_header(resp, "Content-Type", content_type);
        return vf_reply_response(rq, status, resp);
}

enum MHD_Result vf_reply_json(struct vf_request *rq, unsigned status, json_t *body)
{
        _cleanup_free_ char *text = NULL;
        enum MHD_Result r;

        if (!body)
                return vf_reply_error(rq, 500, "internal-error", "out of memory");
        text = json_dumps(body, JSON_COMPACT | JSON_PRESERVE_ORDER);
        json_decref(body);
        if (!text)
                return MHD_NO;
        r = vf_reply_data(rq, status, "application/json", text, strlen(text));
        return r;
}

enum MHD_Result vf_reply_error(struct vf_request *rq, unsigned status, const char *error, const char *fmt, ...)
{
        char detail[512];
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(detail, sizeof(detail), fmt, ap);
        va_end(ap);
        snprintf(rq->error, sizeof(rq->error), "%s", error);
        vf_metrics_rejected(rq->v->metrics, error);
        vf_request_log(rq, "detail", json_string(detail));
        return vf_reply_json(rq, status, json_pack("{s:s, s:s}", "error", error, "detail", detail));
}

/* ---- request bodies: JSON ------------------------------------------------------------------------------------
 *
 * An attestation request is a few kilobytes of JSON, nearly all of it base64 strings; jansson's parser reads and
 * checks those one character at a time (about 10% of a round's CPU, bench/verifier-load). The requests gateways
 * send are plain JSON: objects, arrays, strings of printable ASCII without escapes, integers, literals. Those are
 * parsed here with a scan per string; anything else (an escape, a non-ASCII byte, a fraction, a duplicate key, an
 * error of any kind) makes the fast path give up, and jansson parses the body from the start, so what is accepted,
 * refused and reported is exactly what jansson says. */

#define FAST_DEPTH_MAX 32

struct fast_json {
        const char *p, *end;
        unsigned depth;
};

static json_t *fast_value(struct fast_json *f);

static void fast_space(struct fast_json *f)
{
        while (f->p < f->end && (*f->p == ' ' || *f->p == '\t' || *f->p == '\n' || *f->p == '\r'))
                f->p++;
}

/* A string of printable ASCII without escapes: its characters in [*ret, *ret + *ret_len). */
static bool fast_string(struct fast_json *f, const char **ret, size_t *ret_len)
{
        const char *s;

        if (f->p >= f->end || *f->p != '"')
                return false;
        s = ++f->p;
        while (f->p < f->end && *f->p != '"') {
                if (*f->p < 0x20 || *f->p > 0x7e || *f->p == '\\')
                        return false;
                f->p++;
        }
        if (f->p >= f->end)
                return false;
        *ret = s;
        *ret_len = (size_t)(f->p++ - s);
        return true;
}

static json_t *fast_integer(struct fast_json *f)
{
        bool negative = f->p < f->end && *f->p == '-';
        uint64_t v = 0, limit = negative ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
        const char *digits;

        f->p += negative;
        digits = f->p;
        while (f->p < f->end && *f->p >= '0' && *f->p <= '9') {
                unsigned d = (unsigned)(*f->p++ - '0');

                if (v > (limit - d) / 10)
                        return NULL;
                v = v * 10 + d;
        }
        if (f->p == digits || (*digits == '0' && f->p - digits > 1) ||
            (f->p < f->end && (*f->p == '.' || *f->p == 'e' || *f->p == 'E')))
                return NULL;
        return json_integer(negative ? (json_int_t)(0 - v) : (json_int_t)v);
}

static json_t *fast_literal(struct fast_json *f, const char *word, json_t *value)
{
        size_t n = strlen(word);

        if ((size_t)(f->end - f->p) < n || memcmp(f->p, word, n) != 0)
                return NULL;
        f->p += n;
        return value;
}

static json_t *fast_container(struct fast_json *f, bool object)
{
        _cleanup_(json_decrefp) json_t *c = object ? json_object() : json_array();
        char close = object ? '}' : ']';

        if (!c || ++f->depth > FAST_DEPTH_MAX)
                return NULL;
        f->p++;
        fast_space(f);
        if (f->p < f->end && *f->p == close) {
                f->p++;
                f->depth--;
                return TAKE_PTR(c);
        }
        for (;;) {
                const char *key = NULL;
                size_t key_len = 0;
                json_t *v;

                if (object) {
                        if (!fast_string(f, &key, &key_len))
                                return NULL;
                        fast_space(f);
                        if (f->p >= f->end || *f->p++ != ':' || json_object_getn(c, key, key_len))
                                return NULL;
                        fast_space(f);
                }
                v = fast_value(f);
                if (!v)
                        return NULL;
                if ((object ? json_object_setn_new_nocheck(c, key, key_len, v) : json_array_append_new(c, v)) < 0)
                        return NULL;
                fast_space(f);
                if (f->p >= f->end)
                        return NULL;
                if (*f->p == close) {
                        f->p++;
                        f->depth--;
                        return TAKE_PTR(c);
                }
                if (*f->p++ != ',')
                        return NULL;
                fast_space(f);
        }
}

static json_t *fast_value(struct fast_json *f)
{
        const char *s;
        size_t len;

        if (f->p >= f->end)
                return NULL;
        switch (*f->p) {
        case '{':
                return fast_container(f, true);
        case '[':
                return fast_container(f, false);
        case '"':
                return fast_string(f, &s, &len) ? json_stringn_nocheck(s, len) : NULL;
        case 't':
                return fast_literal(f, "true", json_true());
        case 'f':
                return fast_literal(f, "false", json_false());
        case 'n':
                return fast_literal(f, "null", json_null());
        default:
                return fast_integer(f);
        }
}

/* The body as a JSON object, when it is plain JSON as described above; NULL otherwise. */
static json_t *fast_object(const uint8_t *body, size_t size)
{
        struct fast_json f = {.p = (const char *)body, .end = (const char *)body + size};
        _cleanup_(json_decrefp) json_t *j = NULL;

        fast_space(&f);
        if (f.p >= f.end || *f.p != '{')
                return NULL;
        j = fast_value(&f);
        fast_space(&f);
        return j && f.p == f.end ? TAKE_PTR(j) : NULL;
}

/* ---- request helpers ----------------------------------------------------------------------------------------- */

int vf_request_json(struct vf_request *rq, json_t **ret, char *why, size_t why_size)
{
        json_error_t err;
        json_t *j;

        if (rq->body_size == 0) {
                snprintf(why, why_size, "the request has no body (expected a JSON object)");
                return -EBADMSG;
        }
        j = fast_object(rq->body, rq->body_size);
        if (j) {
                *ret = j;
                return 0;
        }
        j = json_loadb((const char *)rq->body, rq->body_size, JSON_REJECT_DUPLICATES, &err);
        if (!j) {
                snprintf(why, why_size, "line %d column %d: %s", err.line, err.column, err.text);
                return -EBADMSG;
        }
        if (!json_is_object(j)) {
                json_decref(j);
                snprintf(why, why_size, "expected a JSON object");
                return -EBADMSG;
        }
        *ret = j;
        return 0;
}

const char *vf_request_arg(struct vf_request *rq, const char *name)
{
        return MHD_lookup_connection_value(rq->conn, MHD_GET_ARGUMENT_KIND, name);
}

const char *vf_request_header(struct vf_request *rq, const char *name)
{
        return MHD_lookup_connection_value(rq->conn, MHD_HEADER_KIND, name);
}

void vf_request_log(struct vf_request *rq, const char *key, json_t *value)
{
        if (!rq->log)
                rq->log = json_object();
        if (rq->log && value)
                json_object_set_new(rq->log, key, value);
        else
                json_decref(value);
}

static int member(json_t *obj, const char *key, bool required, json_t **ret, char *why, size_t why_size)
{
        json_t *m = json_object_get(obj, key);

        if (!m || json_is_null(m)) {
                if (!required)
                        return -ENOENT;
                snprintf(why, why_size, "%s: missing", key);
                return -EINVAL;
        }
        *ret = m;
        return 0;
}

int vf_json_string(json_t *obj, const char *key, bool required, const char **ret, char *why, size_t why_size)
{
        json_t *m;
        int r;

        r = member(obj, key, required, &m, why, why_size);
        if (r < 0)
                return r;
        if (!json_is_string(m)) {
                snprintf(why, why_size, "%s: expected a string", key);
                return -EINVAL;
        }
        *ret = json_string_value(m);
        return 0;
}

int vf_json_base64(json_t *obj, const char *key, bool required, size_t max, uint8_t **ret, size_t *ret_size, char *why,
                   size_t why_size)
{
        const char *s;
        size_t len;
        int r;

        r = vf_json_string(obj, key, required, &s, why, why_size);
        if (r < 0)
                return r;
        len = strlen(s);
        if (len / 4 * 3 > max + 3) {
                snprintf(why, why_size, "%s: larger than %zu bytes", key, max);
                return -EINVAL;
        }
        r = vf_base64_decode(s, len, ret, ret_size);
        if (r == -ENOMEM)
                return r;
        if (r < 0) {
                snprintf(why, why_size, "%s: not standard base64 (RFC 4648, with padding)", key);
                return -EINVAL;
        }
        if (*ret_size > max) {
                free(*ret);
                snprintf(why, why_size, "%s: larger than %zu bytes", key, max);
                return -EINVAL;
        }
        return 0;
}

int vf_json_uint(json_t *obj, const char *key, bool required, uint64_t *ret, char *why, size_t why_size)
{
        json_t *m;
        int r;

        r = member(obj, key, required, &m, why, why_size);
        if (r < 0)
                return r;
        if (!json_is_integer(m) || json_integer_value(m) < 0) {
                snprintf(why, why_size, "%s: expected a non-negative integer", key);
                return -EINVAL;
        }
        *ret = (uint64_t)json_integer_value(m);
        return 0;
}

int vf_json_hex(json_t *obj, const char *key, bool required, uint8_t *ret, size_t size, char *why, size_t why_size)
{
        const char *s;
        int r;

        r = vf_json_string(obj, key, required, &s, why, why_size);
        if (r < 0)
                return r;
        if (strlen(s) != 2 * size || dw_hex_decode(s, strlen(s), ret, size) != (int)size) {
                snprintf(why, why_size, "%s: expected %zu bytes in hex", key, size);
                return -EINVAL;
        }
        return 0;
}

/* ---- TLS client certificates --------------------------------------------------------------------------------- */

static gnutls_session_t tls_session(struct MHD_Connection *conn)
{
        const union MHD_ConnectionInfo *ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_GNUTLS_SESSION);

        return ci ? (gnutls_session_t)ci->tls_session : NULL;
}

/* Chain to the verifier's CA (libmicrohttpd's trust list), validity, and the clientAuth purpose. */
static int verify_client_chain(gnutls_session_t s, unsigned *ret_status)
{
        gnutls_typed_vdata_st data = {
                .type = GNUTLS_DT_KEY_PURPOSE_OID,
                .data = (unsigned char *)GNUTLS_KP_TLS_WWW_CLIENT,
        };

        return gnutls_certificate_verify_peers(s, &data, 1, ret_status);
}

/* In the handshake: no certificate is fine (enrollment and the read API do without); a certificate that does not
 * verify ends the handshake with an alert. */
static int verify_in_handshake(gnutls_session_t s)
{
        unsigned n = 0, status = 0;

        if (!gnutls_certificate_get_peers(s, &n) || n == 0)
                return 0;
        if (verify_client_chain(s, &status) < 0 || status != 0) {
                vf_log(VF_LOG_INFO, "tls-client-refused", "client certificate does not verify (status 0x%x)", status);
                return GNUTLS_E_CERTIFICATE_ERROR;
        }
        return 0;
}

/* What a connection's earlier requests learned of its client certificate: a gateway keeps its connection for many
 * requests (keep-alive), and verifying the chain again for each costs a signature verification. The result holds
 * for the same certificate (a TLS 1.2 renegotiation may bring another) and for VERIFIED_CACHE_USEC (so that a
 * certificate expiring while its connection lives is noticed). */
#define VERIFIED_CACHE_USEC (60 * 1000000u)

struct conn_ctx {
        uint8_t *der; /* the client certificate verified */
        size_t der_size;
        uint64_t verified_at; /* monotonic */
        char fingerprint[65];
        /* the gateway it was issued to, as the store said at owner_generation (vf_store_generation) */
        bool has_owner;
        uint64_t owner_generation;
        char owner_fingerprint[65];
        char owner[65];
};

static void conn_ctx_free(struct conn_ctx *c)
{
        if (!c)
                return;
        free(c->der);
        free(c);
}

static void notify_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
                              enum MHD_ConnectionNotificationCode code)
{
        gnutls_session_t s;

        (void)cls;
        if (code == MHD_CONNECTION_NOTIFY_CLOSED) {
                conn_ctx_free(*socket_context);
                *socket_context = NULL;
                return;
        }
        if (code != MHD_CONNECTION_NOTIFY_STARTED)
                return;
        *socket_context = calloc(1, sizeof(struct conn_ctx)); /* NULL (out of memory): nothing is cached */
        s = tls_session(conn);
        if (s)
                gnutls_session_set_verify_function(s, verify_in_handshake);
}

static struct conn_ctx *conn_ctx(struct MHD_Connection *conn)
{
        const union MHD_ConnectionInfo *ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);

        return ci ? ci->socket_context : NULL;
}

/* The SHA-256 of the verified client certificate: -ENOKEY when there is none, -EPERM when it does not verify. */
static int client_fingerprint(struct MHD_Connection *conn, char ret_hex[static 65])
{
        gnutls_session_t s = tls_session(conn);
        struct conn_ctx *c = conn_ctx(conn);
        const gnutls_datum_t *certs;
        uint8_t digest[SHA256_DIGEST_LENGTH];
        unsigned n = 0, status = 0;
        uint64_t now = vf_monotonic_usec();

        if (!s)
                return -ENOKEY;
        certs = gnutls_certificate_get_peers(s, &n);
        if (!certs || n == 0)
                return -ENOKEY;
        if (c && c->der && c->der_size == certs[0].size && memcmp(c->der, certs[0].data, c->der_size) == 0 &&
            now - c->verified_at < VERIFIED_CACHE_USEC) {
                memcpy(ret_hex, c->fingerprint, sizeof(c->fingerprint));
                return 0;
        }
        if (verify_client_chain(s, &status) < 0 || status != 0)
                return -EPERM;
        SHA256(certs[0].data, certs[0].size, digest);
        dw_hex_encode(digest, sizeof(digest), ret_hex);
        if (c) {
                uint8_t *der = malloc(certs[0].size);

                if (der) {
                        memcpy(der, certs[0].data, certs[0].size);
                        free(c->der);
                        c->der = der;
                        c->der_size = certs[0].size;
                        c->verified_at = now;
                        memcpy(c->fingerprint, ret_hex, sizeof(c->fingerprint));
                }
        }
        return 0;
}

/* ---- authentication ------------------------------------------------------------------------------------------ */

static bool token_equal(const char *given, const char *expected)
{
        size_t n = strlen(expected);

        return strlen(given) == n && vf_memeq_const(given, expected, n);
}

/* The bearer token of the Authorization header, or NULL. */
static const char *bearer(struct vf_request *rq)
{
        const char *h = vf_request_header(rq, "Authorization");

        if (!h || strncasecmp(h, "Bearer ", 7) != 0)
                return NULL;
        h += 7;
        while (*h == ' ')
                h++;
        return h;
}

static enum MHD_Result auth_bearer(struct vf_request *rq, const char *a, const char *b, bool *ok)
{
        const char *t = bearer(rq);

        *ok = false;
        if (!t)
                return vf_reply_error(rq, 401, "bearer-token-required",
                                      "this endpoint needs 'Authorization: Bearer <token>'");
        if ((a && token_equal(t, a)) || (b && token_equal(t, b))) {
                *ok = true;
                return MHD_YES;
        }
        return vf_reply_error(rq, 403, "bearer-token-invalid", "the bearer token is not valid for this endpoint");
}

/* The gateway a verified client certificate belongs to: remembered for the connection while the store's gateways
 * and enrollments do not change. */
static int certificate_owner(struct vf_request *rq, const char *fp, char ret_owner[static 65])
{
        struct conn_ctx *c = conn_ctx(rq->conn);
        uint64_t generation = vf_store_generation(rq->v->store);
        int r;

        if (c && c->has_owner && c->owner_generation == generation && strcmp(c->owner_fingerprint, fp) == 0) {
                memcpy(ret_owner, c->owner, sizeof(c->owner));
                return 0;
        }
        r = vf_store_gateway_by_fingerprint(rq->v->store, fp, ret_owner);
        if (r < 0 || !c)
                return r;
        c->has_owner = true;
        c->owner_generation = generation;
        memcpy(c->owner_fingerprint, fp, sizeof(c->owner_fingerprint));
        memcpy(c->owner, ret_owner, sizeof(c->owner));
        return 0;
}

static enum MHD_Result auth_gateway(struct vf_request *rq, bool *ok)
{
        char fp[65], owner[65];
        int r;

        *ok = false;
        r = client_fingerprint(rq->conn, fp);
        if (r == -ENOKEY)
                return vf_reply_error(rq, 401, "client-certificate-required",
                                      "this endpoint needs the TLS client certificate issued at enrollment");
        if (r < 0)
                return vf_reply_error(rq, 403, "client-certificate-invalid",
                                      "the TLS client certificate does not verify");
        r = certificate_owner(rq, fp, owner);
        if (r == -ENOENT)
                return vf_reply_error(rq, 403, "client-certificate-unknown",
                                      "the TLS client certificate is not the current one of any gateway");
        if (r < 0)
                return vf_reply_error(rq, 500, "internal-error", "database error");
        if (strcmp(owner, rq->params[0]) != 0)
                return vf_reply_error(rq, 403, "client-certificate-mismatch",
                                      "the TLS client certificate belongs to another gateway");
        *ok = true;
        return MHD_YES;
}

static enum MHD_Result authenticate(struct vf_request *rq, bool *ok)
{
        struct verifier *v = rq->v;

        switch (rq->route->auth) {
        case VF_AUTH_NONE:
                *ok = true;
                return MHD_YES;
        case VF_AUTH_ENROLL:
                if (!v->enrollment_token) {
                        *ok = true;
                        return MHD_YES;
                }
                return auth_bearer(rq, v->enrollment_token, NULL, ok);
        case VF_AUTH_GATEWAY:
                return auth_gateway(rq, ok);
        case VF_AUTH_READ:
                return auth_bearer(rq, v->admin_token, v->read_token, ok);
        case VF_AUTH_ADMIN:
                return auth_bearer(rq, v->admin_token, NULL, ok);
        }
        *ok = false;
        return MHD_NO;
}

/* ---- routing ------------------------------------------------------------------------------------------------- */

/* Whether path matches pattern; the {} segments go into params (copies). */
static bool route_match(const char *pattern, const char *path, char **params, size_t *n_params)
{
        size_t n = 0;

        while (*pattern != '\0' || *path != '\0') {
                const char *pe, *se;

                if (*pattern != '/' || *path != '/')
                        goto no;
                pe = strchrnul(pattern + 1, '/');
                se = strchrnul(path + 1, '/');
                if (pe - pattern == 3 && strncmp(pattern, "/{}", 3) == 0) {
                        if (se == path + 1 || n == VF_PARAMS_MAX)
                                goto no;
                        params[n] = strndup(path + 1, (size_t)(se - path - 1));
                        if (!params[n])
                                goto no;
                        n++;
                } else if (pe - pattern != se - path || strncmp(pattern, path, (size_t)(pe - pattern)) != 0)
                        goto no;
                pattern = pe;
                path = se;
        }
        *n_params = n;
        return true;
no:
        for (size_t i = 0; i < n; i++)
                free(params[i]);
        return false;
}

static void route_find(struct vf_http *h, struct vf_request *rq)
{
        bool path_known = false;

        for (size_t i = 0; i < h->n_routes; i++) {
                char *params[VF_PARAMS_MAX];
                size_t n;

                if (!route_match(h->routes[i].pattern, rq->path, params, &n))
                        continue;
                if (strcmp(h->routes[i].method, rq->method) != 0) {
                        path_known = true;
                        for (size_t k = 0; k < n; k++)
                                free(params[k]);
                        continue;
                }
                rq->route = &h->routes[i];
                memcpy(rq->params, params, n * sizeof(char *));
                rq->n_params = n;
                return;
        }
        rq->route_error = path_known ? 405 : 404;
}

/* ---- suspended connections ---------------------------------------------------------------------------------- */

static void suspension_deadline(struct vf_timer *t)
{
        vf_resume(t->userdata);
}

void vf_suspend(struct vf_suspension *s, uint64_t deadline)
{
        atomic_store(&s->suspended, true);
        MHD_suspend_connection(s->conn);
        if (deadline == 0)
                return;
        s->timer.fn = suspension_deadline;
        s->timer.userdata = s;
        if (vf_timer_arm(s->timers, &s->timer, deadline) < 0)
                vf_resume(s); /* no timer: answer now rather than never */
}

void vf_resume(struct vf_suspension *s)
{
        if (atomic_exchange(&s->suspended, false))
                MHD_resume_connection(s->conn);
}

void vf_suspension_done(struct vf_suspension *s)
{
        if (s->timers)
                vf_timer_disarm(s->timers, &s->timer);
}

enum MHD_Result vf_request_suspend(struct vf_request *rq, uint64_t deadline, vf_handler on_resume)
{
        rq->on_resume = on_resume;
        vf_suspend(&rq->susp, deadline);
        return MHD_YES;
}

/* ---- the request cycle --------------------------------------------------------------------------------------- */

static void request_free(struct vf_request *rq)
{
        for (size_t i = 0; i < rq->n_params; i++)
                free(rq->params[i]);
        free(rq->path);
        free(rq->body);
        json_decref(rq->log);
        free(rq);
}

static struct vf_request *request_new(struct vf_http *h, struct MHD_Connection *conn, const char *url,
                                      const char *method)
{
        struct vf_request *rq = calloc(1, sizeof(*rq));

        if (!rq)
                return NULL;
        rq->v = h->v;
        rq->conn = conn;
        rq->susp.conn = conn;
        rq->susp.timers = h->v->timers;
        rq->method = method;
        rq->start_usec = vf_monotonic_usec();
        rq->path = strdup(url);
        if (!rq->path) {
                free(rq);
                return NULL;
        }
        route_find(h, rq);
        rq->body_limit = rq->route && rq->route->large_body ? h->v->cfg->max_request_size : VF_SMALL_BODY_MAX;
        return rq;
}

/* ---- request size limits ------------------------------------------------------------------------------------
 *
 * libmicrohttpd keeps a request's line and headers in the connection's memory pool and answers what does not fit
 * there itself, with an HTML 431 (or 414). The pool (CONNECTION_MEMORY) is larger than VF_HEADERS_MAX, so that
 * everything between the two reaches us and gets a JSON error like every other refusal; only requests whose headers
 * exceed the pool still get libmicrohttpd's own answer. */
#define CONNECTION_MEMORY (24u * 1024)

static enum MHD_Result header_size_add(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
        size_t *total = cls;

        (void)kind;
        *total += strlen(key) + (value ? strlen(value) : 0) + 4; /* "key: value\r\n" */
        return MHD_YES;
}

/* Answers early a request whose URL or headers are larger than VF_HEADERS_MAX (true, *ret set). */
static bool headers_too_large(struct vf_request *rq, enum MHD_Result *ret)
{
        size_t total = strlen(rq->method) + strlen(rq->path) + 11; /* "METHOD PATH HTTP/1.1\r\n" */

        MHD_get_connection_values(rq->conn, MHD_GET_ARGUMENT_KIND, header_size_add, &total); /* "?key=value&" */
        if (total > VF_HEADERS_MAX) {
                *ret = vf_reply_error(rq, 414, "uri-too-long", "the request's URL exceeds %u bytes", VF_HEADERS_MAX);
                return true;
        }
        MHD_get_connection_values(rq->conn, MHD_HEADER_KIND, header_size_add, &total);
        if (total <= VF_HEADERS_MAX)
                return false;
        *ret = vf_reply_error(rq, 431, "headers-too-large", "the request's line and headers exceed %u bytes",
                              VF_HEADERS_MAX);
        return true;
}

/* Content-Length larger than the limit: refused before reading the body. */
static bool declared_too_large(struct vf_request *rq)
{
        const char *cl = vf_request_header(rq, "Content-Length");
        uint64_t n;

        return cl && vf_parse_uint(cl, UINT64_MAX, &n) == 0 && n > rq->body_limit;
}

static int body_append(struct vf_request *rq, const char *data, size_t size)
{
        if (rq->too_large)
                return 0;
        if (size > rq->body_limit - rq->body_size) {
                rq->too_large = true;
                free(rq->body);
                rq->body = NULL;
                rq->body_size = rq->body_allocated = 0;
                return 0;
        }
        if (rq->body_size + size + 1 > rq->body_allocated) {
                size_t want = MAX(rq->body_allocated * 2, rq->body_size + size + 1);
                uint8_t *p = realloc(rq->body, want);

                if (!p)
                        return -ENOMEM;
                rq->body = p;
                rq->body_allocated = want;
        }
        memcpy(rq->body + rq->body_size, data, size);
        rq->body_size += size;
        rq->body[rq->body_size] = 0;
        return 0;
}

static enum MHD_Result dispatch(struct vf_request *rq)
{
        enum MHD_Result r;
        bool ok;

        if (rq->too_large)
                return vf_reply_error(rq, 413, "body-too-large", "the request body exceeds %" PRIu64 " bytes",
                                      rq->body_limit);
        if (rq->route_error == 404)
                return vf_reply_error(rq, 404, "not-found", "no such endpoint: %s", rq->path);
        if (rq->route_error == 405)
                return vf_reply_error(rq, 405, "method-not-allowed", "%s is not allowed on %s", rq->method, rq->path);
        for (size_t i = 0; i < rq->n_params; i++)
                if (!vf_name_is_valid(rq->params[i]))
                        return vf_reply_error(rq, 400, "invalid-name",
                                              "'%.64s' is not a valid name (1-64 of A-Z a-z 0-9 . _ -, not "
                                              "starting with . or -)",
                                              rq->params[i]);
        r = authenticate(rq, &ok);
        if (!ok)
                return r;
        return rq->route->handler(rq);
}

static enum MHD_Result access_handler(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
                                      const char *version, const char *upload_data, size_t *upload_data_size,
                                      void **con_cls)
{
        struct vf_http *h = cls;
        struct vf_request *rq = *con_cls;

        (void)version;
        if (rq && rq->on_resume) {
                /* Resumed after vf_request_suspend. */
                vf_handler resume = rq->on_resume;

                rq->on_resume = NULL;
                vf_timer_disarm(h->v->timers, &rq->susp.timer);
                return resume(rq);
        }
        if (!rq) {
                enum MHD_Result r;

                rq = request_new(h, conn, url, method);
                if (!rq)
                        return MHD_NO;
                *con_cls = rq;
                if (headers_too_large(rq, &r))
                        return r;
                if (declared_too_large(rq))
                        return vf_reply_error(rq, 413, "body-too-large",
                                              "the declared request body exceeds %" PRIu64 " bytes", rq->body_limit);
                return MHD_YES;
        }
        if (rq->status != 0) {
                /* Answered early (declared too large): discard what still arrives. */
                *upload_data_size = 0;
                return MHD_YES;
        }
        if (*upload_data_size > 0) {
                if (body_append(rq, upload_data, *upload_data_size) < 0)
                        return MHD_NO;
                *upload_data_size = 0;
                return MHD_YES;
        }
        return dispatch(rq);
}

static json_t *client_address(struct MHD_Connection *conn)
{
        const union MHD_ConnectionInfo *ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
        char buf[INET6_ADDRSTRLEN] = "?";

        if (ci && ci->client_addr) {
                const struct sockaddr *sa = ci->client_addr;

                if (sa->sa_family == AF_INET)
                        inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, buf, sizeof(buf));
                else if (sa->sa_family == AF_INET6)
                        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, buf, sizeof(buf));
        }
        return json_string(buf);
}

static void request_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                              enum MHD_RequestTerminationCode toe)
{
        struct vf_http *h = cls;
        struct vf_request *rq = *con_cls;
        json_t *fields;

        if (!rq)
                return;
        *con_cls = NULL;
        vf_suspension_done(&rq->susp);
        if (rq->on_done)
                rq->on_done(rq, toe == MHD_REQUEST_TERMINATED_COMPLETED_OK);
        vf_metrics_request(h->v->metrics, rq->status);
        fields = json_pack("{s:s, s:s, s:i, s:f, s:o, s:I}", "method", rq->method, "path", rq->path, "status",
                           (int)rq->status, "ms", (double)(vf_monotonic_usec() - rq->start_usec) / 1000.0, "client",
                           client_address(conn), "bytes_in", (json_int_t)rq->body_size);
        if (fields && rq->error[0])
                json_object_set_new(fields, "error", json_string(rq->error));
        if (fields && toe != MHD_REQUEST_TERMINATED_COMPLETED_OK)
                json_object_set_new(fields, "terminated", json_integer(toe));
        if (fields && rq->log)
                json_object_update(fields, rq->log);
        vf_log_json(rq->status >= 500 ? VF_LOG_ERROR : VF_LOG_INFO, "request", fields);
        request_free(rq);
}

static void mhd_logger(void *cls, const char *fmt, va_list ap)
{
        char msg[512];
        size_t n;

        (void)cls;
        vsnprintf(msg, sizeof(msg), fmt, ap);
        n = strlen(msg);
        while (n > 0 && isspace((unsigned char)msg[n - 1]))
                msg[--n] = '\0';
        vf_log(VF_LOG_DEBUG, "http", "%s", msg);
}

/* ---- start and stop ------------------------------------------------------------------------------------------ */

static int listen_address(const char *text, uint16_t port, struct sockaddr_storage *ret, bool *ret_ipv6)
{
        struct sockaddr_in *in = (struct sockaddr_in *)ret;
        struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ret;

        *ret = (struct sockaddr_storage){};
        if (inet_pton(AF_INET, text, &in->sin_addr) == 1) {
                in->sin_family = AF_INET;
                in->sin_port = htons(port);
                *ret_ipv6 = false;
                return 0;
        }
        if (inet_pton(AF_INET6, text, &in6->sin6_addr) == 1) {
                in6->sin6_family = AF_INET6;
                in6->sin6_port = htons(port);
                *ret_ipv6 = true;
                return 0;
        }
        return -EINVAL;
}

int vf_http_start(struct verifier *v, const struct vf_route *routes, size_t n_routes, struct vf_http **ret,
                  uint16_t *ret_port, char *msg, size_t msg_size)
{
        const struct vf_config *cfg = v->cfg;
        struct sockaddr_storage addr;
        const union MHD_DaemonInfo *info;
        struct vf_http *h;
        unsigned flags;
        bool ipv6;

        if (listen_address(cfg->listen_address, (uint16_t)cfg->port, &addr, &ipv6) < 0) {
                snprintf(msg, msg_size, "listen_address '%s' is not an IPv4 or IPv6 address", cfg->listen_address);
                return -EINVAL;
        }
        h = calloc(1, sizeof(*h));
        if (!h)
                return -ENOMEM;
        h->v = v;
        h->routes = routes;
        h->n_routes = n_routes;
        /* Event-driven: http_threads threads, each with its own epoll set and its share of the connections; a
         * waiting request suspends its connection instead of holding a thread. */
        flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_TLS |
                MHD_USE_ERROR_LOG | (ipv6 ? MHD_USE_DUAL_STACK : 0);
        h->daemon = MHD_start_daemon(
                flags, 0, NULL, NULL, access_handler, h, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr,
                MHD_OPTION_HTTPS_MEM_KEY, vf_pki_server_key_pem(v->pki), MHD_OPTION_HTTPS_MEM_CERT,
                vf_pki_server_cert_pem(v->pki), MHD_OPTION_HTTPS_MEM_TRUST, vf_pki_ca_pem(v->pki),
                MHD_OPTION_HTTPS_PRIORITIES, "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2", MHD_OPTION_THREAD_POOL_SIZE,
                (unsigned)cfg->http_threads, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)cfg->connection_timeout,
                MHD_OPTION_CONNECTION_LIMIT, (unsigned)cfg->max_connections, MHD_OPTION_CONNECTION_MEMORY_LIMIT,
                (size_t)CONNECTION_MEMORY, MHD_OPTION_NOTIFY_COMPLETED, request_completed, h,
                MHD_OPTION_NOTIFY_CONNECTION, notify_connection, h, MHD_OPTION_EXTERNAL_LOGGER, mhd_logger, h,
                MHD_OPTION_END);
        if (!h->daemon) {
                snprintf(msg, msg_size, "cannot listen on %s port %" PRIu64 ": %s", cfg->listen_address, cfg->port,
                         strerror(errno ? errno : EADDRINUSE));
                free(h);
                return -EADDRINUSE;
        }
        info = MHD_get_daemon_info(h->daemon, MHD_DAEMON_INFO_BIND_PORT);
        *ret_port = info ? info->port : (uint16_t)cfg->port;
        *ret = h;
        return 0;
}

void vf_http_stop(struct vf_http *h)
{
        if (!h)
                return;
        MHD_stop_daemon(h->daemon);
        free(h);
}
