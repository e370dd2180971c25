/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "ima-follow.h"
#include "ima-replay.h"
#include "ima-slice.h"

struct mon_ima_point {
        uint8_t sha1[20];
        uint8_t sha256[32];
};

/* A file digest in the set: the first 32 bytes (zero-padded), its algorithm + 1 (0: a free slot). */
struct mon_ima_digest {
        uint8_t d[32];
        uint8_t alg1;
};

struct mon_ima_follow {
        char *path;
        enum dw_hash_alg log_alg;
        int fd;
        dev_t dev;
        ino_t ino;
        bool regular;
        uint64_t offset;  /* bytes of the file read so far */
        uint8_t *pending; /* bytes read but not yet parsed: the start of a cut entry */
        size_t pending_len, pending_cap;
        struct dw_hasher *hasher;
        struct dw_ima_replay replay;
        bool kernel;                    /* on securityfs */
        bool track;                     /* remember file digests */
        struct mon_ima_digest *digests; /* open addressing, n_digests_cap a power of two */
        size_t n_digests, digests_cap;
        unsigned digest_algs;
        struct mon_ima_offsets *offsets; /* NULL, or where to note entry offsets for rounds */
        int failed;                      /* a sticky error: the log is not trustworthy past this point */
        struct dw_error failed_err;
        struct mon_ima_point history[MON_IMA_HISTORY]; /* history[i % N]: the PCRs after entry i */
};

int mon_ima_follow_new(const char *path, enum dw_hash_alg log_alg, struct mon_ima_follow **ret)
{
        _cleanup_(mon_ima_follow_freep) struct mon_ima_follow *f = calloc(1, sizeof(*f));

        if (!f)
                return -ENOMEM;
        f->fd = -1;
        f->log_alg = log_alg;
        f->path = strdup(path);
        if (!f->path || dw_hasher_new(&f->hasher) < 0)
                return -ENOMEM;
        dw_ima_replay_init(&f->replay);
        dw_ima_replay_enable(&f->replay, DW_HASH_SHA1, DW_IMA_BANK_NATIVE);
        dw_ima_replay_enable(&f->replay, DW_HASH_SHA256, DW_IMA_BANK_NATIVE);
        *ret = TAKE_PTR(f);
        return 0;
}

void mon_ima_follow_free(struct mon_ima_follow *f)
{
        if (f->fd >= 0)
                close(f->fd);
        if (f->hasher)
                dw_hasher_free(f->hasher);
        free(f->pending);
        free(f->digests);
        free(f->path);
        free(f);
}

static size_t digest_slot(const struct mon_ima_digest *d, size_t cap)
{
        uint64_t h;

        memcpy(&h, d->d, sizeof(h)); /* a digest's bytes are uniform already */
        return (size_t)((h ^ d->alg1 * 0x9e3779b97f4a7c15u) & (cap - 1));
}

static void digest_key(enum dw_hash_alg alg, const uint8_t *digest, size_t size, struct mon_ima_digest *ret)
{
        *ret = (struct mon_ima_digest){.alg1 = (uint8_t)(alg + 1)};
        memcpy(ret->d, digest, MIN(size, sizeof(ret->d)));
}

static bool digest_insert(struct mon_ima_digest *table, size_t cap, const struct mon_ima_digest *k)
{
        for (size_t i = digest_slot(k, cap);; i = (i + 1) & (cap - 1)) {
                if (table[i].alg1 == 0) {
                        table[i] = *k;
                        return true;
                }
                if (memcmp(&table[i], k, sizeof(*k)) == 0)
                        return false;
        }
}

static int digest_add(struct mon_ima_follow *f, enum dw_hash_alg alg, const uint8_t *digest, size_t size)
{
        static const uint8_t zero[DW_HASH_MAX_SIZE];
        struct mon_ima_digest k;

        if (size == 0 || size > DW_HASH_MAX_SIZE || memcmp(digest, zero, size) == 0)
                return 0; /* a violation's */
        if (2 * (f->n_digests + 1) > f->digests_cap) {
                size_t cap = f->digests_cap ? 2 * f->digests_cap : 1024;
                struct mon_ima_digest *t = calloc(cap, sizeof(*t));

                if (!t)
                        return -ENOMEM;
                for (size_t i = 0; i < f->digests_cap; i++)
                        if (f->digests[i].alg1)
                                (void)digest_insert(t, cap, &f->digests[i]);
                free(f->digests);
                f->digests = t;
                f->digests_cap = cap;
        }
        digest_key(alg, digest, size, &k);
        if (digest_insert(f->digests, f->digests_cap, &k))
                f->n_digests++;
        f->digest_algs |= 1u << alg;
        return 0;
}

void mon_ima_follow_set_offsets(struct mon_ima_follow *f, struct mon_ima_offsets *o)
{
        f->offsets = o;
}

int mon_ima_follow_track_digests(struct mon_ima_follow *f)
{
        f->track = true;
        return 0;
}

bool mon_ima_follow_has_digest(const struct mon_ima_follow *f, enum dw_hash_alg alg, const uint8_t *digest, size_t size)
{
        struct mon_ima_digest k;

        if (!f->digests || (unsigned)alg >= _DW_HASH_ALG_MAX || size == 0)
                return false;
        digest_key(alg, digest, size, &k);
        for (size_t i = digest_slot(&k, f->digests_cap); f->digests[i].alg1; i = (i + 1) & (f->digests_cap - 1))
                if (memcmp(&f->digests[i], &k, sizeof(k)) == 0)
                        return true;
        return false;
}

unsigned mon_ima_follow_digest_algs(const struct mon_ima_follow *f)
{
        return f->digest_algs;
}

bool mon_ima_follow_is_kernel(const struct mon_ima_follow *f)
{
        return f->kernel;
}

bool mon_ima_follow_failed(const struct mon_ima_follow *f)
{
        return f->failed < 0;
}

#define SECURITYFS_MAGIC 0x73636673 /* include/uapi/linux/magic.h */

/* securityfs files report size 0 and cannot shrink or be replaced: the size checks are for ordinary files. */
static bool on_securityfs(int fd)
{
        struct statfs sfs;

        return fstatfs(fd, &sfs) == 0 && sfs.f_type == SECURITYFS_MAGIC;
}

static int follow_open(struct mon_ima_follow *f, struct dw_error *err)
{
        struct stat st;
        int fd;

        fd = open(f->path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return dw_error_set(err, errno, f->replay.next_index, f->offset, "%s: cannot open: %s", f->path,
                                    strerror(errno));
        if (fstat(fd, &st) < 0) {
                int e = errno;
                close(fd);
                return dw_error_set(err, e, 0, 0, "%s: cannot stat: %s", f->path, strerror(e));
        }
        f->fd = fd;
        f->dev = st.st_dev;
        f->ino = st.st_ino;
        f->kernel = on_securityfs(fd);
        f->regular = S_ISREG(st.st_mode) && !f->kernel;
        return 0;
}

/* A regular file (the simulator's log) can be truncated or replaced; securityfs files cannot. */
static int follow_check_same(struct mon_ima_follow *f, struct dw_error *err)
{
        struct stat st, cur;

        if (!f->regular)
                return 0;
        if (fstat(f->fd, &cur) < 0)
                return dw_error_set(err, errno, 0, 0, "%s: cannot stat: %s", f->path, strerror(errno));
        if ((uint64_t)cur.st_size < f->offset)
                return dw_error_set(err, ESTALE, f->replay.next_index, (size_t)cur.st_size,
                                    "%s: the log shrank from %llu to %llu bytes", f->path,
                                    (unsigned long long)f->offset, (unsigned long long)cur.st_size);
        if (stat(f->path, &st) == 0 && (st.st_dev != f->dev || st.st_ino != f->ino))
                return dw_error_set(err, ESTALE, f->replay.next_index, 0, "%s: the log file was replaced", f->path);
        return 0;
}

static int pending_reserve(struct mon_ima_follow *f, size_t more)
{
        size_t need = f->pending_len + more, cap;
        uint8_t *p;

        if (need <= f->pending_cap)
                return 0;
        if (need > MON_IMA_PENDING_MAX + MON_IMA_READ_CHUNK)
                return -E2BIG;
        cap = MAX(need, f->pending_cap * 2);
        p = realloc(f->pending, cap);
        if (!p)
                return -ENOMEM;
        f->pending = p;
        f->pending_cap = cap;
        return 0;
}

static void history_record(struct mon_ima_follow *f, uint64_t index)
{
        struct mon_ima_point *pt = &f->history[index % MON_IMA_HISTORY];

        memcpy(pt->sha1, f->replay.pcr[DW_HASH_SHA1][DW_IMA_BANK_NATIVE][10], sizeof(pt->sha1));
        memcpy(pt->sha256, f->replay.pcr[DW_HASH_SHA256][DW_IMA_BANK_NATIVE][10], sizeof(pt->sha256));
}

/* Parses and replays the complete entries of pending; keeps a cut tail. */
static int follow_parse(struct mon_ima_follow *f, mon_ima_entry_fn fn, void *userdata, int *n_new, struct dw_error *err)
{
        struct dw_ima_parser p;
        size_t base = (size_t)(f->offset - f->pending_len);
        int r = 0;

        dw_ima_parser_init(&p, DW_IMA_FORMAT_BINARY, f->log_alg, f->pending, f->pending_len);
        dw_ima_parser_set_index(&p, f->replay.next_index);
        for (;;) {
                struct dw_ima_entry e;

                r = dw_ima_parser_next(&p, &e, err);
                if (r == 0 || r == -EAGAIN) {
                        r = 0;
                        break;
                }
                if (r < 0) {
                        err->offset += base;
                        break;
                }
                if (e.pcr != 10) {
                        r = dw_error_set(err, EBADMSG, e.index, base + e.offset, "%s: entry %llu is for PCR %u, not 10",
                                         f->path, (unsigned long long)e.index, e.pcr);
                        break;
                }
                r = dw_ima_replay_entry(&f->replay, f->hasher, &e, err);
                if (r < 0) {
                        err->offset = base + e.offset;
                        break;
                }
                history_record(f, e.index);
                if (f->offsets && e.index % MON_IMA_OFFSET_EVERY == 0)
                        (void)mon_ima_offsets_note(f->offsets, e.index, base + e.offset); /* a hint: rounds cope */
                if (f->track) {
                        const uint8_t *digest = NULL;
                        enum dw_hash_alg alg;
                        size_t len = 0;

                        if (dw_ima_entry_file_digest(&e, &alg, &digest, &len, NULL) >= 0 && digest &&
                            (unsigned)alg < _DW_HASH_ALG_MAX) {
                                r = digest_add(f, alg, digest, len);
                                if (r < 0)
                                        break;
                        }
                }
                (*n_new)++;
                if (fn) {
                        r = fn(&e, userdata);
                        if (r < 0)
                                break;
                }
        }
        /* Drop what was consumed: the parser stops at the start of the first entry it did not return. */
        memmove(f->pending, f->pending + p.pos, f->pending_len - p.pos);
        f->pending_len -= p.pos;
        dw_ima_parser_done(&p);
        return r;
}

int mon_ima_follow_poll(struct mon_ima_follow *f, mon_ima_entry_fn fn, void *userdata, struct dw_error *err)
{
        int n_new = 0, r;

        if (f->failed < 0) {
                if (err)
                        *err = f->failed_err;
                return f->failed;
        }
        if (f->fd < 0) {
                r = follow_open(f, err);
                if (r < 0)
                        return r;
        }
        r = follow_check_same(f, err);
        if (r >= 0 && f->pending_len > 0) /* complete entries left by a callback that stopped the last poll */
                r = follow_parse(f, fn, userdata, &n_new, err);
        for (;;) {
                ssize_t n;

                if (r < 0)
                        break;
                r = pending_reserve(f, MON_IMA_READ_CHUNK);
                if (r < 0) {
                        r = dw_error_set(err, -r, f->replay.next_index, (size_t)f->offset,
                                         "%s: an entry larger than %u bytes", f->path, MON_IMA_PENDING_MAX);
                        break;
                }
                n = read(f->fd, f->pending + f->pending_len, MON_IMA_READ_CHUNK);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0) {
                        r = dw_error_set(err, errno, f->replay.next_index, (size_t)f->offset, "%s: read: %s", f->path,
                                         strerror(errno));
                        break;
                }
                if (n == 0)
                        break;
                f->pending_len += (size_t)n;
                f->offset += (uint64_t)n;
                r = follow_parse(f, fn, userdata, &n_new, err);
        }
        if (f->offsets)
                mon_ima_offsets_seen(f->offsets, f->replay.next_index);
        if (r < 0 && r != -ENOMEM && r != -EINTR) {
                /* The log cannot be trusted past this entry; a callback's error is the caller's business. */
                if (r == -EBADMSG || r == -ESTALE || r == -E2BIG || r == -EOPNOTSUPP || r == -EINVAL) {
                        f->failed = r;
                        f->failed_err = *err;
                }
                return r;
        }
        return r < 0 ? r : n_new;
}

uint64_t mon_ima_follow_count(const struct mon_ima_follow *f)
{
        return f->replay.next_index;
}

uint64_t mon_ima_follow_violations(const struct mon_ima_follow *f)
{
        return f->replay.violations;
}

int mon_ima_follow_pcr(const struct mon_ima_follow *f, enum dw_hash_alg alg, uint8_t ret[static DW_HASH_MAX_SIZE])
{
        if (alg != DW_HASH_SHA1 && alg != DW_HASH_SHA256)
                return -EOPNOTSUPP;
        memcpy(ret, f->replay.pcr[alg][DW_IMA_BANK_NATIVE][10], dw_hash_alg_size(alg));
        return 0;
}

static const uint8_t *point_value(const struct mon_ima_point *pt, enum dw_hash_alg alg)
{
        return alg == DW_HASH_SHA1 ? pt->sha1 : pt->sha256;
}

int mon_ima_follow_match(const struct mon_ima_follow *f, enum dw_hash_alg alg, const uint8_t *value, size_t size,
                         uint64_t *ret_count)
{
        static const uint8_t zero[DW_HASH_MAX_SIZE];
        uint64_t count = f->replay.next_index, oldest;

        if (alg != DW_HASH_SHA1 && alg != DW_HASH_SHA256)
                return -EOPNOTSUPP;
        if (size != dw_hash_alg_size(alg))
                return 0;
        /* Newest first: the TPM is usually where the log is. */
        oldest = count > MON_IMA_HISTORY ? count - MON_IMA_HISTORY : 0;
        for (uint64_t i = count; i > oldest; i--)
                if (memcmp(point_value(&f->history[(i - 1) % MON_IMA_HISTORY], alg), value, size) == 0) {
                        if (ret_count)
                                *ret_count = i;
                        return 1;
                }
        if (oldest == 0 && memcmp(zero, value, size) == 0) {
                if (ret_count)
                        *ret_count = 0;
                return 1;
        }
        return 0;
}
