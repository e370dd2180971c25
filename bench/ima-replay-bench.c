/* SPDX-License-Identifier: MIT */
/* Replay throughput: a generated N-entry ima-ng log (SHA-256 file digests, SHA-1 template digests as in
 * binary_runtime_measurements), replayed with every template digest checked and the SHA-1 and SHA-256 banks
 * extended (native rule). Prints entries/s on one core. With --write FILE the log is also written out, so that a
 * peer (evmctl ima_measurement) can be timed on the same bytes. */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fileio.h"
#include "hex.h"
#include "ima-replay.h"
#include "ima-write.h"

static double now(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Paths and digests that look like a gateway's: /usr/bin/... names of typical length, distinct digests. */
static int generate(struct dw_hasher *h, unsigned long n, struct dw_ima_buf *log)
{
        for (unsigned long i = 0; i < n; i++) {
                uint8_t digest[32];
                char name[96], seed[32];
                struct dw_ima_event ev = {
                        .pcr = 10,
                        .template_name = "ima-ng",
                        .digest_algo = "sha256",
                        .digest = digest,
                        .digest_len = sizeof(digest),
                        .name = name,
                };
                int r;

                snprintf(seed, sizeof(seed), "%lu", i);
                r = dw_hash_buf(h, DW_HASH_SHA256, seed, strlen(seed), digest);
                if (r < 0)
                        return r;
                snprintf(name, sizeof(name), "/usr/lib/x86_64-linux-gnu/driftwatch-bench/lib%06lu.so.1", i);
                r = dw_ima_event_write(h, &ev, DW_IMA_FORMAT_BINARY, DW_HASH_SHA1, DW_IMA_BANK_NATIVE, log);
                if (r < 0)
                        return r;
        }
        return 0;
}

int main(int argc, char **argv)
{
        struct dw_ima_buf log = {};
        struct dw_hasher *h = NULL;
        struct dw_ima_replay *r;
        struct dw_error err = {};
        unsigned long n = 1000000;
        const char *write_path = NULL;
        int runs = 3, ret;
        double best = 0;

        for (int i = 1; i < argc; i++) {
                if (strcmp(argv[i], "--entries") == 0 && i + 1 < argc)
                        n = strtoul(argv[++i], NULL, 10);
                else if (strcmp(argv[i], "--write") == 0 && i + 1 < argc)
                        write_path = argv[++i];
                else if (strcmp(argv[i], "--runs") == 0 && i + 1 < argc)
                        runs = atoi(argv[++i]);
                else {
                        fprintf(stderr, "usage: %s [--entries N] [--runs K] [--write FILE]\n", argv[0]);
                        return 2;
                }
        }
        r = malloc(sizeof(*r));
        if (!r || dw_hasher_new(&h) < 0)
                return 1;
        ret = generate(h, n, &log);
        if (ret < 0) {
                fprintf(stderr, "generate: %s\n", strerror(-ret));
                return 1;
        }
        if (write_path) {
                FILE *f = fopen(write_path, "we");

                if (!f || fwrite(log.data, 1, log.len, f) != log.len || fclose(f) != 0) {
                        fprintf(stderr, "%s: cannot write\n", write_path);
                        return 1;
                }
        }

        for (int run = 0; run < runs; run++) {
                double t0, dt;
                char hex[65];

                dw_ima_replay_init(r);
                dw_ima_replay_enable(r, DW_HASH_SHA1, DW_IMA_BANK_NATIVE);
                dw_ima_replay_enable(r, DW_HASH_SHA256, DW_IMA_BANK_NATIVE);
                t0 = now();
                ret = dw_ima_replay_feed(r, h, DW_IMA_FORMAT_BINARY, DW_HASH_SHA1, log.data, log.len, NULL, &err);
                dt = now() - t0;
                if (ret < 0 || r->next_index != n) {
                        fprintf(stderr, "replay failed at entry %lu: %s\n", (unsigned long)err.index, err.msg);
                        return 1;
                }
                if (n / dt > best)
                        best = n / dt;
                printf("run %d: %lu entries (%zu bytes) in %.3f s = %.0f entries/s; sha256 PCR 10 %s\n", run + 1, n,
                       log.len, dt, n / dt, dw_hex_encode(r->pcr[DW_HASH_SHA256][DW_IMA_BANK_NATIVE][10], 32, hex));
        }
        printf("best: %.0f entries/s per core (template digest check + sha1 and sha256 bank replay)\n", best);
        dw_ima_buf_done(&log);
        dw_hasher_free(h);
        free(r);
        return 0;
}
