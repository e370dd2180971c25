/* SPDX-License-Identifier: MIT */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>

#include "fsutil.h"
#include "hash.h"
#include "spool.h"

/* A record file: this header, then the payload.
 *   0  magic "DWSP"
 *   4  version (u32, little-endian) = 1
 *   8  key (u64 LE): must match the file name
 *  16  payload size (u64 LE): must match the file size
 *  24  SHA-256 of the payload (32 bytes) */
#define SPOOL_MAGIC       "DWSP"
#define SPOOL_VERSION     1
#define SPOOL_HEADER_SIZE 56
#define SPOOL_RECORD_MAX  (UINT64_C(64) * 1024 * 1024)
#define SPOOL_DIGEST_SIZE 32

/* "%020" PRIu64 ".rec": 20 digits and the suffix; temporary files are "." NAME ".tmp"; damaged ones NAME
 * ".damaged". */
#define NAME_DIGITS  20
#define NAME_SUFFIX  ".rec"
#define TMP_SUFFIX   ".tmp"
#define DAMAGED_SUFX ".damaged"
#define NAME_MAX_LEN (1 + NAME_DIGITS + sizeof(NAME_SUFFIX) - 1 + sizeof(DAMAGED_SUFX) - 1 + 1)

struct spool_rec {
        uint64_t key;
        uint64_t bytes; /* header + payload */
};

struct mon_spool {
        char *path;
        int dir_fd;
        struct dw_hasher *hasher;
        uint64_t max_bytes, bytes;
        uint64_t next_key;
        bool key_exhausted;     /* a record has key UINT64_MAX: no key is left */
        struct spool_rec *recs; /* recs[head..n) are the records, ascending keys */
        size_t head, n, allocated;
};

/* ---- names, header ------------------------------------------------------------------------------------------ */

static void record_name(uint64_t key, char buf[static NAME_MAX_LEN])
{
        snprintf(buf, NAME_MAX_LEN, "%020" PRIu64 NAME_SUFFIX, key);
}

static void tmp_name(uint64_t key, char buf[static NAME_MAX_LEN])
{
        snprintf(buf, NAME_MAX_LEN, ".%020" PRIu64 NAME_SUFFIX TMP_SUFFIX, key);
}

static void damaged_name(uint64_t key, char buf[static NAME_MAX_LEN])
{
        snprintf(buf, NAME_MAX_LEN, "%020" PRIu64 NAME_SUFFIX DAMAGED_SUFX, key);
}

/* 20 digits then exactly suffix; the key in ret. False for anything else (including 20 digits > UINT64_MAX). */
static bool name_parse(const char *name, const char *suffix, uint64_t *ret)
{
        uint64_t v = 0;

        for (size_t i = 0; i < NAME_DIGITS; i++) {
                unsigned d;

                if (name[i] < '0' || name[i] > '9')
                        return false;
                d = (unsigned)(name[i] - '0');
                if (v > (UINT64_MAX - d) / 10)
                        return false;
                v = v * 10 + d;
        }
        if (strcmp(name + NAME_DIGITS, suffix) != 0)
                return false;
        *ret = v;
        return true;
}

static void put_le32(uint8_t *p, uint32_t v)
{
        for (size_t i = 0; i < 4; i++)
                p[i] = (uint8_t)(v >> (8 * i));
}

static void put_le64(uint8_t *p, uint64_t v)
{
        for (size_t i = 0; i < 8; i++)
                p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t get_le32(const uint8_t *p)
{
        uint32_t v = 0;

        for (size_t i = 0; i < 4; i++)
                v |= (uint32_t)p[i] << (8 * i);
        return v;
}

static uint64_t get_le64(const uint8_t *p)
{
        uint64_t v = 0;

        for (size_t i = 0; i < 8; i++)
                v |= (uint64_t)p[i] << (8 * i);
        return v;
}

/* Checks a header against the file's name and size; why says what is wrong. */
static bool header_check(const uint8_t *h, uint64_t key, uint64_t file_size, const char **why)
{
        if (memcmp(h, SPOOL_MAGIC, 4) != 0)
                *why = "bad magic";
        else if (get_le32(h + 4) != SPOOL_VERSION)
                *why = "unknown version";
        else if (get_le64(h + 8) != key)
                *why = "key does not match the file name";
        else if (get_le64(h + 16) == 0 || get_le64(h + 16) > SPOOL_RECORD_MAX)
                *why = "bad payload size";
        else if (get_le64(h + 16) != file_size - SPOOL_HEADER_SIZE)
                *why = "truncated or overlong";
        else
                return true;
        return false;
}

/* ---- I/O helpers -------------------------------------------------------------------------------------------- */

static int fsync_dir(struct mon_spool *s, struct dw_error *err)
{
        if (fsync(s->dir_fd) < 0)
                return dw_error_set(err, errno, 0, 0, "%s: fsync: %m", s->path);
        return 0;
}

/* A file that is unlinked when it goes out of scope, unless name is cleared. */
struct tmp_file {
        int dir_fd;
        const char *name;
};

static void tmp_file_unlinkp(struct tmp_file *t)
{
        if (t->name)
                (void)unlinkat(t->dir_fd, t->name, 0);
}

/* ---- the index ---------------------------------------------------------------------------------------------- */

static int index_reserve(struct mon_spool *s, size_t extra)
{
        struct spool_rec *p;
        size_t want;

        if (s->head > 0 && s->head >= s->n / 2) { /* reclaim the removed front */
                memmove(s->recs, s->recs + s->head, (s->n - s->head) * sizeof(*s->recs));
                s->n -= s->head;
                s->head = 0;
        }
        if (s->n + extra <= s->allocated)
                return 0;
        want = MAX(s->allocated * 2, s->n + extra);
        want = MAX(want, (size_t)16);
        p = reallocarray(s->recs, want, sizeof(*p));
        if (!p)
                return -ENOMEM;
        s->recs = p;
        s->allocated = want;
        return 0;
}

static int rec_cmp(const void *a, const void *b)
{
        uint64_t x = ((const struct spool_rec *)a)->key, y = ((const struct spool_rec *)b)->key;

        return x < y ? -1 : x > y;
}

static struct spool_rec *index_find(struct mon_spool *s, uint64_t key)
{
        struct spool_rec k = {.key = key};

        return bsearch(&k, s->recs + s->head, s->n - s->head, sizeof(k), rec_cmp);
}

static void index_drop(struct mon_spool *s, struct spool_rec *r)
{
        s->bytes -= r->bytes;
        if (r == s->recs + s->head) {
                s->head++;
        } else {
                memmove(r, r + 1, (size_t)(s->recs + s->n - (r + 1)) * sizeof(*r));
                s->n--;
        }
        if (s->head == s->n)
                s->head = s->n = 0;
}

static void note_key(struct mon_spool *s, uint64_t key)
{
        if (key == UINT64_MAX)
                s->key_exhausted = true;
        else if (key + 1 > s->next_key)
                s->next_key = key + 1;
}

/* ---- open --------------------------------------------------------------------------------------------------- */

/* Whether the record file is intact: 1 yes (its file size in ret_bytes), 0 damaged (why says how), < 0 an error
 * that is not the record's fault. */
static int record_verify(struct mon_spool *s, const char *name, uint64_t key, uint64_t *ret_bytes, const char **why)
{
        _cleanup_close_ int fd = -EBADF;
        uint8_t h[SPOOL_HEADER_SIZE], digest[SPOOL_DIGEST_SIZE], buf[64 * 1024];
        struct stat st;
        uint64_t left;
        int r;

        fd = openat(s->dir_fd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY);
        if (fd < 0) {
                if (errno == ELOOP) {
                        *why = "a symbolic link";
                        return 0;
                }
                return -errno;
        }
        if (fstat(fd, &st) < 0)
                return -errno;
        if (!S_ISREG(st.st_mode)) {
                *why = "not a regular file";
                return 0;
        }
        if ((uint64_t)st.st_size < SPOOL_HEADER_SIZE + 1) {
                *why = "truncated";
                return 0;
        }
        r = mon_read_all(fd, h, sizeof(h));
        if (r < 0) {
                *why = r == -EIO ? "truncated" : "unreadable";
                return 0;
        }
        if (!header_check(h, key, (uint64_t)st.st_size, why))
                return 0;
        r = dw_hasher_init(s->hasher, DW_HASH_SHA256);
        if (r < 0)
                return r;
        for (left = get_le64(h + 16); left > 0;) {
                size_t n = (size_t)MIN(left, (uint64_t)sizeof(buf));

                r = mon_read_all(fd, buf, n);
                if (r < 0) {
                        *why = r == -EIO ? "truncated" : "unreadable";
                        return 0;
                }
                r = dw_hasher_update(s->hasher, buf, n);
                if (r < 0)
                        return r;
                left -= n;
        }
        r = dw_hasher_final(s->hasher, digest);
        if (r < 0)
                return r;
        if (memcmp(digest, h + 24, SPOOL_DIGEST_SIZE) != 0) {
                *why = "checksum mismatch";
                return 0;
        }
        *ret_bytes = (uint64_t)st.st_size;
        return 1;
}

static int move_aside(struct mon_spool *s, uint64_t key, struct dw_error *err)
{
        char name[NAME_MAX_LEN], aside[NAME_MAX_LEN];

        record_name(key, name);
        damaged_name(key, aside);
        if (renameat(s->dir_fd, name, s->dir_fd, aside) < 0)
                return dw_error_set(err, errno, 0, 0, "%s/%s: cannot move aside: %m", s->path, name);
        return 0;
}

/* One directory entry: a record (indexed, or moved aside when damaged), a leftover temporary file (removed), a
 * damaged record (its key is not reused) or anything else (ignored). *changed says the directory was modified. */
static int scan_entry(struct mon_spool *s, const char *name, size_t *damaged, bool *changed, struct dw_error *err)
{
        const char *why = NULL;
        uint64_t key, bytes;
        int r;

        if (name[0] == '.' && name_parse(name + 1, NAME_SUFFIX TMP_SUFFIX, &key)) {
                if (unlinkat(s->dir_fd, name, 0) < 0 && errno != ENOENT)
                        return dw_error_set(err, errno, 0, 0, "%s/%s: cannot remove: %m", s->path, name);
                *changed = true;
                return 0;
        }
        if (name_parse(name, NAME_SUFFIX DAMAGED_SUFX, &key)) {
                note_key(s, key);
                return 0;
        }
        if (!name_parse(name, NAME_SUFFIX, &key))
                return 0;
        note_key(s, key);
        r = record_verify(s, name, key, &bytes, &why);
        if (r < 0)
                return dw_error_set(err, r, 0, 0, "%s/%s: %s", s->path, name, strerror(-r));
        if (r == 0) {
                r = move_aside(s, key, err);
                if (r < 0)
                        return r;
                (*damaged)++;
                *changed = true;
                return 0;
        }
        r = index_reserve(s, 1);
        if (r < 0)
                return dw_error_set(err, r, 0, 0, "%s: out of memory", s->path);
        s->recs[s->n++] = (struct spool_rec){.key = key, .bytes = bytes};
        s->bytes += bytes;
        return 0;
}

static int scan(struct mon_spool *s, size_t *ret_damaged, struct dw_error *err)
{
        _cleanup_close_ int fd = -EBADF;
        DIR *d;
        size_t damaged = 0;
        bool changed = false;
        int r = 0;

        fd = openat(s->dir_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return dw_error_set(err, errno, 0, 0, "%s: %m", s->path);
        d = fdopendir(fd);
        if (!d)
                return dw_error_set(err, errno, 0, 0, "%s: %m", s->path);
        fd = -EBADF; /* d owns it */
        for (;;) {
                struct dirent *de;

                errno = 0;
                de = readdir(d);
                if (!de) {
                        if (errno != 0)
                                r = dw_error_set(err, errno, 0, 0, "%s: cannot list: %m", s->path);
                        break;
                }
                r = scan_entry(s, de->d_name, &damaged, &changed, err);
                if (r < 0)
                        break;
        }
        closedir(d);
        if (r < 0)
                return r;
        if (changed) {
                r = fsync_dir(s, err);
                if (r < 0)
                        return r;
        }
        if (s->n > 0)
                qsort(s->recs, s->n, sizeof(*s->recs), rec_cmp);
        *ret_damaged = damaged;
        return 0;
}

static int open_dir(const char *dir, int *ret_fd, struct dw_error *err)
{
        int fd;

        if (mkdir(dir, 0700) < 0 && errno != EEXIST)
                return dw_error_set(err, errno, 0, 0, "%s: cannot create: %m", dir);
        fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return dw_error_set(err, errno, 0, 0, "%s: %m", dir);
        /* Two writers would assign the same keys: the second one is refused. */
        if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
                int r = errno == EWOULDBLOCK ? EBUSY : errno;

                close(fd);
                return dw_error_set(err, r, 0, 0, "%s: in use by another process", dir);
        }
        *ret_fd = fd;
        return 0;
}

int mon_spool_open(const char *dir, uint64_t max_bytes, struct mon_spool **ret, size_t *ret_damaged,
                   struct dw_error *err)
{
        _cleanup_(mon_spool_closep) struct mon_spool *s = NULL;
        size_t damaged = 0;
        int r;

        s = calloc(1, sizeof(*s));
        if (!s)
                return dw_error_set(err, ENOMEM, 0, 0, "out of memory");
        s->dir_fd = -EBADF;
        s->max_bytes = max_bytes;
        s->next_key = 1;
        s->path = strdup(dir);
        if (!s->path)
                return dw_error_set(err, ENOMEM, 0, 0, "out of memory");
        r = dw_hasher_new(&s->hasher);
        if (r < 0)
                return dw_error_set(err, r, 0, 0, "%s: cannot set up SHA-256", dir);
        r = open_dir(dir, &s->dir_fd, err);
        if (r < 0)
                return r;
        r = scan(s, &damaged, err);
        if (r < 0)
                return r;
        if (ret_damaged)
                *ret_damaged = damaged;
        *ret = TAKE_PTR(s);
        return 0;
}

void mon_spool_close(struct mon_spool *s)
{
        if (s->dir_fd >= 0)
                close(s->dir_fd);
        dw_hasher_free(s->hasher);
        free(s->recs);
        free(s->path);
        free(s);
}

/* ---- put, oldest, remove ------------------------------------------------------------------------------------ */

static bool fits(const struct mon_spool *s, uint64_t size)
{
        uint64_t need = SPOOL_HEADER_SIZE + size;

        return s->bytes <= s->max_bytes && need <= s->max_bytes - s->bytes;
}

bool mon_spool_fits(const struct mon_spool *s, size_t size)
{
        return size > 0 && (uint64_t)size <= SPOOL_RECORD_MAX && fits(s, size);
}

/* Writes the temporary file of a record, durably. */
static int write_tmp(struct mon_spool *s, const char *name, uint64_t key, const void *data, size_t size,
                     struct dw_error *err)
{
        _cleanup_close_ int fd = -EBADF;
        uint8_t h[SPOOL_HEADER_SIZE];
        int r;

        memcpy(h, SPOOL_MAGIC, 4);
        put_le32(h + 4, SPOOL_VERSION);
        put_le64(h + 8, key);
        put_le64(h + 16, size);
        r = dw_hash_buf(s->hasher, DW_HASH_SHA256, data, size, h + 24);
        if (r < 0)
                return dw_error_set(err, r, 0, 0, "%s: SHA-256 failed", s->path);

        fd = openat(s->dir_fd, name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY, 0600);
        if (fd < 0)
                return dw_error_set(err, errno, 0, 0, "%s/%s: cannot create: %m", s->path, name);
        r = mon_write_all(fd, h, sizeof(h));
        if (r >= 0)
                r = mon_write_all(fd, data, size);
        if (r < 0)
                return dw_error_set(err, r, 0, 0, "%s/%s: write: %s", s->path, name, strerror(-r));
        if (fsync(fd) < 0)
                return dw_error_set(err, errno, 0, 0, "%s/%s: fsync: %m", s->path, name);
        r = close(fd);
        fd = -EBADF;
        if (r < 0)
                return dw_error_set(err, errno, 0, 0, "%s/%s: close: %m", s->path, name);
        return 0;
}

int mon_spool_put(struct mon_spool *s, const void *data, size_t size, uint64_t *ret_key, struct dw_error *err)
{
        char tmp[NAME_MAX_LEN], name[NAME_MAX_LEN];
        _cleanup_(tmp_file_unlinkp) struct tmp_file t = {.dir_fd = s->dir_fd};
        uint64_t key = s->next_key;
        int r;

        if (size == 0)
                return dw_error_set(err, EINVAL, 0, 0, "%s: refusing an empty record", s->path);
        if ((uint64_t)size > SPOOL_RECORD_MAX)
                return dw_error_set(err, EFBIG, 0, 0, "%s: refusing a record of %zu bytes (at most 64 MiB)", s->path,
                                    size);
        if (!fits(s, size))
                return dw_error_set(err, ENOSPC, 0, 0,
                                    "%s: full (%" PRIu64 " of %" PRIu64 " bytes used, a record of %zu bytes refused)",
                                    s->path, s->bytes, s->max_bytes, size);
        if (s->key_exhausted)
                return dw_error_set(err, EOVERFLOW, 0, 0, "%s: no record key left", s->path);
        r = index_reserve(s, 1); /* before writing anything, so that nothing can fail after the rename */
        if (r < 0)
                return dw_error_set(err, r, 0, 0, "%s: out of memory", s->path);

        tmp_name(key, tmp);
        record_name(key, name);
        t.name = tmp;
        r = write_tmp(s, tmp, key, data, size, err);
        if (r < 0)
                return r;
        if (renameat(s->dir_fd, tmp, s->dir_fd, name) < 0)
                return dw_error_set(err, errno, 0, 0, "%s/%s: rename: %m", s->path, name);
        t.name = name; /* until the directory is durable, a failure removes the record itself */
        r = fsync_dir(s, err);
        if (r < 0)
                return r;
        t.name = NULL;

        s->recs[s->n++] = (struct spool_rec){.key = key, .bytes = SPOOL_HEADER_SIZE + size};
        s->bytes += SPOOL_HEADER_SIZE + size;
        note_key(s, key);
        if (ret_key)
                *ret_key = key;
        return 0;
}

/* Reads and checks a record: the payload (NUL-terminated) on success, or why it is damaged (r == 0). */
static int record_read(struct mon_spool *s, uint64_t key, uint8_t **ret_data, size_t *ret_size, const char **why)
{
        _cleanup_close_ int fd = -EBADF;
        _cleanup_free_ uint8_t *data = NULL;
        uint8_t h[SPOOL_HEADER_SIZE], digest[SPOOL_DIGEST_SIZE];
        char name[NAME_MAX_LEN];
        struct stat st;
        size_t size;
        int r;

        record_name(key, name);
        fd = openat(s->dir_fd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY);
        if (fd < 0) {
                if (errno == ENOENT || errno == ELOOP) {
                        *why = errno == ENOENT ? "vanished" : "a symbolic link";
                        return 0;
                }
                return -errno;
        }
        if (fstat(fd, &st) < 0)
                return -errno;
        if (!S_ISREG(st.st_mode) || (uint64_t)st.st_size < SPOOL_HEADER_SIZE + 1) {
                *why = S_ISREG(st.st_mode) ? "truncated" : "not a regular file";
                return 0;
        }
        r = mon_read_all(fd, h, sizeof(h));
        if (r < 0) {
                *why = "truncated or unreadable";
                return 0;
        }
        if (!header_check(h, key, (uint64_t)st.st_size, why))
                return 0;
        size = (size_t)get_le64(h + 16);
        data = malloc(size + 1);
        if (!data)
                return -ENOMEM;
        r = mon_read_all(fd, data, size);
        if (r < 0) {
                *why = "truncated or unreadable";
                return 0;
        }
        data[size] = 0;
        r = dw_hash_buf(s->hasher, DW_HASH_SHA256, data, size, digest);
        if (r < 0)
                return r;
        if (memcmp(digest, h + 24, SPOOL_DIGEST_SIZE) != 0) {
                *why = "checksum mismatch";
                return 0;
        }
        *ret_data = TAKE_PTR(data);
        *ret_size = size;
        return 1;
}

/* Reads the record rec of the index. A record damaged since the spool was opened is dropped from the index (and
 * moved aside, if it is still there) and is -EBADMSG, so that the next call reads the one after it. */
static int read_indexed(struct mon_spool *s, struct spool_rec *rec, uint64_t *ret_key, uint8_t **ret_data,
                        size_t *ret_size, struct dw_error *err)
{
        const char *why = NULL;
        uint64_t key = rec->key;
        uint8_t *data;
        size_t size;
        int r;

        r = record_read(s, key, &data, &size, &why);
        if (r < 0)
                return dw_error_set(err, r, 0, 0, "%s/%020" PRIu64 NAME_SUFFIX ": %s", s->path, key, strerror(-r));
        if (r == 0) {
                index_drop(s, rec);
                if (strcmp(why, "vanished") != 0) {
                        r = move_aside(s, key, err);
                        if (r < 0)
                                return r;
                }
                return dw_error_set(err, EBADMSG, 0, 0, "%s/%020" PRIu64 NAME_SUFFIX ": damaged (%s), dropped", s->path,
                                    key, why);
        }
        *ret_key = key;
        *ret_data = data;
        *ret_size = size;
        return 0;
}

int mon_spool_oldest(struct mon_spool *s, uint64_t *ret_key, uint8_t **ret_data, size_t *ret_size, struct dw_error *err)
{
        if (s->head == s->n)
                return dw_error_set(err, ENOENT, 0, 0, "%s: empty", s->path);
        return read_indexed(s, s->recs + s->head, ret_key, ret_data, ret_size, err);
}

int mon_spool_next(struct mon_spool *s, uint64_t key, uint64_t *ret_key, uint8_t **ret_data, size_t *ret_size,
                   struct dw_error *err)
{
        size_t lo = s->head, hi = s->n;

        /* The first record with a larger key. */
        while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;

                if (s->recs[mid].key <= key)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        if (lo == s->n)
                return dw_error_set(err, ENOENT, 0, 0, "%s: no record after %" PRIu64, s->path, key);
        return read_indexed(s, s->recs + lo, ret_key, ret_data, ret_size, err);
}

int mon_spool_remove(struct mon_spool *s, uint64_t key, struct dw_error *err)
{
        struct spool_rec *rec = index_find(s, key);
        char name[NAME_MAX_LEN];

        if (!rec)
                return dw_error_set(err, ENOENT, 0, 0, "%s: no record %" PRIu64, s->path, key);
        record_name(key, name);
        if (unlinkat(s->dir_fd, name, 0) < 0 && errno != ENOENT)
                return dw_error_set(err, errno, 0, 0, "%s/%s: cannot remove: %m", s->path, name);
        index_drop(s, rec);
        return fsync_dir(s, err);
}

size_t mon_spool_count(const struct mon_spool *s)
{
        return s->n - s->head;
}

uint64_t mon_spool_bytes(const struct mon_spool *s)
{
        return s->bytes;
}

uint64_t mon_spool_max_bytes(const struct mon_spool *s)
{
        return s->max_bytes;
}
