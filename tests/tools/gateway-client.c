/* SPDX-License-Identifier: MIT */
/* gateway-client: a test gateway for driftwatch-verifier, speaking the protocol of docs/protocol.md with the TPM
 * core (lib/tpm-gateway.h) and libcurl (mutual TLS). Until the monitor exists, this is the gateway of the
 * integration tests.
 *
 *   gateway-client --verifier URL --ca CA.pem --tcti STR --state DIR [--id ID] COMMAND [OPTIONS]
 *
 *   enroll [--ek-alg rsa|ecc|ecc384] [--ak-handle H] [--token FILE]
 *       EK certificate, EK, AK and event key to the verifier, TPM2_ActivateCredential of the credential it
 *       returns, the proof and TPM2_Certify of the event key; saves the TLS key and certificate in DIR.
 *   attest --ima-log FILE [--boot-log FILE] [--always-boot-log] [--nonce-file F] [--save-request F]
 *          [--nv-certify [--nv-index H]]
 *       One round: a nonce (or the one saved in F by "nonce"), TPM2_Quote over the PCRs asked for, the IMA entries
 *       from the index asked for (from 0 when the log is shorter: a reboot), the boot log when asked, and with
 *       --nv-certify the TPM2_NV_Certify of the event-chain NV index over the same nonce. Prints the verifier's
 *       answer with "sent": {"ima_first_index", "ima_entries", "boot_log"} added.
 *   events --record N [--events-per-batch M]
 *       Records N batches of M (2) drift_exec events in the chain of DIR/event-chain (a new chain when there is
 *       none or the TPM was reset since): each batch signed by the event key, spooled as DIR/batch-SEQ.json (SEQ:
 *       its first sequence number), the chain saved, its head extended into the NV index. Prints the paths.
 *   events --batch-json FILE
 *       POSTs a batch to /v1/gateways/ID/events; exit 0 when accepted (ok or duplicate).
 *   nonce --out F        asks for a nonce and saves the answer (to use it later: stale-nonce tests)
 *   post-attest F        POSTs a saved attest request again as it is (replay tests)
 *   firmware --boot-log FILE
 *       Extends the TPM's PCRs with the digests of a TCG boot event log, as firmware would have: a software TPM
 *       then holds what the log says, like a real machine after boot (for tests).
 *
 * Exit status: 0 trusted (or done), 1 a verdict other than trusted or an HTTP error answer, 2 bad usage, transport,
 * TPM or file errors. */

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdarg.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <jansson.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <tss2/tss2_esys.h>
#include <tss2/tss2_mu.h>
#include <tss2/tss2_rc.h>
#include <tss2/tss2_tctildr.h>

#include "event-chain.h"
#include "fileio.h"
#include "hex.h"
#include "ima-log.h"
#include "tcg-eventlog.h"
#include "tpm-credential.h"
#include "tpm-gateway.h"
#include "tpm-marshal.h"
#include "tpm-quote.h"

#define EXIT_NEGATIVE 1
#define EXIT_ERROR    2
#define FILE_MAX      (256u * 1024 * 1024)

struct args {
        const char *verifier, *ca, *tcti, *state, *id;
        const char *command;
        enum dw_tpm_key_type ek_alg;
        uint32_t ak_handle, event_key_handle;
        const char *token_file;
        const char *ima_log, *boot_log, *nonce_file, *save_request, *out;
        enum dw_hash_alg ima_digest_alg;
        bool always_boot_log;
        bool nv_certify;
        uint32_t nv_index;
        const char *batch_json;
        unsigned record, events_per_batch;
        const char *positional;
};

_printf_(1, 2) static int fail(const char *fmt, ...)
{
        va_list ap;

        fputs("gateway-client: ", stderr);
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fputc('\n', stderr);
        return -EXIT_ERROR;
}

static void help(void)
{
        printf("Usage: gateway-client --verifier URL --ca CA.pem --tcti STR --state DIR [--id ID] COMMAND\n"
               "  enroll [--ek-alg rsa|ecc|ecc384] [--ak-handle H] [--event-key-handle H] [--token FILE]\n"
               "  attest --ima-log FILE [--ima-digest-alg sha1] [--boot-log FILE] [--always-boot-log]\n"
               "         [--nonce-file F] [--save-request F] [--nv-certify [--nv-index H]]\n"
               "  events --batch-json FILE | --record N [--events-per-batch M]\n"
               "  nonce --out F\n"
               "  post-attest F\n"
               "  firmware --boot-log FILE\n"
               "Exit status: 0 trusted or done, 1 another verdict or an HTTP error, 2 errors.\n");
}

/* ---- small helpers ------------------------------------------------------------------------------------------- */

static char *path_in(const struct args *a, const char *name)
{
        char *p = NULL;

        if (asprintf(&p, "%s/%s", a->state, name) < 0)
                return NULL;
        return p;
}

static int write_file(const char *path, const void *data, size_t size, mode_t mode)
{
        _cleanup_close_ int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
        const uint8_t *p = data;

        if (fd < 0)
                return fail("%s: %s", path, strerror(errno));
        while (size > 0) {
                ssize_t n = write(fd, p, size);

                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        return fail("%s: %s", path, strerror(errno));
                p += n;
                size -= (size_t)n;
        }
        return 0;
}

static int read_file(const char *path, uint8_t **ret, size_t *ret_size)
{
        int r = dw_read_full_file(path, FILE_MAX, ret, ret_size);

        if (r < 0)
                return fail("%s: %s", path, strerror(-r));
        return 0;
}

static char *base64(const void *data, size_t size)
{
        char *out = malloc(4 * ((size + 2) / 3) + 1);

        if (out)
                EVP_EncodeBlock((unsigned char *)out, data, (int)size);
        return out;
}

/* Standard base64 with padding; returns a malloc'd buffer. */
static int unbase64(const char *s, uint8_t **ret, size_t *ret_size)
{
        size_t len = strlen(s), pad = 0;
        uint8_t *out;
        int n;

        if (len % 4 != 0)
                return -EINVAL;
        out = malloc(len / 4 * 3 + 1);
        if (!out)
                return -ENOMEM;
        n = EVP_DecodeBlock(out, (const unsigned char *)s, (int)len);
        if (n < 0) {
                free(out);
                return -EINVAL;
        }
        while (pad < 2 && len > pad && s[len - 1 - pad] == '=')
                pad++;
        *ret = out;
        *ret_size = (size_t)n - pad;
        return 0;
}

static char *public_b64(const TPM2B_PUBLIC *pub)
{
        uint8_t buf[sizeof(TPM2B_PUBLIC)];
        size_t off = 0;

        if (Tss2_MU_TPM2B_PUBLIC_Marshal(pub, buf, sizeof(buf), &off) != TSS2_RC_SUCCESS)
                return NULL;
        return base64(buf, off);
}

static char *signature_b64(const TPMT_SIGNATURE *sig)
{
        uint8_t buf[sizeof(TPMT_SIGNATURE)];
        size_t off = 0;

        if (Tss2_MU_TPMT_SIGNATURE_Marshal(sig, buf, sizeof(buf), &off) != TSS2_RC_SUCCESS)
                return NULL;
        return base64(buf, off);
}

/* ---- HTTP ---------------------------------------------------------------------------------------------------- */

struct http {
        CURL *curl;
        const struct args *a;
        char *cert, *key; /* the TLS client certificate and key, once enrolled */
        char error[CURL_ERROR_SIZE];
};

struct buffer {
        char *data;
        size_t size;
};

static size_t collect(char *p, size_t size, size_t n, void *userdata)
{
        struct buffer *b = userdata;
        char *q = realloc(b->data, b->size + size * n + 1);

        if (!q)
                return 0;
        memcpy(q + b->size, p, size * n);
        b->data = q;
        b->size += size * n;
        b->data[b->size] = '\0';
        return size * n;
}

static int http_init(struct http *h, const struct args *a, bool with_cert)
{
        *h = (struct http){.a = a};
        h->curl = curl_easy_init();
        if (!h->curl)
                return fail("curl_easy_init failed");
        if (with_cert) {
                h->cert = path_in(a, "tls.pem");
                h->key = path_in(a, "tls.key");
                if (!h->cert || !h->key)
                        return fail("out of memory");
                if (access(h->cert, R_OK) < 0)
                        return fail("%s: not enrolled (%s)", a->state, strerror(errno));
        }
        return 0;
}

static void http_done(struct http *h)
{
        if (h->curl)
                curl_easy_cleanup(h->curl);
        free(h->cert);
        free(h->key);
}

/* POSTs body (JSON text) to the verifier's path; *ret gets the parsed answer, *ret_status the HTTP status. */
static int http_post(struct http *h, const char *path, const char *body, const char *bearer, json_t **ret,
                     long *ret_status)
{
        _cleanup_free_ char *url = NULL, *auth = NULL;
        struct curl_slist *headers = NULL;
        struct buffer resp = {};
        json_error_t jerr;
        CURLcode rc;
        long status = 0;
        json_t *j;

        if (asprintf(&url, "%s%s", h->a->verifier, path) < 0)
                return fail("out of memory");
        headers = curl_slist_append(headers, "Content-Type: application/json");
        if (bearer && asprintf(&auth, "Authorization: Bearer %s", bearer) >= 0)
                headers = curl_slist_append(headers, auth);
        curl_easy_setopt(h->curl, CURLOPT_URL, url);
        curl_easy_setopt(h->curl, CURLOPT_CAINFO, h->a->ca);
        curl_easy_setopt(h->curl, CURLOPT_SSLCERT, h->cert);
        curl_easy_setopt(h->curl, CURLOPT_SSLKEY, h->key);
        curl_easy_setopt(h->curl, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(h->curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(body));
        curl_easy_setopt(h->curl, CURLOPT_HTTPHEADER, headers);
        curl_easy_setopt(h->curl, CURLOPT_WRITEFUNCTION, collect);
        curl_easy_setopt(h->curl, CURLOPT_WRITEDATA, &resp);
        curl_easy_setopt(h->curl, CURLOPT_ERRORBUFFER, h->error);
        curl_easy_setopt(h->curl, CURLOPT_TIMEOUT, 60L);
        h->error[0] = '\0';
        rc = curl_easy_perform(h->curl);
        curl_slist_free_all(headers);
        if (rc != CURLE_OK) {
                free(resp.data);
                return fail("POST %s: %s", path, h->error[0] ? h->error : curl_easy_strerror(rc));
        }
        curl_easy_getinfo(h->curl, CURLINFO_RESPONSE_CODE, &status);
        j = resp.data ? json_loads(resp.data, 0, &jerr) : NULL;
        if (!j) {
                fprintf(stderr, "gateway-client: POST %s: HTTP %ld, not JSON: %.200s\n", path, status,
                        resp.data ? resp.data : "");
                free(resp.data);
                return -EXIT_ERROR;
        }
        free(resp.data);
        *ret = j;
        *ret_status = status;
        return 0;
}

/* Prints an answer; an error answer ({"error", "detail"}) also on stderr, and is EXIT_NEGATIVE. */
static int print_answer(json_t *j, long status)
{
        _cleanup_free_ char *text = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER);

        printf("%s\n", text ? text : "{}");
        if (status >= 200 && status < 300)
                return 0;
        fprintf(stderr, "gateway-client: HTTP %ld: %s: %s\n", status,
                json_string_value(json_object_get(j, "error")) ?: "?",
                json_string_value(json_object_get(j, "detail")) ?: "");
        return EXIT_NEGATIVE;
}

/* ---- TPM ----------------------------------------------------------------------------------------------------- */

static int tpm_fail(const char *what, const struct dw_error *err)
{
        return fail("%s: %s", what, err->msg);
}

/* ---- enroll -------------------------------------------------------------------------------------------------- */

struct enroll_keys {
        struct dw_tpm_key ek, ak, event_key;
        char *ek_cert_b64;
};

static void enroll_keys_done(struct enroll_keys *k)
{
        free(k->ek_cert_b64);
}

static int ek_cert_find(struct dw_tpm *t, struct enroll_keys *k)
{
        struct dw_tpm_ek_cert *certs = NULL;
        struct dw_error err = {};
        size_t n = 0;

        if (dw_tpm_ek_certs_read(t, &certs, &n, &err) < 0)
                return tpm_fail("reading the EK certificates", &err);
        for (size_t i = 0; i < n && !k->ek_cert_b64; i++)
                if (dw_tpm_ek_cert_matches(certs[i].der, certs[i].der_size, &k->ek, NULL) > 0)
                        k->ek_cert_b64 = base64(certs[i].der, certs[i].der_size);
        dw_tpm_ek_certs_free(certs, n);
        if (!k->ek_cert_b64)
                return fail("no EK certificate in the TPM's NV carries the key of the %s EK",
                            dw_tpm_key_type_name(k->ek.type));
        return 0;
}

static int tpm_keys(struct dw_tpm *t, const struct args *a, struct enroll_keys *k)
{
        struct dw_error err = {};
        int r;

        if (dw_tpm_ek_create(t, a->ek_alg, &k->ek, &err) < 0)
                return tpm_fail("creating the EK", &err);
        r = ek_cert_find(t, k);
        if (r < 0)
                return r;
        if (dw_tpm_ak_ensure(t, a->ak_handle, DW_TPM_KEY_ECC_P256, a->ek_alg, &k->ak, &err) < 0)
                return tpm_fail("the AK", &err);
        if (dw_tpm_event_key_ensure(t, a->event_key_handle, a->ek_alg, &k->event_key, &err) < 0)
                return tpm_fail("the event key", &err);
        return 0;
}

static void pkey_freep(EVP_PKEY **k)
{
        EVP_PKEY_free(*k);
}
static void req_freep(X509_REQ **r)
{
        X509_REQ_free(*r);
}
static void bio_freep(BIO **b)
{
        BIO_free(*b);
}

static char *bio_text(BIO *b)
{
        char *data;
        long n = BIO_get_mem_data(b, &data);

        return n > 0 ? strndup(data, (size_t)n) : NULL;
}

/* A fresh TLS key and a CSR for it (PEM); the key is saved only once enrolled. */
static int tls_key_and_csr(const struct args *a, char **ret_key, char **ret_csr)
{
        _cleanup_(pkey_freep) EVP_PKEY *key = EVP_EC_gen("P-256");
        _cleanup_(req_freep) X509_REQ *req = X509_REQ_new();
        _cleanup_(bio_freep) BIO *kb = BIO_new(BIO_s_mem()), *rb = BIO_new(BIO_s_mem());
        X509_NAME *name; /* owned by req */

        if (!key || !req || !kb || !rb)
                return fail("out of memory");
        name = X509_REQ_get_subject_name(req);
        if (X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, (const unsigned char *)a->id, -1, -1, 0) != 1 ||
            X509_REQ_set_pubkey(req, key) != 1 || X509_REQ_sign(req, key, EVP_sha256()) <= 0 ||
            PEM_write_bio_X509_REQ(rb, req) != 1 || PEM_write_bio_PrivateKey(kb, key, NULL, NULL, 0, NULL, NULL) != 1)
                return fail("cannot make the TLS key and its CSR");
        *ret_key = bio_text(kb);
        *ret_csr = bio_text(rb);
        if (!*ret_key || !*ret_csr)
                return fail("out of memory");
        return 0;
}

static char *enroll_body(const struct enroll_keys *k, const char *csr)
{
        _cleanup_free_ char *ek = public_b64(&k->ek.public), *ak = public_b64(&k->ak.public),
                            *evk = public_b64(&k->event_key.public);
        _cleanup_(json_decrefp) json_t *j = NULL;

        if (!ek || !ak || !evk)
                return NULL;
        j = json_pack("{s:s, s:s, s:s, s:s, s:s}", "ek_certificate", k->ek_cert_b64, "ek_public", ek, "ak_public", ak,
                      "event_key_public", evk, "csr", csr);
        return j ? json_dumps(j, JSON_COMPACT) : NULL;
}

/* TPM2_ActivateCredential of the verifier's credential, then the proof and the event key's certification. */
static char *activate_body(struct dw_tpm *t, const struct args *a, json_t *challenge)
{
        const char *cred_b64 = json_string_value(json_object_get(challenge, "credential"));
        const char *nonce_hex = json_string_value(json_object_get(challenge, "nonce"));
        _cleanup_free_ uint8_t *cred = NULL;
        _cleanup_free_ char *attest = NULL, *sig = NULL;
        _cleanup_(json_decrefp) json_t *j = NULL;
        struct dw_tpm_signed_attest certify;
        TPM2B_ID_OBJECT blob;
        TPM2B_ENCRYPTED_SECRET seed;
        TPM2B_DIGEST secret;
        struct dw_error err = {};
        uint8_t nonce[64], proof[32];
        unsigned proof_size = sizeof(proof);
        char proof_hex[65];
        size_t cred_size;
        int n;

        if (!cred_b64 || !nonce_hex || unbase64(cred_b64, &cred, &cred_size) < 0 ||
            dw_tpm_credential_file_parse(cred, cred_size, &blob, &seed, &err) < 0) {
                fail("the verifier's challenge is not a credential and a nonce");
                return NULL;
        }
        n = dw_hex_decode(nonce_hex, strlen(nonce_hex), nonce, sizeof(nonce));
        if (n <= 0) {
                fail("the verifier's nonce is not hex");
                return NULL;
        }
        if (dw_tpm_activate_credential(t, a->ak_handle, a->ek_alg, &blob, &seed, &secret, &err) < 0) {
                tpm_fail("activating the credential", &err);
                return NULL;
        }
        HMAC(EVP_sha256(), secret.buffer, secret.size, nonce, (size_t)n, proof, &proof_size);
        if (dw_tpm_certify(t, a->event_key_handle, a->ak_handle, nonce, (size_t)n, &certify, &err) < 0) {
                tpm_fail("certifying the event key", &err);
                return NULL;
        }
        attest = base64(certify.attest.attestationData, certify.attest.size);
        sig = signature_b64(&certify.signature);
        if (!attest || !sig)
                return NULL;
        j = json_pack("{s:s, s:{s:s, s:s}}", "proof", dw_hex_encode(proof, sizeof(proof), proof_hex),
                      "event_key_certify", "attest", attest, "signature", sig);
        return j ? json_dumps(j, JSON_COMPACT) : NULL;
}

/* The key and the certificate issued for it, together. */
static int enrolled_save(const struct args *a, json_t *answer, const char *key_pem)
{
        const char *cert = json_string_value(json_object_get(answer, "certificate"));
        _cleanup_free_ char *cert_path = path_in(a, "tls.pem"), *key_path = path_in(a, "tls.key");
        int r;

        if (!cert || !cert_path || !key_path)
                return fail("the verifier's answer has no certificate");
        r = write_file(key_path, key_pem, strlen(key_pem), 0600);
        if (r < 0)
                return r;
        return write_file(cert_path, cert, strlen(cert), 0644);
}

static int read_token(const char *path, char **ret)
{
        uint8_t *data;
        size_t size;
        int r;

        r = read_file(path, &data, &size);
        if (r < 0)
                return r;
        *ret = strndup((const char *)data, strcspn((const char *)data, "\r\n"));
        free(data);
        return *ret ? 0 : fail("out of memory");
}

static int cmd_enroll(const struct args *a)
{
        _cleanup_(dw_tpm_closep) struct dw_tpm *t = NULL;
        _cleanup_(enroll_keys_done) struct enroll_keys k = {};
        _cleanup_(http_done) struct http h = {};
        _cleanup_(json_decrefp) json_t *challenge = NULL, *answer = NULL;
        _cleanup_free_ char *csr = NULL, *key = NULL, *body = NULL, *body2 = NULL, *token = NULL, *path = NULL;
        struct dw_error err = {};
        long status;
        int r;

        if (a->token_file && read_token(a->token_file, &token) < 0)
                return -EXIT_ERROR;
        if (dw_tpm_open(a->tcti, &t, &err) < 0)
                return tpm_fail("opening the TPM", &err);
        r = tpm_keys(t, a, &k);
        if (r < 0)
                return r;
        r = tls_key_and_csr(a, &key, &csr);
        if (r < 0)
                return r;
        body = enroll_body(&k, csr);
        if (!body)
                return fail("out of memory");
        r = http_init(&h, a, false);
        if (r < 0)
                return r;
        if (asprintf(&path, "/v1/gateways/%s/enroll", a->id) < 0)
                return fail("out of memory");
        r = http_post(&h, path, body, token, &challenge, &status);
        if (r < 0)
                return r;
        if (status != 200)
                return print_answer(challenge, status);
        body2 = activate_body(t, a, challenge);
        if (!body2)
                return -EXIT_ERROR;
        free(path);
        if (asprintf(&path, "/v1/gateways/%s/activate", a->id) < 0)
                return fail("out of memory");
        r = http_post(&h, path, body2, token, &answer, &status);
        if (r < 0)
                return r;
        if (status == 200) {
                r = enrolled_save(a, answer, key);
                if (r < 0)
                        return r;
        }
        OPENSSL_cleanse(key, strlen(key));
        return print_answer(answer, status);
}

/* ---- attest -------------------------------------------------------------------------------------------------- */

/* The bytes of the complete entries of a binary IMA log from entry `from` on; *ret_first is from, or 0 when the log
 * has fewer entries (the gateway rebooted and its log started again). */
static int ima_slice(const struct args *a, const uint8_t *log, size_t size, uint64_t from, size_t *ret_offset,
                     size_t *ret_size, uint64_t *ret_first, uint64_t *ret_count)
{
        struct dw_ima_parser p;
        struct dw_error err = {};
        size_t start = SIZE_MAX, end;
        uint64_t count = 0, total = 0;
        int r;

        dw_ima_parser_init(&p, DW_IMA_FORMAT_BINARY, a->ima_digest_alg, log, size);
        for (;;) {
                struct dw_ima_entry e;
                size_t pos = p.pos;

                r = dw_ima_parser_next(&p, &e, &err);
                if (r <= 0)
                        break;
                if (e.index == from)
                        start = pos;
                total++;
        }
        end = p.pos;
        dw_ima_parser_done(&p);
        if (r < 0 && r != -EAGAIN)
                return fail("%s: entry %llu: %s", a->ima_log, (unsigned long long)err.index, err.msg);
        if (total < from || (start == SIZE_MAX && total > from))
                from = 0, start = 0; /* fewer entries than the verifier has seen: a new boot */
        if (start == SIZE_MAX)
                start = end; /* nothing new */
        count = total - from;
        *ret_offset = start;
        *ret_size = end - start;
        *ret_first = from;
        *ret_count = count;
        return 0;
}

struct round_args {
        uint8_t nonce[64];
        size_t nonce_size;
        char pcr_selection[128];
        uint64_t ima_from;
        bool boot_log_required;
};

static int round_args_from(json_t *j, struct round_args *ret)
{
        const char *nonce = json_string_value(json_object_get(j, "nonce"));
        const char *sel = json_string_value(json_object_get(j, "pcr_selection"));
        int n;

        if (!nonce || !sel || !json_is_integer(json_object_get(j, "ima_from")))
                return fail("the nonce answer lacks nonce, pcr_selection or ima_from");
        n = dw_hex_decode(nonce, strlen(nonce), ret->nonce, sizeof(ret->nonce));
        if (n <= 0)
                return fail("the nonce is not hex");
        ret->nonce_size = (size_t)n;
        snprintf(ret->pcr_selection, sizeof(ret->pcr_selection), "%s", sel);
        ret->ima_from = (uint64_t)json_integer_value(json_object_get(j, "ima_from"));
        ret->boot_log_required = json_is_true(json_object_get(j, "boot_log_required"));
        return 0;
}

static int nonce_get(struct http *h, const struct args *a, json_t **ret)
{
        _cleanup_free_ char *path = NULL;
        long status;
        int r;

        if (asprintf(&path, "/v1/gateways/%s/nonce", a->id) < 0)
                return fail("out of memory");
        r = http_post(h, path, "{}", NULL, ret, &status);
        if (r < 0)
                return r;
        if (status != 200) {
                r = print_answer(*ret, status);
                json_decref(*ret);
                *ret = NULL;
                return -r;
        }
        return 0;
}

/* TPM2_Quote over the selection asked for: the quote's JSON member {"attest", "signature", "pcrs"}. */
static json_t *quote_json(struct dw_tpm *t, const struct args *a, const struct round_args *ra)
{
        _cleanup_free_ struct dw_tpm_pcrs *pcrs = malloc(sizeof(struct dw_tpm_pcrs));
        _cleanup_free_ uint8_t *file = NULL;
        _cleanup_free_ char *attest = NULL, *sig = NULL, *pcrs_b64 = NULL;
        struct dw_tpm_signed_attest quote;
        TPML_PCR_SELECTION sel;
        struct dw_error err = {};
        size_t size;

        if (!pcrs)
                return NULL;
        if (dw_tpm_pcr_selection_from_string(ra->pcr_selection, &sel, &err) < 0 ||
            dw_tpm_quote_pcrs(t, a->ak_handle, ra->nonce, ra->nonce_size, &sel, &quote, pcrs, &err) < 0) {
                tpm_fail("quote", &err);
                return NULL;
        }
        if (dw_tpm_pcrs_file_write(pcrs, &file, &size) < 0)
                return NULL;
        attest = base64(quote.attest.attestationData, quote.attest.size);
        sig = signature_b64(&quote.signature);
        pcrs_b64 = base64(file, size);
        if (!attest || !sig || !pcrs_b64)
                return NULL;
        return json_pack("{s:s, s:s, s:s}", "attest", attest, "signature", sig, "pcrs", pcrs_b64);
}

/* TPM2_NV_Certify of the event-chain NV extend index by the AK over the round's nonce: {"attest", "signature",
 * "public"} (public: the index's TPMS_NV_PUBLIC as it is now, marshalled; the verifier computes its Name). */
static json_t *nv_certify_json(struct dw_tpm *t, const struct args *a, const struct round_args *ra)
{
        _cleanup_free_ char *attest = NULL, *sig = NULL, *pub = NULL;
        struct dw_tpm_nv_extend_info info;
        struct dw_tpm_signed_attest cert;
        struct dw_error err = {};
        uint8_t buf[sizeof(TPMS_NV_PUBLIC)];
        size_t off = 0;

        if (dw_tpm_nv_extend_define(t, a->nv_index, true, &info, &err) < 0 ||
            dw_tpm_nv_extend_certify(t, a->nv_index, a->ak_handle, ra->nonce, ra->nonce_size, &cert, &err) < 0) {
                tpm_fail("NV certify", &err);
                return NULL;
        }
        if (Tss2_MU_TPMS_NV_PUBLIC_Marshal(&info.public, buf, sizeof(buf), &off) != TSS2_RC_SUCCESS) {
                fail("cannot marshal the NV index's public area");
                return NULL;
        }
        attest = base64(cert.attest.attestationData, cert.attest.size);
        sig = signature_b64(&cert.signature);
        pub = base64(buf, off);
        if (!attest || !sig || !pub)
                return NULL;
        return json_pack("{s:s, s:s, s:s}", "attest", attest, "signature", sig, "public", pub);
}

struct sent {
        uint64_t ima_first_index, ima_entries;
        bool boot_log;
};

/* The attest request: quote first, then the logs (which may then run ahead of it, never behind). */
static char *attest_body(struct dw_tpm *t, const struct args *a, const struct round_args *ra, struct sent *sent)
{
        _cleanup_free_ uint8_t *log = NULL, *boot = NULL;
        _cleanup_free_ char *ima_b64 = NULL, *boot_b64 = NULL;
        _cleanup_(json_decrefp) json_t *j = NULL;
        char nonce_hex[129];
        size_t log_size, boot_size, off = 0, len = 0;
        json_t *quote;

        quote = quote_json(t, a, ra);
        if (!quote)
                return NULL;
        j = json_pack("{s:s, s:o}", "nonce", dw_hex_encode(ra->nonce, ra->nonce_size, nonce_hex), "quote", quote);
        if (!j || read_file(a->ima_log, &log, &log_size) < 0 ||
            ima_slice(a, log, log_size, ra->ima_from, &off, &len, &sent->ima_first_index, &sent->ima_entries) < 0)
                return NULL;
        ima_b64 = base64(log + off, len);
        if (!ima_b64)
                return NULL;
        if (a->nv_certify) {
                json_t *nv = nv_certify_json(t, a, ra);

                if (!nv)
                        return NULL;
                json_object_set_new(j, "nv_certify", nv);
        }
        json_object_set_new(j, "ima",
                            json_pack("{s:I, s:s, s:s}", "first_index", (json_int_t)sent->ima_first_index, "digest_alg",
                                      dw_hash_alg_name(a->ima_digest_alg), "entries", ima_b64));
        if (a->boot_log && (ra->boot_log_required || a->always_boot_log)) {
                if (read_file(a->boot_log, &boot, &boot_size) < 0)
                        return NULL;
                boot_b64 = base64(boot, boot_size);
                if (!boot_b64)
                        return NULL;
                json_object_set_new(j, "boot_log", json_string(boot_b64));
                sent->boot_log = true;
        }
        return json_dumps(j, JSON_COMPACT);
}

static int verdict_exit(json_t *answer, long status)
{
        int r = print_answer(answer, status);

        if (r != 0)
                return r;
        return strcmp(json_string_value(json_object_get(answer, "verdict")) ?: "", "trusted") == 0 ? 0 : EXIT_NEGATIVE;
}

static int save_token(const struct args *a, json_t *answer)
{
        const char *token = json_string_value(json_object_get(answer, "token"));
        _cleanup_free_ char *path = path_in(a, "token.jwt");

        if (!token || !path)
                return 0;
        return write_file(path, token, strlen(token), 0644);
}

static int post_attest(struct http *h, const struct args *a, const char *body, json_t **ret, long *ret_status)
{
        _cleanup_free_ char *path = NULL;

        if (asprintf(&path, "/v1/gateways/%s/attest", a->id) < 0)
                return fail("out of memory");
        return http_post(h, path, body, NULL, ret, ret_status);
}

static int load_nonce_answer(struct http *h, const struct args *a, json_t **ret)
{
        json_error_t jerr;

        if (!a->nonce_file)
                return nonce_get(h, a, ret);
        *ret = json_load_file(a->nonce_file, 0, &jerr);
        if (!*ret)
                return fail("%s: %s", a->nonce_file, jerr.text);
        return 0;
}

static int cmd_attest(const struct args *a)
{
        _cleanup_(dw_tpm_closep) struct dw_tpm *t = NULL;
        _cleanup_(http_done) struct http h = {};
        _cleanup_(json_decrefp) json_t *nonce = NULL, *answer = NULL;
        _cleanup_free_ char *body = NULL;
        struct round_args ra = {};
        struct sent sent = {};
        struct dw_error err = {};
        long status;
        int r;

        if (!a->ima_log)
                return fail("attest: --ima-log is required");
        r = http_init(&h, a, true);
        if (r < 0)
                return r;
        r = load_nonce_answer(&h, a, &nonce);
        if (r != 0)
                return r;
        r = round_args_from(nonce, &ra);
        if (r < 0)
                return r;
        if (dw_tpm_open(a->tcti, &t, &err) < 0)
                return tpm_fail("opening the TPM", &err);
        body = attest_body(t, a, &ra, &sent);
        if (!body)
                return fail("cannot build the attest request");
        if (a->save_request && write_file(a->save_request, body, strlen(body), 0644) < 0)
                return -EXIT_ERROR;
        r = post_attest(&h, a, body, &answer, &status);
        if (r < 0)
                return r;
        json_object_set_new(answer, "sent",
                            json_pack("{s:I, s:I, s:b}", "ima_first_index", (json_int_t)sent.ima_first_index,
                                      "ima_entries", (json_int_t)sent.ima_entries, "boot_log", sent.boot_log));
        r = save_token(a, answer);
        if (r < 0)
                return r;
        return verdict_exit(answer, status);
}

static int cmd_nonce(const struct args *a)
{
        _cleanup_(http_done) struct http h = {};
        _cleanup_(json_decrefp) json_t *nonce = NULL;
        int r;

        if (!a->out)
                return fail("nonce: --out is required");
        r = http_init(&h, a, true);
        if (r < 0)
                return r;
        r = nonce_get(&h, a, &nonce);
        if (r != 0)
                return r;
        if (json_dump_file(nonce, a->out, JSON_COMPACT) < 0)
                return fail("%s: cannot write", a->out);
        return 0;
}

static int cmd_post_attest(const struct args *a)
{
        _cleanup_(http_done) struct http h = {};
        _cleanup_(json_decrefp) json_t *answer = NULL;
        _cleanup_free_ uint8_t *body = NULL;
        size_t size;
        long status;
        int r;

        if (!a->positional)
                return fail("post-attest: which saved request?");
        r = read_file(a->positional, &body, &size);
        if (r < 0)
                return r;
        body = realloc(body, size + 1);
        if (!body)
                return fail("out of memory");
        body[size] = '\0';
        r = http_init(&h, a, true);
        if (r < 0)
                return r;
        r = post_attest(&h, a, (const char *)body, &answer, &status);
        if (r < 0)
                return r;
        return verdict_exit(answer, status);
}

/* ---- runtime events ------------------------------------------------------------------------------------------ */

static uint64_t now_usec(clockid_t clock)
{
        struct timespec ts;

        clock_gettime(clock, &ts);
        return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* The chain of STATE/event-chain, or a new one when there is none or it is of another TPM epoch (resetCount from a
 * TPM2_Certify of the event key, boot id from the kernel). */
static int chain_load(struct dw_tpm *t, const struct args *a, struct dw_event_chain *ret)
{
        _cleanup_free_ char *path = path_in(a, "event-chain");
        _cleanup_free_ uint8_t *blob = NULL, *boot = NULL;
        struct dw_tpm_signed_attest cert;
        struct dw_event_chain_id id;
        struct dw_error err = {};
        uint8_t boot_id[DW_EVENT_BOOT_ID_SIZE];
        TPMS_ATTEST attest;
        size_t size;

        if (!path)
                return fail("out of memory");
        if (dw_tpm_certify(t, a->event_key_handle, a->ak_handle, (const uint8_t *)"event-chain", 11, &cert, &err) < 0 ||
            dw_tpm_attest_parse(cert.attest.attestationData, cert.attest.size, &attest, &err) < 0)
                return tpm_fail("the TPM's resetCount", &err);
        if (access(path, F_OK) == 0) {
                if (read_file(path, &blob, &size) < 0)
                        return -EXIT_ERROR;
                if (dw_event_chain_deserialize(blob, size, ret, &err) < 0)
                        return fail("%s: %s", path, err.msg);
                if (ret->id.reset_count == attest.clockInfo.resetCount)
                        return 0;
        }
        if (read_file("/proc/sys/kernel/random/boot_id", &boot, &size) < 0 ||
            dw_event_boot_id_parse((const char *)boot, size, boot_id) < 0)
                return fail("cannot read the kernel's boot id");
        if (dw_event_chain_id_init(&id, a->id, attest.clockInfo.resetCount, boot_id) < 0 ||
            dw_event_chain_init(ret, &id) < 0)
                return fail("'%s' cannot name an event chain", a->id);
        return 0;
}

static int chain_save(const struct args *a, const struct dw_event_chain *c)
{
        _cleanup_free_ char *path = path_in(a, "event-chain");
        _cleanup_free_ uint8_t *blob = NULL;
        size_t size;

        if (!path || dw_event_chain_serialize(c, &blob, &size) < 0)
                return fail("cannot serialize the event chain");
        return write_file(path, blob, size, 0600);
}

/* One batch of `events` drift_exec events: signed by the event key, spooled as STATE/batch-SEQ.json, the chain
 * saved, then its head extended into the NV index (in that order: docs/events.md). */
static int batch_record(struct dw_tpm *t, const struct args *a, struct dw_event_chain *c, unsigned events)
{
        _cleanup_(dw_event_batch_freep) struct dw_event_batch *b = NULL;
        _cleanup_free_ char *json = NULL, *path = NULL;
        uint8_t digest[DW_EVENT_HEAD_SIZE];
        struct dw_error err = {};
        TPMT_SIGNATURE sig;
        char name[64];
        int r;

        if (dw_event_batch_new(c, &b) < 0)
                return fail("out of memory");
        for (unsigned i = 0; i < events; i++) {
                struct dw_event *ev = NULL;

                snprintf(name, sizeof(name), "/usr/local/bin/tool-%" PRIu64, c->next_seq);
                r = dw_event_new("drift_exec", DW_EVENT_WARNING, &ev);
                if (r >= 0) {
                        ev->realtime_usec = now_usec(CLOCK_REALTIME);
                        ev->monotonic_usec = now_usec(CLOCK_BOOTTIME);
                        r = dw_event_add_string(ev, "path", name, strlen(name));
                }
                if (r >= 0)
                        r = dw_event_add_int(ev, "pid", getpid());
                if (r >= 0)
                        r = dw_event_chain_append(c, b, ev);
                if (r < 0) {
                        dw_event_free(ev);
                        return fail("cannot record an event: %s", strerror(-r));
                }
        }
        if (dw_event_batch_digest(b, digest) < 0)
                return fail("cannot hash the batch");
        if (dw_tpm_sign_digest(t, a->event_key_handle, digest, sizeof(digest), &sig, &err) < 0)
                return tpm_fail("signing the batch", &err);
        if (dw_event_batch_set_signature(b, &sig) < 0 || dw_event_batch_format_json(b, &json) < 0)
                return fail("cannot format the batch");
        snprintf(name, sizeof(name), "batch-%" PRIu64 ".json", b->first_seq);
        path = path_in(a, name);
        if (!path || write_file(path, json, strlen(json), 0644) < 0 || chain_save(a, c) < 0)
                return -EXIT_ERROR;
        if (dw_tpm_nv_extend(t, a->nv_index, b->head, DW_EVENT_HEAD_SIZE, &err) < 0)
                return tpm_fail("extending the NV index", &err);
        printf("%s\n", path);
        return 0;
}

/* Records --record batches (each spooled, signed, extended) and prints their paths. */
static int events_record(const struct args *a)
{
        _cleanup_(dw_tpm_closep) struct dw_tpm *t = NULL;
        struct dw_tpm_nv_extend_info info;
        struct dw_event_chain c;
        struct dw_error err = {};
        int r;

        if (dw_tpm_open(a->tcti, &t, &err) < 0)
                return tpm_fail("opening the TPM", &err);
        if (dw_tpm_nv_extend_define(t, a->nv_index, true, &info, &err) < 0)
                return tpm_fail("the NV extend index", &err);
        r = chain_load(t, a, &c);
        for (unsigned i = 0; r >= 0 && i < a->record; i++)
                r = batch_record(t, a, &c, a->events_per_batch);
        return r;
}

/* Posts one signed batch (docs/events.md JSON, as lib/event-chain formats it). Exit 0 when accepted (ok or
 * duplicate), 1 for a refusal (the answer printed). */
static int cmd_events(const struct args *a)
{
        _cleanup_(http_done) struct http h = {};
        _cleanup_(json_decrefp) json_t *answer = NULL;
        _cleanup_free_ uint8_t *body = NULL;
        _cleanup_free_ char *path = NULL;
        size_t size;
        long status;
        int r;

        if (a->record > 0)
                return events_record(a);
        if (!a->batch_json)
                return fail("events: --batch-json or --record is required");
        r = read_file(a->batch_json, &body, &size);
        if (r < 0)
                return r;
        body = realloc(body, size + 1);
        if (!body)
                return fail("out of memory");
        body[size] = '\0';
        if (asprintf(&path, "/v1/gateways/%s/events", a->id) < 0)
                return fail("out of memory");
        r = http_init(&h, a, true);
        if (r < 0)
                return r;
        r = http_post(&h, path, (const char *)body, NULL, &answer, &status);
        if (r < 0)
                return r;
        return print_answer(answer, status);
}

/* ---- firmware (a test's boot) -------------------------------------------------------------------------------- */

/* The active PCR banks of the TPM. */
static int banks_active(ESYS_CONTEXT *esys, TPML_PCR_SELECTION *ret)
{
        TPMS_CAPABILITY_DATA *cap = NULL;
        TSS2_RC rc;

        rc = Esys_GetCapability(esys, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, TPM2_CAP_PCRS, 0, 1, NULL, &cap);
        if (rc != TSS2_RC_SUCCESS)
                return fail("reading the PCR banks: %s", Tss2_RC_Decode(rc));
        *ret = cap->data.assignedPCR;
        Esys_Free(cap);
        return 0;
}

static bool bank_active(const TPML_PCR_SELECTION *banks, uint16_t alg)
{
        for (uint32_t i = 0; i < banks->count; i++)
                if (banks->pcrSelections[i].hash == alg)
                        for (unsigned b = 0; b < banks->pcrSelections[i].sizeofSelect; b++)
                                if (banks->pcrSelections[i].pcrSelect[b])
                                        return true;
        return false;
}

static int extend_event(ESYS_CONTEXT *esys, const TPML_PCR_SELECTION *banks, const struct dw_tcg_event *ev)
{
        TPML_DIGEST_VALUES values = {};
        TSS2_RC rc;

        for (unsigned i = 0; i < ev->n_digests && values.count < TPM2_NUM_PCR_BANKS; i++) {
                if (!bank_active(banks, ev->digests[i].tpm_alg) || ev->digests[i].size > sizeof(TPMU_HA))
                        continue;
                values.digests[values.count].hashAlg = ev->digests[i].tpm_alg;
                memcpy(&values.digests[values.count].digest, ev->digests[i].digest, ev->digests[i].size);
                values.count++;
        }
        if (values.count == 0)
                return 0;
        rc = Esys_PCR_Extend(esys, ESYS_TR_PCR0 + ev->pcr, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, &values);
        if (rc != TSS2_RC_SUCCESS)
                return fail("extending PCR %u (event %llu): %s", ev->pcr, (unsigned long long)ev->index,
                            Tss2_RC_Decode(rc));
        return 0;
}

static int cmd_firmware(const struct args *a)
{
        _cleanup_free_ uint8_t *log = NULL;
        TSS2_TCTI_CONTEXT *tcti = NULL;
        ESYS_CONTEXT *esys = NULL;
        TPML_PCR_SELECTION banks = {};
        struct dw_tcg_parser p;
        struct dw_error err = {};
        size_t size;
        int r;

        if (!a->boot_log)
                return fail("firmware: --boot-log is required");
        r = read_file(a->boot_log, &log, &size);
        if (r < 0)
                return r;
        if (dw_tcg_parser_init(&p, log, size, &err) < 0)
                return fail("%s: %s", a->boot_log, err.msg);
        if (Tss2_TctiLdr_Initialize(a->tcti, &tcti) != TSS2_RC_SUCCESS || Esys_Initialize(&esys, tcti, NULL) != 0)
                return fail("cannot open the TPM at %s", a->tcti);
        r = banks_active(esys, &banks);
        while (r == 0) {
                struct dw_tcg_event ev;

                r = dw_tcg_parser_next(&p, &ev, &err);
                if (r <= 0)
                        break;
                r = ev.type == EV_NO_ACTION || ev.pcr >= DW_TCG_NR_PCRS ? 0 : extend_event(esys, &banks, &ev);
        }
        if (r < 0 && err.msg[0])
                fail("%s: %s", a->boot_log, err.msg);
        Esys_Finalize(&esys);
        Tss2_TctiLdr_Finalize(&tcti);
        return r < 0 ? -EXIT_ERROR : 0;
}

/* ---- main ---------------------------------------------------------------------------------------------------- */

static int parse_handle(const char *s, uint32_t *ret)
{
        char *end;
        unsigned long v;

        errno = 0;
        v = strtoul(s, &end, 0);
        if (errno != 0 || *end != '\0' || v > UINT32_MAX)
                return -EINVAL;
        *ret = (uint32_t)v;
        return 0;
}

enum {
        OPT_VERIFIER = 0x100,
        OPT_CA,
        OPT_TCTI,
        OPT_STATE,
        OPT_ID,
        OPT_EK_ALG,
        OPT_AK_HANDLE,
        OPT_EVENT_KEY_HANDLE,
        OPT_TOKEN,
        OPT_IMA_LOG,
        OPT_IMA_DIGEST_ALG,
        OPT_BOOT_LOG,
        OPT_ALWAYS_BOOT_LOG,
        OPT_NONCE_FILE,
        OPT_SAVE_REQUEST,
        OPT_OUT,
        OPT_NV_CERTIFY,
        OPT_NV_INDEX,
        OPT_BATCH_JSON,
        OPT_RECORD,
        OPT_EVENTS_PER_BATCH,
};

static int parse_option(struct args *a, int c, const char *arg)
{
        switch (c) {
        case OPT_VERIFIER:
                a->verifier = arg;
                return 0;
        case OPT_CA:
                a->ca = arg;
                return 0;
        case OPT_TCTI:
                a->tcti = arg;
                return 0;
        case OPT_STATE:
                a->state = arg;
                return 0;
        case OPT_ID:
                a->id = arg;
                return 0;
        case OPT_EK_ALG:
                return dw_tpm_key_type_from_name(arg, &a->ek_alg) < 0 ? fail("--ek-alg: rsa, ecc or ecc384") : 0;
        case OPT_AK_HANDLE:
                return parse_handle(arg, &a->ak_handle) < 0 ? fail("--ak-handle: not a handle") : 0;
        case OPT_EVENT_KEY_HANDLE:
                return parse_handle(arg, &a->event_key_handle) < 0 ? fail("--event-key-handle: not a handle") : 0;
        case OPT_TOKEN:
                a->token_file = arg;
                return 0;
        case OPT_IMA_LOG:
                a->ima_log = arg;
                return 0;
        case OPT_IMA_DIGEST_ALG:
                return dw_hash_alg_from_name(arg, strlen(arg), &a->ima_digest_alg) < 0 ? fail("--ima-digest-alg") : 0;
        case OPT_BOOT_LOG:
                a->boot_log = arg;
                return 0;
        case OPT_ALWAYS_BOOT_LOG:
                a->always_boot_log = true;
                return 0;
        case OPT_NONCE_FILE:
                a->nonce_file = arg;
                return 0;
        case OPT_SAVE_REQUEST:
                a->save_request = arg;
                return 0;
        case OPT_OUT:
                a->out = arg;
                return 0;
        case OPT_NV_CERTIFY:
                a->nv_certify = true;
                return 0;
        case OPT_NV_INDEX:
                return parse_handle(arg, &a->nv_index) < 0 ? fail("--nv-index: not an NV index") : 0;
        case OPT_BATCH_JSON:
                a->batch_json = arg;
                return 0;
        case OPT_RECORD:
        case OPT_EVENTS_PER_BATCH: {
                char *end;
                unsigned long v;

                errno = 0;
                v = strtoul(arg, &end, 10);
                if (errno != 0 || *end != '\0' || v == 0 || v > DW_EVENT_BATCH_EVENTS_MAX)
                        return fail("--record, --events-per-batch: 1-%u", DW_EVENT_BATCH_EVENTS_MAX);
                *(c == OPT_RECORD ? &a->record : &a->events_per_batch) = (unsigned)v;
                return 0;
        }
        default:
                return fail("unknown option (see --help)");
        }
}

static int parse_args(int argc, char **argv, struct args *a)
{
        static const struct option options[] = {
                {"help", no_argument, NULL, 'h'},
                {"verifier", required_argument, NULL, OPT_VERIFIER},
                {"ca", required_argument, NULL, OPT_CA},
                {"tcti", required_argument, NULL, OPT_TCTI},
                {"state", required_argument, NULL, OPT_STATE},
                {"id", required_argument, NULL, OPT_ID},
                {"ek-alg", required_argument, NULL, OPT_EK_ALG},
                {"ak-handle", required_argument, NULL, OPT_AK_HANDLE},
                {"event-key-handle", required_argument, NULL, OPT_EVENT_KEY_HANDLE},
                {"token", required_argument, NULL, OPT_TOKEN},
                {"ima-log", required_argument, NULL, OPT_IMA_LOG},
                {"ima-digest-alg", required_argument, NULL, OPT_IMA_DIGEST_ALG},
                {"boot-log", required_argument, NULL, OPT_BOOT_LOG},
                {"always-boot-log", no_argument, NULL, OPT_ALWAYS_BOOT_LOG},
                {"nonce-file", required_argument, NULL, OPT_NONCE_FILE},
                {"save-request", required_argument, NULL, OPT_SAVE_REQUEST},
                {"out", required_argument, NULL, OPT_OUT},
                {"nv-certify", no_argument, NULL, OPT_NV_CERTIFY},
                {"nv-index", required_argument, NULL, OPT_NV_INDEX},
                {"batch-json", required_argument, NULL, OPT_BATCH_JSON},
                {"record", required_argument, NULL, OPT_RECORD},
                {"events-per-batch", required_argument, NULL, OPT_EVENTS_PER_BATCH},
                {},
        };
        int c;

        *a = (struct args){
                .tcti = getenv("DRIFTWATCH_TCTI"),
                .id = "gateway",
                .ek_alg = DW_TPM_KEY_RSA2048,
                .ak_handle = DW_TPM_AK_HANDLE_DEFAULT,
                .event_key_handle = DW_TPM_EVENT_KEY_HANDLE_DEFAULT,
                .ima_digest_alg = DW_HASH_SHA1,
                .nv_index = DW_TPM_NV_INDEX_DEFAULT,
                .events_per_batch = 2,
        };
        /* Options may come before or after the command. */
        while ((c = getopt_long(argc, argv, "h", options, NULL)) >= 0) {
                if (c == 'h') {
                        help();
                        exit(0);
                }
                if (c == '?' || parse_option(a, c, optarg) < 0)
                        return -EXIT_ERROR;
        }
        if (optind >= argc)
                return fail("no command (see --help)");
        a->command = argv[optind++];
        if (optind < argc)
                a->positional = argv[optind++];
        if (optind < argc)
                return fail("unexpected argument '%s'", argv[optind]);
        if (strcmp(a->command, "firmware") != 0 && (!a->verifier || !a->ca || !a->state))
                return fail("--verifier, --ca and --state are required");
        if (a->state && mkdir(a->state, 0700) < 0 && errno != EEXIST)
                return fail("%s: %s", a->state, strerror(errno));
        return 0;
}

int main(int argc, char **argv)
{
        static const struct {
                const char *name;
                int (*run)(const struct args *a);
        } commands[] = {
                {"enroll", cmd_enroll},           {"attest", cmd_attest},     {"nonce", cmd_nonce},
                {"post-attest", cmd_post_attest}, {"firmware", cmd_firmware}, {"events", cmd_events},
        };
        struct args a;
        int r;

        r = parse_args(argc, argv, &a);
        if (r < 0)
                return EXIT_ERROR;
        for (size_t i = 0; i < ELEMENTSOF(commands); i++)
                if (strcmp(a.command, commands[i].name) == 0) {
                        curl_global_init(CURL_GLOBAL_DEFAULT);
                        r = commands[i].run(&a);
                        curl_global_cleanup();
                        return r < 0 ? -r : r;
                }
        fail("unknown command '%s' (see --help)", a.command);
        return EXIT_ERROR;
}
