/* SPDX-License-Identifier: MIT */
/* The gateway's side of the verifier protocol (docs/protocol.md): one HTTPS client (https-client.h) per client (its
 * connection kept between requests), the TPM work of enrollment and rounds through lib/tpm-gateway.h. Nothing that
 * comes from the network is trusted: every member used is checked for its type and size. */

#include <errno.h>
#include <stdatomic.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <tss2/tss2_mu.h>

#include "fileio.h"
#include "fsutil.h"
#include "hex.h"
#include "https-client.h"
#include "ima-log.h"
#include "ima-slice.h"
#include "tpm-credential.h"
#include "tpm-marshal.h"
#include "verifier-client.h"

#define ANSWER_MAX                 (16u * 1024 * 1024)
#define IMA_LOG_MAX                (256u * 1024 * 1024)
#define BOOT_LOG_MAX               (16u * 1024 * 1024)
#define CERT_PEM_MAX               (64u * 1024)
#define CONNECT_TIMEOUT_MS_DEFAULT 5000L
#define REQUEST_TIMEOUT_MS_DEFAULT 30000L
#define GATEWAY_ID_MAX             64
#define NONCE_MAX                  64
/* The credential file of /enroll: magic, version, TPM2B_ID_OBJECT, TPM2B_ENCRYPTED_SECRET. */
#define CREDENTIAL_MAX (8 + sizeof(TPM2B_ID_OBJECT) + sizeof(TPM2B_ENCRYPTED_SECRET))

struct mon_vclient {
        struct mon_https *https;
        bool identity_loaded; /* the client certificate was given to https */
        char *url;            /* without trailing slashes */
        char *ca_file;
        char *gateway_id;
        char *key_path, *cert_path;
        long connect_timeout_ms, request_timeout_ms;
        const atomic_bool *cancel; /* set by another thread: abort the transfer in progress (-ECANCELED) */
        /* The certificate file the connections were made with (its identity when last seen). */
        bool cert_seen;
        dev_t cert_dev;
        ino_t cert_ino;
        struct timespec cert_mtime;
};

/* ---- small helpers ------------------------------------------------------------------------------------------- */

static void bio_freep(BIO **b)
{
        BIO_free(*b);
}

static void x509_req_freep(X509_REQ **r)
{
        X509_REQ_free(*r);
}

/* A string that held a secret (a bearer token): wiped, then freed. */
static void erase_freep(char **p)
{
        if (*p) {
                OPENSSL_cleanse(*p, strlen(*p));
                free(*p);
        }
}

/* A temporary file: removed unless renamed into place (then the pointer was freed and cleared). */
static void unlink_freep(char **p)
{
        if (*p) {
                (void)unlink(*p);
                free(*p);
        }
}

/* A TPM step failed: -EIO (-ENOMEM stays), err naming the step, then the TPM core's message (the decoded TPM
 * error for TPM return codes). */
static int tpm_failed(struct dw_error *err, int r, const struct dw_error *terr, const char *step)
{
        return dw_error_set(err, r == -ENOMEM ? ENOMEM : EIO, 0, 0, "%s: %s", step, terr->msg);
}

static int oom(struct dw_error *err)
{
        return dw_error_set(err, ENOMEM, 0, 0, "out of memory");
}

/* What the network sent, made fit for a log line: printable ASCII only, truncated. */
static const char *printable(const char *s, char *buf, size_t size)
{
        size_t i = 0;

        for (; s && s[i] && i + 1 < size; i++)
                buf[i] = s[i] >= 0x20 && s[i] < 0x7f ? s[i] : '?';
        buf[i] = '\0';
        return buf;
}

/* Standard base64 with padding, NUL-terminated, malloc'd. */
static char *base64_encode(const void *data, size_t size, size_t *ret_len)
{
        char *out;
        int n;

        if (size > (size_t)INT_MAX / 4 * 3)
                return NULL;
        out = malloc(4 * ((size + 2) / 3) + 1);
        if (!out)
                return NULL;
        n = EVP_EncodeBlock((unsigned char *)out, data, (int)size);
        if (ret_len)
                *ret_len = (size_t)n;
        return out;
}

static bool base64_char(char c)
{
        return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' || c == '/';
}

/* Strict standard base64 with padding (no whitespace), at most max decoded bytes. */
static int base64_decode(const char *s, size_t len, size_t max, uint8_t **ret, size_t *ret_size)
{
        _cleanup_free_ uint8_t *out = NULL;
        size_t pad = 0;
        int n;

        if (len == 0 || len % 4 != 0 || len / 4 * 3 > max + 2)
                return -EINVAL;
        if (s[len - 1] == '=')
                pad = s[len - 2] == '=' ? 2 : 1;
        for (size_t i = 0; i < len - pad; i++)
                if (!base64_char(s[i]))
                        return -EINVAL;
        out = malloc(len / 4 * 3);
        if (!out)
                return -ENOMEM;
        n = EVP_DecodeBlock(out, (const unsigned char *)s, (int)len);
        if (n < 0 || (size_t)n < pad || (size_t)n - pad > max)
                return -EINVAL;
        *ret_size = (size_t)n - pad;
        *ret = TAKE_PTR(out);
        return 0;
}

/* Sets key to a new string (copied); for base64 and hex, which are ASCII (no UTF-8 check on megabytes). */
static int json_set_ascii(json_t *o, const char *key, const char *s, size_t len)
{
        return json_object_set_new(o, key, json_stringn_nocheck(s, len)) < 0 ? -ENOMEM : 0;
}

static int json_set_base64(json_t *o, const char *key, const void *data, size_t size)
{
        _cleanup_free_ char *b64 = NULL;
        size_t len;

        b64 = base64_encode(data, size, &len);
        if (!b64)
                return -ENOMEM;
        return json_set_ascii(o, key, b64, len);
}

static int json_set_public(json_t *o, const char *key, const TPM2B_PUBLIC *pub)
{
        uint8_t buf[sizeof(TPM2B_PUBLIC)];
        size_t off = 0;

        if (Tss2_MU_TPM2B_PUBLIC_Marshal(pub, buf, sizeof(buf), &off) != TSS2_RC_SUCCESS)
                return -EINVAL;
        return json_set_base64(o, key, buf, off);
}

/* {"attest": TPMS_ATTEST, "signature": TPMT_SIGNATURE}, both base64. */
static int json_signed_attest(const struct dw_tpm_signed_attest *sa, json_t **ret)
{
        _cleanup_(json_decrefp) json_t *o = json_object();
        uint8_t buf[sizeof(TPMT_SIGNATURE)];
        size_t off = 0;
        int r;

        if (!o)
                return -ENOMEM;
        if (Tss2_MU_TPMT_SIGNATURE_Marshal(&sa->signature, buf, sizeof(buf), &off) != TSS2_RC_SUCCESS)
                return -EINVAL;
        r = json_set_base64(o, "attest", sa->attest.attestationData, sa->attest.size);
        if (r < 0)
                return r;
        r = json_set_base64(o, "signature", buf, off);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(o);
        return 0;
}

/* A nonce of the verifier: lowercase (or uppercase) hex of 1-64 bytes. */
static int nonce_parse(const json_t *v, uint8_t ret[static NONCE_MAX], size_t *ret_size)
{
        const char *hex = json_string_value(v);
        size_t len = json_string_length(v);
        int n;

        if (!hex || len == 0 || len > 2 * NONCE_MAX || strlen(hex) != len)
                return -EINVAL;
        n = dw_hex_decode(hex, len, ret, NONCE_MAX);
        if (n <= 0)
                return -EINVAL;
        *ret_size = (size_t)n;
        return 0;
}

/* ---- files --------------------------------------------------------------------------------------------------- */

/* Writes data to a new temporary file next to path (mode, fsync'd); *ret_tmp is its name. */
static int tmp_file_write(const char *path, const void *data, size_t size, mode_t mode, char **ret_tmp,
                          struct dw_error *err)
{
        _cleanup_(unlink_freep) char *tmp = NULL;
        _cleanup_close_ int fd = -EBADF;
        int r;

        if (asprintf(&tmp, "%s.tmpXXXXXX", path) < 0) {
                tmp = NULL;
                return oom(err);
        }
        fd = mkostemp(tmp, O_CLOEXEC);
        if (fd < 0) {
                r = -errno;
                free(TAKE_PTR(tmp)); /* nothing to remove */
                return dw_error_set(err, r, 0, 0, "%s: cannot create a temporary file: %s", path, strerror(-r));
        }
        if (fchmod(fd, mode) < 0)
                return dw_error_set(err, errno, 0, 0, "%s: %s", tmp, strerror(errno));
        r = mon_write_all(fd, data, size);
        if (r < 0)
                return dw_error_set(err, r, 0, 0, "%s: %s", tmp, strerror(-r));
        if (fsync(fd) < 0)
                return dw_error_set(err, errno, 0, 0, "%s: fsync: %s", tmp, strerror(errno));
        r = close(fd);
        fd = -EBADF;
        if (r < 0)
                return dw_error_set(err, errno, 0, 0, "%s: %s", tmp, strerror(errno));
        *ret_tmp = TAKE_PTR(tmp);
        return 0;
}

static int dir_fsync(const char *path, struct dw_error *err)
{
        _cleanup_free_ char *dir = strdup(path);
        _cleanup_close_ int fd = -EBADF;
        char *slash;

        if (!dir)
                return oom(err);
        slash = strrchr(dir, '/');
        if (slash)
                *(slash == dir ? slash + 1 : slash) = '\0';
        fd = open(slash ? dir : ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0 || fsync(fd) < 0)
                return dw_error_set(err, errno, 0, 0, "%s: fsync: %s", slash ? dir : ".", strerror(errno));
        return 0;
}

/* The enrollment's key (0600) and certificate, both written in full before either replaces the old one. */
static int credentials_save(struct mon_vclient *c, const void *key, size_t key_size, const void *cert, size_t cert_size,
                            struct dw_error *err)
{
        _cleanup_(unlink_freep) char *key_tmp = NULL, *cert_tmp = NULL;
        int r;

        r = tmp_file_write(c->key_path, key, key_size, 0600, &key_tmp, err);
        if (r < 0)
                return r;
        r = tmp_file_write(c->cert_path, cert, cert_size, 0644, &cert_tmp, err);
        if (r < 0)
                return r;
        if (rename(key_tmp, c->key_path) < 0)
                return dw_error_set(err, errno, 0, 0, "%s: %s", c->key_path, strerror(errno));
        free(TAKE_PTR(key_tmp));
        if (rename(cert_tmp, c->cert_path) < 0)
                return dw_error_set(err, errno, 0, 0, "%s: %s", c->cert_path, strerror(errno));
        free(TAKE_PTR(cert_tmp));
        return dir_fsync(c->cert_path, err);
}

static int log_read(const char *path, size_t max, uint8_t **ret, size_t *ret_size, struct dw_error *err)
{
        int r;

        r = dw_read_full_file(path, max, ret, ret_size);
        if (r < 0)
                return dw_error_set(err, r, 0, 0, "%s: %s", path, strerror(-r));
        return 0;
}

/* ---- client -------------------------------------------------------------------------------------------------- */

/* The naming rule of docs/protocol.md: 1-64 of A-Z a-z 0-9 . _ -, not starting with . or -. */
static bool gateway_id_valid(const char *id)
{
        size_t len = strlen(id);

        if (len == 0 || len > GATEWAY_ID_MAX || id[0] == '.' || id[0] == '-')
                return false;
        return strspn(id, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-") == len;
}

void mon_vclient_set_cancel(struct mon_vclient *c, const atomic_bool *flag)
{
        c->cancel = flag;
        if (c->https)
                mon_https_set_cancel(c->https, flag);
}

/* A new client (connections are opened by the exchanges); a renewed certificate is loaded again by identity_use. */
static int https_setup(struct mon_vclient *c, struct dw_error *err)
{
        struct mon_https *h;
        int r;

        r = mon_https_new(c->url, c->ca_file, c->connect_timeout_ms, &h, err);
        if (r < 0)
                return r;
        mon_https_set_cancel(h, c->cancel);
        mon_https_free(c->https);
        c->https = h;
        c->identity_loaded = false;
        return 0;
}

static char *path_join(const char *dir, const char *name)
{
        char *p;

        if (asprintf(&p, "%s/%s", dir, name) < 0)
                return NULL;
        return p;
}

static int url_copy(const char *url, char **ret, struct dw_error *err)
{
        size_t len = strlen(url);

        if (strncmp(url, "https://", 8) != 0 || len <= 8)
                return dw_error_set(err, EINVAL, 0, 0, "verifier URL '%s': not https://HOST[:PORT]", url);
        while (len > 8 && url[len - 1] == '/')
                len--;
        *ret = strndup(url, len);
        return *ret ? 0 : oom(err);
}

int mon_vclient_new(const struct mon_vclient_options *o, struct mon_vclient **ret, struct dw_error *err)
{
        _cleanup_(mon_vclient_freep) struct mon_vclient *c = NULL;
        int r;

        if (!o->url || !o->ca_file || !o->gateway_id || !o->state_dir)
                return dw_error_set(err, EINVAL, 0, 0,
                                    "the verifier URL and CA, gateway id, state directory are required");
        if (!gateway_id_valid(o->gateway_id))
                return dw_error_set(err, EINVAL, 0, 0,
                                    "gateway id '%.64s': 1-64 of A-Z a-z 0-9 . _ -, not starting with . or -",
                                    o->gateway_id);
        if (access(o->ca_file, R_OK) < 0)
                return dw_error_set(err, EINVAL, 0, 0, "%s: %s", o->ca_file, strerror(errno));
        c = calloc(1, sizeof(*c));
        if (!c)
                return oom(err);
        r = url_copy(o->url, &c->url, err);
        if (r < 0)
                return r;
        c->ca_file = strdup(o->ca_file);
        c->gateway_id = strdup(o->gateway_id);
        c->key_path = path_join(o->state_dir, MON_TLS_KEY_FILE);
        c->cert_path = path_join(o->state_dir, MON_TLS_CERT_FILE);
        if (!c->ca_file || !c->gateway_id || !c->key_path || !c->cert_path)
                return oom(err);
        c->connect_timeout_ms = o->connect_timeout_ms > 0 ? o->connect_timeout_ms : CONNECT_TIMEOUT_MS_DEFAULT;
        c->request_timeout_ms = o->request_timeout_ms > 0 ? o->request_timeout_ms : REQUEST_TIMEOUT_MS_DEFAULT;
        r = https_setup(c, err);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(c);
        return 0;
}

void mon_vclient_free(struct mon_vclient *c)
{
        mon_https_free(c->https);
        free(c->url);
        free(c->ca_file);
        free(c->gateway_id);
        free(c->key_path);
        free(c->cert_path);
        free(c);
}

bool mon_vclient_enrolled(const struct mon_vclient *c)
{
        return access(c->key_path, R_OK) == 0 && access(c->cert_path, R_OK) == 0;
}

/* Notes the certificate file's identity; true when it is another file than the one seen last (renewed by an
 * enrollment, of this client or another). */
static bool cert_renewed(struct mon_vclient *c)
{
        struct stat st;
        bool renewed;

        if (stat(c->cert_path, &st) < 0)
                return false;
        renewed = c->cert_seen &&
                  (st.st_dev != c->cert_dev || st.st_ino != c->cert_ino || st.st_mtim.tv_sec != c->cert_mtime.tv_sec ||
                   st.st_mtim.tv_nsec != c->cert_mtime.tv_nsec);
        c->cert_seen = true;
        c->cert_dev = st.st_dev;
        c->cert_ino = st.st_ino;
        c->cert_mtime = st.st_mtim;
        return renewed;
}

/* The client certificate for an exchange that wants it (when enrolled), loaded again when it was renewed:
 * connections made with a previous certificate would go on presenting it. */
static int identity_use(struct mon_vclient *c, bool with_cert, struct dw_error *err)
{
        bool cert = with_cert && mon_vclient_enrolled(c);
        int r;

        if (cert && (cert_renewed(c) || !c->identity_loaded)) {
                r = mon_https_set_identity(c->https, c->cert_path, c->key_path, err);
                if (r < 0)
                        return r;
                c->identity_loaded = true;
        }
        mon_https_use_identity(c->https, cert);
        return 0;
}

/* ---- HTTP ---------------------------------------------------------------------------------------------------- */

struct exchange {
        const char *path;   /* "/v1/..." */
        const char *body;   /* JSON text to POST; NULL: GET */
        const char *bearer; /* Authorization: Bearer, or NULL */
        bool with_cert;     /* the client certificate, when enrolled */
        long timeout_ms;
};

/* A token fit for a header line: 1 or more printable ASCII characters, no space. */
static bool bearer_valid(const char *s)
{
        if (*s == '\0')
                return false;
        for (; *s; s++)
                if (*s <= 0x20 || *s >= 0x7f)
                        return false;
        return true;
}

static int answer_parse(const struct mon_https_answer *a, const char *method, const char *url, const char *path,
                        json_t **ret, struct dw_error *err)
{
        json_error_t jerr;
        char why[80];
        json_t *j;

        if (a->size == 0) {
                *ret = NULL;
                return 0;
        }
        j = json_loadb(a->body, a->size, JSON_REJECT_DUPLICATES, &jerr);
        if (!j || !json_is_object(j)) {
                json_decref(j);
                return dw_error_set(err, EPROTO, 0, 0, "%s %s%s: HTTP %d, the answer is not a JSON object%s%s", method,
                                    url, path, a->status, j ? "" : ": ",
                                    j ? "" : printable(jerr.text, why, sizeof(why)));
        }
        *ret = j;
        return 0;
}

/* One exchange: the status and the answer's bytes (at most ANSWER_MAX). */
static int exchange_raw(struct mon_vclient *c, const struct exchange *x, struct mon_https_answer *ret,
                        struct dw_error *err)
{
        _cleanup_(erase_freep) char *auth = NULL;
        const char *headers[3];
        size_t n = 0;
        int r;

        headers[n++] = "Accept: application/json";
        if (x->body)
                headers[n++] = "Content-Type: application/json";
        if (x->bearer) {
                if (!bearer_valid(x->bearer))
                        return dw_error_set(err, EINVAL, 0, 0, "the bearer token is empty or not printable ASCII");
                if (asprintf(&auth, "Authorization: Bearer %s", x->bearer) < 0) {
                        auth = NULL;
                        return oom(err);
                }
                headers[n++] = auth;
        }
        r = identity_use(c, x->with_cert, err);
        if (r < 0)
                return r;
        const struct mon_https_request rq = {
                .method = x->body ? "POST" : "GET",
                .path = x->path,
                .headers = headers,
                .n_headers = n,
                .body = x->body,
                .body_size = x->body ? strlen(x->body) : 0,
                .timeout_ms = x->timeout_ms,
                .answer_max = ANSWER_MAX,
        };
        return mon_https_exchange(c->https, &rq, ret, err);
}

/* One exchange: the status and the answer's JSON object (NULL when it is empty). */
static int exchange(struct mon_vclient *c, const struct exchange *x, long *ret_status, json_t **ret_answer,
                    struct dw_error *err)
{
        _cleanup_(mon_https_answer_done) struct mon_https_answer answer = {};
        json_t *j;
        int r;

        r = exchange_raw(c, x, &answer, err);
        if (r < 0)
                return r;
        r = answer_parse(&answer, x->body ? "POST" : "GET", c->url, x->path, &j, err);
        if (r < 0)
                return r;
        *ret_status = answer.status;
        *ret_answer = j;
        return 0;
}

int mon_vclient_request(struct mon_vclient *c, const char *path, const char *body, const char *bearer, long *ret_status,
                        json_t **ret_answer, struct dw_error *err)
{
        struct exchange x = {path, body, bearer, true, c->request_timeout_ms};

        return exchange(c, &x, ret_status, ret_answer, err);
}

/* A request to the gateway's own URLs: x->path is relative to /v1/gateways/ID/; the answer must be a JSON object. */
static int gateway_request(struct mon_vclient *c, const struct exchange *x, long *ret_status, json_t **ret_answer,
                           struct dw_error *err)
{
        _cleanup_(json_decrefp) json_t *answer = NULL;
        _cleanup_free_ char *path = NULL;
        struct exchange xg = *x;
        long status;
        int r;

        if (asprintf(&path, "/v1/gateways/%s/%s", c->gateway_id, x->path) < 0) {
                path = NULL;
                return oom(err);
        }
        xg.path = path;
        r = exchange(c, &xg, &status, &answer, err);
        if (r < 0)
                return r;
        if (!answer)
                return dw_error_set(err, EPROTO, 0, 0, "%s %s%s: HTTP %ld with an empty answer",
                                    x->body ? "POST" : "GET", c->url, path, status);
        *ret_status = status;
        *ret_answer = TAKE_PTR(answer);
        return 0;
}

/* POST with the client certificate, the configured timeout. */
static int gateway_post(struct mon_vclient *c, const char *what, const char *body, long *ret_status,
                        json_t **ret_answer, struct dw_error *err)
{
        const struct exchange x = {.path = what, .body = body, .with_cert = true, .timeout_ms = c->request_timeout_ms};

        return gateway_request(c, &x, ret_status, ret_answer, err);
}

/* Enrollment's POSTs: no client certificate, the bootstrap token. */
static int enroll_post(struct mon_vclient *c, const char *what, const char *body, const char *bearer, long *ret_status,
                       json_t **ret_answer, struct dw_error *err)
{
        const struct exchange x = {.path = what, .body = body, .bearer = bearer, .timeout_ms = c->request_timeout_ms};

        return gateway_request(c, &x, ret_status, ret_answer, err);
}

/* A refusal of the calls that do not hand the answer back: -EACCES for 401/403, else -EPROTO. */
static int refused(struct dw_error *err, const char *what, long status, const json_t *answer)
{
        char error[64], detail[120];

        return dw_error_set(err, status == 401 || status == 403 ? EACCES : EPROTO, 0, 0, "%s: HTTP %ld %s: %s", what,
                            status,
                            printable(json_string_value(json_object_get(answer, "error")), error, sizeof(error)),
                            printable(json_string_value(json_object_get(answer, "detail")), detail, sizeof(detail)));
}

/* ---- enrollment ---------------------------------------------------------------------------------------------- */

struct enroll_keys {
        struct dw_tpm_key ek, ak, event_key;
        char *ek_cert_b64;
};

static void enroll_keys_done(struct enroll_keys *k)
{
        free(k->ek_cert_b64);
}

/* The EK certificate (from the TCG NV indices) that carries the key of the EK. */
static int ek_cert_find(struct dw_tpm *t, struct enroll_keys *k, struct dw_error *err)
{
        struct dw_tpm_ek_cert *certs = NULL;
        struct dw_error terr = {};
        size_t n = 0, i;
        int r;

        r = dw_tpm_ek_certs_read(t, &certs, &n, &terr);
        if (r < 0)
                return tpm_failed(err, r, &terr, "reading the EK certificates");
        for (i = 0; i < n; i++)
                if (dw_tpm_ek_cert_matches(certs[i].der, certs[i].der_size, &k->ek, NULL) > 0)
                        break;
        if (i < n)
                k->ek_cert_b64 = base64_encode(certs[i].der, certs[i].der_size, NULL);
        dw_tpm_ek_certs_free(certs, n);
        if (i == n)
                return dw_error_set(err, ENOENT, 0, 0, "no EK certificate in the TPM's NV carries the key of the %s EK",
                                    dw_tpm_key_type_name(k->ek.type));
        return k->ek_cert_b64 ? 0 : oom(err);
}

static int enroll_keys_get(struct dw_tpm *t, const struct mon_enroll_options *o, struct enroll_keys *k,
                           struct dw_error *err)
{
        struct dw_error terr = {};
        int r;

        r = dw_tpm_ek_create(t, o->ek_type, &k->ek, &terr);
        if (r < 0)
                return tpm_failed(err, r, &terr, "creating the EK");
        r = ek_cert_find(t, k, err);
        if (r < 0)
                return r;
        r = dw_tpm_ak_ensure(t, o->ak_handle, DW_TPM_KEY_ECC_P256, o->ek_type, &k->ak, &terr);
        if (r < 0)
                return tpm_failed(err, r, &terr, "the AK");
        r = dw_tpm_event_key_ensure(t, o->event_key_handle, o->ek_type, &k->event_key, &terr);
        if (r < 0)
                return tpm_failed(err, r, &terr, "the event key");
        return 0;
}

/* A fresh TLS key (its PEM in a memory BIO, wiped when done) and a CSR for it. */
struct tls_key {
        EVP_PKEY *pkey;
        BIO *pem;
        char *csr;
};

static void tls_key_done(struct tls_key *k)
{
        char *data = NULL;
        long n = k->pem ? BIO_get_mem_data(k->pem, &data) : 0;

        if (n > 0)
                OPENSSL_cleanse(data, (size_t)n);
        BIO_free(k->pem);
        EVP_PKEY_free(k->pkey);
        free(k->csr);
}

static int csr_make(EVP_PKEY *pkey, const char *id, char **ret)
{
        _cleanup_(x509_req_freep) X509_REQ *req = X509_REQ_new();
        _cleanup_(bio_freep) BIO *b = BIO_new(BIO_s_mem());
        char *data;
        long n;

        if (!req || !b)
                return -ENOMEM;
        if (X509_NAME_add_entry_by_txt(X509_REQ_get_subject_name(req), "CN", MBSTRING_UTF8, (const unsigned char *)id,
                                       -1, -1, 0) != 1 ||
            X509_REQ_set_pubkey(req, pkey) != 1 || X509_REQ_sign(req, pkey, EVP_sha256()) <= 0 ||
            PEM_write_bio_X509_REQ(b, req) != 1)
                return -EINVAL;
        n = BIO_get_mem_data(b, &data);
        if (n <= 0)
                return -EINVAL;
        *ret = strndup(data, (size_t)n);
        return *ret ? 0 : -ENOMEM;
}

static int tls_key_make(const char *id, struct tls_key *ret, struct dw_error *err)
{
        _cleanup_(tls_key_done) struct tls_key k = {};
        int r;

        k.pkey = EVP_EC_gen("P-256");
        k.pem = BIO_new(BIO_s_mem());
        if (!k.pkey || !k.pem)
                return oom(err);
        if (PEM_write_bio_PrivateKey(k.pem, k.pkey, NULL, NULL, 0, NULL, NULL) != 1)
                return dw_error_set(err, EINVAL, 0, 0, "cannot encode the TLS key");
        r = csr_make(k.pkey, id, &k.csr);
        if (r < 0)
                return dw_error_set(err, r, 0, 0, "cannot make the CSR of the TLS key");
        *ret = k;
        k = (struct tls_key){};
        return 0;
}

static int enroll_body(const struct enroll_keys *k, const char *csr, char **ret, struct dw_error *err)
{
        _cleanup_(json_decrefp) json_t *j = json_object();

        if (!j || json_object_set_new(j, "ek_certificate", json_string(k->ek_cert_b64)) < 0 ||
            json_set_public(j, "ek_public", &k->ek.public) < 0 || json_set_public(j, "ak_public", &k->ak.public) < 0 ||
            json_set_public(j, "event_key_public", &k->event_key.public) < 0 ||
            json_object_set_new(j, "csr", json_string(csr)) < 0)
                return dw_error_set(err, ENOMEM, 0, 0, "cannot build the enroll request");
        *ret = json_dumps(j, JSON_COMPACT);
        return *ret ? 0 : oom(err);
}

/* The /enroll answer: the credential (base64 of the tpm2_makecredential file) and the nonce. */
struct enroll_challenge {
        TPM2B_ID_OBJECT blob;
        TPM2B_ENCRYPTED_SECRET seed;
        uint8_t nonce[NONCE_MAX];
        size_t nonce_size;
};

static int challenge_parse(const json_t *answer, struct enroll_challenge *ret, struct dw_error *err)
{
        const json_t *cred = json_object_get(answer, "credential");
        _cleanup_free_ uint8_t *blob = NULL;
        struct enroll_challenge ch = {};
        struct dw_error perr = {};
        size_t size;

        if (!json_is_string(cred) ||
            base64_decode(json_string_value(cred), json_string_length(cred), CREDENTIAL_MAX, &blob, &size) < 0)
                return dw_error_set(err, EPROTO, 0, 0, "the /enroll answer: credential: not base64 of <= %zu bytes",
                                    CREDENTIAL_MAX);
        if (dw_tpm_credential_file_parse(blob, size, &ch.blob, &ch.seed, &perr) < 0)
                return dw_error_set(err, EPROTO, 0, 0, "the /enroll answer: credential: %s", perr.msg);
        if (nonce_parse(json_object_get(answer, "nonce"), ch.nonce, &ch.nonce_size) < 0)
                return dw_error_set(err, EPROTO, 0, 0, "the /enroll answer: nonce: not hex of 1-%d bytes", NONCE_MAX);
        *ret = ch;
        return 0;
}

/* TPM2_ActivateCredential, then the proof (HMAC-SHA256 keyed with the secret over the nonce) and TPM2_Certify of
 * the event key by the AK over the nonce: the /activate request. */
static int activate_body(struct dw_tpm *t, const struct mon_enroll_options *o, const struct enroll_challenge *ch,
                         char **ret, struct dw_error *err)
{
        _cleanup_(json_decrefp) json_t *j = json_object(), *certify_j = NULL;
        struct dw_tpm_signed_attest certify;
        struct dw_error terr = {};
        TPM2B_DIGEST secret;
        uint8_t proof[32];
        unsigned proof_size = sizeof(proof);
        char proof_hex[2 * sizeof(proof) + 1];
        bool ok;
        int r;

        if (!j)
                return oom(err);
        r = dw_tpm_activate_credential(t, o->ak_handle, o->ek_type, &ch->blob, &ch->seed, &secret, &terr);
        if (r < 0)
                return tpm_failed(err, r, &terr, "activating the credential");
        ok = HMAC(EVP_sha256(), secret.buffer, secret.size, ch->nonce, ch->nonce_size, proof, &proof_size) != NULL;
        OPENSSL_cleanse(&secret, sizeof(secret));
        if (!ok || proof_size != sizeof(proof))
                return dw_error_set(err, EINVAL, 0, 0, "cannot compute the activation proof");
        r = dw_tpm_certify(t, o->event_key_handle, o->ak_handle, ch->nonce, ch->nonce_size, &certify, &terr);
        if (r < 0)
                return tpm_failed(err, r, &terr, "certifying the event key");
        if (json_signed_attest(&certify, &certify_j) < 0 ||
            json_set_ascii(j, "proof", dw_hex_encode(proof, sizeof(proof), proof_hex), 2 * sizeof(proof)) < 0 ||
            json_object_set(j, "event_key_certify", certify_j) < 0)
                return dw_error_set(err, ENOMEM, 0, 0, "cannot build the activate request");
        *ret = json_dumps(j, JSON_COMPACT);
        return *ret ? 0 : oom(err);
}

/* The certificate of the /activate answer, checked to carry our key; *ret its PEM as OpenSSL writes it. */
static int certificate_parse(const json_t *answer, EVP_PKEY *pkey, char **ret, struct dw_error *err)
{
        const json_t *pem = json_object_get(answer, "certificate");
        _cleanup_(bio_freep) BIO *in = NULL, *out = NULL;
        _cleanup_(dw_x509_freep) X509 *x = NULL;
        char *data;
        long n;

        if (!json_is_string(pem) || json_string_length(pem) > CERT_PEM_MAX)
                return dw_error_set(err, EPROTO, 0, 0, "the /activate answer: certificate: not a string of <= %u bytes",
                                    CERT_PEM_MAX);
        in = BIO_new_mem_buf(json_string_value(pem), (int)json_string_length(pem));
        out = BIO_new(BIO_s_mem());
        if (!in || !out)
                return oom(err);
        x = PEM_read_bio_X509(in, NULL, NULL, NULL);
        if (!x)
                return dw_error_set(err, EPROTO, 0, 0, "the /activate answer: certificate: not a PEM certificate");
        if (X509_check_private_key(x, pkey) != 1)
                return dw_error_set(err, EPROTO, 0, 0, "the /activate answer: certificate: not for the key of the CSR");
        if (PEM_write_bio_X509(out, x) != 1)
                return oom(err);
        n = BIO_get_mem_data(out, &data);
        if (n <= 0)
                return oom(err);
        *ret = strndup(data, (size_t)n);
        return *ret ? 0 : oom(err);
}

/* After /activate 200: the certificate and the key saved; connections (and TLS sessions) made with the previous
 * certificate are dropped. */
static int enrolled_save(struct mon_vclient *c, const json_t *answer, const struct tls_key *k, struct dw_error *err)
{
        _cleanup_free_ char *cert = NULL;
        char *key;
        long key_size;
        int r;

        r = certificate_parse(answer, k->pkey, &cert, err);
        if (r < 0)
                return r;
        key_size = BIO_get_mem_data(k->pem, &key);
        if (key_size <= 0)
                return dw_error_set(err, EINVAL, 0, 0, "the TLS key was not encoded");
        r = credentials_save(c, key, (size_t)key_size, cert, strlen(cert), err);
        if (r < 0)
                return r;
        (void)cert_renewed(c);
        c->identity_loaded = false; /* the next exchange presents the new certificate, on a new connection */
        mon_https_disconnect(c->https);
        return 0;
}

int mon_vclient_enroll(struct mon_vclient *c, struct dw_tpm *t, const struct mon_enroll_options *o, long *ret_status,
                       json_t **ret_answer, struct dw_error *err)
{
        _cleanup_(enroll_keys_done) struct enroll_keys k = {};
        _cleanup_(tls_key_done) struct tls_key tls = {};
        _cleanup_(json_decrefp) json_t *challenge = NULL, *answer = NULL;
        _cleanup_free_ char *enroll = NULL, *activate = NULL;
        struct enroll_challenge ch;
        long status;
        int r;

        r = enroll_keys_get(t, o, &k, err);
        if (r < 0)
                return r;
        r = tls_key_make(c->gateway_id, &tls, err);
        if (r < 0)
                return r;
        r = enroll_body(&k, tls.csr, &enroll, err);
        if (r < 0)
                return r;
        r = enroll_post(c, "enroll", enroll, o->bearer, &status, &challenge, err);
        if (r < 0)
                return r;
        if (status != 200) {
                *ret_status = status;
                *ret_answer = TAKE_PTR(challenge);
                return 0;
        }
        r = challenge_parse(challenge, &ch, err);
        if (r < 0)
                return r;
        r = activate_body(t, o, &ch, &activate, err);
        if (r < 0)
                return r;
        r = enroll_post(c, "activate", activate, o->bearer, &status, &answer, err);
        if (r < 0)
                return r;
        if (status == 200) {
                r = enrolled_save(c, answer, &tls, err);
                if (r < 0)
                        return r;
        }
        *ret_status = status;
        *ret_answer = TAKE_PTR(answer);
        return 0;
}

/* ---- rounds -------------------------------------------------------------------------------------------------- */

/* A PCR selection in tpm2-tools syntax ("sha256:0,1,2+sha1:0-7") is made of these; parsed later. */
static bool pcr_selection_text(const json_t *v, size_t size)
{
        const char *s = json_string_value(v);
        size_t len = json_string_length(v);

        return s && len > 0 && len < size &&
               strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789:,+-") == len;
}

int mon_round_request_from_json(const json_t *answer, struct mon_round_request *ret, struct dw_error *err)
{
        const json_t *sel = json_object_get(answer, "pcr_selection"), *from = json_object_get(answer, "ima_from"),
                     *boot = json_object_get(answer, "boot_log_required");
        struct mon_round_request req = {};
        struct dw_error perr = {};
        TPML_PCR_SELECTION pcrs;

        if (!json_is_object(answer))
                return dw_error_set(err, EPROTO, 0, 0, "the /nonce answer is not a JSON object");
        if (nonce_parse(json_object_get(answer, "nonce"), req.nonce, &req.nonce_size) < 0)
                return dw_error_set(err, EPROTO, 0, 0, "the /nonce answer: nonce: not hex of 1-%d bytes", NONCE_MAX);
        if (!pcr_selection_text(sel, sizeof(req.pcr_selection)))
                return dw_error_set(err, EPROTO, 0, 0, "the /nonce answer: pcr_selection: not 1-%zu of [A-Za-z0-9:,+-]",
                                    sizeof(req.pcr_selection) - 1);
        memcpy(req.pcr_selection, json_string_value(sel), json_string_length(sel) + 1);
        if (dw_tpm_pcr_selection_from_string(req.pcr_selection, &pcrs, &perr) < 0)
                return dw_error_set(err, EPROTO, 0, 0, "the /nonce answer: pcr_selection: %s", perr.msg);
        if (!json_is_integer(from) || json_integer_value(from) < 0)
                return dw_error_set(err, EPROTO, 0, 0, "the /nonce answer: ima_from: not an integer >= 0");
        req.ima_from = (uint64_t)json_integer_value(from);
        if (boot && !json_is_boolean(boot))
                return dw_error_set(err, EPROTO, 0, 0, "the /nonce answer: boot_log_required: not a boolean");
        req.boot_log_required = json_is_true(boot);
        *ret = req;
        return 0;
}

int mon_vclient_nonce(struct mon_vclient *c, struct mon_round_request *ret, long *ret_status, struct dw_error *err)
{
        _cleanup_(json_decrefp) json_t *answer = NULL;
        long status;
        int r;

        r = gateway_post(c, "nonce", "{}", &status, &answer, err);
        if (r < 0)
                return r;
        if (ret_status)
                *ret_status = status;
        if (status != 200)
                return refused(err, "POST /nonce", status, answer);
        return mon_round_request_from_json(answer, ret, err);
}

/* The quote over the verifier's selection with its nonce: {"attest", "signature", "pcrs"}, and the PCR values. */
static int quote_json(struct dw_tpm *t, uint32_t ak_handle, const struct mon_round_request *req,
                      struct dw_tpm_pcrs *pcrs, json_t **ret, struct dw_error *err)
{
        _cleanup_(json_decrefp) json_t *j = NULL;
        _cleanup_free_ uint8_t *file = NULL;
        struct dw_tpm_signed_attest quote;
        struct dw_error terr = {};
        TPML_PCR_SELECTION sel;
        size_t size;
        int r;

        r = dw_tpm_pcr_selection_from_string(req->pcr_selection, &sel, &terr);
        if (r < 0)
                return dw_error_set(err, EPROTO, 0, 0, "pcr_selection: %s", terr.msg);
        r = dw_tpm_quote_pcrs(t, ak_handle, req->nonce, req->nonce_size, &sel, &quote, pcrs, &terr);
        if (r < 0)
                return tpm_failed(err, r, &terr, "quote");
        r = dw_tpm_pcrs_file_write(pcrs, &file, &size);
        if (r < 0)
                return dw_error_set(err, r, 0, 0, "cannot write the quoted PCR values");
        r = json_signed_attest(&quote, &j);
        if (r < 0 || json_set_base64(j, "pcrs", file, size) < 0)
                return dw_error_set(err, ENOMEM, 0, 0, "cannot build the quote");
        *ret = TAKE_PTR(j);
        return 0;
}

/* {"first_index", "digest_alg", "entries"}: the complete entries from req->ima_from on (from 0 after a reboot). */
static int ima_json(const struct mon_round_request *req, const struct mon_round_evidence *ev,
                    struct mon_round_sent *sent, json_t **ret, struct dw_error *err)
{
        _cleanup_free_ uint8_t *file = NULL;
        _cleanup_(json_decrefp) json_t *j = json_object();
        const uint8_t *log = ev->ima_log;
        struct mon_ima_slice s = {};
        int r;

        if (!j)
                return oom(err);
        if (ev->ima_log_path) {
                r = mon_ima_slice_read(ev->ima_log_path, ev->ima_offsets, ev->ima_log_alg, IMA_LOG_MAX, req->ima_from,
                                       &file, &s, err);
                log = file;
        } else
                r = mon_ima_slice_find(log, ev->ima_log_size, ev->ima_log_first, ev->ima_log_alg, req->ima_from, &s,
                                       err);
        if (r < 0)
                return r;
        if (json_object_set_new(j, "first_index", json_integer((json_int_t)s.first)) < 0 ||
            json_object_set_new(j, "digest_alg", json_string(dw_hash_alg_name(ev->ima_log_alg))) < 0 ||
            json_set_base64(j, "entries", s.size > 0 ? log + s.offset : NULL, s.size) < 0)
                return dw_error_set(err, ENOMEM, 0, 0, "cannot build the IMA member");
        sent->ima_first_index = s.first;
        sent->ima_entries = s.count;
        sent->ima_read_from = s.read_from;
        sent->ima_read_size = ev->ima_log_path ? s.read_size : ev->ima_log_size;
        *ret = TAKE_PTR(j);
        return 0;
}

/* The boot log, when it is to be sent and there is one: base64 in *ret (NULL when not sent). */
static int boot_log_b64(const struct mon_round_request *req, const struct mon_round_evidence *ev, char **ret,
                        size_t *ret_len, struct dw_error *err)
{
        _cleanup_free_ uint8_t *file = NULL;
        const uint8_t *log = ev->boot_log;
        size_t size = ev->boot_log_size;
        int r;

        if (!req->boot_log_required && !ev->always_boot_log)
                return 0;
        if (ev->boot_log_path) {
                r = log_read(ev->boot_log_path, BOOT_LOG_MAX, &file, &size, err);
                if (r == -ENOENT)
                        return 0; /* a machine without an event log: the verifier says whether it needs one */
                if (r < 0)
                        return r;
                log = file;
        }
        if (!log)
                return 0;
        *ret = base64_encode(log, size, ret_len);
        return *ret ? 0 : oom(err);
}

/* TPM2_NV_Certify of the event-chain index over the round's nonce, and the index's public area as it is now:
 * {"attest", "signature", "public"}. */
static int nv_certify_json(struct dw_tpm *t, const struct mon_round_request *req, const struct mon_round_evidence *ev,
                           json_t **ret, struct dw_error *err)
{
        _cleanup_(json_decrefp) json_t *j = NULL;
        struct dw_tpm_nv_extend_info info;
        struct dw_tpm_signed_attest cert;
        struct dw_error terr = {};
        uint8_t buf[sizeof(TPMS_NV_PUBLIC)];
        size_t off = 0;
        int r;

        r = dw_tpm_nv_extend_certify(t, ev->nv_index, ev->ak_handle, req->nonce, req->nonce_size, &cert, &terr);
        if (r < 0)
                return tpm_failed(err, r, &terr, "NV certify");
        /* The index exists (it was just certified): this only reads its public area. */
        r = dw_tpm_nv_extend_define(t, ev->nv_index, false, &info, &terr);
        if (r < 0)
                return tpm_failed(err, r, &terr, "reading the NV index's public area");
        if (Tss2_MU_TPMS_NV_PUBLIC_Marshal(&info.public, buf, sizeof(buf), &off) != TSS2_RC_SUCCESS)
                return dw_error_set(err, EIO, 0, 0, "cannot marshal the NV index's public area");
        r = json_signed_attest(&cert, &j);
        if (r < 0 || json_set_base64(j, "public", buf, off) < 0)
                return dw_error_set(err, ENOMEM, 0, 0, "cannot build the NV certification");
        *ret = TAKE_PTR(j);
        return 0;
}

/* Quote first, then the logs (which may run ahead of it, never behind). */
static int attest_json(struct dw_tpm *t, const struct mon_round_request *req, const struct mon_round_evidence *ev,
                       struct mon_round_sent *sent, json_t **ret, struct dw_error *err)
{
        _cleanup_(json_decrefp) json_t *j = json_object(), *quote = NULL, *ima = NULL, *nv = NULL;
        _cleanup_free_ char *boot = NULL;
        char nonce_hex[2 * NONCE_MAX + 1];
        size_t boot_len = 0;
        int r;

        if (!j)
                return oom(err);
        r = quote_json(t, ev->ak_handle, req, &sent->pcrs, &quote, err);
        if (r < 0)
                return r;
        if (ev->ima_log_path || ev->ima_log) {
                r = ima_json(req, ev, sent, &ima, err);
                if (r < 0)
                        return r;
        }
        r = boot_log_b64(req, ev, &boot, &boot_len, err);
        if (r < 0)
                return r;
        if (ev->nv_certify) {
                r = nv_certify_json(t, req, ev, &nv, err);
                if (r < 0)
                        return r;
        }
        if (ev->capabilities_json) {
                json_t *caps = json_loads(ev->capabilities_json, JSON_REJECT_DUPLICATES, NULL);

                if (!json_is_object(caps) || json_object_set_new(j, "capabilities", caps) < 0) {
                        json_decref(caps);
                        return dw_error_set(err, EINVAL, 0, 0, "the capability report is not a JSON object");
                }
        }
        dw_hex_encode(req->nonce, req->nonce_size, nonce_hex);
        if (json_set_ascii(j, "nonce", nonce_hex, 2 * req->nonce_size) < 0 || json_object_set(j, "quote", quote) < 0 ||
            (nv && json_object_set(j, "nv_certify", nv) < 0) || (ima && json_object_set(j, "ima", ima) < 0) ||
            (boot && json_set_ascii(j, "boot_log", boot, boot_len) < 0))
                return dw_error_set(err, ENOMEM, 0, 0, "cannot build the attest request");
        sent->boot_log = boot != NULL;
        *ret = TAKE_PTR(j);
        return 0;
}

int mon_vclient_attest_build(struct mon_vclient *c, struct dw_tpm *t, const struct mon_round_request *req,
                             const struct mon_round_evidence *ev, struct mon_round_sent *ret_sent, char **ret_body,
                             struct dw_error *err)
{
        _cleanup_free_ struct mon_round_sent *sent = calloc(1, sizeof(*sent));
        _cleanup_(json_decrefp) json_t *j = NULL;
        char *body;
        int r;

        (void)c;
        if (!sent)
                return oom(err);
        if (req->nonce_size == 0 || req->nonce_size > NONCE_MAX)
                return dw_error_set(err, EINVAL, 0, 0, "a round needs a nonce of 1-%d bytes", NONCE_MAX);
        r = attest_json(t, req, ev, sent, &j, err);
        if (r < 0)
                return r;
        body = json_dumps(j, JSON_COMPACT);
        if (!body)
                return oom(err);
        if (ret_sent)
                *ret_sent = *sent;
        *ret_body = body;
        return 0;
}

int mon_vclient_attest(struct mon_vclient *c, struct dw_tpm *t, const struct mon_round_request *req,
                       const struct mon_round_evidence *ev, struct mon_round_sent *ret_sent, long *ret_status,
                       json_t **ret_answer, struct dw_error *err)
{
        _cleanup_free_ struct mon_round_sent *sent = malloc(sizeof(*sent));
        _cleanup_free_ char *body = NULL;
        int r;

        if (!sent)
                return oom(err);
        r = mon_vclient_attest_build(c, t, req, ev, sent, &body, err);
        if (r < 0)
                return r;
        r = gateway_post(c, "attest", body, ret_status, ret_answer, err);
        if (r < 0)
                return r;
        if (ret_sent)
                *ret_sent = *sent;
        return 0;
}

int mon_vclient_post_batch(struct mon_vclient *c, const char *batch_json, long *ret_status, json_t **ret_answer,
                           struct dw_error *err)
{
        return gateway_post(c, "events", batch_json, ret_status, ret_answer, err);
}

int mon_vclient_challenge_wait(struct mon_vclient *c, unsigned wait_sec, bool *ret_challenge, struct dw_error *err)
{
        _cleanup_(mon_https_answer_done) struct mon_https_answer raw = {};
        _cleanup_(json_decrefp) json_t *answer = NULL;
        _cleanup_free_ char *path = NULL;
        uint64_t timeout_ms = (uint64_t)wait_sec * 1000u + (uint64_t)c->request_timeout_ms;
        struct exchange x = {.with_cert = true, .timeout_ms = (long)MIN(timeout_ms, (uint64_t)LONG_MAX)};
        const json_t *v;
        long status;
        int r;

        if (asprintf(&path, "/v1/gateways/%s/challenge?wait=%u", c->gateway_id, wait_sec) < 0) {
                path = NULL;
                return oom(err);
        }
        x.path = path;
        r = exchange_raw(c, &x, &raw, err);
        if (r < 0)
                return r;
        status = raw.status;
        if (status == 404)
                return dw_error_set(err, EOPNOTSUPP, 0, 0, "GET %s%s: the verifier has no challenge endpoint (404)",
                                    c->url, path);
        r = answer_parse(&raw, "GET", c->url, path, &answer, err);
        if (r < 0)
                return r;
        if (status != 200)
                return refused(err, "GET /challenge", status, answer);
        v = json_object_get(answer, "challenge");
        if (!json_is_boolean(v))
                return dw_error_set(err, EPROTO, 0, 0, "GET %s%s: challenge: not a boolean", c->url, path);
        *ret_challenge = json_is_true(v);
        return 0;
}
