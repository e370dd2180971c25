/* SPDX-License-Identifier: MIT */
/* The drift module on the monitor's sd-event loop: loads the programs (drift-load.c), reads their events from the
 * ring buffer when its epoll fd is readable, and turns them into alerts. Executions are judged against the runtime
 * policy with the SHA-256 of the executed file, from the cache (drift-cache.c) or hashed by the thread
 * (drift-hash.c); the loop never reads a file. Identical alerts within a second are counted and reported once
 * the second is over; events the kernel could not queue are counted there and reported as an alert. */

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include <bpf/libbpf.h>

#include "drift-internal.h"
#include "hex.h"

#define RATE_WINDOW_USEC     (1000u * 1000) /* identical alerts within this are counted, not sent */
#define RATE_SLOTS           1024
#define TICK_USEC            (1000u * 1000) /* loss counters and rate-limit summaries */
#define CONSUME_MAX          4096           /* events per wake-up, so that the loop also serves others */
#define HASH_QUEUE_MAX       1024
#define AT_REMOVEDIR         0x200
#define IMACHECK_TICK_USEC   (250u * 1000)      /* pending cross-checks are looked at again this often */
#define IMACHECK_GRACE_USEC  (3u * 1000 * 1000) /* default time for an exec's IMA entry to appear */
#define IMACHECK_PENDING_MAX 4096

int drift_log_level = LOG_INFO;

void drift_log(int priority, const char *fmt, ...)
{
        va_list ap;

        if (priority > drift_log_level)
                return;
        if (getenv("JOURNAL_STREAM"))
                fprintf(stderr, "<%d>drift: ", priority);
        else
                fputs("driftwatch-monitor: drift: ", stderr);
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fputc('\n', stderr);
}

/* An execution waiting for the digest of its file. */
struct drift_waiter {
        struct drift_waiter *next;
        uint32_t tgid, ppid, uid, tier, flags;
        uint64_t cgroup_id;
        char comm[DRIFT_COMM_LEN];
        char *path;
        char *filename;
        bool fileless;
        /* The IMA cross-check: the expected policy measures this exec (ima_rule says which rule) */
        bool ima_check;
        const struct dw_ima_rule *ima_rule;
        uint64_t fs_magic;
        char fs_name[DRIFT_FSNAME_LEN];
};

/* The digests of an executed file: SHA-256, and the IMA log's algorithm when another (extra_alg >= 0). */
struct drift_digests {
        const uint8_t *sha256;
        int extra_alg;
        const uint8_t *extra;
};

/* An exec whose digest is not (yet) in the IMA log: looked for again until its deadline. */
struct imacheck_pending {
        struct imacheck_pending *next;
        struct drift_waiter w; /* path and filename are its own */
        uint8_t sha256[DRIFT_DIGEST_SIZE];
        int extra_alg;
        uint8_t extra[DW_HASH_MAX_SIZE];
        uint64_t deadline;
};

struct rate_slot {
        bool used;
        uint64_t hash;
        uint64_t since; /* CLOCK_MONOTONIC µs of the alert that went out */
        uint64_t suppressed;
        enum mon_alert_kind kind;
        char rule[32];
        char *path;
};

struct mon_drift {
        sd_event *event;
        sd_event_source *ring_source, *ring_timer, *hash_source, *timer;
        struct drift_programs *programs;
        struct ring_buffer *ring;
        struct drift_hasher *hasher;
        struct drift_cache *cache;
        const struct dw_runtime_policy *policy;
        struct mon_drift_report report;
        mon_drift_alert_fn alert;
        void *userdata;
        bool hash_executables;
        pid_t self;
        unsigned consumed; /* events in this wake-up */
        uint64_t counters[_DRIFT_COUNTER_MAX];
        uint64_t hash_dropped, hash_dropped_reported;
        struct rate_slot slots[RATE_SLOTS];
        /* the IMA cross-check */
        const struct dw_ima_policy *ima_policy;
        const struct mon_drift_ima_ops *ima_ops;
        uint64_t ima_grace_usec;
        struct imacheck_pending *pending;
        size_t n_pending;
        sd_event_source *imacheck_timer;
        struct mon_drift_imacheck_stats stats;
};

static uint64_t now_usec(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static const char *tier_of(uint32_t tier)
{
        return mon_drift_tier_name(tier < _MON_DRIFT_TIER_MAX ? (enum mon_drift_tier)tier : MON_DRIFT_TIER_NONE);
}

static const char *op_name(const struct drift_event *ev)
{
        static const char *const names[_DRIFT_OP_MAX] = {
                [DRIFT_OP_EXEC] = "exec",
                [DRIFT_OP_OPEN_WRITE] = "open_write",
                [DRIFT_OP_TRUNCATE] = "truncate",
                [DRIFT_OP_RENAME] = "rename",
                [DRIFT_OP_UNLINK] = "unlink",
                [DRIFT_OP_LINK] = "link",
                [DRIFT_OP_SYMLINK] = "symlink",
                [DRIFT_OP_CHMOD] = "chmod",
                [DRIFT_OP_CHOWN] = "chown",
                [DRIFT_OP_SETXATTR] = "setxattr",
                [DRIFT_OP_REMOVEXATTR] = "removexattr",
                [DRIFT_OP_MODULE_LOAD] = "module_load",
                [DRIFT_OP_BPF_LOAD] = "bpf_load",
                [DRIFT_OP_KEXEC] = "kexec",
                [DRIFT_OP_PTRACE] = "ptrace",
                [DRIFT_OP_MOUNT] = "mount",
                [DRIFT_OP_IMA_POLICY_WRITE] = "ima_policy_write",
        };

        if (ev->op == DRIFT_OP_UNLINK && (ev->arg & AT_REMOVEDIR))
                return "rmdir";
        return ev->op < _DRIFT_OP_MAX && names[ev->op] ? names[ev->op] : "unknown";
}

/* "memfd,nlink0,tmpfs" */
static void flags_text(uint32_t flags, char *buf, size_t size)
{
        static const struct {
                uint32_t flag;
                const char *name;
        } names[] = {
                {DRIFT_F_MEMFD, "memfd"},
                {DRIFT_F_NLINK0, "nlink0"},
                {DRIFT_F_DISCONNECTED, "disconnected"},
                {DRIFT_F_TMPFS, "tmpfs"},
                {DRIFT_F_EMPTY_PATH, "empty_path"},
                {DRIFT_F_TRUNCATED, "truncated"},
                {DRIFT_F_FS_RELATIVE, "fs_relative"},
                {DRIFT_F_USER_PATH, "user_path"},
                {DRIFT_F_PRIVILEGED, "privileged"},
        };
        size_t off = 0;

        buf[0] = '\0';
        for (size_t i = 0; i < ELEMENTSOF(names); i++)
                if ((flags & names[i].flag) && off < size) {
                        int n = snprintf(buf + off, size - off, "%s%s", off ? "," : "", names[i].name);

                        off += n > 0 ? (size_t)n : 0;
                }
}

/* ---- rate limiting -------------------------------------------------------------------------------------------- */

static uint64_t fnv1a(uint64_t h, const char *s)
{
        for (; s && *s; s++)
                h = (h ^ (uint8_t)*s) * 0x100000001b3u;
        return (h ^ 0xff) * 0x100000001b3u;
}

static void rate_flush(struct mon_drift *d, struct rate_slot *slot)
{
        char message[512];

        if (slot->suppressed == 0)
                return;
        struct mon_alert_field f[] = {
                MON_FIELD_STR("path", slot->path ?: ""),
                MON_FIELD_STR("rule", slot->rule),
                MON_FIELD_INT("repeats", slot->suppressed),
        };
        snprintf(message, sizeof(message), "%.300s: %s %" PRIu64 " more time%s within a second", slot->path ?: "",
                 slot->rule, slot->suppressed, slot->suppressed == 1 ? "" : "s");
        d->alert(slot->kind, -1, f, ELEMENTSOF(f), message, d->userdata);
        slot->suppressed = 0;
}

/* Whether an alert goes out now: not when an identical one (kind, rule, path, detail) went out less than a second
 * ago; it is counted, and the count reported when the second is over. */
static bool rate_pass(struct mon_drift *d, enum mon_alert_kind kind, const char *rule, const char *path,
                      const char *detail)
{
        uint64_t h = fnv1a(fnv1a(fnv1a(0xcbf29ce484222325u ^ (uint64_t)kind, rule), path), detail), t = now_usec();
        struct rate_slot *slot = &d->slots[h % RATE_SLOTS];

        if (slot->used && slot->hash == h && t - slot->since < RATE_WINDOW_USEC) {
                slot->suppressed++;
                return false;
        }
        if (slot->used)
                rate_flush(d, slot); /* another alert's count, or the same one's from an earlier second */
        free(slot->path);
        *slot = (struct rate_slot){.used = true, .hash = h, .since = t, .kind = kind, .path = strdup(path ?: "")};
        snprintf(slot->rule, sizeof(slot->rule), "%s", rule);
        return true;
}

static void rate_tick(struct mon_drift *d)
{
        uint64_t t = now_usec();

        for (size_t i = 0; i < RATE_SLOTS; i++)
                if (d->slots[i].used && d->slots[i].suppressed > 0 && t - d->slots[i].since >= RATE_WINDOW_USEC)
                        rate_flush(d, &d->slots[i]);
}

/* ---- executions ----------------------------------------------------------------------------------------------- */

static void waiters_free(struct drift_waiter *w)
{
        while (w) {
                struct drift_waiter *next = w->next;

                free(w->path);
                free(w->filename);
                free(w);
                w = next;
        }
}

static void exec_alert(struct mon_drift *d, const struct drift_waiter *w, const char *rule, const char *digest,
                       const char *detail)
{
        char message[512], flags[160];

        if (!rate_pass(d, MON_ALERT_DRIFT_EXEC, rule, w->path, NULL))
                return;
        flags_text(w->flags, flags, sizeof(flags));
        struct mon_alert_field f[] = {
                MON_FIELD_STR("path", w->path),
                MON_FIELD_STR("digest", digest),
                MON_FIELD_INT("pid", w->tgid),
                MON_FIELD_INT("ppid", w->ppid),
                MON_FIELD_INT("uid", w->uid),
                MON_FIELD_STR("comm", w->comm),
                MON_FIELD_STR("rule", rule),
                MON_FIELD_STR("tier", tier_of(w->tier)),
                MON_FIELD_STR("filename", w->filename ?: ""),
                MON_FIELD_STR("flags", flags),
                MON_FIELD_INT("cgroup", w->cgroup_id),
                MON_FIELD_STR("reason", detail ?: ""),
        };
        snprintf(message, sizeof(message), "%.300s executed by pid %u (%s, uid %u): %s%s%s", w->path, w->tgid, w->comm,
                 w->uid, rule, detail ? ": " : "", detail ?: "");
        d->alert(MON_ALERT_DRIFT_EXEC, -1, f, ELEMENTSOF(f), message, d->userdata);
}

/* ---- the IMA cross-check -------------------------------------------------------------------------------------- */

static void imacheck_alert(struct mon_drift *d, const struct drift_waiter *w, const struct drift_digests *dg)
{
        char message[700], digest[16 + 2 * DW_HASH_MAX_SIZE + 1], hex[2 * DW_HASH_MAX_SIZE + 1], rule[600], fsmagic[24];
        enum dw_hash_alg alg = dg->extra_alg >= 0 ? (enum dw_hash_alg)dg->extra_alg : DW_HASH_SHA256;
        const uint8_t *bytes = dg->extra_alg >= 0 ? dg->extra : dg->sha256;

        d->stats.unmeasured++;
        if (!rate_pass(d, MON_ALERT_IMA_UNMEASURED, "ima_unmeasured", w->path, NULL))
                return;
        snprintf(digest, sizeof(digest), "%s:%s", dw_hash_alg_name(alg),
                 dw_hex_encode(bytes, dw_hash_alg_size(alg), hex));
        snprintf(rule, sizeof(rule), "line %u: %.500s", w->ima_rule ? w->ima_rule->line : 0,
                 w->ima_rule ? w->ima_rule->text : "");
        snprintf(fsmagic, sizeof(fsmagic), "0x%" PRIx64, w->fs_magic);
        struct mon_alert_field f[] = {
                MON_FIELD_STR("path", w->path),
                MON_FIELD_STR("digest", digest),
                MON_FIELD_INT("pid", w->tgid),
                MON_FIELD_INT("ppid", w->ppid),
                MON_FIELD_INT("uid", w->uid),
                MON_FIELD_STR("comm", w->comm),
                MON_FIELD_STR("rule", rule),
                MON_FIELD_STR("tier", tier_of(w->tier)),
                MON_FIELD_STR("fsmagic", fsmagic),
                MON_FIELD_STR("fsname", w->fs_name),
                MON_FIELD_INT("cgroup", w->cgroup_id),
                MON_FIELD_STR("reason", "the IMA policy in effect when the monitor started measures this execution, "
                                        "but the IMA log has no entry with its digest: the kernel's IMA policy was "
                                        "replaced, or IMA was bypassed"),
        };
        snprintf(message, sizeof(message),
                 "%.300s executed by pid %u (%s, uid %u) was not measured by IMA, which the IMA policy at start "
                 "requires (%.200s)",
                 w->path, w->tgid, w->comm, w->uid, rule);
        d->alert(MON_ALERT_IMA_UNMEASURED, -1, f, ELEMENTSOF(f), message, d->userdata);
}

static bool imacheck_lookup(struct mon_drift *d, const struct drift_digests *dg)
{
        void *u = d->userdata;

        return d->ima_ops->lookup(DW_HASH_SHA256, dg->sha256, DRIFT_DIGEST_SIZE, u) ||
               (dg->extra_alg >= 0 && d->ima_ops->lookup((enum dw_hash_alg)dg->extra_alg, dg->extra,
                                                         dw_hash_alg_size((enum dw_hash_alg)dg->extra_alg), u));
}

/* One decision; refresh: read the IMA log first when the digest is not found. */
static enum drift_imacheck_result imacheck_decide(struct mon_drift *d, const struct drift_digests *dg, bool have_digest,
                                                  uint64_t deadline, bool refresh)
{
        unsigned algs = d->ima_ops->algs(d->userdata), computed = 1u << DW_HASH_SHA256;
        struct drift_imacheck_input in = {
                .verdict = DW_IMA_MEASURED,
                .have_digest = have_digest,
                .log_ok = true,
                .deadline_usec = deadline,
        };

        if (dg->extra_alg >= 0)
                computed |= 1u << dg->extra_alg;
        if (have_digest) {
                in.found = imacheck_lookup(d, dg);
                if (!in.found && refresh) {
                        in.log_ok = d->ima_ops->refresh(d->userdata);
                        in.found = imacheck_lookup(d, dg);
                        algs = d->ima_ops->algs(d->userdata);
                }
        }
        in.complete = (algs & ~computed) == 0;
        in.now_usec = now_usec();
        return drift_imacheck_decide(&in);
}

static void imacheck_count(struct mon_drift *d, enum drift_imacheck_result r)
{
        switch (r) {
        case DRIFT_IMACHECK_MEASURED:
                d->stats.measured++;
                break;
        case DRIFT_IMACHECK_NOT_REQUIRED:
                d->stats.not_required++;
                break;
        case DRIFT_IMACHECK_UNDECIDED:
                d->stats.undecided++;
                break;
        case DRIFT_IMACHECK_NO_DIGEST:
                d->stats.no_digest++;
                break;
        default:
                break;
        }
}

static void imacheck_pending_free(struct imacheck_pending *p)
{
        free(p->w.path);
        free(p->w.filename);
        free(p);
}

static void imacheck_arm(struct mon_drift *d)
{
        int r;

        if (sd_event_source_get_enabled(d->imacheck_timer, NULL) > 0)
                return;
        r = sd_event_source_set_time_relative(d->imacheck_timer, IMACHECK_TICK_USEC);
        if (r >= 0)
                r = sd_event_source_set_enabled(d->imacheck_timer, SD_EVENT_ONESHOT);
        if (r < 0)
                drift_log(LOG_ERR, "arming the IMA cross-check timer: %s", strerror(-r));
}

static void imacheck_defer(struct mon_drift *d, const struct drift_waiter *w, const struct drift_digests *dg,
                           uint64_t deadline)
{
        struct imacheck_pending *p;

        if (d->n_pending >= IMACHECK_PENDING_MAX || !(p = calloc(1, sizeof(*p)))) {
                d->stats.undecided++;
                return;
        }
        p->w = *w;
        p->w.next = NULL;
        p->w.path = strdup(w->path);
        p->w.filename = strdup(w->filename ?: "");
        memcpy(p->sha256, dg->sha256, DRIFT_DIGEST_SIZE);
        p->extra_alg = dg->extra_alg;
        if (dg->extra_alg >= 0)
                memcpy(p->extra, dg->extra, sizeof(p->extra));
        p->deadline = deadline;
        if (!p->w.path || !p->w.filename) {
                imacheck_pending_free(p);
                d->stats.undecided++;
                return;
        }
        p->next = d->pending;
        d->pending = p;
        d->n_pending++;
        imacheck_arm(d);
}

/* An exec the expected policy measures, with its file's digests (error 0) or none. */
static void imacheck_run(struct mon_drift *d, const struct drift_waiter *w, int error, const struct drift_digests *dg)
{
        uint64_t deadline = now_usec() + d->ima_grace_usec;
        enum drift_imacheck_result r;

        d->stats.checked++;
        r = imacheck_decide(d, dg, error == 0, deadline, true);
        drift_log(LOG_DEBUG, "IMA cross-check of %s (pid %u): %s", w->path, w->tgid, drift_imacheck_result_name(r));
        if (r == DRIFT_IMACHECK_WAIT)
                imacheck_defer(d, w, dg, deadline);
        else if (r == DRIFT_IMACHECK_UNMEASURED)
                imacheck_alert(d, w, dg);
        else
                imacheck_count(d, r);
}

static int on_imacheck_timer(sd_event_source *s, uint64_t usec, void *userdata)
{
        struct mon_drift *d = userdata;
        bool log_ok;

        (void)s, (void)usec;
        log_ok = d->ima_ops->refresh(d->userdata);
        for (struct imacheck_pending **pp = &d->pending; *pp;) {
                struct imacheck_pending *p = *pp;
                struct drift_digests dg = {.sha256 = p->sha256, .extra_alg = p->extra_alg, .extra = p->extra};
                enum drift_imacheck_result r = imacheck_decide(d, &dg, true, p->deadline, false);

                if (!log_ok && r != DRIFT_IMACHECK_MEASURED)
                        r = DRIFT_IMACHECK_UNDECIDED;
                if (r == DRIFT_IMACHECK_WAIT) {
                        pp = &p->next;
                        continue;
                }
                drift_log(LOG_DEBUG, "IMA cross-check of %s (pid %u), again: %s", p->w.path, p->w.tgid,
                          drift_imacheck_result_name(r));
                if (r == DRIFT_IMACHECK_UNMEASURED)
                        imacheck_alert(d, &p->w, &dg);
                else
                        imacheck_count(d, r);
                *pp = p->next;
                d->n_pending--;
                imacheck_pending_free(p);
        }
        if (d->pending)
                imacheck_arm(d);
        return 0;
}

/* ---- judging -------------------------------------------------------------------------------------------------- */

/* An execution whose file's digests are known (error 0) or cannot be (error < 0). */
static void exec_judge(struct mon_drift *d, const struct drift_waiter *w, int error, const struct drift_digests *dg)
{
        char digest_text[8 + 2 * DRIFT_DIGEST_SIZE + 1] = "", hex[2 * DRIFT_DIGEST_SIZE + 1];
        const uint8_t *digest = dg ? dg->sha256 : NULL;
        struct dw_policy_verdict v;
        struct dw_policy_file f;

        if (w->ima_check)
                imacheck_run(d, w, error == 0 && digest ? 0 : error ?: -ENODATA,
                             dg ?: &(struct drift_digests){.extra_alg = -1});
        if (error == 0 && !digest)
                error = -ENODATA;

        if (error == 0)
                snprintf(digest_text, sizeof(digest_text), "sha256:%s", dw_hex_encode(digest, DRIFT_DIGEST_SIZE, hex));
        if (w->fileless) {
                exec_alert(d, w, "fileless", digest_text, NULL);
                return;
        }
        if (!d->policy)
                return;
        if (error < 0) {
                char why[200];

                /* Under the shipped unit, /tmp, /var/tmp, /home and /root are the monitor's own (PrivateTmp=,
                 * ProtectHome=): a file executed there is not where the monitor looks. */
                snprintf(why, sizeof(why), "%s%s", strerror(-error),
                         error == -ENOENT || error == -EACCES
                                 ? " (it may be hidden from the monitor by its unit's PrivateTmp= or ProtectHome=: "
                                   "docs/monitor.md, \"What it cannot see\")"
                                 : "");
                exec_alert(d, w, "unverified", "",
                           error == -ESTALE ? "the file changed or was gone before it could be hashed" : why);
                return;
        }
        f = (struct dw_policy_file){
                .path = w->path,
                .path_len = strlen(w->path),
                .alg = DW_HASH_SHA256,
                .digest = digest,
                .digest_len = DRIFT_DIGEST_SIZE,
        };
        if (dw_runtime_policy_judge_file(d->policy, &f, &v) < 0 || !dw_policy_result_is_failure(v.result))
                return;
        exec_alert(d, w, dw_policy_result_name(v.result), digest_text, v.detail[0] ? v.detail : NULL);
}

/* A waiter for ev on the stack, its strings the caller's: heap copies are made only for one that must wait. */
static struct drift_waiter waiter_of(struct mon_drift *d, const struct drift_event *ev, const char *path,
                                     const char *aux)
{
        struct drift_waiter w = {
                .tgid = ev->tgid,
                .ppid = ev->ppid,
                .uid = ev->uid,
                .tier = ev->tier,
                .flags = ev->flags,
                .cgroup_id = ev->cgroup_id,
                .path = (char *)path,
                .filename = (char *)aux,
                .fileless = ev->flags & (DRIFT_F_MEMFD | DRIFT_F_NLINK0 | DRIFT_F_DISCONNECTED),
        };

        memcpy(w.comm, ev->comm, sizeof(w.comm));
        if (strncmp(aux, "/dev/fd/", 8) == 0) /* the kernel's name for execveat(fd, "", AT_EMPTY_PATH) */
                w.flags |= DRIFT_F_EMPTY_PATH;
        if (d->ima_policy && (ev->flags & DRIFT_F_HAS_INODE)) {
                struct dw_ima_access a;
                enum dw_ima_verdict v;

                drift_imacheck_access(ev, &a);
                v = dw_ima_policy_would_measure(d->ima_policy, &a, &w.ima_rule);
                w.fs_magic = ev->fs_magic;
                memcpy(w.fs_name, ev->fs_name, sizeof(w.fs_name));
                w.fs_name[sizeof(w.fs_name) - 1] = '\0';
                if (v == DW_IMA_MEASURED && d->hasher)
                        w.ima_check = true;
                else if (v == DW_IMA_MEASURED) {
                        d->stats.checked++;
                        d->stats.no_digest++;
                } else {
                        d->stats.checked++;
                        imacheck_count(d, v == DW_IMA_NOT_MEASURED ? DRIFT_IMACHECK_NOT_REQUIRED
                                                                   : DRIFT_IMACHECK_UNDECIDED);
                        if (v == DW_IMA_UNDECIDED)
                                drift_log(LOG_DEBUG, "IMA cross-check of %s (pid %u): undecided at line %u: %s", path,
                                          ev->tgid, w.ima_rule ? w.ima_rule->line : 0,
                                          w.ima_rule ? w.ima_rule->text : "");
                }
        }
        return w;
}

/* Queues a heap copy of w on entry e. */
static int waiter_queue(struct drift_cache_entry *e, const struct drift_waiter *w)
{
        struct drift_waiter *q = malloc(sizeof(*q));

        if (!q)
                return -ENOMEM;
        *q = *w;
        q->path = strdup(w->path);
        q->filename = strdup(w->filename);
        if (!q->path || !q->filename) {
                q->next = NULL;
                waiters_free(q);
                return -ENOMEM;
        }
        q->next = e->waiters;
        e->waiters = q;
        return 0;
}

/* The algorithm of the IMA log's file digests other than SHA-256 (the first one), or -1. */
static int imacheck_extra_alg(struct mon_drift *d)
{
        unsigned algs;

        if (!d->ima_policy)
                return -1;
        algs = d->ima_ops->algs(d->userdata) & ~(1u << DW_HASH_SHA256);
        FOREACH_HASH_ALG (a)
                if (algs & (1u << a))
                        return (int)a;
        return -1;
}

/* Hashing of a new file: /proc/PID/exe while the process lives (the very file it runs, also a memfd or an
 * unlinked file), else the path. */
static void exec_hash(struct mon_drift *d, struct drift_cache_entry *e, const struct drift_event *ev, const char *path,
                      bool fileless)
{
        struct drift_waiter *w;
        char proc[64];

        snprintf(proc, sizeof(proc), "/proc/%u/exe", ev->tgid);
        struct drift_hash_job job = {
                .id = e->id,
                .fd = open(proc, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK),
                .path = fileless ? NULL : strdup(path),
                .ino = ev->ino,
                .size = ev->size,
                .mtime_sec = ev->mtime_sec,
                .mtime_nsec = ev->mtime_nsec,
                .ctime_sec = ev->ctime_sec,
                .ctime_nsec = ev->ctime_nsec,
                .extra_alg = imacheck_extra_alg(d),
        };
        if (drift_hasher_submit(d->hasher, &job) >= 0)
                return;
        d->hash_dropped++;
        w = e->waiters;
        drift_cache_complete(d->cache, e, -EBUSY, NULL);
        for (struct drift_waiter *i = w; i; i = i->next)
                exec_judge(d, i, -EBUSY, NULL);
        waiters_free(w);
}

static void exec_event(struct mon_drift *d, const struct drift_event *ev, const char *path, const char *aux)
{
        struct drift_file_key key = {
                .dev = ev->dev,
                .ino = ev->ino,
                .size = ev->size,
                .mtime_sec = ev->mtime_sec,
                .mtime_nsec = ev->mtime_nsec,
                .ctime_sec = ev->ctime_sec,
                .ctime_nsec = ev->ctime_nsec,
        };
        struct drift_waiter w = waiter_of(d, ev, path, aux);
        struct drift_cache_entry *e;

        if (!w.fileless && !w.ima_check && !(d->policy && d->hasher))
                return; /* nothing to judge it against */
        if (!d->hasher || !(ev->flags & DRIFT_F_HAS_INODE)) {
                exec_judge(d, &w, -ENODATA, NULL);
                return;
        }
        e = drift_cache_get(d->cache, &key);
        if (e && !e->pending && w.ima_check && e->extra_alg != imacheck_extra_alg(d))
                e = NULL; /* the IMA log has another digest algorithm now: hash again */
        if (e && !e->pending) {
                struct drift_digests dg = {.sha256 = e->digest, .extra_alg = e->extra_alg, .extra = e->extra};

                exec_judge(d, &w, e->error, &dg); /* the common case: no allocation, no I/O */
                return;
        }
        if (e) {
                (void)waiter_queue(e, &w);
                return;
        }
        if (drift_cache_add_pending(d->cache, &key, &e) < 0)
                return;
        (void)waiter_queue(e, &w); /* hashed anyway (an entry left pending would hold later executions) */
        exec_hash(d, e, ev, path, w.fileless);
}

static int on_hash(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
        struct mon_drift *d = userdata;
        struct drift_hash_result res;

        (void)s, (void)fd, (void)revents;
        while (drift_hasher_next(d->hasher, &res) > 0) {
                struct drift_cache_entry *e = drift_cache_find_pending(d->cache, res.id);
                struct drift_digests dg = {.sha256 = res.digest, .extra_alg = res.extra_alg, .extra = res.extra};
                struct drift_waiter *w;

                if (!e)
                        continue;
                w = e->waiters;
                drift_cache_complete(d->cache, e, res.error, &res);
                for (struct drift_waiter *i = w; i; i = i->next)
                        exec_judge(d, i, res.error, res.error == 0 ? &dg : NULL);
                waiters_free(w);
        }
        return 0;
}

/* ---- tampering and the kernel --------------------------------------------------------------------------------- */

static void tamper_event(struct mon_drift *d, const struct drift_event *ev, const char *path, const char *aux)
{
        const char *op = op_name(ev);
        char message[600], flags[160], mode[16] = "", owner[32] = "";

        if (ev->flags & DRIFT_F_HAS_INODE)
                drift_cache_invalidate(d->cache, ev->dev, ev->ino);
        if (!rate_pass(d, MON_ALERT_DRIFT_TAMPER, op, path, aux))
                return;
        flags_text(ev->flags, flags, sizeof(flags));
        if (ev->op == DRIFT_OP_CHMOD)
                snprintf(mode, sizeof(mode), "%04" PRIo64, (uint64_t)ev->arg & 07777);
        if (ev->op == DRIFT_OP_CHOWN)
                snprintf(owner, sizeof(owner), "%" PRId64 ":%" PRId64, (int64_t)(int32_t)ev->arg,
                         (int64_t)(int32_t)ev->arg2);
        struct mon_alert_field f[] = {
                MON_FIELD_STR("path", path),     MON_FIELD_STR("rule", op),
                MON_FIELD_STR("target", aux),    MON_FIELD_STR("mode", mode),
                MON_FIELD_STR("owner", owner),   MON_FIELD_INT("pid", ev->tgid),
                MON_FIELD_INT("ppid", ev->ppid), MON_FIELD_INT("uid", ev->uid),
                MON_FIELD_STR("comm", ev->comm), MON_FIELD_STR("tier", tier_of(ev->tier)),
                MON_FIELD_STR("flags", flags),   MON_FIELD_INT("cgroup", ev->cgroup_id),
        };
        snprintf(message, sizeof(message), "%.300s: %s%s%.200s by pid %u (%s, uid %u)", path, op, aux[0] ? " " : "",
                 aux, ev->tgid, ev->comm, ev->uid);
        d->alert(MON_ALERT_DRIFT_TAMPER, -1, f, ELEMENTSOF(f), message, d->userdata);
}

/* The effective uid of a process, from /proc; -1 when it is gone. */
static long proc_euid(long pid)
{
        char path[64], line[256];
        long euid = -1;
        FILE *f;

        snprintf(path, sizeof(path), "/proc/%ld/status", pid);
        f = fopen(path, "re");
        if (!f)
                return -1;
        while (fgets(line, sizeof(line), f))
                if (strncmp(line, "Uid:", 4) == 0) {
                        long real;

                        if (sscanf(line + 4, "%ld %ld", &real, &euid) != 2)
                                euid = -1;
                        break;
                }
        fclose(f);
        return euid;
}

static void kernel_event(struct mon_drift *d, const struct drift_event *ev, const char *path, const char *aux)
{
        const char *op = op_name(ev);
        char message[600], detail[320] = "", flags[160];

        switch (ev->op) {
        case DRIFT_OP_PTRACE:
                /* The tracepoint sees every attach: only one to a process running as root (or to us) is drift. */
                if (!(ev->flags & DRIFT_F_PRIVILEGED) && ev->arg != d->self) {
                        long euid = proc_euid((long)ev->arg);

                        if (euid != 0) {
                                drift_log(LOG_DEBUG,
                                          "ptrace of pid %" PRId64 " (euid %ld) by pid %u (%s): not a "
                                          "privileged target",
                                          (int64_t)ev->arg, euid, ev->tgid, ev->comm);
                                return;
                        }
                }
                snprintf(detail, sizeof(detail), "target pid %" PRId64 "%s", (int64_t)ev->arg,
                         ev->arg == d->self ? " (driftwatch-monitor)" : " (running as root)");
                break;
        case DRIFT_OP_BPF_LOAD:
                snprintf(detail, sizeof(detail), "program '%s' of type %" PRId64, aux, (int64_t)ev->arg);
                break;
        case DRIFT_OP_MODULE_LOAD:
                snprintf(detail, sizeof(detail), "%s%s%s", path[0] ? "" : "from memory", aux[0] ? " args " : "", aux);
                break;
        case DRIFT_OP_KEXEC:
                snprintf(detail, sizeof(detail), "%s%s%s", path[0] ? "" : "segments from memory",
                         aux[0] ? " cmdline " : "", aux);
                break;
        case DRIFT_OP_MOUNT:
                snprintf(detail, sizeof(detail), "source '%s' flags 0x%" PRIx64, aux, (uint64_t)ev->arg);
                break;
        default:
                break;
        }
        if (!rate_pass(d, MON_ALERT_DRIFT_KERNEL, op, path, detail))
                return;
        flags_text(ev->flags, flags, sizeof(flags));
        struct mon_alert_field f[] = {
                MON_FIELD_STR("rule", op),       MON_FIELD_STR("path", path),
                MON_FIELD_STR("reason", detail), MON_FIELD_INT("pid", ev->tgid),
                MON_FIELD_INT("ppid", ev->ppid), MON_FIELD_INT("uid", ev->uid),
                MON_FIELD_STR("comm", ev->comm), MON_FIELD_STR("tier", tier_of(ev->tier)),
                MON_FIELD_STR("flags", flags),   MON_FIELD_INT("cgroup", ev->cgroup_id),
        };
        snprintf(message, sizeof(message), "%s by pid %u (%s, uid %u)%s%.200s%s%.200s", op, ev->tgid, ev->comm, ev->uid,
                 path[0] ? ": " : "", path, detail[0] ? ": " : "", detail);
        d->alert(MON_ALERT_DRIFT_KERNEL, -1, f, ELEMENTSOF(f), message, d->userdata);
}

/* ---- the ring buffer ------------------------------------------------------------------------------------------ */

static int on_event(void *ctx, void *data, size_t size)
{
        struct mon_drift *d = ctx;
        struct drift_event ev;
        char path[DRIFT_PATH_MAX], aux[DRIFT_AUX_MAX];

        if (size < DRIFT_EVENT_HDR_SIZE + 1)
                return 0;
        memcpy(&ev, data, DRIFT_EVENT_HDR_SIZE);
        ev.path_len = MIN(ev.path_len, (uint32_t)(size - DRIFT_EVENT_HDR_SIZE - 1));
        memcpy(path, (const char *)data + DRIFT_EVENT_HDR_SIZE, ev.path_len);
        path[ev.path_len] = '\0';
        ev.aux_len = MIN(ev.aux_len, (uint32_t)DRIFT_AUX_MAX - 1);
        memcpy(aux, ev.aux, ev.aux_len);
        aux[ev.aux_len] = '\0';
        ev.comm[DRIFT_COMM_LEN - 1] = '\0';
        if ((pid_t)ev.tgid == d->self)
                return 0;
        switch (ev.kind) {
        case DRIFT_KIND_EXEC:
                exec_event(d, &ev, path, aux);
                break;
        case DRIFT_KIND_TAMPER:
                tamper_event(d, &ev, path, aux);
                break;
        case DRIFT_KIND_KERNEL:
                kernel_event(d, &ev, path, aux);
                break;
        }
        return ++d->consumed >= CONSUME_MAX ? -EAGAIN : 0;
}

/* Reads what the ring buffer holds; while events come, reads again DRIFT_WAKEUP_NS later (the programs wake the
 * loop at most that often). */
static void ring_consume(struct mon_drift *d)
{
        int r;

        d->consumed = 0;
        r = ring_buffer__consume(d->ring);
        if (r < 0 && r != -EAGAIN)
                drift_log(LOG_ERR, "reading the ring buffer: %s", strerror(-r));
        if (d->consumed == 0 || sd_event_source_get_enabled(d->ring_timer, NULL) > 0)
                return;
        r = sd_event_source_set_time_relative(d->ring_timer, DRIFT_WAKEUP_NS / 1000);
        if (r >= 0)
                r = sd_event_source_set_enabled(d->ring_timer, SD_EVENT_ONESHOT);
        if (r < 0)
                drift_log(LOG_ERR, "arming the ring buffer timer: %s", strerror(-r));
}

static int on_ring(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
        (void)s, (void)fd, (void)revents;
        ring_consume(userdata);
        return 0;
}

static int on_ring_timer(sd_event_source *s, uint64_t usec, void *userdata)
{
        (void)s, (void)usec;
        ring_consume(userdata);
        return 0;
}

/* ---- every second: losses and rate-limit counts --------------------------------------------------------------- */

static void loss_check(struct mon_drift *d)
{
        uint64_t c[_DRIFT_COUNTER_MAX];
        char message[300];

        if (drift_programs_counters(d->programs, c) < 0)
                return;
        if (c[DRIFT_COUNTER_LOST] > d->counters[DRIFT_COUNTER_LOST]) {
                uint64_t n = c[DRIFT_COUNTER_LOST] - d->counters[DRIFT_COUNTER_LOST];
                struct mon_alert_field f[] = {
                        MON_FIELD_STR("rule", "events_lost"),
                        MON_FIELD_INT("lost", n),
                        MON_FIELD_INT("total", c[DRIFT_COUNTER_LOST]),
                };

                snprintf(message, sizeof(message),
                         "%" PRIu64 " drift event%s lost in the kernel (the ring buffer was full): drift may have gone "
                         "unseen",
                         n, n == 1 ? " was" : "s were");
                d->alert(MON_ALERT_DRIFT_KERNEL, LOG_ERR, f, ELEMENTSOF(f), message, d->userdata);
        }
        if (c[DRIFT_COUNTER_UNREADABLE] > d->counters[DRIFT_COUNTER_UNREADABLE])
                drift_log(LOG_DEBUG, "%" PRIu64 " path arguments could not be read from the callers' memory",
                          c[DRIFT_COUNTER_UNREADABLE] - d->counters[DRIFT_COUNTER_UNREADABLE]);
        memcpy(d->counters, c, sizeof(c));
        if (d->hash_dropped > d->hash_dropped_reported) {
                uint64_t n = d->hash_dropped - d->hash_dropped_reported;
                struct mon_alert_field f[] = {
                        MON_FIELD_STR("rule", "hash_queue_full"),
                        MON_FIELD_INT("lost", n),
                        MON_FIELD_INT("total", d->hash_dropped),
                };

                snprintf(message, sizeof(message),
                         "%" PRIu64 " executed file%s could not be hashed (too many at once): they were reported as "
                         "unverified",
                         n, n == 1 ? "" : "s");
                d->alert(MON_ALERT_DRIFT_KERNEL, LOG_ERR, f, ELEMENTSOF(f), message, d->userdata);
                d->hash_dropped_reported = d->hash_dropped;
        }
}

static int on_tick(sd_event_source *s, uint64_t usec, void *userdata)
{
        struct mon_drift *d = userdata;

        loss_check(d);
        rate_tick(d);
        return sd_event_source_set_time(s, usec + TICK_USEC);
}

/* ---- start and stop ------------------------------------------------------------------------------------------- */

static void report_log(const struct mon_drift_report *r)
{
        for (enum mon_drift_tier t = 0; t < _MON_DRIFT_TIER_MAX; t++)
                drift_log(r->tiers[t].available ? LOG_INFO : LOG_NOTICE, "tier %s: %s: %s", mon_drift_tier_name(t),
                          r->tiers[t].available ? "available" : "unavailable", r->tiers[t].reason);
        for (enum mon_drift_category c = 0; c < _MON_DRIFT_CATEGORY_MAX; c++) {
                bool none = r->coverage[c].tier == MON_DRIFT_TIER_NONE;

                drift_log(none ? LOG_WARNING : LOG_NOTICE, "%s: %s%s%s%s; %s", mon_drift_category_name(c),
                          mon_drift_tier_name(r->coverage[c].tier), r->coverage[c].hooks[0] ? " (" : "",
                          r->coverage[c].hooks, r->coverage[c].hooks[0] ? ")" : "", r->coverage[c].blind);
        }
}

/* Splits "a b c" and appends extra: an array of strings (freed with strv_free). */
static char **paths_split(const char *list, const char *const *extra, size_t *ret_n)
{
        size_t n = 0, cap = 8;
        char **v = calloc(cap + 1, sizeof(*v));

        for (const char *s = list ?: ""; v;) {
                size_t len;

                s += strspn(s, " \t");
                if (*s == '\0')
                        break;
                len = strcspn(s, " \t");
                if (n == cap) {
                        char **nv = realloc(v, (2 * cap + 1) * sizeof(*v));

                        if (!nv)
                                break;
                        v = nv;
                        cap *= 2;
                }
                v[n] = strndup(s, len);
                if (v[n])
                        n++;
                s += len;
        }
        for (size_t i = 0; v && extra && extra[i]; i++) {
                char **nv = realloc(v, (n + 2) * sizeof(*v));

                if (!nv)
                        break;
                v = nv;
                v[n] = strdup(extra[i]);
                if (v[n])
                        n++;
        }
        if (v)
                v[n] = NULL;
        *ret_n = n;
        return v;
}

static void strv_free(char **v)
{
        for (size_t i = 0; v && v[i]; i++)
                free(v[i]);
        free(v);
}

int mon_drift_probe(unsigned tiers, struct mon_drift_report *ret)
{
        struct drift_load_options lo = {
                .tiers = tiers, .ring_buffer_bytes = 64 * 1024, .self = getpid(), .quiet = true};
        struct mon_drift_report report = {};
        struct drift_programs *p = NULL;
        int r;

        r = drift_programs_load(&lo, &p, &report);
        drift_programs_free(p);
        if (r < 0)
                return r;
        *ret = report;
        return 0;
}

int mon_drift_start(sd_event *event, const struct mon_drift_options *o, const struct dw_runtime_policy *policy,
                    struct mon_drift **ret)
{
        struct mon_drift *d;
        char **paths = NULL;
        size_t n_paths = 0;
        int r;

        drift_log_level = o->log_level;
        d = calloc(1, sizeof(*d));
        if (!d)
                return -ENOMEM;
        d->event = sd_event_ref(event);
        d->alert = o->alert;
        d->userdata = o->userdata;
        d->policy = policy;
        d->hash_executables = o->hash_executables;
        d->self = getpid();
        if (o->ima_policy && o->ima_ops) {
                d->ima_policy = o->ima_policy;
                d->ima_ops = o->ima_ops;
                d->ima_grace_usec = o->ima_grace_usec ?: IMACHECK_GRACE_USEC;
        }

        paths = paths_split(o->protected_paths, o->extra_protected, &n_paths);
        if (!paths) {
                r = -ENOMEM;
                goto fail;
        }
        {
                struct drift_load_options lo = {
                        .tiers = o->tiers,
                        .ring_buffer_bytes = o->ring_buffer_bytes,
                        .self = d->self,
                        .protected_paths = (const char *const *)paths,
                        .n_protected_paths = n_paths,
                };

                r = drift_programs_load(&lo, &d->programs, &d->report);
        }
        strv_free(paths);
        if (r < 0)
                goto fail;
        report_log(&d->report);
        if (drift_programs_events_fd(d->programs) < 0) {
                /* Nothing could be loaded (not root, no BPF): the monitor runs on without drift detection. */
                drift_log(LOG_WARNING, "nothing could be loaded: the monitor runs without eBPF drift detection");
                *ret = d;
                return 0;
        }

        r = drift_cache_new(o->hash_cache_entries, &d->cache);
        if (r < 0)
                goto fail;
        if (o->hash_executables) {
                r = drift_hasher_new(HASH_QUEUE_MAX, &d->hasher);
                if (r < 0)
                        goto fail;
                r = sd_event_add_io(event, &d->hash_source, drift_hasher_fd(d->hasher), EPOLLIN, on_hash, d);
                if (r < 0)
                        goto fail;
        }
        d->ring = ring_buffer__new(drift_programs_events_fd(d->programs), on_event, d, NULL);
        if (!d->ring) {
                r = -errno;
                goto fail;
        }
        r = sd_event_add_io(event, &d->ring_source, ring_buffer__epoll_fd(d->ring), EPOLLIN, on_ring, d);
        if (r >= 0)
                r = sd_event_add_time_relative(event, &d->ring_timer, CLOCK_MONOTONIC, DRIFT_WAKEUP_NS / 1000, 500,
                                               on_ring_timer, d);
        if (r >= 0)
                r = sd_event_source_set_enabled(d->ring_timer, SD_EVENT_OFF);
        if (r >= 0)
                r = sd_event_add_time_relative(event, &d->timer, CLOCK_MONOTONIC, TICK_USEC, 100 * 1000, on_tick, d);
        if (r >= 0)
                r = sd_event_source_set_enabled(d->timer, SD_EVENT_ON);
        if (r >= 0)
                r = sd_event_add_time_relative(event, &d->imacheck_timer, CLOCK_MONOTONIC, IMACHECK_TICK_USEC,
                                               10 * 1000, on_imacheck_timer, d);
        if (r >= 0)
                r = sd_event_source_set_enabled(d->imacheck_timer, SD_EVENT_OFF);
        if (r < 0)
                goto fail;
        if (d->ima_policy && !o->hash_executables) {
                drift_log(LOG_WARNING, "the IMA cross-check needs HashExecutables=yes: executions are counted, not "
                                       "checked");
        }
        if (!policy && o->hash_executables)
                drift_log(LOG_NOTICE, "no runtime policy (RuntimePolicy=): executions are not judged, fileless ones "
                                      "still are");
        *ret = d;
        return 0;
fail:
        drift_log(LOG_ERR, "cannot start: %s", strerror(-r));
        mon_drift_free(d);
        return r;
}

const struct mon_drift_report *mon_drift_get_report(const struct mon_drift *d)
{
        return &d->report;
}

void mon_drift_set_policy(struct mon_drift *d, const struct dw_runtime_policy *policy)
{
        if (d)
                d->policy = policy;
}

bool mon_drift_imacheck_enabled(const struct mon_drift *d)
{
        return d && d->ima_policy && d->ring;
}

void mon_drift_imacheck_get_stats(const struct mon_drift *d, struct mon_drift_imacheck_stats *ret)
{
        *ret = d ? d->stats : (struct mon_drift_imacheck_stats){};
}

void mon_drift_free(struct mon_drift *d)
{
        if (!d)
                return;
        while (d->pending) {
                struct imacheck_pending *p = d->pending;

                d->pending = p->next;
                imacheck_pending_free(p);
        }
        sd_event_source_disable_unref(d->imacheck_timer);
        sd_event_source_disable_unref(d->ring_source);
        sd_event_source_disable_unref(d->ring_timer);
        sd_event_source_disable_unref(d->hash_source);
        sd_event_source_disable_unref(d->timer);
        ring_buffer__free(d->ring);
        drift_programs_free(d->programs);
        drift_hasher_free(d->hasher);
        drift_cache_free(d->cache, waiters_free);
        for (size_t i = 0; i < RATE_SLOTS; i++)
                free(d->slots[i].path);
        sd_event_unref(d->event);
        free(d);
}
