/* SPDX-License-Identifier: MIT */
/* verifier-load: attestation rounds per second of a running driftwatch-verifier, driven over HTTPS with mutual TLS
 * (docs/protocol.md) by N simulated gateways, on the machine that runs the verifier.
 *
 * Each gateway is a software TPM that makes the structures a real one makes: its own EK (RSA 2048 or ECC P-256,
 * the TCG default templates) with an EK certificate issued by a test CA (the verifier's ek_ca_bundle), an ECC P-256
 * AK and event-signing key (TPM2B_PUBLIC), ActivateCredential done in software with the EK's private key (KDFa,
 * KDFe, the integrity HMAC, AES-CFB), TPM2_Certify of the event key and TPM2_Quote of sha256:0-10 as marshalled
 * TPMS_ATTEST signed by the AK (TPMT_SIGNATURE, ECDSA-SHA256), the tpm2-tools PCR file, PCR 10 extended in
 * software. Its IMA log (ima-ng, built with lib/ima-write) starts with boot_aggregate over the firmware's PCRs
 * 0-9 (the boot log, sent when the verifier asks for it) and grows by --entries measurements per round, each a
 * path and digest of the runtime policy (spread over all of its paths: see "policy"). Every gateway has its own
 * libcurl handle, so its own keep-alive TLS connection with its own client certificate; T threads (by default one
 * per 64 gateways, at least 2) each drive a curl multi handle over their share of the gateways, with libcurl's
 * socket API on epoll.
 *
 *   verifier-load ek-ca --out DIR
 *       A test EK CA (ECDSA P-256): DIR/ek-ca.pem is the verifier's ek_ca_bundle, DIR/ek-ca.key signs EK
 *       certificates.
 *   verifier-load policy --paths N --out FILE
 *       A runtime policy of N paths (the digest of each path is SHA-256 of its name), as the simulated gateways
 *       measure them.
 *   verifier-load run --url URL --ca CA.pem --ek-ca DIR --gateways N [--policy-paths P] [--duration S]
 *                     [--warmup S] [--rate R] [--threads T|0] [--entries E] [--ek-alg ecc|rsa|mixed]
 *                     [--boot-log FILE] [--verifier-pid PID] [--prefix ID]
 *       Makes N software TPMs, enrolls one gateway and runs one round (so the verifier has compiled its
 *       policies), enrolls the other N - 1 over their own connections, closes every connection, then runs rounds on
 *       all N (connections open again) for --warmup seconds (first rounds: boot log, boot_aggregate) and measures
 *       for --duration seconds: rounds/s, round latency as a gateway sees it (nonce request to verdict), CPU of the
 *       verifier and of this program, and with --verifier-pid the verifier's VmRSS at each step. Closed loop by
 *       default (each gateway starts its next round when its verdict arrives); --rate R paces the fleet at R
 *       rounds/s in total.
 *
 * Every round must be judged trusted: any other answer is counted and the first few are printed. The last line is
 * "RESULT key=value ...", for bench/verifier-load.sh. */

#define OPENSSL_SUPPRESS_DEPRECATED 1
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <jansson.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509v3.h>
#include <tss2/tss2_mu.h>

#include "attest-round.h"
#include "fileio.h"
#include "hash.h"
#include "hex.h"
#include "ima-write.h"
#include "tcg-eventlog.h"
#include "tpm-credential.h"
#include "tpm-marshal.h"

#define NONCE_SIZE          32
#define POOL_DEFAULT        2000
#define SAMPLES_INIT        65536
#define SHOW_FAILURES       5
#define BOOT_RESET          7u /* the simulated TPMs' resetCount: booted a few times before the benchmark */
#define POLL_MAX_MS         50
#define GATEWAYS_PER_THREAD 64
#define FILE_MAX            (64u * 1024 * 1024)
#define PATH_FORMAT         "/usr/lib/driftwatch-bench/pkg%04zu/bin/tool-%06zu"
#define TPM_MANUFACTURER    "id:44574C44" /* "DWLD" */

/* PolicySecret(TPM_RH_ENDORSEMENT) with SHA-256: the authPolicy of the TCG EK templates L-1 and L-2. */
static const uint8_t ek_auth_policy[32] = {
        0x83, 0x71, 0x97, 0x67, 0x44, 0x84, 0xb3, 0xf8, 0x1a, 0x90, 0xcc, 0x8d, 0x46, 0xa5, 0xd7, 0x24,
        0xfd, 0x52, 0xd7, 0x6e, 0x06, 0x52, 0x0b, 0x64, 0xf2, 0xa1, 0xda, 0x1b, 0x33, 0x14, 0x69, 0xaa,
};

_printf_(1, 2) _Noreturn static void die(const char *fmt, ...)
{
        va_list ap;

        fputs("verifier-load: ", stderr);
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fputc('\n', stderr);
        exit(1);
}

static uint64_t now_usec(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static void *xmalloc(size_t size)
{
        void *p = calloc(1, size);

        if (!p)
                die("out of memory");
        return p;
}

static void append(struct dw_ima_buf *b, const void *data, size_t size)
{
        if (dw_ima_buf_append(b, data, size) < 0)
                die("out of memory");
}

static void append_str(struct dw_ima_buf *b, const char *s)
{
        append(b, s, strlen(s));
}

/* Standard base64 with padding, appended (not NUL-terminated). */
static void append_base64(struct dw_ima_buf *b, const void *data, size_t size)
{
        size_t need = 4 * ((size + 2) / 3) + 1;

        if (b->len + need > b->allocated) {
                size_t want = MAX(b->allocated * 2, b->len + need);
                uint8_t *p = realloc(b->data, want);

                if (!p)
                        die("out of memory");
                b->data = p;
                b->allocated = want;
        }
        b->len += (size_t)EVP_EncodeBlock(b->data + b->len, data, (int)size);
}

static char *base64(const void *data, size_t size)
{
        struct dw_ima_buf b = {};

        append_base64(&b, data, size);
        append(&b, "", 1);
        return (char *)b.data;
}

static int unbase64(const char *s, uint8_t **ret, size_t *ret_size)
{
        size_t len = strlen(s), pad = 0;
        uint8_t *out;
        int n;

        if (len % 4 != 0)
                return -EINVAL;
        out = xmalloc(len / 4 * 3 + 1);
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

static char *pem_of(int (*write)(BIO *, void *), void *obj)
{
        BIO *b = BIO_new(BIO_s_mem());
        char *data, *s = NULL;
        long n;

        if (b && write(b, obj) == 1 && (n = BIO_get_mem_data(b, &data)) > 0)
                s = strndup(data, (size_t)n);
        BIO_free(b);
        if (!s)
                die("cannot write PEM");
        return s;
}

static int write_key_pem(BIO *b, void *key)
{
        return PEM_write_bio_PrivateKey(b, key, NULL, NULL, 0, NULL, NULL);
}

static int write_cert_pem(BIO *b, void *cert)
{
        return PEM_write_bio_X509(b, cert);
}

static int write_req_pem(BIO *b, void *req)
{
        return PEM_write_bio_X509_REQ(b, req);
}

static void write_file(const char *path, const void *data, size_t size, mode_t mode)
{
        FILE *f = fopen(path, "we");

        if (!f || fwrite(data, 1, size, f) != size || fclose(f) != 0)
                die("%s: %s", path, strerror(errno));
        chmod(path, mode);
}

static void path_of(char *buf, size_t size, size_t i)
{
        snprintf(buf, size, PATH_FORMAT, i / 97, i);
}

/* ---- the test EK CA ------------------------------------------------------------------------------------------ */

struct ek_ca {
        EVP_PKEY *key;
        X509 *cert;
};

static void add_ext(X509 *cert, X509 *issuer, int nid, const char *value)
{
        X509V3_CTX ctx;
        X509_EXTENSION *ext;

        X509V3_set_ctx(&ctx, issuer, cert, NULL, NULL, 0);
        ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
        if (!ext || X509_add_ext(cert, ext, -1) != 1)
                die("cannot add the X.509 extension %s = %s", OBJ_nid2sn(nid), value);
        X509_EXTENSION_free(ext);
}

static void cert_validity(X509 *cert, long days)
{
        if (!X509_gmtime_adj(X509_getm_notBefore(cert), -86400) ||
            !X509_gmtime_adj(X509_getm_notAfter(cert), days * 86400))
                die("cannot set the validity");
}

static int cmd_ek_ca(const char *out)
{
        EVP_PKEY *key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
        X509 *cert = X509_new();
        X509_NAME *name = X509_NAME_new();
        char path[4096];
        char *pem;

        if (!out)
                die("ek-ca: --out DIR is required");
        if (!key || !cert || !name)
                die("out of memory");
        if (mkdir(out, 0700) < 0 && errno != EEXIST)
                die("%s: %s", out, strerror(errno));
        X509_NAME_add_entry_by_txt(name, "O", MBSTRING_UTF8, (const unsigned char *)"driftwatch bench", -1, -1, 0);
        X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, (const unsigned char *)"driftwatch bench EK CA", -1, -1,
                                   0);
        X509_set_version(cert, 2);
        ASN1_INTEGER_set(X509_get_serialNumber(cert), 1);
        X509_set_subject_name(cert, name);
        X509_set_issuer_name(cert, name);
        cert_validity(cert, 3650);
        X509_set_pubkey(cert, key);
        add_ext(cert, cert, NID_basic_constraints, "critical,CA:TRUE");
        add_ext(cert, cert, NID_key_usage, "critical,keyCertSign,cRLSign");
        add_ext(cert, cert, NID_subject_key_identifier, "hash");
        if (X509_sign(cert, key, EVP_sha256()) <= 0)
                die("cannot sign the EK CA certificate");
        pem = pem_of(write_cert_pem, cert);
        snprintf(path, sizeof(path), "%s/ek-ca.pem", out);
        write_file(path, pem, strlen(pem), 0644);
        free(pem);
        pem = pem_of(write_key_pem, key);
        snprintf(path, sizeof(path), "%s/ek-ca.key", out);
        write_file(path, pem, strlen(pem), 0600);
        free(pem);
        X509_NAME_free(name);
        X509_free(cert);
        EVP_PKEY_free(key);
        return 0;
}

static void ek_ca_load(const char *dir, struct ek_ca *ret)
{
        char path[4096];
        FILE *f;

        snprintf(path, sizeof(path), "%s/ek-ca.pem", dir);
        f = fopen(path, "re");
        if (!f || !(ret->cert = PEM_read_X509(f, NULL, NULL, NULL)))
                die("%s: cannot read the EK CA certificate", path);
        fclose(f);
        snprintf(path, sizeof(path), "%s/ek-ca.key", dir);
        f = fopen(path, "re");
        if (!f || !(ret->key = PEM_read_PrivateKey(f, NULL, NULL, NULL)))
                die("%s: cannot read the EK CA key", path);
        fclose(f);
}

/* An EK certificate as TPM manufacturers issue them: empty subject, a critical subjectAltName directoryName with
 * the TPM's manufacturer, model and version (TCG OIDs), the TCG EK extendedKeyUsage. */
static X509 *ek_cert_make(const struct ek_ca *ca, EVP_PKEY *ek, uint64_t serial)
{
        static const char *const attrs[][2] = {
                {"2.23.133.2.1", TPM_MANUFACTURER},
                {"2.23.133.2.2", "driftwatch soft TPM"},
                {"2.23.133.2.3", "id:00020000"},
        };
        X509 *cert = X509_new();
        X509_NAME *dn = X509_NAME_new();
        GENERAL_NAME *gn = GENERAL_NAME_new();
        GENERAL_NAMES *gens = sk_GENERAL_NAME_new_null();

        if (!cert || !dn || !gn || !gens)
                die("out of memory");
        for (size_t i = 0; i < ELEMENTSOF(attrs); i++)
                if (X509_NAME_add_entry_by_txt(dn, attrs[i][0], MBSTRING_UTF8, (const unsigned char *)attrs[i][1], -1,
                                               -1, 0) != 1)
                        die("cannot build the EK certificate's subjectAltName");
        GENERAL_NAME_set0_value(gn, GEN_DIRNAME, dn);
        sk_GENERAL_NAME_push(gens, gn);
        X509_set_version(cert, 2);
        ASN1_INTEGER_set_uint64(X509_get_serialNumber(cert), serial);
        X509_set_issuer_name(cert, X509_get_subject_name(ca->cert));
        cert_validity(cert, 3650);
        X509_set_pubkey(cert, ek);
        if (X509_add1_ext_i2d(cert, NID_subject_alt_name, gens, 1, X509V3_ADD_DEFAULT) != 1)
                die("cannot add the subjectAltName");
        GENERAL_NAMES_free(gens);
        add_ext(cert, ca->cert, NID_basic_constraints, "critical,CA:FALSE");
        add_ext(cert, ca->cert, NID_key_usage,
                EVP_PKEY_get_base_id(ek) == EVP_PKEY_RSA ? "critical,keyEncipherment" : "critical,keyAgreement");
        add_ext(cert, ca->cert, NID_ext_key_usage, "2.23.133.8.1");
        add_ext(cert, ca->cert, NID_authority_key_identifier, "keyid");
        if (X509_sign(cert, ca->key, EVP_sha256()) <= 0)
                die("cannot sign an EK certificate");
        return cert;
}

/* ---- the runtime policy -------------------------------------------------------------------------------------- */

static void digest_of_path(const char *path, uint8_t out[32])
{
        if (dw_hash_oneshot(DW_HASH_SHA256, path, strlen(path), out) < 0)
                die("sha256");
}

static int cmd_policy(size_t paths, const char *out)
{
        struct dw_ima_buf json = {};
        char path[128], line[300], hex[65], head[200];
        uint8_t d[32];

        if (!out || paths == 0)
                die("policy: --paths N and --out FILE are required");
        snprintf(head, sizeof(head),
                 "{\"driftwatch_runtime_policy\": 1, \"meta\": {\"name\": \"bench fleet, %zu paths\", \"generator\": "
                 "\"bench/verifier-load\"}, \"digests\": {\n",
                 paths);
        append_str(&json, head);
        for (size_t i = 0; i < paths; i++) {
                path_of(path, sizeof(path), i);
                digest_of_path(path, d);
                snprintf(line, sizeof(line), "%s\"%s\": [\"sha256:%s\"]", i ? ",\n" : "", path,
                         dw_hex_encode(d, sizeof(d), hex));
                append_str(&json, line);
        }
        append_str(&json, "\n}}\n");
        write_file(out, json.data, json.len, 0644);
        dw_ima_buf_done(&json);
        return 0;
}

/* ---- what every simulated gateway measures ------------------------------------------------------------------- */

/* The firmware (PCRs 0-9 and the boot log, the same on every gateway) and the IMA entries after boot_aggregate: a
 * pool of binary ima-ng entries (SHA-1 template digests, as binary_runtime_measurements logs them), each a path of
 * the policy, which every gateway measures in order, round after round, from its own starting point. Entry j >= 1
 * of gateway g's log is pool entry (g's start + j - 1) mod n. */
struct fleet {
        uint8_t pcrs[10][32]; /* sha256 PCRs 0-9 after boot */
        char *boot_log_b64;
        struct dw_ima_buf aggregate; /* entry 0: boot_aggregate, binary */
        uint8_t aggregate_th[32];    /* its SHA-256 template hash: what IMA extends into the sha256 bank */
        struct dw_ima_buf pool;      /* n entries, binary */
        size_t *offset;              /* n + 1 */
        uint8_t (*th)[32];
        size_t n;
        size_t per_round;
        char **slice_b64; /* n / per_round: base64 of the aligned runs of per_round entries */
        size_t *slice_b64_len;
        TPML_PCR_SELECTION selection; /* sha256:0-10, what the verifier asks for */
        char selection_text[64];
};

static void entry_build(struct dw_hasher *h, const char *name, const uint8_t digest[32], struct dw_ima_buf *out,
                        uint8_t th[32])
{
        struct dw_ima_built_entry b = {};

        if (dw_ima_event_build(h,
                               &(struct dw_ima_event){.pcr = 10,
                                                      .template_name = "ima-ng",
                                                      .digest_algo = "sha256",
                                                      .digest = digest,
                                                      .digest_len = 32,
                                                      .name = name},
                               DW_HASH_SHA1, DW_IMA_BANK_NATIVE, &b) < 0 ||
            dw_ima_entry_write_binary(&b.entry, out) < 0 ||
            dw_ima_entry_template_hash(h, &b.entry, DW_HASH_SHA256, th) < 0)
                die("cannot build an IMA entry");
        dw_ima_built_entry_done(&b);
}

static void fleet_init(struct fleet *f, const char *boot_log, size_t policy_paths, size_t pool, size_t per_round)
{
        struct dw_tcg_replay *boot = xmalloc(sizeof(*boot));
        struct dw_hasher *h = NULL;
        struct dw_error err = {};
        uint8_t *bios, aggregate[32], d[32];
        size_t bios_size, stride;
        char path[128];

        if (dw_hasher_new(&h) < 0)
                die("out of memory");
        if (dw_read_full_file(boot_log, FILE_MAX, &bios, &bios_size) < 0)
                die("%s: cannot read the boot log", boot_log);
        if (dw_tcg_replay_log(boot, h, bios, bios_size, &err) < 0)
                die("%s: %s", boot_log, err.msg);
        if (!boot->has_bank[DW_HASH_SHA256])
                die("%s: the boot log has no sha256 bank", boot_log);
        /* PCRs 0-7 from the firmware, 8-9 untouched by this SeaBIOS boot (no boot loader measurements). */
        for (unsigned p = 0; p < 10; p++)
                memcpy(f->pcrs[p], boot->pcr[DW_HASH_SHA256][p], 32);
        f->boot_log_b64 = base64(bios, bios_size);
        free(bios);
        free(boot);

        /* boot_aggregate for ima-ng with SHA-256: H(PCR 0 || ... || PCR 9) of the sha256 bank. */
        if (dw_hash_oneshot(DW_HASH_SHA256, f->pcrs, sizeof(f->pcrs), aggregate) < 0)
                die("sha256");
        entry_build(h, "boot_aggregate", aggregate, &f->aggregate, f->aggregate_th);

        pool = MIN(pool, policy_paths) / per_round * per_round;
        if (pool == 0 || pool > policy_paths)
                die("the IMA entry pool (%zu) must hold at least one round and at most the policy's paths (%zu)", pool,
                    policy_paths);
        f->n = pool;
        f->per_round = per_round;
        f->offset = xmalloc((pool + 1) * sizeof(size_t));
        f->th = xmalloc(pool * sizeof(*f->th));
        /* Spread over the whole policy, so that lookups are not confined to a cache-friendly corner of it. */
        stride = policy_paths / pool;
        for (size_t i = 0; i < pool; i++) {
                path_of(path, sizeof(path), i * stride);
                digest_of_path(path, d);
                f->offset[i] = f->pool.len;
                entry_build(h, path, d, &f->pool, f->th[i]);
        }
        f->offset[pool] = f->pool.len;
        f->slice_b64 = xmalloc(pool / per_round * sizeof(char *));
        f->slice_b64_len = xmalloc(pool / per_round * sizeof(size_t));
        for (size_t s = 0; s < pool / per_round; s++) {
                size_t a = f->offset[s * per_round], b = f->offset[(s + 1) * per_round];

                f->slice_b64[s] = base64(f->pool.data + a, b - a);
                f->slice_b64_len[s] = strlen(f->slice_b64[s]);
        }
        dw_round_pcr_selection(NULL, &f->selection);
        dw_tpm_pcr_selection_format(&f->selection, f->selection_text, sizeof(f->selection_text));
        dw_hasher_free(h);
}

/* ---- a simulated gateway: its software TPM ------------------------------------------------------------------- */

enum step {
        STEP_IDLE,
        STEP_ENROLL,
        STEP_ACTIVATE,
        STEP_NONCE,
        STEP_ATTEST,
};

struct gateway {
        unsigned index;
        char id[40];

        /* the TPM's keys: private parts stay here, as in a TPM */
        EVP_PKEY *ek, *ak, *event_key;
        EVP_PKEY_CTX *ak_sign; /* initialized once: a quote costs one ECDSA signature and nothing else */
        TPMT_PUBLIC ek_public;
        TPM2B_NAME ak_name, event_key_name;
        char *enroll_body; /* until enrolled */

        /* the TLS client key and certificate */
        char *tls_key_pem, *cert_pem;
        bool enrolled;

        /* the TPM's state and the IMA log */
        uint64_t clock;     /* ms */
        uint8_t pcr10[32];  /* sha256 bank */
        uint64_t ima_count; /* entries in the log */
        size_t pool_start;  /* log entry 1 is this pool entry */
        uint64_t rounds;    /* answered with a verdict */

        /* HTTP */
        CURL *curl;
        enum step step;
        char url[200];
        struct dw_ima_buf body, resp;
        uint64_t round_start, attest_start, next_start;
        bool measured; /* this round started inside the measurement window */
};

static void ecc_public(EVP_PKEY *key, TPMA_OBJECT attrs, TPMT_PUBLIC *ret)
{
        uint8_t point[65];
        size_t n = 0;

        if (EVP_PKEY_get_octet_string_param(key, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, point, sizeof(point), &n) != 1 ||
            n != sizeof(point) || point[0] != 0x04)
                die("cannot read an EC public key");
        *ret = (TPMT_PUBLIC){
                .type = TPM2_ALG_ECC,
                .nameAlg = TPM2_ALG_SHA256,
                .objectAttributes = attrs,
                .parameters.eccDetail =
                        {
                                .symmetric.algorithm = TPM2_ALG_NULL,
                                .scheme = {.scheme = TPM2_ALG_ECDSA, .details.ecdsa.hashAlg = TPM2_ALG_SHA256},
                                .curveID = TPM2_ECC_NIST_P256,
                                .kdf.scheme = TPM2_ALG_NULL,
                        },
        };
        ret->unique.ecc.x.size = 32;
        memcpy(ret->unique.ecc.x.buffer, point + 1, 32);
        ret->unique.ecc.y.size = 32;
        memcpy(ret->unique.ecc.y.buffer, point + 33, 32);
}

static char *public_b64(const TPMT_PUBLIC *pub)
{
        TPM2B_PUBLIC b = {.publicArea = *pub};
        uint8_t buf[sizeof(TPM2B_PUBLIC)];
        TPMT_PUBLIC check;
        size_t off = 0;

        if (Tss2_MU_TPM2B_PUBLIC_Marshal(&b, buf, sizeof(buf), &off) != TSS2_RC_SUCCESS ||
            dw_tpm_public_parse(buf, off, &check, NULL) < 0)
                die("cannot marshal a TPM2B_PUBLIC");
        return base64(buf, off);
}

#define KEY_BASE (TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT | TPMA_OBJECT_SENSITIVEDATAORIGIN)
/* tpm2_createak: a restricted signing key; the event key: a plain signing key (lib/tpm-gateway.h). */
#define AK_ATTRS        (KEY_BASE | TPMA_OBJECT_USERWITHAUTH | TPMA_OBJECT_RESTRICTED | TPMA_OBJECT_SIGN_ENCRYPT)
#define EVENT_KEY_ATTRS (KEY_BASE | TPMA_OBJECT_USERWITHAUTH | TPMA_OBJECT_SIGN_ENCRYPT)

static char *csr_make(EVP_PKEY *key, const char *cn)
{
        X509_REQ *req = X509_REQ_new();
        X509_NAME *name;
        char *pem;

        if (!req)
                die("out of memory");
        name = X509_REQ_get_subject_name(req);
        if (X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, (const unsigned char *)cn, -1, -1, 0) != 1 ||
            X509_REQ_set_pubkey(req, key) != 1 || X509_REQ_sign(req, key, EVP_sha256()) <= 0)
                die("cannot make a CSR");
        pem = pem_of(write_req_pem, req);
        X509_REQ_free(req);
        return pem;
}

/* Everything a gateway holds before it talks to the verifier: the TPM's keys, its EK certificate, its TLS key. */
static void gateway_make(struct gateway *g, const struct ek_ca *ca, bool rsa_ek, const struct fleet *f)
{
        EVP_PKEY *tls = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
        TPMT_PUBLIC ak_public, event_key_public;
        X509 *cert;
        uint8_t *der = NULL;
        char *ek_b64, *ek_cert_b64, *ak_b64, *evk_b64, *csr;
        json_t *j;
        int n;

        g->ek = rsa_ek ? EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048)
                       : EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
        g->ak = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
        g->event_key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
        if (!g->ek || !g->ak || !g->event_key || !tls)
                die("key generation failed");
        if (dw_tpm_public_from_ek_pkey(g->ek, &g->ek_public) < 0)
                die("cannot make the EK's public area");
        g->ek_public.authPolicy.size = sizeof(ek_auth_policy);
        memcpy(g->ek_public.authPolicy.buffer, ek_auth_policy, sizeof(ek_auth_policy));
        ecc_public(g->ak, AK_ATTRS, &ak_public);
        ecc_public(g->event_key, EVENT_KEY_ATTRS, &event_key_public);
        if (dw_tpm_public_name(&ak_public, &g->ak_name) < 0 ||
            dw_tpm_public_name(&event_key_public, &g->event_key_name) < 0)
                die("cannot compute a Name");
        g->ak_sign = EVP_PKEY_CTX_new_from_pkey(NULL, g->ak, NULL);
        if (!g->ak_sign || EVP_PKEY_sign_init(g->ak_sign) != 1)
                die("cannot set up AK signing");

        cert = ek_cert_make(ca, g->ek, ((uint64_t)getpid() << 24) + g->index + 1);
        n = i2d_X509(cert, &der);
        if (n <= 0)
                die("cannot encode an EK certificate");
        g->tls_key_pem = pem_of(write_key_pem, tls);
        csr = csr_make(tls, g->id);
        ek_b64 = public_b64(&g->ek_public);
        ek_cert_b64 = base64(der, (size_t)n);
        ak_b64 = public_b64(&ak_public);
        evk_b64 = public_b64(&event_key_public);
        j = json_pack("{s:s, s:s, s:s, s:s, s:s}", "ek_certificate", ek_cert_b64, "ek_public", ek_b64, "ak_public",
                      ak_b64, "event_key_public", evk_b64, "csr", csr);
        g->enroll_body = j ? json_dumps(j, JSON_COMPACT) : NULL;
        if (!g->enroll_body)
                die("out of memory");
        json_decref(j);
        free(ek_b64);
        free(ek_cert_b64);
        free(ak_b64);
        free(evk_b64);
        free(csr);
        OPENSSL_free(der);
        X509_free(cert);
        EVP_PKEY_free(tls);

        /* Booted: the firmware extended PCRs 0-9, IMA logged boot_aggregate into PCR 10. */
        g->clock = 1000000 + 7919u * g->index;
        g->pool_start = (size_t)g->index * f->per_round % f->n;
        memset(g->pcr10, 0, sizeof(g->pcr10));
}

static void pcr_extend(uint8_t pcr[32], const uint8_t digest[32])
{
        uint8_t buf[64];

        memcpy(buf, pcr, 32);
        memcpy(buf + 32, digest, 32);
        if (dw_hash_oneshot(DW_HASH_SHA256, buf, sizeof(buf), pcr) < 0)
                die("sha256");
}

/* IMA measures n more files: entries appended to the log, PCR 10 extended in lockstep. */
static void ima_measure(struct gateway *g, const struct fleet *f, size_t n)
{
        for (size_t i = 0; i < n; i++, g->ima_count++)
                pcr_extend(g->pcr10,
                           g->ima_count == 0 ? f->aggregate_th : f->th[(g->pool_start + g->ima_count - 1) % f->n]);
}

/* The log's entries [from, g->ima_count), base64, appended to out: a precomputed slice when the range is one aligned
 * round of the pool, else assembled. */
static void ima_entries_b64(const struct gateway *g, const struct fleet *f, uint64_t from, struct dw_ima_buf *out,
                            struct dw_ima_buf *scratch)
{
        size_t first = from == 0 ? 0 : (g->pool_start + from - 1) % f->n;

        if (from > 0 && g->ima_count - from == f->per_round && first % f->per_round == 0) {
                size_t s = first / f->per_round;

                append(out, f->slice_b64[s], f->slice_b64_len[s]);
                return;
        }
        scratch->len = 0;
        for (uint64_t j = from; j < g->ima_count; j++) {
                size_t k;

                if (j == 0) {
                        append(scratch, f->aggregate.data, f->aggregate.len);
                        continue;
                }
                k = (g->pool_start + j - 1) % f->n;
                append(scratch, f->pool.data + f->offset[k], f->offset[k + 1] - f->offset[k]);
        }
        append_base64(out, scratch->data, scratch->len);
}

/* A TPMS_ATTEST signed by the AK: the marshalled attestation and TPMT_SIGNATURE (ECDSA-SHA256), base64. */
static void attest_sign(struct gateway *g, TPMS_ATTEST *a, char attest_b64[static 4 * sizeof(TPMS_ATTEST) / 3 + 8],
                        char sig_b64[static 4 * sizeof(TPMT_SIGNATURE) / 3 + 8])
{
        uint8_t attest[sizeof(TPMS_ATTEST)], digest[32], der[80], sig[sizeof(TPMT_SIGNATURE)];
        TPMT_SIGNATURE s = {.sigAlg = TPM2_ALG_ECDSA};
        const uint8_t *q = der;
        size_t off = 0, der_size = sizeof(der);
        ECDSA_SIG *es;

        a->magic = TPM2_GENERATED_VALUE;
        a->qualifiedSigner = g->ak_name;
        a->clockInfo = (TPMS_CLOCK_INFO){.clock = g->clock, .resetCount = BOOT_RESET, .safe = TPM2_YES};
        a->firmwareVersion = 0x2023000100000000ull;
        g->clock += 137;
        if (Tss2_MU_TPMS_ATTEST_Marshal(a, attest, sizeof(attest), &off) != TSS2_RC_SUCCESS)
                die("cannot marshal a TPMS_ATTEST");
        if (dw_hash_oneshot(DW_HASH_SHA256, attest, off, digest) < 0 ||
            EVP_PKEY_sign(g->ak_sign, der, &der_size, digest, sizeof(digest)) != 1)
                die("AK signature failed");
        es = d2i_ECDSA_SIG(NULL, &q, (long)der_size);
        if (!es)
                die("AK signature failed");
        s.signature.ecdsa.hash = TPM2_ALG_SHA256;
        s.signature.ecdsa.signatureR.size = 32;
        s.signature.ecdsa.signatureS.size = 32;
        BN_bn2binpad(ECDSA_SIG_get0_r(es), s.signature.ecdsa.signatureR.buffer, 32);
        BN_bn2binpad(ECDSA_SIG_get0_s(es), s.signature.ecdsa.signatureS.buffer, 32);
        ECDSA_SIG_free(es);
        EVP_EncodeBlock((unsigned char *)attest_b64, attest, (int)off);
        off = 0;
        if (Tss2_MU_TPMT_SIGNATURE_Marshal(&s, sig, sizeof(sig), &off) != TSS2_RC_SUCCESS)
                die("cannot marshal a TPMT_SIGNATURE");
        EVP_EncodeBlock((unsigned char *)sig_b64, sig, (int)off);
}

/* TPM2_ActivateCredential in software (TPM 2.0 Part 1, "Credential Protection"; Part 3, ActivateCredential): the
 * seed from the encrypted secret with the EK's private key, the integrity HMAC over the encrypted identity and the
 * AK's Name, then the identity decrypted. -EBADMSG when the integrity check fails (a credential for another AK or
 * EK), as the TPM would refuse it. */
static int soft_activate(const struct gateway *g, const TPM2B_ID_OBJECT *blob, const TPM2B_ENCRYPTED_SECRET *secret,
                         TPM2B_DIGEST *ret)
{
        EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, g->ek, NULL);
        uint8_t seed[512], hmac_key[32], sym_key[16], mac[32], plain[sizeof(TPM2B_DIGEST)];
        uint8_t macin[sizeof(blob->credential) + sizeof(TPMU_NAME)];
        size_t seed_size = sizeof(seed), enc_size, hmac_size;
        unsigned mac_size = sizeof(mac);
        const uint8_t *enc;
        EVP_CIPHER_CTX *c;
        int len = 0, fin = 0, r = -EIO;

        if (!ctx)
                die("out of memory");
        if (g->ek_public.type == TPM2_ALG_RSA) {
                uint8_t *label = OPENSSL_memdup("IDENTITY", 9); /* the label includes its NUL */

                if (!label || EVP_PKEY_decrypt_init(ctx) != 1 ||
                    EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_OAEP_PADDING) != 1 ||
                    EVP_PKEY_CTX_set_rsa_oaep_md(ctx, EVP_sha256()) != 1 ||
                    EVP_PKEY_CTX_set_rsa_mgf1_md(ctx, EVP_sha256()) != 1 ||
                    EVP_PKEY_CTX_set0_rsa_oaep_label(ctx, label, 9) != 1 ||
                    EVP_PKEY_decrypt(ctx, seed, &seed_size, secret->secret, secret->size) != 1 || seed_size != 32)
                        goto out;
        } else {
                /* The secret is the ephemeral point Qe; Z = x(d_EK * Qe); seed = KDFe(Z, "IDENTITY", Qe.x, EK.x). */
                TPMS_ECC_POINT q;
                uint8_t point[65], z[32];
                size_t off = 0, z_size = sizeof(z);
                EVP_PKEY *peer = NULL;
                EVP_PKEY_CTX *pc = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
                OSSL_PARAM params[] = {
                        OSSL_PARAM_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, (char *)"P-256", 0),
                        OSSL_PARAM_octet_string(OSSL_PKEY_PARAM_PUB_KEY, point, sizeof(point)),
                        OSSL_PARAM_END,
                };
                bool ok;

                if (Tss2_MU_TPMS_ECC_POINT_Unmarshal(secret->secret, secret->size, &off, &q) != TSS2_RC_SUCCESS ||
                    q.x.size != 32 || q.y.size != 32) {
                        EVP_PKEY_CTX_free(pc);
                        goto out;
                }
                point[0] = 0x04;
                memcpy(point + 1, q.x.buffer, 32);
                memcpy(point + 33, q.y.buffer, 32);
                ok = pc && EVP_PKEY_fromdata_init(pc) == 1 &&
                     EVP_PKEY_fromdata(pc, &peer, EVP_PKEY_PUBLIC_KEY, params) == 1 && EVP_PKEY_derive_init(ctx) == 1 &&
                     EVP_PKEY_derive_set_peer(ctx, peer) == 1 && EVP_PKEY_derive(ctx, z, &z_size) == 1 &&
                     z_size == 32 &&
                     dw_tpm_kdfe(TPM2_ALG_SHA256, z, z_size, "IDENTITY", q.x.buffer, q.x.size,
                                 g->ek_public.unique.ecc.x.buffer, g->ek_public.unique.ecc.x.size, seed, 256) == 0;
                EVP_PKEY_free(peer);
                EVP_PKEY_CTX_free(pc);
                if (!ok)
                        goto out;
                seed_size = 32;
        }

        /* credentialBlob = TPM2B integrityHMAC || encIdentity. */
        hmac_size = (size_t)blob->credential[0] << 8 | blob->credential[1];
        if (blob->size < 2 + hmac_size || hmac_size != 32)
                goto out;
        enc = blob->credential + 2 + hmac_size;
        enc_size = blob->size - 2 - hmac_size;
        memcpy(macin, enc, enc_size);
        memcpy(macin + enc_size, g->ak_name.name, g->ak_name.size);
        if (dw_tpm_kdfa(TPM2_ALG_SHA256, seed, seed_size, "INTEGRITY", NULL, 0, NULL, 0, hmac_key, 256) < 0 ||
            !HMAC(EVP_sha256(), hmac_key, sizeof(hmac_key), macin, enc_size + g->ak_name.size, mac, &mac_size))
                goto out;
        if (CRYPTO_memcmp(mac, blob->credential + 2, 32) != 0) {
                r = -EBADMSG;
                goto out;
        }
        /* AES-128-CFB (the EK templates' symmetric definition), zero IV, key bound to the AK's Name. */
        if (dw_tpm_kdfa(TPM2_ALG_SHA256, seed, seed_size, "STORAGE", g->ak_name.name, g->ak_name.size, NULL, 0, sym_key,
                        128) < 0 ||
            enc_size > sizeof(plain))
                goto out;
        c = EVP_CIPHER_CTX_new();
        if (!c || EVP_DecryptInit_ex2(c, EVP_aes_128_cfb128(), sym_key, (const uint8_t[16]){}, NULL) != 1 ||
            EVP_DecryptUpdate(c, plain, &len, enc, (int)enc_size) != 1 ||
            EVP_DecryptFinal_ex(c, plain + len, &fin) != 1) {
                EVP_CIPHER_CTX_free(c);
                goto out;
        }
        EVP_CIPHER_CTX_free(c);
        ret->size = (UINT16)(plain[0] << 8 | plain[1]);
        if (ret->size + 2u != enc_size || ret->size > sizeof(ret->buffer))
                goto out;
        memcpy(ret->buffer, plain + 2, ret->size);
        r = 0;
out:
        OPENSSL_cleanse(seed, sizeof(seed));
        EVP_PKEY_CTX_free(ctx);
        return r;
}

/* ---- the load: workers, each a curl multi handle over its share of the gateways -------------------------------- */

enum goal {
        GOAL_ENROLL, /* enroll the gateways of the range */
        GOAL_ROUND,  /* one round each */
        GOAL_RUN,    /* rounds until told to stop */
};

struct samples {
        float *v; /* ms */
        size_t n, allocated;
};

struct worker {
        unsigned index;
        pthread_t thread;
        CURLM *multi;
        int epoll_fd;           /* the sockets libcurl wants watched (its socket API: no poll over every socket) */
        uint64_t curl_deadline; /* when libcurl wants its timeout action, 0: none */
        struct gateway **gateways;
        size_t n_gateways;
        unsigned active; /* transfers in flight */
        struct dw_tpm_pcrs *pcrs;
        struct dw_ima_buf scratch;
        /* --rate: idle gateways by next start time (a binary heap) */
        struct gateway **heap;
        size_t n_heap;
        /* what this run counts (measurement window only, but for failures) */
        struct samples round_ms, attest_ms;
        uint64_t rounds, trusted, failed, shown;
        uint64_t connects; /* new connections (TLS handshakes) made in the measurement window */
};

static struct {
        const char *url;
        char *ca_pem;
        struct curl_slist *headers;
        struct fleet fleet;
        struct worker *workers;
        unsigned n_workers;
        enum goal goal;
        unsigned lo, hi; /* the gateways taking part: [lo, hi) */
        double rate;     /* rounds/s in total, 0: closed loop */
        unsigned n_gateways;
        atomic_bool stop;
        atomic_bool measuring;
} L;

static void sample_add(struct samples *s, uint64_t usec)
{
        if (s->n == s->allocated) {
                size_t want = MAX(s->allocated * 2, (size_t)SAMPLES_INIT);
                float *p = realloc(s->v, want * sizeof(float));

                if (!p)
                        die("out of memory");
                s->v = p;
                s->allocated = want;
        }
        s->v[s->n++] = (float)usec / 1000.0f;
}

static size_t collect(char *p, size_t size, size_t n, void *userdata)
{
        struct gateway *g = userdata;

        if (dw_ima_buf_append(&g->resp, p, size * n) < 0)
                return 0;
        return size * n;
}

/* A PEM blob that libcurl uses in place (it outlives the handle). */
static void set_blob(CURL *c, CURLoption opt, char *pem)
{
        struct curl_blob b = {.data = pem, .len = strlen(pem), .flags = CURL_BLOB_NOCOPY};

        if (curl_easy_setopt(c, opt, &b) != CURLE_OK)
                die("libcurl without TLS blob options");
}

static void gateway_curl(struct gateway *g)
{
        CURL *c = curl_easy_init();

        if (!c)
                die("curl_easy_init failed");
        curl_easy_setopt(c, CURLOPT_PRIVATE, g);
        curl_easy_setopt(c, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
        set_blob(c, CURLOPT_CAINFO_BLOB, L.ca_pem);
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, L.headers);
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
        curl_easy_setopt(c, CURLOPT_WRITEDATA, g);
        curl_easy_setopt(c, CURLOPT_TIMEOUT, 120L);
        curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
        if (g->enrolled) {
                set_blob(c, CURLOPT_SSLCERT_BLOB, g->cert_pem);
                curl_easy_setopt(c, CURLOPT_SSLCERTTYPE, "PEM");
                set_blob(c, CURLOPT_SSLKEY_BLOB, g->tls_key_pem);
                curl_easy_setopt(c, CURLOPT_SSLKEYTYPE, "PEM");
        }
        g->curl = c;
}

static void post(struct worker *w, struct gateway *g, enum step step, const char *what)
{
        CURLMcode rc;

        snprintf(g->url, sizeof(g->url), "%s/v1/gateways/%s/%s", L.url, g->id, what);
        curl_easy_setopt(g->curl, CURLOPT_URL, g->url);
        curl_easy_setopt(g->curl, CURLOPT_POSTFIELDS, g->body.data);
        curl_easy_setopt(g->curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)g->body.len);
        g->resp.len = 0;
        g->step = step;
        rc = curl_multi_add_handle(w->multi, g->curl);
        if (rc != CURLM_OK)
                die("curl_multi_add_handle: %s", curl_multi_strerror(rc));
        w->active++;
}

static void body_set(struct gateway *g, const char *text)
{
        g->body.len = 0;
        append_str(&g->body, text);
}

static void round_start(struct worker *w, struct gateway *g)
{
        g->round_start = now_usec();
        g->measured = atomic_load(&L.measuring);
        body_set(g, "{}");
        post(w, g, STEP_NONCE, "nonce");
}

/* The nonce's answer: the gateway measures more files, quotes, and sends the evidence. */
static bool attest_build(struct worker *w, struct gateway *g, json_t *answer)
{
        const struct fleet *f = &L.fleet;
        const char *nonce_hex = json_string_value(json_object_get(answer, "nonce"));
        const char *sel = json_string_value(json_object_get(answer, "pcr_selection"));
        json_t *from = json_object_get(answer, "ima_from");
        char attest_b64[4 * sizeof(TPMS_ATTEST) / 3 + 8], sig_b64[4 * sizeof(TPMT_SIGNATURE) / 3 + 8];
        char head[300];
        TPMS_ATTEST a = {.type = TPM2_ST_ATTEST_QUOTE};
        uint8_t *file;
        size_t file_size;
        uint64_t ima_from;
        int n;

        if (!nonce_hex || strlen(nonce_hex) != 2 * NONCE_SIZE || !sel || !json_is_integer(from))
                return false;
        if (strcmp(sel, f->selection_text) != 0)
                die("the verifier asks for PCRs %s; this simulation quotes %s", sel, f->selection_text);
        ima_from = (uint64_t)json_integer_value(from);

        ima_measure(g, f, g->ima_count == 0 ? 1 + f->per_round : f->per_round);
        if (ima_from > g->ima_count)
                die("%s: the verifier asks for IMA entries from %" PRIu64 ", the log has %" PRIu64, g->id, ima_from,
                    g->ima_count);

        /* TPM2_Quote(AK, nonce, sha256:0-10) and the PCR values, as tpm2_quote -m -s -o writes them. */
        memcpy(w->pcrs->values[10].digest, g->pcr10, 32);
        a.extraData.size = NONCE_SIZE;
        if (dw_hex_decode(nonce_hex, 2 * NONCE_SIZE, a.extraData.buffer, NONCE_SIZE) != NONCE_SIZE)
                return false;
        a.attested.quote.pcrSelect = f->selection;
        n = dw_tpm_pcrs_digest(w->pcrs, TPM2_ALG_SHA256, a.attested.quote.pcrDigest.buffer);
        if (n < 0 || dw_tpm_pcrs_file_write(w->pcrs, &file, &file_size) < 0)
                die("cannot make the PCR values");
        a.attested.quote.pcrDigest.size = (UINT16)n;
        attest_sign(g, &a, attest_b64, sig_b64);

        g->body.len = 0;
        snprintf(head, sizeof(head), "{\"nonce\":\"%s\",\"quote\":{\"attest\":\"", nonce_hex);
        append_str(&g->body, head);
        append_str(&g->body, attest_b64);
        append_str(&g->body, "\",\"signature\":\"");
        append_str(&g->body, sig_b64);
        append_str(&g->body, "\",\"pcrs\":\"");
        append_base64(&g->body, file, file_size);
        free(file);
        snprintf(head, sizeof(head), "\"},\"ima\":{\"first_index\":%" PRIu64 ",\"digest_alg\":\"sha1\",\"entries\":\"",
                 ima_from);
        append_str(&g->body, head);
        ima_entries_b64(g, f, ima_from, &g->body, &w->scratch);
        append_str(&g->body, "\"}");
        if (json_is_true(json_object_get(answer, "boot_log_required"))) {
                append_str(&g->body, ",\"boot_log\":\"");
                append_str(&g->body, f->boot_log_b64);
                append_str(&g->body, "\"");
        }
        append_str(&g->body, "}");
        return true;
}

static void failure(struct worker *w, struct gateway *g, const char *what, long status, const struct dw_ima_buf *b)
{
        w->failed++;
        if (w->shown++ < SHOW_FAILURES)
                fprintf(stderr, "verifier-load: %s %s: HTTP %ld: %.*s\n", g->id, what, status,
                        (int)MIN(b->len, (size_t)600), b->data ? (const char *)b->data : "");
}

static void heap_push(struct worker *w, struct gateway *g)
{
        size_t i = w->n_heap++;

        while (i > 0 && w->heap[(i - 1) / 2]->next_start > g->next_start) {
                w->heap[i] = w->heap[(i - 1) / 2];
                i = (i - 1) / 2;
        }
        w->heap[i] = g;
}

static struct gateway *heap_pop(struct worker *w)
{
        struct gateway *top = w->heap[0], *last = w->heap[--w->n_heap];
        size_t i = 0;

        for (;;) {
                size_t c = 2 * i + 1;

                if (c >= w->n_heap)
                        break;
                if (c + 1 < w->n_heap && w->heap[c + 1]->next_start < w->heap[c]->next_start)
                        c++;
                if (w->heap[c]->next_start >= last->next_start)
                        break;
                w->heap[i] = w->heap[c];
                i = c;
        }
        if (w->n_heap > 0)
                w->heap[i] = last;
        return top;
}

/* A round ended (answered, or failed): the next one now, or at the gateway's next slot with --rate. */
static void round_next(struct worker *w, struct gateway *g)
{
        if (L.goal != GOAL_RUN || atomic_load(&L.stop)) {
                g->step = STEP_IDLE;
                return;
        }
        if (L.rate <= 0) {
                round_start(w, g);
                return;
        }
        g->next_start = MAX(g->next_start + (uint64_t)(1e6 * L.n_gateways / L.rate), now_usec());
        g->step = STEP_IDLE;
        heap_push(w, g);
}

/* A trusted verdict, at a glance: the verifier writes its answers compact and in a fixed order ({"verdict" first,
 * "token" last); anything else is parsed in full. */
static bool trusted_at_a_glance(const struct dw_ima_buf *b)
{
        static const char head[] = "{\"verdict\":\"trusted\",", token[] = ",\"token\":\"";

        return b->len > sizeof(head) && memcmp(b->data, head, sizeof(head) - 1) == 0 &&
               memmem(b->data, b->len, token, sizeof(token) - 1);
}

static void verdict(struct worker *w, struct gateway *g, json_t *answer)
{
        const char *v = answer ? json_string_value(json_object_get(answer, "verdict")) : "trusted";
        uint64_t end = now_usec();
        bool trusted = !answer || (v && strcmp(v, "trusted") == 0 && json_is_string(json_object_get(answer, "token")));

        g->rounds++;
        if (g->measured && atomic_load(&L.measuring)) {
                w->rounds++;
                w->trusted += trusted;
                sample_add(&w->round_ms, end - g->round_start);
                sample_add(&w->attest_ms, end - g->attest_start);
        }
        if (!trusted) {
                w->failed++;
                if (w->shown++ < SHOW_FAILURES) {
                        char *text = json_dumps(json_object_get(answer, "reasons"), JSON_COMPACT);

                        fprintf(stderr, "verifier-load: %s: round %" PRIu64 " is %s: %.600s\n", g->id, g->rounds,
                                v ?: "?", text ?: "");
                        free(text);
                }
        }
}

static void enrolled(struct worker *w, struct gateway *g, json_t *answer)
{
        const char *cert = json_string_value(json_object_get(answer, "certificate"));

        (void)w;
        if (!cert)
                die("%s: the activation answer has no certificate", g->id);
        g->cert_pem = strdup(cert);
        if (!g->cert_pem)
                die("out of memory");
        g->enrolled = true;
        free(g->enroll_body);
        g->enroll_body = NULL;
        /* The next requests need the client certificate: a new handle, so a new connection with it. */
        curl_easy_cleanup(g->curl);
        gateway_curl(g);
}

/* The enrollment challenge: ActivateCredential, the proof and TPM2_Certify of the event key. */
static void activate(struct worker *w, struct gateway *g, json_t *answer)
{
        const char *cred_b64 = json_string_value(json_object_get(answer, "credential"));
        const char *nonce_hex = json_string_value(json_object_get(answer, "nonce"));
        char attest_b64[4 * sizeof(TPMS_ATTEST) / 3 + 8], sig_b64[4 * sizeof(TPMT_SIGNATURE) / 3 + 8];
        char proof_hex[65];
        uint8_t *cred = NULL, nonce[NONCE_SIZE], proof[32];
        unsigned proof_size = sizeof(proof);
        TPMS_ATTEST a = {.type = TPM2_ST_ATTEST_CERTIFY};
        TPM2B_ENCRYPTED_SECRET secret;
        TPM2B_ID_OBJECT blob;
        TPM2B_DIGEST recovered;
        struct dw_error err = {};
        size_t cred_size;
        json_t *j;
        char *text;
        int r;

        if (!cred_b64 || !nonce_hex || unbase64(cred_b64, &cred, &cred_size) < 0 ||
            dw_tpm_credential_file_parse(cred, cred_size, &blob, &secret, &err) < 0 ||
            dw_hex_decode(nonce_hex, strlen(nonce_hex), nonce, sizeof(nonce)) != NONCE_SIZE)
                die("%s: the enrollment challenge is not a credential and a nonce %s", g->id, err.msg);
        free(cred);
        r = soft_activate(g, &blob, &secret, &recovered);
        if (r < 0)
                die("%s: ActivateCredential failed: %s", g->id, r == -EBADMSG ? "integrity check" : "decryption");
        if (!HMAC(EVP_sha256(), recovered.buffer, recovered.size, nonce, sizeof(nonce), proof, &proof_size))
                die("HMAC");
        OPENSSL_cleanse(&recovered, sizeof(recovered));

        a.extraData.size = NONCE_SIZE;
        memcpy(a.extraData.buffer, nonce, NONCE_SIZE);
        a.attested.certify.name = g->event_key_name;
        a.attested.certify.qualifiedName = g->event_key_name;
        attest_sign(g, &a, attest_b64, sig_b64);
        j = json_pack("{s:s, s:{s:s, s:s}}", "proof", dw_hex_encode(proof, sizeof(proof), proof_hex),
                      "event_key_certify", "attest", attest_b64, "signature", sig_b64);
        text = j ? json_dumps(j, JSON_COMPACT) : NULL;
        if (!text)
                die("out of memory");
        json_decref(j);
        body_set(g, text);
        free(text);
        post(w, g, STEP_ACTIVATE, "activate");
}

static void transfer_done(struct worker *w, struct gateway *g, CURLcode result)
{
        enum step step = g->step;
        json_t *answer = NULL;
        long status = 0, connects = 0;

        curl_multi_remove_handle(w->multi, g->curl);
        w->active--;
        if (atomic_load(&L.measuring) && curl_easy_getinfo(g->curl, CURLINFO_NUM_CONNECTS, &connects) == CURLE_OK)
                w->connects += (uint64_t)connects;
        if (result != CURLE_OK) {
                if (step == STEP_ENROLL || step == STEP_ACTIVATE)
                        die("%s: enrollment: %s", g->id, curl_easy_strerror(result));
                w->failed++;
                if (w->shown++ < SHOW_FAILURES)
                        fprintf(stderr, "verifier-load: %s: %s\n", g->id, curl_easy_strerror(result));
                round_next(w, g);
                return;
        }
        curl_easy_getinfo(g->curl, CURLINFO_RESPONSE_CODE, &status);
        if (status == 200 && step == STEP_ATTEST && trusted_at_a_glance(&g->resp)) {
                verdict(w, g, NULL);
                round_next(w, g);
                return;
        }
        if (status == 200)
                answer = json_loadb((const char *)g->resp.data, g->resp.len, 0, NULL);
        switch (step) {
        case STEP_ENROLL:
                if (!answer)
                        die("%s: enroll: HTTP %ld: %.*s", g->id, status, (int)g->resp.len, (char *)g->resp.data);
                activate(w, g, answer);
                break;
        case STEP_ACTIVATE:
                if (!answer)
                        die("%s: activate: HTTP %ld: %.*s", g->id, status, (int)g->resp.len, (char *)g->resp.data);
                enrolled(w, g, answer);
                g->step = STEP_IDLE;
                if (L.goal != GOAL_ENROLL)
                        round_start(w, g);
                break;
        case STEP_NONCE:
                if (answer && attest_build(w, g, answer)) {
                        g->attest_start = now_usec();
                        post(w, g, STEP_ATTEST, "attest");
                        break;
                }
                failure(w, g, "nonce", status, &g->resp);
                round_next(w, g);
                break;
        case STEP_ATTEST:
                if (answer)
                        verdict(w, g, answer);
                else
                        failure(w, g, "attest", status, &g->resp);
                round_next(w, g);
                break;
        case STEP_IDLE:
                break;
        }
        json_decref(answer);
}

static void worker_begin(struct worker *w)
{
        uint64_t t = now_usec();

        for (size_t i = 0; i < w->n_gateways; i++) {
                struct gateway *g = w->gateways[i];

                if (g->index < L.lo || g->index >= L.hi)
                        continue;
                if (!g->curl)
                        gateway_curl(g);
                if (!g->enrolled) {
                        /* Enrolled first; its rounds (unless the goal is enrollment) start once it is. */
                        body_set(g, g->enroll_body);
                        post(w, g, STEP_ENROLL, "enroll");
                } else if (L.goal == GOAL_ENROLL)
                        continue;
                else if (L.goal == GOAL_RUN && L.rate > 0) {
                        /* Spread the fleet's first rounds over one period. */
                        g->next_start = t + (uint64_t)(1e6 * (double)g->index / L.rate);
                        heap_push(w, g);
                } else
                        round_start(w, g);
        }
}

/* libcurl's socket API: it says which sockets to watch for what, and when to call it back without an event. */
static int on_socket(CURL *easy, curl_socket_t fd, int what, void *userdata, void *socketp)
{
        struct worker *w = userdata;
        struct epoll_event ev = {.data.fd = fd};

        (void)easy;
        (void)socketp;
        if (what == CURL_POLL_REMOVE) {
                epoll_ctl(w->epoll_fd, EPOLL_CTL_DEL, fd, NULL);
                return 0;
        }
        ev.events = (what & CURL_POLL_IN ? EPOLLIN : 0u) | (what & CURL_POLL_OUT ? EPOLLOUT : 0u);
        if (epoll_ctl(w->epoll_fd, EPOLL_CTL_MOD, fd, &ev) < 0 &&
            (errno != ENOENT || epoll_ctl(w->epoll_fd, EPOLL_CTL_ADD, fd, &ev) < 0))
                die("epoll_ctl: %s", strerror(errno));
        return 0;
}

static int on_timer(CURLM *multi, long timeout_ms, void *userdata)
{
        struct worker *w = userdata;

        (void)multi;
        w->curl_deadline = timeout_ms < 0 ? 0 : now_usec() + (uint64_t)timeout_ms * 1000u;
        return 0;
}

static void multi_action(struct worker *w, curl_socket_t fd, int events)
{
        int running, left;
        CURLMcode rc;
        CURLMsg *m;

        rc = curl_multi_socket_action(w->multi, fd, events, &running);
        if (rc != CURLM_OK)
                die("curl_multi_socket_action: %s", curl_multi_strerror(rc));
        while ((m = curl_multi_info_read(w->multi, &left))) {
                char *g = NULL;

                if (m->msg != CURLMSG_DONE)
                        continue;
                curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, &g);
                transfer_done(w, (struct gateway *)g, m->data.result);
        }
}

static void *worker_main(void *userdata)
{
        struct worker *w = userdata;
        struct epoll_event events[64];

        worker_begin(w);
        while (w->active > 0 || (L.goal == GOAL_RUN && w->n_heap > 0 && !atomic_load(&L.stop))) {
                uint64_t t = now_usec(), wake = t + POLL_MAX_MS * 1000u;
                int n;

                if (w->curl_deadline > 0)
                        wake = MIN(wake, w->curl_deadline);
                if (w->n_heap > 0)
                        wake = MIN(wake, w->heap[0]->next_start);
                n = epoll_wait(w->epoll_fd, events, (int)ELEMENTSOF(events),
                               wake > t ? (int)((wake - t + 999) / 1000) : 0);
                if (n < 0 && errno != EINTR)
                        die("epoll_wait: %s", strerror(errno));
                for (int i = 0; i < n; i++)
                        multi_action(w, events[i].data.fd,
                                     (events[i].events & EPOLLIN ? CURL_CSELECT_IN : 0) |
                                             (events[i].events & EPOLLOUT ? CURL_CSELECT_OUT : 0) |
                                             (events[i].events & (EPOLLERR | EPOLLHUP) ? CURL_CSELECT_ERR : 0));
                if (w->curl_deadline > 0 && w->curl_deadline <= now_usec()) {
                        w->curl_deadline = 0;
                        multi_action(w, CURL_SOCKET_TIMEOUT, 0);
                }
                while (w->n_heap > 0 && !atomic_load(&L.stop) && w->heap[0]->next_start <= now_usec())
                        round_start(w, heap_pop(w));
        }
        w->n_heap = 0;
        return NULL;
}

/* Runs a phase on every worker's thread and waits for its end (GOAL_RUN: until L.stop). */
static void phase(enum goal goal, unsigned lo, unsigned hi)
{
        L.goal = goal;
        L.lo = lo;
        L.hi = hi;
        atomic_store(&L.stop, false);
        for (unsigned i = 0; i < L.n_workers; i++)
                if (pthread_create(&L.workers[i].thread, NULL, worker_main, &L.workers[i]) != 0)
                        die("pthread_create failed");
}

static void phase_wait(void)
{
        for (unsigned i = 0; i < L.n_workers; i++)
                pthread_join(L.workers[i].thread, NULL);
}

/* Every connection closed: the curl handles and the multi handles that cache their connections. */
static void connections_close(void)
{
        for (unsigned i = 0; i < L.n_workers; i++) {
                struct worker *w = &L.workers[i];

                for (size_t k = 0; k < w->n_gateways; k++) {
                        curl_easy_cleanup(w->gateways[k]->curl);
                        w->gateways[k]->curl = NULL;
                }
                curl_multi_cleanup(w->multi);
                if (w->epoll_fd > 0)
                        close(w->epoll_fd);
                w->multi = curl_multi_init();
                w->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
                if (!w->multi || w->epoll_fd < 0)
                        die("curl_multi_init or epoll_create1 failed");
                w->curl_deadline = 0;
                curl_multi_setopt(w->multi, CURLMOPT_MAXCONNECTS, (long)w->n_gateways + 8);
                curl_multi_setopt(w->multi, CURLMOPT_SOCKETFUNCTION, on_socket);
                curl_multi_setopt(w->multi, CURLMOPT_SOCKETDATA, w);
                curl_multi_setopt(w->multi, CURLMOPT_TIMERFUNCTION, on_timer);
                curl_multi_setopt(w->multi, CURLMOPT_TIMERDATA, w);
        }
}

/* ---- measurements ---------------------------------------------------------------------------------------------- */

struct proc_sample {
        uint64_t usec;       /* monotonic */
        double verifier_cpu; /* s, user + system */
        double self_cpu;     /* s */
        double machine_busy; /* s of all CPUs, from /proc/stat */
        double machine_total;
};

static bool proc_status(long pid, const char *key, uint64_t *ret)
{
        char path[64], line[256];
        size_t klen = strlen(key);
        bool found = false;
        FILE *f;

        snprintf(path, sizeof(path), "/proc/%ld/status", pid);
        f = fopen(path, "re");
        if (!f)
                return false;
        while (fgets(line, sizeof(line), f))
                if (strncmp(line, key, klen) == 0 && line[klen] == ':') {
                        *ret = strtoull(line + klen + 1, NULL, 10);
                        found = true;
                        break;
                }
        fclose(f);
        return found;
}

static double proc_cpu(long pid)
{
        char path[64], buf[1024], *p;
        unsigned long long ut = 0, st = 0;
        size_t n;
        FILE *f;

        snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
        f = fopen(path, "re");
        if (!f)
                return 0;
        n = fread(buf, 1, sizeof(buf) - 1, f);
        fclose(f);
        buf[n] = '\0';
        p = strrchr(buf, ')');
        /* After "pid (comm)": state ppid pgrp session tty_nr tpgid flags minflt cminflt majflt cmajflt utime stime */
        if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
                return 0;
        return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

static void machine_cpu(double *busy, double *total)
{
        unsigned long long v[10] = {};
        FILE *f = fopen("/proc/stat", "re");
        double t = 0;

        *busy = *total = 0;
        if (!f)
                return;
        if (fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5],
                   &v[6], &v[7], &v[8], &v[9]) >= 8) {
                for (size_t i = 0; i < 8; i++)
                        t += (double)v[i];
                *total = t / (double)sysconf(_SC_CLK_TCK);
                *busy = (t - (double)v[3] - (double)v[4]) / (double)sysconf(_SC_CLK_TCK);
        }
        fclose(f);
}

static void proc_sample(long pid, struct proc_sample *ret)
{
        struct rusage ru;

        getrusage(RUSAGE_SELF, &ru);
        ret->usec = now_usec();
        ret->verifier_cpu = pid > 0 ? proc_cpu(pid) : 0;
        ret->self_cpu = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
                        (double)ru.ru_stime.tv_usec / 1e6;
        machine_cpu(&ret->machine_busy, &ret->machine_total);
}

static uint64_t rss_kib(long pid, const char *key)
{
        uint64_t v = 0;

        if (pid > 0 && !proc_status(pid, key, &v))
                die("cannot read %s of process %ld", key, pid);
        return v;
}

static int cmp_float(const void *a, const void *b)
{
        float x = *(const float *)a, y = *(const float *)b;

        return (x > y) - (x < y);
}

static void samples_merge(struct samples *out, bool attest)
{
        *out = (struct samples){};
        for (unsigned i = 0; i < L.n_workers; i++) {
                const struct samples *s = attest ? &L.workers[i].attest_ms : &L.workers[i].round_ms;

                for (size_t k = 0; k < s->n; k++)
                        sample_add(out, (uint64_t)(s->v[k] * 1000.0f));
        }
        qsort(out->v, out->n, sizeof(float), cmp_float);
}

static double pct(const struct samples *s, double p)
{
        size_t i;

        if (s->n == 0)
                return NAN;
        i = (size_t)(p / 100.0 * (double)(s->n - 1) + 0.5);
        return s->v[MIN(i, s->n - 1)];
}

/* ---- run ------------------------------------------------------------------------------------------------------- */

struct run_args {
        const char *url, *ca, *ek_ca, *boot_log, *prefix;
        unsigned gateways, threads, entries;
        size_t policy_paths, pool;
        double duration, warmup, rate;
        const char *ek_alg;
        long pid;
};

struct prepare_job {
        struct gateway *gateways;
        unsigned n, step, first;
        const struct ek_ca *ca;
        const char *ek_alg;
};

static void *prepare_main(void *userdata)
{
        struct prepare_job *j = userdata;

        for (unsigned i = j->first; i < j->n; i += j->step) {
                bool rsa = strcmp(j->ek_alg, "rsa") == 0 || (strcmp(j->ek_alg, "mixed") == 0 && i % 8 == 3);

                gateway_make(&j->gateways[i], j->ca, rsa, &L.fleet);
        }
        return NULL;
}

static void sleep_usec(uint64_t usec)
{
        struct timespec ts = {.tv_sec = (time_t)(usec / 1000000u), .tv_nsec = (long)(usec % 1000000u) * 1000};

        while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
                ;
}

static void totals(uint64_t *rounds, uint64_t *trusted, uint64_t *failed, uint64_t *connects)
{
        *rounds = *trusted = *failed = *connects = 0;
        for (unsigned i = 0; i < L.n_workers; i++) {
                *rounds += L.workers[i].rounds;
                *trusted += L.workers[i].trusted;
                *failed += L.workers[i].failed;
                *connects += L.workers[i].connects;
        }
}

static int cmd_run(const struct run_args *a)
{
        struct gateway *gws;
        struct ek_ca ca = {};
        struct proc_sample s0, s1;
        struct samples round_ms, attest_ms;
        uint64_t t, rss_start, rss_before, rss_connected, rss_idle, rss_load, hwm, threads_load = 0;
        uint64_t rounds, trusted, failed, connects;
        size_t ca_size;
        unsigned n_rsa = 0;
        double dt, rps, v_cores, self_cores, busy_cores;

        if (!a->url || !a->ca || !a->ek_ca || a->gateways < 2)
                die("run: --url, --ca, --ek-ca and --gateways N (at least 2) are required");
        if (strcmp(a->ek_alg, "ecc") != 0 && strcmp(a->ek_alg, "rsa") != 0 && strcmp(a->ek_alg, "mixed") != 0)
                die("--ek-alg: ecc, rsa or mixed");
        L.url = a->url;
        L.rate = a->rate;
        L.n_gateways = a->gateways;
        if (dw_read_full_file(a->ca, 1 << 20, (uint8_t **)&L.ca_pem, &ca_size) < 0)
                die("%s: cannot read the verifier's CA", a->ca);
        L.headers = curl_slist_append(NULL, "Content-Type: application/json");
        L.headers = curl_slist_append(L.headers, "Expect:"); /* no 100-continue round trip for larger bodies */
        ek_ca_load(a->ek_ca, &ca);
        fleet_init(&L.fleet, a->boot_log, a->policy_paths, a->pool, a->entries);

        /* The software TPMs, their EK certificates and TLS keys, made on every core. */
        t = now_usec();
        gws = xmalloc(a->gateways * sizeof(*gws));
        for (unsigned i = 0; i < a->gateways; i++) {
                gws[i].index = i;
                snprintf(gws[i].id, sizeof(gws[i].id), "%s%05u", a->prefix, i);
                n_rsa += strcmp(a->ek_alg, "rsa") == 0 || (strcmp(a->ek_alg, "mixed") == 0 && i % 8 == 3);
        }
        {
                unsigned n = (unsigned)MAX(sysconf(_SC_NPROCESSORS_ONLN), 1L);
                struct prepare_job jobs[64];
                pthread_t th[64];

                n = MIN(n, (unsigned)ELEMENTSOF(jobs));
                for (unsigned i = 0; i < n; i++) {
                        jobs[i] = (struct prepare_job){gws, a->gateways, n, i, &ca, a->ek_alg};
                        if (pthread_create(&th[i], NULL, prepare_main, &jobs[i]) != 0)
                                die("pthread_create failed");
                }
                for (unsigned i = 0; i < n; i++)
                        pthread_join(th[i], NULL);
        }
        printf("setup: %u software TPMs (%u RSA-2048 EKs, %u ECC P-256 EKs), EK certificates and TLS keys in %.1f s; "
               "IMA pool of %zu entries over a %zu-path policy, %u entries per round\n",
               a->gateways, n_rsa, a->gateways - n_rsa, (double)(now_usec() - t) / 1e6, L.fleet.n, a->policy_paths,
               a->entries);

        /* The workers: gateway i belongs to worker i mod T. */
        /* libcurl looks for a connection to reuse among all those its multi handle keeps for the host, checking
         * each idle one it passes over with a syscall: a few dozen gateways per multi handle keep that cheap. */
        L.n_workers = MIN(a->threads > 0 ? a->threads
                                         : MAX(2u, (a->gateways + GATEWAYS_PER_THREAD - 1) / GATEWAYS_PER_THREAD),
                          a->gateways);
        L.workers = xmalloc(L.n_workers * sizeof(struct worker));
        for (unsigned i = 0; i < L.n_workers; i++) {
                struct worker *w = &L.workers[i];

                w->index = i;
                w->gateways = xmalloc((a->gateways / L.n_workers + 1) * sizeof(struct gateway *));
                w->heap = xmalloc((a->gateways / L.n_workers + 1) * sizeof(struct gateway *));
                w->pcrs = xmalloc(sizeof(*w->pcrs));
                w->pcrs->selection = L.fleet.selection;
                w->pcrs->n_values = 11;
                for (unsigned p = 0; p < 11; p++) {
                        w->pcrs->values[p] =
                                (struct dw_tpm_pcr_value){.hash_alg = TPM2_ALG_SHA256, .pcr = (uint8_t)p, .size = 32};
                        if (p < 10)
                                memcpy(w->pcrs->values[p].digest, L.fleet.pcrs[p], 32);
                }
        }
        for (unsigned i = 0; i < a->gateways; i++) {
                struct worker *w = &L.workers[i % L.n_workers];

                w->gateways[w->n_gateways++] = &gws[i];
        }
        connections_close(); /* creates the multi handles */

        /* One gateway first, with one round: the verifier then has its policies compiled and cached. */
        rss_start = rss_kib(a->pid, "VmRSS");
        phase(GOAL_ROUND, 0, 1);
        phase_wait();
        totals(&rounds, &trusted, &failed, &connects);
        if (failed > 0)
                die("the first gateway's first round failed");
        connections_close();
        sleep_usec(500000);
        rss_before = rss_kib(a->pid, "VmRSS");

        /* Enrollment of the others, each over its own connection. */
        t = now_usec();
        phase(GOAL_ENROLL, 1, a->gateways);
        phase_wait();
        dt = (double)(now_usec() - t) / 1e6;
        printf("enroll: %u gateways in %.1f s (%.0f/s): EK certificate chain, MakeCredential, software "
               "ActivateCredential, TPM2_Certify of the event key, client certificate\n",
               a->gateways - 1, dt, (a->gateways - 1) / dt);
        rss_connected = rss_kib(a->pid, "VmRSS");
        connections_close();
        sleep_usec(1000000);
        rss_idle = rss_kib(a->pid, "VmRSS");

        /* The load: warm-up (first rounds: boot log and boot_aggregate), then the measurement window. */
        phase(GOAL_RUN, 0, a->gateways);
        sleep_usec((uint64_t)(a->warmup * 1e6));
        atomic_store(&L.measuring, true);
        proc_sample(a->pid, &s0);
        sleep_usec((uint64_t)(a->duration * 1e6));
        proc_sample(a->pid, &s1);
        atomic_store(&L.measuring, false);
        rss_load = rss_kib(a->pid, "VmRSS");
        hwm = rss_kib(a->pid, "VmHWM");
        if (a->pid > 0)
                proc_status(a->pid, "Threads", &threads_load);
        atomic_store(&L.stop, true); /* the workers see it within POLL_MAX_MS */
        phase_wait();

        totals(&rounds, &trusted, &failed, &connects);
        dt = (double)(s1.usec - s0.usec) / 1e6;
        rps = (double)rounds / dt;
        v_cores = (s1.verifier_cpu - s0.verifier_cpu) / dt;
        self_cores = (s1.self_cpu - s0.self_cpu) / dt;
        busy_cores = (s1.machine_busy - s0.machine_busy) / dt;
        samples_merge(&round_ms, false);
        samples_merge(&attest_ms, true);

        printf("load: %u gateways, %s, %u client threads, %.0f s measured after %.0f s of warm-up\n", a->gateways,
               a->rate > 0 ? "paced" : "closed loop", L.n_workers, dt, a->warmup);
        printf("rounds: %" PRIu64 " in %.2f s = %.0f rounds/s (%.0f IMA entries/s); trusted %" PRIu64
               ", other verdicts and errors %" PRIu64 "\n",
               rounds, dt, rps, rps * a->entries, trusted, failed);
        printf("round latency (nonce request to verdict): p50 %.2f ms, p90 %.2f ms, p99 %.2f ms, p99.9 %.2f ms, max "
               "%.2f ms\n",
               pct(&round_ms, 50), pct(&round_ms, 90), pct(&round_ms, 99), pct(&round_ms, 99.9), pct(&round_ms, 100));
        printf("attest request latency: p50 %.2f ms, p99 %.2f ms; new TLS connections while measured: %" PRIu64 "\n",
               pct(&attest_ms, 50), pct(&attest_ms, 99), connects);
        printf("cpu (cores of %ld): verifier %.2f, load generator %.2f, anything else %.2f, idle %.2f; per round: "
               "verifier %.0f us, load generator %.0f us\n",
               sysconf(_SC_NPROCESSORS_ONLN), v_cores, self_cores, MAX(busy_cores - v_cores - self_cores, 0.0),
               MAX((double)sysconf(_SC_NPROCESSORS_ONLN) - busy_cores, 0.0), rps > 0 ? v_cores * 1e6 / rps : 0,
               rps > 0 ? self_cores * 1e6 / rps : 0);
        if (a->pid > 0) {
                printf("verifier VmRSS: %" PRIu64 " KiB at start, %" PRIu64 " KiB with 1 gateway and its policies "
                       "compiled, %" PRIu64 " KiB after enrolling %u more (connections open), %" PRIu64
                       " KiB with the connections closed, %" PRIu64 " KiB under load (%" PRIu64
                       " threads), VmHWM %" PRIu64 " KiB\n",
                       rss_start, rss_before, rss_connected, a->gateways - 1, rss_idle, rss_load, threads_load, hwm);
                printf("memory per enrolled gateway: %.1f KiB idle (connections closed), %.1f KiB enrolled with its "
                       "connection open, %.1f KiB attesting\n",
                       ((double)rss_idle - (double)rss_before) / (a->gateways - 1),
                       ((double)rss_connected - (double)rss_before) / (a->gateways - 1),
                       ((double)rss_load - (double)rss_before) / (a->gateways - 1));
        }
        printf("RESULT gateways=%u rounds=%" PRIu64 " seconds=%.2f rounds_per_s=%.0f trusted=%" PRIu64
               " failed=%" PRIu64 " p50_ms=%.2f p90_ms=%.2f p99_ms=%.2f p999_ms=%.2f max_ms=%.2f attest_p50_ms=%.2f "
               "attest_p99_ms=%.2f verifier_cores=%.2f loader_cores=%.2f other_cores=%.2f verifier_us_per_round=%.0f "
               "loader_us_per_round=%.0f rss_start_kib=%" PRIu64 " rss_before_kib=%" PRIu64
               " rss_enrolled_connected_kib=%" PRIu64 " rss_enrolled_idle_kib=%" PRIu64 " rss_load_kib=%" PRIu64
               " hwm_kib=%" PRIu64 " kib_per_gateway_idle=%.1f kib_per_gateway_connected=%.1f "
               "kib_per_gateway_load=%.1f\n",
               a->gateways, rounds, dt, rps, trusted, failed, pct(&round_ms, 50), pct(&round_ms, 90),
               pct(&round_ms, 99), pct(&round_ms, 99.9), pct(&round_ms, 100), pct(&attest_ms, 50), pct(&attest_ms, 99),
               v_cores, self_cores, MAX(busy_cores - v_cores - self_cores, 0.0), rps > 0 ? v_cores * 1e6 / rps : 0,
               rps > 0 ? self_cores * 1e6 / rps : 0, rss_start, rss_before, rss_connected, rss_idle, rss_load, hwm,
               ((double)rss_idle - (double)rss_before) / (a->gateways - 1),
               ((double)rss_connected - (double)rss_before) / (a->gateways - 1),
               ((double)rss_load - (double)rss_before) / (a->gateways - 1));
        return failed > 0 ? 1 : 0;
}

/* ---- main ---------------------------------------------------------------------------------------------------- */

static void usage(void)
{
        printf("Usage:\n"
               "  verifier-load ek-ca --out DIR\n"
               "  verifier-load policy --paths N --out FILE\n"
               "  verifier-load run --url URL --ca CA.pem --ek-ca DIR --gateways N [--policy-paths P] [--pool N]\n"
               "                    [--duration S] [--warmup S] [--rate R] [--threads T|0] [--entries E]\n"
               "                    [--ek-alg ecc|rsa|mixed] [--boot-log FILE] [--verifier-pid PID] [--prefix ID]\n");
}

static double num(const char *opt, const char *s)
{
        char *end;
        double v;

        errno = 0;
        v = strtod(s, &end);
        if (errno != 0 || end == s || *end != '\0' || v < 0)
                die("%s: not a number: '%s'", opt, s);
        return v;
}

int main(int argc, char **argv)
{
        struct run_args a = {
                .boot_log = "tests/data/round/bios.log",
                .prefix = "lg",
                .gateways = 100,
                .threads = 0, /* one per GATEWAYS_PER_THREAD gateways, at least 2 */
                .entries = 20,
                .policy_paths = 100000,
                .pool = POOL_DEFAULT,
                .duration = 20,
                .warmup = 5,
                .ek_alg = "mixed",
        };
        const char *cmd, *out = NULL;
        size_t paths = 0;
        int r;

        if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
                usage();
                return argc < 2;
        }
        cmd = argv[1];
        for (int i = 2; i < argc; i++) {
                const char *o = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

                if (!v)
                        die("%s: missing value (see --help)", o);
                i++;
                if (strcmp(o, "--out") == 0)
                        out = v;
                else if (strcmp(o, "--paths") == 0)
                        paths = (size_t)num(o, v);
                else if (strcmp(o, "--url") == 0)
                        a.url = v;
                else if (strcmp(o, "--ca") == 0)
                        a.ca = v;
                else if (strcmp(o, "--ek-ca") == 0)
                        a.ek_ca = v;
                else if (strcmp(o, "--boot-log") == 0)
                        a.boot_log = v;
                else if (strcmp(o, "--prefix") == 0)
                        a.prefix = v;
                else if (strcmp(o, "--gateways") == 0)
                        a.gateways = (unsigned)num(o, v);
                else if (strcmp(o, "--threads") == 0)
                        a.threads = (unsigned)num(o, v); /* 0: one per GATEWAYS_PER_THREAD gateways */
                else if (strcmp(o, "--entries") == 0)
                        a.entries = MAX((unsigned)num(o, v), 1u);
                else if (strcmp(o, "--policy-paths") == 0)
                        a.policy_paths = (size_t)num(o, v);
                else if (strcmp(o, "--pool") == 0)
                        a.pool = (size_t)num(o, v);
                else if (strcmp(o, "--duration") == 0)
                        a.duration = num(o, v);
                else if (strcmp(o, "--warmup") == 0)
                        a.warmup = num(o, v);
                else if (strcmp(o, "--rate") == 0)
                        a.rate = num(o, v);
                else if (strcmp(o, "--ek-alg") == 0)
                        a.ek_alg = v;
                else if (strcmp(o, "--verifier-pid") == 0)
                        a.pid = (long)num(o, v);
                else
                        die("unknown option %s (see --help)", o);
        }
        setvbuf(stdout, NULL, _IOLBF, 0);
        if (strcmp(cmd, "ek-ca") == 0)
                return cmd_ek_ca(out);
        if (strcmp(cmd, "policy") == 0)
                return cmd_policy(paths, out);
        if (strcmp(cmd, "run") != 0)
                die("unknown command '%s' (see --help)", cmd);
        if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
                die("curl_global_init failed");
        r = cmd_run(&a);
        curl_global_cleanup();
        return r;
}
