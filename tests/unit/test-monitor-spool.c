/* SPDX-License-Identifier: MIT */
/* Tests of monitor/spool.c: put/oldest/next/remove order, persistence across close and reopen, the bound, damaged
 * records (truncated, altered, bad magic, renamed, not files) moved aside and counted, leftover temporary files
 * removed, the lock against a second writer, and crash safety: a child putting records in a loop is killed with
 * SIGKILL at random moments, and every record whose put had returned must be there, intact, with nothing damaged. */

#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "macro.h"
#include "spool.h"

#define HEADER_SIZE 56 /* monitor/spool.c */
#define MIB         (1024 * 1024)

/* ---- helpers ------------------------------------------------------------------------------------------------ */

struct tmpdir {
        char root[64];
        char spool[96];
};

static void tmpdir_make(struct tmpdir *t)
{
        snprintf(t->root, sizeof(t->root), "/tmp/dw-spool-XXXXXX");
        ck_assert_ptr_nonnull(mkdtemp(t->root));
        snprintf(t->spool, sizeof(t->spool), "%s/spool", t->root);
}

/* Removes a directory of files (and empty directories) and the directory itself. */
static void rm_dir(const char *path)
{
        DIR *d = opendir(path);
        struct dirent *de;

        if (!d)
                return;
        while ((de = readdir(d))) {
                char p[512];

                if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
                        continue;
                snprintf(p, sizeof(p), "%s/%s", path, de->d_name);
                if (unlink(p) < 0)
                        rm_dir(p);
        }
        closedir(d);
        rmdir(path);
}

static void tmpdir_remove(struct tmpdir *t)
{
        rm_dir(t->spool);
        rm_dir(t->root);
}

static void rec_path(const struct tmpdir *t, uint64_t key, const char *suffix, char *buf, size_t size)
{
        snprintf(buf, size, "%s/%020" PRIu64 ".rec%s", t->spool, key, suffix);
}

static bool exists(const char *path)
{
        struct stat st;

        return lstat(path, &st) == 0;
}

/* Number of entries in dir (without . and ..), and of those whose name ends in suffix. */
static size_t count_entries(const char *dir, const char *suffix)
{
        DIR *d = opendir(dir);
        struct dirent *de;
        size_t n = 0;

        ck_assert_ptr_nonnull(d);
        while ((de = readdir(d))) {
                size_t l = strlen(de->d_name), ls = suffix ? strlen(suffix) : 0;

                if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
                        continue;
                if (!suffix || (l >= ls && strcmp(de->d_name + l - ls, suffix) == 0))
                        n++;
        }
        closedir(d);
        return n;
}

static void write_file(const char *path, const void *data, size_t size)
{
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(write(fd, data, size), (ssize_t)size);
        close(fd);
}

static struct mon_spool *spool_open_ok(const struct tmpdir *t, uint64_t max, size_t *ret_damaged)
{
        struct mon_spool *s = NULL;
        struct dw_error err = {};
        size_t damaged = 99;

        ck_assert_msg(mon_spool_open(t->spool, max, &s, &damaged, &err) == 0, "open: %s", err.msg);
        ck_assert_uint_ne(damaged, 99);
        if (ret_damaged)
                *ret_damaged = damaged;
        return s;
}

static uint64_t put_ok(struct mon_spool *s, const char *text)
{
        struct dw_error err = {};
        uint64_t key = 0;

        ck_assert_msg(mon_spool_put(s, text, strlen(text), &key, &err) == 0, "put: %s", err.msg);
        return key;
}

/* The oldest record must be key with contents text. */
static void oldest_is(struct mon_spool *s, uint64_t key, const char *text)
{
        _cleanup_free_ uint8_t *data = NULL;
        struct dw_error err = {};
        uint64_t k = 0;
        size_t size = 0;

        ck_assert_msg(mon_spool_oldest(s, &k, &data, &size, &err) == 0, "oldest: %s", err.msg);
        ck_assert_uint_eq(k, key);
        ck_assert_uint_eq(size, strlen(text));
        ck_assert_mem_eq(data, text, size);
        ck_assert_uint_eq(data[size], 0);
}

static void remove_ok(struct mon_spool *s, uint64_t key)
{
        struct dw_error err = {};

        ck_assert_msg(mon_spool_remove(s, key, &err) == 0, "remove: %s", err.msg);
}

/* ---- basics ------------------------------------------------------------------------------------------------- */

START_TEST(test_put_oldest_remove)
{
        _cleanup_(mon_spool_closep) struct mon_spool *s = NULL;
        _cleanup_free_ uint8_t *data = NULL, *huge = NULL;
        struct dw_error err = {};
        struct tmpdir t;
        struct stat st;
        char path[256], raw[HEADER_SIZE + 8];
        uint64_t key = 77;
        size_t size = 77, damaged;
        int fd;

        tmpdir_make(&t);
        s = spool_open_ok(&t, 64 * MIB, &damaged);
        ck_assert_uint_eq(damaged, 0);
        ck_assert_int_eq(stat(t.spool, &st), 0); /* created, 0700 */
        ck_assert(S_ISDIR(st.st_mode));
        ck_assert_uint_eq(st.st_mode & 07777, 0700);
        ck_assert_uint_eq(mon_spool_count(s), 0);
        ck_assert_uint_eq(mon_spool_bytes(s), 0);
        ck_assert_uint_eq(mon_spool_max_bytes(s), 64 * MIB);
        ck_assert_int_eq(mon_spool_oldest(s, &key, &data, &size, &err), -ENOENT);
        ck_assert_uint_eq(key, 77); /* untouched on error */
        ck_assert_uint_eq(size, 77);
        ck_assert_ptr_null(data);

        ck_assert_uint_eq(put_ok(s, "first"), 1);
        ck_assert_uint_eq(put_ok(s, "second"), 2);
        ck_assert_uint_eq(put_ok(s, "third"), 3);
        ck_assert_int_eq(mon_spool_put(s, "4th", 3, NULL, &err), 0); /* ret_key is optional */
        ck_assert_uint_eq(mon_spool_count(s), 4);
        ck_assert_uint_eq(mon_spool_bytes(s), 4 * HEADER_SIZE + 5 + 6 + 5 + 3);

        /* The file: exactly its name, the header, the payload. */
        rec_path(&t, 1, "", path, sizeof(path));
        ck_assert_int_eq(stat(path, &st), 0);
        ck_assert_uint_eq(st.st_size, HEADER_SIZE + 5);
        ck_assert_uint_eq(st.st_mode & 07777, 0600);
        fd = open(path, O_RDONLY | O_CLOEXEC);
        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(read(fd, raw, sizeof(raw)), HEADER_SIZE + 5);
        close(fd);
        ck_assert_mem_eq(raw, "DWSP", 4);
        ck_assert_mem_eq(raw + HEADER_SIZE, "first", 5);
        ck_assert_uint_eq(count_entries(t.spool, NULL), 4);

        oldest_is(s, 1, "first");
        oldest_is(s, 1, "first"); /* oldest does not remove */
        remove_ok(s, 2);          /* out of order */
        ck_assert(exists(path));
        oldest_is(s, 1, "first");
        remove_ok(s, 1);
        ck_assert(!exists(path));
        oldest_is(s, 3, "third");
        ck_assert_int_eq(mon_spool_remove(s, 2, &err), -ENOENT);
        ck_assert_int_eq(mon_spool_remove(s, 1000, &err), -ENOENT);
        remove_ok(s, 3);
        remove_ok(s, 4);
        ck_assert_uint_eq(mon_spool_count(s), 0);
        ck_assert_uint_eq(mon_spool_bytes(s), 0);
        ck_assert_int_eq(mon_spool_oldest(s, &key, &data, &size, &err), -ENOENT);
        ck_assert_uint_eq(count_entries(t.spool, NULL), 0);

        /* Keys are never reused while open, even after the largest was removed. */
        ck_assert_uint_eq(put_ok(s, "fifth"), 5);

        /* Size limits. */
        ck_assert_int_eq(mon_spool_put(s, "", 0, &key, &err), -EINVAL);
        huge = malloc(64 * MIB + 1);
        ck_assert_ptr_nonnull(huge);
        memset(huge, 'x', 64 * MIB + 1);
        ck_assert_int_eq(mon_spool_put(s, huge, 64 * MIB + 1, &key, &err), -EFBIG);
        ck_assert(!mon_spool_fits(s, 0));
        ck_assert(!mon_spool_fits(s, 64 * MIB + 1));
        ck_assert_uint_eq(count_entries(t.spool, NULL), 1);
        ck_assert_uint_eq(key, 77); /* untouched on error */

        mon_spool_close(TAKE_PTR(s));
        tmpdir_remove(&t);
}
END_TEST

START_TEST(test_large_record)
{
        _cleanup_(mon_spool_closep) struct mon_spool *s = NULL;
        _cleanup_free_ uint8_t *big = NULL, *data = NULL;
        struct dw_error err = {};
        struct tmpdir t;
        uint64_t key;
        size_t size, damaged;

        tmpdir_make(&t);
        s = spool_open_ok(&t, 200 * MIB, NULL);
        big = malloc(64 * MIB);
        ck_assert_ptr_nonnull(big);
        for (size_t i = 0; i < 64 * MIB; i++)
                big[i] = (uint8_t)(i * 7 + (i >> 16));
        ck_assert(mon_spool_fits(s, 64 * MIB));
        ck_assert_int_eq(mon_spool_put(s, big, 64 * MIB, &key, &err), 0);
        mon_spool_close(TAKE_PTR(s));

        s = spool_open_ok(&t, 200 * MIB, &damaged);
        ck_assert_uint_eq(damaged, 0);
        ck_assert_uint_eq(mon_spool_bytes(s), HEADER_SIZE + 64 * MIB);
        ck_assert_int_eq(mon_spool_oldest(s, &key, &data, &size, &err), 0);
        ck_assert_uint_eq(size, 64 * MIB);
        ck_assert(memcmp(data, big, size) == 0);
        mon_spool_close(TAKE_PTR(s));
        tmpdir_remove(&t);
}
END_TEST

START_TEST(test_persistence)
{
        _cleanup_(mon_spool_closep) struct mon_spool *s = NULL;
        struct tmpdir t;
        char path[256];
        uint64_t bytes;
        size_t damaged;

        tmpdir_make(&t);
        s = spool_open_ok(&t, MIB, NULL);
        for (int i = 1; i <= 5; i++) {
                char text[32];

                snprintf(text, sizeof(text), "record %d", i);
                ck_assert_uint_eq(put_ok(s, text), (uint64_t)i);
        }
        remove_ok(s, 1);
        remove_ok(s, 2);
        bytes = mon_spool_bytes(s);
        mon_spool_close(TAKE_PTR(s));

        s = spool_open_ok(&t, MIB, &damaged);
        ck_assert_uint_eq(damaged, 0);
        ck_assert_uint_eq(mon_spool_count(s), 3);
        ck_assert_uint_eq(mon_spool_bytes(s), bytes);
        oldest_is(s, 3, "record 3");
        ck_assert_uint_eq(put_ok(s, "record 6"), 6); /* after the largest */
        remove_ok(s, 3);
        oldest_is(s, 4, "record 4");
        mon_spool_close(TAKE_PTR(s));

        /* Drained: the keys start again. */
        s = spool_open_ok(&t, MIB, NULL);
        remove_ok(s, 4);
        remove_ok(s, 5);
        remove_ok(s, 6);
        mon_spool_close(TAKE_PTR(s));
        s = spool_open_ok(&t, MIB, NULL);
        ck_assert_uint_eq(mon_spool_count(s), 0);
        ck_assert_uint_eq(put_ok(s, "again"), 1);
        mon_spool_close(TAKE_PTR(s));

        /* A record moved aside keeps its key from being reused. */
        rec_path(&t, 41, ".damaged", path, sizeof(path));
        write_file(path, "junk", 4);
        s = spool_open_ok(&t, MIB, &damaged);
        ck_assert_uint_eq(damaged, 0);
        ck_assert_uint_eq(mon_spool_count(s), 1);
        ck_assert_uint_eq(put_ok(s, "after"), 42);
        mon_spool_close(TAKE_PTR(s));
        tmpdir_remove(&t);
}
END_TEST

START_TEST(test_bound)
{
        _cleanup_(mon_spool_closep) struct mon_spool *s = NULL;
        _cleanup_free_ char *a = NULL, *b = NULL;
        struct dw_error err = {};
        struct tmpdir t;
        uint64_t key = 0;

        tmpdir_make(&t);
        s = spool_open_ok(&t, 1000, NULL);
        a = malloc(501);
        b = malloc(501);
        ck_assert_ptr_nonnull(a);
        ck_assert_ptr_nonnull(b);
        memset(a, 'a', 500);
        a[500] = '\0';
        memset(b, 'b', 500);
        b[500] = '\0';

        ck_assert(mon_spool_fits(s, 1000 - HEADER_SIZE));
        ck_assert(!mon_spool_fits(s, 1000 - HEADER_SIZE + 1));
        ck_assert_uint_eq(put_ok(s, a), 1);
        ck_assert(!mon_spool_fits(s, 500));
        ck_assert_int_eq(mon_spool_put(s, b, 500, &key, &err), -ENOSPC);
        ck_assert_uint_eq(key, 0);
        ck_assert_ptr_nonnull(strstr(err.msg, "full"));
        /* The refused record left nothing behind: no file, no temporary file, no key used, no bytes counted. */
        ck_assert_uint_eq(count_entries(t.spool, NULL), 1);
        ck_assert_uint_eq(mon_spool_count(s), 1);
        ck_assert_uint_eq(mon_spool_bytes(s), HEADER_SIZE + 500);

        /* Exactly full is allowed. */
        b[1000 - 2 * HEADER_SIZE - 500] = '\0';
        ck_assert(mon_spool_fits(s, strlen(b)));
        ck_assert_uint_eq(put_ok(s, b), 2);
        ck_assert_uint_eq(mon_spool_bytes(s), 1000);
        ck_assert(!mon_spool_fits(s, 1));
        ck_assert_int_eq(mon_spool_put(s, "x", 1, NULL, &err), -ENOSPC);
        remove_ok(s, 1);
        ck_assert(mon_spool_fits(s, 500));
        ck_assert_uint_eq(put_ok(s, a), 3);
        mon_spool_close(TAKE_PTR(s));

        /* Opened with a smaller bound than it holds: readable, but nothing fits until it drains. */
        s = spool_open_ok(&t, 600, NULL);
        ck_assert_uint_eq(mon_spool_count(s), 2);
        ck_assert(!mon_spool_fits(s, 1));
        ck_assert_int_eq(mon_spool_put(s, "x", 1, NULL, &err), -ENOSPC);
        oldest_is(s, 2, b);
        remove_ok(s, 2);
        ck_assert(!mon_spool_fits(s, 1)); /* 556 of 600 */
        remove_ok(s, 3);
        ck_assert(mon_spool_fits(s, 600 - HEADER_SIZE));
        mon_spool_close(TAKE_PTR(s));
        tmpdir_remove(&t);
}
END_TEST

/* ---- damage ------------------------------------------------------------------------------------------------- */

static void corrupt_at(const char *path, off_t offset)
{
        int fd = open(path, O_RDWR | O_CLOEXEC);
        uint8_t c;

        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(pread(fd, &c, 1, offset), 1);
        c ^= 0x01;
        ck_assert_int_eq(pwrite(fd, &c, 1, offset), 1);
        close(fd);
}

START_TEST(test_damaged)
{
        _cleanup_(mon_spool_closep) struct mon_spool *s = NULL;
        static const char *const texts[] = {"one", "two", "three", "four", "five", "six", "seven", "eight", "nine"};
        struct dw_error err = {};
        struct tmpdir t;
        char path[256], other[256];
        size_t damaged;

        tmpdir_make(&t);
        s = spool_open_ok(&t, MIB, NULL);
        for (size_t i = 0; i < ELEMENTSOF(texts); i++)
                put_ok(s, texts[i]);
        mon_spool_close(TAKE_PTR(s));

        rec_path(&t, 1, "", path, sizeof(path)); /* truncated in the payload */
        ck_assert_int_eq(truncate(path, HEADER_SIZE + 1), 0);
        rec_path(&t, 2, "", path, sizeof(path)); /* a payload byte flipped */
        corrupt_at(path, HEADER_SIZE + 1);
        rec_path(&t, 3, "", path, sizeof(path)); /* bad magic */
        corrupt_at(path, 0);
        rec_path(&t, 4, "", path, sizeof(path)); /* renamed: the key does not match the name */
        rec_path(&t, 40, "", other, sizeof(other));
        ck_assert_int_eq(rename(path, other), 0);
        rec_path(&t, 5, "", path, sizeof(path)); /* empty */
        ck_assert_int_eq(truncate(path, 0), 0);
        rec_path(&t, 6, "", path, sizeof(path)); /* the checksum altered */
        corrupt_at(path, 30);
        rec_path(&t, 7, "", path, sizeof(path)); /* truncated in the header */
        ck_assert_int_eq(truncate(path, 20), 0);
        rec_path(&t, 8, "", path, sizeof(path)); /* longer than the header says */
        {
                int fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC);

                ck_assert_int_ge(fd, 0);
                ck_assert_int_eq(write(fd, "!", 1), 1);
                close(fd);
        }
        rec_path(&t, 50, "", path, sizeof(path)); /* not a file */
        ck_assert_int_eq(mkdir(path, 0700), 0);
        rec_path(&t, 51, "", path, sizeof(path)); /* a symbolic link to a good record */
        rec_path(&t, 9, "", other, sizeof(other));
        ck_assert_int_eq(symlink(other, path), 0);
        /* Not records: left alone. */
        snprintf(path, sizeof(path), "%s/README", t.spool);
        write_file(path, "hello", 5);
        snprintf(path, sizeof(path), "%s/1.rec", t.spool);
        write_file(path, "x", 1);
        snprintf(path, sizeof(path), "%s/000000000000000000001.rec", t.spool);
        write_file(path, "x", 1);
        snprintf(path, sizeof(path), "%s/99999999999999999999.rec", t.spool); /* > UINT64_MAX */
        write_file(path, "x", 1);

        s = spool_open_ok(&t, MIB, &damaged);
        ck_assert_uint_eq(damaged, 10);
        ck_assert_uint_eq(mon_spool_count(s), 1);
        oldest_is(s, 9, "nine");
        ck_assert_uint_eq(mon_spool_bytes(s), HEADER_SIZE + 4);
        ck_assert_uint_eq(count_entries(t.spool, ".damaged"), 10);
        for (uint64_t k = 1; k <= 51; k++) {
                bool was_damaged = k <= 8 || k == 40 || k == 50 || k == 51;

                rec_path(&t, k, ".damaged", path, sizeof(path));
                ck_assert_msg(exists(path) == (was_damaged && k != 4), "key %" PRIu64, k);
                rec_path(&t, k, "", path, sizeof(path));
                ck_assert_msg(exists(path) == (k == 9), "key %" PRIu64, k);
        }
        ck_assert_uint_eq(count_entries(t.spool, NULL), 10 + 1 + 4);
        ck_assert_uint_eq(put_ok(s, "ten"), 52);
        mon_spool_close(TAKE_PTR(s));

        /* Moved aside once, not counted again. */
        s = spool_open_ok(&t, MIB, &damaged);
        ck_assert_uint_eq(damaged, 0);
        ck_assert_uint_eq(mon_spool_count(s), 2);

        /* Damaged while open: found when read, moved aside, and the next one is read. */
        rec_path(&t, 9, "", path, sizeof(path));
        corrupt_at(path, HEADER_SIZE + 2);
        {
                _cleanup_free_ uint8_t *data = NULL;
                uint64_t key;
                size_t size;

                ck_assert_int_eq(mon_spool_oldest(s, &key, &data, &size, &err), -EBADMSG);
                ck_assert_ptr_nonnull(strstr(err.msg, "checksum"));
                ck_assert_ptr_null(data);
        }
        ck_assert(!exists(path));
        rec_path(&t, 9, ".damaged", path, sizeof(path));
        ck_assert(exists(path));
        ck_assert_uint_eq(mon_spool_count(s), 1);
        oldest_is(s, 52, "ten");
        /* Vanished while open. */
        ck_assert_uint_eq(put_ok(s, "eleven"), 53);
        rec_path(&t, 52, "", path, sizeof(path));
        ck_assert_int_eq(unlink(path), 0);
        {
                _cleanup_free_ uint8_t *data = NULL;
                uint64_t key;
                size_t size;

                ck_assert_int_eq(mon_spool_oldest(s, &key, &data, &size, &err), -EBADMSG);
        }
        oldest_is(s, 53, "eleven");
        ck_assert_uint_eq(mon_spool_bytes(s), HEADER_SIZE + 6);
        mon_spool_close(TAKE_PTR(s));
        tmpdir_remove(&t);
}
END_TEST

/* The record after key must be next_key with contents text. */
static void next_is(struct mon_spool *s, uint64_t key, uint64_t next_key, const char *text)
{
        _cleanup_free_ uint8_t *data = NULL;
        struct dw_error err = {};
        uint64_t k = 0;
        size_t size = 0;

        ck_assert_msg(mon_spool_next(s, key, &k, &data, &size, &err) == 0, "next: %s", err.msg);
        ck_assert_uint_eq(k, next_key);
        ck_assert_uint_eq(size, strlen(text));
        ck_assert_mem_eq(data, text, size);
        ck_assert_uint_eq(data[size], 0);
}

START_TEST(test_next)
{
        _cleanup_(mon_spool_closep) struct mon_spool *s = NULL;
        _cleanup_free_ uint8_t *data = NULL;
        struct dw_error err = {};
        struct tmpdir t;
        char path[256];
        uint64_t key = 77;
        size_t size = 77;

        tmpdir_make(&t);
        s = spool_open_ok(&t, MIB, NULL);
        ck_assert_int_eq(mon_spool_next(s, 0, &key, &data, &size, &err), -ENOENT);
        put_ok(s, "one");
        put_ok(s, "two");
        put_ok(s, "three");
        put_ok(s, "four");
        put_ok(s, "five");
        next_is(s, 0, 1, "one");
        next_is(s, 1, 2, "two");
        remove_ok(s, 3);
        next_is(s, 2, 4, "four"); /* key need not exist */
        next_is(s, 3, 4, "four");
        ck_assert_int_eq(mon_spool_next(s, 5, &key, &data, &size, &err), -ENOENT);
        ck_assert_int_eq(mon_spool_next(s, UINT64_MAX, &key, &data, &size, &err), -ENOENT);
        ck_assert_uint_eq(key, 77);
        ck_assert_ptr_null(data);
        remove_ok(s, 1);
        next_is(s, 0, 2, "two");

        /* Damaged since open: dropped with -EBADMSG, then the one after it. */
        rec_path(&t, 4, "", path, sizeof(path));
        corrupt_at(path, HEADER_SIZE);
        ck_assert_int_eq(mon_spool_next(s, 2, &key, &data, &size, &err), -EBADMSG);
        ck_assert_ptr_null(data);
        next_is(s, 2, 5, "five");
        ck_assert_uint_eq(mon_spool_count(s), 2);
        mon_spool_close(TAKE_PTR(s));
        tmpdir_remove(&t);
}
END_TEST

START_TEST(test_tmp_leftovers)
{
        _cleanup_(mon_spool_closep) struct mon_spool *s = NULL;
        struct tmpdir t;
        char path[256];
        size_t damaged;

        tmpdir_make(&t);
        ck_assert_int_eq(mkdir(t.spool, 0700), 0);
        snprintf(path, sizeof(path), "%s/.00000000000000000007.rec.tmp", t.spool);
        write_file(path, "half-written", 12);
        snprintf(path, sizeof(path), "%s/.00000000000000000008.rec.tmp", t.spool);
        write_file(path, "", 0);
        snprintf(path, sizeof(path), "%s/foo.tmp", t.spool); /* not ours */
        write_file(path, "x", 1);
        snprintf(path, sizeof(path), "%s/.other.tmp", t.spool);
        write_file(path, "x", 1);

        s = spool_open_ok(&t, MIB, &damaged);
        ck_assert_uint_eq(damaged, 0);
        ck_assert_uint_eq(mon_spool_count(s), 0);
        snprintf(path, sizeof(path), "%s/.00000000000000000007.rec.tmp", t.spool);
        ck_assert(!exists(path));
        snprintf(path, sizeof(path), "%s/.00000000000000000008.rec.tmp", t.spool);
        ck_assert(!exists(path));
        ck_assert_uint_eq(count_entries(t.spool, NULL), 2);
        ck_assert_uint_eq(put_ok(s, "x"), 1); /* a temporary file holds no key */
        mon_spool_close(TAKE_PTR(s));
        tmpdir_remove(&t);
}
END_TEST

START_TEST(test_open_errors)
{
        _cleanup_(mon_spool_closep) struct mon_spool *s = NULL;
        struct mon_spool *s2 = NULL;
        struct dw_error err = {};
        struct tmpdir t;
        char path[256];

        tmpdir_make(&t);
        snprintf(path, sizeof(path), "%s/missing/spool", t.root);
        ck_assert_int_eq(mon_spool_open(path, MIB, &s2, NULL, &err), -ENOENT);
        ck_assert_ptr_nonnull(strstr(err.msg, path));
        snprintf(path, sizeof(path), "%s/file", t.root);
        write_file(path, "x", 1);
        ck_assert_int_eq(mon_spool_open(path, MIB, &s2, NULL, &err), -ENOTDIR);
        ck_assert_int_eq(unlink(path), 0);

        /* One writer at a time. */
        s = spool_open_ok(&t, MIB, NULL);
        ck_assert_int_eq(mon_spool_open(t.spool, MIB, &s2, NULL, &err), -EBUSY);
        ck_assert_ptr_null(s2);
        mon_spool_close(TAKE_PTR(s));
        s = spool_open_ok(&t, MIB, NULL);
        mon_spool_close(TAKE_PTR(s));
        tmpdir_remove(&t);
}
END_TEST

/* ---- crash safety ------------------------------------------------------------------------------------------- */

static uint64_t xorshift(uint64_t *x)
{
        *x ^= *x << 13;
        *x ^= *x >> 7;
        *x ^= *x << 17;
        return *x;
}

/* A payload that says what it should be: seed (8 bytes) then bytes drawn from it; 9..16392 bytes. */
static size_t payload_make(uint64_t seed, uint8_t *buf)
{
        uint64_t x = seed | 1;
        size_t size = 9 + xorshift(&x) % 16384;

        memcpy(buf, &seed, 8);
        for (size_t i = 8; i < size; i++)
                buf[i] = (uint8_t)xorshift(&x);
        return size;
}

static bool payload_check(const uint8_t *data, size_t size, uint64_t *ret_seed)
{
        static uint8_t expect[16400];
        uint64_t seed;

        if (size < 9)
                return false;
        memcpy(&seed, data, 8);
        if (payload_make(seed, expect) != size || memcmp(expect, data, size) != 0)
                return false;
        *ret_seed = seed;
        return true;
}

struct ack {
        uint64_t key;
        uint64_t seed;
};

_Noreturn static void child_put_loop(const char *dir, int fd, uint64_t seed)
{
        static uint8_t buf[16400];
        struct mon_spool *s = NULL;
        struct dw_error err = {};

        (void)prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (mon_spool_open(dir, 1024 * MIB, &s, NULL, &err) < 0)
                _exit(2);
        for (;;) {
                struct ack a = {.seed = xorshift(&seed)};
                size_t size = payload_make(a.seed, buf);

                if (mon_spool_put(s, buf, size, &a.key, &err) < 0)
                        _exit(3);
                if (write(fd, &a, sizeof(a)) != sizeof(a)) /* atomic: less than PIPE_BUF */
                        _exit(4);
        }
}

/* Reads acks until EOF. */
static void read_acks(int fd, struct ack *acks, size_t *n, size_t max)
{
        for (;;) {
                struct ack a;
                ssize_t r = read(fd, &a, sizeof(a));

                if (r == 0)
                        return;
                ck_assert_int_eq(r, sizeof(a));
                ck_assert_uint_lt(*n, max);
                acks[(*n)++] = a;
        }
}

static const struct ack *ack_find(const struct ack *acks, size_t n, uint64_t key)
{
        for (size_t i = 0; i < n; i++)
                if (acks[i].key == key)
                        return &acks[i];
        return NULL;
}

/* Reads the oldest record and checks it is intact (and what was acknowledged for its key, if anything). */
static uint64_t check_oldest(struct mon_spool *s, const struct ack *acks, size_t n)
{
        _cleanup_free_ uint8_t *data = NULL;
        struct dw_error err = {};
        const struct ack *a;
        uint64_t key, seed;
        size_t size;

        ck_assert_msg(mon_spool_oldest(s, &key, &data, &size, &err) == 0, "%s", err.msg);
        ck_assert_msg(payload_check(data, size, &seed), "record %" PRIu64 " is not what was put", key);
        a = ack_find(acks, n, key);
        if (a)
                ck_assert_uint_eq(a->seed, seed);
        return key;
}

START_TEST(test_crash_safety)
{
        enum { ROUNDS = 12, MAX_ACKS = 1 << 16 };
        _cleanup_free_ struct ack *acks = calloc(MAX_ACKS, sizeof(struct ack));
        _cleanup_free_ uint64_t *removed = calloc(MAX_ACKS, sizeof(uint64_t));
        size_t n_acks = 0, n_removed = 0, total_unacked = 0;
        unsigned seed = (unsigned)time(NULL) ^ (unsigned)getpid();
        struct tmpdir t;

        ck_assert_ptr_nonnull(acks);
        ck_assert_ptr_nonnull(removed);
        tmpdir_make(&t);
        fprintf(stderr, "test_crash_safety: seed %u\n", seed);

        for (int round = 0; round < ROUNDS; round++) {
                _cleanup_(mon_spool_closep) struct mon_spool *s = NULL;
                struct pollfd pfd;
                int p[2], status;
                size_t damaged, before = n_acks;
                pid_t pid;

                ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
                pid = fork();
                ck_assert_int_ge(pid, 0);
                if (pid == 0) {
                        close(p[0]);
                        child_put_loop(t.spool, p[1], ((uint64_t)rand_r(&seed) << 32) | (unsigned)round);
                }
                close(p[1]);
                /* Wait until the child is putting, then kill it at a random moment. */
                pfd = (struct pollfd){.fd = p[0], .events = POLLIN};
                ck_assert_int_eq(poll(&pfd, 1, 10000), 1);
                usleep((useconds_t)(rand_r(&seed) % 30000));
                ck_assert_int_eq(kill(pid, SIGKILL), 0);
                ck_assert_int_eq(waitpid(pid, &status, 0), pid);
                ck_assert_msg(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL, "child failed: status %d", status);
                read_acks(p[0], acks, &n_acks, MAX_ACKS);
                close(p[0]);
                ck_assert_uint_gt(n_acks, before);

                /* Every acknowledged record is there, intact; nothing is damaged; no temporary file survives. */
                s = spool_open_ok(&t, 1024 * MIB, &damaged);
                ck_assert_uint_eq(damaged, 0);
                ck_assert_uint_eq(count_entries(t.spool, ".tmp"), 0);
                ck_assert_uint_eq(count_entries(t.spool, ".damaged"), 0);
                for (size_t i = 0; i < n_acks; i++) {
                        char path[256];
                        bool gone = false;

                        for (size_t j = 0; j < n_removed; j++)
                                gone |= removed[j] == acks[i].key;
                        rec_path(&t, acks[i].key, "", path, sizeof(path));
                        ck_assert_msg(exists(path) != gone, "record %" PRIu64 " lost", acks[i].key);
                }
                ck_assert_uint_ge(mon_spool_count(s) + n_removed, n_acks);
                total_unacked = mon_spool_count(s) + n_removed - n_acks;
                /* Drain a few, checking them; never all, or keys would start again at 1 with the next open. */
                for (int i = 0; i < 3 && mon_spool_count(s) > 1; i++) {
                        uint64_t key = check_oldest(s, acks, n_acks);

                        remove_ok(s, key);
                        removed[n_removed++] = key;
                }
        }

        /* Finally everything that is left reads back intact, in key order. */
        {
                _cleanup_(mon_spool_closep) struct mon_spool *s = spool_open_ok(&t, 1024 * MIB, NULL);
                uint64_t last = 0;

                while (mon_spool_count(s) > 0) {
                        uint64_t key = check_oldest(s, acks, n_acks);

                        ck_assert_uint_gt(key, last);
                        last = key;
                        remove_ok(s, key);
                }
        }
        fprintf(stderr, "test_crash_safety: %zu records acknowledged, %zu more put but not acknowledged\n", n_acks,
                total_unacked);
        tmpdir_remove(&t);
}
END_TEST

int main(void)
{
        Suite *s = suite_create("monitor-spool");
        TCase *basic = tcase_create("basic"), *damage = tcase_create("damage"), *crash = tcase_create("crash");
        SRunner *sr;
        int failed;

        tcase_add_test(basic, test_put_oldest_remove);
        tcase_add_test(basic, test_large_record);
        tcase_add_test(basic, test_persistence);
        tcase_add_test(basic, test_bound);
        tcase_add_test(basic, test_open_errors);
        tcase_set_timeout(basic, 60);
        suite_add_tcase(s, basic);

        tcase_add_test(damage, test_damaged);
        tcase_add_test(damage, test_next);
        tcase_add_test(damage, test_tmp_leftovers);
        suite_add_tcase(s, damage);

        tcase_add_test(crash, test_crash_safety);
        tcase_set_timeout(crash, 120);
        suite_add_tcase(s, crash);

        sr = srunner_create(s);
        srunner_run_all(sr, CK_NORMAL);
        failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
