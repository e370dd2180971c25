/* SPDX-License-Identifier: MIT */
/* ima-sim: an IMA simulator for machines whose kernel has no IMA. It does what the kernel does when it measures:
 * append a real-format entry to the measurement list (binary, and ascii if asked) and extend the entry's template
 * digest into PCR 10 of every active bank of a (software) TPM, entry by entry, in the kernel's order (list first,
 * then PCR). A reader can follow the log file while it grows.
 *
 *   ima-sim --tcti STR --log FILE [--ascii-log FILE] [--template NAME] [--pcr N] [--split-writes] COMMAND...
 *
 * Commands, each one entry, applied in order:
 *   boot-aggregate       the first entry: sha256 over PCRs 0-9 of the TPM's sha256 bank (ima_calc_boot_aggregate)
 *   measure PATH         hash the file with sha256 and log it under PATH
 *   digest PATH HEX      log PATH with a given sha256 file digest (a file that is not on this machine)
 *   violation PATH       an open-writers/ToMToU violation: zero digests logged, all ones extended
 *   buf NAME HEX         an ima-buf entry (keyrings, kernel critical data) with the given buffer
 *
 * --split-writes writes each binary entry in two write() calls 50 ms apart, so that a follower sees entries cut
 * mid-way, as it can with the kernel's securityfs file. Exit 0, or 1 with a message naming the command. */

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <tss2/tss2_esys.h>
#include <tss2/tss2_rc.h>
#include <tss2/tss2_tctildr.h>

#include "fileio.h"
#include "hex.h"
#include "ima-write.h"

struct sim {
        ESYS_CONTEXT *esys;
        TSS2_TCTI_CONTEXT *tcti;
        struct dw_hasher *h;
        TPML_PCR_SELECTION banks; /* active banks */
        const char *template_name;
        uint32_t pcr;
        int log_fd, ascii_fd;
        bool split_writes;
};

static int fail(const char *what, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(const char *what, const char *fmt, ...)
{
        va_list ap;

        fprintf(stderr, "ima-sim: %s: ", what);
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fputc('\n', stderr);
        return -1;
}

static int tpm_open(struct sim *s, const char *tcti)
{
        TPMS_CAPABILITY_DATA *cap = NULL;
        TSS2_RC rc;

        rc = Tss2_TctiLdr_Initialize(tcti, &s->tcti);
        if (rc != TSS2_RC_SUCCESS)
                return fail("tcti", "%s: %s", tcti, Tss2_RC_Decode(rc));
        rc = Esys_Initialize(&s->esys, s->tcti, NULL);
        if (rc != TSS2_RC_SUCCESS)
                return fail("tpm", "%s", Tss2_RC_Decode(rc));
        rc = Esys_GetCapability(s->esys, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, TPM2_CAP_PCRS, 0, 1, NULL, &cap);
        if (rc != TSS2_RC_SUCCESS)
                return fail("tpm", "reading the PCR banks: %s", Tss2_RC_Decode(rc));
        s->banks.count = 0;
        for (UINT32 i = 0; i < cap->data.assignedPCR.count; i++) {
                const TPMS_PCR_SELECTION *sel = &cap->data.assignedPCR.pcrSelections[i];
                bool active = false;

                for (unsigned b = 0; b < sel->sizeofSelect; b++)
                        active = active || sel->pcrSelect[b];
                if (active)
                        s->banks.pcrSelections[s->banks.count++] = *sel;
        }
        Esys_Free(cap);
        return 0;
}

/* Extends one digest per active bank: the bank's own hash of the entry (kernel >= 5.11 with every algorithm
 * available), or all ones for a violation. */
static int tpm_extend(struct sim *s, const struct dw_ima_entry *e, bool violation)
{
        TPML_DIGEST_VALUES values = {};
        TSS2_RC rc;
        int r;

        for (UINT32 i = 0; i < s->banks.count; i++) {
                TPMT_HA *v = &values.digests[values.count];
                enum dw_hash_alg alg;

                if (dw_hash_alg_from_tpm_id(s->banks.pcrSelections[i].hash, &alg) < 0)
                        return fail("extend", "TPM bank 0x%04x has an algorithm we cannot compute",
                                    s->banks.pcrSelections[i].hash);
                v->hashAlg = s->banks.pcrSelections[i].hash;
                if (violation)
                        memset(&v->digest, 0xff, dw_hash_alg_size(alg));
                else {
                        r = dw_ima_entry_template_hash(s->h, e, alg, (uint8_t *)&v->digest);
                        if (r < 0)
                                return fail("extend", "template hash: %s", strerror(-r));
                }
                values.count++;
        }
        rc = Esys_PCR_Extend(s->esys, ESYS_TR_PCR0 + s->pcr, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, &values);
        if (rc != TSS2_RC_SUCCESS)
                return fail("extend", "PCR %u: %s", s->pcr, Tss2_RC_Decode(rc));
        return 0;
}

static int write_all(int fd, const uint8_t *p, size_t n)
{
        while (n > 0) {
                ssize_t k = write(fd, p, n);

                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                p += k;
                n -= (size_t)k;
        }
        return 0;
}

/* Appends one event to the log(s), then extends the TPM: the kernel's order (ima_add_template_entry). */
static int record(struct sim *s, struct dw_ima_event *ev)
{
        struct dw_ima_built_entry b = {};
        struct dw_ima_buf bin = {}, asc = {};
        int r;

        ev->pcr = s->pcr;
        if (!ev->template_name)
                ev->template_name = s->template_name;
        r = dw_ima_event_build(s->h, ev, DW_HASH_SHA1, DW_IMA_BANK_NATIVE, &b);
        if (r >= 0)
                r = dw_ima_entry_write_binary(&b.entry, &bin);
        if (r >= 0 && s->ascii_fd >= 0)
                r = dw_ima_entry_write_ascii(&b.entry, &asc);
        if (r < 0) {
                fail("entry", "%s: %s", ev->name, strerror(-r));
                goto out;
        }
        if (s->split_writes && bin.len > 1) {
                struct timespec pause = {.tv_nsec = 50 * 1000 * 1000};

                r = write_all(s->log_fd, bin.data, bin.len / 2);
                nanosleep(&pause, NULL);
                if (r >= 0)
                        r = write_all(s->log_fd, bin.data + bin.len / 2, bin.len - bin.len / 2);
        } else
                r = write_all(s->log_fd, bin.data, bin.len);
        if (r >= 0 && s->ascii_fd >= 0)
                r = write_all(s->ascii_fd, asc.data, asc.len);
        if (r < 0) {
                fail("log", "writing %s: %s", ev->name, strerror(-r));
                goto out;
        }
        r = tpm_extend(s, &b.entry, ev->violation);
out:
        dw_ima_built_entry_done(&b);
        dw_ima_buf_done(&bin);
        dw_ima_buf_done(&asc);
        return r < 0 ? -1 : 0;
}

/* ima_calc_boot_aggregate: sha256 over PCRs 0-7, and 8-9 for a non-SHA-1 bank, of the TPM's sha256 bank. */
static int boot_aggregate(struct sim *s)
{
        uint8_t aggregate[32];
        int r;

        r = dw_hasher_init(s->h, DW_HASH_SHA256);
        if (r < 0)
                return fail("boot-aggregate", "%s", strerror(-r));
        for (unsigned pcr = 0; pcr < 10; pcr++) {
                TPML_PCR_SELECTION sel = {.count = 1};
                TPML_DIGEST *values = NULL;
                TSS2_RC rc;

                sel.pcrSelections[0].hash = TPM2_ALG_SHA256;
                sel.pcrSelections[0].sizeofSelect = 3;
                sel.pcrSelections[0].pcrSelect[pcr / 8] = (uint8_t)(1u << (pcr % 8));
                rc = Esys_PCR_Read(s->esys, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &sel, NULL, NULL, &values);
                if (rc != TSS2_RC_SUCCESS)
                        return fail("boot-aggregate", "reading PCR %u: %s", pcr, Tss2_RC_Decode(rc));
                if (values->count != 1 || values->digests[0].size != 32) {
                        Esys_Free(values);
                        return fail("boot-aggregate", "TPM returned no sha256 value for PCR %u", pcr);
                }
                dw_hasher_update(s->h, values->digests[0].buffer, 32);
                Esys_Free(values);
        }
        r = dw_hasher_final(s->h, aggregate);
        if (r < 0)
                return fail("boot-aggregate", "%s", strerror(-r));
        return record(s, &(struct dw_ima_event){.template_name = "ima-ng",
                                                .digest_algo = "sha256",
                                                .digest = aggregate,
                                                .digest_len = sizeof(aggregate),
                                                .name = "boot_aggregate"});
}

static int measure_file(struct sim *s, const char *path)
{
        uint8_t *data = NULL, digest[32];
        size_t size;
        int r;

        r = dw_read_full_file(path, 1ull << 32, &data, &size);
        if (r < 0)
                return fail("measure", "%s: %s", path, strerror(-r));
        r = dw_hash_buf(s->h, DW_HASH_SHA256, data, size, digest);
        free(data);
        if (r < 0)
                return fail("measure", "%s: %s", path, strerror(-r));
        return record(
                s, &(struct dw_ima_event){.digest_algo = "sha256", .digest = digest, .digest_len = 32, .name = path});
}

static int run_command(struct sim *s, int argc, char **argv, int *i)
{
        const char *cmd = argv[*i];
        uint8_t bytes[4096];
        int n;

#define NEED(k)                                                                                                        \
        do {                                                                                                           \
                if (*i + (k) >= argc)                                                                                  \
                        return fail(cmd, "needs %d argument(s)", (k));                                                 \
        } while (0)

        if (strcmp(cmd, "boot-aggregate") == 0)
                return boot_aggregate(s);
        if (strcmp(cmd, "measure") == 0) {
                NEED(1);
                return measure_file(s, argv[++*i]);
        }
        if (strcmp(cmd, "violation") == 0) {
                NEED(1);
                return record(s,
                              &(struct dw_ima_event){.violation = true, .digest_algo = "sha256", .name = argv[++*i]});
        }
        if (strcmp(cmd, "digest") == 0) {
                NEED(2);
                n = dw_hex_decode(argv[*i + 2], strlen(argv[*i + 2]), bytes, sizeof(bytes));
                if (n != 32)
                        return fail(cmd, "'%s' is not a sha256 digest in hex", argv[*i + 2]);
                *i += 2;
                return record(
                        s, &(struct dw_ima_event){
                                   .digest_algo = "sha256", .digest = bytes, .digest_len = 32, .name = argv[*i - 1]});
        }
        if (strcmp(cmd, "buf") == 0) {
                uint8_t digest[32];
                int r;

                NEED(2);
                n = dw_hex_decode(argv[*i + 2], strlen(argv[*i + 2]), bytes, sizeof(bytes));
                if (n < 0)
                        return fail(cmd, "'%s' is not hex (at most %zu bytes)", argv[*i + 2], sizeof(bytes));
                r = dw_hash_buf(s->h, DW_HASH_SHA256, bytes, (size_t)n, digest);
                if (r < 0)
                        return fail(cmd, "%s", strerror(-r));
                *i += 2;
                return record(s, &(struct dw_ima_event){.template_name = "ima-buf",
                                                        .digest_algo = "sha256",
                                                        .digest = digest,
                                                        .digest_len = 32,
                                                        .name = argv[*i - 1],
                                                        .buf = bytes,
                                                        .buf_len = (size_t)n});
        }
#undef NEED
        return fail(cmd, "unknown command (boot-aggregate, measure, digest, violation, buf)");
}

int main(int argc, char **argv)
{
        struct sim s = {.template_name = "ima-ng", .pcr = 10, .log_fd = -1, .ascii_fd = -1};
        const char *tcti = NULL, *log = NULL, *ascii = NULL;
        int i, ret = 1;

        for (i = 1; i < argc && argv[i][0] == '-'; i++) {
                if (strcmp(argv[i], "--tcti") == 0 && i + 1 < argc)
                        tcti = argv[++i];
                else if (strcmp(argv[i], "--log") == 0 && i + 1 < argc)
                        log = argv[++i];
                else if (strcmp(argv[i], "--ascii-log") == 0 && i + 1 < argc)
                        ascii = argv[++i];
                else if (strcmp(argv[i], "--template") == 0 && i + 1 < argc)
                        s.template_name = argv[++i];
                else if (strcmp(argv[i], "--pcr") == 0 && i + 1 < argc)
                        s.pcr = (uint32_t)strtoul(argv[++i], NULL, 10);
                else if (strcmp(argv[i], "--split-writes") == 0)
                        s.split_writes = true;
                else {
                        fprintf(stderr, "usage: ima-sim --tcti STR --log FILE [--ascii-log FILE] [--template NAME] "
                                        "[--pcr N] [--split-writes] COMMAND...\n");
                        return 2;
                }
        }
        if (!tcti || !log || s.pcr >= 24) {
                fprintf(stderr, "ima-sim: --tcti and --log are required; --pcr must be below 24\n");
                return 2;
        }
        if (dw_hasher_new(&s.h) < 0)
                return 1;
        s.log_fd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
        if (s.log_fd < 0) {
                fail("log", "%s: %s", log, strerror(errno));
                goto out;
        }
        if (ascii) {
                s.ascii_fd = open(ascii, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
                if (s.ascii_fd < 0) {
                        fail("ascii log", "%s: %s", ascii, strerror(errno));
                        goto out;
                }
        }
        if (tpm_open(&s, tcti) < 0)
                goto out;
        for (; i < argc; i++)
                if (run_command(&s, argc, argv, &i) < 0)
                        goto out;
        ret = 0;
out:
        if (s.esys)
                Esys_Finalize(&s.esys);
        if (s.tcti)
                Tss2_TctiLdr_Finalize(&s.tcti);
        if (s.log_fd >= 0)
                close(s.log_fd);
        if (s.ascii_fd >= 0)
                close(s.ascii_fd);
        dw_hasher_free(s.h);
        return ret;
}
