/* SPDX-License-Identifier: MIT */
/* gateway-client: a test gateway for driftwatch-verifier: a command-line front over the monitor's verifier client
 * (monitor/verifier-client.c: the protocol of docs/protocol.md with the TPM core and libcurl), plus what only tests
 * need (recording event batches, playing the firmware's part). The gateway of the integration tests.
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
 *   challenge [--wait S] the challenge long poll (GET .../challenge?wait=S); prints {"challenge": true|false}
 *   firmware --boot-log FILE
 *       Extends the TPM's PCRs with the digests of a TCG boot event log, as firmware would have: a software TPM
 *       then holds what the log says, like a real machine after boot (for tests).
 *
 * Exit status: 0 trusted (or done), 1 a verdict other than trusted or an HTTP error answer, 2 bad usage, transport,
 * TPM or file errors. */

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <jansson.h>
#include <openssl/crypto.h>
#include <tss2/tss2_esys.h>
#include <tss2/tss2_rc.h>
#include <tss2/tss2_tctildr.h>

#include "event-chain.h"
#include "fileio.h"
#include "tcg-eventlog.h"
#include "tpm-gateway.h"
#include "tpm-quote.h"
#include "verifier-client.h"

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
        unsigned wait;
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
               "  challenge [--wait S]\n"
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

static int tpm_fail(const char *what, const struct dw_error *err)
{
        return fail("%s: %s", what, err->msg);
}

static void erase_freep(char **p)
{
        if (*p) {
                OPENSSL_cleanse(*p, strlen(*p));
                free(*p);
        }
}

/* A file read whole, NUL-terminated (a JSON text). */
static int read_text(const char *path, char **ret)
{
        uint8_t *data, *text;
        size_t size;
        int r;

        r = read_file(path, &data, &size);
        if (r < 0)
                return r;
        text = realloc(data, size + 1);
        if (!text) {
                free(data);
                return fail("out of memory");
        }
        text[size] = '\0';
        *ret = (char *)text;
        return 0;
}

/* ---- the verifier client ------------------------------------------------------------------------------------- */

static int vclient_open(const struct args *a, bool enrolled, struct mon_vclient **ret)
{
        _cleanup_(mon_vclient_freep) struct mon_vclient *c = NULL;
        const struct mon_vclient_options o = {
                .url = a->verifier,
                .ca_file = a->ca,
                .gateway_id = a->id,
                .state_dir = a->state,
                .connect_timeout_ms = 10000,
                .request_timeout_ms = 60000,
        };
        struct dw_error err = {};

        if (mon_vclient_new(&o, &c, &err) < 0)
                return fail("%s", err.msg);
        if (enrolled && !mon_vclient_enrolled(c))
                return fail("%s: not enrolled (no readable %s and %s)", a->state, MON_TLS_KEY_FILE, MON_TLS_CERT_FILE);
        *ret = TAKE_PTR(c);
        return 0;
}

/* POSTs body to the gateway's endpoint `what`; an answer that is not a JSON object is an error. */
static int post(struct mon_vclient *c, const struct args *a, const char *what, const char *body, json_t **ret,
                long *ret_status)
{
        _cleanup_free_ char *path = NULL;
        struct dw_error err = {};
        int r;

        if (asprintf(&path, "/v1/gateways/%s/%s", a->id, what) < 0) {
                path = NULL;
                return fail("out of memory");
        }
        r = mon_vclient_request(c, path, body, NULL, ret_status, ret, &err);
        if (r < 0)
                return fail("%s", err.msg);
        if (!*ret)
                return fail("POST %s: HTTP %ld with an empty answer", path, *ret_status);
        return 0;
}

/* ---- enroll -------------------------------------------------------------------------------------------------- */

static int read_token(const char *path, char **ret)
{
        uint8_t *data;
        size_t size;
        int r;

        r = read_file(path, &data, &size);
        if (r < 0)
                return r;
        *ret = strndup((const char *)data, strcspn((const char *)data, "\r\n"));
        OPENSSL_cleanse(data, size);
        free(data);
        return *ret ? 0 : fail("out of memory");
}

static int cmd_enroll(const struct args *a)
{
        _cleanup_(mon_vclient_freep) struct mon_vclient *c = NULL;
        _cleanup_(dw_tpm_closep) struct dw_tpm *t = NULL;
        _cleanup_(json_decrefp) json_t *answer = NULL;
        _cleanup_(erase_freep) char *token = NULL;
        struct mon_enroll_options o = {
                .ek_type = a->ek_alg,
                .ak_handle = a->ak_handle,
                .event_key_handle = a->event_key_handle,
        };
        struct dw_error err = {};
        long status;
        int r;

        if (a->token_file && read_token(a->token_file, &token) < 0)
                return -EXIT_ERROR;
        o.bearer = token;
        r = vclient_open(a, false, &c);
        if (r < 0)
                return r;
        if (dw_tpm_open(a->tcti, &t, &err) < 0)
                return tpm_fail("opening the TPM", &err);
        if (mon_vclient_enroll(c, t, &o, &status, &answer, &err) < 0)
                return fail("enroll: %s", err.msg);
        return print_answer(answer, status);
}

/* ---- attest -------------------------------------------------------------------------------------------------- */

/* A fresh /nonce answer. A refusal is printed: -EXIT_NEGATIVE. */
static int nonce_fetch(struct mon_vclient *c, const struct args *a, json_t **ret)
{
        _cleanup_(json_decrefp) json_t *j = NULL;
        long status;
        int r;

        r = post(c, a, "nonce", "{}", &j, &status);
        if (r < 0)
                return r;
        if (status != 200)
                return -print_answer(j, status);
        *ret = TAKE_PTR(j);
        return 0;
}

/* The round's nonce: the one saved in --nonce-file, or a fresh one. */
static int nonce_load(struct mon_vclient *c, const struct args *a, struct mon_round_request *ret)
{
        _cleanup_(json_decrefp) json_t *j = NULL;
        struct dw_error err = {};
        json_error_t jerr;
        int r;

        if (a->nonce_file) {
                j = json_load_file(a->nonce_file, JSON_REJECT_DUPLICATES, &jerr);
                if (!j)
                        return fail("%s: %s", a->nonce_file, jerr.text);
        } else {
                r = nonce_fetch(c, a, &j);
                if (r < 0)
                        return r;
        }
        if (mon_round_request_from_json(j, ret, &err) < 0)
                return fail("%s", err.msg);
        return 0;
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

/* The round, its request saved in --save-request before it is posted. */
static int attest_saved(struct mon_vclient *c, struct dw_tpm *t, const struct args *a,
                        const struct mon_round_request *req, const struct mon_round_evidence *ev,
                        struct mon_round_sent *ret_sent, json_t **ret, long *ret_status)
{
        _cleanup_free_ char *body = NULL;
        struct dw_error err = {};
        int r;

        r = mon_vclient_attest_build(c, t, req, ev, ret_sent, &body, &err);
        if (r < 0)
                return fail("attest: %s", err.msg);
        r = write_file(a->save_request, body, strlen(body), 0644);
        if (r < 0)
                return r;
        return post(c, a, "attest", body, ret, ret_status);
}

static int attest(struct mon_vclient *c, struct dw_tpm *t, const struct args *a, const struct mon_round_request *req,
                  struct mon_round_sent *ret_sent, json_t **ret, long *ret_status)
{
        const struct mon_round_evidence ev = {
                .ak_handle = a->ak_handle,
                .ima_log_path = a->ima_log,
                .ima_log_alg = a->ima_digest_alg,
                .boot_log_path = a->boot_log,
                .always_boot_log = a->always_boot_log,
                .nv_certify = a->nv_certify,
                .nv_index = a->nv_index,
        };
        struct dw_error err = {};

        if (a->save_request)
                return attest_saved(c, t, a, req, &ev, ret_sent, ret, ret_status);
        if (mon_vclient_attest(c, t, req, &ev, ret_sent, ret_status, ret, &err) < 0)
                return fail("attest: %s", err.msg);
        return 0;
}

static int cmd_attest(const struct args *a)
{
        _cleanup_(mon_vclient_freep) struct mon_vclient *c = NULL;
        _cleanup_(dw_tpm_closep) struct dw_tpm *t = NULL;
        _cleanup_(json_decrefp) json_t *answer = NULL;
        _cleanup_free_ struct mon_round_sent *sent = malloc(sizeof(*sent));
        struct mon_round_request req;
        struct dw_error err = {};
        long status;
        int r;

        if (!sent)
                return fail("out of memory");
        if (!a->ima_log)
                return fail("attest: --ima-log is required");
        r = vclient_open(a, true, &c);
        if (r < 0)
                return r;
        r = nonce_load(c, a, &req);
        if (r < 0)
                return r;
        if (dw_tpm_open(a->tcti, &t, &err) < 0)
                return tpm_fail("opening the TPM", &err);
        r = attest(c, t, a, &req, sent, &answer, &status);
        if (r < 0)
                return r;
        json_object_set_new(answer, "sent",
                            json_pack("{s:I, s:I, s:b}", "ima_first_index", (json_int_t)sent->ima_first_index,
                                      "ima_entries", (json_int_t)sent->ima_entries, "boot_log", sent->boot_log));
        r = save_token(a, answer);
        if (r < 0)
                return r;
        return verdict_exit(answer, status);
}

static int cmd_nonce(const struct args *a)
{
        _cleanup_(mon_vclient_freep) struct mon_vclient *c = NULL;
        _cleanup_(json_decrefp) json_t *nonce = NULL;
        int r;

        if (!a->out)
                return fail("nonce: --out is required");
        r = vclient_open(a, true, &c);
        if (r < 0)
                return r;
        r = nonce_fetch(c, a, &nonce);
        if (r < 0)
                return r;
        if (json_dump_file(nonce, a->out, JSON_COMPACT) < 0)
                return fail("%s: cannot write", a->out);
        return 0;
}

static int cmd_post_attest(const struct args *a)
{
        _cleanup_(mon_vclient_freep) struct mon_vclient *c = NULL;
        _cleanup_(json_decrefp) json_t *answer = NULL;
        _cleanup_free_ char *body = NULL;
        long status;
        int r;

        if (!a->positional)
                return fail("post-attest: which saved request?");
        r = read_text(a->positional, &body);
        if (r < 0)
                return r;
        r = vclient_open(a, true, &c);
        if (r < 0)
                return r;
        r = post(c, a, "attest", body, &answer, &status);
        if (r < 0)
                return r;
        return verdict_exit(answer, status);
}

/* The challenge long poll: prints {"challenge": true|false}. */
static int cmd_challenge(const struct args *a)
{
        _cleanup_(mon_vclient_freep) struct mon_vclient *c = NULL;
        struct dw_error err = {};
        bool challenge;
        int r;

        r = vclient_open(a, true, &c);
        if (r < 0)
                return r;
        if (mon_vclient_challenge_wait(c, a->wait, &challenge, &err) < 0)
                return fail("%s", err.msg);
        printf("{\n  \"challenge\": %s\n}\n", challenge ? "true" : "false");
        return 0;
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
        _cleanup_(mon_vclient_freep) struct mon_vclient *c = NULL;
        _cleanup_(json_decrefp) json_t *answer = NULL;
        _cleanup_free_ char *body = NULL;
        struct dw_error err = {};
        long status;
        int r;

        if (a->record > 0)
                return events_record(a);
        if (!a->batch_json)
                return fail("events: --batch-json or --record is required");
        r = read_text(a->batch_json, &body);
        if (r < 0)
                return r;
        r = vclient_open(a, true, &c);
        if (r < 0)
                return r;
        if (mon_vclient_post_batch(c, body, &status, &answer, &err) < 0)
                return fail("%s", err.msg);
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
        OPT_WAIT,
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
        case OPT_WAIT: {
                char *end;
                unsigned long v;

                errno = 0;
                v = strtoul(arg, &end, 10);
                if (errno != 0 || *end != '\0' || v > 3600)
                        return fail("--wait: 0-3600 seconds");
                a->wait = (unsigned)v;
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
                {"wait", required_argument, NULL, OPT_WAIT},
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
                {"challenge", cmd_challenge},
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
