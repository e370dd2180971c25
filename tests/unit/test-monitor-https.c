/* SPDX-License-Identifier: MIT */
/* Tests of monitor/http-parse.c (response heads, the chunked coding: every refusal, any split of the input, random
 * bytes) and monitor/https-client.c against a TLS server run by the test (a CA and a server certificate made here):
 * Content-Length and chunked answers, keep-alive and a connection the server closed while idle, HTTP errors as
 * answers, a certificate from another CA, a name the certificate does not have, an answer too large, a server that
 * never answers (timeout), the cancel flag, nobody listening. */

#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "http-parse.h"
#include "https-client.h"

/* ---- response heads ------------------------------------------------------------------------------------------ */

static int head(const char *s, struct mon_http_head *h, char *why)
{
        return mon_http_head_parse(s, strlen(s), h, why);
}

START_TEST(test_head_valid)
{
        struct mon_http_head h;
        char why[MON_HTTP_WHY_SIZE];
        const char *s = "HTTP/1.1 409 Conflict\r\nContent-Type: application/json\r\ncontent-length:  17 \r\n\r\n{}";

        ck_assert_int_eq(head(s, &h, why), 0);
        ck_assert_int_eq(h.status, 409);
        ck_assert_int_eq(h.content_length, 17);
        ck_assert(!h.chunked && !h.close);
        ck_assert_uint_eq(h.size, strlen(s) - 2);

        ck_assert_int_eq(
                head("HTTP/1.1 200\r\nTransfer-Encoding: Chunked\r\nConnection: keep-alive, Close\r\n\r\n", &h, why),
                0);
        ck_assert(h.chunked && h.close);
        ck_assert_int_eq(h.content_length, -1);
        ck_assert_int_eq(head("HTTP/1.0 200 OK\r\n\r\n", &h, why), 0);
        ck_assert(h.close); /* HTTP/1.0 without keep-alive */
        ck_assert_int_eq(head("HTTP/1.0 200 OK\r\nConnection: keep-alive\r\n\r\n", &h, why), 0);
        ck_assert(!h.close);
        ck_assert_int_eq(head("HTTP/1.1 204 No Content\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n", &h, why), 0);
        ck_assert(!mon_http_head_has_body(&h, "GET"));
        ck_assert_int_eq(head("HTTP/1.1 200 OK\r\n\r\n", &h, why), 0);
        ck_assert(mon_http_head_has_body(&h, "GET"));
        ck_assert(!mon_http_head_has_body(&h, "HEAD"));
}
END_TEST

START_TEST(test_head_incomplete)
{
        const char *s = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n";
        struct mon_http_head h;
        char why[MON_HTTP_WHY_SIZE];

        for (size_t n = 0; n < strlen(s); n++)
                ck_assert_int_eq(mon_http_head_parse(s, n, &h, why), -EAGAIN);
        ck_assert_int_eq(mon_http_head_parse(s, strlen(s), &h, why), 0);
}
END_TEST

START_TEST(test_head_refused)
{
        static const struct {
                const char *text, *why;
        } cases[] = {
                {"HTTP/2 200\r\n\r\n", "not an HTTP/1.x status line"},
                {"ICY 200 OK\r\n\r\n", "not an HTTP/1.x status line"},
                {"HTTP/1.1 2x0 OK\r\n\r\n", "three digits"},
                {"HTTP/1.1 099 OK\r\n\r\n", "out of range"},
                {"HTTP/1.1 200OK\r\n\r\n", "no space"},
                {"HTTP/1.1 200 O\x01K\r\n\r\n", "control character in the reason"},
                {"HTTP/1.1 200 OK\n\r\n", "not ended by CRLF"},
                {"HTTP/1.1 200 OK\r\nA: b\rc\r\n\r\n", "bare CR"},
                {"HTTP/1.1 200 OK\r\n folded: x\r\n\r\n", "folded"},
                {"HTTP/1.1 200 OK\r\nno colon\r\n\r\n", "without a name"},
                {"HTTP/1.1 200 OK\r\n: x\r\n\r\n", "without a name"},
                {"HTTP/1.1 200 OK\r\nBad Name: x\r\n\r\n", "token set"},
                {"HTTP/1.1 200 OK\r\nX: a\x7f\r\n\r\n", "control character in the value"},
                {"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", "not a number"},
                {"HTTP/1.1 200 OK\r\nContent-Length: 1 2\r\n\r\n", "not a number"},
                {"HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999\r\n\r\n", "not a number"},
                {"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", "two different"},
                {"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", "unsupported Transfer-Encoding"},
                {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n",
                 "unsupported Transfer-Encoding"},
                {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n", "both"},
        };
        struct mon_http_head h;
        char why[MON_HTTP_WHY_SIZE];

        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                why[0] = '\0';
                ck_assert_msg(head(cases[i].text, &h, why) == -EBADMSG, "case %zu accepted", i);
                ck_assert_msg(strstr(why, cases[i].why), "case %zu: '%s' lacks '%s'", i, why, cases[i].why);
        }
}
END_TEST

START_TEST(test_head_too_large)
{
        size_t n = MON_HTTP_HEAD_MAX + 100;
        char *s = malloc(n), why[MON_HTTP_WHY_SIZE];
        struct mon_http_head h;

        ck_assert_ptr_nonnull(s);
        memcpy(s, "HTTP/1.1 200 OK\r\nX: ", 20);
        memset(s + 20, 'a', n - 20);
        ck_assert_int_eq(mon_http_head_parse(s, MON_HTTP_HEAD_MAX - 1, &h, why), -EAGAIN);
        ck_assert_int_eq(mon_http_head_parse(s, n, &h, why), -EBADMSG);
        ck_assert(strstr(why, "larger than"));
        free(s);
}
END_TEST

/* ---- chunked ------------------------------------------------------------------------------------------------- */

/* Decodes in pieces of `step` bytes; returns the result of the last call, the body in out. */
static int chunked_in_steps(const char *in, size_t len, size_t step, char *out, size_t *ret_out, size_t *ret_used,
                            char *why)
{
        struct mon_http_chunked c = {};
        size_t pos = 0, produced_all = 0;
        int r = 0;

        while (pos < len) {
                size_t n = MIN(step, len - pos), used, produced;
                char buf[64];

                memcpy(buf, in + pos, n);
                r = mon_http_chunked_feed(&c, buf, n, buf, &used, &produced, why);
                if (r < 0)
                        return r;
                memcpy(out + produced_all, buf, produced);
                produced_all += produced;
                pos += used;
                if (r == 1)
                        break;
        }
        *ret_out = produced_all;
        *ret_used = pos;
        return r;
}

START_TEST(test_chunked_valid)
{
        const char *s = "5\r\nhello\r\n1;ext=\"a b\"\r\n,\r\nA \r\n0123456789\r\n0\r\nTrailer: x\r\n\r\nNEXT";
        char out[64], why[MON_HTTP_WHY_SIZE];

        for (size_t step = 1; step <= 40; step++) {
                size_t n, used;

                ck_assert_int_eq(chunked_in_steps(s, strlen(s), step, out, &n, &used, why), 1);
                ck_assert_uint_eq(n, 16);
                ck_assert(memcmp(out, "hello,0123456789", 16) == 0);
                ck_assert_uint_eq(used, strlen(s) - 4); /* NEXT is not the body's */
        }
}
END_TEST

START_TEST(test_chunked_refused)
{
        static const struct {
                const char *text, *why;
        } cases[] = {
                {"x\r\n", "not hexadecimal"},
                {"5x\r\n", "followed by"},
                {"5\n", "followed by"},
                {"5\r\nhello!\r\n", "longer than its size"},
                {"5\r\nhello\rX", "not followed by CRLF"},
                {"1000000000000\r\n", "larger than"},
                {"0\r\nX\x01\r\n", "malformed trailer"},
                {"0\r\n\rX", "not ended by CRLF"},
                {"1;a\x01\r\n", "control character"},
        };
        char out[64], why[MON_HTTP_WHY_SIZE];

        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                size_t n, used;

                why[0] = '\0';
                ck_assert_msg(chunked_in_steps(cases[i].text, strlen(cases[i].text), 64, out, &n, &used, why) ==
                                      -EBADMSG,
                              "case %zu accepted", i);
                ck_assert_msg(strstr(why, cases[i].why), "case %zu: '%s' lacks '%s'", i, why, cases[i].why);
        }
}
END_TEST

/* Random bytes, and random mutations of valid input: never a crash (ASan/UBSan builds), never more output than
 * input. */
START_TEST(test_random)
{
        const char *seed_head = "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nConnection: close\r\n\r\n";
        const char *seed_chunked = "5\r\nhello\r\n0\r\n\r\n";
        unsigned state = 12345;
        char buf[256], out[256], why[MON_HTTP_WHY_SIZE];

        for (int i = 0; i < 200000; i++) {
                const char *seed = i & 1 ? seed_head : seed_chunked;
                size_t len = strlen(seed), used, produced;
                struct mon_http_chunked c = {};
                struct mon_http_head h;

                memcpy(buf, seed, len);
                for (int k = 0; k < 1 + i % 4; k++) {
                        state = state * 1103515245u + 12345u;
                        buf[(state >> 8) % len] = (char)(state >> 16);
                }
                if (i % 7 == 0) {
                        len = (state >> 4) % sizeof(buf);
                        for (size_t k = 0; k < len; k++)
                                buf[k] = (char)((state = state * 1103515245u + 12345u) >> 16);
                }
                (void)mon_http_head_parse(buf, len, &h, why);
                if (mon_http_chunked_feed(&c, buf, len, out, &used, &produced, why) >= 0)
                        ck_assert(used <= len && produced <= used);
        }
}
END_TEST

/* ---- a TLS server ---------------------------------------------------------------------------------------------- */

static EVP_PKEY *key_new(void)
{
        return EVP_EC_gen("P-256");
}

static X509 *cert_new(EVP_PKEY *key, const char *cn, X509 *issuer, EVP_PKEY *issuer_key, const char *san)
{
        X509 *x = X509_new();
        X509_NAME *name = X509_NAME_new();
        X509V3_CTX v3;
        X509_EXTENSION *ext;

        ck_assert_ptr_nonnull(x);
        X509_set_version(x, 2);
        ASN1_INTEGER_set(X509_get_serialNumber(x), (long)random());
        X509_gmtime_adj(X509_getm_notBefore(x), -3600);
        X509_gmtime_adj(X509_getm_notAfter(x), 3600);
        X509_set_pubkey(x, key);
        X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0);
        X509_set_subject_name(x, name);
        X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer) : name);
        X509V3_set_ctx(&v3, issuer ? issuer : x, x, NULL, NULL, 0);
        ext = X509V3_EXT_conf_nid(NULL, &v3, NID_basic_constraints, san ? "critical,CA:FALSE" : "critical,CA:TRUE");
        X509_add_ext(x, ext, -1);
        X509_EXTENSION_free(ext);
        if (san) {
                ext = X509V3_EXT_conf_nid(NULL, &v3, NID_subject_alt_name, san);
                X509_add_ext(x, ext, -1);
                X509_EXTENSION_free(ext);
        }
        ck_assert(X509_sign(x, issuer_key ? issuer_key : key, EVP_sha256()) > 0);
        X509_NAME_free(name);
        return x;
}

static void pem_write(const char *path, X509 *x)
{
        FILE *f = fopen(path, "w");

        ck_assert_ptr_nonnull(f);
        PEM_write_X509(f, x);
        fclose(f);
}

struct server {
        SSL_CTX *ctx;
        int listen_fd;
        int port;
        pthread_t thread;
        char ca_file[64], other_ca_file[64];
        int connections; /* accepted */
};

static struct server srv;

/* Reads one request (head, and a Content-Length body); its path in path. Returns 1, or 0 at the end. */
static int server_read_request(SSL *ssl, char *path, size_t size)
{
        char buf[8192];
        size_t len = 0;
        char *end, *cl;
        long body;

        for (;;) {
                int n = SSL_read(ssl, buf + len, (int)(sizeof(buf) - 1 - len));

                if (n <= 0)
                        return 0;
                len += (size_t)n;
                buf[len] = '\0';
                end = strstr(buf, "\r\n\r\n");
                if (end)
                        break;
        }
        sscanf(buf, "%*s %63s", path);
        (void)size;
        cl = strcasestr(buf, "Content-Length:");
        body = cl ? atol(cl + 15) : 0;
        for (long have = (long)(len - (size_t)(end + 4 - buf)); have < body;) {
                int n = SSL_read(ssl, buf, sizeof(buf));

                if (n <= 0)
                        return 0;
                have += n;
        }
        return 1;
}

static void server_write(SSL *ssl, const char *s)
{
        SSL_write(ssl, s, (int)strlen(s));
}

static void *server_run(void *arg)
{
        (void)arg;
        for (;;) {
                int fd = accept(srv.listen_fd, NULL, NULL);
                SSL *ssl;
                char path[64];

                if (fd < 0)
                        return NULL;
                srv.connections++;
                ssl = SSL_new(srv.ctx);
                SSL_set_fd(ssl, fd);
                if (SSL_accept(ssl) == 1) {
                        while (server_read_request(ssl, path, sizeof(path))) {
                                if (strcmp(path, "/cl") == 0)
                                        server_write(ssl,
                                                     "HTTP/1.1 200 OK\r\nContent-Length: 12\r\n\r\n{\"ok\":true}\n");
                                else if (strcmp(path, "/error") == 0)
                                        server_write(ssl, "HTTP/1.1 409 Conflict\r\nContent-Length: 16\r\n\r\n"
                                                          "{\"error\":\"gap\"}\n");
                                else if (strcmp(path, "/chunked") == 0)
                                        server_write(ssl, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                                                          "6\r\n{\"ok\":\r\n6\r\ntrue}\n\r\n0\r\n\r\n");
                                else if (strcmp(path, "/close") == 0) {
                                        /* answers, then closes the connection while the client keeps it */
                                        server_write(ssl, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}");
                                        usleep(100000);
                                        break;
                                } else if (strcmp(path, "/big") == 0)
                                        server_write(ssl, "HTTP/1.1 200 OK\r\nContent-Length: 2000000\r\n\r\n{");
                                else if (strcmp(path, "/garbage") == 0)
                                        server_write(ssl, "SSH-2.0-OpenSSH\r\n\r\n");
                                else if (strcmp(path, "/silent") == 0)
                                        continue; /* never answers: the client times out or is cancelled */
                        }
                }
                SSL_shutdown(ssl);
                SSL_free(ssl);
                close(fd);
        }
}

static void server_start(void)
{
        EVP_PKEY *ca_key = key_new(), *other_key = key_new(), *srv_key = key_new();
        X509 *ca = cert_new(ca_key, "test CA", NULL, NULL, NULL);
        X509 *other = cert_new(other_key, "other CA", NULL, NULL, NULL);
        X509 *cert = cert_new(srv_key, "verifier", ca, ca_key, "IP:127.0.0.1");
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        socklen_t alen = sizeof(a);
        int one = 1;

        snprintf(srv.ca_file, sizeof(srv.ca_file), "/tmp/dw-https-ca-%d.pem", (int)getpid());
        snprintf(srv.other_ca_file, sizeof(srv.other_ca_file), "/tmp/dw-https-other-%d.pem", (int)getpid());
        pem_write(srv.ca_file, ca);
        pem_write(srv.other_ca_file, other);
        srv.ctx = SSL_CTX_new(TLS_server_method());
        ck_assert(SSL_CTX_use_certificate(srv.ctx, cert) == 1 && SSL_CTX_use_PrivateKey(srv.ctx, srv_key) == 1);
        srv.listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        setsockopt(srv.listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        ck_assert(bind(srv.listen_fd, (struct sockaddr *)&a, sizeof(a)) == 0 && listen(srv.listen_fd, 8) == 0);
        getsockname(srv.listen_fd, (struct sockaddr *)&a, &alen);
        srv.port = ntohs(a.sin_port);
        ck_assert(pthread_create(&srv.thread, NULL, server_run, NULL) == 0);
        X509_free(ca), X509_free(other), X509_free(cert);
        EVP_PKEY_free(ca_key), EVP_PKEY_free(other_key), EVP_PKEY_free(srv_key);
}

static void server_stop(void)
{
        shutdown(srv.listen_fd, SHUT_RDWR);
        close(srv.listen_fd);
        pthread_join(srv.thread, NULL);
        SSL_CTX_free(srv.ctx);
        unlink(srv.ca_file);
        unlink(srv.other_ca_file);
}

static struct mon_https *client(const char *host, const char *ca)
{
        struct mon_https *h = NULL;
        struct dw_error err = {};
        char url[96];

        snprintf(url, sizeof(url), "https://%s:%d/", host, srv.port);
        ck_assert_msg(mon_https_new(url, ca, 2000, &h, &err) == 0, "%s", err.msg);
        return h;
}

static int get(struct mon_https *h, const char *path, long timeout_ms, struct mon_https_answer *a, struct dw_error *e)
{
        const char *hdr[] = {"Accept: application/json"};
        const struct mon_https_request rq = {.method = "GET",
                                             .path = path,
                                             .headers = hdr,
                                             .n_headers = 1,
                                             .timeout_ms = timeout_ms,
                                             .answer_max = 1 << 20};

        return mon_https_exchange(h, &rq, a, e);
}

START_TEST(test_client_answers)
{
        _cleanup_(mon_https_freep) struct mon_https *h = client("127.0.0.1", srv.ca_file);
        struct mon_https_answer a = {};
        struct dw_error e = {};
        int before = srv.connections;

        ck_assert_msg(get(h, "/cl", 5000, &a, &e) == 0, "%s", e.msg);
        ck_assert_int_eq(a.status, 200);
        ck_assert_str_eq(a.body, "{\"ok\":true}\n");
        mon_https_answer_done(&a);

        ck_assert_msg(get(h, "/chunked", 5000, &a, &e) == 0, "%s", e.msg);
        ck_assert_str_eq(a.body, "{\"ok\":true}\n");
        mon_https_answer_done(&a);

        /* an HTTP error is an answer */
        ck_assert_msg(get(h, "/error", 5000, &a, &e) == 0, "%s", e.msg);
        ck_assert_int_eq(a.status, 409);
        ck_assert_str_eq(a.body, "{\"error\":\"gap\"}\n");
        mon_https_answer_done(&a);
        ck_assert_int_eq(srv.connections - before, 1); /* one connection, kept alive */

        /* POST with a body */
        const char *hdr[] = {"Content-Type: application/json"};
        const struct mon_https_request rq = {.method = "POST",
                                             .path = "/cl",
                                             .headers = hdr,
                                             .n_headers = 1,
                                             .body = "{\"x\":1}",
                                             .body_size = 7,
                                             .timeout_ms = 5000,
                                             .answer_max = 1024};
        ck_assert_msg(mon_https_exchange(h, &rq, &a, &e) == 0, "%s", e.msg);
        ck_assert_int_eq(a.status, 200);
        mon_https_answer_done(&a);

        /* the server closes the kept connection: the next exchange opens a new one, transparently */
        ck_assert_msg(get(h, "/close", 5000, &a, &e) == 0, "%s", e.msg);
        mon_https_answer_done(&a);
        usleep(300000);
        ck_assert_msg(get(h, "/cl", 5000, &a, &e) == 0, "%s", e.msg);
        ck_assert_int_eq(a.status, 200);
        mon_https_answer_done(&a);
        ck_assert_int_eq(srv.connections - before, 2);
}
END_TEST

START_TEST(test_client_refusals)
{
        struct mon_https_answer a = {};
        struct dw_error e = {};
        atomic_bool cancel = true;

        {
                _cleanup_(mon_https_freep) struct mon_https *h = client("127.0.0.1", srv.other_ca_file);
                ck_assert_int_eq(get(h, "/cl", 5000, &a, &e), -ECOMM);
                ck_assert_msg(strstr(e.msg, "certificate is refused"), "%s", e.msg);
        }
        {
                /* the certificate is for 127.0.0.1 only */
                _cleanup_(mon_https_freep) struct mon_https *h = client("localhost", srv.ca_file);
                int r = get(h, "/cl", 5000, &a, &e);
                ck_assert_msg(r == -ECOMM || r == -EHOSTUNREACH || r == -ECONNREFUSED, "%d %s", r, e.msg);
                if (r == -ECOMM)
                        ck_assert_msg(strstr(e.msg, "hostname mismatch"), "%s", e.msg);
        }
        {
                _cleanup_(mon_https_freep) struct mon_https *h = client("127.0.0.1", srv.ca_file);
                ck_assert_int_eq(get(h, "/big", 5000, &a, &e), -EPROTO);
                ck_assert_msg(strstr(e.msg, "larger than"), "%s", e.msg);
                ck_assert_int_eq(get(h, "/garbage", 5000, &a, &e), -EPROTO);
                ck_assert_msg(strstr(e.msg, "not an HTTP answer"), "%s", e.msg);
                ck_assert_int_eq(get(h, "/silent", 600, &a, &e), -ETIMEDOUT);
                mon_https_set_cancel(h, &cancel);
                ck_assert_int_eq(get(h, "/silent", 60000, &a, &e), -ECANCELED);
        }
        {
                struct mon_https *h = NULL;
                ck_assert_int_eq(mon_https_new("https://127.0.0.1:1", srv.ca_file, 2000, &h, &e), 0);
                ck_assert_int_eq(get(h, "/", 5000, &a, &e), -ECONNREFUSED);
                mon_https_free(h);
        }
        {
                struct mon_https *h = NULL;
                ck_assert_int_eq(mon_https_new("http://127.0.0.1", srv.ca_file, 0, &h, &e), -EINVAL);
                ck_assert_int_eq(mon_https_new("https://127.0.0.1:99999", srv.ca_file, 0, &h, &e), -EINVAL);
                ck_assert_int_eq(mon_https_new("https://127.0.0.1/path", srv.ca_file, 0, &h, &e), -EINVAL);
                ck_assert_int_eq(mon_https_new("https://[::1", srv.ca_file, 0, &h, &e), -EINVAL);
                ck_assert_int_eq(mon_https_new("https://127.0.0.1", "/nonexistent", 0, &h, &e), -EINVAL);
                ck_assert_int_eq(mon_https_new("https://[::1]:8443/", srv.ca_file, 0, &h, &e), 0);
                ck_assert_int_eq(mon_https_set_identity(h, srv.ca_file, "/nonexistent", &e), -ENOKEY);
                mon_https_free(h);
        }
}
END_TEST

int main(void)
{
        Suite *s = suite_create("monitor-https");
        TCase *parse = tcase_create("parse"), *live = tcase_create("client");
        SRunner *sr;
        int failed;

        tcase_add_test(parse, test_head_valid);
        tcase_add_test(parse, test_head_incomplete);
        tcase_add_test(parse, test_head_refused);
        tcase_add_test(parse, test_head_too_large);
        tcase_add_test(parse, test_chunked_valid);
        tcase_add_test(parse, test_chunked_refused);
        tcase_add_test(parse, test_random);
        tcase_set_timeout(parse, 60);
        suite_add_tcase(s, parse);

        tcase_add_unchecked_fixture(live, server_start, server_stop);
        tcase_add_test(live, test_client_answers);
        tcase_add_test(live, test_client_refusals);
        tcase_set_timeout(live, 60);
        suite_add_tcase(s, live);

        sr = srunner_create(s);
        srunner_set_fork_status(sr, CK_NOFORK); /* the server thread lives in this process */
        srunner_run_all(sr, CK_NORMAL);
        failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed == 0 ? 0 : 1;
}
