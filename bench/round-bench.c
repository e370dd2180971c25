/* SPDX-License-Identifier: MIT */
/* Attestation rounds per second on one core, as the verifier judges them (lib/attest-round.h): each round carries a
 * fresh nonce, a quote of sha256:0-10 signed by an ECDSA P-256 AK, its PCR values, and 20 new IMA entries (ima-ng,
 * SHA-1 template digests as in binary_runtime_measurements) that replay from the persisted state to the quoted PCR
 * 10 and are judged against a runtime policy of --paths paths (default 100,000); the boot policy's golden PCRs are
 * checked too. The evidence is made here (the AK is a software key: a TPM would sign the same bytes), chained
 * round after round, so each round continues from the previous round's state.
 *
 *   round-bench [--data tests/data/round] [--paths 100000] [--rounds 2000] [--entries 20] [--runs 3]
 *               [--serialize]
 *
 * --serialize also writes the new state to its blob and reads it back every round, as a verifier that keeps the
 * state in its database does. */

#define OPENSSL_SUPPRESS_DEPRECATED 1
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/ec.h>
#include <openssl/evp.h>
#include <tss2/tss2_mu.h>

#include "attest-round.h"
#include "fileio.h"
#include "hex.h"
#include "ima-write.h"
#include "tcg-eventlog.h"

static double now(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what)
{
        fprintf(stderr, "round-bench: %s\n", what);
        exit(1);
}

struct round_ev {
        uint8_t nonce[16];
        uint8_t attest[512], sig[256];
        size_t attest_size, sig_size;
        uint8_t *pcrs;
        size_t pcrs_size;
        size_t ima_start, ima_end; /* in the log */
        uint64_t first_index;
};

/* The quote a TPM would produce: TPMS_ATTEST over pcrs with nonce and clock, ECDSA-SHA256 by ak. */
static void make_quote(EVP_PKEY *ak, const struct dw_tpm_pcrs *pcrs, uint64_t clock, struct round_ev *r)
{
        TPMS_ATTEST a = {
                .magic = TPM2_GENERATED_VALUE,
                .type = TPM2_ST_ATTEST_QUOTE,
                .clockInfo = {.clock = clock, .resetCount = 1, .restartCount = 0, .safe = TPM2_YES},
        };
        TPMT_SIGNATURE sig = {.sigAlg = TPM2_ALG_ECDSA};
        uint8_t der[128], *p = der;
        const uint8_t *q = der;
        const BIGNUM *br, *bs;
        EVP_MD_CTX *md = EVP_MD_CTX_new();
        ECDSA_SIG *es;
        size_t off = 0, der_len = sizeof(der);
        int n;

        a.extraData.size = sizeof(r->nonce);
        memcpy(a.extraData.buffer, r->nonce, sizeof(r->nonce));
        a.attested.quote.pcrSelect = pcrs->selection;
        n = dw_tpm_pcrs_digest(pcrs, TPM2_ALG_SHA256, a.attested.quote.pcrDigest.buffer);
        if (n < 0)
                die("pcr digest");
        a.attested.quote.pcrDigest.size = (UINT16)n;
        if (Tss2_MU_TPMS_ATTEST_Marshal(&a, r->attest, sizeof(r->attest), &off) != TSS2_RC_SUCCESS)
                die("marshal attest");
        r->attest_size = off;
        if (!md || EVP_DigestSignInit_ex(md, NULL, "SHA256", NULL, NULL, ak, NULL) != 1 ||
            EVP_DigestSign(md, p, &der_len, r->attest, r->attest_size) != 1)
                die("sign");
        EVP_MD_CTX_free(md);
        es = d2i_ECDSA_SIG(NULL, &q, (long)der_len);
        if (!es)
                die("signature DER");
        ECDSA_SIG_get0(es, &br, &bs);
        sig.signature.ecdsa.hash = TPM2_ALG_SHA256;
        sig.signature.ecdsa.signatureR.size = 32;
        sig.signature.ecdsa.signatureS.size = 32;
        BN_bn2binpad(br, sig.signature.ecdsa.signatureR.buffer, 32);
        BN_bn2binpad(bs, sig.signature.ecdsa.signatureS.buffer, 32);
        ECDSA_SIG_free(es);
        off = 0;
        if (Tss2_MU_TPMT_SIGNATURE_Marshal(&sig, r->sig, sizeof(r->sig), &off) != TSS2_RC_SUCCESS)
                die("marshal signature");
        r->sig_size = off;
}

static void set_pcr(struct dw_tpm_pcrs *pcrs, unsigned pcr, const uint8_t *value)
{
        pcrs->values[pcr] = (struct dw_tpm_pcr_value){.hash_alg = TPM2_ALG_SHA256, .pcr = (uint8_t)pcr, .size = 32};
        memcpy(pcrs->values[pcr].digest, value, 32);
}

static void path_of(char *buf, size_t size, size_t i)
{
        snprintf(buf, size, "/usr/lib/driftwatch-bench/pkg%04zu/bin/tool-%06zu", i / 97, i);
}

/* A runtime policy of n paths, the first ones those the log measures; each path's digest is sha256(path). */
static struct dw_runtime_policy *make_policy(struct dw_hasher *h, size_t n)
{
        struct dw_ima_buf json = {};
        struct dw_runtime_policy *p = NULL;
        struct dw_policy_error err = {};
        const char *head = "{\"driftwatch_runtime_policy\": 1, \"digests\": {";
        char path[128], line[300], hex[65];
        uint8_t d[32];

        dw_ima_buf_append(&json, head, strlen(head));
        for (size_t i = 0; i < n; i++) {
                int len;

                path_of(path, sizeof(path), i);
                dw_hash_buf(h, DW_HASH_SHA256, path, strlen(path), d);
                len = snprintf(line, sizeof(line), "%s\"%s\": [\"sha256:%s\"]", i ? ", " : "", path,
                               dw_hex_encode(d, 32, hex));
                if (dw_ima_buf_append(&json, line, (size_t)len) < 0)
                        die("out of memory");
        }
        dw_ima_buf_append(&json, "}}", 2);
        if (dw_runtime_policy_load(json.data, json.len, &p, &err) < 0) {
                fprintf(stderr, "policy: %s: %s\n", err.where, err.msg);
                exit(1);
        }
        dw_ima_buf_done(&json);
        return p;
}

static void append_entry(struct dw_hasher *h, struct dw_ima_buf *log, uint8_t pcr10[32], const char *name,
                         const uint8_t *digest)
{
        struct dw_ima_built_entry b = {};
        uint8_t th[32];

        if (dw_ima_event_build(h,
                               &(struct dw_ima_event){.pcr = 10,
                                                      .template_name = "ima-ng",
                                                      .digest_algo = "sha256",
                                                      .digest = digest,
                                                      .digest_len = 32,
                                                      .name = name},
                               DW_HASH_SHA1, DW_IMA_BANK_NATIVE, &b) < 0 ||
            dw_ima_entry_write_binary(&b.entry, log) < 0 ||
            dw_ima_entry_template_hash(h, &b.entry, DW_HASH_SHA256, th) < 0 ||
            dw_pcr_extend(h, DW_HASH_SHA256, pcr10, th) < 0)
                die("building an IMA entry");
        dw_ima_built_entry_done(&b);
}

int main(int argc, char **argv)
{
        const char *dir = "tests/data/round";
        size_t n_paths = 100000, rounds = 2000, entries = 20, runs = 3;
        bool serialize = false;
        struct dw_hasher *h = NULL;
        struct dw_tcg_replay *boot = calloc(1, sizeof(*boot));
        struct dw_tpm_pcrs *pcrs = calloc(1, sizeof(*pcrs));
        struct dw_round_result *res = calloc(1, sizeof(*res));
        struct dw_round_ctx *ctx = NULL;
        struct dw_runtime_policy *policy;
        EVP_PKEY *ak;
        struct dw_boot_policy *boot_policy = NULL;
        struct dw_ima_buf log = {};
        struct dw_round_state s0, s;
        struct round_ev *ev;
        uint8_t *bios, *bp_json, pcr10[32] = {}, zero[32] = {}, agg[32], d[32];
        size_t bios_size, bp_size;
        char path[4096];
        double best = 0, t_setup = now();

        for (int i = 1; i < argc; i++) {
                if (strcmp(argv[i], "--serialize") == 0)
                        serialize = true;
                else if (i + 1 < argc && strcmp(argv[i], "--data") == 0)
                        dir = argv[++i];
                else if (i + 1 < argc && strcmp(argv[i], "--paths") == 0)
                        n_paths = strtoul(argv[++i], NULL, 10);
                else if (i + 1 < argc && strcmp(argv[i], "--rounds") == 0)
                        rounds = strtoul(argv[++i], NULL, 10);
                else if (i + 1 < argc && strcmp(argv[i], "--entries") == 0)
                        entries = strtoul(argv[++i], NULL, 10);
                else if (i + 1 < argc && strcmp(argv[i], "--runs") == 0)
                        runs = strtoul(argv[++i], NULL, 10);
                else
                        die("usage: round-bench [--data DIR] [--paths N] [--rounds N] [--entries N] [--runs N] "
                            "[--serialize]");
        }
        if (rounds < 2 || entries < 1 || n_paths < rounds * entries)
                die("need --rounds >= 2, --entries >= 1 and --paths >= rounds * entries");
        if (!boot || !pcrs || !res || dw_hasher_new(&h) < 0 || dw_round_ctx_new(&ctx) < 0)
                die("out of memory");

        /* The boot: PCRs 0-7 from the fixture's boot log, 8-9 zero; the boot policy's golden values. */
        snprintf(path, sizeof(path), "%s/bios.log", dir);
        if (dw_read_full_file(path, 1 << 20, &bios, &bios_size) < 0 ||
            dw_tcg_replay_log(boot, h, bios, bios_size, NULL) < 0)
                die("cannot read or replay the boot log (--data)");
        snprintf(path, sizeof(path), "%s/boot-policy.json", dir);
        if (dw_read_full_file(path, 1 << 20, &bp_json, &bp_size) < 0 ||
            dw_boot_policy_load(bp_json, bp_size, &boot_policy, NULL) < 0)
                die("cannot load the boot policy (--data)");
        dw_round_pcr_selection(NULL, &pcrs->selection);
        pcrs->n_values = 11;
        for (unsigned p = 0; p < 10; p++)
                set_pcr(pcrs, p, p < 8 ? boot->pcr[DW_HASH_SHA256][p] : zero);
        dw_hasher_init(h, DW_HASH_SHA256);
        for (unsigned p = 0; p < 10; p++)
                dw_hasher_update(h, pcrs->values[p].digest, 32);
        dw_hasher_final(h, agg);

        ak = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
        if (!ak)
                die("cannot make an AK");

        /* The IMA log and one quote per round. Round 0 (boot log, boot_aggregate) is not timed. */
        ev = calloc(rounds, sizeof(*ev));
        if (!ev)
                die("out of memory");
        append_entry(h, &log, pcr10, "boot_aggregate", agg);
        for (size_t r = 0, next = 0; r < rounds; r++) {
                ev[r].ima_start = r == 0 ? 0 : log.len;
                ev[r].first_index = r == 0 ? 0 : 1 + r * entries;
                for (size_t e = 0; e < entries; e++, next++) {
                        path_of(path, sizeof(path), next);
                        dw_hash_buf(h, DW_HASH_SHA256, path, strlen(path), d);
                        append_entry(h, &log, pcr10, path, d);
                }
                ev[r].ima_end = log.len;
                set_pcr(pcrs, 10, pcr10);
                memcpy(ev[r].nonce, &r, sizeof(r));
                memcpy(ev[r].nonce + 8, "dw-bench", 8);
                if (dw_tpm_pcrs_file_write(pcrs, &ev[r].pcrs, &ev[r].pcrs_size) < 0)
                        die("pcr file");
                make_quote(ak, pcrs, 10000 + 50 * r, &ev[r]);
        }
        policy = make_policy(h, n_paths);
        printf("setup: %zu rounds of %zu IMA entries (%zu-byte log), policy of %zu paths, in %.1f s\n", rounds, entries,
               log.len, n_paths, now() - t_setup);

        dw_round_state_init(&s0, DW_HASH_SHA256);
        for (size_t run = 0; run < runs; run++) {
                double t0 = 0, dt;

                s = s0;
                for (size_t r = 0; r < rounds; r++) {
                        struct dw_round_expect x = {
                                .ak = ak,
                                .nonce = ev[r].nonce,
                                .nonce_size = sizeof(ev[r].nonce),
                                .now = r,
                                .runtime_policy = policy,
                                .boot_policy = boot_policy,
                        };
                        struct dw_round_evidence e = {
                                .quote = ev[r].attest,
                                .quote_size = ev[r].attest_size,
                                .signature = ev[r].sig,
                                .signature_size = ev[r].sig_size,
                                .pcrs = ev[r].pcrs,
                                .pcrs_size = ev[r].pcrs_size,
                                .ima_log = log.data + ev[r].ima_start,
                                .ima_log_size = ev[r].ima_end - ev[r].ima_start,
                                .ima_first_index = ev[r].first_index,
                                .ima_log_digest_alg = DW_HASH_SHA1,
                                .boot_log = r == 0 ? bios : NULL,
                                .boot_log_size = r == 0 ? bios_size : 0,
                        };

                        if (r == 1)
                                t0 = now();
                        if (dw_attest_round(ctx, &s, &x, &e, res) < 0)
                                die("dw_attest_round failed");
                        if (res->verdict != DW_ROUND_TRUSTED || res->stats.entries_consumed != entries + (r == 0)) {
                                fprintf(stderr, "round %zu: %s, %zu reasons: %s %s\n", r,
                                        dw_round_verdict_name(res->verdict), res->n_reasons,
                                        res->n_reasons ? res->reasons[0].msg : "", res->notes);
                                return 1;
                        }
                        if (serialize) {
                                uint8_t *blob;
                                size_t size;

                                if (dw_round_state_serialize(&res->state, &blob, &size) < 0 ||
                                    dw_round_state_deserialize(blob, size, &s, NULL) < 0)
                                        die("state blob");
                                free(blob);
                        } else
                                s = res->state;
                }
                dt = now() - t0;
                printf("run %zu: %zu rounds in %.3f s = %.0f rounds/s (%.1f us/round, %.0f IMA entries/s)%s\n", run + 1,
                       rounds - 1, dt, (double)(rounds - 1) / dt, dt * 1e6 / (double)(rounds - 1),
                       (double)((rounds - 1) * entries) / dt, serialize ? ", state serialized every round" : "");
                if ((double)(rounds - 1) / dt > best)
                        best = (double)(rounds - 1) / dt;
        }
        printf("best: %.0f rounds/s per core (%zu entries per round, %zu-path policy%s); state %zu bytes in memory, "
               "%s\n",
               best, entries, n_paths, serialize ? ", state serialized" : "", sizeof(struct dw_round_state),
               "blob below");
        {
                uint8_t *blob;
                size_t size;

                if (dw_round_state_serialize(&s, &blob, &size) == 0) {
                        printf("state blob: %zu bytes\n", size);
                        free(blob);
                }
        }
        for (size_t r = 0; r < rounds; r++)
                free(ev[r].pcrs);
        free(ev);
        dw_ima_buf_done(&log);
        dw_runtime_policy_free(policy);
        dw_boot_policy_free(boot_policy);
        EVP_PKEY_free(ak);
        dw_round_ctx_free(ctx);
        dw_hasher_free(h);
        free(bios);
        free(bp_json);
        free(boot);
        free(pcrs);
        free(res);
        return 0;
}
