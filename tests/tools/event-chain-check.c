/* SPDX-License-Identifier: MIT */
/* event-chain-check: the event chain (lib/event-chain.h) end to end against a live TPM, for
 * tests/shell/test-event-chain.sh. The gateway side signs with the TPM's event key and extends the NV index through
 * lib/tpm-gateway; the verifier side uses only files and the pure verifier functions.
 *
 *   event-chain-check gateway TCTI DIR GATEWAY_ID KEY_NONCE BATCHES EVENTS
 *       Ensures the AK (0x81010002, ECC P-256 under the RSA EK), the event key (0x81010003) and the NV extend index
 *       (0x01800100); certifies the event key with the AK over KEY_NONCE (DIR/ak.pub, DIR/evk.pub,
 *       DIR/evk-certify.attest, DIR/evk-certify.sig). Continues the chain of DIR/chain (a new chain, from the
 *       certification's resetCount and the kernel's boot id, when there is none or the TPM was reset since), and
 *       records BATCHES batches of EVENTS events each: each batch is written to DIR/batch-N.json (N counts on
 *       across runs), the chain state saved, the batch signed by the event key (TPM2_Sign) and its head extended
 *       into the NV index. Prints "batch-N.json: events A-B head HEX" per batch and "nv: HEX" (read back).
 *   event-chain-check certify TCTI DIR NV_NONCE
 *       TPM2_NV_Certify of the NV index by the AK: DIR/nv.attest, DIR/nv.sig, DIR/nv.name (the index's Name).
 *   event-chain-check verify DIR STATE GATEWAY_ID KEY_NONCE NV_NONCE [--accept-gap] [--no-nv] BATCH.json...
 *       The verifier: checks the event key's certification with the AK, takes the event key from its public area,
 *       loads STATE (a new state for GATEWAY_ID when the file does not exist), judges each batch and prints
 *       "NAME: VERDICT: message", saves the state, then checks DIR/nv.attest (certified by the AK over NV_NONCE)
 *       against it: "nv: VERDICT: message" and "nv-expected: HEX" (or "none").
 *
 * Exit 0 when everything held (batches ok or duplicate, NV ok), 1 for a negative verdict, 2 for an error. */

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <tss2/tss2_mu.h>

#include "event-chain.h"
#include "fileio.h"
#include "hex.h"
#include "tpm-gateway.h"
#include "tpm-quote.h"

#define AK_HANDLE  DW_TPM_AK_HANDLE_DEFAULT
#define EVK_HANDLE DW_TPM_EVENT_KEY_HANDLE_DEFAULT
#define NV_INDEX   DW_TPM_NV_INDEX_DEFAULT
#define FILE_MAX   (16u << 20)

_printf_(1, 2) static int fail(const char *fmt, ...)
{
        va_list ap;

        fprintf(stderr, "event-chain-check: ");
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fputc('\n', stderr);
        return -EINVAL;
}

static char *path_in(const char *dir, const char *name)
{
        char *p = NULL;

        if (asprintf(&p, "%s/%s", dir, name) < 0)
                return NULL;
        return p;
}

static int write_file(const char *dir, const char *name, const void *data, size_t size)
{
        _cleanup_free_ char *path = path_in(dir, name), *tmp = NULL;
        _cleanup_fclose_ FILE *f = NULL;

        if (!path || asprintf(&tmp, "%s.tmp", path) < 0)
                return fail("out of memory");
        f = fopen(tmp, "we");
        if (!f || fwrite(data, 1, size, f) != size || fflush(f) != 0 || fsync(fileno(f)) != 0)
                return fail("cannot write %s: %m", tmp);
        if (rename(tmp, path) < 0)
                return fail("cannot rename %s: %m", tmp);
        return 0;
}

/* -ENOENT when absent. */
static int read_file(const char *dir, const char *name, uint8_t **ret, size_t *ret_size)
{
        _cleanup_free_ char *path = name ? path_in(dir, name) : strdup(dir);

        if (!path)
                return -ENOMEM;
        if (access(path, F_OK) < 0)
                return -ENOENT;
        if (dw_read_full_file(path, FILE_MAX, ret, ret_size) < 0)
                return fail("cannot read %s", path);
        return 0;
}

static int nonce_arg(const char *s, uint8_t *out, size_t *ret_size)
{
        int n = dw_hex_decode(s, strlen(s), out, 64);

        if (n <= 0)
                return fail("bad nonce '%s' (1-64 bytes of hex)", s);
        *ret_size = (size_t)n;
        return 0;
}

static int write_public(const char *dir, const char *name, const TPM2B_PUBLIC *pub)
{
        uint8_t buf[sizeof(*pub)];
        size_t off = 0;

        if (Tss2_MU_TPM2B_PUBLIC_Marshal(pub, buf, sizeof(buf), &off) != TSS2_RC_SUCCESS)
                return fail("cannot marshal a public area");
        return write_file(dir, name, buf, off);
}

static int write_signed(const char *dir, const char *attest, const char *sig, const struct dw_tpm_signed_attest *a)
{
        uint8_t buf[sizeof(TPMT_SIGNATURE)];
        size_t off = 0;
        int r;

        if (Tss2_MU_TPMT_SIGNATURE_Marshal(&a->signature, buf, sizeof(buf), &off) != TSS2_RC_SUCCESS)
                return fail("cannot marshal a signature");
        r = write_file(dir, attest, a->attest.attestationData, a->attest.size);
        return r < 0 ? r : write_file(dir, sig, buf, off);
}

/* ---- gateway ------------------------------------------------------------------------------------------------ */

static uint64_t now_usec(clockid_t clock)
{
        struct timespec ts;

        clock_gettime(clock, &ts);
        return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* The monitor's kinds of events, one after the other. */
static int make_event(uint64_t i, struct dw_event **ret)
{
        static const char *const kinds[] = {"monitor_start", "ima_policy_violation", "pcr_log_mismatch", "drift_exec",
                                            "tpm_error"};
        static const enum dw_event_severity sev[] = {DW_EVENT_NOTICE, DW_EVENT_ERROR, DW_EVENT_CRITICAL,
                                                     DW_EVENT_WARNING, DW_EVENT_ERROR};
        _cleanup_(dw_event_freep) struct dw_event *ev = NULL;
        char path[64];
        int r;

        r = dw_event_new(kinds[i % 5], sev[i % 5], &ev);
        if (r < 0)
                return r;
        ev->realtime_usec = now_usec(CLOCK_REALTIME);
        ev->monotonic_usec = now_usec(CLOCK_BOOTTIME);
        snprintf(path, sizeof(path), "/usr/local/bin/tool-%" PRIu64 "\xff", i); /* a name that is not UTF-8 */
        switch (i % 5) {
        case 0:
                r = dw_event_add_int(ev, "pid", getpid());
                if (r >= 0)
                        r = dw_event_add_string(ev, "version", "0.1", 3);
                break;
        case 1:
                r = dw_event_add_bytes(ev, "path", path, strlen(path));
                if (r >= 0)
                        r = dw_event_add_string(ev, "rule", "not_in_allowlist", 16);
                break;
        case 2:
                r = dw_event_add_int(ev, "pcr", 10);
                if (r >= 0)
                        r = dw_event_add_string(ev, "bank", "sha256", 6);
                break;
        case 3:
                r = dw_event_add_bytes(ev, "path", path, strlen(path));
                if (r >= 0)
                        r = dw_event_add_int(ev, "uid", 0);
                break;
        default:
                r = dw_event_add_string(ev, "error", "tpm:handle(1):the handle is not correct for the use", 51);
        }
        if (r < 0)
                return r;
        *ret = TAKE_PTR(ev);
        return 0;
}

static int boot_id(uint8_t ret[static DW_EVENT_BOOT_ID_SIZE])
{
        _cleanup_free_ uint8_t *buf = NULL;
        size_t size;

        if (read_file("/proc/sys/kernel/random/boot_id", NULL, &buf, &size) < 0 ||
            dw_event_boot_id_parse((const char *)buf, size, ret) < 0)
                return fail("cannot read the kernel's boot id");
        return 0;
}

/* The chain of DIR/chain, or a new one when there is none or it is of another TPM epoch. */
static int load_chain(const char *dir, const char *gateway_id, uint32_t reset_count, struct dw_event_chain *ret)
{
        _cleanup_free_ uint8_t *blob = NULL;
        struct dw_event_chain_id id;
        uint8_t boot[DW_EVENT_BOOT_ID_SIZE];
        struct dw_error err = {};
        size_t size;
        int r;

        r = read_file(dir, "chain", &blob, &size);
        if (r >= 0) {
                if (dw_event_chain_deserialize(blob, size, ret, &err) < 0)
                        return fail("%s/chain: %s", dir, err.msg);
                if (ret->id.reset_count == reset_count)
                        return 0;
                printf("new chain: TPM resetCount %" PRIu32 " -> %" PRIu32 "\n", ret->id.reset_count, reset_count);
        } else if (r != -ENOENT)
                return r;
        r = boot_id(boot);
        if (r < 0)
                return r;
        if (dw_event_chain_id_init(&id, gateway_id, reset_count, boot) < 0 || dw_event_chain_init(ret, &id) < 0)
                return fail("bad gateway id '%s'", gateway_id);
        return 0;
}

static int save_chain(const char *dir, const struct dw_event_chain *c)
{
        _cleanup_free_ uint8_t *blob = NULL;
        size_t size;

        if (dw_event_chain_serialize(c, &blob, &size) < 0)
                return fail("cannot serialize the chain");
        return write_file(dir, "chain", blob, size);
}

static int next_batch_number(const char *dir, unsigned *ret)
{
        _cleanup_free_ uint8_t *buf = NULL;
        size_t size;
        int r;

        *ret = 1;
        r = read_file(dir, "batch-count", &buf, &size);
        if (r == -ENOENT)
                return 0;
        if (r < 0)
                return r;
        *ret = (unsigned)strtoul((const char *)buf, NULL, 10) + 1;
        return 0;
}

/* One batch: events, spooled as JSON, chain saved, signed, extended. */
static int record_batch(struct dw_tpm *t, const char *dir, struct dw_event_chain *c, unsigned number, unsigned events)
{
        _cleanup_(dw_event_batch_freep) struct dw_event_batch *b = NULL;
        _cleanup_free_ char *json = NULL;
        char name[32], count[16], hex[2 * DW_EVENT_HEAD_SIZE + 1];
        uint8_t digest[DW_EVENT_HEAD_SIZE];
        TPMT_SIGNATURE sig;
        struct dw_error err = {};
        int r;

        if (dw_event_batch_new(c, &b) < 0)
                return fail("cannot begin a batch");
        for (unsigned i = 0; i < events; i++) {
                struct dw_event *ev = NULL;

                r = make_event(c->next_seq, &ev);
                if (r >= 0)
                        r = dw_event_chain_append(c, b, ev);
                if (r < 0) {
                        dw_event_free(ev);
                        return fail("cannot record event %" PRIu64 ": %s", c->next_seq, strerror(-r));
                }
        }
        if (dw_event_batch_digest(b, digest) < 0)
                return fail("cannot hash the batch");
        if (dw_tpm_sign_digest(t, EVK_HANDLE, digest, sizeof(digest), &sig, &err) < 0)
                return fail("%s", err.msg);
        if (dw_event_batch_set_signature(b, &sig) < 0 || dw_event_batch_format_json(b, &json) < 0)
                return fail("cannot attach the signature");
        snprintf(name, sizeof(name), "batch-%u.json", number);
        snprintf(count, sizeof(count), "%u\n", number);
        r = write_file(dir, name, json, strlen(json));
        if (r >= 0)
                r = write_file(dir, "batch-count", count, strlen(count));
        if (r >= 0)
                r = save_chain(dir, c);
        if (r < 0)
                return r;
        if (dw_tpm_nv_extend(t, NV_INDEX, b->head, DW_EVENT_HEAD_SIZE, &err) < 0)
                return fail("%s", err.msg);
        printf("%s: events %" PRIu64 "-%" PRIu64 " head %s\n", name, b->first_seq, c->next_seq - 1,
               dw_hex_encode(b->head, DW_EVENT_HEAD_SIZE, hex));
        return 0;
}

static int cmd_gateway(const char *tcti, const char *dir, const char *gateway_id, const char *nonce_hex,
                       unsigned batches, unsigned events)
{
        _cleanup_(dw_tpm_closep) struct dw_tpm *t = NULL;
        struct dw_tpm_key ak, evk;
        struct dw_tpm_nv_extend_info info;
        struct dw_tpm_signed_attest cert;
        struct dw_event_chain c;
        struct dw_error err = {};
        TPMS_ATTEST a;
        uint8_t nonce[64], nv[DW_EVENT_HEAD_SIZE];
        char hex[2 * DW_EVENT_HEAD_SIZE + 1];
        size_t nonce_size;
        unsigned number;
        int r;

        r = nonce_arg(nonce_hex, nonce, &nonce_size);
        if (r < 0)
                return r;
        if (dw_tpm_open(tcti, &t, &err) < 0 ||
            dw_tpm_ak_ensure(t, AK_HANDLE, DW_TPM_KEY_ECC_P256, DW_TPM_KEY_RSA2048, &ak, &err) < 0 ||
            dw_tpm_event_key_ensure(t, EVK_HANDLE, DW_TPM_KEY_RSA2048, &evk, &err) < 0 ||
            dw_tpm_nv_extend_define(t, NV_INDEX, true, &info, &err) < 0 ||
            dw_tpm_certify(t, EVK_HANDLE, AK_HANDLE, nonce, nonce_size, &cert, &err) < 0)
                return fail("%s", err.msg);
        if (dw_tpm_attest_parse(cert.attest.attestationData, cert.attest.size, &a, &err) < 0)
                return fail("event key certification: %s", err.msg);
        r = write_public(dir, "ak.pub", &ak.public);
        if (r >= 0)
                r = write_public(dir, "evk.pub", &evk.public);
        if (r >= 0)
                r = write_signed(dir, "evk-certify.attest", "evk-certify.sig", &cert);
        if (r >= 0)
                r = load_chain(dir, gateway_id, a.clockInfo.resetCount, &c);
        if (r >= 0)
                r = next_batch_number(dir, &number);
        for (unsigned i = 0; r >= 0 && i < batches; i++)
                r = record_batch(t, dir, &c, number + i, events);
        if (r < 0)
                return r;
        if (dw_tpm_nv_extend_read(t, NV_INDEX, nv, &err) < 0)
                return fail("%s", err.msg);
        printf("nv: %s\n", dw_hex_encode(nv, sizeof(nv), hex));
        return 0;
}

static int cmd_certify(const char *tcti, const char *dir, const char *nonce_hex)
{
        _cleanup_(dw_tpm_closep) struct dw_tpm *t = NULL;
        struct dw_tpm_nv_extend_info info;
        struct dw_tpm_signed_attest cert;
        struct dw_error err = {};
        uint8_t nonce[64];
        size_t nonce_size;
        int r;

        r = nonce_arg(nonce_hex, nonce, &nonce_size);
        if (r < 0)
                return r;
        if (dw_tpm_open(tcti, &t, &err) < 0 ||
            dw_tpm_nv_extend_certify(t, NV_INDEX, AK_HANDLE, nonce, nonce_size, &cert, &err) < 0 ||
            dw_tpm_nv_extend_define(t, NV_INDEX, true, &info, &err) < 0)
                return fail("%s", err.msg);
        r = write_signed(dir, "nv.attest", "nv.sig", &cert);
        return r < 0 ? r : write_file(dir, "nv.name", info.name.name, info.name.size);
}

/* ---- verifier ----------------------------------------------------------------------------------------------- */

struct verifier {
        EVP_PKEY *ak;
        TPMT_PUBLIC ak_public;
        EVP_PKEY *evk;
};

static void verifier_done(struct verifier *v)
{
        EVP_PKEY_free(v->ak);
        EVP_PKEY_free(v->evk);
}

static int load_public(const char *dir, const char *name, TPMT_PUBLIC *ret)
{
        _cleanup_free_ uint8_t *buf = NULL;
        struct dw_error err = {};
        size_t size;

        if (read_file(dir, name, &buf, &size) < 0)
                return fail("cannot read %s/%s", dir, name);
        if (dw_tpm_public_parse(buf, size, ret, &err) < 0)
                return fail("%s/%s: %s", dir, name, err.msg);
        return 0;
}

static int load_evidence(const char *dir, const char *attest, const char *sig, uint8_t **a, size_t *a_size, uint8_t **s,
                         size_t *s_size)
{
        if (read_file(dir, attest, a, a_size) < 0 || read_file(dir, sig, s, s_size) < 0)
                return fail("cannot read %s/%s and its signature", dir, attest);
        return 0;
}

/* The AK, and the event key once its certification by the AK checks out. */
static int verifier_keys(const char *dir, const char *nonce_hex, struct verifier *v)
{
        _cleanup_free_ uint8_t *a = NULL, *s = NULL;
        struct dw_attest_evidence ev;
        struct dw_attest_expect x;
        struct dw_attest_result res;
        TPMT_PUBLIC evk_public;
        struct dw_error err = {};
        uint8_t nonce[64];
        size_t nonce_size;
        int r;

        r = nonce_arg(nonce_hex, nonce, &nonce_size);
        if (r >= 0)
                r = load_public(dir, "ak.pub", &v->ak_public);
        if (r >= 0)
                r = load_public(dir, "evk.pub", &evk_public);
        if (r >= 0)
                r = load_evidence(dir, "evk-certify.attest", "evk-certify.sig", &a, &ev.attest_size, &s,
                                  &ev.signature_size);
        if (r < 0)
                return r;
        if (dw_tpm_public_to_pkey(&v->ak_public, &v->ak) < 0)
                return fail("the AK's public area carries no usable key");
        ev.attest = a;
        ev.signature = s;
        x = (struct dw_attest_expect){
                .ak = v->ak, .ak_public = &v->ak_public, .nonce = nonce, .nonce_size = nonce_size};
        if (dw_tpm_certify_verify(&x, &ev, &evk_public, NULL, &res, NULL, &err) < 0)
                return fail("event key certification: %s", err.msg);
        if (!res.valid) {
                printf("event-key: %s: %s\n", dw_attest_reason_name(res.reason), res.msg);
                return 1;
        }
        if (dw_event_key_from_public(&evk_public, &v->evk, &err) < 0) {
                printf("event-key: refused: %s\n", err.msg);
                return 1;
        }
        printf("event-key: certified by the AK\n");
        return 0;
}

static int load_state(const char *path, const char *gateway_id, struct dw_event_verify_state *ret)
{
        _cleanup_free_ uint8_t *blob = NULL;
        struct dw_error err = {};
        size_t size;
        int r;

        r = read_file(path, NULL, &blob, &size);
        if (r == -ENOENT) {
                if (dw_event_verify_state_init(ret, gateway_id) < 0)
                        return fail("bad gateway id '%s'", gateway_id);
                return 0;
        }
        if (r < 0)
                return r;
        if (dw_event_verify_state_deserialize(blob, size, ret, &err) < 0)
                return fail("%s: %s", path, err.msg);
        return 0;
}

static int save_state(const char *path, const struct dw_event_verify_state *s)
{
        _cleanup_free_ uint8_t *blob = NULL;
        _cleanup_free_ char *dir = strdup(path);
        char *slash;
        size_t size;

        if (!dir || dw_event_verify_state_serialize(s, &blob, &size) < 0)
                return fail("cannot serialize the state");
        slash = strrchr(dir, '/');
        if (!slash)
                return write_file(".", path, blob, size);
        *slash = '\0';
        return write_file(dir, slash + 1, blob, size);
}

/* Returns 0 when every batch was ok or a duplicate, 1 otherwise. */
static int verify_batches(const struct verifier *v, struct dw_event_verify_state *s, char **files, int n,
                          unsigned flags)
{
        int bad = 0;

        for (int i = 0; i < n; i++) {
                _cleanup_free_ uint8_t *text = NULL;
                struct dw_event_verify_result res;
                const char *base = strrchr(files[i], '/');
                size_t size;

                if (read_file(files[i], NULL, &text, &size) < 0)
                        return fail("cannot read %s", files[i]);
                if (dw_event_verify_batch_json(s, v->evk, (const char *)text, size, flags, &res, NULL) < 0)
                        return fail("cannot verify %s", files[i]);
                printf("%s: %s: %s\n", base ? base + 1 : files[i], dw_event_verdict_name(res.verdict), res.msg);
                if (res.verdict != DW_EVENT_OK && res.verdict != DW_EVENT_DUPLICATE)
                        bad = 1;
                *s = res.state;
        }
        return bad;
}

/* The NV certification against the state: 0 ok, 1 not. */
static int verify_nv(const char *dir, const struct verifier *v, const struct dw_event_verify_state *s,
                     const char *nonce_hex)
{
        _cleanup_free_ uint8_t *a = NULL, *sig = NULL, *name = NULL;
        struct dw_attest_evidence ev;
        struct dw_attest_expect x;
        struct dw_attest_result res;
        struct dw_event_nv_result nres;
        TPM2B_NAME index_name = {};
        TPMS_ATTEST attest;
        struct dw_error err = {};
        uint8_t nonce[64], want[DW_EVENT_HEAD_SIZE];
        char hex[2 * DW_EVENT_HEAD_SIZE + 1];
        size_t nonce_size, name_size;
        int r;

        r = nonce_arg(nonce_hex, nonce, &nonce_size);
        if (r >= 0)
                r = load_evidence(dir, "nv.attest", "nv.sig", &a, &ev.attest_size, &sig, &ev.signature_size);
        if (r >= 0 && (read_file(dir, "nv.name", &name, &name_size) < 0 || name_size > sizeof(index_name.name)))
                r = fail("cannot read %s/nv.name", dir);
        if (r < 0)
                return r;
        index_name.size = (uint16_t)name_size;
        memcpy(index_name.name, name, name_size);
        ev.attest = a;
        ev.signature = sig;
        x = (struct dw_attest_expect){
                .ak = v->ak, .ak_public = &v->ak_public, .nonce = nonce, .nonce_size = nonce_size};
        if (dw_tpm_nv_certify_verify(&x, &ev, &index_name, &res, &attest, &err) < 0)
                return fail("NV certification: %s", err.msg);
        if (dw_event_verify_state_nv_value(s, want) == 0)
                printf("nv-expected: %s\n", dw_hex_encode(want, sizeof(want), hex));
        else
                printf("nv-expected: none\n");
        if (!res.valid) {
                printf("nv: attest-%s: %s\n", dw_attest_reason_name(res.reason), res.msg);
                return 1;
        }
        if (dw_event_verify_nv(s, &attest, &nres) < 0)
                return fail("cannot check the NV value");
        printf("nv: %s: %s\n", dw_event_nv_verdict_name(nres.verdict), nres.msg);
        return nres.verdict == DW_EVENT_NV_OK ? 0 : 1;
}

static int cmd_verify(int argc, char **argv)
{
        const char *dir = argv[0], *state_path = argv[1], *gateway_id = argv[2];
        struct verifier v = {};
        struct dw_event_verify_state s;
        unsigned flags = 0;
        bool nv = true;
        int r, i = 5, bad = 0;

        for (; i < argc && strncmp(argv[i], "--", 2) == 0; i++) {
                if (strcmp(argv[i], "--accept-gap") == 0)
                        flags |= DW_EVENT_VERIFY_ACCEPT_GAP;
                else if (strcmp(argv[i], "--no-nv") == 0)
                        nv = false;
                else
                        return fail("unknown option %s", argv[i]);
        }
        r = verifier_keys(dir, argv[3], &v);
        if (r == 0)
                r = load_state(state_path, gateway_id, &s);
        if (r == 0) {
                bad = verify_batches(&v, &s, argv + i, argc - i, flags);
                r = bad < 0 ? bad : save_state(state_path, &s);
        }
        if (r == 0 && nv) {
                r = verify_nv(dir, &v, &s, argv[4]);
                bad |= r;
        }
        verifier_done(&v);
        if (r < 0)
                return 2;
        return r > 0 || bad ? 1 : 0;
}

static int parse_unsigned(const char *s, unsigned *ret)
{
        char *end;
        unsigned long v = strtoul(s, &end, 10);

        if (end == s || *end || v > 1000000)
                return -EINVAL;
        *ret = (unsigned)v;
        return 0;
}

int main(int argc, char **argv)
{
        unsigned batches, events;

        setenv("TSS2_LOG", "all+none", 0);
        if (argc == 8 && strcmp(argv[1], "gateway") == 0 && parse_unsigned(argv[6], &batches) == 0 &&
            parse_unsigned(argv[7], &events) == 0)
                return cmd_gateway(argv[2], argv[3], argv[4], argv[5], batches, events) < 0 ? 2 : 0;
        if (argc == 5 && strcmp(argv[1], "certify") == 0)
                return cmd_certify(argv[2], argv[3], argv[4]) < 0 ? 2 : 0;
        if (argc >= 7 && strcmp(argv[1], "verify") == 0)
                return cmd_verify(argc - 2, argv + 2);
        fprintf(stderr,
                "usage: event-chain-check gateway TCTI DIR GATEWAY_ID KEY_NONCE BATCHES EVENTS\n"
                "       event-chain-check certify TCTI DIR NV_NONCE\n"
                "       event-chain-check verify DIR STATE GATEWAY_ID KEY_NONCE NV_NONCE [--accept-gap] [--no-nv] "
                "BATCH.json...\n");
        return 2;
}
