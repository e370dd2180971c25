/* SPDX-License-Identifier: MIT */
/* Runtime-policy throughput: a generated 100,000-path policy (SHA-256 digests, a third of the paths with a SHA-1
 * digest too, a few exclude patterns), loaded from JSON, and a generated N-entry ima-ng log whose entries name
 * those paths in a scattered order (99% accepted, 1% of paths the policy lacks, judged against the excludes too).
 * Prints the load time and entries/s on one core for: parsing alone, parsing + judging, and parsing + template
 * digest check + judging (the verifier's work per entry, without the PCR replay).
 *
 * With --signed rsa|ec the log is ima-sig instead, every entry signed (RSA-2048 or ECDSA P-256, v2 signatures over
 * SHA-256, 1,000 distinct signed files) and the policy requires signatures: the cost of a public-key verification
 * per entry. */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "hex.h"
#include "ima-write.h"
#include "runtime-policy.h"

static double now(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void bench_path(unsigned long i, char *out, size_t size)
{
        snprintf(out, size, "/usr/lib/x86_64-linux-gnu/driftwatch-bench/%c%c/lib%06lu.so.%lu", 'a' + (int)(i % 26),
                 'a' + (int)(i / 26 % 26), i, i % 7);
}

static void bench_digest(struct dw_hasher *h, enum dw_hash_alg alg, unsigned long i, uint8_t *out)
{
        char seed[32];

        snprintf(seed, sizeof(seed), "%lu", i);
        dw_hash_buf(h, alg, seed, strlen(seed), out);
}

#define SIGNED_FILES 1000

struct signer {
        EVP_PKEY *key;
        uint32_t keyid;
        uint8_t sigs[SIGNED_FILES][9 + 512];
        size_t sig_lens[SIGNED_FILES];
};

static int keyid_of(EVP_PKEY *key, uint32_t *ret)
{
        X509_PUBKEY *xpk = NULL;
        const unsigned char *bits;
        unsigned char sha1[20];
        unsigned len = 0;
        int bits_len, r = -1;

        if (X509_PUBKEY_set(&xpk, key) == 1 && X509_PUBKEY_get0_param(NULL, &bits, &bits_len, NULL, xpk) == 1 &&
            EVP_Digest(bits, (size_t)bits_len, sha1, &len, EVP_sha1(), NULL) == 1) {
                *ret = (uint32_t)sha1[16] << 24 | (uint32_t)sha1[17] << 16 | (uint32_t)sha1[18] << 8 | sha1[19];
                r = 0;
        }
        X509_PUBKEY_free(xpk);
        return r;
}

/* v2 IMA signatures (type 3, sha256) of the first SIGNED_FILES paths' digests. */
static int make_signer(struct dw_hasher *h, const char *type, struct signer *s)
{
        s->key = strcmp(type, "rsa") == 0 ? EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048)
                                          : EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
        if (!s->key || keyid_of(s->key, &s->keyid) < 0)
                return -1;
        for (unsigned long i = 0; i < SIGNED_FILES; i++) {
                EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new(s->key, NULL);
                uint8_t digest[32], *out = s->sigs[i];
                size_t len = sizeof(s->sigs[i]) - 9;

                bench_digest(h, DW_HASH_SHA256, i, digest);
                if (!ctx || EVP_PKEY_sign_init(ctx) != 1 ||
                    (EVP_PKEY_get_base_id(s->key) == EVP_PKEY_RSA &&
                     EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING) != 1) ||
                    EVP_PKEY_CTX_set_signature_md(ctx, EVP_sha256()) != 1 ||
                    EVP_PKEY_sign(ctx, out + 9, &len, digest, sizeof(digest)) != 1) {
                        EVP_PKEY_CTX_free(ctx);
                        return -1;
                }
                EVP_PKEY_CTX_free(ctx);
                out[0] = 3;
                out[1] = 2;
                out[2] = 4;
                out[3] = (uint8_t)(s->keyid >> 24);
                out[4] = (uint8_t)(s->keyid >> 16);
                out[5] = (uint8_t)(s->keyid >> 8);
                out[6] = (uint8_t)s->keyid;
                out[7] = (uint8_t)(len >> 8);
                out[8] = (uint8_t)len;
                s->sig_lens[i] = 9 + len;
        }
        return 0;
}

static char *signer_pem(const struct signer *s)
{
        BIO *bio = BIO_new(BIO_s_mem());
        char *data, *pem = NULL;
        long len;

        if (bio && PEM_write_bio_PUBKEY(bio, s->key) == 1) {
                len = BIO_get_mem_data(bio, &data);
                pem = strndup(data, (size_t)len);
        }
        BIO_free(bio);
        return pem;
}

static char *make_policy(struct dw_hasher *h, unsigned long paths, const struct signer *signer)
{
        json_t *root = json_object(), *digests = json_object(), *excludes = json_array();
        char *text;

        for (unsigned long i = 0; i < paths; i++) {
                char path[128], hex[2 * DW_HASH_MAX_SIZE + 1], s[160];
                json_t *list = json_array();
                uint8_t d[DW_HASH_MAX_SIZE];

                bench_path(i, path, sizeof(path));
                bench_digest(h, DW_HASH_SHA256, i, d);
                snprintf(s, sizeof(s), "sha256:%s", dw_hex_encode(d, 32, hex));
                json_array_append_new(list, json_string(s));
                if (i % 3 == 0) {
                        bench_digest(h, DW_HASH_SHA1, i, d);
                        snprintf(s, sizeof(s), "sha1:%s", dw_hex_encode(d, 20, hex));
                        json_array_append_new(list, json_string(s));
                }
                json_object_set_new(digests, path, list);
        }
        json_array_append_new(excludes, json_string("^/tmp/"));
        json_array_append_new(excludes, json_string("^/var/log/"));
        json_array_append_new(excludes, json_string("^/home/[^/]+/\\.cache/"));
        json_object_set_new(root, "driftwatch_runtime_policy", json_integer(1));
        json_object_set_new(root, "digests", digests);
        json_object_set_new(root, "excludes", excludes);
        if (signer) {
                char *pem = signer_pem(signer);

                if (!pem)
                        return NULL;
                json_object_set_new(root, "keys", json_pack("[{s:s}]", "pem", pem));
                json_object_set_new(root, "options", json_pack("{s:b}", "require_signatures", 1));
                free(pem);
        }
        text = json_dumps(root, JSON_COMPACT);
        json_decref(root);
        return text;
}

/* Entry k names path (k * 7919) mod paths (a prime stride: no two neighbours share cache lines); every 100th names a
 * path the policy lacks. */
static int make_log(struct dw_hasher *h, unsigned long n, unsigned long paths, const struct signer *signer,
                    struct dw_ima_buf *log)
{
        for (unsigned long k = 0; k < n; k++) {
                unsigned long i = (k * 7919) % (signer ? SIGNED_FILES : paths);
                uint8_t digest[32];
                char name[160];
                struct dw_ima_event ev = {
                        .pcr = 10,
                        .template_name = "ima-ng",
                        .digest_algo = "sha256",
                        .digest = digest,
                        .digest_len = sizeof(digest),
                        .name = name,
                };
                int r;

                bench_path(i, name, sizeof(name));
                if (signer) {
                        ev.template_name = "ima-sig";
                        ev.sig = signer->sigs[i];
                        ev.sig_len = signer->sig_lens[i];
                }
                if (k % 100 == 99)
                        strcat(name, ".new");
                bench_digest(h, DW_HASH_SHA256, i, digest);
                r = dw_ima_event_write(h, &ev, DW_IMA_FORMAT_BINARY, DW_HASH_SHA1, DW_IMA_BANK_NATIVE, log);
                if (r < 0)
                        return r;
        }
        return 0;
}

enum mode { PARSE, JUDGE, CHECK_AND_JUDGE };

/* One pass over the log; returns seconds, or a negative value on error. */
static double run(enum mode mode, struct dw_hasher *h, const struct dw_runtime_policy *p, const struct dw_ima_buf *log,
                  unsigned long *ret_failures)
{
        struct dw_ima_parser parser;
        struct dw_ima_entry e;
        struct dw_error err = {};
        unsigned long failures = 0;
        double t0 = now();
        int r;

        dw_ima_parser_init(&parser, DW_IMA_FORMAT_BINARY, DW_HASH_SHA1, log->data, log->len);
        while ((r = dw_ima_parser_next(&parser, &e, &err)) > 0) {
                struct dw_policy_verdict v;

                if (mode == CHECK_AND_JUDGE && dw_ima_entry_check_digest(h, &e, &err) < 0)
                        break;
                if (mode == PARSE)
                        continue;
                if (dw_runtime_policy_judge_entry(p, &e, &v) < 0) {
                        r = -EIO;
                        break;
                }
                failures += dw_policy_result_is_failure(v.result);
        }
        dw_ima_parser_done(&parser);
        if (r != 0) {
                fprintf(stderr, "entry %lu: %s\n", (unsigned long)err.index, err.msg);
                return -1;
        }
        *ret_failures = failures;
        return now() - t0;
}

int main(int argc, char **argv)
{
        static const char *const names[] = {"parse only", "parse + judge", "parse + template digest check + judge"};
        struct dw_runtime_policy *p = NULL;
        struct dw_policy_error perr = {};
        struct dw_ima_buf log = {};
        struct dw_hasher *h = NULL;
        unsigned long n = 1000000, paths = 100000;
        static struct signer signer;
        const char *signed_type = NULL;
        double best[3] = {1e9, 1e9, 1e9}, t0, load;
        char *text;
        int runs = 3;

        for (int i = 1; i < argc; i++) {
                if (strcmp(argv[i], "--entries") == 0 && i + 1 < argc)
                        n = strtoul(argv[++i], NULL, 10);
                else if (strcmp(argv[i], "--paths") == 0 && i + 1 < argc)
                        paths = strtoul(argv[++i], NULL, 10);
                else if (strcmp(argv[i], "--runs") == 0 && i + 1 < argc)
                        runs = atoi(argv[++i]);
                else if (strcmp(argv[i], "--signed") == 0 && i + 1 < argc &&
                         (strcmp(argv[i + 1], "rsa") == 0 || strcmp(argv[i + 1], "ec") == 0))
                        signed_type = argv[++i];
                else {
                        fprintf(stderr, "usage: %s [--entries N] [--paths P] [--runs K] [--signed rsa|ec]\n", argv[0]);
                        return 2;
                }
        }
        if (paths == 0 || dw_hasher_new(&h) < 0)
                return 1;
        if (signed_type && (paths < SIGNED_FILES || make_signer(h, signed_type, &signer) < 0))
                return 1;
        text = make_policy(h, paths, signed_type ? &signer : NULL);
        if (!text || make_log(h, n, paths, signed_type ? &signer : NULL, &log) < 0)
                return 1;
        t0 = now();
        if (dw_runtime_policy_load(text, strlen(text), &p, &perr) < 0) {
                fprintf(stderr, "policy: %s: %s\n", perr.where, perr.msg);
                return 1;
        }
        load = now() - t0;
        printf("policy: %lu paths, %zu bytes of JSON, loaded in %.3f s\n", paths, strlen(text), load);
        printf("log: %lu %s entries, %zu bytes%s%s\n", n, signed_type ? "ima-sig" : "ima-ng", log.len,
               signed_type ? ", every one signed by " : "", signed_type ? signed_type : "");

        for (int k = 0; k < runs; k++)
                for (enum mode m = PARSE; m <= CHECK_AND_JUDGE; m++) {
                        unsigned long failures = 0;
                        double dt = run(m, h, p, &log, &failures);

                        if (dt < 0)
                                return 1;
                        /* Signed entries pass on their signature, even those whose path the policy lacks. */
                        if (m != PARSE && failures != (signed_type ? 0 : n / 100)) {
                                fprintf(stderr, "%lu failures, expected %lu\n", failures, signed_type ? 0 : n / 100);
                                return 1;
                        }
                        if (dt < best[m])
                                best[m] = dt;
                }
        for (enum mode m = PARSE; m <= CHECK_AND_JUDGE; m++)
                printf("%-40s %.3f s = %.0f entries/s per core (best of %d)\n", names[m], best[m], n / best[m], runs);
        printf("judging alone (difference): %.0f entries/s per core, %.0f ns per entry\n",
               n / (best[JUDGE] - best[PARSE]), 1e9 * (best[JUDGE] - best[PARSE]) / n);
        dw_runtime_policy_free(p);
        EVP_PKEY_free(signer.key);
        dw_ima_buf_done(&log);
        dw_hasher_free(h);
        free(text);
        return 0;
}
