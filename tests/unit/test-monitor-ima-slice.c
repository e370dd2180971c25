/* SPDX-License-Identifier: MIT */
/* A round's slice of the IMA log: read from the offset the follower noted for the nearest entry, it is the same
 * slice, byte for byte, as from the whole log, for every `from`; a hint that no longer holds (the file replaced)
 * falls back to the whole log; a verifier counting more entries than the log has (a new boot) gets all of it. */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ima-follow.h"
#include "ima-slice.h"
#include "ima-write.h"
#include "macro.h"

#define N_ENTRIES 1000u /* several noted offsets (every MON_IMA_OFFSET_EVERY) and a tail after the last */

static char dir[] = "/tmp/dw-slice-XXXXXX";
static char log_path[64];

static void setup(void)
{
        strcpy(dir, "/tmp/dw-slice-XXXXXX");
        ck_assert_ptr_nonnull(mkdtemp(dir));
        snprintf(log_path, sizeof(log_path), "%s/log", dir);
}

static void teardown(void)
{
        unlink(log_path);
        rmdir(dir);
}

/* n ima-ng entries whose paths differ in length (entries of different sizes); salt makes another log. */
static void write_log(const char *path, unsigned n, unsigned salt)
{
        _cleanup_(dw_hasher_freep) struct dw_hasher *h = NULL;
        struct dw_ima_buf b = {};
        FILE *f;

        ck_assert_int_eq(dw_hasher_new(&h), 0);
        for (unsigned i = 0; i < n; i++) {
                uint8_t digest[32];
                char name[128];

                memset(digest, (int)(i + salt), sizeof(digest));
                snprintf(name, sizeof(name), "/usr/lib/%0*u/file-%u", (int)(1 + (i + salt) % 40), i, salt);
                struct dw_ima_event ev = {.pcr = 10,
                                          .template_name = "ima-ng",
                                          .digest_algo = "sha256",
                                          .digest = digest,
                                          .digest_len = sizeof(digest),
                                          .name = name};
                ck_assert_int_eq(dw_ima_event_write(h, &ev, DW_IMA_FORMAT_BINARY, DW_HASH_SHA1, DW_IMA_BANK_NATIVE, &b),
                                 0);
        }
        f = fopen(path, "we");
        ck_assert_ptr_nonnull(f);
        ck_assert_uint_eq(fwrite(b.data, 1, b.len, f), b.len);
        ck_assert_int_eq(fclose(f), 0);
        dw_ima_buf_done(&b);
}

static struct mon_ima_offsets *follow_all(const char *path, unsigned expect)
{
        _cleanup_(mon_ima_follow_freep) struct mon_ima_follow *f = NULL;
        struct mon_ima_offsets *o = NULL;
        struct dw_error err = {};

        ck_assert_int_eq(mon_ima_offsets_new(&o), 0);
        ck_assert_int_eq(mon_ima_follow_new(path, DW_HASH_SHA1, &f), 0);
        mon_ima_follow_set_offsets(f, o);
        ck_assert_int_eq(mon_ima_follow_poll(f, NULL, NULL, &err), (int)expect);
        return o;
}

/* The slice from `from`, read with offsets (may be NULL); copied out with its place. */
static void slice(struct mon_ima_offsets *o, uint64_t from, struct mon_ima_slice *ret, uint8_t **ret_bytes)
{
        _cleanup_free_ uint8_t *data = NULL;
        struct dw_error err = {};

        ck_assert_int_eq(mon_ima_slice_read(log_path, o, DW_HASH_SHA1, 1u << 24, from, &data, ret, &err), 0);
        *ret_bytes = malloc(ret->size + 1);
        ck_assert_ptr_nonnull(*ret_bytes);
        memcpy(*ret_bytes, data + ret->offset, ret->size);
}

/* The slice from `from` read with the offsets o noted equals the one read from the whole log, byte for byte. */
static void same_slice(struct mon_ima_offsets *o, uint64_t from, struct mon_ima_slice *ret_hinted,
                       struct mon_ima_slice *ret_whole)
{
        _cleanup_free_ uint8_t *a = NULL, *b = NULL;

        slice(o, from, ret_hinted, &a);
        slice(NULL, from, ret_whole, &b);
        ck_assert_uint_eq(ret_hinted->first, ret_whole->first);
        ck_assert_uint_eq(ret_hinted->count, ret_whole->count);
        ck_assert_uint_eq(ret_hinted->size, ret_whole->size);
        ck_assert_mem_eq(a, b, ret_hinted->size);
}

START_TEST(test_offsets_find)
{
        _cleanup_(mon_ima_offsets_freep) struct mon_ima_offsets *o = NULL;
        uint64_t index = 0, offset = 0;

        ck_assert_int_eq(mon_ima_offsets_new(&o), 0);
        ck_assert_int_eq(mon_ima_offsets_find(o, 0, &index, &offset), 0); /* nothing noted, nothing seen */
        ck_assert_int_eq(mon_ima_offsets_note(o, 0, 0), 0);
        ck_assert_int_eq(mon_ima_offsets_note(o, 256, 40000), 0);
        ck_assert_int_eq(mon_ima_offsets_note(o, 512, 81000), 0);
        ck_assert_int_eq(mon_ima_offsets_note(o, 300, 1), 0); /* out of order: ignored */
        mon_ima_offsets_seen(o, 600);
        ck_assert_int_eq(mon_ima_offsets_find(o, 0, &index, &offset), 1);
        ck_assert_uint_eq(index, 0);
        ck_assert_int_eq(mon_ima_offsets_find(o, 255, &index, &offset), 1);
        ck_assert_uint_eq(index, 0);
        ck_assert_int_eq(mon_ima_offsets_find(o, 256, &index, &offset), 1);
        ck_assert_uint_eq(index, 256);
        ck_assert_uint_eq(offset, 40000);
        ck_assert_int_eq(mon_ima_offsets_find(o, 511, &index, &offset), 1);
        ck_assert_uint_eq(index, 256);
        ck_assert_int_eq(mon_ima_offsets_find(o, 600, &index, &offset), 1); /* the end of what was read */
        ck_assert_uint_eq(index, 512);
        ck_assert_uint_eq(offset, 81000);
        ck_assert_int_eq(mon_ima_offsets_find(o, 601, &index, &offset), 0); /* past it: another boot's count */
        mon_ima_offsets_reset(o);
        ck_assert_int_eq(mon_ima_offsets_find(o, 0, &index, &offset), 0);
}
END_TEST

START_TEST(test_same_slice_for_every_from)
{
        _cleanup_(mon_ima_offsets_freep) struct mon_ima_offsets *o = NULL;

        write_log(log_path, N_ENTRIES, 0);
        o = follow_all(log_path, N_ENTRIES);
        for (uint64_t from = 0; from <= N_ENTRIES + 1; from++) {
                struct mon_ima_slice sa, sb;

                same_slice(o, from, &sa, &sb);
                if (from <= N_ENTRIES) {
                        ck_assert_uint_eq(sa.first, from);
                        ck_assert_uint_eq(sa.count, N_ENTRIES - from);
                        /* Read from the noted entry, not from the start: the slice begins within the entries after
                         * the noted one. */
                        if (from >= MON_IMA_OFFSET_EVERY) {
                                ck_assert_uint_gt(sa.read_from, 0);
                                ck_assert_uint_eq(sa.read_from + sa.offset, sb.offset);
                                ck_assert_uint_lt(sa.read_size, sb.read_size);
                        }
                        ck_assert_uint_eq(sb.read_from, 0);
                } else { /* more than the log has: a new boot, all of it */
                        ck_assert_uint_eq(sa.first, 0);
                        ck_assert_uint_eq(sa.count, N_ENTRIES);
                }
        }
}
END_TEST

START_TEST(test_log_grew_since)
{
        _cleanup_(mon_ima_offsets_freep) struct mon_ima_offsets *o = NULL;
        _cleanup_free_ uint8_t *a = NULL;
        struct mon_ima_slice sa;

        /* The follower read 600 entries; the round reads after the kernel appended 400 more. */
        write_log(log_path, 600, 0);
        o = follow_all(log_path, 600);
        write_log(log_path, N_ENTRIES, 0);
        slice(o, 550, &sa, &a);
        ck_assert_uint_eq(sa.first, 550);
        ck_assert_uint_eq(sa.count, N_ENTRIES - 550);
}
END_TEST

START_TEST(test_replaced_log_falls_back)
{
        _cleanup_(mon_ima_offsets_freep) struct mon_ima_offsets *o = NULL;

        write_log(log_path, N_ENTRIES, 0);
        o = follow_all(log_path, N_ENTRIES);
        /* Another log in its place: its entries start elsewhere, so the noted offsets point into entries. */
        write_log(log_path, N_ENTRIES, 7);
        for (uint64_t from = 0; from <= N_ENTRIES; from += 37) {
                struct mon_ima_slice sa, sb;

                same_slice(o, from, &sa, &sb);
        }
        /* A shorter log (a new boot's): all of it, from entry 0, hints or not. */
        write_log(log_path, 300, 3);
        {
                _cleanup_free_ uint8_t *a = NULL;
                struct mon_ima_slice sa;

                slice(o, 900, &sa, &a);
                ck_assert_uint_eq(sa.first, 0);
                ck_assert_uint_eq(sa.count, 300);
        }
}
END_TEST

START_TEST(test_errors)
{
        _cleanup_free_ uint8_t *data = NULL;
        struct mon_ima_slice s;
        struct dw_error err = {};
        uint8_t bad[64] = {10, 0, 0, 0};
        FILE *f;

        ck_assert_int_eq(mon_ima_slice_read("/nonexistent/ima-log", NULL, DW_HASH_SHA1, 1024, 0, &data, &s, &err),
                         -ENOENT);
        ck_assert_ptr_nonnull(strstr(err.msg, "/nonexistent/ima-log"));
        write_log(log_path, 100, 0);
        ck_assert_int_eq(mon_ima_slice_read(log_path, NULL, DW_HASH_SHA1, 1024, 0, &data, &s, &err), -EFBIG);
        /* A malformed entry (an absurd template name length) is an error naming it. */
        memset(bad + 4, 0xab, 20);
        bad[24] = 0xff, bad[25] = 0xff, bad[26] = 0xff, bad[27] = 0x7f;
        f = fopen(log_path, "we");
        ck_assert_ptr_nonnull(f);
        ck_assert_uint_eq(fwrite(bad, 1, sizeof(bad), f), sizeof(bad));
        ck_assert_int_eq(fclose(f), 0);
        ck_assert_int_lt(mon_ima_slice_read(log_path, NULL, DW_HASH_SHA1, 1024, 0, &data, &s, &err), 0);
        ck_assert_ptr_nonnull(strstr(err.msg, "IMA log: entry 0"));
        ck_assert_ptr_null(data);
        /* The verifier asking for entries before the buffer's first. */
        ck_assert_int_eq(mon_ima_slice_find(NULL, 0, 5, DW_HASH_SHA1, 2, &s, &err), -ERANGE);
}
END_TEST

int main(void)
{
        Suite *s = suite_create("monitor-ima-slice");
        TCase *tc = tcase_create("slice");
        SRunner *sr;
        int failed;

        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_add_test(tc, test_offsets_find);
        tcase_add_test(tc, test_same_slice_for_every_from);
        tcase_add_test(tc, test_log_grew_since);
        tcase_add_test(tc, test_replaced_log_falls_back);
        tcase_add_test(tc, test_errors);
        tcase_set_timeout(tc, 60);
        suite_add_tcase(s, tc);
        sr = srunner_create(s);
        srunner_run_all(sr, CK_NORMAL);
        failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
