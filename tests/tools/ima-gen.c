/* SPDX-License-Identifier: MIT */
/* ima-gen: writes a kernel-format IMA measurement list covering every built-in template, a custom template and
 * violations, for cross-checks against peers (evmctl) and for the CLI tests.
 *
 *   ima-gen --format binary|ascii [--digest-alg sha1|sha256] [--rounds N] [--template NAME]... OUT
 *
 * Each round appends one entry per template (only the --template ones when given; a peer such as evmctl refuses
 * logs that mix "ima" with other templates) (ima, ima-ng, ima-ngv2, ima-sig, ima-sigv2, ima-buf, ima-modsig,
 * evm-sig, d-ng|n-ng|iuid|igid|imode) and one violation. Content is deterministic (derived from the round and
 * template number), so a run is reproducible. */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ima-write.h"

static const char *templates[] = {
        "ima",        "ima-ng",    "ima-ngv2",
        "ima-sig",    "ima-sigv2", "ima-buf",
        "ima-modsig", "evm-sig",   "d-ng|n-ng|iuid|igid|imode",
};

static const char *only[16];
static unsigned n_only;

static bool selected(const char *tmpl)
{
        for (unsigned i = 0; i < n_only; i++)
                if (strcmp(only[i], tmpl) == 0)
                        return true;
        return n_only == 0;
}

static int write_round(struct dw_hasher *h, unsigned round, enum dw_ima_format fmt, enum dw_hash_alg alg,
                       struct dw_ima_buf *out)
{
        uint8_t digest[32], sha1[20], sig[40], payload[24];
        static const uint8_t xattrlengths[] = {4, 0, 0, 0};
        char name[128];
        int r;

        for (unsigned t = 0; t <= sizeof(templates) / sizeof(templates[0]); t++) {
                bool violation = t == sizeof(templates) / sizeof(templates[0]);
                const char *tmpl = violation ? "ima-ng" : templates[t];
                bool is_ima = strcmp(tmpl, "ima") == 0;
                struct dw_ima_event ev = {
                        .pcr = 10,
                        .template_name = tmpl,
                        .violation = violation,
                        .digest_algo = is_ima ? "sha1" : "sha256",
                        .digest = is_ima ? sha1 : digest,
                        .digest_len = is_ima ? sizeof(sha1) : sizeof(digest),
                        .name = name,
                        .sig = sig,
                        .sig_len = sizeof(sig),
                        .buf = payload,
                        .buf_len = sizeof(payload),
                        .modsig_digest_algo = "sha256",
                        .modsig_digest = digest,
                        .modsig_digest_len = sizeof(digest),
                        .modsig = sig,
                        .modsig_len = sizeof(sig),
                        .evmsig = sig,
                        .evmsig_len = sizeof(sig),
                        .has_inode = true,
                        .uid = 1000 + round,
                        .gid = 100,
                        .mode = 0100755,
                        .xattrnames = "security.ima",
                        .xattrlengths = xattrlengths,
                        .xattrlengths_len = sizeof(xattrlengths),
                        .xattrvalues = (const uint8_t *)"\x03\x02\x01\x00",
                        .xattrvalues_len = 4,
                };

                if (!selected(violation ? (n_only ? only[0] : "ima-ng") : tmpl))
                        continue;
                if (violation && n_only)
                        ev.template_name = tmpl = only[0];
                is_ima = strcmp(tmpl, "ima") == 0;
                ev.digest_algo = is_ima ? "sha1" : "sha256";
                ev.digest = is_ima ? sha1 : digest;
                ev.digest_len = is_ima ? sizeof(sha1) : sizeof(digest);
                snprintf(name, sizeof(name), "/usr/bin/gen-%u-%u %s", round, t, tmpl);
                r = dw_hash_buf(h, DW_HASH_SHA256, name, strlen(name), digest);
                if (r < 0)
                        return r;
                r = dw_hash_buf(h, DW_HASH_SHA1, name, strlen(name), sha1);
                if (r < 0)
                        return r;
                for (size_t i = 0; i < sizeof(sig); i++)
                        sig[i] = (uint8_t)(i == 0 ? 0x03 : digest[i % 32] ^ (uint8_t)i);
                memcpy(payload, digest, sizeof(payload));
                r = dw_ima_event_write(h, &ev, fmt, alg, DW_IMA_BANK_NATIVE, out);
                if (r < 0)
                        return r;
        }
        return 0;
}

int main(int argc, char **argv)
{
        enum dw_ima_format fmt = DW_IMA_FORMAT_BINARY;
        enum dw_hash_alg alg = DW_HASH_SHA1;
        struct dw_ima_buf out = {};
        struct dw_hasher *h = NULL;
        const char *path = NULL;
        unsigned rounds = 3;
        FILE *f;
        int r;

        for (int i = 1; i < argc; i++) {
                if (strcmp(argv[i], "--format") == 0 && i + 1 < argc) {
                        i++;
                        fmt = strcmp(argv[i], "ascii") == 0 ? DW_IMA_FORMAT_ASCII : DW_IMA_FORMAT_BINARY;
                } else if (strcmp(argv[i], "--digest-alg") == 0 && i + 1 < argc) {
                        i++;
                        if (dw_hash_alg_from_name(argv[i], strlen(argv[i]), &alg) < 0) {
                                fprintf(stderr, "ima-gen: unknown algorithm %s\n", argv[i]);
                                return 2;
                        }
                } else if (strcmp(argv[i], "--rounds") == 0 && i + 1 < argc)
                        rounds = (unsigned)strtoul(argv[++i], NULL, 10);
                else if (strcmp(argv[i], "--template") == 0 && i + 1 < argc && n_only < 16)
                        only[n_only++] = argv[++i];
                else if (!path && argv[i][0] != '-')
                        path = argv[i];
                else {
                        fprintf(stderr, "usage: ima-gen [--format binary|ascii] [--digest-alg ALG] [--rounds N] "
                                        "[--template T]... OUT\n");
                        return 2;
                }
        }
        if (!path || dw_hasher_new(&h) < 0)
                return 2;
        for (unsigned round = 0; round < rounds; round++) {
                r = write_round(h, round, fmt, alg, &out);
                if (r < 0) {
                        fprintf(stderr, "ima-gen: building round %u: %s\n", round, strerror(-r));
                        return 1;
                }
        }
        f = fopen(path, "we");
        if (!f || fwrite(out.data, 1, out.len, f) != out.len || fclose(f) != 0) {
                fprintf(stderr, "ima-gen: cannot write %s\n", path);
                return 1;
        }
        dw_ima_buf_done(&out);
        dw_hasher_free(h);
        return 0;
}
