/* SPDX-License-Identifier: MIT */
/* The monitor's IMA follower on a real kernel's measurement list (../shared/testdata): written to a file piece by
 * piece as the kernel appends, followed poll by poll, replayed to the real PCR 10 values, matched against any
 * intermediate PCR 10, and refused when tampered with, shrunk or replaced. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fileio.h"
#include "hex.h"
#include "ima-follow.h"
#include "macro.h"

#define REAL_DIR     "/../shared/testdata/realkernel-ima-ng-seabios/"
#define REAL_ENTRIES 11

static char dir[] = "/tmp/dw-follow-XXXXXX";
static char log_path[64];

static void setup(void)
{
        strcpy(dir, "/tmp/dw-follow-XXXXXX");
        ck_assert_ptr_nonnull(mkdtemp(dir));
        snprintf(log_path, sizeof(log_path), "%s/log", dir);
}

static void teardown(void)
{
        char path[96];

        snprintf(path, sizeof(path), "%s/log", dir);
        unlink(path);
        snprintf(path, sizeof(path), "%s/log2", dir);
        unlink(path);
        rmdir(dir);
}

static uint8_t *real_file(const char *name, size_t *ret_len)
{
        const char *srcdir = getenv("DW_SRCDIR");
        uint8_t *data = NULL;
        char path[4096];

        ck_assert_msg(srcdir, "DW_SRCDIR is not set");
        snprintf(path, sizeof(path), "%s" REAL_DIR "%s", srcdir, name);
        ck_assert_msg(dw_read_full_file(path, 1 << 20, &data, ret_len) == 0, "cannot read %s", path);
        return data;
}

/* PCR 10 of a "PCR-NN: HEX" file. */
static size_t real_pcr10(const char *name, uint8_t out[static 64])
{
        _cleanup_free_ uint8_t *data = NULL;
        size_t len;
        char *line;
        int n;

        data = real_file(name, &len);
        data = realloc(data, len + 1);
        data[len] = '\0';
        line = strstr((char *)data, "PCR-10: ");
        ck_assert_ptr_nonnull(line);
        line += 8;
        n = dw_hex_decode(line, strcspn(line, "\r\n"), out, 64);
        ck_assert_int_gt(n, 0);
        return (size_t)n;
}

static void append(const void *data, size_t len)
{
        int fd = open(log_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);

        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(write(fd, data, len), (ssize_t)len);
        close(fd);
}

struct seen {
        uint64_t count;
        uint64_t last_index;
};

static int on_entry(const struct dw_ima_entry *e, void *userdata)
{
        struct seen *s = userdata;

        ck_assert_uint_eq(e->index, s->count);
        s->count++;
        s->last_index = e->index;
        return 0;
}

/* The log appended in pieces of every size from 1 to 97 bytes: each poll hands over the complete entries only, in
 * order, once each; the replay ends at the real PCR 10 of both banks. */
START_TEST(test_follow_in_pieces)
{
        _cleanup_free_ uint8_t *log = NULL;
        _cleanup_(mon_ima_follow_freep) struct mon_ima_follow *f = NULL;
        uint8_t want1[64], want256[64], got[DW_HASH_MAX_SIZE];
        struct seen seen = {};
        struct dw_error err = {};
        size_t len, off = 0, step = 1;

        log = real_file("binary_runtime_measurements", &len);
        append("", 0);
        ck_assert_int_eq(mon_ima_follow_new(log_path, DW_HASH_SHA1, &f), 0);
        ck_assert_int_eq(mon_ima_follow_poll(f, on_entry, &seen, &err), 0);
        while (off < len) {
                size_t n = MIN(step, len - off);

                append(log + off, n);
                off += n;
                step = step % 97 + 1;
                ck_assert_int_ge(mon_ima_follow_poll(f, on_entry, &seen, &err), 0);
        }
        ck_assert_uint_eq(seen.count, REAL_ENTRIES);
        ck_assert_uint_eq(mon_ima_follow_count(f), REAL_ENTRIES);
        ck_assert_uint_eq(mon_ima_follow_violations(f), 1);

        ck_assert_uint_eq(real_pcr10("pcrs-sha1", want1), 20);
        ck_assert_uint_eq(real_pcr10("pcrs-sha256", want256), 32);
        ck_assert_int_eq(mon_ima_follow_pcr(f, DW_HASH_SHA1, got), 0);
        ck_assert_mem_eq(got, want1, 20);
        ck_assert_int_eq(mon_ima_follow_pcr(f, DW_HASH_SHA256, got), 0);
        ck_assert_mem_eq(got, want256, 32);
        ck_assert_int_eq(mon_ima_follow_pcr(f, DW_HASH_SHA384, got), -EOPNOTSUPP);
}
END_TEST

/* Any PCR 10 the TPM can hold while the kernel appends — after none, some or all entries — matches, and says how
 * many entries it covers; a value the log never reached does not. */
START_TEST(test_match_history)
{
        _cleanup_free_ uint8_t *log = NULL;
        _cleanup_(mon_ima_follow_freep) struct mon_ima_follow *f = NULL, *g = NULL;
        uint8_t values[REAL_ENTRIES + 1][32], zero[32] = {}, bogus[32];
        struct dw_error err = {};
        uint64_t covered = 99;
        size_t len;
        struct dw_ima_parser p;
        struct dw_ima_entry e;
        size_t ends[REAL_ENTRIES];
        int i = 0;

        log = real_file("binary_runtime_measurements", &len);
        /* Entry boundaries, from the parser. */
        dw_ima_parser_init(&p, DW_IMA_FORMAT_BINARY, DW_HASH_SHA1, log, len);
        while (dw_ima_parser_next(&p, &e, &err) == 1)
                ends[i++] = p.pos;
        dw_ima_parser_done(&p);
        ck_assert_int_eq(i, REAL_ENTRIES);

        /* The value after each prefix, from a second follower fed entry by entry. */
        ck_assert_int_eq(mon_ima_follow_new(log_path, DW_HASH_SHA1, &g), 0);
        memset(values[0], 0, 32);
        for (i = 0; i < REAL_ENTRIES; i++) {
                append(log + (i ? ends[i - 1] : 0), ends[i] - (i ? ends[i - 1] : 0));
                ck_assert_int_eq(mon_ima_follow_poll(g, NULL, NULL, &err), 1);
                ck_assert_int_eq(mon_ima_follow_pcr(g, DW_HASH_SHA256, values[i + 1]), 0);
        }

        ck_assert_int_eq(mon_ima_follow_new(log_path, DW_HASH_SHA1, &f), 0);
        ck_assert_int_eq(mon_ima_follow_match(f, DW_HASH_SHA256, zero, 32, &covered), 1);
        ck_assert_uint_eq(covered, 0);
        ck_assert_int_eq(mon_ima_follow_poll(f, NULL, NULL, &err), REAL_ENTRIES);
        for (i = 0; i <= REAL_ENTRIES; i++) {
                ck_assert_int_eq(mon_ima_follow_match(f, DW_HASH_SHA256, values[i], 32, &covered), 1);
                ck_assert_uint_eq(covered, (uint64_t)i);
        }
        memcpy(bogus, values[REAL_ENTRIES], 32);
        bogus[0] ^= 1;
        ck_assert_int_eq(mon_ima_follow_match(f, DW_HASH_SHA256, bogus, 32, &covered), 0);
        ck_assert_int_eq(mon_ima_follow_match(f, DW_HASH_SHA256, values[1], 20, &covered), 0);
        ck_assert_int_eq(mon_ima_follow_match(f, DW_HASH_SHA512, values[1], 64, &covered), -EOPNOTSUPP);
}
END_TEST

/* A changed byte in an entry's data: its template digest no longer matches; the follower stops there for good. */
START_TEST(test_tampered_entry)
{
        _cleanup_free_ uint8_t *log = NULL;
        _cleanup_(mon_ima_follow_freep) struct mon_ima_follow *f = NULL;
        struct seen seen = {};
        struct dw_error err = {};
        size_t len;

        log = real_file("binary_runtime_measurements", &len);
        log[len - 10] ^= 0x20; /* inside the last entry's template data */
        append(log, len);
        ck_assert_int_eq(mon_ima_follow_new(log_path, DW_HASH_SHA1, &f), 0);
        ck_assert_int_lt(mon_ima_follow_poll(f, on_entry, &seen, &err), 0);
        ck_assert_uint_eq(seen.count, REAL_ENTRIES - 1);
        ck_assert_uint_eq(err.index, REAL_ENTRIES - 1);
        ck_assert_msg(err.msg[0], "no message");
        memset(&err, 0, sizeof(err));
        ck_assert_int_lt(mon_ima_follow_poll(f, on_entry, &seen, &err), 0); /* sticky */
        ck_assert_uint_eq(err.index, REAL_ENTRIES - 1);
}
END_TEST

/* An entry claiming an absurd length is refused without reading past the buffer (ASan watches). */
START_TEST(test_absurd_length)
{
        _cleanup_(mon_ima_follow_freep) struct mon_ima_follow *f = NULL;
        uint8_t bad[64] = {10, 0, 0, 0};
        struct dw_error err = {};

        memset(bad + 4, 0xab, 20);
        bad[24] = 0xff, bad[25] = 0xff, bad[26] = 0xff, bad[27] = 0x7f; /* template name length */
        append(bad, sizeof(bad));
        ck_assert_int_eq(mon_ima_follow_new(log_path, DW_HASH_SHA1, &f), 0);
        ck_assert_int_lt(mon_ima_follow_poll(f, NULL, NULL, &err), 0);
        ck_assert_uint_eq(mon_ima_follow_count(f), 0);
}
END_TEST

/* A log file that shrinks, or is replaced by another file: the log restarted, which a kernel never does. */
START_TEST(test_shrunk_and_replaced)
{
        _cleanup_free_ uint8_t *log = NULL;
        _cleanup_(mon_ima_follow_freep) struct mon_ima_follow *f = NULL, *g = NULL;
        struct dw_error err = {};
        char other[96];
        size_t len;

        log = real_file("binary_runtime_measurements", &len);
        append(log, len);
        ck_assert_int_eq(mon_ima_follow_new(log_path, DW_HASH_SHA1, &f), 0);
        ck_assert_int_eq(mon_ima_follow_poll(f, NULL, NULL, &err), REAL_ENTRIES);
        ck_assert_int_eq(truncate(log_path, (off_t)(len / 2)), 0);
        ck_assert_int_eq(mon_ima_follow_poll(f, NULL, NULL, &err), -ESTALE);
        ck_assert_ptr_nonnull(strstr(err.msg, "shrank"));

        unlink(log_path);
        append(log, len);
        ck_assert_int_eq(mon_ima_follow_new(log_path, DW_HASH_SHA1, &g), 0);
        ck_assert_int_eq(mon_ima_follow_poll(g, NULL, NULL, &err), REAL_ENTRIES);
        snprintf(other, sizeof(other), "%s/log2", dir);
        {
                int fd = open(other, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);

                ck_assert_int_ge(fd, 0);
                ck_assert_int_eq(write(fd, log, len), (ssize_t)len);
                close(fd);
        }
        ck_assert_int_eq(rename(other, log_path), 0);
        ck_assert_int_eq(mon_ima_follow_poll(g, NULL, NULL, &err), -ESTALE);
        ck_assert_ptr_nonnull(strstr(err.msg, "replaced"));
}
END_TEST

/* A missing log is an error naming it, and the follower picks the log up once it exists. */
START_TEST(test_missing_then_present)
{
        _cleanup_free_ uint8_t *log = NULL;
        _cleanup_(mon_ima_follow_freep) struct mon_ima_follow *f = NULL;
        struct dw_error err = {};
        size_t len;

        ck_assert_int_eq(mon_ima_follow_new(log_path, DW_HASH_SHA1, &f), 0);
        ck_assert_int_eq(mon_ima_follow_poll(f, NULL, NULL, &err), -ENOENT);
        ck_assert_ptr_nonnull(strstr(err.msg, log_path));
        log = real_file("binary_runtime_measurements", &len);
        append(log, len);
        ck_assert_int_eq(mon_ima_follow_poll(f, NULL, NULL, &err), REAL_ENTRIES);
}
END_TEST

static int stop_at_three(const struct dw_ima_entry *e, void *userdata)
{
        (void)userdata;
        return e->index == 3 ? -ECANCELED : 0;
}

/* A callback's error stops the poll and is returned; it does not make the log untrusted. */
START_TEST(test_callback_error)
{
        _cleanup_free_ uint8_t *log = NULL;
        _cleanup_(mon_ima_follow_freep) struct mon_ima_follow *f = NULL;
        struct dw_error err = {};
        size_t len;

        log = real_file("binary_runtime_measurements", &len);
        append(log, len);
        ck_assert_int_eq(mon_ima_follow_new(log_path, DW_HASH_SHA1, &f), 0);
        ck_assert_int_eq(mon_ima_follow_poll(f, stop_at_three, NULL, &err), -ECANCELED);
        ck_assert_uint_eq(mon_ima_follow_count(f), 4);
        ck_assert_int_eq(mon_ima_follow_poll(f, NULL, NULL, &err), REAL_ENTRIES - 4);
}
END_TEST

int main(void)
{
        Suite *s = suite_create("monitor-ima-follow");
        TCase *tc = tcase_create("follow");
        SRunner *sr;
        int failed;

        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_add_test(tc, test_follow_in_pieces);
        tcase_add_test(tc, test_match_history);
        tcase_add_test(tc, test_tampered_entry);
        tcase_add_test(tc, test_absurd_length);
        tcase_add_test(tc, test_shrunk_and_replaced);
        tcase_add_test(tc, test_missing_then_present);
        tcase_add_test(tc, test_callback_error);
        suite_add_tcase(s, tc);
        sr = srunner_create(s);
        srunner_run_all(sr, CK_NORMAL);
        failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
