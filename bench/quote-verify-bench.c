/* SPDX-License-Identifier: MIT */
/* Quote verifications per second on one core: a real swtpm quote (tests/data/tpm/quote-ecc.*, ECDSA P-256 AK,
 * PCRs sha256:0-7,10) verified end to end as the verifier does it per round: parse TPMS_ATTEST and
 * TPMT_SIGNATURE, check magic/type/nonce/clock, hash the claimed PCR values against pcrDigest, verify the
 * signature. --ak/--quote pick another fixture (e.g. quote-rsa). */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fileio.h"
#include "hex.h"
#include "tpm-marshal.h"
#include "tpm-quote.h"

static double now(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint8_t *load(const char *dir, const char *name, const char *ext, size_t *size)
{
        char path[4096];
        uint8_t *data;

        snprintf(path, sizeof(path), "%s/%s%s", dir, name, ext);
        if (dw_read_full_file(path, 1 << 20, &data, size) < 0) {
                fprintf(stderr, "cannot read %s\n", path);
                exit(1);
        }
        return data;
}

int main(int argc, char **argv)
{
        const char *dir = "tests/data/tpm", *ak_name = "ak-ecc", *quote_name = "quote-ecc";
        size_t ak_size, attest_size, sig_size, pcrs_size, nonce_hex_size;
        uint8_t *ak_buf, *attest, *sig, *pcrs_buf, *nonce_hex, nonce[64];
        struct dw_tpm_pcrs *pcrs = calloc(1, sizeof(*pcrs));
        struct dw_error err = {};
        EVP_PKEY *ak = NULL;
        TPMT_PUBLIC ak_public;
        bool has_public;
        long n = 200000;
        int nonce_size;
        double best = 0;

        for (int i = 1; i + 1 < argc; i += 2) {
                if (strcmp(argv[i], "--data") == 0)
                        dir = argv[i + 1];
                else if (strcmp(argv[i], "--ak") == 0)
                        ak_name = argv[i + 1];
                else if (strcmp(argv[i], "--quote") == 0)
                        quote_name = argv[i + 1];
                else if (strcmp(argv[i], "--count") == 0)
                        n = atol(argv[i + 1]);
        }
        ak_buf = load(dir, ak_name, ".pub", &ak_size);
        attest = load(dir, quote_name, ".attest", &attest_size);
        sig = load(dir, quote_name, ".sig", &sig_size);
        pcrs_buf = load(dir, quote_name, ".pcrs", &pcrs_size);
        nonce_hex = load(dir, "nonce", ".hex", &nonce_hex_size);
        while (nonce_hex_size > 0 && (nonce_hex[nonce_hex_size - 1] == '\n' || nonce_hex[nonce_hex_size - 1] == ' '))
                nonce_hex_size--;
        nonce_size = dw_hex_decode((const char *)nonce_hex, nonce_hex_size, nonce, sizeof(nonce));
        if (!pcrs || nonce_size < 0 || dw_tpm_key_load(ak_buf, ak_size, &ak, &ak_public, &has_public, &err) < 0 ||
            dw_tpm_pcrs_file_parse(pcrs_buf, pcrs_size, pcrs, &err) < 0) {
                fprintf(stderr, "fixture: %s\n", err.msg);
                return 1;
        }

        for (int run = 0; run < 3; run++) {
                struct dw_attest_expect expect = {
                        .ak = ak,
                        .ak_public = has_public ? &ak_public : NULL,
                        .nonce = nonce,
                        .nonce_size = (size_t)nonce_size,
                };
                struct dw_attest_evidence ev = {attest, attest_size, sig, sig_size};
                double t0 = now(), dt;

                for (long i = 0; i < n; i++) {
                        struct dw_attest_result res;

                        if (dw_tpm_quote_verify(&expect, &ev, pcrs, &res, NULL, &err) < 0 || !res.valid) {
                                fprintf(stderr, "verification failed: %s %s\n", err.msg, res.msg);
                                return 1;
                        }
                }
                dt = now() - t0;
                printf("run %d: %ld verifications of %s/%s in %.3f s = %.0f/s\n", run + 1, n, ak_name, quote_name, dt,
                       n / dt);
                if (n / dt > best)
                        best = n / dt;
        }
        printf("best: %.0f quote verifications/s per core (%s)\n", best, ak_name);
        EVP_PKEY_free(ak);
        free(pcrs);
        free(ak_buf);
        free(attest);
        free(sig);
        free(pcrs_buf);
        free(nonce_hex);
        return 0;
}
