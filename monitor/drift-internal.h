/* SPDX-License-Identifier: MIT */
#pragma once

/* Between the parts of the drift module: the loader (drift-load.c), the hashing thread (drift-hash.c), the digest
 * cache (drift-cache.c) and the event consumer (drift.c). Only drift*.c include it (they are built with the BPF
 * skeletons and bpf/ on the include path). */

#include <stdint.h>
#include <sys/types.h>

#include "drift-event.h"
#include "drift-imacheck.h"
#include "drift.h"
#include "hash.h"
#include "macro.h"

#define DRIFT_DIGEST_SIZE 32 /* SHA-256 */

/* ---- logging (drift.c) ---------------------------------------------------------------------------------------- */

extern int drift_log_level;
/* Like the monitor's own log lines: "driftwatch-monitor: drift: ..." on stderr, "<N>" prefixed under systemd. */
void drift_log(int priority, const char *fmt, ...) _printf_(2, 3);

/* ---- loader (drift-load.c) ------------------------------------------------------------------------------------ */

struct drift_load_options {
        unsigned tiers;           /* allowed tiers, a bit per enum mon_drift_tier */
        size_t ring_buffer_bytes; /* a power of two */
        pid_t self;               /* the monitor's pid: its own activity is not drift */
        const char *const *protected_paths;
        size_t n_protected_paths;
        bool quiet; /* the probe (--probe): nothing is logged, and every tier is probed (at start, only those needed) */
};

struct drift_programs;

/* Probes the tiers (all with quiet, else best first and only as far as needed), then loads and attaches, for each
 * category, the programs of the best tier allowed that the kernel takes. report (zeroed by the caller) is filled in
 * every case. Returns 0 and *ret (which may hold no program at all: the report says why), or -ENOMEM. */
int drift_programs_load(const struct drift_load_options *o, struct drift_programs **ret,
                        struct mon_drift_report *report);
/* The ring buffer map. */
int drift_programs_events_fd(const struct drift_programs *p);
/* Each counter summed over the CPUs (enum drift_counter). */
int drift_programs_counters(const struct drift_programs *p, uint64_t ret[_DRIFT_COUNTER_MAX]);
void drift_programs_free(struct drift_programs *p);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct drift_programs *, drift_programs_free);

/* ---- the hashing thread (drift-hash.c) ------------------------------------------------------------------------ */

/* One executed file to hash: fd if the caller could open it (/proc/PID/exe), else path. The file must still be the
 * one that was executed (same inode, size, mtime and ctime), else the result is -ESTALE. */
struct drift_hash_job {
        uint64_t id;
        int fd;     /* -1: open path */
        char *path; /* malloc'd */
        uint64_t ino, size;
        int64_t mtime_sec, ctime_sec;
        uint32_t mtime_nsec, ctime_nsec;
        int extra_alg; /* an enum dw_hash_alg to hash with too (the IMA log's file digests), or -1 */
};

struct drift_hash_result {
        uint64_t id;
        int error; /* 0, -ESTALE (the file changed or is gone), or the errno of open/read */
        uint8_t digest[DRIFT_DIGEST_SIZE];
        int extra_alg; /* as in the job; -1 when it could not be computed */
        uint8_t extra[DW_HASH_MAX_SIZE];
};

struct drift_hasher;

int drift_hasher_new(size_t queue_max, struct drift_hasher **ret);
/* Readable (an eventfd) when results wait. */
int drift_hasher_fd(const struct drift_hasher *h);
/* Queues a job; takes job->fd and job->path in every case. -EAGAIN when the queue is full. */
int drift_hasher_submit(struct drift_hasher *h, struct drift_hash_job *job);
/* The next result: 1 and *ret, or 0 when there is none. */
int drift_hasher_next(struct drift_hasher *h, struct drift_hash_result *ret);
void drift_hasher_free(struct drift_hasher *h);

/* ---- the digest cache (drift-cache.c; the main loop's only) --------------------------------------------------- */

/* An executed file as the kernel saw it: a digest is reused only for exactly the same key. */
struct drift_file_key {
        uint64_t dev, ino, size;
        int64_t mtime_sec, ctime_sec;
        uint32_t mtime_nsec, ctime_nsec;
};

struct drift_waiter; /* drift.c: an execution waiting for its file's digest */

struct drift_cache_entry {
        struct drift_file_key key;
        uint64_t id;  /* of its hash job */
        bool pending; /* hashing; waiters wait */
        bool orphan;  /* replaced or invalidated while pending: freed when its result arrives */
        int error;    /* when done: 0 or why there is no digest */
        uint8_t digest[DRIFT_DIGEST_SIZE];
        int extra_alg; /* the digest in extra[], or -1 */
        uint8_t extra[DW_HASH_MAX_SIZE];
        struct drift_waiter *waiters;
        struct drift_cache_entry *hash_next, *lru_prev, *lru_next, *pending_next;
};

struct drift_cache;

int drift_cache_new(size_t max_entries, struct drift_cache **ret);
/* The entry of exactly this key (done or pending), or NULL; a hit moves it to the front. */
struct drift_cache_entry *drift_cache_get(struct drift_cache *c, const struct drift_file_key *key);
/* A new pending entry for key, replacing the entry of the same file if any (a pending one is orphaned). */
int drift_cache_add_pending(struct drift_cache *c, const struct drift_file_key *key, struct drift_cache_entry **ret);
/* The pending entry of a job (orphans included), or NULL. */
struct drift_cache_entry *drift_cache_find_pending(struct drift_cache *c, uint64_t id);
/* A pending entry's result: its waiters are the caller's to take first. Frees it if it was orphaned. res NULL: no
 * digest (error). */
void drift_cache_complete(struct drift_cache *c, struct drift_cache_entry *e, int error,
                          const struct drift_hash_result *res);
/* Forgets what is known of the file dev:ino (a tamper event touched it). */
void drift_cache_invalidate(struct drift_cache *c, uint64_t dev, uint64_t ino);
size_t drift_cache_size(const struct drift_cache *c);
/* Frees every entry; each waiter still attached is passed to free_waiter. */
void drift_cache_free(struct drift_cache *c, void (*free_waiter)(struct drift_waiter *w));
