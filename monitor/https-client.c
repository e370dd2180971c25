/* SPDX-License-Identifier: MIT */
/* HTTP/1.1 over OpenSSL TLS to one server: see https-client.h. The socket is non-blocking and every wait is a poll()
 * bounded by the exchange's deadline, in slices short enough to notice the cancel flag. Writes go through a small
 * BIO that sends with MSG_NOSIGNAL, so a server that closed the connection is an error, never a SIGPIPE. */

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "http-parse.h"
#include "https-client.h"

#define HOST_MAX       255
#define POLL_SLICE_MS  250
#define READ_CHUNK     16384
#define DEFAULT_PORT   "443"
#define CONNECT_MS_DEF 5000L

struct mon_https {
        char host[HOST_MAX + 1]; /* without brackets */
        char port[8];
        char authority[HOST_MAX + 16]; /* the Host header: host, [v6], with :port unless 443 */
        char url[HOST_MAX + 32];       /* for messages */
        bool host_is_ip;
        char *ca_file;
        long connect_timeout_ms;
        const atomic_bool *cancel;

        SSL_CTX *ctx_anon; /* no client certificate */
        SSL_CTX *ctx_cert; /* with the identity below; NULL when none is set */
        bool use_cert;     /* which of the two the next connection uses */

        /* the connection */
        int fd;
        SSL *ssl;
        bool ssl_with_cert; /* made with ctx_cert */
        unsigned exchanges; /* on this connection */
};

/* ---- the BIO: a non-blocking socket, sends without SIGPIPE ---------------------------------------------------- */

static BIO_METHOD *nosig_method;
static CRYPTO_ONCE nosig_once = CRYPTO_ONCE_STATIC_INIT;

static int nosig_write(BIO *b, const char *data, int len)
{
        ssize_t n;

        BIO_clear_retry_flags(b);
        n = send(BIO_get_fd(b, NULL), data, (size_t)len, MSG_NOSIGNAL);
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
                BIO_set_retry_write(b);
        return (int)n;
}

static int nosig_read(BIO *b, char *data, int len)
{
        ssize_t n;

        BIO_clear_retry_flags(b);
        n = recv(BIO_get_fd(b, NULL), data, (size_t)len, 0);
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
                BIO_set_retry_read(b);
        return (int)n;
}

static long nosig_ctrl(BIO *b, int cmd, long num, void *ptr)
{
        switch (cmd) {
        case BIO_C_SET_FD:
                BIO_set_data(b, (void *)(intptr_t) * (int *)ptr);
                BIO_set_init(b, 1);
                (void)num;
                return 1;
        case BIO_C_GET_FD:
                if (ptr)
                        *(int *)ptr = (int)(intptr_t)BIO_get_data(b);
                return (int)(intptr_t)BIO_get_data(b);
        case BIO_CTRL_FLUSH:
                return 1;
        default:
                return 0;
        }
}

static void nosig_method_init(void)
{
        BIO_METHOD *m =
                BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK | BIO_TYPE_DESCRIPTOR, "driftwatch socket");

        if (m && BIO_meth_set_write(m, nosig_write) && BIO_meth_set_read(m, nosig_read) &&
            BIO_meth_set_ctrl(m, nosig_ctrl))
                nosig_method = m;
        else
                BIO_meth_free(m);
}

static BIO *nosig_bio_new(int fd)
{
        BIO *b;

        if (!CRYPTO_THREAD_run_once(&nosig_once, nosig_method_init) || !nosig_method)
                return NULL;
        b = BIO_new(nosig_method);
        if (b)
                BIO_set_fd(b, fd, BIO_NOCLOSE);
        return b;
}

/* ---- setup ---------------------------------------------------------------------------------------------------- */

static int url_parse(struct mon_https *h, const char *url, struct dw_error *err)
{
        const char *p = url + 8, *end, *port = NULL;
        size_t hostlen, portlen = 0;

        if (strncmp(url, "https://", 8) != 0)
                return dw_error_set(err, EINVAL, 0, 0, "verifier URL '%.80s': not https://HOST[:PORT]", url);
        if (*p == '[') {
                end = strchr(p, ']');
                if (!end)
                        return dw_error_set(err, EINVAL, 0, 0, "verifier URL '%.80s': no ']' after an IPv6 address",
                                            url);
                hostlen = (size_t)(end - p - 1);
                memcpy(h->host, p + 1, MIN(hostlen, (size_t)HOST_MAX));
                p = end + 1;
        } else {
                hostlen = strcspn(p, ":/");
                memcpy(h->host, p, MIN(hostlen, (size_t)HOST_MAX));
                p += hostlen;
        }
        if (hostlen == 0 || hostlen > HOST_MAX)
                return dw_error_set(err, EINVAL, 0, 0, "verifier URL '%.80s': no host, or a host too long", url);
        h->host[hostlen] = '\0';
        if (*p == ':') {
                port = ++p;
                portlen = strspn(p, "0123456789");
                p += portlen;
                if (portlen == 0 || portlen > 5 || atoi(port) == 0 || atoi(port) > 65535)
                        return dw_error_set(err, EINVAL, 0, 0, "verifier URL '%.80s': a bad port", url);
        }
        if (strspn(p, "/") != strlen(p))
                return dw_error_set(err, EINVAL, 0, 0, "verifier URL '%.80s': nothing may follow HOST[:PORT]", url);
        for (const char *c = h->host; *c; c++)
                if (*c <= 0x20 || *c >= 0x7f || strchr("@?#[]/\\", *c))
                        return dw_error_set(err, EINVAL, 0, 0, "verifier URL '%.80s': a bad character in the host",
                                            url);
        snprintf(h->port, sizeof(h->port), "%.*s", port ? (int)portlen : 3, port ? port : DEFAULT_PORT);

        struct in6_addr a6;
        struct in_addr a4;
        bool v6 = inet_pton(AF_INET6, h->host, &a6) == 1;

        h->host_is_ip = v6 || inet_pton(AF_INET, h->host, &a4) == 1;
        snprintf(h->authority, sizeof(h->authority), "%s%s%s%s%s", v6 ? "[" : "", h->host, v6 ? "]" : "",
                 strcmp(h->port, "443") != 0 ? ":" : "", strcmp(h->port, "443") != 0 ? h->port : "");
        snprintf(h->url, sizeof(h->url), "https://%s", h->authority);
        return 0;
}

/* The last OpenSSL error, for a message (no secrets in them: file names and reasons). */
static const char *ssl_reason(char *buf, size_t size)
{
        unsigned long e = ERR_peek_last_error();

        if (e == 0)
                return "unknown TLS error";
        ERR_error_string_n(e, buf, size);
        return buf;
}

static int ctx_new(const struct mon_https *h, SSL_CTX **ret, struct dw_error *err)
{
        SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
        char why[160];

        if (!ctx)
                return dw_error_set(err, ENOMEM, 0, 0, "cannot create a TLS context: %s", ssl_reason(why, sizeof(why)));
        if (!SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) ||
            SSL_CTX_load_verify_locations(ctx, h->ca_file, NULL) != 1) {
                ssl_reason(why, sizeof(why));
                SSL_CTX_free(ctx);
                return dw_error_set(err, EINVAL, 0, 0, "%s: cannot use it as the verifier's CA: %s", h->ca_file, why);
        }
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
        /* A server that closes without close_notify ends the stream; the framing (Content-Length, chunked) tells a
         * truncated answer from a complete one. */
        SSL_CTX_set_options(ctx, SSL_OP_IGNORE_UNEXPECTED_EOF | SSL_OP_NO_RENEGOTIATION);
        SSL_CTX_set_mode(ctx, SSL_MODE_AUTO_RETRY);
        *ret = ctx;
        return 0;
}

int mon_https_new(const char *url, const char *ca_file, long connect_timeout_ms, struct mon_https **ret,
                  struct dw_error *err)
{
        _cleanup_(mon_https_freep) struct mon_https *h = calloc(1, sizeof(*h));
        int r;

        if (!h)
                return dw_error_set(err, ENOMEM, 0, 0, "out of memory");
        h->fd = -EBADF;
        r = url_parse(h, url, err);
        if (r < 0)
                return r;
        h->ca_file = strdup(ca_file);
        if (!h->ca_file)
                return dw_error_set(err, ENOMEM, 0, 0, "out of memory");
        h->connect_timeout_ms = connect_timeout_ms > 0 ? connect_timeout_ms : CONNECT_MS_DEF;
        r = ctx_new(h, &h->ctx_anon, err);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(h);
        return 0;
}

void mon_https_disconnect(struct mon_https *h)
{
        if (h->ssl) {
                /* close_notify, best effort: the socket is non-blocking, so this never waits */
                (void)SSL_shutdown(h->ssl);
                SSL_free(h->ssl);
                h->ssl = NULL;
        }
        if (h->fd >= 0)
                close(h->fd);
        h->fd = -EBADF;
        h->exchanges = 0;
        ERR_clear_error();
}

void mon_https_free(struct mon_https *h)
{
        if (!h)
                return;
        mon_https_disconnect(h);
        SSL_CTX_free(h->ctx_anon);
        SSL_CTX_free(h->ctx_cert);
        free(h->ca_file);
        free(h);
}

void mon_https_set_cancel(struct mon_https *h, const atomic_bool *flag)
{
        h->cancel = flag;
}

int mon_https_set_identity(struct mon_https *h, const char *cert_file, const char *key_file, struct dw_error *err)
{
        SSL_CTX *ctx = NULL;
        char why[160];
        int r;

        if (!cert_file || !key_file) {
                h->use_cert = false;
                if (h->ssl && h->ssl_with_cert)
                        mon_https_disconnect(h);
                return 0;
        }
        r = ctx_new(h, &ctx, err);
        if (r < 0)
                return r;
        ERR_clear_error();
        if (SSL_CTX_use_certificate_chain_file(ctx, cert_file) != 1 ||
            SSL_CTX_use_PrivateKey_file(ctx, key_file, SSL_FILETYPE_PEM) != 1 || SSL_CTX_check_private_key(ctx) != 1) {
                ssl_reason(why, sizeof(why));
                SSL_CTX_free(ctx);
                ERR_clear_error();
                return dw_error_set(err, ENOKEY, 0, 0, "the TLS client certificate %s or its key %s cannot be used: %s",
                                    cert_file, key_file, why);
        }
        SSL_CTX_free(h->ctx_cert);
        h->ctx_cert = ctx;
        h->use_cert = true;
        if (h->ssl && h->ssl_with_cert)
                mon_https_disconnect(h); /* it presented the previous certificate */
        return 0;
}

void mon_https_use_identity(struct mon_https *h, bool use)
{
        h->use_cert = use && h->ctx_cert;
}

void mon_https_answer_done(struct mon_https_answer *a)
{
        free(a->body);
        *a = (struct mon_https_answer){};
}

/* ---- waiting -------------------------------------------------------------------------------------------------- */

static uint64_t now_ms(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* Waits until fd is ready for events, the deadline passes (-ETIMEDOUT) or the cancel flag is set (-ECANCELED). */
static int wait_fd(const struct mon_https *h, int fd, short events, uint64_t deadline)
{
        for (;;) {
                struct pollfd p = {.fd = fd, .events = events};
                uint64_t now = now_ms();
                int n;

                if (h->cancel && atomic_load(h->cancel))
                        return -ECANCELED;
                if (now >= deadline)
                        return -ETIMEDOUT;
                n = poll(&p, 1, (int)MIN(deadline - now, (uint64_t)POLL_SLICE_MS));
                if (n < 0 && errno != EINTR)
                        return -errno;
                if (n > 0)
                        return 0;
        }
}

/* After an SSL call returned ret <= 0: waits for what it needs (0: call again), or a negative errno. *eof is set
 * when the peer closed the connection. */
static int ssl_wait(const struct mon_https *h, int ret, uint64_t deadline, bool *eof)
{
        switch (SSL_get_error(h->ssl, ret)) {
        case SSL_ERROR_WANT_READ:
                return wait_fd(h, h->fd, POLLIN, deadline);
        case SSL_ERROR_WANT_WRITE:
                return wait_fd(h, h->fd, POLLOUT, deadline);
        case SSL_ERROR_ZERO_RETURN:
                *eof = true;
                return -ECONNRESET;
        case SSL_ERROR_SYSCALL:
                if (errno == 0 || errno == ECONNRESET || errno == EPIPE)
                        *eof = true;
                return errno == 0 ? -ECONNRESET : -errno;
        default:
                return -ECOMM;
        }
}

/* ---- connecting ----------------------------------------------------------------------------------------------- */

static int tcp_connect_one(const struct mon_https *h, const struct addrinfo *ai, uint64_t deadline, int *ret_fd)
{
        _cleanup_close_ int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
        socklen_t len = sizeof(int);
        int one = 1, soerr = 0, r;

        if (fd < 0)
                return -errno;
        (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        (void)setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
        if (connect(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
                if (errno != EINPROGRESS)
                        return -errno;
                r = wait_fd(h, fd, POLLOUT, deadline);
                if (r < 0)
                        return r;
                if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len) < 0)
                        return -errno;
                if (soerr != 0)
                        return -soerr;
        }
        *ret_fd = TAKE_FD(fd);
        return 0;
}

static int tcp_connect(struct mon_https *h, uint64_t deadline, struct dw_error *err)
{
        struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV | AI_ADDRCONFIG}, *ais = NULL;
        uint64_t connect_deadline = MIN(deadline, now_ms() + (uint64_t)h->connect_timeout_ms);
        int r = -EHOSTUNREACH, g;

        g = getaddrinfo(h->host, h->port, &hints, &ais);
        if (g != 0)
                return dw_error_set(err, EHOSTUNREACH, 0, 0, "%s: cannot resolve %s: %s", h->url, h->host,
                                    g == EAI_SYSTEM ? strerror(errno) : gai_strerror(g));
        for (const struct addrinfo *ai = ais; ai; ai = ai->ai_next) {
                r = tcp_connect_one(h, ai, connect_deadline, &h->fd);
                if (r == 0 || r == -ECANCELED || r == -ETIMEDOUT)
                        break;
        }
        freeaddrinfo(ais);
        if (r == -ECANCELED)
                return dw_error_set(err, ECANCELED, 0, 0, "%s: cancelled", h->url);
        if (r == -ETIMEDOUT)
                return dw_error_set(err, ETIMEDOUT, 0, 0, "%s: connection timed out after %ld ms", h->url,
                                    h->connect_timeout_ms);
        if (r < 0)
                return dw_error_set(err, r == -ECONNREFUSED || r == -ECONNRESET ? ECONNREFUSED : EHOSTUNREACH, 0, 0,
                                    "%s: cannot connect: %s", h->url, strerror(-r));
        return 0;
}

static int tls_handshake(struct mon_https *h, uint64_t deadline, struct dw_error *err)
{
        SSL_CTX *ctx = h->use_cert && h->ctx_cert ? h->ctx_cert : h->ctx_anon;
        BIO *bio;
        char why[160];
        bool eof = false;
        int r;

        ERR_clear_error();
        h->ssl = SSL_new(ctx);
        bio = nosig_bio_new(h->fd);
        if (!h->ssl || !bio) {
                BIO_free(bio);
                return dw_error_set(err, ENOMEM, 0, 0, "%s: cannot set up TLS", h->url);
        }
        SSL_set_bio(h->ssl, bio, bio);
        h->ssl_with_cert = ctx == h->ctx_cert;
        if (h->host_is_ip) {
                if (X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(h->ssl), h->host) != 1)
                        return dw_error_set(err, EINVAL, 0, 0, "%s: bad IP address", h->url);
        } else if (SSL_set1_host(h->ssl, h->host) != 1 || SSL_set_tlsext_host_name(h->ssl, h->host) != 1)
                return dw_error_set(err, EINVAL, 0, 0, "%s: bad host name", h->url);

        for (;;) {
                int ret = SSL_connect(h->ssl);

                if (ret == 1)
                        return 0;
                r = ssl_wait(h, ret, deadline, &eof);
                if (r == 0)
                        continue;
                if (r == -ETIMEDOUT || r == -ECANCELED)
                        return dw_error_set(err, -r, 0, 0, "%s: TLS handshake %s", h->url,
                                            r == -ETIMEDOUT ? "timed out" : "cancelled");
                if (SSL_get_verify_result(h->ssl) != X509_V_OK)
                        return dw_error_set(err, ECOMM, 0, 0, "%s: the server's certificate is refused: %s", h->url,
                                            X509_verify_cert_error_string(SSL_get_verify_result(h->ssl)));
                return dw_error_set(err, ECOMM, 0, 0, "%s: TLS handshake failed: %s", h->url,
                                    eof && ERR_peek_last_error() == 0 ? "the server closed the connection"
                                                                      : ssl_reason(why, sizeof(why)));
        }
}

static int connect_tls(struct mon_https *h, uint64_t deadline, struct dw_error *err)
{
        int r;

        mon_https_disconnect(h);
        r = tcp_connect(h, deadline, err);
        if (r >= 0)
                r = tls_handshake(h, deadline, err);
        if (r < 0)
                mon_https_disconnect(h);
        return r;
}

/* A kept-alive connection the server may have closed meanwhile: readable while idle means close_notify or EOF. */
static bool connection_usable(const struct mon_https *h)
{
        struct pollfd p = {.fd = h->fd, .events = POLLIN};

        if (!h->ssl || h->ssl_with_cert != (h->use_cert && h->ctx_cert))
                return false;
        return poll(&p, 1, 0) == 0 && SSL_pending(h->ssl) == 0;
}

/* ---- one exchange --------------------------------------------------------------------------------------------- */

struct inbuf {
        char *data;
        size_t size, allocated;
};

static int inbuf_reserve(struct inbuf *b, size_t more)
{
        if (b->allocated - b->size >= more)
                return 0;
        size_t want = MAX(b->allocated * 2, b->size + more);
        char *p = realloc(b->data, want + 1);

        if (!p)
                return -ENOMEM;
        b->data = p;
        b->allocated = want;
        return 0;
}

static int request_build(const struct mon_https *h, const struct mon_https_request *rq, struct inbuf *out)
{
        FILE *f;
        char *buf = NULL;
        size_t size = 0;

        f = open_memstream(&buf, &size);
        if (!f)
                return -ENOMEM;
        fprintf(f, "%s %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: driftwatch-monitor\r\n", rq->method, rq->path,
                h->authority);
        for (size_t i = 0; i < rq->n_headers; i++)
                fprintf(f, "%s\r\n", rq->headers[i]);
        if (rq->body)
                fprintf(f, "Content-Length: %zu\r\n", rq->body_size);
        fputs("\r\n", f);
        if (fclose(f) != 0) {
                free(buf);
                return -ENOMEM;
        }
        out->data = buf;
        out->size = out->allocated = size;
        return 0;
}

static int ssl_write_all(struct mon_https *h, const char *data, size_t size, uint64_t deadline, bool *eof)
{
        while (size > 0) {
                size_t n = 0;
                int ret, r;

                ERR_clear_error();
                ret = SSL_write_ex(h->ssl, data, size, &n);
                if (ret == 1) {
                        data += n;
                        size -= n;
                        continue;
                }
                r = ssl_wait(h, ret, deadline, eof);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* Reads what is there (at least one byte) into b: the number of bytes, or a negative errno (*eof on close). */
static int ssl_read_some(struct mon_https *h, struct inbuf *b, uint64_t deadline, bool *eof)
{
        if (inbuf_reserve(b, READ_CHUNK) < 0)
                return -ENOMEM;
        for (;;) {
                size_t n = 0;
                int ret, r;

                ERR_clear_error();
                ret = SSL_read_ex(h->ssl, b->data + b->size, READ_CHUNK, &n);
                if (ret == 1) {
                        b->size += n;
                        return (int)n;
                }
                r = ssl_wait(h, ret, deadline, eof);
                if (r < 0)
                        return r;
        }
}

struct body_reader {
        const struct mon_http_head *head;
        bool has_body;
        struct mon_http_chunked chunked;
        struct inbuf body;
        size_t max;
};

/* Takes the bytes in[0..len) after the head. Returns 1 when the body is complete, 0 for more, or -EPROTO/-ENOMEM
 * (why says what). */
static int body_feed(struct body_reader *br, const char *in, size_t len, char why[static MON_HTTP_WHY_SIZE])
{
        size_t used, produced;
        int r;

        if (!br->has_body)
                return 1;
        if (len == 0)
                return br->head->content_length == (int64_t)br->body.size; /* 1: an empty body, complete */
        if (br->head->chunked) {
                if (inbuf_reserve(&br->body, len) < 0)
                        return -ENOMEM;
                r = mon_http_chunked_feed(&br->chunked, in, len, br->body.data + br->body.size, &used, &produced, why);
                if (r < 0)
                        return -EPROTO;
                br->body.size += produced;
                if (br->body.size > br->max)
                        return snprintf(why, MON_HTTP_WHY_SIZE, "the answer is larger than %zu bytes", br->max),
                               -EPROTO;
                return r;
        }
        if (br->head->content_length >= 0 && (uint64_t)br->head->content_length > br->max)
                return snprintf(why, MON_HTTP_WHY_SIZE, "the answer is larger than %zu bytes", br->max), -EPROTO;
        if (br->head->content_length >= 0)
                len = MIN(len, (size_t)br->head->content_length - br->body.size);
        if (br->body.size + len > br->max)
                return snprintf(why, MON_HTTP_WHY_SIZE, "the answer is larger than %zu bytes", br->max), -EPROTO;
        if (len > 0) {
                if (inbuf_reserve(&br->body, len) < 0)
                        return -ENOMEM;
                memcpy(br->body.data + br->body.size, in, len);
                br->body.size += len;
        }
        return br->head->content_length >= 0 && br->body.size == (size_t)br->head->content_length;
}

/* Reads the answer. *ended_early: the connection ended before any byte of it (the request may be sent again). */
static int answer_read(struct mon_https *h, const struct mon_https_request *rq, uint64_t deadline,
                       struct mon_https_answer *ret, bool *ended_early, struct dw_error *err)
{
        _cleanup_free_ char *raw_data = NULL;
        struct inbuf raw = {};
        struct mon_http_head head;
        struct body_reader br = {.head = &head, .max = rq->answer_max};
        char why[MON_HTTP_WHY_SIZE] = "";
        size_t parsed = 0;
        bool eof = false;
        int r;

        /* the head (skipping 1xx interim answers) */
        for (;;) {
                r = mon_http_head_parse(raw.data ? raw.data + parsed : "", raw.size - parsed, &head, why);
                if (r == 0 && head.status < 200) {
                        parsed += head.size;
                        continue;
                }
                if (r == 0)
                        break;
                if (r != -EAGAIN) {
                        raw_data = raw.data;
                        return dw_error_set(err, EPROTO, 0, 0, "%s %s%s: not an HTTP answer: %s", rq->method, h->url,
                                            rq->path, why);
                }
                r = ssl_read_some(h, &raw, deadline, &eof);
                raw_data = raw.data;
                if (r < 0) {
                        *ended_early = eof && raw.size == 0;
                        goto fail;
                }
        }
        parsed += head.size;
        br.has_body = mon_http_head_has_body(&head, rq->method);
        r = body_feed(&br, raw.data + parsed, raw.size - parsed, why);
        while (r == 0) {
                raw.size = 0;
                parsed = 0;
                r = ssl_read_some(h, &raw, deadline, &eof);
                raw_data = raw.data;
                if (r < 0) {
                        /* the end of the stream ends a body that has no length */
                        if (eof && !head.chunked && head.content_length < 0) {
                                head.close = true;
                                r = 1;
                                break;
                        }
                        goto fail;
                }
                r = body_feed(&br, raw.data, raw.size, why);
        }
        if (r < 0) {
                free(br.body.data);
                if (r == -ENOMEM)
                        return dw_error_set(err, ENOMEM, 0, 0, "out of memory");
                return dw_error_set(err, EPROTO, 0, 0, "%s %s%s: HTTP %d: %s", rq->method, h->url, rq->path,
                                    head.status, why);
        }
        if (head.close)
                mon_https_disconnect(h);
        if (br.body.data)
                br.body.data[br.body.size] = '\0';
        *ret = (struct mon_https_answer){.status = head.status, .body = br.body.data, .size = br.body.size};
        return 0;

fail:
        free(br.body.data);
        if (r == -ENOMEM)
                return dw_error_set(err, ENOMEM, 0, 0, "out of memory");
        if (r == -ETIMEDOUT || r == -ECANCELED)
                return dw_error_set(err, -r, 0, 0, "%s %s%s: %s", rq->method, h->url, rq->path,
                                    r == -ETIMEDOUT ? "no answer within the timeout" : "cancelled");
        return dw_error_set(err, ECOMM, 0, 0, "%s %s%s: the connection ended %s", rq->method, h->url, rq->path,
                            eof ? "before the whole answer arrived" : "with a TLS error");
}

static void inbuf_erase(struct inbuf *b)
{
        if (b->data) {
                OPENSSL_cleanse(b->data, b->size); /* header lines may hold a bearer token */
                free(b->data);
        }
}

int mon_https_exchange(struct mon_https *h, const struct mon_https_request *rq, struct mon_https_answer *ret,
                       struct dw_error *err)
{
        _cleanup_(inbuf_erase) struct inbuf request = {};
        uint64_t deadline = now_ms() + (uint64_t)MAX(rq->timeout_ms, 1L);
        int r;

        if (request_build(h, rq, &request) < 0)
                return dw_error_set(err, ENOMEM, 0, 0, "out of memory");
        for (unsigned attempt = 0;; attempt++) {
                bool reused = connection_usable(h), eof = false, ended_early = false;

                if (!reused) {
                        r = connect_tls(h, deadline, err);
                        if (r < 0)
                                return r;
                }
                r = ssl_write_all(h, request.data, request.size, deadline, &eof);
                if (r >= 0 && rq->body)
                        r = ssl_write_all(h, rq->body, rq->body_size, deadline, &eof);
                if (r < 0) {
                        mon_https_disconnect(h);
                        if (reused && attempt == 0 && r != -ETIMEDOUT && r != -ECANCELED)
                                continue; /* closed while idle: the server never saw the request */
                        if (r == -ETIMEDOUT || r == -ECANCELED)
                                return dw_error_set(err, -r, 0, 0, "%s %s%s: %s", rq->method, h->url, rq->path,
                                                    r == -ETIMEDOUT ? "timed out sending the request" : "cancelled");
                        return dw_error_set(err, ECOMM, 0, 0, "%s %s%s: cannot send the request: %s", rq->method,
                                            h->url, rq->path, strerror(-r));
                }
                r = answer_read(h, rq, deadline, ret, &ended_early, err);
                if (r < 0) {
                        mon_https_disconnect(h);
                        if (reused && attempt == 0 && ended_early)
                                continue;
                        return r;
                }
                h->exchanges++;
                return 0;
        }
}
